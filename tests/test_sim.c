// SPDX-License-Identifier: MIT
/*
 * viommu-sim: the cost profiles and their override rules, determinism, per-strategy invariants
 * checked from counts, and one small scenario whose counts and times are derived by hand.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cost.h"
#include "engine.h"
#include "report.h"

static struct sim_costs *costs(void)
{
	struct sim_costs *c = NULL;
	char err[200];

	assert_int_equal(sim_costs_create(&c, err, sizeof(err)), 0);
	return c;
}

static const struct sim_config cfg_noiommu = { "noiommu", SIM_MODEL_NONE, false,
					       false,	  false,	  VG_DMA_NOIOMMU };
static const struct sim_config cfg_vtd_strict = { "vtd-strict", SIM_MODEL_VTD, false,
						  false,	false,	       VG_DMA_STRICT };
static const struct sim_config cfg_vtd_deferred = {
	"vtd-deferred", SIM_MODEL_VTD, false, false, false, VG_DMA_DEFERRED
};
static const struct sim_config cfg_vio_strict = { "virtio-iommu", SIM_MODEL_VIRTIO_IOMMU,
						  false,	  false,
						  false,	  VG_DMA_STRICT };

static struct sim_params params(const struct sim_config *k, enum sim_placement pl,
				enum sim_workload w, uint32_t size)
{
	struct sim_params p = {
		.cfg = *k,
		.placement = pl,
		.workload = w,
		.msg_size = size,
		.units = 256,
		.warmup = 64,
		.seed = 7,
	};

	return p;
}

/* Run @p: the row must be supported and its payload checked end to end. */
static void run_checked(const struct sim_params *p, const struct sim_costs *c, struct sim_result *r)
{
	assert_int_equal(sim_run(p, c, r), 0);
	assert_true(r->supported);
	assert_true(r->checked_bytes > 0);
}

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/viommu-sim-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* ---- cost profiles ---- */

static void test_builtin_profiles(void **state)
{
	struct sim_costs *c = costs();
	char err[200];

	(void)state;
	/* The default profile is x86-current; cycles are converted at the profile's clock. */
	assert_string_equal(sim_costs_selected(c), "x86-current");
	assert_true(sim_costs_profile_count(c) >= 3);
	assert_int_equal(sim_costs_select(c, "x86-2015-10g", err, sizeof(err)), 0);
	assert_true(fabs(sim_cost(c, SIM_COST_EXIT_USER_MMIO) - 8796 / 2.2) < 1e-9);
	assert_true(fabs(sim_cost(c, SIM_COST_GUEST_STACK_TX_PKT) - 1050) < 1e-9);
	assert_true(sim_cost_is_gap(c, SIM_COST_GUEST_PMD_PKT));
	assert_false(sim_cost_is_gap(c, SIM_COST_EXIT_USER_MMIO));
	assert_false(sim_cost_is_gap(c, SIM_COST_VMM_EMUL_OP));
	/* this-machine inherits x86-current's cycles, converted at its own measured clock. */
	assert_int_equal(sim_costs_select(c, "this-machine", err, sizeof(err)), 0);
	assert_true(fabs(sim_cost(c, SIM_COST_EXIT_KERNEL) - 1098 / sim_cost(c, SIM_COST_CPU_GHZ)) <
		    1e-9);
	assert_int_not_equal(sim_costs_select(c, "no-such", err, sizeof(err)), 0);
	sim_costs_destroy(c);
}

static void test_cost_overrides(void **state)
{
	struct sim_costs *c = costs();
	char err[200];
	const char *path;

	(void)state;
	/* --cost in ns replaces the profile's cycles, and the other way round. */
	assert_int_equal(sim_costs_select(c, "x86-2015-10g", err, sizeof(err)), 0);
	assert_int_equal(sim_costs_set_arg(c, "exit_user_mmio_ns=1000", err, sizeof(err)), 0);
	assert_true(fabs(sim_cost(c, SIM_COST_EXIT_USER_MMIO) - 1000) < 1e-9);
	assert_int_equal(sim_costs_set_arg(c, "syscall_cycles=220", err, sizeof(err)), 0);
	assert_true(fabs(sim_cost(c, SIM_COST_SYSCALL) - 100) < 1e-9);
	/* A GAP cost overridden from the command line is no longer a GAP. */
	assert_true(sim_cost_is_gap(c, SIM_COST_GUEST_PMD_PKT));
	assert_int_equal(sim_costs_set_arg(c, "guest_pmd_pkt_ns=300", err, sizeof(err)), 0);
	assert_false(sim_cost_is_gap(c, SIM_COST_GUEST_PMD_PKT));
	/* Errors, not warnings. */
	assert_int_not_equal(sim_costs_set_arg(c, "no_such_ns=1", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "syscall_ns=-1", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "syscall_ns=abc", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "syscall_ns=nan", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "syscall", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "cpu_ghz=0", err, sizeof(err)), 0);
	assert_int_not_equal(sim_costs_set_arg(c, "cpu_ghz_ns=1", err, sizeof(err)), 0);

	/* A file: a new profile inheriting another, and lines for the selected profile. */
	path = write_tmp("[profile mine]\ninherit = x86-current\ncpu_ghz = 3.0  # P test\n"
			 "vhost_pkt_ns = 500 # M measured\n");
	assert_int_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(sim_costs_select(c, "mine", err, sizeof(err)), 0);
	assert_true(fabs(sim_cost(c, SIM_COST_EXIT_USER_MMIO) - 8796 / 3.0) < 1e-9);
	assert_true(fabs(sim_cost(c, SIM_COST_VHOST_PKT) - 500) < 1e-9);
	path = write_tmp("syscall_ns = 7\n");
	assert_int_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	assert_true(fabs(sim_cost(c, SIM_COST_SYSCALL) - 7) < 1e-9);

	/* Redefining the selected profile with inherit (scripts/this-machine-profile.sh). */
	assert_int_equal(sim_costs_select(c, "this-machine", err, sizeof(err)), 0);
	path = write_tmp("[profile this-machine]\ninherit = x86-2015-10g\nsyscall_ns = 3 # M x\n");
	assert_int_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	assert_true(fabs(sim_cost(c, SIM_COST_SYSCALL) - 3) < 1e-9);
	assert_true(fabs(sim_cost(c, SIM_COST_CPU_GHZ) - 2.2) < 1e-9);
	/* ... including what --cost changed there before (x86-2015-10g's exit, set above). */
	assert_true(fabs(sim_cost(c, SIM_COST_EXIT_USER_MMIO) - 1000) < 1e-9);

	/* Both units of one cost in one section; inherit not first; unknown parent; junk. */
	path = write_tmp(
		"[profile bad]\ninherit = x86-current\nsyscall_ns = 1\nsyscall_cycles = 2\n");
	assert_int_not_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "both"));
	unlink(path);
	path = write_tmp("[profile bad2]\nsyscall_ns = 1\ninherit = x86-current\n");
	assert_int_not_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	path = write_tmp("[profile bad3]\ninherit = nowhere\n");
	assert_int_not_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	path = write_tmp("[profile bad4]\nsyscall_ns = 1\n"); /* incomplete: no inherit */
	assert_int_not_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	path = write_tmp("[profile\n");
	assert_int_not_equal(sim_costs_load_file(c, path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_not_equal(sim_costs_load_file(c, "/nonexistent/x.conf", err, sizeof(err)), 0);
	sim_costs_destroy(c);
}

/* ---- determinism and invariants ---- */

static void test_deterministic(void **state)
{
	struct sim_costs *c = costs();
	struct sim_params p = params(&cfg_vtd_deferred, SIM_VHOST, SIM_WL_STREAM_RX, 4000);
	struct sim_result *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	(void)state;
	assert_int_equal(sim_run(&p, c, a), 0);
	assert_int_equal(sim_run(&p, c, b), 0);
	assert_true(a->supported);
	assert_memory_equal(a->n, b->n, sizeof(a->n));
	assert_true(a->rate == b->rate);
	assert_true(a->checked_bytes > 0);
	assert_int_equal(a->bottleneck, b->bottleneck);
	free(a);
	free(b);
	sim_costs_destroy(c);
}

static void test_strict_invalidates_every_unmap(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	const struct sim_config *cfgs[] = { &cfg_vtd_strict, &cfg_vio_strict };

	(void)state;
	for (int k = 0; k < 2; k++) {
		for (int w = SIM_WL_STREAM_TX; w <= SIM_WL_STREAM_RX; w++) {
			struct sim_params p =
				params(cfgs[k], SIM_EMULATED, (enum sim_workload)w, 9000);

			assert_int_equal(sim_run(&p, c, r), 0);
			assert_true(r->unmaps_per_unit > 1);
			assert_true(fabs(r->invalidations_per_unit - r->unmaps_per_unit) < 1e-9);
			assert_true(r->flushes_per_unit == 0);
		}
	}
	free(r);
	sim_costs_destroy(c);
}

static void test_deferred_bounded(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	struct sim_params p = params(&cfg_vtd_deferred, SIM_EMULATED, SIM_WL_STREAM_TX, 9000);
	double unmaps, flushes;
	char err[200];

	(void)state;
	p.units = 4096;
	assert_int_equal(sim_run(&p, c, r), 0);
	unmaps = r->unmaps_per_unit * 4096;
	flushes = r->flushes_per_unit * 4096;
	/* Fast enough that the 10 ms timer never fires: one flush per 256 unmaps. */
	assert_int_equal(r->fq_timeouts, 0);
	assert_true(flushes >= floor(unmaps / 256) - 1 && flushes <= ceil(unmaps / 256) + 1);
	assert_true(r->invalidations_per_unit <= r->flushes_per_unit + 1e-9);

	/* A guest this slow (1 ms per message) flushes by timeout, about every 10 messages. */
	assert_int_equal(sim_costs_set_arg(c, "guest_stack_tx_pkt_ns=1000000", err, sizeof(err)),
			 0);
	p.units = 1000;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->passes >= 2);
	assert_true(r->fq_timeouts > 50);
	assert_true(r->flushes_per_unit * 1000 >= 80 && r->flushes_per_unit * 1000 <= 120);
	free(r);
	sim_costs_destroy(c);
}

/*
 * AMD-Vi (NpCache: maps are flushed too) in every placement, payload checked end to end; amdvi-v2
 * with v2 tables behind GIoV (MAP events from the v2 view).
 */
static void test_amdvi_configs(void **state)
{
	static const struct sim_config strict = { "amdvi-strict", SIM_MODEL_AMDVI, false,
						  false,	  false,	   VG_DMA_STRICT };
	static const struct sim_config lazy = { "amdvi-lazy", SIM_MODEL_AMDVI, false,
						false,	      false,	       VG_DMA_DEFERRED };
	static const struct sim_config v2 = { "amdvi-v2", SIM_MODEL_AMDVI, false, false,
					      false,	  VG_DMA_STRICT,   true };
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));

	(void)state;
	for (int pl = SIM_EMULATED; pl <= SIM_ASSIGNED; pl++) {
		for (int w = SIM_WL_STREAM_TX; w <= SIM_WL_STREAM_RX; w++) {
			struct sim_params p =
				params(&strict, (enum sim_placement)pl, (enum sim_workload)w, 9000);

			run_checked(&p, c, r);
			assert_true(r->unmaps_per_unit > 1);
			/* Every unmap and every map is invalidated. */
			assert_true(r->invalidations_per_unit >= 2 * r->unmaps_per_unit - 1e-9);
			p.cfg = lazy;
			run_checked(&p, c, r);
			assert_true(r->invalidations_per_unit < 2 * r->unmaps_per_unit);
			p.cfg = v2;
			run_checked(&p, c, r);
			assert_true(r->unmaps_per_unit > 1);
			assert_true(r->invalidations_per_unit >= 2 * r->unmaps_per_unit - 1e-9);
		}
	}
	free(r);
	sim_costs_destroy(c);
}

/*
 * Calgary: strict blasts at every unmap, lazy only at flushes; the hypercall driver never blasts
 * and exits once per map or unmap (more with batching off); an assigned device needs the TCE
 * stores trapped ("cm"), else the run is refused.
 */
static void test_calgary_configs(void **state)
{
	static const struct sim_config strict = {
		"calgary-strict", SIM_MODEL_CALGARY, false, false, false, VG_DMA_STRICT
	};
	static const struct sim_config lazy = {
		"calgary-lazy-trap", SIM_MODEL_CALGARY, true, false, false, VG_DMA_DEFERRED
	};
	static const struct sim_config hcall = { "calgary-hcall", SIM_MODEL_CALGARY_HCALL,
						 false,		  false,
						 false,		  VG_DMA_STRICT };
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));

	(void)state;
	for (int pl = SIM_EMULATED; pl <= SIM_ASSIGNED; pl++) {
		for (int w = SIM_WL_STREAM_TX; w <= SIM_WL_STREAM_RX; w++) {
			struct sim_params p =
				params(&strict, (enum sim_placement)pl, (enum sim_workload)w, 9000);

			assert_int_equal(sim_run(&p, c, r), 0);
			if (pl == SIM_ASSIGNED) {
				assert_false(r->supported);
				assert_non_null(strstr(r->why, "Calgary"));
			} else {
				assert_true(r->supported);
				assert_true(r->checked_bytes > 0);
				assert_true(r->unmaps_per_unit > 1);
				/* One blast per unmap, none for a map. */
				assert_true(fabs(r->invalidations_per_unit - r->unmaps_per_unit) <
					    1e-9);
			}
			p.cfg = lazy;
			run_checked(&p, c, r);
			assert_true(r->invalidations_per_unit < r->unmaps_per_unit);
			p.cfg = hcall;
			run_checked(&p, c, r);
			assert_true(r->invalidations_per_unit == 0);
			assert_true(r->exits_per_unit >= r->maps_per_unit + r->unmaps_per_unit);
		}
	}
	free(r);
	sim_costs_destroy(c);
}

/*
 * The arm scenario's rows on the arm-2017-thunderx profile: orderings that follow from the
 * mechanisms (no IOMMU work is fastest; a strict unmap costs a trapped CMD_SYNC; the quirk
 * adds one after every map; lazy invalidation batches them), never the figures themselves.
 */
static void test_arm_scenario(void **state)
{
	static const struct sim_config smmu3 = { "smmu3", SIM_MODEL_SMMUV3, false, false,
						 false,	  VG_DMA_STRICT };
	static const struct sim_config smmu3_cm = { "smmu3-cm", SIM_MODEL_SMMUV3, true, false,
						    false,	VG_DMA_STRICT };
	static const struct sim_config smmu3_lazy = { "smmu3-lazy", SIM_MODEL_SMMUV3, false, false,
						      false,	    VG_DMA_DEFERRED };
	struct sim_costs *c = costs();
	struct sim_result *none = malloc(sizeof(*none)), *strict = malloc(sizeof(*strict));
	struct sim_result *cm = malloc(sizeof(*cm)), *lazy = malloc(sizeof(*lazy));
	struct sim_result *vio = malloc(sizeof(*vio));
	char err[200];

	(void)state;
	assert_int_equal(sim_costs_select(c, "arm-2017-thunderx", err, sizeof(err)), 0);
	/* Cycle-valued costs are converted at the profile's own clock (2.0 GHz). */
	assert_true(fabs(sim_cost(c, SIM_COST_GUEST_DMA_MAP) * sim_cost(c, SIM_COST_CPU_GHZ) -
			 1158) < 1e-6);
	/* Without GICv4 an assigned device's interrupt still costs the vCPU an exit. */
	assert_true(sim_cost(c, SIM_COST_IRQ_POSTED) > 0);
	for (int pl = SIM_EMULATED; pl <= SIM_VHOST; pl++) {
		for (int w = SIM_WL_STREAM_TX; w <= SIM_WL_STREAM_RX; w++) {
			struct sim_params p = params(&cfg_noiommu, (enum sim_placement)pl,
						     (enum sim_workload)w, 16384);
			struct sim_result *all[] = { none, strict, cm, lazy, vio };

			assert_int_equal(sim_run(&p, c, none), 0);
			p.cfg = smmu3;
			assert_int_equal(sim_run(&p, c, strict), 0);
			p.cfg = smmu3_cm;
			assert_int_equal(sim_run(&p, c, cm), 0);
			p.cfg = smmu3_lazy;
			assert_int_equal(sim_run(&p, c, lazy), 0);
			p.cfg = cfg_vio_strict;
			assert_int_equal(sim_run(&p, c, vio), 0);
			for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
				assert_true(all[i]->supported);
				assert_true(all[i]->checked_bytes > 0);
				if (i)
					assert_true(all[i]->rate < none->rate);
			}
			/* Strict: every unmapped page is invalidated (no RIL in the seed's era). */
			assert_true(strict->invalidations_per_unit >= strict->unmaps_per_unit);
			assert_true(strict->exits_per_unit > none->exits_per_unit);
			/* The quirk adds a trapped sync after every map. */
			assert_true(cm->exits_per_unit > strict->exits_per_unit);
			assert_true(cm->rate < strict->rate);
			/* Lazy: far fewer invalidations and exits than unmaps, so faster than strict. */
			assert_true(lazy->invalidations_per_unit < lazy->unmaps_per_unit);
			assert_true(lazy->exits_per_unit < strict->exits_per_unit);
			assert_true(lazy->rate > strict->rate);
			/* Behind vhost every IOMMU row goes through the device IOTLB. */
			for (size_t i = 1; i < sizeof(all) / sizeof(all[0]); i++)
				assert_true((all[i]->devtlb_hit_rate >= 0) == (pl == SIM_VHOST));
		}
	}
	free(none);
	free(strict);
	free(cm);
	free(lazy);
	free(vio);
	sim_costs_destroy(c);
}

/* virtio-iommu lazy: UNMAPs ride on the next kick; only the map kicks (bug: a second kick). */
static void test_virtio_iommu_lazy_kicks(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	struct sim_config lazy = { "lazy", SIM_MODEL_VIRTIO_IOMMU, false, false,
				   false,  VG_DMA_DEFERRED };
	struct sim_params p = params(&lazy, SIM_ASSIGNED, SIM_WL_BLOCK, 4096);

	(void)state;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->maps_per_unit == 1 && r->unmaps_per_unit == 1);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_KICK] <= 1.0 + 2.0 / 256);
	p.cfg = cfg_vio_strict;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_KICK] == 2);
	free(r);
	sim_costs_destroy(c);
}

static void test_identity_and_noiommu(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *base = malloc(sizeof(*base));
	struct sim_config id = { "identity", SIM_MODEL_VTD, false, false, false, VG_DMA_IDENTITY };
	struct sim_params p = params(&cfg_noiommu, SIM_EMULATED, SIM_WL_STREAM_RX, 3000);

	(void)state;
	assert_int_equal(sim_run(&p, c, base), 0);
	assert_true(base->translations_per_unit == 0);
	assert_true(base->map_pages_per_unit == 0 && base->invalidations_per_unit == 0);
	p.cfg = id;
	assert_int_equal(sim_run(&p, c, r), 0);
	/* Mapped once at start: no map, unmap or invalidation afterwards, but every DMA
	 * is translated. */
	assert_true(r->map_pages_per_unit == 0);
	assert_true(r->invalidations_per_unit == 0);
	assert_true(r->translations_per_unit >= 1);
	assert_true(r->exits_per_unit == base->exits_per_unit);
	free(r);
	free(base);
	sim_costs_destroy(c);
}

static void test_never_free_and_persistent(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	struct sim_config nf = { "nf",	SIM_MODEL_VIRTIO_IOMMU, false, false,
				 false, VG_DMA_NEVER_FREE };
	struct sim_config per = { "per", SIM_MODEL_VIRTIO_IOMMU, false, false,
				  false, VG_DMA_PERSISTENT };
	struct sim_params p = params(&nf, SIM_VHOST, SIM_WL_STREAM_TX, 2000);

	(void)state;
	/* Once the working set is mapped, never-free maps nothing more. */
	p.warmup = 2048;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->map_pages_per_unit == 0);
	assert_true(r->invalidations_per_unit == 0);
	assert_true(r->devtlb_hit_rate == 1.0);
	/* Persistent bounces every byte the device reads and maps nothing per message. */
	p.cfg = per;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->map_pages_per_unit == 0);
	assert_true(r->bounce_bytes_per_unit == 2000 + 78);
	assert_true(r->checked_bytes == 256ull * 2000);
	free(r);
	sim_costs_destroy(c);
}

static void test_unsupported(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	struct sim_params p = params(&cfg_vtd_strict, SIM_ASSIGNED, SIM_WL_STREAM_TX, 1000);

	(void)state;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_false(r->supported);
	assert_non_null(strstr(r->why, "caching mode"));
	p.cfg.caching_mode = true;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->supported);
	/* Caching mode: every map and unmap becomes a VFIO call. */
	assert_true(r->vfio_calls_per_unit >= 2 * r->maps_per_unit - 1e-9);
	assert_true(r->hw_iotlb_hit_rate >= 0);
	free(r);
	sim_costs_destroy(c);
}

/*
 * Nested (seed 004): the NIC assigned to L2 through L1. The kernel driver's maps and unmaps reach
 * the host through both engines on every message; DPDK-style fixed mappings (mapped once at
 * start) make no host call at either level; L2 costs more than the same guest as L1.
 */
static void test_nested(void **state)
{
	static const struct sim_config cm = { "vtd-strict-cm", SIM_MODEL_VTD, true,
					      false,	       false,	      VG_DMA_STRICT };
	static const struct sim_config lazy = {
		"vtd-deferred-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_DEFERRED
	};
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *one = malloc(sizeof(*one));
	const struct sim_config *kernel[] = { &cm, &lazy };

	(void)state;
	for (int k = 0; k < 2; k++) {
		for (int w = SIM_WL_STREAM_TX; w <= SIM_WL_STREAM_RX; w++) {
			struct sim_params p =
				params(kernel[k], SIM_NESTED, (enum sim_workload)w, 1500);

			run_checked(&p, c, r);
			/* Every message: host calls at L1 (L1's VMM) and at L0 (into the host). */
			assert_true(r->l1_calls_per_unit >= 1);
			assert_true(r->vfio_calls_per_unit >= 1);
			assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_L2] >= 1);
			assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] >= 1); /* L1's traps */
			/* The same guest as L1, its NIC assigned to it directly. */
			p.placement = SIM_ASSIGNED;
			assert_int_equal(sim_run(&p, c, one), 0);
			assert_true(one->l1_calls_per_unit == 0);
			assert_true(one->n[SIM_RES_VCPU][SIM_EV_EXIT_L2] == 0);
			assert_true(r->busy_ns[SIM_RES_VCPU] > one->busy_ns[SIM_RES_VCPU]);
			assert_true(r->rate < one->rate);
		}
	}
	/* DPDK-style: the pool mapped once at start, nothing per packet at either level. */
	for (int k = 0; k < 2; k++) {
		struct sim_params p = params(kernel[k], SIM_NESTED, SIM_WL_POLL, 1500);

		run_checked(&p, c, r);
		assert_true(r->l1_calls_per_unit == 0);
		assert_true(r->vfio_calls_per_unit == 0);
		assert_true(r->exits_per_unit == 0);
		assert_true(r->hw_iotlb_hit_rate >= 0);
	}
	/* Without a vIOMMU in L2, L1 maps L2's RAM once: no host call per message either. */
	{
		struct sim_params p = params(&cfg_noiommu, SIM_NESTED, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->checked_bytes > 0);
		assert_true(r->l1_calls_per_unit == 0 && r->vfio_calls_per_unit == 0);
	}
	/* VT-d without caching mode cannot be shadowed at L1 either. */
	{
		struct sim_params p = params(&cfg_vtd_strict, SIM_NESTED, SIM_WL_STREAM_TX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_false(r->supported);
	}
	free(r);
	free(one);
	sim_costs_destroy(c);
}

/*
 * VT-d strict, emulated NIC, one 1000-byte send per unit, MTU 1500. Derived from the design:
 *  - the skb has two DMA elements: the head (virtio-net header + Ethernet/IPv4/TCP, 78 bytes, in
 *    a 256-byte kmalloc slot) and one 1000-byte page_frag piece (pieces are 64-byte rounded,
 *    1024 apart, so never across a page): 2 maps and 2 unmaps of one page each;
 *  - each unmap is one page-selective invalidation submitted by queued invalidation: descriptors
 *    (IOTLB + wait), then the IQT write: 1 trapped access (the VMM processes the queue inside
 *    it, so the wait status is already set and FSTS is never read), 3 units of VMM work (the
 *    IQT write and 2 descriptors), 2 descriptor fetches from guest memory;
 *  - each element is translated once by the VMM; a 4-level walk reads 4 entries (the context
 *    entry is cached after the first use);
 *  - one kick, no interrupt (transmit buffers are reaped at the next send);
 *  - the VMM copies 1078 bytes to the tap with one syscall; the wire carries 1000 + 52 + 38;
 *  - the VMM's lock is held for each exit's user-space part (the exit minus a kernel exit).
 */
static void test_hand_derived(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r));
	struct sim_params p = params(&cfg_vtd_strict, SIM_EMULATED, SIM_WL_STREAM_TX, 1000);
	const char *names[] = {
		"cpu_ghz=1",
		"exit_user_mmio_ns=1000",
		"exit_kernel_ns=200",
		"kick_ioeventfd_ns=100",
		"vmm_emul_op_ns=10",
		"sw_walk_level_ns=3",
		"guest_dma_map_ns=20",
		"guest_dma_unmap_ns=30",
		"guest_stack_tx_pkt_ns=400",
		"syscall_ns=50",
		"copy_gbyte_per_s=2",
		"vhost_pkt_ns=5",
		"link_gbps=8",
	};
	char err[200];
	double vcpu, vmm;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(sim_costs_set_arg(c, names[i], err, sizeof(err)), 0);
	p.mtu = 1500;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->supported);

	assert_true(r->n[SIM_RES_VCPU][SIM_EV_SYSCALL] == 1);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_COPY_BYTES] == 1000);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_STACK_TX] == 1);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_KICK] == 1);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_IRQ_EXIT] == 0);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_DMA_MAP] == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_DMA_UNMAP] == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_VMM_OP] == 6);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_WALK_READ] == 4);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_EXIT_MMIO] == 2);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_VMM_OP] == 6);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_WALK_READ] == 4 + 8);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_VHOST_PKT] == 1);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_SYSCALL] == 1);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_COPY_BYTES] == 1078);
	assert_true(r->n[SIM_RES_WIRE][SIM_EV_WIRE_BYTES] == 1000 + 52 + 38);
	assert_true(r->invalidations_per_unit == 2);
	assert_true(r->maps_per_unit == 2 && r->unmaps_per_unit == 2);
	assert_true(r->translations_per_unit == 2);
	assert_true(r->exits_per_unit == 3);
	assert_true(r->iotlb_hit_rate == 0);

	/* Times: the same counts priced by hand. */
	vcpu = 50 + 1000 / 2.0 + 400 + 100 + 2 * 20 + 2 * 30 + 2 * 1000 + 6 * 10 + 4 * 3;
	/* The VMM's lock is held for the user-space part of each exit: 1000 - 200 ns. */
	vmm = 2 * 800 + 6 * 10 + 12 * 3 + 5 + 50 + 1078 / 2.0;
	/*
	 * Both exits take the VMM's lock, which its own packet work (one job of 5 + 50 + 539 + 8
	 * walk reads x 3 = 618 ns per unit) holds at random times: each waits the P-K residual
	 * x * 618^2 / 2 / (1 - x * 618) at x units per ns, and the rate is the fixed point.
	 */
	{
		double x = r->rate / 1e9, w = x * 618.0 * 618.0 / 2 / (1 - x * 618.0);

		assert_true(r->waits[SIM_RES_VCPU] == 2);
		assert_true(fabs(r->wait_ns[SIM_RES_VCPU] - 2 * w) < 1e-6);
		assert_true(w > 0);
		vcpu += 2 * w;
	}
	assert_true(fabs(r->busy_ns[SIM_RES_VCPU] - vcpu) < 1e-6);
	assert_true(fabs(r->busy_ns[SIM_RES_VMM] - vmm) < 1e-6);
	assert_true(fabs(r->busy_ns[SIM_RES_WIRE] - 1090) < 1e-6);
	assert_int_equal(r->bottleneck, SIM_RES_VCPU);
	assert_int_equal(r->thread, SIM_RES_VCPU);
	assert_true(fabs(r->rate - 1e9 / vcpu) < 1e-3);
	assert_true(fabs(r->throughput_mbps - 1e9 / vcpu * 8000 / 1e6) < 1e-6);
	free(r);
	sim_costs_destroy(c);
}

/*
 * Who waits for whom. A VMM thread made slow (its per-packet work) bounds the emulated NIC and is
 * named as the busiest thread; the sidecore placement serves the vIOMMU with no exit at all;
 * virtio-mmio kicks cost a decoded in-kernel MMIO exit; more vCPUs wait longer for the VMM's lock.
 */
static void test_threads_and_waits(void **state)
{
	static const struct sim_config cfg_vtd_cm = {
		"vtd-strict-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_STRICT
	};
	struct sim_config vio_mmio = cfg_vio_strict;
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q));
	char err[200];

	(void)state;
	/* A VMM thread at 100 us per packet: the emulated back-end cannot keep up. */
	{
		struct sim_params p = params(&cfg_noiommu, SIM_EMULATED, SIM_WL_STREAM_TX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->bottleneck != SIM_RES_VMM);
		assert_int_equal(sim_costs_set_arg(c, "vhost_pkt_ns=100000", err, sizeof(err)), 0);
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_int_equal(q->bottleneck, SIM_RES_VMM);
		assert_int_equal(q->thread, SIM_RES_VMM);
		assert_true(q->thread_util > 0.99);
		assert_true(q->rate < r->rate);
		sim_costs_destroy(c);
		c = costs();
	}
	/* Sidecore: the same shadowed VT-d as assigned, but no exit per map or unmap. */
	{
		struct sim_params p = params(&cfg_vtd_cm, SIM_ASSIGNED, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] > 0);
		p.placement = SIM_SIDECORE;
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_true(q->supported && q->checked_bytes > 0);
		assert_true(q->exits_per_unit == 0);
		assert_true(q->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] == 0);
		assert_true(q->n[SIM_RES_VMM][SIM_EV_VMM_OP] == 0);
		/* The side core does the model's work and the VFIO calls; the vCPU waits for them. */
		assert_true(q->n[SIM_RES_SIDE][SIM_EV_VMM_OP] == r->n[SIM_RES_VMM][SIM_EV_VMM_OP]);
		assert_true(q->vfio_calls_per_unit == r->vfio_calls_per_unit);
		assert_true(q->n[SIM_RES_SIDE][SIM_EV_VFIO_CALL] > 0);
		assert_true(q->n[SIM_RES_VCPU][SIM_EV_SIDE_HANDOFF] ==
			    2 * r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO]);
		assert_true(q->busy_ns[SIM_RES_SIDE] > 0 && q->busy_ns[SIM_RES_VMM] == 0);
		assert_true(q->busy_ns[SIM_RES_VCPU] < r->busy_ns[SIM_RES_VCPU]);
		assert_true(q->rate > r->rate);
		/* Still a shadow: VT-d without caching mode tells the side core nothing either. */
		p.cfg = cfg_vtd_strict;
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_false(q->supported);
	}
	/* virtio-mmio: the same kicks, each exit_kernel + mmio_decode instead of kick_ioeventfd. */
	{
		struct sim_params p = params(&cfg_vio_strict, SIM_EMULATED, SIM_WL_STREAM_TX, 1500);
		double kicks;

		assert_int_equal(sim_costs_set_arg(c, "kick_ioeventfd_ns=1000", err, sizeof(err)),
				 0);
		assert_int_equal(sim_costs_set_arg(c, "exit_kernel_ns=100", err, sizeof(err)), 0);
		assert_int_equal(sim_costs_set_arg(c, "mmio_decode_ns=50", err, sizeof(err)), 0);
		assert_int_equal(sim_run(&p, c, r), 0);
		vio_mmio.mmio = true;
		p.cfg = vio_mmio;
		assert_int_equal(sim_run(&p, c, q), 0);
		/* The NIC's own kick stays virtio-pci's. */
		kicks = q->n[SIM_RES_VCPU][SIM_EV_KICK_MMIO];
		assert_true(kicks > 0 && q->n[SIM_RES_VCPU][SIM_EV_KICK] == 1);
		assert_true(r->n[SIM_RES_VCPU][SIM_EV_KICK] == kicks + 1);
		assert_true(q->exits_per_unit == r->exits_per_unit);
		assert_true(fabs((r->busy_ns[SIM_RES_VCPU] - r->wait_ns[SIM_RES_VCPU]) -
				 (q->busy_ns[SIM_RES_VCPU] - q->wait_ns[SIM_RES_VCPU]) -
				 kicks * 850) < 1e-6);
		/* Only virtio-iommu has a transport. */
		p.cfg = cfg_vtd_strict;
		p.cfg.mmio = true;
		assert_true(sim_run(&p, c, q) < 0);
	}
	/* vhost: the worker's misses, served by the VMM, wait behind the vCPU's trapped exits. */
	{
		struct sim_params p = params(&cfg_vtd_strict, SIM_VHOST, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->devtlb_misses_per_unit > 0);
		assert_true(fabs(r->waits[SIM_RES_BACKEND] - r->devtlb_misses_per_unit) < 1e-9);
		assert_true(r->wait_ns[SIM_RES_BACKEND] > 0);
		assert_true(r->waits[SIM_RES_VCPU] == r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO]);
	}
	/* Four vCPUs: each exit also waits behind the other three's (the VMM's global lock). */
	{
		struct sim_params p = params(&cfg_vtd_strict, SIM_EMULATED, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		p.vcpus = 4;
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_true(r->waits[SIM_RES_VCPU] > 0 &&
			    q->waits[SIM_RES_VCPU] == r->waits[SIM_RES_VCPU]);
		assert_true(q->wait_ns[SIM_RES_VCPU] > r->wait_ns[SIM_RES_VCPU]);
	}
	free(r);
	free(q);
	sim_costs_destroy(c);
}

/*
 * Seed 001: AMD's hardware vIOMMU. The same v2 guest as the shadowed (assigned) row, but no exit,
 * no VMM work and no host call per map or invalidation: the pointer-page accesses go to the VF
 * MMIO page and the IOMMU runs the commands (the vCPU waits on each completion as on bare
 * metal); an IOTLB miss pays the nested walk. The hybrid's emulated NIC still exits. v1 guest
 * tables cannot nest over the host's v1.
 */
static void test_amd_hwviommu(void **state)
{
	static const struct sim_config v2 = { "amdvi-v2", SIM_MODEL_AMDVI, false, false,
					      false,	  VG_DMA_STRICT,   true };
	static const struct sim_config v1 = { "amdvi-strict", SIM_MODEL_AMDVI, false,
					      false,	      false,	       VG_DMA_STRICT };
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q));
	char err[200];

	(void)state;
	for (int wl = 0; wl < 2; wl++) {
		struct sim_params p =
			params(&v2, SIM_ASSIGNED, wl ? SIM_WL_STREAM_TX : SIM_WL_STREAM_RX, 1500);
		double cmds;

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] > 0 && r->vfio_calls_per_unit > 0);
		p.placement = SIM_HWVIOMMU;
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_true(q->supported && q->checked_bytes > 0);
		assert_true(q->exits_per_unit == 0);
		assert_true(q->vfio_calls_per_unit == 0);
		assert_true(q->busy_ns[SIM_RES_VMM] == 0);
		for (int ev = 0; ev < SIM_EV_NR; ev++)
			assert_true(q->n[SIM_RES_VMM][ev] == 0);
		/*
		 * Pointer-page accesses are direct; NpCache is clear (nobody shadows), so only the
		 * unmaps' commands remain: half the shadowed row's, which flushes maps too.
		 */
		assert_true(q->n[SIM_RES_VCPU][SIM_EV_MMIO_DIRECT] > 0);
		assert_true(fabs(2 * q->n[SIM_RES_VCPU][SIM_EV_MMIO_DIRECT] -
				 r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO]) < 0.1);
		cmds = q->n[SIM_RES_VCPU][SIM_EV_HWV_CMD];
		assert_true(cmds > 0 && 2 * q->invalidations_per_unit == r->invalidations_per_unit);
		assert_true(q->n[SIM_RES_VCPU][SIM_EV_INV_HW] > 0 &&
			    q->n[SIM_RES_VCPU][SIM_EV_INV_HW] < cmds);
		assert_true(q->maps_per_unit == r->maps_per_unit);
		assert_true(q->busy_ns[SIM_RES_VCPU] < r->busy_ns[SIM_RES_VCPU]);
		assert_true(q->rate > r->rate);
		/* Fresh buffers miss the IOTLB: each miss is a nested walk on the device. */
		assert_true(q->n[SIM_RES_DEV][SIM_EV_HW_MISS] > 0);
		assert_true(q->n[SIM_RES_DEV][SIM_EV_HW_NESTED] ==
			    q->n[SIM_RES_DEV][SIM_EV_HW_MISS]);
	}
	/* The nested walk is priced by hw_nested_walk, a GAP. */
	{
		struct sim_params p = params(&v2, SIM_HWVIOMMU, SIM_WL_STREAM_RX, 1500);
		uint64_t bit = 1ull << SIM_COST_HW_NESTED_WALK;

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->gap_costs & bit);
		assert_int_equal(sim_costs_set_arg(c, "hw_nested_walk_ns=0", err, sizeof(err)), 0);
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_false(q->gap_costs & bit);
		assert_true(q->busy_ns[SIM_RES_DEV] < r->busy_ns[SIM_RES_DEV]);
		sim_costs_destroy(c);
		c = costs();
	}
	/* The hybrid: an emulated NIC's vIOMMU stays the VMM's, so its maps still exit. */
	{
		struct sim_params p = params(&v2, SIM_EMULATED, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_true(r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] > 0);
		assert_true(r->n[SIM_RES_VCPU][SIM_EV_MMIO_DIRECT] == 0);
		assert_true(r->n[SIM_RES_VMM][SIM_EV_VMM_OP] > 0);
	}
	/* Only v2 guest tables nest; no vIOMMU at all is the assigned device as it is. */
	{
		struct sim_params p = params(&v1, SIM_HWVIOMMU, SIM_WL_STREAM_RX, 1500);

		assert_int_equal(sim_run(&p, c, r), 0);
		assert_false(r->supported);
		p.cfg = cfg_vtd_strict;
		assert_int_equal(sim_run(&p, c, r), 0);
		assert_false(r->supported);
		p.cfg = cfg_noiommu;
		assert_int_equal(sim_run(&p, c, r), 0);
		p.placement = SIM_ASSIGNED;
		assert_int_equal(sim_run(&p, c, q), 0);
		assert_true(r->supported && r->rate == q->rate && r->exits_per_unit == 0);
	}
	free(r);
	free(q);
	sim_costs_destroy(c);
}

/*
 * Seed 003's placements: the OS drives the chip on bare metal (no exit, TCE stores, a blast's
 * register accesses per strict unmap); dom0 adds one hypercall per IOMMU call; a driver domain's
 * DMA API runs on its own CPU with grant ops per page, and grant-table integration removes the
 * IOMMU's own crossings. Deferred flushing blasts less; preallocation costs nothing per packet.
 */
static void test_calgary_placements(void **state)
{
	static const struct sim_config strict = {
		"calgary-strict", SIM_MODEL_CALGARY, false, false, false, VG_DMA_STRICT
	};
	static const struct sim_config lazy = { "calgary-lazy", SIM_MODEL_CALGARY, false, false,
						false,		VG_DMA_DEFERRED };
	static const struct sim_config hcall = { "calgary-hcall", SIM_MODEL_CALGARY_HCALL,
						 false,		  false,
						 false,		  VG_DMA_STRICT };
	static const struct sim_config ident = {
		"calgary-identity", SIM_MODEL_CALGARY, true, false, false, VG_DMA_IDENTITY
	};
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q)), *o = malloc(sizeof(*o));
	struct sim_params p = params(&strict, SIM_BAREMETAL, SIM_WL_STREAM_RX, 16384);

	(void)state;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->supported && r->checked_bytes > 0);
	assert_true(r->exits_per_unit == 0 && r->n[SIM_RES_VCPU][SIM_EV_HCALL] == 0);
	assert_true(r->invalidations_per_unit > 0 && r->n[SIM_RES_VCPU][SIM_EV_MMIO_NATIVE] > 0);
	/* One TCE store to map and one to clear each page. */
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE] == 2 * r->map_pages_per_unit);
	assert_true(r->busy_ns[SIM_RES_VMM] == 0 && r->n[SIM_RES_VMM][SIM_EV_VMM_OP] == 0);
	/* Deferred TCE cache flush: fewer blasts, fewer register accesses, more throughput. */
	p.cfg = lazy;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_MMIO_NATIVE] <
		    r->n[SIM_RES_VCPU][SIM_EV_MMIO_NATIVE]);
	assert_true(q->rate > r->rate);
	/* IOMMU off and preallocation: no TCE work per packet at all. */
	p.cfg = cfg_noiommu;
	assert_int_equal(sim_run(&p, c, o), 0);
	assert_true(o->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE] == 0 && o->rate >= q->rate);
	p.cfg = ident;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE] == 0 && q->rate == o->rate);
	/* No hypervisor to call on bare metal; no other model drives a Calgary chip. */
	p.cfg = hcall;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_false(q->supported);
	/* VT-d is driven natively on bare metal only (Xen's VT-d hypercalls are not modelled). */
	p.cfg = cfg_vtd_strict;
	p.placement = SIM_DOM0;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_false(q->supported);
	p.placement = SIM_BAREMETAL;

	/* dom0: the same chip work plus one hypercall per map and unmap call (strict rx). */
	p.cfg = strict;
	p.placement = SIM_DOM0;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->exits_per_unit == 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_HCALL] == q->maps_per_unit + q->unmaps_per_unit);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE] == r->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE]);
	assert_true(q->busy_ns[SIM_RES_VCPU] > r->busy_ns[SIM_RES_VCPU] && q->rate < r->rate);
	p.cfg = hcall;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->supported && q->n[SIM_RES_VCPU][SIM_EV_HCALL] > 0);

	/* domU: the DMA API and its hypercalls on the driver domain, grant ops per page. */
	p.cfg = strict;
	p.placement = SIM_DOMU;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_DMA_MAP] == 0 &&
		    q->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE] == 0);
	assert_true(q->n[SIM_RES_BACKEND][SIM_EV_DMA_MAP] > 0);
	assert_true(q->n[SIM_RES_BACKEND][SIM_EV_TCE_WRITE] ==
		    r->n[SIM_RES_VCPU][SIM_EV_TCE_WRITE]);
	assert_true(q->n[SIM_RES_BACKEND][SIM_EV_GRANT_OP] >= 2 * 16384 / 4096);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_HCALL] > 0);
	/* Grant-table integration: the IOMMU's own hypercalls are gone, its TCE work is not. */
	p.placement = SIM_DOMU_GRANT;
	assert_int_equal(sim_run(&p, c, o), 0);
	assert_true(o->n[SIM_RES_BACKEND][SIM_EV_HCALL] ==
		    q->n[SIM_RES_BACKEND][SIM_EV_HCALL] - q->maps_per_unit - q->unmaps_per_unit);
	assert_true(o->n[SIM_RES_BACKEND][SIM_EV_TCE_WRITE] ==
		    q->n[SIM_RES_BACKEND][SIM_EV_TCE_WRITE]);
	assert_true(o->rate > q->rate);
	free(r);
	free(q);
	free(o);
	sim_costs_destroy(c);
}

/*
 * VT-d on bare metal (ATC'11's and Linux 5e0d2a6fc0's): the OS's driver updates the tables and
 * spins on each queued invalidation's wait descriptor (iotlb_inv_hw); nothing exits and no VMM
 * works. Deferred flushing waits far less often. Real VT-d has no caching mode.
 */
static void test_baremetal_vtd(void **state)
{
	static const struct sim_config cm = { "vtd-strict-cm", SIM_MODEL_VTD, true,
					      false,	       false,	      VG_DMA_STRICT };
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q)), *o = malloc(sizeof(*o));
	struct sim_params p = params(&cfg_vtd_strict, SIM_BAREMETAL, SIM_WL_STREAM_TX, 1000);
	char err[200];

	(void)state;
	p.mtu = 1500;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->supported && r->checked_bytes > 0);
	assert_true(r->exits_per_unit == 0 && r->busy_ns[SIM_RES_VMM] == 0);
	/* Strict: header and payload unmapped apart, one invalidation and one wait each. */
	assert_true(r->invalidations_per_unit == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_INV_HW] == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_DMA_MAP] == 2 &&
		    r->n[SIM_RES_VCPU][SIM_EV_DMA_UNMAP] == 2);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_VMM_OP] == 0 &&
		    r->n[SIM_RES_VCPU][SIM_EV_WALK_READ] == 0);
	/* The CPU time over no IOMMU is exactly the DMA-API work and the two waits. */
	p.cfg = cfg_noiommu;
	assert_int_equal(sim_run(&p, c, o), 0);
	assert_true(fabs(r->busy_ns[SIM_RES_VCPU] - o->busy_ns[SIM_RES_VCPU] -
			 2 * sim_cost(c, SIM_COST_GUEST_DMA_MAP) -
			 2 * sim_cost(c, SIM_COST_GUEST_DMA_UNMAP) -
			 2 * sim_cost(c, SIM_COST_IOTLB_INV_HW)) < 1e-6);
	/* The wait is the cost that makes strict slow: free waits, faster strict. */
	p.cfg = cfg_vtd_strict;
	assert_int_equal(sim_costs_set_arg(c, "iotlb_inv_hw_ns=0", err, sizeof(err)), 0);
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->rate > r->rate);
	sim_costs_destroy(c);
	c = costs();
	/* Deferred: one domain flush and wait per batch, far fewer than one per unmap. */
	p.cfg = cfg_vtd_deferred;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->supported && q->checked_bytes > 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_INV_HW] < 0.5);
	assert_true(q->rate > r->rate);
	/* Caching mode is a vIOMMU's: not on real hardware. */
	p.cfg = cm;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_false(q->supported);
	free(r);
	free(q);
	free(o);
	sim_costs_destroy(c);
}

/*
 * A virtio-iommu request is priced by vmm_viommu_req, not by vmm_emul_op: the VMM's work per
 * request (and the vCPU's wait for it) follows the former only.
 */
static void test_viommu_request_cost(void **state)
{
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q));
	struct sim_params p = params(&cfg_vio_strict, SIM_EMULATED, SIM_WL_STREAM_RX, 1500);
	char err[200];

	(void)state;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->supported);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_VIOMMU_REQ] > 0);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_VIOMMU_REQ] == r->n[SIM_RES_VMM][SIM_EV_VIOMMU_REQ]);
	assert_true(r->n[SIM_RES_VMM][SIM_EV_VMM_OP] == 0);
	/* One per MAP and UNMAP request: one map and one unmap per received buffer. */
	assert_true(r->n[SIM_RES_VMM][SIM_EV_VIOMMU_REQ] == r->maps_per_unit + r->unmaps_per_unit);
	assert_int_equal(sim_costs_set_arg(c, "vmm_emul_op_ns=100000", err, sizeof(err)), 0);
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->rate == r->rate);
	assert_int_equal(sim_costs_set_arg(c, "vmm_viommu_req_ns=100000", err, sizeof(err)), 0);
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->rate < r->rate / 10);
	/* VT-d's operations stay vmm_emul_op's. */
	p.cfg = cfg_vtd_strict;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VMM][SIM_EV_VMM_OP] > 0 &&
		    q->n[SIM_RES_VMM][SIM_EV_VIOMMU_REQ] == 0);
	free(r);
	free(q);
	sim_costs_destroy(c);
}

/* ELI's baseline: an assigned device's interrupt exits once per delivery; bare metal never. */
static void test_irq_exit(void **state)
{
	static const struct sim_config base = {
		"noiommu-irq-exit", SIM_MODEL_NONE, false, false, false,
		VG_DMA_NOIOMMU,	    false,	    false, true
	};
	struct sim_costs *c = costs();
	struct sim_result *r = malloc(sizeof(*r)), *q = malloc(sizeof(*q));
	struct sim_params p = params(&cfg_noiommu, SIM_ASSIGNED, SIM_WL_STREAM_RX, 1500);

	(void)state;
	assert_int_equal(sim_run(&p, c, r), 0);
	assert_true(r->n[SIM_RES_VCPU][SIM_EV_IRQ_POSTED] == 1 &&
		    r->n[SIM_RES_VCPU][SIM_EV_IRQ_EXIT] == 0);
	p.cfg = base;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_IRQ_POSTED] == 0 &&
		    q->n[SIM_RES_VCPU][SIM_EV_IRQ_EXIT] == 1);
	assert_true(q->exits_per_unit == r->exits_per_unit + 1 && q->rate < r->rate);
	p.placement = SIM_BAREMETAL;
	assert_int_equal(sim_run(&p, c, q), 0);
	assert_true(q->n[SIM_RES_VCPU][SIM_EV_IRQ_EXIT] == 0 && q->exits_per_unit == 0);
	free(r);
	free(q);
	sim_costs_destroy(c);
}

static void test_json_keys(void **state)
{
	struct sim_costs *c = costs();
	struct sim_row rows[2] = { { .profile = "x86-current" }, { .profile = "x86-current" } };
	struct sim_params p = params(&cfg_noiommu, SIM_VHOST, SIM_WL_STREAM_TX, 1000);
	const char *keys[] = { "\"profile\":",	      "\"config\":",
			       "\"vhost\":",	      "\"direction\":",
			       "\"msg_size\":",	      "\"throughput_mbps\":",
			       "\"rel_noiommu\":",    "\"guest_cpu_util\":",
			       "\"exits_per_pkt\":",  "\"invalidations_per_pkt\":",
			       "\"iotlb_hit_rate\":", "\"bottleneck\":",
			       "\"thread\":",	      "\"thread_util\":" };
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	(void)state;
	assert_int_equal(sim_run(&p, c, &rows[0].r), 0);
	p.cfg = cfg_vtd_strict;
	assert_int_equal(sim_run(&p, c, &rows[1].r), 0);
	sim_report_relate(rows, 2);
	assert_true(rows[0].rel_noiommu == 1.0);
	assert_true(rows[1].rel_noiommu > 0 && rows[1].rel_noiommu < 1.0);
	sim_report_json_row(f, &rows[1]);
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(strstr(buf, keys[i]));
	assert_non_null(strstr(buf, "\"vhost\":\"on\""));
	sim_costs_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_profiles),
		cmocka_unit_test(test_cost_overrides),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_strict_invalidates_every_unmap),
		cmocka_unit_test(test_amdvi_configs),
		cmocka_unit_test(test_calgary_configs),
		cmocka_unit_test(test_arm_scenario),
		cmocka_unit_test(test_deferred_bounded),
		cmocka_unit_test(test_virtio_iommu_lazy_kicks),
		cmocka_unit_test(test_identity_and_noiommu),
		cmocka_unit_test(test_never_free_and_persistent),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_hand_derived),
		cmocka_unit_test(test_threads_and_waits),
		cmocka_unit_test(test_amd_hwviommu),
		cmocka_unit_test(test_calgary_placements),
		cmocka_unit_test(test_baremetal_vtd),
		cmocka_unit_test(test_viommu_request_cost),
		cmocka_unit_test(test_irq_exit),
		cmocka_unit_test(test_json_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
