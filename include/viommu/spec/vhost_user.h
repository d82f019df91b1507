/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user protocol as QEMU's docs/interop/vhost-user.rst specifies it: message header and
 * flags, front-end and back-end message types, protocol features, and the payloads the device
 * IOTLB path uses (vring state and addresses, memory regions, IOTLB messages), under that
 * document's names with the prefix VIOMMU_VHOST_USER_ (structures: struct viommu_vhost_user_*).
 * Section names in the comments are that document's.
 *
 * Dependency-free: <stdint.h> and macros. Feature names are masks (1 << bit); NAME_BIT is the
 * bit number the document lists. All fields are in host byte order (the peers share a host).
 */
#ifndef VIOMMU_SPEC_VHOST_USER_H
#define VIOMMU_SPEC_VHOST_USER_H

#include <stdint.h>

/* "Message Specification" / "Header": request, flags, size, then size bytes of payload. */
struct __attribute__((packed)) viommu_vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

#define VIOMMU_VHOST_USER_HDR_SIZE 12u
#define VIOMMU_VHOST_USER_VERSION 0x1u /* flags bits 0-1 */
#define VIOMMU_VHOST_USER_VERSION_MASK 0x3u
#define VIOMMU_VHOST_USER_REPLY_MASK (1u << 2)	    /* flags bit 2: a reply */
#define VIOMMU_VHOST_USER_NEED_REPLY_MASK (1u << 3) /* flags bit 3: REPLY_ACK asked */

/* "Front-end message types" */
#define VIOMMU_VHOST_USER_GET_FEATURES 1
#define VIOMMU_VHOST_USER_SET_FEATURES 2
#define VIOMMU_VHOST_USER_SET_OWNER 3
#define VIOMMU_VHOST_USER_RESET_OWNER 4
#define VIOMMU_VHOST_USER_SET_MEM_TABLE 5
#define VIOMMU_VHOST_USER_SET_LOG_BASE 6
#define VIOMMU_VHOST_USER_SET_LOG_FD 7
#define VIOMMU_VHOST_USER_SET_VRING_NUM 8
#define VIOMMU_VHOST_USER_SET_VRING_ADDR 9
#define VIOMMU_VHOST_USER_SET_VRING_BASE 10
#define VIOMMU_VHOST_USER_GET_VRING_BASE 11
#define VIOMMU_VHOST_USER_SET_VRING_KICK 12
#define VIOMMU_VHOST_USER_SET_VRING_CALL 13
#define VIOMMU_VHOST_USER_SET_VRING_ERR 14
#define VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES 15
#define VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES 16
#define VIOMMU_VHOST_USER_GET_QUEUE_NUM 17
#define VIOMMU_VHOST_USER_SET_VRING_ENABLE 18
#define VIOMMU_VHOST_USER_SEND_RARP 19
#define VIOMMU_VHOST_USER_NET_SET_MTU 20
#define VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD 21 /* formerly SET_SLAVE_REQ_FD */
#define VIOMMU_VHOST_USER_IOTLB_MSG 22
#define VIOMMU_VHOST_USER_GET_MAX_MEM_SLOTS 36
#define VIOMMU_VHOST_USER_ADD_MEM_REG 37
#define VIOMMU_VHOST_USER_REM_MEM_REG 38

/* "Back-end message types" (sent on the SET_BACKEND_REQ_FD channel) */
#define VIOMMU_VHOST_USER_BACKEND_IOTLB_MSG 1 /* formerly SLAVE_IOTLB_MSG */

/* "Protocol features" */
#define VIOMMU_VHOST_USER_PROTOCOL_F_MQ_BIT 0
#define VIOMMU_VHOST_USER_PROTOCOL_F_LOG_SHMFD_BIT 1
#define VIOMMU_VHOST_USER_PROTOCOL_F_RARP_BIT 2
#define VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK_BIT 3
#define VIOMMU_VHOST_USER_PROTOCOL_F_MTU_BIT 4
#define VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ_BIT 5 /* formerly SLAVE_REQ */
#define VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS_BIT 15
#define VIOMMU_VHOST_USER_PROTOCOL_F_MQ (1ull << VIOMMU_VHOST_USER_PROTOCOL_F_MQ_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_LOG_SHMFD (1ull << VIOMMU_VHOST_USER_PROTOCOL_F_LOG_SHMFD_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_RARP (1ull << VIOMMU_VHOST_USER_PROTOCOL_F_RARP_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK (1ull << VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_MTU (1ull << VIOMMU_VHOST_USER_PROTOCOL_F_MTU_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ \
	(1ull << VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ_BIT)
#define VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS \
	(1ull << VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS_BIT)

/*
 * Feature bits of GET_FEATURES/SET_FEATURES that belong to vhost, not to virtio ("Feature
 * negotiation"): VHOST_F_LOG_ALL and VHOST_USER_F_PROTOCOL_FEATURES.
 */
#define VIOMMU_VHOST_USER_F_LOG_ALL_BIT 26
#define VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES_BIT 30
#define VIOMMU_VHOST_USER_F_LOG_ALL (1ull << VIOMMU_VHOST_USER_F_LOG_ALL_BIT)
#define VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES (1ull << VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES_BIT)

/* "A vring state description" */
struct __attribute__((packed)) viommu_vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};

/*
 * "Vring descriptor indices for packed virtqueues": SET_VRING_BASE and GET_VRING_BASE carry both
 * positions in num. Bits 0-14 the next available descriptor, bit 15 the driver (available) ring
 * wrap counter, bits 16-30 the next used descriptor, bit 31 the device (used) ring wrap counter.
 * (For a split virtqueue num is the 16-bit free-running available index.)
 */
#define VIOMMU_VHOST_USER_PACKED_IDX_MASK 0x7fffu
#define VIOMMU_VHOST_USER_PACKED_AVAIL_WRAP (1u << 15)
#define VIOMMU_VHOST_USER_PACKED_USED_SHIFT 16

/*
 * "A vring address description". Note: used before avail. For a packed virtqueue desc is the
 * descriptor ring, avail the driver area and used the device area (the event suppression
 * structures).
 */
struct __attribute__((packed)) viommu_vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

#define VIOMMU_VHOST_USER_VRING_F_LOG (1u << 0) /* VHOST_VRING_F_LOG */

/* "Memory region description" */
struct __attribute__((packed)) viommu_vhost_user_memory_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

/* "Multiple Memory regions description" (SET_MEM_TABLE): at most 8 regions, one fd each. */
#define VIOMMU_VHOST_USER_MEMORY_BASELINE_NREGIONS 8u
struct __attribute__((packed)) viommu_vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct viommu_vhost_user_memory_region regions[VIOMMU_VHOST_USER_MEMORY_BASELINE_NREGIONS];
};

/* "Single Memory region description" (ADD_MEM_REG, REM_MEM_REG) */
struct __attribute__((packed)) viommu_vhost_user_memory_single {
	uint64_t padding;
	struct viommu_vhost_user_memory_region region;
};

/*
 * SET_VRING_KICK/CALL/ERR payload (a u64): "Bits (0-7) of the payload contain the vring index.
 * Bit 8 is the invalid FD flag."
 */
#define VIOMMU_VHOST_USER_VRING_IDX_MASK 0xffu
#define VIOMMU_VHOST_USER_VRING_NOFD_MASK (1u << 8)

/* "An IOTLB message": Linux's struct vhost_iotlb_msg. 26 meaningful bytes, 32 on the wire. */
struct __attribute__((packed)) viommu_vhost_user_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
	uint8_t pad[6];
};

#define VIOMMU_VHOST_USER_IOTLB_MSG_MIN_SIZE 26u

/* IOTLB message perm (VHOST_ACCESS_*) and type (VHOST_IOTLB_*) */
#define VIOMMU_VHOST_USER_ACCESS_RO 0x1u
#define VIOMMU_VHOST_USER_ACCESS_WO 0x2u
#define VIOMMU_VHOST_USER_ACCESS_RW 0x3u
#define VIOMMU_VHOST_USER_IOTLB_MISS 1u
#define VIOMMU_VHOST_USER_IOTLB_UPDATE 2u
#define VIOMMU_VHOST_USER_IOTLB_INVALIDATE 3u
#define VIOMMU_VHOST_USER_IOTLB_ACCESS_FAIL 4u

#ifndef __cplusplus
_Static_assert(sizeof(struct viommu_vhost_user_header) == VIOMMU_VHOST_USER_HDR_SIZE, "header");
_Static_assert(sizeof(struct viommu_vhost_user_vring_addr) == 40, "vring address");
_Static_assert(sizeof(struct viommu_vhost_user_memory) == 264, "memory regions");
_Static_assert(sizeof(struct viommu_vhost_user_iotlb_msg) == 32, "IOTLB message");
#endif

#endif /* VIOMMU_SPEC_VHOST_USER_H */
