// SPDX-License-Identifier: MIT
/*
 * Device IOTLB operations from fuzz input (UPDATE and INVALIDATE come from a vhost-user socket),
 * checked against a reference list of byte ranges after every lookup: a hit must map every byte
 * it covers exactly as the newest UPDATE not since invalidated did, with the access asked; with
 * room for everything, a miss must be a real miss; a permission fault must be real.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/devtlb.h>

#include "fuzz_input.h"

#define REF_MAX 64

struct rent {
	uint64_t iova, last, uaddr;
	uint32_t perm;
};

/* Addresses cluster so that operations meet, with the ends of the space in reach. */
static uint64_t addr(struct input *in)
{
	uint64_t sel = take(in, 1), v = take(in, 3);

	switch (sel & 3) {
	case 0:
		return v;
	case 1:
		return 0 - v - 1;
	case 2:
		return v << 12;
	default:
		return take(in, 8);
	}
}

static uint64_t size_of(struct input *in)
{
	uint64_t sel = take(in, 1);

	switch (sel & 3) {
	case 0:
		return take(in, 2);
	case 1:
		return (take(in, 1) + 1) << 12;
	case 2:
		return 0 - take(in, 2);
	default:
		return take(in, 8);
	}
}

static size_t ref_n;
static struct rent ref[REF_MAX * 3];

static void ref_cut(uint64_t x, uint64_t y)
{
	size_t n = ref_n, k = 0;

	for (size_t i = 0; i < n; i++) {
		struct rent e = ref[i];

		if (e.last < x || e.iova > y)
			continue;
		ref[i].perm = 0;
		if (e.iova < x)
			ref[ref_n++] = (struct rent){ e.iova, x - 1, e.uaddr, e.perm };
		if (e.last > y)
			ref[ref_n++] =
				(struct rent){ y + 1, e.last, e.uaddr + (y + 1 - e.iova), e.perm };
	}
	for (size_t i = 0; i < ref_n; i++) {
		if (ref[i].perm)
			ref[k++] = ref[i];
	}
	ref_n = k;
}

static const struct rent *ref_find(uint64_t x)
{
	for (size_t i = 0; i < ref_n; i++) {
		if (x >= ref[i].iova && x <= ref[i].last)
			return &ref[i];
	}
	return NULL;
}

static void check_hit(uint64_t x, uint64_t cov, uint64_t u, uint32_t want)
{
	uint64_t done = 0;

	for (size_t guard = 0; done < cov && guard <= ref_n; guard++) {
		const struct rent *e = ref_find(x + done);
		uint64_t run;

		if (!e || e->uaddr + (x + done - e->iova) != u + done || (e->perm & want) != want)
			abort();
		run = e->last - (x + done);
		if (run >= cov - done - 1)
			return;
		done += run + 1;
	}
	abort(); /* more pieces than entries: impossible */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	uint32_t capacity = (take(&in, 1) & 1) ? 4 : 1024;
	struct viommu_devtlb_config cfg = { .capacity = capacity, .pending_slots = 8 };
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *r;
	struct viommu_devtlb_miss m[8];
	bool started = true;

	if (viommu_devtlb_create(&cfg, &tlb) || viommu_devtlb_reader_create(tlb, NULL, NULL, &r))
		abort();
	viommu_devtlb_start(tlb);
	ref_n = 0;
	while (in.n) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint64_t x = addr(&in);

		switch (op % 8) {
		case 0:
		case 1: { /* UPDATE */
			uint64_t sz = size_of(&in), u = addr(&in), last = x + (sz - 1);
			uint32_t perm = (uint32_t)take(&in, 1) & 7;
			int want = 0, ret;

			if (last < x)
				last = UINT64_MAX;
			if (!started)
				want = VIOMMU_EPERM;
			else if (sz == 0 || perm == 0 || perm > 3 || u + (last - x) < u)
				want = VIOMMU_EINVAL;
			if (ref_n >= REF_MAX) {
				viommu_devtlb_flush(tlb);
				ref_n = 0;
			}
			ret = viommu_devtlb_update(tlb, x, sz, u, perm);
			if (ret != want)
				abort();
			if (!ret) {
				ref_cut(x, last);
				ref[ref_n++] = (struct rent){ x, last, u, perm };
			}
			break;
		}
		case 2: { /* INVALIDATE */
			uint64_t sz = size_of(&in), last = x + (sz - 1);

			if (sz == 0 || last < x)
				last = UINT64_MAX;
			if (viommu_devtlb_invalidate(tlb, x, sz))
				abort();
			ref_cut(x, last);
			break;
		}
		case 3:
		case 4:
		case 5: { /* lookup */
			uint64_t len = size_of(&in), u, cov, l = len ? len : 1;
			uint32_t acc = (uint32_t)take(&in, 1) & 3;
			uint32_t want = acc ? acc : VIOMMU_ACC_READ;
			const struct rent *e;
			int ret;

			if (ref_n && (op & 0x80))
				x = ref[x % ref_n].iova + (x >> 8) % 4096;
			ret = viommu_devtlb_lookup(r, x, len, acc, &u, &cov);
			e = ref_find(x);
			if (x + (l - 1) < x)
				l = UINT64_MAX - x + 1;
			if (!started) {
				if (ret != VIOMMU_ENOENT)
					abort();
			} else if (ret == 0) {
				if (cov < 1 || cov > l)
					abort();
				check_hit(x, cov, u, want);
			} else if (ret == VIOMMU_EPERM) {
				if (!e || (e->perm & want) == want)
					abort();
			} else if (ret != VIOMMU_EAGAIN) {
				abort();
			} else if (capacity > REF_MAX * 3 && e) {
				struct viommu_devtlb_stats st;

				/* Only forgotten when readers held tables back too long. */
				viommu_devtlb_get_stats(tlb, &st);
				if (!st.dropped && !st.evictions)
					abort();
			}
			if (op & 0x40)
				viommu_devtlb_reader_quiesce(r);
			break;
		}
		case 6:
			viommu_devtlb_take_misses(tlb, m, 8);
			viommu_devtlb_reader_quiesce(r);
			break;
		default:
			if (op & 0x10) {
				viommu_devtlb_stop(tlb);
				started = false;
			} else {
				viommu_devtlb_start(tlb);
				started = true;
			}
			ref_n = 0;
			break;
		}
	}
	viommu_devtlb_reader_destroy(r);
	viommu_devtlb_destroy(tlb);
	return 0;
}
