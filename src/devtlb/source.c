// SPDX-License-Identifier: MIT
/*
 * In-process source of translations for the device IOTLB: a model in the same process plays the
 * front-end. Its invalidation events become INVALIDATEs (and, when pushing, its MAP events
 * UPDATEs); pending misses are answered the way QEMU's vhost_device_iotlb_miss() answers a MISS:
 * translate through the vIOMMU, map the output GPA to a host address, and UPDATE the page
 * (clamped to the host-contiguous part).
 */
#include <stdlib.h>

#include <viommu/devtlb.h>

#include "core/core.h"

#define BATCH 32

/* Host-contiguous pieces one pushed mapping may take: a sane host needs a handful. */
#define PUSH_PIECES_MAX 1024

struct viommu_devtlb_source {
	struct viommu_devtlb *tlb;
	struct viommu *v;
	struct viommu_notifier *n;
	struct viommu_devtlb_source_config cfg;
};

static void sent(const struct viommu_devtlb_source *s, enum viommu_devtlb_msg msg, int ret)
{
	if (s->cfg.sent)
		s->cfg.sent(s->cfg.opaque, msg, ret);
}

/* UPDATE guest range [iova, iova + size) -> @gpa, piece by host-contiguous piece. */
static int update_range(struct viommu_devtlb_source *s, uint64_t iova, uint64_t size, uint64_t gpa,
			uint32_t perm)
{
	for (int i = 0; size && i < PUSH_PIECES_MAX; i++) {
		uint64_t hva, hlen;
		int ret = s->cfg.gpa_to_hva(s->cfg.opaque, gpa, size, &hva, &hlen);

		if (!ret && (!hlen || hlen > size))
			ret = VIOMMU_EFAULT;
		if (!ret)
			ret = viommu_devtlb_update(s->tlb, iova, hlen, hva, perm & VIOMMU_ACC_RW);
		if (ret)
			return ret;
		iova += hlen;
		gpa += hlen;
		size -= hlen;
	}
	return size ? VIOMMU_E2BIG : 0;
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct viommu_devtlb_source *s = opaque;
	/* Inclusive [iova, last] to (iova, size): the whole space gives size 0, which means it. */
	uint64_t size = ev->last >= ev->iova ? ev->last - ev->iova + 1 : 0;

	if (ev->type == VIOMMU_EV_MAP) {
		/* A MAP of the whole space cannot be expressed as a size: none is. */
		sent(s, VIOMMU_DEVTLB_MSG_UPDATE_PUSH,
		     size ? update_range(s, ev->iova, size, ev->out, ev->perm) : VIOMMU_EINVAL);
		return;
	}
	sent(s, VIOMMU_DEVTLB_MSG_INVALIDATE, viommu_devtlb_invalidate(s->tlb, ev->iova, size));
}

void viommu_devtlb_source_config_init(struct viommu_devtlb_source_config *cfg)
{
	if (!cfg)
		return;
	*cfg = (struct viommu_devtlb_source_config){
		.inval_events = VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP,
	};
}

int viommu_devtlb_attach_model_cfg(struct viommu_devtlb *tlb, struct viommu *v,
				   const struct viommu_devtlb_source_config *cfg,
				   struct viommu_devtlb_source **out)
{
	const uint32_t inval = VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP;
	struct viommu_devtlb_source *s;
	uint32_t events;
	int ret;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	if (!tlb || !v || !cfg || !cfg->gpa_to_hva || (cfg->inval_events & ~inval))
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->tlb = tlb;
	s->v = v;
	s->cfg = *cfg;
	events = cfg->inval_events ? cfg->inval_events : inval;
	if (cfg->push)
		events |= VIOMMU_EV_MAP;
	ret = viommu_notifier_add(v, cfg->sid, events, on_event, s, &s->n);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int viommu_devtlb_attach_model(struct viommu_devtlb *tlb, struct viommu *v, uint32_t sid,
			       viommu_devtlb_gpa_fn gpa_to_hva, void *opaque,
			       struct viommu_devtlb_source **out)
{
	const struct viommu_devtlb_source_config cfg = { .sid = sid,
							 .gpa_to_hva = gpa_to_hva,
							 .opaque = opaque };

	return viommu_devtlb_attach_model_cfg(tlb, v, &cfg, out);
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
		.sid = s->cfg.sid, .iova = m->iova, .len = 1, .access = m->perm
	};
	struct viommu_xlate_result res;
	uint64_t page_mask, hva, hlen;
	unsigned int shift;
	int ret;

	if (viommu_translate(s->v, &req, &res) || !viommu_xlate_ok(&res))
		return false; /* an invalid IOVA: answered with nothing, as QEMU does */
	/* The whole page the model maps, from its start: a leaf maps it all alike. */
	shift = res.page_shift < 12 ? 12 : res.page_shift > 63 ? 63 : res.page_shift;
	page_mask = (1ull << shift) - 1;
	if (s->cfg.gpa_to_hva(s->cfg.opaque, res.out & ~page_mask, page_mask + 1, &hva, &hlen) ||
	    !hlen || hlen > page_mask + 1)
		return false;
	ret = viommu_devtlb_update(s->tlb, m->iova & ~page_mask, hlen, hva,
				   res.perm & VIOMMU_ACC_RW);
	sent(s, VIOMMU_DEVTLB_MSG_UPDATE_MISS, ret);
	return ret == 0;
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
