/* SPDX-License-Identifier: MIT */
/*
 * The Calgary chip's state, shared by its files: calgary.c (instance, registers, blasts,
 * discovery data), calgary_xlate.c (TCE cache, translation, error registers), calgary_hcall.c
 * (sPAPR TCE hypercalls), calgary_notify.c (MAP/UNMAP events, trapped TCE writes, replay).
 */
#ifndef VIOMMU_CALGARY_INTERNAL_H
#define VIOMMU_CALGARY_INTERNAL_H

#include <viommu/calgary.h>
#include <viommu/pt.h>
#include <viommu/spec/calgary.h>

#include "core/core.h"

/* Registers a PHB stores without meaning to the model (windows, quirks), by offset >> 4. */
#define CAL_PHB_STORE 0x100

/* One cached TCE: @tag is the I/O page number + 1 (0: empty), @tce its value (CPU order). */
struct cal_cache_ent {
	uint32_t tag;
	uint64_t tce;
};

struct cal_phb {
	unsigned int idx;
	uint32_t bus;
	uint64_t tar; /* register values in CPU order (the big-endian bytes converted) */
	uint32_t config_rw, csr, plssr, aer, pmcr, pmdr;
	uint32_t err[VIOMMU_CALGARY_PHB_NERR];
	uint32_t store[CAL_PHB_STORE];
	bool tar_written; /* a table was named: the hypercalls may use it */
	bool hardstop;	  /* CalIOC2: SoftStop completed by a PMCR read */
	/* The table the TAR names, as the src/pt TCE format reads it (big-endian entries). */
	struct viommu_pt_cfg pt;
	struct viommu_pt_plan *plan; /* @pt compiled, for the miss path */
	uint64_t entries;
	struct cal_cache_ent *cache; /* direct-mapped by I/O page number */
};

struct calgary {
	struct viommu v;
	struct viommu_calgary_config cfg;
	struct viommu_pt_walker *walker;
	uint32_t cache_mask;
	uint64_t config_reg; /* CALGARY_CONFIG_REG */
	struct cal_phb phb[VIOMMU_CALGARY_PHBS];
	struct viommu_calgary_stats st;
};

static inline struct calgary *to_cal(struct viommu *v)
{
	return vi_container_of(v, struct calgary, v);
}

extern const struct viommu_model_ops vi_cal_ops;

static inline struct calgary *cal_of(struct viommu *v)
{
	return v && v->ops == &vi_cal_ops ? to_cal(v) : NULL;
}

static inline bool cal_is_calioc2(const struct calgary *s)
{
	return s->cfg.chip == VIOMMU_CALGARY_CHIP_CALIOC2;
}

/* The PHB serving @bus, or NULL. */
static inline struct cal_phb *cal_phb_of_bus(struct calgary *s, uint32_t bus)
{
	uint32_t i = bus - s->cfg.first_bus;

	return i < VIOMMU_CALGARY_PHBS ? &s->phb[i] : NULL;
}

/* The bus stops new DMA: Calgary with arbitration off, CalIOC2 in SoftStop or HardStop. */
static inline bool cal_stopped(const struct calgary *s, const struct cal_phb *p)
{
	if (cal_is_calioc2(s))
		return (p->pmcr & VIOMMU_CALGARY_PMR_SOFTSTOP) || p->hardstop;
	return p->aer == 0;
}

/* calgary_xlate.c */
int vi_cal_translate(struct viommu *v, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res);
void vi_cal_cache_flush(struct calgary *s, struct cal_phb *p);
/* Drop the cached TCEs of pages [first, first + n). */
void vi_cal_cache_drop(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n);
/* Whether @tce (CPU order) is one the chip may use: rights set, page inside pa_bits. */
bool vi_cal_tce_ok(const struct calgary *s, uint64_t tce);

/* calgary_notify.c */
/* Tell the consumers of @p's bus UNMAP of everything (a blast emptied the cache). */
void vi_cal_notify_blast(struct calgary *s, struct cal_phb *p);
/* Tell them what pages [first, first + n) of @p's table hold now (UNMAP, then MAP runs). */
void vi_cal_notify_range(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n);
int vi_cal_replay(struct viommu *v, struct viommu_notifier *n);

#endif /* VIOMMU_CALGARY_INTERNAL_H */
