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

#include "hw/viommu/viommu-qemu.h"

#define TYPE_VIOMMU_INTEL_IOMMU "viommu-intel-iommu"
#define TYPE_VIOMMU_VTD_IOMMU_MR "viommu-intel-iommu-memory-region"

/* The interrupt range (VT-d §3.14): DMA writes there are MSIs, never remapped. */
#define VIOMMU_VTD_MSI_BASE VIOMMU_VTD_INTR_ADDR_FIRST
#define VIOMMU_VTD_MSI_SIZE (VIOMMU_VTD_INTR_ADDR_LAST - VIOMMU_VTD_INTR_ADDR_FIRST + 1)

typedef struct ViommuVtdState ViommuVtdState;
DECLARE_INSTANCE_CHECKER(ViommuVtdState, VIOMMU_INTEL_IOMMU, TYPE_VIOMMU_INTEL_IOMMU)

struct ViommuVtdState {
	IntelIOMMUState parent_obj;
	ViommuQemuUnit u;
	struct viommu_vtd_config cfg;
};

/* ---------------------------------------------------------------------------------------- */
/* Host ops: guest memory and interrupts                                                     */
/* ---------------------------------------------------------------------------------------- */

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

static const struct viommu_host_ops host_ops = {
	.dma_read = viommu_qemu_dma_read,
	.dma_write = viommu_qemu_dma_write,
	.msi = host_msi,
	.log = viommu_qemu_log,
	.dma_map_ptr = viommu_qemu_dma_map_ptr,
};

/* ---------------------------------------------------------------------------------------- */
/* Notifiers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* MAP notifiers need caching mode, DEVIOTLB ones a device-TLB: the rest is common. */
static int iommu_notify_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
				     IOMMUNotifierFlag new, Error **errp)
{
	ViommuQemuAS *as = container_of(iommu, ViommuQemuAS, iommu);
	ViommuVtdState *s = container_of(as->u, ViommuVtdState, u);

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
	return viommu_qemu_notify_flag_changed(iommu, old, new, errp);
}

/* ---------------------------------------------------------------------------------------- */
/* Device                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void print_stats(ViommuQemuUnit *u)
{
	struct viommu_vtd_stats st;

	if (viommu_vtd_get_stats(u->v, &st))
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
	s->u.owner = OBJECT(s);
	s->u.name = TYPE_VIOMMU_INTEL_IOMMU;
	s->u.mr_type = TYPE_VIOMMU_VTD_IOMMU_MR;
	s->u.as_name = "viommu-vtd";
	s->u.msi_base = VIOMMU_VTD_MSI_BASE;
	s->u.msi_size = VIOMMU_VTD_MSI_SIZE;
	s->u.iova_last = (1ull << s->cfg.aw_bits) - 1;
	s->u.print_stats = print_stats;
	ret = viommu_vtd_create(&s->cfg, &host_ops, &s->u, &s->u.v);
	if (ret) {
		error_setg(errp, "viommu-intel-iommu: viommu_vtd_create: %s", viommu_strerror(ret));
		return;
	}
	viommu_qemu_init(&s->u);

	memory_region_init_io(&is->csrmem, OBJECT(s), &viommu_qemu_mmio_ops, &s->u,
			      "viommu-intel-iommu", VIOMMU_VTD_REG_SIZE);
	sysbus_init_mmio(SYS_BUS_DEVICE(s), &is->csrmem);
	sysbus_mmio_map(SYS_BUS_DEVICE(s), 0, Q35_HOST_BRIDGE_IOMMU_ADDR);
	pci_setup_iommu(pcms->bus, viommu_qemu_dma_as, &s->u);

	if (getenv("VIOMMU_QEMU_STATS")) {
		uint64_t cap = 0, ecap = 0;

		/* What the guest's driver will print: the test compares the two. */
		viommu_mmio_read(s->u.v, VIOMMU_VTD_CAP_REG, 8, &cap);
		viommu_mmio_read(s->u.v, VIOMMU_VTD_ECAP_REG, 8, &ecap);
		fprintf(stderr, "viommu-intel-iommu: cap %" PRIx64 " ecap %" PRIx64 "\n", cap,
			ecap);
		viommu_qemu_stats_at_exit(&s->u);
	}
}

/* A system reset is a new unit: a fresh model, and QEMU's notifiers told to forget it all. */
static void viommu_vtd_reset(DeviceState *dev)
{
	ViommuVtdState *s = VIOMMU_INTEL_IOMMU(dev);
	struct viommu *v;

	if (viommu_vtd_create(&s->cfg, &host_ops, &s->u, &v)) {
		error_report("viommu-intel-iommu: reset: out of memory, keeping the old unit");
		return;
	}
	viommu_qemu_swap_model(&s->u, v);
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

	imrc->translate = viommu_qemu_translate;
	imrc->notify_flag_changed = iommu_notify_flag_changed;
	imrc->replay = viommu_qemu_replay;
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
