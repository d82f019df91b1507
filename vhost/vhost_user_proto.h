/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user wire protocol, named as QEMU's docs/interop/vhost-user.rst names it. Section
 * names in the comments are that document's. All fields are in host byte order.
 */
#ifndef VHOST_USER_PROTO_H
#define VHOST_USER_PROTO_H

#include <stdint.h>

/* "Message Specification" / "Header": request, flags, size, then size bytes of payload. */
struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

#define VHOST_USER_HDR_SIZE 12u
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* "Front-end message types". */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21, /* formerly SET_SLAVE_REQ_FD */
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
};

/* "Back-end message types" (sent on the SET_BACKEND_REQ_FD channel). */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_IOTLB_MSG = 1, /* formerly SLAVE_IOTLB_MSG */
};

/* "Protocol features". */
enum {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5, /* formerly SLAVE_REQ */
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
};

/* Virtio feature bits used on GET_FEATURES/SET_FEATURES (virtio 1.2 §6, vhost-user.rst). */
enum {
	VIRTIO_NET_F_MRG_RXBUF = 15,
	VHOST_F_LOG_ALL = 26,
	VHOST_USER_F_PROTOCOL_FEATURES = 30,
	VIRTIO_F_VERSION_1 = 32,
	VIRTIO_F_ACCESS_PLATFORM = 33, /* a.k.a. VIRTIO_F_IOMMU_PLATFORM */
};

/* "A vring state description". */
struct vhost_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

/* "A vring address description". Note: used before avail. */
struct vhost_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

#define VHOST_VRING_F_LOG (1u << 0)

/* "Memory region description". */
struct vhost_user_memory_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

/* "Multiple Memory regions description" (SET_MEM_TABLE): at most 8 regions, one fd each. */
#define VHOST_MEMORY_BASELINE_NREGIONS 8u
struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_memory_region regions[VHOST_MEMORY_BASELINE_NREGIONS];
} __attribute__((packed));

/* "Single Memory region description" (ADD_MEM_REG, REM_MEM_REG). */
struct vhost_user_memory_single {
	uint64_t padding;
	struct vhost_user_memory_region region;
} __attribute__((packed));

/* SET_VRING_KICK/CALL/ERR payload: "Bits (0-7) of the payload contain the vring index. Bit 8 is
 * the invalid FD flag." */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

/* "An IOTLB message": Linux's struct vhost_iotlb_msg. 26 meaningful bytes, 32 on the wire. */
struct vhost_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t pad[6];
} __attribute__((packed));

#define VHOST_IOTLB_MSG_MIN_SIZE 26u

#define VHOST_ACCESS_RO 0x1u
#define VHOST_ACCESS_WO 0x2u
#define VHOST_ACCESS_RW 0x3u

#define VHOST_IOTLB_MISS 1u
#define VHOST_IOTLB_UPDATE 2u
#define VHOST_IOTLB_INVALIDATE 3u
#define VHOST_IOTLB_ACCESS_FAIL 4u

/* The largest payload we accept: SET_MEM_TABLE with 8 regions (264 bytes). */
#define VHOST_USER_PAYLOAD_MAX ((uint32_t)sizeof(struct vhost_user_memory))

/* Fds one message may carry (SET_MEM_TABLE: one per region). */
#define VHOST_USER_MAX_FDS VHOST_MEMORY_BASELINE_NREGIONS

/* Split virtqueue layout (virtio 1.2 §2.7). */
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u

#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY 1u

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* virtio 1.2 §5.1.6: with VERSION_1 the header always has num_buffers: 12 bytes. */
struct virtio_net_hdr_mrg_rxbuf {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#endif
