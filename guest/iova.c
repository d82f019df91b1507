// SPDX-License-Identifier: MIT
/*
 * Guest IOVA allocator with per-CPU magazine caches. See iova.h.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/viommu.h>

#include "iova.h"

#define NR_ORDERS 64

/* A magazine: a stack of freed ranges of one size. */
struct mag {
	uint32_t n;
	uint64_t pfn[VG_IOVA_MAG_SIZE];
};

struct cpu_cache {
	struct mag *loaded;
	struct mag *prev;
};

/* One cached size (order 0..5): per-CPU magazines and the depot. */
struct rcache {
	struct cpu_cache cpu[VG_IOVA_MAX_CPUS];
	struct mag *depot[VG_IOVA_MAX_DEPOT];
	uint32_t depot_n;
};

/* Free ranges of one order for the backing allocator: a growable stack of page numbers. */
struct freelist {
	uint64_t *pfn;
	size_t n, cap;
};

struct vg_iova {
	uint64_t base_pfn, limit_pfn;
	uint64_t cursor_pfn; /* the backing store grows down from the limit */
	unsigned int ncpus;
	struct rcache rc[6];
	struct freelist fl[NR_ORDERS];
	struct vg_iova_stats st;
};

static unsigned int order_of(uint64_t pages)
{
	return pages <= 1 ? 0 : 64u - (unsigned int)__builtin_clzll(pages - 1);
}

uint64_t vg_iova_rounded(uint64_t size)
{
	uint64_t pages = (size + (1ull << VG_IOVA_PAGE_SHIFT) - 1) >> VG_IOVA_PAGE_SHIFT;

	if (size == 0 || pages > (1ull << (63 - VG_IOVA_PAGE_SHIFT)))
		return 0;
	return (1ull << order_of(pages)) << VG_IOVA_PAGE_SHIFT;
}

int vg_iova_create(uint64_t base, uint64_t limit, unsigned int ncpus, struct vg_iova **out)
{
	const uint64_t mask = (1ull << VG_IOVA_PAGE_SHIFT) - 1;
	struct vg_iova *a;

	if (!out || (base & mask) || (limit & mask) || limit <= base || ncpus == 0 ||
	    ncpus > VG_IOVA_MAX_CPUS)
		return VIOMMU_EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return VIOMMU_ENOMEM;
	a->base_pfn = base >> VG_IOVA_PAGE_SHIFT;
	a->limit_pfn = limit >> VG_IOVA_PAGE_SHIFT;
	a->cursor_pfn = a->limit_pfn;
	a->ncpus = ncpus;
	*out = a;
	return 0;
}

void vg_iova_destroy(struct vg_iova *a)
{
	if (!a)
		return;
	for (unsigned int o = 0; o < 6; o++) {
		for (unsigned int c = 0; c < VG_IOVA_MAX_CPUS; c++) {
			free(a->rc[o].cpu[c].loaded);
			free(a->rc[o].cpu[c].prev);
		}
		for (uint32_t i = 0; i < a->rc[o].depot_n; i++)
			free(a->rc[o].depot[i]);
	}
	for (unsigned int o = 0; o < NR_ORDERS; o++)
		free(a->fl[o].pfn);
	free(a);
}

static int backing_alloc(struct vg_iova *a, unsigned int order, uint64_t *pfn)
{
	struct freelist *fl = &a->fl[order];
	uint64_t pages = 1ull << order, start;

	if (fl->n) {
		*pfn = fl->pfn[--fl->n];
		return 0;
	}
	/* Top-down and size-aligned, as alloc_iova() with size_aligned. */
	if (a->cursor_pfn - a->base_pfn < pages)
		return VIOMMU_ENOSPC;
	start = (a->cursor_pfn - pages) & ~(pages - 1);
	if (start < a->base_pfn)
		return VIOMMU_ENOSPC;
	a->cursor_pfn = start;
	*pfn = start;
	return 0;
}

static void backing_free(struct vg_iova *a, unsigned int order, uint64_t pfn)
{
	struct freelist *fl = &a->fl[order];

	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? fl->cap * 2 : 64;
		uint64_t *p = realloc(fl->pfn, cap * sizeof(*p));

		if (!p)
			return; /* the range is leaked to the simulation, never reused: still safe */
		fl->pfn = p;
		fl->cap = cap;
	}
	fl->pfn[fl->n++] = pfn;
	a->st.backing_frees++;
}

/* __iova_rcache_get: loaded, then prev (swapped in), then a full magazine from the depot. */
static bool rcache_get(struct vg_iova *a, struct rcache *rc, unsigned int cpu, uint64_t *pfn)
{
	struct cpu_cache *cc = &rc->cpu[cpu];

	if (!cc->loaded || cc->loaded->n == 0) {
		if (cc->prev && cc->prev->n) {
			struct mag *t = cc->loaded;

			cc->loaded = cc->prev;
			cc->prev = t;
		} else if (rc->depot_n) {
			free(cc->prev);
			cc->prev = cc->loaded;
			cc->loaded = rc->depot[--rc->depot_n];
			a->st.depot_swaps++;
		} else {
			return false;
		}
	}
	*pfn = cc->loaded->pfn[--cc->loaded->n];
	return true;
}

/* __iova_rcache_insert: into loaded, else swap with prev, else push loaded to the depot. */
static bool rcache_put(struct vg_iova *a, struct rcache *rc, unsigned int cpu, uint64_t pfn)
{
	struct cpu_cache *cc = &rc->cpu[cpu];

	/* Linux allocates both magazines up front; here on first use. */
	if (!cc->loaded)
		cc->loaded = calloc(1, sizeof(*cc->loaded));
	if (!cc->prev)
		cc->prev = calloc(1, sizeof(*cc->prev));
	if (!cc->loaded || !cc->prev)
		return false;
	if (cc->loaded->n == VG_IOVA_MAG_SIZE) {
		if (cc->prev->n < VG_IOVA_MAG_SIZE) {
			struct mag *t = cc->loaded;

			cc->loaded = cc->prev;
			cc->prev = t;
		} else if (rc->depot_n < VG_IOVA_MAX_DEPOT) {
			struct mag *m = calloc(1, sizeof(*m));

			if (!m)
				return false;
			rc->depot[rc->depot_n++] = cc->loaded;
			cc->loaded = m;
			a->st.depot_swaps++;
		} else {
			return false;
		}
	}
	cc->loaded->pfn[cc->loaded->n++] = pfn;
	return true;
}

int vg_iova_alloc(struct vg_iova *a, unsigned int cpu, uint64_t size, uint64_t *iova)
{
	uint64_t rounded = vg_iova_rounded(size), pfn;
	unsigned int order;
	int ret;

	if (!a || !iova || rounded == 0 || cpu >= a->ncpus)
		return VIOMMU_EINVAL;
	order = order_of(rounded >> VG_IOVA_PAGE_SHIFT);
	a->st.allocs++;
	if (order < 6 && rcache_get(a, &a->rc[order], cpu, &pfn)) {
		a->st.rcache_hits++;
	} else {
		ret = backing_alloc(a, order, &pfn);
		if (ret) {
			a->st.failures++;
			return ret;
		}
		a->st.backing_allocs++;
	}
	a->st.in_use_pages += 1ull << order;
	*iova = pfn << VG_IOVA_PAGE_SHIFT;
	return 0;
}

void vg_iova_free(struct vg_iova *a, unsigned int cpu, uint64_t iova, uint64_t size)
{
	uint64_t rounded = vg_iova_rounded(size), pfn = iova >> VG_IOVA_PAGE_SHIFT;
	unsigned int order;

	if (!a || rounded == 0 || cpu >= a->ncpus)
		return;
	order = order_of(rounded >> VG_IOVA_PAGE_SHIFT);
	a->st.frees++;
	a->st.in_use_pages -= 1ull << order;
	if (order < 6 && rcache_put(a, &a->rc[order], cpu, pfn))
		return;
	backing_free(a, order, pfn);
}

void vg_iova_get_stats(const struct vg_iova *a, struct vg_iova_stats *st)
{
	*st = a->st;
}
