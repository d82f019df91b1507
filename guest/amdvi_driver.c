// SPDX-License-Identifier: MIT
/*
 * Guest-side AMD-Vi driver (see amdvi_driver.h): what Linux 6.1's amd_iommu driver programs, in the
 * same order, through the public API only.
 */
#include "amdvi_driver.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/pt.h>
#include <viommu/spec/amdvi.h>

#define PAGE 4096ull
#define NDOM 65536

struct vg_dom {
	struct viommu_pt *pt;
	uint64_t root;
	uint64_t gcr3; /* v2: the one-level GCR3 table, entry 0 = root */
	bool pending;  /* lazy: unmaps not flushed yet */
};

struct vg_amdvi_range {
	uint64_t iova, size;
	uint16_t domid;
};

struct vg_amdvi {
	struct vg_amdvi_config cfg;
	struct vg_amdvi_range *sync; /* maps queued for vg_amdvi_sync_map() */
	size_t nsync, cap_sync;
	struct vg_pool pool;

	uint64_t devtab;   /* guest-physical */
	uint32_t ndev;	   /* entries the table holds */
	uint64_t cmd;	   /* command buffer */
	uint64_t cmd_size; /* bytes */
	uint64_t cmd_tail;
	uint64_t cmd_head; /* the head as last read from the IOMMU */
	uint64_t evt;
	uint64_t evt_size;
	uint64_t ppr; /* PPR log, 0 until vg_amdvi_enable_ppr() */
	vg_amdvi_event_fn ppr_fn;
	void *ppr_opaque;
	uint64_t sem; /* COMPLETION_WAIT store target */
	uint64_t sem_val;
	uint64_t efr;
	uint8_t v2_levels; /* v2 tables: 4, or 5 (la57 and EFR GATS 01b) */

	struct vg_dom **doms;
	uint32_t npending;
	uint8_t *ats; /* bitmap by devid: DTE.I set */
	uint16_t *dev_dom;
	struct vg_amdvi_stats st;
};

/* ------------------------------------------------------------------------------------------ */
/* Registers and memory, as the CPU reaches them                                               */
/* ------------------------------------------------------------------------------------------ */

static void count_ptr(struct vg_amdvi *d, uint64_t off)
{
	if (off >= VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD && off < VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL + 8)
		d->st.ptr_accesses++;
}

static void writeq(struct vg_amdvi *d, uint64_t off, uint64_t v)
{
	d->st.mmio_writes++;
	count_ptr(d, off);
	viommu_mmio_write(d->cfg.iommu, off, 8, v);
}

static void writel(struct vg_amdvi *d, uint64_t off, uint32_t v)
{
	d->st.mmio_writes++;
	count_ptr(d, off);
	viommu_mmio_write(d->cfg.iommu, off, 4, v);
}

static uint64_t readq(struct vg_amdvi *d, uint64_t off)
{
	uint64_t v = 0;

	count_ptr(d, off);
	viommu_mmio_read(d->cfg.iommu, off, 8, &v);
	return v;
}

static uint32_t readl(struct vg_amdvi *d, uint64_t off)
{
	uint64_t v = 0;

	count_ptr(d, off);
	viommu_mmio_read(d->cfg.iommu, off, 4, &v);
	return (uint32_t)v;
}

static void feature(struct vg_amdvi *d, uint64_t bit, bool on)
{
	uint64_t ctrl = readq(d, VIOMMU_AMDVI_MMIO_CONTROL);

	writeq(d, VIOMMU_AMDVI_MMIO_CONTROL, on ? ctrl | bit : ctrl & ~bit);
}

static void store64(struct vg_amdvi *d, uint64_t gpa, uint64_t v)
{
	vg_pool_store64(&d->pool, gpa, v);
}

static uint64_t load64(struct vg_amdvi *d, uint64_t gpa)
{
	return vg_pool_load64(&d->pool, gpa);
}

/* ------------------------------------------------------------------------------------------ */
/* Page pool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

int vg_amdvi_alloc_page(struct vg_amdvi *d, uint64_t *gpa)
{
	return vg_pool_alloc(&d->pool, PAGE, gpa);
}

/* ------------------------------------------------------------------------------------------ */
/* Command buffer                                                                              */
/* ------------------------------------------------------------------------------------------ */

int vg_amdvi_submit(struct vg_amdvi *d, const uint32_t cmd[4])
{
	uint64_t next = (d->cmd_tail + VIOMMU_AMDVI_CMD_SIZE) % d->cmd_size;
	uint8_t *p;

	/*
	 * __iommu_queue_command_sync(): the head is read back from the IOMMU only when the copy
	 * the driver keeps says two entries or fewer are left. Full: the IOMMU has not consumed
	 * (a stopped buffer never will).
	 */
	if ((d->cmd_head - next + d->cmd_size) % d->cmd_size <= 0x20) {
		d->cmd_head = readl(d, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD);
		if ((d->cmd_head - next + d->cmd_size) % d->cmd_size <= 0x20 &&
		    d->cmd_head != d->cmd_tail)
			return VIOMMU_EBUSY;
	}
	p = viommu_flatmem_ptr(d->cfg.mem, d->cmd + d->cmd_tail, 16);
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 4; b++)
			p[4 * i + b] = (uint8_t)(cmd[i] >> (8 * b));
	d->cmd_tail = next;
	d->st.commands++;
	writel(d, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, (uint32_t)d->cmd_tail);
	return 0;
}

int vg_amdvi_completion_wait(struct vg_amdvi *d)
{
	uint32_t c[4];
	int ret;

	/* iommu_completion_wait(): store an incremented value and wait for it to appear. */
	d->sem_val++;
	c[0] = (uint32_t)(d->sem & VIOMMU_AMDVI_CW0_ADDR_LO_MASK) | (uint32_t)VIOMMU_AMDVI_CW0_S;
	c[1] = (uint32_t)(d->sem >> 32) |
	       (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_COMPLETION_WAIT);
	c[2] = (uint32_t)d->sem_val;
	c[3] = (uint32_t)(d->sem_val >> 32);
	d->st.completion_waits++;
	ret = vg_amdvi_submit(d, c);
	if (ret)
		return ret;
	/* The model completes inside the tail write; real hardware would be polled here. */
	return load64(d, d->sem) == d->sem_val ? 0 : VIOMMU_EIO;
}

uint64_t vg_amdvi_inv_address(uint64_t iova, uint64_t size)
{
	uint64_t first = iova & ~(PAGE - 1), end, msb;

	if (size == 0)
		return VIOMMU_AMDVI_INV_ALL_PAGES_ADDR | VIOMMU_AMDVI_IIP2_S;
	end = iova + size - 1;
	if ((end & ~(PAGE - 1)) == first)
		return first;
	msb = 63 - (uint64_t)__builtin_clzll(end ^ iova);
	if (msb > 51)
		return VIOMMU_AMDVI_INV_ALL_PAGES_ADDR | VIOMMU_AMDVI_IIP2_S;
	/* Ones below the highest differing bit: the aligned block of twice that bit's size. */
	return ((iova | ((1ull << msb) - 1)) & ~(PAGE - 1)) | VIOMMU_AMDVI_IIP2_S;
}

static int queue_inv_pages(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size)
{
	uint64_t a = vg_amdvi_inv_address(iova, size);
	uint32_t c[4] = { 0,
			  domid | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES),
			  (uint32_t)a, (uint32_t)(a >> 32) };

	/* domain_flush_pages_v2(): GN = 1 with PASID 0, the table GIoV requests use. */
	if (d->cfg.v2)
		c[2] |= (uint32_t)VIOMMU_AMDVI_IIP2_GN;

	d->st.inv_pages++;
	return vg_amdvi_submit(d, c);
}

static int queue_inv_iotlb(struct vg_amdvi *d, uint16_t devid, uint64_t iova, uint64_t size)
{
	uint64_t a = vg_amdvi_inv_address(iova, size);
	/* build_inv_iotlb_pages(): DeviceID, Maxpend (queue depth), DeviceID again in DW1. */
	uint32_t c[4] = { devid | 32u << 24,
			  devid | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES),
			  (uint32_t)a, (uint32_t)(a >> 32) };

	/* __domain_flush_pages() of a v2 domain: device_flush_iotlb(..., IOMMU_NO_PASID, gn). */
	if (d->cfg.v2)
		c[2] |= (uint32_t)VIOMMU_AMDVI_IIT2_GN;

	d->st.inv_iotlb++;
	return vg_amdvi_submit(d, c);
}

static int queue_inv_devtab(struct vg_amdvi *d, uint16_t devid)
{
	uint32_t c[4] = { devid,
			  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
				  VIOMMU_AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY),
			  0, 0 };

	d->st.inv_devtab++;
	return vg_amdvi_submit(d, c);
}

int vg_amdvi_inv_pages(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size)
{
	int ret = queue_inv_pages(d, domid, iova, size);

	return ret ? ret : vg_amdvi_completion_wait(d);
}

int vg_amdvi_inv_iotlb(struct vg_amdvi *d, uint16_t devid, uint64_t iova, uint64_t size)
{
	int ret = queue_inv_iotlb(d, devid, iova, size);

	return ret ? ret : vg_amdvi_completion_wait(d);
}

int vg_amdvi_inv_devtab(struct vg_amdvi *d, uint16_t devid)
{
	int ret = queue_inv_devtab(d, devid);

	return ret ? ret : vg_amdvi_completion_wait(d);
}

/* domain_flush_pages(): the IOMMU's TLB, then the IOTLB of every ATS device in the domain. */
static int flush_domain_range(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size)
{
	int ret = queue_inv_pages(d, domid, iova, size);

	for (uint32_t dev = 0; !ret && dev < d->ndev; dev++) {
		if ((d->ats[dev / 8] & (1u << (dev % 8))) && d->dev_dom[dev] == domid)
			ret = queue_inv_iotlb(d, (uint16_t)dev, iova, size);
	}
	return ret ? ret : vg_amdvi_completion_wait(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Bring-up                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int vg_amdvi_create(const struct vg_amdvi_config *cfg, struct vg_amdvi **out)
{
	struct vg_amdvi *d;

	if (!cfg || !out || !cfg->iommu || !cfg->mem || (cfg->pool_base & (PAGE - 1)) ||
	    cfg->dev_table_pages > 512 ||
	    (cfg->cmd_len && (cfg->cmd_len < 8 || cfg->cmd_len > 15)) ||
	    (cfg->evt_len && (cfg->evt_len < 8 || cfg->evt_len > 15)) || cfg->levels > 6)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.dev_table_pages)
		d->cfg.dev_table_pages = 512;
	if (!d->cfg.cmd_len)
		d->cfg.cmd_len = 9;
	if (!d->cfg.evt_len)
		d->cfg.evt_len = 9;
	if (!d->cfg.levels)
		d->cfg.levels = 3;
	if (!d->cfg.batch)
		d->cfg.batch = 256;
	d->v2_levels = 4;
	vg_pool_init(&d->pool, cfg->mem, cfg->pool_base, cfg->pool_size);
	d->ndev = d->cfg.dev_table_pages * (uint32_t)(PAGE / VIOMMU_AMDVI_DTE_SIZE);
	d->doms = calloc(NDOM, sizeof(*d->doms));
	d->ats = calloc(65536 / 8, 1);
	d->dev_dom = calloc(65536, sizeof(*d->dev_dom));
	if (!d->doms || !d->ats || !d->dev_dom) {
		vg_amdvi_destroy(d);
		return VIOMMU_ENOMEM;
	}
	d->cmd_size = (1ull << d->cfg.cmd_len) * VIOMMU_AMDVI_CMD_SIZE;
	d->evt_size = (1ull << d->cfg.evt_len) * VIOMMU_AMDVI_EVENT_SIZE;
	if (vg_pool_alloc(&d->pool, d->cfg.dev_table_pages * PAGE, &d->devtab) ||
	    vg_pool_alloc(&d->pool, d->cmd_size < PAGE ? PAGE : d->cmd_size, &d->cmd) ||
	    vg_pool_alloc(&d->pool, d->evt_size < PAGE ? PAGE : d->evt_size, &d->evt) ||
	    vg_pool_alloc(&d->pool, PAGE, &d->sem)) {
		vg_amdvi_destroy(d);
		return VIOMMU_ENOMEM;
	}
	*out = d;
	return 0;
}

void vg_amdvi_destroy(struct vg_amdvi *d)
{
	if (!d)
		return;
	if (d->doms) {
		for (uint32_t i = 0; i < NDOM; i++) {
			if (d->doms[i])
				viommu_pt_destroy(d->doms[i]->pt);
			free(d->doms[i]);
		}
	}
	free(d->doms);
	free(d->ats);
	free(d->dev_dom);
	vg_pool_fini(&d->pool);
	free(d->sync);
	free(d);
}

int vg_amdvi_enable(struct vg_amdvi *d)
{
	int ret;

	/* iommu_disable(): command buffer, event log, interrupts and translation off. */
	writeq(d, VIOMMU_AMDVI_MMIO_CONTROL, 0);
	d->efr = readq(d, VIOMMU_AMDVI_MMIO_EXT_FEATURE);
	/* amd_iommu_v2_pgtbl_supported(): else "Fallback to v1". */
	if (d->cfg.v2 &&
	    (!(d->efr & VIOMMU_AMDVI_EFR_GT_SUP) || !(d->efr & VIOMMU_AMDVI_EFR_GIO_SUP)))
		d->cfg.v2 = false;
	/* 6.12 init: 5-level v2 tables only on an LA57 CPU and with EFR GATS 01b. */
	d->v2_levels = d->cfg.v2 && d->cfg.la57 && VIOMMU_AMDVI_EFR_GATS_GET(d->efr) == 1 ? 5 : 4;
	/* init_device_table_dma(): every entry valid with no rights, so DMA is blocked. */
	for (uint32_t dev = 0; dev < d->ndev; dev++)
		store64(d, vg_amdvi_dte_addr(d, (uint16_t)dev),
			VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV);
	/* iommu_set_device_table(). */
	writeq(d, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE,
	       d->devtab | VIOMMU_AMDVI_DEV_TABLE_SIZE_SET(d->cfg.dev_table_pages - 1));
	/* iommu_enable_command_buffer(): base and length, head = tail = 0, CmdBufEn. */
	writeq(d, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE,
	       d->cmd | VIOMMU_AMDVI_BUF_LEN_SET(d->cfg.cmd_len));
	writel(d, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 0);
	writel(d, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 0);
	d->cmd_tail = 0;
	d->cmd_head = 0;
	feature(d, VIOMMU_AMDVI_CTRL_CMD_BUF_EN, true);
	/* iommu_enable_event_buffer(). */
	writeq(d, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE,
	       d->evt | VIOMMU_AMDVI_BUF_LEN_SET(d->cfg.evt_len));
	writel(d, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 0);
	writel(d, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL, 0);
	feature(d, VIOMMU_AMDVI_CTRL_EVENT_LOG_EN, true);
	feature(d, VIOMMU_AMDVI_CTRL_INV_TIMEOUT_MASK, false);
	feature(d, VIOMMU_AMDVI_CTRL_INV_TIMEOUT_SET(4), true); /* CTRL_INV_TO_1S */
	feature(d, VIOMMU_AMDVI_CTRL_COHERENT, true);
	/* iommu_enable_gt() (iommu_init_pci(), whenever GTSup is there). */
	if (d->efr & VIOMMU_AMDVI_EFR_GT_SUP)
		feature(d, VIOMMU_AMDVI_CTRL_GT_EN, true);
	/* iommu_init_irq(): the MSI capability (the VMM forwards it), then EventIntEn. */
	viommu_amdvi_set_msi(d->cfg.iommu, true, d->cfg.msi_addr, d->cfg.msi_data);
	feature(d, VIOMMU_AMDVI_CTRL_EVENT_INT_EN, true);
	feature(d, VIOMMU_AMDVI_CTRL_IOMMU_EN, true);
	/* amd_iommu_flush_all_caches(): INVALIDATE_IOMMU_ALL where offered, else by parts. */
	if (d->efr & VIOMMU_AMDVI_EFR_IA_SUP) {
		uint32_t c[4] = { 0,
				  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL),
				  0, 0 };

		ret = vg_amdvi_submit(d, c);
	} else {
		ret = 0;
		for (uint32_t dev = 0; !ret && dev < d->ndev; dev++)
			ret = queue_inv_devtab(d, (uint16_t)dev);
		for (uint32_t dom = 0; !ret && dom < NDOM; dom++)
			ret = queue_inv_pages(d, (uint16_t)dom, 0, 0);
	}
	return ret ? ret : vg_amdvi_completion_wait(d);
}

int vg_amdvi_disable(struct vg_amdvi *d)
{
	feature(d, VIOMMU_AMDVI_CTRL_IOMMU_EN, false);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Domains and device table entries                                                            */
/* ------------------------------------------------------------------------------------------ */

uint64_t vg_amdvi_dte_addr(const struct vg_amdvi *d, uint16_t devid)
{
	return d->devtab + (uint64_t)devid * VIOMMU_AMDVI_DTE_SIZE;
}

uint64_t vg_amdvi_cmd_base(const struct vg_amdvi *d)
{
	return d->cmd;
}

uint64_t vg_amdvi_evt_base(const struct vg_amdvi *d)
{
	return d->evt;
}

static struct vg_dom *dom_get(struct vg_amdvi *d, uint16_t domid)
{
	struct viommu_pt_cfg pc = { 0 };
	struct vg_dom *m = d->doms[domid];

	if (m)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pc.format = d->cfg.v2 ? VIOMMU_PT_X86_64 : VIOMMU_PT_AMD_V1;
	pc.levels = d->cfg.v2 ? d->v2_levels : (uint8_t)d->cfg.levels;
	if (viommu_pt_create(&pc, viommu_flatmem_ops(), d->cfg.mem, &vg_pool_pt_ops, &d->pool,
			     &m->pt)) {
		free(m);
		return NULL;
	}
	m->root = viommu_pt_get_cfg(m->pt)->root;
	/* setup_gcr3_table() for one PASID (GLX 0), then update_gcr3(): entry 0 = root, GV. */
	if (d->cfg.v2) {
		if (vg_pool_alloc(&d->pool, PAGE, &m->gcr3)) {
			viommu_pt_destroy(m->pt);
			free(m);
			return NULL;
		}
		store64(d, m->gcr3, m->root | VIOMMU_AMDVI_GCR3_GV);
	}
	d->doms[domid] = m;
	return m;
}

int vg_amdvi_domain_root(struct vg_amdvi *d, uint16_t domid, uint64_t *root)
{
	struct vg_dom *m = dom_get(d, domid);

	if (!m)
		return VIOMMU_ENOMEM;
	*root = m->root;
	return 0;
}

/* set_dte_entry(): QW1 (domain, flags) first, then QW0 (root, mode, rights, V, TV). */
static int set_dte(struct vg_amdvi *d, uint16_t devid, uint64_t q0, uint64_t gcr3_q1,
		   uint16_t domid)
{
	uint64_t a = vg_amdvi_dte_addr(d, devid);
	uint64_t q1 = load64(d, a + 8);
	uint16_t old = (uint16_t)VIOMMU_AMDVI_DTE1_DOMAIN_ID_GET(q1);
	int ret;

	if (devid >= d->ndev)
		return VIOMMU_EINVAL;
	q1 &= ~(VIOMMU_AMDVI_DTE1_DOMAIN_ID_MASK | VIOMMU_AMDVI_DTE1_I |
		VIOMMU_AMDVI_DTE1_GCR3_B_MASK | VIOMMU_AMDVI_DTE1_GCR3_C_MASK);
	q1 |= domid | gcr3_q1;
	if (d->ats[devid / 8] & (1u << (devid % 8)))
		q1 |= VIOMMU_AMDVI_DTE1_I;
	store64(d, a + 8, q1);
	store64(d, a, q0);
	d->dev_dom[devid] = domid;
	/* device_flush_dte() + the old domain's TLB (amd_iommu_flush_tlb_domid()). */
	ret = queue_inv_devtab(d, devid);
	if (!ret && old && old != domid)
		ret = queue_inv_pages(d, old, 0, 0);
	return ret ? ret : vg_amdvi_completion_wait(d);
}

int vg_amdvi_attach(struct vg_amdvi *d, uint16_t devid, uint16_t domid, bool pass_through)
{
	uint64_t q0 = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		      VIOMMU_AMDVI_DTE0_IW;
	uint64_t q1 = 0;

	if (!pass_through) {
		struct vg_dom *m = dom_get(d, domid);

		if (!m)
			return VIOMMU_ENOMEM;
		if (d->cfg.v2) {
			uint64_t a = vg_amdvi_dte_addr(d, devid), q2;

			if (devid >= d->ndev)
				return VIOMMU_EINVAL;
			/* GuestPagingMode (QW2 55:54) as set_dte_entry() sets it for 5 levels. */
			q2 = load64(d, a + 16) & ~VIOMMU_AMDVI_DTE2_GPM_MASK;
			if (d->v2_levels == 5)
				q2 |= VIOMMU_AMDVI_DTE2_GPM_SET(VIOMMU_AMDVI_GPM_5_LEVEL);
			store64(d, a + 16, q2);
			/* set_dte_entry() with a GCR3 table: Mode 0, GV, GIoV, GLX 0, the root. */
			q0 |= VIOMMU_AMDVI_DTE0_GV | VIOMMU_AMDVI_DTE0_GIOV |
			      ((m->gcr3 >> 12) & 7) << VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT;
			q1 = ((m->gcr3 >> 15) & 0xffff) << VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT |
			     ((m->gcr3 >> 31) & 0x1fffff) << VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT;
		} else {
			q0 |= m->root | VIOMMU_AMDVI_DTE0_MODE_SET(d->cfg.levels);
		}
	}
	return set_dte(d, devid, q0, q1, domid);
}

int vg_amdvi_detach(struct vg_amdvi *d, uint16_t devid)
{
	return set_dte(d, devid, VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV, 0, 0);
}

int vg_amdvi_set_ats(struct vg_amdvi *d, uint16_t devid, bool on)
{
	uint64_t a = vg_amdvi_dte_addr(d, devid);
	uint64_t q1;

	if (devid >= d->ndev)
		return VIOMMU_EINVAL;
	if (on)
		d->ats[devid / 8] |= (uint8_t)(1u << (devid % 8));
	else
		d->ats[devid / 8] &= (uint8_t) ~(1u << (devid % 8));
	q1 = load64(d, a + 8) & ~VIOMMU_AMDVI_DTE1_I;
	store64(d, a + 8, q1 | (on ? VIOMMU_AMDVI_DTE1_I : 0));
	return vg_amdvi_inv_devtab(d, devid);
}

/* ------------------------------------------------------------------------------------------ */
/* Map and unmap                                                                               */
/* ------------------------------------------------------------------------------------------ */

int vg_amdvi_map(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t gpa, uint64_t size,
		 uint32_t perm)
{
	struct vg_dom *m = dom_get(d, domid);
	int ret;

	if (!m)
		return VIOMMU_ENOMEM;
	ret = viommu_pt_map(m->pt, iova, gpa, size, perm, 0);
	if (ret)
		return ret;
	d->st.maps++;
	/* amd_iommu_iotlb_sync_map(): with NpCache, flush what became present. */
	if (!d->cfg.no_np_cache_flush)
		return vg_amdvi_inv_pages(d, domid, iova, size);
	return 0;
}

int vg_amdvi_map_nosync(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t gpa,
			uint64_t size, uint32_t perm)
{
	struct vg_dom *m = dom_get(d, domid);
	int ret;

	if (!m)
		return VIOMMU_ENOMEM;
	if (d->nsync == d->cap_sync) {
		size_t c = d->cap_sync ? 2 * d->cap_sync : 64;
		struct vg_amdvi_range *p = realloc(d->sync, c * sizeof(*p));

		if (!p)
			return VIOMMU_ENOMEM;
		d->sync = p;
		d->cap_sync = c;
	}
	ret = viommu_pt_map(m->pt, iova, gpa, size, perm, 0);
	if (ret)
		return ret;
	d->st.maps++;
	d->sync[d->nsync++] = (struct vg_amdvi_range){ iova, size, domid };
	return 0;
}

int vg_amdvi_sync_map(struct vg_amdvi *d)
{
	int ret = 0;

	if (!d->nsync)
		return 0;
	for (size_t i = 0; !ret && i < d->nsync && !d->cfg.no_np_cache_flush; i++)
		ret = queue_inv_pages(d, d->sync[i].domid, d->sync[i].iova, d->sync[i].size);
	d->nsync = 0;
	if (ret || d->cfg.no_np_cache_flush)
		return ret;
	return vg_amdvi_completion_wait(d);
}

int vg_amdvi_unmap_nosync(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size)
{
	struct vg_dom *m = d->doms[domid];
	uint64_t done = 0;
	int ret;

	if (!m)
		return VIOMMU_ENOENT;
	ret = viommu_pt_unmap(m->pt, iova, size, &done);
	if (ret)
		return ret;
	d->st.unmaps++;
	if (!m->pending) {
		m->pending = true;
		d->npending++;
	}
	return 0;
}

int vg_amdvi_flush(struct vg_amdvi *d)
{
	int ret = 0;

	/* The flush queue's flush: every domain with pending unmaps, whole address space. */
	for (uint32_t dom = 0; !ret && d->npending && dom < NDOM; dom++) {
		if (d->doms[dom] && d->doms[dom]->pending) {
			d->doms[dom]->pending = false;
			d->npending--;
			ret = flush_domain_range(d, (uint16_t)dom, 0, 0);
		}
	}
	return ret;
}

int vg_amdvi_unmap(struct vg_amdvi *d, uint16_t domid, uint64_t iova, uint64_t size)
{
	struct vg_dom *m = d->doms[domid];
	uint64_t done = 0;
	int ret;

	if (!m)
		return VIOMMU_ENOENT;
	ret = viommu_pt_unmap(m->pt, iova, size, &done);
	if (ret)
		return ret;
	d->st.unmaps++;
	if (!d->cfg.lazy)
		return flush_domain_range(d, domid, iova, size);
	if (!m->pending) {
		m->pending = true;
		d->npending++;
	}
	if (d->st.unmaps % d->cfg.batch == 0)
		return vg_amdvi_flush(d);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Interrupt handler and event log                                                             */
/* ------------------------------------------------------------------------------------------ */

/* iommu_poll_events() / iommu_poll_ppr_log(): entries from head to tail, each zeroed after. */
static int poll_log(struct vg_amdvi *d, uint64_t base, uint64_t size, uint64_t head_reg,
		    uint64_t tail_reg, vg_amdvi_event_fn fn, void *opaque)
{
	uint32_t head = readl(d, head_reg);
	uint32_t tail = readl(d, tail_reg);
	int n = 0;

	while (head != tail && head < size) {
		uint8_t *p = viommu_flatmem_ptr(d->cfg.mem, base + head, 16);
		uint32_t ev[4];

		for (int i = 0; i < 4; i++)
			ev[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
				(uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
		if (fn)
			fn(opaque, ev);
		memset(p, 0, 16);
		n++;
		head = (uint32_t)((head + 16) % size);
	}
	writel(d, head_reg, head);
	return n;
}

int vg_amdvi_handle_irq(struct vg_amdvi *d, vg_amdvi_event_fn fn, void *opaque)
{
	const uint32_t mask =
		(uint32_t)(VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW | VIOMMU_AMDVI_STATUS_EVENT_LOG_INT |
			   VIOMMU_AMDVI_STATUS_COM_WAIT_INT | VIOMMU_AMDVI_STATUS_PPR_OVERFLOW |
			   VIOMMU_AMDVI_STATUS_PPR_INT);
	uint32_t status = readl(d, VIOMMU_AMDVI_MMIO_STATUS);
	int n = 0;

	/* amd_iommu_int_thread(): bounded here, as a guest's handler would be by its budget. */
	for (int round = 0; round < 16 && (status & mask); round++) {
		writel(d, VIOMMU_AMDVI_MMIO_STATUS, mask);
		if (status & VIOMMU_AMDVI_STATUS_EVENT_LOG_INT) {
			int k = poll_log(d, d->evt, d->evt_size, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD,
					 VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL, fn, opaque);

			d->st.events += (uint64_t)k;
			n += k;
		}
		if (status & VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW) {
			/* amd_iommu_restart_event_logging() */
			d->st.overflows++;
			feature(d, VIOMMU_AMDVI_CTRL_EVENT_LOG_EN, false);
			feature(d, VIOMMU_AMDVI_CTRL_EVENT_LOG_EN, true);
		}
		if ((status & VIOMMU_AMDVI_STATUS_PPR_INT) && d->ppr)
			d->st.ppr_entries += (uint64_t)poll_log(d, d->ppr, 512 * 16,
								VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD,
								VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL,
								d->ppr_fn, d->ppr_opaque);
		status = readl(d, VIOMMU_AMDVI_MMIO_STATUS);
	}
	return n;
}

int vg_amdvi_enable_ppr(struct vg_amdvi *d, vg_amdvi_event_fn fn, void *opaque)
{
	int ret;

	if (!(d->efr & VIOMMU_AMDVI_EFR_PPR_SUP))
		return VIOMMU_ENOTSUP;
	if (!d->ppr) {
		ret = vg_pool_alloc(&d->pool, 512 * 16, &d->ppr);
		if (ret)
			return ret;
	}
	d->ppr_fn = fn;
	d->ppr_opaque = opaque;
	writeq(d, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, d->ppr | VIOMMU_AMDVI_BUF_LEN_SET(9));
	writel(d, VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD, 0);
	writel(d, VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL, 0);
	feature(d, VIOMMU_AMDVI_CTRL_PPR_LOG_EN, true);
	feature(d, VIOMMU_AMDVI_CTRL_PPR_EN, true);
	feature(d, VIOMMU_AMDVI_CTRL_PPR_INT_EN, true);
	return 0;
}

int vg_amdvi_complete_ppr(struct vg_amdvi *d, uint16_t devid, uint32_t pasid, bool gn, uint32_t tag,
			  uint32_t status)
{
	/* build_complete_ppr() */
	uint32_t c[4] = { devid,
			  (gn ? pasid : 0) | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
						     VIOMMU_AMDVI_CMD_COMPLETE_PPR_REQUEST),
			  gn ? (uint32_t)VIOMMU_AMDVI_CPPR2_GN : 0,
			  (tag & 0x1ff) | (uint32_t)VIOMMU_AMDVI_CPPR3_STATUS_SET(status & 0xf) };
	int ret = vg_amdvi_submit(d, c);

	return ret ? ret : vg_amdvi_completion_wait(d);
}

void vg_amdvi_get_stats(const struct vg_amdvi *d, struct vg_amdvi_stats *st)
{
	*st = d->st;
}
