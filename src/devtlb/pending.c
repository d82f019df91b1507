// SPDX-License-Identifier: MIT
/*
 * Device IOTLB: pending misses, so that a page missed by several lookups is asked for once;
 * see devtlb_internal.h.
 */
#include <time.h>

#include "devtlb_internal.h"

static uint64_t now_ns(struct viommu_devtlb *tlb)
{
	struct timespec ts;

	if (tlb->clock)
		return tlb->clock(tlb->opaque);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
void vi_devtlb_pend_resolve(struct viommu_devtlb *tlb, uint64_t x, uint64_t y, bool all)
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
__attribute__((noinline, cold)) void vi_devtlb_miss_request(struct viommu_devtlb_reader *r,
							    uint64_t x, uint32_t want)
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
