// SPDX-License-Identifier: MIT
/*
 * Checks a viommu-vhost audit log (vh_dev_audit): replays UPDATEs and INVALIDATEs into a set of
 * mapped 4 KiB pages and fails if the back-end used a translation for a page that no UPDATE had
 * mapped, or that an INVALIDATE had removed since. Page precision: the front-end (QEMU) maps and
 * invalidates whole IOMMU pages.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhost_user.h"

#define PAGE_SHIFT 12
#define MAX_UPDATE_PAGES (1ull << 20) /* 4 GiB per UPDATE: more is not a Linux guest's mapping */
#define EMPTY UINT64_MAX

struct pageset {
	uint64_t *slot;
	size_t cap; /* power of two */
	size_t n;
};

static size_t hash(uint64_t pfn, size_t cap)
{
	return (size_t)((pfn * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static void ps_put(struct pageset *s, uint64_t pfn);

static void ps_grow(struct pageset *s)
{
	struct pageset t = { .cap = s->cap ? s->cap * 2 : 1024 };

	t.slot = malloc(t.cap * sizeof(*t.slot));
	if (!t.slot) {
		perror("audit_check");
		exit(2);
	}
	memset(t.slot, 0xff, t.cap * sizeof(*t.slot));
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != EMPTY)
			ps_put(&t, s->slot[i]);
	free(s->slot);
	*s = t;
}

static void ps_put(struct pageset *s, uint64_t pfn)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		ps_grow(s);
	for (i = hash(pfn, s->cap); s->slot[i] != EMPTY; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == pfn)
			return;
	s->slot[i] = pfn;
	s->n++;
}

static bool ps_has(const struct pageset *s, uint64_t pfn)
{
	if (!s->cap)
		return false;
	for (size_t i = hash(pfn, s->cap); s->slot[i] != EMPTY; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == pfn)
			return true;
	return false;
}

/* Remove every page in [first, last] (rebuild: removal from linear probing is delicate). */
static void ps_remove_range(struct pageset *s, uint64_t first, uint64_t last)
{
	struct pageset t = { 0 };

	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != EMPTY && (s->slot[i] < first || s->slot[i] > last))
			ps_put(&t, s->slot[i]);
	free(s->slot);
	*s = t;
}

int main(int argc, char **argv)
{
	struct pageset set = { 0 };
	struct vh_audit_rec r;
	uint64_t n = 0, uses = 0, updates = 0, invals = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: audit_check AUDIT_LOG\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	for (; fread(&r, sizeof(r), 1, f) == 1; n++) {
		uint64_t first = r.iova >> PAGE_SHIFT, last;

		switch (r.type) {
		case VH_AUDIT_UPDATE:
			updates++;
			last = (r.iova + r.size - 1) >> PAGE_SHIFT;
			if (r.size == 0 || last < first || last - first >= MAX_UPDATE_PAGES) {
				fprintf(stderr, "%s: record %llu: implausible UPDATE\n", argv[1],
					(unsigned long long)n);
				return 1;
			}
			for (uint64_t p = first; p <= last; p++)
				ps_put(&set, p);
			break;
		case VH_AUDIT_INVALIDATE:
			invals++;
			/* Size 0 or a wrapping end: to the end of the space. */
			last = (r.size == 0 || r.iova + r.size < r.iova) ?
				       UINT64_MAX >> PAGE_SHIFT :
				       (r.iova + r.size - 1) >> PAGE_SHIFT;
			ps_remove_range(&set, first, last);
			break;
		case VH_AUDIT_USE:
			uses++;
			last = (r.iova + (r.size ? r.size : 1) - 1) >> PAGE_SHIFT;
			for (uint64_t p = first; p <= last; p++) {
				if (!ps_has(&set, p)) {
					fprintf(stderr,
						"%s: record %llu: IOVA 0x%llx used while not "
						"mapped (never updated, or invalidated)\n",
						argv[1], (unsigned long long)n,
						(unsigned long long)(p << PAGE_SHIFT));
					return 1;
				}
			}
			break;
		default:
			fprintf(stderr, "%s: record %llu: bad type\n", argv[1],
				(unsigned long long)n);
			return 1;
		}
	}
	fclose(f);
	free(set.slot);
	printf("audit %s: %llu updates, %llu invalidations, %llu translations used: ok\n", argv[1],
	       (unsigned long long)updates, (unsigned long long)invals, (unsigned long long)uses);
	return 0;
}
