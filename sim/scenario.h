/* SPDX-License-Identifier: MIT */
/*
 * viommu-sim scenarios: a list of configurations crossed with placements, workloads and sizes,
 * built in or read from a scenario file (docs/cost-model.md §10), and the run of all their rows.
 * Shared by the scenario runner (main.c) and `viommu-sim validate` (validate.c).
 */
#ifndef VIOMMU_SIM_SCENARIO_H
#define VIOMMU_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "engine.h"
#include "report.h"

#define MAX_CONFIGS 64
#define MAX_LIST 16

struct scenario {
	const char *name;
	const char *about;
	struct sim_config cfg[MAX_CONFIGS];
	size_t ncfg;
	enum sim_placement pl[MAX_LIST];
	size_t npl;
	enum sim_workload wl[MAX_LIST];
	size_t nwl;
	uint32_t size[MAX_LIST];
	size_t nsize;
	uint32_t table_size; /* the stdout table shows this size only (0: all) */
	uint32_t mtu, qd, vcpus;
	bool no_tso;
	char profile[48];
};

struct opts {
	const char *out_dir;
	bool json, quick, verbose;
	unsigned int jobs; /* worker processes; 0: one per CPU */
	uint64_t seed;
	uint32_t units;
};

/* A built-in configuration of that name exists (see --list). */
bool sim_config_known(const char *name);
/* A built-in scenario by name (see --list); -1 when there is none of that name. */
int sim_scenario_builtin(struct scenario *s, const char *name);
/* A scenario file; errors name the file and line. */
int sim_scenario_load(struct scenario *s, const char *path, char *err, size_t errlen);
/*
 * Run every row of @s with the costs @c: *rows (calloc'ed, the caller frees; NULL when nothing
 * could be allocated) and their count. Returns non-zero when a row failed; the others are kept.
 */
int sim_scenario_rows(const struct scenario *s, const struct sim_costs *c, const struct opts *o,
		      struct sim_row **rows, size_t *n);

#endif /* VIOMMU_SIM_SCENARIO_H */
