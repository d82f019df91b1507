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
 * Interrupt remapping is not offered (intremap=off). gt=on advertises guest (v2) translation
 * (EFR GTSup, GIoSup, GLXSup, PASmax; 4-level guest tables), which Linux 6.12 needs for
 * amd_iommu=pgtbl_v2. npcache=off drops the capability's NpCache (Linux then allows lazy mode).
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

#include "hw/viommu/viommu-qemu.h"

#define TYPE_VIOMMU_AMD_IOMMU "viommu-amd-iommu"
#define TYPE_VIOMMU_AMDVI_IOMMU_MR "viommu-amd-iommu-memory-region"

/* The interrupt range: DMA writes there are MSIs, never remapped. */
#define VIOMMU_AMDVI_MSI_BASE VIOMMU_AMDVI_INTR_ADDR_FIRST
#define VIOMMU_AMDVI_MSI_SIZE (VIOMMU_AMDVI_INTR_ADDR_LAST - VIOMMU_AMDVI_INTR_ADDR_FIRST + 1)

typedef struct ViommuAmdviState ViommuAmdviState;
DECLARE_INSTANCE_CHECKER(ViommuAmdviState, VIOMMU_AMD_IOMMU, TYPE_VIOMMU_AMD_IOMMU)

struct ViommuAmdviState {
	AMDVIState parent_obj;
	ViommuQemuUnit u;
	struct viommu_amdvi_config cfg;
	bool gt;      /* property gt: advertise guest (v2) translation, VIOMMU_AMDVI_GT */
	bool npcache; /* property npcache: capability NpCache, VIOMMU_AMDVI_NPCACHE */
	bool ppr;     /* property ppr: PPRSup and EPHSup, VIOMMU_AMDVI_PPR | VIOMMU_AMDVI_EPH */
};

/* ---------------------------------------------------------------------------------------- */
/* Host ops: interrupts                                                                      */
/* ---------------------------------------------------------------------------------------- */

/*
 * The model's interrupt is the IOMMU function's MSI, as the guest programmed its capability. It
 * goes straight to the APIC's window in system memory: the IOMMU is not translated by itself,
 * and Linux does not set bus mastering on its function (msi_notify() would drop it).
 */
static void host_msi(void *opaque, uint64_t addr, uint32_t data)
{
	ViommuAmdviState *s = container_of(opaque, ViommuAmdviState, u);
	PCIDevice *pdev = &s->parent_obj.pci.dev;
	MemTxAttrs attrs = { .requester_id = pci_requester_id(pdev) };
	MSIMessage msg;

	if (!msi_enabled(pdev))
		return;
	msg = msi_get_message(pdev, 0);
	address_space_stl_le(&address_space_memory, msg.address, msg.data, attrs, NULL);
}

static const struct viommu_host_ops host_ops = {
	.dma_read = viommu_qemu_dma_read,
	.dma_write = viommu_qemu_dma_write,
	.msi = host_msi,
	.log = viommu_qemu_log,
	.dma_map_ptr = viommu_qemu_dma_map_ptr,
};

/* ---------------------------------------------------------------------------------------- */
/* Device                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* The IOMMU function's identity and capability block, from the model (read-only to the guest). */
static void pci_config_init(ViommuAmdviState *s)
{
	AMDVIState *p = &s->parent_obj;
	uint8_t *cfg = p->pci.dev.config;
	uint32_t hdr = 0, misc = 0, old;

	viommu_amdvi_pci_cap(s->u.v, &hdr, &misc);
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

static void print_stats(ViommuQemuUnit *u)
{
	struct viommu_amdvi_stats st;

	if (viommu_amdvi_get_stats(u->v, &st))
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
	/* GTSup and GIoSup: what Linux 6.12 needs to use v2 tables for DMA (amd_iommu=pgtbl_v2). */
	if (s->gt)
		s->cfg.flags |= VIOMMU_AMDVI_GT;
	/*
	 * PPRSup and EPHSup: with GT (and GIoSup) what Linux 6.12 needs before it reads a device's
	 * ATS capability (amd_iommu_gt_ppr_supported()). No emulated device sends page requests,
	 * so the PPR log stays empty and COMPLETE_PPR_REQUEST has nobody to answer.
	 */
	if (s->ppr)
		s->cfg.flags |= VIOMMU_AMDVI_PPR | VIOMMU_AMDVI_EPH;
	/*
	 * Linux forces strict invalidation on an IOMMU with NpCache ("Using strict mode due to
	 * virtualization"): npcache=off lets iommu.strict=0 give lazy (flush queue) domains, for
	 * guests whose devices need no MAP/UNMAP consumer (vhost without ATS needs NpCache).
	 */
	if (!s->npcache)
		s->cfg.flags &= ~VIOMMU_AMDVI_NPCACHE;
	s->u.owner = OBJECT(s);
	s->u.name = TYPE_VIOMMU_AMD_IOMMU;
	s->u.mr_type = TYPE_VIOMMU_AMDVI_IOMMU_MR;
	s->u.as_name = "viommu-amdvi";
	s->u.msi_base = VIOMMU_AMDVI_MSI_BASE;
	s->u.msi_size = VIOMMU_AMDVI_MSI_SIZE;
	/* Notifications are clipped to the notifiers' ranges only. */
	s->u.iova_last = UINT64_MAX;
	s->u.print_stats = print_stats;
	ret = viommu_amdvi_create(&s->cfg, &host_ops, &s->u, &s->u.v);
	if (ret) {
		error_setg(errp, "viommu-amd-iommu: viommu_amdvi_create: %s", viommu_strerror(ret));
		return;
	}
	/* The MSI capability decides (host_msi): the model always signals. */
	viommu_amdvi_set_msi(s->u.v, true, 0, 0);
	viommu_qemu_init(&s->u);

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
	memory_region_init_io(&p->mmio, OBJECT(s), &viommu_qemu_mmio_ops, &s->u, "viommu-amd-iommu",
			      VIOMMU_AMDVI_REG_SIZE);
	sysbus_init_mmio(SYS_BUS_DEVICE(s), &p->mmio);
	sysbus_mmio_map(SYS_BUS_DEVICE(s), 0, AMDVI_BASE_ADDR);
	pci_setup_iommu(bus, viommu_qemu_dma_as, &s->u);
	p->devid = object_property_get_int(OBJECT(&p->pci), "addr", &error_abort);
	msi_init(&p->pci.dev, 0, 1, true, false, errp);
	pci_config_init(s);

	if (getenv("VIOMMU_QEMU_STATS")) {
		uint64_t efr = 0;

		viommu_mmio_read(s->u.v, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8, &efr);
		fprintf(stderr, "viommu-amd-iommu: efr %" PRIx64 "\n", efr);
		viommu_qemu_stats_at_exit(&s->u);
	}
}

/* A system reset is a new IOMMU: a fresh model, and QEMU's notifiers told to forget it all. */
static void viommu_amdvi_reset(DeviceState *dev)
{
	ViommuAmdviState *s = VIOMMU_AMD_IOMMU(dev);
	struct viommu *v;

	msi_reset(&s->parent_obj.pci.dev);
	if (viommu_amdvi_create(&s->cfg, &host_ops, &s->u, &v)) {
		error_report("viommu-amd-iommu: reset: out of memory, keeping the old IOMMU");
		return;
	}
	viommu_amdvi_set_msi(v, true, 0, 0);
	viommu_qemu_swap_model(&s->u, v);
	pci_config_init(s);
}

static const VMStateDescription viommu_amdvi_vmstate = {
	.name = TYPE_VIOMMU_AMD_IOMMU,
	.unmigratable = 1,
};

static Property viommu_amdvi_props[] = {
	DEFINE_PROP_BOOL("gt", ViommuAmdviState, gt, false),
	DEFINE_PROP_BOOL("npcache", ViommuAmdviState, npcache, true),
	DEFINE_PROP_BOOL("ppr", ViommuAmdviState, ppr, false),
	DEFINE_PROP_END_OF_LIST(),
};

static void viommu_amdvi_class_init(ObjectClass *klass, void *data)
{
	DeviceClass *dc = DEVICE_CLASS(klass);
	X86IOMMUClass *x86_class = X86_IOMMU_DEVICE_CLASS(klass);

	dc->reset = viommu_amdvi_reset;
	dc->vmsd = &viommu_amdvi_vmstate;
	device_class_set_props(dc, viommu_amdvi_props);
	x86_class->realize = viommu_amdvi_realize;
	x86_class->int_remap = NULL;
	dc->desc = "AMD IOMMU (AMD-Vi) DMA remapping with libviommu's model";
}

static void viommu_amdvi_mr_class_init(ObjectClass *klass, void *data)
{
	IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

	imrc->translate = viommu_qemu_translate;
	imrc->notify_flag_changed = viommu_qemu_notify_flag_changed;
	imrc->replay = viommu_qemu_replay;
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
