// SPDX-License-Identifier: MIT
/*
 * vtd: the VT-d model's hot path and its invalidation cost, each beside a baseline measured in
 * the same run:
 *  - translations with a hot IOTLB, against the bare shared-IOTLB lookup of the same pages;
 *  - IOTLB misses on 3- and 4-level tables (a 16-entry IOTLB and random pages), against the plan
 *    walk of the same tables through a walker (the same dependent loads), with the walk by
 *    configuration (the walker finding its plan each time) reported beside it;
 *  - the same hot and miss rows as dependent chains (".../lat": each request's IOVA waits for
 *    the result of the one before, the latency a device sees), against their baselines alike;
 *  - one page-selective invalidation (a queued descriptor and its doorbell, as the guest issues
 *    it), against the bare IOTLB range invalidation; and the same under caching mode with a MAP
 *    consumer attached (the notification sync included).
 * The guest side is the sim driver model, so tables and queues are laid out as Linux lays them.
 */
#include <stdio.h>
#include <stdlib.h>

#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/spec/vtd.h>
#include <viommu/vtd.h>

#include "bench.h"
#include "vtd_driver.h"

#define MEM (256ull << 20)
#define POOL_BASE (16ull << 20)
#define POOL_SIZE (128ull << 20)
#define SID 0x0100
#define DID 1
#define IOVA_BASE 0x100000000ull

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *d;
};

static int rig_init(struct rig *r, uint32_t aw, uint32_t flags, uint32_t iotlb, uint64_t pages)
{
	struct viommu_vtd_config c;
	struct vg_vtd_config dc = { 0 };

	viommu_vtd_config_init(&c);
	c.aw_bits = aw;
	c.flags |= flags;
	c.iotlb_capacity = iotlb;
	if (viommu_flatmem_create(0, MEM, &r->fm))
		return -1;
	if (viommu_vtd_create(&c, viommu_flatmem_ops(), r->fm, &r->v))
		return -1;
	dc.iommu = r->v;
	dc.mem = r->fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	dc.levels = aw == 39 ? 3 : 4;
	dc.no_superpages = true;
	if (vg_vtd_create(&dc, &r->d) || vg_vtd_enable(r->d) || vg_vtd_attach(r->d, SID, DID, 0))
		return -1;
	/* One contiguous run of 4 KiB pages; output spread over guest memory. */
	if (pages && vg_vtd_map(r->d, DID, IOVA_BASE, 0, pages << 12, VIOMMU_ACC_RW))
		return -1;
	return 0;
}

static void rig_fini(struct rig *r)
{
	vg_vtd_destroy(r->d);
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

static int hot(struct bench_ctx *ctx, int reps, size_t n)
{
	struct bench_xl a = { .sid = SID, .tag = { .dom = DID, .sid = SID } };
	double ns[BENCH_XL_NWAYS];
	struct rig r;

	if (rig_init(&r, 48, 0, 0, 256))
		return -1;
	a.v = r.v;
	if (bench_model_hot(&a, IOVA_BASE, 0, 256, n, reps, ns)) {
		rig_fini(&r);
		return -1;
	}
	bench_report(ctx, "iotlb-lookup/hot", "ns", ns[0], "ns", NULL);
	bench_report(ctx, "iotlb-lookup/hot", "Mops_per_s", 1e3 / ns[0], "M/s", NULL);
	bench_report(ctx, "vtd-translate/hot", "ns", ns[1], "ns", "iotlb-lookup/hot");
	bench_report(ctx, "vtd-translate/hot", "Mops_per_s", 1e3 / ns[1], "M/s",
		     "iotlb-lookup/hot");
	bench_report_lat(ctx, "iotlb-lookup/hot", "vtd-translate/hot", ns[2], ns[3]);
	rig_fini(&r);
	return 0;
}

static int miss(struct bench_ctx *ctx, uint32_t aw, int reps, size_t n)
{
	const uint64_t pages = 1u << 16; /* 256 MiB of IOVA, 128 last-level tables */
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_VTD_SL };
	struct viommu_xlate_req probe = { .sid = SID, .iova = IOVA_BASE, .len = 1 };
	struct viommu_xlate_result res;
	struct viommu_vtd_stats s0, s1;
	uint64_t *iova = malloc(n * sizeof(*iova));
	struct bench_xl a = { .sid = SID, .cfg = &pc, .iova = iova, .n = n };
	struct viommu_pt_plan *plan;
	char name[48], base[48];
	struct rig r;
	double ns[BENCH_XL_NWAYS];
	uint64_t rta, re, ce;

	if (!iova || rig_init(&r, aw, 0, 16, pages))
		return -1;
	bench_xl_random_pages(iova, n, IOVA_BASE, pages, 0x5eed + aw, false);
	/* The bare walk gets the table the context entry names. */
	viommu_translate(r.v, &probe, &res);
	viommu_mmio_read(r.v, VIOMMU_VTD_RTADDR_REG, 8, &rta);
	rta &= VIOMMU_VTD_RTADDR_RTA_MASK;
	re = *(uint64_t *)viommu_flatmem_ptr(r.fm, rta + (SID >> 8) * VIOMMU_VTD_ROOT_ENTRY_SIZE,
					     8);
	ce = *(uint64_t *)viommu_flatmem_ptr(
		r.fm, (re & VIOMMU_VTD_ROOT_LO_CTP_MASK) + (SID & 0xff) * VIOMMU_VTD_CTX_ENTRY_SIZE,
		8);
	pc.root = ce & VIOMMU_VTD_CTX_LO_SLPTPTR_MASK;
	pc.levels = aw == 39 ? 3 : 4;
	/*
	 * The baseline is the plan walk, as for the other models: the same dependent loads. The
	 * walk by configuration (a walker finding its plan on every walk) is reported beside it.
	 */
	if (viommu_pt_plan_create(&pc, &plan) ||
	    viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker))
		return -1;
	snprintf(base, sizeof(base), "pt-walk/%u-level", pc.levels);
	a.v = r.v;
	a.mem = r.fm;
	bench_report(ctx, base, "ns", bench_xl_ns(&a, BENCH_XL_BASE, reps), "ns", NULL);
	a.plan = plan;
	snprintf(base, sizeof(base), "pt-plan-walk/vtd-sl/%u-level", pc.levels);
	snprintf(name, sizeof(name), "vtd-translate/miss/%u-level", pc.levels);
	viommu_vtd_get_stats(r.v, &s0);
	bench_xl_ways(&a, reps, ns);
	viommu_vtd_get_stats(r.v, &s1);
	bench_report_miss(ctx, base, name, ns[BENCH_XL_BASE], ns[BENCH_XL_MODEL],
			  s1.iotlb_misses - s0.iotlb_misses, s1.translations - s0.translations);
	bench_report_lat(ctx, base, name, ns[BENCH_XL_BASE | BENCH_XL_LAT],
			 ns[BENCH_XL_MODEL | BENCH_XL_LAT]);
	viommu_pt_walker_destroy(a.walker);
	viommu_pt_plan_destroy(a.plan);
	rig_fini(&r);
	free(iova);
	return 0;
}

static void psi_flush(void *arg, uint64_t iova)
{
	vg_vtd_flush_range(arg, DID, iova, 4096);
}

/* Median ns of one page-selective flush issued by the driver (descriptor, wait, doorbell). */
static int psi(struct bench_ctx *ctx, int reps, int n, bool cm)
{
	struct bench_inv b = { .name = cm ? "vtd-psi/qi+cm-sync" : "vtd-psi/qi",
			       .sid = SID,
			       .tag = { .dom = DID },
			       .iova = IOVA_BASE,
			       .consumer = cm,
			       .flush = psi_flush };
	struct rig r;
	int ret;

	if (rig_init(&r, 48, cm ? VIOMMU_VTD_CM : 0, 0, 4096))
		return -1;
	ret = bench_model_inv(ctx, &b, r.v, r.d, reps, n);
	rig_fini(&r);
	return ret;
}

static int vtd_run(struct bench_ctx *ctx)
{
	struct bench_model_sizes s;

	bench_model_sizes(ctx, &s);
	if (hot(ctx, s.reps, s.hot))
		return -1;
	if (miss(ctx, 39, s.reps, s.miss) || miss(ctx, 48, s.reps, s.miss))
		return -1;
	if (psi(ctx, s.reps, s.inv, false) || psi(ctx, s.reps, s.inv, true))
		return -1;
	return 0;
}

const struct bench_suite bench_suite_vtd = {
	.name = "vtd",
	.help = "VT-d model: hot translation, 3/4-level miss, page-selective invalidation",
	.run = vtd_run,
};
