// SPDX-License-Identifier: MIT
/*
 * The SMMUv3 under hostile guests: fuzz input picks a configuration, fills guest memory (stream
 * table, CDs, page tables, command, event and PRI queues) and drives register writes (pages 0
 * and 1), guest memory pokes, page requests and DMA with and without SubstreamIDs. MAP/UNMAP and
 * device-IOTLB consumers are attached so the sync paths run too. Checked: no crash, no access
 * outside guest memory (flat memory refuses it, the sanitizers catch anything else), every
 * successful translation well-formed, every consumer event a proper range.
 *
 * Input: flags (1 byte), mode (1), fill length (2, at most 32 KiB), that many bytes of guest
 * memory from address 0, then operations of one byte each followed by their operands.
 */
#include <stdint.h>
#include <stdlib.h>

#include <viommu/flatmem.h>
#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>

#include "fuzz_model.h"

#define FILL_MAX 32768

/* Offsets worth hitting: every register the model decodes, both halves of the 64-bit ones. */
static const uint32_t regs[] = {
	VIOMMU_SMMUV3_CR0,
	VIOMMU_SMMUV3_CR1,
	VIOMMU_SMMUV3_CR2,
	VIOMMU_SMMUV3_GBPA,
	VIOMMU_SMMUV3_IRQ_CTRL,
	VIOMMU_SMMUV3_GERRORN,
	VIOMMU_SMMUV3_GERROR_IRQ_CFG0,
	VIOMMU_SMMUV3_GERROR_IRQ_CFG1,
	VIOMMU_SMMUV3_STRTAB_BASE,
	VIOMMU_SMMUV3_STRTAB_BASE + 4,
	VIOMMU_SMMUV3_STRTAB_BASE_CFG,
	VIOMMU_SMMUV3_CMDQ_BASE,
	VIOMMU_SMMUV3_CMDQ_BASE + 4,
	VIOMMU_SMMUV3_CMDQ_PROD,
	VIOMMU_SMMUV3_CMDQ_CONS,
	VIOMMU_SMMUV3_EVENTQ_BASE,
	VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0,
	VIOMMU_SMMUV3_PRIQ_BASE,
	VIOMMU_SMMUV3_PRIQ_IRQ_CFG0,
	VIOMMU_SMMUV3_EVENTQ_PROD,
	VIOMMU_SMMUV3_EVENTQ_CONS,
	VIOMMU_SMMUV3_PRIQ_PROD,
	VIOMMU_SMMUV3_PRIQ_CONS,
};

static void on_pri(void *opaque, uint32_t sid, uint32_t ssid, bool has_ssid, uint32_t prg,
		   uint32_t resp)
{
	(void)opaque;
	(void)sid;
	(void)ssid;
	(void)has_ssid;
	if (prg > 511 || resp > 2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_smmuv3_config cfg;
	struct viommu_flatmem *fm;
	struct viommu_notifier *n1, *n2, *n3;
	struct viommu *v;
	uint8_t *mem;
	uint32_t flags = (uint32_t)take(&in, 1);
	uint32_t mode = (uint32_t)take(&in, 1);

	viommu_smmuv3_config_init(&cfg);
	/* Turn features off by bit; keep one stage and ATS under PRI, as create demands. */
	if (flags & 1)
		cfg.flags &= ~VIOMMU_SMMUV3_S2;
	else if (flags & 2)
		cfg.flags &= ~VIOMMU_SMMUV3_S1;
	if (flags & 4)
		cfg.flags &= ~(VIOMMU_SMMUV3_2LVL_STRTAB | VIOMMU_SMMUV3_CD2L);
	if (flags & 8)
		cfg.flags &= ~(VIOMMU_SMMUV3_MSI | VIOMMU_SMMUV3_RIL | VIOMMU_SMMUV3_HTTU);
	if (flags & 16)
		cfg.flags |= VIOMMU_SMMUV3_CM;
	if (flags & 32)
		cfg.flags &= ~(VIOMMU_SMMUV3_ATS | VIOMMU_SMMUV3_PRI | VIOMMU_SMMUV3_SSID);
	if (flags & 64)
		cfg.granules = VIOMMU_SMMUV3_GRAN_4K;
	cfg.oas_bits = (flags & 128) ? 40 : 48;
	cfg.sid_bits = 6 + (mode & 7); /* small tables keep global syncs cheap */
	cfg.cmdq_bits = 8;
	cfg.eventq_bits = 6;
	cfg.priq_bits = 6;
	cfg.iotlb_capacity = 16;
	fm = fuzz_mem_create();
	if (viommu_smmuv3_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	viommu_smmuv3_set_pri_response(v, on_pri, NULL);
	viommu_notifier_add(v, (mode & 0x38) == 0x38 ? VIOMMU_SID_ANY : 1,
			    VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n1);
	viommu_notifier_add(v, 1, VIOMMU_EV_UNMAP, fuzz_on_event, NULL, &n2);
	viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP, fuzz_on_event, NULL, &n3);

	mem = fuzz_mem_fill(&in, fm, FILL_MAX);
	for (int ops = 0; in.n && ops < 512; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 7) {
		case 0:
		case 1: /* register write, 32 or 64 bits; queue addresses mostly inside memory */
			fuzz_reg_write(&in, v, op, regs, sizeof(regs) / sizeof(regs[0]),
				       (MEM_SIZE - 1) | 0xffull << 56 | 0x1f);
			break;
		case 2:
			fuzz_mmio_any(&in, v, 3, 0x3ffff);
			break;
		case 3:
			fuzz_poke(&in, mem);
			break;
		case 4: { /* a page request from a PRI endpoint */
			struct viommu_smmuv3_page_request pr = {
				.sid = (uint32_t)take(&in, 2),
				.ssid = (uint32_t)take(&in, 3) & 0xfffff,
				.has_ssid = (op & 0x80) != 0,
				.addr = take(&in, 8),
				.access = (uint32_t)take(&in, 1) & 0xf,
				.prg_index = (uint32_t)take(&in, 2) & 0x1ff,
				.last = (op & 0x40) != 0,
			};

			viommu_smmuv3_page_request(v, &pr);
			break;
		}
		default: { /* DMA */
			struct viommu_xlate_req req = fuzz_take_dma(&in);
			struct viommu_xlate_result res;

			req.has_pasid = (op & 0x80) != 0;
			if (req.has_pasid)
				req.pasid = (uint32_t)take(&in, 3) & 0xfffff;
			if (op & 0x40)
				req.iova &= 0xffffffff;
			if (op & 0x20) {
				/* ATS Translation Request, Translated, unsupported (4: not a kind). */
				uint32_t kind = 1 + (uint32_t)take(&in, 1) % 4;
				int ret = viommu_smmuv3_transaction(v, (enum viommu_smmuv3_txn)kind,
								    &req, &res);

				if (kind == 4 ? ret != VIOMMU_EINVAL :
						(ret && ret != VIOMMU_ENOTSUP))
					abort();
				if (ret)
					break;
				/* A Translated transaction passes at its own address or not at all. */
				if (kind == VIOMMU_SMMUV3_TXN_TRANSLATED && viommu_xlate_ok(&res) &&
				    res.out != req.iova)
					abort();
				if (kind == VIOMMU_SMMUV3_TXN_UNSUPPORTED && viommu_xlate_ok(&res))
					abort();
			} else if (viommu_translate(v, &req, &res)) {
				abort();
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
