// SPDX-License-Identifier: MIT
/*
 * Set-associative IOTLB with O(1) full and per-domain invalidation. See <viommu/iotlb.h> for the
 * contract and the replacement policy.
 *
 * A slot's key packs the page-aligned iova with the page shift (bits 5:0) and the NONLEAF flag
 * (bit 6); the low 12 bits of an aligned address are free because no page is smaller than 4 KiB.
 * The output word packs the page-aligned output address with perm (bits 3:0) and level (11:4).
 *
 * Liveness by stamps: every slot records the epoch it was filled in. The epoch advances at each
 * full or per-domain flush; a slot is live while its stamp is newer than both the last full flush
 * and the last flush of its domain's slot in dom_flushed[]. Stamp 0 means empty.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/iotlb.h>

#include "core.h"

#define KEY_SHIFT_MASK 0x3full
#define KEY_NONLEAF (1ull << 6)
#define OUT_PERM_MASK 0xfull
#define OUT_LEVEL_SHIFT 4
#define PAGE_LOW_MASK 0xfffull
#define DOM_SLOTS 256 /* hashed per-domain flush epochs */

/*
 * A set's keys are stored together, apart from the rest of the slots, so that matching a set
 * reads one cache line of keys and then one slot.
 */
struct slot {
	uint64_t out;
	uint32_t dom;
	uint32_t pasid;
	uint32_t sid;
	uint32_t stamp;
};

struct viommu_iotlb {
	uint64_t *keys;
	struct slot *slots;
	uint8_t *victim; /* per-set round-robin pointer */
	uint32_t nsets;
	uint32_t ways;
	uint32_t ways_shift; /* log2(ways) */
	uint32_t set_mask;
	uint32_t epoch;	      /* stamp given to insertions now */
	uint32_t all_flushed; /* epoch of the last full flush */
	uint64_t leaf_shifts; /* bit s set: leaf slots of page shift s may be live */
	uint64_t table_shifts;
	uint32_t shift_count[64]; /* counted slots per shift (leaf and nonleaf together) */
	uint32_t dom_flushed[DOM_SLOTS];
	struct viommu_iotlb_stats st;
};

static inline uint64_t page_mask(unsigned int shift)
{
	return ~((1ull << shift) - 1);
}

static inline uint64_t make_key(uint64_t iova, unsigned int shift, bool nonleaf)
{
	return (iova & page_mask(shift)) | shift | (nonleaf ? KEY_NONLEAF : 0);
}

static inline unsigned int key_shift(uint64_t key)
{
	return key & KEY_SHIFT_MASK;
}

/* Index of the first slot of the set for (key, dom, pasid). */
static inline size_t set_base(const struct viommu_iotlb *tlb, uint64_t key, uint32_t dom,
			      uint32_t pasid)
{
	uint64_t x = key ^ ((uint64_t)dom << 32 | pasid) * 0xff51afd7ed558ccdull;

	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)((uint32_t)(x >> 32) & tlb->set_mask) << tlb->ways_shift;
}

static inline uint32_t dom_floor(const struct viommu_iotlb *tlb, uint32_t dom)
{
	uint32_t d = tlb->dom_flushed[dom % DOM_SLOTS];

	return d > tlb->all_flushed ? d : tlb->all_flushed;
}

static inline bool slot_live(const struct viommu_iotlb *tlb, size_t i)
{
	return tlb->slots[i].stamp > dom_floor(tlb, tlb->slots[i].dom);
}

/* Counted slots are those filled since the last full flush (live or domain-flushed). */
static inline bool slot_counted(const struct viommu_iotlb *tlb, size_t i)
{
	return tlb->slots[i].stamp > tlb->all_flushed;
}

static void uncount(struct viommu_iotlb *tlb, size_t i)
{
	unsigned int shift = key_shift(tlb->keys[i]);

	if (!slot_counted(tlb, i))
		return;
	if (--tlb->shift_count[shift] == 0) {
		tlb->leaf_shifts &= ~(1ull << shift);
		tlb->table_shifts &= ~(1ull << shift);
	}
}

static void count(struct viommu_iotlb *tlb, uint64_t key)
{
	unsigned int shift = key_shift(key);

	tlb->shift_count[shift]++;
	if (key & KEY_NONLEAF)
		tlb->table_shifts |= 1ull << shift;
	else
		tlb->leaf_shifts |= 1ull << shift;
}

int viommu_iotlb_create(const struct viommu_iotlb_config *cfg, struct viommu_iotlb **out)
{
	uint32_t capacity = cfg && cfg->capacity ? cfg->capacity : 1024;
	uint32_t ways = cfg && cfg->ways ? cfg->ways : 4;
	struct viommu_iotlb *tlb;

	if (!out)
		return VIOMMU_EINVAL;
	if (ways > 16 || (ways & (ways - 1)) || (capacity & (capacity - 1)) || capacity < ways ||
	    capacity > (1u << 26))
		return VIOMMU_EINVAL;
	tlb = calloc(1, sizeof(*tlb));
	if (!tlb)
		return VIOMMU_ENOMEM;
	tlb->ways = ways;
	tlb->ways_shift = (uint32_t)__builtin_ctz(ways);
	tlb->nsets = capacity / ways;
	tlb->set_mask = tlb->nsets - 1;
	/* Sizes are multiples of 64 because capacity is a power of two >= 4 or tiny. */
	tlb->keys = aligned_alloc(64, ((size_t)capacity * sizeof(uint64_t) + 63) & ~(size_t)63);
	tlb->slots = aligned_alloc(64, ((size_t)capacity * sizeof(struct slot) + 63) & ~(size_t)63);
	tlb->victim = calloc(tlb->nsets, 1);
	if (!tlb->keys || !tlb->slots || !tlb->victim) {
		viommu_iotlb_destroy(tlb);
		return VIOMMU_ENOMEM;
	}
	memset(tlb->keys, 0, (size_t)capacity * sizeof(uint64_t));
	memset(tlb->slots, 0, (size_t)capacity * sizeof(struct slot));
	tlb->epoch = 1;
	*out = tlb;
	return 0;
}

void viommu_iotlb_destroy(struct viommu_iotlb *tlb)
{
	if (!tlb)
		return;
	free(tlb->keys);
	free(tlb->slots);
	free(tlb->victim);
	free(tlb);
}

uint32_t viommu_iotlb_capacity(const struct viommu_iotlb *tlb)
{
	return tlb->nsets * tlb->ways;
}

/* Forget everything physically: used when the 32-bit epoch would wrap. */
static void hard_reset(struct viommu_iotlb *tlb)
{
	memset(tlb->slots, 0, (size_t)tlb->nsets * tlb->ways * sizeof(struct slot));
	memset(tlb->dom_flushed, 0, sizeof(tlb->dom_flushed));
	memset(tlb->shift_count, 0, sizeof(tlb->shift_count));
	tlb->leaf_shifts = tlb->table_shifts = 0;
	tlb->all_flushed = 0;
	tlb->epoch = 1;
}

/* Close the current epoch; returns the epoch that a flush should record. */
static uint32_t advance_epoch(struct viommu_iotlb *tlb)
{
	if (tlb->epoch == UINT32_MAX) {
		hard_reset(tlb);
		return 0;
	}
	return tlb->epoch++;
}

void viommu_iotlb_flush(struct viommu_iotlb *tlb)
{
	tlb->st.invalidations++;
	tlb->st.flushes++;
	tlb->all_flushed = advance_epoch(tlb);
	memset(tlb->shift_count, 0, sizeof(tlb->shift_count));
	tlb->leaf_shifts = tlb->table_shifts = 0;
}

static inline bool tag_eq(const struct slot *s, const struct viommu_iotlb_tag *t)
{
	/* One branch instead of three: a hit compares all fields anyway. */
	return ((s->dom ^ t->dom) | (s->pasid ^ t->pasid) | (s->sid ^ t->sid)) == 0;
}

/* Bit w set when way w of the set at @base holds @key (live or not). */
static inline uint32_t key_matches(const struct viommu_iotlb *tlb, size_t base, uint64_t key)
{
	const uint64_t *k = &tlb->keys[base];
	uint32_t mask = 0;

	/* No early exit: which way hits is random, and a mispredicted exit costs more. */
	if (tlb->ways == 4) /* the default, unrolled */
		return (uint32_t)(k[0] == key) | (uint32_t)(k[1] == key) << 1 |
		       (uint32_t)(k[2] == key) << 2 | (uint32_t)(k[3] == key) << 3;
	for (uint32_t w = 0; w < tlb->ways; w++)
		mask |= (uint32_t)(k[w] == key) << w;
	return mask;
}

int viommu_iotlb_insert(struct viommu_iotlb *tlb, const struct viommu_iotlb_entry *e)
{
	bool nonleaf = e->flags & VIOMMU_IOTLB_NONLEAF;
	size_t base, victim = SIZE_MAX;
	uint64_t key;

	if (e->shift < VIOMMU_IOTLB_MIN_SHIFT || e->shift > VIOMMU_IOTLB_MAX_SHIFT)
		return VIOMMU_EINVAL;
	key = make_key(e->iova, e->shift, nonleaf);
	base = set_base(tlb, key, e->tag.dom, e->tag.pasid);
	for (uint32_t w = 0; w < tlb->ways; w++) {
		size_t i = base + w;

		if (tlb->keys[i] == key && tag_eq(&tlb->slots[i], &e->tag) && slot_live(tlb, i)) {
			victim = i; /* replace in place */
			break;
		}
		if (victim == SIZE_MAX && !slot_live(tlb, i))
			victim = i;
	}
	if (victim == SIZE_MAX) {
		uint8_t *rr = &tlb->victim[base / tlb->ways];

		victim = base + *rr;
		*rr = (uint8_t)((*rr + 1) & (tlb->ways - 1));
		tlb->st.evictions++;
	}
	uncount(tlb, victim);
	tlb->keys[victim] = key;
	/* A walk-cache entry's output is a 4 KiB-aligned table address, not a page of its span. */
	tlb->slots[victim] = (struct slot){
		.out = (e->out & (nonleaf ? ~PAGE_LOW_MASK : page_mask(e->shift))) |
		       (e->perm & OUT_PERM_MASK) | ((uint64_t)e->level << OUT_LEVEL_SHIFT),
		.dom = e->tag.dom,
		.pasid = e->tag.pasid,
		.sid = e->tag.sid,
		.stamp = tlb->epoch,
	};
	count(tlb, key);
	tlb->st.insertions++;
	return 0;
}

static void fill_entry(const struct viommu_iotlb *tlb, size_t i, struct viommu_iotlb_entry *e)
{
	const struct slot *s = &tlb->slots[i];
	uint64_t key = tlb->keys[i];

	e->tag.dom = s->dom;
	e->tag.pasid = s->pasid;
	e->tag.sid = s->sid;
	e->shift = (uint8_t)key_shift(key);
	e->iova = key & ~PAGE_LOW_MASK;
	e->out = s->out & ~PAGE_LOW_MASK;
	e->perm = s->out & OUT_PERM_MASK;
	e->level = (uint8_t)(s->out >> OUT_LEVEL_SHIFT);
	e->flags = (key & KEY_NONLEAF) ? VIOMMU_IOTLB_NONLEAF : 0;
}

/* Slot index of the live entry (tag, key), or SIZE_MAX. */
static inline size_t find(const struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
			  uint64_t key)
{
	size_t base = set_base(tlb, key, tag->dom, tag->pasid);
	uint32_t mask = key_matches(tlb, base, key);

	while (mask) {
		size_t i = base + (unsigned int)__builtin_ctz(mask);
		const struct slot *s = &tlb->slots[i];

		mask &= mask - 1;
		/* The liveness check reads the flush epochs only once a key matched. */
		if (tag_eq(s, tag) && s->stamp > dom_floor(tlb, tag->dom))
			return i;
	}
	return SIZE_MAX;
}

int viommu_iotlb_lookup(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag, uint64_t iova,
			struct viommu_iotlb_entry *e)
{
	uint64_t shifts = tlb->leaf_shifts;

	tlb->st.lookups++;
	/* Smallest pages first: they are the most common mapping in a guest. */
	while (shifts) {
		unsigned int shift = (unsigned int)__builtin_ctzll(shifts);
		size_t i = find(tlb, tag, make_key(iova, shift, false));

		shifts &= shifts - 1;
		if (i != SIZE_MAX) {
			fill_entry(tlb, i, e);
			return 0;
		}
	}
	tlb->st.misses++;
	return VIOMMU_ENOENT;
}

int viommu_iotlb_lookup_nonleaf(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				uint64_t iova, uint8_t shift, struct viommu_iotlb_entry *e)
{
	size_t i = SIZE_MAX;

	tlb->st.lookups++;
	if (shift >= VIOMMU_IOTLB_MIN_SHIFT && shift <= VIOMMU_IOTLB_MAX_SHIFT &&
	    (tlb->table_shifts & (1ull << shift)))
		i = find(tlb, tag, make_key(iova, shift, true));
	if (i == SIZE_MAX) {
		tlb->st.misses++;
		return VIOMMU_ENOENT;
	}
	fill_entry(tlb, i, e);
	return 0;
}

static bool slot_matches(const struct viommu_iotlb *tlb, size_t i,
			 const struct viommu_iotlb_inval *inv)
{
	const struct slot *s = &tlb->slots[i];
	uint64_t key = tlb->keys[i];
	uint32_t m = inv->match;

	if (!slot_live(tlb, i))
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_DOM) && s->dom != inv->tag.dom)
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_PASID) && s->pasid != inv->tag.pasid)
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_SID) && s->sid != inv->tag.sid)
		return false;
	if ((m & VIOMMU_IOTLB_LEAF_ONLY) && (key & KEY_NONLEAF))
		return false;
	if (m & VIOMMU_IOTLB_MATCH_ADDR) {
		uint64_t start = key & ~PAGE_LOW_MASK;
		uint64_t end = start + ((1ull << key_shift(key)) - 1);

		if (end < inv->first || start > inv->last)
			return false;
	}
	return true;
}

static void drop(struct viommu_iotlb *tlb, size_t i)
{
	uncount(tlb, i);
	tlb->slots[i].stamp = 0;
}

static void scan_invalidate(struct viommu_iotlb *tlb, const struct viommu_iotlb_inval *inv)
{
	size_t n = (size_t)tlb->nsets * tlb->ways;

	for (size_t i = 0; i < n; i++) {
		if (slot_matches(tlb, i, inv))
			drop(tlb, i);
	}
}

/* Pages of size 1 << shift that [first, last] touches. */
static uint64_t pages_in(uint64_t first, uint64_t last, unsigned int shift)
{
	return (last >> shift) - (first >> shift) + 1;
}

static void probe_shifts(struct viommu_iotlb *tlb, const struct viommu_iotlb_inval *inv,
			 uint64_t shifts, bool nonleaf)
{
	while (shifts) {
		unsigned int shift = (unsigned int)__builtin_ctzll(shifts);
		uint64_t page = inv->first & page_mask(shift);
		uint64_t end = inv->last & page_mask(shift);

		shifts &= shifts - 1;
		for (;;) {
			uint64_t key = make_key(page, shift, nonleaf);
			size_t base = set_base(tlb, key, inv->tag.dom, inv->tag.pasid);
			uint32_t mask = key_matches(tlb, base, key);

			while (mask) {
				size_t i = base + (unsigned int)__builtin_ctz(mask);

				mask &= mask - 1;
				if (slot_matches(tlb, i, inv))
					drop(tlb, i);
			}
			if (page == end)
				break;
			page += 1ull << shift;
		}
	}
}

void viommu_iotlb_invalidate(struct viommu_iotlb *tlb, const struct viommu_iotlb_inval *inv)
{
	const uint32_t probe_tag = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID;
	uint32_t m = inv->match;

	if (m == 0) {
		viommu_iotlb_flush(tlb);
		return;
	}
	tlb->st.invalidations++;
	if ((m & VIOMMU_IOTLB_MATCH_ADDR) && inv->first > inv->last)
		return;
	if (m == VIOMMU_IOTLB_MATCH_DOM) {
		/* Every live slot hashed to this domain slot becomes stale at once. */
		tlb->dom_flushed[inv->tag.dom % DOM_SLOTS] = advance_epoch(tlb);
		return;
	}
	if ((m & VIOMMU_IOTLB_MATCH_ADDR) && (m & probe_tag) == probe_tag) {
		uint64_t shifts = tlb->leaf_shifts;
		uint64_t tshifts = (m & VIOMMU_IOTLB_LEAF_ONLY) ? 0 : tlb->table_shifts;
		uint64_t probes = 0, all = shifts | tshifts;

		while (all) {
			unsigned int shift = (unsigned int)__builtin_ctzll(all);
			uint64_t p = pages_in(inv->first, inv->last, shift);

			all &= all - 1;
			probes = p > UINT64_MAX - probes ? UINT64_MAX : probes + p;
		}
		/* Probing costs a set per page; beyond the table's size a scan is cheaper. */
		if (probes <= tlb->nsets) {
			probe_shifts(tlb, inv, shifts, false);
			probe_shifts(tlb, inv, tshifts, true);
			return;
		}
	}
	scan_invalidate(tlb, inv);
}

void viommu_iotlb_get_stats(const struct viommu_iotlb *tlb, struct viommu_iotlb_stats *st)
{
	*st = tlb->st;
	/* Hits are derived so that a hit writes one counter instead of two. */
	st->hits = st->lookups - st->misses;
}
