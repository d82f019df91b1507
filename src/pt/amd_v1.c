// SPDX-License-Identifier: MIT
/*
 * AMD-Vi v1 host page tables (see amd_v1.h for the specification sections).
 */
#include "amd_v1.h"
#include "pt_fast.h"

static int amd_check(const struct viommu_pt_cfg *cfg)
{
	if (cfg->levels < 1 || cfg->levels > 6 || (cfg->oas && (cfg->oas < 32 || cfg->oas > 52)) ||
	    (cfg->root & 0xfff))
		return VIOMMU_EINVAL;
	return 0;
}

static void amd_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g, unsigned int level,
		       uint64_t pte, uint32_t access, struct pt_ent *e)
{
	unsigned int nl = (unsigned int)VI_FIELD_GET(pte, 11, 9);
	bool leaf = nl == AMD_NL_DEFAULT || nl == AMD_NL_SIZED;

	(void)access;
	e->kind = PT_K_INVALID;
	if (!(pte & AMD_PR))
		return;
	if (pte & ((leaf ? AMD_PTE_RSVD : AMD_PDE_RSVD) | pt_above_oas(pt_oas(cfg, 52)))) {
		pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD);
		return;
	}
	e->perm = PT_PERM_ACCESS;
	if (pte & AMD_IR)
		e->perm |= VIOMMU_ACC_READ | VIOMMU_ACC_EXEC;
	if (pte & AMD_IW)
		e->perm |= VIOMMU_ACC_WRITE;
	if (!leaf) {
		/* The walker rejects a next level that is not below this one. */
		e->kind = PT_K_TABLE;
		e->next = (uint8_t)nl;
		e->addr = pte & AMD_ADDR;
		return;
	}
	e->shift = (uint8_t)pt_lvl_shift(g, level);
	if (nl == AMD_NL_SIZED) {
		/* Trailing ones from bit 12 encode the size: n ones mean 2^(13 + n) bytes. */
		unsigned int ones = (unsigned int)__builtin_ctzll(~(pte >> 12));
		unsigned int shift = 13 + ones;

		if (shift <= e->shift || shift >= e->shift + 9u || shift > 52) {
			pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_PAGE_SIZE);
			return;
		}
		e->shift = (uint8_t)shift;
	}
	e->kind = PT_K_LEAF;
	e->addr = pte & AMD_ADDR & ~(VI_BIT(e->shift) - 1);
	e->attr = ((pte & AMD_FC) ? VIOMMU_PT_ATTR_FC : 0) | ((pte & AMD_U) ? VIOMMU_PT_ATTR_U : 0);
}

static uint64_t amd_update(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
			   uint64_t pte, uint32_t access)
{
	(void)level;
	if (!(cfg->flags & VIOMMU_PT_F_AD))
		return pte;
	pte |= AMD_A;
	if (leaf && (access & VIOMMU_ACC_WRITE))
		pte |= AMD_D;
	return pte;
}

/* The builder maps 4 KiB, 2 MiB, 1 GiB and 512 GiB pages of the default sizes. */
static bool amd_leaf_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	(void)cfg;
	return level <= 4;
}

static uint64_t amd_mk_table(const struct viommu_pt_cfg *cfg, unsigned int level, uint64_t table)
{
	(void)cfg;
	return table | AMD_PR | ((uint64_t)level << AMD_NL_SHIFT) | AMD_IR | AMD_IW;
}

static uint64_t amd_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			    unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = out | AMD_PR;

	(void)cfg;
	(void)g;
	(void)level;
	if (perm & (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC))
		pte |= AMD_IR;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= AMD_IW;
	return pte;
}

static const pt_fast_fn amd_fast[7];
static const pt_leaf_fn amd_leaf[7];

/* The masks amd_decode() applies, once. */
static void amd_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	uint64_t above = pt_above_oas(pt_oas(cfg, 52));

	pt_plan_radix4k(cfg, p, amd_fast[cfg->levels], amd_leaf_ok);
	p->leaf = amd_leaf[cfg->levels];
	p->trsvd = AMD_PDE_RSVD | above;
	p->lrsvd = AMD_PTE_RSVD | above;
	p->tmask = p->trsvd | AMD_NL_MASK | AMD_PR;
	p->lmask = p->lrsvd | AMD_NL_MASK | AMD_PR;
}

_Static_assert(AMD_IR == VI_BIT(61) && AMD_IW == VI_BIT(62) && VIOMMU_ACC_WRITE == 2, "AMD rights");

/* The end of a fast walk at a leaf of 2^@shift bytes at @level; @all: the entries ANDed. */
static inline __attribute__((always_inline)) int
amd_fast_leaf(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, uint64_t pte, uint64_t all, unsigned int shift,
	      unsigned int level)
{
	uint64_t mask = VI_BIT(shift) - 1, rw = all >> 61;
	/* IR (bit 61) grants read and execute, IW (bit 62) write. */
	uint32_t perm = (uint32_t)((rw & 1) * (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC) | (rw & 2));

	if (access & PT_PERM_RWX & ~perm)
		return pt_fast_fail(p, sp, iova, access, res);
	if ((p->flags & VIOMMU_PT_F_AD) && pt_ad_unset(access, all, pte, AMD_A, AMD_D))
		return pt_fast_fail(p, sp, iova, access, res);
	return pt_fast_ok(res, (pte & AMD_ADDR & ~mask) | (iova & mask), pte, perm, shift,
			  ((pte & AMD_FC) ? VIOMMU_PT_ATTR_FC : 0) |
				  ((pte & AMD_U) ? VIOMMU_PT_ATTR_U : 0),
			  level);
}

/*
 * The common case: a table at every level (the next-level field names the level below: one test
 * per entry with the plan's @tmask, and the shifts do not wait for the entries) down to a leaf of
 * its level's default size. Skipped levels and encoded sizes are left to the full walk. Every
 * top index fits in 9 bits: the input range check leaves no higher bits, and mode 6's root has 7.
 */
static inline __attribute__((always_inline)) int
amd_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	   struct viommu_pt_walk_result *res, const unsigned int levels)
{
	const struct pt_win win = sp->win;
	const uint64_t tmask = p->tmask;
	unsigned int shift = 12 + 9 * (levels - 1), level = levels;
	uint64_t table = p->root[0], all = ~0ull, pte;

	if (shift + 9 < 64 && (iova >> (shift + 9)))
		return pt_fast_fail(p, sp, iova, access, res);
#pragma GCC unroll 6
	for (; level > 1; shift -= 9, level--) {
		if (!pt_load(sp, &win, table + 8 * ((iova >> shift) & 511), &pte))
			return pt_fast_fail(p, sp, iova, access, res);
		all &= pte;
		if (__builtin_expect(
			    (pte & tmask) != (AMD_PR | (uint64_t)(level - 1) << AMD_NL_SHIFT), 0)) {
			/* A leaf of this level's default size, or the full walk. */
			if ((pte & p->lmask) != AMD_PR)
				return pt_fast_fail(p, sp, iova, access, res);
			return amd_fast_leaf(p, sp, iova, access, res, pte, all, shift, level);
		}
		table = pte & AMD_ADDR;
	}
	if (!pt_load(sp, &win, table + 8 * ((iova >> 12) & 511), &pte) ||
	    (pte & p->lmask) != AMD_PR)
		return pt_fast_fail(p, sp, iova, access, res);
	all &= pte;
	return amd_fast_leaf(p, sp, iova, access, res, pte, all, 12, 1);
}

/* The leaf word of @pte at @level (2^@shift bytes), @all the entries ANDed. */
static inline __attribute__((always_inline)) struct pt_leaf
amd_leaf_word(uint64_t pte, uint64_t all, unsigned int shift, unsigned int level)
{
	uint64_t rw = all >> 61;

	/* IR (bit 61) grants read and execute, IW (bit 62) write, as in amd_fast_leaf(). */
	return pt_leaf_ok(pte & AMD_ADDR,
			  (uint32_t)((rw & 1) * (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC) | (rw & 2)),
			  shift, level);
}

/*
 * amd_fast_n() with no access (no rights to check, no flags to set), the leaf as one word; it
 * gives up where amd_fast_n() does, and on an entry outside the span without noting it.
 */
static inline __attribute__((always_inline)) struct pt_leaf amd_leaf_n(const struct pt_plan *p,
								       const struct pt_win *w,
								       uint64_t iova,
								       const unsigned int levels)
{
	const struct pt_win win = *w;
	const uint64_t tmask = p->tmask;
	unsigned int shift = 12 + 9 * (levels - 1), level = levels;
	uint64_t table = p->root[0], all = ~0ull, pte;

	if (shift + 9 < 64 && (iova >> (shift + 9)))
		return pt_leaf_none();
#pragma GCC unroll 6
	for (; level > 1; shift -= 9, level--) {
		if (!pt_peek(&win, table + 8 * ((iova >> shift) & 511), &pte))
			return pt_leaf_none();
		all &= pte;
		if (__builtin_expect(
			    (pte & tmask) != (AMD_PR | (uint64_t)(level - 1) << AMD_NL_SHIFT), 0)) {
			if ((pte & p->lmask) != AMD_PR)
				return pt_leaf_none();
			return amd_leaf_word(pte, all, shift, level);
		}
		table = pte & AMD_ADDR;
	}
	if (!pt_peek(&win, table + 8 * ((iova >> 12) & 511), &pte) || (pte & p->lmask) != AMD_PR)
		return pt_leaf_none();
	return amd_leaf_word(pte, all & pte, 12, 1);
}

PT_FAST_LEVELS(amd_fast, 1)
PT_FAST_LEVELS(amd_fast, 2)
PT_FAST_LEVELS(amd_fast, 3)
PT_FAST_LEVELS(amd_fast, 4)
PT_FAST_LEVELS(amd_fast, 5)
PT_FAST_LEVELS(amd_fast, 6)

/* By level count (the DTE mode); check() allows 1 to 6. */
static const pt_fast_fn amd_fast[7] = { [1] = amd_fast1, [2] = amd_fast2, [3] = amd_fast3,
					[4] = amd_fast4, [5] = amd_fast5, [6] = amd_fast6 };

PT_LEAF_LEVELS(amd_leaf, 1)
PT_LEAF_LEVELS(amd_leaf, 2)
PT_LEAF_LEVELS(amd_leaf, 3)
PT_LEAF_LEVELS(amd_leaf, 4)
PT_LEAF_LEVELS(amd_leaf, 5)
PT_LEAF_LEVELS(amd_leaf, 6)

static const pt_leaf_fn amd_leaf[7] = { [1] = amd_leaf1, [2] = amd_leaf2, [3] = amd_leaf3,
					[4] = amd_leaf4, [5] = amd_leaf5, [6] = amd_leaf6 };

PT_DEFINE_WALK(amd_walk, pt_geo_radix4k, amd_decode, amd_update)

const struct pt_fmt vi_pt_fmt_amd_v1 = {
	.name = "amd-v1",
	.walk = amd_walk,
	.plan = amd_plan,
	.check = amd_check,
	.geo = pt_geo_radix4k,
	.decode = amd_decode,
	.update = amd_update,
	.leaf_ok = amd_leaf_ok,
	.mk_table = amd_mk_table,
	.mk_leaf = amd_mk_leaf,
};
