// SPDX-License-Identifier: MIT
/*
 * AMD-Vi command buffer (2.4, 3.4.2, 3.4.10). A tail write runs the commands from the head up to
 * the tail, at most one buffer's worth, and every invalidation completes before the next command
 * is fetched, so a COMPLETION_WAIT after an invalidation always finds it done. An illegal command
 * logs ILLEGAL_COMMAND_ERROR, a failed fetch or completion store COMMAND_HARDWARE_ERROR; both
 * leave the head at the command and stop the buffer (CmdBufRun clear) until software turns
 * CmdBufEn off and on again.
 */
#include "amdvi_internal.h"

/* S = 1: the naturally aligned block of 2^(13 + trailing ones from address bit 12) bytes. */
static void inv_range(uint64_t addr, bool s_bit, uint64_t *first, uint64_t *last)
{
	uint64_t size = 1ull << 12;

	addr &= ~0xfffull;
	if (s_bit) {
		uint64_t ones = (uint64_t)__builtin_ctzll(~(addr >> 12) | (1ull << 52));

		size = 13 + ones >= 64 ? 0 : 1ull << (13 + ones);
	}
	*first = size ? addr & ~(size - 1) : 0;
	*last = size ? *first + (size - 1) : UINT64_MAX;
}

static void cmd_hw_error(struct amdvi *s, uint64_t addr)
{
	uint32_t ev[4] = {
		0,
		(uint32_t)VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR) |
			(uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		(uint32_t)addr, (uint32_t)(addr >> 32)
	};

	s->st.cmd_errors++;
	s->status &= ~VIOMMU_AMDVI_STATUS_CMD_BUF_RUN;
	vi_amdvi_log_event(s, ev);
}

static void cmd_illegal(struct amdvi *s, uint64_t addr)
{
	uint32_t ev[4] = {
		0, (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR),
		(uint32_t)addr, (uint32_t)(addr >> 32)
	};

	s->st.cmd_errors++;
	s->status &= ~VIOMMU_AMDVI_STATUS_CMD_BUF_RUN;
	vi_amdvi_log_event(s, ev);
}

static void dev_iotlb_notify(struct amdvi *s, struct viommu_event *evp);

int vi_amdvi_log_iotlb_timeout(struct amdvi *s, uint32_t devid, uint64_t cmd)
{
	uint32_t ev[4] = { devid & 0xffff,
			   (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_IOTLB_INV_TIMEOUT),
			   (uint32_t)cmd & (uint32_t)VIOMMU_AMDVI_EV2_CMD_ADDR_MASK,
			   (uint32_t)(cmd >> 32) };
	const struct amdvi_log l = { &s->evt_base,
				     &s->evt_head,
				     &s->evt_tail,
				     VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN,
				     VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW,
				     VIOMMU_AMDVI_STATUS_EVENT_LOG_INT,
				     VIOMMU_AMDVI_CTRL_EVENT_INT_EN };
	int ret;

	s->st.iotlb_inv_timeouts++;
	ret = vi_amdvi_log_append(s, &l, ev);
	if (ret)
		s->st.events_lost++;
	else
		s->st.events_logged++;
	return ret;
}

int viommu_amdvi_iotlb_inv_timeout(struct viommu *v, uint32_t devid)
{
	struct amdvi *s;
	uint32_t slot;

	if (!v || devid > 0xffff || strcmp(viommu_model_name(v), "amdvi"))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	/* From the callback of the command being run: logged once its events are delivered. */
	if (s->devtlb_notifying && s->devtlb_devid == devid) {
		s->devtlb_timeout = true;
		return 0;
	}
	slot = devid % AMDVI_DEVTLB_SLOTS;
	if (!(s->devtlb_last[slot].cmd & 1) || s->devtlb_last[slot].devid != devid)
		return VIOMMU_ENOENT;
	return vi_amdvi_log_iotlb_timeout(s, devid, s->devtlb_last[slot].cmd & ~1ull);
}

static void dev_iotlb(struct amdvi *s, const uint32_t c[4], uint64_t gpa)
{
	uint64_t addr = (uint64_t)c[3] << 32 | (c[2] & VIOMMU_AMDVI_IIT2_ADDR_LO_MASK);
	struct viommu_event ev = { .type = VIOMMU_EV_DEVIOTLB_UNMAP };

	inv_range(addr, (c[2] & VIOMMU_AMDVI_IIT2_S) != 0, &ev.iova, &ev.last);
	ev.sid = c[0] & VIOMMU_AMDVI_IIT0_DEVID_MASK;
	if (c[2] & VIOMMU_AMDVI_IIT2_GN) {
		ev.has_pasid = true;
		ev.pasid = (uint32_t)(VIOMMU_AMDVI_FIELD_GET(c[0], 23, 16) |
				      VIOMMU_AMDVI_FIELD_GET(c[1], 27, 16) << 8);
	}
	s->st.cmd_inv_iotlb++;
	s->devtlb_last[ev.sid % AMDVI_DEVTLB_SLOTS].devid = ev.sid;
	s->devtlb_last[ev.sid % AMDVI_DEVTLB_SLOTS].cmd = gpa | 1;
	if (!vi_notify_wanted(&s->v, VIOMMU_EV_DEVIOTLB_UNMAP))
		return;
	s->devtlb_notifying = true;
	s->devtlb_devid = ev.sid;
	s->devtlb_timeout = false;
	dev_iotlb_notify(s, &ev);
	s->devtlb_notifying = false;
	if (s->devtlb_timeout) {
		s->devtlb_timeout = false;
		vi_amdvi_log_iotlb_timeout(s, ev.sid, gpa);
	}
}

/* Deliver one device-IOTLB invalidation (and its no-PASID twin for a GIoV device). */
static void dev_iotlb_notify(struct amdvi *s, struct viommu_event *evp)
{
	struct viommu_event ev = *evp;

	s->st.notify_dev_iotlb++;
	vi_notify(&s->v, &ev);
	/*
	 * A GIoV device translates its requests without PASID through PASID 0's tables, so PASID
	 * 0's invalidation covers what it cached from those: Linux flushes v2 DMA domains exactly so
	 * (GN = 1, PASID 0). Consumers without PASIDs hear it too; an entry that cannot be read
	 * counts as GIoV (a needless invalidation is harmless, a missed one is not).
	 */
	if (ev.has_pasid && ev.pasid == 0) {
		struct amdvi_dte d;
		uint64_t a;

		if (vi_amdvi_dte_get(s, ev.sid, &d, &a) == 0 && !d.giov)
			return;
		ev.has_pasid = false;
		s->st.notify_dev_iotlb++;
		vi_notify(&s->v, &ev);
	}
}

/*
 * 2.4.6 PREFETCH_IOMMU_PAGES: load PFCount translations, one per block of the size S encodes from
 * the (aligned) address on, into the IOTLB as a translation miss would, for the v1 table or with
 * GN the PASID's guest tables (a GIoV device's requests without PASID use PASID 0's). A prefetch
 * is a hint: a page that does not translate is skipped without an event, and the walks share
 * the guest action's budget so that a buffer full of prefetches stays bounded.
 */
static void prefetch(struct amdvi *s, const uint32_t c[4])
{
	uint32_t devid = c[0] & VIOMMU_AMDVI_PF0_DEVID_MASK;
	uint32_t count = (uint32_t)VIOMMU_AMDVI_PF0_COUNT_GET(c[0]);
	uint32_t pasid = c[1] & VIOMMU_AMDVI_PF1_PASID_MASK;
	uint64_t addr = (uint64_t)c[3] << 32 | (c[2] & VIOMMU_AMDVI_PF2_ADDR_LO_MASK);
	bool gn = (c[2] & VIOMMU_AMDVI_PF2_GN) != 0, v2;
	struct viommu_iotlb_tag tag = { 0 };
	struct amdvi_dte d;
	uint64_t first, last, size, a;

	s->st.cmd_prefetch++;
	inv_range(addr, (c[2] & VIOMMU_AMDVI_PF2_S) != 0, &first, &last);
	size = last - first + 1; /* 0: the whole address space, one block */
	if (!amdvi_enabled(s) || vi_amdvi_dte_get(s, devid, &d, &a))
		return;
	v2 = gn || d.giov;
	if (v2 ? !d.gv : d.kind != AMDVI_DTE_PAGED)
		return; /* no table to load from */
	tag.dom = d.domid;
	tag.sid = devid;
	tag.pasid = v2 ? AMDVI_V2_TAG | (gn ? pasid : 0) : 0;
	if (c[2] & VIOMMU_AMDVI_PF2_INVAL) {
		struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM |
							   VIOMMU_IOTLB_MATCH_PASID |
							   VIOMMU_IOTLB_MATCH_ADDR,
						  .tag = tag,
						  .first = first };

		inv.last = size && count && (count - 1) <= (UINT64_MAX - last) / size ?
				   last + (uint64_t)(count - 1) * size :
				   UINT64_MAX;
		if (count) {
			viommu_iotlb_invalidate(s->iotlb, &inv);
			vi_amdvi_gcr3_inval_dom(s, d.domid); /* as INVALIDATE_IOMMU_PAGES does */
		}
	}
	for (uint32_t i = 0; i < count && s->budget; i++) {
		uint64_t iova = first + (uint64_t)i * size;
		struct viommu_iotlb_entry e = { .tag = tag };
		struct amdvi_leaf leaf;
		uint32_t level = 0, flags, span, code;

		if (i && (size == 0 || iova < first))
			break; /* past 2^64 */
		s->budget--;
		if (v2)
			code = vi_amdvi_v2_walk(s, &d, gn ? pasid : 0, iova, 0, &leaf, &span,
						&flags, &a);
		else
			code = vi_amdvi_walk(s, &d, iova, &leaf, &level, &flags, &a);
		if (code || !leaf.perm)
			continue;
		e.iova = leaf.iova;
		e.out = leaf.out;
		e.shift = (uint8_t)leaf.shift;
		e.perm = (uint8_t)leaf.perm;
		e.level = (uint8_t)level;
		viommu_iotlb_insert(s->iotlb, &e);
		s->st.prefetched++;
	}
}

int vi_amdvi_cmd_run(struct amdvi *s, const uint32_t c[4], uint64_t gpa, uint64_t *err)
{
	uint32_t op = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_GET(c[1]);
	uint32_t rsvd1 = c[1] & (uint32_t)VIOMMU_AMDVI_CMD_RSVD1;

	switch (op) {
	case VIOMMU_AMDVI_CMD_COMPLETION_WAIT:
		if (c[1] & VIOMMU_AMDVI_CW1_RSVD)
			break;
		s->st.cmd_completion_wait++;
		/* F (flush queue) needs nothing more: every earlier command has completed. */
		if (c[0] & VIOMMU_AMDVI_CW0_S) {
			uint64_t a = (uint64_t)(c[1] & VIOMMU_AMDVI_CW1_ADDR_HI_MASK) << 32 |
				     (c[0] & VIOMMU_AMDVI_CW0_ADDR_LO_MASK);

			if (vi_write64(&s->v.host, a, (uint64_t)c[3] << 32 | c[2])) {
				*err = a;
				return AMDVI_CMD_HW_ERROR;
			}
		}
		if (c[0] & VIOMMU_AMDVI_CW0_I)
			vi_amdvi_raise(s, VIOMMU_AMDVI_STATUS_COM_WAIT_INT,
				       VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN);
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY: {
		uint32_t devid = c[0] & VIOMMU_AMDVI_CMD_DEVID_MASK;

		if ((c[0] & VIOMMU_AMDVI_CMD_DEVID_RSVD0) || rsvd1 || c[2] || c[3])
			break;
		s->st.cmd_inv_devtab++;
		vi_amdvi_dte_inval(s, devid);
		/* The device may now use another table or domain: look at all of it again. */
		vi_amdvi_sync(s, AMDVI_SYNC_DEVICE, 0, devid, 0, UINT64_MAX);
		return AMDVI_CMD_OK;
	}
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES: {
		struct viommu_iotlb_inval inv = { 0 };
		uint32_t domid = c[1] & VIOMMU_AMDVI_IIP1_DOMAIN_ID_MASK;
		uint64_t addr = (uint64_t)c[3] << 32 | (c[2] & VIOMMU_AMDVI_IIP2_ADDR_LO_MASK);

		/* GN (a guest, PASID-tagged invalidation) needs GTSup. */
		if ((c[0] & VIOMMU_AMDVI_IIP0_RSVD) || (c[1] & VIOMMU_AMDVI_IIP1_RSVD) ||
		    (c[2] & VIOMMU_AMDVI_IIP2_RSVD) ||
		    ((c[2] & VIOMMU_AMDVI_IIP2_GN) && !(s->efr & VIOMMU_AMDVI_EFR_GT_SUP)))
			break;
		s->st.cmd_inv_pages++;
		vi_amdvi_hwv_flushed(s, domid);
		vi_amdvi_gcr3_inval_dom(s, domid);
		inv_range(addr, (c[2] & VIOMMU_AMDVI_IIP2_S) != 0, &inv.first, &inv.last);
		if (c[2] & VIOMMU_AMDVI_IIP2_GN) {
			/* One PASID's guest translations of the domain. */
			inv.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID |
				    VIOMMU_IOTLB_MATCH_ADDR;
			inv.tag.dom = domid;
			inv.tag.pasid = AMDVI_V2_TAG | (c[0] & VIOMMU_AMDVI_IIP0_PASID_MASK);
			viommu_iotlb_invalidate(s->iotlb, &inv);
			vi_amdvi_sync(s, AMDVI_SYNC_DOMAIN, domid, 0, inv.first, inv.last);
			return AMDVI_CMD_OK;
		}
		if (s->control & VIOMMU_AMDVI_CTRL_GT_EN) {
			/*
			 * Nested guest entries went through the v1 table at addresses unrelated to
			 * their own: a host-table invalidation drops all of the domain's.
			 */
			struct viommu_iotlb_inval all = { .match = VIOMMU_IOTLB_MATCH_DOM,
							  .tag = { .dom = domid } };

			viommu_iotlb_invalidate(s->iotlb, &all);
		}
		/*
		 * PDE asks for cached table entries too: this IOTLB keeps leaves only. Every v1 tag
		 * has PASID 0: naming it lets the IOTLB probe the range instead of scanning.
		 */
		inv.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID |
			    VIOMMU_IOTLB_MATCH_ADDR;
		inv.tag.dom = domid;
		if (inv.first == 0 && inv.last == UINT64_MAX)
			inv.match = VIOMMU_IOTLB_MATCH_DOM; /* the O(1) domain flush */
		viommu_iotlb_invalidate(s->iotlb, &inv);
		vi_amdvi_sync(s, AMDVI_SYNC_DOMAIN, domid, 0, inv.first, inv.last);
		return AMDVI_CMD_OK;
	}
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		if (c[2] & VIOMMU_AMDVI_IIT2_RSVD)
			break;
		dev_iotlb(s, c, gpa);
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE:
		if ((c[0] & VIOMMU_AMDVI_CMD_DEVID_RSVD0) || rsvd1 || c[2] || c[3])
			break;
		s->st.cmd_inv_irt++; /* no interrupt remapping, so no cached table */
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		if (!(s->efr & VIOMMU_AMDVI_EFR_IA_SUP) || c[0] || rsvd1 || c[2] || c[3])
			break;
		s->st.cmd_inv_all++;
		vi_amdvi_dte_inval_all(s);
		viommu_iotlb_flush(s->iotlb);
		vi_amdvi_sync(s, AMDVI_SYNC_ALL, 0, 0, 0, UINT64_MAX);
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_COMPLETE_PPR_REQUEST:
		if (!(s->efr & VIOMMU_AMDVI_EFR_PPR_SUP) || (c[0] & VIOMMU_AMDVI_CMD_DEVID_RSVD0) ||
		    (c[1] & VIOMMU_AMDVI_CPPR1_RSVD) || (c[2] & VIOMMU_AMDVI_CPPR2_RSVD) ||
		    (c[3] & VIOMMU_AMDVI_CPPR3_RSVD))
			break;
		vi_amdvi_complete_ppr(s, c);
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_PREFETCH_IOMMU_PAGES:
		/* GN (guest tables, with a PASID) needs GTSup. */
		if (!(s->efr & VIOMMU_AMDVI_EFR_PREF_SUP) || (c[0] & VIOMMU_AMDVI_PF0_RSVD) ||
		    (c[1] & VIOMMU_AMDVI_PF1_RSVD) || (c[2] & VIOMMU_AMDVI_PF2_RSVD) ||
		    ((c[2] & VIOMMU_AMDVI_PF2_GN) && !(s->efr & VIOMMU_AMDVI_EFR_GT_SUP)))
			break;
		prefetch(s, c);
		return AMDVI_CMD_OK;
	case VIOMMU_AMDVI_CMD_INSERT_GUEST_EVENT:
	case VIOMMU_AMDVI_CMD_RESET_VMMIO:
		if (!s->hwv)
			break;
		return vi_amdvi_hwv_cmd(s, c, err);
	default:
		break;
	}
	return AMDVI_CMD_ILLEGAL;
}

/* Run one command; false when it is illegal or failed (the buffer has stopped). */
static bool cmd_exec(struct amdvi *s, const uint32_t c[4], uint64_t gpa)
{
	uint64_t err = 0;

	switch (vi_amdvi_cmd_run(s, c, gpa, &err)) {
	case AMDVI_CMD_OK:
		return true;
	case AMDVI_CMD_HW_ERROR:
		cmd_hw_error(s, err);
		return false;
	default:
		cmd_illegal(s, gpa);
		return false;
	}
}

void vi_amdvi_cmd_process(struct amdvi *s)
{
	uint64_t code = VIOMMU_AMDVI_BUF_LEN_GET(s->cmd_base), n, head, tail, base;

	if (!(s->status & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN) || s->cmd_head == s->cmd_tail)
		return;
	s->st.cmd_doorbells++;
	base = s->cmd_base & VIOMMU_AMDVI_BUF_BASE_MASK;
	head = s->cmd_head >> 4;
	tail = s->cmd_tail >> 4;
	/* A reserved length, or a head or tail past the buffer: nothing there can be fetched. */
	if (code < VIOMMU_AMDVI_BUF_LEN_MIN) {
		cmd_hw_error(s, base);
		return;
	}
	n = 1ull << code;
	if (head >= n || tail >= n) {
		cmd_hw_error(s, base + (head >= n ? head : tail) * VIOMMU_AMDVI_CMD_SIZE);
		return;
	}
	for (uint64_t i = 0; i < n && head != tail; i++) {
		uint64_t gpa = base + head * VIOMMU_AMDVI_CMD_SIZE;
		uint32_t c[4];

		if (vi_read(&s->v.host, gpa, c, sizeof(c))) {
			cmd_hw_error(s, gpa);
			return;
		}
		for (int k = 0; k < 4; k++)
			c[k] = vi_le32(c[k]);
		if (!cmd_exec(s, c, gpa))
			return;
		head = (head + 1) % n;
		s->cmd_head = head << 4;
	}
}
