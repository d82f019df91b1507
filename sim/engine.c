// SPDX-License-Identifier: MIT
/*
 * viommu-sim engine; see engine.h and docs/cost-model.md.
 *
 * One run builds a guest (flat memory, a vIOMMU with its guest driver, the DMA-API strategy), a
 * device back-end in the chosen placement and a workload, runs warm-up units, then measured units,
 * and charges every event to the resource that pays for it:
 *  - guest work (stack, copies, DMA-API page-table updates) to the vCPU;
 *  - VMM work caused by a guest operation (a trapped register write, a virtio-iommu request, the
 *    walks and host calls they make) to the VMM and to the vCPU, which either runs it on its own
 *    thread (QEMU's MMIO exits) or waits for it (a synchronous request);
 *  - back-end work to the VMM (emulated), the vhost worker (vhost) or the device (assigned);
 *  - frames to the wire, reads to the disk.
 * Counts come from the model code itself (its statistics, and a counting shim on its guest-memory
 * reads), never from formulas, so batching, deferral and caching show up as fewer events.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

#define ARENA_BASE (8 * MiB) /* driver tables and queues */
#define ARENA_SIZE (16 * MiB)
#define HDR_BASE (24 * MiB) /* skb heads (kmalloc) */
#define HDR_SIZE (256 * 1024)
/*
 * Packet data, receive buffers, mbufs and block data. Linux hands freed pages straight back to
 * the next allocation (per-CPU lists, page_frag reuse), so the buffers a driver maps cycle through
 * a working set about the size of what is in flight, not through all of RAM.
 */
#define BUF_BASE (32 * MiB)
#define BUF_SIZE (4 * MiB)
#define POOL_BASE (64 * MiB) /* persistent strategy's premapped pool */
#define POOL_SIZE (32 * MiB)
#define PATTERN (256 * 1024)

#define FRAG_CHUNK (32 * 1024) /* Linux page_frag: order-3 pages */
#define HDR_SLOT 256	       /* skb head: virtio_net_hdr + Ethernet/IPv4/TCP headers, kmalloc */
#define VNET_HDR 12	       /* struct virtio_net_hdr_mrg_rxbuf */
#define L2L4_HDR 66	       /* Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12 */
#define L3L4_HDR 52	       /* on the wire per frame besides the L3 payload: IP + TCP + TS */
#define GSO_MAX 65536
#define MAX_TCP_HEADER 320 /* headroom Linux subtracts from gso_max_size for the size goal */

struct snap {
	struct sim_iommu_counts ic;
	uint64_t inv_msgs;
	uint64_t vfio_maps, vfio_map_pages, vfio_unmaps, vfio_unmap_pages, hw_inv;
	uint64_t l1_maps, l1_map_pages, l1_unmaps, l1_unmap_pages, l1_exits, l1_ops, l1_reads;
	struct vg_dma_stats ds;
};

/* ------------------------------------------------------------------------------------------ */
/* Names                                                                                       */
/* ------------------------------------------------------------------------------------------ */

#define SIM_EV_NAME(id, name) name,
static const char *const ev_names[SIM_EV_NR] = { SIM_EV_LIST(SIM_EV_NAME) };
#undef SIM_EV_NAME

const char *sim_ev_name(enum sim_ev e)
{
	return e < SIM_EV_NR ? ev_names[e] : "?";
}

/* The placements, one file each. */
static const struct sim_place_ops *const sim_places[SIM_PLACEMENT_NR] = {
	[SIM_EMULATED] = &sim_place_emulated,	  /* QEMU's device model */
	[SIM_VHOST] = &sim_place_vhost,		  /* a vhost worker with a device IOTLB */
	[SIM_ASSIGNED] = &sim_place_assigned,	  /* VFIO, shadowed host IOMMU */
	[SIM_NESTED] = &sim_place_nested,	  /* VFIO through L1 */
	[SIM_SIDECORE] = &sim_place_sidecore,	  /* VFIO, the vIOMMU on a polling side core */
	[SIM_HWVIOMMU] = &sim_place_hwviommu,	  /* VFIO, AMD's hardware vIOMMU (nested) */
	[SIM_BAREMETAL] = &sim_place_baremetal,	  /* no hypervisor */
	[SIM_DOM0] = &sim_place_dom0,		  /* Xen dom0, direct access */
	[SIM_DOMU] = &sim_place_domu,		  /* Xen domU through a driver domain */
	[SIM_DOMU_GRANT] = &sim_place_domu_grant, /* the same, grant-table integration */
};

const char *sim_placement_name(enum sim_placement p)
{
	return p < SIM_PLACEMENT_NR ? sim_places[p]->name : "?";
}

const char *sim_workload_name(enum sim_workload w)
{
	static const char *const n[SIM_WL_NR] = { "tx", "rx", "poll", "block" };

	return w < SIM_WL_NR ? n[w] : "?";
}

const char *sim_res_name(enum sim_res r)
{
	static const char *const n[SIM_RES_NR] = { "vcpu", "vmm",  "vhost",    "device",
						   "wire", "disk", "sidecore", "latency" };

	return r < SIM_RES_NR ? n[r] : "?";
}

/* ------------------------------------------------------------------------------------------ */
/* Accounting                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * VMM work a guest operation caused: the vCPU runs it (an exit handled on its thread under the
 * VMM's lock) or spins until the thread serving it is done (a request, a side core's command).
 */
static void acct_vmm(struct eng *e, enum sim_ev ev, double n)
{
	acct(e, SIM_RES_VCPU, ev, n);
	if (e->pl->side_iommu) {
		acct(e, SIM_RES_SIDE, ev, n);
		return;
	}
	acct(e, SIM_RES_VMM, ev, n);
	e->vmm_for_vcpu[ev] += n;
}

static void snap_take(const struct eng *e, struct snap *s)
{
	if (e->iommu)
		sim_iommu_counts(e->iommu, &s->ic);
	else
		memset(&s->ic, 0, sizeof(s->ic));
	s->inv_msgs = e->inv_msgs;
	s->vfio_maps = e->vfio_maps;
	s->vfio_map_pages = e->vfio_map_pages;
	s->vfio_unmaps = e->vfio_unmaps;
	s->vfio_unmap_pages = e->vfio_unmap_pages;
	s->hw_inv = e->hw_inv;
	s->l1_maps = e->l1_maps;
	s->l1_map_pages = e->l1_map_pages;
	s->l1_unmaps = e->l1_unmaps;
	s->l1_unmap_pages = e->l1_unmap_pages;
	s->l1_exits = e->l1_exits;
	s->l1_ops = e->l1_ops;
	s->l1_reads = e->l1_reads;
	vg_dma_get_stats(e->dma, &s->ds);
}

/*
 * Charge what happened since @b during a guest DMA-API operation (map, unmap, sync, flush, timer):
 * the guest's page-table work, its traps and kicks, and everything the VMM did for them.
 */
static void guest_phase_end(struct eng *e, const struct snap *b)
{
	struct snap a;
	uint64_t kicks, ops, reqs, reads;
	enum sim_res who;

	snap_take(e, &a);
	/* A driver domain's DMA API runs on its own CPU, not the guest's. */
	who = e->pl->dma_in_backend ? SIM_RES_BACKEND : SIM_RES_VCPU;
	acct(e, who, SIM_EV_DMA_MAP, (double)(a.ds.map_pages - b->ds.map_pages));
	acct(e, who, SIM_EV_DMA_UNMAP, (double)(a.ds.unmap_pages - b->ds.unmap_pages));
	acct(e, who, SIM_EV_COPY_BYTES, (double)(a.ds.bounce_bytes - b->ds.bounce_bytes));
	kicks = a.ic.kicks - b->ic.kicks;
	/*
	 * A virtio-iommu request is one unit of the VMM's work priced on its own (vmm_viommu_req:
	 * parsing the request, the mapping tree, the reply), not as one register or descriptor.
	 */
	reqs = a.ic.requests - b->ic.requests;
	ops = a.ic.ops - b->ic.ops - reqs;
	reads = a.ic.table_reads - b->ic.table_reads;
	if (e->pl->cpu_iommu) {
		/*
		 * Seed 003: the OS (or Xen for it) drives the chip: its register accesses (blasts)
		 * and TCE stores cost the CPU, each IOMMU operation is a hypercall under Xen (unless
		 * it rides a grant op); the chip's own table reads are not software's. VT-d on bare
		 * metal: descriptors are stores to the queue, and each wait descriptor is the CPU
		 * spinning until the hardware has invalidated (iotlb_inv_hw, the whole interaction).
		 */
		acct(e, who, SIM_EV_MMIO_NATIVE, (double)(a.ic.native_mmio - b->ic.native_mmio));
		acct(e, who, SIM_EV_TCE_WRITE, (double)(a.ic.tce_writes - b->ic.tce_writes));
		acct(e, who, SIM_EV_INV_HW,
		     (double)(a.ic.completion_waits - b->ic.completion_waits));
		if (e->pl->hypercalls && !e->pl->grant_iommu)
			acct(e, who, SIM_EV_HCALL, (double)(a.ic.crossings - b->ic.crossings));
		kicks = 0;
		ops = 0;
		reqs = 0;
		reads = 0;
	} else if (e->pl->hw_viommu) {
		/*
		 * AMD's hardware vIOMMU (struct viommu_amdvi_hwv_stats): pointer-page accesses go to
		 * the VF MMIO page without an exit; commands are fetched and run by the IOMMU (its
		 * reads are not the VMM's), the vCPU waiting on each completion as on bare metal. The
		 * rest of the registers (the control page) and each DTE update trap to the VMM, which
		 * forwards a DTE to the host driver (one host call).
		 */
		uint64_t direct = a.ic.direct_mmio - b->ic.direct_mmio;
		uint64_t dte = a.ic.dte_writes - b->ic.dte_writes;
		uint64_t trapped = a.ic.mmio_exits - b->ic.mmio_exits - direct;

		acct_vmm(e, SIM_EV_EXIT_MMIO, (double)(trapped + dte));
		acct(e, SIM_RES_VCPU, SIM_EV_MMIO_DIRECT, (double)direct);
		acct(e, SIM_RES_VCPU, SIM_EV_HWV_CMD, (double)(a.ic.commands - b->ic.commands));
		acct(e, SIM_RES_VCPU, SIM_EV_INV_HW,
		     (double)(a.ic.completion_waits - b->ic.completion_waits));
		acct_vmm(e, SIM_EV_VFIO_CALL, (double)dte);
		ops = trapped + dte;
		reads = 0;
	} else if (e->pl->side_iommu) {
		/*
		 * The side core sees each register store or queue kick as a written line it polls,
		 * and the vCPU sees the completion the same way: two transfers each, no exit.
		 */
		acct_vmm(e, SIM_EV_SIDE_HANDOFF,
			 2.0 * (double)(a.ic.mmio_exits - b->ic.mmio_exits + kicks));
	} else {
		acct_vmm(e, e->pl->l2_traps ? SIM_EV_EXIT_L2 : SIM_EV_EXIT_MMIO,
			 (double)(a.ic.mmio_exits - b->ic.mmio_exits));
		/*
		 * virtio-pci's notify completes in the kernel through an ioeventfd; virtio-mmio's
		 * (a 4-byte QueueNotify write with a data match) is decoded first.
		 */
		acct(e, SIM_RES_VCPU, e->p.cfg.mmio ? SIM_EV_KICK_MMIO : SIM_EV_KICK,
		     (double)kicks);
		/*
		 * The request is served by the VMM's event loop: the vCPU spins until that thread has
		 * woken up (and taken the lock: queueing, finish()) and answered.
		 */
		acct(e, SIM_RES_VCPU, SIM_EV_WAKEUP, (double)kicks);
	}
	acct_vmm(e, SIM_EV_VMM_OP, (double)ops);
	acct_vmm(e, SIM_EV_VIOMMU_REQ, (double)reqs);
	acct_vmm(e, SIM_EV_WALK_READ, (double)reads);
	/* Device-IOTLB invalidations to the vhost back-end: message and acknowledgement. */
	acct_vmm(e, SIM_EV_MSG, (double)(a.inv_msgs - b->inv_msgs));
	acct(e, SIM_RES_BACKEND, SIM_EV_MSG, (double)(a.inv_msgs - b->inv_msgs));
	/* Shadow sync of an assigned device: VFIO calls from the VMM. */
	acct_vmm(e, SIM_EV_VFIO_CALL,
		 (double)(a.vfio_maps - b->vfio_maps + a.vfio_unmaps - b->vfio_unmaps));
	acct_vmm(e, SIM_EV_VFIO_PIN, (double)(a.vfio_map_pages - b->vfio_map_pages));
	acct_vmm(e, SIM_EV_HOST_MAP, (double)(a.vfio_maps - b->vfio_maps));
	acct_vmm(e, SIM_EV_VFIO_UNPIN, (double)(a.vfio_unmap_pages - b->vfio_unmap_pages));
	acct_vmm(e, SIM_EV_HOST_UNMAP, (double)(a.vfio_unmaps - b->vfio_unmaps));
	acct_vmm(e, SIM_EV_INV_HW, (double)(a.hw_inv - b->hw_inv));
	/*
	 * Nested: the L1 VMM's VFIO calls into L1's kernel (no exit: syscalls, pins and page-table
	 * writes inside L1), and L1's vIOMMU invalidations, each an ordinary L1 exit to L0's VMM.
	 */
	acct_vmm(e, SIM_EV_L1_VFIO_CALL,
		 (double)(a.l1_maps - b->l1_maps + a.l1_unmaps - b->l1_unmaps));
	acct_vmm(e, SIM_EV_L1_PIN, (double)(a.l1_map_pages - b->l1_map_pages));
	acct_vmm(e, SIM_EV_L1_IOMMU_MAP, (double)(a.l1_maps - b->l1_maps));
	acct_vmm(e, SIM_EV_L1_UNPIN, (double)(a.l1_unmap_pages - b->l1_unmap_pages));
	acct_vmm(e, SIM_EV_L1_IOMMU_UNMAP, (double)(a.l1_unmaps - b->l1_unmaps));
	acct_vmm(e, SIM_EV_EXIT_MMIO, (double)(a.l1_exits - b->l1_exits));
	acct_vmm(e, SIM_EV_VMM_OP, (double)(a.l1_ops - b->l1_ops));
	acct_vmm(e, SIM_EV_WALK_READ, (double)(a.l1_reads - b->l1_reads));
}

/* ------------------------------------------------------------------------------------------ */
/* Guest memory                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* page_frag: carve @len bytes from 32 KiB chunks of the buffer area (never across a chunk). */
static uint64_t frag_alloc(struct eng *e, uint64_t len)
{
	uint64_t at;

	if (e->frag_off + len > FRAG_CHUNK) {
		e->frag_chunk = (e->frag_chunk + FRAG_CHUNK) % BUF_SIZE;
		e->frag_off = 0;
	}
	at = BUF_BASE + e->frag_chunk + e->frag_off;
	e->frag_off += (len + 63) & ~63ull;
	return at;
}

static uint64_t hdr_alloc(struct eng *e)
{
	uint64_t at = HDR_BASE + e->hdr_next;

	e->hdr_next = (e->hdr_next + HDR_SLOT) % HDR_SIZE;
	return at;
}

/*
 * Payload bytes are a function of (sequence, offset): a window into a seeded random block, so a
 * wrong translation, a stale mapping or a lost bounce copy cannot go unseen.
 */
static const uint8_t *pattern(const struct eng *e, uint64_t seq, uint64_t off)
{
	return e->pattern + (seq * 0x9e37ull) % (PATTERN / 2) + off;
}

static void fill(const struct eng *e, uint8_t *p, uint64_t len, uint64_t seq, uint64_t off)
{
	memcpy(p, pattern(e, seq, off), len);
}

static int check(struct eng *e, const uint8_t *p, uint64_t len, uint64_t seq, uint64_t off)
{
	if (memcmp(p, pattern(e, seq, off), len))
		return VIOMMU_EIO;
	e->checked += len;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Device DMA                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * The device reads (@acc READ: into @buf) or writes (@acc WRITE: from @buf) [dma, dma + len),
 * translated the way its placement translates.
 */
static int dev_dma(struct eng *e, uint64_t dma, uint8_t *buf, uint64_t len, uint32_t acc)
{
	uint64_t done = 0;

	while (done < len) {
		uint64_t iova = dma + done, want = len - done, n;
		uint8_t *host;
		int ret = e->pl->dma(e, iova, want, acc, &host, &n);

		if (ret)
			return ret;
		if (acc & VIOMMU_ACC_WRITE)
			memcpy(host, buf + done, n);
		else
			memcpy(buf + done, host, n);
		done += n;
	}
	return 0;
}

int sim_eng_guest_range(struct eng *e, uint64_t gpa, uint64_t n, uint64_t want, uint8_t **host,
			uint64_t *len)
{
	if (n > want)
		n = want;
	if (!n)
		return VIOMMU_EIO; /* a translation must cover its first byte */
	*host = gptr(e, gpa, n);
	if (!*host)
		return VIOMMU_EFAULT;
	*len = n;
	return 0;
}

int sim_eng_hw_dma(struct eng *e, uint64_t iova, uint64_t want, uint32_t acc, bool nested,
		   uint8_t **host, uint64_t *len)
{
	uint64_t n = PAGE - (iova & (PAGE - 1)), reads;
	struct viommu_xlate_req rq = { .sid = SID, .iova = iova, .access = acc };
	struct viommu_xlate_result rs;

	rq.len = n < want ? n : want;
	reads = sim_iommu_reads(e->iommu);
	if (viommu_translate(e->v, &rq, &rs) || !viommu_xlate_ok(&rs))
		return VIOMMU_EFAULT;
	/* A walk read memory: the IOTLB missed (a hit reads nothing). */
	if (sim_iommu_reads(e->iommu) != reads) {
		acct(e, SIM_RES_DEV, SIM_EV_HW_MISS, 1);
		if (nested)
			acct(e, SIM_RES_DEV, SIM_EV_HW_NESTED, 1);
	} else {
		acct(e, SIM_RES_DEV, SIM_EV_HW_HIT, 1);
	}
	return sim_eng_guest_range(e, rs.out, rs.len, rq.len, host, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Guest DMA-API calls                                                                         */
/* ------------------------------------------------------------------------------------------ */

static int map_elems(struct eng *e, struct elem *el, unsigned int n)
{
	struct snap b;
	int ret = 0;

	snap_take(e, &b);
	for (unsigned int i = 0; i < n && !ret; i++)
		ret = vg_dma_map(e->dma, 0, el[i].gpa, el[i].len, el[i].perm, &el[i].dma);
	if (!ret)
		ret = vg_dma_map_done(e->dma);
	guest_phase_end(e, &b);
	return ret;
}

static int unmap_elems(struct eng *e, const struct elem *el, unsigned int n)
{
	struct snap b;
	int ret = 0;

	snap_take(e, &b);
	for (unsigned int i = 0; i < n && !ret; i++)
		ret = vg_dma_unmap(e->dma, 0, el[i].gpa, el[i].dma, el[i].len, el[i].perm);
	guest_phase_end(e, &b);
	return ret;
}

static int tick(struct eng *e)
{
	struct snap b;
	int ret;

	e->now_ns += e->dt_ns;
	snap_take(e, &b);
	ret = vg_dma_tick(e->dma, e->now_ns);
	guest_phase_end(e, &b);
	return ret;
}

static void kick(struct eng *e)
{
	if (e->pl->kick_exits)
		acct(e, SIM_RES_VCPU, SIM_EV_KICK, 1);
}

static void interrupt(struct eng *e)
{
	enum sim_ev ev = e->pl->irq;

	/* Without posted interrupts (or ELI) a guest's device interrupt costs an injection exit. */
	if (e->p.cfg.irq_exit && ev == SIM_EV_IRQ_POSTED && !e->pl->cpu_iommu)
		ev = SIM_EV_IRQ_EXIT;
	acct(e, SIM_RES_VCPU, ev, 1);
}

/* Back-end per-packet work besides translation: descriptor handling, copy, tap hand-off. */
static void backend_pkt(struct eng *e, uint64_t bytes)
{
	if (e->pl->grant_ops) {
		/*
		 * Xen's split driver: netfront notifies (a hypercall), netback maps and unmaps each
		 * granted page (two grant ops) and notifies back.
		 */
		acct(e, SIM_RES_VCPU, SIM_EV_HCALL, 1);
		acct(e, e->be, SIM_EV_GRANT_OP, 2.0 * (double)((bytes + PAGE - 1) / PAGE));
		acct(e, e->be, SIM_EV_HCALL, 1);
	}
	if (!e->pl->backend_work)
		return;
	acct(e, e->be, SIM_EV_VHOST_PKT, 1);
	acct(e, e->be, SIM_EV_COPY_BYTES, (double)bytes);
	if (e->pl->backend_syscall)
		acct(e, e->be, SIM_EV_SYSCALL, 1); /* QEMU's tap read or write */
}

static uint32_t mss(const struct eng *e)
{
	return (e->p.mtu ? e->p.mtu : 1500) - L3L4_HDR;
}

static void wire(struct eng *e, uint64_t payload)
{
	uint64_t frames = (payload + mss(e) - 1) / mss(e);

	acct(e, SIM_RES_WIRE, SIM_EV_WIRE_BYTES,
	     (double)(payload + frames * (L3L4_HDR + sim_cost(e->c, SIM_COST_WIRE_OVERHEAD))));
}

/* ------------------------------------------------------------------------------------------ */
/* Workloads                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static int reclaim_tx(struct eng *e)
{
	int ret = unmap_elems(e, e->txq, e->ntxq);

	e->ntxq = 0;
	return ret;
}

/* One send() of msg_size bytes: the socket layer, one or more skbs, the NIC's transmit ring. */
static int unit_stream_tx(struct eng *e)
{
	uint64_t m = e->p.msg_size, off = 0, seq = e->seq++;
	uint64_t goal = e->p.no_tso ? mss(e) : (GSO_MAX - MAX_TCP_HEADER) / mss(e) * mss(e);
	int ret;

	/* Linux reaps finished transmit buffers at the next transmit. */
	ret = reclaim_tx(e);
	if (ret)
		return ret;
	acct(e, SIM_RES_VCPU, SIM_EV_SYSCALL, 1);
	acct(e, SIM_RES_VCPU, SIM_EV_COPY_BYTES, (double)m);
	while (off < m) {
		uint64_t len = m - off < goal ? m - off : goal, done = 0;
		struct elem el[MAX_ELEMS];
		unsigned int n = 0;

		el[n++] = (struct elem){ hdr_alloc(e), 0, VNET_HDR + L2L4_HDR, VIOMMU_ACC_READ, 0 };
		while (done < len) {
			uint64_t piece = len - done, at;

			if (piece > FRAG_CHUNK)
				piece = FRAG_CHUNK;
			if (e->frag_off + piece > FRAG_CHUNK && e->frag_off < FRAG_CHUNK &&
			    FRAG_CHUNK - e->frag_off >= 64)
				piece = FRAG_CHUNK - e->frag_off; /* fill the current chunk first */
			at = frag_alloc(e, piece);
			fill(e, gptr(e, at, piece), piece, seq, off + done);
			el[n++] = (struct elem){ at, 0, piece, VIOMMU_ACC_READ, 0 };
			done += piece;
		}
		ret = map_elems(e, el, n);
		if (ret)
			return ret;
		acct(e, SIM_RES_VCPU, SIM_EV_STACK_TX, 1);
		kick(e);
		/* The device fetches the headers and the payload. */
		done = 0;
		for (unsigned int i = 0; i < n; i++) {
			ret = dev_dma(e, el[i].dma, e->scratch, el[i].len, VIOMMU_ACC_READ);
			if (!ret && i > 0)
				ret = check(e, e->scratch, el[i].len, seq, off + done);
			if (ret)
				return ret;
			if (i > 0)
				done += el[i].len;
		}
		backend_pkt(e, len + VNET_HDR + L2L4_HDR);
		wire(e, len);
		memcpy(&e->txq[e->ntxq], el, n * sizeof(el[0]));
		e->ntxq += n;
		off += len;
	}
	return 0;
}

static int rx_post(struct eng *e, unsigned int n)
{
	unsigned int ring = e->p.ring ? e->p.ring : 256;
	struct elem *el = &e->rxring[0];
	unsigned int first = (e->rx_head + e->rx_count) % ring;
	int ret = 0;

	/* Refill: map every new buffer, then one sync (a batched strategy's one request). */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k = (first + i) % ring;

		el[k] = (struct elem){ frag_alloc(e, e->rx_buf_len), 0, e->rx_buf_len,
				       VIOMMU_ACC_WRITE, 0 };
	}
	{
		struct snap b;

		snap_take(e, &b);
		for (unsigned int i = 0; i < n && !ret; i++) {
			struct elem *x = &el[(first + i) % ring];

			ret = vg_dma_map(e->dma, 0, x->gpa, x->len, x->perm, &x->dma);
		}
		if (!ret)
			ret = vg_dma_map_done(e->dma);
		guest_phase_end(e, &b);
	}
	e->rx_count += n;
	if (n)
		kick(e);
	return ret;
}

/* One recv() of msg_size bytes: frames on the wire, receive buffers, the stack, the copy out. */
static int unit_stream_rx(struct eng *e)
{
	uint64_t m = e->p.msg_size, off = 0, seq = e->seq++;
	unsigned int ring = e->p.ring ? e->p.ring : 256;
	uint64_t pkt_max = e->p.no_tso ? mss(e) : (GSO_MAX - MAX_TCP_HEADER) / mss(e) * mss(e);
	unsigned int used = 0;
	int ret;

	wire(e, m);
	while (off < m) {
		uint64_t len = m - off < pkt_max ? m - off : pkt_max;
		uint64_t total = len + VNET_HDR + L2L4_HDR, put = 0;
		unsigned int first = used;

		/* The back-end writes one packet into as many merged buffers as it needs. */
		while (put < total) {
			struct elem *x;
			uint64_t n;

			if (used == e->rx_count)
				return VIOMMU_ENOSPC; /* ring too small for one message: a config error */
			x = &e->rxring[(e->rx_head + used) % ring];
			n = total - put < x->len ? total - put : x->len;
			if (put >= VNET_HDR + L2L4_HDR) {
				fill(e, e->scratch, n, seq, off + put - VNET_HDR - L2L4_HDR);
			} else {
				uint64_t h = VNET_HDR + L2L4_HDR - put;

				memset(e->scratch, 0, h < n ? h : n);
				if (h < n)
					fill(e, e->scratch + h, n - h, seq, off);
			}
			ret = dev_dma(e, x->dma, e->scratch, n, VIOMMU_ACC_WRITE);
			if (ret)
				return ret;
			x->used = n; /* what the used ring reports */
			put += n;
			used++;
		}
		backend_pkt(e, total);
		/* The guest takes the buffers back and checks what arrived. */
		put = 0;
		for (unsigned int k = first; k < used; k++) {
			struct elem *x = &e->rxring[(e->rx_head + k) % ring];
			uint64_t skip = put < VNET_HDR + L2L4_HDR ? VNET_HDR + L2L4_HDR - put : 0;

			ret = unmap_elems(e, x, 1);
			if (!ret && skip < x->used)
				ret = check(e, gptr(e, x->gpa + skip, x->used - skip),
					    x->used - skip, seq,
					    off + put + skip - VNET_HDR - L2L4_HDR);
			if (ret)
				return ret;
			put += x->used;
		}
		acct(e, SIM_RES_VCPU, SIM_EV_STACK_RX, 1);
		off += len;
	}
	interrupt(e);
	e->rx_head = (e->rx_head + used) % ring;
	e->rx_count -= used;
	ret = rx_post(e, used);
	if (ret)
		return ret;
	acct(e, SIM_RES_VCPU, SIM_EV_SYSCALL, 1);
	acct(e, SIM_RES_VCPU, SIM_EV_COPY_BYTES, (double)m);
	return 0;
}

/*
 * DPDK-like: the guest's poll-mode driver owns a fixed, premapped mbuf pool; each unit is one
 * frame received into an mbuf and sent back from it (testpmd 5tswap). Nobody kicks or
 * interrupts: both sides poll.
 */
#define MBUF 2048
static int unit_poll(struct eng *e)
{
	unsigned int ring = e->p.ring ? e->p.ring : 256;
	uint64_t seq = e->seq++, m = e->p.msg_size;
	uint64_t at = BUF_BASE + (seq % (2 * ring)) * MBUF;
	int ret;

	if (m > MBUF)
		return VIOMMU_EINVAL;
	fill(e, e->scratch, m, seq, 0);
	ret = dev_dma(e, at, e->scratch, m, VIOMMU_ACC_WRITE);
	if (!ret)
		ret = check(e, gptr(e, at, m), m, seq, 0);
	if (!ret)
		ret = dev_dma(e, at, e->scratch, m, VIOMMU_ACC_READ);
	if (!ret)
		ret = check(e, e->scratch, m, seq, 0);
	if (ret)
		return ret;
	acct(e, SIM_RES_VCPU, SIM_EV_PMD_PKT, 1);
	backend_pkt(e, m);
	backend_pkt(e, m);
	wire(e, m);
	return 0;
}

/* One read request of msg_size bytes: submit, map, doorbell, device writes, interrupt, unmap. */
static int unit_block(struct eng *e)
{
	uint64_t bs = e->p.msg_size, seq = e->seq++;
	uint32_t qd = e->p.qd ? e->p.qd : 32;
	uint64_t slot = (bs + PAGE - 1) & ~(PAGE - 1);
	struct elem el = { BUF_BASE + (seq % qd) * slot, 0, bs, VIOMMU_ACC_WRITE, 0 };
	int ret;

	acct(e, SIM_RES_VCPU, SIM_EV_SYSCALL, 1);
	acct(e, SIM_RES_VCPU, SIM_EV_BLK_REQ, 1);
	ret = map_elems(e, &el, 1);
	if (ret)
		return ret;
	kick(e);
	for (uint64_t done = 0; done < bs; done += PAGE) {
		uint64_t n = bs - done < PAGE ? bs - done : PAGE;

		fill(e, e->scratch, n, seq, done);
		ret = dev_dma(e, el.dma + done, e->scratch, n, VIOMMU_ACC_WRITE);
		if (ret)
			return ret;
	}
	if (e->pl->backend_work) {
		acct(e, e->be, SIM_EV_VHOST_PKT, 1);
		if (e->pl->backend_syscall)
			acct(e, e->be, SIM_EV_SYSCALL, 1); /* QEMU's preadv on the image */
	}
	acct(e, SIM_RES_DISK, SIM_EV_DISK_BYTES, (double)bs);
	acct(e, SIM_RES_LATENCY, SIM_EV_DISK_IO, 1);
	interrupt(e);
	ret = unmap_elems(e, &el, 1);
	if (!ret)
		ret = check(e, gptr(e, el.gpa, bs), bs, seq, 0);
	return ret;
}

static int run_unit(struct eng *e)
{
	int ret;

	switch (e->p.workload) {
	case SIM_WL_STREAM_TX:
		ret = unit_stream_tx(e);
		break;
	case SIM_WL_STREAM_RX:
		ret = unit_stream_rx(e);
		break;
	case SIM_WL_POLL:
		ret = unit_poll(e);
		break;
	default:
		ret = unit_block(e);
		break;
	}
	/* The back-end's end of a unit: a quiescent point, errors its callbacks could not return. */
	if (e->pl->unit_end) {
		int pret = e->pl->unit_end(e);

		if (!ret)
			ret = pret;
	}
	return ret ? ret : tick(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up and tear-down                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void eng_fini(struct eng *e)
{
	if (e->pl && e->pl->fini)
		e->pl->fini(e);
	vg_dma_destroy(e->dma);
	sim_iommu_destroy(e->iommu);
	viommu_flatmem_destroy(e->mem);
	free(e->rxring);
	free(e->scratch);
	free(e->pattern);
}

static int eng_init(struct eng *e, const struct sim_params *p, const struct sim_costs *c)
{
	struct vg_dma_config dc = {
		.strategy = p->cfg.strategy,
		.ram_base = 0,
		.ram_size = RAM_SIZE,
		.pool_base = POOL_BASE,
		.pool_size = POOL_SIZE,
	};
	unsigned int ring = p->ring ? p->ring : 256;
	int ret;

	memset(e, 0, sizeof(*e));
	e->p = *p;
	e->c = c;
	e->pl = sim_places[p->placement];
	e->be = e->pl->backend;
	e->scratch = malloc(GSO_MAX + PAGE);
	e->rxring = calloc(ring, sizeof(*e->rxring));
	e->pattern = malloc(PATTERN);
	if (!e->scratch || !e->rxring || !e->pattern)
		return VIOMMU_ENOMEM;
	{
		uint64_t x = p->seed * 0x9e3779b97f4a7c15ull + 1;

		for (size_t i = 0; i < PATTERN; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			e->pattern[i] = (uint8_t)(x >> 32);
		}
	}
	ret = viommu_flatmem_create(0, RAM_SIZE, &e->mem);
	if (ret)
		return ret;
	if (p->cfg.model != SIM_MODEL_NONE) {
		struct sim_iommu_config ic = {
			.model = p->cfg.model,
			.caching_mode = p->cfg.caching_mode,
			.ats = p->cfg.ats,
			.v2 = p->cfg.v2,
			.mem = e->mem,
			.arena = ARENA_BASE,
			.arena_size = ARENA_SIZE,
			.sid = SID,
			/*
			 * The hardware vIOMMU's IOTLB is the host IOMMU's, and nothing shadows it:
			 * it reports NpCache clear, as real AMD IOMMUs do.
			 */
			.iotlb_entries = e->pl->hw_viommu ?
						 (uint32_t)sim_cost(c, SIM_COST_HW_IOTLB_ENTRIES) :
						 0,
			.no_np_cache = e->pl->hw_viommu,
		};

		ret = sim_iommu_create(&ic, &e->iommu);
		if (ret)
			return ret;
		e->v = sim_iommu_model(e->iommu);
	}
	dc.iommu_ops = &sim_iommu_dma_ops;
	dc.iommu = e->iommu;
	dc.mem = e->mem;
	if (e->pl->setup) {
		ret = e->pl->setup(e);
		if (ret)
			return ret;
	}
	ret = vg_dma_create(&dc, &e->dma);
	if (ret)
		return ret;
	if (p->workload == SIM_WL_POLL && e->v && p->cfg.strategy != VG_DMA_IDENTITY) {
		/* DPDK maps its memory once at start, whatever the kernel's strategy. */
		ret = sim_iommu_map(e->iommu, BUF_BASE, BUF_BASE, 2 * MiB, VIOMMU_ACC_RW);
		if (ret)
			return ret;
	}
	if (p->workload == SIM_WL_STREAM_RX) {
		/* Mergeable buffers sized by Linux's EWMA of packet lengths, 1536 B to one page. */
		uint64_t want = p->msg_size + VNET_HDR + L2L4_HDR;

		e->rx_buf_len = want < 1536 ? 1536 : want > PAGE ? (uint32_t)PAGE : (uint32_t)want;
		ret = rx_post(e, ring);
	}
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Counts to time                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* The cost of one event in ns (per byte for byte events), and the costs it depends on. */
static double ev_cost(const struct sim_costs *c, enum sim_ev ev, enum sim_res r, uint64_t *deps)
{
#define DEP(k) (*deps |= 1ull << (k), sim_cost(c, (k)))
	*deps = 0;
	switch (ev) {
	case SIM_EV_EXIT_MMIO:
		/*
		 * The VMM's lock is taken after KVM_RUN returns to user space and dropped before it
		 * re-enters, so it is held for the user-space part only: the exit minus an exit the
		 * kernel completes (an upper bound: the return to user space is outside it too).
		 */
		if (r == SIM_RES_VMM)
			return fmax(0, DEP(SIM_COST_EXIT_USER_MMIO) - DEP(SIM_COST_EXIT_KERNEL));
		return DEP(SIM_COST_EXIT_USER_MMIO);
	case SIM_EV_KICK:
		return DEP(SIM_COST_KICK_IOEVENTFD);
	case SIM_EV_WAKEUP:
		return DEP(SIM_COST_VMM_WAKEUP);
	case SIM_EV_IRQ_EXIT:
		return DEP(SIM_COST_IRQ_INJECT_EXIT);
	case SIM_EV_IRQ_POSTED:
		return DEP(SIM_COST_IRQ_POSTED);
	case SIM_EV_VMM_OP:
		return DEP(SIM_COST_VMM_EMUL_OP);
	case SIM_EV_WALK_READ:
		return DEP(SIM_COST_SW_WALK_LEVEL);
	case SIM_EV_DEVTLB_LOOKUP:
		return DEP(SIM_COST_DEVTLB_LOOKUP);
	case SIM_EV_MSG:
		return DEP(SIM_COST_VMM_SOCK_MSG);
	case SIM_EV_DMA_MAP:
		return DEP(SIM_COST_GUEST_DMA_MAP);
	case SIM_EV_DMA_UNMAP:
		return DEP(SIM_COST_GUEST_DMA_UNMAP);
	case SIM_EV_INV_HW:
		return DEP(SIM_COST_IOTLB_INV_HW);
	case SIM_EV_VFIO_CALL:
		return DEP(SIM_COST_VFIO_CALL);
	case SIM_EV_VFIO_PIN:
		return DEP(SIM_COST_VFIO_PIN_PAGE);
	case SIM_EV_VFIO_UNPIN:
		return DEP(SIM_COST_VFIO_UNPIN_PAGE);
	case SIM_EV_HOST_MAP:
		return DEP(SIM_COST_HOST_IOMMU_MAP);
	case SIM_EV_HOST_UNMAP:
		return DEP(SIM_COST_HOST_IOMMU_UNMAP);
	case SIM_EV_HW_MISS:
		/* Throughput: misses overlap across the device's outstanding reads. */
		return r == SIM_RES_DEV ?
			       DEP(SIM_COST_HW_IOTLB_MISS) / DEP(SIM_COST_DEV_DMA_INFLIGHT) :
			       DEP(SIM_COST_HW_IOTLB_MISS);
	case SIM_EV_HW_HIT:
		return r == SIM_RES_DEV ?
			       DEP(SIM_COST_HW_IOTLB_HIT) / DEP(SIM_COST_DEV_DMA_INFLIGHT) :
			       DEP(SIM_COST_HW_IOTLB_HIT);
	case SIM_EV_STACK_TX:
		return DEP(SIM_COST_GUEST_STACK_TX_PKT);
	case SIM_EV_STACK_RX:
		return DEP(SIM_COST_GUEST_STACK_RX_PKT);
	case SIM_EV_RX_FRAME:
		return DEP(SIM_COST_GUEST_GRO_FRAME);
	case SIM_EV_SYSCALL:
		return DEP(SIM_COST_SYSCALL);
	case SIM_EV_COPY_BYTES:
		return 1.0 / DEP(SIM_COST_COPY_BW);
	case SIM_EV_VHOST_PKT:
		return DEP(SIM_COST_VHOST_PKT);
	case SIM_EV_PMD_PKT:
		return DEP(SIM_COST_GUEST_PMD_PKT);
	case SIM_EV_BLK_REQ:
		return DEP(SIM_COST_GUEST_BLK_REQ);
	case SIM_EV_WIRE_BYTES:
		return 8.0 / DEP(SIM_COST_LINK_GBPS);
	case SIM_EV_DISK_BYTES:
		return 1.0 / DEP(SIM_COST_DISK_GBYTE_PER_S);
	case SIM_EV_DISK_IO:
		return DEP(SIM_COST_DISK_LATENCY);
	case SIM_EV_EXIT_L2:
		/* L1's VMM holds its lock for the user-space part: minus an L2 exit L1's kernel ends. */
		if (r == SIM_RES_VMM)
			return fmax(0, DEP(SIM_COST_EXIT_NESTED_USER) -
					       DEP(SIM_COST_EXIT_NESTED_KERNEL));
		return DEP(SIM_COST_EXIT_NESTED_USER);
	case SIM_EV_IRQ_L2:
		return DEP(SIM_COST_EXIT_NESTED_KERNEL);
	case SIM_EV_L1_VFIO_CALL:
		return DEP(SIM_COST_VFIO_CALL);
	case SIM_EV_L1_PIN:
		return DEP(SIM_COST_VFIO_PIN_PAGE);
	case SIM_EV_L1_UNPIN:
		return DEP(SIM_COST_VFIO_UNPIN_PAGE);
	case SIM_EV_L1_IOMMU_MAP:
		return DEP(SIM_COST_HOST_IOMMU_MAP);
	case SIM_EV_L1_IOMMU_UNMAP:
		return DEP(SIM_COST_HOST_IOMMU_UNMAP);
	case SIM_EV_KICK_MMIO:
		/* An MMIO write completed in the kernel after instruction decode (§4.2). */
		return DEP(SIM_COST_EXIT_KERNEL) + DEP(SIM_COST_MMIO_DECODE);
	case SIM_EV_SIDE_HANDOFF:
		/* One cache line written by one core and read by another: a miss, DRAM as bound. */
		return DEP(SIM_COST_SW_WALK_LEVEL);
	case SIM_EV_MMIO_DIRECT:
		return DEP(SIM_COST_MMIO_DIRECT);
	case SIM_EV_HWV_CMD:
		return DEP(SIM_COST_HWV_GUEST_CMD);
	case SIM_EV_HCALL:
	case SIM_EV_GRANT_OP:
		/* A grant map or unmap is one hypercall (its page-table work not priced apart). */
		return DEP(SIM_COST_HYPERCALL);
	case SIM_EV_TCE_WRITE:
		return DEP(SIM_COST_TCE_WRITE_FLUSH);
	case SIM_EV_MMIO_NATIVE:
		return DEP(SIM_COST_MMIO_NATIVE);
	case SIM_EV_VIOMMU_REQ:
		return DEP(SIM_COST_VMM_VIOMMU_REQ);
	case SIM_EV_HW_NESTED:
		/* What a nested walk adds to a miss; overlapped on the device as a miss is. */
		return r == SIM_RES_DEV ?
			       DEP(SIM_COST_HW_NESTED_WALK) / DEP(SIM_COST_DEV_DMA_INFLIGHT) :
			       DEP(SIM_COST_HW_NESTED_WALK);
	case SIM_EV_NR:
		break;
	}
	return 0;
#undef DEP
}

double sim_ev_cost(const struct sim_costs *c, enum sim_ev ev, enum sim_res r)
{
	uint64_t deps;

	return ev_cost(c, ev, r, &deps);
}

/*
 * The VMM's global lock (QEMU's main loop and every exit handled in user space hold it) as a
 * single server with three kinds of work per unit: its own (the emulated back-end's packets),
 * the vCPUs' exits and requests, and the vhost worker's misses. Each kind is n jobs of s ns.
 */
struct lock_classes {
	double n_own, s_own, n_acq, s_acq, n_miss, s_miss;
};

static double part_ns(const struct eng *e, const double *n, double u)
{
	double ns = 0;

	for (int ev = 0; ev < SIM_EV_NR; ev++) {
		if (n[ev] > 0)
			ns += n[ev] / u * sim_ev_cost(e->c, (enum sim_ev)ev, SIM_RES_VMM);
	}
	return ns;
}

static void lock_classes(const struct eng *e, const struct sim_result *r, struct lock_classes *lk)
{
	double u = (double)r->units, acq_ns = part_ns(e, e->vmm_for_vcpu, u);
	double miss_ns = part_ns(e, e->vmm_for_backend, u);
	double own_ns = r->busy_ns[SIM_RES_VMM] - acq_ns - miss_ns;

	memset(lk, 0, sizeof(*lk));
	/* Each exit to the VMM and each request its loop serves takes the lock once. */
	lk->n_acq = r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] + r->n[SIM_RES_VCPU][SIM_EV_EXIT_L2] +
		    r->n[SIM_RES_VCPU][SIM_EV_WAKEUP];
	if (lk->n_acq > 0)
		lk->s_acq = acq_ns / lk->n_acq;
	lk->n_miss = e->vmm_for_backend[SIM_EV_VMM_OP] / u; /* one op per miss served */
	if (lk->n_miss > 0)
		lk->s_miss = miss_ns / lk->n_miss;
	lk->n_own = r->n[SIM_RES_VMM][SIM_EV_VHOST_PKT];
	if (lk->n_own > 0 && own_ns > 0)
		lk->s_own = own_ns / lk->n_own;
	else
		lk->n_own = 0;
}

/*
 * Mean wait for the lock of a job arriving at a random time, at @x units per ns, behind the
 * listed work (the P-K formula: residual work over the idle share), or infinity when that work
 * alone saturates the lock. First order: jobs as Poisson arrivals with fixed sizes.
 */
static double lock_wait(double x, double n1, double s1, double n2, double s2, double n3, double s3)
{
	double rho = x * (n1 * s1 + n2 * s2 + n3 * s3);
	double resid = x * (n1 * s1 * s1 + n2 * s2 * s2 + n3 * s3 * s3) / 2;

	return rho < 1 ? resid / (1 - rho) : INFINITY;
}

/*
 * Busy time per unit with the waits at @rate units/s (into r->busy_ns, r->waits, r->wait_ns) and
 * the rate that allows: the smallest over the resources, whose name goes to r->bottleneck.
 */
static double rate_at(const struct eng *e, struct sim_result *r, const struct lock_classes *lk,
		      const double *base, double rate)
{
	double x = rate / 1e9, vcpus = e->p.vcpus ? e->p.vcpus : 1, best = INFINITY;
	/* With N vCPUs each waits behind the other N-1's exits too (QEMU's big lock). */
	double others = (vcpus - 1) / vcpus;
	uint32_t qd = e->p.qd ? e->p.qd : 32;

	memcpy(r->busy_ns, base, sizeof(r->busy_ns));
	memset(r->waits, 0, sizeof(r->waits));
	memset(r->wait_ns, 0, sizeof(r->wait_ns));
	if (lk->n_acq > 0) {
		r->waits[SIM_RES_VCPU] = lk->n_acq;
		r->wait_ns[SIM_RES_VCPU] = lk->n_acq * lock_wait(x, lk->n_own, lk->s_own,
								 lk->n_miss, lk->s_miss,
								 others * lk->n_acq, lk->s_acq);
	}
	/* A single-queue vhost worker stalls on its miss, so it waits too (§6.2). */
	if (lk->n_miss > 0 && e->be == SIM_RES_BACKEND) {
		r->waits[SIM_RES_BACKEND] = lk->n_miss;
		r->wait_ns[SIM_RES_BACKEND] =
			lk->n_miss * lock_wait(x, lk->n_own, lk->s_own, lk->n_acq, lk->s_acq, 0, 0);
	}
	for (int res = 0; res < SIM_RES_LATENCY; res++)
		r->busy_ns[res] += r->wait_ns[res];
	/* First-order latency of one request: its path through every stage, one after another. */
	if (e->p.workload == SIM_WL_BLOCK) {
		for (int res = 0; res < SIM_RES_LATENCY; res++)
			r->busy_ns[SIM_RES_LATENCY] += r->busy_ns[res];
	}
	r->bottleneck = SIM_RES_VCPU;
	for (int res = 0; res < SIM_RES_NR; res++) {
		double cap;

		if (r->busy_ns[res] <= 0)
			continue;
		cap = (res == SIM_RES_LATENCY ? qd :
		       res == SIM_RES_VCPU    ? vcpus :
						1.0) *
		      1e9 / r->busy_ns[res];
		if (cap < best) {
			best = cap;
			r->bottleneck = (enum sim_res)res;
		}
	}
	return best;
}

static void finish(struct eng *e, const struct snap *b, const struct snap *a,
		   const struct viommu_devtlb_stats *tb, struct sim_result *r)
{
	double u = (double)r->units, best, base[SIM_RES_NR];
	double vcpus = e->p.vcpus ? e->p.vcpus : 1;
	struct viommu_devtlb_stats ta;
	struct lock_classes lk;

	r->gap_costs = 0;
	for (int res = 0; res < SIM_RES_NR; res++) {
		r->busy_ns[res] = 0;
		for (int ev = 0; ev < SIM_EV_NR; ev++) {
			uint64_t deps;
			double cost;

			r->n[res][ev] = e->acct[res][ev] / u;
			cost = ev_cost(e->c, (enum sim_ev)ev, (enum sim_res)res, &deps);
			if (r->n[res][ev] <= 0)
				continue;
			r->busy_ns[res] += r->n[res][ev] * cost;
			for (int k = 0; k < SIM_COST_NR; k++) {
				if ((deps >> k & 1) && sim_cost_is_gap(e->c, (enum sim_cost)k))
					r->gap_costs |= 1ull << k;
			}
		}
	}
	memcpy(base, r->busy_ns, sizeof(base));
	lock_classes(e, r, &lk);
	best = rate_at(e, r, &lk, base, 0);
	if (lk.n_acq > 0 || lk.n_miss > 0) {
		/*
		 * The waits grow with the rate and the rate falls with the waits: bisect for the
		 * rate at which the busiest resource, waits included, allows exactly that rate.
		 */
		double lo = 0, hi = best;

		for (int i = 0; i < 100 && isfinite(hi); i++) {
			double mid = (lo + hi) / 2;

			if (rate_at(e, r, &lk, base, mid) >= mid)
				lo = mid;
			else
				hi = mid;
		}
		best = rate_at(e, r, &lk, base, lo);
	}
	r->rate = isfinite(best) ? best : 0;
	for (int res = 0; res < SIM_RES_LATENCY; res++)
		r->util[res] = r->rate * r->busy_ns[res] / 1e9 / (res == SIM_RES_VCPU ? vcpus : 1);
	/* The busiest thread, whatever bounds the rate (a wire-bound row still has one). */
	r->thread = SIM_RES_VCPU;
	r->thread_util = r->util[SIM_RES_VCPU];
	for (int res = 0; res < SIM_RES_LATENCY; res++) {
		if ((res == SIM_RES_VMM || res == SIM_RES_BACKEND || res == SIM_RES_SIDE) &&
		    r->util[res] > r->thread_util) {
			r->thread = (enum sim_res)res;
			r->thread_util = r->util[res];
		}
	}
	r->throughput_mbps = r->rate * r->payload_bytes * 8 / 1e6;
	r->exits_per_unit = r->n[SIM_RES_VCPU][SIM_EV_EXIT_MMIO] + r->n[SIM_RES_VCPU][SIM_EV_KICK] +
			    r->n[SIM_RES_VCPU][SIM_EV_KICK_MMIO] +
			    r->n[SIM_RES_VCPU][SIM_EV_IRQ_EXIT];
	/* Nested: L2's exits too (0 elsewhere, so the sum is unchanged there). */
	r->exits_per_unit += r->n[SIM_RES_VCPU][SIM_EV_EXIT_L2] + r->n[SIM_RES_VCPU][SIM_EV_IRQ_L2];
	r->invalidations_per_unit = (double)(a->ic.invalidations - b->ic.invalidations) / u;
	r->iotlb_hit_rate = -1;
	if ((e->p.cfg.model == SIM_MODEL_VTD || e->p.cfg.model == SIM_MODEL_AMDVI ||
	     e->p.cfg.model == SIM_MODEL_SMMUV3) &&
	    a->ic.iotlb_hits + a->ic.iotlb_misses > b->ic.iotlb_hits + b->ic.iotlb_misses)
		r->iotlb_hit_rate = (double)(a->ic.iotlb_hits - b->ic.iotlb_hits) /
				    (double)(a->ic.iotlb_hits - b->ic.iotlb_hits +
					     a->ic.iotlb_misses - b->ic.iotlb_misses);
	r->devtlb_hit_rate = -1;
	r->devtlb_misses_per_unit = 0;
	if (e->pl->devtlb_stats && e->pl->devtlb_stats(e, &ta)) {
		if (ta.lookups > tb->lookups)
			r->devtlb_hit_rate =
				(double)(ta.hits - tb->hits) / (double)(ta.lookups - tb->lookups);
		r->devtlb_misses_per_unit = (double)(ta.miss_requests - tb->miss_requests) / u;
	}
	r->hw_iotlb_hit_rate = -1;
	if (r->n[SIM_RES_DEV][SIM_EV_HW_HIT] + r->n[SIM_RES_DEV][SIM_EV_HW_MISS] > 0)
		r->hw_iotlb_hit_rate =
			r->n[SIM_RES_DEV][SIM_EV_HW_HIT] /
			(r->n[SIM_RES_DEV][SIM_EV_HW_HIT] + r->n[SIM_RES_DEV][SIM_EV_HW_MISS]);
	r->translations_per_unit = (double)(a->ic.translations - b->ic.translations) / u;
	r->bounce_bytes_per_unit = (double)(a->ds.bounce_bytes - b->ds.bounce_bytes) / u;
	r->maps_per_unit = (double)(a->ds.maps - b->ds.maps) / u;
	r->unmaps_per_unit = (double)(a->ds.unmaps - b->ds.unmaps) / u;
	r->map_pages_per_unit = (double)(a->ds.map_pages - b->ds.map_pages) / u;
	r->flushes_per_unit = (double)(a->ds.fq_flushes - b->ds.fq_flushes) / u;
	r->fq_timeouts = a->ds.fq_timeouts - b->ds.fq_timeouts;
	r->vfio_calls_per_unit =
		(double)(a->vfio_maps - b->vfio_maps + a->vfio_unmaps - b->vfio_unmaps) / u;
	r->l1_calls_per_unit = (double)(a->l1_maps - b->l1_maps + a->l1_unmaps - b->l1_unmaps) / u;
	r->frames_per_unit = 0;
	if (r->n[SIM_RES_WIRE][SIM_EV_WIRE_BYTES] > 0) {
		double per = e->p.workload == SIM_WL_POLL ? 1 : ceil(r->payload_bytes / mss(e));

		r->frames_per_unit = per;
	}
	r->checked_bytes = e->checked;
}

static uint32_t default_units(const struct sim_params *p)
{
	uint64_t per = p->msg_size ? p->msg_size : 1;
	uint64_t n = (32 * MiB) / per;

	return (uint32_t)(n < 1024 ? 1024 : n > 8192 ? 8192 : n);
}

/* One pass: warm-up, then the measured units with the flush timer advancing by @dt_ns. */
static int pass(const struct sim_params *p, const struct sim_costs *c, uint64_t dt_ns,
		struct sim_result *r)
{
	struct eng e;
	struct snap b, a;
	struct viommu_devtlb_stats tb = { 0 };
	uint32_t units = p->units ? p->units : default_units(p);
	uint32_t warm = p->warmup ? p->warmup : units / 2;
	int ret;

	ret = eng_init(&e, p, c);
	e.dt_ns = dt_ns;
	for (uint32_t i = 0; i < warm && !ret; i++)
		ret = run_unit(&e);
	if (ret)
		goto out;
	memset(e.acct, 0, sizeof(e.acct));
	memset(e.vmm_for_vcpu, 0, sizeof(e.vmm_for_vcpu));
	memset(e.vmm_for_backend, 0, sizeof(e.vmm_for_backend));
	e.checked = 0;
	snap_take(&e, &b);
	if (e.pl->devtlb_stats)
		e.pl->devtlb_stats(&e, &tb);
	for (uint32_t i = 0; i < units && !ret; i++)
		ret = run_unit(&e);
	if (ret)
		goto out;
	snap_take(&e, &a);
	r->units = units;
	r->payload_bytes = p->msg_size;
	finish(&e, &b, &a, &tb, r);
out:
	eng_fini(&e);
	return ret;
}

int sim_run(const struct sim_params *p, const struct sim_costs *c, struct sim_result *r)
{
	bool timed = p->cfg.strategy == VG_DMA_DEFERRED ||
		     p->cfg.strategy == VG_DMA_BATCHED_DEFERRED;
	uint64_t dt = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	if ((unsigned int)p->placement >= SIM_PLACEMENT_NR) {
		snprintf(r->why, sizeof(r->why), "invalid parameters");
		return VIOMMU_EINVAL;
	}
	if (p->cfg.model == SIM_MODEL_VTD && !p->cfg.caching_mode &&
	    (sim_places[p->placement]->needs_map_events || p->cfg.push)) {
		snprintf(r->why, sizeof(r->why),
			 "unsupported: VT-d without caching mode tells the VMM nothing about new "
			 "mappings");
		return 0;
	}
	if (p->cfg.model == SIM_MODEL_SMMUV3 && !p->cfg.caching_mode &&
	    (sim_places[p->placement]->needs_map_events || p->cfg.push)) {
		snprintf(r->why, sizeof(r->why),
			 "unsupported: SMMUv3 without the caching-mode quirk tells the VMM nothing "
			 "about new mappings");
		return 0;
	}
	if (p->cfg.model == SIM_MODEL_CALGARY && !p->cfg.caching_mode &&
	    (sim_places[p->placement]->needs_map_events || p->cfg.push)) {
		snprintf(r->why, sizeof(r->why),
			 "unsupported: Calgary with untrapped TCE writes tells the VMM of new "
			 "mappings only at blasts");
		return 0;
	}
	if (sim_places[p->placement]->cpu_iommu && p->cfg.model != SIM_MODEL_NONE &&
	    p->cfg.model != SIM_MODEL_CALGARY &&
	    (p->cfg.model != SIM_MODEL_CALGARY_HCALL || !sim_places[p->placement]->hypercalls) &&
	    (p->cfg.model != SIM_MODEL_VTD || sim_places[p->placement]->hypercalls)) {
		snprintf(r->why, sizeof(r->why),
			 "unsupported: seed 003's placements drive a Calgary chip (hypercalls only "
			 "under Xen); VT-d only on bare metal");
		return 0;
	}
	if (sim_places[p->placement]->cpu_iommu && p->cfg.model == SIM_MODEL_VTD &&
	    (p->cfg.caching_mode || p->cfg.ats || p->cfg.push)) {
		snprintf(
			r->why, sizeof(r->why),
			"unsupported: VT-d hardware has no caching mode, and the bare-metal NIC no "
			"device IOTLB here");
		return 0;
	}
	if (sim_places[p->placement]->hw_viommu && p->cfg.model != SIM_MODEL_NONE &&
	    (p->cfg.model != SIM_MODEL_AMDVI || !p->cfg.v2)) {
		snprintf(r->why, sizeof(r->why),
			 "unsupported: the hardware vIOMMU nests AMD-Vi guest v2 tables over the "
			 "host's v1 (amd_iommu=pgtbl_v2)");
		return 0;
	}
	if ((p->cfg.model == SIM_MODEL_NONE) != (p->cfg.strategy == VG_DMA_NOIOMMU) ||
	    (p->cfg.mmio && p->cfg.model != SIM_MODEL_VIRTIO_IOMMU) ||
	    (p->workload == SIM_WL_POLL && p->msg_size > MBUF) || !p->msg_size ||
	    p->msg_size > GSO_MAX || (p->mtu && (p->mtu < 576 || p->mtu > 9000))) {
		snprintf(r->why, sizeof(r->why), "invalid parameters");
		return VIOMMU_EINVAL;
	}
	r->supported = true;
	/*
	 * The flush timer needs simulated time, which the result gives: run without it, then again
	 * with the time per unit of the previous pass until the rate settles (at most 4 passes).
	 */
	for (r->passes = 1;; r->passes++) {
		double prev = r->rate;

		ret = pass(p, c, dt, r);
		r->p = *p;
		r->supported = true;
		if (ret || !timed || r->rate <= 0 || r->passes == 4 ||
		    (r->passes > 1 && fabs(r->rate - prev) <= 0.01 * prev))
			break;
		dt = (uint64_t)(1e9 / r->rate);
		if (!dt)
			dt = 1;
	}
	if (ret) {
		r->supported = false;
		snprintf(r->why, sizeof(r->why), "simulation failed: %s", viommu_strerror(ret));
	}
	return ret;
}
