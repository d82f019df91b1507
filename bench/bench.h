/* SPDX-License-Identifier: MIT */
/*
 * viommu-bench: one driver, many suites. A suite measures its cases and reports rows; a row may
 * name a baseline measured in the same run, and the driver prints the ratio to it.
 */
#ifndef VIOMMU_BENCH_H
#define VIOMMU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_ctx;

struct bench_suite {
	const char *name;
	const char *help;
	int (*run)(struct bench_ctx *ctx);
};

/*
 * Report one measurement. @baseline names the case whose value for the same @metric was
 * measured earlier in this run; pass NULL when this row is itself a baseline or has none.
 */
void bench_report(struct bench_ctx *ctx, const char *case_name, const char *metric, double value,
		  const char *unit, const char *baseline);

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median of @n doubles (sorts the array). */
double bench_median(double *v, size_t n);

/* One timed run of a measurement: its items done, a value computed from them returned. */
typedef uint64_t (*bench_run_fn)(void *arg);

/*
 * Median ns per item over @reps (at most 64) runs of @run(@arg), each doing @n items, after one
 * untimed run that warms the caches.
 */
double bench_measure_ns(bench_run_fn run, void *arg, size_t n, int reps);

/* One timed run of way @way of a measurement that compares several ways of doing the same items. */
typedef uint64_t (*bench_way_fn)(void *arg, unsigned int way);

#define BENCH_MAX_WAYS 16

/*
 * bench_measure_ns() for ways 0..@nways-1 (at most BENCH_MAX_WAYS) of the same items, with the
 * runs interleaved (each repetition times every way once, right after an untimed run of the same
 * way), so that a busy spell of the machine falls on all of them alike and their ratios hold;
 * the median ns per item of way w in @ns[w].
 */
void bench_measure_ways_ns(bench_way_fn run, void *arg, unsigned int nways, size_t n, int reps,
			   double *ns);

/* True when a quick run was asked for (--quick): fewer repetitions, for smoke tests. */
bool bench_quick(const struct bench_ctx *ctx);

/* Keep the compiler from discarding a computed value. */
static inline void bench_keep(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

/* Deterministic generator for workloads. */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * For suites whose work is a script: @out = the directory of this executable + "/" + @rel; true
 * if that is a regular file.
 */
bool bench_beside_exe(const char *rel, char *out, size_t size);

/*
 * Run /bin/sh with @argv (argv[0] "sh", NULL-terminated) and report each
 * "ROW\tcase\tmetric\tvalue\tunit\tbaseline" line of its standard output; its standard error
 * passes through. 0 if it exited with status 0.
 */
int bench_run_script(struct bench_ctx *ctx, const char *const *argv);

extern const struct bench_suite bench_suite_iotlb;
extern const struct bench_suite bench_suite_sys;
extern const struct bench_suite bench_suite_pt;
extern const struct bench_suite bench_suite_vtd;
extern const struct bench_suite bench_suite_amdvi;
extern const struct bench_suite bench_suite_smmuv3;
extern const struct bench_suite bench_suite_tce;
extern const struct bench_suite bench_suite_virtio_iommu;
extern const struct bench_suite bench_suite_qemu_virtio;
extern const struct bench_suite bench_suite_shadow;
extern const struct bench_suite bench_suite_devtlb;
extern const struct bench_suite bench_suite_vhost;
extern const struct bench_suite bench_suite_qemu;

#endif
