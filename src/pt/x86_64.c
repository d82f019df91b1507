// SPDX-License-Identifier: MIT
/*
 * x86-64 paging for first-level / AMD v2 tables (see x86_64.h for the specification sections).
 */
#include "pt_fast.h"
#include "x86_64.h"

static int x86_check(const struct viommu_pt_cfg *cfg)
{
	if (cfg->levels < 4 || cfg->levels > 5 || (cfg->oas && (cfg->oas < 32 || cfg->oas > 52)) ||
	    (cfg->root & 0xfff))
		return VIOMMU_EINVAL;
	return 0;
}

static bool x86_geo(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		    struct viommu_pt_walk_result *res)
{
	unsigned int ias = 12 + 9 * cfg->levels;
	uint64_t half = VI_BIT(ias - 1);

	g->root = cfg->root;
	g->levels = cfg->levels;
	g->gran = 12;
	g->bpl = 9;
	g->top_bits = 9;
	/* Canonical: bits 63:ias-1 all equal. */
	if (iova < half) {
		g->lo = 0;
		g->hi = half - 1;
		return true;
	}
	if (iova >= 0 - half) {
		g->lo = 0 - half;
		g->hi = UINT64_MAX;
		return true;
	}
	g->lo = half;
	g->hi = (0 - half) - 1;
	res->fault = VIOMMU_FAULT_ADDR_SIZE;
	res->detail = VIOMMU_PT_D_NONCANONICAL;
	return false;
}

static void x86_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g, unsigned int level,
		       uint64_t pte, uint32_t access, struct pt_ent *e)
{
	uint64_t rsvd = pt_above_oas(pt_oas(cfg, 52));
	bool leaf = level == 1 || (pte & X86_PS);
	bool priv = access & VIOMMU_ACC_PRIV;

	e->kind = PT_K_INVALID;
	if (!(pte & X86_P))
		return;
	if (!(cfg->flags & VIOMMU_PT_F_NXE))
		rsvd |= X86_XD;
	if (pte & rsvd) {
		pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD);
		return;
	}
	if (leaf && level > 1) {
		if (level > 3 || (level == 3 && !(cfg->flags & VIOMMU_PT_F_SP_1G))) {
			pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF);
			return;
		}
		/* Bit 12 is PAT; the address bits above it up to the page size are reserved. */
		if (pte & VI_GENMASK(pt_lvl_shift(g, level) - 1, 13)) {
			pt_ent_fault(e, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD);
			return;
		}
	}
	e->perm = VIOMMU_ACC_READ;
	if ((pte & X86_RW) || (priv && !(cfg->flags & VIOMMU_PT_F_WP)))
		e->perm |= VIOMMU_ACC_WRITE;
	if (!(pte & X86_XD))
		e->perm |= VIOMMU_ACC_EXEC;
	if (priv || (pte & X86_US))
		e->perm |= PT_PERM_ACCESS;
	if (leaf) {
		e->kind = PT_K_LEAF;
		e->shift = (uint8_t)pt_lvl_shift(g, level);
		e->addr = pte & X86_ADDR & ~(VI_BIT(e->shift) - 1);
		e->attr = (pte & X86_G) ? VIOMMU_PT_ATTR_GLOBAL : 0;
	} else {
		e->kind = PT_K_TABLE;
		e->next = (uint8_t)(level - 1);
		e->addr = pte & X86_ADDR;
	}
}

/* The x86 walk always sets A in the entries it used and D in the leaf it wrote through. */
static uint64_t x86_update(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
			   uint64_t pte, uint32_t access)
{
	(void)cfg;
	(void)level;
	pte |= X86_A;
	if (leaf && (access & VIOMMU_ACC_WRITE))
		pte |= X86_D;
	return pte;
}

static bool x86_leaf_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	return level <= 2 || (level == 3 && (cfg->flags & VIOMMU_PT_F_SP_1G));
}

static uint64_t x86_mk_table(const struct viommu_pt_cfg *cfg, unsigned int level, uint64_t table)
{
	(void)cfg;
	(void)level;
	return table | X86_P | X86_RW | X86_US;
}

static uint64_t x86_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			    unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = out | X86_P;

	(void)g;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= X86_RW;
	if (!(perm & VIOMMU_ACC_PRIV))
		pte |= X86_US;
	if (!(perm & VIOMMU_ACC_EXEC) && (cfg->flags & VIOMMU_PT_F_NXE))
		pte |= X86_XD;
	if (level > 1)
		pte |= X86_PS;
	return pte;
}

static const pt_fast_fn x86_fast[6];

/* The masks x86_decode() applies, once. */
static void x86_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	pt_plan_radix4k(cfg, p, x86_fast[cfg->levels], x86_leaf_ok);
	p->trsvd = pt_above_oas(pt_oas(cfg, 52));
	if (!(cfg->flags & VIOMMU_PT_F_NXE))
		p->trsvd |= X86_XD;
	p->lrsvd = p->trsvd;
	p->tmask = p->trsvd | X86_PS | X86_P;
	p->lmask = p->lrsvd | X86_P;
}

/*
 * The end of a fast walk at a leaf of 2^@shift bytes at @level. Rights are the AND over the
 * entries (@all) and their OR (@any): W where every R/W is set (or a privileged access without
 * WP), X where no XD is, user access where every U/S is. @checked: the walk already found U/S
 * (for an unprivileged access) and A in every entry.
 */
static inline __attribute__((always_inline)) int
x86_fast_leaf(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, uint64_t pte, uint64_t all, uint64_t any,
	      unsigned int shift, unsigned int level, bool checked)
{
	bool priv = access & VIOMMU_ACC_PRIV;
	uint32_t perm = VIOMMU_ACC_READ;
	uint64_t mask = VI_BIT(shift) - 1;

	if (!checked && ((!priv && !(all & X86_US)) || ((access & PT_PERM_RWX) && !(all & X86_A))))
		return pt_fast_fail(p, sp, iova, access, res);
	if ((all & X86_RW) || (priv && !(p->flags & VIOMMU_PT_F_WP)))
		perm |= VIOMMU_ACC_WRITE;
	if (!(any & X86_XD))
		perm |= VIOMMU_ACC_EXEC;
	if ((access & PT_PERM_RWX & ~perm) || ((access & VIOMMU_ACC_WRITE) && !(pte & X86_D)))
		return pt_fast_fail(p, sp, iova, access, res);
	return pt_fast_ok(res, (pte & X86_ADDR & ~mask) | (iova & mask), pte, perm, shift,
			  (pte & X86_G) ? VIOMMU_PT_ATTR_GLOBAL : 0, level);
}

/*
 * The common case: canonical input, tables down to a leaf (a 4 KiB page, or in the cold branch
 * a large page the configuration allows) with A (and D) already set; one test per entry: the
 * plan's @tmask (P, no PS, no reserved bit; @lmask: P, no reserved bit) with A and, for an
 * unprivileged access, U/S.
 */
static inline __attribute__((always_inline)) int
x86_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	   struct viommu_pt_walk_result *res, const unsigned int levels)
{
	const uint64_t need = X86_P | X86_A | ((access & VIOMMU_ACC_PRIV) ? 0 : X86_US);
	const uint64_t tmask = p->tmask | need, lmask = p->lmask | need;
	unsigned int shift = 12 + 9 * (levels - 1), level = levels;
	uint64_t table = p->root[0], all = ~0ull, any = 0, pte;

	/* Canonical: bits 63:ias-1 all equal, i.e. iova + 2^(ias-1) < 2^ias. */
	if (iova + VI_BIT(shift + 8) >= VI_BIT(shift + 9))
		return pt_fast_fail(p, sp, iova, access, res);
#pragma GCC unroll 5
	for (; level > 1; shift -= 9, level--) {
		if (!pt_load(sp, &sp->win, table + 8 * ((iova >> shift) & 511), &pte))
			return pt_fast_fail(p, sp, iova, access, res);
		all &= pte;
		any |= pte;
		if (__builtin_expect((pte & tmask) != need, 0)) {
			/* Bit 12 is PAT; the address bits above it below the page size: reserved. */
			if ((pte & (p->lrsvd | X86_PS | X86_P)) != (X86_PS | X86_P) ||
			    !(p->leaf_levels & (1u << level)) || (pte & VI_GENMASK(shift - 1, 13)))
				return pt_fast_fail(p, sp, iova, access, res);
			return x86_fast_leaf(p, sp, iova, access, res, pte, all, any, shift, level,
					     false);
		}
		table = pte & X86_ADDR;
	}
	if (!pt_load(sp, &sp->win, table + 8 * ((iova >> 12) & 511), &pte) || (pte & lmask) != need)
		return pt_fast_fail(p, sp, iova, access, res);
	all &= pte;
	any |= pte;
	return x86_fast_leaf(p, sp, iova, access, res, pte, all, any, 12, 1, true);
}

PT_FAST_LEVELS(x86_fast, 4)
PT_FAST_LEVELS(x86_fast, 5)

/* By level count; check() allows 4 and 5. */
static const pt_fast_fn x86_fast[6] = { [4] = x86_fast4, [5] = x86_fast5 };

PT_DEFINE_WALK(x86_walk, x86_geo, x86_decode, x86_update)

const struct pt_fmt vi_pt_fmt_x86_64 = {
	.name = "x86-64",
	.walk = x86_walk,
	.plan = x86_plan,
	.check = x86_check,
	.geo = x86_geo,
	.decode = x86_decode,
	.update = x86_update,
	.leaf_ok = x86_leaf_ok,
	.mk_table = x86_mk_table,
	.mk_leaf = x86_mk_leaf,
};
