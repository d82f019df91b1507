// SPDX-License-Identifier: MIT
/*
 * The harness the model suites (vtd, amdvi, amd-hwviommu, smmuv3, tce) share: the translation
 * loops (the model, the bare IOTLB lookup, the walk; each also as a dependent chain for the
 * latency rows), the nested walk baseline, the baseline IOTLB filled as the model's would be,
 * the miss rows, and the invalidate+sync row against the bare IOTLB range invalidation.
 */
#include <stdio.h>
#include <stdlib.h>

#include <viommu/flatmem.h>

#include "bench.h"

/*
 * The dependent chain of the latency rows: 0 at run time (no output address here reaches bit
 * 63), but the compiler cannot know it, so added to the next request's IOVA it makes that
 * request wait for this one's result. Every way builds its chain with it, in the same place.
 */
static inline uint64_t chain(uint64_t out)
{
	return out >> 63;
}

/* Each loop is instantiated twice (@lat constant): the throughput loop keeps no chain at all. */
#define XL_LOOP static inline __attribute__((always_inline))

XL_LOOP uint64_t run_model(const struct bench_xl *a, bool lat)
{
	struct viommu_xlate_req req = { .sid = a->sid, .len = 8, .access = VIOMMU_ACC_READ };
	struct viommu_xlate_result res;
	uint64_t acc = 0, dep = 0;

	for (size_t i = 0; i < a->n; i++) {
		req.iova = a->iova[i] + dep;
		viommu_translate(a->v, &req, &res);
		acc += res.out;
		if (lat)
			dep = chain(res.out);
	}
	return acc;
}

XL_LOOP uint64_t run_iotlb(const struct bench_xl *a, bool lat)
{
	struct viommu_iotlb_entry e;
	uint64_t acc = 0, dep = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t iova = a->iova[i] + dep;

		if (viommu_iotlb_lookup(a->tlb, &a->tag, iova, &e) == 0) {
			uint64_t out = e.out + (iova - e.iova);

			acc += out;
			if (lat)
				dep = chain(out);
		}
	}
	return acc;
}

XL_LOOP uint64_t run_plan_walk(const struct bench_xl *a, bool lat)
{
	struct viommu_pt_walk_result w, w2;
	uint64_t acc = 0, dep = 0;

	for (size_t i = 0; i < a->n; i++) {
		viommu_pt_walker_walk_plan(a->walker, a->plan, a->iova[i] + dep, VIOMMU_ACC_READ,
					   &w);
		if (a->p2) {
			viommu_pt_walker_walk_plan(a->w2, a->p2, w.out, VIOMMU_ACC_READ, &w2);
			w.out = w2.out;
		}
		acc += w.out;
		if (lat)
			dep = chain(w.out);
	}
	return acc;
}

/* The walks alone, through a walker made per run as the model makes them (no plan). */
XL_LOOP uint64_t run_cfg_walk(const struct bench_xl *a, bool lat)
{
	struct viommu_pt_walk_result w;
	struct viommu_pt_walker *walker;
	uint64_t acc = 0, dep = 0;

	if (viommu_pt_walker_create(viommu_flatmem_ops(), a->mem, &walker))
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		viommu_pt_walker_walk(walker, a->cfg, a->iova[i] + dep, VIOMMU_ACC_READ, &w);
		acc += w.out;
		if (lat)
			dep = chain(w.out);
	}
	viommu_pt_walker_destroy(walker);
	return acc;
}

uint64_t bench_xl_run(void *arg, unsigned int way)
{
	const struct bench_xl *a = arg;
	bool lat = way & BENCH_XL_LAT;

	if ((way & ~BENCH_XL_LAT) == BENCH_XL_MODEL)
		return lat ? run_model(a, true) : run_model(a, false);
	if (a->tlb)
		return lat ? run_iotlb(a, true) : run_iotlb(a, false);
	if (a->plan)
		return lat ? run_plan_walk(a, true) : run_plan_walk(a, false);
	return lat ? run_cfg_walk(a, true) : run_cfg_walk(a, false);
}

void bench_xl_ways(struct bench_xl *a, int reps, double ns[BENCH_XL_NWAYS])
{
	bench_measure_ways_ns(bench_xl_run, a, BENCH_XL_NWAYS, a->n, reps, ns);
}

/*
 * Host ops of the nested baseline: a read at a stage 1 (guest) table address is first the
 * stage 2 (v1) plan walk of that address, then the memory read, as a nested model reads.
 */
static ssize_t nested_read(void *opaque, uint64_t ipa, void *buf, size_t len)
{
	struct bench_xl *a = opaque;
	struct viommu_pt_walk_result w;

	if (viommu_pt_walker_walk_plan(a->w2, a->p2, ipa, VIOMMU_ACC_READ, &w) ||
	    w.fault != VIOMMU_FAULT_NONE)
		return VIOMMU_EFAULT;
	return viommu_flatmem_ops()->dma_read(a->mem, w.out, buf, len);
}

int bench_xl_nested(struct bench_xl *a, const struct viommu_pt_cfg *c1,
		    const struct viommu_pt_cfg *c2, struct viommu_flatmem *fm)
{
	static const struct viommu_host_ops nops = { .dma_read = nested_read };

	a->mem = fm;
	if (viommu_pt_plan_create(c1, &a->plan) || viommu_pt_plan_create(c2, &a->p2) ||
	    viommu_pt_walker_create(viommu_flatmem_ops(), fm, &a->w2) ||
	    viommu_pt_walker_create(&nops, a, &a->walker))
		return -1;
	return 0;
}

void bench_xl_free(struct bench_xl *a)
{
	viommu_pt_walker_destroy(a->walker);
	viommu_pt_walker_destroy(a->w2);
	viommu_pt_plan_destroy(a->plan);
	viommu_pt_plan_destroy(a->p2);
}

struct xl_way {
	struct bench_xl *a;
	unsigned int way;
};

static uint64_t run_way(void *arg)
{
	const struct xl_way *w = arg;

	return bench_xl_run(w->a, w->way);
}

double bench_xl_ns(struct bench_xl *a, unsigned int way, int reps)
{
	struct xl_way w = { a, way };

	return bench_measure_ns(run_way, &w, a->n, reps);
}

void bench_xl_fill_tlb(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag, uint64_t iova,
		       uint64_t out, uint64_t pages)
{
	for (uint64_t p = 0; p < pages; p++) {
		struct viommu_iotlb_entry e = { .tag = *tag,
						.iova = iova + (p << 12),
						.out = out + (p << 12),
						.shift = 12,
						.perm = VIOMMU_ACC_RW };

		viommu_iotlb_insert(tlb, &e);
	}
}

void bench_xl_random_pages(uint64_t *iova, size_t n, uint64_t base, uint64_t pages, uint64_t seed,
			   bool in_page)
{
	for (size_t i = 0; i < n; i++)
		iova[i] = base + (bench_rand(&seed) % pages << 12) + (in_page ? (i & 0xff8) : 0);
}

int bench_model_hot(struct bench_xl *a, uint64_t iova, uint64_t out, uint64_t pages, size_t n,
		    int reps, double ns[BENCH_XL_NWAYS])
{
	struct viommu_iotlb_config tc = { 0 };
	uint64_t *v = malloc(n * sizeof(*v));

	if (!v || viommu_iotlb_create(&tc, &a->tlb)) {
		free(v);
		return -1;
	}
	bench_xl_random_pages(v, n, iova, pages, 0x5eed, true);
	/* The baseline holds what the model's IOTLB holds: the same pages, tags and outputs. */
	bench_xl_fill_tlb(a->tlb, &a->tag, iova, out, pages);
	a->iova = v;
	a->n = n;
	bench_xl_ways(a, reps, ns);
	viommu_iotlb_destroy(a->tlb);
	a->tlb = NULL;
	a->iova = NULL;
	free(v);
	return 0;
}

void bench_report_miss(struct bench_ctx *ctx, const char *base, const char *name, double wns,
		       double ns, uint64_t misses, uint64_t translations)
{
	bench_report(ctx, base, "ns", wns, "ns", NULL);
	bench_report(ctx, name, "ns", ns, "ns", base);
	bench_report(ctx, name, "miss_ratio", (double)misses / (double)translations, "", NULL);
}

void bench_report_lat(struct bench_ctx *ctx, const char *base, const char *name, double wns,
		      double ns)
{
	char b[64], m[64];

	snprintf(b, sizeof(b), "%s/lat", base);
	snprintf(m, sizeof(m), "%s/lat", name);
	bench_report(ctx, b, "ns", wns, "ns", NULL);
	bench_report(ctx, m, "ns", ns, "ns", b);
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	(void)ev;
	(*(uint64_t *)opaque)++;
}

void bench_model_sizes(const struct bench_ctx *ctx, struct bench_model_sizes *s)
{
	bool q = bench_quick(ctx);

	/* Short batches, many of them: a median that survives a busy machine. */
	s->reps = q ? 3 : 41;
	s->hot = q ? 1u << 12 : 1u << 16;
	s->miss = q ? 1u << 10 : 1u << 17;
	s->nested = q ? 1u << 10 : 1u << 16;
	s->inv = q ? 64 : 1024;
}

int bench_model_inv(struct bench_ctx *ctx, const struct bench_inv *b, struct viommu *v, void *arg,
		    int reps, int n)
{
	struct viommu_iotlb_config tc = { 0 };
	struct viommu_iotlb *tlb;
	struct viommu_notifier *nt = NULL;
	uint64_t events = 0;
	double per[64], base[64];

	if (reps > 64 || viommu_iotlb_create(&tc, &tlb))
		return -1;
	if (b->consumer && viommu_notifier_add(v, b->sid, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event,
					       &events, &nt)) {
		viommu_iotlb_destroy(tlb);
		return -1;
	}
	if (nt)
		viommu_notifier_replay(v, nt);
	for (int k = 0; k < reps + 1; k++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < n; i++)
			b->flush(arg, b->iova + ((uint64_t)(i % 4096) << 12));
		if (k)
			per[k - 1] = (double)(bench_now_ns() - t0) / n;
		t0 = bench_now_ns();
		for (int i = 0; i < n; i++) {
			struct viommu_iotlb_inval iv = {
				.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID |
					 VIOMMU_IOTLB_MATCH_ADDR,
				.tag = b->tag,
				.first = b->iova + ((uint64_t)(i % 4096) << 12),
			};

			iv.last = iv.first + 4095;
			viommu_iotlb_invalidate(tlb, &iv);
		}
		if (k)
			base[k - 1] = (double)(bench_now_ns() - t0) / n;
	}
	if (!b->consumer)
		bench_report(ctx, "iotlb-invalidate/page", "ns", bench_median(base, (size_t)reps),
			     "ns", NULL);
	bench_report(ctx, b->name, "ns", bench_median(per, (size_t)reps), "ns",
		     "iotlb-invalidate/page");
	if (nt)
		viommu_notifier_del(v, nt);
	viommu_iotlb_destroy(tlb);
	return 0;
}
