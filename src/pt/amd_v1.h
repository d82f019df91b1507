/* SPDX-License-Identifier: MIT */
/*
 * AMD-Vi v1 I/O page tables for host translations.
 *
 * AMD I/O Virtualization Technology (IOMMU) Specification, 48882:
 *   2.2.3   "I/O Page Tables for Host Translations": 1 to 6 levels chosen by the DTE Mode
 *           field, Next Level field with level skipping (the address bits of skipped levels
 *           must be zero), Next Level 0 (a page of the level's size) and 7 (a page whose size is
 *           encoded in the address field: bits 12 and up set to 1 below the size's top bit).
 *   2.2.3.1 PDE and PTE formats (Figures "I/O Page Directory Entry", "I/O Page Table Entry").
 *   2.2.3.2 Accessed and dirty bits (with the HAD feature).
 *
 * Entry layout: PR 0, A 5, D 6 (PTE), Next Level 11:9, address 51:12, reserved 58:52 (PTE) or
 * 60:52 (PDE), U 59 (PTE), FC 60 (PTE), IR 61, IW 62. Rights are the AND over all levels.
 */
#ifndef VIOMMU_PT_AMD_V1_H
#define VIOMMU_PT_AMD_V1_H

#include "core/core.h"

#define AMD_PR VI_BIT(0)
#define AMD_A VI_BIT(5)
#define AMD_D VI_BIT(6)
#define AMD_NL_SHIFT 9
#define AMD_NL_MASK VI_GENMASK(11, 9)
#define AMD_ADDR VI_GENMASK(51, 12)
#define AMD_PTE_RSVD VI_GENMASK(58, 52)
#define AMD_PDE_RSVD VI_GENMASK(60, 52)
#define AMD_U VI_BIT(59)
#define AMD_FC VI_BIT(60)
#define AMD_IR VI_BIT(61)
#define AMD_IW VI_BIT(62)

#define AMD_NL_DEFAULT 0 /* a page of the default size of this level */
#define AMD_NL_SIZED 7	 /* a page of the size encoded in the address field */

#endif /* VIOMMU_PT_AMD_V1_H */
