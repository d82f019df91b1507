/* SPDX-License-Identifier: MIT */
/*
 * The viommu-vhost program's event loop, as a library so that the socket-layer fuzzer drives the
 * very loop the program runs: one thread, one epoll set (signals, listening sockets, control
 * sockets, kick fds). Nothing in it waits on a peer: control sockets are non-blocking with
 * bounded buffers, so one front-end can never stall another port, signals or shutdown.
 */
#ifndef VHOST_VH_APP_H
#define VHOST_VH_APP_H

#include <viommu/devtlb.h>

#include "net.h"

struct vh_app_totals {
	struct vh_stats vh;
	struct viommu_devtlb_stats tlb;
};

struct vh_app {
	int epfd;
	int sigfd; /* -1 without vh_app_signals() */
	int listen_fd[VNET_MAX_PORTS];
	const char *path[VNET_MAX_PORTS];
	bool fd_mode; /* one connection given by fd: the loop ends when it closes */
	struct vnet_switch sw;
	struct vh_app_totals total[VNET_MAX_PORTS]; /* from connections that have ended */
	const char *audit_path;
	bool verbose;
	bool debug;
	unsigned int connections;
	bool conn_out[VNET_MAX_PORTS]; /* the control socket is watched for output too */
	struct vh_dev_ops ops;	       /* what connections are told; devtlb sizes may be set */
	/*
	 * Polling (the default is event-driven: sleep until a kick). @poll: poll every port all
	 * the time (one core). @busy_poll_ns: keep polling this long after the last frame, then
	 * ask for kicks again and sleep; 0: never.
	 */
	bool poll;
	uint64_t busy_poll_ns;
	bool polling;		/* this round polls */
	uint64_t last_activity; /* CLOCK_MONOTONIC ns of the last round that moved a frame */
};

/*
 * --busy-poll-us default: 50. Measured 2026-12-07 on the idle 2-core machine (`viommu-bench vhost`,
 * 10 s x 2 alternated rounds, pps against testpmd in the same run): a 50 us window against
 * event-driven: noiommu 1.96x against 0.95x, pt 1.84x against 0.86x (with less CPU per frame:
 * 4.0 against 7.1-7.6 us: fewer kicks and wake-ups), strict 2.28x against 2.58x, lazy 48-49 k
 * against 56-59 k frames. The window wins where translation is cheap and costs 12-15% where
 * misses dominate; on the loaded machine (load 10-12) event-driven was ahead, so
 * --busy-poll-us=0 stays the choice where no core is spare.
 */
#define VH_APP_BUSY_POLL_US_DEFAULT 50u

/* @nports ports (names port0...), an epoll set. 0 or -errno. */
int vh_app_init(struct vh_app *a, enum vnet_mode mode, unsigned int nports);
/* Block SIGINT, SIGTERM and SIGUSR1 and take them through the loop (signalfd). 0 or -errno. */
int vh_app_signals(struct vh_app *a);
/* Listen on the Unix socket @path for port @port (a stale socket file is replaced). */
int vh_app_listen(struct vh_app *a, unsigned int port, const char *path);
/* Serve the connected socket @sock on port 0; the loop ends when it closes (fd mode). */
int vh_app_connect_fd(struct vh_app *a, int sock);
/*
 * One round: wait for events at most @max_wait_ms (-1: until one comes, or the miss retry
 * interval), handle them, run the ports that have work. 1 to go on, 0 when the loop should end
 * (SIGINT/SIGTERM, or the fd-mode connection closed), or -errno.
 */
int vh_app_step(struct vh_app *a, int max_wait_ms);
/* vh_app_step() until it returns 0 or an error. */
int vh_app_run(struct vh_app *a);
void vh_app_print_stats(const struct vh_app *a, const char *when);
/* Disconnect every port, close and unlink the listening sockets, close the loop's fds. */
void vh_app_destroy(struct vh_app *a);

#endif
