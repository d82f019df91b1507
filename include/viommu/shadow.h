/* SPDX-License-Identifier: MIT */
/*
 * Shadow page tables for assigned devices: keep a host IOMMU (VFIO type1 container, an
 * in-process host page table, or the L1 guest's own vIOMMU when nesting) in step with what a
 * guest's vIOMMU lets a device reach.
 *
 * The engine is fed only by the public notifier events of any model (<viommu/viommu.h>: MAP,
 * UNMAP and the VIOMMU_EV_SYNC barrier that closes the events of one invalidation). For every
 * attached device (requester id, optionally a PASID) it records what the host holds as sorted
 * intervals (one per host mapping, never per page), translates each mapping's output address
 * (a guest-physical address) into a host address through the VMM's memory map, and at each
 * barrier diffs only the ranges the events touched against that record:
 *  - a range that still translates to the same host address with the same rights is left alone:
 *    a live mapping is never unmapped transiently;
 *  - a range that changed is unmapped and mapped again, exactly that range (on a host that can
 *    split its mappings; see VIOMMU_SHADOW_HOST_SPLIT for one that cannot);
 *  - adjacent pages with contiguous host addresses and equal rights become one host map call,
 *    adjacent removals one unmap call, and the calls of one barrier form one batch (one commit).
 * Problems (a guest-physical address outside guest memory, an IOVA outside the host's ranges,
 * the host's mapping limit, a failed host call) are reported to the VMM's error callback and
 * counted; the mapping concerned is left out, so the device faults there rather than reaching
 * the wrong memory.
 *
 * Threading: like struct viommu, an engine is not thread-safe; the embedder serialises calls on
 * it and on the vIOMMU instances feeding it.
 */
#ifndef VIOMMU_SHADOW_H
#define VIOMMU_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Host back-end                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* struct viommu_shadow_host_ops.flags */
enum viommu_shadow_host_flags {
	/*
	 * The host can unmap any page-aligned part of an earlier mapping (the in-process host page
	 * table mapping 4 KiB pages, a vIOMMU). Without it (VFIO type1: an unmap must cover whole
	 * earlier mappings) a change to part of a host mapping unmaps all of it and maps the
	 * unchanged parts again (counted in viommu_shadow_stats.remapped_pages), which is why the
	 * default coalescing policy does not merge pieces for such a host.
	 */
	VIOMMU_SHADOW_HOST_SPLIT = 1u << 0,
};

/*
 * One host IOMMU address space per attached device, reached through @ctx (given at attach).
 * map: make [iova, iova + size) reach [host, host + size) with rights @perm (VIOMMU_ACC_*);
 * the range is free in the host when called. unmap: remove [iova, iova + size), which may
 * include holes but never a mapping the engine keeps. commit (optional): the calls since the
 * last commit form one batch (an in-process host flushes its IOTLB here). Each returns 0 or a
 * negative VIOMMU_E* code.
 */
struct viommu_shadow_host_ops {
	uint32_t flags; /* enum viommu_shadow_host_flags */
	int (*map)(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm);
	int (*unmap)(void *ctx, uint64_t iova, uint64_t size);
	int (*commit)(void *ctx);
};

/* ------------------------------------------------------------------------------------------ */
/* Engine                                                                                      */
/* ------------------------------------------------------------------------------------------ */

enum viommu_shadow_coalesce {
	/* Merge adjacent pieces only on a host with VIOMMU_SHADOW_HOST_SPLIT (default). */
	VIOMMU_SHADOW_COALESCE_AUTO = 0,
	/* Always merge; on a host without SPLIT a later partial change remaps the survivors. */
	VIOMMU_SHADOW_COALESCE_ON,
	/* Never merge: one host mapping per piece the model sent. */
	VIOMMU_SHADOW_COALESCE_OFF,
};

/* What went wrong (struct viommu_shadow_error.kind). */
enum viommu_shadow_error_kind {
	VIOMMU_SHADOW_ERR_GPA = 1,    /* output address outside guest memory (gpa_to_host failed) */
	VIOMMU_SHADOW_ERR_RANGE,      /* IOVA outside the host's IOVA ranges, or not page-aligned */
	VIOMMU_SHADOW_ERR_LIMIT,      /* the host's mapping count limit was reached */
	VIOMMU_SHADOW_ERR_HOST_MAP,   /* the host refused a map call */
	VIOMMU_SHADOW_ERR_HOST_UNMAP, /* the host refused an unmap call */
	VIOMMU_SHADOW_ERR_NOMEM,      /* the engine ran out of memory; the range was unmapped */
};

struct viommu_shadow_error {
	enum viommu_shadow_error_kind kind;
	int code; /* VIOMMU_E* */
	uint32_t sid;
	uint32_t pasid;
	bool has_pasid;
	uint64_t iova; /* inclusive range concerned */
	uint64_t last;
	uint64_t gpa; /* for VIOMMU_SHADOW_ERR_GPA: the first guest-physical address refused */
};

#define VIOMMU_SHADOW_MAX_RANGES 8

struct viommu_shadow_range {
	uint64_t first;
	uint64_t last; /* inclusive; last + 1 page-aligned and nonzero */
};

struct viommu_shadow_config {
	/* Host page size: a power of two, at least 4 KiB (default 4096). */
	uint64_t page_size;
	/* Host mappings per device at most; 0 = no limit (default 65535, VFIO type1's default
	 * dma_entry_limit). */
	uint64_t max_mappings;
	/* IOVA ranges the host can map (default one: [0, 2^48 - 1], a 4-level host table). A VMM
	 * on VFIO passes the container's VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE. */
	struct viommu_shadow_range ranges[VIOMMU_SHADOW_MAX_RANGES];
	uint32_t nranges;
	enum viommu_shadow_coalesce coalesce; /* default AUTO */
	/* Host-memory segments one event may translate into (default 65536): bounds the work of a
	 * guest-chosen huge range; the rest is reported as VIOMMU_SHADOW_ERR_GPA. */
	uint32_t max_segments;
	/* Pending pieces before the engine flushes without waiting for the barrier (default 4096). */
	uint32_t max_pending;
	/*
	 * The VMM's guest-memory map (required): the host address of guest-physical @gpa and, in
	 * *@seg_len (<= @len), how many bytes from @gpa are contiguous there. For memory that is not
	 * guest RAM return a negative code and, in *@seg_len, how many bytes from @gpa are not RAM
	 * (at least 1; the engine skips them). Never called for len 0.
	 */
	int (*gpa_to_host)(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host,
			   uint64_t *seg_len);
	/* Told of every problem (optional). Must not call back into the engine. */
	void (*error)(void *opaque, const struct viommu_shadow_error *err);
	void *opaque;
};

/* The defaults written out; gpa_to_host, error and opaque are NULL. */
VIOMMU_API void viommu_shadow_config_init(struct viommu_shadow_config *cfg);

/* Counters; every host call the engine makes is counted here. */
struct viommu_shadow_stats {
	uint64_t events;	 /* MAP/UNMAP events taken */
	uint64_t barriers;	 /* VIOMMU_EV_SYNC events taken */
	uint64_t flushes;	 /* diffs run (a barrier with nothing pending costs none) */
	uint64_t map_calls;	 /* host map calls */
	uint64_t map_pages;	 /* pages in them */
	uint64_t unmap_calls;	 /* host unmap calls */
	uint64_t unmap_pages;	 /* pages of host mappings they removed */
	uint64_t commits;	 /* host commit calls (batches with at least one call) */
	uint64_t kept_pages;	 /* pages an event named that the host already held unchanged */
	uint64_t remapped_pages; /* unchanged pages unmapped and mapped again (no SPLIT) */
	uint64_t replays;	 /* replays run */
	uint64_t errors;	 /* problems reported */
	uint64_t held;		 /* host mappings held now */
	uint64_t held_pages;	 /* pages in them */
};

struct viommu_shadow;
struct viommu_shadow_dev;

/* Create an engine. VIOMMU_EINVAL for a bad configuration (no gpa_to_host, bad page size or
 * ranges). */
VIOMMU_API int viommu_shadow_create(const struct viommu_shadow_config *cfg,
				    struct viommu_shadow **out);
/* Detach every device (leaving their host mappings in place: the VMM owns the host contexts)
 * and free the engine. */
VIOMMU_API void viommu_shadow_destroy(struct viommu_shadow *sh);

/*
 * Shadow requester @sid (with @pasid when @has_pasid) of @v into the host reached through
 * @ops and @ctx, which the device uses alone (a host context per device: the VMM keeps one
 * VFIO container per vIOMMU address space). Subscribes to @v's notifier and replays what @v
 * lets the device reach now, so the host holds it when the call returns.
 */
VIOMMU_API int viommu_shadow_attach(struct viommu_shadow *sh, struct viommu *v, uint32_t sid,
				    uint32_t pasid, bool has_pasid,
				    const struct viommu_shadow_host_ops *ops, void *ctx,
				    struct viommu_shadow_dev **out);
/* Stop shadowing; with @unmap, first remove from the host everything the engine put there. */
VIOMMU_API void viommu_shadow_detach(struct viommu_shadow_dev *d, bool unmap);

/*
 * Resynchronise @d with its vIOMMU over the whole address space: ask the model to replay, then
 * diff (what is unchanged stays mapped). For a device that moved between domains in a way the
 * model does not report as events, and after the guest-memory map changed (memory unplugged or
 * moved): the host addresses are looked up again.
 */
VIOMMU_API int viommu_shadow_replay(struct viommu_shadow_dev *d);

/*
 * Apply what is pending now, without waiting for the model's barrier (a model that sends no
 * VIOMMU_EV_SYNC, or a VMM that wants the host current at a point of its choosing).
 */
VIOMMU_API void viommu_shadow_flush(struct viommu_shadow *sh);

VIOMMU_API void viommu_shadow_get_stats(const struct viommu_shadow *sh,
					struct viommu_shadow_stats *st);
VIOMMU_API void viommu_shadow_dev_get_stats(const struct viommu_shadow_dev *d,
					    struct viommu_shadow_stats *st);

/*
 * Call @fn for every host mapping @d holds, in IOVA order (tests, debugging). Returns the count.
 */
VIOMMU_API uint64_t viommu_shadow_dev_walk(const struct viommu_shadow_dev *d,
					   void (*fn)(void *arg, uint64_t iova, uint64_t last,
						      uint64_t host, uint32_t perm),
					   void *arg);

/* ------------------------------------------------------------------------------------------ */
/* Back-end: in-process host IOMMU                                                             */
/* ------------------------------------------------------------------------------------------ */

/*
 * A host IOMMU of our own: a VT-d second-level table (src/pt) in a flat host memory of its own
 * and a host IOTLB, invalidated once per batch over the ranges unmapped. For tests and the
 * simulator. With @superpages the host maps 2 MiB / 1 GiB pages where alignment allows and
 * cannot split mappings (like VFIO type1); without, it maps 4 KiB pages and can.
 */
struct viommu_shadow_hostpt;

struct viommu_shadow_hostpt_stats {
	uint64_t maps, unmaps, commits;
	uint64_t iotlb_invalidations; /* range invalidations of the host IOTLB */
	uint64_t table_bytes;	      /* host memory the tables use now */
};

VIOMMU_API int viommu_shadow_hostpt_create(bool superpages, uint32_t iotlb_entries,
					   struct viommu_shadow_hostpt **out);
VIOMMU_API void viommu_shadow_hostpt_destroy(struct viommu_shadow_hostpt *hp);
/* The ops to pass to viommu_shadow_attach() with @hp as ctx. */
VIOMMU_API const struct viommu_shadow_host_ops *
viommu_shadow_hostpt_ops(const struct viommu_shadow_hostpt *hp);
/*
 * The device's DMA through the host: IOTLB, then a walk of the host table on a miss. 0 with
 * *@host and *@perm, VIOMMU_EFAULT when the host does not map @iova for @access. *@hit tells
 * whether the IOTLB answered (may be NULL).
 */
VIOMMU_API int viommu_shadow_hostpt_translate(struct viommu_shadow_hostpt *hp, uint64_t iova,
					      uint32_t access, uint64_t *host, uint32_t *perm,
					      bool *hit);
VIOMMU_API void viommu_shadow_hostpt_get_stats(const struct viommu_shadow_hostpt *hp,
					       struct viommu_shadow_hostpt_stats *st);

/* ------------------------------------------------------------------------------------------ */
/* Back-end: VFIO type1 (Linux)                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA on a type1 container: pass
 * viommu_shadow_vfio_ops() with a pointer to an int holding the container fd as ctx. The host
 * addresses are the VMM's virtual addresses of guest RAM (what its gpa_to_host returns). type1
 * cannot split mappings, so the ops have no VIOMMU_SHADOW_HOST_SPLIT. NULL where the library
 * was built without <linux/vfio.h>.
 */
VIOMMU_API const struct viommu_shadow_host_ops *viommu_shadow_vfio_ops(void);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_SHADOW_H */
