// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libviommu's TCE model (<viommu/calgary.h>) behind one sPAPR PHB's default DMA window
 * (spapr-pci-host-bridge,x-viommu=on): the guest's H_PUT_TCE, H_PUT_TCE_INDIRECT, H_STUFF_TCE and
 * H_GET_TCE on the window's LIOBN run through viommu_calgary_hcall() on PHB 0 of a Calgary
 * chip, and every DMA of the PHB's devices through viommu_translate(). QEMU's own table
 * (tcet->table) is left unused.
 *
 * Where the table lives. Calgary's TCE table is in guest memory at the address its TAR names;
 * sPAPR's is hypervisor-owned and the guest never sees it. So the VMM allocates the table in its
 * own memory and places it, for the model only, at a guest-physical address no guest RAM, PCI
 * window or TCE can name: VS_TABLE_GPA, above the model's pa_bits (46: a TCE whose page lies
 * there is refused by the hypercall), and absent from QEMU's memory map (neither the CPU nor a
 * device reaches it). The model's host ops serve that range from the VMM's buffer and every
 * other address from guest RAM; an H_PUT_TCE_INDIRECT list inside the range is refused here, so
 * the guest cannot read the table through the list either.
 *
 * The window: 4 KiB pages from bus address 0 (the PHB's default, dma_win_addr=0), one table of
 * 8 Ki .. 1 Mi entries (Calgary's sizes; sPAPR's default 1 GiB window is 256 Ki). Every PHB
 * reset gives a fresh model with an empty table (sPAPR's reset clears its table too). The
 * requester is the PHB (sPAPR's whole PHB is one partitionable endpoint and QEMU's translate
 * does not name the device), bus 0 devfn 0 for the model.
 *
 * A refused DMA (no valid TCE, wrong direction, page beyond the table) fails in QEMU as an
 * access to unassigned memory, sets the model's PHB CSR (TCE fault) and is logged here with the
 * I/O bus address (the first VS_LOG_FAULTS of them). As a pSeries PHB does on a TCE fault, it
 * also freezes the PHB's partitionable endpoint for EEH (the guest's recovery code): until the
 * guest thaws or resets the PE through RTAS, the PE's DMA is refused and its config space reads
 * as all ones, which is how Linux's pseries EEH code detects the freeze (it then asks
 * ibm,read-slot-reset-state2, which says "stopped"). MMIO to the PE's BARs is not blocked here.
 *
 * Consumers: the model's MAP/UNMAP events for the PHB go to QEMU's IOMMU notifiers on the window
 * (subscribed only while QEMU has notifiers there), as sPAPR's own put_tce_emu notifies.
 *
 * Copyright (c) 2026 the viommu authors.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "sysemu/sysemu.h"
#include "hw/ppc/spapr.h"
#include "hw/viommu/viommu-qemu.h"

#include <viommu/calgary.h>
#include <viommu/spec/calgary.h>

/* The table's place for the model: 32 KiB aligned, below 2^48 (TAR), above pa_bits. */
#define VS_TABLE_GPA 0xffff00000000ull
#define VS_PA_BITS 46
#define VS_LOG_FAULTS 16
#define VS_PAGE_SHIFT 12

struct ViommuSpapr {
	SpaprTceTable *tcet;
	struct viommu *v; /* NULL while the window is disabled */
	QemuRecMutex lock;
	uint8_t *table; /* the VMM-owned TCE table, served at VS_TABLE_GPA */
	uint64_t table_bytes;
	uint32_t entries;
	struct viommu_notifier *n;
	IOMMUNotifierFlag flags;
	uint64_t faults_logged;
	uint64_t faults; /* over every model this window had */
	/* EEH: the PE's MMIO (config space here) and DMA are stopped after a TCE fault. */
	bool mmio_frozen, dma_frozen;
	uint64_t freezes, frozen_dmas;
	Notifier exit_notifier;
};

static bool in_table(const ViommuSpapr *vs, uint64_t gpa, size_t len)
{
	return gpa < VS_TABLE_GPA + vs->table_bytes && gpa + len > VS_TABLE_GPA;
}

static ssize_t vs_dma_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	ViommuSpapr *vs = opaque;

	if (in_table(vs, gpa, len)) {
		if (gpa < VS_TABLE_GPA || gpa + len > VS_TABLE_GPA + vs->table_bytes)
			return VIOMMU_EFAULT;
		memcpy(buf, vs->table + (gpa - VS_TABLE_GPA), len);
		return (ssize_t)len;
	}
	return viommu_qemu_dma_read(NULL, gpa, buf, len);
}

static ssize_t vs_dma_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	ViommuSpapr *vs = opaque;

	if (in_table(vs, gpa, len)) {
		if (gpa < VS_TABLE_GPA || gpa + len > VS_TABLE_GPA + vs->table_bytes)
			return VIOMMU_EFAULT;
		memcpy(vs->table + (gpa - VS_TABLE_GPA), buf, len);
		return (ssize_t)len;
	}
	/* The model writes only its table; guest RAM stays read-only to it. */
	return VIOMMU_EFAULT;
}

static void vs_log(void *opaque, enum viommu_log_level level, const char *msg)
{
	if (level <= VIOMMU_LOG_WARN)
		error_report("viommu-spapr: %s", msg);
}

static const struct viommu_host_ops vs_ops = {
	.dma_read = vs_dma_read,
	.dma_write = vs_dma_write,
	.log = vs_log,
};

static void wr32(struct viommu *v, uint64_t off, uint32_t val)
{
	viommu_mmio_write(v, off, 4, bswap32(val));
}

static uint32_t rd32(struct viommu *v, uint64_t off)
{
	uint64_t val = 0;

	viommu_mmio_read(v, off, 4, &val);
	return bswap32((uint32_t)val);
}

/* Split [iova, last] into naturally aligned power-of-two blocks for QEMU's notifiers. */
static void notify_range(ViommuSpapr *vs, IOMMUNotifierFlag type, uint64_t iova, uint64_t last,
			 uint64_t out, uint32_t perm)
{
	uint64_t end = (uint64_t)vs->entries << VS_PAGE_SHIFT;

	if (iova >= end)
		return;
	if (last >= end)
		last = end - 1;
	iova &= ~((1ull << VS_PAGE_SHIFT) - 1);
	while (iova <= last) {
		uint64_t size = iova ? iova & -iova : 1ull << 62;
		IOMMUTLBEvent ev = { .type = type };

		while (size > (last - iova + 1) && size > (1ull << VS_PAGE_SHIFT))
			size >>= 1;
		ev.entry.target_as = &address_space_memory;
		ev.entry.iova = iova;
		ev.entry.addr_mask = size - 1;
		ev.entry.translated_addr = type == IOMMU_NOTIFIER_MAP ? out : 0;
		ev.entry.perm =
			type == IOMMU_NOTIFIER_MAP ?
				((perm & VIOMMU_ACC_READ) ? IOMMU_RO : IOMMU_NONE) |
					((perm & VIOMMU_ACC_WRITE) ? IOMMU_WO : IOMMU_NONE) :
				IOMMU_NONE;
		memory_region_notify_iommu(&vs->tcet->iommu, 0, ev);
		if (type == IOMMU_NOTIFIER_MAP)
			out += size;
		if (iova + size - 1 >= last || iova + size < iova)
			break;
		iova += size;
	}
}

static void vs_event(void *opaque, const struct viommu_event *e)
{
	ViommuSpapr *vs = opaque;

	if (e->type == VIOMMU_EV_MAP) {
		/* One page at a time: MAP blocks must translate contiguously. */
		for (uint64_t a = e->iova; a <= e->last && a >= e->iova; a += 1ull << VS_PAGE_SHIFT)
			notify_range(vs, IOMMU_NOTIFIER_MAP, a, a + (1ull << VS_PAGE_SHIFT) - 1,
				     e->out + (a - e->iova), e->perm);
	} else if (e->type == VIOMMU_EV_UNMAP) {
		notify_range(vs, IOMMU_NOTIFIER_UNMAP, e->iova, e->last, 0, 0);
		notify_range(vs, IOMMU_NOTIFIER_DEVIOTLB_UNMAP, e->iova, e->last, 0, 0);
	}
}

static void subscribe(ViommuSpapr *vs)
{
	if (vs->n) {
		viommu_notifier_del(vs->v, vs->n);
		vs->n = NULL;
	}
	/* MAP events only for notifiers that want them (vhost's device IOTLB wants UNMAPs). */
	if (vs->v && vs->flags != IOMMU_NOTIFIER_NONE &&
	    viommu_notifier_add(vs->v, VIOMMU_SID_ANY,
				VIOMMU_EV_UNMAP |
					((vs->flags & IOMMU_NOTIFIER_MAP) ? VIOMMU_EV_MAP : 0),
				vs_event, vs, &vs->n))
		error_report("viommu-spapr: cannot subscribe to the model's events");
}

static void model_free(ViommuSpapr *vs)
{
	if (vs->n)
		viommu_notifier_del(vs->v, vs->n);
	vs->n = NULL;
	if (vs->v) {
		struct viommu_calgary_stats st;

		if (!viommu_calgary_get_stats(vs->v, &st))
			vs->faults += st.faults;
		viommu_destroy(vs->v);
	}
	vs->v = NULL;
}

/* A fresh chip whose PHB 0 translates through an empty table of @entries TCEs. */
static void model_new(ViommuSpapr *vs, uint32_t entries)
{
	struct viommu_calgary_config cfg;
	unsigned int code = 0;
	int ret;

	model_free(vs);
	while (code < VIOMMU_TCE_TABLE_SIZE_8M && VIOMMU_TCE_ENTRIES(code) < entries)
		code++;
	if (VIOMMU_TCE_ENTRIES(code) != entries) {
		error_report("viommu-spapr: LIOBN 0x%x: a window of %u TCEs is not a Calgary table "
			     "size (8 Ki .. 1 Mi, powers of two): DMA is refused",
			     vs->tcet->liobn, entries);
		return;
	}
	if (vs->table_bytes != VIOMMU_TCE_TABLE_BYTES(code)) {
		g_free(vs->table);
		vs->table_bytes = VIOMMU_TCE_TABLE_BYTES(code);
		vs->table = g_malloc(vs->table_bytes);
	}
	memset(vs->table, 0, vs->table_bytes);
	vs->entries = entries;
	viommu_calgary_config_init(&cfg);
	cfg.pa_bits = VS_PA_BITS;
	ret = viommu_calgary_create(&cfg, &vs_ops, vs, &vs->v);
	if (ret) {
		error_report("viommu-spapr: viommu_calgary_create: %d", ret);
		vs->v = NULL;
		return;
	}
	/* As Linux's calgary_setup_tar(): the table and its size, then TCE translation on. */
	viommu_mmio_write(vs->v, VIOMMU_CALGARY_TAR(0), 8, bswap64(VS_TABLE_GPA | code));
	wr32(vs->v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CONFIG_RW,
	     rd32(vs->v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CONFIG_RW) |
		     VIOMMU_CALGARY_PHB_TCE_ENABLE);
	subscribe(vs);
}

void viommu_spapr_table_enable(ViommuSpapr *vs)
{
	SpaprTceTable *tcet = vs->tcet;

	qemu_rec_mutex_lock(&vs->lock);
	if (tcet->page_shift != VS_PAGE_SHIFT || tcet->bus_offset)
		error_report("viommu-spapr: LIOBN 0x%x: only a 4 KiB-page window at bus address 0 "
			     "is modelled (page shift %u, offset 0x%" PRIx64 "): DMA is refused",
			     tcet->liobn, tcet->page_shift, tcet->bus_offset);
	else
		model_new(vs, tcet->nb_table);
	qemu_rec_mutex_unlock(&vs->lock);
}

void viommu_spapr_table_disable(ViommuSpapr *vs)
{
	qemu_rec_mutex_lock(&vs->lock);
	if (vs->v && vs->flags != IOMMU_NOTIFIER_NONE)
		notify_range(vs, IOMMU_NOTIFIER_UNMAP, 0, UINT64_MAX, 0, 0);
	model_free(vs);
	qemu_rec_mutex_unlock(&vs->lock);
}

void viommu_spapr_table_reset(ViommuSpapr *vs)
{
	qemu_rec_mutex_lock(&vs->lock);
	if (vs->v) {
		if (vs->flags != IOMMU_NOTIFIER_NONE)
			notify_range(vs, IOMMU_NOTIFIER_UNMAP, 0, UINT64_MAX, 0, 0);
		model_new(vs, vs->entries);
	}
	qemu_rec_mutex_unlock(&vs->lock);
}

target_ulong viommu_spapr_hcall(ViommuSpapr *vs, target_ulong opcode, target_ulong *args)
{
	uint64_t a[4] = { 0, args[1], args[2], args[3] }, ret = 0;
	int64_t rc;

	qemu_rec_mutex_lock(&vs->lock);
	if (!vs->v) {
		rc = H_PARAMETER;
	} else if (opcode == H_PUT_TCE_INDIRECT && in_table(vs, args[2], 8 * 512)) {
		rc = H_PARAMETER;
	} else {
		rc = viommu_calgary_hcall(vs->v, opcode, a, &ret);
		if (rc == VIOMMU_TCE_H_SUCCESS && opcode == H_GET_TCE)
			args[0] = ret;
	}
	qemu_rec_mutex_unlock(&vs->lock);
	return (target_ulong)rc;
}

IOMMUTLBEntry viommu_spapr_translate(ViommuSpapr *vs, hwaddr addr, IOMMUAccessFlags flag)
{
	uint64_t mask = (1ull << VS_PAGE_SHIFT) - 1;
	IOMMUTLBEntry ret = {
		.target_as = &address_space_memory,
		.iova = addr & ~mask,
		.translated_addr = 0,
		.addr_mask = mask,
		.perm = IOMMU_NONE,
	};
	struct viommu_xlate_req req = { .sid = 0,
					.iova = addr & ~mask,
					.len = 1ull << VS_PAGE_SHIFT };
	struct viommu_xlate_result res;

	qemu_rec_mutex_lock(&vs->lock);
	if (!vs->v)
		goto out;
	if (vs->dma_frozen && flag != IOMMU_NONE) {
		vs->frozen_dmas++;
		goto out;
	}
	if (flag == IOMMU_NONE) {
		/*
		 * A query (replay, notifier set-up), not a DMA: what the table holds, without a
		 * fault. The hypercalls keep the model's TCE cache coherent with the table.
		 */
		uint64_t i = addr >> VS_PAGE_SHIFT, be, tce;

		if (i < vs->entries) {
			memcpy(&be, vs->table + 8 * i, 8);
			tce = be64_to_cpu(be);
			ret.translated_addr = tce & VIOMMU_TCE_RPN_MASK;
			ret.perm = ((tce & VIOMMU_TCE_READ) ? IOMMU_RO : IOMMU_NONE) |
				   ((tce & VIOMMU_TCE_WRITE) ? IOMMU_WO : IOMMU_NONE);
		}
		goto out;
	}
	req.access = ((flag & IOMMU_RO) ? VIOMMU_ACC_READ : 0) |
		     ((flag & IOMMU_WO) ? VIOMMU_ACC_WRITE : 0);
	if (viommu_translate(vs->v, &req, &res))
		goto out;
	if (viommu_xlate_ok(&res)) {
		ret.translated_addr = res.out & ~mask;
		ret.perm = ((res.perm & VIOMMU_ACC_READ) ? IOMMU_RO : IOMMU_NONE) |
			   ((res.perm & VIOMMU_ACC_WRITE) ? IOMMU_WO : IOMMU_NONE);
	} else {
		if (vs->faults_logged < VS_LOG_FAULTS) {
			vs->faults_logged++;
			error_report("viommu-spapr: TCE fault: LIOBN 0x%x ioba 0x%" PRIx64
				     " %s refused (type %d reason %u), PHB CSR 0x%08x, PE frozen",
				     vs->tcet->liobn, (uint64_t)addr,
				     (flag & IOMMU_WO) ? "write" : "read", res.fault.type,
				     res.fault.reason,
				     rd32(vs->v, VIOMMU_CALGARY_PHB(0) | VIOMMU_CALGARY_PHB_CSR));
		}
		vs->mmio_frozen = vs->dma_frozen = true;
		vs->freezes++;
	}
out:
	qemu_rec_mutex_unlock(&vs->lock);
	return ret;
}

int viommu_spapr_notify_flag_changed(ViommuSpapr *vs, IOMMUNotifierFlag old, IOMMUNotifierFlag new)
{
	qemu_rec_mutex_lock(&vs->lock);
	vs->flags = new;
	subscribe(vs);
	qemu_rec_mutex_unlock(&vs->lock);
	return 0;
}

/* The RTAS EEH calls on this PHB's PE (spapr_pci.c), under the BQL. */
int viommu_spapr_eeh_set_option(ViommuSpapr *vs, int option)
{
	int ret = RTAS_OUT_SUCCESS;

	qemu_rec_mutex_lock(&vs->lock);
	switch (option) {
	case RTAS_EEH_DISABLE:
	case RTAS_EEH_ENABLE:
		break;
	case RTAS_EEH_THAW_IO:
		vs->mmio_frozen = false;
		break;
	case RTAS_EEH_THAW_DMA:
		vs->dma_frozen = false;
		break;
	default:
		ret = RTAS_OUT_PARAM_ERROR;
		break;
	}
	qemu_rec_mutex_unlock(&vs->lock);
	return ret;
}

int viommu_spapr_eeh_get_state(ViommuSpapr *vs, int *state)
{
	qemu_rec_mutex_lock(&vs->lock);
	*state = vs->mmio_frozen ? RTAS_EEH_PE_STATE_STOPPED_IO_DMA :
		 vs->dma_frozen	 ? RTAS_EEH_PE_STATE_STOPPED_DMA :
				   RTAS_EEH_PE_STATE_NORMAL;
	qemu_rec_mutex_unlock(&vs->lock);
	return RTAS_OUT_SUCCESS;
}

/* A hot or fundamental reset thaws the PE (its devices are not reset here). */
int viommu_spapr_eeh_reset(ViommuSpapr *vs, int option)
{
	switch (option) {
	case RTAS_SLOT_RESET_DEACTIVATE:
		return RTAS_OUT_SUCCESS;
	case RTAS_SLOT_RESET_HOT:
	case RTAS_SLOT_RESET_FUNDAMENTAL:
		qemu_rec_mutex_lock(&vs->lock);
		vs->mmio_frozen = vs->dma_frozen = false;
		qemu_rec_mutex_unlock(&vs->lock);
		return RTAS_OUT_SUCCESS;
	}
	return RTAS_OUT_PARAM_ERROR;
}

bool viommu_spapr_eeh_mmio_frozen(ViommuSpapr *vs)
{
	bool f;

	qemu_rec_mutex_lock(&vs->lock);
	f = vs->mmio_frozen;
	qemu_rec_mutex_unlock(&vs->lock);
	return f;
}

static void vs_exit(Notifier *n, void *data)
{
	ViommuSpapr *vs = container_of(n, ViommuSpapr, exit_notifier);
	struct viommu_calgary_stats st = { 0 };

	if (vs->v)
		viommu_calgary_get_stats(vs->v, &st);
	fprintf(stderr,
		"viommu-spapr stats: liobn=0x%x entries=%u translations=%" PRIu64
		" cache_hits=%" PRIu64 " cache_misses=%" PRIu64 " faults=%" PRIu64
		" hcalls=%" PRIu64 " hcall_errors=%" PRIu64 " hcall_tces=%" PRIu64
		" notify_map=%" PRIu64 " notify_unmap=%" PRIu64 " eeh_freezes=%" PRIu64
		" eeh_refused=%" PRIu64 "\n",
		vs->tcet->liobn, vs->entries, st.translations, st.cache_hits, st.cache_misses,
		vs->faults + st.faults, st.hcalls, st.hcall_errors, st.hcall_tces, st.notify_map,
		st.notify_unmap, vs->freezes, vs->frozen_dmas);
}

void viommu_spapr_attach(SpaprTceTable *tcet)
{
	ViommuSpapr *vs = g_new0(ViommuSpapr, 1);

	vs->tcet = tcet;
	qemu_rec_mutex_init(&vs->lock);
	tcet->viommu = vs;
	vs->exit_notifier.notify = vs_exit;
	qemu_add_exit_notifier(&vs->exit_notifier);
	info_report("viommu-spapr: LIOBN 0x%x: TCE table and hypercalls by libviommu's model, "
		    "table at 0x%llx for the model",
		    tcet->liobn, VS_TABLE_GPA);
}
