// SPDX-License-Identifier: MIT
/*
 * udp_reflect: the peer of an emulated NIC on QEMU's `-netdev socket,udp=...` back-end, which
 * carries one Ethernet frame per datagram. Every frame goes back to its sender with Ethernet,
 * IPv4 and TCP/UDP addresses swapped, as viommu-vhost --reflect does for a vhost-user device, so
 * the guest of tests/integration/guest-init.sh runs the same traffic checks against QEMU's own
 * virtio-net datapath (vhost off).
 *
 * Usage: udp_reflect PORT_FILE   binds 127.0.0.1 on a free port and writes the port to
 * PORT_FILE; on SIGTERM/SIGINT prints "udp_reflect: frames=N bytes=M" on stderr and exits 0.
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

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t frames = 0, bytes = 0;
	static uint8_t buf[65536];
	FILE *f;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: udp_reflect PORT_FILE\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    getsockname(fd, (struct sockaddr *)&addr, &alen)) {
		perror("udp_reflect: socket");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%u\n", ntohs(addr.sin_port)) < 0 || fclose(f)) {
		perror("udp_reflect: port file");
		return 1;
	}
	/* No SA_RESTART: a signal ends the blocking receive. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udp_reflect: recvfrom");
			return 1;
		}
		vnet_5tswap(buf, (size_t)n);
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen) == n) {
			frames++;
			bytes += (uint64_t)n;
		}
	}
	fprintf(stderr, "udp_reflect: frames=%llu bytes=%llu\n", (unsigned long long)frames,
		(unsigned long long)bytes);
	return 0;
}
