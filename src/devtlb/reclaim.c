// SPDX-License-Identifier: MIT
/*
 * Device IOTLB: retired tables and grace periods (quiescent-state based reclamation). A table
 * the writer replaces is freed once every online reader has quiesced since; see
 * devtlb_internal.h.
 */
#include <sched.h>
#include <stdlib.h>

#include "devtlb_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Tables and grace periods                                                                 */
/* ---------------------------------------------------------------------------------------- */

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

void vi_devtlb_reclaim(struct viommu_devtlb *tlb)
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
bool vi_devtlb_retire_room(struct viommu_devtlb *tlb)
{
	vi_devtlb_reclaim(tlb);
	for (uint32_t i = 0; tlb->nretired >= RETIRED_MAX && i < WAIT_YIELDS; i++) {
		sched_yield();
		vi_devtlb_reclaim(tlb);
	}
	return tlb->nretired < RETIRED_MAX;
}

/* Publish @t as the table and retire the old one. */
void vi_devtlb_publish_table(struct viommu_devtlb *tlb, struct table *t)
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
	vi_devtlb_reclaim(tlb);
}

uint64_t viommu_devtlb_grace_start(struct viommu_devtlb *tlb)
{
	return atomic_fetch_add_explicit(&tlb->epoch, 1, memory_order_seq_cst) + 1;
}

bool viommu_devtlb_grace_done(struct viommu_devtlb *tlb, uint64_t cookie)
{
	bool done = min_reader_epoch(tlb) >= cookie;

	vi_devtlb_reclaim(tlb);
	return done;
}

void viommu_devtlb_synchronize(struct viommu_devtlb *tlb)
{
	uint64_t c = viommu_devtlb_grace_start(tlb);

	while (!viommu_devtlb_grace_done(tlb, c))
		sched_yield();
}
