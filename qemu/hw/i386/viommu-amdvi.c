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
 * hwv=on (with gt=on) gives the guest a Guest ID of AMD's hardware-assisted vIOMMU instead (see
 * "hwv=on" below).
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
#include "qemu/memalign.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "sysemu/sysemu.h"

#include <viommu/amdvi.h>
#include <viommu/amdvi_hwv.h>
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
	bool hwv;     /* property hwv: the guest gets a Guest ID of a host HW-vIOMMU (below) */
	struct HwvCtx *hwv_ctx;
	/* hwv: the write trap over the guest's device table (an overlay on system memory). */
	MemoryRegion dt_mr;
	bool dt_mapped;
	uint64_t dt_reg; /* the guest's DEV_TABLE_BASE, as written */
	hwaddr dt_base;
	uint64_t dt_size;
	uint8_t *dt_ram; /* the RAM under the overlay */
	MemoryRegion *dt_ram_mr;
	hwaddr dt_ram_off;
	uint64_t dt_writes, dt_trap_errors, host_irqs;
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
/* hwv=on: the guest on AMD's hardware-assisted vIOMMU, the glue as its host driver          */
/* ---------------------------------------------------------------------------------------- */

/*
 * What a VMM on a host with the HW-vIOMMU does, with the host's IOMMU being a second libviommu
 * model (VIOMMU_AMDVI_HWV) inside the glue:
 *   - its "system-physical" space is guest RAM at the same addresses (the identity VMM memory
 *     map) plus a host-only area (HWV_AREA_SPA, g_malloc'd, never in the guest's address space)
 *     holding what the host driver owns: the host device table, the TransDevID's v1 table, the
 *     private address space's tables, the DeviceID and DomainID maps;
 *   - the TransDevID's v1 table maps guest RAM (and nothing else) one to one: every nested walk
 *     and every completion-wait store of the guest lands in its RAM;
 *   - the guest gets Guest ID @gid (viommu_amdvi_hwv_create) and its PCI functions as guest
 *     DeviceIDs bus << 8 | devfn, mapped to host DeviceIDs HWV_DEVID_OFFSET above (the map is
 *     used, not an identity; see hwv_map_ids() for the IDs mapped beyond its devices);
 *   - the device it sees is viommu_amdvi_hwv_view(): MMIO page 0 is the trapped control page,
 *     page 2000h the Guest ID's VF MMIO page (the hardware's, no exit), its devices' DMA goes
 *     through the DeviceID map into the host IOMMU's nested (guest v2 over host v1) walk;
 *   - the DTE trap: once the guest names its device table (DEV_TABLE_BASE, on the trapped
 *     page), an I/O region over those pages takes the guest's stores (TCG's equivalent of the
 *     write protection a VMM puts on them): each store goes to the RAM below, then
 *     viommu_amdvi_hwv_dte_trap() for the entry it touched.
 * Guest events and completion-wait interrupts come back through guest_irq as the IOMMU
 * function's MSI. The host's own event log is not set up: host-stage faults count as lost.
 */
#define HWV_AREA_SPA (1ull << 44)
#define HWV_HOST_DEVTAB_PAGES 512 /* every DeviceID */
#define HWV_DEVID_OFFSET 0x4000
#define HWV_TRANS_DEVID 0xff00
#define HWV_IOMMU_DEVID 0xfffe
#define HWV_TRANS_DOMID 1
#define HWV_MAX_DEVS 256

typedef struct HwvCtx {
	ViommuAmdviState *s;
	struct viommu *host;
	uint8_t *area;
	uint64_t area_size, next;
	uint64_t below, above; /* guest RAM: [0, below) and [4 GiB, 4 GiB + above) */
	uint32_t gid;
	uint32_t ndev;
	uint16_t devs[HWV_MAX_DEVS]; /* guest DeviceIDs */
} HwvCtx;

static uint64_t hwv_alloc(void *opaque, uint64_t size)
{
	HwvCtx *c = opaque;
	uint64_t a;

	size = ROUND_UP(size, 4096);
	if (size > c->area_size - c->next)
		return 0;
	a = HWV_AREA_SPA + c->next;
	c->next += size;
	return a;
}

/* The host-only area behind @pa, up to @len bytes of it (0: not there). */
static uint8_t *hwv_area(HwvCtx *c, uint64_t pa, size_t *len)
{
	uint64_t off = pa - HWV_AREA_SPA;

	if (pa < HWV_AREA_SPA || off >= c->area_size)
		return NULL;
	*len = MIN(*len, c->area_size - off);
	return c->area + off;
}

/* The guest's device table under the write trap: the RAM below it (NULL: not there). */
static uint8_t *hwv_dt(ViommuAmdviState *s, uint64_t pa, size_t *len)
{
	if (!s->dt_mapped || pa < s->dt_base || pa - s->dt_base >= s->dt_size)
		return NULL;
	*len = MIN(*len, s->dt_size - (pa - s->dt_base));
	return s->dt_ram + (pa - s->dt_base);
}

static ssize_t hwv_dma_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
	HwvCtx *c = opaque;
	uint8_t *p = hwv_area(c, pa, &len);

	if (!p)
		p = hwv_dt(c->s, pa, &len);
	if (p) {
		memcpy(buf, p, len);
		return (ssize_t)len;
	}
	if (pa >= HWV_AREA_SPA)
		return VIOMMU_EFAULT;
	return viommu_qemu_dma_read(&c->s->u, pa, buf, MIN(len, HWV_AREA_SPA - pa));
}

static ssize_t hwv_dma_write(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	HwvCtx *c = opaque;
	ViommuAmdviState *s = c->s;
	uint8_t *p = hwv_area(c, pa, &len);

	if (p) {
		memcpy(p, buf, len);
		return (ssize_t)len;
	}
	/*
	 * A completion-wait store the guest aimed at its own device table: the IOMMU's write is
	 * DMA, which the CPU-side write protection never sees (no trap), as on the hardware.
	 */
	p = hwv_dt(s, pa, &len);
	if (p) {
		memcpy(p, buf, len);
		memory_region_set_dirty(s->dt_ram_mr, s->dt_ram_off + (pa - s->dt_base), len);
		return (ssize_t)len;
	}
	if (pa >= HWV_AREA_SPA)
		return VIOMMU_EFAULT;
	return viommu_qemu_dma_write(&c->s->u, pa, buf, MIN(len, HWV_AREA_SPA - pa));
}

static void *hwv_dma_map_ptr(void *opaque, uint64_t pa, size_t len, bool write,
			     struct viommu_dma_span *span)
{
	HwvCtx *c = opaque;
	size_t l = len;
	uint8_t *p = hwv_area(c, pa, &l);

	if (p) {
		if (l < len)
			return NULL;
		span->gpa = HWV_AREA_SPA;
		span->len = c->area_size;
		return p;
	}
	if (pa >= HWV_AREA_SPA || hwv_dt(c->s, pa, &l))
		return NULL;
	/* The overlay splits guest RAM in the flat view: a span never reaches into it. */
	return viommu_qemu_dma_map_ptr(&c->s->u, pa, len, write, span);
}

/* The host IOMMU's own interrupt (nothing of the host driver's listens: counted). */
static void hwv_host_msi(void *opaque, uint64_t addr, uint32_t data)
{
	HwvCtx *c = opaque;

	c->s->host_irqs++;
}

static void hwv_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	if (level <= VIOMMU_LOG_WARN)
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-amd-iommu (hwv host): %s\n", msg);
}

static const struct viommu_host_ops hwv_host_ops = {
	.dma_read = hwv_dma_read,
	.dma_write = hwv_dma_write,
	.msi = hwv_host_msi,
	.log = hwv_log,
	.dma_map_ptr = hwv_dma_map_ptr,
};

static bool hwv_is_ram(const HwvCtx *c, uint64_t gpa, uint64_t len)
{
	const uint64_t g4 = 4ull << 30;

	if (len == 0 || gpa + len < gpa)
		return false;
	return gpa + len <= c->below || (gpa >= g4 && gpa + len <= g4 + c->above);
}

/* The VMM's memory map: identity over guest RAM. */
static int hwv_gpa_to_spa(void *opaque, uint64_t gpa, uint64_t len, uint64_t *spa)
{
	if (!hwv_is_ram(opaque, gpa, len))
		return VIOMMU_EFAULT;
	*spa = gpa;
	return 0;
}

static void hwv_guest_irq(void *opaque, uint32_t gid)
{
	HwvCtx *c = opaque;

	host_msi(&c->s->u, 0, 0);
}

static const struct viommu_amdvi_hwv_guest_ops hwv_guest_ops = {
	.gpa_to_spa = hwv_gpa_to_spa,
	.guest_irq = hwv_guest_irq,
};

static uint64_t *hwv_q(HwvCtx *c, uint64_t pa)
{
	return (uint64_t *)(c->area + (pa - HWV_AREA_SPA));
}

/* The TransDevID's 4-level v1 table: [start, end) one to one, 4 KiB pages, read and write. */
static bool hwv_map_identity(HwvCtx *c, uint64_t root, uint64_t start, uint64_t end)
{
	for (uint64_t pa = start; pa < end; pa += 4096) {
		uint64_t table = root, *pte;

		for (int lvl = 4; lvl > 1; lvl--) {
			pte = hwv_q(c, table) + ((pa >> (12 + 9 * (lvl - 1))) & 511);
			if (!(le64_to_cpu(*pte) & VIOMMU_AMDVI_PTE_PR)) {
				uint64_t page = hwv_alloc(c, 4096);

				if (!page)
					return false;
				*pte = cpu_to_le64(page | VIOMMU_AMDVI_PTE_PR |
						   VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(lvl - 1) |
						   VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_IW);
			}
			table = le64_to_cpu(*pte) & VIOMMU_AMDVI_PTE_ADDR_MASK;
		}
		pte = hwv_q(c, table) + ((pa >> 12) & 511);
		*pte = cpu_to_le64(pa | VIOMMU_AMDVI_PTE_PR | VIOMMU_AMDVI_PTE_IR |
				   VIOMMU_AMDVI_PTE_IW);
	}
	return true;
}

/* The functions on the IOMMU's bus (its own included: the guest's driver names it too). */
static void hwv_find_dev(PCIBus *bus, PCIDevice *d, void *opaque)
{
	HwvCtx *c = opaque;

	if (c->ndev < HWV_MAX_DEVS)
		c->devs[c->ndev++] = (uint16_t)PCI_BUILD_BDF(pci_bus_num(bus), d->devfn);
}

/*
 * The guest's DeviceIDs and DomainIDs that its driver names before it knows the EFR. QEMU's IVRS
 * (type 10h) carries no EFR image, so Linux's first cache flush, before it reads the EFR
 * register, goes entry by entry: INVALIDATE_DEVTAB_ENTRY and INVALIDATE_INTERRUPT_TABLE for
 * every DeviceID and INVALIDATE_IOMMU_PAGES for every DomainID up to the IVRS's last DeviceID
 * (bus 0's 256 functions). On the hardware an unmapped ID makes the command illegal and stops
 * the guest's buffer, so the VMM maps them all: each function of bus 0 (an empty slot to a host
 * DeviceID with no device) and guest DomainIDs 0-255 (through a nested DTE on an empty slot).
 * Every function then starts as the guest's disabled IOMMU leaves it, on guest-physical memory
 * (a guest DTE with V = 0, for the firmware's DMA before the driver programs its table).
 */
static int hwv_map_ids(HwvCtx *c)
{
	uint64_t gdte[4] = { VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV, 0, 0, 0 };
	int spare = -1, ret;

	for (uint32_t devfn = 0; devfn < 256; devfn++) {
		bool present = false;

		for (uint32_t i = 0; i < c->ndev; i++)
			present |= c->devs[i] == devfn;
		if (!present)
			spare = (int)devfn;
		ret = viommu_amdvi_hwv_add_device(c->host, c->gid, devfn + HWV_DEVID_OFFSET, devfn);
		if (ret)
			return ret;
	}
	if (spare < 0)
		return VIOMMU_ENOSPC;
	for (uint32_t dom = 0; dom < 256; dom++) {
		gdte[1] = VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(dom);
		ret = viommu_amdvi_hwv_set_dte(c->host, c->gid, (uint32_t)spare, gdte);
		if (ret)
			return ret;
	}
	memset(gdte, 0, sizeof(gdte));
	for (uint32_t devfn = 0; devfn < 256; devfn++) {
		ret = viommu_amdvi_hwv_set_dte(c->host, c->gid, devfn, gdte);
		if (ret)
			return ret;
	}
	return 0;
}

static void hwv_free(HwvCtx *c)
{
	if (!c)
		return;
	viommu_destroy(c->host);
	qemu_vfree(c->area);
	g_free(c);
}

/* The host side, as the host driver and the VMM set it up; *@view is what the guest gets. */
static HwvCtx *hwv_build(ViommuAmdviState *s, struct viommu **view, Error **errp)
{
	X86MachineState *x86ms = X86_MACHINE(qdev_get_machine());
	PCMachineState *pcms = PC_MACHINE(qdev_get_machine());
	struct viommu_amdvi_config cfg = s->cfg;
	struct viommu_amdvi_hwv_mem mem = { .alloc = hwv_alloc };
	struct viommu_amdvi_hwv_alloc al = { .trans_devid = HWV_TRANS_DEVID,
					     .ops = &hwv_guest_ops };
	HwvCtx *c = g_new0(HwvCtx, 1);
	uint64_t devtab, root, pages, *dte;
	const char *what = "";
	int ret = 0;

	c->s = s;
	c->below = x86ms->below_4g_mem_size;
	c->above = x86ms->above_4g_mem_size;
	if ((4ull << 30) + c->above > HWV_AREA_SPA) {
		error_setg(errp, "viommu-amd-iommu: hwv=on: guest RAM reaches the host-only area");
		g_free(c);
		return NULL;
	}
	/* Host device table, the v1 table over guest RAM (8 bytes a page and its directories). */
	pages = (c->below + c->above) / 4096;
	c->area_size = (16ull << 20) + ROUND_UP(pages * 8 * 2, 4096);
	c->area = qemu_try_memalign(4096, c->area_size);
	if (!c->area) {
		error_setg(errp, "viommu-amd-iommu: hwv=on: no memory for the host-only area");
		g_free(c);
		return NULL;
	}
	memset(c->area, 0, c->area_size);
	mem.opaque = c;
	al.opaque = c;
	cfg.flags |= VIOMMU_AMDVI_HWV | VIOMMU_AMDVI_GT;
	cfg.iommu_devid = HWV_IOMMU_DEVID;
	ret = viommu_amdvi_create(&cfg, &hwv_host_ops, c, &c->host);
	if (ret) {
		what = "viommu_amdvi_create";
		goto fail;
	}
	/* The host driver's device table: every DeviceID, all blocked until it says otherwise. */
	devtab = hwv_alloc(c, HWV_HOST_DEVTAB_PAGES * 4096);
	root = hwv_alloc(c, 4096);
	if (!devtab || !root || !hwv_map_identity(c, root, 0, c->below) ||
	    !hwv_map_identity(c, root, 4ull << 30, (4ull << 30) + c->above)) {
		ret = VIOMMU_ENOMEM;
		what = "host-only area";
		goto fail;
	}
	/* The nest parent: a Mode 4 v1 table over guest RAM (the VMM's stage-2). */
	dte = hwv_q(c, devtab + (uint64_t)HWV_TRANS_DEVID * VIOMMU_AMDVI_DTE_SIZE);
	dte[0] = cpu_to_le64(VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV |
			     VIOMMU_AMDVI_DTE0_MODE_SET(4) | root | VIOMMU_AMDVI_DTE0_IR |
			     VIOMMU_AMDVI_DTE0_IW);
	dte[1] = cpu_to_le64(VIOMMU_AMDVI_DTE1_DOMAIN_ID_SET(HWV_TRANS_DOMID));
	viommu_mmio_write(c->host, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8,
			  devtab | VIOMMU_AMDVI_DEV_TABLE_SIZE_SET(HWV_HOST_DEVTAB_PAGES - 1));
	viommu_mmio_write(c->host, VIOMMU_AMDVI_MMIO_CONTROL, 8,
			  VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_COHERENT);
	ret = viommu_amdvi_hwv_init(c->host, &mem);
	if (ret) {
		what = "viommu_amdvi_hwv_init";
		goto fail;
	}
	ret = viommu_amdvi_hwv_create(c->host, &al, &c->gid);
	if (ret) {
		what = "viommu_amdvi_hwv_create";
		goto fail;
	}
	pci_for_each_device(pcms->bus, pci_bus_num(pcms->bus), hwv_find_dev, c);
	ret = hwv_map_ids(c);
	if (ret) {
		what = "DeviceID and DomainID maps";
		goto fail;
	}
	ret = viommu_amdvi_hwv_view(c->host, c->gid, view);
	if (ret) {
		what = "viommu_amdvi_hwv_view";
		goto fail;
	}
	return c;
fail:
	error_setg(errp, "viommu-amd-iommu: hwv=on: %s: %s", what, viommu_strerror(ret));
	hwv_free(c);
	return NULL;
}

/* The guest stored into its device table: to RAM, then the VMM's trap for each entry touched. */
static uint64_t hwv_dt_read(void *opaque, hwaddr addr, unsigned size)
{
	ViommuAmdviState *s = opaque;

	if (!s->dt_mapped || addr + size > s->dt_size)
		return 0;
	return ldn_le_p(s->dt_ram + addr, size);
}

static void hwv_dt_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
	ViommuAmdviState *s = opaque;
	HwvCtx *c = s->hwv_ctx;

	if (!s->dt_mapped || !c || addr + size > s->dt_size)
		return;
	stn_le_p(s->dt_ram + addr, size, val);
	memory_region_set_dirty(s->dt_ram_mr, s->dt_ram_off + addr, size);
	qemu_rec_mutex_lock(&s->u.lock);
	s->dt_writes++;
	for (hwaddr dev = addr / VIOMMU_AMDVI_DTE_SIZE;
	     dev <= (addr + size - 1) / VIOMMU_AMDVI_DTE_SIZE; dev++) {
		int ret = viommu_amdvi_hwv_dte_trap(c->host, c->gid, (uint32_t)dev);

		/* A DeviceID without a device of the guest's has nothing to install. */
		if (ret && ret != VIOMMU_ENOENT)
			s->dt_trap_errors++;
	}
	qemu_rec_mutex_unlock(&s->u.lock);
}

static const MemoryRegionOps hwv_dt_ops = {
	.read = hwv_dt_read,
	.write = hwv_dt_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* Put the write trap over the table the guest's DEV_TABLE_BASE names (or remove it). */
static void hwv_dt_place(ViommuAmdviState *s)
{
	uint64_t base = s->dt_reg & VIOMMU_AMDVI_DEV_TABLE_BASE_MASK;
	uint64_t size = ((s->dt_reg & 0x1ff) + 1) * 4096;
	hwaddr xlat, l = size;
	MemoryRegion *mr;
	HwvCtx *c = s->hwv_ctx;

	if (s->dt_mapped && base == s->dt_base && size == s->dt_size)
		return;
	if (s->dt_mapped) {
		memory_region_del_subregion(get_system_memory(), &s->dt_mr);
		s->dt_mapped = false;
	}
	if (!base || !c)
		return;
	RCU_READ_LOCK_GUARD();
	mr = address_space_translate(&address_space_memory, base, &xlat, &l, true,
				     MEMTXATTRS_UNSPECIFIED);
	if (!memory_region_is_ram(mr) || memory_region_is_ram_device(mr) || mr->readonly ||
	    l < size) {
		qemu_log_mask(LOG_GUEST_ERROR,
			      "viommu-amd-iommu: device table %" PRIx64
			      " is not RAM: its entries are never installed\n",
			      base);
		return;
	}
	s->dt_ram_mr = mr;
	s->dt_ram_off = xlat;
	s->dt_ram = (uint8_t *)memory_region_get_ram_ptr(mr) + xlat;
	s->dt_base = base;
	s->dt_size = size;
	memory_region_set_size(&s->dt_mr, size);
	memory_region_add_subregion_overlap(get_system_memory(), base, &s->dt_mr, 10);
	s->dt_mapped = true;
	/* A new table may hold entries already: the VMM reads its devices' ones now. */
	for (uint32_t i = 0; i < c->ndev; i++) {
		int ret = viommu_amdvi_hwv_dte_trap(c->host, c->gid, c->devs[i]);

		if (ret && ret != VIOMMU_ENOENT)
			s->dt_trap_errors++;
	}
}

static uint64_t hwv_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
	ViommuAmdviState *s = opaque;
	uint64_t val = 0;

	qemu_rec_mutex_lock(&s->u.lock);
	viommu_mmio_read(s->u.v, addr, size, &val);
	qemu_rec_mutex_unlock(&s->u.lock);
	return val;
}

static void hwv_mmio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
	ViommuAmdviState *s = opaque;

	qemu_rec_mutex_lock(&s->u.lock);
	viommu_mmio_write(s->u.v, addr, size, val);
	/* DEV_TABLE_BASE (as the control page takes it: 4 or 8 bytes, aligned). */
	if (addr < 8 && (size == 4 || size == 8) && !(addr & (size - 1))) {
		unsigned int sh = (unsigned int)addr * 8;
		uint64_t mask = size == 8 ? ~0ull : 0xffffffffull << sh;

		s->dt_reg = (s->dt_reg & ~mask) | ((val << sh) & mask);
		hwv_dt_place(s);
	}
	qemu_rec_mutex_unlock(&s->u.lock);
}

static const MemoryRegionOps hwv_mmio_ops = {
	.read = hwv_mmio_read,
	.write = hwv_mmio_write,
	.endianness = DEVICE_LITTLE_ENDIAN,
	.valid = { .min_access_size = 1, .max_access_size = 8 },
	.impl = { .min_access_size = 1, .max_access_size = 8 },
};

static void hwv_print_stats(ViommuAmdviState *s)
{
	struct viommu_amdvi_hwv_stats st;
	HwvCtx *c = s->hwv_ctx;

	if (!c || viommu_amdvi_hwv_get_stats(c->host, c->gid, &st))
		return;
	fprintf(stderr,
		"viommu-amd-iommu hwv stats: gid=%u devices=%u trapped_mmio=%" PRIu64
		" trapped_dte=%" PRIu64 " direct_mmio=%" PRIu64 " direct_doorbells=%" PRIu64
		" direct_cmds=%" PRIu64 " direct_events=%" PRIu64 " completion_waits=%" PRIu64
		" cmd_errors=%" PRIu64 " unmapped_ids=%" PRIu64 " events_lost=%" PRIu64
		" guest_irqs=%" PRIu64 " hw_errors=%" PRIu64 " dt_writes=%" PRIu64
		" dt_trap_errors=%" PRIu64 " host_irqs=%" PRIu64 "\n",
		c->gid, c->ndev, st.trapped_mmio, st.trapped_dte, st.direct_mmio,
		st.direct_doorbells, st.direct_cmds, st.direct_events, st.completion_waits,
		st.cmd_errors, st.unmapped_ids, st.events_lost, st.guest_irqs, st.hw_errors,
		s->dt_writes, s->dt_trap_errors, s->host_irqs);
}

/* A reset (and the first one, once every device exists): a new host side and Guest ID. */
static void hwv_reset(ViommuAmdviState *s)
{
	struct viommu *view;
	HwvCtx *old = s->hwv_ctx, *c;
	Error *err = NULL;

	c = hwv_build(s, &view, &err);
	if (!c) {
		error_report_err(err);
		return;
	}
	qemu_rec_mutex_lock(&s->u.lock);
	s->dt_reg = 0;
	/* The counters describe the current host side, as the model's statistics do. */
	s->dt_writes = s->dt_trap_errors = s->host_irqs = 0;
	s->hwv_ctx = c;
	hwv_dt_place(s);
	qemu_rec_mutex_unlock(&s->u.lock);
	viommu_qemu_swap_model(&s->u, view);
	hwv_free(old);
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

	/* hwv: the host IOMMU's (the guest's view has no capability of its own). */
	viommu_amdvi_pci_cap(s->hwv_ctx ? s->hwv_ctx->host : s->u.v, &hdr, &misc);
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
	ViommuAmdviState *s = container_of(u, ViommuAmdviState, u);
	struct viommu_amdvi_stats st;

	/* hwv: the host IOMMU's counters (translations of the guest's devices included). */
	if (viommu_amdvi_get_stats(s->hwv_ctx ? s->hwv_ctx->host : u->v, &st))
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
	hwv_print_stats(s);
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
	if (s->hwv) {
		if (!s->gt) {
			error_setg(errp,
				   "viommu-amd-iommu: hwv=on needs gt=on (nested v2 over v1)");
			return;
		}
		/* Devices not realized yet are added by the reset that precedes the guest. */
		s->hwv_ctx = hwv_build(s, &s->u.v, errp);
		if (!s->hwv_ctx)
			return;
		memory_region_init_io(&s->dt_mr, OBJECT(s), &hwv_dt_ops, s,
				      "viommu-amd-iommu-devtab-trap", 4096);
	} else {
		ret = viommu_amdvi_create(&s->cfg, &host_ops, &s->u, &s->u.v);
		if (ret) {
			error_setg(errp, "viommu-amd-iommu: viommu_amdvi_create: %s",
				   viommu_strerror(ret));
			return;
		}
		/* The MSI capability decides (host_msi): the model always signals. */
		viommu_amdvi_set_msi(s->u.v, true, 0, 0);
	}
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
	if (s->hwv)
		memory_region_init_io(&p->mmio, OBJECT(s), &hwv_mmio_ops, s, "viommu-amd-iommu",
				      VIOMMU_AMDVI_REG_SIZE);
	else
		memory_region_init_io(&p->mmio, OBJECT(s), &viommu_qemu_mmio_ops, &s->u,
				      "viommu-amd-iommu", VIOMMU_AMDVI_REG_SIZE);
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
	if (s->hwv) {
		hwv_reset(s);
		pci_config_init(s);
		return;
	}
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
	DEFINE_PROP_BOOL("hwv", ViommuAmdviState, hwv, false),
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
