/* SPDX-License-Identifier: MIT */
/*
 * viommu-sim's report: the human table, JSON lines, CSV, and gnuplot plots of a set of results.
 */
#ifndef VIOMMU_SIM_REPORT_H
#define VIOMMU_SIM_REPORT_H

#include <stdio.h>

#include "engine.h"

struct sim_row {
	const char *profile;
	struct sim_result r;
	double rel_noiommu; /* throughput / the noiommu row's with the same placement, workload, size */
};

/* Fill rel_noiommu from the rows themselves (< 0 when no baseline row exists). */
void sim_report_relate(struct sim_row *rows, size_t n);

void sim_report_table(FILE *f, const struct sim_row *rows, size_t n, uint32_t only_size);
/* Every nonzero event count per unit and what it costs, resource by resource. */
void sim_report_explain(FILE *f, const struct sim_row *row, const struct sim_costs *c);
void sim_report_json_row(FILE *f, const struct sim_row *row);
void sim_report_csv(FILE *f, const struct sim_row *rows, size_t n);
/* Names of GAP costs that contributed to any row, as a warning line (nothing when none did). */
void sim_report_gaps(FILE *f, const struct sim_row *rows, size_t n);

/*
 * Write @dir/throughput-<workload>-<placement>.gp for every workload/placement pair with more
 * than one size and run gnuplot on them when it is installed. Returns the number of plots
 * rendered, or a negative code.
 */
int sim_report_plots(const char *dir, const struct sim_row *rows, size_t n, FILE *log);

#endif /* VIOMMU_SIM_REPORT_H */
