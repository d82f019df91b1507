// SPDX-License-Identifier: MIT
/*
 * Device IOTLB for vhost back-ends. See <viommu/devtlb.h> for the contract.
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
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
#define TOMB_SHARE 32u	  /* rebuild when tombstones pass 1/32 of the table (see reserve()) */
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
/* Helpers                                                                                   */
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

static uint64_t now_ns(struct viommu_devtlb *tlb)
{
	struct timespec ts;

	if (tlb->clock)
		return tlb->clock(tlb->opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t rng32(struct viommu_devtlb *tlb)
{
	uint64_t z = (tlb->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

/*
 * Cut [first, last] into blocks: a partial page at either end becomes a 4 KiB block; the whole
 * pages between become the largest aligned power-of-two blocks. Returns the count.
 */
struct blk {
	uint64_t base;
	unsigned int shift;
};

static unsigned int decompose(uint64_t first, uint64_t last, struct blk *out)
{
	uint64_t a = first & ~PG_MASK, b = last | PG_MASK; /* page cover, inclusive */
	unsigned int n = 0;

	if (a == (b & ~PG_MASK)) { /* one page */
		out[n++] = (struct blk){ a, PG_SHIFT };
		return n;
	}
	if (first & PG_MASK) {
		out[n++] = (struct blk){ a, PG_SHIFT };
		a += 1ull << PG_SHIFT;
	}
	if ((last & PG_MASK) != PG_MASK) {
		out[n++] = (struct blk){ b & ~PG_MASK, PG_SHIFT };
		b -= 1ull << PG_SHIFT;
	}
	/* Whole pages [a, b]; a <= b + 1 here, and a is page aligned. */
	while (a <= b && n < MAX_BLOCKS) {
		unsigned int s = a ? (unsigned int)__builtin_ctzll(a) : 63;
		uint64_t span = b - a; /* bytes - 1 */
		unsigned int fit =
			span == UINT64_MAX ? 63 : 63 - (unsigned int)__builtin_clzll(span + 1);

		if (s > fit)
			s = fit;
		if (s > 63)
			s = 63;
		out[n++] = (struct blk){ a, s };
		if (b - a == (1ull << s) - 1)
			break;
		a += 1ull << s;
	}
	return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Tables and grace periods                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void set_shifts(struct table *t, uint64_t shifts)
{
	unsigned int s = (unsigned int)__builtin_ctzll(shifts | 1ull << 63);

	/* Readers may combine old and new words: see viommu_devtlb_lookup(). */
	atomic_store_explicit(&t->shifts, shifts, memory_order_relaxed);
	atomic_store_explicit(&t->probe_mask, ~0ull << s, memory_order_relaxed);
}

static struct table *table_alloc(uint64_t nslots)
{
	size_t bytes = sizeof(struct table) + nslots * sizeof(struct slot);
	struct table *t = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	if (!t)
		return NULL;
	memset(t, 0, bytes);
	t->mask = nslots - 1;
	t->hmul = HASH_MUL;
	t->hshift = (unsigned int)__builtin_clzll(nslots) + 1;
	set_shifts(t, 0);
	return t;
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

/* The smallest epoch any online reader may still be working in (UINT64_MAX if none). */
static uint64_t min_reader_epoch(const struct viommu_devtlb *tlb)
{
	uint64_t m = UINT64_MAX;

	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t i = 0; i < tlb->nreaders; i++) {
		uint64_t q = atomic_load_explicit(&tlb->readers[i]->qs, memory_order_acquire);

		if (q && q < m)
			m = q;
	}
	return m;
}

static void reclaim(struct viommu_devtlb *tlb)
{
	uint64_t m;

	if (!tlb->retired)
		return;
	m = min_reader_epoch(tlb);
	while (tlb->retired && tlb->retired->retired_at <= m) {
		struct table *t = tlb->retired;

		tlb->retired = t->next_retired;
		free(t);
		tlb->nretired--;
	}
	if (!tlb->retired)
		tlb->retired_tail = NULL;
}

/*
 * Room for one more retired table. When readers hold RETIRED_MAX back, wait for the oldest grace
 * period (the writer may wait; readers never do), but only so long: a reader that stays online
 * without quiescing breaks its contract, and then the writer gives up (callers drop or fall back).
 */
static bool retire_room(struct viommu_devtlb *tlb)
{
	reclaim(tlb);
	for (uint32_t i = 0; tlb->nretired >= RETIRED_MAX && i < WAIT_YIELDS; i++) {
		sched_yield();
		reclaim(tlb);
	}
	return tlb->nretired < RETIRED_MAX;
}

/* Publish @t as the table and retire the old one. */
static void publish_table(struct viommu_devtlb *tlb, struct table *t)
{
	struct table *old = cur_table(tlb);

	atomic_store_explicit(&tlb->tab, t, memory_order_release);
	/* Readers that see the new epoch at a quiescent point can no longer hold @old. */
	old->retired_at = atomic_fetch_add_explicit(&tlb->epoch, 1, memory_order_seq_cst) + 1;
	old->next_retired = NULL;
	if (tlb->retired_tail)
		tlb->retired_tail->next_retired = old;
	else
		tlb->retired = old;
	tlb->retired_tail = old;
	tlb->nretired++;
	reclaim(tlb);
}

uint64_t viommu_devtlb_grace_start(struct viommu_devtlb *tlb)
{
	return atomic_fetch_add_explicit(&tlb->epoch, 1, memory_order_seq_cst) + 1;
}

bool viommu_devtlb_grace_done(struct viommu_devtlb *tlb, uint64_t cookie)
{
	bool done = min_reader_epoch(tlb) >= cookie;

	reclaim(tlb);
	return done;
}

void viommu_devtlb_synchronize(struct viommu_devtlb *tlb)
{
	uint64_t c = viommu_devtlb_grace_start(tlb);

	while (!viommu_devtlb_grace_done(tlb, c))
		sched_yield();
}

/* ---------------------------------------------------------------------------------------- */
/* Slots (writer)                                                                            */
/* ---------------------------------------------------------------------------------------- */

/*
 * Put a block of @e at the first empty slot of its probe chain, or revive the tombstone of the
 * same block of the same entry (iova, span, uaddr) met before it: an INVALIDATE followed by the
 * same UPDATE, as after a guest's unmap and map of the same buffer, then stays in its home slot
 * instead of landing past its own tombstone, off the one-slot fast path. Reviving writes only the
 * key: a reader still reading the slot's data from before the removal reads the same data, so no
 * grace period is needed. Returns true when it revived a tombstone.
 */
static bool slot_put(struct table *t, uint64_t key, const struct ent *e)
{
	uint64_t i = slot_home(t, key & ~PG_MASK);

	for (uint64_t n = 0; n <= t->mask; n++, i++) {
		struct slot *s = &t->slots[i & t->mask];
		uint64_t k = ld(&s->key);

		if (k == (key & ~KEY_PERM_MASK) && ld(&s->iova) == e->iova &&
		    ld(&s->span) == e->last - e->iova && ld(&s->uaddr) == e->uaddr) {
			atomic_store_explicit(&s->key, key, memory_order_release);
			return true;
		}
		if (k != KEY_EMPTY)
			continue;
		st(&s->iova, e->iova);
		st(&s->span, e->last - e->iova);
		st(&s->uaddr, e->uaddr);
		atomic_store_explicit(&s->key, key, memory_order_release);
		return false;
	}
	return false;
}

static void count_shift(struct viommu_devtlb *tlb, struct table *t, unsigned int s)
{
	if (tlb->shift_count[s]++ == 0)
		set_shifts(t, ld(&t->shifts) | 1ull << s);
}

static void uncount_shift(struct viommu_devtlb *tlb, struct table *t, unsigned int s)
{
	if (--tlb->shift_count[s] == 0)
		set_shifts(t, ld(&t->shifts) & ~(1ull << s));
}

/* Copy the live slots of the current table into a fresh one of @nslots and publish it. */
static int rebuild(struct viommu_devtlb *tlb, uint64_t nslots)
{
	struct table *old = cur_table(tlb), *t;

	if (!retire_room(tlb))
		return VIOMMU_EBUSY;
	t = table_alloc(nslots);
	if (!t)
		return VIOMMU_ENOMEM;
	set_shifts(t, ld(&old->shifts));
	for (uint64_t i = 0; i <= old->mask; i++) {
		struct slot *s = &old->slots[i];
		uint64_t k = ld(&s->key);
		struct ent e;

		if (!key_live(k))
			continue;
		e.iova = ld(&s->iova);
		e.last = e.iova + ld(&s->span);
		e.uaddr = ld(&s->uaddr);
		slot_put(t, k, &e);
	}
	tlb->tombs = 0;
	publish_table(tlb, t);
	return 0;
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = MIN_SLOTS;

	while (p < v)
		p <<= 1;
	return p;
}

/* Make room for @n more slots; false when the table cannot take them now. */
static bool reserve(struct viommu_devtlb *tlb, uint64_t n)
{
	struct table *t = cur_table(tlb);
	uint64_t size = t->mask + 1, want;

	bool room = (tlb->used + tlb->tombs + n) * 2 <= size;

	if (room && tlb->tombs * TOMB_SHARE <= size)
		return true;
	/* Live blocks at most 1/4: then at least 1/4 of the table absorbs tombstones. */
	want = pow2_at_least((tlb->used + n) * 4);
	if (want > tlb->max_slots)
		want = tlb->max_slots;
	if (room) {
		/*
		 * Few tombstones, too: a key re-inserted after its removal lands past its own
		 * tombstone, off its home slot, and every lookup of it leaves the one-slot fast
		 * path (about 4x slower after a few thousand INVALIDATE + UPDATE). Rebuilding is
		 * optional here, so only while readers let retired tables go; never wait for them.
		 */
		reclaim(tlb);
		if (tlb->nretired < RETIRED_MAX / 2 && (tlb->used + n) * 2 <= want)
			rebuild(tlb, want);
		return true;
	}
	if ((tlb->used + n) * 2 > want)
		return false;
	return rebuild(tlb, want) == 0;
}

static void ent_slots_add(struct viommu_devtlb *tlb, const struct ent *e)
{
	struct table *t = cur_table(tlb);
	struct blk b[MAX_BLOCKS];
	unsigned int n = decompose(e->iova, e->last, b);

	for (unsigned int i = 0; i < n; i++) {
		if (slot_put(t,
			     block_key(b[i].base, b[i].shift) | (uint64_t)e->perm << KEY_PERM_SHIFT,
			     e))
			tlb->tombs--;
		count_shift(tlb, t, b[i].shift);
	}
	tlb->used += n;
}

static void ent_slots_del(struct viommu_devtlb *tlb, const struct ent *e)
{
	struct table *t = cur_table(tlb);
	struct blk b[MAX_BLOCKS];
	unsigned int n = decompose(e->iova, e->last, b);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t key = block_key(b[i].base, b[i].shift);
		uint64_t h = slot_home(t, b[i].base);

		for (uint64_t j = 0; j <= t->mask; j++, h++) {
			struct slot *s = &t->slots[h & t->mask];
			uint64_t k = ld(&s->key);

			if (k == KEY_EMPTY)
				break;
			if (key_live(k) && (k & ~KEY_PERM_MASK) == key && ld(&s->iova) == e->iova &&
			    ld(&s->span) == e->last - e->iova) {
				atomic_store_explicit(&s->key, key, memory_order_release);
				tlb->used--;
				tlb->tombs++;
				uncount_shift(tlb, t, b[i].shift);
				break;
			}
		}
	}
}

static unsigned int ent_nblocks(const struct ent *e)
{
	struct blk b[MAX_BLOCKS];

	return decompose(e->iova, e->last, b);
}

/* ---------------------------------------------------------------------------------------- */
/* Writer-side entries: pool, treap by iova, FIFO                                            */
/* ---------------------------------------------------------------------------------------- */

#define E(i) (&tlb->ents[(i)])
#define T(i) (&tlb->tn[(i)])

static uint32_t ent_alloc(struct viommu_devtlb *tlb)
{
	uint32_t i;

	if (tlb->free_list != NIL) {
		i = tlb->free_list;
		tlb->free_list = T(i)->c[0];
	} else if (tlb->nalloc < tlb->npool) {
		i = tlb->nalloc++;
	} else {
		return NIL;
	}
	memset(E(i), 0, sizeof(struct ent));
	E(i)->fprev = E(i)->fnext = NIL;
	T(i)->c[0] = T(i)->c[1] = NIL;
	tlb->prio[i] = rng32(tlb);
	return i;
}

static void ent_free(struct viommu_devtlb *tlb, uint32_t i)
{
	T(i)->c[0] = tlb->free_list;
	tlb->free_list = i;
}

/* Split @t into keys < @k (*a) and >= @k (*b). */
static void tsplit(struct viommu_devtlb *tlb, uint32_t t, uint64_t k, uint32_t *a, uint32_t *b)
{
	while (t != NIL) {
		if (T(t)->iova < k) {
			*a = t;
			a = &T(t)->c[1];
			t = T(t)->c[1];
		} else {
			*b = t;
			b = &T(t)->c[0];
			t = T(t)->c[0];
		}
	}
	*a = *b = NIL;
}

/* Join treaps @a and @b, every key of @a below every key of @b. */
static uint32_t tmerge(struct viommu_devtlb *tlb, uint32_t a, uint32_t b)
{
	uint32_t root, *link = &root;

	while (a != NIL && b != NIL) {
		if (tlb->prio[a] > tlb->prio[b]) {
			*link = a;
			link = &T(a)->c[1];
			a = T(a)->c[1];
		} else {
			*link = b;
			link = &T(b)->c[0];
			b = T(b)->c[0];
		}
	}
	*link = a != NIL ? a : b;
	return root;
}

/* Down to where @i's priority belongs, then split what is there under it: one descent. */
static void tinsert(struct viommu_devtlb *tlb, uint32_t i)
{
	uint64_t k = E(i)->iova;
	uint32_t *link = &tlb->root;

	T(i)->iova = k;
	while (*link != NIL && tlb->prio[*link] > tlb->prio[i])
		link = &T(*link)->c[k >= T(*link)->iova];
	tsplit(tlb, *link, k, &T(i)->c[0], &T(i)->c[1]);
	*link = i;
}

/* Down to @i (entries never share a start), then replace it by its children joined. */
static void terase(struct viommu_devtlb *tlb, uint32_t i)
{
	uint64_t k = T(i)->iova;
	uint32_t *link = &tlb->root;

	while (*link != i)
		link = &T(*link)->c[k >= T(*link)->iova];
	*link = tmerge(tlb, T(i)->c[0], T(i)->c[1]);
}

/*
 * One descent: *@f the entry with the largest iova <= @x, *@a the one with the smallest iova > @x
 * (NIL when none). It picks a child by index rather than by branch: the comparisons are coin
 * flips, and mispredicting them cost more than the loads.
 */
static void tnear(const struct viommu_devtlb *tlb, uint64_t x, uint32_t *f, uint32_t *a)
{
	uint32_t t = tlb->root, le_best = NIL, gt_best = NIL;

	while (t != NIL) {
		const struct tnode *n = &tlb->tn[t];
		uint32_t le = n->iova <= x;

		le_best ^= (le_best ^ t) & (0u - le);
		gt_best ^= (gt_best ^ t) & (le - 1u);
		t = n->c[le];
	}
	*f = le_best;
	*a = gt_best;
}

static uint32_t tabove(const struct viommu_devtlb *tlb, uint64_t x)
{
	uint32_t f, a;

	tnear(tlb, x, &f, &a);
	return a;
}

/* The first entry overlapping [x, y], or NIL. */
static uint32_t toverlap(const struct viommu_devtlb *tlb, uint64_t x, uint64_t y)
{
	uint32_t f, a;

	tnear(tlb, x, &f, &a);
	if (f != NIL && tlb->ents[f].last >= x)
		return f;
	if (a != NIL && tlb->ents[a].iova <= y)
		return a;
	return NIL;
}

static void fifo_link_before(struct viommu_devtlb *tlb, uint32_t i, uint32_t next)
{
	uint32_t prev = next == NIL ? tlb->fifo_tail : E(next)->fprev;

	E(i)->fnext = next;
	E(i)->fprev = prev;
	if (prev == NIL)
		tlb->fifo_head = i;
	else
		E(prev)->fnext = i;
	if (next == NIL)
		tlb->fifo_tail = i;
	else
		E(next)->fprev = i;
}

static void fifo_unlink(struct viommu_devtlb *tlb, uint32_t i)
{
	uint32_t p = E(i)->fprev, n = E(i)->fnext;

	if (p == NIL)
		tlb->fifo_head = n;
	else
		E(p)->fnext = n;
	if (n == NIL)
		tlb->fifo_tail = p;
	else
		E(n)->fprev = p;
}

/* Make entry @i visible: slots first, then the writer's own structures. */
static bool ent_publish(struct viommu_devtlb *tlb, uint32_t i, uint32_t fifo_next)
{
	if (!reserve(tlb, ent_nblocks(E(i))))
		return false;
	ent_slots_add(tlb, E(i));
	tinsert(tlb, i);
	fifo_link_before(tlb, i, fifo_next);
	tlb->nents++;
	return true;
}

static void ent_remove(struct viommu_devtlb *tlb, uint32_t i)
{
	ent_slots_del(tlb, E(i));
	terase(tlb, i);
	fifo_unlink(tlb, i);
	tlb->nents--;
	ent_free(tlb, i);
}

/* A new entry for part of @src: [first, last] of it. */
static uint32_t ent_piece(struct viommu_devtlb *tlb, uint32_t src, uint64_t first, uint64_t last)
{
	uint32_t i = ent_alloc(tlb);

	if (i == NIL)
		return NIL;
	E(i)->iova = first;
	E(i)->last = last;
	E(i)->uaddr = E(src)->uaddr + (first - E(src)->iova);
	E(i)->perm = E(src)->perm;
	return i;
}

/*
 * Remove [x, y] from the entries: entries inside go, entries straddling an end keep their outside
 * part (at their place in the FIFO), unless there is no room for it. Returns entries touched.
 */
static uint64_t cut_range(struct viommu_devtlb *tlb, uint64_t x, uint64_t y)
{
	uint64_t touched = 0;
	uint32_t i = toverlap(tlb, x, y);

	/*
	 * Each round removes one entry; its pieces lie outside [x, y], and the next entry to cut
	 * (entries never overlap) is the first to start after it: at most nents rounds.
	 */
	while (i != NIL) {
		uint32_t next = E(i)->fnext;
		uint32_t left = NIL, right = NIL;
		uint64_t end = E(i)->last;

		if (E(i)->iova < x)
			left = ent_piece(tlb, i, E(i)->iova, x - 1);
		if (E(i)->last > y)
			right = ent_piece(tlb, i, y + 1, E(i)->last);
		/* Remove first: pieces may share edge blocks with it, never a range. */
		ent_remove(tlb, i);
		if (left != NIL && !ent_publish(tlb, left, next)) {
			ent_free(tlb, left);
			tlb->st.dropped++;
		}
		if (right != NIL && !ent_publish(tlb, right, next)) {
			ent_free(tlb, right);
			tlb->st.dropped++;
		}
		touched++;
		i = end < y ? tabove(tlb, end) : NIL;
		if (i != NIL && E(i)->iova > y)
			i = NIL;
	}
	return touched;
}

/*
 * The end of a call that removed translations. Readers see removals through the slot keys they
 * load with acquire, so happens-before needs nothing more; the fence makes the removal visible
 * before anything the writer does next (e.g. the reply to the front-end), in real time order too.
 */
static void removal_done(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

static void evict_to_capacity(struct viommu_devtlb *tlb, uint32_t keep)
{
	while (tlb->nents > tlb->capacity && tlb->fifo_head != NIL) {
		uint32_t v = tlb->fifo_head;

		if (v == keep) {
			v = E(v)->fnext;
			if (v == NIL)
				break;
		}
		ent_remove(tlb, v);
		tlb->st.evictions++;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Pending misses                                                                            */
/* ---------------------------------------------------------------------------------------- */

static void wake_bits(struct viommu_devtlb *tlb, uint64_t bits)
{
	if (!bits)
		return;
	for (uint32_t i = 0; i < tlb->nreaders; i++) {
		struct viommu_devtlb_reader *r = tlb->readers[i];

		if ((bits & r->bit) && r->wake)
			r->wake(r->wake_opaque);
	}
}

static inline uint64_t pend_hash(uint64_t page)
{
	return hash64(page);
}

/* Resolve the pending miss in @p if its page overlaps [x, y] (any page when @all). */
static uint64_t pend_resolve_one(struct pend *p, uint64_t x, uint64_t y, bool all)
{
	uint64_t k = atomic_load_explicit(&p->key, memory_order_acquire);
	uint64_t page = k & ~PG_MASK, bits;

	if (!(k & PK_VALID))
		return 0;
	if (!all && (page > y || page + PG_MASK < x))
		return 0;
	/*
	 * Take the waiters before and after clearing: a reader that joins in between either sees
	 * the key unchanged and is in the second take, or sees it cleared and asks again.
	 */
	bits = atomic_exchange(&p->waiters, 0);
	if (atomic_compare_exchange_strong(&p->key, &k, 0))
		bits |= atomic_exchange(&p->waiters, 0);
	return bits;
}

#define PEND_SCAN_PAGES 8 /* up to this many pages, probe their slots instead of scanning all */

/* Resolve pending misses whose page overlaps [x, y] (all of them when @all). */
static void pend_resolve(struct viommu_devtlb *tlb, uint64_t x, uint64_t y, bool all)
{
	uint64_t bits = 0;

	if (!all && (y >> PG_SHIFT) - (x >> PG_SHIFT) < PEND_SCAN_PAGES) {
		/* A miss of a page sits in one of the PEND_PROBE slots after its hash (miss_request). */
		for (uint64_t pg = x & ~PG_MASK;; pg += 1ull << PG_SHIFT) {
			uint64_t h = pend_hash(pg);

			for (uint32_t n = 0; n < PEND_PROBE; n++)
				bits |= pend_resolve_one(&tlb->pend[(h + n) & tlb->pend_mask], x, y,
							 false);
			if (pg == (y & ~PG_MASK))
				break;
		}
	} else {
		for (uint32_t i = 0; i <= tlb->pend_mask; i++)
			bits |= pend_resolve_one(&tlb->pend[i], x, y, all);
	}
	/* Orders the loads below after the UPDATE's stores, as the exchanges alone did. */
	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t i = 0; i < tlb->nreaders; i++) {
		_Atomic uint64_t *u = &tlb->readers[i]->unrecorded;

		/* Read before exchanging: the locked exchange is for the rare reader that asked. */
		if (atomic_load_explicit(u, memory_order_relaxed) && atomic_exchange(u, 0))
			bits |= tlb->readers[i]->bit;
	}
	wake_bits(tlb, bits);
}

/* A lookup missed @x for @want: ask, unless a request for the page is pending. */
__attribute__((noinline, cold)) static void miss_request(struct viommu_devtlb_reader *r, uint64_t x,
							 uint32_t want)
{
	struct viommu_devtlb *tlb = r->tlb;
	uint64_t page = x & ~PG_MASK, now = now_ns(tlb);
	uint64_t h = pend_hash(page);
	struct pend *claim = NULL;
	uint64_t claim_key = 0;

	for (uint32_t n = 0; n < PEND_PROBE; n++) {
		struct pend *p = &tlb->pend[(h + n) & tlb->pend_mask];
		uint64_t k = atomic_load_explicit(&p->key, memory_order_acquire);
		bool expired = now - ld(&p->stamp) >= tlb->retry_ns;

		if ((k & PK_VALID) && (k & ~PG_MASK) == page) {
			uint32_t kp = (uint32_t)(k >> PK_PERM_SHIFT) & 3;

			if ((kp & want) == want && !expired) {
				atomic_fetch_or(&p->waiters, r->bit);
				/* Still the same request: the UPDATE that clears it will wake us. */
				if ((atomic_load(&p->key) | PK_TAKEN) == (k | PK_TAKEN)) {
					bump(&r->c.suppressed);
					return;
				}
			}
			/* Expired, or more permissions wanted: ask again in this slot. */
			claim = p;
			claim_key = k;
			want |= kp;
			break;
		}
		if (!claim && (!(k & PK_VALID) || expired)) {
			claim = p;
			claim_key = k;
		}
	}
	if (claim) {
		uint64_t nk = page | (uint64_t)want << PK_PERM_SHIFT | PK_VALID;

		if (atomic_compare_exchange_strong(&claim->key, &claim_key, nk)) {
			st(&claim->stamp, now);
			if (!(claim_key & PK_VALID) || (claim_key & ~PG_MASK) != page)
				atomic_store(&claim->waiters, r->bit);
			else
				atomic_fetch_or(&claim->waiters, r->bit);
		} else {
			claim = NULL;
		}
	}
	/*
	 * Without a slot (table crowded, or a lost race) ask anyway, progress over de-dup, and be
	 * woken by the next UPDATE of any page.
	 */
	if (!claim)
		atomic_store(&r->unrecorded, 1);
	bump(&r->c.requests);
	if (tlb->miss)
		tlb->miss(tlb->opaque, x, want);
}

size_t viommu_devtlb_take_misses(struct viommu_devtlb *tlb, struct viommu_devtlb_miss *out,
				 size_t max)
{
	size_t n = 0;

	if (!tlb || !out)
		return 0;
	for (uint32_t i = 0; i <= tlb->pend_mask && n < max; i++) {
		struct pend *p = &tlb->pend[i];
		uint64_t k = atomic_load_explicit(&p->key, memory_order_acquire);

		if (!(k & PK_VALID) || (k & PK_TAKEN))
			continue;
		if (!atomic_compare_exchange_strong(&p->key, &k, k | PK_TAKEN))
			continue;
		out[n].iova = k & ~PG_MASK;
		out[n].perm = (uint32_t)(k >> PK_PERM_SHIFT) & 3;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Create, destroy, start, stop, flush                                                       */
/* ---------------------------------------------------------------------------------------- */

void viommu_devtlb_config_init(struct viommu_devtlb_config *cfg)
{
	if (!cfg)
		return;
	/* What create makes of zero fields. */
	*cfg = (struct viommu_devtlb_config){ .capacity = VIOMMU_DEVTLB_DEFAULT_CAPACITY,
					      .pending_slots = 256,
					      .miss_retry_ns = DEFAULT_RETRY_NS };
}

int viommu_devtlb_create(const struct viommu_devtlb_config *cfg, struct viommu_devtlb **out)
{
	struct viommu_devtlb_config c = cfg ? *cfg : (struct viommu_devtlb_config){ 0 };
	struct viommu_devtlb *tlb;
	struct table *t, *none;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	if (!c.capacity)
		c.capacity = VIOMMU_DEVTLB_DEFAULT_CAPACITY;
	if (!c.pending_slots)
		c.pending_slots = 256;
	if (!c.miss_retry_ns)
		c.miss_retry_ns = DEFAULT_RETRY_NS;
	if (c.capacity > VIOMMU_DEVTLB_MAX_CAPACITY || c.pending_slots < 8 ||
	    c.pending_slots > 65536 || (c.pending_slots & (c.pending_slots - 1)))
		return VIOMMU_EINVAL;
	tlb = aligned_alloc(64, (sizeof(*tlb) + 63) & ~(size_t)63);
	if (!tlb)
		return VIOMMU_ENOMEM;
	memset(tlb, 0, sizeof(*tlb));
	tlb->capacity = c.capacity;
	tlb->retry_ns = c.miss_retry_ns;
	tlb->miss = c.miss;
	tlb->clock = c.clock;
	tlb->opaque = c.opaque;
	tlb->pend_mask = c.pending_slots - 1;
	/* Room for 8 blocks per entry at half load; larger mixes evict. */
	tlb->max_slots = pow2_at_least((uint64_t)c.capacity * 16);
	tlb->npool = c.capacity + 4; /* a cut adds at most one entry before eviction */
	tlb->ents = calloc(tlb->npool, sizeof(struct ent));
	tlb->tn = calloc(tlb->npool, sizeof(struct tnode));
	tlb->prio = calloc(tlb->npool, sizeof(uint32_t));
	tlb->pend = calloc(c.pending_slots, sizeof(struct pend));
	t = table_alloc(MIN_SLOTS);
	none = table_alloc(2);
	if (!tlb->ents || !tlb->tn || !tlb->prio || !tlb->pend || !t || !none) {
		free(tlb->ents);
		free(tlb->tn);
		free(tlb->prio);
		free(tlb->pend);
		free(t);
		free(none);
		free(tlb);
		return VIOMMU_ENOMEM;
	}
	atomic_init(&tlb->tab, t);
	atomic_init(&tlb->none, none);
	atomic_init(&tlb->state, ST_STOPPED);
	atomic_init(&tlb->epoch, 1);
	tlb->free_list = tlb->root = tlb->fifo_head = tlb->fifo_tail = NIL;
	tlb->rng = (uint64_t)(uintptr_t)tlb ^ 0x5eedull;
	*out = tlb;
	return 0;
}

void viommu_devtlb_destroy(struct viommu_devtlb *tlb)
{
	if (!tlb)
		return;
	while (tlb->retired) {
		struct table *t = tlb->retired;

		tlb->retired = t->next_retired;
		free(t);
	}
	free(cur_table(tlb));
	free(atomic_load_explicit(&tlb->none, memory_order_relaxed));
	free(tlb->ents);
	free(tlb->tn);
	free(tlb->prio);
	free(tlb->pend);
	for (uint32_t i = 0; i < tlb->nreaders; i++)
		free(tlb->readers[i]); /* readers not destroyed by the caller */
	free(tlb->readers);
	free(tlb);
}

/* Forget every entry in O(1): a fresh small table, an empty writer view. */
static void drop_all(struct viommu_devtlb *tlb)
{
	struct table *t = NULL;

	if (retire_room(tlb)) {
		uint64_t size = cur_table(tlb)->mask + 1;

		/* As large as now (up to a bound), so that refilling does not rebuild at once. */
		t = table_alloc(size < FLUSH_SLOTS ? size : FLUSH_SLOTS);
	}
	if (t) {
		publish_table(tlb, t);
		tlb->used = tlb->tombs = 0;
	} else {
		/* Too many tables await readers, or no memory: tombstone in place. */
		struct table *c = cur_table(tlb);

		for (uint64_t i = 0; i <= c->mask; i++) {
			struct slot *s = &c->slots[i];
			uint64_t k = ld(&s->key);

			if (key_live(k)) {
				atomic_store_explicit(&s->key, k & ~KEY_PERM_MASK,
						      memory_order_release);
				tlb->tombs++;
			}
		}
		tlb->used = 0;
		set_shifts(c, 0);
	}
	memset(tlb->shift_count, 0, sizeof(tlb->shift_count));
	tlb->nalloc = tlb->nents = 0;
	tlb->free_list = tlb->root = tlb->fifo_head = tlb->fifo_tail = NIL;
	tlb->st.flushes++;
}

void viommu_devtlb_flush(struct viommu_devtlb *tlb)
{
	if (!tlb)
		return;
	drop_all(tlb);
	atomic_fetch_add(&tlb->generation, 1);
	removal_done();
}

void viommu_devtlb_start(struct viommu_devtlb *tlb)
{
	if (!tlb)
		return;
	drop_all(tlb);
	atomic_store_explicit(&tlb->state, 0, memory_order_release);
	atomic_fetch_add(&tlb->generation, 1);
	removal_done();
}

/* Stopped first, then emptied: a lookup that finds the empty table also finds it stopped. */
void viommu_devtlb_stop(struct viommu_devtlb *tlb)
{
	if (!tlb)
		return;
	atomic_store_explicit(&tlb->state, ST_STOPPED, memory_order_release);
	drop_all(tlb);
	atomic_fetch_add(&tlb->generation, 1);
	pend_resolve(tlb, 0, UINT64_MAX, true);
	removal_done();
}

bool viommu_devtlb_started(const struct viommu_devtlb *tlb)
{
	return tlb &&
	       !(atomic_load_explicit(&((struct viommu_devtlb *)tlb)->state, memory_order_acquire) &
		 ST_STOPPED);
}

uint64_t viommu_devtlb_generation(const struct viommu_devtlb *tlb)
{
	return tlb ? atomic_load(&((struct viommu_devtlb *)tlb)->generation) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* UPDATE and INVALIDATE                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* True when entry @i already maps [x, y] -> u with @perm. */
static bool ent_has(const struct viommu_devtlb *tlb, uint32_t i, uint64_t x, uint64_t y, uint64_t u,
		    uint32_t perm)
{
	const struct ent *e = &tlb->ents[i];

	return e->perm == perm && e->iova <= x && e->last >= y && e->uaddr + (x - e->iova) == u;
}

int viommu_devtlb_update(struct viommu_devtlb *tlb, uint64_t iova, uint64_t size, uint64_t uaddr,
			 uint32_t perm)
{
	uint64_t last;
	uint32_t i, n, lft = NIL, rgt = NIL;

	if (!tlb)
		return VIOMMU_EINVAL;
	if (!viommu_devtlb_started(tlb)) {
		tlb->st.rejected++;
		return VIOMMU_EPERM;
	}
	if (size == 0 || !perm || (perm & ~(uint32_t)VIOMMU_ACC_RW)) {
		tlb->st.rejected++;
		return VIOMMU_EINVAL;
	}
	last = iova + (size - 1);
	if (last < iova) /* wraps: to the end of the IOVA space */
		last = UINT64_MAX;
	if (uaddr + (last - iova) < uaddr) {
		tlb->st.rejected++;
		return VIOMMU_EINVAL;
	}
	tlb->st.updates++;

	/* Already cached exactly so (a repeated answer to a duplicate miss): nothing changes. */
	tnear(tlb, iova, &i, &n);
	if (i != NIL && ent_has(tlb, i, iova, last, uaddr, perm))
		goto resolved;

	if ((i != NIL && E(i)->last >= iova) || (n != NIL && E(n)->iova <= last)) {
		tlb->st.replaced += cut_range(tlb, iova, last);
		tnear(tlb, iova, &i, &n);
	}
	/*
	 * Nothing overlaps [iova, last] now: i is the entry before it (floor of iova - 1) and n the
	 * one after it (the first above last). Merge only with neighbours that continue the host
	 * range with the same permissions.
	 */
	if (iova > 0) {
		uint32_t l = i;

		if (l != NIL && E(l)->last == iova - 1 && E(l)->perm == perm &&
		    E(l)->uaddr + (E(l)->last - E(l)->iova) + 1 == uaddr &&
		    E(l)->uaddr + (E(l)->last - E(l)->iova) < uaddr)
			lft = l;
	}
	if (last < UINT64_MAX) {
		uint32_t r = n;

		if (r != NIL && E(r)->iova == last + 1 && E(r)->perm == perm &&
		    uaddr + (last - iova) + 1 == E(r)->uaddr && uaddr + (last - iova) < E(r)->uaddr)
			rgt = r;
	}
	n = ent_alloc(tlb);
	if (n == NIL) {
		/* Only when the pool is exhausted, which capacity + 4 prevents; stay correct. */
		evict_to_capacity(tlb, NIL);
		n = ent_alloc(tlb);
		if (n == NIL)
			goto resolved;
	}
	E(n)->iova = lft != NIL ? E(lft)->iova : iova;
	E(n)->uaddr = lft != NIL ? E(lft)->uaddr : uaddr;
	E(n)->last = rgt != NIL ? E(rgt)->last : last;
	E(n)->perm = perm;
	if (lft != NIL || rgt != NIL)
		tlb->st.merges++;
	/*
	 * The merged entry first, then the parts it absorbs: readers always find one of them.
	 * Both are removed from the treap before it so that starts stay unique there.
	 */
	if (!reserve(tlb, ent_nblocks(E(n)))) {
		/*
		 * Live blocks fill the table at its size limit: evict the oldest entries. (When only
		 * tombstones are in the way, readers have not quiesced: drop the update instead.)
		 */
		while (tlb->fifo_head != NIL &&
		       (tlb->used + ent_nblocks(E(n))) * 2 > tlb->max_slots) {
			uint32_t v = tlb->fifo_head;

			if (v == lft || v == rgt) {
				/* Give up merging rather than evict a part of the new entry. */
				lft = rgt = NIL;
				E(n)->iova = iova;
				E(n)->uaddr = uaddr;
				E(n)->last = last;
				continue;
			}
			ent_remove(tlb, v);
			tlb->st.evictions++;
		}
		if (!reserve(tlb, ent_nblocks(E(n)))) {
			ent_free(tlb, n);
			tlb->st.dropped++;
			goto resolved;
		}
	}
	ent_slots_add(tlb, E(n));
	if (lft != NIL)
		ent_remove(tlb, lft);
	if (rgt != NIL)
		ent_remove(tlb, rgt);
	tinsert(tlb, n);
	fifo_link_before(tlb, n, NIL);
	tlb->nents++;
	evict_to_capacity(tlb, n);
resolved:
	atomic_fetch_add_explicit(&tlb->generation, 1, memory_order_release);
	pend_resolve(tlb, iova, last, false);
	return 0;
}

int viommu_devtlb_invalidate(struct viommu_devtlb *tlb, uint64_t iova, uint64_t size)
{
	uint64_t last;

	if (!tlb)
		return VIOMMU_EINVAL;
	tlb->st.invalidations++;
	last = iova + (size - 1);
	if (size == 0 || last < iova) /* 2^64 bytes, or wraps: to the end of the space */
		last = UINT64_MAX;
	if (iova == 0 && last == UINT64_MAX) {
		if (tlb->nents)
			tlb->st.invalidated += tlb->nents;
		drop_all(tlb);
	} else {
		tlb->st.invalidated += cut_range(tlb, iova, last);
		evict_to_capacity(tlb, NIL);
	}
	removal_done();
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Readers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

int viommu_devtlb_reader_create(struct viommu_devtlb *tlb, viommu_devtlb_wake_fn wake, void *opaque,
				struct viommu_devtlb_reader **out)
{
	struct viommu_devtlb_reader *r;

	if (!tlb || !out)
		return VIOMMU_EINVAL;
	*out = NULL;
	if (tlb->nreaders == tlb->readers_cap) {
		uint32_t cap = tlb->readers_cap ? tlb->readers_cap * 2 : 8;
		struct viommu_devtlb_reader **v = realloc(tlb->readers, cap * sizeof(*v));

		if (!v)
			return VIOMMU_ENOMEM;
		tlb->readers = v;
		tlb->readers_cap = cap;
	}
	r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);
	if (!r)
		return VIOMMU_ENOMEM;
	memset(r, 0, sizeof(*r));
	r->tlb = tlb;
	r->tabp = &tlb->none;
	r->wake = wake;
	r->wake_opaque = opaque;
	/* The lowest id not in use, so waiter bits spread over the first 64 readers. */
	for (uint32_t id = 0;; id++) {
		bool used = false;

		for (uint32_t i = 0; i < tlb->nreaders && !used; i++)
			used = tlb->readers[i]->id == id;
		if (!used) {
			r->id = id;
			break;
		}
	}
	r->bit = 1ull << (r->id & 63);
	atomic_init(&r->qs, 0);
	tlb->readers[tlb->nreaders++] = r;
	*out = r;
	return 0;
}

static void add_reader_stats(struct viommu_devtlb_stats *s, const struct viommu_devtlb_reader *r)
{
	uint64_t h = ld(&r->c.hits), m = ld(&r->c.misses);
	uint64_t p = ld(&r->c.perm_faults), so = ld(&r->c.stopped);

	s->hits += h;
	s->misses += m;
	s->perm_faults += p;
	s->stopped_lookups += so;
	s->lookups += h + m + p + so;
	s->miss_requests += ld(&r->c.requests);
	s->miss_suppressed += ld(&r->c.suppressed);
}

void viommu_devtlb_reader_destroy(struct viommu_devtlb_reader *r)
{
	struct viommu_devtlb *tlb;

	if (!r)
		return;
	tlb = r->tlb;
	add_reader_stats(&tlb->gone, r);
	for (uint32_t i = 0; i < tlb->nreaders; i++) {
		if (tlb->readers[i] == r) {
			tlb->readers[i] = tlb->readers[--tlb->nreaders];
			break;
		}
	}
	free(r);
	reclaim(tlb);
}

void viommu_devtlb_reader_quiesce(struct viommu_devtlb_reader *r)
{
	struct viommu_devtlb *tlb;

	if (!r || !r->online)
		return;
	tlb = r->tlb;
	atomic_store_explicit(&r->qs, atomic_load_explicit(&tlb->epoch, memory_order_acquire),
			      memory_order_release);
}

void viommu_devtlb_reader_offline(struct viommu_devtlb_reader *r)
{
	if (!r)
		return;
	r->online = false;
	r->tabp =
		&r->tlb->none; /* the next lookup misses at once, takes the slow path, goes online */
	atomic_store_explicit(&r->qs, 0, memory_order_release);
}

void viommu_devtlb_reader_online(struct viommu_devtlb_reader *r)
{
	if (!r || r->online)
		return;
	r->online = true;
	atomic_store_explicit(&r->qs, atomic_load_explicit(&r->tlb->epoch, memory_order_acquire),
			      memory_order_relaxed);
	/* Announce before the first read of a table pointer (pairs with the writer's fence). */
	atomic_thread_fence(memory_order_seq_cst);
	r->tabp = &r->tlb->tab;
}

void viommu_devtlb_get_stats(const struct viommu_devtlb *tlb, struct viommu_devtlb_stats *s)
{
	if (!tlb || !s)
		return;
	*s = tlb->gone;
	for (uint32_t i = 0; i < tlb->nreaders; i++)
		add_reader_stats(s, tlb->readers[i]);
	s->updates = tlb->st.updates;
	s->rejected = tlb->st.rejected;
	s->merges = tlb->st.merges;
	s->replaced = tlb->st.replaced;
	s->invalidations = tlb->st.invalidations;
	s->invalidated = tlb->st.invalidated;
	s->flushes = tlb->st.flushes;
	s->evictions = tlb->st.evictions;
	s->entries = tlb->nents;
	s->retired = tlb->nretired;
	s->dropped = tlb->st.dropped;
	s->hit_rate = s->lookups ? (double)s->hits / (double)s->lookups : 0;
}

/*
 * Probe the shared table for @x, every block size present; the hit's slot (and in *@key the key
 * that was live when it was read: the slot may be tombstoned since) or NULL.
 */
static const struct slot *table_find(const struct table *t, uint64_t x, uint64_t *key_out)
{
	uint64_t shifts = atomic_load_explicit(&((struct table *)t)->shifts, memory_order_relaxed);

	while (shifts) {
		unsigned int s = (unsigned int)__builtin_ctzll(shifts);
		uint64_t base = x & ~((1ull << s) - 1) & ~PG_MASK;
		uint64_t key = block_key(base, s);
		uint64_t h = slot_home(t, base);

		shifts &= shifts - 1;
		for (uint64_t n = 0; n <= t->mask; n++, h++) {
			const struct slot *sl = &t->slots[h & t->mask];
			uint64_t k = atomic_load_explicit(&((struct slot *)sl)->key,
							  memory_order_acquire);

			if (k == KEY_EMPTY)
				break;
			if ((k & ~KEY_PERM_MASK) != key || !key_live(k))
				continue;
			if (x - ld(&sl->iova) > ld(&sl->span))
				continue; /* another entry sharing a partial page */
			*key_out = k;
			return sl;
		}
	}
	return NULL;
}

/* Everything but the common hit: several block sizes, probe chains, faults, misses, offline. */
__attribute__((noinline)) static int lookup_slow(struct viommu_devtlb_reader *r, uint64_t x,
						 uint64_t len, uint32_t access, uint64_t *uaddr,
						 uint64_t *covered)
{
	struct viommu_devtlb *tlb = r->tlb;
	uint32_t want = access & VIOMMU_ACC_RW ? access & VIOMMU_ACC_RW : VIOMMU_ACC_READ;
	const struct slot *sl;
	uint64_t k, iova, last;

	len = len ? len : 1;
	if (!r->online) {
		if (atomic_load_explicit(&tlb->state, memory_order_acquire) & ST_STOPPED) {
			bump(&r->c.stopped);
			return VIOMMU_ENOENT;
		}
		viommu_devtlb_reader_online(r);
	}
	sl = table_find(atomic_load_explicit(&tlb->tab, memory_order_acquire), x, &k);
	if (!sl) {
		/* Stopping empties the table after setting the flag: a miss may be a stop. */
		if (atomic_load_explicit(&tlb->state, memory_order_acquire) & ST_STOPPED) {
			bump(&r->c.stopped);
			return VIOMMU_ENOENT;
		}
		bump(&r->c.misses);
		miss_request(r, x, want);
		return VIOMMU_EAGAIN;
	}
	if (((uint32_t)(k >> KEY_PERM_SHIFT) & want) != want) {
		bump(&r->c.perm_faults);
		return VIOMMU_EPERM;
	}
	iova = ld(&sl->iova);
	last = iova + ld(&sl->span);
	bump(&r->c.hits);
	*uaddr = ld(&sl->uaddr) + (x - iova);
	*covered = (len - 1 <= last - x ? len - 1 : last - x) + 1;
	return 0;
}

/*
 * The fast path probes one slot: the home slot of @iova's block of the smallest size present.
 * It does not compare the slot's key with that block: any live slot whose entry contains @iova is
 * a correct answer, whatever led to it (entries never overlap, and a removed entry's slots are
 * tombstoned before the removal returns), so it checks only that the slot is live with the access
 * asked (empty and tombstone keys have no permission bits) and that its entry contains @iova. When
 * that fails (another size, a probe chain, a fault, a miss, an offline reader whose tabp points at
 * the empty table) the slow path starts over. A probe_mask read while the writer changes it costs
 * at most a slow lookup.
 */
int viommu_devtlb_lookup(struct viommu_devtlb_reader *r, uint64_t iova, uint64_t len,
			 uint32_t access, uint64_t *uaddr, uint64_t *covered)
{
	/* Acquire: the table's header and slots were initialised before it was published. */
	struct table *t = atomic_load_explicit(r->tabp, memory_order_acquire);
	struct slot *sl = &t->slots[slot_home(t, iova & ld(&t->probe_mask))];
	/*
	 * One register for the slot rather than table + index: with the six arguments kept for the
	 * slow path, that is what lets the hit run without saving registers.
	 */
	__asm__("" : "+r"(sl));
	/* Acquire: the slot's data was written before its key (release). */
	uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
	/*
	 * The permission bits asked, as ((access & RW) - 1 & 3) + 1: access & RW when not 0 (3
	 * instructions, no branch); else 4, which no key grants, so "0 means READ" takes the slow
	 * path. A key grants them when none is missing from ~key.
	 */
	uint64_t want = ((access - 1) & 3) + 1;
	uint64_t off, span, rest;

	if (__builtin_expect((~k >> KEY_PERM_SHIFT) & want, 0))
		return lookup_slow(r, iova, len, access, uaddr, covered);
	off = iova - ld(&sl->iova);
	span = ld(&sl->span);
	/* Keeps GCC from computing span - off as span + slot iova - iova, a register more. */
	__asm__("" : "+r"(off));
	if (__builtin_expect(off > span || !len, 0))
		return lookup_slow(r, iova, len, access, uaddr, covered);
	rest = span - off; /* bytes after @iova in the entry */
	bump(&r->c.hits);
	*uaddr = ld(&sl->uaddr) + off;
	/* A len that wraps stops at the entry's end. */
	*covered = (len - 1 <= rest ? len - 1 : rest) + 1;
	return 0;
}
