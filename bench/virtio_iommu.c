// SPDX-License-Identifier: MIT
/*
 * virtio-iommu: MAP+UNMAP request pairs the device processes per second (virtqueue handling
 * included, host side only: the timed region is the queue notification, after the "driver" has
 * written the requests and made them available), and DMA translations per second, with 10,000
 * live mappings in the domain. Baselines measured in the same run:
 *  - noent-virtqueue: the same requests sent to a domain that does not exist, so each is popped,
 *    parsed, rejected at the domain lookup and completed: the virtqueue and parsing overhead;
 *  - sorted-array: the same MAP/UNMAP semantics (overlap check, split check) and lookups on a
 *    naive sorted array (binary search, memmove insert/remove), in process, no virtqueue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <viommu/flatmem.h>
#include <viommu/spec/virtio.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/virtio_iommu.h>

#include "bench.h"

/*
 * Rates use the thread's CPU time, not wall time: the figure asked for is work per second on one
 * core, and CPU time does not count the time this thread spent preempted on a shared machine.
 */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define MEM_SIZE (64u << 20)
#define QSIZE 1024u
#define NSLOTS (QSIZE / 2) /* two descriptors per request */
#define Q_DESC 0x100000ull
#define Q_AVAIL 0x110000ull
#define Q_USED 0x120000ull
#define BUFS 0x200000ull
#define SLOT 64u
#define TAIL_AT 48u
#define PG 0x1000ull
#define LIVE 10000u
#define T_ATTACH VIOMMU_VIRTIO_IOMMU_T_ATTACH
#define T_MAP VIOMMU_VIRTIO_IOMMU_T_MAP
#define T_UNMAP VIOMMU_VIRTIO_IOMMU_T_UNMAP
#define TAIL_SIZE sizeof(struct viommu_virtio_iommu_req_tail)

struct rig {
	struct viommu_flatmem *fm;
	struct viommu *v;
	uint16_t avail_idx;
};

static void st16(struct rig *r, uint64_t a, uint16_t v)
{
	memcpy(viommu_flatmem_ptr(r->fm, a, 2), &v, 2);
}

/* Request @k of the next batch: buffer, two descriptors, ring entry (little-endian host). */
static void put_req(struct rig *r, unsigned int k, uint8_t type, uint32_t domain, uint64_t a,
		    uint64_t b, uint64_t phys)
{
	uint64_t buf = BUFS + (uint64_t)k * SLOT;
	uint64_t d = Q_DESC + 2 * sizeof(struct viommu_virtio_virtq_desc) * k;
	uint8_t *p = viommu_flatmem_ptr(r->fm, buf, SLOT);
	uint32_t rlen;

	memset(p, 0, SLOT);
	if (type == T_ATTACH) {
		struct viommu_virtio_iommu_req_attach q = { .head.type = type,
							    .domain = domain,
							    .endpoint = (uint32_t)a };

		rlen = sizeof(q) - TAIL_SIZE;
		memcpy(p, &q, rlen);
	} else if (type == T_MAP) {
		struct viommu_virtio_iommu_req_map q = {
			.head.type = type,
			.domain = domain,
			.virt_start = a,
			.virt_end = b,
			.phys_start = phys,
			.flags = VIOMMU_VIRTIO_IOMMU_MAP_F_READ | VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE,
		};

		rlen = sizeof(q) - TAIL_SIZE;
		memcpy(p, &q, rlen);
	} else {
		struct viommu_virtio_iommu_req_unmap q = {
			.head.type = type, .domain = domain, .virt_start = a, .virt_end = b
		};

		rlen = sizeof(q) - TAIL_SIZE;
		memcpy(p, &q, rlen);
	}
	{
		struct viommu_virtio_virtq_desc ds[2] = {
			{ buf, rlen, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT, (uint16_t)(2 * k + 1) },
			{ buf + TAIL_AT, TAIL_SIZE, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0 },
		};

		memcpy(viommu_flatmem_ptr(r->fm, d, sizeof(ds)), ds, sizeof(ds));
	}
	st16(r, Q_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF + 2 * ((r->avail_idx + k) % QSIZE),
	     (uint16_t)(2 * k));
}

/* Publish @n prepared requests, kick, and return the kick's duration in ns. */
static uint64_t kick(struct rig *r, unsigned int n)
{
	uint64_t t0;

	r->avail_idx = (uint16_t)(r->avail_idx + n);
	st16(r, Q_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, r->avail_idx);
	t0 = cpu_ns();
	viommu_virtio_iommu_queue_notify(r->v, 0);
	return cpu_ns() - t0;
}

/* Every request of the last batch completed with @want. */
static int check(struct rig *r, unsigned int n, uint8_t want)
{
	uint16_t used;

	memcpy(&used, viommu_flatmem_ptr(r->fm, Q_USED + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, 2), 2);
	if (used != r->avail_idx)
		return -1;
	for (unsigned int k = 0; k < n; k++) {
		if (*(uint8_t *)viommu_flatmem_ptr(r->fm, BUFS + (uint64_t)k * SLOT + TAIL_AT, 1) !=
		    want)
			return -1;
	}
	return 0;
}

static int rig_init(struct rig *r)
{
	struct viommu_virtio_iommu_config cfg = { .queue_size_max = QSIZE };
	struct viommu_virtio_queue q = {
		.size = QSIZE, .desc = Q_DESC, .avail = Q_AVAIL, .used = Q_USED
	};

	memset(r, 0, sizeof(*r));
	if (viommu_flatmem_create(0, MEM_SIZE, &r->fm) ||
	    viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), r->fm, &r->v) ||
	    viommu_virtio_iommu_add_endpoint(r->v, 1))
		return -1;
	viommu_virtio_iommu_set_status(r->v, 3);
	viommu_virtio_iommu_set_driver_features(r->v, VIOMMU_VIRTIO_F_VERSION_1 |
							      VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP);
	viommu_virtio_iommu_set_status(r->v, 11);
	if (viommu_virtio_iommu_queue_enable(r->v, 0, &q))
		return -1;
	/* The request queue wants no interrupts, as Linux's driver asks. */
	st16(r, Q_AVAIL + VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF,
	     VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
	viommu_virtio_iommu_set_status(r->v, 15);
	put_req(r, 0, T_ATTACH, 1, 1, 0, 0);
	kick(r, 1);
	if (check(r, 1, 0))
		return -1;
	/* LIVE mappings on even pages; the measured pairs use odd pages between them. */
	for (unsigned int i = 0; i < LIVE; i += NSLOTS) {
		unsigned int n = LIVE - i < NSLOTS ? LIVE - i : NSLOTS;

		for (unsigned int k = 0; k < n; k++) {
			uint64_t iova = 2ull * (i + k) * PG;

			put_req(r, k, T_MAP, 1, iova, iova + PG - 1, 0x1000000 + iova);
		}
		kick(r, n);
		if (check(r, n, 0))
			return -1;
	}
	return 0;
}

static void rig_fini(struct rig *r)
{
	viommu_destroy(r->v);
	viommu_flatmem_destroy(r->fm);
}

/* Median pairs per second over @reps repetitions of @batches batches of NSLOTS/2 pairs. */
static double run_pairs(struct rig *r, uint32_t domain, uint8_t want, int reps, int batches,
			uint64_t *seed, int *err)
{
	double rate[16];

	for (int rep = 0; rep < reps; rep++) {
		uint64_t ns = 0;

		for (int b = 0; b < batches; b++) {
			for (unsigned int k = 0; k < NSLOTS; k += 2) {
				uint64_t iova = (2 * (bench_rand(seed) % LIVE) + 1) * PG;

				put_req(r, k, T_MAP, domain, iova, iova + PG - 1, 0x1000000 + iova);
				put_req(r, k + 1, T_UNMAP, domain, iova, iova + PG - 1, 0);
			}
			ns += kick(r, NSLOTS);
			if (check(r, NSLOTS, want))
				*err = 1;
		}
		rate[rep] = (double)batches * (NSLOTS / 2) / ((double)ns / 1e9);
	}
	return bench_median(rate, (size_t)reps);
}

/* ---- the naive baseline: a sorted array of mappings ---------------------------------------- */

struct arr_map {
	uint64_t start, end, phys;
	uint32_t flags;
};

struct arr {
	struct arr_map *m;
	size_t n;
};

/* First index whose start is > @a. */
static size_t arr_upper(const struct arr *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->m[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int arr_map(struct arr *s, uint64_t a, uint64_t b, uint64_t phys)
{
	size_t i = arr_upper(s, a);

	if ((i > 0 && s->m[i - 1].end >= a) || (i < s->n && s->m[i].start <= b))
		return -1;
	memmove(&s->m[i + 1], &s->m[i], (s->n - i) * sizeof(*s->m));
	s->m[i] = (struct arr_map){ a, b, phys, 3 };
	s->n++;
	return 0;
}

static int arr_unmap(struct arr *s, uint64_t a, uint64_t b)
{
	size_t i = arr_upper(s, a), j;

	if (i > 0 && s->m[i - 1].start < a && s->m[i - 1].end >= a)
		return -1;
	j = arr_upper(s, b);
	if (j > 0 && s->m[j - 1].end > b)
		return -1;
	i = (i > 0 && s->m[i - 1].start == a) ? i - 1 : i;
	memmove(&s->m[i], &s->m[j], (s->n - j) * sizeof(*s->m));
	s->n -= j - i;
	return 0;
}

static const struct arr_map *arr_lookup(const struct arr *s, uint64_t a)
{
	size_t i = arr_upper(s, a);

	return i > 0 && s->m[i - 1].end >= a ? &s->m[i - 1] : NULL;
}

static int run(struct bench_ctx *ctx)
{
	const bool quick = bench_quick(ctx);
	const int reps = quick ? 2 : 11, batches = quick ? 20 : 200;
	const size_t nx = quick ? 100000 : 2000000;
	uint64_t seed = 0x5eed, *keys;
	double rate[16];
	struct arr s = { 0 };
	struct rig r;
	int err = 0;
	double v;

	if (rig_init(&r)) {
		fprintf(stderr, "virtio-iommu: setup failed\n");
		return -1;
	}
	v = run_pairs(&r, 99, 6 /* NOENT */, reps, batches, &seed, &err);
	bench_report(ctx, "noent-virtqueue", "pairs/s", v / 1e6, "M/s", NULL);
	s.m = calloc(LIVE + 2, sizeof(*s.m));
	keys = calloc(nx, sizeof(*keys));
	if (!s.m || !keys) {
		free(s.m);
		free(keys);
		rig_fini(&r);
		return -1;
	}
	for (unsigned int i = 0; i < LIVE; i++)
		arr_map(&s, 2ull * i * PG, 2ull * i * PG + PG - 1, 0x1000000 + 2ull * i * PG);
	for (int rep = 0; rep < reps; rep++) {
		size_t pairs = (size_t)batches * (NSLOTS / 2);
		uint64_t t0 = cpu_ns();

		for (size_t i = 0; i < pairs; i++) {
			uint64_t iova = (2 * (bench_rand(&seed) % LIVE) + 1) * PG;

			err |= arr_map(&s, iova, iova + PG - 1, 0x1000000 + iova);
			err |= arr_unmap(&s, iova, iova + PG - 1);
		}
		rate[rep] = (double)pairs / ((double)(cpu_ns() - t0) / 1e9);
	}
	bench_report(ctx, "sorted-array-10k", "pairs/s", bench_median(rate, (size_t)reps) / 1e6,
		     "M/s", NULL);
	v = run_pairs(&r, 1, 0 /* OK */, reps, batches, &seed, &err);
	bench_report(ctx, "device-10k vs noent", "pairs/s", v / 1e6, "M/s", "noent-virtqueue");
	bench_report(ctx, "device-10k vs sorted-array", "pairs/s", v / 1e6, "M/s",
		     "sorted-array-10k");

	/* Translations: random hits among the live mappings. */
	for (size_t i = 0; i < nx; i++)
		keys[i] = 2 * (bench_rand(&seed) % LIVE) * PG + (bench_rand(&seed) & (PG - 1));
	for (int rep = 0; rep < reps; rep++) {
		uint64_t acc = 0, t0 = cpu_ns();

		for (size_t i = 0; i < nx; i++) {
			const struct arr_map *m = arr_lookup(&s, keys[i]);

			acc += m ? m->phys + (keys[i] - m->start) : 0;
		}
		bench_keep(acc);
		rate[rep] = (double)nx / ((double)(cpu_ns() - t0) / 1e9);
	}
	bench_report(ctx, "sorted-array-10k", "translations/s",
		     bench_median(rate, (size_t)reps) / 1e6, "M/s", NULL);
	for (int rep = 0; rep < reps; rep++) {
		struct viommu_xlate_req req = { .sid = 1, .len = 4, .access = VIOMMU_ACC_READ };
		struct viommu_xlate_result res;
		uint64_t acc = 0, t0 = cpu_ns();

		for (size_t i = 0; i < nx; i++) {
			req.iova = keys[i];
			viommu_translate(r.v, &req, &res);
			acc += res.out;
		}
		bench_keep(acc);
		rate[rep] = (double)nx / ((double)(cpu_ns() - t0) / 1e9);
		if (!viommu_xlate_ok(&res))
			err = 1;
	}
	bench_report(ctx, "device-10k", "translations/s", bench_median(rate, (size_t)reps) / 1e6,
		     "M/s", "sorted-array-10k");
	free(s.m);
	free(keys);
	rig_fini(&r);
	if (err)
		fprintf(stderr, "virtio-iommu: a request or lookup gave an unexpected result\n");
	return err ? -1 : 0;
}

const struct bench_suite bench_suite_virtio_iommu = {
	.name = "virtio-iommu",
	.help = "MAP+UNMAP pairs and translations per CPU-second, 10k live mappings",
	.run = run,
};
