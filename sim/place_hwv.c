// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "hwviommu": an assigned device behind AMD's hardware-assisted vIOMMU
 * (seed 001; the library's model of it: <viommu/amdvi_hwv.h>, struct viommu_amdvi_hwv_stats).
 * The host's v1 table maps all guest RAM once, when the VM starts (the nest parent), and the
 * IOMMU walks the guest's own v2 table nested over it, so no guest map is shadowed and no VFIO
 * call follows one. The guest's pointer page (command-buffer tail and head, status) is mapped
 * into the guest and its commands are fetched and run by the IOMMU: no exit, no VMM work; only
 * the control page and device-table writes trap (engine.c, guest_phase_end()). The device's DMA
 * goes through the IOMMU's IOTLB (the model's, sized as the host's: eng_init()); a miss walks
 * the guest's tables, each of their reads through the host table: a nested (2D) walk.
 */
#include "engine_internal.h"

/* Without a vIOMMU this is the assigned placement's host table over all guest RAM. */
static int hwv_setup(struct eng *e)
{
	return e->v ? 0 : sim_assigned_setup(e);
}

static int hwv_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		   uint64_t *len)
{
	if (!e->v)
		return sim_assigned_dma(e, iova, want, acc, host, len);
	/*
	 * One lookup per 4 KiB page, as the assigned placement's device asks; a miss walks the
	 * guest's tables through the host's. The host stage: guest RAM at SPA = GPA, mapped whole
	 * at VM start.
	 */
	return sim_eng_hw_dma(e, iova, want, acc, true, host, len);
}

static void hwv_fini(struct eng *e)
{
	if (e->place)
		sim_assigned_fini(e);
}

/* As the assigned placement for the device; the vIOMMU is the hardware's (hw_viommu). */
const struct sim_place_ops sim_place_hwviommu = {
	.name = "hwviommu",
	.backend = SIM_RES_DEV,
	.kick_exits = false,
	.irq = SIM_EV_IRQ_POSTED,
	.backend_work = false,
	.backend_syscall = false,
	.needs_map_events = false,
	.hw_viommu = true,
	.setup = hwv_setup,
	.fini = hwv_fini,
	.dma = hwv_dma,
	.unit_end = sim_assigned_unit_end,
};
