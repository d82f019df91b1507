// SPDX-License-Identifier: MIT
/*
 * viommu-sim validate; see validate.h. The rows file holds every published figure and stated
 * ordering; this file only knows how to turn simulated rows into the metric a figure names.
 *
 * Rows file format (docs/validation/rows.conf):
 *   [ID] title                     starts a row of docs/validation.md
 *   scenario = FILE | builtin NAME scenario file (relative to the rows file) or built-in scenario
 *   cost = NAME=VALUE              a cost override the row records (repeatable)
 *   needs = PLACEMENT | config:NAME  the row runs only when the simulator knows that placement or
 *                                  built-in configuration (a mechanism still to come)
 *   lacks = TEXT                   the row is not modelled: the mechanism the simulator lacks
 *   note = TEXT                    printed with the row (choices made, parameters n/s)
 *   dependent = KEY [KEY...]       figures whose published value is an input of a unit cost: a
 *                                  consistency check, never counted as a validation success
 *   fig KEY = PUB | METRIC SEL [/ SEL [/ SEL]] | LABEL
 *                                  a published figure (PUB a number, or - when the source gives
 *                                  none) and how to predict it; SEL = CONFIG PLACEMENT WORKLOAD
 *                                  SIZE; METRIC one of mbps, pct, ratio, line, devtlb, pair-cycles,
 *                                  cpu-more, recovered (see enum v_metric for each one's SELs)
 *   fig KEY = PUB | max KEY KEY... | LABEL
 *                                  the largest of the row's other predicted figures ("up to")
 *   order = KEY OP KEY             a stated ordering, OP one of <, > or ~F ("like": within a
 *                                  factor F either way), checked on the predicted figures
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "validate.h"

#define V_MAX_FIGS 24
#define V_MAX_ORDERS 8
#define V_MAX_COSTS 8

enum v_metric {
	V_MBPS,	       /* throughput of A in Mb/s */
	V_PCT,	       /* 100 x throughput A / throughput B */
	V_RATIO,       /* throughput A / throughput B */
	V_LINE,	       /* A's share of the line rate, % */
	V_DEVTLB,      /* A's device-IOTLB hit rate, % */
	V_PAIR_CYCLES, /* vCPU cycles per page mapped and unmapped: (B_vcpu(A) - B_vcpu(B)) / pages */
	V_CPU_MORE,    /* % more CPU per payload byte (all threads) of A than of B: 100 (A/B - 1) */
	V_RECOVERED, /* % of the loss B (of base C) that A recovers: 100 (A - B) / (C - B), Mb/s */
	V_MAX,	     /* the largest of the named figures' predictions */
	V_METRIC_NR
};

static const struct {
	const char *name, *unit;
	int nsel; /* selections it names */
} metrics[V_METRIC_NR] = {
	[V_MBPS] = { "mbps", "Mb/s", 1 },
	[V_PCT] = { "pct", "%", 2 },
	[V_RATIO] = { "ratio", "x", 2 },
	[V_LINE] = { "line", "% line", 1 },
	[V_DEVTLB] = { "devtlb", "% hit", 1 },
	[V_PAIR_CYCLES] = { "pair-cycles", "cycles", 2 },
	[V_CPU_MORE] = { "cpu-more", "% CPU", 2 },
	[V_RECOVERED] = { "recovered", "% loss", 3 },
	[V_MAX] = { "max", "", 0 },
};

struct v_sel {
	char cfg[48], placement[16], workload[16];
	uint32_t size;
};

struct v_fig {
	char key[32], label[160];
	bool has_pub, has_pred, dependent;
	double pub, pred;
	enum v_metric m;
	struct v_sel sel[3];
	char of[160]; /* max: the figures' keys, space-separated */
	uint64_t gaps;
	char why[160]; /* no prediction: why */
};

struct v_order {
	char a[32], b[32];
	char op; /* '<', '>', '~' */
	double factor;
};

struct v_row {
	char id[16], title[200], scenario[PATH_MAX], needs[32], lacks[400], note[400], dep[160];
	bool builtin, ran;
	char costs[V_MAX_COSTS][96];
	size_t ncost;
	struct v_fig fig[V_MAX_FIGS];
	size_t nfig;
	struct v_order ord[V_MAX_ORDERS];
	size_t nord;
	char profile[48];
	char err[256]; /* the row could not run: why */
};

static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int parse_sel(char *t, struct v_sel *sel)
{
	char *save = NULL, *w[4];
	char *end;
	unsigned long v;

	for (int i = 0; i < 4; i++) {
		w[i] = strtok_r(i ? NULL : t, " \t", &save);
		if (!w[i])
			return -1;
	}
	if (strtok_r(NULL, " \t", &save) || strlen(w[0]) >= sizeof(sel->cfg) ||
	    strlen(w[1]) >= sizeof(sel->placement) || strlen(w[2]) >= sizeof(sel->workload))
		return -1;
	v = strtoul(w[3], &end, 0);
	if (*end || !v || v > 65536)
		return -1;
	snprintf(sel->cfg, sizeof(sel->cfg), "%s", w[0]);
	snprintf(sel->placement, sizeof(sel->placement), "%s", w[1]);
	snprintf(sel->workload, sizeof(sel->workload), "%s", w[2]);
	sel->size = (uint32_t)v;
	return 0;
}

/* "KEY = PUB | METRIC SEL [/ SEL] | LABEL" */
static int parse_fig(char *v, struct v_fig *f)
{
	char *eq = strchr(v, '='), *bar1, *bar2, *pub, *spec, *slash[2], *m, *end;
	size_t mlen;
	int nsl;

	if (!eq)
		return -1;
	*eq = '\0';
	bar1 = strchr(eq + 1, '|');
	bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
	if (!bar2)
		return -1;
	*bar1 = *bar2 = '\0';
	v = trim(v);
	if (!*v || strlen(v) >= sizeof(f->key) || strpbrk(v, " \t"))
		return -1;
	snprintf(f->key, sizeof(f->key), "%s", v);
	pub = trim(eq + 1);
	if (!strcmp(pub, "-")) {
		f->has_pub = false;
	} else {
		errno = 0;
		f->pub = strtod(pub, &end);
		if (errno || *end || end == pub)
			return -1;
		f->has_pub = true;
	}
	snprintf(f->label, sizeof(f->label), "%s", trim(bar2 + 1));
	spec = trim(bar1 + 1);
	m = spec;
	mlen = strcspn(m, " \t");
	for (f->m = 0; f->m < V_METRIC_NR; f->m++) {
		if (strlen(metrics[f->m].name) == mlen && !strncmp(metrics[f->m].name, m, mlen))
			break;
	}
	if (f->m == V_METRIC_NR)
		return -1;
	spec = m + mlen;
	if (f->m == V_MAX) {
		spec = trim(spec);
		if (!*spec || strlen(spec) >= sizeof(f->of))
			return -1;
		snprintf(f->of, sizeof(f->of), "%s", spec);
		return 0;
	}
	slash[0] = strchr(spec, '/');
	slash[1] = slash[0] ? strchr(slash[0] + 1, '/') : NULL;
	nsl = !!slash[0] + !!slash[1];
	if (nsl + 1 != metrics[f->m].nsel || (slash[1] && strchr(slash[1] + 1, '/')))
		return -1;
	for (int i = 1; i >= 0; i--) {
		if (!slash[i])
			continue;
		*slash[i] = '\0';
		if (parse_sel(slash[i] + 1, &f->sel[i + 1]))
			return -1;
	}
	return parse_sel(spec, &f->sel[0]);
}

/* Each space-separated word of @list, in turn, into @w (false at the end). */
static bool next_word(const char **list, char *w, size_t len)
{
	size_t n;

	*list += strspn(*list, " \t");
	n = strcspn(*list, " \t");
	if (!n || n >= len)
		return false;
	memcpy(w, *list, n);
	w[n] = '\0';
	*list += n;
	return true;
}

/* "KEY OP KEY", OP one of <, >, ~F */
static int parse_order(char *v, struct v_order *o)
{
	char *save = NULL, *a = strtok_r(v, " \t", &save), *op = strtok_r(NULL, " \t", &save);
	char *b = strtok_r(NULL, " \t", &save), *end;

	if (!a || !op || !b || strtok_r(NULL, " \t", &save) || strlen(a) >= sizeof(o->a) ||
	    strlen(b) >= sizeof(o->b))
		return -1;
	snprintf(o->a, sizeof(o->a), "%s", a);
	snprintf(o->b, sizeof(o->b), "%s", b);
	o->op = op[0];
	o->factor = 1;
	if ((op[0] == '<' || op[0] == '>') && !op[1])
		return 0;
	if (op[0] != '~')
		return -1;
	o->factor = strtod(op + 1, &end);
	return *end || !(o->factor >= 1) ? -1 : 0;
}

static const struct v_fig *find_fig(const struct v_row *r, const char *key)
{
	for (size_t i = 0; i < r->nfig; i++) {
		if (!strcmp(r->fig[i].key, key))
			return &r->fig[i];
	}
	return NULL;
}

static int load_rows(const char *path, struct v_row **out, size_t *nout, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct v_row *rows = NULL, *r = NULL;
	size_t n = 0;
	unsigned int no = 0;

	if (!f)
		return snprintf(err, errlen, "%.200s: %s", path, strerror(errno)), -1;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *v, *eq;

		no++;
		if (!strchr(line, '\n') && !feof(f))
			goto bad;
		k = trim(k);
		if (!*k || *k == '#')
			continue;
		if (*k == '[') {
			char *close = strchr(k, ']');
			struct v_row *nr;

			if (!close || close == k + 1 || (size_t)(close - k - 1) >= sizeof(r->id))
				goto bad;
			nr = realloc(rows, (n + 1) * sizeof(*rows));
			if (!nr)
				goto bad;
			rows = nr;
			r = &rows[n++];
			memset(r, 0, sizeof(*r));
			snprintf(r->id, sizeof(r->id), "%.*s", (int)(close - k - 1), k + 1);
			snprintf(r->title, sizeof(r->title), "%s", trim(close + 1));
			continue;
		}
		if (!r)
			goto bad;
		if (!strncmp(k, "fig ", 4)) {
			if (r->nfig == V_MAX_FIGS || parse_fig(k + 4, &r->fig[r->nfig]))
				goto bad;
			r->nfig++;
			continue;
		}
		eq = strchr(k, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (!strcmp(k, "scenario")) {
			if (!strncmp(v, "builtin ", 8)) {
				r->builtin = true;
				snprintf(r->scenario, sizeof(r->scenario), "%s", trim(v + 8));
			} else if (snprintf(r->scenario, sizeof(r->scenario), "%s%s%s",
					    *v == '/' ? "" : dir, *v == '/' ? "" : "/",
					    v) >= (int)sizeof(r->scenario)) {
				goto bad;
			}
		} else if (!strcmp(k, "cost")) {
			if (r->ncost == V_MAX_COSTS || strlen(v) >= sizeof(r->costs[0]))
				goto bad;
			snprintf(r->costs[r->ncost++], sizeof(r->costs[0]), "%s", v);
		} else if (!strcmp(k, "needs")) {
			snprintf(r->needs, sizeof(r->needs), "%s", v);
		} else if (!strcmp(k, "lacks")) {
			snprintf(r->lacks, sizeof(r->lacks), "%s", v);
		} else if (!strcmp(k, "note")) {
			snprintf(r->note, sizeof(r->note), "%s", v);
		} else if (!strcmp(k, "dependent")) {
			if (strlen(v) >= sizeof(r->dep))
				goto bad;
			snprintf(r->dep, sizeof(r->dep), "%s", v);
		} else if (!strcmp(k, "order")) {
			if (r->nord == V_MAX_ORDERS || parse_order(v, &r->ord[r->nord]))
				goto bad;
			r->nord++;
		} else {
			goto bad;
		}
	}
	fclose(f);
	/* Every row either runs a scenario or names what it lacks; orders name its figures. */
	for (size_t i = 0; i < n; i++) {
		r = &rows[i];
		if (!r->scenario[0] == !r->lacks[0] || (r->nfig && !r->scenario[0]))
			return free(rows),
			       snprintf(err, errlen,
					"%.200s: row %s needs one of scenario or lacks", path,
					r->id),
			       -1;
		for (size_t j = 0; j < r->nord; j++) {
			if (!find_fig(r, r->ord[j].a) || !find_fig(r, r->ord[j].b))
				return free(rows),
				       snprintf(err, errlen,
						"%.200s: row %s: order names no figure", path,
						r->id),
				       -1;
		}
		/* A dependent or max list names the row's figures (max: only plain ones). */
		for (size_t j = 0; j <= r->nfig; j++) {
			const char *list = j < r->nfig ? r->fig[j].of : r->dep;
			char w[32];

			while (next_word(&list, w, sizeof(w))) {
				struct v_fig *g = (struct v_fig *)find_fig(r, w);

				if (!g || g->m == V_MAX)
					return free(rows),
					       snprintf(err, errlen,
							"%.120s: row %s: '%.31s' names no figure",
							path, r->id, w),
					       -1;
				if (j == r->nfig)
					g->dependent = true;
			}
			if (*list)
				return free(rows),
				       snprintf(err, errlen, "%.200s: row %s: bad figure list",
						path, r->id),
				       -1;
		}
	}
	*out = rows;
	*nout = n;
	return 0;
bad:
	fclose(f);
	free(rows);
	snprintf(err, errlen, "%.200s:%u: bad line", path, no);
	return -1;
}

static bool needs_met(const char *name)
{
	if (!strncmp(name, "config:", 7))
		return sim_config_known(name + 7);
	for (int p = 0; p < SIM_PLACEMENT_NR; p++) {
		if (!strcmp(name, sim_placement_name((enum sim_placement)p)))
			return true;
	}
	return false;
}

static const struct sim_row *find_row(const struct sim_row *rows, size_t n, const struct v_sel *s)
{
	for (size_t i = 0; i < n; i++) {
		const struct sim_result *r = &rows[i].r;

		if (!strcmp(r->p.cfg.name, s->cfg) &&
		    !strcmp(sim_placement_name(r->p.placement), s->placement) &&
		    !strcmp(sim_workload_name(r->p.workload), s->workload) &&
		    r->p.msg_size == s->size)
			return &rows[i];
	}
	return NULL;
}

static void predict(struct v_fig *f, const struct sim_row *rows, size_t n, double ghz)
{
	const struct sim_row *w[3] = { NULL, NULL, NULL };
	const struct sim_result *a, *b = NULL, *c = NULL;
	double ca = 0, cb = 0;

	if (f->m == V_MAX)
		return; /* from the other figures, after them (max_of()) */
	for (int i = 0; i < metrics[f->m].nsel; i++) {
		w[i] = find_row(rows, n, &f->sel[i]);
		if (!w[i] || !w[i]->r.supported) {
			snprintf(f->why, sizeof(f->why), "%s %s %s %u: %.90s", f->sel[i].cfg,
				 f->sel[i].placement, f->sel[i].workload, f->sel[i].size,
				 w[i] ? w[i]->r.why : "not in the scenario");
			return;
		}
		f->gaps |= w[i]->r.gap_costs;
	}
	a = &w[0]->r;
	if (w[1])
		b = &w[1]->r;
	if (w[2])
		c = &w[2]->r;
	switch (f->m) {
	case V_MBPS:
		f->pred = a->throughput_mbps;
		break;
	case V_PCT:
	case V_RATIO:
		if (!(b->throughput_mbps > 0))
			goto none;
		f->pred = a->throughput_mbps / b->throughput_mbps * (f->m == V_PCT ? 100 : 1);
		break;
	case V_LINE:
		if (!(a->busy_ns[SIM_RES_WIRE] > 0))
			goto none;
		f->pred = 100 * a->rate * a->busy_ns[SIM_RES_WIRE] / 1e9;
		break;
	case V_DEVTLB:
		if (a->devtlb_hit_rate < 0)
			goto none;
		f->pred = 100 * a->devtlb_hit_rate;
		break;
	case V_PAIR_CYCLES:
		if (!(a->map_pages_per_unit > 0))
			goto none;
		f->pred = (a->busy_ns[SIM_RES_VCPU] - b->busy_ns[SIM_RES_VCPU]) /
			  a->map_pages_per_unit * ghz;
		break;
	case V_CPU_MORE:
		/* Service demand: every thread's CPU per payload byte (waits included, spun). */
		for (int res = 0; res < SIM_RES_NR; res++) {
			if (res == SIM_RES_VCPU || res == SIM_RES_VMM || res == SIM_RES_BACKEND ||
			    res == SIM_RES_SIDE) {
				ca += a->busy_ns[res];
				cb += b->busy_ns[res];
			}
		}
		if (!(a->payload_bytes > 0) || !(b->payload_bytes > 0) || !(cb > 0))
			goto none;
		f->pred = 100 * (ca / a->payload_bytes / (cb / b->payload_bytes) - 1);
		break;
	case V_RECOVERED:
		if (!(c->throughput_mbps > b->throughput_mbps))
			goto none;
		f->pred = 100 * (a->throughput_mbps - b->throughput_mbps) /
			  (c->throughput_mbps - b->throughput_mbps);
		break;
	default:
		goto none;
	}
	f->has_pred = true;
	return;
none:
	snprintf(f->why, sizeof(f->why), "the metric is undefined for these rows");
}

/* "up to": the largest of the named figures' predictions, with all their GAP costs. */
static void max_of(struct v_row *r, struct v_fig *f)
{
	const char *list = f->of;
	char w[32];

	while (next_word(&list, w, sizeof(w))) {
		const struct v_fig *g = find_fig(r, w);

		f->gaps |= g->gaps;
		if (g->has_pred && (!f->has_pred || g->pred > f->pred))
			f->pred = g->pred;
		f->has_pred |= g->has_pred;
	}
	if (!f->has_pred)
		snprintf(f->why, sizeof(f->why), "none of %.140s predicted", f->of);
}

static int row_costs(const struct sim_validate_args *a, struct v_row *r, const char *profile,
		     struct sim_costs **out)
{
	struct sim_costs *c;
	int ret;

	if (sim_costs_create(&c, r->err, sizeof(r->err)))
		return -1;
	/* Same precedence as a scenario run (cost-model.md §7), the row's overrides before -c. */
	ret = VIOMMU_EINVAL;
	if (a->profile)
		ret = sim_costs_select(c, a->profile, r->err, sizeof(r->err));
	if (ret)
		ret = sim_costs_select(c, profile, r->err, sizeof(r->err));
	for (size_t i = 0; !ret && i < a->nfiles; i++)
		ret = sim_costs_load_file(c, a->cost_files[i], r->err, sizeof(r->err));
	if (!ret && a->profile)
		ret = sim_costs_select(c, a->profile, r->err, sizeof(r->err));
	for (size_t i = 0; !ret && i < r->ncost; i++)
		ret = sim_costs_set_arg(c, r->costs[i], r->err, sizeof(r->err));
	for (size_t i = 0; !ret && i < a->ncost; i++)
		ret = sim_costs_set_arg(c, a->cost_args[i], r->err, sizeof(r->err));
	if (ret) {
		sim_costs_destroy(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void run_row(const struct sim_validate_args *a, struct v_row *r)
{
	struct scenario s;
	struct sim_costs *c;
	struct sim_row *rows = NULL;
	size_t n = 0;

	if (r->builtin) {
		if (sim_scenario_builtin(&s, r->scenario)) {
			snprintf(r->err, sizeof(r->err), "no built-in scenario '%s'", r->scenario);
			return;
		}
	} else if (sim_scenario_load(&s, r->scenario, r->err, sizeof(r->err))) {
		return;
	}
	if (row_costs(a, r, s.profile, &c))
		return;
	snprintf(r->profile, sizeof(r->profile), "%s", sim_costs_selected(c));
	if (sim_scenario_rows(&s, c, &a->o, &rows, &n))
		snprintf(r->err, sizeof(r->err), "a simulated row failed (see above)");
	for (size_t i = 0; rows && i < r->nfig; i++)
		predict(&r->fig[i], rows, n, sim_cost(c, SIM_COST_CPU_GHZ));
	for (size_t i = 0; rows && i < r->nfig; i++) {
		if (r->fig[i].m == V_MAX)
			max_of(r, &r->fig[i]);
	}
	r->ran = rows != NULL;
	free(rows);
	sim_costs_destroy(c);
}

/* An ordering's verdict on the predicted (or published) values: 1 holds, 0 fails, -1 unknown. */
static int holds(const struct v_row *r, const struct v_order *o, bool published)
{
	const struct v_fig *fa = find_fig(r, o->a), *fb = find_fig(r, o->b);
	double x, y;

	if (published ? !fa->has_pub || !fb->has_pub : !fa->has_pred || !fb->has_pred)
		return -1;
	x = published ? fa->pub : fa->pred;
	y = published ? fb->pub : fb->pred;
	switch (o->op) {
	case '<':
		return x < y;
	case '>':
		return x > y;
	default:
		if (!(x > 0) || !(y > 0))
			return x == y;
		return fmax(x / y, y / x) <= o->factor;
	}
}

/* Published side: an ordering stated in words, with no figures to check it against, is "stated". */
static const char *verdict(int h)
{
	return h < 0 ? "stated" : h ? "holds" : "FAILS";
}

static void json_str(FILE *f, const char *key, const char *v)
{
	fprintf(f, "\"%s\":\"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(f, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*v);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *key, bool has, double v)
{
	if (has && isfinite(v))
		fprintf(f, ",\"%s\":%.6g", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static void gaps_of(uint64_t gaps, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int k = 0; k < SIM_COST_NR && k < 64; k++) {
		if ((gaps >> k) & 1) {
			int w = snprintf(buf + off, len - off, "%s%s", off ? " " : "",
					 sim_cost_name((enum sim_cost)k));

			if (w < 0 || (size_t)w >= len - off)
				break;
			off += (size_t)w;
		}
	}
}

static void print_json(const struct v_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct v_row *r = &rows[i];

		if (!r->scenario[0] || (r->needs[0] && !needs_met(r->needs))) {
			printf("{");
			json_str(stdout, "row", r->id);
			printf(",");
			json_str(stdout, "title", r->title);
			printf(",\"modelled\":false,");
			json_str(stdout, "lacks", r->lacks[0] ? r->lacks : r->needs);
			printf("}\n");
			continue;
		}
		for (size_t j = 0; j < r->nfig; j++) {
			const struct v_fig *f = &r->fig[j];

			printf("{");
			json_str(stdout, "row", r->id);
			printf(",");
			json_str(stdout, "fig", f->key);
			printf(",");
			json_str(stdout, "label", f->label);
			printf(",");
			json_str(stdout, "metric", metrics[f->m].name);
			printf(",");
			json_str(stdout, "profile", r->profile);
			json_num(stdout, "published", f->has_pub, f->pub);
			printf(",\"dependent\":%s", f->dependent ? "true" : "false");
			json_num(stdout, "predicted", f->has_pred, f->pred);
			json_num(stdout, "ratio", f->has_pub && f->has_pred && f->pub != 0,
				 f->has_pub && f->pub != 0 ? f->pred / f->pub : 0);
			printf(",\"gaps\":[");
			for (int k = 0, first = 1; k < SIM_COST_NR && k < 64; k++) {
				if ((f->gaps >> k) & 1) {
					printf("%s\"%s\"", first ? "" : ",",
					       sim_cost_name((enum sim_cost)k));
					first = 0;
				}
			}
			printf("]");
			if (!f->has_pred) {
				printf(",");
				json_str(stdout, "why", r->err[0] ? r->err : f->why);
			}
			printf("}\n");
		}
		for (size_t j = 0; j < r->nord; j++) {
			const struct v_order *o = &r->ord[j];
			char text[96];
			int p = holds(r, o, true), q = holds(r, o, false);

			if (o->op == '~')
				snprintf(text, sizeof(text), "%s ~%g %s", o->a, o->factor, o->b);
			else
				snprintf(text, sizeof(text), "%s %c %s", o->a, o->op, o->b);
			printf("{");
			json_str(stdout, "row", r->id);
			printf(",");
			json_str(stdout, "order", text);
			printf(",\"published_holds\":%s,\"predicted_holds\":%s}\n",
			       p < 0 ? "null" :
			       p     ? "true" :
				       "false",
			       q < 0 ? "null" :
			       q     ? "true" :
				       "false");
		}
	}
}

/* A max figure's unit is its figures' (the first one's). */
static const char *fig_unit(const struct v_row *r, const struct v_fig *f)
{
	const char *list = f->of;
	char w[32];

	if (f->m == V_MAX && next_word(&list, w, sizeof(w)))
		return metrics[find_fig(r, w)->m].unit;
	return metrics[f->m].unit;
}

static void num(char *buf, size_t len, bool has, double v)
{
	if (!has)
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

static void print_table(const char *path, const struct v_row *rows, size_t n)
{
	size_t figs = 0, predicted = 0, pubs = 0, within2 = 0, ords = 0, held = 0, unmodelled = 0;
	size_t dep = 0;
	char gaps[512];

	printf("viommu-sim validate: %s\n", path);
	printf("Published figures are targets, never inputs: no cost was tuned to them. "
	       "pred/pub = predicted / published.\n\n");
	printf("%-5s %-14s %-10s %11s %11s %9s  %-18s %s\n", "row", "figure", "unit", "published",
	       "predicted", "pred/pub", "profile", "label");
	for (size_t i = 0; i < n; i++) {
		const struct v_row *r = &rows[i];
		uint64_t all = 0;

		if (!r->scenario[0] || (r->needs[0] && !needs_met(r->needs)))
			continue;
		if (r->err[0])
			printf("%-5s could not run: %s\n", r->id, r->err);
		for (size_t j = 0; j < r->nfig; j++) {
			const struct v_fig *f = &r->fig[j];
			char pub[24], pred[24], ratio[24];
			bool rat = f->has_pub && f->has_pred && f->pub != 0;

			num(pub, sizeof(pub), f->has_pub, f->pub);
			num(pred, sizeof(pred), f->has_pred, f->pred);
			if (rat)
				snprintf(ratio, sizeof(ratio), "%.2fx", f->pred / f->pub);
			else
				snprintf(ratio, sizeof(ratio), "-");
			printf("%-5s %-14s %-10s %11s %11s %9s  %-18s %s%s\n", j ? "" : r->id,
			       f->key, fig_unit(r, f), pub, pred, ratio, r->profile, f->label,
			       f->dependent ? " (dependent: not counted)" : "");
			if (!f->has_pred)
				printf("%-5s   no prediction: %s\n", "",
				       r->err[0] ? r->err : f->why);
			figs++;
			predicted += f->has_pred;
			/* A figure a unit cost was taken from proves nothing: kept apart. */
			dep += rat && f->dependent;
			rat = rat && !f->dependent;
			pubs += rat;
			within2 += rat && f->pred / f->pub <= 2 && f->pub / f->pred <= 2;
			all |= f->gaps;
		}
		for (size_t j = 0; j < r->nord; j++) {
			const struct v_order *o = &r->ord[j];
			int q = holds(r, o, false);

			if (o->op == '~')
				printf("%-5s   order %s ~%g %s (like: within %gx): published %s, "
				       "predicted %s\n",
				       "", o->a, o->factor, o->b, o->factor,
				       verdict(holds(r, o, true)), verdict(q));
			else
				printf("%-5s   order %s %c %s: published %s, predicted %s\n", "",
				       o->a, o->op, o->b, verdict(holds(r, o, true)), verdict(q));
			ords++;
			held += q == 1;
		}
		gaps_of(all, gaps, sizeof(gaps));
		if (gaps[0])
			printf("%-5s   GAP costs in these predictions: %s\n", "", gaps);
		if (r->note[0])
			printf("%-5s   note: %s\n", "", r->note);
	}
	printf("\nNot modelled (the mechanism the simulator lacks):\n");
	for (size_t i = 0; i < n; i++) {
		const struct v_row *r = &rows[i];

		if (r->scenario[0] && !(r->needs[0] && !needs_met(r->needs)))
			continue;
		unmodelled++;
		if (r->lacks[0])
			printf("  %-5s %s: %s\n", r->id, r->title, r->lacks);
		else
			printf("  %-5s %s: %s '%s'\n", r->id, r->title,
			       strncmp(r->needs, "config:", 7) ? "the placement" :
								 "the configuration",
			       strncmp(r->needs, "config:", 7) ? r->needs : r->needs + 7);
	}
	printf("\n%zu rows: %zu modelled, %zu not; %zu of %zu figures predicted; %zu of the %zu "
	       "with an independent published figure within 2x of it (%zu dependent, not "
	       "counted); %zu of %zu stated orderings hold.\n",
	       n, n - unmodelled, unmodelled, predicted, figs, within2, pubs, dep, held, ords);
}

/* docs/validation/rows.conf beside the build directory (build/sim/viommu-sim), else cwd's. */
static void default_rows(const char *argv0, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	(void)argv0;
	if (k > 0) {
		exe[k] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/../../docs/validation/rows.conf", exe) <
				    (int)len &&
			    !access(buf, R_OK))
				return;
		}
	}
	snprintf(buf, len, "docs/validation/rows.conf");
}

int sim_validate(const struct sim_validate_args *a)
{
	char path[PATH_MAX], err[256];
	struct v_row *rows;
	size_t n;
	int ret = 0;

	if (a->rows_path)
		snprintf(path, sizeof(path), "%s", a->rows_path);
	else
		default_rows(a->argv0, path, sizeof(path));
	if (load_rows(path, &rows, &n, err, sizeof(err)))
		return fprintf(stderr, "viommu-sim: %s\n", err), 2;
	for (size_t i = 0; i < n; i++) {
		struct v_row *r = &rows[i];

		if (!r->scenario[0] || (r->needs[0] && !needs_met(r->needs)))
			continue;
		if (!a->o.json && isatty(STDERR_FILENO))
			fprintf(stderr, "\r%-60s", r->id);
		run_row(a, r);
		if (r->err[0]) {
			fprintf(stderr, "viommu-sim validate: %s: %s\n", r->id, r->err);
			ret = 1;
		}
		for (size_t j = 0; j < r->nfig; j++)
			ret |= !r->fig[j].has_pred;
	}
	if (!a->o.json && isatty(STDERR_FILENO))
		fprintf(stderr, "\r%60s\r", "");
	if (a->o.json)
		print_json(rows, n);
	else
		print_table(path, rows, n);
	free(rows);
	return ret;
}
