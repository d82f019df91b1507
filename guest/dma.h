/* SPDX-License-Identifier: MIT */
/*
 * The guest's DMA API: how a driver's dma_map/dma_unmap calls become IOVA allocations and vIOMMU
 * operations under each strategy the simulator compares. Every strategy works over any vIOMMU
 * and guest driver behind the five operations of struct vg_dma_iommu_ops (the simulator provides
 * them in sim/iommu.c).
 *
 *  noiommu     no vIOMMU: the DMA address is the guest-physical address, nothing is called.
 *  strict      map: allocate an IOVA and map; unmap: unmap, invalidate and wait, free the IOVA
 *              (Linux iommu.strict=1).
 *  deferred    unmap clears the tables without invalidating and queues the IOVA; one flush of the
 *              whole domain completes every queued unmap when the queue holds fq_size entries or
 *              the oldest has waited fq_timeout_ns; only then are the IOVAs freed (Linux's flush
 *              queue, iommu.strict=0: 256 entries, 10 ms).
 *  batched     maps of one scatter list or ring refill are queued and made visible by one sync
 *              (iotlb_sync_map, the seeds' dma_map_multi); unmaps are strict.
 *  batched-deferred  both of the above.
 *  persistent  a pool of DMA memory is mapped once at start; a map takes a piece of the pool and
 *              copies the data in (device reads) and an unmap copies it back (device writes) and
 *              returns the piece (a permanently mapped bounce pool, as swiotlb or Asterinas'
 *              DMA pool do).
 *  identity    all guest RAM is mapped once at start, IOVA = GPA; map and unmap call nothing
 *              (seed 003's preallocation).
 *  never-free  map makes the pages it needs present (IOVA = GPA, read/write) the first time a
 *              page is used and unmap does nothing, so a buffer that is used again costs nothing.
 */
#ifndef VIOMMU_GUEST_DMA_H
#define VIOMMU_GUEST_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

enum vg_dma_strategy {
	VG_DMA_NOIOMMU,
	VG_DMA_STRICT,
	VG_DMA_DEFERRED,
	VG_DMA_BATCHED,
	VG_DMA_BATCHED_DEFERRED,
	VG_DMA_PERSISTENT,
	VG_DMA_IDENTITY,
	VG_DMA_NEVER_FREE,
	VG_DMA_NR
};

const char *vg_dma_strategy_name(enum vg_dma_strategy s);
int vg_dma_strategy_parse(const char *name, enum vg_dma_strategy *out);

/*
 * What a strategy asks of a vIOMMU and its guest driver; @iommu is the config's iommu. Each
 * returns 0 or a negative VIOMMU_E* code.
 */
struct vg_dma_iommu_ops {
	/* Strict map: page tables (or MAP request) and whatever makes it visible. */
	int (*map)(void *iommu, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm);
	/* Batched map: queue, then sync_map makes every queued map visible at once. */
	int (*map_queue)(void *iommu, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm);
	int (*sync_map)(void *iommu);
	/* Strict unmap: the translation is gone from every cache when this returns. */
	int (*unmap)(void *iommu, uint64_t iova, uint64_t size);
	/* Lazy unmap: tables cleared (or UNMAP queued) without invalidation; flush completes. */
	int (*unmap_lazy)(void *iommu, uint64_t iova, uint64_t size);
	int (*flush)(void *iommu);
};

struct vg_dma_config {
	enum vg_dma_strategy strategy;
	const struct vg_dma_iommu_ops *iommu_ops; /* NULL only for noiommu */
	void *iommu;				  /* their first argument */
	struct viommu_flatmem *mem;
	uint64_t ram_base; /* guest RAM that identity maps and never-free may map */
	uint64_t ram_size;
	uint64_t pool_base; /* persistent: guest-physical pool, mapped at creation */
	uint64_t pool_size;
	uint32_t fq_size;	/* deferred: 0 means 256 */
	uint64_t fq_timeout_ns; /* deferred: 0 means 10 ms */
	unsigned int ncpus;	/* IOVA caches; 0 means 1 */
};

struct vg_dma_stats {
	uint64_t maps;	       /* dma_map calls */
	uint64_t unmaps;       /* dma_unmap calls */
	uint64_t map_pages;    /* 4 KiB pages whose I/O page-table entries a map wrote */
	uint64_t unmap_pages;  /* pages whose entries an unmap cleared */
	uint64_t syncs;	       /* batched: sync_map calls after at least one queued map */
	uint64_t fq_flushes;   /* deferred: flushes, by size or timeout */
	uint64_t fq_timeouts;  /* of which the timeout caused */
	uint64_t bounce_bytes; /* persistent: bytes copied to and from the pool */
	uint64_t iova_allocs;
};

struct vg_dma;

int vg_dma_create(const struct vg_dma_config *cfg, struct vg_dma **out);
void vg_dma_destroy(struct vg_dma *d);

/*
 * Map [gpa, gpa + len) for the device with VIOMMU_ACC_READ (device reads) and/or
 * VIOMMU_ACC_WRITE (device writes) on @cpu; *dma is the address to give the device.
 */
int vg_dma_map(struct vg_dma *d, unsigned int cpu, uint64_t gpa, uint64_t len, uint32_t perm,
	       uint64_t *dma);
/* End of a scatter list or ring refill: batched strategies make the queued maps visible. */
int vg_dma_map_done(struct vg_dma *d);
/* Unmap what vg_dma_map returned (same gpa, len and perm). */
int vg_dma_unmap(struct vg_dma *d, unsigned int cpu, uint64_t gpa, uint64_t dma, uint64_t len,
		 uint32_t perm);
/* Simulated time passes: the deferred strategies' timeout fires here. */
int vg_dma_tick(struct vg_dma *d, uint64_t now_ns);
/* Complete everything pending (end of run). */
int vg_dma_quiesce(struct vg_dma *d);

void vg_dma_get_stats(const struct vg_dma *d, struct vg_dma_stats *st);

#endif /* VIOMMU_GUEST_DMA_H */
