// SPDX-License-Identifier: MIT
/*
 * virtio-iommu device (VIRTIO 1.2/1.3 section 5.13): lifecycle, feature negotiation, status,
 * configuration space, queues and interrupts, endpoints and domains, DMA translation, fault
 * reporting on the event queue, and MAP/UNMAP notifications to consumers.
 */
#include <stdlib.h>

#include "models/virtio_iommu/vio_internal.h"

#define SUPPORTED_FEATURES                                                        \
	(VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE | VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE | \
	 VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP | VIOMMU_VIRTIO_IOMMU_F_BYPASS |         \
	 VIOMMU_VIRTIO_IOMMU_F_PROBE | VIOMMU_VIRTIO_IOMMU_F_MMIO |               \
	 VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG | VIOMMU_VIRTIO_F_INDIRECT_DESC |    \
	 VIOMMU_VIRTIO_F_EVENT_IDX | VIOMMU_VIRTIO_F_VERSION_1)

static const struct viommu_model_ops vio_ops;

static struct vio_dev *get_dev(struct viommu *v)
{
	return v && v->ops == &vio_ops ? to_vio(v) : NULL;
}

/* get_dev() for the calls that only read. */
static const struct vio_dev *get_cdev(const struct viommu *v)
{
	return v && v->ops == &vio_ops ? vi_container_of(v, const struct vio_dev, v) : NULL;
}

/* ---- interrupts -------------------------------------------------------------------------- */

void vi_vio_interrupt(struct vio_dev *d, unsigned int vector)
{
	const struct vio_msi *msi = &d->msi[vector];

	if (vector == VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR)
		d->st.config_notifications++;
	else
		d->st.used_notifications++;
	if (d->cfg.interrupt) {
		d->cfg.interrupt(d->cfg.interrupt_opaque, vector);
	} else if (msi->enable) {
		vi_msi(&d->v.host, msi->addr, msi->data);
	} else {
		d->isr |= vector == VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR ? VIOMMU_VIRTIO_ISR_CONFIG :
									VIOMMU_VIRTIO_ISR_QUEUE;
		vi_irq(&d->v.host, d->cfg.irq_line, true);
	}
}

/* 2.1.2: a device that cannot go on sets DEVICE_NEEDS_RESET and tells a running driver. */
void vi_vio_needs_reset(struct vio_dev *d)
{
	if (d->status & VIOMMU_VIRTIO_S_NEEDS_RESET)
		return;
	d->status |= VIOMMU_VIRTIO_S_NEEDS_RESET;
	d->st.needs_reset++;
	if (d->status & VIOMMU_VIRTIO_S_DRIVER_OK)
		vi_vio_interrupt(d, VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR);
}

/* ---- endpoints and domains --------------------------------------------------------------- */

/* Binary searches over the id-sorted endpoint and domain arrays: the first index with id >= @id. */
static size_t ep_index(const struct vio_dev *d, uint32_t id)
{
	size_t lo = 0, hi = d->nr_eps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->eps[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t dom_index(const struct vio_dev *d, uint32_t id)
{
	size_t lo = 0, hi = d->nr_doms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->doms[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vio_ep *vi_vio_ep_find(struct vio_dev *d, uint32_t id)
{
	size_t i = ep_index(d, id);

	return i < d->nr_eps && d->eps[i]->id == id ? d->eps[i] : NULL;
}

struct vio_domain *vi_vio_domain_find(struct vio_dev *d, uint32_t id)
{
	size_t i = dom_index(d, id);

	return i < d->nr_doms && d->doms[i]->id == id ? d->doms[i] : NULL;
}

/* Make room for one more pointer in a growing array. */
static int grow(void ***arr, size_t n, size_t *cap)
{
	void **a;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	a = realloc(*arr, c * sizeof(*a));
	if (!a)
		return VIOMMU_ENOMEM;
	*arr = a;
	*cap = c;
	return 0;
}

struct vio_domain *vi_vio_domain_create(struct vio_dev *d, uint32_t id, bool bypass)
{
	size_t i = dom_index(d, id);
	struct vio_domain *dom;

	if (d->nr_doms >= d->cfg.max_domains || grow((void ***)&d->doms, d->nr_doms, &d->cap_doms))
		return NULL;
	dom = calloc(1, sizeof(*dom));
	if (!dom)
		return NULL;
	dom->id = id;
	dom->bypass = bypass;
	memmove(&d->doms[i + 1], &d->doms[i], (d->nr_doms - i) * sizeof(*d->doms));
	d->doms[i] = dom;
	d->nr_doms++;
	d->st.domains++;
	return dom;
}

/* 5.13.6.4: a domain without endpoints ceases to exist, with its mappings. */
static void domain_destroy(struct vio_dev *d, struct vio_domain *dom)
{
	size_t i = dom_index(d, dom->id);

	vi_vio_map_clear(&dom->maps);
	d->st.mappings -= dom->nr_maps;
	memmove(&d->doms[i], &d->doms[i + 1], (d->nr_doms - i - 1) * sizeof(*d->doms));
	d->nr_doms--;
	d->st.domains--;
	free(dom);
}

/* An endpoint not attached to any domain is in bypass mode when (5.13.6 "bypass mode") ... */
static bool unattached_bypass(const struct vio_dev *d)
{
	/* ... BYPASS_CONFIG is offered and config.bypass is 1, negotiated or not, or ... */
	if ((d->dev_features & VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG) && d->bypass)
		return true;
	/* ... the superseded F_BYPASS was negotiated. */
	return vio_has(d, VIOMMU_VIRTIO_IOMMU_F_BYPASS);
}

static void send_event(struct vio_dev *d, struct viommu_notifier *only, uint32_t sid,
		       enum viommu_event_type type, uint64_t iova, uint64_t last, uint64_t out,
		       uint32_t perm)
{
	struct viommu_event ev = { .type = type, .sid = sid, .iova = iova, .last = last };

	if (type == VIOMMU_EV_MAP) {
		ev.out = out;
		ev.perm = perm;
	}
	d->st.notifier_events++;
	if (only)
		vi_notifier_send_one(only, &ev);
	else
		vi_notify(&d->v, &ev);
}

static uint32_t map_perm(uint32_t flags)
{
	return (flags & VIOMMU_VIRTIO_IOMMU_MAP_F_READ ? VIOMMU_ACC_READ : 0) |
	       (flags & VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE ? VIOMMU_ACC_WRITE : 0);
}

void vi_vio_notify_map(struct vio_dev *d, struct vio_domain *dom, const struct vio_map *m,
		       enum viommu_event_type type)
{
	if (!vi_notify_wanted(&d->v, type))
		return;
	for (struct vio_ep *ep = dom->eps; ep; ep = ep->dom_next)
		send_event(d, NULL, ep->id, type, m->start, m->end, m->phys, map_perm(m->flags));
}

struct walk_ctx {
	struct vio_dev *d;
	struct viommu_notifier *only;
	uint32_t sid;
	enum viommu_event_type type;
};

static void walk_send(void *arg, const struct vio_map *m)
{
	struct walk_ctx *c = arg;

	send_event(c->d, c->only, c->sid, c->type, m->start, m->end, m->phys, map_perm(m->flags));
}

/* Tell consumers what @ep can reach now, as MAP events, or that it is gone, as UNMAP events. */
static void notify_ep_state(struct vio_dev *d, struct vio_ep *ep, enum viommu_event_type type,
			    struct viommu_notifier *only)
{
	struct walk_ctx c = { d, only, ep->id, type };

	if (!only && !vi_notify_wanted(&d->v, type))
		return;
	if (ep->dom && !ep->dom->bypass)
		vi_vio_map_walk(&ep->dom->maps, walk_send, &c);
	else if ((ep->dom && ep->dom->bypass) || (!ep->dom && unattached_bypass(d)))
		send_event(d, only, ep->id, type, 0, UINT64_MAX, 0, VIOMMU_ACC_RW);
}

static void unlink_ep(struct vio_dev *d, struct vio_ep *ep)
{
	struct vio_domain *dom = ep->dom;

	if (ep->dom_prev)
		ep->dom_prev->dom_next = ep->dom_next;
	else
		dom->eps = ep->dom_next;
	if (ep->dom_next)
		ep->dom_next->dom_prev = ep->dom_prev;
	ep->dom = NULL;
	ep->dom_next = ep->dom_prev = NULL;
	if (--dom->nr_eps == 0)
		domain_destroy(d, dom);
}

void vi_vio_ep_detach(struct vio_dev *d, struct vio_ep *ep)
{
	notify_ep_state(d, ep, VIOMMU_EV_UNMAP, NULL);
	unlink_ep(d, ep);
	notify_ep_state(d, ep, VIOMMU_EV_MAP, NULL);
}

/* Attach @ep to @dom, detaching it from its previous domain first (5.13.6.3). */
int vi_vio_ep_attach(struct vio_dev *d, struct vio_ep *ep, struct vio_domain *dom)
{
	notify_ep_state(d, ep, VIOMMU_EV_UNMAP, NULL);
	if (ep->dom)
		unlink_ep(d, ep);
	ep->dom = dom;
	ep->dom_prev = NULL;
	ep->dom_next = dom->eps;
	if (dom->eps)
		dom->eps->dom_prev = ep;
	dom->eps = ep;
	dom->nr_eps++;
	notify_ep_state(d, ep, VIOMMU_EV_MAP, NULL);
	return 0;
}

/* ---- public: creation and endpoints ------------------------------------------------------ */

void viommu_virtio_iommu_config_init(struct viommu_virtio_iommu_config *cfg)
{
	if (!cfg)
		return;
	/* What apply_defaults() makes of a zero field, so both configurations create one device. */
	*cfg = (struct viommu_virtio_iommu_config){
		.page_size_mask = (1ull << 12) | (1ull << 21) | (1ull << 30),
		.input_end = (1ull << 48) - 1,
		.domain_end = UINT32_MAX,
		.probe_size = 512,
		.features = SUPPORTED_FEATURES & ~VIOMMU_VIRTIO_IOMMU_F_BYPASS,
		.queue_size_max = 1024,
		.max_domains = 4096,
		.max_mappings = 1u << 20,
		.phys_end = UINT64_MAX,
	};
}

static int apply_defaults(struct viommu_virtio_iommu_config *c)
{
	if (!c->page_size_mask)
		c->page_size_mask = (1ull << 12) | (1ull << 21) | (1ull << 30);
	if (!c->input_start && !c->input_end)
		c->input_end = (1ull << 48) - 1;
	if (c->features && !(c->features & VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE)) {
		/* 5.13.6: without INPUT_RANGE, mappings span the whole 64-bit space. */
		c->input_start = 0;
		c->input_end = UINT64_MAX;
	}
	if (!c->domain_start && !c->domain_end)
		c->domain_end = UINT32_MAX;
	if (!c->probe_size)
		c->probe_size = 512;
	if (!c->features)
		c->features = SUPPORTED_FEATURES & ~VIOMMU_VIRTIO_IOMMU_F_BYPASS;
	c->features |= VIOMMU_VIRTIO_F_VERSION_1;
	if (!c->queue_size_max)
		c->queue_size_max = 1024;
	if (!c->max_domains)
		c->max_domains = 4096;
	if (!c->max_mappings)
		c->max_mappings = 1u << 20;
	if (!c->phys_end)
		c->phys_end = UINT64_MAX;
	if (c->input_start > c->input_end || c->domain_start > c->domain_end)
		return VIOMMU_EINVAL;
	if (c->features & ~SUPPORTED_FEATURES)
		return VIOMMU_ENOTSUP;
	/* 5.13.3: never offer both bypass features. */
	if ((c->features & VIOMMU_VIRTIO_IOMMU_F_BYPASS) &&
	    (c->features & VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG))
		return VIOMMU_EINVAL;
	if ((c->queue_size_max & (c->queue_size_max - 1)) ||
	    c->queue_size_max > VIOMMU_VIRTIO_VIRTQ_MAX_SIZE)
		return VIOMMU_EINVAL;
	if (c->probe_size > (1u << 20))
		return VIOMMU_EINVAL;
	return 0;
}

static int mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return vi_read(ctx, addr, buf, len);
}

static int mem_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	return vi_write(ctx, addr, buf, len);
}

int viommu_virtio_iommu_create(const struct viommu_virtio_iommu_config *cfg,
			       const struct viommu_host_ops *ops, void *opaque, struct viommu **out)
{
	struct vio_dev *d;
	int ret;

	if (!out)
		return VIOMMU_EINVAL;
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	if (cfg)
		d->cfg = *cfg;
	ret = apply_defaults(&d->cfg);
	if (!ret)
		ret = vi_instance_init(&d->v, &vio_ops, ops, opaque);
	if (ret) {
		free(d);
		return ret;
	}
	d->probe_buf = malloc(d->cfg.probe_size);
	if (!d->probe_buf) {
		free(d);
		return VIOMMU_ENOMEM;
	}
	d->granule_shift = (unsigned int)__builtin_ctzll(d->cfg.page_size_mask);
	d->dev_features = d->cfg.features;
	if (d->dev_features & VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG)
		d->bypass = d->cfg.bypass;
	for (unsigned int i = 0; i < VIOMMU_VIRTIO_IOMMU_NQUEUES; i++) {
		d->vq[i].mem.read = mem_read;
		d->vq[i].mem.write = mem_write;
		d->vq[i].mem.ctx = &d->v.host;
	}
	*out = &d->v;
	return 0;
}

int viommu_virtio_iommu_add_endpoint(struct viommu *v, uint32_t id)
{
	struct vio_dev *d = get_dev(v);
	struct vio_ep *ep;
	size_t i;

	if (!d)
		return VIOMMU_EINVAL;
	i = ep_index(d, id);
	if (i < d->nr_eps && d->eps[i]->id == id)
		return VIOMMU_EEXIST;
	if (grow((void ***)&d->eps, d->nr_eps, &d->cap_eps))
		return VIOMMU_ENOMEM;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return VIOMMU_ENOMEM;
	ep->id = id;
	memmove(&d->eps[i + 1], &d->eps[i], (d->nr_eps - i) * sizeof(*d->eps));
	d->eps[i] = ep;
	d->nr_eps++;
	/* A new endpoint may start out in bypass mode. */
	notify_ep_state(d, ep, VIOMMU_EV_MAP, NULL);
	return 0;
}

int viommu_virtio_iommu_add_resv_region(struct viommu *v, uint32_t id,
					enum viommu_virtio_iommu_resv subtype, uint64_t start,
					uint64_t end)
{
	struct vio_dev *d = get_dev(v);
	struct vio_ep *ep;

	if (!d || start > end ||
	    (subtype != VIOMMU_VIRTIO_IOMMU_RESV_RESERVED &&
	     subtype != VIOMMU_VIRTIO_IOMMU_RESV_MSI))
		return VIOMMU_EINVAL;
	ep = vi_vio_ep_find(d, id);
	if (!ep)
		return VIOMMU_ENOENT;
	if (ep->nr_resv == VIO_MAX_RESV)
		return VIOMMU_ENOSPC;
	/* 5.13.6.8.1: regions of one endpoint do not overlap, and at most one is an MSI window. */
	for (unsigned int i = 0; i < ep->nr_resv; i++) {
		if (start <= ep->resv[i].end && ep->resv[i].start <= end)
			return VIOMMU_EEXIST;
		if (subtype == VIOMMU_VIRTIO_IOMMU_RESV_MSI &&
		    ep->resv[i].subtype == VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_MSI)
			return VIOMMU_EEXIST;
	}
	ep->resv[ep->nr_resv].start = start;
	ep->resv[ep->nr_resv].end = end;
	ep->resv[ep->nr_resv].subtype = (uint8_t)subtype;
	ep->nr_resv++;
	return 0;
}

/* ---- public: features, status, reset, configuration space -------------------------------- */

int viommu_virtio_iommu_get_device_features(const struct viommu *v, uint64_t *features)
{
	const struct vio_dev *d = get_cdev(v);

	if (!d || !features)
		return VIOMMU_EINVAL;
	*features = d->dev_features;
	return 0;
}

int viommu_virtio_iommu_set_driver_features(struct viommu *v, uint64_t features)
{
	struct vio_dev *d = get_dev(v);

	if (!d)
		return VIOMMU_EINVAL;
	/* 3.1.1: features are fixed once FEATURES_OK is accepted. */
	if (d->status & VIOMMU_VIRTIO_S_FEATURES_OK)
		return VIOMMU_EBUSY;
	d->drv_features = features;
	return 0;
}

int viommu_virtio_iommu_get_driver_features(const struct viommu *v, uint64_t *features)
{
	const struct vio_dev *d = get_cdev(v);

	if (!d || !features)
		return VIOMMU_EINVAL;
	*features = d->drv_features;
	return 0;
}

int viommu_virtio_iommu_get_status(const struct viommu *v, uint8_t *status)
{
	const struct vio_dev *d = get_cdev(v);

	if (!d || !status)
		return VIOMMU_EINVAL;
	*status = d->status;
	return 0;
}

static void device_reset(struct vio_dev *d)
{
	/* Consumers lose what each endpoint could reach before the reset ... */
	for (size_t i = 0; i < d->nr_eps; i++)
		notify_ep_state(d, d->eps[i], VIOMMU_EV_UNMAP, NULL);
	/* 5.13.5: after reset, endpoints are not attached to any domain. */
	for (size_t i = 0; i < d->nr_eps; i++) {
		if (d->eps[i]->dom)
			unlink_ep(d, d->eps[i]);
	}
	d->drv_features = 0;
	d->features = 0;
	d->status = 0;
	if (d->isr && !d->cfg.interrupt)
		vi_irq(&d->v.host, d->cfg.irq_line, false);
	d->isr = 0;
	memset(d->msi, 0, sizeof(d->msi));
	for (unsigned int i = 0; i < VIOMMU_VIRTIO_IOMMU_NQUEUES; i++)
		vi_vq_reset(&d->vq[i]);
	/* ... and learn what it reaches after (bypass survives a device reset, 5.13.4). */
	for (size_t i = 0; i < d->nr_eps; i++)
		notify_ep_state(d, d->eps[i], VIOMMU_EV_MAP, NULL);
}

int viommu_virtio_iommu_reset(struct viommu *v)
{
	struct vio_dev *d = get_dev(v);

	if (!d)
		return VIOMMU_EINVAL;
	device_reset(d);
	return 0;
}

static bool features_acceptable(const struct vio_dev *d)
{
	return !(d->drv_features & ~d->dev_features) &&
	       (d->drv_features & VIOMMU_VIRTIO_F_VERSION_1);
}

/* Re-announce what unattached endpoints reach around a change of the bypass rule. */
static void bypass_change_begin(struct vio_dev *d)
{
	for (size_t i = 0; i < d->nr_eps; i++) {
		if (!d->eps[i]->dom)
			notify_ep_state(d, d->eps[i], VIOMMU_EV_UNMAP, NULL);
	}
}

static void bypass_change_end(struct vio_dev *d)
{
	for (size_t i = 0; i < d->nr_eps; i++) {
		if (!d->eps[i]->dom)
			notify_ep_state(d, d->eps[i], VIOMMU_EV_MAP, NULL);
	}
}

int viommu_virtio_iommu_set_status(struct viommu *v, uint8_t status)
{
	struct vio_dev *d = get_dev(v);

	if (!d)
		return VIOMMU_EINVAL;
	if (status == 0) {
		device_reset(d);
		return 0;
	}
	/* Only the device sets NEEDS_RESET; the driver cannot clear bits but by resetting. */
	status = (uint8_t)((status & ~VIOMMU_VIRTIO_S_NEEDS_RESET) | d->status);
	if ((status & VIOMMU_VIRTIO_S_FEATURES_OK) && !(d->status & VIOMMU_VIRTIO_S_FEATURES_OK)) {
		if (!features_acceptable(d)) {
			/* 3.1.1: the driver reads FEATURES_OK back and finds it clear. */
			status &= (uint8_t)~VIOMMU_VIRTIO_S_FEATURES_OK;
		} else if (d->drv_features & VIOMMU_VIRTIO_IOMMU_F_BYPASS) {
			/* The legacy F_BYPASS puts unattached endpoints in bypass from now on. */
			bypass_change_begin(d);
			d->features = d->drv_features;
			bypass_change_end(d);
		} else {
			d->features = d->drv_features;
		}
	}
	d->status = status;
	return 0;
}

static void config_image(const struct vio_dev *d, uint8_t *img)
{
	uint64_t v64;
	uint32_t v32;

	memset(img, 0, VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE);
	v64 = vi_le64(d->cfg.page_size_mask);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, page_size_mask), &v64, 8);
	v64 = vi_le64(d->cfg.input_start);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, input_range.start), &v64,
	       8);
	v64 = vi_le64(d->cfg.input_end);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, input_range.end), &v64, 8);
	v32 = vi_le32(d->cfg.domain_start);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, domain_range.start), &v32,
	       4);
	v32 = vi_le32(d->cfg.domain_end);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, domain_range.end), &v32, 4);
	v32 = vi_le32(d->cfg.probe_size);
	memcpy(img + offsetof(struct viommu_virtio_iommu_config_layout, probe_size), &v32, 4);
	img[offsetof(struct viommu_virtio_iommu_config_layout, bypass)] = d->bypass;
}

static bool config_access_ok(uint32_t offset, unsigned int size)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) &&
	       offset <= VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE - size;
}

int viommu_virtio_iommu_config_read(const struct viommu *v, uint32_t offset, unsigned int size,
				    uint64_t *val)
{
	const struct vio_dev *d = get_cdev(v);
	uint8_t img[VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE];
	uint64_t x = 0;

	if (!d || !val || !config_access_ok(offset, size))
		return VIOMMU_EINVAL;
	config_image(d, img);
	for (unsigned int i = 0; i < size; i++)
		x |= (uint64_t)img[offset + i] << (8 * i);
	*val = x;
	return 0;
}

int viommu_virtio_iommu_config_write(struct viommu *v, uint32_t offset, unsigned int size,
				     uint64_t val)
{
	struct vio_dev *d = get_dev(v);
	const uint32_t at = offsetof(struct viommu_virtio_iommu_config_layout, bypass);
	uint8_t bypass;

	if (!d || !config_access_ok(offset, size))
		return VIOMMU_EINVAL;
	/* 5.13.4.1: only bypass is writable, and only with BYPASS_CONFIG negotiated. */
	if (!vio_has(d, VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG) || at < offset || at >= offset + size)
		return 0;
	bypass = (uint8_t)((val >> (8 * (at - offset))) & 1);
	if (bypass == d->bypass)
		return 0;
	bypass_change_begin(d);
	d->bypass = bypass;
	bypass_change_end(d);
	return 0;
}

/* ---- public: queues, notifications, interrupts ------------------------------------------- */

int viommu_virtio_iommu_queue_max_size(const struct viommu *v, unsigned int queue, uint16_t *size)
{
	const struct vio_dev *d = get_cdev(v);

	if (!d || !size || queue >= VIOMMU_VIRTIO_IOMMU_NQUEUES)
		return VIOMMU_EINVAL;
	*size = d->cfg.queue_size_max;
	return 0;
}

int viommu_virtio_iommu_queue_enable(struct viommu *v, unsigned int queue,
				     const struct viommu_virtio_queue *q)
{
	struct vio_dev *d = get_dev(v);
	int ret;

	if (!d || !q || queue >= VIOMMU_VIRTIO_IOMMU_NQUEUES)
		return VIOMMU_EINVAL;
	/* Queues are set up after feature negotiation (3.1.1 step 7). */
	if (!(d->status & VIOMMU_VIRTIO_S_FEATURES_OK))
		return VIOMMU_EPERM;
	if (d->vq[queue].ready)
		return VIOMMU_EBUSY;
	ret = vi_vq_check_layout(q->size, d->cfg.queue_size_max, q->desc, q->avail, q->used);
	if (ret)
		return ret;
	vi_vq_enable(&d->vq[queue], q->size, q->desc, q->avail, q->used,
		     vio_has(d, VIOMMU_VIRTIO_F_EVENT_IDX),
		     vio_has(d, VIOMMU_VIRTIO_F_INDIRECT_DESC));
	return 0;
}

int viommu_virtio_iommu_set_msi(struct viommu *v, unsigned int vector, bool enable, uint64_t addr,
				uint32_t data)
{
	struct vio_dev *d = get_dev(v);

	if (!d || vector > VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR)
		return VIOMMU_EINVAL;
	d->msi[vector].enable = enable;
	d->msi[vector].addr = addr;
	d->msi[vector].data = data;
	return 0;
}

static bool running(const struct vio_dev *d)
{
	return (d->status & VIOMMU_VIRTIO_S_DRIVER_OK) &&
	       !(d->status & (VIOMMU_VIRTIO_S_NEEDS_RESET | VIOMMU_VIRTIO_S_FAILED));
}

int viommu_virtio_iommu_queue_notify(struct viommu *v, unsigned int queue)
{
	struct vio_dev *d = get_dev(v);

	if (!d || queue >= VIOMMU_VIRTIO_IOMMU_NQUEUES)
		return VIOMMU_EINVAL;
	d->st.kicks[queue]++;
	/* Event buffers are taken when a fault happens; nothing to do on an eventq kick. */
	if (queue == VIOMMU_VIRTIO_IOMMU_REQUESTQ && running(d))
		vi_vio_process_requests(d);
	return 0;
}

int viommu_virtio_iommu_isr_read(struct viommu *v, uint8_t *isr)
{
	struct vio_dev *d = get_dev(v);

	if (!d || !isr)
		return VIOMMU_EINVAL;
	*isr = d->isr;
	if (d->isr && !d->cfg.interrupt)
		vi_irq(&d->v.host, d->cfg.irq_line, false);
	d->isr = 0;
	return 0;
}

int viommu_virtio_iommu_get_stats(const struct viommu *v, struct viommu_virtio_iommu_stats *st)
{
	const struct vio_dev *d = get_cdev(v);

	if (!d || !st)
		return VIOMMU_EINVAL;
	*st = d->st;
	return 0;
}

/* ---- translation and fault reporting ----------------------------------------------------- */

/*
 * 5.13.6.9: write one fault report, or drop it (counted) when no buffer is there. Returns
 * VIOMMU_FAULT_F_RECORDED or VIOMMU_FAULT_F_LOST.
 */
static uint32_t report_fault(struct vio_dev *d, uint8_t reason, uint32_t access, uint32_t ep,
			     uint64_t addr)
{
	struct vq *q = &d->vq[VIOMMU_VIRTIO_IOMMU_EVENTQ];
	uint8_t rec[sizeof(struct viommu_virtio_iommu_fault)] = { 0 };
	uint32_t flags = VIOMMU_VIRTIO_IOMMU_FAULT_F_ADDRESS, len = 0;
	int ret;

	if (!running(d) || !q->ready) {
		d->st.events_dropped++;
		return VIOMMU_FAULT_F_LOST;
	}
	ret = vi_vq_pop(q, &d->ev_elem);
	if (ret <= 0) {
		d->st.events_dropped++;
		if (ret < 0)
			vi_vio_needs_reset(d);
		return VIOMMU_FAULT_F_LOST;
	}
	if (access & VIOMMU_ACC_READ)
		flags |= VIOMMU_VIRTIO_IOMMU_FAULT_F_READ;
	if (access & VIOMMU_ACC_WRITE)
		flags |= VIOMMU_VIRTIO_IOMMU_FAULT_F_WRITE;
	rec[offsetof(struct viommu_virtio_iommu_fault, reason)] = reason;
	flags = vi_le32(flags);
	ep = vi_le32(ep);
	addr = vi_le64(addr);
	memcpy(rec + offsetof(struct viommu_virtio_iommu_fault, flags), &flags, 4);
	memcpy(rec + offsetof(struct viommu_virtio_iommu_fault, endpoint), &ep, 4);
	memcpy(rec + offsetof(struct viommu_virtio_iommu_fault, address), &addr, 8);
	/* A buffer too small for the report is returned empty rather than split. */
	if (vi_vq_write_elem(q, &d->ev_elem, 0, rec, sizeof(rec)) == 0)
		len = sizeof(rec);
	if (len)
		d->st.events_written++;
	else
		d->st.events_dropped++;
	if (vi_vq_push(q, &d->ev_elem, len) == 0 && vi_vq_publish(q))
		vi_vio_interrupt(d, VIOMMU_VIRTIO_IOMMU_EVENTQ);
	else if (!q->broken)
		d->st.suppressed++;
	if (q->broken)
		vi_vio_needs_reset(d);
	return len ? VIOMMU_FAULT_F_RECORDED : VIOMMU_FAULT_F_LOST;
}

static void fault(struct vio_dev *d, const struct viommu_xlate_req *req,
		  struct viommu_xlate_result *res, enum viommu_fault_type type, uint8_t reason)
{
	d->st.translation_faults++;
	vi_result_fault(res, req, type, reason, 0);
	res->fault.flags = report_fault(d, reason, req->access, req->sid, req->iova);
}

/* Bytes from @iova up to and including @last, capped at @len (all of 2^64 fits in no uint64). */
static uint64_t clip(uint64_t iova, uint64_t last, uint64_t len)
{
	return len - 1 > last - iova ? last - iova + 1 : len;
}

static void identity(struct vio_dev *d, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res, uint64_t last, uint64_t len)
{
	d->st.bypass_translations++;
	memset(res, 0, sizeof(*res));
	res->out = req->iova;
	res->len = clip(req->iova, last, len);
	res->perm = VIOMMU_ACC_RW;
	res->page_shift = d->granule_shift;
}

static int vio_translate(struct viommu *v, const struct viommu_xlate_req *req,
			 struct viommu_xlate_result *res)
{
	struct vio_dev *d = to_vio(v);
	uint64_t len = req->len ? req->len : 1;
	uint32_t need = req->access & VIOMMU_ACC_RW, perm;
	struct vio_domain *dom;
	struct vio_map m;
	struct vio_ep *ep;

	d->st.translations++;
	ep = vi_vio_ep_find(d, req->sid);
	if (!ep) {
		fault(d, req, res, VIOMMU_FAULT_CONFIG, VIOMMU_VIRTIO_IOMMU_FAULT_R_UNKNOWN);
		return 0;
	}
	/* Reserved regions first: MSI doorbells pass untranslated, reserved ranges never do. */
	for (unsigned int i = 0; i < ep->nr_resv; i++) {
		const struct vio_resv *r = &ep->resv[i];

		if (req->iova < r->start || req->iova > r->end)
			continue;
		if (r->subtype == VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_MSI) {
			identity(d, req, res, r->end, len);
			return 0;
		}
		fault(d, req, res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING);
		return 0;
	}
	dom = ep->dom;
	if (!dom) {
		if (unattached_bypass(d))
			identity(d, req, res, UINT64_MAX, len);
		else
			fault(d, req, res, VIOMMU_FAULT_BLOCKED,
			      VIOMMU_VIRTIO_IOMMU_FAULT_R_DOMAIN);
		return 0;
	}
	if (dom->bypass) {
		identity(d, req, res, UINT64_MAX, len);
		return 0;
	}
	if (!vi_vio_map_lookup(&dom->maps, req->iova, &m)) {
		fault(d, req, res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING);
		return 0;
	}
	perm = map_perm(m.flags);
	if (need & ~perm) {
		fault(d, req, res, VIOMMU_FAULT_PERMISSION, VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING);
		return 0;
	}
	memset(res, 0, sizeof(*res));
	res->out = m.phys + (req->iova - m.start);
	res->len = clip(req->iova, m.end, len);
	res->perm = perm;
	res->page_shift = d->granule_shift;
	return 0;
}

static int vio_replay(struct viommu *v, struct viommu_notifier *n)
{
	struct vio_dev *d = to_vio(v);

	for (size_t i = 0; i < d->nr_eps; i++) {
		if (n->sid == VIOMMU_SID_ANY || n->sid == d->eps[i]->id)
			notify_ep_state(d, d->eps[i], VIOMMU_EV_MAP, n);
	}
	return 0;
}

static void vio_destroy(struct viommu *v)
{
	struct vio_dev *d = to_vio(v);

	for (size_t i = 0; i < d->nr_eps; i++) {
		if (d->eps[i]->dom)
			unlink_ep(d, d->eps[i]);
		free(d->eps[i]);
	}
	free(d->eps);
	free(d->doms);
	free(d->probe_buf);
	vi_instance_fini(v);
	free(d);
}

static const struct viommu_model_ops vio_ops = {
	.name = "virtio-iommu",
	.translate = vio_translate,
	.replay = vio_replay,
	.destroy = vio_destroy,
};
