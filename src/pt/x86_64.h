/* SPDX-License-Identifier: MIT */
/*
 * x86-64 4-level and 5-level paging, as the IOMMUs use it for first-level (guest) tables.
 *
 * Intel 64 and IA-32 Architectures SDM Vol. 3A, 4.5 "4-Level Paging and 5-Level Paging"
 *   (Tables 4-15 to 4-20: PML5E, PML4E, PDPTE, PDE, PTE formats), 4.6 "Access Rights",
 *   4.8 "Accessed and Dirty Flags".
 * Intel VT-d spec 3.6 "First-Level Translation" and 9.9 "First-Level Paging Entries"
 *   (canonical-address check, 1 GiB pages only with CAP.FL1GP, XD with NXE, WPE).
 * AMD IOMMU spec 48882, 2.2.6 "I/O Page Tables for Guest Translations" (v2 uses this format).
 *
 * Entry layout: P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6 (leaf), PS 7 (PDPTE/PDE; PAT in a
 * PTE), G 8 (leaf), address (MAXPHYADDR-1):12 (bit 12 is PAT in a large page), XD 63.
 * Reserved: bits 51:MAXPHYADDR, PS in PML5E/PML4E, PS in a PDPTE without 1 GiB pages, address
 * bits 20:13 (2 MiB) or 29:13 (1 GiB) of a large page, XD when NXE is off.
 * Rights: writes need R/W at every level (supervisor writes only when WP is set), user accesses
 * need U/S at every level, fetches need XD clear at every level.
 */
#ifndef VIOMMU_PT_X86_64_H
#define VIOMMU_PT_X86_64_H

#include "core/core.h"

#define X86_P VI_BIT(0)
#define X86_RW VI_BIT(1)
#define X86_US VI_BIT(2)
#define X86_A VI_BIT(5)
#define X86_D VI_BIT(6)
#define X86_PS VI_BIT(7)
#define X86_G VI_BIT(8)
#define X86_XD VI_BIT(63)
#define X86_ADDR VI_GENMASK(51, 12)

#endif /* VIOMMU_PT_X86_64_H */
