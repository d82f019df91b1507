// SPDX-License-Identifier: MIT
/*
 * shadow: the shadow engine (src/shadow) behind VT-d in caching mode, programmed by the guest
 * driver, over the in-process host IOMMU, against a per-page consumer (the peers' way: QEMU turns
 * each MAP/UNMAP notification into host calls page by page or in power-of-two pieces) over an
 * identical host, in the same run:
 *  - contig/N: the guest maps N contiguous 4 KiB pages (one page-selective invalidation) and
 *    unmaps them (another); ns per page and host calls per cycle;
 *  - scattered/N: N pages two pages apart, mapped with one invalidation each in one queued
 *    submission, unmapped lazily and completed by one domain-selective invalidation;
 *  - replay/100k: a device attached when 100,000 mappings exist (contiguous, then scattered):
 *    ns per mapping and host calls.
 */
#include <stdio.h>
#include <stdlib.h>

#include <viommu/flatmem.h>
#include <viommu/shadow.h>
#include <viommu/vtd.h>

#include "bench.h"
#include "vtd_driver.h"

#define PG 4096ull
#define MEM (192ull << 20) /* guest tables */
#define SID 0x10
#define DID 1
#define IOVA0 (1ull << 32)
#define GPA0 (1ull << 30) /* targets: numbers only, the model never reads them */
#define HOST_OFF (1ull << 40)

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *d;
	struct viommu_shadow_hostpt *hp;
	/* way 1: the engine */
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *dev;
	/* way 0: per-page consumer */
	struct viommu_notifier *n;
	uint64_t pp_calls;
};

static int gpa_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	*host = gpa + HOST_OFF;
	*seg = len;
	return 0;
}

/* The peers' way: every page of every event is one host call. */
static void per_page(void *opaque, const struct viommu_event *ev)
{
	struct fx *f = opaque;
	const struct viommu_shadow_host_ops *ops = viommu_shadow_hostpt_ops(f->hp);

	if (ev->type != VIOMMU_EV_MAP && ev->type != VIOMMU_EV_UNMAP)
		return;
	for (uint64_t a = ev->iova; a <= ev->last && a - ev->iova < (1ull << 30); a += PG) {
		if (ev->type == VIOMMU_EV_MAP)
			ops->map(f->hp, a, PG, ev->out + (a - ev->iova) + HOST_OFF, ev->perm);
		else
			ops->unmap(f->hp, a, PG);
		f->pp_calls++;
		if (a + PG - 1 == ev->last)
			break;
	}
	ops->commit(f->hp);
}

static int fx_init(struct fx *f)
{
	struct viommu_vtd_config vc;
	struct vg_vtd_config dc = { 0 };
	int ret;

	viommu_vtd_config_init(&vc);
	vc.flags |= VIOMMU_VTD_CM;
	ret = viommu_flatmem_create(0, MEM, &f->fm);
	if (!ret)
		ret = viommu_vtd_create(&vc, viommu_flatmem_ops(), f->fm, &f->v);
	if (ret)
		return ret;
	dc.iommu = f->v;
	dc.mem = f->fm;
	dc.pool_base = PG;
	dc.pool_size = MEM - PG;
	dc.no_superpages = true;
	ret = vg_vtd_create(&dc, &f->d);
	if (!ret)
		ret = vg_vtd_enable(f->d);
	if (!ret)
		ret = vg_vtd_attach(f->d, SID, DID, false);
	if (!ret)
		ret = viommu_shadow_hostpt_create(false, 1024, &f->hp);
	return ret;
}

/* Shadow through the engine (@engine) or the per-page consumer. */
static int fx_attach(struct fx *f, bool engine)
{
	struct viommu_shadow_config c;
	int ret;

	if (!engine) {
		ret = viommu_notifier_add(f->v, SID, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, per_page, f,
					  &f->n);
		return ret ? ret : viommu_notifier_replay(f->v, f->n);
	}
	viommu_shadow_config_init(&c);
	c.max_mappings = 0;
	c.gpa_to_host = gpa_to_host;
	ret = viommu_shadow_create(&c, &f->sh);
	return ret ? ret :
		     viommu_shadow_attach(f->sh, f->v, SID, 0, false,
					  viommu_shadow_hostpt_ops(f->hp), f->hp, &f->dev);
}

static void fx_detach(struct fx *f)
{
	if (f->n)
		viommu_notifier_del(f->v, f->n);
	f->n = NULL;
	viommu_shadow_destroy(f->sh);
	f->sh = NULL;
	f->dev = NULL;
}

static void fx_fini(struct fx *f)
{
	fx_detach(f);
	viommu_shadow_hostpt_destroy(f->hp);
	vg_vtd_destroy(f->d);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static uint64_t host_calls(const struct fx *f)
{
	struct viommu_shadow_hostpt_stats st;

	viommu_shadow_hostpt_get_stats(f->hp, &st);
	return st.maps + st.unmaps;
}

struct cyc {
	struct fx f[2]; /* way 0: per page, way 1: engine */
	size_t n;
	bool scattered;
	int err;
};

static uint64_t run_cycle(void *arg, unsigned int way)
{
	struct cyc *c = arg;
	struct fx *f = &c->f[way];
	int ret = 0;

	if (!c->scattered) {
		ret = vg_vtd_map(f->d, DID, IOVA0, GPA0, c->n * PG, VIOMMU_ACC_RW);
		if (!ret)
			ret = vg_vtd_unmap(f->d, DID, IOVA0, c->n * PG);
	} else {
		for (size_t i = 0; i < c->n && !ret; i++)
			ret = vg_vtd_map_nosync(f->d, DID, IOVA0 + 2 * i * PG, GPA0 + 2 * i * PG,
						PG, VIOMMU_ACC_RW);
		if (!ret)
			ret = vg_vtd_sync_map(f->d);
		for (size_t i = 0; i < c->n && !ret; i++)
			ret = vg_vtd_unmap_nosync(f->d, DID, IOVA0 + 2 * i * PG, PG);
		if (!ret)
			ret = vg_vtd_flush(f->d);
	}
	if (ret && !c->err)
		c->err = ret;
	return c->n;
}

static int cycle_case(struct bench_ctx *ctx, size_t n, bool scattered, int reps)
{
	struct cyc *c = calloc(1, sizeof(*c));
	char name[2][64];
	double ns[2], calls[2];
	int ret = 0;

	if (!c)
		return -1;
	c->n = n;
	c->scattered = scattered;
	for (unsigned int w = 0; w < 2 && !ret; w++) {
		ret = fx_init(&c->f[w]);
		if (!ret)
			ret = fx_attach(&c->f[w], w == 1);
	}
	if (!ret) {
		/* Host calls of one cycle, counted apart from the timed runs. */
		for (unsigned int w = 0; w < 2; w++) {
			uint64_t before = host_calls(&c->f[w]);

			run_cycle(c, w);
			calls[w] = (double)(host_calls(&c->f[w]) - before);
		}
		bench_measure_ways_ns(run_cycle, c, 2, n, reps, ns);
		ret = c->err;
	}
	if (!ret) {
		const char *kind = scattered ? "scattered" : "contig";

		snprintf(name[0], sizeof(name[0]), "%s/%zu/per-page", kind, n);
		snprintf(name[1], sizeof(name[1]), "%s/%zu/engine", kind, n);
		bench_report(ctx, name[0], "ns_per_page", ns[0], "ns", NULL);
		bench_report(ctx, name[0], "host_calls", calls[0], "calls", NULL);
		bench_report(ctx, name[1], "ns_per_page", ns[1], "ns", name[0]);
		bench_report(ctx, name[1], "host_calls", calls[1], "calls", name[0]);
	}
	fx_fini(&c->f[0]);
	fx_fini(&c->f[1]);
	free(c);
	return ret;
}

/* Attach a device when @n mappings exist (every page, or every other page): ns per mapping. */
static int replay_case(struct bench_ctx *ctx, size_t n, bool scattered, int reps)
{
	struct fx f = { 0 };
	double ns[2][8], calls[2] = { 0 };
	char name[2][64];
	int ret = fx_init(&f);
	uint64_t stride = scattered ? 2 : 1;

	if (reps > 8)
		reps = 8;
	/* The guest maps in runs of 512 pages, with nobody listening yet. */
	for (size_t i = 0; i < n && !ret; i += 512) {
		size_t k = n - i < 512 ? n - i : 512;

		if (!scattered) {
			ret = vg_vtd_map(f.d, DID, IOVA0 + i * PG, GPA0 + i * PG, k * PG,
					 VIOMMU_ACC_RW);
			continue;
		}
		for (size_t j = 0; j < k && !ret; j++)
			ret = vg_vtd_map_nosync(f.d, DID, IOVA0 + (i + j) * stride * PG,
						GPA0 + (i + j) * stride * PG, PG, VIOMMU_ACC_RW);
		if (!ret)
			ret = vg_vtd_sync_map(f.d);
	}
	for (int r = 0; r < reps && !ret; r++) {
		for (unsigned int w = 0; w < 2 && !ret; w++) {
			uint64_t before = host_calls(&f), t0 = bench_now_ns();

			ret = fx_attach(&f, w == 1);
			ns[w][r] = (double)(bench_now_ns() - t0) / (double)n;
			calls[w] = (double)(host_calls(&f) - before);
			fx_detach(&f);
			/* Empty the host again (untimed) for the next attach. */
			if (!ret)
				ret = viommu_shadow_hostpt_ops(f.hp)->unmap(f.hp, 0, 1ull << 47);
			viommu_shadow_hostpt_ops(f.hp)->commit(f.hp);
		}
	}
	if (!ret) {
		const char *kind = scattered ? "scattered" : "contig";

		snprintf(name[0], sizeof(name[0]), "replay/%zu-%s/per-page", n, kind);
		snprintf(name[1], sizeof(name[1]), "replay/%zu-%s/engine", n, kind);
		bench_report(ctx, name[0], "ns_per_mapping", bench_median(ns[0], (size_t)reps),
			     "ns", NULL);
		bench_report(ctx, name[0], "host_calls", calls[0], "calls", NULL);
		bench_report(ctx, name[1], "ns_per_mapping", bench_median(ns[1], (size_t)reps),
			     "ns", name[0]);
		bench_report(ctx, name[1], "host_calls", calls[1], "calls", name[0]);
	}
	fx_fini(&f);
	return ret;
}

static int run(struct bench_ctx *ctx)
{
	bool q = bench_quick(ctx);
	int reps = q ? 3 : 15;
	static const size_t ns[] = { 64, 512 };
	int ret = 0;

	for (size_t i = 0; i < 2 && !ret; i++) {
		ret = cycle_case(ctx, ns[i], false, reps);
		if (!ret)
			ret = cycle_case(ctx, ns[i], true, reps);
	}
	if (!ret)
		ret = replay_case(ctx, q ? 10000 : 100000, false, q ? 1 : 3);
	if (!ret)
		ret = replay_case(ctx, q ? 10000 : 100000, true, q ? 1 : 3);
	return ret;
}

const struct bench_suite bench_suite_shadow = {
	.name = "shadow",
	.help = "shadow engine (VT-d CM -> in-process host IOMMU): host calls and ns per page of "
		"contiguous and scattered invalidations, replay of 100k mappings, against a "
		"per-page consumer",
	.run = run,
};
