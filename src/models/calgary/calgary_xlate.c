// SPDX-License-Identifier: MIT
/*
 * Calgary translation: the PHB of the requester's bus, its TCE cache (direct-mapped, valid TCEs
 * only, never snooping the table), the table read through the src/pt TCE format on a miss, and
 * the error registers a refused DMA sets for the driver's watchdog.
 */
#include "calgary_internal.h"

void vi_cal_cache_flush(struct calgary *s, struct cal_phb *p)
{
	memset(p->cache, 0, (size_t)(s->cache_mask + 1) * sizeof(*p->cache));
}

void vi_cal_cache_drop(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n)
{
	if (n > s->cache_mask) {
		/* Cheaper to look at every slot than at every page. */
		for (uint32_t i = 0; i <= s->cache_mask; i++) {
			uint64_t pg = (uint64_t)p->cache[i].tag - 1;

			if (p->cache[i].tag && pg >= first && pg - first < n)
				p->cache[i].tag = 0;
		}
		return;
	}
	for (uint64_t pg = first; pg < first + n; pg++) {
		struct cal_cache_ent *e = &p->cache[pg & s->cache_mask];

		if (e->tag == pg + 1)
			e->tag = 0;
	}
}

bool vi_cal_tce_ok(const struct calgary *s, uint64_t tce)
{
	uint64_t above = VIOMMU_TCE_RPN_MASK & ~((1ull << s->cfg.pa_bits) - 1);

	return (tce & (VIOMMU_TCE_READ | VIOMMU_TCE_WRITE)) && !(tce & above);
}

/*
 * A refused DMA: the CSR (and CalIOC2's error registers) hold the first error until the driver
 * clears the CSR; later ones only mark it. Returns enum viommu_fault_flags.
 */
static uint32_t record_error(struct calgary *s, struct cal_phb *p,
			     const struct viommu_xlate_req *req, uint32_t reason)
{
	s->st.faults++;
	if (p->csr & VIOMMU_CALGARY_CSR_AGENT_MASK) {
		p->csr |= VIOMMU_CALGARY_CSR_MULTI;
		return VIOMMU_FAULT_F_LOST;
	}
	p->csr |= VIOMMU_CALGARY_CSR_TCE_FAULT;
	p->plssr = (uint32_t)(req->iova >> 12);
	if (cal_is_calioc2(s)) {
		p->err[0] = (uint32_t)(req->iova >> 32);
		p->err[1] = (uint32_t)req->iova;
		p->err[2] = reason << 16 | (req->sid & 0xffff);
	}
	return VIOMMU_FAULT_F_RECORDED;
}

static int refuse(struct calgary *s, struct cal_phb *p, const struct viommu_xlate_req *req,
		  struct viommu_xlate_result *res, enum viommu_fault_type type, uint32_t reason)
{
	/* Level 1: the reasons from TABLE on involve the one-level table's entry. */
	vi_result_fault(res, req, type, reason, reason >= VIOMMU_CALGARY_R_TABLE ? 1 : 0);
	if (p && reason != VIOMMU_CALGARY_R_STOPPED && reason != VIOMMU_CALGARY_R_SLOT_DISABLED)
		res->fault.flags = record_error(s, p, req, reason);
	return 0;
}

/* The TCE for page @pg: from the cache, else from the table (cached when valid). */
static uint32_t tce_get(struct calgary *s, struct cal_phb *p, uint64_t pg, uint64_t *tce)
{
	struct cal_cache_ent *e = &p->cache[pg & s->cache_mask];
	struct viommu_pt_walk_result w;

	if (e->tag == pg + 1) {
		s->st.cache_hits++;
		*tce = e->tce;
		return 0;
	}
	s->st.cache_misses++;
	if (viommu_pt_walker_walk_plan(s->walker, p->plan, pg << 12, 0, &w))
		return VIOMMU_CALGARY_R_TABLE;
	switch (w.fault) {
	case VIOMMU_FAULT_NONE:
		break;
	case VIOMMU_FAULT_NOT_PRESENT:
		return VIOMMU_CALGARY_R_NOT_VALID;
	case VIOMMU_FAULT_ADDR_SIZE:
		return w.detail == VIOMMU_PT_D_INPUT_RANGE ? VIOMMU_CALGARY_R_RANGE :
							     VIOMMU_CALGARY_R_RPN;
	default:
		return VIOMMU_CALGARY_R_TABLE;
	}
	*tce = __builtin_bswap64(w.pte);
	e->tag = (uint32_t)(pg + 1);
	e->tce = *tce;
	return 0;
}

static enum viommu_fault_type reason_type(uint32_t reason)
{
	switch (reason) {
	case VIOMMU_CALGARY_R_NOT_VALID:
		return VIOMMU_FAULT_NOT_PRESENT;
	case VIOMMU_CALGARY_R_RANGE:
	case VIOMMU_CALGARY_R_RPN:
	case VIOMMU_CALGARY_R_DAC:
		return VIOMMU_FAULT_ADDR_SIZE;
	case VIOMMU_CALGARY_R_PERM:
		return VIOMMU_FAULT_PERMISSION;
	case VIOMMU_CALGARY_R_TABLE:
		return VIOMMU_FAULT_WALK_ABORT;
	default:
		return VIOMMU_FAULT_BLOCKED;
	}
}

int vi_cal_translate(struct viommu *v, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res)
{
	struct calgary *s = to_cal(v);
	uint64_t len = req->len ? req->len : 1, pg, tce, in_page;
	struct cal_phb *p;
	uint32_t reason, perm;

	s->st.translations++;
	p = req->sid <= 0xffff ? cal_phb_of_bus(s, req->sid >> 8) : NULL;
	if (!p)
		return refuse(s, NULL, req, res, VIOMMU_FAULT_BLOCKED, VIOMMU_CALGARY_R_NO_PHB);
	if (p->config_rw & VIOMMU_CALGARY_PHB_SLOT_DISABLE)
		return refuse(s, p, req, res, VIOMMU_FAULT_BLOCKED, VIOMMU_CALGARY_R_SLOT_DISABLED);
	if (cal_stopped(s, p)) {
		/* A DMA that meets SoftStop makes the stop attempt fail (PMDR SoftStopFault). */
		if (cal_is_calioc2(s) && !p->hardstop)
			p->pmdr |= VIOMMU_CALGARY_PMR_SOFTSTOPFAULT;
		s->st.stopped++;
		return refuse(s, p, req, res, VIOMMU_FAULT_BLOCKED, VIOMMU_CALGARY_R_STOPPED);
	}
	if ((p->config_rw & VIOMMU_CALGARY_PHB_DAC_DISABLE) && req->iova > 0xffffffffull)
		return refuse(s, p, req, res, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_CALGARY_R_DAC);
	if (!vi_range_ok(req->iova, len))
		len = 0 - req->iova;
	memset(res, 0, sizeof(*res));
	res->page_shift = 12;
	if (!(p->config_rw & VIOMMU_CALGARY_PHB_TCE_ENABLE)) {
		/* Untranslated: up to the 4 GiB line when only single-address cycles are allowed. */
		s->st.bypassed++;
		if ((p->config_rw & VIOMMU_CALGARY_PHB_DAC_DISABLE) &&
		    len - 1 > 0xffffffffull - req->iova)
			len = 0x100000000ull - req->iova;
		res->out = req->iova;
		res->len = len;
		res->perm = VIOMMU_ACC_READ | VIOMMU_ACC_WRITE | VIOMMU_ACC_EXEC;
		return 0;
	}
	pg = req->iova >> 12;
	if (pg >= p->entries)
		return refuse(s, p, req, res, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_CALGARY_R_RANGE);
	reason = tce_get(s, p, pg, &tce);
	if (reason)
		return refuse(s, p, req, res, reason_type(reason), reason);
	perm = (tce & VIOMMU_TCE_READ ? VIOMMU_ACC_READ | VIOMMU_ACC_EXEC : 0) |
	       (tce & VIOMMU_TCE_WRITE ? VIOMMU_ACC_WRITE : 0);
	if (req->access & (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE | VIOMMU_ACC_EXEC) & ~perm) {
		reason = VIOMMU_CALGARY_R_PERM;
		return refuse(s, p, req, res, VIOMMU_FAULT_PERMISSION, reason);
	}
	in_page = 4096 - (req->iova & 0xfff);
	res->out = (tce & VIOMMU_TCE_RPN_MASK) | (req->iova & 0xfff);
	res->len = len < in_page ? len : in_page;
	res->perm = perm;
	return 0;
}
