// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "vhost": a vhost back-end with a device IOTLB (src/devtlb/), fed by the
 * library's in-process source playing the VMM; misses are served from the model, invalidations
 * (or pushed mappings) come from its events. See engine_internal.h.
 */
#include <stdlib.h>

#include "engine_internal.h"

#define MAX_RETRY 4

/* The back-end's device IOTLB and the VMM's side of it. */
struct vhost {
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *reader;
	struct viommu_devtlb_source *src; /* the VMM's side of the back-end's device IOTLB */
	int push_err;
};

/* Guest RAM is one flat buffer: every range inside it is host-contiguous. */
static int gpa_to_hva(void *opaque, uint64_t gpa, uint64_t len, uint64_t *hva, uint64_t *hva_len)
{
	uint8_t *p = gptr(opaque, gpa, len);

	if (!p)
		return VIOMMU_EFAULT;
	*hva = (uint64_t)(uintptr_t)p;
	*hva_len = len;
	return 0;
}

/*
 * Each message between the VMM and the back-end costs both of them; misses are charged where
 * they are served (vhost_service()).
 */
static void vhost_sent(void *opaque, enum viommu_devtlb_msg msg, int ret)
{
	struct eng *e = opaque;
	struct vhost *vh = e->place;

	if (msg == VIOMMU_DEVTLB_MSG_UPDATE_MISS)
		return;
	/* VHOST_IOTLB_INVALIDATE or a pushed VHOST_IOTLB_UPDATE, and its reply. */
	e->inv_msgs += 2;
	if (ret && msg == VIOMMU_DEVTLB_MSG_UPDATE_PUSH && !vh->push_err)
		vh->push_err = ret;
}

/*
 * The back-end's device IOTLB, fed by the library's in-process source playing the VMM. With ATS
 * the VMM forwards only device-TLB invalidations (QEMU's DEVIOTLB notifier), else the IOMMU's
 * UNMAPs. Push: the VMM also keeps it in step with the guest's mappings as it learns them
 * (caching mode's MAP events, and the UNMAP events of exactly what changed), so the back-end
 * never misses and live entries survive the guest's coarse flushes.
 */
static int vhost_setup(struct eng *e)
{
	struct viommu_devtlb_source_config sc = {
		.sid = SID,
		.inval_events = (e->p.cfg.ats && !e->p.cfg.push) ? VIOMMU_EV_DEVIOTLB_UNMAP :
								   VIOMMU_EV_UNMAP,
		.push = e->p.cfg.push,
		.gpa_to_hva = gpa_to_hva,
		.opaque = e,
		.sent = vhost_sent,
	};
	struct viommu_devtlb_config tc = { 0 };
	struct vhost *vh;
	int ret;

	if (!e->v)
		return 0; /* no vIOMMU: guest-physical addresses, no device IOTLB */
	vh = calloc(1, sizeof(*vh));
	if (!vh)
		return VIOMMU_ENOMEM;
	e->place = vh;
	ret = viommu_devtlb_create(&tc, &vh->tlb);
	if (!ret)
		ret = viommu_devtlb_reader_create(vh->tlb, NULL, NULL, &vh->reader);
	if (ret)
		return ret;
	viommu_devtlb_start(vh->tlb);
	return viommu_devtlb_attach_model_cfg(vh->tlb, e->v, &sc, &vh->src);
}

/* The VMM answers the back-end's misses: translate each page, send an UPDATE. */
static int vhost_service(struct eng *e)
{
	struct vhost *vh = e->place;
	uint64_t reads = sim_iommu_reads(e->iommu), walked;
	int n = viommu_devtlb_source_service(vh->src);

	if (n < 0)
		return VIOMMU_EIO;
	/* MISS, then UPDATE: the vhost worker stalls on this queue for both. */
	acct(e, SIM_RES_VMM, SIM_EV_MSG, 2.0 * n);
	acct(e, e->be, SIM_EV_MSG, 2.0 * n);
	acct(e, SIM_RES_VMM, SIM_EV_VMM_OP, n);
	acct(e, e->be, SIM_EV_VMM_OP, n);
	walked = sim_iommu_reads(e->iommu) - reads;
	acct(e, SIM_RES_VMM, SIM_EV_WALK_READ, (double)walked);
	acct(e, e->be, SIM_EV_WALK_READ, (double)walked);
	/* The VMM's share is work for the worker, which waits behind the VMM's other work. */
	e->vmm_for_backend[SIM_EV_MSG] += 2.0 * n;
	e->vmm_for_backend[SIM_EV_VMM_OP] += n;
	e->vmm_for_backend[SIM_EV_WALK_READ] += (double)walked;
	return 0;
}

static int vhost_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		     uint64_t *len)
{
	struct vhost *vh = e->place;
	uint64_t uaddr = 0, covered = 0;
	int tries = 0, ret;

	if (!vh)
		return sim_eng_guest_range(e, iova, want, want, host, len);
	while ((ret = viommu_devtlb_lookup(vh->reader, iova, want, acc, &uaddr, &covered)) ==
		       VIOMMU_EAGAIN &&
	       tries++ < MAX_RETRY) {
		acct(e, e->be, SIM_EV_DEVTLB_LOOKUP, 1);
		ret = vhost_service(e);
		if (ret)
			return ret;
	}
	acct(e, e->be, SIM_EV_DEVTLB_LOOKUP, 1);
	if (ret)
		return VIOMMU_EFAULT;
	*host = (uint8_t *)(uintptr_t)uaddr;
	*len = covered < want ? covered : want;
	return 0;
}

static int vhost_unit_end(struct eng *e)
{
	struct vhost *vh = e->place;

	if (!vh)
		return 0;
	if (vh->reader)
		viommu_devtlb_reader_quiesce(vh->reader);
	return vh->push_err;
}

static bool vhost_devtlb_stats(const struct eng *e, struct viommu_devtlb_stats *s)
{
	const struct vhost *vh = e->place;

	if (!vh || !vh->tlb)
		return false;
	viommu_devtlb_get_stats(vh->tlb, s);
	return true;
}

static void vhost_fini(struct eng *e)
{
	struct vhost *vh = e->place;

	if (!vh)
		return;
	viommu_devtlb_detach_model(vh->src);
	viommu_devtlb_reader_destroy(vh->reader);
	viommu_devtlb_destroy(vh->tlb);
	free(vh);
	e->place = NULL;
}

const struct sim_place_ops sim_place_vhost = {
	.name = "vhost",
	.backend = SIM_RES_BACKEND,
	.kick_exits = true,
	.irq = SIM_EV_IRQ_EXIT,
	.backend_work = true,
	.backend_syscall = false,
	.setup = vhost_setup,
	.fini = vhost_fini,
	.dma = vhost_dma,
	.unit_end = vhost_unit_end,
	.devtlb_stats = vhost_devtlb_stats,
};
