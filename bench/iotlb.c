// SPDX-License-Identifier: MIT
/*
 * iotlb: median ns per hit and per miss of the shared IOTLB at 64, 1024 and 65536 resident 4 KiB
 * entries, against a naive linear-scan cache holding the same entries, measured in the same run.
 * iotlb/N looks up by tag (viommu_iotlb_lookup()); iotlb-ref/N the same addresses by a ref taken
 * once for the tag (viommu_iotlb_lookup_ref()), as a model keeping it in its context cache does;
 * iotlb-ref-batch8/N the same addresses 8 at a time (viommu_iotlb_lookup_ref_batch()).
 *
 * Three memory floors over a buffer as large as the IOTLB's table (16 bytes per entry of
 * capacity) bound what any one-line-per-hit layout can do here: one random line per request,
 * requests independent (what a lookup loop can overlap at best); the same behind a function call
 * that matches four ways of the line (what a per-call lookup can do at best); and a pointer chase
 * (one memory latency per step, nothing overlapped).
 */
#include <stdio.h>
#include <stdlib.h>

#include <viommu/iotlb.h>

#include "bench.h"
#include "core/iotlb_fast.h"

struct lin_ent {
	struct viommu_iotlb_tag tag;
	uint64_t iova;
	uint64_t out;
	uint8_t shift;
	uint8_t perm;
};

/* The baseline: what a first implementation would write, one compare per resident entry. */
static const struct lin_ent *lin_lookup(const struct lin_ent *v, size_t n,
					const struct viommu_iotlb_tag *t, uint64_t iova)
{
	for (size_t i = 0; i < n; i++) {
		const struct lin_ent *e = &v[i];

		if (e->tag.dom == t->dom && e->tag.pasid == t->pasid && e->tag.sid == t->sid &&
		    iova - e->iova < (1ull << e->shift))
			return e;
	}
	return NULL;
}

typedef uint64_t (*lookup_fn)(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			      size_t n);

static uint64_t run_iotlb(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			  size_t n)
{
	struct viommu_iotlb_entry e;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		if (viommu_iotlb_lookup(obj, t, keys[i], &e) == 0)
			acc += e.out;
	}
	return acc;
}

/* The ref path: @t is only there to match lookup_fn; the ref was taken before. */
struct by_ref {
	struct viommu_iotlb *tlb;
	uint64_t ref;
};

static uint64_t run_ref(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys, size_t n)
{
	const struct by_ref *r = obj;
	struct viommu_iotlb_hit hit;
	uint64_t acc = 0;

	(void)t;
	for (size_t i = 0; i < n; i++) {
		if (viommu_iotlb_lookup_ref(r->tlb, r->ref, keys[i], &hit) == 0)
			acc += hit.addr;
	}
	return acc;
}

/* The same addresses in batches of 8 (a descriptor chain's worth) by viommu_iotlb_lookup_ref_batch(). */
static uint64_t run_batch(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			  size_t n)
{
	const struct by_ref *r = obj;
	struct viommu_iotlb_hit hit[8];
	uint64_t acc = 0;

	(void)t;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		if (viommu_iotlb_lookup_ref_batch(r->tlb, r->ref, &keys[i], 8, hit))
			continue;
		for (int j = 0; j < 8; j++)
			acc += hit[j].shift ? hit[j].addr : 0;
	}
	return acc;
}

struct lin {
	struct lin_ent *v;
	size_t n;
};

static uint64_t run_lin(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys, size_t n)
{
	struct lin *l = obj;
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct lin_ent *e = lin_lookup(l->v, l->n, t, keys[i]);

		if (e)
			acc += e->out;
	}
	return acc;
}

struct floor {
	uint64_t *buf; /* 8 words per 64-byte line; word 0 of a line: the next line of the chase */
	size_t lines;
};

/* The line of @f a request for @key goes to (any hash spreading pages over lines will do). */
static const uint64_t *floor_line(const struct floor *f, uint64_t key)
{
	uint64_t x = (key >> 12) * 0x9e3779b97f4a7c15ull;

	return &f->buf[((x >> 32) & (f->lines - 1)) * 8];
}

static uint64_t run_line(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			 size_t n)
{
	const struct floor *f = obj;
	uint64_t acc = 0;

	(void)t;
	for (size_t i = 0; i < n; i++)
		acc += floor_line(f, keys[i])[1];
	return acc;
}

/*
 * The least a lookup behind a call does: the request's line and the IOTLB's own four-way match
 * over it (conditional moves), nothing else.
 */
__attribute__((noinline)) static uint64_t floor_match(const struct floor *f, uint64_t key)
{
	return viommu_iotlb__match4_any(floor_line(f, key), key, 0);
}

static uint64_t run_call(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			 size_t n)
{
	const struct floor *f = obj;
	uint64_t acc = 0;

	(void)t;
	for (size_t i = 0; i < n; i++)
		acc += floor_match(f, keys[i]);
	return acc;
}

static uint64_t run_chase(void *obj, const struct viommu_iotlb_tag *t, const uint64_t *keys,
			  size_t n)
{
	const struct floor *f = obj;
	uint64_t p = 0;

	(void)t;
	(void)keys;
	for (size_t i = 0; i < n; i++)
		p = f->buf[p * 8];
	return p;
}

struct lookups {
	lookup_fn fn;
	void *obj;
	const struct viommu_iotlb_tag *t;
	const uint64_t *keys;
	size_t n;
};

static uint64_t run_lookups(void *arg)
{
	const struct lookups *l = arg;

	return l->fn(l->obj, l->t, l->keys, l->n);
}

/* Median ns per lookup over @reps batches of @n lookups. */
static double measure(lookup_fn fn, void *obj, const struct viommu_iotlb_tag *t,
		      const uint64_t *keys, size_t n, int reps)
{
	struct lookups l = { fn, obj, t, keys, n };

	return bench_measure_ns(run_lookups, &l, n, reps);
}

static void shuffle(uint64_t *v, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = bench_rand(seed) % i;
		uint64_t x = v[i - 1];

		v[i - 1] = v[j];
		v[j] = x;
	}
}

/* A buffer of @bytes whose lines form one random cycle. */
static int floor_init(struct floor *f, size_t bytes, uint64_t *seed)
{
	uint64_t *order;

	f->lines = bytes / 64;
	f->buf = aligned_alloc(64, f->lines * 64);
	order = malloc(f->lines * sizeof(uint64_t));
	if (!f->buf || !order) {
		free(f->buf);
		free(order);
		return -1;
	}
	for (size_t i = 0; i < f->lines; i++) {
		order[i] = i;
		f->buf[i * 8 + 1] = i;
	}
	shuffle(order, f->lines, seed);
	for (size_t i = 0; i < f->lines; i++)
		f->buf[order[i] * 8] = order[(i + 1) % f->lines];
	free(order);
	return 0;
}

static int one_size(struct bench_ctx *ctx, uint32_t n)
{
	const struct viommu_iotlb_tag tag = { .dom = 1 };
	struct viommu_iotlb_config cfg = { .capacity = 2 * n, .ways = 4 };
	struct viommu_iotlb *tlb;
	struct viommu_iotlb_entry e = { .tag = tag, .shift = 12, .perm = 3 };
	size_t lookups = bench_quick(ctx) ? 1u << 12 : 1u << 18;
	int reps = bench_quick(ctx) ? 3 : 21;
	uint64_t seed = 0x5eed0000 + n;
	uint64_t *pages = malloc(sizeof(uint64_t) * 2 * n);
	uint64_t *hits = malloc(sizeof(uint64_t) * lookups);
	uint64_t *misses = malloc(sizeof(uint64_t) * lookups);
	struct lin lin = { .v = calloc(n, sizeof(struct lin_ent)), .n = 0 };
	uint64_t floor_seed = 0xf1002000 + n; /* its own: the workload stays as it was */
	char name[64], base[64], fl[64];
	struct by_ref by_ref;
	struct floor floor;
	size_t resident = 0;

	if (floor_init(&floor, (size_t)cfg.capacity * 16, &floor_seed))
		floor.buf = NULL;
	if (!pages || !hits || !misses || !lin.v || !floor.buf || viommu_iotlb_create(&cfg, &tlb)) {
		free(floor.buf);
		free(pages);
		free(hits);
		free(misses);
		free(lin.v);
		return -1;
	}
	/* 2n distinct pages scattered over 64 GiB: the first n resident, the rest for misses. */
	for (size_t i = 0; i < 2 * (size_t)n; i++)
		pages[i] = (uint64_t)i * 7919 % (16ull << 20) << 12;
	shuffle(pages, 2 * (size_t)n, &seed);
	for (size_t i = 0; i < n; i++) {
		e.iova = pages[i];
		e.out = pages[i] ^ 0x8000000000ull;
		viommu_iotlb_insert(tlb, &e);
	}
	/* Only entries that stayed resident count as hits (a set may overflow). */
	for (size_t i = 0; i < n; i++) {
		struct viommu_iotlb_entry got;

		if (viommu_iotlb_lookup(tlb, &tag, pages[i], &got) == 0) {
			pages[resident++] = pages[i];
			lin.v[lin.n++] = (struct lin_ent){
				.tag = tag, .iova = got.iova, .out = got.out, .shift = 12, .perm = 3
			};
		}
	}
	for (size_t i = 0; i < lookups; i++) {
		hits[i] = pages[bench_rand(&seed) % resident] + (bench_rand(&seed) & 0xfff);
		misses[i] = pages[n + bench_rand(&seed) % n];
	}

	/* The baseline scans, so give it fewer lookups at large sizes. */
	size_t lin_lookups = (size_t)(1u << 22) / n;

	if (lin_lookups > lookups)
		lin_lookups = lookups;
	if (lin_lookups < 16)
		lin_lookups = 16;

	snprintf(base, sizeof(base), "linear-scan/%u", n);
	snprintf(name, sizeof(name), "iotlb/%u", n);
	bench_report(ctx, base, "hit_ns", measure(run_lin, &lin, &tag, hits, lin_lookups, reps),
		     "ns", NULL);
	bench_report(ctx, base, "miss_ns", measure(run_lin, &lin, &tag, misses, lin_lookups, reps),
		     "ns", NULL);
	bench_report(ctx, name, "resident", (double)resident, "entries", NULL);
	bench_report(ctx, name, "hit_ns", measure(run_iotlb, tlb, &tag, hits, lookups, reps), "ns",
		     base);
	bench_report(ctx, name, "miss_ns", measure(run_iotlb, tlb, &tag, misses, lookups, reps),
		     "ns", base);
	by_ref.tlb = tlb;
	if (viommu_iotlb_tag_ref(tlb, &tag, &by_ref.ref) == 0) {
		snprintf(name, sizeof(name), "iotlb-ref/%u", n);
		bench_report(ctx, name, "hit_ns",
			     measure(run_ref, &by_ref, &tag, hits, lookups, reps), "ns", base);
		bench_report(ctx, name, "miss_ns",
			     measure(run_ref, &by_ref, &tag, misses, lookups, reps), "ns", base);
		snprintf(name, sizeof(name), "iotlb-ref-batch8/%u", n);
		bench_report(ctx, name, "hit_ns",
			     measure(run_batch, &by_ref, &tag, hits, lookups, reps), "ns", base);
		bench_report(ctx, name, "miss_ns",
			     measure(run_batch, &by_ref, &tag, misses, lookups, reps), "ns", base);
	}
	snprintf(fl, sizeof(fl), "floor-line/%u", n);
	bench_report(ctx, fl, "hit_ns", measure(run_line, &floor, &tag, hits, lookups, reps), "ns",
		     NULL);
	snprintf(fl, sizeof(fl), "floor-call/%u", n);
	bench_report(ctx, fl, "hit_ns", measure(run_call, &floor, &tag, hits, lookups, reps), "ns",
		     NULL);
	snprintf(fl, sizeof(fl), "floor-chase/%u", n);
	bench_report(ctx, fl, "hit_ns", measure(run_chase, &floor, &tag, hits, lookups, reps), "ns",
		     NULL);

	viommu_iotlb_destroy(tlb);
	free(floor.buf);
	free(pages);
	free(hits);
	free(misses);
	free(lin.v);
	return 0;
}

static int iotlb_run(struct bench_ctx *ctx)
{
	static const uint32_t sizes[] = { 64, 1024, 65536 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (one_size(ctx, sizes[i]))
			return -1;
	}
	return 0;
}

const struct bench_suite bench_suite_iotlb = {
	.name = "iotlb",
	.help = "shared IOTLB lookup, hit and miss, vs a linear-scan cache",
	.run = iotlb_run,
};
