// SPDX-License-Identifier: MIT
/*
 * viommu-sim placements of seed 003 (the Calgary evaluation, OLS'07 and the Xen Summit talk): a
 * real NIC behind a real IOMMU that software drives itself, nothing trapped.
 *  - baremetal: the OS's own Calgary driver: TCE stores (each with its cache-line flush) and the
 *    blast's register accesses on its CPU; or its VT-d driver (ATC'11's and Linux 5e0d2a6fc0's
 *    bare metal): page-table updates, queued invalidations whose wait the CPU spins on;
 *  - dom0: direct access, a dom0-like domain owning the NIC whose DMA API makes Xen's IOMMU
 *    map/unmap hypercalls, Xen writing the TCEs and blasting on the same CPU;
 *  - domU: a domU's netfront through a driver domain's netback (grant map and unmap of every
 *    page, event-channel notifications both ways), the driver domain's DMA API making the
 *    hypercalls: its CPU is the backend resource;
 *  - domU-grant: as domU with grant-table integration: Xen maps the granted page in the IOMMU
 *    within the grant op, so the DMA API makes no crossing of its own.
 * The device translates through the model itself (its TCE cache is the chip's); the engine
 * charges the CPU's work (engine.c, guest_phase_end(), backend_pkt()).
 */
#include "engine_internal.h"

/* The chip's translation, one lookup per 4 KiB page; without an IOMMU, DMA addresses are GPAs. */
static int native_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		      uint64_t *len)
{
	if (!e->v)
		return sim_eng_guest_range(e, iova, want, want, host, len);
	/* A miss is a TCE read from the table. */
	return sim_eng_hw_dma(e, iova, want, acc, false, host, len);
}

const struct sim_place_ops sim_place_baremetal = {
	.name = "baremetal",
	.backend = SIM_RES_DEV,
	.irq = SIM_EV_IRQ_POSTED, /* a native interrupt: its handling is in the stack's costs */
	.cpu_iommu = true,
	.dma = native_dma,
};

const struct sim_place_ops sim_place_dom0 = {
	.name = "dom0",
	.backend = SIM_RES_DEV,
	.irq = SIM_EV_IRQ_POSTED,
	.cpu_iommu = true,
	.hypercalls = true,
	.dma = native_dma,
};

/* netback handles every packet (grant ops, hand-off to the NIC driver) on the driver domain. */
const struct sim_place_ops sim_place_domu = {
	.name = "domU",
	.backend = SIM_RES_BACKEND,
	.irq = SIM_EV_IRQ_POSTED, /* an event-channel upcall; the notify is charged as a hypercall */
	.backend_work = true,
	.cpu_iommu = true,
	.hypercalls = true,
	.dma_in_backend = true,
	.grant_ops = true,
	.dma = native_dma,
};

const struct sim_place_ops sim_place_domu_grant = {
	.name = "domU-grant",
	.backend = SIM_RES_BACKEND,
	.irq = SIM_EV_IRQ_POSTED,
	.backend_work = true,
	.cpu_iommu = true,
	.hypercalls = true,
	.dma_in_backend = true,
	.grant_ops = true,
	.grant_iommu = true,
	.dma = native_dma,
};
