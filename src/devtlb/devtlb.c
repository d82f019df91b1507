// SPDX-License-Identifier: MIT
/*
 * Device IOTLB for vhost back-ends: create, start, stop, flush; readers and the lookup. See
 * <viommu/devtlb.h> for the contract and devtlb_internal.h for the design.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "devtlb_internal.h"

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
	t = vi_devtlb_table_alloc(MIN_SLOTS);
	none = vi_devtlb_table_alloc(2);
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
void vi_devtlb_drop_all(struct viommu_devtlb *tlb)
{
	struct table *t = NULL;

	if (vi_devtlb_retire_room(tlb)) {
		uint64_t size = cur_table(tlb)->mask + 1;

		/* As large as now (up to a bound), so that refilling does not rebuild at once. */
		t = vi_devtlb_table_alloc(size < FLUSH_SLOTS ? size : FLUSH_SLOTS);
	}
	if (t) {
		vi_devtlb_publish_table(tlb, t);
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
	vi_devtlb_drop_all(tlb);
	atomic_fetch_add(&tlb->generation, 1);
	removal_done();
}

void viommu_devtlb_start(struct viommu_devtlb *tlb)
{
	if (!tlb)
		return;
	vi_devtlb_drop_all(tlb);
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
	vi_devtlb_drop_all(tlb);
	atomic_fetch_add(&tlb->generation, 1);
	vi_devtlb_pend_resolve(tlb, 0, UINT64_MAX, true);
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
	vi_devtlb_reclaim(tlb);
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
		vi_devtlb_miss_request(r, x, want);
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
