// SPDX-License-Identifier: MIT
/*
 * viommu-vhost's packed virtqueues (virtio 1.2 §2.8) from fuzz input. The session up to running
 * rings is fixed (the message parser has fuzz_vhost_msg): a packed front-end negotiates the
 * features the first byte picks (EVENT_IDX, INDIRECT_DESC, ACCESS_PLATFORM, MRG_RXBUF, switch or
 * reflect), gives a sealed memfd and sets both rings of the first queue pair up with sizes and
 * SET_VRING_BASE positions (both wrap counters) from the input. Then a script plays the guest
 * and the front-end: guest memory writes (descriptors with any flags, indirect tables, event
 * suppression structures), descriptors written the way a driver would for the current lap,
 * frames for the receive queue, IOTLB UPDATEs and INVALIDATEs of any page, new ring positions,
 * GET_VRING_BASE, polling on and off, datapath rounds. Seeds: fuzz/corpus/vhost_packed.
 * Nothing may crash, hang or touch memory outside what the memory table gives.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "fuzz_vhost_dev.h"
#include "net.h"

#define MEM_SIZE 65536u
#define FE_VA 0x7f0000000000ull
#define IOVA 0xfef00000ull
#define MAX_OPS 1024
/* Rings of queue q (0 receive, 1 transmit): descriptors, driver area, device area. */
#define DESC(q) (0x1000u + 0x1000u * (q))
#define DRIVER(q) (DESC(q) + 0x800u)
#define DEVICE(q) (DESC(q) + 0x900u)
#define BUFS 0x4000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One message through the parser; fd: -1 none, else a duplicate of it. */
static void msg(struct vh_dev *dev, uint32_t req, const void *payload, uint32_t size, int fd)
{
	struct viommu_vhost_user_header h = {
		.request = req,
		.flags = VIOMMU_VHOST_USER_VERSION,
		.size = size,
	};
	int fds[1];
	size_t nfds = 0;

	if (fd >= 0)
		fds[nfds++] = dup(fd);
	vh_dev_process(dev, &h, payload, fds, nfds);
}

static void vring_state(struct vh_dev *dev, uint32_t req, uint32_t q, uint32_t num)
{
	struct viommu_vhost_user_vring_state st = { .index = q, .num = num };

	msg(dev, req, &st, sizeof(st), -1);
}

static void vring_addr(struct vh_dev *dev, unsigned int q, uint64_t base)
{
	struct viommu_vhost_user_vring_addr a = {
		.index = q,
		.desc_user_addr = base + DESC(q),
		.avail_user_addr = base + DRIVER(q),
		.used_user_addr = base + DEVICE(q),
	};

	msg(dev, VIOMMU_VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1);
}

static void iotlb(struct vh_dev *dev, uint8_t type, uint64_t iova, uint64_t len, uint64_t uaddr,
		  uint8_t perm)
{
	struct viommu_vhost_user_iotlb_msg m = {
		.iova = iova, .size = len, .uaddr = uaddr, .perm = perm, .type = type
	};

	msg(dev, VIOMMU_VHOST_USER_IOTLB_MSG, &m, sizeof(m), -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vnet_switch sw; /* large; reinitialised for every input */
	struct input in = { data, size };
	unsigned int cfg = (unsigned int)take(&in, 1);
	const bool iommu = cfg & 4;
	const uint64_t ring_base = iommu ? IOVA : FE_VA, buf_base = iommu ? IOVA : 0;
	uint64_t feat = VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES |
			VIOMMU_VIRTIO_F_RING_PACKED;
	struct viommu_vhost_user_memory mt = { .nregions = 1 };
	/* The driver's view of each ring: next position to make available and its wrap. */
	uint16_t next[2] = { 0, 0 };
	bool wrap[2] = { true, true };
	struct vnet_port *p = &sw.port[0];
	int sv[2], be[2], memfd, evfd;
	uint8_t *mem;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, be) < 0)
		abort();
	memfd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (memfd < 0 || evfd < 0 || ftruncate(memfd, MEM_SIZE) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		abort();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		abort();
	vnet_init(&sw, cfg & 16 ? VNET_SWITCH : VNET_REFLECT, 1);
	if (vnet_port_connect(p, sv[0], &fuzz_vhost_ops, p) < 0)
		abort();

	if (cfg & 1)
		feat |= VIOMMU_VIRTIO_F_EVENT_IDX;
	if (cfg & 2)
		feat |= VIOMMU_VIRTIO_F_INDIRECT_DESC;
	if (iommu)
		feat |= VIOMMU_VIRTIO_F_ACCESS_PLATFORM;
	if (cfg & 8)
		feat |= VIOMMU_VIRTIO_NET_F_MRG_RXBUF;
	{
		uint64_t proto = VH_PROTOCOL_FEATURES;

		msg(&p->dev, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, &proto, 8, -1);
	}
	msg(&p->dev, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, -1);
	msg(&p->dev, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, be[1]);
	msg(&p->dev, VIOMMU_VHOST_USER_SET_FEATURES, &feat, 8, -1);
	mt.regions[0] = (struct viommu_vhost_user_memory_region){ .guest_phys_addr = 0,
								  .memory_size = MEM_SIZE,
								  .userspace_addr = FE_VA };
	msg(&p->dev, VIOMMU_VHOST_USER_SET_MEM_TABLE, &mt,
	    8 + (uint32_t)sizeof(struct viommu_vhost_user_memory_region), memfd);
	if (iommu && cfg & 32) /* all of memory at once; otherwise pages as the script says */
		iotlb(&p->dev, VIOMMU_VHOST_USER_IOTLB_UPDATE, IOVA, MEM_SIZE, FE_VA,
		      VIOMMU_VHOST_USER_ACCESS_RW);
	for (unsigned int q = 0; q < 2; q++) {
		/* Sizes 1..128, any (a packed ring's need not be a power of 2). */
		uint32_t num = 1 + (uint32_t)take(&in, 1) % 128;
		uint32_t base = (uint32_t)take(&in, 4);

		vring_state(&p->dev, VIOMMU_VHOST_USER_SET_VRING_NUM, q, num);
		/* 0: QEMU's fresh ring; otherwise the input's positions. */
		vring_state(&p->dev, VIOMMU_VHOST_USER_SET_VRING_BASE, q,
			    base ? base : 0x80008000u);
		if (!base || (base & 0x7fffu) >= num)
			base = 0x80008000u;
		next[q] = (uint16_t)(base & 0x7fffu);
		wrap[q] = base & 0x8000u;
		vring_addr(&p->dev, q, ring_base);
		{
			uint64_t v = q | VIOMMU_VHOST_USER_VRING_NOFD_MASK;

			msg(&p->dev, VIOMMU_VHOST_USER_SET_VRING_KICK, &v, 8, -1);
			v = q;
			msg(&p->dev, VIOMMU_VHOST_USER_SET_VRING_CALL, &v, 8, evfd);
		}
		vring_state(&p->dev, VIOMMU_VHOST_USER_SET_VRING_ENABLE, q, 1);
	}

	for (unsigned int ops_done = 0; ops_done < MAX_OPS && in.n && p->connected; ops_done++) {
		unsigned int op = (unsigned int)take(&in, 1);
		unsigned int q = (op >> 4) & 1;

		switch (op & 15) {
		case 0: { /* poke guest memory */
			uint32_t off = (uint32_t)take(&in, 2) % MEM_SIZE;
			uint32_t len = (uint32_t)take(&in, 1);

			if (len > in.n)
				len = (uint32_t)in.n;
			if (len > MEM_SIZE - off)
				len = MEM_SIZE - off;
			memcpy(mem + off, in.p, len);
			in.p += len;
			in.n -= len;
			break;
		}
		case 1: { /* a chain the way a driver makes it available: @n descriptors */
			uint32_t num = p->dev.vq[q].num ? p->dev.vq[q].num : 1;
			unsigned int n = 1 + (unsigned int)take(&in, 1) % 4;
			uint16_t id = (uint16_t)take(&in, 2), head = next[q], head_flags = 0;
			unsigned int extra = (unsigned int)take(&in, 1);

			for (unsigned int k = 0; k < n; k++) {
				struct viommu_virtio_pvirtq_desc d = {
					.addr = buf_base + BUFS + 0x800u * ((extra + k) % 16),
					.len = 64u + 32u * ((extra >> 4) + k),
					.id = id,
					.flags =
						(uint16_t)((q == 0 ?
								    VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE :
								    0) |
							   (k + 1 < n ?
								    VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT :
								    0) |
							   (wrap[q] ?
								    VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL :
								    VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED)),
				};

				if (extra & 0x80 && k == 0) {
					/* an indirect table at 0x3000 of 1..4 entries */
					d.addr = buf_base + 0x3000;
					d.len = 16u * (1 + (extra & 3));
					d.flags = (uint16_t)((d.flags &
							      ~VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE) |
							     VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT);
				}
				if (k == 0) {
					head_flags = d.flags;
					d.flags = 0;
				}
				if (next[q] < num)
					memcpy(mem + DESC(q) + 16u * next[q], &d, sizeof(d));
				if (++next[q] >= num) {
					next[q] = 0;
					wrap[q] = !wrap[q];
				}
			}
			if (head < num)
				memcpy(mem + DESC(q) + 16u * head + 14, &head_flags, 2);
			break;
		}
		case 2: { /* a frame for the receive queue */
			uint8_t fr[2048];
			uint32_t len = 14 + (uint32_t)take(&in, 2) % 2000;

			memset(fr, (int)op, len);
			vnet_switch_input(p, 0, fr, len);
			break;
		}
		case 3:	  /* UPDATE pages (any permission) */
		case 4: { /* INVALIDATE pages */
			uint64_t page = take(&in, 1) % (MEM_SIZE / 4096);
			uint64_t n = 1 + take(&in, 1) % 4;
			uint8_t perm = (uint8_t)(1 + take(&in, 1) % 3);

			if (page + n > MEM_SIZE / 4096)
				n = MEM_SIZE / 4096 - page;
			iotlb(&p->dev,
			      (op & 15) == 3 ? VIOMMU_VHOST_USER_IOTLB_UPDATE :
					       VIOMMU_VHOST_USER_IOTLB_INVALIDATE,
			      IOVA + 4096 * page, 4096 * n, FE_VA + 4096 * page, perm);
			break;
		}
		case 5: /* new positions (anything, even past the ring), the ring set up again */
			vring_state(&p->dev, VIOMMU_VHOST_USER_SET_VRING_BASE, q,
				    (uint32_t)take(&in, 4));
			vring_addr(&p->dev, q, ring_base);
			break;
		case 6:
			vring_state(&p->dev, VIOMMU_VHOST_USER_GET_VRING_BASE, q, 0);
			/* stopped: started again without a kick fd (polled) */
			{
				uint64_t v = q | VIOMMU_VHOST_USER_VRING_NOFD_MASK;

				msg(&p->dev, VIOMMU_VHOST_USER_SET_VRING_KICK, &v, 8, -1);
			}
			break;
		case 7:
			p->polling = !p->polling;
			break;
		case 8: /* the driver's event suppression: offset/wrap and mode */
		{
			uint16_t ev[2] = { (uint16_t)take(&in, 2), (uint16_t)take(&in, 1) };

			memcpy(mem + DRIVER(q), ev, sizeof(ev));
			break;
		}
		default:
			vnet_port_run(p);
			break;
		}
		fuzz_drain(sv[1]);
		fuzz_drain(be[0]);
	}
	vnet_port_run(p);
	vnet_port_disconnect(p);
	close(sv[1]);
	close(be[0]);
	close(be[1]);
	close(evfd);
	munmap(mem, MEM_SIZE);
	close(memfd);
	return 0;
}
