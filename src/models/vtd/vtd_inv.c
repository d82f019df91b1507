// SPDX-License-Identifier: MIT
/*
 * VT-d invalidation (§6.5): register-based context-cache and IOTLB invalidation (§6.5.1) and the
 * invalidation queue with 128-bit descriptors (§6.5.2). Every invalidation completes before the
 * register write or descriptor that asked for it returns, so a translation is served from a cache
 * exactly until the invalidation covering it, and never after.
 */
#include "vtd_internal.h"

void vi_vtd_inv_context(struct vtd *s, uint32_t g, uint32_t did, uint32_t sid, uint32_t fm)
{
	s->st.inv_context++;
	switch (g) {
	case VTD_CC_GLOBAL:
		vi_vtd_ctx_inval_all(s);
		vi_vtd_sync(s, VTD_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		break;
	case VTD_CC_DOMAIN:
		/*
		 * The sync below looks at each requester's context after the change, so requesters
		 * that left the domain are found by their cached record, not by their new DID.
		 */
		vi_vtd_ctx_inval_domain(s, did);
		vi_vtd_sync(s, VTD_SYNC_DOMAIN, did, 0, 0, 0, UINT64_MAX);
		break;
	default:
		vi_vtd_ctx_inval_device(s, sid, fm);
		vi_vtd_sync(s, VTD_SYNC_DEVICE, 0, sid, fm, 0, UINT64_MAX);
		break;
	}
}

void vi_vtd_inv_iotlb(struct vtd *s, uint32_t g, uint32_t did, uint64_t addr, uint32_t am)
{
	struct viommu_iotlb_inval inv = { 0 };

	switch (g) {
	case VTD_IOTLB_GLOBAL:
		s->st.inv_iotlb_global++;
		viommu_iotlb_flush(s->iotlb);
		vi_vtd_sync(s, VTD_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		break;
	case VTD_IOTLB_DOMAIN:
		s->st.inv_iotlb_domain++;
		inv.match = VIOMMU_IOTLB_MATCH_DOM;
		inv.tag.dom = did;
		viommu_iotlb_invalidate(s->iotlb, &inv);
		vi_vtd_sync(s, VTD_SYNC_DOMAIN, did, 0, 0, 0, UINT64_MAX);
		break;
	default: {
		/* §6.5.2.3: 2^AM pages, naturally aligned; the low address bits are ignored. */
		uint64_t size = 1ull << (12 + am);
		uint64_t first = addr & ~(size - 1);

		s->st.inv_iotlb_page++;
		inv.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID |
			    VIOMMU_IOTLB_MATCH_ADDR;
		inv.tag.dom = did;
		inv.first = first;
		inv.last = first + (size - 1);
		viommu_iotlb_invalidate(s->iotlb, &inv);
		vi_vtd_sync(s, VTD_SYNC_DOMAIN, did, 0, 0, inv.first, inv.last);
		break;
	}
	}
}

/* §11.4: CCMD_REG with ICC set. */
void vi_vtd_ccmd_write(struct vtd *s)
{
	uint64_t v = s->ccmd;
	uint32_t g = (uint32_t)CCMD_CIRG(v);

	/* Register-based invalidation is not available while the queue is enabled (§6.5.2). */
	if ((s->gsts & GSTS_QIES) || g == 0) {
		s->ccmd = v & ~(CCMD_ICC | CCMD_CAIG_MASK);
		return;
	}
	vi_vtd_inv_context(s, g, (uint32_t)CCMD_DID(v), (uint32_t)CCMD_SID(v),
			   (uint32_t)CCMD_FM(v));
	s->ccmd = (v & ~(CCMD_ICC | CCMD_CAIG_MASK)) | (uint64_t)g << CCMD_CAIG_SHIFT;
}

/* §11.4: IOTLB_REG with IVT set (IVA_REG holds the page-selective address). */
void vi_vtd_iotlb_reg_write(struct vtd *s)
{
	uint64_t v = s->iotlb_reg;
	uint32_t g = (uint32_t)IOTLB_IIRG(v);
	uint32_t am = (uint32_t)IVA_AM(s->iva);

	/* IAIG = 00b reports a request that was not performed. */
	if ((s->gsts & GSTS_QIES) || g == 0 ||
	    (g == VTD_IOTLB_PAGE && am > VI_FIELD_GET(s->cap, 53, 48))) {
		s->iotlb_reg = v & ~(IOTLB_IVT | IOTLB_IAIG_MASK);
		return;
	}
	vi_vtd_inv_iotlb(s, g, (uint32_t)IOTLB_DID(v), s->iva & IVA_ADDR, am);
	s->iotlb_reg = (v & ~(IOTLB_IVT | IOTLB_IAIG_MASK)) | (uint64_t)g << IOTLB_IAIG_SHIFT;
}

/* §6.5.2.5: device-TLB range: S = 0 one page; S = 1 size from the first 0 bit above bit 11. */
static void dev_iotlb(struct vtd *s, uint64_t lo, uint64_t hi)
{
	uint64_t addr = hi & QI_DIOTLB_ADDR;
	struct viommu_event ev = { .type = VIOMMU_EV_DEVIOTLB_UNMAP };
	uint64_t size = 1ull << 12;

	if (hi & QI_DIOTLB_S) {
		uint64_t ones = (uint64_t)__builtin_ctzll(~(addr >> 12) | (1ull << 52));

		size = 13 + ones >= 64 ? 0 : 1ull << (13 + ones);
	}
	ev.sid = (uint32_t)QI_DIOTLB_SID(lo);
	ev.iova = size ? addr & ~(size - 1) : 0;
	ev.last = size ? ev.iova + (size - 1) : UINT64_MAX;
	s->st.inv_dev_iotlb++;
	if (vi_notify_wanted(&s->v, VIOMMU_EV_DEVIOTLB_UNMAP)) {
		s->st.notify_dev_iotlb++;
		vi_notify(&s->v, &ev);
	}
}

static void wait_desc(struct vtd *s, uint64_t lo, uint64_t hi)
{
	/* FN (fence) needs nothing more: every earlier descriptor has completed already. */
	if (lo & QI_IWD_SW) {
		if (vi_write32(&s->v.host, hi & QI_IWD_ADDR, QI_IWD_STATUS(lo)))
			vi_log(&s->v.host, VIOMMU_LOG_WARN,
			       "vtd: wait status write outside memory");
	}
	if ((lo & QI_IWD_IF) && !(s->ics & ICS_IWC)) {
		s->ics |= ICS_IWC;
		s->iectl |= ECTL_IP;
		if (!(s->iectl & ECTL_IM))
			vi_vtd_deliver_inv_irq(s);
	}
}

/* Execute one descriptor; 0, or the IQEI code of why it is invalid. */
static uint32_t qi_desc(struct vtd *s, uint64_t lo, uint64_t hi)
{
	uint32_t type = (uint32_t)QI_TYPE(lo);
	uint32_t g = (uint32_t)QI_G(lo);

	switch (type) {
	case QI_CC_TYPE:
		if ((lo & QI_CC_RSVD_LO) || hi || g == 0)
			return IQEI_RESERVED_FIELD;
		s->st.qi_cc++;
		vi_vtd_inv_context(s, g, (uint32_t)QI_CC_DID(lo), (uint32_t)QI_CC_SID(lo),
				   (uint32_t)QI_CC_FM(lo));
		return 0;
	case QI_IOTLB_TYPE:
		if ((lo & QI_IOTLB_RSVD_LO) || (hi & QI_IOTLB_RSVD_HI) || g == 0 ||
		    (g == VTD_IOTLB_PAGE && QI_IOTLB_AM(hi) > VI_FIELD_GET(s->cap, 53, 48)))
			return IQEI_RESERVED_FIELD;
		s->st.qi_iotlb++;
		vi_vtd_inv_iotlb(s, g, (uint32_t)QI_IOTLB_DID(lo), hi & QI_IOTLB_ADDR,
				 (uint32_t)QI_IOTLB_AM(hi));
		return 0;
	case QI_DIOTLB_TYPE:
		if (!(s->ecap & ECAP_DT))
			return IQEI_INVALID_TYPE;
		if ((lo & QI_DIOTLB_RSVD_LO) || (hi & QI_DIOTLB_RSVD_HI))
			return IQEI_RESERVED_FIELD;
		s->st.qi_dev_iotlb++;
		dev_iotlb(s, lo, hi);
		return 0;
	case QI_IEC_TYPE:
		if ((lo & QI_IEC_RSVD_LO) || hi)
			return IQEI_RESERVED_FIELD;
		s->st.qi_iec++; /* no interrupt remapping, so no entry cache to drop */
		return 0;
	case QI_IWD_TYPE:
		if ((lo & (QI_IWD_RSVD_LO | QI_IWD_PD)) || (hi & QI_IWD_RSVD_HI))
			return IQEI_RESERVED_FIELD;
		s->st.qi_wait++;
		wait_desc(s, lo, hi);
		return 0;
	default:
		return IQEI_INVALID_TYPE;
	}
}

static void qi_error(struct vtd *s, uint32_t iqei)
{
	uint32_t pre = s->fsts;

	for (uint32_t i = 0; i < s->cfg.nfr; i++) {
		if (s->frcd[i][1] & FRCD_HI_F) {
			pre |= FSTS_PPF;
			break;
		}
	}
	s->st.qi_errors++;
	s->fsts |= FSTS_IQE;
	s->iqer = (s->iqer & ~IQER_IQEI_MASK) | iqei;
	vi_vtd_fault_event(s, pre);
}

/*
 * §6.5.2: fetch and execute descriptors from IQH up to IQT. The head stops at a descriptor that
 * fails; nothing is fetched while IQE is set. At most one queue's worth per call, so a guest
 * cannot keep the unit busy (the tail cannot move while we run).
 */
void vi_vtd_qi_process(struct vtd *s)
{
	uint64_t entries, head, tail, base;

	if (!(s->gsts & GSTS_QIES) || (s->fsts & FSTS_IQE))
		return;
	entries = 256ull << IQA_QS(s->iqa);
	head = (s->iqh & IQ_QX_MASK) >> IQ_QX_SHIFT;
	tail = (s->iqt & IQ_QX_MASK) >> IQ_QX_SHIFT;
	base = s->iqa & IQA_IQA;
	if (head == tail)
		return;
	s->st.qi_doorbells++;
	if (tail >= entries) {
		qi_error(s, IQEI_INVALID_TAIL);
		return;
	}
	for (uint64_t n = 0; n < entries && head != tail && head < entries; n++) {
		uint64_t d[2];
		uint32_t err;

		if (vi_read(&s->v.host, base + head * 16, d, sizeof(d))) {
			qi_error(s, IQEI_FETCH_ERROR);
			break;
		}
		err = qi_desc(s, vi_le64(d[0]), vi_le64(d[1]));
		if (err) {
			qi_error(s, err);
			break;
		}
		head = (head + 1) % entries;
		s->iqh = head << IQ_QX_SHIFT;
	}
}
