// SPDX-License-Identifier: MIT
/*
 * viommu-vhost: a vhost-user virtio-net back-end whose every guest access goes through the
 * device IOTLB when VIRTIO_F_ACCESS_PLATFORM is negotiated. The options are parsed here; the
 * event loop (vh_app.c) services control sockets, kick fds and signals in one thread, so IOTLB
 * UPDATE/INVALIDATE keep being handled while queues wait for a translation (misses never block).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh_app.h"

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
		"      --poll              poll the rings all the time (one core busy); the guest\n"
		"                          is asked not to kick (VRING_USED_F_NO_NOTIFY, or a\n"
		"                          stale avail_event with VIRTIO_F_EVENT_IDX)\n"
		"      --busy-poll-us=US   after a frame, keep polling this long before asking for\n"
		"                          kicks and sleeping again (default %u; 0: purely\n"
		"                          event-driven, for hosts with no spare core)\n"
		"      --audit=FILE        log IOTLB updates, invalidations and used translations\n"
		"                          (binary, for tests that check invalidation correctness)\n"
		"  -v, --verbose           log every vhost-user message\n"
		"      --debug             also log misses, IOTLB messages and datapath rounds,\n"
		"                          timestamped (for finding stalls)\n"
		"      --print-capabilities  print the vhost-user back-end capabilities (JSON)\n"
		"  -h, --help              this text\n"
		"\n"
		"Statistics go to stderr on SIGUSR1 and at exit; SIGINT/SIGTERM stop it cleanly.\n",
		VH_APP_BUSY_POLL_US_DEFAULT);
}

static void print_capabilities(void)
{
	/* vhost-user.rst "Backend program conventions": the type, and no optional features. */
	printf("{\n  \"type\": \"net\"\n}\n");
}

int main(int argc, char **argv)
{
	static struct vh_app a; /* large (frame scratch space); one per process */
	static const struct option opts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "reflect", no_argument, NULL, 'r' },
		{ "poll", no_argument, NULL, 'p' },
		{ "busy-poll-us", required_argument, NULL, 'b' },
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
	const char *paths[VNET_MAX_PORTS] = { NULL };
	const char *audit_path = NULL;
	bool verbose = false, debug = false, poll = false;
	unsigned long busy_us = VH_APP_BUSY_POLL_US_DEFAULT;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:hv", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (npaths == VNET_MAX_PORTS) {
				fprintf(stderr, "viommu-vhost: at most %u sockets\n",
					VNET_MAX_PORTS);
				return 2;
			}
			paths[npaths++] = optarg;
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
		case 'p':
			poll = true;
			break;
		case 'b': {
			char *end;

			errno = 0;
			busy_us = strtoul(optarg, &end, 10);
			/* At most 1 s: longer is --poll. */
			if (*end || !*optarg || optarg[0] == '-' || errno || busy_us > 1000000) {
				fprintf(stderr,
					"viommu-vhost: bad --busy-poll-us '%s' (0 to 1000000)\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'a':
			audit_path = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'd':
			debug = true;
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

	ret = vh_app_init(&a, mode, conn_fd >= 0 ? 1 : npaths);
	if (!ret)
		ret = vh_app_signals(&a);
	if (ret < 0) {
		fprintf(stderr, "viommu-vhost: %s\n", strerror(-ret));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	a.audit_path = audit_path;
	a.verbose = verbose;
	a.debug = debug;
	a.poll = poll;
	a.busy_poll_ns = (uint64_t)busy_us * 1000u;
	if (conn_fd >= 0 && vh_app_connect_fd(&a, conn_fd) < 0)
		return 1;
	for (unsigned int i = 0; i < npaths; i++) {
		if (vh_app_listen(&a, i, paths[i]) < 0)
			return 1;
		fprintf(stderr, "viommu-vhost: port%u listening on %s (%s)\n", i, paths[i],
			mode == VNET_REFLECT ? "reflect" : "switch");
		if (poll)
			fprintf(stderr, "viommu-vhost: polling (one core)\n");
		else if (busy_us)
			fprintf(stderr, "viommu-vhost: busy-polling %lu us after activity\n",
				busy_us);
	}

	ret = vh_app_run(&a);
	vh_app_print_stats(&a, "exit");
	vh_app_destroy(&a);
	return ret < 0 ? 1 : 0;
}
