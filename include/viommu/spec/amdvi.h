/* SPDX-License-Identifier: MIT */
/*
 * AMD I/O Virtualization Technology (IOMMU) Specification, publication 48882 (section numbers of
 * revision 3.x): MMIO registers and fields, the PCI capability header, device table entries, I/O
 * page-table and GCR3-table entries, commands, event log and PPR log entries, under the
 * specification's names with the prefix VIOMMU_AMDVI_ (so they never meet an embedder's own
 * AMDVI_* or MMIO_* names).
 *
 * Dependency-free: <stdint.h> and macros. Every constant is a uint64_t mask in place. A field
 * of more than one bit has NAME_MASK (in place), NAME_SHIFT, NAME_GET(reg) (extract the field's
 * value) and NAME_SET(val) (place a value in the field, to OR into a register or entry).
 * Structures of 128 or 256 bits are described as little-endian 64-bit words (QWn, bit 64 * n + k
 * of the specification's figure is bit k of word n); commands and log entries keep the
 * specification's 32-bit view where fields are defined per doubleword.
 */
#ifndef VIOMMU_SPEC_AMDVI_H
#define VIOMMU_SPEC_AMDVI_H

#include <stdint.h>

#define VIOMMU_AMDVI_BIT(n) (1ull << (n))
/* Bits hi..lo inclusive, as the specification writes fields. */
#define VIOMMU_AMDVI_GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))
#define VIOMMU_AMDVI_FIELD_GET(r, hi, lo) (((uint64_t)(r)&VIOMMU_AMDVI_GENMASK(hi, lo)) >> (lo))
#define VIOMMU_AMDVI_FIELD_SET(v, hi, lo) (((uint64_t)(v) << (lo)) & VIOMMU_AMDVI_GENMASK(hi, lo))

/* ------------------------------------------------------------------------------------------ */
/* 3.2 PCI capability block (the VMM places it in the IOMMU function's configuration space)   */
/* ------------------------------------------------------------------------------------------ */

/* 3.2.1 IOMMU Capability Header (capability offset 00h). */
#define VIOMMU_AMDVI_CAP_ID 0x0f  /* CapId 7:0: secure device */
#define VIOMMU_AMDVI_CAP_TYPE 0x3 /* CapType 18:16 */
#define VIOMMU_AMDVI_CAP_REV 0x1  /* CapRev 23:19 */
#define VIOMMU_AMDVI_CAP_HDR_ID_MASK VIOMMU_AMDVI_GENMASK(7, 0)
#define VIOMMU_AMDVI_CAP_HDR_PTR_MASK VIOMMU_AMDVI_GENMASK(15, 8)
#define VIOMMU_AMDVI_CAP_HDR_TYPE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 18, 16)
#define VIOMMU_AMDVI_CAP_HDR_REV_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 23, 19)
#define VIOMMU_AMDVI_CAP_HDR_IOTLB_SUP VIOMMU_AMDVI_BIT(24) /* device IOTLBs (ATS) supported */
#define VIOMMU_AMDVI_CAP_HDR_HT_TUNNEL VIOMMU_AMDVI_BIT(25)
#define VIOMMU_AMDVI_CAP_HDR_NP_CACHE VIOMMU_AMDVI_BIT(26) /* not-present entries are cached */
#define VIOMMU_AMDVI_CAP_HDR_EFR_SUP VIOMMU_AMDVI_BIT(27)  /* extended feature register */
#define VIOMMU_AMDVI_CAP_HDR_CAP_EXT VIOMMU_AMDVI_BIT(28)  /* misc information register 1 */
/* 3.2.2-3.2.3 base address low/high (04h/08h), 3.2.4 range (0Ch), 3.2.5 misc information (10h). */
#define VIOMMU_AMDVI_CAP_BAR_LO 0x04
#define VIOMMU_AMDVI_CAP_BAR_HI 0x08
#define VIOMMU_AMDVI_CAP_RANGE 0x0c
#define VIOMMU_AMDVI_CAP_MISC0 0x10
#define VIOMMU_AMDVI_CAP_BAR_ENABLE VIOMMU_AMDVI_BIT(0)
/* Misc information 0: MsiNum 4:0, GVAsize 7:5, PAsize 14:8, VAsize 21:15, MsiNumPPR 31:27. */
#define VIOMMU_AMDVI_MISC0_PASIZE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 14, 8)
#define VIOMMU_AMDVI_MISC0_VASIZE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 21, 15)
#define VIOMMU_AMDVI_MISC0_GVASIZE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 7, 5)
#define VIOMMU_AMDVI_MISC0_GVASIZE_48 0x2 /* GVAsize 010b: 48-bit guest virtual addresses */

/* ------------------------------------------------------------------------------------------ */
/* 3.4 MMIO registers: two 4 KiB pages (control at 0000h, pointers and status at 2000h)        */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE 0x0000 /* 3.4.1 Device Table Base Address */
#define VIOMMU_AMDVI_MMIO_CMD_BUF_BASE 0x0008	/* 3.4.2 Command Buffer Base Address */
#define VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE 0x0010 /* 3.4.3 Event Log Base Address */
#define VIOMMU_AMDVI_MMIO_CONTROL 0x0018	/* 3.4.4 IOMMU Control */
#define VIOMMU_AMDVI_MMIO_EXCL_BASE 0x0020	/* 3.4.5 Exclusion Range Base */
#define VIOMMU_AMDVI_MMIO_EXCL_LIMIT 0x0028	/* 3.4.6 Exclusion Range Limit */
#define VIOMMU_AMDVI_MMIO_EXT_FEATURE 0x0030	/* 3.4.7 Extended Feature */
#define VIOMMU_AMDVI_MMIO_PPR_LOG_BASE 0x0038	/* 3.4.8 PPR Log Base Address */
#define VIOMMU_AMDVI_MMIO_HW_EVENT_HI 0x0040	/* 3.4.9 Hardware Event Upper */
#define VIOMMU_AMDVI_MMIO_HW_EVENT_LO 0x0048	/* 3.4.9 Hardware Event Lower */
#define VIOMMU_AMDVI_MMIO_HW_EVENT_STATUS 0x0050
#define VIOMMU_AMDVI_MMIO_GA_LOG_BASE 0x00e0
#define VIOMMU_AMDVI_MMIO_GA_LOG_TAIL 0x00e8
#define VIOMMU_AMDVI_MMIO_MSI_ADDR_LO 0x015c /* MSI capability mirrored (EFR MsiCapMmioSup) */
#define VIOMMU_AMDVI_MMIO_MSI_ADDR_HI 0x0160
#define VIOMMU_AMDVI_MMIO_MSI_DATA 0x0164
#define VIOMMU_AMDVI_MMIO_EXT_FEATURE2 0x01a0
#define VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD 0x2000	/* 3.4.10 Command Buffer Head Pointer */
#define VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL 0x2008	/* 3.4.10 Command Buffer Tail Pointer */
#define VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD 0x2010 /* 3.4.10 Event Log Head Pointer */
#define VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL 0x2018 /* 3.4.10 Event Log Tail Pointer */
#define VIOMMU_AMDVI_MMIO_STATUS 0x2020		/* 3.4.11 IOMMU Status */
#define VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD 0x2030	/* 3.4.10 PPR Log Head Pointer */
#define VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL 0x2038	/* 3.4.10 PPR Log Tail Pointer */
#define VIOMMU_AMDVI_MMIO_GA_LOG_HEAD 0x2040
#define VIOMMU_AMDVI_MMIO_GA_LOG_TAIL_PTR 0x2048
#define VIOMMU_AMDVI_MMIO_PAGE_SIZE 0x1000 /* each of the two register pages */
#define VIOMMU_AMDVI_MMIO_PAGE1 0x2000	   /* offset of the second page */

/* 3.4.1 Device Table Base Address: Size 8:0 (4 KiB pages minus one), DevTabBase 51:12. */
#define VIOMMU_AMDVI_DEV_TABLE_SIZE_MASK VIOMMU_AMDVI_GENMASK(8, 0)
#define VIOMMU_AMDVI_DEV_TABLE_SIZE_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 8, 0)
#define VIOMMU_AMDVI_DEV_TABLE_SIZE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 8, 0)
#define VIOMMU_AMDVI_DEV_TABLE_BASE_MASK VIOMMU_AMDVI_GENMASK(51, 12)
#define VIOMMU_AMDVI_DTE_SIZE 32 /* bytes per device table entry */

/*
 * 3.4.2, 3.4.3, 3.4.8 Command buffer, event log and PPR log base: base 51:12, length 59:56 as
 * a power of two of entries (1000b = 256 ... 1111b = 32768; smaller values are reserved).
 */
#define VIOMMU_AMDVI_BUF_BASE_MASK VIOMMU_AMDVI_GENMASK(51, 12)
#define VIOMMU_AMDVI_BUF_LEN_MASK VIOMMU_AMDVI_GENMASK(59, 56)
#define VIOMMU_AMDVI_BUF_LEN_SHIFT 56
#define VIOMMU_AMDVI_BUF_LEN_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 59, 56)
#define VIOMMU_AMDVI_BUF_LEN_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 59, 56)
#define VIOMMU_AMDVI_BUF_LEN_MIN 8  /* 256 entries */
#define VIOMMU_AMDVI_BUF_LEN_MAX 15 /* 32768 entries */
#define VIOMMU_AMDVI_CMD_SIZE 16    /* bytes per command */
#define VIOMMU_AMDVI_EVENT_SIZE 16  /* bytes per event log entry */
#define VIOMMU_AMDVI_PPR_SIZE 16    /* bytes per PPR log entry */

/* 3.4.10 Head and tail pointers: a byte offset into the buffer, 18:4 (16-byte entries). */
#define VIOMMU_AMDVI_PTR_MASK VIOMMU_AMDVI_GENMASK(18, 4)

/* 3.4.4 IOMMU Control Register */
#define VIOMMU_AMDVI_CTRL_IOMMU_EN VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_CTRL_HT_TUN_EN VIOMMU_AMDVI_BIT(1)
#define VIOMMU_AMDVI_CTRL_EVENT_LOG_EN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_CTRL_EVENT_INT_EN VIOMMU_AMDVI_BIT(3)
#define VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN VIOMMU_AMDVI_BIT(4)
#define VIOMMU_AMDVI_CTRL_INV_TIMEOUT_MASK VIOMMU_AMDVI_GENMASK(7, 5)
#define VIOMMU_AMDVI_CTRL_INV_TIMEOUT_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 7, 5)
#define VIOMMU_AMDVI_CTRL_INV_TIMEOUT_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 7, 5)
#define VIOMMU_AMDVI_CTRL_PASS_PW VIOMMU_AMDVI_BIT(8)
#define VIOMMU_AMDVI_CTRL_RES_PASS_PW VIOMMU_AMDVI_BIT(9)
#define VIOMMU_AMDVI_CTRL_COHERENT VIOMMU_AMDVI_BIT(10)
#define VIOMMU_AMDVI_CTRL_ISOC VIOMMU_AMDVI_BIT(11)
#define VIOMMU_AMDVI_CTRL_CMD_BUF_EN VIOMMU_AMDVI_BIT(12)
#define VIOMMU_AMDVI_CTRL_PPR_LOG_EN VIOMMU_AMDVI_BIT(13)
#define VIOMMU_AMDVI_CTRL_PPR_INT_EN VIOMMU_AMDVI_BIT(14)
#define VIOMMU_AMDVI_CTRL_PPR_EN VIOMMU_AMDVI_BIT(15)
#define VIOMMU_AMDVI_CTRL_GT_EN VIOMMU_AMDVI_BIT(16)
#define VIOMMU_AMDVI_CTRL_GA_EN VIOMMU_AMDVI_BIT(17)
#define VIOMMU_AMDVI_CTRL_SMIF_EN VIOMMU_AMDVI_BIT(22)
#define VIOMMU_AMDVI_CTRL_SLF_WB_DIS VIOMMU_AMDVI_BIT(23)
#define VIOMMU_AMDVI_CTRL_SMIF_LOG_EN VIOMMU_AMDVI_BIT(24)
#define VIOMMU_AMDVI_CTRL_GAM_EN_MASK VIOMMU_AMDVI_GENMASK(27, 25)
#define VIOMMU_AMDVI_CTRL_GA_LOG_EN VIOMMU_AMDVI_BIT(28)
#define VIOMMU_AMDVI_CTRL_GA_INT_EN VIOMMU_AMDVI_BIT(29)
#define VIOMMU_AMDVI_CTRL_EPH_EN VIOMMU_AMDVI_BIT(45) /* enhanced PPR handling (EPHSup) */
#define VIOMMU_AMDVI_CTRL_XT_EN VIOMMU_AMDVI_BIT(50)
#define VIOMMU_AMDVI_CTRL_INT_CAP_XT_EN VIOMMU_AMDVI_BIT(51)

/* 3.4.5 Exclusion Range Base (ExEn 0, Allow 1, base 51:12); 3.4.6 limit 51:12 (11:0 read 1). */
#define VIOMMU_AMDVI_EXCL_EN VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_EXCL_ALLOW VIOMMU_AMDVI_BIT(1)
#define VIOMMU_AMDVI_EXCL_ADDR_MASK VIOMMU_AMDVI_GENMASK(51, 12)

/* 3.4.7 Extended Feature Register */
#define VIOMMU_AMDVI_EFR_PREF_SUP VIOMMU_AMDVI_BIT(0) /* PREFETCH_IOMMU_PAGES */
#define VIOMMU_AMDVI_EFR_PPR_SUP VIOMMU_AMDVI_BIT(1)  /* peripheral page requests */
#define VIOMMU_AMDVI_EFR_XT_SUP VIOMMU_AMDVI_BIT(2)   /* x2APIC */
#define VIOMMU_AMDVI_EFR_NX_SUP VIOMMU_AMDVI_BIT(3)   /* no-execute and privilege levels */
#define VIOMMU_AMDVI_EFR_GT_SUP VIOMMU_AMDVI_BIT(4)   /* guest translation */
#define VIOMMU_AMDVI_EFR_IA_SUP VIOMMU_AMDVI_BIT(6)   /* INVALIDATE_IOMMU_ALL */
#define VIOMMU_AMDVI_EFR_GA_SUP VIOMMU_AMDVI_BIT(7)   /* guest virtual APIC */
#define VIOMMU_AMDVI_EFR_HE_SUP VIOMMU_AMDVI_BIT(8)   /* hardware error registers */
#define VIOMMU_AMDVI_EFR_PC_SUP VIOMMU_AMDVI_BIT(9)   /* performance counters */
/* HATS 11:10: host page-table levels, 00b 4, 01b 5, 10b 6. */
#define VIOMMU_AMDVI_EFR_HATS_MASK VIOMMU_AMDVI_GENMASK(11, 10)
#define VIOMMU_AMDVI_EFR_HATS_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 11, 10)
#define VIOMMU_AMDVI_EFR_HATS_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 11, 10)
/* GATS 13:12: guest page-table levels, 00b 4, 01b 5. */
#define VIOMMU_AMDVI_EFR_GATS_MASK VIOMMU_AMDVI_GENMASK(13, 12)
#define VIOMMU_AMDVI_EFR_GATS_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 13, 12)
#define VIOMMU_AMDVI_EFR_GATS_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 13, 12)
/* GLXSup 15:14: GCR3 table levels, 00b one, 01b two, 10b three. */
#define VIOMMU_AMDVI_EFR_GLX_SUP_MASK VIOMMU_AMDVI_GENMASK(15, 14)
#define VIOMMU_AMDVI_EFR_GLX_SUP_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 15, 14)
#define VIOMMU_AMDVI_EFR_GLX_SUP_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 15, 14)
#define VIOMMU_AMDVI_EFR_SMIF_SUP_MASK VIOMMU_AMDVI_GENMASK(17, 16)
#define VIOMMU_AMDVI_EFR_SMIF_RC_MASK VIOMMU_AMDVI_GENMASK(20, 18)
#define VIOMMU_AMDVI_EFR_GAM_SUP_MASK VIOMMU_AMDVI_GENMASK(23, 21)
#define VIOMMU_AMDVI_EFR_DUAL_PPR_LOG_SUP_MASK VIOMMU_AMDVI_GENMASK(25, 24)
#define VIOMMU_AMDVI_EFR_DUAL_EVENT_LOG_SUP_MASK VIOMMU_AMDVI_GENMASK(29, 28)
/* PASmax 36:32: the largest PASID is 2^(PASmax + 1) - 1. */
#define VIOMMU_AMDVI_EFR_PASMAX_MASK VIOMMU_AMDVI_GENMASK(36, 32)
#define VIOMMU_AMDVI_EFR_PASMAX_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 36, 32)
#define VIOMMU_AMDVI_EFR_PASMAX_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 36, 32)
#define VIOMMU_AMDVI_EFR_US_SUP VIOMMU_AMDVI_BIT(37)
#define VIOMMU_AMDVI_EFR_DEV_TBL_SEG_SUP_MASK VIOMMU_AMDVI_GENMASK(39, 38)
#define VIOMMU_AMDVI_EFR_PPR_OVRFLW_EARLY_SUP VIOMMU_AMDVI_BIT(40)
#define VIOMMU_AMDVI_EFR_PPR_AUTO_RSP_SUP VIOMMU_AMDVI_BIT(41)
#define VIOMMU_AMDVI_EFR_MARC_SUP_MASK VIOMMU_AMDVI_GENMASK(43, 42)
#define VIOMMU_AMDVI_EFR_BLK_STOP_MRK_SUP VIOMMU_AMDVI_BIT(44)
#define VIOMMU_AMDVI_EFR_PERF_OPT_SUP VIOMMU_AMDVI_BIT(45)
#define VIOMMU_AMDVI_EFR_MSI_CAP_MMIO_SUP VIOMMU_AMDVI_BIT(46)
#define VIOMMU_AMDVI_EFR_GIO_SUP VIOMMU_AMDVI_BIT(48) /* guest I/O protection (GIoV) */
#define VIOMMU_AMDVI_EFR_HA_SUP VIOMMU_AMDVI_BIT(49)  /* host access (A) updates */
#define VIOMMU_AMDVI_EFR_EPH_SUP VIOMMU_AMDVI_BIT(50) /* enhanced PPR handling */
#define VIOMMU_AMDVI_EFR_ATTR_FW_SUP VIOMMU_AMDVI_BIT(51)
#define VIOMMU_AMDVI_EFR_HD_SUP VIOMMU_AMDVI_BIT(52) /* host dirty updates */
#define VIOMMU_AMDVI_EFR_INV_IOTLB_TYPE_SUP VIOMMU_AMDVI_BIT(54)
#define VIOMMU_AMDVI_EFR_SNP_SUP VIOMMU_AMDVI_BIT(63)

/* 3.4.11 IOMMU Status Register (W1C: write 1 to clear; RO: read only) */
#define VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW VIOMMU_AMDVI_BIT(0) /* W1C */
#define VIOMMU_AMDVI_STATUS_EVENT_LOG_INT VIOMMU_AMDVI_BIT(1)  /* W1C */
#define VIOMMU_AMDVI_STATUS_COM_WAIT_INT VIOMMU_AMDVI_BIT(2)   /* W1C */
#define VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN VIOMMU_AMDVI_BIT(3)  /* RO */
#define VIOMMU_AMDVI_STATUS_CMD_BUF_RUN VIOMMU_AMDVI_BIT(4)    /* RO */
#define VIOMMU_AMDVI_STATUS_PPR_OVERFLOW VIOMMU_AMDVI_BIT(5)   /* W1C */
#define VIOMMU_AMDVI_STATUS_PPR_INT VIOMMU_AMDVI_BIT(6)	       /* W1C */
#define VIOMMU_AMDVI_STATUS_PPR_LOG_RUN VIOMMU_AMDVI_BIT(7)    /* RO */
#define VIOMMU_AMDVI_STATUS_GA_LOG_RUN VIOMMU_AMDVI_BIT(8)
#define VIOMMU_AMDVI_STATUS_GA_OVERFLOW VIOMMU_AMDVI_BIT(9)
#define VIOMMU_AMDVI_STATUS_GA_INT VIOMMU_AMDVI_BIT(10)

/*
 * 2.2.5 Interrupt remapping: untranslated requests to this range are interrupt requests (MSIs),
 * handled by interrupt remapping (the DTE's IV), never by the I/O page tables.
 */
#define VIOMMU_AMDVI_INTR_ADDR_FIRST 0xfee00000ull
#define VIOMMU_AMDVI_INTR_ADDR_LAST 0xfeefffffull

/* ------------------------------------------------------------------------------------------ */
/* 2.2.2 Device Table Entry (256 bits: QW0..QW3)                                               */
/* ------------------------------------------------------------------------------------------ */

/* QW0 */
#define VIOMMU_AMDVI_DTE0_V VIOMMU_AMDVI_BIT(0)	 /* entry valid */
#define VIOMMU_AMDVI_DTE0_TV VIOMMU_AMDVI_BIT(1) /* translation information valid */
#define VIOMMU_AMDVI_DTE0_RSVD_6_2 VIOMMU_AMDVI_GENMASK(6, 2)
#define VIOMMU_AMDVI_DTE0_HAD_MASK VIOMMU_AMDVI_GENMASK(8, 7) /* host access/dirty updates */
/* Mode 11:9: 000b translation disabled (IR/IW decide), 001b-110b levels, 111b reserved. */
#define VIOMMU_AMDVI_DTE0_MODE_MASK VIOMMU_AMDVI_GENMASK(11, 9)
#define VIOMMU_AMDVI_DTE0_MODE_SHIFT 9
#define VIOMMU_AMDVI_DTE0_MODE_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 11, 9)
#define VIOMMU_AMDVI_DTE0_MODE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 11, 9)
#define VIOMMU_AMDVI_DTE0_PT_ROOT_MASK VIOMMU_AMDVI_GENMASK(51, 12) /* page table root */
#define VIOMMU_AMDVI_DTE0_PPR VIOMMU_AMDVI_BIT(52)		    /* PPR requests allowed */
#define VIOMMU_AMDVI_DTE0_GRPR VIOMMU_AMDVI_BIT(53) /* guest PPR response with PASID */
#define VIOMMU_AMDVI_DTE0_GIOV VIOMMU_AMDVI_BIT(54) /* guest I/O protection valid */
#define VIOMMU_AMDVI_DTE0_GV VIOMMU_AMDVI_BIT(55)   /* guest translation valid */
/* GLX 57:56: GCR3 table levels, 00b one, 01b two, 10b three. */
#define VIOMMU_AMDVI_DTE0_GLX_MASK VIOMMU_AMDVI_GENMASK(57, 56)
#define VIOMMU_AMDVI_DTE0_GLX_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 57, 56)
#define VIOMMU_AMDVI_DTE0_GLX_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 57, 56)
/* GCR3 table root pointer bits 14:12 at 60:58. */
#define VIOMMU_AMDVI_DTE0_GCR3_A_MASK VIOMMU_AMDVI_GENMASK(60, 58)
#define VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT 58
#define VIOMMU_AMDVI_DTE0_IR VIOMMU_AMDVI_BIT(61) /* read permission */
#define VIOMMU_AMDVI_DTE0_IW VIOMMU_AMDVI_BIT(62) /* write permission */
#define VIOMMU_AMDVI_DTE0_RSVD_63 VIOMMU_AMDVI_BIT(63)

/* QW1 */
#define VIOMMU_AMDVI_DTE1_DOMAIN_ID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_DTE1_DOMAIN_ID_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 15, 0)
#define VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 15, 0)
/* GCR3 table root pointer bits 30:15 at 31:16. */
#define VIOMMU_AMDVI_DTE1_GCR3_B_MASK VIOMMU_AMDVI_GENMASK(31, 16)
#define VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT 16
#define VIOMMU_AMDVI_DTE1_I VIOMMU_AMDVI_BIT(32)  /* device IOTLB (ATS) enabled */
#define VIOMMU_AMDVI_DTE1_SE VIOMMU_AMDVI_BIT(33) /* suppress repeated page-fault events */
#define VIOMMU_AMDVI_DTE1_SA VIOMMU_AMDVI_BIT(34) /* suppress all page-fault events */
#define VIOMMU_AMDVI_DTE1_IOCTL_MASK VIOMMU_AMDVI_GENMASK(36, 35) /* port I/O control */
#define VIOMMU_AMDVI_DTE1_CACHE VIOMMU_AMDVI_BIT(37)		  /* IOTLB cache hint */
#define VIOMMU_AMDVI_DTE1_SD VIOMMU_AMDVI_BIT(38)		  /* snoop disable */
#define VIOMMU_AMDVI_DTE1_EX VIOMMU_AMDVI_BIT(39)		  /* exclusion range allowed */
#define VIOMMU_AMDVI_DTE1_SYSMGT_MASK VIOMMU_AMDVI_GENMASK(41, 40)
#define VIOMMU_AMDVI_DTE1_RSVD_42 VIOMMU_AMDVI_BIT(42)
/* GCR3 table root pointer bits 51:31 at 63:43. */
#define VIOMMU_AMDVI_DTE1_GCR3_C_MASK VIOMMU_AMDVI_GENMASK(63, 43)
#define VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT 43

/* QW2: interrupt remapping */
#define VIOMMU_AMDVI_DTE2_IV VIOMMU_AMDVI_BIT(0) /* interrupt map valid */
#define VIOMMU_AMDVI_DTE2_INT_TAB_LEN_MASK VIOMMU_AMDVI_GENMASK(4, 1)
#define VIOMMU_AMDVI_DTE2_INT_TAB_LEN_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 4, 1)
#define VIOMMU_AMDVI_DTE2_IG VIOMMU_AMDVI_BIT(5)
#define VIOMMU_AMDVI_DTE2_INT_TAB_ROOT_MASK VIOMMU_AMDVI_GENMASK(51, 6) /* 128-byte aligned */
#define VIOMMU_AMDVI_DTE2_RSVD_55_52 VIOMMU_AMDVI_GENMASK(55, 52)
/*
 * GuestPagingMode 55:54 (DTE bits 183:182, with GV): the guest (v2) tables' depth, 00b 4-level,
 * 01b 5-level (only with EFR GATS 01b), 10b-11b reserved. Bits 53:52 stay reserved.
 */
#define VIOMMU_AMDVI_DTE2_GPM_MASK VIOMMU_AMDVI_GENMASK(55, 54)
#define VIOMMU_AMDVI_DTE2_GPM_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 55, 54)
#define VIOMMU_AMDVI_DTE2_GPM_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 55, 54)
#define VIOMMU_AMDVI_GPM_4_LEVEL 0x0
#define VIOMMU_AMDVI_GPM_5_LEVEL 0x1
#define VIOMMU_AMDVI_DTE2_INIT_PASS VIOMMU_AMDVI_BIT(56)
#define VIOMMU_AMDVI_DTE2_EINT_PASS VIOMMU_AMDVI_BIT(57)
#define VIOMMU_AMDVI_DTE2_NMI_PASS VIOMMU_AMDVI_BIT(58)
#define VIOMMU_AMDVI_DTE2_RSVD_59 VIOMMU_AMDVI_BIT(59)
/* IntCtl 61:60: 00b abort, 01b forward unmapped, 10b remap, 11b reserved. */
#define VIOMMU_AMDVI_DTE2_INT_CTL_MASK VIOMMU_AMDVI_GENMASK(61, 60)
#define VIOMMU_AMDVI_DTE2_INT_CTL_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 61, 60)
#define VIOMMU_AMDVI_DTE2_LINT0_PASS VIOMMU_AMDVI_BIT(62)
#define VIOMMU_AMDVI_DTE2_LINT1_PASS VIOMMU_AMDVI_BIT(63)
#define VIOMMU_AMDVI_INT_TAB_LEN_MAX 11 /* 2^11 = 2048 entries; 1100b-1111b are reserved */

/* QW3: 245:192 reserved; AttrV 246, Mode0FC 247, snoop attribute 255:248. */
#define VIOMMU_AMDVI_DTE3_RSVD_53_0 VIOMMU_AMDVI_GENMASK(53, 0)

/* ------------------------------------------------------------------------------------------ */
/* 2.2.3 I/O page-table entries (v1, host translation); 2.2.6 GCR3 table entries (v2)          */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_AMDVI_PTE_PR VIOMMU_AMDVI_BIT(0) /* present */
#define VIOMMU_AMDVI_PTE_A VIOMMU_AMDVI_BIT(5)
#define VIOMMU_AMDVI_PTE_D VIOMMU_AMDVI_BIT(6)
/* Next Level 11:9: 0 a page of this level's size, 7 a page of encoded size, else a table. */
#define VIOMMU_AMDVI_PTE_NEXT_LEVEL_MASK VIOMMU_AMDVI_GENMASK(11, 9)
#define VIOMMU_AMDVI_PTE_NEXT_LEVEL_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 11, 9)
#define VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 11, 9)
#define VIOMMU_AMDVI_PTE_ADDR_MASK VIOMMU_AMDVI_GENMASK(51, 12)
#define VIOMMU_AMDVI_PTE_U VIOMMU_AMDVI_BIT(59)
#define VIOMMU_AMDVI_PTE_FC VIOMMU_AMDVI_BIT(60)
#define VIOMMU_AMDVI_PTE_IR VIOMMU_AMDVI_BIT(61)
#define VIOMMU_AMDVI_PTE_IW VIOMMU_AMDVI_BIT(62)

/* GCR3 table entry (every level): GV 0 (valid), 51:12 the next table or the guest CR3. */
#define VIOMMU_AMDVI_GCR3_GV VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_GCR3_ADDR_MASK VIOMMU_AMDVI_GENMASK(51, 12)

/* ------------------------------------------------------------------------------------------ */
/* 2.4 Commands (128 bits: DW0..DW3; the opcode is DW1 31:28)                                  */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_AMDVI_CMD_OPCODE_GET(dw1) VIOMMU_AMDVI_FIELD_GET(dw1, 31, 28)
#define VIOMMU_AMDVI_CMD_OPCODE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 28)
#define VIOMMU_AMDVI_CMD_COMPLETION_WAIT 0x1		/* 2.4.1 */
#define VIOMMU_AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY 0x2	/* 2.4.2 */
#define VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES 0x3	/* 2.4.3 */
#define VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES 0x4	/* 2.4.4 */
#define VIOMMU_AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE 0x5 /* 2.4.5 */
#define VIOMMU_AMDVI_CMD_PREFETCH_IOMMU_PAGES 0x6	/* 2.4.6 */
#define VIOMMU_AMDVI_CMD_COMPLETE_PPR_REQUEST 0x7	/* 2.4.7 */
#define VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL 0x8	/* 2.4.8 */

/* 2.4.1 COMPLETION_WAIT: DW0 S 0, I 1, F 2, store address 31:3; DW1 address 51:32 at 19:0. */
#define VIOMMU_AMDVI_CW0_S VIOMMU_AMDVI_BIT(0) /* store DW2:DW3 at the store address */
#define VIOMMU_AMDVI_CW0_I VIOMMU_AMDVI_BIT(1) /* set ComWaitInt (interrupt if enabled) */
#define VIOMMU_AMDVI_CW0_F VIOMMU_AMDVI_BIT(2) /* flush queue */
#define VIOMMU_AMDVI_CW0_ADDR_LO_MASK VIOMMU_AMDVI_GENMASK(31, 3)
#define VIOMMU_AMDVI_CW1_ADDR_HI_MASK VIOMMU_AMDVI_GENMASK(19, 0)
#define VIOMMU_AMDVI_CW1_RSVD VIOMMU_AMDVI_GENMASK(27, 20)

/* 2.4.2 INVALIDATE_DEVTAB_ENTRY, 2.4.5 INVALIDATE_INTERRUPT_TABLE: DW0 DeviceID 15:0. */
#define VIOMMU_AMDVI_CMD_DEVID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_CMD_DEVID_RSVD0 VIOMMU_AMDVI_GENMASK(31, 16)
#define VIOMMU_AMDVI_CMD_RSVD1 VIOMMU_AMDVI_GENMASK(27, 0) /* DW1 below the opcode */

/*
 * 2.4.3 INVALIDATE_IOMMU_PAGES: DW0 PASID 19:0; DW1 DomainID 15:0; DW2 S 0, PDE 1, GN 2,
 * address 31:12; DW3 address 63:32. With S = 1 the range is the naturally aligned block whose
 * size is 2^(13 + the number of 1 bits from address bit 12 up to the first 0 bit).
 */
#define VIOMMU_AMDVI_IIP0_PASID_MASK VIOMMU_AMDVI_GENMASK(19, 0)
#define VIOMMU_AMDVI_IIP0_RSVD VIOMMU_AMDVI_GENMASK(31, 20)
#define VIOMMU_AMDVI_IIP1_DOMAIN_ID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_IIP1_RSVD VIOMMU_AMDVI_GENMASK(27, 16)
#define VIOMMU_AMDVI_IIP2_S VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_IIP2_PDE VIOMMU_AMDVI_BIT(1)
#define VIOMMU_AMDVI_IIP2_GN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_IIP2_RSVD VIOMMU_AMDVI_GENMASK(11, 3)
#define VIOMMU_AMDVI_IIP2_ADDR_LO_MASK VIOMMU_AMDVI_GENMASK(31, 12)
/* The address with S = 1 that names the whole address space (Linux: ALL_PAGES_ADDRESS). */
#define VIOMMU_AMDVI_INV_ALL_PAGES_ADDR 0x7ffffffffffff000ull

/*
 * 2.4.4 INVALIDATE_IOTLB_PAGES: DW0 DeviceID 15:0, PASID 23:16 (bits 7:0), Maxpend 31:24;
 * DW1 QueueID 15:0, PASID 27:16 (bits 19:8); DW2 S 0, GN 2, Type 5:4, address 31:12; DW3
 * address 63:32.
 */
#define VIOMMU_AMDVI_IIT0_DEVID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_IIT0_PASID_LO_MASK VIOMMU_AMDVI_GENMASK(23, 16)
#define VIOMMU_AMDVI_IIT0_MAXPEND_MASK VIOMMU_AMDVI_GENMASK(31, 24)
#define VIOMMU_AMDVI_IIT1_QUEUEID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_IIT1_PASID_HI_MASK VIOMMU_AMDVI_GENMASK(27, 16)
#define VIOMMU_AMDVI_IIT2_S VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_IIT2_GN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_IIT2_TYPE_MASK VIOMMU_AMDVI_GENMASK(5, 4)
#define VIOMMU_AMDVI_IIT2_RSVD \
	(VIOMMU_AMDVI_BIT(1) | VIOMMU_AMDVI_BIT(3) | VIOMMU_AMDVI_GENMASK(11, 6))
#define VIOMMU_AMDVI_IIT2_ADDR_LO_MASK VIOMMU_AMDVI_GENMASK(31, 12)

/*
 * 2.4.6 PREFETCH_IOMMU_PAGES: DW0 DeviceID 15:0, PFCount 31:24 (translations to load); DW1 PASID
 * 19:0; DW2 S 0 (the address encodes the page size as in INVALIDATE_IOMMU_PAGES), GN 2, Inval 4
 * (invalidate before loading), address 31:12; DW3 address 63:32.
 */
#define VIOMMU_AMDVI_PF0_DEVID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_PF0_RSVD VIOMMU_AMDVI_GENMASK(23, 16)
#define VIOMMU_AMDVI_PF0_COUNT_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 31, 24)
#define VIOMMU_AMDVI_PF0_COUNT_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 24)
#define VIOMMU_AMDVI_PF1_PASID_MASK VIOMMU_AMDVI_GENMASK(19, 0)
#define VIOMMU_AMDVI_PF1_RSVD VIOMMU_AMDVI_GENMASK(27, 20)
#define VIOMMU_AMDVI_PF2_S VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_PF2_GN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_PF2_INVAL VIOMMU_AMDVI_BIT(4)
#define VIOMMU_AMDVI_PF2_RSVD \
	(VIOMMU_AMDVI_BIT(1) | VIOMMU_AMDVI_BIT(3) | VIOMMU_AMDVI_GENMASK(11, 5))
#define VIOMMU_AMDVI_PF2_ADDR_LO_MASK VIOMMU_AMDVI_GENMASK(31, 12)

/*
 * 2.4.7 COMPLETE_PPR_REQUEST: DW0 DeviceID 15:0; DW1 PASID 19:0; DW2 GN 2; DW3 the PRI page
 * request group index 8:0 and the response code 15:12 (as Linux's build_complete_ppr()).
 */
#define VIOMMU_AMDVI_CPPR1_PASID_MASK VIOMMU_AMDVI_GENMASK(19, 0)
#define VIOMMU_AMDVI_CPPR1_RSVD VIOMMU_AMDVI_GENMASK(27, 20)
#define VIOMMU_AMDVI_CPPR2_GN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_CPPR2_RSVD (VIOMMU_AMDVI_GENMASK(31, 3) | VIOMMU_AMDVI_GENMASK(1, 0))
#define VIOMMU_AMDVI_CPPR3_TAG_MASK VIOMMU_AMDVI_GENMASK(8, 0)
#define VIOMMU_AMDVI_CPPR3_STATUS_MASK VIOMMU_AMDVI_GENMASK(15, 12)
#define VIOMMU_AMDVI_CPPR3_STATUS_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 15, 12)
#define VIOMMU_AMDVI_CPPR3_STATUS_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 15, 12)
#define VIOMMU_AMDVI_CPPR3_RSVD (VIOMMU_AMDVI_GENMASK(31, 16) | VIOMMU_AMDVI_GENMASK(11, 9))

/* ------------------------------------------------------------------------------------------ */
/* 2.5 Event log entries (128 bits: DW0..DW3; the event code is DW1 31:28)                     */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_AMDVI_EV_CODE_GET(dw1) VIOMMU_AMDVI_FIELD_GET(dw1, 31, 28)
#define VIOMMU_AMDVI_EV_CODE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 28)
#define VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY 0x1 /* 2.5.2 */
#define VIOMMU_AMDVI_EV_IO_PAGE_FAULT 0x2	    /* 2.5.3 */
#define VIOMMU_AMDVI_EV_DEV_TAB_HARDWARE_ERROR 0x3  /* 2.5.4 */
#define VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR 0x4 /* 2.5.5 */
#define VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR 0x5   /* 2.5.6 */
#define VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR 0x6  /* 2.5.7 */
#define VIOMMU_AMDVI_EV_IOTLB_INV_TIMEOUT 0x7	    /* 2.5.8 */
#define VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST 0x8  /* 2.5.9 */
#define VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST 0x9

/*
 * Common layout: DW0 DeviceID 15:0 and PASID 19:16 (bits 19:16 of the PASID); DW1 DomainID or
 * PASID 15:0, flags 27:16; DW2:DW3 the address (for ILLEGAL_COMMAND_ERROR the command's address,
 * for PAGE_TAB_HARDWARE_ERROR that of the table entry, for DEV_TAB_HARDWARE_ERROR the entry's).
 */
#define VIOMMU_AMDVI_EV0_DEVID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_EV0_PASID_HI_MASK VIOMMU_AMDVI_GENMASK(19, 16)
#define VIOMMU_AMDVI_EV1_DOMID_PASID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_EV1_FLAGS_MASK VIOMMU_AMDVI_GENMASK(27, 16)
/* Flags, as bits of DW1 (2.5.3 IO_PAGE_FAULT names them all; other events use a subset). */
#define VIOMMU_AMDVI_EV1_GN VIOMMU_AMDVI_BIT(16) /* the D/P field holds a PASID */
#define VIOMMU_AMDVI_EV1_NX VIOMMU_AMDVI_BIT(17) /* instruction fetch */
#define VIOMMU_AMDVI_EV1_US VIOMMU_AMDVI_BIT(18) /* user (unprivileged) access */
#define VIOMMU_AMDVI_EV1_I VIOMMU_AMDVI_BIT(19)	 /* interrupt request, not memory */
#define VIOMMU_AMDVI_EV1_PR VIOMMU_AMDVI_BIT(20) /* the entry was present */
#define VIOMMU_AMDVI_EV1_RW VIOMMU_AMDVI_BIT(21) /* write */
#define VIOMMU_AMDVI_EV1_PE VIOMMU_AMDVI_BIT(22) /* permission denied */
#define VIOMMU_AMDVI_EV1_RZ VIOMMU_AMDVI_BIT(23) /* reserved bit set or bad level encoding */
#define VIOMMU_AMDVI_EV1_TR VIOMMU_AMDVI_BIT(24) /* translation request (ATS) */
/* Hardware error type 26:25 (DEV_TAB_, PAGE_TAB_, COMMAND_HARDWARE_ERROR). */
#define VIOMMU_AMDVI_EV1_HW_TYPE_MASK VIOMMU_AMDVI_GENMASK(26, 25)
#define VIOMMU_AMDVI_EV1_HW_TYPE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 26, 25)
#define VIOMMU_AMDVI_HW_TYPE_MASTER_ABORT 0x1
#define VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT 0x2
#define VIOMMU_AMDVI_HW_TYPE_DATA_ERROR 0x3
/* INVALID_DEVICE_REQUEST type 27:25. */
#define VIOMMU_AMDVI_EV1_IDR_TYPE_MASK VIOMMU_AMDVI_GENMASK(27, 25)
#define VIOMMU_AMDVI_EV1_IDR_TYPE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 27, 25)
/*
 * 2.5.9 INVALID_DEVICE_REQUEST: DW0 DeviceID 15:0 and PASID 19:16; DW1 PASID 15:0, GN 16, US 17,
 * TR 24 (1: an ATS translation request, 0: a transaction), Type 27:25; DW2:DW3 the address of the
 * request. Types:
 */
#define VIOMMU_AMDVI_EV1_IDR_US VIOMMU_AMDVI_BIT(17) /* user (unprivileged) request */
/* A read or non-posted write in the interrupt address range. */
#define VIOMMU_AMDVI_IDR_INTR_READ 0x0
/*
 * TR = 0: a pretranslated transaction from a device whose DTE has I = 0 or V = 0; TR = 1: a
 * translation request from a device whose DTE has I = 0, V = 0, or V = 1 and TV = 0.
 */
#define VIOMMU_AMDVI_IDR_NO_ATS 0x1
/* A posted write to the interrupt/EOI range from a device whose DTE has IntCtl = 00b. */
#define VIOMMU_AMDVI_IDR_INTR_ABORTED 0x5

/*
 * 2.5.8 IOTLB_INV_TIMEOUT: DW0 DeviceID 15:0; DW2:DW3 bits 63:4 of the system physical address of
 * the INVALIDATE_IOTLB_PAGES command the device did not complete.
 */
#define VIOMMU_AMDVI_EV2_CMD_ADDR_MASK VIOMMU_AMDVI_GENMASK(31, 4)

/* ------------------------------------------------------------------------------------------ */
/* 2.6 PPR log entry (128 bits; QW0, QW1), PAGE_SERVICE_REQUEST                                */
/* ------------------------------------------------------------------------------------------ */

#define VIOMMU_AMDVI_PPR0_DEVID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_PPR0_PASID_LO_MASK VIOMMU_AMDVI_GENMASK(31, 16) /* PASID 15:0 */
#define VIOMMU_AMDVI_PPR0_TAG_MASK VIOMMU_AMDVI_GENMASK(41, 32)	     /* PRI page request group */
#define VIOMMU_AMDVI_PPR0_PASID_HI_MASK VIOMMU_AMDVI_GENMASK(45, 42) /* PASID 19:16 */
#define VIOMMU_AMDVI_PPR0_FLAGS_MASK VIOMMU_AMDVI_GENMASK(59, 48)
#define VIOMMU_AMDVI_PPR0_X VIOMMU_AMDVI_BIT(49)  /* execute requested */
#define VIOMMU_AMDVI_PPR0_RD VIOMMU_AMDVI_BIT(50) /* read requested */
#define VIOMMU_AMDVI_PPR0_WR VIOMMU_AMDVI_BIT(53) /* write requested */
#define VIOMMU_AMDVI_PPR0_US VIOMMU_AMDVI_BIT(54) /* user */
#define VIOMMU_AMDVI_PPR0_RZ VIOMMU_AMDVI_BIT(55)
#define VIOMMU_AMDVI_PPR0_GN VIOMMU_AMDVI_BIT(56) /* PASID valid */
#define VIOMMU_AMDVI_PPR0_TYPE_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 63, 60)
#define VIOMMU_AMDVI_PPR0_TYPE_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 63, 60)
#define VIOMMU_AMDVI_PPR_TYPE_PAGE_SERVICE_REQUEST 0x1
#define VIOMMU_AMDVI_PPR1_ADDR_MASK VIOMMU_AMDVI_GENMASK(63, 12)

/*
 * 2.5.10 INVALID_PPR_REQUEST (event code 9): the PPR log entry's layout (DeviceID, PASID, tag,
 * flags, address) with the event code in place of the type: a page request the IOMMU refused.
 */

/* COMPLETE_PPR_REQUEST / PRI response codes (PCIe "Page Request Group Response"). */
#define VIOMMU_AMDVI_PPR_RSP_SUCCESS 0x0
#define VIOMMU_AMDVI_PPR_RSP_INVALID 0x1
#define VIOMMU_AMDVI_PPR_RSP_FAILURE 0xf

/* ------------------------------------------------------------------------------------------ */
/* Hardware-assisted vIOMMU (HW-vIOMMU)                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * Sources. Public: the Linux RFC "iommu/amd: Introduce support for HW accelerated vIOMMU w/
 * nested page table" (2023-06-21, Message-ID 20230621235508.113949-1-suravee.suthikulpanit@amd.com;
 * patch 14 gives the VSC offsets, the VFCtrl offsets, the control bits vCMD_EN and vIOMMU_EN, the
 * DTE shifts and the private address space layout; FEATURE_VIOMMU is EFR bit 55 in the same
 * series), FreeBSD's sys/x86/iommu/amd_reg.h (2024: vIOMMU_STATUS, GGCR3TRP_PHYS, GSTBUFTRP_MODE,
 * EFR2 GCR3TRPM, the INSERT_GUEST_EVENT and RESET_VMMIO layouts) and the KVM Forum 2020 talk
 * "AMD-vIOMMU: A Hardware-assisted Virtual IOMMU Technology" (the hybrid model, trapped control
 * page, hardware-handled command buffer and logs). The event codes GUEST_EVENT_FAULT (0xB) and
 * VIOMMU_HARDWARE_ERROR (0xC) follow the order of a public summary of specification 48882.
 *
 * CHOSEN HERE (not public; marked "chosen" below): the layout of a DeviceID map entry and a
 * DomainID map entry, the guest MMIO area's layout, the meaning of GUEST_MISC_CONTROL bits 4:0,
 * which entry INSERT_GUEST_EVENT inserts, RESET_VMMIO's effect, and the layouts of the two new
 * events. The RFC and FreeBSD disagree on the order of GuestID and GDeviceID in DTE QW3: the RFC's
 * shifts are used.
 */

/* EFR bit 55 (FEATURE_VIOMMU in the RFC): the vIOMMU feature and its capability. */
#define VIOMMU_AMDVI_EFR_VIOMMU_SUP VIOMMU_AMDVI_BIT(55)
/* EFR2 (offset 01A0h) bit 3 GCR3TRPM: the DTE's GCR3 pointer may be guest-physical. */
#define VIOMMU_AMDVI_EFR2_GCR3TRPM VIOMMU_AMDVI_BIT(3)

/* Control register bits (RFC CONTROL_VCMD_EN, CONTROL_VIOMMU_EN; FreeBSD the other two). */
#define VIOMMU_AMDVI_CTRL_VCMD_EN VIOMMU_AMDVI_BIT(52)	     /* guest command buffers run */
#define VIOMMU_AMDVI_CTRL_VIOMMU_EN VIOMMU_AMDVI_BIT(53)     /* the vIOMMU feature is on */
#define VIOMMU_AMDVI_CTRL_GGCR3TRP_PHYS VIOMMU_AMDVI_BIT(58) /* DTE GCR3 is a GPA */
#define VIOMMU_AMDVI_CTRL_GSTBUFTRP_MODE VIOMMU_AMDVI_BIT(60)

/* MMIO 0190h vIOMMU status (FreeBSD AMDIOMMU_vIOMMU_STATUS); bit 0 chosen: a hardware error. */
#define VIOMMU_AMDVI_MMIO_VIOMMU_STATUS 0x0190
#define VIOMMU_AMDVI_VIOMMU_STATUS_HW_ERR VIOMMU_AMDVI_BIT(0)

/*
 * PCI Vendor-Specific Capability (offsets from its header, RFC MMIO_VSC_*): 00h info (ID 15:0,
 * revision 23:16), 08h/0Ch VF BAR low/high, 10h/14h VF_CNTL BAR low/high.
 */
#define VIOMMU_AMDVI_VSC_INFO 0x00
#define VIOMMU_AMDVI_VSC_VF_BAR_LO 0x08
#define VIOMMU_AMDVI_VSC_VF_BAR_HI 0x0c
#define VIOMMU_AMDVI_VSC_VF_CNTL_BAR_LO 0x10
#define VIOMMU_AMDVI_VSC_VF_CNTL_BAR_HI 0x14
#define VIOMMU_AMDVI_VSC_INFO_ID_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 15, 0)
#define VIOMMU_AMDVI_VSC_INFO_REV_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 23, 16)
#define VIOMMU_AMDVI_VSC_ID 0x1 /* chosen: the RFC reads the ID without naming a value */
#define VIOMMU_AMDVI_VSC_REV 0x1

/*
 * VF BAR: 256 MiB, one 4 KiB "VF MMIO" page per Guest ID, mapped into the guest as its vIOMMU's
 * pointer page (guest offset 2000h). Its registers are those of the pointer page at offset - 2000h.
 */
#define VIOMMU_AMDVI_VF_BAR_SIZE (256ull << 20)
#define VIOMMU_AMDVI_VF_PAGE_SIZE 0x1000
#define VIOMMU_AMDVI_VF_CMD_BUF_HEAD 0x00
#define VIOMMU_AMDVI_VF_CMD_BUF_TAIL 0x08
#define VIOMMU_AMDVI_VF_EVENT_LOG_HEAD 0x10
#define VIOMMU_AMDVI_VF_EVENT_LOG_TAIL 0x18
#define VIOMMU_AMDVI_VF_STATUS 0x20
#define VIOMMU_AMDVI_VF_PPR_LOG_HEAD 0x30
#define VIOMMU_AMDVI_VF_PPR_LOG_TAIL 0x38
#define VIOMMU_AMDVI_VF_REG_END 0x40

/* VF_CNTL BAR: 4 MiB, one 64-byte "VFCtrl MMIO" block per Guest ID (RFC offsets). */
#define VIOMMU_AMDVI_VF_CNTL_BAR_SIZE (4ull << 20)
#define VIOMMU_AMDVI_VFCTRL_SIZE 64
#define VIOMMU_AMDVI_VFCTRL_DID_MAP_CONTROL0 0x00
#define VIOMMU_AMDVI_VFCTRL_DID_MAP_CONTROL1 0x08
#define VIOMMU_AMDVI_VFCTRL_MISC_CONTROL 0x10
#define VIOMMU_AMDVI_VFCTRL_CMD_CONTROL 0x20
#define VIOMMU_AMDVI_VFCTRL_EVT_CONTROL 0x28
#define VIOMMU_AMDVI_VFCTRL_PPR_CONTROL 0x30
/*
 * GUEST_DID_MAP_CONTROL0: writing it installs one DeviceID map entry (V 0, host DeviceID 29:14,
 * guest DeviceID 61:46; V = 0 removes the guest DeviceID's entry). CONTROL1 is kept, unused.
 */
#define VIOMMU_AMDVI_DID_MAP_V VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_DID_MAP_HOST_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 29, 14)
#define VIOMMU_AMDVI_DID_MAP_HOST_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 29, 14)
#define VIOMMU_AMDVI_DID_MAP_GUEST_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 61, 46)
#define VIOMMU_AMDVI_DID_MAP_GUEST_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 61, 46)
/* GUEST_MISC_CONTROL: TransDevID 31:16 (the RFC); bits 4:0 chosen: the guest's own enables. */
#define VIOMMU_AMDVI_MISC_TRANS_DEVID_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 31, 16)
#define VIOMMU_AMDVI_MISC_TRANS_DEVID_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 16)
#define VIOMMU_AMDVI_MISC_CMD_BUF_EN VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_MISC_EVENT_LOG_EN VIOMMU_AMDVI_BIT(1)
#define VIOMMU_AMDVI_MISC_PPR_LOG_EN VIOMMU_AMDVI_BIT(2)
#define VIOMMU_AMDVI_MISC_COM_WAIT_INT_EN VIOMMU_AMDVI_BIT(3)
#define VIOMMU_AMDVI_MISC_EVENT_INT_EN VIOMMU_AMDVI_BIT(4)
/* GUEST_CMD/EVT/PPR_CONTROL: the guest's buffer base (guest-physical) 51:12 and length 59:56. */

/*
 * IOMMU private address space (RFC amd_viommu.h), reached through the v1 table of the IOMMU's
 * own DeviceID: per guest a 64-byte guest MMIO area, one dirty bit per guest, a 1 MiB DeviceID
 * map, a 512 KiB DomainID map, and 512 KiB windows onto the guest's command buffer, PPR log and
 * event log (the B logs are not modelled).
 */
#define VIOMMU_AMDVI_PRIV_GUEST_MMIO 0x0ull
#define VIOMMU_AMDVI_PRIV_GUEST_MMIO_SIZE 64
#define VIOMMU_AMDVI_PRIV_CMDBUF_DIRTY 0x400000ull
#define VIOMMU_AMDVI_PRIV_CMDBUF_DIRTY_SIZE 0x2000
#define VIOMMU_AMDVI_PRIV_DEVID_MAP 0x1000000000ull
#define VIOMMU_AMDVI_PRIV_DEVID_MAP_SIZE (1ull << 20)
#define VIOMMU_AMDVI_PRIV_DOMID_MAP 0x2000000000ull
#define VIOMMU_AMDVI_PRIV_DOMID_MAP_SIZE (1ull << 19)
#define VIOMMU_AMDVI_PRIV_CMDBUF 0x2800000000ull
#define VIOMMU_AMDVI_PRIV_PPR_LOG 0x3000000000ull
#define VIOMMU_AMDVI_PRIV_PPR_LOG_B 0x3800000000ull
#define VIOMMU_AMDVI_PRIV_EVT_LOG 0x4000000000ull
#define VIOMMU_AMDVI_PRIV_EVT_LOG_B 0x4800000000ull
#define VIOMMU_AMDVI_PRIV_QUEUE_SIZE (1ull << 19)
/*
 * Chosen: the guest MMIO area holds the VF page's registers at the same offsets (00h-3Fh); a
 * DeviceID map entry is 16 bytes (1 MiB / 65536), QW0 as GUEST_DID_MAP_CONTROL0; a DomainID map
 * entry is 8 bytes (512 KiB / 65536): V 0, host DomainID 31:16.
 */
#define VIOMMU_AMDVI_DEVID_MAP_ENTRY 16
#define VIOMMU_AMDVI_DOMID_MAP_ENTRY 8
#define VIOMMU_AMDVI_DOM_MAP_V VIOMMU_AMDVI_BIT(0)
#define VIOMMU_AMDVI_DOM_MAP_HOST_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 31, 16)
#define VIOMMU_AMDVI_DOM_MAP_HOST_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 16)

/* DTE QW3 (RFC DTE_VIOMMU_*): vImuEn 15, GuestID 31:16, GDeviceID 47:32. */
#define VIOMMU_AMDVI_DTE3_VIMU_EN VIOMMU_AMDVI_BIT(15)
#define VIOMMU_AMDVI_DTE3_GUEST_ID_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 31, 16)
#define VIOMMU_AMDVI_DTE3_GUEST_ID_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 31, 16)
#define VIOMMU_AMDVI_DTE3_GDEVICE_ID_GET(r) VIOMMU_AMDVI_FIELD_GET(r, 47, 32)
#define VIOMMU_AMDVI_DTE3_GDEVICE_ID_SET(v) VIOMMU_AMDVI_FIELD_SET(v, 47, 32)
#define VIOMMU_AMDVI_DTE3_VIOMMU_MASK VIOMMU_AMDVI_GENMASK(47, 15)

/*
 * New commands (FreeBSD layouts). INSERT_GUEST_EVENT: DW1 GuestID 15:0; chosen: it copies the
 * host event log entry at the event log head pointer (software, processing its log from the
 * head, stops at an entry meant for the guest and rewrites it with guest IDs) to the guest's
 * event log. RESET_VMMIO: DW0 GuestID 15:0, All 27, VCmd 31; chosen: the guest MMIO area (VCmd:
 * only the command buffer's head, tail and run state) of the guest, or of every guest with All.
 */
#define VIOMMU_AMDVI_CMD_INSERT_GUEST_EVENT 0x9
#define VIOMMU_AMDVI_CMD_RESET_VMMIO 0xa
#define VIOMMU_AMDVI_IGE1_GUEST_ID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_IGE1_RSVD VIOMMU_AMDVI_GENMASK(27, 16)
#define VIOMMU_AMDVI_RVM0_GUEST_ID_MASK VIOMMU_AMDVI_GENMASK(15, 0)
#define VIOMMU_AMDVI_RVM0_ALL VIOMMU_AMDVI_BIT(27)
#define VIOMMU_AMDVI_RVM0_VCMD VIOMMU_AMDVI_BIT(31)
#define VIOMMU_AMDVI_RVM0_RSVD (VIOMMU_AMDVI_GENMASK(26, 16) | VIOMMU_AMDVI_GENMASK(30, 28))

/*
 * New events, in the host's event log (layouts chosen): DW0 GuestID 15:0; DW2:DW3 the private
 * address whose access failed. GUEST_EVENT_FAULT: a guest event could not be written to the
 * guest's log; VIOMMU_HARDWARE_ERROR: the guest MMIO area, a map or the guest command buffer
 * could not be read (DW1 HW type as the other hardware errors).
 */
#define VIOMMU_AMDVI_EV_GUEST_EVENT_FAULT 0xb
#define VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR 0xc

#endif /* VIOMMU_SPEC_AMDVI_H */
