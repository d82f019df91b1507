// SPDX-License-Identifier: MIT
/*
 * An Arm SMMUv3 over flat guest memory, programmed as a guest driver would with the fewest
 * steps: a linear stream table with one stage 2 STE (4 KiB granule, 2 MiB block), an event
 * queue, SMMUEN. Then a DMA that translates, and one to an unmapped address that faults: the
 * event comes back in the result and as an F_TRANSLATION record in the event queue the guest
 * reads. Exits 0 only if all agree.
 */
#include <stdio.h>

#include <viommu/flatmem.h>
#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>
#include <viommu/viommu.h>

#define STRTAB 0x10000ull /* 16 STEs */
#define EVTQ 0x20000ull	  /* 16 records */
#define S2L1 0x30000ull	  /* stage 2: level 1 (SL0 = 1, 32-bit IPA), then level 2 */
#define S2L2 0x31000ull
#define SID 3u
#define VMID 7u
#define IPA 0x200000ull /* the second 2 MiB block -> 0x400000 */
#define BAD_IPA 0x40000000ull

static void put64(struct viommu_flatmem *ram, uint64_t gpa, uint64_t val)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(val >> (8 * i)); /* guest structures are little-endian */
	viommu_flatmem_ops()->dma_write(ram, gpa, b, sizeof(b));
}

static uint64_t get64(struct viommu_flatmem *ram, uint64_t gpa)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	viommu_flatmem_ops()->dma_read(ram, gpa, b, sizeof(b));
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

int main(void)
{
	struct viommu_xlate_req req = { .sid = SID, .iova = IPA + 0x1234, .len = 4 };
	struct viommu_xlate_result res;
	struct viommu_smmuv3_config cfg;
	struct viommu_flatmem *ram;
	uint64_t ste = STRTAB + SID * 64, prod = 0, ev0;
	struct viommu *v;
	int ok = 1;

	if (viommu_flatmem_create(0, 8 << 20, &ram))
		return 1;
	viommu_smmuv3_config_init(&cfg);
	if (viommu_smmuv3_create(&cfg, viommu_flatmem_ops(), ram, &v))
		return 1;

	/* Stage 2 tables: level 1 entry 0 -> level 2; level 2 entry 1: a 2 MiB block, S2AP RW. */
	put64(ram, S2L1, S2L2 | 3);
	put64(ram, S2L2 + 8, 0x400000 | 1 | (1ull << 10) | (3ull << 6));
	/* The STE: stage 2 only, 32-bit IPA (T0SZ 32), start at level 1, 48-bit PS, faults
	 * recorded (S2R). */
	put64(ram, ste + 16,
	      VIOMMU_SMMUV3_STE_2_S2VMID_SET(VMID) | VIOMMU_SMMUV3_STE_2_S2T0SZ_SET(32) |
		      VIOMMU_SMMUV3_STE_2_S2SL0_SET(1) |
		      VIOMMU_SMMUV3_STE_2_S2TG_SET(VIOMMU_SMMUV3_TG0_4K) |
		      VIOMMU_SMMUV3_STE_2_S2PS_SET(VIOMMU_SMMUV3_OAS_48) |
		      VIOMMU_SMMUV3_STE_2_S2AA64 | VIOMMU_SMMUV3_STE_2_S2R);
	put64(ram, ste + 24, S2L1);
	put64(ram, ste,
	      VIOMMU_SMMUV3_STE_0_V | VIOMMU_SMMUV3_STE_0_CONFIG_SET(VIOMMU_SMMUV3_STE_CONFIG_S2));

	/* Registers: stream table, event queue, then the queue and translation on. */
	viommu_mmio_write(v, VIOMMU_SMMUV3_STRTAB_BASE, 8, STRTAB);
	viommu_mmio_write(v, VIOMMU_SMMUV3_STRTAB_BASE_CFG, 4,
			  VIOMMU_SMMUV3_STRTAB_BASE_CFG_LOG2SIZE_SET(4));
	viommu_mmio_write(v, VIOMMU_SMMUV3_EVENTQ_BASE, 8,
			  EVTQ | VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_SET(4));
	viommu_mmio_write(v, VIOMMU_SMMUV3_CR0, 4,
			  VIOMMU_SMMUV3_CR0_EVENTQEN | VIOMMU_SMMUV3_CR0_SMMUEN);

	viommu_translate(v, &req, &res);
	if (!viommu_xlate_ok(&res) || res.out != 0x401234) {
		printf("translation: expected 0x401234\n");
		ok = 0;
	}
	req.iova = BAD_IPA;
	viommu_translate(v, &req, &res);
	if (viommu_xlate_ok(&res) || res.fault.reason != VIOMMU_SMMUV3_EVT_F_TRANSLATION ||
	    !(res.fault.flags & VIOMMU_FAULT_F_RECORDED)) {
		printf("fault: expected a recorded F_TRANSLATION\n");
		ok = 0;
	}
	/* The guest's view: PROD moved by one, the record names the event, stream and IPA. */
	viommu_mmio_read(v, VIOMMU_SMMUV3_EVENTQ_PROD, 4, &prod);
	ev0 = get64(ram, EVTQ);
	if (prod != 1 || VIOMMU_SMMUV3_EVT_0_ID_GET(ev0) != VIOMMU_SMMUV3_EVT_F_TRANSLATION ||
	    VIOMMU_SMMUV3_EVT_0_SID_GET(ev0) != SID || get64(ram, EVTQ + 16) != BAD_IPA ||
	    !(get64(ram, EVTQ + 8) & VIOMMU_SMMUV3_EVT_1_S2)) {
		printf("event queue: expected one stage 2 F_TRANSLATION record\n");
		ok = 0;
	}
	printf("smmuv3_hello: %s\n", ok ? "ok" : "FAILED");
	viommu_destroy(v);
	viommu_flatmem_destroy(ram);
	return ok ? 0 : 1;
}
