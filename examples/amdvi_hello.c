// SPDX-License-Identifier: MIT
/*
 * An AMD-Vi IOMMU over flat guest memory, programmed as a guest driver would with the fewest
 * steps: a device table with one entry (3-level v1 table, a 1 GiB page), an event log,
 * IommuEn. Then a DMA that translates, and one to an unmapped address that faults: the event
 * comes back in the result and as an IO_PAGE_FAULT entry in the event log the guest reads.
 * Exits 0 only if all agree.
 */
#include <stdio.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/spec/amdvi.h>
#include <viommu/viommu.h>

#define DEVTAB 0x10000ull /* device table: one 4 KiB page, DeviceIDs 0..127 */
#define EVTLOG 0x20000ull /* event log: 256 entries */
#define L3 0x30000ull	  /* v1 table: level 3 (the root) */
#define DEVID 0x0010u	  /* 00:02.0 */
#define DOMID 7u
#define IOVA 0x40000000ull
#define BAD_IOVA 0x80000000ull

static void put64(struct viommu_flatmem *ram, uint64_t gpa, uint64_t val)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(val >> (8 * i)); /* guest structures are little-endian */
	viommu_flatmem_ops()->dma_write(ram, gpa, b, sizeof(b));
}

static uint32_t get32(struct viommu_flatmem *ram, uint64_t gpa)
{
	uint8_t b[4] = { 0 };

	viommu_flatmem_ops()->dma_read(ram, gpa, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t reg(struct viommu *v, uint64_t off)
{
	uint64_t val = 0;

	viommu_mmio_read(v, off, 8, &val);
	return val;
}

int main(void)
{
	const uint64_t rw = VIOMMU_AMDVI_PTE_PR | VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_IW;
	struct viommu_xlate_req req = { .sid = DEVID, .iova = IOVA + 0x1234, .len = 4 };
	struct viommu_xlate_result res;
	struct viommu_amdvi_config cfg;
	struct viommu_flatmem *ram;
	struct viommu *v;
	uint32_t ev[4];
	int ok = 1;

	if (viommu_flatmem_create(0, 1 << 20, &ram))
		return 1;
	viommu_amdvi_config_init(&cfg); /* NpCache, IotlbSup, IASup, 6-level HATS, 48-bit */
	if (viommu_amdvi_create(&cfg, viommu_flatmem_ops(), ram, &v))
		return 1;

	/* Tables: DTE (Mode 3, IR/IW, domain 7) -> level 3 entry 1, a 1 GiB page (next level 0). */
	put64(ram, L3 + 1 * 8, 0 | rw); /* 1 GiB page at IOVA 1 GiB -> 0 */
	put64(ram, DEVTAB + DEVID * VIOMMU_AMDVI_DTE_SIZE + 8,
	      VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(DOMID));
	put64(ram, DEVTAB + DEVID * VIOMMU_AMDVI_DTE_SIZE,
	      L3 | VIOMMU_AMDVI_DTE0_MODE_SET(3) | VIOMMU_AMDVI_DTE0_IR | VIOMMU_AMDVI_DTE0_IW |
		      VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_V);

	/* Registers: device table, event log, then logging and translation on. */
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8,
			  DEVTAB | VIOMMU_AMDVI_DEV_TABLE_SIZE_SET(0));
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8,
			  EVTLOG | VIOMMU_AMDVI_BUF_LEN_SET(8));
	viommu_mmio_write(v, VIOMMU_AMDVI_MMIO_CONTROL, 8,
			  VIOMMU_AMDVI_CTRL_EVENT_LOG_EN | VIOMMU_AMDVI_CTRL_IOMMU_EN);
	ok &= (reg(v, VIOMMU_AMDVI_MMIO_STATUS) & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN) != 0;

	/* A read the table maps: IOVA 1 GiB + 0x1234 -> 0x1234. */
	req.access = VIOMMU_ACC_READ;
	viommu_translate(v, &req, &res);
	printf("DMA read  0x%llx -> 0x%llx (page 2^%u)\n", (unsigned long long)req.iova,
	       (unsigned long long)res.out, res.page_shift);
	ok &= viommu_xlate_ok(&res) && res.out == 0x1234 && res.page_shift == 30;

	/* A write to IOVA 2 GiB, which nothing maps: blocked, logged as IO_PAGE_FAULT. */
	req.iova = BAD_IOVA;
	req.access = VIOMMU_ACC_WRITE;
	viommu_translate(v, &req, &res);
	for (int i = 0; i < 4; i++)
		ev[i] = get32(ram, EVTLOG + 4 * (uint64_t)i);
	printf("DMA write 0x%llx: event %#x in the result, log entry: code %#llx device 0x%04x "
	       "domain %u address 0x%llx, tail 0x%llx\n",
	       (unsigned long long)req.iova, res.fault.reason,
	       (unsigned long long)VIOMMU_AMDVI_EV_CODE_GET(ev[1]), ev[0] & 0xffff, ev[1] & 0xffff,
	       (unsigned long long)((uint64_t)ev[3] << 32 | ev[2]),
	       (unsigned long long)reg(v, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL));
	ok &= !viommu_xlate_ok(&res) && res.fault.reason == VIOMMU_AMDVI_EV_IO_PAGE_FAULT;
	ok &= VIOMMU_AMDVI_EV_CODE_GET(ev[1]) == VIOMMU_AMDVI_EV_IO_PAGE_FAULT &&
	      (ev[0] & 0xffff) == DEVID && (ev[1] & 0xffff) == DOMID &&
	      (ev[1] & VIOMMU_AMDVI_EV1_RW) && !(ev[1] & VIOMMU_AMDVI_EV1_PR) &&
	      ev[2] == 0x80000000u && ev[3] == 0 &&
	      reg(v, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL) == VIOMMU_AMDVI_EVENT_SIZE &&
	      (reg(v, VIOMMU_AMDVI_MMIO_STATUS) & VIOMMU_AMDVI_STATUS_EVENT_LOG_INT);

	viommu_destroy(v);
	viommu_flatmem_destroy(ram);
	printf("amdvi_hello: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
