/* SPDX-License-Identifier: MIT */
/*
 * One vhost-user connection: the protocol state machine of a back-end (vhost-user.rst), the
 * memory table, the virtqueue registers, and the device IOTLB that every guest access goes
 * through when VIOMMU_VIRTIO_F_ACCESS_PLATFORM is negotiated.
 *
 * Single-threaded: the embedder calls vh_dev_handle() when the socket is readable and runs the
 * datapath from the same thread, so IOTLB UPDATE/INVALIDATE never race a guest access.
 *
 * One error convention in the whole back-end (vhost/): a call that can fail returns 0 (or a
 * count, or an fd) on success and a negative errno code on failure, never -1 with errno set;
 * codes from libviommu (VIOMMU_E*) are negated errnos already and pass through. Questions
 * (vh_vq_ready()) return bool.
 */
#ifndef VHOST_USER_H
#define VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <viommu/spec/vhost_user.h>
#include <viommu/spec/virtio.h>

/* The largest payload we accept: SET_MEM_TABLE with 8 regions (264 bytes). */
#define VHOST_USER_PAYLOAD_MAX ((uint32_t)sizeof(struct viommu_vhost_user_memory))

/* Fds one message may carry (SET_MEM_TABLE: one per region). */
#define VHOST_USER_MAX_FDS VIOMMU_VHOST_USER_MEMORY_BASELINE_NREGIONS

struct viommu_devtlb;
struct viommu_devtlb_reader;

#define VH_MAX_MEM_SLOTS 32u  /* our GET_MAX_MEM_SLOTS answer */
#define VH_MAX_QUEUE_PAIRS 4u /* our GET_QUEUE_NUM answer (VIRTIO_NET_F_MQ) */
/* Queue pair k: 2k = receiveqk+1, 2k + 1 = transmitqk+1 (virtio 1.2 5.1.2). */
#define VH_NUM_VQS (2u * VH_MAX_QUEUE_PAIRS)
#define VH_VQ_MAX_SIZE 32768u

enum vh_space {
	VH_SPACE_RING, /* ring addresses: front-end virtual addresses, or IOVAs */
	VH_SPACE_BUF,  /* descriptor addresses: guest-physical addresses, or IOVAs */
};

struct vh_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;	   /* front-end virtual address */
	uint8_t *host;	   /* our mapping of gpa */
	void *map_base;	   /* what mmap returned (host - mmap_offset) */
	size_t map_size;   /* size + mmap_offset */
	unsigned int refs; /* ADD_MEM_REGs of this very region (one per queue pair's device) */
};

/*
 * Ring positions. Split ring: free-running 16-bit indexes. Packed ring (VIRTIO_F_RING_PACKED): a
 * descriptor index below num with the ring wrap counter in bit 15, the vhost-user encoding of
 * each half of SET_VRING_BASE (see vh_vq_pos_next()).
 */
struct vh_vq {
	uint32_t num;
	uint16_t last_avail;
	uint16_t used_idx;  /* published to the guest */
	uint16_t used_next; /* next used slot to fill (ahead of used_idx until published) */
	/* Packed: descriptors marked used since the last interrupt decision (a lap or more
	 * makes the event position ambiguous: then the guest is signalled). */
	uint32_t used_descs;
	uint64_t desc_addr;
	uint64_t avail_addr;
	uint64_t used_addr;
	int kick_fd;
	int call_fd;
	int err_fd;
	bool addr_set;
	bool started; /* a kick fd (or polling) was set */
	bool enabled;
	bool broken; /* the guest corrupted the ring: stop until the ring is set up again */
	/*
	 * Interrupt batching (VIRTIO_F_EVENT_IDX): the used index the guest was last signalled
	 * for; until the first signal every publish calls.
	 */
	uint16_t signalled_used;
	bool signalled_valid;
	/*
	 * Kick suppression as last written to the guest's rings (reset when the ring is set up):
	 * without EVENT_IDX the used ring's flags (NO_NOTIFY), with it the avail_event index.
	 */
	bool notify_known;    /* notify_on/avail_event below match guest memory */
	bool notify_on;	      /* the guest was asked for kicks */
	uint16_t avail_event; /* EVENT_IDX: the value written */
};

struct vh_stats {
	uint64_t msgs;
	uint64_t bad_msgs;
	uint64_t iotlb_msgs;
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidates;
	uint64_t iotlb_rejected;
	uint64_t misses_sent;
	uint64_t misses_unsent; /* no back-end channel, or it was full */
	uint64_t kick_hangups;	/* kick fds dropped because their writer went away */
};

/*
 * A control connection's buffers. Input: one message assembled across reads (a slow sender never
 * makes the loop wait), with the fds that came with it. Output: replies the peer has not read
 * yet, bounded; a peer that lets it fill is disconnected rather than waited for.
 */
#define VH_OUT_MAX 4096u
struct vh_conn_rx {
	uint8_t buf[VIOMMU_VHOST_USER_HDR_SIZE + VHOST_USER_PAYLOAD_MAX];
	uint32_t have; /* bytes of buf received */
	int fds[2 * VHOST_USER_MAX_FDS];
	size_t nfds;
	bool too_many_fds; /* more arrived than fds[] holds: closed, the message is refused */
};
struct vh_conn_tx {
	uint8_t buf[VH_OUT_MAX];
	uint32_t len;
};

struct vh_dev;

/* What the device behind the connection is told. Any pointer may be NULL. */
struct vh_dev_ops {
	/* Watch or stop watching @fd (a kick eventfd of queue @vq). */
	void (*watch_kick)(void *opaque, struct vh_dev *dev, unsigned int vq, int fd, bool add);
	/* Queues may be able to make progress now (a translation arrived, a ring started). */
	void (*resume)(void *opaque, struct vh_dev *dev);
	/* The queues are about to be stopped or reset: drop anything that refers to them. */
	void (*stop)(void *opaque, struct vh_dev *dev);
	/* Monotonic nanoseconds for the device IOTLB's miss retry (NULL: CLOCK_MONOTONIC). */
	uint64_t (*clock)(void *opaque);
	/* Device-IOTLB entries and pending-miss slots (0: devtlb's defaults, 2048 and 256). */
	uint32_t devtlb_capacity;
	uint32_t devtlb_pending;
};

struct vh_dev {
	int sock;
	int backend_fd;
	uint64_t features;	    /* acknowledged by SET_FEATURES */
	uint64_t protocol_features; /* acknowledged by SET_PROTOCOL_FEATURES */
	bool features_set;
	bool owner;
	bool iommu; /* VIOMMU_VIRTIO_F_ACCESS_PLATFORM negotiated */
	unsigned int nregions;
	struct vh_region regions[VH_MAX_MEM_SLOTS];
	struct vh_vq vq[VH_NUM_VQS];
	struct viommu_devtlb *tlb; /* de-duplicates misses itself */
	struct viommu_devtlb_reader *reader[VH_NUM_VQS];
	struct vh_stats stats;
	void *audit;	 /* FILE * of the audit log, or NULL */
	bool verbose;	 /* log every message to stderr */
	bool debug;	 /* log misses, IOTLB messages and datapath rounds with timestamps */
	bool rings_cold; /* translations were dropped: the datapath asks for every ring page */
	const struct vh_dev_ops *ops;
	void *opaque;
	const char *name; /* for log messages */
	struct vh_conn_rx rx;
	struct vh_conn_tx tx;
};

/* Virtio features we offer (GET_FEATURES) and protocol features (GET_PROTOCOL_FEATURES). */
#define VH_FEATURES                                                          \
	(VIOMMU_VIRTIO_NET_F_MRG_RXBUF | VIOMMU_VIRTIO_NET_F_MQ |            \
	 VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES | VIOMMU_VIRTIO_F_VERSION_1 | \
	 VIOMMU_VIRTIO_F_ACCESS_PLATFORM | VIOMMU_VIRTIO_F_INDIRECT_DESC |   \
	 VIOMMU_VIRTIO_F_EVENT_IDX | VIOMMU_VIRTIO_F_RING_PACKED)
#define VH_PROTOCOL_FEATURES                                                                 \
	(VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK | VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ | \
	 VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VIOMMU_VHOST_USER_PROTOCOL_F_MQ)

/* Set up @dev on the connected socket @sock (owned from now on, made non-blocking). 0 or -errno. */
int vh_dev_init(struct vh_dev *dev, int sock, const struct vh_dev_ops *ops, void *opaque,
		const char *name);
/* Close everything @dev holds (socket, fds, mappings, IOTLB). */
void vh_dev_destroy(struct vh_dev *dev);

/*
 * Read what the socket holds (never waiting) and handle the messages it completes, at most
 * VH_MSGS_PER_CALL of them so that other connections get their turn. Returns 0, or a negative
 * errno when the connection must be closed: peer gone, a header that breaks the stream (version,
 * REPLY flag, a size the request type does not have), more fds than any message carries, or an
 * output buffer the peer let fill. A message that is merely invalid gets an error reply when
 * one is due and returns 0.
 */
#define VH_MSGS_PER_CALL 16u
int vh_dev_handle(struct vh_dev *dev);

/* Send queued replies (the socket became writable). 0, or a negative errno: close. */
int vh_dev_flush(struct vh_dev *dev);

/* Whether replies wait for the socket to become writable (watch it for output). */
bool vh_dev_want_write(const struct vh_dev *dev);

/*
 * The kick fd of queue @vq is readable, or reported @hangup (EPOLLHUP/EPOLLERR): drain it. A kick
 * fd whose writer went away (read returns 0, or an error) would be reported readable forever: it
 * is dropped (the queue then runs only when something else resumes it). 0, or -EPIPE when the
 * fd was dropped.
 */
int vh_dev_kick(struct vh_dev *dev, unsigned int vq, bool hangup);

/*
 * Handle one already-received message (the parser the socket path and the fuzzer share). Takes
 * ownership of the @nfds fds in @fds (closes the ones it does not keep). Same return as
 * vh_dev_handle().
 */
int vh_dev_process(struct vh_dev *dev, const struct viommu_vhost_user_header *hdr,
		   const void *payload, int *fds, size_t nfds);

/*
 * Translate [addr, addr + len) of @space into our address space for @perm (VIOMMU_VHOST_USER_ACCESS_*), on
 * behalf of queue @vq (its device-IOTLB reader).
 * On success *host points at the first byte and *contig (>= 1, <= len) bytes are contiguous.
 * Returns -EAGAIN after a translation miss (a MISS was sent or is pending: retry when resume()
 * is called) or -EFAULT when the address is not guest memory.
 */
int vh_xlate(struct vh_dev *dev, unsigned int vq, enum vh_space space, uint64_t addr, uint64_t len,
	     unsigned int perm, uint8_t **host, uint64_t *contig);

/* The datapath of queue @vq holds no translated address any more (end of a burst). */
void vh_xlate_done(struct vh_dev *dev, unsigned int vq);

/*
 * Audit log: one record per accepted UPDATE, per INVALIDATE and per translation the datapath
 * used, in the order they happened, so a checker can prove that no translation was used after an
 * invalidation removed it. Opens @path (truncating it); 0 or -errno.
 */
enum vh_audit_type {
	VH_AUDIT_UPDATE = 1,
	VH_AUDIT_INVALIDATE = 2,
	VH_AUDIT_USE = 3,
};
struct vh_audit_rec {
	uint64_t type; /* enum vh_audit_type */
	uint64_t iova;
	uint64_t size; /* INVALIDATE: as received (0 or a wrapping end means "to the end") */
};
int vh_dev_audit(struct vh_dev *dev, const char *path);

/* With dev->debug: one timestamped line on stderr (for finding stalls after the fact). */
void vh_debug(const struct vh_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Signal the guest that queue @vq has used buffers (the caller decided it is due). */
void vh_vq_call(struct vh_dev *dev, unsigned int vq);

/* Whether queue @vq can be processed (set up, started, enabled, not broken). */
bool vh_vq_ready(const struct vh_dev *dev, unsigned int vq);

#endif
