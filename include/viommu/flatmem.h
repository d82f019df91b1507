/* SPDX-License-Identifier: MIT */
/*
 * A ready host-ops implementation over one flat host buffer standing for guest RAM at
 * [base, base + size). Used by the tests, the simulator and the fuzzers; a VMM with real guest
 * memory supplies its own viommu_host_ops.
 *
 * Any access that is not wholly inside the buffer, including one whose end wraps past 2^64,
 * fails with VIOMMU_EFAULT and transfers nothing. dma_map_ptr hands out pointers into the buffer
 * under the same check, with the whole buffer as the span, marked VIOMMU_DMA_SPAN_STABLE (valid
 * until viommu_flatmem_destroy(): destroy page-table walkers over @fm first). Interrupts are counted and forwarded to an
 * optional callback so tests can observe them.
 */
#ifndef VIOMMU_FLATMEM_H
#define VIOMMU_FLATMEM_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct viommu_flatmem;

struct viommu_flatmem_stats {
	uint64_t reads;
	uint64_t writes;
	uint64_t read_bytes;
	uint64_t write_bytes;
	uint64_t rejected; /* accesses refused for lying outside the buffer */
	uint64_t maps;	   /* dma_map_ptr calls that returned a pointer */
	uint64_t msis;
	uint64_t irqs;
};

/* Allocate @size zeroed bytes of guest RAM at guest-physical @base. */
VIOMMU_API int viommu_flatmem_create(uint64_t base, size_t size, struct viommu_flatmem **out);
VIOMMU_API void viommu_flatmem_destroy(struct viommu_flatmem *fm);

/* The host-ops table to pass to a model together with @fm as its opaque pointer. */
VIOMMU_API const struct viommu_host_ops *viommu_flatmem_ops(void);

/* Host pointer for [gpa, gpa + len), or NULL when that range is not wholly inside the buffer. */
VIOMMU_API void *viommu_flatmem_ptr(struct viommu_flatmem *fm, uint64_t gpa, size_t len);

VIOMMU_API uint64_t viommu_flatmem_base(const struct viommu_flatmem *fm);
VIOMMU_API size_t viommu_flatmem_size(const struct viommu_flatmem *fm);

/* Forward interrupts (after counting them) to these callbacks; either may be NULL. */
VIOMMU_API void viommu_flatmem_set_irq_handlers(
	struct viommu_flatmem *fm, void (*msi)(void *opaque, uint64_t addr, uint32_t data),
	void (*irq)(void *opaque, unsigned int line, bool level), void *opaque);

VIOMMU_API void viommu_flatmem_get_stats(const struct viommu_flatmem *fm,
					 struct viommu_flatmem_stats *st);
VIOMMU_API void viommu_flatmem_reset_stats(struct viommu_flatmem *fm);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_FLATMEM_H */
