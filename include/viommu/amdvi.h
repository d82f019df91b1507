/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi (AMD I/O Virtualization Technology, specification 48882): an emulated IOMMU as an
 * unmodified Linux amd_iommu driver programs it. The guest reaches its two 4 KiB register pages
 * through viommu_mmio_read/write (offsets 0x0000-0x0fff and 0x2000-0x2fff,
 * <viommu/spec/amdvi.h> names them); DMA goes through viommu_translate with req.sid = the
 * 16-bit DeviceID (bus << 8 | devfn). The device table, I/O page tables, command buffer and
 * event log live in guest memory and are reached only through the host ops.
 *
 * The VMM owns the IOMMU's PCI function: it places the capability block
 * (viommu_amdvi_pci_cap() gives its header and misc information words) and the MSI capability
 * in configuration space, and tells the model what the guest programs into the MSI capability
 * (viommu_amdvi_set_msi()). Event-log and completion-wait interrupts go to the host's msi
 * callback with that address and data.
 *
 * Translation: v1 host page tables (DTE Mode 1-6, level skipping, encoded page sizes, present,
 * reserved-bit and permission checks at every level, rights ANDed with the DTE's IR/IW), Mode 0
 * (IR/IW alone), V = 0 or TV = 0 (untranslated), the exclusion range. A blocked DMA is logged in
 * the event log (IO_PAGE_FAULT, ILLEGAL_DEV_TABLE_ENTRY, DEV_TAB_HARDWARE_ERROR,
 * PAGE_TAB_HARDWARE_ERROR) unless the DTE's SA suppresses it, and fault.flags says whether it was
 * recorded, suppressed or lost to a full log.
 *
 * The interrupt window: a request without PASID into 0xFEE0_0000-0xFEEF_FFFF is an interrupt
 * request, answered with VIOMMU_XLATE_F_INTERRUPT (out = iova) as the VT-d model does; the VMM
 * delivers it (interrupt remapping is not modelled: DTE interrupt fields are validated only).
 *
 * Consumers: the model turns INVALIDATE_IOMMU_PAGES, INVALIDATE_DEVTAB_ENTRY and
 * INVALIDATE_IOMMU_ALL into MAP/UNMAP events as the VT-d model does in caching mode, diffing
 * against what it last told each device's MAP consumers (a live mapping is never unmapped
 * transiently); MAP consumers therefore need a guest that invalidates after making entries
 * present, which the capability header's NpCache asks for (VIOMMU_AMDVI_NPCACHE).
 * INVALIDATE_IOTLB_PAGES reaches consumers as VIOMMU_EV_DEVIOTLB_UNMAP.
 *
 * Guest translation (VIOMMU_AMDVI_GT: EFR GTSup, GIoSup, GLXSup 10b, PASmax 15, GATS 4 levels
 * or with gats_levels 5, 5 levels; control GTEn): a DTE with GV translates requests with PASID,
 * and with GIoV those without, through the GCR3 table (one to three levels) to x86-64 tables of 4
 * levels, or of 5 where GATS offers them and the DTE's GuestPagingMode (QW2 55:54) is 01b (57-bit
 * canonical inputs); with DTE Mode 1-6 as well
 * it is nested: every GCR3 and guest table access and the guest output are guest-physical and
 * go through the v1 table (guest-owned v2 over host-owned v1). Without GV, or without GTEn, a
 * request with PASID is blocked with IO_PAGE_FAULT. MAP/UNMAP consumers of a GIoV device see its
 * requests without PASID: the guest (v2) tables of GCR3 entry 0, synced by INVALIDATE_IOMMU_PAGES
 * with GN and PASID 0 as Linux 6.12 sends them for v2 domains (PASID-tagged translations are not
 * reported). A device-IOTLB invalidation with GN and PASID 0 of a GIoV device also reaches
 * consumers as one without PASID.
 *
 * Page requests (VIOMMU_AMDVI_PPR: EFR PPRSup; control PPRLogEn, PPRIntEn, PPREn): the VMM hands
 * a PCIe page request from an ATS/PRI endpoint to viommu_amdvi_page_request(), which logs it in
 * the PPR log (PAGE_SERVICE_REQUEST); the guest answers with COMPLETE_PPR_REQUEST, which reaches
 * the VMM's response callback (it sends the page request group response to the device).
 * With enhanced PPR handling (VIOMMU_AMDVI_EPH: EFR EPHSup; control EPHEn) the device's DTE
 * decides: a page request from a device whose DTE is not valid or has PPR = 0 is refused and
 * logged in the event log as INVALID_PPR_REQUEST instead.
 *
 * Invalid requests (2.5.9): a read of the interrupt address range (0xFEE0_0000-0xFEEF_FFFF)
 * without PASID is refused with INVALID_DEVICE_REQUEST (type 000b) while IommuEn is set; ATS
 * translation requests and pretranslated requests are checked against the DTE (below).
 *
 * PREFETCH_IOMMU_PAGES (EFR PreFSup) loads PFCount translations of the page size S encodes into
 * the IOTLB (v1, or with GN the PASID's guest tables), after invalidating them when Inval is set;
 * it never logs a fault (a page that does not translate is not loaded).
 *
 * Not modelled yet: interrupt remapping, A/D updates, the DTE's SE bit (treated as SA = 0
 * behaviour: every fault is logged), hardware error registers, performance counters.
 */
#ifndef VIOMMU_AMDVI_H
#define VIOMMU_AMDVI_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of register space the model decodes (two 4 KiB pages at 0x0000 and 0x2000). */
#define VIOMMU_AMDVI_REG_SIZE 0x4000

enum viommu_amdvi_flags {
	VIOMMU_AMDVI_NPCACHE = 1u << 0, /* capability header NpCache: the guest invalidates after
					 * making entries present (needed by MAP consumers) */
	VIOMMU_AMDVI_IOTLB = 1u << 1,	/* capability header IotlbSup: device IOTLBs (ATS) */
	VIOMMU_AMDVI_IA = 1u << 2,	/* EFR IASup: INVALIDATE_IOMMU_ALL */
	VIOMMU_AMDVI_GT = 1u << 3,	/* EFR GTSup, GIoSup: guest (v2) and nested translation */
	VIOMMU_AMDVI_PPR = 1u << 4,	/* EFR PPRSup: the PPR log and COMPLETE_PPR_REQUEST */
	VIOMMU_AMDVI_EPH = 1u << 5,	/* EFR EPHSup (needs VIOMMU_AMDVI_PPR): enhanced PPR
					 * handling, control EPHEn; Linux 6.12 reads ATS
					 * capabilities only with GT, PPR and EPH */
	VIOMMU_AMDVI_HWV = 1u << 6,	/* EFR bit 55 (needs VIOMMU_AMDVI_GT): the hardware-assisted
					 * vIOMMU of <viommu/amdvi_hwv.h> */
};

struct viommu_amdvi_config {
	uint32_t flags;		 /* enum viommu_amdvi_flags */
	uint32_t hats_levels;	 /* EFR HATS: deepest host table, 4, 5 or 6 levels (0: 6) */
	uint32_t pa_bits;	 /* physical address size, 32..52 (0: 48); table addresses and
				  * outputs above it are reserved bits */
	uint32_t iotlb_capacity; /* entries of the IOTLB (0: 1024) */
	uint32_t iotlb_ways;	 /* its associativity (0: 4) */
	uint32_t iommu_devid;	 /* VIOMMU_AMDVI_HWV: the IOMMU function's own DeviceID, whose DTE
				  * maps its private address space */
	uint32_t gats_levels;	 /* VIOMMU_AMDVI_GT: EFR GATS, the deepest guest (v2) table, 4 or
				  * 5 levels (0: 4); 5 lets a DTE's GuestPagingMode ask for 5 */
};

/* A typical configuration: NpCache, IotlbSup, IASup, 6-level host tables, 48-bit addresses. */
VIOMMU_API void viommu_amdvi_config_init(struct viommu_amdvi_config *cfg);

/*
 * Create an IOMMU. Returns VIOMMU_EINVAL for a configuration outside the ranges above or host ops
 * without dma_read, VIOMMU_ENOMEM when out of memory. Destroy with viommu_destroy().
 */
VIOMMU_API int viommu_amdvi_create(const struct viommu_amdvi_config *cfg,
				   const struct viommu_host_ops *ops, void *opaque,
				   struct viommu **out);

/*
 * The MSI the guest programmed into the IOMMU function's MSI capability (enable bit, address,
 * data), as the VMM sees its configuration writes. Until enabled, interrupt conditions only set
 * their status bits. VIOMMU_EINVAL if @v is not an AMD-Vi IOMMU.
 */
VIOMMU_API int viommu_amdvi_set_msi(struct viommu *v, bool enabled, uint64_t addr, uint32_t data);

/*
 * The capability block words the VMM places in configuration space: @hdr for offset 00h
 * (capability id, type, revision, IotlbSup, NpCache, EFRSup, CapExt; the VMM adds the next
 * pointer) and @misc0 for offset 10h (address sizes). The base address registers are the VMM's.
 */
VIOMMU_API int viommu_amdvi_pci_cap(const struct viommu *v, uint32_t *hdr, uint32_t *misc0);

/* A PCIe page request (PRI) from an endpoint, as the VMM received it. */
struct viommu_amdvi_page_request {
	uint32_t devid;
	uint32_t pasid; /* with has_pasid: the request's PASID (GN in the log entry) */
	bool has_pasid;
	uint64_t addr;	 /* the page asked for (bits 11:0 are ignored) */
	uint32_t access; /* VIOMMU_ACC_READ/WRITE/EXEC asked for; VIOMMU_ACC_PRIV: supervisor */
	uint32_t tag;	 /* page request group index, 0..511 */
};

/*
 * Log @pr in the PPR log. Returns 0 when logged, VIOMMU_EPERM when page requests are not enabled
 * (IommuEn, PPREn and PPRLogEn), the log is stopped or (EPHEn) the DTE refuses them, VIOMMU_ENOSPC when the log is full (it
 * overflows: PprOverflow), VIOMMU_EFAULT when the log is outside guest memory, VIOMMU_EINVAL for a
 * bad call or an IOMMU without VIOMMU_AMDVI_PPR. In every failing case the VMM answers the
 * device itself (PCIe: response failure), as the IOMMU does not.
 */
VIOMMU_API int viommu_amdvi_page_request(struct viommu *v,
					 const struct viommu_amdvi_page_request *pr);

/*
 * COMPLETE_PPR_REQUEST from the guest: @status is the PRI response code (0 success, 1 invalid
 * request, 0xf response failure), @tag the group index.
 */
typedef void (*viommu_amdvi_ppr_response_fn)(void *opaque, uint32_t devid, uint32_t pasid,
					     bool has_pasid, uint32_t tag, uint32_t status);
VIOMMU_API int viommu_amdvi_set_ppr_response(struct viommu *v, viommu_amdvi_ppr_response_fn fn,
					     void *opaque);

/*
 * ATS (PCIe Address Translation Services, 2.2.2 DTE I bit, 2.5.9). A device IOTLB's Translation
 * Request (AT = 01b) goes to viommu_amdvi_ats_translate(), which answers as viommu_translate()
 * does (a leaf for the Translation Completion, or a fault) and logs what it blocks with TR = 1.
 * The device's DTE must allow ATS: V = 1, TV = 1 and I = 1 (I needs VIOMMU_AMDVI_IOTLB, without
 * it the bit is reserved); otherwise the request is refused and logged as INVALID_DEVICE_REQUEST
 * (type 001b, TR = 1), with res->fault.reason VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST: the VMM
 * completes it with Unsupported Request. Any other fault is a completion with R = W = 0. While
 * IommuEn is clear every request passes untranslated, as in viommu_translate().
 */
VIOMMU_API int viommu_amdvi_ats_translate(struct viommu *v, const struct viommu_xlate_req *req,
					  struct viommu_xlate_result *res);

/*
 * A pretranslated (AT = 10b) request of @devid at @addr: 0 when the device's DTE allows it (V = 1
 * and I = 1, or IommuEn clear), and the VMM performs it at @addr untranslated; VIOMMU_EPERM when
 * refused, logged as INVALID_DEVICE_REQUEST (type 001b, TR = 0; or the DTE's own event when the
 * entry is illegal or outside memory). VIOMMU_EINVAL for a bad call.
 */
VIOMMU_API int viommu_amdvi_translated_request(struct viommu *v, uint32_t devid, uint64_t addr,
					       uint32_t access);

/*
 * The device did not complete a device-IOTLB invalidation (INVALIDATE_IOTLB_PAGES, delivered as
 * VIOMMU_EV_DEVIOTLB_UNMAP): log IOTLB_INV_TIMEOUT with the address of that command (2.5.8).
 * Unlike other calls, this one may be made from inside the VIOMMU_EV_DEVIOTLB_UNMAP callback for
 * its own event: the model logs it when the callbacks return, before the next command runs (so a
 * later COMPLETION_WAIT finds the event logged). Made later, it names the last
 * INVALIDATE_IOTLB_PAGES the model ran for @devid. Returns 0 when logged (or to be logged), the
 * log's refusal (VIOMMU_EPERM disabled, VIOMMU_ENOSPC full, VIOMMU_EFAULT outside memory),
 * VIOMMU_ENOENT when no such command is known for @devid, VIOMMU_EINVAL for a bad call.
 */
VIOMMU_API int viommu_amdvi_iotlb_inv_timeout(struct viommu *v, uint32_t devid);

/* What the IOMMU did, for the simulator's cost model. Counters only grow. */
struct viommu_amdvi_stats {
	uint64_t mmio_reads;
	uint64_t mmio_writes;  /* register writes: each is a trap (exit) for the VMM */
	uint64_t mmio_ignored; /* writes dropped: read-only or unknown register, bad width */
	uint64_t translations;
	uint64_t iotlb_hits; /* from the core IOTLB */
	uint64_t iotlb_misses;
	uint64_t dte_hits; /* device table entry cache */
	uint64_t dte_misses;
	uint64_t page_walks;	      /* v1 walks (translation misses and notification walks) */
	uint64_t faults;	      /* blocked translations */
	uint64_t events_logged;	      /* entries written to the event log */
	uint64_t events_suppressed;   /* IO_PAGE_FAULTs the DTE's SA or SE suppressed */
	uint64_t events_lost;	      /* event log disabled, full (overflow) or outside memory */
	uint64_t cmd_doorbells;	      /* tail writes that found work */
	uint64_t cmd_completion_wait; /* commands by type */
	uint64_t cmd_inv_devtab;
	uint64_t cmd_inv_pages;
	uint64_t cmd_inv_iotlb;
	uint64_t cmd_inv_irt;
	uint64_t cmd_inv_all;
	uint64_t cmd_complete_ppr;
	uint64_t cmd_prefetch;	       /* PREFETCH_IOMMU_PAGES */
	uint64_t prefetched;	       /* translations it loaded into the IOTLB */
	uint64_t ats_translations;     /* viommu_amdvi_ats_translate() calls */
	uint64_t invalid_dev_requests; /* INVALID_DEVICE_REQUEST events (logged or lost) */
	uint64_t iotlb_inv_timeouts;   /* IOTLB_INV_TIMEOUT events (logged or lost) */
	uint64_t ppr_logged;	       /* page requests written to the PPR log */
	uint64_t ppr_invalid;	       /* INVALID_PPR_REQUEST: refused by the DTE (EPHEn) */
	uint64_t ppr_lost;	       /* refused: disabled, full or outside memory */
	uint64_t cmd_errors;	       /* ILLEGAL_COMMAND_ERROR and COMMAND_HARDWARE_ERROR */
	uint64_t notify_map;	       /* events delivered */
	uint64_t notify_unmap;
	uint64_t notify_dev_iotlb;
	uint64_t interrupts; /* MSIs sent */
};

/* Fill @st; VIOMMU_EINVAL if @v is not an AMD-Vi IOMMU. */
VIOMMU_API int viommu_amdvi_get_stats(const struct viommu *v, struct viommu_amdvi_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_AMDVI_H */
