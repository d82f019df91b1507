// SPDX-License-Identifier: MIT
/*
 * virtio-iommu request queue from fuzz input. The input is a small header (negotiated features,
 * queue sizes, the available indices the "driver" publishes before each kick, DMA to translate)
 * followed by the guest memory image holding descriptor tables, rings and requests. The device
 * must never crash, leak, loop or touch memory outside the image; ASan/UBSan and the flat
 * memory's bounds checks enforce that, and a few invariants are checked after every kick.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/virtio_iommu.h>

#define MEM_SIZE 0x10000u
#define HDR 24u
#define RQ_DESC 0x0000u
#define RQ_AVAIL 0x0400u
#define RQ_USED 0x0600u
#define EQ_DESC 0x0900u
#define EQ_AVAIL 0x0d00u
#define EQ_USED 0x0d88u
#define MAX_KICKS 8u

struct counter {
	uint64_t n;
};

static void count(void *opaque, const struct viommu_event *ev)
{
	struct counter *c = opaque;

	if (ev->last < ev->iova)
		abort(); /* events are inclusive ranges */
	c->n++;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct viommu_virtio_iommu_config cfg = {
		.max_mappings = 64, .max_domains = 8, .probe_size = 64, .queue_size_max = 64
	};
	struct viommu_virtio_iommu_stats st;
	struct viommu_flatmem *fm;
	struct viommu_notifier *n;
	struct counter c = { 0 };
	struct viommu *v;
	uint64_t offered;
	uint8_t hdr[HDR] = { 0 }, status;
	unsigned int kicks;

	memcpy(hdr, data, size < HDR ? size : HDR);
	cfg.bypass = hdr[0] & 1;
	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	if (size > HDR)
		memcpy(viommu_flatmem_ptr(fm, 0, 1), data + HDR,
		       size - HDR < MEM_SIZE ? size - HDR : MEM_SIZE);
	if (viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	for (uint32_t ep = 0; ep < 4; ep++)
		viommu_virtio_iommu_add_endpoint(v, ep);
	viommu_virtio_iommu_add_resv_region(v, 1, VIOMMU_VIRTIO_IOMMU_RESV_MSI, 0xfee00000,
					    0xfeefffff);
	viommu_virtio_iommu_add_resv_region(v, 2, VIOMMU_VIRTIO_IOMMU_RESV_RESERVED, 0x8000,
					    0xffff);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, count, &c, &n);

	/* Negotiate what the header picks among the offered features. */
	viommu_virtio_iommu_get_device_features(v, &offered);
	viommu_virtio_iommu_set_status(v, 3);
	viommu_virtio_iommu_set_driver_features(v, offered & (VIOMMU_VIRTIO_F_VERSION_1 |
							      ((uint64_t)hdr[1] << 24) | hdr[2]));
	viommu_virtio_iommu_set_status(v, 11);
	{
		struct viommu_virtio_queue rq = { .size = (uint16_t)(1u << (hdr[3] % 7)),
						  .desc = RQ_DESC,
						  .avail = RQ_AVAIL,
						  .used = RQ_USED };
		struct viommu_virtio_queue eq = { .size = (uint16_t)(1u << (hdr[4] % 7)),
						  .desc = EQ_DESC,
						  .avail = EQ_AVAIL,
						  .used = EQ_USED };

		viommu_virtio_iommu_queue_enable(v, 0, &rq);
		viommu_virtio_iommu_queue_enable(v, 1, &eq);
	}
	viommu_virtio_iommu_set_status(v, 15);

	kicks = hdr[5] % (MAX_KICKS + 1);
	for (unsigned int k = 0; k < kicks; k++) {
		uint16_t avail = get16(hdr + 6 + 2 * k);
		struct viommu_xlate_req req = { .sid = k & 3,
						.iova = (uint64_t)hdr[22] << (k * 4),
						.len = hdr[23],
						.access = (k & 3) };
		struct viommu_xlate_result res;

		memcpy(viommu_flatmem_ptr(fm, RQ_AVAIL + 2, 2), &avail, 2);
		viommu_virtio_iommu_queue_notify(v, 0);
		if (viommu_translate(v, &req, &res))
			abort();
		if (viommu_xlate_ok(&res) && (res.len == 0 || res.len > (req.len ? req.len : 1)))
			abort();
		viommu_virtio_iommu_get_stats(v, &st);
		if (st.domains > cfg.max_domains || st.mappings > 8ull * cfg.max_mappings)
			abort();
		viommu_virtio_iommu_get_status(v, &status);
		if (hdr[0] & 2 && (status & VIOMMU_VIRTIO_S_NEEDS_RESET)) {
			/* A driver that resets after an error; the device starts clean. */
			viommu_virtio_iommu_reset(v);
			viommu_virtio_iommu_get_stats(v, &st);
			if (st.domains || st.mappings)
				abort();
		}
	}
	viommu_notifier_replay(v, n);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
