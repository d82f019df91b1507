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

#include <viommu/flatmem.h>
#include <viommu/spec/vtd.h>
#include <viommu/vtd.h>

#include "fuzz_model.h"

/*
 * Offsets worth hitting: every register the model decodes (both halves of the 64-bit ones it
 * acts on per half), and the IOTLB and fault recording registers where this model puts them
 * (ECAP.IRO = 0xf, CAP.FRO = 0x22).
 */
#define R(name) VIOMMU_VTD_##name##_REG
static const uint32_t regs[] = { R(GCMD),     R(GSTS),	  R(RTADDR), R(RTADDR) + 4, R(CCMD),
				 R(CCMD) + 4, R(FSTS),	  R(FECTL),  R(FEDATA),	    R(FEADDR),
				 R(FEUADDR),  R(PMEN),	  R(IQH),    R(IQT),	    R(IQT) + 4,
				 R(IQA),      R(IQA) + 4, R(ICS),    R(IECTL),	    R(IEDATA),
				 R(IEADDR),   R(IEUADDR), R(IQERCD), R(IRTA),	    0xf0,
				 0xf4,	      0xf8,	  0xfc,	     0x220,	    0x228,
				 0x22c,	      0x230,	  0x23c };

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

	viommu_vtd_config_init(&cfg);
	cfg.flags = flags & 0x3f;
	cfg.aw_bits = (flags >> 6) == 0 ? 39 : (flags >> 6) == 1 ? 48 : 57;
	mode = (uint32_t)take(&in, 1);
	cfg.nfr = 1 + (mode & 7);
	cfg.iotlb_capacity = 16;
	fm = fuzz_mem_create();
	viommu_flatmem_set_irq_handlers(fm, fuzz_on_msi, NULL, NULL);
	if (viommu_vtd_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	/* A consumer of every requester makes global syncs scan the tables: costly, so sometimes. */
	viommu_notifier_add(v, (mode & 0x38) == 0x38 ? VIOMMU_SID_ANY : 0x10,
			    VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n1);
	viommu_notifier_add(v, 0x10, VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n2);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP, fuzz_on_event, NULL, &n3);

	mem = fuzz_mem_fill(&in, fm, 8192);
	for (int ops = 0; in.n && ops < 512; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 6) {
		case 0:
		case 1: /* register write, 32 or 64 bits; table addresses mostly inside memory */
			fuzz_reg_write(&in, v, op, regs, sizeof(regs) / sizeof(regs[0]),
				       (MEM_SIZE - 1) | 0xfffull << 52 | 0xfff);
			break;
		case 2:
			fuzz_mmio_any(&in, v, 2, 0x1fff);
			break;
		case 3:
			fuzz_poke(&in, mem);
			break;
		default: { /* DMA */
			struct viommu_xlate_req req = fuzz_take_dma(&in);
			struct viommu_xlate_result res;

			req.has_pasid = (op & 0x80) != 0;
			if (op & 0x40)
				req.iova &= 0xffffffff;
			if (viommu_translate(v, &req, &res))
				abort();
			fuzz_check_xlate(&req, &res);
			break;
		}
		}
	}
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
