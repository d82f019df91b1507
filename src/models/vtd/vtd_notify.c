// SPDX-License-Identifier: MIT
/*
 * Caching-mode synchronisation of MAP/UNMAP consumers (shadow page tables, device IOTLBs).
 *
 * With CAP.CM the guest invalidates after every change, including not-present -> present, so
 * each invalidation tells the unit which input range to look at again. The record of what each
 * requester's MAP consumers hold and the diff against the tables are shared with AMD-Vi
 * (core/sync.c); this file supplies VT-d's view of a requester (root/context entries, second-level
 * walks) and the invalidation scopes.
 */
#include <stdlib.h>

#include "vtd_internal.h"

#define EV_MAP_UNMAP (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP)

static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom);

static int dom_of(void *ctx, uint32_t sid, uint32_t *dom)
{
	struct vtd_ctx c;
	int r = vi_vtd_ctx_get(ctx, sid, &c);

	if (!r)
		*dom = c.did;
	return r;
}

/* The shared sync, pointed at this unit's state (cheap: set before every use). */
static struct vi_sync *sy(struct vtd *s)
{
	struct vi_sync *y = &s->sync;

	y->v = &s->v;
	y->name = "vtd";
	y->nsid = VTD_NSID;
	y->seen = s->seen;
	y->budget = &s->budget;
	y->nmap = &s->st.notify_map;
	y->nunmap = &s->st.notify_unmap;
	/* DMA to the interrupt range is never translated (§3.15). */
	y->intr_first = VIOMMU_VTD_INTR_ADDR_FIRST;
	y->intr_last = VIOMMU_VTD_INTR_ADDR_LAST;
	y->view = current_view;
	y->dom_of = dom_of;
	y->ctx = s;
	return y;
}

void vi_vtd_notify_fini(struct vtd *s)
{
	vi_sync_fini(&s->sync);
}

/* Fill the sync's pieces with what @sid translates in [a, b] now; false when out of memory. */
static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom)
{
	struct vtd *s = ctx;
	struct vtd_ctx c;
	uint64_t top;

	*has_dom = false;
	if (!(s->gsts & VIOMMU_VTD_GSTS_TES))
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	if (vi_vtd_ctx_get(s, sid, &c))
		return true; /* no usable context: nothing translates */
	*has_dom = true;
	*dom = c.did;
	top = c.aw_bits >= 64 ? UINT64_MAX : (1ull << c.aw_bits) - 1;
	if (a > top)
		return true;
	if (b > top)
		b = top;
	if (c.tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH)
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	/*
	 * One walk per leaf or per hole, a hole skipped whole at the level it was found. Aliased
	 * tables can make a range hold 2^36 leaves or empty tables, so the walks are budgeted.
	 */
	for (uint64_t x = a;;) {
		struct vtd_leaf l;
		uint32_t level, reason;
		uint64_t end, span;

		if (s->budget == 0)
			return false;
		s->budget--;
		reason = vi_vtd_ctx_walk(s, &c, x, &l, &level);
		if (reason == VIOMMU_VTD_FR_ADDR_BEYOND_MGAW)
			return true;
		if (reason || !l.perm) {
			/* Nothing translates in the entry that stopped the walk. */
			span = level ? 1ull << (12 + 9 * (level - 1)) : 1ull << 12;
			end = (x | (span - 1));
		} else {
			end = l.iova + ((1ull << l.shift) - 1);
			/* DMA into the interrupt range never translates (§3.15). */
			if (l.out + ((1ull << l.shift) - 1) < VIOMMU_VTD_INTR_ADDR_FIRST ||
			    l.out > VIOMMU_VTD_INTR_ADDR_LAST) {
				uint64_t first = x, last = end < b ? end : b;

				if (!vi_sync_add_piece(y, first, last, l.out + (first - l.iova),
						       l.perm))
					return false;
			}
		}
		if (end >= b)
			return true;
		x = end + 1;
	}
}

/* Mark every requester with a present context entry (a bounded scan: 256 + 65536 entries). */
static void scan_tables(struct vtd *s)
{
	uint64_t rta = s->rta_active & VIOMMU_VTD_RTADDR_RTA_MASK;

	/* Once per guest action: the tables cannot change while one register write runs. */
	if (s->scanned)
		return;
	s->scanned = true;

	for (uint32_t bus = 0; bus < 256; bus++) {
		uint64_t re;

		if (vi_read64(&s->v.host, rta + bus * 16, &re) || !(re & VIOMMU_VTD_ROOT_LO_P))
			continue;
		for (uint32_t devfn = 0; devfn < 256; devfn++) {
			uint64_t ce;

			if (vi_read64(&s->v.host, (re & VIOMMU_VTD_ROOT_LO_CTP_MASK) + devfn * 16,
				      &ce))
				break;
			if (ce & VIOMMU_VTD_CTX_LO_P)
				vi_sync_mark_seen(sy(s), bus << 8 | devfn);
		}
	}
}

void vi_vtd_sync(struct vtd *s, enum vtd_sync_scope scope, uint32_t did, uint32_t sid, uint32_t fm,
		 uint64_t first, uint64_t last)
{
	struct vi_sync *y = sy(s);
	bool any;

	if (!vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	any = vi_sync_mark_listeners(y);
	if (scope == VTD_SYNC_DEVICE) {
		/* FM ignores up to three low function bits: at most eight requesters. */
		uint32_t ign = fm == 0 ? 0 : fm == 1 ? 4 : fm == 2 ? 6 : 7;
		uint32_t base = sid & 0xffff & ~ign;

		for (uint32_t f = 0; f < 8; f++) {
			if (!(f & ~ign))
				vi_sync_sid(y, base | f, false, did, first, last);
		}
		return;
	}
	if (scope == VTD_SYNC_ALL && any && (s->gsts & VIOMMU_VTD_GSTS_TES))
		scan_tables(s);
	vi_sync_seen(y, scope == VTD_SYNC_DOMAIN, did, first, last);
}

int vi_vtd_replay(struct viommu *v, struct viommu_notifier *n)
{
	struct vtd *s = to_vtd(v);
	uint32_t lo = n->sid == VIOMMU_SID_ANY ? 0 : n->sid;
	uint32_t hi = n->sid == VIOMMU_SID_ANY ? VTD_NSID - 1 : n->sid;

	if (!(n->events & VIOMMU_EV_MAP))
		return 0;
	if (lo >= VTD_NSID)
		return VIOMMU_EINVAL;
	s->budget = VTD_SYNC_BUDGET;
	s->scanned = false;
	if (n->sid == VIOMMU_SID_ANY && (s->gsts & VIOMMU_VTD_GSTS_TES))
		scan_tables(s);
	else
		vi_sync_mark_seen(sy(s), lo);
	return vi_sync_replay(sy(s), n, lo, hi);
}
