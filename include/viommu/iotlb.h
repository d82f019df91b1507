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

/* The defaults written out: 1024 entries, 4 ways; the same cache as a NULL or `{ 0 }` config. */
VIOMMU_API void viommu_iotlb_config_init(struct viommu_iotlb_config *cfg);

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

/*
 * Find the live leaf entry of @tag covering @iova. Returns 0 and fills @e (with the page-aligned
 * iova and out) on a hit, VIOMMU_ENOENT on a miss.
 */
VIOMMU_API int viommu_iotlb_lookup(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				   uint64_t iova, struct viommu_iotlb_entry *e);

/*
 * As viommu_iotlb_lookup(), for the NONLEAF entry of @tag that spans the 1 << @shift bytes around
 * @iova (a walk cache entry for the table that maps that span).
 */
VIOMMU_API int viommu_iotlb_lookup_nonleaf(struct viommu_iotlb *tlb,
					   const struct viommu_iotlb_tag *tag, uint64_t iova,
					   uint8_t shift, struct viommu_iotlb_entry *e);

/*
 * Refs: a model that looks up many addresses under one tag (e.g. VT-d, per context-cache entry)
 * takes a ref for the tag once and looks up by (ref, iova), which skips finding the tag.
 *
 * viommu_iotlb_tag_ref() interns @tag as an insertion would and sets *@ref. The ref stays good
 * across flushes and re-insertions of the tag, until another tag takes its place in the tag table
 * or the tag ids run out; from then on lookups by it return VIOMMU_ESTALE (never another tag's
 * entries) and the model takes a new one. A ref is a handle of the cache that issued it; 0 is
 * never one. Returns VIOMMU_ENOSPC when the cache has issued its 2^52 refs (then look up by tag).
 */
VIOMMU_API int viommu_iotlb_tag_ref(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				    uint64_t *ref);

/*
 * viommu_iotlb_insert() under the tag @ref names (@e->tag is not read): what a model inserts
 * after a lookup by the same ref missed, without copying or finding the tag. Returns
 * VIOMMU_ESTALE for a stale ref (nothing inserted: insert by tag), else as viommu_iotlb_insert().
 */
VIOMMU_API int viommu_iotlb_insert_ref(struct viommu_iotlb *tlb, uint64_t ref,
				       const struct viommu_iotlb_entry *e);

/* A hit of viommu_iotlb_lookup_ref(): what the entry says about the address looked up. */
struct viommu_iotlb_hit {
	uint64_t addr; /* the translated address: page output address plus the offset in the page */
	uint8_t shift; /* page size: 1 << shift */
	uint8_t perm;  /* enum viommu_access */
	uint8_t level; /* as inserted */
};

/*
 * As viommu_iotlb_lookup() for the tag @ref names: 0 and *@hit on a hit, VIOMMU_ENOENT on a miss
 * (both counted in the stats), VIOMMU_ESTALE for a stale ref (not counted: look up again with a
 * new ref or by tag).
 */
VIOMMU_API int viommu_iotlb_lookup_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
				       struct viommu_iotlb_hit *hit);

/*
 * viommu_iotlb_lookup_ref() for the @n addresses @iova[] (e.g. a descriptor chain's buffers):
 * @hits[i] as that would fill it, with shift 0 for a miss. Each address counts as one lookup.
 * Returns 0, or VIOMMU_ESTALE for a stale ref (nothing looked up). Faster per address than single
 * lookups when the table is larger than the caches: the lines of a batch are fetched together.
 */
VIOMMU_API int viommu_iotlb_lookup_ref_batch(struct viommu_iotlb *tlb, uint64_t ref,
					     const uint64_t *iova, uint32_t n,
					     struct viommu_iotlb_hit *hits);

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
