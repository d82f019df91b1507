// SPDX-License-Identifier: MIT
/*
 * devtlb: median ns per hit lookup of the device IOTLB with 16, 2048 and 65536 resident 4 KiB
 * entries (random pages, host addresses not contiguous, so nothing merges), against DPDK's sorted
 * list, Linux vhost's interval tree and QEMU VT-d's per-page hash holding the same entries, all
 * measured in the same run; then the per-queue front cache on a ring-like pattern; then reader
 * throughput of two reader threads, read-only and with a writer doing 100,000 updates and
 * invalidations per second.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <viommu/devtlb.h>

#include "bench.h"
#include "devtlb_baselines.h"

struct keyset {
	uint64_t *iova;
	uint64_t *len;
	size_t n;
};

struct world {
	size_t n;
	uint64_t *pages; /* resident iova pages */
	uint64_t *host;	 /* their host addresses */
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *r;
	struct bl_list *list;
	struct bl_itree *itree;
	struct bl_phash *phash;
};

typedef uint64_t (*run_fn)(struct world *w, const struct keyset *k);

static uint64_t run_devtlb(struct world *w, const struct keyset *k)
{
	uint64_t acc = 0, u, cov;

	for (size_t i = 0; i < k->n; i++) {
		if (viommu_devtlb_lookup(w->r, k->iova[i], k->len[i], VIOMMU_ACC_READ, &u, &cov) ==
		    0)
			acc += u + cov;
	}
	viommu_devtlb_reader_quiesce(w->r);
	return acc;
}

static uint64_t run_list(struct world *w, const struct keyset *k)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < k->n; i++) {
		uint64_t len = k->len[i];

		acc += bl_list_find(w->list, k->iova[i], &len, VIOMMU_ACC_READ) + len;
	}
	return acc;
}

static uint64_t run_itree(struct world *w, const struct keyset *k)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < k->n; i++) {
		uint64_t len = k->len[i];

		acc += bl_itree_find(w->itree, k->iova[i], &len, VIOMMU_ACC_READ) + len;
	}
	return acc;
}

static uint64_t run_phash(struct world *w, const struct keyset *k)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < k->n; i++) {
		uint64_t len = k->len[i];

		acc += bl_phash_find(w->phash, k->iova[i], &len, VIOMMU_ACC_READ) + len;
	}
	return acc;
}

static double measure(run_fn fn, struct world *w, const struct keyset *k, int reps)
{
	double per[64];

	bench_keep(fn(w, k)); /* warm caches */
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();

		bench_keep(fn(w, k));
		per[r] = (double)(bench_now_ns() - t0) / (double)k->n;
	}
	return bench_median(per, (size_t)reps);
}

static void world_free(struct world *w)
{
	viommu_devtlb_reader_destroy(w->r);
	viommu_devtlb_destroy(w->tlb);
	bl_list_destroy(w->list);
	bl_itree_destroy(w->itree);
	bl_phash_destroy(w->phash);
	free(w->pages);
	free(w->host);
}

static int world_init(struct world *w, size_t n, uint64_t seed)
{
	struct viommu_devtlb_config cfg = { .capacity = (uint32_t)n };

	*w = (struct world){ .n = n };
	w->pages = malloc(n * sizeof(uint64_t));
	w->host = malloc(n * sizeof(uint64_t));
	w->list = bl_list_create(n);
	w->itree = bl_itree_create();
	w->phash = bl_phash_create(n);
	if (!w->pages || !w->host || !w->list || !w->itree || !w->phash ||
	    viommu_devtlb_create(&cfg, &w->tlb) ||
	    viommu_devtlb_reader_create(w->tlb, NULL, NULL, &w->r))
		return -1;
	viommu_devtlb_start(w->tlb);
	/* n distinct pages scattered over 64 GiB; host pages scattered too (no merging). */
	for (size_t i = 0; i < n; i++) {
		w->pages[i] = ((uint64_t)i * 7919 % (16ull << 20)) << 12;
		w->host[i] = 0x7f0000000000ull + (((uint64_t)i * 104729 + 17) % (1ull << 24) << 12);
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = bench_rand(&seed) % i;
		uint64_t x = w->pages[i - 1];

		w->pages[i - 1] = w->pages[j];
		w->pages[j] = x;
	}
	for (size_t i = 0; i < n; i++) {
		if (viommu_devtlb_update(w->tlb, w->pages[i], 4096, w->host[i], VIOMMU_ACC_RW))
			return -1;
		bl_list_append(w->list, w->pages[i], 4096, w->host[i], VIOMMU_ACC_RW);
		bl_itree_insert(w->itree, w->pages[i], 4096, w->host[i], VIOMMU_ACC_RW);
		bl_phash_insert(w->phash, w->pages[i], 12, w->host[i], VIOMMU_ACC_RW);
	}
	bl_list_link(w->list);
	return 0;
}

/* Random resident pages, packet-sized lengths: every lookup hits in every structure. */
static int keys_random(struct keyset *k, const struct world *w, size_t n, uint64_t *seed)
{
	k->n = n;
	k->iova = malloc(n * sizeof(uint64_t));
	k->len = malloc(n * sizeof(uint64_t));
	if (!k->iova || !k->len)
		return -1;
	for (size_t i = 0; i < n; i++) {
		k->iova[i] = w->pages[bench_rand(seed) % w->n] + (bench_rand(seed) & 0x7ff);
		k->len[i] = 64 + bench_rand(seed) % 1454;
	}
	return 0;
}

/*
 * A queue's pattern: descriptor ring, avail ring, used ring, and a buffer, over and over. A split
 * ring's three areas sit on consecutive pages, so the four hot pages are chosen with distinct low
 * page-number bits (distinct front-cache slots), as consecutive pages have.
 */
static int keys_ring(struct keyset *k, const struct world *w, size_t n, uint64_t *seed)
{
	uint64_t hot[4];
	size_t nhot = 0;

	for (size_t i = 0; i < w->n && nhot < 4; i++) {
		bool clash = false;

		for (size_t j = 0; j < nhot; j++)
			clash |= ((hot[j] ^ w->pages[i]) >> 12 & 7) == 0;
		if (!clash)
			hot[nhot++] = w->pages[i];
	}
	for (size_t i = 0; nhot < 4; i++)
		hot[nhot++] = w->pages[i]; /* fewer than 4 colours resident: take any */
	k->n = n;
	k->iova = malloc(n * sizeof(uint64_t));
	k->len = malloc(n * sizeof(uint64_t));
	if (!k->iova || !k->len)
		return -1;
	for (size_t i = 0; i < n; i++) {
		k->iova[i] = hot[i % 4] + (bench_rand(seed) & 0x7ff);
		k->len[i] = 16;
	}
	return 0;
}

static void keys_free(struct keyset *k)
{
	free(k->iova);
	free(k->len);
}

static int one_size(struct bench_ctx *ctx, size_t n)
{
	struct world w;
	struct keyset k = { 0 }, kl = { 0 }, kt = { 0 }, kr = { 0 };
	size_t lookups = bench_quick(ctx) ? 1u << 12 : 1u << 18;
	size_t list_lookups = (size_t)(1u << 22) / n;
	/* The slow baselines get fewer lookups and repetitions at large sizes. */
	size_t tree_lookups = n >= 65536 ? lookups >> 6 : lookups;
	int reps = bench_quick(ctx) ? 3 : 21, slow_reps = bench_quick(ctx) ? 3 : 11;
	uint64_t seed = 0xde7170b + n;
	char name[64], list[64], itree[64], phash[64];
	int ret = -1;

	if (list_lookups > lookups)
		list_lookups = lookups;
	if (list_lookups < 64)
		list_lookups = 64;
	if (world_init(&w, n, seed) || keys_random(&k, &w, lookups, &seed) ||
	    keys_random(&kl, &w, list_lookups, &seed) ||
	    keys_random(&kt, &w, tree_lookups, &seed) || keys_ring(&kr, &w, lookups, &seed))
		goto out;
	/* Every structure must hit every key before its speed means anything. */
	if (run_devtlb(&w, &k) != run_phash(&w, &k) || run_itree(&w, &k) != run_phash(&w, &k) ||
	    run_list(&w, &kl) != run_phash(&w, &kl)) {
		fprintf(stderr, "devtlb bench: structures disagree at %zu entries\n", n);
		goto out;
	}
	snprintf(list, sizeof(list), "sorted-list/%zu", n);
	snprintf(itree, sizeof(itree), "interval-tree/%zu", n);
	snprintf(phash, sizeof(phash), "page-hash/%zu", n);
	snprintf(name, sizeof(name), "devtlb/%zu", n);
	bench_report(ctx, list, "hit_ns", measure(run_list, &w, &kl, slow_reps), "ns", NULL);
	bench_report(ctx, itree, "hit_ns", measure(run_itree, &w, &kt, slow_reps), "ns", NULL);
	bench_report(ctx, phash, "hit_ns", measure(run_phash, &w, &k, reps), "ns", NULL);
	double d = measure(run_devtlb, &w, &k, reps);

	bench_report(ctx, name, "hit_ns", d, "ns", list);
	bench_report(ctx, name, "hit_ns", d, "ns", itree);
	bench_report(ctx, name, "hit_ns", d, "ns", phash);
	snprintf(name, sizeof(name), "devtlb-ring/%zu", n);
	bench_report(ctx, name, "hit_ns", measure(run_devtlb, &w, &kr, reps), "ns", itree);
	ret = 0;
out:
	keys_free(&k);
	keys_free(&kl);
	keys_free(&kt);
	keys_free(&kr);
	world_free(&w);
	return ret;
}

/* ---- Readers with and without a writer ---- */

struct mt {
	struct world *w;
	atomic_bool stop;
	_Atomic uint64_t lookups;
	_Atomic uint64_t writer_ops;
	uint64_t write_rate; /* operations per second, 0 for none */
	uint64_t seed;
};

struct mt_reader {
	_Alignas(64) struct mt *mt; /* one cache line each: no false sharing between readers */
	struct viommu_devtlb_reader *r;
	uint64_t seed;
};

static void *mt_reader(void *p)
{
	struct mt_reader *a = p;
	struct mt *mt = a->mt;
	uint64_t n = 0, acc = 0, u, cov, seed = a->seed;
	const uint64_t *pages = mt->w->pages;
	size_t npages = mt->w->n;

	while (!atomic_load_explicit(&mt->stop, memory_order_relaxed)) {
		for (int i = 0; i < 256; i++) {
			uint64_t x = pages[bench_rand(&seed) % npages] + 128;

			if (viommu_devtlb_lookup(a->r, x, 512, VIOMMU_ACC_READ, &u, &cov) == 0)
				acc += u;
		}
		n += 256;
		viommu_devtlb_reader_quiesce(a->r);
	}
	viommu_devtlb_reader_offline(a->r);
	bench_keep(acc);
	atomic_fetch_add(&mt->lookups, n);
	return NULL;
}

/*
 * Paced in 1 ms rounds: invalidate a resident page, then map it again (2 operations). A writer
 * that wakes late catches up, and it always completes rate x duration operations, so a loaded
 * machine stretches the window instead of lowering the write rate unnoticed.
 */
static void mt_writer(struct mt *mt, uint64_t duration_ns)
{
	uint64_t t0 = bench_now_ns(), done = 0, seed = mt->seed;
	uint64_t total = duration_ns / 1000000ull * mt->write_rate / 1000ull;

	while (done < total) {
		uint64_t el = bench_now_ns() - t0;
		uint64_t due = (el < duration_ns ? el : duration_ns) / 1000ull * mt->write_rate /
			       1000000ull;

		while (done < due) {
			size_t i = bench_rand(&seed) % mt->w->n;

			viommu_devtlb_invalidate(mt->w->tlb, mt->w->pages[i], 4096);
			viommu_devtlb_update(mt->w->tlb, mt->w->pages[i], 4096, mt->w->host[i],
					     VIOMMU_ACC_RW);
			done += 2;
		}
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&mt->writer_ops, done);
}

static int mt_run(struct world *w, uint64_t rate, uint64_t duration_ns, double *lookups_per_s,
		  double *ops_per_s)
{
	struct mt mt = { .w = w, .write_rate = rate, .seed = 42 };
	struct mt_reader a[2];
	pthread_t th[2];
	uint64_t t0;

	atomic_init(&mt.stop, false);
	atomic_init(&mt.lookups, 0);
	atomic_init(&mt.writer_ops, 0);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct mt_reader){ .mt = &mt, .seed = 1000 + (uint64_t)i };
		if (viommu_devtlb_reader_create(w->tlb, NULL, NULL, &a[i].r))
			return -1;
	}
	t0 = bench_now_ns();
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&th[i], NULL, mt_reader, &a[i]))
			return -1;
	}
	if (rate) {
		mt_writer(&mt, duration_ns);
	} else {
		struct timespec ts = { (time_t)(duration_ns / 1000000000ull),
				       (long)(duration_ns % 1000000000ull) };

		nanosleep(&ts, NULL);
	}
	atomic_store(&mt.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	{
		double el = (double)(bench_now_ns() - t0);

		*lookups_per_s = (double)atomic_load(&mt.lookups) * 1e9 / el;
		*ops_per_s = (double)atomic_load(&mt.writer_ops) * 1e9 / el;
	}
	for (int i = 0; i < 2; i++)
		viommu_devtlb_reader_destroy(a[i].r);
	viommu_devtlb_synchronize(w->tlb);
	return 0;
}

static int mt_bench(struct bench_ctx *ctx)
{
	struct world w;
	uint64_t dur = bench_quick(ctx) ? 50000000ull : 500000000ull;
	int rounds = bench_quick(ctx) ? 1 : 5;
	double ro[8], rw[8], ops[8], dummy;
	struct viommu_devtlb_stats st;

	if (world_init(&w, 2048, 7)) {
		world_free(&w);
		return -1;
	}
	/* Alternate the two cases so that load from other processes hits both alike. */
	for (int i = 0; i < rounds; i++) {
		if (mt_run(&w, 0, dur, &ro[i], &dummy) ||
		    mt_run(&w, 100000, dur, &rw[i], &ops[i])) {
			world_free(&w);
			return -1;
		}
	}
	viommu_devtlb_get_stats(w.tlb, &st);
	bench_report(ctx, "2-readers-read-only/2048", "Mlookups_per_s",
		     bench_median(ro, (size_t)rounds) / 1e6, "M/s", NULL);
	bench_report(ctx, "2-readers-100k-writes/2048", "Mlookups_per_s",
		     bench_median(rw, (size_t)rounds) / 1e6, "M/s", "2-readers-read-only/2048");
	bench_report(ctx, "2-readers-100k-writes/2048", "writer_ops_per_s",
		     bench_median(ops, (size_t)rounds), "op/s", NULL);
	bench_report(ctx, "2-readers-100k-writes/2048", "updates_dropped", (double)st.dropped,
		     "count", NULL);
	world_free(&w);
	return 0;
}

static int devtlb_run(struct bench_ctx *ctx)
{
	static const size_t sizes[] = { 16, 2048, 65536 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (one_size(ctx, sizes[i]))
			return -1;
	}
	return mt_bench(ctx);
}

const struct bench_suite bench_suite_devtlb = {
	.name = "devtlb",
	.help = "device IOTLB hit lookup vs sorted list, interval tree, page hash; readers + writer",
	.run = devtlb_run,
};
