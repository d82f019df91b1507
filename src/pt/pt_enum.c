// SPDX-License-Identifier: MIT
/*
 * Enumeration (viommu_pt_for_each), written once over the format ops.
 */
#include "pt_fmt.h"

/* Input address of entry 0 of the root table of @g's region. */
static uint64_t pt_top_base(const struct pt_geo *g)
{
	unsigned int bits = pt_lvl_shift(g, g->levels) + g->top_bits;

	return bits >= 64 ? 0 : g->lo & ~(VI_BIT(bits) - 1);
}

struct pt_iter {
	const struct pt_fmt *f;
	const struct viommu_pt_cfg *cfg;
	struct vi_dmem m;
	const struct pt_geo *g;
	uint32_t access;
	viommu_pt_leaf_fn fn;
	void *opaque;
	uint64_t reads_left; /* bounds the work a guest's aliased tables can cause */
};

/*
 * Visit the entries of the table at @level whose input range [base + i * span, ...) meets
 * [first, last]; @first and @last lie inside the table's own range. Recursion depth is bounded
 * by the level count since the level strictly decreases.
 */
static int pt_iter_table(struct pt_iter *it, uint64_t table, unsigned int level, uint64_t base,
			 uint64_t first, uint64_t last, uint32_t perm)
{
	unsigned int shift = pt_lvl_shift(it->g, level);
	uint64_t i0 = (first - base) >> shift, i1 = (last - base) >> shift;

	for (uint64_t i = i0; i <= i1; i++) {
		uint64_t ebase = base + (i << shift);
		uint64_t elast = ebase + (VI_BIT(shift) - 1);
		uint64_t lo = first > ebase ? first : ebase, hi = last < elast ? last : elast;
		struct pt_ent e;
		uint64_t pte;
		int ret;

		if (!it->reads_left--)
			return VIOMMU_E2BIG;
		if (vi_dm_read64(&it->m, table + 8 * i, &pte))
			return 0; /* the rest of this table is outside guest memory too */
		it->f->decode(it->cfg, it->g, level, pte, it->access, &e);
		if (e.kind == PT_K_LEAF) {
			uint32_t p = perm & e.perm;
			uint64_t off = lo & (VI_BIT(e.shift) - 1);

			if (p & PT_PERM_ACCESS) {
				ret = it->fn(it->opaque, lo, hi - lo + 1, e.addr | off,
					     p & PT_PERM_RWX);
				if (ret)
					return ret;
			}
		} else if (e.kind == PT_K_TABLE && e.next && e.next < level) {
			/* After skipped levels only the bottom of the entry's range is reachable. */
			uint64_t reach = ebase + (VI_BIT(pt_lvl_shift(it->g, e.next + 1)) - 1);

			if (lo <= reach) {
				ret = pt_iter_table(it, e.addr, e.next, ebase, lo,
						    hi < reach ? hi : reach, perm & e.perm);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

int viommu_pt_for_each(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
		       void *opaque, uint64_t first, uint64_t last, uint32_t access,
		       viommu_pt_leaf_fn fn, void *fn_opaque)
{
	const struct pt_fmt *f = pt_fmt_of(cfg);
	const struct viommu_host h = { host, opaque };
	struct pt_iter it = { .f = f,
			      .cfg = cfg,
			      .access = access & VIOMMU_ACC_PRIV,
			      .fn = fn,
			      .opaque = fn_opaque,
			      .reads_left = VIOMMU_PT_MAX_ENUM_READS };
	uint64_t cur = first;

	if (!f || !host || !host->dma_read || !fn || first > last)
		return VIOMMU_EINVAL;
	vi_dmem_init(&it.m, &h);
	/* One pass per input region (two for TTB0/TTB1 and the canonical halves). */
	for (;;) {
		struct viommu_pt_walk_result res;
		struct pt_geo g;
		uint64_t end;
		int ret;

		if (f->geo(cfg, cur, &g, &res)) {
			end = last < g.hi ? last : g.hi;
			it.g = &g;
			ret = pt_iter_table(&it, g.root, g.levels, pt_top_base(&g), cur, end,
					    PT_PERM_ALL);
			if (ret)
				return ret;
		} else {
			end = last < g.hi ? last : g.hi;
		}
		if (end == last)
			return 0;
		cur = end + 1;
	}
}
