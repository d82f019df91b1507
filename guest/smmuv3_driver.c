// SPDX-License-Identifier: MIT
/*
 * Guest-side SMMUv3 driver (see smmuv3_driver.h): what Linux's arm-smmu-v3 driver programs, in
 * the same order, through the public API only.
 */
#include "smmuv3_driver.h"
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include <viommu/pt.h>
#include <viommu/spec/smmuv3.h>

#define PAGE 4096ull
#define NDOM 65536
#define STE_SIZE 64
#define CD_SIZE 64
#define STRTAB_SPLIT 8	/* Linux's STRTAB_SPLIT: 256 STEs per level-2 table */
#define CD_SPLIT 10	/* Linux's CTXDESC_SPLIT: 1024 CDs per level-2 table */
#define POLL_LIMIT 1024 /* register reads a wait may take (the SMMU completes at once) */
#define CMD_WORDS 2
#define EVT_WORDS 4
#define PRI_WORDS 2
#define IRQ_EVTQ 0
#define IRQ_PRIQ 1
#define IRQ_GERROR 2
#define PEND_MAX 64

struct vg_smmu_dom {
	struct viommu_pt *pt;
	uint16_t vmid; /* stage 1: the VMID its TLB entries carry (the nesting stage 2's, or 0) */
	bool pending;  /* lazy: unmaps not flushed yet */
};

struct vg_smmu_stream {
	uint32_t sid;
	uint8_t kind; /* enum vg_smmu_ste */
	uint16_t s1, s2;
	bool ats;
	uint64_t cdtab; /* CD table (level 1 when 2-level) */
	bool cd2l;
};

struct vg_smmu_range {
	uint64_t iova, size;
	uint16_t dom;
	bool stage2;
};

struct vg_smmu_q {
	uint64_t base;
	uint32_t bits;
	uint32_t prod, cons; /* shadows: index and wrap */
};

struct vg_smmu {
	struct vg_smmu_config cfg;
	uint32_t idr[6];
	struct vg_pool pool;

	uint64_t strtab; /* linear table, or level 1 */
	bool st2l;
	uint32_t sid_bits;
	uint64_t *l2; /* level-2 tables by level-1 index (0: absent) */
	struct vg_smmu_q cmdq, evtq, priq;

	struct vg_smmu_dom *s1[NDOM], *s2[NDOM];
	struct vg_smmu_stream *streams;
	size_t nstreams, cap_streams;
	struct vg_smmu_range *sync;
	size_t nsync, cap_sync;
	uint32_t pend[PEND_MAX]; /* lazy: stage2 << 16 | domain of each pending domain */
	uint32_t npend;		 /* PEND_MAX + 1: more, scan every domain */
	struct vg_smmu_stats st;
};

/* ------------------------------------------------------------------------------------------ */
/* Registers and memory, as the CPU reaches them                                               */
/* ------------------------------------------------------------------------------------------ */

static void writel(struct vg_smmu *d, uint64_t off, uint32_t v)
{
	d->st.mmio_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 4, v);
}

static void writeq(struct vg_smmu *d, uint64_t off, uint64_t v)
{
	d->st.mmio_writes++;
	viommu_mmio_write(d->cfg.iommu, off, 8, v);
}

static uint32_t readl(struct vg_smmu *d, uint64_t off)
{
	uint64_t v = 0;

	viommu_mmio_read(d->cfg.iommu, off, 4, &v);
	return (uint32_t)v;
}

static void store64(struct vg_smmu *d, uint64_t gpa, uint64_t v)
{
	vg_pool_store64(&d->pool, gpa, v);
}

static uint64_t load64(struct vg_smmu *d, uint64_t gpa)
{
	return vg_pool_load64(&d->pool, gpa);
}

/* Write a register and wait for its acknowledgement (arm_smmu_write_reg_sync()). */
static int write_sync(struct vg_smmu *d, uint64_t off, uint64_t ack, uint32_t v)
{
	writel(d, off, v);
	for (int i = 0; i < POLL_LIMIT; i++) {
		if (readl(d, ack) == v)
			return 0;
	}
	return VIOMMU_EIO;
}

/* ------------------------------------------------------------------------------------------ */
/* Page pool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

int vg_smmu_alloc_page(struct vg_smmu *d, uint64_t *gpa)
{
	return vg_pool_alloc(&d->pool, PAGE, gpa);
}

/* Anything of @size bytes aligned to its size (at least 64), from the pool. */
static int alloc_aligned(struct vg_smmu *d, uint64_t size, uint64_t *gpa)
{
	uint64_t sz = size < PAGE ? PAGE : size;

	/* Power-of-two sizes only: the pool aligns to the size. */
	while (sz & (sz - 1))
		sz += sz & -sz;
	return vg_pool_alloc(&d->pool, sz, gpa);
}

/* ------------------------------------------------------------------------------------------ */
/* Command queue                                                                               */
/* ------------------------------------------------------------------------------------------ */

static uint32_t q_mask(const struct vg_smmu_q *q)
{
	return (2u << q->bits) - 1;
}

static bool q_full(const struct vg_smmu_q *q)
{
	return ((q->prod ^ q->cons) & q_mask(q)) == (1u << q->bits);
}

static uint64_t q_slot(const struct vg_smmu_q *q, uint32_t ptr, unsigned int words)
{
	return q->base + (uint64_t)(ptr & ((1u << q->bits) - 1)) * 8 * words;
}

static void cons_refresh(struct vg_smmu *d)
{
	d->cmdq.cons = readl(d, VIOMMU_SMMUV3_CMDQ_CONS) & q_mask(&d->cmdq);
}

int vg_smmu_cmd(struct vg_smmu *d, const uint64_t cmd[2])
{
	struct vg_smmu_q *q = &d->cmdq;
	uint64_t at;

	if (q_full(q)) {
		/* Publish what is queued and see how far the SMMU got. */
		writel(d, VIOMMU_SMMUV3_CMDQ_PROD, q->prod);
		cons_refresh(d);
		if (q_full(q))
			return VIOMMU_EBUSY;
	}
	at = q_slot(q, q->prod, CMD_WORDS);
	store64(d, at, cmd[0]);
	store64(d, at + 8, cmd[1]);
	q->prod = (q->prod + 1) & q_mask(q);
	d->st.commands++;
	return 0;
}

/* Has the SMMU consumed everything up to our PROD? */
static bool cmdq_drained(struct vg_smmu *d)
{
	cons_refresh(d);
	return d->cmdq.cons == d->cmdq.prod;
}

int vg_smmu_sync(struct vg_smmu *d)
{
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_SYNC), 0 };
	bool msi = d->cfg.msi_poll && (d->idr[0] & VIOMMU_SMMUV3_IDR0_MSI);
	uint64_t slot = q_slot(&d->cmdq, d->cmdq.prod, CMD_WORDS);
	int ret;

	if (msi) {
		/* MSI polling: the completion write of 0 lands on the command's first word. */
		c[0] |= VIOMMU_SMMUV3_CMD_0_SYNC_CS_SET(VIOMMU_SMMUV3_SYNC_CS_IRQ) |
			VIOMMU_SMMUV3_CMD_0_SYNC_MSIDATA_SET(0);
		c[1] = slot & VIOMMU_SMMUV3_CMD_1_SYNC_MSIADDR_MASK;
	}
	ret = vg_smmu_cmd(d, c);
	if (ret)
		return ret;
	if (msi)
		slot = q_slot(&d->cmdq, (d->cmdq.prod - 1) & q_mask(&d->cmdq), CMD_WORDS);
	d->st.syncs++;
	writel(d, VIOMMU_SMMUV3_CMDQ_PROD, d->cmdq.prod);
	for (int i = 0; i < POLL_LIMIT; i++) {
		bool done = msi ? (uint32_t)load64(d, slot) == 0 : cmdq_drained(d);

		if (done)
			return ret; /* VIOMMU_EIO when a bad command was skipped on the way */
		if (readl(d, VIOMMU_SMMUV3_GERROR) ^ readl(d, VIOMMU_SMMUV3_GERRORN)) {
			/* The queue stopped: skip the bad command and let it run the rest. */
			vg_smmu_handle_gerror(d);
			ret = VIOMMU_EIO;
		}
	}
	return ret ? ret : VIOMMU_EIO;
}

static int cmd_cfgi_ste(struct vg_smmu *d, uint32_t sid)
{
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_CFGI_STE) |
				  VIOMMU_SMMUV3_CMD_0_SID_SET(sid),
			  VIOMMU_SMMUV3_CMD_1_LEAF };

	d->st.cfgis++;
	return vg_smmu_cmd(d, c);
}

static int cmd_cfgi_cd_all(struct vg_smmu *d, uint32_t sid)
{
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_CFGI_CD_ALL) |
				  VIOMMU_SMMUV3_CMD_0_SID_SET(sid),
			  0 };

	d->st.cfgis++;
	return vg_smmu_cmd(d, c);
}

/* ATC_INV of [iova, iova + size) as arm_smmu_atc_inv_to_cmd(): the smallest aligned span. */
static int cmd_atc_inv(struct vg_smmu *d, uint32_t sid, uint64_t iova, uint64_t size)
{
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_ATC_INV) |
				  VIOMMU_SMMUV3_CMD_0_SID_SET(sid),
			  0 };
	uint32_t span = 52;

	if (size) {
		uint64_t first = iova >> 12, last = (iova + size - 1) >> 12;

		span = 0;
		while (span < 52 && (first >> span) != (last >> span))
			span++;
		c[1] = ((first >> span) << span << 12) & VIOMMU_SMMUV3_CMD_1_ADDR_MASK;
	}
	c[1] |= VIOMMU_SMMUV3_CMD_1_ATC_SIZE_SET(span);
	d->st.atc_invs++;
	return vg_smmu_cmd(d, c);
}

/* ------------------------------------------------------------------------------------------ */
/* Domains                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static uint32_t oas_bits(const struct vg_smmu *d)
{
	static const uint8_t bits[] = { 32, 36, 40, 42, 44, 48, 52, 52 };
	uint32_t b = bits[VIOMMU_SMMUV3_IDR5_OAS_GET(d->idr[5]) & 7];

	return b > 48 ? 48 : b;
}

static uint32_t tg_code(uint32_t granule)
{
	return granule == 16 ? VIOMMU_SMMUV3_TG0_64K :
	       granule == 14 ? VIOMMU_SMMUV3_TG0_16K :
			       VIOMMU_SMMUV3_TG0_4K;
}

static struct vg_smmu_dom *dom_get(struct vg_smmu *d, bool stage2, uint16_t id)
{
	struct vg_smmu_dom **slot = stage2 ? &d->s2[id] : &d->s1[id];
	struct viommu_pt_cfg pc = { 0 };
	struct vg_smmu_dom *m;

	if (*slot)
		return *slot;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pc.format = stage2 ? VIOMMU_PT_ARM_S2 : VIOMMU_PT_ARM_S1;
	pc.granule = (uint8_t)d->cfg.granule;
	pc.oas = (uint8_t)oas_bits(d);
	/* A 48-bit input space (T0SZ 16), stage 2 starting at SL0 = 2 for every granule. */
	pc.tsz[0] = 16;
	pc.sl0 = 2;
	if (viommu_pt_create(&pc, viommu_flatmem_ops(), d->cfg.mem, &vg_pool_pt_ops, &d->pool,
			     &m->pt)) {
		free(m);
		return NULL;
	}
	*slot = m;
	return m;
}

int vg_smmu_domain_root(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t *root)
{
	struct vg_smmu_dom *m = dom_get(d, stage2, dom);

	if (!m)
		return VIOMMU_ENOMEM;
	*root = viommu_pt_get_cfg(m->pt)->root;
	return 0;
}

uint64_t vg_smmu_pgsizes(const struct vg_smmu *d)
{
	uint32_t g = d->cfg.granule, bpl = g - 3;

	/* Pages, and blocks at the next level up (and the one above for 4K). */
	return (1ull << g) | (1ull << (g + bpl)) | (g == 12 ? 1ull << (g + 2 * bpl) : 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Stream table, STEs and CDs                                                                  */
/* ------------------------------------------------------------------------------------------ */

static uint64_t abort_ste0(void)
{
	return VIOMMU_SMMUV3_STE_0_V |
	       VIOMMU_SMMUV3_STE_0_CONFIG_SET(VIOMMU_SMMUV3_STE_CONFIG_ABORT);
}

uint64_t vg_smmu_ste_addr(const struct vg_smmu *d, uint32_t sid)
{
	if (sid >> d->sid_bits)
		return 0;
	if (!d->st2l)
		return d->strtab + (uint64_t)sid * STE_SIZE;
	if (!d->l2[sid >> STRTAB_SPLIT])
		return 0;
	return d->l2[sid >> STRTAB_SPLIT] + (uint64_t)(sid & ((1u << STRTAB_SPLIT) - 1)) * STE_SIZE;
}

/* The level-2 table of @sid (arm_smmu_init_l2_strtab()): every STE abort, then the L1STD. */
static int l2_ensure(struct vg_smmu *d, uint32_t sid)
{
	uint32_t i = sid >> STRTAB_SPLIT;
	uint64_t l2;
	int ret;

	if (!d->st2l || d->l2[i])
		return 0;
	ret = alloc_aligned(d, (1ull << STRTAB_SPLIT) * STE_SIZE, &l2);
	if (ret)
		return ret;
	for (uint32_t k = 0; k < (1u << STRTAB_SPLIT); k++)
		store64(d, l2 + (uint64_t)k * STE_SIZE, abort_ste0());
	d->l2[i] = l2;
	store64(d, d->strtab + (uint64_t)i * 8,
		VIOMMU_SMMUV3_L1STD_SPAN_SET(STRTAB_SPLIT + 1) |
			(l2 & VIOMMU_SMMUV3_L1STD_L2PTR_MASK));
	return 0;
}

static struct vg_smmu_stream *stream_get(struct vg_smmu *d, uint32_t sid)
{
	for (size_t i = 0; i < d->nstreams; i++) {
		if (d->streams[i].sid == sid)
			return &d->streams[i];
	}
	if (d->nstreams == d->cap_streams) {
		size_t c = d->cap_streams ? 2 * d->cap_streams : 16;
		struct vg_smmu_stream *p = realloc(d->streams, c * sizeof(*p));

		if (!p)
			return NULL;
		d->streams = p;
		d->cap_streams = c;
	}
	memset(&d->streams[d->nstreams], 0, sizeof(d->streams[0]));
	d->streams[d->nstreams].sid = sid;
	return &d->streams[d->nstreams++];
}

uint64_t vg_smmu_cd_addr(const struct vg_smmu *d, uint32_t sid, uint32_t ssid)
{
	for (size_t i = 0; i < d->nstreams; i++) {
		const struct vg_smmu_stream *t = &d->streams[i];
		uint64_t l1;

		if (t->sid != sid || !t->cdtab)
			continue;
		if (!t->cd2l)
			return t->cdtab + (uint64_t)ssid * CD_SIZE;
		l1 = load64((struct vg_smmu *)d, t->cdtab + (uint64_t)(ssid >> CD_SPLIT) * 8);
		if (!(l1 & VIOMMU_SMMUV3_L1CD_V))
			return 0;
		return (l1 & VIOMMU_SMMUV3_L1CD_L2PTR_MASK) +
		       (uint64_t)(ssid & ((1u << CD_SPLIT) - 1)) * CD_SIZE;
	}
	return 0;
}

/* The CD table of @t (arm_smmu_alloc_cd_tables()): linear, or 2-level for many SubstreamIDs. */
static int cdtab_ensure(struct vg_smmu *d, struct vg_smmu_stream *t)
{
	uint32_t bits = d->cfg.cd_bits;

	if (t->cdtab)
		return 0;
	t->cd2l = bits > CD_SPLIT && (d->idr[0] & VIOMMU_SMMUV3_IDR0_CD2L);
	if (t->cd2l)
		return alloc_aligned(d, (1ull << (bits - CD_SPLIT)) * 8, &t->cdtab);
	return alloc_aligned(d, (1ull << bits) * CD_SIZE, &t->cdtab);
}

/* Write CD @ssid of @t for stage 1 domain @s1 (arm_smmu_write_ctx_desc()). */
static int write_cd(struct vg_smmu *d, struct vg_smmu_stream *t, uint32_t ssid, uint16_t s1)
{
	struct vg_smmu_dom *m = dom_get(d, false, s1);
	uint64_t at, w0;
	int ret;

	if (!m)
		return VIOMMU_ENOMEM;
	ret = cdtab_ensure(d, t);
	if (ret)
		return ret;
	if (t->cd2l) {
		uint64_t l1a = t->cdtab + (uint64_t)(ssid >> CD_SPLIT) * 8, l2;

		if (!(load64(d, l1a) & VIOMMU_SMMUV3_L1CD_V)) {
			ret = alloc_aligned(d, (1ull << CD_SPLIT) * CD_SIZE, &l2);
			if (ret)
				return ret;
			store64(d, l1a,
				VIOMMU_SMMUV3_L1CD_V | (l2 & VIOMMU_SMMUV3_L1CD_L2PTR_MASK));
		}
	}
	at = vg_smmu_cd_addr(d, t->sid, ssid);
	w0 = VIOMMU_SMMUV3_CD_0_T0SZ_SET(16) | VIOMMU_SMMUV3_CD_0_TG0_SET(tg_code(d->cfg.granule)) |
	     VIOMMU_SMMUV3_CD_0_IR0_SET(1) | VIOMMU_SMMUV3_CD_0_OR0_SET(1) |
	     VIOMMU_SMMUV3_CD_0_SH0_SET(3) | VIOMMU_SMMUV3_CD_0_EPD1 | VIOMMU_SMMUV3_CD_0_V |
	     VIOMMU_SMMUV3_CD_0_IPS_SET(VIOMMU_SMMUV3_IDR5_OAS_GET(d->idr[5])) |
	     VIOMMU_SMMUV3_CD_0_AA64 | VIOMMU_SMMUV3_CD_0_R | VIOMMU_SMMUV3_CD_0_A |
	     VIOMMU_SMMUV3_CD_0_ASET | VIOMMU_SMMUV3_CD_0_ASID_SET(s1);
	if (VIOMMU_SMMUV3_IDR0_HTTU_GET(d->idr[0]))
		w0 |= VIOMMU_SMMUV3_CD_0_HA;
	/* Words 1-3 first, word 0 (V) last: the SMMU may read the CD at any time. */
	store64(d, at + 8, viommu_pt_get_cfg(m->pt)->root & VIOMMU_SMMUV3_CD_1_TTB0_MASK);
	store64(d, at + 16, 0);
	store64(d, at + 24, 0x0404ff44ull); /* MAIR: device, normal WB, normal NC */
	store64(d, at, w0);
	return 0;
}

static int write_ste(struct vg_smmu *d, struct vg_smmu_stream *t)
{
	uint64_t at, w[4] = { 0 };
	int ret;

	ret = l2_ensure(d, t->sid);
	if (ret)
		return ret;
	at = vg_smmu_ste_addr(d, t->sid);
	if (!at)
		return VIOMMU_EINVAL;
	w[0] = VIOMMU_SMMUV3_STE_0_V;
	w[1] = VIOMMU_SMMUV3_STE_1_SHCFG_SET(1); /* incoming shareability */
	switch (t->kind) {
	case VG_SMMU_STE_ABORT:
		w[0] |= VIOMMU_SMMUV3_STE_0_CONFIG_SET(VIOMMU_SMMUV3_STE_CONFIG_ABORT);
		break;
	case VG_SMMU_STE_BYPASS:
		w[0] |= VIOMMU_SMMUV3_STE_0_CONFIG_SET(VIOMMU_SMMUV3_STE_CONFIG_BYPASS);
		break;
	default:
		w[0] |= VIOMMU_SMMUV3_STE_0_CONFIG_SET(
			t->kind == VG_SMMU_STE_S1 ? VIOMMU_SMMUV3_STE_CONFIG_S1 :
			t->kind == VG_SMMU_STE_S2 ? VIOMMU_SMMUV3_STE_CONFIG_S2 :
						    VIOMMU_SMMUV3_STE_CONFIG_NESTED);
		if (t->ats)
			w[1] |= VIOMMU_SMMUV3_STE_1_EATS_SET(VIOMMU_SMMUV3_STE_EATS_TRANS);
		break;
	}
	if (t->kind == VG_SMMU_STE_S1 || t->kind == VG_SMMU_STE_NESTED) {
		w[0] |= (t->cdtab & VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK) |
			VIOMMU_SMMUV3_STE_0_S1CDMAX_SET(d->cfg.cd_bits) |
			VIOMMU_SMMUV3_STE_0_S1FMT_SET(t->cd2l ? VIOMMU_SMMUV3_STE_S1FMT_1024 :
								VIOMMU_SMMUV3_STE_S1FMT_LINEAR);
		w[1] |= VIOMMU_SMMUV3_STE_1_S1DSS_SET(VIOMMU_SMMUV3_STE_S1DSS_SSID0) |
			VIOMMU_SMMUV3_STE_1_S1CIR_SET(1) | VIOMMU_SMMUV3_STE_1_S1COR_SET(1) |
			VIOMMU_SMMUV3_STE_1_S1CSH_SET(3);
	}
	if (t->kind == VG_SMMU_STE_S2 || t->kind == VG_SMMU_STE_NESTED) {
		struct vg_smmu_dom *m = dom_get(d, true, t->s2);

		if (!m)
			return VIOMMU_ENOMEM;
		w[2] = VIOMMU_SMMUV3_STE_2_S2VMID_SET(t->s2) | VIOMMU_SMMUV3_STE_2_S2T0SZ_SET(16) |
		       VIOMMU_SMMUV3_STE_2_S2SL0_SET(2) | VIOMMU_SMMUV3_STE_2_S2IR0_SET(1) |
		       VIOMMU_SMMUV3_STE_2_S2OR0_SET(1) | VIOMMU_SMMUV3_STE_2_S2SH0_SET(3) |
		       VIOMMU_SMMUV3_STE_2_S2TG_SET(tg_code(d->cfg.granule)) |
		       VIOMMU_SMMUV3_STE_2_S2PS_SET(VIOMMU_SMMUV3_IDR5_OAS_GET(d->idr[5])) |
		       VIOMMU_SMMUV3_STE_2_S2AA64 | VIOMMU_SMMUV3_STE_2_S2PTW |
		       VIOMMU_SMMUV3_STE_2_S2R;
		if (VIOMMU_SMMUV3_IDR0_HTTU_GET(d->idr[0]))
			w[2] |= VIOMMU_SMMUV3_STE_2_S2HA;
		w[3] = viommu_pt_get_cfg(m->pt)->root & VIOMMU_SMMUV3_STE_3_S2TTB_MASK;
	}
	/* Words 1-7 first, word 0 last, then make the SMMU forget its copy. */
	for (int i = 1; i < 8; i++)
		store64(d, at + 8 * (uint64_t)i, i < 4 ? w[i] : 0);
	store64(d, at, w[0]);
	ret = cmd_cfgi_ste(d, t->sid);
	if (!ret && (t->kind == VG_SMMU_STE_S1 || t->kind == VG_SMMU_STE_NESTED))
		ret = cmd_cfgi_cd_all(d, t->sid);
	return ret ? ret : vg_smmu_sync(d);
}

int vg_smmu_attach(struct vg_smmu *d, uint32_t sid, enum vg_smmu_ste kind, uint16_t s1, uint16_t s2,
		   bool ats)
{
	struct vg_smmu_stream *t;
	int ret;

	if (sid >> d->sid_bits)
		return VIOMMU_EINVAL;
	t = stream_get(d, sid);
	if (!t)
		return VIOMMU_ENOMEM;
	t->kind = (uint8_t)kind;
	t->s1 = s1;
	t->s2 = s2;
	t->ats = ats && (d->idr[0] & VIOMMU_SMMUV3_IDR0_ATS);
	if (kind == VG_SMMU_STE_S1 || kind == VG_SMMU_STE_NESTED) {
		struct vg_smmu_dom *m = dom_get(d, false, s1);

		if (!m)
			return VIOMMU_ENOMEM;
		m->vmid = kind == VG_SMMU_STE_NESTED ? s2 : 0;
		ret = write_cd(d, t, 0, s1);
		if (ret)
			return ret;
	}
	return write_ste(d, t);
}

int vg_smmu_attach_pasid(struct vg_smmu *d, uint32_t sid, uint32_t ssid, uint16_t s1)
{
	struct vg_smmu_stream *t = stream_get(d, sid);
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_CFGI_CD) |
				  VIOMMU_SMMUV3_CMD_0_SID_SET(sid) |
				  VIOMMU_SMMUV3_CMD_0_SSID_SET(ssid),
			  VIOMMU_SMMUV3_CMD_1_LEAF };
	int ret;

	if (!t || !t->cdtab || ssid == 0 || (ssid >> d->cfg.cd_bits))
		return VIOMMU_EINVAL;
	ret = write_cd(d, t, ssid, s1);
	if (!ret)
		ret = vg_smmu_cmd(d, c);
	d->st.cfgis++;
	return ret ? ret : vg_smmu_sync(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Invalidation                                                                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * TLBI by address over [iova, iova + size) as __arm_smmu_tlb_inv_range(): with RIL, chunks of
 * NUM + 1 (at most 32) times 2^SCALE granules; without, one command per granule.
 */
static int tlbi_range(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size)
{
	struct vg_smmu_dom *m = stage2 ? d->s2[dom] : d->s1[dom];
	uint32_t g = d->cfg.granule;
	bool ril = (d->idr[3] & VIOMMU_SMMUV3_IDR3_RIL) && !d->cfg.no_ril;
	uint64_t c0, end = iova + size, pages = size >> g;
	int ret = 0;

	if (stage2)
		c0 = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_S2_IPA) |
		     VIOMMU_SMMUV3_CMD_0_VMID_SET(dom);
	else
		c0 = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_VA) |
		     VIOMMU_SMMUV3_CMD_0_VMID_SET(m ? m->vmid : 0) |
		     VIOMMU_SMMUV3_CMD_0_ASID_SET(dom);
	while (!ret && iova < end) {
		uint64_t c[2] = { c0, (iova & VIOMMU_SMMUV3_CMD_1_ADDR_MASK) };
		uint64_t step = 1ull << g;

		if (ril && pages) {
			uint32_t scale = (uint32_t)__builtin_ctzll(pages);
			uint64_t num = (pages >> scale) & 31;

			if (num == 0) {
				/* More than 31 << scale: take the largest chunk the fields hold. */
				num = 31;
			}
			c[0] |= VIOMMU_SMMUV3_CMD_0_NUM_SET(num - 1) |
				VIOMMU_SMMUV3_CMD_0_SCALE_SET(scale);
			c[1] |= VIOMMU_SMMUV3_CMD_1_TG_SET((g - 10) / 2);
			step = num << (scale + g);
			pages -= num << scale;
		}
		ret = vg_smmu_cmd(d, c);
		d->st.tlbis++;
		iova += step;
	}
	return ret;
}

/* ATC_INV for every ATS stream of the domain. */
static int atc_range(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < d->nstreams; i++) {
		const struct vg_smmu_stream *t = &d->streams[i];
		bool in = stage2 ? (t->kind == VG_SMMU_STE_S2 && t->s2 == dom) :
				   ((t->kind == VG_SMMU_STE_S1 || t->kind == VG_SMMU_STE_NESTED) &&
				    t->s1 == dom);

		if (t->ats && in)
			ret = cmd_atc_inv(d, t->sid, iova, size);
	}
	return ret;
}

int vg_smmu_inv_range(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size)
{
	int ret = tlbi_range(d, stage2, dom, iova, size);

	if (!ret)
		ret = atc_range(d, stage2, dom, iova, size);
	return ret ? ret : vg_smmu_sync(d);
}

/* Everything of a domain: TLBI_NH_ASID (stage 1) or TLBI_S12_VMALL (stage 2). */
static int tlbi_all(struct vg_smmu *d, bool stage2, uint16_t dom)
{
	struct vg_smmu_dom *m = stage2 ? d->s2[dom] : d->s1[dom];
	uint64_t c[2] = { 0, 0 };

	if (stage2)
		c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_S12_VMALL) |
		       VIOMMU_SMMUV3_CMD_0_VMID_SET(dom);
	else
		c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_ASID) |
		       VIOMMU_SMMUV3_CMD_0_VMID_SET(m ? m->vmid : 0) |
		       VIOMMU_SMMUV3_CMD_0_ASID_SET(dom);
	d->st.tlbis++;
	return vg_smmu_cmd(d, c);
}

/* ------------------------------------------------------------------------------------------ */
/* Map and unmap                                                                               */
/* ------------------------------------------------------------------------------------------ */

int vg_smmu_map_nosync(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t gpa,
		       uint64_t size, uint32_t perm)
{
	struct vg_smmu_dom *m = dom_get(d, stage2, dom);
	int ret;

	if (!m)
		return VIOMMU_ENOMEM;
	if (d->cfg.cm && d->nsync == d->cap_sync) {
		size_t c = d->cap_sync ? 2 * d->cap_sync : 64;
		struct vg_smmu_range *p = realloc(d->sync, c * sizeof(*p));

		if (!p)
			return VIOMMU_ENOMEM;
		d->sync = p;
		d->cap_sync = c;
	}
	ret = viommu_pt_map(m->pt, iova, gpa, size, perm, 0);
	if (ret)
		return ret;
	d->st.maps++;
	/* arm-smmu-v3 never invalidates after a map; the quirk-aware variant does. */
	if (d->cfg.cm)
		d->sync[d->nsync++] = (struct vg_smmu_range){ iova, size, dom, stage2 };
	return 0;
}

int vg_smmu_sync_map(struct vg_smmu *d)
{
	int ret = 0;

	if (!d->nsync)
		return 0;
	for (size_t i = 0; !ret && i < d->nsync; i++)
		ret = tlbi_range(d, d->sync[i].stage2, d->sync[i].dom, d->sync[i].iova,
				 d->sync[i].size);
	d->nsync = 0;
	return ret ? ret : vg_smmu_sync(d);
}

int vg_smmu_map(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t gpa,
		uint64_t size, uint32_t perm)
{
	int ret = vg_smmu_map_nosync(d, stage2, dom, iova, gpa, size, perm);

	return ret ? ret : vg_smmu_sync_map(d);
}

int vg_smmu_map_pool(struct vg_smmu *d, uint16_t dom)
{
	uint64_t a = d->cfg.pool_base & ~(PAGE - 1);
	uint64_t end = (d->cfg.pool_base + d->cfg.pool_size + PAGE - 1) & ~(PAGE - 1);
	uint64_t gm = (1ull << d->cfg.granule) - 1;

	a &= ~gm;
	end = (end + gm) & ~gm;
	return vg_smmu_map(d, true, dom, a, a, end - a, VIOMMU_ACC_RW);
}

static int do_unmap(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size,
		    bool lazy)
{
	struct vg_smmu_dom *m = stage2 ? d->s2[dom] : d->s1[dom];
	uint64_t done = 0;
	int ret;

	if (!m)
		return VIOMMU_ENOENT;
	ret = viommu_pt_unmap(m->pt, iova, size, &done);
	if (ret)
		return ret;
	d->st.unmaps++;
	if (!lazy)
		return vg_smmu_inv_range(d, stage2, dom, iova, size);
	if (!m->pending) {
		m->pending = true;
		if (d->npend < PEND_MAX)
			d->pend[d->npend] = (uint32_t)stage2 << 16 | dom;
		if (d->npend <= PEND_MAX)
			d->npend++;
	}
	return 0;
}

int vg_smmu_unmap_nosync(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size)
{
	return do_unmap(d, stage2, dom, iova, size, true);
}

int vg_smmu_unmap(struct vg_smmu *d, bool stage2, uint16_t dom, uint64_t iova, uint64_t size)
{
	return do_unmap(d, stage2, dom, iova, size, false);
}

static int flush_dom(struct vg_smmu *d, bool st2, uint16_t i, bool *any)
{
	struct vg_smmu_dom *m = st2 ? d->s2[i] : d->s1[i];
	int ret;

	if (!m || !m->pending)
		return 0;
	m->pending = false;
	*any = true;
	ret = tlbi_all(d, st2, i);
	return ret ? ret : atc_range(d, st2, i, 0, 0);
}

int vg_smmu_flush(struct vg_smmu *d)
{
	bool any = false;
	int ret = 0;

	if (d->npend <= PEND_MAX) {
		for (uint32_t k = 0; !ret && k < d->npend; k++)
			ret = flush_dom(d, d->pend[k] >> 16, (uint16_t)d->pend[k], &any);
	} else {
		for (uint32_t i = 0; !ret && i < 2 * NDOM; i++)
			ret = flush_dom(d, i >= NDOM, (uint16_t)i, &any);
	}
	d->npend = 0;
	return ret || !any ? ret : vg_smmu_sync(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Output queues and errors                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int drain(struct vg_smmu *d, struct vg_smmu_q *q, uint64_t prod_reg, uint64_t cons_reg,
		 unsigned int words, vg_smmu_record_fn fn, void *opaque, uint64_t *count)
{
	const uint32_t ovf = (uint32_t)VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG;
	uint32_t prod = readl(d, prod_reg), cons = readl(d, cons_reg);
	int n = 0;

	if (!q->base)
		return 0;
	for (uint32_t i = 0; i < (1u << q->bits); i++) {
		uint64_t rec[4];

		if (((prod ^ cons) & q_mask(q)) == 0)
			break;
		for (unsigned int w = 0; w < words; w++)
			rec[w] = load64(d, q_slot(q, cons, words) + 8 * w);
		if (fn)
			fn(opaque, rec);
		n++;
		(*count)++;
		cons = (cons & ~q_mask(q)) | ((cons + 1) & q_mask(q));
	}
	/* Acknowledge an overflow: OVACKFLG follows OVFLG (arm_smmu_evtq_thread()). */
	if ((prod ^ cons) & ovf)
		d->st.overflows++;
	cons = (cons & q_mask(q)) | (prod & ovf);
	writel(d, cons_reg, cons);
	return n;
}

int vg_smmu_handle_evtq(struct vg_smmu *d, vg_smmu_record_fn fn, void *opaque)
{
	return drain(d, &d->evtq, VIOMMU_SMMUV3_EVENTQ_PROD, VIOMMU_SMMUV3_EVENTQ_CONS, EVT_WORDS,
		     fn, opaque, &d->st.events);
}

int vg_smmu_handle_priq(struct vg_smmu *d, vg_smmu_record_fn fn, void *opaque)
{
	return drain(d, &d->priq, VIOMMU_SMMUV3_PRIQ_PROD, VIOMMU_SMMUV3_PRIQ_CONS, PRI_WORDS, fn,
		     opaque, &d->st.pri_records);
}

uint32_t vg_smmu_handle_gerror(struct vg_smmu *d)
{
	uint32_t gerror = readl(d, VIOMMU_SMMUV3_GERROR);
	uint32_t active = gerror ^ readl(d, VIOMMU_SMMUV3_GERRORN);

	if (!active)
		return 0;
	if (active & VIOMMU_SMMUV3_GERROR_CMDQ_ERR) {
		/*
		 * arm_smmu_cmdq_skip_err(): an illegal command is replaced by a CMD_SYNC so that
		 * the queue goes on when the error is acknowledged; an abort is retried.
		 */
		uint32_t cons = readl(d, VIOMMU_SMMUV3_CMDQ_CONS);
		uint32_t err = (uint32_t)VIOMMU_SMMUV3_CMDQ_CONS_ERR_GET(cons);

		d->st.cmd_errors++;
		if (err == VIOMMU_SMMUV3_CERROR_ILL) {
			uint64_t at = q_slot(&d->cmdq, cons, CMD_WORDS);

			store64(d, at, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_SYNC));
			store64(d, at + 8, 0);
		}
	}
	writel(d, VIOMMU_SMMUV3_GERRORN, gerror);
	return active;
}

int vg_smmu_pri_resp(struct vg_smmu *d, uint32_t sid, uint32_t ssid, bool ssv, uint32_t prgidx,
		     uint32_t resp)
{
	uint64_t c[2] = { VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_PRI_RESP) |
				  VIOMMU_SMMUV3_CMD_0_SID_SET(sid),
			  VIOMMU_SMMUV3_CMD_1_PRI_PRGIDX_SET(prgidx) |
				  VIOMMU_SMMUV3_CMD_1_PRI_RESP_SET(resp) };
	int ret;

	if (ssv)
		c[0] |= VIOMMU_SMMUV3_CMD_0_SSV | VIOMMU_SMMUV3_CMD_0_SSID_SET(ssid);
	ret = vg_smmu_cmd(d, c);
	return ret ? ret : vg_smmu_sync(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Bring-up                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static uint32_t cap(uint32_t want, uint32_t def, uint32_t max)
{
	uint32_t v = want ? want : def;

	return v > max ? max : v;
}

int vg_smmu_create(const struct vg_smmu_config *cfg, struct vg_smmu **out)
{
	struct vg_smmu *d;

	if (!cfg || !cfg->iommu || !cfg->mem || !out)
		return VIOMMU_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return VIOMMU_ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.granule)
		d->cfg.granule = 12;
	if (d->cfg.granule != 12 && d->cfg.granule != 14 && d->cfg.granule != 16) {
		free(d);
		return VIOMMU_EINVAL;
	}
	vg_pool_init(&d->pool, cfg->mem, cfg->pool_base, cfg->pool_size);
	for (int i = 0; i < 6; i++)
		d->idr[i] = readl(d, VIOMMU_SMMUV3_IDR0 + 4 * (uint64_t)i);
	d->sid_bits = cap(cfg->sid_bits, 16, (uint32_t)VIOMMU_SMMUV3_IDR1_SIDSIZE_GET(d->idr[1]));
	if (d->cfg.cd_bits > VIOMMU_SMMUV3_IDR1_SSIDSIZE_GET(d->idr[1]))
		d->cfg.cd_bits = (uint32_t)VIOMMU_SMMUV3_IDR1_SSIDSIZE_GET(d->idr[1]);
	d->st2l = !cfg->linear_strtab && VIOMMU_SMMUV3_IDR0_ST_LEVEL_GET(d->idr[0]) &&
		  d->sid_bits > STRTAB_SPLIT;
	d->cmdq.bits = cap(cfg->cmdq_bits, 8, (uint32_t)VIOMMU_SMMUV3_IDR1_CMDQS_GET(d->idr[1]));
	d->evtq.bits = cap(cfg->evtq_bits, 7, (uint32_t)VIOMMU_SMMUV3_IDR1_EVENTQS_GET(d->idr[1]));
	d->priq.bits = cap(cfg->priq_bits, 7, (uint32_t)VIOMMU_SMMUV3_IDR1_PRIQS_GET(d->idr[1]));
	if (d->st2l) {
		d->l2 = calloc(1u << (d->sid_bits - STRTAB_SPLIT), sizeof(*d->l2));
		if (!d->l2) {
			free(d);
			return VIOMMU_ENOMEM;
		}
	}
	*out = d;
	return 0;
}

void vg_smmu_destroy(struct vg_smmu *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < NDOM; i++) {
		for (int st2 = 0; st2 < 2; st2++) {
			struct vg_smmu_dom *m = st2 ? d->s2[i] : d->s1[i];

			if (m) {
				viommu_pt_destroy(m->pt);
				free(m);
			}
		}
	}
	free(d->l2);
	free(d->streams);
	free(d->sync);
	vg_pool_fini(&d->pool);
	free(d);
}

static int update_gbpa(struct vg_smmu *d, uint32_t set, uint32_t clr)
{
	uint32_t v = (readl(d, VIOMMU_SMMUV3_GBPA) & ~clr) | set;

	writel(d, VIOMMU_SMMUV3_GBPA, v | (uint32_t)VIOMMU_SMMUV3_GBPA_UPDATE);
	for (int i = 0; i < POLL_LIMIT; i++) {
		if (!(readl(d, VIOMMU_SMMUV3_GBPA) & VIOMMU_SMMUV3_GBPA_UPDATE))
			return 0;
	}
	return VIOMMU_EIO;
}

static int queue_alloc(struct vg_smmu *d, struct vg_smmu_q *q, unsigned int words)
{
	return alloc_aligned(d, (8ull * words) << q->bits, &q->base);
}

static void irq_setup(struct vg_smmu *d, int which, uint64_t cfg0)
{
	if (!(d->idr[0] & VIOMMU_SMMUV3_IDR0_MSI))
		return;
	writeq(d, cfg0, d->cfg.msi_addr[which] & VIOMMU_SMMUV3_IRQ_CFG0_ADDR_MASK);
	writel(d, cfg0 + 8, d->cfg.msi_data[which]);
	writel(d, cfg0 + 12, (uint32_t)VIOMMU_SMMUV3_IRQ_CFG2_MEMATTR_SET(1));
}

int vg_smmu_enable(struct vg_smmu *d)
{
	bool pri = (d->idr[0] & VIOMMU_SMMUV3_IDR0_PRI) != 0;
	uint32_t enables, irqen;
	uint64_t c[2] = { 0, 0 };
	int ret;

	/* Abort incoming transactions while the SMMU is off, then turn it off. */
	if (readl(d, VIOMMU_SMMUV3_CR0) & VIOMMU_SMMUV3_CR0_SMMUEN) {
		ret = update_gbpa(d, (uint32_t)VIOMMU_SMMUV3_GBPA_ABORT, 0);
		if (ret)
			return ret;
	}
	ret = write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, 0);
	if (ret)
		return ret;
	writel(d, VIOMMU_SMMUV3_CR1,
	       (uint32_t)(VIOMMU_SMMUV3_CR1_QUEUE_IC_SET(1) | VIOMMU_SMMUV3_CR1_QUEUE_OC_SET(1) |
			  VIOMMU_SMMUV3_CR1_QUEUE_SH_SET(3) | VIOMMU_SMMUV3_CR1_TABLE_IC_SET(1) |
			  VIOMMU_SMMUV3_CR1_TABLE_OC_SET(1) | VIOMMU_SMMUV3_CR1_TABLE_SH_SET(3)));
	writel(d, VIOMMU_SMMUV3_CR2,
	       (uint32_t)(VIOMMU_SMMUV3_CR2_PTM | VIOMMU_SMMUV3_CR2_RECINVSID));

	/* Stream table (arm_smmu_init_strtab()): every STE abort until a device is attached. */
	if (!d->strtab) {
		if (d->st2l) {
			ret = alloc_aligned(d, 8ull << (d->sid_bits - STRTAB_SPLIT), &d->strtab);
		} else {
			ret = alloc_aligned(d, (uint64_t)STE_SIZE << d->sid_bits, &d->strtab);
			for (uint64_t i = 0; !ret && i < (1ull << d->sid_bits); i++)
				store64(d, d->strtab + i * STE_SIZE, abort_ste0());
		}
		if (!ret)
			ret = queue_alloc(d, &d->cmdq, CMD_WORDS);
		if (!ret)
			ret = queue_alloc(d, &d->evtq, EVT_WORDS);
		if (!ret && pri)
			ret = queue_alloc(d, &d->priq, PRI_WORDS);
		if (ret)
			return ret;
	}
	writeq(d, VIOMMU_SMMUV3_STRTAB_BASE,
	       (d->strtab & VIOMMU_SMMUV3_STRTAB_BASE_ADDR_MASK) | VIOMMU_SMMUV3_STRTAB_BASE_RA);
	writel(d, VIOMMU_SMMUV3_STRTAB_BASE_CFG,
	       (uint32_t)(VIOMMU_SMMUV3_STRTAB_BASE_CFG_LOG2SIZE_SET(d->sid_bits) |
			  (d->st2l ? VIOMMU_SMMUV3_STRTAB_BASE_CFG_SPLIT_SET(STRTAB_SPLIT) |
					     VIOMMU_SMMUV3_STRTAB_BASE_CFG_FMT_SET(
						     VIOMMU_SMMUV3_STRTAB_FMT_2LVL) :
				     0)));

	/* Command queue, then invalidate every cached configuration and translation. */
	writeq(d, VIOMMU_SMMUV3_CMDQ_BASE,
	       VIOMMU_SMMUV3_Q_BASE_RWA | (d->cmdq.base & VIOMMU_SMMUV3_Q_BASE_ADDR_MASK) |
		       VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_SET(d->cmdq.bits));
	d->cmdq.prod = d->cmdq.cons = 0;
	writel(d, VIOMMU_SMMUV3_CMDQ_PROD, 0);
	writel(d, VIOMMU_SMMUV3_CMDQ_CONS, 0);
	enables = (uint32_t)VIOMMU_SMMUV3_CR0_CMDQEN;
	ret = write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, enables);
	if (ret)
		return ret;
	c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_CFGI_STE_RANGE);
	c[1] = VIOMMU_SMMUV3_CMD_1_RANGE_SET(VIOMMU_SMMUV3_CFGI_RANGE_ALL);
	ret = vg_smmu_cmd(d, c);
	d->st.cfgis++;
	if (!ret)
		ret = vg_smmu_sync(d);
	if (!ret && (d->idr[0] & VIOMMU_SMMUV3_IDR0_S1P)) {
		c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_ALL);
		c[1] = 0;
		ret = vg_smmu_cmd(d, c);
		d->st.tlbis++;
	}
	if (!ret) {
		c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL);
		c[1] = 0;
		ret = vg_smmu_cmd(d, c);
		d->st.tlbis++;
	}
	if (!ret)
		ret = vg_smmu_sync(d);
	if (ret)
		return ret;

	/* Event queue (and PRI queue): PROD and CONS in page 1. */
	writeq(d, VIOMMU_SMMUV3_EVENTQ_BASE,
	       VIOMMU_SMMUV3_Q_BASE_RWA | (d->evtq.base & VIOMMU_SMMUV3_Q_BASE_ADDR_MASK) |
		       VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_SET(d->evtq.bits));
	writel(d, VIOMMU_SMMUV3_EVENTQ_PROD, 0);
	writel(d, VIOMMU_SMMUV3_EVENTQ_CONS, 0);
	enables |= (uint32_t)VIOMMU_SMMUV3_CR0_EVENTQEN;
	ret = write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, enables);
	if (!ret && pri) {
		writeq(d, VIOMMU_SMMUV3_PRIQ_BASE,
		       VIOMMU_SMMUV3_Q_BASE_RWA | (d->priq.base & VIOMMU_SMMUV3_Q_BASE_ADDR_MASK) |
			       VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_SET(d->priq.bits));
		writel(d, VIOMMU_SMMUV3_PRIQ_PROD, 0);
		writel(d, VIOMMU_SMMUV3_PRIQ_CONS, 0);
		enables |= (uint32_t)VIOMMU_SMMUV3_CR0_PRIQEN;
		ret = write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, enables);
	}
	if (ret)
		return ret;

	/* Interrupts (arm_smmu_setup_irqs()): off, MSI targets, then on. */
	ret = write_sync(d, VIOMMU_SMMUV3_IRQ_CTRL, VIOMMU_SMMUV3_IRQ_CTRLACK, 0);
	if (ret)
		return ret;
	irq_setup(d, IRQ_EVTQ, VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0);
	irq_setup(d, IRQ_GERROR, VIOMMU_SMMUV3_GERROR_IRQ_CFG0);
	if (pri)
		irq_setup(d, IRQ_PRIQ, VIOMMU_SMMUV3_PRIQ_IRQ_CFG0);
	irqen = (uint32_t)(VIOMMU_SMMUV3_IRQ_CTRL_EVENTQ_IRQEN |
			   VIOMMU_SMMUV3_IRQ_CTRL_GERROR_IRQEN |
			   (pri ? VIOMMU_SMMUV3_IRQ_CTRL_PRIQ_IRQEN : 0));
	ret = write_sync(d, VIOMMU_SMMUV3_IRQ_CTRL, VIOMMU_SMMUV3_IRQ_CTRLACK, irqen);
	if (ret)
		return ret;
	if (d->idr[0] & VIOMMU_SMMUV3_IDR0_ATS)
		enables |= (uint32_t)VIOMMU_SMMUV3_CR0_ATSCHK;
	enables |= (uint32_t)VIOMMU_SMMUV3_CR0_SMMUEN;
	return write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, enables);
}

int vg_smmu_disable(struct vg_smmu *d)
{
	return write_sync(d, VIOMMU_SMMUV3_CR0, VIOMMU_SMMUV3_CR0ACK, 0);
}

uint64_t vg_smmu_cmdq_base(const struct vg_smmu *d)
{
	return d->cmdq.base;
}

uint64_t vg_smmu_evtq_base(const struct vg_smmu *d)
{
	return d->evtq.base;
}

void vg_smmu_get_stats(const struct vg_smmu *d, struct vg_smmu_stats *st)
{
	*st = d->st;
}
