// SPDX-License-Identifier: MIT
/*
 * viommu-vhost's event loop (see vh_app.h): accepting front-ends, dispatching control-socket,
 * kick-fd and signal events, running the ports' datapath between rounds.
 */
#include "vh_app.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* epoll tags: kind in the top byte, port and queue below. */
enum { EV_SIGNAL = 1, EV_LISTEN, EV_CONN, EV_KICK };
#define EV(kind, port, vq) (((uint64_t)(kind) << 32) | ((uint64_t)(port) << 8) | (vq))

/* Queues stopped on a miss resume on the UPDATE; this only catches a miss never answered. */
#define MISS_POLL_MS 1000

/* Connections waiting to be accepted per socket (a reconnect must not find the queue full). */
#define LISTEN_BACKLOG 16

static void epoll_set(struct vh_app *a, int fd, uint64_t tag, bool add)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(a->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) < 0)
		perror("viommu-vhost: epoll_ctl");
}

/* Watch a control socket for output only while replies wait for room. */
static void conn_watch_output(struct vh_app *a, struct vnet_port *p)
{
	bool out = vh_dev_want_write(&p->dev);
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0u),
				  .data.u64 = EV(EV_CONN, p->index, 0) };

	if (out == a->conn_out[p->index])
		return;
	if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, p->dev.sock, &ev) < 0)
		perror("viommu-vhost: epoll_ctl");
	a->conn_out[p->index] = out;
}

static struct vh_app *app_of(void *opaque)
{
	return opaque;
}

static struct vnet_port *port_of(struct vh_app *a, struct vh_dev *dev)
{
	for (unsigned int i = 0; i < a->sw.nports; i++)
		if (&a->sw.port[i].dev == dev)
			return &a->sw.port[i];
	return NULL;
}

static void watch_kick(void *opaque, struct vh_dev *dev, unsigned int vq, int fd, bool add)
{
	struct vh_app *a = app_of(opaque);
	struct vnet_port *p = port_of(a, dev);

	if (p)
		epoll_set(a, fd, EV(EV_KICK, p->index, vq), add);
}

static void resume(void *opaque, struct vh_dev *dev)
{
	struct vnet_port *p = port_of(app_of(opaque), dev);

	if (p)
		p->pending = true;
}

static void stop(void *opaque, struct vh_dev *dev)
{
	struct vnet_port *p = port_of(app_of(opaque), dev);

	if (p)
		vnet_port_stop(p);
}

static const struct vh_dev_ops dev_ops = {
	.watch_kick = watch_kick,
	.resume = resume,
	.stop = stop,
};

static void add_totals(struct vh_app_totals *t, const struct vnet_port *p)
{
	struct viommu_devtlb_stats s;
	const struct vh_stats *v = &p->dev.stats;

	t->vh.msgs += v->msgs;
	t->vh.bad_msgs += v->bad_msgs;
	t->vh.iotlb_msgs += v->iotlb_msgs;
	t->vh.iotlb_updates += v->iotlb_updates;
	t->vh.iotlb_invalidates += v->iotlb_invalidates;
	t->vh.iotlb_rejected += v->iotlb_rejected;
	t->vh.misses_sent += v->misses_sent;
	t->vh.misses_unsent += v->misses_unsent;
	if (!p->dev.tlb)
		return;
	viommu_devtlb_get_stats(p->dev.tlb, &s);
	t->tlb.lookups += s.lookups;
	t->tlb.hits += s.hits;
	t->tlb.misses += s.misses;
	t->tlb.miss_requests += s.miss_requests;
	t->tlb.miss_suppressed += s.miss_suppressed;
	t->tlb.perm_faults += s.perm_faults;
	t->tlb.invalidations += s.invalidations;
	t->tlb.updates += s.updates;
}

void vh_app_print_stats(const struct vh_app *a, const char *when)
{
	for (unsigned int i = 0; i < a->sw.nports; i++) {
		const struct vnet_port *p = &a->sw.port[i];
		struct vh_app_totals t = a->total[i];

		if (p->connected)
			add_totals(&t, p);
		fprintf(stderr,
			"viommu-vhost: stats (%s) %s: tx_frames=%llu tx_bytes=%llu tx_errors=%llu "
			"rx_frames=%llu rx_bytes=%llu rx_drops=%llu stalls=%llu msgs=%llu "
			"bad_msgs=%llu iotlb_msgs=%llu iotlb_updates=%llu iotlb_invalidates=%llu "
			"iotlb_rejected=%llu misses_sent=%llu devtlb_lookups=%llu devtlb_hits=%llu "
			"devtlb_misses=%llu devtlb_miss_suppressed=%llu devtlb_perm_faults=%llu "
			"devtlb_invalidations=%llu tx_pairs=%llu/%llu/%llu/%llu\n",
			when, p->name, (unsigned long long)p->stats.tx_frames,
			(unsigned long long)p->stats.tx_bytes,
			(unsigned long long)p->stats.tx_errors,
			(unsigned long long)p->stats.rx_frames,
			(unsigned long long)p->stats.rx_bytes,
			(unsigned long long)p->stats.rx_drops, (unsigned long long)p->stats.misses,
			(unsigned long long)t.vh.msgs, (unsigned long long)t.vh.bad_msgs,
			(unsigned long long)t.vh.iotlb_msgs, (unsigned long long)t.vh.iotlb_updates,
			(unsigned long long)t.vh.iotlb_invalidates,
			(unsigned long long)t.vh.iotlb_rejected,
			(unsigned long long)t.vh.misses_sent, (unsigned long long)t.tlb.lookups,
			(unsigned long long)t.tlb.hits, (unsigned long long)t.tlb.misses,
			(unsigned long long)t.tlb.miss_suppressed,
			(unsigned long long)t.tlb.perm_faults,
			(unsigned long long)t.tlb.invalidations,
			(unsigned long long)p->stats.tx_pair[0],
			(unsigned long long)p->stats.tx_pair[1],
			(unsigned long long)p->stats.tx_pair[2],
			(unsigned long long)p->stats.tx_pair[3]);
		if (!p->connected)
			continue;
		for (unsigned int q = 0; q < VH_NUM_VQS; q++) {
			const struct vh_vq *v = &p->dev.vq[q];

			if (q >= 2 && !v->num)
				continue; /* a queue pair the front-end never set up */
			fprintf(stderr,
				"viommu-vhost: %s vq%u: num=%u last_avail=%u used=%u used_next=%u "
				"started=%d enabled=%d broken=%d\n",
				p->name, q, v->num, v->last_avail, v->used_idx, v->used_next,
				v->started, v->enabled, v->broken);
		}
		fprintf(stderr, "viommu-vhost: %s backlog=%u missed=%d tx_held=%d iommu=%d\n",
			p->name, vnet_port_backlog(p), p->missed, p->qp[0].tx_held, p->dev.iommu);
	}
}

static void disconnect(struct vh_app *a, struct vnet_port *p)
{
	if (!p->connected)
		return;
	add_totals(&a->total[p->index], p);
	epoll_set(a, p->dev.sock, 0, false);
	a->conn_out[p->index] = false;
	vnet_port_disconnect(p);
	fprintf(stderr, "viommu-vhost: %s: front-end disconnected\n", p->name);
}

static int connect_port(struct vh_app *a, struct vnet_port *p, int sock)
{
	int ret;

	ret = vnet_port_connect(p, sock, &a->ops, a);
	if (ret < 0) {
		fprintf(stderr, "viommu-vhost: %s: cannot set up connection: %s\n", p->name,
			strerror(-ret));
		return ret;
	}
	p->dev.verbose = a->verbose;
	p->dev.debug = a->debug;
	if (a->audit_path) {
		char path[4096];

		snprintf(path, sizeof(path), "%s.%u.%u", a->audit_path, p->index, a->connections);
		ret = vh_dev_audit(&p->dev, path);
		if (ret < 0) {
			fprintf(stderr, "viommu-vhost: %s: %s\n", path, strerror(-ret));
			vnet_port_disconnect(p);
			return ret;
		}
	}
	a->connections++;
	epoll_set(a, sock, EV(EV_CONN, p->index, 0), true);
	return 0;
}

/* A listening socket at @path: its fd, or a negative errno. */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "viommu-vhost: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* A stale socket from an earlier run; never remove anything else. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		int err = errno;

		fprintf(stderr, "viommu-vhost: %s: %s\n", path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	return fd;
}

/* Whether the peer of the connected socket @fd has closed it (or it failed). */
static bool peer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void on_accept(struct vh_app *a, unsigned int i)
{
	int fd = accept4(a->listen_fd[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct vnet_port *p = &a->sw.port[i];

	if (fd < 0)
		return;
	if (p->connected) {
		/*
		 * One front-end per socket. A front-end that reconnects has closed the old
		 * connection, whose end of stream may not have been read yet: replace it.
		 */
		if (!peer_gone(p->dev.sock)) {
			fprintf(stderr, "viommu-vhost: %s: busy: new connection refused\n",
				p->name);
			close(fd);
			return;
		}
		disconnect(a, p);
	}
	if (connect_port(a, p, fd) == 0)
		fprintf(stderr, "viommu-vhost: %s: front-end connected\n", p->name);
}

/* Returns false when the loop should end. */
static bool on_signal(struct vh_app *a)
{
	struct signalfd_siginfo si;

	if (read(a->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return true;
	if (si.ssi_signo == SIGUSR1) {
		vh_app_print_stats(a, "SIGUSR1");
		return true;
	}
	return false;
}

static bool any_connected(const struct vh_app *a)
{
	for (unsigned int i = 0; i < a->sw.nports; i++)
		if (a->sw.port[i].connected)
			return true;
	return false;
}

_Static_assert(VH_MAX_QUEUE_PAIRS == 4, "the stats line prints four pairs");

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t frames(const struct vh_app *a)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < a->sw.nports; i++)
		n += a->sw.port[i].stats.tx_frames + a->sw.port[i].stats.rx_frames;
	return n;
}

/*
 * Whether this round polls: always with --poll; with --busy-poll-us while the window that the
 * last frame opened lasts. Leaving the window runs every port once more with kicks requested,
 * so that a chain made available meanwhile is not left waiting for a kick that will not come.
 */
static bool poll_round(struct vh_app *a)
{
	bool was = a->polling;

	a->polling = a->poll || (a->busy_poll_ns && now_ns() - a->last_activity < a->busy_poll_ns);
	if (was != a->polling)
		for (unsigned int i = 0; i < a->sw.nports; i++) {
			a->sw.port[i].polling = a->polling;
			if (was)
				a->sw.port[i].pending = true;
		}
	return a->polling;
}

int vh_app_step(struct vh_app *a, int max_wait_ms)
{
	{
		struct epoll_event evs[32];
		int timeout = max_wait_ms;
		bool polling = poll_round(a);
		uint64_t before = frames(a);
		int n;

		for (unsigned int i = 0; i < a->sw.nports; i++) {
			if (a->sw.port[i].pending || polling)
				timeout = 0;
			else if (a->sw.port[i].missed && (timeout < 0 || timeout > MISS_POLL_MS))
				timeout = MISS_POLL_MS;
		}
		n = epoll_wait(a->epfd, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			int err = errno;

			perror("viommu-vhost: epoll_wait");
			return -err;
		}
		for (int k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64;
			unsigned int kind = (unsigned int)(tag >> 32);
			unsigned int port = (unsigned int)(tag >> 8) & 0xffu;
			struct vnet_port *p = &a->sw.port[port < a->sw.nports ? port : 0];
			int ret;

			switch (kind) {
			case EV_SIGNAL:
				if (!on_signal(a))
					return 0;
				break;
			case EV_LISTEN:
				on_accept(a, port);
				break;
			case EV_CONN:
				if (!p->connected)
					break;
				ret = 0;
				if (evs[k].events & EPOLLOUT)
					ret = vh_dev_flush(&p->dev);
				if (!ret && evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					ret = vh_dev_handle(&p->dev);
				if (ret < 0) {
					disconnect(a, p);
					if (a->fd_mode)
						return 0;
					break;
				}
				conn_watch_output(a, p);
				break;
			case EV_KICK:
				if (p->connected && (tag & 0xffu) < VH_NUM_VQS)
					vh_dev_kick(&p->dev, (unsigned int)(tag & 0xffu),
						    evs[k].events & (EPOLLHUP | EPOLLERR));
				p->pending = true;
				break;
			default:
				break;
			}
		}
		/* A miss retry runs the stalled ports again; devtlb re-asks after its interval. A
		 * polling round runs every port: no kick tells which has work. */
		for (unsigned int i = 0; i < a->sw.nports; i++)
			if (a->sw.port[i].pending || (polling && a->sw.port[i].connected) ||
			    (n == 0 && a->sw.port[i].missed))
				vnet_port_run(&a->sw.port[i]);
		/* Activity (re)opens the busy-poll window. */
		if (a->busy_poll_ns && frames(a) != before)
			a->last_activity = now_ns();
		if (a->fd_mode && !any_connected(a))
			return 0;
	}
	return 1;
}

int vh_app_run(struct vh_app *a)
{
	int ret;

	while ((ret = vh_app_step(a, -1)) > 0)
		;
	return ret;
}

int vh_app_init(struct vh_app *a, enum vnet_mode mode, unsigned int nports)
{
	vnet_init(&a->sw, mode, nports);
	a->ops = dev_ops;
	a->sigfd = -1;
	for (unsigned int i = 0; i < VNET_MAX_PORTS; i++) {
		a->listen_fd[i] = -1;
		a->conn_out[i] = false;
		snprintf(a->sw.port[i].name, sizeof(a->sw.port[i].name), "port%u", i);
	}
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	return a->epfd < 0 ? -errno : 0;
}

int vh_app_signals(struct vh_app *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0)
		return -errno;
	epoll_set(a, a->sigfd, EV(EV_SIGNAL, 0, 0), true);
	return 0;
}

int vh_app_listen(struct vh_app *a, unsigned int port, const char *path)
{
	int fd;

	if (port >= a->sw.nports)
		return -EINVAL;
	fd = listen_on(path);
	if (fd < 0)
		return fd;
	a->listen_fd[port] = fd;
	a->path[port] = path;
	epoll_set(a, fd, EV(EV_LISTEN, port, 0), true);
	return 0;
}

int vh_app_connect_fd(struct vh_app *a, int sock)
{
	a->fd_mode = true;
	return connect_port(a, &a->sw.port[0], sock);
}

void vh_app_destroy(struct vh_app *a)
{
	for (unsigned int i = 0; i < a->sw.nports; i++) {
		disconnect(a, &a->sw.port[i]);
		if (a->listen_fd[i] >= 0) {
			close(a->listen_fd[i]);
			unlink(a->path[i]);
			a->listen_fd[i] = -1;
		}
	}
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	a->epfd = a->sigfd = -1;
}
