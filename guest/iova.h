/* SPDX-License-Identifier: MIT */
/*
 * Guest IOVA allocator, modelled on Linux's drivers/iommu/iova.c as the DMA API uses it
 * (iommu_dma_alloc_iova / free_iova_fast):
 *  - sizes are whole pages; sizes up to VG_IOVA_RCACHE_MAX_PAGES are rounded up to a power of
 *    two and served first by per-CPU caches of freed ranges ("rcache": a loaded and a previous
 *    magazine of VG_IOVA_MAG_SIZE entries per CPU and size, and a global depot of at most
 *    VG_IOVA_MAX_DEPOT full magazines per size), so a steady workload rarely reaches the tree;
 *  - ranges are size-aligned and handed out top-down from the limit, as alloc_iova() does.
 * The backing store here keeps segregated free lists per power-of-two size instead of Linux's
 * rbtree (no coalescing, so ranges freed at one size are reused at that size); what the simulator
 * needs from it is distinct, aligned ranges and exact counts of cache and backing operations.
 */
#ifndef VIOMMU_GUEST_IOVA_H
#define VIOMMU_GUEST_IOVA_H

#include <stdbool.h>
#include <stdint.h>

#define VG_IOVA_PAGE_SHIFT 12
#define VG_IOVA_RCACHE_MAX_PAGES 32 /* IOVA_RANGE_CACHE_MAX_SIZE 6: orders 0..5 */
#define VG_IOVA_MAG_SIZE 127	    /* IOVA_MAG_SIZE */
#define VG_IOVA_MAX_DEPOT 32	    /* MAX_GLOBAL_MAGS */
#define VG_IOVA_MAX_CPUS 64

struct vg_iova;

struct vg_iova_stats {
	uint64_t allocs;
	uint64_t frees;
	uint64_t rcache_hits;	 /* allocations served by a per-CPU magazine */
	uint64_t depot_swaps;	 /* magazines moved between a CPU and the depot */
	uint64_t backing_allocs; /* allocations that reached the backing allocator */
	uint64_t backing_frees;	 /* frees that reached it (depot full, or size not cached) */
	uint64_t failures;	 /* allocations refused: space exhausted */
	uint64_t in_use_pages;	 /* allocated and not freed, in pages (after rounding) */
};

/* IOVAs are handed out from [base, limit); both page-aligned, @ncpus 1..VG_IOVA_MAX_CPUS. */
int vg_iova_create(uint64_t base, uint64_t limit, unsigned int ncpus, struct vg_iova **out);
void vg_iova_destroy(struct vg_iova *a);

/*
 * Allocate @size bytes (rounded up to pages, then to a power of two) on @cpu; *iova is aligned to
 * the rounded size. Returns 0, VIOMMU_ENOSPC when the space is exhausted, VIOMMU_EINVAL for a zero
 * size or a bad cpu.
 */
int vg_iova_alloc(struct vg_iova *a, unsigned int cpu, uint64_t size, uint64_t *iova);
/* Free a range exactly as it was allocated (same size argument). */
void vg_iova_free(struct vg_iova *a, unsigned int cpu, uint64_t iova, uint64_t size);

/* Bytes an allocation of @size really takes (page and power-of-two rounding). */
uint64_t vg_iova_rounded(uint64_t size);

void vg_iova_get_stats(const struct vg_iova *a, struct vg_iova_stats *st);

#endif
