/* SPDX-License-Identifier: MIT */
/*
 * Virtual I/O Device (VIRTIO) Version 1.2, the parts every device shares: device status (2.1),
 * split virtqueues (2.7), packed virtqueues (2.8), reserved feature bits (6), the virtio-pci ISR status (4.1.4.5), and
 * the virtio-net header and feature that viommu-vhost uses (5.1). Names are the specification's
 * (or Linux's where it gives none) with the prefix VIOMMU_VIRTIO_. Section numbers are that
 * document's.
 *
 * Dependency-free: <stdint.h> and macros. Feature names are masks (1 << bit), as the library's
 * feature words take them; NAME_BIT is the bit number the specification lists. Structures are
 * the guest's little-endian layouts: a big-endian host converts every field.
 */
#ifndef VIOMMU_SPEC_VIRTIO_H
#define VIOMMU_SPEC_VIRTIO_H

#include <stdint.h>

/* 2.1 Device Status Field. Writing 0 resets the device. */
#define VIOMMU_VIRTIO_S_ACKNOWLEDGE 1u
#define VIOMMU_VIRTIO_S_DRIVER 2u
#define VIOMMU_VIRTIO_S_DRIVER_OK 4u
#define VIOMMU_VIRTIO_S_FEATURES_OK 8u
#define VIOMMU_VIRTIO_S_NEEDS_RESET 64u /* DEVICE_NEEDS_RESET */
#define VIOMMU_VIRTIO_S_FAILED 128u

/* 6 Reserved Feature Bits (bits 24 to 40 are device-independent) */
#define VIOMMU_VIRTIO_F_INDIRECT_DESC_BIT 28
#define VIOMMU_VIRTIO_F_EVENT_IDX_BIT 29
#define VIOMMU_VIRTIO_F_VERSION_1_BIT 32
#define VIOMMU_VIRTIO_F_ACCESS_PLATFORM_BIT 33 /* formerly VIRTIO_F_IOMMU_PLATFORM */
#define VIOMMU_VIRTIO_F_RING_PACKED_BIT 34
#define VIOMMU_VIRTIO_F_INDIRECT_DESC (1ull << VIOMMU_VIRTIO_F_INDIRECT_DESC_BIT)
#define VIOMMU_VIRTIO_F_EVENT_IDX (1ull << VIOMMU_VIRTIO_F_EVENT_IDX_BIT)
#define VIOMMU_VIRTIO_F_VERSION_1 (1ull << VIOMMU_VIRTIO_F_VERSION_1_BIT)
#define VIOMMU_VIRTIO_F_ACCESS_PLATFORM (1ull << VIOMMU_VIRTIO_F_ACCESS_PLATFORM_BIT)
#define VIOMMU_VIRTIO_F_RING_PACKED (1ull << VIOMMU_VIRTIO_F_RING_PACKED_BIT)

/* 4.1.4.5 ISR status capability (virtio-pci): used buffer, configuration change. */
#define VIOMMU_VIRTIO_ISR_QUEUE 1u
#define VIOMMU_VIRTIO_ISR_CONFIG 2u

/* 2.7 Split Virtqueues: "the maximum Queue Size value is 32768". */
#define VIOMMU_VIRTIO_VIRTQ_MAX_SIZE 32768u

/*
 * 2.7 alignment of the three parts (table "Virtqueue Part Alignment"): descriptor table 16,
 * available ring 2, used ring 4.
 */
#define VIOMMU_VIRTIO_VIRTQ_DESC_ALIGN 16u
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_ALIGN 2u
#define VIOMMU_VIRTIO_VIRTQ_USED_ALIGN 4u

/* 2.7.5 The Virtqueue Descriptor Table */
struct viommu_virtio_virtq_desc {
	uint64_t addr; /* le64 guest-physical (or IOVA with ACCESS_PLATFORM) address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT 1u     /* the chain continues at next */
#define VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE 2u    /* device-writable (otherwise readable) */
#define VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT 4u /* the buffer is a table of descriptors */

/*
 * 2.7.6 The Virtqueue Available Ring: le16 flags, le16 idx, le16 ring[size], le16 used_event
 * (with EVENT_IDX).
 */
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF 0u
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF 2u
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF 4u
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_SIZE(qsz) (6u + 2u * (uint64_t)(qsz))
/* used_event sits after the ring */
#define VIOMMU_VIRTIO_VIRTQ_USED_EVENT_OFF(qsz) (4u + 2u * (uint64_t)(qsz))

/*
 * 2.7.7.2 / 2.7.10 with VIRTIO_F_EVENT_IDX: notify when the index moved from old to new_idx past
 * event (the other side's used_event or avail_event), modulo 2^16: the specification's
 * vring_need_event. Arguments are uint16_t values without side effects.
 */
#define VIOMMU_VIRTIO_NEED_EVENT(event, new_idx, old) \
	((uint16_t)((new_idx) - (event)-1) < (uint16_t)((new_idx) - (old)))

/*
 * 2.7.8 The Virtqueue Used Ring: le16 flags, le16 idx, struct virtq_used_elem ring[size], le16
 * avail_event (with EVENT_IDX).
 */
struct viommu_virtio_virtq_used_elem {
	uint32_t id;  /* le32 head of the chain */
	uint32_t len; /* le32 bytes written into the chain's writable buffers */
};

#define VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY 1u
#define VIOMMU_VIRTIO_VIRTQ_USED_FLAGS_OFF 0u
#define VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF 2u
#define VIOMMU_VIRTIO_VIRTQ_USED_RING_OFF 4u
#define VIOMMU_VIRTIO_VIRTQ_USED_SIZE(qsz) (6u + 8u * (uint64_t)(qsz))
/* avail_event sits after the ring */
#define VIOMMU_VIRTIO_VIRTQ_AVAIL_EVENT_OFF(qsz) (4u + 8u * (uint64_t)(qsz))

/*
 * 2.8 Packed Virtqueues. One descriptor ring serves both directions: the driver makes a
 * descriptor available by writing its flags with AVAIL equal to its ring wrap counter and USED
 * the inverse; the device marks it used by writing AVAIL and USED both equal to its own wrap
 * counter (2.8.1). Both counters start at 1 and flip every time the index passes the end of the
 * ring. "Packed virtqueues support up to 2^15 entries each" (2.8): a position fits 15 bits.
 */
#define VIOMMU_VIRTIO_PACKED_MAX_SIZE 32768u

/* 2.8.13 The Virtqueue Descriptor Format (16 bytes, 16-byte aligned ring, 2.8.10.1). */
struct viommu_virtio_pvirtq_desc {
	uint64_t addr; /* le64 buffer address (unused in a used descriptor) */
	uint32_t len;  /* le32 buffer length; in a used descriptor, bytes written */
	uint16_t id;   /* le16 buffer ID (the last descriptor of a chain carries it) */
	uint16_t flags;
};

#define VIOMMU_VIRTIO_PVIRTQ_DESC_ALIGN 16u
#define VIOMMU_VIRTIO_PVIRTQ_DESC_LEN_OFF 8u
#define VIOMMU_VIRTIO_PVIRTQ_DESC_ID_OFF 12u
#define VIOMMU_VIRTIO_PVIRTQ_DESC_FLAGS_OFF 14u
/* NEXT, WRITE and INDIRECT have the split ring's values (2.8.6, 2.8.3, 2.8.7). */
#define VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL (1u << 7)
#define VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED (1u << 15)

/*
 * 2.8.14 Event Suppression Structure Format: the driver area (driver event suppression, written
 * by the driver, it controls used-buffer notifications) and the device area (device event
 * suppression, written by the device, it controls available-buffer notifications) each hold one
 * of these, 4-byte aligned (2.8.10.1). desc: bits 0-14 the descriptor ring offset of the event,
 * bit 15 the wrap counter it applies to; flags: bits 0-1 the mode.
 */
struct viommu_virtio_pvirtq_event_suppress {
	uint16_t desc;	/* le16 desc_event_off (15 bits) | desc_event_wrap << 15 */
	uint16_t flags; /* le16 desc_event_flags (2 bits), the rest reserved */
};

#define VIOMMU_VIRTIO_PVIRTQ_EVENT_ALIGN 4u
#define VIOMMU_VIRTIO_PVIRTQ_EVENT_DESC_OFF 0u
#define VIOMMU_VIRTIO_PVIRTQ_EVENT_FLAGS_OFF 2u
#define VIOMMU_VIRTIO_PVIRTQ_EVENT_WRAP_SHIFT 15
#define VIOMMU_VIRTIO_PVIRTQ_EVENT_FLAGS_MASK 3u
#define VIOMMU_VIRTIO_RING_EVENT_FLAGS_ENABLE 0u  /* notify every time */
#define VIOMMU_VIRTIO_RING_EVENT_FLAGS_DISABLE 1u /* never notify */
/* Notify when the descriptor at desc is made available / used; only with VIRTIO_F_EVENT_IDX. */
#define VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC 2u

/* 5.1.2 Network device virtqueues (without VIRTIO_NET_F_MQ; with it, receiveqN is 2(N-1) and
 * transmitqN 2(N-1)+1) */
#define VIOMMU_VIRTIO_NET_RECEIVEQ1 0u
#define VIOMMU_VIRTIO_NET_TRANSMITQ1 1u

/* 5.1.3 Network device feature bits (the ones viommu-vhost offers or relies on). */
#define VIOMMU_VIRTIO_NET_F_MRG_RXBUF_BIT 15
#define VIOMMU_VIRTIO_NET_F_CTRL_VQ_BIT 17
#define VIOMMU_VIRTIO_NET_F_MQ_BIT 22
#define VIOMMU_VIRTIO_NET_F_MRG_RXBUF (1ull << VIOMMU_VIRTIO_NET_F_MRG_RXBUF_BIT)
#define VIOMMU_VIRTIO_NET_F_CTRL_VQ (1ull << VIOMMU_VIRTIO_NET_F_CTRL_VQ_BIT)
#define VIOMMU_VIRTIO_NET_F_MQ (1ull << VIOMMU_VIRTIO_NET_F_MQ_BIT)

/* 5.1.4 max_virtqueue_pairs: 1 to 0x8000 (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN/MAX). */
#define VIOMMU_VIRTIO_NET_MQ_PAIRS_MAX 0x8000u

/* 5.1.6 Device Operation: with VERSION_1 the header always has num_buffers: 12 bytes. */
struct viommu_virtio_net_hdr_mrg_rxbuf {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#ifndef __cplusplus
_Static_assert(sizeof(struct viommu_virtio_virtq_desc) == 16, "VIRTIO 1.2 2.7.5 layout");
_Static_assert(sizeof(struct viommu_virtio_virtq_used_elem) == 8, "VIRTIO 1.2 2.7.8 layout");
_Static_assert(sizeof(struct viommu_virtio_net_hdr_mrg_rxbuf) == 12, "VIRTIO 1.2 5.1.6 layout");
_Static_assert(sizeof(struct viommu_virtio_pvirtq_desc) == 16, "VIRTIO 1.2 2.8.13 layout");
_Static_assert(sizeof(struct viommu_virtio_pvirtq_event_suppress) == 4, "VIRTIO 1.2 2.8.14 layout");
#endif

#endif /* VIOMMU_SPEC_VIRTIO_H */
