/* SPDX-License-Identifier: MIT */
/*
 * Intel Virtualization Technology for Directed I/O (VT-d), Architecture Specification rev 3.x/4.x:
 * register offsets, register fields, root/context entries, invalidation descriptors and fault
 * reasons, named as the specification names them. Section numbers refer to that document.
 * Legacy (non-scalable) mode only.
 */
#ifndef VIOMMU_VTD_REGS_H
#define VIOMMU_VTD_REGS_H

#include "core/core.h"

/* §11.4 Register Descriptions: offsets in the remapping hardware register page. */
#define DMAR_VER_REG 0x000	/* 32 Version */
#define DMAR_CAP_REG 0x008	/* 64 Capability */
#define DMAR_ECAP_REG 0x010	/* 64 Extended Capability */
#define DMAR_GCMD_REG 0x018	/* 32 Global Command */
#define DMAR_GSTS_REG 0x01c	/* 32 Global Status */
#define DMAR_RTADDR_REG 0x020	/* 64 Root Table Address */
#define DMAR_CCMD_REG 0x028	/* 64 Context Command */
#define DMAR_FSTS_REG 0x034	/* 32 Fault Status */
#define DMAR_FECTL_REG 0x038	/* 32 Fault Event Control */
#define DMAR_FEDATA_REG 0x03c	/* 32 Fault Event Data */
#define DMAR_FEADDR_REG 0x040	/* 32 Fault Event Address */
#define DMAR_FEUADDR_REG 0x044	/* 32 Fault Event Upper Address */
#define DMAR_AFLOG_REG 0x058	/* 64 Advanced Fault Log (CAP.AFL = 0 here: reads 0) */
#define DMAR_PMEN_REG 0x064	/* 32 Protected Memory Enable */
#define DMAR_PLMBASE_REG 0x068	/* 32 (CAP.PLMR = 0: reads 0) */
#define DMAR_PLMLIMIT_REG 0x06c /* 32 */
#define DMAR_PHMBASE_REG 0x070	/* 64 (CAP.PHMR = 0: reads 0) */
#define DMAR_PHMLIMIT_REG 0x078 /* 64 */
#define DMAR_IQH_REG 0x080	/* 64 Invalidation Queue Head */
#define DMAR_IQT_REG 0x088	/* 64 Invalidation Queue Tail */
#define DMAR_IQA_REG 0x090	/* 64 Invalidation Queue Address */
#define DMAR_ICS_REG 0x09c	/* 32 Invalidation Completion Status */
#define DMAR_IECTL_REG 0x0a0	/* 32 Invalidation Event Control */
#define DMAR_IEDATA_REG 0x0a4	/* 32 Invalidation Event Data */
#define DMAR_IEADDR_REG 0x0a8	/* 32 Invalidation Event Address */
#define DMAR_IEUADDR_REG 0x0ac	/* 32 Invalidation Event Upper Address */
#define DMAR_IQER_REG 0x0b0	/* 64 Invalidation Queue Error Record */
#define DMAR_IRTA_REG 0x0b8	/* 64 Interrupt Remapping Table Address */

/*
 * Implementation-chosen placement (the spec lets CAP.FRO and ECAP.IRO say where): the IOTLB
 * registers at 0x0f0 (IVA_REG) and 0x0f8 (IOTLB_REG), the fault recording registers from 0x220,
 * 16 bytes each (§11.4).
 */
#define VTD_IRO 0x0f /* ECAP.IRO: offset / 16 */
#define VTD_FRO 0x22 /* CAP.FRO: offset / 16 */
#define DMAR_IVA_REG (VTD_IRO * 16)
#define DMAR_IOTLB_REG (VTD_IRO * 16 + 8)
#define DMAR_FRCD_REG (VTD_FRO * 16)
#define DMAR_FRCD_LEN 16
#define VTD_NFR_MAX 64 /* records this model offers at most (CAP.NFR holds up to 256) */
#define VTD_REG_SPACE (DMAR_FRCD_REG + VTD_NFR_MAX * DMAR_FRCD_LEN)

/* §11.4 VER_REG */
#define VTD_VER_MAX_MIN 0x10 /* Major 1, Minor 0: the legacy register set */

/* §11.4 CAP_REG */
#define CAP_ND(v) ((uint64_t)(v) << 0)	   /* 2:0 number of domains supported */
#define CAP_AFL VI_BIT(3)		   /* advanced fault logging */
#define CAP_RWBF VI_BIT(4)		   /* required write-buffer flushing */
#define CAP_PLMR VI_BIT(5)		   /* protected low-memory region */
#define CAP_PHMR VI_BIT(6)		   /* protected high-memory region */
#define CAP_CM VI_BIT(7)		   /* caching mode */
#define CAP_SAGAW(v) ((uint64_t)(v) << 8)  /* 12:8 supported adjusted guest address widths */
#define CAP_MGAW(v) ((uint64_t)(v) << 16)  /* 21:16 maximum guest address width - 1 */
#define CAP_ZLR VI_BIT(22)		   /* zero-length read */
#define CAP_FRO(v) ((uint64_t)(v) << 24)   /* 33:24 fault-recording register offset / 16 */
#define CAP_SLLPS(v) ((uint64_t)(v) << 34) /* 37:34 second-level large page support */
#define CAP_PSI VI_BIT(39)		   /* page-selective invalidation */
#define CAP_NFR(v) ((uint64_t)(v) << 40)   /* 47:40 number of fault-recording regs - 1 */
#define CAP_MAMV(v) ((uint64_t)(v) << 48)  /* 53:48 maximum address mask value */
#define CAP_DWD VI_BIT(54)		   /* write draining */
#define CAP_DRD VI_BIT(55)		   /* read draining */
#define CAP_SAGAW_39 VI_BIT(1)		   /* SAGAW bit 1: 39-bit, 3-level table */
#define CAP_SAGAW_48 VI_BIT(2)		   /* SAGAW bit 2: 48-bit, 4-level table */
#define CAP_SAGAW_57 VI_BIT(3)		   /* SAGAW bit 3: 57-bit, 5-level table */
#define CAP_SLLPS_2M VI_BIT(0)		   /* SLLPS bit 0: 2 MiB pages */
#define CAP_SLLPS_1G VI_BIT(1)		   /* SLLPS bit 1: 1 GiB pages */
#define CAP_ND_64K 6			   /* ND = 6: 16-bit domain ids */

/* §11.4 ECAP_REG */
#define ECAP_C VI_BIT(0)		 /* page-walk coherency */
#define ECAP_QI VI_BIT(1)		 /* queued invalidation */
#define ECAP_DT VI_BIT(2)		 /* device-TLB */
#define ECAP_IR VI_BIT(3)		 /* interrupt remapping */
#define ECAP_EIM VI_BIT(4)		 /* extended interrupt mode */
#define ECAP_PT VI_BIT(6)		 /* pass through */
#define ECAP_SC VI_BIT(7)		 /* snoop control */
#define ECAP_IRO(v) ((uint64_t)(v) << 8) /* 17:8 IOTLB register offset / 16 */
#define ECAP_MHMV(v) ((uint64_t)(v) << 20)
#define ECAP_PDS VI_BIT(42) /* page-drain support (not offered: Wait PD is reserved) */

/* §11.4 GCMD_REG and §11.4 GSTS_REG (same bit positions) */
#define GCMD_TE VI_BIT(31)    /* translation enable (persistent) / GSTS.TES */
#define GCMD_SRTP VI_BIT(30)  /* set root table pointer (one-shot) / GSTS.RTPS */
#define GCMD_SFL VI_BIT(29)   /* set fault log (one-shot) / GSTS.FLS */
#define GCMD_EAFL VI_BIT(28)  /* enable advanced fault logging / GSTS.AFLS */
#define GCMD_WBF VI_BIT(27)   /* write buffer flush (one-shot) / GSTS.WBFS */
#define GCMD_QIE VI_BIT(26)   /* queued invalidation enable / GSTS.QIES */
#define GCMD_IRE VI_BIT(25)   /* interrupt remapping enable / GSTS.IRES */
#define GCMD_SIRTP VI_BIT(24) /* set interrupt remap table pointer (one-shot) / GSTS.IRTPS */
#define GCMD_CFI VI_BIT(23)   /* compatibility format interrupt / GSTS.CFIS */
#define GSTS_TES GCMD_TE
#define GSTS_RTPS GCMD_SRTP
#define GSTS_WBFS GCMD_WBF
#define GSTS_QIES GCMD_QIE
#define GSTS_IRES GCMD_IRE
#define GSTS_IRTPS GCMD_SIRTP
#define GSTS_CFIS GCMD_CFI

/* §11.4 RTADDR_REG */
#define RTADDR_RTA VI_GENMASK(63, 12)
#define RTADDR_TTM VI_GENMASK(11, 10) /* 00b legacy; 01b scalable (needs ECAP.SMTS) */

/* §11.4 CCMD_REG */
#define CCMD_ICC VI_BIT(63)
#define CCMD_CIRG(v) VI_FIELD_GET(v, 62, 61)
#define CCMD_CAIG_SHIFT 59
#define CCMD_CAIG_MASK VI_GENMASK(60, 59)
#define CCMD_FM(v) VI_FIELD_GET(v, 33, 32)
#define CCMD_SID(v) VI_FIELD_GET(v, 31, 16)
#define CCMD_DID(v) VI_FIELD_GET(v, 15, 0)
#define VTD_CC_GLOBAL 1 /* CIRG/G: global invalidation */
#define VTD_CC_DOMAIN 2 /* domain-selective */
#define VTD_CC_DEVICE 3 /* device-selective */

/* §11.4 IOTLB_REG and §11.4 IVA_REG */
#define IOTLB_IVT VI_BIT(63)
#define IOTLB_IIRG(v) VI_FIELD_GET(v, 61, 60)
#define IOTLB_IAIG_SHIFT 57
#define IOTLB_IAIG_MASK VI_GENMASK(58, 57)
#define IOTLB_DR VI_BIT(49)
#define IOTLB_DW VI_BIT(48)
#define IOTLB_DID(v) VI_FIELD_GET(v, 47, 32)
#define IVA_ADDR VI_GENMASK(63, 12)
#define IVA_IH VI_BIT(6)
#define IVA_AM(v) VI_FIELD_GET(v, 5, 0)
#define VTD_IOTLB_GLOBAL 1 /* IIRG/G: global */
#define VTD_IOTLB_DOMAIN 2 /* domain-selective */
#define VTD_IOTLB_PAGE 3   /* page-selective-within-domain */

/* §11.4 FSTS_REG */
#define FSTS_PFO VI_BIT(0) /* primary fault overflow, RW1C */
#define FSTS_PPF VI_BIT(1) /* primary pending fault, RO: some FRCD has F set */
#define FSTS_IQE VI_BIT(4) /* invalidation queue error, RW1C */
#define FSTS_ICE VI_BIT(5) /* invalidation completion error, RW1C */
#define FSTS_ITE VI_BIT(6) /* invalidation time-out error, RW1C */
#define FSTS_FRI_SHIFT 8   /* 15:8 fault record index */
#define FSTS_RW1C (FSTS_PFO | FSTS_IQE | FSTS_ICE | FSTS_ITE)

/* §11.4 FECTL_REG, §11.4 IECTL_REG */
#define ECTL_IM VI_BIT(31) /* interrupt mask */
#define ECTL_IP VI_BIT(30) /* interrupt pending (RO) */
/* §11.4 FEDATA (15:0), FEADDR (31:2) */
#define EDATA_MASK 0xffffu
#define EADDR_MASK 0xfffffffcu

/* §11.4 PMEN_REG */
#define PMEN_EPM VI_BIT(31)
#define PMEN_PRS VI_BIT(0)

/* §11.4 IQH_REG / IQT_REG (QH, QT at 18:4 for 128-bit descriptors), IQA_REG, ICS_REG */
#define IQ_QX_MASK VI_GENMASK(18, 4)
#define IQ_QX_SHIFT 4
#define IQA_IQA VI_GENMASK(63, 12)
#define IQA_DW VI_BIT(11) /* 256-bit descriptors: RsvdZ when ECAP.SMTS = 0 */
#define IQA_QS(v) VI_FIELD_GET(v, 2, 0)
#define ICS_IWC VI_BIT(0)

/* §11.4 IQERCD_REG: IQEI (3:0), ITESID (47:32), ICESID (63:48) */
#define IQER_IQEI_MASK 0xfull
enum vtd_iqei {
	IQEI_INFO_NOT_AVAILABLE = 0,
	IQEI_INVALID_TAIL = 1,	  /* IQT beyond the queue size */
	IQEI_FETCH_ERROR = 2,	  /* descriptor fetch failed */
	IQEI_INVALID_TYPE = 3,	  /* unknown or unsupported descriptor type */
	IQEI_RESERVED_FIELD = 4,  /* reserved field set, or unsupported granularity */
	IQEI_INVALID_WIDTH = 5,	  /* 128/256-bit mismatch */
	IQEI_TAIL_MISALIGNED = 6, /* IQT not 256-bit aligned with DW = 1 */
	IQEI_INVALID_TTM = 7,
};

/* §11.4 FRCD_REG (128 bits: lo = bits 63:0, hi = bits 127:64) */
#define FRCD_LO_FI VI_GENMASK(63, 12) /* faulting page address */
#define FRCD_HI_SID(v) ((uint64_t)(v)&0xffff)
#define FRCD_HI_PRIV VI_BIT(29)
#define FRCD_HI_EXE VI_BIT(30)
#define FRCD_HI_PP VI_BIT(31)
#define FRCD_HI_FR(v) ((uint64_t)(v) << 32) /* 103:96 fault reason */
#define FRCD_HI_PV(v) ((uint64_t)(v) << 40) /* 123:104 PASID value */
#define FRCD_HI_T1 VI_BIT(62)		    /* type: 0 write, 1 read */
#define FRCD_HI_F VI_BIT(63)		    /* fault (RW1C) */

/* §9.1 Root Entry (legacy): lo: P (0), rsvd 11:1, CTP 63:12; hi: reserved */
#define ROOT_P VI_BIT(0)
#define ROOT_CTP VI_GENMASK(63, 12)
#define ROOT_LO_RSVD VI_GENMASK(11, 1)

/* §9.3 Context Entry (legacy) */
#define CTX_LO_P VI_BIT(0)
#define CTX_LO_FPD VI_BIT(1)
#define CTX_LO_TT(v) VI_FIELD_GET(v, 3, 2)
#define CTX_LO_RSVD VI_GENMASK(11, 4)
#define CTX_LO_SLPTPTR VI_GENMASK(63, 12)
#define CTX_HI_AW(v) VI_FIELD_GET(v, 2, 0)
#define CTX_HI_DID(v) VI_FIELD_GET(v, 23, 8)
#define CTX_HI_RSVD (VI_BIT(7) | VI_GENMASK(63, 24))
#define CTX_TT_MULTI_LEVEL 0  /* untranslated requests through the second-level table */
#define CTX_TT_DEV_IOTLB 1    /* as 00b, and device-TLB (ATS) allowed: needs ECAP.DT */
#define CTX_TT_PASS_THROUGH 2 /* untranslated requests pass through: needs ECAP.PT */

/* §6.5.2 Invalidation descriptors (128-bit). Type is bits 3:0 plus 11:9 (type[6:4]). */
#define QI_TYPE(lo) ((VI_FIELD_GET(lo, 11, 9) << 4) | VI_FIELD_GET(lo, 3, 0))
#define QI_CC_TYPE 0x1			/* §6.5.2.1 context-cache invalidate */
#define QI_IOTLB_TYPE 0x2		/* §6.5.2.3 IOTLB invalidate */
#define QI_DIOTLB_TYPE 0x3		/* §6.5.2.5 device-TLB invalidate */
#define QI_IEC_TYPE 0x4			/* §6.5.2.7 interrupt entry cache invalidate */
#define QI_IWD_TYPE 0x5			/* §6.5.2.8 invalidation wait */
#define QI_G(lo) VI_FIELD_GET(lo, 5, 4) /* CC and IOTLB granularity */

/* Context-cache: DID 31:16, SID 47:32, FM 49:48; reserved 8:6, 15:12, 63:50, hi all */
#define QI_CC_DID(lo) VI_FIELD_GET(lo, 31, 16)
#define QI_CC_SID(lo) VI_FIELD_GET(lo, 47, 32)
#define QI_CC_FM(lo) VI_FIELD_GET(lo, 49, 48)
#define QI_CC_RSVD_LO (VI_GENMASK(8, 6) | VI_GENMASK(15, 12) | VI_GENMASK(63, 50))

/* IOTLB: DW 6, DR 7, DID 31:16; hi: AM 5:0, IH 6, ADDR 63:12; reserved 8, 15:12, 63:32, hi 11:7 */
#define QI_IOTLB_DW VI_BIT(6)
#define QI_IOTLB_DR VI_BIT(7)
#define QI_IOTLB_DID(lo) VI_FIELD_GET(lo, 31, 16)
#define QI_IOTLB_AM(hi) VI_FIELD_GET(hi, 5, 0)
#define QI_IOTLB_IH VI_BIT(6)
#define QI_IOTLB_ADDR VI_GENMASK(63, 12)
#define QI_IOTLB_RSVD_LO (VI_BIT(8) | VI_GENMASK(15, 12) | VI_GENMASK(63, 32))
#define QI_IOTLB_RSVD_HI VI_GENMASK(11, 7)

/* Device-TLB: PFSID 15:12 + 63:52, MIP 20:16, SID 47:32; hi: S 0, ADDR 63:12 */
#define QI_DIOTLB_SID(lo) VI_FIELD_GET(lo, 47, 32)
#define QI_DIOTLB_PFSID(lo) ((VI_FIELD_GET(lo, 63, 52) << 4) | VI_FIELD_GET(lo, 15, 12))
#define QI_DIOTLB_S VI_BIT(0)
#define QI_DIOTLB_ADDR VI_GENMASK(63, 12)
#define QI_DIOTLB_RSVD_LO (VI_GENMASK(8, 4) | VI_GENMASK(31, 21) | VI_GENMASK(51, 48))
#define QI_DIOTLB_RSVD_HI VI_GENMASK(11, 1)

/* Interrupt entry cache: G 4, IM 31:27, IIDX 47:32; reserved 8:5, 26:12, 63:48, hi all */
#define QI_IEC_RSVD_LO (VI_GENMASK(8, 5) | VI_GENMASK(26, 12) | VI_GENMASK(63, 48))

/* Invalidation wait: IF 4, SW 5, FN 6, PD 7, status data 63:32; hi: status address 63:2 */
#define QI_IWD_IF VI_BIT(4)
#define QI_IWD_SW VI_BIT(5)
#define QI_IWD_FN VI_BIT(6)
#define QI_IWD_PD VI_BIT(7)
#define QI_IWD_STATUS(lo) ((uint32_t)((lo) >> 32))
#define QI_IWD_ADDR VI_GENMASK(63, 2)
#define QI_IWD_RSVD_LO (VI_BIT(8) | VI_GENMASK(31, 12))
#define QI_IWD_RSVD_HI VI_GENMASK(1, 0)

/*
 * Appendix A and §7.1: non-recoverable fault reasons of legacy-mode DMA remapping. "Qualified"
 * faults are reported only when the context entry's FPD field is clear.
 */
enum vtd_fault_reason {
	VTD_FR_ROOT_ENTRY_P = 0x1,	 /* root entry not present */
	VTD_FR_CONTEXT_ENTRY_P = 0x2,	 /* context entry not present, qualified */
	VTD_FR_CONTEXT_ENTRY_INV = 0x3,	 /* invalid context: AW, TT, SLPTPTR unreadable; qual. */
	VTD_FR_ADDR_BEYOND_MGAW = 0x4,	 /* input address above 2^x - 1, qualified */
	VTD_FR_WRITE = 0x5,		 /* write to a page without W, qualified */
	VTD_FR_READ = 0x6,		 /* read from a page without R, qualified */
	VTD_FR_PAGING_ENTRY_INV = 0x7,	 /* second-level entry access error, qualified */
	VTD_FR_ROOT_TABLE_INV = 0x8,	 /* root entry access error */
	VTD_FR_CONTEXT_TABLE_INV = 0x9,	 /* context entry access error */
	VTD_FR_ROOT_ENTRY_RSVD = 0xa,	 /* reserved field in a present root entry */
	VTD_FR_CONTEXT_ENTRY_RSVD = 0xb, /* reserved field in a present context entry */
	VTD_FR_PAGING_ENTRY_RSVD = 0xc,	 /* reserved field in a present SL entry, qual. */
	VTD_FR_CONTEXT_ENTRY_TT = 0xd,	 /* request blocked by the context's TT, qual. */
	VTD_FR_INTERRUPT_ADDR = 0xe,	 /* output address in the interrupt range, qual. */
};

/* §3.15: DMA to 0xFEEx_xxxx is an interrupt request, never a memory access. */
#define VTD_INTR_ADDR_FIRST 0xfee00000ull
#define VTD_INTR_ADDR_LAST 0xfeefffffull

#endif /* VIOMMU_VTD_REGS_H */
