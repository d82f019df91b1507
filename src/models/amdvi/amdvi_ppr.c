// SPDX-License-Identifier: MIT
/*
 * AMD-Vi peripheral page requests (2.6): a page request an ATS/PRI endpoint sends is logged in
 * the PPR log as PAGE_SERVICE_REQUEST; the guest's COMPLETE_PPR_REQUEST (2.4.7) goes back to the
 * VMM, which sends the response to the device.
 */
#include "amdvi_internal.h"

int viommu_amdvi_page_request(struct viommu *v, const struct viommu_amdvi_page_request *pr)
{
	struct amdvi *s;
	struct amdvi_log l;
	uint64_t q0, flags = 0;
	uint32_t e[4];
	int ret;

	if (!v || !pr || strcmp(viommu_model_name(v), "amdvi"))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	if (!(s->efr & VIOMMU_AMDVI_EFR_PPR_SUP))
		return VIOMMU_EINVAL;
	/* PPREn: the IOMMU accepts page requests at all. */
	if (!amdvi_enabled(s) || !(s->control & VIOMMU_AMDVI_CTRL_PPR_EN)) {
		s->st.ppr_lost++;
		return VIOMMU_EPERM;
	}
	if (pr->access & VIOMMU_ACC_EXEC)
		flags |= VIOMMU_AMDVI_PPR0_X;
	if (pr->access & VIOMMU_ACC_READ)
		flags |= VIOMMU_AMDVI_PPR0_RD;
	if (pr->access & VIOMMU_ACC_WRITE)
		flags |= VIOMMU_AMDVI_PPR0_WR;
	if (!(pr->access & VIOMMU_ACC_PRIV))
		flags |= VIOMMU_AMDVI_PPR0_US;
	q0 = (pr->devid & 0xffff) | flags |
	     VIOMMU_AMDVI_PPR0_TYPE_SET(VIOMMU_AMDVI_PPR_TYPE_PAGE_SERVICE_REQUEST) |
	     VIOMMU_AMDVI_FIELD_SET(pr->tag, 41, 32);
	if (pr->has_pasid)
		q0 |= VIOMMU_AMDVI_PPR0_GN | VIOMMU_AMDVI_FIELD_SET(pr->pasid & 0xffff, 31, 16) |
		      VIOMMU_AMDVI_FIELD_SET((pr->pasid >> 16) & 0xf, 45, 42);
	e[0] = (uint32_t)q0;
	e[1] = (uint32_t)(q0 >> 32);
	e[2] = (uint32_t)(pr->addr & ~0xfffull);
	e[3] = (uint32_t)(pr->addr >> 32);
	/*
	 * Enhanced PPR handling: the device's DTE must allow page requests (V and PPR); otherwise
	 * the request is refused and logged as INVALID_PPR_REQUEST in the event log, in the PPR
	 * entry's layout (an entry that cannot be read or decoded refuses it too).
	 */
	if (s->control & VIOMMU_AMDVI_CTRL_EPH_EN) {
		struct amdvi_dte d;
		uint64_t a;

		if (vi_amdvi_dte_get(s, pr->devid & 0xffff, &d, &a) || !d.valid || !d.ppr) {
			e[1] = (e[1] & ~(uint32_t)VIOMMU_AMDVI_GENMASK(31, 28)) |
			       (uint32_t)VIOMMU_AMDVI_EV_CODE_SET(
				       VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
			s->st.ppr_lost++;
			s->st.ppr_invalid++;
			vi_amdvi_log_event(s, e);
			return VIOMMU_EPERM;
		}
	}
	l = (struct amdvi_log){ &s->ppr_base,
				&s->ppr_head,
				&s->ppr_tail,
				VIOMMU_AMDVI_STATUS_PPR_LOG_RUN,
				VIOMMU_AMDVI_STATUS_PPR_OVERFLOW,
				VIOMMU_AMDVI_STATUS_PPR_INT,
				VIOMMU_AMDVI_CTRL_PPR_INT_EN };
	ret = vi_amdvi_log_append(s, &l, e);
	if (ret) {
		s->st.ppr_lost++;
		return ret;
	}
	s->st.ppr_logged++;
	return 0;
}

void vi_amdvi_complete_ppr(struct amdvi *s, const uint32_t c[4])
{
	bool gn = (c[2] & VIOMMU_AMDVI_CPPR2_GN) != 0;

	s->st.cmd_complete_ppr++;
	if (s->ppr_fn)
		s->ppr_fn(s->ppr_opaque, c[0] & VIOMMU_AMDVI_CMD_DEVID_MASK,
			  gn ? c[1] & VIOMMU_AMDVI_CPPR1_PASID_MASK : 0, gn,
			  c[3] & VIOMMU_AMDVI_CPPR3_TAG_MASK,
			  (uint32_t)VIOMMU_AMDVI_CPPR3_STATUS_GET(c[3]));
}
