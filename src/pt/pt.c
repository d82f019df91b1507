// SPDX-License-Identifier: MIT
/*
 * The format table, and the walk written once over the format ops: one-call walks, walkers
 * and plans (pt_fast.h). Enumeration is in pt_enum.c, the builder in pt_build.c.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pt_walker.h"

const struct pt_fmt *const vi_pt_formats[VIOMMU_PT_NFORMATS] = {
	[VIOMMU_PT_VTD_SL] = &vi_pt_fmt_vtd_sl, [VIOMMU_PT_X86_64] = &vi_pt_fmt_x86_64,
	[VIOMMU_PT_AMD_V1] = &vi_pt_fmt_amd_v1, [VIOMMU_PT_ARM_S1] = &vi_pt_fmt_arm_s1,
	[VIOMMU_PT_ARM_S2] = &vi_pt_fmt_arm_s2, [VIOMMU_PT_TCE] = &vi_pt_fmt_tce,
};

int viommu_pt_cfg_check(const struct viommu_pt_cfg *cfg)
{
	return pt_fmt_of(cfg) ? 0 : VIOMMU_EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* Walk                                                                                        */
/* ------------------------------------------------------------------------------------------ */

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

int vi_pt_fast_none(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		    struct viommu_pt_walk_result *res)
{
	return pt_fast_fail(p, sp, iova, access, res);
}

struct pt_leaf vi_pt_leaf_none(const struct pt_plan *p, const struct pt_win *w, uint64_t iova)
{
	(void)p;
	(void)w;
	(void)iova;
	return pt_leaf_none();
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
	if (!p->leaf)
		p->leaf = vi_pt_leaf_none;
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
		ret = vi_pt_formats[p->cfg.format]->walk(&p->cfg, &c->m, iova, access, res);
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
		w->plan[i].leaf = vi_pt_leaf_none;
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

int vi_pt_walker_plan(struct viommu_pt_walker *w, struct pt_plan *p,
		      const struct viommu_pt_cfg *cfg, uint64_t iova, uint32_t access,
		      struct viommu_pt_walk_result *res)
{
	const struct pt_fmt *f = pt_fmt_of(cfg);

	if (!f)
		return VIOMMU_EINVAL;
	pt_plan_make(f, cfg, p);
	/* Without dma_map_ptr every entry is a host call: the full walk makes them. */
	if (!w->c.h.ops->dma_map_ptr) {
		p->fast = vi_pt_fast_none;
		p->leaf = vi_pt_leaf_none;
	}
	return p->fast(p, &w->c.sp, iova, access, res);
}

int viommu_pt_walker_walk(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
			  uint64_t iova, uint32_t access, struct viommu_pt_walk_result *res)
{
	uint64_t root;

	/* The root is loaded between the tests so that each stays a branch of its own. */
	if (!cfg)
		return VIOMMU_EINVAL;
	root = cfg->root;
	if (!w || !res)
		return VIOMMU_EINVAL;
	return vi_pt_walker_walk_at(w, cfg, root, iova, access, res);
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
		p->pl.leaf = vi_pt_leaf_none;
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
