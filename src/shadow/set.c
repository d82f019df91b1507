// SPDX-License-Identifier: MIT
/*
 * Interval sets of the shadow engine: sorted arrays of non-overlapping extents, searched by
 * binary search. Changes splice the array; the engine applies a batch in IOVA order, so the
 * common growth (a replay, a run of new mappings) appends at the end.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/viommu.h>

#include "shadow_internal.h"

static int reserve(struct vi_shadow_set *s, size_t need)
{
	size_t c = s->cap ? s->cap : 16;
	struct vi_shadow_ext *p;

	if (need <= s->cap)
		return 0;
	while (c < need)
		c *= 2;
	p = realloc(s->e, c * sizeof(*p));
	if (!p)
		return VIOMMU_ENOMEM;
	s->e = p;
	s->cap = c;
	return 0;
}

size_t vi_shadow_set_lower(const struct vi_shadow_set *s, uint64_t x)
{
	size_t lo = 0, hi = s->n;

	/* In-order growth (a replay, a run of new mappings) lands at the end: no search. */
	if (s->n && s->e[s->n - 1].iova <= x)
		return s->e[s->n - 1].last >= x ? s->n - 1 : s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->e[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vi_shadow_set_insert(struct vi_shadow_set *s, size_t at, const struct vi_shadow_ext *x)
{
	if (reserve(s, s->n + 1))
		return VIOMMU_ENOMEM;
	memmove(&s->e[at + 1], &s->e[at], (s->n - at) * sizeof(*x));
	s->e[at] = *x;
	s->n++;
	return 0;
}

int vi_shadow_set_carve(struct vi_shadow_set *s, uint64_t a, uint64_t b, size_t *at)
{
	size_t i = vi_shadow_set_lower(s, a), j;

	if (i < s->n && s->e[i].iova < a && s->e[i].last > b) {
		/* [a, b] inside one entry: it becomes two. */
		struct vi_shadow_ext tail = s->e[i];

		if (reserve(s, s->n + 1))
			return VIOMMU_ENOMEM;
		tail.host += b + 1 - tail.iova;
		tail.iova = b + 1;
		s->e[i].last = a - 1;
		memmove(&s->e[i + 2], &s->e[i + 1], (s->n - i - 1) * sizeof(tail));
		s->e[i + 1] = tail;
		s->n++;
		*at = i + 1;
		return 0;
	}
	if (i < s->n && s->e[i].iova < a) {
		s->e[i].last = a - 1;
		i++;
	}
	j = i;
	while (j < s->n && s->e[j].last <= b)
		j++;
	if (j < s->n && s->e[j].iova <= b) {
		s->e[j].host += b + 1 - s->e[j].iova;
		s->e[j].iova = b + 1;
	}
	if (j > i) {
		memmove(&s->e[i], &s->e[j], (s->n - j) * sizeof(*s->e));
		s->n -= j - i;
	}
	*at = i;
	return 0;
}

void vi_shadow_set_fini(struct vi_shadow_set *s)
{
	free(s->e);
	s->e = NULL;
	s->n = s->cap = 0;
}

int vi_shadow_set_reserve(struct vi_shadow_set *s, size_t need)
{
	return reserve(s, need);
}
