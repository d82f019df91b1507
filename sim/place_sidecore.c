// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "sidecore": the NIC is assigned (its host IOMMU kept in sync by the
 * shadow engine, as in place_assigned.c), and the vIOMMU is emulated by a side core that polls
 * the guest's vIOMMU registers and command structures, as ATC'11's sidecore vIOMMU does: the
 * guest's register writes and queue kicks are ordinary stores to memory the side core watches, so
 * they do not exit. The side core's work (descriptors, walks, VFIO calls) is its own thread's; the
 * vCPU spins on the completion of every synchronous operation meanwhile, and each hand-over of a
 * written line between the two cores is a cache-line transfer (engine.c, guest_phase_end()).
 */
#include "engine_internal.h"

const struct sim_place_ops sim_place_sidecore = {
	.name = "sidecore",
	.backend = SIM_RES_DEV,
	.kick_exits = false,
	.irq = SIM_EV_IRQ_POSTED,
	.backend_work = false,
	.backend_syscall = false,
	.needs_map_events = true,
	.side_iommu = true,
	.setup = sim_assigned_setup,
	.fini = sim_assigned_fini,
	.dma = sim_assigned_dma,
	.unit_end = sim_assigned_unit_end,
};
