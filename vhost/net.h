/* SPDX-License-Identifier: MIT */
/*
 * virtio-net device (virtio 1.2 §5.1) behind vhost-user connections: transmitted frames are
 * either reflected to their sender with addresses swapped (--reflect, like testpmd's 5tswap), or
 * forwarded between ports by a learning L2 switch.
 */
#ifndef VHOST_NET_H
#define VHOST_NET_H

#include "vh_vq.h"

/* The first queue pair (VIRTIO 1.2 5.1.2); pair k is VNET_RXQ_OF(k), VNET_TXQ_OF(k). */
#define VNET_RXQ VIOMMU_VIRTIO_NET_RECEIVEQ1
#define VNET_TXQ VIOMMU_VIRTIO_NET_TRANSMITQ1
#define VNET_RXQ_OF(qp) (2u * (qp))
#define VNET_TXQ_OF(qp) (2u * (qp) + 1u)
#define VNET_MAX_PORTS 8u
#define VNET_RX_BACKLOG 256u  /* frames waiting for receive buffers, per port */
#define VNET_MAX_FRAME 65536u /* no GSO is offered, so frames are at most MTU + 14 */
#define VNET_MAC_TABLE 256u   /* learned addresses */
#define VNET_TX_BURST 256u    /* chains per transmit round before giving others a turn */
#define VNET_MAX_RX_BUFS 64u  /* receive buffers one frame may take (num_buffers) */

enum vnet_mode {
	VNET_REFLECT,
	VNET_SWITCH,
};

struct vnet_frame {
	uint32_t len;
	uint8_t data[];
};

struct vnet_port_stats {
	uint64_t tx_frames; /* guest -> back-end */
	uint64_t tx_bytes;
	uint64_t tx_errors; /* malformed transmit chains (dropped) */
	uint64_t rx_frames; /* back-end -> guest */
	uint64_t rx_bytes;
	uint64_t rx_drops; /* backlog full, or frame larger than the guest's buffers */
	uint64_t misses;   /* rounds stopped by a device-IOTLB miss */
	uint64_t tx_pair[VH_MAX_QUEUE_PAIRS]; /* tx_frames per queue pair */
};

struct vnet_switch;

/* One queue pair's frames waiting for receive buffers. */
struct vnet_qp {
	struct vnet_frame *backlog[VNET_RX_BACKLOG];
	unsigned int bl_head, bl_count;
	bool tx_held; /* transmit waits for room in the receive backlog */
};

struct vnet_port {
	struct vnet_switch *sw;
	unsigned int index;
	bool connected;
	struct vh_dev dev;
	struct vnet_qp qp[VH_MAX_QUEUE_PAIRS];
	bool pending; /* wants another processing round */
	bool missed;  /* the last round stopped on a device-IOTLB miss */
	/*
	 * The loop polls this port (--poll, or inside the --busy-poll-us window): the guest is
	 * asked not to kick. Otherwise every run ends with kicks requested where they are needed.
	 */
	bool polling;
	struct vnet_port_stats stats;
	char name[32];
};

struct vnet_mac_entry {
	uint8_t mac[6];
	bool used;
	uint8_t port;
};

struct vnet_switch {
	enum vnet_mode mode;
	unsigned int nports;
	struct vnet_port port[VNET_MAX_PORTS];
	struct vnet_mac_entry macs[VNET_MAC_TABLE];
	unsigned int mac_next;
	uint8_t scratch[VNET_MAX_FRAME + 64];
	struct vh_vq_chain chains[VNET_MAX_RX_BUFS]; /* one frame's receive chains, or one transmit */
};

void vnet_init(struct vnet_switch *sw, enum vnet_mode mode, unsigned int nports);

/* Connect port @p on socket @sock (owned from now on). */
int vnet_port_connect(struct vnet_port *p, int sock, const struct vh_dev_ops *ops, void *opaque);
/* Drop the connection of @p and everything queued for it. */
void vnet_port_disconnect(struct vnet_port *p);

/* Run the datapath of @p: transmit what the guest queued, receive the backlog. Bounded work;
 * sets p->pending when it stopped early with work left and no event will say so. */
void vnet_port_run(struct vnet_port *p);

/* Forget anything that refers to @p's queues (they are being reset). */
void vnet_port_stop(struct vnet_port *p);

/*
 * A frame transmitted on queue pair @qp of port @from (may be modified): reflected, or switched
 * to other ports; received on pair @qp when its receive queue runs, else on the first pair.
 */
void vnet_switch_input(struct vnet_port *from, unsigned int qp, uint8_t *frame, uint32_t len);

/* Frames waiting for receive buffers on every queue pair of @p. */
unsigned int vnet_port_backlog(const struct vnet_port *p);

/* Swap Ethernet source/destination, and IPv4 source/destination and TCP/UDP ports (5tswap). */
void vnet_5tswap(uint8_t *frame, size_t len);

#endif
