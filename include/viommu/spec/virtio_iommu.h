/* SPDX-License-Identifier: MIT */
/*
 * Virtual I/O Device (VIRTIO) Version 1.2 (unchanged in 1.3), section 5.13 "IOMMU Device":
 * device ID, virtqueues, feature bits, configuration layout, requests, status codes, PROBE
 * properties and fault reports, under the specification's names with the prefix
 * VIOMMU_VIRTIO_IOMMU_ (structures: struct viommu_virtio_iommu_*). The device configuration
 * layout is struct viommu_virtio_iommu_config_layout, since struct viommu_virtio_iommu_config is
 * the library's creation parameters (<viommu/virtio_iommu.h>).
 *
 * Dependency-free: <stdint.h> and macros. Feature names are masks (1 << bit); NAME_BIT is the
 * bit number the specification lists. Structures are little-endian and packed exactly as the
 * specification lists them (sizes asserted below), so offsetof() gives guest byte offsets.
 */
#ifndef VIOMMU_SPEC_VIRTIO_IOMMU_H
#define VIOMMU_SPEC_VIRTIO_IOMMU_H

#include <stdint.h>

/* 5.13.1 Device ID */
#define VIOMMU_VIRTIO_IOMMU_DEVICE_ID 23

/* 5.13.2 Virtqueues */
#define VIOMMU_VIRTIO_IOMMU_REQUESTQ 0u
#define VIOMMU_VIRTIO_IOMMU_EVENTQ 1u

/* 5.13.3 Feature bits */
#define VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE_BIT 0
#define VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE_BIT 1
#define VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP_BIT 2
#define VIOMMU_VIRTIO_IOMMU_F_BYPASS_BIT 3 /* superseded by BYPASS_CONFIG */
#define VIOMMU_VIRTIO_IOMMU_F_PROBE_BIT 4
#define VIOMMU_VIRTIO_IOMMU_F_MMIO_BIT 5
#define VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG_BIT 6
#define VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE (1ull << VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE (1ull << VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP (1ull << VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_BYPASS (1ull << VIOMMU_VIRTIO_IOMMU_F_BYPASS_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_PROBE (1ull << VIOMMU_VIRTIO_IOMMU_F_PROBE_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_MMIO (1ull << VIOMMU_VIRTIO_IOMMU_F_MMIO_BIT)
#define VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG (1ull << VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG_BIT)

/* 5.13.4 Device configuration layout */
struct viommu_virtio_iommu_range_64 {
	uint64_t start;
	uint64_t end;
};

struct viommu_virtio_iommu_range_32 {
	uint32_t start;
	uint32_t end;
};

struct viommu_virtio_iommu_config_layout {
	uint64_t page_size_mask;
	struct viommu_virtio_iommu_range_64 input_range;
	struct viommu_virtio_iommu_range_32 domain_range;
	uint32_t probe_size;
	uint8_t bypass;
	uint8_t reserved[3];
};

#define VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE 40u

/*
 * 5.13.6 Device operations: every request is a device-readable head + payload, then a
 * device-writable (payload +) tail.
 */
struct viommu_virtio_iommu_req_head {
	uint8_t type;
	uint8_t reserved[3];
};

struct viommu_virtio_iommu_req_tail {
	uint8_t status;
	uint8_t reserved[3];
};

#define VIOMMU_VIRTIO_IOMMU_T_ATTACH 1
#define VIOMMU_VIRTIO_IOMMU_T_DETACH 2
#define VIOMMU_VIRTIO_IOMMU_T_MAP 3
#define VIOMMU_VIRTIO_IOMMU_T_UNMAP 4
#define VIOMMU_VIRTIO_IOMMU_T_PROBE 5

#define VIOMMU_VIRTIO_IOMMU_S_OK 0     /* All good! Carry on. */
#define VIOMMU_VIRTIO_IOMMU_S_IOERR 1  /* Virtio communication error */
#define VIOMMU_VIRTIO_IOMMU_S_UNSUPP 2 /* Unsupported request */
#define VIOMMU_VIRTIO_IOMMU_S_DEVERR 3 /* Internal device error */
#define VIOMMU_VIRTIO_IOMMU_S_INVAL 4  /* Invalid parameters */
#define VIOMMU_VIRTIO_IOMMU_S_RANGE 5  /* Out-of-range parameters */
#define VIOMMU_VIRTIO_IOMMU_S_NOENT 6  /* Entry not found */
#define VIOMMU_VIRTIO_IOMMU_S_FAULT 7  /* Bad address */
#define VIOMMU_VIRTIO_IOMMU_S_NOMEM 8  /* Insufficient resources */

/* 5.13.6.3 ATTACH request */
struct viommu_virtio_iommu_req_attach {
	struct viommu_virtio_iommu_req_head head;
	uint32_t domain;
	uint32_t endpoint;
	uint32_t flags;
	uint8_t reserved[4];
	struct viommu_virtio_iommu_req_tail tail;
};

#define VIOMMU_VIRTIO_IOMMU_ATTACH_F_BYPASS (1u << 0)

/* 5.13.6.4 DETACH request */
struct viommu_virtio_iommu_req_detach {
	struct viommu_virtio_iommu_req_head head;
	uint32_t domain;
	uint32_t endpoint;
	uint8_t reserved[8];
	struct viommu_virtio_iommu_req_tail tail;
};

/* 5.13.6.5 MAP request (virt_end is inclusive) */
struct __attribute__((packed)) viommu_virtio_iommu_req_map {
	struct viommu_virtio_iommu_req_head head;
	uint32_t domain;
	uint64_t virt_start;
	uint64_t virt_end;
	uint64_t phys_start;
	uint32_t flags;
	struct viommu_virtio_iommu_req_tail tail;
};

#define VIOMMU_VIRTIO_IOMMU_MAP_F_READ (1u << 0)
#define VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE (1u << 1)
#define VIOMMU_VIRTIO_IOMMU_MAP_F_MMIO (1u << 2)

/* 5.13.6.6 UNMAP request */
struct __attribute__((packed)) viommu_virtio_iommu_req_unmap {
	struct viommu_virtio_iommu_req_head head;
	uint32_t domain;
	uint64_t virt_start;
	uint64_t virt_end;
	uint8_t reserved[4];
	struct viommu_virtio_iommu_req_tail tail;
};

/* 5.13.6.7 PROBE request: the device-writable part is properties[probe_size] + tail. */
struct viommu_virtio_iommu_req_probe {
	struct viommu_virtio_iommu_req_head head;
	uint32_t endpoint;
	uint8_t reserved[64];
	/* uint8_t properties[probe_size]; struct viommu_virtio_iommu_req_tail tail; */
};

/* 5.13.6.8 PROBE properties */
struct viommu_virtio_iommu_probe_property {
	uint16_t type; /* bits 0-11 type, 12-15 reserved */
	uint16_t length;
};

#define VIOMMU_VIRTIO_IOMMU_PROBE_T_NONE 0
#define VIOMMU_VIRTIO_IOMMU_PROBE_T_RESV_MEM 1
#define VIOMMU_VIRTIO_IOMMU_PROBE_T_MASK 0xfffu

/* 5.13.6.8.1 Property RESV_MEM */
struct viommu_virtio_iommu_probe_resv_mem {
	struct viommu_virtio_iommu_probe_property head;
	uint8_t subtype;
	uint8_t reserved[3];
	uint64_t start;
	uint64_t end;
};

#define VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_RESERVED 0
#define VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_MSI 1

/* 5.13.6.9 Fault reporting (event queue buffers) */
struct viommu_virtio_iommu_fault {
	uint8_t reason;
	uint8_t reserved[3];
	uint32_t flags;
	uint32_t endpoint;
	uint32_t reserved1;
	uint64_t address;
};

#define VIOMMU_VIRTIO_IOMMU_FAULT_R_UNKNOWN 0
#define VIOMMU_VIRTIO_IOMMU_FAULT_R_DOMAIN 1
#define VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING 2

#define VIOMMU_VIRTIO_IOMMU_FAULT_F_READ (1u << 0)
#define VIOMMU_VIRTIO_IOMMU_FAULT_F_WRITE (1u << 1)
#define VIOMMU_VIRTIO_IOMMU_FAULT_F_ADDRESS (1u << 8)

#ifndef __cplusplus
_Static_assert(sizeof(struct viommu_virtio_iommu_config_layout) == VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE,
	       "5.13.4 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_req_attach) == 24, "5.13.6.3 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_req_detach) == 24, "5.13.6.4 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_req_map) == 40, "5.13.6.5 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_req_unmap) == 32, "5.13.6.6 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_req_probe) == 72, "5.13.6.7 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_probe_resv_mem) == 24, "5.13.6.8.1 layout");
_Static_assert(sizeof(struct viommu_virtio_iommu_fault) == 24, "5.13.6.9 layout");
#endif

#endif /* VIOMMU_SPEC_VIRTIO_IOMMU_H */
