/* SPDX-License-Identifier: MIT */
/*
 * AMD hardware-assisted vIOMMU (HW-vIOMMU) on the AMD-Vi model (<viommu/amdvi.h>, created with
 * VIOMMU_AMDVI_HWV). Layouts are in <viommu/spec/amdvi.h>, "Hardware-assisted vIOMMU", with the
 * sources they come from and what was chosen where nothing is public.
 *
 * Two halves, as on a real system:
 *
 * The hardware (the model): EFR bit 55, the Vendor-Specific Capability (viommu_amdvi_vsc()), one
 * VF MMIO page per Guest ID (viommu_amdvi_vf_mmio_read/write: the guest's own pointer page,
 * reached without an exit), one VFCtrl block per Guest ID (viommu_amdvi_vfctrl_read/write: host
 * only), control bits vIOMMU_EN and vCMD_EN. The IOMMU reaches its private address space through
 * the v1 table of its own DeviceID (viommu_amdvi_config.iommu_devid), holding per guest the guest
 * MMIO area, the command-buffer dirty bit, the DeviceID map, the DomainID map and windows onto the
 * guest's command buffer, event log and PPR log. A guest tail write runs the guest's commands:
 * guest DeviceIDs and DomainIDs go through the maps (an unmapped one makes the command illegal:
 * ILLEGAL_COMMAND_ERROR in the guest's log, the guest's buffer stops), completion-wait stores go
 * to guest-physical addresses through the v1 table of the guest's TransDevID, and the host's
 * IOTLB, DTE cache and consumers see the host IDs. A device whose DTE has vImuEn reports
 * guest-stage faults (GCR3 and guest v2 tables) in its guest's event log with its GDeviceID and
 * the guest's DomainID or PASID; host-stage faults (the v1 table under them) stay in the host's
 * log with host IDs. INSERT_GUEST_EVENT and RESET_VMMIO are host commands. A private space access
 * that fails is logged in the host's log (VIOMMU_HARDWARE_ERROR, GUEST_EVENT_FAULT).
 *
 * The host driver (functions below taking a Guest ID; the library plays the host kernel's
 * iommufd driver, the VMM calls it): viommu_amdvi_hwv_init() at boot (private space, the
 * IOMMU's own DTE, vIOMMU_EN, vCMD_EN, GTEn), then per guest the objects of iommufd:
 * IOMMU_VIOMMU_ALLOC (viommu_amdvi_hwv_create), IOMMU_VDEVICE_ALLOC (add_device),
 * IOMMU_HW_QUEUE_ALLOC (set_queue), a nested HWPT from the guest's DTE (set_dte), the trapped
 * register page (ctrl_read/write) and destroy. It writes its structures in host memory through
 * the host ops and the allocator given to init, and tells the model's caches what it changed
 * as its INVALIDATE_DEVTAB_ENTRY and INVALIDATE_IOMMU_PAGES would.
 *
 * Guest memory: a guest's guest-physical space is what the v1 table of its TransDevID (a DeviceID
 * whose DTE the VMM set up as the nest parent, Mode 1-6) maps; the host driver pins queues through
 * the VMM's gpa_to_spa().
 *
 * viommu_amdvi_hwv_view() gives a struct viommu for one guest as its VMM exposes it: page 0 is the
 * trapped control page, page 2000h the VF MMIO page, translations take guest DeviceIDs. An
 * unmodified AMD-Vi guest driver with v2 tables runs on it; its DTE writes reach the host
 * through viommu_amdvi_hwv_dte_trap() (the VMM write-protects the guest's device table).
 *
 * Not modelled: event log B and PPR log B, sVIOMMU, guest PPR logs beyond their location, guest
 * interrupt remapping and GA (vAPIC), more than VIOMMU_AMDVI_HWV_GUESTS guests at once.
 */
#ifndef VIOMMU_AMDVI_HWV_H
#define VIOMMU_AMDVI_HWV_H

#include <viommu/amdvi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Guest IDs 1..VIOMMU_AMDVI_HWV_GUESTS - 1 (0 is never allocated). */
#define VIOMMU_AMDVI_HWV_GUESTS 64

/* The Vendor-Specific Capability's info word (00h): ID and revision. */
VIOMMU_API int viommu_amdvi_vsc(const struct viommu *v, uint32_t *info);

/* The hardware: a guest's VF MMIO page (offset 0..0xfff) and VFCtrl block (0..63). */
VIOMMU_API int viommu_amdvi_vf_mmio_read(struct viommu *v, uint32_t gid, uint64_t off,
					 unsigned int size, uint64_t *val);
VIOMMU_API int viommu_amdvi_vf_mmio_write(struct viommu *v, uint32_t gid, uint64_t off,
					  unsigned int size, uint64_t val);
VIOMMU_API int viommu_amdvi_vfctrl_read(struct viommu *v, uint32_t gid, uint64_t off,
					unsigned int size, uint64_t *val);
VIOMMU_API int viommu_amdvi_vfctrl_write(struct viommu *v, uint32_t gid, uint64_t off,
					 unsigned int size, uint64_t val);

/* Host memory for the host driver's structures (private space tables, maps, guest MMIO areas). */
struct viommu_amdvi_hwv_mem {
	/* @size bytes of zeroed host memory, 4 KiB aligned; 0 when there is none. */
	uint64_t (*alloc)(void *opaque, uint64_t size);
	void *opaque;
};

/*
 * Boot-time set-up: private address space (a 4-level v1 table in host memory behind the IOMMU's
 * own DeviceID, DomainID 0xffff), the command-buffer dirty table, control vIOMMU_EN, vCMD_EN and
 * GTEn. The host must have programmed the device table (DEV_TABLE_BASE) first. VIOMMU_ENOTSUP
 * without VIOMMU_AMDVI_HWV, VIOMMU_EINVAL for a bad call, VIOMMU_ENOMEM, VIOMMU_EFAULT when
 * the device table entry cannot be written.
 */
VIOMMU_API int viommu_amdvi_hwv_init(struct viommu *v, const struct viommu_amdvi_hwv_mem *mem);

struct viommu_amdvi_hwv_guest_ops {
	/* The system-physical address of guest-physical [gpa, gpa + len), or VIOMMU_EFAULT. */
	int (*gpa_to_spa)(void *opaque, uint64_t gpa, uint64_t len, uint64_t *spa);
	/* The guest's vIOMMU interrupt (event log, completion wait): the VMM injects its MSI. */
	void (*guest_irq)(void *opaque, uint32_t gid);
};

/* IOMMU_VIOMMU_ALLOC (struct iommu_viommu_amd): a Guest ID over the nest parent @trans_devid. */
struct viommu_amdvi_hwv_alloc {
	uint32_t trans_devid; /* DeviceID whose DTE (Mode 1-6) maps the guest's memory */
	const struct viommu_amdvi_hwv_guest_ops *ops;
	void *opaque;
};

/*
 * Create a vIOMMU: allocate a Guest ID, map its guest MMIO area, RESET_VMMIO, program TransDevID.
 * VIOMMU_ENOSPC when every Guest ID is taken, VIOMMU_EINVAL for a bad call or a @trans_devid
 * without a v1 table, VIOMMU_ENOMEM.
 */
VIOMMU_API int viommu_amdvi_hwv_create(struct viommu *v, const struct viommu_amdvi_hwv_alloc *a,
				       uint32_t *gid);
/* Its devices go back to blocked, its maps and windows are cleared, the Guest ID is free. */
VIOMMU_API int viommu_amdvi_hwv_destroy(struct viommu *v, uint32_t gid);

/*
 * IOMMU_VDEVICE_ALLOC: host DeviceID @host_devid appears in the guest as @guest_devid (DeviceID
 * map). VIOMMU_EBUSY when the host device belongs to another guest, is the IOMMU's own or a
 * TransDevID; VIOMMU_EEXIST when @guest_devid is taken.
 */
VIOMMU_API int viommu_amdvi_hwv_add_device(struct viommu *v, uint32_t gid, uint32_t host_devid,
					   uint32_t guest_devid);

enum viommu_amdvi_hwv_queue {
	VIOMMU_AMDVI_HWV_CMD,
	VIOMMU_AMDVI_HWV_EVT,
	VIOMMU_AMDVI_HWV_PPR,
};

/*
 * IOMMU_HW_QUEUE_ALLOC: the guest's buffer of 2^@len_code entries at guest-physical @gpa (a
 * base register value's fields): pinned and mapped into the private window, GUEST_*_CONTROL
 * programmed, its head and tail reset. VIOMMU_EFAULT when it is not in guest memory (nothing
 * changes), VIOMMU_EINVAL for a reserved length.
 */
VIOMMU_API int viommu_amdvi_hwv_set_queue(struct viommu *v, uint32_t gid,
					  enum viommu_amdvi_hwv_queue q, uint64_t gpa,
					  uint32_t len_code);

/*
 * A nested device-table entry from the guest's DTE for @guest_devid: the guest may set V, TV,
 * GV, GIoV, GLX, GCR3 (guest-physical), IR, IW, SA, SE, I and its DomainID (mapped through the
 * DomainID map, a host DomainID allocated on first use); the host entry takes Mode and root from
 * the TransDevID's (the guest's memory), vImuEn, GuestID and GDeviceID. VIOMMU_EPERM for an entry
 * naming host structures (Mode, a v1 root, QW3), VIOMMU_EINVAL for reserved bits, VIOMMU_ENOENT
 * for a guest DeviceID without a device. Guest V = 0 or TV = 0 still translate through the
 * guest's memory (never untranslated).
 */
VIOMMU_API int viommu_amdvi_hwv_set_dte(struct viommu *v, uint32_t gid, uint32_t guest_devid,
					const uint64_t gdte[4]);
/* The VMM saw the guest write @guest_devid's DTE: read it from the guest's table, set_dte(). */
VIOMMU_API int viommu_amdvi_hwv_dte_trap(struct viommu *v, uint32_t gid, uint32_t guest_devid);

/*
 * The trapped control page (guest offsets 0x000-0xfff): base registers become queues, the
 * control register the guest's enables; EFR reads what the guest may use (GT, GIoSup, GLX,
 * PASmax, IA, 4-level host tables). Other offsets read 0 and ignore writes.
 */
VIOMMU_API int viommu_amdvi_hwv_ctrl_read(struct viommu *v, uint32_t gid, uint64_t off,
					  unsigned int size, uint64_t *val);
VIOMMU_API int viommu_amdvi_hwv_ctrl_write(struct viommu *v, uint32_t gid, uint64_t off,
					   unsigned int size, uint64_t val);

/* A struct viommu for the guest's side of @gid (see above); destroy with viommu_destroy(). */
VIOMMU_API int viommu_amdvi_hwv_view(struct viommu *v, uint32_t gid, struct viommu **out);

/* Per guest: what a real system traps to the VMM, and what the hardware does without an exit. */
struct viommu_amdvi_hwv_stats {
	uint64_t trapped_mmio;	   /* control page accesses (exits) */
	uint64_t trapped_dte;	   /* guest DTE writes installed (exits) */
	uint64_t direct_mmio;	   /* VF MMIO page accesses (no exit) */
	uint64_t direct_doorbells; /* tail writes that found commands */
	uint64_t direct_cmds;	   /* guest commands the hardware ran */
	uint64_t direct_events;	   /* entries the hardware wrote to the guest's event log */
	uint64_t completion_waits;
	uint64_t cmd_errors;   /* guest commands refused (illegal, unmapped ID, store failed) */
	uint64_t unmapped_ids; /* of which: a DeviceID or DomainID without a map entry */
	uint64_t events_lost;  /* guest events not written (log off, full, unreachable) */
	uint64_t guest_irqs;   /* interrupts sent to the guest */
	uint64_t inserted;     /* INSERT_GUEST_EVENT */
	uint64_t resets;       /* RESET_VMMIO */
	uint64_t hw_errors;    /* reported to the host */
};

VIOMMU_API int viommu_amdvi_hwv_get_stats(const struct viommu *v, uint32_t gid,
					  struct viommu_amdvi_hwv_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_AMDVI_HWV_H */
