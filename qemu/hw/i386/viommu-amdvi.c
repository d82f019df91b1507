// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * viommu-amd-iommu: QEMU's AMD IOMMU device with libviommu's AMD-Vi model inside.
 *
 * A subclass of amd-iommu, so that QEMU keeps what is not the IOMMU's: the ACPI IVRS table
 * (build_amd_iommu reads the parent's devid, capability offset and MMIO address), the IOMMU's
 * PCI function with its MSI capability, the machine's one-IOMMU bookkeeping. Everything the
 * guest programs goes to libviommu:
 *   MMIO at 0xfed80000 (16 KiB)        -> viommu_mmio_read / viommu_mmio_write
 *   capability block in config space   <- viommu_amdvi_pci_cap
 *   each PCI function's IOMMU region   -> viommu_translate (DeviceID = bus << 8 | devfn)
 *   IOMMU notifiers (vhost, VFIO)      <- libviommu MAP / UNMAP / DEVIOTLB_UNMAP events
 *   notifier replay                    -> viommu_notifier_replay
 *   event-log and completion interrupts <- host ops msi, sent as the PCI function's MSI
 *   device table, page tables, buffers <- host ops dma_read / dma_write / dma_map_ptr
 * Interrupt remapping is not offered (intremap=off).
 *
 * VIOMMU_QEMU_STATS=1 in QEMU's environment prints the model's statistics on stderr at exit.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#include "qemu/osdep.h"

#include "exec/address-spaces.h"
#include "hw/i386/amd_iommu.h"
#include "hw/i386/pc.h"
#include "hw/i386/x86-iommu.h"
#include "hw/pci/msi.h"
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

#include <viommu/amdvi.h>
#include <viommu/spec/amdvi.h>
#include <viommu/viommu.h>

#define TYPE_VIOMMU_AMD_IOMMU "viommu-amd-iommu"
#define TYPE_VIOMMU_AMDVI_IOMMU_MR "viommu-amd-iommu-memory-region"

/* The interrupt range: DMA writes there are MSIs, never remapped. */
#define VIOMMU_AMDVI_MSI_BASE VIOMMU_AMDVI_INTR_ADDR_FIRST
#define VIOMMU_AMDVI_MSI_SIZE (VIOMMU_AMDVI_INTR_ADDR_LAST - VIOMMU_AMDVI_INTR_ADDR_FIRST + 1)

typedef struct ViommuAmdviState ViommuAmdviState;
DECLARE_INSTANCE_CHECKER(ViommuAmdviState, VIOMMU_AMD_IOMMU, TYPE_VIOMMU_AMD_IOMMU)

/* One PCI function's view of memory: our IOMMU region under the interrupt window. */
typedef struct ViommuAmdviAS {
	ViommuAmdviState *s;
	PCIBus *bus;
	uint8_t devfn;
	AddressSpace as;
	IOMMUMemoryRegion iommu;
	MemoryRegion root;
	MemoryRegion msi;
	IOMMUNotifierFlag flags;
	struct viommu_notifier *n;
	QLIST_ENTRY(ViommuAmdviAS) next;
} ViommuAmdviAS;

struct ViommuAmdviState {
	AMDVIState parent_obj;
	struct viommu *v;
	struct viommu_amdvi_config cfg;
	QemuRecMutex lock;
	GHashTable *spaces;
	QLIST_HEAD(, ViommuAmdviAS) notified;
	Notifier exit_notifier;
};

typedef struct ViommuAmdviKey {
	PCIBus *bus;
	uint8_t devfn;
} ViommuAmdviKey;

static guint key_hash(gconstpointer p)
{
	const ViommuAmdviKey *k = p;

	return g_direct_hash(k->bus) ^ k->devfn;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const ViommuAmdviKey *x = a, *y = b;

	return x->bus == y->bus && x->devfn == y->devfn;
}

static uint32_t as_devid(const ViommuAmdviAS *as)
{
	return PCI_BUILD_BDF(pci_bus_num(as->bus), as->devfn);
}

/* ---------------------------------------------------------------------------------------- */
/* Host ops: guest memory and interrupts                                                     */
/* ---------------------------------------------------------------------------------------- */

/* Bytes of RAM from @gpa on (up to @len): tables anywhere else are not memory. */
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

/* Table entries read in place for the call that asked (every call runs under the BQL). */
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

/*
 * The model's interrupt is the IOMMU function's MSI, as the guest programmed its capability. It
 * goes straight to the APIC's window in system memory: the IOMMU is not translated by itself,
 * and Linux does not set bus mastering on its function (msi_notify() would drop it).
 */
static void host_msi(void *opaque, uint64_t addr, uint32_t data)
{
	ViommuAmdviState *s = opaque;
	PCIDevice *pdev = &s->parent_obj.pci.dev;
	MemTxAttrs attrs = { .requester_id = pci_requester_id(pdev) };
	MSIMessage msg;

	if (!msi_enabled(pdev))
		return;
	msg = msi_get_message(pdev, 0);
	address_space_stl_le(&address_space_memory, msg.address, msg.data, attrs, NULL);
}

static void host_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	if (level <= VIOMMU_LOG_WARN)
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-amd-iommu: %s\n", msg);
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
	ViommuAmdviState *s = opaque;
	uint64_t val = 0;

	qemu_rec_mutex_lock(&s->lock);
	viommu_mmio_read(s->v, addr, size, &val);
	qemu_rec_mutex_unlock(&s->lock);
	return val;
}

static void mmio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
	ViommuAmdviState *s = opaque;

	qemu_rec_mutex_lock(&s->lock);
	viommu_mmio_write(s->v, addr, size, val);
	qemu_rec_mutex_unlock(&s->lock);
}

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
	ViommuAmdviAS *as = container_of(iommu, ViommuAmdviAS, iommu);
	ViommuAmdviState *s = as->s;
	struct viommu_xlate_req req = {
		.sid = as_devid(as),
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
	/* A blocked DMA: the model has logged the event and raised its interrupt. */
	if (ret || !viommu_xlate_ok(&res))
		return e;
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

/* [iova, last] to QEMU notifier @n as naturally aligned power-of-two pieces. */
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

/* Clipped to the notifier's range and to the 48-bit space Linux's tables address at most. */
static void as_notify_one(ViommuAmdviAS *as, IOMMUNotifier *n, IOMMUNotifierFlag type,
			  uint64_t iova, uint64_t last, uint64_t out, IOMMUAccessFlags perm)
{
	uint64_t lim = UINT64_MAX;
	uint64_t a = MAX(iova, n->start), b = MIN(MIN(last, lim), n->end);

	if ((n->notifier_flags & type) && a <= b)
		as_notify(n, type, a, b, out + (a - iova), perm);
}

static void as_notify_all(ViommuAmdviAS *as, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
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
	ViommuAmdviAS *as = opaque;
	IOMMUNotifierFlag type;

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

static int as_subscribe(ViommuAmdviAS *as)
{
	ViommuAmdviState *s = as->s;

	if (as->n) {
		viommu_notifier_del(s->v, as->n);
		as->n = NULL;
	}
	if (as->flags == IOMMU_NOTIFIER_NONE)
		return 0;
	return viommu_notifier_add(s->v, as_devid(as), model_events(as->flags), model_event, as,
				   &as->n);
}

static int iommu_notify_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
				     IOMMUNotifierFlag new, Error **errp)
{
	ViommuAmdviAS *as = container_of(iommu, ViommuAmdviAS, iommu);
	ViommuAmdviState *s = as->s;
	int ret;

	qemu_rec_mutex_lock(&s->lock);
	as->flags = new;
	ret = as_subscribe(as);
	if (old == IOMMU_NOTIFIER_NONE && new != IOMMU_NOTIFIER_NONE)
		QLIST_INSERT_HEAD(&s->notified, as, next);
	else if (old != IOMMU_NOTIFIER_NONE && new == IOMMU_NOTIFIER_NONE)
		QLIST_REMOVE(as, next);
	qemu_rec_mutex_unlock(&s->lock);
	if (ret) {
		error_setg(errp, "viommu-amd-iommu: notifier: %s", viommu_strerror(ret));
		return -ENOMEM;
	}
	return 0;
}

typedef struct ReplayCtx {
	ViommuAmdviAS *as;
	IOMMUNotifier *n;
} ReplayCtx;

static void replay_event(void *opaque, const struct viommu_event *ev)
{
	ReplayCtx *c = opaque;

	if (ev->type == VIOMMU_EV_MAP && !ev->has_pasid && ev->iova <= ev->last)
		as_notify_one(c->as, c->n, IOMMU_NOTIFIER_MAP, ev->iova, ev->last, ev->out,
			      to_qemu_perm(ev->perm));
}

static void iommu_replay(IOMMUMemoryRegion *iommu, IOMMUNotifier *n)
{
	ViommuAmdviAS *as = container_of(iommu, ViommuAmdviAS, iommu);
	ViommuAmdviState *s = as->s;
	ReplayCtx c = { .as = as, .n = n };
	struct viommu_notifier *tmp;

	if (n->notifier_flags & IOMMU_NOTIFIER_UNMAP)
		as_notify_one(as, n, IOMMU_NOTIFIER_UNMAP, n->start, n->end, 0, IOMMU_NONE);
	if (!(n->notifier_flags & IOMMU_NOTIFIER_MAP))
		return;
	qemu_rec_mutex_lock(&s->lock);
	if (viommu_notifier_add(s->v, as_devid(as), VIOMMU_EV_MAP, replay_event, &c, &tmp) == 0) {
		int ret = viommu_notifier_replay(s->v, tmp);

		if (ret)
			error_report("viommu-amd-iommu: replay: %s", viommu_strerror(ret));
		viommu_notifier_del(s->v, tmp);
	}
	qemu_rec_mutex_unlock(&s->lock);
}

static AddressSpace *host_dma_iommu(PCIBus *bus, void *opaque, int devfn)
{
	ViommuAmdviState *s = opaque;
	ViommuAmdviKey key = { .bus = bus, .devfn = (uint8_t)devfn };
	ViommuAmdviAS *as = g_hash_table_lookup(s->spaces, &key);
	char name[64];

	if (as)
		return &as->as;
	as = g_new0(ViommuAmdviAS, 1);
	as->s = s;
	as->bus = bus;
	as->devfn = (uint8_t)devfn;
	snprintf(name, sizeof(name), "viommu-amdvi-%p-%02x.%x", (void *)bus, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	memory_region_init_iommu(&as->iommu, sizeof(as->iommu), TYPE_VIOMMU_AMDVI_IOMMU_MR,
				 OBJECT(s), name, UINT64_MAX);
	memory_region_init(&as->root, OBJECT(s), name, UINT64_MAX);
	/* MSIs pass straight to the APIC (no interrupt remapping), above the IOMMU region. */
	memory_region_init_alias(&as->msi, OBJECT(s), "viommu-amdvi-msi", get_system_memory(),
				 VIOMMU_AMDVI_MSI_BASE, VIOMMU_AMDVI_MSI_SIZE);
	memory_region_add_subregion_overlap(&as->root, 0, MEMORY_REGION(&as->iommu), 0);
	memory_region_add_subregion_overlap(&as->root, VIOMMU_AMDVI_MSI_BASE, &as->msi, 1);
	address_space_init(&as->as, &as->root, name);
	g_hash_table_insert(s->spaces, g_memdup2(&key, sizeof(key)), as);
	return &as->as;
}

/* ---------------------------------------------------------------------------------------- */
/* Device                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* The IOMMU function's identity and capability block, from the model (read-only to the guest). */
static void pci_config_init(ViommuAmdviState *s)
{
	AMDVIState *p = &s->parent_obj;
	uint8_t *cfg = p->pci.dev.config;
	uint32_t hdr = 0, misc = 0, old;

	viommu_amdvi_pci_cap(s->v, &hdr, &misc);
	pci_config_set_vendor_id(cfg, PCI_VENDOR_ID_AMD);
	pci_config_set_prog_interface(cfg, 0);
	pci_config_set_device_id(cfg, p->devid);
	pci_config_set_class(cfg, 0x0806);
	/* Keep the capability id and next pointer pci_add_capability() wrote. */
	old = pci_get_long(cfg + p->capab_offset);
	pci_set_long(cfg + p->capab_offset, (old & 0xffff) | (hdr & 0xffff0000u));
	pci_set_long(cfg + p->capab_offset + VIOMMU_AMDVI_CAP_BAR_LO,
		     (AMDVI_BASE_ADDR & MAKE_64BIT_MASK(14, 18)) | VIOMMU_AMDVI_CAP_BAR_ENABLE);
	pci_set_long(cfg + p->capab_offset + VIOMMU_AMDVI_CAP_BAR_HI, AMDVI_BASE_ADDR >> 32);
	pci_set_long(cfg + p->capab_offset + VIOMMU_AMDVI_CAP_RANGE, 0xff000000);
	pci_set_long(cfg + p->capab_offset + VIOMMU_AMDVI_CAP_MISC0, misc);
}

static void print_stats(Notifier *n, void *data)
{
	ViommuAmdviState *s = container_of(n, ViommuAmdviState, exit_notifier);
	struct viommu_amdvi_stats st;

	if (!s->v || viommu_amdvi_get_stats(s->v, &st))
		return;
	fprintf(stderr,
		"viommu-amd-iommu stats: mmio_reads=%" PRIu64 " mmio_writes=%" PRIu64
		" translations=%" PRIu64 " iotlb_hits=%" PRIu64 " iotlb_misses=%" PRIu64
		" dte_hits=%" PRIu64 " dte_misses=%" PRIu64 " page_walks=%" PRIu64
		" faults=%" PRIu64 " events_logged=%" PRIu64 " events_lost=%" PRIu64
		" cmd_doorbells=%" PRIu64 " cmd_completion_wait=%" PRIu64 " cmd_inv_devtab=%" PRIu64
		" cmd_inv_pages=%" PRIu64 " cmd_inv_iotlb=%" PRIu64 " cmd_inv_irt=%" PRIu64
		" cmd_inv_all=%" PRIu64 " cmd_errors=%" PRIu64 " notify_map=%" PRIu64
		" notify_unmap=%" PRIu64 " notify_dev_iotlb=%" PRIu64 " interrupts=%" PRIu64 "\n",
		st.mmio_reads, st.mmio_writes, st.translations, st.iotlb_hits, st.iotlb_misses,
		st.dte_hits, st.dte_misses, st.page_walks, st.faults, st.events_logged,
		st.events_lost, st.cmd_doorbells, st.cmd_completion_wait, st.cmd_inv_devtab,
		st.cmd_inv_pages, st.cmd_inv_iotlb, st.cmd_inv_irt, st.cmd_inv_all, st.cmd_errors,
		st.notify_map, st.notify_unmap, st.notify_dev_iotlb, st.interrupts);
}

static void viommu_amdvi_realize(DeviceState *dev, Error **errp)
{
	PCMachineState *pcms = PC_MACHINE(qdev_get_machine());
	ViommuAmdviState *s = VIOMMU_AMD_IOMMU(dev);
	AMDVIState *p = AMD_IOMMU_DEVICE(dev);
	X86IOMMUState *x86 = X86_IOMMU_DEVICE(dev);
	PCIBus *bus = pcms->bus;
	int ret;

	if (x86_iommu_ir_supported(x86)) {
		error_setg(errp, "viommu-amd-iommu has no interrupt remapping: use intremap=off");
		return;
	}
	viommu_amdvi_config_init(&s->cfg);
	if (!x86->dt_supported)
		s->cfg.flags &= ~VIOMMU_AMDVI_IOTLB;
	ret = viommu_amdvi_create(&s->cfg, &host_ops, s, &s->v);
	if (ret) {
		error_setg(errp, "viommu-amd-iommu: viommu_amdvi_create: %s", viommu_strerror(ret));
		return;
	}
	/* The MSI capability decides (host_msi): the model always signals. */
	viommu_amdvi_set_msi(s->v, true, 0, 0);
	qemu_rec_mutex_init(&s->lock);
	QLIST_INIT(&s->notified);
	s->spaces = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);

	/* The IOMMU's PCI function, as amd-iommu lays it out (IVRS names these offsets). */
	if (!qdev_realize(DEVICE(&p->pci), &bus->qbus, errp))
		return;
	ret = pci_add_capability(&p->pci.dev, AMDVI_CAPAB_ID_SEC, 0, AMDVI_CAPAB_SIZE, errp);
	if (ret < 0)
		return;
	p->capab_offset = ret;
	ret = pci_add_capability(&p->pci.dev, PCI_CAP_ID_MSI, 0, AMDVI_CAPAB_REG_SIZE, errp);
	if (ret < 0)
		return;
	ret = pci_add_capability(&p->pci.dev, PCI_CAP_ID_HT, 0, AMDVI_CAPAB_REG_SIZE, errp);
	if (ret < 0)
		return;
	memory_region_init_io(&p->mmio, OBJECT(s), &mmio_ops, s, "viommu-amd-iommu",
			      VIOMMU_AMDVI_REG_SIZE);
	sysbus_init_mmio(SYS_BUS_DEVICE(s), &p->mmio);
	sysbus_mmio_map(SYS_BUS_DEVICE(s), 0, AMDVI_BASE_ADDR);
	pci_setup_iommu(bus, host_dma_iommu, s);
	p->devid = object_property_get_int(OBJECT(&p->pci), "addr", &error_abort);
	msi_init(&p->pci.dev, 0, 1, true, false, errp);
	pci_config_init(s);

	if (getenv("VIOMMU_QEMU_STATS")) {
		uint64_t efr = 0;

		viommu_mmio_read(s->v, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8, &efr);
		fprintf(stderr, "viommu-amd-iommu: efr %" PRIx64 "\n", efr);
		s->exit_notifier.notify = print_stats;
		qemu_add_exit_notifier(&s->exit_notifier);
	}
}

/* A system reset is a new IOMMU: a fresh model, and QEMU's notifiers told to forget it all. */
static void viommu_amdvi_reset(DeviceState *dev)
{
	ViommuAmdviState *s = VIOMMU_AMD_IOMMU(dev);
	struct viommu *v;
	ViommuAmdviAS *as;

	msi_reset(&s->parent_obj.pci.dev);
	if (viommu_amdvi_create(&s->cfg, &host_ops, s, &v)) {
		error_report("viommu-amd-iommu: reset: out of memory, keeping the old IOMMU");
		return;
	}
	viommu_amdvi_set_msi(v, true, 0, 0);
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
			error_report("viommu-amd-iommu: reset: cannot resubscribe notifiers");
	}
	qemu_rec_mutex_unlock(&s->lock);
	pci_config_init(s);
}

static const VMStateDescription viommu_amdvi_vmstate = {
	.name = TYPE_VIOMMU_AMD_IOMMU,
	.unmigratable = 1,
};

static void viommu_amdvi_class_init(ObjectClass *klass, void *data)
{
	DeviceClass *dc = DEVICE_CLASS(klass);
	X86IOMMUClass *x86_class = X86_IOMMU_DEVICE_CLASS(klass);

	dc->reset = viommu_amdvi_reset;
	dc->vmsd = &viommu_amdvi_vmstate;
	x86_class->realize = viommu_amdvi_realize;
	x86_class->int_remap = NULL;
	dc->desc = "AMD IOMMU (AMD-Vi) DMA remapping with libviommu's model";
}

static void viommu_amdvi_mr_class_init(ObjectClass *klass, void *data)
{
	IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

	imrc->translate = iommu_translate;
	imrc->notify_flag_changed = iommu_notify_flag_changed;
	imrc->replay = iommu_replay;
}

static const TypeInfo viommu_amdvi_info = {
	.name = TYPE_VIOMMU_AMD_IOMMU,
	.parent = TYPE_AMD_IOMMU_DEVICE,
	.instance_size = sizeof(ViommuAmdviState),
	.class_init = viommu_amdvi_class_init,
};

static const TypeInfo viommu_amdvi_mr_info = {
	.name = TYPE_VIOMMU_AMDVI_IOMMU_MR,
	.parent = TYPE_IOMMU_MEMORY_REGION,
	.class_init = viommu_amdvi_mr_class_init,
};

static void viommu_amdvi_register_types(void)
{
	type_register_static(&viommu_amdvi_info);
	type_register_static(&viommu_amdvi_mr_info);
}

type_init(viommu_amdvi_register_types)
