// SPDX-License-Identifier: MIT
/*
 * Calgary / CalIOC2 model: configuration, reset values, Linux's sequences through the guest
 * driver (guest/calgary_driver.c: enable, map, blast, unmap, the watchdog), every refusal with
 * the error registers where the watchdog reads them, both blast sequences and what skipping a
 * step leaves in the TCE cache, the sPAPR hypercalls with every error path, consumers, the
 * discovery data, hostile programming, and a randomized run against a reference that knows
 * which TCEs the cache may legally still hold.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/calgary.h>
#include <viommu/flatmem.h>
#include <viommu/pt.h>
#include <viommu/spec/calgary.h>

#include "calgary_driver.h"

#define MEM_SIZE (64ull << 20)
#define POOL_BASE (16ull << 20) /* the driver's table (up to 8 MiB) and list page */
#define POOL_SIZE (24ull << 20)
#define RAW_BASE (48ull << 20) /* hand-built tables and lists */
#define DATA_BASE (56ull << 20)

struct evrec {
	int n;
	struct viommu_event ev[256];
};

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_cal *d;
};

/* The fixture's MMIO accesses (test_common.h). */
#define rd(f, off, size) test_mmio_rd((f)->v, (off), (size))
#define wr(f, off, size, val) test_mmio_wr((f)->v, (off), (size), (val))

/* Big-endian register access, as the driver's be32_to_cpu(readl()) and cpu_to_be64(). */
static uint32_t rd32(struct fx *f, uint64_t off)
{
	return __builtin_bswap32((uint32_t)rd(f, off, 4));
}

static void wr32(struct fx *f, uint64_t off, uint32_t v)
{
	wr(f, off, 4, __builtin_bswap32(v));
}

static uint64_t rd64(struct fx *f, uint64_t off)
{
	return __builtin_bswap64(rd(f, off, 8));
}

static void wr64(struct fx *f, uint64_t off, uint64_t v)
{
	wr(f, off, 8, __builtin_bswap64(v));
}

static uint64_t phb(unsigned int n, uint32_t off)
{
	return VIOMMU_CALGARY_PHB(n) | off;
}

/* A TCE in guest memory, written big-endian as the CPU would. */
static void put_tce(struct fx *f, uint64_t table, uint64_t pg, uint64_t tce)
{
	uint64_t *p = viommu_flatmem_ptr(f->fm, table + 8 * pg, 8);

	assert_non_null(p);
	*p = __builtin_bswap64(tce);
}

static uint64_t get_tce(struct fx *f, uint64_t table, uint64_t pg)
{
	uint64_t *p = viommu_flatmem_ptr(f->fm, table + 8 * pg, 8);

	assert_non_null(p);
	return __builtin_bswap64(*p);
}

static void fx_init(struct fx *f, uint32_t chip, const struct vg_cal_config *dcfg)
{
	struct viommu_calgary_config c;

	memset(f, 0, sizeof(*f));
	viommu_calgary_config_init(&c);
	c.chip = chip;
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	assert_int_equal(viommu_calgary_create(&c, viommu_flatmem_ops(), f->fm, &f->v), 0);
	if (dcfg) {
		struct vg_cal_config dc = *dcfg;

		dc.iommu = f->v;
		dc.mem = f->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		dc.calioc2 = chip == VIOMMU_CALGARY_CHIP_CALIOC2;
		assert_int_equal(vg_cal_create(&dc, &f->d), 0);
		assert_int_equal(vg_cal_enable(f->d), 0);
	}
}

static void fx_fini(struct fx *f)
{
	vg_cal_destroy(f->d);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static struct viommu_xlate_result xl(struct fx *f, uint32_t sid, uint64_t iova, uint64_t len,
				     uint32_t access)
{
	return test_xl(f->v, sid, iova, len, access);
}

static bool xok(struct viommu_xlate_result r)
{
	return viommu_xlate_ok(&r);
}

static struct viommu_calgary_stats stats(struct fx *f)
{
	struct viommu_calgary_stats st;

	assert_int_equal(viommu_calgary_get_stats(f->v, &st), 0);
	return st;
}

static void test_config(void **state)
{
	struct viommu_calgary_config c, z = { 0 };
	struct viommu_calgary_stats st;
	struct viommu_flatmem *fm;
	struct viommu *v, *w, *a;
	struct viommu_amdvi_config ac;
	uint8_t b1[64], b2[64];
	size_t u1, u2;

	(void)state;
	viommu_calgary_config_init(&c);
	assert_int_equal(c.chip, VIOMMU_CALGARY_CHIP_CALGARY);
	assert_int_equal(c.first_bus, 0);
	assert_int_equal(c.pa_bits, 48);
	assert_int_equal(c.cache_entries, 256);
	assert_int_equal(c.bbar, 0xfe000000ull);
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &fm), 0);
	assert_int_equal(viommu_calgary_create(&c, viommu_flatmem_ops(), fm, &v), 0);
	assert_int_equal(viommu_calgary_create(&z, viommu_flatmem_ops(), fm, &w), 0);
	assert_string_equal(viommu_model_name(v), "calgary");
	/* The zero config takes the same defaults: same discovery bytes, same bus. */
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)&v, 1, b1,
						  sizeof(b1), &u1),
			 0);
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)&w, 1, b2,
						  sizeof(b2), &u2),
			 0);
	assert_int_equal(u1, u2);
	assert_memory_equal(b1, b2, u1);
	viommu_destroy(w);

	/* Out of range. */
	struct viommu_calgary_config bad[] = {
		{ .chip = 2 },		{ .first_bus = 253 },	    { .pa_bits = 31 },
		{ .pa_bits = 49 },	{ .cache_entries = 3 },	    { .cache_entries = 131072 },
		{ .bbar = 0xfe000100 }, { .bbar = 0x100000000ull },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(viommu_calgary_create(&bad[i], viommu_flatmem_ops(), fm, &w),
				 VIOMMU_EINVAL);
	struct viommu_host_ops noread = *viommu_flatmem_ops();
	noread.dma_read = NULL;
	assert_int_equal(viommu_calgary_create(&c, &noread, fm, &w), VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_create(NULL, viommu_flatmem_ops(), fm, &w), VIOMMU_EINVAL);

	/* get_stats and the other calls refuse another model's instance. */
	viommu_amdvi_config_init(&ac);
	assert_int_equal(viommu_amdvi_create(&ac, viommu_flatmem_ops(), fm, &a), 0);
	assert_int_equal(viommu_calgary_get_stats(a, &st), VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_get_stats(NULL, &st), VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_get_stats(v, NULL), VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_tce_written(a, 0, 8), VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_hcall(a, VIOMMU_TCE_H_PUT_TCE, (uint64_t[4]){ 0 }, NULL),
			 VIOMMU_TCE_H_PARAMETER);
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)&a, 1, b1,
						  sizeof(b1), &u1),
			 VIOMMU_EINVAL);
	viommu_destroy(a);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
}

static void test_reset_values(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	for (unsigned int n = 0; n < 4; n++) {
		uint32_t stuff =
			rd32(&f, VIOMMU_CALGARY_PHB_DEBUG(n) | VIOMMU_CALGARY_PHB_DEBUG_STUFF);

		assert_int_equal(VIOMMU_CALGARY_STUFF_START_BUS(stuff), n);
		assert_int_equal(VIOMMU_CALGARY_STUFF_END_BUS(stuff), 0);
		assert_int_equal(rd32(&f, phb(n, VIOMMU_CALGARY_PHB_CSR)), 0);
		assert_int_equal(rd32(&f, phb(n, VIOMMU_CALGARY_PHB_CONFIG_RW)), 0);
		assert_int_not_equal(rd32(&f, phb(n, VIOMMU_CALGARY_PHB_AER)), 0);
		assert_int_equal(rd64(&f, VIOMMU_CALGARY_TAR(n)), 0);
		/* Arbitration on: the split queue does not show idle. */
		assert_int_not_equal(rd64(&f, VIOMMU_CALGARY_SPLIT_QUEUE(n)) & 0xff, 0xff);
	}
	/* Stored registers come back in the order written; the byte order is big-endian. */
	wr32(&f, phb(2, VIOMMU_CALGARY_PHB_MEM_1_LOW), 0x12345678);
	assert_int_equal(rd(&f, phb(2, VIOMMU_CALGARY_PHB_MEM_1_LOW), 4), 0x78563412);
	wr64(&f, VIOMMU_CALGARY_CONFIG_REG, 0x0123456789abcdefull);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_CONFIG_REG), 0x0123456789abcdefull);
	/* The TAR keeps the software bits only. */
	wr64(&f, VIOMMU_CALGARY_TAR(1), ~0ull);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_TAR(1)), VIOMMU_CALGARY_TAR_SW_BITS);
	/* Unknown registers, CalIOC2 registers on Calgary, bad widths: 0, ignored. */
	struct viommu_calgary_stats s0 = stats(&f);
	assert_int_equal(rd(&f, 0x1000, 4), 0);
	assert_int_equal(rd(&f, phb(0, VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL), 4), 0);
	assert_int_equal(rd(&f, VIOMMU_CALGARY_TAR(0), 4), 0);
	assert_int_equal(rd(&f, phb(0, VIOMMU_CALGARY_PHB_CSR), 8), 0);
	wr(&f, phb(0, VIOMMU_CALGARY_PHB_SAVIOR_L2), 4, 0xffffffff);
	wr(&f, VIOMMU_CALGARY_TAR(0) + 4, 4, 0xffffffff);
	wr(&f, 0xfffff, 1, 0xff);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_TAR(0)), 0);
	assert_int_equal(stats(&f).mmio_ignored - s0.mmio_ignored, 7);
	assert_int_equal(viommu_mmio_read(f.v, 0, 4, NULL), VIOMMU_EINVAL);
	fx_fini(&f);
}

/* Linux's sequence on each chip: enable, map, DMA, unmap (stale until a blast), blast. */
static void driver_sequence(uint32_t chip)
{
	struct vg_cal_config dc = { .entries = 8192 };
	uint64_t dma, dma2, data = DATA_BASE + 0x123;
	struct viommu_xlate_result r;
	struct vg_cal_stats ds;
	struct fx f;

	fx_init(&f, chip, &dc);
	assert_int_equal(vg_cal_bus(f.d), 0);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_TAR(0)), vg_cal_table(f.d) | 0);
	assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW)),
			 VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_DAC_DISABLE |
				 VIOMMU_CALGARY_PHB_MCSR_ENABLE);
	if (chip == VIOMMU_CALGARY_CHIP_CALIOC2)
		assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_SAVIOR_L2)),
				 VIOMMU_CALGARY_SAVIOR_L2_RECOMMENDED);
	/*
	 * Reserved: the emergency pages, 640K-1M (Calgary) or the first MiB (CalIOC2), and the
	 * MEM_1 window, which reads 0 here and so covers the first MiB too (limit | 0xfffff).
	 */
	assert_int_equal(vg_cal_pages_used(f.d), 256);

	/* A 6000-byte buffer at offset 0x123 spans two pages. */
	assert_int_equal(vg_cal_map_page(f.d, data, 6000, VIOMMU_ACC_WRITE, &dma), 0);
	assert_int_equal(dma & 0xfff, 0x123);
	assert_int_equal(dma, 0x100123);
	assert_int_equal(get_tce(&f, vg_cal_table(f.d), dma >> 12),
			 (DATA_BASE | VIOMMU_TCE_READ | VIOMMU_TCE_WRITE));
	r = xl(&f, 0x0008, dma, 6000, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, data);
	assert_int_equal(r.len, 4096 - 0x123);
	r = xl(&f, 0x00ff, dma + 4096, 1, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, data + 4096);
	/* Device reads only (DMA_TO_DEVICE): read, no write. */
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE + 0x10000, 4096, VIOMMU_ACC_READ, &dma2),
			 0);
	assert_int_equal(dma2, dma + 2 * 4096 - 0x123);
	r = xl(&f, 0x0008, dma2, 8, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_PERM);
	assert_int_equal(vg_cal_watchdog(f.d, NULL, NULL), 1);
	/* The watchdog disabled the slot: clear it again for the rest of the run. */
	wr32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW),
	     rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW)) & ~VIOMMU_CALGARY_PHB_SLOT_DISABLE);

	/* Unmap writes 0 and invalidates nothing: the cached TCE still translates. */
	assert_int_equal(vg_cal_unmap_page(f.d, dma, 6000), 0);
	assert_int_equal(get_tce(&f, vg_cal_table(f.d), dma >> 12), 0);
	r = xl(&f, 0x0008, dma, 8, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, data);
	assert_int_equal(vg_cal_blast(f.d), 0);
	assert_int_equal(stats(&f).blasts, 2); /* the bring-up's TAR write, then this one */
	assert_int_equal(stats(&f).blasts_unquiesced, 0);
	r = xl(&f, 0x0008, dma, 8, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NOT_VALID);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_RECORDED);
	/* After the sequence the bus runs again. */
	assert_int_not_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_AER)), 0);
	if (chip == VIOMMU_CALGARY_CHIP_CALIOC2)
		assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL)), 0);
	vg_cal_get_stats(f.d, &ds);
	assert_int_equal(ds.blasts, 1);
	assert_int_equal(ds.not_quiesced, 0);
	assert_int_equal(ds.softstop_retries, 0);
	/* Disable: TCE off, TAR software bits cleared, DMA passes untranslated. */
	assert_int_equal(vg_cal_disable(f.d), 0);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_TAR(0)), 0);
	r = xl(&f, 0x0008, 0x5000, 8, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x5000);
	fx_fini(&f);
}

static void test_driver_calgary(void **state)
{
	(void)state;
	driver_sequence(VIOMMU_CALGARY_CHIP_CALGARY);
}

static void test_driver_calioc2(void **state)
{
	(void)state;
	driver_sequence(VIOMMU_CALGARY_CHIP_CALIOC2);
}

/* The allocator blasts only when it wraps; a full table is refused. */
static void test_allocator_wrap(void **state)
{
	struct vg_cal_config dc = { .entries = 8192, .no_reservation = true };
	struct viommu_xlate_result r;
	struct vg_cal_stats ds;
	uint64_t dma, first;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, &dc);
	/* Pages 0-31 (never freeable: the emergency pages at bad_dma_address 0). */
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 32 * 4096, VIOMMU_ACC_RW, &dma), 0);
	assert_int_equal(dma, 0);
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 4096, VIOMMU_ACC_RW, &first), 0);
	assert_int_equal(first, 32 << 12);
	r = xl(&f, 0x0000, first, 8, VIOMMU_ACC_READ); /* cached */
	assert_true(viommu_xlate_ok(&r));
	for (int i = 33; i < 8192; i++) {
		assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 4096, VIOMMU_ACC_RW, &dma), 0);
		assert_int_equal(dma, (uint64_t)i << 12);
		if (i % 2)
			assert_int_equal(vg_cal_unmap_page(f.d, dma, 4096), 0);
	}
	/* No blast yet. */
	vg_cal_get_stats(f.d, &ds);
	assert_int_equal(ds.blasts, 0);
	assert_int_equal(vg_cal_unmap_page(f.d, first, 4096), 0);
	r = xl(&f, 0x0000, first, 8, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r)); /* stale */
	/* The next allocation wraps: one blast, then the lowest free page (32). */
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE + 4096, 4096, VIOMMU_ACC_RW, &dma), 0);
	assert_int_equal(dma, first);
	vg_cal_get_stats(f.d, &ds);
	assert_int_equal(ds.wraps, 1);
	assert_int_equal(ds.blasts, 1);
	r = xl(&f, 0x0000, first, 8, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 4096); /* the new TCE, not the stale one */
	/* Two pages do not fit anywhere now (odd pages free, even pages used): full. */
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 8192, VIOMMU_ACC_RW, &dma), VIOMMU_ENOSPC);
	vg_cal_get_stats(f.d, &ds);
	assert_int_equal(ds.full, 1);
	assert_int_equal(ds.wraps, 2);
	/* Bad unmaps: emergency pages, past the table. */
	assert_int_equal(vg_cal_unmap_page(f.d, 0, 4096), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_unmap_page(f.d, 8191ull << 12, 8192), VIOMMU_EINVAL);
	fx_fini(&f);
}

/* Every refusal, and the error registers the watchdog reads. */
static void test_fault_reasons(void **state)
{
	struct viommu_xlate_result r;
	uint64_t table = RAW_BASE;
	uint32_t csr, plssr;
	struct fx f;

	(void)state;
	for (uint32_t chip = 0; chip < 2; chip++) {
		fx_init(&f, chip, NULL);
		/* A hand-built table for PHB 1 (bus 1), code 0. */
		wr64(&f, VIOMMU_CALGARY_TAR(1), table | VIOMMU_TCE_TABLE_SIZE_64K);
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CONFIG_RW),
		     VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_DAC_DISABLE);
		put_tce(&f, table, 5, DATA_BASE | VIOMMU_TCE_READ);
		put_tce(&f, table, 6, (1ull << 47) | VIOMMU_TCE_READ); /* above pa_bits 48? no */
		put_tce(&f, table, 7, VIOMMU_TCE_HUBID_MASK);	       /* no rights */

		r = xl(&f, 0x0500, 0x5000, 8, VIOMMU_ACC_READ); /* bus 5: no PHB */
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NO_PHB);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_BLOCKED);
		assert_int_equal(r.fault.flags, 0);
		r = xl(&f, 0x10000, 0x5000, 8, VIOMMU_ACC_READ); /* not a requester id */
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NO_PHB);
		r = xl(&f, 0x0100, 0x5000, 8, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE);
		r = xl(&f, 0x0100, 0x6000, 8, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r)); /* bit 47 is inside 48 bits */
		r = xl(&f, 0x0100, 0x7000, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NOT_VALID);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_RECORDED);
		/* The first error stays; the next only marks the CSR. */
		csr = rd32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR));
		assert_true(csr & VIOMMU_CALGARY_CSR_AGENT_MASK);
		assert_int_equal(csr, VIOMMU_CALGARY_CSR_TCE_FAULT);
		assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_PLSSR)), 7);
		if (chip == VIOMMU_CALGARY_CHIP_CALIOC2) {
			assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_ERR(0))), 0);
			assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_ERR(1))), 0x7000);
			assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_ERR(2))),
					 VIOMMU_CALGARY_R_NOT_VALID << 16 | 0x0100);
		}
		r = xl(&f, 0x0100, 0x5000, 8, VIOMMU_ACC_WRITE);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_PERM);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
		assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR)),
				 VIOMMU_CALGARY_CSR_TCE_FAULT | VIOMMU_CALGARY_CSR_MULTI);
		assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_PLSSR)), 7);
		/* Other PHBs saw nothing. */
		assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CSR)), 0);
		/* Clearing the CSR takes the details with it. */
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR), 0);
		assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_PLSSR)), 0);
		r = xl(&f, 0x0100, 8192ull << 12, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_RANGE);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_ADDR_SIZE);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_RECORDED);
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR), 0);
		r = xl(&f, 0x0100, 1ull << 32, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_DAC);
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR), 0);
		/* Slot disabled: refused, no new error. */
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CONFIG_RW),
		     VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_SLOT_DISABLE);
		r = xl(&f, 0x0100, 0x5000, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_SLOT_DISABLED);
		assert_int_equal(rd32(&f, phb(1, VIOMMU_CALGARY_PHB_CSR)), 0);
		wr32(&f, phb(1, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_TCE_ENABLE);
		/* A TAR beyond memory: the table read fails. */
		wr64(&f, VIOMMU_CALGARY_TAR(1), (MEM_SIZE - 0x8000) | VIOMMU_TCE_TABLE_SIZE_8M);
		assert_int_equal(stats(&f).blasts_unquiesced, 1);
		r = xl(&f, 0x0100, 0x2000000, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_TABLE);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_WALK_ABORT);
		r = xl(&f, 0x0100, 0x5000, 8, VIOMMU_ACC_READ); /* stale: not quiesced */
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE);
		fx_fini(&f);
	}
	/* pa_bits 32: a TCE above 4 GiB is refused. */
	{
		struct viommu_calgary_config c;

		viommu_calgary_config_init(&c);
		c.pa_bits = 32;
		assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f.fm), 0);
		assert_int_equal(viommu_calgary_create(&c, viommu_flatmem_ops(), f.fm, &f.v), 0);
		f.d = NULL;
		wr64(&f, VIOMMU_CALGARY_TAR(0), table);
		wr32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_TCE_ENABLE);
		put_tce(&f, table, 1, (1ull << 32) | VIOMMU_TCE_READ);
		r = xl(&f, 0x0000, 0x1000, 8, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_RPN);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_ADDR_SIZE);
		/* The watchdog's view: error found, CSR cleared, slot disabled. */
		struct vg_cal_config dc = { .iommu = f.v, .mem = f.fm, .entries = 8192 };
		assert_int_equal(vg_cal_create(&dc, &f.d), 0);
		assert_int_equal(vg_cal_watchdog(f.d, &csr, &plssr), 1);
		assert_int_equal(csr, VIOMMU_CALGARY_CSR_TCE_FAULT);
		assert_int_equal(plssr, 1);
		assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CSR)), 0);
		assert_true(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW)) &
			    VIOMMU_CALGARY_PHB_SLOT_DISABLE);
		assert_int_equal(vg_cal_watchdog(f.d, &csr, &plssr), 0);
		fx_fini(&f);
	}
}

/* Translation off: untranslated, up to 4 GiB with DAC disabled. */
static void test_bypass(void **state)
{
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	r = xl(&f, 0x0300, 0x123456789ull, 100, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x123456789ull);
	assert_int_equal(r.len, 100);
	wr32(&f, phb(3, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_DAC_DISABLE);
	r = xl(&f, 0x0300, 0xfffffff0ull, 100, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.len, 16);
	r = xl(&f, 0x0300, 0x100000000ull, 1, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_DAC);
	r = xl(&f, 0x0200, UINT64_MAX, 16, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.len, 1);
	assert_int_equal(stats(&f).bypassed, 3);
	fx_fini(&f);
}

/* Both blast sequences by hand, and what each skipped step leaves. */
static void test_blast_steps(void **state)
{
	uint64_t table = RAW_BASE;
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	/* Calgary: a TAR rewrite without quiesce keeps the stale TCE. */
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	wr32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_TCE_ENABLE);
	put_tce(&f, table, 3, DATA_BASE | VIOMMU_TCE_READ);
	assert_true(xok(xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ)));
	put_tce(&f, table, 3, (DATA_BASE + 0x10000) | VIOMMU_TCE_READ);
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE);
	assert_int_equal(stats(&f).blasts_unquiesced, 1);
	/* Arbitration off: DMA refused (retry, no error), the split queue idle, then the TAR. */
	wr32(&f, phb(0, VIOMMU_CALGARY_PHB_AER), 0);
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_STOPPED);
	assert_int_equal(r.fault.flags, 0);
	assert_int_equal(rd32(&f, phb(0, VIOMMU_CALGARY_PHB_CSR)), 0);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_SPLIT_QUEUE(0)) & 0xff, 0xff);
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	wr32(&f, phb(0, VIOMMU_CALGARY_PHB_AER), 0xffffffff);
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x10000);
	assert_int_equal(stats(&f).stopped, 1);
	fx_fini(&f);

	/* CalIOC2. */
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALIOC2, NULL);
	uint64_t pmcr = phb(0, VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL);
	uint64_t pmdr = phb(0, VIOMMU_CALGARY_PHB_PAGE_MIG_DEBUG);
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	wr32(&f, phb(0, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_TCE_ENABLE);
	put_tce(&f, table, 3, DATA_BASE | VIOMMU_TCE_READ);
	assert_true(xok(xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ)));
	put_tce(&f, table, 3, (DATA_BASE + 0x10000) | VIOMMU_TCE_READ);
	/* SoftStop alone (no HardStop) is not enough. */
	wr32(&f, pmcr, VIOMMU_CALGARY_PMR_SOFTSTOP);
	assert_int_equal(rd64(&f, VIOMMU_CALGARY_SPLIT_QUEUE(0)) & 0xff, 0xff);
	/* A DMA hits the SoftStop: SoftStopFault, and the PMCR read does not enter HardStop. */
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_STOPPED);
	assert_int_equal(rd32(&f, pmdr), VIOMMU_CALGARY_PMR_SOFTSTOPFAULT);
	assert_int_equal(rd32(&f, pmcr), VIOMMU_CALGARY_PMR_SOFTSTOP);
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	assert_int_equal(stats(&f).blasts_unquiesced, 1);
	/* Restart: SoftStop again clears the fault; the PMCR read slams into HardStop. */
	wr32(&f, pmcr, VIOMMU_CALGARY_PMR_SOFTSTOP);
	assert_int_equal(rd32(&f, pmdr), 0);
	assert_int_equal(rd32(&f, pmcr), VIOMMU_CALGARY_PMR_SOFTSTOP | VIOMMU_CALGARY_PMR_HARDSTOP);
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_STOPPED);
	assert_int_equal(rd32(&f, pmdr), 0); /* HardStop: no SoftStopFault */
	wr64(&f, VIOMMU_CALGARY_TAR(0), table);
	wr32(&f, pmcr, 0);
	assert_int_equal(rd32(&f, pmcr), 0);
	r = xl(&f, 0, 0x3000, 1, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x10000);
	assert_int_equal(stats(&f).blasts, 2); /* the first TAR write (TCE off), this one */
	fx_fini(&f);

	/* The driver that skips the quiesce leaves stale entries; the right one does not. */
	for (int skip = 0; skip < 2; skip++) {
		struct vg_cal_config dc = { .entries = 8192, .skip_quiesce = skip };
		uint64_t dma;

		fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, &dc);
		assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 4096, VIOMMU_ACC_RW, &dma), 0);
		assert_true(xok(xl(&f, 0, dma, 1, VIOMMU_ACC_READ)));
		assert_int_equal(vg_cal_unmap_page(f.d, dma, 4096), 0);
		assert_int_equal(vg_cal_blast(f.d), 0);
		r = xl(&f, 0, dma, 1, VIOMMU_ACC_READ);
		assert_int_equal(viommu_xlate_ok(&r), skip);
		fx_fini(&f);
	}
}

static int64_t hc(struct fx *f, uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t *ret)
{
	uint64_t args[4] = { a0, a1, a2, a3 };

	return viommu_calgary_hcall(f->v, op, args, ret);
}

static void test_hcalls(void **state)
{
	uint64_t table = RAW_BASE, list = RAW_BASE + (1ull << 20), t;
	uint64_t *lp, before[16];
	struct viommu_xlate_result r;
	struct viommu_calgary_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	/* No TAR written yet: no table. */
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 2, 0x1000, DATA_BASE | 1, 0, NULL),
			 VIOMMU_TCE_H_PARAMETER);
	wr64(&f, VIOMMU_CALGARY_TAR(2), table | VIOMMU_TCE_TABLE_SIZE_64K);
	wr32(&f, phb(2, VIOMMU_CALGARY_PHB_CONFIG_RW), VIOMMU_CALGARY_PHB_TCE_ENABLE);

	/* H_PUT_TCE, H_GET_TCE; the low bits of the I/O address are ignored. */
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 2, 0x1fff, DATA_BASE | 3, 0, NULL), 0);
	assert_int_equal(get_tce(&f, table, 1), DATA_BASE | 3);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_GET_TCE, 2, 0x1000, 0, 0, &t), 0);
	assert_int_equal(t, DATA_BASE | 3);
	r = xl(&f, 0x0200, 0x1010, 4, VIOMMU_ACC_WRITE);
	assert_int_equal(r.out, DATA_BASE + 0x10);
	/* A hypercall replaces the cached TCE at once (no blast needed). */
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 2, 0x1000, (DATA_BASE + 0x3000) | 1, 0, NULL),
			 0);
	r = xl(&f, 0x0200, 0x1010, 4, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x3010);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 2, 0x1000, 0, 0, NULL), 0);
	r = xl(&f, 0x0200, 0x1010, 4, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NOT_VALID);

	/* H_PUT_TCE_INDIRECT of 512 from a big-endian list. */
	lp = viommu_flatmem_ptr(f.fm, list, 4096);
	for (int i = 0; i < 512; i++)
		lp[i] = __builtin_bswap64((DATA_BASE + 4096ull * i) | VIOMMU_TCE_READ);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE_INDIRECT, 2, 0x100000, list, 512, NULL), 0);
	for (int i = 0; i < 512; i += 97)
		assert_int_equal(get_tce(&f, table, 256 + i), (DATA_BASE + 4096ull * i) | 1);
	r = xl(&f, 0x0200, 0x100000 + 511 * 4096ull, 4, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 511 * 4096ull);
	/* H_STUFF_TCE clears a range. */
	assert_int_equal(hc(&f, VIOMMU_TCE_H_STUFF_TCE, 2, 0x100000, 0, 512, NULL), 0);
	assert_int_equal(get_tce(&f, table, 256 + 511), 0);
	r = xl(&f, 0x0200, 0x100000 + 511 * 4096ull, 4, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NOT_VALID);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_STUFF_TCE, 2, 0, DATA_BASE | 1, 8192, NULL), 0);
	assert_int_equal(get_tce(&f, table, 8191), DATA_BASE | 1);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_STUFF_TCE, 2, 0, 0, 8192, NULL), 0);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE_INDIRECT, 2, 0, list, 0, NULL), 0);

	/* Every error changes nothing. */
	memcpy(before, viommu_flatmem_ptr(f.fm, table + 8 * 8176, sizeof(before)), sizeof(before));
	st = stats(&f);
	const struct {
		uint64_t op, a[4];
		int64_t rc;
	} bad[] = {
		{ 0x24, { 2, 0, 0, 0 }, VIOMMU_TCE_H_FUNCTION },
		{ VIOMMU_TCE_H_PUT_TCE, { 4, 0, DATA_BASE | 1, 0 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE,
		  { 2, 8192ull << 12, DATA_BASE | 1, 0 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE, { 2, 0, (1ull << 48) | 1, 0 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE, { 2, 0, DATA_BASE, 0 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT, { 2, 0, list, 513 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT, { 2, 0, list + 8, 4 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT,
		  { 2, 8180ull << 12, list, 16 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT,
		  { 2, 0, MEM_SIZE - 4096, 513 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT, { 2, 0, MEM_SIZE, 1 }, VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_PUT_TCE_INDIRECT,
		  { 2, 0, UINT64_MAX & ~0xfffull, 2 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_STUFF_TCE,
		  { 2, 8176ull << 12, DATA_BASE | 1, 17 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_STUFF_TCE,
		  { 2, 0, DATA_BASE | 1, UINT64_MAX },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_STUFF_TCE,
		  { 2, 8176ull << 12, DATA_BASE, 1 },
		  VIOMMU_TCE_H_PARAMETER },
		{ VIOMMU_TCE_H_GET_TCE, { 2, 0, 0, 0 }, VIOMMU_TCE_H_PARAMETER }, /* ret NULL */
		{ VIOMMU_TCE_H_GET_TCE, { UINT64_MAX, 0, 0, 0 }, VIOMMU_TCE_H_PARAMETER },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (viommu_calgary_hcall(f.v, bad[i].op, bad[i].a, NULL) != bad[i].rc)
			fail_msg("bad hypercall %zu", i);
	/* An indirect list with one bad TCE among good ones: nothing is written. */
	lp[3] = __builtin_bswap64((1ull << 50) | 1);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE_INDIRECT, 2, 8176ull << 12, list, 16, NULL),
			 VIOMMU_TCE_H_PARAMETER);
	assert_memory_equal(before, viommu_flatmem_ptr(f.fm, table + 8 * 8176, sizeof(before)),
			    sizeof(before));
	assert_int_equal(stats(&f).hcall_errors - st.hcall_errors,
			 sizeof(bad) / sizeof(bad[0]) + 1);
	assert_int_equal(stats(&f).hcall_tces, st.hcall_tces);
	/* A table outside memory: H_HARDWARE. */
	wr64(&f, VIOMMU_CALGARY_TAR(2), (MEM_SIZE - 0x8000) | VIOMMU_TCE_TABLE_SIZE_64K);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 2, 0x1000ull << 12, DATA_BASE | 1, 0, NULL),
			 VIOMMU_TCE_H_HARDWARE);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_GET_TCE, 2, 0x1000ull << 12, 0, 0, &t),
			 VIOMMU_TCE_H_HARDWARE);
	assert_int_equal(hc(&f, VIOMMU_TCE_H_STUFF_TCE, 2, 0, 0, 8192, NULL),
			 VIOMMU_TCE_H_HARDWARE);
	assert_int_equal(viommu_calgary_hcall(f.v, VIOMMU_TCE_H_PUT_TCE, NULL, NULL),
			 VIOMMU_TCE_H_PARAMETER);
	fx_fini(&f);
}

/* The hypercall driver: one hypercall per page, or one indirect per run of up to 512. */
static void test_hcall_driver(void **state)
{
	struct viommu_xlate_result r;
	struct viommu_calgary_stats st;
	struct vg_cal_stats ds;
	uint64_t dma;
	struct fx f;

	(void)state;
	for (int batch = 0; batch < 2; batch++) {
		struct vg_cal_config dc = { .entries = 8192, .hcall = true, .hcall_batch = batch };

		fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, &dc);
		assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 600 * 4096, VIOMMU_ACC_RW, &dma),
				 0);
		vg_cal_get_stats(f.d, &ds);
		assert_int_equal(ds.hcalls, batch ? 2 : 600);
		assert_int_equal(ds.tce_writes, 0);
		r = xl(&f, 0, dma + 599 * 4096ull, 1, VIOMMU_ACC_WRITE);
		assert_int_equal(r.out, DATA_BASE + 599 * 4096ull);
		assert_int_equal(vg_cal_unmap_page(f.d, dma, 600 * 4096), 0);
		vg_cal_get_stats(f.d, &ds);
		assert_int_equal(ds.hcalls, batch ? 3 : 1200);
		assert_int_equal(ds.hcall_failures, 0);
		/* Coherent: gone without a blast. */
		r = xl(&f, 0, dma + 599 * 4096ull, 1, VIOMMU_ACC_WRITE);
		assert_int_equal(r.fault.reason, VIOMMU_CALGARY_R_NOT_VALID);
		st = stats(&f);
		assert_int_equal(st.hcall_tces, 1200);
		/* Queued maps through the strategies' ops: out at sync_map. */
		assert_int_equal(vg_cal_dma_ops.map_queue(f.d, 0x400000, DATA_BASE, 8192, 1), 0);
		assert_int_equal(vg_cal_dma_ops.map_queue(f.d, 0x402000, DATA_BASE, 4096, 1), 0);
		if (batch) {
			r = xl(&f, 0, 0x402000, 1, VIOMMU_ACC_READ);
			assert_false(viommu_xlate_ok(&r));
		}
		assert_int_equal(vg_cal_dma_ops.sync_map(f.d), 0);
		r = xl(&f, 0, 0x402000, 1, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		vg_cal_get_stats(f.d, &ds);
		assert_int_equal(ds.hcalls, batch ? 4 : 1203);
		fx_fini(&f);
	}
	/* The bare-chip strategies' ops: strict unmap blasts, lazy does not, flush does. */
	struct vg_cal_config dc = { .entries = 8192 };
	struct vg_cal_stats d0;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, &dc);
	assert_int_equal(vg_cal_dma_ops.map(f.d, 0x400000, DATA_BASE, 4096, 3), 0);
	assert_true(xok(xl(&f, 0, 0x400000, 1, VIOMMU_ACC_WRITE)));
	assert_int_equal(vg_cal_dma_ops.unmap_lazy(f.d, 0x400000, 4096), 0);
	assert_true(xok(xl(&f, 0, 0x400000, 1, VIOMMU_ACC_WRITE)));
	vg_cal_get_stats(f.d, &d0);
	assert_int_equal(vg_cal_dma_ops.flush(f.d), 0);
	assert_false(xok(xl(&f, 0, 0x400000, 1, VIOMMU_ACC_WRITE)));
	assert_int_equal(vg_cal_dma_ops.map(f.d, 0x400000, DATA_BASE, 4096, 3), 0);
	assert_true(xok(xl(&f, 0, 0x400000, 1, VIOMMU_ACC_WRITE)));
	assert_int_equal(vg_cal_dma_ops.unmap(f.d, 0x400000, 4096), 0);
	assert_false(xok(xl(&f, 0, 0x400000, 1, VIOMMU_ACC_WRITE)));
	vg_cal_get_stats(f.d, &ds);
	assert_int_equal(ds.blasts - d0.blasts, 2);
	assert_int_equal(vg_cal_dma_ops.map(f.d, 0x401, DATA_BASE, 4096, 3), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_dma_ops.map(f.d, 8191ull << 12, DATA_BASE, 8192, 3), VIOMMU_EINVAL);
	fx_fini(&f);
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct evrec *r = opaque;

	if (r->n < 256)
		r->ev[r->n] = *ev;
	r->n++;
}

static void test_notify(void **state)
{
	struct evrec any = { 0 }, dev = { 0 }, other = { 0 };
	struct viommu_notifier *na, *nd, *no;
	struct vg_cal_config dc = { .entries = 8192, .trap_writes = true };
	uint64_t dma;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     on_event, &any, &na),
			 0);
	assert_int_equal(viommu_notifier_add(f.v, 0x0010, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event,
					     &dev, &nd),
			 0);
	assert_int_equal(viommu_notifier_add(f.v, 0x0110, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event,
					     &other, &no),
			 0);
	dc.iommu = f.v;
	dc.mem = f.fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	assert_int_equal(vg_cal_create(&dc, &f.d), 0);
	assert_int_equal(vg_cal_enable(f.d), 0);
	/* The bring-up's TAR write blasted (translation was off): UNMAP of everything. */
	assert_int_equal(any.n, 1);
	assert_int_equal(any.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(any.ev[0].sid, 0x0000);
	assert_int_equal(any.ev[0].last, UINT64_MAX);
	assert_int_equal(dev.n, 1);
	assert_int_equal(dev.ev[0].sid, 0x0010);
	assert_int_equal(other.n, 0); /* bus 1 is another PHB */
	any.n = dev.n = 0;
	/* Trapped TCE writes: UNMAP of the pages, MAP of the new run. */
	assert_int_equal(vg_cal_map_page(f.d, DATA_BASE, 3 * 4096, VIOMMU_ACC_WRITE, &dma), 0);
	assert_int_equal(any.n, 2);
	assert_int_equal(any.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(any.ev[0].iova, dma);
	assert_int_equal(any.ev[0].last, dma + 3 * 4096 - 1);
	assert_int_equal(any.ev[1].type, VIOMMU_EV_MAP);
	assert_int_equal(any.ev[1].iova, dma);
	assert_int_equal(any.ev[1].last, dma + 3 * 4096 - 1);
	assert_int_equal(any.ev[1].out, DATA_BASE);
	assert_int_equal(any.ev[1].perm, VIOMMU_ACC_RW | VIOMMU_ACC_EXEC);
	assert_int_equal(dev.n, 2);
	assert_int_equal(dev.ev[1].sid, 0x0010);
	/* Replay to a new consumer: the live TCEs. */
	struct evrec rep = { 0 };
	struct viommu_notifier *nr;
	assert_int_equal(viommu_notifier_add(f.v, 0x0020, VIOMMU_EV_MAP, on_event, &rep, &nr), 0);
	assert_int_equal(viommu_notifier_replay(f.v, nr), 0);
	assert_int_equal(rep.n, 1);
	assert_int_equal(rep.ev[0].sid, 0x0020);
	assert_int_equal(rep.ev[0].iova, dma);
	assert_int_equal(rep.ev[0].last, dma + 3 * 4096 - 1);
	viommu_notifier_del(f.v, nr);
	/* Unmap: UNMAP only. A write outside every table: nothing. */
	any.n = 0;
	assert_int_equal(vg_cal_unmap_page(f.d, dma, 3 * 4096), 0);
	assert_int_equal(any.n, 1);
	assert_int_equal(any.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(viommu_calgary_tce_written(f.v, DATA_BASE, 4096), 0);
	assert_int_equal(viommu_calgary_tce_written(f.v, 0, 0), 0);
	assert_int_equal(viommu_calgary_tce_written(f.v, UINT64_MAX, 2), VIOMMU_EINVAL);
	assert_int_equal(any.n, 1);
	assert_int_equal(stats(&f).trapped_tces, 6);
	/* Blast: UNMAP of everything. */
	assert_int_equal(vg_cal_blast(f.d), 0);
	assert_int_equal(any.n, 2);
	assert_int_equal(any.ev[1].last, UINT64_MAX);
	/* Hypercalls notify as well. */
	any.n = 0;
	assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 0, 0x200000, DATA_BASE | 1, 0, NULL), 0);
	assert_int_equal(any.n, 2);
	assert_int_equal(any.ev[1].type, VIOMMU_EV_MAP);
	assert_int_equal(any.ev[1].perm, VIOMMU_ACC_READ | VIOMMU_ACC_EXEC);
	assert_int_equal(other.n, 0);
	/* A blast: UNMAP of everything, then a MAP consumer hears the live TCEs again. */
	any.n = 0;
	assert_int_equal(vg_cal_blast(f.d), 0);
	assert_int_equal(any.n, 2);
	assert_int_equal(any.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(any.ev[0].last, UINT64_MAX);
	assert_int_equal(any.ev[1].type, VIOMMU_EV_MAP);
	assert_int_equal(any.ev[1].iova, 0x200000);
	assert_int_equal(any.ev[1].last, 0x200fff);
	assert_int_equal(any.ev[1].out, DATA_BASE);
	assert_int_equal(any.ev[1].sid, 0x0000);
	viommu_notifier_del(f.v, na);
	viommu_notifier_del(f.v, nd);
	viommu_notifier_del(f.v, no);
	fx_fini(&f);
}

static void test_discovery(void **state)
{
	struct viommu_calgary_config c;
	struct viommu_flatmem *fm;
	struct viommu *v[2];
	uint8_t b[64];
	size_t used;

	(void)state;
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &fm), 0);
	viommu_calgary_config_init(&c);
	c.bbar = 0xfe100000;
	assert_int_equal(viommu_calgary_create(&c, viommu_flatmem_ops(), fm, &v[0]), 0);
	c.bbar = 0xfe200000;
	c.first_bus = 4;
	assert_int_equal(viommu_calgary_create(&c, viommu_flatmem_ops(), fm, &v[1]), 0);
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)v, 2, b, 10, &used),
			 VIOMMU_ENOSPC);
	assert_int_equal(used, 4 + 3 + 12 + 2 * 15);
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)v, 2, b, sizeof(b),
						  &used),
			 0);
	/* Walk it as detect_calgary() and build_detail_arrays() do. */
	assert_int_equal(b[2] | b[3] << 8, 0x4752);
	assert_int_equal(b[0] | b[1] << 8, 0); /* last block */
	assert_int_equal(b[4], 3);
	assert_int_equal(b[5], 1);
	assert_int_equal(b[6], 2);
	for (int i = 0; i < 2; i++) {
		const uint8_t *d = b + 4 + 3 + 12 + 15 * i;
		uint32_t bbar = d[1] | d[2] << 8 | d[3] << 16 | (uint32_t)d[4] << 24;

		assert_int_equal(d[5], VIOMMU_CALGARY_RIO_TYPE_COMPAT_CALGARY);
		assert_int_equal(bbar, 0xfe100000u * (i + 1) - (i ? 0xfe000000u : 0));
	}
	assert_int_equal(viommu_calgary_discovery((const struct viommu *const *)v, 0, b, sizeof(b),
						  &used),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_calgary_discovery(NULL, 1, b, sizeof(b), &used), VIOMMU_EINVAL);
	viommu_destroy(v[0]);
	viommu_destroy(v[1]);
	viommu_flatmem_destroy(fm);
}

/* The driver's own error paths, and a trapped write that straddles the table's start. */
static void test_driver_errors(void **state)
{
	struct vg_cal_config dc = { .entries = 8192 };
	struct evrec ev = { 0 };
	struct viommu_notifier *n;
	struct vg_cal *d;
	uint64_t dma;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	dc.iommu = f.v;
	dc.mem = f.fm;
	assert_int_equal(vg_cal_create(NULL, &d), VIOMMU_EINVAL);
	dc.entries = 1000; /* not 8 Ki << code */
	assert_int_equal(vg_cal_create(&dc, &d), VIOMMU_EINVAL);
	dc.entries = 8192;
	dc.phb = 4;
	assert_int_equal(vg_cal_create(&dc, &d), VIOMMU_EINVAL);
	dc.phb = 0;
	/* A pool smaller than the table. */
	dc.pool_base = POOL_BASE;
	dc.pool_size = 32768;
	assert_int_equal(vg_cal_create(&dc, &d), 0);
	assert_int_equal(vg_cal_map_page(d, DATA_BASE, 4096, VIOMMU_ACC_RW, &dma), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_enable(d), VIOMMU_ENOMEM);
	vg_cal_destroy(d);
	/* A pool beyond guest memory: the table has no host pointer. */
	dc.pool_base = MEM_SIZE;
	dc.pool_size = 1 << 20;
	assert_int_equal(vg_cal_create(&dc, &d), 0);
	assert_int_equal(vg_cal_enable(d), VIOMMU_EFAULT);
	vg_cal_destroy(d);
	/* Bad maps: empty, wrapping, larger than the table. */
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	assert_int_equal(vg_cal_create(&dc, &d), 0);
	assert_int_equal(vg_cal_enable(d), 0);
	assert_int_equal(vg_cal_map_page(d, DATA_BASE, 0, VIOMMU_ACC_RW, &dma), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_map_page(d, UINT64_MAX - 10, 100, VIOMMU_ACC_RW, &dma),
			 VIOMMU_EINVAL);
	assert_int_equal(vg_cal_map_page(d, DATA_BASE, 8193ull << 12, VIOMMU_ACC_RW, &dma),
			 VIOMMU_ENOSPC);
	assert_int_equal(vg_cal_unmap_page(d, 1ull << 30, 0), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_set_tces(d, 0x400000, DATA_BASE + 1, 4096, 3), VIOMMU_EINVAL);
	assert_int_equal(vg_cal_clear_tces(d, 0x400000, 0), VIOMMU_EINVAL);
	/* A trapped write from before the table into its first entry: entry 0 alone. */
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     on_event, &ev, &n),
			 0);
	put_tce(&f, vg_cal_table(d), 0, DATA_BASE | VIOMMU_TCE_READ);
	assert_int_equal(viommu_calgary_tce_written(f.v, vg_cal_table(d) - 16, 24), 0);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].iova, 0);
	assert_int_equal(ev.ev[0].last, 0xfff);
	assert_int_equal(ev.ev[1].out, DATA_BASE);
	/* ... and one from the last entry past the table's end: the last entry alone. */
	ev.n = 0;
	assert_int_equal(viommu_calgary_tce_written(f.v, vg_cal_table(d) + 8 * 8191, 64), 0);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].iova, 8191ull << 12);
	assert_int_equal(ev.ev[0].last, (8192ull << 12) - 1);
	viommu_notifier_del(f.v, n);
	vg_cal_destroy(d);
	fx_fini(&f);
}

/* The src/pt TCE format reads big-endian entries with VIOMMU_PT_F_BE, fast and full alike. */
static void test_pt_big_endian(void **state)
{
	struct viommu_pt_cfg cfg = { .format = VIOMMU_PT_TCE, .root = RAW_BASE };
	struct viommu_pt_walk_result w;
	struct viommu_pt_walker *wk;
	struct fx f;

	(void)state;
	fx_init(&f, VIOMMU_CALGARY_CHIP_CALGARY, NULL);
	put_tce(&f, RAW_BASE, 9, DATA_BASE | VIOMMU_TCE_WRITE);
	assert_int_equal(viommu_pt_walk(&cfg, viommu_flatmem_ops(), f.fm, 0x9000, 0, &w), 0);
	assert_int_not_equal(w.fault, VIOMMU_FAULT_NONE); /* read little-endian: garbage */
	cfg.flags = VIOMMU_PT_F_BE;
	assert_int_equal(viommu_pt_walk(&cfg, viommu_flatmem_ops(), f.fm, 0x9abc, 0, &w), 0);
	assert_int_equal(w.fault, VIOMMU_FAULT_NONE);
	assert_int_equal(w.out, DATA_BASE + 0xabc);
	assert_int_equal(w.perm, VIOMMU_ACC_WRITE);
	assert_int_equal(viommu_pt_walker_create(viommu_flatmem_ops(), f.fm, &wk), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(viommu_pt_walker_walk(wk, &cfg, 0x9abc, VIOMMU_ACC_WRITE, &w), 0);
		assert_int_equal(w.out, DATA_BASE + 0xabc);
	}
	assert_int_equal(viommu_pt_walker_walk(wk, &cfg, 0x9abc, VIOMMU_ACC_READ, &w), 0);
	assert_int_equal(w.fault, VIOMMU_FAULT_PERMISSION);
	viommu_pt_walker_destroy(wk);
	fx_fini(&f);
}

/*
 * Randomized: CPU TCE writes, hypercalls, blasts done right and wrong, DMA. The reference keeps,
 * for each page, every TCE the table held since the last effective invalidation of that page:
 * the cache may hold any valid one of them, the table the last.
 */
#define R_PAGES 64
#define R_HIST 64

struct ref {
	uint64_t hist[R_PAGES][R_HIST];
	int n[R_PAGES];
};

static void ref_reset(struct ref *rf, int pg, uint64_t cur)
{
	rf->hist[pg][0] = cur;
	rf->n[pg] = 1;
}

static void ref_add(struct ref *rf, int pg, uint64_t v)
{
	assert_true(rf->n[pg] < R_HIST);
	rf->hist[pg][rf->n[pg]++] = v;
}

static uint32_t tce_perm(uint64_t t)
{
	return (t & 1 ? VIOMMU_ACC_READ | VIOMMU_ACC_EXEC : 0) | (t & 2 ? VIOMMU_ACC_WRITE : 0);
}

static void random_run(uint32_t chip, uint64_t seed)
{
	struct vg_cal_config dc = { .entries = 8192, .no_reservation = true };
	struct test_rng rng = { seed };
	static struct ref rf;
	struct fx f;
	uint64_t table;

	fx_init(&f, chip, &dc);
	table = vg_cal_table(f.d);
	for (int i = 0; i < R_PAGES; i++)
		ref_reset(&rf, i, 0);
	for (int step = 0; step < 20000; step++) {
		int pg = (int)test_below(&rng, R_PAGES), op = (int)test_below(&rng, 100);
		uint64_t tce = 0;

		if (test_below(&rng, 4))
			tce = (DATA_BASE + (test_below(&rng, 16) << 12)) | test_below(&rng, 4);
		if (op < 20) {
			/* CPU store, no invalidation. */
			put_tce(&f, table, pg, tce);
			ref_add(&rf, pg, tce);
		} else if (op < 30) {
			assert_int_equal(hc(&f, VIOMMU_TCE_H_PUT_TCE, 0, (uint64_t)pg << 12, tce, 0,
					    NULL),
					 (tce & 3) || !tce ? 0 : VIOMMU_TCE_H_PARAMETER);
			if ((tce & 3) || !tce)
				ref_reset(&rf, pg, tce);
		} else if (op < 33) {
			/* The full sequence: everything reset to what the table holds. */
			assert_int_equal(vg_cal_blast(f.d), 0);
			for (int i = 0; i < R_PAGES; i++)
				ref_reset(&rf, i, get_tce(&f, table, i));
		} else if (op < 36) {
			/* A TAR rewrite without quiesce: nothing changes. */
			wr64(&f, VIOMMU_CALGARY_TAR(0), rd64(&f, VIOMMU_CALGARY_TAR(0)));
		} else {
			uint32_t acc = (uint32_t)test_below(&rng, 3) + 1, off = (uint32_t)(op * 37);
			struct viommu_xlate_result r =
				xl(&f, 0x0008, ((uint64_t)pg << 12) | off, 8, acc);
			uint64_t cur = get_tce(&f, table, pg);
			bool legal = false;

			if (viommu_xlate_ok(&r)) {
				for (int i = 0; i < rf.n[pg] && !legal; i++) {
					uint64_t v = rf.hist[pg][i];

					legal = (v & 3) && !(acc & ~tce_perm(v)) &&
						r.out == ((v & VIOMMU_TCE_RPN_MASK) | off) &&
						r.perm == tce_perm(v);
				}
			} else if (r.fault.reason == VIOMMU_CALGARY_R_NOT_VALID) {
				legal = !(cur & 3);
			} else if (r.fault.reason == VIOMMU_CALGARY_R_PERM) {
				for (int i = 0; i < rf.n[pg] && !legal; i++) {
					uint64_t v = rf.hist[pg][i];

					legal = (v & 3) && (acc & ~tce_perm(v));
				}
			}
			if (!legal)
				fail_msg("step %d page %d access %u: result out %llx fault %u/%u "
					 "illegal (table %llx)",
					 step, pg, acc, (unsigned long long)r.out, r.fault.type,
					 r.fault.reason, (unsigned long long)cur);
			if (test_below(&rng, 8) == 0)
				wr32(&f, phb(0, VIOMMU_CALGARY_PHB_CSR), 0);
		}
		/* Keep the histories bounded: a page with a long one gets a proper blast. */
		if (rf.n[pg] >= R_HIST - 1) {
			assert_int_equal(vg_cal_blast(f.d), 0);
			for (int i = 0; i < R_PAGES; i++)
				ref_reset(&rf, i, get_tce(&f, table, i));
		}
	}
	assert_true(stats(&f).cache_hits > 0);
	fx_fini(&f);
}

static void test_random_against_reference(void **state)
{
	uint64_t seed = test_seed(0xca16a7);

	(void)state;
	random_run(VIOMMU_CALGARY_CHIP_CALGARY, seed);
	random_run(VIOMMU_CALGARY_CHIP_CALIOC2, seed + 1);
}

/* Hostile programming: random register writes, hypercalls and DMA; nothing may crash. */
static void test_hostile(void **state)
{
	struct test_rng rng = { test_seed(0x4057113) };
	struct viommu_notifier *n;
	struct evrec ev;
	struct fx f;

	(void)state;
	for (uint32_t chip = 0; chip < 2; chip++) {
		fx_init(&f, chip, NULL);
		/* Consumers attached, so the notification paths run too. */
		memset(&ev, 0, sizeof(ev));
		assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY,
						     VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event, &ev,
						     &n),
				 0);
		for (int i = 0; i < 30000; i++) {
			uint64_t off = test_below(&rng, 4) ? 0x8000 + test_below(&rng, 0x4000) :
							     test_below(&rng, 0x100000);
			unsigned int size = 1u << test_below(&rng, 4);
			uint64_t val = test_rand(&rng), args[4], ret;
			struct viommu_xlate_result r;

			switch (test_below(&rng, 6)) {
			case 0: {
				/* A TAR anywhere, beyond memory included, with any size code. */
				uint64_t t = test_below(&rng, 2) ?
						     val :
						     (test_below(&rng, 80) << 20) | (val & 7);

				wr(&f, VIOMMU_CALGARY_TAR(test_below(&rng, 4)), 8,
				   __builtin_bswap64(t));
				break;
			}
			case 1:
				wr(&f, off & ~3ull, size, val);
				break;
			case 2:
				(void)rd(&f, off, size);
				break;
			case 3:
				args[0] = test_below(&rng, 5);
				args[1] = test_below(&rng, 2) ? val : test_below(&rng, 1ull << 33);
				args[2] = test_below(&rng, 2) ? test_rand(&rng) :
								test_below(&rng, MEM_SIZE + 8192);
				args[3] = test_below(&rng, 2) ? test_rand(&rng) :
								test_below(&rng, 1030);
				(void)viommu_calgary_hcall(f.v,
							   0x1c + 4 * test_below(&rng, 3) +
								   (test_below(&rng, 2) ? 0x11c :
											  0),
							   args, &ret);
				break;
			case 4:
				(void)viommu_calgary_tce_written(f.v, test_below(&rng, MEM_SIZE),
								 test_below(&rng, 1 << 16));
				break;
			default:
				r = xl(&f, (uint32_t)test_below(&rng, 0x600),
				       val >> test_below(&rng, 64), test_rand(&rng),
				       (uint32_t)test_below(&rng, 8));
				if (viommu_xlate_ok(&r))
					assert_true(r.len >= 1);
				break;
			}
		}
		assert_int_equal(viommu_notifier_replay(f.v, n), 0);
		fx_fini(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_reset_values),
		cmocka_unit_test(test_driver_calgary),
		cmocka_unit_test(test_driver_calioc2),
		cmocka_unit_test(test_allocator_wrap),
		cmocka_unit_test(test_fault_reasons),
		cmocka_unit_test(test_bypass),
		cmocka_unit_test(test_blast_steps),
		cmocka_unit_test(test_hcalls),
		cmocka_unit_test(test_hcall_driver),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_driver_errors),
		cmocka_unit_test(test_pt_big_endian),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
