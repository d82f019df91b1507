// SPDX-License-Identifier: MIT
/*
 * Caching-mode synchronisation of MAP/UNMAP consumers (shadow page tables, device IOTLBs).
 *
 * With CAP.CM the guest invalidates after every change, including not-present -> present, so
 * each invalidation tells the unit which input range to look at again. For every requester in
 * the invalidation's scope:
 *  - consumers that want MAP events hold a picture of the requester's translations; the unit keeps
 *    that picture (struct vtd_as: what was last sent) and diffs the range against the tables as
 *    they are now: a piece whose translation is unchanged is left alone (a live mapping is never
 *    unmapped transiently, qemu 63b88968f1), a changed or vanished piece gets UNMAP, then every
 *    new piece gets MAP;
 *  - consumers that only want UNMAP (caches filled by viommu_translate) get one UNMAP for the
 *    whole invalidated range.
 * Each event is inclusive [iova, last]; the pieces of one leaf may be sent separately.
 */
#include <stdlib.h>

#include "vtd_internal.h"

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

static void mark_seen(struct vtd *s, uint32_t sid)
{
	s->seen[sid / 64] |= 1ull << (sid % 64);
}

static struct vtd_as *as_get(struct vtd *s, uint32_t sid)
{
	if (!s->as) {
		s->as = calloc(VTD_NSID, sizeof(*s->as));
		if (!s->as)
			return NULL;
	}
	if (!s->as[sid]) {
		s->as[sid] = calloc(1, sizeof(struct vtd_as));
		if (s->as[sid])
			mark_seen(s, sid);
	}
	return s->as[sid];
}

void vi_vtd_notify_fini(struct vtd *s)
{
	if (s->as) {
		for (uint32_t i = 0; i < VTD_NSID; i++) {
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

/* Which consumers listen for @sid: MAP ones (diffed) and UNMAP-only ones. */
static void listeners(const struct vtd *s, uint32_t sid, bool *map, bool *unmap_only)
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

static void send(struct vtd *s, uint32_t sid, bool to_map, const struct viommu_event *ev)
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

static bool add_piece(struct vtd *s, uint64_t iova, uint64_t last, uint64_t out, uint32_t perm)
{
	/* DMA to the interrupt range is never translated (§3.15): leave that part out. */
	if (!(last < VIOMMU_VTD_INTR_ADDR_FIRST || iova > VIOMMU_VTD_INTR_ADDR_LAST)) {
		if (iova < VIOMMU_VTD_INTR_ADDR_FIRST &&
		    !add_piece(s, iova, VIOMMU_VTD_INTR_ADDR_FIRST - 1, out, perm))
			return false;
		if (last > VIOMMU_VTD_INTR_ADDR_LAST)
			return add_piece(s, VIOMMU_VTD_INTR_ADDR_LAST + 1, last,
					 out + (VIOMMU_VTD_INTR_ADDR_LAST + 1 - iova), perm);
		return true;
	}
	if (!grow((void **)&s->leaves, &s->cap_leaves, s->nleaves + 1, sizeof(*s->leaves)))
		return false;
	s->leaves[s->nleaves++] = (struct vtd_map){ iova, last, out, perm };
	return true;
}

/* Fill s->leaves with what @sid translates in [a, b] now; false when out of memory. */
static bool current_view(struct vtd *s, uint32_t sid, uint64_t a, uint64_t b, struct vtd_ctx *c,
			 bool *have_ctx)
{
	uint64_t top;

	s->nleaves = 0;
	*have_ctx = false;
	if (!(s->gsts & VIOMMU_VTD_GSTS_TES))
		return add_piece(s, a, b, a, VIOMMU_ACC_RW);
	if (vi_vtd_ctx_get(s, sid, c))
		return true; /* no usable context: nothing translates */
	*have_ctx = true;
	top = c->aw_bits >= 64 ? UINT64_MAX : (1ull << c->aw_bits) - 1;
	if (a > top)
		return true;
	if (b > top)
		b = top;
	if (c->tt == VIOMMU_VTD_CTX_TT_PASS_THROUGH)
		return add_piece(s, a, b, a, VIOMMU_ACC_RW);
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
		reason = vi_vtd_ctx_walk(s, c, x, &l, &level);
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
static size_t lower(const struct vtd_as *as, uint64_t x)
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
static const struct vtd_map *leaf_at(const struct vtd *s, uint64_t x)
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

static bool push_ev(struct vtd *s, enum viommu_event_type t, uint32_t sid, const struct vtd_map *m)
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

static bool push_win(struct vtd *s, const struct vtd_map *m)
{
	if (!grow((void **)&s->win, &s->cap_win, s->nwin + 1, sizeof(*s->win)))
		return false;
	s->win[s->nwin++] = *m;
	return true;
}

/* Replace records [i0, i1) of @as by s->win. */
static bool splice(struct vtd_as *as, size_t i0, size_t i1, const struct vtd_map *w, size_t nw)
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
static void give_up(struct vtd *s, uint32_t sid, struct vtd_as *as, size_t i0, size_t i1)
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
	vi_log(&s->v.host, VIOMMU_LOG_ERR, "vtd: requester %04x: sync over budget or memory", sid);
}

static void sync_as(struct vtd *s, uint32_t sid, struct vtd_as *as, uint64_t a, uint64_t b)
{
	struct vtd_ctx c;
	bool have_ctx;
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
	if (!current_view(s, sid, a, b, &c, &have_ctx)) {
		give_up(s, sid, as, i0, i1);
		return;
	}
	as->has_did = have_ctx;
	as->did = have_ctx ? c.did : 0;

	/* Records whose translation changed or vanished: UNMAP; the rest stay. */
	for (size_t i = i0; i < i1; i++) {
		const struct vtd_map *r = &as->maps[i];
		const struct vtd_map *l = leaf_at(s, r->iova);
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
			const struct vtd_map *l = &s->leaves[j];
			uint64_t cur = l->iova;
			bool done = false;

			while (k < nkept && s->win[k].iova <= l->last) {
				if (s->win[k].iova > cur) {
					struct vtd_map g = { cur, s->win[k].iova - 1,
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
				struct vtd_map g = { cur, l->last, l->out + (cur - l->iova),
						     l->perm };

				if (!push_ev(s, VIOMMU_EV_MAP, sid, &g))
					goto oom;
			}
		}
		/* The new record: kept pieces and mapped pieces, merged in order. */
		for (size_t e = nmap_first; e < s->nev; e++) {
			struct vtd_map m = { s->ev[e].iova, s->ev[e].last, s->ev[e].out,
					     s->ev[e].perm };

			if (!push_win(s, &m))
				goto oom;
		}
		if (s->nwin > nkept) {
			/* Both halves are sorted; merge in place through the scratch tail. */
			size_t nm = s->nwin - nkept;
			struct vtd_map *tmp = malloc(s->nwin * sizeof(*tmp));
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

static void sync_sid(struct vtd *s, uint32_t sid, enum vtd_sync_scope scope, uint32_t did,
		     uint64_t first, uint64_t last)
{
	bool map, unmap_only;

	listeners(s, sid, &map, &unmap_only);
	if (!map && !unmap_only)
		return;
	/* Deciding membership costs a context fetch: it is paid from the walk budget. */
	if (s->budget)
		s->budget--;
	if (scope == VTD_SYNC_DOMAIN && s->budget) {
		struct vtd_ctx c;
		const struct vtd_as *as = s->as ? s->as[sid] : NULL;
		bool in = (as && as->has_did && as->did == did) ||
			  (!vi_vtd_ctx_get(s, sid, &c) && c.did == did);

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
		struct vtd_as *as = as_get(s, sid);

		if (!as) {
			struct viommu_event ev = {
				.type = VIOMMU_EV_UNMAP, .sid = sid, .iova = first, .last = last
			};

			vi_log(&s->v.host, VIOMMU_LOG_ERR, "vtd: out of memory for requester %04x",
			       sid);
			send(s, sid, true, &ev);
			return;
		}
		sync_as(s, sid, as, first, last);
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
				mark_seen(s, bus << 8 | devfn);
		}
	}
}

void vi_vtd_sync(struct vtd *s, enum vtd_sync_scope scope, uint32_t did, uint32_t sid, uint32_t fm,
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
		else if (n->sid < VTD_NSID)
			mark_seen(s, n->sid);
	}
	if (scope == VTD_SYNC_DEVICE) {
		/* FM ignores up to three low function bits: at most eight requesters. */
		uint32_t ign = fm == 0 ? 0 : fm == 1 ? 4 : fm == 2 ? 6 : 7;
		uint32_t base = sid & 0xffff & ~ign;

		for (uint32_t f = 0; f < 8; f++) {
			if (!(f & ~ign))
				sync_sid(s, base | f, scope, did, first, last);
		}
		return;
	}
	if (scope == VTD_SYNC_ALL && any && (s->gsts & VIOMMU_VTD_GSTS_TES))
		scan_tables(s);
	for (uint32_t w = 0; w < VTD_NSID / 64; w++) {
		uint64_t bits = s->seen[w];

		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			sync_sid(s, w * 64 + b, scope, did, first, last);
		}
	}
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
		mark_seen(s, lo);
	for (uint32_t sid = lo; sid <= hi; sid++) {
		struct vtd_as *as;

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
