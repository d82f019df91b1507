// SPDX-License-Identifier: MIT
/*
 * Device IOTLB: the writer's entries (a pool, a treap by IOVA, a FIFO for replacement), and
 * UPDATE and INVALIDATE over them; see devtlb_internal.h.
 */
#include <string.h>

#include "devtlb_internal.h"

static uint32_t rng32(struct viommu_devtlb *tlb)
{
	uint64_t z = (tlb->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
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
	if (!vi_devtlb_reserve(tlb, vi_devtlb_ent_nblocks(E(i))))
		return false;
	vi_devtlb_ent_slots_add(tlb, E(i));
	tinsert(tlb, i);
	fifo_link_before(tlb, i, fifo_next);
	tlb->nents++;
	return true;
}

static void ent_remove(struct viommu_devtlb *tlb, uint32_t i)
{
	vi_devtlb_ent_slots_del(tlb, E(i));
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
	if (!vi_devtlb_reserve(tlb, vi_devtlb_ent_nblocks(E(n)))) {
		/*
		 * Live blocks fill the table at its size limit: evict the oldest entries. (When only
		 * tombstones are in the way, readers have not quiesced: drop the update instead.)
		 */
		while (tlb->fifo_head != NIL &&
		       (tlb->used + vi_devtlb_ent_nblocks(E(n))) * 2 > tlb->max_slots) {
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
		if (!vi_devtlb_reserve(tlb, vi_devtlb_ent_nblocks(E(n)))) {
			ent_free(tlb, n);
			tlb->st.dropped++;
			goto resolved;
		}
	}
	vi_devtlb_ent_slots_add(tlb, E(n));
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
	vi_devtlb_pend_resolve(tlb, iova, last, false);
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
		vi_devtlb_drop_all(tlb);
	} else {
		tlb->st.invalidated += cut_range(tlb, iova, last);
		evict_to_capacity(tlb, NIL);
	}
	removal_done();
	return 0;
}
