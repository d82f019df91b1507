// SPDX-License-Identifier: MIT
/*
 * VT-d unit: creation, capabilities and the register file (chapter 11). Registers are decoded per
 * 32-bit half; a 64-bit access to a 64-bit register acts once with the whole value, a 64-bit
 * access to a pair of 32-bit registers acts as two 32-bit accesses, low half first. Byte and
 * word accesses and misaligned ones are not register accesses: they read zero and are ignored.
 */
#include <stdlib.h>

#include "vtd_internal.h"

void viommu_vtd_config_init(struct viommu_vtd_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->aw_bits = 48;
	cfg->flags = VIOMMU_VTD_SLLPS_2M | VIOMMU_VTD_SLLPS_1G | VIOMMU_VTD_QI | VIOMMU_VTD_PT |
		     VIOMMU_VTD_C;
	cfg->mamv = 18;
	cfg->nfr = 8;
}

static const struct viommu_model_ops vtd_ops;

int viommu_vtd_get_stats(const struct viommu *v, struct viommu_vtd_stats *st)
{
	const struct vtd *s;
	struct viommu_iotlb_stats ts;

	if (!v || !st || v->ops != &vtd_ops)
		return VIOMMU_EINVAL;
	s = vi_container_of(v, const struct vtd, v);
	*st = s->st;
	viommu_iotlb_get_stats(s->iotlb, &ts);
	st->iotlb_hits = ts.hits;
	st->iotlb_misses = ts.misses;
	return 0;
}

static uint32_t fsts_read(const struct vtd *s)
{
	uint32_t v = s->fsts;

	/* PPF is the OR of the F bits of every fault recording register (§11.4). */
	for (uint32_t i = 0; i < s->cfg.nfr; i++) {
		if (s->frcd[i][1] & VIOMMU_VTD_FRCD_HI_F) {
			v |= VIOMMU_VTD_FSTS_PPF;
			break;
		}
	}
	return v;
}

/* The value of the 32-bit half at @off (4-byte aligned). */
static uint32_t reg_read32(struct vtd *s, uint64_t off)
{
	uint64_t q;

	if (off >= DMAR_FRCD_REG &&
	    off < DMAR_FRCD_REG + (uint64_t)s->cfg.nfr * VIOMMU_VTD_FRCD_REG_LEN) {
		uint64_t i = (off - DMAR_FRCD_REG) / VIOMMU_VTD_FRCD_REG_LEN;
		uint64_t w = (off - DMAR_FRCD_REG) % VIOMMU_VTD_FRCD_REG_LEN / 4;

		q = s->frcd[i][w / 2];
		return (uint32_t)(w & 1 ? q >> 32 : q);
	}
	switch (off & ~7ull) {
	case VIOMMU_VTD_CAP_REG:
		q = s->cap;
		break;
	case VIOMMU_VTD_ECAP_REG:
		q = s->ecap;
		break;
	case VIOMMU_VTD_RTADDR_REG:
		q = s->rtaddr;
		break;
	case VIOMMU_VTD_CCMD_REG:
		q = s->ccmd;
		break;
	case VIOMMU_VTD_IQH_REG:
		q = s->iqh;
		break;
	case VIOMMU_VTD_IQT_REG:
		q = s->iqt;
		break;
	case VIOMMU_VTD_IQA_REG:
		q = s->iqa;
		break;
	case VIOMMU_VTD_IQERCD_REG:
		q = s->iqer;
		break;
	case VIOMMU_VTD_IRTA_REG:
		q = s->irta;
		break;
	case DMAR_IVA_REG:
		q = s->iva;
		break;
	case DMAR_IOTLB_REG:
		q = s->iotlb_reg;
		break;
	default:
		switch (off) {
		case VIOMMU_VTD_VER_REG:
			return VTD_VER_MAX_MIN;
		case VIOMMU_VTD_GCMD_REG:
			return 0; /* write-only */
		case VIOMMU_VTD_GSTS_REG:
			return s->gsts;
		case VIOMMU_VTD_FSTS_REG:
			return fsts_read(s);
		case VIOMMU_VTD_FECTL_REG:
			return s->fectl;
		case VIOMMU_VTD_FEDATA_REG:
			return s->fedata;
		case VIOMMU_VTD_FEADDR_REG:
			return s->feaddr;
		case VIOMMU_VTD_FEUADDR_REG:
			return s->feuaddr;
		case VIOMMU_VTD_PMEN_REG:
			return s->pmen;
		case VIOMMU_VTD_ICS_REG:
			return s->ics;
		case VIOMMU_VTD_IECTL_REG:
			return s->iectl;
		case VIOMMU_VTD_IEDATA_REG:
			return s->iedata;
		case VIOMMU_VTD_IEADDR_REG:
			return s->ieaddr;
		case VIOMMU_VTD_IEUADDR_REG:
			return s->ieuaddr;
		default:
			return 0;
		}
	}
	return (uint32_t)(off & 4 ? q >> 32 : q);
}

static void set_te(struct vtd *s, bool on)
{
	if (!!(s->gsts & VIOMMU_VTD_GSTS_TES) == on)
		return;
	if (on)
		s->gsts |= VIOMMU_VTD_GSTS_TES;
	else
		s->gsts &= ~VIOMMU_VTD_GSTS_TES;
	/* Every requester's view changed between identity and its tables. */
	vi_vtd_sync(s, VTD_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
}

static void set_qie(struct vtd *s, bool on)
{
	if (!(s->ecap & VIOMMU_VTD_ECAP_QI) || !!(s->gsts & VIOMMU_VTD_GSTS_QIES) == on)
		return;
	/* §6.5.2: enabling or disabling the queue resets its head. */
	s->iqh = 0;
	if (on) {
		s->gsts |= VIOMMU_VTD_GSTS_QIES;
		vi_vtd_qi_process(s); /* a tail written before enabling is honoured */
	} else {
		s->gsts &= ~VIOMMU_VTD_GSTS_QIES;
	}
}

/* §11.4 GCMD_REG: one command per write; one-shot bits act, persistent bits set the state. */
static void gcmd_write(struct vtd *s, uint32_t val)
{
	if (val & VIOMMU_VTD_GCMD_SRTP) {
		s->rta_active = s->rtaddr;
		s->gsts |= VIOMMU_VTD_GSTS_RTPS;
	}
	if (val & VIOMMU_VTD_GCMD_SIRTP)
		s->gsts |= VIOMMU_VTD_GSTS_IRTPS;
	/* WBF completes at once: WBFS is never seen set. SFL has no fault log (CAP.AFL = 0). */
	if (val & VIOMMU_VTD_GCMD_IRE)
		s->gsts |= VIOMMU_VTD_GSTS_IRES;
	else
		s->gsts &= ~VIOMMU_VTD_GSTS_IRES;
	if (val & VIOMMU_VTD_GCMD_CFI)
		s->gsts |= VIOMMU_VTD_GSTS_CFIS;
	else
		s->gsts &= ~VIOMMU_VTD_GSTS_CFIS;
	set_qie(s, !!(val & VIOMMU_VTD_GCMD_QIE));
	set_te(s, !!(val & VIOMMU_VTD_GCMD_TE));
}

static bool fault_conditions(const struct vtd *s)
{
	return (fsts_read(s) & (VIOMMU_VTD_FSTS_PFO | VIOMMU_VTD_FSTS_PPF | VIOMMU_VTD_FSTS_IQE |
				VIOMMU_VTD_FSTS_ICE | VIOMMU_VTD_FSTS_ITE)) != 0;
}

static void fsts_write(struct vtd *s, uint32_t val)
{
	bool iqe = (s->fsts & VIOMMU_VTD_FSTS_IQE) && (val & VIOMMU_VTD_FSTS_IQE);

	s->fsts &= ~(val & FSTS_RW1C);
	if (iqe)
		s->iqer &= ~VIOMMU_VTD_IQERCD_IQEI_MASK;
	/* §11.4 FECTL_REG: IP clears once software has serviced every interrupt condition. */
	if (!fault_conditions(s))
		s->fectl &= ~VIOMMU_VTD_FECTL_IP;
	/* Clearing IQE lets the queue go on from the descriptor that failed. */
	if (iqe)
		vi_vtd_qi_process(s);
}

static void frcd_write32(struct vtd *s, uint64_t off, uint32_t val)
{
	uint64_t i = (off - DMAR_FRCD_REG) / VIOMMU_VTD_FRCD_REG_LEN;
	uint64_t w = (off - DMAR_FRCD_REG) % VIOMMU_VTD_FRCD_REG_LEN / 4;

	/* Only F (bit 127, RW1C) is writable; clearing it frees the record. */
	if (w == 3 && (val & (uint32_t)(VIOMMU_VTD_FRCD_HI_F >> 32)) &&
	    (s->frcd[i][1] & VIOMMU_VTD_FRCD_HI_F)) {
		s->frcd[i][0] = 0;
		s->frcd[i][1] = 0;
		if (!fault_conditions(s))
			s->fectl &= ~VIOMMU_VTD_FECTL_IP;
	}
}

static void ectl_write(struct vtd *s, uint32_t *ctl, uint32_t val, bool fault)
{
	*ctl = (*ctl & ~VIOMMU_VTD_FECTL_IM) | (val & VIOMMU_VTD_FECTL_IM);
	/* §11.4 FECTL/IECTL_REG: an interrupt held pending by the mask goes out when it is unmasked. */
	if (!(*ctl & VIOMMU_VTD_FECTL_IM) && (*ctl & VIOMMU_VTD_FECTL_IP)) {
		if (fault)
			vi_vtd_deliver_fault_irq(s);
		else
			vi_vtd_deliver_inv_irq(s);
	}
}

static void iqt_write(struct vtd *s)
{
	if (s->gsts & VIOMMU_VTD_GSTS_QIES)
		vi_vtd_qi_process(s);
}

static uint64_t merge(uint64_t q, uint64_t off, unsigned int size, uint64_t val)
{
	if (size == 8)
		return val;
	if (off & 4)
		return (q & 0xffffffffull) | (val << 32);
	return (q & ~0xffffffffull) | (uint32_t)val;
}

/* Write to a 64-bit register; returns true when the half holding the command bits was written. */
/* A write the register file drops (read-only or unknown register, bad width): counted and logged
 * so an embedder's wrong offset shows. */
static void write_ignored(struct vtd *s, uint64_t off, unsigned int size)
{
	s->st.mmio_ignored++;
	vi_log(&s->v.host, VIOMMU_LOG_DEBUG, "vtd: write of %u bytes at 0x%llx ignored", size,
	       (unsigned long long)off);
}

static void reg_write64(struct vtd *s, uint64_t off, unsigned int size, uint64_t val)
{
	uint64_t base = off & ~7ull;
	bool hi = size == 8 || (off & 4);
	bool lo = size == 8 || !(off & 4);

	switch (base) {
	case VIOMMU_VTD_RTADDR_REG:
		/* TTM other than legacy needs ECAP.SMTS: reserved here, reads back zero. */
		s->rtaddr = merge(s->rtaddr, off, size, val) & VIOMMU_VTD_RTADDR_RTA_MASK;
		break;
	case VIOMMU_VTD_CCMD_REG:
		s->ccmd = merge(s->ccmd, off, size, val) & ~VIOMMU_VTD_CCMD_CAIG_MASK;
		if (hi && (s->ccmd & VIOMMU_VTD_CCMD_ICC))
			vi_vtd_ccmd_write(s);
		break;
	case DMAR_IVA_REG:
		s->iva = merge(s->iva, off, size, val) &
			 (VIOMMU_VTD_IVA_ADDR_MASK | VIOMMU_VTD_IVA_IH | VI_GENMASK(5, 0));
		break;
	case DMAR_IOTLB_REG:
		s->iotlb_reg = merge(s->iotlb_reg, off, size, val) & ~VIOMMU_VTD_IOTLB_IAIG_MASK;
		if (hi && (s->iotlb_reg & VIOMMU_VTD_IOTLB_IVT))
			vi_vtd_iotlb_reg_write(s);
		break;
	case VIOMMU_VTD_IQT_REG:
		s->iqt = merge(s->iqt, off, size, val) & VIOMMU_VTD_IQ_QX_MASK;
		if (lo)
			iqt_write(s);
		break;
	case VIOMMU_VTD_IQA_REG:
		/* §11.4: not to be changed while the queue is enabled; DW is RsvdZ here. */
		if (!(s->gsts & VIOMMU_VTD_GSTS_QIES))
			s->iqa = merge(s->iqa, off, size, val) &
				 (VIOMMU_VTD_IQA_IQA_MASK | VI_GENMASK(2, 0));
		break;
	case VIOMMU_VTD_IRTA_REG:
		s->irta = merge(s->irta, off, size, val) &
			  (VI_GENMASK(63, 12) | VI_BIT(11) | VI_GENMASK(3, 0));
		break;
	default:
		/* CAP, ECAP, IQH, IQER and the protected-memory pair are read-only here. */
		write_ignored(s, off, size);
		break;
	}
}

static bool is_reg64(uint64_t base)
{
	switch (base) {
	case VIOMMU_VTD_CAP_REG:
	case VIOMMU_VTD_ECAP_REG:
	case VIOMMU_VTD_RTADDR_REG:
	case VIOMMU_VTD_CCMD_REG:
	case VIOMMU_VTD_AFLOG_REG:
	case VIOMMU_VTD_PHMBASE_REG:
	case VIOMMU_VTD_PHMLIMIT_REG:
	case VIOMMU_VTD_IQH_REG:
	case VIOMMU_VTD_IQT_REG:
	case VIOMMU_VTD_IQA_REG:
	case VIOMMU_VTD_IQERCD_REG:
	case VIOMMU_VTD_IRTA_REG:
	case DMAR_IVA_REG:
	case DMAR_IOTLB_REG:
		return true;
	default:
		return false;
	}
}

static void reg_write32(struct vtd *s, uint64_t off, uint32_t val)
{
	if (off >= DMAR_FRCD_REG &&
	    off < DMAR_FRCD_REG + (uint64_t)s->cfg.nfr * VIOMMU_VTD_FRCD_REG_LEN) {
		frcd_write32(s, off, val);
		return;
	}
	switch (off) {
	case VIOMMU_VTD_GCMD_REG:
		gcmd_write(s, val);
		break;
	case VIOMMU_VTD_FSTS_REG:
		fsts_write(s, val);
		break;
	case VIOMMU_VTD_FECTL_REG:
		ectl_write(s, &s->fectl, val, true);
		break;
	case VIOMMU_VTD_FEDATA_REG:
		s->fedata = val & VIOMMU_VTD_EDATA_IMD_MASK;
		break;
	case VIOMMU_VTD_FEADDR_REG:
		s->feaddr = val & VIOMMU_VTD_EADDR_MA_MASK;
		break;
	case VIOMMU_VTD_FEUADDR_REG:
		s->feuaddr = val;
		break;
	case VIOMMU_VTD_PMEN_REG:
		/* No protected regions (CAP.PLMR = PHMR = 0): PRS follows EPM. */
		s->pmen = val & VIOMMU_VTD_PMEN_EPM ? VIOMMU_VTD_PMEN_EPM | VIOMMU_VTD_PMEN_PRS : 0;
		break;
	case VIOMMU_VTD_ICS_REG:
		if (val & VIOMMU_VTD_ICS_IWC) {
			s->ics &= ~VIOMMU_VTD_ICS_IWC;
			s->iectl &= ~VIOMMU_VTD_IECTL_IP;
		}
		break;
	case VIOMMU_VTD_IECTL_REG:
		ectl_write(s, &s->iectl, val, false);
		break;
	case VIOMMU_VTD_IEDATA_REG:
		s->iedata = val & VIOMMU_VTD_EDATA_IMD_MASK;
		break;
	case VIOMMU_VTD_IEADDR_REG:
		s->ieaddr = val & VIOMMU_VTD_EADDR_MA_MASK;
		break;
	case VIOMMU_VTD_IEUADDR_REG:
		s->ieuaddr = val;
		break;
	default:
		if (is_reg64(off & ~7ull))
			reg_write64(s, off, 4, val);
		else
			write_ignored(s, off, 4);
		break;
	}
}

static int vtd_mmio_read(struct viommu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	struct vtd *s = to_vtd(v);

	s->st.mmio_reads++;
	*val = 0;
	if (off >= VIOMMU_VTD_REG_SIZE || (size != 4 && size != 8) || (off & (size - 1)))
		return 0;
	*val = reg_read32(s, off);
	if (size == 8)
		*val |= (uint64_t)reg_read32(s, off + 4) << 32;
	return 0;
}

static int vtd_mmio_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct vtd *s = to_vtd(v);

	s->st.mmio_writes++;
	s->budget = VTD_SYNC_BUDGET;
	s->scanned = false;
	if (off >= VIOMMU_VTD_REG_SIZE || (size != 4 && size != 8) || (off & (size - 1))) {
		write_ignored(s, off, size);
		return 0;
	}
	if (size == 8 && is_reg64(off)) {
		reg_write64(s, off, 8, val);
		return 0;
	}
	reg_write32(s, off, (uint32_t)val);
	if (size == 8)
		reg_write32(s, off + 4, (uint32_t)(val >> 32));
	return 0;
}

static void vtd_mem_changed(struct viommu *v)
{
	viommu_pt_walker_invalidate(to_vtd(v)->walker);
}

static void vtd_destroy(struct viommu *v)
{
	struct vtd *s = to_vtd(v);

	vi_vtd_notify_fini(s);
	viommu_iotlb_destroy(s->iotlb);
	viommu_pt_walker_destroy(s->walker);
	free(s->ctx_cache);
	free(s->seen);
	vi_instance_fini(v);
	free(s);
}

static const struct viommu_model_ops vtd_ops = {
	.name = "vtd",
	.translate = vi_vtd_translate,
	.mmio_read = vtd_mmio_read,
	.mmio_write = vtd_mmio_write,
	.replay = vi_vtd_replay,
	.mem_changed = vtd_mem_changed,
	.destroy = vtd_destroy,
};

static int check_config(struct viommu_vtd_config *c)
{
	const uint32_t known = VIOMMU_VTD_CM | VIOMMU_VTD_SLLPS_2M | VIOMMU_VTD_SLLPS_1G |
			       VIOMMU_VTD_QI | VIOMMU_VTD_DT | VIOMMU_VTD_PT | VIOMMU_VTD_C;

	if (c->aw_bits == 0)
		c->aw_bits = 48;
	if (c->nfr == 0)
		c->nfr = 8;
	if (c->aw_bits != 39 && c->aw_bits != 48 && c->aw_bits != 57)
		return VIOMMU_EINVAL;
	if (c->nfr > VTD_NFR_MAX || c->mamv > 63 || (c->flags & ~known))
		return VIOMMU_EINVAL;
	return 0;
}

int viommu_vtd_create(const struct viommu_vtd_config *cfg, const struct viommu_host_ops *ops,
		      void *opaque, struct viommu **out)
{
	struct viommu_iotlb_config tc = { 0 };
	struct vtd *s;
	uint64_t sagaw;
	int ret;

	if (!cfg || !out)
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->cfg = *cfg;
	ret = check_config(&s->cfg);
	if (!ret)
		ret = vi_instance_init(&s->v, &vtd_ops, ops, opaque);
	if (ret) {
		free(s);
		return ret;
	}
	tc.capacity = s->cfg.iotlb_capacity;
	tc.ways = s->cfg.iotlb_ways;
	ret = viommu_iotlb_create(&tc, &s->iotlb);
	if (ret) {
		free(s);
		return ret;
	}
	s->ctx_cache = calloc(VTD_CTX_CACHE_SIZE, sizeof(*s->ctx_cache));
	s->seen = calloc(VTD_NSID / 64, sizeof(*s->seen));
	if (!s->ctx_cache || !s->seen || viommu_pt_walker_create(ops, opaque, &s->walker)) {
		free(s->ctx_cache);
		free(s->seen);
		viommu_iotlb_destroy(s->iotlb);
		free(s);
		return VIOMMU_ENOMEM;
	}
	s->ctx_gen = 1;
	s->mgaw_bits = s->cfg.aw_bits;
	sagaw = VIOMMU_VTD_CAP_SAGAW_39;
	if (s->cfg.aw_bits >= 48)
		sagaw |= VIOMMU_VTD_CAP_SAGAW_48;
	if (s->cfg.aw_bits >= 57)
		sagaw |= VIOMMU_VTD_CAP_SAGAW_57;
	s->cap = VIOMMU_VTD_CAP_ND_SET(VIOMMU_VTD_CAP_ND_64K) | VIOMMU_VTD_CAP_SAGAW_SET(sagaw) |
		 VIOMMU_VTD_CAP_MGAW_SET(s->cfg.aw_bits - 1) | VIOMMU_VTD_CAP_FRO_SET(VTD_FRO) |
		 VIOMMU_VTD_CAP_PSI | VIOMMU_VTD_CAP_NFR_SET(s->cfg.nfr - 1) |
		 VIOMMU_VTD_CAP_MAMV_SET(s->cfg.mamv) | VIOMMU_VTD_CAP_DWD | VIOMMU_VTD_CAP_DRD;
	if (s->cfg.flags & VIOMMU_VTD_CM)
		s->cap |= VIOMMU_VTD_CAP_CM;
	if (s->cfg.flags & VIOMMU_VTD_SLLPS_2M)
		s->cap |= VIOMMU_VTD_CAP_SLLPS_SET(VIOMMU_VTD_CAP_SLLPS_2M);
	if (s->cfg.flags & VIOMMU_VTD_SLLPS_1G)
		s->cap |= VIOMMU_VTD_CAP_SLLPS_SET(VIOMMU_VTD_CAP_SLLPS_1G);
	s->ecap = VIOMMU_VTD_ECAP_IRO_SET(VTD_IRO);
	if (s->cfg.flags & VIOMMU_VTD_C)
		s->ecap |= VIOMMU_VTD_ECAP_C;
	if (s->cfg.flags & VIOMMU_VTD_QI)
		s->ecap |= VIOMMU_VTD_ECAP_QI;
	if (s->cfg.flags & VIOMMU_VTD_DT)
		s->ecap |= VIOMMU_VTD_ECAP_DT;
	if (s->cfg.flags & VIOMMU_VTD_PT)
		s->ecap |= VIOMMU_VTD_ECAP_PT;
	s->fectl = VIOMMU_VTD_FECTL_IM; /* §11.4: IM is set at reset */
	s->iectl = VIOMMU_VTD_IECTL_IM;
	*out = &s->v;
	return 0;
}
