/* SPDX-License-Identifier: MIT */
/*
 * IBM Calgary translation control entries (TCEs).
 *
 * IBM's Calgary PCI-X host bridge documentation is not public; the layout follows what the
 * Linux driver programs (arch/x86/include/asm/tce.h, arch/x86/kernel/pci-calgary_64.c):
 *   - one table per bus, indexed by I/O page number (IOVA >> 12), no levels;
 *   - table size code 0..7 in the TCE control register: 8192 << code entries, 64 KiB to 8 MiB
 *     of table, 32 MiB to 4 GiB of I/O space;
 *   - TCE: read 0, write 1, hub id 7:2, real page number 47:12, bits 63:48 unused.
 * An entry with neither read nor write set translates nothing.
 */
#ifndef VIOMMU_PT_TCE_H
#define VIOMMU_PT_TCE_H

#include "core/core.h"

#define TCE_READ VI_BIT(0)
#define TCE_WRITE VI_BIT(1)
#define TCE_RPN VI_GENMASK(47, 12)
#define TCE_MAX_SIZE_CODE 7
#define TCE_ENTRIES_LOG2(code) (13 + (code))

#endif /* VIOMMU_PT_TCE_H */
