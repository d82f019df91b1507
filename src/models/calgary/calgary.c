// SPDX-License-Identifier: MIT
/*
 * IBM Calgary / CalIOC2: the instance, the big-endian register file, the TAR write that blasts
 * the TCE cache (only on a quiesced bus), and the BIOS discovery data.
 */
#include <stdlib.h>

#include "calgary_internal.h"

#define CAL_DEFAULT_BBAR 0xfe000000ull

void viommu_calgary_config_init(struct viommu_calgary_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->chip = VIOMMU_CALGARY_CHIP_CALGARY;
	cfg->first_bus = 0;
	cfg->pa_bits = 48;
	cfg->cache_entries = 256;
	cfg->bbar = CAL_DEFAULT_BBAR;
}

int viommu_calgary_get_stats(const struct viommu *v, struct viommu_calgary_stats *st)
{
	if (!v || v->ops != &vi_cal_ops || !st)
		return VIOMMU_EINVAL;
	*st = vi_container_of(v, const struct calgary, v)->st;
	return 0;
}

/* The table the TAR names, for the src/pt TCE format. */
static void phb_set_table(struct calgary *s, struct cal_phb *p)
{
	unsigned int code = VIOMMU_CALGARY_TAR_SIZE_GET(p->tar);

	memset(&p->pt, 0, sizeof(p->pt));
	p->pt.format = VIOMMU_PT_TCE;
	p->pt.flags = VIOMMU_PT_F_BE;
	p->pt.oas = (uint8_t)s->cfg.pa_bits;
	p->pt.tce_size = (uint8_t)code;
	p->pt.root = p->tar & VIOMMU_CALGARY_TAR_ADDR_MASK;
	p->entries = VIOMMU_TCE_ENTRIES(code);
	/* Every TAR value is a valid configuration (3-bit code, aligned address). */
	if (p->plan)
		viommu_pt_plan_set(p->plan, &p->pt);
}

/*
 * A TAR write. It empties the TCE cache only when no DMA can be in flight: the bus quiesced by
 * the chip's blast sequence, or translation off. Otherwise the cached TCEs stay (stale), which
 * is what skipping a step of the sequence risks on the real chip.
 */
static void tar_write(struct calgary *s, struct cal_phb *p, uint64_t tar)
{
	bool quiet = !(p->config_rw & VIOMMU_CALGARY_PHB_TCE_ENABLE) ||
		     (cal_is_calioc2(s) ? p->hardstop : p->aer == 0);

	p->tar = tar & VIOMMU_CALGARY_TAR_SW_BITS;
	p->tar_written = true;
	phb_set_table(s, p);
	s->st.tar_writes++;
	if (!quiet) {
		s->st.blasts_unquiesced++;
		return;
	}
	s->st.blasts++;
	vi_cal_cache_flush(s, p);
	vi_cal_notify_blast(s, p);
}

/* PMCR write (CalIOC2): SoftStop starts a stop attempt; clearing it leaves any stop. */
static void pmcr_write(struct cal_phb *p, uint32_t val)
{
	p->pmcr = val & VIOMMU_CALGARY_PMR_SOFTSTOP;
	p->pmdr &= ~VIOMMU_CALGARY_PMR_SOFTSTOPFAULT;
	if (!(val & VIOMMU_CALGARY_PMR_SOFTSTOP))
		p->hardstop = false;
}

/* PMCR read: with SoftStop held and no DMA having hit it, the read enters HardStop. */
static uint32_t pmcr_read(struct cal_phb *p)
{
	if ((p->pmcr & VIOMMU_CALGARY_PMR_SOFTSTOP) &&
	    !(p->pmdr & VIOMMU_CALGARY_PMR_SOFTSTOPFAULT))
		p->hardstop = true;
	return p->pmcr | (p->hardstop ? VIOMMU_CALGARY_PMR_HARDSTOP : 0);
}

/* The registers a PHB keeps for the guest without meaning to the model. */
static bool phb_store_reg(const struct calgary *s, uint32_t off)
{
	switch (off) {
	case VIOMMU_CALGARY_PHB_IOBASE_BAR_LOW:
	case VIOMMU_CALGARY_PHB_IOBASE_BAR_HIGH:
	case VIOMMU_CALGARY_PHB_MEM_1_LOW:
	case VIOMMU_CALGARY_PHB_MEM_1_HIGH:
	case VIOMMU_CALGARY_PHB_IO_ADDR_SIZE:
	case VIOMMU_CALGARY_PHB_MEM_1_SIZE:
	case VIOMMU_CALGARY_PHB_MEM_ST:
	case VIOMMU_CALGARY_PHB_CONFIG_0_HIGH:
	case VIOMMU_CALGARY_PHB_CONFIG_0_LOW:
	case VIOMMU_CALGARY_PHB_CONFIG_0_END:
	case VIOMMU_CALGARY_PHB_MEM_2_LOW:
	case VIOMMU_CALGARY_PHB_MEM_2_HIGH:
	case VIOMMU_CALGARY_PHB_MEM_2_SIZE_HIGH:
	case VIOMMU_CALGARY_PHB_MEM_2_SIZE_LOW:
	case VIOMMU_CALGARY_PHB_DOSHOLE:
		return true;
	case VIOMMU_CALGARY_PHB_SAVIOR_L2:
		return cal_is_calioc2(s);
	default:
		return false;
	}
}

/* A 32-bit PHB register (CPU order); false for an unknown one. */
static bool phb_read(struct calgary *s, struct cal_phb *p, uint32_t off, uint32_t *val)
{
	bool ioc2 = cal_is_calioc2(s);

	switch (off) {
	case VIOMMU_CALGARY_PHB_CSR:
		*val = p->csr;
		return true;
	case VIOMMU_CALGARY_PHB_PLSSR:
		*val = p->plssr;
		return true;
	case VIOMMU_CALGARY_PHB_CONFIG_RW:
		*val = p->config_rw;
		return true;
	case VIOMMU_CALGARY_PHB_AER:
		*val = p->aer;
		return true;
	case VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL:
		if (!ioc2)
			return false;
		*val = pmcr_read(p);
		return true;
	case VIOMMU_CALGARY_PHB_PAGE_MIG_DEBUG:
		if (!ioc2)
			return false;
		*val = p->pmdr;
		return true;
	case VIOMMU_CALGARY_PHB_CSMR:
	case VIOMMU_CALGARY_PHB_MCK:
	case VIOMMU_CALGARY_PHB_ROOT_COMPLEX_STATUS:
		if (!ioc2)
			return false;
		*val = 0;
		return true;
	default:
		break;
	}
	if (ioc2 && off >= VIOMMU_CALGARY_PHB_ERR(0) &&
	    off <= VIOMMU_CALGARY_PHB_ERR(VIOMMU_CALGARY_PHB_NERR - 1) && !(off & 0xf)) {
		*val = p->err[(off - VIOMMU_CALGARY_PHB_ERR(0)) >> 4];
		return true;
	}
	if (phb_store_reg(s, off)) {
		*val = p->store[off >> 4];
		return true;
	}
	return false;
}

static bool phb_write(struct calgary *s, struct cal_phb *p, uint32_t off, uint32_t val)
{
	switch (off) {
	case VIOMMU_CALGARY_PHB_CSR:
		/* The watchdog writes 0 to reset the error: the CalIOC2 details go with it. */
		p->csr = val;
		if (!(val & VIOMMU_CALGARY_CSR_AGENT_MASK)) {
			p->plssr = 0;
			memset(p->err, 0, sizeof(p->err));
		}
		return true;
	case VIOMMU_CALGARY_PHB_CONFIG_RW:
		p->config_rw = val;
		return true;
	case VIOMMU_CALGARY_PHB_AER:
		p->aer = val;
		return true;
	case VIOMMU_CALGARY_PHB_PAGE_MIG_CTRL:
		if (!cal_is_calioc2(s))
			return false;
		pmcr_write(p, val);
		return true;
	default:
		break;
	}
	if (phb_store_reg(s, off)) {
		p->store[off >> 4] = val;
		return true;
	}
	return false;
}

/* 64-bit chip registers (CPU order): TARs, the configuration register, split queues. */
static bool chip_read64(struct calgary *s, uint64_t off, uint64_t *val)
{
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		struct cal_phb *p = &s->phb[i];

		if (off == VIOMMU_CALGARY_TAR(i)) {
			*val = p->tar;
			return true;
		}
		if (off == VIOMMU_CALGARY_SPLIT_QUEUE(i)) {
			/* Idle only once the bus stops new DMA: the model has none in flight. */
			*val = cal_stopped(s, p) ? VIOMMU_CALGARY_SPLIT_QUEUE_IDLE : 0;
			return true;
		}
	}
	if (off == VIOMMU_CALGARY_CONFIG_REG) {
		*val = s->config_reg;
		return true;
	}
	return false;
}

static bool chip_write64(struct calgary *s, uint64_t off, uint64_t val)
{
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		if (off == VIOMMU_CALGARY_TAR(i)) {
			tar_write(s, &s->phb[i], val);
			return true;
		}
	}
	if (off == VIOMMU_CALGARY_CONFIG_REG) {
		s->config_reg = val;
		return true;
	}
	return false;
}

/* The PHB whose 4 KiB register page holds @off, and the offset inside it; NULL if none. */
static struct cal_phb *phb_at(struct calgary *s, uint64_t off, uint32_t *in)
{
	if (off < VIOMMU_CALGARY_PHB(0) || off >= VIOMMU_CALGARY_PHB(VIOMMU_CALGARY_PHBS))
		return NULL;
	*in = (uint32_t)(off & 0xfff);
	return &s->phb[(off - VIOMMU_CALGARY_PHB(0)) >> 12];
}

static bool debug_stuff_read(struct calgary *s, uint64_t off, uint32_t *val)
{
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		if (off == (VIOMMU_CALGARY_PHB_DEBUG(i) | VIOMMU_CALGARY_PHB_DEBUG_STUFF)) {
			/* One bus per PHB: start bus, end bus 0. */
			*val = s->phb[i].bus << 16;
			return true;
		}
	}
	return false;
}

static int cal_mmio_read(struct viommu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	struct calgary *s = to_cal(v);
	struct cal_phb *p;
	uint32_t in, v32;
	uint64_t v64;

	s->st.mmio_reads++;
	*val = 0;
	if (size == 8 && !(off & 7) && chip_read64(s, off, &v64)) {
		*val = __builtin_bswap64(v64);
		return 0;
	}
	if (size == 4 && !(off & 3)) {
		p = phb_at(s, off, &in);
		if ((p && phb_read(s, p, in, &v32)) || (!p && debug_stuff_read(s, off, &v32))) {
			*val = __builtin_bswap32(v32);
			return 0;
		}
	}
	s->st.mmio_ignored++;
	return 0;
}

static int cal_mmio_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct calgary *s = to_cal(v);
	struct cal_phb *p;
	uint32_t in;

	s->st.mmio_writes++;
	if (size == 8 && !(off & 7) && chip_write64(s, off, __builtin_bswap64(val)))
		return 0;
	if (size == 4 && !(off & 3)) {
		p = phb_at(s, off, &in);
		if (p && phb_write(s, p, in, __builtin_bswap32((uint32_t)val)))
			return 0;
	}
	s->st.mmio_ignored++;
	return 0;
}

static void cal_mem_changed(struct viommu *v)
{
	viommu_pt_walker_invalidate(to_cal(v)->walker);
}

static void cal_destroy(struct viommu *v)
{
	struct calgary *s = to_cal(v);

	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS; i++) {
		free(s->phb[i].cache);
		viommu_pt_plan_destroy(s->phb[i].plan);
	}
	viommu_pt_walker_destroy(s->walker);
	vi_instance_fini(&s->v);
	free(s);
}

const struct viommu_model_ops vi_cal_ops = {
	.name = "calgary",
	.translate = vi_cal_translate,
	.mmio_read = cal_mmio_read,
	.mmio_write = cal_mmio_write,
	.replay = vi_cal_replay,
	.mem_changed = cal_mem_changed,
	.destroy = cal_destroy,
};

static int check_config(struct viommu_calgary_config *c)
{
	if (!c->pa_bits)
		c->pa_bits = 48;
	if (!c->cache_entries)
		c->cache_entries = 256;
	if (!c->bbar)
		c->bbar = CAL_DEFAULT_BBAR;
	if (c->chip > VIOMMU_CALGARY_CHIP_CALIOC2 || c->first_bus > 252 || c->pa_bits < 32 ||
	    c->pa_bits > 48 || c->cache_entries > 65536 ||
	    (c->cache_entries & (c->cache_entries - 1)) ||
	    (c->bbar & (VIOMMU_CALGARY_REG_SPACE - 1)) || c->bbar >= (1ull << 32))
		return VIOMMU_EINVAL;
	return 0;
}

int viommu_calgary_create(const struct viommu_calgary_config *cfg,
			  const struct viommu_host_ops *ops, void *opaque, struct viommu **out)
{
	struct calgary *s;
	int ret;

	if (!cfg || !ops || !ops->dma_read || !ops->dma_write || !out)
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->cfg = *cfg;
	ret = check_config(&s->cfg);
	if (!ret)
		ret = vi_instance_init(&s->v, &vi_cal_ops, ops, opaque);
	if (ret) {
		free(s);
		return ret;
	}
	s->cache_mask = s->cfg.cache_entries - 1;
	ret = viommu_pt_walker_create(ops, opaque, &s->walker);
	for (unsigned int i = 0; i < VIOMMU_CALGARY_PHBS && !ret; i++) {
		struct cal_phb *p = &s->phb[i];

		p->idx = i;
		p->bus = s->cfg.first_bus + i;
		/* Arbitration on; every other register 0 (translation off) at reset. */
		p->aer = 0xffffffffu;
		phb_set_table(s, p);
		ret = viommu_pt_plan_create(&p->pt, &p->plan);
		p->cache = calloc(s->cfg.cache_entries, sizeof(*p->cache));
		if (!ret && !p->cache)
			ret = VIOMMU_ENOMEM;
	}
	if (ret) {
		cal_destroy(&s->v);
		return ret;
	}
	*out = &s->v;
	return 0;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)v);
	put16(b + 2, (uint16_t)(v >> 16));
}

#define CAL_MAX_CHIPS 8

int viommu_calgary_discovery(const struct viommu *const *chips, unsigned int n, void *buf,
			     size_t len, size_t *used)
{
	size_t need = 4 + VIOMMU_CALGARY_RIO_HDR_LEN + VIOMMU_CALGARY_SCAL_DETAIL_LEN +
		      (size_t)n * VIOMMU_CALGARY_RIO_DETAIL_LEN;
	uint8_t *b = buf, *d;

	if (!chips || !n || n > CAL_MAX_CHIPS || !used || (!buf && len))
		return VIOMMU_EINVAL;
	for (unsigned int i = 0; i < n; i++)
		if (!chips[i] || chips[i]->ops != &vi_cal_ops)
			return VIOMMU_EINVAL;
	*used = need;
	if (len < need)
		return VIOMMU_ENOSPC;
	memset(b, 0, need);
	/* The last block of the list: next offset 0 ends Linux's walk. */
	put16(b, 0);
	put16(b + 2, VIOMMU_CALGARY_RIO_BLOCK_ID);
	b[4] = VIOMMU_CALGARY_RIO_VERSION;
	b[5] = 1; /* one scalability node */
	b[6] = (uint8_t)n;
	d = b + 4 + VIOMMU_CALGARY_RIO_HDR_LEN;
	/* scal_detail: node 0, no CBAR of its own, no ports, chassis 1. */
	memset(d + 5, 0xff, 6);
	d[11] = 1;
	d += VIOMMU_CALGARY_SCAL_DETAIL_LEN;
	for (unsigned int i = 0; i < n; i++, d += VIOMMU_CALGARY_RIO_DETAIL_LEN) {
		const struct calgary *s = vi_container_of(chips[i], const struct calgary, v);

		d[0] = (uint8_t)(i + 1);
		put32(d + VIOMMU_CALGARY_RIO_BBAR, (uint32_t)s->cfg.bbar);
		d[VIOMMU_CALGARY_RIO_TYPE] = VIOMMU_CALGARY_RIO_TYPE_COMPAT_CALGARY;
		memset(d + 7, 0xff, 4);	  /* ports: none */
		d[11] = (uint8_t)(4 * i); /* first slot */
		d[13] = (uint8_t)i;	  /* WP_index */
		d[14] = 1;		  /* chassis */
	}
	return 0;
}
