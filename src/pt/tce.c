// SPDX-License-Identifier: MIT
/*
 * Calgary TCE tables (see tce.h for the sources). Calgary stores them big-endian
 * (VIOMMU_PT_F_BE); the little-endian form is kept for the format's earlier users.
 */
#include "pt_fast.h"
#include "tce.h"

static int tce_check(const struct viommu_pt_cfg *cfg)
{
	if (cfg->tce_size > TCE_MAX_SIZE_CODE || (cfg->oas && (cfg->oas < 32 || cfg->oas > 48)) ||
	    (cfg->root & 0xfff))
		return VIOMMU_EINVAL;
	return 0;
}

static bool tce_geo(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		    struct viommu_pt_walk_result *res)
{
	unsigned int ias = 12 + TCE_ENTRIES_LOG2(cfg->tce_size);

	g->root = cfg->root;
	g->levels = 1;
	g->gran = 12;
	g->bpl = 0;
	g->top_bits = (uint8_t)TCE_ENTRIES_LOG2(cfg->tce_size);
	return pt_geo_below(g, ias, iova, res);
}

static void tce_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g, unsigned int level,
		       uint64_t pte, uint32_t access, struct pt_ent *e)
{
	(void)g;
	(void)level;
	(void)access;
	if (cfg->flags & VIOMMU_PT_F_BE)
		pte = __builtin_bswap64(pte);
	e->kind = PT_K_INVALID;
	if (!(pte & (TCE_READ | TCE_WRITE)))
		return;
	if (pte & TCE_RPN & pt_above_oas(pt_oas(cfg, 48))) {
		pt_ent_fault(e, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_OUTPUT_SIZE);
		return;
	}
	e->kind = PT_K_LEAF;
	e->perm = PT_PERM_ACCESS;
	if (pte & TCE_READ)
		e->perm |= VIOMMU_ACC_READ | VIOMMU_ACC_EXEC;
	if (pte & TCE_WRITE)
		e->perm |= VIOMMU_ACC_WRITE;
	e->shift = 12;
	e->addr = pte & TCE_RPN;
	e->attr = 0;
}

static bool tce_leaf_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	(void)cfg;
	return level == 1;
}

static uint64_t tce_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			    unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = out;

	(void)cfg;
	(void)g;
	(void)level;
	if (perm & (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC))
		pte |= TCE_READ;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= TCE_WRITE;
	/* The builder stores entries little-endian: hand it the big-endian bytes. */
	return cfg->flags & VIOMMU_PT_F_BE ? __builtin_bswap64(pte) : pte;
}

static int tce_fast(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		    struct viommu_pt_walk_result *res);

static void tce_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	p->fast = tce_fast;
	p->root[0] = cfg->root;
	p->last = VI_BIT(12 + TCE_ENTRIES_LOG2(cfg->tce_size)) - 1;
	p->lrsvd = TCE_RPN & pt_above_oas(pt_oas(cfg, 48));
	p->flags = cfg->flags;
}

/*
 * The common case: one present entry inside the output size, with the rights asked for. Read
 * (bit 0) grants read and execute, write (bit 1) write: as VIOMMU_ACC_READ/EXEC and _WRITE.
 */
_Static_assert(TCE_READ == VIOMMU_ACC_READ && TCE_WRITE == VIOMMU_ACC_WRITE, "TCE rights");

static int tce_fast(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		    struct viommu_pt_walk_result *res)
{
	uint64_t pte, raw;
	uint32_t perm;

	if (iova > p->last || !pt_load(sp, &sp->win, p->root[0] + 8 * (iova >> 12), &raw))
		return pt_fast_fail(p, sp, iova, access, res);
	pte = p->flags & VIOMMU_PT_F_BE ? __builtin_bswap64(raw) : raw;
	if (!(pte & (TCE_READ | TCE_WRITE)) || (pte & p->lrsvd))
		return pt_fast_fail(p, sp, iova, access, res);
	perm = (uint32_t)((pte & TCE_READ) * (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC) |
			  (pte & TCE_WRITE));
	if (access & PT_PERM_RWX & ~perm)
		return pt_fast_fail(p, sp, iova, access, res);
	return pt_fast_ok(res, (pte & TCE_RPN) | (iova & 0xfff), raw, perm, 12, 0, 1);
}

PT_DEFINE_WALK(tce_walk, tce_geo, tce_decode, NULL)

const struct pt_fmt vi_pt_fmt_tce = {
	.name = "tce",
	.walk = tce_walk,
	.plan = tce_plan,
	.check = tce_check,
	.geo = tce_geo,
	.decode = tce_decode,
	.update = NULL,
	.leaf_ok = tce_leaf_ok,
	.mk_table = NULL, /* one level, no tables below the root */
	.mk_leaf = tce_mk_leaf,
};
