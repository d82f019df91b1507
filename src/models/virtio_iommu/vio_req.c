// SPDX-License-Identifier: MIT
/*
 * virtio-iommu requests (section 5.13.6): pop a chain, find its tail, decode the request into
 * locals, validate every field, dispatch to one handler per type, and map the handler's error code
 * to a VIOMMU_VIRTIO_IOMMU_S_* status in one place.
 */
#include "models/virtio_iommu/vio_internal.h"

#define HEAD_SIZE sizeof(struct viommu_virtio_iommu_req_head)
#define TAIL_SIZE sizeof(struct viommu_virtio_iommu_req_tail)
#define REQ_MAX sizeof(struct viommu_virtio_iommu_req_probe)

/* Longest a single kick may keep the device busy: the whole 16-bit index space. */
#define MAX_REQUESTS_PER_KICK 65536u

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return vi_le32(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return vi_le64(v);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/* The one errno-to-status mapping. */
static uint8_t errno_to_status(int err)
{
	switch (err) {
	case 0:
		return VIOMMU_VIRTIO_IOMMU_S_OK;
	case VIOMMU_EIO:
		return VIOMMU_VIRTIO_IOMMU_S_IOERR;
	case VIOMMU_ENOTSUP:
		return VIOMMU_VIRTIO_IOMMU_S_UNSUPP;
	case VIOMMU_EINVAL:
		return VIOMMU_VIRTIO_IOMMU_S_INVAL;
	case VIOMMU_ERANGE:
		return VIOMMU_VIRTIO_IOMMU_S_RANGE;
	case VIOMMU_ENOENT:
		return VIOMMU_VIRTIO_IOMMU_S_NOENT;
	case VIOMMU_EFAULT:
		return VIOMMU_VIRTIO_IOMMU_S_FAULT;
	case VIOMMU_ENOMEM:
		return VIOMMU_VIRTIO_IOMMU_S_NOMEM;
	default:
		return VIOMMU_VIRTIO_IOMMU_S_DEVERR;
	}
}

static bool map_overlaps(const struct vio_tree *t, uint64_t start, uint64_t end)
{
	struct vio_map le, gt;
	bool has_le, has_gt;

	vi_vio_map_neighbors(t, start, &le, &has_le, &gt, &has_gt);
	return (has_le && le.end >= start) || (has_gt && gt.start <= end);
}

static bool resv_overlaps_domain(const struct vio_ep *ep, const struct vio_domain *dom)
{
	for (unsigned int i = 0; i < ep->nr_resv; i++) {
		if (map_overlaps(&dom->maps, ep->resv[i].start, ep->resv[i].end))
			return true;
	}
	return false;
}

/* 5.13.6.3 ATTACH */
static int handle_attach(struct vio_dev *d, const uint8_t *req)
{
	uint32_t domain = get32(req + offsetof(struct viommu_virtio_iommu_req_attach, domain));
	uint32_t endpoint = get32(req + offsetof(struct viommu_virtio_iommu_req_attach, endpoint));
	uint32_t flags = get32(req + offsetof(struct viommu_virtio_iommu_req_attach, flags));
	const uint8_t *reserved = req + offsetof(struct viommu_virtio_iommu_req_attach, reserved);
	bool bypass = flags & VIOMMU_VIRTIO_IOMMU_ATTACH_F_BYPASS;
	struct vio_domain *dom;
	struct vio_ep *ep;

	if (!all_zero(reserved, 4))
		return VIOMMU_EINVAL;
	/* The bypass flag is only recognised once BYPASS_CONFIG is negotiated. */
	if ((flags & ~VIOMMU_VIRTIO_IOMMU_ATTACH_F_BYPASS) ||
	    (bypass && !vio_has(d, VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG)))
		return VIOMMU_EINVAL;
	ep = vi_vio_ep_find(d, endpoint);
	if (!ep)
		return VIOMMU_ENOENT;
	if ((d->dev_features & VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE) &&
	    (domain < d->cfg.domain_start || domain > d->cfg.domain_end))
		return VIOMMU_ERANGE;
	dom = vi_vio_domain_find(d, domain);
	if (dom) {
		if (dom->bypass != bypass)
			return VIOMMU_EINVAL;
		if (ep->dom == dom)
			return 0;
		/* Reserved regions that collide with the domain's mappings are incompatible. */
		if (!dom->bypass && resv_overlaps_domain(ep, dom))
			return VIOMMU_ENOTSUP;
	} else {
		dom = vi_vio_domain_create(d, domain, bypass);
		if (!dom)
			return VIOMMU_ENOMEM;
	}
	return vi_vio_ep_attach(d, ep, dom);
}

/* 5.13.6.4 DETACH */
static int handle_detach(struct vio_dev *d, const uint8_t *req)
{
	uint32_t domain = get32(req + offsetof(struct viommu_virtio_iommu_req_detach, domain));
	uint32_t endpoint = get32(req + offsetof(struct viommu_virtio_iommu_req_detach, endpoint));
	struct vio_ep *ep;

	/* reserved is ignored, as the device requirements say. */
	ep = vi_vio_ep_find(d, endpoint);
	if (!ep)
		return VIOMMU_ENOENT;
	if (!ep->dom || ep->dom->id != domain)
		return VIOMMU_EINVAL;
	vi_vio_ep_detach(d, ep);
	return 0;
}

/* 5.13.6.5 MAP */
static int handle_map(struct vio_dev *d, const uint8_t *req)
{
	uint32_t domain = get32(req + offsetof(struct viommu_virtio_iommu_req_map, domain));
	uint64_t virt_start = get64(req + offsetof(struct viommu_virtio_iommu_req_map, virt_start));
	uint64_t virt_end = get64(req + offsetof(struct viommu_virtio_iommu_req_map, virt_end));
	uint64_t phys_start = get64(req + offsetof(struct viommu_virtio_iommu_req_map, phys_start));
	uint32_t flags = get32(req + offsetof(struct viommu_virtio_iommu_req_map, flags));
	uint64_t gran = 1ull << d->granule_shift, phys_end;
	uint32_t known = VIOMMU_VIRTIO_IOMMU_MAP_F_READ | VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE;
	struct vio_domain *dom;
	struct vio_map m;
	int ret;

	if (!vio_has(d, VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIOMMU_ENOTSUP;
	if (vio_has(d, VIOMMU_VIRTIO_IOMMU_F_MMIO))
		known |= VIOMMU_VIRTIO_IOMMU_MAP_F_MMIO;
	if (flags & ~known)
		return VIOMMU_EINVAL;
	dom = vi_vio_domain_find(d, domain);
	if (!dom)
		return VIOMMU_ENOENT;
	if (dom->bypass)
		return VIOMMU_EINVAL;
	if (virt_end < virt_start)
		return VIOMMU_EINVAL;
	/* virt_end + 1 may wrap to 0, which is aligned. */
	if ((virt_start | phys_start | (virt_end + 1)) & (gran - 1))
		return VIOMMU_ERANGE;
	if (virt_start < d->cfg.input_start || virt_end > d->cfg.input_end)
		return VIOMMU_ERANGE;
	phys_end = phys_start + (virt_end - virt_start);
	if (phys_end < phys_start)
		return VIOMMU_ERANGE;
	if (phys_end > d->cfg.phys_end)
		return VIOMMU_EFAULT;
	for (struct vio_ep *ep = dom->eps; ep; ep = ep->dom_next) {
		for (unsigned int i = 0; i < ep->nr_resv; i++) {
			if (virt_start <= ep->resv[i].end && ep->resv[i].start <= virt_end)
				return VIOMMU_EINVAL;
		}
	}
	/* At the limit, an overlapping MAP is still INVAL rather than NOMEM. */
	if (dom->nr_maps >= d->cfg.max_mappings)
		return map_overlaps(&dom->maps, virt_start, virt_end) ? VIOMMU_EINVAL :
									VIOMMU_ENOMEM;
	m.start = virt_start;
	m.end = virt_end;
	m.phys = phys_start;
	m.flags = flags;
	/* The overlap check happens in the same descent as the insert. */
	ret = vi_vio_map_insert(&dom->maps, &m);
	if (ret)
		return ret == VIOMMU_EEXIST ? VIOMMU_EINVAL : ret;
	dom->nr_maps++;
	d->st.mappings++;
	vi_vio_notify_map(d, dom, &m, VIOMMU_EV_MAP);
	return 0;
}

static void mapping_removed(struct vio_dev *d, struct vio_domain *dom, const struct vio_map *m)
{
	dom->nr_maps--;
	d->st.mappings--;
	vi_vio_notify_map(d, dom, m, VIOMMU_EV_UNMAP);
}

/* 5.13.6.6 UNMAP: whole mappings inside the range go; a mapping the range would split is refused
 * before anything changes. */
static int handle_unmap(struct vio_dev *d, const uint8_t *req)
{
	uint32_t domain = get32(req + offsetof(struct viommu_virtio_iommu_req_unmap, domain));
	uint64_t virt_start =
		get64(req + offsetof(struct viommu_virtio_iommu_req_unmap, virt_start));
	uint64_t virt_end = get64(req + offsetof(struct viommu_virtio_iommu_req_unmap, virt_end));
	const uint8_t *reserved = req + offsetof(struct viommu_virtio_iommu_req_unmap, reserved);
	struct vio_domain *dom;
	struct vio_map m;

	if (!vio_has(d, VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP))
		return VIOMMU_ENOTSUP;
	if (!all_zero(reserved, 4))
		return VIOMMU_EINVAL;
	dom = vi_vio_domain_find(d, domain);
	if (!dom)
		return VIOMMU_ENOENT;
	if (dom->bypass)
		return VIOMMU_EINVAL;
	if (virt_end < virt_start)
		return VIOMMU_EINVAL;
	/* The common case, in one descent: the range is exactly one mapping, so nothing else can
	 * be inside it. */
	if (vi_vio_map_remove_exact(&dom->maps, virt_start, virt_end, &m)) {
		mapping_removed(d, dom, &m);
		return 0;
	}
	if (vi_vio_map_lookup(&dom->maps, virt_start, &m) && m.start < virt_start)
		return VIOMMU_ERANGE;
	if (vi_vio_map_lookup(&dom->maps, virt_end, &m) && m.end > virt_end)
		return VIOMMU_ERANGE;
	/* Each pass removes one mapping, so this ends after at most nr_maps passes. */
	while (vi_vio_map_ceil(&dom->maps, virt_start, &m) && m.start <= virt_end) {
		vi_vio_map_remove(&dom->maps, m.start);
		mapping_removed(d, dom, &m);
	}
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	v = vi_le16(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = vi_le64(v);
	memcpy(p, &v, sizeof(v));
}

/* 5.13.6.7 PROBE: properties[probe_size] are always written in full (zeroes when the request
 * fails) so a driver reading them back never sees stale bytes. */
static int handle_probe(struct vio_dev *d, const uint8_t *req, struct vq_elem *e)
{
	uint32_t endpoint = get32(req + offsetof(struct viommu_virtio_iommu_req_probe, endpoint));
	const size_t psize = sizeof(struct viommu_virtio_iommu_probe_resv_mem);
	uint8_t *buf = d->probe_buf;
	struct vio_ep *ep;
	size_t off = 0;
	int ret = 0;

	memset(buf, 0, d->cfg.probe_size);
	ep = vi_vio_ep_find(d, endpoint);
	if (!ep)
		ret = VIOMMU_ENOENT;
	for (unsigned int i = 0; ep && i < ep->nr_resv; i++) {
		const struct vio_resv *r = &ep->resv[i];

		/* The VMM gave this endpoint more than probe_size can describe. */
		if (off + psize > d->cfg.probe_size) {
			memset(buf, 0, d->cfg.probe_size);
			ret = VIOMMU_E2BIG;
			break;
		}
		put16(buf + off, VIOMMU_VIRTIO_IOMMU_PROBE_T_RESV_MEM);
		put16(buf + off + 2, psize - sizeof(struct viommu_virtio_iommu_probe_property));
		buf[off + offsetof(struct viommu_virtio_iommu_probe_resv_mem, subtype)] =
			r->subtype;
		put64(buf + off + offsetof(struct viommu_virtio_iommu_probe_resv_mem, start),
		      r->start);
		put64(buf + off + offsetof(struct viommu_virtio_iommu_probe_resv_mem, end), r->end);
		off += psize;
	}
	if (vi_vq_write_elem(&d->vq[VIOMMU_VIRTIO_IOMMU_REQUESTQ], e, 0, buf, d->cfg.probe_size))
		return VIOMMU_EIO;
	return ret;
}

/* Bytes of device-readable request (head included) each type needs. */
static size_t request_size(uint8_t type)
{
	switch (type) {
	case VIOMMU_VIRTIO_IOMMU_T_ATTACH:
		return sizeof(struct viommu_virtio_iommu_req_attach) - TAIL_SIZE;
	case VIOMMU_VIRTIO_IOMMU_T_DETACH:
		return sizeof(struct viommu_virtio_iommu_req_detach) - TAIL_SIZE;
	case VIOMMU_VIRTIO_IOMMU_T_MAP:
		return sizeof(struct viommu_virtio_iommu_req_map) - TAIL_SIZE;
	case VIOMMU_VIRTIO_IOMMU_T_UNMAP:
		return sizeof(struct viommu_virtio_iommu_req_unmap) - TAIL_SIZE;
	case VIOMMU_VIRTIO_IOMMU_T_PROBE:
		return sizeof(struct viommu_virtio_iommu_req_probe);
	default:
		return 0;
	}
}

static int dispatch(struct vio_dev *d, uint8_t type, const uint8_t *req, struct vq_elem *e)
{
	switch (type) {
	case VIOMMU_VIRTIO_IOMMU_T_ATTACH:
		return handle_attach(d, req);
	case VIOMMU_VIRTIO_IOMMU_T_DETACH:
		return handle_detach(d, req);
	case VIOMMU_VIRTIO_IOMMU_T_MAP:
		return handle_map(d, req);
	case VIOMMU_VIRTIO_IOMMU_T_UNMAP:
		return handle_unmap(d, req);
	default:
		return handle_probe(d, req, e);
	}
}

/* Handle one chain; returns the used length (0: the buffers are returned unwritten). */
static uint32_t handle_request(struct vio_dev *d, struct vq_elem *e)
{
	struct vq *q = &d->vq[VIOMMU_VIRTIO_IOMMU_REQUESTQ];
	uint8_t req[REQ_MAX], tail[TAIL_SIZE] = { 0 };
	uint64_t need_in = TAIL_SIZE, tail_off;
	size_t req_size, got;
	uint8_t type;
	int ret;

	/* Read as much as the longest request in one go; most chains hold exactly one request. */
	got = e->out_len < REQ_MAX ? (size_t)e->out_len : REQ_MAX;
	if (!e->truncated && got && vi_vq_read_elem(q, e, 0, req, got))
		got = vi_vq_read_elem(q, e, 0, req, HEAD_SIZE) ? 0 : HEAD_SIZE;
	/* Without a head and room for a tail the request cannot be parsed nor answered. */
	if (e->truncated || got < HEAD_SIZE || e->in_len < TAIL_SIZE) {
		d->st.requests[0]++;
		return 0;
	}
	type = req[0];
	req_size = request_size(type);
	/* Unknown types, and PROBE on a device not offering it, are not written (5.13.6.2). */
	if (!req_size || (type == VIOMMU_VIRTIO_IOMMU_T_PROBE &&
			  !(d->dev_features & VIOMMU_VIRTIO_IOMMU_F_PROBE))) {
		d->st.requests[0]++;
		return 0;
	}
	d->st.requests[type]++;
	if (type == VIOMMU_VIRTIO_IOMMU_T_PROBE)
		need_in += d->cfg.probe_size;
	if (e->in_len < need_in) {
		/* Only PROBE gets here: its properties do not fit (5.13.6.7). */
		tail_off = e->in_len - TAIL_SIZE;
		ret = VIOMMU_EINVAL;
	} else {
		tail_off = need_in - TAIL_SIZE;
		if (e->out_len < req_size)
			ret = VIOMMU_EINVAL;
		else if (got < req_size &&
			 vi_vq_read_elem(q, e, HEAD_SIZE, req + HEAD_SIZE, req_size - HEAD_SIZE))
			ret = VIOMMU_EIO; /* the payload lies outside guest memory */
		else
			ret = dispatch(d, type, req, e);
	}
	/* Before the guest can see the status: batching MAP/UNMAP consumers apply the request. */
	if (vi_notify_wanted(&d->v, VIOMMU_EV_SYNC) &&
	    (type == VIOMMU_VIRTIO_IOMMU_T_MAP || type == VIOMMU_VIRTIO_IOMMU_T_UNMAP ||
	     type == VIOMMU_VIRTIO_IOMMU_T_ATTACH || type == VIOMMU_VIRTIO_IOMMU_T_DETACH)) {
		struct viommu_event ev = { .type = VIOMMU_EV_SYNC,
					   .sid = VIOMMU_SID_ANY,
					   .last = UINT64_MAX };

		vi_notify(&d->v, &ev);
	}
	tail[0] = errno_to_status(ret);
	if (vi_vq_write_elem(q, e, tail_off, tail, sizeof(tail))) {
		d->st.requests[type]--;
		d->st.requests[0]++;
		return 0;
	}
	d->st.status[tail[0]]++;
	return (uint32_t)(tail_off + TAIL_SIZE);
}

void vi_vio_process_requests(struct vio_dev *d)
{
	struct vq *q = &d->vq[VIOMMU_VIRTIO_IOMMU_REQUESTQ];
	struct vq_elem *e = &d->elem;
	uint16_t before = q->signalled;

	for (unsigned int i = 0; i < MAX_REQUESTS_PER_KICK; i++) {
		uint32_t len;
		int ret = vi_vq_pop(q, e);

		if (ret <= 0)
			break;
		len = handle_request(d, e);
		if (!len)
			d->st.unwritten++;
		if (vi_vq_push(q, e, len))
			break;
	}
	if (vi_vq_publish(q))
		vi_vio_interrupt(d, VIOMMU_VIRTIO_IOMMU_REQUESTQ);
	else if (q->signalled != before)
		d->st.suppressed++;
	if (q->broken)
		vi_vio_needs_reset(d);
}
