// SPDX-License-Identifier: MIT
/*
 * Guest DMA-API strategies; see dma.h.
 */
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "iova.h"

#define PAGE 4096ull
#define IOVA_BASE (1ull << 20)	/* Linux keeps IOVA 0 unused; start above the first MiB */
#define IOVA_LIMIT (1ull << 32) /* 32-bit DMA addresses first, as iommu_dma_alloc_iova does */

struct fq_entry {
	uint64_t iova; /* allocated range start */
	uint64_t size; /* as allocated */
};

struct vg_dma {
	struct vg_dma_config cfg;
	struct vg_iova *iova; /* IOVA space (strict, deferred, batched) or the pool (persistent) */
	bool queued;	      /* batched: maps wait for vg_dma_map_done */
	uint32_t nqueued;     /* ... and this many do now */
	struct fq_entry *fq;
	uint32_t fq_n;
	uint64_t fq_first_ns; /* when the oldest queued entry was queued */
	uint64_t now_ns;
	uint8_t *present; /* never-free: one byte per RAM page */
	struct vg_dma_stats st;
};

static const char *const names[VG_DMA_NR] = {
	[VG_DMA_NOIOMMU] = "noiommu",
	[VG_DMA_STRICT] = "strict",
	[VG_DMA_DEFERRED] = "deferred",
	[VG_DMA_BATCHED] = "batched",
	[VG_DMA_BATCHED_DEFERRED] = "batched-deferred",
	[VG_DMA_PERSISTENT] = "persistent",
	[VG_DMA_IDENTITY] = "identity",
	[VG_DMA_NEVER_FREE] = "never-free",
};

const char *vg_dma_strategy_name(enum vg_dma_strategy s)
{
	return s < VG_DMA_NR ? names[s] : "?";
}

int vg_dma_strategy_parse(const char *name, enum vg_dma_strategy *out)
{
	for (int i = 0; i < VG_DMA_NR; i++) {
		if (!strcmp(name, names[i])) {
			*out = (enum vg_dma_strategy)i;
			return 0;
		}
	}
	return VIOMMU_EINVAL;
}

static bool deferred(const struct vg_dma *d)
{
	return d->cfg.strategy == VG_DMA_DEFERRED || d->cfg.strategy == VG_DMA_BATCHED_DEFERRED;
}

static uint64_t pages_of(uint64_t gpa, uint64_t len)
{
	return ((gpa + len + PAGE - 1) / PAGE) - gpa / PAGE;
}

int vg_dma_create(const struct vg_dma_config *cfg, struct vg_dma **out)
{
	struct vg_dma *d;
	unsigned int ncpus;
	int ret = 0;

	if (!cfg || !out || cfg->strategy >= VG_DMA_NR || !cfg->mem ||
	    (cfg->strategy != VG_DMA_NOIOMMU && (!cfg->iommu || !cfg->iommu_ops)) ||
	    (cfg->ram_base | cfg->ram_size) % PAGE)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.fq_size)
		d->cfg.fq_size = 256;
	if (!d->cfg.fq_timeout_ns)
		d->cfg.fq_timeout_ns = 10 * 1000 * 1000;
	ncpus = d->cfg.ncpus ? d->cfg.ncpus : 1;
	d->queued = cfg->strategy == VG_DMA_BATCHED || cfg->strategy == VG_DMA_BATCHED_DEFERRED;

	switch (cfg->strategy) {
	case VG_DMA_NOIOMMU:
		break;
	case VG_DMA_IDENTITY:
		ret = cfg->iommu_ops->map(cfg->iommu, cfg->ram_base, cfg->ram_base, cfg->ram_size,
					  VIOMMU_ACC_RW);
		break;
	case VG_DMA_NEVER_FREE:
		d->present = calloc(cfg->ram_size / PAGE, 1);
		ret = d->present ? 0 : VIOMMU_ENOMEM;
		break;
	case VG_DMA_PERSISTENT:
		if (!cfg->pool_size || (cfg->pool_base | cfg->pool_size) % PAGE) {
			ret = VIOMMU_EINVAL;
			break;
		}
		ret = cfg->iommu_ops->map(cfg->iommu, cfg->pool_base, cfg->pool_base,
					  cfg->pool_size, VIOMMU_ACC_RW);
		if (!ret)
			ret = vg_iova_create(cfg->pool_base, cfg->pool_base + cfg->pool_size, ncpus,
					     &d->iova);
		break;
	default:
		ret = vg_iova_create(IOVA_BASE, IOVA_LIMIT, ncpus, &d->iova);
		if (!ret && deferred(d)) {
			d->fq = calloc(d->cfg.fq_size, sizeof(*d->fq));
			ret = d->fq ? 0 : VIOMMU_ENOMEM;
		}
		break;
	}
	if (ret) {
		vg_dma_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
}

void vg_dma_destroy(struct vg_dma *d)
{
	if (!d)
		return;
	vg_iova_destroy(d->iova);
	free(d->fq);
	free(d->present);
	free(d);
}

/* Never-free: make every page of the range present, one map per run of missing pages. */
static int map_missing(struct vg_dma *d, uint64_t gpa, uint64_t len)
{
	uint64_t first = gpa / PAGE, last = (gpa + len - 1) / PAGE;
	uint64_t base = d->cfg.ram_base / PAGE, npages = d->cfg.ram_size / PAGE;

	if (first < base || last - base >= npages || last < first)
		return VIOMMU_EINVAL;
	for (uint64_t p = first; p <= last;) {
		uint64_t q = p;
		int ret;

		if (d->present[p - base]) {
			p++;
			continue;
		}
		while (q <= last && !d->present[q - base])
			q++;
		ret = d->cfg.iommu_ops->map(d->cfg.iommu, p * PAGE, p * PAGE, (q - p) * PAGE,
					    VIOMMU_ACC_RW);
		if (ret)
			return ret;
		memset(&d->present[p - base], 1, q - p);
		d->st.map_pages += q - p;
		p = q;
	}
	return 0;
}

static int bounce(struct vg_dma *d, uint64_t dst, uint64_t src, uint64_t len)
{
	void *to = viommu_flatmem_ptr(d->cfg.mem, dst, len);
	void *from = viommu_flatmem_ptr(d->cfg.mem, src, len);

	if (!to || !from)
		return VIOMMU_EFAULT;
	memcpy(to, from, len);
	d->st.bounce_bytes += len;
	return 0;
}

int vg_dma_map(struct vg_dma *d, unsigned int cpu, uint64_t gpa, uint64_t len, uint32_t perm,
	       uint64_t *dma)
{
	uint64_t npages, iova;
	int ret;

	if (!len || gpa + len < gpa)
		return VIOMMU_EINVAL;
	d->st.maps++;
	switch (d->cfg.strategy) {
	case VG_DMA_NOIOMMU:
	case VG_DMA_IDENTITY:
		*dma = gpa;
		return 0;
	case VG_DMA_NEVER_FREE:
		*dma = gpa;
		return map_missing(d, gpa, len);
	case VG_DMA_PERSISTENT:
		ret = vg_iova_alloc(d->iova, cpu, len, &iova);
		if (ret)
			return ret;
		d->st.iova_allocs++;
		if (perm & VIOMMU_ACC_READ) {
			ret = bounce(d, iova, gpa, len);
			if (ret)
				return ret;
		}
		*dma = iova;
		return 0;
	default:
		break;
	}
	npages = pages_of(gpa, len);
	ret = vg_iova_alloc(d->iova, cpu, npages * PAGE, &iova);
	if (ret)
		return ret;
	d->st.iova_allocs++;
	if (d->queued) {
		ret = d->cfg.iommu_ops->map_queue(d->cfg.iommu, iova, gpa & ~(PAGE - 1),
						  npages * PAGE, perm);
		d->nqueued += !ret;
	} else
		ret = d->cfg.iommu_ops->map(d->cfg.iommu, iova, gpa & ~(PAGE - 1), npages * PAGE,
					    perm);
	if (ret) {
		vg_iova_free(d->iova, cpu, iova, npages * PAGE);
		return ret;
	}
	d->st.map_pages += npages;
	*dma = iova + (gpa & (PAGE - 1));
	return 0;
}

int vg_dma_map_done(struct vg_dma *d)
{
	if (!d->nqueued)
		return 0;
	d->nqueued = 0;
	d->st.syncs++;
	return d->cfg.iommu_ops->sync_map(d->cfg.iommu);
}

static int fq_flush(struct vg_dma *d)
{
	int ret;

	if (!d->fq_n)
		return 0;
	ret = d->cfg.iommu_ops->flush(d->cfg.iommu);
	if (ret)
		return ret;
	/* Only now may the IOVAs be handed out again. */
	for (uint32_t i = 0; i < d->fq_n; i++)
		vg_iova_free(d->iova, 0, d->fq[i].iova, d->fq[i].size);
	d->fq_n = 0;
	d->st.fq_flushes++;
	return 0;
}

int vg_dma_unmap(struct vg_dma *d, unsigned int cpu, uint64_t gpa, uint64_t dma, uint64_t len,
		 uint32_t perm)
{
	uint64_t npages, iova;
	int ret;

	if (!len)
		return VIOMMU_EINVAL;
	d->st.unmaps++;
	switch (d->cfg.strategy) {
	case VG_DMA_NOIOMMU:
	case VG_DMA_IDENTITY:
	case VG_DMA_NEVER_FREE:
		return 0;
	case VG_DMA_PERSISTENT:
		if (perm & VIOMMU_ACC_WRITE) {
			ret = bounce(d, gpa, dma, len);
			if (ret)
				return ret;
		}
		vg_iova_free(d->iova, cpu, dma, len);
		return 0;
	default:
		break;
	}
	npages = pages_of(gpa, len);
	iova = dma & ~(PAGE - 1);
	d->st.unmap_pages += npages;
	if (!deferred(d)) {
		ret = d->cfg.iommu_ops->unmap(d->cfg.iommu, iova, npages * PAGE);
		if (!ret)
			vg_iova_free(d->iova, cpu, iova, npages * PAGE);
		return ret;
	}
	ret = d->cfg.iommu_ops->unmap_lazy(d->cfg.iommu, iova, npages * PAGE);
	if (ret)
		return ret;
	if (!d->fq_n)
		d->fq_first_ns = d->now_ns;
	d->fq[d->fq_n++] = (struct fq_entry){ iova, npages * PAGE };
	return d->fq_n >= d->cfg.fq_size ? fq_flush(d) : 0;
}

int vg_dma_tick(struct vg_dma *d, uint64_t now_ns)
{
	d->now_ns = now_ns;
	if (deferred(d) && d->fq_n && now_ns - d->fq_first_ns >= d->cfg.fq_timeout_ns) {
		d->st.fq_timeouts++;
		return fq_flush(d);
	}
	return 0;
}

int vg_dma_quiesce(struct vg_dma *d)
{
	int ret = vg_dma_map_done(d);

	if (!ret && deferred(d))
		ret = fq_flush(d);
	return ret;
}

void vg_dma_get_stats(const struct vg_dma *d, struct vg_dma_stats *st)
{
	*st = d->st;
}
