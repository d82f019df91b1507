// SPDX-License-Identifier: MIT
/*
 * Guest VT-d driver model; see vtd_driver.h. Register offsets, bits and descriptor layouts come
 * from <viommu/spec/vtd.h>; the driver sees the unit only through the public API, as a guest
 * sees hardware.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/pt.h>
#include <viommu/spec/vtd.h>

#include "vtd_driver.h"
#include "pool.h"

#define QI_ENTRIES 256 /* one 4 KiB page of 128-bit descriptors (IQA.QS = 0) */

#define POLL_LIMIT 1000 /* a unit that does not answer is broken, not slow */
#define PAGE 4096ull

struct dom {
	struct viommu_pt *pt;
	uint32_t pending; /* deferred unmaps not yet flushed */
};

struct vg_vtd {
	struct vg_vtd_config cfg;
	uint64_t cap, ecap;
	uint32_t gcmd;
	bool qi;
	uint32_t levels;
	uint64_t root;
	uint64_t ctx[256];
	uint16_t ctx_did[65536];
	uint64_t queue;
	uint32_t qtail;
	uint64_t status;
	uint32_t pending;
	struct dom **doms;
	struct vg_pool pool;
	struct vg_vtd_stats st;
	/* Caching mode: maps made by vg_vtd_map_nosync() awaiting vg_vtd_sync_map(). */
	struct sync_range {
		uint16_t did;
		uint64_t iova, size;
	} * sync;
	size_t nsync, cap_sync;
};

/* ------------------------------------------------------------------------------------------ */

static uint32_t rd32(struct vg_vtd *d, uint64_t off)
{
	uint64_t v = 0;

	viommu_mmio_read(d->cfg.iommu, off, 4, &v);
	return (uint32_t)v;
}

static uint64_t rd64(struct vg_vtd *d, uint64_t off)
{
	uint64_t v = 0;

	viommu_mmio_read(d->cfg.iommu, off, 8, &v);
	return v;
}

static void wr32(struct vg_vtd *d, uint64_t off, uint32_t v)
{
	d->st.reg_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 4, v);
}

static void wr64(struct vg_vtd *d, uint64_t off, uint64_t v)
{
	d->st.reg_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 8, v);
}

static int mem_wr64(struct vg_vtd *d, uint64_t gpa, uint64_t v)
{
	uint8_t *p = viommu_flatmem_ptr(d->cfg.mem, gpa, 8);

	if (!p)
		return VIOMMU_EFAULT;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return 0;
}

static int mem_rd32(struct vg_vtd *d, uint64_t gpa, uint32_t *v)
{
	const uint8_t *p = viommu_flatmem_ptr(d->cfg.mem, gpa, 4);

	if (!p)
		return VIOMMU_EFAULT;
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Page pool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

int vg_vtd_alloc_page(struct vg_vtd *d, uint64_t *gpa)
{
	return vg_pool_alloc(&d->pool, PAGE, gpa);
}

/* ------------------------------------------------------------------------------------------ */
/* Invalidation                                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * Linux qi_submit_sync(): the descriptors, then a wait descriptor with status write, then IQT;
 * then it polls the status word in memory and reads FSTS (qi_check_fault()) only while the wait
 * is not done. QEMU (and the model) process the queue inside the IQT write, so the status is
 * already written when the write returns and FSTS is never read: one trapped access.
 */
static int qi_submit(struct vg_vtd *d, const uint64_t (*desc)[2], int n)
{
	uint32_t done = 0;
	uint64_t wait[2] = { VIOMMU_VTD_QI_IWD_TYPE | VIOMMU_VTD_QI_IWD_SW | VIOMMU_VTD_QI_IWD_FN |
				     VIOMMU_VTD_QI_IWD_STATUS_SET(1),
			     d->status };
	int ret = 0;

	if (mem_wr64(d, d->status, 0))
		return VIOMMU_EFAULT;
	for (int i = 0; i <= n && !ret; i++) {
		const uint64_t *q = i < n ? desc[i] : wait;
		uint64_t at = d->queue + (uint64_t)d->qtail * VIOMMU_VTD_QI_DESC_SIZE;

		ret = mem_wr64(d, at, q[0]);
		if (!ret)
			ret = mem_wr64(d, at + 8, q[1]);
		d->qtail = (d->qtail + 1) % QI_ENTRIES;
		d->st.descriptors++;
	}
	if (ret)
		return ret;
	wr32(d, VIOMMU_VTD_IQT_REG, d->qtail << VIOMMU_VTD_IQ_QX_SHIFT);
	for (int i = 0; i < POLL_LIMIT; i++) {
		if (mem_rd32(d, d->status, &done))
			return VIOMMU_EFAULT;
		if (done == 1)
			return 0;
		if (rd32(d, VIOMMU_VTD_FSTS_REG) & VIOMMU_VTD_FSTS_IQE)
			return VIOMMU_EIO;
	}
	return VIOMMU_EIO;
}

static int poll64(struct vg_vtd *d, uint64_t off, uint64_t bit)
{
	for (int i = 0; i < POLL_LIMIT; i++) {
		if (!(rd64(d, off) & bit))
			return 0;
	}
	return VIOMMU_EIO;
}

static int flush_context(struct vg_vtd *d, int gran, uint16_t did, uint16_t sid)
{
	d->st.cc++;
	if (d->qi) {
		uint64_t desc[1][2] = { { VIOMMU_VTD_QI_CC_TYPE | VIOMMU_VTD_QI_G_SET(gran) |
						  VIOMMU_VTD_QI_CC_DID_SET(did) |
						  VIOMMU_VTD_QI_CC_SID_SET(sid),
					  0 } };

		return qi_submit(d, desc, 1);
	}
	wr64(d, VIOMMU_VTD_CCMD_REG,
	     VIOMMU_VTD_CCMD_ICC | VIOMMU_VTD_CCMD_CIRG_SET(gran) | VIOMMU_VTD_CCMD_SID_SET(sid) |
		     VIOMMU_VTD_CCMD_DID_SET(did));
	return poll64(d, VIOMMU_VTD_CCMD_REG, VIOMMU_VTD_CCMD_ICC);
}

static int flush_iotlb(struct vg_vtd *d, int gran, uint16_t did, uint64_t addr, uint32_t am)
{
	uint64_t iro = VIOMMU_VTD_ECAP_IRO_GET(d->ecap) * 16;

	if (gran == VIOMMU_VTD_IOTLB_GLOBAL)
		d->st.global++;
	else if (gran == VIOMMU_VTD_IOTLB_DOMAIN)
		d->st.dsi++;
	else
		d->st.psi++;
	if (d->qi) {
		uint64_t desc[1][2] = {
			{ VIOMMU_VTD_QI_IOTLB_TYPE | VIOMMU_VTD_QI_IOTLB_DR |
				  VIOMMU_VTD_QI_IOTLB_DW | VIOMMU_VTD_QI_G_SET(gran) |
				  VIOMMU_VTD_QI_IOTLB_DID_SET(did),
			  gran == VIOMMU_VTD_IOTLB_PAGE ? addr | VIOMMU_VTD_QI_IOTLB_AM_SET(am) :
							  0 }
		};

		return qi_submit(d, desc, 1);
	}
	if (gran == VIOMMU_VTD_IOTLB_PAGE)
		wr64(d, iro + VIOMMU_VTD_IVA_REG_OFF, addr | VIOMMU_VTD_IVA_AM_SET(am));
	wr64(d, iro + VIOMMU_VTD_IOTLB_REG_OFF,
	     VIOMMU_VTD_IOTLB_IVT | VIOMMU_VTD_IOTLB_DR | VIOMMU_VTD_IOTLB_DW |
		     VIOMMU_VTD_IOTLB_IIRG_SET(gran) | VIOMMU_VTD_IOTLB_DID_SET(did));
	if (poll64(d, iro + VIOMMU_VTD_IOTLB_REG_OFF, VIOMMU_VTD_IOTLB_IVT))
		return VIOMMU_EIO;
	/* IAIG = 0: the unit did not perform the flush. */
	return VIOMMU_VTD_IOTLB_IAIG_GET(rd64(d, iro + VIOMMU_VTD_IOTLB_REG_OFF)) ? 0 : VIOMMU_EIO;
}

/*
 * Linux iommu_flush_iotlb_psi(): the smallest aligned power of two covering the range, or the
 * whole domain when the unit cannot express it. Returns the granularity.
 */
static int psi_encode(const struct vg_vtd *d, uint64_t iova, uint64_t size, uint64_t *addr,
		      uint32_t *am)
{
	uint64_t pfn = iova >> 12, last = (iova + size - 1) >> 12;

	*am = 0;
	while (*am < 63 && (pfn >> *am) != (last >> *am))
		(*am)++;
	if (!(d->cap & VIOMMU_VTD_CAP_PSI) || *am > VIOMMU_VTD_CAP_MAMV_GET(d->cap)) {
		*addr = 0;
		*am = 0;
		return VIOMMU_VTD_IOTLB_DOMAIN;
	}
	*addr = (pfn >> *am) << (12 + *am);
	return VIOMMU_VTD_IOTLB_PAGE;
}

int vg_vtd_flush_range(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size)
{
	uint64_t addr;
	uint32_t am;
	int gran = psi_encode(d, iova, size, &addr, &am);

	return flush_iotlb(d, gran, did, addr, am);
}

int vg_vtd_flush_dev_iotlb(struct vg_vtd *d, uint16_t sid, uint64_t iova, uint64_t size)
{
	uint64_t pfn = iova >> 12, last = (iova + size - 1) >> 12;
	uint32_t k = 0;
	uint64_t hi;

	if (!d->qi || !(d->ecap & VIOMMU_VTD_ECAP_DT))
		return VIOMMU_ENOTSUP;
	while (k < 52 && (pfn >> k) != (last >> k))
		k++;
	/* §6.5.2.5: S = 1 and address bits 12 .. 12 + k - 2 set encode 2^k pages. */
	if (k == 0)
		hi = pfn << 12;
	else
		hi = ((pfn >> k) << (12 + k)) | (((1ull << (k - 1)) - 1) << 12) |
		     VIOMMU_VTD_QI_DIOTLB_S;
	{
		uint64_t desc[1][2] = {
			{ VIOMMU_VTD_QI_DIOTLB_TYPE | VIOMMU_VTD_QI_DIOTLB_SID_SET(sid), hi }
		};

		return qi_submit(d, desc, 1);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Bring-up                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int vg_vtd_create(const struct vg_vtd_config *cfg, struct vg_vtd **out)
{
	struct vg_vtd *d;

	if (!cfg || !out || !cfg->iommu || !cfg->mem || (cfg->pool_base & (PAGE - 1)) ||
	    cfg->pool_size < 4 * PAGE)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->doms = calloc(65536, sizeof(*d->doms));
	if (!d->doms) {
		free(d);
		return VIOMMU_ENOMEM;
	}
	d->cfg = *cfg;
	if (!d->cfg.batch)
		d->cfg.batch = 256;
	vg_pool_init(&d->pool, cfg->mem, cfg->pool_base, cfg->pool_size);
	*out = d;
	return 0;
}

void vg_vtd_destroy(struct vg_vtd *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < 65536; i++) {
		if (d->doms[i]) {
			viommu_pt_destroy(d->doms[i]->pt);
			free(d->doms[i]);
		}
	}
	free(d->doms);
	free(d->sync);
	vg_pool_fini(&d->pool);
	free(d);
}

static int poll_gsts(struct vg_vtd *d, uint32_t bit, bool set)
{
	for (int i = 0; i < POLL_LIMIT; i++) {
		if (!!(rd32(d, VIOMMU_VTD_GSTS_REG) & bit) == set)
			return 0;
	}
	return VIOMMU_EIO;
}

int vg_vtd_enable(struct vg_vtd *d)
{
	uint32_t sagaw;
	int ret;

	if (d->root) {
		/* Already brought up: translation back on. */
		d->gcmd |= VIOMMU_VTD_GCMD_TE;
		wr32(d, VIOMMU_VTD_GCMD_REG, d->gcmd);
		return poll_gsts(d, VIOMMU_VTD_GCMD_TE, true);
	}
	d->cap = rd64(d, VIOMMU_VTD_CAP_REG);
	d->ecap = rd64(d, VIOMMU_VTD_ECAP_REG);
	sagaw = (uint32_t)VIOMMU_VTD_CAP_SAGAW_GET(d->cap);
	d->levels = d->cfg.levels;
	if (!d->levels)
		d->levels = sagaw & VIOMMU_VTD_CAP_SAGAW_57 ? 5 :
			    sagaw & VIOMMU_VTD_CAP_SAGAW_48 ? 4 :
							      3;
	if (d->levels < 3 || d->levels > 5 || !(sagaw & (1u << (d->levels - 2))))
		return VIOMMU_ENOTSUP;
	ret = vg_pool_alloc(&d->pool, PAGE, &d->root);
	if (!ret)
		ret = vg_pool_alloc(&d->pool, PAGE, &d->status);
	if (ret)
		return ret;
	wr64(d, VIOMMU_VTD_RTADDR_REG, d->root);
	wr32(d, VIOMMU_VTD_GCMD_REG, d->gcmd | VIOMMU_VTD_GCMD_SRTP);
	ret = poll_gsts(d, VIOMMU_VTD_GCMD_SRTP, true);
	if (ret)
		return ret;
	/* Fault events to a fixed MSI address; unmasked. */
	wr32(d, VIOMMU_VTD_FEDATA_REG, 0x40);
	wr32(d, VIOMMU_VTD_FEADDR_REG, 0xfee00000);
	wr32(d, VIOMMU_VTD_FEUADDR_REG, 0);
	wr32(d, VIOMMU_VTD_FECTL_REG, 0);
	if ((d->ecap & VIOMMU_VTD_ECAP_QI) && !d->cfg.no_qi) {
		ret = vg_pool_alloc(&d->pool, PAGE, &d->queue);
		if (ret)
			return ret;
		d->qtail = 0;
		wr32(d, VIOMMU_VTD_IQT_REG, 0);
		wr64(d, VIOMMU_VTD_IQA_REG, d->queue); /* QS = 0: 256 entries; DW = 0: 128-bit */
		d->gcmd |= VIOMMU_VTD_GCMD_QIE;
		wr32(d, VIOMMU_VTD_GCMD_REG, d->gcmd);
		ret = poll_gsts(d, VIOMMU_VTD_GCMD_QIE, true);
		if (ret)
			return ret;
		d->qi = true;
	}
	ret = flush_context(d, VIOMMU_VTD_CC_GLOBAL, 0, 0);
	if (!ret)
		ret = flush_iotlb(d, VIOMMU_VTD_IOTLB_GLOBAL, 0, 0, 0);
	if (ret)
		return ret;
	d->gcmd |= VIOMMU_VTD_GCMD_TE;
	wr32(d, VIOMMU_VTD_GCMD_REG, d->gcmd);
	return poll_gsts(d, VIOMMU_VTD_GCMD_TE, true);
}

int vg_vtd_disable(struct vg_vtd *d)
{
	d->gcmd &= ~VIOMMU_VTD_GCMD_TE;
	wr32(d, VIOMMU_VTD_GCMD_REG, d->gcmd);
	return poll_gsts(d, VIOMMU_VTD_GCMD_TE, false);
}

/* ------------------------------------------------------------------------------------------ */
/* Domains and devices                                                                         */
/* ------------------------------------------------------------------------------------------ */

static struct dom *dom_get(struct vg_vtd *d, uint16_t did)
{
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_VTD_SL, .levels = (uint8_t)d->levels };
	struct dom *m = d->doms[did];

	if (m)
		return m;
	if (!d->cfg.no_superpages) {
		if (VIOMMU_VTD_CAP_SLLPS_GET(d->cap) & VIOMMU_VTD_CAP_SLLPS_2M)
			pc.flags |= VIOMMU_PT_F_SP_2M;
		if (VIOMMU_VTD_CAP_SLLPS_GET(d->cap) & VIOMMU_VTD_CAP_SLLPS_1G)
			pc.flags |= VIOMMU_PT_F_SP_1G;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (viommu_pt_create(&pc, viommu_flatmem_ops(), d->cfg.mem, &vg_pool_pt_ops, &d->pool,
			     &m->pt)) {
		free(m);
		return NULL;
	}
	d->doms[did] = m;
	return m;
}

static int context_write(struct vg_vtd *d, uint16_t sid, uint64_t lo, uint64_t hi)
{
	uint32_t bus = sid >> 8;
	uint64_t ce;
	int ret;

	if (!d->ctx[bus]) {
		ret = vg_pool_alloc(&d->pool, PAGE, &d->ctx[bus]);
		if (!ret)
			ret = mem_wr64(d, d->root + bus * VIOMMU_VTD_ROOT_ENTRY_SIZE,
				       d->ctx[bus] | VIOMMU_VTD_ROOT_LO_P);
		if (ret)
			return ret;
	}
	ce = d->ctx[bus] + (sid & 0xff) * VIOMMU_VTD_CTX_ENTRY_SIZE;
	/* The upper half first, present bit last, as Linux does. */
	ret = mem_wr64(d, ce + 8, hi);
	if (!ret)
		ret = mem_wr64(d, ce, lo);
	return ret;
}

int vg_vtd_attach(struct vg_vtd *d, uint16_t sid, uint16_t did, bool pass_through)
{
	uint64_t lo, hi;
	int ret;

	hi = VIOMMU_VTD_CTX_HI_AW_SET(d->levels - 2) | VIOMMU_VTD_CTX_HI_DID_SET(did);
	if (pass_through) {
		lo = VIOMMU_VTD_CTX_LO_TT_SET(VIOMMU_VTD_CTX_TT_PASS_THROUGH) | VIOMMU_VTD_CTX_LO_P;
	} else {
		struct dom *m = dom_get(d, did);

		if (!m)
			return VIOMMU_ENOMEM;
		lo = viommu_pt_get_cfg(m->pt)->root | VIOMMU_VTD_CTX_LO_P;
	}
	ret = context_write(d, sid, lo, hi);
	if (ret)
		return ret;
	d->ctx_did[sid] = did;
	/* Linux domain_context_mapping_one(): with caching mode, not-present -> present flushes. */
	if ((d->cap & VIOMMU_VTD_CAP_CM)) {
		ret = flush_context(d, VIOMMU_VTD_CC_DEVICE, did, sid);
		if (!ret)
			ret = flush_iotlb(d, VIOMMU_VTD_IOTLB_DOMAIN, did, 0, 0);
	}
	return ret;
}

int vg_vtd_detach(struct vg_vtd *d, uint16_t sid)
{
	uint16_t did = d->ctx_did[sid];
	int ret = context_write(d, sid, 0, 0);

	if (!ret)
		ret = flush_context(d, VIOMMU_VTD_CC_DEVICE, did, sid);
	if (!ret)
		ret = flush_iotlb(d, VIOMMU_VTD_IOTLB_DOMAIN, did, 0, 0);
	return ret;
}

/* The page-table half of a map, without any flush. */
static int map_tables(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t gpa, uint64_t size,
		      uint32_t perm)
{
	struct dom *m = dom_get(d, did);
	int ret;

	if (!m)
		return VIOMMU_ENOMEM;
	ret = viommu_pt_map(m->pt, iova, gpa, size, perm, 0);
	if (!ret)
		d->st.maps++;
	return ret;
}

int vg_vtd_map(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t gpa, uint64_t size,
	       uint32_t perm)
{
	int ret = map_tables(d, did, iova, gpa, size, perm);

	/* Without caching mode a not-present -> present change needs no flush. */
	if (!ret && (d->cap & VIOMMU_VTD_CAP_CM))
		ret = vg_vtd_flush_range(d, did, iova, size);
	return ret;
}

int vg_vtd_map_nosync(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t gpa, uint64_t size,
		      uint32_t perm)
{
	int ret;

	if ((d->cap & VIOMMU_VTD_CAP_CM) && d->nsync == d->cap_sync) {
		size_t cap = d->cap_sync ? d->cap_sync * 2 : 64;
		struct sync_range *p = realloc(d->sync, cap * sizeof(*p));

		if (!p)
			return VIOMMU_ENOMEM;
		d->sync = p;
		d->cap_sync = cap;
	}
	ret = map_tables(d, did, iova, gpa, size, perm);
	if (!ret && (d->cap & VIOMMU_VTD_CAP_CM))
		d->sync[d->nsync++] = (struct sync_range){ did, iova, size };
	return ret;
}

/*
 * Linux iotlb_sync_map: one page-selective descriptor per recorded map, all in one queued
 * submission (one IQT write); register-based invalidation flushes them one by one.
 */
int vg_vtd_sync_map(struct vg_vtd *d)
{
	uint64_t desc[QI_ENTRIES - 2][2];
	size_t i = 0;
	int ret = 0;

	while (i < d->nsync && !ret) {
		int n = 0;

		for (; i < d->nsync && n < QI_ENTRIES - 2; i++) {
			const struct sync_range *r = &d->sync[i];
			uint64_t addr;
			uint32_t am;
			int gran = psi_encode(d, r->iova, r->size, &addr, &am);

			if (!d->qi) {
				ret = flush_iotlb(d, gran, r->did, addr, am);
				if (ret)
					break;
				continue;
			}
			if (gran == VIOMMU_VTD_IOTLB_DOMAIN)
				d->st.dsi++;
			else
				d->st.psi++;
			desc[n][0] = VIOMMU_VTD_QI_IOTLB_TYPE | VIOMMU_VTD_QI_IOTLB_DR |
				     VIOMMU_VTD_QI_IOTLB_DW | VIOMMU_VTD_QI_G_SET(gran) |
				     VIOMMU_VTD_QI_IOTLB_DID_SET(r->did);
			desc[n][1] = addr | VIOMMU_VTD_QI_IOTLB_AM_SET(am);
			n++;
		}
		if (n && !ret)
			ret = qi_submit(d, desc, n);
	}
	d->nsync = 0;
	return ret;
}

/* The page-table half of an unmap, without any flush. */
static int unmap_tables(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size)
{
	uint64_t unmapped = 0;
	int ret;

	if (!d->doms[did])
		return VIOMMU_ENOENT;
	ret = viommu_pt_unmap(d->doms[did]->pt, iova, size, &unmapped);
	if (!ret)
		d->st.unmaps++;
	return ret;
}

int vg_vtd_unmap_nosync(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size)
{
	int ret = unmap_tables(d, did, iova, size);

	if (!ret) {
		d->doms[did]->pending++;
		d->pending++;
	}
	return ret;
}

int vg_vtd_flush(struct vg_vtd *d)
{
	int ret = 0;

	if (!d->pending)
		return 0;
	for (uint32_t did = 0; did < 65536; did++) {
		struct dom *m = d->doms[did];

		if (m && m->pending) {
			int r = flush_iotlb(d, VIOMMU_VTD_IOTLB_DOMAIN, (uint16_t)did, 0, 0);

			m->pending = 0;
			if (r && !ret)
				ret = r;
		}
	}
	d->pending = 0;
	return ret;
}

int vg_vtd_unmap(struct vg_vtd *d, uint16_t did, uint64_t iova, uint64_t size)
{
	int ret;

	if (!d->cfg.deferred) {
		ret = unmap_tables(d, did, iova, size);
		return ret ? ret : vg_vtd_flush_range(d, did, iova, size);
	}
	ret = vg_vtd_unmap_nosync(d, did, iova, size);
	if (!ret && d->pending >= d->cfg.batch)
		ret = vg_vtd_flush(d);
	return ret;
}

void vg_vtd_get_stats(const struct vg_vtd *d, struct vg_vtd_stats *st)
{
	*st = d->st;
}
