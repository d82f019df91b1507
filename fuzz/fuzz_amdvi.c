// SPDX-License-Identifier: MIT
/*
 * The AMD-Vi IOMMU under hostile guests: fuzz input fills guest memory (device table, page
 * tables, command buffer, event log) and drives register writes, guest memory pokes and DMA.
 * MAP/UNMAP and device-IOTLB consumers are attached so the NpCache syncs run too. Checked: no
 * crash, no access outside guest memory (flat memory refuses it, the sanitizers catch anything
 * else), and every successful translation is well-formed.
 */
#include <stdint.h>
#include <stdlib.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/spec/amdvi.h>

#include "fuzz_model.h"

/* Offsets worth hitting: every register the model decodes, both halves. */
static const uint32_t regs[] = { 0x0000, 0x0004, 0x0008, 0x000c, 0x0010, 0x0014, 0x0018, 0x001c,
				 0x0020, 0x0024, 0x0028, 0x002c, 0x0030, 0x0038, 0x003c, 0x2000,
				 0x2008, 0x2010, 0x2018, 0x2020, 0x2030, 0x2038 };

/* A device-IOTLB consumer whose device sometimes does not complete (IOTLB_INV_TIMEOUT). */
static void on_devtlb(void *opaque, const struct viommu_event *ev)
{
	fuzz_on_event(NULL, ev);
	if (ev->iova & 0x1000)
		viommu_amdvi_iotlb_inv_timeout(opaque, ev->sid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_amdvi_config cfg;
	struct viommu_flatmem *fm;
	struct viommu_notifier *n1, *n2, *n3;
	struct viommu *v;
	uint8_t *mem;
	uint32_t flags = (uint32_t)take(&in, 1);
	uint32_t mode = (uint32_t)take(&in, 1);

	viommu_amdvi_config_init(&cfg);
	cfg.flags = flags & 0x1f; /* GT and PPR included: guest and nested walks, page requests */
	if ((cfg.flags & VIOMMU_AMDVI_PPR) && (mode & 0x40))
		cfg.flags |= VIOMMU_AMDVI_EPH; /* page requests checked against the DTE */
	cfg.hats_levels = 4 + (flags >> 5) % 3;
	if ((cfg.flags & VIOMMU_AMDVI_GT) && (mode & 0x80))
		cfg.gats_levels = 5; /* DTEs may ask for 5-level guest tables */
	cfg.pa_bits = (flags & 0x80) ? 40 : 48;
	cfg.iotlb_capacity = 16;
	fm = fuzz_mem_create();
	viommu_flatmem_set_irq_handlers(fm, fuzz_on_msi, NULL, NULL);
	if (viommu_amdvi_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	viommu_amdvi_set_msi(v, mode & 1, 0xfee00000, 0x30);
	/* A consumer of every device makes global syncs scan the table: costly, so sometimes. */
	viommu_notifier_add(v, (mode & 0x38) == 0x38 ? VIOMMU_SID_ANY : 0x10,
			    VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n1);
	viommu_notifier_add(v, 0x10, VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n2);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP, on_devtlb, v, &n3);

	mem = fuzz_mem_fill(&in, fm, 8192);
	for (int ops = 0; in.n && ops < 512; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 7) {
		case 0:
		case 1: /* register write, 32 or 64 bits; buffer addresses mostly inside (GTEn too) */
			fuzz_reg_write(&in, v, op, regs, sizeof(regs) / sizeof(regs[0]),
				       (MEM_SIZE - 1) | 0xfffull << 52 | 0xfff);
			break;
		case 2:
			fuzz_mmio_any(&in, v, 2, 0x3fff);
			break;
		case 3:
			fuzz_poke(&in, mem);
			break;
		case 4: { /* a page request from a PRI endpoint */
			struct viommu_amdvi_page_request pr = {
				.devid = (uint32_t)take(&in, 2),
				.pasid = (uint32_t)take(&in, 3),
				.has_pasid = (op & 0x80) != 0,
				.addr = take(&in, 8),
				.access = (uint32_t)take(&in, 1) & 0xf,
				.tag = (uint32_t)take(&in, 2) & 0x1ff
			};

			viommu_amdvi_page_request(v, &pr);
			break;
		}
		default: { /* DMA */
			struct viommu_xlate_req req = fuzz_take_dma(&in);
			struct viommu_xlate_result res;

			req.has_pasid = (op & 0x80) != 0;
			if (op & 0x40)
				req.iova &= 0xffffffff;
			/* 0x20: an ATS translation request; 0x10: a pretranslated one and a timeout. */
			if ((op & 0x20) ? viommu_amdvi_ats_translate(v, &req, &res) :
					  viommu_translate(v, &req, &res))
				abort();
			if (op & 0x10) {
				viommu_amdvi_translated_request(v, req.sid & 0xffff, req.iova,
								req.access);
				viommu_amdvi_iotlb_inv_timeout(v, req.sid & 0xffff);
			}
			fuzz_check_xlate(&req, &res);
			break;
		}
		}
	}
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
