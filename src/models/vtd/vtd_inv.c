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
	case VIOMMU_VTD_CC_GLOBAL:
		vi_vtd_ctx_inval_all(s);
		vi_vtd_sync(s, VTD_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		break;
	case VIOMMU_VTD_CC_DOMAIN:
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
	case VIOMMU_VTD_IOTLB_GLOBAL:
		s->st.inv_iotlb_global++;
		viommu_iotlb_flush(s->iotlb);
		vi_vtd_sync(s, VTD_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
		break;
	case VIOMMU_VTD_IOTLB_DOMAIN:
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
	uint32_t g = (uint32_t)VIOMMU_VTD_CCMD_CIRG_GET(v);

	/* Register-based invalidation is not available while the queue is enabled (§6.5.2). */
	if ((s->gsts & VIOMMU_VTD_GSTS_QIES) || g == 0) {
		s->ccmd = v & ~(VIOMMU_VTD_CCMD_ICC | VIOMMU_VTD_CCMD_CAIG_MASK);
		return;
	}
	vi_vtd_inv_context(s, g, (uint32_t)VIOMMU_VTD_CCMD_DID_GET(v),
			   (uint32_t)VIOMMU_VTD_CCMD_SID_GET(v),
			   (uint32_t)VIOMMU_VTD_CCMD_FM_GET(v));
	s->ccmd = (v & ~(VIOMMU_VTD_CCMD_ICC | VIOMMU_VTD_CCMD_CAIG_MASK)) |
		  (uint64_t)g << VIOMMU_VTD_CCMD_CAIG_SHIFT;
}

/* §11.4: IOTLB_REG with IVT set (IVA_REG holds the page-selective address). */
void vi_vtd_iotlb_reg_write(struct vtd *s)
{
	uint64_t v = s->iotlb_reg;
	uint32_t g = (uint32_t)VIOMMU_VTD_IOTLB_IIRG_GET(v);
	uint32_t am = (uint32_t)VIOMMU_VTD_IVA_AM_GET(s->iva);

	/* IAIG = 00b reports a request that was not performed. */
	if ((s->gsts & VIOMMU_VTD_GSTS_QIES) || g == 0 ||
	    (g == VIOMMU_VTD_IOTLB_PAGE && am > VI_FIELD_GET(s->cap, 53, 48))) {
		s->iotlb_reg = v & ~(VIOMMU_VTD_IOTLB_IVT | VIOMMU_VTD_IOTLB_IAIG_MASK);
		return;
	}
	vi_vtd_inv_iotlb(s, g, (uint32_t)VIOMMU_VTD_IOTLB_DID_GET(v),
			 s->iva & VIOMMU_VTD_IVA_ADDR_MASK, am);
	s->iotlb_reg = (v & ~(VIOMMU_VTD_IOTLB_IVT | VIOMMU_VTD_IOTLB_IAIG_MASK)) |
		       (uint64_t)g << VIOMMU_VTD_IOTLB_IAIG_SHIFT;
}

/* §6.5.2.5: device-TLB range: S = 0 one page; S = 1 size from the first 0 bit above bit 11. */
static void dev_iotlb(struct vtd *s, uint64_t lo, uint64_t hi)
{
	uint64_t addr = hi & VIOMMU_VTD_QI_DIOTLB_ADDR_MASK;
	struct viommu_event ev = { .type = VIOMMU_EV_DEVIOTLB_UNMAP };
	uint64_t size = 1ull << 12;

	if (hi & VIOMMU_VTD_QI_DIOTLB_S) {
		uint64_t ones = (uint64_t)__builtin_ctzll(~(addr >> 12) | (1ull << 52));

		size = 13 + ones >= 64 ? 0 : 1ull << (13 + ones);
	}
	ev.sid = (uint32_t)VIOMMU_VTD_QI_DIOTLB_SID_GET(lo);
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
	if (lo & VIOMMU_VTD_QI_IWD_SW) {
		if (vi_write32(&s->v.host, hi & VIOMMU_VTD_QI_IWD_ADDR_MASK,
			       (uint32_t)VIOMMU_VTD_QI_IWD_STATUS_GET(lo)))
			vi_log(&s->v.host, VIOMMU_LOG_WARN,
			       "vtd: wait status write outside memory");
	}
	if ((lo & VIOMMU_VTD_QI_IWD_IF) && !(s->ics & VIOMMU_VTD_ICS_IWC)) {
		s->ics |= VIOMMU_VTD_ICS_IWC;
		s->iectl |= VIOMMU_VTD_IECTL_IP;
		if (!(s->iectl & VIOMMU_VTD_IECTL_IM))
			vi_vtd_deliver_inv_irq(s);
	}
}

/* Execute one descriptor; 0, or the IQEI code of why it is invalid. */
static uint32_t qi_desc(struct vtd *s, uint64_t lo, uint64_t hi)
{
	uint32_t type = (uint32_t)VIOMMU_VTD_QI_TYPE_GET(lo);
	uint32_t g = (uint32_t)VIOMMU_VTD_QI_G_GET(lo);

	switch (type) {
	case VIOMMU_VTD_QI_CC_TYPE:
		if ((lo & VIOMMU_VTD_QI_CC_RSVD_LO) || hi || g == 0)
			return VIOMMU_VTD_IQEI_RESERVED_FIELD;
		s->st.qi_cc++;
		vi_vtd_inv_context(s, g, (uint32_t)VIOMMU_VTD_QI_CC_DID_GET(lo),
				   (uint32_t)VIOMMU_VTD_QI_CC_SID_GET(lo),
				   (uint32_t)VIOMMU_VTD_QI_CC_FM_GET(lo));
		return 0;
	case VIOMMU_VTD_QI_IOTLB_TYPE:
		if ((lo & VIOMMU_VTD_QI_IOTLB_RSVD_LO) || (hi & VIOMMU_VTD_QI_IOTLB_RSVD_HI) ||
		    g == 0 ||
		    (g == VIOMMU_VTD_IOTLB_PAGE &&
		     VIOMMU_VTD_QI_IOTLB_AM_GET(hi) > VI_FIELD_GET(s->cap, 53, 48)))
			return VIOMMU_VTD_IQEI_RESERVED_FIELD;
		s->st.qi_iotlb++;
		vi_vtd_inv_iotlb(s, g, (uint32_t)VIOMMU_VTD_QI_IOTLB_DID_GET(lo),
				 hi & VIOMMU_VTD_QI_IOTLB_ADDR_MASK,
				 (uint32_t)VIOMMU_VTD_QI_IOTLB_AM_GET(hi));
		return 0;
	case VIOMMU_VTD_QI_DIOTLB_TYPE:
		if (!(s->ecap & VIOMMU_VTD_ECAP_DT))
			return VIOMMU_VTD_IQEI_INVALID_TYPE;
		if ((lo & VIOMMU_VTD_QI_DIOTLB_RSVD_LO) || (hi & VIOMMU_VTD_QI_DIOTLB_RSVD_HI))
			return VIOMMU_VTD_IQEI_RESERVED_FIELD;
		s->st.qi_dev_iotlb++;
		dev_iotlb(s, lo, hi);
		return 0;
	case VIOMMU_VTD_QI_IEC_TYPE:
		if ((lo & VIOMMU_VTD_QI_IEC_RSVD_LO) || hi)
			return VIOMMU_VTD_IQEI_RESERVED_FIELD;
		s->st.qi_iec++; /* no interrupt remapping, so no entry cache to drop */
		return 0;
	case VIOMMU_VTD_QI_IWD_TYPE:
		if ((lo & (VIOMMU_VTD_QI_IWD_RSVD_LO | VIOMMU_VTD_QI_IWD_PD)) ||
		    (hi & VIOMMU_VTD_QI_IWD_RSVD_HI))
			return VIOMMU_VTD_IQEI_RESERVED_FIELD;
		s->st.qi_wait++;
		wait_desc(s, lo, hi);
		return 0;
	default:
		return VIOMMU_VTD_IQEI_INVALID_TYPE;
	}
}

static void qi_error(struct vtd *s, uint32_t iqei)
{
	uint32_t pre = s->fsts;

	for (uint32_t i = 0; i < s->cfg.nfr; i++) {
		if (s->frcd[i][1] & VIOMMU_VTD_FRCD_HI_F) {
			pre |= VIOMMU_VTD_FSTS_PPF;
			break;
		}
	}
	s->st.qi_errors++;
	s->fsts |= VIOMMU_VTD_FSTS_IQE;
	s->iqer = (s->iqer & ~VIOMMU_VTD_IQERCD_IQEI_MASK) | iqei;
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

	if (!(s->gsts & VIOMMU_VTD_GSTS_QIES) || (s->fsts & VIOMMU_VTD_FSTS_IQE))
		return;
	entries = 256ull << VIOMMU_VTD_IQA_QS_GET(s->iqa);
	head = (s->iqh & VIOMMU_VTD_IQ_QX_MASK) >> VIOMMU_VTD_IQ_QX_SHIFT;
	tail = (s->iqt & VIOMMU_VTD_IQ_QX_MASK) >> VIOMMU_VTD_IQ_QX_SHIFT;
	base = s->iqa & VIOMMU_VTD_IQA_IQA_MASK;
	if (head == tail)
		return;
	s->st.qi_doorbells++;
	if (tail >= entries) {
		qi_error(s, VIOMMU_VTD_IQEI_INVALID_TAIL);
		return;
	}
	for (uint64_t n = 0; n < entries && head != tail && head < entries; n++) {
		uint64_t d[2];
		uint32_t err;

		if (vi_read(&s->v.host, base + head * 16, d, sizeof(d))) {
			qi_error(s, VIOMMU_VTD_IQEI_FETCH_ERROR);
			break;
		}
		err = qi_desc(s, vi_le64(d[0]), vi_le64(d[1]));
		if (err) {
			qi_error(s, err);
			break;
		}
		head = (head + 1) % entries;
		s->iqh = head << VIOMMU_VTD_IQ_QX_SHIFT;
	}
}
