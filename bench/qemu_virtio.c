// SPDX-License-Identifier: MIT
/*
 * viommu-bench qemu-virtio: libviommu's devices inside QEMU against QEMU's own, side by side in the same
 * patched binary (qemu/build.sh), with the same guest workloads per mode. The work is
 * bench/qemu_virtio_side_by_side.sh (it builds or finds QEMU and boots the guests); this suite runs it
 * and reports its rows.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int run(struct bench_ctx *ctx)
{
	char script[PATH_MAX], build[PATH_MAX];
	const char *argv[5];
	int n = 0;
	const char *env = getenv("VIOMMU_BENCH_QEMU_VIRTIO_SCRIPT");

	/* From a build directory inside the source tree (build/bench/viommu-bench). */
	if (env)
		snprintf(script, sizeof(script), "%s", env);
	else if (!bench_beside_exe("../../bench/qemu_virtio_side_by_side.sh", script,
				   sizeof(script))) {
		fprintf(stderr,
			"viommu-bench qemu-virtio: bench/qemu_virtio_side_by_side.sh not found beside the "
			"build directory; set VIOMMU_BENCH_QEMU_VIRTIO_SCRIPT\n");
		return -1;
	}
	/* The build directory: QEMU links its libviommu.so, and the test peers live there. */
	if (!bench_beside_exe("../tests/net_reflect", build, sizeof(build))) {
		fprintf(stderr,
			"viommu-bench qemu-virtio: tests/net_reflect not found in the build "
			"directory\n");
		return -1;
	}
	argv[n++] = "sh";
	argv[n++] = script;
	argv[n++] = build;
	if (bench_quick(ctx))
		argv[n++] = "--quick";
	argv[n] = NULL;
	return bench_run_script(ctx, argv);
}

const struct bench_suite bench_suite_qemu_virtio = {
	.name = "qemu-virtio",
	.help = "QEMU's virtio-iommu vs ours (x-viommu=on) in one QEMU: guest pps and disk MB/s (minutes, root)",
	.run = run,
};
