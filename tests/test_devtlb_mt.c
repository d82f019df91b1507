// SPDX-License-Identifier: MIT
/*
 * Device IOTLB under concurrency: one writer (updates, invalidations, flushes, grace periods,
 * miss listing) and reader threads doing lookups, as a vhost back-end's control thread and queues
 * would. Every page of the IOVA window only ever maps to one host address, so any hit can be
 * checked exactly; a per-page state word published after each operation returns lets readers
 * check the invalidation guarantee: a lookup that starts after the INVALIDATE of its page
 * returned (and before anything else touched the page) must miss. Also run under TSan and ASan,
 * which check the reclamation of tables readers may still be probing.
 */
#include "test_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include <viommu/devtlb.h>

#define NPAGES 256
#define IOVA_BASE 0x100000000ull
#define HOST_BASE 0x7f0000000000ull
#define NREADERS 2
/* Fewer under TSan, which slows every atomic access; the interleavings still vary. */
#if defined(__SANITIZE_THREAD__)
#define WRITER_OPS 15000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WRITER_OPS 15000
#endif
#endif
#ifndef WRITER_OPS
#define WRITER_OPS 40000
#endif

/* state: seq << 2 | mode */
enum { UNMAPPED = 0, MAPPED = 1, CHANGING = 2 };

struct shared {
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *r[NREADERS];
	_Atomic uint64_t state[NPAGES];
	atomic_bool done;
	atomic_bool reader_failed;
	_Atomic uint64_t lookups;  /* by all readers: the writer paces itself on it */
	_Atomic uint64_t stop_seq; /* odd while a stop/start is under way */
	_Atomic uint64_t wakes;
	uint64_t seed;
};

struct reader_arg {
	struct shared *sh;
	int idx;
	uint64_t hits, misses, must_miss_checked;
	int errors;
	char msg[160];
};

static void on_wake(void *opaque)
{
	struct shared *sh = opaque;

	atomic_fetch_add(&sh->wakes, 1);
}

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct shared *sh = a->sh;
	struct viommu_devtlb_reader *r = sh->r[a->idx];
	struct test_rng g = { a->sh->seed + 100 + (uint64_t)a->idx };
	uint64_t n = 0;

	while (!atomic_load_explicit(&sh->done, memory_order_acquire) && !a->errors) {
		uint64_t pg = test_below(&g, NPAGES), off = test_below(&g, 0x1000);
		uint64_t x = IOVA_BASE + pg * 0x1000 + off, len = 1 + test_below(&g, 0x3000);
		uint64_t s1, s2, ss1, ss2, u = 0, cov = 0;
		int ret;

		ss1 = atomic_load_explicit(&sh->stop_seq, memory_order_acquire);
		s1 = atomic_load_explicit(&sh->state[pg], memory_order_acquire);
		ret = viommu_devtlb_lookup(r, x, len, VIOMMU_ACC_READ, &u, &cov);
		s2 = atomic_load_explicit(&sh->state[pg], memory_order_acquire);
		ss2 = atomic_load_explicit(&sh->stop_seq, memory_order_acquire);
		if (ret == 0) {
			a->hits++;
			if (u != HOST_BASE + (x - IOVA_BASE) || cov < 1 || cov > len ||
			    x + cov > IOVA_BASE + NPAGES * 0x1000ull) {
				snprintf(a->msg, sizeof(a->msg), "bad hit x=%llx u=%llx cov=%llx",
					 (unsigned long long)x, (unsigned long long)u,
					 (unsigned long long)cov);
				a->errors++;
			}
		} else {
			a->misses++;
			/* ENOENT only while stopped: during a stop/start the lookup overlapped. */
			if (ret != VIOMMU_EAGAIN &&
			    !(ret == VIOMMU_ENOENT && (ss1 != ss2 || (ss1 & 1)))) {
				snprintf(a->msg, sizeof(a->msg), "lookup returned %d", ret);
				a->errors++;
			}
		}
		if (s1 == s2 && (s1 & 3) == UNMAPPED) {
			a->must_miss_checked++;
			if (ret == 0) {
				snprintf(a->msg, sizeof(a->msg),
					 "hit on page %llu invalidated before the lookup started",
					 (unsigned long long)pg);
				a->errors++;
			}
		}
		atomic_fetch_add_explicit(&sh->lookups, 1, memory_order_relaxed);
		if (++n % 32 == 0)
			viommu_devtlb_reader_quiesce(r);
		if (n % 4096 == 0) {
			viommu_devtlb_reader_offline(r);
			viommu_devtlb_reader_online(r);
		}
	}
	if (a->errors)
		atomic_store(&sh->reader_failed, true);
	viommu_devtlb_reader_offline(r);
	return NULL;
}

static void set_state(struct shared *sh, uint64_t first, uint64_t n, int mode)
{
	for (uint64_t p = first; p < first + n && p < NPAGES; p++) {
		uint64_t s = atomic_load_explicit(&sh->state[p], memory_order_relaxed);

		atomic_store_explicit(&sh->state[p], ((s >> 2) + 1) << 2 | (uint64_t)mode,
				      memory_order_release);
	}
}

static void writer(struct shared *sh)
{
	struct test_rng g = { sh->seed };
	struct viommu_devtlb_miss m[16];

	for (unsigned int op = 0; op < WRITER_OPS; op++) {
		uint64_t pg = test_below(&g, NPAGES), n = 1 + test_below(&g, 4);
		unsigned int kind = (unsigned int)test_below(&g, 100);

		/*
		 * Interleave by construction, not by the scheduler's grace: on a loaded machine the
		 * writer could otherwise finish before a reader ran at all. Every 32 operations, wait
		 * until the readers have made one lookup per 4 writer operations.
		 */
		if (op % 32 == 0) {
			while (atomic_load_explicit(&sh->lookups, memory_order_relaxed) < op / 4 &&
			       !atomic_load(&sh->reader_failed))
				sched_yield();
		}

		if (pg + n > NPAGES)
			n = NPAGES - pg;
		if (kind < 50) {
			set_state(sh, pg, n, CHANGING);
			assert_int_equal(viommu_devtlb_update(sh->tlb, IOVA_BASE + pg * 0x1000,
							      n * 0x1000, HOST_BASE + pg * 0x1000,
							      VIOMMU_ACC_RW),
					 0);
			set_state(sh, pg, n, MAPPED);
		} else if (kind < 95) {
			set_state(sh, pg, n, CHANGING);
			assert_int_equal(viommu_devtlb_invalidate(sh->tlb, IOVA_BASE + pg * 0x1000,
								  n * 0x1000),
					 0);
			set_state(sh, pg, n, UNMAPPED);
		} else if (kind < 96) {
			set_state(sh, 0, NPAGES, CHANGING);
			viommu_devtlb_flush(sh->tlb);
			set_state(sh, 0, NPAGES, UNMAPPED);
		} else if (kind < 97) {
			/* Stop (lookups answer ENOENT, nothing survives) and start again. */
			atomic_fetch_add_explicit(&sh->stop_seq, 1, memory_order_release);
			set_state(sh, 0, NPAGES, CHANGING);
			viommu_devtlb_stop(sh->tlb);
			viommu_devtlb_start(sh->tlb);
			set_state(sh, 0, NPAGES, UNMAPPED);
			atomic_fetch_add_explicit(&sh->stop_seq, 1, memory_order_release);
		} else if (kind < 98) {
			viommu_devtlb_take_misses(sh->tlb, m, 16);
		} else if (op % 2000 == 0 && getenv("DBG")) {
			struct viommu_devtlb_stats s;
			viommu_devtlb_get_stats(sh->tlb, &s);
			fprintf(stderr, "op %u entries %llu retired %llu dropped %llu\n", op,
				(unsigned long long)s.entries, (unsigned long long)s.retired,
				(unsigned long long)s.dropped);
		} else if (op % 2000 == 0) {
			viommu_devtlb_synchronize(sh->tlb);
		}
	}
}

static void test_readers_and_writer(void **state)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct reader_arg args[NREADERS];
	pthread_t th[NREADERS];
	struct viommu_devtlb_config cfg = { .capacity = 512 };
	struct viommu_devtlb_stats st;
	uint64_t hits = 0, misses = 0, checked = 0;

	(void)state;
	assert_non_null(sh);
	sh->seed = test_seed(0xc0ffee);
	assert_int_equal(viommu_devtlb_create(&cfg, &sh->tlb), 0);
	viommu_devtlb_start(sh->tlb);
	for (int i = 0; i < NREADERS; i++) {
		assert_int_equal(viommu_devtlb_reader_create(sh->tlb, on_wake, sh, &sh->r[i]), 0);
		memset(&args[i], 0, sizeof(args[i]));
		args[i].sh = sh;
		args[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	writer(sh);
	atomic_store_explicit(&sh->done, true, memory_order_release);
	for (int i = 0; i < NREADERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (args[i].errors)
			fail_msg("reader %d: %s", i, args[i].msg);
		hits += args[i].hits;
		misses += args[i].misses;
		checked += args[i].must_miss_checked;
	}
	viommu_devtlb_get_stats(sh->tlb, &st);
	fprintf(stderr, "# %llu hits, %llu lookups checked against a finished invalidation\n",
		(unsigned long long)hits, (unsigned long long)checked);
	fprintf(stderr, "# lookups %llu, updates %llu, invalidations %llu, wakes %llu\n",
		(unsigned long long)st.lookups, (unsigned long long)st.updates,
		(unsigned long long)st.invalidations, (unsigned long long)atomic_load(&sh->wakes));
	fprintf(stderr, "# entries %llu, retired %llu, dropped %llu, evictions %llu\n",
		(unsigned long long)st.entries, (unsigned long long)st.retired,
		(unsigned long long)st.dropped, (unsigned long long)st.evictions);
	/* The readers' own counts and the library's agree. */
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.lookups, hits + misses);
	assert_true(hits > 0 && checked > 0);
	/* Everything retired can be reclaimed once the readers are offline. */
	viommu_devtlb_synchronize(sh->tlb);
	viommu_devtlb_get_stats(sh->tlb, &st);
	assert_int_equal(st.retired, 0);
	for (int i = 0; i < NREADERS; i++)
		viommu_devtlb_reader_destroy(sh->r[i]);
	viommu_devtlb_destroy(sh->tlb);
	free(sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_and_writer),
	};

	return cmocka_run_group_tests_name("devtlb_mt", tests, NULL, NULL);
}
