/* SPDX-License-Identifier: MIT */
/*
 * A guest-side Calgary driver in the manner of Linux's arch/x86/kernel/pci-calgary_64.c (the
 * last version, before 5.5 removed it) for one PHB: the bus from the PHB debug STUFF register,
 * a TCE table allocated aligned to its size and cleared, the reserved I/O ranges (emergency
 * pages at DMA address 0, 640 KiB-1 MiB or the whole first MiB on CalIOC2, the MEM_1/MEM_2
 * windows), the TAR, the CalIOC2 quirk, TCE_ENABLE | DAC_DISABLE | MCSR_ENABLE; then Linux's DMA
 * API: a next-fit bitmap allocator that blasts the TCE cache only when it wraps, TCEs written
 * big-endian (read always, write unless the device only reads), unmap clearing them with no
 * invalidation; the chip's blast sequence (Calgary AER quiesce, CalIOC2 SoftStop/HardStop) and
 * the 2-second watchdog's check of the CSR.
 *
 * The hypercall driver (hcall = true) maps and unmaps through the sPAPR TCE hypercalls instead,
 * as Linux's pSeries code does on a hypervisor: one H_PUT_TCE per page, or with batching one
 * H_PUT_TCE_INDIRECT per run of up to 512 pages from a 4 KiB list page and H_STUFF_TCE to
 * clear a run. It still brings the PHB up through the registers (playing the platform's part).
 *
 * It programs the chip only through the public API (viommu_mmio_*, viommu_calgary_hcall) and
 * <viommu/spec/calgary.h>, and writes guest memory as a CPU would (flat memory pointers).
 */
#ifndef VIOMMU_GUEST_CALGARY_DRIVER_H
#define VIOMMU_GUEST_CALGARY_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

#include "dma.h"

struct vg_cal;

struct vg_cal_config {
	struct viommu *iommu;	    /* a Calgary chip over @mem's host ops */
	struct viommu_flatmem *mem; /* guest memory */
	uint64_t pool_base;	    /* guest-physical memory for the table and the list page */
	uint64_t pool_size;
	uint32_t phb;	     /* PHB index 0..3 */
	uint32_t entries;    /* table entries, 8 Ki << code (0: 1 Mi, Linux's default 8 MiB) */
	bool calioc2;	     /* the PCI device is a CalIOC2: its blast sequence and reservations */
	bool hcall;	     /* map and unmap through the hypercalls */
	bool hcall_batch;    /* hcall: H_PUT_TCE_INDIRECT / H_STUFF_TCE for runs of pages */
	bool trap_writes;    /* act as the VMM that write-protects the table: every TCE store is
			      * reported with viommu_calgary_tce_written() */
	bool skip_quiesce;   /* a broken driver: blast by rewriting the TAR alone */
	bool no_reservation; /* hand out the whole table (tests of the allocator's wrap) */
};

struct vg_cal_stats {
	uint64_t mmio_reads;
	uint64_t mmio_writes;
	uint64_t tce_writes; /* TCEs stored by the CPU */
	uint64_t hcalls;
	uint64_t hcall_failures;
	uint64_t blasts;
	uint64_t softstop_retries; /* CalIOC2: SoftStopFault seen, sequence restarted */
	uint64_t not_quiesced;	   /* split queue never showed idle in 100 reads */
	uint64_t wraps;		   /* allocator wrapped (each blasts) */
	uint64_t full;		   /* allocations refused: "IOMMU full" */
	uint64_t errors;	   /* watchdog found an error: the slot is disabled */
	uint64_t maps;
	uint64_t unmaps;
};

int vg_cal_create(const struct vg_cal_config *cfg, struct vg_cal **out);
void vg_cal_destroy(struct vg_cal *d);

/* Bring-up as calgary_init_one(): table, reservations, TAR, quirks, enable translation. */
int vg_cal_enable(struct vg_cal *d);
/* calgary_disable_translation() and calgary_free_bus(): TCE off, TAR software bits cleared. */
int vg_cal_disable(struct vg_cal *d);

/*
 * Linux's map_page/unmap_page: allocate the pages [gpa, gpa + len) spans, write their TCEs,
 * *dma = the DMA address. VIOMMU_ENOSPC when the table is full even after the wrap's blast.
 * Unmap clears the TCEs and frees the range, nothing else.
 */
int vg_cal_map_page(struct vg_cal *d, uint64_t gpa, uint64_t len, uint32_t perm, uint64_t *dma);
int vg_cal_unmap_page(struct vg_cal *d, uint64_t dma, uint64_t len);

/* The TCE cache blast sequence of the chip (tce_cache_blast). */
int vg_cal_blast(struct vg_cal *d);

/*
 * The watchdog (calgary_watchdog): 1 when the CSR shows an error, which it then dumps into
 * @csr and @plssr (either may be NULL), clears, and answers by disabling the slot; else 0.
 */
int vg_cal_watchdog(struct vg_cal *d, uint32_t *csr, uint32_t *plssr);

/*
 * TCEs of pages [iova, iova + size) (4 KiB aligned) for a DMA address space the caller
 * allocates (the DMA-API strategies' IOVA allocator): no allocation, no blast.
 */
int vg_cal_set_tces(struct vg_cal *d, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm);
int vg_cal_clear_tces(struct vg_cal *d, uint64_t iova, uint64_t size);

/*
 * The DMA-API strategies' operations (guest/dma.h) over a struct vg_cal: map writes TCEs
 * (hypercall driver: queued maps go out in H_PUT_TCE_INDIRECT batches at sync_map), strict
 * unmap clears and blasts (hypercall driver: the hypercall is enough), lazy unmap clears,
 * flush blasts.
 */
extern const struct vg_dma_iommu_ops vg_cal_dma_ops;

/* The PHB's bus (from its STUFF register), the table's guest-physical address and entries. */
uint32_t vg_cal_bus(const struct vg_cal *d);
uint64_t vg_cal_table(const struct vg_cal *d);
uint64_t vg_cal_entries(const struct vg_cal *d);
/* Pages the allocator has handed out and not freed, reserved ones included. */
uint64_t vg_cal_pages_used(const struct vg_cal *d);

void vg_cal_get_stats(const struct vg_cal *d, struct vg_cal_stats *st);

#endif /* VIOMMU_GUEST_CALGARY_DRIVER_H */
