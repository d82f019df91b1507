/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d second-level paging entries.
 *
 * Intel Virtualization Technology for Directed I/O, Architecture Specification (rev. 3.x/4.x):
 *   3.7    Second-Level Translation (3/4/5-level tables for 39/48/57-bit AGAW, 2 MiB and 1 GiB
 *          pages when CAP.SLLPS reports them, access rights are the AND over all levels)
 *   3.7.2  Accessed and dirty flags (scalable mode, SLADE in the PASID-table entry)
 *   9.8    Second-Level Paging Entries: SL-PML5E, SL-PML4E, SL-PDPE, SL-PDE, SL-PTE
 *
 * Entry layout (all levels): R 0, W 1, X 2, [EMT 5:3, IPAT 6 leaf only], PS 7 (SL-PDPE/SL-PDE),
 * A 8, D 9 (leaf), SNP 11 (leaf, with ECAP.SC), address (HAW-1):12, TM 62. Bits 51:HAW are
 * reserved; so is PS in SL-PML5E/SL-PML4E, and in SL-PDPE/SL-PDE when the matching superpage is
 * not supported, bit 11 unless snoop control is, bit 62, and the address bits below a
 * superpage's size. An entry with R = W = 0 is not present.
 *
 * Bit 62 was TM (Transient Mapping) in leaf entries up to revision 3.1, for device-TLB use only;
 * revision 3.2 made it Reserved(0). VIOMMU_PT_F_STALE_TM accepts it in leaves for guests written
 * to the older revisions; table entries with it stay malformed either way.
 */
#ifndef VIOMMU_PT_VTD_SL_H
#define VIOMMU_PT_VTD_SL_H

#include <viommu/spec/vtd.h>

#include "core/core.h"

/* Entry bits: VIOMMU_VTD_SL_* in <viommu/spec/vtd.h>. */

#endif /* VIOMMU_PT_VTD_SL_H */
