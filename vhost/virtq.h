/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2 §2.7) over a vhost-user connection. Every ring element and buffer
 * is reached through vh_xlate(), so with VIOMMU_VIRTIO_F_ACCESS_PLATFORM every access goes through the
 * device IOTLB. A translation miss (-EAGAIN) consumes nothing: the caller retries after resume.
 */
#ifndef VHOST_VIRTQ_H
#define VHOST_VIRTQ_H

#include "vhost_user.h"

#define VQ_MAX_SEGS 128u /* host segments of one chain; more is refused as malformed */

struct vq_seg {
	uint8_t *host;
	uint32_t len;
};

struct vq_chain {
	uint16_t head;
	bool writable; /* all descriptors device-writable (receive) or all readable (transmit) */
	uint32_t nseg;
	uint64_t total; /* bytes in all segments */
	struct vq_seg seg[VQ_MAX_SEGS];
};

/*
 * How many chains the guest has made available past @from (the queue's last_avail), or
 * -EAGAIN / -EFAULT / -EINVAL (an index further ahead than the ring size: the ring is broken).
 */
int vq_avail(struct vh_dev *dev, unsigned int vq, uint16_t from);

/*
 * Read the chain at avail position @idx and translate its buffers. @writable selects which kind
 * of chain the queue expects; a chain of the other kind, a loop, an out-of-range index or too many
 * segments is -EINVAL. -EAGAIN on a translation miss, -EFAULT outside guest memory.
 */
int vq_chain_get(struct vh_dev *dev, unsigned int vq, uint16_t idx, bool writable,
		 struct vq_chain *c);

/* Write used element @slot (a free-running index) = {id, len}. 0, -EAGAIN or -EFAULT. */
int vq_used_put(struct vh_dev *dev, unsigned int vq, uint16_t slot, uint32_t id, uint32_t len);

/* Publish used index @idx (after the elements) and interrupt the guest unless it opted out. */
int vq_used_publish(struct vh_dev *dev, unsigned int vq, uint16_t idx);

/*
 * Look up every page of the queue's rings, sending a MISS for each one not cached, all at once:
 * after an invalidation emptied the device IOTLB the datapath would otherwise find them one
 * miss round trip at a time. 0 when all are cached, -EAGAIN when some were asked for. Ring pages
 * stay mapped while the queue runs, so asking for them never makes the vIOMMU fault.
 */
int vq_prefetch_rings(struct vh_dev *dev, unsigned int vq);

/* Mark the queue broken after the guest corrupted it (see vh_vq.broken). */
void vq_break(struct vh_dev *dev, unsigned int vq, const char *why);

/* Copy between a chain and a flat buffer, from byte @off of the chain. Return bytes copied. */
size_t vq_chain_read(const struct vq_chain *c, uint64_t off, void *buf, size_t len);
size_t vq_chain_write(const struct vq_chain *c, uint64_t off, const void *buf, size_t len);

#endif
