/* SPDX-License-Identifier: MIT */
/*
 * Device IOTLB for vhost back-ends, inside the library: the state every part shares. See
 * <viommu/devtlb.h> for the contract.
 *
 * Readers see only the slot table: an open-addressing hash (linear probing) of aligned
 * power-of-two IOVA blocks. Every entry [iova, last] is cut into the largest aligned blocks of at
 * least 4 KiB that cover it (a partial page at either end is a 4 KiB block of its own, which
 * another entry may share), and every block's slot holds a copy of the whole entry (iova,
 * last - iova, uaddr, perm) in 32 bytes, never across a cache line. A lookup probes one block per
 * block size present (a bitmap), so it is O(1) and touches one slot; it needs no pointer chase and
 * no entry memory. The common hit (the home slot of the smallest block size present) is a fast
 * path of about 35 instructions without a fence, a read-modify-write or a key comparison: on x86
 * its acquire loads are plain loads.
 *
 * A slot's data is immutable while it can be seen: the writer fills its data, then publishes its
 * key (release); removal stores a tombstone key. A tombstone is reused only by the same entry
 * mapped again (its key alone is revived, see slot_put()); otherwise the writer rebuilds the
 * table into a fresh array when live + tombstone slots pass half of it, and frees the old array
 * after a grace period (quiescent-state based: every online reader has quiesced since). A flush
 * publishes a fresh small table, so it is O(1) for readers and the writer alike.
 *
 * The writer keeps its own view of the entries (a treap by IOVA for overlap and neighbour
 * queries, and a FIFO list for replacement) in a private pool that readers never touch, so entry
 * records are recycled at once.
 *
 * Readers keep no copies, so an invalidation needs nothing beyond its tombstones. A stopped device
 * IOTLB has an empty table; only a lookup that misses reads the stopped flag.
 *
 * Files: reclaim.c (retired tables, grace periods), table.c (the slot table, writer side),
 * entries.c (the writer's entries: pool, treap, FIFO; UPDATE and INVALIDATE), pending.c
 * (pending misses), devtlb.c (create, start, stop, flush; readers and the lookup).
 */
#ifndef VIOMMU_DEVTLB_INTERNAL_H
#define VIOMMU_DEVTLB_INTERNAL_H

#include <stdatomic.h>

#include <viommu/devtlb.h>

#include "core/core.h"

#define PG_SHIFT 12
#define PG_MASK ((1ull << PG_SHIFT) - 1)

#define KEY_EMPTY 0ull
#define KEY_SHIFT_MASK 0x3full
#define KEY_PERM_SHIFT 6
#define KEY_PERM_MASK (3ull << KEY_PERM_SHIFT)

#define MAX_BLOCKS 136	  /* 2 partial pages + at most 2 x 64 aligned blocks */
#define MIN_SLOTS 256u	  /* size of a fresh table */
#define TOMB_SHARE 32u	  /* rebuild when tombstones pass 1/32 of the table (see reserve) */
#define RETIRED_MAX 64u	  /* tables awaiting a grace period before the writer waits */
#define WAIT_YIELDS 4096u /* how long it waits for readers before giving up */
#define FLUSH_SLOTS 4096u /* a flush starts over with at most this many slots */
#define DEFAULT_RETRY_NS 2000000ull
#define PEND_PROBE 8u

#define NIL UINT32_MAX
#define HASH_MUL 0x9e3779b97f4a7c15ull

#define ST_STOPPED 1ull

/* Pending-miss key: page | perm << 1 | TAKEN | VALID. */
#define PK_VALID 1ull
#define PK_PERM_SHIFT 1
#define PK_TAKEN 8ull

struct slot {
	_Atomic uint64_t key;	/* block base | perm << 6 | shift; KEY_EMPTY; tombstone: perm 0 */
	_Atomic uint64_t iova;	/* the whole entry's, */
	_Atomic uint64_t span;	/* last - iova, */
	_Atomic uint64_t uaddr; /* and its host address */
};

struct table {
	uint64_t mask;		 /* slots - 1 */
	_Atomic uint64_t shifts; /* bit s: blocks of 1 << s may be present */
	/* The lookup's first probe, derived from shifts: ~0 << s, s the smallest size present. */
	_Atomic uint64_t probe_mask;
	/* The hash multiplier: a memory operand costs the fast path no register. */
	uint64_t hmul;
	unsigned int hshift; /* 64 - log2(slots): the index is the product's top bits */
	struct table *next_retired;
	uint64_t retired_at; /* epoch after which it is unreachable */
	/* Slots start on a cache line: a 32-byte slot never straddles two. */
	_Alignas(64) struct slot slots[];
};

/* Writer-private view of an entry. */
struct ent {
	uint64_t iova, last, uaddr;
	uint32_t perm;
	uint32_t fprev, fnext; /* FIFO (insertion order) */
};

/*
 * Its treap node, in a separate dense array (16 bytes a node: 32 KiB for 2048 entries, within
 * L1) because every writer call descends the treap a few times; iova is a copy of the entry's.
 */
struct tnode {
	uint64_t iova;
	uint32_t c[2]; /* left, right children; c[0] doubles as the free-list link */
};

struct pend {
	_Atomic uint64_t key;
	_Atomic uint64_t stamp;
	_Atomic uint64_t waiters;
};

struct reader_ctr {
	_Atomic uint64_t hits, misses, perm_faults, requests, suppressed, stopped;
};

struct viommu_devtlb_reader {
	/* Hot, reader-private. */
	/*
	 * &tlb->tab while online; offline, &tlb->none, an empty table, so that the fast path needs
	 * no online test: it misses and the slow path goes online.
	 */
	_Atomic(struct table *) *tabp;
	struct reader_ctr c;
	struct viommu_devtlb *tlb;
	bool online;
	uint64_t bit; /* waiter bit in pending slots */
	/* Shared with the writer. */
	_Alignas(64) _Atomic uint64_t qs; /* 0 offline, else the epoch seen at the last quiesce */
	/* Read by every UPDATE: not on the line the reader writes at each quiescent point. */
	_Alignas(64) _Atomic uint64_t
		unrecorded; /* asked without a pending slot: wake at any UPDATE */
	/* Writer-private. */
	viommu_devtlb_wake_fn wake;
	void *wake_opaque;
	uint32_t id;
};

struct viommu_devtlb {
	/* Read by every lookup; written rarely. */
	_Alignas(64) _Atomic(struct table *) tab;
	_Atomic(struct table *) none; /* never changes; see viommu_devtlb_reader.tabp */
	_Atomic uint64_t state;	      /* ST_STOPPED */
	struct pend *pend;
	uint32_t pend_mask;
	uint64_t retry_ns;
	viommu_devtlb_miss_fn miss;
	viommu_devtlb_clock_fn clock;
	void *opaque;

	_Alignas(64) _Atomic uint64_t epoch; /* QSBR grace-period counter, read at quiescent points */
	/* Advanced by every UPDATE: kept off the epoch's line, which readers read. */
	_Alignas(64) _Atomic uint64_t generation;

	/* Writer-private. */
	_Alignas(64) uint32_t capacity;
	uint64_t max_slots;
	uint64_t used, tombs; /* in the current table */
	uint32_t shift_count[64];
	struct table *retired, *retired_tail;
	uint32_t nretired;
	struct ent *ents;
	struct tnode *tn;
	uint32_t *prio; /* treap priorities, read only by merges and inserts */
	uint32_t npool, nalloc, free_list, nents;
	uint32_t root, fifo_head, fifo_tail;
	uint64_t rng;
	struct viommu_devtlb_reader **readers;
	uint32_t nreaders, readers_cap;
	struct viommu_devtlb_stats st;	 /* writer counters */
	struct viommu_devtlb_stats gone; /* reader counters of destroyed readers */
};

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static inline uint64_t ld(const _Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static inline void st(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

/* Single-writer counter: no read-modify-write needed, readable from the writer. */
static inline void bump(_Atomic uint64_t *p)
{
	st(p, ld(p) + 1);
}

/* Multiplicative hash with the high half folded down, so that the low bits mix all. */
static inline uint64_t hash64(uint64_t k)
{
	k *= 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 32);
}

static inline uint64_t block_key(uint64_t base, unsigned int shift)
{
	return base | shift;
}

/*
 * A live key has permission bits. A tombstone keeps its block (base | shift) without them, so that
 * the same entry mapped again can revive it in place (see slot_put()); empty is 0.
 */
static inline bool key_live(uint64_t k)
{
	return k & KEY_PERM_MASK;
}

static inline void set_shifts(struct table *t, uint64_t shifts)
{
	unsigned int s = (unsigned int)__builtin_ctzll(shifts | 1ull << 63);

	/* Readers may combine old and new words: see viommu_devtlb_lookup(). */
	atomic_store_explicit(&t->shifts, shifts, memory_order_relaxed);
	atomic_store_explicit(&t->probe_mask, ~0ull << s, memory_order_relaxed);
}

/*
 * Home slot of a block: the top bits of a multiplicative hash of its base alone (two
 * instructions), so the fast path needs no shift in its key. Only partial pages share a base, and
 * they share the size too: entries never overlap.
 */
static inline uint64_t slot_home(const struct table *t, uint64_t base)
{
	return (base * t->hmul) >> t->hshift;
}

static inline struct table *cur_table(const struct viommu_devtlb *tlb)
{
	return atomic_load_explicit(&((struct viommu_devtlb *)tlb)->tab, memory_order_relaxed);
}

static inline uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = MIN_SLOTS;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * The end of a call that removed translations. Readers see removals through the slot keys they
 * load with acquire, so happens-before needs nothing more; the fence makes the removal visible
 * before anything the writer does next (e.g. the reply to the front-end), in real time order too.
 */
static inline void removal_done(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/* reclaim.c */
void vi_devtlb_reclaim(struct viommu_devtlb *tlb);
bool vi_devtlb_retire_room(struct viommu_devtlb *tlb);
void vi_devtlb_publish_table(struct viommu_devtlb *tlb, struct table *t);

/* table.c */
struct table *vi_devtlb_table_alloc(uint64_t nslots);
bool vi_devtlb_reserve(struct viommu_devtlb *tlb, uint64_t n);
void vi_devtlb_ent_slots_add(struct viommu_devtlb *tlb, const struct ent *e);
void vi_devtlb_ent_slots_del(struct viommu_devtlb *tlb, const struct ent *e);
unsigned int vi_devtlb_ent_nblocks(const struct ent *e);

/* pending.c */
void vi_devtlb_pend_resolve(struct viommu_devtlb *tlb, uint64_t x, uint64_t y, bool all);
__attribute__((cold)) void vi_devtlb_miss_request(struct viommu_devtlb_reader *r, uint64_t x,
						  uint32_t want);

/* devtlb.c */
void vi_devtlb_drop_all(struct viommu_devtlb *tlb);

#endif /* VIOMMU_DEVTLB_INTERNAL_H */
