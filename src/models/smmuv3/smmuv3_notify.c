// SPDX-License-Identifier: MIT
/*
 * SMMUv3 MAP/UNMAP synchronisation of consumers (shadow page tables, device IOTLBs).
 *
 * CFGI_* and TLBI_* say which StreamIDs, which (VMID, ASID) or which input range to look at
 * again; UNMAP-only consumers hear the range, MAP consumers get the diff of their record
 * against the tables (core/sync.c, shared with VT-d and AMD-Vi), which with the caching-mode
 * quirk (VIOMMU_SMMUV3_CM: the guest invalidates after every map too) keeps them exact. A
 * StreamID's view is its configuration for requests without a SubstreamID: bypass, abort,
 * stage 1 (CD 0 under S1DSS), stage 2 or nested.
 */
#include <stdlib.h>

#include "smmuv3_internal.h"

#define EV_MAP_UNMAP (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP)
/* The sync domain of streams without stage 1 (never a TLBI_NH_ASID's). */
#define DOM_NO_S1 0xffffffffu

static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom);

static uint32_t cfg_dom(const struct smmu_cfg *c)
{
	return c->kind == SMMU_K_S1 || c->kind == SMMU_K_NESTED ? smmu_dom(c->vmid, c->asid) :
								  DOM_NO_S1;
}

static int dom_of(void *ctx, uint32_t sid, uint32_t *dom)
{
	struct smmu *s = ctx;
	struct smmu_cfg_slot *sl;
	struct smmu_fault f;

	if (!smmu_enabled(s) || vi_smmu_cfg_get(s, sid, SMMU_NO_SSID, &sl, &f))
		return -1;
	*dom = cfg_dom(&sl->cfg);
	return 0;
}

static uint32_t sync_nsid(const struct smmu *s)
{
	/* The shared code scans the seen bitmap by whole words. */
	return smmu_nsid(s) < 64 ? 64 : smmu_nsid(s);
}

/* The shared sync, pointed at this unit's state (cheap: set before every use). */
static struct vi_sync *sy(struct smmu *s)
{
	struct vi_sync *y = &s->sync;

	y->v = &s->v;
	y->name = "smmuv3";
	y->nsid = sync_nsid(s);
	y->seen = s->seen;
	y->budget = &s->budget;
	y->nmap = &s->st.notify_map;
	y->nunmap = &s->st.notify_unmap;
	/* Arm has no interrupt window: MSIs are translated like any write. */
	y->intr_first = 1;
	y->intr_last = 0;
	y->view = current_view;
	y->dom_of = dom_of;
	y->ctx = s;
	return y;
}

void vi_smmu_notify_fini(struct smmu *s)
{
	vi_sync_fini(&s->sync);
	vi_sync_fini(&s->psync);
	free(s->pairs);
	free(s->pseen);
}

/*
 * Fill @y's pieces with what (@sid, @ssid) translates in [a, b] now; false when out of memory or
 * walk budget.
 */
static bool view_of(struct smmu *s, struct vi_sync *y, uint32_t sid, uint32_t ssid, uint64_t a,
		    uint64_t b, bool *has_dom, uint32_t *dom)
{
	struct smmu_cfg_slot *sl;
	struct smmu_fault f;
	struct smmu_cfg c;

	*has_dom = false;
	if (!smmu_enabled(s)) {
		if (s->gbpa & VIOMMU_SMMUV3_GBPA_ABORT)
			return true;
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	}
	if (sid >= smmu_nsid(s) || vi_smmu_cfg_get(s, sid, ssid, &sl, &f))
		return true; /* no usable configuration: nothing translates */
	c = sl->cfg;	     /* a copy: walks below may refill the cache slot */
	*has_dom = true;
	*dom = cfg_dom(&c);
	if (c.kind == SMMU_K_ABORT)
		return true;
	if (c.kind == SMMU_K_BYPASS)
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	/*
	 * One walk per leaf or per hole, a hole skipped whole at the level it was found. Aliased
	 * tables can make a range hold 2^52 leaves or empty tables, so the walks are budgeted.
	 */
	for (uint64_t x = a;;) {
		struct smmu_leaf l;
		uint64_t end;

		if (s->budget == 0)
			return false;
		s->budget--;
		if (vi_smmu_walk(s, &c, x, 0, &l, &f)) {
			end = f.hole_last < x ? x : f.hole_last;
		} else {
			uint64_t last;

			end = l.iova + ((1ull << l.shift) - 1);
			last = end < b ? end : b;
			if (l.perm & VIOMMU_ACC_RW &&
			    !vi_sync_add_piece(y, x, last, l.out + (x - l.iova),
					       l.perm & VIOMMU_ACC_RW))
				return false;
		}
		if (end >= b)
			return true;
		x = end + 1;
	}
}

/* Fill the sync's pieces with what @sid translates without a SubstreamID. */
static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom)
{
	return view_of(ctx, y, sid, SMMU_NO_SSID, a, b, has_dom, dom);
}

/* ------------------------------------------------------------------------------------------ */
/* Per (StreamID, SubstreamID)                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * The address spaces of SubstreamIDs are learned from CMD_CFGI_CD (which software issues after
 * writing a CD, 4.3.3) and synced by the shared code with pair slots as its requesters. Its
 * events arrive at the two notifiers of @pv: pn[0] stands for every MAP consumer (diffs, SYNC),
 * pn[1] for every UNMAP-only consumer (invalidated ranges); they deliver each event to the
 * consumers of the pair's StreamID with has_pasid set and the SubstreamID as pasid.
 */
static void pair_deliver(struct smmu *s, const struct viommu_event *ev, bool to_map)
{
	const struct smmu_pair *p;
	struct viommu_notifier *n, *next;
	struct viommu_event e = *ev;

	if (ev->sid >= SMMU_PAIRS_MAX)
		return; /* the shared sync only names pair slots */
	p = &s->pairs[ev->sid];
	e.sid = p->sid;
	e.pasid = p->ssid;
	e.has_pasid = true;
	for (n = s->v.notifiers; n; n = next) {
		next = n->next;
		if (n->sid != VIOMMU_SID_ANY && n->sid != p->sid)
			continue;
		if (!(n->events & e.type))
			continue;
		if (e.type != VIOMMU_EV_SYNC && !!(n->events & VIOMMU_EV_MAP) != to_map)
			continue;
		if (e.type == VIOMMU_EV_MAP)
			s->st.notify_map++;
		else if (e.type == VIOMMU_EV_UNMAP)
			s->st.notify_unmap++;
		vi_notifier_send_one(n, &e);
	}
}

static void pair_to_map(void *opaque, const struct viommu_event *ev)
{
	pair_deliver(opaque, ev, true);
}

static void pair_to_unmap(void *opaque, const struct viommu_event *ev)
{
	pair_deliver(opaque, ev, false);
}

static bool pair_view(struct vi_sync *y, void *ctx, uint32_t slot, uint64_t a, uint64_t b,
		      bool *has_dom, uint32_t *dom)
{
	struct smmu *s = ctx;

	*has_dom = false;
	if (!s->pairs[slot].live)
		return true;
	return view_of(s, y, s->pairs[slot].sid, s->pairs[slot].ssid, a, b, has_dom, dom);
}

static int pair_dom(void *ctx, uint32_t slot, uint32_t *dom)
{
	struct smmu *s = ctx;
	const struct smmu_pair *p = &s->pairs[slot];
	struct smmu_cfg_slot *sl;
	struct smmu_fault f;

	if (!p->live || !smmu_enabled(s) || vi_smmu_cfg_get(s, p->sid, p->ssid, &sl, &f))
		return -1;
	*dom = cfg_dom(&sl->cfg);
	return 0;
}

/* The pair sync pointed at this unit's state, its notifiers listening as the real ones do. */
static struct vi_sync *psy(struct smmu *s)
{
	struct vi_sync *y = &s->psync;
	uint32_t map = 0, unmap = 0;

	for (const struct viommu_notifier *n = s->v.notifiers; n; n = n->next) {
		if (n->events & VIOMMU_EV_MAP)
			map = VIOMMU_EV_MAP | VIOMMU_EV_UNMAP;
		else if (n->events & VIOMMU_EV_UNMAP)
			unmap = VIOMMU_EV_UNMAP;
		if (n->events & VIOMMU_EV_SYNC)
			map |= VIOMMU_EV_SYNC;
	}
	s->pv.host = s->v.host;
	s->pn[0] = (struct viommu_notifier){ .next = &s->pn[1],
					     .sid = VIOMMU_SID_ANY,
					     .events = map,
					     .fn = pair_to_map,
					     .opaque = s };
	s->pn[1] = (struct viommu_notifier){
		.sid = VIOMMU_SID_ANY, .events = unmap, .fn = pair_to_unmap, .opaque = s
	};
	s->pv.notifiers = &s->pn[0];
	s->pv.notify_mask = map | unmap;
	y->v = &s->pv;
	y->name = "smmuv3 substream";
	y->nsid = SMMU_PAIRS_MAX;
	y->seen = s->pseen;
	y->budget = &s->budget;
	y->nmap = &s->pair_nmap;
	y->nunmap = &s->pair_nunmap;
	y->intr_first = 1;
	y->intr_last = 0;
	y->view = pair_view;
	y->dom_of = pair_dom;
	y->ctx = s;
	return y;
}

/* Forget slot @i: what its consumers hold goes (a full-range UNMAP when @tell), then the record. */
static void pair_drop(struct smmu *s, uint32_t i, bool tell)
{
	struct vi_sync_as *as = s->psync.as ? s->psync.as[i] : NULL;

	if (tell) {
		struct viommu_event ev = { .type = VIOMMU_EV_UNMAP, .sid = i, .last = UINT64_MAX };

		pair_deliver(s, &ev, true);
		pair_deliver(s, &ev, false);
	}
	if (as) {
		as->n = 0;
		as->has_dom = false;
	}
	s->pairs[i].live = false;
	s->pseen[i / 64] &= ~(1ull << (i % 64));
}

void vi_smmu_pair_learn(struct smmu *s, uint32_t sid, uint32_t ssid)
{
	struct smmu_cfg_slot *sl;
	struct smmu_fault f;
	uint32_t i, free_slot = SMMU_PAIRS_MAX;

	if (!(s->idr[1] & VIOMMU_SMMUV3_IDR1_SSIDSIZE_MASK) || sid >= smmu_nsid(s) ||
	    ssid >> VIOMMU_SMMUV3_IDR1_SSIDSIZE_GET(s->idr[1]) || !smmu_enabled(s))
		return;
	if (!s->pairs) {
		s->pairs = calloc(SMMU_PAIRS_MAX, sizeof(*s->pairs));
		s->pseen = calloc(SMMU_PAIRS_MAX / 64, sizeof(*s->pseen));
		if (!s->pairs || !s->pseen) {
			free(s->pairs);
			free(s->pseen);
			s->pairs = NULL;
			s->pseen = NULL;
			vi_log(&s->v.host, VIOMMU_LOG_ERR, "smmuv3: out of memory for substreams");
			return;
		}
	}
	/* Known already (a fixed scan: the table is small and CFGI_CD is not a hot path). */
	for (i = 0; i < SMMU_PAIRS_MAX; i++) {
		if (s->pairs[i].live && s->pairs[i].sid == sid && s->pairs[i].ssid == ssid)
			return;
		if (!s->pairs[i].live && free_slot == SMMU_PAIRS_MAX)
			free_slot = i;
	}
	/* Only a SubstreamID with a usable CD is an address space (SSID 0 under S1DSS = SSID0 is
	 * the no-SubstreamID view). */
	if (vi_smmu_cfg_get(s, sid, ssid, &sl, &f) ||
	    (sl->cfg.kind != SMMU_K_S1 && sl->cfg.kind != SMMU_K_NESTED))
		return;
	if (free_slot == SMMU_PAIRS_MAX) {
		/* All taken: the oldest slot's consumers lose what they hold (faults, never stale). */
		free_slot = s->pair_next;
		s->pair_next = (s->pair_next + 1) % SMMU_PAIRS_MAX;
		psy(s);
		pair_drop(s, free_slot, true);
	}
	s->pairs[free_slot] = (struct smmu_pair){ .sid = sid, .ssid = ssid, .live = true };
	s->pseen[free_slot / 64] |= 1ull << (free_slot % 64);
}

/* Sync the live pairs in scope; a pair whose CD went away is forgotten once it is synced. */
static void pair_sync(struct smmu *s, enum smmu_sync_scope scope, uint32_t dom, uint32_t sid_lo,
		      uint32_t sid_hi, uint64_t first, uint64_t last)
{
	struct vi_sync *y;

	if (!s->pairs)
		return;
	y = psy(s);
	for (uint32_t w = 0; w < SMMU_PAIRS_MAX / 64; w++) {
		uint64_t bits = s->pseen[w];

		while (bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			struct smmu_cfg_slot *sl;
			struct smmu_fault f;

			bits &= bits - 1;
			if ((scope == SMMU_SYNC_STREAMS || scope == SMMU_SYNC_CD) &&
			    (s->pairs[i].sid < sid_lo || s->pairs[i].sid > sid_hi))
				continue;
			if (scope == SMMU_SYNC_CD && s->pairs[i].ssid != dom)
				continue;
			vi_sync_sid(y, i, scope == SMMU_SYNC_DOMAIN, dom, first, last);
			/* Is the CD still there? A fetch, paid from the walk budget. */
			if (scope == SMMU_SYNC_DOMAIN || scope == SMMU_SYNC_ALL || s->budget == 0)
				continue;
			s->budget--;
			if (smmu_enabled(s) &&
			    vi_smmu_cfg_get(s, s->pairs[i].sid, s->pairs[i].ssid, &sl, &f) &&
			    (!y->as || !y->as[i] || y->as[i]->n == 0))
				pair_drop(s, i, false);
		}
	}
}

/* Mark every StreamID with a valid STE (a bounded scan of the stream table). */
static void scan_table(struct smmu *s)
{
	uint32_t n = smmu_nsid(s);
	uint32_t log2 = (uint32_t)VIOMMU_SMMUV3_STRTAB_BASE_CFG_LOG2SIZE_GET(s->strtab_base_cfg);

	if (log2 < s->cfg.sid_bits)
		n = 1u << log2;
	/* Once per guest action: the table cannot change while one register write runs. */
	if (s->scanned)
		return;
	s->scanned = true;
	for (uint32_t sid = 0; sid < n; sid++) {
		struct smmu_cfg_slot *sl;
		struct smmu_fault f;

		if (s->budget == 0)
			return;
		s->budget--;
		if (!vi_smmu_cfg_get(s, sid, SMMU_NO_SSID, &sl, &f))
			continue; /* marked seen by the lookup */
		/* Beyond the table (or a 2-level table's hole) ends nothing: keep looking. */
	}
}

void vi_smmu_sync(struct smmu *s, enum smmu_sync_scope scope, uint32_t dom, uint32_t sid_lo,
		  uint32_t sid_hi, uint64_t first, uint64_t last)
{
	struct vi_sync *y;
	bool any;

	if (!vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	pair_sync(s, scope, dom, sid_lo, sid_hi, first, last);
	y = sy(s);
	any = vi_sync_mark_listeners(y);
	if (scope == SMMU_SYNC_STREAMS || scope == SMMU_SYNC_CD) {
		uint32_t n = smmu_nsid(s);

		if (sid_lo >= n)
			return;
		if (sid_hi >= n)
			sid_hi = n - 1;
		/* Only StreamIDs that may have consumers' state: those marked seen, by word. */
		for (uint32_t w = sid_lo / 64; w <= sid_hi / 64; w++) {
			uint64_t bits = s->seen[w];

			if (w == sid_lo / 64)
				bits &= ~0ull << (sid_lo % 64);
			if (w == sid_hi / 64 && sid_hi % 64 != 63)
				bits &= (2ull << (sid_hi % 64)) - 1;
			while (bits) {
				uint32_t b = (uint32_t)__builtin_ctzll(bits);

				bits &= bits - 1;
				vi_sync_sid(y, w * 64 + b, false, 0, first, last);
			}
		}
		return;
	}
	if (scope == SMMU_SYNC_ALL && any && smmu_enabled(s))
		scan_table(s);
	vi_sync_seen(y, scope == SMMU_SYNC_DOMAIN, dom, first, last);
}

int vi_smmu_replay(struct viommu *v, struct viommu_notifier *n)
{
	struct smmu *s = to_smmu(v);
	uint32_t lo = n->sid == VIOMMU_SID_ANY ? 0 : n->sid;
	uint32_t hi = n->sid == VIOMMU_SID_ANY ? smmu_nsid(s) - 1 : n->sid;
	struct vi_sync *y;
	int ret;

	if (!(n->events & VIOMMU_EV_MAP))
		return 0;
	if (lo >= smmu_nsid(s))
		return VIOMMU_EINVAL;
	s->budget = SMMU_SYNC_BUDGET;
	s->scanned = false;
	if (n->sid == VIOMMU_SID_ANY && smmu_enabled(s))
		scan_table(s);
	else
		s->seen[lo / 64] |= 1ull << (lo % 64);
	ret = vi_sync_replay(sy(s), n, lo, hi);
	if (ret || !s->pairs)
		return ret;
	/* The SubstreamIDs' address spaces: what their records hold, or a first sync. */
	y = psy(s);
	for (uint32_t i = 0; i < SMMU_PAIRS_MAX; i++) {
		const struct smmu_pair *p = &s->pairs[i];
		struct vi_sync_as *as;

		if (!p->live || p->sid < lo || p->sid > hi)
			continue;
		as = y->as ? y->as[i] : NULL;
		if (!as) {
			as = vi_sync_as_get(y, i);
			if (!as)
				return VIOMMU_ENOMEM;
			vi_sync_as_run(y, i, as, 0, UINT64_MAX);
			continue;
		}
		for (size_t k = 0; k < as->n; k++) {
			struct viommu_event ev = { .type = VIOMMU_EV_MAP,
						   .sid = p->sid,
						   .pasid = p->ssid,
						   .has_pasid = true,
						   .iova = as->maps[k].iova,
						   .last = as->maps[k].last,
						   .out = as->maps[k].out,
						   .perm = as->maps[k].perm };

			s->st.notify_map++;
			vi_notifier_send_one(n, &ev);
		}
	}
	return 0;
}
