// SPDX-License-Identifier: MIT
/*
 * MAP/UNMAP consumers. Calgary has no caching mode: the model tells consumers what the table
 * holds whenever it learns of a change (a hypercall, a TCE write the VMM trapped), and at each
 * blast UNMAP of everything, followed for MAP consumers by MAP of what the table holds. Every device on a PHB's bus shares its table, so an event goes to
 * each notifier of that bus with the notifier's own requester id (bus << 8 for one listening to
 * every requester).
 */
#include "calgary_internal.h"

#define EV_MAP_UNMAP (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP)
/* Entries read from the table per guest-memory transfer. */
#define NOTIFY_CHUNK 512

/* The requester id an event of @p's bus carries to @n; false when @n is not on that bus. */
static bool sid_for(const struct cal_phb *p, const struct viommu_notifier *n, uint32_t *sid)
{
	if (n->sid == VIOMMU_SID_ANY)
		*sid = p->bus << 8;
	else if (n->sid <= 0xffff && (n->sid >> 8) == p->bus)
		*sid = n->sid;
	else
		return false;
	return true;
}

static void send(struct calgary *s, struct cal_phb *p, struct viommu_event *ev)
{
	struct viommu_notifier *n, *next;

	if (ev->type == VIOMMU_EV_MAP)
		s->st.notify_map++;
	else
		s->st.notify_unmap++;
	/* A callback may delete its own notifier: fetch the successor first. */
	for (n = s->v.notifiers; n; n = next) {
		next = n->next;
		if (sid_for(p, n, &ev->sid))
			vi_notifier_send_one(n, ev);
	}
}

static void map_runs(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n,
		     struct viommu_notifier *only, uint32_t sid);

/*
 * The events of one guest action (a trapped TCE write, a hypercall, a blast) are out: consumers
 * that batch (a shadow engine) apply them now, before the guest goes on.
 */
static void barrier(struct calgary *s, struct cal_phb *p, uint64_t iova, uint64_t last)
{
	struct viommu_notifier *n, *next;
	struct viommu_event ev = { .type = VIOMMU_EV_SYNC, .iova = iova, .last = last };

	if (!vi_notify_wanted(&s->v, VIOMMU_EV_SYNC))
		return;
	for (n = s->v.notifiers; n; n = next) {
		next = n->next;
		if (sid_for(p, n, &ev.sid))
			vi_notifier_send_one(n, &ev);
	}
}

/*
 * An effective blast: every consumer of the bus hears UNMAP of everything (a translation cache
 * behind the model, such as a device IOTLB, must drop what it holds). A MAP consumer (a shadow)
 * then hears MAP of every valid TCE in the table: the scan at blast that keeps it right when
 * nobody traps the table writes.
 */
void vi_cal_notify_blast(struct calgary *s, struct cal_phb *p)
{
	struct viommu_notifier *n, *next;

	if (!vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	for (n = s->v.notifiers; n; n = next) {
		struct viommu_event ev = { .type = VIOMMU_EV_UNMAP, .iova = 0, .last = UINT64_MAX };

		next = n->next;
		if (!sid_for(p, n, &ev.sid) || !(n->events & EV_MAP_UNMAP))
			continue;
		if (n->events & VIOMMU_EV_UNMAP) {
			s->st.notify_unmap++;
			vi_notifier_send_one(n, &ev);
		}
		if ((n->events & VIOMMU_EV_MAP) && (p->config_rw & VIOMMU_CALGARY_PHB_TCE_ENABLE))
			map_runs(s, p, 0, p->entries, n, ev.sid);
	}
	barrier(s, p, 0, UINT64_MAX);
}

/* A run of pages mapping contiguously with the same rights, being built. */
struct run {
	bool open;
	uint64_t first, next_out;
	struct viommu_event ev;
};

static void run_close(struct calgary *s, struct cal_phb *p, struct run *r, void *only)
{
	if (!r->open)
		return;
	r->open = false;
	if (only) {
		s->st.notify_map++;
		vi_notifier_send_one(only, &r->ev);
	} else
		send(s, p, &r->ev);
}

static void run_add(struct calgary *s, struct cal_phb *p, struct run *r, uint64_t pg, uint64_t tce,
		    void *only)
{
	uint32_t perm = (tce & VIOMMU_TCE_READ ? VIOMMU_ACC_READ | VIOMMU_ACC_EXEC : 0) |
			(tce & VIOMMU_TCE_WRITE ? VIOMMU_ACC_WRITE : 0);
	uint64_t out = tce & VIOMMU_TCE_RPN_MASK;

	if (r->open && r->ev.last + 1 == pg << 12 && r->next_out == out && r->ev.perm == perm) {
		r->ev.last += 4096;
		r->next_out += 4096;
		return;
	}
	run_close(s, p, r, only);
	r->open = true;
	r->next_out = out + 4096;
	r->ev = (struct viommu_event){ .type = VIOMMU_EV_MAP,
				       .iova = pg << 12,
				       .last = (pg << 12) + 4095,
				       .out = out,
				       .perm = perm };
}

/*
 * MAP events for the valid TCEs of pages [first, first + n) as the table holds them, to every
 * consumer of @p's bus, or to @only (with its requester id in @sid).
 */
static void map_runs(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n,
		     struct viommu_notifier *only, uint32_t sid)
{
	/* Scans are bounded by the table: at most 1 Mi entries, in 512-entry reads. */
	uint64_t be[NOTIFY_CHUNK];
	struct run r = { .open = false };

	for (uint64_t done = 0; done < n;) {
		uint64_t k = n - done < NOTIFY_CHUNK ? n - done : NOTIFY_CHUNK;

		/* A table outside memory translates nothing there. */
		if (vi_read(&s->v.host, p->pt.root + 8 * (first + done), be, 8 * k)) {
			run_close(s, p, &r, only);
			done += k;
			continue;
		}
		for (uint64_t i = 0; i < k; i++) {
			uint64_t tce = __builtin_bswap64(vi_le64(be[i]));

			if (vi_cal_tce_ok(s, tce)) {
				run_add(s, p, &r, first + done + i, tce, only);
				r.ev.sid = sid;
			} else {
				run_close(s, p, &r, only);
			}
		}
		done += k;
	}
	run_close(s, p, &r, only);
}

void vi_cal_notify_range(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n)
{
	struct viommu_event ev = { .type = VIOMMU_EV_UNMAP };

	if (!n || !vi_notify_wanted(&s->v, EV_MAP_UNMAP))
		return;
	ev.iova = first << 12;
	ev.last = ((first + n) << 12) - 1;
	if (vi_notify_wanted(&s->v, VIOMMU_EV_UNMAP))
		send(s, p, &ev);
	if (vi_notify_wanted(&s->v, VIOMMU_EV_MAP) &&
	    (p->config_rw & VIOMMU_CALGARY_PHB_TCE_ENABLE))
		map_runs(s, p, first, n, NULL, 0);
	barrier(s, p, ev.iova, ev.last);
}

int viommu_calgary_tce_written(struct viommu *v, uint64_t gpa, uint64_t len)
{
	struct calgary *s = cal_of(v);

	if (!s || !len || !vi_range_ok(gpa, len))
		return s && !len ? 0 : VIOMMU_EINVAL;
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		struct cal_phb *p = &s->phb[i];
		uint64_t base = p->pt.root, last = base + 8 * p->entries - 1, a, b;

		if (!p->tar_written || !vi_range_overlaps(gpa, len, base, last))
			continue;
		a = gpa > base ? (gpa - base) / 8 : 0;
		b = (gpa + (len - 1) < last ? gpa + (len - 1) - base : last - base) / 8;
		s->st.trapped_tces += b - a + 1;
		vi_cal_notify_range(s, p, a, b - a + 1);
	}
	return 0;
}

int vi_cal_replay(struct viommu *v, struct viommu_notifier *n)
{
	struct calgary *s = to_cal(v);

	if (!(n->events & VIOMMU_EV_MAP))
		return 0;
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		struct cal_phb *p = &s->phb[i];
		uint32_t sid;

		if (!p->tar_written || !(p->config_rw & VIOMMU_CALGARY_PHB_TCE_ENABLE) ||
		    !sid_for(p, n, &sid))
			continue;
		map_runs(s, p, 0, p->entries, n, sid);
	}
	return 0;
}
