/* SPDX-License-Identifier: MIT */
/*
 * Page-table formats, inside the library: the optional fast walk. A format that has one
 * compiles a configuration into a plan (its plan op) and walks it with the helpers here;
 * everything the fast walk does not answer goes to the full walk of pt_fmt.h.
 */
#ifndef VIOMMU_PT_FAST_H
#define VIOMMU_PT_FAST_H

#include "pt_fmt.h"

/*
 * The fast walk. A plan is a configuration compiled once (the masks and the layout the decode
 * derives from it on every entry), so that the walk itself only loads entries and tests them;
 * a walker keeps a few (viommu_pt_walk() is a walker that lasts one call).
 *
 * The fast walk loads entries from a span, guest [lo, lo + lim + 8) at host address @bias + gpa:
 * the walker's copy of its struct vi_dmem read span, biased so that an entry costs one add on
 * the chain of dependent loads, as a plain pointer chase does. It answers the common case and hands anything else to
 * @fallback as a tail call with its own arguments, so that the hot path keeps nothing live across a
 * call and saves no registers for a fallback it rarely takes.
 */
struct pt_plan;
struct pt_span;

typedef int (*pt_fast_fn)(const struct pt_plan *p, struct pt_span *sp, uint64_t iova,
			  uint32_t access, struct viommu_pt_walk_result *res);

/*
 * The leaf walk: what a fast walk with no access (so nothing to write back) finds, as one word
 * the caller stores as it is, instead of a struct viommu_pt_walk_result to read back. The word
 * has the layout of the IOTLB's output word (its users check it): the output address
 * of the leaf, aligned to its size (bits 51:12), its rights (VIOMMU_ACC_*, bits 3:0) and level
 * (bits 11:4). @shift 0 and @word 0 (no rights): not answered, for anything the fast walk
 * would not answer either (the caller walks then, which also asks the host for a span the leaf
 * walk found missing).
 */
struct pt_leaf {
	uint64_t word;
	unsigned int shift;
};

#define PT_LEAF_ADDR_MASK 0x000ffffffffff000ull
#define PT_LEAF_PERM_MASK 0xfull
#define PT_LEAF_LEVEL_SHIFT 4

struct pt_win;
typedef struct pt_leaf (*pt_leaf_fn)(const struct pt_plan *p, const struct pt_win *w,
				     uint64_t iova);

/* Guest [lo, lo + lim + 8) at host address @bias + gpa. */
struct pt_win {
	uintptr_t bias; /* host address of guest address 0, were the span to reach it */
	uint64_t lo, lim;
};

struct pt_span {
	struct pt_win win;
	uint64_t miss;	     /* the entry outside the span that ended a fast walk */
	pt_fast_fn fallback; /* finishes a walk the fast walk gave up on */
};

/*
 * @miss when no entry was missed, and @lo of an empty span (with @lim 0 it holds guest address 1
 * alone). Every entry address a fast walk loads is 8-byte aligned: a root check() accepted
 * (aligned to at least 64 bytes) or an entry's address field (granule-aligned), plus 8 times an
 * index. So no load ever hits an empty span, and pt_load() needs no test of the base pointer.
 */
#define PT_SPAN_NO_MISS 1

/*
 * Each format reads the fields it needs; what they hold is the format's (see its plan()). Radix
 * layouts use region 0 only; Arm stage 1 region 0 for TTB0 and 1 for TTB1 when both walk, else
 * region 0 for the one that does.
 */
struct pt_plan {
	struct viommu_pt_cfg cfg; /* the configuration compiled (the walker's cache key) */
	/*
	 * The format's fast walk: the common case only, a translation through tables and a leaf
	 * that need nothing written back. It returns 0 with @res filled in exactly as
	 * pt_walk_once() fills it for the same entries, or what @sp->fallback returns for anything
	 * else (most faults, entry kinds it leaves alone, accessed/dirty flags to set, an entry
	 * outside the span). It only loads guest memory, so giving up is always safe.
	 */
	pt_fast_fn fast;
	uint64_t root[2];
	uint64_t last; /* highest input address of region 0 (above it: region 1) */
	/* Region r walks inputs base[r]..base[r] + span[r] (Arm stage 1; off: none of its own). */
	uint64_t base[2], span[2];
	/* root[r] and top_mask[r] give the first entry a walk reads (its shift: the level count). */
	uint64_t trsvd, lrsvd; /* a table / leaf entry with any of these set: give up */
	uint64_t tmask, lmask; /* the bits one test of a table / leaf entry looks at */
	uint32_t flags;	       /* cfg->flags */
	uint8_t levels[2];     /* level of the root table; 0: the region translates nothing */
	uint32_t top_mask[2];  /* root index mask (concatenated tables included) */
	uint8_t gran;	       /* log2 granule (Arm's instance for any granule) */
	uint8_t leaf_levels;   /* bit L: a leaf above level 1 (superpage, block) may sit at L */
	pt_leaf_fn leaf;       /* the leaf walk (vi_pt_leaf_none() where the format has none) */
};

/*
 * Load the entry at guest @gpa through @w, a copy of @sp->win in locals (the entry loads are
 * atomic, after which the compiler would load again anything it reads through a pointer):
 * false, with the address in @sp->miss, when the span does not hold it. @gpa is 8-byte aligned
 * (see PT_SPAN_NO_MISS) and so is @w->bias (a span is only used when it is), so the load is one
 * aligned load from base plus index.
 */
static inline bool pt_load(struct pt_span *sp, const struct pt_win *w, uint64_t gpa, uint64_t *pte)
{
	if (__builtin_expect(gpa - w->lo <= w->lim, 1)) {
		*pte = vi_le64(vi_load64_aligned((const void *)(w->bias + (uintptr_t)gpa)));
		return true;
	}
	sp->miss = gpa;
	return false;
}

/* pt_load() for a leaf walk, which gives up on an entry outside the span without noting it. */
static inline bool pt_peek(const struct pt_win *w, uint64_t gpa, uint64_t *pte)
{
	if (__builtin_expect(gpa - w->lo <= w->lim, 1)) {
		*pte = vi_le64(vi_load64_aligned((const void *)(w->bias + (uintptr_t)gpa)));
		return true;
	}
	return false;
}

/*
 * The part of a plan every format with one root table of 4 KiB granules and 512-entry levels
 * shares (VT-d second level, x86-64, AMD v1): their fast walks are instances per level count
 * (@fast), which know the layout; @leaf_ok gives the levels a large leaf may sit at.
 */
static inline void pt_plan_radix4k(const struct viommu_pt_cfg *cfg, struct pt_plan *p,
				   pt_fast_fn fast,
				   bool (*leaf_ok)(const struct viommu_pt_cfg *, unsigned int))
{
	p->fast = fast;
	p->root[0] = cfg->root;
	p->levels[0] = cfg->levels;
	p->flags = cfg->flags;
	p->leaf_levels = 0;
	for (unsigned int l = 2; l <= cfg->levels; l++)
		p->leaf_levels |= leaf_ok(cfg, l) ? 1u << l : 0;
}

/*
 * @name##@n: the fast walk @name##_n(p, sp, iova, access, res, n) for tables of @n levels, a
 * constant, so that its loop unrolls with every shift an immediate; the plan picks the instance.
 */
#define PT_FAST_LEVELS(name, n)                                                        \
	static int name##n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, \
			   uint32_t access, struct viommu_pt_walk_result *res)         \
	{                                                                              \
		return name##_n(p, sp, iova, access, res, n);                          \
	}

/* @name##@n: the leaf walk @name##_n(p, w, iova, n) for tables of @n levels, as above. */
#define PT_LEAF_LEVELS(name, n)                                                        \
	static struct pt_leaf name##n(const struct pt_plan *p, const struct pt_win *w, \
				      uint64_t iova)                                   \
	{                                                                              \
		return name##_n(p, w, iova, n);                                        \
	}

/* The leaf walk of a plan without one, and the answer of a leaf walk that gives up. */
struct pt_leaf vi_pt_leaf_none(const struct pt_plan *p, const struct pt_win *w, uint64_t iova);

static inline struct pt_leaf pt_leaf_none(void)
{
	return (struct pt_leaf){ 0, 0 };
}

/* A leaf of 2^@shift bytes at @level whose entry gives the output address @addr (unaligned). */
static inline struct pt_leaf pt_leaf_ok(uint64_t addr, uint32_t perm, unsigned int shift,
					unsigned int level)
{
	return (struct pt_leaf){ (addr & PT_LEAF_ADDR_MASK & ~(VI_BIT(shift) - 1)) |
					 (perm & PT_LEAF_PERM_MASK) |
					 (uint64_t)level << PT_LEAF_LEVEL_SHIFT,
				 shift };
}

/* Give the walk up to @sp->fallback (a tail call: the same arguments). */
static inline int pt_fast_fail(const struct pt_plan *p, struct pt_span *sp, uint64_t iova,
			       uint32_t access, struct viommu_pt_walk_result *res)
{
	return sp->fallback(p, sp, iova, access, res);
}

/* The fast walk of a plan without one: always the fallback. */
int vi_pt_fast_none(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		    struct viommu_pt_walk_result *res);

/*
 * Accessed/dirty flags a successful @access would still make the full walk write (@a missing
 * from an entry, whose AND is @all, or @d from leaf @pte written through): the fast walk leaves
 * those walks to it.
 */
static inline bool pt_ad_unset(uint32_t access, uint64_t all, uint64_t pte, uint64_t a, uint64_t d)
{
	return (access & PT_PERM_RWX) &&
	       (!(all & a) || ((access & VIOMMU_ACC_WRITE) && !(pte & d)));
}

/* A successful outcome, as pt_walk_once() leaves it. */
static inline int pt_fast_ok(struct viommu_pt_walk_result *res, uint64_t out, uint64_t pte,
			     uint32_t perm, unsigned int shift, uint32_t attr, unsigned int level)
{
	res->out = out;
	res->pte = pte;
	res->perm = perm;
	res->page_shift = shift;
	res->attr = attr;
	res->fault = VIOMMU_FAULT_NONE;
	res->detail = VIOMMU_PT_D_NONE;
	res->level = level;
	return 0;
}

#endif /* VIOMMU_PT_FAST_H */
