/* SPDX-License-Identifier: MIT */
/*
 * IBM Calgary and CalIOC2 PCI host bridges (TCE IOMMU), and the sPAPR TCE hypercalls.
 *
 * IBM never published the Calgary documentation. Everything here is what the last Linux driver
 * programmed, named after it with the prefix VIOMMU_CALGARY_ (VIOMMU_TCE_ for the entry):
 *   [L] torvalds/linux arch/x86/kernel/pci-calgary_64.c @02b5a6031ba7a8cbfde5d65ff9e13ecdbc4a92ca
 *   [T] arch/x86/include/asm/tce.h, arch/x86/kernel/tce_64.c (entry layout, table sizes)
 *   [R] arch/x86/include/asm/rio.h (the BIOS "Rio Grande" table in the EBDA)
 * and, for the hypercalls, the PAPR hcall numbers and return codes as Linux's
 *   [H] arch/powerpc/include/asm/hvcall.h and QEMU's hw/ppc/spapr_iommu.c use them.
 * Values marked "model" are this library's choice where the driver only reads a register and
 * prints it (the meaning of its bits is not public).
 *
 * Registers are big-endian: a 32-bit register read with a little-endian load (x86 readl, or
 * viommu_mmio_read() of 4 bytes) gives the byte-swapped value, which the driver converts with
 * be32_to_cpu() as Linux did. The constants below are the register values after that
 * conversion. TCEs in guest memory are big-endian 64-bit words.
 *
 * Dependency-free: <stdint.h> and macros.
 */
#ifndef VIOMMU_SPEC_CALGARY_H
#define VIOMMU_SPEC_CALGARY_H

#include <stdint.h>

#define VIOMMU_CALGARY_BIT(n) (1ull << (n))

/* ------------------------------------------------------------------------------------------ */
/* Chips and register space [L]                                                                */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_CALGARY_PCI_VENDOR_IBM 0x1014
#define VIOMMU_CALGARY_PCI_DEVICE_CALGARY 0x02a1
#define VIOMMU_CALGARY_PCI_DEVICE_CALIOC2 0x0308

/* One chip: a 1 MiB register space at its BBAR, four PCI host bridges (PHBs). */
#define VIOMMU_CALGARY_REG_SPACE 0x100000
#define VIOMMU_CALGARY_PHBS 4

/* Chip-wide registers. */
#define VIOMMU_CALGARY_CONFIG_REG 0x0108 /* 64-bit: split-completion timeouts per PHB */
#define VIOMMU_CALGARY_CCR_2SEC_TIMEOUT 0xeull
/* The timeout field (4 bits) of PHB n starts at bit 63 - 19, 63 - 23, 63 - 27, 63 - 35. */
#define VIOMMU_CALGARY_CCR_TIMEOUT_SHIFT(n) ((n) == 0 ? 44u : (n) == 1 ? 40u : (n) == 2 ? 36u : 28u)

/* Table Address Registers (64-bit), one per PHB, in the chip's space. */
#define VIOMMU_CALGARY_TAR(n) (0x0580 + 8 * (n))
#define VIOMMU_CALGARY_TAR_SW_BITS 0x0000ffffffff800full   /* the bits software owns */
#define VIOMMU_CALGARY_TAR_ADDR_MASK 0x0000ffffffff8000ull /* table physical address */
#define VIOMMU_CALGARY_TAR_VALID VIOMMU_CALGARY_BIT(3)	   /* defined by Linux, never set by it */
#define VIOMMU_CALGARY_TAR_SIZE_MASK 0x7ull		   /* table size code */
#define VIOMMU_CALGARY_TAR_SIZE_GET(t) ((unsigned int)((t)&VIOMMU_CALGARY_TAR_SIZE_MASK))

/* Table sizes [T]: code c gives 8 Ki << c entries, 64 KiB << c of table. */
#define VIOMMU_TCE_TABLE_SIZE_64K 0
#define VIOMMU_TCE_TABLE_SIZE_128K 1
#define VIOMMU_TCE_TABLE_SIZE_256K 2
#define VIOMMU_TCE_TABLE_SIZE_512K 3
#define VIOMMU_TCE_TABLE_SIZE_1M 4
#define VIOMMU_TCE_TABLE_SIZE_2M 5
#define VIOMMU_TCE_TABLE_SIZE_4M 6
#define VIOMMU_TCE_TABLE_SIZE_8M 7
#define VIOMMU_TCE_ENTRIES(code) (8192ull << (code))
#define VIOMMU_TCE_TABLE_BYTES(code) (65536ull << (code))

/* Split queue status (64-bit) of PHB n: low byte 0xff when no DMA is in flight. */
#define VIOMMU_CALGARY_SPLIT_QUEUE(n) (0x4870 + 0x1000 * (n))
#define VIOMMU_CALGARY_SPLIT_QUEUE_IDLE 0xffull

/* PHB debug space of PHB n, and its STUFF register: start bus 23:16, end bus 15:8 (0: one bus). */
#define VIOMMU_CALGARY_PHB_DEBUG(n) (0x4000 + 0x1000 * (n))
#define VIOMMU_CALGARY_PHB_DEBUG_STUFF 0x0020
#define VIOMMU_CALGARY_STUFF_START_BUS(v) (((v) >> 16) & 0xff)
#define VIOMMU_CALGARY_STUFF_END_BUS(v) (((v) >> 8) & 0xff)

/* ------------------------------------------------------------------------------------------ */
/* Per-PHB registers: VIOMMU_CALGARY_PHB(n) | offset, 32-bit, big-endian [L]                   */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_CALGARY_PHB(n) (0x8000 + 0x1000 * (n))

#define VIOMMU_CALGARY_PHB_CSR 0x0110 /* channel status: errors, written 0 to clear */
#define VIOMMU_CALGARY_PHB_PLSSR 0x0120
#define VIOMMU_CALGARY_PHB_CONFIG_RW 0x0160
#define VIOMMU_CALGARY_PHB_IOBASE_BAR_LOW 0x0170
#define VIOMMU_CALGARY_PHB_IOBASE_BAR_HIGH 0x0180
#define VIOMMU_CALGARY_PHB_MEM_1_LOW 0x0190
#define VIOMMU_CALGARY_PHB_MEM_1_HIGH 0x01a0
#define VIOMMU_CALGARY_PHB_IO_ADDR_SIZE 0x01b0
#define VIOMMU_CALGARY_PHB_MEM_1_SIZE 0x01c0
#define VIOMMU_CALGARY_PHB_MEM_ST 0x01d0
#define VIOMMU_CALGARY_PHB_AER 0x0200 /* arbitration enable: 0 stops new DMA on the bus */
#define VIOMMU_CALGARY_PHB_CONFIG_0_HIGH 0x0220
#define VIOMMU_CALGARY_PHB_CONFIG_0_LOW 0x0230
#define VIOMMU_CALGARY_PHB_CONFIG_0_END 0x0240
#define VIOMMU_CALGARY_PHB_MEM_2_LOW 0x02b0
#define VIOMMU_CALGARY_PHB_MEM_2_HIGH 0x02c0
#define VIOMMU_CALGARY_PHB_MEM_2_SIZE_HIGH 0x02d0
#define VIOMMU_CALGARY_PHB_MEM_2_SIZE_LOW 0x02e0
#define VIOMMU_CALGARY_PHB_DOSHOLE 0x08e0

/* CalIOC2 only. */
#define VIOMMU_CALGARY_PHB_CSMR 0x0290
#define VIOMMU_CALGARY_PHB_MCK 0x0800
#define VIOMMU_CALGARY_PHB_ERR(i) (0x0810 + 0x10 * (i)) /* seven error registers, i = 0..6 */
#define VIOMMU_CALGARY_PHB_NERR 7
#define VIOMMU_CALGARY_PHB_ROOT_COMPLEX_STATUS 0x0cb0
#define VIOMMU_CALGARY_PHB_PAGE_MIG_DEBUG 0x0da0 /* PMDR */
#define VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL 0x0da8	 /* PMCR */
#define VIOMMU_CALGARY_PHB_SAVIOR_L2 0x0db0
#define VIOMMU_CALGARY_SAVIOR_L2_RECOMMENDED 0x00800000u /* "set bit 8" */

/* PHB_CONFIG_RW. */
#define VIOMMU_CALGARY_PHB_TCE_ENABLE 0x20000000u
#define VIOMMU_CALGARY_PHB_SLOT_DISABLE 0x1c000000u
#define VIOMMU_CALGARY_PHB_DAC_DISABLE 0x01000000u
#define VIOMMU_CALGARY_PHB_MEM2_ENABLE 0x00400000u
#define VIOMMU_CALGARY_PHB_MCSR_ENABLE 0x00100000u

/* CSR: an error is pending when a bit of the agent mask is set (the watchdog's test). */
#define VIOMMU_CALGARY_CSR_AGENT_MASK 0xffe0ffffu
/* model: the bits this library sets on a blocked DMA, inside the agent mask. */
#define VIOMMU_CALGARY_CSR_TCE_FAULT 0x80000000u /* translation refused the DMA */
#define VIOMMU_CALGARY_CSR_MULTI 0x40000000u	 /* a further error while one was pending */
/* model: CalIOC2 ERR(0) = faulting I/O address bits 63:32, ERR(1) = bits 31:0, ERR(2) = reason
 * << 16 | requester id. PLSSR (both chips) = I/O page number of the first error, low 32 bits. */

/* PMCR and PMDR (CalIOC2 page migration control and debug). */
#define VIOMMU_CALGARY_PMR_SOFTSTOP 0x80000000u
#define VIOMMU_CALGARY_PMR_SOFTSTOPFAULT 0x40000000u
#define VIOMMU_CALGARY_PMR_HARDSTOP 0x20000000u

/* Reserved I/O space the driver never hands out [L]. */
#define VIOMMU_CALGARY_EMERGENCY_PAGES 32

/* ------------------------------------------------------------------------------------------ */
/* Translation control entry [T]: 64-bit, big-endian in memory                                 */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_TCE_READ VIOMMU_CALGARY_BIT(0)
#define VIOMMU_TCE_WRITE VIOMMU_CALGARY_BIT(1)
#define VIOMMU_TCE_HUBID_MASK 0xfcull /* 7:2, unused */
#define VIOMMU_TCE_RPN_MASK 0x0000fffffffff000ull
#define VIOMMU_TCE_PAGE_SHIFT 12

/* ------------------------------------------------------------------------------------------ */
/* Discovery: the BIOS "Rio Grande" table in the EBDA [L, R]                                   */
/* ------------------------------------------------------------------------------------------ */

/* A linked list of blocks from EBDA offset 0x180: u16 next offset, u16 block id, data. */
#define VIOMMU_CALGARY_EBDA_FIRST 0x180
#define VIOMMU_CALGARY_RIO_BLOCK_ID 0x4752
#define VIOMMU_CALGARY_RIO_VERSION 3
/* Header: u8 version, u8 num_scal_dev, u8 num_rio_dev; then the details, packed. */
#define VIOMMU_CALGARY_RIO_HDR_LEN 3
#define VIOMMU_CALGARY_SCAL_DETAIL_LEN 12 /* version 3 */
#define VIOMMU_CALGARY_RIO_DETAIL_LEN 15  /* version 3 */
/* rio_detail: node_id 0, BBAR (u32, little-endian) 1, type 5, owner_id 6, ports 7..10,
 * first_slot 11, status 12, WP_index 13, chassis_num 14. */
#define VIOMMU_CALGARY_RIO_BBAR 1
#define VIOMMU_CALGARY_RIO_TYPE 5
#define VIOMMU_CALGARY_RIO_TYPE_COMPAT_CALGARY 4
#define VIOMMU_CALGARY_RIO_TYPE_ALT_CALGARY 5

/* ------------------------------------------------------------------------------------------ */
/* sPAPR TCE hypercalls [H]                                                                    */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_TCE_H_GET_TCE 0x1c
#define VIOMMU_TCE_H_PUT_TCE 0x20
#define VIOMMU_TCE_H_STUFF_TCE 0x138
#define VIOMMU_TCE_H_PUT_TCE_INDIRECT 0x13c
/* H_PUT_TCE_INDIRECT: at most this many TCEs, from a list aligned to 4 KiB. */
#define VIOMMU_TCE_INDIRECT_MAX 512
#define VIOMMU_TCE_INDIRECT_ALIGN 4096

#define VIOMMU_TCE_H_SUCCESS 0
#define VIOMMU_TCE_H_HARDWARE (-1)
#define VIOMMU_TCE_H_FUNCTION (-2)
#define VIOMMU_TCE_H_PRIVILEGE (-3)
#define VIOMMU_TCE_H_PARAMETER (-4)

#endif /* VIOMMU_SPEC_CALGARY_H */
