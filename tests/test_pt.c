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
#include <viommu/spec/vtd.h>

#define MEM_SIZE (16u << 20)

static struct viommu_flatmem *fm;

/*
 * Every case runs four times, once per way the host lets the walk reach guest memory:
 * dma_read/dma_write only, dma_map_ptr with the whole buffer as its span (one call a walk),
 * dma_map_ptr with spans of just the range asked for (one call an entry, so they can be counted),
 * and the whole buffer through a viommu_pt_walker that keeps flatmem's stable span across walks
 * (and across cases: the buffer stays).
 */
enum host_mode { M_COPY, M_WIDE, M_NARROW, M_WALKER };
static enum host_mode mode;
static struct viommu_pt_walker *walker;
static struct viommu_host_ops host_ops;
static uint64_t rmaps, wmaps;

static void *t_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
		       struct viommu_dma_span *span)
{
	void *p = viommu_flatmem_ops()->dma_map_ptr(opaque, gpa, len, write, span);

	if (p) {
		if (write)
			wmaps++;
		else
			rmaps++;
		if (mode == M_NARROW) {
			span->gpa = gpa;
			span->len = len;
		}
	}
	return p;
}

/* A host whose guest memory cannot be written (no dma_write, no writable pointers). */
static void *ro_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			struct viommu_dma_span *span)
{
	return write ? NULL : t_map_ptr(opaque, gpa, len, write, span);
}

static int setup(void **state)
{
	(void)state;
	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		return -1;
	/* The walker reads host_ops when it walks: each mode's setup fills it in. */
	host_ops = *viommu_flatmem_ops();
	return viommu_pt_walker_create(&host_ops, fm, &walker);
}

static int setup_mode(enum host_mode m)
{
	mode = m;
	host_ops = *viommu_flatmem_ops();
	host_ops.dma_map_ptr = m == M_COPY ? NULL : t_map_ptr;
	return 0;
}

static int setup_copy(void **state)
{
	(void)state;
	return setup_mode(M_COPY);
}

static int setup_wide(void **state)
{
	(void)state;
	return setup_mode(M_WIDE);
}

static int setup_narrow(void **state)
{
	(void)state;
	return setup_mode(M_NARROW);
}

static int setup_walker(void **state)
{
	(void)state;
	return setup_mode(M_WALKER);
}

static void reset_counts(void)
{
	viommu_flatmem_reset_stats(fm);
	rmaps = 0;
	wmaps = 0;
}

/* Entries read and written since reset_counts(); reads are not countable with wide spans. */
static bool count_reads(uint64_t *reads)
{
	struct viommu_flatmem_stats st;

	viommu_flatmem_get_stats(fm, &st);
	*reads = st.reads + (mode == M_NARROW ? rmaps : 0);
	return mode == M_COPY || mode == M_NARROW;
}

static uint64_t count_writes(void)
{
	struct viommu_flatmem_stats st;

	viommu_flatmem_get_stats(fm, &st);
	return st.writes + wmaps;
}

static int teardown(void **state)
{
	(void)state;
	viommu_pt_walker_destroy(walker);
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
	reset_counts();
}

static struct viommu_pt_walk_result walk(const struct viommu_pt_cfg *cfg, uint64_t iova,
					 uint32_t access)
{
	struct viommu_pt_walk_result r;

	if (mode == M_WALKER)
		assert_int_equal(viommu_pt_walker_walk(walker, cfg, iova, access, &r), 0);
	else
		assert_int_equal(viommu_pt_walk(cfg, &host_ops, fm, iova, access, &r), 0);
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

/* Tables at 0x1000 * (level + 1) ... so each level has its own page. */
static void sl_chain(unsigned int levels, uint64_t iova, unsigned int leaf_level, uint64_t leaf)
{
	for (unsigned int l = levels; l > leaf_level; l--)
		put(0x1000ull * (l + 1) + 8 * ix(iova, l),
		    0x1000ull * l | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
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
		sl_chain(levels, iova, 1, 0xabcd000ull | VIOMMU_VTD_SL_R);
		expect_ok(&c, iova, VIOMMU_ACC_READ, 0xabcd123, 12, VIOMMU_ACC_READ);
		expect_fault(&c, iova, VIOMMU_ACC_WRITE, VIOMMU_FAULT_PERMISSION,
			     VIOMMU_PT_D_PERM_WRITE, 1);
		/* The neighbouring page has no entry. */
		expect_fault(&c, iova + 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_NOT_PRESENT,
			     VIOMMU_PT_D_NOT_PRESENT, 1);
		/* One read per level, no write without SLADE. */
		{
			uint64_t reads;

			reset_counts();
			walk(&c, iova, VIOMMU_ACC_READ);
			if (count_reads(&reads))
				assert_int_equal(reads, levels);
			assert_int_equal(count_writes(), 0);
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
	sl_chain(4, iova2m, 2,
		 0x40000000ull | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_ok(&c, iova2m, VIOMMU_ACC_RW, 0x40000000ull | (iova2m & 0x1fffff), 21,
		  VIOMMU_ACC_RW);
	/* Without SLLPS 2 MiB, PS in an SL-PDE is reserved. */
	expect_fault(&none, iova2m, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF,
		     2);
	/* Address bits 20:12 of a 2 MiB page are reserved. */
	put(0x3000 + 8 * ix(iova2m, 2), 0x40001000ull | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R);
	expect_fault(&c, iova2m, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);

	wipe();
	sl_chain(4, iova1g, 3, 0x80000000ull | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_W);
	expect_ok(&c, iova1g, VIOMMU_ACC_WRITE, 0x80000000ull | (iova1g & 0x3fffffff), 30,
		  VIOMMU_ACC_WRITE);
	expect_fault(&c, iova1g, VIOMMU_ACC_READ, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_READ,
		     3);
	expect_fault(&none, iova1g, VIOMMU_ACC_WRITE, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF,
		     3);
	/* PS in an SL-PML4E is always reserved. */
	put(0x5000 + 8 * ix(iova1g, 4), 0x80000000ull | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R);
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
	sl_chain(3, iova, 1, (1ull << 40) | VIOMMU_VTD_SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	c.oas = 41;
	expect_ok(&c, iova, VIOMMU_ACC_READ, (1ull << 40) | 0, 12, VIOMMU_ACC_READ);
	/* Bit 11 (SNP) in a leaf: reserved unless snoop control is supported; in tables always. */
	sl_chain(3, iova, 1, 0x5000ull | (1ull << 11) | VIOMMU_VTD_SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	{
		struct viommu_pt_walk_result r = walk(&snp, iova, VIOMMU_ACC_READ);

		assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
		assert_int_equal(r.attr, VIOMMU_PT_ATTR_SNP);
	}
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 11) | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_fault(&snp, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 3);
	/* Bit 62 (TM) is reserved; ignored bits 61:52 and 63 are not. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 62) | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 3);
	put(0x4000 + 8 * ix(iova, 3),
	    0x3000ull | (1ull << 63) | (0x3ffull << 52) | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	sl_chain(3, iova, 1, 0x5000ull | VIOMMU_VTD_SL_R);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x5000, 12, VIOMMU_ACC_READ);
}

/*
 * TM (bit 62): Reserved(0) since VT-d 3.2; a leaf bit with VIOMMU_PT_F_STALE_TM (the pre-3.2
 * layout). Never valid in a table entry.
 */
static void test_vtd_sl_tm(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(3, VIOMMU_PT_F_SP_2M);
	struct viommu_pt_cfg tm = sl_cfg(3, VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_STALE_TM);
	uint64_t iova = 0x12345000, big = 0x40200000;

	(void)state;
	wipe();
	sl_chain(3, iova, 1, 0x5000ull | (1ull << 62) | VIOMMU_VTD_SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	expect_ok(&tm, iova, VIOMMU_ACC_READ, 0x5000, 12, VIOMMU_ACC_READ);
	/* A 2 MiB leaf with TM. */
	sl_chain(3, big, 2,
		 0x800000ull | (1ull << 62) | VIOMMU_VTD_SL_PS | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_fault(&c, big, VIOMMU_ACC_WRITE, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);
	expect_ok(&tm, big + 0x1234, VIOMMU_ACC_WRITE, 0x801234, 21, VIOMMU_ACC_RW);
	/* In a table entry it stays reserved. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | (1ull << 62) | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_fault(&tm, iova, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 3);
}

static void test_vtd_sl_rights_and_ad(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(4, VIOMMU_PT_F_AD);
	uint64_t iova = 0x7000;

	(void)state;
	wipe();
	sl_chain(4, iova, 1, 0x9000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	/* Rights are the AND over all levels: a read-only SL-PDPE makes the page read-only. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | VIOMMU_VTD_SL_R);
	expect_fault(&c, iova, VIOMMU_ACC_WRITE, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE,
		     1);
	/* A permission fault writes nothing back. */
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)),
			 0x9000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x9000, 12, VIOMMU_ACC_READ);

	/* SLADE: A on every level, D on the leaf for a write. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	expect_ok(&c, iova, VIOMMU_ACC_READ, 0x9000, 12, VIOMMU_ACC_RW);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)),
			 0x9000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | (1ull << 8));
	assert_int_equal(get(0x5000 + 8 * ix(iova, 4)),
			 0x4000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | (1ull << 8));
	expect_ok(&c, iova, VIOMMU_ACC_WRITE, 0x9000, 12, VIOMMU_ACC_RW);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)),
			 0x9000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | (1ull << 8) | (1ull << 9));
	/* Once set, nothing more is written. */
	reset_counts();
	walk(&c, iova, VIOMMU_ACC_WRITE);
	assert_int_equal(count_writes(), 0);
}

static void test_vtd_sl_hostile(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(5, 0);
	struct viommu_pt_walk_result r;
	uint64_t reads;

	(void)state;
	wipe();
	/* Every entry of the root points at the root itself: the walk ends after 5 reads, and the
	 * last read (level 1) is a leaf mapping the root page. */
	for (int i = 0; i < 512; i++)
		put(c.root + 8 * i, c.root | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	r = walk(&c, 0x0123456789abcull, VIOMMU_ACC_READ);
	assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
	assert_int_equal(r.out, c.root | 0xabc);
	if (count_reads(&reads))
		assert_int_equal(reads, 5);
	/* A PS bit in the self-referencing entry at level 2 without SLLPS: reserved. */
	for (int i = 0; i < 512; i++)
		put(c.root + 8 * i, c.root | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | VIOMMU_VTD_SL_PS);
	expect_fault(&c, 0, VIOMMU_ACC_READ, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF, 5);

	/* Tables past guest memory, at every level, and a root past it. */
	for (unsigned int l = 5; l >= 2; l--) {
		wipe();
		sl_chain(5, 0x1000, 1, 0x9000 | VIOMMU_VTD_SL_R);
		put(0x1000ull * (l + 1) + 8 * ix(0x1000, l),
		    0xfffffff000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
		expect_fault(&c, 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_WALK_ABORT,
			     VIOMMU_PT_D_READ_FAILED, l - 1);
	}
	c.root = 0xfffffffffffff000ull;
	expect_fault(&c, 0x1000, VIOMMU_ACC_READ, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_READ_FAILED,
		     5);
	/* A/D write-back that fails (read-only host) is a walk abort, not a translation. */
	{
		struct viommu_host_ops ro = host_ops;
		struct viommu_pt_cfg ad = sl_cfg(3, VIOMMU_PT_F_AD);

		ro.dma_write = NULL;
		if (ro.dma_map_ptr)
			ro.dma_map_ptr = ro_map_ptr;
		wipe();
		sl_chain(3, 0x1000, 1, 0x9000 | VIOMMU_VTD_SL_R);
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
	assert_int_equal(viommu_pt_walk(&c, &host_ops, fm, 0, 0, &r), VIOMMU_EINVAL);
	c = sl_cfg(4, 0);
	c.format = VIOMMU_PT_NFORMATS;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_cfg_check(NULL), VIOMMU_EINVAL);
	c = sl_cfg(4, 0);
	assert_int_equal(viommu_pt_walk(&c, NULL, fm, 0, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walk(&c, &host_ops, fm, 0, 0, NULL), VIOMMU_EINVAL);
}

/* Write @n entries of a chain: entry k at table[k] + 8 * index[k] = val[k]. */
struct ent {
	uint64_t table;
	uint64_t index;
	uint64_t val;
};

static void put_chain(const struct ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(e[i].table + 8 * e[i].index, e[i].val);
}

/* ---- x86-64 (SDM 4.5, VT-d 9.9) ---------------------------------------------------------- */

#define X_P 1ull
#define X_RW 2ull
#define X_US 4ull
#define X_A (1ull << 5)
#define X_D (1ull << 6)
#define X_PS (1ull << 7)
#define X_XD (1ull << 63)
#define X_TBL (X_P | X_RW | X_US)

static void test_x86_64(void **state)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_X86_64,
				   .levels = 4,
				   .flags = VIOMMU_PT_F_NXE | VIOMMU_PT_F_WP,
				   .root = 0x5000 };
	uint64_t iova = 0xffff800012345678ull; /* upper canonical half */
	const uint32_t U = 0, K = VIOMMU_ACC_PRIV, R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE,
		       X = VIOMMU_ACC_EXEC;
	struct ent e[] = {
		{ 0x5000, ix(iova, 4), 0x4000 | X_TBL },
		{ 0x4000, ix(iova, 3), 0x3000 | X_TBL },
		{ 0x3000, ix(iova, 2), 0x2000 | X_TBL },
		{ 0x2000, ix(iova, 1), 0xabc000 | X_TBL },
	};

	(void)state;
	assert_int_equal(ix(iova, 4), 256);
	wipe();
	put_chain(e, 4);
	expect_ok(&c, iova, U | R | W | X, 0xabc678, 12, R | W | X);
	expect_fault(&c, 0x0000800000000000ull, R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_NONCANONICAL,
		     0);
	expect_fault(&c, 0xffff7fffffffffffull, R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_NONCANONICAL,
		     0);
	/* A on every entry used, D on the leaf after a write. */
	assert_int_equal(get(0x5000 + 8 * 256), 0x4000 | X_TBL | X_A);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)), 0xabc000 | X_TBL | X_A | X_D);

	/* U/S clear in the PDPTE: supervisor only. */
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | X_P | X_RW);
	expect_fault(&c, iova, U | R, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_USER, 1);
	expect_ok(&c, iova, K | R | W, 0xabc678, 12, R | W | X);
	/* R/W clear in the PML4E: supervisor writes need WP off. */
	put(0x5000 + 8 * 256, 0x4000 | X_P | X_US);
	expect_fault(&c, iova, K | W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	c.flags &= ~VIOMMU_PT_F_WP;
	expect_ok(&c, iova, K | W, 0xabc678, 12, R | W | X);
	c.flags |= VIOMMU_PT_F_WP;
	put_chain(e, 4);
	/* XD in the PDE: no fetch; XD without NXE is reserved. */
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | X_TBL | X_XD);
	expect_fault(&c, iova, X, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC, 1);
	expect_ok(&c, iova, R, 0xabc678, 12, R | W);
	c.flags &= ~VIOMMU_PT_F_NXE;
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);
	c.flags |= VIOMMU_PT_F_NXE;
	put_chain(e, 4);
	/* Address bits above MAXPHYADDR. */
	c.oas = 36;
	put(0x2000 + 8 * ix(iova, 1), (1ull << 36) | X_TBL);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	c.oas = 0;
	expect_ok(&c, iova, R, (1ull << 36) | 0x678, 12, R | W | X);

	/* 2 MiB page: bit 12 is PAT, bits 20:13 reserved. */
	put(0x3000 + 8 * ix(iova, 2), 0x40001000ull | X_TBL | X_PS);
	expect_ok(&c, iova, R, 0x40000000ull | (iova & 0x1fffff), 21, R | W | X);
	put(0x3000 + 8 * ix(iova, 2), 0x40002000ull | X_TBL | X_PS);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);
	/* 1 GiB page only with the capability; PS in a PML4E never. */
	put(0x4000 + 8 * ix(iova, 3), 0x80000000ull | X_TBL | X_PS);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF, 3);
	c.flags |= VIOMMU_PT_F_SP_1G;
	expect_ok(&c, iova, R, 0x80000000ull | (iova & 0x3fffffff), 30, R | W | X);
	put(0x5000 + 8 * 256, 0x80000000ull | X_TBL | X_PS);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_LEAF, 4);
	/* Not present. */
	put(0x5000 + 8 * 256, 0x4000 | X_RW | X_US);
	expect_fault(&c, iova, R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT, 4);

	/* 5 levels: 57-bit canonical, one read per level. */
	{
		struct viommu_pt_cfg c5 = { .format = VIOMMU_PT_X86_64,
					    .levels = 5,
					    .flags = VIOMMU_PT_F_NXE,
					    .root = 0x6000 };
		uint64_t v = 0xff12345678abc000ull;
		uint64_t reads;

		wipe();
		put(0x6000 + 8 * ix(v, 5), 0x5000 | X_TBL);
		put_chain(e, 4);
		for (unsigned int l = 4; l >= 1; l--)
			put(e[4 - l].table + 8 * ix(v, l), e[4 - l].val);
		reset_counts();
		expect_ok(&c5, v, K, 0xabc000, 12, R | W | X);
		if (count_reads(&reads))
			assert_int_equal(reads, 5);
		expect_fault(&c5, 0x0100000000000000ull, K, VIOMMU_FAULT_ADDR_SIZE,
			     VIOMMU_PT_D_NONCANONICAL, 0);
	}
}

/*
 * A/D write-back against a guest that changes the entry between the walk's read and its
 * write-back (another vCPU unmapping or remapping the page): the update must not overwrite the
 * guest's entry. The race is staged by the host callbacks, so it happens every time.
 */
static uint64_t race_gpa, race_val;
static int race_left; /* how many more times to change the entry; -1: every time */

static void race_fire(void)
{
	if (!race_left)
		return;
	if (race_left > 0)
		race_left--;
	/* A new value each time, so a stale compare never matches by chance. */
	put(race_gpa, race_val);
	race_val ^= 1ull << 9; /* an ignored bit of x86 entries */
}

/* The guest writes just after the walk's read of the entry (through dma_read). */
static ssize_t race_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	ssize_t ret = viommu_flatmem_ops()->dma_read(opaque, gpa, buf, len);

	if (gpa == race_gpa)
		race_fire();
	return ret;
}

/* The guest writes when the walk asks for a writable pointer, i.e. after the walk read. */
static void *race_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			  struct viommu_dma_span *span)
{
	if (write)
		race_fire();
	return viommu_flatmem_ops()->dma_map_ptr(opaque, gpa, len, write, span);
}

static void test_x86_ad_race(void **state)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_X86_64, .levels = 4, .root = 0x5000 };
	uint64_t iova = 0x12345000, leaf = 0x2000 + 8 * ix(iova, 1);
	struct ent e[] = {
		{ 0x5000, ix(iova, 4), 0x4000 | X_TBL },
		{ 0x4000, ix(iova, 3), 0x3000 | X_TBL },
		{ 0x3000, ix(iova, 2), 0x2000 | X_TBL },
		{ 0x2000, ix(iova, 1), 0xabc000 | X_TBL },
	};
	struct viommu_host_ops ops = *viommu_flatmem_ops();
	struct viommu_pt_walk_result r;

	(void)state;
	for (int direct = 0; direct < 2; direct++) {
		if (direct) {
			ops.dma_read = viommu_flatmem_ops()->dma_read;
			ops.dma_map_ptr = race_map_ptr;
		} else {
			ops.dma_read = race_read;
			ops.dma_map_ptr = NULL;
		}
		/* The guest unmaps the page: the walk sees it gone, and the entry stays clear. */
		wipe();
		put_chain(e, 4);
		race_gpa = leaf;
		race_val = 0;
		race_left = 1;
		assert_int_equal(viommu_pt_walk(&c, &ops, fm, iova, VIOMMU_ACC_WRITE, &r), 0);
		assert_int_equal(r.fault, VIOMMU_FAULT_NOT_PRESENT);
		assert_int_equal(get(leaf), 0);

		/* The guest remaps it elsewhere: the walk gives the new page, flags set in it. */
		wipe();
		put_chain(e, 4);
		race_val = 0x777000 | X_TBL;
		race_left = 1;
		assert_int_equal(viommu_pt_walk(&c, &ops, fm, iova, VIOMMU_ACC_WRITE, &r), 0);
		assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
		assert_int_equal(r.out, 0x777000);
		assert_int_equal(get(leaf), 0x777000 | X_TBL | X_A | X_D);
		assert_int_equal(r.pte, get(leaf));

		/*
		 * A guest that never stops changing it costs a bounded number of walks. (Staged
		 * through dma_read only: a direct walk asks for its pointer once per call.)
		 */
		if (direct)
			continue;
		wipe();
		put_chain(e, 4);
		race_val = 0xabc000 | X_TBL | (1ull << 9);
		race_left = -1;
		assert_int_equal(viommu_pt_walk(&c, &ops, fm, iova, VIOMMU_ACC_READ, &r), 0);
		assert_int_equal(r.fault, VIOMMU_FAULT_WALK_ABORT);
		assert_int_equal(r.detail, VIOMMU_PT_D_WRITE_FAILED);
		race_left = 0;
	}
	race_gpa = 0;
}

/* ---- AMD v1 (48882 2.2.3) ---------------------------------------------------------------- */

#define A_PR 1ull
#define A_NL(n) ((uint64_t)(n) << 9)
#define A_U (1ull << 59)
#define A_FC (1ull << 60)
#define A_IR (1ull << 61)
#define A_IW (1ull << 62)

static void test_amd_v1(void **state)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_AMD_V1, .levels = 3, .root = 0x4000 };
	const uint32_t R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE, X = VIOMMU_ACC_EXEC;
	uint64_t iova = 0x12345678;
	struct ent e[] = {
		{ 0x4000, ix(iova, 3), 0x3000 | A_PR | A_NL(2) | A_IR | A_IW },
		{ 0x3000, ix(iova, 2), 0x2000 | A_PR | A_NL(1) | A_IR | A_IW },
		{ 0x2000, ix(iova, 1), 0xabc000 | A_PR | A_IR | A_U | A_FC },
	};
	struct viommu_pt_walk_result r;

	(void)state;
	wipe();
	put_chain(e, 3);
	expect_ok(&c, iova, R, 0xabc678, 12, R | X);
	r = walk(&c, iova, R);
	assert_int_equal(r.attr, VIOMMU_PT_ATTR_U | VIOMMU_PT_ATTR_FC);
	expect_fault(&c, iova, W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	expect_fault(&c, 1ull << 39, R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_INPUT_RANGE, 0);
	/* IW must be set at every level. */
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | A_PR | A_IR | A_IW);
	expect_ok(&c, iova, W, 0xabc678, 12, R | W | X);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | A_PR | A_NL(2) | A_IR);
	expect_fault(&c, iova, W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	put_chain(e, 3);
	/* Reserved: PTE bits 58:52; in a PDE also U and FC (60:59). */
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | A_PR | A_IR | (1ull << 52));
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 1);
	put_chain(e, 3);
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | A_PR | A_NL(1) | A_IR | A_U);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_RSVD, 2);
	/* Next level not below the current one. */
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | A_PR | A_NL(2) | A_IR);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_NEXT_LEVEL, 2);
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | A_PR | A_NL(5) | A_IR);
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_NEXT_LEVEL, 2);
	/* Next level 0 at level 2: a 2 MiB page. */
	put(0x3000 + 8 * ix(iova, 2), 0x40000000ull | A_PR | A_IR);
	expect_ok(&c, iova, R, 0x40000000ull | (iova & 0x1fffff), 21, R | X);
	/* Next level 7: the size is encoded in the address. */
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | A_PR | A_NL(1) | A_IR | A_IW);
	put(0x2000 + 8 * ix(iova, 1), 0x10000 | A_PR | A_NL(7) | A_IR); /* bit 12 = 0: 8 KiB */
	expect_ok(&c, iova, R, 0x10000 | (iova & 0x1fff), 13, R | X);
	put(0x2000 + 8 * ix(iova, 1), 0x11000 | A_PR | A_NL(7) | A_IR); /* 12 = 1, 13 = 0: 16K */
	expect_ok(&c, iova, R, 0x10000 | (iova & 0x3fff), 14, R | X);
	put(0x2000 + 8 * ix(iova, 1), 0x1ff000 | A_PR | A_NL(7) | A_IR); /* 2 MiB: not at level 1 */
	expect_fault(&c, iova, R, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_PAGE_SIZE, 1);
	put(0x3000 + 8 * ix(iova, 2), 0x401ff000ull | A_PR | A_NL(7) | A_IR); /* 4 MiB at level 2 */
	expect_ok(&c, iova, R, 0x40000000ull | (iova & 0x3fffff), 22, R | X);

	/* Level skipping: a level-4 PDE straight to a level-1 table. */
	{
		struct viommu_pt_cfg c4 = { .format = VIOMMU_PT_AMD_V1,
					    .levels = 4,
					    .root = 0x5000 };
		uint64_t v = 0x00007f8000000123ull; /* bits 38:12 zero */

		wipe();
		put(0x5000 + 8 * ix(v, 4), 0x2000 | A_PR | A_NL(1) | A_IR | A_IW);
		put(0x2000, 0x77000 | A_PR | A_IR | A_IW);
		expect_ok(&c4, v, R | W, 0x77123, 12, R | W | X);
		expect_fault(&c4, v | (1ull << 21), R, VIOMMU_FAULT_NOT_PRESENT,
			     VIOMMU_PT_D_SKIP_NONZERO, 4);
		expect_fault(&c4, v | (1ull << 38), R, VIOMMU_FAULT_NOT_PRESENT,
			     VIOMMU_PT_D_SKIP_NONZERO, 4);
		/* Self-referencing PDEs end in a fault: the level must go down at each step. */
		put(0x5000 + 8 * ix(v, 4), 0x5000 | A_PR | A_NL(3) | A_IR | A_IW);
		put(0x5000, 0x5000 | A_PR | A_NL(2) | A_IR | A_IW);
		expect_fault(&c4, v & ~0x7fffffffffull, R, VIOMMU_FAULT_RESERVED,
			     VIOMMU_PT_D_BAD_NEXT_LEVEL, 2);
	}
	/* Mode 6: the root indexes bits 63:57; A/D with HAD. */
	{
		struct viommu_pt_cfg c6 = { .format = VIOMMU_PT_AMD_V1,
					    .levels = 6,
					    .flags = VIOMMU_PT_F_AD,
					    .root = 0x7000 };
		uint64_t v = 0xfe00000000001000ull;

		wipe();
		put(0x7000 + 8 * 0x7f, 0x6000 | A_PR | A_NL(5) | A_IR | A_IW);
		for (unsigned int l = 5; l >= 2; l--)
			put(0x1000ull * (l + 1) + 8 * ix(v, l),
			    0x1000ull * l | A_PR | A_NL(l - 1) | A_IR | A_IW);
		put(0x2000 + 8 * ix(v, 1), 0x99000 | A_PR | A_IR | A_IW);
		expect_ok(&c6, v, W, 0x99000, 12, R | W | X);
		assert_int_equal(get(0x2000 + 8 * ix(v, 1)),
				 0x99000 | A_PR | A_IR | A_IW | (1ull << 5) | (1ull << 6));
		assert_int_equal(get(0x7000 + 8 * 0x7f),
				 0x6000 | A_PR | A_NL(5) | A_IR | A_IW | (1ull << 5));
	}
}

/* ---- Arm VMSAv8-64 (DDI0487 D8) ---------------------------------------------------------- */

#define D_TABLE 3ull
#define D_PAGE 3ull
#define D_BLOCK 1ull
#define D_AP1 (1ull << 6)
#define D_AP2 (1ull << 7)
#define D_AF (1ull << 10)
#define D_PXN (1ull << 53)
#define D_UXN (1ull << 54)

static void test_arm_s1(void **state)
{
	/* 4K granule, T0SZ = 25: 39-bit input, lookup levels 1-3 (our levels 3-1). */
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_ARM_S1,
				   .granule = 12,
				   .tsz = { 25, 25 },
				   .flags = VIOMMU_PT_F_TTB1,
				   .root = 0x4000,
				   .root1 = 0x8000 };
	const uint32_t U = 0, K = VIOMMU_ACC_PRIV, R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE,
		       X = VIOMMU_ACC_EXEC;
	uint64_t iova = 0x12345678;
	struct ent e[] = {
		{ 0x4000, ix(iova, 3), 0x3000 | D_TABLE },
		{ 0x3000, ix(iova, 2), 0x2000 | D_TABLE },
		{ 0x2000, ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_AP1 },
	};

	(void)state;
	wipe();
	put_chain(e, 3);
	/* AP = 0b01: read/write at EL0 and EL1; privileged execute-never (EL0 writable). */
	expect_ok(&c, iova, U | R | W | X, 0xabc678, 12, R | W | X);
	expect_fault(&c, iova, K | X, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC, 1);
	expect_ok(&c, iova, K | R | W, 0xabc678, 12, R | W);
	/* AP = 0b11 read-only everywhere, privileged fetch allowed; AP = 0b00 EL1 only. */
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_AP1 | D_AP2);
	expect_fault(&c, iova, U | W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	expect_ok(&c, iova, K | X, 0xabc678, 12, R | X);
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_UXN);
	expect_fault(&c, iova, U | R, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_USER, 1);
	expect_ok(&c, iova, K | W, 0xabc678, 12, R | W | X);
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_AP1 | D_UXN | D_PXN);
	expect_fault(&c, iova, U | X, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC, 1);
	/* Hierarchical controls: APTable[0] no EL0, APTable[1] no write, PXNTable. */
	put_chain(e, 3);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 61));
	expect_fault(&c, iova, U | R, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_USER, 1);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 62));
	expect_fault(&c, iova, U | W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 60));
	expect_fault(&c, iova, U | X, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC, 1);
	/* Allowed accesses under them get the rest of the rights (the OR over every table). */
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 62));
	expect_ok(&c, iova, U | R, 0xabc678, 12, R | X);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 60));
	expect_ok(&c, iova, U | R | W, 0xabc678, 12, R | W);
	expect_ok(&c, iova, K | R | W, 0xabc678, 12, R | W);
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | (1ull << 59));
	expect_ok(&c, iova, U | X, 0xabc678, 12, R | W | X);
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AF);
	expect_ok(&c, iova, K | R, 0xabc678, 12, R | W);
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | D_TABLE | (1ull << 62));
	expect_ok(&c, iova, K | R, 0xabc678, 12, R);
	put_chain(e, 3);

	/* Access flag: a fault, or set by the walk with HA. */
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AP1);
	expect_fault(&c, iova, U | R, VIOMMU_FAULT_ACCESS_FLAG, VIOMMU_PT_D_ACCESS_FLAG, 1);
	c.flags |= VIOMMU_PT_F_AD;
	expect_ok(&c, iova, U | R, 0xabc678, 12, R | W | X);
	assert_int_equal(get(0x2000 + 8 * ix(iova, 1)), 0xabc000 | D_PAGE | D_AP1 | D_AF);
	c.flags &= ~VIOMMU_PT_F_AD;
	/* 0b01 at the last level is invalid. */
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_BLOCK | D_AF);
	expect_fault(&c, iova, K | R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT, 1);
	/* Blocks: 2 MiB at lookup level 2, 1 GiB at level 1 (low bits of the OA ignored). */
	put(0x3000 + 8 * ix(iova, 2), 0x40000000ull | 0x5000 | D_BLOCK | D_AF);
	expect_ok(&c, iova, K | R, 0x40000000ull | (iova & 0x1fffff), 21, R | W | X);
	put(0x4000 + 8 * ix(iova, 3), 0x80000000ull | D_BLOCK | D_AF);
	expect_ok(&c, iova, K | R, 0x80000000ull | (iova & 0x3fffffff), 30, R | W | X);
	/* Output address beyond the output size: address size fault. */
	c.oas = 40;
	put(0x4000 + 8 * ix(iova, 3), (1ull << 40) | D_BLOCK | D_AF);
	expect_fault(&c, iova, K | R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_OUTPUT_SIZE, 3);
	put(0x4000 + 8 * ix(iova, 3), (1ull << 41) | D_TABLE);
	expect_fault(&c, iova, K | R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_OUTPUT_SIZE, 3);
	c.oas = 44;
	expect_fault(&c, iova, K | R, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_READ_FAILED, 2);
	c.oas = 0;

	/* TTB1 for the top of the space, a Translation fault in between or when disabled. */
	put(0x8000 + 8 * 511, 0x7000 | D_TABLE);
	put(0x7000 + 8 * 511, 0x6000 | D_TABLE);
	put(0x6000 + 8 * 511, 0x55000 | D_PAGE | D_AF);
	expect_ok(&c, UINT64_MAX, K | R, 0x55fff, 12, R | W | X);
	expect_fault(&c, 1ull << 39, K | R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_INPUT_RANGE, 0);
	expect_fault(&c, 0xffffff7fffffffffull, K | R, VIOMMU_FAULT_NOT_PRESENT,
		     VIOMMU_PT_D_INPUT_RANGE, 0);
	c.flags = VIOMMU_PT_F_NO_TTB0;
	expect_fault(&c, UINT64_MAX, K | R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_INPUT_RANGE, 0);
	expect_fault(&c, iova, K | R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_INPUT_RANGE, 0);

	/* 16K granule: no block at lookup level 1; 64K granule: 2 levels for 42 bits. */
	{
		struct viommu_pt_cfg g16 = {
			.format = VIOMMU_PT_ARM_S1, .granule = 14, .tsz = { 17 }, .root = 0x10000
		};
		struct viommu_pt_cfg g64 = {
			.format = VIOMMU_PT_ARM_S1, .granule = 16, .tsz = { 22 }, .root = 0x10000
		};
		uint64_t v = 0x2345678abcdeull;

		wipe();
		/* 47 bits, 3 levels of 11 bits under a 11-bit root: index at level 3 = v[46:36]. */
		put(0x10000 + 8 * ((v >> 36) & 0x7ff), 0x100000000ull | D_BLOCK | D_AF);
		expect_fault(&g16, v, K | R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_BAD_LEAF, 3);
		put(0x10000 + 8 * ((v >> 36) & 0x7ff), 0x20000 | D_TABLE);
		put(0x20000 + 8 * ((v >> 25) & 0x7ff), 0x42000000ull | D_BLOCK | D_AF);
		expect_ok(&g16, v, K | R, 0x42000000ull | (v & 0x1ffffff), 25, R | W | X);

		v &= (1ull << 42) - 1;
		wipe();
		put(0x10000 + 8 * (v >> 29), 0x20000 | D_TABLE);
		put(0x20000 + 8 * ((v >> 16) & 0x1fff), 0x7770000ull | D_PAGE | D_AF);
		expect_ok(&g64, v, K | R, 0x7770000ull | (v & 0xffff), 16, R | W | X);
		put(0x10000 + 8 * (v >> 29), 0x20000000ull | D_BLOCK | D_AF);
		expect_ok(&g64, v, K | R, 0x20000000ull | (v & 0x1fffffff), 29, R | W | X);
		/* The 13-bit root must be 64 KiB aligned. */
		g64.root = 0x8000;
		assert_int_equal(viommu_pt_cfg_check(&g64), VIOMMU_EINVAL);
	}
}

/*
 * The Contiguous hint (bit 52): a TLB may cache the group as one entry, or not; translating each
 * entry on its own is always allowed, so the walk must neither fault on it nor change the
 * result, in pages, blocks and (where the bit is ignored) table descriptors, at both stages.
 * That holds when the group is misprogrammed too (entries that disagree).
 */
static void test_arm_contiguous(void **state)
{
	struct viommu_pt_cfg s1 = {
		.format = VIOMMU_PT_ARM_S1, .granule = 12, .tsz = { 25 }, .root = 0x4000
	};
	struct viommu_pt_cfg s2 = {
		.format = VIOMMU_PT_ARM_S2, .granule = 12, .tsz = { 25 }, .sl0 = 1, .root = 0x4000
	};
	const uint64_t CONT = 1ull << 52, S2RW = D_AP1 | D_AP2;
	const uint32_t R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE, X = VIOMMU_ACC_EXEC;
	uint64_t iova = 0x12340000; /* first page of a 16-entry group */

	(void)state;
	wipe();
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | CONT);
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | D_TABLE | CONT);
	for (uint64_t i = 0; i < 16; i++)
		put(0x2000 + 8 * (ix(iova, 1) + i),
		    (0xab0000 + 0x1000 * i) | D_PAGE | D_AF | D_AP1 | CONT);
	for (uint64_t i = 0; i < 16; i++)
		expect_ok(&s1, iova + 0x1000 * i + 0x10, VIOMMU_ACC_PRIV | R, 0xab0010 + 0x1000 * i,
			  12, R | W);
	/* Misprogrammed: one entry of the group maps elsewhere; each translates as written. */
	put(0x2000 + 8 * (ix(iova, 1) + 5), 0x777000 | D_PAGE | D_AF | D_AP1 | CONT);
	expect_ok(&s1, iova + 0x5000, VIOMMU_ACC_PRIV | R, 0x777000, 12, R | W);
	expect_ok(&s1, iova + 0x6000, VIOMMU_ACC_PRIV | R, 0xab6000, 12, R | W);
	/* A 2 MiB block with the hint. */
	put(0x3000 + 8 * ix(iova, 2), 0x40000000ull | D_BLOCK | D_AF | CONT);
	expect_ok(&s1, iova, VIOMMU_ACC_PRIV | R, 0x40000000ull | (iova & 0x1fffff), 21, R | W | X);

	/* Stage 2: the same. */
	wipe();
	put(0x4000 + 8 * ix(iova, 3), 0x3000 | D_TABLE | CONT);
	put(0x3000 + 8 * ix(iova, 2), 0x2000 | D_TABLE | CONT);
	put(0x2000 + 8 * ix(iova, 1), 0xab0000 | D_PAGE | D_AF | S2RW | CONT);
	expect_ok(&s2, iova + 0x10, R | W, 0xab0010, 12, R | W | X);
	put(0x3000 + 8 * ix(iova, 2), 0x40000000ull | D_BLOCK | D_AF | S2RW | CONT);
	expect_ok(&s2, iova, W, 0x40000000ull | (iova & 0x1fffff), 21, R | W | X);
}

static void test_arm_s2(void **state)
{
	/* 4K granule, 40-bit IPA, SL0 = 1: start at lookup level 1 with two concatenated tables. */
	struct viommu_pt_cfg c = {
		.format = VIOMMU_PT_ARM_S2, .granule = 12, .tsz = { 24 }, .sl0 = 1, .root = 0x8000
	};
	const uint32_t R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE, X = VIOMMU_ACC_EXEC;
	uint64_t iova = 0xc012345678ull; /* bit 39 set: second concatenated table */
	struct ent e[] = {
		{ 0x8000, iova >> 30, 0x3000 | D_TABLE },
		{ 0x3000, ix(iova, 2), 0x2000 | D_TABLE },
		{ 0x2000, ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_AP1 | D_UXN },
	};

	(void)state;
	assert_true((iova >> 30) >= 512);
	wipe();
	put_chain(e, 3);
	expect_ok(&c, iova, R, 0xabc678, 12, R);
	expect_fault(&c, iova, W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	expect_fault(&c, iova, X, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC, 1);
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AF | D_AP2);
	expect_ok(&c, iova, W | X, 0xabc678, 12, W | X);
	put(0x2000 + 8 * ix(iova, 1), 0xabc000 | D_PAGE | D_AP1);
	expect_fault(&c, iova, R, VIOMMU_FAULT_ACCESS_FLAG, VIOMMU_PT_D_ACCESS_FLAG, 1);
	expect_fault(&c, 1ull << 40, R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_INPUT_RANGE, 0);
	/* 1 GiB block at the starting level. */
	put(0x8000 + 8 * (iova >> 30), 0x40000000ull | D_BLOCK | D_AF | D_AP1 | D_AP2);
	expect_ok(&c, iova, R | W, 0x40000000ull | (iova & 0x3fffffff), 30, R | W | X);

	/* SL0 must agree with T0SZ (at most 16 concatenated tables), the root with its size. */
	c.sl0 = 0;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	c.sl0 = 2;
	assert_int_equal(viommu_pt_cfg_check(&c), 0);
	c.sl0 = 1;
	c.root = 0x9000;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	c.sl0 = 3;
	c.root = 0x8000;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
	c.sl0 = 1;
	c.granule = 13;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
}

/* ---- Calgary TCE -------------------------------------------------------------------------- */

static void test_tce(void **state)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_TCE, .tce_size = 0, .root = 0x10000 };
	const uint32_t R = VIOMMU_ACC_READ, W = VIOMMU_ACC_WRITE, X = VIOMMU_ACC_EXEC;

	(void)state;
	wipe();
	put(0x10000 + 8 * 0x1234, 0xabc000 | 1);
	expect_ok(&c, 0x1234567, R, 0xabc567, 12, R | X);
	expect_fault(&c, 0x1234567, W, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE, 1);
	put(0x10000 + 8 * 0x1234, 0xabc000 | 2 | (0x3full << 2) | (0xffffull << 48));
	expect_ok(&c, 0x1234567, W, 0xabc567, 12, W);
	expect_fault(&c, 0x1235000, R, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT, 1);
	/* 8192 entries: 32 MiB of I/O space. */
	expect_fault(&c, 32u << 20, R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_INPUT_RANGE, 0);
	c.tce_size = 7;
	expect_ok(&c, 0x1234567, W, 0xabc567, 12, W);
	/* An 8 MiB table that runs past the end of guest memory. */
	c.root = 0xc00000;
	expect_fault(&c, 0xffffffffull, R, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_READ_FAILED, 1);
	expect_fault(&c, 1ull << 32, R, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_INPUT_RANGE, 0);
	c.tce_size = 8;
	assert_int_equal(viommu_pt_cfg_check(&c), VIOMMU_EINVAL);
}

/* ---- Builder edge cases ----------------------------------------------------------------- */

struct budget {
	uint64_t next;	/* bump pointer */
	int left;	/* allocations still allowed */
	uint64_t bytes; /* outstanding */
};

static int budget_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	struct budget *b = opaque;

	if (b->left-- <= 0)
		return VIOMMU_ENOMEM;
	b->next = (b->next + size - 1) & ~(size - 1);
	*gpa = b->next;
	b->next += size;
	b->bytes += size;
	return 0;
}

static void budget_free(void *opaque, uint64_t gpa, uint64_t size)
{
	struct budget *b = opaque;

	(void)gpa;
	b->bytes -= size;
}

static const struct viommu_pt_alloc_ops budget_ops = { budget_alloc, budget_free };

static int count_leaf(void *opaque, uint64_t iova, uint64_t size, uint64_t out, uint32_t perm)
{
	int *n = opaque;

	(void)iova;
	(void)size;
	(void)out;
	(void)perm;
	return ++*n == 2 ? 42 : 0;
}

static void test_builder_edges(void **state)
{
	struct viommu_pt_cfg c = { .format = VIOMMU_PT_VTD_SL,
				   .levels = 4,
				   .flags = VIOMMU_PT_F_SP_2M };
	struct budget b = { .next = 0x100000, .left = 2 };
	const uint32_t RW = VIOMMU_ACC_RW;
	struct viommu_pt *pt;
	uint64_t un;
	int n = 0;

	(void)state;
	wipe();
	assert_int_equal(viommu_pt_create(&c, &host_ops, fm, &budget_ops, &b, &pt), 0);
	assert_int_equal(viommu_pt_pgsizes(pt), (1ull << 12) | (1ull << 21));
	c = *viommu_pt_get_cfg(pt);
	/* Three tables needed, one allowed: nothing stays allocated or mapped. */
	assert_int_equal(viommu_pt_map(pt, 0x1000, 0x5000, 0x1000, RW, 0), VIOMMU_ENOMEM);
	assert_int_equal(b.bytes, 0x1000);
	expect_fault(&c, 0x1000, 0, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT, 4);
	b.left = 100;

	/* Bad arguments. */
	assert_int_equal(viommu_pt_map(pt, 0x1800, 0x5000, 0x1000, RW, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_map(pt, 0x1000, 0x5000, 0, RW, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_map(pt, 0x1000, 0x5000, 0x1000, VIOMMU_ACC_EXEC, 0),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_map(pt, 0x1000, 0x5000, 0x1000, RW, 1ull << 30), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_map(pt, (1ull << 48) - 0x1000, 0, 0x2000, RW, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_map(pt, UINT64_MAX - 0xfff, 0, 0x2000, RW, 0), VIOMMU_EINVAL);

	/* All or nothing: the second map overlaps at its end and leaves nothing behind. */
	assert_int_equal(viommu_pt_map(pt, 0x2000, 0x5000, 0x2000, RW, 0), 0);
	assert_int_equal(viommu_pt_map(pt, 0x0000, 0x9000, 0x3000, RW, 0), VIOMMU_EEXIST);
	expect_fault(&c, 0x0000, 0, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT, 1);
	expect_ok(&c, 0x2000, 0, 0x5000, 12, RW);

	/* Largest page that fits, unless the caller restricts the sizes. */
	assert_int_equal(viommu_pt_map(pt, 0x400000, 0x800000, 0x400000, RW, 0), 0);
	expect_ok(&c, 0x500000, 0, 0x900000, 21, RW);
	assert_int_equal(viommu_pt_map(pt, 0x800000, 0x800000, 0x200000, RW, 1ull << 12), 0);
	expect_ok(&c, 0x900000, 0, 0x900000, 12, RW);

	/* Unmap never splits a leaf, and reports exactly what it removed. */
	assert_int_equal(viommu_pt_unmap(pt, 0x400000, 0x1000, &un), VIOMMU_ERANGE);
	assert_int_equal(un, 0);
	assert_int_equal(viommu_pt_unmap(pt, 0x3ff000, 0x101000, &un), VIOMMU_ERANGE);
	expect_ok(&c, 0x400000, 0, 0x800000, 21, RW);
	assert_int_equal(viommu_pt_unmap(pt, 0x1000, 0x5ff000, &un), 0);
	assert_int_equal(un, 0x2000 + 0x200000);
	expect_ok(&c, 0x600000, 0, 0xa00000, 21, RW);

	/* Enumeration stops when the callback says so. */
	assert_int_equal(viommu_pt_for_each(&c, &host_ops, fm, 0, UINT64_MAX, 0, count_leaf, &n),
			 42);
	assert_int_equal(n, 2);
	assert_int_equal(viommu_pt_for_each(&c, &host_ops, fm, 5, 4, 0, count_leaf, &n),
			 VIOMMU_EINVAL);

	assert_int_equal(viommu_pt_unmap(pt, 0, 1ull << 48, &un), 0);
	assert_int_equal(un, 0x200000 + 0x200000);
	assert_int_equal(b.bytes, 0x1000);
	viommu_pt_destroy(pt);
	assert_int_equal(b.bytes, 0);
}

/* Enumeration is bounded by what the guest wrote, skips faulting entries, and stops at the
 * edge of guest memory. */
static int sum_leaf(void *opaque, uint64_t iova, uint64_t size, uint64_t out, uint32_t perm)
{
	uint64_t *sum = opaque;

	(void)iova;
	(void)out;
	(void)perm;
	*sum += size;
	return 0;
}

static void test_for_each_hostile(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(3, VIOMMU_PT_F_SP_2M);
	uint64_t sum = 0;

	(void)state;
	wipe();
	/* A root whose every entry points at itself: 512 level-2 tables that are the root, whose
	 * entries are 2 MiB leaves (PS clear: tables again, down to level 1 pages). */
	for (int i = 0; i < 512; i++)
		put(c.root + 8 * i, c.root | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	assert_int_equal(
		viommu_pt_for_each(&c, &host_ops, fm, 0, (1ull << 30) - 1, 0, sum_leaf, &sum), 0);
	assert_int_equal(sum, 1ull << 30);
	/* Over the whole space that aliasing means 2^27 leaves: the enumeration gives up. */
	sum = 0;
	assert_int_equal(viommu_pt_for_each(&c, &host_ops, fm, 0, UINT64_MAX, 0, sum_leaf, &sum),
			 VIOMMU_E2BIG);
	assert_true(sum < (1ull << 39));
	/* Reserved entries and tables outside memory are skipped. */
	wipe();
	put(c.root, 0x3000 | VIOMMU_VTD_SL_R | (1ull << 62));
	put(c.root + 8, 0xfffffff000ull | VIOMMU_VTD_SL_R);
	put(c.root + 16, 0x3000 | VIOMMU_VTD_SL_R);
	put(0x3000 + 8 * 5, 0x40000000ull | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_PS);
	sum = 0;
	assert_int_equal(viommu_pt_for_each(&c, &host_ops, fm, 0, UINT64_MAX, 0, sum_leaf, &sum),
			 0);
	assert_int_equal(sum, 1ull << 21);
}

/* ---- Walkers: spans kept across walks only when the host marks them stable ------------- */

static uint64_t span_maps;
static bool span_stable;

static void *span_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			  struct viommu_dma_span *span)
{
	void *p = viommu_flatmem_ops()->dma_map_ptr(opaque, gpa, len, write, span);

	if (p) {
		span_maps++;
		if (!span_stable)
			span->flags = 0;
	}
	return p;
}

static void walker_expect(struct viommu_pt_walker *w, const struct viommu_pt_cfg *c, uint32_t acc,
			  uint64_t maps)
{
	struct viommu_pt_walk_result r;

	span_maps = 0;
	assert_int_equal(viommu_pt_walker_walk(w, c, 0x1234, acc, &r), 0);
	assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
	assert_int_equal(r.out, 0x9234);
	assert_int_equal(span_maps, maps);
}

static void test_walker(void **state)
{
	struct viommu_host_ops ops = *viommu_flatmem_ops(), bad = ops;
	struct viommu_pt_cfg c = sl_cfg(4, VIOMMU_PT_F_AD);
	struct viommu_pt_walk_result r;
	struct viommu_pt_walker *w;

	(void)state;
	ops.dma_map_ptr = span_map_ptr;
	bad.dma_read = NULL;
	assert_int_equal(viommu_pt_walker_create(&ops, fm, NULL), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_create(NULL, fm, &w), VIOMMU_EINVAL);
	assert_null(w);
	assert_int_equal(viommu_pt_walker_create(&bad, fm, &w), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_create(&ops, fm, &w), 0);
	assert_int_equal(viommu_pt_walker_walk(NULL, &c, 0, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_walk(w, NULL, 0, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_walk(w, &c, 0, 0, NULL), VIOMMU_EINVAL);
	c.root |= 0x800;
	assert_int_equal(viommu_pt_walker_walk(w, &c, 0, 0, &r), VIOMMU_EINVAL);
	c.root &= ~0x800ull;
	/* The key of an empty plan slot is itself an invalid configuration (it used to crash). */
	{
		struct viommu_pt_cfg empty;

		memset(&empty, 0, sizeof(empty));
		empty.format = VIOMMU_PT_NFORMATS;
		assert_int_equal(viommu_pt_walker_walk(w, &empty, 0, 0, &r), VIOMMU_EINVAL);
	}

	wipe();
	sl_chain(4, 0x1000, 1, 0x9000 | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	/* Stable spans: asked for once (read; then write for the A/D write-back), then kept. */
	span_stable = true;
	walker_expect(w, &c, VIOMMU_ACC_READ, 2);
	walker_expect(w, &c, VIOMMU_ACC_READ, 0);
	walker_expect(w, &c, VIOMMU_ACC_WRITE, 0);
	assert_int_equal(get(0x2000 + 8 * ix(0x1234, 1)),
			 0x9000 | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W | (3ull << 8));
	/* After invalidate the walker asks again. */
	viommu_pt_walker_invalidate(w);
	walker_expect(w, &c, VIOMMU_ACC_READ, 1);
	walker_expect(w, &c, VIOMMU_ACC_READ, 0);
	/* Spans without the mark last one walk, as for viommu_pt_walk(). */
	span_stable = false;
	viommu_pt_walker_invalidate(w);
	walker_expect(w, &c, VIOMMU_ACC_READ, 1);
	walker_expect(w, &c, VIOMMU_ACC_READ, 1);
	viommu_pt_walker_invalidate(NULL);
	viommu_pt_walker_destroy(w);
	viommu_pt_walker_destroy(NULL);
}

static void test_plan(void **state)
{
	struct viommu_pt_cfg c = sl_cfg(4, 0), bad = c;
	struct viommu_pt_walk_result r;
	struct viommu_pt_walker *w;
	struct viommu_pt_plan *p;

	(void)state;
	bad.root |= 0x800;
	assert_int_equal(viommu_pt_plan_create(&c, NULL), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_plan_create(&bad, &p), VIOMMU_EINVAL);
	assert_null(p);
	assert_int_equal(viommu_pt_plan_create(NULL, &p), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_plan_create(&c, &p), 0);
	assert_int_equal(viommu_pt_walker_create(&host_ops, fm, &w), 0);
	wipe();
	sl_chain(4, 0x1000, 1, 0x9000 | VIOMMU_VTD_SL_R | VIOMMU_VTD_SL_W);
	assert_int_equal(viommu_pt_walker_walk_plan(NULL, p, 0x1234, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_walk_plan(w, NULL, 0x1234, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_walk_plan(w, p, 0x1234, 0, NULL), VIOMMU_EINVAL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(viommu_pt_walker_walk_plan(w, p, 0x1234, VIOMMU_ACC_WRITE, &r), 0);
		assert_int_equal(r.fault, VIOMMU_FAULT_NONE);
		assert_int_equal(r.out, 0x9234);
	}
	/* The plan follows the configuration it was last given: another root, another table. */
	c.root = 0x20000;
	put(0x20000, 0x3000 | VIOMMU_VTD_SL_R | (1ull << 62));
	assert_int_equal(viommu_pt_plan_set(p, &c), 0);
	assert_int_equal(viommu_pt_walker_walk_plan(w, p, 0x1234, VIOMMU_ACC_WRITE, &r), 0);
	assert_int_equal(r.fault, VIOMMU_FAULT_RESERVED);
	/* A rejected configuration leaves a plan that walks nothing. */
	assert_int_equal(viommu_pt_plan_set(p, &bad), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_walker_walk_plan(w, p, 0x1234, 0, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_pt_plan_set(NULL, &c), VIOMMU_EINVAL);
	viommu_pt_walker_destroy(w);
	viommu_pt_plan_destroy(p);
	viommu_pt_plan_destroy(NULL);
}

/* Each case in each host mode. */
#define T4(f)                                                                         \
	cmocka_unit_test_setup(f, setup_copy), cmocka_unit_test_setup(f, setup_wide), \
		cmocka_unit_test_setup(f, setup_narrow), cmocka_unit_test_setup(f, setup_walker)

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		T4(test_cfg_check),
		T4(test_vtd_sl_4k),
		T4(test_vtd_sl_superpages),
		T4(test_vtd_sl_reserved),
		T4(test_vtd_sl_tm),
		T4(test_vtd_sl_rights_and_ad),
		T4(test_vtd_sl_hostile),
		T4(test_x86_64),
		cmocka_unit_test(test_x86_ad_race),
		T4(test_amd_v1),
		T4(test_arm_s1),
		T4(test_arm_s2),
		T4(test_arm_contiguous),
		T4(test_tce),
		T4(test_builder_edges),
		T4(test_for_each_hostile),
		cmocka_unit_test(test_walker),
		cmocka_unit_test(test_plan),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, setup, teardown);
}
