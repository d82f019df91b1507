// SPDX-License-Identifier: MIT
/*
 * Split virtqueue, device side (VIRTIO 1.2 section 2.7). See virtq.h for the contract.
 */
#include <stdatomic.h>

#include "core/core.h"
#include "virtio/virtq.h"

#define DESC_SIZE 16u

static uint64_t avail_ring_off(uint16_t i)
{
	return 4 + 2ull * i;
}

static uint64_t used_ring_off(uint16_t i)
{
	return 4 + 8ull * i;
}

int vi_vq_check_layout(uint16_t size, uint16_t max_size, uint64_t desc, uint64_t avail,
		       uint64_t used)
{
	if (size == 0 || (size & (size - 1)) || size > max_size ||
	    size > VIOMMU_VIRTIO_VIRTQ_MAX_SIZE)
		return VIOMMU_EINVAL;
	/* 2.7 "Alignment requirements": 16 for descriptors, 2 for avail, 4 for used. */
	if ((desc & 15) || (avail & 1) || (used & 3))
		return VIOMMU_EINVAL;
	/* Sizes include the event fields so EVENT_IDX never reaches past a checked range. */
	if (!vi_range_ok(desc, DESC_SIZE * size) || !vi_range_ok(avail, avail_ring_off(size) + 2) ||
	    !vi_range_ok(used, used_ring_off(size) + 2))
		return VIOMMU_EINVAL;
	return 0;
}

void vi_vq_reset(struct vq *q)
{
	struct vq_mem mem = q->mem;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
}

void vi_vq_enable(struct vq *q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
		  bool event_idx, bool indirect)
{
	vi_vq_reset(q);
	q->size = size;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->ready = true;
}

static int rd16(struct vq *q, uint64_t addr, uint16_t *v)
{
	uint16_t raw;
	int ret = q->mem.read(q->mem.ctx, addr, &raw, sizeof(raw));

	*v = ret ? 0 : vi_le16(raw);
	return ret;
}

static int wr16(struct vq *q, uint64_t addr, uint16_t v)
{
	uint16_t raw = vi_le16(v);

	return q->mem.write(q->mem.ctx, addr, &raw, sizeof(raw));
}

static int broken(struct vq *q, int err)
{
	q->broken = true;
	return err;
}

static int read_desc(struct vq *q, uint64_t table, uint32_t idx, struct viommu_virtio_virtq_desc *d)
{
	uint8_t raw[DESC_SIZE];
	int ret = q->mem.read(q->mem.ctx, table + (uint64_t)idx * DESC_SIZE, raw, sizeof(raw));

	if (ret)
		return ret;
	memcpy(&d->addr, raw, 8);
	memcpy(&d->len, raw + 8, 4);
	memcpy(&d->flags, raw + 12, 2);
	memcpy(&d->next, raw + 14, 2);
	d->addr = vi_le64(d->addr);
	d->len = vi_le32(d->len);
	d->flags = vi_le16(d->flags);
	d->next = vi_le16(d->next);
	return 0;
}

/* 2.7.5 and 2.7.5.3: walk one chain, following at most one indirect table. */
static int walk_chain(struct vq *q, uint16_t head, struct vq_elem *e)
{
	uint64_t table = q->desc;
	uint32_t n = q->size, idx = head, count = 0;
	bool in_indirect = false;
	unsigned int nseg = 0;

	e->head = head;
	e->truncated = false;
	e->nr_out = e->nr_in = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		struct viommu_virtio_virtq_desc d;
		int ret;

		/* Every chain is bounded by its table: an index past it or a loop is an error. */
		if (idx >= n || ++count > n)
			return VIOMMU_EINVAL;
		ret = read_desc(q, table, idx, &d);
		if (ret)
			return ret;
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only with the feature, never nested, never with NEXT. */
			if (!q->indirect || in_indirect ||
			    (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
				return VIOMMU_EINVAL;
			if (d.len == 0 || d.len % DESC_SIZE ||
			    d.len / DESC_SIZE > VIOMMU_VIRTIO_VIRTQ_MAX_SIZE ||
			    !vi_range_ok(d.addr, d.len))
				return VIOMMU_EINVAL;
			table = d.addr;
			n = d.len / DESC_SIZE;
			idx = 0;
			count = 0;
			in_indirect = true;
			continue;
		}
		if (!vi_range_ok(d.addr, d.len))
			return VIOMMU_EINVAL;
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE) {
			e->in_len += d.len;
		} else {
			/* 2.7.4.2: device-readable descriptors come before device-writable ones. */
			if (e->in_len || e->nr_in)
				return VIOMMU_EINVAL;
			e->out_len += d.len;
		}
		if (d.len) {
			if (nseg == VQ_MAX_SEGS) {
				e->truncated = true;
			} else {
				e->seg[nseg].addr = d.addr;
				e->seg[nseg].len = d.len;
				nseg++;
				if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE)
					e->nr_in++;
				else
					e->nr_out++;
			}
		}
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int vi_vq_pop(struct vq *q, struct vq_elem *e)
{
	uint16_t head;
	int ret;

	if (q->broken)
		return VIOMMU_EIO;
	if (!q->ready)
		return 0;
	if (q->avail_idx == q->last_avail) {
		ret = rd16(q, q->avail + 2, &q->avail_idx);
		if (ret)
			return broken(q, ret);
		/* Read the ring entries only after the index that covers them (2.7.13.3). */
		atomic_thread_fence(memory_order_acquire);
		if (q->avail_idx == q->last_avail)
			return 0;
		/* The driver cannot have made more than a queue's worth available. */
		if ((uint16_t)(q->avail_idx - q->last_avail) > q->size)
			return broken(q, VIOMMU_EINVAL);
	}
	ret = rd16(q, q->avail + avail_ring_off(q->last_avail & (q->size - 1)), &head);
	if (ret)
		return broken(q, ret);
	if (head >= q->size)
		return broken(q, VIOMMU_EINVAL);
	ret = walk_chain(q, head, e);
	if (ret)
		return broken(q, ret);
	q->last_avail++;
	return 1;
}

/* Walk the segments of one direction from byte @off, calling @fn on each piece. */
static int xfer(struct vq *q, const struct vq_elem *e, bool to_dev_writable, uint64_t off,
		void *buf, size_t len)
{
	unsigned int first = to_dev_writable ? e->nr_out : 0;
	unsigned int last = to_dev_writable ? e->nr_out + e->nr_in : e->nr_out;
	uint8_t *p = buf;

	if (e->truncated)
		return VIOMMU_E2BIG;
	for (unsigned int i = first; i < last && len; i++) {
		const struct vq_seg *s = &e->seg[i];
		uint64_t chunk;
		int ret;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		chunk = s->len - off;
		if (chunk > len)
			chunk = len;
		if (to_dev_writable)
			ret = q->mem.write(q->mem.ctx, s->addr + off, p, chunk);
		else
			ret = q->mem.read(q->mem.ctx, s->addr + off, p, chunk);
		if (ret)
			return ret;
		p += chunk;
		len -= chunk;
		off = 0;
	}
	return len ? VIOMMU_EFAULT : 0;
}

int vi_vq_read_elem(struct vq *q, const struct vq_elem *e, uint64_t off, void *buf, size_t len)
{
	return xfer(q, e, false, off, buf, len);
}

int vi_vq_write_elem(struct vq *q, const struct vq_elem *e, uint64_t off, const void *buf,
		     size_t len)
{
	return xfer(q, e, true, off, (void *)buf, len);
}

int vi_vq_push(struct vq *q, const struct vq_elem *e, uint32_t len)
{
	uint32_t raw[2] = { vi_le32(e->head), vi_le32(len) };
	int ret;

	if (q->broken || !q->ready)
		return VIOMMU_EIO;
	ret = q->mem.write(q->mem.ctx, q->used + used_ring_off(q->used_idx & (q->size - 1)), raw,
			   sizeof(raw));
	if (ret)
		return broken(q, ret);
	q->used_idx++;
	return 0;
}

/* 2.7.7.2: the driver wants an interrupt when used_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static bool publish_failed(struct vq *q)
{
	q->broken = true;
	return false;
}

bool vi_vq_publish(struct vq *q)
{
	uint16_t old = q->signalled, flags, used_event;

	if (q->broken || !q->ready)
		return false;
	/* avail_event: kick us again once the driver makes the next entry available. */
	if (q->event_idx && wr16(q, q->used + used_ring_off(q->size), q->last_avail))
		return publish_failed(q);
	if (q->used_idx == old)
		return false;
	/* Entries before the index that publishes them (2.7.8.2). */
	atomic_thread_fence(memory_order_release);
	if (wr16(q, q->used + 2, q->used_idx))
		return publish_failed(q);
	q->signalled = q->used_idx;
	/* Our index store must be visible before we read the driver's suppression state. */
	atomic_thread_fence(memory_order_seq_cst);
	if (q->event_idx) {
		if (rd16(q, q->avail + avail_ring_off(q->size), &used_event))
			return publish_failed(q);
		return need_event(used_event, q->used_idx, old);
	}
	if (rd16(q, q->avail, &flags))
		return publish_failed(q);
	return !(flags & VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
}
