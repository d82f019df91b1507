// SPDX-License-Identifier: MIT
/*
 * sys: unit costs of this machine that the simulator's cost model can take instead of published
 * figures: a system call, a unix-socket round trip between two processes (the shape of a vhost-user
 * MISS followed by an UPDATE and its reply), an eventfd signal and wait across processes (a
 * virtqueue kick through ioeventfd), and copy bandwidth at packet sizes. The syscall is the
 * baseline of the IPC rows; the in-cache copy is the baseline of the large copy.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? write(fd, (char *)buf + done, len - done) :
				 read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static double syscall_ns(int reps, int iters)
{
	double per[64];

	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < iters; i++)
			bench_keep((uint64_t)syscall(SYS_getppid));
		per[r] = (double)(bench_now_ns() - t0) / iters;
	}
	return bench_median(per, (size_t)reps);
}

/* Round trips of @len bytes each way over a unix stream socket to a child that echoes. */
static double unix_rtt_ns(size_t len, int reps, int iters)
{
	int sv[2];
	char buf[256] = { 0 };
	double per[64];
	pid_t pid;
	int status;

	if (len > sizeof(buf) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(sv[0]);
		while (full_io(sv[1], buf, len, false) == 0) {
			if (full_io(sv[1], buf, len, true))
				break;
		}
		_exit(0);
	}
	close(sv[1]);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < iters; i++) {
			if (full_io(sv[0], buf, len, true) || full_io(sv[0], buf, len, false)) {
				close(sv[0]);
				waitpid(pid, &status, 0);
				return -1;
			}
		}
		per[r] = (double)(bench_now_ns() - t0) / iters;
	}
	close(sv[0]);
	waitpid(pid, &status, 0);
	return bench_median(per, (size_t)reps);
}

/* Signal-and-wait round trips over two eventfds shared with a child. */
static double eventfd_rtt_ns(int reps, int iters)
{
	int ping = eventfd(0, 0), pong = eventfd(0, 0);
	double per[64];
	uint64_t v = 1;
	pid_t pid;
	int status;

	if (ping < 0 || pong < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		for (;;) {
			if (read(ping, &v, sizeof(v)) != sizeof(v) || v == UINT64_MAX - 1)
				_exit(0);
			v = 1;
			if (write(pong, &v, sizeof(v)) != sizeof(v))
				_exit(1);
		}
	}
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = bench_now_ns();

		for (int i = 0; i < iters; i++) {
			v = 1;
			if (write(ping, &v, sizeof(v)) != sizeof(v) ||
			    read(pong, &v, sizeof(v)) != sizeof(v))
				break;
		}
		per[r] = (double)(bench_now_ns() - t0) / iters;
	}
	v = UINT64_MAX - 1;
	if (write(ping, &v, sizeof(v)) != sizeof(v))
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(ping);
	close(pong);
	return bench_median(per, (size_t)reps);
}

/* GB/s copying @len-byte blocks round a @span-byte buffer (span beyond the caches: DRAM). */
static double copy_gbps(size_t len, size_t span, int reps, bool quick)
{
	char *src = malloc(span + len), *dst = malloc(span + len);
	size_t total = quick ? (size_t)4 << 20 : (size_t)64 << 20;
	double per[64];

	if (!src || !dst) {
		free(src);
		free(dst);
		return -1;
	}
	memset(src, 1, span + len);
	memset(dst, 2, span + len);
	for (int r = 0; r < reps; r++) {
		size_t off = 0;
		uint64_t t0 = bench_now_ns();

		for (size_t done = 0; done < total; done += len) {
			memcpy(dst + off, src + off, len);
			off = (off + len) % span;
		}
		bench_keep((uint64_t)(uintptr_t)dst + (uint64_t)dst[span / 2]);
		per[r] = (double)total / (double)(bench_now_ns() - t0);
	}
	free(src);
	free(dst);
	return bench_median(per, (size_t)reps);
}

static int sys_run(struct bench_ctx *ctx)
{
	int reps = bench_quick(ctx) ? 3 : 15;
	int iters = bench_quick(ctx) ? 200 : 20000;
	int ipc_iters = bench_quick(ctx) ? 100 : 5000;
	double rtt64, rtt32, efd;

	bench_report(ctx, "syscall", "time", syscall_ns(reps, iters), "ns", NULL);
	/* A vhost-user IOTLB message is a 12-byte header plus a 32-byte payload at most. */
	rtt32 = unix_rtt_ns(44, reps, ipc_iters);
	rtt64 = unix_rtt_ns(64, reps, ipc_iters);
	efd = eventfd_rtt_ns(reps, ipc_iters);
	if (rtt32 < 0 || rtt64 < 0 || efd < 0)
		return -1;
	bench_report(ctx, "unix-rtt/44B", "time", rtt32, "ns", "syscall");
	bench_report(ctx, "unix-rtt/64B", "time", rtt64, "ns", "syscall");
	bench_report(ctx, "eventfd-rtt", "time", efd, "ns", "syscall");
	bench_report(ctx, "copy/1500B-cached", "bandwidth",
		     copy_gbps(1500, 1 << 16, reps, bench_quick(ctx)), "GB/s", NULL);
	bench_report(ctx, "copy/64KiB-cached", "bandwidth",
		     copy_gbps(65536, 1 << 18, reps, bench_quick(ctx)), "GB/s",
		     "copy/1500B-cached");
	bench_report(ctx, "copy/64KiB-dram", "bandwidth",
		     copy_gbps(65536, bench_quick(ctx) ? (size_t)16 << 20 : (size_t)256 << 20, reps,
			       bench_quick(ctx)),
		     "GB/s", "copy/64KiB-cached");
	return 0;
}

const struct bench_suite bench_suite_sys = {
	.name = "sys",
	.help = "machine unit costs for the cost model: syscall, unix-socket and eventfd round "
		"trips, copy bandwidth",
	.run = sys_run,
};
