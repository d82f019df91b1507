/* SPDX-License-Identifier: MIT */
/*
 * A guest VT-d driver, programmed the way Linux's intel-iommu driver programs the hardware: root
 * and context tables and second-level page tables in guest memory (tables built with the pt
 * builder), register-based or queued invalidation with a wait descriptor, page-selective IOTLB
 * invalidation with an address mask (domain-selective when the mask would exceed CAP.MAMV),
 * strict or deferred (batched) flushing of unmaps, and caching-mode-aware flushing of maps.
 * Uses the public API only.
 */
#ifndef VIOMMU_GUEST_VTD_DRIVER_H
#define VIOMMU_GUEST_VTD_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

struct vg_vtd;

struct vg_vtd_config {
	struct viommu *iommu;	    /* a VT-d unit over @mem's host ops */
	struct viommu_flatmem *mem; /* guest memory */
	uint64_t pool_base;	    /* guest-physical pages the driver may use for its tables */
	uint64_t pool_size;
	bool no_qi;	    /* use register-based invalidation even when ECAP.QI is set */
	bool deferred;	    /* batch IOTLB flushes of unmaps (Linux iommu.strict=0) */
	uint32_t batch;	    /* deferred: unmaps per domain flush (0: 256) */
	uint32_t levels;    /* second-level table levels (0: the widest SAGAW offers) */
	bool no_superpages; /* map with 4 KiB pages only */
};

struct vg_vtd_stats {
	uint64_t reg_writes;  /* MMIO writes the driver issued */
	uint64_t descriptors; /* queued invalidation descriptors, wait descriptors included */
	uint64_t psi;	      /* page-selective IOTLB flushes */
	uint64_t dsi;	      /* domain-selective IOTLB flushes */
	uint64_t global;      /* global IOTLB flushes */
	uint64_t cc;	      /* context-cache flushes */
	uint64_t maps;
	uint64_t unmaps;
};

int vg_vtd_create(const struct vg_vtd_config *cfg, struct vg_vtd **out);
void vg_vtd_destroy(struct vg_vtd *d);

/*
 * Bring the unit up as Linux does: root table, SRTP, fault event registers, queued invalidation
 * (when offered), global context and IOTLB flushes, then TE. After vg_vtd_disable(), sets TE
 * again.
 */
int vg_vtd_enable(struct vg_vtd *d);
/* Clear TE (translation off). */
int vg_vtd_disable(struct vg_vtd *d);

/* Attach requester @sid to domain @did (created on first use); @pass_through uses TT = 10b. */
int vg_vtd_attach(struct vg_vtd *d, uint16_t sid, uint16_t did, bool pass_through);
int vg_vtd_detach(struct vg_vtd *d, uint16_t sid);

/* Map [iova, iova + size) -> gpa in domain @did with VIOMMU_ACC_* rights (4 KiB aligned). */
int vg_vtd_map(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t gpa, uint64_t size,
	       uint32_t perm);
/*
 * Unmap; strict mode flushes before returning, deferred mode queues the range and flushes the
 * domain once @batch unmaps are pending (or at vg_vtd_flush).
 */
int vg_vtd_unmap(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size);
/*
 * Building blocks for a DMA layer that keeps its own flush policy: change the page tables without
 * invalidating. vg_vtd_map_nosync() records the range when the unit is in caching mode and
 * vg_vtd_sync_map() flushes every recorded range in one queued submission (Linux's
 * iotlb_sync_map); vg_vtd_unmap_nosync() leaves the domain to vg_vtd_flush().
 */
int vg_vtd_map_nosync(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t gpa, uint64_t size,
		      uint32_t perm);
int vg_vtd_sync_map(struct vg_vtd *d);
int vg_vtd_unmap_nosync(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size);

/* Complete every deferred flush (one domain-selective flush per domain with pending unmaps). */
int vg_vtd_flush(struct vg_vtd *d);
/* Page-selective flush of [iova, iova + size) in @did, as after changing a present entry. */
int vg_vtd_flush_range(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size);
/* Device-TLB invalidation for @sid over [iova, iova + size) (needs ECAP.DT and QI). */
int vg_vtd_flush_dev_iotlb(struct vg_vtd *d, uint16_t sid, uint64_t iova, uint64_t size);

/* Guest-physical address of a free 4 KiB page from the driver's pool (for test DMA buffers). */
int vg_vtd_alloc_page(struct vg_vtd *d, uint64_t *gpa);

void vg_vtd_get_stats(const struct vg_vtd *d, struct vg_vtd_stats *st);

#endif /* VIOMMU_GUEST_VTD_DRIVER_H */
