/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB's hot path, for src/core/iotlb.c and the models inside the library: the prefix of
 * struct viommu_iotlb that a hit reads and the inline lookup over it. Not public: embedders call
 * viommu_iotlb_lookup(), which is this inline lookup behind one call.
 */
#ifndef VIOMMU_CORE_IOTLB_FAST_H
#define VIOMMU_CORE_IOTLB_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/iotlb.h>

#define VIOMMU_IOTLB__DOM_SLOTS 256
#define VIOMMU_IOTLB__KEY_ID_SHIFT 7  /* key bits 11:7: id bits 4:0 */
#define VIOMMU_IOTLB__OUT_ID_SHIFT 52 /* output bits 63:52: id bits 16:5 */
#define VIOMMU_IOTLB__OUT_ADDR_MASK 0x000ffffffffff000ull
#define VIOMMU_IOTLB__OUT_PERM_MASK 0xfull
#define VIOMMU_IOTLB__OUT_LEVEL_SHIFT 4
/*
 * Per set, one word (struct viommu_iotlb__hot's @victim): the round-robin pointer in bits 3:0,
 * and above it the set's owner record, id << 6 | shift, or 0. A record of id I and shift S says
 * that every way of the set holds a leaf entry of size 1 << S with id I (so of one tag, live
 * while I is). Every change of a way that could break that clears the record or makes it anew
 * (the general insert); ids are never given twice, so a record of a dead id matches no tag.
 */
#define VIOMMU_IOTLB__RR_MASK 0xfu
#define VIOMMU_IOTLB__OWN_SHIFT 4
/*
 * The output word viommu_iotlb__match4_any() gives when no way holds the key: id bits 16:5 all
 * ones, which no entry's word has (ids stop below 0xfff << 5: iotlb.c's ID_MAX), so that one
 * compare tells "no way with the key" from "another tag's entry with the key".
 */
#define VIOMMU_IOTLB__NONE (0xfffull << VIOMMU_IOTLB__OUT_ID_SHIFT)

/* 32 bytes: a 2-way bucket is one line. */
struct viommu_iotlb__tagent {
	uint32_t dom;
	uint32_t pasid;
	uint32_t sid;
	uint32_t id;  /* 0: free */
	uint64_t dp;  /* viommu_iotlb__dp() of the tag: a lookup by ref hashes nothing */
	uint64_t ref; /* the ref naming this place and tag; one no ref equals when none */
};

struct viommu_iotlb__hot {
	uint64_t *sets; /* per set: @ways keys, then @ways output words */
	struct viommu_iotlb__tagent *tags;
	uint64_t leaf_shifts; /* bit s set: leaf entries of page shift s may be live */
	uint64_t fast_mask;   /* page mask of the smallest of them; 0: no inline lookup */
	uint32_t fast_shift;
	uint64_t lookups;
	uint64_t misses;
	uint64_t insertions;
	uint64_t evictions;
	uint32_t *victim; /* per set: the round-robin pointer and the owner record */
	uint32_t set_mask;
	uint32_t tag_mask; /* tag buckets - 1; a bucket is two adjacent entries */
	uint32_t ref_mask; /* tag table entries - 1: the place bits of a ref */
	uint32_t ways;
	uint32_t flush_mark; /* ids below it died in the last full flush */
	uint32_t memo;	     /* tag table place of the last tag found by value: tried first */
	/*
	 * VIOMMU_IOTLB__NONE while one leaf size is resident, so that a probe of that size that
	 * finds no way with its key is a miss; else a word no probe gives (the general lookup).
	 */
	uint64_t miss_none;
	/*
	 * The miss cursor: the last definite miss of a lookup by ref (the ref, its set, the key
	 * probed with the id, the owner record the set has when every way is the tag's own leaf
	 * of the size probed), so that the insert a model makes next, of the same page under the
	 * same ref, neither hashes nor checks the tag again. Anything that changes the sets, the
	 * tags or the marks clears @miss_ref (0 is never a ref).
	 */
	uint64_t miss_ref;
	uint64_t miss_key;
	uint32_t miss_set;
	uint32_t miss_own; /* (id << 6 | shift) << VIOMMU_IOTLB__OWN_SHIFT */
	/*
	 * ... and below these, in that flush or later domain flushes: a full flush raises them
	 * all (a fixed 1 KiB), so that a hit compares with one mark instead of two.
	 */
	uint32_t dom_mark[VIOMMU_IOTLB__DOM_SLOTS];
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
	return id >= h->dom_mark[dom % VIOMMU_IOTLB__DOM_SLOTS];
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
 * The output word of a way of the 4-way @set holding @key, or @none. Two ways with the key are
 * two tags whose ids share bits 4:0 (rare): the caller checks the id bits of the word it gets,
 * and looks further only when they are not its own. Few instructions wait for the line, so more
 * lookups are in flight while their lines arrive.
 */
static inline uint64_t viommu_iotlb__match4_any(const uint64_t *set, uint64_t key, uint64_t none)
{
	uint64_t out = none;

	/*
	 * Conditional moves: which way matches is random, and a branch on it would mispredict;
	 * compilers turn the plain C into branches.
	 */
	for (int w = 0; w < 4; w++) {
#if defined(__x86_64__)
		__asm__("cmpq %[k], %[s]\n\tcmoveq %[o], %[out]"
			: [out] "+r"(out)
			: [k] "r"(key), [s] "m"(set[w]), [o] "m"(set[4 + w])
			: "cc");
#else
		out = set[w] == key ? set[4 + w] : out;
#endif
	}
	return out;
}

enum { VIOMMU_IOTLB__HIT, VIOMMU_IOTLB__MISS, VIOMMU_IOTLB__SLOW };

/*
 * The one-probe case of both lookups for the tag in @t (hash @dp), the lookup counted: HIT with
 * the key probed in *@key and the way's output word in *@out, a final MISS (counted), or SLOW
 * when the general lookup must answer (no inline case, a dead tag, larger pages to probe, or
 * another tag's entry with the key).
 */
static inline int viommu_iotlb__probe(struct viommu_iotlb__hot *h,
				      const struct viommu_iotlb__tagent *t, uint64_t dp,
				      uint64_t iova, uint64_t *key, uint64_t *out, uint32_t *si)
{
	const uint64_t *set;

	if (!h->fast_mask || !viommu_iotlb__id_live(h, t->dom, t->id))
		return VIOMMU_IOTLB__SLOW;
	*key = (iova & h->fast_mask) | h->fast_shift;
	*si = viommu_iotlb__set(h, *key, dp);
	set = &h->sets[(size_t)*si * 8];
	*key |= (uint64_t)(t->id & 31) << VIOMMU_IOTLB__KEY_ID_SHIFT;
	*out = viommu_iotlb__match4_any(set, *key, VIOMMU_IOTLB__NONE);
	if (*out >> VIOMMU_IOTLB__OUT_ID_SHIFT == t->id >> 5)
		return VIOMMU_IOTLB__HIT;
	/*
	 * Not yet a miss when larger pages may hold the address, or another tag's entry with the
	 * same key hid this tag's (a word other than VIOMMU_IOTLB__NONE).
	 */
	if (*out != h->miss_none)
		return VIOMMU_IOTLB__SLOW;
	h->misses++;
	return VIOMMU_IOTLB__MISS;
}

/* The general cases of viommu_iotlb_lookup() and viommu_iotlb_lookup_ref(), once counted. */
int viommu_iotlb__lookup_slow(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
			      uint64_t iova, struct viommu_iotlb_entry *e);
/* Never inlined into viommu_iotlb_lookup_ref(): that stays a leaf saving no registers. */
__attribute__((noinline)) int viommu_iotlb__lookup_ref_slow(struct viommu_iotlb *tlb,
							    const struct viommu_iotlb__tagent *t,
							    uint64_t iova,
							    struct viommu_iotlb_hit *hit);

/*
 * viommu_iotlb_lookup() for code inside the library: inline for the common case (a 4-way cache,
 * a hit on the smallest resident page size or a miss when that is the only one); the rest is
 * viommu_iotlb__lookup_slow().
 */
static inline int vi_iotlb_lookup(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag,
				  uint64_t iova, struct viommu_iotlb_entry *e)
{
	struct viommu_iotlb__hot *h = (struct viommu_iotlb__hot *)tlb;
	const struct viommu_iotlb__tagent *t = &h->tags[h->memo];
	uint64_t key, out;
	uint32_t si;

	h->lookups++;
	/* Lookups come in runs of one tag (a device's burst): the last one found needs no hash. */
	if (__builtin_expect(!viommu_iotlb__tag_eq(t, tag), 0)) {
		t = &h->tags[viommu_iotlb__tag_bucket(h, viommu_iotlb__dp(tag), tag->sid)];
		if (!viommu_iotlb__tag_eq(t, tag) && !viommu_iotlb__tag_eq(++t, tag))
			goto slow;
		h->memo = (uint32_t)(t - h->tags);
	}
	switch (viommu_iotlb__probe(h, t, t->dp, iova, &key, &out, &si)) {
	case VIOMMU_IOTLB__SLOW:
		goto slow;
	case VIOMMU_IOTLB__MISS:
		return VIOMMU_ENOENT;
	}
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

/* vi_iotlb_probe_ref(): the lookup is not decided inline (finish with vi_iotlb_lookup_ref_rest()). */
#define VI_IOTLB_UNDECIDED 1

/*
 * The inline part of vi_iotlb_lookup_ref(), which calls nothing: 0 and *@hit on a hit,
 * VIOMMU_ENOENT on a miss (counted; the miss cursor set), VIOMMU_ESTALE for a stale ref (not
 * counted), or VI_IOTLB_UNDECIDED (the lookup counted, not yet its outcome), when the caller
 * finishes with vi_iotlb_lookup_ref_rest().
 */
static inline int vi_iotlb_probe_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
				     struct viommu_iotlb_hit *hit)
{
	struct viommu_iotlb__hot *h = (struct viommu_iotlb__hot *)tlb;
	const struct viommu_iotlb__tagent *t = &h->tags[ref & h->ref_mask];
	uint64_t key, out;
	uint32_t si;

	/* Another tag took the place, or the ids ran out since the ref was taken. */
	if (t->ref != ref)
		return VIOMMU_ESTALE;
	h->lookups++;
	switch (viommu_iotlb__probe(h, t, t->dp, iova, &key, &out, &si)) {
	case VIOMMU_IOTLB__SLOW:
		return VI_IOTLB_UNDECIDED;
	case VIOMMU_IOTLB__MISS:
		h->miss_ref = ref;
		h->miss_key = key;
		h->miss_set = si;
		h->miss_own = (t->id << 6 | h->fast_shift) << VIOMMU_IOTLB__OWN_SHIFT;
		return VIOMMU_ENOENT;
	}
	hit->addr = (out & VIOMMU_IOTLB__OUT_ADDR_MASK) | (iova & ~h->fast_mask);
	hit->shift = (uint8_t)h->fast_shift;
	hit->perm = (uint8_t)(out & VIOMMU_IOTLB__OUT_PERM_MASK);
	hit->level = (uint8_t)(out >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT);
	return 0;
}

/* The rest of a lookup vi_iotlb_probe_ref() left VI_IOTLB_UNDECIDED: 0 or VIOMMU_ENOENT. */
static inline int vi_iotlb_lookup_ref_rest(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
					   struct viommu_iotlb_hit *hit)
{
	struct viommu_iotlb__hot *h = (struct viommu_iotlb__hot *)tlb;

	return viommu_iotlb__lookup_ref_slow(tlb, &h->tags[ref & h->ref_mask], iova, hit);
}

/*
 * viommu_iotlb_lookup_ref() for code inside the library: vi_iotlb_lookup() without finding the
 * tag (the ref names its place, checked by one compare) and without copying it out.
 */
static inline int vi_iotlb_lookup_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
				      struct viommu_iotlb_hit *hit)
{
	int ret = vi_iotlb_probe_ref(tlb, ref, iova, hit);

	if (__builtin_expect(ret == VI_IOTLB_UNDECIDED, 0))
		return vi_iotlb_lookup_ref_rest(tlb, ref, iova, hit);
	return ret;
}

/* vi_iotlb_insert_leaf_ref() but for the inline case: never inlined, a call saves no registers. */
__attribute__((noinline)) int vi_iotlb__insert_leaf_ref(struct viommu_iotlb *tlb, uint64_t ref,
							uint64_t iova, uint64_t out,
							unsigned int shift, uint32_t perm,
							uint32_t level);

/*
 * The common insert of a miss, inline: the page the last lookup by @ref missed (the miss cursor,
 * of the page size that lookup probed) into the set it probed, when the set's owner record says
 * that every way is the tag's own leaf of that size, as a device's misses leave it. The victim
 * is then the set's round-robin way, as the general insert picks it, without the hash, the tag
 * checks, a tag table read or a scan of the ways; the way replaced is the tag's own (so live and
 * counted, and its owner the same) and of the same size and kind, so the per-shift counts and
 * masks, and the record, stay as they are. @word: the output word without the id (its address
 * bits below the page ignored). False when the general insert must do it.
 */
static inline bool vi_iotlb__cursor_fill(struct viommu_iotlb__hot *h, uint64_t ref, uint64_t iova,
					 uint64_t word, unsigned int shift)
{
	const uint64_t key = h->miss_key;
	const uint32_t si = h->miss_set, own = h->miss_own, rec = h->victim[si];
	uint64_t *ks;
	uint32_t victim;

	/* The record, the cursor's page and size (so a size in range), an output below 2^52. */
	if (ref != h->miss_ref || (rec & ~VIOMMU_IOTLB__RR_MASK) != own || shift != (key & 0x3f) ||
	    ((iova ^ key) & ~((1ull << shift) - 1)) || (word >> VIOMMU_IOTLB__OUT_ID_SHIFT))
		return false;
	ks = &h->sets[(size_t)si * 8];
	victim = rec & 3;
	/* The next way round (bits 3:2 of a 4-way set's pointer are 0). */
	h->victim[si] = (rec + 1) & ~4u;
	h->miss_ref = 0;
	ks[victim] = key;
	ks[4 + victim] = (word & ~(((1ull << shift) - 1) ^ 0xfffull)) |
			 (uint64_t)(own >> (VIOMMU_IOTLB__OWN_SHIFT + 6 + 5))
				 << VIOMMU_IOTLB__OUT_ID_SHIFT;
	h->insertions++;
	h->evictions++;
	return true;
}

/*
 * viommu_iotlb_insert_ref() of a leaf entry (flags 0) for code inside the library: its fields
 * as arguments, so that a model's miss path builds no struct viommu_iotlb_entry; inline when the
 * miss cursor allows (vi_iotlb__cursor_fill()).
 */
static inline int vi_iotlb_insert_leaf_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
					   uint64_t out, unsigned int shift, uint32_t perm,
					   uint32_t level)
{
	uint64_t word = (out & ~((1ull << shift) - 1)) | (perm & VIOMMU_IOTLB__OUT_PERM_MASK) |
			(uint64_t)(level & 0xff) << VIOMMU_IOTLB__OUT_LEVEL_SHIFT;

	if (vi_iotlb__cursor_fill((struct viommu_iotlb__hot *)tlb, ref, iova, word, shift))
		return 0;
	return vi_iotlb__insert_leaf_ref(tlb, ref, iova, out, shift, perm, level);
}

/*
 * vi_iotlb_insert_leaf_ref() of a leaf given as its output word without the id (the address of
 * the page, perm in bits 3:0, level in bits 11:4; bits 63:52 zero), as a walk's leaf
 * (pt/pt_fast.h's struct pt_leaf) comes: stored as it is when the miss cursor allows.
 */
static inline int vi_iotlb_insert_word_ref(struct viommu_iotlb *tlb, uint64_t ref, uint64_t iova,
					   uint64_t word, unsigned int shift)
{
	if (vi_iotlb__cursor_fill((struct viommu_iotlb__hot *)tlb, ref, iova, word, shift))
		return 0;
	return vi_iotlb__insert_leaf_ref(tlb, ref, iova, word & ~0xfffull, shift,
					 (uint32_t)(word & VIOMMU_IOTLB__OUT_PERM_MASK),
					 (uint32_t)(word >> VIOMMU_IOTLB__OUT_LEVEL_SHIFT) & 0xff);
}

/* The same by tag, for a ref gone stale (the ids ran out): viommu_iotlb_insert() of the leaf. */
__attribute__((noinline)) int vi_iotlb_insert_leaf(struct viommu_iotlb *tlb,
						   const struct viommu_iotlb_tag *tag,
						   uint64_t iova, uint64_t out, unsigned int shift,
						   uint32_t perm, uint32_t level);

#endif /* VIOMMU_CORE_IOTLB_FAST_H */
