// SPDX-License-Identifier: MIT
/*
 * amdvi: the AMD-Vi model's hot path and its invalidation cost, each beside a baseline measured
 * in the same run:
 *  - translations with a hot IOTLB, against the bare shared-IOTLB lookup of the same pages;
 *  - IOTLB misses on 3- and 4-level v1 tables (a 16-entry IOTLB and random pages), against the
 *    plan walk of the same tables through a walker (the walk alone, configuration compiled);
 *    and through a 4-level guest (v2) table, alone against the plan walk of the guest table,
 *    and nested over a 4-level v1 table against the same dependent loads done by the pt layer
 *    alone (the guest plan walk with every table read a v1 plan walk, then the output's);
 *  - the same hot and miss rows as dependent chains (".../lat": each request's IOVA waits for
 *    the result of the one before, the latency a device sees), against their baselines alike;
 *  - one INVALIDATE_IOMMU_PAGES + COMPLETION_WAIT (two commands, two tail writes, as Linux
 *    issues them), against the bare IOTLB range invalidation; and the same with a MAP consumer
 *    attached (the NpCache sync included).
 * The guest side is guest/amdvi_driver.c, so tables and buffers are laid out as Linux lays them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/spec/amdvi.h>

#include "amdvi_driver.h"
#include "bench.h"

#define MEM (256ull << 20)
#define POOL_BASE (16ull << 20)
#define POOL_SIZE (128ull << 20)
#define DEVID 0x0100
#define DOMID 1
#define IOVA_BASE 0x100000000ull

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_amdvi *d;
};

static int rig_init(struct rig *r, uint32_t levels, uint32_t iotlb, uint64_t pages)
{
	struct viommu_amdvi_config c;
	struct vg_amdvi_config dc = { 0 };

	viommu_amdvi_config_init(&c);
	c.iotlb_capacity = iotlb;
	if (viommu_flatmem_create(0, MEM, &r->fm))
		return -1;
	if (viommu_amdvi_create(&c, viommu_flatmem_ops(), r->fm, &r->v))
		return -1;
	dc.iommu = r->v;
	dc.mem = r->fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	dc.levels = levels;
	if (vg_amdvi_create(&dc, &r->d) || vg_amdvi_enable(r->d) ||
	    vg_amdvi_attach(r->d, DEVID, DOMID, false))
		return -1;
	/* One contiguous run of 4 KiB pages (output at 4 KiB steps from 1 MiB: no superpages). */
	for (uint64_t p = 0; p < pages; p += 256) {
		uint64_t n = pages - p < 256 ? pages - p : 256;

		if (vg_amdvi_map(r->d, DOMID, IOVA_BASE + (p << 12), (1ull << 20) + (p << 12),
				 n << 12, VIOMMU_ACC_RW))
			return -1;
	}
	return 0;
}

static void rig_fini(struct rig *r)
{
	vg_amdvi_destroy(r->d);
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

static int hot(struct bench_ctx *ctx, int reps, size_t n)
{
	struct bench_xl a = { .sid = DEVID, .tag = { .dom = DOMID, .sid = DEVID } };
	double ns[BENCH_XL_NWAYS];
	struct rig r;

	if (rig_init(&r, 3, 0, 256))
		return -1;
	a.v = r.v;
	if (bench_model_hot(&a, IOVA_BASE, 1ull << 20, 256, n, reps, ns)) {
		rig_fini(&r);
		return -1;
	}
	bench_report(ctx, "iotlb-lookup/hot", "ns", ns[0], "ns", NULL);
	bench_report(ctx, "amdvi-translate/hot", "ns", ns[1], "ns", "iotlb-lookup/hot");
	bench_report(ctx, "amdvi-translate/hot", "Mops_per_s", 1e3 / ns[1], "M/s", NULL);
	bench_report_lat(ctx, "iotlb-lookup/hot", "amdvi-translate/hot", ns[2], ns[3]);
	rig_fini(&r);
	return 0;
}

static int miss(struct bench_ctx *ctx, uint32_t levels, int reps, size_t n)
{
	const uint64_t pages = 1u << 16; /* 256 MiB of IOVA, 128 last-level tables */
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_AMD_V1 };
	struct viommu_amdvi_stats s0, s1;
	uint64_t *iova = malloc(n * sizeof(*iova));
	char name[48], base[48];
	struct bench_xl a = { .sid = DEVID, .iova = iova, .n = n };
	struct rig r;
	double ns[BENCH_XL_NWAYS];

	if (!iova || rig_init(&r, levels, 16, pages))
		return -1;
	bench_xl_random_pages(iova, n, IOVA_BASE, pages, 0x5eed + levels, false);
	/* The plan walk gets the table the DTE names. */
	pc.levels = (uint8_t)levels;
	pc.oas = 48;
	if (vg_amdvi_domain_root(r.d, DOMID, &pc.root) || viommu_pt_plan_create(&pc, &a.plan) ||
	    viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker))
		return -1;
	snprintf(base, sizeof(base), "pt-plan-walk/amd-v1/%u-level", levels);
	snprintf(name, sizeof(name), "amdvi-translate/miss/%u-level", levels);
	a.v = r.v;
	viommu_amdvi_get_stats(r.v, &s0);
	bench_xl_ways(&a, reps, ns);
	viommu_amdvi_get_stats(r.v, &s1);
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

/* Guest tables for the v2 rows: pages handed out from a region the v1 table maps 1:1. */
#define GT_BASE (160ull << 20)
#define GT_SIZE (32ull << 20)

static uint64_t gt_next;

static int gt_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	(void)opaque;
	gt_next = (gt_next + size - 1) & ~(size - 1);
	*gpa = gt_next;
	gt_next += size;
	return gt_next <= GT_BASE + GT_SIZE ? 0 : VIOMMU_ENOMEM;
}

static void gt_free(void *opaque, uint64_t gpa, uint64_t size)
{
	(void)opaque;
	(void)gpa;
	(void)size;
}

int bench_amdvi_dte_tables(struct viommu_flatmem *fm, uint64_t dte, struct viommu_pt_cfg *v2,
			   struct viommu_pt_cfg *v1)
{
	const uint64_t *q = viommu_flatmem_ptr(fm, dte, 16);
	uint64_t table, e;

	if (!q || !(q[0] & VIOMMU_AMDVI_DTE0_GV))
		return -1;
	*v1 = (struct viommu_pt_cfg){ .format = VIOMMU_PT_AMD_V1,
				      .levels = (uint8_t)VIOMMU_AMDVI_DTE0_MODE_GET(q[0]),
				      .root = q[0] & VIOMMU_AMDVI_DTE0_PT_ROOT_MASK,
				      .oas = 48 };
	table = (q[0] & VIOMMU_AMDVI_DTE0_GCR3_A_MASK) >> VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT << 12 |
		(q[1] & VIOMMU_AMDVI_DTE1_GCR3_B_MASK) >> VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT << 15 |
		(q[1] & VIOMMU_AMDVI_DTE1_GCR3_C_MASK) >> VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT << 31;
	/* GCR3 entry 0 at each level (GIoV: PASID 0), guest-physical when the DTE has a v1 table. */
	for (int lvl = (int)VIOMMU_AMDVI_DTE0_GLX_GET(q[0]); lvl >= 0; lvl--) {
		struct viommu_pt_walk_result w = { .out = table };

		if (v1->levels &&
		    (viommu_pt_walk(v1, viommu_flatmem_ops(), fm, table, VIOMMU_ACC_READ, &w) ||
		     w.fault != VIOMMU_FAULT_NONE))
			return -1;
		if (viommu_flatmem_ops()->dma_read(fm, w.out, &e, 8) != 8 ||
		    !(e & VIOMMU_AMDVI_GCR3_GV))
			return -1;
		table = e & VIOMMU_AMDVI_GCR3_ADDR_MASK;
	}
	*v2 = (struct viommu_pt_cfg){
		.format = VIOMMU_PT_X86_64, .levels = 4, .root = table, .oas = 48
	};
	return 0;
}

/*
 * Misses through guest (v2) tables: GIoV makes requests without PASID take GCR3 entry 0, a
 * 4-level x86-64 table; @nested puts a 4-level v1 table under it (guest tables and data at
 * GPA = SPA), so every guest table access and the output are walked through v1 as well. The
 * baseline is the plan walk of the same x86-64 table, and for nested the same dependent loads
 * by the pt layer alone: that plan walk with each of its table reads a plan walk of the v1
 * table first, then the v1 walk of its output (not the GCR3 entry the model reads on each miss).
 */
static int miss_v2(struct bench_ctx *ctx, bool nested, int reps, size_t n)
{
	const uint64_t pages = 1u << 16;
	struct viommu_pt_cfg xc = { .format = VIOMMU_PT_X86_64, .levels = 4 }, gc, hc;
	static const struct viommu_pt_alloc_ops gt_ops = { gt_alloc, gt_free };
	struct viommu_amdvi_config c;
	struct vg_amdvi_config dc = { 0 };
	struct viommu_amdvi_stats s0, s1;
	uint64_t root = 0, q0, q1, gcr3 = GT_BASE, cr3, dte;
	uint64_t *iova = malloc(n * sizeof(*iova));
	const char *name = nested ? "amdvi-translate/miss/nested-v2-4+v1-4" :
				    "amdvi-translate/miss/v2-4-level";
	const char *base = nested ? "pt-nested-walk/x86-64-4+amd-v1-4" :
				    "pt-plan-walk/x86-64/4-level";
	struct viommu_pt *pt;
	struct bench_xl a = { .sid = DEVID, .iova = iova, .n = n };
	struct rig r;
	double ns[BENCH_XL_NWAYS];

	viommu_amdvi_config_init(&c);
	c.flags |= VIOMMU_AMDVI_GT;
	c.iotlb_capacity = 16;
	if (!iova || viommu_flatmem_create(0, MEM, &r.fm) ||
	    viommu_amdvi_create(&c, viommu_flatmem_ops(), r.fm, &r.v))
		return -1;
	dc.iommu = r.v;
	dc.mem = r.fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	dc.levels = 4;
	if (vg_amdvi_create(&dc, &r.d) || vg_amdvi_enable(r.d))
		return -1;
	viommu_mmio_read(r.v, VIOMMU_AMDVI_MMIO_CONTROL, 8, &q0);
	viommu_mmio_write(r.v, VIOMMU_AMDVI_MMIO_CONTROL, 8, q0 | VIOMMU_AMDVI_CTRL_GT_EN);
	gt_next = GT_BASE + 0x1000; /* the first page is the GCR3 table */
	memset(viommu_flatmem_ptr(r.fm, GT_BASE, 0x1000), 0, 0x1000);
	if (viommu_pt_create(&xc, viommu_flatmem_ops(), r.fm, &gt_ops, NULL, &pt) ||
	    viommu_pt_map(pt, IOVA_BASE, 1ull << 20, pages << 12, VIOMMU_ACC_RW,
			  1ull << 12)) /* 4 KiB pages only */
		return -1;
	cr3 = viommu_pt_get_cfg(pt)->root;
	*(uint64_t *)viommu_flatmem_ptr(r.fm, gcr3, 8) = cr3 | VIOMMU_AMDVI_GCR3_GV;
	if (nested) {
		/* v1: guest-physical 0-512 MiB 1:1 (guest tables and data), in 2 MiB pages. */
		if (vg_amdvi_map(r.d, DOMID, 0, 0, 512ull << 20, VIOMMU_ACC_RW) ||
		    vg_amdvi_domain_root(r.d, DOMID, &root))
			return -1;
	}
	q0 = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
	     VIOMMU_AMDVI_DTE0_IW | VIOMMU_AMDVI_DTE0_GV | VIOMMU_AMDVI_DTE0_GIOV |
	     ((gcr3 >> 12) & 7) << VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT;
	if (nested)
		q0 |= root | VIOMMU_AMDVI_DTE0_MODE_SET(4);
	q1 = DOMID | ((gcr3 >> 15) & 0xffff) << VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT |
	     ((gcr3 >> 31) & 0x1fffff) << VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT;
	dte = vg_amdvi_dte_addr(r.d, DEVID);
	*(uint64_t *)viommu_flatmem_ptr(r.fm, dte + 8, 8) = q1;
	*(uint64_t *)viommu_flatmem_ptr(r.fm, dte, 8) = q0;
	if (vg_amdvi_inv_devtab(r.d, DEVID))
		return -1;
	bench_xl_random_pages(iova, n, IOVA_BASE, pages, 0x5eed + nested, false);
	/* The baseline walks the tables the DTE names, as the model decodes them. */
	if (bench_amdvi_dte_tables(r.fm, dte, &gc, &hc) || gc.root != cr3 ||
	    hc.levels != (nested ? 4 : 0))
		return -1;
	if (nested) {
		if (bench_xl_nested(&a, &gc, &hc, r.fm))
			return -1;
	} else if (viommu_pt_plan_create(&gc, &a.plan) ||
		   viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker)) {
		return -1;
	}
	a.v = r.v;
	viommu_amdvi_get_stats(r.v, &s0);
	bench_xl_ways(&a, reps, ns);
	viommu_amdvi_get_stats(r.v, &s1);
	bench_report_miss(ctx, base, name, ns[BENCH_XL_BASE], ns[BENCH_XL_MODEL],
			  s1.iotlb_misses - s0.iotlb_misses, s1.translations - s0.translations);
	bench_report_lat(ctx, base, name, ns[BENCH_XL_BASE | BENCH_XL_LAT],
			 ns[BENCH_XL_MODEL | BENCH_XL_LAT]);
	bench_xl_free(&a);
	viommu_pt_destroy(pt);
	rig_fini(&r);
	free(iova);
	return 0;
}

static void inv_flush(void *arg, uint64_t iova)
{
	vg_amdvi_inv_pages(arg, DOMID, iova, 4096);
}

/* Median ns of one INVALIDATE_IOMMU_PAGES of a page + COMPLETION_WAIT, as the driver issues it. */
static int inv(struct bench_ctx *ctx, int reps, int n, bool consumer)
{
	struct bench_inv b = { .name = consumer ? "amdvi-inv-pages+wait/npcache-sync" :
						  "amdvi-inv-pages+wait",
			       .sid = DEVID,
			       .tag = { .dom = DOMID },
			       .iova = IOVA_BASE,
			       .consumer = consumer,
			       .flush = inv_flush };
	struct rig r;
	int ret;

	if (rig_init(&r, 3, 0, 4096))
		return -1;
	ret = bench_model_inv(ctx, &b, r.v, r.d, reps, n);
	rig_fini(&r);
	return ret;
}

static int amdvi_run(struct bench_ctx *ctx)
{
	struct bench_model_sizes s;

	bench_model_sizes(ctx, &s);
	if (hot(ctx, s.reps, s.hot))
		return -1;
	if (miss(ctx, 3, s.reps, s.miss) || miss(ctx, 4, s.reps, s.miss))
		return -1;
	if (miss_v2(ctx, false, s.reps, s.miss) || miss_v2(ctx, true, s.reps, s.nested))
		return -1;
	if (inv(ctx, s.reps, s.inv, false) || inv(ctx, s.reps, s.inv, true))
		return -1;
	return 0;
}

const struct bench_suite bench_suite_amdvi = {
	.name = "amdvi",
	.help = "AMD-Vi model: hot translation, 3/4-level miss, INVALIDATE_IOMMU_PAGES + wait",
	.run = amdvi_run,
};
