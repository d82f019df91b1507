// SPDX-License-Identifier: MIT
/*
 * The Calgary / CalIOC2 chip under hostile guests: fuzz input fills guest memory (TCE tables,
 * indirect lists) and drives big-endian register writes (TARs with any address and size code,
 * PHB configuration, AER, PMCR, CSR), the sPAPR hypercalls with any arguments, trapped TCE-table
 * writes, guest memory pokes and DMA. MAP/UNMAP consumers are attached (and replayed at the end)
 * so the notification paths run too. Checked: no crash, no access outside guest memory (flat
 * memory refuses it, the sanitizers catch the rest), every successful translation well-formed
 * and inside one 4 KiB page when translated, every event's range well-formed.
 */
#include <stdint.h>
#include <stdlib.h>

#include <viommu/calgary.h>
#include <viommu/flatmem.h>
#include <viommu/spec/calgary.h>

#include "fuzz_model.h"

/* Offsets worth hitting: 64-bit chip registers, then 32-bit PHB registers (PHB index added). */
static const uint32_t regs64[] = { VIOMMU_CALGARY_TAR(0),	  VIOMMU_CALGARY_TAR(1),
				   VIOMMU_CALGARY_TAR(2),	  VIOMMU_CALGARY_TAR(3),
				   VIOMMU_CALGARY_SPLIT_QUEUE(0), VIOMMU_CALGARY_CONFIG_REG };
static const uint32_t regs32[] = {
	VIOMMU_CALGARY_PHB_CSR,		  VIOMMU_CALGARY_PHB_PLSSR,
	VIOMMU_CALGARY_PHB_CONFIG_RW,	  VIOMMU_CALGARY_PHB_AER,
	VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL, VIOMMU_CALGARY_PHB_PAGE_MIG_DEBUG,
	VIOMMU_CALGARY_PHB_ERR(0),	  VIOMMU_CALGARY_PHB_MEM_1_LOW,
	VIOMMU_CALGARY_PHB_SAVIOR_L2
};
static const uint64_t opcodes[] = { VIOMMU_TCE_H_PUT_TCE, VIOMMU_TCE_H_GET_TCE,
				    VIOMMU_TCE_H_STUFF_TCE, VIOMMU_TCE_H_PUT_TCE_INDIRECT, 0x24 };

static void on_event(void *opaque, const struct viommu_event *ev)
{
	(void)opaque;
	if (ev->last < ev->iova || (ev->type == VIOMMU_EV_MAP && !ev->perm))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_calgary_config cfg;
	struct viommu_notifier *n1, *n2;
	struct viommu_flatmem *fm;
	struct viommu *v;
	uint8_t *mem;
	uint32_t flags = (uint32_t)take(&in, 1);

	viommu_calgary_config_init(&cfg);
	cfg.chip = flags & 1;
	cfg.pa_bits = (flags & 2) ? 32 : 48;
	cfg.cache_entries = 1u << ((flags >> 2) & 7);
	fm = fuzz_mem_create();
	if (viommu_calgary_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	viommu_notifier_add(v, (flags & 0x20) ? VIOMMU_SID_ANY : 0x0010,
			    VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event, NULL, &n1);
	viommu_notifier_add(v, 0x0110, VIOMMU_EV_MAP, on_event, NULL, &n2);

	mem = fuzz_mem_fill(&in, fm, 8192);
	for (int ops = 0; in.n && ops < 512; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned int phb = (op >> 4) & 3;

		switch (op % 8) {
		case 0: { /* 64-bit chip register, big-endian; addresses mostly inside memory */
			uint64_t off = regs64[take(&in, 1) % (sizeof(regs64) / sizeof(regs64[0]))];
			uint64_t val = take(&in, 8);

			if (op & 0x40)
				val &= (MEM_SIZE - 1) | 0xf;
			viommu_mmio_write(v, off, 8, __builtin_bswap64(val));
			break;
		}
		case 1: { /* 32-bit PHB register */
			uint64_t off = VIOMMU_CALGARY_PHB(phb) |
				       regs32[take(&in, 1) % (sizeof(regs32) / sizeof(regs32[0]))];
			uint64_t val = 0;

			if (op & 0x80)
				viommu_mmio_read(v, off, 4, &val);
			else
				viommu_mmio_write(v, off, 4,
						  __builtin_bswap32((uint32_t)take(&in, 4)));
			break;
		}
		case 2:
			fuzz_mmio_any(&in, v, 3, 0xfffff);
			break;
		case 3: { /* poke guest memory, and sometimes trap the write */
			uint64_t at = fuzz_poke(&in, mem);

			if (op & 0x40)
				viommu_calgary_tce_written(v, at, 8);
			break;
		}
		case 4: { /* a hypercall */
			uint64_t args[4], ret = 0;

			args[0] = (op & 0x40) ? take(&in, 8) : phb;
			args[1] = take(&in, 4);
			args[2] = take(&in, 8);
			args[3] = (op & 0x80) ? take(&in, 8) : take(&in, 2) % 1100;
			if (op & 0x40)
				args[2] &= (MEM_SIZE - 1) | 3;
			viommu_calgary_hcall(v, opcodes[take(&in, 1) % 5], args, &ret);
			break;
		}
		case 5: /* a trapped write of any range */
			viommu_calgary_tce_written(v, take(&in, 3), take(&in, 3));
			break;
		default: { /* DMA */
			struct viommu_xlate_req req = fuzz_take_dma(&in);
			struct viommu_xlate_result res;

			if (op & 0x40)
				req.iova &= 0x3ffffff;
			if (op & 0x80)
				req.sid &= 0x3ff;
			if (viommu_translate(v, &req, &res))
				abort();
			fuzz_check_xlate(&req, &res);
			if (viommu_xlate_ok(&res) && res.page_shift != 12)
				abort(); /* a translation stays inside one 4 KiB page */
			break;
		}
		}
	}
	viommu_notifier_replay(v, n1);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
