// SPDX-License-Identifier: MIT
/*
 * pt: median ns per page-table walk for each format and depth, against a dependent-load chase
 * of the same depth through the same table entries in host memory (the raw cost of the loads a
 * walk cannot avoid), measured in the same run; and ns per map and unmap of one granule-sized
 * page (4 KiB, or the Arm granule) by the builder. The walk row uses flatmem's host ops as they
 * are (entries read through dma_map_ptr's pointer); the dma-read row the same walks for a host
 * without dma_map_ptr; the walker row the same walks through a viommu_pt_walker, which keeps
 * flatmem's span (marked stable) across walks instead of asking dma_map_ptr in each; the plan
 * row the walker's walks through a viommu_pt_plan compiled once, as a model that keeps the
 * context it decoded would walk.
 *
 * The working set is what an IOTLB miss meets: 4096 pages scattered over the input space, so
 * most walks read table lines that are not in the nearest caches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>

#include "bench.h"

#define MEM_SIZE (128ull << 20)
#define NPAGES 4096

/* Table memory: a bump allocator with a free stack per block size, as a driver's page pool. */
#define POOL_FREE_MAX 65536

struct pool {
	uint64_t next, end;
	uint64_t *free[24];
	size_t nfree[24];
};

static int pool_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	struct pool *p = opaque;
	unsigned int k = (unsigned int)__builtin_ctzll(size);
	uint64_t a;

	if (k < 24 && p->nfree[k]) {
		*gpa = p->free[k][--p->nfree[k]];
		return 0;
	}
	a = (p->next + size - 1) & ~(size - 1);
	if (a + size > p->end)
		return -12;
	*gpa = a;
	p->next = a + size;
	return 0;
}

static void pool_free(void *opaque, uint64_t gpa, uint64_t size)
{
	struct pool *p = opaque;
	unsigned int k = (unsigned int)__builtin_ctzll(size);

	if (k < 24 && p->free[k] && p->nfree[k] < POOL_FREE_MAX)
		p->free[k][p->nfree[k]++] = gpa;
}

static const struct viommu_pt_alloc_ops pool_ops = { pool_alloc, pool_free };

/* One case: a configuration plus the table shape the chase needs to follow it. */
struct pcase {
	const char *name;
	struct viommu_pt_cfg cfg;
	unsigned int levels, gran, top_bits;
	uint64_t addr_mask; /* address bits of a table entry */
	uint64_t span;	    /* input space the random pages are spread over */
};

/*
 * The baseline: the loads of a walk and nothing else. Each level loads the entry the IOVA
 * selects and takes the next table from its address bits, with no checks at all.
 */
static uint64_t chase(const struct pcase *c, uint64_t root, const uint8_t *mem,
		      const uint64_t *iova, size_t n)
{
	unsigned int bpl = c->gran - 3;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t table = root, e = 0;

		for (unsigned int l = c->levels; l >= 1; l--) {
			unsigned int shift = c->gran + (l - 1) * bpl;
			unsigned int bits = l == c->levels ? c->top_bits : bpl;
			uint64_t idx = (iova[i] >> shift) & ((1ull << bits) - 1);

			memcpy(&e, mem + table + 8 * idx, 8);
			table = e & c->addr_mask;
		}
		acc += table | (iova[i] & ((1ull << c->gran) - 1));
	}
	return acc;
}

/*
 * The same chase with every load made through the host ops' dma_read, as the library must make
 * them: the part of a walk's cost that belongs to the embedder's memory access path.
 */
static uint64_t host_chase(const struct pcase *c, uint64_t root, struct viommu_flatmem *fm,
			   const uint64_t *iova, size_t n)
{
	const struct viommu_host_ops *ops = viommu_flatmem_ops();
	unsigned int bpl = c->gran - 3;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t table = root, e = 0;

		for (unsigned int l = c->levels; l >= 1; l--) {
			unsigned int shift = c->gran + (l - 1) * bpl;
			unsigned int bits = l == c->levels ? c->top_bits : bpl;
			uint64_t idx = (iova[i] >> shift) & ((1ull << bits) - 1);

			if (ops->dma_read(fm, table + 8 * idx, &e, 8) != 8)
				return acc;
			table = e & c->addr_mask;
		}
		acc += table | (iova[i] & ((1ull << c->gran) - 1));
	}
	return acc;
}

static uint64_t walks(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *ops,
		      struct viommu_flatmem *fm, const uint64_t *iova, size_t n)
{
	struct viommu_pt_walk_result r;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		viommu_pt_walk(cfg, ops, fm, iova[i], VIOMMU_ACC_READ, &r);
		acc += r.out;
	}
	return acc;
}

/* The same walks through a walker, which keeps flatmem's (stable) span across walks. */
static uint64_t walker_walks(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
			     const uint64_t *iova, size_t n)
{
	struct viommu_pt_walk_result r;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		viommu_pt_walker_walk(w, cfg, iova[i], VIOMMU_ACC_READ, &r);
		acc += r.out;
	}
	return acc;
}

/* The same walks through a plan, as a model keeps one with the context it decoded. */
static uint64_t plan_walks(struct viommu_pt_walker *w, const struct viommu_pt_plan *p,
			   const uint64_t *iova, size_t n)
{
	struct viommu_pt_walk_result r;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		viommu_pt_walker_walk_plan(w, p, iova[i], VIOMMU_ACC_READ, &r);
		acc += r.out;
	}
	return acc;
}

/* The rows of one case, each a loop over the same addresses. */
enum way { W_CHASE, W_HOST_CHASE, W_WALK, W_WALK_READ, W_WALKER, W_PLAN, W_NWAYS };

struct run {
	const struct pcase *c;
	uint64_t root;
	const uint8_t *mem;
	struct viommu_flatmem *fm;
	const struct viommu_pt_cfg *cfg;
	const struct viommu_host_ops *read_ops; /* flatmem's without dma_map_ptr */
	struct viommu_pt_walker *walker;
	const struct viommu_pt_plan *plan;
	const uint64_t *iova;
	size_t n;
};

static uint64_t run_way(void *arg, unsigned int way)
{
	const struct run *r = arg;

	switch ((enum way)way) {
	case W_CHASE:
		return chase(r->c, r->root, r->mem, r->iova, r->n);
	case W_HOST_CHASE:
		return host_chase(r->c, r->root, r->fm, r->iova, r->n);
	case W_WALK:
		return walks(r->cfg, viommu_flatmem_ops(), r->fm, r->iova, r->n);
	case W_WALK_READ:
		return walks(r->cfg, r->read_ops, r->fm, r->iova, r->n);
	case W_WALKER:
		return walker_walks(r->walker, r->cfg, r->iova, r->n);
	case W_PLAN:
		return plan_walks(r->walker, r->plan, r->iova, r->n);
	case W_NWAYS:
		break;
	}
	return 0;
}

static int one_case(struct bench_ctx *ctx, const struct pcase *c)
{
	struct pool pool = { .next = 1 << 20, .end = MEM_SIZE };
	int reps = bench_quick(ctx) ? 3 : 21, map_reps = bench_quick(ctx) ? 1 : 5;
	size_t lookups = bench_quick(ctx) ? 1u << 12 : 1u << 16;
	struct viommu_flatmem *fm;
	struct viommu_pt *pt;
	uint64_t *pages = malloc(sizeof(uint64_t) * NPAGES);
	uint64_t *iova = malloc(sizeof(uint64_t) * lookups);
	uint64_t seed = 0x9e7a11 + c->levels;
	double per[64], per_map[64], ns[W_NWAYS], map_ns, unmap_ns;
	struct viommu_pt_walker *walker = NULL;
	struct viommu_pt_plan *plan = NULL;
	struct run run;
	struct viommu_host_ops read_ops = *viommu_flatmem_ops();
	const struct viommu_pt_cfg *cfg;
	uint64_t root, psize = 1ull << c->gran;
	char name[64], base[64], host[64], rname[80];
	const uint8_t *mem;
	size_t mapped = 0;
	int ret = -1;

	for (int k = 12; k < 17; k++) {
		pool.free[k] = malloc(sizeof(uint64_t) * POOL_FREE_MAX);
		if (!pool.free[k])
			goto out_free;
	}
	read_ops.dma_map_ptr = NULL;
	if (!pages || !iova || viommu_flatmem_create(0, MEM_SIZE, &fm))
		goto out_free;
	if (viommu_pt_create(&c->cfg, viommu_flatmem_ops(), fm, &pool_ops, &pool, &pt))
		goto out_fm;
	mem = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	cfg = viommu_pt_get_cfg(pt);
	root = (cfg->flags & VIOMMU_PT_F_NO_TTB0) ? cfg->root1 : cfg->root;
	/* Random distinct pages over the span (TTB1 cases sit at the top of the space). */
	/* A quick (smoke) run maps a small set: it checks that the suite works, not its numbers. */
	size_t npages = bench_quick(ctx) ? NPAGES / 16 : NPAGES;

	for (size_t i = 0; i < npages; i++) {
		uint64_t page = (bench_rand(&seed) % (c->span >> c->gran)) << c->gran;

		if (c->cfg.format == VIOMMU_PT_ARM_S1 && (c->cfg.flags & VIOMMU_PT_F_NO_TTB0))
			page |= ~(c->span - 1);
		if (viommu_pt_map(pt, page, (uint64_t)(i + 1) << c->gran, psize, VIOMMU_ACC_RW,
				  psize))
			continue;
		pages[mapped++] = page;
	}
	if (!mapped)
		goto out_pt;
	for (size_t i = 0; i < lookups; i++)
		iova[i] = pages[bench_rand(&seed) % mapped] | (bench_rand(&seed) & (psize - 1));

	/*
	 * The baseline and the walks on the same addresses, their runs interleaved: the walker
	 * (no host call per walk once it holds the span) and the plan (the configuration compiled
	 * once, no comparison per walk) besides the one-call walks, with and without dma_map_ptr.
	 */
	if (viommu_pt_walker_create(viommu_flatmem_ops(), fm, &walker) ||
	    viommu_pt_plan_create(cfg, &plan))
		goto out_pt;
	run = (struct run){ .c = c,
			    .root = root,
			    .mem = mem,
			    .fm = fm,
			    .cfg = cfg,
			    .read_ops = &read_ops,
			    .walker = walker,
			    .plan = plan,
			    .iova = iova,
			    .n = lookups };
	bench_measure_ways_ns(run_way, &run, W_NWAYS, lookups, reps, ns);

	/* Unmap and map again each page of the set, one call each (fewer rounds: slow). */
	for (int r = 0; r < map_reps; r++) {
		uint64_t t0, t1, t2;

		t0 = bench_now_ns();
		for (size_t i = 0; i < mapped; i++)
			viommu_pt_unmap(pt, pages[i], psize, NULL);
		t1 = bench_now_ns();
		for (size_t i = 0; i < mapped; i++)
			viommu_pt_map(pt, pages[i], (uint64_t)(i + 1) << c->gran, psize,
				      VIOMMU_ACC_RW, psize);
		t2 = bench_now_ns();
		per[r] = (double)(t1 - t0) / (double)mapped;
		per_map[r] = (double)(t2 - t1) / (double)mapped;
	}
	unmap_ns = bench_median(per, (size_t)map_reps);
	map_ns = bench_median(per_map, (size_t)map_reps);

	snprintf(base, sizeof(base), "load-chase/%s", c->name);
	snprintf(name, sizeof(name), "%s", c->name);
	snprintf(host, sizeof(host), "host-read-chase/%s", c->name);
	bench_report(ctx, base, "walk_ns", ns[W_CHASE], "ns", NULL);
	bench_report(ctx, host, "walk_ns", ns[W_HOST_CHASE], "ns", base);
	bench_report(ctx, name, "walk_ns", ns[W_WALK], "ns", base);
	snprintf(rname, sizeof(rname), "%s/dma-read", c->name);
	bench_report(ctx, rname, "walk_ns", ns[W_WALK_READ], "ns", base);
	snprintf(rname, sizeof(rname), "%s/walker", c->name);
	bench_report(ctx, rname, "walk_ns", ns[W_WALKER], "ns", base);
	snprintf(rname, sizeof(rname), "%s/plan", c->name);
	bench_report(ctx, rname, "walk_ns", ns[W_PLAN], "ns", base);
	bench_report(ctx, name, "map_page_ns", map_ns, "ns", NULL);
	bench_report(ctx, name, "unmap_page_ns", unmap_ns, "ns", NULL);
	ret = 0;
out_pt:
	viommu_pt_plan_destroy(plan);
	viommu_pt_walker_destroy(walker);
	viommu_pt_destroy(pt);
out_fm:
	viommu_flatmem_destroy(fm);
out_free:
	for (int k = 12; k < 17; k++)
		free(pool.free[k]);
	free(pages);
	free(iova);
	return ret;
}

#define A52 0x000ffffffffff000ull
#define A48 0x0000fffffffff000ull
#define SP (VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_SP_1G)

static const struct pcase cases[] = {
	{ "vtd-sl/3",
	  { .format = VIOMMU_PT_VTD_SL, .levels = 3, .flags = SP },
	  3,
	  12,
	  9,
	  A52,
	  1ull << 39 },
	{ "vtd-sl/4",
	  { .format = VIOMMU_PT_VTD_SL, .levels = 4, .flags = SP },
	  4,
	  12,
	  9,
	  A52,
	  1ull << 48 },
	{ "vtd-sl/5",
	  { .format = VIOMMU_PT_VTD_SL, .levels = 5, .flags = SP },
	  5,
	  12,
	  9,
	  A52,
	  1ull << 57 },
	{ "x86-64/4",
	  { .format = VIOMMU_PT_X86_64, .levels = 4, .flags = VIOMMU_PT_F_NXE },
	  4,
	  12,
	  9,
	  A52,
	  1ull << 47 },
	{ "x86-64/5",
	  { .format = VIOMMU_PT_X86_64, .levels = 5, .flags = VIOMMU_PT_F_NXE },
	  5,
	  12,
	  9,
	  A52,
	  1ull << 56 },
	{ "amd-v1/3", { .format = VIOMMU_PT_AMD_V1, .levels = 3 }, 3, 12, 9, A52, 1ull << 39 },
	{ "amd-v1/4", { .format = VIOMMU_PT_AMD_V1, .levels = 4 }, 4, 12, 9, A52, 1ull << 48 },
	{ "amd-v1/6", { .format = VIOMMU_PT_AMD_V1, .levels = 6 }, 6, 12, 7, A52, 1ull << 63 },
	{ "arm-s1/4k/48",
	  { .format = VIOMMU_PT_ARM_S1, .granule = 12, .tsz = { 16 } },
	  4,
	  12,
	  9,
	  A48,
	  1ull << 48 },
	{ "arm-s1/16k/47",
	  { .format = VIOMMU_PT_ARM_S1, .granule = 14, .tsz = { 17 } },
	  3,
	  14,
	  11,
	  A48 & ~0x3fffull,
	  1ull << 47 },
	{ "arm-s1/64k/ttb1/42",
	  { .format = VIOMMU_PT_ARM_S1,
	    .granule = 16,
	    .tsz = { 22, 22 },
	    .flags = VIOMMU_PT_F_TTB1 | VIOMMU_PT_F_NO_TTB0 },
	  2,
	  16,
	  13,
	  A48 & ~0xffffull,
	  1ull << 42 },
	{ "arm-s2/4k/40-concat",
	  { .format = VIOMMU_PT_ARM_S2, .granule = 12, .tsz = { 24 }, .sl0 = 1 },
	  3,
	  12,
	  10,
	  A48,
	  1ull << 40 },
	{ "tce/4g", { .format = VIOMMU_PT_TCE, .tce_size = 7 }, 1, 12, 20, A48, 1ull << 32 },
};

static int pt_run(struct bench_ctx *ctx)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (one_case(ctx, &cases[i]))
			return -1;
	}
	return 0;
}

const struct bench_suite bench_suite_pt = {
	.name = "pt",
	.help = "walk per format and depth vs a dependent-load chase; map/unmap one page",
	.run = pt_run,
};
