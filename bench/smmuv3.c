// SPDX-License-Identifier: MIT
/*
 * smmuv3: the SMMUv3 model's hot path and its invalidation cost, each beside a baseline measured
 * in the same run:
 *  - translations with a hot IOTLB (stage 1), against the bare shared-IOTLB lookup of the same
 *    pages and tags;
 *  - IOTLB misses (a 16-entry IOTLB and random pages over 256 MiB) through 4-level 4 KiB stage 1
 *    and stage 2 tables, against the plan walk of the same tables through a walker; and nested
 *    (stage 1 over stage 2), against the same dependent loads done by the pt layer alone: a
 *    stage 1 plan walk whose every table read is first a stage 2 plan walk, then the stage 2
 *    walk of the output;
 *  - the same hot and miss rows as dependent chains (".../lat": each request's IOVA waits for
 *    the result of the one before, the latency a device sees), against their baselines alike;
 *  - one TLBI_NH_VA + CMD_SYNC per page as Linux issues them (two commands, one PROD write, the
 *    sync polled on CONS), against the bare IOTLB page invalidation; and the same with a MAP
 *    consumer attached under the caching-mode quirk (the sync's diff included).
 * The guest side is guest/smmuv3_driver.c, so tables and queues are laid out as Linux lays them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>

#include "bench.h"
#include "smmuv3_driver.h"

#define MEM (320ull << 20)
#define POOL_BASE (16ull << 20)
#define POOL_SIZE (128ull << 20)
#define SID 0x0100
#define ASID 1
#define VMID 2
#define IOVA_BASE 0x100000000ull
#define DATA (1ull << 20)

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_smmu *d;
};

/* A stream of @kind over @pages 4 KiB pages of IOVA (IPA for stage 2) at IOVA_BASE. */
static int rig_init(struct rig *r, enum vg_smmu_ste kind, uint32_t iotlb, uint64_t pages, bool cm)
{
	struct viommu_smmuv3_config c;
	struct vg_smmu_config dc = { 0 };
	bool s2 = kind == VG_SMMU_STE_S2;

	viommu_smmuv3_config_init(&c);
	c.iotlb_capacity = iotlb;
	if (cm)
		c.flags |= VIOMMU_SMMUV3_CM;
	if (viommu_flatmem_create(0, MEM, &r->fm) ||
	    viommu_smmuv3_create(&c, viommu_flatmem_ops(), r->fm, &r->v))
		return -1;
	dc.iommu = r->v;
	dc.mem = r->fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	dc.cm = cm;
	if (vg_smmu_create(&dc, &r->d) || vg_smmu_enable(r->d))
		return -1;
	if (kind == VG_SMMU_STE_NESTED && vg_smmu_map(r->d, true, VMID, 0, 0, MEM, VIOMMU_ACC_RW))
		return -1; /* stage 2: guest memory 1:1, tables and data */
	if (vg_smmu_attach(r->d, SID, kind, ASID, VMID, false))
		return -1;
	/* One contiguous run of 4 KiB pages (output at 4 KiB steps from 1 MiB: no blocks). */
	for (uint64_t p = 0; p < pages; p += 256) {
		uint64_t n = pages - p < 256 ? pages - p : 256;

		if (vg_smmu_map_nosync(r->d, s2, s2 ? VMID : ASID, IOVA_BASE + (p << 12),
				       DATA + (p << 12), n << 12, VIOMMU_ACC_RW) ||
		    vg_smmu_sync_map(r->d))
			return -1;
	}
	return 0;
}

static void rig_fini(struct rig *r)
{
	vg_smmu_destroy(r->d);
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

static int hot(struct bench_ctx *ctx, int reps, size_t n)
{
	struct bench_xl a = { .sid = SID, .tag = { .pasid = ASID } };
	double ns[BENCH_XL_NWAYS];
	struct rig r;

	if (rig_init(&r, VG_SMMU_STE_S1, 0, 256, false))
		return -1;
	a.v = r.v;
	if (bench_model_hot(&a, IOVA_BASE, DATA, 256, n, reps, ns)) {
		rig_fini(&r);
		return -1;
	}
	bench_report(ctx, "iotlb-lookup/hot", "ns", ns[0], "ns", NULL);
	bench_report(ctx, "smmuv3-translate/hot", "ns", ns[1], "ns", "iotlb-lookup/hot");
	bench_report(ctx, "smmuv3-translate/hot", "Mops_per_s", 1e3 / ns[1], "M/s", NULL);
	bench_report_lat(ctx, "iotlb-lookup/hot", "smmuv3-translate/hot", ns[2], ns[3]);
	rig_fini(&r);
	return 0;
}

static int miss(struct bench_ctx *ctx, enum vg_smmu_ste kind, int reps, size_t n)
{
	const uint64_t pages = 1u << 16; /* 256 MiB of IOVA, 128 last-level tables */
	struct viommu_pt_cfg pc = { .granule = 12, .oas = 48 }, p2 = pc;
	struct viommu_smmuv3_stats s0, s1;
	uint64_t *iova = malloc(n * sizeof(*iova));
	const char *name, *base;
	struct bench_xl a = { .sid = SID, .iova = iova, .n = n };
	struct rig r;
	double ns[BENCH_XL_NWAYS];

	if (!iova || rig_init(&r, kind, 16, pages, false))
		return -1;
	bench_xl_random_pages(iova, n, IOVA_BASE, pages, 0x5eed + kind, false);
	/* The plan walk gets the tables the STE and CD name, as the driver built them. */
	pc.format = kind == VG_SMMU_STE_S2 ? VIOMMU_PT_ARM_S2 : VIOMMU_PT_ARM_S1;
	pc.tsz[0] = 16;
	pc.sl0 = 2;
	p2.format = VIOMMU_PT_ARM_S2;
	p2.tsz[0] = 16;
	p2.sl0 = 2;
	if (vg_smmu_domain_root(r.d, kind == VG_SMMU_STE_S2, kind == VG_SMMU_STE_S2 ? VMID : ASID,
				&pc.root))
		return -1;
	if (kind == VG_SMMU_STE_NESTED) {
		/* Every stage 1 table read is first a stage 2 walk, then the output's. */
		if (vg_smmu_domain_root(r.d, true, VMID, &p2.root) ||
		    bench_xl_nested(&a, &pc, &p2, r.fm))
			return -1;
		base = "pt-nested-walk/arm-s1-4+s2";
		name = "smmuv3-translate/miss/nested";
	} else {
		if (viommu_pt_plan_create(&pc, &a.plan) ||
		    viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker))
			return -1;
		base = kind == VG_SMMU_STE_S2 ? "pt-plan-walk/arm-s2/4K-4-level" :
						"pt-plan-walk/arm-s1/4K-4-level";
		name = kind == VG_SMMU_STE_S2 ? "smmuv3-translate/miss/s2" :
						"smmuv3-translate/miss/s1";
	}
	a.v = r.v;
	viommu_smmuv3_get_stats(r.v, &s0);
	bench_xl_ways(&a, reps, ns);
	viommu_smmuv3_get_stats(r.v, &s1);
	bench_report_miss(ctx, base, name, ns[BENCH_XL_BASE], ns[BENCH_XL_MODEL],
			  s1.iotlb_misses - s0.iotlb_misses, s1.translations - s0.translations);
	bench_report_lat(ctx, base, name, ns[BENCH_XL_BASE | BENCH_XL_LAT],
			 ns[BENCH_XL_MODEL | BENCH_XL_LAT]);
	bench_xl_free(&a);
	rig_fini(&r);
	free(iova);
	return 0;
}

static void inv_flush(void *arg, uint64_t iova)
{
	vg_smmu_inv_range(arg, false, ASID, iova, 4096);
}

/* Median ns of one TLBI_NH_VA of a page + CMD_SYNC, as the driver issues them. */
static int inv(struct bench_ctx *ctx, int reps, int n, bool consumer)
{
	struct bench_inv b = { .name = consumer ? "smmuv3-tlbi-va+sync/cm-sync" :
						  "smmuv3-tlbi-va+sync",
			       .sid = SID,
			       .tag = { .pasid = ASID },
			       .iova = IOVA_BASE,
			       .consumer = consumer,
			       .flush = inv_flush };
	struct rig r;
	int ret;

	if (rig_init(&r, VG_SMMU_STE_S1, 0, 4096, consumer))
		return -1;
	ret = bench_model_inv(ctx, &b, r.v, r.d, reps, n);
	rig_fini(&r);
	return ret;
}

static int smmuv3_run(struct bench_ctx *ctx)
{
	struct bench_model_sizes s;

	bench_model_sizes(ctx, &s);
	if (hot(ctx, s.reps, s.hot))
		return -1;
	if (miss(ctx, VG_SMMU_STE_S1, s.reps, s.miss) ||
	    miss(ctx, VG_SMMU_STE_S2, s.reps, s.miss) ||
	    miss(ctx, VG_SMMU_STE_NESTED, s.reps, s.nested))
		return -1;
	if (inv(ctx, s.reps, s.inv, false) || inv(ctx, s.reps, s.inv, true))
		return -1;
	return 0;
}

const struct bench_suite bench_suite_smmuv3 = {
	.name = "smmuv3",
	.help = "SMMUv3 model: hot translation, S1/S2/nested miss, TLBI_NH_VA + CMD_SYNC",
	.run = smmuv3_run,
};
