/* SPDX-License-Identifier: MIT */
/*
 * What this model chooses where the VT-d specification lets an implementation choose: where the
 * IOTLB and fault recording registers sit, how many fault records it offers, its version. The
 * specification's own names (registers, fields, entries, descriptors, fault reasons) are in
 * <viommu/spec/vtd.h>.
 */
#ifndef VIOMMU_VTD_REGS_H
#define VIOMMU_VTD_REGS_H

#include <viommu/spec/vtd.h>

#include "core/core.h"

/*
 * The IOTLB registers at 0x0f0 (IVA_REG) and 0x0f8 (IOTLB_REG), the fault recording registers
 * from 0x220, 16 bytes each (CAP.FRO and ECAP.IRO say so, 11.4.2, 11.4.3).
 */
#define VTD_IRO 0x0f /* ECAP.IRO: offset / 16 */
#define VTD_FRO 0x22 /* CAP.FRO: offset / 16 */
#define DMAR_IVA_REG (VTD_IRO * 16 + VIOMMU_VTD_IVA_REG_OFF)
#define DMAR_IOTLB_REG (VTD_IRO * 16 + VIOMMU_VTD_IOTLB_REG_OFF)
#define DMAR_FRCD_REG (VTD_FRO * 16)
#define VTD_NFR_MAX 64 /* records this model offers at most (CAP.NFR holds up to 256) */
#define VTD_REG_SPACE (DMAR_FRCD_REG + VTD_NFR_MAX * VIOMMU_VTD_FRCD_REG_LEN)

/* VER_REG: Major 1, Minor 0, the legacy register set (11.4.1). */
#define VTD_VER_MAX_MIN (VIOMMU_VTD_VER_MAX_SET(1) | VIOMMU_VTD_VER_MIN_SET(0))

/* FSTS bits software clears by writing 1. */
#define FSTS_RW1C \
	(VIOMMU_VTD_FSTS_PFO | VIOMMU_VTD_FSTS_IQE | VIOMMU_VTD_FSTS_ICE | VIOMMU_VTD_FSTS_ITE)

#endif /* VIOMMU_VTD_REGS_H */
