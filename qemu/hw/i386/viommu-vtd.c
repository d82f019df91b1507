// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * viommu-intel-iommu: QEMU's Intel VT-d device with libviommu's VT-d model inside.
 *
 * A subclass of intel-iommu, so that QEMU keeps what is not the remapping unit's: the ACPI DMAR
 * table (build_dmar_q35 reads the parent's aw-bits and device-iotlb), the machine's one-IOMMU
 * bookkeeping and the properties. Everything the guest programs goes to libviommu:
 *   register page at 0xfed90000        -> viommu_mmio_read / viommu_mmio_write
 *   each PCI function's IOMMU region   -> viommu_translate (sid = bus << 8 | devfn)
 *   IOMMU notifiers (vhost, VFIO)      <- libviommu MAP / UNMAP / DEVIOTLB_UNMAP events
 *   notifier replay                    -> viommu_notifier_replay
 *   fault and invalidation interrupts  <- host ops msi (FEADDR/FEDATA, IEADDR/IEDATA)
 *   root, context, page tables, queue  <- host ops dma_read / dma_write / dma_map_ptr
 * Interrupt remapping is not offered (intremap=off).
 *
 * VIOMMU_QEMU_STATS=1 in QEMU's environment prints the model's statistics on stderr at exit.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#include "qemu/osdep.h"

#include "exec/address-spaces.h"
#include "hw/i386/intel_iommu.h"
#include "hw/i386/pc.h"
#include "hw/i386/x86-iommu.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "sysemu/sysemu.h"

#include <viommu/spec/vtd.h>
#include <viommu/viommu.h>
#include <viommu/vtd.h>

#define TYPE_VIOMMU_INTEL_IOMMU "viommu-intel-iommu"
#define TYPE_VIOMMU_VTD_IOMMU_MR "viommu-intel-iommu-memory-region"

/* The interrupt range (VT-d §3.14): DMA writes there are MSIs, never remapped. */
#define VIOMMU_VTD_MSI_BASE VIOMMU_VTD_INTR_ADDR_FIRST
#define VIOMMU_VTD_MSI_SIZE (VIOMMU_VTD_INTR_ADDR_LAST - VIOMMU_VTD_INTR_ADDR_FIRST + 1)

typedef struct ViommuVtdState ViommuVtdState;
DECLARE_INSTANCE_CHECKER(ViommuVtdState, VIOMMU_INTEL_IOMMU, TYPE_VIOMMU_INTEL_IOMMU)

/* One PCI function's view of memory: our IOMMU region under the interrupt window. */
typedef struct ViommuVtdAS {
	ViommuVtdState *s;
	PCIBus *bus;
	uint8_t devfn;
	int root_bus_num; /* @bus's number if it is a root bus (fixed), else -1 */
	AddressSpace as;
	IOMMUMemoryRegion iommu;
	MemoryRegion root;
	MemoryRegion msi;
	IOMMUNotifierFlag flags;   /* what QEMU's notifiers on @iommu want */
	struct viommu_notifier *n; /* our subscription for them, NULL when none */
	QLIST_ENTRY(ViommuVtdAS) next;
} ViommuVtdAS;

struct ViommuVtdState {
	IntelIOMMUState parent_obj;
	struct viommu *v;
	struct viommu_vtd_config cfg;
	/* libviommu is not thread-safe; notifiers may call back into translate. */
	QemuRecMutex lock;
	GHashTable *spaces; /* (bus, devfn) -> ViommuVtdAS */
	QLIST_HEAD(, ViommuVtdAS) notified;
	Notifier exit_notifier;
};

typedef struct ViommuVtdKey {
	PCIBus *bus;
	uint8_t devfn;
} ViommuVtdKey;

static guint key_hash(gconstpointer p)
{
	const ViommuVtdKey *k = p;

	return g_direct_hash(k->bus) ^ k->devfn;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const ViommuVtdKey *x = a, *y = b;

	return x->bus == y->bus && x->devfn == y->devfn;
}

/*
 * The requester id, on every translation. pci_bus_num() makes two QOM class casts, each a type
 * lookup by name (perf showed them as a fifth of the translate path): a root bus's number never
 * changes (0, or a PXB's fixed bus_nr), so it is kept; a bus behind a bridge has the number the
 * guest programs in the bridge, asked each time.
 */
static uint32_t as_sid(const ViommuVtdAS *as)
{
	int bus = as->root_bus_num >= 0 ? as->root_bus_num : pci_bus_num(as->bus);

	return PCI_BUILD_BDF(bus, as->devfn);
}

/* ---------------------------------------------------------------------------------------- */
/* Host ops: guest memory and interrupts                                                     */
/* ---------------------------------------------------------------------------------------- */

/*
 * Bytes of guest RAM from @gpa on (up to @len) that can be accessed as RAM. Tables the guest
 * points at anything else (MMIO, including our own registers) are not memory: an access there
 * would re-enter device models from inside the unit.
 */
static hwaddr ram_prefix(uint64_t gpa, hwaddr len, bool write)
{
	hwaddr done = 0;

	while (done < len) {
		hwaddr xlat, l = len - done;
		MemoryRegion *mr = address_space_translate(&address_space_memory, gpa + done, &xlat,
							   &l, write, MEMTXATTRS_UNSPECIFIED);

		if (!memory_region_is_ram(mr) || (write && mr->readonly) || l == 0)
			break;
		done += l;
	}
	return done;
}

static ssize_t host_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	hwaddr n;

	RCU_READ_LOCK_GUARD();
	n = ram_prefix(gpa, len, false);
	if (n == 0 || address_space_read(&address_space_memory, gpa, MEMTXATTRS_UNSPECIFIED, buf,
					 n) != MEMTX_OK)
		return VIOMMU_EFAULT;
	return (ssize_t)n;
}

static ssize_t host_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	hwaddr n;

	RCU_READ_LOCK_GUARD();
	n = ram_prefix(gpa, len, true);
	if (n == 0 || address_space_write(&address_space_memory, gpa, MEMTXATTRS_UNSPECIFIED, buf,
					  n) != MEMTX_OK)
		return VIOMMU_EFAULT;
	return (ssize_t)n;
}

/*
 * Page-table entries read in place. Writes go through dma_write, which keeps QEMU's dirty
 * tracking (and TCG's code invalidation) right. The pointer is valid for the call that asked:
 * every call runs under the BQL, and RAM only changes shape under it.
 */
static void *host_dma_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			      struct viommu_dma_span *span)
{
	MemoryRegion *mr;
	hwaddr xlat, l = UINT64_MAX - gpa;

	if (write || l < len)
		return NULL;
	RCU_READ_LOCK_GUARD();
	mr = address_space_translate(&address_space_memory, gpa, &xlat, &l, false,
				     MEMTXATTRS_UNSPECIFIED);
	if (!memory_region_is_ram(mr) || memory_region_is_ram_device(mr) || l < len)
		return NULL;
	span->gpa = gpa;
	span->len = l;
	return (uint8_t *)memory_region_get_ram_ptr(mr) + xlat;
}

static void host_msi(void *opaque, uint64_t addr, uint32_t data)
{
	/* An address outside the interrupt range is no interrupt; don't let it reach devices. */
	if (addr < VIOMMU_VTD_MSI_BASE || addr >= VIOMMU_VTD_MSI_BASE + VIOMMU_VTD_MSI_SIZE) {
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-intel-iommu: MSI to 0x%" PRIx64 " dropped\n",
			      addr);
		return;
	}
	/* The APIC's MSI window in system memory turns the write into the interrupt. */
	address_space_stl_le(&address_space_memory, addr, data, MEMTXATTRS_UNSPECIFIED, NULL);
}

static void host_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	if (level <= VIOMMU_LOG_WARN)
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-intel-iommu: %s\n", msg);
}

static const struct viommu_host_ops host_ops = {
	.dma_read = host_dma_read,
	.dma_write = host_dma_write,
	.msi = host_msi,
	.log = host_log,
	.dma_map_ptr = host_dma_map_ptr,
};

/* ---------------------------------------------------------------------------------------- */
/* Registers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static uint64_t mmio_read(void *opaque, hwaddr addr, unsigned size)
{
	ViommuVtdState *s = opaque;
	uint64_t val = 0;

	qemu_rec_mutex_lock(&s->lock);
	viommu_mmio_read(s->v, addr, size, &val);
	qemu_rec_mutex_unlock(&s->lock);
	return val;
}

static void mmio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
	ViommuVtdState *s = opaque;

	qemu_rec_mutex_lock(&s->lock);
	viommu_mmio_write(s->v, addr, size, val);
	qemu_rec_mutex_unlock(&s->lock);
}

/* The model decides which widths each register accepts: hand it the guest's own access. */
static const MemoryRegionOps mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* ---------------------------------------------------------------------------------------- */
/* Translation and notifiers                                                                 */
/* ---------------------------------------------------------------------------------------- */

static IOMMUAccessFlags to_qemu_perm(uint32_t perm)
{
	return IOMMU_ACCESS_FLAG(!!(perm & VIOMMU_ACC_READ), !!(perm & VIOMMU_ACC_WRITE));
}

static IOMMUTLBEntry iommu_translate(IOMMUMemoryRegion *iommu, hwaddr addr, IOMMUAccessFlags flag,
				     int iommu_idx)
{
	ViommuVtdAS *as = container_of(iommu, ViommuVtdAS, iommu);
	ViommuVtdState *s = as->s;
	struct viommu_xlate_req req = {
		.sid = as_sid(as),
		.iova = addr,
		.len = 1,
		.access = ((flag & IOMMU_RO) ? VIOMMU_ACC_READ : 0) |
			  ((flag & IOMMU_WO) ? VIOMMU_ACC_WRITE : 0),
	};
	struct viommu_xlate_result res;
	IOMMUTLBEntry e = {
		.target_as = &address_space_memory,
		.iova = addr & ~0xfffull,
		.addr_mask = 0xfff,
		.perm = IOMMU_NONE,
	};
	int ret;

	qemu_rec_mutex_lock(&s->lock);
	ret = viommu_translate(s->v, &req, &res);
	qemu_rec_mutex_unlock(&s->lock);
	/* A blocked DMA: the model has recorded the fault and raised its interrupt. */
	if (ret || !viommu_xlate_ok(&res))
		return e;
	/*
	 * VIOMMU_XLATE_F_INTERRUPT (a request into the interrupt window) comes back as an identity
	 * 4 KiB write-only entry, as QEMU's own device answers without interrupt remapping: the
	 * write reaches the APIC. DMA through the address space never gets here (the MSI alias
	 * above the IOMMU region takes it); consumers asking translate directly (vhost) do.
	 */
	if (res.page_shift >= 12 && res.page_shift < 64) {
		hwaddr mask = (1ull << res.page_shift) - 1;

		e.iova = addr & ~mask;
		e.translated_addr = res.out & ~mask;
		e.addr_mask = mask;
	} else {
		e.translated_addr = res.out & ~0xfffull;
	}
	e.perm = to_qemu_perm(res.perm);
	return e;
}

/*
 * Send [iova, last] to QEMU notifier @n as naturally aligned power-of-two pieces: what
 * IOMMUTLBEntry (iova, addr_mask) can say, and what VFIO's map/unmap expects.
 */
static void as_notify(IOMMUNotifier *n, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
		      uint64_t out, IOMMUAccessFlags perm)
{
	for (;;) {
		uint64_t mask;
		IOMMUTLBEvent ev = { .type = type };

		if (iova == 0 && last == UINT64_MAX) {
			mask = UINT64_MAX;
		} else {
			mask = iova ? (iova & -iova) - 1 : UINT64_MAX;
			if (mask > last - iova)
				mask = pow2floor(last - iova + 1) - 1;
		}
		ev.entry.target_as = &address_space_memory;
		ev.entry.iova = iova;
		ev.entry.addr_mask = mask;
		ev.entry.translated_addr = type == IOMMU_NOTIFIER_MAP ? out : 0;
		ev.entry.perm = type == IOMMU_NOTIFIER_MAP ? perm : IOMMU_NONE;
		memory_region_notify_iommu_one(n, &ev);
		if (last - iova == mask)
			break;
		iova += mask + 1;
		out += mask + 1;
	}
}

/*
 * Send [iova, last] to notifier @n clipped to its own range (QEMU asserts that an entry lies
 * inside it; vhost's ends at 2^64 - 2) and to the unit's input address width (nothing translates
 * above it: a domain-wide flush becomes one event, not 64).
 */
static void as_notify_one(ViommuVtdAS *as, IOMMUNotifier *n, IOMMUNotifierFlag type, uint64_t iova,
			  uint64_t last, uint64_t out, IOMMUAccessFlags perm)
{
	uint64_t lim = (1ull << as->s->cfg.aw_bits) - 1;
	uint64_t a = MAX(iova, n->start), b = MIN(MIN(last, lim), n->end);

	if ((n->notifier_flags & type) && a <= b)
		as_notify(n, type, a, b, out + (a - iova), perm);
}

static void as_notify_all(ViommuVtdAS *as, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
			  uint64_t out, IOMMUAccessFlags perm)
{
	IOMMUNotifier *n;

	IOMMU_NOTIFIER_FOREACH(n, &as->iommu)
	{
		as_notify_one(as, n, type, iova, last, out, perm);
	}
}

static void model_event(void *opaque, const struct viommu_event *ev)
{
	ViommuVtdAS *as = opaque;
	IOMMUNotifierFlag type;

	/* Legacy mode has no PASID address spaces; QEMU's notifiers are per requester. */
	if (ev->has_pasid || ev->iova > ev->last)
		return;
	switch (ev->type) {
	case VIOMMU_EV_MAP:
		type = IOMMU_NOTIFIER_MAP;
		break;
	case VIOMMU_EV_UNMAP:
		type = IOMMU_NOTIFIER_UNMAP;
		break;
	case VIOMMU_EV_DEVIOTLB_UNMAP:
		type = IOMMU_NOTIFIER_DEVIOTLB_UNMAP;
		break;
	default:
		return;
	}
	as_notify_all(as, type, ev->iova, ev->last, ev->out, to_qemu_perm(ev->perm));
}

static uint32_t model_events(IOMMUNotifierFlag f)
{
	return ((f & IOMMU_NOTIFIER_MAP) ? VIOMMU_EV_MAP : 0) |
	       ((f & IOMMU_NOTIFIER_UNMAP) ? VIOMMU_EV_UNMAP : 0) |
	       ((f & IOMMU_NOTIFIER_DEVIOTLB_UNMAP) ? VIOMMU_EV_DEVIOTLB_UNMAP : 0);
}

/* (Re)subscribe @as to the events its QEMU notifiers want. Caller holds the lock. */
static int as_subscribe(ViommuVtdAS *as)
{
	ViommuVtdState *s = as->s;

	if (as->n) {
		viommu_notifier_del(s->v, as->n);
		as->n = NULL;
	}
	if (as->flags == IOMMU_NOTIFIER_NONE)
		return 0;
	return viommu_notifier_add(s->v, as_sid(as), model_events(as->flags), model_event, as,
				   &as->n);
}

static int iommu_notify_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
				     IOMMUNotifierFlag new, Error **errp)
{
	ViommuVtdAS *as = container_of(iommu, ViommuVtdAS, iommu);
	ViommuVtdState *s = as->s;
	int ret;

	if ((new &IOMMU_NOTIFIER_MAP) && !(s->cfg.flags & VIOMMU_VTD_CM)) {
		error_setg_errno(errp, ENOTSUP,
				 "viommu-intel-iommu: device %02x:%02x.%x needs "
				 "caching-mode=on",
				 pci_bus_num(as->bus), PCI_SLOT(as->devfn), PCI_FUNC(as->devfn));
		return -ENOTSUP;
	}
	if ((new &IOMMU_NOTIFIER_DEVIOTLB_UNMAP) && !(s->cfg.flags & VIOMMU_VTD_DT)) {
		error_setg_errno(errp, ENOTSUP,
				 "viommu-intel-iommu: device %02x:%02x.%x needs "
				 "device-iotlb=on",
				 pci_bus_num(as->bus), PCI_SLOT(as->devfn), PCI_FUNC(as->devfn));
		return -ENOTSUP;
	}
	qemu_rec_mutex_lock(&s->lock);
	as->flags = new;
	ret = as_subscribe(as);
	if (old == IOMMU_NOTIFIER_NONE && new != IOMMU_NOTIFIER_NONE)
		QLIST_INSERT_HEAD(&s->notified, as, next);
	else if (old != IOMMU_NOTIFIER_NONE && new == IOMMU_NOTIFIER_NONE)
		QLIST_REMOVE(as, next);
	qemu_rec_mutex_unlock(&s->lock);
	if (ret) {
		error_setg(errp, "viommu-intel-iommu: notifier: %s", viommu_strerror(ret));
		return -ENOMEM;
	}
	return 0;
}

typedef struct ReplayCtx {
	ViommuVtdAS *as;
	IOMMUNotifier *n;
} ReplayCtx;

static void replay_event(void *opaque, const struct viommu_event *ev)
{
	ReplayCtx *c = opaque;

	if (ev->type == VIOMMU_EV_MAP && !ev->has_pasid && ev->iova <= ev->last)
		as_notify_one(c->as, c->n, IOMMU_NOTIFIER_MAP, ev->iova, ev->last, ev->out,
			      to_qemu_perm(ev->perm));
}

/*
 * Bring one QEMU notifier up to date (VFIO calls this when it attaches): forget what it held,
 * then one MAP per translation the model sees now.
 */
static void iommu_replay(IOMMUMemoryRegion *iommu, IOMMUNotifier *n)
{
	ViommuVtdAS *as = container_of(iommu, ViommuVtdAS, iommu);
	ViommuVtdState *s = as->s;
	ReplayCtx c = { .as = as, .n = n };
	struct viommu_notifier *tmp;

	if (n->notifier_flags & IOMMU_NOTIFIER_UNMAP)
		as_notify_one(as, n, IOMMU_NOTIFIER_UNMAP, n->start, n->end, 0, IOMMU_NONE);
	if (!(n->notifier_flags & IOMMU_NOTIFIER_MAP))
		return;
	qemu_rec_mutex_lock(&s->lock);
	if (viommu_notifier_add(s->v, as_sid(as), VIOMMU_EV_MAP, replay_event, &c, &tmp) == 0) {
		int ret = viommu_notifier_replay(s->v, tmp);

		if (ret)
			error_report("viommu-intel-iommu: replay: %s", viommu_strerror(ret));
		viommu_notifier_del(s->v, tmp);
	}
	qemu_rec_mutex_unlock(&s->lock);
}

static AddressSpace *host_dma_iommu(PCIBus *bus, void *opaque, int devfn)
{
	ViommuVtdState *s = opaque;
	ViommuVtdKey key = { .bus = bus, .devfn = (uint8_t)devfn };
	ViommuVtdAS *as = g_hash_table_lookup(s->spaces, &key);
	char name[64];

	if (as)
		return &as->as;
	as = g_new0(ViommuVtdAS, 1);
	as->s = s;
	as->bus = bus;
	as->devfn = (uint8_t)devfn;
	as->root_bus_num = pci_bus_is_root(bus) ? pci_bus_num(bus) : -1;
	snprintf(name, sizeof(name), "viommu-vtd-%p-%02x.%x", (void *)bus, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	memory_region_init_iommu(&as->iommu, sizeof(as->iommu), TYPE_VIOMMU_VTD_IOMMU_MR, OBJECT(s),
				 name, UINT64_MAX);
	memory_region_init(&as->root, OBJECT(s), name, UINT64_MAX);
	/* MSIs pass straight to the APIC (no interrupt remapping), above the IOMMU region. */
	memory_region_init_alias(&as->msi, OBJECT(s), "viommu-vtd-msi", get_system_memory(),
				 VIOMMU_VTD_MSI_BASE, VIOMMU_VTD_MSI_SIZE);
	memory_region_add_subregion_overlap(&as->root, 0, MEMORY_REGION(&as->iommu), 0);
	memory_region_add_subregion_overlap(&as->root, VIOMMU_VTD_MSI_BASE, &as->msi, 1);
	address_space_init(&as->as, &as->root, name);
	g_hash_table_insert(s->spaces, g_memdup2(&key, sizeof(key)), as);
	return &as->as;
}

/* ---------------------------------------------------------------------------------------- */
/* Device                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void print_stats(Notifier *n, void *data)
{
	ViommuVtdState *s = container_of(n, ViommuVtdState, exit_notifier);
	struct viommu_vtd_stats st;

	if (!s->v || viommu_vtd_get_stats(s->v, &st))
		return;
	fprintf(stderr,
		"viommu-intel-iommu stats: mmio_reads=%" PRIu64 " mmio_writes=%" PRIu64
		" translations=%" PRIu64 " iotlb_hits=%" PRIu64 " iotlb_misses=%" PRIu64
		" ctx_hits=%" PRIu64 " ctx_misses=%" PRIu64 " page_walks=%" PRIu64
		" faults=%" PRIu64 " faults_recorded=%" PRIu64 " faults_suppressed=%" PRIu64
		" faults_overflowed=%" PRIu64 " qi_doorbells=%" PRIu64 " qi_cc=%" PRIu64
		" qi_iotlb=%" PRIu64 " qi_dev_iotlb=%" PRIu64 " qi_iec=%" PRIu64 " qi_wait=%" PRIu64
		" qi_errors=%" PRIu64 " inv_context=%" PRIu64 " inv_iotlb_global=%" PRIu64
		" inv_iotlb_domain=%" PRIu64 " inv_iotlb_page=%" PRIu64 " inv_dev_iotlb=%" PRIu64
		" notify_map=%" PRIu64 " notify_unmap=%" PRIu64 " notify_dev_iotlb=%" PRIu64
		" interrupts=%" PRIu64 "\n",
		st.mmio_reads, st.mmio_writes, st.translations, st.iotlb_hits, st.iotlb_misses,
		st.ctx_hits, st.ctx_misses, st.page_walks, st.faults, st.faults_recorded,
		st.faults_suppressed, st.faults_overflowed, st.qi_doorbells, st.qi_cc, st.qi_iotlb,
		st.qi_dev_iotlb, st.qi_iec, st.qi_wait, st.qi_errors, st.inv_context,
		st.inv_iotlb_global, st.inv_iotlb_domain, st.inv_iotlb_page, st.inv_dev_iotlb,
		st.notify_map, st.notify_unmap, st.notify_dev_iotlb, st.interrupts);
}

static void viommu_vtd_realize(DeviceState *dev, Error **errp)
{
	PCMachineState *pcms = PC_MACHINE(qdev_get_machine());
	ViommuVtdState *s = VIOMMU_INTEL_IOMMU(dev);
	IntelIOMMUState *is = INTEL_IOMMU_DEVICE(dev);
	X86IOMMUState *x86 = X86_IOMMU_DEVICE(dev);
	int ret;

	if (x86_iommu_ir_supported(x86)) {
		error_setg(errp, "viommu-intel-iommu has no interrupt remapping: use intremap=off");
		return;
	}
	if (is->scalable_mode || is->pasid || is->snoop_control) {
		error_setg(errp, "viommu-intel-iommu models legacy mode only: no x-scalable-mode, "
				 "x-pasid-mode or snoop-control");
		return;
	}
	if (is->aw_bits != 39 && is->aw_bits != 48) {
		error_setg(errp, "viommu-intel-iommu: aw-bits must be 39 or 48");
		return;
	}
	viommu_vtd_config_init(&s->cfg);
	s->cfg.aw_bits = is->aw_bits;
	s->cfg.flags &= ~(VIOMMU_VTD_CM | VIOMMU_VTD_DT | VIOMMU_VTD_PT);
	if (is->caching_mode)
		s->cfg.flags |= VIOMMU_VTD_CM;
	if (x86->dt_supported)
		s->cfg.flags |= VIOMMU_VTD_DT;
	if (x86->pt_supported)
		s->cfg.flags |= VIOMMU_VTD_PT;
	ret = viommu_vtd_create(&s->cfg, &host_ops, s, &s->v);
	if (ret) {
		error_setg(errp, "viommu-intel-iommu: viommu_vtd_create: %s", viommu_strerror(ret));
		return;
	}
	qemu_rec_mutex_init(&s->lock);
	QLIST_INIT(&s->notified);
	s->spaces = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);

	memory_region_init_io(&is->csrmem, OBJECT(s), &mmio_ops, s, "viommu-intel-iommu",
			      VIOMMU_VTD_REG_SIZE);
	sysbus_init_mmio(SYS_BUS_DEVICE(s), &is->csrmem);
	sysbus_mmio_map(SYS_BUS_DEVICE(s), 0, Q35_HOST_BRIDGE_IOMMU_ADDR);
	pci_setup_iommu(pcms->bus, host_dma_iommu, s);

	if (getenv("VIOMMU_QEMU_STATS")) {
		uint64_t cap = 0, ecap = 0;

		/* What the guest's driver will print: the test compares the two. */
		viommu_mmio_read(s->v, VIOMMU_VTD_CAP_REG, 8, &cap);
		viommu_mmio_read(s->v, VIOMMU_VTD_ECAP_REG, 8, &ecap);
		fprintf(stderr, "viommu-intel-iommu: cap %" PRIx64 " ecap %" PRIx64 "\n", cap,
			ecap);
		s->exit_notifier.notify = print_stats;
		qemu_add_exit_notifier(&s->exit_notifier);
	}
}

/* A system reset is a new unit: a fresh model, and QEMU's notifiers told to forget it all. */
static void viommu_vtd_reset(DeviceState *dev)
{
	ViommuVtdState *s = VIOMMU_INTEL_IOMMU(dev);
	struct viommu *v;
	ViommuVtdAS *as;

	if (viommu_vtd_create(&s->cfg, &host_ops, s, &v)) {
		error_report("viommu-intel-iommu: reset: out of memory, keeping the old unit");
		return;
	}
	qemu_rec_mutex_lock(&s->lock);
	QLIST_FOREACH(as, &s->notified, next)
	{
		if (as->n)
			viommu_notifier_del(s->v, as->n);
		as->n = NULL;
	}
	viommu_destroy(s->v);
	s->v = v;
	QLIST_FOREACH(as, &s->notified, next)
	{
		IOMMUNotifier *n;

		IOMMU_NOTIFIER_FOREACH(n, &as->iommu)
		{
			if (n->notifier_flags & IOMMU_NOTIFIER_UNMAP)
				as_notify_one(as, n, IOMMU_NOTIFIER_UNMAP, n->start, n->end, 0,
					      IOMMU_NONE);
		}
		if (as_subscribe(as))
			error_report("viommu-intel-iommu: reset: cannot resubscribe notifiers");
	}
	qemu_rec_mutex_unlock(&s->lock);
}

static const VMStateDescription viommu_vtd_vmstate = {
	.name = TYPE_VIOMMU_INTEL_IOMMU,
	.unmigratable = 1,
};

static void viommu_vtd_class_init(ObjectClass *klass, void *data)
{
	DeviceClass *dc = DEVICE_CLASS(klass);
	X86IOMMUClass *x86_class = X86_IOMMU_DEVICE_CLASS(klass);

	/* The parent's properties stay: aw-bits, caching-mode, device-iotlb, pt, intremap. */
	dc->reset = viommu_vtd_reset;
	dc->vmsd = &viommu_vtd_vmstate;
	x86_class->realize = viommu_vtd_realize;
	x86_class->int_remap = NULL;
	dc->desc = "Intel IOMMU (VT-d) DMA remapping with libviommu's model";
}

static void viommu_vtd_mr_class_init(ObjectClass *klass, void *data)
{
	IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

	imrc->translate = iommu_translate;
	imrc->notify_flag_changed = iommu_notify_flag_changed;
	imrc->replay = iommu_replay;
}

static const TypeInfo viommu_vtd_info = {
	.name = TYPE_VIOMMU_INTEL_IOMMU,
	.parent = TYPE_INTEL_IOMMU_DEVICE,
	.instance_size = sizeof(ViommuVtdState),
	.class_init = viommu_vtd_class_init,
};

static const TypeInfo viommu_vtd_mr_info = {
	.name = TYPE_VIOMMU_VTD_IOMMU_MR,
	.parent = TYPE_IOMMU_MEMORY_REGION,
	.class_init = viommu_vtd_mr_class_init,
};

static void viommu_vtd_register_types(void)
{
	type_register_static(&viommu_vtd_info);
	type_register_static(&viommu_vtd_mr_info);
}

type_init(viommu_vtd_register_types)
