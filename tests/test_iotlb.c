// SPDX-License-Identifier: MIT
/*
 * The shared IOTLB: unit cases and a randomized run against a naive reference model.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/iotlb.h>

#include "core/iotlb_fast.h"

static struct viommu_iotlb *mk(uint32_t capacity, uint32_t ways)
{
	struct viommu_iotlb_config cfg = { .capacity = capacity, .ways = ways };
	struct viommu_iotlb *tlb = NULL;

	assert_int_equal(viommu_iotlb_create(&cfg, &tlb), 0);
	return tlb;
}

static struct viommu_iotlb_entry ent(uint32_t dom, uint64_t iova, uint64_t out, uint8_t shift)
{
	struct viommu_iotlb_entry e = { .tag = { .dom = dom },
					.iova = iova,
					.out = out,
					.shift = shift,
					.perm = VIOMMU_ACC_RW };
	return e;
}

static void test_create_args(void **state)
{
	struct viommu_iotlb *tlb;
	struct viommu_iotlb_config bad[] = {
		{ .capacity = 1000, .ways = 4 },
		{ .capacity = 1024, .ways = 3 },
		{ .capacity = 2, .ways = 4 },
		{ .capacity = 1024, .ways = 32 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(viommu_iotlb_create(&bad[i], &tlb), VIOMMU_EINVAL);
	assert_int_equal(viommu_iotlb_create(NULL, NULL), VIOMMU_EINVAL);
	assert_int_equal(viommu_iotlb_create(NULL, &tlb), 0);
	assert_int_equal(viommu_iotlb_capacity(tlb), 1024);
	viommu_iotlb_destroy(tlb);
	viommu_iotlb_destroy(NULL);
}

/* config_init writes out the defaults (1024 entries, 4 ways), which create takes. */
static void test_config_init(void **state)
{
	struct viommu_iotlb_config cfg;
	struct viommu_iotlb_stats st;
	struct viommu_iotlb *tlb;
	struct viommu_iotlb_entry e;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	viommu_iotlb_config_init(&cfg);
	viommu_iotlb_config_init(NULL);
	assert_int_equal(cfg.capacity, 1024);
	assert_int_equal(cfg.ways, 4);
	assert_int_equal(viommu_iotlb_create(&cfg, &tlb), 0);
	assert_int_equal(viommu_iotlb_capacity(tlb), 1024);
	e = ent(1, 0x5000, 0x9000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &e.tag, 0x5123, &e), 0);
	assert_int_equal(e.out, 0x9000);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.hits, 1);
	viommu_iotlb_destroy(tlb);
}

static void test_hit_miss_and_page_sizes(void **state)
{
	struct viommu_iotlb *tlb = mk(256, 4);
	struct viommu_iotlb_tag t1 = { .dom = 1 }, t2 = { .dom = 2 };
	struct viommu_iotlb_entry e, got;
	struct viommu_iotlb_stats st;

	(void)state;
	e = ent(1, 0x12345, 0xabcde, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x12fff, &got), 0);
	assert_int_equal(got.iova, 0x12000);
	assert_int_equal(got.out, 0xab000);
	assert_int_equal(got.shift, 12);
	assert_int_equal(got.perm, VIOMMU_ACC_RW);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x13000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x12000, &got), VIOMMU_ENOENT);

	/* Every power of two from 4 KiB up, Arm's 16K/64K/32M/512M among them. */
	for (uint8_t s = VIOMMU_IOTLB_MIN_SHIFT; s <= 30; s++) {
		uint64_t base = (uint64_t)s << 40;

		e = ent(2, base, base + (1ull << 40), s);
		e.level = s;
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_lookup(tlb, &t2, base + (1ull << s) - 1, &got), 0);
		assert_int_equal(got.shift, s);
		assert_int_equal(got.level, s);
		assert_int_equal(got.out, base + (1ull << 40));
		assert_int_equal(viommu_iotlb_lookup(tlb, &t2, base + (1ull << s), &got),
				 VIOMMU_ENOENT);
	}
	e = ent(1, 0, 0, 11);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), VIOMMU_EINVAL);
	e = ent(1, 0, 0, VIOMMU_IOTLB_MAX_SHIFT + 1);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), VIOMMU_EINVAL);

	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, 1 + 19);
	assert_int_equal(st.hits, 1 + 19);
	assert_int_equal(st.misses, 2 + 19);
	assert_int_equal(st.lookups, st.hits + st.misses);
	viommu_iotlb_destroy(tlb);
}

static void test_replace_in_place(void **state)
{
	struct viommu_iotlb *tlb = mk(64, 4);
	struct viommu_iotlb_tag t = { .dom = 5 };
	struct viommu_iotlb_entry e = ent(5, 0x1000, 0x2000, 12), got;
	struct viommu_iotlb_stats st;

	(void)state;
	for (int i = 0; i < 10; i++) {
		e.out = 0x2000 + (uint64_t)i * 0x1000;
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	}
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x1000, &got), 0);
	assert_int_equal(got.out, 0xb000);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.evictions, 0);
	viommu_iotlb_destroy(tlb);
}

static void test_tag_fields_are_distinct(void **state)
{
	struct viommu_iotlb *tlb = mk(64, 4);
	struct viommu_iotlb_entry e = ent(1, 0x5000, 0x1000, 12), got;
	struct viommu_iotlb_tag t = { .dom = 1, .pasid = 0, .sid = 0 };

	(void)state;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	e.tag.pasid = 3;
	e.out = 0x3000;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	e.tag.pasid = 0;
	e.tag.sid = 8;
	e.out = 0x8000;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);

	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x5000, &got), 0);
	assert_int_equal(got.out, 0x1000);
	t.pasid = 3;
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x5000, &got), 0);
	assert_int_equal(got.out, 0x3000);
	t.pasid = 0;
	t.sid = 8;
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x5000, &got), 0);
	assert_int_equal(got.out, 0x8000);
	t.sid = 9;
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x5000, &got), VIOMMU_ENOENT);
	viommu_iotlb_destroy(tlb);
}

static void test_invalidation_kinds(void **state)
{
	struct viommu_iotlb *tlb = mk(1024, 4);
	struct viommu_iotlb_tag t1 = { .dom = 1 }, t2 = { .dom = 2 };
	struct viommu_iotlb_entry e, got;
	struct viommu_iotlb_inval inv;
	struct viommu_iotlb_stats st;

	(void)state;
	for (uint64_t i = 0; i < 16; i++) {
		e = ent(1, i << 12, 0x100000 + (i << 12), 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		e.tag.dom = 2;
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	}
	e = ent(1, 0x200000, 0x400000, 21); /* one 2 MiB page */
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);

	/* Range within a tag: pages 4..7 of domain 1 only. */
	inv = (struct viommu_iotlb_inval){ .match = VIOMMU_IOTLB_MATCH_DOM |
						    VIOMMU_IOTLB_MATCH_PASID |
						    VIOMMU_IOTLB_MATCH_ADDR,
					   .tag = t1,
					   .first = 0x4000,
					   .last = 0x7fff };
	viommu_iotlb_invalidate(tlb, &inv);
	for (uint64_t i = 0; i < 16; i++) {
		int want = (i >= 4 && i <= 7) ? VIOMMU_ENOENT : 0;

		assert_int_equal(viommu_iotlb_lookup(tlb, &t1, i << 12, &got), want);
		assert_int_equal(viommu_iotlb_lookup(tlb, &t2, i << 12, &got), 0);
	}

	/* A range whose last byte is a page's first byte covers that page (inclusive ends). */
	inv.first = 0x8001;
	inv.last = 0x9000;
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x8000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x9000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0xa000, &got), 0);
	inv.first = 0x4000; /* restore for the next step */

	/* A one-byte range inside the large page removes the whole large page. */
	inv.first = inv.last = 0x3ff000;
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x200000, &got), VIOMMU_ENOENT);

	/* Address range without a domain (scan path): page 0 everywhere. */
	inv = (struct viommu_iotlb_inval){ .match = VIOMMU_IOTLB_MATCH_ADDR,
					   .first = 0,
					   .last = 0xfff };
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x1000, &got), 0);

	/* Domain: the O(1) path. */
	inv = (struct viommu_iotlb_inval){ .match = VIOMMU_IOTLB_MATCH_DOM, .tag = t2 };
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x1000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x1000, &got), 0);
	/* Entries inserted after the domain flush are live again. */
	e = ent(2, 0x1000, 0x9000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x1000, &got), 0);
	assert_int_equal(got.out, 0x9000);

	/* Everything: O(1). */
	inv = (struct viommu_iotlb_inval){ .match = 0 };
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x1000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x1000, &got), VIOMMU_ENOENT);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.invalidations, 6);
	assert_int_equal(st.flushes, 1);

	/* An empty (reversed) range drops nothing. */
	e = ent(1, 0x1000, 0x9000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	inv = (struct viommu_iotlb_inval){ .match = VIOMMU_IOTLB_MATCH_ADDR,
					   .first = 0x2000,
					   .last = 0x1000 };
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x1000, &got), 0);
	viommu_iotlb_destroy(tlb);
}

static void test_nonleaf_and_leaf_only(void **state)
{
	struct viommu_iotlb *tlb = mk(256, 4);
	struct viommu_iotlb_tag t = { .dom = 4 };
	struct viommu_iotlb_entry e = ent(4, 0x40000000, 0x7000, 30), got;
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM |
						   VIOMMU_IOTLB_MATCH_PASID |
						   VIOMMU_IOTLB_MATCH_ADDR | VIOMMU_IOTLB_LEAF_ONLY,
					  .tag = { .dom = 4 },
					  .first = 0x40000000,
					  .last = 0x40000fff };

	(void)state;
	/* A walk-cache entry: the level-2 table for the 1 GiB span at 1 GiB lives at 0x7000. */
	e.flags = VIOMMU_IOTLB_NONLEAF;
	e.level = 2;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	e = ent(4, 0x40000000, 0x123000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);

	/* Leaf lookups never return NONLEAF entries and vice versa. */
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x40000000, &got), 0);
	assert_int_equal(got.shift, 12);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x40001000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, 0x7fffffff, 30, &got), 0);
	assert_int_equal(got.out, 0x7000);
	assert_int_equal(got.level, 2);
	assert_int_equal(got.flags, VIOMMU_IOTLB_NONLEAF);
	assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, 0x40000000, 21, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, 0x40000000, 5, &got), VIOMMU_ENOENT);

	/* Leaf-only invalidation keeps the walk cache; a full one does not. */
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x40000000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, 0x40000000, 30, &got), 0);
	inv.match &= ~VIOMMU_IOTLB_LEAF_ONLY;
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, 0x40000000, 30, &got), VIOMMU_ENOENT);
	viommu_iotlb_destroy(tlb);
}

static void test_capacity_and_eviction(void **state)
{
	struct viommu_iotlb *tlb = mk(64, 4);
	struct viommu_iotlb_tag t = { .dom = 1 };
	struct viommu_iotlb_entry e, got;
	struct viommu_iotlb_stats st;
	unsigned int hits = 0;

	(void)state;
	for (uint64_t i = 0; i < 1000; i++) {
		e = ent(1, i << 12, i << 12, 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		/* The entry just inserted is always resident. */
		assert_int_equal(viommu_iotlb_lookup(tlb, &t, i << 12, &got), 0);
	}
	for (uint64_t i = 0; i < 1000; i++)
		hits += viommu_iotlb_lookup(tlb, &t, i << 12, &got) == 0;
	assert_true(hits <= 64);
	assert_true(hits >= 32); /* a 4-way cache of 64 keeps most of its last entries */
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, 1000);
	assert_int_equal(st.evictions, 1000 - hits);
	viommu_iotlb_destroy(tlb);
}

/* Many domain flushes must survive the 32-bit epoch wrapping; forced here by sheer count. */
static void test_many_flushes(void **state)
{
	struct viommu_iotlb *tlb = mk(16, 4);
	struct viommu_iotlb_tag t = { .dom = 1 };
	struct viommu_iotlb_entry e = ent(1, 0x1000, 0x2000, 12), got;
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM, .tag = { .dom = 2 } };

	(void)state;
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		viommu_iotlb_invalidate(tlb, &inv); /* another domain: ours stays */
		assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x1000, &got), 0);
		viommu_iotlb_flush(tlb);
		assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x1000, &got), VIOMMU_ENOENT);
	}
	viommu_iotlb_destroy(tlb);
}

/* Output addresses keep 52 bits; the bits above hold the tag id, so wider ones are refused. */
static void test_output_range(void **state)
{
	struct viommu_iotlb *tlb = mk(64, 4);
	struct viommu_iotlb_tag t = { .dom = 1 };
	struct viommu_iotlb_entry e = ent(1, 0x1000, 1ull << 52, 12), got;

	(void)state;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), VIOMMU_EINVAL);
	e.out = UINT64_MAX;
	e.flags = VIOMMU_IOTLB_NONLEAF;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), VIOMMU_EINVAL);
	e.flags = 0;
	e.out = (1ull << 52) - 1; /* the low bits go: the page address is in range */
	e.perm = 0xf;
	e.level = 0xff;
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x1abc, &got), 0);
	assert_int_equal(got.out, (1ull << 52) - 0x1000);
	assert_int_equal(got.perm, 0xf);
	assert_int_equal(got.level, 0xff);
	viommu_iotlb_destroy(tlb);
}

/*
 * More tags in use than the tag table holds (16 places for a 16-entry cache): tags displace each
 * other, and with them their entries, but never hand out another tag's translation.
 */
static void test_tag_table_overflow(void **state)
{
	struct viommu_iotlb *tlb = mk(16, 4);
	struct viommu_iotlb_entry e, got;
	unsigned int hits = 0;

	(void)state;
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t d = 0; d < 1000; d++) {
			struct viommu_iotlb_tag t = { .dom = d, .sid = round };

			e = ent(d, 0x5000, ((uint64_t)d << 20) | (uint64_t)round << 12, 12);
			e.tag = t;
			assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
			assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x5000, &got), 0);
			assert_int_equal(got.out, e.out);
		}
	}
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t d = 0; d < 1000; d++) {
			struct viommu_iotlb_tag t = { .dom = d, .sid = round };

			if (viommu_iotlb_lookup(tlb, &t, 0x5000, &got) != 0)
				continue;
			hits++;
			assert_int_equal(got.out, ((uint64_t)d << 20) | (uint64_t)round << 12);
			assert_int_equal(got.tag.dom, d);
			assert_int_equal(got.tag.sid, round);
		}
	}
	assert_true(hits > 0 && hits <= 16);
	viommu_iotlb_destroy(tlb);
}

/*
 * Every domain flush followed by an insertion interns the tag again under a new id; past 2^17 - 1
 * ids the cache forgets everything and numbers from 1 again. Entries filled before must not come
 * back under tags that get their old ids.
 */
static void test_tag_id_exhaustion(void **state)
{
	struct viommu_iotlb *tlb = mk(256, 4);
	struct viommu_iotlb_tag churn = { .dom = 5 };
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM, .tag = churn };
	struct viommu_iotlb_entry e, got;
	struct viommu_iotlb_stats st;
	struct viommu_iotlb_hit hit;
	uint64_t old_refs[32], churn_ref;
	unsigned int stale = 0, insert_stale = 0;

	(void)state;
	/* Ids 1..32 go to tags 1000..1031, each with its own page. */
	for (uint32_t i = 0; i < 32; i++) {
		struct viommu_iotlb_tag t = { .dom = 1000 + i };

		e = ent(1000 + i, (uint64_t)(i + 1) << 12, 0x100000 + ((uint64_t)i << 12), 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &t, &old_refs[i]), 0);
	}
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &churn, &churn_ref), 0);
	for (uint32_t n = 0; n < 140000; n++) {
		int ret;

		e = ent(5, 0x77000, (uint64_t)n << 12, 12);
		/* Every other one by the ref: stale only where the ids run out (by tag then). */
		ret = n & 1 ? viommu_iotlb_insert_ref(tlb, churn_ref, &e) : VIOMMU_ESTALE;
		if (ret == VIOMMU_ESTALE) {
			if (n & 1)
				insert_stale++;
			assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		} else {
			assert_int_equal(ret, 0);
		}
		assert_int_equal(viommu_iotlb_lookup(tlb, &churn, 0x77000, &got), 0);
		assert_int_equal(got.out, (uint64_t)n << 12);
		/* Domain flushes keep the ref; running out of ids does not. */
		ret = viommu_iotlb_lookup_ref(tlb, churn_ref, 0x77000, &hit);
		if (ret == VIOMMU_ESTALE) {
			stale++;
			assert_int_equal(viommu_iotlb_tag_ref(tlb, &churn, &churn_ref), 0);
			ret = viommu_iotlb_lookup_ref(tlb, churn_ref, 0x77000, &hit);
		}
		assert_int_equal(ret, 0);
		assert_int_equal(hit.addr, (uint64_t)n << 12);
		viommu_iotlb_invalidate(tlb, &inv);
		assert_int_equal(viommu_iotlb_lookup(tlb, &churn, 0x77000, &got), VIOMMU_ENOENT);
		/* Until the ids run out, the first tags keep their entries. */
		if (n == 100000) {
			struct viommu_iotlb_tag t = { .dom = 1031 };

			assert_int_equal(viommu_iotlb_lookup(tlb, &t, 32 << 12, &got), 0);
			assert_int_equal(got.out, 0x100000 + (31 << 12));
		}
	}
	/* New tags take the low ids again; the old entries with those ids are gone. */
	for (uint32_t i = 0; i < 32; i++) {
		struct viommu_iotlb_tag old = { .dom = 1000 + i }, t = { .dom = 2000 + i };

		e = ent(2000 + i, 0x900000, 0x900000, 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_lookup(tlb, &t, (uint64_t)(i + 1) << 12, &got),
				 VIOMMU_ENOENT);
		assert_int_equal(viommu_iotlb_lookup(tlb, &old, (uint64_t)(i + 1) << 12, &got),
				 VIOMMU_ENOENT);
		assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x900000, &got), 0);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, old_refs[i], 0x900000, &hit),
				 VIOMMU_ESTALE);
	}
	assert_int_equal(stale, 1);
	assert_true(insert_stale <= 1);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, 32 + 140000 + 32);
	assert_int_equal(st.lookups, st.hits + st.misses);
	viommu_iotlb_destroy(tlb);
}

/* Lookups by ref: same answers as by tag, compact, not counted when stale. */
static void test_refs(void **state)
{
	struct viommu_iotlb_tag t1 = { .dom = 1 }, t2 = { .dom = 2, .sid = 7 };
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM, .tag = t1 };
	const uint32_t ways[] = { 4, 1, 8 };
	struct viommu_iotlb_entry e;
	struct viommu_iotlb_stats st;
	struct viommu_iotlb_hit hit;
	uint64_t r1, r2, again;

	(void)state;
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		struct viommu_iotlb *tlb = mk(256, ways[i]);

		assert_int_equal(viommu_iotlb_lookup_ref(tlb, 0, 0x1000, &hit), VIOMMU_ESTALE);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &t1, &r1), 0);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &t2, &r2), 0);
		assert_true(r1 != 0 && r2 != 0 && r1 != r2);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &t1, &again), 0);
		assert_int_equal(again, r1);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12345, &hit), VIOMMU_ENOENT);

		e = ent(1, 0x12000, 0xabc000, 12);
		e.perm = VIOMMU_ACC_READ;
		e.level = 1;
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12345, &hit), 0);
		assert_int_equal(hit.addr, 0xabc345);
		assert_int_equal(hit.shift, 12);
		assert_int_equal(hit.perm, VIOMMU_ACC_READ);
		assert_int_equal(hit.level, 1);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r2, 0x12345, &hit), VIOMMU_ENOENT);

		/* Larger pages, some probed after a smaller size misses. */
		for (uint8_t s = 13; s <= 30; s += 1) {
			uint64_t base = (uint64_t)s << 40;

			e = ent(2, base, base + (1ull << 40), s);
			e.tag = t2;
			e.level = s;
			assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
			assert_int_equal(viommu_iotlb_lookup_ref(tlb, r2, base + 0xfff, &hit), 0);
			assert_int_equal(hit.addr, base + (1ull << 40) + 0xfff);
			assert_int_equal(hit.shift, s);
			assert_int_equal(hit.level, s);
			assert_int_equal(viommu_iotlb_lookup_ref(tlb, r2, base + (1ull << s), &hit),
					 VIOMMU_ENOENT);
		}

		/* Flushes drop the entries, not the ref: it finds the tag's next entries. */
		viommu_iotlb_invalidate(tlb, &inv);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), VIOMMU_ENOENT);
		e = ent(1, 0x12000, 0x5000, 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), 0);
		assert_int_equal(hit.addr, 0x5000);
		viommu_iotlb_flush(tlb);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), VIOMMU_ENOENT);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), 0);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &t1, &again), 0);
		assert_int_equal(again, r1);

		/* Batches answer as single lookups do, each address counted. */
		{
			uint64_t iova[40];
			struct viommu_iotlb_hit hits[40];
			struct viommu_iotlb_stats before, after;

			for (int k = 0; k < 40; k++)
				iova[k] = k % 3 ? 0x12000 + (uint64_t)k : 0x13000 + (uint64_t)k;
			viommu_iotlb_get_stats(tlb, &before);
			assert_int_equal(viommu_iotlb_lookup_ref_batch(tlb, r1, iova, 40, hits), 0);
			viommu_iotlb_get_stats(tlb, &after);
			assert_int_equal(after.lookups - before.lookups, 40);
			assert_int_equal(after.misses - before.misses, 14);
			for (int k = 0; k < 40; k++) {
				assert_int_equal(hits[k].shift, k % 3 ? 12 : 0);
				if (k % 3)
					assert_int_equal(hits[k].addr, 0x5000 + (uint64_t)k);
			}
			assert_int_equal(viommu_iotlb_lookup_ref_batch(tlb, r1 + 1, iova, 40, hits),
					 VIOMMU_ESTALE);
		}

		/* A stale or invented ref is not a lookup. */
		viommu_iotlb_get_stats(tlb, &st);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1 + 1, 0x12000, &hit),
				 VIOMMU_ESTALE);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, ~r1, 0x12000, &hit), VIOMMU_ESTALE);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, UINT64_MAX, 0x12000, &hit),
				 VIOMMU_ESTALE);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1 ^ (1ull << 12), 0x12000, &hit),
				 VIOMMU_ESTALE);
		{
			struct viommu_iotlb_stats now;

			viommu_iotlb_get_stats(tlb, &now);
			assert_int_equal(now.lookups, st.lookups);
			assert_int_equal(now.lookups, now.hits + now.misses);
		}
		viommu_iotlb_destroy(tlb);
	}
}

/*
 * A ref outlives its place in the tag table only as VIOMMU_ESTALE: tags that displace it (16
 * places here) never answer through it.
 */
static void test_refs_displaced(void **state)
{
	struct viommu_iotlb *tlb = mk(16, 4);
	struct viommu_iotlb_tag first = { .dom = 0 };
	struct viommu_iotlb_entry e;
	struct viommu_iotlb_hit hit;
	uint64_t ref, ref2;
	bool stale = false;

	(void)state;
	e = ent(0, 0x5000, 0xf000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &first, &ref), 0);
	for (uint32_t d = 1; d < 1000; d++) {
		int ret;

		e = ent(d, 0x5000, (uint64_t)d << 20, 12);
		assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
		ret = viommu_iotlb_lookup_ref(tlb, ref, 0x5000, &hit);
		if (ret == VIOMMU_ESTALE) {
			stale = true;
			continue;
		}
		assert_false(stale); /* once stale, stale for good */
		if (ret == 0)
			assert_int_equal(hit.addr, 0xf000);
	}
	assert_true(stale);
	/* A new ref for the tag works again. */
	e = ent(0, 0x5000, 0xe000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &first, &ref2), 0);
	assert_true(ref2 != ref);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, ref2, 0x5000, &hit), 0);
	assert_int_equal(hit.addr, 0xe000);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, ref, 0x5000, &hit), VIOMMU_ESTALE);
	viommu_iotlb_destroy(tlb);
}

/*
 * Insertion by ref: the entry goes under the ref's tag whatever @e->tag says, a flushed tag is
 * interned again in its place (the ref keeps working), and a stale ref inserts nothing.
 */
static void test_insert_ref(void **state)
{
	struct viommu_iotlb *tlb = mk(16, 4);
	struct viommu_iotlb_tag t1 = { .dom = 1, .pasid = 3, .sid = 9 }, t2 = { .dom = 2 };
	struct viommu_iotlb_inval inv = { .match = VIOMMU_IOTLB_MATCH_DOM, .tag = t1 };
	struct viommu_iotlb_entry e = ent(77, 0x12000, 0xabc000, 12), got;
	struct viommu_iotlb_stats st;
	struct viommu_iotlb_hit hit;
	uint64_t r1, again;

	(void)state;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, 0, &e), VIOMMU_ESTALE);
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &t1, &r1), 0);
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1 + 1, &e), VIOMMU_ESTALE);
	e.level = 2;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x12345, &got), 0);
	assert_int_equal(got.out, 0xabc000);
	assert_int_equal(got.level, 2);
	assert_true(got.tag.dom == 1 && got.tag.pasid == 3 && got.tag.sid == 9);
	e.tag = (struct viommu_iotlb_tag){ .dom = 77 };
	assert_int_equal(viommu_iotlb_lookup(tlb, &e.tag, 0x12345, &got), VIOMMU_ENOENT);
	/* Replaced in place: one entry, the new output. */
	e.out = 0xdef000;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), 0);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12001, &hit), 0);
	assert_int_equal(hit.addr, 0xdef001);
	/* Checked as by tag. */
	e.shift = 11;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), VIOMMU_EINVAL);
	e.shift = 12;
	e.out = 1ull << 52;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), VIOMMU_EINVAL);
	/* After a domain flush and a full flush the ref inserts live entries again. */
	viommu_iotlb_invalidate(tlb, &inv);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), VIOMMU_ENOENT);
	e.out = 0x5000;
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), 0);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x12000, &hit), 0);
	assert_int_equal(hit.addr, 0x5000);
	viommu_iotlb_flush(tlb);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x12000, &got), VIOMMU_ENOENT);
	assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t1, 0x12000, &got), 0);
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &t1, &again), 0);
	assert_int_equal(again, r1);
	/* A full cache of one tag: each insert evicts one of its own entries. */
	for (uint64_t p = 0; p < 64; p++) {
		e.iova = p << 12;
		e.out = (p + 100) << 12;
		assert_int_equal(viommu_iotlb_insert_ref(tlb, r1, &e), 0);
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, e.iova, &hit), 0);
		assert_int_equal(hit.addr, e.out);
	}
	/* Other tags' live entries are evicted as by tag; theirs stay theirs. */
	e = ent(2, 0x40000, 0x40000, 12);
	assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t2, 0x40000, &got), 0);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, r1, 0x40000, &hit), VIOMMU_ENOENT);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, 1 + 1 + 1 + 1 + 64 + 1);
	viommu_iotlb_destroy(tlb);
}

/*
 * The models' leaf inserts (fields as arguments): by ref as viommu_iotlb_insert_ref() of the same
 * entry, by tag as viommu_iotlb_insert(), the same checks, and a leaf (never NONLEAF) entry.
 */
static void test_insert_leaf(void **state)
{
	struct viommu_iotlb *tlb = mk(64, 4);
	struct viommu_iotlb_tag t = { .dom = 4, .pasid = 2, .sid = 1 }, u = { .dom = 5 };
	struct viommu_iotlb_entry got;
	struct viommu_iotlb_hit hit;
	uint64_t ref;

	(void)state;
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &t, &ref), 0);
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref + 1, 0x3000, 0x9000, 12, 3, 1),
			 VIOMMU_ESTALE);
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x3000, 0x9000, 11, 3, 1),
			 VIOMMU_EINVAL);
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x3000, 1ull << 52, 12, 3, 1),
			 VIOMMU_EINVAL);
	/* Unaligned input and output are cut to the page; perm and level kept. */
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x200123, 0x400456, 21, 1, 2), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &t, 0x3fffff, &got), 0);
	assert_int_equal(got.iova, 0x200000);
	assert_int_equal(got.out, 0x400000);
	assert_int_equal(got.shift, 21);
	assert_int_equal(got.perm, 1);
	assert_int_equal(got.level, 2);
	assert_int_equal(got.flags, 0);
	assert_int_equal(vi_iotlb_insert_leaf(tlb, &u, 0x5000, 0x6000, 64, 3, 0), VIOMMU_EINVAL);
	assert_int_equal(vi_iotlb_insert_leaf(tlb, &u, 0x5000, 0x6000, 12, 3, 0), 0);
	assert_int_equal(viommu_iotlb_lookup(tlb, &u, 0x5fff, &got), 0);
	assert_int_equal(got.out, 0x6000);
	assert_int_equal(viommu_iotlb_lookup_ref(tlb, ref, 0x5000, &hit), VIOMMU_ENOENT);
	viommu_iotlb_destroy(tlb);
}

/*
 * The miss cursor, by hand: a 4-way set full of the tag's own pages, then lookups by ref that miss
 * and the inserts of those pages. Each insert replaces the set's round-robin way, as the general
 * insert does, and an operation between the lookup and the insert (here a flush) disarms it.
 */
static void test_insert_after_miss(void **state)
{
	struct viommu_iotlb *tlb = mk(4, 4); /* one set */
	struct viommu_iotlb__hot *h = (struct viommu_iotlb__hot *)tlb;
	struct viommu_iotlb_tag t = { .dom = 1, .sid = 2 };
	struct viommu_iotlb_hit hit;
	struct viommu_iotlb_stats st;
	uint64_t ref;

	(void)state;
	assert_int_equal(viommu_iotlb_tag_ref(tlb, &t, &ref), 0);
	for (uint64_t p = 0; p < 4; p++)
		assert_int_equal(
			vi_iotlb_insert_leaf_ref(tlb, ref, p << 12, (p + 16) << 12, 12, 3, 1), 0);
	for (uint64_t p = 4; p < 10; p++) {
		assert_int_equal(vi_iotlb_lookup_ref(tlb, ref, p << 12, &hit), VIOMMU_ENOENT);
		assert_int_equal(h->miss_ref, ref);
		assert_int_equal(
			vi_iotlb_insert_leaf_ref(tlb, ref, p << 12, (p + 16) << 12, 12, 3, 1), 0);
		assert_int_equal(h->miss_ref, 0);
		/* The page inserted and the three before it: the oldest one went. */
		for (uint64_t q = 0; q < 10; q++) {
			int ret = vi_iotlb_lookup_ref(tlb, ref, q << 12, &hit);

			assert_int_equal(ret, q + 3 >= p && q <= p ? 0 : VIOMMU_ENOENT);
			if (!ret)
				assert_int_equal(hit.addr, (q + 16) << 12);
		}
	}
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, 10);
	assert_int_equal(st.evictions, 6);
	/* A flush between the miss and the insert: the insert takes the tag anew, into a free way. */
	assert_int_equal(vi_iotlb_lookup_ref(tlb, ref, 0x40000, &hit), VIOMMU_ENOENT);
	viommu_iotlb_flush(tlb);
	assert_int_equal(h->miss_ref, 0);
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x40000, 0x80000, 12, 1, 0), 0);
	assert_int_equal(vi_iotlb_lookup_ref(tlb, ref, 0x40000, &hit), 0);
	assert_int_equal(hit.addr, 0x80000);
	assert_int_equal(vi_iotlb_lookup_ref(tlb, ref, 0x9000, &hit), VIOMMU_ENOENT);
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.evictions, 6);
	/* A miss, then the insert of another page, or of the page at another size: no cursor use. */
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x200000, 0x400000, 21, 1, 0), 0);
	assert_int_equal(vi_iotlb_lookup_ref(tlb, ref, 0x41000, &hit), VIOMMU_ENOENT);
	assert_int_equal(vi_iotlb_insert_leaf_ref(tlb, ref, 0x41000, 1ull << 52, 12, 1, 0),
			 VIOMMU_EINVAL);
	viommu_iotlb_destroy(tlb);
}

/*
 * The owner records of a 4-way cache hold: a set with a record of id I and shift S holds in
 * every way a leaf entry of size 1 << S whose id bits are I.
 */
static void assert_records(struct viommu_iotlb *tlb, uint32_t capacity)
{
	const struct viommu_iotlb__hot *h = (const void *)tlb;

	for (uint32_t si = 0; si < capacity / 4; si++) {
		uint32_t own = h->victim[si] >> VIOMMU_IOTLB__OWN_SHIFT;
		const uint64_t *ks = &h->sets[(size_t)si * 8], *os = ks + 4;

		if (!own)
			continue;
		for (int w = 0; w < 4; w++) {
			uint32_t id = (uint32_t)(ks[w] >> VIOMMU_IOTLB__KEY_ID_SHIFT & 31) |
				      (uint32_t)(os[w] >> VIOMMU_IOTLB__OUT_ID_SHIFT) << 5;

			assert_int_equal(ks[w] & 0x7f, own & 63); /* the size, a leaf */
			assert_int_equal(id, own >> 6);
		}
	}
}

/*
 * The sets, round-robin pointers and owner records of two caches of the same geometry are the
 * same, and the records hold.
 */
static void assert_same_sets(struct viommu_iotlb *a, struct viommu_iotlb *b, uint32_t capacity)
{
	const struct viommu_iotlb__hot *ha = (const void *)a, *hb = (const void *)b;

	assert_memory_equal(ha->sets, hb->sets, (size_t)capacity * 2 * sizeof(uint64_t));
	assert_memory_equal(ha->victim, hb->victim, capacity / ha->ways * sizeof(*ha->victim));
	assert_records(a, capacity);
}

/*
 * The miss cursor against the general insert: cache A makes each insert as a model does, after
 * a lookup by the same ref (the cursor), cache B the same inserts without the lookups (the
 * general insert), and both hold the same sets after every step: the same ways filled, the same
 * victims, the same words. Between A's lookup and its insert, sometimes another operation runs
 * on both (an invalidation, a flush, another insert) or on A alone (a lookup by another ref),
 * which the cursor must not survive.
 */
/* Every way of the cursor's set holds a leaf of size 1 << @shift of the cursor's tag (id). */
static bool all_own(const struct viommu_iotlb__hot *h, unsigned int shift)
{
	const uint64_t *ks = &h->sets[(size_t)h->miss_set * 8];
	const uint64_t key_id = (h->miss_key & (0x1full << VIOMMU_IOTLB__KEY_ID_SHIFT)) | shift;

	for (int w = 0; w < 4; w++) {
		if (ks[4 + w] >> VIOMMU_IOTLB__OUT_ID_SHIFT !=
			    h->miss_own >> (VIOMMU_IOTLB__OWN_SHIFT + 6 + 5) ||
		    (ks[w] & 0xfff) != key_id)
			return false;
	}
	return true;
}

/* Returns the inserts the owner records let the cursor make. */
static uint64_t run_cursor(uint32_t capacity, uint32_t ntags, uint64_t seed, int ops)
{
	struct viommu_iotlb *a = mk(capacity, 4), *b = mk(capacity, 4);
	struct viommu_iotlb__hot *ha = (struct viommu_iotlb__hot *)a;
	struct viommu_iotlb_tag tag[8];
	uint64_t ra[8], rb[8], armed = 0, fast = 0, owned = 0, scanned = 0;
	struct test_rng rng = { seed };
	struct viommu_iotlb_stats sa, sb;

	assert_true(ntags <= 8);
	for (uint32_t i = 0; i < ntags; i++) {
		tag[i] = (struct viommu_iotlb_tag){ .dom = 1 + i % 3, .sid = i };
		assert_int_equal(viommu_iotlb_tag_ref(a, &tag[i], &ra[i]), 0);
		assert_int_equal(viommu_iotlb_tag_ref(b, &tag[i], &rb[i]), 0);
	}
	for (int op = 0; op < ops; op++) {
		unsigned int k = (unsigned int)test_below(&rng, 100);
		uint32_t i = (uint32_t)test_below(&rng, ntags);
		/* Few pages per tag, so that sets fill with a tag's own entries and pages repeat. */
		uint64_t iova = (uint64_t)i << 32 | test_below(&rng, 4 * capacity / ntags) << 12;
		uint64_t out = test_rand(&rng) & 0x000ffffffffff000ull;
		unsigned int shift = test_below(&rng, 4 * capacity) ? 12 : 21;
		uint32_t perm = (uint32_t)test_below(&rng, 16),
			 level = (uint32_t)test_below(&rng, 6);
		struct viommu_iotlb_hit hit;
		int ret, rb_ret;

		if (k < 85) {
			uint64_t evictions = ha->evictions;

			ret = vi_iotlb_lookup_ref(a, ra[i], iova, &hit);
			if (ret == VIOMMU_ESTALE) {
				assert_int_equal(viommu_iotlb_tag_ref(a, &tag[i], &ra[i]), 0);
				assert_int_equal(viommu_iotlb_tag_ref(b, &tag[i], &rb[i]), 0);
				assert_same_sets(a, b, capacity);
				continue;
			}
			if (test_below(&rng, 8) == 0) {
				struct viommu_iotlb_inval inv = {
					.tag = tag[test_below(&rng, ntags)]
				};
				uint32_t j = (uint32_t)test_below(&rng, ntags);

				switch (test_below(&rng, 5)) {
				case 0:
					if (test_below(&rng, capacity / 16))
						break; /* rarely, as flushes */
					inv.match = VIOMMU_IOTLB_MATCH_DOM;
					viommu_iotlb_invalidate(a, &inv);
					viommu_iotlb_invalidate(b, &inv);
					break;
				case 1:
					inv.match = VIOMMU_IOTLB_MATCH_DOM |
						    VIOMMU_IOTLB_MATCH_PASID |
						    VIOMMU_IOTLB_MATCH_ADDR;
					inv.first = iova & ~0xfffull;
					inv.last = inv.first + 0xfff;
					viommu_iotlb_invalidate(a, &inv);
					viommu_iotlb_invalidate(b, &inv);
					break;
				case 2:
					/* Rarely, as below: a set must fill before the next. */
					if (test_below(&rng, capacity / 16))
						break;
					viommu_iotlb_flush(a);
					viommu_iotlb_flush(b);
					break;
				case 3:
					assert_int_equal(
						vi_iotlb_insert_leaf(a, &tag[j], iova + 0x1000, out,
								     12, 3, 0),
						vi_iotlb_insert_leaf(b, &tag[j], iova + 0x1000, out,
								     12, 3, 0));
					break;
				default:
					/* On A alone: the cursor moves to another ref's miss, or goes. */
					vi_iotlb_lookup_ref(a, ra[j], iova ^ 0x1000, &hit);
					break;
				}
			}
			armed += ha->miss_ref == ra[i];
			/* The cursor's insert: its set's record says every way is the tag's own. */
			owned += ha->miss_ref == ra[i] &&
				 (ha->victim[ha->miss_set] & ~VIOMMU_IOTLB__RR_MASK) ==
					 ha->miss_own &&
				 (ha->miss_own >> VIOMMU_IOTLB__OWN_SHIFT & 63) == shift;
			scanned += ha->miss_ref == ra[i] && all_own(ha, shift);
			/* By fields or by word (its address bits below the page ignored, as out's). */
			if (test_below(&rng, 2))
				ret = vi_iotlb_insert_leaf_ref(a, ra[i], iova, out, shift, perm,
							       level);
			else
				ret = vi_iotlb_insert_word_ref(
					a, ra[i], iova, out | perm | (uint64_t)level << 4, shift);
			rb_ret = vi_iotlb_insert_leaf_ref(b, rb[i], iova, out, shift, perm, level);
			assert_int_equal(ret, rb_ret);
			if (ret == VIOMMU_ESTALE) {
				/* As a model does: by tag, then a new ref. */
				assert_int_equal(vi_iotlb_insert_leaf(a, &tag[i], iova, out, shift,
								      perm, level),
						 0);
				assert_int_equal(vi_iotlb_insert_leaf(b, &tag[i], iova, out, shift,
								      perm, level),
						 0);
				assert_int_equal(viommu_iotlb_tag_ref(a, &tag[i], &ra[i]), 0);
				assert_int_equal(viommu_iotlb_tag_ref(b, &tag[i], &rb[i]), 0);
			}
			fast += ha->evictions != evictions;
		} else if (k < 89) {
			/* A few pages: sets must still fill. */
			struct viommu_iotlb_inval inv = { .tag = tag[i],
							  .match = VIOMMU_IOTLB_MATCH_ADDR,
							  .first = iova,
							  .last = iova +
								  test_below(&rng, 1u << 14) };

			if (test_below(&rng, 2))
				inv.match |= VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID;
			viommu_iotlb_invalidate(a, &inv);
			viommu_iotlb_invalidate(b, &inv);
		} else if (k < 90 && !test_below(&rng, capacity / 16)) {
			viommu_iotlb_flush(a);
			viommu_iotlb_flush(b);
		} else {
			struct viommu_iotlb_entry ea, eb;

			memset(&ea, 0, sizeof(ea)); /* padding too: compared whole */
			memset(&eb, 0, sizeof(eb));
			ret = viommu_iotlb_lookup(a, &tag[i], iova, &ea);
			assert_int_equal(viommu_iotlb_lookup(b, &tag[i], iova, &eb), ret);
			if (!ret)
				assert_memory_equal(&ea, &eb, sizeof(ea));
		}
		assert_same_sets(a, b, capacity);
	}
	viommu_iotlb_get_stats(a, &sa);
	viommu_iotlb_get_stats(b, &sb);
	assert_int_equal(sa.insertions, sb.insertions);
	assert_int_equal(sa.evictions, sb.evictions);
	/* Most inserts had the cursor, and many replaced a full set's victim. */
	assert_true(armed > (uint64_t)ops / 5);
	assert_true(fast > (uint64_t)ops / 20);
	/* The records are exact: every set whose ways are all the tag's own leaves had one. */
	assert_int_equal(owned, scanned);
	viommu_iotlb_destroy(a);
	viommu_iotlb_destroy(b);
	return owned;
}

static void test_random_cursor(void **state)
{
	(void)state;
	/* One tag fills its sets alone: many inserts by the record. */
	assert_true(run_cursor(16, 1, test_seed(0x5c0de), 40000) > 40000 / 20);
	run_cursor(64, 3, test_seed(0x6c0de), 40000);
	run_cursor(256, 4, test_seed(0x7c0de), 40000);
}

/* ---- randomized against a reference ---------------------------------------------------- */

/*
 * The reference holds every entry inserted and not since invalidated, with no capacity limit.
 * A cache may forget anything at any time, so the IOTLB is right when every hit it returns is an
 * entry the reference still holds, with identical contents, and when an entry just inserted is
 * found by the lookup that follows.
 */
struct ref_ent {
	struct viommu_iotlb_entry e; /* iova/out stored aligned */
	bool used;
};

#define REF_MAX 1024

struct ref {
	struct ref_ent ent[REF_MAX];
};

static bool same_tag(const struct viommu_iotlb_tag *a, const struct viommu_iotlb_tag *b)
{
	return a->dom == b->dom && a->pasid == b->pasid && a->sid == b->sid;
}

static struct ref_ent *ref_find(struct ref *r, const struct viommu_iotlb_entry *e)
{
	for (int i = 0; i < REF_MAX; i++) {
		struct ref_ent *x = &r->ent[i];

		if (x->used && same_tag(&x->e.tag, &e->tag) && x->e.iova == e->iova &&
		    x->e.shift == e->shift && x->e.flags == e->flags)
			return x;
	}
	return NULL;
}

static void ref_insert(struct ref *r, struct viommu_iotlb_entry e)
{
	struct ref_ent *x;

	e.iova &= ~((1ull << e.shift) - 1);
	e.out &= (e.flags & VIOMMU_IOTLB_NONLEAF) ? ~0xfffull : ~((1ull << e.shift) - 1);
	x = ref_find(r, &e);
	if (!x) {
		for (int i = 0; i < REF_MAX && !x; i++) {
			if (!r->ent[i].used)
				x = &r->ent[i];
		}
	}
	assert_non_null(x);
	x->e = e;
	x->used = true;
}

static bool ref_matches(const struct ref_ent *x, const struct viommu_iotlb_inval *inv)
{
	uint64_t end = x->e.iova + ((1ull << x->e.shift) - 1);

	if (!inv->match)
		return true;
	if ((inv->match & VIOMMU_IOTLB_MATCH_DOM) && x->e.tag.dom != inv->tag.dom)
		return false;
	if ((inv->match & VIOMMU_IOTLB_MATCH_PASID) && x->e.tag.pasid != inv->tag.pasid)
		return false;
	if ((inv->match & VIOMMU_IOTLB_MATCH_SID) && x->e.tag.sid != inv->tag.sid)
		return false;
	if ((inv->match & VIOMMU_IOTLB_LEAF_ONLY) && (x->e.flags & VIOMMU_IOTLB_NONLEAF))
		return false;
	if ((inv->match & VIOMMU_IOTLB_MATCH_ADDR) && (end < inv->first || x->e.iova > inv->last))
		return false;
	return true;
}

static void ref_invalidate(struct ref *r, const struct viommu_iotlb_inval *inv)
{
	for (int i = 0; i < REF_MAX; i++) {
		if (r->ent[i].used && ref_matches(&r->ent[i], inv))
			r->ent[i].used = false;
	}
}

static const uint8_t shifts[] = { 12, 14, 16, 21, 25, 30 };

static struct viommu_iotlb_tag rand_tag(struct test_rng *rng, uint32_t doms)
{
	struct viommu_iotlb_tag t = { .dom = (uint32_t)test_below(rng, doms),
				      .pasid = (uint32_t)test_below(rng, 2),
				      .sid = (uint32_t)test_below(rng, 2) };
	/* Domains that share a hashed flush slot (256 apart) exercise over-invalidation. */
	if (test_below(rng, 4) == 0)
		t.dom += 256;
	return t;
}

/* Addresses cluster in a 4 GiB window so that sizes overlap and pages repeat. */
static uint64_t rand_iova(struct test_rng *rng)
{
	uint64_t a = test_below(rng, 1ull << 32);

	if (test_below(rng, 8) == 0)
		a |= 0xffffffff00000000ull; /* near the top of the space, for wrap-around */
	return a;
}

static void check_lookup(struct viommu_iotlb *tlb, struct ref *r, const struct viommu_iotlb_tag *t,
			 uint64_t iova, int expect_hit, uint64_t *hits)
{
	struct viommu_iotlb_entry got;
	int ret = viommu_iotlb_lookup(tlb, t, iova, &got);

	if (expect_hit)
		assert_int_equal(ret, 0);
	if (ret != 0)
		return;
	(*hits)++;
	/* A hit must be a current reference entry covering iova, with identical contents. */
	struct ref_ent *x = ref_find(r, &got);

	assert_non_null(x);
	assert_true(same_tag(&got.tag, t));
	assert_int_equal(got.out, x->e.out);
	assert_int_equal(got.perm, x->e.perm);
	assert_int_equal(got.level, x->e.level);
	assert_true(iova >= got.iova && iova - got.iova < (1ull << got.shift));
}

/* A ref a model holds, maybe stale by now, and the tag it was taken for. */
struct held {
	struct viommu_iotlb_tag tag;
	uint64_t ref;
};

/*
 * A lookup by @h's ref is stale, or answers exactly as the lookup by its tag does, which
 * check_lookup() holds to the reference. A stale ref is replaced, as a model would.
 */
static void check_ref(struct viommu_iotlb *tlb, struct ref *r, struct held *h, uint64_t iova,
		      uint64_t *hits, uint64_t *stale)
{
	struct viommu_iotlb_entry got;
	struct viommu_iotlb_hit hit;
	int ret = viommu_iotlb_lookup_ref(tlb, h->ref, iova, &hit);

	if (ret == VIOMMU_ESTALE) {
		(*stale)++;
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &h->tag, &h->ref), 0);
		ret = viommu_iotlb_lookup_ref(tlb, h->ref, iova, &hit);
		assert_int_not_equal(ret, VIOMMU_ESTALE);
	}
	assert_int_equal(viommu_iotlb_lookup(tlb, &h->tag, iova, &got), ret);
	if (ret != 0)
		return;
	check_lookup(tlb, r, &h->tag, iova, 1, hits);
	assert_int_equal(hit.addr, got.out + (iova - got.iova));
	assert_int_equal(hit.shift, got.shift);
	assert_int_equal(hit.perm, got.perm);
	assert_int_equal(hit.level, got.level);
}

/* A batch answers, address by address, as single lookups by the same ref do. */
static void check_batch(struct viommu_iotlb *tlb, const struct held *h, const uint64_t *iova,
			uint32_t n)
{
	struct viommu_iotlb_hit hits[20], one;
	int ret = viommu_iotlb_lookup_ref_batch(tlb, h->ref, iova, n, hits);

	assert_true(n <= 20);
	if (ret == VIOMMU_ESTALE) {
		assert_int_equal(viommu_iotlb_lookup_ref(tlb, h->ref, iova[0], &one),
				 VIOMMU_ESTALE);
		return;
	}
	assert_int_equal(ret, 0);
	for (uint32_t i = 0; i < n; i++) {
		ret = viommu_iotlb_lookup_ref(tlb, h->ref, iova[i], &one);
		if (ret) {
			assert_int_equal(ret, VIOMMU_ENOENT);
			assert_int_equal(hits[i].shift, 0);
			continue;
		}
		assert_int_equal(hits[i].addr, one.addr);
		assert_int_equal(hits[i].shift, one.shift);
		assert_int_equal(hits[i].perm, one.perm);
		assert_int_equal(hits[i].level, one.level);
	}
}

static void run_random(uint32_t capacity, uint32_t ways, uint32_t doms, uint64_t seed, int ops,
		       bool expect_stale)
{
	struct viommu_iotlb *tlb = mk(capacity, ways);
	struct ref *r = calloc(1, sizeof(*r));
	struct test_rng rng = { seed };
	uint64_t hits = 0, inserted = 0, stale = 0, istale = 0;
	struct viommu_iotlb_stats st;
	struct held held[8];

	assert_non_null(r);
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		held[i].tag = rand_tag(&rng, doms);
		assert_int_equal(viommu_iotlb_tag_ref(tlb, &held[i].tag, &held[i].ref), 0);
	}
	for (int op = 0; op < ops; op++) {
		unsigned int kind = (unsigned int)test_below(&rng, 100);
		struct viommu_iotlb_tag t = rand_tag(&rng, doms);

		if (kind < 40) {
			struct viommu_iotlb_entry e = {
				.tag = t,
				.iova = rand_iova(&rng),
				.out = test_rand(&rng) & 0x000ffffffffff000ull,
				.shift = shifts[test_below(&rng, sizeof(shifts))],
				.perm = (uint8_t)test_below(&rng, 16),
				.level = (uint8_t)test_below(&rng, 6),
				.flags = test_below(&rng, 10) == 0 ? VIOMMU_IOTLB_NONLEAF : 0,
			};
			int live = 0;

			for (int i = 0; i < REF_MAX; i++)
				live += r->ent[i].used;
			if (live >= REF_MAX - 1) {
				viommu_iotlb_flush(tlb);
				memset(r, 0, sizeof(*r));
			}
			if (test_below(&rng, 2)) {
				/* By a held ref, as a model inserts after a miss by it. */
				struct held *h = &held[test_below(&rng, 8)];
				struct viommu_iotlb_entry x = e;
				int ret;

				t = e.tag = h->tag;
				x.tag = rand_tag(&rng, doms); /* not read */
				ret = viommu_iotlb_insert_ref(tlb, h->ref, &x);
				if (ret == VIOMMU_ESTALE) {
					istale++;
					assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
					assert_int_equal(viommu_iotlb_tag_ref(tlb, &t, &h->ref), 0);
				} else {
					assert_int_equal(ret, 0);
				}
			} else {
				assert_int_equal(viommu_iotlb_insert(tlb, &e), 0);
			}
			ref_insert(r, e);
			inserted++;
			if (!(e.flags & VIOMMU_IOTLB_NONLEAF)) {
				/*
				 * Just inserted, so it must hit, unless a smaller live page of the
				 * same tag also covers the address (lookups prefer small pages).
				 */
				check_lookup(tlb, r, &t, e.iova, 0, &hits);
				struct viommu_iotlb_entry got;

				assert_int_equal(viommu_iotlb_lookup(tlb, &t, e.iova, &got), 0);
				assert_true(got.shift <= e.shift);
			} else {
				struct viommu_iotlb_entry got;

				assert_int_equal(viommu_iotlb_lookup_nonleaf(tlb, &t, e.iova,
									     e.shift, &got),
						 0);
				assert_int_equal(got.out, e.out & ~0xfffull);
			}
		} else if (kind < 85) {
			/* Lookups: near previously used addresses most of the time. */
			uint64_t iova = rand_iova(&rng);

			if (test_below(&rng, 2)) {
				const struct ref_ent *x = &r->ent[test_below(&rng, REF_MAX)];

				if (x->used) {
					t = x->e.tag;
					iova = x->e.iova + test_below(&rng, 1ull << x->e.shift);
				}
			}
			check_lookup(tlb, r, &t, iova, 0, &hits);
			/* By a held ref: for the same tag, or another one (kept, maybe stale). */
			if (test_below(&rng, 2)) {
				struct held *h = &held[test_below(&rng, 8)];

				if (test_below(&rng, 4) == 0 && !same_tag(&h->tag, &t)) {
					h->tag = t;
					assert_int_equal(viommu_iotlb_tag_ref(tlb, &t, &h->ref), 0);
				}
				check_ref(tlb, r, h, iova, &hits, &stale);
				if (test_below(&rng, 4) == 0) {
					uint64_t many[20];
					uint32_t n = (uint32_t)test_below(&rng, 20) + 1;

					/* Pages near iova and elsewhere, hits and misses. */
					for (uint32_t k = 0; k < n; k++)
						many[k] = test_below(&rng, 2) ?
								  iova + (k << 12) :
								  r->ent[test_below(&rng, REF_MAX)]
									  .e.iova;
					check_batch(tlb, h, many, n);
				}
			}
		} else {
			struct viommu_iotlb_inval inv = { .tag = t };
			unsigned int k = (unsigned int)test_below(&rng, 8);

			switch (k) {
			case 0:
				inv.match = 0;
				break;
			case 1:
				inv.match = VIOMMU_IOTLB_MATCH_DOM;
				break;
			case 2:
				inv.match = VIOMMU_IOTLB_MATCH_DOM | VIOMMU_IOTLB_MATCH_PASID;
				break;
			case 3:
				inv.match = VIOMMU_IOTLB_MATCH_SID;
				break;
			default:
				inv.match = VIOMMU_IOTLB_MATCH_ADDR;
				if (k >= 5)
					inv.match |= VIOMMU_IOTLB_MATCH_DOM |
						     VIOMMU_IOTLB_MATCH_PASID;
				if (k == 7)
					inv.match |= VIOMMU_IOTLB_LEAF_ONLY;
				inv.first = rand_iova(&rng);
				inv.last = inv.first + (test_below(&rng, 4) == 0 ?
								test_rand(&rng) >> 30 :
								test_below(&rng, 1ull << 22));
				if (inv.last < inv.first)
					inv.last =
						UINT64_MAX; /* clamp a wrapping range to the end */
				break;
			}
			viommu_iotlb_invalidate(tlb, &inv);
			ref_invalidate(r, &inv);
		}
	}
	viommu_iotlb_get_stats(tlb, &st);
	assert_int_equal(st.insertions, inserted);
	assert_int_equal(st.lookups, st.hits + st.misses);
	/* The run must have exercised hits, not only misses. */
	assert_true(hits > (uint64_t)ops / 20);
	if (expect_stale)
		assert_true(stale > 0 && istale > 0);
	free(r);
	viommu_iotlb_destroy(tlb);
}

static void test_random_small(void **state)
{
	(void)state;
	run_random(64, 4, 3, test_seed(0x10c1b), 60000, false);
}

static void test_random_large(void **state)
{
	(void)state;
	run_random(4096, 8, 3, test_seed(0x2b1ce), 60000, false);
}

static void test_random_direct_mapped(void **state)
{
	(void)state;
	run_random(256, 1, 3, test_seed(0x3d17), 30000, false);
}

/* More tags than a 16-place tag table holds: tags displace each other's entries. */
static void test_random_many_tags(void **state)
{
	(void)state;
	run_random(16, 4, 40, test_seed(0x4a95), 60000, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_hit_miss_and_page_sizes),
		cmocka_unit_test(test_replace_in_place),
		cmocka_unit_test(test_tag_fields_are_distinct),
		cmocka_unit_test(test_invalidation_kinds),
		cmocka_unit_test(test_nonleaf_and_leaf_only),
		cmocka_unit_test(test_capacity_and_eviction),
		cmocka_unit_test(test_many_flushes),
		cmocka_unit_test(test_output_range),
		cmocka_unit_test(test_tag_table_overflow),
		cmocka_unit_test(test_tag_id_exhaustion),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_refs_displaced),
		cmocka_unit_test(test_insert_ref),
		cmocka_unit_test(test_insert_leaf),
		cmocka_unit_test(test_insert_after_miss),
		cmocka_unit_test(test_random_cursor),
		cmocka_unit_test(test_random_small),
		cmocka_unit_test(test_random_large),
		cmocka_unit_test(test_random_direct_mapped),
		cmocka_unit_test(test_random_many_tags),
	};

	return cmocka_run_group_tests_name("iotlb", tests, NULL, NULL);
}
