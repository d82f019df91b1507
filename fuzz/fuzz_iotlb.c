// SPDX-License-Identifier: MIT
/*
 * IOTLB operations from fuzz input, checked against a small reference after every step: a hit
 * must be an entry inserted and not since invalidated, with the contents it was inserted with;
 * so must a hit by ref (refs are taken per tag and kept, stale or not, as a model would).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/iotlb.h>

#include "fuzz_input.h"

#define REF_MAX 64

struct ref_ent {
	struct viommu_iotlb_entry e;
	int used;
};

static int covers(const struct viommu_iotlb_entry *e, uint64_t iova)
{
	return iova - e->iova < (1ull << e->shift);
}

/* Whether @ref holds an entry of @tag at (@iova, @shift) translating to @out with @perm. */
static int in_ref(const struct ref_ent *ref, const struct viommu_iotlb_tag *tag, uint64_t iova,
		  uint64_t page, uint8_t shift, uint64_t out, uint8_t perm)
{
	for (int i = 0; i < REF_MAX; i++) {
		const struct viommu_iotlb_entry *r = &ref[i].e;

		if (ref[i].used && !memcmp(&r->tag, tag, sizeof(*tag)) && r->iova == page &&
		    r->shift == shift && r->out == out && r->perm == perm && covers(r, iova))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_iotlb_config cfg = { .capacity = 16u << (take(&in, 1) & 3),
					   .ways = 1u << (take(&in, 1) % 5) };
	struct ref_ent ref[REF_MAX];
	uint64_t held[8] = { 0 }; /* per tag (dom, pasid); 0 is never a ref */
	struct viommu_iotlb *tlb;

	if (cfg.ways > cfg.capacity)
		cfg.ways = cfg.capacity;
	if (viommu_iotlb_create(&cfg, &tlb))
		abort();
	memset(ref, 0, sizeof(ref));
	while (in.n) {
		uint8_t op = (uint8_t)take(&in, 1);
		struct viommu_iotlb_tag tag = { .dom = (uint32_t)take(&in, 1) & 3,
						.pasid = (uint32_t)take(&in, 1) & 1 };
		uint64_t iova = take(&in, 8);

		switch (op % 6) {
		case 0: { /* insert */
			struct viommu_iotlb_entry e = { .tag = tag,
							.iova = iova,
							.out = take(&in, 8),
							.shift = (uint8_t)(12 + take(&in, 1) % 36),
							.perm = (uint8_t)(take(&in, 1) & 15) };
			int slot = -1;

			e.iova &= ~((1ull << e.shift) - 1);
			e.out &= ~((1ull << e.shift) - 1);
			for (int i = 0; i < REF_MAX; i++) {
				if (ref[i].used && !memcmp(&ref[i].e.tag, &tag, sizeof(tag)) &&
				    ref[i].e.iova == e.iova && ref[i].e.shift == e.shift)
					slot = i;
			}
			for (int i = 0; i < REF_MAX && slot < 0; i++) {
				if (!ref[i].used)
					slot = i;
			}
			if (slot < 0) {
				viommu_iotlb_flush(tlb);
				memset(ref, 0, sizeof(ref));
				slot = 0;
			}
			/* Output addresses from 2^52 up are refused (their bits hold the tag). */
			if (e.out >> 52) {
				if (viommu_iotlb_insert(tlb, &e) != VIOMMU_EINVAL)
					abort();
				break;
			}
			if (viommu_iotlb_insert(tlb, &e))
				abort();
			ref[slot].e = e;
			ref[slot].used = 1;
			break;
		}
		case 1: { /* lookup */
			struct viommu_iotlb_entry got;

			if (viommu_iotlb_lookup(tlb, &tag, iova, &got))
				break;
			if (!in_ref(ref, &tag, iova, got.iova, got.shift, got.out, got.perm))
				abort(); /* a stale or invented translation */
			break;
		}
		case 4: /* take a ref */
			if (viommu_iotlb_tag_ref(tlb, &tag, &held[tag.dom * 2 + tag.pasid]))
				abort();
			break;
		case 5: { /* lookup by a held ref, maybe stale */
			struct viommu_iotlb_hit hit;
			uint64_t mask;
			int ret;

			if (op & 0x80) {
				/* A batch of one: a miss is shift 0. */
				ret = viommu_iotlb_lookup_ref_batch(
					tlb, held[tag.dom * 2 + tag.pasid], &iova, 1, &hit);
				if (ret == 0 && hit.shift == 0)
					ret = VIOMMU_ENOENT;
			} else {
				ret = viommu_iotlb_lookup_ref(tlb, held[tag.dom * 2 + tag.pasid],
							      iova, &hit);
			}
			if (ret == VIOMMU_ESTALE || ret == VIOMMU_ENOENT)
				break;
			if (ret || hit.shift < 12 || hit.shift > 47)
				abort();
			mask = (1ull << hit.shift) - 1;
			if ((hit.addr & mask) != (iova & mask) ||
			    !in_ref(ref, &tag, iova, iova & ~mask, hit.shift, hit.addr & ~mask,
				    hit.perm))
				abort(); /* another tag's, stale or invented */
			break;
		}
		case 2: { /* invalidate */
			struct viommu_iotlb_inval inv = { .match = (uint32_t)take(&in, 1) & 0xf,
							  .tag = tag,
							  .first = iova,
							  .last = iova + take(&in, 4) };
			if (inv.last < inv.first)
				inv.last = UINT64_MAX;
			viommu_iotlb_invalidate(tlb, &inv);
			for (int i = 0; i < REF_MAX; i++) {
				const struct viommu_iotlb_entry *r = &ref[i].e;
				uint64_t end = r->iova + ((1ull << r->shift) - 1);
				int hit = ref[i].used;

				if (!inv.match)
					hit = hit && 1;
				if (inv.match & VIOMMU_IOTLB_MATCH_DOM)
					hit = hit && r->tag.dom == tag.dom;
				if (inv.match & VIOMMU_IOTLB_MATCH_PASID)
					hit = hit && r->tag.pasid == tag.pasid;
				if (inv.match & VIOMMU_IOTLB_MATCH_SID)
					hit = hit && r->tag.sid == tag.sid;
				if (inv.match & VIOMMU_IOTLB_MATCH_ADDR)
					hit = hit && !(end < inv.first || r->iova > inv.last);
				if (hit)
					ref[i].used = 0;
			}
			break;
		}
		default:
			viommu_iotlb_flush(tlb);
			memset(ref, 0, sizeof(ref));
			break;
		}
	}
	viommu_iotlb_destroy(tlb);
	return 0;
}
