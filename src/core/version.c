// SPDX-License-Identifier: MIT
#include <viommu/viommu.h>

/* The headers the library was built with: what an embedder's own VIOMMU_VERSION is compared to. */
uint32_t viommu_version(void)
{
	return VIOMMU_VERSION;
}
