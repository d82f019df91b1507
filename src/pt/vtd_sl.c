// SPDX-License-Identifier: MIT
/*
 * VT-d second-level tables (see vtd_sl.h for the specification sections).
 */
#include "pt_internal.h"
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
	uint64_t rsvd = pt_above_oas(pt_oas(cfg, 52)) | VTD_SL_TM;
	bool leaf = level == 1 || (pte & VTD_SL_PS);

	(void)access;
	e->kind = PT_K_INVALID;
	if (!(pte & (VTD_SL_R | VTD_SL_W)))
		return;
	if (!leaf || !(cfg->flags & VIOMMU_PT_F_SNP))
		rsvd |= VTD_SL_SNP;
	if (leaf && (cfg->flags & VIOMMU_PT_F_STALE_TM))
		rsvd &= ~VTD_SL_TM;
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
	if (pte & VTD_SL_R)
		e->perm |= VIOMMU_ACC_READ;
	if (pte & VTD_SL_W)
		e->perm |= VIOMMU_ACC_WRITE;
	if (pte & VTD_SL_X)
		e->perm |= VIOMMU_ACC_EXEC;
	e->addr = pte & VTD_SL_ADDR;
	if (leaf) {
		e->kind = PT_K_LEAF;
		e->shift = (uint8_t)pt_lvl_shift(g, level);
		e->attr = (pte & VTD_SL_SNP) ? VIOMMU_PT_ATTR_SNP : 0;
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
	pte |= VTD_SL_A;
	if (leaf && (access & VIOMMU_ACC_WRITE))
		pte |= VTD_SL_D;
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
	return table | VTD_SL_R | VTD_SL_W | VTD_SL_X;
}

static uint64_t vtd_sl_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			       unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = out;

	(void)cfg;
	(void)g;
	if (perm & VIOMMU_ACC_READ)
		pte |= VTD_SL_R;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= VTD_SL_W;
	if (perm & VIOMMU_ACC_EXEC)
		pte |= VTD_SL_X;
	if (level > 1)
		pte |= VTD_SL_PS;
	return pte;
}

/*
 * A not-present entry (R = W = 0) ends the walk with no other check (§9.8: the other bits are
 * ignored), exactly as the full walk reports it; answering it here spares the full walk reading
 * the same entries again, which caching-mode syncs of unmapped ranges do all the time.
 */
static inline bool vtd_sl_fast_absent(struct viommu_pt_walk_result *res, uint64_t pte,
				      unsigned int level)
{
	memset(res, 0, sizeof(*res));
	res->level = level;
	res->pte = pte;
	pt_fault(res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT);
	return true;
}

/*
 * The common case: tables down to a 4 KiB leaf (a superpage is left to the full walk), the masks
 * vtd_sl_decode() applies at each level computed once.
 */
static inline bool vtd_sl_fast(const struct viommu_pt_cfg *cfg, struct vi_dmem *m, uint64_t iova,
			       uint32_t access, struct viommu_pt_walk_result *res)
{
	uint64_t above = pt_above_oas(pt_oas(cfg, 52));
	uint64_t trsvd = above | VTD_SL_TM | VTD_SL_SNP | VTD_SL_PS, lrsvd = above;
	struct pt_span sp;
	uint64_t table = cfg->root, all = ~0ull, pte;
	unsigned int shift = 12 + 9 * (cfg->levels - 1u);
	uint32_t perm;

	if (!(cfg->flags & VIOMMU_PT_F_STALE_TM))
		lrsvd |= VTD_SL_TM;
	if (!(cfg->flags & VIOMMU_PT_F_SNP))
		lrsvd |= VTD_SL_SNP;
	if (iova >> (shift + 9))
		return false;
	pt_span_get(&sp, m);
	for (; shift > 12; shift -= 9) {
		if (!pt_span_read(&sp, m, table + 8 * ((iova >> shift) & 511), &pte))
			return false;
		if (!(pte & (VTD_SL_R | VTD_SL_W)))
			return vtd_sl_fast_absent(res, pte, (shift - 12) / 9 + 1);
		if (pte & trsvd)
			return false;
		all &= pte;
		table = pte & VTD_SL_ADDR;
	}
	if (!pt_span_read(&sp, m, table + 8 * ((iova >> 12) & 511), &pte))
		return false;
	if (!(pte & (VTD_SL_R | VTD_SL_W)))
		return vtd_sl_fast_absent(res, pte, 1);
	if (pte & lrsvd)
		return false;
	all &= pte;
	/* R, W and X are bits 0-2, as VIOMMU_ACC_READ/WRITE/EXEC. */
	perm = (uint32_t)(all & (VTD_SL_R | VTD_SL_W | VTD_SL_X));
	if (access & PT_PERM_RWX & ~perm)
		return false;
	if ((cfg->flags & VIOMMU_PT_F_AD) && (access & PT_PERM_RWX) &&
	    (!(all & VTD_SL_A) || ((access & VIOMMU_ACC_WRITE) && !(pte & VTD_SL_D))))
		return false;
	pt_fast_ok(res, (pte & VTD_SL_ADDR) | (iova & 0xfff), pte, perm, 12,
		   (pte & VTD_SL_SNP) ? VIOMMU_PT_ATTR_SNP : 0, 1);
	return true;
}

PT_DEFINE_WALK(vtd_sl_walk, vtd_sl_check, pt_geo_radix4k, vtd_sl_decode, vtd_sl_update, vtd_sl_fast)

const struct pt_fmt pt_fmt_vtd_sl = {
	.name = "vtd-sl",
	.walk = vtd_sl_walk,
	.walk_full = vtd_sl_walk_full,
	.check = vtd_sl_check,
	.geo = pt_geo_radix4k,
	.decode = vtd_sl_decode,
	.update = vtd_sl_update,
	.leaf_ok = vtd_sl_leaf_ok,
	.mk_table = vtd_sl_mk_table,
	.mk_leaf = vtd_sl_mk_leaf,
};
