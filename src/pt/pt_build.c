// SPDX-License-Identifier: MIT
/*
 * The builder (viommu_pt_create/map/unmap), written once over the format ops: plays the guest
 * driver.
 */
#include <stdlib.h>
#include <string.h>

#include "pt_fmt.h"

struct viommu_pt {
	struct viommu_pt_cfg cfg;
	const struct pt_fmt *f;
	struct viommu_host h;
	struct vi_dmem m; /* set up again by each call: the host's pointers last one call */
	uint64_t pgsizes;
	struct viommu_pt_alloc_ops alloc;
	void *alloc_opaque;
};

static int pt_alloc_table(struct viommu_pt *pt, uint64_t bytes, uint64_t *gpa)
{
	static const uint8_t zero[4096];
	int ret = pt->alloc.alloc(pt->alloc_opaque, bytes, gpa);
	uint8_t *p;

	if (ret)
		return ret < 0 ? ret : VIOMMU_ENOMEM;
	if (*gpa & (bytes - 1)) {
		pt->alloc.free(pt->alloc_opaque, *gpa, bytes);
		return VIOMMU_EINVAL;
	}
	/* Not linked into the tables yet: nobody else reads it, plain stores will do. */
	p = vi_dm_ptr(&pt->m, *gpa, bytes, true);
	if (p) {
		memset(p, 0, bytes);
		return 0;
	}
	for (uint64_t off = 0; off < bytes; off += sizeof(zero)) {
		ret = vi_write(&pt->h, *gpa + off, zero, sizeof(zero));
		if (ret) {
			pt->alloc.free(pt->alloc_opaque, *gpa, bytes);
			return ret;
		}
	}
	return 0;
}

/*
 * True when every entry of [table, table + bytes) is zero; false on a read failure too. Reads a
 * few cache lines at a time, so a table that still holds entries is usually told quickly.
 */
static bool pt_table_empty(struct viommu_pt *pt, uint64_t table, uint64_t bytes)
{
	const uint8_t *p = vi_dm_ptr(&pt->m, table, bytes, false);
	uint64_t buf[32];

	/* The builder's own tables: plain loads, OR-ed a few lines at a time (vectorised). */
	if (p && !((uintptr_t)p & 7)) {
		const vi_u64_alias *q = (const vi_u64_alias *)p;

		for (uint64_t i = 0; i < bytes / 8; i += 32) {
			uint64_t acc = 0;

			for (unsigned int j = 0; j < 32; j++)
				acc |= q[i + j];
			if (acc)
				return false;
		}
		return true;
	}
	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		if (vi_read(&pt->h, table + off, buf, sizeof(buf)))
			return false;
		for (size_t i = 0; i < VI_ARRAY_SIZE(buf); i++) {
			if (buf[i])
				return false;
		}
	}
	return true;
}

/* Free the tables below the table at @level, then the table itself. */
static void pt_free_tree(struct viommu_pt *pt, const struct pt_geo *g, uint64_t table,
			 unsigned int level)
{
	uint64_t n = VI_BIT(pt_lvl_bits(g, level));

	for (uint64_t i = 0; level > 1 && i < n; i++) {
		struct pt_ent e;
		uint64_t pte;

		if (vi_dm_read64(&pt->m, table + 8 * i, &pte))
			break;
		pt->f->decode(&pt->cfg, g, level, pte, VIOMMU_ACC_PRIV, &e);
		if (e.kind == PT_K_TABLE && e.next == level - 1)
			pt_free_tree(pt, g, e.addr, level - 1);
	}
	pt->alloc.free(pt->alloc_opaque, table, pt_table_bytes(g, level));
}

/* Root geometry of each input region (two for Arm TTB0/TTB1 and the x86 canonical halves). */
static unsigned int pt_regions(const struct viommu_pt *pt, struct pt_geo g[2])
{
	struct viommu_pt_walk_result res;
	struct pt_geo t;
	unsigned int n = 0;
	uint64_t cur = 0;

	for (int i = 0; i < 4 && n < 2; i++) {
		if (pt->f->geo(&pt->cfg, cur, &t, &res))
			g[n++] = t;
		if (t.hi == UINT64_MAX)
			break;
		cur = t.hi + 1;
	}
	return n;
}

/* The page sizes the builder can use; fixed by the configuration, so worked out once. */
static uint64_t pt_calc_pgsizes(const struct viommu_pt *pt)
{
	struct pt_geo g[2];
	uint64_t sizes = 0;
	unsigned int n = pt_regions(pt, g);

	for (unsigned int r = 0; r < n; r++) {
		for (unsigned int l = 1; l <= g[r].levels; l++) {
			if (pt->f->leaf_ok(&pt->cfg, l) && pt_lvl_shift(&g[r], l) < 64)
				sizes |= VI_BIT(pt_lvl_shift(&g[r], l));
		}
	}
	return sizes;
}

int viommu_pt_create(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
		     void *opaque, const struct viommu_pt_alloc_ops *alloc, void *alloc_opaque,
		     struct viommu_pt **out)
{
	struct viommu_pt_cfg c;
	struct viommu_pt *pt;
	struct pt_geo g;
	struct viommu_pt_walk_result res;
	bool have_root = false;
	int ret;

	if (!cfg || !host || !host->dma_read || !host->dma_write || !alloc || !alloc->alloc ||
	    !alloc->free || !out)
		return VIOMMU_EINVAL;
	c = *cfg;
	c.root = 0;
	c.root1 = 0;
	if (!pt_fmt_of(&c))
		return VIOMMU_EINVAL;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return VIOMMU_ENOMEM;
	pt->cfg = c;
	pt->f = vi_pt_formats[c.format];
	pt->h.ops = host;
	pt->h.opaque = opaque;
	vi_dmem_init(&pt->m, &pt->h);
	pt->alloc = *alloc;
	pt->alloc_opaque = alloc_opaque;

	/* Allocate the root of each region: TTB0 (or the only root) first, then TTB1. */
	if (!(c.format == VIOMMU_PT_ARM_S1 && (c.flags & VIOMMU_PT_F_NO_TTB0))) {
		pt->f->geo(&pt->cfg, 0, &g, &res);
		ret = pt_alloc_table(pt, pt_table_bytes(&g, g.levels), &pt->cfg.root);
		if (ret)
			goto err;
		have_root = true;
	}
	if (c.format == VIOMMU_PT_ARM_S1 && (c.flags & VIOMMU_PT_F_TTB1)) {
		pt->f->geo(&pt->cfg, UINT64_MAX, &g, &res);
		ret = pt_alloc_table(pt, pt_table_bytes(&g, g.levels), &pt->cfg.root1);
		if (ret)
			goto err;
	}
	pt->pgsizes = pt_calc_pgsizes(pt);
	*out = pt;
	return 0;
err:
	if (have_root) {
		pt->f->geo(&pt->cfg, 0, &g, &res);
		pt->alloc.free(alloc_opaque, pt->cfg.root, pt_table_bytes(&g, g.levels));
	}
	free(pt);
	return ret;
}

void viommu_pt_destroy(struct viommu_pt *pt)
{
	struct pt_geo g[2];
	unsigned int n;

	if (!pt)
		return;
	vi_dmem_init(&pt->m, &pt->h);
	n = pt_regions(pt, g);
	for (unsigned int i = 0; i < n; i++) {
		/* The x86 canonical halves share one root. */
		if (i == 0 || g[i].root != g[0].root)
			pt_free_tree(pt, &g[i], g[i].root, g[i].levels);
	}
	free(pt);
}

const struct viommu_pt_cfg *viommu_pt_get_cfg(const struct viommu_pt *pt)
{
	return pt ? &pt->cfg : NULL;
}

uint64_t viommu_pt_pgsizes(const struct viommu_pt *pt)
{
	return pt ? pt->pgsizes : 0;
}

/* Undo the tables one pt_install() call allocated: @n tables, parents' entries at @slot[]. */
static void pt_undo_tables(struct viommu_pt *pt, const struct pt_geo *g, const uint64_t *table,
			   const uint64_t *slot, const unsigned int *level, unsigned int n)
{
	while (n--) {
		vi_dm_write64(&pt->m, slot[n], 0);
		pt->alloc.free(pt->alloc_opaque, table[n], pt_table_bytes(g, level[n]));
	}
}

/* Install one leaf of the size of @target at @iova, allocating the tables above it. */
static int pt_install(struct viommu_pt *pt, const struct pt_geo *g, uint64_t iova, uint64_t out,
		      unsigned int target, uint32_t perm)
{
	uint64_t new_table[VIOMMU_PT_MAX_LEVELS], new_slot[VIOMMU_PT_MAX_LEVELS];
	unsigned int new_level[VIOMMU_PT_MAX_LEVELS], nnew = 0;
	uint64_t table = g->root;
	unsigned int level = g->levels;
	struct pt_ent e;
	uint64_t a, pte;
	int ret;

	for (;; level--) {
		a = table + 8 * pt_index(g, level, iova);
		ret = vi_dm_read64(&pt->m, a, &pte);
		if (ret)
			goto undo;
		pt->f->decode(&pt->cfg, g, level, pte, VIOMMU_ACC_PRIV, &e);
		if (level == target)
			break;
		if (e.kind == PT_K_INVALID) {
			uint64_t t;

			ret = pt_alloc_table(pt, pt_table_bytes(g, level - 1), &t);
			if (ret)
				goto undo;
			ret = vi_dm_write64(&pt->m, a, pt->f->mk_table(&pt->cfg, level - 1, t));
			if (ret) {
				pt->alloc.free(pt->alloc_opaque, t, pt_table_bytes(g, level - 1));
				goto undo;
			}
			new_table[nnew] = t;
			new_slot[nnew] = a;
			new_level[nnew++] = level - 1;
			table = t;
		} else if (e.kind == PT_K_TABLE && e.next == level - 1) {
			table = e.addr;
		} else {
			ret = e.kind == PT_K_LEAF ? VIOMMU_EEXIST : VIOMMU_EIO;
			goto undo;
		}
	}
	if (e.kind != PT_K_INVALID) {
		ret = e.kind == PT_K_FAULT ? VIOMMU_EIO : VIOMMU_EEXIST;
		goto undo;
	}
	ret = vi_dm_write64(&pt->m, a, pt->f->mk_leaf(&pt->cfg, g, level, out, perm));
	if (!ret)
		return 0;
undo:
	pt_undo_tables(pt, g, new_table, new_slot, new_level, nnew);
	return ret;
}

static int pt_unmap_range(struct viommu_pt *pt, uint64_t iova, uint64_t last, uint64_t *removed);

int viommu_pt_map(struct viommu_pt *pt, uint64_t iova, uint64_t out, uint64_t size, uint32_t perm,
		  uint64_t pgsizes)
{
	uint64_t sizes, min, done = 0;
	struct pt_geo g;
	struct viommu_pt_walk_result res;

	if (!pt || size == 0 || !vi_range_ok(iova, size) || !vi_range_ok(out, size) ||
	    !(perm & VIOMMU_ACC_RW) || (perm & ~(PT_PERM_RWX | VIOMMU_ACC_PRIV)))
		return VIOMMU_EINVAL;
	sizes = pt->pgsizes;
	if (pgsizes)
		sizes &= pgsizes;
	if (!sizes)
		return VIOMMU_EINVAL;
	vi_dmem_init(&pt->m, &pt->h);
	min = sizes & -sizes;
	if ((iova | out | size) & (min - 1))
		return VIOMMU_EINVAL;
	/* The whole range must lie in one input region. */
	if (!pt->f->geo(&pt->cfg, iova, &g, &res) || iova + (size - 1) > g.hi)
		return VIOMMU_EINVAL;

	while (done < size) {
		uint64_t cur = iova + done, o = out + done, left = size - done;
		unsigned int target = 0;
		int ret;

		for (unsigned int l = g.levels; l >= 1; l--) {
			unsigned int s = pt_lvl_shift(&g, l);

			if (s < 64 && (sizes & VI_BIT(s)) && pt->f->leaf_ok(&pt->cfg, l) &&
			    !((cur | o) & (VI_BIT(s) - 1)) && left >= VI_BIT(s)) {
				target = l;
				break;
			}
		}
		ret = target ? pt_install(pt, &g, cur, o, target, perm) : VIOMMU_EINVAL;
		if (ret) {
			uint64_t removed;

			if (done)
				pt_unmap_range(pt, iova, iova + done - 1, &removed);
			return ret;
		}
		done += VI_BIT(pt_lvl_shift(&g, target));
	}
	return 0;
}

/*
 * Remove the leaves in [iova, last], freeing tables that become empty. The caller made sure no
 * leaf straddles either end.
 */
static int pt_unmap_range(struct viommu_pt *pt, uint64_t iova, uint64_t last, uint64_t *removed)
{
	uint64_t cur = iova;

	*removed = 0;
	for (;;) {
		uint64_t table[VIOMMU_PT_MAX_LEVELS + 1], slot[VIOMMU_PT_MAX_LEVELS + 1];
		struct viommu_pt_walk_result res;
		struct pt_geo g;
		unsigned int level;
		uint64_t next;
		struct pt_ent e;
		int ret;

		if (!pt->f->geo(&pt->cfg, cur, &g, &res)) {
			next = g.hi;
			goto advance;
		}
		level = g.levels;
		table[level] = g.root;
		for (;;) {
			uint64_t pte;
			unsigned int shift = pt_lvl_shift(&g, level);

			slot[level] = table[level] + 8 * pt_index(&g, level, cur);
			ret = vi_dm_read64(&pt->m, slot[level], &pte);
			if (ret)
				return ret;
			pt->f->decode(&pt->cfg, &g, level, pte, VIOMMU_ACC_PRIV, &e);
			next = cur | (VI_BIT(shift) - 1);
			if (e.kind == PT_K_TABLE && e.next == level - 1) {
				table[--level] = e.addr;
				continue;
			}
			if (e.kind == PT_K_INVALID)
				break;
			if (e.kind != PT_K_LEAF)
				return VIOMMU_EIO;
			ret = vi_dm_write64(&pt->m, slot[level], 0);
			if (ret)
				return ret;
			*removed += VI_BIT(shift);
			/* Free the tables this emptied, never the root. */
			while (level < g.levels &&
			       pt_table_empty(pt, table[level], pt_table_bytes(&g, level))) {
				ret = vi_dm_write64(&pt->m, slot[level + 1], 0);
				if (ret)
					return ret;
				pt->alloc.free(pt->alloc_opaque, table[level],
					       pt_table_bytes(&g, level));
				level++;
			}
			break;
		}
advance:
		if (next >= last)
			return 0;
		cur = next + 1;
	}
}

int viommu_pt_unmap(struct viommu_pt *pt, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct viommu_pt_walk_result r;
	uint64_t last, removed = 0, mask;
	int ret;

	if (unmapped)
		*unmapped = 0;
	if (!pt || size == 0 || !vi_range_ok(iova, size))
		return VIOMMU_EINVAL;
	last = iova + (size - 1);
	/* Only the leaves holding the two ends can straddle the range. */
	vi_dmem_init(&pt->m, &pt->h);
	pt->f->walk(&pt->cfg, &pt->m, iova, VIOMMU_ACC_PRIV, &r);
	mask = VI_BIT(r.page_shift) - 1;
	if (r.fault == VIOMMU_FAULT_NONE && ((iova & mask) || last - iova < mask))
		return VIOMMU_ERANGE;
	pt->f->walk(&pt->cfg, &pt->m, last, VIOMMU_ACC_PRIV, &r);
	mask = VI_BIT(r.page_shift) - 1;
	if (r.fault == VIOMMU_FAULT_NONE && (last & mask) != mask)
		return VIOMMU_ERANGE;
	ret = pt_unmap_range(pt, iova, last, &removed);
	if (unmapped)
		*unmapped = removed;
	return ret;
}
