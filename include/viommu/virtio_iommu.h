/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu device model (VIRTIO 1.2/1.3 section 5.13, device ID 23), transport-independent.
 *
 * The embedding VMM owns the transport (virtio-pci or virtio-mmio) and forwards to this model:
 * device feature reads, driver feature writes, device status, configuration space accesses,
 * queue setup, queue notifications (kicks) and reset. The model reads and writes the split
 * virtqueues in guest memory through the host ops, processes requests on the request queue
 * synchronously inside viommu_virtio_iommu_queue_notify(), writes translation faults to the event
 * queue, and raises used-buffer and configuration-change notifications through, in order of
 * preference: the interrupt callback, an MSI programmed per queue, or the wired line `irq_line`
 * of the host ops (with the ISR status bits of virtio-pci, read and cleared with
 * viommu_virtio_iommu_isr_read()).
 *
 * DMA from endpoints is checked with viommu_translate() (req.sid is the endpoint ID). The VMM
 * declares which endpoint IDs exist and which reserved regions each reports in PROBE.
 */
#ifndef VIOMMU_VIRTIO_IOMMU_H
#define VIOMMU_VIRTIO_IOMMU_H

#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The specification's constants and layouts (device ID, feature bits VIOMMU_VIRTIO_IOMMU_F_* and
 * VIOMMU_VIRTIO_F_*, device status VIOMMU_VIRTIO_S_*, ISR bits VIOMMU_VIRTIO_ISR_*, queue indices
 * VIOMMU_VIRTIO_IOMMU_REQUESTQ/EVENTQ, VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE) come from the
 * specification headers.
 */

/* Number of queues, and the "queue" value of a configuration-change interrupt. */
#define VIOMMU_VIRTIO_IOMMU_NQUEUES 2u
#define VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR 2u

/* RESV_MEM subtypes (section 5.13.6.8.1). */
enum viommu_virtio_iommu_resv {
	VIOMMU_VIRTIO_IOMMU_RESV_RESERVED = VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_RESERVED,
	VIOMMU_VIRTIO_IOMMU_RESV_MSI = VIOMMU_VIRTIO_IOMMU_RESV_MEM_T_MSI,
};

/*
 * Creation parameters. A zero field takes the default named beside it, so `{ 0 }` is a usable
 * device: 4 KiB granule, 48-bit input range, all domain IDs, bypass off, every feature but the
 * superseded F_BYPASS.
 */
struct viommu_virtio_iommu_config {
	uint64_t page_size_mask; /* 0: 4 KiB | 2 MiB | 1 GiB */
	uint64_t input_start;	 /* input_range; with input_end 0: [0, 2^48 - 1] */
	uint64_t input_end;
	uint32_t domain_start; /* domain_range; with domain_end 0: [0, UINT32_MAX] */
	uint32_t domain_end;
	uint32_t probe_size;	 /* bytes of PROBE properties; 0: 512 */
	bool bypass;		 /* initial (and system-reset) value of config.bypass */
	uint64_t features;	 /* offered features; 0: all supported but F_BYPASS */
	uint16_t queue_size_max; /* 0: 1024 */
	uint32_t max_domains;	 /* live domains; 0: 4096 */
	uint32_t max_mappings;	 /* mappings per domain; 0: 1 << 20 */
	uint64_t phys_end;	 /* highest guest-physical address a MAP may target; 0: 2^64-1 */
	unsigned int irq_line;	 /* wired interrupt line when neither callback nor MSI is set */
	/* Interrupt callback: @vector is a queue index or VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR. */
	void (*interrupt)(void *opaque, unsigned int vector);
	void *interrupt_opaque;
};

/*
 * The defaults above written out: 4 KiB | 2 MiB | 1 GiB pages, input range [0, 2^48 - 1], domains
 * [0, UINT32_MAX], 512 bytes of PROBE properties, bypass off, every supported feature but
 * F_BYPASS (with VERSION_1), queues of up to 1024, 4096 domains of up to 1 << 20 mappings, MAP
 * targets up to 2^64 - 1, line 0, no callback. The device this creates is the one `{ 0 }` creates.
 */
VIOMMU_API void viommu_virtio_iommu_config_init(struct viommu_virtio_iommu_config *cfg);

/* Create a device. @ops/@opaque reach guest memory and interrupts. */
VIOMMU_API int viommu_virtio_iommu_create(const struct viommu_virtio_iommu_config *cfg,
					  const struct viommu_host_ops *ops, void *opaque,
					  struct viommu **out);

/* Declare that endpoint @ep exists (VIOMMU_EEXIST if it already does). */
VIOMMU_API int viommu_virtio_iommu_add_endpoint(struct viommu *v, uint32_t ep);

/*
 * Add a reserved region [start, end] (inclusive) that PROBE reports for @ep with @subtype. A DMA
 * into an MSI region passes untranslated (it reaches the interrupt controller); a DMA into a
 * RESERVED region faults; a MAP overlapping either is refused. At most 16 regions per endpoint.
 */
VIOMMU_API int viommu_virtio_iommu_add_resv_region(struct viommu *v, uint32_t ep,
						   enum viommu_virtio_iommu_resv subtype,
						   uint64_t start, uint64_t end);

/* Features: what the device offers, and what the driver writes (at most once per reset). */
VIOMMU_API int viommu_virtio_iommu_get_device_features(const struct viommu *v, uint64_t *features);
VIOMMU_API int viommu_virtio_iommu_set_driver_features(struct viommu *v, uint64_t features);
VIOMMU_API int viommu_virtio_iommu_get_driver_features(const struct viommu *v, uint64_t *features);

/*
 * Device status (section 2.1). Setting FEATURES_OK with an unacceptable feature set leaves the
 * bit clear, as section 3.1.1 requires; writing 0 resets the device.
 */
VIOMMU_API int viommu_virtio_iommu_get_status(const struct viommu *v, uint8_t *status);
VIOMMU_API int viommu_virtio_iommu_set_status(struct viommu *v, uint8_t status);

/* Device reset: endpoints detached, domains gone, queues off, features cleared. */
VIOMMU_API int viommu_virtio_iommu_reset(struct viommu *v);

/*
 * Configuration space (struct viommu_virtio_iommu_config_layout), little-endian, @size 1, 2, 4 or 8 within the
 * 40 bytes. Only `bypass` is writable, and only once BYPASS_CONFIG is negotiated; other writes are
 * ignored. Returns VIOMMU_EINVAL for a bad size or an access past the structure.
 */
VIOMMU_API int viommu_virtio_iommu_config_read(const struct viommu *v, uint32_t offset,
					       unsigned int size, uint64_t *val);
VIOMMU_API int viommu_virtio_iommu_config_write(struct viommu *v, uint32_t offset,
						unsigned int size, uint64_t val);

/* One virtqueue as the driver programmed it through the transport. */
struct viommu_virtio_queue {
	uint16_t size;
	uint64_t desc;
	uint64_t avail; /* "driver area" */
	uint64_t used;	/* "device area" */
};

VIOMMU_API int viommu_virtio_iommu_queue_max_size(const struct viommu *v, unsigned int queue,
						  uint16_t *size);
/* Enable @queue with layout @q (checked: size, alignment, wrap); VIOMMU_EBUSY if enabled. */
VIOMMU_API int viommu_virtio_iommu_queue_enable(struct viommu *v, unsigned int queue,
						const struct viommu_virtio_queue *q);
/* Route @vector (queue index or CONFIG_VECTOR) to an MSI; @enable false goes back to the line. */
VIOMMU_API int viommu_virtio_iommu_set_msi(struct viommu *v, unsigned int vector, bool enable,
					   uint64_t addr, uint32_t data);

/*
 * The driver notified @queue (a kick). For the request queue, every available request is
 * processed before this returns; used-buffer notifications are raised as the driver asked.
 */
VIOMMU_API int viommu_virtio_iommu_queue_notify(struct viommu *v, unsigned int queue);

/* Read and clear the ISR status (lowers the wired line). */
VIOMMU_API int viommu_virtio_iommu_isr_read(struct viommu *v, uint8_t *isr);

/* Counters a simulator or VMM will want. */
struct viommu_virtio_iommu_stats {
	uint64_t requests[6]; /* by type: [0] unrecognised or unparsable, [1..5] ATTACH..PROBE */
	uint64_t status[9];   /* requests completed with each VIOMMU_VIRTIO_IOMMU_S_* status */
	uint64_t unwritten;   /* buffers returned with used length 0 */
	uint64_t kicks[2];    /* queue notifications per queue */
	uint64_t used_notifications; /* used-buffer interrupts raised (both queues) */
	uint64_t suppressed;	     /* used-buffer interrupts the driver suppressed */
	uint64_t config_notifications;
	uint64_t needs_reset;	 /* times the device entered DEVICE_NEEDS_RESET */
	uint64_t events_written; /* fault reports written to the event queue */
	uint64_t events_dropped; /* fault reports dropped for want of a buffer */
	uint64_t translations;
	uint64_t translation_faults;
	uint64_t bypass_translations;
	uint64_t notifier_events; /* MAP/UNMAP events sent to consumers */
	uint64_t domains;	  /* live now */
	uint64_t mappings;	  /* live now, all domains */
};

/* Fill @st; VIOMMU_EINVAL if @v is not a virtio-iommu device. */
VIOMMU_API int viommu_virtio_iommu_get_stats(const struct viommu *v,
					     struct viommu_virtio_iommu_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_VIRTIO_IOMMU_H */
