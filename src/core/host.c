// SPDX-License-Identifier: MIT
/*
 * Guest memory, interrupts and logging, reached only through the embedder's host ops.
 */
#include <stdio.h>

#include "core.h"

static int xfer_result(ssize_t got, size_t len)
{
	if (got < 0)
		return got >= -4095 ? (int)got : VIOMMU_EFAULT;
	return (size_t)got == len ? 0 : VIOMMU_EFAULT;
}

int vi_read(const struct viommu_host *h, uint64_t gpa, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (!vi_range_ok(gpa, len))
		return VIOMMU_EFAULT;
	return xfer_result(h->ops->dma_read(h->opaque, gpa, buf, len), len);
}

int vi_write(const struct viommu_host *h, uint64_t gpa, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (!vi_range_ok(gpa, len) || !h->ops->dma_write)
		return VIOMMU_EFAULT;
	return xfer_result(h->ops->dma_write(h->opaque, gpa, buf, len), len);
}

int vi_read64(const struct viommu_host *h, uint64_t gpa, uint64_t *val)
{
	uint64_t raw;
	int ret = vi_read(h, gpa, &raw, sizeof(raw));

	*val = ret ? 0 : vi_le64(raw);
	return ret;
}

int vi_read32(const struct viommu_host *h, uint64_t gpa, uint32_t *val)
{
	uint32_t raw;
	int ret = vi_read(h, gpa, &raw, sizeof(raw));

	*val = ret ? 0 : vi_le32(raw);
	return ret;
}

int vi_write64(const struct viommu_host *h, uint64_t gpa, uint64_t val)
{
	uint64_t raw = vi_le64(val);

	return vi_write(h, gpa, &raw, sizeof(raw));
}

int vi_write32(const struct viommu_host *h, uint64_t gpa, uint32_t val)
{
	uint32_t raw = vi_le32(val);

	return vi_write(h, gpa, &raw, sizeof(raw));
}

void vi_msi(const struct viommu_host *h, uint64_t addr, uint32_t data)
{
	if (h->ops->msi)
		h->ops->msi(h->opaque, addr, data);
}

void vi_irq(const struct viommu_host *h, unsigned int line, bool level)
{
	if (h->ops->irq)
		h->ops->irq(h->opaque, line, level);
}

void vi_log(const struct viommu_host *h, enum viommu_log_level level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!h->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->ops->log(h->opaque, level, msg);
}
