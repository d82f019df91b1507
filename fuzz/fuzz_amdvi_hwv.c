// SPDX-License-Identifier: MIT
/*
 * The AMD hardware-assisted vIOMMU under a hostile guest: a fixed host (device table, the guest's
 * nest parent over guest memory [0, 256 KiB), the private address space, one guest with two
 * assigned devices), then the input fills guest memory (command buffer, event log, device table,
 * GCR3 and v2 tables) and drives what a guest reaches: its trapped control page, its VF MMIO page
 * (tail doorbells run its commands in the "hardware"), guest memory pokes, DTE writes the VMM
 * traps, and its devices' DMA. Checked: no crash, no access outside memory (flat memory refuses
 * it, the sanitizers catch the rest), well-formed translations, and no byte of host memory
 * outside the guest's window ever written by the guest's commands or events.
 *
 * Input: flags (1 byte), guest memory fill (fuzz_model.h), then operations of one byte each:
 * op % 8 = 0,1 control page write; 2,3 VF MMIO write; 4 guest memory poke; 5 DMA; 6 guest DTE
 * (installed, or trapped from guest memory with bit 7); 7 VF MMIO read, or (bit 7) a queue.
 */
#include <stdint.h>
#include <stdlib.h>

#include <viommu/amdvi.h>
#include <viommu/amdvi_hwv.h>
#include <viommu/flatmem.h>
#include <viommu/spec/amdvi.h>

#include "fuzz_model.h"

#define WIN 0x40000ull	  /* guest memory [0, WIN) */
#define DEVTAB 0x80000ull /* host device table: one page, DeviceIDs 0-127 */
#define HCMD 0x81000ull	  /* host command buffer */
#define HEVT 0x82000ull	  /* host event log */
#define NEST 0x83000ull	  /* the nest parent's one-level v1 table */
#define HEAP 0xc0000ull	  /* host pages for the private space */
#define IOMMU_DEVID 2
#define TRANS_DEVID 3

struct host {
	uint64_t next;
};

static uint64_t host_alloc(void *opaque, uint64_t size)
{
	struct host *h = opaque;
	uint64_t a = h->next;

	if (size != 4096 || a + size > MEM_SIZE)
		return 0;
	h->next += size;
	return a;
}

static int gpa_to_spa(void *opaque, uint64_t gpa, uint64_t len, uint64_t *spa)
{
	(void)opaque;
	if (gpa >= WIN || len > WIN - gpa)
		return VIOMMU_EFAULT;
	*spa = gpa;
	return 0;
}

static void guest_irq(void *opaque, uint32_t gid)
{
	(void)opaque;
	(void)gid;
}

static void put64(uint8_t *mem, uint64_t at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		mem[at + (uint64_t)i] = (uint8_t)(v >> (8 * i));
}

/* Control page offsets worth hitting (both halves of the 64-bit registers). */
static const uint32_t ctrl_regs[] = { 0x00, 0x04, 0x08, 0x0c, 0x10,  0x14,
				      0x18, 0x1c, 0x30, 0x38, 0x1a0, 0x200 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t before[HEAP - WIN];
	struct input in = { data, size };
	struct viommu_amdvi_hwv_guest_ops ops = { .gpa_to_spa = gpa_to_spa,
						  .guest_irq = guest_irq };
	struct viommu_amdvi_hwv_alloc a = { .trans_devid = TRANS_DEVID, .ops = &ops };
	struct host h = { HEAP };
	struct viommu_amdvi_hwv_mem hm = { .alloc = host_alloc, .opaque = &h };
	struct viommu_amdvi_config cfg;
	struct viommu_flatmem *fm;
	struct viommu *v, *view;
	uint8_t *mem;
	uint32_t gid = 0;
	uint32_t flags = (uint32_t)take(&in, 1);

	viommu_amdvi_config_init(&cfg);
	cfg.flags |= VIOMMU_AMDVI_GT | VIOMMU_AMDVI_HWV;
	if (flags & 1)
		cfg.flags &= ~(uint32_t)VIOMMU_AMDVI_IOTLB;
	cfg.iommu_devid = IOMMU_DEVID;
	cfg.iotlb_capacity = 16;
	fm = fuzz_mem_create();
	viommu_flatmem_set_irq_handlers(fm, fuzz_on_msi, NULL, NULL);
	if (viommu_amdvi_create(&cfg, viommu_flatmem_ops(), fm, &v))
		abort();
	mem = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	/* The host: its device table, command buffer, event log, and the nest parent. */
	for (uint64_t i = 0; i < WIN / 4096; i++)
		put64(mem, NEST + i * 8,
		      i * 4096 | VIOMMU_AMDVI_PTE_PR | VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_IW);
	put64(mem, DEVTAB + TRANS_DEVID * 32,
	      VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_MODE_SET(1) | NEST |
		      VIOMMU_AMDVI_DTE0_IR | VIOMMU_AMDVI_DTE0_IW);
	put64(mem, DEVTAB + TRANS_DEVID * 32 + 8, 1);
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8, DEVTAB);
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, HCMD | VIOMMU_AMDVI_BUF_LEN_SET(8));
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8,
			  HEVT | VIOMMU_AMDVI_BUF_LEN_SET(8));
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_CONTROL, 8,
			  VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_CMD_BUF_EN |
				  VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	if (viommu_amdvi_hwv_init(v, &hm) || viommu_amdvi_hwv_create(v, &a, &gid) ||
	    viommu_amdvi_hwv_add_device(v, gid, 0x10, 0x10) ||
	    viommu_amdvi_hwv_add_device(v, gid, 0x11, 0x20) || viommu_amdvi_hwv_view(v, gid, &view))
		abort();

	fuzz_mem_fill(&in, fm, WIN);
	/* Host memory as the set-up left it; the guest's actions may only change its window. */
	memcpy(before, mem + WIN, sizeof(before));
	for (int n = 0; in.n && n < 512; n++) {
		uint8_t op = (uint8_t)take(&in, 1);

		switch (op % 8) {
		case 0:
		case 1: { /* the trapped control page; addresses mostly inside the window */
			uint64_t off = ctrl_regs[take(&in, 1) % (sizeof(ctrl_regs) / 4)];
			unsigned int sz = (op & 0x80) && !(off & 7) ? 8 : 4;
			uint64_t val = take(&in, sz);

			if (op & 0x40)
				val &= (WIN - 1) | 0xfull << 56 | 0xfff;
			viommu_mmio_write(view, off, sz, val);
			break;
		}
		case 2:
		case 3: { /* the VF MMIO page: tails are doorbells */
			uint64_t off = take(&in, 1) & 0x7c;
			unsigned int sz = (op & 0x80) && !(off & 7) ? 8 : 4;
			uint64_t val = take(&in, sz);

			if (op & 0x40)
				val &= 0x7fff0;
			viommu_mmio_write(view, VIOMMU_AMDVI_MMIO_PAGE1 + off, sz, val);
			break;
		}
		case 4: { /* guest memory */
			uint64_t at = take(&in, 3) % (WIN - 8);

			for (int i = 0; i < 8; i++)
				mem[at + (uint64_t)i] = (uint8_t)take(&in, 1);
			break;
		}
		case 5: { /* DMA of an assigned device (or of none) */
			struct viommu_xlate_req req = fuzz_take_dma(&in);
			struct viommu_xlate_result res;

			if (op & 0x40)
				req.sid = (op & 0x20) ? 0x20 : 0x10;
			req.has_pasid = (op & 0x80) != 0;
			if (viommu_translate(view, &req, &res))
				abort();
			fuzz_check_xlate(&req, &res);
			/*
			 * Nothing the guest's tables say reaches past its memory (MSIs aside; a
			 * request asking for no access may "pass" granting nothing).
			 */
			if (viommu_xlate_ok(&res) && !(res.flags & VIOMMU_XLATE_F_INTERRUPT) &&
			    (res.perm & VIOMMU_ACC_RW) && res.out + (res.len - 1) >= WIN)
				abort();
			break;
		}
		case 6: { /* a guest DTE, given or read from guest memory */
			uint32_t gdev = (op & 0x40) ? ((op & 0x20) ? 0x20 : 0x10) :
						      (uint32_t)take(&in, 1);
			uint64_t d[4];

			for (int i = 0; i < 4; i++)
				d[i] = take(&in, 8);
			if (op & 0x80)
				viommu_amdvi_hwv_dte_trap(v, gid, gdev);
			else
				viommu_amdvi_hwv_set_dte(v, gid, gdev, d);
			break;
		}
		default: { /* reads, and queues set directly */
			uint64_t val = 0;

			viommu_mmio_read(view, take(&in, 2) & 0x3fff, 1u << (take(&in, 1) & 3),
					 &val);
			if (op & 0x80)
				viommu_amdvi_hwv_set_queue(
					v, gid, (enum viommu_amdvi_hwv_queue)(op >> 5 & 3),
					take(&in, 3) & (WIN - 1) & ~0xfffull,
					(uint32_t)take(&in, 1) & 0xf);
			break;
		}
		}
	}
	/*
	 * Only the host's own writes may differ: its event log (host-stage faults, hardware
	 * errors), the private space's pages and tables (the heap), and DTEs of the guest's devices.
	 */
	{
		static const uint64_t same[][2] = { { WIN, DEVTAB + 0x10 * 32 },
						    { DEVTAB + 0x12 * 32, HEVT },
						    { HEVT + 4096, HEAP } };

		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
			if (memcmp(mem + same[i][0], before + (same[i][0] - WIN),
				   same[i][1] - same[i][0]))
				abort();
	}
	viommu_destroy(view);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
