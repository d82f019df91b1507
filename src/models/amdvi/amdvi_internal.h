/* SPDX-License-Identifier: MIT */
/*
 * The AMD-Vi IOMMU's state, shared by its files: amdvi.c (instance, registers, interrupts),
 * amdvi_xlate.c (device table, DTE cache, translation, event log), amdvi_cmd.c (command
 * buffer), amdvi_notify.c (MAP/UNMAP sync of consumers). Field names are those of
 * <viommu/spec/amdvi.h>.
 */
#ifndef VIOMMU_AMDVI_INTERNAL_H
#define VIOMMU_AMDVI_INTERNAL_H

#include <viommu/amdvi.h>
#include <viommu/amdvi_hwv.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/spec/amdvi.h>

#include "core/core.h"
#include "core/sync.h"

#define AMDVI_DTE_CACHE_SIZE 4096 /* direct-mapped by DeviceID */
#define AMDVI_NDEV 65536
/* Walks one guest action (a register write with the commands it runs) may spend on syncs. */
#define AMDVI_SYNC_BUDGET (1ull << 22)
#define AMDVI_INTR_FIRST VIOMMU_AMDVI_INTR_ADDR_FIRST
#define AMDVI_INTR_LAST VIOMMU_AMDVI_INTR_ADDR_LAST
/*
 * EFR PASmax with GT: 16-bit PASIDs. Not 19 (PCIe's 20 bits): Linux (6.12 iommu_init_pci())
 * stops with BUG_ON when the EFR offers PASIDs beyond 16 bits.
 */
#define AMDVI_PASMAX 15
#define AMDVI_GLX_SUP 2	       /* EFR GLXSup with GT: GCR3 tables of one to three levels */
#define AMDVI_V2_TAG 0x100000u /* IOTLB tag.pasid of guest (v2) entries: 1 << 20 | PASID */
#define AMDVI_DEVTLB_SLOTS 256 /* last INVALIDATE_IOTLB_PAGES per device, direct-mapped */
#define AMDVI_PREFETCH_MAX 256 /* PFCount is 8 bits: at most 255 translations per command */
#define AMDVI_GCR3_SLOTS 256   /* the GCR3 cache: direct-mapped by (DeviceID, PASID) */
#define AMDVI_GCR3_DOMS 256    /* its domain generations, by DomainID % AMDVI_GCR3_DOMS */

/* Reasons a translation is blocked (struct viommu_fault.reason): the event code logged. */
enum amdvi_kind {
	AMDVI_DTE_PASS,	 /* V = 0 or TV = 0: untranslated */
	AMDVI_DTE_MODE0, /* translation disabled, IR/IW decide */
	AMDVI_DTE_PAGED, /* v1 tables, Mode 1..6 */
};

/* A decoded, validated device table entry. */
struct amdvi_dte {
	/* PAGED: the v1 table (root, levels = Mode), as the walker takes it, decoded once. */
	struct viommu_pt_cfg v1;
	bool valid; /* V: the entry counts at all */
	bool ats;   /* I: the device may use ATS (translation and pretranslated requests) */
	bool ppr;   /* PPR: page requests from the device are logged (with EPHEn) */
	uint32_t domid;
	uint8_t kind;	   /* enum amdvi_kind */
	uint8_t perm;	   /* IR/IW as VIOMMU_ACC_READ/WRITE */
	bool sa;	   /* suppress all IO_PAGE_FAULT events */
	bool se;	   /* suppress IO_PAGE_FAULT events after the first (see amdvi_dte_slot) */
	bool ex;	   /* the exclusion range applies */
	bool gv;	   /* guest translation valid (and GTEn): requests with PASID use GCR3 */
	bool giov;	   /* requests without PASID use GCR3 entry 0 */
	uint8_t glx;	   /* GCR3 table levels - 1 */
	uint8_t glevels;   /* guest (v2) table levels: 4, or 5 (GuestPagingMode 01b) */
	uint64_t gcr3;	   /* GCR3 table root */
	uint64_t gcr3_key; /* gcr3 | GLX << 1 | 1 with a v1 table: what a GCR3 cache entry names */
	/* IOTLB ref of (domid, devid), or with GIoV of its v2 PASID 0 tag, once taken; 0: none */
	uint64_t iotlb_ref;
	/*
	 * GIoV: GCR3 entry 0 for its requests without PASID, as the GCR3 cache keeps entries (the
	 * DTE is the key): used while v2_live and v2_dgen is the domain's generation.
	 */
	uint64_t v2_root;
	uint32_t v2_dgen;
	bool v2_live;
	bool vimu;	 /* vImuEn (with control vIOMMU_EN): guest-stage faults go to the guest */
	uint16_t gid;	 /* GuestID */
	uint16_t gdevid; /* GDeviceID */
};

struct amdvi_dte_slot {
	uint32_t gen; /* live while equal to amdvi.dte_gen; 0 never is */
	uint32_t devid;
	/*
	 * SE: an IO_PAGE_FAULT event was logged for the device while its entry was cached here;
	 * later ones are suppressed until the entry is invalidated (or evicted) and read again.
	 */
	bool faulted;
	struct amdvi_dte dte;
};

/*
 * The guest translation context of one (device, PASID) (GIoV requests without PASID are PASID
 * 0's): the IOTLB ref of its v2 tag, and the GCR3 table entry last read for it (48882 2.2.6.3),
 * which hardware caches as well. The entry is used while @live, @table matches the DTE and @dgen
 * its domain's generation; what drops it is in docs/architecture.md (amdvi_xlate.c).
 */
struct amdvi_gcr3_slot {
	uint64_t id;	    /* amdvi_gcr3_id() of the owner; 0: none */
	uint64_t iotlb_ref; /* ref of (DomainID, AMDVI_V2_TAG | PASID, DeviceID); 0: none */
	uint64_t table;	    /* the DTE's GCR3 table root | GLX | nested, the entry was read under */
	uint64_t root;	    /* the entry's guest table root (GV and reserved bits checked) */
	uint32_t dgen;	    /* amdvi.gcr3_dgen[DomainID % AMDVI_GCR3_DOMS] when it was read */
	bool live;	    /* @root holds an entry */
};

/* One leaf, or a hole (perm == 0) of 1 << shift bytes. */
struct amdvi_leaf {
	uint64_t iova;
	uint64_t out;
	uint32_t shift;
	uint32_t perm;
};

struct amdvi {
	struct viommu v;
	struct viommu_amdvi_config cfg;
	struct viommu_pt_walker *walker;
	/*
	 * Nested walks: a walker whose host ops translate every guest table access through the
	 * v1 table of @nest_dte first (amdvi_xlate.c); @nest_fault records why one failed.
	 */
	struct viommu_pt_walker *nwalker;
	struct viommu_host_ops nest_ops;
	struct amdvi_dte nest_dte;
	uint32_t nest_fault;
	/* Host memory the nested reads load from (its spans end with each v2 walk). */
	struct vi_dmem gm;
	/*
	 * The guest walk's configuration (4-level x86-64), its root set per walk: the walker
	 * compares it with its plan's right after, and fields stored just before a wider load
	 * would not forward.
	 */
	struct viommu_pt_cfg v2_pc[2]; /* [glevels - 4] */
	uint64_t efr;

	/* Registers (3.4). */
	uint64_t devtab, cmd_base, evt_base, control, excl_base, excl_limit;
	uint64_t cmd_head, cmd_tail, evt_head, evt_tail;
	uint64_t ppr_base, ppr_head, ppr_tail;
	viommu_amdvi_ppr_response_fn ppr_fn;
	void *ppr_opaque;
	uint64_t status;
	bool msi_en;
	uint64_t msi_addr;
	uint32_t msi_data;

	/* EV1_TR while an ATS translation request runs: blocked() adds it to what it logs. */
	uint32_t xlate_tr;
	/*
	 * IOTLB_INV_TIMEOUT (viommu_amdvi_iotlb_inv_timeout): the address | 1 of each device's last
	 * INVALIDATE_IOTLB_PAGES, and while its event is being delivered, whether a consumer said
	 * the device did not complete it.
	 */
	struct {
		uint32_t devid;
		uint64_t cmd;
	} devtlb_last[AMDVI_DEVTLB_SLOTS];
	bool devtlb_notifying;
	bool devtlb_timeout;
	uint32_t devtlb_devid;

	struct viommu_iotlb *iotlb;
	struct amdvi_dte_slot *dte_cache;
	uint32_t dte_gen;
	struct amdvi_gcr3_slot *gcr3_cache;
	uint32_t gcr3_dgen[AMDVI_GCR3_DOMS];

	/* MAP/UNMAP sync (amdvi_notify.c). */
	struct vi_sync sync;
	uint64_t *seen;
	uint64_t budget;
	bool scanned;

	struct viommu_amdvi_stats st;

	/* Hardware-assisted vIOMMU (amdvi_hwv.c, amdvi_hwv_host.c); NULL without VIOMMU_AMDVI_HWV. */
	struct amdvi_hwv *hwv;
	uint64_t viommu_status; /* MMIO 0190h */
	bool v2_host_stage;	/* the last v2 walk failed in the v1 table under it (host stage) */
	bool guest_stage;	/* the fault being blocked is the guest's (for vImuEn devices) */
};

static inline struct amdvi *to_amdvi(struct viommu *v)
{
	return vi_container_of(v, struct amdvi, v);
}

static inline bool amdvi_enabled(const struct amdvi *s)
{
	return (s->control & VIOMMU_AMDVI_CTRL_IOMMU_EN) != 0;
}

/* amdvi.c */
/* Set status bit @bit and send the MSI when it was clear and @ctrl_en is set in the control. */
void vi_amdvi_raise(struct amdvi *s, uint64_t bit, uint64_t ctrl_en);

/* amdvi_xlate.c */
extern const struct viommu_host_ops vi_amdvi_nest_ops;
int vi_amdvi_translate(struct viommu *v, const struct viommu_xlate_req *req,
		       struct viommu_xlate_result *res);
/* @devid's DTE through the cache: 0, or the event code that blocks it (logged by the caller). */
uint32_t vi_amdvi_dte_get(struct amdvi *s, uint32_t devid, struct amdvi_dte *d, uint64_t *addr);
/* Both drop the GCR3 cache's entries of the devices too. */
void vi_amdvi_dte_inval_all(struct amdvi *s);
void vi_amdvi_dte_inval(struct amdvi *s, uint32_t devid);
/* INVALIDATE_IOMMU_PAGES of @domid, whatever GN, PASID and range: drop its GCR3 cache entries. */
void vi_amdvi_gcr3_inval_dom(struct amdvi *s, uint32_t domid);
/* Walk @d's tables at @iova: 0 (a leaf, or a hole with perm 0), or an event code. */
uint32_t vi_amdvi_walk(struct amdvi *s, const struct amdvi_dte *d, uint64_t iova,
		       struct amdvi_leaf *leaf, uint32_t *level, uint32_t *flags, uint64_t *addr);
/*
 * Walk @d's guest (v2) tables for @pasid at @iova (nested through v1 when Mode is 1-6): 0 (a
 * leaf), or an event code, with *span the log2 of the aligned block the failure blocks whole.
 */
uint32_t vi_amdvi_v2_walk(struct amdvi *s, const struct amdvi_dte *d, uint32_t pasid, uint64_t iova,
			  uint32_t access, struct amdvi_leaf *leaf, uint32_t *span, uint32_t *flags,
			  uint64_t *addr);
/* A log in guest memory: its registers and status and control bits. */
struct amdvi_log {
	const uint64_t *base;
	const uint64_t *head;
	uint64_t *tail;
	uint64_t run, overflow, intr, int_en;
};
int vi_amdvi_log_append(struct amdvi *s, const struct amdvi_log *l, const uint32_t e[4]);
/* Append one 128-bit entry to the event log; returns enum viommu_fault_flags. */
uint32_t vi_amdvi_log_event(struct amdvi *s, const uint32_t ev[4]);

/* Log IOTLB_INV_TIMEOUT for @devid's command at @cmd; 0 or the log's refusal. */
int vi_amdvi_log_iotlb_timeout(struct amdvi *s, uint32_t devid, uint64_t cmd);

/*
 * Read or write [addr, addr + len) through @d's v1 table (page by page): 0, VIOMMU_ENOENT when
 * the table does not map it with the rights needed, VIOMMU_EFAULT when a table or the memory
 * cannot be reached.
 */
int vi_amdvi_v1_rw(struct amdvi *s, const struct amdvi_dte *d, uint64_t addr, void *buf, size_t len,
		   bool write);

/* amdvi_ppr.c */
/* COMPLETE_PPR_REQUEST (checked by the caller): tell the VMM. */
void vi_amdvi_complete_ppr(struct amdvi *s, const uint32_t c[4]);

/* amdvi_cmd.c */
void vi_amdvi_cmd_process(struct amdvi *s);
enum { AMDVI_CMD_OK, AMDVI_CMD_ILLEGAL, AMDVI_CMD_HW_ERROR };
/* Run one command found at @gpa: AMDVI_CMD_*, with *err the address of a hardware error. */
int vi_amdvi_cmd_run(struct amdvi *s, const uint32_t c[4], uint64_t gpa, uint64_t *err);

/* amdvi_hwv.c: the hardware */
struct amdvi_hwv_guest {
	bool used;
	uint64_t vfctrl[VIOMMU_AMDVI_VFCTRL_SIZE / 8];
	uint16_t *gdom; /* the guest DomainID of each guest DeviceID's nested DTE (for events) */
	bool dirty;	/* what the guest's command-buffer dirty bit was last written as */
	struct viommu_amdvi_hwv_stats st;
	/* Host driver state (amdvi_hwv_host.c). */
	struct viommu_amdvi_hwv_guest_ops ops;
	void *opaque;
	uint32_t trans_devid;
	uint64_t ctrl, devtab, base[3]; /* the trapped registers as the guest wrote them */
	uint32_t ndom, cap_dom;
	struct {
		uint16_t g, h;
	} * doms; /* guest DomainID -> host DomainID, as written into the DomainID map */
};

/*
 * The IOMMU's cache of its own private-space translations (4 KiB pages, direct-mapped). Kept out
 * of the shared IOTLB: there its entries slowed the devices' hits (docs/performance.md). Emptied
 * as the IOTLB would be: the IOMMU's DTE invalidated, its domain's pages or everything flushed.
 */
#define AMDVI_PTLB 32
struct amdvi_ptlb {
	uint64_t page; /* private page number + 1; 0: empty */
	uint64_t spa;
	uint8_t perm;
};

struct amdvi_hwv {
	struct viommu_amdvi_hwv_mem mem;
	struct amdvi_ptlb ptlb[AMDVI_PTLB];
	uint32_t ptlb_dom; /* the DomainID the entries were walked under */
	bool ready;	   /* viommu_amdvi_hwv_init() done */
	uint64_t root;
	uint32_t next_dom; /* host DomainIDs for guests, allocated downwards */
	uint16_t *owner;   /* the Guest ID owning each host DeviceID (0: none) */
	struct amdvi_hwv_guest g[VIOMMU_AMDVI_HWV_GUESTS];
};

int vi_amdvi_hwv_alloc(struct amdvi *s);
/* Domain @domid's translations were invalidated (UINT32_MAX: all of them, or the IOMMU's DTE). */
void vi_amdvi_hwv_flushed(struct amdvi *s, uint32_t domid);
void vi_amdvi_hwv_free(struct amdvi *s);
/* INSERT_GUEST_EVENT, RESET_VMMIO from the host's command buffer: AMDVI_CMD_*. */
int vi_amdvi_hwv_cmd(struct amdvi *s, const uint32_t c[4], uint64_t *err);
/* Log @ev (guest IDs) in the guest's event log: enum viommu_fault_flags. */
uint32_t vi_amdvi_hwv_guest_event(struct amdvi *s, uint32_t gid, const uint32_t ev[4]);
void vi_amdvi_hwv_reset_vmmio(struct amdvi *s, uint32_t gid, bool vcmd);
/* The private address space (through the IOMMU's own DTE): 0, VIOMMU_ENOENT, VIOMMU_EFAULT. */
int vi_amdvi_priv_rw(struct amdvi *s, uint64_t pa, void *buf, size_t len, bool write);
/* Look up a guest's DeviceID or DomainID map: 0 with *host, VIOMMU_ENOENT, VIOMMU_EFAULT. */
int vi_amdvi_hwv_devid(struct amdvi *s, uint32_t gid, uint32_t gdev, uint32_t *host);
int vi_amdvi_hwv_domid(struct amdvi *s, uint32_t gid, uint32_t gdom, uint32_t *host);
static inline bool vi_amdvi_hwv_gid_ok(const struct amdvi *s, uint32_t gid)
{
	return s->hwv && gid > 0 && gid < VIOMMU_AMDVI_HWV_GUESTS && s->hwv->g[gid].used;
}

/* amdvi_notify.c */
enum amdvi_sync_scope { AMDVI_SYNC_ALL, AMDVI_SYNC_DOMAIN, AMDVI_SYNC_DEVICE };
void vi_amdvi_sync(struct amdvi *s, enum amdvi_sync_scope scope, uint32_t domid, uint32_t devid,
		   uint64_t first, uint64_t last);
int vi_amdvi_replay(struct viommu *v, struct viommu_notifier *n);
void vi_amdvi_notify_fini(struct amdvi *s);

#endif /* VIOMMU_AMDVI_INTERNAL_H */
