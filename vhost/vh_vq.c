// SPDX-License-Identifier: MIT
/*
 * Split (virtio 1.2 §2.7) and packed (§2.8) virtqueue access. Ring fields are copied out of guest
 * memory once and then checked, so a guest changing them concurrently cannot make us use an
 * unchecked value. Both kinds share the buffer side: translation, segments, indirect tables.
 */
#include "vh_vq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Ring layouts: <viommu/spec/virtio.h> (virtio 1.2 §2.7.5, §2.7.6, §2.7.8, §2.8.13, §2.8.14). */
#define DESC_SIZE sizeof(struct viommu_virtio_virtq_desc)
#define USED_ELEM_SIZE sizeof(struct viommu_virtio_virtq_used_elem)
#define PDESC_SIZE sizeof(struct viommu_virtio_pvirtq_desc)
#define EVENT_SIZE sizeof(struct viommu_virtio_pvirtq_event_suppress)

/* Packed positions (struct vh_vq): descriptor index, wrap counter in bit 15. */
#define POS_IDX(pos) ((pos)&VIOMMU_VHOST_USER_PACKED_IDX_MASK)
#define POS_WRAP(pos) (((pos) >> 15) & 1u)

_Static_assert(PDESC_SIZE == DESC_SIZE, "both rings' indirect tables have 16-byte entries");

/*
 * Copy @len bytes from guest @addr of @space, following translations across mapping boundaries.
 */
static int guest_read_space(struct vh_dev *dev, unsigned int vq, enum vh_space space, uint64_t addr,
			    void *buf, size_t len)
{
	uint8_t *out = buf;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret =
			vh_xlate(dev, vq, space, addr, len, VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

		if (ret < 0)
			return ret;
		memcpy(out, host, n);
		out += n;
		len -= n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

/*
 * Translate all of [addr, addr + len) of @space for @perm without touching it: 0 when every byte
 * is reachable now (and stays so until the end of the burst: single-threaded, no UPDATE or
 * INVALIDATE can come in between), else the first error.
 */
static int xlate_range(struct vh_dev *dev, unsigned int vq, enum vh_space space, uint64_t addr,
		       uint64_t len, unsigned int perm)
{
	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret = vh_xlate(dev, vq, space, addr, len, perm, &host, &n);

		if (ret < 0)
			return ret;
		len -= n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

static int guest_read(struct vh_dev *dev, unsigned int vq, uint64_t addr, void *buf, size_t len)
{
	return guest_read_space(dev, vq, VH_SPACE_RING, addr, buf, len);
}

static int guest_write(struct vh_dev *dev, unsigned int vq, uint64_t addr, const void *buf,
		       size_t len)
{
	const uint8_t *in = buf;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, len, VIOMMU_VHOST_USER_ACCESS_WO,
				   &host, &n);

		if (ret < 0)
			return ret;
		memcpy(host, in, n);
		in += n;
		len -= n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

static int read_u16(struct vh_dev *dev, unsigned int vq, uint64_t addr, uint16_t *v)
{
	uint8_t *host;
	uint64_t n;
	int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, 2, VIOMMU_VHOST_USER_ACCESS_RO, &host, &n);

	if (ret < 0)
		return ret;
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		*v = __atomic_load_n((uint16_t *)(void *)host, __ATOMIC_ACQUIRE);
		return 0;
	}
	ret = guest_read(dev, vq, addr, v, 2);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return ret;
}

static int write_u16(struct vh_dev *dev, unsigned int vq, uint64_t addr, uint16_t v)
{
	uint8_t *host;
	uint64_t n;
	int ret = vh_xlate(dev, vq, VH_SPACE_RING, addr, 2, VIOMMU_VHOST_USER_ACCESS_WO, &host, &n);

	if (ret < 0)
		return ret;
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		__atomic_store_n((uint16_t *)(void *)host, v, __ATOMIC_RELAXED);
		return 0;
	}
	return guest_write(dev, vq, addr, &v, 2);
}

void vh_vq_break(struct vh_dev *dev, unsigned int vq, const char *why)
{
	if (!dev->vq[vq].broken)
		fprintf(stderr, "viommu-vhost: %s: queue %u stopped: %s\n",
			dev->name ? dev->name : "vhost", vq, why);
	dev->vq[vq].broken = true;
}

/* Packed: the flags of the descriptor at position @pos, read before anything else of it. */
static int packed_flags(struct vh_dev *dev, unsigned int vq, uint16_t pos, uint16_t *flags)
{
	const struct vh_vq *q = &dev->vq[vq];

	if (POS_IDX(pos) >= q->num)
		return -EINVAL; /* a base past the ring */
	return read_u16(dev, vq,
			q->desc_addr + PDESC_SIZE * POS_IDX(pos) +
				VIOMMU_VIRTIO_PVIRTQ_DESC_FLAGS_OFF,
			flags);
}

int vh_vq_avail(struct vh_dev *dev, unsigned int vq, uint16_t from)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t idx, n;
	int ret;

	if (vh_vq_packed(dev)) {
		/* virtio 1.2 §2.8.1: available when AVAIL is our wrap counter and USED is not. */
		ret = packed_flags(dev, vq, from, &idx);
		if (ret < 0)
			return ret;
		return !!(idx & VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL) == POS_WRAP(from) &&
		       !!(idx & VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED) != POS_WRAP(from);
	}
	ret = read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_IDX_OFF, &idx);

	if (ret < 0)
		return ret;
	n = (uint16_t)(idx - from);
	if (n > q->num)
		return -EINVAL;
	return n;
}

static int add_segs(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c, uint64_t addr,
		    uint32_t len)
{
	unsigned int perm = c->writable ? VIOMMU_VHOST_USER_ACCESS_WO : VIOMMU_VHOST_USER_ACCESS_RO;

	while (len) {
		uint8_t *host;
		uint64_t n;
		int ret;

		if (c->nseg >= VH_VQ_MAX_SEGS)
			return -EINVAL;
		ret = vh_xlate(dev, vq, VH_SPACE_BUF, addr, len, perm, &host, &n);
		if (ret < 0)
			return ret;
		c->seg[c->nseg].host = host;
		c->seg[c->nseg].len = (uint32_t)n;
		c->nseg++;
		c->total += n;
		len -= (uint32_t)n;
		if (__builtin_add_overflow(addr, n, &addr) && len)
			return -EFAULT;
	}
	return 0;
}

/*
 * One descriptor's buffer joins the chain. All descriptors of a chain are device-writable
 * (receive) or all readable (transmit): a chain of the other kind is malformed here.
 */
static int add_desc(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c, uint64_t addr,
		    uint32_t len, uint16_t flags)
{
	if (!!(flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_WRITE) != c->writable)
		return -EINVAL;
	return add_segs(dev, vq, c, addr, len);
}

/*
 * An indirect descriptor (split §2.7.5.3, packed §2.8.7; the tables of both have 16-byte
 * entries): the feature negotiated, no NEXT with it, the length a non-zero multiple of 16 and at
 * most VH_VQ_MAX_INDIRECT entries. Returns the entry count, or a negative errno.
 */
static int indirect_table(struct vh_dev *dev, unsigned int vq, uint64_t addr, uint32_t len,
			  uint16_t flags)
{
	int ret;

	if (!(dev->features & VIOMMU_VIRTIO_F_INDIRECT_DESC) ||
	    flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT || len == 0 || len % DESC_SIZE ||
	    len / DESC_SIZE > VH_VQ_MAX_INDIRECT)
		return -EINVAL;
	/*
	 * The whole table must be readable guest memory, not only the entries the chain happens to
	 * visit (and with a vIOMMU, every page of it is asked for at once on a miss).
	 */
	ret = xlate_range(dev, vq, VH_SPACE_BUF, addr, len, VIOMMU_VHOST_USER_ACCESS_RO);
	if (ret < 0)
		return ret;
	return (int)(len / DESC_SIZE);
}

/*
 * virtio 1.2 §2.7.5.3: the buffer of @ind is a table of len / 16 descriptors, read (through the
 * device IOTLB like any buffer) one at a time and checked as it is read: the length a non-zero
 * multiple of 16 and at most VH_VQ_MAX_INDIRECT entries, no indirect descriptor inside it, every
 * next inside the table, at most one visit per entry (a loop is malformed).
 */
static int add_indirect(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c,
			const struct viommu_virtio_virtq_desc *ind)
{
	uint32_t count, i = 0;
	int ret = indirect_table(dev, vq, ind->addr, ind->len, ind->flags);

	if (ret < 0)
		return ret;
	count = (uint32_t)ret;
	for (uint32_t n = 0;; n++) {
		struct viommu_virtio_virtq_desc d;
		uint64_t addr;

		if (n >= count)
			return -EINVAL;
		/* i < count <= VH_VQ_MAX_INDIRECT: only the add can overflow. */
		if (__builtin_add_overflow(ind->addr, (uint64_t)i * DESC_SIZE, &addr))
			return -EFAULT;
		ret = guest_read_space(dev, vq, VH_SPACE_BUF, addr, &d, sizeof(d));
		if (ret < 0)
			return ret;
		/* "The device MUST NOT ... an indirect descriptor within an indirect table". */
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		ret = add_desc(dev, vq, c, d.addr, d.len, d.flags);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return -EINVAL;
		i = d.next;
	}
}

/*
 * virtio 1.2 §2.8.7: a packed indirect table is read in order, every entry a buffer; of its flags
 * only WRITE counts, the rest (and the buffer ID) are reserved and ignored by the device.
 */
static int add_indirect_packed(struct vh_dev *dev, unsigned int vq, struct vh_vq_chain *c,
			       const struct viommu_virtio_pvirtq_desc *ind)
{
	int ret = indirect_table(dev, vq, ind->addr, ind->len, ind->flags);
	uint32_t count;

	if (ret < 0)
		return ret;
	count = (uint32_t)ret;
	for (uint32_t i = 0; i < count; i++) {
		struct viommu_virtio_pvirtq_desc d;

		/* i < count <= VH_VQ_MAX_INDIRECT: the table was translated whole, no wrap. */
		ret = guest_read_space(dev, vq, VH_SPACE_BUF, ind->addr + (uint64_t)i * PDESC_SIZE,
				       &d, sizeof(d));
		if (ret < 0)
			return ret;
		ret = add_desc(dev, vq, c, d.addr, d.len, d.flags);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * virtio 1.2 §2.8.6: a packed chain is consecutive ring descriptors (wrapping at the end of the
 * ring) linked by NEXT, the buffer ID in the last one; at most num of them. An indirect
 * descriptor is a chain of its own (§2.8.19: never in a list linked by NEXT).
 */
__attribute__((noinline)) static int chain_get_packed(struct vh_dev *dev, unsigned int vq,
						      uint16_t pos, struct vh_vq_chain *c)
{
	const struct vh_vq *q = &dev->vq[vq];
	uint32_t i = POS_IDX(pos);

	if (i >= q->num)
		return -EINVAL;
	for (uint32_t n = 0;; n++) {
		struct viommu_virtio_pvirtq_desc d;
		int ret;

		if (n >= q->num)
			return -EINVAL;
		ret = guest_read(dev, vq, q->desc_addr + PDESC_SIZE * i, &d, sizeof(d));
		if (ret < 0)
			return ret;
		c->ndesc = (uint16_t)(n + 1);
		c->head = d.id;
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT)
			return n ? -EINVAL : add_indirect_packed(dev, vq, c, &d);
		ret = add_desc(dev, vq, c, d.addr, d.len, d.flags);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		if (++i == q->num)
			i = 0;
	}
}

int vh_vq_chain_get(struct vh_dev *dev, unsigned int vq, uint16_t idx, bool writable,
		    struct vh_vq_chain *c)
{
	struct vh_vq *q = &dev->vq[vq];
	struct viommu_virtio_virtq_desc d;
	uint16_t head, i;
	int ret;

	c->writable = writable;
	c->nseg = 0;
	c->total = 0;
	c->ndesc = 1;
	if (vh_vq_packed(dev))
		return chain_get_packed(dev, vq, idx, c);
	ret = read_u16(dev, vq,
		       q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_RING_OFF +
			       2ull * (idx & (q->num - 1)),
		       &head);
	if (ret < 0)
		return ret;
	if (head >= q->num)
		return -EINVAL;
	c->head = head;
	i = head;
	/* A chain has at most num descriptors; more means a loop. */
	for (uint32_t n = 0;; n++) {
		if (n >= q->num)
			return -EINVAL;
		ret = guest_read(dev, vq, q->desc_addr + DESC_SIZE * i, &d, sizeof(d));
		if (ret < 0)
			return ret;
		/* Zero or more direct descriptors, then at most one indirect one, which ends the
		 * chain (virtio 1.2 §2.7.5.3.1: INDIRECT and NEXT are never set together). */
		if (d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_INDIRECT)
			return add_indirect(dev, vq, c, &d);
		ret = add_desc(dev, vq, c, d.addr, d.len, d.flags);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIOMMU_VIRTIO_VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->num)
			return -EINVAL;
		i = d.next;
	}
}

/* Write used element @slot (a free-running index) = {id, len}. 0, -EAGAIN or -EFAULT. */
static int used_put(struct vh_dev *dev, unsigned int vq, uint16_t slot, uint32_t id, uint32_t len)
{
	struct vh_vq *q = &dev->vq[vq];
	struct viommu_virtio_virtq_used_elem e = { .id = id, .len = len };

	return guest_write(dev, vq,
			   q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_RING_OFF +
				   USED_ELEM_SIZE * (slot & (q->num - 1)),
			   &e, sizeof(e));
}

/*
 * virtio 1.2 §2.8.20-2.8.22: a used descriptor is written at the device's used position: buffer
 * ID and length first, the flags (AVAIL and USED both the used wrap counter) last. In order, so
 * the position of a chain's used descriptor is where its first descriptor was, and the next one
 * follows ndesc descriptors on.
 */
__attribute__((noinline)) static int used_add_packed(struct vh_dev *dev, unsigned int vq,
						     const struct vh_vq_chain *c, unsigned int n)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t pos[VH_VQ_MAX_USED_BATCH];
	uint16_t p = q->used_next, a = q->last_avail;
	uint32_t descs = 0;
	int ret;

	if (n > VH_VQ_MAX_USED_BATCH)
		return -EINVAL;
	/* Everything that can fail comes before the first flag: a miss returns nothing. */
	for (unsigned int k = 0; k < n; k++) {
		uint64_t addr = q->desc_addr + PDESC_SIZE * POS_IDX(p);
		struct __attribute__((packed)) {
			uint32_t len;
			uint16_t id;
		} e = { .len = c[k].written, .id = c[k].head };

		if (POS_IDX(p) >= q->num)
			return -EINVAL;
		ret = guest_write(dev, vq, addr + VIOMMU_VIRTIO_PVIRTQ_DESC_LEN_OFF, &e, sizeof(e));
		if (ret < 0)
			return ret;
		ret = xlate_range(dev, vq, VH_SPACE_RING,
				  addr + VIOMMU_VIRTIO_PVIRTQ_DESC_FLAGS_OFF, 2,
				  VIOMMU_VHOST_USER_ACCESS_WO);
		if (ret < 0)
			return ret;
		pos[k] = p;
		p = vh_vq_pos_next(dev, vq, p, &c[k]);
		a = vh_vq_pos_next(dev, vq, a, &c[k]);
		descs += c[k].ndesc;
	}
	/* IDs and lengths before the flags that hand them over; the first chain's flags last. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int k = n; k--;) {
		uint16_t f = POS_WRAP(pos[k]) ? VIOMMU_VIRTIO_PVIRTQ_DESC_F_AVAIL |
							VIOMMU_VIRTIO_PVIRTQ_DESC_F_USED :
						0;

		if (k == 0)
			__atomic_thread_fence(__ATOMIC_RELEASE);
		ret = write_u16(dev, vq,
				q->desc_addr + PDESC_SIZE * POS_IDX(pos[k]) +
					VIOMMU_VIRTIO_PVIRTQ_DESC_FLAGS_OFF,
				f);
		if (ret < 0)
			return ret; /* translated just above: only a changed translation gets here */
	}
	q->last_avail = a;
	q->used_next = p;
	q->used_descs += descs;
	return 0;
}

int vh_vq_used_add(struct vh_dev *dev, unsigned int vq, const struct vh_vq_chain *c, unsigned int n)
{
	struct vh_vq *q = &dev->vq[vq];

	if (vh_vq_packed(dev))
		return used_add_packed(dev, vq, c, n);
	for (unsigned int k = 0; k < n; k++) {
		int ret = used_put(dev, vq, (uint16_t)(q->used_next + k), c[k].head, c[k].written);

		if (ret < 0)
			return ret;
	}
	q->last_avail = (uint16_t)(q->last_avail + n);
	q->used_next = (uint16_t)(q->used_next + n);
	return 0;
}

int vh_vq_used_publish(struct vh_dev *dev, unsigned int vq, uint16_t idx)
{
	struct vh_vq *q = &dev->vq[vq];
	uint8_t *host;
	uint64_t n;
	int ret;

	if (vh_vq_packed(dev)) {
		/* The descriptors were flagged used as they were added: only the interrupt. */
		q->used_idx = idx;
		q->used_next = idx;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (vh_vq_need_call(dev, vq))
			vh_vq_call(dev, vq);
		return 0;
	}

	ret = vh_xlate(dev, vq, VH_SPACE_RING, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, 2,
		       VIOMMU_VHOST_USER_ACCESS_WO, &host, &n);
	if (ret < 0)
		return ret;
	/* The elements must be visible before the index that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (n == 2 && ((uintptr_t)host & 1) == 0) {
		__atomic_store_n((uint16_t *)(void *)host, idx, __ATOMIC_RELEASE);
	} else {
		ret = guest_write(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_IDX_OFF, &idx,
				  2);
		if (ret < 0)
			return ret;
	}
	q->used_idx = idx;
	q->used_next = idx;
	/* Order the index store before reading the guest's interrupt suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vh_vq_need_call(dev, vq))
		vh_vq_call(dev, vq);
	return 0;
}

/*
 * virtio 1.2 §2.8.10, §2.8.14: the driver event suppression structure (driver area) decides.
 * DESC asks for an interrupt once the used descriptor at its offset, in the lap of its wrap
 * counter, is written: whether the used position passed it since the last signal, counted in
 * the current lap's frame (a position of the previous lap is num less), like the split ring's
 * vring_need_event.
 */
__attribute__((noinline)) static bool need_call_packed(struct vh_dev *dev, unsigned int vq)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t old = q->signalled_used, cur = q->used_idx, ev, mode;
	uint32_t descs = q->used_descs;
	bool valid = q->signalled_valid;
	int32_t e, o;

	if (valid && old == cur && descs == 0)
		return false; /* nothing published since the last signal */
	q->signalled_used = cur;
	q->signalled_valid = true;
	q->used_descs = 0;
	/* A field we cannot read: an interrupt too many is harmless, one too few is not. */
	if (read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_PVIRTQ_EVENT_FLAGS_OFF, &mode) < 0)
		return true;
	mode &= VIOMMU_VIRTIO_PVIRTQ_EVENT_FLAGS_MASK;
	if (mode == VIOMMU_VIRTIO_RING_EVENT_FLAGS_DISABLE)
		return false;
	/* ENABLE, and DESC without EVENT_IDX or the reserved mode: every time. */
	if (mode != VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC ||
	    !(dev->features & VIOMMU_VIRTIO_F_EVENT_IDX))
		return true;
	if (!valid || descs >= q->num ||
	    read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_PVIRTQ_EVENT_DESC_OFF, &ev) < 0)
		return true;
	e = (int32_t)POS_IDX(ev) - (POS_WRAP(ev) != POS_WRAP(cur) ? (int32_t)q->num : 0);
	o = (int32_t)POS_IDX(old) - (POS_WRAP(old) != POS_WRAP(cur) ? (int32_t)q->num : 0);
	return VIOMMU_VIRTIO_NEED_EVENT((uint16_t)e, (uint16_t)POS_IDX(cur), (uint16_t)o);
}

bool vh_vq_need_call(struct vh_dev *dev, unsigned int vq)
{
	struct vh_vq *q = &dev->vq[vq];
	uint16_t v, old;
	bool valid;

	if (vh_vq_packed(dev))
		return need_call_packed(dev, vq);
	if (!(dev->features & VIOMMU_VIRTIO_F_EVENT_IDX))
		/* A field we cannot read: an interrupt too many is harmless, one too few is not. */
		return read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_FLAGS_OFF, &v) <
			       0 ||
		       !(v & VIOMMU_VIRTIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
	/* virtio 1.2 §2.7.10: signal only if used_event lies in (old, new]. */
	old = q->signalled_used;
	valid = q->signalled_valid;
	if (valid && old == q->used_idx)
		return false; /* nothing published since the last signal */
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	if (!valid ||
	    read_u16(dev, vq, q->avail_addr + VIOMMU_VIRTIO_VIRTQ_USED_EVENT_OFF(q->num), &v) < 0)
		return true;
	return VIOMMU_VIRTIO_NEED_EVENT(v, q->used_idx, old);
}

/*
 * virtio 1.2 §2.8.10: the device event suppression structure (device area). With EVENT_IDX a
 * request for kicks is DESC at last_avail (its wrap counter in bit 15: the position's own
 * encoding), the offset written before the mode that makes the driver read it. Off is DISABLE:
 * an offset left behind would come round again a lap later.
 */
__attribute__((noinline)) static int set_notify_packed(struct vh_dev *dev, unsigned int vq, bool on)
{
	struct vh_vq *q = &dev->vq[vq];
	bool evidx = dev->features & VIOMMU_VIRTIO_F_EVENT_IDX;
	uint16_t mode = !on   ? VIOMMU_VIRTIO_RING_EVENT_FLAGS_DISABLE :
			evidx ? VIOMMU_VIRTIO_RING_EVENT_FLAGS_DESC :
				VIOMMU_VIRTIO_RING_EVENT_FLAGS_ENABLE;
	bool same_mode = q->notify_known && q->notify_on == on;
	int ret;

	if (on && evidx && !(same_mode && q->avail_event == q->last_avail)) {
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_PVIRTQ_EVENT_DESC_OFF,
				q->last_avail);
		if (ret < 0)
			return ret;
		q->avail_event = q->last_avail;
		__atomic_thread_fence(__ATOMIC_RELEASE);
	}
	if (!same_mode) {
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_PVIRTQ_EVENT_FLAGS_OFF, mode);
		if (ret < 0)
			return ret;
	}
	q->notify_known = true;
	q->notify_on = on;
	/* Make the request visible before the caller looks at the ring again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int vh_vq_set_notify(struct vh_dev *dev, unsigned int vq, bool on)
{
	struct vh_vq *q = &dev->vq[vq];
	int ret;

	if (vh_vq_packed(dev))
		return set_notify_packed(dev, vq, on);
	if (dev->features & VIOMMU_VIRTIO_F_EVENT_IDX) {
		/*
		 * virtio 1.2 §2.7.10: the driver kicks when its index passes avail_event. Asking
		 * for kicks is writing our position there; not asking is leaving it where the
		 * driver has already passed it (no used-ring flag is read with EVENT_IDX).
		 */
		if (!on) {
			q->notify_on = false;
			return 0;
		}
		if (q->notify_known && q->notify_on && q->avail_event == q->last_avail)
			return 0;
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_AVAIL_EVENT_OFF(q->num),
				q->last_avail);
		if (ret < 0)
			return ret;
		q->avail_event = q->last_avail;
	} else {
		if (q->notify_known && q->notify_on == on)
			return 0;
		ret = write_u16(dev, vq, q->used_addr + VIOMMU_VIRTIO_VIRTQ_USED_FLAGS_OFF,
				on ? 0 : VIOMMU_VIRTIO_VIRTQ_USED_F_NO_NOTIFY);
		if (ret < 0)
			return ret;
	}
	q->notify_known = true;
	q->notify_on = on;
	/* Make the request visible before the caller looks at the available index again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int vh_vq_prefetch_rings(struct vh_dev *dev, unsigned int vq)
{
	const struct vh_vq *q = &dev->vq[vq];
	/* In the order the datapath needs them; the permissions it uses, no more. */
	const struct {
		uint64_t addr, len;
		unsigned int perm;
	} split[] = {
		{ q->avail_addr, VIOMMU_VIRTIO_VIRTQ_AVAIL_SIZE(q->num),
		  VIOMMU_VHOST_USER_ACCESS_RO },
		{ q->desc_addr, DESC_SIZE * q->num, VIOMMU_VHOST_USER_ACCESS_RO },
		{ q->used_addr, VIOMMU_VIRTIO_VIRTQ_USED_SIZE(q->num),
		  VIOMMU_VHOST_USER_ACCESS_WO },
	}, packed[] = {
		/* Descriptors are read, then written back used. */
		{ q->desc_addr, PDESC_SIZE * q->num, VIOMMU_VHOST_USER_ACCESS_RW },
		{ q->avail_addr, EVENT_SIZE, VIOMMU_VHOST_USER_ACCESS_RO },
		{ q->used_addr, EVENT_SIZE, VIOMMU_VHOST_USER_ACCESS_WO },
	}, *ring = vh_vq_packed(dev) ? packed : split;
	int ret = 0;

	_Static_assert(sizeof(split) == sizeof(packed), "three areas each");
	for (unsigned int i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
		uint64_t addr = ring[i].addr, left = ring[i].len;

		while (left) {
			uint8_t *host;
			uint64_t n;
			int e = vh_xlate(dev, vq, VH_SPACE_RING, addr, left, ring[i].perm, &host,
					 &n);

			if (e == -EAGAIN) {
				/* Go on to the next page: the point is to ask for all of them. */
				ret = -EAGAIN;
				n = 0x1000 - (addr & 0xfffu);
				n = n < left ? n : left;
			} else if (e < 0) {
				break; /* not guest memory: the datapath breaks the queue */
			}
			left -= n;
			if (__builtin_add_overflow(addr, n, &addr) && left)
				break;
		}
	}
	return ret;
}

size_t vh_vq_chain_read(const struct vh_vq_chain *c, uint64_t off, void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t done = 0;

	for (uint32_t i = 0; i < c->nseg && done < len; i++) {
		size_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, c->seg[i].host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vh_vq_chain_write(const struct vh_vq_chain *c, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *in = buf;
	size_t done = 0;

	for (uint32_t i = 0; i < c->nseg && done < len; i++) {
		size_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(c->seg[i].host + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}
