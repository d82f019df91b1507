// SPDX-License-Identifier: MIT
/*
 * Page-table formats: randomized map/unmap/walk/enumerate sequences through the builder, checked
 * after every step against a flat reference map kept here (one slot per granule of a window of
 * input space), plus table accounting (tables freed when empty, nothing leaked).
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>

#include "pt/pt_walker.h"

#define MEM_SIZE (96ull << 20)
#define POOL_BASE (1ull << 20) /* table pool: everything above the first MiB */
#define POOL_PAGES ((MEM_SIZE - POOL_BASE) >> 12)
#define OPS_PER_CFG 50000
#define ACC_RWX (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE | VIOMMU_ACC_EXEC)

/* A next-fit allocator of size-aligned blocks of 4 KiB pages over the pool. */
struct pool {
	uint8_t used[POOL_PAGES];
	uint64_t cursor;
	uint64_t bytes; /* currently allocated */
	uint64_t allocs, frees;
};

static int pool_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	struct pool *p = opaque;
	uint64_t n = size >> 12;

	assert_true(size >= 4096 && !(size & (size - 1)));
	/* Pool pages are 4 KiB aligned from POOL_BASE, which is aligned to 1 MiB; larger blocks
	 * align relative to address 0. */
	for (uint64_t k = 0; k < POOL_PAGES; k++) {
		uint64_t i = (p->cursor + k) % POOL_PAGES;
		uint64_t a = POOL_BASE + (i << 12);
		uint64_t j;

		if ((a & (size - 1)) || i + n > POOL_PAGES)
			continue;
		for (j = 0; j < n && !p->used[i + j]; j++)
			;
		if (j < n)
			continue;
		memset(&p->used[i], 1, n);
		p->cursor = i + n;
		p->bytes += size;
		p->allocs++;
		*gpa = a;
		return 0;
	}
	return VIOMMU_ENOMEM;
}

static void pool_free(void *opaque, uint64_t gpa, uint64_t size)
{
	struct pool *p = opaque;
	uint64_t i = (gpa - POOL_BASE) >> 12, n = size >> 12;

	assert_true(gpa >= POOL_BASE && !(gpa & (size - 1)) && i + n <= POOL_PAGES);
	for (uint64_t j = 0; j < n; j++) {
		assert_int_equal(p->used[i + j], 1); /* no double free */
		p->used[i + j] = 0;
	}
	p->bytes -= size;
	p->frees++;
}

static const struct viommu_pt_alloc_ops pool_ops = { pool_alloc, pool_free };

/* The reference: one slot per granule of the window. */
struct slot {
	uint64_t out;  /* output of this granule */
	uint64_t leaf; /* first input address of the leaf holding it */
	uint8_t shift; /* leaf size; 0 when unmapped */
	uint8_t perm;  /* map rights, PRIV included */
};

struct tcase {
	const char *name;
	struct viommu_pt_cfg cfg;
	uint64_t windows[2]; /* input windows exercised (second may equal the first) */
};

struct run {
	const struct tcase *tc;
	struct viommu_pt *pt;
	struct viommu_pt_walker *walker; /* keeps flatmem's (stable) span across the run */
	struct viommu_pt_plan *plan;
	struct viommu_flatmem *fm;
	struct pool *pool;
	struct slot *ref;
	uint64_t win;	   /* window base */
	uint64_t nslots;   /* window size in granules */
	unsigned int gran; /* log2 granule */
	uint64_t sizes;	   /* builder page sizes */
	uint64_t leaves;   /* walks the walker's leaf walk answered */
	struct test_rng rng;
};

/* Rights a walk at privilege @priv reports for a mapping made with @perm; -1: user fault. */
static int expect_perm(const struct run *r, uint32_t perm, bool priv)
{
	bool w = perm & VIOMMU_ACC_WRITE, x = perm & VIOMMU_ACC_EXEC;
	bool rd = perm & VIOMMU_ACC_READ, kpriv = perm & VIOMMU_ACC_PRIV;
	uint32_t p = 0;

	switch (r->tc->cfg.format) {
	case VIOMMU_PT_VTD_SL:
	case VIOMMU_PT_ARM_S2:
		return (int)(perm & ACC_RWX);
	case VIOMMU_PT_AMD_V1:
	case VIOMMU_PT_TCE:
		if (rd || x)
			p |= VIOMMU_ACC_READ | VIOMMU_ACC_EXEC;
		return (int)(p | (w ? VIOMMU_ACC_WRITE : 0));
	case VIOMMU_PT_X86_64:
		if (kpriv && !priv)
			return -1;
		return (int)(VIOMMU_ACC_READ | (w ? VIOMMU_ACC_WRITE : 0) |
			     (x ? VIOMMU_ACC_EXEC : 0));
	case VIOMMU_PT_ARM_S1:
		if (kpriv && !priv)
			return -1;
		p = VIOMMU_ACC_READ | (w ? VIOMMU_ACC_WRITE : 0);
		/* The builder gives user mappings EL0 access: writable ones are PXN. */
		if (x && (!priv || kpriv || !w))
			p |= VIOMMU_ACC_EXEC;
		return (int)p;
	default:
		fail();
	}
	return 0;
}

static struct slot *slot_of(struct run *r, uint64_t iova)
{
	return &r->ref[(iova - r->win) >> r->gran];
}

/*
 * The walker's leaf walk, where it answers, says what a walk with no access does: a leaf, its
 * page-aligned output, rights, level and size.
 */
static void check_leaf(struct run *r, const struct viommu_pt_cfg *cfg, uint64_t iova)
{
	struct pt_leaf l = vi_pt_walker_leaf(r->walker, cfg, iova);
	struct viommu_pt_walk_result z;
	uint64_t page;

	if (!l.shift)
		return;
	r->leaves++;
	assert_int_equal(vi_pt_walk_full(cfg, viommu_flatmem_ops(), r->fm, iova, 0, &z), 0);
	assert_int_equal(z.fault, VIOMMU_FAULT_NONE);
	assert_int_equal(l.shift, z.page_shift);
	page = z.out & ~((1ull << z.page_shift) - 1);
	assert_int_equal(l.word, page | z.perm | (uint64_t)z.level << 4);
}

static void check_walk(struct run *r, uint64_t iova)
{
	struct viommu_pt_walk_result res, full;
	const struct viommu_pt_cfg *cfg = viommu_pt_get_cfg(r->pt);
	const struct slot *s = slot_of(r, iova);
	bool priv = test_below(&r->rng, 2);
	uint32_t acc = priv ? VIOMMU_ACC_PRIV : 0;
	int want = s->shift ? expect_perm(r, s->perm, priv) : -1;

	/* Sometimes ask for the rights too, which makes formats with A/D flags write them. */
	if (want > 0 && test_below(&r->rng, 2))
		acc |= (uint32_t)want & ACC_RWX & (uint32_t)test_rand(&r->rng);
	assert_int_equal(viommu_pt_walk(cfg, viommu_flatmem_ops(), r->fm, iova, acc, &res), 0);
	/* Flags written back above, the fast walk and the full one read the same entries. */
	assert_int_equal(vi_pt_walk_full(cfg, viommu_flatmem_ops(), r->fm, iova, acc, &full), 0);
	assert_memory_equal(&res, &full, sizeof(res));
	/* Walkers, by configuration and by plan, read through the span they keep. */
	assert_int_equal(viommu_pt_walker_walk(r->walker, cfg, iova, acc, &full), 0);
	assert_memory_equal(&res, &full, sizeof(res));
	assert_int_equal(viommu_pt_walker_walk_plan(r->walker, r->plan, iova, acc, &full), 0);
	assert_memory_equal(&res, &full, sizeof(res));
	check_leaf(r, cfg, iova);
	if (!s->shift) {
		if (res.fault != VIOMMU_FAULT_NOT_PRESENT)
			fail_msg("%s: iova 0x%llx unmapped but fault %d detail %u", r->tc->name,
				 (unsigned long long)iova, res.fault, res.detail);
		return;
	}
	if (want < 0) {
		assert_int_equal(res.fault, VIOMMU_FAULT_PERMISSION);
		assert_int_equal(res.detail, VIOMMU_PT_D_PERM_USER);
		return;
	}
	if (res.fault != VIOMMU_FAULT_NONE)
		fail_msg("%s: iova 0x%llx mapped but fault %d detail %u level %u", r->tc->name,
			 (unsigned long long)iova, res.fault, res.detail, res.level);
	assert_int_equal(res.out, s->out + (iova & ((1ull << r->gran) - 1)));
	assert_int_equal(res.page_shift, s->shift);
	assert_int_equal(res.perm, (uint32_t)want);
}

/* The builder's page-size choice, restated: largest size aligned on both sides that fits. */
static unsigned int pick_shift(const struct run *r, uint64_t iova, uint64_t out, uint64_t left)
{
	for (int s = 63; s >= 0; s--) {
		uint64_t sz = 1ull << s;

		if ((r->sizes & sz) && !((iova | out) & (sz - 1)) && left >= sz)
			return (unsigned int)s;
	}
	fail();
	return 0;
}

static void do_map(struct run *r)
{
	uint64_t big[64], nbig = 0, p, n, iova, out, size;
	uint32_t perm;
	bool busy = false;
	int ret;

	for (int s = 0; s < 64; s++) {
		if ((r->sizes & (1ull << s)) && (1ull << s) <= (r->nslots << r->gran))
			big[nbig++] = 1ull << s;
	}
	/* Mostly granule runs, sometimes whole large pages. */
	if (test_below(&r->rng, 8)) {
		p = 1ull << r->gran;
		n = 1 + test_below(&r->rng, 24);
	} else {
		p = big[test_below(&r->rng, nbig)];
		n = 1 + test_below(&r->rng, 2);
	}
	size = p * n;
	if (size > (r->nslots << r->gran))
		size = p;
	iova = r->win + (test_below(&r->rng, ((r->nslots << r->gran) - size) / p + 1) * p);
	out = (test_below(&r->rng, 1ull << 20) * p) & ((1ull << 40) - 1) & ~(p - 1);
	do {
		perm = (uint32_t)test_below(&r->rng, 16);
	} while (!(perm & (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE)));

	for (uint64_t a = iova; a < iova + size && !busy; a += 1ull << r->gran)
		busy = slot_of(r, a)->shift != 0;
	ret = viommu_pt_map(r->pt, iova, out, size, perm, 0);
	if (busy) {
		assert_int_equal(ret, VIOMMU_EEXIST);
		return;
	}
	assert_int_equal(ret, 0);
	for (uint64_t done = 0; done < size;) {
		unsigned int s = pick_shift(r, iova + done, out + done, size - done);

		for (uint64_t a = 0; a < (1ull << s); a += 1ull << r->gran) {
			struct slot *sl = slot_of(r, iova + done + a);

			sl->out = out + done + a;
			sl->leaf = iova + done;
			sl->shift = (uint8_t)s;
			sl->perm = (uint8_t)perm;
		}
		done += 1ull << s;
	}
}

static void do_unmap(struct run *r, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1, want = 0, got = 0;
	const struct slot *a = slot_of(r, iova), *b = slot_of(r, last);
	bool straddle = (a->shift && a->leaf < iova) ||
			(b->shift && b->leaf + (1ull << b->shift) - 1 > last);
	int ret = viommu_pt_unmap(r->pt, iova, size, &got);

	if (straddle) {
		assert_int_equal(ret, VIOMMU_ERANGE);
		assert_int_equal(got, 0);
		return;
	}
	assert_int_equal(ret, 0);
	for (uint64_t x = iova; x <= last && x >= iova; x += 1ull << r->gran) {
		struct slot *s = slot_of(r, x);

		if (s->shift)
			want += 1ull << r->gran;
		s->shift = 0;
	}
	assert_int_equal(got, want);
}

struct iter_ctx {
	struct run *r;
	uint64_t covered;
	uint64_t next; /* leaves come in increasing order */
	bool priv;
};

static int iter_cb(void *opaque, uint64_t iova, uint64_t size, uint64_t out, uint32_t perm)
{
	struct iter_ctx *c = opaque;

	assert_true(iova >= c->next);
	c->next = iova + size;
	for (uint64_t a = 0; a < size; a += 1ull << c->r->gran) {
		const struct slot *s = slot_of(c->r, iova + a);

		assert_int_not_equal(s->shift, 0);
		assert_int_equal(s->out, out + a);
		assert_int_equal((int)perm, expect_perm(c->r, s->perm, c->priv));
	}
	c->covered += size;
	return 0;
}

static void check_iter(struct run *r)
{
	uint64_t a = test_below(&r->rng, r->nslots), want = 0;
	uint64_t b = a + test_below(&r->rng, 4096);
	struct iter_ctx c = { .r = r, .next = 0, .priv = true };
	const struct viommu_pt_cfg *cfg = viommu_pt_get_cfg(r->pt);

	if (b >= r->nslots)
		b = r->nslots - 1;
	for (uint64_t i = a; i <= b; i++)
		want += r->ref[i].shift ? 1ull << r->gran : 0;
	assert_int_equal(viommu_pt_for_each(cfg, viommu_flatmem_ops(), r->fm,
					    r->win + (a << r->gran),
					    r->win + (b << r->gran) + (1ull << r->gran) - 1,
					    VIOMMU_ACC_PRIV, iter_cb, &c),
			 0);
	assert_int_equal(c.covered, want);
}

static uint64_t region_bytes(const struct run *r)
{
	const struct viommu_pt_cfg *c = &r->tc->cfg;

	switch (c->format) {
	case VIOMMU_PT_TCE:
		return 1ull << (25 + c->tce_size);
	case VIOMMU_PT_AMD_V1:
		return c->levels >= 6 ? UINT64_MAX : 1ull << (12 + 9 * c->levels);
	default:
		return UINT64_MAX;
	}
}

static void run_case(const struct tcase *tc, struct viommu_flatmem *fm, struct pool *pool,
		     struct slot *ref, uint64_t seed)
{
	struct run r = { .tc = tc, .fm = fm, .pool = pool, .ref = ref, .rng = { seed } };
	uint64_t root_bytes;

	memset(pool, 0, sizeof(*pool));
	assert_int_equal(
		viommu_pt_create(&tc->cfg, viommu_flatmem_ops(), fm, &pool_ops, pool, &r.pt), 0);
	root_bytes = pool->bytes;
	r.sizes = viommu_pt_pgsizes(r.pt);
	assert_int_equal(viommu_pt_walker_create(viommu_flatmem_ops(), fm, &r.walker), 0);
	assert_int_equal(viommu_pt_plan_create(viommu_pt_get_cfg(r.pt), &r.plan), 0);
	r.gran = (unsigned int)__builtin_ctzll(r.sizes);
	r.nslots = 1ull << 18;
	if (region_bytes(&r) != UINT64_MAX && (region_bytes(&r) >> r.gran) < r.nslots)
		r.nslots = region_bytes(&r) >> r.gran;

	for (int w = 0; w < 2; w++) {
		r.win = tc->windows[w];
		memset(ref, 0, sizeof(*ref) * r.nslots);
		for (int op = 0; op < OPS_PER_CFG / 2; op++) {
			uint64_t k = test_below(&r.rng, 100);

			if (k < 25) {
				do_map(&r);
			} else if (k < 45) {
				uint64_t n = 1 + test_below(&r.rng, 32), i;

				if (n > r.nslots)
					n = r.nslots;
				i = test_below(&r.rng, r.nslots - n + 1);
				do_unmap(&r, r.win + (i << r.gran), n << r.gran);
			} else if (k < 99) {
				uint64_t i = test_below(&r.rng, r.nslots);

				check_walk(&r, r.win + (i << r.gran) +
						       test_below(&r.rng, 1ull << r.gran));
			} else {
				check_iter(&r);
			}
		}
		/* Empty the window: every table but the roots comes back. */
		do_unmap(&r, r.win, r.nslots << r.gran);
		assert_int_equal(pool->bytes, root_bytes);
	}
	fprintf(stderr, "# %s: %llu leaf walks\n", tc->name, (unsigned long long)r.leaves);
	viommu_pt_plan_destroy(r.plan);
	viommu_pt_walker_destroy(r.walker);
	viommu_pt_destroy(r.pt);
	assert_int_equal(pool->bytes, 0);
	assert_int_equal(pool->allocs, pool->frees);
}

#define SP (VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_SP_1G)

static const struct tcase cases[] = {
	{ "vtd-sl/3", { .format = VIOMMU_PT_VTD_SL, .levels = 3, .flags = SP }, { 0, 1ull << 32 } },
	{ "vtd-sl/4",
	  { .format = VIOMMU_PT_VTD_SL, .levels = 4, .flags = SP | VIOMMU_PT_F_AD },
	  { 0x7f0000000000ull, 1ull << 30 } },
	{ "vtd-sl/5",
	  { .format = VIOMMU_PT_VTD_SL, .levels = 5, .flags = VIOMMU_PT_F_SP_2M },
	  { 0x1ff000000000000ull, 0 } },
	{ "x86/4",
	  { .format = VIOMMU_PT_X86_64,
	    .levels = 4,
	    .flags = SP | VIOMMU_PT_F_NXE | VIOMMU_PT_F_WP },
	  { 0xffff800000000000ull, 0x7fffc0000000ull } },
	{ "x86/5",
	  { .format = VIOMMU_PT_X86_64, .levels = 5, .flags = VIOMMU_PT_F_NXE | VIOMMU_PT_F_WP },
	  { 0xff00000000000000ull, 1ull << 40 } },
	{ "amd-v1/1", { .format = VIOMMU_PT_AMD_V1, .levels = 1 }, { 0, 0 } },
	{ "amd-v1/3", { .format = VIOMMU_PT_AMD_V1, .levels = 3 }, { 0, 1ull << 38 } },
	{ "amd-v1/4",
	  { .format = VIOMMU_PT_AMD_V1, .levels = 4, .flags = VIOMMU_PT_F_AD },
	  { 1ull << 46, 0 } },
	{ "amd-v1/6", { .format = VIOMMU_PT_AMD_V1, .levels = 6 }, { 0xfff0000000000000ull, 0 } },
	{ "arm-s1/4k",
	  { .format = VIOMMU_PT_ARM_S1,
	    .granule = 12,
	    .tsz = { 25, 16 },
	    .flags = VIOMMU_PT_F_TTB1 },
	  { 1ull << 36, 0xffff000000000000ull } },
	{ "arm-s1/16k",
	  { .format = VIOMMU_PT_ARM_S1, .granule = 14, .tsz = { 17, 0 } },
	  { 0, 1ull << 45 } },
	{ "arm-s1/64k",
	  { .format = VIOMMU_PT_ARM_S1,
	    .granule = 16,
	    .tsz = { 22, 22 },
	    .flags = VIOMMU_PT_F_TTB1 | VIOMMU_PT_F_NO_TTB0 | VIOMMU_PT_F_AD },
	  { 0xfffffc0000000000ull, 0xffffff0000000000ull } },
	{ "arm-s2/4k-concat",
	  { .format = VIOMMU_PT_ARM_S2, .granule = 12, .tsz = { 24 }, .sl0 = 1 },
	  { 0, 0xff00000000ull } },
	{ "arm-s2/16k",
	  { .format = VIOMMU_PT_ARM_S2, .granule = 14, .tsz = { 28 }, .sl0 = 1 },
	  { 1ull << 35, 0 } },
	{ "arm-s2/64k",
	  { .format = VIOMMU_PT_ARM_S2, .granule = 16, .tsz = { 22 }, .sl0 = 1 },
	  { 1ull << 40, 0 } },
	{ "tce/0", { .format = VIOMMU_PT_TCE, .tce_size = 0 }, { 0, 0 } },
	{ "tce/7", { .format = VIOMMU_PT_TCE, .tce_size = 7 }, { 0, 3ull << 30 } },
};

static void test_random(void **state)
{
	struct viommu_flatmem *fm;
	struct pool *pool = malloc(sizeof(*pool));
	struct slot *ref = calloc(1u << 18, sizeof(*ref));
	uint64_t seed = test_seed(0x5eedf00d);

	(void)state;
	assert_non_null(pool);
	assert_non_null(ref);
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &fm), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fprintf(stderr, "# %s\n", cases[i].name);
		run_case(&cases[i], fm, pool, ref, seed + i);
	}
	viommu_flatmem_destroy(fm);
	free(pool);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
