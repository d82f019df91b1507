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
}

/* Fill the sync's pieces with what @sid translates in [a, b] now; false when out of memory. */
static bool current_view(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
			 bool *has_dom, uint32_t *dom)
{
	struct smmu *s = ctx;
	struct smmu_cfg_slot *sl;
	struct smmu_fault f;
	struct smmu_cfg c;

	*has_dom = false;
	if (!smmu_enabled(s)) {
		if (s->gbpa & VIOMMU_SMMUV3_GBPA_ABORT)
			return true;
		return vi_sync_add_piece(y, a, b, a, VIOMMU_ACC_RW);
	}
	if (sid >= smmu_nsid(s) || vi_smmu_cfg_get(s, sid, SMMU_NO_SSID, &sl, &f))
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
	y = sy(s);
	any = vi_sync_mark_listeners(y);
	if (scope == SMMU_SYNC_STREAMS) {
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
	return vi_sync_replay(sy(s), n, lo, hi);
}
