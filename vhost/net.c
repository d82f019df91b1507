// SPDX-License-Identifier: MIT
/*
 * virtio-net datapath (virtio 1.2 §5.1.6): the transmit queue's chains become frames, frames go
 * to a port's receive backlog, and the backlog fills the receive queue, spreading a frame over
 * several buffers when VIOMMU_VIRTIO_NET_F_MRG_RXBUF is negotiated. A translation miss stops a round
 * without consuming anything; the round resumes when the front-end's UPDATE arrives.
 */
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh_vq.h"

_Static_assert(VNET_MAX_RX_BUFS <= VH_VQ_MAX_USED_BATCH, "a frame's buffers are used at once");

#define ETH_ALEN 6u
#define ETH_HLEN 14u
#define ETHERTYPE_IPV4 0x0800u
#define IPPROTO_TCP_ 6u
#define IPPROTO_UDP_ 17u

static unsigned int hdr_len(const struct vh_dev *dev)
{
	/* virtio 1.2 §5.1.6: num_buffers is present with VERSION_1 or MRG_RXBUF. */
	if (dev->features & (VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF))
		return sizeof(struct viommu_virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct viommu_virtio_net_hdr_mrg_rxbuf) - 2;
}

void vnet_5tswap(uint8_t *f, size_t len)
{
	uint8_t tmp[ETH_ALEN];
	size_t ihl;

	if (len < ETH_HLEN)
		return;
	memcpy(tmp, f, ETH_ALEN);
	memcpy(f, f + ETH_ALEN, ETH_ALEN);
	memcpy(f + ETH_ALEN, tmp, ETH_ALEN);
	if (((unsigned int)f[12] << 8 | f[13]) != ETHERTYPE_IPV4 || len < ETH_HLEN + 20)
		return;
	f += ETH_HLEN;
	len -= ETH_HLEN;
	ihl = (size_t)(f[0] & 0xfu) * 4;
	if ((f[0] >> 4) != 4 || ihl < 20 || ihl > len)
		return;
	/* Swapping two 16-bit-aligned fields leaves the IP and L4 checksums valid. */
	memcpy(tmp, f + 12, 4);
	memcpy(f + 12, f + 16, 4);
	memcpy(f + 16, tmp, 4);
	/* Ports only in the first fragment. */
	if ((f[9] == IPPROTO_TCP_ || f[9] == IPPROTO_UDP_) && ((f[6] & 0x1fu) | f[7]) == 0 &&
	    len >= ihl + 4) {
		memcpy(tmp, f + ihl, 2);
		memcpy(f + ihl, f + ihl + 2, 2);
		memcpy(f + ihl + 2, tmp, 2);
	}
}

static void backlog_push(struct vnet_port *p, unsigned int qp, const uint8_t *data, uint32_t len)
{
	struct vnet_qp *b = &p->qp[qp];
	struct vnet_frame *f;

	if (!p->connected || b->bl_count == VNET_RX_BACKLOG) {
		p->stats.rx_drops++;
		return;
	}
	f = malloc(sizeof(*f) + len);
	if (!f) {
		p->stats.rx_drops++;
		return;
	}
	f->len = len;
	memcpy(f->data, data, len);
	b->backlog[(b->bl_head + b->bl_count) % VNET_RX_BACKLOG] = f;
	b->bl_count++;
	p->pending = true;
}

static void backlog_pop(struct vnet_qp *b)
{
	free(b->backlog[b->bl_head]);
	b->backlog[b->bl_head] = NULL;
	b->bl_head = (b->bl_head + 1) % VNET_RX_BACKLOG;
	b->bl_count--;
}

unsigned int vnet_port_backlog(const struct vnet_port *p)
{
	unsigned int n = 0;

	for (unsigned int qp = 0; qp < VH_MAX_QUEUE_PAIRS; qp++)
		n += p->qp[qp].bl_count;
	return n;
}

/*
 * The pair of @to that receives a frame sent on pair @qp: the same one if its receive queue runs,
 * else the first (the guest may have just turned the pair off: ethtool -L).
 */
static unsigned int rx_pair(const struct vnet_port *to, unsigned int qp)
{
	return vh_vq_ready(&to->dev, VNET_RXQ_OF(qp)) ? qp : 0;
}

static int mac_lookup(const struct vnet_switch *sw, const uint8_t *mac)
{
	for (unsigned int i = 0; i < VNET_MAC_TABLE; i++)
		if (sw->macs[i].used && !memcmp(sw->macs[i].mac, mac, ETH_ALEN))
			return (int)i;
	return -1;
}

static void mac_learn(struct vnet_switch *sw, const uint8_t *mac, unsigned int port)
{
	int i;

	if (mac[0] & 1u) /* group addresses are never sources */
		return;
	i = mac_lookup(sw, mac);
	if (i < 0) {
		i = (int)sw->mac_next;
		sw->mac_next = (sw->mac_next + 1) % VNET_MAC_TABLE;
		memcpy(sw->macs[i].mac, mac, ETH_ALEN);
		sw->macs[i].used = true;
	}
	sw->macs[i].port = (uint8_t)port;
}

void vnet_switch_input(struct vnet_port *from, unsigned int qp, uint8_t *frame, uint32_t len)
{
	struct vnet_switch *sw = from->sw;
	int i;

	if (qp >= VH_MAX_QUEUE_PAIRS)
		qp = 0;
	if (sw->mode == VNET_REFLECT) {
		vnet_5tswap(frame, len);
		backlog_push(from, rx_pair(from, qp), frame, len);
		return;
	}
	if (len < ETH_HLEN)
		return;
	mac_learn(sw, frame + ETH_ALEN, from->index);
	i = (frame[0] & 1u) ? -1 : mac_lookup(sw, frame);
	if (i >= 0) {
		if (sw->macs[i].port != from->index) {
			struct vnet_port *to = &sw->port[sw->macs[i].port];

			backlog_push(to, rx_pair(to, qp), frame, len);
		}
		return;
	}
	for (unsigned int k = 0; k < sw->nports; k++)
		if (k != from->index && sw->port[k].connected)
			backlog_push(&sw->port[k], rx_pair(&sw->port[k], qp), frame, len);
}

/* A round stopped: on a miss, wait for the UPDATE; otherwise the guest broke the queue. */
static void vq_failed(struct vnet_port *p, unsigned int vq, int ret, const char *what)
{
	if (ret == -EAGAIN) {
		p->stats.misses++;
		p->missed = true;
		return;
	}
	vh_vq_break(&p->dev, vq, what);
}

static void publish(struct vnet_port *p, unsigned int vq)
{
	struct vh_vq *q = &p->dev.vq[vq];
	int ret;

	/* Packed: a burst of whole laps ends where it started, but was still used. */
	if (q->used_next == q->used_idx && !q->used_descs)
		return;
	ret = vh_vq_used_publish(&p->dev, vq, q->used_next);
	/* A miss on the used index must be retried like any other (the miss poll), or the used
	 * entries written so far would wait for the guest's next kick. */
	if (ret < 0)
		vq_failed(p, vq, ret, "used ring outside guest memory");
}

/*
 * End of a round on queue @vq: while polling, let the guest skip its kicks; otherwise ask for
 * them (@want) and look at the ring once more, since chains made available before the request
 * reached the guest bring no kick. True when there is work after all.
 */
static bool notify_rearm(struct vnet_port *p, unsigned int vq, bool want)
{
	int ret;

	if (!vh_vq_ready(&p->dev, vq))
		return false;
	ret = vh_vq_set_notify(&p->dev, vq, want && !p->polling);
	if (ret < 0) {
		vq_failed(p, vq, ret, "used ring outside guest memory");
		return false;
	}
	if (!want || p->polling)
		return false;
	ret = vh_vq_avail(&p->dev, vq, p->dev.vq[vq].last_avail);
	if (ret < 0) {
		vq_failed(p, vq, ret, "bad available index");
		return false;
	}
	return ret > 0;
}

static void tx_run(struct vnet_port *p, unsigned int qp)
{
	struct vh_dev *d = &p->dev;
	const unsigned int txq = VNET_TXQ_OF(qp);
	struct vh_vq *q = &d->vq[txq];
	struct vnet_qp *b = &p->qp[qp];
	struct vh_vq_chain *c = &p->sw->chains[0];
	uint8_t *buf = p->sw->scratch;
	unsigned int hl = hdr_len(d);
	const bool packed = vh_vq_packed(d);
	unsigned int n;
	bool idle = false;
	int ret;

	if (!vh_vq_ready(d, txq))
		return;
	for (n = 0; n < VNET_TX_BURST; n++) {
		uint64_t len;
		bool bad;

		/* Reflecting: a full receive backlog holds the transmit queue back, so frames wait in
		 * the guest instead of being dropped (testpmd's "retry"). Receiving resumes it. */
		if (p->sw->mode == VNET_REFLECT && b->bl_count == VNET_RX_BACKLOG) {
			b->tx_held = true;
			break;
		}

		ret = vh_vq_avail(d, txq, q->last_avail);
		if (ret <= 0) {
			if (ret < 0)
				vq_failed(p, txq, ret, "bad available index");
			else
				idle = true;
			break;
		}
		ret = vh_vq_chain_get(d, txq, q->last_avail, false, c);
		if (ret < 0) {
			vq_failed(p, txq, ret, "bad transmit chain");
			break;
		}
		/*
		 * Make sure the used element can be written before consuming the chain. Split: it
		 * is seen at the publish; packed: at once, so only after the frame was read (the
		 * guest may reuse the buffer then). A miss after the read drops the copy.
		 */
		c->written = 0;
		if (!packed) {
			ret = vh_vq_used_add(d, txq, c, 1);
			if (ret < 0) {
				vq_failed(p, txq, ret, "used ring outside guest memory");
				break;
			}
		}
		bad = c->total < hl || c->total - hl > VNET_MAX_FRAME;
		len = bad ? 0 : c->total - hl;
		if (!bad)
			vh_vq_chain_read(c, hl, buf, len);
		if (packed) {
			ret = vh_vq_used_add(d, txq, c, 1);
			if (ret < 0) {
				vq_failed(p, txq, ret, "used ring outside guest memory");
				break;
			}
		}
		if (bad) {
			p->stats.tx_errors++;
			continue;
		}
		p->stats.tx_frames++;
		p->stats.tx_pair[qp]++;
		p->stats.tx_bytes += len;
		vnet_switch_input(p, qp, buf, (uint32_t)len);
	}
	/* One used-index update and at most one interrupt for the whole burst. */
	publish(p, txq);
	if (n == VNET_TX_BURST)
		p->pending = true;
	/* Kicks are wanted only by a queue that ran dry: a held or cut-short burst comes back. */
	else if (notify_rearm(p, txq, idle))
		p->pending = true;
}

/*
 * Gather receive chains for @need bytes starting at avail position @from. Returns the number of
 * chains, 0 when the guest has not posted enough buffers yet, -E2BIG when the frame cannot fit
 * (drop it), or another negative errno.
 */
static int rx_gather(struct vnet_port *p, unsigned int rxq, uint64_t need, int avail)
{
	struct vh_dev *d = &p->dev;
	bool mrg = d->features & VIOMMU_VIRTIO_NET_F_MRG_RXBUF;
	uint16_t pos = d->vq[rxq].last_avail;
	uint64_t got = 0;
	int n = 0;

	while (got < need) {
		int ret;

		/* Packed: vh_vq_avail() vouches for one chain at a time. */
		if (n == avail && n > 0 && vh_vq_packed(d)) {
			ret = vh_vq_avail(d, rxq, pos);
			if (ret < 0)
				return ret;
			avail += ret;
		}
		if (n == avail)
			return 0;
		if (n == (mrg ? (int)VNET_MAX_RX_BUFS : 1))
			return -E2BIG;
		ret = vh_vq_chain_get(d, rxq, pos, true, &p->sw->chains[n]);
		if (ret < 0)
			return ret;
		pos = vh_vq_pos_next(d, rxq, pos, &p->sw->chains[n]);
		/* virtio 1.2 §5.1.6.3.1: the first buffer holds at least the header. */
		if (n == 0 && p->sw->chains[0].total < hdr_len(d))
			return -EINVAL;
		got += p->sw->chains[n].total;
		n++;
	}
	return n;
}

static void rx_run(struct vnet_port *p, unsigned int qp)
{
	struct vh_dev *d = &p->dev;
	const unsigned int rxq = VNET_RXQ_OF(qp);
	struct vh_vq *q = &d->vq[rxq];
	struct vnet_qp *b = &p->qp[qp];
	unsigned int hl = hdr_len(d);
	bool starved = false;
	int ret = 0;

	if (!vh_vq_ready(d, rxq))
		return;
	while (b->bl_count) {
		struct vnet_frame *f = b->backlog[b->bl_head];
		struct viommu_virtio_net_hdr_mrg_rxbuf h = { 0 };
		uint64_t off = 0;
		int avail, n;

		avail = vh_vq_avail(d, rxq, q->last_avail);
		if (avail <= 0) {
			if (avail < 0)
				vq_failed(p, rxq, avail, "bad available index");
			else
				starved = true;
			break;
		}
		n = rx_gather(p, rxq, (uint64_t)hl + f->len, avail);
		if (n == -E2BIG) {
			p->stats.rx_drops++;
			backlog_pop(b);
			continue;
		}
		if (n <= 0) {
			if (n < 0)
				vq_failed(p, rxq, n, "bad receive chain");
			else
				starved = true;
			break;
		}
		h.num_buffers = (uint16_t)n;
		vh_vq_chain_write(&p->sw->chains[0], 0, &h, hl);
		for (int k = 0; k < n; k++) {
			uint64_t room = p->sw->chains[k].total - (k == 0 ? hl : 0);
			uint64_t take = f->len - off < room ? f->len - off : room;

			vh_vq_chain_write(&p->sw->chains[k], k == 0 ? hl : 0, f->data + off, take);
			off += take;
			p->sw->chains[k].written = (uint32_t)(take + (k == 0 ? hl : 0));
		}
		/* The buffers are ours until returned: written first, then all used at once. */
		ret = vh_vq_used_add(d, rxq, p->sw->chains, (unsigned int)n);
		if (ret < 0) {
			vq_failed(p, rxq, ret, "used ring outside guest memory");
			break;
		}
		p->stats.rx_frames++;
		p->stats.rx_bytes += f->len;
		backlog_pop(b);
		if (b->tx_held) {
			b->tx_held = false;
			p->pending = true;
		}
	}
	publish(p, rxq);
	/*
	 * Receive kicks (new buffers) matter only while frames wait for buffers: otherwise the
	 * guest refills without kicking, as vhost-net lets it.
	 */
	if (notify_rearm(p, rxq, starved))
		p->pending = true;
}

void vnet_port_run(struct vnet_port *p)
{
	uint64_t tx0 = p->stats.tx_frames, rx0 = p->stats.rx_frames;

	if (!p->connected)
		return;
	p->pending = false;
	p->missed = false;
	/*
	 * Lazy-mode guests flush everything every few milliseconds: ask for all ring pages in one
	 * go rather than one miss round trip after another (avail, descriptors, used, per queue).
	 */
	if (p->dev.iommu && p->dev.rings_cold) {
		bool cold = false;

		for (unsigned int vq = VH_NUM_VQS; vq--;)
			if (vh_vq_ready(&p->dev, vq) &&
			    vh_vq_prefetch_rings(&p->dev, vq) == -EAGAIN)
				cold = true;
		p->dev.rings_cold = cold;
	}
	/* Every pair in one loop, in turn: a pair's burst is bounded, so none starves another. */
	for (unsigned int qp = 0; qp < VH_MAX_QUEUE_PAIRS; qp++) {
		tx_run(p, qp);
		rx_run(p, qp);
	}
	vh_debug(&p->dev, "run tx %llu rx %llu backlog %u missed %d pending %d polling %d",
		 (unsigned long long)(p->stats.tx_frames - tx0),
		 (unsigned long long)(p->stats.rx_frames - rx0), vnet_port_backlog(p), p->missed,
		 p->pending, p->polling);
	/* Frames this round sent to other ports are received when those ports run. */
	for (unsigned int vq = 0; vq < VH_NUM_VQS; vq++)
		vh_xlate_done(&p->dev, vq);
}

void vnet_port_stop(struct vnet_port *p)
{
	/* Publish what was consumed so GET_VRING_BASE and the used index agree. */
	for (unsigned int vq = 0; vq < VH_NUM_VQS; vq++) {
		if (p->dev.vq[vq].addr_set && p->dev.vq[vq].num)
			publish(p, vq);
		vh_xlate_done(&p->dev, vq);
	}
}

void vnet_init(struct vnet_switch *sw, enum vnet_mode mode, unsigned int nports)
{
	memset(sw, 0, sizeof(*sw));
	sw->mode = mode;
	sw->nports = nports > VNET_MAX_PORTS ? VNET_MAX_PORTS : nports;
	for (unsigned int i = 0; i < VNET_MAX_PORTS; i++) {
		sw->port[i].sw = sw;
		sw->port[i].index = i;
		sw->port[i].dev.sock = -1;
	}
}

int vnet_port_connect(struct vnet_port *p, int sock, const struct vh_dev_ops *ops, void *opaque)
{
	int ret;

	if (p->connected) {
		close(sock);
		return -EBUSY;
	}
	ret = vh_dev_init(&p->dev, sock, ops, opaque, p->name);
	if (ret < 0)
		return ret;
	p->connected = true;
	return 0;
}

void vnet_port_disconnect(struct vnet_port *p)
{
	if (!p->connected)
		return;
	vh_dev_destroy(&p->dev);
	for (unsigned int qp = 0; qp < VH_MAX_QUEUE_PAIRS; qp++) {
		while (p->qp[qp].bl_count)
			backlog_pop(&p->qp[qp]);
		p->qp[qp].tx_held = false;
	}
	p->connected = false;
	/* Addresses learned on this port are stale now. */
	for (unsigned int i = 0; i < VNET_MAC_TABLE; i++)
		if (p->sw->macs[i].used && p->sw->macs[i].port == p->index)
			p->sw->macs[i].used = false;
}
