// SPDX-License-Identifier: MIT
/*
 * Arm VMSAv8-64 stage 1 and stage 2 tables (see arm.h for the specification sections). Both
 * stages share the geometry and descriptor decoding; they differ in the input regions and the
 * permission bits.
 */
#include "arm.h"
#include "pt_fast.h"

static bool arm_granule_ok(unsigned int gran)
{
	return gran == 12 || gran == 14 || gran == 16;
}

static bool arm_oas_ok(const struct viommu_pt_cfg *cfg)
{
	return !cfg->oas || (cfg->oas >= 32 && cfg->oas <= ARM_MAX_OAS);
}

/* Stage 1: the levels below the top follow from the input size and the granule. */
static void arm_s1_geo_of(unsigned int gran, unsigned int ias, struct pt_geo *g)
{
	unsigned int bpl = gran - 3;
	unsigned int levels = (ias - gran + bpl - 1) / bpl;

	g->gran = (uint8_t)gran;
	g->bpl = (uint8_t)bpl;
	g->levels = (uint8_t)levels;
	g->top_bits = (uint8_t)(ias - (gran + (levels - 1) * bpl));
}

static int arm_s1_check(const struct viommu_pt_cfg *cfg)
{
	struct pt_geo g;

	if (!arm_granule_ok(cfg->granule) || !arm_oas_ok(cfg))
		return VIOMMU_EINVAL;
	for (int i = 0; i < 2; i++) {
		unsigned int ias = 64 - cfg->tsz[i];
		uint64_t root = i ? cfg->root1 : cfg->root;
		bool used = i ? (cfg->flags & VIOMMU_PT_F_TTB1) :
				!(cfg->flags & VIOMMU_PT_F_NO_TTB0);

		if (!used)
			continue;
		if (cfg->tsz[i] > 64 || ias < ARM_MIN_IAS || ias > ARM_MAX_IAS)
			return VIOMMU_EINVAL;
		arm_s1_geo_of(cfg->granule, ias, &g);
		/* The table base is aligned to the table's size (at least 64 bytes). */
		if (root & ((8ull << (g.top_bits < 3 ? 3 : g.top_bits)) - 1))
			return VIOMMU_EINVAL;
	}
	return 0;
}

static bool arm_s1_geo(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		       struct viommu_pt_walk_result *res)
{
	unsigned int ias0 = 64 - cfg->tsz[0], ias1 = 64 - cfg->tsz[1];
	uint64_t top0 = ias0 >= 64 ? UINT64_MAX : VI_BIT(ias0) - 1;
	uint64_t bot1 = ias1 >= 64 ? 0 : 0 - VI_BIT(ias1);
	bool on;

	if (iova <= top0) {
		g->lo = 0;
		g->hi = top0;
		g->root = cfg->root;
		arm_s1_geo_of(cfg->granule, ias0, g);
		on = !(cfg->flags & VIOMMU_PT_F_NO_TTB0);
	} else if (iova >= bot1) {
		g->lo = bot1;
		g->hi = UINT64_MAX;
		g->root = cfg->root1;
		arm_s1_geo_of(cfg->granule, ias1, g);
		on = cfg->flags & VIOMMU_PT_F_TTB1;
	} else {
		g->lo = top0 + 1;
		g->hi = bot1 - 1;
		on = false;
	}
	if (!on) {
		/* Outside both ranges, or the range's walks are disabled: a Translation fault. */
		res->fault = VIOMMU_FAULT_NOT_PRESENT;
		res->detail = VIOMMU_PT_D_INPUT_RANGE;
		return false;
	}
	if (g->root & pt_above_oas(pt_oas(cfg, ARM_MAX_OAS))) {
		res->fault = VIOMMU_FAULT_ADDR_SIZE;
		res->detail = VIOMMU_PT_D_OUTPUT_SIZE;
		return false;
	}
	return true;
}

/* Stage 2: the starting level comes from SL0 and must agree with the input size. */
static bool arm_s2_geo_of(const struct viommu_pt_cfg *cfg, struct pt_geo *g)
{
	unsigned int gran = cfg->granule, bpl = gran - 3, ias = 64 - cfg->tsz[0];
	unsigned int start; /* Arm lookup level */
	int top;

	if (cfg->sl0 > 2 || cfg->tsz[0] > 64 || ias < ARM_MIN_IAS || ias > ARM_MAX_IAS)
		return false;
	start = gran == 12 ? 2 - cfg->sl0 : 3 - cfg->sl0;
	g->gran = (uint8_t)gran;
	g->bpl = (uint8_t)bpl;
	g->levels = (uint8_t)(4 - start);
	top = (int)ias - (int)(gran + (g->levels - 1) * bpl);
	/* Between one entry and 16 concatenated tables at the starting level. */
	if (top < 1 || top > (int)bpl + 4)
		return false;
	g->top_bits = (uint8_t)top;
	return true;
}

static int arm_s2_check(const struct viommu_pt_cfg *cfg)
{
	struct pt_geo g;

	if (!arm_granule_ok(cfg->granule) || !arm_oas_ok(cfg) || !arm_s2_geo_of(cfg, &g))
		return VIOMMU_EINVAL;
	if (cfg->root & ((8ull << (g.top_bits < 3 ? 3 : g.top_bits)) - 1))
		return VIOMMU_EINVAL;
	return 0;
}

static bool arm_s2_geo(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		       struct viommu_pt_walk_result *res)
{
	unsigned int ias = 64 - cfg->tsz[0];

	g->root = cfg->root;
	g->lo = 0;
	if (!arm_s2_geo_of(cfg, g)) {
		/* Not after check(); a configuration without a layout translates nothing. */
		g->hi = UINT64_MAX;
		res->fault = VIOMMU_FAULT_NOT_PRESENT;
		res->detail = VIOMMU_PT_D_INPUT_RANGE;
		return false;
	}
	g->hi = VI_BIT(ias) - 1;
	if (iova > g->hi) {
		g->lo = VI_BIT(ias);
		g->hi = UINT64_MAX;
		res->fault = VIOMMU_FAULT_NOT_PRESENT;
		res->detail = VIOMMU_PT_D_INPUT_RANGE;
		return false;
	}
	if (g->root & pt_above_oas(pt_oas(cfg, ARM_MAX_OAS))) {
		res->fault = VIOMMU_FAULT_ADDR_SIZE;
		res->detail = VIOMMU_PT_D_OUTPUT_SIZE;
		return false;
	}
	return true;
}

static bool arm_block_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	return level == 2 || (level == 3 && cfg->granule == 12);
}

/*
 * What both stages share: descriptor type, address, address size and access flag. Returns
 * false when @e is final (invalid or a fault); true for a table or a leaf whose rights the
 * stage fills in.
 */
static bool arm_decode_common(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			      unsigned int level, uint64_t pte, struct pt_ent *e)
{
	bool table = pte & ARM_TABLE;

	e->kind = PT_K_INVALID;
	if (!(pte & ARM_VALID))
		return false;
	if (!table && (level == 1 || !arm_block_ok(cfg, level))) {
		/* Block at a level without blocks (or 0b01 at the last level): invalid. */
		pt_ent_fault(e, VIOMMU_FAULT_NOT_PRESENT,
			     level == 1 ? VIOMMU_PT_D_NOT_PRESENT : VIOMMU_PT_D_BAD_LEAF);
		return false;
	}
	e->addr = pte & VI_GENMASK(51, g->gran);
	/* With dirty-state management, bit 51 of a leaf is DBM. */
	if ((cfg->flags & VIOMMU_PT_F_DBM) && !(table && level > 1))
		e->addr &= ~ARM_DBM;
	if (e->addr & pt_above_oas(pt_oas(cfg, ARM_MAX_OAS))) {
		pt_ent_fault(e, VIOMMU_FAULT_ADDR_SIZE, VIOMMU_PT_D_OUTPUT_SIZE);
		return false;
	}
	if (table && level > 1) {
		e->kind = PT_K_TABLE;
		e->next = (uint8_t)(level - 1);
		return true;
	}
	if (!(pte & ARM_AF) && !(cfg->flags & (VIOMMU_PT_F_AD | VIOMMU_PT_F_AFFD))) {
		pt_ent_fault(e, VIOMMU_FAULT_ACCESS_FLAG, VIOMMU_PT_D_ACCESS_FLAG);
		return false;
	}
	e->kind = PT_K_LEAF;
	e->shift = (uint8_t)pt_lvl_shift(g, level);
	e->addr &= ~(VI_BIT(e->shift) - 1);
	e->attr = 0;
	return true;
}

static void arm_s1_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			  unsigned int level, uint64_t pte, uint32_t access, struct pt_ent *e)
{
	bool priv = access & VIOMMU_ACC_PRIV;

	if (!arm_decode_common(cfg, g, level, pte, e))
		return;
	e->perm = PT_PERM_ALL;
	if (e->kind == PT_K_TABLE) {
		if ((pte & ARM_AP_TABLE0) && !priv)
			e->perm &= ~PT_PERM_ACCESS;
		if (pte & ARM_AP_TABLE1)
			e->perm &= ~VIOMMU_ACC_WRITE;
		if (pte & (priv ? ARM_PXN_TABLE : ARM_UXN_TABLE))
			e->perm &= ~VIOMMU_ACC_EXEC;
		return;
	}
	if (!priv && !(pte & ARM_AP1))
		e->perm &= ~PT_PERM_ACCESS;
	/* A write to a DBM leaf makes it dirty (arm_update()) instead of faulting. */
	if ((pte & ARM_AP2) &&
	    !((cfg->flags & VIOMMU_PT_F_DBM) && (pte & ARM_DBM) && (access & VIOMMU_ACC_WRITE)))
		e->perm &= ~VIOMMU_ACC_WRITE;
	/* Privileged execute-never also applies where EL0 can write (AP[2:1] = 0b01). */
	if (priv ? (pte & ARM_PXN) || (pte & (ARM_AP1 | ARM_AP2)) == ARM_AP1 : (pte & ARM_UXN))
		e->perm &= ~VIOMMU_ACC_EXEC;
	e->attr = (pte & ARM_NG) ? 0 : VIOMMU_PT_ATTR_GLOBAL;
}

static void arm_s2_decode(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			  unsigned int level, uint64_t pte, uint32_t access, struct pt_ent *e)
{
	if (!arm_decode_common(cfg, g, level, pte, e))
		return;
	e->perm = PT_PERM_ALL;
	if (e->kind == PT_K_TABLE)
		return;
	e->perm = PT_PERM_ACCESS;
	if (pte & ARM_AP1)
		e->perm |= VIOMMU_ACC_READ;
	if ((pte & ARM_AP2) ||
	    ((cfg->flags & VIOMMU_PT_F_DBM) && (pte & ARM_DBM) && (access & VIOMMU_ACC_WRITE)))
		e->perm |= VIOMMU_ACC_WRITE;
	if (!(pte & ARM_UXN))
		e->perm |= VIOMMU_ACC_EXEC;
}

/* Hardware access-flag management (HA): the walk sets AF in the leaf it used; HD: dirty. */
static uint64_t arm_update(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
			   uint64_t pte, uint32_t access)
{
	(void)level;
	if (leaf && (cfg->flags & VIOMMU_PT_F_AD))
		pte |= ARM_AF;
	/* Dirty-state management: the write makes a DBM leaf writable-dirty. */
	if (leaf && (cfg->flags & VIOMMU_PT_F_DBM) && (pte & ARM_DBM) &&
	    (access & VIOMMU_ACC_WRITE))
		pte = cfg->format == VIOMMU_PT_ARM_S1 ? pte & ~ARM_AP2 : pte | ARM_AP2;
	return pte;
}

static bool arm_leaf_ok(const struct viommu_pt_cfg *cfg, unsigned int level)
{
	return level == 1 || arm_block_ok(cfg, level);
}

static uint64_t arm_mk_table(const struct viommu_pt_cfg *cfg, unsigned int level, uint64_t table)
{
	(void)cfg;
	(void)level;
	return table | ARM_VALID | ARM_TABLE;
}

static uint64_t arm_mk_leaf_common(unsigned int level, uint64_t out)
{
	return out | ARM_VALID | ARM_AF | (level == 1 ? ARM_TABLE : 0);
}

static uint64_t arm_s1_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			       unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = arm_mk_leaf_common(level, out) | ARM_NG;

	(void)cfg;
	(void)g;
	if (!(perm & VIOMMU_ACC_WRITE))
		pte |= ARM_AP2;
	if (!(perm & VIOMMU_ACC_PRIV))
		pte |= ARM_AP1;
	if (!(perm & VIOMMU_ACC_EXEC) || (perm & VIOMMU_ACC_PRIV))
		pte |= ARM_UXN;
	if (!(perm & VIOMMU_ACC_EXEC))
		pte |= ARM_PXN;
	return pte;
}

static uint64_t arm_s2_mk_leaf(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			       unsigned int level, uint64_t out, uint32_t perm)
{
	uint64_t pte = arm_mk_leaf_common(level, out);

	(void)cfg;
	(void)g;
	if (perm & VIOMMU_ACC_READ)
		pte |= ARM_AP1;
	if (perm & VIOMMU_ACC_WRITE)
		pte |= ARM_AP2;
	if (!(perm & VIOMMU_ACC_EXEC))
		pte |= ARM_UXN;
	return pte;
}

/* Region @r of @p from layout @g and its root: a root beyond the output size is the full walk's. */
static void arm_plan_region(const struct viommu_pt_cfg *cfg, struct pt_plan *p, unsigned int r,
			    const struct pt_geo *g, uint64_t root)
{
	p->root[r] = root;
	p->levels[r] = (root & pt_above_oas(pt_oas(cfg, ARM_MAX_OAS))) ? 0 : g->levels;
	p->top_mask[r] = (uint32_t)VI_BIT(g->top_bits) - 1;
}

static void arm_plan_common(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	p->flags = cfg->flags;
	p->gran = cfg->granule;
	p->trsvd = pt_above_oas(pt_oas(cfg, ARM_MAX_OAS));
	/* Table (or page) descriptor, address inside the output size; a page also with AF. */
	p->tmask = p->trsvd | ARM_VALID | ARM_TABLE;
	p->lmask = p->tmask | ARM_AF;
	p->leaf_levels = 0;
	for (unsigned int l = 2; l <= 3; l++)
		p->leaf_levels |= arm_block_ok(cfg, l) ? 1u << l : 0;
}

/* The end of a walk at leaf @pte of 2^@shift bytes at @level, under tables whose OR is @tor. */
typedef int (*arm_leaf_fn)(const struct pt_plan *p, struct pt_span *sp, uint64_t iova,
			   uint32_t access, struct viommu_pt_walk_result *res, uint64_t pte,
			   uint64_t tor, unsigned int shift, unsigned int level);

_Static_assert(ARM_AP2 >> 6 == VIOMMU_ACC_WRITE && ARM_UXN >> 52 == VIOMMU_ACC_EXEC &&
		       ARM_PXN >> 51 == VIOMMU_ACC_EXEC &&
		       ARM_AP_TABLE1 >> 61 == VIOMMU_ACC_WRITE &&
		       ARM_UXN_TABLE >> 58 == VIOMMU_ACC_EXEC &&
		       ARM_PXN_TABLE >> 57 == VIOMMU_ACC_EXEC &&
		       ARM_NG >> 8 == VIOMMU_PT_ATTR_GLOBAL,
	       "arm_s1_leaf() turns descriptor bits into rights and attributes by shifts");

static inline __attribute__((always_inline)) int
arm_s1_leaf(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	    struct viommu_pt_walk_result *res, uint64_t pte, uint64_t tor, unsigned int shift,
	    unsigned int level)
{
	uint64_t mask = VI_BIT(shift) - 1;
	uint32_t deny, perm;

	/*
	 * The leaf's AP[2] and UXN or PXN, shifted onto the rights they take away; the tables'
	 * APTable[1] and UXNTable or PXNTable the same way, in a branch of their own (tables
	 * written by an IOMMU driver rarely set them: the common walk does not pay for them).
	 */
	deny = (uint32_t)(pte >> 6) & VIOMMU_ACC_WRITE;
	if (access & VIOMMU_ACC_PRIV) {
		deny |= (uint32_t)(pte >> 51) & VIOMMU_ACC_EXEC;
		/* Privileged execute-never also where EL0 can write (AP[2:1] = 0b01). */
		if ((pte & (ARM_AP1 | ARM_AP2)) == ARM_AP1)
			deny |= VIOMMU_ACC_EXEC;
		if (__builtin_expect(tor & (ARM_AP_TABLE1 | ARM_PXN_TABLE), 0))
			deny |= ((uint32_t)(tor >> 61) & VIOMMU_ACC_WRITE) |
				((uint32_t)(tor >> 57) & VIOMMU_ACC_EXEC);
	} else {
		/* The walk found no APTable[0] above and AP[1] here (EL0 access). */
		deny |= (uint32_t)(pte >> 52) & VIOMMU_ACC_EXEC;
		if (__builtin_expect(tor & (ARM_AP_TABLE1 | ARM_UXN_TABLE), 0))
			deny |= ((uint32_t)(tor >> 61) & VIOMMU_ACC_WRITE) |
				((uint32_t)(tor >> 58) & VIOMMU_ACC_EXEC);
	}
	if (access & deny)
		return pt_fast_fail(p, sp, iova, access, res);
	perm = PT_PERM_RWX & ~deny;
	return pt_fast_ok(res, (pte & VI_GENMASK(51, shift)) | (iova & mask), pte, perm, shift,
			  (uint32_t)(~pte >> 8) & VIOMMU_PT_ATTR_GLOBAL, level);
}

static inline __attribute__((always_inline)) int
arm_s2_leaf(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	    struct viommu_pt_walk_result *res, uint64_t pte, uint64_t tor, unsigned int shift,
	    unsigned int level)
{
	uint64_t mask = VI_BIT(shift) - 1;
	uint32_t perm = 0;

	(void)tor; /* stage 2 tables carry no attributes */
	if (pte & ARM_AP1)
		perm |= VIOMMU_ACC_READ;
	if (pte & ARM_AP2)
		perm |= VIOMMU_ACC_WRITE;
	if (!(pte & ARM_UXN))
		perm |= VIOMMU_ACC_EXEC;
	if (access & PT_PERM_RWX & ~perm)
		return pt_fast_fail(p, sp, iova, access, res);
	return pt_fast_ok(res, (pte & VI_GENMASK(51, shift)) | (iova & mask), pte, perm, shift, 0,
			  level);
}

/*
 * The common case of both stages, from region @r: table descriptors down to a page or a block
 * with its access flag set and every address inside the output size, one test per descriptor,
 * finished by the stage's @leaf (a constant, inlined at each leaf kind so that a page's end has
 * its shift and level as immediates). @gran and @levels are constants in the instances made for
 * each granule and level count (the loop unrolls, the shifts are immediates); 0 reads them from
 * the plan.
 */
static inline __attribute__((always_inline)) int
arm_fast_walk(const struct pt_plan *p, struct pt_span *sp, unsigned int r, uint64_t iova,
	      uint32_t access, struct viommu_pt_walk_result *res, unsigned int gran,
	      unsigned int levels, arm_leaf_fn leaf, uint64_t tneed, uint64_t lneed)
{
	const unsigned int bpl = (gran ? gran : p->gran) - 3;
	const uint64_t tmask = p->tmask | tneed, lmask = p->lmask | lneed;
	const uint64_t addr = VI_GENMASK(51, bpl + 3);
	unsigned int level = levels ? levels : p->levels[r];
	unsigned int shift = (bpl + 3) + (level - 1) * bpl;
	uint64_t table = p->root[r], idx = p->top_mask[r], tor = 0, pte;

#pragma GCC unroll 4
	for (; level > 1; shift -= bpl, level--) {
		if (!pt_load(sp, &sp->win, table + 8 * ((iova >> shift) & idx), &pte))
			return pt_fast_fail(p, sp, iova, access, res);
		if (__builtin_expect((pte & tmask) != (ARM_VALID | ARM_TABLE), 0)) {
			/* A block where the granule allows one (with AF), or the full walk. */
			if ((pte & lmask) != (ARM_VALID | ARM_AF | lneed) ||
			    !(p->leaf_levels & (1u << level)))
				return pt_fast_fail(p, sp, iova, access, res);
			return leaf(p, sp, iova, access, res, pte, tor, shift, level);
		}
		tor |= pte;
		table = pte & addr;
		idx = VI_BIT(bpl) - 1;
	}
	if (!pt_load(sp, &sp->win, table + 8 * ((iova >> shift) & idx), &pte) ||
	    (pte & lmask) != (ARM_VALID | ARM_TABLE | ARM_AF | lneed))
		return pt_fast_fail(p, sp, iova, access, res);
	return leaf(p, sp, iova, access, res, pte, tor, shift, 1);
}

/* Stage 1 in region @r (a constant): an unprivileged access needs EL0 access. */
static inline __attribute__((always_inline)) int
arm_s1_fast_r(const struct pt_plan *p, struct pt_span *sp, unsigned int r, uint64_t iova,
	      uint32_t access, struct viommu_pt_walk_result *res, unsigned int gran,
	      unsigned int levels)
{
	/* Between the two ranges, or in one whose walks are off: the full walk's fault. */
	if (iova - p->base[r] > p->span[r])
		return pt_fast_fail(p, sp, iova, access, res);
	/* No APTable[0] above and AP[1] in the leaf, tested with the rest of each descriptor. */
	if (access & VIOMMU_ACC_PRIV)
		return arm_fast_walk(p, sp, r, iova, access, res, gran, levels, arm_s1_leaf, 0, 0);
	return arm_fast_walk(p, sp, r, iova, access, res, gran, levels, arm_s1_leaf, ARM_AP_TABLE0,
			     ARM_AP1);
}

/* Stage 1 with one region walking, which the plan holds as region 0 (TTB0 or TTB1). */
static inline __attribute__((always_inline)) int
arm_s1one_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
		 struct viommu_pt_walk_result *res, unsigned int gran, unsigned int levels)
{
	return arm_s1_fast_r(p, sp, 0, iova, access, res, gran, levels);
}

/* Stage 1 with both regions walking. */
static inline __attribute__((always_inline)) int
arm_s1_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, unsigned int gran, unsigned int levels)
{
	/* A branch, not an index: the region's fields are then loaded without waiting for it. */
	if (iova > p->last)
		return arm_s1_fast_r(p, sp, 1, iova, access, res, gran, levels);
	return arm_s1_fast_r(p, sp, 0, iova, access, res, gran, levels);
}

static inline __attribute__((always_inline)) int
arm_s2_fast_n(const struct pt_plan *p, struct pt_span *sp, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, unsigned int gran, unsigned int levels)
{
	if (iova > p->last || !p->levels[0])
		return pt_fast_fail(p, sp, iova, access, res);
	return arm_fast_walk(p, sp, 0, iova, access, res, gran, levels, arm_s2_leaf, 0, 0);
}

/*
 * Instances per kind (s1: stage 1 with both regions, s1one: stage 1 with one, s2: stage 2),
 * granule and level count, and the generic one (0, 0) for anything else.
 */
#define ARM_FAST(k, g, n)                                                                \
	static int arm_##k##_fast_##g##_##n(const struct pt_plan *p, struct pt_span *sp, \
					    uint64_t iova, uint32_t access,              \
					    struct viommu_pt_walk_result *res)           \
	{                                                                                \
		return arm_##k##_fast_n(p, sp, iova, access, res, g, n);                 \
	}
/* Granule @g with one to three levels (64K has no more), and all of a kind. */
#define ARM_FAST_G(k, g) ARM_FAST(k, g, 1) ARM_FAST(k, g, 2) ARM_FAST(k, g, 3)
#define ARM_FAST_ALL(k)   \
	ARM_FAST(k, 0, 0) \
	ARM_FAST_G(k, 12) ARM_FAST(k, 12, 4) ARM_FAST_G(k, 14) ARM_FAST(k, 14, 4) ARM_FAST_G(k, 16)
/* By granule (4K, 16K, 64K) and level count. */
#define ARM_FAST_TABLE(k)                                                                      \
	{                                                                                      \
		{ NULL, arm_##k##_fast_12_1, arm_##k##_fast_12_2, arm_##k##_fast_12_3,         \
		  arm_##k##_fast_12_4 },                                                       \
			{ NULL, arm_##k##_fast_14_1, arm_##k##_fast_14_2, arm_##k##_fast_14_3, \
			  arm_##k##_fast_14_4 },                                               \
			{ NULL, arm_##k##_fast_16_1, arm_##k##_fast_16_2, arm_##k##_fast_16_3, \
			  NULL },                                                              \
	}

ARM_FAST_ALL(s1)
ARM_FAST_ALL(s1one)
ARM_FAST_ALL(s2)

static const pt_fast_fn arm_s1_fast[3][5] = ARM_FAST_TABLE(s1);
static const pt_fast_fn arm_s1one_fast[3][5] = ARM_FAST_TABLE(s1one);
static const pt_fast_fn arm_s2_fast[3][5] = ARM_FAST_TABLE(s2);

/* The instance for @levels levels of @gran, else the generic one. */
static pt_fast_fn arm_fast_pick(const pt_fast_fn inst[3][5], pt_fast_fn generic, unsigned int gran,
				unsigned int levels)
{
	pt_fast_fn f = levels <= 4 ? inst[(gran - 12) / 2][levels] : NULL;

	return f ? f : generic;
}

static void arm_s1_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	unsigned int ias0 = 64 - cfg->tsz[0], ias1 = 64 - cfg->tsz[1];
	uint64_t bot1 = ias1 >= 64 ? 0 : 0 - VI_BIT(ias1);
	struct pt_geo g;

	p->last = ias0 >= 64 ? UINT64_MAX : VI_BIT(ias0) - 1;
	p->levels[0] = p->levels[1] = 0;
	if (!(cfg->flags & VIOMMU_PT_F_NO_TTB0)) {
		arm_s1_geo_of(cfg->granule, ias0, &g);
		arm_plan_region(cfg, p, 0, &g, cfg->root);
	}
	if (cfg->flags & VIOMMU_PT_F_TTB1) {
		arm_s1_geo_of(cfg->granule, ias1, &g);
		arm_plan_region(cfg, p, 1, &g, cfg->root1);
	}
	arm_plan_common(cfg, p);
	/*
	 * One compare per walk: region 0 holds 0..last, region 1 bot1..UINT64_MAX. A region that
	 * does not walk holds one input outside what selects it (no input at all when region 0 is
	 * every input: then no walk is fast).
	 */
	if (!p->levels[0] && p->last == UINT64_MAX) {
		p->fast = vi_pt_fast_none;
		return;
	}
	p->base[0] = p->levels[0] ? 0 : p->last + 1;
	p->span[0] = p->levels[0] ? p->last : 0;
	p->base[1] = p->levels[1] ? bot1 : 0;
	p->span[1] = p->levels[1] ? UINT64_MAX - bot1 : p->last;
	if (p->levels[0] && p->levels[1]) {
		/* One level count for both regions picks an instance. */
		p->fast = p->levels[0] != p->levels[1] ? arm_s1_fast_0_0 :
							 arm_fast_pick(arm_s1_fast, arm_s1_fast_0_0,
								       cfg->granule, p->levels[0]);
		return;
	}
	/*
	 * One region walks (an SMMU context with EPD1 set, say): region 0 holds it, and its range
	 * check is all the selection a walk needs.
	 */
	if (p->levels[1]) {
		p->root[0] = p->root[1];
		p->levels[0] = p->levels[1];
		p->top_mask[0] = p->top_mask[1];
		p->base[0] = p->base[1];
		p->span[0] = p->span[1];
	}
	p->fast = p->levels[0] ? arm_fast_pick(arm_s1one_fast, arm_s1one_fast_0_0, cfg->granule,
					       p->levels[0]) :
				 vi_pt_fast_none;
}

static void arm_s2_plan(const struct viommu_pt_cfg *cfg, struct pt_plan *p)
{
	struct pt_geo g;

	/* check() accepted the layout; without one the full walk answers. */
	if (!arm_s2_geo_of(cfg, &g)) {
		p->fast = vi_pt_fast_none;
		return;
	}
	p->last = VI_BIT(64 - cfg->tsz[0]) - 1;
	p->levels[1] = 0;
	arm_plan_region(cfg, p, 0, &g, cfg->root);
	arm_plan_common(cfg, p);
	p->fast = arm_fast_pick(arm_s2_fast, arm_s2_fast_0_0, cfg->granule, p->levels[0]);
}

PT_DEFINE_WALK(arm_s1_walk, arm_s1_geo, arm_s1_decode, arm_update)

const struct pt_fmt vi_pt_fmt_arm_s1 = {
	.name = "arm-s1",
	.walk = arm_s1_walk,
	.plan = arm_s1_plan,
	.check = arm_s1_check,
	.geo = arm_s1_geo,
	.decode = arm_s1_decode,
	.update = arm_update,
	.leaf_ok = arm_leaf_ok,
	.mk_table = arm_mk_table,
	.mk_leaf = arm_s1_mk_leaf,
};

PT_DEFINE_WALK(arm_s2_walk, arm_s2_geo, arm_s2_decode, arm_update)

const struct pt_fmt vi_pt_fmt_arm_s2 = {
	.name = "arm-s2",
	.walk = arm_s2_walk,
	.plan = arm_s2_plan,
	.check = arm_s2_check,
	.geo = arm_s2_geo,
	.decode = arm_s2_decode,
	.update = arm_update,
	.leaf_ok = arm_leaf_ok,
	.mk_table = arm_mk_table,
	.mk_leaf = arm_s2_mk_leaf,
};
