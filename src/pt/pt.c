// SPDX-License-Identifier: MIT
/*
 * The format table, and the walk, enumeration and builder written once over the format ops.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

static const struct pt_fmt *const pt_formats[VIOMMU_PT_NFORMATS] = {
	[VIOMMU_PT_VTD_SL] = &pt_fmt_vtd_sl, [VIOMMU_PT_X86_64] = &pt_fmt_x86_64,
	[VIOMMU_PT_AMD_V1] = &pt_fmt_amd_v1, [VIOMMU_PT_ARM_S1] = &pt_fmt_arm_s1,
	[VIOMMU_PT_ARM_S2] = &pt_fmt_arm_s2, [VIOMMU_PT_TCE] = &pt_fmt_tce,
};

static const struct pt_fmt *pt_fmt_of(const struct viommu_pt_cfg *cfg)
{
	const struct pt_fmt *f;

	if (!cfg || (unsigned int)cfg->format >= VIOMMU_PT_NFORMATS)
		return NULL;
	f = pt_formats[cfg->format];
	return !f || f->check(cfg) ? NULL : f;
}

int viommu_pt_cfg_check(const struct viommu_pt_cfg *cfg)
{
	return pt_fmt_of(cfg) ? 0 : VIOMMU_EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* Walk                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * Plans a walker keeps, direct-mapped by root: a model walking for a few domains in turn (one
 * per device) does not compile each of them again on every miss.
 */
#define PT_WALKER_PLANS 4

/* What a walk needs besides its plan: guest memory, and the span as the fast walk reads it. */
struct pt_walk_ctx {
	struct viommu_host h;
	struct vi_dmem m;  /* holds only spans the host marked stable between walks */
	struct pt_span sp; /* m's read span */
	bool refilled;	   /* this walk asked the host for a span already */
};

struct viommu_pt_walker {
	struct pt_walk_ctx c;
	struct pt_plan plan[PT_WALKER_PLANS];
};

static struct pt_walk_ctx *ctx_of(struct pt_span *sp)
{
	return (struct pt_walk_ctx *)((char *)sp - offsetof(struct pt_walk_ctx, sp));
}

/*
 * Copy @c's read span for the fast walk (an empty one misses every entry). Fast walks load
 * entries by aligned loads: a span whose host address is not 8-byte aligned where the guest
 * address is (a host the host ops doc asks not to be) is left to the full walk.
 */
static void ctx_sync_span(struct pt_walk_ctx *c)
{
	/* Unsigned arithmetic: the bias itself points nowhere. */
	uintptr_t bias = (uintptr_t)c->m.rbase - (uintptr_t)c->m.rlo;

	c->sp.miss = PT_SPAN_NO_MISS;
	if (c->m.rbase && !(bias & 7)) {
		c->sp.win.bias = bias;
		c->sp.win.lo = c->m.rlo;
		c->sp.win.lim = c->m.rlim;
	} else {
		c->sp.win.bias = 0;
		c->sp.win.lo = PT_SPAN_NO_MISS;
		c->sp.win.lim = 0;
	}
}

int pt_fast_none(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		 struct viommu_pt_walk_result *res)
{
	return pt_fast_fail(p, sp, iova, access, res);
}

/* The fast walk of a plan whose configuration was rejected. */
static int pt_fast_invalid(const struct pt_plan *p, struct pt_span *sp, uint64_t iova,
			   uint32_t access, struct viommu_pt_walk_result *res)
{
	(void)p;
	(void)sp;
	(void)iova;
	(void)access;
	(void)res;
	return VIOMMU_EINVAL;
}

/*
 * Compile @cfg (which @f's check accepted) into @p from scratch, so that no field a format does
 * not set holds anything but zero. The key is copied byte for byte, padding included, since the
 * walker compares it with memcmp().
 */
static void pt_plan_make(const struct pt_fmt *f, const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	memset(p, 0, sizeof(*p));
	f->plan(cfg, p);
	memcpy(&p->cfg, cfg, sizeof(*cfg));
}

/*
 * A walk the fast walk gave up on. When it stopped at an entry outside the span, ask the host
 * once for the span holding that entry and walk fast again: a host that grants whole RAM blocks
 * is then asked once per block (per walk when its spans last one call). Else the full walk,
 * which reads through the host ops whatever the spans. The spans the call used end with it.
 */
static int walker_fail(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		       struct viommu_pt_walk_result *res)
{
	struct pt_walk_ctx *c = ctx_of(sp);
	int ret;

	if (sp->miss != PT_SPAN_NO_MISS && !c->refilled && vi_dm_ptr(&c->m, sp->miss, 8, false)) {
		c->refilled = true;
		ctx_sync_span(c);
		ret = p->fast(p, sp, iova, access, res);
		c->refilled = false;
	} else {
		ret = pt_formats[p->cfg.format]->walk(&p->cfg, &c->m, iova, access, res);
	}
	vi_dmem_end_call(&c->m);
	ctx_sync_span(c);
	return ret;
}

static void ctx_init(struct pt_walk_ctx *c, const struct viommu_host_ops *host, void *opaque)
{
	c->h.ops = host;
	c->h.opaque = opaque;
	vi_dmem_init(&c->m, &c->h);
	c->sp.fallback = walker_fail;
	c->refilled = false;
	ctx_sync_span(c);
}

int viommu_pt_walker_create(const struct viommu_host_ops *host, void *opaque,
			    struct viommu_pt_walker **out)
{
	struct viommu_pt_walker *w;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	if (!host || !host->dma_read)
		return VIOMMU_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return VIOMMU_ENOMEM;
	ctx_init(&w->c, host, opaque);
	/*
	 * An empty slot: a key no valid configuration has, and a walk that refuses, should a caller
	 * pass that very (invalid) configuration.
	 */
	for (int i = 0; i < PT_WALKER_PLANS; i++) {
		w->plan[i].cfg.format = VIOMMU_PT_NFORMATS;
		w->plan[i].fast = pt_fast_invalid;
	}
	*out = w;
	return 0;
}

void viommu_pt_walker_destroy(struct viommu_pt_walker *w)
{
	free(w);
}

void viommu_pt_walker_invalidate(struct viommu_pt_walker *w)
{
	if (w) {
		vi_dmem_init(&w->c.m, &w->c.h);
		ctx_sync_span(&w->c);
	}
}

/* A configuration not planned in its slot: check it, plan it, walk. */
static __attribute__((noinline)) int walker_plan(struct viommu_pt_walker *w, struct pt_plan *p,
						 const struct viommu_pt_cfg *cfg, uint64_t iova,
						 uint32_t access, struct viommu_pt_walk_result *res)
{
	const struct pt_fmt *f = pt_fmt_of(cfg);

	if (!f)
		return VIOMMU_EINVAL;
	pt_plan_make(f, cfg, p);
	/* Without dma_map_ptr every entry is a host call: the full walk makes them. */
	if (!w->c.h.ops->dma_map_ptr)
		p->fast = pt_fast_none;
	return p->fast(p, &w->c.sp, iova, access, res);
}

int viommu_pt_walker_walk(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
			  uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res)
{
	struct pt_plan *p;
	uint64_t root;

	/* The root is loaded between the tests so that each stays a branch of its own. */
	if (!cfg)
		return VIOMMU_EINVAL;
	root = cfg->root;
	if (!w || !res)
		return VIOMMU_EINVAL;
	/*
	 * A planned configuration was checked when it was planned. Equal bytes mean equal fields;
	 * a caller whose padding byte differs from call to call only makes the walker plan again.
	 */
	p = &w->plan[(root >> 12) % PT_WALKER_PLANS];
	if (__builtin_expect(!memcmp(cfg, &p->cfg, sizeof(*cfg)), 1))
		return p->fast(p, &w->c.sp, iova, access, res);
	return walker_plan(w, p, cfg, iova, access, res);
}

struct viommu_pt_plan {
	struct pt_plan pl;
};

int viommu_pt_plan_set(struct viommu_pt_plan *p, const struct viommu_pt_cfg *cfg)
{
	const struct pt_fmt *f = pt_fmt_of(cfg);

	if (!p)
		return VIOMMU_EINVAL;
	if (!f) {
		p->pl.fast = pt_fast_invalid;
		return VIOMMU_EINVAL;
	}
	pt_plan_make(f, cfg, &p->pl);
	return 0;
}

int viommu_pt_plan_create(const struct viommu_pt_cfg *cfg, struct viommu_pt_plan **out)
{
	struct viommu_pt_plan *p;
	int ret;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	p = malloc(sizeof(*p));
	if (!p)
		return VIOMMU_ENOMEM;
	ret = viommu_pt_plan_set(p, cfg);
	if (ret) {
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void viommu_pt_plan_destroy(struct viommu_pt_plan *p)
{
	free(p);
}

int viommu_pt_walker_walk_plan(struct viommu_pt_walker *w, const struct viommu_pt_plan *p,
			       uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res)
{
	pt_fast_fn fast;

	/* The walk is loaded between the tests so that each stays a branch of its own. */
	if (!p)
		return VIOMMU_EINVAL;
	fast = p->pl.fast;
	if (!w || !res)
		return VIOMMU_EINVAL;
	return fast(&p->pl, &w->c.sp, iova, access, res);
}

/* viommu_pt_walk(): a walk whose spans last one call; @full: without the fast walk. */
static int walk(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host, void *opaque,
		uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res, bool full)
{
	const struct pt_fmt *f = pt_fmt_of(cfg);
	struct pt_walk_ctx c;
	struct pt_plan p;

	if (!f || !host || !host->dma_read || !res)
		return VIOMMU_EINVAL;
	ctx_init(&c, host, opaque);
	if (full || !host->dma_map_ptr)
		return f->walk(cfg, &c.m, iova, access, res);
	pt_plan_make(f, cfg, &p);
	return p.fast(&p, &c.sp, iova, access, res);
}

int viommu_pt_walk(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
		   void *opaque, uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res)
{
	return walk(cfg, host, opaque, iova, access, res, false);
}

int vi_pt_walk_full(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
		    void *opaque, uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res)
{
	return walk(cfg, host, opaque, iova, access, res, true);
}

/* ------------------------------------------------------------------------------------------ */
/* Enumeration                                                                                 */
/* ------------------------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------------------------ */
/* Builder                                                                                     */
/* ------------------------------------------------------------------------------------------ */

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
	pt->f = pt_formats[c.format];
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
