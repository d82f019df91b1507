// SPDX-License-Identifier: MIT
/*
 * The version is written once, in <viommu/viommu.h>: meson's project version (passed in as
 * VIOMMU_MESON_VERSION) must spell the same numbers, and viommu_version() must return them.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/viommu.h>

#ifndef VIOMMU_MESON_VERSION
#error "the build passes meson.project_version() as VIOMMU_MESON_VERSION"
#endif

static void test_macros_match_meson(void **state)
{
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", VIOMMU_VERSION_MAJOR, VIOMMU_VERSION_MINOR,
		 VIOMMU_VERSION_PATCH);
	assert_string_equal(want, VIOMMU_MESON_VERSION);
}

static void test_encoding(void **state)
{
	(void)state;
	assert_int_equal(VIOMMU_VERSION, ((uint32_t)VIOMMU_VERSION_MAJOR << 16) |
						 ((uint32_t)VIOMMU_VERSION_MINOR << 8) |
						 (uint32_t)VIOMMU_VERSION_PATCH);
	/* Versions order as their numbers do. */
	assert_true(VIOMMU_VERSION_ENCODE(0, 2, 0) > VIOMMU_VERSION_ENCODE(0, 1, 255));
	assert_true(VIOMMU_VERSION_ENCODE(1, 0, 0) > VIOMMU_VERSION_ENCODE(0, 255, 255));
	assert_true(VIOMMU_VERSION_ENCODE(0, 1, 1) > VIOMMU_VERSION_ENCODE(0, 1, 0));
}

static void test_runtime_matches_headers(void **state)
{
	(void)state;
	assert_int_equal(viommu_version(), VIOMMU_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macros_match_meson),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_runtime_matches_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
