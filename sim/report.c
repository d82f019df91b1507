// SPDX-License-Identifier: MIT
/*
 * viommu-sim report writers; see report.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static bool same_point(const struct sim_row *a, const struct sim_row *b)
{
	return !strcmp(a->profile, b->profile) && a->r.p.placement == b->r.p.placement &&
	       a->r.p.workload == b->r.p.workload && a->r.p.msg_size == b->r.p.msg_size &&
	       a->r.p.mtu == b->r.p.mtu && a->r.p.no_tso == b->r.p.no_tso && a->r.p.qd == b->r.p.qd;
}

void sim_report_relate(struct sim_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rows[i].rel_noiommu = -1;
		for (size_t j = 0; j < n; j++) {
			if (rows[j].r.supported && rows[j].r.p.cfg.model == SIM_MODEL_NONE &&
			    same_point(&rows[i], &rows[j]) && rows[j].r.throughput_mbps > 0) {
				rows[i].rel_noiommu =
					rows[i].r.throughput_mbps / rows[j].r.throughput_mbps;
				break;
			}
		}
	}
}

static const char *vhost_of(const struct sim_result *r)
{
	return r->p.placement == SIM_VHOST ? "on" : r->p.placement == SIM_EMULATED ? "off" : "n/a";
}

/* The table's vhost column: nested and sidecore rows say so (the JSON keeps "n/a"). */
static const char *vhost_col(const struct sim_result *r)
{
	return r->p.placement == SIM_NESTED	? "L2" :
	       r->p.placement == SIM_SIDECORE	? "side" :
	       r->p.placement == SIM_HWVIOMMU	? "hw" :
	       r->p.placement == SIM_BAREMETAL	? "bare" :
	       r->p.placement == SIM_DOM0	? "dom0" :
	       r->p.placement == SIM_DOMU	? "domU" :
	       r->p.placement == SIM_DOMU_GRANT ? "domUg" :
						  vhost_of(r);
}

/* CPU per unit on the host's threads: the VMM's, the vhost worker's and a side core's. */
static double host_ns(const struct sim_result *r)
{
	return r->busy_ns[SIM_RES_VMM] + r->busy_ns[SIM_RES_BACKEND] + r->busy_ns[SIM_RES_SIDE];
}

static double host_util(const struct sim_result *r)
{
	return r->util[SIM_RES_VMM] + r->util[SIM_RES_BACKEND] + r->util[SIM_RES_SIDE];
}

static void rate(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", v * 100);
}

void sim_report_table(FILE *f, const struct sim_row *rows, size_t n, uint32_t only_size)
{
	const char *prev = "";

	for (size_t i = 0; i < n; i++) {
		const struct sim_row *w = &rows[i];
		const struct sim_result *r = &w->r;
		char rel[16], hit[16], dhit[16];

		if (only_size && r->p.msg_size != only_size)
			continue;
		if (strcmp(prev, w->profile)) {
			fprintf(f,
				"\nprofile %s (per unit = one %s)\n"
				"%-30s %-5s %-3s %6s %10s %7s %6s %9s %9s %6s %6s %7s %7s  %-10s %s\n",
				w->profile,
				r->p.workload == SIM_WL_BLOCK ? "request" :
				r->p.workload == SIM_WL_POLL  ? "frame" :
								"message",
				"config", "vhost", "dir", "size", "Mb/s", "%noiom", "vcpu%",
				"vcpu-ns", "host-ns", "exits", "invs", "iotlb", "devtlb",
				"bottleneck", "thread");
			prev = w->profile;
		}
		if (!r->supported) {
			fprintf(f, "%-30s %-5s %-3s %6u  %s\n", r->p.cfg.name, vhost_col(r),
				sim_workload_name(r->p.workload), r->p.msg_size, r->why);
			continue;
		}
		rate(rel, sizeof(rel), w->rel_noiommu);
		rate(hit, sizeof(hit), r->iotlb_hit_rate);
		rate(dhit, sizeof(dhit), r->devtlb_hit_rate);
		fprintf(f,
			"%-30s %-5s %-3s %6u %10.1f %7s %5.0f%% %9.0f %9.0f %6.2f %6.2f %7s %7s  %-10s "
			"%s %.0f%%\n",
			r->p.cfg.name, vhost_col(r), sim_workload_name(r->p.workload),
			r->p.msg_size, r->throughput_mbps, rel, r->util[SIM_RES_VCPU] * 100,
			r->busy_ns[SIM_RES_VCPU], host_ns(r), r->exits_per_unit,
			r->invalidations_per_unit, hit, dhit, sim_res_name(r->bottleneck),
			sim_res_name(r->thread), r->thread_util * 100);
	}
}

void sim_report_explain(FILE *f, const struct sim_row *w, const struct sim_costs *c)
{
	const struct sim_result *r = &w->r;

	if (!r->supported)
		return;
	fprintf(f, "%s %s %s %u: %.0f units/s, bottleneck %s\n", r->p.cfg.name,
		sim_placement_name(r->p.placement), sim_workload_name(r->p.workload), r->p.msg_size,
		r->rate, sim_res_name(r->bottleneck));
	for (int res = 0; res < SIM_RES_NR; res++) {
		if (r->busy_ns[res] <= 0)
			continue;
		fprintf(f, "  %-8s %10.0f ns/unit  util %5.1f%%\n", sim_res_name((enum sim_res)res),
			r->busy_ns[res], r->util[res] * 100);
		for (int ev = 0; ev < SIM_EV_NR; ev++) {
			double cost;

			if (r->n[res][ev] <= 0)
				continue;
			cost = sim_ev_cost(c, (enum sim_ev)ev, (enum sim_res)res);
			fprintf(f, "    %-22s %12.3f x %10.3f = %10.0f ns\n",
				sim_ev_name((enum sim_ev)ev), r->n[res][ev], cost,
				r->n[res][ev] * cost);
		}
		if (r->waits[res] > 0)
			fprintf(f, "    %-22s %12.3f x %10.3f = %10.0f ns\n", "wait.vmm_lock",
				r->waits[res], r->wait_ns[res] / r->waits[res], r->wait_ns[res]);
	}
}

static void json_rate(FILE *f, const char *key, double v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.6f", key, v);
}

void sim_report_json_row(FILE *f, const struct sim_row *w)
{
	const struct sim_result *r = &w->r;

	fprintf(f,
		"{\"profile\":\"%s\",\"config\":\"%s\",\"vhost\":\"%s\",\"placement\":\"%s\","
		"\"direction\":\"%s\",\"msg_size\":%u,\"supported\":%s",
		w->profile, r->p.cfg.name, vhost_of(r), sim_placement_name(r->p.placement),
		sim_workload_name(r->p.workload), r->p.msg_size, r->supported ? "true" : "false");
	if (!r->supported) {
		fprintf(f, ",\"why\":\"%s\"}\n", r->why);
		return;
	}
	fprintf(f, ",\"throughput_mbps\":%.3f", r->throughput_mbps);
	json_rate(f, "rel_noiommu", w->rel_noiommu);
	fprintf(f,
		",\"guest_cpu_util\":%.6f,\"host_cpu_util\":%.6f,\"guest_cpu_ns_per_pkt\":%.1f,"
		"\"host_cpu_ns_per_pkt\":%.1f,\"exits_per_pkt\":%.4f,\"invalidations_per_pkt\":%.4f",
		r->util[SIM_RES_VCPU], host_util(r), r->busy_ns[SIM_RES_VCPU], host_ns(r),
		r->exits_per_unit, r->invalidations_per_unit);
	json_rate(f, "iotlb_hit_rate", r->iotlb_hit_rate);
	json_rate(f, "devtlb_hit_rate", r->devtlb_hit_rate);
	json_rate(f, "hw_iotlb_hit_rate", r->hw_iotlb_hit_rate);
	fprintf(f,
		",\"bottleneck\":\"%s\",\"strategy\":\"%s\",\"model\":\"%s\",\"units\":%llu,"
		"\"maps_per_pkt\":%.4f,\"unmaps_per_pkt\":%.4f,\"flushes_per_pkt\":%.5f,"
		"\"vfio_calls_per_pkt\":%.4f,\"devtlb_misses_per_pkt\":%.4f,\"passes\":%u",
		sim_res_name(r->bottleneck), vg_dma_strategy_name(r->p.cfg.strategy),
		sim_model_name(r->p.cfg.model), (unsigned long long)r->units, r->maps_per_unit,
		r->unmaps_per_unit, r->flushes_per_unit, r->vfio_calls_per_unit,
		r->devtlb_misses_per_unit, r->passes);
	fprintf(f, ",\"thread\":\"%s\",\"thread_util\":%.6f,\"vcpu_wait_ns_per_pkt\":%.1f",
		sim_res_name(r->thread), r->thread_util, r->wait_ns[SIM_RES_VCPU]);
	/* Nested rows only (vfio_calls_per_pkt is L0's there), so other rows stay as they were. */
	if (r->p.placement == SIM_NESTED)
		fprintf(f, ",\"l1_vfio_calls_per_pkt\":%.4f", r->l1_calls_per_unit);
	/* Hardware vIOMMU rows only: what it does without an exit (struct viommu_amdvi_hwv_stats). */
	if (r->p.placement == SIM_HWVIOMMU)
		fprintf(f, ",\"direct_mmio_per_pkt\":%.4f,\"hw_cmds_per_pkt\":%.4f",
			r->n[SIM_RES_VCPU][SIM_EV_MMIO_DIRECT], r->n[SIM_RES_VCPU][SIM_EV_HWV_CMD]);
	fprintf(f, "}\n");
}

void sim_report_csv(FILE *f, const struct sim_row *rows, size_t n)
{
	fprintf(f, "profile,config,vhost,placement,direction,msg_size,throughput_mbps,rel_noiommu,"
		   "guest_cpu_util,host_cpu_util,guest_cpu_ns_per_pkt,host_cpu_ns_per_pkt,"
		   "exits_per_pkt,invalidations_per_pkt,iotlb_hit_rate,devtlb_hit_rate,bottleneck,"
		   "thread\n");
	for (size_t i = 0; i < n; i++) {
		const struct sim_result *r = &rows[i].r;

		if (!r->supported)
			continue;
		fprintf(f,
			"%s,%s,%s,%s,%s,%u,%.3f,%.6f,%.6f,%.6f,%.1f,%.1f,%.4f,%.4f,%.6f,%.6f,%s,%s\n",
			rows[i].profile, r->p.cfg.name, vhost_of(r),
			sim_placement_name(r->p.placement), sim_workload_name(r->p.workload),
			r->p.msg_size, r->throughput_mbps, rows[i].rel_noiommu,
			r->util[SIM_RES_VCPU], host_util(r), r->busy_ns[SIM_RES_VCPU], host_ns(r),
			r->exits_per_unit, r->invalidations_per_unit, r->iotlb_hit_rate,
			r->devtlb_hit_rate, sim_res_name(r->bottleneck), sim_res_name(r->thread));
	}
}

void sim_report_gaps(FILE *f, const struct sim_row *rows, size_t n)
{
	uint64_t gaps = 0;

	for (size_t i = 0; i < n; i++)
		gaps |= rows[i].r.gap_costs;
	if (!gaps)
		return;
	fprintf(f, "warning: these costs have no public source (GAP placeholders, see "
		   "docs/cost-model.md) and entered the results:");
	for (int k = 0; k < SIM_COST_NR; k++) {
		if (gaps >> k & 1)
			fprintf(f, " %s", sim_cost_name((enum sim_cost)k));
	}
	fprintf(f, "\n");
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i], s))
			return true;
	}
	return false;
}

int sim_report_plots(const char *dir, const struct sim_row *rows, size_t n, FILE *log)
{
	int rendered = 0;
	bool have_gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;

	for (int w = 0; w < SIM_WL_NR; w++) {
		for (int pl = 0; pl < SIM_PLACEMENT_NR; pl++) {
			const char *cfgs[64];
			size_t ncfg = 0, points = 0;
			char path[512], cmd[1200];
			const char *profile = NULL;
			FILE *f;

			for (size_t i = 0; i < n; i++) {
				const struct sim_result *r = &rows[i].r;

				if (r->p.workload != (enum sim_workload)w ||
				    r->p.placement != (enum sim_placement)pl || !r->supported)
					continue;
				if (!profile)
					profile = rows[i].profile;
				if (strcmp(profile, rows[i].profile))
					continue;
				points++;
				if (ncfg < 64 && !in_list(cfgs, ncfg, r->p.cfg.name))
					cfgs[ncfg++] = r->p.cfg.name;
			}
			if (!ncfg || points <= ncfg)
				continue; /* one size per configuration: nothing to plot */
			snprintf(path, sizeof(path), "%s/throughput-%s-%s.gp", dir,
				 sim_workload_name((enum sim_workload)w),
				 sim_placement_name((enum sim_placement)pl));
			f = fopen(path, "w");
			if (!f)
				return VIOMMU_EIO;
			fprintf(f,
				"# viommu-sim: throughput against message size (profile %s)\n"
				"set terminal pngcairo size 1000,640 noenhanced\n"
				"set output '%s/throughput-%s-%s.png'\n"
				"set title 'viommu-sim %s, %s back-end, profile %s'\n"
				"set logscale x 2\nset xlabel 'message size (bytes)'\n"
				"set ylabel 'throughput (Mb/s)'\nset key outside right\nset grid\n"
				"plot",
				profile, dir, sim_workload_name((enum sim_workload)w),
				sim_placement_name((enum sim_placement)pl),
				sim_workload_name((enum sim_workload)w),
				sim_placement_name((enum sim_placement)pl), profile);
			for (size_t k = 0; k < ncfg; k++)
				fprintf(f, "%s '-' using 1:2 with linespoints title '%s'",
					k ? ", \\\n    " : " ", cfgs[k]);
			fprintf(f, "\n");
			for (size_t k = 0; k < ncfg; k++) {
				for (size_t i = 0; i < n; i++) {
					const struct sim_result *r = &rows[i].r;

					if (r->p.workload == (enum sim_workload)w &&
					    r->p.placement == (enum sim_placement)pl &&
					    r->supported && !strcmp(rows[i].profile, profile) &&
					    !strcmp(r->p.cfg.name, cfgs[k]))
						fprintf(f, "%u %.3f\n", r->p.msg_size,
							r->throughput_mbps);
				}
				fprintf(f, "e\n");
			}
			fclose(f);
			if (!have_gnuplot)
				continue;
			snprintf(cmd, sizeof(cmd), "gnuplot '%s'", path);
			if (system(cmd) == 0)
				rendered++;
			else if (log)
				fprintf(log, "gnuplot failed on %s\n", path);
		}
	}
	if (!have_gnuplot && log)
		fprintf(log, "gnuplot is not installed: plot scripts written to %s, not rendered\n",
			dir);
	return rendered;
}
