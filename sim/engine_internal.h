/* SPDX-License-Identifier: MIT */
/*
 * viommu-sim's engine, inside the simulator: one run's state (struct eng) and the back-end
 * placements (engine.h's enum sim_placement) as ops tables, one file each: place_emulated.c,
 * place_vhost.c, place_assigned.c, place_nested.c, place_sidecore.c, place_hwv.c, place_xen.c. A placement decides where
 * the device's DMA is translated, which resource pays for the back-end's work and which thread
 * serves the vIOMMU; the engine (engine.c) dispatches through its ops and never tests which
 * placement it runs. A new placement adds a file and its entry in
 * engine.c's sim_places[].
 */
#ifndef VIOMMU_SIM_ENGINE_INTERNAL_H
#define VIOMMU_SIM_ENGINE_INTERNAL_H

#include <viommu/devtlb.h>
#include <viommu/flatmem.h>

#include "engine.h"

#define PAGE 4096ull
#define MiB (1ull << 20)
#define RAM_SIZE (96 * MiB)
#define SID 0x0100 /* 01:00.0, the NIC or disk */
#define MAX_ELEMS 64

struct elem {
	uint64_t gpa, dma, len;
	uint32_t perm;
	uint64_t used; /* receive: bytes the device wrote */
};

struct eng {
	struct sim_params p;
	const struct sim_costs *c;
	struct viommu_flatmem *mem;
	struct sim_iommu *iommu;
	struct viommu *v;
	struct vg_dma *dma;
	enum sim_res be; /* the back-end's resource */
	double acct[SIM_RES_NR][SIM_EV_NR];
	/*
	 * Who the VMM's work was for (the rest of acct[SIM_RES_VMM] is its own: the emulated
	 * back-end's packets): the vCPU's exits and requests, and the vhost worker's misses. The
	 * queueing waits of each depend on the others' work (engine.c, finish()).
	 */
	double vmm_for_vcpu[SIM_EV_NR], vmm_for_backend[SIM_EV_NR];
	const struct sim_place_ops *pl; /* the back-end's placement */
	void *place;			/* its state */
	/* What the placement did, charged by the engine: vhost */
	uint64_t inv_msgs; /* VMM -> back-end IOTLB messages and their replies */
	/* assigned: the VFIO calls made and the host IOMMU's invalidations */
	uint64_t vfio_maps, vfio_map_pages, vfio_unmaps, vfio_unmap_pages, hw_inv;
	/* nested: the L1 VMM's VFIO calls and L1's vIOMMU (its traps to L0, ops, table reads) */
	uint64_t l1_maps, l1_map_pages, l1_unmaps, l1_unmap_pages, l1_exits, l1_ops, l1_reads;
	/* guest memory allocators */
	uint64_t frag_chunk, frag_off, hdr_next;
	/* TX: elements of the skbs sent and not yet reclaimed */
	struct elem txq[MAX_ELEMS * 4];
	unsigned int ntxq;
	/* RX: posted receive buffers, a ring */
	struct elem *rxring;
	unsigned int rx_head, rx_count;
	uint32_t rx_buf_len;
	uint8_t *scratch;
	uint64_t now_ns, dt_ns;
	uint64_t checked;
	uint64_t seq;
	uint8_t *pattern; /* PATTERN pseudo-random bytes from the seed */
};

/* One back-end placement. */
struct sim_place_ops {
	const char *name;
	enum sim_res backend;  /* the resource that pays for the back-end's work */
	bool kick_exits;       /* a doorbell traps (not one in an assigned device's BAR) */
	enum sim_ev irq;       /* how the device's interrupt reaches the guest */
	bool backend_work;     /* software handles each packet or request (not the device) */
	bool backend_syscall;  /* and makes a syscall for it (QEMU's tap read/write, preadv) */
	bool needs_map_events; /* the VMM must learn the guest's new mappings (VT-d: caching mode) */
	bool l2_traps;	       /* the guest is L2: its traps go to L1's VMM through L0 */
	bool side_iommu;       /* a side core polls the vIOMMU's registers and queues: no traps */
	bool hw_viommu; /* the IOMMU runs the guest's commands; only control and DTE writes trap */
	/* Seed 003 (place_xen.c): a real IOMMU the OS or Xen drives itself. */
	bool cpu_iommu;	     /* no traps: register accesses and TCE stores are the CPU's own */
	bool hypercalls;     /* and each IOMMU operation is a Xen hypercall */
	bool dma_in_backend; /* the DMA API runs in the driver domain (the backend resource) */
	bool grant_ops;	     /* split driver: grant map + unmap per page, event notifications */
	bool grant_iommu;    /* the IOMMU maps ride the grant ops: no crossing of their own */
	/* After the model and before the DMA strategy; NULL: nothing to set up. */
	int (*setup)(struct eng *e);
	/* Releases what setup made, also after a setup that failed half way; NULL: nothing. */
	void (*fini)(struct eng *e);
	/*
	 * The device accesses @iova (@acc) for up to @want bytes: the host pointer to its first
	 * byte and how many bytes from there (at least 1, at most @want) it may copy.
	 */
	int (*dma)(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		   uint64_t *len);
	/* The end of a unit of work: its quiescent point, and an error a callback kept; or NULL. */
	int (*unit_end)(struct eng *e);
	/* The back-end's device-IOTLB statistics: false when it has none; or NULL. */
	bool (*devtlb_stats)(const struct eng *e, struct viommu_devtlb_stats *s);
};

extern const struct sim_place_ops sim_place_emulated;
extern const struct sim_place_ops sim_place_vhost;
extern const struct sim_place_ops sim_place_assigned;
extern const struct sim_place_ops sim_place_nested;
extern const struct sim_place_ops sim_place_sidecore;
extern const struct sim_place_ops sim_place_hwviommu;
extern const struct sim_place_ops sim_place_baremetal;
extern const struct sim_place_ops sim_place_dom0;
extern const struct sim_place_ops sim_place_domu;
extern const struct sim_place_ops sim_place_domu_grant;

/* The assigned placement's host IOMMU (place_assigned.c), shared with the sidecore placement. */
int sim_assigned_setup(struct eng *e);
void sim_assigned_fini(struct eng *e);
int sim_assigned_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, uint8_t **host,
		     uint64_t *len);
int sim_assigned_unit_end(struct eng *e);

static inline void acct(struct eng *e, enum sim_res r, enum sim_ev ev, double n)
{
	e->acct[r][ev] += n;
}

static inline uint8_t *gptr(struct eng *e, uint64_t gpa, uint64_t len)
{
	return viommu_flatmem_ptr(e->mem, gpa, len);
}

/*
 * Guest memory a translation gave: [@gpa, @gpa + @n) clipped to @want, as a host pointer in
 * *@host and its length in *@len (VIOMMU_EIO when empty, VIOMMU_EFAULT outside guest RAM).
 */
int sim_eng_guest_range(struct eng *e, uint64_t gpa, uint64_t n, uint64_t want, uint8_t **host,
			uint64_t *len);

/*
 * A device's DMA through an IOMMU the hardware walks itself (e->v, set: a real IOMMU or the
 * hardware vIOMMU), one lookup per 4 KiB page; its IOTLB hit or miss (a walk that read memory)
 * is charged to the device, a miss also as SIM_EV_HW_NESTED when @nested (each table read goes
 * through the host's table: a 2D walk). Then as sim_eng_guest_range().
 */
int sim_eng_hw_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, bool nested,
		   uint8_t **host, uint64_t *len);

#endif /* VIOMMU_SIM_ENGINE_INTERNAL_H */
