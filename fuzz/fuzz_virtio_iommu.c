// SPDX-License-Identifier: MIT
/*
 * virtio-iommu request queue from fuzz input. The input is a small header (negotiated features,
 * queue sizes, the available indices the "driver" publishes before each kick, DMA to translate)
 * followed by the guest memory image holding descriptor tables, rings and requests. The image is
 * applied as an XOR over a well-formed skeleton (eight requests of every type on the request
 * queue, event buffers on the event queue), so an all-zero input is a valid session and every
 * mutation is a near-valid one; the library is not coverage-instrumented, and this keeps random
 * inputs close to the interesting paths. The device must never crash, leak, loop or touch memory
 * outside the image (ASan/UBSan and the flat memory's bounds checks enforce that), and a few
 * invariants are checked after every kick. Header bits of byte 0 also reach the transport: MSI
 * routing (0x04), ISR reads (0x08), configuration space and the bypass toggle (0x10), hostile
 * request-queue layouts (0x20, the variant in byte 4).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/virtio_iommu.h>

#define MEM_SIZE 0x10000u
#define HDR 24u
#define RQ_DESC 0x0000u
#define RQ_AVAIL 0x0400u
#define RQ_USED 0x0500u
#define EQ_DESC 0x0740u
#define EQ_AVAIL 0x0840u
#define EQ_USED 0x0880u
#define REQS 0x0980u /* eight readable request bodies of 0xc0 bytes */
#define WBUF 0x2000u /* their writable parts */
#define EBUF 0x3000u /* event buffers */
#define NREQ 8u
#define MAX_KICKS 8u
#define T_ATTACH VIOMMU_VIRTIO_IOMMU_T_ATTACH
#define T_DETACH VIOMMU_VIRTIO_IOMMU_T_DETACH
#define T_MAP VIOMMU_VIRTIO_IOMMU_T_MAP
#define T_UNMAP VIOMMU_VIRTIO_IOMMU_T_UNMAP
#define T_PROBE VIOMMU_VIRTIO_IOMMU_T_PROBE
#define F_NEXT VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT
#define F_WRITE VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE
#define OFF(type, field) offsetof(struct viommu_virtio_iommu_req_##type, field)
/* The device-readable part of a request: the structure without its tail. */
#define RO_SIZE(type)                                    \
	(sizeof(struct viommu_virtio_iommu_req_##type) - \
	 sizeof(struct viommu_virtio_iommu_req_tail))
#define DESC_OFF(field) offsetof(struct viommu_virtio_virtq_desc, field)
#define FAULT_SIZE sizeof(struct viommu_virtio_iommu_fault)

static const uint16_t rq_sizes[] = { 16, 32, 64, 8, 4, 2, 1 };
static const uint16_t eq_sizes[] = { 16, 8, 4, 2, 1 };

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

static void put(uint8_t *mem, uint32_t at, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		mem[at + i] = (uint8_t)(v >> (8 * i));
}

static void desc(uint8_t *mem, uint32_t table, unsigned int i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	uint32_t at = table + (uint32_t)sizeof(struct viommu_virtio_virtq_desc) * i;

	put(mem, at + DESC_OFF(addr), addr, 8);
	put(mem, at + DESC_OFF(len), len, 4);
	put(mem, at + DESC_OFF(flags), flags, 2);
	put(mem, at + DESC_OFF(next), next, 2);
}

/* A valid session: ATTACH, MAP, PROBE, ATTACH, MAP, UNMAP, DETACH, MAP; 16 event buffers. */
static void skeleton(uint8_t *mem)
{
	static const struct {
		uint8_t type;
		uint32_t a, b;
		uint64_t start, end, phys;
		uint32_t flags;
	} reqs[NREQ] = {
		{ T_ATTACH, 1, 0, 0, 0, 0, 0 },	    { T_MAP, 1, 0, 0x1000, 0x1fff, 0x5000, 3 },
		{ T_PROBE, 1, 0, 0, 0, 0, 0 },	    { T_ATTACH, 2, 1, 0, 0, 0, 0 },
		{ T_MAP, 2, 0, 0x0, 0xffff, 0, 1 }, { T_UNMAP, 1, 0, 0, 0xffffffff, 0, 0 },
		{ T_DETACH, 2, 1, 0, 0, 0, 0 },	    { T_MAP, 1, 0, 0x2000, 0x3fff, 0x6000, 2 },
	};

	for (unsigned int k = 0; k < NREQ; k++) {
		uint32_t b = REQS + 0xc0 * k, rlen, wlen = 4;

		mem[b] = reqs[k].type;
		/* domain (ATTACH, DETACH, MAP, UNMAP) or endpoint (PROBE): at the same offset */
		put(mem, b + OFF(attach, domain), reqs[k].a, 4);
		switch (reqs[k].type) {
		case T_ATTACH: /* ATTACH, DETACH: domain a, endpoint b */
		case T_DETACH:
			put(mem, b + OFF(attach, endpoint), reqs[k].b, 4);
			rlen = RO_SIZE(attach);
			break;
		case T_MAP:
			put(mem, b + OFF(map, virt_start), reqs[k].start, 8);
			put(mem, b + OFF(map, virt_end), reqs[k].end, 8);
			put(mem, b + OFF(map, phys_start), reqs[k].phys, 8);
			put(mem, b + OFF(map, flags), reqs[k].flags, 4);
			rlen = RO_SIZE(map);
			break;
		case T_UNMAP:
			put(mem, b + OFF(unmap, virt_start), reqs[k].start, 8);
			put(mem, b + OFF(unmap, virt_end), reqs[k].end, 8);
			rlen = RO_SIZE(unmap);
			break;
		default: /* PROBE endpoint a: 64 bytes of properties (probe_size), then the tail */
			rlen = sizeof(struct viommu_virtio_iommu_req_probe);
			wlen = 64 + 4;
			break;
		}
		desc(mem, RQ_DESC, 2 * k, b, rlen, F_NEXT, (uint16_t)(2 * k + 1));
		desc(mem, RQ_DESC, 2 * k + 1, WBUF + 0x100 * k, wlen, F_WRITE, 0);
		put(mem, RQ_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF + 2 * k, 2 * k, 2);
	}
	for (unsigned int i = 0; i < 16; i++) {
		desc(mem, EQ_DESC, i, EBUF + FAULT_SIZE * i, FAULT_SIZE, F_WRITE, 0);
		put(mem, EQ_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF + 2 * i, i, 2);
	}
	put(mem, EQ_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, 16, 2);
}

/*
 * Queue layouts a hostile driver may program (queue_enable must refuse or survive each):
 * misaligned rings, rings past or straddling the end of memory, overlapping rings, addresses
 * that wrap past 2^64, sizes that are not powers of two or zero.
 */
static void hostile_layout(struct viommu_virtio_queue *q, unsigned int which)
{
	switch (which % 8) {
	case 0:
		q->desc += 8;
		break;
	case 1:
		q->avail += 1;
		break;
	case 2:
		q->used = MEM_SIZE - 8;
		break;
	case 3:
		q->used = q->desc;
		break;
	case 4:
		q->desc = UINT64_MAX - 0xff;
		break;
	case 5:
		q->size = 3;
		break;
	case 6:
		q->size = 0;
		break;
	default:
		q->desc = MEM_SIZE;
		q->avail = MEM_SIZE + 0x1000;
		break;
	}
}

/*
 * Configuration space between kicks: every field read at every width (aligned or not, past the
 * end too), a write the input places and sizes, and the bypass byte toggled.
 */
static void config_space(struct viommu *v, unsigned int k, uint8_t where, uint8_t what)
{
	uint64_t val;

	for (uint32_t off = 0; off < sizeof(struct viommu_virtio_iommu_config_layout) + 8; off++)
		for (unsigned int sz = 1; sz <= 8; sz <<= 1)
			viommu_virtio_iommu_config_read(v, off, sz, &val);
	viommu_virtio_iommu_config_write(v, where % 48, 1u << (what & 3), (uint64_t)what << 8 | k);
	viommu_virtio_iommu_config_write(
		v, offsetof(struct viommu_virtio_iommu_config_layout, bypass), 1, k & 1);
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
	uint8_t hdr[HDR] = { 0 }, status, *mem;
	unsigned int kicks;

	memcpy(hdr, data, size < HDR ? size : HDR);
	cfg.bypass = hdr[0] & 1;
	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	mem = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	skeleton(mem);
	for (size_t i = HDR; i < size && i - HDR < MEM_SIZE; i++)
		mem[i - HDR] ^= data[i];
	if (viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	for (uint32_t ep = 0; ep < 4; ep++)
		viommu_virtio_iommu_add_endpoint(v, ep);
	viommu_virtio_iommu_add_resv_region(v, 1, VIOMMU_VIRTIO_IOMMU_RESV_MSI, 0xfee00000,
					    0xfeefffff);
	viommu_virtio_iommu_add_resv_region(v, 2, VIOMMU_VIRTIO_IOMMU_RESV_RESERVED, 0x8000,
					    0xffff);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, count, &c, &n);

	/* Negotiate the offered features but those the header masks out. */
	viommu_virtio_iommu_get_device_features(v, &offered);
	viommu_virtio_iommu_set_status(v, 3);
	viommu_virtio_iommu_set_driver_features(v, offered & ~(((uint64_t)hdr[1] << 24) | hdr[2]));
	viommu_virtio_iommu_set_status(v, 11);
	{
		struct viommu_virtio_queue rq = { .size = rq_sizes[hdr[3] % 7],
						  .desc = RQ_DESC,
						  .avail = RQ_AVAIL,
						  .used = RQ_USED };
		struct viommu_virtio_queue eq = { .size = eq_sizes[hdr[4] % 5],
						  .desc = EQ_DESC,
						  .avail = EQ_AVAIL,
						  .used = EQ_USED };

		if (hdr[0] & 0x20)
			hostile_layout(&rq, hdr[4] >> 3);
		viommu_virtio_iommu_queue_enable(v, 0, &rq);
		viommu_virtio_iommu_queue_enable(v, 1, &eq);
	}
	if (hdr[0] & 0x04) /* MSI-X: both queues and configuration changes */
		for (unsigned int vec = 0; vec <= VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR; vec++)
			viommu_virtio_iommu_set_msi(v, vec, !(hdr[5] & (0x10 << vec)),
						    0xfee00000u + 0x1000u * vec, vec);
	viommu_virtio_iommu_set_status(v, 15);

	kicks = 1 + hdr[5] % MAX_KICKS;
	for (unsigned int k = 0; k < kicks; k++) {
		uint16_t avail = (uint16_t)((k + 1) * NREQ / kicks + get16(hdr + 6 + 2 * k));
		struct viommu_xlate_req req = { .sid = k & 3,
						.iova = (uint64_t)hdr[22] << (k * 4),
						.len = hdr[23],
						.access = (k & 3) };
		struct viommu_xlate_result res;

		memcpy(viommu_flatmem_ptr(fm, RQ_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, 2),
		       &avail, 2);
		viommu_virtio_iommu_queue_notify(v, 0);
		if (viommu_translate(v, &req, &res))
			abort();
		if (viommu_xlate_ok(&res) && (res.len == 0 || res.len > (req.len ? req.len : 1)))
			abort();
		if (hdr[0] & 0x08) { /* the driver's interrupt handler */
			uint8_t isr;

			viommu_virtio_iommu_isr_read(v, &isr);
		}
		if (hdr[0] & 0x10) /* configuration space, bypass toggled between kicks */
			config_space(v, k, hdr[22], hdr[23]);
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
