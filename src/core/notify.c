// SPDX-License-Identifier: MIT
/*
 * MAP/UNMAP notifiers: how a model tells its consumers (device IOTLB, shadow sync) that
 * translations appeared or went away.
 */
#include <stdlib.h>

#include "core.h"

#define VI_EV_ALL (VIOMMU_EV_MAP | VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP | VIOMMU_EV_SYNC)

static void recompute_mask(struct viommu *v)
{
	uint32_t mask = 0;

	for (struct viommu_notifier *n = v->notifiers; n; n = n->next)
		mask |= n->events;
	v->notify_mask = mask;
}

int viommu_notifier_add(struct viommu *v, uint32_t sid, uint32_t events, viommu_notify_fn fn,
			void *opaque, struct viommu_notifier **out)
{
	struct viommu_notifier *n;

	if (!v || !fn || !out || !events || (events & ~VI_EV_ALL))
		return VIOMMU_EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return VIOMMU_ENOMEM;
	n->sid = sid;
	n->events = events;
	n->fn = fn;
	n->opaque = opaque;
	/* Append, so that consumers are told in the order they subscribed. */
	struct viommu_notifier **pp = &v->notifiers;

	while (*pp)
		pp = &(*pp)->next;
	*pp = n;
	v->notify_mask |= events;
	*out = n;
	return 0;
}

void viommu_notifier_del(struct viommu *v, struct viommu_notifier *n)
{
	if (!v || !n)
		return;
	for (struct viommu_notifier **pp = &v->notifiers; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			free(n);
			recompute_mask(v);
			return;
		}
	}
}

void vi_notifier_send_one(struct viommu_notifier *n, const struct viommu_event *ev)
{
	if (!(n->events & ev->type))
		return;
	if (n->sid != VIOMMU_SID_ANY && ev->sid != VIOMMU_SID_ANY && n->sid != ev->sid)
		return;
	n->fn(n->opaque, ev);
}

void vi_notify(struct viommu *v, const struct viommu_event *ev)
{
	struct viommu_notifier *n, *next;

	if (!vi_notify_wanted(v, ev->type))
		return;
	/* A callback may delete its own notifier; fetch the successor first. */
	for (n = v->notifiers; n; n = next) {
		next = n->next;
		vi_notifier_send_one(n, ev);
	}
}

int viommu_notifier_replay(struct viommu *v, struct viommu_notifier *n)
{
	if (!v || !n)
		return VIOMMU_EINVAL;
	if (!v->ops->replay)
		return VIOMMU_ENOTSUP;
	return v->ops->replay(v, n);
}
