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

	n->unmapped = true;
	return vg_vtd_unmap_nosync(n->d, n->did, iova, size);
}

static int nest_commit(void *ctx)
{
	struct vg_shadow_nest *n = ctx;
	int ret = 0;

	/* Unmaps first: L0 must drop the old pages before it maps new ones at the same IOVAs. */
	if (n->unmapped)
		ret = vg_vtd_flush(n->d);
	n->unmapped = false;
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
