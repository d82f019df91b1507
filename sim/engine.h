/* SPDX-License-Identifier: MIT */
/*
 * viommu-sim's engine: one run of a workload over a device placement and a DMA-API strategy on a
 * model, executing the model code for every DMA and counting every event, then turning counts
 * into time with the cost model (docs/cost-model.md §5-§6).
 */
#ifndef VIOMMU_SIM_ENGINE_H
#define VIOMMU_SIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "cost.h"
#include "dma.h"
#include "iommu.h"

/* Where the device's back-end runs (seeds 000, 002, 004). */
enum sim_placement {
	SIM_EMULATED, /* in the VMM: every DMA is translated on the VMM's own path */
	SIM_VHOST,    /* vhost back-end with a device IOTLB; misses are served by the VMM */
	SIM_ASSIGNED, /* real hardware behind the host IOMMU, kept in sync with the guest's maps */
	SIM_NESTED,   /* assigned to an L2 guest through L1: shadowed by L1's VMM, then by L0's */
	SIM_SIDECORE, /* assigned; the vIOMMU is served by a side core polling it (ATC'11): no exits */
	SIM_HWVIOMMU, /* assigned behind AMD's hardware vIOMMU: guest v2 nested over host v1 (seed 001) */
	/* Seed 003: the OS, or Xen for a domain, drives a real IOMMU itself (place_xen.c). */
	SIM_BAREMETAL, /* no hypervisor: TCE stores, register accesses (blasts), no exits */
	SIM_DOM0, /* direct access: a dom0-like domain owns the NIC, IOMMU through hypercalls */
	SIM_DOMU, /* driver domain: a domU's netfront, the driver domain's netback and NIC */
	SIM_DOMU_GRANT, /* as domU, IOMMU maps made by Xen's grant-table ops (no DMA-API crossing) */
	SIM_PLACEMENT_NR
};

enum sim_workload {
	SIM_WL_STREAM_TX, /* TCP-stream-like send of msg_size messages */
	SIM_WL_STREAM_RX, /* TCP-stream-like receive */
	SIM_WL_POLL,	  /* DPDK-like poll mode: fixed mappings, receive and send back */
	SIM_WL_BLOCK,	  /* block reads of msg_size bytes at a queue depth */
	SIM_WL_NR
};

/*
 * Resources of docs/cost-model.md §6.1 (plus the disk of the block workload). The threads are the
 * vCPU, the VMM's main loop under its global lock (vmm), the vhost worker and a side core.
 */
enum sim_res {
	SIM_RES_VCPU,
	SIM_RES_VMM,
	SIM_RES_BACKEND,
	SIM_RES_DEV,
	SIM_RES_WIRE,
	SIM_RES_DISK,
	SIM_RES_SIDE,
	SIM_RES_LATENCY,
	SIM_RES_NR
};

/* Counted events (docs/cost-model.md §5). */
#define SIM_EV_LIST(X)                        \
	X(EXIT_MMIO, "exit.user_mmio")        \
	X(KICK, "kick.ioeventfd")             \
	X(WAKEUP, "vmm.wakeup")               \
	X(IRQ_EXIT, "irq.exit")               \
	X(IRQ_POSTED, "irq.posted")           \
	X(VMM_OP, "vmm.op")                   \
	X(WALK_READ, "pt.read_sw")            \
	X(DEVTLB_LOOKUP, "devtlb.lookup")     \
	X(MSG, "msg.sock")                    \
	X(DMA_MAP, "dma.map")                 \
	X(DMA_UNMAP, "dma.unmap")             \
	X(INV_HW, "inv.hw_sync")              \
	X(VFIO_CALL, "host.vfio_call")        \
	X(VFIO_PIN, "host.vfio_pin_page")     \
	X(VFIO_UNPIN, "host.vfio_unpin_page") \
	X(HOST_MAP, "host.iommu_map")         \
	X(HOST_UNMAP, "host.iommu_unmap")     \
	X(HW_MISS, "dma.hw_iotlb_miss")       \
	X(HW_HIT, "dma.hw_iotlb_hit")         \
	X(STACK_TX, "stack.tx_pkt")           \
	X(STACK_RX, "stack.rx_pkt")           \
	X(RX_FRAME, "stack.rx_frame")         \
	X(SYSCALL, "syscall")                 \
	X(COPY_BYTES, "copy.bytes")           \
	X(VHOST_PKT, "vhost.pkt")             \
	X(PMD_PKT, "pmd.pkt")                 \
	X(BLK_REQ, "blk.req")                 \
	X(WIRE_BYTES, "wire.bytes")           \
	X(DISK_BYTES, "disk.bytes")           \
	X(DISK_IO, "disk.io")                 \
	X(EXIT_L2, "exit.l2_user")            \
	X(IRQ_L2, "irq.l2")                   \
	X(L1_VFIO_CALL, "l1.vfio_call")       \
	X(L1_PIN, "l1.vfio_pin_page")         \
	X(L1_UNPIN, "l1.vfio_unpin_page")     \
	X(L1_IOMMU_MAP, "l1.iommu_map")       \
	X(L1_IOMMU_UNMAP, "l1.iommu_unmap")   \
	X(KICK_MMIO, "kick.mmio")             \
	X(SIDE_HANDOFF, "side.handoff")       \
	X(MMIO_DIRECT, "mmio.direct")         \
	X(HWV_CMD, "hwv.guest_cmd")           \
	X(HW_NESTED, "dma.hw_nested_walk")    \
	X(HCALL, "xen.hypercall")             \
	X(GRANT_OP, "xen.grant_op")           \
	X(TCE_WRITE, "tce.write")             \
	X(MMIO_NATIVE, "mmio.native")

#define SIM_EV_ENUM(id, name) SIM_EV_##id,
enum sim_ev { SIM_EV_LIST(SIM_EV_ENUM) SIM_EV_NR };
#undef SIM_EV_ENUM

/* A named configuration: a model and how the guest drives it. */
struct sim_config {
	char name[48];
	enum sim_model model;
	bool caching_mode;
	bool ats;
	bool push; /* vhost: the VMM sends an UPDATE for every MAP it sees (needs caching mode) */
	enum vg_dma_strategy strategy;
	bool v2;   /* AMD-Vi: guest (v2) tables for DMA (GTSup, GIoV), as amd_iommu=pgtbl_v2 */
	bool mmio; /* virtio-iommu on virtio-mmio (seed 000's prototypes), not virtio-pci */
};

struct sim_params {
	struct sim_config cfg;
	enum sim_placement placement;
	enum sim_workload workload;
	uint32_t msg_size; /* stream: bytes per send/recv; poll: frame size; block: request size */
	uint32_t mtu;	   /* 0: 1500 */
	bool no_tso;	   /* segment in the guest (and no host GSO to the guest) */
	uint32_t ring;	   /* descriptors per ring; 0: 256 */
	uint32_t qd;	   /* block: queue depth; 0: 32 */
	uint32_t vcpus;	   /* vCPUs sharing the guest work evenly (N_vcpu); 0: 1 */
	uint32_t units;	   /* measured units; 0: chosen from msg_size */
	uint32_t warmup;   /* units run before counting; 0: chosen */
	uint64_t seed;
};

struct sim_result {
	struct sim_params p;
	bool supported;
	char why[160]; /* unsupported: the reason; else notes */
	uint64_t units;
	double n[SIM_RES_NR][SIM_EV_NR]; /* mean count of each event per unit, per resource */
	double busy_ns[SIM_RES_NR];	 /* per unit: B_r (latency: L_unit), waits included */
	/*
	 * Queueing: a thread that needs another thread (the vCPU's exits to the VMM and requests it
	 * serves, the vhost worker's misses) waits behind that thread's other work; waits[r] is how
	 * many such waits thread r has per unit, wait_ns[r] their total per unit (in busy_ns[r]).
	 */
	double waits[SIM_RES_NR], wait_ns[SIM_RES_NR];
	enum sim_res thread; /* the busiest thread: vcpu, vmm, vhost or sidecore */
	double thread_util;
	double rate; /* units per second */
	enum sim_res bottleneck;
	double payload_bytes; /* per unit */
	double throughput_mbps;
	double util[SIM_RES_NR];
	double exits_per_unit;	       /* VM exits: trapped MMIO, kicks, exit-injected interrupts */
	double invalidations_per_unit; /* invalidation commands the guest issued */
	double iotlb_hit_rate;	       /* vIOMMU IOTLB; < 0 when the model has none or none ran */
	double devtlb_hit_rate;	       /* back-end device IOTLB; < 0 when not used */
	double hw_iotlb_hit_rate;      /* host IOMMU IOTLB (assigned); < 0 when not used */
	double maps_per_unit, unmaps_per_unit, map_pages_per_unit, flushes_per_unit;
	double translations_per_unit; /* by the vIOMMU model (emulated path and miss service) */
	double bounce_bytes_per_unit;
	double vfio_calls_per_unit, devtlb_misses_per_unit, frames_per_unit;
	double l1_calls_per_unit; /* nested: the L1 VMM's VFIO calls (vfio_calls_per_unit: L0's) */
	uint64_t fq_timeouts;
	uint32_t passes;    /* deferred strategies: fixed-point passes over the flush timer */
	uint64_t gap_costs; /* bit k: GAP cost k contributed a nonzero term (cost value may be 0) */
	uint64_t checked_bytes; /* payload bytes whose content was verified end to end */
};

const char *sim_placement_name(enum sim_placement p);
const char *sim_workload_name(enum sim_workload w);
const char *sim_res_name(enum sim_res r);
const char *sim_ev_name(enum sim_ev e);

/* What one event costs on resource @r, in ns (per byte for the byte events). */
double sim_ev_cost(const struct sim_costs *c, enum sim_ev ev, enum sim_res r);

/*
 * Run @p. Returns 0 with r->supported false (and r->why) for a combination that cannot work (an
 * assigned device behind VT-d without caching mode), or a negative code when the simulation
 * itself failed (a model error or a data mismatch: both are bugs).
 */
int sim_run(const struct sim_params *p, const struct sim_costs *c, struct sim_result *r);

#endif /* VIOMMU_SIM_ENGINE_H */
