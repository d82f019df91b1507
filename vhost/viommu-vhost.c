// SPDX-License-Identifier: MIT
/*
 * viommu-vhost: a vhost-user virtio-net back-end whose every guest access goes through the
 * device IOTLB when VIRTIO_F_ACCESS_PLATFORM is negotiated. One thread, one epoll loop: control
 * sockets, kick eventfds and signals are all serviced there, so IOTLB UPDATE/INVALIDATE keep being
 * handled while queues wait for a translation (misses never block).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <viommu/devtlb.h>

#include "net.h"

/* epoll tags: kind in the top byte, port and queue below. */
enum { EV_SIGNAL = 1, EV_LISTEN, EV_CONN, EV_KICK };
#define EV(kind, port, vq) (((uint64_t)(kind) << 32) | ((uint64_t)(port) << 8) | (vq))

/* Queues stopped on a miss resume on the UPDATE; this only catches a miss never answered. */
#define MISS_POLL_MS 1000

/* Connections waiting to be accepted per socket (a reconnect must not find the queue full). */
#define LISTEN_BACKLOG 16

struct totals {
	struct vh_stats vh;
	struct viommu_devtlb_stats tlb;
};

struct app {
	int epfd;
	int sigfd;
	int listen_fd[VNET_MAX_PORTS];
	const char *path[VNET_MAX_PORTS];
	bool fd_mode; /* --fd: one connection, exit when it closes */
	struct vnet_switch sw;
	struct totals total[VNET_MAX_PORTS]; /* from connections that have ended */
	const char *audit_path;
	bool verbose;
	bool debug;
	unsigned int connections;
	bool conn_out[VNET_MAX_PORTS]; /* the control socket is watched for output too */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: viommu-vhost [--reflect] --socket-path=PATH [--socket-path=PATH ...]\n"
		"       viommu-vhost [--reflect] --fd=FDNUM\n"
		"       viommu-vhost --print-capabilities | --help\n"
		"\n"
		"A vhost-user virtio-net back-end with device-IOTLB (vIOMMU) support.\n"
		"\n"
		"  -s, --socket-path=PATH  listen on this Unix socket (repeat for more switch ports)\n"
		"      --fd=FDNUM          serve the already-connected vhost-user socket FDNUM\n"
		"      --reflect           send every frame back to its sender with MAC, IPv4 and\n"
		"                          TCP/UDP addresses swapped (like testpmd's 5tswap)\n"
		"                          (default: a learning L2 switch between the sockets)\n"
		"      --audit=FILE        log IOTLB updates, invalidations and used translations\n"
		"                          (binary, for tests that check invalidation correctness)\n"
		"  -v, --verbose           log every vhost-user message\n"
		"      --debug             also log misses, IOTLB messages and datapath rounds,\n"
		"                          timestamped (for finding stalls)\n"
		"      --print-capabilities  print the vhost-user back-end capabilities (JSON)\n"
		"  -h, --help              this text\n"
		"\n"
		"Statistics go to stderr on SIGUSR1 and at exit; SIGINT/SIGTERM stop it cleanly.\n");
}

static void epoll_set(struct app *a, int fd, uint64_t tag, bool add)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (epoll_ctl(a->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) < 0)
		perror("viommu-vhost: epoll_ctl");
}

/* Watch a control socket for output only while replies wait for room. */
static void conn_watch_output(struct app *a, struct vnet_port *p)
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

static struct app *app_of(void *opaque)
{
	return opaque;
}

static struct vnet_port *port_of(struct app *a, struct vh_dev *dev)
{
	for (unsigned int i = 0; i < a->sw.nports; i++)
		if (&a->sw.port[i].dev == dev)
			return &a->sw.port[i];
	return NULL;
}

static void watch_kick(void *opaque, struct vh_dev *dev, unsigned int vq, int fd, bool add)
{
	struct app *a = app_of(opaque);
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

static void add_totals(struct totals *t, const struct vnet_port *p)
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

static void print_stats(const struct app *a, const char *when)
{
	for (unsigned int i = 0; i < a->sw.nports; i++) {
		const struct vnet_port *p = &a->sw.port[i];
		struct totals t = a->total[i];

		if (p->connected)
			add_totals(&t, p);
		fprintf(stderr,
			"viommu-vhost: stats (%s) %s: tx_frames=%llu tx_bytes=%llu tx_errors=%llu "
			"rx_frames=%llu rx_bytes=%llu rx_drops=%llu stalls=%llu msgs=%llu "
			"bad_msgs=%llu iotlb_msgs=%llu iotlb_updates=%llu iotlb_invalidates=%llu "
			"iotlb_rejected=%llu misses_sent=%llu devtlb_lookups=%llu devtlb_hits=%llu "
			"devtlb_misses=%llu devtlb_miss_suppressed=%llu devtlb_perm_faults=%llu "
			"devtlb_invalidations=%llu\n",
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
			(unsigned long long)t.tlb.invalidations);
		if (!p->connected)
			continue;
		for (unsigned int q = 0; q < VH_NUM_VQS; q++) {
			const struct vh_vq *v = &p->dev.vq[q];

			fprintf(stderr,
				"viommu-vhost: %s vq%u: num=%u last_avail=%u used=%u used_next=%u "
				"started=%d enabled=%d broken=%d\n",
				p->name, q, v->num, v->last_avail, v->used_idx, v->used_next,
				v->started, v->enabled, v->broken);
		}
		fprintf(stderr, "viommu-vhost: %s backlog=%u missed=%d tx_held=%d iommu=%d\n",
			p->name, p->bl_count, p->missed, p->tx_held, p->dev.iommu);
	}
}

static void disconnect(struct app *a, struct vnet_port *p)
{
	if (!p->connected)
		return;
	add_totals(&a->total[p->index], p);
	epoll_set(a, p->dev.sock, 0, false);
	a->conn_out[p->index] = false;
	vnet_port_disconnect(p);
	fprintf(stderr, "viommu-vhost: %s: front-end disconnected\n", p->name);
}

static int connect_port(struct app *a, struct vnet_port *p, int sock)
{
	int ret;

	ret = vnet_port_connect(p, sock, &dev_ops, a);
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

static void on_accept(struct app *a, unsigned int i)
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
static bool on_signal(struct app *a)
{
	struct signalfd_siginfo si;

	if (read(a->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return true;
	if (si.ssi_signo == SIGUSR1) {
		print_stats(a, "SIGUSR1");
		return true;
	}
	return false;
}

static bool any_connected(const struct app *a)
{
	for (unsigned int i = 0; i < a->sw.nports; i++)
		if (a->sw.port[i].connected)
			return true;
	return false;
}

static int run(struct app *a)
{
	for (;;) {
		struct epoll_event evs[32];
		int timeout = -1;
		int n;

		for (unsigned int i = 0; i < a->sw.nports; i++) {
			if (a->sw.port[i].pending)
				timeout = 0;
			else if (a->sw.port[i].missed && timeout != 0)
				timeout = MISS_POLL_MS;
		}
		n = epoll_wait(a->epfd, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			perror("viommu-vhost: epoll_wait");
			return 1;
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
		/* A miss retry runs the stalled ports again; devtlb re-asks after its interval. */
		for (unsigned int i = 0; i < a->sw.nports; i++)
			if (a->sw.port[i].pending || (n == 0 && a->sw.port[i].missed))
				vnet_port_run(&a->sw.port[i]);
		if (a->fd_mode && !any_connected(a))
			return 0;
	}
}

static void print_capabilities(void)
{
	/* vhost-user.rst "Backend program conventions": the type, and no optional features. */
	printf("{\n  \"type\": \"net\"\n}\n");
}

int main(int argc, char **argv)
{
	static struct app a; /* large (frame scratch space); one per process */
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "reflect", no_argument, NULL, 'r' },
		{ "audit", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, 'd' },
		{ "print-capabilities", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum vnet_mode mode = VNET_SWITCH;
	unsigned int npaths = 0;
	int conn_fd = -1;
	sigset_t mask;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:hv", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (npaths == VNET_MAX_PORTS) {
				fprintf(stderr, "viommu-vhost: at most %u sockets\n",
					VNET_MAX_PORTS);
				return 2;
			}
			a.path[npaths++] = optarg;
			break;
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 0 || v > 65535) {
				fprintf(stderr, "viommu-vhost: bad --fd '%s'\n", optarg);
				return 2;
			}
			conn_fd = (int)v;
			break;
		}
		case 'r':
			mode = VNET_REFLECT;
			break;
		case 'a':
			a.audit_path = optarg;
			break;
		case 'v':
			a.verbose = true;
			break;
		case 'd':
			a.debug = true;
			break;
		case 'c':
			print_capabilities();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (npaths == 0) == (conn_fd < 0)) {
		fprintf(stderr, "viommu-vhost: give either --socket-path (one or more) or --fd\n");
		usage(stderr);
		return 2;
	}

	vnet_init(&a.sw, mode, conn_fd >= 0 ? 1 : npaths);
	for (unsigned int i = 0; i < VNET_MAX_PORTS; i++) {
		a.listen_fd[i] = -1;
		snprintf(a.sw.port[i].name, sizeof(a.sw.port[i].name), "port%u", i);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a.sigfd < 0 || a.epfd < 0) {
		perror("viommu-vhost");
		return 1;
	}
	epoll_set(&a, a.sigfd, EV(EV_SIGNAL, 0, 0), true);
	if (conn_fd >= 0) {
		a.fd_mode = true;
		if (connect_port(&a, &a.sw.port[0], conn_fd) < 0)
			return 1;
	}
	for (unsigned int i = 0; i < npaths; i++) {
		a.listen_fd[i] = listen_on(a.path[i]);
		if (a.listen_fd[i] < 0)
			return 1;
		epoll_set(&a, a.listen_fd[i], EV(EV_LISTEN, i, 0), true);
		fprintf(stderr, "viommu-vhost: port%u listening on %s (%s)\n", i, a.path[i],
			mode == VNET_REFLECT ? "reflect" : "switch");
	}

	ret = run(&a);
	print_stats(&a, "exit");
	for (unsigned int i = 0; i < a.sw.nports; i++) {
		disconnect(&a, &a.sw.port[i]);
		if (a.listen_fd[i] >= 0) {
			close(a.listen_fd[i]);
			unlink(a.path[i]);
		}
	}
	close(a.epfd);
	close(a.sigfd);
	return ret;
}
