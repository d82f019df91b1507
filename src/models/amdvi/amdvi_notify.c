// SPDX-License-Identifier: MIT
/*
 * MAP/UNMAP synchronisation of consumers (shadow page tables, device IOTLBs).
 *
 * With NpCache the guest invalidates after every change, including not-present -> present, so
 * each INVALIDATE_IOMMU_PAGES tells the IOMMU which input range to look at again. The record of
 * what each device's MAP consumers hold and the diff against the tables are shared with VT-d
 * (core/sync.c); this file supplies AMD-Vi's view of a device (device table entries, v1 walks,
 * the exclusion range) and the invalidation scopes.
 */
#include <stdlib.h>

#include "amdvi_internal.h"

#define EV_MAP_UNMAP (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP)

static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom);

static int dom_of(void *ctx, uint32_t sid, uint32_t *dom)
{
	struct amdvi_dte d;
	uint64_t addr;
	int r = vi_amdvi_dte_get(ctx, sid, &d, &addr);

	if (!r)
		*dom = d.domid;
	return r;
}

/* The shared sync, pointed at this unit's state (cheap: set before every use). */
static struct vi_sync *sy(struct amdvi *s)
{
	struct vi_sync *y = &s->sync;

	y->v = &s->v;
	y->name = "amdvi";
	y->nsid = AMDVI_NDEV;
	y->seen = s->seen;
	y->budget = &s->budget;
	y->nmap = &s->st.notify_map;
	y->nunmap = &s->st.notify_unmap;
	/* DMA to the interrupt range is never translated. */
	y->intr_first = AMDVI_INTR_FIRST;
	y->intr_last = AMDVI_INTR_LAST;
	y->view = current_view;
	y->dom_of = dom_of;
	y->ctx = s;
	return y;
}

void vi_amdvi_notify_fini(struct amdvi *s)
{
	vi_sync_fini(&s->sync);
}

/*
 * The exclusion range overlaps [x, end] for device entry @d: the model then reports nothing
 * for the piece (a consumer must not be told a translation a request there does not get).
 */
static bool excluded_any(const struct amdvi *s, const struct amdvi_dte *d, uint64_t x, uint64_t end)
{
	uint64_t base = s->excl_base & VIOMMU_AMDVI_EXCL_ADDR_MASK;
	uint64_t last = s->excl_limit | 0xfff;

	if (!(s->excl_base & VIOMMU_AMDVI_EXCL_EN) || base > last ||
	    (!d->ex && !(s->excl_base & VIOMMU_AMDVI_EXCL_ALLOW)))
		return false;
	return !(end < base || x > last);
}

/*
 * A GIoV device's view: its requests without PASID through GCR3 entry 0's guest tables, one v2
 * walk per leaf or per blocked span, the non-canonical hole of its 4- or 5-level tables (48- or
 * 57-bit inputs) skipped.
 */
static bool giov_view(struct vi_sync *y, struct amdvi *s, const struct amdvi_dte *d, uint64_t a,
		      uint64_t b)
{
	const uint64_t lo_last = (1ull << (12 + 9 * d->glevels - 1)) - 1, hi_first = ~lo_last;

	for (uint64_t x = a;;) {
		struct amdvi_leaf l;
		uint32_t span, code, flags;
		uint64_t end, addr;

		if (x > lo_last && x < hi_first) {
			if (b < hi_first)
				return true;
			x = hi_first;
		}
		if (s->budget == 0)
			return false;
		s->budget--;
		code = vi_amdvi_v2_walk(s, d, 0, x, 0, &l, &span, &flags, &addr);
		if (code || !l.perm) {
			end = span >= 64 ? UINT64_MAX : x | ((1ull << span) - 1);
		} else {
			end = l.iova + ((1ull << l.shift) - 1);
			if (!excluded_any(s, d, x, end) &&
			    !vi_sync_add_piece(y, x, end < b ? end : b, l.out + (x - l.iova),
					       l.perm))
				return false;
		}
		if (end >= b)
			return true;
		x = end + 1;
	}
}

/* Fill the sync's pieces with what @sid translates in [a, b] now; false when out of memory. */
static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom)
{
	struct amdvi *s = ctx;
	struct amdvi_dte dte, *d = &dte;
	uint64_t top, addr;

	*has_dom = false;
	if (!amdvi_enabled(s))
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	if (vi_amdvi_dte_get(s, sid, d, &addr))
		return true; /* no usable entry: nothing translates */
	*has_dom = true;
	*dom = d->domid;
	if (d->kind == AMDVI_DTE_PASS)
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	if (d->giov)
		return giov_view(y, s, d, a, b);
	if (d->kind == AMDVI_DTE_MODE0)
		return !d->perm || vi_sync_add_piece(y, a, b, a, d->perm);
	top = d->v1.levels >= 6 ? UINT64_MAX : (1ull << (12 + 9 * d->v1.levels)) - 1;
	if (a > top)
		return true;
	if (b > top)
		b = top;
	/*
	 * One walk per leaf or per hole, a hole skipped whole at the level it was found. Aliased
	 * tables can make a range hold 2^52 leaves or empty tables, so the walks are budgeted. The
	 * exclusion range is left out: requests there are not translated (they pass untranslated
	 * with the same result for every device that may use it).
	 */
	for (uint64_t x = a;;) {
		struct amdvi_leaf l;
		uint32_t level, code, flags;
		uint64_t end, span;

		if (s->budget == 0)
			return false;
		s->budget--;
		code = vi_amdvi_walk(s, d, x, &l, &level, &flags, &addr);
		if (code || !l.perm) {
			/* Nothing translates in the entry that stopped the walk. */
			span = level ? 1ull << (12 + 9 * (level - 1)) : 1ull << 12;
			end = x | (span - 1);
		} else {
			end = l.iova + ((1ull << l.shift) - 1);
			if (!excluded_any(s, d, x, end)) {
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

/* Mark every device with a valid entry (a bounded scan of the device table, at most 65536). */
static void scan_table(struct amdvi *s)
{
	uint64_t base = s->devtab & VIOMMU_AMDVI_DEV_TABLE_BASE_MASK;
	uint64_t n =
		(VIOMMU_AMDVI_DEV_TABLE_SIZE_GET(s->devtab) + 1) * 4096 / VIOMMU_AMDVI_DTE_SIZE;

	/* Once per guest action: the table cannot change while one register write runs. */
	if (s->scanned)
		return;
	s->scanned = true;
	if (n > AMDVI_NDEV)
		n = AMDVI_NDEV;
	for (uint64_t devid = 0; devid < n; devid++) {
		uint64_t q0;

		if (vi_read64(&s->v.host, base + devid * VIOMMU_AMDVI_DTE_SIZE, &q0))
			break;
		if (q0 & VIOMMU_AMDVI_DTE0_V)
			vi_sync_mark_seen(sy(s), (uint32_t)devid);
	}
}

void vi_amdvi_sync(struct amdvi *s, enum amdvi_sync_scope scope, uint32_t did, uint32_t sid,
		   uint64_t first, uint64_t last)
{
	struct vi_sync *y = sy(s);
	bool any;

	if (!vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	any = vi_sync_mark_listeners(y);
	if (scope == AMDVI_SYNC_DEVICE) {
		vi_sync_sid(y, sid & 0xffff, false, did, first, last);
		return;
	}
	if (scope == AMDVI_SYNC_ALL && any && amdvi_enabled(s))
		scan_table(s);
	vi_sync_seen(y, scope == AMDVI_SYNC_DOMAIN, did, first, last);
}

int vi_amdvi_replay(struct viommu *v, struct viommu_notifier *n)
{
	struct amdvi *s = to_amdvi(v);
	uint32_t lo = n->sid == VIOMMU_SID_ANY ? 0 : n->sid;
	uint32_t hi = n->sid == VIOMMU_SID_ANY ? AMDVI_NDEV - 1 : n->sid;

	if (!(n->events & VIOMMU_EV_MAP))
		return 0;
	if (lo >= AMDVI_NDEV)
		return VIOMMU_EINVAL;
	s->budget = AMDVI_SYNC_BUDGET;
	s->scanned = false;
	if (n->sid == VIOMMU_SID_ANY && amdvi_enabled(s))
		scan_table(s);
	else
		vi_sync_mark_seen(sy(s), lo);
	return vi_sync_replay(sy(s), n, lo, hi);
}
