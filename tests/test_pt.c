// SPDX-License-Identifier: MIT
/*
 * Page-table formats: known-answer walks over tables built by hand from the specifications'
 * descriptor layouts (not with the builder), and hostile tables (reserved bits, loops, entries
 * pointing outside guest memory).
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>

#define MEM_SIZE (16u << 20)

static struct viommu_flatmem *fm;

static int setup(void **state)
{
	(void)state;
	return viommu_flatmem_create(0, MEM_SIZE, &fm);
}

static int teardown(void **state)
{
	(void)state;
	viommu_flatmem_destroy(fm);
	return 0;
}

/* Store a little-endian 64-bit entry at @gpa. */
static void put(uint64_t gpa, uint64_t val)
{
	uint8_t *p = viommu_flatmem_ptr(fm, gpa, 8);

	assert_non_null(p);
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(val >> (8 * i));
}

static uint64_t get(uint64_t gpa)
{
	uint8_t *p = viommu_flatmem_ptr(fm, gpa, 8);
	uint64_t v = 0;

	assert_non_null(p);
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void wipe(void)
{
	memset(viommu_flatmem_ptr(fm, 0, MEM_SIZE), 0, MEM_SIZE);
	viommu_flatmem_reset_stats(fm);
}

static struct viommu_pt_walk_result walk(const struct viommu_pt_cfg *cfg, uint64_t iova,
					 uint32_t access)
{
	struct viommu_pt_walk_result r;

	assert_int_equal(viommu_pt_walk(cfg, viommu_flatmem_ops(), fm, iova, access, &r), 0);
	return r;
}

static void expect_ok(const struct viommu_pt_cfg *cfg, uint64_t iova, uint32_t access, uint64_t out,
		      unsigned int shift, uint32_t perm)
{
	struct viommu_pt_walk_result r = walk(cfg, iova, access);

	if (r.fault != VIOMMU_FAULT_NONE)
		fail_msg("iova 0x%llx: fault %d detail %u level %u", (unsigned long long)iova,
			 r.fault, r.detail, r.level);
	assert_int_equal(r.out, out);
	assert_int_equal(r.page_shift, shift);
	assert_int_equal(r.perm, perm);
}

static void expect_fault(const struct viommu_pt_cfg *cfg, uint64_t iova, uint32_t access,
			 enum viommu_fault_type type, uint32_t detail, uint32_t level)
{
	struct viommu_pt_walk_result r = walk(cfg, iova, access);

	if (r.fault != type || r.detail != detail || r.level != level)
		fail_msg("iova 0x%llx: got fault %d detail %u level %u, want %d %u %u",
			 (unsigned long long)iova, r.fault, r.detail, r.level, type, detail, level);
}

/* 9-bit index of @iova at 4 KiB-granule @level (1 = last level). */
static uint64_t ix(uint64_t iova, unsigned int level)
{
	return (iova >> (12 + 9 * (level - 1))) & 511;
}

/* ---- VT-d second level (VT-d spec 9.8) --------------------------------------------------- */

#define SL_R 1ull
#define SL_W 2ull
#define SL_PS (1ull << 7)

/* Tables at 0x1000 * (level + 1) ... so each level has its own page. */
static void sl_chain(unsigned int levels, uint64_t iova, unsigned int leaf_level, uint64_t leaf)
{
	for (unsigned int l = levels; l > leaf_level; l--)
		put(0x1000ull * (l + 1) + 8 * ix(iova, l), 0x1000ull * l | SL_R | SL_W);
	put(0x1000ull * (leaf_level + 1) + 8 * ix(iova, leaf_level), leaf);
}

/* First input address beyond a @levels-level 4 KiB-granule table. */
static uint64_t sl_top(unsigned int levels)
{
	return 1ull << (12 + 9 * levels);
}

static struct viommu_pt_cfg sl_cfg(unsigned int levels, uint32_t flags)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_VTD_SL,
				   .levels = (uint8_t)levels,
				   .oas = 48,
				   .flags = flags,
				   .root = 0x1000ull * (levels + 1) };
	return c;
}

static void test_vtd_sl_4k(void **state)
{
	(void)state;
	for (unsigned int levels = 3; levels <= 5; levels++) {
		struct viommu_pt_cfg c = sl_cfg(levels, 0);
		uint64_t iova = (sl_top(levels) - 1) & 0x00fedcba98765123ull;

		wipe();
		sl_chain(levels, iova, 1, 0xabcd000ull | SL_R);
		expect_ok(&c, iova, VIOMMU_ACC_READ, 0xabcd123, 12, VIOMMU_ACC_READ);
		expect_fault(&c, iova, VIOMMU_ACC_WRITE, VIOMMU_FAULT_PERMISSION,
			     VIOMMU_PT_D_PERM_WRITE, 1);
		/* The neighbouring page has no entry. */
		expect_fault(&c, iova + 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_NOT_PRESENT,
			     VIOMMU_PT_D_NOT_PRESENT, 1);
		/* One read per level, no write without SLADE. */
		{
			struct viommu_flatmem_stats st;

			viommu_flatmem_reset_stats(fm);
			walk(&c, iova, VIOMMU_ACC_READ);
			viommu_flatmem_get_stats(fm, &st);
			assert_int_equal(st.reads, levels);
			assert_int_equal(st.writes, 0);
		}
		/* Input beyond the AGAW. */
		expect_fault(&c, sl_top(levels), VIOMMU_ACC_READ, VIOMMU_FAULT_ADDR_SIZE,
			     VIOMMU_PT_D_INPUT_RANGE, 0);
	}
}

static void test_vtd_sl_superpages(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(4, VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_SP_1G);
	struct viommu_pt_cfg none = sl_cfg(4, 0);
	uint64_t iova2m = 0x0000123456789abcull, iova1g = 0x00007f0123456789ull;

	(void)state;
	wipe();
	sl_chain(4, iova2m, 2, 0x40000000ull | SL_PS | SL_R | SL_W);
	expect_ok(&c, iova2m, VIOMMU_ACC_RW, 0x40000000ull | (iova2m & 0x1fffff), 21,
		  VIOMMU_ACC_RW);
	/* Without SLLPS 2 MiB, PS in an SL-PDE is reserved. */
	expect_fault(&none, iova2m, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF,
		     2);
	/* Address bits 20:12 of a 2 MiB page are reserved. */
	put(0x3000 + 8 * ix(iova2m, 2), 0x40001000ull | SL_PS | SL_R);
	expect_fault(&c, iova2m, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);

	wipe();
	sl_chain(4, iova1g, 3, 0x80000000ull | SL_PS | SL_W);
	expect_ok(&c, iova1g, VIOMMU_ACC_WRITE, 0x80000000ull | (iova1g & 0x3fffffff), 30,
		  VIOMMU_ACC_WRITE);
	expect_fault(&c, iova1g, VIOMMU_ACC_READ, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_READ,
		     3);
	expect_fault(&none, iova1g, VIOMMU_ACC_WRITE, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF,
		     3);
	/* PS in an SL-PML4E is always reserved. */
	put(0x5000 + 8 * ix(iova1g, 4), 0x80000000ull | SL_PS | SL_R);
	expect_fault(&c, iova1g, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF, 4);
}

static void test_vtd_sl_reserved(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(3, 0);
	struct viommu_pt_cfg snp = sl_cfg(3, VIOMMU_PT_F_SNP);
	uint64_t iova = 0x12345000;

	(void)state;
	wipe();
	/* Output bit 40 with a 39-bit HAW. */
	c.oas = 39;
	sl_chain(3, iova, 1, (1ull << 40) | SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	c.oas = 41;
	expect_ok(&c, iova, VIOMMU_ACC_READ, (1ull << 40) | 0, 12, VIOMMU_ACC_READ);
	/* Bit 11 (SNP) in a leaf: reserved unless snoop control is supported; in tables always. */
	sl_chain(3, iova, 1, 0x5000ull | (1ull << 11) | SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	{
		struct viommu_pt_walk_result r = walk(&snp, iova, VIOMMU_ACC_READ);

		assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
		assert_int_equal(r.attr, VIOMMU_PT_ATTR_SNP);
	}
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 11) | SL_R | SL_W);
	expect_fault(&snp, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 3);
	/* Bit 62 (TM) is reserved; ignored bits 61:52 and 63 are not. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 62) | SL_R | SL_W);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 3);
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 63) | (0x3ffull << 52) | SL_R | SL_W);
	sl_chain(3, iova, 1, 0x5000ull | SL_R);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x5000, 12, VIOMMU_ACC_READ);
}

static void test_vtd_sl_rights_and_ad(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(4, VIOMMU_PT_F_AD);
	uint64_t iova = 0x7000;
	struct viommu_flatmem_stats st;

	(void)state;
	wipe();
	sl_chain(4, iova, 1, 0x9000ull | SL_R | SL_W);
	/* Rights are the AND over all levels: a read-only SL-PDPE makes the page read-only. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_WRITE, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE,
		     1);
	/* A permission fault writes nothing back. */
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)), 0x9000ull | SL_R | SL_W);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x9000, 12, VIOMMU_ACC_READ);

	/* SLADE: A on every level, D on the leaf for a write. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | SL_R | SL_W);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x9000, 12, VIOMMU_ACC_RW);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)), 0x9000ull | SL_R | SL_W | (1ull << 8));
	assert_int_equal(get(0x5000 + 8 * ix(iova, 4)), 0x4000ull | SL_R | SL_W | (1ull << 8));
	expect_ok(&c, iova, VIOMMU_ACC_WRITE, 0x9000, 12, VIOMMU_ACC_RW);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)),
			 0x9000ull | SL_R | SL_W | (1ull << 8) | (1ull << 9));
	/* Once set, nothing more is written. */
	viommu_flatmem_reset_stats(fm);
	walk(&c, iova, VIOMMU_ACC_WRITE);
	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(st.writes, 0);
}

static void test_vtd_sl_hostile(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(5, 0);
	struct viommu_flatmem_stats st;
	struct viommu_pt_walk_result r;

	(void)state;
	wipe();
	/* Every entry of the root points at the root itself: the walk ends after 5 reads, and the
	 * last read (level 1) is a leaf mapping the root page. */
	for (int i = 0; i < 512; i++)
		put(c.root + 8 * i, c.root | SL_R | SL_W);
	r = walk(&c, 0x0123456789abcull, VIOMMU_ACC_READ);
	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
	assert_int_equal(r.out, c.root | 0xabc);
	assert_int_equal(st.reads, 5);
	/* A PS bit in the self-referencing entry at level 2 without SLLPS: reserved. */
	for (int i = 0; i < 512; i++)
		put(c.root + 8 * i, c.root | SL_R | SL_W | SL_PS);
	expect_fault(&c, 0, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF, 5);

	/* Tables past guest memory, at every level, and a root past it. */
	for (unsigned int l = 5; l >= 2; l--) {
		wipe();
		sl_chain(5, 0x1000, 1, 0x9000 | SL_R);
		put(0x1000ull * (l + 1) + 8 * ix(0x1000, l), 0xfffffff000ull | SL_R | SL_W);
		expect_fault(&c, 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_WALK_ABORT,
			     VIOMMU_PT_D_READ_FAILED, l - 1);
	}
	c.root = 0xfffffffffffff000ull;
	expect_fault(&c, 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_READ_FAILED,
		     5);
	/* A/D write-back that fails (read-only host) is a walk abort, not a translation. */
	{
		struct viommu_host_ops ro = *viommu_flatmem_ops();
		struct viommu_pt_cfg ad = sl_cfg(3, VIOMMU_PT_F_AD);

		ro.dma_write = NULL;
		wipe();
		sl_chain(3, 0x1000, 1, 0x9000 | SL_R);
		assert_int_equal(viommu_pt_walk(&ad, &ro, fm, 0x1000, VIOMMU_ACC_READ, &r), 0);
		assert_int_equal(r.fault, VIOMMU_FAULT_WALK_ABORT);
		assert_int_equal(r.detail, VIOMMU_PT_D_WRITE_FAILED);
	}
}

static void test_cfg_check(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(4, 0);
	struct viommu_pt_walk_result r;

	(void)state;
	assert_int_equal(viommu_pt_cfg_check(&c), 0);
	c.levels = 2;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	c.levels = 6;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	c = sl_cfg(4, 0);
	c.root |= 0x800;
	assert_int_equal(viommu_pt_walk(&c, viommu_flatmem_ops(), fm, 0, 0, &r), VIOMMU_EINVAL);
	c = sl_cfg(4, 0);
	c.format = VIOMMU_PT_NFORMATS;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_cfg_check(NULL), VIOMMU_EINVAL);
	c = sl_cfg(4, 0);
	assert_int_equal(viommu_pt_walk(&c, NULL, fm, 0, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walk(&c, viommu_flatmem_ops(), fm, 0, 0, NULL), VIOMMU_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_check),
		cmocka_unit_test(test_vtd_sl_4k),
		cmocka_unit_test(test_vtd_sl_superpages),
		cmocka_unit_test(test_vtd_sl_reserved),
		cmocka_unit_test(test_vtd_sl_rights_and_ad),
		cmocka_unit_test(test_vtd_sl_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
