/* SPDX-License-Identifier: MIT */
/*
 * Nesting back-end of the shadow engine: the "host" is the L1 guest's own vIOMMU (a VT-d unit in
 * caching mode that L0 emulates), programmed through this library's VT-d driver. An L1 VMM that
 * shadows its L2 guest's vIOMMU with the engine maps L2 IOVAs to L1 guest-physical addresses in
 * an L1 domain of the device; L1's invalidations then reach L0, whose own engine shadows them
 * into the real host, so an L2 device's mappings compose through two levels.
 *
 * It lives here, not in libviommu: it is guest-side code (an L1 VMM running on a real kernel
 * would use the VFIO back-end inside L1, and L1's kernel would program its vIOMMU), and libviommu
 * does not depend on the guest library.
 */
#ifndef VIOMMU_GUEST_SHADOW_NEST_H
#define VIOMMU_GUEST_SHADOW_NEST_H

#include <viommu/shadow.h>

#include "vtd_driver.h"

/* The ctx of the ops: the L1 driver and the L1 domain the assigned device is attached to. */
struct vg_shadow_nest {
	struct vg_vtd *d;
	uint16_t did;
	bool unmapped; /* an unmap since the last commit: the commit flushes the domain */
};

/*
 * Map: the driver's map without invalidation; unmap likewise; commit: one queued submission for
 * the maps (iotlb_sync_map) and one domain flush for the unmaps, as Linux batches them. The L1
 * driver must map 4 KiB pages only (no_superpages), so any page range can be unmapped (SPLIT).
 */
const struct viommu_shadow_host_ops *vg_shadow_nest_ops(void);

#endif
