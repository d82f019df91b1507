// SPDX-License-Identifier: MIT
/*
 * VT-d translation of untranslated requests in legacy mode (§3.4, §9.1, §9.3): root entry ->
 * context entry -> second-level table, with a context cache and the core IOTLB in front, and
 * primary fault logging (§7.3) for requests that are blocked.
 */
#include <viommu/pt.h>

#include "core/iotlb_fast.h"
#include "pt/pt_walker.h"
#include "vtd_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Faults (§7.3 primary fault logging and fault events)                                       */
/* ------------------------------------------------------------------------------------------ */

static bool qualified(uint32_t reason)
{
	switch (reason) {
	case VIOMMU_VTD_FR_ROOT_ENTRY_P:
	case VIOMMU_VTD_FR_ROOT_TABLE_INV:
	case VIOMMU_VTD_FR_CONTEXT_TABLE_INV:
	case VIOMMU_VTD_FR_ROOT_ENTRY_RSVD:
	case VIOMMU_VTD_FR_CONTEXT_ENTRY_RSVD:
		return false;
	default:
		return true;
	}
}

void vi_vtd_deliver_fault_irq(struct vtd *s)
{
	uint64_t addr = (uint64_t)s->feuaddr << 32 | s->feaddr;

	s->fectl &= ~VIOMMU_VTD_FECTL_IP;
	s->st.interrupts++;
	vi_msi(&s->v.host, addr, s->fedata);
}

void vi_vtd_deliver_inv_irq(struct vtd *s)
{
	uint64_t addr = (uint64_t)s->ieuaddr << 32 | s->ieaddr;

	s->iectl &= ~VIOMMU_VTD_IECTL_IP;
	s->st.interrupts++;
	vi_msi(&s->v.host, addr, s->iedata);
}

/*
 * §7.3: a fault event is signalled when a condition appears while none was pending before
 * (@pre_fsts holds FSTS as it was); IP holds it while IM masks it.
 */
void vi_vtd_fault_event(struct vtd *s, uint32_t pre_fsts)
{
	if (pre_fsts & (VIOMMU_VTD_FSTS_PPF | VIOMMU_VTD_FSTS_PFO | VIOMMU_VTD_FSTS_IQE |
			VIOMMU_VTD_FSTS_ICE | VIOMMU_VTD_FSTS_ITE))
		return;
	s->fectl |= VIOMMU_VTD_FECTL_IP;
	if (!(s->fectl & VIOMMU_VTD_FECTL_IM))
		vi_vtd_deliver_fault_irq(s);
}

static uint32_t fsts_now(const struct vtd *s)
{
	uint32_t v = s->fsts;

	for (uint32_t i = 0; i < s->cfg.nfr; i++) {
		if (s->frcd[i][1] & VIOMMU_VTD_FRCD_HI_F)
			return v | VIOMMU_VTD_FSTS_PPF;
	}
	return v;
}

uint32_t vi_vtd_record_fault(struct vtd *s, uint32_t sid, uint32_t reason, uint64_t addr,
			     bool write, bool pasid, uint32_t pasid_val, uint32_t access)
{
	uint32_t pre = fsts_now(s);
	uint64_t *r = s->frcd[s->fri];

	/* §7.3: while PFO is set, or when the next record is still in use, the fault is lost. */
	if (pre & VIOMMU_VTD_FSTS_PFO) {
		s->st.faults_overflowed++;
		return VIOMMU_FAULT_F_LOST;
	}
	if (r[1] & VIOMMU_VTD_FRCD_HI_F) {
		s->st.faults_overflowed++;
		s->fsts |= VIOMMU_VTD_FSTS_PFO;
		vi_vtd_fault_event(s, pre);
		return VIOMMU_FAULT_F_LOST;
	}
	r[0] = addr & VIOMMU_VTD_FRCD_LO_FI_MASK;
	r[1] = VIOMMU_VTD_FRCD_HI_F | VIOMMU_VTD_FRCD_HI_SID_SET(sid) |
	       VIOMMU_VTD_FRCD_HI_FR_SET(reason) | (write ? 0 : VIOMMU_VTD_FRCD_HI_T1);
	if (pasid)
		r[1] |= VIOMMU_VTD_FRCD_HI_PP | VIOMMU_VTD_FRCD_HI_PV_SET(pasid_val & 0xfffff);
	if (access & VIOMMU_ACC_PRIV)
		r[1] |= VIOMMU_VTD_FRCD_HI_PRIV;
	if (access & VIOMMU_ACC_EXEC)
		r[1] |= VIOMMU_VTD_FRCD_HI_EXE;
	if (!(pre & VIOMMU_VTD_FSTS_PPF))
		s->fsts = (s->fsts & ~VIOMMU_VTD_FSTS_FRI_MASK) |
			  s->fri << VIOMMU_VTD_FSTS_FRI_SHIFT;
	s->fri = (s->fri + 1) % s->cfg.nfr;
	s->st.faults_recorded++;
	vi_vtd_fault_event(s, pre);
	return VIOMMU_FAULT_F_RECORDED;
}

/* ------------------------------------------------------------------------------------------ */
/* Root and context entries (§9.1, §9.3), context cache                                        */
/* ------------------------------------------------------------------------------------------ */

static uint32_t agaw_levels(uint32_t aw)
{
	/* §9.3 AW: 001b 39-bit (3-level), 010b 48-bit (4-level), 011b 57-bit (5-level). */
	return aw >= 1 && aw <= 3 ? aw + 2 : 0;
}

static uint64_t haw_rsvd(const struct vtd *s)
{
	return s->mgaw_bits >= 64 ? 0 : ~0ull << s->mgaw_bits;
}

/* The walker's configuration of @c's second-level table (root and levels set). */
static void sl_cfg(const struct vtd *s, struct viommu_pt_cfg *pc)
{
	pc->format = VIOMMU_PT_VTD_SL;
	/* Output addresses above the host address width are reserved bits of the entries. */
	pc->oas = (uint8_t)(s->mgaw_bits < 52 ? s->mgaw_bits : 52);
	if (s->cap & VIOMMU_VTD_CAP_SLLPS_SET(VIOMMU_VTD_CAP_SLLPS_2M))
		pc->flags |= VIOMMU_PT_F_SP_2M;
	if (s->cap & VIOMMU_VTD_CAP_SLLPS_SET(VIOMMU_VTD_CAP_SLLPS_1G))
		pc->flags |= VIOMMU_PT_F_SP_1G;
}

/* Read and check @sid's context from guest memory; 0 or a fault reason. */
static uint32_t ctx_fetch(struct vtd *s, uint32_t sid, struct vtd_ctx *c, bool *fpd)
{
	const struct viommu_host *h = &s->v.host;
	uint64_t rta = s->rta_active & VIOMMU_VTD_RTADDR_RTA_MASK;
	uint64_t re[2], ce[2];
	uint32_t levels, tt;

	*fpd = false;
	if (vi_read(h, rta + ((sid >> 8) & 0xff) * 16, re, sizeof(re)))
		return VIOMMU_VTD_FR_ROOT_TABLE_INV;
	re[0] = vi_le64(re[0]);
	re[1] = vi_le64(re[1]);
	if (!(re[0] & VIOMMU_VTD_ROOT_LO_P))
		return VIOMMU_VTD_FR_ROOT_ENTRY_P;
	/* Address bits above the host address width (here MGAW + 1) are reserved too. */
	if ((re[0] & (VIOMMU_VTD_ROOT_LO_RSVD_MASK | haw_rsvd(s))) || re[1])
		return VIOMMU_VTD_FR_ROOT_ENTRY_RSVD;
	if (vi_read(h, (re[0] & VIOMMU_VTD_ROOT_LO_CTP_MASK) + (sid & 0xff) * 16, ce, sizeof(ce)))
		return VIOMMU_VTD_FR_CONTEXT_TABLE_INV;
	ce[0] = vi_le64(ce[0]);
	ce[1] = vi_le64(ce[1]);
	/* FPD is honoured even in an entry that is not present (§7.1, qualified faults). */
	*fpd = (ce[0] & VIOMMU_VTD_CTX_LO_FPD) != 0;
	if (!(ce[0] & VIOMMU_VTD_CTX_LO_P))
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_P;
	if ((ce[0] & (VIOMMU_VTD_CTX_LO_RSVD_MASK | haw_rsvd(s))) ||
	    (ce[1] & VIOMMU_VTD_CTX_HI_RSVD_MASK))
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_RSVD;
	tt = (uint32_t)VIOMMU_VTD_CTX_LO_TT_GET(ce[0]);
	levels = agaw_levels((uint32_t)VIOMMU_VTD_CTX_HI_AW_GET(ce[1]));
	if (tt == VIOMMU_VTD_CTX_TT_DEV_IOTLB && !(s->ecap & VIOMMU_VTD_ECAP_DT))
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_INV;
	if (tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH && !(s->ecap & VIOMMU_VTD_ECAP_PT))
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_INV;
	if (tt == 3)
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_INV;
	/*
	 * AW must name a width SAGAW offers (§9.3), pass-through included: there it must name the
	 * largest, which this model checks no further than "offered".
	 */
	if (!levels || !(VI_FIELD_GET(s->cap, 12, 8) & (1u << (levels - 2))))
		return VIOMMU_VTD_FR_CONTEXT_ENTRY_INV;
	/* Whole, padding included: the walker compares it byte for byte. */
	memset(&c->sl, 0, sizeof(c->sl));
	sl_cfg(s, &c->sl);
	c->sl.root = ce[0] & VIOMMU_VTD_CTX_LO_SLPTPTR_MASK;
	c->did = (uint32_t)VIOMMU_VTD_CTX_HI_DID_GET(ce[1]);
	c->tt = (uint8_t)tt;
	c->fpd = *fpd;
	if (tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH) {
		c->sl.levels = 0;
		c->aw_bits = (uint8_t)s->mgaw_bits;
	} else {
		uint32_t agaw = 30 + 9 * (levels - 2);

		c->sl.levels = (uint8_t)levels;
		c->aw_bits = (uint8_t)(agaw < s->mgaw_bits ? agaw : s->mgaw_bits);
	}
	return 0;
}

uint32_t vi_vtd_ctx_get(struct vtd *s, uint32_t sid, struct vtd_ctx *c)
{
	struct vtd_ctx_slot *slot = &s->ctx_cache[sid % VTD_CTX_CACHE_SIZE];
	uint32_t reason;
	bool fpd;

	if (slot->gen == s->ctx_gen && slot->sid == sid) {
		s->st.ctx_hits++;
		*c = slot->ctx;
		return 0;
	}
	s->st.ctx_misses++;
	reason = ctx_fetch(s, sid, c, &fpd);
	if (reason) {
		c->fpd = fpd;
		return reason;
	}
	c->iotlb_ref = 0;
	/* Only present, well-formed entries are cached. */
	s->seen[sid / 64] |= 1ull << (sid % 64);
	slot->gen = s->ctx_gen;
	slot->sid = sid;
	slot->ctx = *c;
	return 0;
}

void vi_vtd_ctx_set_iotlb_ref(struct vtd *s, uint32_t sid, uint32_t did, uint64_t ref)
{
	struct vtd_ctx_slot *slot = &s->ctx_cache[sid % VTD_CTX_CACHE_SIZE];

	if (slot->gen == s->ctx_gen && slot->sid == sid && slot->ctx.did == did)
		slot->ctx.iotlb_ref = ref;
}

void vi_vtd_ctx_inval_all(struct vtd *s)
{
	if (++s->ctx_gen == 0) {
		/* After 2^32 generations, forget every slot once rather than alias an old one. */
		memset(s->ctx_cache, 0, VTD_CTX_CACHE_SIZE * sizeof(*s->ctx_cache));
		s->ctx_gen = 1;
	}
}

void vi_vtd_ctx_inval_domain(struct vtd *s, uint32_t did)
{
	for (uint32_t i = 0; i < VTD_CTX_CACHE_SIZE; i++) {
		if (s->ctx_cache[i].gen == s->ctx_gen && s->ctx_cache[i].ctx.did == did)
			s->ctx_cache[i].gen = 0;
	}
}

/* §6.5.2.1 FM: 0 no bits, 1 devfn bit 2, 2 bits 2:1, 3 bits 2:0 of the function are ignored. */
static uint32_t fm_mask(uint32_t fm)
{
	static const uint32_t m[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };

	return m[fm & 3];
}

void vi_vtd_ctx_inval_device(struct vtd *s, uint32_t sid, uint32_t fm)
{
	uint32_t m = fm_mask(fm);

	for (uint32_t i = 0; i < VTD_CTX_CACHE_SIZE; i++) {
		if (s->ctx_cache[i].gen == s->ctx_gen && (s->ctx_cache[i].sid & m) == (sid & m))
			s->ctx_cache[i].gen = 0;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Second-level walk (through the pt formats)                                                  */
/* ------------------------------------------------------------------------------------------ */

/* The outcome of a walk @r that did not translate (see ctx_walk()). */
static __attribute__((noinline)) uint32_t ctx_walk_fault(const struct vtd_ctx *c, uint64_t iova,
							 const struct viommu_pt_walk_result *r,
							 struct vtd_leaf *leaf)
{
	switch (r->detail) {
	case VIOMMU_PT_D_NOT_PRESENT:
		/* Not present is "no rights" in VT-d: the access type picks the reason. */
		leaf->perm = 0;
		leaf->shift = 12;
		leaf->iova = iova & ~0xfffull;
		leaf->out = 0;
		return 0;
	case VIOMMU_PT_D_INPUT_RANGE:
		return VIOMMU_VTD_FR_ADDR_BEYOND_MGAW;
	case VIOMMU_PT_D_READ_FAILED:
		/*
		 * §7.1.3: the table SLPTPTR names being unreadable is invalid context programming
		 * (3h); 7h is for tables reached through a preceding paging entry.
		 */
		return r->level == c->sl.levels ? VIOMMU_VTD_FR_CONTEXT_ENTRY_INV :
						  VIOMMU_VTD_FR_PAGING_ENTRY_INV;
	case VIOMMU_PT_D_WRITE_FAILED:
		return VIOMMU_VTD_FR_PAGING_ENTRY_INV;
	default:
		/* Reserved bits, a superpage SLLPS does not offer, an address beyond the width. */
		return VIOMMU_VTD_FR_PAGING_ENTRY_RSVD;
	}
}

/* vi_vtd_ctx_walk(), inline for the translation's miss path. */
static inline uint32_t ctx_walk(struct vtd *s, const struct vtd_ctx *c, uint64_t iova,
				struct vtd_leaf *leaf, uint32_t *level)
{
	struct viommu_pt_walk_result r;

	s->st.page_walks++;
	*level = 0;
	if (vi_pt_walker_walk(s->walker, &c->sl, iova, 0, &r))
		return VIOMMU_VTD_FR_PAGING_ENTRY_INV;
	*level = r.level;
	if (__builtin_expect(r.fault == VIOMMU_FAULT_NONE, 1)) {
		leaf->shift = r.page_shift;
		leaf->iova = iova & ~((1ull << r.page_shift) - 1);
		leaf->out = r.out & ~((1ull << r.page_shift) - 1);
		leaf->perm = r.perm & VIOMMU_ACC_RW;
		return 0;
	}
	return ctx_walk_fault(c, iova, &r, leaf);
}

uint32_t vi_vtd_ctx_walk(struct vtd *s, const struct vtd_ctx *c, uint64_t iova,
			 struct vtd_leaf *leaf, uint32_t *level)
{
	return ctx_walk(s, c, iova, leaf, level);
}

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int blocked(struct vtd *s, const struct viommu_xlate_req *req,
		   struct viommu_xlate_result *res, uint32_t reason, uint32_t level, bool fpd)
{
	enum viommu_fault_type type;

	switch (reason) {
	case VIOMMU_VTD_FR_ROOT_ENTRY_P:
	case VIOMMU_VTD_FR_CONTEXT_ENTRY_P:
		type = VIOMMU_FAULT_BLOCKED;
		break;
	case VIOMMU_VTD_FR_CONTEXT_ENTRY_INV:
	case VIOMMU_VTD_FR_CONTEXT_ENTRY_TT:
		type = VIOMMU_FAULT_CONFIG;
		break;
	case VIOMMU_VTD_FR_ADDR_BEYOND_MGAW:
	case VIOMMU_VTD_FR_INTERRUPT_ADDR:
		type = VIOMMU_FAULT_ADDR_SIZE;
		break;
	case VIOMMU_VTD_FR_WRITE:
	case VIOMMU_VTD_FR_READ:
		type = level ? VIOMMU_FAULT_PERMISSION : VIOMMU_FAULT_NOT_PRESENT;
		break;
	case VIOMMU_VTD_FR_PAGING_ENTRY_INV:
	case VIOMMU_VTD_FR_ROOT_TABLE_INV:
	case VIOMMU_VTD_FR_CONTEXT_TABLE_INV:
		type = VIOMMU_FAULT_WALK_ABORT;
		break;
	default:
		type = VIOMMU_FAULT_RESERVED;
		break;
	}
	vi_result_fault(res, req, type, reason, level);
	s->st.faults++;
	if (fpd && qualified(reason)) {
		s->st.faults_suppressed++;
		res->fault.flags = VIOMMU_FAULT_F_SUPPRESSED;
		return 0;
	}
	res->fault.record = s->fri;
	res->fault.flags = vi_vtd_record_fault(s, req->sid & 0xffff, reason, req->iova,
					       (req->access & VIOMMU_ACC_WRITE) != 0,
					       req->has_pasid, req->pasid, req->access);
	if (!(res->fault.flags & VIOMMU_FAULT_F_RECORDED))
		res->fault.record = 0;
	return 0;
}

static bool overlaps_intr(uint64_t out, uint64_t len)
{
	return vi_range_overlaps(out, len, VIOMMU_VTD_INTR_ADDR_FIRST, VIOMMU_VTD_INTR_ADDR_LAST);
}

/* The result for an identity translation of @req within an address space of @aw_bits. */
static int identity(const struct viommu_xlate_req *req, struct viommu_xlate_result *res,
		    uint64_t len)
{
	memset(res, 0, sizeof(*res));
	res->out = req->iova;
	res->len = len;
	res->perm = VIOMMU_ACC_RW;
	res->page_shift = 12;
	return 0;
}

/*
 * The rest of a translation through @cp's second-level table after its IOTLB probe, whose
 * outcome is @ret (vi_iotlb_probe_ref(), with 0 for a hit without the rights): the lookup
 * finished (a stale ref taken anew), then on a miss the walk, its faults and the insert. Out of
 * line: the hit path saves no registers for it.
 */
static __attribute__((noinline)) int translate_sl(struct vtd *s, const struct viommu_xlate_req *req,
						  struct viommu_xlate_result *res,
						  const struct vtd_ctx *cp, uint64_t len, int ret)
{
	uint32_t sid = req->sid & 0xffff, reason, level = 0;
	struct viommu_iotlb_hit hit;
	uint64_t ref = cp->iotlb_ref;
	struct vtd_leaf leaf;

	if (ret == VI_IOTLB_UNDECIDED) {
		ret = vi_iotlb_lookup_ref_rest(s->iotlb, ref, req->iova, &hit);
	} else if (ret == VIOMMU_ESTALE) {
		/* None taken under this entry yet, or the tag lost its place in the IOTLB. */
		struct viommu_iotlb_tag tag = { .dom = cp->did, .sid = sid };

		ret = viommu_iotlb_tag_ref(s->iotlb, &tag, &ref);
		if (ret == 0) {
			vi_vtd_ctx_set_iotlb_ref(s, sid, cp->did, ref);
			ret = vi_iotlb_lookup_ref(s->iotlb, ref, req->iova, &hit);
		}
	} else {
		ret = VIOMMU_ENOENT; /* a miss, or a hit without the rights: walk */
	}
	if (ret == 0 && vi_x86_perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, req->iova, len, hit.addr, hit.perm, hit.shift);
	/* A miss, or a hit without the rights: walk the tables as they are now. */
	reason = ctx_walk(s, cp, req->iova, &leaf, &level);
	if (reason)
		return blocked(s, req, res, reason, level, cp->fpd);
	if (!vi_x86_perm_ok(leaf.perm, req->access)) {
		reason = (req->access & VIOMMU_ACC_WRITE) && !(leaf.perm & VIOMMU_ACC_WRITE) ?
				 VIOMMU_VTD_FR_WRITE :
				 VIOMMU_VTD_FR_READ;
		return blocked(s, req, res, reason, leaf.perm ? level : 0, cp->fpd);
	}
	hit.addr = leaf.out + (req->iova - leaf.iova);
	if (overlaps_intr(leaf.out, 1ull << leaf.shift)) {
		/*
		 * §3.14: a result in the interrupt range is blocked (Eh). A leaf that only overlaps
		 * it translates the rest, uncached so IOTLB hits need no check.
		 */
		if (overlaps_intr(hit.addr, 1))
			return blocked(s, req, res, VIOMMU_VTD_FR_INTERRUPT_ADDR, level, cp->fpd);
		if (hit.addr < VIOMMU_VTD_INTR_ADDR_FIRST &&
		    VIOMMU_VTD_INTR_ADDR_FIRST - hit.addr < len)
			len = VIOMMU_VTD_INTR_ADDR_FIRST - hit.addr;
	} else if (vi_iotlb_insert_leaf_ref(s->iotlb, ref, leaf.iova, leaf.out, leaf.shift,
					    leaf.perm, level) == VIOMMU_ESTALE) {
		/* The ref went stale (ids ran out): by tag. */
		vi_iotlb_insert_leaf(s->iotlb,
				     &(struct viommu_iotlb_tag){ .dom = cp->did, .sid = sid },
				     leaf.iova, leaf.out, leaf.shift, leaf.perm, level);
	}
	return vi_xlate_ok(res, req->iova, len, hit.addr, leaf.perm, leaf.shift);
}

/* Every translation vi_vtd_translate() does not answer inline. */
static __attribute__((noinline)) int
translate_full(struct vtd *s, const struct viommu_xlate_req *req, struct viommu_xlate_result *res)
{
	uint64_t len = req->len ? req->len : 1;
	uint32_t sid = req->sid & 0xffff;
	struct viommu_iotlb_hit hit;
	struct vtd_ctx_slot *slot = &s->ctx_cache[sid % VTD_CTX_CACHE_SIZE];
	const struct vtd_ctx *cp;
	struct vtd_ctx c;
	uint32_t reason;
	int ret;

	s->st.translations++;
	if (!vi_range_ok(req->iova, len))
		len = 0 - req->iova; /* never past 2^64 */
	/* §3.14: an interrupt request is decoded before any remapping, pass-through included. */
	if (vi_xlate_interrupt_window(req, res, &len, VIOMMU_VTD_INTR_ADDR_FIRST,
				      VIOMMU_VTD_INTR_ADDR_LAST))
		return 0;
	if (!(s->gsts & VIOMMU_VTD_GSTS_TES))
		return identity(req, res, len);
	/*
	 * A cached context entry is used where it lies (no copy, no call); nothing here changes the
	 * context cache while the translation runs.
	 */
	if (__builtin_expect(slot->gen == s->ctx_gen && slot->sid == sid, 1)) {
		s->st.ctx_hits++;
		cp = &slot->ctx;
	} else {
		reason = vi_vtd_ctx_get(s, sid, &c);
		if (reason)
			return blocked(s, req, res, reason, 0, c.fpd);
		cp = &c;
	}
	/* Requests-with-PASID have no legacy context type that admits them. */
	if (req->has_pasid)
		return blocked(s, req, res, VIOMMU_VTD_FR_CONTEXT_ENTRY_TT, 0, cp->fpd);
	if (cp->aw_bits < 64 && req->iova >> cp->aw_bits)
		return blocked(s, req, res, VIOMMU_VTD_FR_ADDR_BEYOND_MGAW, 0, cp->fpd);
	if (cp->aw_bits < 64 && (req->iova + (len - 1)) >> cp->aw_bits)
		len = (1ull << cp->aw_bits) - req->iova;
	if (cp->tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH)
		return identity(req, res, len); /* the window was taken out above */
	/* By the ref the context-cache entry keeps: the IOTLB need not find the tag. */
	ret = vi_iotlb_probe_ref(s->iotlb, cp->iotlb_ref, req->iova, &hit);
	if (ret == 0 && vi_x86_perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, req->iova, len, hit.addr, hit.perm, hit.shift);
	return translate_sl(s, req, res, cp, len, ret);
}

/*
 * The common case inline, the IOTLB hit in a few instructions and no saved register: a request
 * without PASID that is all below or above the interrupt window and within the context's
 * address width, from a device whose context entry is cached and translates (not pass-through).
 * Everything else is translate_full(), which checks it all in the specification's order; it
 * would answer these alike.
 */
int vi_vtd_translate(struct viommu *v, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res)
{
	struct vtd *s = to_vtd(v);
	uint32_t sid = req->sid & 0xffff;
	const struct vtd_ctx_slot *slot = &s->ctx_cache[sid % VTD_CTX_CACHE_SIZE];
	uint64_t len = req->len ? req->len : 1, iova = req->iova;
	struct viommu_iotlb_hit hit;
	int ret;

	/* The last byte within the address width implies the first (range_ok: no wrap). */
	if (__builtin_expect(
		    req->has_pasid || !vi_range_ok(iova, len) ||
			    vi_range_overlaps(iova, len, VIOMMU_VTD_INTR_ADDR_FIRST,
					      VIOMMU_VTD_INTR_ADDR_LAST) ||
			    !(s->gsts & VIOMMU_VTD_GSTS_TES) || slot->gen != s->ctx_gen ||
			    slot->sid != sid || slot->ctx.tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH ||
			    (slot->ctx.aw_bits < 64 && (iova + (len - 1)) >> slot->ctx.aw_bits),
		    0))
		return translate_full(s, req, res);
	s->st.translations++;
	s->st.ctx_hits++;
	ret = vi_iotlb_probe_ref(s->iotlb, slot->ctx.iotlb_ref, iova, &hit);
	if (__builtin_expect(ret == 0 && vi_x86_perm_ok(hit.perm, req->access), 1))
		return vi_xlate_ok(res, iova, len, hit.addr, hit.perm, hit.shift);
	return translate_sl(s, req, res, &slot->ctx, len, ret);
}
