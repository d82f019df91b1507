/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 translation tables, stage 1 and stage 2 (as SMMUv3 walks them).
 *
 * Arm Architecture Reference Manual for A-profile, DDI0487, chapter D8 "The AArch64 Virtual
 * Memory System Architecture":
 *   D8.1.x  translation granules 4K/16K/64K, input address size from TnSZ, starting level,
 *           TTB0/TTB1 split of the stage 1 input space, EPDn;
 *   D8.2.x  stage 2 starting level from VTCR_EL2.SL0 and concatenated first-level tables
 *           (up to 16 tables, R_DXBSH/R_SRKBC);
 *   D8.3    descriptor formats: bits[1:0] 0b11 table (or page at the last level), 0b01 block
 *           (4K: levels 1-2, 16K/64K: level 2, without 52-bit addresses), anything else
 *           invalid; output address [47:granule] (bits 51:48 count as address bits, so with
 *           an output size of 48 bits or less they give an address size fault);
 *   D8.4    memory access control: stage 1 AP[2:1] (bits 7:6), PXN 53, UXN 54, privileged
 *           execute-never when EL0 can write, hierarchical APTable 62:61, UXNTable 60,
 *           PXNTable 59; stage 2 S2AP 7:6 (read, write), XN 54;
 *   D8.5    access flag (bit 10): clear gives an Access flag fault unless hardware management
 *           (HA) is on, in which case the walk sets it;
 *   D8.16   faults: Translation (invalid descriptor, input outside the TnSZ ranges), Address
 *           size (table or output address beyond the output size), Access flag, Permission.
 * SMMUv3 (IHI0070) 3.4 and 5.2/5.4 use these formats for CD (stage 1) and STE (stage 2).
 */
#ifndef VIOMMU_PT_ARM_H
#define VIOMMU_PT_ARM_H

#include "core/core.h"

#define ARM_VALID VI_BIT(0)
#define ARM_TABLE VI_BIT(1) /* table, or page at the last level; block when clear */
#define ARM_AP1 VI_BIT(6)   /* S1: EL0 access; S2: S2AP[0] read */
#define ARM_AP2 VI_BIT(7)   /* S1: read-only; S2: S2AP[1] write */
#define ARM_AF VI_BIT(10)
#define ARM_NG VI_BIT(11)
#define ARM_DBM VI_BIT(51) /* leaf, with hardware dirty-state management */
#define ARM_PXN VI_BIT(53)
#define ARM_UXN VI_BIT(54) /* S2: XN */
#define ARM_PXN_TABLE VI_BIT(59)
#define ARM_UXN_TABLE VI_BIT(60)
#define ARM_AP_TABLE0 VI_BIT(61) /* no EL0 access below */
#define ARM_AP_TABLE1 VI_BIT(62) /* no write access below */

#define ARM_MIN_IAS 25
#define ARM_MAX_IAS 48
#define ARM_MAX_OAS 48

#endif /* VIOMMU_PT_ARM_H */
