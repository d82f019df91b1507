/* SPDX-License-Identifier: MIT */
/*
 * Shadow engine internals: interval sets (sorted, never overlapping) of what the host holds and
 * of what the events of the current batch asked for.
 */
#ifndef VI_SHADOW_INTERNAL_H
#define VI_SHADOW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <viommu/shadow.h>

/* [iova, last] -> [host, ...) with @perm; in the pending set, !present is a hole to enforce. */
struct vi_shadow_ext {
	uint64_t iova;
	uint64_t last;
	uint64_t host;
	uint64_t src; /* in a batch's map list: pieces of one source may merge even uncoalesced */
	uint32_t perm;
	bool present;
};

struct vi_shadow_set {
	struct vi_shadow_ext *e;
	size_t n, cap;
};

/* First entry whose last is at or above @x. */
size_t vi_shadow_set_lower(const struct vi_shadow_set *s, uint64_t x);
/* Remove the coverage of [a, b], splitting entries across its ends; returns where [a, b] was. */
int vi_shadow_set_carve(struct vi_shadow_set *s, uint64_t a, uint64_t b, size_t *at);
/* Insert @x at @at (the caller keeps the order). */
int vi_shadow_set_insert(struct vi_shadow_set *s, size_t at, const struct vi_shadow_ext *x);
void vi_shadow_set_fini(struct vi_shadow_set *s);
/* Room for @need entries without reallocating. */
int vi_shadow_set_reserve(struct vi_shadow_set *s, size_t need);

struct viommu_shadow_dev {
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *next;
	struct viommu *v;
	struct viommu_notifier *notifier;
	uint32_t sid, pasid;
	bool has_pasid;
	bool replaying;
	const struct viommu_shadow_host_ops *ops;
	void *ctx;
	struct vi_shadow_set held; /* one entry per host mapping */
	struct vi_shadow_set pend; /* what the events since the last flush asked for */
	struct viommu_shadow_stats st;
};

struct viommu_shadow {
	struct viommu_shadow_config cfg;
	struct viommu_shadow_dev *devs;
	struct viommu_shadow_stats st; /* of detached devices, added to the live ones' */
	/* Scratch of one flush. */
	struct vi_shadow_set rem, map, ev;
};

#endif
