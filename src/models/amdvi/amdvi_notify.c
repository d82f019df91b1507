// SPDX-License-Identifier: MIT
/*
 * MAP/UNMAP synchronisation of consumers (shadow page tables, device IOTLBs), mirrored from the
 * VT-d model's caching-mode sync (src/models/vtd/vtd_notify.c): the diff below is the same code
 * over AMD-Vi's device table entries instead of VT-d context entries. (Sharing one copy needs
 * the diff moved into the core behind a view callback; left for a change that can re-prove the
 * VT-d model.)
 *
 * With NpCache the guest invalidates after every change, including not-present -> present, so
 * each INVALIDATE_IOMMU_PAGES tells the IOMMU which input range to look at again. For every requester in
 * the invalidation's scope:
 *  - consumers that want MAP events hold a picture of the requester's translations; the unit keeps
 *    that picture (struct amdvi_as: what was last sent) and diffs the range against the tables as
 *    they are now: a piece whose translation is unchanged is left alone (a live mapping is never
 *    unmapped transiently, qemu 63b88968f1), a changed or vanished piece gets UNMAP, then every
 *    new piece gets MAP;
 *  - consumers that only want UNMAP (caches filled by viommu_translate) get one UNMAP for the
 *    whole invalidated range.
 * Each event is inclusive [iova, last]; the pieces of one leaf may be sent separately.
 */
#include <stdlib.h>

#include "amdvi_internal.h"

#define EV_MAP_UNMAP (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP)

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static void mark_seen(struct amdvi *s, uint32_t sid)
{
	s->seen[sid / 64] |= 1ull << (sid % 64);
}

static struct amdvi_as *as_get(struct amdvi *s, uint32_t sid)
{
	if (!s->as) {
		s->as = calloc(AMDVI_NDEV, sizeof(*s->as));
		if (!s->as)
			return NULL;
	}
	if (!s->as[sid]) {
		s->as[sid] = calloc(1, sizeof(struct amdvi_as));
		if (s->as[sid])
			mark_seen(s, sid);
	}
	return s->as[sid];
}

void vi_amdvi_notify_fini(struct amdvi *s)
{
	if (s->as) {
		for (uint32_t i = 0; i < AMDVI_NDEV; i++) {
			if (s->as[i])
				free(s->as[i]->maps);
			free(s->as[i]);
		}
	}
	free(s->as);
	free(s->leaves);
	free(s->win);
	free(s->ev);
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

/* Which consumers listen for @sid: MAP ones (diffed) and UNMAP-only ones. */
static void listeners(const struct amdvi *s, uint32_t sid, bool *map, bool *unmap_only)
{
	*map = false;
	*unmap_only = false;
	for (const struct viommu_notifier *n = s->v.notifiers; n; n = n->next) {
		if (n->sid != VIOMMU_SID_ANY && n->sid != sid)
			continue;
		if (n->events & VIOMMU_EV_MAP)
			*map = true;
		else if (n->events & VIOMMU_EV_UNMAP)
			*unmap_only = true;
	}
}

static void send(struct amdvi *s, uint32_t sid, bool to_map, const struct viommu_event *ev)
{
	struct viommu_notifier *n, *next;

	for (n = s->v.notifiers; n; n = next) {
		next = n->next;
		if (n->sid != VIOMMU_SID_ANY && n->sid != sid)
			continue;
		if (!!(n->events & VIOMMU_EV_MAP) != to_map || !(n->events & ev->type))
			continue;
		if (ev->type == VIOMMU_EV_MAP)
			s->st.notify_map++;
		else
			s->st.notify_unmap++;
		vi_notifier_send_one(n, ev);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The translations of one requester over a window, as sorted pieces                          */
/* ------------------------------------------------------------------------------------------ */

static bool add_piece(struct amdvi *s, uint64_t iova, uint64_t last, uint64_t out, uint32_t perm)
{
	/* DMA to the interrupt range is never translated: leave that part out. */
	if (!(last < AMDVI_INTR_FIRST || iova > AMDVI_INTR_LAST)) {
		if (iova < AMDVI_INTR_FIRST && !add_piece(s, iova, AMDVI_INTR_FIRST - 1, out, perm))
			return false;
		if (last > AMDVI_INTR_LAST)
			return add_piece(s, AMDVI_INTR_LAST + 1, last,
					 out + (AMDVI_INTR_LAST + 1 - iova), perm);
		return true;
	}
	if (!grow((void **)&s->leaves, &s->cap_leaves, s->nleaves + 1, sizeof(*s->leaves)))
		return false;
	s->leaves[s->nleaves++] = (struct amdvi_map){ iova, last, out, perm };
	return true;
}

/* Fill s->leaves with what @sid translates in [a, b] now; false when out of memory. */
static bool current_view(struct amdvi *s, uint32_t sid, uint64_t a, uint64_t b, struct amdvi_dte *d,
			 bool *have_dte)
{
	uint64_t top, addr;

	s->nleaves = 0;
	*have_dte = false;
	if (!amdvi_enabled(s))
		return add_piece(s, a, b, a, VIOMMU_ACC_RW);
	if (vi_amdvi_dte_get(s, sid, d, &addr))
		return true; /* no usable entry: nothing translates */
	*have_dte = true;
	if (d->kind == AMDVI_DTE_PASS)
		return add_piece(s, a, b, a, VIOMMU_ACC_RW);
	/* Guest (GIoV) translations are not reported: consumers fault and ask. */
	if (d->giov)
		return true;
	if (d->kind == AMDVI_DTE_MODE0)
		return !d->perm || add_piece(s, a, b, a, d->perm);
	top = d->mode >= 6 ? UINT64_MAX : (1ull << (12 + 9 * d->mode)) - 1;
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

				if (!add_piece(s, first, last, l.out + (first - l.iova), l.perm))
					return false;
			}
		}
		if (end >= b)
			return true;
		x = end + 1;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Diff                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* First record whose end is at or above @x. */
static size_t lower(const struct amdvi_as *as, uint64_t x)
{
	size_t lo = 0, hi = as->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (as->maps[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The new piece holding @x, or NULL. */
static const struct amdvi_map *leaf_at(const struct amdvi *s, uint64_t x)
{
	size_t lo = 0, hi = s->nleaves;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->leaves[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nleaves && s->leaves[lo].iova <= x ? &s->leaves[lo] : NULL;
}

static bool push_ev(struct amdvi *s, enum viommu_event_type t, uint32_t sid,
		    const struct amdvi_map *m)
{
	if (!grow((void **)&s->ev, &s->cap_ev, s->nev + 1, sizeof(*s->ev)))
		return false;
	s->ev[s->nev++] = (struct viommu_event){ .type = t,
						 .sid = sid,
						 .iova = m->iova,
						 .last = m->last,
						 .out = t == VIOMMU_EV_MAP ? m->out : 0,
						 .perm = t == VIOMMU_EV_MAP ? m->perm : 0 };
	return true;
}

static bool push_win(struct amdvi *s, const struct amdvi_map *m)
{
	if (!grow((void **)&s->win, &s->cap_win, s->nwin + 1, sizeof(*s->win)))
		return false;
	s->win[s->nwin++] = *m;
	return true;
}

/* Replace records [i0, i1) of @as by s->win. */
static bool splice(struct amdvi_as *as, size_t i0, size_t i1, const struct amdvi_map *w, size_t nw)
{
	size_t n = as->n - (i1 - i0) + nw;

	if (!grow((void **)&as->maps, &as->cap, n, sizeof(*as->maps)))
		return false;
	if (as->n > i1)
		memmove(&as->maps[i0 + nw], &as->maps[i1], (as->n - i1) * sizeof(*as->maps));
	if (nw)
		memcpy(&as->maps[i0], w, nw * sizeof(*w));
	as->n = n;
	return true;
}

/*
 * Out of memory or walk budget half-way: the safe direction is to take everything in the window
 * away from the MAP consumers (a device faults instead of using a stale translation).
 */
static void give_up(struct amdvi *s, uint32_t sid, struct amdvi_as *as, size_t i0, size_t i1)
{
	for (size_t i = i0; i < i1; i++) {
		struct viommu_event ev = { .type = VIOMMU_EV_UNMAP,
					   .sid = sid,
					   .iova = as->maps[i].iova,
					   .last = as->maps[i].last };

		send(s, sid, true, &ev);
	}
	if (as->n > i1)
		memmove(&as->maps[i0], &as->maps[i1], (as->n - i1) * sizeof(*as->maps));
	as->n -= i1 - i0;
	vi_log(&s->v.host, VIOMMU_LOG_ERR, "amdvi: requester %04x: sync over budget or memory",
	       sid);
}

static void sync_as(struct amdvi *s, uint32_t sid, struct amdvi_as *as, uint64_t a, uint64_t b)
{
	struct amdvi_dte d;
	bool have_dte;
	size_t i0, i1, k;

	/* Widen the window to whole records so a record is either in it or untouched. */
	i0 = lower(as, a);
	if (i0 < as->n && as->maps[i0].iova < a)
		a = as->maps[i0].iova;
	i1 = lower(as, b);
	if (i1 < as->n && as->maps[i1].iova <= b && as->maps[i1].last > b)
		b = as->maps[i1].last;
	i1 = i0;
	while (i1 < as->n && as->maps[i1].iova <= b)
		i1++;

	s->nev = 0;
	s->nwin = 0;
	if (!current_view(s, sid, a, b, &d, &have_dte)) {
		give_up(s, sid, as, i0, i1);
		return;
	}
	as->has_domid = have_dte;
	as->domid = have_dte ? d.domid : 0;

	/* Records whose translation changed or vanished: UNMAP; the rest stay. */
	for (size_t i = i0; i < i1; i++) {
		const struct amdvi_map *r = &as->maps[i];
		const struct amdvi_map *l = leaf_at(s, r->iova);
		bool same = l && r->last <= l->last && l->perm == r->perm &&
			    l->out + (r->iova - l->iova) == r->out;

		if (!(same ? push_win(s, r) : push_ev(s, VIOMMU_EV_UNMAP, sid, r))) {
			give_up(s, sid, as, i0, i1);
			return;
		}
	}
	/* New pieces: what the leaves cover outside the kept records. s->win is sorted. */
	k = 0;
	{
		size_t nkept = s->nwin;
		size_t nmap_first = s->nev;

		for (size_t j = 0; j < s->nleaves; j++) {
			const struct amdvi_map *l = &s->leaves[j];
			uint64_t cur = l->iova;
			bool done = false;

			while (k < nkept && s->win[k].iova <= l->last) {
				if (s->win[k].iova > cur) {
					struct amdvi_map g = { cur, s->win[k].iova - 1,
							       l->out + (cur - l->iova), l->perm };

					if (!push_ev(s, VIOMMU_EV_MAP, sid, &g))
						goto oom;
				}
				if (s->win[k].last >= l->last)
					done = true;
				else
					cur = s->win[k].last + 1;
				k++;
			}
			if (!done) {
				struct amdvi_map g = { cur, l->last, l->out + (cur - l->iova),
						       l->perm };

				if (!push_ev(s, VIOMMU_EV_MAP, sid, &g))
					goto oom;
			}
		}
		/* The new record: kept pieces and mapped pieces, merged in order. */
		for (size_t e = nmap_first; e < s->nev; e++) {
			struct amdvi_map m = { s->ev[e].iova, s->ev[e].last, s->ev[e].out,
					       s->ev[e].perm };

			if (!push_win(s, &m))
				goto oom;
		}
		if (s->nwin > nkept) {
			/* Both halves are sorted; merge in place through the scratch tail. */
			size_t nm = s->nwin - nkept;
			struct amdvi_map *tmp = malloc(s->nwin * sizeof(*tmp));
			size_t x = 0, y = nkept, o = 0;

			if (!tmp)
				goto oom;
			while (x < nkept || y < nkept + nm) {
				if (y >= nkept + nm ||
				    (x < nkept && s->win[x].iova < s->win[y].iova))
					tmp[o++] = s->win[x++];
				else
					tmp[o++] = s->win[y++];
			}
			memcpy(s->win, tmp, s->nwin * sizeof(*tmp));
			free(tmp);
		}
	}
	if (!splice(as, i0, i1, s->win, s->nwin))
		goto oom;
	for (size_t e = 0; e < s->nev; e++)
		send(s, sid, true, &s->ev[e]);
	return;
oom:
	give_up(s, sid, as, i0, i1);
}

/* ------------------------------------------------------------------------------------------ */
/* Scope                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void sync_sid(struct amdvi *s, uint32_t sid, enum amdvi_sync_scope scope, uint32_t did,
		     uint64_t first, uint64_t last)
{
	bool map, unmap_only;

	listeners(s, sid, &map, &unmap_only);
	if (!map && !unmap_only)
		return;
	/* Deciding membership costs a DTE fetch: it is paid from the walk budget. */
	if (s->budget)
		s->budget--;
	if (scope == AMDVI_SYNC_DOMAIN && s->budget) {
		struct amdvi_dte d;
		uint64_t addr;
		const struct amdvi_as *as = s->as ? s->as[sid] : NULL;
		bool in = (as && as->has_domid && as->domid == did) ||
			  (!vi_amdvi_dte_get(s, sid, &d, &addr) && d.domid == did);

		if (!in)
			return;
	}
	if (unmap_only) {
		struct viommu_event ev = {
			.type = VIOMMU_EV_UNMAP, .sid = sid, .iova = first, .last = last
		};

		send(s, sid, false, &ev);
	}
	if (map) {
		struct amdvi_as *as = as_get(s, sid);

		if (!as) {
			struct viommu_event ev = {
				.type = VIOMMU_EV_UNMAP, .sid = sid, .iova = first, .last = last
			};

			vi_log(&s->v.host, VIOMMU_LOG_ERR,
			       "amdvi: out of memory for requester %04x", sid);
			send(s, sid, true, &ev);
			return;
		}
		sync_as(s, sid, as, first, last);
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
			mark_seen(s, (uint32_t)devid);
	}
}

void vi_amdvi_sync(struct amdvi *s, enum amdvi_sync_scope scope, uint32_t did, uint32_t sid,
		   uint64_t first, uint64_t last)
{
	bool any = false;

	if (!vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	for (const struct viommu_notifier *n = s->v.notifiers; n; n = n->next) {
		if (!(n->events & EV_MAP_UNMAP))
			continue;
		if (n->sid == VIOMMU_SID_ANY)
			any = true;
		else if (n->sid < AMDVI_NDEV)
			mark_seen(s, n->sid);
	}
	if (scope == AMDVI_SYNC_DEVICE) {
		sync_sid(s, sid & 0xffff, scope, did, first, last);
		return;
	}
	if (scope == AMDVI_SYNC_ALL && any && amdvi_enabled(s))
		scan_table(s);
	for (uint32_t w = 0; w < AMDVI_NDEV / 64; w++) {
		uint64_t bits = s->seen[w];

		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			sync_sid(s, w * 64 + b, scope, did, first, last);
		}
	}
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
		mark_seen(s, lo);
	for (uint32_t sid = lo; sid <= hi; sid++) {
		struct amdvi_as *as;

		if (!(s->seen[sid / 64] & (1ull << (sid % 64))))
			continue;
		as = s->as ? s->as[sid] : NULL;
		if (!as) {
			/* Nobody holds anything for it yet: sync it, which maps all it has. */
			as = as_get(s, sid);
			if (!as)
				return VIOMMU_ENOMEM;
			sync_as(s, sid, as, 0, UINT64_MAX);
			continue;
		}
		for (size_t i = 0; i < as->n; i++) {
			struct viommu_event ev = { .type = VIOMMU_EV_MAP,
						   .sid = sid,
						   .iova = as->maps[i].iova,
						   .last = as->maps[i].last,
						   .out = as->maps[i].out,
						   .perm = as->maps[i].perm };

			s->st.notify_map++;
			vi_notifier_send_one(n, &ev);
		}
	}
	return 0;
}
