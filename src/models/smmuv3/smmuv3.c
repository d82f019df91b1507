// SPDX-License-Identifier: MIT
/*
 * Arm SMMUv3: the instance, its ID registers, the register file of pages 0 and 1 (6.2, 6.3),
 * interrupts (3.18) and global errors (7.5). Every register takes effect at once: CR0ACK,
 * IRQ_CTRLACK and GBPA.Update read back completed as soon as software wrote them.
 */
#include <stdlib.h>

#include "smmuv3_internal.h"

void viommu_smmuv3_config_init(struct viommu_smmuv3_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->flags = VIOMMU_SMMUV3_S1 | VIOMMU_SMMUV3_S2 | VIOMMU_SMMUV3_2LVL_STRTAB |
		     VIOMMU_SMMUV3_CD2L | VIOMMU_SMMUV3_SSID | VIOMMU_SMMUV3_RIL |
		     VIOMMU_SMMUV3_ATS | VIOMMU_SMMUV3_PRI | VIOMMU_SMMUV3_HTTU |
		     VIOMMU_SMMUV3_MSI | VIOMMU_SMMUV3_ASID16 | VIOMMU_SMMUV3_VMID16;
	cfg->granules = VIOMMU_SMMUV3_GRAN_4K | VIOMMU_SMMUV3_GRAN_16K | VIOMMU_SMMUV3_GRAN_64K;
	cfg->oas_bits = 48;
	cfg->sid_bits = 16;
	cfg->ssid_bits = 20;
	cfg->cmdq_bits = SMMU_Q_BITS_MAX;
	cfg->eventq_bits = SMMU_Q_BITS_MAX;
	cfg->priq_bits = SMMU_Q_BITS_MAX;
	cfg->iotlb_capacity = 1024;
	cfg->iotlb_ways = 4;
}

static const struct viommu_model_ops smmu_ops;

static const struct smmu *to_smmu_const(const struct viommu *v)
{
	return v && v->ops == &smmu_ops ? vi_container_of(v, const struct smmu, v) : NULL;
}

bool vi_smmu_is(const struct viommu *v)
{
	return to_smmu_const(v) != NULL;
}

int viommu_smmuv3_get_stats(const struct viommu *v, struct viommu_smmuv3_stats *st)
{
	const struct smmu *s = to_smmu_const(v);
	struct viommu_iotlb_stats ts;

	if (!s || !st)
		return VIOMMU_EINVAL;
	*st = s->st;
	viommu_iotlb_get_stats(s->iotlb, &ts);
	st->iotlb_hits = ts.hits;
	st->iotlb_misses = ts.misses;
	return 0;
}

int viommu_smmuv3_set_pri_response(struct viommu *v, viommu_smmuv3_pri_response_fn fn, void *opaque)
{
	struct smmu *s;

	if (!to_smmu_const(v))
		return VIOMMU_EINVAL;
	s = to_smmu(v);
	s->pri_fn = fn;
	s->pri_opaque = opaque;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Interrupts (3.18) and global errors (6.3.18-6.3.19)                                         */
/* ------------------------------------------------------------------------------------------ */

static bool has_msi(const struct smmu *s)
{
	return (s->idr[0] & VIOMMU_SMMUV3_IDR0_MSI) != 0;
}

void vi_smmu_irq(struct smmu *s, uint64_t cfg0, uint32_t cfg1, unsigned int line,
		 uint32_t msi_abt_bit)
{
	uint64_t addr = cfg0 & VIOMMU_SMMUV3_IRQ_CFG0_ADDR_MASK;

	(void)msi_abt_bit; /* the host's msi callback cannot fail */
	/* IRQ_CFG0.ADDR == 0: no MSI; the wired interrupt, if any, is used instead. */
	if (has_msi(s) && addr && s->v.host.ops->msi) {
		s->st.msis++;
		vi_msi(&s->v.host, addr, cfg1);
		return;
	}
	if (!s->v.host.ops->irq)
		return;
	s->st.wired_irqs++;
	vi_irq(&s->v.host, line, true);
	vi_irq(&s->v.host, line, false);
}

void vi_smmu_gerror(struct smmu *s, uint32_t bit)
{
	/* Already active (not yet acknowledged through GERRORN): nothing new to signal. */
	if ((s->gerror ^ s->gerrorn) & bit)
		return;
	s->gerror ^= bit;
	if (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_GERROR_IRQEN)
		vi_smmu_irq(s, s->gerror_irq_cfg0, s->gerror_irq_cfg1, VIOMMU_SMMUV3_IRQ_GERROR,
			    (uint32_t)VIOMMU_SMMUV3_GERROR_MSI_GERROR_ABT_ERR);
}

/* ------------------------------------------------------------------------------------------ */
/* Register file                                                                               */
/* ------------------------------------------------------------------------------------------ */

static void write_ignored(struct smmu *s, uint64_t off, unsigned int size)
{
	s->st.mmio_ignored++;
	vi_log(&s->v.host, VIOMMU_LOG_DEBUG, "smmuv3: write of %u bytes at 0x%llx ignored", size,
	       (unsigned long long)off);
}

/* Registers of 64 bits (accessed whole or as two aligned 32-bit halves). */
static bool reg64(uint64_t off)
{
	switch (off) {
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG0:
	case VIOMMU_SMMUV3_STRTAB_BASE:
	case VIOMMU_SMMUV3_CMDQ_BASE:
	case VIOMMU_SMMUV3_EVENTQ_BASE:
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0:
	case VIOMMU_SMMUV3_PRIQ_BASE:
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG0:
		return true;
	default:
		return false;
	}
}

static bool has_pri(const struct smmu *s)
{
	return (s->idr[0] & VIOMMU_SMMUV3_IDR0_PRI) != 0;
}

static uint64_t reg_read(const struct smmu *s, uint64_t off)
{
	switch (off) {
	case VIOMMU_SMMUV3_IDR0:
	case VIOMMU_SMMUV3_IDR1:
	case VIOMMU_SMMUV3_IDR2:
	case VIOMMU_SMMUV3_IDR3:
	case VIOMMU_SMMUV3_IDR4:
	case VIOMMU_SMMUV3_IDR5:
		return s->idr[off / 4];
	case VIOMMU_SMMUV3_IIDR:
		return s->iidr;
	case VIOMMU_SMMUV3_AIDR:
		return s->aidr;
	case VIOMMU_SMMUV3_CR0:
	case VIOMMU_SMMUV3_CR0ACK:
		return s->cr0;
	case VIOMMU_SMMUV3_CR1:
		return s->cr1;
	case VIOMMU_SMMUV3_CR2:
		return s->cr2;
	case VIOMMU_SMMUV3_GBPA:
		return s->gbpa;
	case VIOMMU_SMMUV3_IRQ_CTRL:
	case VIOMMU_SMMUV3_IRQ_CTRLACK:
		return s->irq_ctrl;
	case VIOMMU_SMMUV3_GERROR:
		return s->gerror;
	case VIOMMU_SMMUV3_GERRORN:
		return s->gerrorn;
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG0:
		return s->gerror_irq_cfg0;
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG1:
		return s->gerror_irq_cfg1;
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG2:
		return s->gerror_irq_cfg2;
	case VIOMMU_SMMUV3_STRTAB_BASE:
		return s->strtab_base;
	case VIOMMU_SMMUV3_STRTAB_BASE_CFG:
		return s->strtab_base_cfg;
	case VIOMMU_SMMUV3_CMDQ_BASE:
		return s->cmdq.base;
	case VIOMMU_SMMUV3_CMDQ_PROD:
		return s->cmdq.prod;
	case VIOMMU_SMMUV3_CMDQ_CONS:
		return s->cmdq.cons;
	case VIOMMU_SMMUV3_EVENTQ_BASE:
		return s->evtq.base;
	case VIOMMU_SMMUV3_EVENTQ_PROD:
		return s->evtq.prod;
	case VIOMMU_SMMUV3_EVENTQ_CONS:
		return s->evtq.cons;
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0:
		return s->eventq_irq_cfg0;
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG1:
		return s->eventq_irq_cfg1;
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG2:
		return s->eventq_irq_cfg2;
	case VIOMMU_SMMUV3_PRIQ_BASE:
		return s->priq.base;
	case VIOMMU_SMMUV3_PRIQ_PROD:
		return s->priq.prod;
	case VIOMMU_SMMUV3_PRIQ_CONS:
		return s->priq.cons;
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG0:
		return s->priq_irq_cfg0;
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG1:
		return s->priq_irq_cfg1;
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG2:
		return s->priq_irq_cfg2;
	default:
		return 0;
	}
}

/* Bits of a queue's PROD/CONS a register write may set: index and wrap (and the flags). */
static uint32_t q_ptr_mask(const struct smmu_queue *q)
{
	return (2u << smmu_q_bits(q)) - 1;
}

/*
 * CR0 (6.3.9): the enables take effect at once (CR0ACK equals CR0). Enabling or disabling the
 * SMMU changes every stream between GBPA's bypass or abort and its tables: caches are dropped
 * and consumers told. A command queue enabled with commands pending runs them.
 */
static void cr0_write(struct smmu *s, uint32_t val)
{
	uint32_t old = s->cr0;
	uint32_t mask = VIOMMU_SMMUV3_CR0_SMMUEN | VIOMMU_SMMUV3_CR0_EVENTQEN |
			VIOMMU_SMMUV3_CR0_CMDQEN;

	if (has_pri(s))
		mask |= VIOMMU_SMMUV3_CR0_PRIQEN;
	if (s->idr[0] & VIOMMU_SMMUV3_IDR0_ATS)
		mask |= VIOMMU_SMMUV3_CR0_ATSCHK;
	s->cr0 = val & mask;
	if ((old ^ s->cr0) & VIOMMU_SMMUV3_CR0_SMMUEN) {
		vi_smmu_cfg_inval_all(s);
		viommu_iotlb_flush(s->iotlb);
		s->scanned = false;
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
	}
	if ((s->cr0 & VIOMMU_SMMUV3_CR0_CMDQEN) && !(old & VIOMMU_SMMUV3_CR0_CMDQEN))
		vi_smmu_cmd_process(s);
}

/* GBPA (6.3.14): a write with Update set applies its fields; one without Update is ignored. */
static void gbpa_write(struct smmu *s, uint32_t val, uint64_t off, unsigned int size)
{
	const uint32_t fields = VIOMMU_SMMUV3_GBPA_MEMATTR_MASK | VIOMMU_SMMUV3_GBPA_MTCFG |
				VIOMMU_SMMUV3_GBPA_ALLOCCFG_MASK | VIOMMU_SMMUV3_GBPA_SHCFG_MASK |
				VIOMMU_SMMUV3_GBPA_PRIVCFG_MASK | VIOMMU_SMMUV3_GBPA_INSTCFG_MASK |
				VIOMMU_SMMUV3_GBPA_ABORT;
	uint32_t old = s->gbpa;

	if (!(val & VIOMMU_SMMUV3_GBPA_UPDATE)) {
		write_ignored(s, off, size);
		return;
	}
	/* The update completes at once: Update reads 0 again. */
	s->gbpa = val & fields;
	if (!smmu_enabled(s) && ((old ^ s->gbpa) & VIOMMU_SMMUV3_GBPA_ABORT))
		vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
}

static void gerrorn_write(struct smmu *s, uint32_t val)
{
	const uint32_t defined =
		VIOMMU_SMMUV3_GERROR_CMDQ_ERR | VIOMMU_SMMUV3_GERROR_EVENTQ_ABT_ERR |
		VIOMMU_SMMUV3_GERROR_PRIQ_ABT_ERR | VIOMMU_SMMUV3_GERROR_MSI_CMDQ_ABT_ERR |
		VIOMMU_SMMUV3_GERROR_MSI_EVENTQ_ABT_ERR | VIOMMU_SMMUV3_GERROR_MSI_PRIQ_ABT_ERR |
		VIOMMU_SMMUV3_GERROR_MSI_GERROR_ABT_ERR | VIOMMU_SMMUV3_GERROR_SFM_ERR;
	bool cmdq_was = ((s->gerror ^ s->gerrorn) & VIOMMU_SMMUV3_GERROR_CMDQ_ERR) != 0;

	s->gerrorn = val & defined;
	/* Acknowledging CMDQ_ERR restarts the queue at the command CONS points at (7.1). */
	if (cmdq_was && !((s->gerror ^ s->gerrorn) & VIOMMU_SMMUV3_GERROR_CMDQ_ERR)) {
		s->cmdq.cons &= ~(uint32_t)VIOMMU_SMMUV3_CMDQ_CONS_ERR_MASK;
		vi_smmu_cmd_process(s);
	}
}

static void reg_write(struct smmu *s, uint64_t off, uint64_t val, unsigned int size)
{
	uint32_t v32 = (uint32_t)val;
	bool en = smmu_enabled(s);
	bool cmdq_on = (s->cr0 & VIOMMU_SMMUV3_CR0_CMDQEN) != 0;
	bool evtq_on = (s->cr0 & VIOMMU_SMMUV3_CR0_EVENTQEN) != 0;
	bool priq_on = (s->cr0 & VIOMMU_SMMUV3_CR0_PRIQEN) != 0;
	const uint64_t cfg0_mask = VIOMMU_SMMUV3_IRQ_CFG0_ADDR_MASK;
	const uint32_t cfg2_mask = VIOMMU_SMMUV3_IRQ_CFG2_MEMATTR_MASK |
				   VIOMMU_SMMUV3_IRQ_CFG2_SH_MASK;
	const uint64_t qbase_mask = VIOMMU_SMMUV3_Q_BASE_LOG2SIZE_MASK |
				    VIOMMU_SMMUV3_Q_BASE_ADDR_MASK | VIOMMU_SMMUV3_Q_BASE_RWA;

	switch (off) {
	case VIOMMU_SMMUV3_CR0:
		cr0_write(s, v32);
		return;
	case VIOMMU_SMMUV3_CR1:
		/* Guarded by SMMUEN, as are CR2 and the stream table registers. */
		if (en)
			break;
		s->cr1 = v32 & (uint32_t)VIOMMU_SMMUV3_GENMASK(11, 0);
		return;
	case VIOMMU_SMMUV3_CR2:
		if (en)
			break;
		s->cr2 = v32 & (VIOMMU_SMMUV3_CR2_RECINVSID | VIOMMU_SMMUV3_CR2_PTM);
		return;
	case VIOMMU_SMMUV3_GBPA:
		gbpa_write(s, v32, off, size);
		return;
	case VIOMMU_SMMUV3_IRQ_CTRL:
		s->irq_ctrl = v32 & (VIOMMU_SMMUV3_IRQ_CTRL_GERROR_IRQEN |
				     VIOMMU_SMMUV3_IRQ_CTRL_EVENTQ_IRQEN |
				     (has_pri(s) ? VIOMMU_SMMUV3_IRQ_CTRL_PRIQ_IRQEN : 0));
		return;
	case VIOMMU_SMMUV3_GERRORN:
		gerrorn_write(s, v32);
		return;
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG0:
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG1:
	case VIOMMU_SMMUV3_GERROR_IRQ_CFG2:
		/* Present with MSIs only; written while the interrupt is disabled. */
		if (!has_msi(s) || (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_GERROR_IRQEN))
			break;
		if (off == VIOMMU_SMMUV3_GERROR_IRQ_CFG0)
			s->gerror_irq_cfg0 = val & cfg0_mask;
		else if (off == VIOMMU_SMMUV3_GERROR_IRQ_CFG1)
			s->gerror_irq_cfg1 = v32;
		else
			s->gerror_irq_cfg2 = v32 & cfg2_mask;
		return;
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0:
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG1:
	case VIOMMU_SMMUV3_EVENTQ_IRQ_CFG2:
		if (!has_msi(s) || (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_EVENTQ_IRQEN))
			break;
		if (off == VIOMMU_SMMUV3_EVENTQ_IRQ_CFG0)
			s->eventq_irq_cfg0 = val & cfg0_mask;
		else if (off == VIOMMU_SMMUV3_EVENTQ_IRQ_CFG1)
			s->eventq_irq_cfg1 = v32;
		else
			s->eventq_irq_cfg2 = v32 & cfg2_mask;
		return;
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG0:
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG1:
	case VIOMMU_SMMUV3_PRIQ_IRQ_CFG2:
		if (!has_msi(s) || !has_pri(s) || (s->irq_ctrl & VIOMMU_SMMUV3_IRQ_CTRL_PRIQ_IRQEN))
			break;
		if (off == VIOMMU_SMMUV3_PRIQ_IRQ_CFG0)
			s->priq_irq_cfg0 = val & cfg0_mask;
		else if (off == VIOMMU_SMMUV3_PRIQ_IRQ_CFG1)
			s->priq_irq_cfg1 = v32;
		else
			s->priq_irq_cfg2 = v32 & cfg2_mask;
		return;
	case VIOMMU_SMMUV3_STRTAB_BASE:
		if (en)
			break;
		s->strtab_base =
			val & (VIOMMU_SMMUV3_STRTAB_BASE_ADDR_MASK | VIOMMU_SMMUV3_STRTAB_BASE_RA);
		vi_smmu_cfg_inval_all(s);
		return;
	case VIOMMU_SMMUV3_STRTAB_BASE_CFG:
		if (en)
			break;
		s->strtab_base_cfg = v32 & (VIOMMU_SMMUV3_STRTAB_BASE_CFG_LOG2SIZE_MASK |
					    VIOMMU_SMMUV3_STRTAB_BASE_CFG_SPLIT_MASK |
					    VIOMMU_SMMUV3_STRTAB_BASE_CFG_FMT_MASK);
		vi_smmu_cfg_inval_all(s);
		return;
	case VIOMMU_SMMUV3_CMDQ_BASE:
		if (cmdq_on)
			break;
		s->cmdq.base = val & qbase_mask;
		return;
	case VIOMMU_SMMUV3_CMDQ_PROD:
		s->cmdq.prod = v32 & q_ptr_mask(&s->cmdq);
		vi_smmu_cmd_process(s);
		return;
	case VIOMMU_SMMUV3_CMDQ_CONS:
		if (cmdq_on)
			break;
		s->cmdq.cons = v32 & q_ptr_mask(&s->cmdq);
		return;
	case VIOMMU_SMMUV3_EVENTQ_BASE:
		if (evtq_on)
			break;
		s->evtq.base = val & qbase_mask;
		return;
	case VIOMMU_SMMUV3_EVENTQ_PROD:
		/* The SMMU owns PROD while the queue is enabled. */
		if (evtq_on)
			break;
		s->evtq.prod = v32 & (q_ptr_mask(&s->evtq) | VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG);
		return;
	case VIOMMU_SMMUV3_EVENTQ_CONS:
		s->evtq.cons = v32 & (q_ptr_mask(&s->evtq) | VIOMMU_SMMUV3_EVENTQ_CONS_OVACKFLG);
		return;
	case VIOMMU_SMMUV3_PRIQ_BASE:
		if (!has_pri(s) || priq_on)
			break;
		s->priq.base = val & qbase_mask;
		return;
	case VIOMMU_SMMUV3_PRIQ_PROD:
		if (!has_pri(s) || priq_on)
			break;
		s->priq.prod = v32 & (q_ptr_mask(&s->priq) | VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG);
		return;
	case VIOMMU_SMMUV3_PRIQ_CONS:
		if (!has_pri(s))
			break;
		s->priq.cons = v32 & (q_ptr_mask(&s->priq) | VIOMMU_SMMUV3_EVENTQ_CONS_OVACKFLG);
		return;
	default:
		break;
	}
	/* Read-only (IDRs, GERROR, ACKs), guarded by an enable, absent or unknown. */
	write_ignored(s, off, size);
}

/* The register @off belongs to, and whether the access is one it takes. */
static bool access_ok(uint64_t off, unsigned int size, uint64_t *base)
{
	if (off >= VIOMMU_SMMUV3_REG_SIZE || (size != 4 && size != 8) || (off & (size - 1)))
		return false;
	if (reg64(off & ~7ull)) {
		*base = off & ~7ull;
		return true;
	}
	*base = off;
	return size == 4;
}

static int smmu_mmio_read(struct viommu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	struct smmu *s = to_smmu(v);
	uint64_t base;

	s->st.mmio_reads++;
	*val = 0;
	if (!access_ok(off, size, &base))
		return 0;
	*val = reg_read(s, base);
	if (size == 4)
		*val = (*val >> ((off - base) * 8)) & 0xffffffffull;
	return 0;
}

static int smmu_mmio_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct smmu *s = to_smmu(v);
	uint64_t base;

	s->st.mmio_writes++;
	s->budget = SMMU_SYNC_BUDGET;
	s->scanned = false;
	if (!access_ok(off, size, &base)) {
		write_ignored(s, off, size);
		return 0;
	}
	if (size == 4 && reg64(base)) {
		/* One half of a 64-bit register: merge it into the value as software wrote it. */
		unsigned int sh = (unsigned int)(off - base) * 8;
		uint64_t q = reg_read(s, base);

		val = (q & ~(0xffffffffull << sh)) | ((val & 0xffffffffull) << sh);
	}
	reg_write(s, base, size == 4 && !reg64(base) ? val & 0xffffffffull : val, size);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Instance                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void regs_reset(struct smmu *s)
{
	s->cr0 = s->cr1 = s->cr2 = s->gbpa = s->irq_ctrl = s->gerror = s->gerrorn = 0;
	s->gerror_irq_cfg0 = s->eventq_irq_cfg0 = s->priq_irq_cfg0 = 0;
	s->gerror_irq_cfg1 = s->gerror_irq_cfg2 = s->eventq_irq_cfg1 = s->eventq_irq_cfg2 = 0;
	s->priq_irq_cfg1 = s->priq_irq_cfg2 = 0;
	s->strtab_base = 0;
	s->strtab_base_cfg = 0;
	s->cmdq.base = s->cmdq.prod = s->cmdq.cons = 0;
	s->evtq.base = s->evtq.prod = s->evtq.cons = 0;
	s->priq.base = s->priq.prod = s->priq.cons = 0;
	vi_smmu_cfg_inval_all(s);
	viommu_iotlb_flush(s->iotlb);
}

int viommu_smmuv3_reset(struct viommu *v)
{
	struct smmu *s;

	if (!to_smmu_const(v))
		return VIOMMU_EINVAL;
	s = to_smmu(v);
	s->budget = SMMU_SYNC_BUDGET;
	s->scanned = false;
	regs_reset(s);
	/* Every stream now bypasses (SMMUEN = 0, GBPA.ABORT = 0): consumers learn it. */
	vi_smmu_sync(s, SMMU_SYNC_ALL, 0, 0, 0, 0, UINT64_MAX);
	return 0;
}

static void smmu_mem_changed(struct viommu *v)
{
	viommu_pt_walker_invalidate(to_smmu(v)->walker);
	viommu_pt_walker_invalidate(to_smmu(v)->nwalker);
}

static void smmu_destroy(struct viommu *v)
{
	struct smmu *s = to_smmu(v);

	vi_smmu_notify_fini(s);
	viommu_iotlb_destroy(s->iotlb);
	viommu_pt_walker_destroy(s->walker);
	viommu_pt_walker_destroy(s->nwalker);
	free(s->cfg_cache);
	free(s->seen);
	vi_instance_fini(v);
	free(s);
}

static const struct viommu_model_ops smmu_ops = {
	.name = "smmuv3",
	.translate = vi_smmu_translate,
	.mmio_read = smmu_mmio_read,
	.mmio_write = smmu_mmio_write,
	.replay = vi_smmu_replay,
	.mem_changed = smmu_mem_changed,
	.destroy = smmu_destroy,
};

static int oas_code(uint32_t bits)
{
	static const uint8_t enc[] = { 32, 36, 40, 42, 44, 48 };

	for (unsigned int i = 0; i < VI_ARRAY_SIZE(enc); i++) {
		if (enc[i] == bits)
			return (int)i;
	}
	return -1;
}

static int check_config(struct viommu_smmuv3_config *c)
{
	const uint32_t known = VIOMMU_SMMUV3_S1 | VIOMMU_SMMUV3_S2 | VIOMMU_SMMUV3_2LVL_STRTAB |
			       VIOMMU_SMMUV3_CD2L | VIOMMU_SMMUV3_SSID | VIOMMU_SMMUV3_RIL |
			       VIOMMU_SMMUV3_ATS | VIOMMU_SMMUV3_PRI | VIOMMU_SMMUV3_HTTU |
			       VIOMMU_SMMUV3_MSI | VIOMMU_SMMUV3_CM | VIOMMU_SMMUV3_ASID16 |
			       VIOMMU_SMMUV3_VMID16 | VIOMMU_SMMUV3_HTTU_AD;
	const uint32_t grans = VIOMMU_SMMUV3_GRAN_4K | VIOMMU_SMMUV3_GRAN_16K |
			       VIOMMU_SMMUV3_GRAN_64K;

	if (c->granules == 0)
		c->granules = grans;
	if (c->oas_bits == 0)
		c->oas_bits = 48;
	if (c->sid_bits == 0)
		c->sid_bits = 16;
	if (c->ssid_bits == 0)
		c->ssid_bits = SMMU_SSID_BITS_MAX;
	if (c->cmdq_bits == 0)
		c->cmdq_bits = SMMU_Q_BITS_MAX;
	if (c->eventq_bits == 0)
		c->eventq_bits = SMMU_Q_BITS_MAX;
	if (c->priq_bits == 0)
		c->priq_bits = SMMU_Q_BITS_MAX;
	if ((c->flags & ~known) || (c->granules & ~grans) || oas_code(c->oas_bits) < 0 ||
	    !(c->flags & (VIOMMU_SMMUV3_S1 | VIOMMU_SMMUV3_S2)) ||
	    c->sid_bits > SMMU_SID_BITS_MAX || c->ssid_bits > SMMU_SSID_BITS_MAX ||
	    c->cmdq_bits > SMMU_Q_BITS_MAX || c->eventq_bits > SMMU_Q_BITS_MAX ||
	    c->priq_bits > SMMU_Q_BITS_MAX ||
	    ((c->flags & VIOMMU_SMMUV3_PRI) && !(c->flags & VIOMMU_SMMUV3_ATS)) ||
	    ((c->flags & VIOMMU_SMMUV3_HTTU_AD) && !(c->flags & VIOMMU_SMMUV3_HTTU)))
		return VIOMMU_EINVAL;
	return 0;
}

/* 6.3.1-6.3.8: advertise exactly what is implemented. */
static void idr_init(struct smmu *s)
{
	const struct viommu_smmuv3_config *c = &s->cfg;
	uint32_t f = c->flags;

	s->idr[0] =
		(uint32_t)(VIOMMU_SMMUV3_IDR0_TTF_SET(VIOMMU_SMMUV3_IDR0_TTF_AARCH64) |
			   VIOMMU_SMMUV3_IDR0_COHACC |
			   VIOMMU_SMMUV3_IDR0_TTENDIAN_SET(VIOMMU_SMMUV3_IDR0_TTENDIAN_LE) |
			   VIOMMU_SMMUV3_IDR0_STALL_MODEL_SET(VIOMMU_SMMUV3_IDR0_STALL_MODEL_TERM) |
			   VIOMMU_SMMUV3_IDR0_TERM_MODEL);
	if (f & VIOMMU_SMMUV3_S1)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_S1P;
	if (f & VIOMMU_SMMUV3_S2)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_S2P;
	if (f & VIOMMU_SMMUV3_HTTU)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_HTTU_SET((f & VIOMMU_SMMUV3_HTTU_AD) ?
								 VIOMMU_SMMUV3_IDR0_HTTU_AF_DIRTY :
								 VIOMMU_SMMUV3_IDR0_HTTU_AF);
	/* ATS without split-stage ATS (NS1ATS = 1): STE.EATS = 0b10 is then ILLEGAL (5.2). */
	if (f & VIOMMU_SMMUV3_ATS)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_ATS | VIOMMU_SMMUV3_IDR0_NS1ATS;
	if (f & VIOMMU_SMMUV3_ASID16)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_ASID16;
	if (f & VIOMMU_SMMUV3_MSI)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_MSI;
	if (f & VIOMMU_SMMUV3_PRI)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_PRI;
	if (f & VIOMMU_SMMUV3_VMID16)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_VMID16;
	if (f & VIOMMU_SMMUV3_CD2L)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_CD2L;
	if (f & VIOMMU_SMMUV3_2LVL_STRTAB)
		s->idr[0] |= VIOMMU_SMMUV3_IDR0_ST_LEVEL_SET(VIOMMU_SMMUV3_IDR0_ST_LEVEL_2LVL);
	s->idr[1] = (uint32_t)(VIOMMU_SMMUV3_IDR1_SIDSIZE_SET(c->sid_bits) |
			       VIOMMU_SMMUV3_IDR1_EVENTQS_SET(c->eventq_bits) |
			       VIOMMU_SMMUV3_IDR1_CMDQS_SET(c->cmdq_bits));
	if (f & VIOMMU_SMMUV3_SSID)
		s->idr[1] |= (uint32_t)VIOMMU_SMMUV3_IDR1_SSIDSIZE_SET(c->ssid_bits);
	if (f & VIOMMU_SMMUV3_PRI)
		s->idr[1] |= (uint32_t)VIOMMU_SMMUV3_IDR1_PRIQS_SET(c->priq_bits);
	s->idr[2] = 0;
	s->idr[3] = (f & VIOMMU_SMMUV3_RIL) ? (uint32_t)VIOMMU_SMMUV3_IDR3_RIL : 0;
	s->idr[4] = 0;
	s->idr[5] = (uint32_t)VIOMMU_SMMUV3_IDR5_OAS_SET(oas_code(c->oas_bits));
	if (c->granules & VIOMMU_SMMUV3_GRAN_4K)
		s->idr[5] |= VIOMMU_SMMUV3_IDR5_GRAN4K;
	if (c->granules & VIOMMU_SMMUV3_GRAN_16K)
		s->idr[5] |= VIOMMU_SMMUV3_IDR5_GRAN16K;
	if (c->granules & VIOMMU_SMMUV3_GRAN_64K)
		s->idr[5] |= VIOMMU_SMMUV3_IDR5_GRAN64K;
	s->iidr = 0;
	/* SMMUv3.2: the version that defines range invalidation. */
	s->aidr = (uint32_t)VIOMMU_SMMUV3_AIDR_ARCHMINORREV_SET(2);
	s->cmdq.max_bits = (uint8_t)c->cmdq_bits;
	s->evtq.max_bits = (uint8_t)c->eventq_bits;
	s->priq.max_bits = (uint8_t)c->priq_bits;
	s->cmdq.ent_bytes = 8 * VIOMMU_SMMUV3_CMDQ_ENT_DWORDS;
	s->evtq.ent_bytes = 8 * VIOMMU_SMMUV3_EVENTQ_ENT_DWORDS;
	s->priq.ent_bytes = 8 * VIOMMU_SMMUV3_PRIQ_ENT_DWORDS;
}

int viommu_smmuv3_create(const struct viommu_smmuv3_config *cfg, const struct viommu_host_ops *ops,
			 void *opaque, struct viommu **out)
{
	struct viommu_iotlb_config tc = { 0 };
	struct smmu *s;
	int ret;

	if (!cfg || !out)
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->cfg = *cfg;
	ret = check_config(&s->cfg);
	if (!ret)
		ret = vi_instance_init(&s->v, &smmu_ops, ops, opaque);
	if (ret) {
		free(s);
		return ret;
	}
	tc.capacity = s->cfg.iotlb_capacity;
	tc.ways = s->cfg.iotlb_ways;
	ret = viommu_iotlb_create(&tc, &s->iotlb);
	if (ret) {
		vi_instance_fini(&s->v);
		free(s);
		return ret;
	}
	s->cfg_cache = calloc(SMMU_CFG_CACHE_SIZE, sizeof(*s->cfg_cache));
	s->seen = calloc((smmu_nsid(s) + 63) / 64, sizeof(*s->seen));
	s->nest_ops = vi_smmu_nest_ops;
	if (!s->cfg_cache || !s->seen || viommu_pt_walker_create(ops, opaque, &s->walker) ||
	    viommu_pt_walker_create(&s->nest_ops, s, &s->nwalker)) {
		free(s->cfg_cache);
		free(s->seen);
		viommu_pt_walker_destroy(s->walker);
		viommu_iotlb_destroy(s->iotlb);
		vi_instance_fini(&s->v);
		free(s);
		return VIOMMU_ENOMEM;
	}
	s->cfg_gen = 1;
	idr_init(s);
	*out = &s->v;
	return 0;
}
