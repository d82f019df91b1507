/* SPDX-License-Identifier: MIT */
/*
 * A guest virtio-iommu driver that behaves like Linux's drivers/iommu/virtio-iommu.c, for the
 * simulator and the tests. It lives in guest memory (a flat-memory arena it owns), negotiates
 * features, sets up the request and event queues, and sends requests through the device's real
 * virtqueues. Every kick is a call to viommu_virtio_iommu_queue_notify() and is counted: in the
 * simulator's cost model each one is a VM exit.
 *
 * Strategies, as Linux's IOMMU layer uses them:
 *  - strict: vg_vio_map()/vg_vio_unmap() send one request and kick once each;
 *  - batched map (iotlb_sync_map): vg_vio_map_queue() adds requests without kicking, and
 *    vg_vio_sync() kicks once and waits for all of them;
 *  - deferred unmap (lazy flush queue): vg_vio_unmap_deferred() adds UNMAP requests without
 *    kicking and flushes (one kick) every `flush_threshold` of them, or at vg_vio_sync().
 * A full request queue is synchronised and the request retried, as Linux does.
 *
 * Links against the public libviommu API only.
 */
#ifndef VIOMMU_GUEST_VIRTIO_IOMMU_DRIVER_H
#define VIOMMU_GUEST_VIRTIO_IOMMU_DRIVER_H

#include <viommu/flatmem.h>
#include <viommu/virtio_iommu.h>

struct vg_vio_config {
	uint64_t arena; /* guest-physical base of the memory the driver owns */
	uint64_t arena_size;
	uint16_t queue_size; /* 0: the device's maximum */
	uint64_t features;   /* features the driver knows; 0: everything the device offers */
	bool no_indirect;    /* do not use indirect descriptors even when negotiated */
	unsigned int flush_threshold; /* deferred unmaps per flush; 0: 256 (Linux IOVA_FQ_SIZE) */
};

struct vg_vio_stats {
	uint64_t kicks;	      /* request-queue notifications (VM exits) */
	uint64_t event_kicks; /* event-queue notifications after refilling buffers */
	uint64_t requests;    /* requests sent */
	uint64_t syncs;	      /* waits for completion */
	uint64_t queue_full;  /* times a full queue forced a sync */
	uint64_t failed;      /* requests that completed with a status other than OK */
	uint64_t events;      /* fault reports read */
};

/* A fault report as read from the event queue (section 5.13.6.9). */
struct vg_vio_fault {
	uint8_t reason;
	uint32_t flags;
	uint32_t endpoint;
	uint64_t address;
};

/* A RESV_MEM property as read back from PROBE. */
struct vg_vio_resv {
	uint8_t subtype;
	uint64_t start;
	uint64_t end;
};

struct vg_vio;

/* Initialise the device as the driver would (status, features, queues, DRIVER_OK). */
int vg_vio_create(struct viommu *dev, struct viommu_flatmem *fm, const struct vg_vio_config *cfg,
		  struct vg_vio **out);
void vg_vio_destroy(struct vg_vio *drv);

uint64_t vg_vio_features(const struct vg_vio *drv);
uint64_t vg_vio_page_size_mask(const struct vg_vio *drv);

/*
 * Synchronous requests: return the VIRTIO_IOMMU_S_* status (0 is OK) or a negative VIOMMU_E*
 * code when the device returned the buffer unwritten or never completed it.
 */
int vg_vio_attach(struct vg_vio *drv, uint32_t domain, uint32_t ep, uint32_t flags);
int vg_vio_detach(struct vg_vio *drv, uint32_t domain, uint32_t ep);
int vg_vio_map(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end,
	       uint64_t phys, uint32_t flags);
int vg_vio_unmap(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end);
/* PROBE: fills up to @max RESV_MEM properties into @out, their number into @n. */
int vg_vio_probe(struct vg_vio *drv, uint32_t ep, struct vg_vio_resv *out, unsigned int max,
		 unsigned int *n);

/* Queued requests, completed by vg_vio_sync(). */
int vg_vio_map_queue(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end,
		     uint64_t phys, uint32_t flags);
int vg_vio_unmap_deferred(struct vg_vio *drv, uint32_t domain, uint64_t virt_start,
			  uint64_t virt_end);
/* Kick once (if anything is queued) and wait: 0 when every request completed OK, else the first
 * failing status or error. */
int vg_vio_sync(struct vg_vio *drv);

/* Read fault reports from the event queue and give the buffers back; returns how many (<= max). */
unsigned int vg_vio_poll_events(struct vg_vio *drv, struct vg_vio_fault *out, unsigned int max);

void vg_vio_get_stats(const struct vg_vio *drv, struct vg_vio_stats *st);

#endif /* VIOMMU_GUEST_VIRTIO_IOMMU_DRIVER_H */
