// SPDX-License-Identifier: MIT
/* The shadow engine's nesting back-end: L1's own vIOMMU through the VT-d driver. */
#include "shadow_nest.h"

static int nest_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	struct vg_shadow_nest *n = ctx;

	return vg_vtd_map_nosync(n->d, n->did, iova, host, size, perm);
}

static int nest_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct vg_shadow_nest *n = ctx;

	if (n->nranges < VG_SHADOW_NEST_RANGES) {
		n->range[n->nranges].iova = iova;
		n->range[n->nranges].size = size;
	}
	n->nranges++;
	n->unmapped = true;
	return vg_vtd_unmap_nosync(n->d, n->did, iova, size);
}

static int nest_commit(void *ctx)
{
	struct vg_shadow_nest *n = ctx;
	int ret = 0;

	/*
	 * Unmaps first: L0 must drop the old pages before it maps new ones at the same IOVAs. A
	 * domain flush would make L0 diff the whole domain, which L1's kernel does not ask for.
	 */
	if (n->unmapped && n->nranges > VG_SHADOW_NEST_RANGES)
		ret = vg_vtd_flush(n->d);
	for (uint32_t i = 0; n->unmapped && !ret && i < n->nranges && i < VG_SHADOW_NEST_RANGES;
	     i++)
		ret = vg_vtd_flush_range(n->d, n->did, n->range[i].iova, n->range[i].size);
	n->unmapped = false;
	n->nranges = 0;
	if (!ret)
		ret = vg_vtd_sync_map(n->d);
	return ret;
}

static const struct viommu_shadow_host_ops nest_ops = {
	.flags = VIOMMU_SHADOW_HOST_SPLIT,
	.map = nest_map,
	.unmap = nest_unmap,
	.commit = nest_commit,
};

const struct viommu_shadow_host_ops *vg_shadow_nest_ops(void)
{
	return &nest_ops;
}
