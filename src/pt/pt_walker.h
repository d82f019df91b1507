/* SPDX-License-Identifier: MIT */
/*
 * Walkers, inside the library: struct viommu_pt_walker and the inline walk by configuration, so
 * that the models' miss paths find the plan and walk without a call into pt.c. Embedders call
 * viommu_pt_walker_walk(), which is this behind one call and the argument checks.
 */
#ifndef VIOMMU_PT_WALKER_H
#define VIOMMU_PT_WALKER_H

#include <string.h>

#include "pt_fast.h"

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

/* A configuration not planned in its slot @p: check it, plan it, walk. */
__attribute__((noinline)) int vi_pt_walker_plan(struct viommu_pt_walker *w, struct pt_plan *p,
						const struct viommu_pt_cfg *cfg, uint64_t iova,
						uint32_t access, struct viommu_pt_walk_result *res);

/* viommu_pt_walker_walk() with its arguments known good and @cfg's root in @root. */
static inline int vi_pt_walker_walk_at(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
				       uint64_t root, uint64_t iova, uint32_t access,
				       struct viommu_pt_walk_result *res)
{
	struct pt_plan *p = &w->plan[(root >> 12) % PT_WALKER_PLANS];

	/*
	 * A planned configuration was checked when it was planned. Equal bytes mean equal fields;
	 * a caller whose padding byte differs from call to call only makes the walker plan again.
	 */
	if (__builtin_expect(!memcmp(cfg, &p->cfg, sizeof(*cfg)), 1))
		return p->fast(p, &w->c.sp, iova, access, res);
	return vi_pt_walker_plan(w, p, cfg, iova, access, res);
}

/*
 * The leaf walk (struct pt_leaf) of @iova in @cfg's tables when its slot holds @cfg's plan;
 * otherwise not answered (shift 0), and vi_pt_walker_walk() plans it.
 */
static inline struct pt_leaf vi_pt_walker_leaf(struct viommu_pt_walker *w,
					       const struct viommu_pt_cfg *cfg, uint64_t iova)
{
	const struct pt_plan *p = &w->plan[(cfg->root >> 12) % PT_WALKER_PLANS];

	if (__builtin_expect(!memcmp(cfg, &p->cfg, sizeof(*cfg)), 1))
		return p->leaf(p, &w->c.sp.win, iova);
	return pt_leaf_none();
}

/* viommu_pt_walker_walk() for code inside the library, whose arguments are never NULL. */
static inline int vi_pt_walker_walk(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
				    uint64_t iova, uint32_t access,
				    struct viommu_pt_walk_result *res)
{
	return vi_pt_walker_walk_at(w, cfg, cfg->root, iova, access, res);
}

#endif /* VIOMMU_PT_WALKER_H */
