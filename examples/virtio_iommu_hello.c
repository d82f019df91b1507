// SPDX-License-Identifier: MIT
/*
 * A virtio-iommu device over flat guest memory, driven as a guest driver would: feature
 * negotiation, the request and event queues in guest memory, ATTACH and MAP through requests, a
 * DMA that translates, UNMAP, and the same DMA again: it faults, and the fault report arrives on
 * the event queue. Exits 0 only if every step gave the expected answer.
 *
 * Guest structures are little-endian; this example copies them as they lie in host memory, so
 * it runs as written on a little-endian host (x86-64, Arm64).
 */
#include <stdio.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/viommu.h>
#include <viommu/virtio_iommu.h>

#define QSIZE 8
#define EP 1 /* endpoint id: the sid of the DMAs below */
#define DOMAIN 1
#define IOVA 0x100000ull /* one 4 KiB page of IOVA ... */
#define PHYS 0x80000ull	 /* ... mapped to this guest-physical page */
#define REQ 0x40000ull	 /* where requests are built in guest memory */
#define EVBUF 0x41000ull /* the event queue's one buffer */

struct queue {
	uint64_t desc, avail, used;
	uint16_t next_avail; /* the driver's avail->idx */
};

static struct viommu_flatmem *ram;

static void put(uint64_t gpa, const void *p, size_t n)
{
	viommu_flatmem_ops()->dma_write(ram, gpa, p, n);
}

static void get(uint64_t gpa, void *p, size_t n)
{
	viommu_flatmem_ops()->dma_read(ram, gpa, p, n);
}

/* Make the chain starting at descriptor @head available. */
static void make_available(struct queue *q, uint16_t head)
{
	put(q->avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF + 2 * (q->next_avail % QSIZE), &head, 2);
	q->next_avail++;
	put(q->avail + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, &q->next_avail, 2);
}

static uint16_t used_idx(const struct queue *q)
{
	uint16_t idx;

	get(q->used + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, &idx, 2);
	return idx;
}

/*
 * Send one request of @len bytes ending in its tail: the device reads all but the tail and
 * writes the tail. Returns the status the device wrote.
 */
static int request(struct viommu *v, struct queue *q, const void *req, size_t len)
{
	struct viommu_virtio_iommu_req_tail tail = { .status = 0xff };
	struct viommu_virtio_virtq_desc d[2] = {
		{ .addr = REQ,
		  .len = (uint32_t)(len - sizeof(tail)),
		  .flags = VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT,
		  .next = 1 },
		{ .addr = REQ + len - sizeof(tail),
		  .len = sizeof(tail),
		  .flags = VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE },
	};
	uint16_t before = used_idx(q);

	put(REQ, req, len);
	put(REQ + len - sizeof(tail), &tail, sizeof(tail));
	put(q->desc, d, sizeof(d));
	make_available(q, 0);
	viommu_virtio_iommu_queue_notify(v, VIOMMU_VIRTIO_IOMMU_REQUESTQ); /* the kick */
	if (used_idx(q) != (uint16_t)(before + 1))
		return -1;
	get(REQ + len - sizeof(tail), &tail, sizeof(tail));
	return tail.status;
}

static void enable(struct viommu *v, unsigned int index, struct queue *q, uint64_t base)
{
	struct viommu_virtio_queue layout = {
		.size = QSIZE, .desc = base, .avail = base + 0x1000, .used = base + 0x2000
	};

	*q = (struct queue){ .desc = layout.desc, .avail = layout.avail, .used = layout.used };
	viommu_virtio_iommu_queue_enable(v, index, &layout);
}

static int dma(struct viommu *v, uint64_t iova, struct viommu_xlate_result *res)
{
	struct viommu_xlate_req req = {
		.sid = EP, .iova = iova, .len = 4, .access = VIOMMU_ACC_READ
	};

	viommu_translate(v, &req, res);
	return viommu_xlate_ok(res);
}

int main(void)
{
	struct viommu_virtio_iommu_req_attach attach = { .head.type = VIOMMU_VIRTIO_IOMMU_T_ATTACH,
							 .domain = DOMAIN,
							 .endpoint = EP };
	struct viommu_virtio_iommu_req_map map = {
		.head.type = VIOMMU_VIRTIO_IOMMU_T_MAP,
		.domain = DOMAIN,
		.virt_start = IOVA,
		.virt_end = IOVA + 0xfff,
		.phys_start = PHYS,
		.flags = VIOMMU_VIRTIO_IOMMU_MAP_F_READ | VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE,
	};
	struct viommu_virtio_iommu_req_unmap unmap = {
		.head.type = VIOMMU_VIRTIO_IOMMU_T_UNMAP,
		.domain = DOMAIN,
		.virt_start = IOVA,
		.virt_end = IOVA + 0xfff,
	};
	struct viommu_virtio_virtq_desc evd = {
		.addr = EVBUF,
		.len = sizeof(struct viommu_virtio_iommu_fault),
		.flags = VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE,
	};
	struct viommu_virtio_iommu_config cfg;
	struct viommu_virtio_iommu_fault ev;
	struct viommu_xlate_result res;
	struct queue rq, eq;
	uint64_t features;
	uint8_t status;
	struct viommu *v;
	int st, ok = 1;

	if (viommu_flatmem_create(0, 1 << 20, &ram))
		return 1;
	viommu_virtio_iommu_config_init(&cfg);
	if (viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), ram, &v) ||
	    viommu_virtio_iommu_add_endpoint(v, EP))
		return 1;

	/* Negotiation (virtio 3.1.1): take VERSION_1 and MAP_UNMAP of what the device offers. */
	viommu_virtio_iommu_set_status(v, VIOMMU_VIRTIO_S_ACKNOWLEDGE | VIOMMU_VIRTIO_S_DRIVER);
	viommu_virtio_iommu_get_device_features(v, &features);
	viommu_virtio_iommu_set_driver_features(v, features & (VIOMMU_VIRTIO_F_VERSION_1 |
							       VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP));
	viommu_virtio_iommu_set_status(v, VIOMMU_VIRTIO_S_ACKNOWLEDGE | VIOMMU_VIRTIO_S_DRIVER |
						  VIOMMU_VIRTIO_S_FEATURES_OK);
	viommu_virtio_iommu_get_status(v, &status);
	ok &= !!(status & VIOMMU_VIRTIO_S_FEATURES_OK);
	enable(v, VIOMMU_VIRTIO_IOMMU_REQUESTQ, &rq, 0x10000);
	enable(v, VIOMMU_VIRTIO_IOMMU_EVENTQ, &eq, 0x20000);
	put(eq.desc, &evd, sizeof(evd)); /* one buffer for a fault report */
	make_available(&eq, 0);
	viommu_virtio_iommu_set_status(v, status | VIOMMU_VIRTIO_S_DRIVER_OK);
	printf("features 0x%llx offered, status 0x%x\n", (unsigned long long)features, status);

	st = request(v, &rq, &attach, sizeof(attach));
	printf("ATTACH endpoint %u to domain %u: status %d\n", EP, DOMAIN, st);
	ok &= st == VIOMMU_VIRTIO_IOMMU_S_OK;
	st = request(v, &rq, &map, sizeof(map));
	printf("MAP 0x%llx-0x%llx -> 0x%llx: status %d\n", (unsigned long long)IOVA,
	       (unsigned long long)IOVA + 0xfff, (unsigned long long)PHYS, st);
	ok &= st == VIOMMU_VIRTIO_IOMMU_S_OK;

	ok &= dma(v, IOVA + 0x10, &res) && res.out == PHYS + 0x10;
	printf("DMA read 0x%llx -> 0x%llx\n", (unsigned long long)IOVA + 0x10,
	       (unsigned long long)res.out);

	st = request(v, &rq, &unmap, sizeof(unmap));
	printf("UNMAP 0x%llx-0x%llx: status %d\n", (unsigned long long)IOVA,
	       (unsigned long long)IOVA + 0xfff, st);
	ok &= st == VIOMMU_VIRTIO_IOMMU_S_OK;

	ok &= !dma(v, IOVA + 0x10, &res) && res.fault.reason == VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING;
	get(EVBUF, &ev, sizeof(ev));
	printf("DMA read 0x%llx: fault reason %u in the result; event queue: %u entry, reason %u, "
	       "endpoint %u, address 0x%llx\n",
	       (unsigned long long)IOVA + 0x10, res.fault.reason, used_idx(&eq), ev.reason,
	       ev.endpoint, (unsigned long long)ev.address);
	ok &= used_idx(&eq) == 1 && ev.reason == VIOMMU_VIRTIO_IOMMU_FAULT_R_MAPPING &&
	      ev.endpoint == EP && ev.address == IOVA + 0x10 &&
	      (ev.flags & VIOMMU_VIRTIO_IOMMU_FAULT_F_READ);

	viommu_destroy(v);
	viommu_flatmem_destroy(ram);
	printf("virtio_iommu_hello: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
