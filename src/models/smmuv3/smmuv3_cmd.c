// SPDX-License-Identifier: MIT
/*
 * SMMUv3 command queue (3.5, chapter 4). A CMDQ_PROD write runs the commands from CONS up to
 * PROD, at most one queue's worth, each completing before the next is read, so a CMD_SYNC
 * always finds every earlier command done (4.7.3). A command the SMMU cannot run stops the
 * queue with CONS at it, CMDQ_CONS.ERR saying why and GERROR.CMDQ_ERR active (7.1); software
 * fixes the queue and acknowledges through GERRORN, which restarts it at CONS.
 */
#include "smmuv3_internal.h"

#define TAG_S1 0u
#define TAG_S2 1u
#define TAG_NESTED 2u

static void inval(struct smmu *s, uint32_t kind, uint16_t vmid, uint32_t match, uint16_t asid,
		  uint64_t first, uint64_t last)
{
	struct viommu_iotlb_inval inv = { 0 };

	inv.match = VIOMMU_IOTLB_MATCH_DOM | match;
	inv.tag.dom = vmid | kind << 16;
	inv.tag.pasid = asid;
	inv.first = first;
	inv.last = last;
	viommu_iotlb_invalidate(s->iotlb, &inv);
}

static uint16_t cmd_vmid(const struct smmu *s, uint64_t w0)
{
	uint16_t vmid = (uint16_t)VIOMMU_SMMUV3_CMD_0_VMID_GET(w0);

	if (!(s->idr[0] & VIOMMU_SMMUV3_IDR0_S2P))
		return 0; /* VMID is RES0 without stage 2: stage 1 entries carry VMID 0 */
	return (s->cfg.flags & VIOMMU_SMMUV3_VMID16) ? vmid : vmid & 0xff;
}

static uint16_t cmd_asid(const struct smmu *s, uint64_t w0)
{
	uint16_t asid = (uint16_t)VIOMMU_SMMUV3_CMD_0_ASID_GET(w0);

	return (s->cfg.flags & VIOMMU_SMMUV3_ASID16) ? asid : asid & 0xff;
}

/*
 * The input range of a TLBI by address (4.4.1): with range invalidation (IDR3.RIL, TG != 0)
 * (NUM + 1) * 2^SCALE granules from the address; else the one address (the TLB drops whatever
 * leaf covers it, of any size). @top masks the address field (VA 63:12 or IPA 51:12).
 */
static void tlbi_range(struct smmu *s, const uint64_t c[2], uint64_t top, uint64_t *first,
		       uint64_t *last)
{
	static const uint8_t gran[4] = { 0, 12, 14, 16 };
	uint32_t tg = (uint32_t)VIOMMU_SMMUV3_CMD_1_TG_GET(c[1]);
	uint64_t addr = c[1] & VIOMMU_SMMUV3_CMD_1_ADDR_MASK & top;

	if ((s->idr[3] & VIOMMU_SMMUV3_IDR3_RIL) && tg) {
		uint64_t num = VIOMMU_SMMUV3_CMD_0_NUM_GET(c[0]) + 1;
		uint32_t sh = (uint32_t)VIOMMU_SMMUV3_CMD_0_SCALE_GET(c[0]) + gran[tg];
		uint64_t size;

		s->st.cmd_tlbi_range++;
		addr &= ~(VI_BIT(gran[tg]) - 1);
		/* At most 32 << (31 + 16) bytes: saturate at the top of the address space. */
		size = sh >= 58 ? UINT64_MAX : num << sh;
		*first = addr;
		*last = size == UINT64_MAX || addr + (size - 1) < addr ? UINT64_MAX :
									 addr + (size - 1);
		return;
	}
	*first = addr;
	/* One granule for the consumers: the smallest leaf the address can be in. */
	*last = addr | 0xfff;
}

/* CMD_SYNC's completion signal (4.7.3): an MSI write of MSIData to MSIAddress, or the IRQ. */
static uint32_t cmd_sync(struct smmu *s, const uint64_t c[2])
{
	uint32_t cs = (uint32_t)VIOMMU_SMMUV3_CMD_0_SYNC_CS_GET(c[0]);
	uint64_t addr = c[1] & VIOMMU_SMMUV3_CMD_1_SYNC_MSIADDR_MASK;
	uint32_t data = (uint32_t)VIOMMU_SMMUV3_CMD_0_SYNC_MSIDATA_GET(c[0]);

	s->st.cmd_sync++;
	if (cs == 3)
		return VIOMMU_SMMUV3_CERROR_ILL;
	if (cs != VIOMMU_SMMUV3_SYNC_CS_IRQ)
		return 0; /* SIG_NONE, or SIG_SEV: no event to wake a PE from */
	if ((s->idr[0] & VIOMMU_SMMUV3_IDR0_MSI) && addr) {
		/*
		 * The write goes where the address says: guest memory (Linux polls the command
		 * itself for it) or, when that is not memory, the host delivers it (a doorbell).
		 */
		s->st.msis++;
		if (vi_write32(&s->v.host, addr, data) == 0)
			return 0;
		if (s->v.host.ops->msi) {
			vi_msi(&s->v.host, addr, data);
			return 0;
		}
		vi_smmu_gerror(s, (uint32_t)VIOMMU_SMMUV3_GERROR_MSI_CMDQ_ABT_ERR);
		return 0;
	}
	if (s->v.host.ops->irq) {
		s->st.wired_irqs++;
		vi_irq(&s->v.host, VIOMMU_SMMUV3_IRQ_CMD_SYNC, true);
		vi_irq(&s->v.host, VIOMMU_SMMUV3_IRQ_CMD_SYNC, false);
	}
	return 0;
}

static void atc_inv(struct smmu *s, const uint64_t c[2])
{
	struct viommu_event ev = { .type = VIOMMU_EV_DEVIOTLB_UNMAP };
	uint32_t size = (uint32_t)VIOMMU_SMMUV3_CMD_1_ATC_SIZE_GET(c[1]);
	uint64_t addr = c[1] & VIOMMU_SMMUV3_CMD_1_ADDR_MASK;

	s->st.cmd_atc_inv++;
	ev.sid = (uint32_t)VIOMMU_SMMUV3_CMD_0_SID_GET(c[0]);
	/* Global: every SubstreamID of the stream (and requests without one). */
	if ((c[0] & VIOMMU_SMMUV3_CMD_0_SSV) && !(c[1] & VIOMMU_SMMUV3_CMD_1_ATC_G)) {
		ev.has_pasid = true;
		ev.pasid = (uint32_t)VIOMMU_SMMUV3_CMD_0_SSID_GET(c[0]);
	}
	/* 2^SIZE pages of 4 KiB, naturally aligned (SIZE 52 and above: everything). */
	if (size >= 52) {
		ev.iova = 0;
		ev.last = UINT64_MAX;
	} else {
		uint64_t bytes = 1ull << (12 + size);

		ev.iova = addr & ~(bytes - 1);
		ev.last = ev.iova + (bytes - 1);
	}
	if (vi_notify_wanted(&s->v, VIOMMU_EV_DEVIOTLB_UNMAP)) {
		s->st.notify_dev_iotlb++;
		vi_notify(&s->v, &ev);
	}
}

/* Run one command: 0, or the CERROR code that stops the queue. */
static uint32_t cmd_run(struct smmu *s, const uint64_t c[2])
{
	uint32_t op = (uint32_t)VIOMMU_SMMUV3_CMD_0_OP_GET(c[0]);
	bool s1p = s->idr[0] & VIOMMU_SMMUV3_IDR0_S1P, s2p = s->idr[0] & VIOMMU_SMMUV3_IDR0_S2P;
	uint32_t sid = (uint32_t)VIOMMU_SMMUV3_CMD_0_SID_GET(c[0]);
	uint64_t first, last;
	uint16_t vmid, asid;

	/* Only the Non-secure programming interface exists: SSec = 1 is illegal (4.1.6). */
	if (c[0] & VIOMMU_SMMUV3_CMD_0_SSEC)
		return VIOMMU_SMMUV3_CERROR_ILL;
	s->st.cmds++;
	switch (op) {
	case VIOMMU_SMMUV3_CMD_PREFETCH_CONFIG:
	case VIOMMU_SMMUV3_CMD_PREFETCH_ADDR:
		return 0; /* a hint: nothing is prefetched */
	case VIOMMU_SMMUV3_CMD_CFGI_STE:
		s->st.cmd_cfgi++;
		vi_smmu_cfg_inval(s, sid, sid, UINT32_MAX);
		vi_smmu_sync(s, SMMU_SYNC_STREAMS, 0, sid, sid, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_CFGI_STE_RANGE: {
		uint32_t range = (uint32_t)VIOMMU_SMMUV3_CMD_1_RANGE_GET(c[1]);

		s->st.cmd_cfgi++;
		if (range >= VIOMMU_SMMUV3_CFGI_RANGE_ALL) {
			vi_smmu_cfg_inval_all(s);
			vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
			return 0;
		}
		first = sid & ~((2ull << range) - 1);
		last = first + ((2ull << range) - 1);
		if (last > UINT32_MAX)
			last = UINT32_MAX;
		vi_smmu_cfg_inval(s, (uint32_t)first, (uint32_t)last, UINT32_MAX);
		vi_smmu_sync(s, SMMU_SYNC_STREAMS, 0, (uint32_t)first, (uint32_t)last, 0,
			     UINT64_MAX);
		return 0;
	}
	case VIOMMU_SMMUV3_CMD_CFGI_CD:
	case VIOMMU_SMMUV3_CMD_CFGI_CD_ALL:
		if (!s1p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_cfgi++;
		/* Every SubstreamID's entry: CD 0 also serves requests without one (S1DSS). */
		vi_smmu_cfg_inval(s, sid, sid, UINT32_MAX);
		if (op == VIOMMU_SMMUV3_CMD_CFGI_CD) {
			uint32_t ssid = (uint32_t)VIOMMU_SMMUV3_CMD_0_SSID_GET(c[0]);

			/* The stream's own view (CD 0 serves it) and this SubstreamID's. */
			vi_smmu_pair_learn(s, sid, ssid);
			vi_smmu_sync(s, SMMU_SYNC_CD, ssid, sid, sid, 0, UINT64_MAX);
			return 0;
		}
		vi_smmu_sync(s, SMMU_SYNC_STREAMS, 0, sid, sid, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_NH_ALL:
		if (!s1p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_tlbi++;
		vmid = cmd_vmid(s, c[0]);
		inval(s, TAG_S1, vmid, 0, 0, 0, 0);
		inval(s, TAG_NESTED, vmid, 0, 0, 0, 0);
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_NH_ASID:
		if (!s1p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_tlbi++;
		vmid = cmd_vmid(s, c[0]);
		asid = cmd_asid(s, c[0]);
		inval(s, TAG_S1, vmid, VIOMMU_IOTLB_MATCH_PASID, asid, 0, 0);
		inval(s, TAG_NESTED, vmid, VIOMMU_IOTLB_MATCH_PASID, asid, 0, 0);
		vi_smmu_sync(s, SMMU_SYNC_DOMAIN, smmu_dom(vmid, asid), 0, 0, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_NH_VA:
	case VIOMMU_SMMUV3_CMD_TLBI_NH_VAA:
		if (!s1p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_tlbi++;
		vmid = cmd_vmid(s, c[0]);
		asid = cmd_asid(s, c[0]);
		tlbi_range(s, c, UINT64_MAX, &first, &last);
		if (op == VIOMMU_SMMUV3_CMD_TLBI_NH_VA) {
			const uint32_t m = VIOMMU_IOTLB_MATCH_PASID | VIOMMU_IOTLB_MATCH_ADDR;

			inval(s, TAG_S1, vmid, m, asid, first, last);
			inval(s, TAG_NESTED, vmid, m, asid, first, last);
			vi_smmu_sync(s, SMMU_SYNC_DOMAIN, smmu_dom(vmid, asid), 0, 0, first, last);
		} else {
			inval(s, TAG_S1, vmid, VIOMMU_IOTLB_MATCH_ADDR, 0, first, last);
			inval(s, TAG_NESTED, vmid, VIOMMU_IOTLB_MATCH_ADDR, 0, first, last);
			vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, first, last);
		}
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_S12_VMALL:
		if (!s2p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_tlbi++;
		vmid = cmd_vmid(s, c[0]);
		inval(s, TAG_S1, vmid, 0, 0, 0, 0);
		inval(s, TAG_S2, vmid, 0, 0, 0, 0);
		inval(s, TAG_NESTED, vmid, 0, 0, 0, 0);
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_S2_IPA:
		if (!s2p)
			return VIOMMU_SMMUV3_CERROR_ILL;
		s->st.cmd_tlbi++;
		vmid = cmd_vmid(s, c[0]);
		tlbi_range(s, c, VIOMMU_SMMUV3_GENMASK(51, 0), &first, &last);
		inval(s, TAG_S2, vmid, VIOMMU_IOTLB_MATCH_ADDR, 0, first, last);
		/* Nested entries are cached by input address: the IPA does not find them. */
		inval(s, TAG_NESTED, vmid, 0, 0, 0, 0);
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL:
		s->st.cmd_tlbi++;
		viommu_iotlb_flush(s->iotlb);
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		return 0;
	case VIOMMU_SMMUV3_CMD_ATC_INV:
		if (!(s->idr[0] & VIOMMU_SMMUV3_IDR0_ATS))
			return VIOMMU_SMMUV3_CERROR_ILL;
		atc_inv(s, c);
		return 0;
	case VIOMMU_SMMUV3_CMD_PRI_RESP:
		if (!(s->idr[0] & VIOMMU_SMMUV3_IDR0_PRI) ||
		    VIOMMU_SMMUV3_CMD_1_PRI_RESP_GET(c[1]) == 3)
			return VIOMMU_SMMUV3_CERROR_ILL;
		vi_smmu_pri_resp(s, c);
		return 0;
	case VIOMMU_SMMUV3_CMD_SYNC:
		return cmd_sync(s, c);
	default:
		/*
		 * Unknown opcodes, CFGI_VMS_PIDM, TLBI_EL2_* (IDR0.HYP = 0), TLBI_EL3_* (no Secure
		 * state), CMD_RESUME and CMD_STALL_TERM (STALL_MODEL = 0b01) are illegal.
		 */
		return VIOMMU_SMMUV3_CERROR_ILL;
	}
}

void vi_smmu_cmd_process(struct smmu *s)
{
	struct smmu_queue *q = &s->cmdq;
	uint32_t bits = smmu_q_bits(q), iwmask = (2u << bits) - 1;

	if (!(s->cr0 & VIOMMU_SMMUV3_CR0_CMDQEN) ||
	    ((s->gerror ^ s->gerrorn) & VIOMMU_SMMUV3_GERROR_CMDQ_ERR))
		return;
	if ((q->prod & iwmask) != (q->cons & iwmask))
		s->st.cmd_doorbells++;
	/* At most one queue's worth per doorbell, whatever PROD and CONS hold. */
	for (uint64_t n = 0; n < (1ull << bits); n++) {
		uint32_t cons = q->cons & iwmask;
		uint64_t c[2];
		uint32_t err;

		if (cons == (q->prod & iwmask))
			return;
		if (vi_read(&s->v.host, smmu_q_addr(q, cons), c, sizeof(c))) {
			err = VIOMMU_SMMUV3_CERROR_ABT;
		} else {
			c[0] = vi_le64(c[0]);
			c[1] = vi_le64(c[1]);
			err = cmd_run(s, c);
		}
		if (err) {
			/* CONS stays at the command; the queue stops until GERRORN acknowledges. */
			s->st.cmd_errors++;
			q->cons = cons | (uint32_t)VIOMMU_SMMUV3_CMDQ_CONS_ERR_SET(err);
			vi_smmu_gerror(s, (uint32_t)VIOMMU_SMMUV3_GERROR_CMDQ_ERR);
			return;
		}
		q->cons = (cons + 1) & iwmask;
	}
}
