// SPDX-License-Identifier: MIT
/*
 * Set-associative IOTLB with interned tags and O(1) full and per-domain invalidation. See
 * <viommu/iotlb.h> for the contract and the replacement policy.
 *
 * An entry is two words in its set's line: the key packs the page-aligned iova with the page
 * shift (bits 5:0), the NONLEAF flag (bit 6) and id bits 4:0 (bits 11:7), the low 12 bits of an
 * aligned address being free because no page is smaller than 4 KiB; the output word packs the
 * page-aligned output address (bits 51:12) with perm (3:0), level (11:4) and id bits 16:5
 * (63:52). A key of zero (shift 0) is a free way.
 *
 * The id is that of the tag's entry in the tag table when the entry was filled. Ids only grow
 * until the space is used up, when everything is dropped, so an entry is live exactly while the
 * tag table entry it names (owner[]) still holds its id and that id is live: newer than the last
 * full flush and the last flush of its domain's slot.
 *
 * A ref is a tag table place and a generation drawn from a counter that never goes back, so each
 * value is handed out for one (place, tag) pair only: a lookup by ref compares it with the one its
 * place holds now. A tag interned again in its own place keeps the ref, so flushes do not make
 * models take new ones.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <viommu/iotlb.h>

#include "core.h"
#include "iotlb_fast.h"

#define KEY_SHIFT_MASK 0x3full
#define KEY_NONLEAF (1ull << 6)
#define KEY_ID_MASK (0x1full << VIOMMU_IOTLB__KEY_ID_SHIFT)
#define PAGE_LOW_MASK 0xfffull
#define ID_MAX ((0xfffu << 5) - 1) /* ids 16:5 never all ones: see VIOMMU_IOTLB__NONE */
#define MAX_TAGS 4096u
#define REF_PLACE_BITS 12 /* a ref: generation above, tag table place in bits 11:0 */
#define REF_GEN_MAX ((1ull << (64 - REF_PLACE_BITS)) - 1)

/* An owner record (id << 6 | shift) above the round-robin pointer of up to 16 ways. */
_Static_assert(((uint64_t)ID_MAX << 6 | 63) << VIOMMU_IOTLB__OWN_SHIFT <= UINT32_MAX &&
		       VIOMMU_IOTLB__RR_MASK >= 15,
	       "owner record");

struct viommu_iotlb {
	struct viommu_iotlb__hot h; /* first: vi_iotlb_lookup() reads it through the handle */
	uint16_t *owner;	    /* per way: the tag table entry it was filled for */
	uint32_t nsets;
	uint32_t ntags;		      /* tag table entries */
	uint32_t next_id;	      /* id for the next interned tag */
	uint32_t tag_victim;	      /* alternates the way a full tag bucket gives up */
	uint64_t next_gen;	      /* generation of the next ref handed out */
	uint64_t table_shifts;	      /* as leaf_shifts, for NONLEAF entries */
	uint32_t shift_count[64];     /* counted ways per shift (leaf and nonleaf together) */
	struct viommu_iotlb_stats st; /* lookups, misses, insertions and evictions are kept in h */
};

static inline uint64_t page_mask(unsigned int shift)
{
	return ~((1ull << shift) - 1);
}

static inline unsigned int key_shift(uint64_t key)
{
	return key & KEY_SHIFT_MASK;
}

/* Words of the key and output of way @w of the set starting at word @set. */
static inline uint64_t *key_at(const struct viommu_iotlb *tlb, size_t set, uint32_t w)
{
	return &tlb->h.sets[set + w];
}

static inline uint64_t *out_at(const struct viommu_iotlb *tlb, size_t set, uint32_t w)
{
	return &tlb->h.sets[set + tlb->h.ways + w];
}

/* First word of the set of (@key, @dp). */
static inline size_t set_of(const struct viommu_iotlb *tlb, uint64_t key, uint64_t dp)
{
	return (size_t)viommu_iotlb__set(&tlb->h, key, dp) * 2 * tlb->h.ways;
}

/* Index of way @w of the set starting at word @set, for the per-way arrays. */
static inline size_t way_index(size_t set, uint32_t w)
{
	return set / 2 + w;
}

static inline uint32_t id_of(uint64_t key, uint64_t out)
{
	return (uint32_t)((key & KEY_ID_MASK) >> VIOMMU_IOTLB__KEY_ID_SHIFT) |
	       (uint32_t)(out >> VIOMMU_IOTLB__OUT_ID_SHIFT) << 5;
}

static inline bool tag_live(const struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t)
{
	return t->id && viommu_iotlb__id_live(&tlb->h, t->dom, t->id);
}

/* The tag table entry of the live way, or NULL when the way is free or dead. */
static const struct viommu_iotlb__tagent *way_tag(const struct viommu_iotlb *tlb, size_t set,
						  uint32_t w)
{
	uint64_t key = *key_at(tlb, set, w);
	const struct viommu_iotlb__tagent *t = &tlb->h.tags[tlb->owner[way_index(set, w)]];

	if (!key || t->id != id_of(key, *out_at(tlb, set, w)) || !tag_live(tlb, t))
		return NULL;
	return t;
}

/* The ref value of a place that has none: its place bits are another place's. */
static inline uint64_t ref_none(size_t place)
{
	return ~(uint64_t)place;
}

/* Every change of flush_mark goes here, to keep the domain marks at or above it. */
static void set_flush_mark(struct viommu_iotlb *tlb, uint32_t mark)
{
	tlb->h.flush_mark = mark;
	for (uint32_t i = 0; i < VIOMMU_IOTLB__DOM_SLOTS; i++)
		tlb->h.dom_mark[i] = mark;
}

static void tags_reset(struct viommu_iotlb *tlb)
{
	memset(tlb->h.tags, 0, tlb->ntags * sizeof(struct viommu_iotlb__tagent));
	for (uint32_t i = 0; i < tlb->ntags; i++)
		tlb->h.tags[i].ref = ref_none(i);
}

/* Every change of leaf_shifts goes here, to keep the inline lookup's view of it. */
static void set_leaf_shifts(struct viommu_iotlb *tlb, uint64_t shifts)
{
	unsigned int shift = shifts ? (unsigned int)__builtin_ctzll(shifts) : 0;

	tlb->h.leaf_shifts = shifts;
	tlb->h.miss_none = (shifts & (shifts - 1)) ? VIOMMU_IOTLB__NONE | 1 : VIOMMU_IOTLB__NONE;
	tlb->h.fast_shift = shift;
	tlb->h.fast_mask = shifts && tlb->h.ways == 4 ? page_mask(shift) : 0;
}

/* Counted ways are those filled since the last full flush (live or domain-flushed). */
static void uncount(struct viommu_iotlb *tlb, size_t set, uint32_t w)
{
	uint64_t key = *key_at(tlb, set, w);
	unsigned int shift = key_shift(key);

	if (!key || id_of(key, *out_at(tlb, set, w)) < tlb->h.flush_mark)
		return;
	if (--tlb->shift_count[shift] == 0) {
		set_leaf_shifts(tlb, tlb->h.leaf_shifts & ~(1ull << shift));
		tlb->table_shifts &= ~(1ull << shift);
	}
}

static void count(struct viommu_iotlb *tlb, uint64_t key)
{
	unsigned int shift = key_shift(key);

	tlb->shift_count[shift]++;
	if (key & KEY_NONLEAF)
		tlb->table_shifts |= 1ull << shift;
	else if (!(tlb->h.leaf_shifts & (1ull << shift)))
		set_leaf_shifts(tlb, tlb->h.leaf_shifts | 1ull << shift);
}

/*
 * The sets: a table of a huge page or more is aligned to one and asks for it, since a hit is a
 * random line anywhere in the table and 4 KiB pages would add a TLB miss to most of them.
 */
static uint64_t *alloc_sets(size_t bytes)
{
	const size_t huge = 2u << 20;
	void *p;

	if (bytes < huge)
		/* aligned_alloc() wants a multiple of the alignment: round small tables up. */
		return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	p = aligned_alloc(huge, (bytes + huge - 1) & ~(huge - 1));
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE); /* only a hint */
#endif
	return p;
}

void viommu_iotlb_config_init(struct viommu_iotlb_config *cfg)
{
	if (!cfg)
		return;
	/* What create makes of zero fields. */
	*cfg = (struct viommu_iotlb_config){ .capacity = 1024, .ways = 4 };
}

int viommu_iotlb_create(const struct viommu_iotlb_config *cfg, struct viommu_iotlb **out)
{
	uint32_t capacity = cfg && cfg->capacity ? cfg->capacity : 1024;
	uint32_t ways = cfg && cfg->ways ? cfg->ways : 4;
	size_t set_bytes;
	struct viommu_iotlb *tlb;

	if (!out)
		return VIOMMU_EINVAL;
	if (ways > 16 || (ways & (ways - 1)) || (capacity & (capacity - 1)) || capacity < ways ||
	    capacity > (1u << 26))
		return VIOMMU_EINVAL;
	tlb = calloc(1, sizeof(*tlb));
	if (!tlb)
		return VIOMMU_ENOMEM;
	tlb->h.ways = ways;
	tlb->nsets = capacity / ways;
	tlb->h.set_mask = tlb->nsets - 1;
	/* As many tags as entries, within bounds: enough that tags rarely displace each other. */
	tlb->ntags = capacity < 16 ? 16 : capacity > MAX_TAGS ? MAX_TAGS : capacity;
	tlb->h.tag_mask = tlb->ntags / 2 - 1;
	tlb->h.ref_mask = tlb->ntags - 1;
	set_bytes = (size_t)capacity * 2 * sizeof(uint64_t);
	tlb->h.sets = alloc_sets(set_bytes);
	tlb->h.tags = aligned_alloc(64, tlb->ntags * sizeof(struct viommu_iotlb__tagent));
	tlb->owner = calloc(capacity, sizeof(uint16_t));
	tlb->h.victim = calloc(tlb->nsets, sizeof(*tlb->h.victim));
	if (!tlb->h.sets || !tlb->h.tags || !tlb->owner || !tlb->h.victim) {
		viommu_iotlb_destroy(tlb);
		return VIOMMU_ENOMEM;
	}
	memset(tlb->h.sets, 0, set_bytes);
	tags_reset(tlb);
	set_flush_mark(tlb, 1);
	set_leaf_shifts(tlb, 0);
	tlb->next_id = 1;
	tlb->next_gen = 1;
	*out = tlb;
	return 0;
}

void viommu_iotlb_destroy(struct viommu_iotlb *tlb)
{
	if (!tlb)
		return;
	free(tlb->h.sets);
	free(tlb->h.tags);
	free(tlb->owner);
	free(tlb->h.victim);
	free(tlb);
}

uint32_t viommu_iotlb_capacity(const struct viommu_iotlb *tlb)
{
	return tlb->nsets * tlb->h.ways;
}

/* Forget everything physically: used when the ids run out. */
static void hard_reset(struct viommu_iotlb *tlb)
{
	memset(tlb->h.sets, 0, (size_t)tlb->nsets * tlb->h.ways * 2 * sizeof(uint64_t));
	/* The owner records go with the ids they name; the round-robin pointers stay. */
	for (uint32_t s = 0; s < tlb->nsets; s++)
		tlb->h.victim[s] &= VIOMMU_IOTLB__RR_MASK;
	tags_reset(tlb); /* refs die too: new ids would make them name other tags' entries */
	memset(tlb->shift_count, 0, sizeof(tlb->shift_count));
	set_leaf_shifts(tlb, 0);
	tlb->table_shifts = 0;
	set_flush_mark(tlb, 1);
	tlb->next_id = 1;
}

void viommu_iotlb_flush(struct viommu_iotlb *tlb)
{
	tlb->h.miss_ref = 0;
	tlb->st.invalidations++;
	tlb->st.flushes++;
	set_flush_mark(tlb, tlb->next_id);
	memset(tlb->shift_count, 0, sizeof(tlb->shift_count));
	set_leaf_shifts(tlb, 0);
	tlb->table_shifts = 0;
}

/* The live tag table entry for @tag, or NULL. */
static struct viommu_iotlb__tagent *tag_find(struct viommu_iotlb *tlb,
					     const struct viommu_iotlb_tag *tag)
{
	struct viommu_iotlb__tagent *t = &tlb->h.tags[tlb->h.memo];

	/* The last tag found first, as the inline lookup does: a miss inserts under it next. */
	if (viommu_iotlb__tag_eq(t, tag) && tag_live(tlb, t))
		return t;
	t = &tlb->h.tags[viommu_iotlb__tag_bucket(&tlb->h, viommu_iotlb__dp(tag), tag->sid)];
	for (int i = 0; i < 2; i++, t++) {
		if (viommu_iotlb__tag_eq(t, tag) && tag_live(tlb, t)) {
			tlb->h.memo = (uint32_t)(t - tlb->h.tags);
			return t;
		}
	}
	return NULL;
}

/* The live tag table entry for @tag, interning the tag under a new id if it has none. */
static struct viommu_iotlb__tagent *tag_get(struct viommu_iotlb *tlb,
					    const struct viommu_iotlb_tag *tag)
{
	struct viommu_iotlb__tagent *t = tag_find(tlb, tag), *b;
	uint64_t dp = viommu_iotlb__dp(tag), ref;
	size_t place;

	if (t)
		return t;
	tlb->h.miss_ref = 0; /* the tags change */
	if (tlb->next_id > ID_MAX)
		hard_reset(tlb);
	b = &tlb->h.tags[viommu_iotlb__tag_bucket(&tlb->h, dp, tag->sid)];
	/* The tag's own dead entry (a tag has one entry at most), else a dead or free one. */
	if (viommu_iotlb__tag_eq(&b[0], tag))
		t = &b[0];
	else if (viommu_iotlb__tag_eq(&b[1], tag))
		t = &b[1];
	else if (!tag_live(tlb, &b[0]))
		t = &b[0];
	else if (!tag_live(tlb, &b[1]))
		t = &b[1];
	else
		t = &b[tlb->tag_victim++ & 1]; /* its entries die with its id */
	place = (size_t)(t - tlb->h.tags);
	ref = t->ref;
	if (!viommu_iotlb__tag_eq(t, tag) || ref == ref_none(place))
		ref = tlb->next_gen > REF_GEN_MAX ? ref_none(place) :
						    tlb->next_gen++ << REF_PLACE_BITS | place;
	*t = (struct viommu_iotlb__tagent){ .dom = tag->dom,
					    .pasid = tag->pasid,
					    .sid = tag->sid,
					    .id = tlb->next_id++,
					    .dp = dp,
					    .ref = ref };
	tlb->h.memo = (uint32_t)place;
	return t;
}

/*
 * The way of set @si to fill with @key (id included) for live tag @t: the way of the same page of
 * @t if any (replaced in place), else the first free or dead way, else the set's round-robin
 * victim.
 */
static __attribute__((noinline)) uint32_t
pick_way(struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t, uint32_t si, uint64_t key)
{
	const uint32_t ways = tlb->h.ways, id_hi = t->id >> 5;
	size_t set = (size_t)si * 2 * ways;
	const uint64_t *ks = key_at(tlb, set, 0), *os = out_at(tlb, set, 0);
	uint32_t victim = UINT32_MAX, *rr;

	for (uint32_t w = 0; w < ways; w++) {
		if (os[w] >> VIOMMU_IOTLB__OUT_ID_SHIFT == id_hi &&
		    !((ks[w] ^ key) & KEY_ID_MASK)) {
			/* @t's own id (ids are never shared): live, and the page's way if the key is. */
			if (ks[w] == key)
				return w;
			continue;
		}
		if (victim == UINT32_MAX && !way_tag(tlb, set, w))
			victim = w;
	}
	if (victim != UINT32_MAX)
		return victim;
	rr = &tlb->h.victim[si];
	victim = *rr & VIOMMU_IOTLB__RR_MASK;
	*rr = (*rr & ~VIOMMU_IOTLB__RR_MASK) | ((victim + 1) & (ways - 1));
	tlb->h.evictions++;
	return victim;
}

/* The per-shift counts and masks for way @w of set @si, about to be replaced by @key. */
static __attribute__((noinline)) void recount(struct viommu_iotlb *tlb, uint32_t si, uint32_t w,
					      uint64_t key)
{
	uncount(tlb, (size_t)si * 2 * tlb->h.ways, w);
	count(tlb, key);
}

/* The owner record of set @si: @own (id << 6 | shift, or 0), the round-robin pointer kept. */
static inline void put_record(struct viommu_iotlb *tlb, uint32_t si, uint32_t own)
{
	tlb->h.victim[si] = (tlb->h.victim[si] & VIOMMU_IOTLB__RR_MASK) |
			    own << VIOMMU_IOTLB__OWN_SHIFT;
}

/*
 * The owner record of 4-way set @si, just filled with (@key, @out) (ids included) for tag @t:
 * @t's id and the entry's size when every way holds a leaf of @t of that size, else none.
 */
static void scan_record(struct viommu_iotlb *tlb, uint32_t si, const struct viommu_iotlb__tagent *t,
			uint64_t key, uint64_t out)
{
	const uint64_t out_id = ~0ull << VIOMMU_IOTLB__OUT_ID_SHIFT;
	const uint64_t mine = (out & out_id) | (key & PAGE_LOW_MASK);
	uint64_t *ks = &tlb->h.sets[(size_t)si * 8], *os = ks + 4, other = key & KEY_NONLEAF;

	/* The id bits (key 11:7, output 63:52), the kind and the size of every way. */
	for (uint32_t w = 0; w < 4; w++)
		other |= ((os[w] & out_id) | (ks[w] & PAGE_LOW_MASK)) ^ mine;
	put_record(tlb, si, other ? 0 : t->id << 6 | key_shift(key));
}

/* Fill way @victim of set @si with (@key, @out) (ids included) for live tag @t. */
static inline void fill(struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t, uint32_t si,
			uint32_t victim, uint64_t key, uint64_t out)
{
	const uint32_t ways = tlb->h.ways;
	uint64_t *ks = &tlb->h.sets[(size_t)si * 2 * ways], *os = ks + ways, old = ks[victim];

	/*
	 * A counted way of the same size and kind replaced, not the last of its size: the counts
	 * and masks end as they are, so neither update is made (the common case of a full cache).
	 */
	if (!old || (old ^ key) & (KEY_SHIFT_MASK | KEY_NONLEAF) ||
	    id_of(old, os[victim]) < tlb->h.flush_mark || tlb->shift_count[key_shift(key)] < 2)
		recount(tlb, si, victim, key);
	ks[victim] = key;
	os[victim] = out;
	tlb->owner[(size_t)si * ways + victim] = (uint16_t)(t - tlb->h.tags);
	tlb->h.insertions++;
}

/*
 * Fill (@key, @out), both without the id, into the way pick_way() picks for live tag @t, and
 * keep the set's owner record (4-way sets; other geometries have none).
 */
static inline __attribute__((always_inline)) void insert_at(struct viommu_iotlb *tlb,
							    const struct viommu_iotlb__tagent *t,
							    uint64_t key, uint64_t out)
{
	const uint32_t ways = tlb->h.ways, id_hi = t->id >> 5;
	const uint64_t kid = (uint64_t)(t->id & 31) << VIOMMU_IOTLB__KEY_ID_SHIFT;
	uint32_t si = viommu_iotlb__set(&tlb->h, key, t->dp), victim;
	uint64_t *ks = &tlb->h.sets[(size_t)si * 2 * ways], *os = ks + ways;

	tlb->h.miss_ref = 0; /* the set changes */
	key |= kid;
	out |= (uint64_t)id_hi << VIOMMU_IOTLB__OUT_ID_SHIFT;
	if (ways == 4) {
		/*
		 * pick_way() in a few instructions per way when the set holds the page's way or
		 * only @t's own (live) entries, as a device's misses leave it: no tag table read.
		 * A way is @t's own when its id bits (key 11:7, output 63:52) are @t's id.
		 */
		const uint64_t out_id = ~0ull << VIOMMU_IOTLB__OUT_ID_SHIFT,
			       mine = (out & out_id) | kid;
		uint64_t other = 0;

		for (uint32_t w = 0; w < 4; w++) {
			uint64_t d = ((os[w] & out_id) | (ks[w] & KEY_ID_MASK)) ^ mine;

			if (!d && ks[w] == key) {
				/* The same id, size and kind in the way: the record stays. */
				fill(tlb, t, si, w, key, out);
				return;
			}
			other |= d;
		}
		if (!other) {
			uint32_t *rr = &tlb->h.victim[si], rec = *rr;
			const uint32_t own = t->id << 6 | key_shift(key);

			victim = rec & VIOMMU_IOTLB__RR_MASK;
			*rr = (rec & ~VIOMMU_IOTLB__RR_MASK) | ((victim + 1) & 3);
			tlb->h.evictions++;
			fill(tlb, t, si, victim, key, out);
			/*
			 * Every way @t's own now: a record already of @key's size stays; else
			 * one when every way is a leaf of that size.
			 */
			if (rec >> VIOMMU_IOTLB__OWN_SHIFT != own)
				put_record(tlb, si,
					   (((ks[0] ^ key) | (ks[1] ^ key) | (ks[2] ^ key) |
					     (ks[3] ^ key)) &
					    (KEY_SHIFT_MASK | KEY_NONLEAF)) ||
							   (key & KEY_NONLEAF) ?
						   0 :
						   own);
			return;
		}
	}
	victim = pick_way(tlb, t, si, key);
	fill(tlb, t, si, victim, key, out);
	if (ways == 4)
		scan_record(tlb, si, t, key, out);
}

/*
 * The key and output word (without the id) of a page of size 1 << @shift: false when it cannot
 * be inserted (a size outside the range, an output address at or above 2^52). A walk-cache
 * entry's output is a 4 KiB-aligned table address, not a page of its span.
 */
static inline bool insert_words(uint64_t iova, uint64_t out, unsigned int shift, bool nonleaf,
				uint32_t perm, uint32_t level, uint64_t *key, uint64_t *word)
{
	uint64_t out_addr;

	if (shift < VIOMMU_IOTLB_MIN_SHIFT || shift > VIOMMU_IOTLB_MAX_SHIFT)
		return false;
	out_addr = out & (nonleaf ? ~PAGE_LOW_MASK : page_mask(shift));
	if (out_addr & ~VIOMMU_IOTLB__OUT_ADDR_MASK)
		return false;
	*key = viommu_iotlb__key(iova, shift, nonleaf);
	*word = out_addr | (perm & VIOMMU_IOTLB__OUT_PERM_MASK) |
		(uint64_t)(level & 0xff) << VIOMMU_IOTLB__OUT_LEVEL_SHIFT;
	return true;
}

static inline bool entry_words(const struct viommu_iotlb_entry *e, uint64_t *key, uint64_t *word)
{
	return insert_words(e->iova, e->out, e->shift, e->flags & VIOMMU_IOTLB_NONLEAF, e->perm,
			    e->level, key, word);
}

int viommu_iotlb_insert(struct viommu_iotlb *tlb, const struct viommu_iotlb_entry *e)
{
	uint64_t key, out;

	if (!entry_words(e, &key, &out))
		return VIOMMU_EINVAL;
	insert_at(tlb, tag_get(tlb, &e->tag), key, out);
	return 0;
}

/* Insert (@key, @out) under the tag @ref names, as viommu_iotlb_insert_ref(). */
static inline int insert_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t key, uint64_t out)
{
	struct viommu_iotlb__tagent *t = &tlb->h.tags[ref & tlb->h.ref_mask];

	if (t->ref != ref)
		return VIOMMU_ESTALE;
	if (!tag_live(tlb, t)) {
		/* Flushed since: a new id in the same place, as tag_get() gives it (ref kept). */
		if (tlb->next_id > ID_MAX)
			return VIOMMU_ESTALE; /* the reset that makes ids anew drops every ref */
		t->id = tlb->next_id++;
		tlb->h.miss_ref = 0;
	}
	insert_at(tlb, t, key, out);
	return 0;
}

int viommu_iotlb_insert_ref(struct viommu_iotlb *tlb, uint64_t ref,
			    const struct viommu_iotlb_entry *e)
{
	uint64_t key, out;

	if (!entry_words(e, &key, &out))
		return VIOMMU_EINVAL;
	return insert_ref(tlb, ref, key, out);
}

int vi_iotlb_insert_leaf(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
			 uint64_t iova, uint64_t out, unsigned int shift, uint32_t perm,
			 uint32_t level)
{
	uint64_t key, word;

	if (!insert_words(iova, out, shift, false, perm, level, &key, &word))
		return VIOMMU_EINVAL;
	insert_at(tlb, tag_get(tlb, tag), key, word);
	return 0;
}

int vi_iotlb__insert_leaf_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova, uint64_t out,
			      unsigned int shift, uint32_t perm, uint32_t level)
{
	uint64_t key, word;

	if (!insert_words(iova, out, shift, false, perm, level, &key, &word))
		return VIOMMU_EINVAL;
	return insert_ref(tlb, ref, key, word);
}

static void fill_entry(const struct viommu_iotlb *tlb, size_t set, uint32_t w,
		       const struct viommu_iotlb__tagent *t, struct viommu_iotlb_entry *e)
{
	uint64_t key = *key_at(tlb, set, w), out = *out_at(tlb, set, w);

	e->tag.dom = t->dom;
	e->tag.pasid = t->pasid;
	e->tag.sid = t->sid;
	e->shift = (uint8_t)key_shift(key);
	e->iova = key & ~PAGE_LOW_MASK;
	e->out = out & VIOMMU_IOTLB__OUT_ADDR_MASK;
	e->perm = out & VIOMMU_IOTLB__OUT_PERM_MASK;
	e->level = (uint8_t)(out >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT);
	e->flags = (key & KEY_NONLEAF) ? VIOMMU_IOTLB_NONLEAF : 0;
}

/* Way of the entry of live tag @t with key @key (id not yet added) in @set, or UINT32_MAX. */
static uint32_t find(const struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t,
		     size_t set, uint64_t key)
{
	key |= (uint64_t)(t->id & 31) << VIOMMU_IOTLB__KEY_ID_SHIFT;
	for (uint32_t w = 0; w < tlb->h.ways; w++) {
		if (*key_at(tlb, set, w) == key &&
		    *out_at(tlb, set, w) >> VIOMMU_IOTLB__OUT_ID_SHIFT == t->id >> 5)
			return w;
	}
	return UINT32_MAX;
}

int viommu_iotlb_lookup(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag, uint64_t iova,
			struct viommu_iotlb_entry *e)
{
	return vi_iotlb_lookup(tlb, tag, iova, e);
}

/*
 * Way of the leaf entry of live tag @t covering @iova, and its set in *@setp; UINT32_MAX on a
 * miss, counted.
 */
static uint32_t find_leaf(struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t,
			  uint64_t iova, size_t *setp)
{
	uint64_t shifts = tlb->h.leaf_shifts;

	/* Smallest pages first: they are the most common mapping in a guest. */
	while (shifts) {
		unsigned int shift = (unsigned int)__builtin_ctzll(shifts);
		uint64_t key = viommu_iotlb__key(iova, shift, false);
		size_t set = set_of(tlb, key, t->dp);
		uint32_t w = find(tlb, t, set, key);

		shifts &= shifts - 1;
		if (w != UINT32_MAX) {
			*setp = set;
			return w;
		}
	}
	tlb->h.misses++;
	return UINT32_MAX;
}

int viommu_iotlb__lookup_slow(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
			      uint64_t iova, struct viommu_iotlb_entry *e)
{
	const struct viommu_iotlb__tagent *t = tag_find(tlb, tag);
	size_t set;
	uint32_t w;

	if (!t) {
		tlb->h.misses++;
		return VIOMMU_ENOENT;
	}
	w = find_leaf(tlb, t, iova, &set);
	if (w == UINT32_MAX)
		return VIOMMU_ENOENT;
	fill_entry(tlb, set, w, t, e);
	return 0;
}

int viommu_iotlb_tag_ref(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
			 uint64_t *ref)
{
	const struct viommu_iotlb__tagent *t = tag_get(tlb, tag);

	if (t->ref == ref_none((size_t)(t - tlb->h.tags)))
		return VIOMMU_ENOSPC;
	*ref = t->ref;
	return 0;
}

int viommu_iotlb_lookup_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
			    struct viommu_iotlb_hit *hit)
{
	return vi_iotlb_lookup_ref(tlb, ref, iova, hit);
}

/* Addresses per round of viommu_iotlb_lookup_ref_batch(): lines in flight at once. */
#define BATCH 16

int viommu_iotlb_lookup_ref_batch(struct viommu_iotlb *tlb, uint64_t ref, const uint64_t *iova,
				  uint32_t n, struct viommu_iotlb_hit *hits)
{
	struct viommu_iotlb__hot *h = &tlb->h;
	const struct viommu_iotlb__tagent *t = &h->tags[ref & h->ref_mask];
	uint64_t kid, none;
	uint32_t id_hi;

	if (t->ref != ref)
		return VIOMMU_ESTALE;
	if (!h->fast_mask || !tag_live(tlb, t) || (h->leaf_shifts & (h->leaf_shifts - 1))) {
		/* Not the one-probe case: address by address. */
		for (uint32_t i = 0; i < n; i++) {
			if (vi_iotlb_lookup_ref(tlb, ref, iova[i], &hits[i]))
				hits[i].shift = 0;
		}
		return 0;
	}
	kid = (uint64_t)(t->id & 31) << VIOMMU_IOTLB__KEY_ID_SHIFT;
	none = (uint64_t)~t->id << (VIOMMU_IOTLB__OUT_ID_SHIFT - 5);
	id_hi = t->id >> 5;
	h->lookups += n;
	for (uint32_t b = 0; b < n; b += BATCH) {
		uint32_t m = n - b < BATCH ? n - b : BATCH;
		const uint64_t *set[BATCH];
		uint64_t key[BATCH];

		/* First every line of the round, then the matches: the fetches overlap. */
		for (uint32_t j = 0; j < m; j++) {
			key[j] = (iova[b + j] & h->fast_mask) | h->fast_shift;
			set[j] = &h->sets[(size_t)viommu_iotlb__set(h, key[j], t->dp) * 8];
			__builtin_prefetch(set[j]);
			key[j] |= kid;
		}
		for (uint32_t j = 0; j < m; j++) {
			uint64_t out = viommu_iotlb__match4_any(set[j], key[j], none);
			struct viommu_iotlb_hit *hit = &hits[b + j];
			const uint64_t *s = set[j];

			if (out >> VIOMMU_IOTLB__OUT_ID_SHIFT == id_hi) {
				hit->addr = (out & VIOMMU_IOTLB__OUT_ADDR_MASK) |
					    (iova[b + j] & ~h->fast_mask);
				hit->shift = (uint8_t)h->fast_shift;
				hit->perm = (uint8_t)(out & VIOMMU_IOTLB__OUT_PERM_MASK);
				hit->level = (uint8_t)(out >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT);
			} else if (s[0] == key[j] || s[1] == key[j] || s[2] == key[j] ||
				   s[3] == key[j]) {
				/* Another tag's entry with the key hid this one. */
				if (viommu_iotlb__lookup_ref_slow(tlb, t, iova[b + j], hit))
					hit->shift = 0;
			} else {
				h->misses++;
				hit->shift = 0;
			}
		}
	}
	return 0;
}

int viommu_iotlb__lookup_ref_slow(struct viommu_iotlb *tlb, const struct viommu_iotlb__tagent *t,
				  uint64_t iova, struct viommu_iotlb_hit *hit)
{
	uint64_t key, out;
	size_t set;
	uint32_t w;

	if (!tag_live(tlb, t)) {
		tlb->h.misses++;
		return VIOMMU_ENOENT;
	}
	w = find_leaf(tlb, t, iova, &set);
	if (w == UINT32_MAX)
		return VIOMMU_ENOENT;
	key = *key_at(tlb, set, w);
	out = *out_at(tlb, set, w);
	hit->addr = (out & VIOMMU_IOTLB__OUT_ADDR_MASK) | (iova & ((1ull << key_shift(key)) - 1));
	hit->shift = (uint8_t)key_shift(key);
	hit->perm = (uint8_t)(out & VIOMMU_IOTLB__OUT_PERM_MASK);
	hit->level = (uint8_t)(out >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT);
	return 0;
}

int viommu_iotlb_lookup_nonleaf(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				uint64_t iova, uint8_t shift, struct viommu_iotlb_entry *e)
{
	const struct viommu_iotlb__tagent *t = tag_find(tlb, tag);

	tlb->h.lookups++;
	if (t && shift >= VIOMMU_IOTLB_MIN_SHIFT && shift <= VIOMMU_IOTLB_MAX_SHIFT &&
	    (tlb->table_shifts & (1ull << shift))) {
		uint64_t key = viommu_iotlb__key(iova, shift, true);
		size_t set = set_of(tlb, key, t->dp);
		uint32_t w = find(tlb, t, set, key);

		if (w != UINT32_MAX) {
			fill_entry(tlb, set, w, t, e);
			return 0;
		}
	}
	tlb->h.misses++;
	return VIOMMU_ENOENT;
}

static bool way_matches(const struct viommu_iotlb *tlb, size_t set, uint32_t w,
			const struct viommu_iotlb_inval *inv)
{
	const struct viommu_iotlb__tagent *t = way_tag(tlb, set, w);
	uint64_t key = *key_at(tlb, set, w);
	uint32_t m = inv->match;

	if (!t)
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_DOM) && t->dom != inv->tag.dom)
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_PASID) && t->pasid != inv->tag.pasid)
		return false;
	if ((m & VIOMMU_IOTLB_MATCH_SID) && t->sid != inv->tag.sid)
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

static void drop(struct viommu_iotlb *tlb, size_t set, uint32_t w)
{
	uncount(tlb, set, w);
	*key_at(tlb, set, w) = 0;
	*out_at(tlb, set, w) = 0;
	tlb->h.victim[set / (2 * tlb->h.ways)] &= VIOMMU_IOTLB__RR_MASK; /* a free way now */
}

static void scan_invalidate(struct viommu_iotlb *tlb, const struct viommu_iotlb_inval *inv)
{
	for (size_t s = 0; s < tlb->nsets; s++) {
		size_t set = s * 2 * tlb->h.ways;

		for (uint32_t w = 0; w < tlb->h.ways; w++) {
			if (way_matches(tlb, set, w, inv))
				drop(tlb, set, w);
		}
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
	uint64_t dp = viommu_iotlb__dp(&inv->tag);

	while (shifts) {
		unsigned int shift = (unsigned int)__builtin_ctzll(shifts);
		uint64_t page = inv->first & page_mask(shift);
		uint64_t end = inv->last & page_mask(shift);

		shifts &= shifts - 1;
		for (;;) {
			uint64_t key = viommu_iotlb__key(page, shift, nonleaf);
			size_t set = set_of(tlb, key, dp);

			/* Any tag's entry for the page: way_matches() checks the tag fields. */
			for (uint32_t w = 0; w < tlb->h.ways; w++) {
				if ((*key_at(tlb, set, w) & ~KEY_ID_MASK) == key &&
				    way_matches(tlb, set, w, inv))
					drop(tlb, set, w);
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

	tlb->h.miss_ref = 0;
	if (m == 0) {
		viommu_iotlb_flush(tlb);
		return;
	}
	tlb->st.invalidations++;
	if ((m & VIOMMU_IOTLB_MATCH_ADDR) && inv->first > inv->last)
		return;
	if (m == VIOMMU_IOTLB_MATCH_DOM) {
		/* Every tag hashed to this domain slot dies at once, and its entries with it. */
		tlb->h.dom_mark[inv->tag.dom % VIOMMU_IOTLB__DOM_SLOTS] = tlb->next_id;
		return;
	}
	if ((m & VIOMMU_IOTLB_MATCH_ADDR) && (m & probe_tag) == probe_tag) {
		uint64_t shifts = tlb->h.leaf_shifts;
		uint64_t tshifts = (m & VIOMMU_IOTLB_LEAF_ONLY) ? 0 : tlb->table_shifts;
		uint64_t probes = 0, all = shifts | tshifts;

		if (!all)
			return; /* nothing of any size is resident */

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
	st->lookups = tlb->h.lookups;
	st->misses = tlb->h.misses;
	st->insertions = tlb->h.insertions;
	st->evictions = tlb->h.evictions;
	/* Hits are derived so that a hit writes one counter instead of two. */
	st->hits = st->lookups - st->misses;
}
