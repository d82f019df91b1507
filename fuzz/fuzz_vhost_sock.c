// SPDX-License-Identifier: MIT
/*
 * viommu-vhost's socket layer and event loop from fuzz input, with real fd passing: the input is
 * a script for a front-end on the other end of a socketpair served by the program's own loop
 * (vh_app.c in fd mode). It sends messages whole or in arbitrary pieces with fds (sealed and
 * unsealed memfds, eventfds, pipe ends, a back-end channel socket) by SCM_RIGHTS, writes guest
 * memory, kicks, answers MISS requests with UPDATEs, reads or ignores replies and hangs up, with
 * loop rounds in between. Seeds (fuzz/corpus/vhost_sock) are whole sessions that move frames, so
 * the datapath is reached from the start. Nothing may crash, leak, block or hang.
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
#include "test_vhost_fe.h"
#include "vh_app.h"

#define MEM_SIZE 65536u
#define FE_VA 0x7f0000000000ull /* where the script's memory tables say guest memory is */
#define MAX_OPS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fe {
	int sock, be;	     /* our ends of the control socket and the back-end channel */
	int be_peer;	     /* the back-end channel end we pass */
	int memfd, unsealed; /* guest memory, and memory the back-end must refuse */
	int kick, call;	     /* eventfds */
	int pipe_r, pipe_w;  /* a pipe: a kick fd that can hang up */
	uint8_t *mem;
};

/* Fd byte: kind in bits 0-2, count - 1 in bits 3-6 (kind 0: none). */
static size_t pick_fds(const struct fe *f, unsigned int sel, int *fds)
{
	const int kinds[8] = { -1,	  f->memfd,  f->kick,	 f->call,
			       f->pipe_r, f->pipe_w, f->be_peer, f->unsealed };
	size_t n = (sel & 7) ? 1 + ((sel >> 3) & 15) : 0;

	if (n > 12)
		n = 12;
	for (size_t i = 0; i < n; i++)
		fds[i] = kinds[sel & 7];
	return fds[0] < 0 ? 0 : n;
}

/* Non-blocking: a full socket just loses the bytes (the stream may break: fine). */
static void send_fds(const struct fe *f, const void *buf, size_t len, const int *fds, size_t nfds)
{
	if (test_vhost_fe_send_bytes(f->sock, buf, len, fds, nfds, MSG_DONTWAIT) < 0) {
		/* nothing */
	}
}

static void drain(int fd)
{
	char buf[4096];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Answer one MISS from the back-end channel with an UPDATE of its page into guest memory. */
static void answer_miss(const struct fe *f, uint8_t perm)
{
	struct {
		struct viommu_vhost_user_header h;
		struct viommu_vhost_user_iotlb_msg m;
	} __attribute__((packed)) in, out;

	if (recv(f->be, &in, sizeof(in), MSG_DONTWAIT) != (ssize_t)sizeof(in))
		return;
	memset(&out, 0, sizeof(out));
	out.h.request = VIOMMU_VHOST_USER_IOTLB_MSG;
	out.h.flags = VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_NEED_REPLY_MASK;
	out.h.size = sizeof(out.m);
	out.m.iova = in.m.iova & ~0xfffull;
	out.m.size = 0x1000;
	out.m.uaddr = FE_VA + (in.m.iova & (MEM_SIZE - 1) & ~0xfffull);
	out.m.perm = perm & 3 ? perm & 3 : 3;
	out.m.type = VIOMMU_VHOST_USER_IOTLB_UPDATE;
	send_fds(f, &out, sizeof(out), NULL, 0);
}

static int fe_open(struct fe *f)
{
	int sv[2], be[2], p[2];

	memset(f, -1, sizeof(*f));
	f->mem = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, be) < 0 || pipe2(p, O_CLOEXEC) < 0)
		abort();
	f->sock = sv[1];
	f->be = be[1];
	f->be_peer = be[0];
	f->pipe_r = p[0];
	f->pipe_w = p[1];
	f->memfd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	f->unsealed = memfd_create("unsealed", MFD_CLOEXEC);
	f->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->memfd < 0 || f->unsealed < 0 || f->kick < 0 || f->call < 0 ||
	    ftruncate(f->memfd, MEM_SIZE) < 0 || ftruncate(f->unsealed, MEM_SIZE) < 0 ||
	    fcntl(f->memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		abort();
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED)
		abort();
	return sv[0];
}

static void fe_close(struct fe *f)
{
	int *fds[] = { &f->sock, &f->be,   &f->be_peer, &f->memfd, &f->unsealed,
		       &f->kick, &f->call, &f->pipe_r,	&f->pipe_w };

	munmap(f->mem, MEM_SIZE);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vh_app app; /* large; set up again for every input */
	struct input in = { data, size };
	struct fe f;
	int fds[12], live = 1;
	uint8_t buf[512];

	memset(&app, 0, sizeof(app));
	if (vh_app_init(&app, take(&in, 1) & 1 ? VNET_SWITCH : VNET_REFLECT, 1) < 0)
		abort();
	/* Small device IOTLBs: the default 2048 entries per input would dominate the run. */
	app.ops.devtlb_capacity = 16;
	app.ops.devtlb_pending = 8;
	if (vh_app_connect_fd(&app, fe_open(&f)) < 0)
		abort();

	for (int ops = 0; in.n && ops < MAX_OPS && live > 0; ops++) {
		unsigned int op = (unsigned int)take(&in, 1);

		switch (op & 7) {
		case 0: { /* raw bytes: a message in pieces, junk, anything */
			size_t n = 1 + take(&in, 1);
			size_t nfds = pick_fds(&f, (unsigned int)take(&in, 1), fds);

			if (n > in.n)
				n = in.n;
			memcpy(buf, in.p, n);
			in.p += n;
			in.n -= n;
			send_fds(&f, buf, n, fds, nfds);
			break;
		}
		case 1: { /* a message: header fields, payload, fds */
			struct viommu_vhost_user_header h = {
				.request = (uint32_t)take(&in, 1),
				.flags = (uint32_t)take(&in, 1),
				.size = (uint32_t)take(&in, 2),
			};
			size_t nfds = pick_fds(&f, (unsigned int)take(&in, 1), fds);
			size_t n = h.size > sizeof(buf) - sizeof(h) ? sizeof(buf) - sizeof(h) :
								      h.size;

			if (!(op & 0x80)) /* mostly a well-formed header */
				h.flags = (h.flags & VIOMMU_VHOST_USER_NEED_REPLY_MASK) |
					  VIOMMU_VHOST_USER_VERSION;
			if (n > in.n)
				n = in.n;
			memcpy(buf, &h, sizeof(h));
			memcpy(buf + sizeof(h), in.p, n);
			in.p += n;
			in.n -= n;
			send_fds(&f, buf, sizeof(h) + n, fds, nfds);
			break;
		}
		case 2: /* loop rounds */
			for (unsigned int i = 0; i <= (op >> 4) && live > 0; i++)
				live = vh_app_step(&app, 0);
			break;
		case 3: /* kick */
			if (eventfd_write(f.kick, 1) < 0) {
				/* saturated: fine */
			}
			if (op & 0x10 && f.pipe_w >= 0 && write(f.pipe_w, "k", 1) < 0) {
				/* full: fine */
			}
			break;
		case 4: { /* write guest memory: rings, descriptors, frames change under the loop */
			size_t off = (size_t)take(&in, 2) % MEM_SIZE, n = (size_t)take(&in, 1) % 64;

			if (n > in.n)
				n = in.n;
			if (off + n > MEM_SIZE)
				n = MEM_SIZE - off;
			memcpy(f.mem + off, in.p, n);
			in.p += n;
			in.n -= n;
			break;
		}
		case 5: /* read the replies (a front-end that never does fills its buffer) */
			drain(f.sock);
			break;
		case 6: /* answer MISSes, as QEMU does */
			for (unsigned int i = 0; i <= (op >> 4); i++)
				answer_miss(&f, (uint8_t)(op >> 3));
			break;
		default: /* hang up: the kick pipe's writer, or the control socket's write side */
			if (op & 0x10 && f.pipe_w >= 0) {
				close(f.pipe_w);
				f.pipe_w = -1;
			}
			if (op & 0x20)
				shutdown(f.sock, SHUT_WR);
			break;
		}
	}
	for (int i = 0; i < 4 && live > 0; i++)
		live = vh_app_step(&app, 0);
	vh_app_destroy(&app);
	fe_close(&f);
	return 0;
}
