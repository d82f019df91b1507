/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu device as the Virtual I/O Device (VIRTIO) specification 1.2 (and 1.3) defines it,
 * section 5.13 "IOMMU Device" (device ID 23). Names are the specification's own. Guest-visible
 * structures are little-endian and packed exactly as listed; the sizes are asserted below so the
 * code can use offsetof() into them for byte offsets.
 */
#ifndef VIOMMU_VIRTIO_IOMMU_SPEC_H
#define VIOMMU_VIRTIO_IOMMU_SPEC_H

#include <assert.h>
#include <stdint.h>

/* 5.13.1 Device ID */
#define VIRTIO_ID_IOMMU 23

/* 5.13.2 Virtqueues */
#define VIRTIO_IOMMU_REQUESTQ 0
#define VIRTIO_IOMMU_EVENTQ 1

/* 5.13.3 Feature bits */
#define VIRTIO_IOMMU_F_INPUT_RANGE 0
#define VIRTIO_IOMMU_F_DOMAIN_RANGE 1
#define VIRTIO_IOMMU_F_MAP_UNMAP 2
#define VIRTIO_IOMMU_F_BYPASS 3 /* superseded by BYPASS_CONFIG */
#define VIRTIO_IOMMU_F_PROBE 4
#define VIRTIO_IOMMU_F_MMIO 5
#define VIRTIO_IOMMU_F_BYPASS_CONFIG 6

/* 5.13.4 Device configuration layout */
struct virtio_iommu_range_64 {
	uint64_t start;
	uint64_t end;
};

struct virtio_iommu_range_32 {
	uint32_t start;
	uint32_t end;
};

struct virtio_iommu_config {
	uint64_t page_size_mask;
	struct virtio_iommu_range_64 input_range;
	struct virtio_iommu_range_32 domain_range;
	uint32_t probe_size;
	uint8_t bypass;
	uint8_t reserved[3];
};

/* 5.13.6 Device operations: every request is a device-readable head + payload, then a
 * device-writable (payload +) tail. */
struct virtio_iommu_req_head {
	uint8_t type;
	uint8_t reserved[3];
};

struct virtio_iommu_req_tail {
	uint8_t status;
	uint8_t reserved[3];
};

#define VIRTIO_IOMMU_T_ATTACH 1
#define VIRTIO_IOMMU_T_DETACH 2
#define VIRTIO_IOMMU_T_MAP 3
#define VIRTIO_IOMMU_T_UNMAP 4
#define VIRTIO_IOMMU_T_PROBE 5

#define VIRTIO_IOMMU_S_OK 0	/* All good! Carry on. */
#define VIRTIO_IOMMU_S_IOERR 1	/* Virtio communication error */
#define VIRTIO_IOMMU_S_UNSUPP 2 /* Unsupported request */
#define VIRTIO_IOMMU_S_DEVERR 3 /* Internal device error */
#define VIRTIO_IOMMU_S_INVAL 4	/* Invalid parameters */
#define VIRTIO_IOMMU_S_RANGE 5	/* Out-of-range parameters */
#define VIRTIO_IOMMU_S_NOENT 6	/* Entry not found */
#define VIRTIO_IOMMU_S_FAULT 7	/* Bad address */
#define VIRTIO_IOMMU_S_NOMEM 8	/* Insufficient resources */

/* 5.13.6.3 ATTACH request */
struct virtio_iommu_req_attach {
	struct virtio_iommu_req_head head;
	uint32_t domain;
	uint32_t endpoint;
	uint32_t flags;
	uint8_t reserved[4];
	struct virtio_iommu_req_tail tail;
};

#define VIRTIO_IOMMU_ATTACH_F_BYPASS (1u << 0)

/* 5.13.6.4 DETACH request */
struct virtio_iommu_req_detach {
	struct virtio_iommu_req_head head;
	uint32_t domain;
	uint32_t endpoint;
	uint8_t reserved[8];
	struct virtio_iommu_req_tail tail;
};

/* 5.13.6.5 MAP request (virt_end is inclusive) */
struct __attribute__((packed)) virtio_iommu_req_map {
	struct virtio_iommu_req_head head;
	uint32_t domain;
	uint64_t virt_start;
	uint64_t virt_end;
	uint64_t phys_start;
	uint32_t flags;
	struct virtio_iommu_req_tail tail;
};

#define VIRTIO_IOMMU_MAP_F_READ (1u << 0)
#define VIRTIO_IOMMU_MAP_F_WRITE (1u << 1)
#define VIRTIO_IOMMU_MAP_F_MMIO (1u << 2)

/* 5.13.6.6 UNMAP request */
struct __attribute__((packed)) virtio_iommu_req_unmap {
	struct virtio_iommu_req_head head;
	uint32_t domain;
	uint64_t virt_start;
	uint64_t virt_end;
	uint8_t reserved[4];
	struct virtio_iommu_req_tail tail;
};

/* 5.13.6.7 PROBE request: the device-writable part is properties[probe_size] + tail. */
struct virtio_iommu_req_probe {
	struct virtio_iommu_req_head head;
	uint32_t endpoint;
	uint8_t reserved[64];
	/* uint8_t properties[probe_size]; struct virtio_iommu_req_tail tail; */
};

struct virtio_iommu_probe_property {
	uint16_t type; /* bits 0-11 type, 12-15 reserved */
	uint16_t length;
};

#define VIRTIO_IOMMU_PROBE_T_NONE 0
#define VIRTIO_IOMMU_PROBE_T_RESV_MEM 1
#define VIRTIO_IOMMU_PROBE_T_MASK 0xfffu

/* 5.13.6.8.1 Property RESV_MEM */
struct virtio_iommu_probe_resv_mem {
	struct virtio_iommu_probe_property head;
	uint8_t subtype;
	uint8_t reserved[3];
	uint64_t start;
	uint64_t end;
};

#define VIRTIO_IOMMU_RESV_MEM_T_RESERVED 0
#define VIRTIO_IOMMU_RESV_MEM_T_MSI 1

/* 5.13.6.9 Fault reporting */
struct virtio_iommu_fault {
	uint8_t reason;
	uint8_t reserved[3];
	uint32_t flags;
	uint32_t endpoint;
	uint32_t reserved1;
	uint64_t address;
};

#define VIRTIO_IOMMU_FAULT_R_UNKNOWN 0
#define VIRTIO_IOMMU_FAULT_R_DOMAIN 1
#define VIRTIO_IOMMU_FAULT_R_MAPPING 2

#define VIRTIO_IOMMU_FAULT_F_READ (1u << 0)
#define VIRTIO_IOMMU_FAULT_F_WRITE (1u << 1)
#define VIRTIO_IOMMU_FAULT_F_ADDRESS (1u << 8)

static_assert(sizeof(struct virtio_iommu_config) == 40, "5.13.4 layout");
static_assert(sizeof(struct virtio_iommu_req_attach) == 24, "5.13.6.3 layout");
static_assert(sizeof(struct virtio_iommu_req_detach) == 24, "5.13.6.4 layout");
static_assert(sizeof(struct virtio_iommu_req_map) == 40, "5.13.6.5 layout");
static_assert(sizeof(struct virtio_iommu_req_unmap) == 32, "5.13.6.6 layout");
static_assert(sizeof(struct virtio_iommu_req_probe) == 72, "5.13.6.7 layout");
static_assert(sizeof(struct virtio_iommu_probe_resv_mem) == 24, "5.13.6.8.1 layout");
static_assert(sizeof(struct virtio_iommu_fault) == 24, "5.13.6.9 layout");

#endif /* VIOMMU_VIRTIO_IOMMU_SPEC_H */
