// SPDX-License-Identifier: MIT
/*
 * viommu-bench SUITE|all [--json] [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static const struct bench_suite *const suites[] = {
	&bench_suite_iotlb,  &bench_suite_sys,		&bench_suite_pt,
	&bench_suite_vtd,    &bench_suite_amdvi,	&bench_suite_amd_hwviommu,
	&bench_suite_smmuv3, &bench_suite_virtio_iommu, &bench_suite_devtlb,
	&bench_suite_vhost,  &bench_suite_qemu,		&bench_suite_qemu_virtio,
	&bench_suite_tce,    &bench_suite_shadow,
};

#define NSUITES (sizeof(suites) / sizeof(suites[0]))
#define MAX_ROWS 512

struct row {
	const char *suite;
	char case_name[64];
	char metric[48];
	char unit[16];
	char baseline[64];
	double value;
	double ratio;
	bool has_ratio;
};

struct bench_ctx {
	const struct bench_suite *suite;
	bool json;
	bool quick;
	struct row rows[MAX_ROWS];
	size_t nrows;
	size_t suite_first; /* first row of the running suite */
};

/*
 * VIOMMU_BENCH_CPUTIME=1: time by the thread's CPU clock instead of the wall clock, for a
 * machine shared with other loads (time while preempted is not counted; their cache pollution
 * still is). Single-threaded suites only: the figures of the others mean nothing then.
 */
static clockid_t bench_clock(void)
{
	static int which = -1;

	if (which < 0) {
		const char *e = getenv("VIOMMU_BENCH_CPUTIME");

		which = e && !strcmp(e, "1");
	}
	return which ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(bench_clock(), &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_measure_ways_ns(bench_way_fn run, void *arg, unsigned int nways, size_t n, int reps,
			   double *ns)
{
	double per[BENCH_MAX_WAYS][64];

	if (reps > 64)
		reps = 64;
	if (nways > BENCH_MAX_WAYS)
		nways = BENCH_MAX_WAYS;
	for (int r = 0; r < reps; r++) {
		for (unsigned int w = 0; w < nways; w++) {
			uint64_t t0;

			/* Untimed first: what the way before left in the caches is not its cost. */
			if (r == 0 || nways > 1)
				bench_keep(run(arg, w));
			t0 = bench_now_ns();
			bench_keep(run(arg, w));
			per[w][r] = (double)(bench_now_ns() - t0) / (double)n;
		}
	}
	for (unsigned int w = 0; w < nways; w++)
		ns[w] = bench_median(per[w], (size_t)(reps > 0 ? reps : 0));
}

struct one_way {
	bench_run_fn run;
	void *arg;
};

static uint64_t run_one_way(void *arg, unsigned int way)
{
	const struct one_way *o = arg;

	(void)way;
	return o->run(o->arg);
}

double bench_measure_ns(bench_run_fn run, void *arg, size_t n, int reps)
{
	struct one_way o = { run, arg };
	double ns;

	bench_measure_ways_ns(run_one_way, &o, 1, n, reps, &ns);
	return ns;
}

bool bench_quick(const struct bench_ctx *ctx)
{
	return ctx->quick;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct row *r)
{
	printf("{\"suite\":");
	json_str(r->suite);
	printf(",\"case\":");
	json_str(r->case_name);
	printf(",\"metric\":");
	json_str(r->metric);
	printf(",\"value\":%.6g,\"unit\":", r->value);
	json_str(r->unit);
	if (r->baseline[0]) {
		printf(",\"baseline\":");
		json_str(r->baseline);
		if (r->has_ratio)
			printf(",\"ratio\":%.6g", r->ratio);
	}
	printf("}\n");
	fflush(stdout);
}

void bench_report(struct bench_ctx *ctx, const char *case_name, const char *metric, double value,
		  const char *unit, const char *baseline)
{
	struct row *r;

	if (ctx->nrows == MAX_ROWS) {
		fprintf(stderr, "viommu-bench: too many rows\n");
		return;
	}
	r = &ctx->rows[ctx->nrows++];
	memset(r, 0, sizeof(*r));
	r->suite = ctx->suite->name;
	snprintf(r->case_name, sizeof(r->case_name), "%s", case_name);
	snprintf(r->metric, sizeof(r->metric), "%s", metric);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->value = value;
	if (baseline) {
		snprintf(r->baseline, sizeof(r->baseline), "%s", baseline);
		for (size_t i = ctx->suite_first; i < ctx->nrows - 1; i++) {
			const struct row *b = &ctx->rows[i];

			if (!strcmp(b->case_name, baseline) && !strcmp(b->metric, metric) &&
			    b->value > 0) {
				r->ratio = value / b->value;
				r->has_ratio = true;
				break;
			}
		}
	}
	if (ctx->json)
		print_json(r);
}

static void print_table(const struct bench_ctx *ctx)
{
	printf("%-34s %-20s %14s %-6s %-30s %8s\n", "case", "metric", "value", "unit", "baseline",
	       "ratio");
	for (size_t i = ctx->suite_first; i < ctx->nrows; i++) {
		const struct row *r = &ctx->rows[i];
		char ratio[32] = "";

		if (r->has_ratio)
			snprintf(ratio, sizeof(ratio), "%.3f", r->ratio);
		printf("%-34s %-20s %14.3f %-6s %-30s %8s\n", r->case_name, r->metric, r->value,
		       r->unit, r->baseline, ratio);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: viommu-bench SUITE|all [--json] [--quick]\n\n"
		   "Measures libviommu against baselines measured in the same run. Each row's\n"
		   "ratio is its value divided by its baseline's value for the same metric\n"
		   "(for a time, below 1 is faster).\n\nsuites:\n");
	for (size_t i = 0; i < NSUITES; i++)
		fprintf(f, "  %-14s %s\n", suites[i]->name, suites[i]->help);
}

int main(int argc, char **argv)
{
	static struct bench_ctx ctx;
	const char *want = NULL;
	int ret = 0;
	bool found = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx.json = true;
		} else if (!strcmp(argv[i], "--quick")) {
			ctx.quick = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] != '-' && !want) {
			want = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!want) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < NSUITES; i++) {
		if (strcmp(want, "all") && strcmp(want, suites[i]->name))
			continue;
		found = true;
		ctx.suite = suites[i];
		ctx.suite_first = ctx.nrows;
		if (!ctx.json)
			printf("== %s: %s\n", suites[i]->name, suites[i]->help);
		if (suites[i]->run(&ctx)) {
			fprintf(stderr, "viommu-bench: suite %s failed\n", suites[i]->name);
			ret = 1;
		}
		if (!ctx.json) {
			print_table(&ctx);
			printf("\n");
		}
	}
	if (!found) {
		fprintf(stderr, "viommu-bench: no suite '%s'\n", want);
		usage(stderr);
		return 2;
	}
	return ret;
}
