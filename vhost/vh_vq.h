/* SPDX-License-Identifier: MIT */
/*
 * Split (virtio 1.2 §2.7) and packed (§2.8, with VIOMMU_VIRTIO_F_RING_PACKED) virtqueues over a
 * vhost-user connection, behind one interface: positions are opaque 16-bit values (struct
 * vh_vq), a chain is walked, translated and returned used the same way for both. Every ring
 * element and buffer is reached through vh_xlate(), so with VIOMMU_VIRTIO_F_ACCESS_PLATFORM every
 * access goes through the device IOTLB. A translation miss (-EAGAIN) consumes nothing: the caller
 * retries after resume.
 */
#ifndef VHOST_VH_VQ_H
#define VHOST_VH_VQ_H

#include "vhost_user.h"

#define VH_VQ_MAX_SEGS 128u /* host segments of one chain; more is refused as malformed */
/* Entries of one indirect table (a chain is at most a queue's size, virtio 1.2 §2.7.5.3.1). */
#define VH_VQ_MAX_INDIRECT VIOMMU_VIRTIO_VIRTQ_MAX_SIZE

struct vh_vq_seg {
	uint8_t *host;
	uint32_t len;
};

struct vh_vq_chain {
	uint16_t head;	/* split: the head descriptor index; packed: the buffer ID */
	uint16_t ndesc; /* packed: ring descriptors the chain takes (an indirect table counts 1) */
	bool writable;	/* all descriptors device-writable (receive) or all readable (transmit) */
	uint32_t nseg;
	uint64_t total;	  /* bytes in all segments */
	uint32_t written; /* set by the caller: bytes written into it, for vh_vq_used_add() */
	struct vh_vq_seg seg[VH_VQ_MAX_SEGS];
};

/* Chains one vh_vq_used_add() call may return (a received frame's buffers). */
#define VH_VQ_MAX_USED_BATCH 64u

static inline bool vh_vq_packed(const struct vh_dev *dev)
{
	return (dev->features & VIOMMU_VIRTIO_F_RING_PACKED) != 0;
}

/*
 * How many chains the guest has made available past @from (the queue's last_avail), or
 * -EAGAIN / -EFAULT / -EINVAL (an index further ahead than the ring size: the ring is broken).
 * Packed: 1 when the descriptor at @from is available (its AVAIL flag is the wrap counter of
 * @from, its USED flag the inverse), else 0; -EINVAL for a position past the ring.
 */
int vh_vq_avail(struct vh_dev *dev, unsigned int vq, uint16_t from);

/*
 * Read the chain at avail position @idx and translate its buffers, following an indirect table
 * (VIRTIO_F_INDIRECT_DESC) through the device IOTLB like any buffer. @writable selects which kind
 * of chain the queue expects; a chain of the other kind, a loop (split) or a chain longer than
 * the ring (packed), an out-of-range index, too many segments or a malformed indirect table
 * (length not a non-zero multiple of 16, indirect inside indirect (split), INDIRECT with NEXT,
 * packed: an indirect descriptor that is not the whole chain, the feature not negotiated) is
 * -EINVAL. -EAGAIN on a translation miss, -EFAULT outside guest memory. The caller has seen the
 * chain available (vh_vq_avail()).
 */
int vh_vq_chain_get(struct vh_dev *dev, unsigned int vq, uint16_t idx, bool writable,
		    struct vh_vq_chain *c);

/*
 * The avail position after chain @c, which starts at @pos (split: the next index; packed:
 * c->ndesc descriptors on, the wrap counter in bit 15 flipped at the end of the ring). Inline:
 * the split ring's receive path takes it per buffer.
 */
static inline uint16_t vh_vq_pos_next(const struct vh_dev *dev, unsigned int vq, uint16_t pos,
				      const struct vh_vq_chain *c)
{
	uint32_t i = (pos & VIOMMU_VHOST_USER_PACKED_IDX_MASK) + (uint32_t)c->ndesc;
	uint16_t wrap = pos & VIOMMU_VHOST_USER_PACKED_AVAIL_WRAP;

	if (!vh_vq_packed(dev))
		return (uint16_t)(pos + 1);
	/* i < 2 num (the position was checked, ndesc <= num): at most one wrap. */
	if (i >= dev->vq[vq].num) {
		i -= dev->vq[vq].num;
		wrap ^= VIOMMU_VHOST_USER_PACKED_AVAIL_WRAP;
	}
	return (uint16_t)(i | wrap);
}

/*
 * Return the @n (at most VH_VQ_MAX_USED_BATCH) chains @c, read in order from last_avail, with
 * c->written bytes written into each, and move last_avail and used_next past them. Split: the used
 * elements {head, len} at used_next..., visible to the guest only when vh_vq_used_publish()
 * writes the index. Packed: each used descriptor's id and len, then their flags (the first
 * chain's last, so the guest sees the batch at once): the guest sees them now. 0, or -EAGAIN /
 * -EFAULT / -EINVAL with nothing returned and nothing moved.
 */
int vh_vq_used_add(struct vh_dev *dev, unsigned int vq, const struct vh_vq_chain *c,
		   unsigned int n);

/*
 * Publish used index @idx (after the elements; packed: used_next, whose descriptors are already
 * flagged) and interrupt the guest if vh_vq_need_call() says so: one interrupt per published
 * batch at most.
 */
int vh_vq_used_publish(struct vh_dev *dev, unsigned int vq, uint16_t idx);

/*
 * Whether the guest wants an interrupt for what was published since the last one: without
 * EVENT_IDX unless VIRTQ_AVAIL_F_NO_INTERRUPT, with it when used_event lies between the last
 * signalled used index and the current one (wrapping modulo 2^16). Packed: the driver event
 * suppression's mode (§2.8.10): ENABLE, DISABLE, or with EVENT_IDX DESC, when the used position
 * passed its descriptor offset and wrap counter. Records the signal as sent.
 */
bool vh_vq_need_call(struct vh_dev *dev, unsigned int vq);

/*
 * Ask the guest for kicks on queue @vq (@on), or let it skip them while we poll: the used ring's
 * VIRTQ_USED_F_NO_NOTIFY flag, or with EVENT_IDX the avail_event index (set to last_avail when
 * on, left behind the driver when off). Packed: the device event suppression, DISABLE when off,
 * ENABLE when on, or with EVENT_IDX DESC at last_avail. Writes only what changed. After turning
 * kicks on, the caller must look at the available index again: chains made available before the
 * request was visible bring no kick. 0, -EAGAIN or -EFAULT.
 */
int vh_vq_set_notify(struct vh_dev *dev, unsigned int vq, bool on);

/*
 * Look up every page of the queue's rings, sending a MISS for each one not cached, all at once:
 * after an invalidation emptied the device IOTLB the datapath would otherwise find them one
 * miss round trip at a time. 0 when all are cached, -EAGAIN when some were asked for. Ring pages
 * stay mapped while the queue runs, so asking for them never makes the vIOMMU fault.
 */
int vh_vq_prefetch_rings(struct vh_dev *dev, unsigned int vq);

/* Mark the queue broken after the guest corrupted it (see vh_vq.broken). */
void vh_vq_break(struct vh_dev *dev, unsigned int vq, const char *why);

/* Copy between a chain and a flat buffer, from byte @off of the chain. Return bytes copied. */
size_t vh_vq_chain_read(const struct vh_vq_chain *c, uint64_t off, void *buf, size_t len);
size_t vh_vq_chain_write(const struct vh_vq_chain *c, uint64_t off, const void *buf, size_t len);

#endif
