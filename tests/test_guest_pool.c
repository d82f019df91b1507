// SPDX-License-Identifier: MIT
/*
 * The guest drivers' page pool: bump allocation aligned to the size, one-page reuse from the
 * free list (last freed first), zeroing, exhaustion, memory outside the guest's RAM, and the
 * little-endian word access.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/viommu.h>

#include "pool.h"

#define MEM_BASE 0x100000ull
#define MEM_SIZE 0x100000ull
#define PG VG_POOL_PAGE

static struct viommu_flatmem *mk_mem(void)
{
	struct viommu_flatmem *fm = NULL;

	assert_int_equal(viommu_flatmem_create(MEM_BASE, MEM_SIZE, &fm), 0);
	return fm;
}

static void test_bump_aligned_and_zeroed(void **state)
{
	struct viommu_flatmem *fm = mk_mem();
	struct vg_pool p;
	uint64_t a, b, c;
	uint8_t *m;

	(void)state;
	vg_pool_init(&p, fm, MEM_BASE, 16 * PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &a), 0);
	assert_int_equal(a, MEM_BASE);
	/* Four pages align to four pages: the hole after the first page is skipped. */
	assert_int_equal(vg_pool_alloc(&p, 4 * PG, &b), 0);
	assert_int_equal(b, MEM_BASE + 4 * PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &c), 0);
	assert_int_equal(c, MEM_BASE + 8 * PG);
	m = viommu_flatmem_ptr(fm, c, PG);
	assert_non_null(m);
	memset(m, 0xa5, PG);
	vg_pool_free(&p, c, PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &a), 0);
	assert_int_equal(a, c);
	for (uint64_t i = 0; i < PG; i++)
		assert_int_equal(m[i], 0);
	vg_pool_fini(&p);
	viommu_flatmem_destroy(fm);
}

static void test_free_list_lifo_pages_only(void **state)
{
	struct viommu_flatmem *fm = mk_mem();
	struct vg_pool p;
	uint64_t big, x, y, z;

	(void)state;
	vg_pool_init(&p, fm, MEM_BASE, 16 * PG);
	assert_int_equal(vg_pool_alloc(&p, 2 * PG, &big), 0);
	vg_pool_free(&p, big, 2 * PG); /* two pages on the free list, the second on top */
	/* A two-page request never takes freed pages: it bumps. */
	assert_int_equal(vg_pool_alloc(&p, 2 * PG, &x), 0);
	assert_int_equal(x, big + 2 * PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &y), 0);
	assert_int_equal(y, big + PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &z), 0);
	assert_int_equal(z, big);
	assert_int_equal(vg_pool_alloc(&p, PG, &z), 0);
	assert_int_equal(z, big + 4 * PG);
	vg_pool_fini(&p);
	viommu_flatmem_destroy(fm);
}

static void test_exhaustion_and_fault(void **state)
{
	struct viommu_flatmem *fm = mk_mem();
	struct vg_pool p;
	uint64_t a = 0;

	(void)state;
	vg_pool_init(&p, fm, MEM_BASE, 4 * PG);
	assert_int_equal(vg_pool_alloc(&p, 8 * PG, &a), VIOMMU_ENOMEM);
	assert_int_equal(vg_pool_alloc(&p, 4 * PG, &a), 0);
	assert_int_equal(vg_pool_alloc(&p, PG, &a), VIOMMU_ENOMEM);
	assert_int_equal(vg_pool_reserve(&p, 1, 1, &a), VIOMMU_ENOMEM);
	vg_pool_fini(&p);

	/* An alignment that wraps past the top of the address space (to 0) is refused. */
	vg_pool_init(&p, fm, (1ull << 63) + PG, 2 * PG);
	assert_int_equal(vg_pool_reserve(&p, PG, 1ull << 63, &a), VIOMMU_ENOMEM);
	vg_pool_fini(&p);

	/* A pool configured outside guest RAM: the space exists, the memory does not. */
	vg_pool_init(&p, fm, MEM_BASE + MEM_SIZE, 4 * PG);
	assert_int_equal(vg_pool_alloc(&p, PG, &a), VIOMMU_EFAULT);
	vg_pool_fini(&p);
	viommu_flatmem_destroy(fm);
}

static void test_reserve_alignment(void **state)
{
	struct viommu_flatmem *fm = mk_mem();
	struct vg_pool p;
	uint64_t a, b;

	(void)state;
	vg_pool_init(&p, fm, MEM_BASE + 64, 16 * PG);
	assert_int_equal(vg_pool_reserve(&p, 100, 64, &a), 0);
	assert_int_equal(a, MEM_BASE + 64);
	assert_int_equal(vg_pool_reserve(&p, PG, PG, &b), 0);
	assert_int_equal(b, MEM_BASE + PG);
	vg_pool_fini(&p);
	viommu_flatmem_destroy(fm);
}

static void test_le64_access(void **state)
{
	struct viommu_flatmem *fm = mk_mem();
	struct vg_pool p;
	uint8_t *m;

	(void)state;
	vg_pool_init(&p, fm, MEM_BASE, 4 * PG);
	m = viommu_flatmem_ptr(fm, MEM_BASE + 8, 8);
	assert_non_null(m);
	vg_pool_store64(&p, MEM_BASE + 8, 0x0102030405060708ull);
	assert_int_equal(m[0], 0x08);
	assert_int_equal(m[7], 0x01);
	assert_int_equal(vg_pool_load64(&p, MEM_BASE + 8), 0x0102030405060708ull);
	/* Outside guest memory: nothing is written, nothing crashes, the load reads 0. */
	vg_pool_store64(&p, MEM_BASE + MEM_SIZE, 1);
	assert_int_equal(vg_pool_load64(&p, MEM_BASE + MEM_SIZE), 0);
	vg_pool_store64(&p, MEM_BASE + MEM_SIZE - 4, ~0ull);
	assert_int_equal(vg_pool_load64(&p, MEM_BASE + MEM_SIZE - 8), 0);
	vg_pool_fini(&p);
	viommu_flatmem_destroy(fm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bump_aligned_and_zeroed),
		cmocka_unit_test(test_free_list_lifo_pages_only),
		cmocka_unit_test(test_exhaustion_and_fault),
		cmocka_unit_test(test_reserve_alignment),
		cmocka_unit_test(test_le64_access),
	};

	return cmocka_run_group_tests_name("vg_pool", tests, NULL, NULL);
}
