// SPDX-License-Identifier: MIT
/*
 * viommu-sim: what each vIOMMU design costs and how to cut it (docs/cost-model.md).
 *
 * A scenario is a list of configurations (model + guest strategy) crossed with placements,
 * workloads and message sizes; every combination is one sim_run(). The default scenario is the
 * seeds' x86 comparison (seed 000) followed by the optimised configurations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cost.h"
#include "engine.h"
#include "report.h"
#include "scenario.h"
#include "validate.h"

#define MAX_ROWS 4096

/* Configurations any scenario may name. */
static const struct sim_config builtin_configs[] = {
	{ "noiommu", SIM_MODEL_NONE, false, false, false, VG_DMA_NOIOMMU },
	{ "vtd-deferred", SIM_MODEL_VTD, false, false, false, VG_DMA_DEFERRED },
	{ "vtd-strict", SIM_MODEL_VTD, false, false, false, VG_DMA_STRICT },
	{ "vtd-strict-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_STRICT },
	{ "virtio-iommu", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_STRICT },
	/* Seed 000's virtio-iommu (2017): a virtio-mmio device on Arm and in the x86 prototype. */
	{ "virtio-iommu-mmio", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_STRICT, false,
	  true },
	{ "virtio-iommu-batched-deferred", SIM_MODEL_VIRTIO_IOMMU, false, false, false,
	  VG_DMA_BATCHED_DEFERRED },
	{ "vtd-devtlb", SIM_MODEL_VTD, true, false, true, VG_DMA_BATCHED_DEFERRED },
	{ "identity", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_IDENTITY },
	{ "persistent", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_PERSISTENT },
	{ "never-free", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_NEVER_FREE },
	{ "vtd-deferred-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_DEFERRED },
	{ "vtd-batched-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_BATCHED },
	{ "vtd-identity-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_IDENTITY },
	{ "vtd-never-free-cm", SIM_MODEL_VTD, true, false, false, VG_DMA_NEVER_FREE },
	{ "virtio-iommu-deferred", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_DEFERRED },
	{ "virtio-iommu-batched", SIM_MODEL_VIRTIO_IOMMU, false, false, false, VG_DMA_BATCHED },
	/* AMD-Vi with NpCache (the driver flushes after mapping, so MAP consumers work). */
	{ "amdvi-strict", SIM_MODEL_AMDVI, false, false, false, VG_DMA_STRICT },
	{ "amdvi-lazy", SIM_MODEL_AMDVI, false, false, false, VG_DMA_DEFERRED },
	{ "amdvi-devtlb", SIM_MODEL_AMDVI, false, false, true, VG_DMA_BATCHED_DEFERRED },
	/* Linux 6.12's amd_iommu=pgtbl_v2: x86-64 tables through GCR3 entry 0 (GIoV), strict. */
	{ "amdvi-v2", SIM_MODEL_AMDVI, false, false, false, VG_DMA_STRICT, true },
	{ "amdvi-v2-lazy", SIM_MODEL_AMDVI, false, false, false, VG_DMA_DEFERRED, true },
	/* Calgary: strict blasts at every unmap; lazy at each flush (Linux's own driver blasts
	 * only when its allocator wraps); the hypercall driver needs no blast. */
	{ "calgary-strict", SIM_MODEL_CALGARY, false, false, false, VG_DMA_STRICT },
	{ "calgary-lazy", SIM_MODEL_CALGARY, false, false, false, VG_DMA_DEFERRED },
	{ "calgary-lazy-trap", SIM_MODEL_CALGARY, true, false, false, VG_DMA_DEFERRED },
	{ "calgary-hcall", SIM_MODEL_CALGARY_HCALL, false, false, false, VG_DMA_STRICT },
	{ "calgary-hcall-batched", SIM_MODEL_CALGARY_HCALL, false, false, false, VG_DMA_BATCHED },
	/* Seed 003's dma_map_multi and Xen multicalls: a batch of maps, one crossing. */
	{ "calgary-batched", SIM_MODEL_CALGARY, false, false, false, VG_DMA_BATCHED },
	{ "calgary-identity", SIM_MODEL_CALGARY, true, false, false, VG_DMA_IDENTITY },
	{ "calgary-persistent", SIM_MODEL_CALGARY, true, false, false, VG_DMA_PERSISTENT },
	{ "calgary-never-free", SIM_MODEL_CALGARY_HCALL, false, false, false, VG_DMA_NEVER_FREE },
	/* SMMUv3 under arm-smmu-v3 (strict, arm64's default then), and with the caching-mode quirk. */
	{ "smmu3", SIM_MODEL_SMMUV3, false, false, false, VG_DMA_STRICT },
	{ "smmu3-cm", SIM_MODEL_SMMUV3, true, false, false, VG_DMA_STRICT },
	{ "smmu3-lazy", SIM_MODEL_SMMUV3, false, false, false, VG_DMA_DEFERRED },
};

static const struct sim_config *find_config(const char *name)
{
	for (size_t i = 0; i < sizeof(builtin_configs) / sizeof(builtin_configs[0]); i++) {
		if (!strcmp(builtin_configs[i].name, name))
			return &builtin_configs[i];
	}
	return NULL;
}

/* Replace the configurations of @s with the built-in ones named @names (unknown names skipped). */
static void set_configs(struct scenario *s, const char *const *names, size_t n)
{
	s->ncfg = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sim_config *c = find_config(names[i]);

		if (c && s->ncfg < MAX_CONFIGS)
			s->cfg[s->ncfg++] = *c;
	}
}

/* Replace list @arr (count @n) of a scenario with the arguments; too long a list does not build. */
#define SET_LIST(arr, n, type, ...)                                                  \
	do {                                                                         \
		static const type v_[] = { __VA_ARGS__ };                            \
		_Static_assert(sizeof(v_) <= sizeof(arr), "scenario list too long"); \
		memcpy((arr), v_, sizeof(v_));                                       \
		(n) = sizeof(v_) / sizeof(v_[0]);                                    \
	} while (0)
#define SET_PLACEMENTS(s, ...) SET_LIST((s)->pl, (s)->npl, enum sim_placement, __VA_ARGS__)
#define SET_WORKLOADS(s, ...) SET_LIST((s)->wl, (s)->nwl, enum sim_workload, __VA_ARGS__)
#define SET_SIZES(s, ...) SET_LIST((s)->size, (s)->nsize, uint32_t, __VA_ARGS__)
#define SET_CONFIGS(s, ...)                                       \
	do {                                                      \
		static const char *const k_[] = { __VA_ARGS__ };  \
		set_configs((s), k_, sizeof(k_) / sizeof(k_[0])); \
	} while (0)

/*
 * The built-in scenarios: each starts from the default one (scenario_base) and replaces what
 * it names; what it leaves (e.g. arm's placements, workloads and sizes) is the default's.
 */

/* Seed 000's x86 comparison, then the cures. */
static void scenario_base(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "default";
	s->about = "seed 000's x86 comparison (TCP stream, vhost off/on, rx/tx), then the cures";
	/* The seeds' five, then the cures. */
	SET_CONFIGS(s, "noiommu", "vtd-deferred", "vtd-strict", "vtd-strict-cm",
		    "virtio-iommu-mmio", "virtio-iommu-batched-deferred", "vtd-devtlb", "identity",
		    "persistent", "never-free");
	SET_PLACEMENTS(s, SIM_EMULATED, SIM_VHOST);
	SET_WORKLOADS(s, SIM_WL_STREAM_RX, SIM_WL_STREAM_TX);
	SET_SIZES(s, 64, 1024, 16384, 65536);
	s->table_size = 16384;
	snprintf(s->profile, sizeof(s->profile), "x86-2015-10g");
}

/* An assigned NIC's vIOMMU trapped (assigned, sidecore) or polled (sidecore): strict to cures. */
#define ASSIGNED_CONFIGS                                                                 \
	"noiommu", "vtd-strict-cm", "vtd-deferred-cm", "vtd-batched-cm", "virtio-iommu", \
		"virtio-iommu-batched-deferred", "vtd-identity-cm", "vtd-never-free-cm"

static void scenario_assigned(struct scenario *s)
{
	s->name = "assigned";
	s->about = "seed 004: an assigned NIC shadowed through caching mode (kernel driver "
		   "streams and DPDK poll mode)";
	SET_CONFIGS(s, ASSIGNED_CONFIGS);
	SET_PLACEMENTS(s, SIM_ASSIGNED);
	SET_WORKLOADS(s, SIM_WL_STREAM_RX, SIM_WL_STREAM_TX, SIM_WL_POLL);
	SET_SIZES(s, 64, 1500);
	s->table_size = 0;
}

static void scenario_block(struct scenario *s)
{
	s->name = "block";
	s->about = "block reads through virtio-iommu (V6-V9 setups): strict, lazy, "
		   "sync_map, pooled buffers";
	SET_CONFIGS(s, "noiommu", "virtio-iommu", "virtio-iommu-deferred", "virtio-iommu-batched",
		    "virtio-iommu-batched-deferred", "persistent", "identity");
	SET_PLACEMENTS(s, SIM_EMULATED, SIM_ASSIGNED);
	SET_WORKLOADS(s, SIM_WL_BLOCK);
	SET_SIZES(s, 4096, 16384, 65536);
	s->table_size = 0;
	s->qd = 64;
	snprintf(s->profile, sizeof(s->profile), "x86-current");
}

static void scenario_quick(struct scenario *s)
{
	s->name = "quick";
	s->about = "the default configurations at one size, few units (smoke test)";
	SET_SIZES(s, 16384);
	s->table_size = 0;
}

static void scenario_calgary(struct scenario *s)
{
	s->name = "calgary";
	s->about = "seed 003: TCP stream 64 B-64 KiB through the Calgary TCE model on bare "
		   "metal, Xen dom0 (direct access), a domU through a driver domain (vhost = "
		   "its CPU; domU-grant: grant-table integration), and emulated/vhost/"
		   "assigned, IOMMU off/on, then the cures";
	SET_CONFIGS(s, "noiommu", "calgary-strict", "calgary-lazy", "calgary-lazy-trap",
		    "calgary-hcall", "calgary-hcall-batched", "calgary-identity",
		    "calgary-persistent", "calgary-never-free", "calgary-batched");
	SET_PLACEMENTS(s, SIM_EMULATED, SIM_VHOST, SIM_ASSIGNED, SIM_BAREMETAL, SIM_DOM0, SIM_DOMU,
		       SIM_DOMU_GRANT);
	SET_SIZES(s, 64, 256, 1024, 4096, 16384, 65536);
	s->table_size = 0;
}

/* Seed 000's Arm half, then lazy invalidation and batched virtio-iommu requests. */
static void scenario_arm(struct scenario *s)
{
	s->name = "arm";
	s->about = "seed 000's Arm comparison on a ThunderX CN88xx-era host (TCP stream, "
		   "vhost off/on, rx/tx), then the cures";
	SET_CONFIGS(s, "noiommu", "smmu3", "smmu3-cm", "virtio-iommu-mmio", "smmu3-lazy",
		    "virtio-iommu-batched-deferred");
	snprintf(s->profile, sizeof(s->profile), "arm-2017-thunderx");
}

/*
 * Seed 004's nested claim: an NIC assigned to L1 (assigned) and through L1 to an L2 guest
 * (nested), L2's kernel driver under VT-d caching mode (strict and Linux's lazy default) or
 * DPDK-style fixed mappings (poll), against no vIOMMU at the same level.
 */
static void scenario_nested(struct scenario *s)
{
	s->name = "nested";
	s->about = "seed 004: an NIC assigned to L1 (vhost n/a) and through L1 to an L2 guest "
		   "(vhost L2); kernel driver (rx, tx) and DPDK (poll)";
	SET_CONFIGS(s, "noiommu", "vtd-strict-cm", "vtd-deferred-cm");
	SET_PLACEMENTS(s, SIM_ASSIGNED, SIM_NESTED);
	SET_WORKLOADS(s, SIM_WL_STREAM_RX, SIM_WL_STREAM_TX, SIM_WL_POLL);
	SET_SIZES(s, 64, 1500, 16384, 65536);
	s->table_size = 0;
}

/* ATC'11: the vIOMMU trapped and emulated (assigned) or polled by a side core. */
static void scenario_sidecore(struct scenario *s)
{
	s->name = "sidecore";
	s->about = "ATC'11: an assigned NIC whose vIOMMU traps to the VMM (vhost n/a) or is "
		   "polled by a side core (vhost side), strict to optimistic, then the cures";
	SET_CONFIGS(s, ASSIGNED_CONFIGS);
	SET_PLACEMENTS(s, SIM_ASSIGNED, SIM_SIDECORE);
	SET_SIZES(s, 1500, 16384);
	s->table_size = 0;
}

/*
 * Seed 001: an assigned NIC under the emulated AMD-Vi, its maps shadowed (assigned), against
 * AMD's hardware vIOMMU (hwviommu); and the hybrid's emulated device, whose vIOMMU the VMM still
 * emulates in both (emulated). v1 guest tables cannot run on the hardware path (unsupported rows).
 */
static void scenario_amd_hwviommu(struct scenario *s)
{
	s->name = "amd-hwviommu";
	s->about = "seed 001: an assigned NIC, emulated AMD-Vi with shadow tables (vhost n/a) vs "
		   "the hardware vIOMMU (vhost hw); the hybrid's emulated NIC (vhost off)";
	SET_CONFIGS(s, "noiommu", "amdvi-strict", "amdvi-lazy", "amdvi-v2", "amdvi-v2-lazy");
	SET_PLACEMENTS(s, SIM_ASSIGNED, SIM_HWVIOMMU, SIM_EMULATED);
	SET_WORKLOADS(s, SIM_WL_STREAM_RX, SIM_WL_STREAM_TX, SIM_WL_POLL);
	SET_SIZES(s, 64, 1500, 16384);
	s->table_size = 0;
	snprintf(s->profile, sizeof(s->profile), "x86-current");
}

/* In --list order; the default scenario is the base itself. */
static const struct {
	const char *name;
	void (*build)(struct scenario *s);
} builtin_scenarios[] = {
	{ "default", NULL },
	{ "assigned", scenario_assigned },
	{ "block", scenario_block },
	{ "quick", scenario_quick },
	{ "calgary", scenario_calgary },
	{ "arm", scenario_arm },
	{ "nested", scenario_nested },
	{ "sidecore", scenario_sidecore },
	{ "amd-hwviommu", scenario_amd_hwviommu },
};

bool sim_config_known(const char *name)
{
	return find_config(name) != NULL;
}

int sim_scenario_builtin(struct scenario *s, const char *name)
{
	for (size_t i = 0; i < sizeof(builtin_scenarios) / sizeof(builtin_scenarios[0]); i++) {
		if (!strcmp(name, builtin_scenarios[i].name)) {
			scenario_base(s);
			if (builtin_scenarios[i].build)
				builtin_scenarios[i].build(s);
			return 0;
		}
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: viommu-sim [options] [SCENARIO]\n"
		"       viommu-sim [options] validate   every docs/validation.md row: published vs predicted\n"
		"\n"
		"Runs the real vIOMMU models under guest DMA-API strategies and workloads, counts\n"
		"every event, and turns counts into time with the cost model\n"
		"(docs/cost-model.md). Scenarios: default, assigned, block, quick, calgary, arm,\n"
		"nested, sidecore, amd-hwviommu "
		"(see --list).\n"
		"\n"
		"  -p, --profile NAME     cost profile (default: the scenario's; see --list)\n"
		"  -c, --cost NAME=VALUE  override one unit cost (repeatable; e.g. exit_user_mmio_cycles=9000)\n"
		"  -f, --cost-file FILE   cost file, docs/cost-profiles.conf syntax (repeatable)\n"
		"  -s, --scenario-file F  a custom scenario (format in docs/cost-model.md, 'Scenarios')\n"
		"  -o, --out DIR          write results.json, results.csv and plots there (default sim-out)\n"
		"  -j, --json             JSON lines on stdout instead of the table\n"
		"  -q, --quick            fewer units per run (noisier counts, same code paths)\n"
		"  -u, --units N          measured units per run\n"
		"  -J, --jobs N           worker processes (default: one per CPU; results do not depend on it)\n"
		"      --seed N           seed (the runs are deterministic for a seed)\n"
		"  -v, --verbose          after the table, every event count per unit and its cost\n"
		"  -r, --rows FILE        validate: the rows file (default docs/validation/rows.conf)\n"
		"  -l, --list             scenarios, configurations and profiles\n"
		"      --list-costs       the effective cost table and exit\n"
		"  -h, --help             this text\n");
}

static void list(const struct sim_costs *c)
{
	printf("scenarios:\n");
	for (size_t i = 0; i < sizeof(builtin_scenarios) / sizeof(builtin_scenarios[0]); i++) {
		struct scenario s;

		sim_scenario_builtin(&s, builtin_scenarios[i].name);
		printf("  %-10s %s\n", s.name, s.about);
	}
	printf("configurations (model, strategy):\n");
	for (size_t i = 0; i < sizeof(builtin_configs) / sizeof(builtin_configs[0]); i++) {
		const struct sim_config *k = &builtin_configs[i];

		printf("  %-30s %s%s%s%s%s%s%s, %s\n", k->name, sim_model_name(k->model),
		       k->caching_mode ? " +cm" : "", k->ats ? " +ats" : "",
		       k->push ? " +push" : "", k->v2 ? " +v2" : "", k->mmio ? " +mmio" : "",
		       k->irq_exit ? " +irq-exit" : "", vg_dma_strategy_name(k->strategy));
	}
	printf("profiles:\n");
	for (size_t i = 0; i < sim_costs_profile_count(c); i++)
		printf("  %-14s %s\n", sim_costs_profile_name(c, i), sim_costs_profile_about(c, i));
}

/* "a,b,c" into @out via @parse; returns the count or -1. */
static int split(char *v, int (*parse)(const char *, void *, size_t), void *out, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *t = strtok_r(v, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (n == max || parse(t, out, n))
			return -1;
		n++;
	}
	return (int)n;
}

static int parse_size(const char *t, void *out, size_t i)
{
	char *end;
	unsigned long v = strtoul(t, &end, 0);

	if (*end || !v || v > 65536)
		return -1;
	((uint32_t *)out)[i] = (uint32_t)v;
	return 0;
}

static int parse_placement(const char *t, void *out, size_t i)
{
	for (int p = 0; p < SIM_PLACEMENT_NR; p++) {
		if (!strcmp(t, sim_placement_name((enum sim_placement)p))) {
			((enum sim_placement *)out)[i] = (enum sim_placement)p;
			return 0;
		}
	}
	return -1;
}

static int parse_workload(const char *t, void *out, size_t i)
{
	for (int w = 0; w < SIM_WL_NR; w++) {
		if (!strcmp(t, sim_workload_name((enum sim_workload)w))) {
			((enum sim_workload *)out)[i] = (enum sim_workload)w;
			return 0;
		}
	}
	return -1;
}

/*
 * "NAME" (built in) or "NAME model=vtd|amdvi|smmuv3|calgary|calgary-hcall|virtio-iommu|none
 * strategy=S [cm] [ats] [push] [v2] [mmio] [irq-exit]".
 */
static int parse_config(struct scenario *s, char *v, char *err, size_t errlen)
{
	struct sim_config k = { 0 };
	char *save = NULL, *t = strtok_r(v, " \t", &save);
	bool has_model = false, has_strategy = false;

	if (!t || strlen(t) >= sizeof(k.name) || s->ncfg == MAX_CONFIGS)
		return snprintf(err, errlen, "bad config line"), -1;
	snprintf(k.name, sizeof(k.name), "%s", t);
	while ((t = strtok_r(NULL, " \t", &save))) {
		if (!strncmp(t, "model=", 6)) {
			has_model = true;
			if (!strcmp(t + 6, "vtd"))
				k.model = SIM_MODEL_VTD;
			else if (!strcmp(t + 6, "virtio-iommu"))
				k.model = SIM_MODEL_VIRTIO_IOMMU;
			else if (!strcmp(t + 6, "amdvi"))
				k.model = SIM_MODEL_AMDVI;
			else if (!strcmp(t + 6, "smmuv3"))
				k.model = SIM_MODEL_SMMUV3;
			else if (!strcmp(t + 6, "calgary"))
				k.model = SIM_MODEL_CALGARY;
			else if (!strcmp(t + 6, "calgary-hcall"))
				k.model = SIM_MODEL_CALGARY_HCALL;
			else if (!strcmp(t + 6, "none"))
				k.model = SIM_MODEL_NONE;
			else
				return snprintf(err, errlen, "unknown model '%s'", t + 6), -1;
		} else if (!strncmp(t, "strategy=", 9)) {
			has_strategy = true;
			if (vg_dma_strategy_parse(t + 9, &k.strategy))
				return snprintf(err, errlen, "unknown strategy '%s'", t + 9), -1;
		} else if (!strcmp(t, "cm")) {
			k.caching_mode = true;
		} else if (!strcmp(t, "ats")) {
			k.ats = true;
		} else if (!strcmp(t, "push")) {
			k.push = true;
		} else if (!strcmp(t, "v2")) {
			k.v2 = true;
		} else if (!strcmp(t, "mmio")) {
			k.mmio = true;
		} else if (!strcmp(t, "irq-exit")) {
			k.irq_exit = true;
		} else {
			return snprintf(err, errlen, "unknown config word '%s'", t), -1;
		}
	}
	if (!has_model && !has_strategy) {
		const struct sim_config *b = find_config(k.name);

		if (!b)
			return snprintf(err, errlen, "unknown configuration '%s'", k.name), -1;
		s->cfg[s->ncfg++] = *b;
		return 0;
	}
	if (!has_model || !has_strategy)
		return snprintf(err, errlen, "config %s needs model= and strategy=", k.name), -1;
	if ((k.model == SIM_MODEL_NONE) != (k.strategy == VG_DMA_NOIOMMU) ||
	    (k.push && k.model == SIM_MODEL_NONE) ||
	    (k.caching_mode && k.model != SIM_MODEL_VTD && k.model != SIM_MODEL_SMMUV3 &&
	     k.model != SIM_MODEL_CALGARY) ||
	    (k.ats && k.model != SIM_MODEL_VTD && k.model != SIM_MODEL_AMDVI &&
	     k.model != SIM_MODEL_SMMUV3) ||
	    (k.v2 && k.model != SIM_MODEL_AMDVI) || (k.mmio && k.model != SIM_MODEL_VIRTIO_IOMMU))
		return snprintf(err, errlen, "config %s: inconsistent model and strategy", k.name),
		       -1;
	s->cfg[s->ncfg++] = k;
	return 0;
}

int sim_scenario_load(struct scenario *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned int no = 0;
	bool cfg_seen = false;

	if (!f)
		return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
	scenario_base(s);
	s->name = "custom";
	s->about = path;
	s->table_size = 0;
	while (fgets(line, sizeof(line), f)) {
		char *eq, *k, *v, *hash = strchr(line, '#');
		int n = 0;

		no++;
		if (hash)
			*hash = '\0';
		k = line + strspn(line, " \t\r\n");
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\r\n")] = '\0';
		k[strcspn(k, " \t")] = '\0';
		v += strspn(v, " \t");
		/* "vcpus = 16  # note": the comment is gone, its blanks must go too */
		for (size_t len = strlen(v); len && strchr(" \t", v[len - 1]); len--)
			v[len - 1] = '\0';
		if (!strcmp(k, "config")) {
			if (!cfg_seen)
				s->ncfg = 0;
			cfg_seen = true;
			if (parse_config(s, v, err, errlen)) {
				fclose(f);
				return -1;
			}
			continue;
		} else if (!strcmp(k, "sizes")) {
			n = split(v, parse_size, s->size, MAX_LIST);
			s->nsize = n > 0 ? (size_t)n : 0;
		} else if (!strcmp(k, "placements")) {
			n = split(v, parse_placement, s->pl, MAX_LIST);
			s->npl = n > 0 ? (size_t)n : 0;
		} else if (!strcmp(k, "workloads")) {
			n = split(v, parse_workload, s->wl, MAX_LIST);
			s->nwl = n > 0 ? (size_t)n : 0;
		} else if (!strcmp(k, "table_size")) {
			n = parse_size(v, &s->table_size, 0) ? -1 : 1;
		} else if (!strcmp(k, "mtu")) {
			char *end;
			unsigned long m = strtoul(v, &end, 0);

			n = *end || m < 576 || m > 9000 ? -1 : 1;
			s->mtu = (uint32_t)m;
		} else if (!strcmp(k, "qd")) {
			char *end;
			unsigned long q = strtoul(v, &end, 0);

			n = *end || !q || q > 4096 ? -1 : 1;
			s->qd = (uint32_t)q;
		} else if (!strcmp(k, "vcpus")) {
			char *end;
			unsigned long q = strtoul(v, &end, 0);

			n = *end || !q || q > 1024 ? -1 : 1;
			s->vcpus = (uint32_t)q;
		} else if (!strcmp(k, "tso")) {
			n = !strcmp(v, "on") || !strcmp(v, "off") ? 1 : -1;
			s->no_tso = !strcmp(v, "off");
		} else if (!strcmp(k, "profile")) {
			size_t len = strlen(v);

			n = len && len < sizeof(s->profile) ? 1 : -1;
			if (n > 0)
				memcpy(s->profile, v, len + 1);
		} else {
			goto bad;
		}
		if (n <= 0)
			goto bad;
	}
	fclose(f);
	if (!s->ncfg || !s->npl || !s->nwl || !s->nsize)
		return snprintf(err, errlen, "%s: empty list", path), -1;
	return 0;
bad:
	fclose(f);
	snprintf(err, errlen, "%s:%u: bad line", path, no);
	return -1;
}

/* Shared with the workers: one result and status per row, and a count of finished rows. */
struct shared {
	_Atomic size_t done;
	int status[MAX_ROWS];
	struct sim_result res[];
};

static void run_some(struct shared *sh, const struct sim_params *p, size_t n, size_t first,
		     size_t step, const struct sim_costs *c)
{
	for (size_t i = first; i < n; i += step) {
		sh->status[i] = sim_run(&p[i], c, &sh->res[i]);
		sh->done++;
	}
}

/*
 * Rows are independent and each is deterministic, so they are shared out over forked workers,
 * one per CPU, with results in shared memory; the output does not depend on the worker count.
 */
static int run_rows(const struct sim_params *p, struct sim_row *rows, size_t n,
		    const struct sim_costs *c, const struct opts *o)
{
	size_t size = sizeof(struct shared) + n * sizeof(struct sim_result);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int jobs = o->jobs ? o->jobs : cpus > 0 ? (unsigned int)cpus : 1;
	bool progress = isatty(STDERR_FILENO);
	struct shared *sh;
	unsigned int started = 0;
	pid_t pid[64];
	int ret = 0;

	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	if (jobs > 64)
		jobs = 64;
	if (jobs > n)
		jobs = n ? (unsigned int)n : 1;
	fflush(NULL);
	for (unsigned int w = 0; w < jobs && jobs > 1; w++) {
		pid[w] = fork();
		if (pid[w] == 0) {
			run_some(sh, p, n, w, jobs, c);
			_exit(0);
		}
		if (pid[w] < 0)
			break;
		started++;
	}
	if (!started) {
		run_some(sh, p, n, 0, 1, c);
	} else {
		/* A worker that could not be started leaves its rows to this process. */
		for (unsigned int w = started; w < jobs; w++)
			run_some(sh, p, n, w, jobs, c);
		for (unsigned int left = started; left;) {
			int st;

			if (waitpid(-1, &st, WNOHANG) > 0) {
				left--;
				if (!WIFEXITED(st) || WEXITSTATUS(st))
					ret = 1;
				continue;
			}
			if (progress)
				fprintf(stderr, "\r[%zu/%zu rows]", (size_t)sh->done, n);
			usleep(50 * 1000);
		}
		if (progress)
			fprintf(stderr, "\r%40s\r", "");
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].r = sh->res[i];
		if (sh->status[i]) {
			fprintf(stderr, "viommu-sim: %s %s %s %u: %s\n", p[i].cfg.name,
				sim_placement_name(p[i].placement),
				sim_workload_name(p[i].workload), p[i].msg_size, sh->res[i].why);
			ret = 1;
		}
	}
	if (sh->done < n) {
		fprintf(stderr, "viommu-sim: a worker died\n");
		ret = 1;
	}
	munmap(sh, size);
	return ret;
}

int sim_scenario_rows(const struct scenario *s, const struct sim_costs *c, const struct opts *o,
		      struct sim_row **out, size_t *nout)
{
	size_t total = s->ncfg * s->npl * s->nwl * s->nsize, n = 0;
	struct sim_row *rows = calloc(total ? total : 1, sizeof(*rows));
	struct sim_params *params = calloc(total ? total : 1, sizeof(*params));
	int ret = 0;

	if (!rows || !params || total > MAX_ROWS) {
		free(rows);
		free(params);
		fprintf(stderr, "viommu-sim: scenario too large\n");
		*out = NULL;
		*nout = 0;
		return 1;
	}
	for (size_t w = 0; w < s->nwl; w++) {
		for (size_t pl = 0; pl < s->npl; pl++) {
			for (size_t k = 0; k < s->ncfg; k++) {
				for (size_t z = 0; z < s->nsize; z++) {
					struct sim_params p = {
						.cfg = s->cfg[k],
						.placement = s->pl[pl],
						.workload = s->wl[w],
						.msg_size = s->size[z],
						.mtu = s->mtu,
						.no_tso = s->no_tso,
						.qd = s->qd,
						.vcpus = s->vcpus,
						.seed = o->seed,
						.units = o->units,
					};

					if (p.workload == SIM_WL_POLL && p.msg_size > 2048)
						continue;
					if (o->quick && !p.units)
						p.units = 512;
					rows[n].profile = sim_costs_selected(c);
					params[n++] = p;
				}
			}
		}
	}
	ret = run_rows(params, rows, n, c, o);
	free(params);
	sim_report_relate(rows, n);
	*out = rows;
	*nout = n;
	return ret;
}

static int run_scenario(const struct scenario *s, const struct sim_costs *c, const struct opts *o)
{
	struct sim_row *rows;
	size_t n;
	char path[512];
	FILE *f;
	int ret = sim_scenario_rows(s, c, o, &rows, &n);

	if (!rows)
		return 1;
	if (o->json) {
		for (size_t i = 0; i < n; i++)
			sim_report_json_row(stdout, &rows[i]);
	} else {
		printf("viommu-sim scenario %s: %s\n", s->name, s->about);
		sim_report_gaps(stdout, rows, n);
		sim_report_table(stdout, rows, n, s->table_size);
		printf("\nvcpu-ns/host-ns: CPU per unit on the vCPU / on the VMM and back-end; exits "
		       "and invs per unit;\niotlb: vIOMMU IOTLB hit rate; devtlb: back-end device "
		       "IOTLB hit rate.\n");
		if (s->table_size)
			printf("Table: %u-byte messages; every size is in %s/results.csv and the "
			       "plots.\n",
			       s->table_size, o->out_dir);
		for (size_t i = 0; o->verbose && i < n; i++) {
			if (!s->table_size || rows[i].r.p.msg_size == s->table_size)
				sim_report_explain(stdout, &rows[i], c);
		}
	}
	if (mkdir(o->out_dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "viommu-sim: %s: %s\n", o->out_dir, strerror(errno));
		free(rows);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/results.json", o->out_dir);
	f = fopen(path, "w");
	if (f) {
		for (size_t i = 0; i < n; i++)
			sim_report_json_row(f, &rows[i]);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/results.csv", o->out_dir);
	f = fopen(path, "w");
	if (f) {
		sim_report_csv(f, rows, n);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/costs.txt", o->out_dir);
	f = fopen(path, "w");
	if (f) {
		sim_costs_print(c, f);
		fclose(f);
	}
	if (sim_report_plots(o->out_dir, rows, n, stderr) < 0)
		ret = 1;
	free(rows);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "cost", required_argument, NULL, 'c' },
		{ "cost-file", required_argument, NULL, 'f' },
		{ "scenario-file", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "units", required_argument, NULL, 'u' },
		{ "seed", required_argument, NULL, 'S' },
		{ "list", no_argument, NULL, 'l' },
		{ "list-costs", no_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "jobs", required_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "rows", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .out_dir = "sim-out", .seed = 1 };
	const char *profile = NULL, *scenario_file = NULL, *rows_file = NULL;
	const char *cost_args[64], *cost_files[16];
	size_t ncost = 0, nfiles = 0;
	bool do_list = false, list_costs = false;
	struct scenario s;
	struct sim_costs *c;
	char err[256];
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "p:c:f:s:o:jqu:lvJ:hr:", lopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			profile = optarg;
			break;
		case 'c':
			if (ncost == 64)
				return fprintf(stderr, "viommu-sim: too many --cost\n"), 2;
			cost_args[ncost++] = optarg;
			break;
		case 'f':
			if (nfiles == 16)
				return fprintf(stderr, "viommu-sim: too many --cost-file\n"), 2;
			cost_files[nfiles++] = optarg;
			break;
		case 's':
			scenario_file = optarg;
			break;
		case 'o':
			if (strpbrk(optarg, "'\"\\\n"))
				return fprintf(stderr, "viommu-sim: unsupported --out path\n"), 2;
			o.out_dir = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'q':
			o.quick = true;
			break;
		case 'u':
			o.units = (uint32_t)strtoul(optarg, NULL, 0);
			if (!o.units || o.units > 10000000)
				return fprintf(stderr, "viommu-sim: bad --units\n"), 2;
			break;
		case 'S':
			o.seed = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			do_list = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'J':
			o.jobs = (unsigned int)strtoul(optarg, NULL, 0);
			if (!o.jobs || o.jobs > 64)
				return fprintf(stderr, "viommu-sim: bad --jobs\n"), 2;
			break;
		case 'L':
			list_costs = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'r':
			rows_file = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "validate")) {
		struct sim_validate_args va = {
			.rows_path = rows_file,
			.argv0 = argv[0],
			.profile = profile,
			.cost_files = cost_files,
			.nfiles = nfiles,
			.cost_args = cost_args,
			.ncost = ncost,
			.o = o,
		};

		return sim_validate(&va);
	}
	if (sim_costs_create(&c, err, sizeof(err)))
		return fprintf(stderr, "viommu-sim: %s\n", err), 1;
	if (scenario_file) {
		if (sim_scenario_load(&s, scenario_file, err, sizeof(err))) {
			fprintf(stderr, "viommu-sim: %s\n", err);
			sim_costs_destroy(c);
			return 2;
		}
	} else {
		const char *name = optind < argc ? argv[optind] : "default";

		if (sim_scenario_builtin(&s, name)) {
			fprintf(stderr, "viommu-sim: unknown scenario '%s' (see --list)\n", name);
			sim_costs_destroy(c);
			return 2;
		}
	}
	/* Precedence (cost-model.md §7): profile, then cost files in order, then --cost. */
	ret = VIOMMU_EINVAL;
	if (profile) /* may be defined by a cost file: then the files first go to the default */
		ret = sim_costs_select(c, profile, err, sizeof(err));
	if (ret)
		ret = sim_costs_select(c, s.profile, err, sizeof(err));
	for (size_t i = 0; !ret && i < nfiles; i++)
		ret = sim_costs_load_file(c, cost_files[i], err, sizeof(err));
	if (!ret && profile)
		ret = sim_costs_select(c, profile, err, sizeof(err));
	for (size_t i = 0; !ret && i < ncost; i++)
		ret = sim_costs_set_arg(c, cost_args[i], err, sizeof(err));
	if (ret) {
		fprintf(stderr, "viommu-sim: %s\n", err);
		sim_costs_destroy(c);
		return 2;
	}
	if (do_list || list_costs) {
		if (do_list)
			list(c);
		if (list_costs)
			sim_costs_print(c, stdout);
		sim_costs_destroy(c);
		return 0;
	}
	ret = run_scenario(&s, c, &o);
	sim_costs_destroy(c);
	return ret;
}
