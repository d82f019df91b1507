/* SPDX-License-Identifier: MIT */
/*
 * A guest-side AMD-Vi driver in the manner of Linux 6.1's drivers/iommu/amd/ (v2 tables as 6.12's
 * amd_iommu=pgtbl_v2): device table,
 * command buffer with COMPLETION_WAIT, event log with its interrupt handler, DTE set-up as
 * set_dte_entry() does it, v1 page tables (through the pt builder), strict and lazy (flush queue)
 * unmapping, NpCache flushes after mapping. It programs an IOMMU only through the public API
 * (viommu_mmio_*, viommu_amdvi_set_msi as the VMM forwards the MSI capability) and
 * <viommu/spec/amdvi.h>, and touches guest memory as a CPU would (flat memory pointers).
 */
#ifndef VIOMMU_GUEST_AMDVI_DRIVER_H
#define VIOMMU_GUEST_AMDVI_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

struct vg_amdvi;

struct vg_amdvi_config {
	struct viommu *iommu;	    /* an AMD-Vi IOMMU over @mem's host ops */
	struct viommu_flatmem *mem; /* guest memory */
	uint64_t pool_base;	    /* guest-physical pages the driver may use for its structures */
	uint64_t pool_size;
	uint32_t dev_table_pages; /* 4 KiB pages of device table, 1..512 (0: 512, all 65536) */
	uint32_t cmd_len;	  /* command buffer length code 8..15 (0: 9, 512 entries) */
	uint32_t evt_len;	  /* event log length code 8..15 (0: 9, 512 entries) */
	uint32_t levels;	  /* v1 table levels 1..6 (0: 3, Linux's PAGE_MODE_3_LEVEL) */
	bool lazy;		  /* flush queue: unmaps flushed in batches (iommu.strict=0) */
	uint32_t batch;		  /* lazy: unmaps per flush of every domain (0: 256) */
	bool no_np_cache_flush;	  /* do not invalidate after mapping (a driver for NpCache = 0) */
	/*
	 * v2 tables for DMA domains, as Linux 6.12's amd_iommu=pgtbl_v2: needs EFR GTSup and
	 * GIoSup (else v1, as Linux falls back); GTEn, 4-level x86-64 tables behind a one-level GCR3
	 * table (entry 0), DTE Mode 0 with GV, GIoV, IR, IW; invalidations with GN = 1, PASID 0.
	 */
	bool v2;
	/* v2 as 6.12 on an LA57 CPU: 5-level tables (DTE GuestPagingMode 01b) with EFR GATS 01b. */
	bool la57;
	uint64_t msi_addr; /* what the guest writes into the MSI capability */
	uint32_t msi_data;
};

struct vg_amdvi_stats {
	uint64_t mmio_writes;
	/*
	 * Accesses (reads and writes) to the pointer page, 2000h-203Fh (queue heads and tails,
	 * status): a hardware-assisted vIOMMU maps it into the guest, so they do not exit there.
	 */
	uint64_t ptr_accesses;
	uint64_t commands; /* COMPLETION_WAIT included */
	uint64_t completion_waits;
	uint64_t inv_pages; /* INVALIDATE_IOMMU_PAGES */
	uint64_t inv_devtab;
	uint64_t inv_iotlb;
	uint64_t events; /* event log entries consumed */
	uint64_t overflows;
	uint64_t ppr_entries; /* PPR log entries consumed */
	uint64_t maps;
	uint64_t unmaps;
};

int vg_amdvi_create(const struct vg_amdvi_config *cfg, struct vg_amdvi **out);
void vg_amdvi_destroy(struct vg_amdvi *d);

/*
 * Bring-up as Linux's early_enable_iommu(): disable, device table (every entry V = TV = 1,
 * Mode 0, no rights: DMA blocked until a device is attached), command buffer, event log, event
 * interrupt, MSI, IommuEn, then invalidate everything and wait.
 */
int vg_amdvi_enable(struct vg_amdvi *d);
int vg_amdvi_disable(struct vg_amdvi *d);

/* Attach @devid to domain @domid (tables created on first use); @pass_through: Mode 0, IR/IW. */
int vg_amdvi_attach(struct vg_amdvi *d, uint16_t devid, uint16_t domid, bool pass_through);
/* Back to blocked (V, TV, no rights), flushing the old domain. */
int vg_amdvi_detach(struct vg_amdvi *d, uint16_t devid);
/* Set DTE bit I (device IOTLB): unmaps then also send INVALIDATE_IOTLB_PAGES for @devid. */
int vg_amdvi_set_ats(struct vg_amdvi *d, uint16_t devid, bool on);

/* Map [iova, iova + size) -> gpa in @domid with VIOMMU_ACC_* rights (4 KiB aligned). */
int vg_amdvi_map(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t gpa, uint64_t size,
		 uint32_t perm);
int vg_amdvi_unmap(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size);
/*
 * Batched map: tables now, the NpCache flushes of every queued range at vg_amdvi_sync_map()
 * (one INVALIDATE_IOMMU_PAGES per range, one COMPLETION_WAIT). Unmap without any flush:
 * vg_amdvi_flush() completes it (the DMA layer's flush queue owns the policy).
 */
int vg_amdvi_map_nosync(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t gpa,
			uint64_t size, uint32_t perm);
int vg_amdvi_sync_map(struct vg_amdvi *d);
int vg_amdvi_unmap_nosync(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size);
/* Lazy mode: flush every domain with pending unmaps now. */
int vg_amdvi_flush(struct vg_amdvi *d);

/* One INVALIDATE_IOMMU_PAGES of [iova, iova + size) in @domid (size 0: everything) + wait. */
int vg_amdvi_inv_pages(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size);
/* INVALIDATE_IOTLB_PAGES for @devid over [iova, iova + size) + wait. */
int vg_amdvi_inv_iotlb(struct vg_amdvi *d, uint16_t devid, uint64_t iova, uint64_t size);
/* INVALIDATE_DEVTAB_ENTRY + wait. */
int vg_amdvi_inv_devtab(struct vg_amdvi *d, uint16_t devid);

/*
 * Queue one raw command (4 doublewords) and write the tail; VIOMMU_EBUSY when the buffer is full
 * (the IOMMU stopped). vg_amdvi_completion_wait() queues COMPLETION_WAIT with a store and checks
 * that the store arrived: VIOMMU_EIO when it did not (the command buffer stopped).
 */
int vg_amdvi_submit(struct vg_amdvi *d, const uint32_t cmd[4]);
int vg_amdvi_completion_wait(struct vg_amdvi *d);

/* One 16-byte event log or PPR log entry, as four little-endian doublewords. */
typedef void (*vg_amdvi_event_fn)(void *opaque, const uint32_t ev[4]);

/* The INVALIDATE_*_PAGES address and S bit for [iova, iova + size), as build_inv_address(). */
uint64_t vg_amdvi_inv_address(uint64_t iova, uint64_t size);

/*
 * The interrupt handler: read the status, clear what it shows, consume event log entries from
 * head to tail (each passed to @fn, then zeroed), restart logging after an overflow (as
 * amd_iommu_restart_event_logging()), until the status shows nothing. Returns entries consumed.
 */
int vg_amdvi_handle_irq(struct vg_amdvi *d, vg_amdvi_event_fn fn, void *opaque);

/*
 * Page requests (Linux's iommu_enable_ppr_log() and its PPR interrupt): a 512-entry PPR log,
 * PPRLogEn, PPREn, PPRIntEn. vg_amdvi_handle_irq() then also consumes PPR log entries, each passed
 * to @fn. vg_amdvi_complete_ppr() answers one group (COMPLETE_PPR_REQUEST + wait).
 */
int vg_amdvi_enable_ppr(struct vg_amdvi *d, vg_amdvi_event_fn fn, void *opaque);
int vg_amdvi_complete_ppr(struct vg_amdvi *d, uint16_t devid, uint32_t pasid, bool gn, uint32_t tag,
			  uint32_t status);

/* Guest-physical address of @devid's device table entry, and of the command buffer/event log. */
uint64_t vg_amdvi_dte_addr(const struct vg_amdvi *d, uint16_t devid);
uint64_t vg_amdvi_cmd_base(const struct vg_amdvi *d);
uint64_t vg_amdvi_evt_base(const struct vg_amdvi *d);
/* A free 4 KiB page from the driver's pool (test DMA buffers, hand-built tables). */
int vg_amdvi_alloc_page(struct vg_amdvi *d, uint64_t *gpa);
/* The root table of @domid's v1 (v2: x86-64) tables (created on first use). */
int vg_amdvi_domain_root(struct vg_amdvi *d, uint16_t domid, uint64_t *root);

void vg_amdvi_get_stats(const struct vg_amdvi *d, struct vg_amdvi_stats *st);

#endif /* VIOMMU_GUEST_AMDVI_DRIVER_H */
