// SPDX-License-Identifier: MIT
/*
 * vhost-user messages from fuzz input, through the same parser the socket path uses, followed by
 * a datapath round after each one, on a device whose guest memory is a small memfd that the input
 * also writes. Messages that carry fds get duplicates of that memfd (or of an eventfd), so memory
 * tables, rings and IOTLB updates can all be reached. Nothing may crash, leak or hang.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_vhost_dev.h"
#include "net.h"

#define MEM_SIZE 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vnet_switch sw; /* large; reinitialised for every input */
	int sv[2], memfd, evfd;
	uint8_t *mem;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	memfd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* Sealed as QEMU seals guest memory: the back-end refuses memory that can shrink. */
	if (memfd < 0 || evfd < 0 || ftruncate(memfd, MEM_SIZE) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		abort();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		abort();
	vnet_init(&sw, data && size && data[0] & 1 ? VNET_SWITCH : VNET_REFLECT, 1);
	if (vnet_port_connect(&sw.port[0], sv[0], &fuzz_vhost_ops, &sw.port[0]) < 0)
		abort();

	/* Each record: u8 fd kind (0 none, 1..8 memfd copies, 9 eventfd), u8 memory poke length,
	 * u16 poke offset, poke bytes, then a 12-byte header and its payload (capped). */
	while (size >= 4 && sw.port[0].connected) {
		struct viommu_vhost_user_header h;
		uint8_t payload[VHOST_USER_PAYLOAD_MAX];
		int fds[VHOST_USER_MAX_FDS];
		size_t nfds = 0, poke = data[1], off = (size_t)data[2] | (size_t)data[3] << 8;
		unsigned int kind = data[0] % 10;

		data += 4;
		size -= 4;
		if (poke > size)
			poke = size;
		if (off + poke <= MEM_SIZE)
			memcpy(mem + off, data, poke);
		data += poke;
		size -= poke;
		if (size < sizeof(h))
			break;
		memcpy(&h, data, sizeof(h));
		data += sizeof(h);
		size -= sizeof(h);
		if (h.size > sizeof(payload))
			h.size = sizeof(payload);
		if (h.size > size)
			h.size = (uint32_t)size;
		memcpy(payload, data, h.size);
		data += h.size;
		size -= h.size;
		h.flags = (h.flags & ~VIOMMU_VHOST_USER_VERSION_MASK &
			   ~VIOMMU_VHOST_USER_REPLY_MASK) |
			  VIOMMU_VHOST_USER_VERSION;
		for (unsigned int i = 0; kind && i < (kind == 9 ? 1 : kind); i++)
			fds[nfds++] = dup(kind == 9 ? evfd : memfd);
		if (vh_dev_process(&sw.port[0].dev, &h, payload, fds, nfds) < 0)
			break;
		fuzz_drain(sv[1]);
		vnet_port_run(&sw.port[0]);
	}
	vnet_port_disconnect(&sw.port[0]);
	close(sv[1]);
	close(evfd);
	munmap(mem, MEM_SIZE);
	close(memfd);
	return 0;
}
