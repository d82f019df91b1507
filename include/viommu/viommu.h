/* SPDX-License-Identifier: MIT */
/*
 * libviommu: virtual IOMMU models for VMMs and device back-ends.
 *
 * This header is the core contract shared by every model: error codes, the host-ops table through
 * which the library reaches guest memory and interrupts, translation requests and results, fault
 * records, and MAP/UNMAP notifiers.
 *
 * Threading: a struct viommu is not thread-safe; the embedder serialises calls on one instance.
 * There is no global state, so separate instances may be used from separate threads.
 *
 * Stability: the API and ABI are not yet stable.
 */
#ifndef VIOMMU_VIOMMU_H
#define VIOMMU_VIOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VIOMMU_BUILDING_LIBRARY)
#define VIOMMU_API __attribute__((visibility("default")))
#else
#define VIOMMU_API
#endif

/*
 * Version of these headers. The one place it is written: meson.build's project version must equal
 * it (the `version` unit test checks both, and viommu_version()). The API is not stable yet, so an
 * embedder that links the shared library compares viommu_version() with VIOMMU_VERSION.
 */
#define VIOMMU_VERSION_MAJOR 0
#define VIOMMU_VERSION_MINOR 1
#define VIOMMU_VERSION_PATCH 0
/* One number per version that orders as versions do (each part 0..255). */
#define VIOMMU_VERSION_ENCODE(major, minor, patch) \
	(((uint32_t)(major) << 16) | ((uint32_t)(minor) << 8) | (uint32_t)(patch))
#define VIOMMU_VERSION \
	VIOMMU_VERSION_ENCODE(VIOMMU_VERSION_MAJOR, VIOMMU_VERSION_MINOR, VIOMMU_VERSION_PATCH)

/*
 * The version of the library actually linked, as VIOMMU_VERSION_ENCODE() makes it: a number,
 * so that a caller can test `viommu_version() >= VIOMMU_VERSION_ENCODE(0, 2, 0)` or compare
 * it with the VIOMMU_VERSION it was compiled against without parsing a string.
 */
VIOMMU_API uint32_t viommu_version(void);

/*
 * Errors. Every function that can fail returns 0 or one of these negative values. The values
 * equal the negated Linux errno of the same name, so they can be passed through errno-based code.
 */
enum {
	VIOMMU_EPERM = -1,
	VIOMMU_ENOENT = -2,
	VIOMMU_EIO = -5,
	VIOMMU_E2BIG = -7,
	VIOMMU_EAGAIN = -11,
	VIOMMU_ENOMEM = -12,
	VIOMMU_EFAULT = -14,
	VIOMMU_EBUSY = -16,
	VIOMMU_EEXIST = -17,
	VIOMMU_EINVAL = -22,
	VIOMMU_ENOSPC = -28,
	VIOMMU_ERANGE = -34,
	VIOMMU_ENOSYS = -38,
	VIOMMU_EOVERFLOW = -75,
	VIOMMU_ENOTSUP = -95,
	VIOMMU_ESTALE = -116,
};

/* A static description of @err ("unknown error" for values outside the list above). */
VIOMMU_API const char *viommu_strerror(int err);

/* ------------------------------------------------------------------------------------------ */
/* Host operations                                                                             */
/* ------------------------------------------------------------------------------------------ */

enum viommu_log_level {
	VIOMMU_LOG_ERR = 3,
	VIOMMU_LOG_WARN = 4,
	VIOMMU_LOG_INFO = 6,
	VIOMMU_LOG_DEBUG = 7,
};

/*
 * What the library needs from its embedder. The library touches guest memory only through
 * dma_read/dma_write and inside the spans dma_map_ptr hands out, so an embedder that checks its
 * bounds there keeps every model inside the guest whatever the guest programs.
 *
 * dma_read/dma_write transfer up to @len bytes at guest-physical @gpa and return how many were
 * transferred (which may be fewer than @len, e.g. at the end of a RAM region) or a negative
 * VIOMMU_E* code. The library treats a short transfer of a table or descriptor as an access
 * outside guest memory.
 *
 * dma_map_ptr (optional, may be NULL) is the fast path for small guest structures such as
 * page-table entries, in the manner of QEMU's address_space_map(): the host decides. When all of
 * [gpa, gpa + len) is ordinary RAM that the library may access with plain loads (and stores, if
 * @write), return the host address of @gpa; otherwise return NULL and the library uses dma_read
 * and dma_write for that access. On success the host may widen *@span, which the library sets to
 * {gpa, len} before the call, to any range around it that is mapped the same way (linearly, at
 * the returned address minus (gpa - span->gpa)), typically the whole RAM block: the library
 * then reuses the pointer for nearby entries without asking again. Pointer and span must stay
 * valid until the library call that asked returns; a host that also sets VIOMMU_DMA_SPAN_STABLE
 * in span->flags (0 before the call) promises more: they stay valid until it invalidates the
 * object that asked for them (viommu_mem_changed(), viommu_pt_walker_invalidate(), or the
 * object's destroy), which may then keep using them across calls. Guest vCPUs may write that
 * memory meanwhile:
 * the library reads an aligned 64-bit entry with a single load and updates one with an atomic
 * compare-and-exchange, so a host mapping should be 8-byte aligned where guest memory is.
 *
 * msi delivers a message-signalled interrupt (address/data as the guest programmed them); irq
 * raises or lowers a wired line. log receives diagnostic messages (may be NULL). Any callback but
 * dma_read may be NULL when the model does not need it.
 */
struct viommu_dma_span {
	uint64_t gpa;
	uint64_t len;
	uint32_t flags; /* VIOMMU_DMA_SPAN_* set by the host */
};

/* The span stays valid until the host invalidates the caching object, not just for one call. */
#define VIOMMU_DMA_SPAN_STABLE (1u << 0)

struct viommu_host_ops {
	ssize_t (*dma_read)(void *opaque, uint64_t gpa, void *buf, size_t len);
	ssize_t (*dma_write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
	void (*msi)(void *opaque, uint64_t addr, uint32_t data);
	void (*irq)(void *opaque, unsigned int line, bool level);
	void (*log)(void *opaque, enum viommu_log_level level, const char *msg);
	void *(*dma_map_ptr)(void *opaque, uint64_t gpa, size_t len, bool write,
			     struct viommu_dma_span *span);
};

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Access and permission bits; a request asks for a set, a result grants a set. */
enum viommu_access {
	VIOMMU_ACC_READ = 1u << 0,
	VIOMMU_ACC_WRITE = 1u << 1,
	VIOMMU_ACC_EXEC = 1u << 2,
	VIOMMU_ACC_PRIV = 1u << 3,
};
#define VIOMMU_ACC_RW (VIOMMU_ACC_READ | VIOMMU_ACC_WRITE)

/* Model-independent class of a fault; the model's own reason code travels beside it. */
enum viommu_fault_type {
	VIOMMU_FAULT_NONE = 0,
	VIOMMU_FAULT_BLOCKED, /* no domain, DMA blocked by configuration or detached */
	VIOMMU_FAULT_CONFIG,  /* device configuration (context entry, STE, DTE) absent/invalid */
	VIOMMU_FAULT_NOT_PRESENT, /* no translation for the address */
	VIOMMU_FAULT_PERMISSION,  /* translation exists, access type not allowed */
	VIOMMU_FAULT_RESERVED,	  /* reserved bit or malformed entry in a table */
	VIOMMU_FAULT_ADDR_SIZE,	  /* input or output address beyond the configured size */
	VIOMMU_FAULT_ACCESS_FLAG, /* Arm access flag clear */
	VIOMMU_FAULT_WALK_ABORT,  /* a table lies outside guest memory (read failed or short) */
};

/* A requester id/stream id/device id, and optional PASID/substream id. */
struct viommu_xlate_req {
	uint32_t sid;
	uint32_t pasid;
	bool has_pasid;
	uint64_t iova;
	uint64_t len;	 /* bytes wanted from iova; 0 is treated as 1 */
	uint32_t access; /* enum viommu_access */
};

/* What the model did with a fault, beside blocking the DMA (struct viommu_fault.flags). */
enum viommu_fault_flags {
	VIOMMU_FAULT_F_RECORDED = 1u << 0,   /* written where the guest reads faults (VT-d: a fault
					      * recording register, index in @record; virtio-iommu:
					      * an event on the event queue) */
	VIOMMU_FAULT_F_SUPPRESSED = 1u << 1, /* the guest's configuration says not to report it
					      * (VT-d: FPD in the context entry) */
	VIOMMU_FAULT_F_LOST = 1u << 2,	     /* to be reported, but there was no room (VT-d: fault
					      * overflow; virtio-iommu: no event buffer) */
};

struct viommu_fault {
	enum viommu_fault_type type;
	uint32_t reason; /* the model's own code, e.g. a VT-d fault reason or an SMMU event id */
	uint32_t level;	 /* table level the walk stopped at, when meaningful */
	uint32_t flags;	 /* enum viommu_fault_flags */
	uint32_t record; /* with VIOMMU_FAULT_F_RECORDED: the model's record index, where it has one */
	uint32_t sid;
	uint32_t pasid;
	bool has_pasid;
	uint32_t access;
	uint64_t addr; /* faulting input address */
};

/* Kinds of successful result (struct viommu_xlate_result.flags). */
enum viommu_xlate_flags {
	/*
	 * Not a DMA but an interrupt request: the platform decodes writes to this window as
	 * message-signalled interrupts before any DMA remapping (VT-d section 3.14: requests without
	 * PASID to 0xFEEx_xxxx). @out equals req.iova and @perm is VIOMMU_ACC_WRITE; the VMM delivers
	 * the write as an MSI (through interrupt remapping if it has one), never to memory.
	 */
	VIOMMU_XLATE_F_INTERRUPT = 1u << 0,
};

/*
 * The outcome of one translation. When fault.type is VIOMMU_FAULT_NONE, @out is the output
 * address of req.iova, @len the number of bytes from req.iova that translate contiguously with the
 * granted @perm (never more than req.len, possibly less: the caller asks again for the rest),
 * @page_shift the size of the mapping that covers req.iova and @flags its kind (0 for a DMA).
 * When blocked, only @fault is valid.
 */
struct viommu_xlate_result {
	uint64_t out;
	uint64_t len;
	uint32_t perm;
	uint32_t page_shift;
	uint32_t flags; /* enum viommu_xlate_flags */
	struct viommu_fault fault;
};

static inline bool viommu_xlate_ok(const struct viommu_xlate_result *res)
{
	return res->fault.type == VIOMMU_FAULT_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Instances                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* One IOMMU instance of any model; created by the model's own viommu_<model>_create(). */
struct viommu;

VIOMMU_API void viommu_destroy(struct viommu *v);

/* The model's short name ("vtd", "virtio-iommu", ...). */
VIOMMU_API const char *viommu_model_name(const struct viommu *v);

/*
 * Guest memory changed shape (RAM unplugged, remapped or freed, as QEMU publishes a new FlatView
 * or vhost a new memory table): @v forgets every pointer dma_map_ptr gave it with
 * VIOMMU_DMA_SPAN_STABLE and asks again. The host calls it before any such pointer stops being
 * valid. Cached translations are the guest's business and stay.
 */
VIOMMU_API void viommu_mem_changed(struct viommu *v);

/*
 * Translate one DMA. Returns 0 with the outcome in @res (a blocked DMA is a result with a fault
 * record, and is also reported through the model's fault mechanism), or a negative code when the
 * call itself is wrong (NULL pointers, an instance that cannot translate).
 */
VIOMMU_API int viommu_translate(struct viommu *v, const struct viommu_xlate_req *req,
				struct viommu_xlate_result *res);

/*
 * Register access for models with a register file. @size is 1, 2, 4 or 8; the model decides
 * which widths each register accepts. Unknown offsets read as zero and ignore writes, as hardware
 * does; the return value is negative only for a bad call.
 */
VIOMMU_API int viommu_mmio_read(struct viommu *v, uint64_t offset, unsigned int size,
				uint64_t *val);
VIOMMU_API int viommu_mmio_write(struct viommu *v, uint64_t offset, unsigned int size,
				 uint64_t val);

/* ------------------------------------------------------------------------------------------ */
/* Notifiers                                                                                   */
/* ------------------------------------------------------------------------------------------ */

enum viommu_event_type {
	VIOMMU_EV_MAP = 1u << 0,	    /* a translation appeared */
	VIOMMU_EV_UNMAP = 1u << 1,	    /* translations in the range may be gone */
	VIOMMU_EV_DEVIOTLB_UNMAP = 1u << 2, /* device-IOTLB (ATS) invalidation of the range */
	/*
	 * A barrier: the MAP/UNMAP events of one guest action (an invalidation, a virtio-iommu
	 * request) for @sid have all been sent, and the guest is about to be told it completed. A
	 * consumer that batches (a shadow engine) applies what it gathered now. Only the range
	 * and type fields are meaningful; sent by the models that diff (VT-d caching mode, AMD-Vi
	 * NpCache) and by virtio-iommu, and only to consumers that subscribe to it.
	 */
	VIOMMU_EV_SYNC = 1u << 3,
};

#define VIOMMU_SID_ANY UINT32_MAX

/*
 * One event: the inclusive input range [iova, last] of address space (sid, pasid). For MAP, @out
 * is the output address of @iova and @perm the granted permissions; for the unmap kinds they are
 * zero. Inclusive ends let a single event cover the whole 64-bit space.
 */
struct viommu_event {
	enum viommu_event_type type;
	uint32_t sid;
	uint32_t pasid;
	bool has_pasid;
	uint64_t iova;
	uint64_t last;
	uint64_t out;
	uint32_t perm;
};

typedef void (*viommu_notify_fn)(void *opaque, const struct viommu_event *ev);

struct viommu_notifier;

/*
 * Subscribe to the events in the @events mask for requester @sid (VIOMMU_SID_ANY for all). The
 * callback runs synchronously inside the call that caused the event and must not call back into
 * the same instance except viommu_translate().
 */
VIOMMU_API int viommu_notifier_add(struct viommu *v, uint32_t sid, uint32_t events,
				   viommu_notify_fn fn, void *opaque, struct viommu_notifier **out);
VIOMMU_API void viommu_notifier_del(struct viommu *v, struct viommu_notifier *n);

/*
 * Send @n a MAP event for every translation currently present for its requester(s), as the model
 * sees them now. Returns VIOMMU_ENOTSUP for a model that cannot enumerate its mappings.
 */
VIOMMU_API int viommu_notifier_replay(struct viommu *v, struct viommu_notifier *n);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_VIOMMU_H */
