// SPDX-License-Identifier: MIT
/*
 * In-process source of translations for the device IOTLB: a model in the same process plays the
 * front-end. Its UNMAP and DEVIOTLB_UNMAP events become INVALIDATEs; pending misses are answered
 * the way QEMU's vhost_device_iotlb_miss() answers a MISS: translate through the vIOMMU, map the
 * output GPA to a host address, and UPDATE the page (clamped to the host-contiguous part).
 */
#include <stdlib.h>

#include <viommu/devtlb.h>

#include "core/core.h"

#define BATCH 32

struct viommu_devtlb_source {
	struct viommu_devtlb *tlb;
	struct viommu *v;
	struct viommu_notifier *n;
	uint32_t sid;
	viommu_devtlb_gpa_fn gpa_to_hva;
	void *opaque;
};

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct viommu_devtlb_source *s = opaque;
	/* Inclusive [iova, last] to (iova, size): the whole space gives size 0, which means it. */
	uint64_t size = ev->last >= ev->iova ? ev->last - ev->iova + 1 : 0;

	viommu_devtlb_invalidate(s->tlb, ev->iova, size);
}

int viommu_devtlb_attach_model(struct viommu_devtlb *tlb, struct viommu *v, uint32_t sid,
			       viommu_devtlb_gpa_fn gpa_to_hva, void *opaque,
			       struct viommu_devtlb_source **out)
{
	struct viommu_devtlb_source *s;
	int ret;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	if (!tlb || !v || !gpa_to_hva)
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->tlb = tlb;
	s->v = v;
	s->sid = sid;
	s->gpa_to_hva = gpa_to_hva;
	s->opaque = opaque;
	ret = viommu_notifier_add(v, sid, VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP, on_event, s,
				  &s->n);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void viommu_devtlb_detach_model(struct viommu_devtlb_source *s)
{
	if (!s)
		return;
	viommu_notifier_del(s->v, s->n);
	free(s);
}

/* Answer one miss; true when an UPDATE was made. */
static bool answer(struct viommu_devtlb_source *s, const struct viommu_devtlb_miss *m)
{
	struct viommu_xlate_req req = {
		.sid = s->sid, .iova = m->iova, .len = 1, .access = m->perm
	};
	struct viommu_xlate_result res;
	uint64_t page_mask, hva, hlen;
	unsigned int shift;

	if (viommu_translate(s->v, &req, &res) || !viommu_xlate_ok(&res))
		return false; /* an invalid IOVA: answered with nothing, as QEMU does */
	shift = res.page_shift < 12 ? 12 : res.page_shift > 63 ? 63 : res.page_shift;
	page_mask = (1ull << shift) - 1;
	/* The whole page the model maps, from its start. */
	req.iova = m->iova & ~page_mask;
	req.len = page_mask + 1;
	if (viommu_translate(s->v, &req, &res) || !viommu_xlate_ok(&res) || !res.len)
		return false;
	if (s->gpa_to_hva(s->opaque, res.out, res.len, &hva, &hlen) || !hlen || hlen > res.len)
		return false;
	return viommu_devtlb_update(s->tlb, req.iova, hlen, hva, res.perm & VIOMMU_ACC_RW) == 0;
}

int viommu_devtlb_source_service(struct viommu_devtlb_source *s)
{
	struct viommu_devtlb_miss m[BATCH];
	size_t n;
	int done = 0;

	if (!s)
		return VIOMMU_EINVAL;
	/* Each miss is taken once, so this ends after at most pending_slots misses. */
	while ((n = viommu_devtlb_take_misses(s->tlb, m, BATCH)) > 0) {
		for (size_t i = 0; i < n; i++)
			done += answer(s, &m[i]);
	}
	return done;
}
