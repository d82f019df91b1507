/* SPDX-License-Identifier: MIT */
/*
 * Device IOTLB for vhost back-ends: a cache of guest IOVA -> host virtual address ("uaddr")
 * translations that the datapath consults at every descriptor and buffer, that asks the
 * front-end on a miss (VHOST_USER_BACKEND_IOTLB_MSG MISS) and that drops entries when the guest's
 * vIOMMU invalidates (VHOST_USER_IOTLB_MSG INVALIDATE). UPDATE and INVALIDATE arguments come from
 * a socket and are untrusted: every size, wrap-around and permission is checked.
 *
 * Threads. One writer (the control path: update, invalidate, flush, start/stop, take_misses,
 * reader create/destroy, stats, synchronize; the caller serialises these calls) and any number of
 * readers, each owning one struct viommu_devtlb_reader (one per queue or per datapath thread).
 * Reader calls (lookup, quiesce, offline, online) run only on the reader's own thread, never block,
 * never take a lock and never wait for the writer. The writer waits for readers only in
 * viommu_devtlb_synchronize(), and briefly (a bounded number of yields) when readers that do not
 * quiesce hold back 64 superseded tables.
 *
 * Reader contract (quiescent-state based reclamation):
 *  - A reader is "online" from its first lookup (or viommu_devtlb_reader_online()) until
 *    viommu_devtlb_reader_offline(). While online it must call viommu_devtlb_reader_quiesce()
 *    regularly, e.g. once per burst, at a point where it holds no host address obtained from an
 *    earlier lookup that it still intends to use for a DMA. An idle reader goes offline.
 *  - Removed entries (invalidated, evicted, merged away) are reclaimed only after every online
 *    reader has passed a quiescent point or gone offline; until then they stay readable.
 *
 * Invalidation guarantee: once viommu_devtlb_invalidate() (or flush, or stop) returns, no lookup
 * that starts afterwards returns a translation for the invalidated range (readers keep no private
 * copies: every lookup reads the shared structure). "Afterwards" means the return happens-before the
 * lookup (any synchronisation: a message, a lock, a release/acquire pair); the call also ends
 * with a full fence, so on one machine it holds in real time order too. A lookup that started
 * before may still return the old translation. A back-end that must not DMA through an
 * invalidated IOVA after it acknowledges the invalidation calls viommu_devtlb_synchronize() (or
 * polls viommu_devtlb_grace_done()) before replying: when it returns, every reader has passed a
 * quiescent point, so no translation obtained before the invalidation is still in use.
 *
 * Entries. An entry maps the inclusive IOVA range [iova, last] to [uaddr, uaddr + last - iova]
 * with permissions (VIOMMU_ACC_READ, VIOMMU_ACC_WRITE; vhost's RO = 1, WO = 2, RW = 3 are the same
 * bits). Entries never overlap: an UPDATE replaces whatever it overlaps (the newest mapping
 * wins). An UPDATE merges with an IOVA-adjacent entry only when the host addresses are contiguous
 * too and the permissions are equal, so a lookup never returns a length that crosses into memory
 * no entry covers, or from one entry into another whose host address is not contiguous
 * (DPDK's CVE-2018-1059 class). INVALIDATE removes exactly the range: an entry that straddles a
 * boundary keeps its outside parts (or loses them when the cache is full; a cache may forget).
 *
 * Capacity and replacement: at most cfg.capacity entries; an insertion into a full cache evicts
 * the oldest entry (FIFO by insertion, as Linux vhost), never the one being inserted.
 *
 * Misses. A lookup that finds no entry records a pending miss for the 4 KiB page of the address
 * and returns VIOMMU_EAGAIN without waiting. The first miss of a page calls cfg.miss (on the
 * reader's thread; it must not block and must not call back into the devtlb) and makes the miss
 * visible to viommu_devtlb_take_misses() (for a control thread that sends the requests itself).
 * Further misses of the same page with the same or fewer permissions are de-duplicated: they ask
 * nothing until an UPDATE overlaps the page (which clears the pending miss and calls the wake
 * callback of every reader that missed on it), until a flush/stop, or until cfg.miss_retry_ns has
 * passed since the request (the front-end may legitimately answer nothing for an invalid IOVA,
 * so the request is repeated at most once per retry interval). The reader may retry later, or
 * park its queue until its wake callback runs or viommu_devtlb_generation() changes.
 *
 * Start/stop. A new device IOTLB is stopped. Per the vhost design ("when DMAR is enabled ... the
 * device IOTLB is started with no entries cached"), viommu_devtlb_start() drops everything and
 * enables it; viommu_devtlb_stop() drops everything, forgets pending misses, wakes parked readers
 * and disables it. While stopped, lookups return VIOMMU_ENOENT without asking, and updates are
 * refused with VIOMMU_EPERM (invalidations succeed and do nothing).
 *
 * Cost: a hit reads one slot of the shared table (one cache line) in the common case, whatever the
 * access pattern.
 */
#ifndef VIOMMU_DEVTLB_H
#define VIOMMU_DEVTLB_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIOMMU_DEVTLB_DEFAULT_CAPACITY 2048
#define VIOMMU_DEVTLB_MAX_CAPACITY (1u << 22)
#define VIOMMU_DEVTLB_MISS_SHIFT 12 /* pending misses are de-duplicated per 4 KiB page */

struct viommu_devtlb;
struct viommu_devtlb_reader;

/*
 * Ask for the translation of @iova with permissions @perm (enum viommu_access bits). Runs on the
 * reader thread that missed, inside viommu_devtlb_lookup(): it must not block (send the vhost MISS
 * asynchronously, without NEED_REPLY, or ring a doorbell for a control thread) and must not call
 * the devtlb.
 */
typedef void (*viommu_devtlb_miss_fn)(void *opaque, uint64_t iova, uint32_t perm);
/* Runs on the writer thread, inside the UPDATE (or flush/stop) that resolved a reader's miss. */
typedef void (*viommu_devtlb_wake_fn)(void *opaque);
/* Monotonic nanoseconds; only read on the miss path. */
typedef uint64_t (*viommu_devtlb_clock_fn)(void *opaque);

struct viommu_devtlb_config {
	uint32_t capacity;	/* entries, 1..VIOMMU_DEVTLB_MAX_CAPACITY (default 2048 when 0) */
	uint32_t pending_slots; /* pending-miss table, power of two 8..65536 (default 256) */
	uint64_t miss_retry_ns; /* re-ask a pending miss after this (default 2 ms when 0) */
	viommu_devtlb_miss_fn miss;   /* may be NULL: misses are then only listed by take_misses */
	viommu_devtlb_clock_fn clock; /* may be NULL: CLOCK_MONOTONIC */
	void *opaque;		      /* passed to miss and clock */
};

struct viommu_devtlb_stats {
	/* Reader side, summed over live readers (and readers destroyed since creation). */
	uint64_t lookups;
	uint64_t hits;
	uint64_t misses;	  /* lookups that found no entry (includes suppressed ones) */
	uint64_t perm_faults;	  /* an entry covered the address without the access asked */
	uint64_t miss_requests;	  /* misses that asked the front-end (cfg.miss / take_misses) */
	uint64_t miss_suppressed; /* misses de-duplicated against a pending request */
	uint64_t stopped_lookups; /* lookups while stopped */
	double hit_rate;	  /* hits / lookups, 0 when there were none */
	/* Writer side. */
	uint64_t updates;	/* accepted UPDATEs */
	uint64_t rejected;	/* refused UPDATEs (bad arguments, stopped) */
	uint64_t merges;	/* UPDATEs merged with a host-contiguous neighbour */
	uint64_t replaced;	/* entries (or parts) overwritten by an overlapping UPDATE */
	uint64_t invalidations; /* INVALIDATE calls */
	uint64_t invalidated;	/* entries removed or trimmed by them */
	uint64_t flushes;	/* full drops: flush, start, stop, whole-space INVALIDATE */
	uint64_t evictions;	/* entries dropped for capacity */
	uint64_t entries;	/* resident now */
	uint64_t retired;	/* removed memory awaiting a grace period now */
	uint64_t dropped; /* UPDATEs (or trimmed parts) not cached: readers had not quiesced */
};

/* A pending miss, as listed by viommu_devtlb_take_misses(). */
struct viommu_devtlb_miss {
	uint64_t iova; /* the start of the 4 KiB page that missed */
	uint32_t perm; /* the permissions asked */
};

/* ---- Writer side (one thread at a time) ---- */

/*
 * The defaults written out: capacity VIOMMU_DEVTLB_DEFAULT_CAPACITY, 256 pending-miss slots, a
 * 2 ms miss retry, no miss callback, CLOCK_MONOTONIC. The same device IOTLB as `{ 0 }`.
 */
VIOMMU_API void viommu_devtlb_config_init(struct viommu_devtlb_config *cfg);

VIOMMU_API int viommu_devtlb_create(const struct viommu_devtlb_config *cfg,
				    struct viommu_devtlb **out);
/* No reader may be in use any more; readers not destroyed yet are freed with it. */
VIOMMU_API void viommu_devtlb_destroy(struct viommu_devtlb *tlb);

VIOMMU_API void viommu_devtlb_start(struct viommu_devtlb *tlb);
VIOMMU_API void viommu_devtlb_stop(struct viommu_devtlb *tlb);
VIOMMU_API bool viommu_devtlb_started(const struct viommu_devtlb *tlb);

/*
 * vhost UPDATE: map [iova, iova + size) to [uaddr, uaddr + size) with @perm. Returns 0, or
 * VIOMMU_EINVAL for size 0, a @perm that is not a non-empty subset of VIOMMU_ACC_RW, or a host
 * range that wraps past 2^64; VIOMMU_EPERM while stopped. An IOVA range that wraps is clamped to
 * the end of the space. Never fails for lack of memory: a full cache evicts, and an entry that
 * cannot be placed because readers have not quiesced for a long time is not cached (counted in
 * stats.dropped; the next miss asks again).
 */
VIOMMU_API int viommu_devtlb_update(struct viommu_devtlb *tlb, uint64_t iova, uint64_t size,
				    uint64_t uaddr, uint32_t perm);

/*
 * vhost INVALIDATE of [iova, iova + size). @size 0, or a range whose end wraps past 2^64, means
 * "to the end of the address space" (QEMU sends [0, 2^64) as size 0, and ranges such as
 * [0xfef00000, 2^64)); it is never empty. The whole space is dropped in O(1). Returns 0.
 */
VIOMMU_API int viommu_devtlb_invalidate(struct viommu_devtlb *tlb, uint64_t iova, uint64_t size);

/* Drop every entry, in O(1). Pending misses stay pending. */
VIOMMU_API void viommu_devtlb_flush(struct viommu_devtlb *tlb);

/*
 * Move up to @max misses recorded since the last call (and not resolved since) into @out; returns
 * how many. For a control thread that sends MISS messages itself, or feeds an in-process source.
 */
VIOMMU_API size_t viommu_devtlb_take_misses(struct viommu_devtlb *tlb,
					    struct viommu_devtlb_miss *out, size_t max);

/*
 * Wait until every online reader has passed a quiescent point (or gone offline) since the call,
 * then reclaim what was removed before it. Blocks (yielding) as long as an online reader does
 * not quiesce.
 */
VIOMMU_API void viommu_devtlb_synchronize(struct viommu_devtlb *tlb);
/*
 * Non-blocking form: grace_start() returns a cookie; grace_done() is true once every reader that
 * was online has quiesced or gone offline since, and then reclaims what it can.
 */
VIOMMU_API uint64_t viommu_devtlb_grace_start(struct viommu_devtlb *tlb);
VIOMMU_API bool viommu_devtlb_grace_done(struct viommu_devtlb *tlb, uint64_t cookie);

/* Changes after every accepted UPDATE and every flush/stop; safe from any thread. */
VIOMMU_API uint64_t viommu_devtlb_generation(const struct viommu_devtlb *tlb);

VIOMMU_API void viommu_devtlb_get_stats(const struct viommu_devtlb *tlb,
					struct viommu_devtlb_stats *st);

/*
 * A reader (per queue). Created offline on the writer thread; @wake (may be NULL) is called with
 * @opaque on the writer thread when an UPDATE resolves a miss this reader took, or on flush/stop
 * when it has misses pending. Destroy on the writer thread, once the reader thread no longer uses
 * it.
 */
VIOMMU_API int viommu_devtlb_reader_create(struct viommu_devtlb *tlb, viommu_devtlb_wake_fn wake,
					   void *opaque, struct viommu_devtlb_reader **out);
VIOMMU_API void viommu_devtlb_reader_destroy(struct viommu_devtlb_reader *r);

/* ---- Reader side (the reader's own thread) ---- */

/*
 * Translate [iova, iova + len) for @access (VIOMMU_ACC_READ and/or VIOMMU_ACC_WRITE; 0 means
 * READ). @len 0 is treated as 1; a range that wraps is clamped to the end of the space. Returns:
 *   0                 *uaddr is the host address of @iova, *covered (1..len) the bytes from @iova
 *                     that one entry maps contiguously with @access; ask again for the rest;
 *   VIOMMU_EAGAIN     miss: the translation was requested (or is already pending); retry later
 *                     or park until the wake callback / a generation change;
 *   VIOMMU_EPERM      an entry covers @iova but does not grant @access (nothing is asked);
 *   VIOMMU_ENOENT     the device IOTLB is stopped.
 * Makes the reader online if it was offline.
 */
VIOMMU_API int viommu_devtlb_lookup(struct viommu_devtlb_reader *r, uint64_t iova, uint64_t len,
				    uint32_t access, uint64_t *uaddr, uint64_t *covered);

/* A quiescent point: the reader uses no host address obtained before this call any more. */
VIOMMU_API void viommu_devtlb_reader_quiesce(struct viommu_devtlb_reader *r);
/* Stop being waited for (idle queue); the next lookup or reader_online() ends it. */
VIOMMU_API void viommu_devtlb_reader_offline(struct viommu_devtlb_reader *r);
VIOMMU_API void viommu_devtlb_reader_online(struct viommu_devtlb_reader *r);

/* ---- In-process source: feed the device IOTLB from a model in the same process ---- */

/*
 * Map a guest-physical range to a host virtual address: set *hva for @gpa and *hva_len to how
 * many bytes from @gpa (1..len) are contiguous in host memory. Return 0, or a negative code when
 * @gpa is not guest RAM.
 */
typedef int (*viommu_devtlb_gpa_fn)(void *opaque, uint64_t gpa, uint64_t len, uint64_t *hva,
				    uint64_t *hva_len);

struct viommu_devtlb_source;

/* What a source sends the back-end, for viommu_devtlb_source_config.sent. */
enum viommu_devtlb_msg {
	VIOMMU_DEVTLB_MSG_INVALIDATE,  /* a model UNMAP / DEVIOTLB_UNMAP event's range */
	VIOMMU_DEVTLB_MSG_UPDATE_MISS, /* the answer to a miss */
	VIOMMU_DEVTLB_MSG_UPDATE_PUSH, /* a mapping pushed from a model MAP event */
};

/* How an in-process source follows its model. */
struct viommu_devtlb_source_config {
	uint32_t sid; /* the requester whose translations the back-end caches */
	/*
	 * Model events that invalidate: VIOMMU_EV_UNMAP, VIOMMU_EV_DEVIOTLB_UNMAP or both; 0 means
	 * both. A VMM whose device does ATS forwards only device-IOTLB invalidations (QEMU's
	 * DEVIOTLB notifier); without ATS, the IOMMU's own UNMAPs.
	 */
	uint32_t inval_events;
	/*
	 * Push: UPDATE every mapping the model announces (VIOMMU_EV_MAP: caching mode), so that
	 * the back-end finds it without a miss; invalidate on the events above as before.
	 */
	bool push;
	viommu_devtlb_gpa_fn gpa_to_hva;
	void *opaque;
	/*
	 * Optional: called with @opaque after each message the source sent and its result (0 or
	 * the negative code of viommu_devtlb_update/invalidate, or of @gpa_to_hva for a push).
	 */
	void (*sent)(void *opaque, enum viommu_devtlb_msg msg, int ret);
};

/*
 * Attach @tlb to model @v as @cfg says: the model's invalidation events for @cfg->sid invalidate
 * the range (they run inside the model call that caused them, so they must come from the writer
 * thread), and viommu_devtlb_source_service() answers pending misses by translating each with
 * viommu_translate() (one call per miss, as QEMU does) and @cfg->gpa_to_hva, then UPDATing the
 * whole page the model maps (clamped to its host-contiguous part). A miss that the model faults
 * is answered with nothing, as QEMU does for an invalid IOVA. Detach before destroying @v or
 * @tlb.
 */
VIOMMU_API int viommu_devtlb_attach_model_cfg(struct viommu_devtlb *tlb, struct viommu *v,
					      const struct viommu_devtlb_source_config *cfg,
					      struct viommu_devtlb_source **out);
/*
 * The defaults written out: requester 0, both invalidation events, no push, no callbacks. The
 * caller still sets sid and gpa_to_hva (attach refuses a NULL gpa_to_hva).
 */
VIOMMU_API void viommu_devtlb_source_config_init(struct viommu_devtlb_source_config *cfg);

/* viommu_devtlb_attach_model_cfg() for @sid, both invalidation events, no push. */
VIOMMU_API int viommu_devtlb_attach_model(struct viommu_devtlb *tlb, struct viommu *v, uint32_t sid,
					  viommu_devtlb_gpa_fn gpa_to_hva, void *opaque,
					  struct viommu_devtlb_source **out);
/* Writer thread: answer the misses pending now; returns how many UPDATEs it made. */
VIOMMU_API int viommu_devtlb_source_service(struct viommu_devtlb_source *s);
VIOMMU_API void viommu_devtlb_detach_model(struct viommu_devtlb_source *s);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_DEVTLB_H */
