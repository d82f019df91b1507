// SPDX-License-Identifier: MIT
/*
 * Cost profiles: parser of the docs/cost-profiles.conf syntax and the override rules of
 * docs/cost-model.md §7. See cost.h.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/viommu.h>

#include "cost.h"

/* Generated at build time from docs/cost-profiles.conf. */
extern const char sim_builtin_profiles[];

#define MAX_PROFILES 32
#define NAME_MAX_LEN 48

struct val {
	bool set;
	bool cycles; /* a time given as NAME_cycles */
	double v;
	char origin[80];
	char tag[16];
};

struct profile {
	char name[NAME_MAX_LEN];
	char about[160];
	struct val v[SIM_COST_NR];
	bool defined_here[SIM_COST_NR]; /* in the current section (ns/cycles clash check) */
};

struct sim_costs {
	struct profile p[MAX_PROFILES];
	size_t n;
	size_t sel;
};

#define SIM_COST_NAME(id, name, unit) name,
static const char *const names[SIM_COST_NR] = { SIM_COST_LIST(SIM_COST_NAME) };
#undef SIM_COST_NAME
#define SIM_COST_UNIT(id, name, unit) unit,
static const enum sim_unit units[SIM_COST_NR] = { SIM_COST_LIST(SIM_COST_UNIT) };
#undef SIM_COST_UNIT

const char *sim_cost_name(enum sim_cost k)
{
	return k < SIM_COST_NR ? names[k] : "?";
}

enum sim_unit sim_cost_unit(enum sim_cost k)
{
	return units[k];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return VIOMMU_EINVAL;
}

/* Resolve "name_ns", "name_cycles" or a unit-less name to a cost; *cycles says which. */
static int lookup_name(const char *key, enum sim_cost *k, bool *cycles)
{
	static const char *const sfx[2] = { "_ns", "_cycles" };

	for (int i = 0; i < SIM_COST_NR; i++) {
		size_t n = strlen(names[i]);

		if (strncmp(key, names[i], n))
			continue;
		if (units[i] != SIM_UNIT_TIME) {
			if (key[n] == '\0') {
				*k = (enum sim_cost)i;
				*cycles = false;
				return 0;
			}
			continue;
		}
		for (int s = 0; s < 2; s++) {
			if (!strcmp(key + n, sfx[s])) {
				*k = (enum sim_cost)i;
				*cycles = s == 1;
				return 0;
			}
		}
	}
	return VIOMMU_ENOENT;
}

static struct profile *find(struct sim_costs *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->p[i].name, name))
			return &c->p[i];
	}
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_value(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *trim(end) != '\0' || errno || !isfinite(*v))
		return VIOMMU_EINVAL;
	return 0;
}

/* One "name = value  # tag comment" assignment to @p. */
static int assign(struct profile *p, char *key, char *value, const char *comment,
		  const char *origin, char *err, size_t errlen)
{
	enum sim_cost k;
	bool cycles;
	double v;
	struct val *x;

	if (lookup_name(key, &k, &cycles))
		return fail(err, errlen, "%s: unknown cost '%s'", origin, key);
	if (parse_value(value, &v))
		return fail(err, errlen, "%s: '%s' is not a number", origin, value);
	if (v < 0)
		return fail(err, errlen, "%s: negative value for '%s'", origin, key);
	if ((k == SIM_COST_CPU_GHZ || k == SIM_COST_COPY_BW || k == SIM_COST_LINK_GBPS ||
	     k == SIM_COST_DEV_DMA_INFLIGHT || k == SIM_COST_HW_IOTLB_ENTRIES ||
	     k == SIM_COST_DISK_GBYTE_PER_S) &&
	    v == 0)
		return fail(err, errlen, "%s: '%s' must be positive", origin, key);
	x = &p->v[k];
	if (p->defined_here[k] && x->cycles != cycles)
		return fail(err, errlen, "%s: both %s_ns and %s_cycles in one section", origin,
			    names[k], names[k]);
	p->defined_here[k] = true;
	x->set = true;
	x->cycles = cycles;
	x->v = v;
	snprintf(x->origin, sizeof(x->origin), "%s", origin);
	x->tag[0] = '\0';
	if (comment) {
		size_t n = strcspn(comment, " \t");

		if (n >= sizeof(x->tag))
			n = sizeof(x->tag) - 1;
		memcpy(x->tag, comment, n);
		x->tag[n] = '\0';
	}
	return 0;
}

/*
 * Parse @text. Lines outside a section go to @dflt (NULL: an error). @src names the text in
 * origins ("profile:NAME" is used for the built-in text).
 */
static int parse(struct sim_costs *c, const char *text, const char *src, bool builtin,
		 struct profile *dflt, char *err, size_t errlen)
{
	struct profile *cur = dflt;
	bool first = false; /* the next assignment is the first of its section */
	unsigned int lineno = 0;
	const char *s = text;

	if (cur)
		memset(cur->defined_here, 0, sizeof(cur->defined_here));
	while (*s) {
		char line[512], where[160], *l, *hash, *eq, *comment = NULL;
		size_t n = strcspn(s, "\n");

		lineno++;
		if (n >= sizeof(line))
			return fail(err, errlen, "%s:%u: line too long", src, lineno);
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (s[n] == '\n');
		hash = strchr(line, '#');
		if (hash) {
			*hash = '\0';
			comment = trim(hash + 1);
		}
		l = trim(line);
		if (!*l) {
			/* The first comment line under a header describes the profile. */
			if (cur && cur != dflt && first && comment && !cur->about[0])
				snprintf(cur->about, sizeof(cur->about), "%s", comment);
			continue;
		}
		if (*l == '[') {
			char name[NAME_MAX_LEN];

			if (sscanf(l, "[profile %47[A-Za-z0-9_.-]]", name) != 1 ||
			    l[strlen(l) - 1] != ']')
				return fail(err, errlen, "%s:%u: expected [profile NAME]", src,
					    lineno);
			cur = find(c, name);
			if (!cur) {
				if (c->n == MAX_PROFILES)
					return fail(err, errlen, "%s:%u: too many profiles", src,
						    lineno);
				cur = &c->p[c->n++];
				memset(cur, 0, sizeof(*cur));
				memcpy(cur->name, name, sizeof(cur->name)); /* %47[ bounds it */
			}
			memset(cur->defined_here, 0, sizeof(cur->defined_here));
			first = true;
			continue;
		}
		eq = strchr(l, '=');
		if (!eq)
			return fail(err, errlen, "%s:%u: expected name = value", src, lineno);
		*eq = '\0';
		if (!cur)
			return fail(err, errlen, "%s:%u: assignment outside a [profile] section",
				    src, lineno);
		if (!strcmp(trim(l), "inherit")) {
			struct profile *from = find(c, trim(eq + 1));

			if (!first)
				return fail(err, errlen,
					    "%s:%u: inherit must be the first line of a section",
					    src, lineno);
			if (!from || from == cur)
				return fail(err, errlen, "%s:%u: unknown profile '%s'", src, lineno,
					    trim(eq + 1));
			memcpy(cur->v, from->v, sizeof(cur->v));
			if (!cur->about[0])
				snprintf(cur->about, sizeof(cur->about), "%s", from->about);
			first = false;
			continue;
		}
		first = false;
		if (builtin)
			snprintf(where, sizeof(where), "profile:%s", cur->name);
		else
			snprintf(where, sizeof(where), "%s:%u", src, lineno);
		if (assign(cur, trim(l), trim(eq + 1), comment, where, err, errlen))
			return VIOMMU_EINVAL;
	}
	return 0;
}

static int check_complete(const struct sim_costs *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n; i++) {
		for (int k = 0; k < SIM_COST_NR; k++) {
			if (!c->p[i].v[k].set)
				return fail(err, errlen, "profile %s: no value for %s",
					    c->p[i].name, names[k]);
		}
	}
	return 0;
}

int sim_costs_create(struct sim_costs **out, char *err, size_t errlen)
{
	struct sim_costs *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return VIOMMU_ENOMEM;
	ret = parse(c, sim_builtin_profiles, "cost-profiles.conf", true, NULL, err, errlen);
	if (!ret)
		ret = check_complete(c, err, errlen);
	if (!ret && !c->n)
		ret = fail(err, errlen, "no built-in profile");
	if (ret) {
		free(c);
		return ret;
	}
	c->sel = 0;
	if (find(c, "x86-current"))
		c->sel = (size_t)(find(c, "x86-current") - c->p);
	*out = c;
	return 0;
}

void sim_costs_destroy(struct sim_costs *c)
{
	free(c);
}

size_t sim_costs_profile_count(const struct sim_costs *c)
{
	return c->n;
}

const char *sim_costs_profile_name(const struct sim_costs *c, size_t i)
{
	return i < c->n ? c->p[i].name : NULL;
}

const char *sim_costs_profile_about(const struct sim_costs *c, size_t i)
{
	return i < c->n ? c->p[i].about : NULL;
}

int sim_costs_select(struct sim_costs *c, const char *profile, char *err, size_t errlen)
{
	struct profile *p = find(c, profile);

	if (!p)
		return fail(err, errlen, "unknown profile '%s' (see --list)", profile);
	c->sel = (size_t)(p - c->p);
	return 0;
}

const char *sim_costs_selected(const struct sim_costs *c)
{
	return c->p[c->sel].name;
}

int sim_costs_load_file(struct sim_costs *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	long len;
	int ret;

	if (!f)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || len > (1 << 20) ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return fail(err, errlen, "%s: unreadable or larger than 1 MiB", path);
	}
	text = malloc((size_t)len + 1);
	if (!text) {
		fclose(f);
		return VIOMMU_ENOMEM;
	}
	if (fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		fclose(f);
		return fail(err, errlen, "%s: read error", path);
	}
	text[len] = '\0';
	fclose(f);
	if (memchr(text, '\0', (size_t)len))
		ret = fail(err, errlen, "%s: not a text file", path);
	else
		ret = parse(c, text, path, false, &c->p[c->sel], err, errlen);
	free(text);
	return ret ? ret : check_complete(c, err, errlen);
}

int sim_costs_set_arg(struct sim_costs *c, const char *arg, char *err, size_t errlen)
{
	char buf[160], *eq;
	struct profile *p = &c->p[c->sel];

	if (strlen(arg) >= sizeof(buf))
		return fail(err, errlen, "--cost %s: too long", arg);
	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	if (!eq)
		return fail(err, errlen, "--cost %s: expected NAME=VALUE", arg);
	*eq = '\0';
	/* A command-line value replaces either unit of the profile's time cost. */
	memset(p->defined_here, 0, sizeof(p->defined_here));
	return assign(p, trim(buf), trim(eq + 1), "cli", "cli", err, errlen);
}

double sim_cost(const struct sim_costs *c, enum sim_cost k)
{
	const struct profile *p = &c->p[c->sel];
	const struct val *x = &p->v[k];

	if (units[k] == SIM_UNIT_TIME && x->cycles)
		return x->v / p->v[SIM_COST_CPU_GHZ].v;
	return x->v;
}

bool sim_cost_is_gap(const struct sim_costs *c, enum sim_cost k)
{
	return !strcmp(c->p[c->sel].v[k].tag, "GAP");
}

static const char *unit_name(enum sim_cost k, bool cycles)
{
	switch (units[k]) {
	case SIM_UNIT_TIME:
		return cycles ? "cycles" : "ns";
	case SIM_UNIT_GHZ:
		return "GHz";
	case SIM_UNIT_GBPS:
		return "Gb/s";
	case SIM_UNIT_BYTES:
		return "bytes";
	case SIM_UNIT_GBYTE_PER_S:
		return "GB/s";
	case SIM_UNIT_COUNT:
		break;
	}
	return "count";
}

void sim_costs_print(const struct sim_costs *c, FILE *f)
{
	const struct profile *p = &c->p[c->sel];

	fprintf(f, "# costs: profile %s\n", p->name);
	fprintf(f, "%-22s %12s %-7s %10s  %-5s %s\n", "name", "value", "unit", "ns", "tag",
		"origin");
	for (int k = 0; k < SIM_COST_NR; k++) {
		const struct val *x = &p->v[k];
		char ns[24] = "";

		if (units[k] == SIM_UNIT_TIME)
			snprintf(ns, sizeof(ns), "%.1f", sim_cost(c, (enum sim_cost)k));
		fprintf(f, "%-22s %12g %-7s %10s  %-5s %s\n", names[k], x->v,
			unit_name((enum sim_cost)k, x->cycles), ns, x->tag, x->origin);
	}
}
