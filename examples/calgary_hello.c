// SPDX-License-Identifier: MIT
/*
 * An IBM Calgary chip over flat guest memory, programmed as Linux's Calgary driver would with the
 * fewest steps: a TCE table (8 Ki entries) named by PHB 0's TAR, translation enabled in its
 * CONFIG_RW, one big-endian TCE. Then a DMA that translates, and a write the TCE does not allow:
 * refused, with the error in the PHB's CSR where the driver's watchdog reads it. Exits 0 only if
 * all agree.
 */
#include <stdio.h>

#include <viommu/calgary.h>
#include <viommu/flatmem.h>
#include <viommu/spec/calgary.h>
#include <viommu/viommu.h>

#define TABLE 0x10000ull /* 64 KiB, 8 Ki entries (size code 0) */
#define SID 0x0010u	 /* 00:02.0, on PHB 0's bus */
#define IOVA 0x5000ull	 /* I/O page 5 */
#define PAGE 0x40000ull	 /* the guest page it maps */

/* Calgary registers are big-endian: the bytes an x86 readl/writel moves are swapped. */
static uint32_t rd32(struct viommu *v, uint64_t off)
{
	uint64_t val = 0;

	viommu_mmio_read(v, off, 4, &val);
	return __builtin_bswap32((uint32_t)val);
}

static void wr32(struct viommu *v, uint64_t off, uint32_t val)
{
	viommu_mmio_write(v, off, 4, __builtin_bswap32(val));
}

int main(void)
{
	struct viommu_xlate_req req = { .sid = SID, .iova = IOVA + 0x123, .len = 16 };
	struct viommu_calgary_config cfg;
	struct viommu_xlate_result res;
	struct viommu_flatmem *ram;
	struct viommu *v;
	uint8_t tce[8];
	uint32_t csr;
	int ok = 1;

	viommu_calgary_config_init(&cfg);
	if (viommu_flatmem_create(0, 1 << 20, &ram) ||
	    viommu_calgary_create(&cfg, viommu_flatmem_ops(), ram, &v))
		return 1;

	/* One TCE, stored big-endian: page 5 -> PAGE, read only (a DMA_TO_DEVICE mapping). */
	for (int i = 0; i < 8; i++)
		tce[i] = (uint8_t)((PAGE | VIOMMU_TCE_READ) >> (56 - 8 * i));
	viommu_flatmem_ops()->dma_write(ram, TABLE + 5 * 8, tce, sizeof(tce));

	/* TAR: table address and size code; then TCE_ENABLE in PHB 0's configuration. */
	viommu_mmio_write(v, VIOMMU_CALGARY_TAR(0), 8,
			  __builtin_bswap64(TABLE | VIOMMU_TCE_TABLE_SIZE_64K));
	wr32(v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CONFIG_RW,
	     VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_DAC_DISABLE);

	req.access = VIOMMU_ACC_READ;
	viommu_translate(v, &req, &res);
	printf("DMA read  0x%llx -> 0x%llx (%llu bytes)\n", (unsigned long long)req.iova,
	       (unsigned long long)res.out, (unsigned long long)res.len);
	ok &= viommu_xlate_ok(&res) && res.out == PAGE + 0x123 && res.len == 16;

	req.access = VIOMMU_ACC_WRITE;
	viommu_translate(v, &req, &res);
	csr = rd32(v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CSR);
	printf("DMA write 0x%llx: reason %u in the result, CSR 0x%08x, PLSSR %u\n",
	       (unsigned long long)req.iova, res.fault.reason, csr,
	       rd32(v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_PLSSR));
	ok &= !viommu_xlate_ok(&res) && res.fault.reason == VIOMMU_CALGARY_R_PERM &&
	      (res.fault.flags & VIOMMU_FAULT_F_RECORDED) &&
	      (csr & VIOMMU_CALGARY_CSR_AGENT_MASK) != 0 &&
	      rd32(v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_PLSSR) == 5;

	viommu_destroy(v);
	viommu_flatmem_destroy(ram);
	printf("calgary_hello: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
