// SPDX-License-Identifier: MIT
/*
 * AMD-Vi translation of untranslated requests (2.2): device table entry (2.2.2), v1 host page
 * tables (2.2.3) through the pt walker, a DTE cache and the core IOTLB in front, and the event
 * log (2.5) for requests that are blocked.
 */
#include <viommu/pt.h>

#include "amdvi_internal.h"
#include "core/iotlb_fast.h"
#include "pt/pt_walker.h"

/* ------------------------------------------------------------------------------------------ */
/* Event log (2.5, 3.4.3, 3.4.10)                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * Append one 16-byte entry to a log (the event log or the PPR log: 3.4.3, 3.4.8, 3.4.10): 0, or
 * VIOMMU_EPERM (not running), VIOMMU_ENOSPC (full: overflow), VIOMMU_EFAULT (outside memory).
 */
int vi_amdvi_log_append(struct amdvi *s, const struct amdvi_log *l, const uint32_t e[4])
{
	uint64_t code = VIOMMU_AMDVI_BUF_LEN_GET(*l->base), n, head, tail, gpa;
	uint32_t le[4];

	if (!(s->status & l->run) || code < VIOMMU_AMDVI_BUF_LEN_MIN)
		return VIOMMU_EPERM;
	n = 1ull << code;
	head = *l->head >> 4;
	tail = *l->tail >> 4;
	/*
	 * Full when the tail would reach the head. A head or tail past the log (software wrote one)
	 * leaves no room either: both stop logging with the overflow bit, which software clears and
	 * then restarts the log, as after a real overflow.
	 */
	if (head >= n || tail >= n || (tail + 1) % n == head) {
		s->status &= ~l->run;
		vi_amdvi_raise(s, l->overflow, l->int_en);
		return VIOMMU_ENOSPC;
	}
	gpa = (*l->base & VIOMMU_AMDVI_BUF_BASE_MASK) + tail * 16;
	for (int i = 0; i < 4; i++)
		le[i] = vi_le32(e[i]);
	if (vi_write(&s->v.host, gpa, le, sizeof(le))) {
		vi_log(&s->v.host, VIOMMU_LOG_WARN, "amdvi: log entry outside memory");
		return VIOMMU_EFAULT;
	}
	/* The entry is in memory before the tail moves past it (Linux reads up to the tail). */
	*l->tail = ((tail + 1) % n) << 4;
	vi_amdvi_raise(s, l->intr, l->int_en);
	return 0;
}

uint32_t vi_amdvi_log_event(struct amdvi *s, const uint32_t ev[4])
{
	const struct amdvi_log l = { &s->evt_base,
				     &s->evt_head,
				     &s->evt_tail,
				     VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN,
				     VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW,
				     VIOMMU_AMDVI_STATUS_EVENT_LOG_INT,
				     VIOMMU_AMDVI_CTRL_EVENT_INT_EN };

	if (vi_amdvi_log_append(s, &l, ev)) {
		s->st.events_lost++;
		return VIOMMU_FAULT_F_LOST;
	}
	s->st.events_logged++;
	return VIOMMU_FAULT_F_RECORDED;
}

/* ------------------------------------------------------------------------------------------ */
/* Device table (2.2.2) and the DTE cache                                                      */
/* ------------------------------------------------------------------------------------------ */

static uint64_t above_pa(const struct amdvi *s)
{
	return VIOMMU_AMDVI_GENMASK(63, s->cfg.pa_bits);
}

/* Decode and check a DTE; 0 or the event code. */
static uint32_t dte_decode(const struct amdvi *s, const uint64_t q[4], struct amdvi_dte *d)
{
	const bool gt = (s->efr & VIOMMU_AMDVI_EFR_GT_SUP) != 0;
	/* Features not advertised make their fields reserved: GT, PPR, HA/HD, SNP attributes. */
	uint64_t rsvd0 = VIOMMU_AMDVI_DTE0_RSVD_6_2 | VIOMMU_AMDVI_DTE0_HAD_MASK |
			 VIOMMU_AMDVI_DTE0_RSVD_63;
	uint64_t rsvd1 = VIOMMU_AMDVI_DTE1_RSVD_42;
	uint64_t rsvd3 = VIOMMU_AMDVI_DTE3_RSVD_53_0;
	uint64_t rsvd2 = VIOMMU_AMDVI_DTE2_RSVD_55_52 | VIOMMU_AMDVI_DTE2_RSVD_59;
	uint32_t mode;

	memset(d, 0, sizeof(*d));
	d->kind = AMDVI_DTE_PASS;
	/* V = 0: nothing else in the entry counts; requests pass untranslated. */
	if (!(q[0] & VIOMMU_AMDVI_DTE0_V))
		return 0;
	d->valid = true;
	if (!gt) {
		rsvd0 |= VIOMMU_AMDVI_DTE0_GIOV | VIOMMU_AMDVI_DTE0_GV |
			 VIOMMU_AMDVI_DTE0_GLX_MASK | VIOMMU_AMDVI_DTE0_GCR3_A_MASK;
		rsvd1 |= VIOMMU_AMDVI_DTE1_GCR3_B_MASK | VIOMMU_AMDVI_DTE1_GCR3_C_MASK;
	}
	if (!(s->cfg.flags & VIOMMU_AMDVI_IOTLB))
		rsvd1 |= VIOMMU_AMDVI_DTE1_I;
	/* DTE.PPR only says whether requests are logged (2.6); page requests need PPRSup. */
	if (!(s->efr & VIOMMU_AMDVI_EFR_PPR_SUP))
		rsvd0 |= VIOMMU_AMDVI_DTE0_PPR | VIOMMU_AMDVI_DTE0_GRPR;
	if (s->hwv)
		rsvd3 &= ~VIOMMU_AMDVI_DTE3_VIOMMU_MASK;
	/* 2.2.2 GuestPagingMode: 01b (5 levels) only where EFR GATS offers 5; 1xb reserved. */
	if (gt && s->cfg.gats_levels == 5)
		rsvd2 &= ~VIOMMU_AMDVI_DTE2_GPM_MASK;
	if ((q[0] & rsvd0) || (q[1] & rsvd1) || (q[2] & rsvd2) || (q[3] & rsvd3) ||
	    VIOMMU_AMDVI_DTE2_GPM_GET(q[2]) > VIOMMU_AMDVI_GPM_5_LEVEL)
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	/* vImuEn counts while the vIOMMU is enabled and names a guest the hardware has. */
	if (s->hwv && (q[3] & VIOMMU_AMDVI_DTE3_VIMU_EN) &&
	    (s->control & VIOMMU_AMDVI_CTRL_VIOMMU_EN)) {
		d->gid = (uint16_t)VIOMMU_AMDVI_DTE3_GUEST_ID_GET(q[3]);
		d->gdevid = (uint16_t)VIOMMU_AMDVI_DTE3_GDEVICE_ID_GET(q[3]);
		d->vimu = vi_amdvi_hwv_gid_ok(s, d->gid);
	}
	if ((q[1] & VIOMMU_AMDVI_DTE1_IOCTL_MASK) == VIOMMU_AMDVI_DTE1_IOCTL_MASK)
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	/* Interrupt fields: validated, not used (no interrupt remapping). */
	if ((q[2] & VIOMMU_AMDVI_DTE2_IV) &&
	    (VIOMMU_AMDVI_DTE2_INT_TAB_LEN_GET(q[2]) > VIOMMU_AMDVI_INT_TAB_LEN_MAX ||
	     VIOMMU_AMDVI_DTE2_INT_CTL_GET(q[2]) == 3 ||
	     ((q[2] & VIOMMU_AMDVI_DTE2_INT_TAB_ROOT_MASK) & above_pa(s))))
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	d->ats = (q[1] & VIOMMU_AMDVI_DTE1_I) != 0;
	d->ppr = (q[0] & VIOMMU_AMDVI_DTE0_PPR) != 0;
	d->sa = (q[1] & VIOMMU_AMDVI_DTE1_SA) != 0;
	d->se = (q[1] & VIOMMU_AMDVI_DTE1_SE) != 0;
	d->ex = (q[1] & VIOMMU_AMDVI_DTE1_EX) != 0;
	d->domid = (uint32_t)VIOMMU_AMDVI_DTE1_DOMAIN_ID_GET(q[1]);
	/* TV = 0: no translation information; requests pass untranslated. */
	if (!(q[0] & VIOMMU_AMDVI_DTE0_TV))
		return 0;
	mode = (uint32_t)VIOMMU_AMDVI_DTE0_MODE_GET(q[0]);
	d->perm = (uint8_t)(((q[0] & VIOMMU_AMDVI_DTE0_IR) ? VIOMMU_ACC_READ : 0) |
			    ((q[0] & VIOMMU_AMDVI_DTE0_IW) ? VIOMMU_ACC_WRITE : 0));
	if (q[0] & VIOMMU_AMDVI_DTE0_GV) {
		d->glx = (uint8_t)VIOMMU_AMDVI_DTE0_GLX_GET(q[0]);
		d->gcr3 = (q[0] & VIOMMU_AMDVI_DTE0_GCR3_A_MASK) >> VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT
									    << 12 |
			  (q[1] & VIOMMU_AMDVI_DTE1_GCR3_B_MASK) >> VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT
									    << 15 |
			  (q[1] & VIOMMU_AMDVI_DTE1_GCR3_C_MASK) >> VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT
									    << 31;
		if (d->glx > AMDVI_GLX_SUP || (d->gcr3 & above_pa(s)))
			return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
		d->gcr3_key = d->gcr3 | (uint64_t)d->glx << 1;
		d->glevels = VIOMMU_AMDVI_DTE2_GPM_GET(q[2]) == VIOMMU_AMDVI_GPM_5_LEVEL ? 5 : 4;
		/* GV counts only while the guest translation is enabled (control GTEn). */
		d->gv = (s->control & VIOMMU_AMDVI_CTRL_GT_EN) != 0;
		d->giov = d->gv && (q[0] & VIOMMU_AMDVI_DTE0_GIOV);
	}
	if (mode == 0) {
		d->kind = AMDVI_DTE_MODE0;
		return 0;
	}
	/* Mode 7 is reserved; deeper tables than HATS advertises are not supported. */
	if (mode > s->cfg.hats_levels)
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	d->v1.root = q[0] & VIOMMU_AMDVI_DTE0_PT_ROOT_MASK;
	if (d->v1.root & above_pa(s))
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	d->kind = AMDVI_DTE_PAGED;
	d->v1.format = VIOMMU_PT_AMD_V1;
	d->v1.levels = (uint8_t)mode;
	d->v1.oas = (uint8_t)s->cfg.pa_bits;
	d->gcr3_key |= 1; /* the GCR3 table through v1 */
	return 0;
}

static uint32_t dte_fetch(struct amdvi *s, uint32_t devid, struct amdvi_dte *d, uint64_t *addr)
{
	uint64_t size = (VIOMMU_AMDVI_DEV_TABLE_SIZE_GET(s->devtab) + 1) * 4096;
	uint64_t off = (uint64_t)devid * VIOMMU_AMDVI_DTE_SIZE;
	uint64_t q[4];

	*addr = (s->devtab & VIOMMU_AMDVI_DEV_TABLE_BASE_MASK) + off;
	/* A DeviceID beyond the table's size has no valid entry. */
	if (off >= size)
		return VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY;
	if (vi_read(&s->v.host, *addr, q, sizeof(q)))
		return VIOMMU_AMDVI_EV_DEV_TAB_HARDWARE_ERROR;
	for (int i = 0; i < 4; i++)
		q[i] = vi_le64(q[i]);
	return dte_decode(s, q, d);
}

uint32_t vi_amdvi_dte_get(struct amdvi *s, uint32_t devid, struct amdvi_dte *d, uint64_t *addr)
{
	struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];
	uint32_t code;

	*addr = 0;
	if (slot->gen == s->dte_gen && slot->devid == devid) {
		s->st.dte_hits++;
		*d = slot->dte;
		return 0;
	}
	s->st.dte_misses++;
	code = dte_fetch(s, devid, d, addr);
	if (code)
		return code;
	/* Valid decodes only: a bad entry is read (and logged) again at each request. */
	s->seen[devid / 64] |= 1ull << (devid % 64);
	slot->gen = s->dte_gen;
	slot->devid = devid;
	slot->faulted = false;
	slot->dte = *d;
	return 0;
}

static void dte_set_iotlb_ref(struct amdvi *s, uint32_t devid, uint32_t domid, uint64_t ref)
{
	struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];

	if (slot->gen == s->dte_gen && slot->devid == devid && slot->dte.domid == domid)
		slot->dte.iotlb_ref = ref;
}

/* Keep GCR3 entry 0 of a GIoV DTE in its cache slot (see amdvi_dte.v2_root). */
static void dte_set_v2_root(struct amdvi *s, uint32_t devid, const struct amdvi_dte *d,
			    uint64_t root, uint32_t dgen)
{
	struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];

	if (slot->gen == s->dte_gen && slot->devid == devid && slot->dte.domid == d->domid &&
	    slot->dte.gcr3_key == d->gcr3_key) {
		slot->dte.v2_root = root;
		slot->dte.v2_dgen = dgen;
		slot->dte.v2_live = true;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The GCR3 cache (see struct amdvi_gcr3_slot)                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * What the cache keeps of a GCR3 entry is dropped (and read again on the next miss) by:
 * - INVALIDATE_DEVTAB_ENTRY (2.4.2) of the device: its DTE may name another table or domain;
 * - INVALIDATE_IOMMU_PAGES (2.4.3) of the domain (the DTE's DomainID), whatever GN, PASID and
 *   range it names: with GN = 1 it is the PASID's invalidation, which Linux sends after writing
 *   a GCR3 entry (update_gcr3(): GN = 1 for that PASID; some 6.x stables named PASID 0 instead),
 *   and with GN = 0 the v1 table under a nested entry may have changed the memory its read went
 *   to; one domain generation, not a PASID match, covers both and any driver's choice of PASID;
 * - INVALIDATE_IOMMU_ALL (2.4.8), and whatever drops every cached DTE (a new device table,
 *   GTEn or the IOMMU turned on or off).
 * A slot keeps its IOTLB ref meanwhile: refs go stale by themselves.
 */

/* @pasid has 20 bits at most (v2_translate() takes no other). */
static inline uint64_t amdvi_gcr3_id(uint32_t devid, uint32_t pasid, uint32_t domid)
{
	return (uint64_t)pasid << 32 | (uint64_t)(domid & 0xffff) << 16 | devid | 1ull << 63;
}

static inline struct amdvi_gcr3_slot *gcr3_slot(struct amdvi *s, uint32_t devid, uint32_t pasid)
{
	return &s->gcr3_cache[((devid ^ pasid * 0x9e3779b1u) * 0x85ebca6bu) >> 24 &
			      (AMDVI_GCR3_SLOTS - 1)];
}

/* The IOTLB tag of a v2 translation of @pasid for @devid under @d. */
#define V2_TAG(d, pasid, devid)     \
	((struct viommu_iotlb_tag){ \
		.dom = (d)->domid, .pasid = AMDVI_V2_TAG | ((pasid)&0xfffff), .sid = (devid) })

static inline bool gcr3_live(const struct amdvi *s, const struct amdvi_gcr3_slot *g, uint64_t id,
			     const struct amdvi_dte *d)
{
	return g->id == id && g->live && g->table == d->gcr3_key &&
	       g->dgen == s->gcr3_dgen[d->domid % AMDVI_GCR3_DOMS];
}

void vi_amdvi_gcr3_inval_dom(struct amdvi *s, uint32_t domid)
{
	if (++s->gcr3_dgen[domid % AMDVI_GCR3_DOMS] == 0) {
		/* A generation wrapped: no old one may come back to life. */
		for (size_t i = 0; i < AMDVI_GCR3_SLOTS; i++)
			s->gcr3_cache[i].live = false;
	}
}

static void gcr3_inval_dev(struct amdvi *s, uint32_t devid)
{
	for (size_t i = 0; i < AMDVI_GCR3_SLOTS; i++)
		if ((s->gcr3_cache[i].id & 0xffff) == devid)
			s->gcr3_cache[i].live = false;
}

void vi_amdvi_dte_inval_all(struct amdvi *s)
{
	vi_amdvi_hwv_flushed(s, UINT32_MAX);
	for (size_t i = 0; i < AMDVI_GCR3_SLOTS; i++)
		s->gcr3_cache[i].live = false;
	if (++s->dte_gen == 0) {
		memset(s->dte_cache, 0, AMDVI_DTE_CACHE_SIZE * sizeof(*s->dte_cache));
		s->dte_gen = 1;
	}
}

void vi_amdvi_dte_inval(struct amdvi *s, uint32_t devid)
{
	if (devid == s->cfg.iommu_devid)
		vi_amdvi_hwv_flushed(s, UINT32_MAX);
	struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];

	if (slot->devid == devid)
		slot->gen = 0;
	gcr3_inval_dev(s, devid);
}

/* ------------------------------------------------------------------------------------------ */
/* v1 walk (2.2.3, through the pt formats)                                                     */
/* ------------------------------------------------------------------------------------------ */

/* The address of the entry at @level a walk of @iova reads (for PAGE_TAB_HARDWARE_ERROR). */
static uint64_t entry_addr(struct amdvi *s, const struct amdvi_dte *d, uint64_t iova,
			   uint32_t level)
{
	uint64_t table = d->v1.root, addr = d->v1.root, pte;
	uint32_t lvl = d->v1.levels;

	for (int i = 0; i < VIOMMU_PT_MAX_LEVELS && lvl >= 1; i++) {
		uint32_t nl;

		addr = table + ((iova >> (12 + 9 * (lvl - 1))) & 511) * 8;
		if (lvl <= level || vi_read64(&s->v.host, addr, &pte))
			return addr;
		nl = (uint32_t)VIOMMU_AMDVI_PTE_NEXT_LEVEL_GET(pte);
		if (!(pte & VIOMMU_AMDVI_PTE_PR) || nl == 0 || nl == 7 || nl >= lvl)
			return addr;
		table = pte & VIOMMU_AMDVI_PTE_ADDR_MASK;
		lvl = nl;
	}
	return addr;
}

/* The outcome of a v1 walk @r that did not translate (see v1_walk()). */
static __attribute__((noinline)) uint32_t v1_fault(struct amdvi *s, const struct amdvi_dte *d,
						   uint64_t iova,
						   const struct viommu_pt_walk_result *r,
						   struct amdvi_leaf *leaf, uint32_t *level,
						   uint32_t *flags, uint64_t *addr)
{
	*level = r->level;
	*flags = 0;
	*addr = iova;
	switch (r->detail) {
	case VIOMMU_PT_D_NOT_PRESENT:
	case VIOMMU_PT_D_INPUT_RANGE:
		/* Nothing translates: PR = 0, and the access type decides nothing. */
		leaf->perm = 0;
		leaf->shift = 12;
		leaf->iova = iova & ~0xfffull;
		leaf->out = 0;
		return 0;
	case VIOMMU_PT_D_READ_FAILED:
	case VIOMMU_PT_D_WRITE_FAILED:
		*addr = entry_addr(s, d, iova, r->level);
		return VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
	default:
		/* Reserved bits, a next level not below, skipped bits set, a bad encoded size. */
		*flags = VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_RZ;
		return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
	}
}

/*
 * The v1 walk of @iova in @d's table: 0 with @leaf (perm 0: not present), or the event code with
 * *@flags and *@addr for the event. Inline for the translation's miss path (vi_amdvi_walk() for
 * the others).
 */
static inline uint32_t v1_walk(struct amdvi *s, const struct amdvi_dte *d, uint64_t iova,
			       struct amdvi_leaf *leaf, uint32_t *level, uint32_t *flags,
			       uint64_t *addr)
{
	struct viommu_pt_walk_result r;

	s->st.page_walks++;
	if (vi_pt_walker_walk(s->walker, &d->v1, iova, 0, &r)) {
		*level = 0;
		*flags = 0;
		*addr = d->v1.root;
		return VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
	}
	if (__builtin_expect(r.fault == VIOMMU_FAULT_NONE, 1)) {
		*level = r.level;
		leaf->shift = r.page_shift;
		leaf->iova = iova & ~((1ull << r.page_shift) - 1);
		leaf->out = r.out & ~((1ull << r.page_shift) - 1);
		leaf->perm = r.perm & d->perm & VIOMMU_ACC_RW;
		return 0;
	}
	return v1_fault(s, d, iova, &r, leaf, level, flags, addr);
}

uint32_t vi_amdvi_walk(struct amdvi *s, const struct amdvi_dte *d, uint64_t iova,
		       struct amdvi_leaf *leaf, uint32_t *level, uint32_t *flags, uint64_t *addr)
{
	*flags = 0;
	*addr = iova;
	return v1_walk(s, d, iova, leaf, level, flags, addr);
}

/* ------------------------------------------------------------------------------------------ */
/* Nested walks: guest table accesses through the v1 table                                     */
/* ------------------------------------------------------------------------------------------ */

/* Through @d's v1 table, one v1 page at a time, then the real host ops; s->nest_fault: why not. */
int vi_amdvi_v1_rw(struct amdvi *s, const struct amdvi_dte *d, uint64_t addr, void *buf, size_t len,
		   bool write)
{
	size_t done = 0;

	while (done < len) {
		struct amdvi_leaf l;
		uint32_t level, flags, code;
		uint64_t a, x = addr + done, room, n;

		code = vi_amdvi_walk(s, d, x, &l, &level, &flags, &a);
		if (code || !l.perm || !(l.perm & (write ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ))) {
			s->nest_fault = code ? code : VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
			return code == VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR ? VIOMMU_EFAULT :
										 VIOMMU_ENOENT;
		}
		room = (1ull << l.shift) - (x - l.iova);
		n = len - done < room ? len - done : room;
		if (write ? vi_write(&s->v.host, l.out + (x - l.iova), (const uint8_t *)buf + done,
				     n) :
			    vi_read(&s->v.host, l.out + (x - l.iova), (uint8_t *)buf + done, n))
			return VIOMMU_EFAULT;
		done += n;
	}
	return 0;
}

/*
 * Host ops of the nested walker: a guest-physical range is translated through the v1 table of
 * s->nest_dte, one v1 page at a time, then read or written through the real host ops. A range
 * the v1 table does not map with the rights needed fails the access (the walk reports it), and
 * s->nest_fault says why.
 */
static ssize_t nest_rw(struct amdvi *s, uint64_t gpa, void *buf, size_t len, bool write)
{
	return vi_amdvi_v1_rw(s, &s->nest_dte, gpa, buf, len, write) ? VIOMMU_EFAULT : (ssize_t)len;
}

/*
 * A table entry (8 aligned bytes, so within one v1 page): one v1 walk, then a load through the
 * host's span, as the v1 walk loads its own entries (s->gm's spans end with the v2 walk).
 */
static ssize_t nest_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct amdvi *s = opaque;
	struct amdvi_leaf l;
	uint32_t level, flags, code;
	uint64_t a, v;

	if (len != 8 || (gpa & 7))
		return nest_rw(s, gpa, buf, len, false);
	code = vi_amdvi_walk(s, &s->nest_dte, gpa, &l, &level, &flags, &a);
	if (code || !(l.perm & VIOMMU_ACC_READ)) {
		s->nest_fault = code ? code : VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		return VIOMMU_EFAULT;
	}
	if (vi_dm_read64(&s->gm, l.out + (gpa - l.iova), &v))
		return VIOMMU_EFAULT;
	v = vi_le64(v); /* back to the guest's byte order, as a read returns it */
	memcpy(buf, &v, sizeof(v));
	return 8;
}

static ssize_t nest_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	return nest_rw(opaque, gpa, (void *)buf, len, true);
}

const struct viommu_host_ops vi_amdvi_nest_ops = { .dma_read = nest_read, .dma_write = nest_write };

/* A guest-physical 64-bit read for @d: through v1 when nested, else direct. */
static int g_read64(struct amdvi *s, const struct amdvi_dte *d, uint64_t gpa, uint64_t *v)
{
	if (d->kind != AMDVI_DTE_PAGED)
		return vi_read64(&s->v.host, gpa, v);
	s->nest_dte = *d;
	if (nest_read(s, gpa, v, 8) != 8)
		return VIOMMU_EFAULT;
	*v = vi_le64(*v);
	return 0;
}

/*
 * The GCR3 table entry of @pasid (2.2.6): 0 with the guest table root in *@root, or the event
 * code with *flags and *addr for it. Clears s->v2_host_stage, sets it when the v1 table under
 * the GCR3 table, or memory, failed.
 */
static uint32_t gcr3_entry(struct amdvi *s, const struct amdvi_dte *d, uint32_t pasid,
			   uint64_t *root, uint32_t *flags, uint64_t *addr)
{
	uint64_t table = d->gcr3, e = 0;

	s->v2_host_stage = false;
	if (pasid >> (9 * (d->glx + 1)) || pasid >> (AMDVI_PASMAX + 1))
		return VIOMMU_AMDVI_EV_IO_PAGE_FAULT; /* beyond the GCR3 table: not present */
	for (int lvl = d->glx; lvl >= 0; lvl--) {
		uint64_t at = table + ((pasid >> (9 * lvl)) & 0x1ff) * 8;

		s->nest_fault = 0;
		if (g_read64(s, d, at, &e)) {
			s->v2_host_stage = true; /* the v1 table, or memory, failed */
			if (s->nest_fault)
				return VIOMMU_AMDVI_EV_IO_PAGE_FAULT; /* v1 does not map the table */
			*addr = at;
			*flags = 0;
			return VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
		}
		if (!(e & VIOMMU_AMDVI_GCR3_GV))
			return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		if (e &
		    (VIOMMU_AMDVI_GENMASK(11, 1) | VIOMMU_AMDVI_GENMASK(63, 52) | above_pa(s))) {
			*flags |= VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_RZ;
			return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		}
		table = e & VIOMMU_AMDVI_GCR3_ADDR_MASK;
	}
	*root = table;
	return 0;
}

/*
 * The guest's 4- or 5-level x86-64 table at @root (2.2.7), then (nested) the v1 table for the
 * output: as vi_amdvi_v2_walk() after the GCR3 entry. The walk of the guest's table at @root:
 * the walker's return, with @r.
 */
static inline int v2_walk_guest(struct amdvi *s, const struct amdvi_dte *d, bool paged,
				uint64_t root, uint64_t iova, uint32_t access,
				struct viommu_pt_walk_result *r)
{
	struct viommu_pt_cfg *pc = &s->v2_pc[d->glevels == 5];

	s->st.page_walks++;
	s->nest_fault = 0;
	pc->root = root;
	if (paged) {
		s->nest_dte = *d;
		return vi_pt_walker_walk(s->nwalker, pc, iova, access, r);
	}
	return vi_pt_walker_walk(s->walker, pc, iova, access, r);
}

/* What a guest walk that returned @ret with @r gives: as v2_walk_root(). */
static inline uint32_t v2_walk_result(struct amdvi *s, const struct amdvi_dte *d, int ret,
				      const struct viommu_pt_walk_result *rp, uint64_t iova,
				      struct amdvi_leaf *leaf, uint32_t *span, uint32_t *flags)
{
	const struct viommu_pt_walk_result *const r = rp;

	if (ret) {
		s->v2_host_stage = true;
		return VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
	}
	/* The guest entry that stopped the walk, at level r->level, blocks its whole span. */
	*span = r->level >= 1 && r->level <= 5 ? 12 + 9 * (r->level - 1) : 12;
	if (r->fault != VIOMMU_FAULT_NONE) {
		switch (r->detail) {
		case VIOMMU_PT_D_NOT_PRESENT:
		case VIOMMU_PT_D_INPUT_RANGE:
		case VIOMMU_PT_D_NONCANONICAL:
			return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		case VIOMMU_PT_D_PERM_READ:
		case VIOMMU_PT_D_PERM_WRITE:
		case VIOMMU_PT_D_PERM_EXEC:
		case VIOMMU_PT_D_PERM_USER:
			*flags |= VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE;
			return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		case VIOMMU_PT_D_READ_FAILED:
		case VIOMMU_PT_D_WRITE_FAILED:
			s->v2_host_stage = true;
			if (s->nest_fault)
				return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
			*flags = 0;
			return VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR;
		default:
			*flags |= VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_RZ;
			return VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		}
	}
	leaf->shift = r->page_shift;
	leaf->iova = iova & ~((1ull << r->page_shift) - 1);
	leaf->out = r->out & ~((1ull << r->page_shift) - 1);
	leaf->perm = r->perm & d->perm & VIOMMU_ACC_RW;
	if (d->kind == AMDVI_DTE_PAGED) {
		/* Nested: the guest-physical output through v1, with the request's rights. */
		struct amdvi_leaf h;
		uint32_t level, hflags, code;
		uint64_t haddr, gpa = r->out;

		code = vi_amdvi_walk(s, d, gpa, &h, &level, &hflags, &haddr);
		*span = 12; /* the output's v1 hole: of its own size, unknown here */
		if (code || !h.perm) {
			s->v2_host_stage = true;
			leaf->perm = 0;
			return code ? code : VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
		}
		if (h.shift < leaf->shift) {
			leaf->shift = h.shift;
			leaf->iova = iova & ~((1ull << h.shift) - 1);
		}
		leaf->out = (h.out + (gpa - h.iova)) & ~((1ull << leaf->shift) - 1);
		leaf->perm &= h.perm;
	}
	return 0;
}

static inline uint32_t v2_walk_root(struct amdvi *s, const struct amdvi_dte *d, uint64_t root,
				    uint64_t iova, uint32_t access, struct amdvi_leaf *leaf,
				    uint32_t *span, uint32_t *flags)
{
	struct viommu_pt_walk_result r;
	int ret = v2_walk_guest(s, d, d->kind == AMDVI_DTE_PAGED, root, iova, access, &r);

	return v2_walk_result(s, d, ret, &r, iova, leaf, span, flags);
}

/*
 * v2 translation of @iova for @pasid (2.2.6-2.2.7): the GCR3 table, then the guest's 4-level
 * x86-64 table, then (nested) the v1 table for the output. 0 with @leaf, or an event code with
 * *flags and *addr for the event and *span: log2 of the aligned block around @iova that the same
 * failure blocks whole (64: every address; 12 when nothing more is known). The GCR3 entry is
 * read from memory, not the GCR3 cache (prefetches and MAP/UNMAP syncs).
 */
uint32_t vi_amdvi_v2_walk(struct amdvi *s, const struct amdvi_dte *d, uint32_t pasid, uint64_t iova,
			  uint32_t access, struct amdvi_leaf *leaf, uint32_t *span, uint32_t *flags,
			  uint64_t *addr)
{
	uint64_t root = 0;
	uint32_t code;

	*flags = VIOMMU_AMDVI_EV1_GN;
	*addr = iova;
	*span = 64; /* a GCR3 entry fails for every address */
	leaf->perm = 0;
	code = gcr3_entry(s, d, pasid, &root, flags, addr);
	if (!code)
		code = v2_walk_root(s, d, root, iova, access, leaf, span, flags);
	vi_dmem_end_call(&s->gm);
	return code;
}

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int blocked(struct amdvi *s, const struct viommu_xlate_req *req,
		   struct viommu_xlate_result *res, enum viommu_fault_type type, uint32_t code,
		   uint32_t flags, uint64_t addr, uint32_t level, const struct amdvi_dte *d)
{
	uint32_t ev[4];
	uint32_t devid = req->sid & 0xffff;
	bool guest = s->guest_stage && d && d->vimu;
	struct amdvi_dte_slot *slot = NULL;
	bool suppress = false;

	s->guest_stage = false;
	vi_result_fault(res, req, type, code, level);
	s->st.faults++;
	flags |= s->xlate_tr;
	if (code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT && d && d->se) {
		/*
		 * SE (2.2.2): the first page fault is logged, the repeats are not. The mark lives
		 * with the cached entry, so INVALIDATE_DEVTAB_ENTRY (or an eviction) re-arms it.
		 */
		slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];
		if (slot->gen != s->dte_gen || slot->devid != devid)
			slot = NULL;
		else if (slot->faulted)
			suppress = true;
	}
	if (code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT && d && (d->sa || suppress)) {
		s->st.events_suppressed++;
		res->fault.flags = VIOMMU_FAULT_F_SUPPRESSED;
		return 0;
	}
	if (req->access & VIOMMU_ACC_WRITE)
		flags |= VIOMMU_AMDVI_EV1_RW;
	if (req->access & VIOMMU_ACC_EXEC)
		flags |= VIOMMU_AMDVI_EV1_NX;
	ev[0] = devid;
	ev[1] = (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(code);
	switch (code) {
	case VIOMMU_AMDVI_EV_IO_PAGE_FAULT:
	case VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR:
		/* D/P: the PASID (GN = 1) or the domain of the DTE. */
		if (req->has_pasid) {
			flags |= VIOMMU_AMDVI_EV1_GN;
			ev[0] |= (req->pasid & 0xf0000);
			ev[1] |= req->pasid & 0xffff;
		} else if (d) {
			ev[1] |= d->domid;
		}
		break;
	case VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY:
		flags &= VIOMMU_AMDVI_EV1_RW | VIOMMU_AMDVI_EV1_RZ | VIOMMU_AMDVI_EV1_TR;
		if (req->has_pasid) {
			flags |= VIOMMU_AMDVI_EV1_GN;
			ev[0] |= (req->pasid & 0xf0000);
			ev[1] |= req->pasid & 0xffff;
		}
		break;
	default:
		flags &= VIOMMU_AMDVI_EV1_RW | VIOMMU_AMDVI_EV1_TR;
		break;
	}
	if (code == VIOMMU_AMDVI_EV_DEV_TAB_HARDWARE_ERROR ||
	    code == VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR)
		flags |= VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT);
	ev[1] |= flags;
	ev[2] = (uint32_t)addr;
	ev[3] = (uint32_t)(addr >> 32);
	if (guest) {
		/* The guest's own fault, in its log with its IDs (DomainID as its DTE named it). */
		ev[0] = (ev[0] & ~0xffffu) | d->gdevid;
		if (!req->has_pasid && code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT)
			ev[1] = (ev[1] & ~0xffffu) | s->hwv->g[d->gid].gdom[d->gdevid];
		res->fault.record = 0;
		res->fault.flags = vi_amdvi_hwv_guest_event(s, d->gid, ev);
	} else {
		res->fault.record = (uint32_t)(s->evt_tail >> 4);
		res->fault.flags = vi_amdvi_log_event(s, ev);
		if (!(res->fault.flags & VIOMMU_FAULT_F_RECORDED))
			res->fault.record = 0;
	}
	/* Only a fault that reached a log counts as SE's first one (a lost one did not). */
	if (slot && (res->fault.flags & VIOMMU_FAULT_F_RECORDED))
		slot->faulted = true;
	return 0;
}

/*
 * 2.5.9: a request the device may not make at all, refused and logged as INVALID_DEVICE_REQUEST
 * of @type (TR from s->xlate_tr), whatever its DTE's SA says (SA covers page faults only).
 */
static int invalid_request(struct amdvi *s, const struct viommu_xlate_req *req,
			   struct viommu_xlate_result *res, uint32_t type)
{
	uint32_t ev[4];

	vi_result_fault(res, req, VIOMMU_FAULT_BLOCKED, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0);
	s->st.faults++;
	s->st.invalid_dev_requests++;
	ev[0] = req->sid & 0xffff;
	ev[1] = (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST) |
		(uint32_t)VIOMMU_AMDVI_EV1_IDR_TYPE_SET(type) | s->xlate_tr;
	if (req->has_pasid) {
		ev[0] |= req->pasid & 0xf0000;
		ev[1] |= (req->pasid & 0xffff) | VIOMMU_AMDVI_EV1_GN;
		if (!(req->access & VIOMMU_ACC_PRIV))
			ev[1] |= VIOMMU_AMDVI_EV1_IDR_US;
	}
	ev[2] = (uint32_t)req->iova;
	ev[3] = (uint32_t)(req->iova >> 32);
	res->fault.record = (uint32_t)(s->evt_tail >> 4);
	res->fault.flags = vi_amdvi_log_event(s, ev);
	if (!(res->fault.flags & VIOMMU_FAULT_F_RECORDED))
		res->fault.record = 0;
	return 0;
}

static int identity(const struct viommu_xlate_req *req, struct viommu_xlate_result *res,
		    uint64_t len, uint32_t perm)
{
	memset(res, 0, sizeof(*res));
	res->out = req->iova;
	res->len = len;
	res->perm = perm;
	res->page_shift = 12;
	return 0;
}

/*
 * 3.4.5-3.4.6: the exclusion range passes requests untranslated, for every device (Allow) or
 * for those whose DTE sets EX. Returns true with @len clipped to the range when @iova is in it;
 * otherwise clips @len to end before the range.
 */
static bool excluded(const struct amdvi *s, bool ex, uint64_t iova, uint64_t *len)
{
	uint64_t base = s->excl_base & VIOMMU_AMDVI_EXCL_ADDR_MASK;
	uint64_t last = s->excl_limit | 0xfff;

	if (!(s->excl_base & VIOMMU_AMDVI_EXCL_EN) || base > last ||
	    (!ex && !(s->excl_base & VIOMMU_AMDVI_EXCL_ALLOW)))
		return false;
	if (iova >= base && iova <= last) {
		if (*len - 1 > last - iova)
			*len = last - iova + 1;
		return true;
	}
	if (iova < base && *len - 1 >= base - iova)
		*len = base - iova;
	return false;
}

/*
 * The IOTLB ref of a v2 request's tag: a GIoV request without PASID finds it in its DTE (whose
 * v1 ref it never uses), one with PASID in the GCR3 cache slot of (device, PASID). Ref 0 (the
 * slot is another's) is never one: stale, and v2_miss() takes the slot.
 */
static inline uint64_t v2_ref(struct amdvi *s, const struct viommu_xlate_req *req,
			      const struct amdvi_dte *d)
{
	const struct amdvi_gcr3_slot *g;
	uint32_t devid = req->sid & 0xffff;

	if (!req->has_pasid)
		return d->iotlb_ref;
	g = gcr3_slot(s, devid, req->pasid);
	return g->id == amdvi_gcr3_id(devid, req->pasid, d->domid) ? g->iotlb_ref : 0;
}

/*
 * The general end of a v2 miss (v2_miss()): the GCR3 entry (from @g while it holds it, read and
 * cached otherwise), the walk unless @rp brings its outcome @ret, its faults and the insert.
 */
static __attribute__((noinline)) int
v2_miss_full(struct amdvi *s, const struct viommu_xlate_req *req, struct viommu_xlate_result *res,
	     const struct amdvi_dte *d, uint64_t len, uint64_t ref, int ret,
	     const struct viommu_pt_walk_result *rp)
{
	uint32_t pasid = req->has_pasid ? req->pasid : 0, devid = req->sid & 0xffff;
	struct amdvi_gcr3_slot *g = gcr3_slot(s, devid, pasid);
	const uint64_t id = amdvi_gcr3_id(devid, pasid, d->domid);
	const uint32_t dgen = s->gcr3_dgen[d->domid % AMDVI_GCR3_DOMS];
	const uint32_t access = req->access & ~VIOMMU_ACC_EXEC;
	uint32_t flags = VIOMMU_AMDVI_EV1_GN, code = 0, span;
	uint64_t addr = req->iova, root = 0;
	struct amdvi_leaf leaf = { 0 };

	if (rp) {
		s->v2_host_stage = false;
		code = v2_walk_result(s, d, ret, rp, req->iova, &leaf, &span, &flags);
	} else {
		if (!req->has_pasid && d->v2_live && d->v2_dgen == dgen) {
			s->v2_host_stage = false;
			root = d->v2_root;
		} else if (req->has_pasid && gcr3_live(s, g, id, d)) {
			s->v2_host_stage = false;
			root = g->root;
		} else {
			code = gcr3_entry(s, d, pasid, &root, &flags, &addr);
			/* Valid entries only: a bad one is read (and logged) each time. */
			if (!code && !req->has_pasid) {
				dte_set_v2_root(s, devid, d, root, dgen);
			} else if (!code && g->id == id) {
				g->table = d->gcr3_key;
				g->dgen = dgen;
				g->root = root;
				g->live = true;
			}
		}
		if (!code)
			code = v2_walk_root(s, d, root, req->iova, access, &leaf, &span, &flags);
		if (d->kind == AMDVI_DTE_PAGED)
			vi_dmem_end_call(&s->gm); /* the nested reads' spans */
	}
	flags &= ~VIOMMU_AMDVI_EV1_GN; /* blocked() sets it for a request with PASID */
	if (code) {
		enum viommu_fault_type t = VIOMMU_FAULT_NOT_PRESENT;

		if (code != VIOMMU_AMDVI_EV_IO_PAGE_FAULT)
			t = VIOMMU_FAULT_WALK_ABORT;
		else if (flags & VIOMMU_AMDVI_EV1_PE)
			t = VIOMMU_FAULT_PERMISSION;
		else if (flags & VIOMMU_AMDVI_EV1_RZ)
			t = VIOMMU_FAULT_RESERVED;
		/* A GCR3 or guest table fault is the guest's; one in the v1 table the host's. */
		s->guest_stage = !s->v2_host_stage;
		return blocked(s, req, res, t, code, flags, addr, 0, d);
	}
	if (!vi_x86_perm_ok(leaf.perm, req->access))
		return blocked(s, req, res, VIOMMU_FAULT_PERMISSION, VIOMMU_AMDVI_EV_IO_PAGE_FAULT,
			       VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE, req->iova, 0, d);
	/* Under the ref the lookup used; by tag when it has none or it went stale. */
	if (vi_iotlb_insert_leaf_ref(s->iotlb, ref, leaf.iova, leaf.out, leaf.shift, leaf.perm,
				     0) == VIOMMU_ESTALE)
		vi_iotlb_insert_leaf(s->iotlb, &V2_TAG(d, pasid, devid), leaf.iova, leaf.out,
				     leaf.shift, leaf.perm, 0);
	return vi_xlate_ok(res, req->iova, len, leaf.out + (req->iova - leaf.iova), leaf.perm,
			   leaf.shift);
}

/*
 * The rest of a v2 translation after its IOTLB probe by v2_ref(), whose outcome is @ret (as for
 * translate_v1()): the lookup finished (the slot taken for the request,
 * with a new ref, when it was another's or its ref went stale), then on a miss the common case
 * here, a walk of the cached entry's table (no v1 table) that gives a leaf with the rights, and
 * everything else in v2_miss_full().
 */
static __attribute__((noinline)) int v2_miss_rest(struct amdvi *s,
						  const struct viommu_xlate_req *req,
						  struct viommu_xlate_result *res,
						  const struct amdvi_dte *d, uint64_t len, int ret)
{
	uint32_t pasid = req->has_pasid ? req->pasid : 0, devid = req->sid & 0xffff;
	uint64_t ref = d->iotlb_ref, iova = req->iova, mask, root = d->v2_root;
	struct amdvi_gcr3_slot *g = NULL;
	struct viommu_pt_walk_result r;
	struct viommu_iotlb_hit hit;
	uint64_t id = 0;
	uint32_t perm;
	bool live = d->v2_live && d->v2_dgen == s->gcr3_dgen[d->domid % AMDVI_GCR3_DOMS];

	if (req->has_pasid) {
		/* Not the DTE's entry 0: the GCR3 cache slot of (device, PASID). */
		g = gcr3_slot(s, devid, pasid);
		id = amdvi_gcr3_id(devid, pasid, d->domid);
		ref = g->iotlb_ref;
		live = gcr3_live(s, g, id, d);
		root = g->root;
	}
	if (ret == VI_IOTLB_UNDECIDED) {
		ret = vi_iotlb_lookup_ref_rest(s->iotlb, ref, iova, &hit);
	} else if (ret == VIOMMU_ESTALE) {
		ref = 0;
		ret = viommu_iotlb_tag_ref(s->iotlb, &V2_TAG(d, pasid, devid), &ref);
		if (!g) {
			dte_set_iotlb_ref(s, devid, d->domid, ref);
		} else {
			if (g->id != id) {
				g->id = id;
				g->live = false;
				live = false;
			}
			g->iotlb_ref = ref;
		}
		if (ret == 0)
			ret = vi_iotlb_lookup_ref(s->iotlb, ref, iova, &hit);
	} else {
		ret = VIOMMU_ENOENT; /* a miss, or a hit without the rights: walk */
	}
	if (ret == 0 && vi_x86_perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, iova, len, hit.addr, hit.perm, hit.shift);
	if (d->kind == AMDVI_DTE_PAGED || !live)
		return v2_miss_full(s, req, res, d, len, ref, 0, NULL);
	/* Not paged (checked above): no second test of the kind after the stores. */
	ret = v2_walk_guest(s, d, false, root, iova, req->access & ~VIOMMU_ACC_EXEC, &r);
	perm = r.perm & d->perm & VIOMMU_ACC_RW;
	if (__builtin_expect(
		    ret || r.fault != VIOMMU_FAULT_NONE || !vi_x86_perm_ok(perm, req->access), 0))
		return v2_miss_full(s, req, res, d, len, ref, ret, &r);
	mask = (1ull << r.page_shift) - 1;
	if (vi_iotlb_insert_leaf_ref(s->iotlb, ref, iova & ~mask, r.out & ~mask, r.page_shift, perm,
				     0) == VIOMMU_ESTALE)
		vi_iotlb_insert_leaf(s->iotlb, &V2_TAG(d, pasid, devid), iova & ~mask,
				     r.out & ~mask, r.page_shift, perm, 0);
	return vi_xlate_ok(res, iova, len, r.out, perm, r.page_shift);
}

/*
 * The common v2 miss, a definite miss (the probe's VIOMMU_ENOENT) of a GIoV request without
 * PASID whose DTE holds its live GCR3 entry 0 and names no v1 table (v2_miss() checks): what
 * v2_miss_rest() does for it in the same order (the walk, the insert under the DTE's ref, the
 * result), without that function's other cases and the registers they keep.
 */
static __attribute__((noinline)) int v2_miss_giov(struct amdvi *s,
						  const struct viommu_xlate_req *req,
						  struct viommu_xlate_result *res,
						  const struct amdvi_dte *d, uint64_t len)
{
	const uint32_t pasid = 0;	   /* V2_TAG()'s field name is its argument's */
	const uint64_t ref = d->iotlb_ref; /* read before the walk, as v2_miss_rest() does */
	struct viommu_pt_walk_result r;
	uint64_t mask;
	uint32_t perm;
	int ret;

	ret = v2_walk_guest(s, d, false, d->v2_root, req->iova, req->access & ~VIOMMU_ACC_EXEC, &r);
	perm = r.perm & d->perm & VIOMMU_ACC_RW;
	if (__builtin_expect(
		    ret || r.fault != VIOMMU_FAULT_NONE || !vi_x86_perm_ok(perm, req->access), 0))
		return v2_miss_full(s, req, res, d, len, ref, ret, &r);
	mask = (1ull << r.page_shift) - 1;
	if (vi_iotlb_insert_leaf_ref(s->iotlb, ref, req->iova & ~mask, r.out & ~mask, r.page_shift,
				     perm, 0) == VIOMMU_ESTALE)
		vi_iotlb_insert_leaf(s->iotlb, &V2_TAG(d, pasid, req->sid & 0xffff),
				     req->iova & ~mask, r.out & ~mask, r.page_shift, perm, 0);
	return vi_xlate_ok(res, req->iova, len, r.out, perm, r.page_shift);
}

/*
 * A v2 translation's probe missed or did not decide (@ret): v2_miss_giov() or v2_miss_rest().
 * Out of line and calling nothing but in tail position: no registers saved, none in the front end.
 */
static __attribute__((noinline)) int v2_miss(struct amdvi *s, const struct viommu_xlate_req *req,
					     struct viommu_xlate_result *res,
					     const struct amdvi_dte *d, uint64_t len, int ret)
{
	/* The kind first: a nested miss (v2_miss_rest()) pays one test here. */
	if (__builtin_expect(d->kind == AMDVI_DTE_PAGED || req->has_pasid || ret != VIOMMU_ENOENT ||
				     !d->v2_live ||
				     d->v2_dgen != s->gcr3_dgen[d->domid % AMDVI_GCR3_DOMS],
			     0))
		return v2_miss_rest(s, req, res, d, len, ret);
	return v2_miss_giov(s, req, res, d, len);
}

/*
 * Guest (v2) and nested translation, cached in the IOTLB under 1 << 20 | PASID, looked up by the
 * ref the GCR3 cache slot of (device, PASID) keeps. The miss is a tail call: nothing saved here.
 */
static __attribute__((noinline)) int v2_translate(struct amdvi *s,
						  const struct viommu_xlate_req *req,
						  struct viommu_xlate_result *res,
						  const struct amdvi_dte *d, uint64_t len)
{
	struct viommu_iotlb_hit hit;
	int ret;

	/* Past PCIe's 20 bits a PASID names nothing cached: the GCR3 table refuses it. */
	if (__builtin_expect(req->has_pasid && (req->pasid >> 20), 0))
		return v2_miss_full(s, req, res, d, len, 0, VIOMMU_ENOENT, NULL);
	ret = vi_iotlb_probe_ref(s->iotlb, v2_ref(s, req, d), req->iova, &hit);
	if (__builtin_expect(ret == 0 && vi_x86_perm_ok(hit.perm, req->access), 1))
		return vi_xlate_ok(res, req->iova, len, hit.addr, hit.perm, hit.shift);
	return v2_miss(s, req, res, d, len, ret);
}

/*
 * The rest of a translation through @dp's v1 table after its IOTLB probe, whose outcome is @ret
 * (vi_iotlb_probe_ref(), with 0 for a hit without the rights): the lookup finished (a stale ref
 * taken anew), then on a miss the walk, its faults and the insert. translate_v1() first.
 */
static __attribute__((noinline)) int translate_v1_rest(struct amdvi *s,
						       const struct viommu_xlate_req *req,
						       struct viommu_xlate_result *res,
						       const struct amdvi_dte *dp, uint64_t len,
						       int ret)
{
	uint32_t devid = req->sid & 0xffff;
	uint32_t code, flags = 0, level = 0;
	uint64_t addr, ref = dp->iotlb_ref;
	struct viommu_iotlb_hit hit;
	struct amdvi_leaf leaf;

	if (ret == VI_IOTLB_UNDECIDED) {
		ret = vi_iotlb_lookup_ref_rest(s->iotlb, ref, req->iova, &hit);
	} else if (ret == VIOMMU_ESTALE) {
		struct viommu_iotlb_tag tag = { .dom = dp->domid, .sid = devid };

		ret = viommu_iotlb_tag_ref(s->iotlb, &tag, &ref);
		if (ret == 0) {
			dte_set_iotlb_ref(s, devid, dp->domid, ref);
			ret = vi_iotlb_lookup_ref(s->iotlb, ref, req->iova, &hit);
		}
	} else {
		ret = VIOMMU_ENOENT; /* a miss, or a hit without the rights: walk */
	}
	if (ret == 0 && vi_x86_perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, req->iova, len, hit.addr, hit.perm, hit.shift);
	/* A miss, or a hit without the rights: walk the tables as they are now. */
	code = v1_walk(s, dp, req->iova, &leaf, &level, &flags, &addr);
	if (code)
		return blocked(s, req, res,
			       code == VIOMMU_AMDVI_EV_IO_PAGE_FAULT ? VIOMMU_FAULT_RESERVED :
								       VIOMMU_FAULT_WALK_ABORT,
			       code, flags, addr, level, dp);
	if (!leaf.perm)
		return blocked(s, req, res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_AMDVI_EV_IO_PAGE_FAULT,
			       0, req->iova, level, dp);
	if (!vi_x86_perm_ok(leaf.perm, req->access))
		return blocked(s, req, res, VIOMMU_FAULT_PERMISSION, VIOMMU_AMDVI_EV_IO_PAGE_FAULT,
			       VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE, req->iova, level, dp);
	/* Under the ref the lookup used; by tag only if it went stale (ids ran out). */
	if (vi_iotlb_insert_leaf_ref(s->iotlb, ref, leaf.iova, leaf.out, leaf.shift, leaf.perm,
				     level) == VIOMMU_ESTALE)
		vi_iotlb_insert_leaf(s->iotlb,
				     &(struct viommu_iotlb_tag){ .dom = dp->domid, .sid = devid },
				     leaf.iova, leaf.out, leaf.shift, leaf.perm, level);
	return vi_xlate_ok(res, req->iova, len, leaf.out + (req->iova - leaf.iova), leaf.perm,
			   leaf.shift);
}

/*
 * A definite miss (@ret VIOMMU_ENOENT from vi_iotlb_probe_ref(), the miss cursor set) whose leaf
 * the walker's leaf walk finds and grants the access: the walk, the insert at the cursor and the
 * result with nothing in between, what translate_v1_rest() does for it in the same order (the
 * walk counted once, the same entry inserted, the same result). Everything else, the leaf walk
 * giving up included, is translate_v1_rest(). Out of line: the hit path saves no registers for
 * it.
 */
/* A walk's leaf word (struct pt_leaf) is stored in the IOTLB as it is. */
_Static_assert(PT_LEAF_ADDR_MASK == VIOMMU_IOTLB__OUT_ADDR_MASK &&
		       PT_LEAF_PERM_MASK == VIOMMU_IOTLB__OUT_PERM_MASK &&
		       PT_LEAF_LEVEL_SHIFT == VIOMMU_IOTLB__OUT_LEVEL_SHIFT,
	       "leaf word layout");

static __attribute__((noinline)) int translate_v1(struct amdvi *s,
						  const struct viommu_xlate_req *req,
						  struct viommu_xlate_result *res,
						  const struct amdvi_dte *dp, uint64_t len, int ret)
{
	const uint64_t iova = req->iova;
	struct pt_leaf l;
	uint32_t perm;

	if (__builtin_expect(ret != VIOMMU_ENOENT, 0))
		return translate_v1_rest(s, req, res, dp, len, ret);
	l = vi_pt_walker_leaf(s->walker, &dp->v1, iova);
	/* A leaf walk that gave up has no rights either (word 0). */
	perm = (uint32_t)l.word & dp->perm & VIOMMU_ACC_RW;
	if (__builtin_expect(!perm || !vi_x86_perm_ok(perm, req->access), 0))
		return translate_v1_rest(s, req, res, dp, len, ret);
	s->st.page_walks++;
	l.word = (l.word & ~PT_LEAF_PERM_MASK) | perm;
	/* The result first: fewer values live across the insert (the order shows nowhere). */
	vi_xlate_ok(res, iova, len, (l.word & PT_LEAF_ADDR_MASK) | (iova & ((1ull << l.shift) - 1)),
		    perm, l.shift);
	/* Under the ref the lookup used; by tag only if it went stale (ids ran out). */
	if (__builtin_expect(vi_iotlb_insert_word_ref(s->iotlb, dp->iotlb_ref, iova, l.word,
						      l.shift) == VIOMMU_ESTALE,
			     0))
		vi_iotlb_insert_leaf(s->iotlb,
				     &(struct viommu_iotlb_tag){ .dom = dp->domid,
								 .sid = req->sid & 0xffff },
				     iova, l.word & PT_LEAF_ADDR_MASK, l.shift, perm,
				     (uint32_t)(l.word >> PT_LEAF_LEVEL_SHIFT) & 0xff);
	return 0;
}

/* Every translation vi_amdvi_translate() does not answer inline. */
static __attribute__((noinline)) int
translate_full(struct amdvi *s, const struct viommu_xlate_req *req, struct viommu_xlate_result *res)
{
	uint64_t len = req->len ? req->len : 1;
	uint32_t devid = req->sid & 0xffff;
	struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];
	struct viommu_iotlb_hit hit;
	const struct amdvi_dte *dp;
	struct amdvi_dte d;
	uint32_t code;
	uint64_t addr;
	int ret;

	s->st.translations++;
	if (!vi_range_ok(req->iova, len))
		len = 0 - req->iova; /* never past 2^64 */
	if (vi_xlate_interrupt_window(req, res, &len, AMDVI_INTR_FIRST, AMDVI_INTR_LAST)) {
		/* Only posted writes are interrupt requests; a read there is refused (2.5.9). */
		if ((req->access & (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC)) && amdvi_enabled(s))
			return invalid_request(s, req, res, VIOMMU_AMDVI_IDR_INTR_READ);
		return 0;
	}
	if (!amdvi_enabled(s))
		return identity(req, res, len, VIOMMU_ACC_RW);
	/*
	 * A cached entry is used where it lies (the common case: no 64-byte copy and no call); the
	 * slot stays as it is for the whole translation, as nothing here runs a command.
	 */
	if (__builtin_expect(slot->gen == s->dte_gen && slot->devid == devid, 1)) {
		s->st.dte_hits++;
		dp = &slot->dte;
	} else {
		code = vi_amdvi_dte_get(s, devid, &d, &addr);
		if (code == VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY)
			return blocked(s, req, res, VIOMMU_FAULT_CONFIG, code, VIOMMU_AMDVI_EV1_RZ,
				       req->iova, 0, NULL);
		if (code)
			return blocked(s, req, res, VIOMMU_FAULT_WALK_ABORT, code, 0, addr, 0,
				       NULL);
		dp = &d;
	}
	if (dp->kind == AMDVI_DTE_PASS)
		return identity(req, res, len, VIOMMU_ACC_RW);
	if (!req->has_pasid && excluded(s, dp->ex, req->iova, &len))
		return identity(req, res, len, VIOMMU_ACC_RW);
	if (req->has_pasid || dp->giov) {
		/* Without GV (or GTEn) a request with PASID has no table to use: the guest's DTE. */
		if (!dp->gv) {
			s->guest_stage = true;
			return blocked(s, req, res, VIOMMU_FAULT_BLOCKED,
				       VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0, req->iova, 0, dp);
		}
		return v2_translate(s, req, res, dp, len);
	}
	if (dp->kind == AMDVI_DTE_MODE0) {
		if (!vi_x86_perm_ok(dp->perm, req->access))
			return blocked(s, req, res, VIOMMU_FAULT_PERMISSION,
				       VIOMMU_AMDVI_EV_IO_PAGE_FAULT,
				       VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE, req->iova, 0, dp);
		return identity(req, res, len, dp->perm);
	}
	ret = vi_iotlb_probe_ref(s->iotlb, dp->iotlb_ref, req->iova, &hit);
	if (ret == 0 && vi_x86_perm_ok(hit.perm, req->access))
		return vi_xlate_ok(res, req->iova, len, hit.addr, hit.perm, hit.shift);
	return translate_v1(s, req, res, dp, len, ret);
}

/*
 * The common case inline, the IOTLB hit in a few instructions and no saved register: a request
 * without PASID that is all below or above the interrupt window, from a device whose DTE is
 * cached and names a v1 table (or GIoV: its guest table), no exclusion range enabled. Everything else is translate_full(),
 * which checks it all in the specification's order; it would answer these alike.
 */
int vi_amdvi_translate(struct viommu *v, const struct viommu_xlate_req *req,
		       struct viommu_xlate_result *res)
{
	struct amdvi *s = to_amdvi(v);
	uint32_t devid = req->sid & 0xffff;
	const struct amdvi_dte_slot *slot = &s->dte_cache[devid % AMDVI_DTE_CACHE_SIZE];
	uint64_t len = req->len ? req->len : 1, iova = req->iova;
	struct viommu_iotlb_hit hit;
	int ret;

	if (__builtin_expect(req->has_pasid || !vi_range_ok(iova, len) ||
				     vi_range_overlaps(iova, len, AMDVI_INTR_FIRST,
						       AMDVI_INTR_LAST) ||
				     !amdvi_enabled(s) || slot->gen != s->dte_gen ||
				     slot->devid != devid || (s->excl_base & VIOMMU_AMDVI_EXCL_EN),
			     0))
		return translate_full(s, req, res);
	if (__builtin_expect(slot->dte.kind != AMDVI_DTE_PAGED && !slot->dte.giov, 0))
		return translate_full(s, req, res);
	s->st.translations++;
	s->st.dte_hits++;
	/* GIoV (GV with it): the ref is its v2 tag's, and a miss the guest table's (v2_ref()). */
	ret = vi_iotlb_probe_ref(s->iotlb, slot->dte.iotlb_ref, iova, &hit);
	if (__builtin_expect(ret == 0 && vi_x86_perm_ok(hit.perm, req->access), 1))
		return vi_xlate_ok(res, iova, len, hit.addr, hit.perm, hit.shift);
	if (slot->dte.giov)
		return v2_miss(s, req, res, &slot->dte, len, ret);
	return translate_v1(s, req, res, &slot->dte, len, ret);
}

/* ------------------------------------------------------------------------------------------ */
/* ATS: translation requests and pretranslated requests (2.2.2 I, 2.5.9)                       */
/* ------------------------------------------------------------------------------------------ */

int viommu_amdvi_ats_translate(struct viommu *v, const struct viommu_xlate_req *req,
			       struct viommu_xlate_result *res)
{
	struct amdvi *s;
	struct amdvi_dte d;
	uint64_t addr;
	int ret;

	if (!v || !req || !res || strcmp(viommu_model_name(v), "amdvi"))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	s->st.ats_translations++;
	s->xlate_tr = VIOMMU_AMDVI_EV1_TR;
	/*
	 * V = 0 and TV = 0 both decode as pass-through, and I is set only where IotlbSup allows it.
	 * An entry that cannot be read or is illegal is left to the translation, which logs it.
	 */
	if (amdvi_enabled(s) && vi_amdvi_dte_get(s, req->sid & 0xffff, &d, &addr) == 0 &&
	    (d.kind == AMDVI_DTE_PASS || !d.ats)) {
		s->st.translations++;
		ret = invalid_request(s, req, res, VIOMMU_AMDVI_IDR_NO_ATS);
	} else {
		ret = vi_amdvi_translate(v, req, res);
	}
	s->xlate_tr = 0;
	return ret;
}

int viommu_amdvi_translated_request(struct viommu *v, uint32_t devid, uint64_t addr,
				    uint32_t access)
{
	struct viommu_xlate_req req = { .sid = devid & 0xffff, .iova = addr, .access = access };
	struct viommu_xlate_result res;
	struct amdvi *s;
	struct amdvi_dte d;
	uint64_t a;
	uint32_t code;

	if (!v || devid > 0xffff || strcmp(viommu_model_name(v), "amdvi"))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	if (!amdvi_enabled(s))
		return 0;
	code = vi_amdvi_dte_get(s, devid, &d, &a);
	if (code == VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY) {
		blocked(s, &req, &res, VIOMMU_FAULT_CONFIG, code, VIOMMU_AMDVI_EV1_RZ, addr, 0,
			NULL);
		return VIOMMU_EPERM;
	}
	if (code) {
		blocked(s, &req, &res, VIOMMU_FAULT_WALK_ABORT, code, 0, a, 0, NULL);
		return VIOMMU_EPERM;
	}
	/* TV does not matter: the address was translated before (by an earlier DTE). */
	if (!d.valid || !d.ats) {
		invalid_request(s, &req, &res, VIOMMU_AMDVI_IDR_NO_ATS);
		return VIOMMU_EPERM;
	}
	return 0;
}
