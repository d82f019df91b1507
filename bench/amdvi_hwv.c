// SPDX-License-Identifier: MIT
/*
 * amd-hwviommu: the AMD hardware-assisted vIOMMU (<viommu/amdvi_hwv.h>), each row beside a
 * baseline measured in the same run:
 *  - nested translation of an assigned device (guest 4-level v2 table over the host's 4-level
 *    v1 nest parent) with a hot IOTLB, against the plan walks of the same two tables (the guest
 *    walk, then the v1 walk of its output), and with misses (a 16-entry IOTLB, random pages),
 *    against the same dependent loads as the model's (each guest table read a v1 walk first);
 *    each also as a dependent chain (".../lat": the latency a device sees);
 *  - one INVALIDATE_IOMMU_PAGES + COMPLETION_WAIT issued by the guest driver on its vIOMMU (tail
 *    doorbells on the VF MMIO page, commands run by the "hardware" with the DomainID map),
 *    against the same pair issued by the host driver on the host's own command buffer; with the
 *    exits and direct operations the model counted per pair.
 * The host driver is guest/amdvi_driver.c + guest/amdvi_hwv_host.c, the guest the unmodified
 * guest driver with v2 tables on the guest's view.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/amdvi_hwv.h>
#include <viommu/flatmem.h>
#include <viommu/pt.h>

#include "amdvi_driver.h"
#include "amdvi_hwv_host.h"
#include "bench.h"

#define MEM (384ull << 20)
#define HOST_POOL (16ull << 20)
#define HOST_POOL_SIZE (128ull << 20)
#define WIN (256ull << 20) /* guest memory [WIN, WIN + WIN_SIZE), GPA == SPA */
#define WIN_SIZE (64ull << 20)
#define GUEST_POOL (WIN + (1ull << 20))
#define GUEST_POOL_SIZE (32ull << 20)
#define DATA (WIN + (40ull << 20))
#define DATA_SIZE (16ull << 20)
#define TRANS 0x0100
#define HOST_DOM 10
#define HDEV 0x0300
#define GDEV 0x0010
#define GDOM 5
#define HOST_DEV 0x0400 /* a device of the host's own, for the host-path invalidation */
#define IOVA_BASE 0x100000000ull
#define PAGES (1u << 16) /* 256 MiB of IOVA over 16 MiB of data (aliased) */

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v, *view;
	struct vg_amdvi *host, *guest;
	struct vg_amdvi_hwv_guest *hg;
	uint32_t gid;
};

static int rig_init(struct rig *r, uint32_t iotlb)
{
	struct viommu_amdvi_config c;
	struct vg_amdvi_config dc = { 0 };
	struct vg_amdvi_hwv_guest_cfg gc = { 0 };

	memset(r, 0, sizeof(*r));
	viommu_amdvi_config_init(&c);
	c.flags |= VIOMMU_AMDVI_GT | VIOMMU_AMDVI_HWV;
	c.iommu_devid = 0x0002;
	c.iotlb_capacity = iotlb;
	if (viommu_flatmem_create(0, MEM, &r->fm) ||
	    viommu_amdvi_create(&c, viommu_flatmem_ops(), r->fm, &r->v))
		return -1;
	dc.iommu = r->v;
	dc.mem = r->fm;
	dc.pool_base = HOST_POOL;
	dc.pool_size = HOST_POOL_SIZE;
	dc.levels = 4;
	if (vg_amdvi_create(&dc, &r->host) || vg_amdvi_enable(r->host) ||
	    vg_amdvi_hwv_host_init(r->host, r->v))
		return -1;
	gc.trans_devid = TRANS;
	gc.host_domid = HOST_DOM;
	gc.gpa = WIN;
	gc.spa = WIN;
	gc.size = WIN_SIZE;
	if (vg_amdvi_hwv_guest_create(r->host, r->v, &gc, &r->hg))
		return -1;
	r->gid = vg_amdvi_hwv_gid(r->hg);
	if (viommu_amdvi_hwv_view(r->v, r->gid, &r->view) ||
	    viommu_amdvi_hwv_add_device(r->v, r->gid, HDEV, GDEV))
		return -1;
	memset(&dc, 0, sizeof(dc));
	dc.iommu = r->view;
	dc.mem = r->fm;
	dc.pool_base = GUEST_POOL;
	dc.pool_size = GUEST_POOL_SIZE;
	dc.dev_table_pages = 1;
	dc.v2 = true;
	if (vg_amdvi_create(&dc, &r->guest) || vg_amdvi_enable(r->guest) ||
	    vg_amdvi_attach(r->guest, GDEV, GDOM, false) ||
	    viommu_amdvi_hwv_dte_trap(r->v, r->gid, GDEV))
		return -1;
	for (uint64_t p = 0; p < PAGES; p += DATA_SIZE >> 12)
		if (vg_amdvi_map(r->guest, GDOM, IOVA_BASE + (p << 12), DATA, DATA_SIZE,
				 VIOMMU_ACC_RW))
			return -1;
	/* The host's own device on its own v1 domain, for the host-path row. */
	if (vg_amdvi_attach(r->host, HOST_DEV, 1, false) ||
	    vg_amdvi_map(r->host, 1, IOVA_BASE, DATA, DATA_SIZE, VIOMMU_ACC_RW))
		return -1;
	return 0;
}

static void rig_fini(struct rig *r)
{
	vg_amdvi_destroy(r->guest);
	viommu_destroy(r->view);
	vg_amdvi_hwv_guest_destroy(r->host, r->v, r->hg);
	vg_amdvi_destroy(r->host);
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

/*
 * The nested translations, hot against the v2 + v1 plan walks of the same pages (the guest walk
 * at GPA, then the v1 walk of its output), missing against the same dependent loads as the
 * model's walk (each guest table read a v1 walk first: pt-nested-walk, as in the amdvi suite);
 * both also as dependent chains (".../lat").
 */
static int xlate(struct bench_ctx *ctx, bool hot, int reps, size_t n)
{
	struct viommu_pt_cfg gcfg, hcfg;
	uint64_t *iova = malloc(n * sizeof(*iova));
	struct bench_xl a = { .sid = HDEV, .iova = iova, .n = n };
	struct viommu_amdvi_stats s0, s1;
	const char *name = hot ? "hwv-nested-translate/hit" : "hwv-nested-translate/miss";
	const char *base = hot ? "pt-plan-walk/v2-4+v1-4" : "pt-nested-walk/x86-64-4+amd-v1-4";
	uint64_t root;
	struct rig r;
	double ns[BENCH_XL_NWAYS];
	int ret;

	if (!iova || rig_init(&r, hot ? 0 : 16))
		return -1;
	/* Hot: 256 pages the IOTLB holds; miss: any of 65536. */
	bench_xl_random_pages(iova, n, IOVA_BASE, hot ? 256 : PAGES, 0x5eed + hot, hot);
	/*
	 * The tables the device's host DTE names (the nest parent's v1 table, the guest's GCR3),
	 * which must be the guest driver's and the host driver's own.
	 */
	if (bench_amdvi_dte_tables(r.fm, vg_amdvi_dte_addr(r.host, HDEV), &gcfg, &hcfg) ||
	    vg_amdvi_domain_root(r.guest, GDOM, &root) || root != gcfg.root ||
	    vg_amdvi_domain_root(r.host, HOST_DOM, &root) || root != hcfg.root || hcfg.levels != 4)
		return -1;
	if (hot)
		ret = viommu_pt_plan_create(&gcfg, &a.plan) ||
		      viommu_pt_plan_create(&hcfg, &a.p2) ||
		      viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker) ||
		      viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.w2);
	else
		ret = bench_xl_nested(&a, &gcfg, &hcfg, r.fm);
	if (ret)
		return -1;
	a.v = r.v;
	viommu_amdvi_get_stats(r.v, &s0);
	bench_xl_ways(&a, reps, ns);
	viommu_amdvi_get_stats(r.v, &s1);
	/* The model must have translated them all: a row of faults would measure nothing. */
	if (s1.faults != s0.faults) {
		fprintf(stderr, "amd-hwviommu: %llu faults in %s\n",
			(unsigned long long)(s1.faults - s0.faults), name);
		return -1;
	}
	bench_report_miss(ctx, base, name, ns[BENCH_XL_BASE], ns[BENCH_XL_MODEL],
			  s1.iotlb_misses - s0.iotlb_misses, s1.translations - s0.translations);
	bench_report_lat(ctx, base, name, ns[BENCH_XL_BASE | BENCH_XL_LAT],
			 ns[BENCH_XL_MODEL | BENCH_XL_LAT]);
	bench_xl_free(&a);
	rig_fini(&r);
	free(iova);
	return 0;
}

/* Median ns of one INVALIDATE_IOMMU_PAGES of a page + COMPLETION_WAIT through @d. */
static double inv_ns(struct vg_amdvi *d, uint16_t dom, int reps, int n)
{
	double per[64];

	for (int k = 0; k < reps + 1; k++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < n; i++)
			vg_amdvi_inv_pages(d, dom, IOVA_BASE + ((uint64_t)(i % 4096) << 12), 4096);
		if (k)
			per[k - 1] = (double)(bench_now_ns() - t0) / n;
	}
	return bench_median(per, (size_t)reps);
}

static int inv(struct bench_ctx *ctx, int reps, int n)
{
	struct viommu_amdvi_hwv_stats g0, g1;
	struct viommu_amdvi_stats h0, h1;
	struct rig r;
	double hns, gns, ops;

	if (reps > 64 || rig_init(&r, 0))
		return -1;
	hns = inv_ns(r.host, 1, reps, n);
	viommu_amdvi_hwv_get_stats(r.v, r.gid, &g0);
	viommu_amdvi_get_stats(r.v, &h0);
	gns = inv_ns(r.guest, GDOM, reps, n);
	viommu_amdvi_hwv_get_stats(r.v, r.gid, &g1);
	viommu_amdvi_get_stats(r.v, &h1);
	if (g1.cmd_errors != g0.cmd_errors) {
		fprintf(stderr, "amd-hwviommu: the guest's commands failed\n");
		return -1;
	}
	ops = (double)(reps + 1) * n;
	bench_report(ctx, "host-inv-pages+wait", "ns", hns, "ns", NULL);
	bench_report(ctx, "guest-inv-pages+wait", "ns", gns, "ns", "host-inv-pages+wait");
	/* What a real system would pay: exits (trapped) against doorbells the hardware takes. */
	bench_report(ctx, "guest-inv-pages+wait", "exits_per_op",
		     (double)(g1.trapped_mmio + g1.trapped_dte - g0.trapped_mmio - g0.trapped_dte) /
			     ops,
		     "", NULL);
	bench_report(ctx, "guest-inv-pages+wait", "direct_doorbells_per_op",
		     (double)(g1.direct_doorbells - g0.direct_doorbells) / ops, "", NULL);
	bench_report(ctx, "guest-inv-pages+wait", "host_doorbells_per_op",
		     (double)(h1.cmd_doorbells - h0.cmd_doorbells) / ops, "", NULL);
	rig_fini(&r);
	return 0;
}

static int hwv_run(struct bench_ctx *ctx)
{
	struct bench_model_sizes s;

	bench_model_sizes(ctx, &s);
	if (xlate(ctx, true, s.reps, s.hot) || xlate(ctx, false, s.reps, s.nested))
		return -1;
	return inv(ctx, s.reps, s.inv);
}

const struct bench_suite bench_suite_amd_hwviommu = {
	.name = "amd-hwviommu",
	.help = "AMD HW-vIOMMU: nested hit/miss vs v2+v1 plan walks; guest vs host invalidation",
	.run = hwv_run,
};
