/* SPDX-License-Identifier: MIT */
/* A fake host IOMMU's mappings as extents: shared by the shadow test and its fuzz target. */
#ifndef VIOMMU_TESTS_HOST_EXTENTS_H
#define VIOMMU_TESTS_HOST_EXTENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct host_ext {
	uint64_t iova, last, host;
	uint32_t perm;
};

/*
 * Unmap [@iova, @last] from the @*n extents of @e (room for @cap): extents it covers go, ones it
 * overlaps shrink, one it bisects becomes two. Returns -1 when it covers part of an extent and
 * the host cannot @split (VFIO type1 unmaps whole mappings only), -2 when a bisected extent
 * finds no room; 0 otherwise.
 */
static inline int host_ext_unmap(struct host_ext *e, size_t *n, size_t cap, uint64_t iova,
				 uint64_t last, bool split)
{
	for (size_t i = 0; i < *n;) {
		struct host_ext *x = &e[i];

		if (x->last < iova || x->iova > last) {
			i++;
			continue;
		}
		if (!split && (x->iova < iova || x->last > last))
			return -1;
		if (x->iova < iova && x->last > last) {
			if (*n == cap)
				return -2;
			e[(*n)++] = (struct host_ext){ last + 1, x->last,
						       x->host + (last + 1 - x->iova), x->perm };
			x->last = iova - 1;
			i++;
		} else if (x->iova < iova) {
			x->last = iova - 1;
			i++;
		} else if (x->last > last) {
			x->host += last + 1 - x->iova;
			x->iova = last + 1;
			i++;
		} else {
			e[i] = e[--(*n)];
		}
	}
	return 0;
}

#endif
