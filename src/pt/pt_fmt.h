/* SPDX-License-Identifier: MIT */
/*
 * Page-table formats, inside the library: what a format supplies. One small ops table per
 * format (check a configuration, lay out the levels for an input address, decode an entry,
 * update its A/D flags, encode entries for the builder, and its full and fast walks), chosen
 * from vi_pt_formats[] (pt.c) by the configuration's format. The walk (pt.c), the enumeration
 * (pt_enum.c) and the builder (pt_build.c) are written once over these ops, after the shape of
 * Linux io-pgtable. The optional fast walk (plans) has its own machinery in pt_fast.h.
 *
 * A new format: a file with its ops (struct pt_fmt below), its full walk (PT_DEFINE_WALK), its
 * plan op (pt_fast.h; a plan whose fast walk is vi_pt_fast_none is always correct), and its
 * entry in vi_pt_formats[].
 */
#ifndef VIOMMU_PT_FMT_H
#define VIOMMU_PT_FMT_H

#include <viommu/pt.h>

#include "core/core.h"

/* Input-space layout for one address: which root, how many levels, how many index bits each. */
struct pt_geo {
	uint64_t root;
	/* The input region holding the address (inclusive), or the hole holding it on a fault. */
	uint64_t lo, hi;
	uint8_t levels;	  /* level number of the root table */
	uint8_t gran;	  /* log2 of the smallest page (and of a table page) */
	uint8_t bpl;	  /* index bits per level below the root */
	uint8_t top_bits; /* index bits of the root table (concatenated tables included) */
};

/* log2 of the input size one entry at @level covers. */
static inline unsigned int pt_lvl_shift(const struct pt_geo *g, unsigned int level)
{
	return g->gran + (level - 1) * g->bpl;
}

static inline unsigned int pt_lvl_bits(const struct pt_geo *g, unsigned int level)
{
	return level == g->levels ? g->top_bits : g->bpl;
}

/* Bytes of the table at @level (a root with few index bits still takes a whole page). */
static inline uint64_t pt_table_bytes(const struct pt_geo *g, unsigned int level)
{
	uint64_t b = 8ull << pt_lvl_bits(g, level);

	return b < (1ull << g->gran) ? 1ull << g->gran : b;
}

enum pt_kind {
	PT_K_INVALID, /* not present: a translation fault of the format */
	PT_K_TABLE,
	PT_K_LEAF,
	PT_K_FAULT, /* malformed: @fault and @detail say how */
};

/* Rights an entry grants; PT_PERM_ACCESS: reachable at the request's privilege at all. */
#define PT_PERM_RWX (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE | VIOMMU_ACC_EXEC)
#define PT_PERM_ACCESS (1u << 8)
#define PT_PERM_ALL (PT_PERM_RWX | PT_PERM_ACCESS)

/* One decoded entry. */
struct pt_ent {
	enum pt_kind kind;
	enum viommu_fault_type fault;
	uint32_t detail;
	uint32_t perm; /* PT_PERM_* granted by this entry (tables restrict what lies below) */
	uint32_t attr; /* VIOMMU_PT_ATTR_* of a leaf */
	uint8_t next;  /* TABLE: level of the next table */
	uint8_t shift; /* LEAF: log2 page size */
	uint64_t addr; /* TABLE: next table; LEAF: output base, aligned to the page */
};

static inline void pt_ent_fault(struct pt_ent *e, enum viommu_fault_type type, uint32_t detail)
{
	e->kind = PT_K_FAULT;
	e->fault = type;
	e->detail = detail;
}

/*
 * The input region [0, 2^@ias) (the whole space from 64 bits on): true when it holds @iova; else
 * @g is the hole above it, and the outcome an address-size fault (input beyond the range).
 */
static inline bool pt_geo_below(struct pt_geo *g, unsigned int ias, uint64_t iova,
				struct viommu_pt_walk_result *res)
{
	g->lo = 0;
	g->hi = ias >= 64 ? UINT64_MAX : VI_BIT(ias) - 1;
	if (iova <= g->hi)
		return true;
	g->lo = g->hi + 1;
	g->hi = UINT64_MAX;
	res->fault = VIOMMU_FAULT_ADDR_SIZE;
	res->detail = VIOMMU_PT_D_INPUT_RANGE;
	return false;
}

/*
 * Geometry of a table of 4 KiB granules and 512-entry levels over [0, 2^(12 + 9 * levels)), the
 * layout of VT-d second level (3-5 levels) and AMD v1 (1-6; mode 6 covers all 64 bits and its root
 * indexes bits 63:57). An address above the range is an address-size fault (VT-d: "address beyond
 * AGAW/MGAW"; AMD: beyond the DTE mode's reach).
 */
static inline bool pt_geo_radix4k(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
				  struct viommu_pt_walk_result *res)
{
	unsigned int ias = 12 + 9 * cfg->levels;

	g->root = cfg->root;
	g->levels = cfg->levels;
	g->gran = 12;
	g->bpl = 9;
	g->top_bits = ias > 64 ? 7 : 9;
	return pt_geo_below(g, ias, iova, res);
}

typedef bool (*pt_geo_fn)(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
			  struct viommu_pt_walk_result *res);
typedef void (*pt_decode_fn)(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			     unsigned int level, uint64_t pte, uint32_t access, struct pt_ent *e);
typedef uint64_t (*pt_update_fn)(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
				 uint64_t pte, uint32_t access);
typedef int (*pt_walk_fn)(const struct viommu_pt_cfg *cfg, struct vi_dmem *m, uint64_t iova,
			  uint32_t access, struct viommu_pt_walk_result *res);

/* A compiled configuration, for the fast walk: see pt_fast.h. */
struct pt_plan;

struct pt_fmt {
	const char *name;
	/* The full walk (PT_DEFINE_WALK), for a @cfg check() accepted: 0 with the outcome in @res. */
	pt_walk_fn walk;
	/*
	 * Compile @cfg, which check() accepted, into @p: @p->fast NULL when the format has no fast
	 * walk for it. Fills in every field the format's fast walk reads; @p->cfg is the caller's.
	 */
	void (*plan)(const struct viommu_pt_cfg *cfg, struct pt_plan *p);
	/* 0 when @cfg is usable, else VIOMMU_EINVAL. */
	int (*check)(const struct viommu_pt_cfg *cfg);
	/*
	 * Layout for @iova. Returns false, with res->fault/detail set and g->lo/hi the hole, when
	 * @iova lies outside every input region.
	 */
	bool (*geo)(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		    struct viommu_pt_walk_result *res);
	/* Decode @pte read at @level for a request with @access (privilege matters). */
	void (*decode)(const struct viommu_pt_cfg *cfg, const struct pt_geo *g, unsigned int level,
		       uint64_t pte, uint32_t access, struct pt_ent *e);
	/*
	 * After a successful access: the entry with the accessed/dirty (or access) flags the
	 * format sets; equal to @pte when nothing changes. NULL when the format never writes.
	 */
	uint64_t (*update)(const struct viommu_pt_cfg *cfg, unsigned int level, bool leaf,
			   uint64_t pte, uint32_t access);
	/* Builder: may a leaf of the default size sit at @level? mk_table: NULL with one level. */
	bool (*leaf_ok)(const struct viommu_pt_cfg *cfg, unsigned int level);
	uint64_t (*mk_table)(const struct viommu_pt_cfg *cfg, unsigned int level, uint64_t table);
	uint64_t (*mk_leaf)(const struct viommu_pt_cfg *cfg, const struct pt_geo *g,
			    unsigned int level, uint64_t out, uint32_t perm);
};

/* Index of @iova in the table at @level. */
static inline uint64_t pt_index(const struct pt_geo *g, unsigned int level, uint64_t iova)
{
	return (iova >> pt_lvl_shift(g, level)) & ((1ull << pt_lvl_bits(g, level)) - 1);
}

static inline int pt_fault(struct viommu_pt_walk_result *res, enum viommu_fault_type type,
			   uint32_t detail)
{
	res->fault = type;
	res->detail = detail;
	return 0;
}

/*
 * One walk. Each step reads one entry and moves to a strictly lower level, so a table that
 * points at itself (or any loop) ends after at most g.levels reads. Returns VIOMMU_EAGAIN when
 * an entry changed under the accessed/dirty write-back, so the caller walks again.
 */
static inline __attribute__((always_inline)) int
pt_walk_once(const struct viommu_pt_cfg *cfg, struct vi_dmem *m, uint64_t iova, uint32_t access,
	     struct viommu_pt_walk_result *res, pt_geo_fn geo, pt_decode_fn decode,
	     pt_update_fn update)
{
	uint64_t ent_addr[VIOMMU_PT_MAX_LEVELS], ent_val[VIOMMU_PT_MAX_LEVELS];
	uint8_t ent_level[VIOMMU_PT_MAX_LEVELS];
	uint32_t perm = PT_PERM_ALL;
	unsigned int n = 0, level;
	struct pt_geo g;
	struct pt_ent e;
	uint64_t table;

	memset(res, 0, sizeof(*res));
	if (!geo(cfg, iova, &g, res))
		return 0;
	table = g.root;
	level = g.levels;
	for (;;) {
		uint64_t a = table + 8 * pt_index(&g, level, iova), pte;

		res->level = level;
		if (vi_dm_read64(m, a, &pte)) {
			res->pte = a; /* the entry's address, for the models' fault records */
			return pt_fault(res, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_READ_FAILED);
		}
		res->pte = pte;
		decode(cfg, &g, level, pte, access, &e);
		ent_addr[n] = a;
		ent_val[n] = pte;
		ent_level[n] = (uint8_t)level;
		n++;
		if (e.kind == PT_K_INVALID)
			return pt_fault(res, VIOMMU_FAULT_NOT_PRESENT, VIOMMU_PT_D_NOT_PRESENT);
		if (e.kind == PT_K_FAULT)
			return pt_fault(res, e.fault, e.detail);
		perm &= e.perm;
		if (e.kind == PT_K_LEAF)
			break;
		/* A table: the next level is strictly lower, so the loop ends. */
		if (e.next == 0 || e.next >= level)
			return pt_fault(res, VIOMMU_FAULT_RESERVED, VIOMMU_PT_D_BAD_NEXT_LEVEL);
		if (e.next < level - 1) {
			/* Skipped levels translate only addresses whose bits there are zero. */
			uint64_t skip = VI_GENMASK(pt_lvl_shift(&g, level) - 1,
						   pt_lvl_shift(&g, e.next + 1));

			if (iova & skip)
				return pt_fault(res, VIOMMU_FAULT_NOT_PRESENT,
						VIOMMU_PT_D_SKIP_NONZERO);
		}
		level = e.next;
		table = e.addr;
	}

	if (!(perm & PT_PERM_ACCESS))
		return pt_fault(res, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_USER);
	res->perm = perm & PT_PERM_RWX;
	if ((access & VIOMMU_ACC_READ) && !(perm & VIOMMU_ACC_READ))
		return pt_fault(res, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_READ);
	if ((access & VIOMMU_ACC_WRITE) && !(perm & VIOMMU_ACC_WRITE))
		return pt_fault(res, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_WRITE);
	if ((access & VIOMMU_ACC_EXEC) && !(perm & VIOMMU_ACC_EXEC))
		return pt_fault(res, VIOMMU_FAULT_PERMISSION, VIOMMU_PT_D_PERM_EXEC);

	if (update && (access & PT_PERM_RWX)) {
		/*
		 * Set the flags only in an entry that still holds what the walk read: if the guest
		 * changed it meanwhile, the translation may be gone and the walk starts again, as
		 * a hardware walker's locked update does.
		 */
		for (unsigned int i = 0; i < n; i++) {
			uint64_t nv = update(cfg, ent_level[i], i == n - 1, ent_val[i], access);
			int ret;

			if (nv == ent_val[i])
				continue;
			ret = vi_dm_cmpxchg64(m, ent_addr[i], ent_val[i], nv);
			if (ret == VIOMMU_EAGAIN)
				return ret;
			if (ret)
				return pt_fault(res, VIOMMU_FAULT_WALK_ABORT,
						VIOMMU_PT_D_WRITE_FAILED);
			if (i == n - 1)
				res->pte = nv;
		}
	}
	res->out = e.addr | (iova & (VI_BIT(e.shift) - 1));
	res->page_shift = e.shift;
	res->attr = e.attr;
	return 0;
}

/* Walks a guest that keeps changing its entries under the A/D write-back may cost at most. */
#define PT_WALK_TRIES 16

/* The full walk: pt_walk_once() again while the guest changes an entry under its A/D update. */
static inline __attribute__((always_inline)) int
pt_walk_retry(const struct viommu_pt_cfg *cfg, struct vi_dmem *m, uint64_t iova, uint32_t access,
	      struct viommu_pt_walk_result *res, pt_geo_fn geo, pt_decode_fn decode,
	      pt_update_fn update)
{
	for (int t = 0; t < PT_WALK_TRIES; t++) {
		int ret = pt_walk_once(cfg, m, iova, access, res, geo, decode, update);

		if (ret != VIOMMU_EAGAIN)
			return ret;
	}
	return pt_fault(res, VIOMMU_FAULT_WALK_ABORT, VIOMMU_PT_D_WRITE_FAILED);
}

/*
 * The format's full walk, for a @cfg its check() accepted: pt_walk_once() with the format's own
 * ops all inlined (flatten), so there is no call per level and the tests on @cfg leave the loop.
 */
#define PT_DEFINE_WALK(name, geo, decode, update)                                     \
	__attribute__((flatten)) static int name(const struct viommu_pt_cfg *cfg,     \
						 struct vi_dmem *m, uint64_t iova,    \
						 uint32_t access,                     \
						 struct viommu_pt_walk_result *res)   \
	{                                                                             \
		return pt_walk_retry(cfg, m, iova, access, res, geo, decode, update); \
	}

/*
 * viommu_pt_walk() without the fast walk: what the fast walk must agree with (tests and fuzzing
 * compare the two). Internal, not exported.
 */
int vi_pt_walk_full(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
		    void *opaque, uint64_t iova, uint32_t access,
		    struct viommu_pt_walk_result *res);

extern const struct pt_fmt vi_pt_fmt_vtd_sl;
extern const struct pt_fmt vi_pt_fmt_x86_64;
extern const struct pt_fmt vi_pt_fmt_amd_v1;
extern const struct pt_fmt vi_pt_fmt_arm_s1;
extern const struct pt_fmt vi_pt_fmt_arm_s2;
extern const struct pt_fmt vi_pt_fmt_tce;

/* Output size in bits, with 0 meaning the format's @max. */
static inline unsigned int pt_oas(const struct viommu_pt_cfg *cfg, unsigned int max)
{
	return cfg->oas ? cfg->oas : max;
}

/* Mask of the address bits at or above @oas and below 52: set ones there are out of range. */
static inline uint64_t pt_above_oas(unsigned int oas)
{
	return oas >= 52 ? 0 : VI_GENMASK(51, oas);
}

/* The formats by enum viommu_pt_format (NULL: none). */
extern const struct pt_fmt *const vi_pt_formats[VIOMMU_PT_NFORMATS];

/* The ops of @cfg's format when its check() accepts @cfg, else NULL. */
static inline const struct pt_fmt *pt_fmt_of(const struct viommu_pt_cfg *cfg)
{
	const struct pt_fmt *f;

	if (!cfg || (unsigned int)cfg->format >= VIOMMU_PT_NFORMATS)
		return NULL;
	f = vi_pt_formats[cfg->format];
	return !f || f->check(cfg) ? NULL : f;
}

#endif /* VIOMMU_PT_FMT_H */
