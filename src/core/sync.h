/* SPDX-License-Identifier: MIT */
/*
 * MAP/UNMAP synchronisation of consumers shared by the models that invalidate after every
 * change (VT-d caching mode, AMD-Vi NpCache): the per-requester record of what the MAP consumers
 * were last told, and the diff of a window of it against the tables as they are now. The model
 * supplies how a requester's translations over a window are found (a view callback filling the
 * sorted pieces) and which domain a requester is in.
 */
#ifndef VI_SYNC_H
#define VI_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* A mapping last told to the MAP consumers of one requester: [iova, last] -> out. */
struct vi_sync_map {
	uint64_t iova;
	uint64_t last;
	uint64_t out;
	uint32_t perm;
};

/* What the MAP consumers of one requester hold, sorted by iova, never overlapping. */
struct vi_sync_as {
	struct vi_sync_map *maps;
	size_t n;
	size_t cap;
	uint32_t dom; /* domain of the entry the record was last synced with */
	bool has_dom;
};

struct vi_sync;

/*
 * Fill the pieces (vi_sync_add_piece) of what @sid translates in [a, b] now; set *has_dom and
 * *dom when the requester has a usable entry. False when out of memory or walk budget.
 */
typedef bool (*vi_sync_view_fn)(struct vi_sync *y, void *ctx, uint32_t sid, uint64_t a, uint64_t b,
				bool *has_dom, uint32_t *dom);
/* 0 and *dom when @sid has a usable entry now. */
typedef int (*vi_sync_dom_fn)(void *ctx, uint32_t sid, uint32_t *dom);

struct vi_sync {
	/* Set by the model before each use. */
	struct viommu *v;
	const char *name;		/* model name for the log */
	uint32_t nsid;			/* requesters: 0 .. nsid - 1 */
	uint64_t *seen;			/* bitmap of requesters that may have consumers' state */
	uint64_t *budget;		/* walks the running guest action may still spend */
	uint64_t *nmap;			/* MAP events delivered */
	uint64_t *nunmap;		/* UNMAP events delivered */
	uint64_t intr_first, intr_last; /* the interrupt range, never translated (none when
					 * first > last) */
	vi_sync_view_fn view;
	vi_sync_dom_fn dom_of;
	void *ctx;

	/* Owned. */
	struct vi_sync_as **as;		  /* by source id, allocated on first use */
	struct vi_sync_map *leaves, *win; /* scratch of one sync */
	size_t nleaves, cap_leaves, nwin, cap_win;
	struct viommu_event *ev;
	size_t nev, cap_ev;
};

void vi_sync_fini(struct vi_sync *y);
void vi_sync_mark_seen(struct vi_sync *y, uint32_t sid);
struct vi_sync_as *vi_sync_as_get(struct vi_sync *y, uint32_t sid);
/* Append a piece of the current view, leaving out the interrupt range; false when out of memory. */
bool vi_sync_add_piece(struct vi_sync *y, uint64_t iova, uint64_t last, uint64_t out,
		       uint32_t perm);
/* Diff [a, b] of @as against the view and tell the MAP consumers of @sid what changed. */
void vi_sync_as_run(struct vi_sync *y, uint32_t sid, struct vi_sync_as *as, uint64_t a, uint64_t b);
/* Sync one requester for an invalidation of [first, last], limited to domain @did if @domain. */
void vi_sync_sid(struct vi_sync *y, uint32_t sid, bool domain, uint32_t did, uint64_t first,
		 uint64_t last);
/* Mark every requester a consumer names; true when one listens to every requester. */
bool vi_sync_mark_listeners(struct vi_sync *y);
/* Sync every requester marked seen. */
void vi_sync_seen(struct vi_sync *y, bool domain, uint32_t did, uint64_t first, uint64_t last);
/* Replay to new MAP consumer @n the records of requesters lo..hi marked seen. */
int vi_sync_replay(struct vi_sync *y, struct viommu_notifier *n, uint32_t lo, uint32_t hi);

#endif
