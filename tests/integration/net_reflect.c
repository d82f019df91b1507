// SPDX-License-Identifier: MIT
/*
 * The peer of an emulated NIC in the QEMU integration tests: QEMU's `-netdev
 * socket,connect=127.0.0.1:PORT` sends each Ethernet frame over TCP with a 4-byte big-endian
 * length in front; every frame goes back with Ethernet, IPv4 and TCP/UDP addresses swapped
 * (vnet_5tswap, as viommu-vhost --reflect does), so what the guest sends to a fake neighbour
 * comes back as that neighbour's. TCP rather than UDP: its flow control keeps a fast pktgen burst
 * from being dropped in a socket buffer, so every frame the guest misses is a real loss.
 *
 * Usage: net_reflect PORTFILE. Listens on 127.0.0.1 (a port the kernel picks, written to
 * PORTFILE), serves one connection, prints its counts to stderr and exits when QEMU closes it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

#define MAX_FRAME 65536u /* QEMU's socket netdev refuses longer ones (NET_BUFSIZE 68 KiB) */

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	static uint8_t frame[MAX_FRAME];
	uint64_t frames = 0, bytes = 0, bad = 0;
	int ls, c;
	FILE *pf;

	if (argc != 2) {
		fprintf(stderr, "usage: net_reflect PORTFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl)) {
		perror("net_reflect: listen");
		return 1;
	}
	/* Written to a temporary name and renamed, so a reader never sees half a number. */
	{
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
		pf = fopen(tmp, "w");
		if (!pf || fprintf(pf, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(pf) ||
		    rename(tmp, argv[1])) {
			perror("net_reflect: port file");
			return 1;
		}
	}
	c = accept(ls, NULL, NULL);
	if (c < 0) {
		perror("net_reflect: accept");
		return 1;
	}
	close(ls);
	for (;;) {
		uint8_t hdr[4];
		uint32_t len;

		if (full_io(c, hdr, 4, false))
			break;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		      hdr[3];
		if (len == 0 || len > MAX_FRAME) {
			bad++;
			break;
		}
		if (full_io(c, frame, len, false))
			break;
		vnet_5tswap(frame, len);
		if (full_io(c, hdr, 4, true) || full_io(c, frame, len, true))
			break;
		frames++;
		bytes += len;
	}
	fprintf(stderr, "net_reflect: frames=%llu bytes=%llu bad_lengths=%llu\n",
		(unsigned long long)frames, (unsigned long long)bytes, (unsigned long long)bad);
	return bad ? 1 : 0;
}
