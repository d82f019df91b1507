// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "assigned": real hardware behind the host IOMMU, which the VMM keeps in
 * sync with the guest's mappings through the library's shadow engine (src/shadow: the model's
 * MAP/UNMAP events and barriers become VFIO MAP/UNMAP_DMA calls, counted by the engine) over the
 * library's in-process host IOMMU (a host page table and IOTLB); the device's DMA goes through
 * that IOTLB and, on a miss, a walk of the host table. See engine_internal.h.
 */
#include <stdlib.h>

#include <viommu/shadow.h>

#include "engine_internal.h"

/* The host IOMMU of an assigned device, kept by the shadow engine (src/shadow). */
struct assigned {
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *dev;
	struct viommu_shadow_hostpt *hp;
	struct viommu_notifier *sync_notifier;
	int shadow_err;
};

/* The VMM's guest-memory map: guest RAM at host address = GPA (the host table's output). */
static int gpa_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa >= RAM_SIZE) {
		*seg = len;
		return VIOMMU_EFAULT;
	}
	*host = gpa;
	*seg = RAM_SIZE - gpa < len ? RAM_SIZE - gpa : len;
	return 0;
}

static void on_error(void *opaque, const struct viommu_shadow_error *err)
{
	struct assigned *a = opaque;

	if (!a->shadow_err)
		a->shadow_err = err->code ? err->code : VIOMMU_EIO;
}

/* The engine's host calls (VFIO_IOMMU_MAP/UNMAP_DMA) and the host IOTLB's invalidations. */
static void take_counts(struct eng *e)
{
	struct assigned *a = e->place;
	struct viommu_shadow_stats st;
	struct viommu_shadow_hostpt_stats hs;

	viommu_shadow_get_stats(a->sh, &st);
	viommu_shadow_hostpt_get_stats(a->hp, &hs);
	e->vfio_maps = st.map_calls;
	e->vfio_map_pages = st.map_pages;
	e->vfio_unmaps = st.unmap_calls;
	e->vfio_unmap_pages = st.unmap_pages;
	e->hw_inv = hs.iotlb_invalidations;
}

/* Subscribed after the engine: its barrier has been applied when this runs. */
static void on_sync(void *opaque, const struct viommu_event *ev)
{
	(void)ev;
	take_counts(opaque);
}

int sim_assigned_setup(struct eng *e)
{
	uint32_t entries = (uint32_t)sim_cost(e->c, SIM_COST_HW_IOTLB_ENTRIES);
	struct assigned *a = calloc(1, sizeof(*a));
	struct viommu_shadow_config sc;
	int ret;

	if (!a)
		return VIOMMU_ENOMEM;
	e->place = a;
	/* 2 MiB / 1 GiB host pages where alignment allows, as VFIO type1 maps: no splitting. */
	ret = viommu_shadow_hostpt_create(true, entries, &a->hp);
	if (ret)
		return ret;
	if (!e->v) {
		/* No vIOMMU: VFIO maps all guest RAM once, when the VM starts. */
		return viommu_shadow_hostpt_ops(a->hp)->map(a->hp, 0, RAM_SIZE, 0, VIOMMU_ACC_RW);
	}
	viommu_shadow_config_init(&sc);
	sc.max_mappings = 0; /* the simulated VMM raised type1's dma_entry_limit */
	sc.gpa_to_host = gpa_to_host;
	sc.error = on_error;
	sc.opaque = a;
	ret = viommu_shadow_create(&sc, &a->sh);
	if (!ret)
		ret = viommu_shadow_attach(a->sh, e->v, SID, 0, false,
					   viommu_shadow_hostpt_ops(a->hp), a->hp, &a->dev);
	if (!ret)
		ret = viommu_notifier_add(e->v, SID, VIOMMU_EV_SYNC, on_sync, e, &a->sync_notifier);
	if (!ret)
		take_counts(e);
	return ret;
}

/* The device's DMA through the host IOMMU: one IOTLB lookup per 4 KiB page touched. */
static int hw_translate(struct eng *e, uint64_t iova, uint32_t acc, uint64_t *gpa, uint64_t *len)
{
	struct assigned *a = e->place;
	uint32_t perm;
	bool hit;

	if (viommu_shadow_hostpt_translate(a->hp, iova, acc, gpa, &perm, &hit))
		return VIOMMU_EFAULT;
	acct(e, SIM_RES_DEV, hit ? SIM_EV_HW_HIT : SIM_EV_HW_MISS, 1);
	/* One lookup per 4 KiB page: the device asks per page whatever the mapping size. */
	*len = PAGE - (iova & (PAGE - 1));
	return 0;
}

int sim_assigned_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		     uint64_t *len)
{
	uint64_t gpa, n;
	int ret = hw_translate(e, iova, acc, &gpa, &n);

	if (ret)
		return ret;
	return sim_eng_guest_range(e, gpa, n, want, host, len);
}

int sim_assigned_unit_end(struct eng *e)
{
	struct assigned *a = e->place;

	if (!a)
		return 0;
	if (a->sh)
		take_counts(e);
	return a->shadow_err;
}

void sim_assigned_fini(struct eng *e)
{
	struct assigned *a = e->place;

	if (!a)
		return;
	if (a->sync_notifier)
		viommu_notifier_del(e->v, a->sync_notifier);
	viommu_shadow_destroy(a->sh);
	viommu_shadow_hostpt_destroy(a->hp);
	free(a);
	e->place = NULL;
}

/*
 * A doorbell in an assigned device's BAR does not trap; it gets posted interrupts; the device
 * does the back-end's work itself. The VMM can only shadow mappings it hears of.
 */
const struct sim_place_ops sim_place_assigned = {
	.name = "assigned",
	.backend = SIM_RES_DEV,
	.kick_exits = false,
	.irq = SIM_EV_IRQ_POSTED,
	.backend_work = false,
	.backend_syscall = false,
	.needs_map_events = true,
	.setup = sim_assigned_setup,
	.fini = sim_assigned_fini,
	.dma = sim_assigned_dma,
	.unit_end = sim_assigned_unit_end,
};
