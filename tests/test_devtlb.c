// SPDX-License-Identifier: MIT
/*
 * Device IOTLB: unit cases (coverage lengths, permissions, wrap-around, the CVE-2018-1059 shape,
 * misses and wake-ups, start/stop, capacity), the in-process source fed by a toy model, and a
 * randomized run against a reference model of byte ranges.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/devtlb.h>

#include "core/core.h"

#define RW VIOMMU_ACC_RW
#define RD VIOMMU_ACC_READ
#define WR VIOMMU_ACC_WRITE

struct ctx {
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *r;
	int misses;
	uint64_t miss_iova;
	uint32_t miss_perm;
	int wakes;
	uint64_t now;
};

static void on_miss(void *opaque, uint64_t iova, uint32_t perm)
{
	struct ctx *c = opaque;

	c->misses++;
	c->miss_iova = iova;
	c->miss_perm = perm;
}

static void on_wake(void *opaque)
{
	struct ctx *c = opaque;

	c->wakes++;
}

static uint64_t fake_clock(void *opaque)
{
	return ((struct ctx *)opaque)->now;
}

static struct ctx *mk(uint32_t capacity)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct viommu_devtlb_config cfg = {
		.capacity = capacity, .miss = on_miss, .clock = fake_clock, .miss_retry_ns = 1000
	};

	assert_non_null(c);
	cfg.opaque = c;
	c->now = 1000000;
	assert_int_equal(viommu_devtlb_create(&cfg, &c->tlb), 0);
	assert_int_equal(viommu_devtlb_reader_create(c->tlb, on_wake, c, &c->r), 0);
	viommu_devtlb_start(c->tlb);
	return c;
}

static void rm(struct ctx *c)
{
	viommu_devtlb_reader_destroy(c->r);
	viommu_devtlb_destroy(c->tlb);
	free(c);
}

/* Lookup that must hit: returns covered, checks the host address. */
static uint64_t hit(struct ctx *c, uint64_t iova, uint64_t len, uint32_t acc, uint64_t want_u)
{
	uint64_t u = 0, cov = 0;

	assert_int_equal(viommu_devtlb_lookup(c->r, iova, len, acc, &u, &cov), 0);
	assert_int_equal(u, want_u);
	viommu_devtlb_reader_quiesce(c->r);
	return cov;
}

static int look(struct ctx *c, uint64_t iova, uint64_t len, uint32_t acc)
{
	uint64_t u, cov;
	int ret = viommu_devtlb_lookup(c->r, iova, len, acc, &u, &cov);

	viommu_devtlb_reader_quiesce(c->r);
	return ret;
}

static void test_create_args(void **state)
{
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_config cfg = { .capacity = VIOMMU_DEVTLB_MAX_CAPACITY + 1 };

	(void)state;
	assert_int_equal(viommu_devtlb_create(NULL, NULL), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_create(&cfg, &tlb), VIOMMU_EINVAL);
	cfg = (struct viommu_devtlb_config){ .pending_slots = 100 };
	assert_int_equal(viommu_devtlb_create(&cfg, &tlb), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_create(NULL, &tlb), 0);
	assert_false(viommu_devtlb_started(tlb));
	viommu_devtlb_destroy(tlb);
}

/* config_init writes out the documented defaults; create takes them and they take effect. */
static void test_config_init(void **state)
{
	struct ctx c = { .now = 1000000 };
	struct viommu_devtlb_config cfg;
	struct viommu_devtlb_stats st;
	struct viommu_devtlb *tlb;
	struct viommu_devtlb_reader *r;
	uint64_t u, cov;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	viommu_devtlb_config_init(&cfg);
	viommu_devtlb_config_init(NULL);
	assert_int_equal(cfg.capacity, 2048);
	assert_int_equal(cfg.pending_slots, 256);
	assert_int_equal(cfg.miss_retry_ns, 2000000);
	assert_null(cfg.miss);
	assert_null(cfg.clock);
	assert_null(cfg.opaque);
	cfg.miss = on_miss;
	cfg.clock = fake_clock;
	cfg.opaque = &c;
	assert_int_equal(viommu_devtlb_create(&cfg, &tlb), 0);
	assert_int_equal(viommu_devtlb_reader_create(tlb, NULL, NULL, &r), 0);
	viommu_devtlb_start(tlb);
	/* 2048 entries: one more evicts exactly one (pages two apart never merge). */
	for (uint64_t i = 0; i <= 2048; i++)
		assert_int_equal(viommu_devtlb_update(tlb, i << 13, 0x1000, i << 13, RW), 0);
	viommu_devtlb_get_stats(tlb, &st);
	assert_int_equal(st.entries, 2048);
	assert_int_equal(st.evictions, 1);
	/* A pending miss is asked again after 2 ms, not before. */
	assert_int_equal(viommu_devtlb_lookup(r, 0x1000, 1, RD, &u, &cov), VIOMMU_EAGAIN);
	assert_int_equal(c.misses, 1);
	c.now += 1999999;
	assert_int_equal(viommu_devtlb_lookup(r, 0x1000, 1, RD, &u, &cov), VIOMMU_EAGAIN);
	assert_int_equal(c.misses, 1);
	c.now += 2;
	assert_int_equal(viommu_devtlb_lookup(r, 0x1000, 1, RD, &u, &cov), VIOMMU_EAGAIN);
	assert_int_equal(c.misses, 2);
	viommu_devtlb_reader_destroy(r);
	viommu_devtlb_destroy(tlb);
}

static void test_hit_coverage_perm(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x10000, 0x2000, 0x7000000, RD), 0);
	/* Covered length: up to the request, never past the entry. */
	assert_int_equal(hit(c, 0x10000, 64, RD, 0x7000000), 64);
	assert_int_equal(hit(c, 0x10800, 0x10000, RD, 0x7000800), 0x1800);
	assert_int_equal(hit(c, 0x11fff, 0, RD, 0x7001fff), 1); /* len 0 is 1 */
	assert_int_equal(hit(c, 0x11fff, 2, 0, 0x7001fff), 1);	/* access 0 is READ */
	/* Write to a read-only entry: a permission fault, nothing asked. */
	assert_int_equal(look(c, 0x10000, 8, WR), VIOMMU_EPERM);
	assert_int_equal(look(c, 0x10000, 8, RW), VIOMMU_EPERM);
	assert_int_equal(c->misses, 0);
	/* Just outside. */
	assert_int_equal(look(c, 0xffff, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x12000, 1, RD), VIOMMU_EAGAIN);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.perm_faults, 2);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.lookups, 8);
	assert_int_equal(st.entries, 1);
	assert_true(st.hit_rate > 0.49 && st.hit_rate < 0.51);
	rm(c);
}

/*
 * The fast path folds the access into ((access & RW) - 1 & 3) + 1: 0 (READ) and bits beyond RW
 * must give what the slow path gives, on entries of every permission.
 */
static void test_access_bits(void **state)
{
	static const uint32_t perms[] = { RD, WR, RW };
	static const uint32_t accs[] = { 0,	 RD,	 WR,	 RW, 4,
					 4 | RD, 4 | WR, 4 | RW, 8,  0x80000000u | WR };
	struct ctx *c = mk(0);

	(void)state;
	for (unsigned int p = 0; p < 3; p++) {
		uint64_t x = 0x100000 * (p + 1);

		assert_int_equal(viommu_devtlb_update(c->tlb, x, 0x1000, 0x9000000 + x, perms[p]),
				 0);
		for (unsigned int a = 0; a < sizeof(accs) / sizeof(accs[0]); a++) {
			uint32_t want = accs[a] & RW ? accs[a] & RW : RD;

			if ((perms[p] & want) == want)
				assert_int_equal(hit(c, x + 0x10, 8, accs[a], 0x9000010 + x), 8);
			else
				assert_int_equal(look(c, x + 0x10, 8, accs[a]), VIOMMU_EPERM);
		}
	}
	assert_int_equal(c->misses, 0);
	rm(c);
}

/*
 * An entry mapped again as it was revives its tombstones in place; mapped differently it does
 * not. Either way lookups answer the newest mapping, and a removal still removes.
 */
static void test_remap_revives(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	/* A partial page at each end plus whole pages: several blocks, shared edge pages. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x20800, 0x3000, 0x5000800, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x23800, 0x800, 0x9000000, RD), 0);
	for (int round = 0; round < 4; round++) {
		assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x20800, 0x3000), 0);
		assert_int_equal(look(c, 0x21000, 1, RD), VIOMMU_EAGAIN);
		assert_int_equal(look(c, 0x237ff, 1, RD), VIOMMU_EAGAIN);
		assert_int_equal(hit(c, 0x23800, 1, RD, 0x9000000), 1);
		/* Same mapping (revived), then read-only (new keys), then elsewhere in host memory. */
		if (round == 1) {
			assert_int_equal(
				viommu_devtlb_update(c->tlb, 0x20800, 0x3000, 0x5000800, RD), 0);
			assert_int_equal(look(c, 0x21000, 1, WR), VIOMMU_EPERM);
			assert_int_equal(hit(c, 0x21000, 16, RD, 0x5001000), 16);
		} else if (round == 2) {
			assert_int_equal(
				viommu_devtlb_update(c->tlb, 0x20800, 0x3000, 0x6000800, RW), 0);
			assert_int_equal(hit(c, 0x21000, 16, WR, 0x6001000), 16);
		} else {
			assert_int_equal(
				viommu_devtlb_update(c->tlb, 0x20800, 0x3000, 0x5000800, RW), 0);
			assert_int_equal(hit(c, 0x20800, 0x3000, WR, 0x5000800), 0x3000);
			assert_int_equal(hit(c, 0x237ff, 1, WR, 0x50037ff), 1);
		}
		assert_int_equal(hit(c, 0x23800, 0x800, RD, 0x9000000), 0x800);
	}
	/* A flush tombstones nothing here (fresh table), but removals after revivals still remove. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x20000, 0x4000), 0);
	assert_int_equal(look(c, 0x20800, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x23800, 1, RD), VIOMMU_EAGAIN);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 0);
	rm(c);
}

/* DPDK's CVE-2018-1059: adjacent IOVAs, host addresses not contiguous. */
static void test_cve_2018_1059_shape(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0x100000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x2000, 0x1000, 0x900000, RW), 0);
	assert_int_equal(hit(c, 0x1800, 0x1000, RW, 0x100800), 0x800);
	assert_int_equal(hit(c, 0x1000, 0x2000, RW, 0x100000), 0x1000);
	assert_int_equal(hit(c, 0x2000, 0x1000, RW, 0x900000), 0x1000);
	/* Contiguous host and same permissions: merged, one lookup covers both. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x3000, 0x1000, 0x901000, RW), 0);
	assert_int_equal(hit(c, 0x2000, 0x2000, RW, 0x900000), 0x2000);
	/* Contiguous host, different permissions: not merged. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x4000, 0x1000, 0x902000, RD), 0);
	assert_int_equal(hit(c, 0x3000, 0x2000, RD, 0x901000), 0x1000);
	/* Merged on both sides at once. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x11000, 0x1000, 0x500000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x13000, 0x1000, 0x502000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x12000, 0x1000, 0x501000, RW), 0);
	assert_int_equal(hit(c, 0x11000, 0x3000, RW, 0x500000), 0x3000);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.merges, 2);
	assert_int_equal(st.entries, 4);
	/* A host range that would continue past 2^64 does not merge (nor exist). */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x20000, 0x1000, UINT64_MAX - 0xfff, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x21000, 0x1000, 0, RW), 0);
	assert_int_equal(hit(c, 0x20000, 0x2000, RW, UINT64_MAX - 0xfff), 0x1000);
	rm(c);
}

static void test_update_args_and_wrap(void **state)
{
	struct ctx *c = mk(0);
	uint64_t top = UINT64_MAX - 0xfff;

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0, 0x1000, RW), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0x1000, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0x1000, 4), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x2000, UINT64_MAX - 0x1000, RW),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_update(NULL, 0x1000, 0x1000, 0, RW), VIOMMU_EINVAL);
	/* An IOVA range that wraps is clamped to the end of the space. */
	assert_int_equal(viommu_devtlb_update(c->tlb, top, 0x10000, 0x40000000, RW), 0);
	assert_int_equal(hit(c, UINT64_MAX, 1, RW, 0x40000fff), 1);
	assert_int_equal(hit(c, top, UINT64_MAX, RW, 0x40000000), 0x1000);
	/* A lookup whose range wraps is clamped too. */
	assert_int_equal(hit(c, UINT64_MAX - 1, 100, RW, 0x40000ffe), 2);
	assert_int_equal(look(c, top - 1, 1, RD), VIOMMU_EAGAIN);
	/* The whole space in one entry (two 2^63 blocks). */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0, UINT64_MAX, 0, RW), 0);
	assert_int_equal(hit(c, 0, UINT64_MAX, RW, 0), UINT64_MAX);
	assert_int_equal(hit(c, 1ull << 63, 16, RW, 1ull << 63), 16);
	/* size UINT64_MAX ends one byte short: the old last byte stays, not merged. */
	assert_int_equal(hit(c, UINT64_MAX, 16, RW, 0x40000fff), 1);
	rm(c);
}

static void test_invalidate_wrap_and_trim(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0, 0x4000, 0x800000, RW), 0);
	/* Trim the middle page: the outer parts stay, with their own host addresses. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x1000, 0x1000), 0);
	assert_int_equal(hit(c, 0, 0x4000, RW, 0x800000), 0x1000);
	assert_int_equal(look(c, 0x1000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x1fff, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x2000, 0x4000, RW, 0x802000), 0x2000);
	/* Unaligned invalidation of a few bytes. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x2800, 0x10), 0);
	assert_int_equal(hit(c, 0x2000, 0x4000, RW, 0x802000), 0x800);
	assert_int_equal(look(c, 0x2808, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x2810, 0x4000, RW, 0x802810), 0x17f0);

	/* QEMU's [0xfef00000, 2^64): size 2^64 - 0xfef00000, or any wrapping size. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0xfef00000, 0x1000, 0x900000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, UINT64_MAX - 0xfff, 0x1000, 0xa00000, RW), 0);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0xfef00000, 0 - 0xfef00000ull), 0);
	assert_int_equal(look(c, 0xfef00000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, UINT64_MAX, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0, 1, RD, 0x800000), 1);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0xfef00000, 0x1000, 0x900000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, UINT64_MAX - 0xfff, 0x1000, 0xa00000, RW), 0);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0xfef00000, UINT64_MAX), 0);
	assert_int_equal(look(c, 0xfef00000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, UINT64_MAX, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x2000, 1, RD, 0x802000), 1);
	/* size 0 is 2^64 from iova, never empty. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x2000, 0), 0);
	assert_int_equal(look(c, 0x2000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0, 1, RD, 0x800000), 1);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 1);
	/* [0, 2^64) as size 0: a flush. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0, 0), 0);
	assert_int_equal(look(c, 0, 1, RD), VIOMMU_EAGAIN);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.invalidations, 6);
	assert_true(st.flushes >= 2); /* start and the whole-space invalidation */
	rm(c);
}

static void test_update_replaces_overlap(void **state)
{
	struct ctx *c = mk(0);

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x10000, 0x3000, 0x100000, RW), 0);
	assert_int_equal(hit(c, 0x11000, 1, RW, 0x101000), 1);
	/* The newest mapping wins. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x11000, 0x1000, 0x555000, RD), 0);
	assert_int_equal(hit(c, 0x11000, 0x3000, RD, 0x555000), 0x1000);
	assert_int_equal(hit(c, 0x10000, 0x3000, RW, 0x100000), 0x1000);
	assert_int_equal(hit(c, 0x12000, 0x3000, RW, 0x102000), 0x1000);
	/* The same mapping again (a duplicate miss answered twice) changes nothing. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x12000, 0x800, 0x102000, RW), 0);
	assert_int_equal(hit(c, 0x12000, 0x3000, RW, 0x102000), 0x1000);
	rm(c);
}

static void test_unaligned_entries_share_page(void **state)
{
	struct ctx *c = mk(0);

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x5000, 0x100, 0x10000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x5100, 0x100, 0x90000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x5f00, 0x1200, 0x30000, RW), 0);
	assert_int_equal(hit(c, 0x5010, 0x1000, RW, 0x10010), 0xf0);
	assert_int_equal(hit(c, 0x51ff, 0x1000, RW, 0x900ff), 1);
	assert_int_equal(look(c, 0x5200, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x5f80, 0x2000, RW, 0x30080), 0x1180);
	assert_int_equal(hit(c, 0x7000, 0x2000, RW, 0x31100), 0x100);
	assert_int_equal(look(c, 0x7100, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x5100, 1), 0);
	assert_int_equal(hit(c, 0x5000, 0x1000, RW, 0x10000), 0x100);
	assert_int_equal(look(c, 0x5100, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x5101, 0x1000, RW, 0x90001), 0xff);
	rm(c);
}

static void test_miss_dedup_wake_retry(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_reader *r2;
	struct ctx c2 = { 0 };
	struct viommu_devtlb_miss m[4];
	struct viommu_devtlb_stats st;
	uint64_t gen;

	(void)state;
	assert_int_equal(viommu_devtlb_reader_create(c->tlb, on_wake, &c2, &r2), 0);
	assert_int_equal(look(c, 0x40123, 8, RD), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 1);
	assert_int_equal(c->miss_iova, 0x40123);
	assert_int_equal(c->miss_perm, RD);
	/* Same page, same or fewer permissions, from any reader: not asked again. */
	assert_int_equal(look(c, 0x40fff, 8, RD), VIOMMU_EAGAIN);
	{
		uint64_t u, cov;

		assert_int_equal(viommu_devtlb_lookup(r2, 0x40000, 1, RD, &u, &cov), VIOMMU_EAGAIN);
		viommu_devtlb_reader_quiesce(r2);
	}
	assert_int_equal(c->misses, 1);
	/* More permissions: asked again, for the union. */
	assert_int_equal(look(c, 0x40000, 8, WR), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 2);
	assert_int_equal(c->miss_perm, RW);
	/* Another page: asked. */
	assert_int_equal(look(c, 0x41000, 8, RD), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 3);
	/* Listed once each for a control thread. */
	assert_int_equal(viommu_devtlb_take_misses(c->tlb, m, 4), 2);
	assert_int_equal(viommu_devtlb_take_misses(c->tlb, m, 4), 0);
	assert_true((m[0].iova == 0x40000 && m[0].perm == RW && m[1].iova == 0x41000) ||
		    (m[1].iova == 0x40000 && m[1].perm == RW && m[0].iova == 0x41000));
	/* The retry interval passes: asked again, and listed again. */
	c->now += 1000;
	assert_int_equal(look(c, 0x41000, 8, RD), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 4);
	assert_int_equal(viommu_devtlb_take_misses(c->tlb, m, 4), 1);
	assert_int_equal(m[0].iova, 0x41000);

	/* An UPDATE of the page resolves it and wakes both readers that missed on it. */
	gen = viommu_devtlb_generation(c->tlb);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x40000, 0x1000, 0x9000000, RW), 0);
	assert_true(viommu_devtlb_generation(c->tlb) != gen);
	assert_int_equal(c->wakes, 1);
	assert_int_equal(c2.wakes, 1);
	assert_int_equal(hit(c, 0x40123, 8, RW, 0x9000123), 8);
	/* Resolved: a later miss on it (after an invalidation) asks again. */
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x40000, 0x1000), 0);
	assert_int_equal(look(c, 0x40000, 8, RD), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 5);
	/* Stop forgets pending misses and wakes parked readers. */
	viommu_devtlb_stop(c->tlb);
	assert_int_equal(c->wakes, 2); /* one call for both of this reader's misses */
	assert_int_equal(c2.wakes, 1);
	assert_int_equal(viommu_devtlb_take_misses(c->tlb, m, 4), 0);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.miss_requests, 5);
	assert_int_equal(st.miss_suppressed, 2);
	viommu_devtlb_reader_destroy(r2);
	rm(c);
}

static void test_start_stop(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	assert_true(viommu_devtlb_started(c->tlb));
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0x1000, RW), 0);
	assert_int_equal(hit(c, 0x1000, 1, RW, 0x1000), 1);
	viommu_devtlb_stop(c->tlb);
	assert_false(viommu_devtlb_started(c->tlb));
	/* Stopped: every lookup misses without asking; updates are refused. */
	assert_int_equal(look(c, 0x1000, 1, RD), VIOMMU_ENOENT);
	assert_int_equal(look(c, 0x5000, 1, RD), VIOMMU_ENOENT);
	assert_int_equal(c->misses, 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0x1000, RW), VIOMMU_EPERM);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x1000, 0x1000), 0);
	/* Started again with no entries cached. */
	viommu_devtlb_start(c->tlb);
	assert_int_equal(look(c, 0x1000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(c->misses, 1);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.stopped_lookups, 2);
	assert_int_equal(st.rejected, 1);
	rm(c);
}

/* Repeated hits and removals: no copy of a removed entry answers. */
static void test_repeat_hits(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;

	(void)state;
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x1000, 0x1000, 0xa000, RW), 0);
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x3000, 0x1000, 0xc000, RW), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(hit(c, 0x1000 + (uint64_t)i, 4, RD, 0xa000 + (uint64_t)i), 4);
		assert_int_equal(hit(c, 0x3000 + (uint64_t)i, 4, RD, 0xc000 + (uint64_t)i), 4);
	}
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.hits, 20);
	assert_int_equal(st.lookups, 20);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x3000, 0x1000), 0);
	assert_int_equal(look(c, 0x3000, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x1000, 1, RD, 0xa000), 1);
	viommu_devtlb_flush(c->tlb);
	assert_int_equal(look(c, 0x1000, 1, RD), VIOMMU_EAGAIN);
	rm(c);
}

static void test_capacity_fifo(void **state)
{
	struct ctx *c = mk(4);
	struct viommu_devtlb_stats st;

	(void)state;
	for (uint64_t i = 0; i < 6; i++)
		assert_int_equal(viommu_devtlb_update(c->tlb, i * 0x2000, 0x1000,
						      0x100000 * (i + 1), RW),
				 0);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 2);
	/* The two oldest went. */
	assert_int_equal(look(c, 0, 1, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x2000, 1, RD), VIOMMU_EAGAIN);
	for (uint64_t i = 2; i < 6; i++)
		assert_int_equal(hit(c, i * 0x2000, 1, RD, 0x100000 * (i + 1)), 1);
	/* A trim that splits an entry in a full cache still leaves at most capacity entries. */
	assert_int_equal(viommu_devtlb_update(c->tlb, 0x100000, 0x3000, 0x5000000, RW), 0);
	assert_int_equal(viommu_devtlb_invalidate(c->tlb, 0x101000, 0x1000), 0);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(hit(c, 0x102000, 1, RD, 0x5002000), 1);
	rm(c);
}

static void test_grace_period(void **state)
{
	struct ctx *c = mk(0);
	struct viommu_devtlb_stats st;
	uint64_t cookie;

	(void)state;
	/* Grow the table a few times while the reader is online without quiescing. */
	assert_int_equal(look(c, 0x1000, 1, RD), VIOMMU_EAGAIN);
	cookie = viommu_devtlb_grace_start(c->tlb);
	for (uint64_t i = 0; i < 200; i++)
		assert_int_equal(viommu_devtlb_update(c->tlb, i << 13, 0x1000, i << 20, RW), 0);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_true(st.retired > 0); /* old tables wait for the reader */
	assert_false(viommu_devtlb_grace_done(c->tlb, cookie));
	viommu_devtlb_reader_quiesce(c->r);
	assert_true(viommu_devtlb_grace_done(c->tlb, cookie));
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.retired, 0);
	/* An offline reader is not waited for. */
	assert_int_equal(look(c, 1ull << 40, 1, RD), VIOMMU_EAGAIN);
	viommu_devtlb_flush(c->tlb);
	viommu_devtlb_reader_offline(c->r);
	viommu_devtlb_synchronize(c->tlb);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.retired, 0);
	rm(c);
}

/* ---- In-process source: a toy model with a page table of 4 KiB pages for sid 5 ---- */

#define TOY_PAGES 64
#define HVA_BASE 0x7f0000000000ull
#define RAM_SIZE (1ull << 24)

struct toy {
	struct viommu v;
	uint64_t gpa[TOY_PAGES]; /* iova page i -> gpa (0: unmapped) */
	uint32_t perm[TOY_PAGES];
	int translations;
};

static int toy_translate(struct viommu *v, const struct viommu_xlate_req *req,
			 struct viommu_xlate_result *res)
{
	struct toy *t = vi_container_of(v, struct toy, v);
	uint64_t pg = req->iova >> 12, off = req->iova & 0xfff, len = req->len ? req->len : 1;

	t->translations++;
	if (req->sid != 5 || pg >= TOY_PAGES || !t->gpa[pg]) {
		vi_result_fault(res, req, VIOMMU_FAULT_NOT_PRESENT, 1, 0);
		return 0;
	}
	memset(res, 0, sizeof(*res));
	res->out = t->gpa[pg] + off;
	res->len = len < 0x1000 - off ? len : 0x1000 - off;
	res->perm = t->perm[pg];
	res->page_shift = 12;
	return 0;
}

static void toy_destroy(struct viommu *v)
{
	vi_instance_fini(v);
}

static const struct viommu_model_ops toy_ops = { .name = "toy-devtlb",
						 .translate = toy_translate,
						 .destroy = toy_destroy };

static ssize_t no_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	(void)gpa;
	(void)buf;
	(void)len;
	return VIOMMU_EFAULT;
}

static const struct viommu_host_ops toy_host = { .dma_read = no_read };

static int gpa_to_hva(void *opaque, uint64_t gpa, uint64_t len, uint64_t *hva, uint64_t *hlen)
{
	(void)opaque;
	if (gpa >= RAM_SIZE)
		return VIOMMU_EFAULT;
	*hva = HVA_BASE + gpa;
	*hlen = len < RAM_SIZE - gpa ? len : RAM_SIZE - gpa;
	return 0;
}

static void toy_unmap(struct toy *t, uint64_t pg, enum viommu_event_type type)
{
	struct viommu_event ev = {
		.type = type, .sid = 5, .iova = pg << 12, .last = (pg << 12) + 0xfff
	};

	t->gpa[pg] = 0;
	vi_notify(&t->v, &ev);
}

/* source_config_init: both invalidation events, no push; attach takes it once gpa_to_hva is set. */
static void test_source_config_init(void **state)
{
	struct ctx *c = mk(0);
	struct toy *t = calloc(1, sizeof(*t));
	struct viommu_devtlb_source_config cfg;
	struct viommu_devtlb_source *src;

	(void)state;
	assert_non_null(t);
	assert_int_equal(vi_instance_init(&t->v, &toy_ops, &toy_host, NULL), 0);
	memset(&cfg, 0xa5, sizeof(cfg));
	viommu_devtlb_source_config_init(&cfg);
	viommu_devtlb_source_config_init(NULL);
	assert_int_equal(cfg.sid, 0);
	assert_int_equal(cfg.inval_events, VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP);
	assert_false(cfg.push);
	assert_null(cfg.gpa_to_hva);
	assert_null(cfg.opaque);
	assert_null(cfg.sent);
	assert_int_equal(viommu_devtlb_attach_model_cfg(c->tlb, &t->v, &cfg, &src), VIOMMU_EINVAL);
	cfg.sid = 5;
	cfg.gpa_to_hva = gpa_to_hva;
	assert_int_equal(viommu_devtlb_attach_model_cfg(c->tlb, &t->v, &cfg, &src), 0);
	t->gpa[3] = 0x200000;
	t->perm[3] = RW;
	t->gpa[4] = 0x300000;
	t->perm[4] = RW;
	assert_int_equal(look(c, 0x3000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x4000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 2);
	/* Both kinds of event invalidate. */
	toy_unmap(t, 3, VIOMMU_EV_UNMAP);
	toy_unmap(t, 4, VIOMMU_EV_DEVIOTLB_UNMAP);
	assert_int_equal(look(c, 0x3000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0x4000, 4, RD), VIOMMU_EAGAIN);
	viommu_devtlb_detach_model(src);
	viommu_destroy(&t->v);
	free(t);
	rm(c);
}

static void test_source_model(void **state)
{
	struct ctx *c = mk(0);
	struct toy *t = calloc(1, sizeof(*t));
	struct viommu_devtlb_source *src;
	struct viommu_devtlb_stats st;
	struct viommu_event all = { .type = VIOMMU_EV_UNMAP, .sid = 5, .iova = 0, .last = ~0ull };

	(void)state;
	assert_non_null(t);
	assert_int_equal(vi_instance_init(&t->v, &toy_ops, &toy_host, NULL), 0);
	assert_int_equal(viommu_devtlb_attach_model(c->tlb, &t->v, 5, NULL, NULL, &src),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_attach_model(c->tlb, &t->v, 5, gpa_to_hva, NULL, &src), 0);
	t->gpa[3] = 0x200000;
	t->perm[3] = RW;
	t->gpa[4] = 0x201000; /* contiguous with page 3 in host memory too */
	t->perm[4] = RW;
	t->gpa[9] = 0x5000;
	t->perm[9] = RD;
	t->gpa[10] = RAM_SIZE + 0x1000; /* not RAM */
	t->perm[10] = RW;

	/* Startup: nothing cached. Miss, service (one translation), hit. */
	assert_int_equal(look(c, 0x3010, 16, WR), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 1);
	assert_int_equal(t->translations, 1);
	assert_int_equal(c->wakes, 1);
	assert_int_equal(hit(c, 0x3010, 16, WR, HVA_BASE + 0x200010), 16);
	assert_int_equal(look(c, 0x4000, 16, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 1);
	/* Merged: one lookup spans both pages. */
	assert_int_equal(hit(c, 0x3800, 0x1000, RD, HVA_BASE + 0x200800), 0x1000);
	/* Read-only page: a write is a permission fault. */
	assert_int_equal(look(c, 0x9000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 1);
	assert_int_equal(hit(c, 0x9000, 4, RD, HVA_BASE + 0x5000), 4);
	assert_int_equal(look(c, 0x9000, 4, WR), VIOMMU_EPERM);
	/* Unmapped IOVA and GPA outside RAM: answered with nothing; the miss stays pending. */
	assert_int_equal(look(c, 0x20000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(look(c, 0xa000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 0);
	assert_int_equal(look(c, 0x20000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(viommu_devtlb_source_service(src), 0); /* taken once, not re-translated */

	/* Invalidation: UNMAP and DEVIOTLB_UNMAP events of the model drop the range. */
	toy_unmap(t, 4, VIOMMU_EV_UNMAP);
	assert_int_equal(hit(c, 0x3800, 0x1000, RD, HVA_BASE + 0x200800), 0x800);
	assert_int_equal(look(c, 0x4000, 4, RD), VIOMMU_EAGAIN);
	toy_unmap(t, 9, VIOMMU_EV_DEVIOTLB_UNMAP);
	assert_int_equal(look(c, 0x9000, 4, RD), VIOMMU_EAGAIN);
	/* The miss on a now-unmapped page is answered with nothing. */
	assert_int_equal(viommu_devtlb_source_service(src), 0);
	/* A whole-space event flushes. */
	vi_notify(&t->v, &all);
	assert_int_equal(look(c, 0x3000, 4, RD), VIOMMU_EAGAIN);
	viommu_devtlb_get_stats(c->tlb, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.invalidations, 3);
	/* Other requesters' events are not ours. */
	assert_int_equal(viommu_devtlb_source_service(src), 1);
	assert_int_equal(hit(c, 0x3000, 4, RD, HVA_BASE + 0x200000), 4);
	{
		struct viommu_event other = {
			.type = VIOMMU_EV_UNMAP, .sid = 6, .iova = 0, .last = ~0ull
		};

		vi_notify(&t->v, &other);
	}
	assert_int_equal(hit(c, 0x3000, 4, RD, HVA_BASE + 0x200000), 4);

	viommu_devtlb_detach_model(src);
	toy_unmap(t, 3, VIOMMU_EV_UNMAP); /* detached: no longer invalidates */
	assert_int_equal(hit(c, 0x3000, 4, RD, HVA_BASE + 0x200000), 4);
	viommu_destroy(&t->v);
	free(t);
	rm(c);
}

struct sent_log {
	int n[3];
	int last_ret;
};

static void log_sent(void *opaque, enum viommu_devtlb_msg msg, int ret)
{
	struct sent_log *l = opaque;

	l->n[msg]++;
	l->last_ret = ret;
}

static int log_gpa_to_hva(void *opaque, uint64_t gpa, uint64_t len, uint64_t *hva, uint64_t *hlen)
{
	(void)opaque;
	return gpa_to_hva(NULL, gpa, len, hva, hlen);
}

/* A source that follows only device-IOTLB invalidations and pushes the model's MAPs. */
static void test_source_config(void **state)
{
	struct ctx *c = mk(0);
	struct toy *t = calloc(1, sizeof(*t));
	struct sent_log log = { { 0 }, 0 };
	struct viommu_devtlb_source_config sc = { .sid = 5,
						  .inval_events = VIOMMU_EV_DEVIOTLB_UNMAP,
						  .push = true,
						  .gpa_to_hva = log_gpa_to_hva,
						  .opaque = &log,
						  .sent = log_sent };
	struct viommu_event map = { .type = VIOMMU_EV_MAP,
				    .sid = 5,
				    .iova = 0x6000,
				    .last = 0x7fff,
				    .out = 0x300000,
				    .perm = RW };
	struct viommu_devtlb_source *src;

	(void)state;
	assert_non_null(t);
	assert_int_equal(vi_instance_init(&t->v, &toy_ops, &toy_host, NULL), 0);
	sc.inval_events |= VIOMMU_EV_MAP;
	assert_int_equal(viommu_devtlb_attach_model_cfg(c->tlb, &t->v, &sc, &src), VIOMMU_EINVAL);
	assert_null(src);
	sc.inval_events = VIOMMU_EV_DEVIOTLB_UNMAP;
	assert_int_equal(viommu_devtlb_attach_model_cfg(c->tlb, &t->v, NULL, &src), VIOMMU_EINVAL);
	assert_int_equal(viommu_devtlb_attach_model_cfg(c->tlb, &t->v, &sc, &src), 0);
	/* Pushed: both pages hit without a miss or a translation. */
	t->gpa[6] = 0x300000;
	t->gpa[7] = 0x301000;
	t->perm[6] = t->perm[7] = RW;
	vi_notify(&t->v, &map);
	assert_int_equal(log.n[VIOMMU_DEVTLB_MSG_UPDATE_PUSH], 1);
	assert_int_equal(log.last_ret, 0);
	assert_int_equal(hit(c, 0x6ff0, 0x20, WR, HVA_BASE + 0x300ff0), 0x20);
	assert_int_equal(t->translations, 0);
	/* A plain UNMAP is not followed; a device-IOTLB one is. */
	toy_unmap(t, 6, VIOMMU_EV_UNMAP);
	assert_int_equal(hit(c, 0x6000, 4, RD, HVA_BASE + 0x300000), 4);
	toy_unmap(t, 6, VIOMMU_EV_DEVIOTLB_UNMAP);
	assert_int_equal(log.n[VIOMMU_DEVTLB_MSG_INVALIDATE], 1);
	assert_int_equal(look(c, 0x6000, 4, RD), VIOMMU_EAGAIN);
	assert_int_equal(hit(c, 0x7000, 4, RD, HVA_BASE + 0x301000), 4);
	/* A push outside RAM is reported with its error, and nothing is cached. */
	map.iova = 0x8000;
	map.last = 0x8fff;
	map.out = RAM_SIZE;
	vi_notify(&t->v, &map);
	assert_int_equal(log.n[VIOMMU_DEVTLB_MSG_UPDATE_PUSH], 2);
	assert_int_equal(log.last_ret, VIOMMU_EFAULT);
	assert_int_equal(look(c, 0x8000, 4, RD), VIOMMU_EAGAIN);
	/* Misses are still served, and reported. */
	t->gpa[6] = 0x302000;
	assert_int_equal(viommu_devtlb_source_service(src), 1);
	assert_int_equal(log.n[VIOMMU_DEVTLB_MSG_UPDATE_MISS], 1);
	assert_int_equal(hit(c, 0x6000, 4, RD, HVA_BASE + 0x302000), 4);
	viommu_devtlb_detach_model(src);
	viommu_destroy(&t->v);
	free(t);
	rm(c);
}

/* ---- Randomized: the devtlb against a reference list of byte ranges ---- */

#define REF_MAX 4096

struct rent {
	uint64_t iova, last, uaddr;
	uint32_t perm;
};

struct ref {
	struct rent e[REF_MAX];
	size_t n;
};

static void ref_cut(struct ref *r, uint64_t x, uint64_t y)
{
	size_t n = r->n;

	for (size_t i = 0; i < n; i++) {
		struct rent e = r->e[i];

		if (e.last < x || e.iova > y)
			continue;
		r->e[i].perm = 0; /* removed; pieces appended */
		if (e.iova < x) {
			assert_true(r->n < REF_MAX);
			r->e[r->n++] = (struct rent){ e.iova, x - 1, e.uaddr, e.perm };
		}
		if (e.last > y) {
			assert_true(r->n < REF_MAX);
			r->e[r->n++] =
				(struct rent){ y + 1, e.last, e.uaddr + (y + 1 - e.iova), e.perm };
		}
	}
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].perm)
			r->e[k++] = r->e[i];
	}
	r->n = k;
}

static const struct rent *ref_find(const struct ref *r, uint64_t x)
{
	for (size_t i = 0; i < r->n; i++) {
		if (x >= r->e[i].iova && x <= r->e[i].last)
			return &r->e[i];
	}
	return NULL;
}

/* Every byte of [x, x + cov) maps to u + offset with @want in the reference. */
static void ref_check_hit(const struct ref *r, uint64_t x, uint64_t cov, uint64_t u, uint32_t want)
{
	uint64_t done = 0;

	while (done < cov) {
		const struct rent *e = ref_find(r, x + done);
		uint64_t run;

		assert_non_null(e); /* a length that crosses into unmapped memory */
		assert_int_equal(e->uaddr + (x + done - e->iova), u + done);
		assert_int_equal(e->perm & want, want);
		run = e->last - (x + done);
		if (run >= cov - done - 1)
			break;
		done += run + 1;
	}
}

static uint64_t pick_addr(struct test_rng *g)
{
	static const uint64_t bases[] = { 0, 0x100000000ull, 0xfef00000ull, 0 - 0x400000ull };
	uint64_t a = bases[test_below(g, 4)] + test_below(g, 256) * 0x1000;

	if (test_below(g, 8) == 0)
		a += test_below(g, 0x1000);
	return a;
}

static uint64_t pick_size(struct test_rng *g)
{
	switch (test_below(g, 10)) {
	case 0:
		return test_below(g, 0x2000); /* includes 0 and unaligned */
	case 1:
		return 0x200000;
	case 2:
		return 0 - test_below(g, 0x100000); /* wraps or 0 */
	default:
		return 0x1000 * (1 + test_below(g, 8));
	}
}

static void run_random(uint32_t capacity, uint64_t seed, unsigned int ops)
{
	struct ctx *c = mk(capacity);
	struct ref *ref = calloc(1, sizeof(*ref));
	struct test_rng g = { seed };
	uint64_t last_u = 0x1000000; /* host addresses advance so that merges happen */
	unsigned int lookups = 0, hits = 0;
	uint64_t prev_x = 0, prev_size = 0, prev_u = 0;
	uint32_t prev_perm = 0;

	assert_non_null(ref);
	for (unsigned int op = 0; op < ops; op++) {
		unsigned int kind = (unsigned int)test_below(&g, 100);
		uint64_t x = pick_addr(&g);

		if (kind < 30) { /* update */
			uint64_t size = pick_size(&g), last;
			uint32_t perm = 1 + (uint32_t)test_below(&g, 3);
			uint64_t u = test_below(&g, 2) ? last_u : test_below(&g, 1ull << 40);
			int want = 0, ret;

			if (test_below(&g, 64) == 0)
				u = 0 - test_below(&g, 0x3000);
			/* The last mapping again, as it was: revives tombstones left by removals. */
			if (prev_size && test_below(&g, 4) == 0) {
				x = prev_x;
				size = prev_size;
				u = prev_u;
				perm = prev_perm;
			}
			last = x + (size - 1);
			if (last < x)
				last = UINT64_MAX;
			if (size == 0 || u + (last - x) < u)
				want = VIOMMU_EINVAL;
			ret = viommu_devtlb_update(c->tlb, x, size, u, perm);
			assert_int_equal(ret, want);
			if (!ret) {
				ref_cut(ref, x, last);
				assert_true(ref->n < REF_MAX);
				ref->e[ref->n++] = (struct rent){ x, last, u, perm };
				last_u = u + (last - x) + 1;
				prev_x = x;
				prev_size = size;
				prev_u = u;
				prev_perm = perm;
			}
		} else if (kind < 45) { /* invalidate */
			uint64_t size = pick_size(&g), last = x + (size - 1);

			if (size == 0 || last < x)
				last = UINT64_MAX;
			assert_int_equal(viommu_devtlb_invalidate(c->tlb, x, size), 0);
			ref_cut(ref, x, last);
		} else if (kind == 45 && test_below(&g, 20) == 0) {
			viommu_devtlb_flush(c->tlb);
			ref->n = 0;
		} else { /* lookup, often inside a reference entry */
			uint64_t len = test_below(&g, 4) ? 1 + test_below(&g, 0x3000) : 0;
			uint32_t acc = 1 + (uint32_t)test_below(&g, 3);
			uint64_t u = 0, cov = 0;
			const struct rent *e;
			int ret;

			if (ref->n && test_below(&g, 4)) {
				const struct rent *p = &ref->e[test_below(&g, ref->n)];

				x = p->iova + test_below(&g, p->last - p->iova + 1 ?
								     p->last - p->iova + 1 :
								     UINT64_MAX);
			}
			ret = viommu_devtlb_lookup(c->r, x, len, acc, &u, &cov);
			e = ref_find(ref, x);
			lookups++;
			if (ret == 0) {
				uint64_t l = len ? len : 1;

				if (x + (l - 1) < x)
					l = UINT64_MAX - x + 1;
				hits++;
				assert_true(cov >= 1 && cov <= l);
				ref_check_hit(ref, x, cov, u, acc);
			} else if (ret == VIOMMU_EPERM) {
				assert_non_null(e);
				assert_int_not_equal(e->perm & acc, acc);
			} else {
				assert_int_equal(ret, VIOMMU_EAGAIN);
				/* With room for everything, nothing is forgotten. */
				if (capacity >= REF_MAX)
					assert_null(e);
			}
			if (test_below(&g, 4) == 0)
				viommu_devtlb_reader_quiesce(c->r);
		}
		if (ref->n > REF_MAX - 8) {
			viommu_devtlb_flush(c->tlb);
			ref->n = 0;
		}
	}
	fprintf(stderr, "# capacity %u: %u lookups, %u hits\n", capacity, lookups, hits);
	assert_true(hits > lookups / 10); /* the run exercised hits, not only misses */
	free(ref);
	rm(c);
}

static void test_random_vs_reference(void **state)
{
	uint64_t seed = test_seed(0xdead7157);

	(void)state;
	run_random(REF_MAX, seed, 120000);
	run_random(16, seed + 1, 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_hit_coverage_perm),
		cmocka_unit_test(test_access_bits),
		cmocka_unit_test(test_remap_revives),
		cmocka_unit_test(test_cve_2018_1059_shape),
		cmocka_unit_test(test_update_args_and_wrap),
		cmocka_unit_test(test_invalidate_wrap_and_trim),
		cmocka_unit_test(test_update_replaces_overlap),
		cmocka_unit_test(test_unaligned_entries_share_page),
		cmocka_unit_test(test_miss_dedup_wake_retry),
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_repeat_hits),
		cmocka_unit_test(test_capacity_fifo),
		cmocka_unit_test(test_grace_period),
		cmocka_unit_test(test_source_model),
		cmocka_unit_test(test_source_config_init),
		cmocka_unit_test(test_source_config),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests_name("devtlb", tests, NULL, NULL);
}
