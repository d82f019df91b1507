// SPDX-License-Identifier: MIT
/*
 * The hardware half of the AMD HW-vIOMMU (<viommu/amdvi_hwv.h>): VF MMIO pages, VFCtrl blocks,
 * the private address space, guest command processing, guest event logs, INSERT_GUEST_EVENT and
 * RESET_VMMIO. Every per-guest register the hardware keeps lives in the guest MMIO area of the
 * private address space (read and written through the IOMMU's own v1 table at each access), so
 * a private space the host left unmapped is a hardware error reported to the host, never a crash.
 */
#include <stdlib.h>

#include "amdvi_internal.h"

int vi_amdvi_hwv_alloc(struct amdvi *s)
{
	s->hwv = calloc(1, sizeof(*s->hwv));
	if (!s->hwv)
		return VIOMMU_ENOMEM;
	s->hwv->owner = calloc(AMDVI_NDEV, sizeof(*s->hwv->owner));
	if (!s->hwv->owner) {
		free(s->hwv);
		s->hwv = NULL;
		return VIOMMU_ENOMEM;
	}
	s->hwv->next_dom = 0xfffe; /* 0xffff is the private space's own domain */
	return 0;
}

void vi_amdvi_hwv_free(struct amdvi *s)
{
	if (!s->hwv)
		return;
	for (int i = 0; i < VIOMMU_AMDVI_HWV_GUESTS; i++) {
		free(s->hwv->g[i].gdom);
		free(s->hwv->g[i].doms);
	}
	free(s->hwv->owner);
	free(s->hwv);
	s->hwv = NULL;
}

static struct amdvi *hwv_of(struct viommu *v)
{
	if (!v || strcmp(viommu_model_name(v), "amdvi"))
		return NULL;
	return to_amdvi(v)->hwv ? to_amdvi(v) : NULL;
}

int viommu_amdvi_vsc(const struct viommu *v, uint32_t *info)
{
	struct amdvi *s = hwv_of((struct viommu *)v);

	if (!s || !info)
		return VIOMMU_EINVAL;
	*info = (uint32_t)(VIOMMU_AMDVI_VSC_INFO_ID_SET(VIOMMU_AMDVI_VSC_ID) |
			   VIOMMU_AMDVI_VSC_INFO_REV_SET(VIOMMU_AMDVI_VSC_REV));
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Private address space                                                                       */
/* ------------------------------------------------------------------------------------------ */

void vi_amdvi_hwv_flushed(struct amdvi *s, uint32_t domid)
{
	if (s->hwv && (domid == UINT32_MAX || domid == s->hwv->ptlb_dom))
		memset(s->hwv->ptlb, 0, sizeof(s->hwv->ptlb));
}

int vi_amdvi_priv_rw(struct amdvi *s, uint64_t pa, void *buf, size_t len, bool write)
{
	uint32_t need = write ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ;
	struct amdvi_dte d;
	size_t done = 0;
	uint64_t a;

	if (!(s->control & VIOMMU_AMDVI_CTRL_VIOMMU_EN))
		return VIOMMU_EFAULT;
	if (vi_amdvi_dte_get(s, s->cfg.iommu_devid, &d, &a) || d.kind != AMDVI_DTE_PAGED)
		return VIOMMU_EFAULT;
	if (d.domid != s->hwv->ptlb_dom) {
		vi_amdvi_hwv_flushed(s, UINT32_MAX);
		s->hwv->ptlb_dom = d.domid;
	}
	while (done < len) {
		uint64_t x = pa + done, page = x >> 12, n = 4096 - (x & 0xfff);
		struct amdvi_ptlb *e = &s->hwv->ptlb[page % AMDVI_PTLB];

		if (e->page != page + 1 || !(e->perm & need)) {
			struct amdvi_leaf l;
			uint32_t level, flags, code;

			code = vi_amdvi_walk(s, &d, x, &l, &level, &flags, &a);
			if (code == VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR)
				return VIOMMU_EFAULT;
			if (code || !(l.perm & need))
				return VIOMMU_ENOENT;
			e->page = page + 1;
			e->spa = l.out + ((x - l.iova) & ~0xfffull);
			e->perm = (uint8_t)l.perm;
		}
		if (n > len - done)
			n = len - done;
		if (write ? vi_write(&s->v.host, e->spa + (x & 0xfff), (const uint8_t *)buf + done,
				     n) :
			    vi_read(&s->v.host, e->spa + (x & 0xfff), (uint8_t *)buf + done, n))
			return VIOMMU_EFAULT;
		done += n;
	}
	return 0;
}

/* VIOMMU_HARDWARE_ERROR (or GUEST_EVENT_FAULT) for @gid at private address @pa, to the host. */
static void hw_error(struct amdvi *s, uint32_t gid, uint32_t code, uint64_t pa)
{
	uint32_t ev[4] = { gid & 0xffff,
			   (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(code) |
				   (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(
					   VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
			   (uint32_t)pa, (uint32_t)(pa >> 32) };

	if (gid < VIOMMU_AMDVI_HWV_GUESTS)
		s->hwv->g[gid].st.hw_errors++;
	s->viommu_status |= VIOMMU_AMDVI_VIOMMU_STATUS_HW_ERR;
	vi_amdvi_log_event(s, ev);
}

static uint64_t area(uint32_t gid, uint64_t off)
{
	return VIOMMU_AMDVI_PRIV_GUEST_MMIO + (uint64_t)gid * VIOMMU_AMDVI_PRIV_GUEST_MMIO_SIZE +
	       off;
}

/* A guest MMIO area register; a failure is reported to the host and reads as 0. */
static int area_rd(struct amdvi *s, uint32_t gid, uint64_t off, uint64_t *v)
{
	uint64_t q = 0;

	if (vi_amdvi_priv_rw(s, area(gid, off), &q, 8, false)) {
		hw_error(s, gid, VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR, area(gid, off));
		*v = 0;
		return VIOMMU_EFAULT;
	}
	*v = vi_le64(q);
	return 0;
}

static int area_wr(struct amdvi *s, uint32_t gid, uint64_t off, uint64_t v)
{
	uint64_t q = vi_le64(v);

	if (vi_amdvi_priv_rw(s, area(gid, off), &q, 8, true)) {
		hw_error(s, gid, VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR, area(gid, off));
		return VIOMMU_EFAULT;
	}
	return 0;
}

/*
 * The command-buffer dirty bit of @gid: set by a tail write until its commands have run. The
 * hardware here runs them within the write, so the bit is only ever seen set while the guest's
 * buffer cannot run; the model writes it when it changes (g->dirty mirrors it).
 */
static void dirty_set(struct amdvi *s, uint32_t gid, bool on)
{
	uint64_t pa = VIOMMU_AMDVI_PRIV_CMDBUF_DIRTY + gid / 8;
	uint8_t b;

	if (s->hwv->g[gid].dirty == on || vi_amdvi_priv_rw(s, pa, &b, 1, false))
		return; /* a hint for software only: nothing depends on it */
	b = on ? (uint8_t)(b | 1u << (gid % 8)) : (uint8_t)(b & ~(1u << (gid % 8)));
	if (vi_amdvi_priv_rw(s, pa, &b, 1, true) == 0)
		s->hwv->g[gid].dirty = on;
}

static int map_lookup(struct amdvi *s, uint32_t gid, uint64_t pa, uint64_t *e)
{
	uint64_t q;
	int ret = vi_amdvi_priv_rw(s, pa, &q, 8, false);

	if (ret == VIOMMU_EFAULT) {
		hw_error(s, gid, VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR, pa);
		return ret;
	}
	if (ret)
		return VIOMMU_ENOENT; /* the host mapped no page of the map there: no entry */
	*e = vi_le64(q);
	return 0;
}

/* Guest @id's entry of the DeviceID map (@dev) or the DomainID map. */
static int map_entry(struct amdvi *s, uint32_t gid, bool dev, uint32_t id, uint64_t *e)
{
	uint64_t pa = dev ? VIOMMU_AMDVI_PRIV_DEVID_MAP +
				      (uint64_t)gid * VIOMMU_AMDVI_PRIV_DEVID_MAP_SIZE +
				      (uint64_t)(id & 0xffff) * VIOMMU_AMDVI_DEVID_MAP_ENTRY :
			    VIOMMU_AMDVI_PRIV_DOMID_MAP +
				      (uint64_t)gid * VIOMMU_AMDVI_PRIV_DOMID_MAP_SIZE +
				      (uint64_t)(id & 0xffff) * VIOMMU_AMDVI_DOMID_MAP_ENTRY;
	int ret = map_lookup(s, gid, pa, e);

	/* V and (DeviceID map) the guest DeviceID the entry was written for. */
	if (!ret && (!(*e & VIOMMU_AMDVI_DID_MAP_V) ||
		     (dev && VIOMMU_AMDVI_DID_MAP_GUEST_GET(*e) != (id & 0xffff))))
		ret = VIOMMU_ENOENT;
	return ret;
}

int vi_amdvi_hwv_devid(struct amdvi *s, uint32_t gid, uint32_t gdev, uint32_t *host)
{
	uint64_t e;
	int ret = map_entry(s, gid, true, gdev, &e);

	if (!ret)
		*host = (uint32_t)VIOMMU_AMDVI_DID_MAP_HOST_GET(e);
	return ret;
}

int vi_amdvi_hwv_domid(struct amdvi *s, uint32_t gid, uint32_t gdom, uint32_t *host)
{
	uint64_t e;
	int ret = map_entry(s, gid, false, gdom, &e);

	if (!ret)
		*host = (uint32_t)VIOMMU_AMDVI_DOM_MAP_HOST_GET(e);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Guest interrupts and the guest event log                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Set guest status @bit; interrupt the guest when it appears and MISC @en allows it. */
static void guest_raise(struct amdvi *s, uint32_t gid, uint64_t *status, uint64_t bit, uint64_t en)
{
	struct amdvi_hwv_guest *g = &s->hwv->g[gid];
	bool was = (*status & bit) != 0;

	*status |= bit;
	if (was || !(g->vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8] & en) || !g->ops.guest_irq)
		return;
	g->st.guest_irqs++;
	g->ops.guest_irq(g->opaque, gid);
}

uint32_t vi_amdvi_hwv_guest_event(struct amdvi *s, uint32_t gid, const uint32_t ev[4])
{
	struct amdvi_hwv_guest *g;
	uint64_t ctl, code, n, head, tail, status, pa;
	uint32_t le[4];

	if (!vi_amdvi_hwv_gid_ok(s, gid))
		return VIOMMU_FAULT_F_LOST;
	g = &s->hwv->g[gid];
	ctl = g->vfctrl[VIOMMU_AMDVI_VFCTRL_EVT_CONTROL / 8];
	code = VIOMMU_AMDVI_BUF_LEN_GET(ctl);
	if (!(g->vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8] & VIOMMU_AMDVI_MISC_EVENT_LOG_EN) ||
	    code < VIOMMU_AMDVI_BUF_LEN_MIN || area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status) ||
	    !(status & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN) ||
	    area_rd(s, gid, VIOMMU_AMDVI_VF_EVENT_LOG_HEAD, &head) ||
	    area_rd(s, gid, VIOMMU_AMDVI_VF_EVENT_LOG_TAIL, &tail)) {
		g->st.events_lost++;
		return VIOMMU_FAULT_F_LOST;
	}
	n = 1ull << code;
	head = (head & VIOMMU_AMDVI_PTR_MASK) >> 4;
	tail = (tail & VIOMMU_AMDVI_PTR_MASK) >> 4;
	if (head >= n || tail >= n || (tail + 1) % n == head) {
		/* Full (or pointers past the log): the guest's log stops with its overflow bit. */
		status &= ~VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN;
		guest_raise(s, gid, &status, VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW,
			    VIOMMU_AMDVI_MISC_EVENT_INT_EN);
		area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
		g->st.events_lost++;
		return VIOMMU_FAULT_F_LOST;
	}
	pa = VIOMMU_AMDVI_PRIV_EVT_LOG + (uint64_t)gid * VIOMMU_AMDVI_PRIV_QUEUE_SIZE + tail * 16;
	for (int i = 0; i < 4; i++)
		le[i] = vi_le32(ev[i]);
	if (vi_amdvi_priv_rw(s, pa, le, sizeof(le), true)) {
		hw_error(s, gid, VIOMMU_AMDVI_EV_GUEST_EVENT_FAULT, pa);
		g->st.events_lost++;
		return VIOMMU_FAULT_F_LOST;
	}
	area_wr(s, gid, VIOMMU_AMDVI_VF_EVENT_LOG_TAIL, ((tail + 1) % n) << 4);
	guest_raise(s, gid, &status, VIOMMU_AMDVI_STATUS_EVENT_LOG_INT,
		    VIOMMU_AMDVI_MISC_EVENT_INT_EN);
	area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
	g->st.direct_events++;
	return VIOMMU_FAULT_F_RECORDED;
}

/* ------------------------------------------------------------------------------------------ */
/* Guest command processing                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* An event about the guest's own command at guest-physical @addr, in the guest's log. */
static void guest_cmd_event(struct amdvi *s, uint32_t gid, uint32_t code, uint64_t addr)
{
	uint32_t ev[4] = { 0, (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(code), (uint32_t)addr,
			   (uint32_t)(addr >> 32) };

	if (code == VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR)
		ev[1] |= (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT);
	s->hwv->g[gid].st.cmd_errors++;
	vi_amdvi_hwv_guest_event(s, gid, ev);
}

/* COMPLETION_WAIT's store, at a guest-physical address through the TransDevID's v1 table. */
static int guest_store(struct amdvi *s, uint32_t gid, uint64_t gpa, uint64_t val)
{
	uint32_t trans = (uint32_t)VIOMMU_AMDVI_MISC_TRANS_DEVID_GET(
		s->hwv->g[gid].vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8]);
	struct amdvi_dte d;
	uint64_t a, le = vi_le64(val);

	if (vi_amdvi_dte_get(s, trans, &d, &a) || d.kind != AMDVI_DTE_PAGED)
		return VIOMMU_EFAULT;
	return vi_amdvi_v1_rw(s, &d, gpa, &le, 8, true) ? VIOMMU_EFAULT : 0;
}

/*
 * Run one guest command at guest-physical @gpa: 0, or -1 when it failed (the guest's buffer
 * stops; the event is in the guest's log). IDs are translated into a copy that the host's own
 * command code then runs, so no guest field reaches the host unmapped.
 */
static int guest_cmd_exec(struct amdvi *s, uint32_t gid, const uint32_t c[4], uint64_t gpa)
{
	struct amdvi_hwv_guest *g = &s->hwv->g[gid];
	uint32_t op = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_GET(c[1]);
	uint32_t h[4] = { c[0], c[1], c[2], c[3] }, host = 0;
	uint64_t err = 0, status;
	int ret;

	switch (op) {
	case VIOMMU_AMDVI_CMD_COMPLETION_WAIT:
		if (c[1] & VIOMMU_AMDVI_CW1_RSVD)
			goto illegal;
		g->st.completion_waits++;
		if (c[0] & VIOMMU_AMDVI_CW0_S) {
			uint64_t a = (uint64_t)(c[1] & VIOMMU_AMDVI_CW1_ADDR_HI_MASK) << 32 |
				     (c[0] & VIOMMU_AMDVI_CW0_ADDR_LO_MASK);

			if (guest_store(s, gid, a, (uint64_t)c[3] << 32 | c[2])) {
				guest_cmd_event(s, gid, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, a);
				return -1;
			}
		}
		if ((c[0] & VIOMMU_AMDVI_CW0_I) &&
		    area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status) == 0) {
			guest_raise(s, gid, &status, VIOMMU_AMDVI_STATUS_COM_WAIT_INT,
				    VIOMMU_AMDVI_MISC_COM_WAIT_INT_EN);
			area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
		}
		return 0;
	case VIOMMU_AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY:
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
	case VIOMMU_AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE:
	case VIOMMU_AMDVI_CMD_PREFETCH_IOMMU_PAGES:
	case VIOMMU_AMDVI_CMD_COMPLETE_PPR_REQUEST:
		ret = vi_amdvi_hwv_devid(s, gid, c[0] & 0xffff, &host);
		if (ret)
			goto unmapped;
		h[0] = (c[0] & ~0xffffu) | host;
		break;
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
		ret = vi_amdvi_hwv_domid(s, gid, c[1] & 0xffff, &host);
		if (ret)
			goto unmapped;
		h[1] = (c[1] & ~0xffffu) | host;
		break;
	case VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		/* Names nothing: the host's whole caches go, which only costs other guests time. */
		break;
	default:
		/* INSERT_GUEST_EVENT and RESET_VMMIO are the host's; the rest is reserved. */
		goto illegal;
	}
	switch (vi_amdvi_cmd_run(s, h, gpa, &err)) {
	case AMDVI_CMD_OK:
		return 0;
	case AMDVI_CMD_HW_ERROR:
		guest_cmd_event(s, gid, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, gpa);
		return -1;
	default:
		goto illegal;
	}
unmapped:
	g->st.unmapped_ids++;
illegal:
	guest_cmd_event(s, gid, VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR, gpa);
	return -1;
}

static void guest_cmd_process(struct amdvi *s, uint32_t gid)
{
	struct amdvi_hwv_guest *g = &s->hwv->g[gid];
	uint64_t ctl = g->vfctrl[VIOMMU_AMDVI_VFCTRL_CMD_CONTROL / 8];
	uint64_t code = VIOMMU_AMDVI_BUF_LEN_GET(ctl), base = ctl & VIOMMU_AMDVI_BUF_BASE_MASK;
	uint64_t status, head, tail, n;
	bool stop = false;
	const uint64_t need = VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_VIOMMU_EN |
			      VIOMMU_AMDVI_CTRL_VCMD_EN;

	/* Not running: whatever the tail says waits (dirty) until the buffer runs again. */
	if ((s->control & need) != need ||
	    !(g->vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8] & VIOMMU_AMDVI_MISC_CMD_BUF_EN) ||
	    area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status) ||
	    !(status & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN)) {
		dirty_set(s, gid, true);
		return;
	}
	if (area_rd(s, gid, VIOMMU_AMDVI_VF_CMD_BUF_HEAD, &head) ||
	    area_rd(s, gid, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, &tail))
		return;
	head = (head & VIOMMU_AMDVI_PTR_MASK) >> 4;
	tail = (tail & VIOMMU_AMDVI_PTR_MASK) >> 4;
	if (head == tail) {
		dirty_set(s, gid, false);
		return;
	}
	g->st.direct_doorbells++;
	n = code < VIOMMU_AMDVI_BUF_LEN_MIN ? 0 : 1ull << code;
	if (head >= n || tail >= n) {
		/* No queue (the host could not pin one), or pointers past it. */
		guest_cmd_event(s, gid, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, base + head * 16);
		stop = true;
	}
	for (uint64_t i = 0; i < n && head != tail && head < n && tail < n; i++) {
		uint64_t pa = VIOMMU_AMDVI_PRIV_CMDBUF +
			      (uint64_t)gid * VIOMMU_AMDVI_PRIV_QUEUE_SIZE + head * 16;
		uint32_t c[4];

		if (vi_amdvi_priv_rw(s, pa, c, sizeof(c), false)) {
			hw_error(s, gid, VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR, pa);
			guest_cmd_event(s, gid, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR,
					base + head * 16);
			stop = true;
			break;
		}
		for (int k = 0; k < 4; k++)
			c[k] = vi_le32(c[k]);
		g->st.direct_cmds++;
		if (guest_cmd_exec(s, gid, c, base + head * 16)) {
			stop = true;
			break; /* the head stays at the failed command */
		}
		head = (head + 1) % n;
	}
	if (head < n)
		area_wr(s, gid, VIOMMU_AMDVI_VF_CMD_BUF_HEAD, head << 4);
	/* Read again: the commands' events and completion waits updated it. */
	if (stop && area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status) == 0)
		area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status & ~VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
	dirty_set(s, gid, stop);
}

/* ------------------------------------------------------------------------------------------ */
/* VF MMIO page (the guest's, direct) and VFCtrl (the host's)                                  */
/* ------------------------------------------------------------------------------------------ */

static bool access_ok(uint64_t off, unsigned int size, uint64_t limit)
{
	return (size == 4 || size == 8) && !(off & (size - 1)) && off < limit;
}

int viommu_amdvi_vf_mmio_read(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
			      uint64_t *val)
{
	struct amdvi *s = hwv_of(v);
	uint64_t q;

	if (!s || !val || gid >= VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_EINVAL;
	*val = 0;
	s->hwv->g[gid].st.direct_mmio++;
	/* A page of no guest, or outside the registers, reads zero. */
	if (!vi_amdvi_hwv_gid_ok(s, gid) || !access_ok(off, size, VIOMMU_AMDVI_VF_PAGE_SIZE) ||
	    off >= VIOMMU_AMDVI_VF_REG_END || (off & ~7ull) == 0x28)
		return 0;
	if (area_rd(s, gid, off & ~7ull, &q))
		return 0;
	*val = size == 8 ? q : (q >> ((off & 7) * 8)) & 0xffffffffull;
	return 0;
}

int viommu_amdvi_vf_mmio_write(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
			       uint64_t val)
{
	struct amdvi *s = hwv_of(v);
	uint64_t base = off & ~7ull, q, status, mask;
	unsigned int sh;

	if (!s || gid >= VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_EINVAL;
	s->hwv->g[gid].st.direct_mmio++;
	if (!vi_amdvi_hwv_gid_ok(s, gid) || !access_ok(off, size, VIOMMU_AMDVI_VF_PAGE_SIZE) ||
	    off >= VIOMMU_AMDVI_VF_REG_END)
		return 0;
	s->budget = AMDVI_SYNC_BUDGET;
	s->scanned = false;
	if (area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status))
		return 0;
	sh = (unsigned int)(off & 7) * 8;
	mask = size == 8 ? ~0ull : 0xffffffffull << sh;
	if (base == VIOMMU_AMDVI_VF_STATUS) {
		/* W1C: only the bits written count. */
		q = (val << sh) & mask;
		status &= ~(q &
			    (VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW |
			     VIOMMU_AMDVI_STATUS_EVENT_LOG_INT | VIOMMU_AMDVI_STATUS_COM_WAIT_INT |
			     VIOMMU_AMDVI_STATUS_PPR_OVERFLOW | VIOMMU_AMDVI_STATUS_PPR_INT));
		area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
		return 0;
	}
	if (size == 8)
		q = val & VIOMMU_AMDVI_PTR_MASK;
	else if (area_rd(s, gid, base, &q))
		return 0;
	else
		q = ((q & ~mask) | ((val << sh) & mask)) & VIOMMU_AMDVI_PTR_MASK;
	switch (base) {
	case VIOMMU_AMDVI_VF_CMD_BUF_HEAD:
		if (!(status & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN))
			area_wr(s, gid, base, q);
		return 0;
	case VIOMMU_AMDVI_VF_CMD_BUF_TAIL:
		/* The doorbell: no exit, the hardware fetches the guest's commands. */
		if (area_wr(s, gid, base, q))
			return 0;
		guest_cmd_process(s, gid);
		return 0;
	case VIOMMU_AMDVI_VF_EVENT_LOG_HEAD:
	case VIOMMU_AMDVI_VF_PPR_LOG_HEAD:
		area_wr(s, gid, base, q);
		return 0;
	case VIOMMU_AMDVI_VF_EVENT_LOG_TAIL:
		if (!(status & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN))
			area_wr(s, gid, base, q);
		return 0;
	case VIOMMU_AMDVI_VF_PPR_LOG_TAIL:
		if (!(status & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN))
			area_wr(s, gid, base, q);
		return 0;
	default:
		return 0;
	}
}

int viommu_amdvi_vfctrl_read(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
			     uint64_t *val)
{
	struct amdvi *s = hwv_of(v);
	uint64_t q;

	if (!s || !val || gid >= VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_EINVAL;
	*val = 0;
	if (!access_ok(off, size, VIOMMU_AMDVI_VFCTRL_SIZE))
		return 0;
	q = s->hwv->g[gid].vfctrl[off / 8];
	*val = size == 8 ? q : (q >> ((off & 7) * 8)) & 0xffffffffull;
	return 0;
}

/* Enables of GUEST_MISC_CONTROL turned on start the guest's buffers, turned off stop them. */
static void misc_write(struct amdvi *s, uint32_t gid, uint64_t old, uint64_t val)
{
	static const struct {
		uint64_t en, run;
	} bits[] = {
		{ VIOMMU_AMDVI_MISC_CMD_BUF_EN, VIOMMU_AMDVI_STATUS_CMD_BUF_RUN },
		{ VIOMMU_AMDVI_MISC_EVENT_LOG_EN, VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN },
		{ VIOMMU_AMDVI_MISC_PPR_LOG_EN, VIOMMU_AMDVI_STATUS_PPR_LOG_RUN },
	};
	uint64_t status, was;

	s->hwv->g[gid].vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8] = val;
	if (!vi_amdvi_hwv_gid_ok(s, gid) || area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status))
		return;
	was = status;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if ((val & bits[i].en) && !(old & bits[i].en))
			status |= bits[i].run;
		if (!(val & bits[i].en))
			status &= ~bits[i].run;
	}
	if (status != was)
		area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
	if ((val & VIOMMU_AMDVI_MISC_CMD_BUF_EN) && !(old & VIOMMU_AMDVI_MISC_CMD_BUF_EN))
		guest_cmd_process(s, gid); /* a tail written before enabling is honoured */
}

int viommu_amdvi_vfctrl_write(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
			      uint64_t val)
{
	struct amdvi *s = hwv_of(v);
	struct amdvi_hwv_guest *g;
	uint64_t q, old, mask;
	unsigned int sh;

	if (!s || gid >= VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_EINVAL;
	if (!access_ok(off, size, VIOMMU_AMDVI_VFCTRL_SIZE))
		return 0;
	g = &s->hwv->g[gid];
	s->budget = AMDVI_SYNC_BUDGET;
	s->scanned = false;
	sh = (unsigned int)(off & 7) * 8;
	mask = size == 8 ? ~0ull : 0xffffffffull << sh;
	old = g->vfctrl[off / 8];
	q = (old & ~mask) | ((val << sh) & mask);
	switch (off & ~7ull) {
	case VIOMMU_AMDVI_VFCTRL_DID_MAP_CONTROL0: {
		/* Install (or remove) one DeviceID map entry in the private space. */
		uint64_t e[2] = { vi_le64(q & (VIOMMU_AMDVI_DID_MAP_V |
					       VIOMMU_AMDVI_DID_MAP_HOST_SET(0xffff) |
					       VIOMMU_AMDVI_DID_MAP_GUEST_SET(0xffff))),
				  0 };
		uint64_t pa = VIOMMU_AMDVI_PRIV_DEVID_MAP +
			      (uint64_t)gid * VIOMMU_AMDVI_PRIV_DEVID_MAP_SIZE +
			      VIOMMU_AMDVI_DID_MAP_GUEST_GET(q) * VIOMMU_AMDVI_DEVID_MAP_ENTRY;

		g->vfctrl[0] = q;
		if (vi_amdvi_priv_rw(s, pa, e, sizeof(e), true))
			hw_error(s, gid, VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR, pa);
		return 0;
	}
	case VIOMMU_AMDVI_VFCTRL_MISC_CONTROL:
		misc_write(s, gid, old, q);
		return 0;
	case VIOMMU_AMDVI_VFCTRL_CMD_CONTROL:
	case VIOMMU_AMDVI_VFCTRL_EVT_CONTROL:
	case VIOMMU_AMDVI_VFCTRL_PPR_CONTROL:
		g->vfctrl[off / 8] = q & (VIOMMU_AMDVI_BUF_BASE_MASK | VIOMMU_AMDVI_BUF_LEN_MASK);
		return 0;
	default:
		g->vfctrl[off / 8] = q;
		return 0;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Host commands                                                                               */
/* ------------------------------------------------------------------------------------------ */

void vi_amdvi_hwv_reset_vmmio(struct amdvi *s, uint32_t gid, bool vcmd)
{
	struct amdvi_hwv_guest *g = &s->hwv->g[gid];
	uint64_t misc = g->vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8], status = 0;

	g->st.resets++;
	if (!vcmd || area_rd(s, gid, VIOMMU_AMDVI_VF_STATUS, &status) == 0) {
		status &= vcmd ? ~VIOMMU_AMDVI_STATUS_CMD_BUF_RUN : 0;
		if (misc & VIOMMU_AMDVI_MISC_CMD_BUF_EN)
			status |= VIOMMU_AMDVI_STATUS_CMD_BUF_RUN;
		if (!vcmd && (misc & VIOMMU_AMDVI_MISC_EVENT_LOG_EN))
			status |= VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN;
		if (!vcmd && (misc & VIOMMU_AMDVI_MISC_PPR_LOG_EN))
			status |= VIOMMU_AMDVI_STATUS_PPR_LOG_RUN;
	}
	for (uint64_t off = 0; off < VIOMMU_AMDVI_VF_REG_END; off += 8) {
		if (vcmd && off != VIOMMU_AMDVI_VF_CMD_BUF_HEAD &&
		    off != VIOMMU_AMDVI_VF_CMD_BUF_TAIL)
			continue;
		if (area_wr(s, gid, off, off == VIOMMU_AMDVI_VF_STATUS ? status : 0))
			return;
	}
	if (vcmd)
		area_wr(s, gid, VIOMMU_AMDVI_VF_STATUS, status);
	dirty_set(s, gid, false);
}

int vi_amdvi_hwv_cmd(struct amdvi *s, const uint32_t c[4], uint64_t *err)
{
	uint32_t op = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_GET(c[1]);

	if (op == VIOMMU_AMDVI_CMD_INSERT_GUEST_EVENT) {
		uint32_t gid = c[1] & (uint32_t)VIOMMU_AMDVI_IGE1_GUEST_ID_MASK, e[4];
		uint64_t at = (s->evt_base & VIOMMU_AMDVI_BUF_BASE_MASK) + s->evt_head;

		if (c[0] || (c[1] & VIOMMU_AMDVI_IGE1_RSVD) || c[2] || c[3] ||
		    !vi_amdvi_hwv_gid_ok(s, gid))
			return AMDVI_CMD_ILLEGAL;
		if (vi_read(&s->v.host, at, e, sizeof(e))) {
			*err = at;
			return AMDVI_CMD_HW_ERROR;
		}
		for (int i = 0; i < 4; i++)
			e[i] = vi_le32(e[i]);
		s->hwv->g[gid].st.inserted++;
		vi_amdvi_hwv_guest_event(s, gid, e);
		return AMDVI_CMD_OK;
	}
	{
		uint32_t gid = c[0] & (uint32_t)VIOMMU_AMDVI_RVM0_GUEST_ID_MASK;
		bool vcmd = (c[0] & VIOMMU_AMDVI_RVM0_VCMD) != 0;

		if ((c[0] & VIOMMU_AMDVI_RVM0_RSVD) || (c[1] & VIOMMU_AMDVI_CMD_RSVD1) || c[2] ||
		    c[3])
			return AMDVI_CMD_ILLEGAL;
		if (c[0] & VIOMMU_AMDVI_RVM0_ALL) {
			for (uint32_t i = 1; i < VIOMMU_AMDVI_HWV_GUESTS; i++)
				if (vi_amdvi_hwv_gid_ok(s, i))
					vi_amdvi_hwv_reset_vmmio(s, i, vcmd);
			return AMDVI_CMD_OK;
		}
		if (!vi_amdvi_hwv_gid_ok(s, gid))
			return AMDVI_CMD_ILLEGAL;
		vi_amdvi_hwv_reset_vmmio(s, gid, vcmd);
		return AMDVI_CMD_OK;
	}
}

int viommu_amdvi_hwv_get_stats(const struct viommu *v, uint32_t gid,
			       struct viommu_amdvi_hwv_stats *st)
{
	struct amdvi *s = hwv_of((struct viommu *)v);

	if (!s || !st || gid >= VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_EINVAL;
	*st = s->hwv->g[gid].st;
	return 0;
}
