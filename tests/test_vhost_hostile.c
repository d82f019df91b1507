// SPDX-License-Identifier: MIT
/*
 * viommu-vhost against a hostile front-end, from the outside: the program is started with two
 * ports and this test connects to it as an attacker would (malformed headers and sizes, unusable
 * fds, hostile memory tables, IOTLB messages and ring layouts, slow and non-reading peers,
 * truncated memory, reconnect storms, random message streams). After each step the process must
 * still be alive and responsive (the other port answers, SIGUSR1 prints statistics), and its fd
 * count (/proc/PID/fd) and resident memory (/proc/PID/status VmRSS) must stay bounded; at the end
 * SIGTERM must stop it cleanly with no sanitizer report in its log. The waits below are liveness
 * bounds (a hung process fails instead of hanging the suite), never timing measurements.
 *
 * Usage: test_vhost_hostile PATH-TO-viommu-vhost (VIOMMU_HOSTILE_ONLY=test_name: that one only)
 */
#include "test_common.h"
#include "test_vhost_fe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <viommu/spec/vhost_user.h>
#include <viommu/spec/virtio.h>

#define WAIT_MS 30000		  /* liveness bound for anything the back-end must do */
#define MEM_SIZE (1u << 20)	  /* guest memory of the fake front-end */
#define FE_VA 0x7f0000000000ull	  /* where it says guest memory is */
#define RSS_SLACK_KB (64u * 1024) /* growth allowed over the start (sanitizer builds: shadow) */
#define FD_SLACK 2		  /* a health-check connection not yet torn down */

#define PROTO_FEATURES                                                                       \
	(VIOMMU_VHOST_USER_PROTOCOL_F_REPLY_ACK | VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ | \
	 VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)

static const char *vhost_bin;

struct hs {
	pid_t pid;
	char dir[64];
	char path[2][128];
	char log[128];
	int base_fds;
	long base_rss_kb;
	unsigned int usr1_seen; /* "stats (SIGUSR1)" lines seen in the log so far */
	long max_rss_kb;	/* the most seen at a health check */
	int max_fds;
	struct test_rng rng;
};

/* ---------------------------------------------------------------------------------------- */
/* The process seen from outside                                                             */
/* ---------------------------------------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static int proc_fds(const struct hs *h)
{
	char p[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)h->pid);
	d = opendir(p);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Whether the process holds an fd on the inode @ino (e.g. "pipe:[ino]"). */
static bool proc_holds(const struct hs *h, const char *kind, unsigned long ino)
{
	char p[64], want[64], link[64];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)h->pid);
	snprintf(want, sizeof(want), "%s:[%lu]", kind, ino);
	d = opendir(p);
	assert_non_null(d);
	while (!found && (e = readdir(d))) {
		char fp[340];
		ssize_t n;

		snprintf(fp, sizeof(fp), "%s/%s", p, e->d_name);
		n = readlink(fp, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

static long proc_rss_kb(const struct hs *h)
{
	char p[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)h->pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static unsigned int log_count(const struct hs *h, const char *what)
{
	char line[4096];
	unsigned int n = 0;
	FILE *f = fopen(h->log, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static void assert_running(const struct hs *h)
{
	int st;

	assert_int_equal(waitpid(h->pid, &st, WNOHANG), 0);
}

/* ---------------------------------------------------------------------------------------- */
/* A front-end                                                                               */
/* ---------------------------------------------------------------------------------------- */

static int fe_connect(const struct hs *h, unsigned int port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, h->path[port]);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The reply to @req: its u64 in *v, 0; or -1 when none came (closed, or the wait ran out). */
static int fe_reply(int fd, uint32_t req, uint64_t *v)
{
	struct viommu_vhost_user_header hd;
	uint8_t body[8];

	if (recv(fd, &hd, sizeof(hd), MSG_WAITALL) != (ssize_t)sizeof(hd))
		return -1;
	assert_int_equal(hd.request, req);
	assert_int_equal(hd.flags, VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_REPLY_MASK);
	assert_int_equal(hd.size, 8);
	if (recv(fd, body, 8, MSG_WAITALL) != 8)
		return -1;
	memcpy(v, body, 8);
	return 0;
}

/* A message with NEED_REPLY: its ack (0 success, else failure), or -1 when none came. */
static int64_t fe_call(int fd, uint32_t req, const void *p, uint32_t size, const int *fds,
		       size_t nfds)
{
	uint64_t v;

	if (test_vhost_fe_send(fd, req,
			       VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_NEED_REPLY_MASK, p,
			       size, fds, nfds, 0) < 0 ||
	    fe_reply(fd, req, &v) < 0)
		return -1;
	return v != 0;
}

static int64_t fe_call_u64(int fd, uint32_t req, uint64_t v)
{
	return fe_call(fd, req, &v, 8, NULL, 0);
}

/* Whether the back-end closed the connection (end of stream after any pending replies). */
static bool fe_closed(int fd)
{
	char buf[256];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Guest memory the way QEMU makes it: a memfd sealed against growing and shrinking. */
static int sealed_memfd(uint8_t **map)
{
	int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MEM_SIZE), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	if (map) {
		*map = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(*map != MAP_FAILED);
	}
	return fd;
}

static int64_t fe_mem_table(int fd, int memfd, uint64_t gpa, uint64_t size, uint64_t off)
{
	struct viommu_vhost_user_memory m = { .nregions = 1 };

	m.regions[0] = (struct viommu_vhost_user_memory_region){ .guest_phys_addr = gpa,
								 .memory_size = size,
								 .userspace_addr = FE_VA + gpa,
								 .mmap_offset = off };
	return fe_call(fd, VIOMMU_VHOST_USER_SET_MEM_TABLE, &m, 8 + sizeof(m.regions[0]), &memfd,
		       1);
}

/*
 * Features (with @extra: RING_PACKED, EVENT_IDX, ...), owner, back-end channel (its front-end
 * end in *be when @be), memory.
 */
static void fe_negotiate_with(int fd, bool iommu, int memfd, int *be, uint64_t extra)
{
	uint64_t feat = VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_NET_F_MRG_RXBUF |
			VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES | extra;

	if (iommu)
		feat |= VIOMMU_VIRTIO_F_ACCESS_PLATFORM;
	assert_int_equal(fe_call_u64(fd, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, PROTO_FEATURES),
			 0);
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	if (be) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(
			fe_call(fd, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &sv[0], 1), 0);
		close(sv[0]);
		*be = sv[1];
	}
	assert_int_equal(fe_call_u64(fd, VIOMMU_VHOST_USER_SET_FEATURES, feat), 0);
	assert_int_equal(fe_mem_table(fd, memfd, 0, MEM_SIZE, 0), 0);
}

static void fe_negotiate(int fd, bool iommu, int memfd, int *be)
{
	fe_negotiate_with(fd, iommu, memfd, be, 0);
}

/* Queue @q: @num entries, rings at guest-physical @d, @a, @u (+ @base: FE_VA or an IOVA). */
static int64_t fe_ring(int fd, unsigned int q, uint32_t num, uint64_t d, uint64_t a, uint64_t u,
		       int kick, int call)
{
	struct viommu_vhost_user_vring_state st = { .index = q, .num = num };
	struct viommu_vhost_user_vring_addr ad = {
		.index = q, .desc_user_addr = d, .avail_user_addr = a, .used_user_addr = u
	};
	int64_t r;

	if ((r = fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0)) != 0)
		return r;
	st.num = 0;
	if ((r = fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0)) != 0)
		return r;
	if ((r = fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_ADDR, &ad, sizeof(ad), NULL, 0)) != 0)
		return r;
	if (kick >= 0 &&
	    (r = fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ q }, 8, &kick, 1)) != 0)
		return r;
	if (call >= 0 &&
	    (r = fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ q }, 8, &call, 1)) != 0)
		return r;
	st.num = 1;
	return fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Health: alive, the other port served, signals handled, fds and memory bounded              */
/* ---------------------------------------------------------------------------------------- */

static void assert_served(const struct hs *h, unsigned int port)
{
	int fd = fe_connect(h, port);
	uint64_t v = 0;

	assert_int_equal(test_vhost_fe_send(fd, VIOMMU_VHOST_USER_GET_FEATURES,
					    VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0, 0),
			 0);
	assert_int_equal(fe_reply(fd, VIOMMU_VHOST_USER_GET_FEATURES, &v), 0);
	assert_true(v & VIOMMU_VIRTIO_F_ACCESS_PLATFORM);
	close(fd);
}

/* SIGUSR1 must be answered with a statistics report while anything else is going on. */
static void assert_signals_served(struct hs *h)
{
	long end = now_ms() + WAIT_MS;

	assert_int_equal(kill(h->pid, SIGUSR1), 0);
	while (log_count(h, "stats (SIGUSR1)") <= h->usr1_seen && now_ms() < end)
		nap();
	assert_true(log_count(h, "stats (SIGUSR1)") > h->usr1_seen);
	h->usr1_seen = log_count(h, "stats (SIGUSR1)");
}

/* Wait until the process holds at most @max fds (it closes a dead peer's asynchronously). */
static void assert_fds_at_most(const struct hs *h, int max)
{
	long end = now_ms() + WAIT_MS;
	int n;

	n = proc_fds(h);
	if (n > h->max_fds) /* before the wait: what a hostile step left open at its end */
		((struct hs *)h)->max_fds = n;
	while ((n = proc_fds(h)) > max && now_ms() < end)
		nap();
	if (n > max)
		fprintf(stderr, "# viommu-vhost holds %d fds, at most %d expected\n", n, max);
	assert_true(n <= max);
}

static void health(struct hs *h)
{
	long rss;

	assert_running(h);
	assert_served(h, 1);
	assert_served(h, 0);
	assert_fds_at_most(h, h->base_fds + FD_SLACK);
	rss = proc_rss_kb(h);
	assert_true(rss > 0);
	if (rss > h->max_rss_kb)
		h->max_rss_kb = rss;
	if (rss > h->base_rss_kb + RSS_SLACK_KB)
		fprintf(stderr, "# VmRSS %ld kB, started at %ld kB\n", rss, h->base_rss_kb);
	assert_true(rss <= h->base_rss_kb + RSS_SLACK_KB);
}

/* ---------------------------------------------------------------------------------------- */
/* Start and stop                                                                            */
/* ---------------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	struct hs *h = calloc(1, sizeof(*h));
	long end;

	assert_non_null(h);
	h->rng.s = test_seed(0x24);
	strcpy(h->dir, "/tmp/viommu-hostile-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	for (int i = 0; i < 2; i++)
		snprintf(h->path[i], sizeof(h->path[i]), "%s/port%d.sock", h->dir, i);
	snprintf(h->log, sizeof(h->log), "%s/viommu-vhost.log", h->dir);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		char a0[160], a1[160];
		int lf = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (lf < 0 || dup2(lf, 1) < 0 || dup2(lf, 2) < 0)
			_exit(127);
		/*
		 * Under ASan, freed memory waits in a quarantine (256 MiB by default) and would
		 * count as growth: keep it small so that the bound below measures the program.
		 */
		{
			const char *o = getenv("ASAN_OPTIONS");
			char opts[512];

			snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", o ? o : "",
				 o && *o ? ":" : "");
			setenv("ASAN_OPTIONS", opts, 1);
		}
		snprintf(a0, sizeof(a0), "--socket-path=%s", h->path[0]);
		snprintf(a1, sizeof(a1), "--socket-path=%s", h->path[1]);
		execl(vhost_bin, vhost_bin, a0, a1, (char *)NULL);
		_exit(127);
	}
	end = now_ms() + WAIT_MS;
	while (log_count(h, "port1 listening") == 0 && now_ms() < end) {
		assert_running(h);
		nap();
	}
	assert_int_equal(log_count(h, "port1 listening"), 1);
	assert_served(h, 0);
	assert_served(h, 1);
	/* Both health connections torn down: the fds the process holds with no front-end. */
	end = now_ms() + WAIT_MS;
	while (log_count(h, "front-end disconnected") < 2 && now_ms() < end)
		nap();
	h->base_fds = proc_fds(h);
	h->base_rss_kb = proc_rss_kb(h);
	fprintf(stderr, "# viommu-vhost pid %d: %d fds, VmRSS %ld kB at start\n", (int)h->pid,
		h->base_fds, h->base_rss_kb);
	*state = h;
	return 0;
}

static int group_teardown(void **state)
{
	struct hs *h = *state;
	char cmd[200];

	if (h->pid > 0 && waitpid(h->pid, NULL, WNOHANG) == 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", h->dir);
	free(h);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Attacks                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Headers that break the stream: each connection must be closed, the process unharmed. */
static void test_malformed_headers(void **state)
{
	struct hs *h = *state;
	static const struct {
		uint32_t req, flags, size;
	} bad[] = {
		{ VIOMMU_VHOST_USER_GET_FEATURES, 0, 0 },	     /* version 0 */
		{ VIOMMU_VHOST_USER_GET_FEATURES, 2, 0 },	     /* version 2 */
		{ VIOMMU_VHOST_USER_GET_FEATURES, 5, 0 },	     /* a reply */
		{ VIOMMU_VHOST_USER_SET_MEM_TABLE, 1, 0xffffffffu }, /* huge */
		{ 77, 1, 265 },					     /* past any payload */
		{ VIOMMU_VHOST_USER_SET_FEATURES, 1, 4 },	     /* in-limit, wrong */
		{ VIOMMU_VHOST_USER_GET_FEATURES, 1, 8 },
		{ VIOMMU_VHOST_USER_SET_VRING_ADDR, 9, 48 },
		{ VIOMMU_VHOST_USER_IOTLB_MSG, 9, 25 },
		{ VIOMMU_VHOST_USER_SET_MEM_TABLE, 9, 30 },
		{ VIOMMU_VHOST_USER_ADD_MEM_REG, 9, 32 },
	};
	uint8_t junk[512];

	memset(junk, 0xa5, sizeof(junk));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = fe_connect(h, 0);
		struct viommu_vhost_user_header hd = { bad[i].req, bad[i].flags, bad[i].size };

		assert_int_equal(send(fd, &hd, sizeof(hd), MSG_NOSIGNAL), (ssize_t)sizeof(hd));
		send(fd, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
		assert_true(fe_closed(fd));
		close(fd);
	}
	/* Header cut short, then the peer goes away. */
	for (size_t cut = 1; cut < VIOMMU_VHOST_USER_HDR_SIZE; cut += 5) {
		int fd = fe_connect(h, 0);

		assert_int_equal(send(fd, junk, cut, MSG_NOSIGNAL), (ssize_t)cut);
		close(fd);
	}
	health(h);
}

/* Fds that cannot work are refused; too many fds end the connection; none leaks. */
static void test_bad_fds(void **state)
{
	struct hs *h = *state;
	int fd = fe_connect(h, 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), mfd = memfd_create("x", MFD_CLOEXEC);
	int e = eventfd(0, EFD_CLOEXEC), p[2], many[12];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fe_call_u64(fd, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, PROTO_FEATURES),
			 0);
	for (uint32_t r = VIOMMU_VHOST_USER_SET_VRING_KICK; r <= VIOMMU_VHOST_USER_SET_VRING_ERR;
	     r++) {
		assert_int_equal(fe_call(fd, r, &(uint64_t){ 0 }, 8, &null, 1), 1);
		assert_int_equal(fe_call(fd, r, &(uint64_t){ 1 }, 8, &mfd, 1), 1);
		assert_int_equal(fe_call(fd, r, &(uint64_t){ 200 }, 8, &e, 1), 1); /* bad index */
		assert_int_equal(fe_call(fd, r, &(uint64_t){ 0x100 }, 8, &e, 1), 1);
	}
	assert_int_equal(
		fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ 0 }, 8, &p[1], 1), 1);
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &e, 1), 1);
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &mfd, 1), 1);
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, &e, 1), 1);
	/* Kept fds of the right kind, then the connection ends: all released below. */
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_CALL, &(uint64_t){ 0 }, 8, &e, 1),
			 0);
	assert_int_equal(
		fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_KICK, &(uint64_t){ 0 }, 8, &p[0], 1), 0);
	for (int i = 0; i < 12; i++)
		many[i] = i % 2 ? e : mfd;
	assert_int_equal(test_vhost_fe_send(fd, VIOMMU_VHOST_USER_SET_MEM_TABLE,
					    VIOMMU_VHOST_USER_VERSION, &(uint64_t){ 0 }, 8, many,
					    12, 0),
			 0);
	assert_true(fe_closed(fd));
	close(fd);
	close(null);
	close(mfd);
	close(e);
	close(p[0]);
	close(p[1]);
	health(h);
}

/* Memory tables: unsealed, unsealable, too short, overlapping, many, replaced over and over. */
static void test_memory_tables(void **state)
{
	struct hs *h = *state;
	int fd = fe_connect(h, 0);
	int sealed = sealed_memfd(NULL), unsealed = memfd_create("u", MFD_CLOEXEC);
	int tmp = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	struct viommu_vhost_user_memory m = { .nregions = 8 };
	struct viommu_vhost_user_memory_single s = { 0 };
	int fds[8];
	unsigned int added = 0;

	assert_int_equal(ftruncate(unsealed, MEM_SIZE), 0);
	assert_int_equal(fe_call_u64(fd, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, PROTO_FEATURES),
			 0);
	assert_int_equal(fe_mem_table(fd, unsealed, 0, MEM_SIZE, 0), 1);
	if (tmp >= 0) {
		assert_int_equal(ftruncate(tmp, MEM_SIZE), 0);
		assert_int_equal(fe_mem_table(fd, tmp, 0, MEM_SIZE, 0), 1);
		close(tmp);
	}
	assert_int_equal(fe_mem_table(fd, sealed, 0, 2 * MEM_SIZE, 0), 1);	 /* past the file */
	assert_int_equal(fe_mem_table(fd, sealed, 0, MEM_SIZE, 4096), 1);	 /* offset too */
	assert_int_equal(fe_mem_table(fd, sealed, UINT64_MAX - 10, 4096, 0), 1); /* wraps */
	assert_int_equal(fe_mem_table(fd, sealed, 0, 0, 0), 1);			 /* empty */
	/* Eight regions of one page each from the same sealed file; then overlapping ones. */
	for (unsigned int i = 0; i < 8; i++) {
		m.regions[i] =
			(struct viommu_vhost_user_memory_region){ .guest_phys_addr = i * 0x10000ull,
								  .memory_size = 4096,
								  .userspace_addr =
									  FE_VA + i * 0x10000ull,
								  .mmap_offset = i * 4096ull };
		fds[i] = sealed;
	}
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), fds, 8), 0);
	m.regions[3].guest_phys_addr = m.regions[2].guest_phys_addr + 100;
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_MEM_TABLE, &m, sizeof(m), fds, 8), 1);
	/* Replaced many times: mappings never accumulate. */
	for (unsigned int i = 0; i < 200; i++)
		assert_int_equal(fe_mem_table(fd, sealed, 0, MEM_SIZE, 0), 0);
	/* Add regions until the slots run out; remove them all. */
	for (unsigned int i = 0; i < 40; i++) {
		s.region = (struct viommu_vhost_user_memory_region){
			.guest_phys_addr = (i + 16) * 0x100000ull,
			.memory_size = MEM_SIZE,
			.userspace_addr = FE_VA + (i + 16) * 0x100000ull
		};
		added += fe_call(fd, VIOMMU_VHOST_USER_ADD_MEM_REG, &s, sizeof(s), &sealed, 1) == 0;
	}
	assert_true(added > 0 && added < 40);
	for (unsigned int i = 0; i < 40; i++) {
		s.region = (struct viommu_vhost_user_memory_region){
			.guest_phys_addr = (i + 16) * 0x100000ull,
			.memory_size = MEM_SIZE,
			.userspace_addr = FE_VA + (i + 16) * 0x100000ull
		};
		fe_call(fd, VIOMMU_VHOST_USER_REM_MEM_REG, &s, sizeof(s), NULL, 0);
	}
	/* The sealed file cannot be shrunk under the back-end. */
	assert_int_equal(ftruncate(sealed, 0), -1);
	assert_int_equal(errno, EPERM);
	close(fd);
	close(sealed);
	close(unsealed);
	health(h);
}

/* Guest layout for the datapath attacks (guest-physical). */
#define RX_DESC 0x1000u
#define RX_AVAIL 0x3000u
#define RX_USED 0x4000u
#define TX_DESC 0x6000u
#define TX_AVAIL 0x8000u
#define TX_USED 0x9000u
#define QNUM 256u

static void fill_random(struct hs *h, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)test_rand(&h->rng);
}

/* Descriptors that are mostly plausible: in or near memory, chains, loops, huge lengths. */
static void hostile_ring(struct hs *h, uint8_t *mem, uint64_t desc, uint64_t avail, uint64_t base)
{
	for (unsigned int i = 0; i < QNUM; i++) {
		struct viommu_virtio_virtq_desc d = {
			.addr = base + 0x10000 + test_below(&h->rng, MEM_SIZE),
			.len = (uint32_t)(test_below(&h->rng, 4) ? test_below(&h->rng, 4096) :
								   test_rand(&h->rng)),
			.flags = (uint16_t)test_below(&h->rng, 8),
			.next = (uint16_t)(test_below(&h->rng, 4) ? (i + 1) % QNUM :
								    test_rand(&h->rng)),
		};

		if (!test_below(&h->rng, 16))
			d.addr = test_rand(&h->rng);
		memcpy(mem + desc + 16 * i, &d, sizeof(d));
	}
	for (unsigned int i = 0; i < QNUM; i++) {
		uint16_t head = (uint16_t)(test_below(&h->rng, 8) ? test_below(&h->rng, QNUM) :
								    test_rand(&h->rng));

		memcpy(mem + avail + 4 + 2 * i, &head, 2);
	}
	{
		uint16_t idx = (uint16_t)(test_below(&h->rng, 4) ? test_below(&h->rng, QNUM + 1) :
								   test_rand(&h->rng));

		memcpy(mem + avail + 2, &idx, 2);
	}
}

/* Ring layouts: inside, straddling and outside memory; hostile contents; kicks. */
static void test_ring_layouts(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem);
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);

	for (unsigned int round = 0; round < 40; round++) {
		int fd = fe_connect(h, 0);
		uint64_t b = FE_VA;

		fe_negotiate(fd, false, memfd, NULL);
		/* Outside memory, straddling its end, and a guest-physical address: refused. */
		assert_int_equal(
			fe_ring(fd, 0, QNUM, 0x10000000, b + RX_AVAIL, b + RX_USED, -1, -1), 1);
		assert_int_equal(fe_ring(fd, 0, QNUM, b + MEM_SIZE - 16, b + RX_AVAIL, b + RX_USED,
					 -1, -1),
				 1);
		assert_int_equal(fe_ring(fd, 1, QNUM, TX_DESC, b + TX_AVAIL, b + TX_USED, -1, -1),
				 1);
		fill_random(h, mem, 0x10000);
		hostile_ring(h, mem, RX_DESC, RX_AVAIL, 0);
		hostile_ring(h, mem, TX_DESC, TX_AVAIL, 0);
		assert_int_equal(fe_ring(fd, 0, QNUM, b + RX_DESC, b + RX_AVAIL, b + RX_USED, kick,
					 call),
				 0);
		assert_int_equal(fe_ring(fd, 1, QNUM, b + TX_DESC, b + TX_AVAIL, b + TX_USED, kick,
					 call),
				 0);
		for (unsigned int k = 0; k < 4; k++) {
			hostile_ring(h, mem, TX_DESC, TX_AVAIL, 0);
			assert_int_equal(eventfd_write(kick, 1), 0);
			/* A round trip: the datapath ran before this is answered. */
			assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_GET_QUEUE_NUM, NULL, 0, NULL,
						 0) >= 0,
					 1);
		}
		close(fd);
		if (round % 10 == 9)
			health(h);
	}
	close(kick);
	close(call);
	munmap(mem, MEM_SIZE);
	close(memfd);
	health(h);
}

/*
 * Packed descriptors that are mostly plausible: flags that make them available in either lap
 * (or neither), NEXT runs round the ring, indirect tables of any length, huge lengths, addresses
 * in or near memory; random event suppression structures in the driver area.
 */
static void hostile_packed_ring(struct hs *h, uint8_t *mem, uint64_t desc, uint64_t driver)
{
	for (unsigned int i = 0; i < QNUM; i++) {
		struct viommu_virtio_pvirtq_desc d = {
			.addr = 0x10000 + test_below(&h->rng, MEM_SIZE),
			.len = (uint32_t)(test_below(&h->rng, 4) ? test_below(&h->rng, 4096) :
								   test_rand(&h->rng)),
			.id = (uint16_t)test_rand(&h->rng),
			.flags = (uint16_t)(test_below(&h->rng, 8) |
					    (test_below(&h->rng, 2) ?
						     VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL :
						     0) |
					    (test_below(&h->rng, 2) ?
						     VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED :
						     0)),
		};

		if (!test_below(&h->rng, 16))
			d.addr = test_rand(&h->rng);
		if (!test_below(&h->rng, 16))
			d.flags = (uint16_t)test_rand(&h->rng);
		memcpy(mem + desc + 16 * i, &d, sizeof(d));
	}
	{
		uint32_t ev = (uint32_t)test_rand(&h->rng);

		memcpy(mem + driver, &ev, sizeof(ev));
	}
}

/*
 * Packed rings (VIRTIO_F_RING_PACKED) with hostile contents, sizes that are not powers of 2,
 * positions anywhere (SET_VRING_BASE with both wrap counters, past the ring too), rings set up
 * again while the guest keeps scribbling: the back-end stays healthy.
 */
static void test_packed_rings(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem);
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
	const uint64_t b = FE_VA;

	for (unsigned int round = 0; round < 40; round++) {
		int fd = fe_connect(h, 0);
		uint32_t num = 1 + (uint32_t)test_below(&h->rng, QNUM);

		fe_negotiate_with(fd, false, memfd, NULL,
				  VIOMMU_VIRTIO_F_RING_PACKED | VIOMMU_VIRTIO_F_EVENT_IDX |
					  VIOMMU_VIRTIO_F_INDIRECT_DESC);
		fill_random(h, mem, 0x10000);
		hostile_packed_ring(h, mem, RX_DESC, RX_AVAIL);
		hostile_packed_ring(h, mem, TX_DESC, TX_AVAIL);
		/* The driver and device areas are 4-byte aligned: 2 is refused. */
		assert_int_equal(
			fe_ring(fd, 1, num, b + TX_DESC, b + TX_AVAIL + 2, b + TX_USED, -1, -1), 1);
		assert_int_equal(
			fe_ring(fd, 0, num, b + RX_DESC, b + RX_AVAIL, b + RX_USED, kick, call), 0);
		assert_int_equal(
			fe_ring(fd, 1, num, b + TX_DESC, b + TX_AVAIL, b + TX_USED, kick, call), 0);
		for (unsigned int k = 0; k < 6; k++) {
			struct viommu_vhost_user_vring_state st = {
				.index = (uint32_t)test_below(&h->rng, 2),
				.num = (uint32_t)test_rand(&h->rng),
			};

			if (test_below(&h->rng, 2))
				st.num &= 0x80ff80ffu; /* often inside the ring */
			hostile_packed_ring(h, mem, TX_DESC, TX_AVAIL);
			hostile_packed_ring(h, mem, RX_DESC, RX_AVAIL);
			/* The ring set up again (fresh positions), then moved anywhere: refused
			 * past the ring, taken otherwise, either way an ack. */
			assert_int_equal(fe_ring(fd, st.index, num,
						 b + (st.index ? TX_DESC : RX_DESC),
						 b + (st.index ? TX_AVAIL : RX_AVAIL),
						 b + (st.index ? TX_USED : RX_USED), kick, call),
					 0);
			assert_true(fe_call(fd, VIOMMU_VHOST_USER_SET_VRING_BASE, &st, sizeof(st),
					    NULL, 0) >= 0);
			assert_int_equal(eventfd_write(kick, 1), 0);
			assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_GET_QUEUE_NUM, NULL, 0, NULL,
						 0) >= 0,
					 1);
		}
		close(fd);
		if (round % 10 == 9)
			health(h);
	}
	close(kick);
	close(call);
	munmap(mem, MEM_SIZE);
	close(memfd);
	health(h);
}

/* IOTLB messages of every kind and value, and rings behind IOVAs the front-end answers badly. */
static void test_iotlb_messages(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem), be = -1;
	int fd = fe_connect(h, 0);
	int kick = eventfd(0, EFD_CLOEXEC);
	const uint64_t iova = 0xfef00000ull;

	fe_negotiate(fd, true, memfd, &be);
	hostile_ring(h, mem, TX_DESC, TX_AVAIL, iova);
	assert_int_equal(
		fe_ring(fd, 1, QNUM, iova + TX_DESC, iova + TX_AVAIL, iova + TX_USED, kick, -1), 0);
	for (unsigned int i = 0; i < 3000; i++) {
		struct viommu_vhost_user_iotlb_msg m = {
			.iova = test_below(&h->rng, 4) ? iova + test_below(&h->rng, 2 * MEM_SIZE) :
							 test_rand(&h->rng),
			.size = test_below(&h->rng, 4) ? test_below(&h->rng, 0x20000) :
							 test_rand(&h->rng),
			.uaddr = test_below(&h->rng, 4) ? FE_VA + test_below(&h->rng, MEM_SIZE) :
							  test_rand(&h->rng),
			.perm = (uint8_t)test_below(&h->rng, 5),
			.type = (uint8_t)test_below(&h->rng, 6),
		};
		int64_t r;

		r = fe_call(fd, VIOMMU_VHOST_USER_IOTLB_MSG, &m,
			    26 + (uint32_t)test_below(&h->rng, 7), NULL, 0);
		assert_true(r == 0 || r == 1);
		if (i % 64 == 0) {
			hostile_ring(h, mem, TX_DESC, TX_AVAIL, iova);
			eventfd_write(kick, 1);
		}
		drain(be); /* MISS requests, unanswered or answered by the updates above */
	}
	close(fd);
	close(be);
	close(kick);
	munmap(mem, MEM_SIZE);
	close(memfd);
	health(h);
}

/*
 * A sender that trickles one message a byte at a time: between bytes the other port is served
 * and signals are answered; the message is handled once complete.
 */
static void test_slow_sender(void **state)
{
	struct hs *h = *state;
	int fd = fe_connect(h, 0);
	uint8_t m[VIOMMU_VHOST_USER_HDR_SIZE + 8];
	struct viommu_vhost_user_header hd = { .request = VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES,
					       .flags = VIOMMU_VHOST_USER_VERSION |
							VIOMMU_VHOST_USER_NEED_REPLY_MASK,
					       .size = 8 };
	uint64_t v = PROTO_FEATURES;

	memcpy(m, &hd, sizeof(hd));
	memcpy(m + sizeof(hd), &v, 8);
	for (size_t i = 0; i < sizeof(m); i++) {
		assert_int_equal(send(fd, &m[i], 1, MSG_NOSIGNAL), 1);
		assert_served(h, 1);
		if (i % 5 == 0)
			assert_signals_served(h);
	}
	assert_int_equal(fe_reply(fd, VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES, &v), 0);
	assert_int_equal(v, 0);
	close(fd);
	health(h);
}

/*
 * A front-end that never reads its replies: the process keeps serving the other port and
 * signals while it floods, and drops it when its bounded output buffer fills.
 */
static void test_non_reading_peer(void **state)
{
	struct hs *h = *state;
	int fd = fe_connect(h, 0), small = 4096, ret = 0;
	unsigned int i, stalls = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (i = 0; i < 2000000; i++) {
		ret = test_vhost_fe_send(fd, VIOMMU_VHOST_USER_GET_QUEUE_NUM,
					 VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0, MSG_DONTWAIT);
		if (ret == -EAGAIN) {
			/* Our send buffer is full: the back-end is not reading right now. */
			assert_served(h, 1);
			if (stalls++ % 8 == 0)
				assert_signals_served(h);
			nap();
			continue;
		}
		if (ret < 0)
			break;
	}
	fprintf(stderr, "# non-reading peer: dropped after %u messages (%s)\n", i, strerror(-ret));
	assert_true(ret == -EPIPE || ret == -ECONNRESET);
	assert_true(log_count(h, "does not read its replies") > 0);
	close(fd);
	health(h);
}

/* A kick fd whose writer hangs up is dropped (it would otherwise be readable forever). */
static void test_hung_up_kick(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem), fd = fe_connect(h, 0), p[2];
	struct stat st;
	long end;

	fe_negotiate(fd, false, memfd, NULL);
	memset(mem, 0, 0x10000);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fstat(p[0], &st), 0);
	assert_int_equal(fe_ring(fd, 1, QNUM, FE_VA + TX_DESC, FE_VA + TX_AVAIL, FE_VA + TX_USED,
				 p[0], -1),
			 0);
	assert_true(proc_holds(h, "pipe", (unsigned long)st.st_ino));
	assert_int_equal(write(p[1], "k", 1), 1);
	close(p[1]);
	close(p[0]);
	end = now_ms() + WAIT_MS;
	while (proc_holds(h, "pipe", (unsigned long)st.st_ino) && now_ms() < end)
		nap();
	assert_false(proc_holds(h, "pipe", (unsigned long)st.st_ino));
	assert_true(log_count(h, "kick fd hung up") > 0);
	/* The connection itself goes on. */
	assert_int_equal(fe_call(fd, VIOMMU_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	close(fd);
	munmap(mem, MEM_SIZE);
	close(memfd);
	health(h);
}

/*
 * Memory taken away: a front-end that tries to truncate its (sealed) memory cannot; one that
 * unmaps and closes its own copy changes nothing for the back-end, whose rings keep running.
 */
static void test_truncated_memory(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem), fd = fe_connect(h, 0);
	int kick = eventfd(0, EFD_CLOEXEC);

	fe_negotiate(fd, false, memfd, NULL);
	memset(mem, 0, 0x10000);
	assert_int_equal(fe_ring(fd, 1, QNUM, FE_VA + TX_DESC, FE_VA + TX_AVAIL, FE_VA + TX_USED,
				 kick, -1),
			 0);
	assert_int_equal(ftruncate(memfd, 0), -1);
	assert_int_equal(fallocate(memfd, 0, 0, 2 * MEM_SIZE), -1);
	hostile_ring(h, mem, TX_DESC, TX_AVAIL, 0);
	munmap(mem, MEM_SIZE);
	close(memfd);
	assert_int_equal(eventfd_write(kick, 1), 0);
	assert_true(fe_call(fd, VIOMMU_VHOST_USER_GET_QUEUE_NUM, NULL, 0, NULL, 0) >= 0);
	close(fd);
	close(kick);
	health(h);
}

/*
 * Connect, talk, vanish with messages still unhandled, 200 times; then many at once. Every
 * reconnect must be served: the dead connection is replaced, not the new one refused.
 */
static void test_reconnect_storm(void **state)
{
	struct hs *h = *state;
	int many[40];
	unsigned int served = 0;

	for (unsigned int i = 0; i < 200; i++) {
		int fd = fe_connect(h, i % 2);
		uint64_t v;

		assert_int_equal(test_vhost_fe_send(fd, VIOMMU_VHOST_USER_GET_FEATURES,
						    VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0, 0),
				 0);
		/* Leave messages unhandled behind: the end of stream comes after them. */
		for (unsigned int k = 0; k < 20; k++)
			assert_int_equal(test_vhost_fe_send(fd, VIOMMU_VHOST_USER_SET_OWNER,
							    VIOMMU_VHOST_USER_VERSION, NULL, 0,
							    NULL, 0, 0),
					 0);
		assert_int_equal(fe_reply(fd, VIOMMU_VHOST_USER_GET_FEATURES, &v), 0);
		close(fd);
	}
	/* Many at once on one port: the first is served, the others refused, none left open. */
	for (unsigned int i = 0; i < 40; i++) {
		many[i] = fe_connect(h, 0);
		test_vhost_fe_send(many[i], VIOMMU_VHOST_USER_GET_QUEUE_NUM,
				   VIOMMU_VHOST_USER_VERSION, NULL, 0, NULL, 0, 0);
	}
	for (unsigned int i = 0; i < 40; i++) {
		uint64_t v;

		served += fe_reply(many[i], VIOMMU_VHOST_USER_GET_QUEUE_NUM, &v) == 0;
	}
	assert_int_equal(served, 1);
	for (unsigned int i = 0; i < 40; i++)
		close(many[i]);
	health(h);
}

/* Random messages (types, flags, sizes, payloads, fds), many connections. */
static void test_random_messages(void **state)
{
	struct hs *h = *state;
	uint8_t *mem;
	int memfd = sealed_memfd(&mem);
	int pool[6];
	int p[2], sv[2];
	unsigned int sent = 0;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pool[0] = memfd;
	pool[1] = eventfd(0, EFD_CLOEXEC);
	pool[2] = p[0];
	pool[3] = p[1];
	pool[4] = sv[0];
	pool[5] = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (unsigned int c = 0; c < 60; c++) {
		int fd = fe_connect(h, 0);

		fe_negotiate(fd, c % 2, memfd, NULL);
		for (unsigned int i = 0; i < 60; i++) {
			uint8_t payload[300];
			uint32_t req = (uint32_t)test_below(&h->rng, 40);
			uint32_t size = (uint32_t)(test_below(&h->rng, 3) ?
							   test_below(&h->rng, 41) :
							   test_below(&h->rng, 300));
			uint32_t flags = test_below(&h->rng, 16) ?
						 VIOMMU_VHOST_USER_VERSION |
							 (test_below(&h->rng, 2) << 3) :
						 (uint32_t)test_rand(&h->rng);
			int fds[8];
			size_t nfds = test_below(&h->rng, 4) ? 0 : 1 + test_below(&h->rng, 8);

			/* Keep the queues addressable often enough to reach the datapath. */
			fill_random(h, payload, sizeof(payload));
			if (req == VIOMMU_VHOST_USER_SET_VRING_ADDR && test_below(&h->rng, 2)) {
				struct viommu_vhost_user_vring_addr a = {
					.index = (uint32_t)test_below(&h->rng, 2),
					.desc_user_addr = FE_VA + TX_DESC,
					.avail_user_addr = FE_VA + TX_AVAIL,
					.used_user_addr = FE_VA + TX_USED,
				};
				memcpy(payload, &a, sizeof(a));
				size = sizeof(a);
			}
			for (size_t k = 0; k < nfds; k++)
				fds[k] = pool[test_below(&h->rng, 6)];
			if (test_vhost_fe_send(fd, req, flags, payload, size, fds, nfds,
					       MSG_DONTWAIT) < 0)
				break;
			sent++;
			if (test_below(&h->rng, 8) == 0)
				hostile_ring(h, mem, TX_DESC, TX_AVAIL, 0);
			drain(fd);
		}
		close(fd);
		if (c % 20 == 19)
			health(h);
	}
	fprintf(stderr, "# random messages: %u sent\n", sent);
	for (int i = 1; i < 6; i++)
		close(pool[i]);
	close(p[1]);
	close(sv[1]);
	munmap(mem, MEM_SIZE);
	close(memfd);
	health(h);
}

/* Last: with a half-sent message pending on one port, SIGTERM ends the process cleanly. */
static void test_clean_shutdown(void **state)
{
	struct hs *h = *state;
	int fd = fe_connect(h, 0), st = 0;
	struct viommu_vhost_user_header hd = { .request = VIOMMU_VHOST_USER_SET_FEATURES,
					       .flags = VIOMMU_VHOST_USER_VERSION,
					       .size = 8 };
	long end;
	pid_t w;

	assert_int_equal(send(fd, &hd, sizeof(hd), MSG_NOSIGNAL), (ssize_t)sizeof(hd));
	assert_served(h, 1); /* port 0 is busy with the half-sent message */
	assert_signals_served(h);
	fprintf(stderr,
		"# viommu-vhost at health checks: at most %d fds (%d at start), VmRSS at most "
		"%ld kB (%ld kB at start)\n",
		h->max_fds, h->base_fds, h->max_rss_kb, h->base_rss_kb);
	assert_int_equal(kill(h->pid, SIGTERM), 0);
	end = now_ms() + WAIT_MS;
	while ((w = waitpid(h->pid, &st, WNOHANG)) == 0 && now_ms() < end)
		nap();
	assert_int_equal(w, h->pid);
	h->pid = -1;
	close(fd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(log_count(h, "stats (exit)"), 2);
	assert_int_equal(log_count(h, "Sanitizer"), 0);
	assert_int_equal(log_count(h, "runtime error"), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_headers), cmocka_unit_test(test_bad_fds),
		cmocka_unit_test(test_memory_tables),	  cmocka_unit_test(test_ring_layouts),
		cmocka_unit_test(test_packed_rings),	  cmocka_unit_test(test_iotlb_messages),
		cmocka_unit_test(test_slow_sender),	  cmocka_unit_test(test_non_reading_peer),
		cmocka_unit_test(test_hung_up_kick),	  cmocka_unit_test(test_truncated_memory),
		cmocka_unit_test(test_reconnect_storm),	  cmocka_unit_test(test_random_messages),
		cmocka_unit_test(test_clean_shutdown),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-viommu-vhost\n", argv[0]);
		return 2;
	}
	vhost_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	/* One attack alone, on a fresh process (to see which ones an older build fails). */
	if (getenv("VIOMMU_HOSTILE_ONLY"))
		cmocka_set_test_filter(getenv("VIOMMU_HOSTILE_ONLY"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
