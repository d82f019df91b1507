// SPDX-License-Identifier: MIT
/*
 * A VT-d unit over flat guest memory, programmed as a guest driver would with the fewest steps:
 * a root table, one context entry, one second-level table with a 1 GiB page, RTADDR + SRTP, TE.
 * Then a DMA that translates, and one to an unmapped address that faults: the reason comes back
 * in the result and in the fault recording register the guest reads. Exits 0 only if all agree.
 */
#include <stdio.h>

#include <viommu/flatmem.h>
#include <viommu/spec/vtd.h>
#include <viommu/viommu.h>
#include <viommu/vtd.h>

#define ROOT 0x1000ull	  /* root table (guest-physical) */
#define CONTEXT 0x2000ull /* context table of bus 0 */
#define SL 0x3000ull	  /* second-level table: 3 levels, AW = 1 (39-bit) */
#define SID 0x0010u	  /* requester 00:02.0 (bus << 8 | devfn) */
#define IOVA 0x40000000ull
#define BAD_IOVA 0x80000000ull

static void put64(struct viommu_flatmem *ram, uint64_t gpa, uint64_t val)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(val >> (8 * i)); /* guest structures are little-endian */
	viommu_flatmem_ops()->dma_write(ram, gpa, b, sizeof(b));
}

/* Read a register of @size bytes (32-bit registers take 4, 64-bit ones 8). */
static uint64_t reg(struct viommu *v, uint64_t off, unsigned int size)
{
	uint64_t val = 0;

	viommu_mmio_read(v, off, size, &val);
	return val;
}

int main(void)
{
	struct viommu_xlate_req req = { .sid = SID, .iova = IOVA + 0x1234, .len = 4 };
	struct viommu_xlate_result res;
	struct viommu_vtd_config cfg;
	struct viommu_flatmem *ram;
	struct viommu *v;
	uint64_t frcd, hi;
	int ok = 1;

	if (viommu_flatmem_create(0, 1 << 20, &ram))
		return 1;
	viommu_vtd_config_init(&cfg); /* 48-bit, QI, pass-through, 2 MiB and 1 GiB pages */
	if (viommu_vtd_create(&cfg, viommu_flatmem_ops(), ram, &v))
		return 1;

	/* Tables: root entry of bus 0 -> context entry of devfn 0x10 -> 1 GiB leaf at IOVA 1 GiB. */
	put64(ram, ROOT + 0 * VIOMMU_VTD_ROOT_ENTRY_SIZE, CONTEXT | VIOMMU_VTD_ROOT_LO_P);
	put64(ram, CONTEXT + (SID & 0xff) * VIOMMU_VTD_CTX_ENTRY_SIZE,
	      SL | VIOMMU_VTD_CTX_LO_TT_SET(VIOMMU_VTD_CTX_TT_MULTI_LEVEL) | VIOMMU_VTD_CTX_LO_P);
	put64(ram, CONTEXT + (SID & 0xff) * VIOMMU_VTD_CTX_ENTRY_SIZE + 8,
	      VIOMMU_VTD_CTX_HI_DID_SET(1) | VIOMMU_VTD_CTX_HI_AW_SET(1));
	put64(ram, SL + 1 * 8, 0 | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);

	/* Registers: root table pointer, then translation on. */
	viommu_mmio_write(v, VIOMMU_VTD_RTADDR_REG, 8, ROOT);
	viommu_mmio_write(v, VIOMMU_VTD_GCMD_REG, 4, VIOMMU_VTD_GCMD_SRTP);
	viommu_mmio_write(v, VIOMMU_VTD_GCMD_REG, 4, VIOMMU_VTD_GCMD_TE);
	ok &= (reg(v, VIOMMU_VTD_GSTS_REG, 4) & (VIOMMU_VTD_GSTS_RTPS | VIOMMU_VTD_GSTS_TES)) ==
	      (VIOMMU_VTD_GSTS_RTPS | VIOMMU_VTD_GSTS_TES);

	/* A read the table maps: IOVA 1 GiB + 0x1234 -> guest-physical 0x1234. */
	req.access = VIOMMU_ACC_READ;
	viommu_translate(v, &req, &res);
	printf("DMA read  0x%llx -> 0x%llx (page 2^%u)\n", (unsigned long long)req.iova,
	       (unsigned long long)res.out, res.page_shift);
	ok &= viommu_xlate_ok(&res) && res.out == 0x1234 && res.page_shift == 30;

	/* A write to IOVA 2 GiB, which nothing maps: blocked, recorded, reason 5h (write). */
	req.iova = BAD_IOVA;
	req.access = VIOMMU_ACC_WRITE;
	viommu_translate(v, &req, &res);
	frcd = VIOMMU_VTD_CAP_FRO_GET(reg(v, VIOMMU_VTD_CAP_REG, 8)) * 16 +
	       VIOMMU_VTD_FSTS_FRI_GET(reg(v, VIOMMU_VTD_FSTS_REG, 4)) * VIOMMU_VTD_FRCD_REG_LEN;
	hi = reg(v, frcd + 8, 8);
	printf("DMA write 0x%llx: fault reason %#x in the result, %#llx in the fault record "
	       "(F=%d, source 0x%04llx, page 0x%llx)\n",
	       (unsigned long long)req.iova, res.fault.reason,
	       (unsigned long long)VIOMMU_VTD_FRCD_HI_FR_GET(hi), !!(hi & VIOMMU_VTD_FRCD_HI_F),
	       (unsigned long long)VIOMMU_VTD_FRCD_HI_SID_GET(hi),
	       (unsigned long long)(reg(v, frcd, 8) & VIOMMU_VTD_FRCD_LO_FI_MASK));
	ok &= !viommu_xlate_ok(&res) && res.fault.reason == VIOMMU_VTD_FR_WRITE;
	ok &= (reg(v, VIOMMU_VTD_FSTS_REG, 4) & VIOMMU_VTD_FSTS_PPF) &&
	      (hi & VIOMMU_VTD_FRCD_HI_F) && VIOMMU_VTD_FRCD_HI_FR_GET(hi) == VIOMMU_VTD_FR_WRITE &&
	      VIOMMU_VTD_FRCD_HI_SID_GET(hi) == SID &&
	      (reg(v, frcd, 8) & VIOMMU_VTD_FRCD_LO_FI_MASK) == BAD_IOVA;

	viommu_destroy(v);
	viommu_flatmem_destroy(ram);
	printf("vtd_hello: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
