/* SPDX-License-Identifier: MIT */
/*
 * Intel Virtualization Technology for Directed I/O, Architecture Specification (rev 4.0; the
 * legacy-mode parts are unchanged since rev 2.x): register offsets and fields, root, context and
 * second-level entries, 128-bit invalidation descriptors and fault reasons, under the
 * specification's names with the prefix VIOMMU_VTD_ (so they never meet an embedder's own VTD_*
 * or DMAR_* names). Section numbers are that document's. Legacy (non-scalable) mode only.
 *
 * Dependency-free: <stdint.h> and macros. Every constant is a uint64_t mask in place. A field
 * of more than one bit has NAME_MASK (in place), NAME_SHIFT, NAME_GET(reg) (extract the field's
 * value) and NAME_SET(val) (place a value in the field, to OR into a register or entry).
 */
#ifndef VIOMMU_SPEC_VTD_H
#define VIOMMU_SPEC_VTD_H

#include <stdint.h>

#define VIOMMU_VTD_BIT(n) (1ull << (n))
/* Bits hi..lo inclusive, as the specification writes fields. */
#define VIOMMU_VTD_GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))
#define VIOMMU_VTD_FIELD_GET(r, hi, lo) (((uint64_t)(r)&VIOMMU_VTD_GENMASK(hi, lo)) >> (lo))
#define VIOMMU_VTD_FIELD_SET(v, hi, lo) (((uint64_t)(v) << (lo)) & VIOMMU_VTD_GENMASK(hi, lo))

/* 11.4 Register Descriptions (table "Address Mapping for Fixed-Location Registers"). */
#define VIOMMU_VTD_VER_REG 0x000      /* 32 Version */
#define VIOMMU_VTD_CAP_REG 0x008      /* 64 Capability */
#define VIOMMU_VTD_ECAP_REG 0x010     /* 64 Extended Capability */
#define VIOMMU_VTD_GCMD_REG 0x018     /* 32 Global Command */
#define VIOMMU_VTD_GSTS_REG 0x01c     /* 32 Global Status */
#define VIOMMU_VTD_RTADDR_REG 0x020   /* 64 Root Table Address */
#define VIOMMU_VTD_CCMD_REG 0x028     /* 64 Context Command */
#define VIOMMU_VTD_FSTS_REG 0x034     /* 32 Fault Status */
#define VIOMMU_VTD_FECTL_REG 0x038    /* 32 Fault Event Control */
#define VIOMMU_VTD_FEDATA_REG 0x03c   /* 32 Fault Event Data */
#define VIOMMU_VTD_FEADDR_REG 0x040   /* 32 Fault Event Address */
#define VIOMMU_VTD_FEUADDR_REG 0x044  /* 32 Fault Event Upper Address */
#define VIOMMU_VTD_AFLOG_REG 0x058    /* 64 Advanced Fault Log */
#define VIOMMU_VTD_PMEN_REG 0x064     /* 32 Protected Memory Enable */
#define VIOMMU_VTD_PLMBASE_REG 0x068  /* 32 Protected Low-Memory Base */
#define VIOMMU_VTD_PLMLIMIT_REG 0x06c /* 32 Protected Low-Memory Limit */
#define VIOMMU_VTD_PHMBASE_REG 0x070  /* 64 Protected High-Memory Base */
#define VIOMMU_VTD_PHMLIMIT_REG 0x078 /* 64 Protected High-Memory Limit */
#define VIOMMU_VTD_IQH_REG 0x080      /* 64 Invalidation Queue Head */
#define VIOMMU_VTD_IQT_REG 0x088      /* 64 Invalidation Queue Tail */
#define VIOMMU_VTD_IQA_REG 0x090      /* 64 Invalidation Queue Address */
#define VIOMMU_VTD_ICS_REG 0x09c      /* 32 Invalidation Completion Status */
#define VIOMMU_VTD_IECTL_REG 0x0a0    /* 32 Invalidation Event Control */
#define VIOMMU_VTD_IEDATA_REG 0x0a4   /* 32 Invalidation Event Data */
#define VIOMMU_VTD_IEADDR_REG 0x0a8   /* 32 Invalidation Event Address */
#define VIOMMU_VTD_IEUADDR_REG 0x0ac  /* 32 Invalidation Event Upper Address */
#define VIOMMU_VTD_IQERCD_REG 0x0b0   /* 64 Invalidation Queue Error Record */
#define VIOMMU_VTD_IRTA_REG 0x0b8     /* 64 Interrupt Remapping Table Address */
/*
 * The IOTLB registers sit at ECAP.IRO * 16 (IVA_REG, then IOTLB_REG 8 bytes on) and the fault
 * recording registers at CAP.FRO * 16, 16 bytes each (11.4.8, 11.4.9.6).
 */
#define VIOMMU_VTD_IVA_REG_OFF 0x0   /* from ECAP.IRO * 16 */
#define VIOMMU_VTD_IOTLB_REG_OFF 0x8 /* from ECAP.IRO * 16 */
#define VIOMMU_VTD_FRCD_REG_LEN 16

/* 11.4.1 Version Register: Major 7:4, Minor 3:0. */
#define VIOMMU_VTD_VER_MAX_GET(r) VIOMMU_VTD_FIELD_GET(r, 7, 4)
#define VIOMMU_VTD_VER_MAX_SET(v) VIOMMU_VTD_FIELD_SET(v, 7, 4)
#define VIOMMU_VTD_VER_MIN_GET(r) VIOMMU_VTD_FIELD_GET(r, 3, 0)
#define VIOMMU_VTD_VER_MIN_SET(v) VIOMMU_VTD_FIELD_SET(v, 3, 0)

/* 11.4.2 Capability Register */
#define VIOMMU_VTD_CAP_ND_GET(r) VIOMMU_VTD_FIELD_GET(r, 2, 0) /* number of domains */
#define VIOMMU_VTD_CAP_ND_SET(v) VIOMMU_VTD_FIELD_SET(v, 2, 0)
#define VIOMMU_VTD_CAP_ND_64K 6		      /* ND = 6: 16-bit domain ids */
#define VIOMMU_VTD_CAP_AFL VIOMMU_VTD_BIT(3)  /* advanced fault logging */
#define VIOMMU_VTD_CAP_RWBF VIOMMU_VTD_BIT(4) /* required write-buffer flushing */
#define VIOMMU_VTD_CAP_PLMR VIOMMU_VTD_BIT(5) /* protected low-memory region */
#define VIOMMU_VTD_CAP_PHMR VIOMMU_VTD_BIT(6) /* protected high-memory region */
#define VIOMMU_VTD_CAP_CM VIOMMU_VTD_BIT(7)   /* caching mode */
/* 12:8 supported adjusted guest address widths: a bitmap of the _39/_48/_57 values */
#define VIOMMU_VTD_CAP_SAGAW_GET(r) VIOMMU_VTD_FIELD_GET(r, 12, 8)
#define VIOMMU_VTD_CAP_SAGAW_SET(v) VIOMMU_VTD_FIELD_SET(v, 12, 8)
#define VIOMMU_VTD_CAP_SAGAW_39 VIOMMU_VTD_BIT(1) /* 39-bit AGAW, 3-level table */
#define VIOMMU_VTD_CAP_SAGAW_48 VIOMMU_VTD_BIT(2) /* 48-bit AGAW, 4-level table */
#define VIOMMU_VTD_CAP_SAGAW_57 VIOMMU_VTD_BIT(3) /* 57-bit AGAW, 5-level table */
/* 21:16 maximum guest address width - 1 */
#define VIOMMU_VTD_CAP_MGAW_GET(r) VIOMMU_VTD_FIELD_GET(r, 21, 16)
#define VIOMMU_VTD_CAP_MGAW_SET(v) VIOMMU_VTD_FIELD_SET(v, 21, 16)
#define VIOMMU_VTD_CAP_ZLR VIOMMU_VTD_BIT(22) /* zero-length read */
/* 33:24 fault-recording register offset / 16 */
#define VIOMMU_VTD_CAP_FRO_GET(r) VIOMMU_VTD_FIELD_GET(r, 33, 24)
#define VIOMMU_VTD_CAP_FRO_SET(v) VIOMMU_VTD_FIELD_SET(v, 33, 24)
/* 37:34 second-level large page support: a bitmap of the _2M/_1G values */
#define VIOMMU_VTD_CAP_SLLPS_GET(r) VIOMMU_VTD_FIELD_GET(r, 37, 34)
#define VIOMMU_VTD_CAP_SLLPS_SET(v) VIOMMU_VTD_FIELD_SET(v, 37, 34)
#define VIOMMU_VTD_CAP_SLLPS_2M VIOMMU_VTD_BIT(0) /* 2 MiB pages */
#define VIOMMU_VTD_CAP_SLLPS_1G VIOMMU_VTD_BIT(1) /* 1 GiB pages */
#define VIOMMU_VTD_CAP_PSI VIOMMU_VTD_BIT(39)	  /* page-selective invalidation */
/* 47:40 number of fault-recording registers - 1 */
#define VIOMMU_VTD_CAP_NFR_GET(r) VIOMMU_VTD_FIELD_GET(r, 47, 40)
#define VIOMMU_VTD_CAP_NFR_SET(v) VIOMMU_VTD_FIELD_SET(v, 47, 40)
/* 53:48 maximum address mask value of page-selective invalidation */
#define VIOMMU_VTD_CAP_MAMV_GET(r) VIOMMU_VTD_FIELD_GET(r, 53, 48)
#define VIOMMU_VTD_CAP_MAMV_SET(v) VIOMMU_VTD_FIELD_SET(v, 53, 48)
#define VIOMMU_VTD_CAP_DWD VIOMMU_VTD_BIT(54) /* write draining */
#define VIOMMU_VTD_CAP_DRD VIOMMU_VTD_BIT(55) /* read draining */

/* 11.4.3 Extended Capability Register */
#define VIOMMU_VTD_ECAP_C VIOMMU_VTD_BIT(0)   /* page-walk coherency */
#define VIOMMU_VTD_ECAP_QI VIOMMU_VTD_BIT(1)  /* queued invalidation */
#define VIOMMU_VTD_ECAP_DT VIOMMU_VTD_BIT(2)  /* device-TLB */
#define VIOMMU_VTD_ECAP_IR VIOMMU_VTD_BIT(3)  /* interrupt remapping */
#define VIOMMU_VTD_ECAP_EIM VIOMMU_VTD_BIT(4) /* extended interrupt mode */
#define VIOMMU_VTD_ECAP_PT VIOMMU_VTD_BIT(6)  /* pass through */
#define VIOMMU_VTD_ECAP_SC VIOMMU_VTD_BIT(7)  /* snoop control */
/* 17:8 IOTLB register offset / 16 */
#define VIOMMU_VTD_ECAP_IRO_GET(r) VIOMMU_VTD_FIELD_GET(r, 17, 8)
#define VIOMMU_VTD_ECAP_IRO_SET(v) VIOMMU_VTD_FIELD_SET(v, 17, 8)
/* 23:20 maximum handle mask value */
#define VIOMMU_VTD_ECAP_MHMV_GET(r) VIOMMU_VTD_FIELD_GET(r, 23, 20)
#define VIOMMU_VTD_ECAP_MHMV_SET(v) VIOMMU_VTD_FIELD_SET(v, 23, 20)
#define VIOMMU_VTD_ECAP_PDS VIOMMU_VTD_BIT(42) /* page-drain support */

/* 11.4.4 Global Command Register and 11.4.5 Global Status Register (same bit positions) */
#define VIOMMU_VTD_GCMD_TE VIOMMU_VTD_BIT(31)	 /* translation enable (persistent) */
#define VIOMMU_VTD_GCMD_SRTP VIOMMU_VTD_BIT(30)	 /* set root table pointer (one-shot) */
#define VIOMMU_VTD_GCMD_SFL VIOMMU_VTD_BIT(29)	 /* set fault log (one-shot) */
#define VIOMMU_VTD_GCMD_EAFL VIOMMU_VTD_BIT(28)	 /* enable advanced fault logging */
#define VIOMMU_VTD_GCMD_WBF VIOMMU_VTD_BIT(27)	 /* write buffer flush (one-shot) */
#define VIOMMU_VTD_GCMD_QIE VIOMMU_VTD_BIT(26)	 /* queued invalidation enable */
#define VIOMMU_VTD_GCMD_IRE VIOMMU_VTD_BIT(25)	 /* interrupt remapping enable */
#define VIOMMU_VTD_GCMD_SIRTP VIOMMU_VTD_BIT(24) /* set interrupt remap table pointer (one-shot) */
#define VIOMMU_VTD_GCMD_CFI VIOMMU_VTD_BIT(23)	 /* compatibility format interrupt */
#define VIOMMU_VTD_GSTS_TES VIOMMU_VTD_BIT(31)
#define VIOMMU_VTD_GSTS_RTPS VIOMMU_VTD_BIT(30)
#define VIOMMU_VTD_GSTS_FLS VIOMMU_VTD_BIT(29)
#define VIOMMU_VTD_GSTS_AFLS VIOMMU_VTD_BIT(28)
#define VIOMMU_VTD_GSTS_WBFS VIOMMU_VTD_BIT(27)
#define VIOMMU_VTD_GSTS_QIES VIOMMU_VTD_BIT(26)
#define VIOMMU_VTD_GSTS_IRES VIOMMU_VTD_BIT(25)
#define VIOMMU_VTD_GSTS_IRTPS VIOMMU_VTD_BIT(24)
#define VIOMMU_VTD_GSTS_CFIS VIOMMU_VTD_BIT(23)

/* 11.4.6 Root Table Address Register */
#define VIOMMU_VTD_RTADDR_RTA_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_RTADDR_TTM_MASK VIOMMU_VTD_GENMASK(11, 10) /* 00b legacy, 01b scalable */

/* 11.4.7 Context Command Register */
#define VIOMMU_VTD_CCMD_ICC VIOMMU_VTD_BIT(63)
#define VIOMMU_VTD_CCMD_CIRG_GET(r) VIOMMU_VTD_FIELD_GET(r, 62, 61)
#define VIOMMU_VTD_CCMD_CIRG_SET(v) VIOMMU_VTD_FIELD_SET(v, 62, 61)
#define VIOMMU_VTD_CCMD_CAIG_MASK VIOMMU_VTD_GENMASK(60, 59)
#define VIOMMU_VTD_CCMD_CAIG_SHIFT 59
#define VIOMMU_VTD_CCMD_CAIG_GET(r) VIOMMU_VTD_FIELD_GET(r, 60, 59)
#define VIOMMU_VTD_CCMD_CAIG_SET(v) VIOMMU_VTD_FIELD_SET(v, 60, 59)
#define VIOMMU_VTD_CCMD_FM_GET(r) VIOMMU_VTD_FIELD_GET(r, 33, 32)
#define VIOMMU_VTD_CCMD_FM_SET(v) VIOMMU_VTD_FIELD_SET(v, 33, 32)
#define VIOMMU_VTD_CCMD_SID_GET(r) VIOMMU_VTD_FIELD_GET(r, 31, 16)
#define VIOMMU_VTD_CCMD_SID_SET(v) VIOMMU_VTD_FIELD_SET(v, 31, 16)
#define VIOMMU_VTD_CCMD_DID_GET(r) VIOMMU_VTD_FIELD_GET(r, 15, 0)
#define VIOMMU_VTD_CCMD_DID_SET(v) VIOMMU_VTD_FIELD_SET(v, 15, 0)
/* CIRG, CAIG and the context-cache descriptor's G: */
#define VIOMMU_VTD_CC_GLOBAL 1 /* global */
#define VIOMMU_VTD_CC_DOMAIN 2 /* domain-selective */
#define VIOMMU_VTD_CC_DEVICE 3 /* device-selective */

/* 11.4.8.1 IOTLB Invalidate Register */
#define VIOMMU_VTD_IOTLB_IVT VIOMMU_VTD_BIT(63)
#define VIOMMU_VTD_IOTLB_IIRG_GET(r) VIOMMU_VTD_FIELD_GET(r, 61, 60)
#define VIOMMU_VTD_IOTLB_IIRG_SET(v) VIOMMU_VTD_FIELD_SET(v, 61, 60)
#define VIOMMU_VTD_IOTLB_IAIG_MASK VIOMMU_VTD_GENMASK(58, 57)
#define VIOMMU_VTD_IOTLB_IAIG_SHIFT 57
#define VIOMMU_VTD_IOTLB_IAIG_GET(r) VIOMMU_VTD_FIELD_GET(r, 58, 57)
#define VIOMMU_VTD_IOTLB_IAIG_SET(v) VIOMMU_VTD_FIELD_SET(v, 58, 57)
#define VIOMMU_VTD_IOTLB_DR VIOMMU_VTD_BIT(49) /* drain reads */
#define VIOMMU_VTD_IOTLB_DW VIOMMU_VTD_BIT(48) /* drain writes */
#define VIOMMU_VTD_IOTLB_DID_GET(r) VIOMMU_VTD_FIELD_GET(r, 47, 32)
#define VIOMMU_VTD_IOTLB_DID_SET(v) VIOMMU_VTD_FIELD_SET(v, 47, 32)
/* IIRG, IAIG and the IOTLB descriptor's G: */
#define VIOMMU_VTD_IOTLB_GLOBAL 1 /* global */
#define VIOMMU_VTD_IOTLB_DOMAIN 2 /* domain-selective */
#define VIOMMU_VTD_IOTLB_PAGE 3	  /* page-selective-within-domain */

/* 11.4.8.2 Invalidate Address Register */
#define VIOMMU_VTD_IVA_ADDR_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_IVA_IH VIOMMU_VTD_BIT(6) /* invalidation hint: leaves only */
#define VIOMMU_VTD_IVA_AM_GET(r) VIOMMU_VTD_FIELD_GET(r, 5, 0)
#define VIOMMU_VTD_IVA_AM_SET(v) VIOMMU_VTD_FIELD_SET(v, 5, 0)

/* 11.4.9.1 Fault Status Register */
#define VIOMMU_VTD_FSTS_PFO VIOMMU_VTD_BIT(0) /* primary fault overflow, RW1C */
#define VIOMMU_VTD_FSTS_PPF VIOMMU_VTD_BIT(1) /* primary pending fault, RO */
#define VIOMMU_VTD_FSTS_IQE VIOMMU_VTD_BIT(4) /* invalidation queue error, RW1C */
#define VIOMMU_VTD_FSTS_ICE VIOMMU_VTD_BIT(5) /* invalidation completion error, RW1C */
#define VIOMMU_VTD_FSTS_ITE VIOMMU_VTD_BIT(6) /* invalidation time-out error, RW1C */
#define VIOMMU_VTD_FSTS_FRI_MASK VIOMMU_VTD_GENMASK(15, 8)
#define VIOMMU_VTD_FSTS_FRI_SHIFT 8
#define VIOMMU_VTD_FSTS_FRI_GET(r) VIOMMU_VTD_FIELD_GET(r, 15, 8) /* fault record index */
#define VIOMMU_VTD_FSTS_FRI_SET(v) VIOMMU_VTD_FIELD_SET(v, 15, 8)

/* 11.4.9.2 Fault Event Control and 11.4.11.5 Invalidation Event Control Registers */
#define VIOMMU_VTD_FECTL_IM VIOMMU_VTD_BIT(31) /* interrupt mask */
#define VIOMMU_VTD_FECTL_IP VIOMMU_VTD_BIT(30) /* interrupt pending, RO */
#define VIOMMU_VTD_IECTL_IM VIOMMU_VTD_BIT(31)
#define VIOMMU_VTD_IECTL_IP VIOMMU_VTD_BIT(30)
/* 11.4.9.3/11.4.11.6 Event Data (IMD 15:0), 11.4.9.4/11.4.11.7 Event Address (MA 31:2) */
#define VIOMMU_VTD_EDATA_IMD_MASK VIOMMU_VTD_GENMASK(15, 0)
#define VIOMMU_VTD_EADDR_MA_MASK VIOMMU_VTD_GENMASK(31, 2)

/* 11.4.9.6 Fault Recording Registers (128 bits: LO = bits 63:0, HI = bits 127:64) */
#define VIOMMU_VTD_FRCD_LO_FI_MASK VIOMMU_VTD_GENMASK(63, 12)	     /* faulting page address */
#define VIOMMU_VTD_FRCD_HI_SID_GET(r) VIOMMU_VTD_FIELD_GET(r, 15, 0) /* 79:64 source id */
#define VIOMMU_VTD_FRCD_HI_SID_SET(v) VIOMMU_VTD_FIELD_SET(v, 15, 0)
#define VIOMMU_VTD_FRCD_HI_PRIV VIOMMU_VTD_BIT(29) /* 93 privilege mode requested */
#define VIOMMU_VTD_FRCD_HI_EXE VIOMMU_VTD_BIT(30)  /* 94 execute permission requested */
#define VIOMMU_VTD_FRCD_HI_PP VIOMMU_VTD_BIT(31)   /* 95 PASID present */
#define VIOMMU_VTD_FRCD_HI_FR_GET(r) VIOMMU_VTD_FIELD_GET(r, 39, 32) /* 103:96 fault reason */
#define VIOMMU_VTD_FRCD_HI_FR_SET(v) VIOMMU_VTD_FIELD_SET(v, 39, 32)
#define VIOMMU_VTD_FRCD_HI_PV_GET(r) VIOMMU_VTD_FIELD_GET(r, 59, 40) /* 123:104 PASID value */
#define VIOMMU_VTD_FRCD_HI_PV_SET(v) VIOMMU_VTD_FIELD_SET(v, 59, 40)
#define VIOMMU_VTD_FRCD_HI_T1 VIOMMU_VTD_BIT(62) /* 126 type: 0 write, 1 read */
#define VIOMMU_VTD_FRCD_HI_F VIOMMU_VTD_BIT(63)	 /* 127 fault, RW1C */

/* 11.4.10.1 Protected Memory Enable Register */
#define VIOMMU_VTD_PMEN_EPM VIOMMU_VTD_BIT(31)
#define VIOMMU_VTD_PMEN_PRS VIOMMU_VTD_BIT(0)

/*
 * 11.4.11 Invalidation queue registers. IQH/IQT: QH/QT at 18:4 for 128-bit descriptors
 * (11.4.11.1, 11.4.11.2); IQA (11.4.11.3); ICS (11.4.11.4).
 */
#define VIOMMU_VTD_IQ_QX_MASK VIOMMU_VTD_GENMASK(18, 4)
#define VIOMMU_VTD_IQ_QX_SHIFT 4
#define VIOMMU_VTD_IQA_IQA_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_IQA_DW VIOMMU_VTD_BIT(11) /* 256-bit descriptors (scalable mode only) */
#define VIOMMU_VTD_IQA_QS_GET(r) VIOMMU_VTD_FIELD_GET(r, 2, 0) /* 2^QS 4 KiB pages */
#define VIOMMU_VTD_IQA_QS_SET(v) VIOMMU_VTD_FIELD_SET(v, 2, 0)
#define VIOMMU_VTD_ICS_IWC VIOMMU_VTD_BIT(0) /* invalidation wait descriptor complete */

/* 11.4.11.9 Invalidation Queue Error Record Register: IQEI 3:0, ITESID 47:32, ICESID 63:48 */
#define VIOMMU_VTD_IQERCD_IQEI_MASK VIOMMU_VTD_GENMASK(3, 0)
#define VIOMMU_VTD_IQERCD_IQEI_GET(r) VIOMMU_VTD_FIELD_GET(r, 3, 0)
#define VIOMMU_VTD_IQERCD_IQEI_SET(v) VIOMMU_VTD_FIELD_SET(v, 3, 0)
#define VIOMMU_VTD_IQEI_INFO_NOT_AVAILABLE 0
#define VIOMMU_VTD_IQEI_INVALID_TAIL 1	  /* IQT beyond the queue size */
#define VIOMMU_VTD_IQEI_FETCH_ERROR 2	  /* descriptor fetch failed */
#define VIOMMU_VTD_IQEI_INVALID_TYPE 3	  /* unknown or unsupported descriptor type */
#define VIOMMU_VTD_IQEI_RESERVED_FIELD 4  /* reserved field set, or unsupported granularity */
#define VIOMMU_VTD_IQEI_INVALID_WIDTH 5	  /* 128/256-bit mismatch */
#define VIOMMU_VTD_IQEI_TAIL_MISALIGNED 6 /* IQT not 256-bit aligned with DW = 1 */
#define VIOMMU_VTD_IQEI_INVALID_TTM 7

/* 9.1 Root Entry (legacy, 128 bits): LO: P 0, reserved 11:1, CTP 63:12; HI: reserved. */
#define VIOMMU_VTD_ROOT_LO_P VIOMMU_VTD_BIT(0)
#define VIOMMU_VTD_ROOT_LO_RSVD_MASK VIOMMU_VTD_GENMASK(11, 1)
#define VIOMMU_VTD_ROOT_LO_CTP_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_ROOT_ENTRY_SIZE 16

/* 9.3 Context Entry (legacy, 128 bits) */
#define VIOMMU_VTD_CTX_LO_P VIOMMU_VTD_BIT(0)
#define VIOMMU_VTD_CTX_LO_FPD VIOMMU_VTD_BIT(1)
#define VIOMMU_VTD_CTX_LO_TT_GET(r) VIOMMU_VTD_FIELD_GET(r, 3, 2)
#define VIOMMU_VTD_CTX_LO_TT_SET(v) VIOMMU_VTD_FIELD_SET(v, 3, 2)
#define VIOMMU_VTD_CTX_LO_RSVD_MASK VIOMMU_VTD_GENMASK(11, 4)
#define VIOMMU_VTD_CTX_LO_SLPTPTR_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_CTX_HI_AW_GET(r) VIOMMU_VTD_FIELD_GET(r, 2, 0) /* 66:64 address width */
#define VIOMMU_VTD_CTX_HI_AW_SET(v) VIOMMU_VTD_FIELD_SET(v, 2, 0)
#define VIOMMU_VTD_CTX_HI_DID_GET(r) VIOMMU_VTD_FIELD_GET(r, 23, 8) /* 87:72 domain id */
#define VIOMMU_VTD_CTX_HI_DID_SET(v) VIOMMU_VTD_FIELD_SET(v, 23, 8)
#define VIOMMU_VTD_CTX_HI_RSVD_MASK (VIOMMU_VTD_BIT(7) | VIOMMU_VTD_GENMASK(63, 24))
#define VIOMMU_VTD_CTX_ENTRY_SIZE 16
#define VIOMMU_VTD_CTX_TT_MULTI_LEVEL 0	 /* untranslated requests through the SL table */
#define VIOMMU_VTD_CTX_TT_DEV_IOTLB 1	 /* as 00b, and device-TLB (ATS) allowed: ECAP.DT */
#define VIOMMU_VTD_CTX_TT_PASS_THROUGH 2 /* untranslated requests pass through: ECAP.PT */
/* AW: 1 = 39-bit (3 levels), 2 = 48-bit (4 levels), 3 = 57-bit (5 levels): levels - 2 */

/* 9.8 Second-Level Paging Entries (rev 3.x numbering; 4 KiB tables of 512 entries) */
#define VIOMMU_VTD_SL_R VIOMMU_VTD_BIT(0)
#define VIOMMU_VTD_SL_W VIOMMU_VTD_BIT(1)
#define VIOMMU_VTD_SL_X VIOMMU_VTD_BIT(2)
#define VIOMMU_VTD_SL_EMT_MASK VIOMMU_VTD_GENMASK(5, 3) /* leaves only */
#define VIOMMU_VTD_SL_IPAT VIOMMU_VTD_BIT(6)
#define VIOMMU_VTD_SL_PS VIOMMU_VTD_BIT(7) /* page size: a 2 MiB or 1 GiB leaf */
#define VIOMMU_VTD_SL_A VIOMMU_VTD_BIT(8)
#define VIOMMU_VTD_SL_D VIOMMU_VTD_BIT(9)
#define VIOMMU_VTD_SL_SNP VIOMMU_VTD_BIT(11)
#define VIOMMU_VTD_SL_ADDR_MASK VIOMMU_VTD_GENMASK(51, 12)
#define VIOMMU_VTD_SL_TM VIOMMU_VTD_BIT(62) /* transient mapping to rev 3.1, then reserved */

/* 6.5.2 Invalidation descriptors (128-bit). Type: bits 3:0 plus 11:9 (type[6:4]). */
#define VIOMMU_VTD_QI_TYPE_GET(lo) \
	((VIOMMU_VTD_FIELD_GET(lo, 11, 9) << 4) | VIOMMU_VTD_FIELD_GET(lo, 3, 0))
#define VIOMMU_VTD_QI_TYPE_SET(t) \
	(VIOMMU_VTD_FIELD_SET((uint64_t)(t) >> 4, 11, 9) | VIOMMU_VTD_FIELD_SET(t, 3, 0))
#define VIOMMU_VTD_QI_DESC_SIZE 16
#define VIOMMU_VTD_QI_CC_TYPE 0x1     /* 6.5.2.1 context-cache invalidate */
#define VIOMMU_VTD_QI_IOTLB_TYPE 0x2  /* 6.5.2.3 IOTLB invalidate */
#define VIOMMU_VTD_QI_DIOTLB_TYPE 0x3 /* 6.5.2.5 device-TLB invalidate */
#define VIOMMU_VTD_QI_IEC_TYPE 0x4    /* 6.5.2.7 interrupt entry cache invalidate */
#define VIOMMU_VTD_QI_IWD_TYPE 0x5    /* 6.5.2.8 invalidation wait */
/* Granularity of context-cache and IOTLB descriptors (values VIOMMU_VTD_CC_* / IOTLB_*). */
#define VIOMMU_VTD_QI_G_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 5, 4)
#define VIOMMU_VTD_QI_G_SET(v) VIOMMU_VTD_FIELD_SET(v, 5, 4)

/* 6.5.2.1 Context-cache: DID 31:16, SID 47:32, FM 49:48; reserved 8:6, 15:12, 63:50, HI all */
#define VIOMMU_VTD_QI_CC_DID_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 31, 16)
#define VIOMMU_VTD_QI_CC_DID_SET(v) VIOMMU_VTD_FIELD_SET(v, 31, 16)
#define VIOMMU_VTD_QI_CC_SID_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 47, 32)
#define VIOMMU_VTD_QI_CC_SID_SET(v) VIOMMU_VTD_FIELD_SET(v, 47, 32)
#define VIOMMU_VTD_QI_CC_FM_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 49, 48)
#define VIOMMU_VTD_QI_CC_FM_SET(v) VIOMMU_VTD_FIELD_SET(v, 49, 48)
#define VIOMMU_VTD_QI_CC_RSVD_LO \
	(VIOMMU_VTD_GENMASK(8, 6) | VIOMMU_VTD_GENMASK(15, 12) | VIOMMU_VTD_GENMASK(63, 50))

/*
 * 6.5.2.3 IOTLB: DW 6, DR 7, DID 31:16; HI: AM 5:0, IH 6, ADDR 63:12. Reserved: 8, 15:12,
 * 63:32; HI 11:7.
 */
#define VIOMMU_VTD_QI_IOTLB_DW VIOMMU_VTD_BIT(6)
#define VIOMMU_VTD_QI_IOTLB_DR VIOMMU_VTD_BIT(7)
#define VIOMMU_VTD_QI_IOTLB_DID_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 31, 16)
#define VIOMMU_VTD_QI_IOTLB_DID_SET(v) VIOMMU_VTD_FIELD_SET(v, 31, 16)
#define VIOMMU_VTD_QI_IOTLB_AM_GET(hi) VIOMMU_VTD_FIELD_GET(hi, 5, 0)
#define VIOMMU_VTD_QI_IOTLB_AM_SET(v) VIOMMU_VTD_FIELD_SET(v, 5, 0)
#define VIOMMU_VTD_QI_IOTLB_IH VIOMMU_VTD_BIT(6)
#define VIOMMU_VTD_QI_IOTLB_ADDR_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_QI_IOTLB_RSVD_LO \
	(VIOMMU_VTD_BIT(8) | VIOMMU_VTD_GENMASK(15, 12) | VIOMMU_VTD_GENMASK(63, 32))
#define VIOMMU_VTD_QI_IOTLB_RSVD_HI VIOMMU_VTD_GENMASK(11, 7)

/*
 * 6.5.2.5 Device-TLB: PFSID 15:12 (low bits) + 63:52 (high bits), MIP 20:16, SID 47:32;
 * HI: S 0, ADDR 63:12 (with S, the lowest clear bit of ADDR 63:12 gives the size).
 */
#define VIOMMU_VTD_QI_DIOTLB_SID_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 47, 32)
#define VIOMMU_VTD_QI_DIOTLB_SID_SET(v) VIOMMU_VTD_FIELD_SET(v, 47, 32)
#define VIOMMU_VTD_QI_DIOTLB_PFSID_GET(lo) \
	((VIOMMU_VTD_FIELD_GET(lo, 63, 52) << 4) | VIOMMU_VTD_FIELD_GET(lo, 15, 12))
#define VIOMMU_VTD_QI_DIOTLB_PFSID_SET(v) \
	(VIOMMU_VTD_FIELD_SET((uint64_t)(v) >> 4, 63, 52) | VIOMMU_VTD_FIELD_SET(v, 15, 12))
#define VIOMMU_VTD_QI_DIOTLB_MIP_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 20, 16)
#define VIOMMU_VTD_QI_DIOTLB_MIP_SET(v) VIOMMU_VTD_FIELD_SET(v, 20, 16)
#define VIOMMU_VTD_QI_DIOTLB_S VIOMMU_VTD_BIT(0)
#define VIOMMU_VTD_QI_DIOTLB_ADDR_MASK VIOMMU_VTD_GENMASK(63, 12)
#define VIOMMU_VTD_QI_DIOTLB_RSVD_LO \
	(VIOMMU_VTD_GENMASK(8, 4) | VIOMMU_VTD_GENMASK(31, 21) | VIOMMU_VTD_GENMASK(51, 48))
#define VIOMMU_VTD_QI_DIOTLB_RSVD_HI VIOMMU_VTD_GENMASK(11, 1)

/* 6.5.2.7 Interrupt entry cache: G 4, IM 31:27, IIDX 47:32; reserved 8:5, 26:12, 63:48, HI */
#define VIOMMU_VTD_QI_IEC_RSVD_LO \
	(VIOMMU_VTD_GENMASK(8, 5) | VIOMMU_VTD_GENMASK(26, 12) | VIOMMU_VTD_GENMASK(63, 48))

/* 6.5.2.8 Invalidation wait: IF 4, SW 5, FN 6, PD 7, status data 63:32; HI: address 63:2 */
#define VIOMMU_VTD_QI_IWD_IF VIOMMU_VTD_BIT(4)
#define VIOMMU_VTD_QI_IWD_SW VIOMMU_VTD_BIT(5)
#define VIOMMU_VTD_QI_IWD_FN VIOMMU_VTD_BIT(6)
#define VIOMMU_VTD_QI_IWD_PD VIOMMU_VTD_BIT(7)
#define VIOMMU_VTD_QI_IWD_STATUS_GET(lo) VIOMMU_VTD_FIELD_GET(lo, 63, 32)
#define VIOMMU_VTD_QI_IWD_STATUS_SET(v) VIOMMU_VTD_FIELD_SET(v, 63, 32)
#define VIOMMU_VTD_QI_IWD_ADDR_MASK VIOMMU_VTD_GENMASK(63, 2)
#define VIOMMU_VTD_QI_IWD_RSVD_LO (VIOMMU_VTD_BIT(8) | VIOMMU_VTD_GENMASK(31, 12))
#define VIOMMU_VTD_QI_IWD_RSVD_HI VIOMMU_VTD_GENMASK(1, 0)

/*
 * 7.1.3 Fault Conditions and Remapping Hardware Behavior for Various Requests (and the fault
 * reason table of Appendix A): non-recoverable fault reasons of legacy-mode DMA remapping.
 * "Qualified" faults are reported only when the context entry's FPD field is clear.
 */
#define VIOMMU_VTD_FR_ROOT_ENTRY_P 0x1	    /* root entry not present */
#define VIOMMU_VTD_FR_CONTEXT_ENTRY_P 0x2   /* context entry not present, qualified */
#define VIOMMU_VTD_FR_CONTEXT_ENTRY_INV 0x3 /* invalid context: AW, TT, SLPTPTR unreadable; qual. */
#define VIOMMU_VTD_FR_ADDR_BEYOND_MGAW 0x4  /* input address above 2^x - 1, qualified */
#define VIOMMU_VTD_FR_WRITE 0x5		    /* write to a page without W, qualified */
#define VIOMMU_VTD_FR_READ 0x6		    /* read from a page without R, qualified */
#define VIOMMU_VTD_FR_PAGING_ENTRY_INV 0x7  /* second-level entry access error, qualified */
#define VIOMMU_VTD_FR_ROOT_TABLE_INV 0x8    /* root entry access error */
#define VIOMMU_VTD_FR_CONTEXT_TABLE_INV 0x9 /* context entry access error */
#define VIOMMU_VTD_FR_ROOT_ENTRY_RSVD 0xa   /* reserved field in a present root entry */
#define VIOMMU_VTD_FR_CONTEXT_ENTRY_RSVD 0xb /* reserved field in a present context entry */
#define VIOMMU_VTD_FR_PAGING_ENTRY_RSVD 0xc  /* reserved field in a present SL entry, qual. */
#define VIOMMU_VTD_FR_CONTEXT_ENTRY_TT 0xd   /* request blocked by the context's TT, qual. */
#define VIOMMU_VTD_FR_INTERRUPT_ADDR 0xe     /* output address in the interrupt range, qual. */

/* 3.15 (Handling Requests to Interrupt Address Range): DMA to 0xFEEx_xxxx is an interrupt. */
#define VIOMMU_VTD_INTR_ADDR_FIRST 0xfee00000ull
#define VIOMMU_VTD_INTR_ADDR_LAST 0xfeefffffull

#endif /* VIOMMU_SPEC_VTD_H */
