/* SPDX-License-Identifier: MIT */
/*
 * A guest-side SMMUv3 driver in the manner of Linux 6.x's drivers/iommu/arm/arm-smmu-v3/: stream
 * table (linear or 2-level with 256-entry level-2 tables, allocated when a stream is attached),
 * STEs and CDs written as arm_smmu_write_strtab_ent()/arm_smmu_write_ctx_desc() do, command queue
 * with batched commands closed by CMD_SYNC (completion polled on CONS, or on the MSI write to the
 * sync command itself, Linux's MSI polling), TLBI by address with range invalidation when the
 * SMMU offers it, strict and lazy (flush queue) unmapping, the event and PRI queue handlers and
 * the global error handler. The quirk-aware variant (@cm) also invalidates after every map, as
 * the seed's caching-mode firmware quirk asks. It programs the SMMU only through the public API
 * and <viommu/spec/smmuv3.h>, and touches guest memory as a CPU would (flat memory pointers).
 *
 * Domains are numbered by the caller: a stage 1 domain uses its number as ASID, a stage 2 domain
 * as VMID; a stream is attached to a stage 1 domain, a stage 2 domain, or both (nested: the
 * stage 1 tables and CDs are then IPAs, which the caller maps in the stage 2 domain, e.g. with
 * vg_smmu_map_pool()).
 */
#ifndef VIOMMU_GUEST_SMMUV3_DRIVER_H
#define VIOMMU_GUEST_SMMUV3_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

struct vg_smmu;

struct vg_smmu_config {
	struct viommu *iommu;	    /* an SMMUv3 over @mem's host ops */
	struct viommu_flatmem *mem; /* guest memory */
	uint64_t pool_base; /* guest-physical memory the driver may use for its structures */
	uint64_t pool_size;
	uint32_t sid_bits;    /* StreamIDs the stream table covers (0: 16, capped at IDR1) */
	bool linear_strtab;   /* a linear table even when 2-level ones are offered */
	uint32_t cmdq_bits;   /* log2 entries (0: 8, capped at IDR1) */
	uint32_t evtq_bits;   /* (0: 7) */
	uint32_t priq_bits;   /* (0: 7) */
	uint32_t granule;     /* page-table granule: 12, 14 or 16 (0: 12) */
	uint32_t cd_bits;     /* SubstreamID bits of each CD table (0: one CD, no PASID) */
	bool cm;	      /* caching-mode quirk: invalidate after every map */
	bool msi_poll;	      /* CMD_SYNC completion by MSI write (needs IDR0.MSI) */
	bool no_ril;	      /* never use range invalidation */
	uint64_t msi_addr[3]; /* EVENTQ, PRIQ, GERROR MSI doorbells (0: wired interrupts) */
	uint32_t msi_data[3];
};

struct vg_smmu_stats {
	uint64_t mmio_writes;
	uint64_t commands; /* CMD_SYNC included */
	uint64_t syncs;
	uint64_t tlbis;	   /* TLBI commands */
	uint64_t cfgis;	   /* CFGI commands */
	uint64_t atc_invs; /* ATC_INV commands */
	uint64_t events;   /* event records consumed */
	uint64_t overflows;
	uint64_t pri_records;
	uint64_t cmd_errors; /* CMDQ_ERR handled */
	uint64_t maps;
	uint64_t unmaps;
};

int vg_smmu_create(const struct vg_smmu_config *cfg, struct vg_smmu **out);
void vg_smmu_destroy(struct vg_smmu *d);

/*
 * Bring-up as arm_smmu_device_reset(): GBPA abort while disabling, CR0 = 0, CR1/CR2, stream
 * table (every STE abort), command queue, CFGI_ALL + TLBI_NSNH_ALL + CMD_SYNC, event queue, PRI
 * queue (when offered), interrupts, SMMUEN.
 */
int vg_smmu_enable(struct vg_smmu *d);
int vg_smmu_disable(struct vg_smmu *d);

enum vg_smmu_ste {
	VG_SMMU_STE_ABORT,
	VG_SMMU_STE_BYPASS,
	VG_SMMU_STE_S1,
	VG_SMMU_STE_S2,
	VG_SMMU_STE_NESTED,
};

/*
 * Point @sid's STE at @kind with stage 1 domain @s1 and/or stage 2 domain @s2 (tables created on
 * first use), then CFGI_STE (+ CFGI_CD_ALL) + CMD_SYNC. @ats sets EATS (ATC_INV after unmaps).
 */
int vg_smmu_attach(struct vg_smmu *d, uint32_t sid, enum vg_smmu_ste kind, uint16_t s1, uint16_t s2,
		   bool ats);
/* CD @ssid of @sid's table (stage 1 or nested STE with cd_bits) for stage 1 domain @s1. */
int vg_smmu_attach_pasid(struct vg_smmu *d, uint32_t sid, uint32_t ssid, uint16_t s1);

/* Domain page tables: stage 1 (@stage2 false, ASID @dom) or stage 2 (VMID @dom). */
int vg_smmu_map(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t gpa,
		uint64_t size, uint32_t perm);
int vg_smmu_unmap(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size);
/* Map the driver's pool identity in stage 2 domain @dom (nested stage 1 structures). */
int vg_smmu_map_pool(struct vg_smmu *d, uint16_t dom);
/* Batched map (tables now; with @cm the TLBIs and one CMD_SYNC at vg_smmu_sync_map()). */
int vg_smmu_map_nosync(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t gpa,
		       uint64_t size, uint32_t perm);
int vg_smmu_sync_map(struct vg_smmu *d);
/* Unmap without invalidation; vg_smmu_flush() completes it (TLBI_NH_ASID / S12_VMALL). */
int vg_smmu_unmap_nosync(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova,
			 uint64_t size);
int vg_smmu_flush(struct vg_smmu *d);

/* TLBI of [iova, iova + size) in a domain (RIL when offered), ATC_INV where ATS, CMD_SYNC. */
int vg_smmu_inv_range(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size);

/*
 * Queue one raw command (no PROD write until vg_smmu_sync() or the queue fills); vg_smmu_sync()
 * appends CMD_SYNC, writes PROD and waits: VIOMMU_EIO when the queue stopped on an error (the
 * global error handler then ran and skipped the bad command, as arm_smmu_cmdq_skip_err()).
 */
int vg_smmu_cmd(struct vg_smmu *d, const uint64_t cmd[2]);
int vg_smmu_sync(struct vg_smmu *d);

/* One event record (4 words) or PRI record (2 words). */
typedef void (*vg_smmu_record_fn)(void *opaque, const uint64_t *rec);

/* Event queue handler (arm_smmu_evtq_thread): records from CONS to PROD, overflow acknowledged. */
int vg_smmu_handle_evtq(struct vg_smmu *d, vg_smmu_record_fn fn, void *opaque);
int vg_smmu_handle_priq(struct vg_smmu *d, vg_smmu_record_fn fn, void *opaque);
/* Global error handler: returns the active errors it acknowledged. */
uint32_t vg_smmu_handle_gerror(struct vg_smmu *d);
int vg_smmu_pri_resp(struct vg_smmu *d, uint32_t sid, uint32_t ssid, bool ssv, uint32_t prgidx,
		     uint32_t resp);

/* Guest-physical addresses of @sid's STE (0 when its level-2 table is absent), of a CD. */
uint64_t vg_smmu_ste_addr(const struct vg_smmu *d, uint32_t sid);
uint64_t vg_smmu_cd_addr(const struct vg_smmu *d, uint32_t sid, uint32_t ssid);
uint64_t vg_smmu_cmdq_base(const struct vg_smmu *d);
uint64_t vg_smmu_evtq_base(const struct vg_smmu *d);
/* A free page (4 KiB) from the pool. */
int vg_smmu_alloc_page(struct vg_smmu *d, uint64_t *gpa);
/* Root table of a domain (created on first use). */
int vg_smmu_domain_root(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t *root);
/* Page sizes the domains map with (bit n: 2^n). */
uint64_t vg_smmu_pgsizes(const struct vg_smmu *d);

void vg_smmu_get_stats(const struct vg_smmu *d, struct vg_smmu_stats *st);

#endif /* VIOMMU_GUEST_SMMUV3_DRIVER_H */
