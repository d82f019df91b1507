/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3's state, shared by its files: smmuv3.c (instance, registers, interrupts, global
 * errors), smmuv3_cfg.c (stream table, STE and CD decode, configuration cache), smmuv3_xlate.c
 * (stage 1, stage 2 and nested translation, fault records), smmuv3_cmd.c (command queue),
 * smmuv3_queue.c (event and PRI queues), smmuv3_notify.c (consumer sync). Field names are those
 * of <viommu/spec/smmuv3.h>.
 */
#ifndef VIOMMU_SMMUV3_INTERNAL_H
#define VIOMMU_SMMUV3_INTERNAL_H

#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>

#include "core/core.h"
#include "core/sync.h"

#define SMMU_CFG_CACHE_SIZE 1024 /* decoded (StreamID, SubstreamID) configurations */
#define SMMU_SID_BITS_MAX 20	 /* the consumers' records are per StreamID */
#define SMMU_SSID_BITS_MAX 20
#define SMMU_Q_BITS_MAX 19
/* Walks one guest action (a register write with the commands it runs) may spend on syncs. */
#define SMMU_SYNC_BUDGET (1ull << 22)
#define SMMU_NO_SSID UINT32_MAX
/* (StreamID, SubstreamID) address spaces whose consumers are told per SubstreamID. */
#define SMMU_PAIRS_MAX 1024

/* A (StreamID, SubstreamID) address space learned from CMD_CFGI_CD (smmuv3_notify.c). */
struct smmu_pair {
	uint32_t sid;
	uint32_t ssid;
	bool live;
};

/* What a configuration does with a request (the STE's Config, then S1DSS for no SubstreamID). */
enum smmu_kind {
	SMMU_K_ABORT,  /* STE.Config abort, S1DSS terminate handled as a fault */
	SMMU_K_BYPASS, /* STE.Config bypass, or both stages bypassed */
	SMMU_K_S1,     /* stage 1 only */
	SMMU_K_S2,     /* stage 2 only (also a nested STE whose S1DSS bypasses stage 1) */
	SMMU_K_NESTED, /* stage 1 over stage 2 */
};

/* A decoded, validated configuration for one (StreamID, SubstreamID or none). */
struct smmu_cfg {
	uint8_t kind;	 /* enum smmu_kind */
	bool s1_record;	 /* CD.R: record stage 1 translation faults */
	bool s2_record;	 /* STE.S2R: record stage 2 faults */
	bool two_halves; /* stage 1 TTB1 walks with a granule of its own (s1[1]) */
	bool wxn;	 /* CD.WXN: a writable page is never executable */
	uint8_t tbi;	 /* CD.TBI: bit 0 for the TTB0 half, bit 1 for TTB1 */
	uint8_t eats;	 /* STE.EATS with IDR0.ATS (0 without): ATS allowed for the stream */
	uint16_t vmid;
	uint16_t asid;
	struct viommu_pt_cfg s1[2]; /* [0]: TTB0 (and TTB1 when same granule); [1]: TTB1 */
	struct viommu_pt_cfg s2;
	struct viommu_iotlb_tag tag;
	uint64_t iotlb_ref; /* IOTLB ref of @tag once a translation took it; 0: none */
};

struct smmu_cfg_slot {
	uint32_t gen; /* live while equal to smmu.cfg_gen; 0 never is */
	uint32_t sid;
	uint32_t ssid; /* SMMU_NO_SSID for requests without one */
	struct smmu_cfg cfg;
};

/* Why a request is blocked: the event record to write and the generic fault. */
struct smmu_fault {
	uint32_t id; /* VIOMMU_SMMUV3_EVT_*; 0: abort without an event (Config abort, GBPA) */
	enum viommu_fault_type type;
	uint32_t level;
	bool record;	    /* false: CD.R / STE.S2R clear (suppressed) */
	bool s2;	    /* the fault is at stage 2 */
	uint8_t class;	    /* VIOMMU_SMMUV3_CLASS_* */
	uint64_t addr;	    /* InputAddr */
	uint64_t ipa;	    /* stage 2 faults: the IPA */
	uint64_t fetch;	    /* F_STE_FETCH, F_CD_FETCH, F_WALK_EABT: the address fetched */
	uint64_t hole_last; /* walks: the last input address known to fault the same way */
};

/* A queue in guest memory (6.3.25-6.3.33). */
struct smmu_queue {
	uint64_t base; /* *Q_BASE as written */
	uint32_t prod; /* as the registers read (EVENTQ_PROD with OVFLG, CMDQ_CONS with ERR) */
	uint32_t cons;
	uint8_t max_bits; /* IDR1 limit */
	uint8_t ent_bytes;
};

struct smmu {
	struct viommu v;
	struct viommu_smmuv3_config cfg;
	struct viommu_pt_walker *walker;
	/*
	 * Nested walks: a walker whose host ops translate every stage 1 table access through the
	 * stage 2 of @nest (smmuv3_xlate.c); @nest_fault records why one failed.
	 */
	struct viommu_pt_walker *nwalker;
	struct viommu_host_ops nest_ops;
	const struct smmu_cfg *nest;
	struct smmu_fault nest_fault;
	bool nest_failed;
	uint8_t nest_class;

	/* ID registers, fixed at create. */
	uint32_t idr[6], iidr, aidr;

	/* Registers. */
	uint32_t cr0, cr1, cr2, gbpa, irq_ctrl, gerror, gerrorn;
	uint64_t gerror_irq_cfg0, eventq_irq_cfg0, priq_irq_cfg0;
	uint32_t gerror_irq_cfg1, gerror_irq_cfg2, eventq_irq_cfg1, eventq_irq_cfg2;
	uint32_t priq_irq_cfg1, priq_irq_cfg2;
	uint64_t strtab_base;
	uint32_t strtab_base_cfg;
	struct smmu_queue cmdq, evtq, priq;

	/* Inside viommu_smmuv3_transaction() for an ATS Translation Request (no fault records). */
	bool ats_treq;

	viommu_smmuv3_pri_response_fn pri_fn;
	void *pri_opaque;

	struct viommu_iotlb *iotlb;
	struct smmu_cfg_slot *cfg_cache;
	uint32_t cfg_gen;

	/* MAP/UNMAP sync (smmuv3_notify.c). */
	struct vi_sync sync;
	uint64_t *seen;
	uint64_t budget;
	bool scanned;
	/*
	 * The same per (StreamID, SubstreamID): the shared sync runs over pair slots as its
	 * requesters, and its events reach the consumers through @pv, whose two notifiers put the
	 * pair's StreamID and SubstreamID back on each event.
	 */
	struct vi_sync psync;
	struct viommu pv;
	struct viommu_notifier pn[2];
	struct smmu_pair *pairs; /* SMMU_PAIRS_MAX, allocated on first use */
	uint64_t *pseen;	 /* live slots */
	uint32_t pair_next;	 /* next slot taken back when all are live */
	uint64_t pair_nmap, pair_nunmap;

	struct viommu_smmuv3_stats st;
};

static inline struct smmu *to_smmu(struct viommu *v)
{
	return vi_container_of(v, struct smmu, v);
}

static inline bool smmu_enabled(const struct smmu *s)
{
	return (s->cr0 & VIOMMU_SMMUV3_CR0_SMMUEN) != 0;
}

static inline uint32_t smmu_nsid(const struct smmu *s)
{
	return 1u << s->cfg.sid_bits;
}

/* The configuration cache slot of (@sid, @ssid): direct-mapped by a hash of both. */
static inline uint32_t smmu_slot_of(uint32_t sid, uint32_t ssid)
{
	uint64_t h = ((uint64_t)sid << 32 | ssid) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 40) % SMMU_CFG_CACHE_SIZE;
}

/* Queue geometry: log2 of the entries (LOG2SIZE capped at the IDR limit). */
static inline uint32_t smmu_q_bits(const struct smmu_queue *q)
{
	uint32_t b = (uint32_t)VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_GET(q->base);

	return b < q->max_bits ? b : q->max_bits;
}

/* Index and wrap bits of a PROD/CONS value. */
static inline uint32_t smmu_q_iw(const struct smmu_queue *q, uint32_t ptr)
{
	return ptr & ((2u << smmu_q_bits(q)) - 1);
}

static inline uint64_t smmu_q_addr(const struct smmu_queue *q, uint32_t ptr)
{
	uint32_t bits = smmu_q_bits(q);
	uint64_t size = (uint64_t)q->ent_bytes << bits;
	uint64_t base = q->base & VIOMMU_SMMUV3_Q_BASE_ADDR_MASK;

	/* The base is aligned to the queue's size (at least 32 bytes) by ignoring low bits. */
	base &= ~((size < 32 ? 32 : size) - 1);
	return base + (uint64_t)(ptr & ((1u << bits) - 1)) * q->ent_bytes;
}

/* smmuv3.c */
/* @v is an SMMUv3. */
bool vi_smmu_is(const struct viommu *v);
/* Activate global error @bit (GERROR and GERRORN differ) and signal it when newly active. */
void vi_smmu_gerror(struct smmu *s, uint32_t bit);
/* Signal an interrupt: MSI from @cfg0/@cfg1 when MSIs are offered and ADDR != 0, else @line. */
void vi_smmu_irq(struct smmu *s, uint64_t cfg0, uint32_t cfg1, unsigned int line,
		 uint32_t msi_abt_bit);

/* smmuv3_cfg.c */
/*
 * The configuration of (@sid, @ssid) through the cache: 0, or the event that blocks it (@f
 * filled). Nested CD fetches go through stage 2 and may give a stage 2 fault.
 */
int vi_smmu_cfg_get(struct smmu *s, uint32_t sid, uint32_t ssid, struct smmu_cfg_slot **slot,
		    struct smmu_fault *f);
void vi_smmu_cfg_inval_all(struct smmu *s);
/* Forget the configurations of StreamIDs [first, last], of SubstreamID @ssid only unless ~0. */
void vi_smmu_cfg_inval(struct smmu *s, uint32_t first, uint32_t last, uint32_t ssid);

/* smmuv3_xlate.c */
extern const struct viommu_host_ops vi_smmu_nest_ops;
int vi_smmu_translate(struct viommu *v, const struct viommu_xlate_req *req,
		      struct viommu_xlate_result *res);
/* A leaf of @c at @iova (input of the configuration), or perm 0 for a hole of 1 << shift. */
struct smmu_leaf {
	uint64_t iova;
	uint64_t out;
	uint32_t shift;
	uint32_t perm;
};
/* Walk @c for @iova with @access: 0 with @l (perm 0: nothing mapped), or -1 with @f. */
int vi_smmu_walk(struct smmu *s, const struct smmu_cfg *c, uint64_t iova, uint32_t access,
		 struct smmu_leaf *l, struct smmu_fault *f);
/* Stage 2 of @c alone at IPA @ipa: as vi_smmu_walk(). */
int vi_smmu_walk_s2(struct smmu *s, const struct smmu_cfg *c, uint64_t ipa, uint32_t access,
		    struct smmu_leaf *l, struct smmu_fault *f);
/* Read a guest structure at IPA @ipa of nested configuration @c (CD fetches). */
int vi_smmu_ipa_read(struct smmu *s, const struct smmu_cfg *c, uint64_t ipa, void *buf, size_t len,
		     uint8_t class, struct smmu_fault *f);

/* smmuv3_queue.c */
/* Write the event record for @f of request (@sid, @ssid); returns enum viommu_fault_flags. */
uint32_t vi_smmu_event(struct smmu *s, const struct smmu_fault *f, uint32_t sid, uint32_t ssid,
		       uint32_t access);
/* Append @rec to @q; 0, VIOMMU_EPERM (disabled), VIOMMU_ENOSPC (full), VIOMMU_EFAULT. */
int vi_smmu_q_append(struct smmu *s, struct smmu_queue *q, const uint64_t *rec);
void vi_smmu_pri_resp(struct smmu *s, const uint64_t cmd[2]);

/* smmuv3_cmd.c */
void vi_smmu_cmd_process(struct smmu *s);

/* smmuv3_notify.c */
enum smmu_sync_scope { SMMU_SYNC_ALL, SMMU_SYNC_DOMAIN, SMMU_SYNC_STREAMS, SMMU_SYNC_CD };
/* Tell consumers [first, last] may have changed: all StreamIDs, one (VMID, ASID) domain @dom,
 * StreamIDs [sid_lo, sid_hi], or (SMMU_SYNC_CD) StreamID @sid_lo's view and its SubstreamID @dom
 * alone (one CD changed). */
void vi_smmu_sync(struct smmu *s, enum smmu_sync_scope scope, uint32_t dom, uint32_t sid_lo,
		  uint32_t sid_hi, uint64_t first, uint64_t last);
/* The sync domain of a configuration (VMID << 16 | ASID). */
static inline uint32_t smmu_dom(uint16_t vmid, uint16_t asid)
{
	return (uint32_t)vmid << 16 | asid;
}
int vi_smmu_replay(struct viommu *v, struct viommu_notifier *n);
void vi_smmu_notify_fini(struct smmu *s);
/* CMD_CFGI_CD of (@sid, @ssid): a valid CD makes the pair known to the per-SubstreamID sync. */
void vi_smmu_pair_learn(struct smmu *s, uint32_t sid, uint32_t ssid);

#endif /* VIOMMU_SMMUV3_INTERNAL_H */
