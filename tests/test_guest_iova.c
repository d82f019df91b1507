// SPDX-License-Identifier: MIT
/*
 * The simulator's guest IOVA allocator: per-CPU magazines, depot, backing store, and a randomized
 * run checking that live ranges never overlap and stay aligned inside the window.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/viommu.h>

#include "iova.h"

#define BASE 0x100000ull
#define LIMIT 0x100000000ull

static struct vg_iova *mk(unsigned int ncpus)
{
	struct vg_iova *a = NULL;

	assert_int_equal(vg_iova_create(BASE, LIMIT, ncpus, &a), 0);
	return a;
}

static void test_args_and_rounding(void **state)
{
	struct vg_iova *a;
	uint64_t iova;

	(void)state;
	assert_int_equal(vg_iova_create(1, LIMIT, 1, &a), VIOMMU_EINVAL);
	assert_int_equal(vg_iova_create(LIMIT, BASE, 1, &a), VIOMMU_EINVAL);
	assert_int_equal(vg_iova_create(BASE, LIMIT, 0, &a), VIOMMU_EINVAL);
	assert_int_equal(vg_iova_create(BASE, LIMIT, VG_IOVA_MAX_CPUS + 1, &a), VIOMMU_EINVAL);
	assert_int_equal(vg_iova_rounded(1), 4096);
	assert_int_equal(vg_iova_rounded(4096), 4096);
	assert_int_equal(vg_iova_rounded(4097), 8192);
	assert_int_equal(vg_iova_rounded(1500), 4096);
	assert_int_equal(vg_iova_rounded(65536), 65536);
	assert_int_equal(vg_iova_rounded(3 * 4096), 4 * 4096);
	assert_int_equal(vg_iova_rounded(0), 0);
	a = mk(2);
	assert_int_equal(vg_iova_alloc(a, 0, 0, &iova), VIOMMU_EINVAL);
	assert_int_equal(vg_iova_alloc(a, 2, 4096, &iova), VIOMMU_EINVAL);
	vg_iova_destroy(a);
	vg_iova_destroy(NULL);
}

static void test_top_down_aligned(void **state)
{
	struct vg_iova *a = mk(1);
	uint64_t x, y, z;

	(void)state;
	assert_int_equal(vg_iova_alloc(a, 0, 4096, &x), 0);
	assert_int_equal(x, LIMIT - 4096);
	assert_int_equal(vg_iova_alloc(a, 0, 65536, &y), 0);
	assert_int_equal(y % 65536, 0);
	assert_true(y + 65536 <= x);
	assert_int_equal(vg_iova_alloc(a, 0, 3 * 4096, &z), 0); /* rounded to 16 KiB */
	assert_int_equal(z % 16384, 0);
	assert_true(z + 16384 <= y);
	vg_iova_destroy(a);
}

static void test_rcache_reuse_same_cpu(void **state)
{
	struct vg_iova *a = mk(2);
	struct vg_iova_stats st;
	uint64_t x, y;

	(void)state;
	assert_int_equal(vg_iova_alloc(a, 0, 4096, &x), 0);
	vg_iova_free(a, 0, x, 4096);
	/* A steady map/unmap on one CPU is served by its magazine: the same range comes back. */
	assert_int_equal(vg_iova_alloc(a, 0, 4096, &y), 0);
	assert_int_equal(x, y);
	/* Another CPU has no cached range: it goes to the backing store. */
	vg_iova_free(a, 0, y, 4096);
	assert_int_equal(vg_iova_alloc(a, 1, 4096, &y), 0);
	assert_int_not_equal(x, y);
	vg_iova_get_stats(a, &st);
	assert_int_equal(st.allocs, 3);
	assert_int_equal(st.rcache_hits, 1);
	assert_int_equal(st.backing_allocs, 2);
	assert_int_equal(st.in_use_pages, 1);
	vg_iova_destroy(a);
}

static void test_depot_moves_between_cpus(void **state)
{
	struct vg_iova *a = mk(2);
	struct vg_iova_stats st;
	enum { N = 3 * VG_IOVA_MAG_SIZE };
	static uint64_t v[N];
	uint64_t got;

	(void)state;
	for (int i = 0; i < N; i++)
		assert_int_equal(vg_iova_alloc(a, 0, 4096, &v[i]), 0);
	/* Freeing 3 magazines' worth on CPU 0 fills loaded and prev and pushes one to the depot. */
	for (int i = 0; i < N; i++)
		vg_iova_free(a, 0, v[i], 4096);
	vg_iova_get_stats(a, &st);
	assert_int_equal(st.depot_swaps, 1);
	assert_int_equal(st.backing_frees, 0);
	/* CPU 1 takes the depot's full magazine instead of the backing store. */
	assert_int_equal(vg_iova_alloc(a, 1, 4096, &got), 0);
	vg_iova_get_stats(a, &st);
	assert_int_equal(st.depot_swaps, 2);
	assert_int_equal(st.rcache_hits, 1);
	assert_int_equal(st.backing_allocs, N);
	vg_iova_destroy(a);
}

static void test_sizes_beyond_cache_and_exhaustion(void **state)
{
	struct vg_iova *a;
	struct vg_iova_stats st;
	uint64_t x, y;

	(void)state;
	assert_int_equal(vg_iova_create(0x10000, 0x10000 + 8 * 4096 * 32, 1, &a), 0);
	/* 256 KiB is above the cached sizes (128 KiB): always the backing store. */
	assert_int_equal(vg_iova_alloc(a, 0, 256 << 10, &x), 0);
	vg_iova_free(a, 0, x, 256 << 10);
	assert_int_equal(vg_iova_alloc(a, 0, 256 << 10, &y), 0);
	assert_int_equal(x, y); /* reused from the free list */
	vg_iova_get_stats(a, &st);
	assert_int_equal(st.rcache_hits, 0);
	assert_int_equal(st.backing_frees, 1);
	/* 1 MiB window: 256 KiB in use; two more fit, the next does not. */
	assert_int_equal(vg_iova_alloc(a, 0, 256 << 10, &x), 0);
	assert_int_equal(vg_iova_alloc(a, 0, 256 << 10, &x), 0);
	assert_int_equal(vg_iova_alloc(a, 0, 512 << 10, &x), VIOMMU_ENOSPC);
	vg_iova_get_stats(a, &st);
	assert_int_equal(st.failures, 1);
	vg_iova_destroy(a);
}

struct live {
	uint64_t iova, size;
	unsigned int cpu;
};

static void test_random_no_overlap(void **state)
{
	struct test_rng rng = { test_seed(0x10fa) };
	struct vg_iova *a = mk(4);
	enum { MAXL = 512 };
	static struct live l[MAXL];
	int n = 0;

	(void)state;
	for (int op = 0; op < 100000; op++) {
		if (n < MAXL && (n == 0 || test_below(&rng, 100) < 55)) {
			static const uint64_t sizes[] = { 1,	 1500,	 4096,	 9000,
							  65536, 200000, 1 << 20 };
			uint64_t size = sizes[test_below(&rng, 7)];
			unsigned int cpu = (unsigned int)test_below(&rng, 4);
			uint64_t iova, r = vg_iova_rounded(size);

			assert_int_equal(vg_iova_alloc(a, cpu, size, &iova), 0);
			assert_int_equal(iova % r, 0);
			assert_true(iova >= BASE && iova + r <= LIMIT);
			for (int i = 0; i < n; i++) {
				uint64_t lr = vg_iova_rounded(l[i].size);

				assert_true(iova + r <= l[i].iova || l[i].iova + lr <= iova);
			}
			l[n++] = (struct live){ iova, size, cpu };
		} else {
			int i = (int)test_below(&rng, (uint64_t)n);
			/* Frees often happen on another CPU (completion on a different core). */
			unsigned int cpu = test_below(&rng, 2) ? l[i].cpu :
								 (unsigned int)test_below(&rng, 4);

			vg_iova_free(a, cpu, l[i].iova, l[i].size);
			l[i] = l[--n];
		}
	}
	struct vg_iova_stats st;

	vg_iova_get_stats(a, &st);
	assert_int_equal(st.allocs - st.frees, (uint64_t)n);
	assert_true(st.rcache_hits > st.allocs / 4);
	vg_iova_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_and_rounding),
		cmocka_unit_test(test_top_down_aligned),
		cmocka_unit_test(test_rcache_reuse_same_cpu),
		cmocka_unit_test(test_depot_moves_between_cpus),
		cmocka_unit_test(test_sizes_beyond_cache_and_exhaustion),
		cmocka_unit_test(test_random_no_overlap),
	};

	return cmocka_run_group_tests_name("vg_iova", tests, NULL, NULL);
}
