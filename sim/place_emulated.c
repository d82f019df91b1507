// SPDX-License-Identifier: MIT
/*
 * viommu-sim placement "emulated": the device is emulated in the VMM, which translates every DMA
 * on its own path with viommu_translate(); see engine_internal.h.
 */
#include "engine_internal.h"

/* Without a vIOMMU, device addresses are guest-physical. */
static int emulated_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
			uint64_t *len)
{
	uint64_t gpa = iova, n = want;

	if (e->v) {
		struct viommu_xlate_req rq = {
			.sid = SID, .iova = iova, .len = want, .access = acc
		};
		struct viommu_xlate_result rs;
		uint64_t reads = sim_iommu_reads(e->iommu);

		if (viommu_translate(e->v, &rq, &rs) || !viommu_xlate_ok(&rs))
			return VIOMMU_EFAULT;
		acct(e, e->be, SIM_EV_WALK_READ, (double)(sim_iommu_reads(e->iommu) - reads));
		gpa = rs.out;
		n = rs.len < want ? rs.len : want;
	}
	return sim_eng_guest_range(e, gpa, n, want, host, len);
}

const struct sim_place_ops sim_place_emulated = {
	.name = "emulated",
	.backend = SIM_RES_VMM,
	.kick_exits = true,
	.irq = SIM_EV_IRQ_EXIT,
	.backend_work = true,
	.backend_syscall = true,
	.dma = emulated_dma,
};
