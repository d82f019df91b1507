// SPDX-License-Identifier: MIT
/*
 * vhost-user back-end protocol server (QEMU docs/interop/vhost-user.rst). Every message from the
 * front-end is validated before it changes anything: sizes, counts, indexes, addresses (wrap and
 * overlap), fds. A merely invalid message gets a failure reply (when one is due) and changes
 * nothing; a message that breaks the stream (bad header, oversized payload, truncated fds) ends
 * the connection. Every received fd is either kept or closed.
 */
#include "vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <viommu/devtlb.h>

/*
 * Re-ask a pending miss only after this long. A repeated MISS is answered after the first one:
 * by then the guest may have completed and unmapped the buffer, and QEMU reports the late
 * translation request to the guest as a DMA fault. Only an IOVA the front-end ignored (invalid)
 * stays pending this long.
 */
#define VH_MISS_RETRY_NS 5000000000ull

static void vh_log(const struct vh_dev *dev, uint32_t request, int err)
{
	fprintf(stderr, "viommu-vhost: %s: request %u refused: %s\n",
		dev->name ? dev->name : "vhost", request, strerror(-err));
}

void vh_debug(const struct vh_dev *dev, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!dev->debug)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "viommu-vhost: %s: [%lld.%06ld] ", dev->name ? dev->name : "vhost",
		(long long)ts.tv_sec, ts.tv_nsec / 1000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* @feature: one VIOMMU_VHOST_USER_PROTOCOL_F_* mask. */
static bool has_protocol_feature(const struct vh_dev *dev, uint64_t feature)
{
	return (dev->protocol_features & feature) != 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Device IOTLB glue                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Sent without NEED_REPLY and without blocking: the datapath never waits for the front-end. */
static void vh_send_miss(void *opaque, uint64_t iova, uint32_t perm)
{
	struct vh_dev *dev = opaque;
	struct {
		struct viommu_vhost_user_header hdr;
		struct viommu_vhost_user_iotlb_msg iotlb;
	} __attribute__((packed)) m;

	if (dev->backend_fd < 0) {
		dev->stats.misses_unsent++;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.request = VIOMMU_VHOST_USER_BACKEND_IOTLB_MSG;
	m.hdr.flags = VIOMMU_VHOST_USER_VERSION;
	m.hdr.size = sizeof(m.iotlb);
	m.iotlb.iova = iova;
	m.iotlb.perm = (uint8_t)(perm & VIOMMU_VHOST_USER_ACCESS_RW);
	m.iotlb.type = VIOMMU_VHOST_USER_IOTLB_MISS;
	if (send(dev->backend_fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(m)) {
		dev->stats.misses_sent++;
		vh_debug(dev, "MISS 0x%llx perm %u", (unsigned long long)iova, perm);
	} else {
		dev->stats.misses_unsent++; /* devtlb asks again after its retry interval */
		vh_debug(dev, "MISS 0x%llx perm %u not sent", (unsigned long long)iova, perm);
	}
}

static uint64_t vh_clock(void *opaque)
{
	const struct vh_dev *dev = opaque;

	return dev->ops->clock(dev->opaque);
}

static int vh_tlb_create(struct vh_dev *dev)
{
	struct viommu_devtlb_config cfg = {
		.miss = vh_send_miss,
		.clock = dev->ops && dev->ops->clock ? vh_clock : NULL,
		.miss_retry_ns = VH_MISS_RETRY_NS,
		.capacity = dev->ops ? dev->ops->devtlb_capacity : 0,
		.pending_slots = dev->ops ? dev->ops->devtlb_pending : 0,
		.opaque = dev,
	};
	int ret = viommu_devtlb_create(&cfg, &dev->tlb);

	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < VH_NUM_VQS; i++) {
		ret = viommu_devtlb_reader_create(dev->tlb, NULL, NULL, &dev->reader[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void vh_tlb_destroy(struct vh_dev *dev)
{
	for (unsigned int i = 0; i < VH_NUM_VQS; i++) {
		if (dev->reader[i])
			viommu_devtlb_reader_destroy(dev->reader[i]);
		dev->reader[i] = NULL;
	}
	if (dev->tlb)
		viommu_devtlb_destroy(dev->tlb);
	dev->tlb = NULL;
}

/*
 * Drop every translation and wait until no queue uses one. Single-threaded: readers go offline at
 * the end of every burst, so the grace period is already over when we get here.
 */
static void vh_tlb_flush(struct vh_dev *dev)
{
	viommu_devtlb_flush(dev->tlb);
	viommu_devtlb_synchronize(dev->tlb);
	dev->rings_cold = true;
}

static void audit(struct vh_dev *dev, uint64_t type, uint64_t iova, uint64_t size)
{
	struct vh_audit_rec r = { .type = type, .iova = iova, .size = size };

	if (dev->audit)
		fwrite(&r, sizeof(r), 1, dev->audit);
}

int vh_dev_audit(struct vh_dev *dev, const char *path)
{
	FILE *f = fopen(path, "wbe");

	if (!f)
		return -errno;
	if (dev->audit)
		fclose(dev->audit);
	dev->audit = f;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Memory table                                                                                */
/* ------------------------------------------------------------------------------------------ */

static const struct vh_region *find_region(const struct vh_dev *dev, enum vh_space space,
					   uint64_t addr)
{
	for (unsigned int i = 0; i < dev->nregions; i++) {
		const struct vh_region *r = &dev->regions[i];
		uint64_t base = space == VH_SPACE_BUF ? r->gpa : r->uaddr;

		if (addr >= base && addr - base < r->size)
			return r;
	}
	return NULL;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* callers guarantee no wrap */
}

/*
 * Checks one region description on its own and against @others (which it must not overlap):
 * 0, or -EINVAL.
 */
static int region_check(const struct viommu_vhost_user_memory_region *d,
			const struct vh_region *others, unsigned int nothers)
{
	uint64_t end;

	if (d->memory_size == 0)
		return -EINVAL;
	if (__builtin_add_overflow(d->guest_phys_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->userspace_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->mmap_offset, d->memory_size, &end) || end > SIZE_MAX ||
	    end > (uint64_t)INT64_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < nothers; i++) {
		if (ranges_overlap(d->guest_phys_addr, d->memory_size, others[i].gpa,
				   others[i].size) ||
		    ranges_overlap(d->userspace_addr, d->memory_size, others[i].uaddr,
				   others[i].size))
			return -EINVAL;
	}
	return 0;
}

/*
 * Map one region from @fd. The file must be sealed against shrinking (F_SEAL_SHRINK, as QEMU's
 * memory-backend-memfd seals its memfds by default) and at least as long as the region: then no
 * access through the mapping can fault past the end of the file, whatever the front-end does
 * later. A file that can shrink (an unsealed memfd, a tmpfs, hugetlbfs or disk file opened by
 * path) would let the front-end turn our next access into SIGBUS, so it is refused.
 */
static int region_map(const struct vh_dev *dev, const struct viommu_vhost_user_memory_region *d,
		      int fd, struct vh_region *r)
{
	struct stat st;
	size_t len = (size_t)(d->mmap_offset + d->memory_size);
	int seals;
	void *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		fprintf(stderr,
			"viommu-vhost: %s: memory region refused: %s (a front-end could truncate it "
			"under us); give a memfd sealed with F_SEAL_SHRINK (QEMU: "
			"memory-backend-memfd, seal=on by default)\n",
			dev->name ? dev->name : "vhost",
			seals < 0 ? "the file cannot be sealed (not a memfd)" :
				    "the memfd is not sealed against shrinking");
		return -EPERM;
	}
	/* Sealed: the size checked here is the size for as long as the mapping lives. */
	if ((uint64_t)st.st_size < d->mmap_offset + d->memory_size)
		return -EINVAL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->gpa = d->guest_phys_addr;
	r->size = d->memory_size;
	r->uaddr = d->userspace_addr;
	r->map_base = p;
	r->map_size = len;
	r->host = (uint8_t *)p + d->mmap_offset;
	r->refs = 1;
	return 0;
}

static void region_unmap(struct vh_region *r)
{
	if (r->map_base)
		munmap(r->map_base, r->map_size);
	memset(r, 0, sizeof(*r));
}

static void unmap_all(struct vh_dev *dev)
{
	for (unsigned int i = 0; i < dev->nregions; i++)
		region_unmap(&dev->regions[i]);
	dev->nregions = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

int vh_xlate(struct vh_dev *dev, unsigned int vq, enum vh_space space, uint64_t addr, uint64_t len,
	     unsigned int perm, uint8_t **host, uint64_t *contig)
{
	const struct vh_region *r;
	uint64_t va, covered;
	int ret;

	if (len == 0)
		len = 1;
	if (dev->iommu) {
		if (vq >= VH_NUM_VQS)
			return -EINVAL;
		ret = viommu_devtlb_lookup(dev->reader[vq], addr, len,
					   perm & VIOMMU_VHOST_USER_ACCESS_RW, &va, &covered);
		if (ret == VIOMMU_EAGAIN)
			return -EAGAIN;
		if (ret < 0)
			return -EFAULT;
		*host = (uint8_t *)(uintptr_t)va;
		*contig = covered;
		audit(dev, VH_AUDIT_USE, addr, covered);
		return 0;
	}
	r = find_region(dev, space, addr);
	if (!r)
		return -EFAULT;
	addr -= space == VH_SPACE_BUF ? r->gpa : r->uaddr;
	*host = r->host + addr;
	*contig = len < r->size - addr ? len : r->size - addr;
	return 0;
}

void vh_xlate_done(struct vh_dev *dev, unsigned int vq)
{
	if (dev->tlb && vq < VH_NUM_VQS)
		viommu_devtlb_reader_offline(dev->reader[vq]);
}

/* ------------------------------------------------------------------------------------------ */
/* Virtqueue registers                                                                         */
/* ------------------------------------------------------------------------------------------ */

bool vh_vq_ready(const struct vh_dev *dev, unsigned int vq)
{
	const struct vh_vq *q;

	if (vq >= VH_NUM_VQS)
		return false;
	q = &dev->vq[vq];
	return q->num && q->addr_set && q->started && q->enabled && !q->broken;
}

void vh_vq_call(struct vh_dev *dev, unsigned int vq)
{
	uint64_t one = 1;

	if (vq < VH_NUM_VQS && dev->vq[vq].call_fd >= 0 &&
	    write(dev->vq[vq].call_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the guest will be told anyway. */
	}
}

static void vq_set_kick(struct vh_dev *dev, unsigned int i, int fd)
{
	struct vh_vq *q = &dev->vq[i];

	if (q->kick_fd >= 0 && dev->ops && dev->ops->watch_kick)
		dev->ops->watch_kick(dev->opaque, dev, i, q->kick_fd, false);
	close_fd(&q->kick_fd);
	q->kick_fd = fd;
	if (fd >= 0 && dev->ops && dev->ops->watch_kick)
		dev->ops->watch_kick(dev->opaque, dev, i, fd, true);
}

/*
 * The ring was set up again (address, base, kick): what we knew of its suppression fields and of
 * the last interrupt no longer holds.
 */
static void vq_ring_fresh(struct vh_vq *q)
{
	q->signalled_valid = false;
	q->notify_known = false;
}

static void stop_queues(struct vh_dev *dev)
{
	if (dev->ops && dev->ops->stop)
		dev->ops->stop(dev->opaque, dev);
}

static void vq_reset(struct vh_dev *dev, unsigned int i)
{
	struct vh_vq *q = &dev->vq[i];

	vq_set_kick(dev, i, -1);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

static void resume(struct vh_dev *dev)
{
	if (dev->ops && dev->ops->resume)
		dev->ops->resume(dev->opaque, dev);
}

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* What a handler produces: an error (failure reply), or an explicit u64/state reply. */
struct reply {
	bool has_body;
	uint32_t size;
	union {
		uint64_t u64;
		struct viommu_vhost_user_vring_state state;
	} body;
};

int vh_dev_flush(struct vh_dev *dev)
{
	while (dev->tx.len) {
		ssize_t n = send(dev->sock, dev->tx.buf, dev->tx.len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		memmove(dev->tx.buf, dev->tx.buf + n, dev->tx.len - (size_t)n);
		dev->tx.len -= (uint32_t)n;
	}
	return 0;
}

bool vh_dev_want_write(const struct vh_dev *dev)
{
	return dev->tx.len != 0;
}

/*
 * Queue a reply and send what the socket takes now. A peer that does not read its replies fills
 * the socket, then our bounded buffer: it is dropped (-ENOBUFS) instead of blocking the loop.
 */
static int send_reply(struct vh_dev *dev, uint32_t request, const void *body, uint32_t size)
{
	struct viommu_vhost_user_header hdr = {
		.request = request,
		.flags = VIOMMU_VHOST_USER_VERSION | VIOMMU_VHOST_USER_REPLY_MASK,
		.size = size,
	};

	if (dev->tx.len + sizeof(hdr) + size > sizeof(dev->tx.buf)) {
		fprintf(stderr, "viommu-vhost: %s: front-end does not read its replies: dropped\n",
			dev->name ? dev->name : "vhost");
		return -ENOBUFS;
	}
	memcpy(dev->tx.buf + dev->tx.len, &hdr, sizeof(hdr));
	memcpy(dev->tx.buf + dev->tx.len + sizeof(hdr), body, size);
	dev->tx.len += (uint32_t)sizeof(hdr) + size;
	return vh_dev_flush(dev);
}

static int reply_u64(struct reply *rep, uint64_t v)
{
	rep->has_body = true;
	rep->size = sizeof(uint64_t);
	rep->body.u64 = v;
	return 0;
}

static uint64_t rd64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int take_fd(int *fds, size_t nfds, size_t i)
{
	int fd;

	if (i >= nfds)
		return -1;
	fd = fds[i];
	fds[i] = -1;
	return fd;
}

static int do_set_features(struct vh_dev *dev, uint64_t f)
{
	bool iommu = (f & VIOMMU_VIRTIO_F_ACCESS_PLATFORM) != 0;

	if (f & ~VH_FEATURES)
		return -EINVAL;
	/*
	 * The ring layout changes with RING_PACKED: what we knew of the rings no longer holds, and
	 * positions start where a fresh ring of the new kind does (packed: both wrap counters 1,
	 * virtio 1.2 §2.8.1) until SET_VRING_BASE says otherwise.
	 */
	if ((f ^ dev->features) & VIOMMU_VIRTIO_F_EVENT_IDX)
		for (unsigned int i = 0; i < VH_NUM_VQS; i++)
			vq_ring_fresh(&dev->vq[i]); /* the suppression fields change meaning */
	if ((f ^ dev->features) & VIOMMU_VIRTIO_F_RING_PACKED) {
		uint16_t start = f & VIOMMU_VIRTIO_F_RING_PACKED ?
					 (uint16_t)VIOMMU_VHOST_USER_PACKED_AVAIL_WRAP :
					 0;

		stop_queues(dev);
		for (unsigned int i = 0; i < VH_NUM_VQS; i++) {
			struct vh_vq *q = &dev->vq[i];

			q->last_avail = q->used_idx = q->used_next = start;
			q->used_descs = 0;
			/* A split ring's size is a power of 2, a packed one's need not be: a
			 * size that no longer fits waits for SET_VRING_NUM. */
			if (!(f & VIOMMU_VIRTIO_F_RING_PACKED) && q->num & (q->num - 1))
				q->num = 0;
			vq_ring_fresh(q);
		}
	}
	if (iommu != dev->iommu || !dev->features_set) {
		/* Translations of one address space mean nothing in the other. */
		stop_queues(dev);
		dev->rings_cold = true;
		if (iommu)
			viommu_devtlb_start(dev->tlb);
		else
			viommu_devtlb_stop(dev->tlb);
		viommu_devtlb_synchronize(dev->tlb);
	}
	dev->features = f;
	dev->features_set = true;
	dev->iommu = iommu;
	/* Without protocol features a ring is enabled as soon as it starts. */
	if (!(f & VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES))
		for (unsigned int i = 0; i < VH_NUM_VQS; i++)
			dev->vq[i].enabled = true;
	resume(dev);
	return 0;
}

static int do_set_mem_table(struct vh_dev *dev, const uint8_t *p, uint32_t size, int *fds,
			    size_t nfds)
{
	struct viommu_vhost_user_memory m;
	struct vh_region next[VIOMMU_VHOST_USER_MEMORY_BASELINE_NREGIONS];
	unsigned int n = 0;
	int ret = 0;

	if (size < 8)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	memcpy(&m, p, size < sizeof(m) ? size : sizeof(m));
	if (m.nregions == 0 || m.nregions > VIOMMU_VHOST_USER_MEMORY_BASELINE_NREGIONS ||
	    size != 8 + m.nregions * sizeof(struct viommu_vhost_user_memory_region) ||
	    nfds != m.nregions)
		return -EINVAL;
	memset(next, 0, sizeof(next));
	for (n = 0; n < m.nregions; n++) {
		ret = region_check(&m.regions[n], next, n);
		if (ret < 0)
			break;
		ret = region_map(dev, &m.regions[n], fds[n], &next[n]);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		while (n--)
			region_unmap(&next[n]);
		return ret;
	}
	/* The old table goes: nothing may still point into it. */
	stop_queues(dev);
	vh_tlb_flush(dev);
	unmap_all(dev);
	memcpy(dev->regions, next, sizeof(next));
	dev->nregions = m.nregions;
	resume(dev);
	return 0; /* the fds are closed by the caller: the mappings keep the memory */
}

static int do_add_mem_reg(struct vh_dev *dev, const uint8_t *p, uint32_t size, int *fds,
			  size_t nfds)
{
	struct viommu_vhost_user_memory_single m;
	int ret;

	if (size != sizeof(m) || nfds != 1)
		return -EINVAL;
	memcpy(&m, p, sizeof(m));
	/*
	 * With several queue pairs QEMU 7.2 runs one vhost device per pair on the connection, and
	 * each adds (and later removes) the same regions: an identical region takes a reference on
	 * the mapping we have (at most one per queue pair) instead of being refused as an overlap.
	 */
	for (unsigned int i = 0; i < dev->nregions; i++) {
		struct vh_region *r = &dev->regions[i];

		if (r->gpa == m.region.guest_phys_addr && r->size == m.region.memory_size &&
		    r->uaddr == m.region.userspace_addr) {
			if (r->refs >= VH_MAX_QUEUE_PAIRS)
				return -EINVAL;
			r->refs++;
			return 0;
		}
	}
	if (dev->nregions >= VH_MAX_MEM_SLOTS)
		return -EINVAL;
	ret = region_check(&m.region, dev->regions, dev->nregions);
	if (ret < 0)
		return ret;
	ret = region_map(dev, &m.region, fds[0], &dev->regions[dev->nregions]);
	if (ret < 0)
		return ret;
	dev->nregions++;
	resume(dev);
	return 0;
}

static int do_rem_mem_reg(struct vh_dev *dev, const uint8_t *p, uint32_t size, size_t nfds)
{
	struct viommu_vhost_user_memory_single m;

	/* "No file descriptors SHOULD be passed"; one is accepted and closed by the caller. */
	if (size != sizeof(m) || nfds > 1)
		return -EINVAL;
	memcpy(&m, p, sizeof(m));
	for (unsigned int i = 0; i < dev->nregions; i++) {
		struct vh_region *r = &dev->regions[i];

		if (r->gpa != m.region.guest_phys_addr || r->size != m.region.memory_size ||
		    r->uaddr != m.region.userspace_addr)
			continue;
		/* Another queue pair's vhost device still has it (see do_add_mem_reg). */
		if (r->refs > 1) {
			r->refs--;
			return 0;
		}
		stop_queues(dev);
		vh_tlb_flush(dev);
		region_unmap(r);
		dev->regions[i] = dev->regions[dev->nregions - 1];
		memset(&dev->regions[dev->nregions - 1], 0, sizeof(*r));
		dev->nregions--;
		resume(dev);
		return 0;
	}
	return -ENOENT;
}

static int vring_index(const struct vh_dev *dev, uint32_t index)
{
	(void)dev;
	return index < VH_NUM_VQS ? (int)index : -EINVAL;
}

/*
 * A kick fd must be something we can wait on and read, a call or error fd something we can
 * write, each signalling the peer: an eventfd (what QEMU sends), a pipe end or a socket. /dev/null,
 * a memfd or a regular file would be "readable" forever or never reach anyone: refused.
 */
static int notify_fd_check(const struct vh_dev *dev, int fd, bool kick)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;
	char path[32], link[32];
	ssize_t n;

	if (fl < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	if ((fl & O_ACCMODE) == (kick ? O_WRONLY : O_RDONLY))
		goto refuse;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return 0;
	/* An eventfd is an anonymous inode (no file type); /proc names which kind. */
	if ((st.st_mode & S_IFMT) == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return 0; /* no /proc: cannot tell, accept the anonymous inode */
		link[n] = '\0';
		if (!strcmp(link, "anon_inode:[eventfd]"))
			return 0;
	}
refuse:
	fprintf(stderr, "viommu-vhost: %s: %s fd refused: not a%s eventfd, pipe or socket\n",
		dev->name ? dev->name : "vhost", kick ? "kick" : "call/err",
		kick ? " readable" : " writable");
	return -EINVAL;
}

static int do_vring_fd(struct vh_dev *dev, uint32_t request, uint64_t v, int *fds, size_t nfds)
{
	unsigned int i = v & VIOMMU_VHOST_USER_VRING_IDX_MASK;
	bool nofd = v & VIOMMU_VHOST_USER_VRING_NOFD_MASK;
	int fd;

	if (v & ~(uint64_t)(VIOMMU_VHOST_USER_VRING_IDX_MASK | VIOMMU_VHOST_USER_VRING_NOFD_MASK) ||
	    i >= VH_NUM_VQS || nfds != (nofd ? 0u : 1u))
		return -EINVAL;
	fd = nofd ? -1 : take_fd(fds, nfds, 0);
	if (fd >= 0) {
		int ret = notify_fd_check(dev, fd, request == VIOMMU_VHOST_USER_SET_VRING_KICK);

		/* Never block on an fd the front-end handed us. */
		if (!ret && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			ret = -EINVAL;
		if (ret < 0) {
			close(fd);
			return ret;
		}
	}
	switch (request) {
	case VIOMMU_VHOST_USER_SET_VRING_KICK:
		vq_set_kick(dev, i, fd);
		/* Without a kick fd the ring is polled: we treat it as started and rely on resume. */
		dev->vq[i].started = true;
		dev->vq[i].broken = false;
		vq_ring_fresh(&dev->vq[i]);
		if (!(dev->features & VIOMMU_VHOST_USER_F_PROTOCOL_FEATURES))
			dev->vq[i].enabled = true;
		resume(dev);
		break;
	case VIOMMU_VHOST_USER_SET_VRING_CALL:
		close_fd(&dev->vq[i].call_fd);
		dev->vq[i].call_fd = fd;
		break;
	default:
		close_fd(&dev->vq[i].err_fd);
		dev->vq[i].err_fd = fd;
		break;
	}
	return 0;
}

/* Whether [addr, addr + len) of front-end virtual addresses is all in the memory table. */
static bool ring_in_memory(const struct vh_dev *dev, uint64_t addr, uint64_t len)
{
	/* Regions may be adjacent: at most one step per region. */
	for (unsigned int k = 0; k <= dev->nregions && len; k++) {
		const struct vh_region *r = find_region(dev, VH_SPACE_RING, addr);
		uint64_t left;

		if (!r)
			return false;
		left = r->size - (addr - r->uaddr);
		if (len <= left)
			return true;
		len -= left;
		addr += left; /* no wrap: region ends were checked against it */
	}
	return len == 0;
}

static int do_vring_addr(struct vh_dev *dev, const uint8_t *p, uint32_t size)
{
	struct viommu_vhost_user_vring_addr a;
	struct vh_vq *q;
	int i;

	if (size != sizeof(a))
		return -EINVAL;
	memcpy(&a, p, sizeof(a));
	i = vring_index(dev, a.index);
	/* Dirty logging (VIOMMU_VHOST_USER_F_LOG_ALL) is not offered, so a log address is refused. */
	if (i < 0 || a.flags & ~(uint32_t)VIOMMU_VHOST_USER_VRING_F_LOG ||
	    a.flags & VIOMMU_VHOST_USER_VRING_F_LOG)
		return -EINVAL;
	q = &dev->vq[i];
	if (dev->features & VIOMMU_VIRTIO_F_RING_PACKED) {
		/* virtio 1.2 §2.8.10.1: descriptor ring 16-byte, both event suppression
		 * structures (driver area in avail, device area in used) 4-byte aligned. */
		if (a.desc_user_addr % VIOMMU_VIRTIO_PVIRTQ_DESC_ALIGN ||
		    a.avail_user_addr % VIOMMU_VIRTIO_PVIRTQ_EVENT_ALIGN ||
		    a.used_user_addr % VIOMMU_VIRTIO_PVIRTQ_EVENT_ALIGN)
			return -EINVAL;
		if (!dev->iommu) {
			uint64_t n = q->num ? q->num : 1;

			if (!ring_in_memory(dev, a.desc_user_addr,
					    sizeof(struct viommu_virtio_pvirtq_desc) * n) ||
			    !ring_in_memory(dev, a.avail_user_addr,
					    sizeof(struct viommu_virtio_pvirtq_event_suppress)) ||
			    !ring_in_memory(dev, a.used_user_addr,
					    sizeof(struct viommu_virtio_pvirtq_event_suppress)))
				return -EFAULT;
		}
		goto set;
	}
	/* virtio 1.2 §2.7: descriptor table 16-byte, available ring 2-byte, used ring 4-byte. */
	if (a.desc_user_addr % 16 || a.avail_user_addr % 2 || a.used_user_addr % 4)
		return -EINVAL;
	/*
	 * Without ACCESS_PLATFORM the addresses are front-end virtual addresses: rings outside the
	 * memory table are refused now rather than at the first kick. With it they are IOVAs that
	 * only a later UPDATE can make valid; the datapath checks every access either way.
	 */
	if (!dev->iommu) {
		uint64_t n = q->num ? q->num : 1;

		/* Whole rings, used_event and avail_event included (virtio 1.2 §2.7). */
		if (!ring_in_memory(dev, a.desc_user_addr, 16 * n) ||
		    !ring_in_memory(dev, a.avail_user_addr, VIOMMU_VIRTIO_VIRTQ_AVAIL_SIZE(n)) ||
		    !ring_in_memory(dev, a.used_user_addr, VIOMMU_VIRTIO_VIRTQ_USED_SIZE(n)))
			return -EFAULT;
	}
set:
	stop_queues(dev);
	q->desc_addr = a.desc_user_addr;
	q->avail_addr = a.avail_user_addr;
	q->used_addr = a.used_user_addr;
	q->addr_set = true;
	q->broken = false;
	vq_ring_fresh(q);
	dev->rings_cold = true;
	resume(dev);
	return 0;
}

static int do_iotlb(struct vh_dev *dev, const uint8_t *p, uint32_t size)
{
	struct viommu_vhost_user_iotlb_msg m;
	const struct vh_region *r;
	uint64_t off, last;
	int ret;

	/* 26 meaningful bytes; QEMU and DPDK send 32 (padding). */
	if (size < VIOMMU_VHOST_USER_IOTLB_MSG_MIN_SIZE || size > sizeof(m))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	memcpy(&m, p, size);
	dev->stats.iotlb_msgs++;
	switch (m.type) {
	case VIOMMU_VHOST_USER_IOTLB_UPDATE:
		/* The host range must lie wholly inside one mapped region. */
		if (m.size == 0 || m.perm == 0 || m.perm & ~VIOMMU_VHOST_USER_ACCESS_RW ||
		    __builtin_add_overflow(m.iova, m.size - 1, &last))
			return -EINVAL;
		r = find_region(dev, VH_SPACE_RING, m.uaddr);
		if (!r)
			return -EFAULT;
		off = m.uaddr - r->uaddr;
		if (m.size > r->size - off)
			return -EFAULT;
		ret = viommu_devtlb_update(dev->tlb, m.iova, m.size,
					   (uint64_t)(uintptr_t)(r->host + off), m.perm);
		if (ret < 0)
			return -EINVAL;
		dev->stats.iotlb_updates++;
		audit(dev, VH_AUDIT_UPDATE, m.iova, m.size);
		vh_debug(dev, "UPDATE 0x%llx size 0x%llx perm %u", (unsigned long long)m.iova,
			 (unsigned long long)m.size, m.perm);
		resume(dev);
		return 0;
	case VIOMMU_VHOST_USER_IOTLB_INVALIDATE:
		/* uaddr and perm are not initialised by QEMU: ignored. Size 0 or a wrapping end
		 * means "to the end of the space" (devtlb handles both). */
		viommu_devtlb_invalidate(dev->tlb, m.iova, m.size);
		/* Acknowledge only once no queue can still use the removed translations. */
		viommu_devtlb_synchronize(dev->tlb);
		dev->rings_cold = true;
		dev->stats.iotlb_invalidates++;
		audit(dev, VH_AUDIT_INVALIDATE, m.iova, m.size);
		vh_debug(dev, "INVALIDATE 0x%llx size 0x%llx", (unsigned long long)m.iova,
			 (unsigned long long)m.size);
		return 0;
	default:
		return -EINVAL;
	}
}

static int dispatch(struct vh_dev *dev, const struct viommu_vhost_user_header *hdr,
		    const uint8_t *p, int *fds, size_t nfds, struct reply *rep)
{
	uint32_t size = hdr->size;
	struct viommu_vhost_user_vring_state st;
	int i;

	/* Messages that carry fds check their own count; every other message carries none. */
	switch (hdr->request) {
	case VIOMMU_VHOST_USER_SET_MEM_TABLE:
	case VIOMMU_VHOST_USER_ADD_MEM_REG:
	case VIOMMU_VHOST_USER_REM_MEM_REG:
	case VIOMMU_VHOST_USER_SET_VRING_KICK:
	case VIOMMU_VHOST_USER_SET_VRING_CALL:
	case VIOMMU_VHOST_USER_SET_VRING_ERR:
	case VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD:
		break;
	default:
		if (nfds)
			return -EINVAL;
	}

	switch (hdr->request) {
	case VIOMMU_VHOST_USER_GET_FEATURES:
		return size == 0 ? reply_u64(rep, VH_FEATURES) : -EINVAL;
	case VIOMMU_VHOST_USER_SET_FEATURES:
		return size == 8 ? do_set_features(dev, rd64(p)) : -EINVAL;
	case VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES:
		return size == 0 ? reply_u64(rep, VH_PROTOCOL_FEATURES) : -EINVAL;
	case VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES:
		if (size != 8 || rd64(p) & ~VH_PROTOCOL_FEATURES)
			return -EINVAL;
		dev->protocol_features = rd64(p);
		return 0;
	case VIOMMU_VHOST_USER_SET_OWNER:
		if (size != 0)
			return -EINVAL;
		dev->owner = true;
		return 0;
	case VIOMMU_VHOST_USER_RESET_OWNER:
		if (size != 0)
			return -EINVAL;
		stop_queues(dev);
		for (unsigned int q = 0; q < VH_NUM_VQS; q++)
			vq_reset(dev, q);
		dev->owner = false;
		return 0;
	case VIOMMU_VHOST_USER_GET_QUEUE_NUM:
		/* Queue pairs (VHOST_USER_PROTOCOL_F_MQ): the front-end uses at most this many. */
		return size == 0 ? reply_u64(rep, VH_MAX_QUEUE_PAIRS) : -EINVAL;
	case VIOMMU_VHOST_USER_GET_MAX_MEM_SLOTS:
		return size == 0 ? reply_u64(rep, VH_MAX_MEM_SLOTS) : -EINVAL;
	case VIOMMU_VHOST_USER_SET_MEM_TABLE:
		return do_set_mem_table(dev, p, size, fds, nfds);
	case VIOMMU_VHOST_USER_ADD_MEM_REG:
		if (!has_protocol_feature(dev, VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
			return -EINVAL;
		return do_add_mem_reg(dev, p, size, fds, nfds);
	case VIOMMU_VHOST_USER_REM_MEM_REG:
		if (!has_protocol_feature(dev, VIOMMU_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))
			return -EINVAL;
		return do_rem_mem_reg(dev, p, size, nfds);
	case VIOMMU_VHOST_USER_SET_VRING_NUM:
	case VIOMMU_VHOST_USER_SET_VRING_BASE:
	case VIOMMU_VHOST_USER_GET_VRING_BASE:
	case VIOMMU_VHOST_USER_SET_VRING_ENABLE:
		if (size != sizeof(st))
			return -EINVAL;
		memcpy(&st, p, sizeof(st));
		i = vring_index(dev, st.index);
		if (i < 0)
			return i;
		break;
	case VIOMMU_VHOST_USER_SET_VRING_ADDR:
		return do_vring_addr(dev, p, size);
	case VIOMMU_VHOST_USER_SET_VRING_KICK:
	case VIOMMU_VHOST_USER_SET_VRING_CALL:
	case VIOMMU_VHOST_USER_SET_VRING_ERR:
		return size == 8 ? do_vring_fd(dev, hdr->request, rd64(p), fds, nfds) : -EINVAL;
	case VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD:
		if (size != 0 || nfds != 1 ||
		    !has_protocol_feature(dev, VIOMMU_VHOST_USER_PROTOCOL_F_BACKEND_REQ))
			return -EINVAL;
		{
			struct stat sb;

			/* MISSes are sent on it: it must be a socket (QEMU's socketpair). */
			if (fstat(fds[0], &sb) < 0 || !S_ISSOCK(sb.st_mode)) {
				fprintf(stderr,
					"viommu-vhost: %s: back-end channel refused: not a socket\n",
					dev->name ? dev->name : "vhost");
				return -EINVAL;
			}
		}
		close_fd(&dev->backend_fd);
		dev->backend_fd = take_fd(fds, nfds, 0);
		return 0;
	case VIOMMU_VHOST_USER_IOTLB_MSG:
		return do_iotlb(dev, p, size);
	default:
		/* SET_LOG_BASE/SET_LOG_FD (logging not offered), SEND_RARP, NET_SET_MTU, ... */
		return -ENOSYS;
	}

	/* The vring-state messages. */
	switch (hdr->request) {
	case VIOMMU_VHOST_USER_SET_VRING_NUM:
		/* virtio 1.2 §2.7: a power of 2, at most 32768; §2.8: packed, any size up to 2^15. */
		if (st.num == 0 || st.num > VH_VQ_MAX_SIZE ||
		    (st.num & (st.num - 1) && !(dev->features & VIOMMU_VIRTIO_F_RING_PACKED)))
			return -EINVAL;
		stop_queues(dev);
		dev->vq[i].num = st.num;
		return 0;
	case VIOMMU_VHOST_USER_SET_VRING_BASE:
		if (dev->features & VIOMMU_VIRTIO_F_RING_PACKED) {
			/* Both positions, each with its wrap counter (vhost-user "Vring descriptor
			 * indices for packed virtqueues"); within the ring when its size is known
			 * (the datapath checks them against it either way). */
			uint16_t avail = (uint16_t)st.num;
			uint16_t used = (uint16_t)(st.num >> VIOMMU_VHOST_USER_PACKED_USED_SHIFT);

			if (dev->vq[i].num &&
			    ((avail & VIOMMU_VHOST_USER_PACKED_IDX_MASK) >= dev->vq[i].num ||
			     (used & VIOMMU_VHOST_USER_PACKED_IDX_MASK) >= dev->vq[i].num))
				return -EINVAL;
			stop_queues(dev);
			dev->vq[i].last_avail = avail;
			dev->vq[i].used_idx = used;
			dev->vq[i].used_next = used;
			dev->vq[i].used_descs = 0;
			vq_ring_fresh(&dev->vq[i]);
			return 0;
		}
		if (st.num > UINT16_MAX)
			return -EINVAL;
		stop_queues(dev);
		dev->vq[i].last_avail = (uint16_t)st.num;
		dev->vq[i].used_idx = (uint16_t)st.num;
		dev->vq[i].used_next = (uint16_t)st.num;
		vq_ring_fresh(&dev->vq[i]);
		return 0;
	case VIOMMU_VHOST_USER_GET_VRING_BASE:
		/* Stops the ring; the reply is the next available index to process (packed: and
		 * the next used one, published by the stop). */
		stop_queues(dev);
		st.num = dev->vq[i].last_avail;
		if (dev->features & VIOMMU_VIRTIO_F_RING_PACKED)
			st.num |= (uint32_t)dev->vq[i].used_idx
				  << VIOMMU_VHOST_USER_PACKED_USED_SHIFT;
		vq_set_kick(dev, (unsigned int)i, -1);
		close_fd(&dev->vq[i].call_fd);
		dev->vq[i].started = false;
		rep->has_body = true;
		rep->size = sizeof(st);
		rep->body.state = st;
		return 0;
	default: /* SET_VRING_ENABLE */
		if (st.num > 1)
			return -EINVAL;
		dev->vq[i].enabled = st.num;
		if (st.num)
			resume(dev);
		else
			stop_queues(dev);
		return 0;
	}
}

static bool has_reply_body(uint32_t request)
{
	switch (request) {
	case VIOMMU_VHOST_USER_GET_FEATURES:
	case VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES:
	case VIOMMU_VHOST_USER_GET_VRING_BASE:
	case VIOMMU_VHOST_USER_GET_QUEUE_NUM:
	case VIOMMU_VHOST_USER_GET_MAX_MEM_SLOTS:
		return true;
	default:
		return false;
	}
}

int vh_dev_process(struct vh_dev *dev, const struct viommu_vhost_user_header *hdr,
		   const void *payload, int *fds, size_t nfds)
{
	struct reply rep = { 0 };
	uint64_t status;
	int ret;

	dev->stats.msgs++;
	ret = dispatch(dev, hdr, payload, fds, nfds, &rep);
	if (dev->verbose)
		fprintf(stderr, "viommu-vhost: %s: request %u flags 0x%x size %u fds %zu: %d\n",
			dev->name ? dev->name : "vhost", hdr->request, hdr->flags, hdr->size, nfds,
			ret);
	for (size_t i = 0; i < nfds; i++)
		close_fd(&fds[i]);
	if (ret < 0) {
		dev->stats.bad_msgs++;
		if (hdr->request == VIOMMU_VHOST_USER_IOTLB_MSG)
			dev->stats.iotlb_rejected++;
		vh_log(dev, hdr->request, ret);
	}
	if (rep.has_body && ret == 0)
		return send_reply(dev, hdr->request, &rep.body, rep.size);
	/* A refused GET has no failure form: the front-end would wait forever. End instead. */
	if (ret < 0 && has_reply_body(hdr->request))
		return -EPROTO;
	/* REPLY_ACK: a u64, zero on success. QEMU sets NEED_REPLY on IOTLB_MSG unconditionally. */
	if (hdr->flags & VIOMMU_VHOST_USER_NEED_REPLY_MASK || rep.has_body) {
		status = ret < 0 ? 1 : 0;
		return send_reply(dev, hdr->request, &status, sizeof(status));
	}
	return 0;
}

/*
 * The payload size each request type has (vhost-user.rst, "Front-end message types"). The size
 * field is all that delimits messages, so a wrong one would make the following bytes be parsed
 * as headers: a size the type cannot have ends the connection. Types we do not know keep the
 * general limit (they get -ENOSYS).
 */
static bool msg_size_ok(uint32_t request, uint32_t size)
{
	switch (request) {
	case VIOMMU_VHOST_USER_GET_FEATURES:
	case VIOMMU_VHOST_USER_SET_OWNER:
	case VIOMMU_VHOST_USER_RESET_OWNER:
	case VIOMMU_VHOST_USER_SET_LOG_FD:
	case VIOMMU_VHOST_USER_GET_PROTOCOL_FEATURES:
	case VIOMMU_VHOST_USER_GET_QUEUE_NUM:
	case VIOMMU_VHOST_USER_SET_BACKEND_REQ_FD:
	case VIOMMU_VHOST_USER_GET_MAX_MEM_SLOTS:
		return size == 0;
	case VIOMMU_VHOST_USER_SET_FEATURES:
	case VIOMMU_VHOST_USER_SET_PROTOCOL_FEATURES:
	case VIOMMU_VHOST_USER_SET_VRING_NUM:
	case VIOMMU_VHOST_USER_SET_VRING_BASE:
	case VIOMMU_VHOST_USER_GET_VRING_BASE:
	case VIOMMU_VHOST_USER_SET_VRING_KICK:
	case VIOMMU_VHOST_USER_SET_VRING_CALL:
	case VIOMMU_VHOST_USER_SET_VRING_ERR:
	case VIOMMU_VHOST_USER_SET_VRING_ENABLE:
	case VIOMMU_VHOST_USER_SEND_RARP:
	case VIOMMU_VHOST_USER_NET_SET_MTU:
		return size == 8;
	case VIOMMU_VHOST_USER_SET_LOG_BASE: /* a u64, or the log description (size, offset) */
		return size == 8 || size == 16;
	case VIOMMU_VHOST_USER_SET_VRING_ADDR:
		return size == sizeof(struct viommu_vhost_user_vring_addr);
	case VIOMMU_VHOST_USER_ADD_MEM_REG:
	case VIOMMU_VHOST_USER_REM_MEM_REG:
		return size == sizeof(struct viommu_vhost_user_memory_single);
	case VIOMMU_VHOST_USER_SET_MEM_TABLE:
		return size >= 8 && size <= VHOST_USER_PAYLOAD_MAX &&
		       (size - 8) % sizeof(struct viommu_vhost_user_memory_region) == 0;
	case VIOMMU_VHOST_USER_IOTLB_MSG: /* 26 meaningful bytes; QEMU and DPDK send 32 */
		return size >= VIOMMU_VHOST_USER_IOTLB_MSG_MIN_SIZE &&
		       size <= sizeof(struct viommu_vhost_user_iotlb_msg);
	default:
		return size <= VHOST_USER_PAYLOAD_MAX;
	}
}

static void rx_reset(struct vh_dev *dev)
{
	for (size_t i = 0; i < dev->rx.nfds; i++)
		close_fd(&dev->rx.fds[i]);
	dev->rx.nfds = 0;
	dev->rx.have = 0;
	dev->rx.too_many_fds = false;
}

/* Keep the fds that came with the bytes just read; close what does not fit. */
static int rx_take_fds(struct vh_dev *dev, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t j = 0; j < k; j++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
			if (dev->rx.nfds < sizeof(dev->rx.fds) / sizeof(dev->rx.fds[0])) {
				dev->rx.fds[dev->rx.nfds++] = fd;
			} else {
				close(fd);
				dev->rx.too_many_fds = true;
			}
		}
	}
	return mh->msg_flags & MSG_CTRUNC ? -EBADMSG : 0;
}

/*
 * Read the rest of the current part (header, then payload) without waiting: 1 when the message
 * is complete, 0 when the socket has nothing more for now, or a negative errno. Never reads past
 * the current message, so fds sent with the next one stay with it.
 */
static int rx_read(struct vh_dev *dev)
{
	struct viommu_vhost_user_header hdr;
	/* Room for more fds than any message may carry, so that extra ones arrive and get closed. */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * VHOST_USER_MAX_FDS * sizeof(int))];
	} control;

	for (;;) {
		uint32_t want = VIOMMU_VHOST_USER_HDR_SIZE;
		struct iovec iov;
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		ssize_t n;
		int ret;

		if (dev->rx.have >= VIOMMU_VHOST_USER_HDR_SIZE) {
			memcpy(&hdr, dev->rx.buf, sizeof(hdr));
			want += hdr.size;
		}
		if (dev->rx.have == want)
			return 1;
		iov.iov_base = dev->rx.buf + dev->rx.have;
		iov.iov_len = want - dev->rx.have;
		n = recvmsg(dev->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		ret = rx_take_fds(dev, &mh);
		if (ret < 0)
			return ret;
		if (n == 0)
			return -ECONNRESET;
		dev->rx.have += (uint32_t)n;
		if (dev->rx.have != VIOMMU_VHOST_USER_HDR_SIZE)
			continue;
		/* The header is complete: past this point the stream position is only known if
		 * the header is sane. */
		memcpy(&hdr, dev->rx.buf, sizeof(hdr));
		if ((hdr.flags & VIOMMU_VHOST_USER_VERSION_MASK) != VIOMMU_VHOST_USER_VERSION ||
		    hdr.flags & VIOMMU_VHOST_USER_REPLY_MASK ||
		    !msg_size_ok(hdr.request, hdr.size)) {
			fprintf(stderr,
				"viommu-vhost: %s: bad header (request %u flags 0x%x size %u): "
				"disconnecting\n",
				dev->name ? dev->name : "vhost", hdr.request, hdr.flags, hdr.size);
			return -EBADMSG;
		}
	}
}

int vh_dev_handle(struct vh_dev *dev)
{
	struct viommu_vhost_user_header hdr;
	int fds[2 * VHOST_USER_MAX_FDS];

	for (unsigned int k = 0; k < VH_MSGS_PER_CALL; k++) {
		size_t nfds;
		int ret = rx_read(dev);

		if (ret <= 0) {
			if (ret < 0) {
				dev->stats.bad_msgs += ret != -ECONNRESET;
				rx_reset(dev);
			}
			return ret;
		}
		if (dev->rx.too_many_fds || dev->rx.nfds > VHOST_USER_MAX_FDS) {
			dev->stats.bad_msgs++;
			rx_reset(dev);
			return -EBADMSG;
		}
		memcpy(&hdr, dev->rx.buf, sizeof(hdr));
		nfds = dev->rx.nfds;
		memcpy(fds, dev->rx.fds, nfds * sizeof(int));
		/* The message leaves the buffer; vh_dev_process() owns its fds now. */
		dev->rx.nfds = 0;
		dev->rx.have = 0;
		ret = vh_dev_process(dev, &hdr, dev->rx.buf + VIOMMU_VHOST_USER_HDR_SIZE, fds,
				     nfds);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vh_dev_kick(struct vh_dev *dev, unsigned int vq, bool hangup)
{
	uint8_t buf[64];
	ssize_t n = -1;
	int fd;

	if (vq >= VH_NUM_VQS || dev->vq[vq].kick_fd < 0)
		return 0;
	fd = dev->vq[vq].kick_fd;
	/* Bounded: an eventfd holds 8 bytes, a pipe or socket as much as a hostile writer put. */
	for (unsigned int i = 0; i < 16; i++) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0 || (size_t)n < sizeof(buf))
			break;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (hangup && n < 0 && errno == EAGAIN)) {
		fprintf(stderr, "viommu-vhost: %s: queue %u: kick fd hung up: dropped\n",
			dev->name ? dev->name : "vhost", vq);
		dev->stats.kick_hangups++;
		vq_set_kick(dev, vq, -1);
		return -EPIPE;
	}
	return 0;
}

int vh_dev_init(struct vh_dev *dev, int sock, const struct vh_dev_ops *ops, void *opaque,
		const char *name)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->sock = sock;
	dev->backend_fd = -1;
	/* Nothing on the control socket may ever make the event loop wait. */
	if (fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK) < 0) {
		close_fd(&dev->sock);
		return -errno;
	}
	dev->ops = ops;
	dev->opaque = opaque;
	dev->name = name;
	for (unsigned int i = 0; i < VH_NUM_VQS; i++)
		dev->vq[i].kick_fd = dev->vq[i].call_fd = dev->vq[i].err_fd = -1;
	ret = vh_tlb_create(dev);
	if (ret < 0) {
		vh_tlb_destroy(dev);
		close_fd(&dev->sock);
		return ret; /* a VIOMMU_E* code: a negative errno too */
	}
	return 0;
}

void vh_dev_destroy(struct vh_dev *dev)
{
	stop_queues(dev);
	for (unsigned int i = 0; i < VH_NUM_VQS; i++)
		vq_reset(dev, i);
	vh_tlb_destroy(dev);
	unmap_all(dev);
	close_fd(&dev->backend_fd);
	rx_reset(dev);
	dev->tx.len = 0;
	close_fd(&dev->sock);
	if (dev->audit)
		fclose(dev->audit);
	dev->audit = NULL;
}
