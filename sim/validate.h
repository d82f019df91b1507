/* SPDX-License-Identifier: MIT */
/*
 * `viommu-sim validate`: every row of docs/validation.md the simulator can model, run from the
 * rows file (docs/validation/rows.conf: scenario, published figures, stated orderings, or the
 * mechanism a row lacks), printed as published against predicted.
 */
#ifndef VIOMMU_SIM_VALIDATE_H
#define VIOMMU_SIM_VALIDATE_H

#include <stddef.h>

#include "scenario.h"

struct sim_validate_args {
	const char *rows_path; /* NULL: docs/validation/rows.conf (beside the build, or cwd) */
	const char *argv0;
	const char *profile; /* NULL: each row's own profile */
	const char *const *cost_files;
	size_t nfiles;
	const char *const *cost_args; /* applied after each row's own overrides */
	size_t ncost;
	struct opts o; /* json, quick, units, jobs, seed */
};

/*
 * Run every row and print the scorecard (a table, or JSON lines with o.json). Returns 0 when
 * every modelled row ran and every figure got a prediction, 1 when one did not, 2 on a bad rows
 * file. How close a prediction lands never changes the result.
 */
int sim_validate(const struct sim_validate_args *a);

#endif /* VIOMMU_SIM_VALIDATE_H */
