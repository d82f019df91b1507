/* SPDX-License-Identifier: MIT */
/*
 * Arm SMMUv3 (System Memory Management Unit architecture version 3, IHI0070): an emulated SMMU
 * as an unmodified Linux arm-smmu-v3 driver programs it, Non-secure programming interface only.
 *
 * Registers: the guest reaches pages 0 and 1 (VIOMMU_SMMUV3_REG_SIZE = 0x20000 bytes, page 1 at
 * 0x10000) through viommu_mmio_read/write; <viommu/spec/smmuv3.h> names every offset. 32-bit
 * registers take 4-byte accesses, the 64-bit ones (*_BASE, *_IRQ_CFG0) 8-byte accesses or two
 * 4-byte halves. The VMM maps the window at the base it tells the guest (device tree or IORT).
 *
 * Requests: viommu_translate with req.sid = the StreamID (for PCI, the requester id bus << 8 |
 * devfn, as the VMM's firmware tables map RIDs to StreamIDs) and, when the transaction carries a
 * SubstreamID (PASID), req.has_pasid = true and req.pasid = the SubstreamID. req.access:
 * VIOMMU_ACC_WRITE for a write (RnW = 0), VIOMMU_ACC_EXEC for an instruction fetch (InD),
 * VIOMMU_ACC_PRIV for a privileged transaction (PnU). A blocked request is answered as the
 * architecture says (abort) and, where the STE/CD ask for it, recorded in the event queue; the
 * result's fault.reason is the event number (VIOMMU_SMMUV3_EVT_*), fault.flags says whether the
 * record was written, suppressed (CD.R / STE.S2R clear) or lost (queue full or disabled).
 *
 * Configuration the model walks: linear and 2-level stream tables; STE Config abort, bypass,
 * stage 1, stage 2 and nested; linear and 2-level CD tables indexed by SubstreamID, S1DSS;
 * AArch64 translation tables with 4K, 16K and 64K granules at each stage (pt formats
 * VIOMMU_PT_ARM_S1 and VIOMMU_PT_ARM_S2); in nested configurations every CD and stage-1 table
 * access is an IPA translated by stage 2. Every reserved or unsupported STE/CD value gives
 * C_BAD_STE or C_BAD_CD (an AArch32 stage 2 included), tables outside guest memory F_STE_FETCH,
 * F_CD_FETCH or F_WALK_EABT. HTTU (VIOMMU_SMMUV3_HTTU, IDR0.HTTU = 0b01): CD.HA and STE.S2HA
 * make the walk set the Access flag atomically through the host's dma_map_ptr instead of an
 * F_ACCESS fault; with VIOMMU_SMMUV3_HTTU_AD (IDR0.HTTU = 0b10) CD.HD/STE.S2HD (with HA) also
 * manage dirty state: a write to a DBM page (descriptor bit 51) without write permission makes
 * it writable-dirty (clears AP[2], sets S2AP[1]) instead of faulting.
 *
 * Interrupts: with VIOMMU_SMMUV3_MSI the guest programs the *_IRQ_CFG0..2 registers and the model
 * sends MSIs through the host's msi callback (and CMD_SYNC's MSI write, CS = SIG_IRQ, through the
 * same callback with the command's address and data: the VMM performs it as a 32-bit memory
 * write to that guest-physical address, as a GICv3 ITS doorbell or memory). An interrupt whose
 * IRQ_CFG0.ADDR is 0, or any interrupt without VIOMMU_SMMUV3_MSI, goes to the host's irq callback
 * as a pulse (level true then false) on the wired line of enum viommu_smmuv3_irq.
 *
 * Stall model: terminate only (IDR0.STALL_MODEL = 0b01, 6.3.1; IDR0.TERM_MODEL = 1): a fault
 * terminates the transaction at once and no transaction ever stalls, so the event records never
 * have Stall = 1, a CD with S = 1 or an STE with S2S = 1 is C_BAD_CD / C_BAD_STE (STE.S1STALLD
 * is ignored: there is nothing to disable), and CMD_RESUME and CMD_STALL_TERM are CERROR_ILL as
 * the architecture says for that model (4.7.1). A VMM's device cannot wait for software anyway:
 * the answer to a DMA is due when the DMA is made. IDR0.ATOS = 0: no ATOS/VATOS registers (the
 * SMMU_GATOS_* offsets read 0 and ignore writes); the guest translates through the tables.
 *
 * Events the model never writes, and why the architecture allows it: F_TLB_CONFLICT and
 * F_CFG_CONFLICT (a lookup matching several entries is CONSTRAINED UNPREDICTABLE; the IOTLB and
 * the configuration cache always answer from one entry), F_VMS_FETCH (no Virtual Machine
 * Structure without MPAM, IDR3.MPAM = 0), E_PAGE_REQUEST (PRI requests go to the PRI queue).
 *
 * ATS (IDR0.ATS with VIOMMU_SMMUV3_ATS, IDR0.NS1ATS = 1: no split-stage ATS, so STE.EATS = 0b10
 * is C_BAD_STE): see viommu_smmuv3_transaction() for Translation Requests and Translated
 * transactions; ATC_INV reaches consumers as VIOMMU_EV_DEVIOTLB_UNMAP.
 *
 * Consumers (viommu_notifier_add): CFGI_* and TLBI_* commands become VIOMMU_EV_UNMAP events over
 * the range they invalidate for the StreamIDs they concern; ATC_INV becomes
 * VIOMMU_EV_DEVIOTLB_UNMAP. With VIOMMU_SMMUV3_CM (the caching-mode firmware quirk of seed 000:
 * the VMM advertises it to its guest, e.g. a device-tree property; no architectural register says
 * it) the guest invalidates after every map too, and the model turns each invalidation into
 * MAP/UNMAP events by diffing the tables against what it last told each StreamID's MAP consumers,
 * as VT-d in caching mode does (a live mapping is never unmapped transiently). Ranges come with
 * range invalidation (RIL: TLBI_NH_VA/VAA and TLBI_S2_IPA with TG/SCALE/NUM), which is the
 * architecture's answer to the seed's "invalidate more than one granule" ask. Stage 1 and
 * nested streams are synced through their no-SubstreamID view (CD 0 under S1DSS = SSID0) with
 * has_pasid = false, and each SubstreamID whose CD the guest announced with CMD_CFGI_CD (as
 * software must after writing a CD, and Linux does) as its own address space: events with
 * has_pasid = true and pasid = the SubstreamID, to MAP consumers (diffs) and UNMAP-only ones
 * (ranges) of the StreamID alike, replayed to new consumers, re-synced by each CFGI_CD. At most
 * 1024 such (StreamID, SubstreamID) spaces are followed; when the guest names more, the oldest
 * one is dropped and its consumers get an UNMAP of everything (they fault, never go stale).
 *
 * Several instances (one per host bridge) are independent objects.
 *
 * Not modelled: Secure and Realm programming interfaces, ATOS/VATOS, ECMDQ, MPAM, PBHA,
 * big-endian tables, AArch32 tables (faulted, never walked), stall, split-stage ATS, event
 * merging, prefetch (PREFETCH_* are accepted and do nothing), 52-bit addresses (OAS at most 48).
 */
#ifndef VIOMMU_SMMUV3_H
#define VIOMMU_SMMUV3_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of register space the model decodes: page 0 at 0x00000 and page 1 at 0x10000. */
#define VIOMMU_SMMUV3_REG_SIZE 0x20000

/* Wired interrupt lines (host irq callback @line), as the device-tree binding names them. */
enum viommu_smmuv3_irq {
	VIOMMU_SMMUV3_IRQ_EVENTQ = 0,	/* "eventq": event queue not empty */
	VIOMMU_SMMUV3_IRQ_PRIQ = 1,	/* "priq": PRI queue not empty */
	VIOMMU_SMMUV3_IRQ_CMD_SYNC = 2, /* "cmdq-sync": CMD_SYNC complete (CS = SIG_IRQ) */
	VIOMMU_SMMUV3_IRQ_GERROR = 3,	/* "gerror": global error activated */
};

enum viommu_smmuv3_flags {
	VIOMMU_SMMUV3_S1 = 1u << 0,	     /* IDR0.S1P: stage 1 */
	VIOMMU_SMMUV3_S2 = 1u << 1,	     /* IDR0.S2P: stage 2 (with S1: nested) */
	VIOMMU_SMMUV3_2LVL_STRTAB = 1u << 2, /* IDR0.ST_LEVEL = 1: 2-level stream tables */
	VIOMMU_SMMUV3_CD2L = 1u << 3,	     /* IDR0.CD2L: 2-level CD tables */
	VIOMMU_SMMUV3_SSID = 1u << 4,	     /* IDR1.SSIDSIZE = ssid_bits: SubstreamIDs */
	VIOMMU_SMMUV3_RIL = 1u << 5,	     /* IDR3.RIL: range invalidation */
	VIOMMU_SMMUV3_ATS = 1u << 6,	     /* IDR0.ATS: ATC_INV, STE.EATS */
	VIOMMU_SMMUV3_PRI = 1u << 7,	     /* IDR0.PRI: the PRI queue and PRI_RESP */
	VIOMMU_SMMUV3_HTTU = 1u << 8,	     /* IDR0.HTTU = 0b01: hardware Access flag updates */
	VIOMMU_SMMUV3_MSI = 1u << 9,	     /* IDR0.MSI: MSIs (else wired lines only) */
	VIOMMU_SMMUV3_CM = 1u << 10,	  /* caching-mode quirk: MAP/UNMAP sync by diff (above) */
	VIOMMU_SMMUV3_ASID16 = 1u << 11,  /* IDR0.ASID16 */
	VIOMMU_SMMUV3_VMID16 = 1u << 12,  /* IDR0.VMID16 */
	VIOMMU_SMMUV3_HTTU_AD = 1u << 13, /* IDR0.HTTU = 0b10: Access and dirty state (with HTTU) */
};

/* Translation granules (IDR5.GRAN4K/16K/64K). */
enum viommu_smmuv3_granules {
	VIOMMU_SMMUV3_GRAN_4K = 1u << 0,
	VIOMMU_SMMUV3_GRAN_16K = 1u << 1,
	VIOMMU_SMMUV3_GRAN_64K = 1u << 2,
};

struct viommu_smmuv3_config {
	uint32_t flags;		 /* enum viommu_smmuv3_flags, taken as given */
	uint32_t granules;	 /* enum viommu_smmuv3_granules (0: all three) */
	uint32_t oas_bits;	 /* IDR5.OAS: 32, 36, 40, 42, 44 or 48 (0: 48) */
	uint32_t sid_bits;	 /* IDR1.SIDSIZE, 1..24 (0: 16) */
	uint32_t ssid_bits;	 /* IDR1.SSIDSIZE with VIOMMU_SMMUV3_SSID, 1..20 (0: 20) */
	uint32_t cmdq_bits;	 /* IDR1.CMDQS, 1..19 (0: 19) */
	uint32_t eventq_bits;	 /* IDR1.EVENTQS, 1..19 (0: 19) */
	uint32_t priq_bits;	 /* IDR1.PRIQS with VIOMMU_SMMUV3_PRI, 1..19 (0: 19) */
	uint32_t iotlb_capacity; /* entries of the IOTLB (0: 1024) */
	uint32_t iotlb_ways;	 /* its associativity (0: 4) */
};

/*
 * A typical configuration, what Linux's arm-smmu-v3 driver uses best: stage 1 and stage 2
 * (nested), 2-level stream and CD tables, 20-bit SubstreamIDs, RIL, ATS, PRI, HTTU (Access
 * flag), MSI, 16-bit ASIDs and VMIDs, all granules, 48-bit OAS, 16-bit StreamIDs, queues of
 * 2^19 entries at most. Not dirty-state updates (HTTU_AD), not the caching-mode quirk.
 */
VIOMMU_API void viommu_smmuv3_config_init(struct viommu_smmuv3_config *cfg);

/*
 * Create an SMMU. Returns VIOMMU_EINVAL for a configuration outside the ranges above, without
 * any stage, or host ops without dma_read; VIOMMU_ENOMEM when out of memory. The registers come
 * up in their reset state (SMMUEN = 0, GBPA.ABORT = 0: DMA bypasses until the guest enables the
 * SMMU). Destroy with viommu_destroy().
 */
VIOMMU_API int viommu_smmuv3_create(const struct viommu_smmuv3_config *cfg,
				    const struct viommu_host_ops *ops, void *opaque,
				    struct viommu **out);

/* Back to the reset state (a system reset): registers, caches, consumers' records. */
VIOMMU_API int viommu_smmuv3_reset(struct viommu *v);

/* A PCIe page request (PRI) from an endpoint, as the VMM received it. */
struct viommu_smmuv3_page_request {
	uint32_t sid;
	uint32_t ssid; /* with has_ssid: the PASID of the request */
	bool has_ssid;
	uint64_t addr;	    /* the page asked for (bits 11:0 are ignored) */
	uint32_t access;    /* VIOMMU_ACC_READ/WRITE/EXEC asked for; VIOMMU_ACC_PRIV: privileged */
	uint32_t prg_index; /* page request group index, 0..511 */
	bool last;	    /* last request of the group */
};

/*
 * Record @pr in the PRI queue. Returns 0 when recorded, VIOMMU_EPERM when the PRI queue is not
 * enabled (CR0.PRIQEN) or the SMMU is off, VIOMMU_ENOSPC when the queue is full (the request is
 * lost, as the architecture lets an overflowing PRI queue do), VIOMMU_EFAULT when the queue is
 * outside guest memory (GERROR.PRIQ_ABT_ERR), VIOMMU_EINVAL for a bad call or an SMMU without
 * VIOMMU_SMMUV3_PRI. On a failure for a last request the VMM answers the device itself (PCIe:
 * response failure), as the SMMU does not.
 */
VIOMMU_API int viommu_smmuv3_page_request(struct viommu *v,
					  const struct viommu_smmuv3_page_request *pr);

/*
 * CMD_PRI_RESP from the guest: @resp is VIOMMU_SMMUV3_PRI_RESP_DENY/FAIL/SUCC; the VMM sends the
 * PCIe page request group response to the device.
 */
typedef void (*viommu_smmuv3_pri_response_fn)(void *opaque, uint32_t sid, uint32_t ssid,
					      bool has_ssid, uint32_t prg_index, uint32_t resp);
VIOMMU_API int viommu_smmuv3_set_pri_response(struct viommu *v, viommu_smmuv3_pri_response_fn fn,
					      void *opaque);

/* Upstream transactions other than untranslated DMA (which is viommu_translate()). */
enum viommu_smmuv3_txn {
	VIOMMU_SMMUV3_TXN_ATS_TREQ = 1,	   /* PCIe ATS Translation Request (AT = 0b01) */
	VIOMMU_SMMUV3_TXN_TRANSLATED = 2,  /* ATS Translated transaction (AT = 0b10) */
	VIOMMU_SMMUV3_TXN_UNSUPPORTED = 3, /* a type or attribute the VMM's SMMU cannot carry */
};

/*
 * An upstream transaction of kind @txn, with @req as for viommu_translate(). Returns 0 with @res
 * filled as viommu_translate() does (fault.type NONE: go ahead), VIOMMU_ENOTSUP for an ATS kind
 * on an SMMU without VIOMMU_SMMUV3_ATS, VIOMMU_EINVAL for a bad call.
 *   ATS_TREQ: the answer for the device's Translation Completion. SMMUEN = 0 or STE.Config abort:
 *     refused without a record (the VMM answers Unsupported Request); STE.EATS = 0 or a bypass
 *     stream: F_BAD_ATS_TREQ (7.3.6), also Unsupported Request; configuration errors (C_BAD_STE,
 *     F_CD_FETCH, ...) are recorded as for any request (Completer Abort); a translation, address
 *     size, access flag or permission fault is NOT recorded (3.9: the completion grants no
 *     access and the device may use PRI); otherwise @res holds the translation.
 *   TRANSLATED: the device presents an address it got from ATS. SMMUEN = 0: as viommu_translate()
 *     (GBPA). CR0.ATSCHK = 0: passes untouched. ATSCHK = 1: passes when STE.EATS = 0b01 or the
 *     stream bypasses, is refused silently for Config abort, and with F_TRANSL_FORBIDDEN (7.3.8)
 *     when EATS = 0. A passing transaction has res->out = req->iova.
 *   UNSUPPORTED: always refused with F_UUT (7.3.2: StreamID, SubstreamID, PnU/InD/RnW from
 *     req->access, InputAddr), e.g. an atomic or a cache maintenance operation the VMM does not
 *     pass to the SMMU.
 * res->fault.reason is the event number (0 for a refusal without one).
 */
VIOMMU_API int viommu_smmuv3_transaction(struct viommu *v, enum viommu_smmuv3_txn txn,
					 const struct viommu_xlate_req *req,
					 struct viommu_xlate_result *res);

/* What the SMMU did, for the simulator's cost model. Counters only grow. */
struct viommu_smmuv3_stats {
	uint64_t mmio_reads;
	uint64_t mmio_writes; /* register writes: each is a trap (exit) for the VMM */
	uint64_t mmio_ignored; /* writes dropped: read-only, guarded or unknown register, bad width */
	uint64_t translations;
	uint64_t iotlb_hits; /* from the core IOTLB */
	uint64_t iotlb_misses;
	uint64_t cfg_hits; /* decoded STE/CD cache */
	uint64_t cfg_misses;
	uint64_t page_walks;	    /* table walks (misses and notification walks) */
	uint64_t faults;	    /* blocked translations */
	uint64_t events_logged;	    /* records written to the event queue */
	uint64_t events_suppressed; /* translation faults CD.R / STE.S2R suppressed */
	uint64_t events_lost;	    /* event queue disabled, full (overflow) or outside memory */
	uint64_t cmd_doorbells;	    /* CMDQ_PROD writes that found work */
	uint64_t cmds;		    /* commands consumed */
	uint64_t cmd_sync;	    /* by type */
	uint64_t cmd_cfgi;
	uint64_t cmd_tlbi;
	uint64_t cmd_tlbi_range; /* TLBIs with TG != 0 (RIL) */
	uint64_t cmd_atc_inv;
	uint64_t cmd_pri_resp;
	uint64_t cmd_errors; /* CERROR_ILL/ABT: the queue stopped */
	uint64_t pri_logged; /* page requests written to the PRI queue */
	uint64_t pri_lost;
	uint64_t notify_map; /* events delivered */
	uint64_t notify_unmap;
	uint64_t notify_dev_iotlb;
	uint64_t msis;	     /* MSI writes (interrupts and CMD_SYNC completions) */
	uint64_t wired_irqs; /* wired pulses */
};

/* Fill @st; VIOMMU_EINVAL if @v is not an SMMUv3. */
VIOMMU_API int viommu_smmuv3_get_stats(const struct viommu *v, struct viommu_smmuv3_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_SMMUV3_H */
