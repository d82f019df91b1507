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

/*
 * Ask the host for a span holding the @len bytes at @gpa (@len >= 8). Returns the host address
 * of the span's first byte, with *@lo and *@lim set for vi_dmem, or NULL. The host's span is
 * checked, not trusted: it must hold the range and not wrap, else only the range itself is used.
 */
static uint8_t *dm_map(const struct viommu_host *h, uint64_t gpa, uint64_t len, bool write,
		       uint64_t *lo, uint64_t *lim, bool *stable)
{
	struct viommu_dma_span span = { gpa, len, 0 };
	uint8_t *p;

	if (!h->ops->dma_map_ptr || !vi_range_ok(gpa, len) || len > SIZE_MAX)
		return NULL;
	p = h->ops->dma_map_ptr(h->opaque, gpa, (size_t)len, write, &span);
	if (!p)
		return NULL;
	if (span.len < len || !vi_range_ok(span.gpa, span.len) || span.gpa > gpa ||
	    gpa - span.gpa > span.len - len) {
		span.gpa = gpa;
		span.len = len;
	}
	*lo = span.gpa;
	*lim = span.len - 8;
	*stable = (span.flags & VIOMMU_DMA_SPAN_STABLE) != 0;
	return p - (gpa - span.gpa);
}

int vi_dm_read64_slow(struct vi_dmem *m, uint64_t gpa, uint64_t *val)
{
	uint8_t *p = vi_dm_ptr(m, gpa, 8, false);

	if (!p)
		return vi_read64(m->h, gpa, val);
	*val = vi_le64(vi_load64(p));
	return 0;
}

uint8_t *vi_dm_ptr(struct vi_dmem *m, uint64_t gpa, uint64_t len, bool write)
{
	uint8_t **base = write ? &m->wbase : &m->rbase;
	uint64_t *lo = write ? &m->wlo : &m->rlo, *lim = write ? &m->wlim : &m->rlim;
	bool *stable = write ? &m->wstable : &m->rstable, st = false;
	uint8_t *b;
	uint64_t l, n;

	if (len < 8)
		return NULL;
	/* The remembered span holds [gpa, gpa + len) when gpa - lo <= (lim + 8) - len. */
	if (*base && *lim + 8 >= len && gpa - *lo <= *lim + 8 - len)
		return *base + (gpa - *lo);
	b = dm_map(m->h, gpa, len, write, &l, &n, &st);
	if (!b)
		return NULL;
	*base = b;
	*lo = l;
	*lim = n;
	*stable = st;
	return b + (gpa - l);
}

int vi_dm_write64(struct vi_dmem *m, uint64_t gpa, uint64_t val)
{
	uint8_t *p = vi_dm_ptr(m, gpa, 8, true);
	uint64_t raw = vi_le64(val);

	if (!p)
		return vi_write64(m->h, gpa, val);
	if (!((uintptr_t)p & 7))
		__atomic_store_n((vi_u64_alias *)p, raw, __ATOMIC_RELAXED);
	else
		memcpy(p, &raw, sizeof(raw));
	return 0;
}

int vi_dm_cmpxchg64(struct vi_dmem *m, uint64_t gpa, uint64_t old, uint64_t val)
{
	uint8_t *p = vi_dm_ptr(m, gpa, 8, true);
	uint64_t cur;
	int ret;

	if (p && !((uintptr_t)p & 7)) {
		uint64_t exp = vi_le64(old);

		return __atomic_compare_exchange_n((vi_u64_alias *)p, &exp, vi_le64(val), false,
						   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED) ?
			       0 :
			       VIOMMU_EAGAIN;
	}
	/* No atomic access: compare what is there now, then write. */
	if (p) {
		memcpy(&cur, p, sizeof(cur));
		cur = vi_le64(cur);
	} else {
		ret = vi_read64(m->h, gpa, &cur);
		if (ret)
			return ret;
	}
	if (cur != old)
		return VIOMMU_EAGAIN;
	return vi_dm_write64(m, gpa, val);
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
