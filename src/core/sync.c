// SPDX-License-Identifier: MIT
/*
 * Caching-mode synchronisation of MAP/UNMAP consumers (shadow page tables, device IOTLBs), shared
 * by the VT-d (CAP.CM) and AMD-Vi (NpCache) models.
 *
 * The guest invalidates after every change, including not-present -> present, so each
 * invalidation tells the unit which input range to look at again. For every requester in the
 * invalidation's scope:
 *  - consumers that want MAP events hold a picture of the requester's translations; the unit keeps
 *    that picture (struct vi_sync_as: what was last sent) and diffs the range against the tables
 *    as they are now: a piece whose translation is unchanged is left alone (a live mapping is
 *    never unmapped transiently, qemu 63b88968f1), a changed or vanished piece gets UNMAP, then
 *    every new piece gets MAP;
 *  - consumers that only want UNMAP (caches filled by viommu_translate) get one UNMAP for the
 *    whole invalidated range.
 * Each event is inclusive [iova, last]; the pieces of one leaf may be sent separately.
 */
#include <stdlib.h>

#include "sync.h"

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

void vi_sync_mark_seen(struct vi_sync *y, uint32_t sid)
{
	y->seen[sid / 64] |= 1ull << (sid % 64);
}

struct vi_sync_as *vi_sync_as_get(struct vi_sync *y, uint32_t sid)
{
	if (!y->as) {
		y->as = calloc(y->nsid, sizeof(*y->as));
		if (!y->as)
			return NULL;
	}
	if (!y->as[sid]) {
		y->as[sid] = calloc(1, sizeof(struct vi_sync_as));
		if (y->as[sid])
			vi_sync_mark_seen(y, sid);
	}
	return y->as[sid];
}

void vi_sync_fini(struct vi_sync *y)
{
	if (y->as) {
		for (uint32_t i = 0; i < y->nsid; i++) {
			if (y->as[i])
				free(y->as[i]->maps);
			free(y->as[i]);
		}
	}
	free(y->as);
	free(y->leaves);
	free(y->win);
	free(y->ev);
}

/* Which consumers listen for @sid: MAP ones (diffed) and UNMAP-only ones. */
static void listeners(const struct vi_sync *y, uint32_t sid, bool *map, bool *unmap_only)
{
	*map = false;
	*unmap_only = false;
	for (const struct viommu_notifier *n = y->v->notifiers; n; n = n->next) {
		if (n->sid != VIOMMU_SID_ANY && n->sid != sid)
			continue;
		if (n->events & VIOMMU_EV_MAP)
			*map = true;
		else if (n->events & VIOMMU_EV_UNMAP)
			*unmap_only = true;
	}
}

static void send(struct vi_sync *y, uint32_t sid, bool to_map, const struct viommu_event *ev)
{
	struct viommu_notifier *n, *next;

	for (n = y->v->notifiers; n; n = next) {
		next = n->next;
		if (n->sid != VIOMMU_SID_ANY && n->sid != sid)
			continue;
		if (!!(n->events & VIOMMU_EV_MAP) != to_map || !(n->events & ev->type))
			continue;
		if (ev->type == VIOMMU_EV_MAP)
			(*y->nmap)++;
		else
			(*y->nunmap)++;
		vi_notifier_send_one(n, ev);
	}
}

bool vi_sync_add_piece(struct vi_sync *y, uint64_t iova, uint64_t last, uint64_t out, uint32_t perm)
{
	/* DMA to the interrupt range is never translated: leave that part out. */
	if (y->intr_first <= y->intr_last && !(last < y->intr_first || iova > y->intr_last)) {
		if (iova < y->intr_first &&
		    !vi_sync_add_piece(y, iova, y->intr_first - 1, out, perm))
			return false;
		if (last > y->intr_last)
			return vi_sync_add_piece(y, y->intr_last + 1, last,
						 out + (y->intr_last + 1 - iova), perm);
		return true;
	}
	if (!grow((void **)&y->leaves, &y->cap_leaves, y->nleaves + 1, sizeof(*y->leaves)))
		return false;
	y->leaves[y->nleaves++] = (struct vi_sync_map){ iova, last, out, perm };
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Diff                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* First record whose end is at or above @x. */
static size_t lower(const struct vi_sync_as *as, uint64_t x)
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
static const struct vi_sync_map *leaf_at(const struct vi_sync *y, uint64_t x)
{
	size_t lo = 0, hi = y->nleaves;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (y->leaves[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < y->nleaves && y->leaves[lo].iova <= x ? &y->leaves[lo] : NULL;
}

static bool push_ev(struct vi_sync *y, enum viommu_event_type t, uint32_t sid,
		    const struct vi_sync_map *m)
{
	if (!grow((void **)&y->ev, &y->cap_ev, y->nev + 1, sizeof(*y->ev)))
		return false;
	y->ev[y->nev++] = (struct viommu_event){ .type = t,
						 .sid = sid,
						 .iova = m->iova,
						 .last = m->last,
						 .out = t == VIOMMU_EV_MAP ? m->out : 0,
						 .perm = t == VIOMMU_EV_MAP ? m->perm : 0 };
	return true;
}

static bool push_win(struct vi_sync *y, const struct vi_sync_map *m)
{
	if (!grow((void **)&y->win, &y->cap_win, y->nwin + 1, sizeof(*y->win)))
		return false;
	y->win[y->nwin++] = *m;
	return true;
}

/* Replace records [i0, i1) of @as by @w. */
static bool splice(struct vi_sync_as *as, size_t i0, size_t i1, const struct vi_sync_map *w,
		   size_t nw)
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
static void give_up(struct vi_sync *y, uint32_t sid, struct vi_sync_as *as, size_t i0, size_t i1)
{
	for (size_t i = i0; i < i1; i++) {
		struct viommu_event ev = { .type = VIOMMU_EV_UNMAP,
					   .sid = sid,
					   .iova = as->maps[i].iova,
					   .last = as->maps[i].last };

		send(y, sid, true, &ev);
	}
	if (as->n > i1)
		memmove(&as->maps[i0], &as->maps[i1], (as->n - i1) * sizeof(*as->maps));
	as->n -= i1 - i0;
	vi_log(&y->v->host, VIOMMU_LOG_ERR, "%s: requester %04x: sync over budget or memory",
	       y->name, sid);
}

void vi_sync_as_run(struct vi_sync *y, uint32_t sid, struct vi_sync_as *as, uint64_t a, uint64_t b)
{
	bool has_dom;
	uint32_t dom = 0;
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

	y->nev = 0;
	y->nwin = 0;
	y->nleaves = 0;
	if (!y->view(y, y->ctx, sid, a, b, &has_dom, &dom)) {
		give_up(y, sid, as, i0, i1);
		return;
	}
	as->has_dom = has_dom;
	as->dom = has_dom ? dom : 0;

	/* Records whose translation changed or vanished: UNMAP; the rest stay. */
	for (size_t i = i0; i < i1; i++) {
		const struct vi_sync_map *r = &as->maps[i];
		const struct vi_sync_map *l = leaf_at(y, r->iova);
		bool same = l && r->last <= l->last && l->perm == r->perm &&
			    l->out + (r->iova - l->iova) == r->out;

		if (!(same ? push_win(y, r) : push_ev(y, VIOMMU_EV_UNMAP, sid, r))) {
			give_up(y, sid, as, i0, i1);
			return;
		}
	}
	/* New pieces: what the leaves cover outside the kept records. y->win is sorted. */
	k = 0;
	{
		size_t nkept = y->nwin;
		size_t nmap_first = y->nev;

		for (size_t j = 0; j < y->nleaves; j++) {
			const struct vi_sync_map *l = &y->leaves[j];
			uint64_t cur = l->iova;
			bool done = false;

			while (k < nkept && y->win[k].iova <= l->last) {
				if (y->win[k].iova > cur) {
					struct vi_sync_map g = { cur, y->win[k].iova - 1,
								 l->out + (cur - l->iova),
								 l->perm };

					if (!push_ev(y, VIOMMU_EV_MAP, sid, &g))
						goto oom;
				}
				if (y->win[k].last >= l->last)
					done = true;
				else
					cur = y->win[k].last + 1;
				k++;
			}
			if (!done) {
				struct vi_sync_map g = { cur, l->last, l->out + (cur - l->iova),
							 l->perm };

				if (!push_ev(y, VIOMMU_EV_MAP, sid, &g))
					goto oom;
			}
		}
		/* The new record: kept pieces and mapped pieces, merged in order. */
		for (size_t e = nmap_first; e < y->nev; e++) {
			struct vi_sync_map m = { y->ev[e].iova, y->ev[e].last, y->ev[e].out,
						 y->ev[e].perm };

			if (!push_win(y, &m))
				goto oom;
		}
		if (y->nwin > nkept) {
			/* Both halves are sorted; merge them through a scratch copy. */
			size_t nm = y->nwin - nkept;
			struct vi_sync_map *tmp = malloc(y->nwin * sizeof(*tmp));
			size_t x = 0, z = nkept, o = 0;

			if (!tmp)
				goto oom;
			while (x < nkept || z < nkept + nm) {
				if (z >= nkept + nm ||
				    (x < nkept && y->win[x].iova < y->win[z].iova))
					tmp[o++] = y->win[x++];
				else
					tmp[o++] = y->win[z++];
			}
			memcpy(y->win, tmp, y->nwin * sizeof(*tmp));
			free(tmp);
		}
	}
	if (!splice(as, i0, i1, y->win, y->nwin))
		goto oom;
	for (size_t e = 0; e < y->nev; e++)
		send(y, sid, true, &y->ev[e]);
	return;
oom:
	give_up(y, sid, as, i0, i1);
}

/* ------------------------------------------------------------------------------------------ */
/* Scope                                                                                       */
/* ------------------------------------------------------------------------------------------ */

void vi_sync_sid(struct vi_sync *y, uint32_t sid, bool domain, uint32_t did, uint64_t first,
		 uint64_t last)
{
	bool map, unmap_only;

	listeners(y, sid, &map, &unmap_only);
	if (!map && !unmap_only)
		return;
	/* Deciding membership costs an entry fetch: it is paid from the walk budget. */
	if (*y->budget)
		(*y->budget)--;
	if (domain && *y->budget) {
		const struct vi_sync_as *as = y->as ? y->as[sid] : NULL;
		uint32_t dom;
		bool in = (as && as->has_dom && as->dom == did) ||
			  (!y->dom_of(y->ctx, sid, &dom) && dom == did);

		if (!in)
			return;
	}
	if (unmap_only) {
		struct viommu_event ev = {
			.type = VIOMMU_EV_UNMAP, .sid = sid, .iova = first, .last = last
		};

		send(y, sid, false, &ev);
	}
	if (map) {
		struct vi_sync_as *as = vi_sync_as_get(y, sid);

		if (!as) {
			struct viommu_event ev = {
				.type = VIOMMU_EV_UNMAP, .sid = sid, .iova = first, .last = last
			};

			vi_log(&y->v->host, VIOMMU_LOG_ERR, "%s: out of memory for requester %04x",
			       y->name, sid);
			send(y, sid, true, &ev);
			return;
		}
		vi_sync_as_run(y, sid, as, first, last);
	}
	/* The events of this invalidation for @sid are out: batching consumers apply them now. */
	if (vi_notify_wanted(y->v, VIOMMU_EV_SYNC)) {
		struct viommu_event ev = {
			.type = VIOMMU_EV_SYNC, .sid = sid, .iova = first, .last = last
		};

		vi_notify(y->v, &ev);
	}
}

bool vi_sync_mark_listeners(struct vi_sync *y)
{
	bool any = false;

	for (const struct viommu_notifier *n = y->v->notifiers; n; n = n->next) {
		if (!(n->events & EV_MAP_UNMAP))
			continue;
		if (n->sid == VIOMMU_SID_ANY)
			any = true;
		else if (n->sid < y->nsid)
			vi_sync_mark_seen(y, n->sid);
	}
	return any;
}

void vi_sync_seen(struct vi_sync *y, bool domain, uint32_t did, uint64_t first, uint64_t last)
{
	for (uint32_t w = 0; w < y->nsid / 64; w++) {
		uint64_t bits = y->seen[w];

		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			vi_sync_sid(y, w * 64 + b, domain, did, first, last);
		}
	}
}

int vi_sync_replay(struct vi_sync *y, struct viommu_notifier *n, uint32_t lo, uint32_t hi)
{
	for (uint32_t sid = lo; sid <= hi; sid++) {
		struct vi_sync_as *as;

		if (!(y->seen[sid / 64] & (1ull << (sid % 64))))
			continue;
		as = y->as ? y->as[sid] : NULL;
		if (!as) {
			/* Nobody holds anything for it yet: sync it, which maps all it has. */
			as = vi_sync_as_get(y, sid);
			if (!as)
				return VIOMMU_ENOMEM;
			vi_sync_as_run(y, sid, as, 0, UINT64_MAX);
			continue;
		}
		for (size_t i = 0; i < as->n; i++) {
			struct viommu_event ev = { .type = VIOMMU_EV_MAP,
						   .sid = sid,
						   .iova = as->maps[i].iova,
						   .last = as->maps[i].last,
						   .out = as->maps[i].out,
						   .perm = as->maps[i].perm };

			(*y->nmap)++;
			vi_notifier_send_one(n, &ev);
		}
	}
	return 0;
}
