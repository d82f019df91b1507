// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "nested": the NIC is assigned to an L2 guest through its L1 hypervisor
 * (seed 004's nested setup). Three levels, each with real code:
 *  - L2: the simulated guest and its vIOMMU (the scenario's model, VT-d in caching mode for
 *    seed 004), emulated by L1's VMM; every trapped register access of L2 is an L2 exit that L0
 *    reflects to L1's VMM (exit.l2_user);
 *  - L1's VMM shadows L2's vIOMMU with the library's shadow engine into L1's own vIOMMU, through
 *    the nesting back-end (guest/shadow_nest.c: L1's VT-d driver, 4 KiB pages, one queued
 *    submission per batch); each host call is one VFIO ioctl into L1's kernel (l1.*), and L1's
 *    invalidations are ordinary L1 exits to L0's VMM (a VT-d unit in caching mode that L0
 *    emulates);
 *  - L0's VMM shadows L1's vIOMMU with a second engine into the host IOMMU (the in-process host
 *    page table with superpages, as VFIO type1 maps), as the assigned placement does.
 * The device's DMA goes through the host IOMMU only: L2 IOVA -> host address, which is L1's
 * guest-physical address of L2's RAM. Host-call counts at both levels are the engines' own.
 */
#include <stdlib.h>

#include <viommu/shadow.h>
#include <viommu/vtd.h>

#include "engine_internal.h"
#include "shadow_nest.h"
#include "vtd_driver.h"

/* L1's guest-physical memory: its vIOMMU tables and queues, then L2's RAM. */
#define L1_ARENA_SIZE (16 * MiB)
#define L2_IN_L1 (1ull << 30) /* L1's guest-physical address of L2's RAM */
#define L1_DID 1

struct nested {
	/* L1: its memory (tables only; L2's RAM is e->mem), its VT-d unit and driver */
	struct viommu_flatmem *l1mem;
	struct viommu_host_ops l1ops; /* over l1mem, reads counted */
	uint64_t l1_reads;
	struct viommu *l1v;
	struct vg_vtd *l1d;
	struct vg_shadow_nest nest;
	/* L1's VMM: shadows L2's vIOMMU into L1's */
	struct viommu_shadow *sh1;
	struct viommu_shadow_dev *dev1;
	/* L0's VMM: shadows L1's vIOMMU into the host */
	struct viommu_shadow *sh0;
	struct viommu_shadow_dev *dev0;
	struct viommu_shadow_hostpt *hp;
	struct viommu_notifier *sync_notifier;
	int shadow_err;
};

static ssize_t l1_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct nested *n = opaque;

	n->l1_reads++;
	return viommu_flatmem_ops()->dma_read(n->l1mem, gpa, buf, len);
}

static ssize_t l1_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct nested *n = opaque;

	return viommu_flatmem_ops()->dma_write(n->l1mem, gpa, buf, len);
}

/* L1's VMM: L2's RAM sits at L2_IN_L1 in L1's guest-physical space. */
static int l2_to_l1(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa >= RAM_SIZE) {
		*seg = len;
		return VIOMMU_EFAULT;
	}
	*host = L2_IN_L1 + gpa;
	*seg = RAM_SIZE - gpa < len ? RAM_SIZE - gpa : len;
	return 0;
}

/* L0's VMM: host address = L1 guest-physical address, for L1's RAM only. */
static int l1_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa < L2_IN_L1 || gpa >= L2_IN_L1 + RAM_SIZE) {
		/* L1's own tables are RAM too, but no shadowed mapping may point there */
		*seg = gpa < L2_IN_L1 && L2_IN_L1 - gpa < len ? L2_IN_L1 - gpa : len;
		return VIOMMU_EFAULT;
	}
	*host = gpa;
	*seg = L2_IN_L1 + RAM_SIZE - gpa < len ? L2_IN_L1 + RAM_SIZE - gpa : len;
	return 0;
}

static void on_error(void *opaque, const struct viommu_shadow_error *err)
{
	struct nested *n = opaque;

	if (!n->shadow_err)
		n->shadow_err = err->code ? err->code : VIOMMU_EIO;
}

/* Both engines' host calls, L1's vIOMMU traps, and the host IOTLB's invalidations. */
static void take_counts(struct eng *e)
{
	struct nested *n = e->place;
	struct viommu_shadow_stats s1, s0;
	struct viommu_shadow_hostpt_stats hs;
	struct viommu_vtd_stats vs;

	viommu_shadow_get_stats(n->sh0, &s0);
	viommu_shadow_hostpt_get_stats(n->hp, &hs);
	e->vfio_maps = s0.map_calls;
	e->vfio_map_pages = s0.map_pages;
	e->vfio_unmaps = s0.unmap_calls;
	e->vfio_unmap_pages = s0.unmap_pages;
	e->hw_inv = hs.iotlb_invalidations;
	if (n->sh1) {
		viommu_shadow_get_stats(n->sh1, &s1);
		e->l1_maps = s1.map_calls;
		e->l1_map_pages = s1.map_pages;
		e->l1_unmaps = s1.unmap_calls;
		e->l1_unmap_pages = s1.unmap_pages;
	}
	viommu_vtd_get_stats(n->l1v, &vs);
	e->l1_exits = vs.mmio_reads + vs.mmio_writes;
	e->l1_ops =
		vs.mmio_writes + vs.qi_cc + vs.qi_iotlb + vs.qi_dev_iotlb + vs.qi_iec + vs.qi_wait;
	e->l1_reads = n->l1_reads;
}

/* Subscribed on L2's vIOMMU after L1's engine: both levels are done when this runs. */
static void on_sync(void *opaque, const struct viommu_event *ev)
{
	(void)ev;
	take_counts(opaque);
}

/* L1 boots with a VT-d unit in caching mode (L0 emulates it) and attaches the NIC to a domain. */
static int l1_setup(struct nested *n)
{
	struct viommu_vtd_config vc;
	struct vg_vtd_config dc = { 0 };
	int ret;

	ret = viommu_flatmem_create(0, L1_ARENA_SIZE, &n->l1mem);
	if (ret)
		return ret;
	n->l1ops.dma_read = l1_read;
	n->l1ops.dma_write = l1_write;
	viommu_vtd_config_init(&vc);
	vc.flags |= VIOMMU_VTD_CM;
	ret = viommu_vtd_create(&vc, &n->l1ops, n, &n->l1v);
	if (ret)
		return ret;
	dc.iommu = n->l1v;
	dc.mem = n->l1mem;
	dc.pool_base = 0;
	dc.pool_size = L1_ARENA_SIZE;
	dc.no_superpages = true; /* the nesting back-end unmaps any page range */
	ret = vg_vtd_create(&dc, &n->l1d);
	if (!ret)
		ret = vg_vtd_enable(n->l1d);
	if (!ret)
		ret = vg_vtd_attach(n->l1d, SID, L1_DID, false);
	n->nest = (struct vg_shadow_nest){ .d = n->l1d, .did = L1_DID };
	return ret;
}

static int nested_setup(struct eng *e)
{
	uint32_t entries = (uint32_t)sim_cost(e->c, SIM_COST_HW_IOTLB_ENTRIES);
	struct nested *n = calloc(1, sizeof(*n));
	struct viommu_shadow_config sc;
	int ret;

	if (!n)
		return VIOMMU_ENOMEM;
	e->place = n;
	ret = l1_setup(n);
	if (ret)
		return ret;
	ret = viommu_shadow_hostpt_create(true, entries, &n->hp);
	if (ret)
		return ret;
	/* L0's VMM: the assigned placement's engine, fed by L1's vIOMMU. */
	viommu_shadow_config_init(&sc);
	sc.max_mappings = 0;
	sc.gpa_to_host = l1_to_host;
	sc.error = on_error;
	sc.opaque = n;
	ret = viommu_shadow_create(&sc, &n->sh0);
	if (!ret)
		ret = viommu_shadow_attach(n->sh0, n->l1v, SID, 0, false,
					   viommu_shadow_hostpt_ops(n->hp), n->hp, &n->dev0);
	if (ret)
		return ret;
	if (!e->v) {
		/* No vIOMMU in L2: L1's VFIO maps all of L2's RAM once, when L2 starts. */
		const struct viommu_shadow_host_ops *ops = vg_shadow_nest_ops();

		ret = ops->map(&n->nest, 0, RAM_SIZE, L2_IN_L1, VIOMMU_ACC_RW);
		if (!ret)
			ret = ops->commit(&n->nest);
		if (!ret)
			take_counts(e);
		return ret ? ret : n->shadow_err;
	}
	/*
	 * L1's VMM: its real host is VFIO type1 in L1's kernel, which cannot split mappings, so the
	 * engine merges nothing there (what the default policy does for a type1 host); the nesting
	 * back-end stands for type1 and L1's intel-iommu programming L1's vIOMMU.
	 */
	sc.gpa_to_host = l2_to_l1;
	sc.coalesce = VIOMMU_SHADOW_COALESCE_OFF;
	ret = viommu_shadow_create(&sc, &n->sh1);
	if (!ret)
		ret = viommu_shadow_attach(n->sh1, e->v, SID, 0, false, vg_shadow_nest_ops(),
					   &n->nest, &n->dev1);
	if (!ret)
		ret = viommu_notifier_add(e->v, SID, VIOMMU_EV_SYNC, on_sync, e, &n->sync_notifier);
	if (!ret)
		take_counts(e);
	return ret ? ret : n->shadow_err;
}

/* The device's DMA through the host IOMMU: one IOTLB lookup per 4 KiB page touched. */
static int nested_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		      uint64_t *len)
{
	struct nested *n = e->place;
	uint64_t hpa;
	uint32_t perm;
	bool hit;

	if (viommu_shadow_hostpt_translate(n->hp, iova, acc, &hpa, &perm, &hit))
		return VIOMMU_EFAULT;
	acct(e, SIM_RES_DEV, hit ? SIM_EV_HW_HIT : SIM_EV_HW_MISS, 1);
	/* Only L2's RAM may be reached: anything else is a composition bug. */
	if (hpa < L2_IN_L1 || hpa >= L2_IN_L1 + RAM_SIZE)
		return VIOMMU_EFAULT;
	return sim_eng_guest_range(e, hpa - L2_IN_L1, PAGE - (iova & (PAGE - 1)), want, host, len);
}

static int nested_unit_end(struct eng *e)
{
	struct nested *n = e->place;

	if (!n)
		return 0;
	if (n->sh0)
		take_counts(e);
	return n->shadow_err;
}

static void nested_fini(struct eng *e)
{
	struct nested *n = e->place;

	if (!n)
		return;
	if (n->sync_notifier)
		viommu_notifier_del(e->v, n->sync_notifier);
	viommu_shadow_destroy(n->sh1);
	viommu_shadow_destroy(n->sh0);
	viommu_shadow_hostpt_destroy(n->hp);
	vg_vtd_destroy(n->l1d);
	viommu_destroy(n->l1v);
	viommu_flatmem_destroy(n->l1mem);
	free(n);
	e->place = NULL;
}

/*
 * As assigned, but L2's traps are L2 exits handled by L1's VMM, and the NIC's interrupt, posted
 * to L1's vCPU while it runs L2, is an L2 exit to L1's kernel, which injects it into L2.
 */
const struct sim_place_ops sim_place_nested = {
	.name = "nested",
	.backend = SIM_RES_DEV,
	.kick_exits = false,
	.irq = SIM_EV_IRQ_L2,
	.backend_work = false,
	.backend_syscall = false,
	.needs_map_events = true,
	.l2_traps = true,
	.setup = nested_setup,
	.fini = nested_fini,
	.dma = nested_dma,
	.unit_end = nested_unit_end,
};
