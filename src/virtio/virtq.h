/* SPDX-License-Identifier: MIT */
/*
 * Device side of a split virtqueue (VIRTIO 1.2 section 2.7) for the library's device models
 * (virtio-iommu). The rings live in guest memory and are reached only through a struct vq_mem
 * accessor (host ops: vi_read/vi_write). viommu-vhost has its own (vhost/vh_vq.c, prefix
 * vh_vq_): its rings and buffers go through the device IOTLB, where a miss must consume nothing
 * and retry after the front-end answers, and it hands out host pointers. Everything read from the rings is hostile:
 * every chain is bounded by the queue size (or the indirect table size), every address range is
 * checked for wrap-around, and a structural violation breaks the queue (the caller then sets
 * DEVICE_NEEDS_RESET, section 2.1.2) instead of guessing.
 */
#ifndef VIOMMU_VIRTQ_H
#define VIOMMU_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <viommu/spec/virtio.h>

/* Segments kept per element; a longer chain is consumed with used length 0 (see vi_vq_pop). */
#define VQ_MAX_SEGS 64u

/* Guest memory as the queue sees it. Both return 0 or a negative VIOMMU_E* code. */
struct vq_mem {
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	int (*write)(void *ctx, uint64_t addr, const void *buf, size_t len);
	void *ctx;
};

struct vq_seg {
	uint64_t addr;
	uint32_t len;
};

/* One popped chain: device-readable segments first, then device-writable ones. */
struct vq_elem {
	uint16_t head;
	bool truncated; /* more than VQ_MAX_SEGS segments: contents unusable */
	unsigned int nr_out;
	unsigned int nr_in;
	uint64_t out_len;
	uint64_t in_len;
	struct vq_seg seg[VQ_MAX_SEGS];
};

struct vq {
	struct vq_mem mem;
	uint16_t size;
	bool ready;
	bool event_idx;
	bool indirect;
	bool broken; /* a structural violation was seen; nothing more is processed */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint16_t last_avail; /* next available entry to consume */
	uint16_t avail_idx;  /* avail->idx as last read: entries up to it need no re-read */
	uint16_t used_idx;   /* our copy of used->idx, including entries not yet published */
	uint16_t signalled;  /* used->idx when we last decided about an interrupt */
};

/*
 * Check a queue layout the driver programmed (size a power of two no larger than @max_size, and
 * 2.7 alignment: descriptors 16, available ring 2, used ring 4, no range wrapping past 2^64).
 */
int vi_vq_check_layout(uint16_t size, uint16_t max_size, uint64_t desc, uint64_t avail,
		       uint64_t used);

/* Bring @q to its initial state (ready false, indices 0), keeping @mem. */
void vi_vq_reset(struct vq *q);

/* Start using a layout checked by vi_vq_check_layout(); @event_idx and @indirect as negotiated. */
void vi_vq_enable(struct vq *q, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
		  bool event_idx, bool indirect);

/*
 * Take the next available chain. Returns 1 with @e filled, 0 when the ring is empty, or a negative
 * code when the ring or a chain is malformed (the queue is then marked broken).
 */
int vi_vq_pop(struct vq *q, struct vq_elem *e);

/* Copy from the readable part at byte offset @off; VIOMMU_EFAULT if not wholly present. */
int vi_vq_read_elem(struct vq *q, const struct vq_elem *e, uint64_t off, void *buf, size_t len);
/* Copy into the writable part at byte offset @off; VIOMMU_EFAULT if not wholly present. */
int vi_vq_write_elem(struct vq *q, const struct vq_elem *e, uint64_t off, const void *buf,
		     size_t len);

/* Return @e with @len bytes written; the entry becomes visible at vi_vq_publish(). */
int vi_vq_push(struct vq *q, const struct vq_elem *e, uint32_t len);

/*
 * Publish pushed entries (used->idx) and, with EVENT_IDX, ask to be kicked at the next available
 * entry. Returns true when the driver wants a used-buffer notification for what was published
 * (2.7.7: VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
 */
bool vi_vq_publish(struct vq *q);

#endif /* VIOMMU_VIRTQ_H */
