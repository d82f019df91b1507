/* SPDX-License-Identifier: MIT */
/*
 * Library-internal core: what models embed and call. Never installed.
 */
#ifndef VIOMMU_CORE_H
#define VIOMMU_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <viommu/viommu.h>

#define vi_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define VI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VI_BIT(n) (1ull << (n))
/* Mask of bits hi..lo inclusive, as the specifications write fields. */
#define VI_GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))
#define VI_FIELD_GET(v, hi, lo) (((v)&VI_GENMASK(hi, lo)) >> (lo))

struct viommu_host {
	const struct viommu_host_ops *ops;
	void *opaque;
};

struct viommu;

/* What a model implements; any callback but translate and destroy may be NULL. */
struct viommu_model_ops {
	const char *name;
	int (*translate)(struct viommu *v, const struct viommu_xlate_req *req,
			 struct viommu_xlate_result *res);
	int (*mmio_read)(struct viommu *v, uint64_t offset, unsigned int size, uint64_t *val);
	int (*mmio_write)(struct viommu *v, uint64_t offset, unsigned int size, uint64_t val);
	/* Call vi_notifier_send_one(n, ev) for every current mapping @n covers. */
	int (*replay)(struct viommu *v, struct viommu_notifier *n);
	/* Forget stable dma_map_ptr spans (viommu_mem_changed()); NULL when the model keeps none. */
	void (*mem_changed)(struct viommu *v);
	void (*destroy)(struct viommu *v);
};

struct viommu_notifier {
	struct viommu_notifier *next;
	uint32_t sid;
	uint32_t events;
	viommu_notify_fn fn;
	void *opaque;
};

/* The part of every model instance that the core owns; models embed it and use container_of. */
struct viommu {
	const struct viommu_model_ops *ops;
	struct viommu_host host;
	struct viommu_notifier *notifiers;
	uint32_t notify_mask; /* union of the event masks of all notifiers, for a cheap early out */
};

/* Fill the core part of a freshly allocated model instance. */
int vi_instance_init(struct viommu *v, const struct viommu_model_ops *ops,
		     const struct viommu_host_ops *host_ops, void *opaque);
/* Release what vi_instance_init() and the notifier calls allocated (not @v itself). */
void vi_instance_fini(struct viommu *v);

/* Deliver @ev to every notifier whose requester and event mask match. */
void vi_notify(struct viommu *v, const struct viommu_event *ev);
/* True when somebody listens for any event in @events (lets models skip building events). */
static inline bool vi_notify_wanted(const struct viommu *v, uint32_t events)
{
	return (v->notify_mask & events) != 0;
}
/* Deliver @ev to @n alone (used by replay), if its requester matches. */
void vi_notifier_send_one(struct viommu_notifier *n, const struct viommu_event *ev);

/*
 * Guest memory. These succeed only when the whole range was transferred; a failed or short
 * transfer gives VIOMMU_EFAULT. Multi-byte guest structures are little-endian in every
 * specification the library implements.
 */
int vi_read(const struct viommu_host *h, uint64_t gpa, void *buf, size_t len);
int vi_write(const struct viommu_host *h, uint64_t gpa, const void *buf, size_t len);
int vi_read64(const struct viommu_host *h, uint64_t gpa, uint64_t *val);
int vi_read32(const struct viommu_host *h, uint64_t gpa, uint32_t *val);
int vi_write64(const struct viommu_host *h, uint64_t gpa, uint64_t val);
int vi_write32(const struct viommu_host *h, uint64_t gpa, uint32_t val);

void vi_msi(const struct viommu_host *h, uint64_t addr, uint32_t data);
void vi_irq(const struct viommu_host *h, unsigned int line, bool level);
__attribute__((format(printf, 3, 4))) void
vi_log(const struct viommu_host *h, enum viommu_log_level level, const char *fmt, ...);

/* Little-endian conversions for guest-visible structures. */
static inline uint64_t vi_le64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}
static inline uint32_t vi_le32(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}
static inline uint16_t vi_le16(uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

/*
 * 64-bit guest entries through the host's dma_map_ptr where it offers one, else through
 * dma_read/dma_write. One readable and one writable span are remembered, so a walk over tables
 * in one RAM block asks the host once. Lives for one library call (the host's pointers do),
 * except in an object that calls vi_dmem_end_call() after each call: that keeps the spans the
 * host marked VIOMMU_DMA_SPAN_STABLE until vi_dmem_init() again (the host's invalidate).
 */
struct vi_dmem {
	const struct viommu_host *h;
	uint8_t *rbase, *wbase; /* host address of guest rlo/wlo; NULL: no span */
	uint64_t rlo, rlim;	/* an entry at gpa lies in the span when gpa - rlo <= rlim */
	uint64_t wlo, wlim;
	bool rstable, wstable; /* the host marked the span VIOMMU_DMA_SPAN_STABLE */
};

static inline void vi_dmem_init(struct vi_dmem *m, const struct viommu_host *h)
{
	m->h = h;
	m->rbase = NULL;
	m->wbase = NULL;
	m->rstable = false;
	m->wstable = false;
}

/* The library call is over: forget the spans that were valid only for it. */
static inline void vi_dmem_end_call(struct vi_dmem *m)
{
	if (!m->rstable)
		m->rbase = NULL;
	if (!m->wstable)
		m->wbase = NULL;
}

/* Guest memory that vCPUs may write meanwhile: one untorn access, whatever the buffer's type. */
typedef uint64_t __attribute__((may_alias)) vi_u64_alias;

/* An 8-byte-aligned guest word in one load (for callers that know the alignment). */
static inline uint64_t vi_load64_aligned(const void *p)
{
	return __atomic_load_n((const vi_u64_alias *)p, __ATOMIC_RELAXED);
}

static inline uint64_t vi_load64(const uint8_t *p)
{
	uint64_t v;

	if (!((uintptr_t)p & 7))
		return vi_load64_aligned(p);
	memcpy(&v, p, sizeof(v));
	return v;
}

int vi_dm_read64_slow(struct vi_dmem *m, uint64_t gpa, uint64_t *val);

static inline int vi_dm_read64(struct vi_dmem *m, uint64_t gpa, uint64_t *val)
{
	if (m->rbase && gpa - m->rlo <= m->rlim) {
		*val = vi_le64(vi_load64(m->rbase + (gpa - m->rlo)));
		return 0;
	}
	return vi_dm_read64_slow(m, gpa, val);
}

/*
 * Host address of guest [gpa, gpa + len) (@len >= 8) when one span of the host's, readable or
 * writable as @write asks, holds all of it; else NULL (use the host ops).
 */
uint8_t *vi_dm_ptr(struct vi_dmem *m, uint64_t gpa, uint64_t len, bool write);
int vi_dm_write64(struct vi_dmem *m, uint64_t gpa, uint64_t val);
/*
 * Replace @old at @gpa with @val: 0 when done, VIOMMU_EAGAIN when the entry no longer holds
 * @old (nothing written), VIOMMU_EFAULT when it cannot be written. Atomic against the guest
 * only through an aligned dma_map_ptr span; through dma_read/dma_write it is a re-read, compare
 * and write, which narrows the window but cannot close it.
 */
int vi_dm_cmpxchg64(struct vi_dmem *m, uint64_t gpa, uint64_t old, uint64_t val);

/* [a, a + len) does not wrap past 2^64; len 0 never wraps. */
static inline bool vi_range_ok(uint64_t a, uint64_t len)
{
	return len == 0 || a + (len - 1) >= a;
}

/* Whether [a, a + len - 1] meets [first, last] (@len >= 1, a + len - 1 no wrap). */
static inline bool vi_range_overlaps(uint64_t a, uint64_t len, uint64_t first, uint64_t last)
{
	return !(a + (len - 1) < first || a > last);
}

/*
 * Whether rights @perm (VIOMMU_ACC_READ/WRITE) allow @access, as the x86 IOMMUs (VT-d, AMD-Vi)
 * grant them: no right of its own for execute, which needs read.
 */
static inline bool vi_x86_perm_ok(uint32_t perm, uint32_t access)
{
	if ((access & VIOMMU_ACC_WRITE) && !(perm & VIOMMU_ACC_WRITE))
		return false;
	return !((access & (VIOMMU_ACC_READ | VIOMMU_ACC_EXEC)) && !(perm & VIOMMU_ACC_READ));
}

/*
 * A translation of @iova (@len bytes wanted, >= 1) to @addr in a page of 1 << @shift with @perm:
 * @res zeroed (callers may rely on it), then filled; its length stops at the page's end.
 */
static inline int vi_xlate_ok(struct viommu_xlate_result *res, uint64_t iova, uint64_t len,
			      uint64_t addr, uint32_t perm, uint32_t shift)
{
	uint64_t room = (1ull << shift) - (iova & ((1ull << shift) - 1));

	memset(res, 0, sizeof(*res));
	res->out = addr;
	res->perm = perm;
	res->page_shift = shift;
	res->len = room != 0 && room < len ? room : len;
	return 0;
}

/*
 * The x86 interrupt window [first, last] (VT-d 3.14, AMD-Vi 2.2.5): a request without PASID into
 * it is an interrupt request, decoded before any remapping. Returns true with @res filled
 * (VIOMMU_XLATE_F_INTERRUPT, out = iova, write only) when @req starts inside; a request that starts
 * below has *@len clipped to stop short of the window. @len is the request's length, >= 1.
 */
static inline bool vi_xlate_interrupt_window(const struct viommu_xlate_req *req,
					     struct viommu_xlate_result *res, uint64_t *len,
					     uint64_t first, uint64_t last)
{
	if (req->has_pasid || !vi_range_overlaps(req->iova, *len, first, last))
		return false;
	if (req->iova < first) {
		*len = first - req->iova;
		return false;
	}
	memset(res, 0, sizeof(*res));
	res->out = req->iova;
	res->len = *len - 1 > last - req->iova ? last - req->iova + 1 : *len;
	res->perm = VIOMMU_ACC_WRITE;
	res->page_shift = 12;
	res->flags = VIOMMU_XLATE_F_INTERRUPT;
	return true;
}

/* Prepare a result that reports a fault of @type/@reason for @req. */
void vi_result_fault(struct viommu_xlate_result *res, const struct viommu_xlate_req *req,
		     enum viommu_fault_type type, uint32_t reason, uint32_t level);

#endif /* VIOMMU_CORE_H */
