// SPDX-License-Identifier: MIT
/*
 * Guest virtio-iommu driver model. Layout of the arena it owns (guest-physical, in order):
 * request queue, event queue (descriptor table, available ring, used ring each), request slots
 * (one buffer per request in flight, readable part then writable part, plus an indirect table),
 * the PROBE buffer, the event buffers.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>

#include "virtio_iommu_driver.h"

/*
 * Layouts and values are the virtio specification's (<viommu/spec/virtio.h>, sections 2.7, and
 * <viommu/spec/virtio_iommu.h>, 5.13); guest memory is written byte by byte, little-endian, at
 * the offsets of those structures.
 */
#define DESC_SIZE sizeof(struct viommu_virtio_virtq_desc)
#define USED_ELEM_SIZE sizeof(struct viommu_virtio_virtq_used_elem)
#define TAIL_SIZE sizeof(struct viommu_virtio_iommu_req_tail)
#define FAULT_SIZE sizeof(struct viommu_virtio_iommu_fault)
#define PROBE_HEAD_SIZE sizeof(struct viommu_virtio_iommu_req_probe)
/* The device-readable part of a request: the structure without its tail. */
#define REQ_RO_SIZE(type) (sizeof(struct viommu_virtio_iommu_req_##type) - TAIL_SIZE)
#define REQ_OFF(type, field) offsetof(struct viommu_virtio_iommu_req_##type, field)
#define PROP_HEAD_SIZE sizeof(struct viommu_virtio_iommu_probe_property)
#define PROP_OFF(type, field) offsetof(struct viommu_virtio_iommu_probe_##type, field)
#define FAULT_OFF(field) offsetof(struct viommu_virtio_iommu_fault, field)

#define SLOT_SIZE 256u
#define SLOT_TABLE 192u /* indirect table (two descriptors) inside a slot */

struct dq {
	uint16_t size;
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t avail_idx;
	uint16_t last_used;
};

struct slot {
	bool busy;
	uint64_t buf;
	uint32_t len;
};

struct vg_vio {
	struct viommu *dev;
	struct viommu_flatmem *fm;
	struct vg_vio_config cfg;
	uint64_t features;
	uint64_t page_size_mask;
	uint32_t probe_size;
	bool indirect;
	bool event_idx;
	struct dq rq;
	struct dq eq;
	uint64_t slots_gpa;
	uint32_t nslots;
	struct slot *slots;
	uint16_t *free_slots;
	uint32_t nfree;
	uint32_t pending;
	uint64_t probe_gpa;
	uint64_t events_gpa;
	unsigned int deferred;
	int first_error;
	struct vg_vio_stats st;
};

static uint8_t *gp(struct vg_vio *drv, uint64_t gpa, size_t len)
{
	return viommu_flatmem_ptr(drv->fm, gpa, len);
}

/* Little-endian stores and loads into guest memory the driver owns (checked at creation). */
static void st16(struct vg_vio *drv, uint64_t gpa, uint16_t v)
{
	uint8_t *p = gp(drv, gpa, 2);

	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void st32(struct vg_vio *drv, uint64_t gpa, uint32_t v)
{
	uint8_t *p = gp(drv, gpa, 4);

	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void st64(struct vg_vio *drv, uint64_t gpa, uint64_t v)
{
	uint8_t *p = gp(drv, gpa, 8);

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t ld16(struct vg_vio *drv, uint64_t gpa)
{
	const uint8_t *p = gp(drv, gpa, 2);

	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t ld32(struct vg_vio *drv, uint64_t gpa)
{
	const uint8_t *p = gp(drv, gpa, 4);

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ld64(struct vg_vio *drv, uint64_t gpa)
{
	return ld32(drv, gpa) | (uint64_t)ld32(drv, gpa + 4) << 32;
}

static void set_desc(struct vg_vio *drv, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint64_t d = table + DESC_SIZE * i;

	st64(drv, d + offsetof(struct viommu_virtio_virtq_desc, addr), addr);
	st32(drv, d + offsetof(struct viommu_virtio_virtq_desc, len), len);
	st16(drv, d + offsetof(struct viommu_virtio_virtq_desc, flags), flags);
	st16(drv, d + offsetof(struct viommu_virtio_virtq_desc, next), next);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Carve a queue out of the arena at *@at (2.7 alignment). */
static void layout_queue(struct dq *q, uint16_t size, uint64_t *at)
{
	q->size = size;
	q->desc = align_up(*at, VIOMMU_VIRTIO_VIRTQ_DESC_ALIGN);
	q->avail = q->desc + DESC_SIZE * size;
	q->used = align_up(q->avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_SIZE(size),
			   VIOMMU_VIRTIO_VIRTQ_USED_ALIGN);
	*at = q->used + VIOMMU_VIRTIO_VIRTQ_USED_SIZE(size);
	q->avail_idx = 0;
	q->last_used = 0;
}

static int enable_queue(struct vg_vio *drv, unsigned int idx, const struct dq *q)
{
	struct viommu_virtio_queue vq = {
		.size = q->size, .desc = q->desc, .avail = q->avail, .used = q->used
	};

	return viommu_virtio_iommu_queue_enable(drv->dev, idx, &vq);
}

static void kick_events(struct vg_vio *drv)
{
	drv->st.event_kicks++;
	viommu_virtio_iommu_queue_notify(drv->dev, VIOMMU_VIRTIO_IOMMU_EVENTQ);
}

static int setup(struct vg_vio *drv)
{
	uint64_t offered, cfgval, at = drv->cfg.arena;
	uint16_t qmax;
	uint8_t status;
	int ret;

	/* 3.1.1 Driver Requirements: Device Initialization. */
	viommu_virtio_iommu_set_status(drv->dev, 0);
	viommu_virtio_iommu_set_status(drv->dev, VIOMMU_VIRTIO_S_ACKNOWLEDGE);
	viommu_virtio_iommu_set_status(drv->dev,
				       VIOMMU_VIRTIO_S_ACKNOWLEDGE | VIOMMU_VIRTIO_S_DRIVER);
	viommu_virtio_iommu_get_device_features(drv->dev, &offered);
	drv->features = offered & (drv->cfg.features ? drv->cfg.features : ~0ull);
	drv->features |= offered & VIOMMU_VIRTIO_F_VERSION_1;
	viommu_virtio_iommu_set_driver_features(drv->dev, drv->features);
	viommu_virtio_iommu_set_status(drv->dev, VIOMMU_VIRTIO_S_ACKNOWLEDGE |
							 VIOMMU_VIRTIO_S_DRIVER |
							 VIOMMU_VIRTIO_S_FEATURES_OK);
	viommu_virtio_iommu_get_status(drv->dev, &status);
	if (!(status & VIOMMU_VIRTIO_S_FEATURES_OK))
		return VIOMMU_ENOTSUP;
	/* Linux refuses a device without MAP_UNMAP. */
	if (!(drv->features & VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIOMMU_ENOTSUP;
	viommu_virtio_iommu_config_read(
		drv->dev, offsetof(struct viommu_virtio_iommu_config_layout, page_size_mask), 8,
		&drv->page_size_mask);
	if (drv->features & VIOMMU_VIRTIO_IOMMU_F_PROBE) {
		viommu_virtio_iommu_config_read(
			drv->dev, offsetof(struct viommu_virtio_iommu_config_layout, probe_size), 4,
			&cfgval);
		drv->probe_size = (uint32_t)cfgval;
	}
	drv->indirect = (drv->features & VIOMMU_VIRTIO_F_INDIRECT_DESC) && !drv->cfg.no_indirect;
	drv->event_idx = drv->features & VIOMMU_VIRTIO_F_EVENT_IDX;

	viommu_virtio_iommu_queue_max_size(drv->dev, VIOMMU_VIRTIO_IOMMU_REQUESTQ, &qmax);
	if (drv->cfg.queue_size && drv->cfg.queue_size < qmax)
		qmax = drv->cfg.queue_size;
	if (qmax < 2)
		return VIOMMU_EINVAL;
	layout_queue(&drv->rq, qmax, &at);
	layout_queue(&drv->eq, qmax, &at);
	drv->nslots = drv->indirect ? qmax : qmax / 2u;
	drv->slots_gpa = align_up(at, 64);
	at = drv->slots_gpa + (uint64_t)drv->nslots * SLOT_SIZE;
	drv->probe_gpa = at;
	at += PROBE_HEAD_SIZE + drv->probe_size + TAIL_SIZE;
	drv->events_gpa = align_up(at, 8);
	at = drv->events_gpa + (uint64_t)qmax * FAULT_SIZE;
	if (at - drv->cfg.arena > drv->cfg.arena_size ||
	    !gp(drv, drv->cfg.arena, at - drv->cfg.arena))
		return VIOMMU_ENOSPC;
	memset(gp(drv, drv->cfg.arena, at - drv->cfg.arena), 0, at - drv->cfg.arena);

	drv->slots = calloc(drv->nslots, sizeof(*drv->slots));
	drv->free_slots = calloc(drv->nslots, sizeof(*drv->free_slots));
	if (!drv->slots || !drv->free_slots)
		return VIOMMU_ENOMEM;
	for (uint32_t i = 0; i < drv->nslots; i++)
		drv->free_slots[i] = (uint16_t)(drv->nslots - 1 - i);
	drv->nfree = drv->nslots;

	ret = enable_queue(drv, VIOMMU_VIRTIO_IOMMU_REQUESTQ, &drv->rq);
	if (!ret)
		ret = enable_queue(drv, VIOMMU_VIRTIO_IOMMU_EVENTQ, &drv->eq);
	if (ret)
		return ret;
	/* The request queue has no callback: Linux asks for no interrupts (2.7.7). */
	if (!drv->event_idx)
		st16(drv, drv->rq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF,
		     VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
	viommu_virtio_iommu_set_status(
		drv->dev, VIOMMU_VIRTIO_S_ACKNOWLEDGE | VIOMMU_VIRTIO_S_DRIVER |
				  VIOMMU_VIRTIO_S_FEATURES_OK | VIOMMU_VIRTIO_S_DRIVER_OK);
	/* Fill the event queue with device-writable buffers. */
	for (uint16_t i = 0; i < drv->eq.size; i++) {
		set_desc(drv, drv->eq.desc, i, drv->events_gpa + (uint64_t)i * FAULT_SIZE,
			 FAULT_SIZE, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		st16(drv, drv->eq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF + 2u * i, i);
	}
	drv->eq.avail_idx = drv->eq.size;
	st16(drv, drv->eq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, drv->eq.avail_idx);
	kick_events(drv);
	return 0;
}

int vg_vio_create(struct viommu *dev, struct viommu_flatmem *fm, const struct vg_vio_config *cfg,
		  struct vg_vio **out)
{
	struct vg_vio *drv;
	int ret;

	if (!dev || !fm || !cfg || !out)
		return VIOMMU_EINVAL;
	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return VIOMMU_ENOMEM;
	drv->dev = dev;
	drv->fm = fm;
	drv->cfg = *cfg;
	if (!drv->cfg.flush_threshold)
		drv->cfg.flush_threshold = 256;
	ret = setup(drv);
	if (ret) {
		vg_vio_destroy(drv);
		return ret;
	}
	*out = drv;
	return 0;
}

void vg_vio_destroy(struct vg_vio *drv)
{
	if (!drv)
		return;
	free(drv->slots);
	free(drv->free_slots);
	free(drv);
}

uint64_t vg_vio_features(const struct vg_vio *drv)
{
	return drv->features;
}

uint64_t vg_vio_page_size_mask(const struct vg_vio *drv)
{
	return drv->page_size_mask;
}

/* Collect every completed request; returns the first failure seen. */
static int reap(struct vg_vio *drv)
{
	uint16_t used_idx = ld16(drv, drv->rq.used + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF);
	int err = 0;

	while (drv->rq.last_used != used_idx) {
		uint64_t e = drv->rq.used + VIOMMU_VIRTIO_VIRTQ_USED_RING_OFF +
			     USED_ELEM_SIZE * (drv->rq.last_used % drv->rq.size);
		uint32_t id = ld32(drv, e + offsetof(struct viommu_virtio_virtq_used_elem, id));
		uint32_t len = ld32(drv, e + offsetof(struct viommu_virtio_virtq_used_elem, len));
		uint32_t s = drv->indirect ? id : id / 2;
		struct slot *sl;
		uint8_t status;

		drv->rq.last_used++;
		if (s >= drv->nslots || !drv->slots[s].busy)
			return VIOMMU_EIO; /* a device returning buffers it never got */
		sl = &drv->slots[s];
		/* Used length 0: the request failed without a status (5.13.6.1). */
		status = *gp(drv, sl->buf + sl->len - TAIL_SIZE, 1);
		if (!len && !err)
			err = VIOMMU_EIO;
		else if (status && !err)
			err = status;
		if (!len || status)
			drv->st.failed++;
		sl->busy = false;
		drv->free_slots[drv->nfree++] = (uint16_t)s;
		drv->pending--;
	}
	return err;
}

/* Kick and wait for everything in flight (the device completes requests inside the kick). */
static int sync_req(struct vg_vio *drv)
{
	int ret;

	if (!drv->pending)
		return 0;
	drv->st.syncs++;
	drv->st.kicks++;
	viommu_virtio_iommu_queue_notify(drv->dev, VIOMMU_VIRTIO_IOMMU_REQUESTQ);
	ret = reap(drv);
	if (drv->pending) {
		/* A broken device: give every slot back, the requests are lost. */
		for (uint32_t i = 0; i < drv->nslots; i++) {
			if (drv->slots[i].busy) {
				drv->slots[i].busy = false;
				drv->free_slots[drv->nfree++] = (uint16_t)i;
			}
		}
		drv->pending = 0;
		if (!ret)
			ret = VIOMMU_EIO;
	}
	return ret;
}

/*
 * Add one request whose buffer holds @wo device-readable bytes then @len - @wo device-writable
 * bytes. @req (wo bytes) is copied into the slot buffer unless @buf is given.
 */
static int add_req(struct vg_vio *drv, const uint8_t *req, uint32_t wo, uint32_t len, uint64_t buf)
{
	uint32_t s;
	uint16_t head;
	int ret = 0;

	if (!drv->nfree) {
		/* The queue is full: sync and retry, as Linux's __viommu_add_req() caller does. */
		drv->st.queue_full++;
		ret = sync_req(drv);
		if (ret && !drv->first_error)
			drv->first_error = ret;
		if (!drv->nfree)
			return VIOMMU_EIO;
	}
	s = drv->free_slots[--drv->nfree];
	if (!buf)
		buf = drv->slots_gpa + (uint64_t)s * SLOT_SIZE;
	memcpy(gp(drv, buf, wo), req, wo);
	memset(gp(drv, buf + wo, len - wo), 0, len - wo);
	drv->slots[s].busy = true;
	drv->slots[s].buf = buf;
	drv->slots[s].len = len;
	if (drv->indirect) {
		uint64_t table = drv->slots_gpa + (uint64_t)s * SLOT_SIZE + SLOT_TABLE;

		set_desc(drv, table, 0, buf, wo, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT, 1);
		set_desc(drv, table, 1, buf + wo, len - wo, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		set_desc(drv, drv->rq.desc, s, table, 2 * DESC_SIZE,
			 VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT, 0);
		head = (uint16_t)s;
	} else {
		set_desc(drv, drv->rq.desc, 2 * s, buf, wo, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT,
			 (uint16_t)(2 * s + 1));
		set_desc(drv, drv->rq.desc, 2 * s + 1, buf + wo, len - wo,
			 VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		head = (uint16_t)(2 * s);
	}
	st16(drv,
	     drv->rq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF +
		     2u * (drv->rq.avail_idx % drv->rq.size),
	     head);
	drv->rq.avail_idx++;
	st16(drv, drv->rq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, drv->rq.avail_idx);
	drv->pending++;
	drv->st.requests++;
	return 0;
}

int vg_vio_sync(struct vg_vio *drv)
{
	int ret = sync_req(drv), first = drv->first_error;

	drv->first_error = 0;
	drv->deferred = 0;
	return first ? first : ret;
}

/*
 * Send one request and wait for it (Linux viommu_send_req_sync()): add it behind whatever is
 * queued (lazy UNMAPs, batched MAPs) and sync once, so one kick completes them all.
 */
static int send_sync(struct vg_vio *drv, const uint8_t *req, uint32_t wo, uint32_t len,
		     uint64_t buf)
{
	int ret = add_req(drv, req, wo, len, buf);

	return ret ? ret : vg_vio_sync(drv);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int vg_vio_attach(struct vg_vio *drv, uint32_t domain, uint32_t ep, uint32_t flags)
{
	uint8_t r[REQ_RO_SIZE(attach)] = { VIOMMU_VIRTIO_IOMMU_T_ATTACH };

	put32(r + REQ_OFF(attach, domain), domain);
	put32(r + REQ_OFF(attach, endpoint), ep);
	put32(r + REQ_OFF(attach, flags), flags);
	return send_sync(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
}

int vg_vio_detach(struct vg_vio *drv, uint32_t domain, uint32_t ep)
{
	uint8_t r[REQ_RO_SIZE(detach)] = { VIOMMU_VIRTIO_IOMMU_T_DETACH };

	put32(r + REQ_OFF(detach, domain), domain);
	put32(r + REQ_OFF(detach, endpoint), ep);
	return send_sync(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
}

static void build_map(uint8_t *r, uint32_t domain, uint64_t vs, uint64_t ve, uint64_t phys,
		      uint32_t flags)
{
	memset(r, 0, REQ_RO_SIZE(map));
	r[0] = VIOMMU_VIRTIO_IOMMU_T_MAP;
	put32(r + REQ_OFF(map, domain), domain);
	put64(r + REQ_OFF(map, virt_start), vs);
	put64(r + REQ_OFF(map, virt_end), ve);
	put64(r + REQ_OFF(map, phys_start), phys);
	put32(r + REQ_OFF(map, flags), flags);
}

static void build_unmap(uint8_t *r, uint32_t domain, uint64_t vs, uint64_t ve)
{
	memset(r, 0, REQ_RO_SIZE(unmap));
	r[0] = VIOMMU_VIRTIO_IOMMU_T_UNMAP;
	put32(r + REQ_OFF(unmap, domain), domain);
	put64(r + REQ_OFF(unmap, virt_start), vs);
	put64(r + REQ_OFF(unmap, virt_end), ve);
}

int vg_vio_map(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end,
	       uint64_t phys, uint32_t flags)
{
	uint8_t r[REQ_RO_SIZE(map)];

	build_map(r, domain, virt_start, virt_end, phys, flags);
	return send_sync(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
}

int vg_vio_unmap(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end)
{
	uint8_t r[REQ_RO_SIZE(unmap)];

	build_unmap(r, domain, virt_start, virt_end);
	return send_sync(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
}

int vg_vio_map_queue(struct vg_vio *drv, uint32_t domain, uint64_t virt_start, uint64_t virt_end,
		     uint64_t phys, uint32_t flags)
{
	uint8_t r[REQ_RO_SIZE(map)];

	build_map(r, domain, virt_start, virt_end, phys, flags);
	return add_req(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
}

int vg_vio_unmap_deferred(struct vg_vio *drv, uint32_t domain, uint64_t virt_start,
			  uint64_t virt_end)
{
	uint8_t r[REQ_RO_SIZE(unmap)];
	int ret;

	build_unmap(r, domain, virt_start, virt_end);
	ret = add_req(drv, r, sizeof(r), sizeof(r) + TAIL_SIZE, 0);
	if (ret)
		return ret;
	/* The flush queue is full: flush_iotlb_all, one kick for all of them. */
	if (++drv->deferred >= drv->cfg.flush_threshold)
		return vg_vio_sync(drv);
	return 0;
}

int vg_vio_probe(struct vg_vio *drv, uint32_t ep, struct vg_vio_resv *out, unsigned int max,
		 unsigned int *n)
{
	uint8_t r[PROBE_HEAD_SIZE] = { VIOMMU_VIRTIO_IOMMU_T_PROBE };
	uint64_t props = drv->probe_gpa + PROBE_HEAD_SIZE;
	uint32_t off = 0;
	int ret;

	*n = 0;
	if (!(drv->features & VIOMMU_VIRTIO_IOMMU_F_PROBE))
		return VIOMMU_ENOTSUP;
	put32(r + REQ_OFF(probe, endpoint), ep);
	ret = send_sync(drv, r, sizeof(r), PROBE_HEAD_SIZE + drv->probe_size + TAIL_SIZE,
			drv->probe_gpa);
	if (ret)
		return ret;
	/* Parse until an empty property or the end (5.13.6.7), skipping unknown types. */
	while (off + PROP_HEAD_SIZE <= drv->probe_size) {
		uint16_t type = ld16(drv, props + off + PROP_OFF(property, type));
		uint16_t plen = ld16(drv, props + off + PROP_OFF(property, length));

		if ((type & VIOMMU_VIRTIO_IOMMU_PROBE_T_MASK) == VIOMMU_VIRTIO_IOMMU_PROBE_T_NONE)
			break;
		if (off + PROP_HEAD_SIZE + plen > drv->probe_size)
			return VIOMMU_EIO;
		if (type == VIOMMU_VIRTIO_IOMMU_PROBE_T_RESV_MEM &&
		    plen >= sizeof(struct viommu_virtio_iommu_probe_resv_mem) - PROP_HEAD_SIZE &&
		    *n < max) {
			out[*n].subtype = *gp(drv, props + off + PROP_OFF(resv_mem, subtype), 1);
			out[*n].start = ld64(drv, props + off + PROP_OFF(resv_mem, start));
			out[*n].end = ld64(drv, props + off + PROP_OFF(resv_mem, end));
			(*n)++;
		}
		off += PROP_HEAD_SIZE + plen;
	}
	return 0;
}

unsigned int vg_vio_poll_events(struct vg_vio *drv, struct vg_vio_fault *out, unsigned int max)
{
	uint16_t used_idx = ld16(drv, drv->eq.used + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF);
	unsigned int n = 0;
	bool refilled = false;

	while (drv->eq.last_used != used_idx && n < max) {
		uint64_t e = drv->eq.used + VIOMMU_VIRTIO_VIRTQ_USED_RING_OFF +
			     USED_ELEM_SIZE * (drv->eq.last_used % drv->eq.size);
		uint32_t id = ld32(drv, e + offsetof(struct viommu_virtio_virtq_used_elem, id));
		uint32_t len = ld32(drv, e + offsetof(struct viommu_virtio_virtq_used_elem, len));

		drv->eq.last_used++;
		if (id >= drv->eq.size)
			break;
		if (len >= FAULT_SIZE) {
			uint64_t b = drv->events_gpa + (uint64_t)id * FAULT_SIZE;

			out[n].reason = *gp(drv, b + FAULT_OFF(reason), 1);
			out[n].flags = ld32(drv, b + FAULT_OFF(flags));
			out[n].endpoint = ld32(drv, b + FAULT_OFF(endpoint));
			out[n].address = ld64(drv, b + FAULT_OFF(address));
			n++;
			drv->st.events++;
		}
		/* Give the buffer back. */
		st16(drv,
		     drv->eq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF +
			     2u * (drv->eq.avail_idx % drv->eq.size),
		     (uint16_t)id);
		drv->eq.avail_idx++;
		refilled = true;
	}
	if (refilled) {
		st16(drv, drv->eq.avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, drv->eq.avail_idx);
		if (drv->event_idx)
			st16(drv, drv->eq.avail + VIOMMU_VIRTIO_VIRTQ_USED_EVENT_OFF(drv->eq.size),
			     drv->eq.last_used);
		kick_events(drv);
	}
	return n;
}

void vg_vio_get_stats(const struct vg_vio *drv, struct vg_vio_stats *st)
{
	*st = drv->st;
}
