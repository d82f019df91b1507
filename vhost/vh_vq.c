// SPDX-License-Identifier: MIT
/*
 * Split virtqueue access (virtio 1.2 §2.7). Ring fields are copied out of guest memory once and
 * then checked, so a guest changing them concurrently cannot make us use an unchecked value.
 */
#include "vh_vq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Ring layouts: <viommu/spec/virtio.h> (virtio 1.2 §2.7.5, §2.7.6, §2.7.8). */
#define DESC_SIZE sizeof(struct viommu_virtio_virtq_desc)
#define USED_ELEM_SIZE sizeof(struct viommu_virtio_virtq_used_elem)

/*
 * Copy @len bytes from guest @addr of @space, following translations across mapping boundaries.
 */
static int guest_read_space(struct vh_dev *dev, unsigned int vq, enum vh_space space, uint64_t addr,
			    void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret =
			vh_xlate(dev, vq, space, addr, len, VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

		if (ret < 0)
			return ret;
		memcpy(out, host, n);
		out += n;
		len -= n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

static int guest_read(struct vh_dev *dev, unsigned int vq, uint64_t addr, void *buf, size_t len)
{
	return guest_read_space(dev, vq, VH_SPACE_RING, addr, buf, len);
}

static int guest_write(struct vh_dev *dev, unsigned int vq, uint64_t addr, const void *buf,
		       size_t len)
{
	const uint8_t *in = buf;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, len, VIOMMU_VHOST_USER_ACCESS_WO,
				   &host, &n);

		if (ret < 0)
			return ret;
		memcpy(host, in, n);
		in += n;
		len -= n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

static int read_u16(struct vh_dev *dev, unsigned int vq, uint64_t addr, uint16_t *v)
{
	uint8_t *host;
	uint64_t n;
	int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, 2, VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

	if (ret < 0)
		return ret;
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		*v = __atomic_load_n((uint16_t *)(void *)host, __ATOMIC_ACQUIRE);
		return 0;
	}
	ret = guest_read(dev, vq, addr, v, 2);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return ret;
}

static int write_u16(struct vh_dev *dev, unsigned int vq, uint64_t addr, uint16_t v)
{
	uint8_t *host;
	uint64_t n;
	int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, 2, VIOMMU_VHOST_USER_ACCESS_WO, &host, &n);

	if (ret < 0)
		return ret;
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		__atomic_store_n((uint16_t *)(void *)host, v, __ATOMIC_RELAXED);
		return 0;
	}
	return guest_write(dev, vq, addr, &v, 2);
}

void vh_vq_break(struct vh_dev *dev, unsigned int vq, const char *why)
{
	if (!dev->vq[vq].broken)
		fprintf(stderr, "viommu-vhost: %s: queue %u stopped: %s\n",
			dev->name ? dev->name : "vhost", vq, why);
	dev->vq[vq].broken = true;
}

int vh_vq_avail(struct vh_dev *dev, unsigned int vq, uint16_t from)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t idx, n;
	int ret = read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, &idx);

	if (ret < 0)
		return ret;
	n = (uint16_t)(idx - from);
	if (n > q->num)
		return -EINVAL;
	return n;
}

static int add_segs(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c, uint64_t addr,
		    uint32_t len)
{
	unsigned int perm = c->writable ? VIOMMU_VHOST_USER_ACCESS_WO : VIOMMU_VHOST_USER_ACCESS_RO;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret;

		if (c->nseg >= VH_VQ_MAX_SEGS)
			return -EINVAL;
		ret = vh_xlate(dev, vq, VH_SPACE_BUF, addr, len, perm, &host, &n);
		if (ret < 0)
			return ret;
		c->seg[c->nseg].host = host;
		c->seg[c->nseg].len = (uint32_t)n;
		c->nseg++;
		c->total += n;
		len -= (uint32_t)n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

/*
 * One descriptor's buffer joins the chain. All descriptors of a chain are device-writable
 * (receive) or all readable (transmit): a chain of the other kind is malformed here.
 */
static int add_desc(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c,
		    const struct viommu_virtio_virtq_desc *d)
{
	if (!!(d->flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE) != c->writable)
		return -EINVAL;
	return add_segs(dev, vq, c, d->addr, d->len);
}

/*
 * virtio 1.2 §2.7.5.3: the buffer of @ind is a table of len / 16 descriptors, read (through the
 * device IOTLB like any buffer) one at a time and checked as it is read: the length a non-zero
 * multiple of 16 and at most VH_VQ_MAX_INDIRECT entries, no indirect descriptor inside it, every
 * next inside the table, at most one visit per entry (a loop is malformed).
 */
static int add_indirect(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c,
			const struct viommu_virtio_virtq_desc *ind)
{
	uint32_t count, i = 0;

	if (!(dev->features & VIOMMU_VIRTIO_F_INDIRECT_DESC) ||
	    ind->flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT || ind->len == 0 || ind->len % DESC_SIZE ||
	    ind->len / DESC_SIZE > VH_VQ_MAX_INDIRECT)
		return -EINVAL;
	count = ind->len / (uint32_t)DESC_SIZE;
	/*
	 * The whole table must be readable guest memory, not only the entries the chain happens to
	 * visit (and with a vIOMMU, every page of it is asked for at once on a miss).
	 */
	{
		uint64_t addr = ind->addr, left = ind->len;

		while (left) {
			uint8_t *host;
			uint64_t n;
			int ret = vh_xlate(dev, vq, VH_SPACE_BUF, addr, left,
					   VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

			if (ret < 0)
				return ret;
			left -= n;
			if (__builtin_add_overflow(addr, n, &addr) && left)
				return -EFAULT;
		}
	}
	for (uint32_t n = 0;; n++) {
		struct viommu_virtio_virtq_desc d;
		uint64_t addr;
		int ret;

		if (n >= count)
			return -EINVAL;
		/* i < count <= VH_VQ_MAX_INDIRECT: only the add can overflow. */
		if (__builtin_add_overflow(ind->addr, (uint64_t)i * DESC_SIZE, &addr))
			return -EFAULT;
		ret = guest_read_space(dev, vq, VH_SPACE_BUF, addr, &d, sizeof(d));
		if (ret < 0)
			return ret;
		/* "The device MUST NOT ... an indirect descriptor within an indirect table". */
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		ret = add_desc(dev, vq, c, &d);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return -EINVAL;
		i = d.next;
	}
}

int vh_vq_chain_get(struct vh_dev *dev, unsigned int vq, uint16_t idx, bool writable,
		    struct vh_vq_chain *c)
{
	struct vh_vq *q = &dev->vq[vq];
	struct viommu_virtio_virtq_desc d;
	uint16_t head, i;
	int ret;

	ret = read_u16(dev, vq,
		       q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF +
			       2ull * (idx & (q->num - 1)),
		       &head);
	if (ret < 0)
		return ret;
	if (head >= q->num)
		return -EINVAL;
	c->head = head;
	c->writable = writable;
	c->nseg = 0;
	c->total = 0;
	i = head;
	/* A chain has at most num descriptors; more means a loop. */
	for (uint32_t n = 0;; n++) {
		if (n >= q->num)
			return -EINVAL;
		ret = guest_read(dev, vq, q->desc_addr + DESC_SIZE * i, &d, sizeof(d));
		if (ret < 0)
			return ret;
		/* Zero or more direct descriptors, then at most one indirect one, which ends the
		 * chain (virtio 1.2 §2.7.5.3.1: INDIRECT and NEXT are never set together). */
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT)
			return add_indirect(dev, vq, c, &d);
		ret = add_desc(dev, vq, c, &d);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->num)
			return -EINVAL;
		i = d.next;
	}
}

int vh_vq_used_put(struct vh_dev *dev, unsigned int vq, uint16_t slot, uint32_t id, uint32_t len)
{
	struct vh_vq *q = &dev->vq[vq];
	struct viommu_virtio_virtq_used_elem e = { .id = id, .len = len };

	return guest_write(dev, vq,
			   q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_RING_OFF +
				   USED_ELEM_SIZE * (slot & (q->num - 1)),
			   &e, sizeof(e));
}

int vh_vq_used_publish(struct vh_dev *dev, unsigned int vq, uint16_t idx)
{
	struct vh_vq *q = &dev->vq[vq];
	uint8_t *host;
	uint64_t n;
	int ret;

	ret = vh_xlate(dev, vq, VH_SPACE_RING, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, 2,
		       VIOMMU_VHOST_USER_ACCESS_WO, &host, &n);
	if (ret < 0)
		return ret;
	/* The elements must be visible before the index that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		__atomic_store_n((uint16_t *)(void *)host, idx, __ATOMIC_RELEASE);
	} else {
		ret = guest_write(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, &idx,
				  2);
		if (ret < 0)
			return ret;
	}
	q->used_idx = idx;
	q->used_next = idx;
	/* Order the index store before reading the guest's interrupt suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vh_vq_need_call(dev, vq))
		vh_vq_call(dev, vq);
	return 0;
}

bool vh_vq_need_call(struct vh_dev *dev, unsigned int vq)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t v, old;
	bool valid;

	if (!(dev->features & VIOMMU_VIRTIO_F_EVENT_IDX))
		/* A field we cannot read: an interrupt too many is harmless, one too few is not. */
		return read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF, &v) <
			       0 ||
		       !(v & VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* virtio 1.2 §2.7.10: signal only if used_event lies in (old, new]. */
	old = q->signalled_used;
	valid = q->signalled_valid;
	if (valid && old == q->used_idx)
		return false; /* nothing published since the last signal */
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	if (!valid ||
	    read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_USED_EVENT_OFF(q->num), &v) < 0)
		return true;
	return VIOMMU_VIRTIO_NEED_EVENT(v, q->used_idx, old);
}

int vh_vq_set_notify(struct vh_dev *dev, unsigned int vq, bool on)
{
	struct vh_vq *q = &dev->vq[vq];
	int ret;

	if (dev->features & VIOMMU_VIRTIO_F_EVENT_IDX) {
		/*
		 * virtio 1.2 §2.7.10: the driver kicks when its index passes avail_event. Asking
		 * for kicks is writing our position there; not asking is leaving it where the
		 * driver has already passed it (no used-ring flag is read with EVENT_IDX).
		 */
		if (!on) {
			q->notify_on = false;
			return 0;
		}
		if (q->notify_known && q->notify_on && q->avail_event == q->last_avail)
			return 0;
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_EVENT_OFF(q->num),
				q->last_avail);
		if (ret < 0)
			return ret;
		q->avail_event = q->last_avail;
	} else {
		if (q->notify_known && q->notify_on == on)
			return 0;
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_FLAGS_OFF,
				on ? 0 : VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
		if (ret < 0)
			return ret;
	}
	q->notify_known = true;
	q->notify_on = on;
	/* Make the request visible before the caller looks at the available index again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int vh_vq_prefetch_rings(struct vh_dev *dev, unsigned int vq)
{
	const struct vh_vq *q = &dev->vq[vq];
	/* In the order the datapath needs them; the permissions it uses, no more. */
	const struct {
		uint64_t addr, len;
		unsigned int perm;
	} ring[] = {
		{ q->avail_addr, VIOMMU_VIRTIO_VIRTQ_AVAIL_SIZE(q->num),
		  VIOMMU_VHOST_USER_ACCESS_RO },
		{ q->desc_addr, DESC_SIZE * q->num, VIOMMU_VHOST_USER_ACCESS_RO },
		{ q->used_addr, VIOMMU_VIRTIO_VIRTQ_USED_SIZE(q->num),
		  VIOMMU_VHOST_USER_ACCESS_WO },
	};
	int ret = 0;

	for (unsigned int i = 0; i < sizeof(ring) / sizeof(ring[0]); i++) {
		uint64_t addr = ring[i].addr, left = ring[i].len;

		while (left) {
			uint8_t *host;
			uint64_t n;
			int e = vh_xlate(dev, vq, VH_SPACE_RING, addr, left, ring[i].perm, &host,
					 &n);

			if (e == -EAGAIN) {
				/* Go on to the next page: the point is to ask for all of them. */
				ret = -EAGAIN;
				n = 0x1000 - (addr & 0xfffu);
				n = n < left ? n : left;
			} else if (e < 0) {
				break; /* not guest memory: the datapath breaks the queue */
			}
			left -= n;
			if (__builtin_add_overflow(addr, n, &addr) && left)
				break;
		}
	}
	return ret;
}

size_t vh_vq_chain_read(const struct vh_vq_chain *c, uint64_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;

	for (uint32_t i = 0; i < c->nseg && done < len; i++) {
		size_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, c->seg[i].host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vh_vq_chain_write(const struct vh_vq_chain *c, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *in = buf;
	size_t done = 0;

	for (uint32_t i = 0; i < c->nseg && done < len; i++) {
		size_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(c->seg[i].host + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}
