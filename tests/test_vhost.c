// SPDX-License-Identifier: MIT
/*
 * viommu-vhost protocol server and datapath, driven by a fake front-end written here: messages
 * over a socketpair with fds passed by SCM_RIGHTS, guest memory in a memfd that both sides map,
 * the back-end channel read back to see MISS requests. Checks replies, what is refused, that
 * every fd received is kept or closed, the IOTLB flows (miss -> update -> resume, invalidations
 * with a wrapping end or size 0) and virtqueue processing (reflect mode, mergeable buffers).
 */
#include "test_common.h"
#include "test_vhost_fe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "vh_app.h"

#define MEM_SIZE (1u << 20)
#define FE_VA 0x7f0000000000ull /* where the fake front-end says guest memory is */
#define QSIZE 8u

/* Guest layout (guest-physical addresses; IOVAs map them at IOVA_BASE + gpa). */
#define IOVA_BASE 0xfef00000ull
#define RXQ_DESC 0x1000u
#define RXQ_AVAIL 0x2000u
#define RXQ_USED 0x3000u
#define TXQ_DESC 0x4000u
#define TXQ_AVAIL 0x5000u
#define TXQ_USED 0x6000u
#define BUF_BASE 0x10000u

struct fx {
	int fe;	     /* front-end end of the control socket */
	int be_peer; /* front-end end of the back-end channel */
	int memfd;
	uint8_t *mem; /* the test's own view of guest memory */
	struct vnet_switch *sw;
	struct vnet_port *p;
	struct vh_dev *dev;
	int resumed;
	int kick[VH_NUM_VQS];
	int call[VH_NUM_VQS];
	struct vh_app *app; /* the program's event loop serves the connection (setup_app) */
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void on_resume(void *opaque, struct vh_dev *dev)
{
	struct fx *f = opaque;

	(void)dev;
	f->resumed++;
	f->p->pending = true;
}

static void on_stop(void *opaque, struct vh_dev *dev)
{
	struct fx *f = opaque;

	(void)dev;
	vnet_port_stop(f->p);
}

/* Time stands still: a pending miss is never re-asked behind the test's back. */
static uint64_t frozen_clock(void *opaque)
{
	(void)opaque;
	return 1;
}

static const struct vh_dev_ops ops = { .resume = on_resume,
				       .stop = on_stop,
				       .clock = frozen_clock };

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->sw = calloc(1, sizeof(*f->sw));
	assert_non_null(f->sw);
	vnet_init(f->sw, VNET_REFLECT, 1);
	f->p = &f->sw->port[0];
	f->dev = &f->p->dev;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fe = sv[1];
	assert_int_equal(vnet_port_connect(f->p, sv[0], &ops, f), 0);
	f->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	/* As QEMU's memory-backend-memfd does: the back-end refuses memory that can shrink. */
	assert_int_equal(fcntl(f->memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
			 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	f->be_peer = -1;
	for (unsigned int i = 0; i < VH_NUM_VQS; i++)
		f->kick[i] = f->call[i] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->app) {
		vh_app_destroy(f->app);
		free(f->app);
	} else {
		vnet_port_disconnect(f->p);
	}
	close(f->fe);
	if (f->be_peer >= 0)
		close(f->be_peer);
	for (unsigned int i = 0; i < VH_NUM_VQS; i++) {
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->call[i] >= 0)
			close(f->call[i]);
	}
	munmap(f->mem, MEM_SIZE);
	close(f->memfd);
	if (!f->app)
		free(f->sw);
	free(f);
	return 0;
}

/* The same fixture, with the connection served by viommu-vhost's own event loop (vh_app). */
static int setup_app(void **state)
{
	struct fx *f;
	int sv[2];

	setup(state);
	f = *state;
	/* Swap the fixture's port for the loop's: fd mode, port 0, reflect. */
	vnet_port_disconnect(f->p);
	close(f->fe);
	free(f->sw);
	f->app = calloc(1, sizeof(*f->app));
	assert_non_null(f->app);
	assert_int_equal(vh_app_init(f->app, VNET_REFLECT, 1), 0);
	f->app->ops.clock = frozen_clock;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fe = sv[1];
	assert_int_equal(vh_app_connect_fd(f->app, sv[0]), 0);
	f->sw = &f->app->sw;
	f->p = &f->sw->port[0];
	f->dev = &f->p->dev;
	return 0;
}

/* Send one message (raw header fields, so malformed ones can be sent too) with @nfds fds. */
static void send_msg(struct fx *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, size_t nfds)
{
	assert_int_equal(test_vhost_fe_send(f->fe, req, flags, payload, size, fds, nfds, 0), 0);
}

/*
 * Let the back-end handle one message; returns vh_dev_handle()'s result. Through the event loop
 * (setup_app): one round that waits for the message (a liveness bound, not a measurement),
 * 0 while the connection lives.
 */
static int handle(struct fx *f)
{
	if (f->app)
		return vh_app_step(f->app, 30000) > 0 && f->p->connected ? 0 : -1;
	return vh_dev_handle(f->dev);
}

/* GET_VRING_BASE of queue @index: the back-end must answer with that queue's state, @num. */
static void check_vring_base(struct fx *f, uint32_t index, uint32_t num)
{
	struct viommu_vhost_user_vring_state st = { .index = index };
	struct viommu_vhost_user_header h;
	struct viommu_vhost_user_vring_state r;

	send_msg(f, VIOMMU_VHOST_USER_GET_VRING_BASE, VIOMMU_VHOST_USER_VERSION, &st, sizeof(st),
		 NULL, 0);
	assert_int_equal(handle(f), 0);
	assert_int_equal(recv(f->fe, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	assert_int_equal(h.size, sizeof(r));
	assert_int_equal(recv(f->fe, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_int_equal(r.index, index);
	assert_int_equal(r.num, num);
}

/* Read a reply for @req; returns its u64 payload. */
static uint64_t read_reply(struct fx *f, uint32_t req)
{
	struct viommu_vhost_user_header h;
	uint64_t v = 0;

	assert_int_equal(recv(f->fe, &h, sizeof(h), MSG_DONTWAIT), (ssize_t)sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_REPLY_MASK);
	assert_true(h.size == 8);
	assert_int_equal(recv(f->fe, &v, 8, MSG_DONTWAIT), 8);
	return v;
}

static void no_reply(struct fx *f)
{
	char c;

	assert_int_equal(recv(f->fe, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* A message with NEED_REPLY: returns the ack (0 = success). */
static uint64_t call(struct fx *f, uint32_t req, const void *payload, uint32_t size, const int *fds,
		     size_t nfds)
{
	send_msg(f, req, VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_NEED_REPLY_MASK, payload,
		 size, fds, nfds);
	assert_int_equal(handle(f), 0);
	return read_reply(f, req);
}

/*
 * A message whose header breaks the stream (a size its type cannot have, ...): the connection
 * ends, with no reply, whatever the bytes after it.
 */
static void drops(struct fx *f, uint32_t req, const void *payload, uint32_t size)
{
	send_msg(f, req, VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_NEED_REPLY_MASK, payload,
		 size, NULL, 0);
	assert_true(handle(f) < 0);
	no_reply(f);
}

static uint64_t call_u64(struct fx *f, uint32_t req, uint64_t v)
{
	return call(f, req, &v, sizeof(v), NULL, 0);
}

static uint64_t get_u64(struct fx *f, uint32_t req)
{
	send_msg(f, req, VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), 0);
	return read_reply(f, req);
}

static uint64_t set_mem_table(struct fx *f, const struct viommu_vhost_user_memory_region *r,
			      unsigned int n, const int *fds, size_t nfds)
{
	struct viommu_vhost_user_memory m = { .nregions = n };

	memcpy(m.regions, r, n * sizeof(*r));
	return call(f, VIOMMU_VHOST_USER_SET_MEM_TABLE, &m, 8 + n * (uint32_t)sizeof(*r), fds,
		    nfds);
}

static const struct viommu_vhost_user_memory_region whole = {
	.guest_phys_addr = 0,
	.memory_size = MEM_SIZE,
	.userspace_addr = FE_VA,
	.mmap_offset = 0,
};

/*
 * Negotiate features (with or without ACCESS_PLATFORM, plus @extra: EVENT_IDX, INDIRECT_DESC,
 * MQ), memory, back-end channel.
 */
static void negotiate_with(struct fx *f, bool iommu, uint64_t extra)
{
	uint64_t feat = VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF |
			VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES | extra;
	int sv[2];

	if (iommu)
		feat |= VIOMMU_VIRTIO_F_ACCESS_PLATFORM;
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, VH_PROTOCOL_FEATURES),
			 0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[0], 1), 0);
	close(sv[0]);
	f->be_peer = sv[1];
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_FEATURES, feat), 0);
	assert_int_equal(set_mem_table(f, &whole, 1, &f->memfd, 1), 0);
}

static void negotiate(struct fx *f, bool iommu)
{
	negotiate_with(f, iommu, 0);
}

static uint64_t ring_addr(bool iommu, uint64_t gpa)
{
	return iommu ? IOVA_BASE + gpa : FE_VA + gpa;
}

/* Queue pair k > 0 has its rings QP_STRIDE * k above the first pair's. */
#define QP_STRIDE 0x40000u

static void setup_vq(struct fx *f, unsigned int q, bool iommu)
{
	uint64_t off = QP_STRIDE * (q / 2);
	uint64_t d = off + (q % 2 ? TXQ_DESC : RXQ_DESC), a = off + (q % 2 ? TXQ_AVAIL : RXQ_AVAIL);
	uint64_t u = off + (q % 2 ? TXQ_USED : RXQ_USED);
	struct viommu_vhost_user_vring_state st = { .index = q, .num = QSIZE };
	struct viommu_vhost_user_vring_addr addr = {
		.index = q,
		.desc_user_addr = ring_addr(iommu, d),
		.avail_user_addr = ring_addr(iommu, a),
		.used_user_addr = ring_addr(iommu, u),
	};

	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 0;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0),
			 0);
	f->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ q }, 8, &f->kick[q], 1), 0);
	assert_int_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ q }, 8, &f->call[q], 1), 0);
	st.num = 1;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	memcpy(f->mem + gpa, &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, f->mem + gpa, 2);
	return v;
}

static void put_desc(struct fx *f, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct viommu_virtio_virtq_desc d = {
		.addr = addr, .len = len, .flags = flags, .next = next
	};

	memcpy(f->mem + table + 16 * i, &d, sizeof(d));
}

/* Make chain @head available at avail slot @slot of the ring at @avail. */
static void post(struct fx *f, uint64_t avail, uint16_t slot, uint16_t head)
{
	put16(f, avail + 4 + 2 * (slot % QSIZE), head);
	put16(f, avail + 2, (uint16_t)(slot + 1));
}

static struct viommu_virtio_virtq_used_elem used_elem(struct fx *f, uint64_t used, uint16_t slot)
{
	struct viommu_virtio_virtq_used_elem e;

	memcpy(&e, f->mem + used + 4 + 8 * (slot % QSIZE), sizeof(e));
	return e;
}

/* An Ethernet/IPv4/UDP frame from 02:..:01 10.0.0.1:9 to 02:..:02 10.0.0.2:7. */
static size_t make_frame(uint8_t *fr, size_t payload)
{
	static const uint8_t hdr[42] = {
		2, 0,  0,  0, 0, 2,  2, 0, 0, 0,  0, 1, 0x08, 0, 0x45, 0, 0, 0, 0, 0, 0,
		0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,    0, 9,    0, 7, 0, 0, 0, 0,
	};

	memcpy(fr, hdr, sizeof(hdr));
	for (size_t i = 0; i < payload; i++)
		fr[42 + i] = (uint8_t)(i * 7 + 3);
	return 42 + payload;
}

/*
 * A transmit frame at @gpa (12-byte header, then the frame) and its chain of two descriptors
 * (header and start of the frame, then the rest) at entries 0 and 1 of the table at @table,
 * addressed through the IOMMU when @iommu. Returns the frame length.
 */
static size_t put_tx_chain(struct fx *f, bool iommu, uint64_t table, uint64_t gpa, size_t payload)
{
	uint8_t fr[2048];
	size_t len = make_frame(fr, payload);
	uint64_t base = iommu ? IOVA_BASE : 0;

	memset(f->mem + gpa, 0, 12);
	memcpy(f->mem + gpa + 12, fr, len);
	put_desc(f, table, 0, base + gpa, 20, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, table, 1, base + gpa + 20, (uint32_t)(12 + len - 20), 0, 0);
	return len;
}

/* A transmit chain at @gpa: 12-byte header then the frame, split over two descriptors. */
static size_t post_tx(struct fx *f, bool iommu, uint16_t slot, uint64_t gpa, size_t payload)
{
	size_t len = put_tx_chain(f, iommu, TXQ_DESC, gpa, payload);

	post(f, TXQ_AVAIL, slot, 0);
	return len;
}

/* @n receive buffers of @len bytes each, descriptors 0..n-1, one chain each. */
static void post_rx(struct fx *f, bool iommu, unsigned int n, uint32_t len)
{
	uint64_t base = iommu ? IOVA_BASE : 0;

	for (unsigned int i = 0; i < n; i++) {
		put_desc(f, RXQ_DESC, i, base + BUF_BASE + 0x1000ull * i, len,
			 VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		post(f, RXQ_AVAIL, (uint16_t)i, (uint16_t)i);
	}
}

/* The IOTLB message the back-end sent on its channel, or false if there is none. */
static bool read_miss(struct fx *f, struct viommu_vhost_user_iotlb_msg *m)
{
	struct viommu_vhost_user_header h;

	if (recv(f->be_peer, &h, sizeof(h), MSG_DONTWAIT) != (ssize_t)sizeof(h))
		return false;
	assert_int_equal(h.request, VIOMMU_VHOST_USER_BACKEND_IOTLB_MSG);
	assert_int_equal(h.flags, VIOMMU_VHOST_USER_VERSION); /* never NEED_REPLY: never blocks */
	assert_int_equal(h.size, sizeof(*m));
	assert_int_equal(recv(f->be_peer, m, sizeof(*m), MSG_DONTWAIT), (ssize_t)sizeof(*m));
	assert_int_equal(m->type, VIOMMU_VHOST_USER_IOTLB_MISS);
	return true;
}

static uint64_t iotlb(struct fx *f, uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr,
		      uint8_t perm)
{
	struct viommu_vhost_user_iotlb_msg m = {
		.iova = iova, .size = size, .uaddr = uaddr, .perm = perm, .type = type
	};

	return call(f, VIOMMU_VHOST_USER_IOTLB_MSG, &m, sizeof(m), NULL, 0);
}

/* Answer every MISS the way QEMU does: one 4 KiB page, IOVA_BASE + gpa -> front-end VA. */
static unsigned int serve_misses(struct fx *f)
{
	struct viommu_vhost_user_iotlb_msg m;
	unsigned int n = 0;

	while (read_miss(f, &m)) {
		uint64_t page = m.iova & ~0xfffull;

		assert_true(page >= IOVA_BASE && page - IOVA_BASE < MEM_SIZE);
		assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, page, 0x1000,
				       FE_VA + (page - IOVA_BASE), VIOMMU_VHOST_USER_ACCESS_RW),
				 0);
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------------------------------ */

static void test_features(void **state)
{
	struct fx *f = *state;
	uint64_t feat = get_u64(f, VIOMMU_VHOST_USER_GET_FEATURES);

	assert_true(feat & VIOMMU_VIRTIO_F_ACCESS_PLATFORM);
	assert_true(feat & VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES);
	assert_true(feat & VIOMMU_VIRTIO_F_VERSION_1);
	assert_true(feat & VIOMMU_VIRTIO_NET_F_MRG_RXBUF);
	feat = get_u64(f, VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_true(feat & VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK);
	assert_true(feat & VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ);
	assert_true(feat & VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	assert_int_equal(get_u64(f, VIOMMU_VHOST_USER_GET_MAX_MEM_SLOTS), VH_MAX_MEM_SLOTS);
	assert_int_equal(get_u64(f, VIOMMU_VHOST_USER_GET_QUEUE_NUM), VH_MAX_QUEUE_PAIRS);
	/* Bits we never offered are refused; protocol bits likewise. */
	assert_int_not_equal(call_u64(f, VIOMMU_VHOST_USER_SET_FEATURES, 1ull << 40), 0);
	assert_int_not_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, 1ull << 30), 0);
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, VH_PROTOCOL_FEATURES),
			 0);
	/* Without NEED_REPLY a successful SET gets no reply. */
	send_msg(f, VIOMMU_VHOST_USER_SET_OWNER, VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), 0);
	no_reply(f);
}

static void test_bad_headers(void **state)
{
	struct fx *f = *state;
	uint8_t junk[300] = { 0 };

	/* Unknown request: refused with a failure ack, the connection survives. */
	assert_int_not_equal(call(f, 99, NULL, 0, NULL, 0), 0);
	/* Logging is not offered. */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_LOG_BASE, junk, 16, NULL, 0), 0);
	assert_int_equal(get_u64(f, VIOMMU_VHOST_USER_GET_QUEUE_NUM), VH_MAX_QUEUE_PAIRS);
	/* A refused GET cannot be answered: the connection ends. */
	send_msg(f, VIOMMU_VHOST_USER_GET_FEATURES, VIOMMU_VHOST_USER_VERSION, junk, 8, NULL, 0);
	assert_true(handle(f) < 0);
	/* A payload larger than any message: the stream is lost, the connection ends. */
	send_msg(f, VIOMMU_VHOST_USER_SET_MEM_TABLE, VIOMMU_VHOST_USER_VERSION, junk, 300, NULL, 0);
	assert_true(handle(f) < 0);
}

static void test_bad_version(void **state)
{
	struct fx *f = *state;

	send_msg(f, VIOMMU_VHOST_USER_GET_FEATURES, 0x2, NULL, 0, NULL, 0);
	assert_true(handle(f) < 0);
}

static void test_reply_flag_refused(void **state)
{
	struct fx *f = *state;

	send_msg(f, VIOMMU_VHOST_USER_GET_FEATURES,
		 VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_REPLY_MASK, NULL, 0, NULL, 0);
	assert_true(handle(f) < 0);
}

static void test_truncated_message(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_header h = { .request = 2, .flags = 1, .size = 8 };

	/* The header promises 8 bytes that never come: bounded wait, then disconnect. */
	assert_int_equal(send(f->fe, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	shutdown(f->fe, SHUT_WR);
	assert_true(handle(f) < 0);
	/* Peer closed: end of stream. */
	assert_true(handle(f) < 0);
}

static void test_fds_closed(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_memory_region r[2] = { whole, whole };
	int base, e[3];

	for (int i = 0; i < 3; i++)
		e[i] = eventfd(0, EFD_CLOEXEC);
	base = count_fds();
	/* An fd on a message that takes none. */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, e, 1), 0);
	/* One region, two fds. */
	assert_int_not_equal(set_mem_table(f, r, 1, e, 2), 0);
	/* Overlapping regions. */
	assert_int_not_equal(set_mem_table(f, r, 2, e, 2), 0);
	/* A region larger than its file. */
	r[0].memory_size = 2 * MEM_SIZE;
	assert_int_not_equal(set_mem_table(f, r, 1, &f->memfd, 1), 0);
	/* Wrapping addresses. */
	r[0] = whole;
	r[0].guest_phys_addr = UINT64_MAX - 10;
	assert_int_not_equal(set_mem_table(f, r, 1, &f->memfd, 1), 0);
	/* An eventfd is not memory. */
	assert_int_not_equal(set_mem_table(f, &whole, 1, e, 1), 0);
	/* Kick with the no-fd flag and an fd anyway; call with a bad index. */
	assert_int_not_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ 0x100 }, 8, e, 1), 0);
	assert_int_not_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ VH_NUM_VQS }, 8, e, 1), 0);
	/* Too many fds for any message (more than 8): the connection ends, all are closed. */
	{
		int many[12];

		for (int i = 0; i < 12; i++)
			many[i] = e[i % 3];
		send_msg(f, VIOMMU_VHOST_USER_SET_MEM_TABLE, VIOMMU_VHOST_USER_VERSION, NULL, 0,
			 many, 12);
		assert_true(handle(f) < 0);
	}
	assert_int_equal(count_fds(), base);
	for (int i = 0; i < 3; i++)
		close(e[i]);
}

static void test_mem_regions(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_memory_single s = { .region = whole };
	int base = count_fds();

	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, VH_PROTOCOL_FEATURES),
			 0);
	s.region.memory_size = MEM_SIZE / 2;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1), 0);
	assert_int_equal(f->dev->nregions, 1);
	/*
	 * The identical region again (QEMU's device for another queue pair): a reference on the
	 * mapping, no second one; its removal drops only the reference. At most one per pair.
	 */
	assert_int_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1), 0);
	assert_int_equal(f->dev->nregions, 1);
	assert_int_equal(f->dev->regions[0].refs, 2);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_REM_MEM_REG, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(f->dev->nregions, 1);
	assert_int_equal(f->dev->regions[0].refs, 1);
	for (unsigned int i = 1; i < VH_MAX_QUEUE_PAIRS; i++)
		assert_int_equal(
			call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1), 0);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1),
			     0);
	for (unsigned int i = 1; i < VH_MAX_QUEUE_PAIRS; i++)
		assert_int_equal(call(f, VIOMMU_VHOST_USER_REM_MEM_REG, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(f->dev->regions[0].refs, 1);
	/* Overlaps the first without being it. */
	s.region.memory_size = MEM_SIZE / 4;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1),
			     0);
	s.region.memory_size = MEM_SIZE / 2;
	/* Empty, or wrapping past the end of the space: refused too. */
	{
		struct viommu_vhost_user_memory_single bad = s;

		bad.region.guest_phys_addr = MEM_SIZE;
		bad.region.userspace_addr = FE_VA + MEM_SIZE;
		bad.region.memory_size = 0;
		assert_int_not_equal(
			call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &bad, sizeof(bad), &f->memfd, 1), 0);
		bad.region.memory_size = 4096;
		bad.region.guest_phys_addr = UINT64_MAX - 100;
		assert_int_not_equal(
			call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &bad, sizeof(bad), &f->memfd, 1), 0);
		assert_int_equal(f->dev->nregions, 1);
	}
	/* Second half, from an offset into the same file. */
	s.region.guest_phys_addr = MEM_SIZE / 2;
	s.region.userspace_addr = FE_VA + MEM_SIZE / 2;
	s.region.mmap_offset = MEM_SIZE / 2;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &f->memfd, 1), 0);
	assert_int_equal(f->dev->nregions, 2);
	/* The mapping is the same memory: write through the back-end, read here. */
	{
		uint8_t *host;
		uint64_t n;

		assert_int_equal(vh_xlate(f->dev, 0, VH_SPACE_BUF, MEM_SIZE / 2 + 5, 100,
					  VIOMMU_VHOST_USER_ACCESS_WO, &host, &n),
				 0);
		assert_int_equal(n, 100);
		host[0] = 0x5a;
		assert_int_equal(f->mem[MEM_SIZE / 2 + 5], 0x5a);
		/* Up to the region end only. */
		assert_int_equal(vh_xlate(f->dev, 0, VH_SPACE_BUF, MEM_SIZE / 2 - 4, 100,
					  VIOMMU_VHOST_USER_ACCESS_RO, &host, &n),
				 0);
		assert_int_equal(n, 4);
		assert_int_equal(vh_xlate(f->dev, 0, VH_SPACE_BUF, MEM_SIZE, 1,
					  VIOMMU_VHOST_USER_ACCESS_RO, &host, &n),
				 -EFAULT);
	}
	/* Remove: must match exactly; an fd sent along is closed. */
	s.region.mmap_offset = 0;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_REM_MEM_REG, &s, sizeof(s), &f->memfd, 1), 0);
	assert_int_equal(f->dev->nregions, 1);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_REM_MEM_REG, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(count_fds(), base);
}

/*
 * Memory the front-end could shrink under us is refused (a later access would be SIGBUS): an
 * unsealed memfd, one that allows sealing but is not sealed, a plain tmpfs file. A memfd sealed
 * against shrinking is accepted, and can indeed no longer be truncated.
 */
static void test_unsealed_memory_refused(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_memory_single s = { .region = whole };
	int base = count_fds();
	int fd;

	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, VH_PROTOCOL_FEATURES),
			 0);
	fd = memfd_create("unsealed", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEM_SIZE), 0);
	assert_int_not_equal(set_mem_table(f, &whole, 1, &fd, 1), 0);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &fd, 1), 0);
	assert_int_equal(f->dev->nregions, 0);
	close(fd);

	fd = memfd_create("sealable", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEM_SIZE), 0);
	assert_int_not_equal(set_mem_table(f, &whole, 1, &fd, 1), 0);
	/* Sealed against growing only: still refused. */
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
	assert_int_not_equal(set_mem_table(f, &whole, 1, &fd, 1), 0);
	assert_int_equal(f->dev->nregions, 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(set_mem_table(f, &whole, 1, &fd, 1), 0);
	assert_int_equal(f->dev->nregions, 1);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	close(fd);

	/* A file opened by path can be truncated by anyone who can write it: refused. */
	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0) {
		assert_int_equal(ftruncate(fd, MEM_SIZE), 0);
		assert_int_not_equal(set_mem_table(f, &whole, 1, &fd, 1), 0);
		close(fd);
	}
	assert_int_equal(f->dev->nregions, 1);
	assert_int_equal(count_fds(), base);
}

/*
 * A wrong but in-limit size: the spec fixes each type's size, so the connection ends instead of
 * the next bytes being parsed as a header (here they look like a valid SET_OWNER).
 */
static void test_wrong_size_drops(void **state)
{
	struct fx *f = *state;
	uint8_t junk[40] = { 0 };
	struct viommu_vhost_user_header h = { .request = VIOMMU_VHOST_USER_SET_OWNER,
					      .flags = VIOMMU_VHOST_USER_VERSION };

	memcpy(junk, &h, sizeof(h));
	assert_int_equal(get_u64(f, VIOMMU_VHOST_USER_GET_QUEUE_NUM), VH_MAX_QUEUE_PAIRS);
	drops(f, VIOMMU_VHOST_USER_SET_FEATURES, junk, 4);
	assert_false(f->dev->owner);
}

static void test_wrong_sizes_each_type(void **state)
{
	static const struct {
		uint32_t req, size;
	} bad[] = {
		{ VIOMMU_VHOST_USER_GET_FEATURES, 8 },
		{ VIOMMU_VHOST_USER_SET_OWNER, 8 },
		{ VIOMMU_VHOST_USER_SET_VRING_NUM, 4 },
		{ VIOMMU_VHOST_USER_SET_VRING_ADDR, 32 },
		{ VIOMMU_VHOST_USER_SET_VRING_KICK, 16 },
		{ VIOMMU_VHOST_USER_ADD_MEM_REG, 32 },
		{ VIOMMU_VHOST_USER_SET_MEM_TABLE, 20 },
		{ VIOMMU_VHOST_USER_IOTLB_MSG, 40 },
		{ VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, 8 },
		{ VIOMMU_VHOST_USER_GET_VRING_BASE, 0 },
	};
	uint8_t junk[64] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *f;

		setup((void **)&f);
		drops(f, bad[i].req, junk, bad[i].size);
		teardown((void **)&f);
	}
}

/*
 * A sender that trickles a message one byte at a time: every call returns at once with nothing
 * handled (the loop serves others meanwhile), and the message is handled when complete.
 */
static void test_slow_sender(void **state)
{
	struct fx *f = *state;
	uint8_t m[VIOMMU_VHOST_USER_HDR_SIZE + 8];
	struct viommu_vhost_user_header h = { .request = VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES,
					      .flags = VIOMMU_VHOST_USER_VERSION |
						       VIOMMU_VHOST_USER_NEED_REPLY_MASK,
					      .size = 8 };
	uint64_t v = VH_PROTOCOL_FEATURES;

	memcpy(m, &h, sizeof(h));
	memcpy(m + sizeof(h), &v, 8);
	for (size_t i = 0; i < sizeof(m); i++) {
		assert_int_equal(send(f->fe, &m[i], 1, 0), 1);
		assert_int_equal(handle(f), 0);
		if (i + 1 < sizeof(m))
			no_reply(f);
	}
	assert_int_equal(read_reply(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES), 0);
	assert_int_equal(f->dev->protocol_features, VH_PROTOCOL_FEATURES);
	/* Fds sent with the first byte of a message stay with that message. */
	{
		int e = eventfd(0, EFD_CLOEXEC), base = count_fds();
		struct viommu_vhost_user_header k = { .request = VIOMMU_VHOST_USER_SET_VRING_CALL,
						      .flags = VIOMMU_VHOST_USER_VERSION |
							       VIOMMU_VHOST_USER_NEED_REPLY_MASK,
						      .size = 8 };
		uint8_t km[VIOMMU_VHOST_USER_HDR_SIZE + 8] = { 0 };
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { .iov_base = km, .iov_len = 3 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		memcpy(km, &k, sizeof(k));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &e, sizeof(int));
		assert_int_equal(sendmsg(f->fe, &mh, 0), 3);
		assert_int_equal(handle(f), 0);
		assert_int_equal(send(f->fe, km + 3, sizeof(km) - 3, 0), (ssize_t)sizeof(km) - 3);
		assert_int_equal(handle(f), 0);
		assert_int_equal(read_reply(f, VIOMMU_VHOST_USER_SET_VRING_CALL), 0);
		assert_true(f->dev->vq[0].call_fd >= 0);
		assert_int_equal(count_fds(), base + 1); /* the back-end keeps its copy */
		close(e);
	}
}

/*
 * A front-end that never reads its replies: the back-end never blocks (the alarm would kill a
 * blocked test), its output is bounded, and the connection ends when the buffer is full.
 */
static void test_unread_replies_drop(void **state)
{
	struct fx *f = *state;
	int small = 4096, ret = 0, i;

	assert_int_equal(setsockopt(f->dev->sock, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	alarm(60);
	for (i = 0; i < 100000 && ret == 0; i++) {
		send_msg(f, VIOMMU_VHOST_USER_GET_QUEUE_NUM, VIOMMU_VHOST_USER_VERSION, NULL, 0,
			 NULL, 0);
		ret = handle(f);
	}
	alarm(0);
	assert_int_equal(ret, -ENOBUFS);
	assert_true(i < 100000);
	assert_true(f->dev->tx.len <= VH_OUT_MAX);
}

/* A kick fd whose writer went away is dropped instead of being reported readable forever. */
static void test_hung_up_kick(void **state)
{
	struct fx *f = *state;
	int p[2], base;

	negotiate(f, false);
	setup_vq(f, 1, false);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ 1 }, 8, &p[0], 1),
			 0);
	base = count_fds();
	close(p[0]);
	/* Kicks through the pipe drain as with an eventfd. */
	assert_int_equal(write(p[1], "kick", 4), 4);
	assert_int_equal(vh_dev_kick(f->dev, 1, false), 0);
	assert_true(f->dev->vq[1].kick_fd >= 0);
	close(p[1]);
	assert_int_equal(vh_dev_kick(f->dev, 1, true), -EPIPE);
	assert_int_equal(f->dev->vq[1].kick_fd, -1);
	assert_int_equal(f->dev->stats.kick_hangups, 1);
	assert_int_equal(count_fds(), base - 3); /* our pipe ends, and the back-end's copy */
}

/* Notification fds that cannot work are refused; the kinds that can are taken. */
static void test_bad_notify_fds(void **state)
{
	struct fx *f = *state;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), mfd = memfd_create("x", MFD_CLOEXEC);
	int e = eventfd(0, EFD_CLOEXEC), p[2], sv[2], base;

	assert_true(null >= 0 && mfd >= 0 && e >= 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	base = count_fds();
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, VH_PROTOCOL_FEATURES),
			 0);
	for (uint32_t req = VIOMMU_VHOST_USER_SET_VRING_KICK;
	     req <= VIOMMU_VHOST_USER_SET_VRING_ERR; req++) {
		assert_int_not_equal(call(f, req, &(uint64_t){ 0 }, 8, &null, 1), 0);
		assert_int_not_equal(call(f, req, &(uint64_t){ 0 }, 8, &mfd, 1), 0);
		/* The pipe end that cannot be used that way round. */
		assert_int_not_equal(call(f, req, &(uint64_t){ 0 }, 8,
					  &p[req == VIOMMU_VHOST_USER_SET_VRING_KICK ? 1 : 0], 1),
				     0);
		assert_int_equal(call(f, req, &(uint64_t){ 0 }, 8,
				      &p[req == VIOMMU_VHOST_USER_SET_VRING_KICK ? 0 : 1], 1),
				 0);
		assert_int_equal(call(f, req, &(uint64_t){ 0 }, 8, &e, 1), 0);
		assert_int_equal(call(f, req, &(uint64_t){ 0 }, 8, &sv[0], 1), 0);
	}
	/* The back-end channel carries MISS messages: a socket, nothing else. */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &e, 1), 0);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &mfd, 1), 0);
	assert_int_equal(f->dev->backend_fd, -1);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[0], 1), 0);
	assert_int_equal(count_fds(), base + 4); /* kick, call, err and the back-end channel */
	close(null);
	close(mfd);
	close(e);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Without a vIOMMU, rings outside the memory table are refused at SET_VRING_ADDR. */
static void test_ring_addr_outside_memory(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_vring_state st = { .index = 0, .num = QSIZE };
	struct viommu_vhost_user_vring_addr a = { .index = 0,
						  .desc_user_addr = FE_VA + RXQ_DESC,
						  .avail_user_addr = FE_VA + RXQ_AVAIL,
						  .used_user_addr = FE_VA + RXQ_USED };

	negotiate(f, false);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.used_user_addr = FE_VA + MEM_SIZE; /* just past the end */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.used_user_addr = FE_VA + MEM_SIZE - 16; /* starts inside, ends outside */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.used_user_addr = FE_VA + RXQ_USED;
	a.desc_user_addr = 0x1000; /* a guest-physical address where a virtual one belongs */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(f->dev->vq[0].desc_addr, FE_VA + RXQ_DESC);
}

static void test_vring_validation(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_vring_state st = { .index = 0, .num = 6 };
	struct viommu_vhost_user_vring_addr a = { .index = 0, .desc_user_addr = 8 };

	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 65536;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 256;
	st.index = VH_NUM_VQS;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.index = 1;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 70000;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0),
			     0);
	/* Misaligned descriptor table; log flag without logging. */
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	a.desc_user_addr = 0;
	a.flags = VIOMMU_VHOST_USER_VRING_F_LOG;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	st.index = 0;
	st.num = 2;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0),
			     0);
	/* GET_VRING_BASE answers with the state. */
	st.index = 1;
	st.num = 33;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	check_vring_base(f, 1, 33);
}

/* Transmit one frame and receive it back swapped, with guest-physical addresses. */
static void test_reflect_gpa(void **state)
{
	struct fx *f = *state;
	uint8_t fr[2048], got[2048];
	struct viommu_virtio_virtq_used_elem e;
	size_t len;
	uint64_t cnt;

	negotiate(f, false);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	post_rx(f, false, 4, 1024);
	len = post_tx(f, false, 0, BUF_BASE + 0x8000, 1000);
	vnet_port_run(f->p);
	assert_int_equal(get16(f, TXQ_USED + 2), 1);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(f->p->stats.rx_frames, 1);
	/* 12 + 1042 bytes over two 1024-byte buffers: num_buffers 2. */
	assert_int_equal(get16(f, RXQ_USED + 2), 2);
	e = used_elem(f, RXQ_USED, 0);
	assert_int_equal(e.id, 0);
	assert_int_equal(e.len, 1024);
	e = used_elem(f, RXQ_USED, 1);
	assert_int_equal(e.len, 12 + len - 1024);
	assert_int_equal(get16(f, BUF_BASE + 10), 2);
	memcpy(got, f->mem + BUF_BASE + 12, 1024 - 12);
	memcpy(got + 1024 - 12, f->mem + BUF_BASE + 0x1000, len - (1024 - 12));
	make_frame(fr, 1000);
	vnet_5tswap(fr, len);
	assert_memory_equal(got, fr, len);
	/* Swapped: destination is the sender. */
	assert_int_equal(got[5], 1);
	assert_int_equal(got[11], 2);
	assert_int_equal(got[14 + 15], 2);
	assert_int_equal(got[14 + 19], 1);
	assert_int_equal(got[35], 7);
	assert_int_equal(got[37], 9);
	assert_int_equal(read(f->call[VNET_RXQ], &cnt, 8), 8);
}

/* The same with ACCESS_PLATFORM: every access misses first, then resumes on UPDATE. */
static void test_iotlb_miss_update_resume(void **state)
{
	struct fx *f = *state;
	uint8_t fr[2048];
	size_t len;
	unsigned int rounds = 0, updates = 0;

	negotiate(f, true);
	setup_vq(f, VNET_RXQ, true);
	setup_vq(f, VNET_TXQ, true);
	post_rx(f, true, 4, 2048);
	len = post_tx(f, true, 0, BUF_BASE + 0x8000, 500);
	/* Nothing is mapped: the first round stops on a miss and consumes nothing. */
	vnet_port_run(f->p);
	assert_int_equal(get16(f, TXQ_USED + 2), 0);
	assert_true(f->p->missed);
	/*
	 * Misses are asynchronous and de-duplicated: the first round asks for the ring pages (the
	 * transmit queue's available ring first), a second round asks nothing new.
	 */
	{
		struct viommu_vhost_user_iotlb_msg m;
		unsigned int asked = 0;

		assert_true(read_miss(f, &m));
		assert_int_equal(m.iova & ~0xfffull, IOVA_BASE + TXQ_AVAIL);
		while (read_miss(f, &m))
			asked++;
		assert_int_equal(asked,
				 5); /* the other two transmit and three receive ring pages */
		vnet_port_run(f->p);
		assert_false(read_miss(f, &m));
		for (unsigned int i = 0; i < 6; i++) {
			uint64_t gpa = 0x1000ull * (i + 1); /* RXQ_DESC .. TXQ_USED */

			assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, IOVA_BASE + gpa,
					       0x1000, FE_VA + gpa, VIOMMU_VHOST_USER_ACCESS_RW),
					 0);
			updates++;
		}
	}
	/* Serve misses until the frame has gone round; each round makes progress. */
	while (f->p->stats.rx_frames == 0) {
		assert_true(++rounds < 32);
		f->resumed = 0;
		vnet_port_run(f->p);
		updates += serve_misses(f);
	}
	assert_true(updates >= 6); /* 3 tx rings, tx buffer, 3 rx rings, rx buffer */
	assert_true(rounds <= 5);
	assert_int_equal(get16(f, TXQ_USED + 2), 1);
	assert_int_equal(get16(f, RXQ_USED + 2), 1);
	make_frame(fr, 500);
	vnet_5tswap(fr, len);
	assert_memory_equal(f->mem + BUF_BASE + 12, fr, len);
	assert_int_equal(f->dev->stats.iotlb_updates, updates);
}

/*
 * A lazy-mode guest (iommu.strict=0) flushes everything every few milliseconds, so after every
 * flush all ring translations are gone. The next round asks for all six ring pages at once; found
 * one miss round trip at a time they made every frame after a flush wait for eight round trips,
 * each a scheduling hand-off to QEMU's main loop (up to 0.7 s each on a loaded host).
 */
static void test_invalidate_prefetches_rings(void **state)
{
	static const uint64_t rings[] = { TXQ_AVAIL, TXQ_DESC, TXQ_USED,
					  RXQ_AVAIL, RXQ_DESC, RXQ_USED };
	struct fx *f = *state;
	struct viommu_vhost_user_iotlb_msg m;
	uint64_t asked[16];
	unsigned int n = 0, rounds = 0;

	negotiate(f, true);
	setup_vq(f, VNET_RXQ, true);
	setup_vq(f, VNET_TXQ, true);
	post_rx(f, true, 4, 2048);
	post_tx(f, true, 0, BUF_BASE + 0x8000, 500);
	while (f->p->stats.rx_frames == 0) {
		assert_true(++rounds < 32);
		vnet_port_run(f->p);
		serve_misses(f);
	}
	/* What QEMU 7.2 sends for a lazy-mode flush: two ranges around the interrupt window. */
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0, 0xfee00000, 0, 0), 0);
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0xfef00000, 0 - 0xfef00000ull,
			       0, 0),
			 0);
	post_tx(f, true, 1, BUF_BASE + 0x9000, 100);
	vnet_port_run(f->p);
	while (n < 16 && read_miss(f, &m)) {
		asked[n++] = m.iova & ~0xfffull;
		assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, m.iova & ~0xfffull,
				       0x1000, FE_VA + (m.iova & 0xfffff000ull) - IOVA_BASE,
				       VIOMMU_VHOST_USER_ACCESS_RW),
				 0);
	}
	for (unsigned int i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		bool found = false;

		for (unsigned int k = 0; k < n; k++)
			found |= asked[k] == IOVA_BASE + rings[i];
		assert_true(found);
	}
	/* Then the frame costs one round per buffer: transmit, receive, done. */
	rounds = 0;
	while (f->p->stats.rx_frames == 1) {
		assert_true(++rounds < 32);
		vnet_port_run(f->p);
		serve_misses(f);
	}
	assert_true(rounds <= 3);
	assert_int_equal(get16(f, TXQ_USED + 2), 2);
	assert_int_equal(get16(f, RXQ_USED + 2), 2);
}

/* An UPDATE's uaddr range must be inside one region; bad perms and sizes are refused. */
static void test_iotlb_update_checks(void **state)
{
	struct fx *f = *state;

	negotiate(f, true);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0, 0x1000,
				   FE_VA + MEM_SIZE - 0x800, 3),
			     0);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0, 0x1000, FE_VA - 0x1000, 3),
			     0);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0, 0, FE_VA, 3), 0);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0, 0x1000, FE_VA, 0), 0);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0, 0x1000, FE_VA, 4), 0);
	assert_int_not_equal(
		iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, UINT64_MAX - 0x7ff, 0x1000, FE_VA, 3), 0);
	assert_int_not_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_MISS, 0, 0x1000, FE_VA, 3), 0);
	assert_int_not_equal(iotlb(f, 9, 0, 0x1000, FE_VA, 3), 0);
	/* 26 bytes are enough; 25 are not. */
	{
		struct viommu_vhost_user_iotlb_msg m = { .iova = 0x2000,
							 .size = 0x1000,
							 .uaddr = FE_VA,
							 .perm = 3,
							 .type = VIOMMU_VHOST_USER_IOTLB_UPDATE };

		assert_int_equal(call(f, VIOMMU_VHOST_USER_IOTLB_MSG, &m, 26, NULL, 0), 0);
		assert_int_equal(f->dev->stats.iotlb_updates, 1);
		/* A size this type cannot have: the stream is not trusted further. */
		drops(f, VIOMMU_VHOST_USER_IOTLB_MSG, &m, 25);
	}
}

static bool translates(struct fx *f, uint64_t iova)
{
	uint8_t *host;
	uint64_t n;
	int ret =
		vh_xlate(f->dev, 0, VH_SPACE_BUF, iova, 1, VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

	vh_xlate_done(f->dev, 0);
	assert_true(ret == 0 || ret == -EAGAIN);
	if (ret == 0)
		assert_ptr_equal(host, f->dev->regions[0].host + (iova & 0xfffff));
	return ret == 0;
}

static void test_iotlb_invalidate(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_iotlb_msg m;

	negotiate(f, true);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0xfef00000 + 0x1000 * i,
				       0x1000, FE_VA + 0x1000 * i, 3),
				 0);
	assert_int_equal(
		iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0x1000, 0x1000, FE_VA + 0x1000, 3), 0);
	assert_true(translates(f, 0xfef00010));
	assert_true(translates(f, 0xfef03ff0));
	/* Exact range: only page 1. uaddr/perm are garbage, as QEMU leaves them. */
	assert_int_equal(
		iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0xfef01000, 0x1000, 0xdead, 0xff), 0);
	assert_true(translates(f, 0xfef00010));
	assert_false(translates(f, 0xfef01010));
	assert_true(translates(f, 0xfef02010));
	/* [0xfef02000, 2^64): iova + size wraps to 0. DPDK 22.11 removed nothing here. */
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0xfef02000, 0 - 0xfef02000ull,
			       0, 0),
			 0);
	assert_false(translates(f, 0xfef02010));
	assert_false(translates(f, 0xfef03010));
	assert_true(translates(f, 0xfef00010));
	assert_true(translates(f, 0x1010));
	/* Size 0: from iova to the end of the space. */
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0x2000, 0, 0, 0), 0);
	assert_false(translates(f, 0xfef00010));
	assert_true(translates(f, 0x1010));
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, 0, 0, 0, 0), 0);
	assert_false(translates(f, 0x1010));
	assert_int_equal(f->dev->stats.iotlb_invalidates, 4);
	/* A MISS went out for the first address that stopped translating. */
	assert_true(read_miss(f, &m));
	assert_int_equal(m.iova, 0xfef01010);
	assert_int_equal(m.perm, VIOMMU_VHOST_USER_ACCESS_RO);
}

/* A new memory table drops every translation (they point into the old mappings). */
static void test_mem_table_flushes_iotlb(void **state)
{
	struct fx *f = *state;

	negotiate(f, true);
	assert_int_equal(
		iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, 0x1000, 0x1000, FE_VA + 0x1000, 3), 0);
	assert_true(translates(f, 0x1000));
	assert_int_equal(set_mem_table(f, &whole, 1, &f->memfd, 1), 0);
	assert_false(translates(f, 0x1000));
}

/* A descriptor loop and an available index too far ahead stop the queue, not the process. */
static void test_hostile_rings(void **state)
{
	struct fx *f = *state;

	negotiate(f, false);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	put_desc(f, TXQ_DESC, 0, BUF_BASE, 100, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, TXQ_DESC, 1, BUF_BASE, 100, VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT, 0);
	post(f, TXQ_AVAIL, 0, 0);
	vnet_port_run(f->p);
	assert_true(f->dev->vq[VNET_TXQ].broken);
	assert_int_equal(get16(f, TXQ_USED + 2), 0);
	/* Setting the ring up again revives it; now the index runs ahead of the ring. */
	{
		struct viommu_vhost_user_vring_addr a = { .index = 1,
							  .desc_user_addr = FE_VA + TXQ_DESC,
							  .avail_user_addr = FE_VA + TXQ_AVAIL,
							  .used_user_addr = FE_VA + TXQ_USED };

		assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
				 0);
	}
	assert_false(f->dev->vq[VNET_TXQ].broken);
	put16(f, TXQ_AVAIL + 2, QSIZE + 1);
	vnet_port_run(f->p);
	assert_true(f->dev->vq[VNET_TXQ].broken);
	/* A buffer outside guest memory, on the other queue. */
	put_desc(f, RXQ_DESC, 0, MEM_SIZE - 10, 100, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
	post(f, RXQ_AVAIL, 0, 0);
	{
		uint8_t fr[64];

		make_frame(fr, 0);
		f->p->qp[0].backlog[0] = malloc(sizeof(struct vnet_frame) + 42);
		f->p->qp[0].backlog[0]->len = 42;
		memcpy(f->p->qp[0].backlog[0]->data, fr, 42);
		f->p->qp[0].bl_head = 0;
		f->p->qp[0].bl_count = 1;
	}
	vnet_port_run(f->p);
	assert_true(f->dev->vq[VNET_RXQ].broken);
	assert_int_equal(get16(f, RXQ_USED + 2), 0);
	/* Set up again: a first receive buffer too small for the 12-byte header. */
	{
		struct viommu_vhost_user_vring_addr a = { .index = 0,
							  .desc_user_addr = FE_VA + RXQ_DESC,
							  .avail_user_addr = FE_VA + RXQ_AVAIL,
							  .used_user_addr = FE_VA + RXQ_USED };

		assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
				 0);
	}
	put_desc(f, RXQ_DESC, 0, BUF_BASE, 8, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
	vnet_port_run(f->p);
	assert_true(f->dev->vq[VNET_RXQ].broken);
	assert_int_equal(get16(f, RXQ_USED + 2), 0);
	assert_int_equal(f->p->qp[0].bl_count, 1); /* the frame waits; nothing was written */
}

/* ------------------------------------------------------------------------------------------ */
/* Notification suppression, EVENT_IDX, indirect descriptors, multiqueue                      */
/* ------------------------------------------------------------------------------------------ */

/* Interrupts signalled on queue @q's call eventfd since the last look. */
static uint64_t calls(struct fx *f, unsigned int q)
{
	uint64_t n = 0;

	if (read(f->call[q], &n, 8) != 8)
		return 0;
	return n;
}

#define USED_EVENT(avail) ((avail) + 4 + 2 * QSIZE) /* in the available ring */
#define AVAIL_EVENT(used) ((used) + 4 + 8 * QSIZE)  /* in the used ring */

/* The specification's vring_need_event, including across the 16-bit wrap. */
static void test_need_event_arith(void **state)
{
	(void)state;
	/* event in [old, new): the index moved past it. */
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)5, (uint16_t)6, (uint16_t)5));
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)2, (uint16_t)5, (uint16_t)2));
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)4, (uint16_t)5, (uint16_t)2));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)5, (uint16_t)5, (uint16_t)2));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)1, (uint16_t)5, (uint16_t)2));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)5, (uint16_t)7, (uint16_t)6));
	/* Nothing moved: never. */
	for (unsigned int e = 0; e < 65536; e += 4099)
		assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)e, (uint16_t)9, (uint16_t)9));
	/* Across the wrap: 65534 -> 1 passes 65534, 65535 and 0, not 1 or 2. */
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)65534, (uint16_t)1, (uint16_t)65534));
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)65535, (uint16_t)1, (uint16_t)65534));
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)0, (uint16_t)1, (uint16_t)65534));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)1, (uint16_t)1, (uint16_t)65534));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)2, (uint16_t)1, (uint16_t)65534));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)65533, (uint16_t)1, (uint16_t)65534));
	/* A whole lap less one: every event but new itself. */
	assert_true(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)7, (uint16_t)6, (uint16_t)7));
	assert_false(VIOMMU_VIRTIO_NEED_EVENT((uint16_t)6, (uint16_t)6, (uint16_t)7));
}

/*
 * With EVENT_IDX the guest's used_event decides which publishes interrupt: the first always,
 * then only one that moves the used index past used_event, also across the 16-bit wrap.
 */
static void test_event_idx_calls(void **state)
{
	struct fx *f = *state;
	struct vh_vq *q = &f->dev->vq[VNET_TXQ];

	negotiate_with(f, false, VIOMMU_VIRTIO_F_EVENT_IDX);
	setup_vq(f, VNET_TXQ, false);
	put16(f, USED_EVENT(TXQ_AVAIL), 100);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 1), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1); /* nothing signalled yet: signal */
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 50), 0);
	assert_int_equal(calls(f, VNET_TXQ), 0); /* 1 -> 50 does not pass 100 */
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 101), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1); /* 50 -> 101 passes 100 */
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 101), 0);
	assert_int_equal(calls(f, VNET_TXQ), 0); /* nothing new */
	/* NO_INTERRUPT means nothing with EVENT_IDX. */
	put16(f, TXQ_AVAIL, VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(f, USED_EVENT(TXQ_AVAIL), 101);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 102), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	/* Wrap: from 65530 to 3 passes used_event 65535 and 0. */
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 65530), 0);
	(void)calls(f, VNET_TXQ);
	put16(f, USED_EVENT(TXQ_AVAIL), 0);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 3), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	put16(f, USED_EVENT(TXQ_AVAIL), 3);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 4), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 9), 0);
	assert_int_equal(calls(f, VNET_TXQ), 0);
	assert_int_equal(q->signalled_used, 9);
	/* Setting the ring up again forgets the last signal: the next publish signals. */
	setup_vq(f, VNET_TXQ, false);
	put16(f, USED_EVENT(TXQ_AVAIL), 40000);
	assert_int_equal(vh_vq_used_publish(f->dev, VNET_TXQ, 1), 0);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	/* Without EVENT_IDX: NO_INTERRUPT is obeyed, and every other publish signals. */
	{
		struct fx *g = f;

		put16(g, TXQ_AVAIL, VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
		g->dev->features &= ~VIOMMU_VIRTIO_F_EVENT_IDX;
		assert_int_equal(vh_vq_used_publish(g->dev, VNET_TXQ, 2), 0);
		assert_int_equal(calls(g, VNET_TXQ), 0);
		put16(g, TXQ_AVAIL, 0);
		assert_int_equal(vh_vq_used_publish(g->dev, VNET_TXQ, 3), 0);
		assert_int_equal(calls(g, VNET_TXQ), 1);
	}
}

/* One more transmit chain at avail slot @slot (descriptors 0 and 1 reused). */
static void tx_one(struct fx *f, uint16_t slot)
{
	post_tx(f, false, slot, BUF_BASE + 0x8000, 100);
}

/*
 * Kick suppression without EVENT_IDX: VIRTQ_USED_F_NO_NOTIFY while polling, cleared when the
 * port goes back to sleeping on kicks; the receive queue asks for kicks only while frames wait
 * for buffers.
 */
static void test_notify_suppression_flags(void **state)
{
	struct fx *f = *state;

	negotiate(f, false);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	post_rx(f, false, 4, 1024);
	f->p->polling = true;
	tx_one(f, 0);
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_int_equal(get16(f, TXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(get16(f, RXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
	/* Back to event-driven: transmit kicks wanted again, receive still not (buffers left). */
	f->p->polling = false;
	vnet_port_run(f->p);
	assert_int_equal(get16(f, TXQ_USED), 0);
	assert_int_equal(get16(f, RXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
	/* Frames that find no receive buffer: receive kicks wanted. */
	for (uint16_t i = 1; i < 4; i++) {
		tx_one(f, i);
		vnet_port_run(f->p);
	}
	assert_int_equal(f->p->stats.rx_frames, 4);
	tx_one(f, 4);
	vnet_port_run(f->p);
	assert_int_equal(f->p->qp[0].bl_count, 1);
	assert_int_equal(get16(f, RXQ_USED), 0);
	/* While polling, a waiting frame does not ask for receive kicks either. */
	f->p->polling = true;
	vnet_port_run(f->p);
	assert_int_equal(get16(f, RXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(get16(f, TXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
}

/*
 * With EVENT_IDX: event-driven runs write avail_event = last_avail (kick me at the next chain);
 * polling leaves it behind the driver (no kick); a chain made available while kicks were off is
 * found by the re-check after they are asked for again (the port wants another round).
 */
static void test_notify_suppression_event_idx(void **state)
{
	struct fx *f = *state;

	negotiate_with(f, false, VIOMMU_VIRTIO_F_EVENT_IDX);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	post_rx(f, false, 4, 1024);
	put16(f, USED_EVENT(RXQ_AVAIL), 0);
	tx_one(f, 0);
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 1);
	assert_int_equal(get16(f, TXQ_USED), 0); /* flags are not used with EVENT_IDX */
	assert_int_equal(calls(f, VNET_RXQ), 1);
	/* Polling: the chain is consumed but avail_event stays behind. */
	f->p->polling = true;
	tx_one(f, 1);
	vnet_port_run(f->p);
	assert_int_equal(f->dev->vq[VNET_TXQ].last_avail, 2);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 1);
	/* used_event 0 was passed by the first interrupt: no more until the guest moves it. */
	assert_int_equal(calls(f, VNET_RXQ), 0);
	/* The guest saw used index 2 and asks for an interrupt once entry 2 is used. */
	put16(f, USED_EVENT(RXQ_AVAIL), 2);
	/* A chain posted while kicks were off (no kick came): the next event-driven round takes it
	 * and asks for kicks from 3 on. */
	tx_one(f, 2);
	f->p->polling = false;
	f->p->pending = false;
	vnet_port_run(f->p);
	assert_int_equal(f->dev->vq[VNET_TXQ].last_avail, 3);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 3);
	assert_int_equal(calls(f, VNET_RXQ), 1); /* used 2 -> 3 passed used_event 2 */
	/* Nothing more: the round ends idle with kicks requested at 3. */
	vnet_port_run(f->p);
	assert_false(f->p->pending);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 3);
}

#define IND_TABLE (BUF_BASE + 0x20000u) /* an indirect table (guest-physical) */
#define RX_TABLE (BUF_BASE + 0x21000u)

/*
 * A transmit chain whose head is an indirect descriptor: a table of two descriptors (header and
 * start of the frame, then the rest) at IND_TABLE, the data at @gpa. Returns the frame length.
 */
static size_t post_tx_indirect(struct fx *f, bool iommu, uint16_t slot, uint64_t gpa,
			       size_t payload)
{
	size_t len = put_tx_chain(f, iommu, IND_TABLE, gpa, payload);
	uint64_t base = iommu ? IOVA_BASE : 0;

	put_desc(f, TXQ_DESC, 0, base + IND_TABLE, 32, VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT, 0);
	post(f, TXQ_AVAIL, slot, 0);
	return len;
}

/* Frames through indirect tables both ways (receive: one writable descriptor per table). */
static void test_indirect_reflect(void **state)
{
	struct fx *f = *state;
	uint8_t fr[2048];
	size_t len;

	negotiate_with(f, false, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	put_desc(f, RX_TABLE, 0, BUF_BASE, 2048, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
	/* The device ignores WRITE on the descriptor that points at a table. */
	put_desc(f, RXQ_DESC, 0, RX_TABLE, 16, VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT, 0);
	post(f, RXQ_AVAIL, 0, 0);
	len = post_tx_indirect(f, false, 0, BUF_BASE + 0x8000, 700);
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_int_equal(get16(f, TXQ_USED + 2), 1);
	assert_int_equal(get16(f, RXQ_USED + 2), 1);
	assert_int_equal(used_elem(f, RXQ_USED, 0).len, 12 + len);
	make_frame(fr, 700);
	vnet_5tswap(fr, len);
	assert_memory_equal(f->mem + BUF_BASE + 12, fr, len);
	assert_false(f->dev->vq[VNET_TXQ].broken);
}

/* With ACCESS_PLATFORM the table is an IOVA: read through the device IOTLB (a MISS for it). */
static void test_indirect_iotlb(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_iotlb_msg m;
	bool table_missed = false;
	unsigned int rounds = 0;
	uint8_t fr[2048];
	size_t len;

	negotiate_with(f, true, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	setup_vq(f, VNET_RXQ, true);
	setup_vq(f, VNET_TXQ, true);
	post_rx(f, true, 4, 2048);
	len = post_tx_indirect(f, true, 0, BUF_BASE + 0x8000, 300);
	while (f->p->stats.rx_frames == 0) {
		assert_true(++rounds < 32);
		vnet_port_run(f->p);
		while (read_miss(f, &m)) {
			uint64_t page = m.iova & ~0xfffull;

			table_missed |= page == IOVA_BASE + IND_TABLE;
			/* The table is only ever read. */
			if (page == IOVA_BASE + IND_TABLE)
				assert_int_equal(m.perm, VIOMMU_VHOST_USER_ACCESS_RO);
			assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, page, 0x1000,
					       FE_VA + (page - IOVA_BASE),
					       VIOMMU_VHOST_USER_ACCESS_RW),
					 0);
		}
	}
	assert_true(table_missed);
	make_frame(fr, 300);
	vnet_5tswap(fr, len);
	assert_memory_equal(f->mem + BUF_BASE + 12, fr, len);
	/* An invalidation of the table's page: the next chain misses on it again. */
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, IOVA_BASE + IND_TABLE, 0x1000,
			       0, 0),
			 0);
	post_tx_indirect(f, true, 1, BUF_BASE + 0x8000, 300);
	table_missed = false;
	vnet_port_run(f->p);
	while (read_miss(f, &m))
		table_missed |= (m.iova & ~0xfffull) == IOVA_BASE + IND_TABLE;
	assert_true(table_missed);
	assert_int_equal(f->p->stats.tx_frames, 1); /* nothing consumed on the miss */
}

/* Set the transmit ring up again (a broken queue runs again). */
static void revive_tx(struct fx *f)
{
	struct viommu_vhost_user_vring_addr a = { .index = VNET_TXQ,
						  .desc_user_addr = FE_VA + TXQ_DESC,
						  .avail_user_addr = FE_VA + TXQ_AVAIL,
						  .used_user_addr = FE_VA + TXQ_USED };

	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_false(f->dev->vq[VNET_TXQ].broken);
}

/* Run one round on the chain at avail slot 0 and expect the queue broken, nothing consumed. */
static void expect_broken(struct fx *f, const char *what)
{
	post(f, TXQ_AVAIL, 0, 0);
	vnet_port_run(f->p);
	if (!f->dev->vq[VNET_TXQ].broken)
		fail_msg("hostile indirect table accepted: %s", what);
	assert_int_equal(get16(f, TXQ_USED + 2), 0);
	assert_int_equal(f->dev->vq[VNET_TXQ].last_avail, 0);
	assert_int_equal(f->p->stats.tx_frames, 0);
	revive_tx(f);
}

static void test_indirect_hostile(void **state)
{
	struct fx *f = *state;
	const uint16_t ind = VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT;
	const uint16_t next = VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT;

	/* Not negotiated: an indirect descriptor is malformed. */
	negotiate(f, false);
	setup_vq(f, VNET_TXQ, false);
	put_desc(f, IND_TABLE, 0, BUF_BASE, 100, 0, 0);
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 16, ind, 0);
	expect_broken(f, "feature not negotiated");
	/* Negotiated from here on. */
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_FEATURES,
				  VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF |
					  VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES |
					  VIOMMU_VIRTIO_F_INDIRECT_DESC),
			 0);
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 0, ind, 0);
	expect_broken(f, "length 0");
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 24, ind, 0);
	expect_broken(f, "length not a multiple of 16");
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 0xfffffff0u, ind, 0);
	expect_broken(f, "more entries than a queue may have");
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 16, ind | next, 1);
	expect_broken(f, "INDIRECT with NEXT");
	put_desc(f, IND_TABLE, 0, IND_TABLE, 16, ind, 0);
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 16, ind, 0);
	expect_broken(f, "indirect inside indirect");
	put_desc(f, IND_TABLE, 0, BUF_BASE, 100, next, 1);
	put_desc(f, IND_TABLE, 1, BUF_BASE, 100, next, 0);
	put_desc(f, TXQ_DESC, 0, IND_TABLE, 32, ind, 0);
	expect_broken(f, "a loop inside the table");
	put_desc(f, IND_TABLE, 1, BUF_BASE, 100, next, 2);
	expect_broken(f, "next past the end of the table");
	put_desc(f, IND_TABLE, 1, BUF_BASE, 100, VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
	expect_broken(f, "a device-writable buffer in a transmit chain");
	put_desc(f, IND_TABLE, 1, MEM_SIZE - 50, 100, 0, 0);
	expect_broken(f, "a buffer outside guest memory");
	put_desc(f, TXQ_DESC, 0, MEM_SIZE - 16, 32, ind, 0);
	expect_broken(f, "a table running out of guest memory");
	put_desc(f, TXQ_DESC, 0, UINT64_MAX - 15, 32, ind, 0);
	expect_broken(f, "a table address that wraps");
	/* A direct descriptor, then an indirect one: allowed (virtio 1.2 §2.7.5.3.2). */
	put_desc(f, IND_TABLE, 0, BUF_BASE + 20, 100, 0, 0);
	put_desc(f, TXQ_DESC, 0, BUF_BASE, 20, next, 1);
	put_desc(f, TXQ_DESC, 1, IND_TABLE, 16, ind, 0);
	post(f, TXQ_AVAIL, 0, 0);
	vnet_port_run(f->p);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_int_equal(get16(f, TXQ_USED + 2), 1);
	assert_int_equal(f->p->stats.tx_frames, 1);
}

/*
 * Multiqueue: four queue pairs offered (GET_QUEUE_NUM, PROTOCOL_F_MQ, VIRTIO_NET_F_MQ); pair 1
 * (queues 2 and 3) reflects into its own receive queue; SET_VRING_ENABLE stops and restarts
 * one ring; an index past the last queue is refused by every vring message.
 */
static void test_multiqueue(void **state)
{
	struct fx *f = *state;
	const uint64_t o = QP_STRIDE;
	struct viommu_vhost_user_vring_state st = { .index = VH_NUM_VQS, .num = QSIZE };
	struct viommu_vhost_user_vring_addr a = { .index = VH_NUM_VQS };
	uint8_t fr[2048];
	size_t len;

	assert_true(get_u64(f, VIOMMU_VHOST_USER_GET_FEATURES) & VIOMMU_VIRTIO_NET_F_MQ);
	assert_true(get_u64(f, VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES) &
		    VIOMMU_VHOST_USER_PROTOCOL_F_MQ);
	assert_int_equal(get_u64(f, VIOMMU_VHOST_USER_GET_QUEUE_NUM), VH_MAX_QUEUE_PAIRS);
	negotiate_with(f, false, VIOMMU_VIRTIO_NET_F_MQ);
	for (uint32_t r = VIOMMU_VHOST_USER_SET_VRING_NUM; r <= VIOMMU_VHOST_USER_SET_VRING_BASE;
	     r++)
		if (r != VIOMMU_VHOST_USER_SET_VRING_ADDR)
			assert_int_not_equal(call(f, r, &st, sizeof(st), NULL, 0), 0);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0),
			     0);
	st.index = UINT32_MAX;
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0),
			     0);
	assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	{
		int e = eventfd(0, EFD_CLOEXEC);

		assert_int_not_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_KICK,
					  &(uint64_t){ VH_NUM_VQS }, 8, &e, 1),
				     0);
		close(e);
	}
	/* Pair 0 and pair 1 both run; a frame on transmitq2 comes back on receiveq2 only. */
	for (unsigned int q = 0; q < 4; q++)
		setup_vq(f, q, false);
	post_rx(f, false, 4, 2048);
	for (unsigned int i = 0; i < 4; i++) {
		put_desc(f, o + RXQ_DESC, i, BUF_BASE + 0x30000 + 0x1000ull * i, 2048,
			 VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		post(f, o + RXQ_AVAIL, (uint16_t)i, (uint16_t)i);
	}
	len = make_frame(fr, 200);
	memset(f->mem + BUF_BASE + 0x8000, 0, 12);
	memcpy(f->mem + BUF_BASE + 0x8000 + 12, fr, len);
	put_desc(f, o + TXQ_DESC, 0, BUF_BASE + 0x8000, (uint32_t)(12 + len), 0, 0);
	post(f, o + TXQ_AVAIL, 0, 0);
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(get16(f, o + TXQ_USED + 2), 1);
	assert_int_equal(get16(f, o + RXQ_USED + 2), 1);
	assert_int_equal(get16(f, RXQ_USED + 2), 0);
	vnet_5tswap(fr, len);
	assert_memory_equal(f->mem + BUF_BASE + 0x30000 + 12, fr, len);
	/* transmitq2 disabled: its next chain waits; enabled again, it goes through. */
	st.index = VNET_TXQ_OF(1);
	st.num = 0;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	post(f, o + TXQ_AVAIL, 1, 0);
	vnet_port_run(f->p);
	assert_int_equal(get16(f, o + TXQ_USED + 2), 1);
	st.num = 1;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	vnet_port_run(f->p);
	assert_int_equal(get16(f, o + TXQ_USED + 2), 2);
	assert_int_equal(get16(f, o + RXQ_USED + 2), 2);
	/* receiveq2 disabled: the reflected frame falls back to receiveq1. */
	st.index = VNET_RXQ_OF(1);
	st.num = 0;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	vnet_switch_input(f->p, 1, fr, (uint32_t)len);
	assert_int_equal(f->p->qp[0].bl_count, 1);
	assert_int_equal(f->p->qp[1].bl_count, 0);
	/* GET_VRING_BASE of queue 3 answers its own position. */
	check_vring_base(f, VNET_TXQ_OF(1), 2);
}

/* Rounds of the loop that never wait (no kick is ever written unless the test says so). */
static void app_rounds(struct fx *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(vh_app_step(f->app, 0), 1);
}

static void app_queues(struct fx *f, uint64_t extra)
{
	negotiate_with(f, false, extra);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	post_rx(f, false, 4, 1024);
}

/*
 * Event-driven (the default): a chain made available without a kick waits; the kick runs it.
 * Transmit kicks stay requested (used flags 0).
 */
static void test_app_event_driven(void **state)
{
	struct fx *f = *state;

	app_queues(f, 0);
	app_rounds(f, 3);
	tx_one(f, 0);
	app_rounds(f, 5);
	assert_int_equal(f->p->stats.tx_frames, 0);
	assert_int_equal(eventfd_write(f->kick[VNET_TXQ], 1), 0);
	app_rounds(f, 2);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_int_equal(get16(f, TXQ_USED), 0);
}

/* --poll: no kick needed, and the guest is told not to kick (NO_NOTIFY, or avail_event). */
static void test_app_poll(void **state)
{
	struct fx *f = *state;

	f->app->poll = true;
	app_queues(f, 0);
	tx_one(f, 0);
	app_rounds(f, 3);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_true(f->p->polling);
	assert_int_equal(get16(f, TXQ_USED), VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
	tx_one(f, 1);
	app_rounds(f, 3);
	assert_int_equal(f->p->stats.tx_frames, 2);
}

/*
 * --busy-poll-us: after a kicked frame the loop keeps polling (a later chain needs no kick) while
 * the window lasts; once it has passed, kicks are requested again and the loop sleeps on them.
 * The window is a minute (never over during the test) or one nanosecond (always over).
 */
static void test_app_busy_poll(void **state)
{
	struct fx *f = *state;

	f->app->busy_poll_ns = 60000000000ull;
	app_queues(f, VIOMMU_VIRTIO_F_EVENT_IDX);
	tx_one(f, 0);
	app_rounds(f, 2);
	assert_int_equal(f->p->stats.tx_frames, 0); /* idle: no window open yet */
	assert_int_equal(eventfd_write(f->kick[VNET_TXQ], 1), 0);
	app_rounds(f, 2);
	assert_int_equal(f->p->stats.tx_frames, 1);
	/* Inside the window: polled, and avail_event left behind (no kicks). */
	tx_one(f, 1);
	app_rounds(f, 3);
	assert_int_equal(f->p->stats.tx_frames, 2);
	assert_true(f->p->polling);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 1);
	/* The window closes: kicks asked for at the current position, then sleep. */
	f->app->busy_poll_ns = 1;
	app_rounds(f, 2);
	assert_false(f->p->polling);
	assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), 2);
	tx_one(f, 2);
	app_rounds(f, 3);
	assert_int_equal(f->p->stats.tx_frames, 2);
}

/*
 * The datapath across the 16-bit wrap with EVENT_IDX: rings started at index 65533 (SET_VRING_BASE),
 * frames go round while the indices wrap; avail_event follows last_avail through 0 and the
 * interrupts follow used_event across it.
 */
static void test_event_idx_wrap(void **state)
{
	struct fx *f = *state;
	struct viommu_vhost_user_vring_state st = { .index = VNET_TXQ, .num = 65533 };
	unsigned int calls_rx = 0;

	negotiate_with(f, false, VIOMMU_VIRTIO_F_EVENT_IDX);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	st.index = VNET_RXQ;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	put16(f, TXQ_USED + 2, 65533);
	put16(f, RXQ_USED + 2, 65533);
	/* Receive buffers at avail positions 65533..65540 (ring slots wrap modulo QSIZE). */
	for (unsigned int i = 0; i < QSIZE; i++) {
		uint16_t pos = (uint16_t)(65533u + i);

		put_desc(f, RXQ_DESC, i, BUF_BASE + 0x1000ull * i, 2048,
			 VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE, 0);
		put16(f, RXQ_AVAIL + 4 + 2 * (pos % QSIZE), (uint16_t)i);
	}
	put16(f, RXQ_AVAIL + 2, (uint16_t)(65533u + QSIZE));
	/* The guest wants an interrupt once used entry 0 (after the wrap) is written. */
	put16(f, USED_EVENT(RXQ_AVAIL), 0);
	for (unsigned int k = 0; k < 6; k++) {
		uint16_t pos = (uint16_t)(65533u + k);

		post_tx(f, false, pos, BUF_BASE + 0x9000, 64);
		vnet_port_run(f->p);
		assert_int_equal(f->p->stats.rx_frames, k + 1);
		assert_int_equal(get16(f, TXQ_USED + 2), (uint16_t)(pos + 1));
		assert_int_equal(get16(f, RXQ_USED + 2), (uint16_t)(pos + 1));
		/* Transmit kicks requested from the next chain on, through the wrap. */
		assert_int_equal(get16(f, AVAIL_EVENT(TXQ_USED)), (uint16_t)(pos + 1));
		calls_rx += (unsigned int)calls(f, VNET_RXQ);
		if (k == 0)
			assert_int_equal(calls_rx, 1); /* the first publish always signals */
		if (k == 2)
			assert_int_equal(calls_rx, 1); /* 65534 -> 65535, 65535 -> 0: not past 0 */
		if (k == 3)
			assert_int_equal(calls_rx, 2); /* 0 -> 1 wrote entry 0: past used_event */
	}
	assert_int_equal(calls_rx, 2);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_false(f->dev->vq[VNET_RXQ].broken);
}

/* Disconnect and reconnect: the port comes back clean and no fd is left behind. */
static void test_reconnect(void **state)
{
	struct fx *f = *state;
	int base = count_fds(), sv[2];

	negotiate(f, true);
	setup_vq(f, VNET_RXQ, true);
	close(f->fe);
	assert_true(handle(f) < 0);
	vnet_port_disconnect(f->p);
	close(f->be_peer);
	f->be_peer = -1;
	for (unsigned int i = 0; i < VH_NUM_VQS; i++) {
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->call[i] >= 0)
			close(f->call[i]);
		f->kick[i] = f->call[i] = -1;
	}
	/* Everything the back-end held is gone: the test's own fds minus the control socket pair. */
	assert_int_equal(count_fds(), base - 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fe = sv[1];
	assert_int_equal(vnet_port_connect(f->p, sv[0], &ops, f), 0);
	assert_int_equal(f->dev->nregions, 0);
	assert_false(f->dev->iommu);
	negotiate(f, false);
	setup_vq(f, VNET_RXQ, false);
	setup_vq(f, VNET_TXQ, false);
	post_rx(f, false, 2, 2048);
	post_tx(f, false, 0, BUF_BASE + 0x8000, 64);
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.rx_frames, 1);
}

/* Switch mode: learning; unknown destinations flood, known ones go to one port. */
static void test_switch_learning(void **state)
{
	struct vnet_switch *sw = calloc(1, sizeof(*sw));
	uint8_t fr[64];

	(void)state;
	assert_non_null(sw);
	vnet_init(sw, VNET_SWITCH, 3);
	for (unsigned int i = 0; i < 3; i++)
		sw->port[i].connected = true; /* no device: only the backlogs are used */
	make_frame(fr, 0);
	/* Port 0 sends to unknown 02:..:02: flooded to 1 and 2. */
	vnet_switch_input(&sw->port[0], 0, fr, 42);
	assert_int_equal(sw->port[1].qp[0].bl_count, 1);
	assert_int_equal(sw->port[2].qp[0].bl_count, 1);
	assert_int_equal(sw->port[0].qp[0].bl_count, 0);
	/* Port 2 answers from 02:..:02 to 02:..:01 (learned on port 0). */
	vnet_5tswap(fr, 42);
	vnet_switch_input(&sw->port[2], 0, fr, 42);
	assert_int_equal(sw->port[0].qp[0].bl_count, 1);
	assert_int_equal(sw->port[1].qp[0].bl_count, 1);
	/* Now 02:..:02 is known on port 2. */
	vnet_5tswap(fr, 42);
	vnet_switch_input(&sw->port[0], 0, fr, 42);
	assert_int_equal(sw->port[2].qp[0].bl_count, 2);
	assert_int_equal(sw->port[1].qp[0].bl_count, 1);
	for (unsigned int i = 0; i < 3; i++) {
		while (sw->port[i].qp[0].bl_count) {
			free(sw->port[i].qp[0].backlog[sw->port[i].qp[0].bl_head]);
			sw->port[i].qp[0].bl_head =
				(sw->port[i].qp[0].bl_head + 1) % VNET_RX_BACKLOG;
			sw->port[i].qp[0].bl_count--;
		}
	}
	free(sw);
}

/* ------------------------------------------------------------------------------------------ */
/* Packed virtqueues (virtio 1.2 §2.8), against a driver written here                         */
/* ------------------------------------------------------------------------------------------ */

#define PF_AVAIL VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL
#define PF_USED VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED
#define PF_NEXT VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT
#define PF_WRITE VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE
#define PF_INDIRECT VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT
/* What QEMU sends for a fresh packed ring: both positions 0, both wrap counters 1. */
#define PACKED_BASE0 0x80008000u

/*
 * The driver side of one packed ring (virtio 1.2 §2.8.21-2.8.22): descriptors made available
 * at next with the avail wrap counter, the head's flags written last; used descriptors read at
 * used, skipping as many descriptors as the buffer took.
 */
struct pdrv {
	uint64_t ring; /* guest-physical address of the descriptor ring */
	uint16_t num;
	uint16_t next;
	bool wrap;
	uint16_t used;
	bool used_wrap;
	uint16_t ndesc[64]; /* per buffer ID: descriptors it took */
};

struct pbuf {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* WRITE, INDIRECT; NEXT is added between the descriptors of a chain */
};

static void pd_init(struct pdrv *pd, uint64_t ring, uint16_t num)
{
	memset(pd, 0, sizeof(*pd));
	pd->ring = ring;
	pd->num = num;
	pd->wrap = pd->used_wrap = true;
}

static void pput(struct fx *f, uint64_t ring, uint16_t i, uint64_t addr, uint32_t len, uint16_t id,
		 uint16_t flags)
{
	struct viommu_virtio_pvirtq_desc d = { .addr = addr, .len = len, .id = id, .flags = flags };

	memcpy(f->mem + ring + 16u * i, &d, sizeof(d));
}

static struct viommu_virtio_pvirtq_desc pget(struct fx *f, uint64_t ring, uint16_t i)
{
	struct viommu_virtio_pvirtq_desc d;

	memcpy(&d, f->mem + ring + 16u * i, sizeof(d));
	return d;
}

/* Make the chain @b[0..n) available as buffer @id. */
static void pd_add(struct fx *f, struct pdrv *pd, const struct pbuf *b, unsigned int n, uint16_t id)
{
	uint16_t head = pd->next, head_flags = 0;

	assert_true(id < 64 && n >= 1 && n <= pd->num);
	for (unsigned int k = 0; k < n; k++) {
		uint16_t fl = b[k].flags | (k + 1 < n ? PF_NEXT : 0) |
			      (pd->wrap ? PF_AVAIL : PF_USED);

		/* The head first with flags 0: not available in either lap. */
		if (k == 0)
			head_flags = fl;
		pput(f, pd->ring, pd->next, b[k].addr, b[k].len, id, k == 0 ? 0 : fl);
		if (++pd->next == pd->num) {
			pd->next = 0;
			pd->wrap = !pd->wrap;
		}
	}
	/* The head's flags last: they make the whole chain available (§2.8.21). */
	{
		struct viommu_virtio_pvirtq_desc d = pget(f, pd->ring, head);

		d.flags = head_flags;
		memcpy(f->mem + pd->ring + 16u * head, &d, sizeof(d));
	}
	pd->ndesc[id] = (uint16_t)n;
}

/* The next used buffer, if the device wrote one: its ID and length. */
static bool pd_used(struct fx *f, struct pdrv *pd, uint16_t *id, uint32_t *len)
{
	struct viommu_virtio_pvirtq_desc d = pget(f, pd->ring, pd->used);
	bool avail = d.flags & PF_AVAIL, used = d.flags & PF_USED;

	if (avail != pd->used_wrap || used != pd->used_wrap)
		return false;
	assert_true(d.id < 64 && pd->ndesc[d.id]);
	*id = d.id;
	*len = d.len;
	pd->used += pd->ndesc[d.id];
	pd->ndesc[d.id] = 0;
	if (pd->used >= pd->num) {
		pd->used -= pd->num;
		pd->used_wrap = !pd->used_wrap;
	}
	return true;
}

static void set_base(struct fx *f, unsigned int q, uint32_t num)
{
	struct viommu_vhost_user_vring_state st = { .index = q, .num = num };

	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
}

/* Queue @q as a packed ring of @num descriptors: desc ring, driver area, device area. */
static void setup_pvq(struct fx *f, unsigned int q, bool iommu, uint16_t num)
{
	struct viommu_vhost_user_vring_state st = { .index = q, .num = num };
	struct viommu_vhost_user_vring_addr addr = {
		.index = q,
		.desc_user_addr = ring_addr(iommu, q % 2 ? TXQ_DESC : RXQ_DESC),
		.avail_user_addr = ring_addr(iommu, q % 2 ? TXQ_AVAIL : RXQ_AVAIL),
		.used_user_addr = ring_addr(iommu, q % 2 ? TXQ_USED : RXQ_USED),
	};

	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	set_base(f, q, PACKED_BASE0);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0),
			 0);
	f->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ q }, 8, &f->kick[q], 1), 0);
	assert_int_equal(
		call(f, VIOMMU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ q }, 8, &f->call[q], 1), 0);
	st.num = 1;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
}

/* GET_VRING_BASE's answer for queue @q (the ring stops: the caller sets it up again). */
static uint32_t get_base(struct fx *f, uint32_t q)
{
	struct viommu_vhost_user_vring_state st = { .index = q }, r;
	struct viommu_vhost_user_header h;

	send_msg(f, VIOMMU_VHOST_USER_GET_VRING_BASE, VIOMMU_VHOST_USER_VERSION, &st, sizeof(st),
		 NULL, 0);
	assert_int_equal(handle(f), 0);
	assert_int_equal(recv(f->fe, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	assert_int_equal(recv(f->fe, &r, sizeof(r), 0), (ssize_t)sizeof(r));
	assert_int_equal(r.index, q);
	return r.num;
}

struct pfx {
	struct pdrv rx, tx;
	uint64_t base; /* IOVA_BASE with the IOMMU */
};

static void packed_queues(struct fx *f, struct pfx *p, bool iommu, uint64_t extra, uint16_t num)
{
	negotiate_with(f, iommu, VIOMMU_VIRTIO_F_RING_PACKED | extra);
	setup_pvq(f, VNET_RXQ, iommu, num);
	setup_pvq(f, VNET_TXQ, iommu, num);
	pd_init(&p->rx, RXQ_DESC, num);
	pd_init(&p->tx, TXQ_DESC, num);
	p->base = iommu ? IOVA_BASE : 0;
}

/* Receive buffer @id: one writable descriptor of @len bytes at BUF_BASE + id pages. */
static void prx(struct fx *f, struct pfx *p, uint16_t id, uint32_t len)
{
	struct pbuf b = { p->base + BUF_BASE + 0x1000ull * id, len, PF_WRITE };

	pd_add(f, &p->rx, &b, 1, id);
}

/*
 * Transmit frame (@payload bytes after the 42 of make_frame) as buffer @id, over @n descriptors
 * (12-byte header with the first bytes, the rest spread) at @gpa. Returns the frame length.
 */
static size_t ptx(struct fx *f, struct pfx *p, uint16_t id, unsigned int n, uint64_t gpa,
		  size_t payload)
{
	uint8_t fr[2048];
	size_t len = make_frame(fr, payload), total = 12 + len, off = 0;
	struct pbuf b[8];

	assert_true(n >= 1 && n <= 8);
	memset(f->mem + gpa, 0, 12);
	memcpy(f->mem + gpa + 12, fr, len);
	for (unsigned int k = 0; k < n; k++) {
		size_t take = k + 1 < n ? (total / n) : total - off;

		b[k] = (struct pbuf){ p->base + gpa + off, (uint32_t)take, 0 };
		off += take;
	}
	pd_add(f, &p->tx, b, n, id);
	return len;
}

/* The frame received in rx buffer @id (one buffer), checked against the one sent. */
static void check_rx_frame(struct fx *f, uint16_t id, uint32_t len, size_t payload)
{
	uint8_t fr[2048];
	size_t flen = make_frame(fr, payload);

	vnet_5tswap(fr, flen);
	assert_int_equal(len, 12 + flen);
	assert_memory_equal(f->mem + BUF_BASE + 0x1000ull * id + 12, fr, flen);
}

/* One frame both ways, chains of two descriptors, mergeable buffers; the positions reported. */
static void test_packed_reflect(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	uint8_t fr[2048], got[2048];
	uint16_t id;
	uint32_t len;
	size_t flen;

	assert_true(get_u64(f, VIOMMU_VHOST_USER_GET_FEATURES) & VIOMMU_VIRTIO_F_RING_PACKED);
	packed_queues(f, &p, false, 0, QSIZE);
	for (uint16_t i = 0; i < 4; i++)
		prx(f, &p, i, 1024);
	flen = ptx(f, &p, 7, 2, BUF_BASE + 0x8000, 1000);
	vnet_port_run(f->p);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_int_equal(f->p->stats.rx_frames, 1);
	/* Transmit: buffer 7 used at position 0, nothing written; the next at position 2. */
	assert_true(pd_used(f, &p.tx, &id, &len));
	assert_int_equal(id, 7);
	assert_int_equal(len, 0);
	assert_false(pd_used(f, &p.tx, &id, &len));
	/* Receive: 12 + 1042 bytes over two 1024-byte buffers, num_buffers 2. */
	assert_true(pd_used(f, &p.rx, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 1024);
	assert_true(pd_used(f, &p.rx, &id, &len));
	assert_int_equal(id, 1);
	assert_int_equal(len, 12 + flen - 1024);
	assert_false(pd_used(f, &p.rx, &id, &len));
	assert_int_equal(get16(f, BUF_BASE + 10), 2);
	memcpy(got, f->mem + BUF_BASE + 12, 1024 - 12);
	memcpy(got + 1024 - 12, f->mem + BUF_BASE + 0x1000, flen - (1024 - 12));
	make_frame(fr, 1000);
	vnet_5tswap(fr, flen);
	assert_memory_equal(got, fr, flen);
	assert_int_equal(calls(f, VNET_RXQ), 1);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	/* GET_VRING_BASE: avail and used positions with their wrap counters (still lap 1). */
	assert_int_equal(get_base(f, VNET_TXQ), (2u | 0x8000u) * 0x10001u);
	assert_int_equal(get_base(f, VNET_RXQ), (2u | 0x8000u) * 0x10001u);
}

/*
 * Several laps of a 6-descriptor ring (packed sizes need not be powers of 2) with chains of one
 * and three descriptors, so chains straddle the end of the ring and the wrap counters flip in
 * the middle of one; receive buffers are posted again as they come back. EVENT_IDX with the
 * driver asking for an interrupt at every used descriptor (DESC at its used position).
 */
static void test_packed_laps(void **state)
{
	struct fx *f = *state;
	const uint16_t num = 6;
	struct pfx p;
	uint16_t id, rx_id = 0;
	uint32_t len;
	unsigned int frames = 0;

	packed_queues(f, &p, false, VIOMMU_VIRTIO_F_EVENT_IDX, num);
	for (uint16_t i = 0; i < num; i++)
		prx(f, &p, i, 2048);
	for (unsigned int k = 0; k < 30; k++) {
		unsigned int n = k % 2 ? 3 : 1;
		size_t payload = 60 + 13 * k;
		struct viommu_virtio_pvirtq_event_suppress ev = {
			.desc = (uint16_t)(p.rx.used | (p.rx.used_wrap ? 0x8000u : 0)),
			.flags = VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC,
		};

		memcpy(f->mem + RXQ_AVAIL, &ev, sizeof(ev));
		ptx(f, &p, (uint16_t)(k % 4), n, BUF_BASE + 0x9000 + 0x800ull * (k % 4), payload);
		vnet_port_run(f->p);
		assert_false(f->dev->vq[VNET_TXQ].broken);
		assert_false(f->dev->vq[VNET_RXQ].broken);
		assert_true(pd_used(f, &p.tx, &id, &len));
		assert_int_equal(id, k % 4);
		assert_false(pd_used(f, &p.tx, &id, &len));
		assert_true(pd_used(f, &p.rx, &id, &len));
		assert_int_equal(id, rx_id);
		check_rx_frame(f, id, len, payload);
		assert_int_equal(calls(f, VNET_RXQ), 1);
		frames++;
		/* The buffer goes back to the device. */
		prx(f, &p, id, 2048);
		rx_id = (uint16_t)((rx_id + 1) % num);
	}
	assert_int_equal(f->p->stats.rx_frames, frames);
	assert_int_equal(f->p->stats.tx_errors, 0);
	/* 15 x 1 + 15 x 3 descriptors: 60 = 10 laps of 6, both counters back at 1. */
	assert_int_equal(get_base(f, VNET_TXQ), 0x80008000u);
}

/* Indirect tables both ways (§2.8.7): transmit two entries, receive one writable entry. */
static void test_packed_indirect(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	struct pbuf b;
	uint16_t id;
	uint32_t len;
	uint8_t fr[2048];
	size_t flen = make_frame(fr, 300);

	packed_queues(f, &p, false, VIOMMU_VIRTIO_F_INDIRECT_DESC, QSIZE);
	/* Receive: an indirect table with one writable entry (its WRITE is what counts). */
	pput(f, RX_TABLE, 0, BUF_BASE + 0x3000, 2048, 0, PF_WRITE);
	b = (struct pbuf){ RX_TABLE, 16, PF_INDIRECT };
	pd_add(f, &p.rx, &b, 1, 3);
	/* Transmit: header and frame start, then the rest; reserved flags and IDs ignored. */
	memset(f->mem + BUF_BASE + 0x8000, 0, 12);
	memcpy(f->mem + BUF_BASE + 0x8000 + 12, fr, flen);
	pput(f, IND_TABLE, 0, BUF_BASE + 0x8000, 20, 0xbeef, PF_NEXT | PF_AVAIL);
	pput(f, IND_TABLE, 1, BUF_BASE + 0x8000 + 20, (uint32_t)(12 + flen - 20), 0, PF_USED);
	b = (struct pbuf){ IND_TABLE, 32, PF_INDIRECT };
	pd_add(f, &p.tx, &b, 1, 5);
	vnet_port_run(f->p);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_true(pd_used(f, &p.tx, &id, &len));
	assert_int_equal(id, 5);
	assert_true(pd_used(f, &p.rx, &id, &len));
	assert_int_equal(id, 3);
	vnet_5tswap(fr, flen);
	assert_int_equal(len, 12 + flen);
	assert_memory_equal(f->mem + BUF_BASE + 0x3000 + 12, fr, flen);
	/* An indirect table counts one ring descriptor: both rings moved by one. */
	assert_int_equal(get_base(f, VNET_TXQ), (1u | 0x8000u) * 0x10001u);
}

/* Set packed queue @q (no IOMMU) up again at @base: a broken queue runs again. */
static void revive_pq(struct fx *f, unsigned int q, uint32_t base)
{
	struct viommu_vhost_user_vring_addr a = {
		.index = q,
		.desc_user_addr = FE_VA + (q % 2 ? TXQ_DESC : RXQ_DESC),
		.avail_user_addr = FE_VA + (q % 2 ? TXQ_AVAIL : RXQ_AVAIL),
		.used_user_addr = FE_VA + (q % 2 ? TXQ_USED : RXQ_USED),
	};

	set_base(f, q, base);
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_false(f->dev->vq[q].broken);
}

/* Set the packed transmit ring up again at @base and forget what the driver had posted. */
static void revive_ptx(struct fx *f, struct pfx *p, uint32_t base)
{
	revive_pq(f, VNET_TXQ, base);
	memset(f->mem + TXQ_DESC, 0, 16u * p->tx.num);
	pd_init(&p->tx, TXQ_DESC, p->tx.num);
}

/* Run a round on what the driver posted and expect the transmit queue broken, nothing used. */
static void expect_pbroken(struct fx *f, struct pfx *p, const char *what)
{
	uint16_t id;
	uint32_t len;

	vnet_port_run(f->p);
	if (!f->dev->vq[VNET_TXQ].broken)
		fail_msg("hostile packed ring accepted: %s", what);
	if (pd_used(f, &p->tx, &id, &len))
		fail_msg("hostile packed chain used: %s", what);
	assert_int_equal(f->p->stats.tx_frames, 0);
	revive_ptx(f, p, PACKED_BASE0);
}

static void test_packed_hostile(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	struct pbuf b[QSIZE + 1];
	struct viommu_vhost_user_vring_state st = { .index = VNET_TXQ };

	packed_queues(f, &p, false, VIOMMU_VIRTIO_F_INDIRECT_DESC, QSIZE);
	/* A chain as long as the ring is allowed; one that goes all the way round is not. */
	for (unsigned int k = 0; k < QSIZE; k++)
		b[k] = (struct pbuf){ BUF_BASE + 0x100u * k, 0x100, 0 };
	pd_add(f, &p.tx, b, QSIZE, 1);
	vnet_port_run(f->p);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_int_equal(f->p->stats.tx_frames, 1);
	f->p->stats.tx_frames = 0;
	{
		uint16_t id;
		uint32_t len;

		assert_true(pd_used(f, &p.tx, &id, &len));
		assert_int_equal(id, 1);
	}
	pd_add(f, &p.tx, b, QSIZE, 1);
	pput(f, TXQ_DESC, QSIZE - 1, BUF_BASE, 0x100, 1, PF_NEXT | PF_USED);
	expect_pbroken(f, &p, "a chain longer than the ring");
	b[0] = (struct pbuf){ BUF_BASE, 100, PF_WRITE };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "a device-writable buffer in a transmit chain");
	b[0] = (struct pbuf){ MEM_SIZE - 50, 100, 0 };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "a buffer outside guest memory");
	b[0] = (struct pbuf){ UINT64_MAX - 10, 100, 0 };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "a buffer address that wraps");
	/* Indirect tables. */
	b[0] = (struct pbuf){ IND_TABLE, 0, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "indirect length 0");
	b[0] = (struct pbuf){ IND_TABLE, 24, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "indirect length not a multiple of 16");
	b[0] = (struct pbuf){ IND_TABLE, 0xfffffff0u, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "an indirect table larger than allowed");
	pput(f, IND_TABLE, 0, BUF_BASE, 100, 0, 0);
	b[0] = (struct pbuf){ BUF_BASE, 20, 0 };
	b[1] = (struct pbuf){ IND_TABLE, 16, PF_INDIRECT };
	pd_add(f, &p.tx, b, 2, 1);
	expect_pbroken(f, &p, "an indirect descriptor inside a NEXT list (§2.8.19)");
	b[0] = (struct pbuf){ IND_TABLE, 16, PF_INDIRECT | PF_NEXT };
	b[1] = (struct pbuf){ BUF_BASE, 20, 0 };
	pd_add(f, &p.tx, b, 2, 1);
	expect_pbroken(f, &p, "INDIRECT with NEXT");
	pput(f, IND_TABLE, 1, BUF_BASE, 100, 0, PF_WRITE);
	b[0] = (struct pbuf){ IND_TABLE, 32, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "a writable entry in a transmit table");
	b[0] = (struct pbuf){ MEM_SIZE - 16, 32, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "a table running out of guest memory");
	/* Positions past the ring: refused by SET_VRING_BASE when the size is known... */
	st.num = QSIZE | 0x8000u;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 1);
	st.num = 0x8000u | (uint32_t)(QSIZE + 3) << 16;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 1);
	/* ... and by the datapath when the ring shrank afterwards. */
	set_base(f, VNET_TXQ, 0x80008000u | 6u);
	st.num = 4;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	vnet_port_run(f->p);
	assert_true(f->dev->vq[VNET_TXQ].broken);
	st.num = QSIZE;
	assert_int_equal(call(f, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	/* Indirect without the feature. */
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_FEATURES,
				  VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF |
					  VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES |
					  VIOMMU_VIRTIO_F_RING_PACKED),
			 0);
	revive_ptx(f, &p, PACKED_BASE0);
	pput(f, IND_TABLE, 0, BUF_BASE, 100, 0, 0);
	b[0] = (struct pbuf){ IND_TABLE, 16, PF_INDIRECT };
	pd_add(f, &p.tx, b, 1, 1);
	expect_pbroken(f, &p, "indirect, feature not negotiated");
	/* After all that, a good chain goes through. */
	ptx(f, &p, 2, 2, BUF_BASE + 0x8000, 64);
	vnet_port_run(f->p);
	assert_false(f->dev->vq[VNET_TXQ].broken);
	assert_int_equal(f->p->stats.tx_frames, 1);
}

/*
 * A guest that writes random bytes over its rings (flags flipping at random, IDs, lengths,
 * addresses inside and outside memory, event suppression structures) while the datapath runs,
 * and a front-end that sets the rings up again at random positions: every round ends (bounded
 * work), nothing crashes (the sanitizer build checks every access), and a clean ring works.
 */
static void test_packed_random_flags(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	uint32_t rng = 12345;
	uint16_t id;
	uint32_t len;

	packed_queues(f, &p, false, VIOMMU_VIRTIO_F_INDIRECT_DESC | VIOMMU_VIRTIO_F_EVENT_IDX,
		      QSIZE);
	for (unsigned int round = 0; round < 2000; round++) {
		for (unsigned int k = 0; k < 8; k++) {
			uint64_t ring = (rng >> 3) & 1 ? TXQ_DESC : RXQ_DESC;
			unsigned int i = (rng >> 5) % QSIZE;
			struct viommu_virtio_pvirtq_desc d;

			rng = rng * 1103515245u + 12345u;
			d.addr = (rng & 3) == 0 ? rng * 7919ull : BUF_BASE + (rng % 0x20000u);
			rng = rng * 1103515245u + 12345u;
			d.len = rng % 4 ? rng % 3000 : rng;
			d.id = (uint16_t)(rng >> 16);
			rng = rng * 1103515245u + 12345u;
			d.flags = (uint16_t)(rng >> 8);
			memcpy(f->mem + ring + 16u * i, &d, sizeof(d));
			put16(f, (rng & 1 ? RXQ_AVAIL : TXQ_AVAIL) + 2 * ((rng >> 1) & 1),
			      (uint16_t)(rng >> 12));
		}
		if (round % 3 == 0) {
			uint8_t fr[64];

			vnet_switch_input(f->p, 0, fr, (uint32_t)make_frame(fr, 0));
		}
		vnet_port_run(f->p);
		if (round % 50 == 0) {
			/* Broken queues are set up again, at random positions of the ring. */
			rng = rng * 1103515245u + 12345u;
			revive_pq(f, VNET_TXQ,
				  (rng >> 4) % QSIZE | ((rng >> 8) % QSIZE) << 16 |
					  (rng & 0x80008000u));
			revive_pq(f, VNET_RXQ, (rng >> 12) % QSIZE | (rng & 0x80008000u));
		}
	}
	/* A clean ring after the storm works. */
	revive_ptx(f, &p, PACKED_BASE0);
	while (f->p->qp[0].bl_count) {
		free(f->p->qp[0].backlog[f->p->qp[0].bl_head]);
		f->p->qp[0].backlog[f->p->qp[0].bl_head] = NULL;
		f->p->qp[0].bl_head = (f->p->qp[0].bl_head + 1) % VNET_RX_BACKLOG;
		f->p->qp[0].bl_count--;
	}
	memset(f->mem + RXQ_DESC, 0, 16u * QSIZE);
	memset(f->mem + RXQ_AVAIL, 0, 4);
	memset(f->mem + TXQ_AVAIL, 0, 4);
	revive_pq(f, VNET_RXQ, PACKED_BASE0);
	pd_init(&p.rx, RXQ_DESC, QSIZE);
	prx(f, &p, 0, 2048);
	ptx(f, &p, 1, 1, BUF_BASE + 0x8000, 100);
	f->p->stats.rx_frames = 0;
	vnet_port_run(f->p);
	assert_int_equal(f->p->stats.rx_frames, 1);
	assert_true(pd_used(f, &p.rx, &id, &len));
	check_rx_frame(f, 0, len, 100);
}

/*
 * Event suppression (§2.8.10). Interrupts follow the driver area: ENABLE every publish, DISABLE
 * none, DESC (EVENT_IDX) once the used position passes the offset in the lap of its wrap bit.
 * Kicks are asked for in the device area: DESC at the next available position with EVENT_IDX
 * (ENABLE without), DISABLE while polling.
 */
static void test_packed_event_suppression(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	struct viommu_virtio_pvirtq_event_suppress ev;
	uint16_t id;
	uint32_t len;
	unsigned int k = 0;

#define DRV_EVENT(off, mode)                                                          \
	do {                                                                          \
		ev = (struct viommu_virtio_pvirtq_event_suppress){ .desc = (off),     \
								   .flags = (mode) }; \
		memcpy(f->mem + TXQ_AVAIL, &ev, sizeof(ev));                          \
	} while (0)
#define TX_ONE()                                                                              \
	do {                                                                                  \
		ptx(f, &p, (uint16_t)(k % 4), 1, BUF_BASE + 0x8000 + 0x800ull * (k % 4), 50); \
		k++;                                                                          \
		vnet_port_run(f->p);                                                          \
		assert_true(pd_used(f, &p.tx, &id, &len));                                    \
	} while (0)

	packed_queues(f, &p, false, VIOMMU_VIRTIO_F_EVENT_IDX, QSIZE);
	for (uint16_t i = 0; i < QSIZE; i++)
		prx(f, &p, i, 2048);
	/* Kicks wanted at the next available descriptor: DESC at position 1, wrap 1. */
	DRV_EVENT(0, VIOMMU_VIRTIO_RING_EVENT_FLAGS_ENABLE);
	TX_ONE();
	memcpy(&ev, f->mem + TXQ_USED, sizeof(ev));
	assert_int_equal(ev.flags, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	assert_int_equal(ev.desc, 1u | 0x8000u);
	assert_int_equal(calls(f, VNET_TXQ), 1);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 1); /* ENABLE: every publish */
	DRV_EVENT(0, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DISABLE);
	TX_ONE();
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	/* DESC at position 6 of this lap (wrap 1): used 4 -> 5 does not pass it, 5 -> 6 neither,
	 * 6 -> 7 does. */
	DRV_EVENT(6u | 0x8000u, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 1);
	/* Across the wrap: an event at position 1 of the next lap (wrap 0): 7 -> 0 no, 0 -> 1
	 * no, 1 -> 2 yes. */
	DRV_EVENT(1u, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 1);
	memcpy(&ev, f->mem + TXQ_USED, sizeof(ev));
	assert_int_equal(ev.desc, 2u); /* kicks from position 2 of the lap with wrap 0 */
	/* An event a lap behind (position 1, wrap 1 now means the previous lap): already
	 * passed, no interrupt. */
	DRV_EVENT(1u | 0x8000u, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 0);
	/* Polling: DISABLE in the device area; back to event-driven: DESC again. */
	f->p->polling = true;
	TX_ONE();
	memcpy(&ev, f->mem + TXQ_USED, sizeof(ev));
	assert_int_equal(ev.flags, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DISABLE);
	f->p->polling = false;
	vnet_port_run(f->p);
	memcpy(&ev, f->mem + TXQ_USED, sizeof(ev));
	assert_int_equal(ev.flags, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	assert_int_equal(ev.desc, 4u);
	/* Without EVENT_IDX: kicks are ENABLE, and DESC in the driver area means every time. */
	assert_int_equal(call_u64(f, VIOMMU_VHOST_USER_SET_FEATURES,
				  VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF |
					  VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES |
					  VIOMMU_VIRTIO_F_RING_PACKED),
			 0);
	DRV_EVENT(100u, VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC);
	vnet_port_run(f->p);
	memcpy(&ev, f->mem + TXQ_USED, sizeof(ev));
	assert_int_equal(ev.flags, VIOMMU_VIRTIO_RING_EVENT_FLAGS_ENABLE);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 1);
	TX_ONE();
	assert_int_equal(calls(f, VNET_TXQ), 1);
#undef DRV_EVENT
#undef TX_ONE
}

/*
 * With ACCESS_PLATFORM: rings and buffers are IOVAs, every access misses first. A miss in the
 * middle of a chain (its second buffer on a page not yet translated) consumes nothing: the head
 * stays available and unused until the UPDATE, then the frame goes round exactly once.
 */
static void test_packed_iotlb(void **state)
{
	struct fx *f = *state;
	struct pfx p;
	unsigned int rounds = 0;
	uint16_t id;
	uint32_t len;
	struct viommu_vhost_user_iotlb_msg m;
	bool second_page = false;

	packed_queues(f, &p, true, 0, QSIZE);
	prx(f, &p, 0, 2048);
	/* 254 bytes over two descriptors of 127, the first ending where the page does. */
	ptx(f, &p, 4, 2, BUF_BASE + 0x9000 - 127, 200);
	while (f->p->stats.rx_frames == 0) {
		assert_true(++rounds < 32);
		vnet_port_run(f->p);
		if (f->p->stats.tx_frames == 0) {
			/* Not consumed: the transmit head is neither used nor moved. */
			assert_false(pd_used(f, &p.tx, &id, &len));
			assert_int_equal(f->dev->vq[VNET_TXQ].last_avail, 0x8000u);
		}
		while (read_miss(f, &m)) {
			uint64_t page = m.iova & ~0xfffull;

			second_page |= page == IOVA_BASE + BUF_BASE + 0x9000;
			assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_UPDATE, page, 0x1000,
					       FE_VA + (page - IOVA_BASE),
					       VIOMMU_VHOST_USER_ACCESS_RW),
					 0);
		}
	}
	assert_true(second_page);
	assert_int_equal(f->p->stats.tx_frames, 1);
	assert_true(pd_used(f, &p.tx, &id, &len));
	assert_int_equal(id, 4);
	assert_true(pd_used(f, &p.rx, &id, &len));
	check_rx_frame(f, 0, len, 200);
	/* An invalidation of the ring: the next round asks for it again, nothing used twice. */
	assert_int_equal(iotlb(f, VIOMMU_VHOST_USER_IOTLB_INVALIDATE, IOVA_BASE + TXQ_DESC, 0x1000,
			       0, 0),
			 0);
	vnet_port_run(f->p);
	assert_true(read_miss(f, &m));
	assert_false(pd_used(f, &p.tx, &id, &len));
	assert_int_equal(f->p->stats.tx_frames, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_flag_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fds_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsealed_memory_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_drops, setup, teardown),
		cmocka_unit_test(test_wrong_sizes_each_type),
		cmocka_unit_test_setup_teardown(test_slow_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_replies_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hung_up_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_notify_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_addr_outside_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reflect_gpa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_miss_update_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate_prefetches_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_update_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iotlb_invalidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_flushes_iotlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test(test_need_event_arith),
		cmocka_unit_test_setup_teardown(test_event_idx_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_event_driven, setup_app, teardown),
		cmocka_unit_test_setup_teardown(test_app_poll, setup_app, teardown),
		cmocka_unit_test_setup_teardown(test_app_busy_poll, setup_app, teardown),
		cmocka_unit_test_setup_teardown(test_multiqueue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_reflect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_iotlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_suppression_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_suppression_event_idx, setup, teardown),
		cmocka_unit_test(test_switch_learning),
		cmocka_unit_test_setup_teardown(test_packed_reflect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_laps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_random_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_event_suppression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed_iotlb, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
