// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device-independent half of viommu's QEMU devices (hw/i386/viommu-vtd.c,
 * hw/i386/viommu-amdvi.c, hw/arm/viommu-smmuv3.c): guest memory for the model, one address space
 * per PCI function (IOMMU region, under an MSI alias where the platform's interrupt window
 * bypasses the IOMMU), translate, QEMU notifiers fed from libviommu events, replay, reset's model
 * swap and the exit-time statistics hook. Target-independent (compiled once for every target).
 * Each device keeps its registers, realize/reset, properties, interrupts and requester id rules.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#ifndef VIOMMU_QEMU_H
#define VIOMMU_QEMU_H

#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "qemu/notify.h"
#include "qemu/queue.h"
#include "qemu/thread.h"

#include <viommu/viommu.h>

typedef struct ViommuQemuUnit ViommuQemuUnit;

/* One PCI function's view of memory: our IOMMU region (under the interrupt window, if any). */
typedef struct ViommuQemuAS {
	ViommuQemuUnit *u;
	PCIBus *bus;
	uint8_t devfn;
	int root_bus_num; /* @bus's number if it is a root bus (fixed), else -1 */
	AddressSpace as;
	IOMMUMemoryRegion iommu;
	MemoryRegion root;
	MemoryRegion msi;
	IOMMUNotifierFlag flags;   /* what QEMU's notifiers on @iommu want */
	struct viommu_notifier *n; /* our subscription for them, NULL when none */
	/* Translate requests from this function, and how many the unit refused (under the lock). */
	uint64_t translations, blocked;
	QLIST_ENTRY(ViommuQemuAS) next;
} ViommuQemuAS;

/* Embedded in each device's state; the device fills the constant part before viommu_qemu_init. */
struct ViommuQemuUnit {
	/* Set by the device. */
	Object *owner;
	const char *name;    /* device name, prefix of every message */
	const char *mr_type; /* the device's IOMMU memory region type */
	const char *as_name; /* prefix of the address spaces' names */
	/*
	 * DMA writes to [msi_base, msi_base + msi_size) reach system memory untranslated (x86's
	 * interrupt window); msi_size 0: none, every DMA is translated (Arm: the SMMU translates
	 * MSIs too).
	 */
	hwaddr msi_base, msi_size;
	uint64_t iova_last; /* nothing translates above: notifications are clipped to it */
	void (*print_stats)(ViommuQemuUnit *u);
	/* State. */
	struct viommu *v;
	/* libviommu is not thread-safe; notifiers may call back into translate. */
	QemuRecMutex lock;
	GHashTable *spaces; /* (bus, devfn) -> ViommuQemuAS */
	QLIST_HEAD(, ViommuQemuAS) notified;
	Notifier exit_notifier;
};

/* Host ops over address_space_memory; the opaque is the ViommuQemuUnit. */
ssize_t viommu_qemu_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len);
ssize_t viommu_qemu_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len);
void *viommu_qemu_dma_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			      struct viommu_dma_span *span);
void viommu_qemu_log(void *opaque, enum viommu_log_level level, const char *msg);

void viommu_qemu_init(ViommuQemuUnit *u);
uint32_t viommu_qemu_sid(const ViommuQemuAS *as);
/* The PCIIOMMUFunc: pci_setup_iommu(bus, viommu_qemu_dma_as, u). */
AddressSpace *viommu_qemu_dma_as(PCIBus *bus, void *opaque, int devfn);
/* Registers: hand the guest's own access to the model, under the lock. */
extern const MemoryRegionOps viommu_qemu_mmio_ops;

IOMMUTLBEntry viommu_qemu_translate(IOMMUMemoryRegion *iommu, hwaddr addr, IOMMUAccessFlags flag,
				    int iommu_idx);
int viommu_qemu_notify_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
				    IOMMUNotifierFlag new, Error **errp);
void viommu_qemu_replay(IOMMUMemoryRegion *iommu, IOMMUNotifier *n);
/* Reset: replace the model by @v, telling QEMU's notifiers to forget the old one's mappings. */
void viommu_qemu_swap_model(ViommuQemuUnit *u, struct viommu *v);
/* Call u->print_stats at exit. */
void viommu_qemu_stats_at_exit(ViommuQemuUnit *u);
/*
 * One line on stderr, "@prefix devices: BB:DD.F TYPE translations=N blocked=M; ...": each PCI
 * function that asked the unit for a translation, by requester id (which unit served whom).
 */
void viommu_qemu_print_devices(ViommuQemuUnit *u, const char *prefix);

#endif
