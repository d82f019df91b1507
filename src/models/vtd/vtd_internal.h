/* SPDX-License-Identifier: MIT */
/*
 * The VT-d unit's state, shared by its files: vtd.c (instance, register file), vtd_xlate.c
 * (root/context, context cache, IOTLB, translation, faults), vtd_inv.c (register and queued
 * invalidation), vtd_notify.c (caching-mode MAP/UNMAP sync).
 */
#ifndef VIOMMU_VTD_INTERNAL_H
#define VIOMMU_VTD_INTERNAL_H

#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/vtd.h>

#include "core/core.h"
#include "core/sync.h"
#include "vtd_regs.h"

#define VTD_CTX_CACHE_SIZE 4096 /* direct-mapped by source id */
#define VTD_NSID 65536
/*
 * Second-level walks one guest action (a register write, with every descriptor a doorbell runs) or
 * one replay may spend bringing consumers up to date.
 */
#define VTD_SYNC_BUDGET (1ull << 22)

/* A decoded, validated legacy context entry. */
struct vtd_ctx {
	/* The second-level table as the walker takes it: root SLPTPTR, levels 3-5 (0: none). */
	struct viommu_pt_cfg sl;
	uint32_t did;
	uint8_t tt;
	uint8_t aw_bits; /* min(MGAW + 1, AGAW of the AW field) */
	bool fpd;
	uint64_t iotlb_ref; /* IOTLB ref of (did, sid) once a translation took it; 0: none yet */
};

struct vtd_ctx_slot {
	uint32_t gen; /* live while equal to vtd.ctx_gen; 0 never is */
	uint32_t sid;
	struct vtd_ctx ctx;
};

/* One second-level leaf, or a hole (perm == 0) of 1 << shift bytes. */
struct vtd_leaf {
	uint64_t iova; /* aligned to 1 << shift */
	uint64_t out;
	uint32_t shift;
	uint32_t perm;
};

struct vtd {
	struct viommu v;
	struct viommu_vtd_config cfg;
	struct viommu_pt_walker *walker; /* second-level walks; keeps the host's stable spans */
	uint64_t cap;
	uint64_t ecap;
	uint32_t mgaw_bits; /* MGAW + 1 */

	/* Register state (§11.4). */
	uint32_t gsts;
	uint64_t rtaddr;     /* as written */
	uint64_t rta_active; /* latched by SRTP */
	uint64_t ccmd;
	uint64_t iva;
	uint64_t iotlb_reg;
	uint32_t fsts; /* PFO, IQE, ICE, ITE, FRI; PPF is computed */
	uint32_t fectl;
	uint32_t fedata, feaddr, feuaddr;
	uint32_t pmen;
	uint64_t iqh, iqt, iqa, iqer, irta;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t frcd[VTD_NFR_MAX][2];
	uint32_t fri; /* next fault record to fill */

	struct viommu_iotlb *iotlb;
	struct vtd_ctx_slot *ctx_cache;
	uint32_t ctx_gen;

	struct vi_sync sync; /* records of what MAP consumers hold (core/sync.c) */
	uint64_t *seen;	     /* bitmap of source ids that may have consumers' state */
	uint64_t budget;     /* walks the running guest action may still spend on syncs */
	bool scanned;	     /* the root/context tables were scanned in this action */

	struct viommu_vtd_stats st;
};

static inline struct vtd *to_vtd(struct viommu *v)
{
	return vi_container_of(v, struct vtd, v);
}

/* vtd_xlate.c */
int vi_vtd_translate(struct viommu *v, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res);
/* Resolve @sid's context through the context cache; 0 or a fault reason. */
uint32_t vi_vtd_ctx_get(struct vtd *s, uint32_t sid, struct vtd_ctx *c);
/* Keep @ref in @sid's context-cache entry, if it still holds the context of domain @did. */
void vi_vtd_ctx_set_iotlb_ref(struct vtd *s, uint32_t sid, uint32_t did, uint64_t ref);
/* Walk @c's second-level table at @iova; 0 or a fault reason (with *level). */
uint32_t vi_vtd_ctx_walk(struct vtd *s, const struct vtd_ctx *c, uint64_t iova,
			 struct vtd_leaf *leaf, uint32_t *level);
void vi_vtd_ctx_inval_all(struct vtd *s);
void vi_vtd_ctx_inval_domain(struct vtd *s, uint32_t did);
void vi_vtd_ctx_inval_device(struct vtd *s, uint32_t sid, uint32_t fm);
uint32_t vi_vtd_record_fault(struct vtd *s, uint32_t sid, uint32_t reason, uint64_t addr,
			     bool write, bool pasid, uint32_t pasid_val, uint32_t access);
void vi_vtd_fault_event(struct vtd *s, uint32_t pre_fsts);
void vi_vtd_deliver_fault_irq(struct vtd *s);
void vi_vtd_deliver_inv_irq(struct vtd *s);

/* vtd_inv.c */
void vi_vtd_ccmd_write(struct vtd *s);
void vi_vtd_iotlb_reg_write(struct vtd *s);
void vi_vtd_qi_process(struct vtd *s);
void vi_vtd_inv_iotlb(struct vtd *s, uint32_t g, uint32_t did, uint64_t addr, uint32_t am);
void vi_vtd_inv_context(struct vtd *s, uint32_t g, uint32_t did, uint32_t sid, uint32_t fm);

/* vtd_notify.c */
enum vtd_sync_scope { VTD_SYNC_ALL, VTD_SYNC_DOMAIN, VTD_SYNC_DEVICE };
/*
 * Bring the consumers of every requester in scope up to date over [first, last]: for @scope
 * DOMAIN only requesters whose context carries @did, for DEVICE only those matching @sid under
 * function mask @fm.
 */
void vi_vtd_sync(struct vtd *s, enum vtd_sync_scope scope, uint32_t did, uint32_t sid, uint32_t fm,
		 uint64_t first, uint64_t last);
int vi_vtd_replay(struct viommu *v, struct viommu_notifier *n);
void vi_vtd_notify_fini(struct vtd *s);

#endif /* VIOMMU_VTD_INTERNAL_H */
