// SPDX-License-Identifier: MIT
/*
 * Host ops over one flat buffer standing for guest RAM.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <viommu/flatmem.h>

#include "core.h"

struct viommu_flatmem {
	uint64_t base;
	size_t size;
	uint8_t *mem;
	struct viommu_flatmem_stats st;
	void (*msi)(void *opaque, uint64_t addr, uint32_t data);
	void (*irq)(void *opaque, unsigned int line, bool level);
	void *irq_opaque;
};

int viommu_flatmem_create(uint64_t base, size_t size, struct viommu_flatmem **out)
{
	struct viommu_flatmem *fm;

	if (!out || size == 0 || !vi_range_ok(base, size))
		return VIOMMU_EINVAL;
	fm = calloc(1, sizeof(*fm));
	if (!fm)
		return VIOMMU_ENOMEM;
	/* Anonymous pages: zero, populated only where touched, returned whole on destroy. */
	fm->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fm->mem == MAP_FAILED) {
		free(fm);
		return VIOMMU_ENOMEM;
	}
	fm->base = base;
	fm->size = size;
	*out = fm;
	return 0;
}

void viommu_flatmem_destroy(struct viommu_flatmem *fm)
{
	if (!fm)
		return;
	munmap(fm->mem, fm->size);
	free(fm);
}

/* Offset of [gpa, gpa + len) in the buffer, or -1 when any byte lies outside it. */
static int64_t flat_offset(const struct viommu_flatmem *fm, uint64_t gpa, size_t len)
{
	uint64_t off;

	if (len == 0 || !vi_range_ok(gpa, len) || gpa < fm->base)
		return -1;
	off = gpa - fm->base;
	if (off >= fm->size || len > fm->size - off)
		return -1;
	return (int64_t)off;
}

void *viommu_flatmem_ptr(struct viommu_flatmem *fm, uint64_t gpa, size_t len)
{
	int64_t off;

	if (!fm)
		return NULL;
	off = flat_offset(fm, gpa, len ? len : 1);
	return off < 0 ? NULL : fm->mem + off;
}

uint64_t viommu_flatmem_base(const struct viommu_flatmem *fm)
{
	return fm->base;
}

size_t viommu_flatmem_size(const struct viommu_flatmem *fm)
{
	return fm->size;
}

static ssize_t flat_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct viommu_flatmem *fm = opaque;
	int64_t off = flat_offset(fm, gpa, len);

	if (off < 0) {
		fm->st.rejected++;
		return VIOMMU_EFAULT;
	}
	memcpy(buf, fm->mem + off, len);
	fm->st.reads++;
	fm->st.read_bytes += len;
	return (ssize_t)len;
}

static ssize_t flat_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct viommu_flatmem *fm = opaque;
	int64_t off = flat_offset(fm, gpa, len);

	if (off < 0) {
		fm->st.rejected++;
		return VIOMMU_EFAULT;
	}
	memcpy(fm->mem + off, buf, len);
	fm->st.writes++;
	fm->st.write_bytes += len;
	return (ssize_t)len;
}

/* The whole buffer is plain RAM: hand out the pointer and widen the span to all of it. */
static void *flat_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			  struct viommu_dma_span *span)
{
	struct viommu_flatmem *fm = opaque;
	int64_t off = flat_offset(fm, gpa, len);

	(void)write;
	if (off < 0) {
		fm->st.rejected++;
		return NULL;
	}
	fm->st.maps++;
	if (span) {
		span->gpa = fm->base;
		span->len = fm->size;
		/* The buffer stays where it is until viommu_flatmem_destroy(). */
		span->flags |= VIOMMU_DMA_SPAN_STABLE;
	}
	return fm->mem + off;
}

static void flat_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct viommu_flatmem *fm = opaque;

	fm->st.msis++;
	if (fm->msi)
		fm->msi(fm->irq_opaque, addr, data);
}

static void flat_irq(void *opaque, unsigned int line, bool level)
{
	struct viommu_flatmem *fm = opaque;

	fm->st.irqs++;
	if (fm->irq)
		fm->irq(fm->irq_opaque, line, level);
}

static const struct viommu_host_ops flat_ops = {
	.dma_read = flat_read,
	.dma_write = flat_write,
	.msi = flat_msi,
	.irq = flat_irq,
	.log = NULL,
	.dma_map_ptr = flat_map_ptr,
};

const struct viommu_host_ops *viommu_flatmem_ops(void)
{
	return &flat_ops;
}

void viommu_flatmem_set_irq_handlers(struct viommu_flatmem *fm,
				     void (*msi)(void *opaque, uint64_t addr, uint32_t data),
				     void (*irq)(void *opaque, unsigned int line, bool level),
				     void *opaque)
{
	fm->msi = msi;
	fm->irq = irq;
	fm->irq_opaque = opaque;
}

void viommu_flatmem_get_stats(const struct viommu_flatmem *fm, struct viommu_flatmem_stats *st)
{
	*st = fm->st;
}

void viommu_flatmem_reset_stats(struct viommu_flatmem *fm)
{
	memset(&fm->st, 0, sizeof(fm->st));
}
