/*
 * virtio-iommu-pci,x-viommu=on: libviommu's virtio-iommu model behind QEMU's virtio transport.
 *
 * Part of the viommu project's QEMU glue (qemu/ in the viommu tree).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * This program is free software; you can redistribute it and/or modify it under the terms of
 * the GNU General Public License as published by the Free Software Foundation; either version 2
 * of the License, or (at your option) any later version.
 *
 * QEMU keeps the transport (virtio-pci: feature, status, queue and configuration registers,
 * MSI-X, notifications), the machine wiring (the root bus's IOMMU hook, the MSI reserved region
 * pc.c gives the device, ACPI VIOT). libviommu's model does the device: it reads the request and
 * event virtqueues in guest memory itself, keeps domains and mappings, answers translations and
 * writes fault reports. Each QEMU hook forwards to one library call:
 *
 *   VirtioDeviceClass.get_features      viommu_virtio_iommu_get_device_features
 *   VirtioDeviceClass.validate_features viommu_virtio_iommu_set_driver_features + set_status
 *   VirtioDeviceClass.set_status        viommu_virtio_iommu_set_status (+ queue_enable at
 *                                       DRIVER_OK, from the rings virtio-pci recorded)
 *   VirtioDeviceClass.get/set_config    viommu_virtio_iommu_config_read / config_write
 *   VirtioDeviceClass.reset             viommu_virtio_iommu_reset
 *   VirtQueue handle_output (a kick)    viommu_virtio_iommu_queue_notify
 *   IOMMUMemoryRegionClass.translate    viommu_translate (sid = PCI requester ID)
 *   IOMMUMemoryRegionClass.replay       viommu_notifier_replay
 *   model MAP/UNMAP events              memory_region_notify_iommu
 *   model interrupt callback            the transport's notify (MSI-X vector or INTx + ISR)
 *
 * Locking: every call into the model holds vv->lock (recursive, as QEMU's own device's), on top
 * of the BQL QEMU holds for all of these paths.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/notify.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-bus.h"
#include "migration/blocker.h"
#include "sysemu/dma.h"
#include "sysemu/reset.h"
#include "sysemu/sysemu.h"
#include "standard-headers/linux/virtio_ids.h"
#include "viommu-virtio-iommu.h"

#include <viommu/virtio_iommu.h>

#define TYPE_VGLUE_VIO_MEMORY_REGION "viommu-virtio-iommu-memory-region"
#define NQ VIOMMU_VIRTIO_IOMMU_NQUEUES

QEMU_BUILD_BUG_ON(sizeof(struct virtio_iommu_config) != VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE);

typedef struct VGlueVio VGlueVio;

/* The address space one PCI function (bus, devfn) sees through the IOMMU. */
typedef struct VGlueVioDev {
	VGlueVio *vv;
	PCIBus *bus;
	int devfn;
	int64_t declared; /* endpoint ID declared to the current model instance, -1 before */
	IOMMUMemoryRegion iommu_mr;
	AddressSpace as;
} VGlueVioDev;

struct VGlueVio {
	VirtIOIOMMU *s;
	VirtIODevice *vdev;
	struct viommu *v;
	QemuRecMutex lock;
	GHashTable *by_bus; /* PCIBus * -> VGlueVioDev *[PCI_DEVFN_MAX] */
	GPtrArray *devs;    /* every VGlueVioDev, in creation order */
	VirtQueue *vq[NQ];
	bool vq_on[NQ]; /* the model has the ring the driver programmed */
	struct viommu_notifier *notifier;
	unsigned int notify_users; /* IOMMU regions with MAP/UNMAP notifiers registered */
	unsigned int mr_index;
	Error *migration_blocker;
	Notifier exit_notifier;
};

/* ---- host ops: guest-physical memory and interrupts ---------------------------------------- */

/*
 * The rings and buffers a driver hands the device must be RAM: refusing MMIO here keeps a
 * hostile ring address from turning a model access into a device access (and a re-entry into
 * this device through its own registers).
 */
static ssize_t vv_dma(uint64_t gpa, void *buf, size_t len, bool write)
{
	size_t done = 0;

	while (done < len) {
		MemoryRegion *mr;
		hwaddr xlat, l = len - done;
		MemTxResult r;

		RCU_READ_LOCK_GUARD();
		mr = address_space_translate(&address_space_memory, gpa + done, &xlat, &l, write,
					     MEMTXATTRS_UNSPECIFIED);
		if (!memory_access_is_direct(mr, write) || l == 0) {
			break;
		}
		if (write) {
			/* Through the address space: it marks the pages dirty for migration and
			 * drops translated code in them. */
			r = address_space_write(&address_space_memory, gpa + done,
						MEMTXATTRS_UNSPECIFIED, (const uint8_t *)buf + done,
						l);
			if (r != MEMTX_OK) {
				break;
			}
		} else {
			/* RAM: copy from the host mapping the translation just found. */
			memcpy((uint8_t *)buf + done,
			       (uint8_t *)memory_region_get_ram_ptr(mr) + xlat, l);
		}
		done += l;
	}
	return done ? (ssize_t)done : VIOMMU_EFAULT;
}

static ssize_t vv_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	return vv_dma(gpa, buf, len, false);
}

static ssize_t vv_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	return vv_dma(gpa, (void *)buf, len, true);
}

static void vv_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	if (level <= VIOMMU_LOG_WARN) {
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-virtio-iommu: %s\n", msg);
	}
}

static const struct viommu_host_ops vv_host_ops = {
	.dma_read = vv_dma_read,
	.dma_write = vv_dma_write,
	.log = vv_log,
};

/*
 * The model decided that the driver wants this interrupt (it applies the ring's suppression
 * itself), so it goes straight to the transport: QEMU's virtio_notify() would apply its own
 * suppression from a VirtQueue state it never sees move, since the model owns the rings.
 */
static void vv_interrupt(void *opaque, unsigned int vector)
{
	VGlueVio *vv = opaque;
	VirtIODevice *vdev = vv->vdev;
	BusState *qbus;
	VirtioBusClass *k;

	if (vector == VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR) {
		virtio_notify_config(vdev);
		return;
	}
	if (vector >= NQ || virtio_device_disabled(vdev)) {
		return;
	}
	qbus = qdev_get_parent_bus(DEVICE(vdev));
	k = VIRTIO_BUS_GET_CLASS(qbus);
	qatomic_or(&vdev->isr, 1);
	if (k->notify) {
		k->notify(qbus->parent, virtio_queue_vector(vdev, vector));
	}
}

/* ---- endpoints ------------------------------------------------------------------------------ */

static uint32_t vv_sid(VGlueVioDev *d)
{
	return PCI_BUILD_BDF(pci_bus_num(d->bus), d->devfn);
}

/*
 * Declare @d's endpoint, its requester ID now (a secondary bus has a number only once the guest
 * programmed its bridge), with the reserved regions the machine gave the device, as PROBE reports
 * them. Returns that ID.
 */
static uint32_t vv_declare(VGlueVio *vv, VGlueVioDev *d)
{
	uint32_t sid = vv_sid(d);
	VirtIOIOMMU *s = vv->s;
	int r;

	if (d->declared == sid) {
		return sid;
	}
	r = viommu_virtio_iommu_add_endpoint(vv->v, sid);
	if (r == 0) {
		for (uint32_t i = 0; i < s->nb_reserved_regions; i++) {
			ReservedRegion *rr = &s->reserved_regions[i];
			enum viommu_virtio_iommu_resv t = rr->type == VIRTIO_IOMMU_RESV_MEM_T_MSI ?
								  VIOMMU_VIRTIO_IOMMU_RESV_MSI :
								  VIOMMU_VIRTIO_IOMMU_RESV_RESERVED;

			r = viommu_virtio_iommu_add_resv_region(vv->v, sid, t, rr->low, rr->high);
			if (r) {
				warn_report("viommu-virtio-iommu: reserved region [%#" PRIx64
					    ", %#" PRIx64 "] for endpoint %#x: %s",
					    (uint64_t)rr->low, (uint64_t)rr->high, sid,
					    viommu_strerror(r));
			}
		}
	} else if (r != VIOMMU_EEXIST) {
		warn_report("viommu-virtio-iommu: endpoint %#x: %s", sid, viommu_strerror(r));
		return sid;
	}
	d->declared = sid;
	return sid;
}

static void vv_declare_all(VGlueVio *vv)
{
	for (guint i = 0; i < vv->devs->len; i++) {
		vv_declare(vv, g_ptr_array_index(vv->devs, i));
	}
}

/* ---- notifiers: model MAP/UNMAP events to QEMU IOMMU notifiers -------------------------------- */

static IOMMUAccessFlags vv_perm(uint32_t perm)
{
	return IOMMU_ACCESS_FLAG(perm & VIOMMU_ACC_READ, perm & VIOMMU_ACC_WRITE);
}

/*
 * Tell notifier @n about [iova, last] (output @out at iova): clipped to the range @n registered
 * for (QEMU asserts that an entry lies inside it), split into the naturally aligned power-of-two
 * blocks QEMU's entries are.
 */
static void vv_send_one(IOMMUNotifier *n, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
			uint64_t out, IOMMUAccessFlags perm)
{
	IOMMUTLBEvent ev = {
		.type = type,
		.entry = { .target_as = &address_space_memory, .perm = perm },
	};

	if (!(n->notifier_flags & type) || iova > n->end || last < n->start) {
		return;
	}
	if (iova < n->start) {
		out += n->start - iova;
		iova = n->start;
	}
	last = MIN(last, n->end);
	for (;;) {
		uint64_t mask = (iova == 0 && last == UINT64_MAX) ?
					UINT64_MAX :
					dma_aligned_pow2_mask(iova, last, 64);

		ev.entry.iova = iova;
		ev.entry.addr_mask = mask;
		ev.entry.translated_addr = type == IOMMU_NOTIFIER_MAP ? out : 0;
		memory_region_notify_iommu_one(n, &ev);
		if (mask == UINT64_MAX || iova + mask >= last) {
			break;
		}
		iova += mask + 1;
		out += mask + 1;
	}
}

/* Every notifier registered on @mr. */
static void vv_send(IOMMUMemoryRegion *mr, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
		    uint64_t out, IOMMUAccessFlags perm)
{
	IOMMUNotifier *n;

	IOMMU_NOTIFIER_FOREACH(n, mr)
	{
		if (n->iommu_idx == 0) {
			vv_send_one(n, type, iova, last, out, perm);
		}
	}
}

static void vv_event(void *opaque, const struct viommu_event *ev)
{
	VGlueVio *vv = opaque;
	IOMMUNotifierFlag type;

	if (ev->type == VIOMMU_EV_MAP) {
		type = IOMMU_NOTIFIER_MAP;
		if (!vv_perm(ev->perm)) {
			return;
		}
	} else if (ev->type == VIOMMU_EV_UNMAP) {
		type = IOMMU_NOTIFIER_UNMAP;
	} else {
		return;
	}
	for (guint i = 0; i < vv->devs->len; i++) {
		VGlueVioDev *d = g_ptr_array_index(vv->devs, i);

		if (d->declared != ev->sid || !(d->iommu_mr.iommu_notify_flags & type)) {
			continue;
		}
		vv_send(&d->iommu_mr, type, ev->iova, ev->last, ev->out,
			type == IOMMU_NOTIFIER_MAP ? vv_perm(ev->perm) : IOMMU_NONE);
	}
}

static void vv_notifier_update(VGlueVio *vv)
{
	int r;

	if (vv->notify_users && !vv->notifier) {
		r = viommu_notifier_add(vv->v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					vv_event, vv, &vv->notifier);
		if (r) {
			error_report("viommu-virtio-iommu: notifier: %s", viommu_strerror(r));
			vv->notifier = NULL;
		}
	} else if (!vv->notify_users && vv->notifier) {
		viommu_notifier_del(vv->v, vv->notifier);
		vv->notifier = NULL;
	}
}

static int vv_notify_flag_changed(IOMMUMemoryRegion *mr, IOMMUNotifierFlag old_flags,
				  IOMMUNotifierFlag new_flags, Error **errp)
{
	VGlueVioDev *d = container_of(mr, VGlueVioDev, iommu_mr);
	VGlueVio *vv = d->vv;

	/* virtio-iommu has no ATS: a device-IOTLB consumer cannot be served. */
	if (new_flags & IOMMU_NOTIFIER_DEVIOTLB_UNMAP) {
		error_setg(errp, "virtio-iommu-pci,x-viommu=on has no device IOTLB");
		return -EINVAL;
	}
	qemu_rec_mutex_lock(&vv->lock);
	if (old_flags == IOMMU_NOTIFIER_NONE && new_flags != IOMMU_NOTIFIER_NONE) {
		vv->notify_users++;
	} else if (old_flags != IOMMU_NOTIFIER_NONE && new_flags == IOMMU_NOTIFIER_NONE) {
		vv->notify_users--;
	}
	vv_notifier_update(vv);
	qemu_rec_mutex_unlock(&vv->lock);
	return 0;
}

static void vv_replay_event(void *opaque, const struct viommu_event *ev)
{
	IOMMUNotifier *n = opaque;

	if (ev->type == VIOMMU_EV_MAP && vv_perm(ev->perm)) {
		vv_send_one(n, IOMMU_NOTIFIER_MAP, ev->iova, ev->last, ev->out, vv_perm(ev->perm));
	}
}

static void vv_replay(IOMMUMemoryRegion *mr, IOMMUNotifier *n)
{
	VGlueVioDev *d = container_of(mr, VGlueVioDev, iommu_mr);
	VGlueVio *vv = d->vv;
	struct viommu_notifier *tmp;

	qemu_rec_mutex_lock(&vv->lock);
	vv_declare(vv, d);
	if (viommu_notifier_add(vv->v, vv_sid(d), VIOMMU_EV_MAP, vv_replay_event, n, &tmp) == 0) {
		viommu_notifier_replay(vv->v, tmp);
		viommu_notifier_del(vv->v, tmp);
	}
	qemu_rec_mutex_unlock(&vv->lock);
}

/* ---- translation ------------------------------------------------------------------------------ */

static IOMMUTLBEntry vv_translate(IOMMUMemoryRegion *mr, hwaddr addr, IOMMUAccessFlags flag,
				  int iommu_idx)
{
	VGlueVioDev *d = container_of(mr, VGlueVioDev, iommu_mr);
	VGlueVio *vv = d->vv;
	struct viommu_xlate_req req = {
		.iova = addr,
		.len = 1,
		.access = (flag & IOMMU_RO ? VIOMMU_ACC_READ : 0) |
			  (flag & IOMMU_WO ? VIOMMU_ACC_WRITE : 0),
	};
	struct viommu_xlate_result res;
	IOMMUTLBEntry e = {
		.target_as = &address_space_memory,
		.iova = addr & ~0xfffull,
		.translated_addr = addr & ~0xfffull,
		.addr_mask = 0xfff,
		.perm = IOMMU_NONE,
	};
	int r;

	qemu_rec_mutex_lock(&vv->lock);
	req.sid = vv_declare(vv, d);
	/* A blocked DMA is a fault result: the model has already written the fault report. */
	r = viommu_translate(vv->v, &req, &res);
	qemu_rec_mutex_unlock(&vv->lock);
	if (r == 0 && viommu_xlate_ok(&res)) {
		unsigned int shift = res.page_shift >= 12 && res.page_shift < 64 ? res.page_shift :
										   12;
		uint64_t mask = (1ull << shift) - 1;

		e.iova = addr & ~mask;
		e.translated_addr = res.out & ~mask;
		e.addr_mask = mask;
		e.perm = vv_perm(res.perm);
	}
	return e;
}

/* ---- PCI: the address space of each function behind the IOMMU -------------------------------- */

static AddressSpace *vv_find_add_as(PCIBus *bus, void *opaque, int devfn)
{
	VGlueVio *vv = opaque;
	VGlueVioDev **slots = g_hash_table_lookup(vv->by_bus, bus);
	VGlueVioDev *d;

	if (!slots) {
		slots = g_new0(VGlueVioDev *, PCI_DEVFN_MAX);
		g_hash_table_insert(vv->by_bus, bus, slots);
	}
	d = slots[devfn];
	if (!d) {
		char *name = g_strdup_printf("%s-%u-%d", TYPE_VGLUE_VIO_MEMORY_REGION,
					     vv->mr_index++, devfn);

		d = slots[devfn] = g_new0(VGlueVioDev, 1);
		d->vv = vv;
		d->bus = bus;
		d->devfn = devfn;
		d->declared = -1;
		memory_region_init_iommu(&d->iommu_mr, sizeof(d->iommu_mr),
					 TYPE_VGLUE_VIO_MEMORY_REGION, OBJECT(vv->s), name,
					 UINT64_MAX);
		address_space_init(&d->as, MEMORY_REGION(&d->iommu_mr), name);
		g_ptr_array_add(vv->devs, d);
		g_free(name);
	}
	return &d->as;
}

/* ---- virtqueues --------------------------------------------------------------------------- */

/* Hand the model the ring virtio-pci recorded for @q, once per reset. */
static void vv_enable_queue(VGlueVio *vv, unsigned int q)
{
	struct viommu_virtio_queue ring;
	int r;

	if (vv->vq_on[q] || !virtio_queue_get_desc_addr(vv->vdev, q)) {
		return;
	}
	ring.size = virtio_queue_get_num(vv->vdev, q);
	ring.desc = virtio_queue_get_desc_addr(vv->vdev, q);
	ring.avail = virtio_queue_get_avail_addr(vv->vdev, q);
	ring.used = virtio_queue_get_used_addr(vv->vdev, q);
	r = viommu_virtio_iommu_queue_enable(vv->v, q, &ring);
	if (r == 0 || r == VIOMMU_EBUSY) {
		vv->vq_on[q] = true;
	} else {
		qemu_log_mask(LOG_GUEST_ERROR, "viommu-virtio-iommu: queue %u refused: %s\n", q,
			      viommu_strerror(r));
	}
}

static void vv_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
	VGlueVio *vv = VIRTIO_IOMMU(vdev)->glue;
	unsigned int q = virtio_get_queue_index(vq);

	if (q >= NQ) {
		return;
	}
	qemu_rec_mutex_lock(&vv->lock);
	if (q == VIOMMU_VIRTIO_IOMMU_REQUESTQ) {
		vv_declare_all(vv);
	}
	vv_enable_queue(vv, q);
	viommu_virtio_iommu_queue_notify(vv->v, q);
	qemu_rec_mutex_unlock(&vv->lock);
}

/* ---- the model instance ------------------------------------------------------------------- */

static int vv_model_create(VGlueVio *vv, Error **errp)
{
	struct viommu_virtio_iommu_config cfg = {
		.bypass = vv->s->boot_bypass,
		.interrupt = vv_interrupt,
		.interrupt_opaque = vv,
	};
	int r = viommu_virtio_iommu_create(&cfg, &vv_host_ops, vv, &vv->v);

	if (r) {
		error_setg(errp, "viommu_virtio_iommu_create: %s", viommu_strerror(r));
		vv->v = NULL;
		return -1;
	}
	for (guint i = 0; i < vv->devs->len; i++) {
		((VGlueVioDev *)g_ptr_array_index(vv->devs, i))->declared = -1;
	}
	memset(vv->vq_on, 0, sizeof(vv->vq_on));
	vv->notifier = NULL;
	vv_notifier_update(vv);
	return 0;
}

/* Consumers forget everything each endpoint could reach: the model that said so is going. */
static void vv_model_destroy(VGlueVio *vv)
{
	for (guint i = 0; i < vv->devs->len; i++) {
		VGlueVioDev *d = g_ptr_array_index(vv->devs, i);

		if (d->iommu_mr.iommu_notify_flags & IOMMU_NOTIFIER_UNMAP) {
			vv_send(&d->iommu_mr, IOMMU_NOTIFIER_UNMAP, 0, UINT64_MAX, 0, IOMMU_NONE);
		}
	}
	if (vv->notifier) {
		viommu_notifier_del(vv->v, vv->notifier);
		vv->notifier = NULL;
	}
	viommu_destroy(vv->v);
	vv->v = NULL;
}

/*
 * System reset: config.bypass goes back to boot-bypass, which a device reset keeps (virtio
 * 5.13.4); a fresh instance is the model's system reset.
 */
static void vv_system_reset(void *opaque)
{
	VGlueVio *vv = opaque;

	qemu_rec_mutex_lock(&vv->lock);
	vv_model_destroy(vv);
	if (vv_model_create(vv, NULL)) {
		error_report("viommu-virtio-iommu: cannot recreate the model at reset");
		abort();
	}
	qemu_rec_mutex_unlock(&vv->lock);
}

/* One line of the model's counters on stderr when QEMU exits, for test logs. */
static void vv_exit(Notifier *n, void *data)
{
	VGlueVio *vv = container_of(n, VGlueVio, exit_notifier);
	struct viommu_virtio_iommu_stats st;
	uint64_t not_ok = 0;

	if (!vv->v || viommu_virtio_iommu_get_stats(vv->v, &st)) {
		return;
	}
	for (unsigned int i = 1; i < ARRAY_SIZE(st.status); i++) {
		not_ok += st.status[i];
	}
	fprintf(stderr,
		"viommu-virtio-iommu: stats attach=%" PRIu64 " detach=%" PRIu64 " map=%" PRIu64
		" unmap=%" PRIu64 " probe=%" PRIu64 " bad_requests=%" PRIu64 " not_ok=%" PRIu64
		" kicks=%" PRIu64 "/%" PRIu64 " used_irqs=%" PRIu64 " suppressed=%" PRIu64
		" translations=%" PRIu64 " translation_faults=%" PRIu64 " bypass=%" PRIu64
		" events_written=%" PRIu64 " events_dropped=%" PRIu64 " notifier_events=%" PRIu64
		" needs_reset=%" PRIu64 " domains=%" PRIu64 " mappings=%" PRIu64 " \n",
		st.requests[1], st.requests[2], st.requests[3], st.requests[4], st.requests[5],
		st.requests[0], not_ok, st.kicks[0], st.kicks[1], st.used_notifications,
		st.suppressed, st.translations, st.translation_faults, st.bypass_translations,
		st.events_written, st.events_dropped, st.notifier_events, st.needs_reset,
		st.domains, st.mappings);
}

/* ---- VirtioDeviceClass hooks (called from hw/virtio/virtio-iommu.c) --------------------------- */

void vglue_vio_realize(VirtIOIOMMU *s, Error **errp)
{
	VirtIODevice *vdev = VIRTIO_DEVICE(s);
	VGlueVio *vv;
	uint16_t qmax = 0;

	if (!s->primary_bus) {
		error_setg(errp, "virtio-iommu-pci,x-viommu=on is not attached to any PCI bus");
		return;
	}
	vv = g_new0(VGlueVio, 1);
	vv->s = s;
	vv->vdev = vdev;
	qemu_rec_mutex_init(&vv->lock);
	vv->by_bus = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	vv->devs = g_ptr_array_new_with_free_func(g_free);
	if (vv_model_create(vv, errp)) {
		goto fail;
	}
	error_setg(&vv->migration_blocker,
		   "virtio-iommu-pci,x-viommu=on does not migrate libviommu's state");
	if (migrate_add_blocker(vv->migration_blocker, errp) < 0) {
		error_free(vv->migration_blocker);
		viommu_destroy(vv->v);
		goto fail;
	}

	virtio_init(vdev, VIRTIO_ID_IOMMU, sizeof(struct virtio_iommu_config));
	viommu_virtio_iommu_queue_max_size(vv->v, 0, &qmax);
	qmax = MIN(MAX(qmax, 2), VIRTQUEUE_MAX_SIZE);
	for (unsigned int q = 0; q < NQ; q++) {
		vv->vq[q] = virtio_add_queue(vdev, qmax, vv_handle_output);
	}
	s->glue = vv;
	pci_setup_iommu(s->primary_bus, vv_find_add_as, vv);
	qemu_register_reset(vv_system_reset, vv);
	vv->exit_notifier.notify = vv_exit;
	qemu_add_exit_notifier(&vv->exit_notifier);
	return;

fail:
	g_hash_table_destroy(vv->by_bus);
	g_ptr_array_free(vv->devs, true);
	qemu_rec_mutex_destroy(&vv->lock);
	g_free(vv);
}

void vglue_vio_unrealize(VirtIOIOMMU *s)
{
	VGlueVio *vv = s->glue;
	VirtIODevice *vdev = VIRTIO_DEVICE(s);

	qemu_remove_exit_notifier(&vv->exit_notifier);
	qemu_unregister_reset(vv_system_reset, vv);
	migrate_del_blocker(vv->migration_blocker);
	error_free(vv->migration_blocker);
	vv_model_destroy(vv);
	for (guint i = 0; i < vv->devs->len; i++) {
		VGlueVioDev *d = g_ptr_array_index(vv->devs, i);

		address_space_destroy(&d->as);
		object_unparent(OBJECT(&d->iommu_mr));
	}
	g_hash_table_destroy(vv->by_bus);
	g_ptr_array_free(vv->devs, true);
	for (unsigned int q = 0; q < NQ; q++) {
		virtio_delete_queue(vv->vq[q]);
	}
	virtio_cleanup(vdev);
	qemu_rec_mutex_destroy(&vv->lock);
	s->glue = NULL;
	g_free(vv);
}

void vglue_vio_reset(VirtIOIOMMU *s)
{
	VGlueVio *vv = s->glue;

	qemu_rec_mutex_lock(&vv->lock);
	viommu_virtio_iommu_reset(vv->v);
	memset(vv->vq_on, 0, sizeof(vv->vq_on));
	qemu_rec_mutex_unlock(&vv->lock);
}

void vglue_vio_get_config(VirtIOIOMMU *s, uint8_t *config)
{
	VGlueVio *vv = s->glue;

	qemu_rec_mutex_lock(&vv->lock);
	for (uint32_t off = 0; off < VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE; off += 8) {
		uint64_t val = 0;

		viommu_virtio_iommu_config_read(vv->v, off, 8, &val);
		stq_le_p(config + off, val);
	}
	qemu_rec_mutex_unlock(&vv->lock);
}

/* Only `bypass` is writable; the model decides whether this write may change it. */
void vglue_vio_set_config(VirtIOIOMMU *s, const uint8_t *config)
{
	VGlueVio *vv = s->glue;
	const uint32_t at = offsetof(struct virtio_iommu_config, bypass);
	uint64_t cur = 0;

	qemu_rec_mutex_lock(&vv->lock);
	viommu_virtio_iommu_config_read(vv->v, at, 1, &cur);
	if (config[at] != cur) {
		viommu_virtio_iommu_config_write(vv->v, at, 1, config[at]);
	}
	qemu_rec_mutex_unlock(&vv->lock);
}

/*
 * The device-specific bits (0-23) are the model's; a transport bit (ring features, VERSION_1)
 * only when both the model and QEMU's transport offer it.
 */
uint64_t vglue_vio_get_features(VirtIOIOMMU *s, uint64_t transport_features)
{
	VGlueVio *vv = s->glue;
	uint64_t dev = 0;

	viommu_virtio_iommu_get_device_features(vv->v, &dev);
	return (dev & 0xffffffull) | (dev & transport_features & ~0xffffffull);
}

/* The driver set FEATURES_OK: the model accepts the features or leaves the bit clear. */
int vglue_vio_validate_features(VirtIOIOMMU *s)
{
	VGlueVio *vv = s->glue;
	VirtIODevice *vdev = VIRTIO_DEVICE(s);
	uint8_t st = 0;

	qemu_rec_mutex_lock(&vv->lock);
	viommu_virtio_iommu_set_driver_features(vv->v, vdev->guest_features);
	viommu_virtio_iommu_set_status(vv->v, vdev->status | VIOMMU_VIRTIO_S_FEATURES_OK);
	viommu_virtio_iommu_get_status(vv->v, &st);
	qemu_rec_mutex_unlock(&vv->lock);
	return (st & VIOMMU_VIRTIO_S_FEATURES_OK) ? 0 : -EINVAL;
}

void vglue_vio_set_status(VirtIOIOMMU *s, uint8_t status)
{
	VGlueVio *vv = s->glue;

	qemu_rec_mutex_lock(&vv->lock);
	viommu_virtio_iommu_set_status(vv->v, status);
	if (status == 0) {
		memset(vv->vq_on, 0, sizeof(vv->vq_on));
	} else if (status & VIOMMU_VIRTIO_S_DRIVER_OK) {
		/* The driver has enumerated PCI by now: every endpoint has its number. */
		vv_declare_all(vv);
		for (unsigned int q = 0; q < NQ; q++) {
			vv_enable_queue(vv, q);
		}
	}
	qemu_rec_mutex_unlock(&vv->lock);
}

/* ---- the IOMMU memory region type ------------------------------------------------------------ */

static void vv_memory_region_class_init(ObjectClass *klass, void *data)
{
	IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

	imrc->translate = vv_translate;
	imrc->replay = vv_replay;
	imrc->notify_flag_changed = vv_notify_flag_changed;
}

static const TypeInfo vv_memory_region_info = {
	.parent = TYPE_IOMMU_MEMORY_REGION,
	.name = TYPE_VGLUE_VIO_MEMORY_REGION,
	.class_init = vv_memory_region_class_init,
};

static void vv_register_types(void)
{
	type_register_static(&vv_memory_region_info);
}

type_init(vv_register_types)
