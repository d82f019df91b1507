// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The device-independent half of viommu's QEMU devices: see viommu-qemu.h.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#include "qemu/osdep.h"

#include "exec/address-spaces.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_bus.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/rcu.h"
#include "sysemu/sysemu.h"

#include "hw/viommu/viommu-qemu.h"

typedef struct ViommuQemuKey {
	PCIBus *bus;
	uint8_t devfn;
} ViommuQemuKey;

static guint key_hash(gconstpointer p)
{
	const ViommuQemuKey *k = p;

	return g_direct_hash(k->bus) ^ k->devfn;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	const ViommuQemuKey *x = a, *y = b;

	return x->bus == y->bus && x->devfn == y->devfn;
}

void viommu_qemu_init(ViommuQemuUnit *u)
{
	qemu_rec_mutex_init(&u->lock);
	QLIST_INIT(&u->notified);
	u->spaces = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);
}

/*
 * The requester id, on every translation. pci_bus_num() makes two QOM class casts, each a type
 * lookup by name (perf showed them as a fifth of the translate path): a root bus's number never
 * changes (0, or a PXB's fixed bus_nr), so it is kept; a bus behind a bridge has the number the
 * guest programs in the bridge, asked each time.
 */
uint32_t viommu_qemu_sid(const ViommuQemuAS *as)
{
	int bus = as->root_bus_num >= 0 ? as->root_bus_num : pci_bus_num(as->bus);

	return PCI_BUILD_BDF(bus, as->devfn);
}

/* ---------------------------------------------------------------------------------------- */
/* Host ops: guest memory                                                                    */
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

ssize_t viommu_qemu_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	hwaddr n;

	RCU_READ_LOCK_GUARD();
	n = ram_prefix(gpa, len, false);
	if (n == 0 || address_space_read(&address_space_memory, gpa, MEMTXATTRS_UNSPECIFIED, buf,
					 n) != MEMTX_OK)
		return VIOMMU_EFAULT;
	return (ssize_t)n;
}

ssize_t viommu_qemu_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
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
void *viommu_qemu_dma_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
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

void viommu_qemu_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	ViommuQemuUnit *u = opaque;

	if (level <= VIOMMU_LOG_WARN)
		qemu_log_mask(LOG_GUEST_ERROR, "%s: %s\n", u->name, msg);
}

/* ---------------------------------------------------------------------------------------- */
/* Registers                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static uint64_t mmio_read(void *opaque, hwaddr addr, unsigned size)
{
	ViommuQemuUnit *u = opaque;
	uint64_t val = 0;

	qemu_rec_mutex_lock(&u->lock);
	viommu_mmio_read(u->v, addr, size, &val);
	qemu_rec_mutex_unlock(&u->lock);
	return val;
}

static void mmio_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
	ViommuQemuUnit *u = opaque;

	qemu_rec_mutex_lock(&u->lock);
	viommu_mmio_write(u->v, addr, size, val);
	qemu_rec_mutex_unlock(&u->lock);
}

/* The model decides which widths each register accepts: hand it the guest's own access. */
const MemoryRegionOps viommu_qemu_mmio_ops = {
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

IOMMUTLBEntry viommu_qemu_translate(IOMMUMemoryRegion *iommu, hwaddr addr, IOMMUAccessFlags flag,
				    int iommu_idx)
{
	ViommuQemuAS *as = container_of(iommu, ViommuQemuAS, iommu);
	ViommuQemuUnit *u = as->u;
	struct viommu_xlate_req req = {
		.sid = viommu_qemu_sid(as),
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
	bool blocked;
	int ret;

	qemu_rec_mutex_lock(&u->lock);
	ret = viommu_translate(u->v, &req, &res);
	blocked = ret || !viommu_xlate_ok(&res);
	as->translations++;
	as->blocked += blocked;
	qemu_rec_mutex_unlock(&u->lock);
	/* A blocked DMA: the model has recorded the fault and raised its interrupt. */
	if (blocked)
		return e;
	/*
	 * VIOMMU_XLATE_F_INTERRUPT (a request into the interrupt window) comes back as an identity
	 * 4 KiB write-only entry, as QEMU's own devices answer without interrupt remapping: the
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
 * inside it; vhost's ends at 2^64 - 2) and to the unit's input address range (nothing translates
 * above it: a domain-wide flush becomes one event, not 64).
 */
static void as_notify_one(ViommuQemuAS *as, IOMMUNotifier *n, IOMMUNotifierFlag type, uint64_t iova,
			  uint64_t last, uint64_t out, IOMMUAccessFlags perm)
{
	uint64_t a = MAX(iova, n->start), b = MIN(MIN(last, as->u->iova_last), n->end);

	if ((n->notifier_flags & type) && a <= b)
		as_notify(n, type, a, b, out + (a - iova), perm);
}

static void model_event(void *opaque, const struct viommu_event *ev)
{
	ViommuQemuAS *as = opaque;
	IOMMUNotifierFlag type;
	IOMMUNotifier *n;

	/* No PASID address spaces here; QEMU's notifiers are per requester. */
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
	IOMMU_NOTIFIER_FOREACH(n, &as->iommu)
	{
		as_notify_one(as, n, type, ev->iova, ev->last, ev->out, to_qemu_perm(ev->perm));
	}
}

static uint32_t model_events(IOMMUNotifierFlag f)
{
	return ((f & IOMMU_NOTIFIER_MAP) ? VIOMMU_EV_MAP : 0) |
	       ((f & IOMMU_NOTIFIER_UNMAP) ? VIOMMU_EV_UNMAP : 0) |
	       ((f & IOMMU_NOTIFIER_DEVIOTLB_UNMAP) ? VIOMMU_EV_DEVIOTLB_UNMAP : 0);
}

/* (Re)subscribe @as to the events its QEMU notifiers want. Caller holds the lock. */
static int as_subscribe(ViommuQemuAS *as)
{
	ViommuQemuUnit *u = as->u;

	if (as->n) {
		viommu_notifier_del(u->v, as->n);
		as->n = NULL;
	}
	if (as->flags == IOMMU_NOTIFIER_NONE)
		return 0;
	return viommu_notifier_add(u->v, viommu_qemu_sid(as), model_events(as->flags), model_event,
				   as, &as->n);
}

int viommu_qemu_notify_flag_changed(IOMMUMemoryRegion *iommu, IOMMUNotifierFlag old,
				    IOMMUNotifierFlag new, Error **errp)
{
	ViommuQemuAS *as = container_of(iommu, ViommuQemuAS, iommu);
	ViommuQemuUnit *u = as->u;
	int ret;

	qemu_rec_mutex_lock(&u->lock);
	as->flags = new;
	ret = as_subscribe(as);
	if (old == IOMMU_NOTIFIER_NONE && new != IOMMU_NOTIFIER_NONE)
		QLIST_INSERT_HEAD(&u->notified, as, next);
	else if (old != IOMMU_NOTIFIER_NONE && new == IOMMU_NOTIFIER_NONE)
		QLIST_REMOVE(as, next);
	qemu_rec_mutex_unlock(&u->lock);
	if (ret) {
		error_setg(errp, "%s: notifier: %s", u->name, viommu_strerror(ret));
		return -ENOMEM;
	}
	return 0;
}

typedef struct ReplayCtx {
	ViommuQemuAS *as;
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
void viommu_qemu_replay(IOMMUMemoryRegion *iommu, IOMMUNotifier *n)
{
	ViommuQemuAS *as = container_of(iommu, ViommuQemuAS, iommu);
	ViommuQemuUnit *u = as->u;
	ReplayCtx c = { .as = as, .n = n };
	struct viommu_notifier *tmp;

	if (n->notifier_flags & IOMMU_NOTIFIER_UNMAP)
		as_notify_one(as, n, IOMMU_NOTIFIER_UNMAP, n->start, n->end, 0, IOMMU_NONE);
	if (!(n->notifier_flags & IOMMU_NOTIFIER_MAP))
		return;
	qemu_rec_mutex_lock(&u->lock);
	if (viommu_notifier_add(u->v, viommu_qemu_sid(as), VIOMMU_EV_MAP, replay_event, &c, &tmp) ==
	    0) {
		int ret = viommu_notifier_replay(u->v, tmp);

		if (ret)
			error_report("%s: replay: %s", u->name, viommu_strerror(ret));
		viommu_notifier_del(u->v, tmp);
	}
	qemu_rec_mutex_unlock(&u->lock);
}

AddressSpace *viommu_qemu_dma_as(PCIBus *bus, void *opaque, int devfn)
{
	ViommuQemuUnit *u = opaque;
	ViommuQemuKey key = { .bus = bus, .devfn = (uint8_t)devfn };
	ViommuQemuAS *as = g_hash_table_lookup(u->spaces, &key);
	char name[64], msi_name[64];

	if (as)
		return &as->as;
	as = g_new0(ViommuQemuAS, 1);
	as->u = u;
	as->bus = bus;
	as->devfn = (uint8_t)devfn;
	as->root_bus_num = pci_bus_is_root(bus) ? pci_bus_num(bus) : -1;
	snprintf(name, sizeof(name), "%s-%p-%02x.%x", u->as_name, (void *)bus, PCI_SLOT(devfn),
		 PCI_FUNC(devfn));
	snprintf(msi_name, sizeof(msi_name), "%s-msi", u->as_name);
	memory_region_init_iommu(&as->iommu, sizeof(as->iommu), u->mr_type, u->owner, name,
				 UINT64_MAX);
	memory_region_init(&as->root, u->owner, name, UINT64_MAX);
	memory_region_add_subregion_overlap(&as->root, 0, MEMORY_REGION(&as->iommu), 0);
	/* x86: MSIs pass straight to the APIC (no interrupt remapping), above the IOMMU region. */
	if (u->msi_size) {
		memory_region_init_alias(&as->msi, u->owner, msi_name, get_system_memory(),
					 u->msi_base, u->msi_size);
		memory_region_add_subregion_overlap(&as->root, u->msi_base, &as->msi, 1);
	}
	address_space_init(&as->as, &as->root, name);
	g_hash_table_insert(u->spaces, g_memdup2(&key, sizeof(key)), as);
	return &as->as;
}

void viommu_qemu_swap_model(ViommuQemuUnit *u, struct viommu *v)
{
	ViommuQemuAS *as;

	qemu_rec_mutex_lock(&u->lock);
	QLIST_FOREACH(as, &u->notified, next)
	{
		if (as->n)
			viommu_notifier_del(u->v, as->n);
		as->n = NULL;
	}
	viommu_destroy(u->v);
	u->v = v;
	QLIST_FOREACH(as, &u->notified, next)
	{
		IOMMUNotifier *n;

		IOMMU_NOTIFIER_FOREACH(n, &as->iommu)
		{
			if (n->notifier_flags & IOMMU_NOTIFIER_UNMAP)
				as_notify_one(as, n, IOMMU_NOTIFIER_UNMAP, n->start, n->end, 0,
					      IOMMU_NONE);
		}
		if (as_subscribe(as))
			error_report("%s: reset: cannot resubscribe notifiers", u->name);
	}
	qemu_rec_mutex_unlock(&u->lock);
}

static void exit_stats(Notifier *n, void *data)
{
	ViommuQemuUnit *u = container_of(n, ViommuQemuUnit, exit_notifier);

	if (u->v)
		u->print_stats(u);
}

void viommu_qemu_stats_at_exit(ViommuQemuUnit *u)
{
	u->exit_notifier.notify = exit_stats;
	qemu_add_exit_notifier(&u->exit_notifier);
}

static gint as_by_sid(gconstpointer a, gconstpointer b)
{
	uint32_t x = viommu_qemu_sid(*(ViommuQemuAS *const *)a);
	uint32_t y = viommu_qemu_sid(*(ViommuQemuAS *const *)b);

	return x < y ? -1 : x > y;
}

void viommu_qemu_print_devices(ViommuQemuUnit *u, const char *prefix)
{
	GPtrArray *used = g_ptr_array_new();
	GString *line = g_string_new(NULL);
	GHashTableIter it;
	gpointer key, val;
	guint i;

	qemu_rec_mutex_lock(&u->lock);
	g_hash_table_iter_init(&it, u->spaces);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		ViommuQemuAS *as = val;

		if (as->translations)
			g_ptr_array_add(used, as);
	}
	g_ptr_array_sort(used, as_by_sid);
	for (i = 0; i < used->len; i++) {
		ViommuQemuAS *as = g_ptr_array_index(used, i);
		PCIDevice *pd = as->bus->devices[as->devfn];
		uint32_t sid = viommu_qemu_sid(as);

		g_string_append_printf(
			line, "%s %02x:%02x.%x %s translations=%" PRIu64 " blocked=%" PRIu64,
			i ? ";" : "", PCI_BUS_NUM(sid), PCI_SLOT(sid & 0xff), PCI_FUNC(sid & 0xff),
			pd ? object_get_typename(OBJECT(pd)) : "-", as->translations, as->blocked);
	}
	qemu_rec_mutex_unlock(&u->lock);
	fprintf(stderr, "%s devices:%s\n", prefix, used->len ? line->str : " none");
	g_string_free(line, true);
	g_ptr_array_free(used, true);
}
