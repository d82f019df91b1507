/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB shared by every model: a bounded cache of leaf translations (and, flagged, of
 * intermediate table pointers for walk caches) tagged by the model's own identifiers.
 *
 * Structure: set-associative (default 4 ways), indexed by a hash of page number, page size,
 * domain and PASID. A tag in use is interned as a 17-bit id, so that an entry is 16 bytes and a
 * 4-way set is one cache line: a hit reads the tag's place in the tag table and that line.
 * Replacement within a set: first a free or invalidated way, else FIFO (the way filled longest
 * ago), as many hardware IOTLBs do; a hit writes nothing but the lookup count. Lookup probes one
 * set per page size currently resident (at most 36 sizes, usually one or two), so it is O(1).
 *
 * Interned tags live in a 2-way table of at least 16 and at most 4096 slots (scaled with the
 * capacity). A tag that has to displace two others in use drops the entries of the one it
 * displaces, and after 2^17 - 1 ids the cache forgets everything and numbers from 1 again; a
 * cache may always forget more than asked.
 *
 * Full invalidation and invalidation by domain alone are O(1): ids grow with each interning, and
 * a tag is live only while its id is at least the next id at the last full flush and at the last
 * flush of its domain's slot. Domain slots are hashed, so a domain flush may also drop entries of
 * a domain sharing its slot.
 *
 * Not thread-safe: one instance belongs to one model instance.
 */
#ifndef VIOMMU_IOTLB_H
#define VIOMMU_IOTLB_H

#include <viommu/viommu.h>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VIOMMU_IOTLB_MIN_SHIFT 12 /* 4 KiB */
#define VIOMMU_IOTLB_MAX_SHIFT 47 /* 128 TiB, past any block size of the supported formats */

/*
 * Tag fields are the model's choice: e.g. VT-d puts the domain id in @dom and the source id in
 * @sid; SMMUv3 puts VMID in @dom and ASID in @pasid. Unused fields are zero.
 */
struct viommu_iotlb_tag {
	uint32_t dom;
	uint32_t pasid;
	uint32_t sid;
};

enum viommu_iotlb_flags {
	VIOMMU_IOTLB_NONLEAF = 1u << 0, /* an intermediate-table (walk cache) entry */
};

struct viommu_iotlb_entry {
	struct viommu_iotlb_tag tag;
	uint64_t iova; /* any address inside the page; stored aligned down */
	uint64_t out;  /* page output address (aligned down to the page; NONLEAF: to 4 KiB) */
	uint8_t shift; /* page size: 1 << shift, VIOMMU_IOTLB_MIN_SHIFT..VIOMMU_IOTLB_MAX_SHIFT */
	uint8_t perm;  /* enum viommu_access */
	uint8_t flags; /* enum viommu_iotlb_flags */
	uint8_t level; /* model-defined (e.g. the table level of a NONLEAF entry) */
};

struct viommu_iotlb_config {
	uint32_t capacity; /* entries; a power of two >= ways (default 1024 when 0) */
	uint32_t ways;	   /* associativity; 1, 2, 4, 8 or 16 (default 4 when 0) */
};

struct viommu_iotlb_stats {
	uint64_t lookups;
	uint64_t hits;
	uint64_t misses;
	uint64_t insertions;
	uint64_t evictions;	/* live entries displaced by an insertion */
	uint64_t invalidations; /* invalidation requests, of any kind */
	uint64_t flushes;	/* full invalidations */
};

enum viommu_iotlb_match {
	VIOMMU_IOTLB_MATCH_DOM = 1u << 0,
	VIOMMU_IOTLB_MATCH_PASID = 1u << 1,
	VIOMMU_IOTLB_MATCH_SID = 1u << 2,
	VIOMMU_IOTLB_MATCH_ADDR = 1u << 3, /* only entries whose page overlaps [first, last] */
	VIOMMU_IOTLB_LEAF_ONLY = 1u << 4,  /* keep NONLEAF entries */
};

/* Drop entries matching every field selected in @match; a zero @match drops everything. */
struct viommu_iotlb_inval {
	uint32_t match; /* enum viommu_iotlb_match */
	struct viommu_iotlb_tag tag;
	uint64_t first;
	uint64_t last; /* inclusive */
};

struct viommu_iotlb;

VIOMMU_API int viommu_iotlb_create(const struct viommu_iotlb_config *cfg,
				   struct viommu_iotlb **out);
VIOMMU_API void viommu_iotlb_destroy(struct viommu_iotlb *tlb);

/* Number of entries the cache can hold. */
VIOMMU_API uint32_t viommu_iotlb_capacity(const struct viommu_iotlb *tlb);

/*
 * Insert or replace the entry for (tag, page, flags & NONLEAF). Returns VIOMMU_EINVAL for a page
 * size outside the supported range or an output address at or above 2^52 (wider than any
 * architecture's physical or intermediate address space; the bits above hold the tag). Entries
 * are looked up by exact tag; the set index hashes only dom and pasid, so address-range
 * invalidations that name both are answered by probing.
 */
VIOMMU_API int viommu_iotlb_insert(struct viommu_iotlb *tlb, const struct viommu_iotlb_entry *e);

/* ---- inline lookup ---------------------------------------------------------------------- */

/*
 * Not API: the prefix of the IOTLB that the inline lookup reads, and helpers it shares with
 * src/core/iotlb.c. The lookup is inline because at a few nanoseconds per hit the call itself
 * would be a large part of the cost. The layout may change with the soname.
 */
#define VIOMMU_IOTLB__DOM_SLOTS 256
#define VIOMMU_IOTLB__KEY_ID_SHIFT 7  /* key bits 11:7: id bits 4:0 */
#define VIOMMU_IOTLB__OUT_ID_SHIFT 52 /* output bits 63:52: id bits 16:5 */
#define VIOMMU_IOTLB__OUT_ADDR_MASK 0x000ffffffffff000ull
#define VIOMMU_IOTLB__OUT_PERM_MASK 0xfull
#define VIOMMU_IOTLB__OUT_LEVEL_SHIFT 4

struct viommu_iotlb__tagent {
	uint32_t dom;
	uint32_t pasid;
	uint32_t sid;
	uint32_t id; /* 0: free */
};

struct viommu_iotlb__hot {
	uint64_t *sets; /* per set: @ways keys, then @ways output words */
	struct viommu_iotlb__tagent *tags;
	uint64_t leaf_shifts; /* bit s set: leaf entries of page shift s may be live */
	uint64_t fast_mask;   /* page mask of the smallest of them; 0: no inline lookup */
	uint32_t fast_shift;
	uint64_t lookups;
	uint64_t misses;
	uint32_t set_mask;
	uint32_t tag_mask; /* tag buckets - 1; a bucket is two adjacent entries */
	uint32_t ways;
	uint32_t flush_mark;			    /* ids below it died in the last full flush */
	uint32_t dom_mark[VIOMMU_IOTLB__DOM_SLOTS]; /* ... and below these, in domain flushes */
};

/*
 * The hash of dom and pasid that both the tag table and the sets start from. Field by field, not
 * one 8-byte load: callers often fill the tag just before, and a load spanning two fresh 4-byte
 * stores cannot be forwarded from them.
 */
static inline uint64_t viommu_iotlb__dp(const struct viommu_iotlb_tag *t)
{
	return ((uint64_t)t->dom << 32 | t->pasid) * 0x9e3779b97f4a7c15ull;
}

static inline uint32_t viommu_iotlb__tag_bucket(const struct viommu_iotlb__hot *h, uint64_t dp,
						uint32_t sid)
{
	return ((uint32_t)((dp ^ (uint64_t)sid * 0xff51afd7ed558ccdull) >> 40) & h->tag_mask) * 2;
}

static inline bool viommu_iotlb__tag_eq(const struct viommu_iotlb__tagent *a,
					const struct viommu_iotlb_tag *b)
{
	/* One branch instead of three: a hit compares all fields anyway. */
	return ((a->dom ^ b->dom) | (a->pasid ^ b->pasid) | (a->sid ^ b->sid)) == 0;
}

static inline bool viommu_iotlb__id_live(const struct viommu_iotlb__hot *h, uint32_t dom,
					 uint32_t id)
{
	uint32_t d = h->dom_mark[dom % VIOMMU_IOTLB__DOM_SLOTS];

	return id >= (d > h->flush_mark ? d : h->flush_mark);
}

/* Key of the page of size 1 << @shift holding @iova, before the id is added. */
static inline uint64_t viommu_iotlb__key(uint64_t iova, unsigned int shift, bool nonleaf)
{
	return (iova & ~((1ull << shift) - 1)) | shift | (nonleaf ? 1ull << 6 : 0);
}

/* Set of (@key, dom, pasid): it hashes no sid, so that range invalidations can probe by domain. */
static inline uint32_t viommu_iotlb__set(const struct viommu_iotlb__hot *h, uint64_t key,
					 uint64_t dp)
{
	return (uint32_t)((key ^ dp) * 0xc2b2ae3d27d4eb4full >> 32) & h->set_mask;
}

/*
 * Bit w set when way w of the 4-way @set holds @key; *@out is the output word of the matching way
 * when exactly one does. No branch depends on which way matched: that is random, and a
 * misprediction once the line arrives would stop the next lookups from overlapping this one.
 */
static inline uint32_t viommu_iotlb__match4(const uint64_t *set, uint64_t key, uint64_t *out)
{
#if defined(__SSE2__) && defined(__x86_64__)
	/* Two 16-byte compares and a masked select: fewer loads wait on the line than four. */
	const __m128i *v = (const __m128i *)set;
	__m128i k = _mm_set1_epi64x((long long)key);
	__m128i a = _mm_cmpeq_epi32(_mm_load_si128(v), k);
	__m128i b = _mm_cmpeq_epi32(_mm_load_si128(v + 1), k);
	__m128i o;

	/* A way matches when both of its halves do. */
	a = _mm_and_si128(a, _mm_shuffle_epi32(a, 0xb1));
	b = _mm_and_si128(b, _mm_shuffle_epi32(b, 0xb1));
	o = _mm_or_si128(_mm_and_si128(a, _mm_load_si128(v + 2)),
			 _mm_and_si128(b, _mm_load_si128(v + 3)));
	*out = (uint64_t)_mm_cvtsi128_si64(_mm_or_si128(o, _mm_unpackhi_epi64(o, o)));
	return (uint32_t)_mm_movemask_pd(_mm_castsi128_pd(a)) |
	       (uint32_t)_mm_movemask_pd(_mm_castsi128_pd(b)) << 2;
#else
	uint32_t m = (uint32_t)(set[0] == key) | (uint32_t)(set[1] == key) << 1 |
		     (uint32_t)(set[2] == key) << 2 | (uint32_t)(set[3] == key) << 3;

	/* Keeps the compiler from turning the mask back into a chain of branches. */
	__asm__("" : "+r"(m));
	*out = set[4 + __builtin_ctz(m | 8)];
	return m;
#endif
}

/* The general case of viommu_iotlb_lookup(), after the lookup was counted. */
VIOMMU_API int viommu_iotlb__lookup_slow(struct viommu_iotlb *tlb,
					 const struct viommu_iotlb_tag *tag, uint64_t iova,
					 struct viommu_iotlb_entry *e);

/*
 * Find the live leaf entry of @tag covering @iova. Returns 0 and fills @e (with the page-aligned
 * iova and out) on a hit, VIOMMU_ENOENT on a miss.
 *
 * Inline for the common case (a 4-way cache, a hit on the smallest resident page size or a miss
 * when that is the only one); the rest is viommu_iotlb__lookup_slow().
 */
static inline int viommu_iotlb_lookup(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				      uint64_t iova, struct viommu_iotlb_entry *e)
{
	struct viommu_iotlb__hot *h = (struct viommu_iotlb__hot *)tlb;
	uint64_t dp = viommu_iotlb__dp(tag), key, out;
	const struct viommu_iotlb__tagent *t = &h->tags[viommu_iotlb__tag_bucket(h, dp, tag->sid)];
	const uint64_t *set;
	uint32_t m;

	h->lookups++;
	if (!viommu_iotlb__tag_eq(t, tag) && !viommu_iotlb__tag_eq(++t, tag))
		goto slow;
	if (!h->fast_mask || !viommu_iotlb__id_live(h, tag->dom, t->id))
		goto slow;
	key = (iova & h->fast_mask) | h->fast_shift;
	set = &h->sets[(size_t)viommu_iotlb__set(h, key, dp) * 8];
	key |= (uint64_t)(t->id & 31) << VIOMMU_IOTLB__KEY_ID_SHIFT;
	m = viommu_iotlb__match4(set, key, &out);
	if (!m) {
		if (h->leaf_shifts & (h->leaf_shifts - 1))
			goto slow; /* larger pages to probe */
		h->misses++;
		return VIOMMU_ENOENT;
	}
	/* Two ways with the key are two tags whose ids share the low bits: rare. */
	if ((m & (m - 1)) || out >> VIOMMU_IOTLB__OUT_ID_SHIFT != t->id >> 5)
		goto slow;
	e->tag = *tag;
	e->iova = key & ~0xfffull;
	e->out = out & VIOMMU_IOTLB__OUT_ADDR_MASK;
	e->shift = (uint8_t)h->fast_shift;
	e->perm = (uint8_t)(out & VIOMMU_IOTLB__OUT_PERM_MASK);
	e->flags = 0;
	e->level = (uint8_t)(out >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT);
	return 0;
slow:
	return viommu_iotlb__lookup_slow(tlb, tag, iova, e);
}

/*
 * As viommu_iotlb_lookup(), for the NONLEAF entry of @tag that spans the 1 << @shift bytes around
 * @iova (a walk cache entry for the table that maps that span).
 */
VIOMMU_API int viommu_iotlb_lookup_nonleaf(struct viommu_iotlb *tlb,
					   const struct viommu_iotlb_tag *tag, uint64_t iova,
					   uint8_t shift, struct viommu_iotlb_entry *e);

/* Drop what @inv selects. */
VIOMMU_API void viommu_iotlb_invalidate(struct viommu_iotlb *tlb,
					const struct viommu_iotlb_inval *inv);

/* Drop everything, in O(1). */
VIOMMU_API void viommu_iotlb_flush(struct viommu_iotlb *tlb);

VIOMMU_API void viommu_iotlb_get_stats(const struct viommu_iotlb *tlb,
				       struct viommu_iotlb_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_IOTLB_H */
