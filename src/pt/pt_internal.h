/* SPDX-License-Identifier: MIT */
/*
 * Page-table formats, inside the library: one small ops table per format (decode an entry,
 * encode one for the builder, lay out the levels for an input address), chosen from a format
 * table in pt.c. The walk, the builder and the enumeration are written once in pt.c over these
 * ops, after the shape of Linux io-pgtable.
 */
#ifndef VIOMMU_PT_INTERNAL_H
#define VIOMMU_PT_INTERNAL_H

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
 * Geometry of a table of 4 KiB granules and 512-entry levels over [0, 2^(12 + 9 * levels)), the
 * layout of VT-d second level (3-5 levels) and AMD v1 (1-6; mode 6 covers all 64 bits and its root
 * indexes bits 63:57). An address above the range is an address-size fault (VT-d: "address beyond
 * AGAW/MGAW"; AMD: beyond the DTE mode's reach).
 */
bool pt_geo_radix4k(const struct viommu_pt_cfg *cfg, uint64_t iova, struct pt_geo *g,
		    struct viommu_pt_walk_result *res);

struct pt_fmt {
	const char *name;
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

extern const struct pt_fmt pt_fmt_vtd_sl;
extern const struct pt_fmt pt_fmt_x86_64;
extern const struct pt_fmt pt_fmt_amd_v1;
extern const struct pt_fmt pt_fmt_arm_s1;
extern const struct pt_fmt pt_fmt_arm_s2;
extern const struct pt_fmt pt_fmt_tce;

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

#endif /* VIOMMU_PT_INTERNAL_H */
