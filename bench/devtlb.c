// SPDX-License-Identifier: MIT
/*
 * devtlb: median ns per hit lookup of the device IOTLB with 16, 2048 and 65536 resident 4 KiB
 * entries (random pages, host addresses not contiguous, so nothing merges), against DPDK's sorted
 * list, Linux vhost's interval tree and QEMU VT-d's per-page hash holding the same entries, all
 * measured in the same run; then a ring-like pattern (four hot pages), and random hits again after
 * every page was invalidated and re-mapped twice over (churn); then reader throughput of
 * two reader threads, read-only and with a writer doing 100,000 updates and invalidations per
 * second (see mt_bench).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

struct lookups {
	run_fn fn;
	struct world *w;
	const struct keyset *k;
};

static uint64_t run_lookups(void *arg)
{
	const struct lookups *l = arg;

	return l->fn(l->w, l->k);
}

static double measure(run_fn fn, struct world *w, const struct keyset *k, int reps)
{
	struct lookups l = { fn, w, k };

	return bench_measure_ns(run_lookups, &l, k->n, reps);
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

/* Room for @n keys; -1 when there is none (keys_free frees what was allocated). */
static int keys_alloc(struct keyset *k, size_t n)
{
	k->n = n;
	k->iova = malloc(n * sizeof(uint64_t));
	k->len = malloc(n * sizeof(uint64_t));
	return k->iova && k->len ? 0 : -1;
}

/* Random resident pages, packet-sized lengths: every lookup hits in every structure. */
static int keys_random(struct keyset *k, const struct world *w, size_t n, uint64_t *seed)
{
	if (keys_alloc(k, n))
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
 * page-number bits, as consecutive pages have (the former front cache was indexed by them).
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
	if (keys_alloc(k, n))
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
	/*
	 * The same random hits after churn: every resident page invalidated and mapped again
	 * twice over, in random order, as a writer would leave the table (tombstones, keys off
	 * their home slots) rather than as a fresh fill does.
	 */
	for (size_t i = 0; i < 2 * n; i++) {
		size_t j = bench_rand(&seed) % n;

		viommu_devtlb_invalidate(w.tlb, w.pages[j], 4096);
		viommu_devtlb_update(w.tlb, w.pages[j], 4096, w.host[j], VIOMMU_ACC_RW);
		if (i % 256 == 0)
			viommu_devtlb_reader_quiesce(w.r);
	}
	if (run_devtlb(&w, &k) != run_phash(&w, &k)) {
		fprintf(stderr, "devtlb bench: churned device IOTLB disagrees at %zu entries\n", n);
		goto out;
	}
	snprintf(name, sizeof(name), "devtlb-churned/%zu", n);
	bench_report(ctx, name, "hit_ns", measure(run_devtlb, &w, &k, reps), "ns", phash);
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

/*
 * Two reader threads look up random resident pages (keys drawn in advance, so that a reader's
 * loop is lookups and not key generation) while the main thread either sleeps (read-only) or is
 * the writer, paced at 100,000 operations per second (INVALIDATE of a resident page, then its
 * UPDATE: two operations). Each round measures one fixed wall-clock window, the same for the
 * readers and the writer; read-only and write rounds alternate, so that load from other processes
 * hits both alike.
 *
 * Two reader throughputs, because this machine may have fewer cores than threads:
 *  - per wall-clock second: all lookups / window. With 3 threads on 2 cores the writer's CPU time
 *    (and any other process's) comes out of the readers' time, so this falls with the writer's
 *    CPU share even when the writer does not slow a single lookup.
 *  - while running: each reader times every burst of 256 lookups; bursts longer than 4 times the
 *    median burst (the thread was preempted, or its virtual CPU stolen, in the middle) are left
 *    out and the rest averaged. How fast a reader runs while it runs: this is where the writer's
 *    interference with readers shows (cache lines it writes, tables it swaps, fences), and it is
 *    what "reader throughput" means for a back-end whose queues have their own cores.
 *  - per reader CPU-second: all lookups / CPU time the reader threads consumed
 *    (CLOCK_THREAD_CPUTIME_ID). Meant to be the same as the above, but in a virtual machine whose
 *    host is overcommitted the thread CPU clock also counts time the virtual CPU was stolen.
 * The writer's achieved rate and its CPU share are reported alongside.
 */
#define MT_READERS 2
#define MT_KEYS (1u << 16) /* per reader, random resident pages in random order */
#define MT_TICK_NS 1000000ull
#define MT_BURST 256
#define MT_MAX_BURSTS (1u << 20)

struct mt {
	struct world *w;
	atomic_bool go, stop;
};

struct mt_reader {
	_Alignas(64) struct mt *mt; /* one cache line each: no false sharing between readers */
	struct viommu_devtlb_reader *r;
	uint64_t *keys;
	uint32_t *burst_ns; /* duration of each burst of MT_BURST lookups */
	pthread_t th;
	/* Results, read after join. */
	uint64_t lookups, hits, cpu_ns, nbursts;
};

struct mt_result {
	double running_mlps; /* per reader, while running (see above) */
	double excluded;     /* share of bursts left out as interrupted */
	double wall_ns;
	double lookups;
	double reader_cpu_ns;
	double writer_ops;
	double writer_cpu_ns;
	double writer_late_ns; /* the longest the writer woke after its tick */
	uint64_t hits;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *mt_reader(void *p)
{
	struct mt_reader *a = p;
	struct mt *mt = a->mt;
	uint64_t n = 0, hits = 0, acc = 0, u, cov, c0, t, nb = 0;

	while (!atomic_load_explicit(&mt->go, memory_order_acquire))
		sched_yield();
	c0 = thread_cpu_ns();
	t = bench_now_ns();
	while (!atomic_load_explicit(&mt->stop, memory_order_relaxed)) {
		uint64_t t1;

		for (unsigned int i = 0; i < MT_BURST; i++) {
			if (viommu_devtlb_lookup(a->r, a->keys[(n + i) & (MT_KEYS - 1)], 512,
						 VIOMMU_ACC_READ, &u, &cov) == 0) {
				acc += u;
				hits++;
			}
		}
		n += MT_BURST;
		/* A burst's end: a back-end holds no translation across it. */
		viommu_devtlb_reader_quiesce(a->r);
		t1 = bench_now_ns();
		if (nb < MT_MAX_BURSTS)
			a->burst_ns[nb++] = (uint32_t)(t1 - t < UINT32_MAX ? t1 - t : UINT32_MAX);
		t = t1;
	}
	a->cpu_ns = thread_cpu_ns() - c0;
	a->nbursts = nb;
	viommu_devtlb_reader_offline(a->r);
	bench_keep(acc);
	a->lookups = n;
	a->hits = hits;
	return NULL;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return (a > b) - (a < b);
}

/* Lookups per microsecond of one reader while running; *excluded: bursts left out. */
static double running_rate(struct mt_reader *a, double *excluded)
{
	uint64_t lim, sum = 0, kept = 0;

	if (!a->nbursts)
		return 0;
	qsort(a->burst_ns, a->nbursts, sizeof(uint32_t), cmp_u32);
	lim = 4ull * a->burst_ns[a->nbursts / 2];
	for (uint64_t i = 0; i < a->nbursts && a->burst_ns[i] <= lim; i++, kept++)
		sum += a->burst_ns[i];
	*excluded += (double)(a->nbursts - kept) / (double)a->nbursts;
	return sum ? (double)(kept * MT_BURST) * 1e3 / (double)sum : 0;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Paced by absolute ticks: at each tick, every operation due by then (rate x elapsed) is done,
 * so a writer that wakes late catches up at once; the window does not stretch. Returns the
 * operations done within [t0, t0 + dur].
 */
static uint64_t mt_writer(struct world *w, uint64_t rate, bool write, uint64_t t0, uint64_t dur,
			  uint64_t *seed, uint64_t *max_late)
{
	uint64_t done = 0, next = t0, now;

	*max_late = 0;
	while ((now = bench_now_ns()) < t0 + dur) {
		uint64_t due = (now - t0) * rate / 1000000000ull;

		while (write && done < due) {
			size_t i = bench_rand(seed) % w->n;

			viommu_devtlb_invalidate(w->tlb, w->pages[i], 4096);
			viommu_devtlb_update(w->tlb, w->pages[i], 4096, w->host[i], VIOMMU_ACC_RW);
			done += 2;
		}
		next += MT_TICK_NS;
		if (next > t0 + dur)
			next = t0 + dur;
		sleep_until(next);
		/* How late the scheduler let the writer run: what limits the rate on a busy machine. */
		now = bench_now_ns();
		if (now > next && now - next > *max_late)
			*max_late = now - next;
	}
	return done;
}

static int mt_run(struct world *w, struct mt_reader *a, uint64_t rate, bool write, uint64_t dur,
		  uint64_t *seed, struct mt_result *res)
{
	struct mt mt = { .w = w };
	uint64_t t0, t1, c0 = 0;

	atomic_init(&mt.go, false);
	atomic_init(&mt.stop, false);
	for (int i = 0; i < MT_READERS; i++) {
		a[i].mt = &mt;
		if (pthread_create(&a[i].th, NULL, mt_reader, &a[i]))
			return -1;
	}
	t0 = bench_now_ns();
	atomic_store_explicit(&mt.go, true, memory_order_release);
	*res = (struct mt_result){ 0 };
	{
		/* Read-only rounds tick too, without writing: the same scheduling pattern. */
		uint64_t late;

		c0 = thread_cpu_ns();
		res->writer_ops = (double)mt_writer(w, rate, write, t0, dur, seed, &late);
		res->writer_late_ns = (double)late;
		res->writer_cpu_ns = (double)(thread_cpu_ns() - c0);
	}
	atomic_store_explicit(&mt.stop, true, memory_order_relaxed);
	t1 = bench_now_ns();
	for (int i = 0; i < MT_READERS; i++) {
		pthread_join(a[i].th, NULL);
		res->lookups += (double)a[i].lookups;
		res->reader_cpu_ns += (double)a[i].cpu_ns;
		res->hits += a[i].hits;
		res->running_mlps += running_rate(&a[i], &res->excluded) / MT_READERS;
	}
	res->excluded /= MT_READERS;
	res->wall_ns = (double)(t1 - t0);
	viommu_devtlb_synchronize(w->tlb);
	return 0;
}

static int mt_bench(struct bench_ctx *ctx)
{
	struct world w;
	struct mt_reader a[MT_READERS] = { 0 };
	uint64_t dur = bench_quick(ctx) ? 50000000ull : 300000000ull;
	uint64_t seed = 42, kseed = 4242, rate = 100000;
	int rounds = bench_quick(ctx) ? 1 : 15, ret = -1;
	double ro_wall[16], rw_wall[16], ro_cpu[16], rw_cpu[16], ro_share[16], rw_share[16];
	double ops[16], wcpu[16], wlate[16], pair_run[16], pair_wall[16], ro_run[16], rw_run[16],
		ro_ex[16], rw_ex[16];
	struct viommu_devtlb_stats st;

	if (world_init(&w, 2048, 7))
		goto out;
	for (int i = 0; i < MT_READERS; i++) {
		a[i].keys = malloc(MT_KEYS * sizeof(uint64_t));
		a[i].burst_ns = malloc(MT_MAX_BURSTS * sizeof(uint32_t));
		if (!a[i].keys || !a[i].burst_ns ||
		    viommu_devtlb_reader_create(w.tlb, NULL, NULL, &a[i].r))
			goto out;
		for (unsigned int k = 0; k < MT_KEYS; k++)
			a[i].keys[k] = w.pages[bench_rand(&kseed) % w.n] + 128;
	}
	for (int i = 0; i < rounds; i++) {
		struct mt_result ro, rw;

		if (mt_run(&w, a, rate, false, dur, &seed, &ro) ||
		    mt_run(&w, a, rate, true, dur, &seed, &rw))
			goto out;
		/* Misses (a page between its INVALIDATE and UPDATE) count as lookups too. */
		/* Each write round against the read-only round just before it: same machine load. */
		pair_run[i] = ro.running_mlps > 0 ? rw.running_mlps / ro.running_mlps : 0;
		pair_wall[i] =
			ro.lookups > 0 ? (rw.lookups / rw.wall_ns) / (ro.lookups / ro.wall_ns) : 0;
		ro_run[i] = ro.running_mlps;
		rw_run[i] = rw.running_mlps;
		ro_ex[i] = 100.0 * ro.excluded;
		rw_ex[i] = 100.0 * rw.excluded;
		ro_wall[i] = ro.lookups * 1e3 / ro.wall_ns;
		rw_wall[i] = rw.lookups * 1e3 / rw.wall_ns;
		ro_cpu[i] = ro.lookups * 1e3 / ro.reader_cpu_ns;
		rw_cpu[i] = rw.lookups * 1e3 / rw.reader_cpu_ns;
		ro_share[i] = 100.0 * ro.reader_cpu_ns / (MT_READERS * ro.wall_ns);
		rw_share[i] = 100.0 * rw.reader_cpu_ns / (MT_READERS * rw.wall_ns);
		ops[i] = rw.writer_ops * 1e9 / rw.wall_ns;
		wcpu[i] = 100.0 * rw.writer_cpu_ns / rw.wall_ns;
		wlate[i] = rw.writer_late_ns / 1e6;
	}
	viommu_devtlb_get_stats(w.tlb, &st);
	fprintf(stderr,
		"devtlb: 2 reader threads, %d alternating rounds of %.1f s: read-only, then with a "
		"writer paced at %llu op/s.\n"
		"  Mlookups_per_s_run: per reader, while running: bursts of %d lookups timed, those over "
		"4x the median burst (preempted or stolen) left out (excluded_pct), the rest "
		"averaged.\n"
		"  Mlookups_per_s_wall: both readers, all lookups / wall-clock window (falls with CPU "
		"taken by the writer and other processes: %ld CPUs here).\n"
		"  Mlookups_per_cpu_s: both readers, all lookups / their thread CPU time "
		"(CLOCK_THREAD_CPUTIME_ID; counts stolen time in an overcommitted VM).\n"
		"  reader_cpu_pct: reader CPU time / (2 x window); writer_cpu_pct: writer CPU time / "
		"window; writer_max_late_ms: the longest the writer woke after a tick (scheduling).\n"
		"  paired_ratio_*: median over rounds of (write round / the read-only round just before "
		"it), less exposed to load drifting between rounds than the ratio of medians.\n"
		"  In read-only rounds the main thread wakes at the same %llu us ticks without writing "
		"(waking alone changes how a busy machine schedules the process). "
		"Medians over rounds. All threads at the same priority.\n",
		rounds, (double)dur / 1e9, (unsigned long long)rate, MT_BURST,
		sysconf(_SC_NPROCESSORS_ONLN), MT_TICK_NS / 1000);
	bench_report(ctx, "mt-read-only/2048", "Mlookups_per_s_run",
		     bench_median(ro_run, (size_t)rounds), "M/s", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "Mlookups_per_s_run",
		     bench_median(rw_run, (size_t)rounds), "M/s", "mt-read-only/2048");
	bench_report(ctx, "mt-100k-writes/2048", "paired_ratio_run",
		     bench_median(pair_run, (size_t)rounds), "x", NULL);
	bench_report(ctx, "mt-read-only/2048", "excluded_pct", bench_median(ro_ex, (size_t)rounds),
		     "%", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "excluded_pct",
		     bench_median(rw_ex, (size_t)rounds), "%", NULL);
	bench_report(ctx, "mt-read-only/2048", "Mlookups_per_s_wall",
		     bench_median(ro_wall, (size_t)rounds), "M/s", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "Mlookups_per_s_wall",
		     bench_median(rw_wall, (size_t)rounds), "M/s", "mt-read-only/2048");
	bench_report(ctx, "mt-100k-writes/2048", "paired_ratio_wall",
		     bench_median(pair_wall, (size_t)rounds), "x", NULL);
	bench_report(ctx, "mt-read-only/2048", "Mlookups_per_cpu_s",
		     bench_median(ro_cpu, (size_t)rounds), "M/s", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "Mlookups_per_cpu_s",
		     bench_median(rw_cpu, (size_t)rounds), "M/s", "mt-read-only/2048");
	bench_report(ctx, "mt-read-only/2048", "reader_cpu_pct",
		     bench_median(ro_share, (size_t)rounds), "%", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "reader_cpu_pct",
		     bench_median(rw_share, (size_t)rounds), "%", "mt-read-only/2048");
	bench_report(ctx, "mt-100k-writes/2048", "writer_ops_per_s",
		     bench_median(ops, (size_t)rounds), "op/s", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "writer_cpu_pct",
		     bench_median(wcpu, (size_t)rounds), "%", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "writer_max_late_ms",
		     bench_median(wlate, (size_t)rounds), "ms", NULL);
	bench_report(ctx, "mt-100k-writes/2048", "updates_dropped", (double)st.dropped, "count",
		     NULL);
	ret = 0;
out:
	for (int i = 0; i < MT_READERS; i++) {
		viommu_devtlb_reader_destroy(a[i].r);
		free(a[i].keys);
		free(a[i].burst_ns);
	}
	world_free(&w);
	return ret;
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
