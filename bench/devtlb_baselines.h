/* SPDX-License-Identifier: MIT */
/*
 * Re-implementations, for measurement only, of the three device/vIOMMU IOTLB designs the device
 * IOTLB is compared with (see the research notes): DPDK lib/vhost's list sorted by IOVA and
 * scanned linearly, Linux vhost's interval tree, and QEMU VT-d's per-page hash probed per level.
 */
#ifndef VIOMMU_BENCH_DEVTLB_BASELINES_H
#define VIOMMU_BENCH_DEVTLB_BASELINES_H

#include <stddef.h>
#include <stdint.h>

/* DPDK: nodes from a pool, linked in IOVA order; a lookup walks from the head. */
struct bl_list;
struct bl_list *bl_list_create(size_t max);
void bl_list_destroy(struct bl_list *l);
void bl_list_insert(struct bl_list *l, uint64_t iova, uint64_t size, uint64_t uaddr, uint32_t perm);
/* Host address of @iova, and *len clamped to the entry; 0 on a miss. */
uint64_t bl_list_find(const struct bl_list *l, uint64_t iova, uint64_t *len, uint32_t perm);
/* Link the nodes inserted so far in IOVA order at once (what n sorted inserts give, in O(n log n)). */
void bl_list_append(struct bl_list *l, uint64_t iova, uint64_t size, uint64_t uaddr, uint32_t perm);
void bl_list_link(struct bl_list *l);

/* Linux: interval tree of [start, last] nodes augmented with the subtree's largest last. */
struct bl_itree;
struct bl_itree *bl_itree_create(void);
void bl_itree_destroy(struct bl_itree *t);
void bl_itree_insert(struct bl_itree *t, uint64_t iova, uint64_t size, uint64_t uaddr,
		     uint32_t perm);
uint64_t bl_itree_find(const struct bl_itree *t, uint64_t iova, uint64_t *len, uint32_t perm);

/* QEMU VT-d: hash of (page frame, level) -> entry, probed for 4 KiB, 2 MiB and 1 GiB pages. */
struct bl_phash;
struct bl_phash *bl_phash_create(size_t max);
void bl_phash_destroy(struct bl_phash *h);
/* @shift is 12, 21 or 30; @iova is aligned to it. */
void bl_phash_insert(struct bl_phash *h, uint64_t iova, unsigned int shift, uint64_t uaddr,
		     uint32_t perm);
uint64_t bl_phash_find(const struct bl_phash *h, uint64_t iova, uint64_t *len, uint32_t perm);

#endif
