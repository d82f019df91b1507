/* SPDX-License-Identifier: MIT */
/*
 * virtio-iommu model internals: device state, domains, endpoints and the per-domain mapping tree.
 */
#ifndef VIOMMU_VIO_INTERNAL_H
#define VIOMMU_VIO_INTERNAL_H

#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/virtio_iommu.h>

#include "core/core.h"
#include "virtio/virtq.h"

#define VIO_MAX_RESV 16u

/* One MAP request's mapping [start, end] -> phys (a copy; the tree owns the storage). */
struct vio_map {
	uint64_t start;
	uint64_t end; /* inclusive */
	uint64_t phys;
	uint32_t flags; /* VIOMMU_VIRTIO_IOMMU_MAP_F_* */
};

struct bt_node;

/* A domain's mappings: a B+tree keyed by start (vio_map.c). */
struct vio_tree {
	struct bt_node *root;
	struct bt_node *spare; /* reserve for splits, so an insert fails before changing anything */
	unsigned int nspare;
	unsigned int depth;
};

struct vio_ep;

struct vio_domain {
	uint32_t id;
	bool bypass; /* created by ATTACH with VIOMMU_VIRTIO_IOMMU_ATTACH_F_BYPASS */
	struct vio_tree maps;
	uint32_t nr_maps;
	struct vio_ep *eps; /* attached endpoints */
	uint32_t nr_eps;
};

struct vio_resv {
	uint64_t start;
	uint64_t end;
	uint8_t subtype;
};

struct vio_ep {
	uint32_t id;
	struct vio_domain *dom;
	struct vio_ep *dom_next;
	struct vio_ep *dom_prev;
	unsigned int nr_resv;
	struct vio_resv resv[VIO_MAX_RESV];
};

struct vio_msi {
	bool enable;
	uint64_t addr;
	uint32_t data;
};

struct vio_dev {
	struct viommu v;
	struct viommu_virtio_iommu_config cfg; /* defaults applied */
	unsigned int granule_shift;
	uint64_t dev_features;
	uint64_t drv_features; /* as the driver wrote them */
	uint64_t features;     /* negotiated: drv_features once FEATURES_OK was accepted */
	uint8_t status;
	uint8_t isr;
	uint8_t bypass; /* config.bypass */
	struct vq vq[VIOMMU_VIRTIO_IOMMU_NQUEUES];
	struct vio_msi msi[VIOMMU_VIRTIO_IOMMU_NQUEUES + 1];
	struct vio_ep **eps; /* sorted by id */
	size_t nr_eps;
	size_t cap_eps;
	struct vio_domain **doms; /* sorted by id */
	size_t nr_doms;
	size_t cap_doms;
	struct viommu_virtio_iommu_stats st;
	uint8_t *probe_buf;	/* probe_size bytes of scratch */
	struct vq_elem elem;	/* the request being processed */
	struct vq_elem ev_elem; /* the event buffer being filled (a consumer's translate can fault
				 * in the middle of a request) */
};

static inline struct vio_dev *to_vio(struct viommu *v)
{
	return vi_container_of(v, struct vio_dev, v);
}

/* @feature: one VIOMMU_VIRTIO_*F_* mask. */
static inline bool vio_has(const struct vio_dev *d, uint64_t feature)
{
	return (d->features & feature) != 0;
}

/* vio_map.c. Mappings never overlap; lookups fill a copy and return whether one was found. */
/* Insert @m; VIOMMU_EEXIST (nothing changed) if it overlaps a mapping, VIOMMU_ENOMEM. */
int vi_vio_map_insert(struct vio_tree *t, const struct vio_map *m);
void vi_vio_map_remove(struct vio_tree *t, uint64_t start);
/* Remove the mapping that is exactly [start, end], copying it to @m; false if there is none. */
bool vi_vio_map_remove_exact(struct vio_tree *t, uint64_t start, uint64_t end, struct vio_map *m);
/* The mapping containing @addr. */
bool vi_vio_map_lookup(const struct vio_tree *t, uint64_t addr, struct vio_map *m);
/* The mapping with the lowest start >= @addr. */
bool vi_vio_map_ceil(const struct vio_tree *t, uint64_t addr, struct vio_map *m);
/* In one descent: the mapping with the greatest start <= @addr, the one with the least start >
 * @addr. */
void vi_vio_map_neighbors(const struct vio_tree *t, uint64_t addr, struct vio_map *le, bool *has_le,
			  struct vio_map *gt, bool *has_gt);
/* Call @fn on every mapping in address order; @fn must not change the tree. */
void vi_vio_map_walk(const struct vio_tree *t, void (*fn)(void *arg, const struct vio_map *m),
		     void *arg);
/* Free every mapping and node. */
void vi_vio_map_clear(struct vio_tree *t);

/* vio.c: state helpers used by the request handlers. */
struct vio_ep *vi_vio_ep_find(struct vio_dev *d, uint32_t id);
struct vio_domain *vi_vio_domain_find(struct vio_dev *d, uint32_t id);
struct vio_domain *vi_vio_domain_create(struct vio_dev *d, uint32_t id, bool bypass);
void vi_vio_ep_detach(struct vio_dev *d, struct vio_ep *ep);
int vi_vio_ep_attach(struct vio_dev *d, struct vio_ep *ep, struct vio_domain *dom);
void vi_vio_notify_map(struct vio_dev *d, struct vio_domain *dom, const struct vio_map *m,
		       enum viommu_event_type type);

void vi_vio_interrupt(struct vio_dev *d, unsigned int vector);
void vi_vio_needs_reset(struct vio_dev *d);

/* vio_req.c: process the available requests of the request queue. */
void vi_vio_process_requests(struct vio_dev *d);

#endif /* VIOMMU_VIO_INTERNAL_H */
