// SPDX-License-Identifier: MIT
/*
 * The host-driver half of the AMD HW-vIOMMU (<viommu/amdvi_hwv.h>): what the host kernel's
 * iommufd driver does for a VMM. It owns the private address space's v1 table, the maps and the
 * guest MMIO areas in host memory, programs the hardware through VFCtrl and its registers, and
 * builds nested device-table entries from what the guest wrote, trusting none of it.
 */
#include <stdlib.h>

#include "amdvi_internal.h"

#define PRIV_DOMID 0xffffu /* the private space's own DomainID */
#define PRIV_LEVELS 4	   /* 48-bit private addresses: the layout ends below 2^39 */

static struct amdvi *hwv_of(struct viommu *v)
{
	if (!v || strcmp(viommu_model_name(v), "amdvi"))
		return NULL;
	return to_amdvi(v)->hwv ? to_amdvi(v) : NULL;
}

static struct amdvi_hwv_guest *guest_of(struct viommu *v, uint32_t gid, struct amdvi **sp)
{
	struct amdvi *s = hwv_of(v);

	if (!s || !s->hwv->ready || !vi_amdvi_hwv_gid_ok(s, gid))
		return NULL;
	*sp = s;
	return &s->hwv->g[gid];
}

/* ------------------------------------------------------------------------------------------ */
/* The private address space's v1 table (host memory)                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * The level-1 entry's address for private address @pa, creating tables on the way when @make;
 * 0 when absent (or out of memory).
 */
static uint64_t priv_pte(struct amdvi *s, uint64_t pa, bool make)
{
	uint64_t table = s->hwv->root;

	for (uint32_t lvl = PRIV_LEVELS; lvl > 1; lvl--) {
		uint64_t at = table + ((pa >> (12 + 9 * (lvl - 1))) & 511) * 8, pte, page;

		if (vi_read64(&s->v.host, at, &pte))
			return 0;
		if (!(pte & VIOMMU_AMDVI_PTE_PR)) {
			if (!make)
				return 0;
			page = s->hwv->mem.alloc(s->hwv->mem.opaque, 4096);
			if (!page || (page & 0xfff))
				return 0;
			pte = page | VIOMMU_AMDVI_PTE_PR |
			      VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(lvl - 1) | VIOMMU_AMDVI_PTE_IR |
			      VIOMMU_AMDVI_PTE_IW;
			if (vi_write64(&s->v.host, at, pte))
				return 0;
		}
		table = pte & VIOMMU_AMDVI_PTE_ADDR_MASK;
	}
	return table + ((pa >> 12) & 511) * 8;
}

static int priv_map(struct amdvi *s, uint64_t pa, uint64_t spa)
{
	uint64_t at = priv_pte(s, pa, true);

	if (!at)
		return VIOMMU_ENOMEM;
	return vi_write64(&s->v.host, at,
			  (spa & VIOMMU_AMDVI_PTE_ADDR_MASK) | VIOMMU_AMDVI_PTE_PR |
				  VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_IW);
}

/* The caller flushes the private domain afterwards (the IOMMU caches its own translations). */
static void priv_unmap(struct amdvi *s, uint64_t pa)
{
	uint64_t at = priv_pte(s, pa, false);

	if (at)
		vi_write64(&s->v.host, at, 0);
}

/* The host page behind private page @pa, allocated (zeroed) and mapped on first use. */
static int priv_page(struct amdvi *s, uint64_t pa, uint64_t *spa)
{
	uint64_t at = priv_pte(s, pa, true), pte, page;
	int ret;

	if (!at || vi_read64(&s->v.host, at, &pte))
		return VIOMMU_ENOMEM;
	if (pte & VIOMMU_AMDVI_PTE_PR) {
		*spa = (pte & VIOMMU_AMDVI_PTE_ADDR_MASK) | (pa & 0xfff);
		return 0;
	}
	page = s->hwv->mem.alloc(s->hwv->mem.opaque, 4096);
	if (!page || (page & 0xfff))
		return VIOMMU_ENOMEM;
	ret = priv_map(s, pa & ~0xfffull, page);
	if (ret)
		return ret;
	*spa = page | (pa & 0xfff);
	return 0;
}

/* Host memory of a device table entry (the host's table, as DEV_TABLE_BASE says). */
static int dte_addr(struct amdvi *s, uint32_t devid, uint64_t *a)
{
	uint64_t size = (VIOMMU_AMDVI_DEV_TABLE_SIZE_GET(s->devtab) + 1) * 4096;
	uint64_t off = (uint64_t)devid * VIOMMU_AMDVI_DTE_SIZE;

	if (off >= size)
		return VIOMMU_EFAULT;
	*a = (s->devtab & VIOMMU_AMDVI_DEV_TABLE_BASE_MASK) + off;
	return 0;
}

/* Write a host DTE and drop what the model cached of it (the host's INVALIDATE_DEVTAB_ENTRY). */
static int dte_write(struct amdvi *s, uint32_t devid, const uint64_t q[4])
{
	uint64_t a;
	int ret = dte_addr(s, devid, &a);

	for (int i = 3; !ret && i >= 0; i--)
		ret = vi_write64(&s->v.host, a + 8 * (uint64_t)i, q[i]);
	vi_amdvi_dte_inval(s, devid);
	return ret ? VIOMMU_EFAULT : 0;
}

/* The host's INVALIDATE_IOMMU_PAGES of a whole domain. */
static void flush_domain(struct amdvi *s, uint32_t domid)
{
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM,
					  .tag = { .dom = domid } };

	viommu_iotlb_invalidate(s->iotlb, &inv);
	vi_amdvi_hwv_flushed(s, domid);
	vi_amdvi_gcr3_inval_dom(s, domid);
}

int viommu_amdvi_hwv_init(struct viommu *v, const struct viommu_amdvi_hwv_mem *mem)
{
	struct amdvi *s = hwv_of(v);
	uint64_t q[4] = { 0 }, spa;
	int ret;

	if (!v || !mem || !mem->alloc)
		return VIOMMU_EINVAL;
	if (!s)
		return strcmp(viommu_model_name(v), "amdvi") ? VIOMMU_EINVAL : VIOMMU_ENOTSUP;
	if (s->hwv->ready)
		return 0;
	s->hwv->mem = *mem;
	s->hwv->root = mem->alloc(mem->opaque, 4096);
	if (!s->hwv->root || (s->hwv->root & 0xfff))
		return VIOMMU_ENOMEM;
	/* The IOMMU as a device of its own: a 4-level v1 table over its private space. */
	q[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV |
	       VIOMMU_AMDVI_DTE0_MODE_SET(PRIV_LEVELS) | s->hwv->root | VIOMMU_AMDVI_DTE0_IR |
	       VIOMMU_AMDVI_DTE0_IW;
	q[1] = VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(PRIV_DOMID);
	ret = dte_write(s, s->cfg.iommu_devid, q);
	if (ret)
		return ret;
	flush_domain(s, PRIV_DOMID);
	for (uint64_t off = 0; off < VIOMMU_AMDVI_PRIV_CMDBUF_DIRTY_SIZE; off += 4096) {
		ret = priv_page(s, VIOMMU_AMDVI_PRIV_CMDBUF_DIRTY + off, &spa);
		if (ret)
			return ret;
	}
	s->hwv->ready = true;
	return viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_CONTROL, 8,
				 s->control | VIOMMU_AMDVI_CTRL_VIOMMU_EN |
					 VIOMMU_AMDVI_CTRL_VCMD_EN | VIOMMU_AMDVI_CTRL_GT_EN);
}

/* ------------------------------------------------------------------------------------------ */
/* Guests                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static bool is_trans(const struct amdvi *s, uint32_t devid)
{
	for (uint32_t i = 1; i < VIOMMU_AMDVI_HWV_GUESTS; i++)
		if (s->hwv->g[i].used && s->hwv->g[i].trans_devid == devid)
			return true;
	return false;
}

int viommu_amdvi_hwv_create(struct viommu *v, const struct viommu_amdvi_hwv_alloc *a, uint32_t *gid)
{
	struct amdvi *s = hwv_of(v);
	struct amdvi_hwv_guest *g;
	struct amdvi_dte d;
	uint64_t addr, spa;
	uint32_t id;
	int ret;

	if (!s || !s->hwv->ready || !a || !gid || !a->ops || !a->ops->gpa_to_spa ||
	    a->trans_devid > 0xffff || a->trans_devid == s->cfg.iommu_devid ||
	    s->hwv->owner[a->trans_devid])
		return VIOMMU_EINVAL;
	if (vi_amdvi_dte_get(s, a->trans_devid, &d, &addr) || d.kind != AMDVI_DTE_PAGED)
		return VIOMMU_EINVAL;
	for (id = 1; id < VIOMMU_AMDVI_HWV_GUESTS && s->hwv->g[id].used; id++)
		;
	if (id == VIOMMU_AMDVI_HWV_GUESTS)
		return VIOMMU_ENOSPC;
	g = &s->hwv->g[id];
	free(g->gdom);
	free(g->doms);
	memset(g, 0, sizeof(*g));
	g->gdom = calloc(AMDVI_NDEV, sizeof(*g->gdom));
	if (!g->gdom)
		return VIOMMU_ENOMEM;
	ret = priv_page(
		s, VIOMMU_AMDVI_PRIV_GUEST_MMIO + (uint64_t)id * VIOMMU_AMDVI_PRIV_GUEST_MMIO_SIZE,
		&spa);
	if (ret)
		return ret;
	g->ops = *a->ops;
	g->opaque = a->opaque;
	g->trans_devid = a->trans_devid;
	g->used = true;
	viommu_amdvi_vfctrl_write(v, id, VIOMMU_AMDVI_VFCTRL_MISC_CONTROL, 8,
				  VIOMMU_AMDVI_MISC_TRANS_DEVID_SET(a->trans_devid));
	vi_amdvi_hwv_reset_vmmio(s, id, false);
	g->st.resets = 0;
	*gid = id;
	return 0;
}

int viommu_amdvi_hwv_add_device(struct viommu *v, uint32_t gid, uint32_t host_devid,
				uint32_t guest_devid)
{
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t spa, blocked[4] = { VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV, 0, 0, 0 };
	uint32_t h;
	int ret;

	if (!g || host_devid > 0xffff || guest_devid > 0xffff)
		return VIOMMU_EINVAL;
	if (host_devid == s->cfg.iommu_devid || is_trans(s, host_devid) ||
	    s->hwv->owner[host_devid])
		return VIOMMU_EBUSY;
	if (vi_amdvi_hwv_devid(s, gid, guest_devid, &h) == 0)
		return VIOMMU_EEXIST;
	ret = priv_page(s,
			VIOMMU_AMDVI_PRIV_DEVID_MAP +
				(uint64_t)gid * VIOMMU_AMDVI_PRIV_DEVID_MAP_SIZE +
				(uint64_t)guest_devid * VIOMMU_AMDVI_DEVID_MAP_ENTRY,
			&spa);
	if (ret)
		return ret;
	/* Blocked until the guest's DTE says otherwise (as the guest's own boot state). */
	ret = dte_write(s, host_devid, blocked);
	if (ret)
		return ret;
	s->hwv->owner[host_devid] = (uint16_t)gid;
	return viommu_amdvi_vfctrl_write(v, gid, VIOMMU_AMDVI_VFCTRL_DID_MAP_CONTROL0, 8,
					 VIOMMU_AMDVI_DID_MAP_V |
						 VIOMMU_AMDVI_DID_MAP_HOST_SET(host_devid) |
						 VIOMMU_AMDVI_DID_MAP_GUEST_SET(guest_devid));
}

static uint64_t queue_window(enum viommu_amdvi_hwv_queue q)
{
	return q == VIOMMU_AMDVI_HWV_CMD ? VIOMMU_AMDVI_PRIV_CMDBUF :
	       q == VIOMMU_AMDVI_HWV_EVT ? VIOMMU_AMDVI_PRIV_EVT_LOG :
					   VIOMMU_AMDVI_PRIV_PPR_LOG;
}

int viommu_amdvi_hwv_set_queue(struct viommu *v, uint32_t gid, enum viommu_amdvi_hwv_queue q,
			       uint64_t gpa, uint32_t len_code)
{
	static const uint64_t ctl[] = { VIOMMU_AMDVI_VFCTRL_CMD_CONTROL,
					VIOMMU_AMDVI_VFCTRL_EVT_CONTROL,
					VIOMMU_AMDVI_VFCTRL_PPR_CONTROL };
	static const uint64_t ptr[] = { VIOMMU_AMDVI_VF_CMD_BUF_HEAD,
					VIOMMU_AMDVI_VF_EVENT_LOG_HEAD,
					VIOMMU_AMDVI_VF_PPR_LOG_HEAD };
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t bytes, win, spa, zero = 0;
	int ret = 0;

	if (!g || (unsigned int)q > VIOMMU_AMDVI_HWV_PPR)
		return VIOMMU_EINVAL;
	/* Until it is pinned the queue has no location: the hardware finds none to use. */
	viommu_amdvi_vfctrl_write(v, gid, ctl[q], 8, 0);
	if (len_code < VIOMMU_AMDVI_BUF_LEN_MIN || len_code > VIOMMU_AMDVI_BUF_LEN_MAX ||
	    (gpa & ~VIOMMU_AMDVI_BUF_BASE_MASK))
		return VIOMMU_EINVAL;
	bytes = 16ull << len_code;
	win = queue_window(q) + (uint64_t)gid * VIOMMU_AMDVI_PRIV_QUEUE_SIZE;
	/* Pin every page first: a queue partly outside guest memory is refused whole. */
	for (uint64_t off = 0; off < bytes; off += 4096)
		if (g->ops.gpa_to_spa(g->opaque, gpa + off, 4096, &spa) || (spa & 0xfff))
			return VIOMMU_EFAULT;
	for (uint64_t off = 0; off < VIOMMU_AMDVI_PRIV_QUEUE_SIZE; off += 4096) {
		if (off >= bytes) {
			priv_unmap(s, win + off);
			continue;
		}
		g->ops.gpa_to_spa(g->opaque, gpa + off, 4096, &spa);
		ret = priv_map(s, win + off, spa);
		if (ret)
			break;
	}
	/* The window's old pages may be cached: INVALIDATE_IOMMU_PAGES of the private domain. */
	flush_domain(s, PRIV_DOMID);
	if (ret)
		return ret;
	/* A new buffer starts empty, as after a base register write. */
	for (int i = 0; i < 2; i++)
		vi_amdvi_priv_rw(s,
				 VIOMMU_AMDVI_PRIV_GUEST_MMIO +
					 (uint64_t)gid * VIOMMU_AMDVI_PRIV_GUEST_MMIO_SIZE +
					 ptr[q] + 8 * (uint64_t)i,
				 &zero, 8, true);
	return viommu_amdvi_vfctrl_write(v, gid, ctl[q], 8,
					 gpa | VIOMMU_AMDVI_BUF_LEN_SET(len_code));
}

/* The host DomainID of guest DomainID @gdom, allocated and entered in the map on first use. */
static int host_domain(struct amdvi *s, uint32_t gid, uint32_t gdom, uint32_t *hdom)
{
	struct amdvi_hwv_guest *g = &s->hwv->g[gid];
	uint64_t spa;
	int ret;

	if (vi_amdvi_hwv_domid(s, gid, gdom, hdom) == 0)
		return 0;
	if (s->hwv->next_dom == 0)
		return VIOMMU_ENOSPC;
	if (g->ndom == g->cap_dom) {
		uint32_t cap = g->cap_dom ? 2 * g->cap_dom : 16;
		void *p = realloc(g->doms, cap * sizeof(*g->doms));

		if (!p)
			return VIOMMU_ENOMEM;
		g->doms = p;
		g->cap_dom = cap;
	}
	ret = priv_page(s,
			VIOMMU_AMDVI_PRIV_DOMID_MAP +
				(uint64_t)gid * VIOMMU_AMDVI_PRIV_DOMID_MAP_SIZE +
				(uint64_t)gdom * VIOMMU_AMDVI_DOMID_MAP_ENTRY,
			&spa);
	if (ret)
		return ret;
	*hdom = s->hwv->next_dom--;
	flush_domain(s, *hdom);
	g->doms[g->ndom].g = (uint16_t)gdom;
	g->doms[g->ndom].h = (uint16_t)*hdom;
	g->ndom++;
	return vi_write64(&s->v.host, spa,
			  VIOMMU_AMDVI_DOM_MAP_V | VIOMMU_AMDVI_DOM_MAP_HOST_SET(*hdom)) ?
		       VIOMMU_EFAULT :
		       0;
}

int viommu_amdvi_hwv_set_dte(struct viommu *v, uint32_t gid, uint32_t guest_devid,
			     const uint64_t gdte[4])
{
	const uint64_t ok0 = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_GIOV |
			     VIOMMU_AMDVI_DTE0_GV | VIOMMU_AMDVI_DTE0_GLX_MASK |
			     VIOMMU_AMDVI_DTE0_GCR3_A_MASK | VIOMMU_AMDVI_DTE0_IR |
			     VIOMMU_AMDVI_DTE0_IW;
	const uint64_t host0 = VIOMMU_AMDVI_DTE0_MODE_MASK | VIOMMU_AMDVI_DTE0_PT_ROOT_MASK;
	uint64_t ok1 = VIOMMU_AMDVI_DTE1_DOMAIN_ID_MASK | VIOMMU_AMDVI_DTE1_GCR3_B_MASK |
		       VIOMMU_AMDVI_DTE1_GCR3_C_MASK | VIOMMU_AMDVI_DTE1_SE | VIOMMU_AMDVI_DTE1_SA;
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	struct amdvi_dte t;
	uint64_t q[4] = { 0 }, a;
	uint32_t host, hdom;
	int ret;

	if (!g || !gdte || guest_devid > 0xffff)
		return VIOMMU_EINVAL;
	g->st.trapped_dte++;
	if (s->cfg.flags & VIOMMU_AMDVI_IOTLB)
		ok1 |= VIOMMU_AMDVI_DTE1_I;
	if (vi_amdvi_hwv_devid(s, gid, guest_devid, &host))
		return VIOMMU_ENOENT;
	/* Host structures: a v1 table of the guest's own, or the vIOMMU fields, are refused. */
	if ((gdte[0] & VIOMMU_AMDVI_DTE0_V) &&
	    ((gdte[0] & host0) || (gdte[3] & VIOMMU_AMDVI_DTE3_VIOMMU_MASK)))
		return VIOMMU_EPERM;
	if ((gdte[0] & VIOMMU_AMDVI_DTE0_V) && ((gdte[0] & ~(ok0 | host0)) || (gdte[1] & ~ok1) ||
						VIOMMU_AMDVI_DTE0_GLX_GET(gdte[0]) > AMDVI_GLX_SUP))
		return VIOMMU_EINVAL;
	/* The guest's memory: the TransDevID's table, the nest parent of every guest device. */
	if (vi_amdvi_dte_get(s, g->trans_devid, &t, &a) || t.kind != AMDVI_DTE_PAGED)
		return VIOMMU_EFAULT;
	ret = host_domain(s, gid, (uint32_t)VIOMMU_AMDVI_DTE1_DOMAIN_ID_GET(gdte[1]), &hdom);
	if (ret)
		return ret;
	q[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV |
	       VIOMMU_AMDVI_DTE0_MODE_SET(t.v1.levels) | t.v1.root;
	q[1] = VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(hdom);
	if ((gdte[0] & VIOMMU_AMDVI_DTE0_V) && (gdte[0] & VIOMMU_AMDVI_DTE0_TV)) {
		q[0] |= gdte[0] & ok0;
		q[1] |= gdte[1] & ok1 & ~VIOMMU_AMDVI_DTE1_DOMAIN_ID_MASK;
	} else {
		/* Untranslated for the guest means guest-physical: its memory, no further. */
		q[0] |= VIOMMU_AMDVI_DTE0_IR | VIOMMU_AMDVI_DTE0_IW;
	}
	q[3] = VIOMMU_AMDVI_DTE3_VIMU_EN | VIOMMU_AMDVI_DTE3_GUEST_ID_SET(gid) |
	       VIOMMU_AMDVI_DTE3_GDEVICE_ID_SET(guest_devid);
	g->gdom[guest_devid] = (uint16_t)VIOMMU_AMDVI_DTE1_DOMAIN_ID_GET(gdte[1]);
	ret = dte_write(s, host, q);
	flush_domain(s, hdom);
	s->budget = AMDVI_SYNC_BUDGET;
	s->scanned = false;
	vi_amdvi_sync(s, AMDVI_SYNC_DEVICE, 0, host, 0, UINT64_MAX);
	return ret;
}

int viommu_amdvi_hwv_dte_trap(struct viommu *v, uint32_t gid, uint32_t guest_devid)
{
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t size, gpa, spa, q[4];

	if (!g || guest_devid > 0xffff)
		return VIOMMU_EINVAL;
	size = (VIOMMU_AMDVI_DEV_TABLE_SIZE_GET(g->devtab) + 1) * 4096;
	if ((uint64_t)guest_devid * VIOMMU_AMDVI_DTE_SIZE >= size)
		return VIOMMU_ENOENT;
	gpa = (g->devtab & VIOMMU_AMDVI_DEV_TABLE_BASE_MASK) +
	      (uint64_t)guest_devid * VIOMMU_AMDVI_DTE_SIZE;
	if (g->ops.gpa_to_spa(g->opaque, gpa, sizeof(q), &spa) ||
	    vi_read(&s->v.host, spa, q, sizeof(q)))
		return VIOMMU_EFAULT;
	for (int i = 0; i < 4; i++)
		q[i] = vi_le64(q[i]);
	return viommu_amdvi_hwv_set_dte(v, gid, guest_devid, q);
}

int viommu_amdvi_hwv_destroy(struct viommu *v, uint32_t gid)
{
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t blocked[4] = { VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV, 0, 0, 0 };

	if (!g)
		return VIOMMU_EINVAL;
	/* Stop the hardware first: no command of the guest runs against half-removed maps. */
	viommu_amdvi_vfctrl_write(v, gid, VIOMMU_AMDVI_VFCTRL_MISC_CONTROL, 8, 0);
	for (uint32_t dev = 0; dev < AMDVI_NDEV; dev++) {
		uint32_t gdev;

		if (s->hwv->owner[dev] != gid)
			continue;
		dte_write(s, dev, blocked);
		s->hwv->owner[dev] = 0;
		for (gdev = 0; gdev < AMDVI_NDEV; gdev++) {
			uint32_t h;

			if (vi_amdvi_hwv_devid(s, gid, gdev, &h) == 0 && h == dev)
				break;
		}
		if (gdev < AMDVI_NDEV)
			viommu_amdvi_vfctrl_write(v, gid, VIOMMU_AMDVI_VFCTRL_DID_MAP_CONTROL0, 8,
						  VIOMMU_AMDVI_DID_MAP_GUEST_SET(gdev));
	}
	for (uint32_t i = 0; i < g->ndom; i++) {
		uint64_t spa;

		if (priv_page(s,
			      VIOMMU_AMDVI_PRIV_DOMID_MAP +
				      (uint64_t)gid * VIOMMU_AMDVI_PRIV_DOMID_MAP_SIZE +
				      (uint64_t)g->doms[i].g * VIOMMU_AMDVI_DOMID_MAP_ENTRY,
			      &spa) == 0)
			vi_write64(&s->v.host, spa, 0);
		flush_domain(s, g->doms[i].h);
	}
	for (int q = 0; q < 3; q++) {
		uint64_t win = queue_window((enum viommu_amdvi_hwv_queue)q) +
			       (uint64_t)gid * VIOMMU_AMDVI_PRIV_QUEUE_SIZE;

		for (uint64_t off = 0; off < VIOMMU_AMDVI_PRIV_QUEUE_SIZE; off += 4096)
			priv_unmap(s, win + off);
	}
	flush_domain(s, PRIV_DOMID);
	vi_amdvi_hwv_reset_vmmio(s, gid, false);
	for (uint64_t off = 0; off < VIOMMU_AMDVI_VFCTRL_SIZE; off += 8)
		g->vfctrl[off / 8] = 0;
	free(g->gdom);
	free(g->doms);
	memset(g, 0, sizeof(*g));
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The trapped control page                                                                    */
/* ------------------------------------------------------------------------------------------ */

static uint64_t guest_efr(void)
{
	return VIOMMU_AMDVI_EFR_GT_SUP | VIOMMU_AMDVI_EFR_GIO_SUP | VIOMMU_AMDVI_EFR_IA_SUP |
	       VIOMMU_AMDVI_EFR_PREF_SUP | VIOMMU_AMDVI_EFR_GLX_SUP_SET(AMDVI_GLX_SUP) |
	       VIOMMU_AMDVI_EFR_PASMAX_SET(AMDVI_PASMAX) | VIOMMU_AMDVI_EFR_GATS_SET(0) |
	       VIOMMU_AMDVI_EFR_HATS_SET(0);
}

static uint64_t ctrl_reg(const struct amdvi_hwv_guest *g, uint64_t base)
{
	switch (base) {
	case VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE:
		return g->devtab;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_BASE:
		return g->base[VIOMMU_AMDVI_HWV_CMD];
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE:
		return g->base[VIOMMU_AMDVI_HWV_EVT];
	case VIOMMU_AMDVI_MMIO_PPR_LOG_BASE:
		return g->base[VIOMMU_AMDVI_HWV_PPR];
	case VIOMMU_AMDVI_MMIO_CONTROL:
		return g->ctrl;
	case VIOMMU_AMDVI_MMIO_EXT_FEATURE:
		return guest_efr();
	case VIOMMU_AMDVI_MMIO_EXCL_LIMIT:
		return 0xfff;
	default:
		return 0;
	}
}

int viommu_amdvi_hwv_ctrl_read(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
			       uint64_t *val)
{
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t q;

	if (!g || !val)
		return VIOMMU_EINVAL;
	g->st.trapped_mmio++;
	*val = 0;
	if ((size != 4 && size != 8) || (off & (size - 1)) || off >= VIOMMU_AMDVI_MMIO_PAGE_SIZE)
		return 0;
	q = ctrl_reg(g, off & ~7ull);
	*val = size == 8 ? q : (q >> ((off & 7) * 8)) & 0xffffffffull;
	return 0;
}

/* The guest's control register, as the hardware's per-guest enables (IommuEn gates them all). */
static void guest_control(struct viommu *v, struct amdvi_hwv_guest *g, uint32_t gid, uint64_t val)
{
	uint64_t misc = g->vfctrl[VIOMMU_AMDVI_VFCTRL_MISC_CONTROL / 8] &
			~(VIOMMU_AMDVI_MISC_CMD_BUF_EN | VIOMMU_AMDVI_MISC_EVENT_LOG_EN |
			  VIOMMU_AMDVI_MISC_PPR_LOG_EN | VIOMMU_AMDVI_MISC_COM_WAIT_INT_EN |
			  VIOMMU_AMDVI_MISC_EVENT_INT_EN);
	bool on = (val & VIOMMU_AMDVI_CTRL_IOMMU_EN) != 0;

	g->ctrl = val & (VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_EVENT_LOG_EN |
			 VIOMMU_AMDVI_CTRL_EVENT_INT_EN | VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN |
			 VIOMMU_AMDVI_CTRL_INV_TIMEOUT_MASK | VIOMMU_AMDVI_CTRL_COHERENT |
			 VIOMMU_AMDVI_CTRL_CMD_BUF_EN | VIOMMU_AMDVI_CTRL_GT_EN);
	if (on && (val & VIOMMU_AMDVI_CTRL_CMD_BUF_EN))
		misc |= VIOMMU_AMDVI_MISC_CMD_BUF_EN;
	if (on && (val & VIOMMU_AMDVI_CTRL_EVENT_LOG_EN))
		misc |= VIOMMU_AMDVI_MISC_EVENT_LOG_EN;
	if (val & VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN)
		misc |= VIOMMU_AMDVI_MISC_COM_WAIT_INT_EN;
	if (val & VIOMMU_AMDVI_CTRL_EVENT_INT_EN)
		misc |= VIOMMU_AMDVI_MISC_EVENT_INT_EN;
	viommu_amdvi_vfctrl_write(v, gid, VIOMMU_AMDVI_VFCTRL_MISC_CONTROL, 8, misc);
}

int viommu_amdvi_hwv_ctrl_write(struct viommu *v, uint32_t gid, uint64_t off, unsigned int size,
				uint64_t val)
{
	struct amdvi *s;
	struct amdvi_hwv_guest *g = guest_of(v, gid, &s);
	uint64_t base = off & ~7ull, q, mask;
	unsigned int sh;
	int qi;

	if (!g)
		return VIOMMU_EINVAL;
	g->st.trapped_mmio++;
	if ((size != 4 && size != 8) || (off & (size - 1)) || off >= VIOMMU_AMDVI_MMIO_PAGE_SIZE)
		return 0;
	sh = (unsigned int)(off & 7) * 8;
	mask = size == 8 ? ~0ull : 0xffffffffull << sh;
	q = (ctrl_reg(g, base) & ~mask) | ((val << sh) & mask);
	switch (base) {
	case VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE:
		/* Kept for the DTE trap: the VMM write-protects the table it names. */
		g->devtab = q &
			    (VIOMMU_AMDVI_DEV_TABLE_BASE_MASK | VIOMMU_AMDVI_DEV_TABLE_SIZE_MASK);
		return 0;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_BASE:
		qi = VIOMMU_AMDVI_HWV_CMD;
		break;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE:
		qi = VIOMMU_AMDVI_HWV_EVT;
		break;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_BASE:
		return 0; /* no PPR for guests (EFR PPRSup clear) */
	case VIOMMU_AMDVI_MMIO_CONTROL:
		guest_control(v, g, gid, q);
		return 0;
	default:
		return 0;
	}
	/* Not while the buffer runs, as on the hardware's own registers. */
	if (g->ctrl & (qi == VIOMMU_AMDVI_HWV_CMD ? VIOMMU_AMDVI_CTRL_CMD_BUF_EN :
						    VIOMMU_AMDVI_CTRL_EVENT_LOG_EN))
		return 0;
	g->base[qi] = q & (VIOMMU_AMDVI_BUF_BASE_MASK | VIOMMU_AMDVI_BUF_LEN_MASK);
	/* A queue the host cannot pin stays absent: the guest sees its commands fail. */
	viommu_amdvi_hwv_set_queue(v, gid, (enum viommu_amdvi_hwv_queue)qi,
				   q & VIOMMU_AMDVI_BUF_BASE_MASK,
				   (uint32_t)VIOMMU_AMDVI_BUF_LEN_GET(q));
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The guest's view                                                                            */
/* ------------------------------------------------------------------------------------------ */

struct hwv_view {
	struct viommu v;
	struct viommu *host;
	uint32_t gid;
};

static struct hwv_view *to_view(struct viommu *v)
{
	return vi_container_of(v, struct hwv_view, v);
}

static int view_read(struct viommu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	struct hwv_view *w = to_view(v);

	if (off >= VIOMMU_AMDVI_MMIO_PAGE1 &&
	    off < VIOMMU_AMDVI_MMIO_PAGE1 + VIOMMU_AMDVI_VF_PAGE_SIZE)
		return viommu_amdvi_vf_mmio_read(w->host, w->gid, off - VIOMMU_AMDVI_MMIO_PAGE1,
						 size, val);
	if (off < VIOMMU_AMDVI_MMIO_PAGE_SIZE)
		return viommu_amdvi_hwv_ctrl_read(w->host, w->gid, off, size, val);
	*val = 0;
	return 0;
}

static int view_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct hwv_view *w = to_view(v);

	if (off >= VIOMMU_AMDVI_MMIO_PAGE1 &&
	    off < VIOMMU_AMDVI_MMIO_PAGE1 + VIOMMU_AMDVI_VF_PAGE_SIZE)
		return viommu_amdvi_vf_mmio_write(w->host, w->gid, off - VIOMMU_AMDVI_MMIO_PAGE1,
						  size, val);
	if (off < VIOMMU_AMDVI_MMIO_PAGE_SIZE)
		return viommu_amdvi_hwv_ctrl_write(w->host, w->gid, off, size, val);
	return 0;
}

/* An assigned device's DMA: it reaches the IOMMU under its host DeviceID. */
static int view_translate(struct viommu *v, const struct viommu_xlate_req *req,
			  struct viommu_xlate_result *res)
{
	struct hwv_view *w = to_view(v);
	struct viommu_xlate_req r = *req;
	uint32_t host;
	int ret;

	if (!vi_amdvi_hwv_gid_ok(to_amdvi(w->host), w->gid) ||
	    vi_amdvi_hwv_devid(to_amdvi(w->host), w->gid, req->sid & 0xffff, &host)) {
		/* Not a device of this guest: nothing reaches memory. */
		vi_result_fault(res, req, VIOMMU_FAULT_BLOCKED, 0, 0);
		return 0;
	}
	r.sid = host;
	ret = viommu_translate(w->host, &r, res);
	if (res->fault.type != VIOMMU_FAULT_NONE)
		res->fault.sid = req->sid;
	return ret;
}

static void view_destroy(struct viommu *v)
{
	vi_instance_fini(v);
	free(to_view(v));
}

static const struct viommu_model_ops view_ops = {
	.name = "amdvi-hwv",
	.translate = view_translate,
	.mmio_read = view_read,
	.mmio_write = view_write,
	.destroy = view_destroy,
};

int viommu_amdvi_hwv_view(struct viommu *v, uint32_t gid, struct viommu **out)
{
	struct amdvi *s;
	struct hwv_view *w;
	int ret;

	if (!out || !guest_of(v, gid, &s))
		return VIOMMU_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return VIOMMU_ENOMEM;
	ret = vi_instance_init(&w->v, &view_ops, s->v.host.ops, s->v.host.opaque);
	if (ret) {
		free(w);
		return ret;
	}
	w->host = v;
	w->gid = gid;
	*out = &w->v;
	return 0;
}
