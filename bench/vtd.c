// SPDX-License-Identifier: MIT
/*
 * vtd: the VT-d model's hot path and its invalidation cost, each beside a baseline measured in
 * the same run:
 *  - translations with a hot IOTLB, against the bare shared-IOTLB lookup of the same pages;
 *  - IOTLB misses on 3- and 4-level tables (a 16-entry IOTLB and random pages), against the bare
 *    pt walk of the same tables;
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

static uint64_t run_xlate(struct viommu *v, const uint64_t *iova, size_t n)
{
	struct viommu_xlate_req req = { .sid = SID, .len = 8, .access = VIOMMU_ACC_READ };
	struct viommu_xlate_result res;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		req.iova = iova[i];
		viommu_translate(v, &req, &res);
		acc += res.out;
	}
	return acc;
}

static uint64_t run_iotlb(struct viommu_iotlb *tlb, const uint64_t *iova, size_t n)
{
	const struct viommu_iotlb_tag tag = { .dom = DID, .sid = SID };
	struct viommu_iotlb_entry e;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		if (viommu_iotlb_lookup(tlb, &tag, iova[i], &e) == 0)
			acc += e.out + (iova[i] - e.iova);
	}
	return acc;
}

/* The walks alone, through a walker as the model makes them. */
static uint64_t run_walk(const struct viommu_pt_cfg *pc, void *fm, const uint64_t *iova, size_t n)
{
	struct viommu_pt_walk_result w;
	struct viommu_pt_walker *walker;
	uint64_t acc = 0;

	if (viommu_pt_walker_create(viommu_flatmem_ops(), fm, &walker))
		return 0;
	for (size_t i = 0; i < n; i++) {
		viommu_pt_walker_walk(walker, pc, iova[i], VIOMMU_ACC_READ, &w);
		acc += w.out;
	}
	viommu_pt_walker_destroy(walker);
	return acc;
}

enum kind { K_XLATE, K_IOTLB, K_WALK };

struct ops {
	enum kind k;
	void *obj;
	const void *aux;
	const uint64_t *iova;
	size_t n;
};

static uint64_t run_ops(void *arg)
{
	const struct ops *o = arg;

	if (o->k == K_XLATE)
		return run_xlate(o->obj, o->iova, o->n);
	if (o->k == K_IOTLB)
		return run_iotlb(o->obj, o->iova, o->n);
	return run_walk(o->aux, o->obj, o->iova, o->n);
}

/* Median ns per operation over @reps batches. */
static double measure(enum kind k, void *obj, const void *aux, const uint64_t *iova, size_t n,
		      int reps)
{
	struct ops o = { k, obj, aux, iova, n };

	return bench_measure_ns(run_ops, &o, n, reps);
}

static int hot(struct bench_ctx *ctx, int reps, size_t n)
{
	const uint64_t pages = 256;
	struct viommu_iotlb_config tc = { 0 };
	struct viommu_iotlb *tlb;
	struct rig r;
	uint64_t seed = 0x5eed;
	uint64_t *iova = malloc(n * sizeof(*iova));
	double base, ns;

	if (!iova || rig_init(&r, 48, 0, 0, pages) || viommu_iotlb_create(&tc, &tlb))
		return -1;
	for (size_t i = 0; i < n; i++)
		iova[i] = IOVA_BASE + (bench_rand(&seed) % pages << 12) + (i & 0xff8);
	/* The baseline holds what the model's IOTLB holds: the same pages, tags and outputs. */
	for (uint64_t p = 0; p < pages; p++) {
		struct viommu_iotlb_entry e = { .tag = { .dom = DID, .sid = SID },
						.iova = IOVA_BASE + (p << 12),
						.out = p << 12,
						.shift = 12,
						.perm = VIOMMU_ACC_RW };

		viommu_iotlb_insert(tlb, &e);
	}
	base = measure(K_IOTLB, tlb, NULL, iova, n, reps);
	ns = measure(K_XLATE, r.v, NULL, iova, n, reps);
	bench_report(ctx, "iotlb-lookup/hot", "ns", base, "ns", NULL);
	bench_report(ctx, "iotlb-lookup/hot", "Mops_per_s", 1e3 / base, "M/s", NULL);
	bench_report(ctx, "vtd-translate/hot", "ns", ns, "ns", "iotlb-lookup/hot");
	bench_report(ctx, "vtd-translate/hot", "Mops_per_s", 1e3 / ns, "M/s", "iotlb-lookup/hot");
	viommu_iotlb_destroy(tlb);
	rig_fini(&r);
	free(iova);
	return 0;
}

static int miss(struct bench_ctx *ctx, uint32_t aw, int reps, size_t n)
{
	const uint64_t pages = 1u << 16; /* 256 MiB of IOVA, 128 last-level tables */
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_VTD_SL };
	struct viommu_xlate_req probe = { .sid = SID, .iova = IOVA_BASE, .len = 1 };
	struct viommu_xlate_result res;
	struct viommu_vtd_stats s0, s1;
	uint64_t seed = 0x5eed + aw;
	uint64_t *iova = malloc(n * sizeof(*iova));
	char name[48], base[48];
	struct rig r;
	double wns, ns;
	uint64_t rta, re, ce;

	if (!iova || rig_init(&r, aw, 0, 16, pages))
		return -1;
	for (size_t i = 0; i < n; i++)
		iova[i] = IOVA_BASE + (bench_rand(&seed) % pages << 12);
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
	snprintf(base, sizeof(base), "pt-walk/%u-level", pc.levels);
	snprintf(name, sizeof(name), "vtd-translate/miss/%u-level", pc.levels);
	wns = measure(K_WALK, r.fm, &pc, iova, n, reps);
	viommu_vtd_get_stats(r.v, &s0);
	ns = measure(K_XLATE, r.v, NULL, iova, n, reps);
	viommu_vtd_get_stats(r.v, &s1);
	bench_report(ctx, base, "ns", wns, "ns", NULL);
	bench_report(ctx, name, "ns", ns, "ns", base);
	bench_report(ctx, name, "miss_ratio",
		     (double)(s1.iotlb_misses - s0.iotlb_misses) /
			     (double)(s1.translations - s0.translations),
		     "", NULL);
	rig_fini(&r);
	free(iova);
	return 0;
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	(void)ev;
	(*(uint64_t *)opaque)++;
}

/* Median ns of one page-selective flush issued by the driver (descriptor, wait, doorbell). */
static int psi(struct bench_ctx *ctx, int reps, int n, bool cm)
{
	const uint64_t pages = 4096;
	struct viommu_iotlb_config tc = { 0 };
	struct viommu_iotlb *tlb;
	struct viommu_notifier *nt = NULL;
	uint64_t events = 0;
	double per[64], base[64];
	struct rig r;

	if (rig_init(&r, 48, cm ? VIOMMU_VTD_CM : 0, 0, pages) || viommu_iotlb_create(&tc, &tlb))
		return -1;
	if (cm &&
	    viommu_notifier_add(r.v, SID, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event, &events, &nt))
		return -1;
	if (nt)
		viommu_notifier_replay(r.v, nt);
	for (int k = 0; k < reps + 1; k++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < n; i++)
			vg_vtd_flush_range(r.d, DID, IOVA_BASE + ((uint64_t)(i % 4096) << 12),
					   4096);
		if (k)
			per[k - 1] = (double)(bench_now_ns() - t0) / n;
		t0 = bench_now_ns();
		for (int i = 0; i < n; i++) {
			struct viommu_iotlb_inval inv = {
				.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID |
					 VIOMMU_IOTLB_MATCH_ADDR,
				.tag = { .dom = DID },
				.first = IOVA_BASE + ((uint64_t)(i % 4096) << 12),
			};

			inv.last = inv.first + 4095;
			viommu_iotlb_invalidate(tlb, &inv);
		}
		if (k)
			base[k - 1] = (double)(bench_now_ns() - t0) / n;
	}
	if (!cm)
		bench_report(ctx, "iotlb-invalidate/page", "ns", bench_median(base, (size_t)reps),
			     "ns", NULL);
	bench_report(ctx, cm ? "vtd-psi/qi+cm-sync" : "vtd-psi/qi", "ns",
		     bench_median(per, (size_t)reps), "ns", "iotlb-invalidate/page");
	if (nt)
		viommu_notifier_del(r.v, nt);
	viommu_iotlb_destroy(tlb);
	rig_fini(&r);
	return 0;
}

static int vtd_run(struct bench_ctx *ctx)
{
	bool q = bench_quick(ctx);
	/* Short batches, many of them: a median that survives a busy machine. */
	int reps = q ? 3 : 41;
	size_t n = q ? 1u << 12 : 1u << 16;

	if (hot(ctx, reps, n))
		return -1;
	if (miss(ctx, 39, reps, q ? 1u << 10 : 1u << 17) ||
	    miss(ctx, 48, reps, q ? 1u << 10 : 1u << 17))
		return -1;
	if (psi(ctx, reps, q ? 64 : 1024, false) || psi(ctx, reps, q ? 64 : 1024, true))
		return -1;
	return 0;
}

const struct bench_suite bench_suite_vtd = {
	.name = "vtd",
	.help = "VT-d model: hot translation, 3/4-level miss, page-selective invalidation",
	.run = vtd_run,
};
