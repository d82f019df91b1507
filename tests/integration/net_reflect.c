// SPDX-License-Identifier: MIT
/*
 * net_reflect: the peer of an emulated NIC on QEMU's `-netdev socket,connect=127.0.0.1:PORT`
 * back-end, which carries each Ethernet frame as a 32-bit big-endian length and the frame on one
 * TCP stream. Every frame goes back to its sender with Ethernet, IPv4 and TCP/UDP addresses
 * swapped, as viommu-vhost --reflect does for a vhost-user device, so the guest of
 * tests/integration/guest-init.sh runs the same traffic checks against QEMU's own virtio-net
 * datapath (vhost off). A stream, not datagrams: when the guest stops taking frames, QEMU stops
 * reading, our writes block, we stop reading, and QEMU holds the guest's transmit queue, so no
 * frame is dropped on the host (a UDP socket would overflow under pktgen).
 *
 * Usage: net_reflect PORT_FILE   listens on 127.0.0.1 on a free port, writes the port to
 * PORT_FILE, serves one connection; at its end or on SIGTERM/SIGINT prints
 * "net_reflect: frames=N bytes=M" on stderr and exits 0 (1 on a malformed stream).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* 1: all @len bytes moved; 0: end of stream or a stop signal; -1: error. */
static int xfer(int fd, void *buf, size_t len, int out)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = out ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR) {
			if (stop)
				return 0;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t frames = 0, bytes = 0;
	static uint8_t buf[4 + 65536];
	int lfd, fd, rc = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: net_reflect PORT_FILE\n");
		return 2;
	}
	/* No SA_RESTART: a signal ends a blocking call. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		perror("net_reflect: socket");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%u\n", ntohs(addr.sin_port)) < 0 || fclose(f)) {
		perror("net_reflect: port file");
		return 1;
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		if (!stop)
			perror("net_reflect: accept");
		rc = stop ? 0 : 1;
		goto out;
	}
	while (!stop) {
		uint32_t len;
		int r = xfer(fd, buf, 4, 0);

		if (r <= 0) {
			rc = r < 0;
			break;
		}
		memcpy(&len, buf, 4);
		len = ntohl(len);
		if (len > sizeof(buf) - 4) {
			fprintf(stderr, "net_reflect: frame of %u bytes\n", len);
			rc = 1;
			break;
		}
		r = xfer(fd, buf + 4, len, 0);
		if (r <= 0) {
			rc = r < 0;
			break;
		}
		vnet_5tswap(buf + 4, len);
		r = xfer(fd, buf, 4 + (size_t)len, 1);
		if (r <= 0) {
			rc = r < 0;
			break;
		}
		frames++;
		bytes += len;
	}
	close(fd);
out:
	fprintf(stderr, "net_reflect: frames=%llu bytes=%llu\n", (unsigned long long)frames,
		(unsigned long long)bytes);
	return rc;
}
