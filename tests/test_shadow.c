// SPDX-License-Identifier: MIT
/*
 * The shadow engine (src/shadow) behind VT-d in caching mode, AMD-Vi with NpCache and
 * virtio-iommu, each programmed through the guest-driver library, against a reference of what
 * the host must hold. The host here is the test's own: it records every mapping, refuses to map
 * over one, enforces VFIO type1's no-split rule when asked, and checks the reference at every
 * call: a page whose guest state is not changing must be held exactly as the guest last
 * invalidated it (never dropped in between), and when the guest action completes every page must
 * be held exactly as the guest's tables say (minus changes the guest has not invalidated yet).
 */
#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/shadow.h>
#include <viommu/virtio_iommu.h>
#include <viommu/vtd.h>

#include "amdvi_driver.h"
#include "test_common.h"
#include "virtio_iommu_driver.h"
#include "vtd_driver.h"

#define PG 4096ull
#define MEM_SIZE (64ull << 20)
#define HOLE_START (8ull << 20) /* guest-physical [8 MiB, 12 MiB) is not RAM */
#define HOLE_END (12ull << 20)
#define TARGET_END (16ull << 20) /* the guest maps data pages below this */
#define ARENA (16ull << 20)	 /* virtio-iommu driver memory */
#define ARENA_SIZE (4ull << 20)
#define POOL_BASE (32ull << 20) /* VT-d / AMD-Vi driver tables */
#define POOL_SIZE (32ull << 20)
#define HOST_A 0x100000000ull /* host addresses of [0, 8 MiB) */
#define HOST_B 0x200000000ull /* of [12 MiB, 16 MiB): not contiguous with A */
#define HOST_C 0x300000000ull /* of [16 MiB, 64 MiB) */
#define IOVA_BASE 0x100000ull
#define RPAGES 256
#define SID 0x40
#define DID 6

enum model { M_VTD, M_AMDVI, M_VIO };

struct ref {
	uint64_t gpa;
	uint32_t perm; /* 0: not mapped */
};

struct text {
	uint64_t iova, last, host;
	uint32_t perm;
};

struct h {
	enum model model;
	bool deferred;
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *vtd;
	struct vg_amdvi *amd;
	struct vg_vio *vio;
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *dev;
	struct viommu_shadow_host_ops ops;
	/* the test host */
	struct text ext[4096];
	size_t next;
	bool strict_live; /* check the live rule at every call */
	bool detaching;
	uint64_t maps, unmaps, commits, checks;
	/* the reference */
	struct ref cur[RPAGES], synced[RPAGES];
	bool affected[RPAGES];
	uint32_t run_start[RPAGES], run_len[RPAGES]; /* virtio-iommu: the mapping a page is in */
	uint64_t errs[8];
};

static struct h *g;

/* ------------------------------------------------------------------------------------------ */
/* Guest memory map and reference                                                              */
/* ------------------------------------------------------------------------------------------ */

static int gpa_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	uint64_t end;

	(void)opaque;
	if (gpa >= MEM_SIZE) {
		*seg = len; /* nothing above is RAM */
		return VIOMMU_EFAULT;
	}
	if (gpa >= HOLE_START && gpa < HOLE_END) {
		*seg = HOLE_END - gpa;
		return VIOMMU_EFAULT;
	}
	if (gpa < HOLE_START) {
		*host = HOST_A + gpa;
		end = HOLE_START;
	} else if (gpa < TARGET_END) {
		*host = HOST_B + (gpa - HOLE_END);
		end = TARGET_END;
	} else {
		*host = HOST_C + (gpa - TARGET_END);
		end = MEM_SIZE;
	}
	*seg = end - gpa < len ? end - gpa : len;
	return 0;
}

static void on_error(void *opaque, const struct viommu_shadow_error *e)
{
	struct h *t = opaque;

	assert_true(e->kind >= 1 && e->kind < 8);
	t->errs[e->kind]++;
}

struct hv {
	bool present;
	uint64_t host;
	uint32_t perm;
};

static struct hv expect(const struct ref *r)
{
	struct hv x = { 0 };
	uint64_t seg;

	if (!r->perm || gpa_to_host(NULL, r->gpa, PG, &x.host, &seg))
		return (struct hv){ 0 };
	x.present = true;
	x.perm = r->perm;
	return x;
}

static struct hv host_at(const struct h *t, uint64_t iova)
{
	for (size_t i = 0; i < t->next; i++) {
		if (t->ext[i].iova <= iova && iova <= t->ext[i].last)
			return (struct hv){ true, t->ext[i].host + (iova - t->ext[i].iova),
					    t->ext[i].perm };
	}
	return (struct hv){ 0 };
}

static bool hv_eq(struct hv a, struct hv b)
{
	return a.present == b.present && (!a.present || (a.host == b.host && a.perm == b.perm));
}

static bool ref_eq(const struct ref *a, const struct ref *b)
{
	return a->perm == b->perm && (!a->perm || a->gpa == b->gpa);
}

/* The rule, at every host call (@final false) and when a guest action has completed. */
static void check(struct h *t, bool final)
{
	if (!t->dev || t->detaching)
		return; /* not shadowed (yet, or any more) */
	t->checks++;
	for (int p = 0; p < RPAGES; p++) {
		struct hv hs = host_at(t, IOVA_BASE + p * PG);
		struct hv eo = expect(&t->synced[p]), en = expect(&t->cur[p]);
		bool pending = !ref_eq(&t->synced[p], &t->cur[p]);

		if (!pending && (final || !t->affected[p])) {
			if (!hv_eq(hs, en) && (t->strict_live || final)) {
				fprintf(stderr,
					"# page %d: host %d %llx/%u, want %d %llx/%u (%s)\n", p,
					hs.present, (unsigned long long)hs.host, hs.perm,
					en.present, (unsigned long long)en.host, en.perm,
					final ? "final" : "live");
				fail();
			}
		} else {
			assert_true(hv_eq(hs, eo) || hv_eq(hs, en) || (!final && !hs.present));
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The test host                                                                               */
/* ------------------------------------------------------------------------------------------ */

static int th_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	struct h *t = ctx;
	uint64_t last = iova + size - 1;

	assert_true(size && !(size % PG) && !(iova % PG) && !(host % PG) && last >= iova);
	assert_true(perm && !(perm & ~VIOMMU_ACC_RW));
	for (size_t i = 0; i < t->next; i++)
		assert_true(t->ext[i].last < iova || t->ext[i].iova > last); /* never over one */
	assert_true(t->next < 4096);
	t->ext[t->next++] = (struct text){ iova, last, host, perm };
	t->maps++;
	check(t, false);
	return 0;
}

static int th_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct h *t = ctx;
	uint64_t last = iova + size - 1;

	assert_true(size && !(size % PG) && !(iova % PG) && last >= iova);
	for (size_t i = 0; i < t->next;) {
		struct text *e = &t->ext[i];

		if (e->last < iova || e->iova > last) {
			i++;
			continue;
		}
		if (!(t->ops.flags & VIOMMU_SHADOW_HOST_SPLIT)) {
			/* VFIO type1: an unmap covers whole mappings. */
			assert_true(e->iova >= iova && e->last <= last);
		}
		if (e->iova < iova && e->last > last) {
			struct text tail = { last + 1, e->last, e->host + (last + 1 - e->iova),
					     e->perm };

			e->last = iova - 1;
			t->ext[t->next++] = tail;
			i++;
		} else if (e->iova < iova) {
			e->last = iova - 1;
			i++;
		} else if (e->last > last) {
			e->host += last + 1 - e->iova;
			e->iova = last + 1;
			i++;
		} else {
			t->ext[i] = t->ext[--t->next];
		}
	}
	t->unmaps++;
	check(t, false);
	return 0;
}

static int th_commit(void *ctx)
{
	struct h *t = ctx;

	t->commits++;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static struct h *setup(enum model m, bool split, enum viommu_shadow_coalesce co, bool deferred,
		       const struct viommu_shadow_config *base)
{
	struct h *t = calloc(1, sizeof(*t));
	struct viommu_shadow_config c;

	assert_non_null(t);
	g = t;
	t->model = m;
	t->deferred = deferred;
	t->strict_live = true;
	t->ops = (struct viommu_shadow_host_ops){ .flags = split ? VIOMMU_SHADOW_HOST_SPLIT : 0,
						  .map = th_map,
						  .unmap = th_unmap,
						  .commit = th_commit };
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &t->fm), 0);
	if (m == M_VTD) {
		struct viommu_vtd_config vc;
		struct vg_vtd_config dc = { 0 };

		viommu_vtd_config_init(&vc);
		vc.flags |= VIOMMU_VTD_CM;
		assert_int_equal(viommu_vtd_create(&vc, viommu_flatmem_ops(), t->fm, &t->v), 0);
		dc.iommu = t->v;
		dc.mem = t->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		dc.deferred = false; /* deferred unmaps are the test's own choice, per unmap */
		dc.no_superpages = true;
		assert_int_equal(vg_vtd_create(&dc, &t->vtd), 0);
		assert_int_equal(vg_vtd_enable(t->vtd), 0);
		assert_int_equal(vg_vtd_attach(t->vtd, SID, DID, false), 0);
	} else if (m == M_AMDVI) {
		struct viommu_amdvi_config ac;
		struct vg_amdvi_config dc = { 0 };

		viommu_amdvi_config_init(&ac);
		assert_true(ac.flags & VIOMMU_AMDVI_NPCACHE);
		assert_int_equal(viommu_amdvi_create(&ac, viommu_flatmem_ops(), t->fm, &t->v), 0);
		dc.iommu = t->v;
		dc.mem = t->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		dc.lazy = false;
		dc.msi_addr = 0xfee00000;
		assert_int_equal(vg_amdvi_create(&dc, &t->amd), 0);
		assert_int_equal(vg_amdvi_enable(t->amd), 0);
		assert_int_equal(vg_amdvi_attach(t->amd, SID, DID, false), 0);
	} else {
		struct viommu_virtio_iommu_config vc = { 0 };
		struct vg_vio_config dc = { .arena = ARENA, .arena_size = ARENA_SIZE };

		assert_int_equal(
			viommu_virtio_iommu_create(&vc, viommu_flatmem_ops(), t->fm, &t->v), 0);
		assert_int_equal(viommu_virtio_iommu_add_endpoint(t->v, SID), 0);
		assert_int_equal(vg_vio_create(t->v, t->fm, &dc, &t->vio), 0);
		assert_int_equal(vg_vio_attach(t->vio, DID, SID, 0), 0);
	}
	if (base)
		c = *base;
	else
		viommu_shadow_config_init(&c);
	c.coalesce = co;
	c.gpa_to_host = gpa_to_host;
	c.error = on_error;
	c.opaque = t;
	assert_int_equal(viommu_shadow_create(&c, &t->sh), 0);
	return t;
}

static void attach(struct h *t)
{
	assert_int_equal(viommu_shadow_attach(t->sh, t->v, SID, 0, false, &t->ops, t, &t->dev), 0);
}

static void teardown(struct h *t)
{
	viommu_shadow_destroy(t->sh);
	vg_vtd_destroy(t->vtd);
	vg_amdvi_destroy(t->amd);
	vg_vio_destroy(t->vio);
	viommu_destroy(t->v);
	viommu_flatmem_destroy(t->fm);
	g = NULL;
	free(t);
}

static uint32_t vio_flags(uint32_t perm)
{
	return (perm & VIOMMU_ACC_READ ? VIOMMU_VIRTIO_IOMMU_MAP_F_READ : 0) |
	       (perm & VIOMMU_ACC_WRITE ? VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE : 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Guest actions (strict unless deferred is asked)                                             */
/* ------------------------------------------------------------------------------------------ */

static void begin(struct h *t, int p, int np)
{
	memset(t->affected, 0, sizeof(t->affected));
	for (int i = p; i < p + np; i++)
		t->affected[i] = true;
}

static void g_map(struct h *t, int p, int np, uint64_t gpa, uint32_t perm)
{
	uint64_t iova = IOVA_BASE + p * PG, size = np * PG;

	begin(t, p, np);
	for (int i = 0; i < np; i++) {
		t->cur[p + i] = (struct ref){ gpa + i * PG, perm };
		t->run_start[p + i] = p;
		t->run_len[p + i] = np;
	}
	if (t->model == M_VTD)
		assert_int_equal(vg_vtd_map(t->vtd, DID, iova, gpa, size, perm), 0);
	else if (t->model == M_AMDVI)
		assert_int_equal(vg_amdvi_map(t->amd, DID, iova, gpa, size, perm), 0);
	else
		assert_int_equal(
			vg_vio_map(t->vio, DID, iova, iova + size - 1, gpa, vio_flags(perm)), 0);
	for (int i = 0; i < np; i++)
		t->synced[p + i] = t->cur[p + i];
	check(t, true);
}

/* Unmap; deferred leaves the invalidation (and so the reference's synced state) for g_flush. */
static void g_unmap(struct h *t, int p, int np, bool deferred)
{
	uint64_t iova = IOVA_BASE + p * PG, size = np * PG;

	begin(t, p, np);
	for (int i = p; i < p + np; i++)
		t->cur[i] = (struct ref){ 0 };
	if (t->model == M_VTD) {
		/* The driver's own mode is strict; deferred is the test's choice per unmap. */
		assert_int_equal(deferred ? vg_vtd_unmap_nosync(t->vtd, DID, iova, size) :
					    vg_vtd_unmap(t->vtd, DID, iova, size),
				 0);
	} else if (t->model == M_AMDVI) {
		assert_int_equal(deferred ? vg_amdvi_unmap_nosync(t->amd, DID, iova, size) :
					    vg_amdvi_unmap(t->amd, DID, iova, size),
				 0);
	} else {
		assert_int_equal(deferred ?
					 vg_vio_unmap_deferred(t->vio, DID, iova, iova + size - 1) :
					 vg_vio_unmap(t->vio, DID, iova, iova + size - 1),
				 0);
	}
	if (!deferred)
		for (int i = p; i < p + np; i++)
			t->synced[i] = t->cur[i];
	check(t, true);
}

/* Change live entries in place, then one invalidation (virtio-iommu: UNMAP then MAP). */
static void g_remap(struct h *t, int p, int np, uint64_t gpa, uint32_t perm)
{
	uint64_t iova = IOVA_BASE + p * PG, size = np * PG;

	begin(t, p, np);
	for (int i = 0; i < np; i++)
		t->cur[p + i] = (struct ref){ gpa + i * PG, perm };
	if (t->model == M_VTD) {
		assert_int_equal(vg_vtd_unmap_nosync(t->vtd, DID, iova, size), 0);
		assert_int_equal(vg_vtd_map_nosync(t->vtd, DID, iova, gpa, size, perm), 0);
		assert_int_equal(vg_vtd_flush_range(t->vtd, DID, iova, size), 0);
	} else if (t->model == M_AMDVI) {
		assert_int_equal(vg_amdvi_unmap_nosync(t->amd, DID, iova, size), 0);
		assert_int_equal(vg_amdvi_map_nosync(t->amd, DID, iova, gpa, size, perm), 0);
		assert_int_equal(vg_amdvi_inv_pages(t->amd, DID, iova, size), 0);
	} else {
		assert_int_equal(vg_vio_unmap(t->vio, DID, iova, iova + size - 1), 0);
		assert_int_equal(
			vg_vio_map(t->vio, DID, iova, iova + size - 1, gpa, vio_flags(perm)), 0);
	}
	for (int i = 0; i < np; i++)
		t->synced[p + i] = t->cur[p + i];
	check(t, true);
}

/* Complete every deferred unmap (domain-wide invalidation / a virtio-iommu kick). */
static void g_flush(struct h *t)
{
	begin(t, 0, 0);
	for (int i = 0; i < RPAGES; i++)
		if (!ref_eq(&t->cur[i], &t->synced[i]))
			t->affected[i] = true;
	if (t->model == M_VTD)
		assert_int_equal(vg_vtd_flush(t->vtd), 0);
	else if (t->model == M_AMDVI)
		assert_int_equal(vg_amdvi_flush(t->amd), 0);
	else
		assert_int_equal(vg_vio_sync(t->vio), 0);
	memcpy(t->synced, t->cur, sizeof(t->cur));
	check(t, true);
}

static bool free_run(const struct h *t, int p, int np)
{
	for (int i = p; i < p + np; i++)
		if (t->cur[i].perm || t->synced[i].perm)
			return false;
	return true;
}

static bool any_pending(const struct h *t)
{
	for (int i = 0; i < RPAGES; i++)
		if (!ref_eq(&t->cur[i], &t->synced[i]))
			return true;
	return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Randomized sequences                                                                        */
/* ------------------------------------------------------------------------------------------ */

static const uint32_t perms[3] = { VIOMMU_ACC_READ, VIOMMU_ACC_WRITE, VIOMMU_ACC_RW };

static void random_run(enum model m, bool split, enum viommu_shadow_coalesce co, bool deferred,
		       uint64_t seed, long nops)
{
	struct test_rng rng = { test_seed(seed) };
	struct h *t = setup(m, split, co, deferred, NULL);
	struct viommu_shadow_stats st;
	long ops = 0;

	/* Non-split host with forced coalescing may remap survivors: only the end state counts. */
	t->strict_live = split || co != VIOMMU_SHADOW_COALESCE_ON;
	/* Mappings made before the VMM attaches arrive through the replay. */
	g_map(t, 3, 4, 0x10000, VIOMMU_ACC_RW);
	attach(t);
	check(t, true);
	while (ops < nops) {
		uint64_t r = test_below(&rng, 100);
		int p = (int)test_below(&rng, RPAGES), np = 1 + (int)test_below(&rng, 8);
		uint64_t gpa = test_below(&rng, TARGET_END / PG - 8) * PG;
		uint32_t perm = perms[test_below(&rng, 3)];

		if (p + np > RPAGES)
			np = RPAGES - p;
		if (m == M_VIO && t->cur[p].perm) {
			/* virtio-iommu changes whole mappings only */
			np = (int)t->run_len[p];
			p = (int)t->run_start[p];
		}
		ops++;
		if (getenv("SHADOW_TRACE"))
			fprintf(stderr, "# op %ld r=%llu p=%d np=%d gpa=%llx perm=%u\n", ops,
				(unsigned long long)r, p, np, (unsigned long long)gpa, perm);
		if (r < 35) {
			if (!free_run(t, p, np))
				continue;
			g_map(t, p, np, gpa, perm);
		} else if (r < 55) {
			if (!t->cur[p].perm)
				continue;
			/* VT-d, AMD-Vi: any range, holes included; virtio-iommu: one mapping. */
			g_unmap(t, p, np, deferred && test_below(&rng, 2));
		} else if (r < 75) {
			bool same = test_below(&rng, 3) == 0;
			uint64_t before = t->maps + t->unmaps;
			bool quiet = !any_pending(t);
			int k;

			for (k = p;
			     k < p + np && t->cur[k].perm && ref_eq(&t->cur[k], &t->synced[k]); k++)
				;
			if (k != p + np || (m == M_VIO && t->run_start[p] != (uint32_t)p))
				continue;
			if (same && m != M_VIO) {
				/* Same pages, same rights, written again and invalidated: no host call. */
				bool lin = true;

				for (k = p; k < p + np; k++)
					lin = lin && t->cur[k].perm == t->cur[p].perm &&
					      t->cur[k].gpa ==
						      t->cur[p].gpa + (uint64_t)(k - p) * PG;
				g_remap(t, p, np, t->cur[p].gpa, t->cur[p].perm);
				if (quiet && lin)
					assert_int_equal(t->maps + t->unmaps, before);
				continue;
			}
			g_remap(t, p, np, gpa, perm);
		} else if (r < 85) {
			g_flush(t);
		} else if (r < 88) {
			uint64_t before;

			g_flush(t);
			before = t->maps + t->unmaps;
			assert_int_equal(viommu_shadow_replay(t->dev), 0);
			check(t, true);
			/* The host already holds what the guest has: replay changes nothing. */
			assert_int_equal(t->maps + t->unmaps, before);
		} else {
			g_flush(t);
		}
	}
	g_flush(t);
	viommu_shadow_dev_get_stats(t->dev, &st);
	fprintf(stderr,
		"# %s split=%d co=%d deferred=%d: %lu ops, %llu maps %llu unmaps %llu commits, "
		"%llu checks, kept %llu remapped %llu, gpa errors %llu\n",
		m == M_VTD   ? "vtd-cm" :
		m == M_AMDVI ? "amdvi-npcache" :
			       "virtio-iommu",
		split, co, deferred, ops, (unsigned long long)t->maps,
		(unsigned long long)t->unmaps, (unsigned long long)t->commits,
		(unsigned long long)t->checks, (unsigned long long)st.kept_pages,
		(unsigned long long)st.remapped_pages,
		(unsigned long long)t->errs[VIOMMU_SHADOW_ERR_GPA]);
	assert_int_equal(st.map_calls, t->maps);
	assert_int_equal(st.unmap_calls, t->unmaps);
	assert_true(t->maps > 100);
	/* The engine's record is the host's. */
	assert_int_equal(st.held, t->next);
	/* Detach with unmap leaves the host empty in one call. */
	{
		uint64_t u = t->unmaps;

		t->detaching = true;
		viommu_shadow_detach(t->dev, true);
		assert_int_equal(t->next, 0);
		assert_true(t->unmaps <= u + 1);
	}
	teardown(t);
}

static void test_random_vtd_split(void **s)
{
	(void)s;
	random_run(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, 0x5ad0001, 1500);
}

static void test_random_vtd_vfio(void **s)
{
	(void)s;
	random_run(M_VTD, false, VIOMMU_SHADOW_COALESCE_AUTO, true, 0x5ad0002, 1500);
}

static void test_random_vtd_vfio_coalesced(void **s)
{
	(void)s;
	random_run(M_VTD, false, VIOMMU_SHADOW_COALESCE_ON, true, 0x5ad0003, 1500);
}

static void test_random_amdvi_split(void **s)
{
	(void)s;
	random_run(M_AMDVI, true, VIOMMU_SHADOW_COALESCE_AUTO, true, 0x5ad0004, 1500);
}

static void test_random_amdvi_vfio(void **s)
{
	(void)s;
	random_run(M_AMDVI, false, VIOMMU_SHADOW_COALESCE_OFF, false, 0x5ad0005, 1500);
}

static void test_random_vio_split(void **s)
{
	(void)s;
	random_run(M_VIO, true, VIOMMU_SHADOW_COALESCE_AUTO, true, 0x5ad0006, 1500);
}

static void test_random_vio_vfio(void **s)
{
	(void)s;
	random_run(M_VIO, false, VIOMMU_SHADOW_COALESCE_ON, false, 0x5ad0007, 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_vtd_split),
		cmocka_unit_test(test_random_vtd_vfio),
		cmocka_unit_test(test_random_vtd_vfio_coalesced),
		cmocka_unit_test(test_random_amdvi_split),
		cmocka_unit_test(test_random_amdvi_vfio),
		cmocka_unit_test(test_random_vio_split),
		cmocka_unit_test(test_random_vio_vfio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
