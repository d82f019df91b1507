// SPDX-License-Identifier: MIT
/*
 * The shadow engine: MAP/UNMAP events of any model -> host map/unmap calls.
 *
 * Events only record what the guest asked for, in the device's pending set (host addresses
 * already looked up; a hole for what must not be reachable). A barrier (VIOMMU_EV_SYNC, or the
 * VMM's flush) diffs the pending set against the held set, the record of what the host holds:
 *  1. for each pending piece, held parts that differ are to be removed (rem), pending parts the
 *     host does not hold yet are to be mapped (map); held parts equal to what is pending stay;
 *  2. on a host that cannot split its mappings, a removal touching part of a held mapping
 *     removes all of it and maps the rest again (the only case where a live page goes away);
 *  3. unmaps first (adjacent removals, and removals separated only by holes, in one call), then
 *     maps (adjacent pieces with contiguous host addresses and equal rights in one call when
 *     coalescing), then one commit.
 * Work is bounded by the number of pieces pending and of held mappings they overlap, never by
 * the size of a range.
 */
#include <stdlib.h>
#include <string.h>

#include "shadow_internal.h"

#define ADDR_MAX UINT64_MAX

void viommu_shadow_config_init(struct viommu_shadow_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->page_size = 4096;
	cfg->max_mappings = 65535;
	cfg->ranges[0] = (struct viommu_shadow_range){ 0, (1ull << 48) - 1 };
	cfg->nranges = 1;
	cfg->coalesce = VIOMMU_SHADOW_COALESCE_AUTO;
	cfg->max_segments = 65536;
	cfg->max_pending = 4096;
}

int viommu_shadow_create(const struct viommu_shadow_config *cfg, struct viommu_shadow **out)
{
	struct viommu_shadow *sh;
	uint64_t ps;

	if (!cfg || !out || !cfg->gpa_to_host)
		return VIOMMU_EINVAL;
	ps = cfg->page_size;
	if (ps < 4096 || (ps & (ps - 1)) || !cfg->nranges ||
	    cfg->nranges > VIOMMU_SHADOW_MAX_RANGES || cfg->coalesce > VIOMMU_SHADOW_COALESCE_OFF ||
	    !cfg->max_segments || !cfg->max_pending)
		return VIOMMU_EINVAL;
	for (uint32_t i = 0; i < cfg->nranges; i++) {
		const struct viommu_shadow_range *r = &cfg->ranges[i];

		/* Sorted, disjoint, page-aligned, and last + 1 representable (sizes fit 64 bits). */
		if (r->first > r->last || r->last == ADDR_MAX || (r->first & (ps - 1)) ||
		    ((r->last + 1) & (ps - 1)) || (i && r->first <= cfg->ranges[i - 1].last))
			return VIOMMU_EINVAL;
	}
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return VIOMMU_ENOMEM;
	sh->cfg = *cfg;
	*out = sh;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reporting                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void report(struct viommu_shadow_dev *d, enum viommu_shadow_error_kind kind, int code,
		   uint64_t a, uint64_t b, uint64_t gpa)
{
	struct viommu_shadow *sh = d->sh;
	struct viommu_shadow_error err = { .kind = kind,
					   .code = code,
					   .sid = d->sid,
					   .pasid = d->pasid,
					   .has_pasid = d->has_pasid,
					   .iova = a,
					   .last = b,
					   .gpa = gpa };

	d->st.errors++;
	if (sh->cfg.error)
		sh->cfg.error(sh->cfg.opaque, &err);
}

static uint64_t pages(const struct viommu_shadow_dev *d, uint64_t a, uint64_t b)
{
	/* b - a + 1 may be 2^64: count pages without forming it. */
	return ((b - a) >> __builtin_ctzll(d->sh->cfg.page_size)) + 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Host calls                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Remove held [a, b] from the record (the host already did). Needs one spare entry. */
static uint64_t held_remove(struct viommu_shadow_dev *d, uint64_t a, uint64_t b)
{
	uint64_t n = 0;
	size_t i = vi_shadow_set_lower(&d->held, a), at;

	for (; i < d->held.n && d->held.e[i].iova <= b; i++) {
		uint64_t x = d->held.e[i].iova > a ? d->held.e[i].iova : a;
		uint64_t y = d->held.e[i].last < b ? d->held.e[i].last : b;

		n += pages(d, x, y);
	}
	vi_shadow_set_carve(&d->held, a, b, &at);
	d->st.held_pages -= n;
	return n;
}

static int host_unmap(struct viommu_shadow_dev *d, uint64_t a, uint64_t b)
{
	int ret = d->ops->unmap(d->ctx, a, b - a + 1);

	d->st.unmap_calls++;
	if (ret) {
		report(d, VIOMMU_SHADOW_ERR_HOST_UNMAP, ret, a, b, 0);
		return ret;
	}
	d->st.unmap_pages += held_remove(d, a, b);
	return 0;
}

/*
 * Last resort when memory runs out: take whole held mappings overlapping [a, b] away from the
 * device (it faults instead of reaching memory the guest may have taken back). Allocates nothing.
 */
static void drop_range(struct viommu_shadow_dev *d, uint64_t a, uint64_t b)
{
	size_t i = vi_shadow_set_lower(&d->held, a);

	while (i < d->held.n && d->held.e[i].iova <= b) {
		struct vi_shadow_ext h = d->held.e[i];

		d->st.unmap_calls++;
		if (d->ops->unmap(d->ctx, h.iova, h.last - h.iova + 1)) {
			report(d, VIOMMU_SHADOW_ERR_HOST_UNMAP, VIOMMU_EIO, h.iova, h.last, 0);
			i++;
			continue;
		}
		d->st.unmap_pages += pages(d, h.iova, h.last);
		d->st.held_pages -= pages(d, h.iova, h.last);
		memmove(&d->held.e[i], &d->held.e[i + 1], (d->held.n - i - 1) * sizeof(h));
		d->held.n--;
	}
	report(d, VIOMMU_SHADOW_ERR_NOMEM, VIOMMU_ENOMEM, a, b, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Diff                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Append [a, b] to the removal list, merging with an adjacent previous one. */
static int push_rem(struct viommu_shadow *sh, uint64_t a, uint64_t b)
{
	struct vi_shadow_set *r = &sh->rem;
	struct vi_shadow_ext x = { .iova = a, .last = b, .present = true };

	if (r->n && r->e[r->n - 1].last != ADDR_MAX && r->e[r->n - 1].last + 1 == a) {
		r->e[r->n - 1].last = b;
		return 0;
	}
	return vi_shadow_set_insert(r, r->n, &x);
}

static int push_map(struct viommu_shadow *sh, uint64_t a, uint64_t b, uint64_t host, uint32_t perm,
		    uint64_t src)
{
	struct vi_shadow_ext x = {
		.iova = a, .last = b, .host = host, .perm = perm, .src = src, .present = true
	};

	return vi_shadow_set_insert(&sh->map, sh->map.n, &x);
}

static int cmp_ext(const void *pa, const void *pb)
{
	const struct vi_shadow_ext *a = pa, *b = pb;

	return a->iova < b->iova ? -1 : a->iova > b->iova;
}

/* Step 1: what to remove and what to map for each pending piece. */
static int diff(struct viommu_shadow_dev *d)
{
	struct viommu_shadow *sh = d->sh;

	size_t j = 0;

	for (size_t i = 0; i < d->pend.n; i++) {
		const struct vi_shadow_ext *o = &d->pend.e[i];
		uint64_t cur = o->iova;
		bool done = false;

		/*
		 * Pending pieces are sorted: the held mapping where the last one stopped is where this
		 * one starts, unless a gap lies between (then search).
		 */
		if (j < d->held.n && d->held.e[j].last < o->iova)
			j++;
		if (i == 0 || (j < d->held.n && d->held.e[j].last < o->iova))
			j = vi_shadow_set_lower(&d->held, o->iova);

		for (; j < d->held.n && d->held.e[j].iova <= o->last; j++) {
			const struct vi_shadow_ext *h = &d->held.e[j];
			uint64_t x = h->iova > o->iova ? h->iova : o->iova;
			uint64_t y = h->last < o->last ? h->last : o->last;
			bool same = o->present && o->perm == h->perm &&
				    o->host + (x - o->iova) == h->host + (x - h->iova);

			if (o->present && cur < x &&
			    push_map(sh, cur, x - 1, o->host + (cur - o->iova), o->perm, i))
				return VIOMMU_ENOMEM;
			if (same) {
				d->st.kept_pages += pages(d, x, y);
			} else {
				if (push_rem(sh, x, y))
					return VIOMMU_ENOMEM;
				if (o->present &&
				    push_map(sh, x, y, o->host + (x - o->iova), o->perm, i))
					return VIOMMU_ENOMEM;
			}
			if (y == o->last) {
				done = true;
				break;
			}
			cur = y + 1;
		}
		if (o->present && !done &&
		    push_map(sh, cur, o->last, o->host + (cur - o->iova), o->perm, i))
			return VIOMMU_ENOMEM;
	}
	return 0;
}

/* Step 2, for a host that cannot split: removals grow to whole mappings, the rest is remapped. */
static int widen(struct viommu_shadow_dev *d)
{
	struct viommu_shadow *sh = d->sh;
	struct vi_shadow_set old = sh->rem;
	size_t k = 0, nmap = sh->map.n;
	int ret = 0;

	sh->rem = (struct vi_shadow_set){ 0 };
	for (size_t r = 0; r < old.n && !ret; r++) {
		size_t j = vi_shadow_set_lower(&d->held, old.e[r].iova);

		for (; j < d->held.n && d->held.e[j].iova <= old.e[r].last && !ret; j++) {
			const struct vi_shadow_ext *h = &d->held.e[j];
			uint64_t cur = h->iova;
			bool done = false;

			if (sh->rem.n && sh->rem.e[sh->rem.n - 1].last >= h->iova)
				continue; /* already widened through an earlier removal */
			/* The parts of h outside every removal survive and are mapped again. */
			while (k < old.n && old.e[k].last < h->iova)
				k++;
			for (size_t q = k; q < old.n && old.e[q].iova <= h->last; q++) {
				if (old.e[q].iova > cur) {
					ret = push_map(sh, cur, old.e[q].iova - 1,
						       h->host + (cur - h->iova), h->perm,
						       ADDR_MAX - j);
					d->st.remapped_pages += pages(d, cur, old.e[q].iova - 1);
				}
				if (old.e[q].last >= h->last) {
					done = true;
					break;
				}
				cur = old.e[q].last + 1;
			}
			if (!done && !ret) {
				ret = push_map(sh, cur, h->last, h->host + (cur - h->iova), h->perm,
					       ADDR_MAX - j);
				d->st.remapped_pages += pages(d, cur, h->last);
			}
			if (!ret)
				ret = push_rem(sh, h->iova, h->last);
		}
	}
	vi_shadow_set_fini(&old);
	if (!ret && sh->map.n != nmap)
		qsort(sh->map.e, sh->map.n, sizeof(*sh->map.e), cmp_ext);
	return ret;
}

/* True when nothing the host keeps lies strictly between removals @a and @b. */
static bool gap_empty(const struct viommu_shadow_dev *d, const struct vi_shadow_ext *a,
		      const struct vi_shadow_ext *b)
{
	size_t i;

	if (a->last + 1 >= b->iova)
		return true;
	i = vi_shadow_set_lower(&d->held, a->last + 1);
	return i == d->held.n || d->held.e[i].iova > b->iova - 1;
}

static bool overlaps_failed(const struct vi_shadow_set *failed, const struct vi_shadow_ext *m)
{
	size_t i = vi_shadow_set_lower(failed, m->iova);

	return i < failed->n && failed->e[i].iova <= m->last;
}

static void flush_dev(struct viommu_shadow_dev *d)
{
	struct viommu_shadow *sh = d->sh;
	struct vi_shadow_set failed = { 0 };
	bool co = sh->cfg.coalesce == VIOMMU_SHADOW_COALESCE_ON ||
		  (sh->cfg.coalesce == VIOMMU_SHADOW_COALESCE_AUTO &&
		   (d->ops->flags & VIOMMU_SHADOW_HOST_SPLIT));
	bool split = d->ops->flags & VIOMMU_SHADOW_HOST_SPLIT;
	bool calls = false;
	size_t n;

	if (!d->pend.n)
		return;
	d->st.flushes++;
	sh->rem.n = 0;
	sh->map.n = 0;
	if (diff(d) || (!split && sh->rem.n && widen(d)) ||
	    vi_shadow_set_reserve(&d->held, d->held.n + sh->rem.n + sh->map.n + 2)) {
		/* No memory to work out the difference: take the whole pending span away. */
		uint64_t a = d->pend.e[0].iova, b = d->pend.e[d->pend.n - 1].last;

		d->pend.n = 0;
		drop_range(d, a, b);
		if (d->ops->commit)
			d->ops->commit(d->ctx);
		d->st.commits++;
		return;
	}

	/* Unmaps: removals separated only by holes go in one call. */
	for (size_t i = 0; i < sh->rem.n; i = n) {
		struct vi_shadow_ext r = sh->rem.e[i];

		for (n = i + 1; n < sh->rem.n && gap_empty(d, &sh->rem.e[n - 1], &sh->rem.e[n]);
		     n++)
			r.last = sh->rem.e[n].last;
		calls = true;
		if (host_unmap(d, r.iova, r.last))
			vi_shadow_set_insert(&failed, failed.n, &r);
	}

	/* Maps: adjacent pieces with contiguous host addresses and equal rights in one call. */
	for (size_t i = 0; i < sh->map.n; i = n) {
		struct vi_shadow_ext m = sh->map.e[i];
		size_t at;
		int ret;

		for (n = i + 1; n < sh->map.n; n++) {
			const struct vi_shadow_ext *x = &sh->map.e[n];

			if (x->iova != m.last + 1 || x->perm != m.perm ||
			    x->host != m.host + (m.last - m.iova + 1) || (!co && x->src != m.src))
				break;
			m.last = x->last;
		}
		if (failed.n && overlaps_failed(&failed, &m)) {
			/* The old mapping is still there: the host would refuse this one. */
			report(d, VIOMMU_SHADOW_ERR_HOST_MAP, VIOMMU_EEXIST, m.iova, m.last, 0);
			continue;
		}
		if (sh->cfg.max_mappings && d->held.n >= sh->cfg.max_mappings) {
			report(d, VIOMMU_SHADOW_ERR_LIMIT, VIOMMU_ENOSPC, m.iova, m.last, 0);
			continue;
		}
		calls = true;
		d->st.map_calls++;
		ret = d->ops->map(d->ctx, m.iova, m.last - m.iova + 1, m.host, m.perm);
		if (ret) {
			report(d, VIOMMU_SHADOW_ERR_HOST_MAP, ret, m.iova, m.last, 0);
			continue;
		}
		d->st.map_pages += pages(d, m.iova, m.last);
		d->st.held_pages += pages(d, m.iova, m.last);
		m.present = true;
		m.src = 0;
		at = vi_shadow_set_lower(&d->held, m.iova);
		/* Room was reserved above; the range is free in the record by construction. */
		vi_shadow_set_insert(&d->held, at, &m);
	}
	vi_shadow_set_fini(&failed);
	d->pend.n = 0;
	if (calls) {
		int ret = d->ops->commit ? d->ops->commit(d->ctx) : 0;

		d->st.commits++;
		if (ret)
			report(d, VIOMMU_SHADOW_ERR_HOST_MAP, ret, 0, ADDR_MAX, 0);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Append to the event scratch, merging adjacent holes. */
static int ev_push(struct viommu_shadow *sh, uint64_t a, uint64_t b, uint64_t host, uint32_t perm,
		   bool present)
{
	struct vi_shadow_set *s = &sh->ev;
	struct vi_shadow_ext x = {
		.iova = a, .last = b, .host = host, .perm = perm, .present = present
	};

	if (!present && s->n && !s->e[s->n - 1].present && s->e[s->n - 1].last + 1 == a) {
		s->e[s->n - 1].last = b;
		return 0;
	}
	return vi_shadow_set_insert(s, s->n, &x);
}

/* Look up [a, b] (in one host range) at guest-physical @gpa; pieces into the event scratch. */
static int translate(struct viommu_shadow_dev *d, uint64_t a, uint64_t b, uint64_t gpa,
		     uint32_t perm, uint32_t *segs)
{
	struct viommu_shadow *sh = d->sh;
	uint64_t mask = sh->cfg.page_size - 1, cur = a;

	while (cur <= b) {
		uint64_t len = b - cur + 1, host = 0, seg = 0;
		uint64_t g = gpa + (cur - a);
		int ret;

		if (*segs >= sh->cfg.max_segments) {
			report(d, VIOMMU_SHADOW_ERR_GPA, VIOMMU_E2BIG, cur, b, g);
			return ev_push(sh, cur, b, 0, 0, false);
		}
		(*segs)++;
		ret = sh->cfg.gpa_to_host(sh->cfg.opaque, g, len, &host, &seg);
		if (seg > len)
			seg = len;
		if (!ret && (host & mask))
			ret = VIOMMU_EINVAL; /* host memory not page-aligned where guest memory is */
		if (!ret)
			seg &= ~mask;
		/* A refused run: skip it, whole pages, at least one. */
		if (ret || !seg) {
			if (!ret)
				ret = VIOMMU_EFAULT;
			seg = (seg + mask) & ~mask;
			if (!seg || seg > len)
				seg = seg > len ? len : sh->cfg.page_size;
			report(d, VIOMMU_SHADOW_ERR_GPA, ret, cur, cur + seg - 1, g);
			if (ev_push(sh, cur, cur + seg - 1, 0, 0, false))
				return VIOMMU_ENOMEM;
		} else if (ev_push(sh, cur, cur + seg - 1, host, perm, true)) {
			return VIOMMU_ENOMEM;
		}
		if (cur + seg - 1 == b)
			break;
		cur += seg;
	}
	return 0;
}

/* The pending pieces for one MAP (present) or UNMAP event over [a, b]. */
static int build(struct viommu_shadow_dev *d, const struct viommu_event *ev, uint64_t oa,
		 uint64_t ob)
{
	struct viommu_shadow *sh = d->sh;
	uint64_t mask = sh->cfg.page_size - 1;
	uint64_t a = ev->iova, b = ev->last, ia, ib, cur;
	uint32_t segs = 0;
	bool whole, done = false;
	int ret;

	sh->ev.n = 0;
	if (ev->type != VIOMMU_EV_MAP || !(ev->perm & VIOMMU_ACC_RW))
		return ev_push(sh, oa, ob, 0, 0, false);
	/* Only whole pages can be mapped: the partial ones at either end become holes. */
	whole = !(a & mask) || a <= ADDR_MAX - mask;
	ia = (a + mask) & ~mask;
	if (b == ADDR_MAX) {
		ib = b;
	} else {
		uint64_t end = (b + 1) & ~mask; /* exclusive */

		whole = whole && end > ia;
		ib = end - 1;
	}
	if (!whole || ia != a || ib != b)
		report(d, VIOMMU_SHADOW_ERR_RANGE, VIOMMU_EINVAL, a, b, ev->out);
	if (!whole || ((ev->out + (ia - a)) & mask))
		return ev_push(sh, oa, ob, 0, 0, false);
	if (ev->out > ADDR_MAX - (ib - a)) {
		report(d, VIOMMU_SHADOW_ERR_GPA, VIOMMU_EOVERFLOW, a, b, ev->out);
		return ev_push(sh, oa, ob, 0, 0, false);
	}
	if (oa < ia && (ret = ev_push(sh, oa, ia - 1, 0, 0, false)))
		return ret;
	cur = ia;
	for (uint32_t r = 0; r < sh->cfg.nranges && cur <= ib; r++) {
		const struct viommu_shadow_range *hr = &sh->cfg.ranges[r];
		uint64_t x, y;

		if (hr->last < cur)
			continue;
		if (hr->first > ib)
			break;
		x = hr->first > cur ? hr->first : cur;
		y = hr->last < ib ? hr->last : ib;
		if (x > cur) {
			report(d, VIOMMU_SHADOW_ERR_RANGE, VIOMMU_ERANGE, cur, x - 1, 0);
			if ((ret = ev_push(sh, cur, x - 1, 0, 0, false)))
				return ret;
		}
		ret = translate(d, x, y, ev->out + (x - a), ev->perm & VIOMMU_ACC_RW, &segs);
		if (ret)
			return ret;
		if (y == ib) {
			done = true;
			break;
		}
		cur = y + 1;
	}
	if (!done) {
		report(d, VIOMMU_SHADOW_ERR_RANGE, VIOMMU_ERANGE, cur, ib, 0);
		if ((ret = ev_push(sh, cur, ib, 0, 0, false)))
			return ret;
	}
	if (ib < ob)
		return ev_push(sh, ib + 1, ob, 0, 0, false);
	return 0;
}

static void take_event(struct viommu_shadow_dev *d, const struct viommu_event *ev)
{
	struct viommu_shadow *sh = d->sh;
	uint64_t mask = sh->cfg.page_size - 1;
	uint64_t oa, ob;
	size_t at;

	if (ev->iova > ev->last) {
		report(d, VIOMMU_SHADOW_ERR_RANGE, VIOMMU_EINVAL, ev->iova, ev->last, ev->out);
		return;
	}
	d->st.events++;
	/* Every page the event touches is named; what cannot be mapped whole becomes a hole. */
	oa = ev->iova & ~mask;
	ob = ev->last | mask;
	if (build(d, ev, oa, ob) || vi_shadow_set_carve(&d->pend, oa, ob, &at) ||
	    vi_shadow_set_reserve(&d->pend, d->pend.n + sh->ev.n)) {
		flush_dev(d);
		drop_range(d, oa, ob);
		return;
	}
	memmove(&d->pend.e[at + sh->ev.n], &d->pend.e[at], (d->pend.n - at) * sizeof(*d->pend.e));
	memcpy(&d->pend.e[at], sh->ev.e, sh->ev.n * sizeof(*sh->ev.e));
	d->pend.n += sh->ev.n;
	/* Not during a replay: the hole over what is not replayed yet would unmap live pages. */
	if (d->pend.n >= sh->cfg.max_pending && !d->replaying)
		flush_dev(d);
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct viommu_shadow_dev *d = opaque;

	if (ev->type == VIOMMU_EV_SYNC) {
		d->st.barriers++;
		/* Half a replay is not a state the host may take. */
		if (!d->replaying)
			flush_dev(d);
		return;
	}
	if (ev->type != VIOMMU_EV_MAP && ev->type != VIOMMU_EV_UNMAP)
		return;
	if (ev->sid != VIOMMU_SID_ANY && ev->sid != d->sid)
		return;
	/* Another PASID's address space is not this device's; a PASID-less one is not either. */
	if (ev->has_pasid != d->has_pasid || (d->has_pasid && ev->pasid != d->pasid))
		return;
	take_event(d, ev);
}

/* ------------------------------------------------------------------------------------------ */
/* Devices                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void viommu_shadow_flush(struct viommu_shadow *sh)
{
	if (!sh)
		return;
	for (struct viommu_shadow_dev *d = sh->devs; d; d = d->next)
		flush_dev(d);
}

int viommu_shadow_replay(struct viommu_shadow_dev *d)
{
	struct vi_shadow_ext hole = { .iova = 0, .last = ADDR_MAX };
	int ret;

	if (!d)
		return VIOMMU_EINVAL;
	flush_dev(d);
	/* Everything not replayed is gone; what is replayed unchanged stays mapped. */
	if (vi_shadow_set_insert(&d->pend, 0, &hole))
		return VIOMMU_ENOMEM;
	d->replaying = true;
	ret = viommu_notifier_replay(d->v, d->notifier);
	d->replaying = false;
	if (ret) {
		/* Nothing trustworthy came: leave the host as it was. */
		d->pend.n = 0;
		return ret;
	}
	d->st.replays++;
	flush_dev(d);
	return 0;
}

int viommu_shadow_attach(struct viommu_shadow *sh, struct viommu *v, uint32_t sid, uint32_t pasid,
			 bool has_pasid, const struct viommu_shadow_host_ops *ops, void *ctx,
			 struct viommu_shadow_dev **out)
{
	struct viommu_shadow_dev *d;
	int ret;

	if (!sh || !v || !ops || !ops->map || !ops->unmap || !out || sid == VIOMMU_SID_ANY)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->sh = sh;
	d->v = v;
	d->sid = sid;
	d->pasid = has_pasid ? pasid : 0;
	d->has_pasid = has_pasid;
	d->ops = ops;
	d->ctx = ctx;
	ret = viommu_notifier_add(v, sid, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP | VIOMMU_EV_SYNC,
				  on_event, d, &d->notifier);
	if (ret) {
		free(d);
		return ret;
	}
	d->next = sh->devs;
	sh->devs = d;
	ret = viommu_shadow_replay(d);
	if (ret && ret != VIOMMU_ENOTSUP) {
		viommu_shadow_detach(d, true);
		return ret;
	}
	*out = d;
	return 0;
}

static void add_stats(struct viommu_shadow_stats *to, const struct viommu_shadow_stats *s)
{
	to->events += s->events;
	to->barriers += s->barriers;
	to->flushes += s->flushes;
	to->map_calls += s->map_calls;
	to->map_pages += s->map_pages;
	to->unmap_calls += s->unmap_calls;
	to->unmap_pages += s->unmap_pages;
	to->commits += s->commits;
	to->kept_pages += s->kept_pages;
	to->remapped_pages += s->remapped_pages;
	to->replays += s->replays;
	to->errors += s->errors;
	to->held += s->held;
	to->held_pages += s->held_pages;
}

void viommu_shadow_detach(struct viommu_shadow_dev *d, bool unmap)
{
	struct viommu_shadow *sh;
	struct viommu_shadow_stats st;

	if (!d)
		return;
	sh = d->sh;
	viommu_notifier_del(d->v, d->notifier);
	if (unmap && d->held.n) {
		uint64_t a = d->held.e[0].iova, b = d->held.e[d->held.n - 1].last;

		/* Nothing else is held in between: one call. */
		if (host_unmap(d, a, b) == 0) {
			if (d->ops->commit)
				d->ops->commit(d->ctx);
			d->st.commits++;
		}
	}
	for (struct viommu_shadow_dev **pp = &sh->devs; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	viommu_shadow_dev_get_stats(d, &st);
	st.held = st.held_pages = 0; /* the host keeps them, the engine no longer knows */
	add_stats(&sh->st, &st);
	vi_shadow_set_fini(&d->held);
	vi_shadow_set_fini(&d->pend);
	free(d);
}

void viommu_shadow_destroy(struct viommu_shadow *sh)
{
	if (!sh)
		return;
	while (sh->devs)
		viommu_shadow_detach(sh->devs, false);
	vi_shadow_set_fini(&sh->rem);
	vi_shadow_set_fini(&sh->map);
	vi_shadow_set_fini(&sh->ev);
	free(sh);
}

void viommu_shadow_dev_get_stats(const struct viommu_shadow_dev *d, struct viommu_shadow_stats *st)
{
	if (!d || !st)
		return;
	*st = d->st;
	st->held = d->held.n;
}

void viommu_shadow_get_stats(const struct viommu_shadow *sh, struct viommu_shadow_stats *st)
{
	if (!sh || !st)
		return;
	*st = sh->st;
	for (const struct viommu_shadow_dev *d = sh->devs; d; d = d->next) {
		struct viommu_shadow_stats s;

		viommu_shadow_dev_get_stats(d, &s);
		add_stats(st, &s);
	}
}

uint64_t viommu_shadow_dev_walk(const struct viommu_shadow_dev *d,
				void (*fn)(void *arg, uint64_t iova, uint64_t last, uint64_t host,
					   uint32_t perm),
				void *arg)
{
	if (!d)
		return 0;
	for (size_t i = 0; fn && i < d->held.n; i++)
		fn(arg, d->held.e[i].iova, d->held.e[i].last, d->held.e[i].host, d->held.e[i].perm);
	return d->held.n;
}
