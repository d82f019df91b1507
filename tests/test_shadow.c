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
#include <viommu/smmuv3.h>
#include <viommu/virtio_iommu.h>
#include <viommu/vtd.h>

#include "amdvi_driver.h"
#include "host_extents.h"
#include "shadow_nest.h"
#include "smmuv3_driver.h"
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

enum model { M_VTD, M_AMDVI, M_SMMU, M_VIO };

struct ref {
	uint64_t gpa;
	uint32_t perm; /* 0: not mapped */
};

struct h {
	enum model model;
	bool deferred;
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *vtd;
	struct vg_amdvi *amd;
	struct vg_smmu *smmu;
	struct vg_vio *vio;
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *dev;
	struct viommu_shadow_host_ops ops;
	/* the test host */
	struct host_ext ext[4096];
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
	t->ext[t->next++] = (struct host_ext){ iova, last, host, perm };
	t->maps++;
	check(t, false);
	return 0;
}

static int th_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct h *t = ctx;
	uint64_t last = iova + size - 1;

	assert_true(size && !(size % PG) && !(iova % PG) && last >= iova);
	/* VFIO type1 (no SPLIT): an unmap covers whole mappings. */
	assert_int_equal(host_ext_unmap(t->ext, &t->next, sizeof(t->ext) / sizeof(t->ext[0]), iova,
					last, t->ops.flags & VIOMMU_SHADOW_HOST_SPLIT),
			 0);
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
	} else if (m == M_SMMU) {
		/* Stage 2: its S2AP gives write-only mappings, which stage 1's AP cannot. */
		struct viommu_smmuv3_config sc;
		struct vg_smmu_config dc = { 0 };

		viommu_smmuv3_config_init(&sc);
		sc.flags |= VIOMMU_SMMUV3_CM;
		assert_int_equal(viommu_smmuv3_create(&sc, viommu_flatmem_ops(), t->fm, &t->v), 0);
		dc.iommu = t->v;
		dc.mem = t->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		dc.cm = true;
		assert_int_equal(vg_smmu_create(&dc, &t->smmu), 0);
		assert_int_equal(vg_smmu_enable(t->smmu), 0);
		assert_int_equal(vg_smmu_attach(t->smmu, SID, VG_SMMU_STE_S2, 0, DID, false), 0);
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
	vg_smmu_destroy(t->smmu);
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
	else if (t->model == M_SMMU)
		assert_int_equal(vg_smmu_map(t->smmu, true, DID, iova, gpa, size, perm), 0);
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
	} else if (t->model == M_SMMU) {
		assert_int_equal(deferred ? vg_smmu_unmap_nosync(t->smmu, true, DID, iova, size) :
					    vg_smmu_unmap(t->smmu, true, DID, iova, size),
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
	} else if (t->model == M_SMMU) {
		assert_int_equal(vg_smmu_unmap_nosync(t->smmu, true, DID, iova, size), 0);
		assert_int_equal(vg_smmu_map_nosync(t->smmu, true, DID, iova, gpa, size, perm), 0);
		assert_int_equal(vg_smmu_inv_range(t->smmu, true, DID, iova, size), 0);
		assert_int_equal(vg_smmu_sync_map(t->smmu), 0);
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
	else if (t->model == M_SMMU)
		assert_int_equal(vg_smmu_flush(t->smmu), 0);
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
		m == M_SMMU  ? "smmuv3-cm" :
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

static void test_random_smmu_split(void **s)
{
	(void)s;
	random_run(M_SMMU, true, VIOMMU_SHADOW_COALESCE_AUTO, true, 0x5ad0008, 1500);
}

static void test_random_smmu_vfio(void **s)
{
	(void)s;
	random_run(M_SMMU, false, VIOMMU_SHADOW_COALESCE_AUTO, false, 0x5ad0009, 1500);
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

/* ------------------------------------------------------------------------------------------ */
/* Deterministic cases                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* One invalidation of 512 contiguous pages: one host call where the host can split or the VMM
 * asks for coalescing, one per page otherwise (VFIO could not unmap a part later). */
static void test_coalesce(void **s)
{
	static const struct {
		enum model m;
		bool split;
		enum viommu_shadow_coalesce co;
		uint64_t want;
	} c[] = {
		{ M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, 1 },
		{ M_VTD, false, VIOMMU_SHADOW_COALESCE_AUTO, 64 },
		{ M_VTD, false, VIOMMU_SHADOW_COALESCE_ON, 1 },
		{ M_AMDVI, true, VIOMMU_SHADOW_COALESCE_AUTO, 1 },
		{ M_AMDVI, true, VIOMMU_SHADOW_COALESCE_OFF, 64 },
		{ M_VIO, false, VIOMMU_SHADOW_COALESCE_AUTO, 1 }, /* one MAP request: one piece */
	};

	(void)s;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct h *t = setup(c[i].m, c[i].split, c[i].co, false, NULL);

		attach(t);
		g_map(t, 0, 64, 0x100000, VIOMMU_ACC_RW);
		assert_int_equal(t->maps, c[i].want);
		assert_int_equal(t->commits, 1); /* one batch */
		/* Crossing from one RAM block into another: never one call across the seam. */
		g_map(t, 100, 16, HOLE_START - 8 * PG, VIOMMU_ACC_RW); /* 8 pages, then the hole */
		assert_int_equal(t->errs[VIOMMU_SHADOW_ERR_GPA] > 0, 1);
		g_unmap(t, 0, 64, false);
		assert_int_equal(t->next, c[i].want == 1 ? 1 : 8);
		teardown(t);
	}
}

/* Scattered pages removed in one domain-wide invalidation: one unmap call over the holes. */
static void test_scattered_unmap(void **s)
{
	struct h *t = setup(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, NULL);

	(void)s;
	attach(t);
	for (int p = 0; p < 128; p += 4)
		g_map(t, p, 1, 0x100000 + (uint64_t)p * PG, VIOMMU_ACC_RW);
	/* A page kept in the middle splits the call in two. */
	g_map(t, 130, 1, 0x300000, VIOMMU_ACC_READ);
	for (int p = 132; p < 160; p += 4)
		g_map(t, p, 1, 0x200000 + (uint64_t)p * PG, VIOMMU_ACC_RW);
	t->unmaps = 0;
	for (int p = 0; p < 128; p += 4)
		g_unmap(t, p, 1, true);
	for (int p = 132; p < 160; p += 4)
		g_unmap(t, p, 1, true);
	assert_int_equal(t->unmaps, 0); /* nothing invalidated yet */
	g_flush(t);
	assert_int_equal(t->unmaps, 2);
	assert_int_equal(t->next, 1);
	teardown(t);
}

/* Same IOVA to the same page: nothing; to another page: unmap and map of exactly that page. */
static void test_remap_exact(void **s)
{
	enum model ms[] = { M_VTD, M_AMDVI };

	(void)s;
	for (int i = 0; i < 2; i++) {
		struct h *t = setup(ms[i], false, VIOMMU_SHADOW_COALESCE_ON, false, NULL);
		struct viommu_shadow_stats st;

		attach(t);
		g_map(t, 0, 16, 0x100000, VIOMMU_ACC_RW);
		assert_int_equal(t->maps, 1);
		g_remap(t, 0, 16, 0x100000, VIOMMU_ACC_RW);
		assert_int_equal(t->maps, 1);
		assert_int_equal(t->unmaps, 0);
		/* One page in the middle changes: the host (no split) drops the whole mapping and
		 * maps the survivors again: the only transient loss, counted. */
		t->strict_live = false;
		g_remap(t, 5, 1, 0x400000, VIOMMU_ACC_READ);
		viommu_shadow_dev_get_stats(t->dev, &st);
		assert_int_equal(st.remapped_pages, 15);
		assert_int_equal(t->unmaps, 1);
		assert_int_equal(t->maps, 1 + 3);
		teardown(t);

		/* With a host that splits, exactly the page. */
		t = setup(ms[i], true, VIOMMU_SHADOW_COALESCE_AUTO, false, NULL);
		attach(t);
		g_map(t, 0, 16, 0x100000, VIOMMU_ACC_RW);
		g_remap(t, 5, 1, 0x400000, VIOMMU_ACC_READ);
		viommu_shadow_dev_get_stats(t->dev, &st);
		assert_int_equal(st.remapped_pages, 0);
		assert_int_equal(t->unmaps, 1);
		assert_int_equal(t->maps, 2);
		assert_int_equal(t->next, 3);
		teardown(t);
	}
}

/* The host's mapping limit and IOVA ranges: reported, nothing wrong mapped. */
static void test_limits(void **s)
{
	struct viommu_shadow_config c;
	struct h *t;

	(void)s;
	viommu_shadow_config_init(&c);
	c.max_mappings = 3;
	c.ranges[0] = (struct viommu_shadow_range){ 0, IOVA_BASE + 64 * PG - 1 };
	c.ranges[1] =
		(struct viommu_shadow_range){ IOVA_BASE + 128 * PG, IOVA_BASE + 192 * PG - 1 };
	c.nranges = 2;
	t = setup(M_VIO, false, VIOMMU_SHADOW_COALESCE_AUTO, false, &c);
	attach(t);
	/* Across the gap between the two ranges: two pieces mapped, the gap reported. */
	t->detaching = true; /* the reference knows nothing of ranges: checked by hand */
	{
		uint64_t iova = IOVA_BASE + 60 * PG;

		assert_int_equal(vg_vio_map(t->vio, DID, iova, iova + 80 * PG - 1, 0x100000,
					    VIOMMU_VIRTIO_IOMMU_MAP_F_READ),
				 0);
	}
	assert_int_equal(t->maps, 2);
	assert_int_equal(t->errs[VIOMMU_SHADOW_ERR_RANGE], 1);
	assert_int_equal(host_at(t, IOVA_BASE + 70 * PG).present, false);
	assert_int_equal(host_at(t, IOVA_BASE + 130 * PG).host, HOST_A + 0x100000 + 70 * PG);
	assert_int_equal(vg_vio_map(t->vio, DID, IOVA_BASE, IOVA_BASE + PG - 1, 0x200000,
				    VIOMMU_VIRTIO_IOMMU_MAP_F_READ),
			 0);
	assert_int_equal(t->maps, 3);
	/* The fourth host mapping is over the limit. */
	assert_int_equal(vg_vio_map(t->vio, DID, IOVA_BASE + 2 * PG, IOVA_BASE + 3 * PG - 1,
				    0x300000, VIOMMU_VIRTIO_IOMMU_MAP_F_READ),
			 0);
	assert_int_equal(t->maps, 3);
	assert_int_equal(t->errs[VIOMMU_SHADOW_ERR_LIMIT], 1);
	assert_false(host_at(t, IOVA_BASE + 2 * PG).present);
	teardown(t);
}

/* A hostile guest: a bypass domain (MAP of the whole 64-bit space), huge and unaligned ranges,
 * outputs at the top of the space. Work stays bounded, errors are reported, nothing wraps. */
static void test_hostile(void **s)
{
	struct viommu_shadow_config c;
	struct viommu_shadow_stats st;
	struct h *t;

	(void)s;
	viommu_shadow_config_init(&c);
	c.max_segments = 16;
	t = setup(M_VIO, true, VIOMMU_SHADOW_COALESCE_AUTO, false, &c);
	t->strict_live = false;
	attach(t);
	/* Bypass: identity over everything. Guest RAM below 2^48 gets mapped, in pieces. */
	assert_int_equal(vg_vio_attach(t->vio, DID + 1, SID, VIOMMU_VIRTIO_IOMMU_ATTACH_F_BYPASS),
			 0);
	viommu_shadow_dev_get_stats(t->dev, &st);
	assert_true(t->errs[VIOMMU_SHADOW_ERR_RANGE] >= 1); /* above 2^48 */
	assert_true(t->errs[VIOMMU_SHADOW_ERR_GPA] >= 1);   /* the hole, above RAM */
	assert_int_equal(host_at(t, 0x1000).host, HOST_A + 0x1000);
	assert_int_equal(host_at(t, HOLE_END).host, HOST_B);
	assert_false(host_at(t, HOLE_START).present);
	assert_int_equal(host_at(t, 20ull << 20).host, HOST_C + (4ull << 20));
	assert_false(host_at(t, MEM_SIZE).present);
	/* Back to translated: everything goes. */
	assert_int_equal(vg_vio_attach(t->vio, DID, SID, 0), 0);
	assert_int_equal(t->next, 0);
	/* The whole input range mapped to one address: bounded segments, nothing above RAM. */
	assert_int_equal(vg_vio_map(t->vio, DID, 0, (1ull << 48) - 1, 0x100000,
				    VIOMMU_VIRTIO_IOMMU_MAP_F_READ),
			 0);
	assert_true(t->next <= 16);
	assert_int_equal(host_at(t, 0).host, HOST_A + 0x100000);
	assert_int_equal(vg_vio_unmap(t->vio, DID, 0, (1ull << 48) - 1), 0);
	assert_int_equal(t->next, 0);
	/* Output at the top of the space: would wrap, refused whole. */
	vg_vio_map(t->vio, DID, 0x10000000, 0x10000000 + 16 * PG - 1, UINT64_MAX - 4 * PG + 1,
		   VIOMMU_VIRTIO_IOMMU_MAP_F_READ);
	assert_int_equal(t->next, 0);
	teardown(t);
}

/* A device moved to another domain: the model's events or the VMM's replay bring the host over,
 * and what both domains map the same stays mapped. */
static void test_domain_move(void **s)
{
	struct h *t = setup(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, NULL);
	uint64_t maps;

	(void)s;
	attach(t);
	g_map(t, 0, 8, 0x100000, VIOMMU_ACC_RW);
	/* Domain DID + 1 maps the first 4 pages the same and 4 others elsewhere. */
	assert_int_equal(vg_vtd_attach(t->vtd, SID + 1, DID + 1, false), 0);
	assert_int_equal(vg_vtd_map(t->vtd, DID + 1, IOVA_BASE, 0x100000, 4 * PG, VIOMMU_ACC_RW),
			 0);
	assert_int_equal(vg_vtd_map(t->vtd, DID + 1, IOVA_BASE + 4 * PG, 0x500000, 4 * PG,
				    VIOMMU_ACC_RW),
			 0);
	maps = t->maps;
	t->detaching = true; /* the reference follows below */
	assert_int_equal(vg_vtd_attach(t->vtd, SID, DID + 1, false), 0);
	assert_int_equal(viommu_shadow_replay(t->dev), 0);
	t->detaching = false;
	for (int p = 4; p < 8; p++)
		t->cur[p] = t->synced[p] =
			(struct ref){ 0x500000 + (uint64_t)(p - 4) * PG, VIOMMU_ACC_RW };
	check(t, true);
	/* The four shared pages were never unmapped: one map for the four new ones at most. */
	assert_true(t->maps - maps <= 1);
	teardown(t);
}

/* The in-process host IOMMU: the device's DMA sees the engine's mappings, and stale IOTLB
 * entries go at the batch's commit. */
static void test_hostpt(void **s)
{
	struct viommu_shadow_hostpt *hp;
	struct viommu_shadow_hostpt_stats hs;
	struct h *t = setup(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, NULL);
	uint64_t host;
	uint32_t perm;
	bool hit;

	(void)s;
	assert_int_equal(viommu_shadow_hostpt_create(false, 64, &hp), 0);
	assert_true(viommu_shadow_hostpt_ops(hp)->flags & VIOMMU_SHADOW_HOST_SPLIT);
	assert_int_equal(viommu_shadow_attach(t->sh, t->v, SID, 0, false,
					      viommu_shadow_hostpt_ops(hp), hp, &t->dev),
			 0);
	t->detaching = true; /* the test host is not used */
	assert_int_equal(vg_vtd_map(t->vtd, DID, IOVA_BASE, 0x100000, 32 * PG, VIOMMU_ACC_RW), 0);
	assert_int_equal(viommu_shadow_hostpt_translate(hp, IOVA_BASE + 5 * PG + 8,
							VIOMMU_ACC_WRITE, &host, &perm, &hit),
			 0);
	assert_int_equal(host, HOST_A + 0x100000 + 5 * PG + 8);
	assert_false(hit);
	assert_int_equal(viommu_shadow_hostpt_translate(hp, IOVA_BASE + 5 * PG, VIOMMU_ACC_READ,
							&host, &perm, &hit),
			 0);
	assert_true(hit);
	assert_int_equal(vg_vtd_unmap(t->vtd, DID, IOVA_BASE + 5 * PG, PG), 0);
	assert_int_equal(viommu_shadow_hostpt_translate(hp, IOVA_BASE + 5 * PG, VIOMMU_ACC_READ,
							&host, &perm, &hit),
			 VIOMMU_EFAULT);
	assert_int_equal(viommu_shadow_hostpt_translate(hp, IOVA_BASE + 6 * PG, VIOMMU_ACC_READ,
							&host, &perm, &hit),
			 0);
	assert_int_equal(host, HOST_A + 0x100000 + 6 * PG);
	viommu_shadow_hostpt_get_stats(hp, &hs);
	assert_int_equal(hs.maps, 1);
	assert_int_equal(hs.unmaps, 1);
	assert_int_equal(hs.iotlb_invalidations, 1);
	viommu_shadow_detach(t->dev, true);
	t->dev = NULL;
	assert_int_equal(viommu_shadow_hostpt_translate(hp, IOVA_BASE, VIOMMU_ACC_READ, &host,
							&perm, &hit),
			 VIOMMU_EFAULT);
	viommu_shadow_hostpt_destroy(hp);
	teardown(t);
}

/* Bad configurations and calls. */
static void test_api(void **s)
{
	struct viommu_shadow_config c;
	struct viommu_shadow *sh;

	(void)s;
	viommu_shadow_config_init(&c);
	assert_int_equal(c.page_size, 4096);
	assert_int_equal(c.max_mappings, 65535);
	assert_int_equal(viommu_shadow_create(&c, &sh), VIOMMU_EINVAL); /* no gpa_to_host */
	c.gpa_to_host = gpa_to_host;
	c.page_size = 4095;
	assert_int_equal(viommu_shadow_create(&c, &sh), VIOMMU_EINVAL);
	c.page_size = 4096;
	c.ranges[0].last = UINT64_MAX;
	assert_int_equal(viommu_shadow_create(&c, &sh), VIOMMU_EINVAL);
	c.ranges[0].last = 0x1000;
	assert_int_equal(viommu_shadow_create(&c, &sh), VIOMMU_EINVAL);
	c.ranges[0].last = 0xfff;
	assert_int_equal(viommu_shadow_create(&c, &sh), 0);
	assert_int_equal(viommu_shadow_attach(sh, NULL, 1, 0, false, NULL, NULL, NULL),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_shadow_replay(NULL), VIOMMU_EINVAL);
	viommu_shadow_flush(NULL);
	viommu_shadow_destroy(sh);
	viommu_shadow_destroy(NULL);
#ifdef __linux__
	assert_non_null(viommu_shadow_vfio_ops());
	assert_false(viommu_shadow_vfio_ops()->flags & VIOMMU_SHADOW_HOST_SPLIT);
#endif
}

/* A replay larger than the pending limit: what is unchanged is never unmapped half-way. */
static void test_replay_large(void **s)
{
	struct viommu_shadow_config c;
	struct h *t;

	(void)s;
	viommu_shadow_config_init(&c);
	c.max_pending = 4;
	t = setup(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, &c);
	attach(t);
	for (int p = 0; p < 128; p += 2)
		g_map(t, p, 1, 0x100000 + (uint64_t)p * 3 * PG, VIOMMU_ACC_RW);
	t->maps = t->unmaps = 0;
	assert_int_equal(viommu_shadow_replay(t->dev), 0);
	check(t, true);
	assert_int_equal(t->maps + t->unmaps, 0);
	teardown(t);
}

/* ------------------------------------------------------------------------------------------ */
/* Nesting: L2's vIOMMU -> L1 VMM's engine -> L1's vIOMMU (guest driver) -> L0's engine -> host */
/* ------------------------------------------------------------------------------------------ */

#define L1_HOST 0x4000000000ull /* L0's host address of L1 guest-physical 0 */

/* L1 VMM: L2's RAM is L1's [0, 16 MiB). */
static int l2_to_l1(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa >= TARGET_END) {
		*seg = len;
		return VIOMMU_EFAULT;
	}
	*host = gpa;
	*seg = TARGET_END - gpa < len ? TARGET_END - gpa : len;
	return 0;
}

/* L0 VMM: all of L1's RAM. */
static int l1_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa >= MEM_SIZE) {
		*seg = len;
		return VIOMMU_EFAULT;
	}
	*host = L1_HOST + gpa;
	*seg = MEM_SIZE - gpa < len ? MEM_SIZE - gpa : len;
	return 0;
}

struct level {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *d;
};

static void level_init(struct level *l, uint64_t mem, uint64_t pool)
{
	struct viommu_vtd_config vc;
	struct vg_vtd_config dc = { 0 };

	viommu_vtd_config_init(&vc);
	vc.flags |= VIOMMU_VTD_CM;
	assert_int_equal(viommu_flatmem_create(0, mem, &l->fm), 0);
	assert_int_equal(viommu_vtd_create(&vc, viommu_flatmem_ops(), l->fm, &l->v), 0);
	dc.iommu = l->v;
	dc.mem = l->fm;
	dc.pool_base = pool;
	dc.pool_size = mem - pool;
	dc.no_superpages = true;
	assert_int_equal(vg_vtd_create(&dc, &l->d), 0);
	assert_int_equal(vg_vtd_enable(l->d), 0);
	assert_int_equal(vg_vtd_attach(l->d, SID, DID, false), 0);
}

static void level_fini(struct level *l)
{
	vg_vtd_destroy(l->d);
	viommu_destroy(l->v);
	viommu_flatmem_destroy(l->fm);
}

static void expect_host(struct viommu_shadow_hostpt *hp, uint64_t iova, uint64_t want)
{
	uint64_t host;
	uint32_t perm;

	if (!want) {
		assert_int_equal(viommu_shadow_hostpt_translate(hp, iova, VIOMMU_ACC_READ, &host,
								&perm, NULL),
				 VIOMMU_EFAULT);
		return;
	}
	assert_int_equal(
		viommu_shadow_hostpt_translate(hp, iova, VIOMMU_ACC_READ, &host, &perm, NULL), 0);
	assert_int_equal(host, want);
}

static void test_nested(void **s)
{
	struct level l1, l2; /* l1: L1's vIOMMU (L0 emulates it); l2: L2's (the L1 VMM does) */
	struct viommu_shadow_config c;
	struct viommu_shadow *e0, *e1;
	struct viommu_shadow_dev *d0, *d1;
	struct viommu_shadow_hostpt *hp;
	struct vg_shadow_nest nest;
	struct viommu_shadow_stats st0, st1;

	(void)s;
	level_init(&l1, MEM_SIZE, POOL_BASE);
	level_init(&l2, 32ull << 20, TARGET_END);
	assert_int_equal(viommu_shadow_hostpt_create(false, 64, &hp), 0);
	/* L0: shadows L1's vIOMMU into the host. */
	viommu_shadow_config_init(&c);
	c.gpa_to_host = l1_to_host;
	assert_int_equal(viommu_shadow_create(&c, &e0), 0);
	assert_int_equal(viommu_shadow_attach(e0, l1.v, SID, 0, false, viommu_shadow_hostpt_ops(hp),
					      hp, &d0),
			 0);
	/* L1 VMM: shadows L2's vIOMMU into L1's, through L1's driver. */
	c.gpa_to_host = l2_to_l1;
	assert_int_equal(viommu_shadow_create(&c, &e1), 0);
	nest = (struct vg_shadow_nest){ .d = l1.d, .did = DID };
	assert_int_equal(
		viommu_shadow_attach(e1, l2.v, SID, 0, false, vg_shadow_nest_ops(), &nest, &d1), 0);
	/* L2 maps 64 pages: one call at each level. */
	assert_int_equal(vg_vtd_map(l2.d, DID, IOVA_BASE, 0x200000, 64 * PG, VIOMMU_ACC_RW), 0);
	for (int p = 0; p < 64; p++)
		expect_host(hp, IOVA_BASE + p * PG, L1_HOST + 0x200000 + p * PG);
	viommu_shadow_get_stats(e1, &st1);
	viommu_shadow_get_stats(e0, &st0);
	assert_int_equal(st1.map_calls, 1);
	assert_int_equal(st0.map_calls, 1);
	/* L2 moves one page and unmaps another: exactly those pages change at the bottom. */
	assert_int_equal(vg_vtd_unmap_nosync(l2.d, DID, IOVA_BASE + 3 * PG, PG), 0);
	assert_int_equal(
		vg_vtd_map_nosync(l2.d, DID, IOVA_BASE + 3 * PG, 0x900000, PG, VIOMMU_ACC_READ), 0);
	assert_int_equal(vg_vtd_flush_range(l2.d, DID, IOVA_BASE + 3 * PG, PG), 0);
	assert_int_equal(vg_vtd_unmap(l2.d, DID, IOVA_BASE + 10 * PG, PG), 0);
	expect_host(hp, IOVA_BASE + 3 * PG, L1_HOST + 0x900000);
	expect_host(hp, IOVA_BASE + 10 * PG, 0);
	expect_host(hp, IOVA_BASE + 11 * PG, L1_HOST + 0x200000 + 11 * PG);
	expect_host(hp, IOVA_BASE + 2 * PG, L1_HOST + 0x200000 + 2 * PG);
	viommu_shadow_get_stats(e0, &st0);
	assert_int_equal(st0.remapped_pages, 0);
	/* L2 unmaps everything: nothing left at the bottom. */
	assert_int_equal(vg_vtd_unmap(l2.d, DID, IOVA_BASE, 64 * PG), 0);
	for (int p = 0; p < 64; p++)
		expect_host(hp, IOVA_BASE + p * PG, 0);
	viommu_shadow_destroy(e1);
	viommu_shadow_destroy(e0);
	viommu_shadow_hostpt_destroy(hp);
	level_fini(&l2);
	level_fini(&l1);
}

/* A device attached for a PASID takes only that address space's events; the PASID-less one is
 * another device of the engine, with its own host. */
static void test_pasid(void **s)
{
	struct h *t = setup(M_VTD, true, VIOMMU_SHADOW_COALESCE_AUTO, false, NULL);
	struct viommu_shadow_dev *pd;
	struct viommu_shadow_stats st;

	(void)s;
	assert_int_equal(viommu_shadow_attach(t->sh, t->v, SID, 5, true, &t->ops, t, &pd), 0);
	t->detaching = true; /* both devices share the test host: checked by hand */
	assert_int_equal(vg_vtd_map(t->vtd, DID, IOVA_BASE, 0x100000, 4 * PG, VIOMMU_ACC_RW), 0);
	viommu_shadow_dev_get_stats(pd, &st);
	assert_int_equal(st.events, 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(t->next, 0);
	viommu_shadow_detach(pd, true);
	teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_vtd_split),
		cmocka_unit_test(test_random_vtd_vfio),
		cmocka_unit_test(test_random_vtd_vfio_coalesced),
		cmocka_unit_test(test_random_amdvi_split),
		cmocka_unit_test(test_random_amdvi_vfio),
		cmocka_unit_test(test_random_smmu_split),
		cmocka_unit_test(test_random_smmu_vfio),
		cmocka_unit_test(test_random_vio_split),
		cmocka_unit_test(test_random_vio_vfio),
		cmocka_unit_test(test_coalesce),
		cmocka_unit_test(test_scattered_unmap),
		cmocka_unit_test(test_remap_exact),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_domain_move),
		cmocka_unit_test(test_hostpt),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_replay_large),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_pasid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
