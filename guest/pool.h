/* SPDX-License-Identifier: MIT */
/*
 * Guest page pool: the memory a guest driver takes its structures from (tables, queues, page
 * tables), a bump allocator over a range of guest-physical memory with a free list of 4 KiB
 * pages that page tables give back. Every driver hands out the same addresses in the same order
 * for the same calls, which the simulator's reproducible outputs rely on.
 */
#ifndef VIOMMU_GUEST_POOL_H
#define VIOMMU_GUEST_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>

#define VG_POOL_PAGE 4096ull

struct vg_pool {
	struct viommu_flatmem *mem;
	uint64_t base, size; /* the pool: [base, base + size) */
	uint64_t bump;	     /* next unused address */
	uint64_t *free_pages;
	size_t nfree, cap_free;
};

/* An empty pool over [@base, @base + @size) of @mem. */
void vg_pool_init(struct vg_pool *p, struct viommu_flatmem *mem, uint64_t base, uint64_t size);
/* Release the free list (the pool memory itself belongs to the guest). */
void vg_pool_fini(struct vg_pool *p);

/* @size bytes aligned to @align (a power of two), not zeroed; never reused. */
int vg_pool_reserve(struct vg_pool *p, uint64_t size, uint64_t align, uint64_t *gpa);
/*
 * @size bytes (a power of two) aligned to @size, zeroed: a freed page first for one page, else
 * fresh memory. VIOMMU_ENOMEM when the pool is exhausted, VIOMMU_EFAULT outside guest memory.
 */
int vg_pool_alloc(struct vg_pool *p, uint64_t size, uint64_t *gpa);
/* Give back @size bytes at @gpa, page by page, for later one-page allocations. */
void vg_pool_free(struct vg_pool *p, uint64_t gpa, uint64_t size);

/*
 * A little-endian 64-bit word of guest memory, as the IOMMU reads it (a store outside guest memory
 * is dropped, a load there reads 0: the driver only uses addresses from its pool).
 */
void vg_pool_store64(struct vg_pool *p, uint64_t gpa, uint64_t v);
uint64_t vg_pool_load64(struct vg_pool *p, uint64_t gpa);

/* Page-table allocation ops over a pool (opaque: the struct vg_pool). */
extern const struct viommu_pt_alloc_ops vg_pool_pt_ops;

#endif
