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

/* Copy @len bytes from guest @addr, following translations across mapping boundaries. */
static int guest_read(struct vh_dev *dev, unsigned int vq, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, len, VIOMMU_VHOST_USER_ACCESS_RO,
				   &host, &n);

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
		/* No indirect descriptors: VIRTIO_RING_F_INDIRECT_DESC is not offered. */
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT ||
		    !!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE) != writable)
			return -EINVAL;
		ret = add_segs(dev, vq, c, d.addr, d.len);
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
	uint16_t flags;
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
	/* Order the index store before reading the guest's interrupt suppression flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF, &flags) < 0 ||
	    !(flags & VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT))
		vh_vq_call(dev, vq);
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
