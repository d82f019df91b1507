/* SPDX-License-Identifier: MIT */
/*
 * One guest-visible vIOMMU for the simulator: the model instance (public API), the guest driver
 * that programs it through its real interface (guest/vtd_driver.c, guest/amdvi_driver.c,
 * guest/smmuv3_driver.c, guest/virtio_iommu_driver.c, guest/calgary_driver.c),
 * and a counting shim on the model's guest-memory reads. The DMA-API strategies (guest/dma.h)
 * drive every model through the same five operations (sim_iommu_dma_ops), so a new model joins
 * by adding a backend here.
 */
#ifndef VIOMMU_SIM_IOMMU_H
#define VIOMMU_SIM_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

#include "dma.h"

enum sim_model {
	SIM_MODEL_NONE, /* no vIOMMU: device addresses are guest-physical */
	SIM_MODEL_VTD,
	SIM_MODEL_VIRTIO_IOMMU,
	SIM_MODEL_AMDVI,
	SIM_MODEL_CALGARY,	 /* Calgary, Linux's driver writing TCEs and blasting */
	SIM_MODEL_CALGARY_HCALL, /* Calgary behind the sPAPR TCE hypercalls (indirect batches) */
	SIM_MODEL_SMMUV3,
};

struct sim_iommu_config {
	enum sim_model model;
	bool caching_mode; /* VT-d CAP.CM, SMMUv3 caching-mode quirk (to shadow an assigned device) */
	bool ats;	   /* VT-d device-TLB, AMD-Vi DTE.I, SMMUv3 STE.EATS: the guest also sends
		   * device-IOTLB invalidations */
	bool v2; /* AMD-Vi: VIOMMU_AMDVI_GT and a driver with v2 tables (GCR3 entry 0, GIoV) */
	struct viommu_flatmem *mem;
	uint64_t arena; /* guest-physical memory the driver owns for its tables and queues */
	uint64_t arena_size;
	uint32_t sid;		/* the one endpoint (requester id) the simulator attaches */
	uint32_t iotlb_entries; /* AMD-Vi: its IOTLB's capacity (0: the model's default) */
	bool no_np_cache; /* AMD-Vi: NpCache clear (real hardware): the driver does not flush maps */
};

/* Everything the model and driver did, cumulative; the engine charges differences. */
struct sim_iommu_counts {
	uint64_t mmio_exits; /* trapped register accesses (reads and writes) */
	uint64_t kicks;	     /* virtqueue notifications of the request queue */
	uint64_t ops; /* units of VMM emulation work: register writes, descriptors, requests */
	uint64_t invalidations; /* invalidation commands the guest issued */
	uint64_t table_reads;	/* guest-memory reads by the model (walks, descriptors, requests) */
	uint64_t translations;
	uint64_t iotlb_hits;
	uint64_t iotlb_misses;
	uint64_t requests; /* virtio-iommu requests */
	/*
	 * AMD-Vi, as a hardware-assisted vIOMMU would split them (struct viommu_amdvi_hwv_stats):
	 * register accesses to the pointer page (mapped into the guest: no exit), DTE updates (the
	 * VMM write-protects the guest's device table: one trapped install each), commands and
	 * completion waits (run by the IOMMU itself).
	 */
	uint64_t direct_mmio, dte_writes, commands, completion_waits;
	/* Calgary driven by the CPU itself (bare metal, Xen's IOMMU hypercalls): see iommu.c. */
	uint64_t native_mmio, tce_writes, crossings;
};

struct sim_iommu;

int sim_iommu_create(const struct sim_iommu_config *cfg, struct sim_iommu **out);
void sim_iommu_destroy(struct sim_iommu *s);

struct viommu *sim_iommu_model(struct sim_iommu *s);
const char *sim_model_name(enum sim_model m);
/* Page sizes the driver may map with (bit n set: 2^n bytes). */
uint64_t sim_iommu_pgsizes(const struct sim_iommu *s);

/* Strict map: page tables (or MAP request) and whatever makes it visible (CM flush, kick). */
int sim_iommu_map(struct sim_iommu *s, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm);
/* Batched map: queue, then make every queued map visible at once. */
int sim_iommu_map_queue(struct sim_iommu *s, uint64_t iova, uint64_t gpa, uint64_t size,
			uint32_t perm);
int sim_iommu_sync_map(struct sim_iommu *s);
/* Strict unmap: the translation is gone from every cache when this returns. */
int sim_iommu_unmap(struct sim_iommu *s, uint64_t iova, uint64_t size);
/* Lazy unmap: tables cleared (or UNMAP queued) without invalidation; sim_iommu_flush() completes. */
int sim_iommu_unmap_lazy(struct sim_iommu *s, uint64_t iova, uint64_t size);
int sim_iommu_flush(struct sim_iommu *s);

void sim_iommu_counts(const struct sim_iommu *s, struct sim_iommu_counts *c);
/* counts.table_reads alone, without gathering the model's statistics (per-DMA path). */
uint64_t sim_iommu_reads(const struct sim_iommu *s);

/* The strategies' view of a struct sim_iommu (its map, unmap and flush calls above). */
extern const struct vg_dma_iommu_ops sim_iommu_dma_ops;

#endif /* VIOMMU_SIM_IOMMU_H */
