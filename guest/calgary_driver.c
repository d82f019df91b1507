// SPDX-License-Identifier: MIT
/*
 * Guest Calgary driver: see calgary_driver.h.
 */
#include "calgary_driver.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include <viommu/calgary.h>
#include <viommu/spec/calgary.h>

/* Polls of the split queue and SoftStop attempts before the driver carries on (Linux: 100). */
#define QUIESCE_POLLS 100
#define SOFTSTOP_TRIES 100
/* Pending hypercall-driver maps: one H_PUT_TCE_INDIRECT list. */
#define HC_QUEUE VIOMMU_TCE_INDIRECT_MAX

struct vg_cal {
	struct vg_cal_config cfg;
	uint32_t bus;
	uint64_t table; /* guest-physical */
	uint8_t *tces;	/* the table through the flat memory */
	uint64_t entries;
	uint32_t size_code;
	uint64_t tar;  /* the TAR value the blast writes back */
	uint64_t list; /* hcall_batch: the H_PUT_TCE_INDIRECT list page */
	uint64_t *map; /* allocator bitmap, a bit per page */
	uint64_t hint; /* next-fit start */
	uint64_t used; /* pages set in the bitmap */
	bool enabled;
	/* Queued hypercall maps: one run of consecutive pages. */
	uint64_t q_first;
	uint32_t q_n;
	uint64_t q_tce[HC_QUEUE];
	struct vg_cal_stats st;
	struct vg_pool pool; /* the table and the list page; never freed */
};

static uint32_t rd32(struct vg_cal *d, uint64_t off)
{
	uint64_t v = 0;

	d->st.mmio_reads++;
	viommu_mmio_read(d->cfg.iommu, off, 4, &v);
	return __builtin_bswap32((uint32_t)v); /* be32_to_cpu(readl()) */
}

static void wr32(struct vg_cal *d, uint64_t off, uint32_t val)
{
	d->st.mmio_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 4, __builtin_bswap32(val));
}

static uint64_t rd64(struct vg_cal *d, uint64_t off)
{
	uint64_t v = 0;

	d->st.mmio_reads++;
	viommu_mmio_read(d->cfg.iommu, off, 8, &v);
	return __builtin_bswap64(v);
}

static void wr64(struct vg_cal *d, uint64_t off, uint64_t val)
{
	d->st.mmio_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 8, __builtin_bswap64(val));
}

static uint64_t phb_reg(const struct vg_cal *d, uint32_t off)
{
	return VIOMMU_CALGARY_PHB(d->cfg.phb) | off;
}

int vg_cal_create(const struct vg_cal_config *cfg, struct vg_cal **out)
{
	struct vg_cal *d;
	uint32_t code = 0;

	if (!cfg || !cfg->iommu || !cfg->mem || !out || cfg->phb >= VIOMMU_CALGARY_PHBS)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->cfg = *cfg;
	d->entries = cfg->entries ? cfg->entries : VIOMMU_TCE_ENTRIES(VIOMMU_TCE_TABLE_SIZE_8M);
	while (code <= VIOMMU_TCE_TABLE_SIZE_8M && VIOMMU_TCE_ENTRIES(code) != d->entries)
		code++;
	if (code > VIOMMU_TCE_TABLE_SIZE_8M) {
		free(d);
		return VIOMMU_EINVAL;
	}
	d->size_code = code;
	d->map = calloc(d->entries / 64, sizeof(*d->map));
	if (!d->map) {
		free(d);
		return VIOMMU_ENOMEM;
	}
	vg_pool_init(&d->pool, cfg->mem, cfg->pool_base, cfg->pool_size);
	*out = d;
	return 0;
}

void vg_cal_destroy(struct vg_cal *d)
{
	if (!d)
		return;
	free(d->map);
	free(d);
}

static bool bit_test(const uint64_t *m, uint64_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}

static void bits_set(struct vg_cal *d, uint64_t i, uint64_t n, bool on)
{
	for (uint64_t k = i; k < i + n; k++) {
		uint64_t b = 1ull << (k % 64);

		if (on && !(d->map[k / 64] & b))
			d->used++;
		else if (!on && (d->map[k / 64] & b))
			d->used--;
		d->map[k / 64] = on ? d->map[k / 64] | b : d->map[k / 64] & ~b;
	}
}

/* iommu_range_reserve(): the pages of [start, start + npages) that lie in the table. */
static void range_reserve(struct vg_cal *d, uint64_t start, uint64_t npages)
{
	uint64_t i = start >> 12;

	if (i >= d->entries)
		return;
	if (npages > d->entries - i)
		npages = d->entries - i;
	bits_set(d, i, npages, true);
}

/* First run of @n clear bits in [from, entries), or UINT64_MAX (iommu_area_alloc, no align). */
static uint64_t area_find(const struct vg_cal *d, uint64_t from, uint64_t n)
{
	uint64_t run = 0;

	for (uint64_t i = from; i < d->entries; i++) {
		if (!(i % 64) && d->map[i / 64] == UINT64_MAX) {
			run = 0;
			i += 63;
			continue;
		}
		if (bit_test(d->map, i)) {
			run = 0;
			continue;
		}
		if (++run == n)
			return i + 1 - n;
	}
	return UINT64_MAX;
}

/* iommu_range_alloc(): next fit from the hint; on failure blast, then from 0. */
static uint64_t range_alloc(struct vg_cal *d, uint64_t n)
{
	uint64_t off = area_find(d, d->hint, n);

	if (off == UINT64_MAX) {
		d->st.wraps++;
		vg_cal_blast(d);
		off = area_find(d, 0, n);
		if (off == UINT64_MAX) {
			d->st.full++;
			return UINT64_MAX;
		}
	}
	bits_set(d, off, n, true);
	d->hint = off + n;
	return off;
}

static void tce_store(struct vg_cal *d, uint64_t pg, uint64_t tce)
{
	uint64_t be = __builtin_bswap64(tce);

	/* A single aligned store, as the driver's 64-bit write of a TCE. */
	__atomic_store_n((uint64_t *)(d->tces + 8 * pg), be, __ATOMIC_RELAXED);
	d->st.tce_writes++;
}

/* Report stores to TCEs [pg, pg + n) as the VMM's write protection would. */
static void trapped(struct vg_cal *d, uint64_t pg, uint64_t n)
{
	if (d->cfg.trap_writes && n)
		viommu_calgary_tce_written(d->cfg.iommu, d->table + 8 * pg, 8 * n);
}

/* tce_build()'s entry: read always, write unless the device only reads. */
static uint64_t mk_tce(uint64_t gpa, uint32_t perm)
{
	uint64_t t = (gpa & VIOMMU_TCE_RPN_MASK) | VIOMMU_TCE_READ;

	if (perm & VIOMMU_ACC_WRITE)
		t |= VIOMMU_TCE_WRITE;
	return t;
}

static int hcall(struct vg_cal *d, uint64_t op, uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t args[4] = { d->cfg.phb, a1, a2, a3 };
	int64_t rc;

	d->st.hcalls++;
	rc = viommu_calgary_hcall(d->cfg.iommu, op, args, NULL);
	if (rc != VIOMMU_TCE_H_SUCCESS) {
		d->st.hcall_failures++;
		return VIOMMU_EIO;
	}
	return 0;
}

/* The queued hypercall maps: one H_PUT_TCE_INDIRECT. */
static int hc_flush(struct vg_cal *d)
{
	uint64_t *list;
	int ret;

	if (!d->q_n)
		return 0;
	list = viommu_flatmem_ptr(d->cfg.mem, d->list, 8 * HC_QUEUE);
	if (!list)
		return VIOMMU_EFAULT;
	for (uint32_t i = 0; i < d->q_n; i++)
		list[i] = __builtin_bswap64(d->q_tce[i]);
	ret = hcall(d, VIOMMU_TCE_H_PUT_TCE_INDIRECT, d->q_first << 12, d->list, d->q_n);
	d->q_n = 0;
	return ret;
}

/* Queue the TCE of page @pg, flushing when it does not continue the run or the list is full. */
static int hc_queue(struct vg_cal *d, uint64_t pg, uint64_t tce)
{
	int ret = 0;

	if (d->q_n && (d->q_first + d->q_n != pg || d->q_n == HC_QUEUE))
		ret = hc_flush(d);
	if (!d->q_n)
		d->q_first = pg;
	d->q_tce[d->q_n++] = tce;
	return ret;
}

static int write_tces(struct vg_cal *d, uint64_t pg, uint64_t n, uint64_t gpa, uint32_t perm,
		      bool queue)
{
	int ret = 0;

	if (!d->cfg.hcall) {
		for (uint64_t i = 0; i < n; i++)
			tce_store(d, pg + i, mk_tce(gpa + 4096 * i, perm));
		trapped(d, pg, n);
		return 0;
	}
	for (uint64_t i = 0; i < n && !ret; i++) {
		uint64_t tce = mk_tce(gpa + 4096 * i, perm);

		if (d->cfg.hcall_batch)
			ret = hc_queue(d, pg + i, tce);
		else
			ret = hcall(d, VIOMMU_TCE_H_PUT_TCE, (pg + i) << 12, tce, 0);
	}
	if (!ret && d->cfg.hcall_batch && !queue)
		ret = hc_flush(d);
	return ret;
}

static int clear_tces(struct vg_cal *d, uint64_t pg, uint64_t n)
{
	int ret = 0;

	if (!d->cfg.hcall) {
		for (uint64_t i = 0; i < n; i++)
			tce_store(d, pg + i, 0);
		trapped(d, pg, n);
		return 0;
	}
	/* Queued maps go first, so a clear never overtakes them. */
	ret = hc_flush(d);
	if (d->cfg.hcall_batch && n > 1)
		return ret ? ret : hcall(d, VIOMMU_TCE_H_STUFF_TCE, pg << 12, 0, n);
	for (uint64_t i = 0; i < n && !ret; i++)
		ret = hcall(d, VIOMMU_TCE_H_PUT_TCE, (pg + i) << 12, 0, 0);
	return ret;
}

int vg_cal_blast(struct vg_cal *d)
{
	uint64_t sq = VIOMMU_CALGARY_SPLIT_QUEUE(d->cfg.phb), tar = VIOMMU_CALGARY_TAR(d->cfg.phb);
	uint64_t aer_off = phb_reg(d, VIOMMU_CALGARY_PHB_AER);
	uint64_t pmcr = phb_reg(d, VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL);
	uint64_t pmdr = phb_reg(d, VIOMMU_CALGARY_PHB_PAGE_MIG_DEBUG);
	uint32_t aer;
	int i;

	d->st.blasts++;
	if (d->cfg.skip_quiesce) {
		wr64(d, tar, d->tar);
		return 0;
	}
	if (!d->cfg.calioc2) {
		/* Arbitration off, posted by a PLSSR read; wait for the split queue; TAR; back on. */
		aer = rd32(d, aer_off);
		wr32(d, aer_off, 0);
		(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_PLSSR));
		for (i = 0; i < QUIESCE_POLLS; i++)
			if ((rd64(d, sq) & 0xff) == VIOMMU_CALGARY_SPLIT_QUEUE_IDLE)
				break;
		if (i == QUIESCE_POLLS)
			d->st.not_quiesced++;
		wr64(d, tar, d->tar);
		wr32(d, aer_off, aer);
		(void)rd32(d, aer_off);
		return 0;
	}
	for (int tries = 1;; tries++) {
		wr32(d, pmcr, rd32(d, pmcr) | VIOMMU_CALGARY_PMR_SOFTSTOP);
		for (i = 0; i < QUIESCE_POLLS; i++)
			if ((rd64(d, sq) & 0xff) == VIOMMU_CALGARY_SPLIT_QUEUE_IDLE)
				break;
		if (i == QUIESCE_POLLS)
			d->st.not_quiesced++;
		if (!(rd32(d, pmdr) & VIOMMU_CALGARY_PMR_SOFTSTOPFAULT))
			break;
		d->st.softstop_retries++;
		if (tries + 1 >= SOFTSTOP_TRIES)
			return VIOMMU_EBUSY; /* Linux: "too many SoftStopFaults", gives up */
	}
	(void)rd32(d, pmcr); /* slams into HardStop */
	(void)rd32(d, pmdr);
	wr64(d, tar, d->tar);
	(void)rd32(d, pmcr);
	wr32(d, pmcr, 0);
	(void)rd32(d, pmcr);
	return 0;
}

int vg_cal_enable(struct vg_cal *d)
{
	uint64_t tar_off = VIOMMU_CALGARY_TAR(d->cfg.phb), bytes = d->entries * 8, v;
	uint32_t stuff, cfg;
	int ret;

	stuff = rd32(d, VIOMMU_CALGARY_PHB_DEBUG(d->cfg.phb) | VIOMMU_CALGARY_PHB_DEBUG_STUFF);
	d->bus = VIOMMU_CALGARY_STUFF_START_BUS(stuff);
	if (!d->table) {
		ret = vg_pool_reserve(&d->pool, bytes, bytes, &d->table);
		if (ret)
			return ret;
		if (d->cfg.hcall_batch) {
			ret = vg_pool_reserve(&d->pool, 4096, VIOMMU_TCE_INDIRECT_ALIGN, &d->list);
			if (ret)
				return ret;
		}
	}
	d->tces = viommu_flatmem_ptr(d->cfg.mem, d->table, bytes);
	if (!d->tces)
		return VIOMMU_EFAULT;
	memset(d->tces, 0, bytes); /* tce_free() of the whole table */
	memset(d->map, 0, d->entries / 8);
	d->used = 0;
	d->hint = 0;
	if (!d->cfg.no_reservation) {
		uint64_t lo, hi, size;

		range_reserve(d, 0, VIOMMU_CALGARY_EMERGENCY_PAGES); /* x86-64 bad_dma_address 0 */
		if (d->cfg.calioc2)
			range_reserve(d, 0, (1024 * 1024) >> 12);
		else
			range_reserve(d, 640 * 1024, ((1024 - 640) * 1024) >> 12);
		lo = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_1_LOW));
		hi = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_1_HIGH));
		size = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_1_SIZE));
		if ((size | 0xfffff) + 1 > (hi << 32 | lo))
			range_reserve(d, hi << 32 | lo,
				      ((size | 0xfffff) + 1 - (hi << 32 | lo)) >> 12);
		if (rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW)) &
		    VIOMMU_CALGARY_PHB_MEM2_ENABLE) {
			lo = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_2_LOW));
			hi = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_2_HIGH));
			size = (uint64_t)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_2_SIZE_HIGH))
				       << 32 |
			       rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MEM_2_SIZE_LOW));
			if ((size | 0xfffff) + 1 > (hi << 32 | lo))
				range_reserve(d, hi << 32 | lo,
					      ((size | 0xfffff) + 1 - (hi << 32 | lo)) >> 12);
		}
	}
	/* calgary_setup_tar(): keep the hardware's bits, ours are the table and its size. */
	v = rd64(d, tar_off) & ~VIOMMU_CALGARY_TAR_SW_BITS;
	d->tar = v | d->table | d->size_code;
	wr64(d, tar_off, d->tar);
	(void)rd64(d, tar_off);
	if (d->cfg.calioc2) {
		uint64_t sav = phb_reg(d, VIOMMU_CALGARY_PHB_SAVIOR_L2);

		wr32(d, sav, rd32(d, sav) | VIOMMU_CALGARY_SAVIOR_L2_RECOMMENDED);
	}
	cfg = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW));
	cfg |= VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_DAC_DISABLE |
	       VIOMMU_CALGARY_PHB_MCSR_ENABLE;
	wr32(d, phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW), cfg);
	(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW));
	d->enabled = true;
	return 0;
}

int vg_cal_disable(struct vg_cal *d)
{
	uint64_t cfg_off = phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW);
	uint64_t tar_off = VIOMMU_CALGARY_TAR(d->cfg.phb);
	uint32_t cfg = rd32(d, cfg_off);

	cfg &= ~(VIOMMU_CALGARY_PHB_TCE_ENABLE | VIOMMU_CALGARY_PHB_DAC_DISABLE |
		 VIOMMU_CALGARY_PHB_MCSR_ENABLE);
	wr32(d, cfg_off, cfg);
	(void)rd32(d, cfg_off);
	wr64(d, tar_off, rd64(d, tar_off) & ~VIOMMU_CALGARY_TAR_SW_BITS);
	(void)rd64(d, tar_off);
	d->enabled = false;
	return 0;
}

int vg_cal_map_page(struct vg_cal *d, uint64_t gpa, uint64_t len, uint32_t perm, uint64_t *dma)
{
	uint64_t n, pg;
	int ret;

	if (!d->enabled || !len || !dma || gpa + len < gpa)
		return VIOMMU_EINVAL;
	n = ((gpa & 0xfff) + len + 4095) >> 12; /* iommu_num_pages() */
	if (n > d->entries)
		return VIOMMU_ENOSPC;
	pg = range_alloc(d, n);
	if (pg == UINT64_MAX)
		return VIOMMU_ENOSPC;
	ret = write_tces(d, pg, n, gpa & ~0xfffull, perm, false);
	if (ret) {
		bits_set(d, pg, n, false);
		return ret;
	}
	d->st.maps++;
	*dma = pg << 12 | (gpa & 0xfff);
	return 0;
}

int vg_cal_unmap_page(struct vg_cal *d, uint64_t dma, uint64_t len)
{
	uint64_t pg = dma >> 12, n;
	int ret;

	if (!len || dma + len < dma)
		return VIOMMU_EINVAL;
	n = ((dma & 0xfff) + len + 4095) >> 12;
	/* iommu_free(): never the emergency pages, never past the table. */
	if (dma < VIOMMU_CALGARY_EMERGENCY_PAGES * 4096ull || pg >= d->entries ||
	    n > d->entries - pg)
		return VIOMMU_EINVAL;
	ret = clear_tces(d, pg, n);
	bits_set(d, pg, n, false);
	d->st.unmaps++;
	return ret;
}

int vg_cal_watchdog(struct vg_cal *d, uint32_t *csr, uint32_t *plssr)
{
	uint64_t csr_off = phb_reg(d, VIOMMU_CALGARY_PHB_CSR);
	uint64_t cfg_off = phb_reg(d, VIOMMU_CALGARY_PHB_CONFIG_RW);
	uint32_t c = rd32(d, csr_off), p;

	if (!(c & VIOMMU_CALGARY_CSR_AGENT_MASK))
		return 0;
	p = rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_PLSSR));
	if (d->cfg.calioc2) {
		/* calioc2_dump_error_regs() reads these too. */
		(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_CSMR));
		(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_MCK));
		for (unsigned int i = 0; i < VIOMMU_CALGARY_PHB_NERR; i++)
			(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_ERR(i)));
		(void)rd32(d, phb_reg(d, VIOMMU_CALGARY_PHB_ROOT_COMPLEX_STATUS));
	}
	if (csr)
		*csr = c;
	if (plssr)
		*plssr = p;
	d->st.errors++;
	wr32(d, csr_off, 0);
	wr32(d, cfg_off, rd32(d, cfg_off) | VIOMMU_CALGARY_PHB_SLOT_DISABLE);
	(void)rd32(d, cfg_off);
	return 1;
}

static bool span_ok(const struct vg_cal *d, uint64_t iova, uint64_t size)
{
	return d->enabled && !(iova & 0xfff) && !(size & 0xfff) && size &&
	       (iova >> 12) < d->entries && (size >> 12) <= d->entries - (iova >> 12);
}

static int set_tces(struct vg_cal *d, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm,
		    bool queue)
{
	if (!span_ok(d, iova, size) || (gpa & 0xfff))
		return VIOMMU_EINVAL;
	d->st.maps++;
	return write_tces(d, iova >> 12, size >> 12, gpa, perm, queue);
}

int vg_cal_set_tces(struct vg_cal *d, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	return set_tces(d, iova, gpa, size, perm, false);
}

int vg_cal_clear_tces(struct vg_cal *d, uint64_t iova, uint64_t size)
{
	if (!span_ok(d, iova, size))
		return VIOMMU_EINVAL;
	d->st.unmaps++;
	return clear_tces(d, iova >> 12, size >> 12);
}

static int dma_map(void *iommu, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	return set_tces(iommu, iova, gpa, size, perm, false);
}

static int dma_map_queue(void *iommu, uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	return set_tces(iommu, iova, gpa, size, perm, true);
}

static int dma_sync_map(void *iommu)
{
	struct vg_cal *d = iommu;

	/* The chip caches valid TCEs only: a new one is seen without a blast. */
	return d->cfg.hcall ? hc_flush(d) : 0;
}

static int dma_unmap(void *iommu, uint64_t iova, uint64_t size)
{
	struct vg_cal *d = iommu;
	int ret = vg_cal_clear_tces(d, iova, size);

	/* The hypercalls keep the cache coherent; on the bare chip only a blast does. */
	if (!ret && !d->cfg.hcall)
		ret = vg_cal_blast(d);
	return ret;
}

static int dma_unmap_lazy(void *iommu, uint64_t iova, uint64_t size)
{
	return vg_cal_clear_tces(iommu, iova, size);
}

static int dma_flush(void *iommu)
{
	struct vg_cal *d = iommu;
	int ret = d->cfg.hcall ? hc_flush(d) : 0;

	return ret ? ret : d->cfg.hcall ? 0 : vg_cal_blast(d);
}

const struct vg_dma_iommu_ops vg_cal_dma_ops = {
	.map = dma_map,
	.map_queue = dma_map_queue,
	.sync_map = dma_sync_map,
	.unmap = dma_unmap,
	.unmap_lazy = dma_unmap_lazy,
	.flush = dma_flush,
};

uint32_t vg_cal_bus(const struct vg_cal *d)
{
	return d->bus;
}

uint64_t vg_cal_table(const struct vg_cal *d)
{
	return d->table;
}

uint64_t vg_cal_entries(const struct vg_cal *d)
{
	return d->entries;
}

uint64_t vg_cal_pages_used(const struct vg_cal *d)
{
	return d->used;
}

void vg_cal_get_stats(const struct vg_cal *d, struct vg_cal_stats *st)
{
	*st = d->st;
}
