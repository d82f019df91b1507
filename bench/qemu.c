// SPDX-License-Identifier: MIT
/*
 * viommu-bench qemu: QEMU's own intel-iommu against viommu-intel-iommu (libviommu's VT-d model
 * in the same QEMU binary, qemu/build.sh), the same guest and the same device properties, per
 * IOMMU mode: pktgen through emulated virtio-net, O_DIRECT disk writes and reads through
 * virtio-blk, QEMU's CPU time per packet or MiB, and the share of it in each device's translate
 * path (perf). The work is bench/qemu_side_by_side.sh (it builds or finds QEMU, boots the
 * guests and runs perf); this suite runs it and reports its rows like every other suite's.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int run(struct bench_ctx *ctx)
{
	char script[PATH_MAX], build[PATH_MAX], reflect[PATH_MAX];
	const char *env = getenv("VIOMMU_BENCH_QEMU_SCRIPT");
	const char *argv[6];
	int n = 0;

	/* From a build directory inside the source tree (build/bench/viommu-bench). */
	if (env)
		snprintf(script, sizeof(script), "%s", env);
	else if (!bench_beside_exe("../../bench/qemu_side_by_side.sh", script, sizeof(script))) {
		fprintf(stderr,
			"viommu-bench qemu: bench/qemu_side_by_side.sh not found beside the "
			"build directory; set VIOMMU_BENCH_QEMU_SCRIPT\n");
		return -1;
	}
	/*
	 * QEMU links this build's libviommu.so (found through its uninstalled pkg-config file); the
	 * peer of the guest's socket netdev is built beside viommu-vhost.
	 */
	if (!bench_beside_exe("../vhost/net_reflect", reflect, sizeof(reflect)) ||
	    !bench_beside_exe("../meson-uninstalled/viommu-uninstalled.pc", build, sizeof(build))) {
		fprintf(stderr, "viommu-bench qemu: no vhost/net_reflect or "
				"meson-uninstalled/viommu-uninstalled.pc in the build directory\n");
		return -1;
	}
	*strrchr(build, '/') = '\0';
	*strrchr(build, '/') = '\0';
	argv[n++] = "sh";
	argv[n++] = script;
	argv[n++] = build;
	argv[n++] = reflect;
	if (bench_quick(ctx))
		argv[n++] = "--quick";
	argv[n] = NULL;
	return bench_run_script(ctx, argv);
}

const struct bench_suite bench_suite_qemu = {
	.name = "qemu",
	.help = "QEMU's intel-iommu vs ours (viommu-intel-iommu) in one QEMU: guest pps, disk MiB/s, "
		"CPU per translation (minutes, root)",
	.run = run,
};
