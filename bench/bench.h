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

#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/viommu.h>

struct bench_ctx;
struct viommu_flatmem;

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

/*
 * The model suites' shared harness (model.c). One batch of translations of @iova[0..@n-1]: way
 * BENCH_XL_MODEL through the model @v as stream @sid; way BENCH_XL_BASE through the baseline,
 * the bare lookup in @tlb with @tag if @tlb is set, else the plan walk of @plan through @walker
 * (then of its output through @p2 and @w2 if @p2 is set), else the walk of @cfg over flatmem
 * @mem through a walker made for the run. With BENCH_XL_LAT added to the way, each request's
 * IOVA depends on the result of the one before (a dependent chain: the latency of a request,
 * where the loop without it lets the CPU overlap requests and measures throughput).
 */
struct bench_xl {
	struct viommu *v;
	uint32_t sid;
	struct viommu_iotlb *tlb;
	struct viommu_iotlb_tag tag;
	struct viommu_pt_walker *walker, *w2;
	struct viommu_pt_plan *plan, *p2;
	const struct viommu_pt_cfg *cfg;
	void *mem;
	const uint64_t *iova;
	size_t n;
};

enum { BENCH_XL_BASE = 0, BENCH_XL_MODEL = 1, BENCH_XL_LAT = 2, BENCH_XL_NWAYS = 4 };

/* A bench_way_fn over ways BENCH_XL_BASE and BENCH_XL_MODEL (+ BENCH_XL_LAT) of a bench_xl. */
uint64_t bench_xl_run(void *arg, unsigned int way);

/*
 * The four ways of @a (baseline and model, each without and with the dependent chain) measured
 * interleaved (bench_measure_ways_ns()): the median ns per translation of way w in @ns[w].
 */
void bench_xl_ways(struct bench_xl *a, int reps, double ns[BENCH_XL_NWAYS]);

/* Destroy @a's walkers and plans (those it has). */
void bench_xl_free(struct bench_xl *a);

/*
 * Make @a's baseline the nested plan walk over flatmem @fm: the walk of @c1 (stage 1, or the
 * guest's v2 table) with every table read first translated by the walk of @c2 (stage 2, or the
 * host's v1 table), then the walk of its output through @c2: the dependent loads of a nested
 * miss, done by the pt layer alone. Sets @a's plan, p2, walker, w2 and mem (bench_xl_free()
 * frees them); @a must stay where it is while they are used.
 */
int bench_xl_nested(struct bench_xl *a, const struct viommu_pt_cfg *c1,
		    const struct viommu_pt_cfg *c2, struct viommu_flatmem *fm);

/* bench_measure_ns() of one way of @a. */
double bench_xl_ns(struct bench_xl *a, unsigned int way, int reps);

/* Fill a baseline IOTLB as the model's holds @pages 4 KiB pages: @iova -> @out, read/write. */
void bench_xl_fill_tlb(struct viommu_iotlb *tlb, const struct viommu_iotlb_tag *tag, uint64_t iova,
		       uint64_t out, uint64_t pages);

/* @n random pages of @pages from @base; @in_page adds a varying 8-byte offset in the page. */
void bench_xl_random_pages(uint64_t *iova, size_t n, uint64_t base, uint64_t pages, uint64_t seed,
			   bool in_page);

/*
 * The hot rows' measurement, for a model whose IOTLB holds @pages 4 KiB pages @iova -> @out (with
 * @a->tag): @n random reads of those pages, through @a->v and @a->sid and through a bare IOTLB
 * filled alike, the ways interleaved (bench_xl_ways()); the median ns per read of way w in @ns[w].
 */
int bench_model_hot(struct bench_xl *a, uint64_t iova, uint64_t out, uint64_t pages, size_t n,
		    int reps, double ns[BENCH_XL_NWAYS]);

/* The miss rows: the baseline @base, @name against it, and @name's IOTLB miss ratio. */
void bench_report_miss(struct bench_ctx *ctx, const char *base, const char *name, double wns,
		       double ns, uint64_t misses, uint64_t translations);

/* The latency rows (dependent chains): "@base/lat", and "@name/lat" against it. */
void bench_report_lat(struct bench_ctx *ctx, const char *base, const char *name, double wns,
		      double ns);

/*
 * The invalidate+sync row: @flush(arg, iova) invalidates one page as the guest driver issues it
 * (for pages cycling over 4096 from @iova), against the bare IOTLB invalidation of the same page
 * with @tag (row "iotlb-invalidate/page", reported unless @consumer); @consumer attaches a
 * MAP/UNMAP notifier on @sid first.
 */
struct bench_inv {
	const char *name;
	uint32_t sid;
	struct viommu_iotlb_tag tag;
	uint64_t iova;
	bool consumer;
	void (*flush)(void *arg, uint64_t iova);
};

/* Median ns of one flush over @reps (at most 64) batches of @n, through model @v. 0 or -1. */
int bench_model_inv(struct bench_ctx *ctx, const struct bench_inv *b, struct viommu *v, void *arg,
		    int reps, int n);

/*
 * The model suites' batch sizes: @reps batches of @hot hot translations, of @miss misses (@nested
 * for nested walks), of @inv invalidations; fewer and smaller under --quick.
 */
struct bench_model_sizes {
	int reps;
	size_t hot, miss, nested;
	int inv;
};

void bench_model_sizes(const struct bench_ctx *ctx, struct bench_model_sizes *s);

/*
 * The tables AMD-Vi's DTE at @dte (flatmem @fm) names for a request without PASID under GIoV:
 * @v1 the host (v1) table of its Mode and root (levels 0 when Mode is 0), @v2 the 4-level x86-64
 * guest table of GCR3 entry 0, the GCR3 table read through @v1 when there is one. 0, or -1 when
 * the DTE has no guest translation or GCR3 entry 0 is not valid (amdvi.c).
 */
int bench_amdvi_dte_tables(struct viommu_flatmem *fm, uint64_t dte, struct viommu_pt_cfg *v2,
			   struct viommu_pt_cfg *v1);

extern const struct bench_suite bench_suite_iotlb;
extern const struct bench_suite bench_suite_sys;
extern const struct bench_suite bench_suite_pt;
extern const struct bench_suite bench_suite_vtd;
extern const struct bench_suite bench_suite_amdvi;
extern const struct bench_suite bench_suite_amd_hwviommu;
extern const struct bench_suite bench_suite_smmuv3;
extern const struct bench_suite bench_suite_tce;
extern const struct bench_suite bench_suite_virtio_iommu;
extern const struct bench_suite bench_suite_qemu_virtio;
extern const struct bench_suite bench_suite_shadow;
extern const struct bench_suite bench_suite_devtlb;
extern const struct bench_suite bench_suite_vhost;
extern const struct bench_suite bench_suite_qemu;

#endif
