// SPDX-License-Identifier: MIT
/*
 * Page-table walks of every format over arbitrary guest memory from arbitrary roots. The input
 * is a configuration, a few addresses and the guest memory image. Checked: the walk returns a
 * well-formed result, gives the same answer twice, and agrees with the enumeration of the same
 * tables; nothing reads outside guest memory (flatmem and ASan would tell). The host hands out
 * direct pointers (whole-buffer spans or entry-sized ones) or only dma_read/dma_write, as the
 * input says; read-only walks through a pointer host must agree with dma_read-only ones and
 * with a viommu_pt_walker's (which keeps the spans across walks unless invalidated), and the
 * fast walk with the full one.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>

#include "fuzz_input.h"
#include "pt/pt_fmt.h"

#define MEM_SIZE (64u << 10)
#define ACC_RWX (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE | VIOMMU_ACC_EXEC)

struct fz {
	const struct viommu_pt_cfg *cfg;
	const struct viommu_host_ops *ro;
	struct viommu_flatmem *fm;
	int leaves;
};

/* Every leaf the enumeration reports translates the same way in a walk. */
static int check_leaf(void *opaque, uint64_t iova, uint64_t size, uint64_t out, uint32_t perm)
{
	struct fz *f = opaque;
	struct viommu_pt_walk_result r;

	if (size == 0 || iova + (size - 1) < iova || (perm & ~ACC_RWX))
		abort();
	if (viommu_pt_walk(f->cfg, f->ro, f->fm, iova, VIOMMU_ACC_PRIV, &r) ||
	    r.fault != VIOMMU_FAULT_NONE || r.out != out || r.perm != perm)
		abort();
	return ++f->leaves >= 64;
}

static void check_result(const struct viommu_pt_walk_result *r, uint64_t iova, uint32_t acc)
{
	if (r->fault == VIOMMU_FAULT_NONE) {
		uint64_t mask = (1ull << r->page_shift) - 1;

		if (r->page_shift < 12 || r->page_shift > 57 || (r->out & mask) != (iova & mask) ||
		    (r->perm & ~ACC_RWX) || (acc & ACC_RWX & ~r->perm) || r->level < 1 ||
		    r->level > VIOMMU_PT_MAX_LEVELS)
			abort();
	} else if (r->fault > VIOMMU_FAULT_WALK_ABORT || r->detail == VIOMMU_PT_D_NONE ||
		   r->level > VIOMMU_PT_MAX_LEVELS) {
		abort();
	}
}

/* Spans of just what was asked for (narrow), else flatmem's whole buffer. */
static bool narrow;

static void *map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
		     struct viommu_dma_span *span)
{
	void *p = viommu_flatmem_ops()->dma_map_ptr(opaque, gpa, len, write, span);

	if (p && narrow) {
		span->gpa = gpa;
		span->len = len;
	}
	return p;
}

static void *ro_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			struct viommu_dma_span *span)
{
	return write ? NULL : map_ptr(opaque, gpa, len, write, span);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_host_ops ro = *viommu_flatmem_ops(), rw = ro, copy = ro;
	struct viommu_pt_cfg cfg = { 0 };
	unsigned int host_mode;
	struct viommu_flatmem *fm;
	uint64_t iova[4];
	uint32_t acc[4];
	bool inval[4];
	struct viommu_pt_walker *w;
	struct viommu_pt_plan *plan;
	struct fz f;

	host_mode = (unsigned int)take(&in, 1) % 3;
	cfg.format = (enum viommu_pt_format)(take(&in, 1) % VIOMMU_PT_NFORMATS);
	cfg.flags = (uint32_t)take(&in, 1);
	cfg.levels = (uint8_t)(take(&in, 1) % 8);
	cfg.oas = (uint8_t)take(&in, 1) % 64;
	cfg.granule = (uint8_t)(12 + take(&in, 1) % 6);
	cfg.sl0 = (uint8_t)(take(&in, 1) % 4);
	cfg.tsz[0] = (uint8_t)(take(&in, 1) % 48);
	cfg.tsz[1] = (uint8_t)(take(&in, 1) % 48);
	cfg.tce_size = (uint8_t)(take(&in, 1) % 9);
	/* Roots mostly inside the 64 KiB of memory, sometimes anywhere. */
	cfg.root = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 2) & ~0xfffull;
	cfg.root1 = take(&in, 2) & ~0xfffull;
	for (int i = 0; i < 4; i++) {
		iova[i] = take(&in, 8);
		acc[i] = (uint32_t)take(&in, 1);
		inval[i] = acc[i] & 0x10; /* invalidate the walker first */
		acc[i] &= 0xf;
	}
	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	memcpy(viommu_flatmem_ptr(fm, 0, MEM_SIZE), in.p, in.n < MEM_SIZE ? in.n : MEM_SIZE);
	/* 0: dma_read/dma_write only; 1: whole-buffer pointers; 2: entry-sized pointers. */
	narrow = host_mode == 2;
	ro.dma_write = NULL;
	ro.dma_map_ptr = host_mode ? ro_map_ptr : NULL;
	rw.dma_map_ptr = host_mode ? map_ptr : NULL;
	copy.dma_write = NULL;
	copy.dma_map_ptr = NULL;

	/* A walker over the read-only host keeps its (stable) spans across the walks below. */
	if (viommu_pt_walker_create(&ro, fm, &w))
		abort();
	if (viommu_pt_cfg_check(&cfg)) {
		struct viommu_pt_walk_result r;

		if (viommu_pt_walk(&cfg, &rw, fm, iova[0], acc[0], &r) != VIOMMU_EINVAL ||
		    viommu_pt_walker_walk(w, &cfg, iova[0], acc[0], &r) != VIOMMU_EINVAL ||
		    viommu_pt_plan_create(&cfg, &plan) != VIOMMU_EINVAL)
			abort();
		viommu_pt_walker_destroy(w);
		viommu_flatmem_destroy(fm);
		return 0;
	}
	if (viommu_pt_plan_create(&cfg, &plan))
		abort();
	for (int i = 0; i < 4; i++) {
		struct viommu_pt_walk_result a, b, c;

		if (inval[i])
			viommu_pt_walker_invalidate(w);

		/*
		 * Without write-back the same memory gives the same answer, whichever way the host
		 * lets the walk read it.
		 */
		if (viommu_pt_walk(&cfg, &ro, fm, iova[i], acc[i], &a) ||
		    viommu_pt_walk(&cfg, &ro, fm, iova[i], acc[i], &b) ||
		    memcmp(&a, &b, sizeof(a)) ||
		    viommu_pt_walk(&cfg, &copy, fm, iova[i], acc[i], &c) ||
		    memcmp(&a, &c, sizeof(a)) ||
		    viommu_pt_walker_walk(w, &cfg, iova[i], acc[i], &c) ||
		    memcmp(&a, &c, sizeof(a)) ||
		    viommu_pt_walker_walk_plan(w, plan, iova[i], acc[i], &c) ||
		    memcmp(&a, &c, sizeof(a)) ||
		    vi_pt_walk_full(&cfg, &ro, fm, iova[i], acc[i], &c) ||
		    memcmp(&a, &c, sizeof(a)))
			abort();
		check_result(&a, iova[i], acc[i]);
		/* With write-back (A/D, access flag) a successful walk stays successful. */
		if (viommu_pt_walk(&cfg, &rw, fm, iova[i], acc[i], &b))
			abort();
		check_result(&b, iova[i], acc[i]);
		if (a.fault == VIOMMU_FAULT_NONE &&
		    (b.fault != VIOMMU_FAULT_NONE || b.out != a.out || b.perm != a.perm))
			abort();
	}
	/* Enumerate up to 64 MiB from the first address and cross-check with walks. */
	f.cfg = &cfg;
	f.ro = &ro;
	f.fm = fm;
	f.leaves = 0;
	{
		uint64_t last = iova[0] + (iova[1] & ((1ull << 26) - 1));
		int ret;

		if (last < iova[0])
			last = UINT64_MAX;
		ret = viommu_pt_for_each(&cfg, &ro, fm, iova[0], last, VIOMMU_ACC_PRIV, check_leaf,
					 &f);
		if (ret != 0 && ret != 1 && ret != VIOMMU_E2BIG)
			abort();
	}
	viommu_pt_plan_destroy(plan);
	viommu_pt_walker_destroy(w);
	viommu_flatmem_destroy(fm);
	return 0;
}
