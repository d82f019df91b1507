// SPDX-License-Identifier: MIT
/*
 * The VT-d unit under hostile guests: fuzz input fills guest memory (root, context and page
 * tables, queue descriptors) and drives register writes, guest memory pokes and DMA. MAP/UNMAP
 * and device-TLB consumers are attached so caching-mode syncs run too. Checked: no crash, no
 * access outside guest memory (flat memory refuses it, the sanitizers catch anything else), and
 * every successful translation is well-formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/spec/vtd.h>
#include <viommu/vtd.h>

#include "fuzz_input.h"

#define MEM_SIZE (1u << 20)

/*
 * Offsets worth hitting: every register the model decodes (both halves of the 64-bit ones it
 * acts on per half), and the IOTLB and fault recording registers where this model puts them
 * (ECAP.IRO = 0xf, CAP.FRO = 0x22).
 */
#define R(name) VIOMMU_VTD_##name##_REG
static const uint16_t regs[] = { R(GCMD),     R(GSTS),	  R(RTADDR), R(RTADDR) + 4, R(CCMD),
				 R(CCMD) + 4, R(FSTS),	  R(FECTL),  R(FEDATA),	    R(FEADDR),
				 R(FEUADDR),  R(PMEN),	  R(IQH),    R(IQT),	    R(IQT) + 4,
				 R(IQA),      R(IQA) + 4, R(ICS),    R(IECTL),	    R(IEDATA),
				 R(IEADDR),   R(IEUADDR), R(IQERCD), R(IRTA),	    0xf0,
				 0xf4,	      0xf8,	  0xfc,	     0x220,	    0x228,
				 0x22c,	      0x230,	  0x23c };

static void on_event(void *opaque, const struct viommu_event *ev)
{
	(void)opaque;
	if (ev->last < ev->iova)
		abort();
}

static void on_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque;
	(void)addr;
	(void)data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_vtd_config cfg;
	struct viommu_flatmem *fm;
	struct viommu_notifier *n1, *n2, *n3;
	struct viommu *v;
	uint8_t *mem;
	uint32_t flags = (uint32_t)take(&in, 1);
	uint32_t mode;
	size_t fill;

	viommu_vtd_config_init(&cfg);
	cfg.flags = flags & 0x3f;
	cfg.aw_bits = (flags >> 6) == 0 ? 39 : (flags >> 6) == 1 ? 48 : 57;
	mode = (uint32_t)take(&in, 1);
	cfg.nfr = 1 + (mode & 7);
	cfg.iotlb_capacity = 16;
	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	viommu_flatmem_set_irq_handlers(fm, on_msi, NULL, NULL);
	if (viommu_vtd_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	/* A consumer of every requester makes global syncs scan the tables: costly, so sometimes. */
	viommu_notifier_add(v, (mode & 0x38) == 0x38 ? VIOMMU_SID_ANY : 0x10,
			    VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event, NULL, &n1);
	viommu_notifier_add(v, 0x10, VIOMMU_EV_UNMAP, on_event, NULL, &n2);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP, on_event, NULL, &n3);

	/* The first part of the input is guest memory from 0: tables and queues live there. */
	mem = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	fill = (size_t)take(&in, 2) % 8192;
	if (fill > in.n)
		fill = in.n;
	memcpy(mem, in.p, fill);
	in.p += fill;
	in.n -= fill;

	for (int ops = 0; in.n && ops < 512; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 6) {
		case 0:
		case 1: { /* register write, 32 or 64 bits */
			uint64_t off = regs[take(&in, 1) % (sizeof(regs) / sizeof(regs[0]))];
			unsigned int sz = (op & 0x80) && !(off & 7) ? 8 : 4;
			uint64_t val = take(&in, sz);

			/* Keep table addresses inside memory most of the time. */
			if (op & 0x40)
				val &= (MEM_SIZE - 1) | 0xfffull << 52 | 0xfff;
			viommu_mmio_write(v, off, sz, val);
			break;
		}
		case 2: { /* arbitrary offset and width */
			uint64_t val = 0;
			uint64_t off = take(&in, 2) & 0x1fff;
			unsigned int sz = 1u << (take(&in, 1) & 3);

			viommu_mmio_read(v, off, sz, &val);
			viommu_mmio_write(v, off, sz, take(&in, 8));
			break;
		}
		case 3: { /* poke guest memory (tables change under the caches) */
			uint64_t at = take(&in, 3) % (MEM_SIZE - 8);

			for (int i = 0; i < 8; i++)
				mem[at + (uint64_t)i] = (uint8_t)take(&in, 1);
			break;
		}
		default: { /* DMA */
			struct viommu_xlate_req req = { .sid = (uint32_t)take(&in, 2),
							.iova = take(&in, 8),
							.len = take(&in, 2),
							.access = (uint32_t)take(&in, 1) & 0xf,
							.has_pasid = (op & 0x80) != 0 };
			struct viommu_xlate_result res;

			if (op & 0x40)
				req.iova &= 0xffffffff;
			if (viommu_translate(v, &req, &res))
				abort();
			if (viommu_xlate_ok(&res)) {
				uint64_t want = req.len ? req.len : 1;

				if (!res.len || res.len > want || res.out + (res.len - 1) < res.out)
					abort();
			}
			break;
		}
		}
	}
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
