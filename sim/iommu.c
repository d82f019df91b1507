// SPDX-License-Identifier: MIT
/*
 * The simulator's vIOMMU backends; see iommu.h.
 */
#include <limits.h>
#include <stdlib.h>

#include <viommu/amdvi.h>
#include <viommu/smmuv3.h>
#include <viommu/calgary.h>
#include <viommu/virtio_iommu.h>
#include <viommu/vtd.h>

#include "amdvi_driver.h"
#include "calgary_driver.h"
#include "iommu.h"
#include "smmuv3_driver.h"
#include "virtio_iommu_driver.h"
#include "vtd_driver.h"

#define DID 1	       /* the one VT-d domain */
#define VIO_DOMAIN 1   /* the one virtio-iommu domain */
#define AMDVI_DOMAIN 1 /* the one AMD-Vi domain */
#define SMMU_ASID 1    /* the one SMMUv3 (stage 1) domain */
#define VIO_QUEUE 256  /* QEMU's virtio-iommu queue size (VIOMMU_DEFAULT_QUEUE_SIZE) */

struct sim_iommu {
	struct sim_iommu_config cfg;
	struct viommu *v;
	struct vg_vtd *vtd;
	struct vg_vio *vio;
	struct vg_amdvi *amdvi;
	struct vg_smmu *smmu;
	struct vg_cal *cal;
	struct viommu_host_ops ops; /* flat memory, with reads counted */
	uint64_t reads;
	uint64_t op_calls; /* map, sync_map, unmap, unmap_lazy and flush calls (not map_queue) */
};

static ssize_t shim_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct sim_iommu *s = opaque;

	s->reads++;
	return viommu_flatmem_ops()->dma_read(s->cfg.mem, gpa, buf, len);
}

static ssize_t shim_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct sim_iommu *s = opaque;

	return viommu_flatmem_ops()->dma_write(s->cfg.mem, gpa, buf, len);
}

const char *sim_model_name(enum sim_model m)
{
	switch (m) {
	case SIM_MODEL_NONE:
		return "none";
	case SIM_MODEL_VTD:
		return "vtd";
	case SIM_MODEL_VIRTIO_IOMMU:
		return "virtio-iommu";
	case SIM_MODEL_AMDVI:
		return "amdvi";
	case SIM_MODEL_SMMUV3:
		return "smmuv3";
	case SIM_MODEL_CALGARY:
		return "calgary";
	case SIM_MODEL_CALGARY_HCALL:
		return "calgary-hcall";
	}
	return "?";
}

static int vtd_setup(struct sim_iommu *s)
{
	struct viommu_vtd_config vc;
	struct vg_vtd_config dc = {
		.mem = s->cfg.mem,
		.pool_base = s->cfg.arena,
		.pool_size = s->cfg.arena_size,
	};
	int ret;

	viommu_vtd_config_init(&vc);
	if (s->cfg.caching_mode)
		vc.flags |= VIOMMU_VTD_CM;
	if (s->cfg.ats)
		vc.flags |= VIOMMU_VTD_DT;
	ret = viommu_vtd_create(&vc, &s->ops, s, &s->v);
	if (ret)
		return ret;
	dc.iommu = s->v;
	ret = vg_vtd_create(&dc, &s->vtd);
	if (!ret)
		ret = vg_vtd_enable(s->vtd);
	if (!ret)
		ret = vg_vtd_attach(s->vtd, (uint16_t)s->cfg.sid, DID, false);
	return ret;
}

static int vio_setup(struct sim_iommu *s)
{
	struct viommu_virtio_iommu_config vc = { .queue_size_max = VIO_QUEUE };
	/* The DMA layer owns the flush policy: the driver must not flush on its own. */
	struct vg_vio_config dc = {
		.arena = s->cfg.arena,
		.arena_size = s->cfg.arena_size,
		.flush_threshold = UINT_MAX,
	};
	int ret;

	ret = viommu_virtio_iommu_create(&vc, &s->ops, s, &s->v);
	if (!ret)
		ret = viommu_virtio_iommu_add_endpoint(s->v, s->cfg.sid);
	if (!ret)
		ret = vg_vio_create(s->v, s->cfg.mem, &dc, &s->vio);
	if (!ret)
		ret = vg_vio_attach(s->vio, VIO_DOMAIN, s->cfg.sid, 0);
	return ret > 0 ? VIOMMU_EIO : ret;
}

/*
 * NpCache advertised and honoured: the driver flushes after mapping, as Linux does; clear for an
 * IOMMU nobody shadows (the hardware vIOMMU), as on real hardware.
 */
static int amdvi_setup(struct sim_iommu *s)
{
	struct viommu_amdvi_config ac;
	struct vg_amdvi_config dc = {
		.pool_base = s->cfg.arena,
		.pool_size = s->cfg.arena_size,
		.dev_table_pages = s->cfg.sid / 128 + 1, /* entries up to the endpoint's */
		.levels = 4,
	};
	int ret;

	viommu_amdvi_config_init(&ac);
	if (s->cfg.iotlb_entries)
		ac.iotlb_capacity = s->cfg.iotlb_entries;
	if (s->cfg.no_np_cache) {
		ac.flags &= ~VIOMMU_AMDVI_NPCACHE;
		dc.no_np_cache_flush = true;
	}
	if (s->cfg.v2) {
		ac.flags |= VIOMMU_AMDVI_GT;
		dc.v2 = true;
	}
	ret = viommu_amdvi_create(&ac, &s->ops, s, &s->v);
	if (ret)
		return ret;
	dc.iommu = s->v;
	dc.mem = s->cfg.mem;
	ret = vg_amdvi_create(&dc, &s->amdvi);
	if (!ret)
		ret = vg_amdvi_enable(s->amdvi);
	if (!ret)
		ret = vg_amdvi_attach(s->amdvi, (uint16_t)s->cfg.sid, AMDVI_DOMAIN, false);
	if (!ret && s->cfg.ats)
		ret = vg_amdvi_set_ats(s->amdvi, (uint16_t)s->cfg.sid, true);
	return ret;
}

/*
 * Linux's arm-smmu-v3 with a stage 1 domain (its default DMA domain) on an SMMU of seed 000's
 * era: no MSI (the driver polls CMDQ_CONS for CMD_SYNC) and no range invalidation (one TLBI per
 * granule). With caching mode the VMM advertises the seed's two proposals: the quirk (the
 * quirk-aware driver invalidates after every map) and ranges (RIL stands for its addr_mask).
 */
static int smmuv3_setup(struct sim_iommu *s)
{
	struct viommu_smmuv3_config c;
	struct vg_smmu_config dc = {
		.mem = s->cfg.mem,
		.pool_base = s->cfg.arena,
		.pool_size = s->cfg.arena_size,
		.cm = s->cfg.caching_mode,
	};
	int ret;

	viommu_smmuv3_config_init(&c);
	c.flags &= ~(VIOMMU_SMMUV3_MSI | VIOMMU_SMMUV3_RIL);
	if (s->cfg.caching_mode)
		c.flags |= VIOMMU_SMMUV3_CM | VIOMMU_SMMUV3_RIL;
	ret = viommu_smmuv3_create(&c, &s->ops, s, &s->v);
	if (ret)
		return ret;
	dc.iommu = s->v;
	ret = vg_smmu_create(&dc, &s->smmu);
	if (!ret)
		ret = vg_smmu_enable(s->smmu);
	if (!ret)
		ret = vg_smmu_attach(s->smmu, s->cfg.sid, VG_SMMU_STE_S1, SMMU_ASID, 0, s->cfg.ats);
	return ret;
}

/*
 * Calgary: one chip, the endpoint's bus behind PHB (bus - first_bus); Linux's driver with a
 * 1 Mi-entry table. The DMA layer allocates the IOVAs, so the driver only writes TCEs; the
 * hypercall model sends them as H_PUT_TCE_INDIRECT batches.
 */
static int calgary_setup(struct sim_iommu *s)
{
	struct viommu_calgary_config cc;
	struct vg_cal_config dc = {
		.mem = s->cfg.mem,
		.pool_base = s->cfg.arena,
		.pool_size = s->cfg.arena_size,
		.phb = s->cfg.sid >> 8,
		.hcall = s->cfg.model == SIM_MODEL_CALGARY_HCALL,
		.hcall_batch = s->cfg.model == SIM_MODEL_CALGARY_HCALL,
		/* "cm" on Calgary: the VMM write-protects the table (to shadow an assigned device). */
		.trap_writes = s->cfg.caching_mode,
	};
	int ret;

	viommu_calgary_config_init(&cc);
	if (dc.phb >= 4)
		return VIOMMU_EINVAL;
	ret = viommu_calgary_create(&cc, &s->ops, s, &s->v);
	if (ret)
		return ret;
	dc.iommu = s->v;
	ret = vg_cal_create(&dc, &s->cal);
	if (!ret)
		ret = vg_cal_enable(s->cal);
	return ret;
}

int sim_iommu_create(const struct sim_iommu_config *cfg, struct sim_iommu **out)
{
	struct sim_iommu *s;
	int ret = 0;

	if (!cfg || !out || !cfg->mem ||
	    (cfg->model != SIM_MODEL_VTD && cfg->model != SIM_MODEL_SMMUV3 &&
	     cfg->model != SIM_MODEL_CALGARY && cfg->caching_mode) ||
	    (cfg->model != SIM_MODEL_VTD && cfg->model != SIM_MODEL_AMDVI &&
	     cfg->model != SIM_MODEL_SMMUV3 && cfg->ats))
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->cfg = *cfg;
	s->ops.dma_read = shim_read;
	s->ops.dma_write = shim_write;
	if (cfg->model == SIM_MODEL_VTD)
		ret = vtd_setup(s);
	else if (cfg->model == SIM_MODEL_VIRTIO_IOMMU)
		ret = vio_setup(s);
	else if (cfg->model == SIM_MODEL_AMDVI)
		ret = amdvi_setup(s);
	else if (cfg->model == SIM_MODEL_SMMUV3)
		ret = smmuv3_setup(s);
	else if (cfg->model == SIM_MODEL_CALGARY || cfg->model == SIM_MODEL_CALGARY_HCALL)
		ret = calgary_setup(s);
	if (ret) {
		sim_iommu_destroy(s);
		return ret;
	}
	*out = s;
	return 0;
}

void sim_iommu_destroy(struct sim_iommu *s)
{
	if (!s)
		return;
	vg_vio_destroy(s->vio);
	vg_vtd_destroy(s->vtd);
	vg_amdvi_destroy(s->amdvi);
	vg_smmu_destroy(s->smmu);
	vg_cal_destroy(s->cal);
	viommu_destroy(s->v);
	free(s);
}

struct viommu *sim_iommu_model(struct sim_iommu *s)
{
	return s->v;
}

uint64_t sim_iommu_pgsizes(const struct sim_iommu *s)
{
	if (s->vio)
		return vg_vio_page_size_mask(s->vio);
	if (s->cal)
		return 1ull << 12; /* a TCE maps one 4 KiB page */
	return (1ull << 12) | (1ull << 21) | (1ull << 30);
}

static uint32_t vio_flags(uint32_t perm)
{
	return (perm & VIOMMU_ACC_READ ? VIOMMU_VIRTIO_IOMMU_MAP_F_READ : 0) |
	       (perm & VIOMMU_ACC_WRITE ? VIOMMU_VIRTIO_IOMMU_MAP_F_WRITE : 0);
}

/* A virtio-iommu status (positive) is a failure of the request, not of the simulator's call. */
static int vio_ret(int ret)
{
	return ret > 0 ? VIOMMU_EIO : ret;
}

int sim_iommu_map(struct sim_iommu *s, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	s->op_calls++;
	if (s->cal)
		return vg_cal_dma_ops.map(s->cal, iova, gpa, size, perm);
	if (s->vtd)
		return vg_vtd_map(s->vtd, DID, iova, gpa, size, perm);
	if (s->amdvi)
		return vg_amdvi_map(s->amdvi, AMDVI_DOMAIN, iova, gpa, size, perm);
	if (s->smmu)
		return vg_smmu_map(s->smmu, false, SMMU_ASID, iova, gpa, size, perm);
	if (s->vio)
		return vio_ret(vg_vio_map(s->vio, VIO_DOMAIN, iova, iova + size - 1, gpa,
					  vio_flags(perm)));
	return VIOMMU_ENOTSUP;
}

int sim_iommu_map_queue(struct sim_iommu *s, uint64_t iova, uint64_t gpa, uint64_t size,
			uint32_t perm)
{
	if (s->cal)
		return vg_cal_dma_ops.map_queue(s->cal, iova, gpa, size, perm);
	if (s->vtd)
		return vg_vtd_map_nosync(s->vtd, DID, iova, gpa, size, perm);
	if (s->amdvi)
		return vg_amdvi_map_nosync(s->amdvi, AMDVI_DOMAIN, iova, gpa, size, perm);
	if (s->smmu)
		return vg_smmu_map_nosync(s->smmu, false, SMMU_ASID, iova, gpa, size, perm);
	if (s->vio)
		return vio_ret(vg_vio_map_queue(s->vio, VIO_DOMAIN, iova, iova + size - 1, gpa,
						vio_flags(perm)));
	return VIOMMU_ENOTSUP;
}

int sim_iommu_sync_map(struct sim_iommu *s)
{
	s->op_calls++;
	if (s->cal)
		return vg_cal_dma_ops.sync_map(s->cal);
	if (s->vtd)
		return vg_vtd_sync_map(s->vtd);
	if (s->amdvi)
		return vg_amdvi_sync_map(s->amdvi);
	if (s->smmu)
		return vg_smmu_sync_map(s->smmu);
	if (s->vio)
		return vio_ret(vg_vio_sync(s->vio));
	return VIOMMU_ENOTSUP;
}

int sim_iommu_unmap(struct sim_iommu *s, uint64_t iova, uint64_t size)
{
	int ret;

	s->op_calls++;
	if (s->cal)
		return vg_cal_dma_ops.unmap(s->cal, iova, size);
	if (s->vio)
		return vio_ret(vg_vio_unmap(s->vio, VIO_DOMAIN, iova, iova + size - 1));
	/* AMD-Vi: the driver flushes the IOMMU and, with DTE.I, the device IOTLB (Linux's order). */
	if (s->amdvi)
		return vg_amdvi_unmap(s->amdvi, AMDVI_DOMAIN, iova, size);
	/* SMMUv3: TLBI_NH_VA (a range with RIL), ATC_INV with ATS, one CMD_SYNC. */
	if (s->smmu)
		return vg_smmu_unmap(s->smmu, false, SMMU_ASID, iova, size);
	if (!s->vtd)
		return VIOMMU_ENOTSUP;
	/* Linux: IOTLB flush, then the device TLBs of the domain's ATS devices. */
	ret = vg_vtd_unmap(s->vtd, DID, iova, size);
	if (!ret && s->cfg.ats)
		ret = vg_vtd_flush_dev_iotlb(s->vtd, (uint16_t)s->cfg.sid, iova, size);
	return ret;
}

int sim_iommu_unmap_lazy(struct sim_iommu *s, uint64_t iova, uint64_t size)
{
	s->op_calls++;
	if (s->cal)
		return vg_cal_dma_ops.unmap_lazy(s->cal, iova, size);
	if (s->vtd)
		return vg_vtd_unmap_nosync(s->vtd, DID, iova, size);
	if (s->amdvi)
		return vg_amdvi_unmap_nosync(s->amdvi, AMDVI_DOMAIN, iova, size);
	if (s->smmu)
		return vg_smmu_unmap_nosync(s->smmu, false, SMMU_ASID, iova, size);
	if (s->vio)
		return vio_ret(vg_vio_unmap_deferred(s->vio, VIO_DOMAIN, iova, iova + size - 1));
	return VIOMMU_ENOTSUP;
}

int sim_iommu_flush(struct sim_iommu *s)
{
	int ret;

	s->op_calls++;
	if (s->cal)
		return vg_cal_dma_ops.flush(s->cal);
	if (s->vio)
		return vio_ret(vg_vio_sync(s->vio));
	if (s->amdvi)
		return vg_amdvi_flush(s->amdvi);
	if (s->smmu)
		return vg_smmu_flush(s->smmu);
	if (!s->vtd)
		return VIOMMU_ENOTSUP;
	/* Linux's flush queue: flush_iotlb_all, i.e. the domain, then every device TLB. */
	ret = vg_vtd_flush(s->vtd);
	if (!ret && s->cfg.ats)
		ret = vg_vtd_flush_dev_iotlb(s->vtd, (uint16_t)s->cfg.sid, 0, 1ull << 63);
	return ret;
}

uint64_t sim_iommu_reads(const struct sim_iommu *s)
{
	return s->reads;
}

void sim_iommu_counts(const struct sim_iommu *s, struct sim_iommu_counts *c)
{
	*c = (struct sim_iommu_counts){ .table_reads = s->reads };
	if (s->cfg.model == SIM_MODEL_VTD) {
		struct viommu_vtd_stats st;

		viommu_vtd_get_stats(s->v, &st);
		c->mmio_exits = st.mmio_reads + st.mmio_writes;
		c->ops = st.mmio_writes + st.qi_cc + st.qi_iotlb + st.qi_dev_iotlb + st.qi_iec +
			 st.qi_wait;
		c->invalidations = st.inv_iotlb_global + st.inv_iotlb_domain + st.inv_iotlb_page +
				   st.inv_dev_iotlb;
		c->translations = st.translations;
		c->iotlb_hits = st.iotlb_hits;
		c->iotlb_misses = st.iotlb_misses;
	} else if (s->cfg.model == SIM_MODEL_AMDVI) {
		struct viommu_amdvi_stats st;
		struct vg_amdvi_stats ds;

		viommu_amdvi_get_stats(s->v, &st);
		vg_amdvi_get_stats(s->amdvi, &ds);
		c->mmio_exits = st.mmio_reads + st.mmio_writes;
		c->direct_mmio = ds.ptr_accesses;
		c->dte_writes = st.cmd_inv_devtab;
		c->commands = st.cmd_completion_wait + st.cmd_inv_devtab + st.cmd_inv_pages +
			      st.cmd_inv_iotlb + st.cmd_inv_irt + st.cmd_inv_all;
		c->completion_waits = st.cmd_completion_wait;
		c->ops = st.mmio_writes + st.cmd_completion_wait + st.cmd_inv_devtab +
			 st.cmd_inv_pages + st.cmd_inv_iotlb + st.cmd_inv_irt + st.cmd_inv_all;
		c->invalidations = st.cmd_inv_pages + st.cmd_inv_iotlb + st.cmd_inv_all;
		c->translations = st.translations;
		c->iotlb_hits = st.iotlb_hits;
		c->iotlb_misses = st.iotlb_misses;
	} else if (s->cfg.model == SIM_MODEL_SMMUV3) {
		struct viommu_smmuv3_stats st;

		viommu_smmuv3_get_stats(s->v, &st);
		c->mmio_exits = st.mmio_reads + st.mmio_writes;
		c->ops = st.mmio_writes + st.cmds;
		c->invalidations = st.cmd_tlbi + st.cmd_atc_inv;
		c->translations = st.translations;
		c->iotlb_hits = st.iotlb_hits;
		c->iotlb_misses = st.iotlb_misses;
	} else if (s->cal) {
		struct viommu_calgary_stats st;

		/*
		 * Register accesses (the blast sequences), hypercalls and trapped TCE stores (one
		 * per entry) all exit to the VMM; a hypercall's TCEs, each trapped TCE and each
		 * register write are its emulation work; a blast is the invalidation.
		 */
		struct vg_cal_stats ds;

		viommu_calgary_get_stats(s->v, &st);
		vg_cal_get_stats(s->cal, &ds);
		c->mmio_exits = st.mmio_reads + st.mmio_writes + st.hcalls + st.trapped_tces;
		/*
		 * Driven natively (bare metal, or Xen for a domain): register accesses, TCE stores
		 * by the CPU or the hypercall handler, and the crossings: the model's hypercalls, or
		 * one per DMA-layer call that reaches the bare-chip driver (Xen's map/unmap calls).
		 */
		c->native_mmio = st.mmio_reads + st.mmio_writes;
		c->tce_writes = ds.tce_writes + st.hcall_tces;
		c->crossings = s->cfg.model == SIM_MODEL_CALGARY_HCALL ? st.hcalls : s->op_calls;
		c->ops = st.mmio_writes + st.hcall_tces + st.trapped_tces;
		c->invalidations = st.blasts;
		c->translations = st.translations;
		c->iotlb_hits = st.cache_hits;
		c->iotlb_misses = st.cache_misses;
	} else if (s->cfg.model == SIM_MODEL_VIRTIO_IOMMU) {
		struct viommu_virtio_iommu_stats st;

		viommu_virtio_iommu_get_stats(s->v, &st);
		c->kicks = st.kicks[0];
		for (int i = 0; i < 6; i++)
			c->requests += st.requests[i];
		c->ops = c->requests;
		c->invalidations = st.requests[4]; /* UNMAP */
		c->translations = st.translations;
	}
}

static int dma_map(void *s, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	return sim_iommu_map(s, iova, gpa, size, perm);
}

static int dma_map_queue(void *s, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	return sim_iommu_map_queue(s, iova, gpa, size, perm);
}

static int dma_sync_map(void *s)
{
	return sim_iommu_sync_map(s);
}

static int dma_unmap(void *s, uint64_t iova, uint64_t size)
{
	return sim_iommu_unmap(s, iova, size);
}

static int dma_unmap_lazy(void *s, uint64_t iova, uint64_t size)
{
	return sim_iommu_unmap_lazy(s, iova, size);
}

static int dma_flush(void *s)
{
	return sim_iommu_flush(s);
}

const struct vg_dma_iommu_ops sim_iommu_dma_ops = {
	.map = dma_map,
	.map_queue = dma_map_queue,
	.sync_map = dma_sync_map,
	.unmap = dma_unmap,
	.unmap_lazy = dma_unmap_lazy,
	.flush = dma_flush,
};
