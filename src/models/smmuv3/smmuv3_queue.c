// SPDX-License-Identifier: MIT
/*
 * SMMUv3 output queues (3.5): the event queue (7.2, records of 7.3) and the PRI queue (8, page
 * requests from ATS/PRI endpoints, answered by CMD_PRI_RESP). A record is written at PROD and
 * PROD moves past it only once it is in memory; a full queue overflows (the record is lost and
 * PROD.OVFLG toggles unless an overflow is already unacknowledged); a queue outside guest memory
 * raises GERROR.EVENTQ_ABT_ERR / PRIQ_ABT_ERR.
 */
#include "smmuv3_internal.h"

int vi_smmu_q_append(struct smmu *s, struct smmu_queue *q, const uint64_t *rec)
{
	uint32_t bits = smmu_q_bits(q), iwmask = (2u << bits) - 1;
	uint32_t prod = q->prod & iwmask, cons = q->cons & iwmask;
	const uint32_t ovf = (uint32_t)VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG;
	uint64_t le[4];
	unsigned int words = q->ent_bytes / 8;

	/* Full: same index, different wrap bits. */
	if ((prod ^ cons) == (1u << bits)) {
		/* A new overflow toggles OVFLG; one software has not acknowledged stays as it is. */
		if (!((q->prod ^ q->cons) & ovf))
			q->prod ^= ovf;
		return VIOMMU_ENOSPC;
	}
	for (unsigned int i = 0; i < words; i++)
		le[i] = vi_le64(rec[i]);
	if (vi_write(&s->v.host, smmu_q_addr(q, prod), le, q->ent_bytes))
		return VIOMMU_EFAULT;
	/* The record is in memory before PROD moves past it. */
	q->prod = (q->prod & ovf) | ((prod + 1) & iwmask);
	return 0;
}

/* The word 1 attributes of a transaction (7.3: PnU, InD, RnW). */
static uint64_t attrs(uint32_t access)
{
	uint64_t w = 0;

	if (access & VIOMMU_ACC_PRIV)
		w |= VIOMMU_SMMUV3_EVT_1_PNU;
	if (access & VIOMMU_ACC_EXEC)
		w |= VIOMMU_SMMUV3_EVT_1_IND;
	if (!(access & VIOMMU_ACC_WRITE))
		w |= VIOMMU_SMMUV3_EVT_1_RNW;
	return w;
}

uint32_t vi_smmu_event(struct smmu *s, const struct smmu_fault *f, uint32_t sid, uint32_t ssid,
		       uint32_t access)
{
	uint64_t ev[4] = { 0 };
	int ret;

	if (f->id == VIOMMU_SMMUV3_EVT_C_BAD_STREAMID && !(s->cr2 & VIOMMU_SMMUV3_CR2_RECINVSID)) {
		s->st.events_suppressed++;
		return VIOMMU_FAULT_F_SUPPRESSED;
	}
	if (!f->record) {
		s->st.events_suppressed++;
		return VIOMMU_FAULT_F_SUPPRESSED;
	}
	ev[0] = VIOMMU_SMMUV3_EVT_0_ID_SET(f->id) | VIOMMU_SMMUV3_EVT_0_SID_SET(sid);
	if (ssid != SMMU_NO_SSID)
		ev[0] |= VIOMMU_SMMUV3_EVT_0_SSV | VIOMMU_SMMUV3_EVT_0_SSID_SET(ssid);
	switch (f->id) {
	case VIOMMU_SMMUV3_EVT_F_STE_FETCH:
	case VIOMMU_SMMUV3_EVT_F_CD_FETCH:
		if (f->s2) {
			/* A stage 2 fault of a nested CD fetch is reported as that fault. */
			break;
		}
		ev[3] = f->fetch & VIOMMU_SMMUV3_EVT_3_FETCH_ADDR_MASK;
		break;
	case VIOMMU_SMMUV3_EVT_F_WALK_EABT:
		ev[1] = attrs(access) | VIOMMU_SMMUV3_EVT_1_CLASS_SET(f->class) |
			(f->s2 ? VIOMMU_SMMUV3_EVT_1_S2 : 0);
		ev[2] = f->addr;
		ev[3] = f->fetch & VIOMMU_SMMUV3_EVT_3_FETCH_ADDR_MASK;
		break;
	case VIOMMU_SMMUV3_EVT_F_TRANSLATION:
	case VIOMMU_SMMUV3_EVT_F_ADDR_SIZE:
	case VIOMMU_SMMUV3_EVT_F_ACCESS:
	case VIOMMU_SMMUV3_EVT_F_PERMISSION:
		ev[1] = attrs(access) | VIOMMU_SMMUV3_EVT_1_CLASS_SET(f->class) |
			(f->s2 ? VIOMMU_SMMUV3_EVT_1_S2 : 0);
		ev[2] = f->addr;
		if (f->s2)
			ev[3] = f->ipa & VIOMMU_SMMUV3_EVT_3_IPA_MASK;
		break;
	case VIOMMU_SMMUV3_EVT_F_STREAM_DISABLED:
	case VIOMMU_SMMUV3_EVT_F_TRANSL_FORBIDDEN:
		ev[1] = attrs(access) & VIOMMU_SMMUV3_EVT_1_RNW;
		ev[2] = f->addr;
		break;
	case VIOMMU_SMMUV3_EVT_F_UUT:
		/* 7.3.2: the transaction's attributes and address; Reason 0 (no finer cause). */
		ev[1] = attrs(access);
		ev[2] = f->addr;
		break;
	case VIOMMU_SMMUV3_EVT_F_BAD_ATS_TREQ:
		/* 7.3.6: the page the request named. */
		ev[2] = f->addr & VIOMMU_SMMUV3_EVT_2_ATS_ADDR_MASK;
		break;
	default: /* C_BAD_STREAMID, C_BAD_STE, C_BAD_SUBSTREAMID, C_BAD_CD: word 0 alone */
		break;
	}
	if (!(s->cr0 & VIOMMU_SMMUV3_CR0_EVENTQEN)) {
		s->st.events_lost++;
		return VIOMMU_FAULT_F_LOST;
	}
	ret = vi_smmu_q_append(s, &s->evtq, ev);
	if (ret) {
		s->st.events_lost++;
		if (ret == VIOMMU_EFAULT)
			vi_smmu_gerror(s, (uint32_t)VIOMMU_SMMUV3_GERROR_EVENTQ_ABT_ERR);
		return VIOMMU_FAULT_F_LOST;
	}
	s->st.events_logged++;
	if (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_EVENTQ_IRQEN)
		vi_smmu_irq(s, s->eventq_irq_cfg0, s->eventq_irq_cfg1, VIOMMU_SMMUV3_IRQ_EVENTQ,
			    (uint32_t)VIOMMU_SMMUV3_GERROR_MSI_EVENTQ_ABT_ERR);
	return VIOMMU_FAULT_F_RECORDED;
}

/* ------------------------------------------------------------------------------------------ */
/* PRI queue (8)                                                                               */
/* ------------------------------------------------------------------------------------------ */

int viommu_smmuv3_page_request(struct viommu *v, const struct viommu_smmuv3_page_request *pr)
{
	struct smmu *s;
	uint64_t rec[2];
	int ret;

	if (!vi_smmu_is(v) || !pr)
		return VIOMMU_EINVAL;
	s = to_smmu(v);
	if (!(s->idr[0] & VIOMMU_SMMUV3_IDR0_PRI) || pr->prg_index > 511 ||
	    (pr->has_ssid && pr->ssid >> 20))
		return VIOMMU_EINVAL;
	if (!smmu_enabled(s) || !(s->cr0 & VIOMMU_SMMUV3_CR0_PRIQEN)) {
		s->st.pri_lost++;
		return VIOMMU_EPERM;
	}
	rec[0] = VIOMMU_SMMUV3_PRIQ_0_SID_SET(pr->sid);
	if (pr->has_ssid)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_SSV | VIOMMU_SMMUV3_PRIQ_0_SSID_SET(pr->ssid);
	if (pr->access & VIOMMU_ACC_PRIV)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_PERM_PRIV;
	if (pr->access & VIOMMU_ACC_EXEC)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_PERM_EXEC;
	if (pr->access & VIOMMU_ACC_READ)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_PERM_READ;
	if (pr->access & VIOMMU_ACC_WRITE)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_PERM_WRITE;
	if (pr->last)
		rec[0] |= VIOMMU_SMMUV3_PRIQ_0_LAST;
	rec[1] = VIOMMU_SMMUV3_PRIQ_1_PRG_IDX_SET(pr->prg_index) |
		 (pr->addr & VIOMMU_SMMUV3_PRIQ_1_ADDR_MASK);
	ret = vi_smmu_q_append(s, &s->priq, rec);
	if (ret) {
		s->st.pri_lost++;
		if (ret == VIOMMU_EFAULT)
			vi_smmu_gerror(s, (uint32_t)VIOMMU_SMMUV3_GERROR_PRIQ_ABT_ERR);
		return ret;
	}
	s->st.pri_logged++;
	if (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_PRIQ_IRQEN)
		vi_smmu_irq(s, s->priq_irq_cfg0, s->priq_irq_cfg1, VIOMMU_SMMUV3_IRQ_PRIQ,
			    (uint32_t)VIOMMU_SMMUV3_GERROR_MSI_PRIQ_ABT_ERR);
	return 0;
}

void vi_smmu_pri_resp(struct smmu *s, const uint64_t cmd[2])
{
	bool ssv = (cmd[0] & VIOMMU_SMMUV3_CMD_0_SSV) != 0;

	s->st.cmd_pri_resp++;
	if (s->pri_fn)
		s->pri_fn(s->pri_opaque, (uint32_t)VIOMMU_SMMUV3_CMD_0_SID_GET(cmd[0]),
			  ssv ? (uint32_t)VIOMMU_SMMUV3_CMD_0_SSID_GET(cmd[0]) : 0, ssv,
			  (uint32_t)VIOMMU_SMMUV3_CMD_1_PRI_PRGIDX_GET(cmd[1]),
			  (uint32_t)VIOMMU_SMMUV3_CMD_1_PRI_RESP_GET(cmd[1]));
}
