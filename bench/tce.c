// SPDX-License-Identifier: MIT
/*
 * tce: the Calgary model's hot path and its paravirtual interface, each beside a baseline
 * measured in the same run (the ways interleaved, so a busy machine weighs on both alike):
 *  - translations that hit the PHB's TCE cache, against the bare shared-IOTLB lookup of the
 *    same pages;
 *  - TCE cache misses (random pages of a 1 Mi-entry table, 256 cached), against the plan walk
 *    of the same big-endian table through a walker (the table read alone);
 *  - one H_PUT_TCE_INDIRECT of 512 TCEs, against 512 H_PUT_TCE calls writing the same TCEs;
 *    both again with a MAP/UNMAP consumer attached (the events included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/calgary.h>
#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/spec/calgary.h>

#include "bench.h"

#define MEM (64ull << 20)
#define TABLE (16ull << 20) /* 8 MiB, 1 Mi entries (size code 7) */
#define LIST (32ull << 20)
#define OUT_BASE (40ull << 20)
#define SID 0x0008 /* bus 0: PHB 0 */

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v;
};

static void wr32(struct viommu *v, uint64_t off, uint32_t val)
{
	viommu_mmio_write(v, off, 4, __builtin_bswap32(val));
}

/* PHB 0 translating through TABLE; page p -> OUT_BASE + 4 KiB * (p % 4096), read/write. */
static int rig_init(struct rig *r, uint64_t pages)
{
	struct viommu_calgary_config c;
	uint64_t *t;

	viommu_calgary_config_init(&c);
	if (viommu_flatmem_create(0, MEM, &r->fm) ||
	    viommu_calgary_create(&c, viommu_flatmem_ops(), r->fm, &r->v))
		return -1;
	t = viommu_flatmem_ptr(r->fm, TABLE, 8 * pages);
	if (!t)
		return -1;
	for (uint64_t p = 0; p < pages; p++)
		t[p] = __builtin_bswap64((OUT_BASE + ((p % 4096) << 12)) | VIOMMU_TCE_READ |
					 VIOMMU_TCE_WRITE);
	viommu_mmio_write(r->v, VIOMMU_CALGARY_TAR(0), 8,
			  __builtin_bswap64(TABLE | VIOMMU_TCE_TABLE_SIZE_8M));
	wr32(r->v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CONFIG_RW,
	     VIOMMU_CALGARY_PHB_TCE_ENABLE);
	return 0;
}

static void rig_fini(struct rig *r)
{
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

/* Ways BENCH_XL_BASE and BENCH_XL_MODEL of @a interleaved; what the PHB's cache counted. */
static void xl_ways(struct bench_xl *a, int reps, double *ns, struct viommu_calgary_stats *d)
{
	struct viommu_calgary_stats s0;

	viommu_calgary_get_stats(a->v, &s0);
	bench_measure_ways_ns(bench_xl_run, a, 2, a->n, reps, ns);
	viommu_calgary_get_stats(a->v, d);
	d->translations -= s0.translations;
	d->cache_hits -= s0.cache_hits;
	d->cache_misses -= s0.cache_misses;
}

static int hot(struct bench_ctx *ctx, int reps, size_t n)
{
	const uint64_t pages = 256; /* the PHB caches 256 TCEs */
	struct viommu_iotlb_config tc = { 0 };
	struct viommu_calgary_stats d;
	uint64_t seed = 0x7ce, *iova = malloc(n * sizeof(*iova));
	struct bench_xl a = { .sid = SID, .tag = { .dom = 0, .sid = SID }, .iova = iova, .n = n };
	double ns[2];
	struct rig r;

	if (!iova || rig_init(&r, pages) || viommu_iotlb_create(&tc, &a.tlb))
		return -1;
	/* Each page once, in order: one per cache slot, so every later lookup hits. */
	for (size_t i = 0; i < n; i++)
		iova[i] = i < pages ? i << 12 : (bench_rand(&seed) % pages << 12) + (i & 0xff8);
	bench_xl_fill_tlb(a.tlb, &a.tag, 0, OUT_BASE, pages);
	a.v = r.v;
	xl_ways(&a, reps, ns, &d);
	bench_report(ctx, "iotlb-lookup/hot", "ns", ns[0], "ns", NULL);
	bench_report(ctx, "tce-translate/hot", "ns", ns[1], "ns", "iotlb-lookup/hot");
	bench_report(ctx, "tce-translate/hot", "hit_ratio",
		     (double)d.cache_hits / (double)d.translations, "", NULL);
	viommu_iotlb_destroy(a.tlb);
	rig_fini(&r);
	free(iova);
	return 0;
}

static int miss(struct bench_ctx *ctx, int reps, size_t n)
{
	const uint64_t pages = 1u << 20;
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_TCE,
				    .flags = VIOMMU_PT_F_BE,
				    .tce_size = VIOMMU_TCE_TABLE_SIZE_8M,
				    .oas = 48,
				    .root = TABLE };
	struct viommu_calgary_stats d;
	uint64_t *iova = malloc(n * sizeof(*iova));
	struct bench_xl a = { .sid = SID, .iova = iova, .n = n };
	double ns[2];
	struct rig r;

	if (!iova || rig_init(&r, pages) || viommu_pt_plan_create(&pc, &a.plan) ||
	    viommu_pt_walker_create(viommu_flatmem_ops(), r.fm, &a.walker))
		return -1;
	bench_xl_random_pages(iova, n, 0, pages, 0x7ce5, false);
	a.v = r.v;
	xl_ways(&a, reps, ns, &d);
	bench_report_miss(ctx, "pt-plan-walk/tce-be", "tce-translate/miss", ns[0], ns[1],
			  d.cache_misses, d.translations);
	viommu_pt_walker_destroy(a.walker);
	viommu_pt_plan_destroy(a.plan);
	rig_fini(&r);
	free(iova);
	return 0;
}

struct hc_arg {
	struct viommu *v;
	size_t batches;
};

/* Way 0: 512 H_PUT_TCE; way 1: one H_PUT_TCE_INDIRECT of the same 512 TCEs. Per batch. */
static uint64_t run_hc(void *arg, unsigned int way)
{
	const struct hc_arg *a = arg;
	uint64_t acc = 0;

	for (size_t b = 0; b < a->batches; b++) {
		uint64_t base = (b % 64) * VIOMMU_TCE_INDIRECT_MAX;

		if (way == 1) {
			uint64_t args[4] = { 0, base << 12, LIST, VIOMMU_TCE_INDIRECT_MAX };

			acc += (uint64_t)viommu_calgary_hcall(a->v, VIOMMU_TCE_H_PUT_TCE_INDIRECT,
							      args, NULL);
			continue;
		}
		for (unsigned int i = 0; i < VIOMMU_TCE_INDIRECT_MAX; i++) {
			uint64_t args[4] = { 0, (base + i) << 12,
					     (OUT_BASE + ((uint64_t)i << 12)) | VIOMMU_TCE_READ |
						     VIOMMU_TCE_WRITE,
					     0 };

			acc += (uint64_t)viommu_calgary_hcall(a->v, VIOMMU_TCE_H_PUT_TCE, args,
							      NULL);
		}
	}
	return acc;
}

static uint64_t n_events;

static void on_event(void *opaque, const struct viommu_event *ev)
{
	(void)opaque;
	n_events += ev->last - ev->iova;
}

static int batch(struct bench_ctx *ctx, int reps, size_t batches, bool consumer)
{
	struct viommu_notifier *n = NULL;
	struct hc_arg a;
	uint64_t *list;
	double ns[2];
	struct rig r;

	if (rig_init(&r, 1u << 20))
		return -1;
	list = viommu_flatmem_ptr(r.fm, LIST, 8 * VIOMMU_TCE_INDIRECT_MAX);
	if (!list)
		return -1;
	for (unsigned int i = 0; i < VIOMMU_TCE_INDIRECT_MAX; i++)
		list[i] = __builtin_bswap64((OUT_BASE + ((uint64_t)i << 12)) | VIOMMU_TCE_READ |
					    VIOMMU_TCE_WRITE);
	if (consumer && viommu_notifier_add(r.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					    on_event, NULL, &n))
		return -1;
	a.v = r.v;
	a.batches = batches;
	bench_measure_ways_ns(run_hc, &a, 2, batches, reps, ns);
	bench_report(ctx, consumer ? "tce-h-put-tce-x512/consumer" : "tce-h-put-tce-x512", "ns",
		     ns[0], "ns", NULL);
	bench_report(
		ctx,
		consumer ? "tce-h-put-tce-indirect-512/consumer" : "tce-h-put-tce-indirect-512",
		"ns", ns[1], "ns", consumer ? "tce-h-put-tce-x512/consumer" : "tce-h-put-tce-x512");
	if (n)
		viommu_notifier_del(r.v, n);
	rig_fini(&r);
	return 0;
}

static int tce_run(struct bench_ctx *ctx)
{
	struct bench_model_sizes s;
	size_t batches = bench_quick(ctx) ? 4 : 64;

	bench_model_sizes(ctx, &s);
	if (hot(ctx, s.reps, s.hot) || miss(ctx, s.reps, s.miss))
		return -1;
	if (batch(ctx, s.reps, batches, false) || batch(ctx, s.reps, batches, true))
		return -1;
	bench_keep(n_events);
	return 0;
}

const struct bench_suite bench_suite_tce = {
	.name = "tce",
	.help = "Calgary TCE model: cache hit, cache miss, H_PUT_TCE_INDIRECT of 512 vs 512 H_PUT_TCE",
	.run = tce_run,
};
