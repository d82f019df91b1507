/* SPDX-License-Identifier: MIT */
/*
 * The guest's DMA API: how a driver's dma_map/dma_unmap calls become IOVA allocations and vIOMMU
 * operations under each strategy the simulator compares. Every strategy works over any model
 * behind sim_iommu (iommu.h).
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
#ifndef VIOMMU_SIM_DMA_H
#define VIOMMU_SIM_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu.h"

enum sim_strategy {
	SIM_DMA_NOIOMMU,
	SIM_DMA_STRICT,
	SIM_DMA_DEFERRED,
	SIM_DMA_BATCHED,
	SIM_DMA_BATCHED_DEFERRED,
	SIM_DMA_PERSISTENT,
	SIM_DMA_IDENTITY,
	SIM_DMA_NEVER_FREE,
	SIM_DMA_NR
};

const char *sim_strategy_name(enum sim_strategy s);
int sim_strategy_parse(const char *name, enum sim_strategy *out);

struct sim_dma_config {
	enum sim_strategy strategy;
	struct sim_iommu *iommu; /* NULL only for noiommu */
	struct viommu_flatmem *mem;
	uint64_t ram_base; /* guest RAM that identity maps and never-free may map */
	uint64_t ram_size;
	uint64_t pool_base; /* persistent: guest-physical pool, mapped at creation */
	uint64_t pool_size;
	uint32_t fq_size;	/* deferred: 0 means 256 */
	uint64_t fq_timeout_ns; /* deferred: 0 means 10 ms */
	unsigned int ncpus;	/* IOVA caches; 0 means 1 */
};

struct sim_dma_stats {
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

struct sim_dma;

int sim_dma_create(const struct sim_dma_config *cfg, struct sim_dma **out);
void sim_dma_destroy(struct sim_dma *d);

/*
 * Map [gpa, gpa + len) for the device with VIOMMU_ACC_READ (device reads) and/or
 * VIOMMU_ACC_WRITE (device writes) on @cpu; *dma is the address to give the device.
 */
int sim_dma_map(struct sim_dma *d, unsigned int cpu, uint64_t gpa, uint64_t len, uint32_t perm,
		uint64_t *dma);
/* End of a scatter list or ring refill: batched strategies make the queued maps visible. */
int sim_dma_map_done(struct sim_dma *d);
/* Unmap what sim_dma_map returned (same gpa, len and perm). */
int sim_dma_unmap(struct sim_dma *d, unsigned int cpu, uint64_t gpa, uint64_t dma, uint64_t len,
		  uint32_t perm);
/* Simulated time passes: the deferred strategies' timeout fires here. */
int sim_dma_tick(struct sim_dma *d, uint64_t now_ns);
/* Complete everything pending (end of run). */
int sim_dma_quiesce(struct sim_dma *d);

void sim_dma_get_stats(const struct sim_dma *d, struct sim_dma_stats *st);

#endif /* VIOMMU_SIM_DMA_H */
