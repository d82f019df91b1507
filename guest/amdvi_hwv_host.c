// SPDX-License-Identifier: MIT
/* The host driver's HW-vIOMMU set-up sequence (amdvi_hwv_host.h). */
#include "amdvi_hwv_host.h"

#include <stdlib.h>

struct vg_amdvi_hwv_guest {
	struct vg_amdvi_hwv_guest_cfg cfg;
	struct viommu_amdvi_hwv_guest_ops ops;
	uint32_t gid;
};

/* Host pages for the private space come from the host driver's own pool (zeroed). */
static uint64_t host_alloc(void *opaque, uint64_t size)
{
	uint64_t pa;

	if (size != 4096 || vg_amdvi_alloc_page(opaque, &pa))
		return 0;
	return pa;
}

int vg_amdvi_hwv_host_init(struct vg_amdvi *host, struct viommu *iommu)
{
	struct viommu_amdvi_hwv_mem mem = { .alloc = host_alloc, .opaque = host };

	return viommu_amdvi_hwv_init(iommu, &mem);
}

/* The VMM's memory map: the one window the guest has. */
static int gpa_to_spa(void *opaque, uint64_t gpa, uint64_t len, uint64_t *spa)
{
	const struct vg_amdvi_hwv_guest *g = opaque;

	if (gpa < g->cfg.gpa || len > g->cfg.size || gpa - g->cfg.gpa > g->cfg.size - len)
		return VIOMMU_EFAULT;
	*spa = g->cfg.spa + (gpa - g->cfg.gpa);
	return 0;
}

static void guest_irq(void *opaque, uint32_t gid)
{
	const struct vg_amdvi_hwv_guest *g = opaque;

	if (g->cfg.guest_irq)
		g->cfg.guest_irq(g->cfg.opaque, gid);
}

int vg_amdvi_hwv_guest_create(struct vg_amdvi *host, struct viommu *iommu,
			      const struct vg_amdvi_hwv_guest_cfg *cfg,
			      struct vg_amdvi_hwv_guest **out)
{
	struct viommu_amdvi_hwv_alloc a = { 0 };
	struct vg_amdvi_hwv_guest *g;
	int ret;

	if (!cfg->size || (cfg->size | cfg->gpa | cfg->spa) & 0xfff)
		return VIOMMU_EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return VIOMMU_ENOMEM;
	g->cfg = *cfg;
	g->ops.gpa_to_spa = gpa_to_spa;
	g->ops.guest_irq = guest_irq;
	/* The nest parent: GPA -> SPA for the guest's memory and nothing else. */
	ret = vg_amdvi_attach(host, cfg->trans_devid, cfg->host_domid, false);
	if (!ret)
		ret = vg_amdvi_map(host, cfg->host_domid, cfg->gpa, cfg->spa, cfg->size,
				   VIOMMU_ACC_RW);
	a.trans_devid = cfg->trans_devid;
	a.ops = &g->ops;
	a.opaque = g;
	if (!ret)
		ret = viommu_amdvi_hwv_create(iommu, &a, &g->gid);
	if (ret) {
		free(g);
		return ret;
	}
	*out = g;
	return 0;
}

uint32_t vg_amdvi_hwv_gid(const struct vg_amdvi_hwv_guest *g)
{
	return g->gid;
}

void vg_amdvi_hwv_guest_destroy(struct vg_amdvi *host, struct viommu *iommu,
				struct vg_amdvi_hwv_guest *g)
{
	if (!g)
		return;
	viommu_amdvi_hwv_destroy(iommu, g->gid);
	vg_amdvi_detach(host, g->cfg.trans_devid);
	free(g);
}
