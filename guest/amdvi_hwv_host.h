/* SPDX-License-Identifier: MIT */
/*
 * The host driver's set-up sequence for the AMD hardware-assisted vIOMMU (<viommu/amdvi_hwv.h>),
 * as AMD's host patches order it: after the host IOMMU is up (vg_amdvi_enable() on the host's own
 * driver), viommu_amdvi_hwv_init() with host pages from that driver's pool; per guest a nest
 * parent (a DeviceID attached to a v1 domain mapping the guest's memory, as VFIO's
 * IOMMU_HWPT_ALLOC_NEST_PARENT), then the vIOMMU over it. The guest itself runs the unmodified
 * guest driver (amdvi_driver.h, v2) on viommu_amdvi_hwv_view().
 */
#ifndef VIOMMU_GUEST_AMDVI_HWV_HOST_H
#define VIOMMU_GUEST_AMDVI_HWV_HOST_H

#include <stdint.h>

#include <viommu/amdvi_hwv.h>

#include "amdvi_driver.h"

struct vg_amdvi_hwv_guest_cfg {
	uint16_t trans_devid; /* the nest parent's DeviceID (no real device behind it) */
	uint16_t host_domid;  /* its v1 domain in the host driver */
	uint64_t gpa;	      /* guest memory [gpa, gpa + size) is host [spa, spa + size) */
	uint64_t spa;
	uint64_t size; /* 4 KiB multiple */
	void (*guest_irq)(void *opaque, uint32_t gid);
	void *opaque;
};

struct vg_amdvi_hwv_guest;

/* Boot: the vIOMMU feature over the host driver @host of @iommu. */
int vg_amdvi_hwv_host_init(struct vg_amdvi *host, struct viommu *iommu);
/* A guest: nest parent, then IOMMU_VIOMMU_ALLOC. */
int vg_amdvi_hwv_guest_create(struct vg_amdvi *host, struct viommu *iommu,
			      const struct vg_amdvi_hwv_guest_cfg *cfg,
			      struct vg_amdvi_hwv_guest **out);
uint32_t vg_amdvi_hwv_gid(const struct vg_amdvi_hwv_guest *g);
/* The vIOMMU destroyed and the nest parent detached. */
void vg_amdvi_hwv_guest_destroy(struct vg_amdvi *host, struct viommu *iommu,
				struct vg_amdvi_hwv_guest *g);

#endif /* VIOMMU_GUEST_AMDVI_HWV_HOST_H */
