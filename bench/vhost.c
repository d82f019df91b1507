// SPDX-License-Identifier: MIT
/*
 * viommu-bench vhost: viommu-vhost --reflect against DPDK's testpmd (5tswap with retry) serving
 * the same QEMU guest, per IOMMU mode. The work is bench/vhost_vs_dpdk.sh (it boots guests and
 * starts the back-ends); this suite runs it and reports its rows, so the table and --json output
 * are the same as every other suite's.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int run(struct bench_ctx *ctx)
{
	char script[PATH_MAX], vhost[PATH_MAX];
	const char *env = getenv("VIOMMU_BENCH_VHOST_SCRIPT");
	const char *argv[] = { "sh", script, vhost, bench_quick(ctx) ? "--quick" : NULL, NULL };

	/* From a build directory inside the source tree (build/bench/viommu-bench). */
	if (env)
		snprintf(script, sizeof(script), "%s", env);
	else if (!bench_beside_exe("../../bench/vhost_vs_dpdk.sh", script, sizeof(script))) {
		fprintf(stderr,
			"viommu-bench vhost: bench/vhost_vs_dpdk.sh not found beside the build "
			"directory; set VIOMMU_BENCH_VHOST_SCRIPT\n");
		return -1;
	}
	if (!bench_beside_exe("../vhost/viommu-vhost", vhost, sizeof(vhost))) {
		fprintf(stderr,
			"viommu-bench vhost: viommu-vhost not found in the build directory\n");
		return -1;
	}
	return bench_run_script(ctx, argv);
}

const struct bench_suite bench_suite_vhost = {
	.name = "vhost",
	.help = "viommu-vhost (event, --poll, --busy-poll-us) vs DPDK testpmd, alternated, 2 rounds: "
		"one QEMU guest's pps, CPU per packet and load per IOMMU mode (minutes, root)",
	.run = run,
};
