// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "assigned": real hardware behind the host IOMMU, which the VMM keeps in
 * sync with the guest's mappings (VFIO MAP/UNMAP_DMA on the model's MAP/UNMAP events); the
 * device's DMA goes through the host IOMMU's IOTLB and, on a miss, a walk of the host page table
 * through a walker and a plan. See engine_internal.h.
 */
#include <stdlib.h>

#include <viommu/iotlb.h>
#include <viommu/pt.h>

#include "engine_internal.h"

#define HOST_MEM (16 * MiB) /* host IOMMU page tables of an assigned device */

/* The host IOMMU (page table in host memory, IOTLB) of an assigned device. */
struct assigned {
	struct viommu_flatmem *hostmem;
	uint64_t host_bump;
	uint64_t *host_free;
	size_t host_nfree, host_capfree;
	struct viommu_pt *hpt;
	struct viommu_pt_walker *hwalker; /* the host IOMMU's walks: its tables, compiled once */
	struct viommu_pt_plan *hplan;
	struct viommu_iotlb *hwtlb;
	struct viommu_notifier *shadow_notifier;
	int shadow_err;
};

static int host_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	struct assigned *a = opaque;

	if (size == PAGE && a->host_nfree) {
		*gpa = a->host_free[--a->host_nfree];
		return 0;
	}
	a->host_bump = (a->host_bump + size - 1) & ~(size - 1);
	if (a->host_bump + size > HOST_MEM)
		return VIOMMU_ENOMEM;
	*gpa = a->host_bump;
	a->host_bump += size;
	return 0;
}

static void host_free(void *opaque, uint64_t gpa, uint64_t size)
{
	struct assigned *a = opaque;

	if (size != PAGE)
		return;
	if (a->host_nfree == a->host_capfree) {
		size_t cap = a->host_capfree ? a->host_capfree * 2 : 256;
		uint64_t *p = realloc(a->host_free, cap * sizeof(*p));

		if (!p)
			return;
		a->host_free = p;
		a->host_capfree = cap;
	}
	a->host_free[a->host_nfree++] = gpa;
}

static const struct viommu_pt_alloc_ops host_alloc_ops = { host_alloc, host_free };

/* VFIO_IOMMU_MAP_DMA / UNMAP_DMA issued by the VMM for one MAP/UNMAP event. */
static void shadow_event(void *opaque, const struct viommu_event *ev)
{
	struct eng *e = opaque;
	struct assigned *a = e->place;
	uint64_t last = ev->last > (1ull << 48) - 1 ? (1ull << 48) - 1 : ev->last;
	uint64_t size = last - ev->iova + 1, unmapped = 0;
	struct viommu_iotlb_inval inv = {
		.match = VIOMMU_IOTLB_MATCH_SID | VIOMMU_IOTLB_MATCH_ADDR,
		.tag = { .sid = SID },
		.first = ev->iova,
		.last = last,
	};
	int ret;

	if (ev->iova > last)
		return;
	if (ev->type == VIOMMU_EV_MAP) {
		ret = viommu_pt_map(a->hpt, ev->iova, ev->out, size, ev->perm & VIOMMU_ACC_RW, 0);
		if (ret && !a->shadow_err)
			a->shadow_err = ret;
		e->vfio_maps++;
		e->vfio_map_pages += size / PAGE;
		return;
	}
	ret = viommu_pt_unmap(a->hpt, ev->iova, size, &unmapped);
	if (ret && !a->shadow_err)
		a->shadow_err = ret;
	/* type1 unmaps what it has; a range with nothing in it costs the call only. */
	e->vfio_unmaps++;
	e->vfio_unmap_pages += unmapped / PAGE;
	if (unmapped) {
		viommu_iotlb_invalidate(a->hwtlb, &inv);
		e->hw_inv++;
	}
}

static int assigned_setup(struct eng *e)
{
	struct viommu_pt_cfg pc = {
		.format = VIOMMU_PT_VTD_SL,
		.levels = 4,
		.flags = VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_SP_1G,
	};
	struct viommu_iotlb_config tc = { .capacity = 1, .ways = 1 };
	uint32_t entries = (uint32_t)sim_cost(e->c, SIM_COST_HW_IOTLB_ENTRIES);
	struct assigned *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return VIOMMU_ENOMEM;
	e->place = a;

	while (tc.capacity < entries && tc.capacity < (1u << 20))
		tc.capacity <<= 1;
	tc.ways = tc.capacity >= 8 ? 8 : tc.capacity;
	a->host_bump = PAGE;
	ret = viommu_flatmem_create(0, HOST_MEM, &a->hostmem);
	if (!ret)
		ret = viommu_pt_create(&pc, viommu_flatmem_ops(), a->hostmem, &host_alloc_ops, a,
				       &a->hpt);
	if (!ret)
		ret = viommu_iotlb_create(&tc, &a->hwtlb);
	if (!ret)
		ret = viommu_pt_walker_create(viommu_flatmem_ops(), a->hostmem, &a->hwalker);
	if (!ret)
		ret = viommu_pt_plan_create(viommu_pt_get_cfg(a->hpt), &a->hplan);
	if (ret)
		return ret;
	if (!e->v) {
		/* No vIOMMU: VFIO maps all guest RAM once, when the VM starts. */
		return viommu_pt_map(a->hpt, 0, 0, RAM_SIZE, VIOMMU_ACC_RW, 0);
	}
	return viommu_notifier_add(e->v, SID, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, shadow_event, e,
				   &a->shadow_notifier);
}

/* The device's DMA through the host IOMMU: one IOTLB lookup per 4 KiB page touched. */
static int hw_translate(struct eng *e, uint64_t iova, uint32_t acc, uint64_t *gpa, uint64_t *len)
{
	struct assigned *a = e->place;
	struct viommu_iotlb_tag tag = { .sid = SID };
	struct viommu_iotlb_entry te;
	uint64_t mask;

	if (viommu_iotlb_lookup(a->hwtlb, &tag, iova, &te) == 0 && (te.perm & acc) == acc) {
		acct(e, SIM_RES_DEV, SIM_EV_HW_HIT, 1);
	} else {
		struct viommu_pt_walk_result wr;

		if (viommu_pt_walker_walk_plan(a->hwalker, a->hplan, iova, acc, &wr) ||
		    wr.fault != VIOMMU_FAULT_NONE)
			return VIOMMU_EFAULT;
		te = (struct viommu_iotlb_entry){ .tag = tag,
						  .iova = iova,
						  .out = wr.out,
						  .shift = (uint8_t)wr.page_shift,
						  .perm = (uint8_t)wr.perm };
		te.out &= ~((1ull << wr.page_shift) - 1);
		te.iova &= ~((1ull << wr.page_shift) - 1);
		viommu_iotlb_insert(a->hwtlb, &te);
		acct(e, SIM_RES_DEV, SIM_EV_HW_MISS, 1);
	}
	mask = (1ull << te.shift) - 1;
	*gpa = te.out + (iova & mask);
	/* One lookup per 4 KiB page: the device asks per page whatever the mapping size. */
	*len = PAGE - (iova & (PAGE - 1));
	return 0;
}

static int assigned_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
			uint64_t *len)
{
	uint64_t gpa, n;
	int ret = hw_translate(e, iova, acc, &gpa, &n);

	if (ret)
		return ret;
	return sim_eng_guest_range(e, gpa, n, want, host, len);
}

static int assigned_unit_end(struct eng *e)
{
	struct assigned *a = e->place;

	return a ? a->shadow_err : 0;
}

static void assigned_fini(struct eng *e)
{
	struct assigned *a = e->place;

	if (!a)
		return;
	if (a->shadow_notifier)
		viommu_notifier_del(e->v, a->shadow_notifier);
	viommu_iotlb_destroy(a->hwtlb);
	viommu_pt_plan_destroy(a->hplan);
	viommu_pt_walker_destroy(a->hwalker);
	viommu_pt_destroy(a->hpt);
	viommu_flatmem_destroy(a->hostmem);
	free(a->host_free);
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
	.setup = assigned_setup,
	.fini = assigned_fini,
	.dma = assigned_dma,
	.unit_end = assigned_unit_end,
};
