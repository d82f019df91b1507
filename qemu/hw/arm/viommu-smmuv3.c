// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * viommu-smmuv3: an Arm SMMUv3 for the virt machine with libviommu's SMMUv3 model inside.
 *
 * virt,iommu=viommu-smmuv3 creates it where virt,iommu=smmuv3 creates QEMU's arm-smmuv3: the same
 * MMIO window, SPIs, device-tree node and IORT entry (virt.c keeps generating them), the same
 * "primary-bus" link. Everything the guest programs goes to libviommu:
 *   MMIO pages 0 and 1 (128 KiB)          -> viommu_mmio_read / viommu_mmio_write
 *   each PCI function's IOMMU region      -> viommu_translate (StreamID = RID, bus << 8 | devfn,
 *                                            as virt's iommu-map / IORT ID mapping say)
 *   IOMMU notifiers (vhost, VFIO)         <- libviommu MAP / UNMAP / DEVIOTLB_UNMAP events
 *   notifier replay                       -> viommu_notifier_replay
 *   eventq, priq, cmdq-sync, gerror        <- host ops irq, pulsed on the four SPIs
 *   MSIs, CMD_SYNC's MSI write             <- host ops msi, a 32-bit write to guest memory
 *   stream/CD tables, queues, page tables <- host ops dma_read / dma_write / dma_map_ptr
 * Configuration: -global viommu-smmuv3.PROPERTY=VALUE (virt creates the device itself).
 * VIOMMU_QEMU_STATS=1 in QEMU's environment prints the ID registers at realize and the model's
 * statistics at exit on stderr.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#include "qemu/osdep.h"

#include "exec/address-spaces.h"
#include "hw/irq.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "hw/sysbus.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/rcu.h"

#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>
#include <viommu/viommu.h>

#include "hw/viommu/viommu-qemu.h"

#define TYPE_VIOMMU_SMMUV3 "viommu-smmuv3"
#define TYPE_VIOMMU_SMMUV3_MR "viommu-smmuv3-memory-region"
#define VIOMMU_SMMUV3_NUM_IRQS 4

typedef struct ViommuSmmuv3State ViommuSmmuv3State;
DECLARE_INSTANCE_CHECKER(ViommuSmmuv3State, VIOMMU_SMMUV3, TYPE_VIOMMU_SMMUV3)

struct ViommuSmmuv3State {
	SysBusDevice parent_obj;
	PCIBus *primary_bus;
	MemoryRegion mmio;
	qemu_irq irq[VIOMMU_SMMUV3_NUM_IRQS];
	ViommuQemuUnit u;
	struct viommu_smmuv3_config cfg;
	/* Properties: what the guest is offered, over viommu_smmuv3_config_init's defaults. */
	bool stage1, stage2, ril, ats, pri, httu, msi, caching_mode;
	uint32_t oas_bits, sid_bits;
};

/* ---------------------------------------------------------------------------------------- */
/* Host ops: interrupts                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* A wired interrupt: virt declares the four SPIs edge-triggered, so the model pulses them. */
static void host_irq(void *opaque, unsigned int line, bool level)
{
	ViommuSmmuv3State *s = container_of(opaque, ViommuSmmuv3State, u);

	if (line < VIOMMU_SMMUV3_NUM_IRQS)
		qemu_set_irq(s->irq[line], level);
}

/*
 * An MSI (the guest's *_IRQ_CFG0 address) or CMD_SYNC's completion write: a 32-bit write to the
 * guest-physical address, where a GICv3 ITS doorbell or plain memory answers. Never into our own
 * registers: the model is in the middle of a command, and the guest chose the address.
 */
static void host_msi(void *opaque, uint64_t addr, uint32_t data)
{
	ViommuSmmuv3State *s = container_of(opaque, ViommuSmmuv3State, u);
	MemoryRegion *mr;
	hwaddr xlat, len = 4;

	RCU_READ_LOCK_GUARD();
	mr = address_space_translate(&address_space_memory, addr, &xlat, &len, true,
				     MEMTXATTRS_UNSPECIFIED);
	if (mr == &s->mmio) {
		qemu_log_mask(LOG_GUEST_ERROR, "%s: MSI write to its own registers dropped\n",
			      TYPE_VIOMMU_SMMUV3);
		return;
	}
	address_space_stl_le(&address_space_memory, addr, data, MEMTXATTRS_UNSPECIFIED, NULL);
}

static const struct viommu_host_ops host_ops = {
	.dma_read = viommu_qemu_dma_read,
	.dma_write = viommu_qemu_dma_write,
	.msi = host_msi,
	.irq = host_irq,
	.log = viommu_qemu_log,
	.dma_map_ptr = viommu_qemu_dma_map_ptr,
};

/* ---------------------------------------------------------------------------------------- */
/* Device                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/*
 * At exit, per instance (virt,x-viommu-pcie2=on makes one per host bridge): the model's counters
 * and the functions it translated for, each line tagged with the instance's primary bus.
 */
static void print_stats(ViommuQemuUnit *u)
{
	ViommuSmmuv3State *s = container_of(u, ViommuSmmuv3State, u);
	const char *bus = BUS(s->primary_bus)->name;
	struct viommu_smmuv3_stats st;
	char *prefix;

	if (viommu_smmuv3_get_stats(u->v, &st))
		return;
	fprintf(stderr,
		"viommu-smmuv3 stats: bus=%s mmio_reads=%" PRIu64 " mmio_writes=%" PRIu64
		" mmio_ignored=%" PRIu64 " translations=%" PRIu64 " iotlb_hits=%" PRIu64
		" iotlb_misses=%" PRIu64 " cfg_hits=%" PRIu64 " cfg_misses=%" PRIu64
		" page_walks=%" PRIu64 " faults=%" PRIu64 " events_logged=%" PRIu64
		" events_suppressed=%" PRIu64 " events_lost=%" PRIu64 " cmd_doorbells=%" PRIu64
		" cmds=%" PRIu64 " cmd_sync=%" PRIu64 " cmd_cfgi=%" PRIu64 " cmd_tlbi=%" PRIu64
		" cmd_tlbi_range=%" PRIu64 " cmd_atc_inv=%" PRIu64 " cmd_errors=%" PRIu64
		" notify_map=%" PRIu64 " notify_unmap=%" PRIu64 " notify_dev_iotlb=%" PRIu64
		" msis=%" PRIu64 " wired_irqs=%" PRIu64 "\n",
		bus, st.mmio_reads, st.mmio_writes, st.mmio_ignored, st.translations, st.iotlb_hits,
		st.iotlb_misses, st.cfg_hits, st.cfg_misses, st.page_walks, st.faults,
		st.events_logged, st.events_suppressed, st.events_lost, st.cmd_doorbells, st.cmds,
		st.cmd_sync, st.cmd_cfgi, st.cmd_tlbi, st.cmd_tlbi_range, st.cmd_atc_inv,
		st.cmd_errors, st.notify_map, st.notify_unmap, st.notify_dev_iotlb, st.msis,
		st.wired_irqs);
	prefix = g_strdup_printf("viommu-smmuv3 bus=%s", bus);
	viommu_qemu_print_devices(u, prefix);
	g_free(prefix);
}

static void set_flag(uint32_t *flags, uint32_t flag, bool on)
{
	*flags = on ? *flags | flag : *flags & ~flag;
}

static void vsmmu_realize(DeviceState *dev, Error **errp)
{
	ViommuSmmuv3State *s = VIOMMU_SMMUV3(dev);
	SysBusDevice *sbd = SYS_BUS_DEVICE(dev);
	int i, ret;

	if (!s->primary_bus) {
		error_setg(errp, "%s: no primary-bus", TYPE_VIOMMU_SMMUV3);
		return;
	}
	viommu_smmuv3_config_init(&s->cfg);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_S1, s->stage1);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_S2, s->stage2);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_RIL, s->ril);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_ATS, s->ats);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_PRI, s->pri);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_HTTU, s->httu);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_MSI, s->msi);
	set_flag(&s->cfg.flags, VIOMMU_SMMUV3_CM, s->caching_mode);
	if (s->oas_bits)
		s->cfg.oas_bits = s->oas_bits;
	if (s->sid_bits)
		s->cfg.sid_bits = s->sid_bits;

	s->u.owner = OBJECT(s);
	s->u.name = TYPE_VIOMMU_SMMUV3;
	s->u.mr_type = TYPE_VIOMMU_SMMUV3_MR;
	s->u.as_name = "viommu-smmuv3";
	/* The SMMU translates MSIs like any other write: no window passes untranslated. */
	s->u.msi_base = 0;
	s->u.msi_size = 0;
	s->u.iova_last = UINT64_MAX;
	s->u.print_stats = print_stats;
	ret = viommu_smmuv3_create(&s->cfg, &host_ops, &s->u, &s->u.v);
	if (ret) {
		error_setg(errp, "%s: viommu_smmuv3_create: %s", TYPE_VIOMMU_SMMUV3,
			   viommu_strerror(ret));
		return;
	}
	viommu_qemu_init(&s->u);

	memory_region_init_io(&s->mmio, OBJECT(s), &viommu_qemu_mmio_ops, &s->u, TYPE_VIOMMU_SMMUV3,
			      VIOMMU_SMMUV3_REG_SIZE);
	sysbus_init_mmio(sbd, &s->mmio);
	for (i = 0; i < VIOMMU_SMMUV3_NUM_IRQS; i++)
		sysbus_init_irq(sbd, &s->irq[i]);
	pci_setup_iommu(s->primary_bus, viommu_qemu_dma_as, &s->u);

	if (getenv("VIOMMU_QEMU_STATS")) {
		uint64_t idr[6] = { 0 };

		for (i = 0; i < 6; i++)
			viommu_mmio_read(s->u.v, VIOMMU_SMMUV3_IDR0 + 4 * i, 4, &idr[i]);
		fprintf(stderr,
			"viommu-smmuv3: idr0 %08" PRIx64 " idr1 %08" PRIx64 " idr3 %08" PRIx64
			" idr5 %08" PRIx64 "\n",
			idr[0], idr[1], idr[3], idr[5]);
		viommu_qemu_stats_at_exit(&s->u);
	}
}

/* A system reset is a new SMMU: a fresh model, and QEMU's notifiers told to forget it all. */
static void vsmmu_reset(DeviceState *dev)
{
	ViommuSmmuv3State *s = VIOMMU_SMMUV3(dev);
	struct viommu *v;
	int i;

	if (!s->u.v)
		return;
	for (i = 0; i < VIOMMU_SMMUV3_NUM_IRQS; i++)
		qemu_irq_lower(s->irq[i]);
	if (viommu_smmuv3_create(&s->cfg, &host_ops, &s->u, &v)) {
		error_report("%s: reset: out of memory, keeping the old SMMU", TYPE_VIOMMU_SMMUV3);
		return;
	}
	viommu_qemu_swap_model(&s->u, v);
}

static Property vsmmu_properties[] = {
	DEFINE_PROP_LINK("primary-bus", ViommuSmmuv3State, primary_bus, TYPE_PCI_BUS, PCIBus *),
	DEFINE_PROP_BOOL("stage1", ViommuSmmuv3State, stage1, true),
	DEFINE_PROP_BOOL("stage2", ViommuSmmuv3State, stage2, true),
	DEFINE_PROP_BOOL("ril", ViommuSmmuv3State, ril, true),
	DEFINE_PROP_BOOL("ats", ViommuSmmuv3State, ats, true),
	DEFINE_PROP_BOOL("pri", ViommuSmmuv3State, pri, true),
	DEFINE_PROP_BOOL("httu", ViommuSmmuv3State, httu, true),
	DEFINE_PROP_BOOL("msi", ViommuSmmuv3State, msi, true),
	/* Seed 000's quirk: the guest must be told by other means (no register says it). */
	DEFINE_PROP_BOOL("caching-mode", ViommuSmmuv3State, caching_mode, false),
	DEFINE_PROP_UINT32("oas", ViommuSmmuv3State, oas_bits, 0),
	DEFINE_PROP_UINT32("sid-bits", ViommuSmmuv3State, sid_bits, 0),
	DEFINE_PROP_END_OF_LIST(),
};

static const VMStateDescription vsmmu_vmstate = {
	.name = TYPE_VIOMMU_SMMUV3,
	.unmigratable = 1,
};

static void vsmmu_class_init(ObjectClass *klass, void *data)
{
	DeviceClass *dc = DEVICE_CLASS(klass);

	dc->realize = vsmmu_realize;
	dc->reset = vsmmu_reset;
	dc->vmsd = &vsmmu_vmstate;
	device_class_set_props(dc, vsmmu_properties);
	/* Created by the virt machine (iommu=viommu-smmuv3), which wires and describes it. */
	dc->user_creatable = false;
	dc->desc = "Arm SMMUv3 with libviommu's model";
}

static void vsmmu_mr_class_init(ObjectClass *klass, void *data)
{
	IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

	imrc->translate = viommu_qemu_translate;
	imrc->notify_flag_changed = viommu_qemu_notify_flag_changed;
	imrc->replay = viommu_qemu_replay;
}

static const TypeInfo vsmmu_info = {
	.name = TYPE_VIOMMU_SMMUV3,
	.parent = TYPE_SYS_BUS_DEVICE,
	.instance_size = sizeof(ViommuSmmuv3State),
	.class_init = vsmmu_class_init,
};

static const TypeInfo vsmmu_mr_info = {
	.name = TYPE_VIOMMU_SMMUV3_MR,
	.parent = TYPE_IOMMU_MEMORY_REGION,
	.class_init = vsmmu_mr_class_init,
};

static void vsmmu_register_types(void)
{
	type_register_static(&vsmmu_info);
	type_register_static(&vsmmu_mr_info);
}

type_init(vsmmu_register_types)
