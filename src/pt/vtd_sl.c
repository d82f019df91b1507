// SPDX-License-Identifier: MIT
/*
 * VT-d second-level tables (see vtd_sl.h for the specification sections).
 */
#include "pt_fast.h"
#include "vtd_sl.h"

static int vtd_sl_check(const struct viommu_pt_cfg *cfg)
{
	if (cfg->levels < 3 || cfg->levels > 5 || (cfg->oas && (cfg->oas < 32 || cfg->oas > 52)) ||
	    (cfg->root & 0xfff))
		return VIOMMU_EINVAL;
	return 0;
}

static void vtd_sl_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			  unsigned int level, uint64_t pte, uint32_t access, struct pt_ent *e)
{
	uint64_t rsvd = pt_above_oas(pt_oas(cfg, 52)) | VIOMMU_VTD_SL_TM;
	bool leaf = level == 1 || (pte & VIOMMU_VTD_SL_PS);

	(void)access;
	e->kind = PT_K_INVALID;
	if (!(pte & (VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W)))
		return;
	if (!leaf || !(cfg->flags & VIOMMU_PT_F_SNP))
		rsvd |= VIOMMU_VTD_SL_SNP;
	if (leaf && (cfg->flags & VIOMMU_PT_F_STALE_TM))
		rsvd &= ~VIOMMU_VTD_SL_TM;
	if (pte & rsvd) {
		pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD);
		return;
	}
	if (leaf && level > 1) {
		bool ok = (level == 2 && (cfg->flags & VIOMMU_PT_F_SP_2M)) ||
			  (level == 3 && (cfg->flags & VIOMMU_PT_F_SP_1G));

		/* PS is reserved where the superpage is not supported (and always above 1 GiB). */
		if (!ok) {
			pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF);
			return;
		}
		if (pte & VI_GENMASK(pt_lvl_shift(g, level) - 1, 12)) {
			pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD);
			return;
		}
	}
	e->perm = PT_PERM_ACCESS;
	if (pte & VIOMMU_VTD_SL_R)
		e->perm |= VIOMMU_ACC_READ;
	if (pte & VIOMMU_VTD_SL_W)
		e->perm |= VIOMMU_ACC_WRITE;
	if (pte & VIOMMU_VTD_SL_X)
		e->perm |= VIOMMU_ACC_EXEC;
	e->addr = pte & VIOMMU_VTD_SL_ADDR_MASK;
	if (leaf) {
		e->kind = PT_K_LEAF;
		e->shift = (uint8_t)pt_lvl_shift(g, level);
		e->attr = (pte & VIOMMU_VTD_SL_SNP) ? VIOMMU_PT_ATTR_SNP : 0;
	} else {
		e->kind = PT_K_TABLE;
		e->next = (uint8_t)(level - 1);
	}
}

static uint64_t vtd_sl_update(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
			      uint64_t pte, uint32_t access)
{
	(void)level;
	if (!(cfg->flags & VIOMMU_PT_F_AD))
		return pte;
	pte |= VIOMMU_VTD_SL_A;
	if (leaf && (access & VIOMMU_ACC_WRITE))
		pte |= VIOMMU_VTD_SL_D;
	return pte;
}

static bool vtd_sl_leaf_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	return level == 1 || (level == 2 && (cfg->flags & VIOMMU_PT_F_SP_2M)) ||
	       (level == 3 && (cfg->flags & VIOMMU_PT_F_SP_1G));
}

static uint64_t vtd_sl_mk_table(const struct viommu_pt_cfg *cfg, unsigned int level, uint64_t table)
{
	(void)cfg;
	(void)level;
	/* Rights are the AND over the levels: tables grant everything, leaves restrict. */
	return table | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | VIOMMU_VTD_SL_X;
}

static uint64_t vtd_sl_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			       unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = out;

	(void)cfg;
	(void)g;
	if (perm & VIOMMU_ACC_READ)
		pte |= VIOMMU_VTD_SL_R;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= VIOMMU_VTD_SL_W;
	if (perm & VIOMMU_ACC_EXEC)
		pte |= VIOMMU_VTD_SL_X;
	if (level > 1)
		pte |= VIOMMU_VTD_SL_PS;
	return pte;
}

/*
 * A not-present entry (R = W = 0) ends the walk with no other check (§9.8: the other bits are
 * ignored), exactly as the full walk reports it; answering it here spares the full walk reading
 * the same entries again, which caching-mode syncs of unmapped ranges do all the time.
 */
static int vtd_sl_fast_absent(struct viommu_pt_walk_result *res, uint64_t pte, unsigned int level)
{
	memset(res, 0, sizeof(*res));
	res->level = level;
	res->pte = pte;
	return pt_fault(res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT);
}

static const pt_fast_fn vtd_sl_fast[6];

/* The masks vtd_sl_decode() applies, once: @trsvd for tables (PS apart), @lrsvd for leaves. */
static void vtd_sl_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	uint64_t above = pt_above_oas(pt_oas(cfg, 52));

	pt_plan_radix4k(cfg, p, vtd_sl_fast[cfg->levels], vtd_sl_leaf_ok);
	p->trsvd = above | VIOMMU_VTD_SL_TM | VIOMMU_VTD_SL_SNP;
	p->lrsvd = above;
	if (!(cfg->flags & VIOMMU_PT_F_STALE_TM))
		p->lrsvd |= VIOMMU_VTD_SL_TM;
	if (!(cfg->flags & VIOMMU_PT_F_SNP))
		p->lrsvd |= VIOMMU_VTD_SL_SNP;
	p->tmask = p->trsvd | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R;
	p->lmask = p->lrsvd | VIOMMU_VTD_SL_R;
}

/*
 * The common case, for a table of @levels levels (a constant: one instance per AGAW, the loop
 * unrolled, every shift an immediate). A table entry must hold R, no PS and no reserved bit; a
 * leaf R and no reserved bit: one test each. Anything else takes the cold branch, which answers
 * a not-present entry, follows a superpage the configuration allows, or gives up (an entry
 * with W alone, for one: the full walk works out its rights).
 */
/* The end of a fast walk at a leaf of 2^@shift bytes at @level; @all: the entries ANDed. */
static inline __attribute__((always_inline)) int
vtd_sl_fast_leaf(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		 struct viommu_pt_walk_result *res, uint64_t pte, uint64_t all, unsigned int shift,
		 unsigned int level)
{
	/* R, W and X are bits 0-2, as VIOMMU_ACC_READ/WRITE/EXEC. */
	uint32_t perm = (uint32_t)(all & (VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | VIOMMU_VTD_SL_X));
	uint64_t mask = VI_BIT(shift) - 1;

	if (access & PT_PERM_RWX & ~perm)
		return pt_fast_fail(p, sp, iova, access, res);
	if ((p->flags & VIOMMU_PT_F_AD) &&
	    pt_ad_unset(access, all, pte, VIOMMU_VTD_SL_A, VIOMMU_VTD_SL_D))
		return pt_fast_fail(p, sp, iova, access, res);
	return pt_fast_ok(res, (pte & VIOMMU_VTD_SL_ADDR_MASK & ~mask) | (iova & mask), pte, perm,
			  shift, (pte & VIOMMU_VTD_SL_SNP) ? VIOMMU_PT_ATTR_SNP : 0, level);
}

/*
 * The common case, for a table of @levels levels (a constant: one instance per AGAW, the loop
 * unrolled, every shift an immediate). A table entry must hold R, no PS and no reserved bit; a
 * leaf R and no reserved bit: one test each (the plan's @tmask and @lmask). Anything else takes
 * the cold branch, which answers a not-present entry, finishes at a superpage the configuration
 * allows, or gives up (an entry with W alone, for one: the full walk works out its rights).
 */
static inline __attribute__((always_inline)) int
vtd_sl_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, const unsigned int levels)
{
	unsigned int shift = 12 + 9 * (levels - 1), level = levels;
	uint64_t table = p->root[0], all = ~0ull, pte;

	if (iova >> (shift + 9))
		return pt_fast_fail(p, sp, iova, access, res);
#pragma GCC unroll 5
	for (; level > 1; shift -= 9, level--) {
		if (!pt_load(sp, &sp->win, table + 8 * ((iova >> shift) & 511), &pte))
			return pt_fast_fail(p, sp, iova, access, res);
		all &= pte;
		if (__builtin_expect((pte & p->tmask) != VIOMMU_VTD_SL_R, 0)) {
			if (!(pte & (VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W)))
				return vtd_sl_fast_absent(res, pte, level);
			/* A superpage: its address bits below the page size are reserved. */
			if (!(pte & VIOMMU_VTD_SL_PS) || !(p->leaf_levels & (1u << level)) ||
			    (pte & (p->lrsvd | VI_GENMASK(shift - 1, 12))))
				return pt_fast_fail(p, sp, iova, access, res);
			return vtd_sl_fast_leaf(p, sp, iova, access, res, pte, all, shift, level);
		}
		table = pte & VIOMMU_VTD_SL_ADDR_MASK;
	}
	if (!pt_load(sp, &sp->win, table + 8 * ((iova >> 12) & 511), &pte))
		return pt_fast_fail(p, sp, iova, access, res);
	all &= pte;
	if (__builtin_expect((pte & p->lmask) != VIOMMU_VTD_SL_R, 0)) {
		if (!(pte & (VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W)))
			return vtd_sl_fast_absent(res, pte, 1);
		return pt_fast_fail(p, sp, iova, access, res);
	}
	return vtd_sl_fast_leaf(p, sp, iova, access, res, pte, all, 12, 1);
}

PT_FAST_LEVELS(vtd_sl_fast, 3)
PT_FAST_LEVELS(vtd_sl_fast, 4)
PT_FAST_LEVELS(vtd_sl_fast, 5)

/* By level count; check() allows 3 to 5. */
static const pt_fast_fn
	vtd_sl_fast[6] = { [3] = vtd_sl_fast3, [4] = vtd_sl_fast4, [5] = vtd_sl_fast5 };

PT_DEFINE_WALK(vtd_sl_walk_full, pt_geo_radix4k, vtd_sl_decode, vtd_sl_update)

const struct pt_fmt vi_pt_fmt_vtd_sl = {
	.name = "vtd-sl",
	.walk = vtd_sl_walk_full,
	.plan = vtd_sl_plan,
	.check = vtd_sl_check,
	.geo = pt_geo_radix4k,
	.decode = vtd_sl_decode,
	.update = vtd_sl_update,
	.leaf_ok = vtd_sl_leaf_ok,
	.mk_table = vtd_sl_mk_table,
	.mk_leaf = vtd_sl_mk_leaf,
};
