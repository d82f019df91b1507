/* SPDX-License-Identifier: MIT */
/*
 * Page-table formats: walk (IOVA to output address, or the precise fault) and build (map, unmap,
 * enumerate), for the formats the IOMMU models translate through:
 *
 *   VIOMMU_PT_VTD_SL  Intel VT-d second-level tables, 3 to 5 levels (39/48/57-bit input)
 *   VIOMMU_PT_X86_64  x86-64 4/5-level paging: VT-d first level, AMD-Vi v2
 *   VIOMMU_PT_AMD_V1  AMD-Vi host tables, 1 to 6 levels (DTE Mode), level skipping, encoded sizes
 *   VIOMMU_PT_ARM_S1  Arm VMSAv8-64 stage 1 (4K/16K/64K granules, TTB0/TTB1)
 *   VIOMMU_PT_ARM_S2  Arm VMSAv8-64 stage 2 (SL0, concatenated first-level tables)
 *   VIOMMU_PT_TCE     IBM Calgary TCE table, one level indexed by I/O page number
 *
 * A format is described by a struct viommu_pt_cfg. The walk is stateless and allocation-free: a
 * model calls viommu_pt_walk() on each IOTLB miss with the configuration it decoded from its own
 * context entry, STE or DTE. The walk reads guest memory only through the host ops (dma_read, or
 * the pointers dma_map_ptr grants), reads at most one entry per level, and gives the same answer
 * for the same memory whatever it contains.
 *
 * The builder (viommu_pt_create/map/unmap) plays the guest driver: it lays tables out in guest
 * memory through the host ops, allocating table pages with a callback.
 *
 * Levels are numbered from the leaf: level 1 is the table of granule-sized pages (the VT-d/x86
 * "PTE" table, Arm lookup level 3), increasing towards the root. Level 0 in a fault means the
 * walk stopped before reading any table (input address checks).
 */
#ifndef VIOMMU_PT_H
#define VIOMMU_PT_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

enum viommu_pt_format {
	VIOMMU_PT_VTD_SL,
	VIOMMU_PT_X86_64,
	VIOMMU_PT_AMD_V1,
	VIOMMU_PT_ARM_S1,
	VIOMMU_PT_ARM_S2,
	VIOMMU_PT_TCE,
	VIOMMU_PT_NFORMATS,
};

#define VIOMMU_PT_MAX_LEVELS 6

/* Configuration flags; each names the capability or control bit it stands for. */
enum {
	/* VT-d SLLPS (2 MiB / 1 GiB second-level superpages); x86: 1 GiB pages (FL1GP). */
	VIOMMU_PT_F_SP_2M = 1u << 0,
	VIOMMU_PT_F_SP_1G = 1u << 1,
	/*
	 * Hardware accessed/dirty updates: VT-d SLADE, AMD-Vi HAD, Arm HA (access flag set by the
	 * walk instead of an access-flag fault). x86-64 always updates A/D, as its spec requires.
	 */
	VIOMMU_PT_F_AD = 1u << 2,
	VIOMMU_PT_F_NXE = 1u << 3,     /* x86: execute-disable (bit 63) enabled, else reserved */
	VIOMMU_PT_F_WP = 1u << 4,      /* x86: supervisor writes honour R/W (VT-d WPE, CR0.WP) */
	VIOMMU_PT_F_SNP = 1u << 5,     /* VT-d: snoop control (ECAP.SC), bit 11 is not reserved */
	VIOMMU_PT_F_TTB1 = 1u << 6,    /* Arm S1: TTB1 walks enabled (EPD1 = 0) */
	VIOMMU_PT_F_NO_TTB0 = 1u << 7, /* Arm S1: TTB0 walks disabled (EPD0 = 1) */
	/*
	 * VT-d: bit 62 of a leaf is TM (Transient Mapping), as in specification revisions before
	 * 3.2 for hardware with device-TLBs; without the flag it is Reserved(0), as revision 3.2
	 * and later define it (QEMU's x-stale-tm). TM changes no translation, so it is ignored.
	 */
	VIOMMU_PT_F_STALE_TM = 1u << 8,
	/*
	 * TCE: entries are big-endian in memory (Calgary, sPAPR); without the flag little-endian.
	 * The walk result's @pte stays the entry's bytes read little-endian, as in every format.
	 */
	VIOMMU_PT_F_BE = 1u << 9,
	/*
	 * Arm: access flag faults disabled (SMMUv3 CD.AFFD, STE.S2AFFD): a leaf whose AF is clear
	 * translates as if it were set, and nothing is written back.
	 */
	VIOMMU_PT_F_AFFD = 1u << 10,
	/*
	 * Arm: hardware dirty-state management (SMMUv3 CD.HD, STE.S2HD; with VIOMMU_PT_F_AD):
	 * bit 51 of a leaf is DBM, not an address bit, and a write to a DBM leaf without write
	 * permission (stage 1 AP[2] set, stage 2 S2AP[1] clear) makes it writable-dirty (clears
	 * AP[2], sets S2AP[1]) by the walk's atomic write-back instead of faulting. Other
	 * accesses see such a leaf read-only.
	 */
	VIOMMU_PT_F_DBM = 1u << 11,
};

struct viommu_pt_cfg {
	enum viommu_pt_format format;
	uint32_t flags;	  /* VIOMMU_PT_F_* */
	uint8_t levels;	  /* VTD_SL 3..5 (AGAW), X86_64 4..5, AMD_V1 1..6 (DTE Mode); others: 0 */
	uint8_t oas;	  /* output address bits (VT-d MGAW/HAW, MAXPHYADDR, Arm PS); 0: maximum */
	uint8_t granule;  /* Arm: log2 of the translation granule, 12, 14 or 16 */
	uint8_t sl0;	  /* Arm S2: VTCR.SL0 */
	uint8_t tsz[2];	  /* Arm: T0SZ and T1SZ (S1), VTCR.T0SZ in tsz[0] (S2) */
	uint8_t tce_size; /* TCE: table size code 0..7, 8192 << code entries (64 KiB..8 MiB) */
	uint64_t root;	  /* root table: SLPTPTR, FLPTPTR/CR3, DTE root, TTB0, VTTBR, TCE base */
	uint64_t root1;	  /* Arm S1: TTB1 */
};

/* Check @cfg: 0, or VIOMMU_EINVAL when the combination is not one the format allows. */
VIOMMU_API int viommu_pt_cfg_check(const struct viommu_pt_cfg *cfg);

/* Why a walk stopped; travels beside the generic enum viommu_fault_type. */
enum viommu_pt_detail {
	VIOMMU_PT_D_NONE,
	VIOMMU_PT_D_INPUT_RANGE,    /* input address outside the configured input range */
	VIOMMU_PT_D_NONCANONICAL,   /* x86: input address not canonical */
	VIOMMU_PT_D_NOT_PRESENT,    /* entry not present / invalid descriptor */
	VIOMMU_PT_D_RSVD,	    /* reserved bit set */
	VIOMMU_PT_D_BAD_LEAF,	    /* superpage/block where the configuration allows none */
	VIOMMU_PT_D_BAD_NEXT_LEVEL, /* AMD: next level not below the current one */
	VIOMMU_PT_D_SKIP_NONZERO,   /* AMD: address bits of skipped levels not zero */
	VIOMMU_PT_D_PAGE_SIZE,	    /* AMD: encoded page size not valid at this level */
	VIOMMU_PT_D_OUTPUT_SIZE,    /* table or output address beyond the output size */
	VIOMMU_PT_D_ACCESS_FLAG,    /* Arm: access flag clear */
	VIOMMU_PT_D_PERM_READ,	    /* read not allowed */
	VIOMMU_PT_D_PERM_WRITE,	    /* write not allowed */
	VIOMMU_PT_D_PERM_EXEC,	    /* instruction fetch not allowed */
	VIOMMU_PT_D_PERM_USER,	    /* unprivileged access to a privileged-only page */
	VIOMMU_PT_D_READ_FAILED,    /* table entry outside guest memory */
	VIOMMU_PT_D_WRITE_FAILED,   /* A/D write-back outside guest memory, or the guest kept
				     * changing the entries under it */
};

/* Attributes of the leaf that do not change the translation but are reported to the device. */
enum {
	VIOMMU_PT_ATTR_FC = 1u << 0,	 /* AMD: force coherent */
	VIOMMU_PT_ATTR_U = 1u << 1,	 /* AMD: U bit (untranslated access only) */
	VIOMMU_PT_ATTR_SNP = 1u << 2,	 /* VT-d: snoop */
	VIOMMU_PT_ATTR_GLOBAL = 1u << 3, /* x86 G, Arm !nG */
};

/*
 * The outcome of one walk. On success (fault == VIOMMU_FAULT_NONE): @out is the output address of
 * the IOVA, @page_shift the log2 size of the leaf covering it, @perm the VIOMMU_ACC_READ/WRITE/EXEC
 * rights the tables grant at the request's privilege, @attr the VIOMMU_PT_ATTR_* of the leaf. On a
 * fault: @fault, @detail and @level say where and why; @perm holds what was granted when the fault
 * is a permission fault. @pte is the last entry read (the leaf, or the faulting entry); after
 * VIOMMU_PT_D_READ_FAILED it is the guest-physical address of the entry that could not be read
 * (what an SMMU reports as the fetch address of F_WALK_EABT).
 */
struct viommu_pt_walk_result {
	uint64_t out;
	uint64_t pte;
	uint32_t perm;
	uint32_t page_shift;
	uint32_t attr;
	enum viommu_fault_type fault;
	uint32_t detail; /* enum viommu_pt_detail */
	uint32_t level;
};

/*
 * Walk the tables @cfg describes for @iova. @access is a set of enum viommu_access bits:
 * READ/WRITE/EXEC are checked against the tables (a missing right is a PERMISSION fault; 0 checks
 * nothing), PRIV marks a privileged (supervisor, EL1) request. A successful access that the
 * format records writes accessed/dirty flags back: by compare-and-exchange on a pointer from
 * @host->dma_map_ptr (atomic against vCPUs), else by re-reading and writing through
 * @host->dma_write (not atomic: a vCPU write between the two can be lost). An entry found
 * changed is walked again.
 *
 * Returns 0 with the outcome in @res (a fault is an outcome), or VIOMMU_EINVAL for NULL pointers
 * or a configuration viommu_pt_cfg_check() rejects.
 */
VIOMMU_API int viommu_pt_walk(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
			      void *opaque, uint64_t iova, uint32_t access,
			      struct viommu_pt_walk_result *res);

/*
 * A walker: viommu_pt_walk() with guest-memory pointers kept across calls. viommu_pt_walk() asks
 * the host's dma_map_ptr again in every call, since its pointers last one call; a walker keeps
 * the spans the host marks VIOMMU_DMA_SPAN_STABLE (one readable, one writable) until
 * viommu_pt_walker_invalidate(), so walks over tables in a RAM block it already holds make no
 * host call at all. Spans without the mark are dropped at the end of each walk, as there.
 *
 * The host calls viommu_pt_walker_invalidate() before any stable pointer it handed out stops
 * being valid (RAM unplugged, remapped or freed), as QEMU publishes a new FlatView or vhost a new
 * memory table. A walker is not thread-safe: one per thread (e.g. per vCPU or queue), and the
 * host serialises invalidate with that thread's walks. It allocates once, at create.
 */
struct viommu_pt_walker;

/* A walker over guest memory reached through @host with @opaque (dma_read required). */
VIOMMU_API int viommu_pt_walker_create(const struct viommu_host_ops *host, void *opaque,
				       struct viommu_pt_walker **out);
VIOMMU_API void viommu_pt_walker_destroy(struct viommu_pt_walker *w);
/* Forget every span the walker holds; the next walk asks the host again. */
VIOMMU_API void viommu_pt_walker_invalidate(struct viommu_pt_walker *w);
/* viommu_pt_walk() through @w's host, with the same outcome, results and return values. */
VIOMMU_API int viommu_pt_walker_walk(struct viommu_pt_walker *w, const struct viommu_pt_cfg *cfg,
				     uint64_t iova, uint32_t access,
				     struct viommu_pt_walk_result *res);

/*
 * A plan: a configuration checked and compiled once for walking (its layout and the masks every
 * walk would derive again), as a model keeps the context, STE or DTE it decoded. Walking through
 * a plan skips comparing the configuration with the walker's own plans. A plan holds no guest
 * memory and may serve any number of walkers; it allocates once, at create.
 */
struct viommu_pt_plan;

/* A plan for @cfg: VIOMMU_EINVAL when viommu_pt_cfg_check() rejects it. */
VIOMMU_API int viommu_pt_plan_create(const struct viommu_pt_cfg *cfg, struct viommu_pt_plan **out);
/*
 * Compile @cfg into @p in place (a context entry that changed). On VIOMMU_EINVAL @p walks
 * nothing: a walk through it returns VIOMMU_EINVAL until a valid configuration is set.
 */
VIOMMU_API int viommu_pt_plan_set(struct viommu_pt_plan *p, const struct viommu_pt_cfg *cfg);
VIOMMU_API void viommu_pt_plan_destroy(struct viommu_pt_plan *p);
/* viommu_pt_walker_walk() for the configuration @p was made from. */
VIOMMU_API int viommu_pt_walker_walk_plan(struct viommu_pt_walker *w,
					  const struct viommu_pt_plan *p, uint64_t iova,
					  uint32_t access, struct viommu_pt_walk_result *res);

/*
 * One present leaf, clipped to the enumerated range: input [iova, iova + size), output @out,
 * rights @perm at the privilege asked for. Return nonzero to stop the enumeration.
 */
typedef int (*viommu_pt_leaf_fn)(void *opaque, uint64_t iova, uint64_t size, uint64_t out,
				 uint32_t perm);

/* Entries one enumeration reads at most (tables a guest aliases could otherwise make it
 * exponential in the level count). */
#define VIOMMU_PT_MAX_ENUM_READS (1ull << 24)

/*
 * Call @fn for every leaf that translates some address of the inclusive range [first, last],
 * in increasing IOVA order, with rights computed for privilege @access & VIOMMU_ACC_PRIV. Entries
 * that would fault (not present, reserved bits, outside guest memory) are skipped. Nothing is
 * written. Returns 0, the callback's nonzero value if it stopped the enumeration,
 * VIOMMU_E2BIG after VIOMMU_PT_MAX_ENUM_READS entries, or VIOMMU_EINVAL for a bad call.
 */
VIOMMU_API int viommu_pt_for_each(const struct viommu_pt_cfg *cfg,
				  const struct viommu_host_ops *host, void *opaque, uint64_t first,
				  uint64_t last, uint32_t access, viommu_pt_leaf_fn fn,
				  void *fn_opaque);

/* ------------------------------------------------------------------------------------------ */
/* Builder                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Table memory for the builder, in guest-physical space: alloc returns a @size-aligned block of
 * @size bytes (a power of two, at least 4 KiB) in *gpa, or a negative VIOMMU_E* code. The builder
 * zeroes what it gets through the host ops.
 */
struct viommu_pt_alloc_ops {
	int (*alloc)(void *opaque, uint64_t size, uint64_t *gpa);
	void (*free)(void *opaque, uint64_t gpa, uint64_t size);
};

struct viommu_pt;

/*
 * Create a page table of @cfg's format and allocate its root table(s); @cfg->root and
 * @cfg->root1 are ignored. viommu_pt_get_cfg() gives the configuration with the roots filled in,
 * ready for viommu_pt_walk() or for a model's context entry.
 */
VIOMMU_API int viommu_pt_create(const struct viommu_pt_cfg *cfg, const struct viommu_host_ops *host,
				void *opaque, const struct viommu_pt_alloc_ops *alloc,
				void *alloc_opaque, struct viommu_pt **out);
/* Free every table, then the handle. */
VIOMMU_API void viommu_pt_destroy(struct viommu_pt *pt);
VIOMMU_API const struct viommu_pt_cfg *viommu_pt_get_cfg(const struct viommu_pt *pt);

/* Bitmap of the page sizes (bit n: 2^n bytes) the builder can map with this configuration. */
VIOMMU_API uint64_t viommu_pt_pgsizes(const struct viommu_pt *pt);

/*
 * Map [iova, iova + size) to [out, out + size) with rights @perm (VIOMMU_ACC_READ/WRITE/EXEC;
 * VIOMMU_ACC_PRIV makes the mapping privileged-only where the format can say so). Uses the
 * largest page sizes in @pgsizes (0: all of viommu_pt_pgsizes()) that alignment and size allow.
 * iova, out and size must be aligned to the smallest page size. All or nothing: VIOMMU_EEXIST
 * when anything in the range is already mapped, VIOMMU_ENOMEM when a table cannot be allocated,
 * VIOMMU_EINVAL for bad arguments, VIOMMU_EFAULT when a table lies outside guest memory.
 */
VIOMMU_API int viommu_pt_map(struct viommu_pt *pt, uint64_t iova, uint64_t out, uint64_t size,
			     uint32_t perm, uint64_t pgsizes);

/*
 * Remove every leaf inside [iova, iova + size) and free tables left empty. *@unmapped receives
 * the number of bytes of input space the removed leaves covered. A leaf that only partly lies in
 * the range is not split: the call then removes nothing and returns VIOMMU_ERANGE.
 */
VIOMMU_API int viommu_pt_unmap(struct viommu_pt *pt, uint64_t iova, uint64_t size,
			       uint64_t *unmapped);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_PT_H */
