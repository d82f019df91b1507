// SPDX-License-Identifier: MIT
/*
 * Device IOTLB: the slot table, writer side. Entries are cut into aligned blocks, one slot each;
 * see devtlb_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "devtlb_internal.h"

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
/* Tables                                                                                   */
/* ---------------------------------------------------------------------------------------- */

struct table *vi_devtlb_table_alloc(uint64_t nslots)
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

/* ---------------------------------------------------------------------------------------- */
/* Slots (writer)                                                                           */
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

	if (!vi_devtlb_retire_room(tlb))
		return VIOMMU_EBUSY;
	t = vi_devtlb_table_alloc(nslots);
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
	vi_devtlb_publish_table(tlb, t);
	return 0;
}

/* Make room for @n more slots; false when the table cannot take them now. */
bool vi_devtlb_reserve(struct viommu_devtlb *tlb, uint64_t n)
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
		vi_devtlb_reclaim(tlb);
		if (tlb->nretired < RETIRED_MAX / 2 && (tlb->used + n) * 2 <= want)
			rebuild(tlb, want);
		return true;
	}
	if ((tlb->used + n) * 2 > want)
		return false;
	return rebuild(tlb, want) == 0;
}

void vi_devtlb_ent_slots_add(struct viommu_devtlb *tlb, const struct ent *e)
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

void vi_devtlb_ent_slots_del(struct viommu_devtlb *tlb, const struct ent *e)
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

unsigned int vi_devtlb_ent_nblocks(const struct ent *e)
{
	struct blk b[MAX_BLOCKS];

	return decompose(e->iova, e->last, b);
}
