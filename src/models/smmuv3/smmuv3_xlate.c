// SPDX-License-Identifier: MIT
/*
 * SMMUv3 translation (3.2, 3.4): configuration lookup, then stage 1 (the CD's tables), stage 2
 * (the STE's tables) or both nested, every stage 1 table access being an IPA that stage 2
 * translates (3.4.4). Walks go through the pt formats VIOMMU_PT_ARM_S1/S2; the core IOTLB caches
 * whole translations tagged by VMID and ASID. A blocked request is recorded in the event queue
 * (7.3) as its configuration asks.
 */
#include <viommu/pt.h>

#include "core/iotlb_fast.h"
#include "pt/pt_walker.h"
#include "smmuv3_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Walk outcomes                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The event a walk that stopped with @r gives (7.3.10-7.3.14, 3.12.1). */
static void walk_fault(const struct viommu_pt_walk_result *r, bool s2, struct smmu_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->s2 = s2;
	f->class = VIOMMU_SMMUV3_CLASS_IN;
	f->type = r->fault;
	f->level = r->level;
	switch (r->detail) {
	case VIOMMU_PT_D_READ_FAILED:
		f->fetch = r->pte; /* the descriptor's address (see viommu_pt_walk_result) */
				   /* fall through */
	case VIOMMU_PT_D_WRITE_FAILED:
		f->id = VIOMMU_SMMUV3_EVT_F_WALK_EABT;
		f->type = VIOMMU_FAULT_WALK_ABORT;
		break;
	case VIOMMU_PT_D_OUTPUT_SIZE:
		f->id = VIOMMU_SMMUV3_EVT_F_ADDR_SIZE;
		break;
	case VIOMMU_PT_D_ACCESS_FLAG:
		f->id = VIOMMU_SMMUV3_EVT_F_ACCESS;
		break;
	case VIOMMU_PT_D_PERM_READ:
	case VIOMMU_PT_D_PERM_WRITE:
	case VIOMMU_PT_D_PERM_EXEC:
	case VIOMMU_PT_D_PERM_USER:
		f->id = VIOMMU_SMMUV3_EVT_F_PERMISSION;
		break;
	default:
		/* Invalid descriptors, input outside the ranges: Arm has no reserved-bit fault. */
		f->id = VIOMMU_SMMUV3_EVT_F_TRANSLATION;
		break;
	}
}

static void leaf_of(const struct viommu_pt_walk_result *r, uint64_t iova, struct smmu_leaf *l)
{
	uint64_t mask = (1ull << r->page_shift) - 1;

	l->shift = r->page_shift;
	l->iova = iova & ~mask;
	l->out = r->out & ~mask;
	l->perm = r->perm & (VIOMMU_ACC_RW | VIOMMU_ACC_EXEC);
}

static uint64_t hole_last(const struct viommu_pt_cfg *p, uint64_t x, uint32_t level, bool s1,
			  uint32_t detail);

/* The fault of a stage 2 walk of @ipa that did not translate (@ret: the walk's return). */
static __attribute__((noinline)) void s2_fault(const struct smmu_cfg *c, uint64_t ipa,
					       struct viommu_pt_walk_result r, int ret,
					       struct smmu_fault *f)
{
	if (ret) {
		r.fault = VIOMMU_FAULT_CONFIG;
		r.detail = VIOMMU_PT_D_NONE;
		r.level = 0;
	}
	walk_fault(&r, true, f);
	f->ipa = ipa;
	f->addr = ipa;
	f->record = c->s2_record;
	f->hole_last = hole_last(&c->s2, ipa, r.level, false, r.detail);
}

int vi_smmu_walk_s2(struct smmu *s, const struct smmu_cfg *c, uint64_t ipa, uint32_t access,
		    struct smmu_leaf *l, struct smmu_fault *f)
{
	struct viommu_pt_walk_result r;
	int ret;

	s->st.page_walks++;
	ret = vi_pt_walker_walk(s->walker, &c->s2, ipa, access & ~VIOMMU_ACC_PRIV, &r);
	if (ret || r.fault != VIOMMU_FAULT_NONE) {
		s2_fault(c, ipa, r, ret, f);
		return -1;
	}
	leaf_of(&r, ipa, l);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Nested: stage 1 structures are IPAs                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Host ops of the nested walker: an IPA range is translated through stage 2 of s->nest, one
 * stage 2 page at a time, then read or written through the real host ops. A stage 2 fault
 * (s->nest_fault, class s->nest_class) or an abort fails the access, which the stage 1 walk
 * reports as a failed read or write.
 */
static ssize_t nest_rw(struct smmu *s, uint64_t ipa, void *buf, size_t len, bool write)
{
	size_t done = 0;

	/* At most len / 4 KiB + 1 stage 2 pages: bounded by the caller's small reads. */
	while (done < len) {
		struct smmu_leaf l;
		uint64_t x = ipa + done, room, n, pa;

		if (vi_smmu_walk_s2(s, s->nest, x, write ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ, &l,
				    &s->nest_fault)) {
			s->nest_fault.class = s->nest_class;
			/* Faults on stage 1 structures are always recorded (3.12.1). */
			s->nest_fault.record = true;
			s->nest_failed = true;
			return VIOMMU_EFAULT;
		}
		room = (1ull << l.shift) - (x - l.iova);
		n = len - done < room ? len - done : room;
		pa = l.out + (x - l.iova);
		if (write ? vi_write(&s->v.host, pa, (const uint8_t *)buf + done, n) :
			    vi_read(&s->v.host, pa, (uint8_t *)buf + done, n)) {
			memset(&s->nest_fault, 0, sizeof(s->nest_fault));
			s->nest_fault.id = s->nest_class == VIOMMU_SMMUV3_CLASS_CD ?
						   VIOMMU_SMMUV3_EVT_F_CD_FETCH :
						   VIOMMU_SMMUV3_EVT_F_WALK_EABT;
			s->nest_fault.type = VIOMMU_FAULT_WALK_ABORT;
			s->nest_fault.class = s->nest_class;
			s->nest_fault.fetch = pa;
			s->nest_fault.record = true;
			s->nest_failed = true;
			return VIOMMU_EFAULT;
		}
		done += n;
	}
	return (ssize_t)len;
}

static ssize_t nest_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return nest_rw(opaque, gpa, buf, len, false);
}

static ssize_t nest_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	return nest_rw(opaque, gpa, (void *)buf, len, true);
}

const struct viommu_host_ops vi_smmu_nest_ops = { .dma_read = nest_read, .dma_write = nest_write };

int vi_smmu_ipa_read(struct smmu *s, const struct smmu_cfg *c, uint64_t ipa, void *buf, size_t len,
		     uint8_t class, struct smmu_fault *f)
{
	s->nest = c;
	s->nest_class = class;
	s->nest_failed = false;
	if (nest_read(s, ipa, buf, len) == (ssize_t)len)
		return 0;
	*f = s->nest_fault;
	if (f->s2)
		f->addr = ipa; /* no InputAddr for a CD fetch: the IPA fetched */
	return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Stage 1 (and nested)                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* The last address of the input hole around @x of a stage 1 configuration that refused it. */
static uint64_t s1_hole_last(const struct viommu_pt_cfg *p, uint64_t x)
{
	bool t0 = !(p->flags & VIOMMU_PT_F_NO_TTB0), t1 = (p->flags & VIOMMU_PT_F_TTB1) != 0;
	uint64_t top0 = p->tsz[0] && p->tsz[0] < 64 ? VI_BIT(64 - p->tsz[0]) - 1 : UINT64_MAX;
	uint64_t bot1 = p->tsz[1] && p->tsz[1] < 64 ? 0 - VI_BIT(64 - p->tsz[1]) : 0;

	if ((t0 && x <= top0) || (t1 && x >= bot1))
		return x; /* inside a range that walks: not an input hole */
	return t1 && x < bot1 ? bot1 - 1 : UINT64_MAX;
}

/* The span around @x known to fault as @x did at @level (0: before reading any entry). */
static uint64_t hole_last(const struct viommu_pt_cfg *p, uint64_t x, uint32_t level, bool s1,
			  uint32_t detail)
{
	uint32_t bpl = p->granule - 3, sh;

	if (detail == VIOMMU_PT_D_INPUT_RANGE) {
		if (s1)
			return s1_hole_last(p, x);
		return x < VI_BIT(64 - p->tsz[0]) ? x : UINT64_MAX;
	}
	/* Any other fault at @level: every address under the entry read there faults alike. */
	if (level == 0)
		return x | (VI_BIT(p->granule) - 1);
	sh = p->granule + (level - 1) * bpl;
	return sh >= 64 ? UINT64_MAX : x | (VI_BIT(sh) - 1);
}

static const struct viommu_pt_cfg *s1_cfg(const struct smmu_cfg *c, uint64_t iova)
{
	return c->two_halves && (iova >> 63) ? &c->s1[1] : &c->s1[0];
}

static int s1_finish(struct smmu *s, const struct smmu_cfg *c, const struct viommu_pt_cfg *p,
		     uint64_t iova, uint32_t access, struct viommu_pt_walk_result r, int ret,
		     struct smmu_leaf *l, struct smmu_fault *f);

int vi_smmu_walk(struct smmu *s, const struct smmu_cfg *c, uint64_t iova, uint32_t access,
		 struct smmu_leaf *l, struct smmu_fault *f)
{
	const struct viommu_pt_cfg *p;
	struct viommu_pt_walk_result r;
	int ret;

	if (c->kind == SMMU_K_S2) {
		if (!vi_smmu_walk_s2(s, c, iova, access, l, f))
			return 0;
		f->fetch = f->id == VIOMMU_SMMUV3_EVT_F_WALK_EABT ? f->fetch : 0;
		f->ipa = iova;
		return -1;
	}
	p = s1_cfg(c, iova);
	s->st.page_walks++;
	if (c->kind == SMMU_K_NESTED) {
		s->nest = c;
		s->nest_class = VIOMMU_SMMUV3_CLASS_TT;
		s->nest_failed = false;
		ret = vi_pt_walker_walk(s->nwalker, p, iova, access, &r);
	} else {
		ret = vi_pt_walker_walk(s->walker, p, iova, access, &r);
	}
	return s1_finish(s, c, p, iova, access, r, ret, l, f);
}

/*
 * vi_smmu_walk() inline for the translation's miss path: a stage 2 walk, or a stage 1 walk with
 * no WXN to apply, that translates needs nothing but the leaf.
 */
static inline int smmu_walk(struct smmu *s, const struct smmu_cfg *c, uint64_t iova,
			    uint32_t access, struct smmu_leaf *l, struct smmu_fault *f)
{
	const struct viommu_pt_cfg *p;
	struct viommu_pt_walk_result r;
	int ret;

	if (c->kind == SMMU_K_S2) {
		s->st.page_walks++;
		ret = vi_pt_walker_walk(s->walker, &c->s2, iova, access & ~VIOMMU_ACC_PRIV, &r);
		if (__builtin_expect(!ret && r.fault == VIOMMU_FAULT_NONE, 1)) {
			leaf_of(&r, iova, l);
			return 0;
		}
		/* As vi_smmu_walk() reports a stage 2 fault of a stage 2 only stream. */
		s2_fault(c, iova, r, ret, f);
		f->fetch = f->id == VIOMMU_SMMUV3_EVT_F_WALK_EABT ? f->fetch : 0;
		f->ipa = iova;
		return -1;
	}
	if (c->kind != SMMU_K_S1)
		return vi_smmu_walk(s, c, iova, access, l, f);
	p = s1_cfg(c, iova);
	s->st.page_walks++;
	ret = vi_pt_walker_walk(s->walker, p, iova, access, &r);
	if (__builtin_expect(!ret && r.fault == VIOMMU_FAULT_NONE && !c->wxn, 1)) {
		leaf_of(&r, iova, l);
		return 0;
	}
	return s1_finish(s, c, p, iova, access, r, ret, l, f);
}

/* The stage 1 part of vi_smmu_walk() after the walk: faults, WXN, the nested output. */
static __attribute__((noinline)) int s1_finish(struct smmu *s, const struct smmu_cfg *c,
					       const struct viommu_pt_cfg *p, uint64_t iova,
					       uint32_t access, struct viommu_pt_walk_result r,
					       int ret, struct smmu_leaf *l, struct smmu_fault *f)
{
	struct smmu_leaf h;

	if (ret) {
		r.fault = VIOMMU_FAULT_CONFIG;
		r.detail = VIOMMU_PT_D_NONE;
		r.level = 0;
	}
	if (r.fault != VIOMMU_FAULT_NONE) {
		if (c->kind == SMMU_K_NESTED && s->nest_failed &&
		    (r.detail == VIOMMU_PT_D_READ_FAILED || r.detail == VIOMMU_PT_D_WRITE_FAILED)) {
			/* Stage 2 refused a stage 1 table access (CLASS = TT), or it aborted. */
			uint64_t ipa = r.pte;

			*f = s->nest_fault;
			f->addr = iova;
			if (f->s2)
				f->ipa = ipa;
			f->level = r.level;
			f->hole_last = hole_last(p, iova, r.level, true, r.detail);
			return -1;
		}
		walk_fault(&r, false, f);
		/* An abort fetching a stage 1 descriptor: CLASS TT (7.3.9). */
		if (f->id == VIOMMU_SMMUV3_EVT_F_WALK_EABT)
			f->class = VIOMMU_SMMUV3_CLASS_TT;
		f->addr = iova;
		f->record = f->id == VIOMMU_SMMUV3_EVT_F_WALK_EABT || c->s1_record;
		f->hole_last = hole_last(p, iova, r.level, true, r.detail);
		return -1;
	}
	leaf_of(&r, iova, l);
	if (c->wxn && (l->perm & VIOMMU_ACC_WRITE)) {
		/* WXN: a writable page is execute-never. */
		l->perm &= ~VIOMMU_ACC_EXEC;
		if (access & VIOMMU_ACC_EXEC) {
			memset(f, 0, sizeof(*f));
			f->id = VIOMMU_SMMUV3_EVT_F_PERMISSION;
			f->type = VIOMMU_FAULT_PERMISSION;
			f->class = VIOMMU_SMMUV3_CLASS_IN;
			f->addr = iova;
			f->record = c->s1_record;
			f->level = r.level;
			f->hole_last = iova | (VI_BIT(r.page_shift) - 1);
			return -1;
		}
	}
	if (c->kind != SMMU_K_NESTED)
		return 0;
	/* Nested: the IPA output through stage 2 with the request's rights. */
	if (vi_smmu_walk_s2(s, c, r.out, access, &h, f)) {
		f->addr = iova;
		f->ipa = r.out;
		f->hole_last = iova | (VI_BIT(p->granule) - 1);
		return -1;
	}
	if (h.shift < l->shift) {
		l->shift = h.shift;
		l->iova = iova & ~((1ull << h.shift) - 1);
	}
	l->out = (h.out + (r.out - h.iova)) & ~((1ull << l->shift) - 1);
	l->perm &= h.perm;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int blocked(struct smmu *s, const struct viommu_xlate_req *req,
		   struct viommu_xlate_result *res, const struct smmu_fault *f)
{
	uint32_t ssid = req->has_pasid ? req->pasid : SMMU_NO_SSID;

	vi_result_fault(res, req, f->type, f->id, f->level);
	s->st.faults++;
	if (f->id == 0)
		return 0; /* aborted by configuration: no event (STE.Config abort, GBPA.ABORT) */
	/*
	 * An ATS Translation Request that meets a translation-class fault is answered with a
	 * completion granting nothing and is not recorded (3.9.1: the device may ask again
	 * through PRI); configuration errors are recorded.
	 */
	if (s->ats_treq && f->id >= VIOMMU_SMMUV3_EVT_F_TRANSLATION &&
	    f->id <= VIOMMU_SMMUV3_EVT_F_PERMISSION)
		return 0;
	res->fault.flags = vi_smmu_event(s, f, req->sid, ssid, req->access);
	return 0;
}

static int identity(const struct viommu_xlate_req *req, struct viommu_xlate_result *res,
		    uint64_t len)
{
	memset(res, 0, sizeof(*res));
	res->out = req->iova;
	res->len = len;
	res->perm = VIOMMU_ACC_RW | VIOMMU_ACC_EXEC;
	res->page_shift = 12;
	return 0;
}

static bool perm_ok(uint32_t perm, uint32_t access)
{
	return (access & (VIOMMU_ACC_RW | VIOMMU_ACC_EXEC) & ~perm) == 0;
}

/* Top byte ignore (CD.TBI, 3.4.1): bits 63:56 follow bit 55 for the half that ignores them. */
static uint64_t tbi(const struct smmu_cfg *c, uint64_t iova)
{
	bool hi = (iova >> 55) & 1;

	if (!(c->tbi & (hi ? 2 : 1)))
		return iova;
	return hi ? iova | VIOMMU_SMMUV3_GENMASK(63, 56) : iova & ~VIOMMU_SMMUV3_GENMASK(63, 56);
}

/* The input address a walk and the IOTLB see (stage 1: TBI applied). */
static inline uint64_t input_of(const struct smmu_cfg *c, uint64_t iova)
{
	return c->tbi && c->kind != SMMU_K_S2 ? tbi(c, iova) : iova;
}

/*
 * The rest of a translation through @c's tables after its IOTLB probe, whose outcome is @ret
 * (vi_iotlb_probe_ref(), with 0 for a hit without the rights): the lookup finished (a stale ref
 * taken anew), then on a miss the walk, its faults and the insert. Out of line: the hit path
 * saves no registers for it.
 */
static __attribute__((noinline)) int translate_walk(struct smmu *s,
						    const struct viommu_xlate_req *req,
						    struct viommu_xlate_result *res,
						    struct smmu_cfg *c, uint64_t len, int ret)
{
	uint64_t x = input_of(c, req->iova);
	struct viommu_iotlb_hit hit;
	struct smmu_leaf leaf;
	struct smmu_fault f;

	if (ret == VI_IOTLB_UNDECIDED) {
		ret = vi_iotlb_lookup_ref_rest(s->iotlb, c->iotlb_ref, x, &hit);
	} else if (ret == VIOMMU_ESTALE) {
		ret = viommu_iotlb_tag_ref(s->iotlb, &c->tag, &c->iotlb_ref);
		if (ret == 0)
			ret = vi_iotlb_lookup_ref(s->iotlb, c->iotlb_ref, x, &hit);
	} else {
		ret = VIOMMU_ENOENT; /* a miss, or a hit without the rights: walk */
	}
	if (ret == 0 && perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, x, len, hit.addr, hit.perm, hit.shift);
	/* A miss, or a hit without the rights: walk the tables as they are now. */
	if (smmu_walk(s, c, x, req->access, &leaf, &f)) {
		f.addr = req->iova;
		return blocked(s, req, res, &f);
	}
	/* Under the ref the lookup used; by tag only if it went stale (ids ran out). */
	if (vi_iotlb_insert_leaf_ref(s->iotlb, c->iotlb_ref, leaf.iova, leaf.out, leaf.shift,
				     leaf.perm, 0) == VIOMMU_ESTALE)
		vi_iotlb_insert_leaf(s->iotlb, &c->tag, leaf.iova, leaf.out, leaf.shift, leaf.perm,
				     0);
	return vi_xlate_ok(res, x, len, leaf.out + (x - leaf.iova), leaf.perm, leaf.shift);
}

/* Every translation vi_smmu_translate() does not answer inline. */
static __attribute__((noinline)) int
translate_full(struct smmu *s, const struct viommu_xlate_req *req, struct viommu_xlate_result *res)
{
	uint64_t len = req->len ? req->len : 1, x;
	uint32_t ssid;
	struct smmu_cfg_slot *slot;
	struct viommu_iotlb_hit hit;
	struct smmu_fault f;
	struct smmu_cfg *c;
	int ret;

	s->st.translations++;
	if (!vi_range_ok(req->iova, len))
		len = 0 - req->iova; /* never past 2^64 */
	if (!smmu_enabled(s)) {
		/* SMMUEN = 0: GBPA says bypass or abort, without an event (6.3.14). */
		if (!(s->gbpa & VIOMMU_SMMUV3_GBPA_ABORT))
			return identity(req, res, len);
		memset(&f, 0, sizeof(f));
		f.type = VIOMMU_FAULT_BLOCKED;
		return blocked(s, req, res, &f);
	}
	/* The cached configuration in its slot, looked at in place (no call, no copy on a hit). */
	ssid = req->has_pasid ? req->pasid : SMMU_NO_SSID;
	slot = &s->cfg_cache[smmu_slot_of(req->sid, ssid)];
	if (slot->gen == s->cfg_gen && slot->sid == req->sid && slot->ssid == ssid) {
		s->st.cfg_hits++;
	} else if (vi_smmu_cfg_get(s, req->sid, ssid, &slot, &f)) {
		f.addr = req->iova;
		return blocked(s, req, res, &f);
	}
	c = &slot->cfg;
	if (c->kind == SMMU_K_BYPASS) {
		/* Stage 1 bypassed: an address beyond the OAS is an Address Size fault (7.3.14). */
		uint64_t top = VIOMMU_SMMUV3_GENMASK(s->cfg.oas_bits - 1, 0);

		if (req->iova > top) {
			memset(&f, 0, sizeof(f));
			f.id = VIOMMU_SMMUV3_EVT_F_ADDR_SIZE;
			f.type = VIOMMU_FAULT_ADDR_SIZE;
			f.class = VIOMMU_SMMUV3_CLASS_IN;
			f.record = true;
			f.addr = req->iova;
			return blocked(s, req, res, &f);
		}
		return identity(req, res, len - 1 > top - req->iova ? top - req->iova + 1 : len);
	}
	if (c->kind == SMMU_K_ABORT) {
		memset(&f, 0, sizeof(f));
		f.type = VIOMMU_FAULT_BLOCKED;
		return blocked(s, req, res, &f);
	}
	x = input_of(c, req->iova);
	ret = vi_iotlb_probe_ref(s->iotlb, c->iotlb_ref, x, &hit);
	if (ret == 0 && perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, x, len, hit.addr, hit.perm, hit.shift);
	return translate_walk(s, req, res, c, len, ret);
}

_Static_assert(SMMU_K_ABORT < SMMU_K_S1 && SMMU_K_BYPASS < SMMU_K_S1 && SMMU_K_S1 < SMMU_K_S2 &&
		       SMMU_K_S2 < SMMU_K_NESTED,
	       "the kinds that translate are those from SMMU_K_S1 on");

/*
 * The common case inline, the IOTLB hit in a few instructions and no saved register: the SMMU
 * enabled, a whole request of a stream (and substream) whose configuration is cached and
 * translates (stage 1, stage 2 or both). Everything else is translate_full(), which checks it all
 * in the specification's order; it would answer these alike.
 */
int vi_smmu_translate(struct viommu *v, const struct viommu_xlate_req *req,
		      struct viommu_xlate_result *res)
{
	struct smmu *s = to_smmu(v);
	uint32_t ssid = req->has_pasid ? req->pasid : SMMU_NO_SSID;
	struct smmu_cfg_slot *slot = &s->cfg_cache[smmu_slot_of(req->sid, ssid)];
	uint64_t len = req->len ? req->len : 1, x;
	struct viommu_iotlb_hit hit;
	int ret;

	if (__builtin_expect(!vi_range_ok(req->iova, len) || !smmu_enabled(s) ||
				     slot->gen != s->cfg_gen || slot->sid != req->sid ||
				     slot->ssid != ssid || slot->cfg.kind < SMMU_K_S1,
			     0))
		return translate_full(s, req, res);
	s->st.translations++;
	s->st.cfg_hits++;
	x = input_of(&slot->cfg, req->iova);
	ret = vi_iotlb_probe_ref(s->iotlb, slot->cfg.iotlb_ref, x, &hit);
	if (__builtin_expect(ret == 0 && perm_ok(hit.perm, req->access), 1))
		return vi_xlate_ok(res, x, len, hit.addr, hit.perm, hit.shift);
	return translate_walk(s, req, res, &slot->cfg, len, ret);
}

/* ------------------------------------------------------------------------------------------ */
/* ATS and unsupported transactions (3.9, 7.3.2, 7.3.6, 7.3.8)                                  */
/* ------------------------------------------------------------------------------------------ */

static int refuse(struct smmu *s, const struct viommu_xlate_req *req,
		  struct viommu_xlate_result *res, uint32_t id, enum viommu_fault_type type)
{
	struct smmu_fault f;

	memset(&f, 0, sizeof(f));
	f.id = id;
	f.type = type;
	f.record = id != 0;
	f.addr = req->iova;
	return blocked(s, req, res, &f);
}

int viommu_smmuv3_transaction(struct viommu *v, enum viommu_smmuv3_txn txn,
			      const struct viommu_xlate_req *req, struct viommu_xlate_result *res)
{
	struct smmu *s;
	struct smmu_cfg_slot *slot;
	struct smmu_fault f;
	uint32_t ssid;
	int ret;

	if (!vi_smmu_is(v) || !req || !res)
		return VIOMMU_EINVAL;
	s = to_smmu(v);
	if (txn == VIOMMU_SMMUV3_TXN_UNSUPPORTED) {
		/* Whatever the configuration: the SMMU cannot carry the transaction (7.3.2). */
		s->st.translations++;
		return refuse(s, req, res, VIOMMU_SMMUV3_EVT_F_UUT, VIOMMU_FAULT_BLOCKED);
	}
	if (txn != VIOMMU_SMMUV3_TXN_ATS_TREQ && txn != VIOMMU_SMMUV3_TXN_TRANSLATED)
		return VIOMMU_EINVAL;
	if (!(s->idr[0] & VIOMMU_SMMUV3_IDR0_ATS))
		return VIOMMU_ENOTSUP;
	if (!smmu_enabled(s)) {
		/* SMMUEN = 0: Translated traffic follows GBPA like any; a Translation Request has
		 * no configuration to answer from (Unsupported Request, no event). */
		if (txn == VIOMMU_SMMUV3_TXN_TRANSLATED)
			return vi_smmu_translate(v, req, res);
		s->st.translations++;
		return refuse(s, req, res, 0, VIOMMU_FAULT_BLOCKED);
	}
	if (txn == VIOMMU_SMMUV3_TXN_TRANSLATED && !(s->cr0 & VIOMMU_SMMUV3_CR0_ATSCHK)) {
		/* CR0.ATSCHK = 0: Translated transactions pass without a stream table check. */
		s->st.translations++;
		return identity(req, res, req->len ? req->len : 1);
	}
	s->st.translations++;
	ssid = req->has_pasid ? req->pasid : SMMU_NO_SSID;
	if (vi_smmu_cfg_get(s, req->sid, ssid, &slot, &f)) {
		f.addr = req->iova;
		return blocked(s, req, res, &f);
	}
	if (slot->cfg.kind == SMMU_K_ABORT)
		return refuse(s, req, res, 0, VIOMMU_FAULT_BLOCKED);
	if (txn == VIOMMU_SMMUV3_TXN_TRANSLATED) {
		/* ATSCHK = 1: only a stream with EATS set (or bypassing) may present Translated. */
		if (slot->cfg.kind == SMMU_K_BYPASS ||
		    slot->cfg.eats == VIOMMU_SMMUV3_STE_EATS_TRANS)
			return identity(req, res, req->len ? req->len : 1);
		return refuse(s, req, res, VIOMMU_SMMUV3_EVT_F_TRANSL_FORBIDDEN,
			      VIOMMU_FAULT_BLOCKED);
	}
	/* A Translation Request needs EATS and something to translate with (7.3.6). */
	if (slot->cfg.kind == SMMU_K_BYPASS || slot->cfg.eats != VIOMMU_SMMUV3_STE_EATS_TRANS)
		return refuse(s, req, res, VIOMMU_SMMUV3_EVT_F_BAD_ATS_TREQ, VIOMMU_FAULT_BLOCKED);
	s->st.translations--; /* counted again by the translation */
	s->ats_treq = true;
	ret = vi_smmu_translate(v, req, res);
	s->ats_treq = false;
	return ret;
}
