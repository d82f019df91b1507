/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d remapping hardware unit, legacy (non-scalable) mode: what an unmodified Linux
 * intel-iommu driver programs. The guest reaches it through viommu_mmio_read/write on the
 * register page (VIOMMU_VTD_REG_SIZE bytes); DMA goes through viommu_translate with req.sid =
 * bus << 8 | devfn. Root, context and second-level tables live in guest memory and are read only
 * through the host ops.
 *
 * With caching mode (CAP.CM) the model turns the guest's invalidations into MAP/UNMAP
 * notifications, diffing against what it last told each requester's MAP consumers, so a live
 * mapping is never unmapped transiently. Device-TLB invalidation descriptors reach consumers as
 * VIOMMU_EV_DEVIOTLB_UNMAP.
 *
 * The interrupt window: a request without PASID into 0xFEE0_0000-0xFEEF_FFFF is an interrupt
 * request, not a DMA (VT-d section 3.14), whether translation is enabled, disabled or the context
 * passes through. viommu_translate() answers it with a successful result flagged
 * VIOMMU_XLATE_F_INTERRUPT (out = iova, write only), never through the guest's tables, and the
 * VMM delivers the write as an MSI. A request that starts below the window translates at most up
 * to it. A translation whose output falls in the window is blocked with fault reason Eh; MAP
 * notifications never cover the window.
 *
 * Not modelled: interrupt remapping (ECAP.IR, EIM and MHMV read as zero; IRTA is stored and
 * interrupt-entry-cache descriptors complete, for a VMM that remaps interrupts itself), scalable
 * mode, PASID, page requests. A blocked translation says in fault.flags whether it reached a
 * fault recording register (and which, in fault.record), was suppressed by FPD, or was lost to an
 * overflow.
 */
#ifndef VIOMMU_VTD_H
#define VIOMMU_VTD_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of register space the model decodes (offsets past it read as zero). */
#define VIOMMU_VTD_REG_SIZE 0x1000

enum viommu_vtd_flags {
	VIOMMU_VTD_CM = 1u << 0,       /* CAP.CM: caching mode */
	VIOMMU_VTD_SLLPS_2M = 1u << 1, /* CAP.SLLPS: 2 MiB second-level pages */
	VIOMMU_VTD_SLLPS_1G = 1u << 2, /* CAP.SLLPS: 1 GiB second-level pages */
	VIOMMU_VTD_QI = 1u << 3,       /* ECAP.QI: queued invalidation */
	VIOMMU_VTD_DT = 1u << 4,       /* ECAP.DT: device-TLB (context TT = 01b allowed) */
	VIOMMU_VTD_PT = 1u << 5,       /* ECAP.PT: pass-through (context TT = 10b allowed) */
	VIOMMU_VTD_C = 1u << 6,	       /* ECAP.C: page walks snoop, the guest need not flush
					* its table writes from the CPU caches */
};

struct viommu_vtd_config {
	uint32_t aw_bits;	 /* 39, 48 or 57: MGAW + 1, SAGAW up to this width (0: 48) */
	uint32_t flags;		 /* enum viommu_vtd_flags */
	uint32_t mamv;		 /* CAP.MAMV, largest page-selective address mask, 0..63 */
	uint32_t nfr;		 /* fault recording registers, 1..64 (0: 8) */
	uint32_t iotlb_capacity; /* entries of the IOTLB (0: 1024) */
	uint32_t iotlb_ways;	 /* its associativity (0: 4) */
};

/*
 * A typical configuration: 48-bit, QI, PT, coherent walks (C), 2 MiB and 1 GiB pages, MAMV 18,
 * 8 fault records.
 */
VIOMMU_API void viommu_vtd_config_init(struct viommu_vtd_config *cfg);

/*
 * Create a unit. Returns VIOMMU_EINVAL for a configuration outside the ranges above or host ops
 * without dma_read, VIOMMU_ENOMEM when out of memory. Destroy with viommu_destroy().
 */
VIOMMU_API int viommu_vtd_create(const struct viommu_vtd_config *cfg,
				 const struct viommu_host_ops *ops, void *opaque,
				 struct viommu **out);

/* What the unit did, for the simulator's cost model. Counters only grow. */
struct viommu_vtd_stats {
	uint64_t mmio_reads;
	uint64_t mmio_writes;  /* register writes: each is a trap (exit) for the VMM */
	uint64_t mmio_ignored; /* writes dropped: read-only or unknown register, bad width */
	uint64_t translations;
	uint64_t iotlb_hits; /* from the core IOTLB */
	uint64_t iotlb_misses;
	uint64_t ctx_hits; /* context cache */
	uint64_t ctx_misses;
	uint64_t page_walks; /* second-level walks (translation misses and notification walks) */
	uint64_t faults;     /* blocked translations */
	uint64_t faults_recorded;   /* written to a fault recording register */
	uint64_t faults_suppressed; /* qualified faults with FPD set */
	uint64_t faults_overflowed; /* lost to a primary fault overflow */
	uint64_t qi_doorbells;	    /* IQT writes that found work */
	uint64_t qi_cc;		    /* descriptors by type */
	uint64_t qi_iotlb;
	uint64_t qi_dev_iotlb;
	uint64_t qi_iec;
	uint64_t qi_wait;
	uint64_t qi_errors;   /* IQE raised */
	uint64_t inv_context; /* context-cache invalidations (register or queue) */
	uint64_t inv_iotlb_global;
	uint64_t inv_iotlb_domain;
	uint64_t inv_iotlb_page;
	uint64_t inv_dev_iotlb;
	uint64_t notify_map; /* events delivered */
	uint64_t notify_unmap;
	uint64_t notify_dev_iotlb;
	uint64_t interrupts; /* fault and invalidation-completion MSIs sent */
};

/* Fill @st; VIOMMU_EINVAL if @v is not a VT-d unit. */
VIOMMU_API int viommu_vtd_get_stats(const struct viommu *v, struct viommu_vtd_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_VTD_H */
