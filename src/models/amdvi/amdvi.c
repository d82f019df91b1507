// SPDX-License-Identifier: MIT
/*
 * AMD-Vi IOMMU: creation, the extended feature register, the MMIO register file (3.4) and
 * interrupts. Registers are 64 bits wide; an aligned access of 1, 2, 4 or 8 bytes reads or
 * merges into the register it falls in and the write acts once with the merged value (Linux
 * writes control and base registers with 64-bit accesses, pointers and status with 32-bit ones).
 */
#include <stdlib.h>

#include "amdvi_internal.h"

void viommu_amdvi_config_init(struct viommu_amdvi_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->flags = VIOMMU_AMDVI_NPCACHE | VIOMMU_AMDVI_IOTLB | VIOMMU_AMDVI_IA;
	cfg->hats_levels = 6;
	cfg->pa_bits = 48;
}

static const struct viommu_model_ops amdvi_ops;

static const struct amdvi *to_amdvi_const(const struct viommu *v)
{
	return v && v->ops == &amdvi_ops ? vi_container_of(v, const struct amdvi, v) : NULL;
}

int viommu_amdvi_get_stats(const struct viommu *v, struct viommu_amdvi_stats *st)
{
	const struct amdvi *s = to_amdvi_const(v);
	struct viommu_iotlb_stats ts;

	if (!s || !st)
		return VIOMMU_EINVAL;
	*st = s->st;
	viommu_iotlb_get_stats(s->iotlb, &ts);
	st->iotlb_hits = ts.hits;
	st->iotlb_misses = ts.misses;
	return 0;
}

int viommu_amdvi_set_msi(struct viommu *v, bool enabled, uint64_t addr, uint32_t data)
{
	struct amdvi *s;

	if (!to_amdvi_const(v))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	s->msi_en = enabled;
	s->msi_addr = addr;
	s->msi_data = data;
	return 0;
}

int viommu_amdvi_set_ppr_response(struct viommu *v, viommu_amdvi_ppr_response_fn fn, void *opaque)
{
	struct amdvi *s;

	if (!to_amdvi_const(v))
		return VIOMMU_EINVAL;
	s = to_amdvi(v);
	s->ppr_fn = fn;
	s->ppr_opaque = opaque;
	return 0;
}

int viommu_amdvi_pci_cap(const struct viommu *v, uint32_t *hdr, uint32_t *misc0)
{
	const struct amdvi *s = to_amdvi_const(v);
	uint64_t h;

	if (!s)
		return VIOMMU_EINVAL;
	h = VIOMMU_AMDVI_CAP_ID | VIOMMU_AMDVI_CAP_HDR_TYPE_SET(VIOMMU_AMDVI_CAP_TYPE) |
	    VIOMMU_AMDVI_CAP_HDR_REV_SET(VIOMMU_AMDVI_CAP_REV) | VIOMMU_AMDVI_CAP_HDR_EFR_SUP |
	    VIOMMU_AMDVI_CAP_HDR_CAP_EXT;
	if (s->cfg.flags & VIOMMU_AMDVI_NPCACHE)
		h |= VIOMMU_AMDVI_CAP_HDR_NP_CACHE;
	if (s->cfg.flags & VIOMMU_AMDVI_IOTLB)
		h |= VIOMMU_AMDVI_CAP_HDR_IOTLB_SUP;
	if (hdr)
		*hdr = (uint32_t)h;
	if (misc0) {
		/* VAsize: the input range of the deepest table HATS allows (6 levels: 64 bits). */
		uint32_t va = s->cfg.hats_levels >= 6 ? 64 : 12 + 9 * s->cfg.hats_levels;

		*misc0 = (uint32_t)(VIOMMU_AMDVI_MISC0_PASIZE_SET(s->cfg.pa_bits) |
				    VIOMMU_AMDVI_MISC0_VASIZE_SET(va));
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Interrupts (3.4.11 status bits, delivered as the MSI capability says)                       */
/* ------------------------------------------------------------------------------------------ */

void vi_amdvi_raise(struct amdvi *s, uint64_t bit, uint64_t ctrl_en)
{
	bool was = (s->status & bit) != 0;

	s->status |= bit;
	/*
	 * One message per condition that appears: the bit stays set until software clears it (W1C),
	 * and Linux's handler clears the bits before reading the log, then reads the status again.
	 */
	if (was || !(s->control & ctrl_en) || !s->msi_en)
		return;
	s->st.interrupts++;
	vi_msi(&s->v.host, s->msi_addr, s->msi_data);
}

/* ------------------------------------------------------------------------------------------ */
/* Register file                                                                               */
/* ------------------------------------------------------------------------------------------ */

static void write_ignored(struct amdvi *s, uint64_t off, unsigned int size)
{
	s->st.mmio_ignored++;
	vi_log(&s->v.host, VIOMMU_LOG_DEBUG, "amdvi: write of %u bytes at 0x%llx ignored", size,
	       (unsigned long long)off);
}

static uint64_t reg_read(const struct amdvi *s, uint64_t base)
{
	switch (base) {
	case VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE:
		return s->devtab;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_BASE:
		return s->cmd_base;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE:
		return s->evt_base;
	case VIOMMU_AMDVI_MMIO_CONTROL:
		return s->control;
	case VIOMMU_AMDVI_MMIO_EXCL_BASE:
		return s->excl_base;
	case VIOMMU_AMDVI_MMIO_EXCL_LIMIT:
		/* 3.4.6: the low 12 bits of the limit read as ones. */
		return s->excl_limit | 0xfff;
	case VIOMMU_AMDVI_MMIO_EXT_FEATURE:
		return s->efr;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD:
		return s->cmd_head;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL:
		return s->cmd_tail;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD:
		return s->evt_head;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL:
		return s->evt_tail;
	case VIOMMU_AMDVI_MMIO_STATUS:
		return s->status;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_BASE:
		return s->ppr_base;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD:
		return s->ppr_head;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL:
		return s->ppr_tail;
	case VIOMMU_AMDVI_MMIO_VIOMMU_STATUS:
		return s->viommu_status;
	default:
		return 0;
	}
}

/*
 * The running states follow the enables: command processing and event logging need IommuEn and
 * their own enable; turning an enable on (again) restarts a buffer that stopped on an error or
 * an overflow, as Linux's amd_iommu_restart_event_logging() expects.
 */
static void control_write(struct amdvi *s, uint64_t val)
{
	const uint64_t writable = VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_HT_TUN_EN |
				  VIOMMU_AMDVI_CTRL_EVENT_LOG_EN | VIOMMU_AMDVI_CTRL_EVENT_INT_EN |
				  VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN |
				  VIOMMU_AMDVI_CTRL_INV_TIMEOUT_MASK | VIOMMU_AMDVI_CTRL_PASS_PW |
				  VIOMMU_AMDVI_CTRL_RES_PASS_PW | VIOMMU_AMDVI_CTRL_COHERENT |
				  VIOMMU_AMDVI_CTRL_ISOC | VIOMMU_AMDVI_CTRL_CMD_BUF_EN;
	uint64_t old = s->control;
	bool was_on = (old & VIOMMU_AMDVI_CTRL_IOMMU_EN) != 0;
	bool on = (val & VIOMMU_AMDVI_CTRL_IOMMU_EN) != 0;
	bool cmd_was = was_on && (old & VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	bool evt_was = was_on && (old & VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	bool ppr_was = was_on && (old & VIOMMU_AMDVI_CTRL_PPR_LOG_EN);
	bool cmd_on, evt_on, ppr_on;

	/* Features not advertised (PPR, GA, x2APIC, ...) have no control bits here. */
	s->control = val & (writable |
			    ((s->efr & VIOMMU_AMDVI_EFR_GT_SUP) ? VIOMMU_AMDVI_CTRL_GT_EN : 0) |
			    ((s->efr & VIOMMU_AMDVI_EFR_PPR_SUP) ?
				     VIOMMU_AMDVI_CTRL_PPR_LOG_EN | VIOMMU_AMDVI_CTRL_PPR_INT_EN |
					     VIOMMU_AMDVI_CTRL_PPR_EN :
				     0) |
			    ((s->efr & VIOMMU_AMDVI_EFR_EPH_SUP) ? VIOMMU_AMDVI_CTRL_EPH_EN : 0) |
			    ((s->efr & VIOMMU_AMDVI_EFR_VIOMMU_SUP) ?
				     VIOMMU_AMDVI_CTRL_VIOMMU_EN | VIOMMU_AMDVI_CTRL_VCMD_EN :
				     0));
	/* Cached entries decoded GV under the old GTEn, vImuEn under the old vIOMMU_EN. */
	if ((old ^ s->control) & (VIOMMU_AMDVI_CTRL_GT_EN | VIOMMU_AMDVI_CTRL_VIOMMU_EN))
		vi_amdvi_dte_inval_all(s);
	cmd_on = on && (s->control & VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	evt_on = on && (s->control & VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	if (evt_on && !evt_was)
		s->status |= VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN;
	if (!evt_on)
		s->status &= ~VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN;
	ppr_on = on && (s->control & VIOMMU_AMDVI_CTRL_PPR_LOG_EN);
	if (ppr_on && !ppr_was)
		s->status |= VIOMMU_AMDVI_STATUS_PPR_LOG_RUN;
	if (!ppr_on)
		s->status &= ~VIOMMU_AMDVI_STATUS_PPR_LOG_RUN;
	if (!cmd_on)
		s->status &= ~VIOMMU_AMDVI_STATUS_CMD_BUF_RUN;
	if (was_on != on) {
		/* Every device's view changed between untranslated and its tables. */
		vi_amdvi_dte_inval_all(s);
		vi_amdvi_sync(s, AMDVI_SYNC_ALL, 0, 0, 0, UINT64_MAX);
	}
	if (cmd_on && !cmd_was) {
		s->status |= VIOMMU_AMDVI_STATUS_CMD_BUF_RUN;
		vi_amdvi_cmd_process(s); /* a tail written before enabling is honoured */
	}
}

static void reg_write(struct amdvi *s, uint64_t base, uint64_t val, unsigned int size)
{
	bool cmd_running = (s->status & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN) != 0;
	bool evt_running = (s->status & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN) != 0;
	bool ppr_running = (s->status & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN) != 0;
	bool ppr = (s->efr & VIOMMU_AMDVI_EFR_PPR_SUP) != 0;

	switch (base) {
	case VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE:
		s->devtab = val &
			    (VIOMMU_AMDVI_DEV_TABLE_BASE_MASK | VIOMMU_AMDVI_DEV_TABLE_SIZE_MASK);
		/* Cached entries came from the old table: a cache may always forget. */
		vi_amdvi_dte_inval_all(s);
		break;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_BASE:
		/* Not while the buffer runs; a new buffer starts empty (head = tail = 0). */
		if (cmd_running) {
			write_ignored(s, base, size);
			break;
		}
		s->cmd_base = val & (VIOMMU_AMDVI_BUF_BASE_MASK | VIOMMU_AMDVI_BUF_LEN_MASK);
		s->cmd_head = 0;
		s->cmd_tail = 0;
		break;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE:
		if (evt_running) {
			write_ignored(s, base, size);
			break;
		}
		s->evt_base = val & (VIOMMU_AMDVI_BUF_BASE_MASK | VIOMMU_AMDVI_BUF_LEN_MASK);
		s->evt_head = 0;
		s->evt_tail = 0;
		break;
	case VIOMMU_AMDVI_MMIO_CONTROL:
		control_write(s, val);
		break;
	case VIOMMU_AMDVI_MMIO_EXCL_BASE:
		s->excl_base = val & (VIOMMU_AMDVI_EXCL_ADDR_MASK | VIOMMU_AMDVI_EXCL_EN |
				      VIOMMU_AMDVI_EXCL_ALLOW);
		vi_amdvi_sync(s, AMDVI_SYNC_ALL, 0, 0, 0, UINT64_MAX);
		break;
	case VIOMMU_AMDVI_MMIO_EXCL_LIMIT:
		s->excl_limit = val & VIOMMU_AMDVI_EXCL_ADDR_MASK;
		vi_amdvi_sync(s, AMDVI_SYNC_ALL, 0, 0, 0, UINT64_MAX);
		break;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD:
		/* Software moves the head only while the buffer is stopped. */
		if (cmd_running)
			write_ignored(s, base, size);
		else
			s->cmd_head = val & VIOMMU_AMDVI_PTR_MASK;
		break;
	case VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL:
		s->cmd_tail = val & VIOMMU_AMDVI_PTR_MASK;
		vi_amdvi_cmd_process(s);
		break;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD:
		s->evt_head = val & VIOMMU_AMDVI_PTR_MASK;
		break;
	case VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL:
		/* The IOMMU owns the tail while logging. */
		if (evt_running)
			write_ignored(s, base, size);
		else
			s->evt_tail = val & VIOMMU_AMDVI_PTR_MASK;
		break;
	case VIOMMU_AMDVI_MMIO_STATUS:
		s->status &=
			~(val &
			  (VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW | VIOMMU_AMDVI_STATUS_EVENT_LOG_INT |
			   VIOMMU_AMDVI_STATUS_COM_WAIT_INT | VIOMMU_AMDVI_STATUS_PPR_OVERFLOW |
			   VIOMMU_AMDVI_STATUS_PPR_INT));
		break;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_BASE:
		if (!ppr || ppr_running) {
			write_ignored(s, base, size);
			break;
		}
		s->ppr_base = val & (VIOMMU_AMDVI_BUF_BASE_MASK | VIOMMU_AMDVI_BUF_LEN_MASK);
		s->ppr_head = 0;
		s->ppr_tail = 0;
		break;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD:
		if (ppr)
			s->ppr_head = val & VIOMMU_AMDVI_PTR_MASK;
		else
			write_ignored(s, base, size);
		break;
	case VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL:
		if (!ppr || ppr_running)
			write_ignored(s, base, size);
		else
			s->ppr_tail = val & VIOMMU_AMDVI_PTR_MASK;
		break;
	case VIOMMU_AMDVI_MMIO_VIOMMU_STATUS:
		s->viommu_status &= ~(val & VIOMMU_AMDVI_VIOMMU_STATUS_HW_ERR); /* W1C */
		break;
	default:
		/* EFR and everything not modelled (PPR log, GA log, counters) is read-only. */
		write_ignored(s, base, size);
		break;
	}
}

static bool access_ok(uint64_t off, unsigned int size)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return false;
	if (off & (size - 1))
		return false;
	/* Page 0 at 0x0000 and page 1 at 0x2000; the rest reads zero. */
	return off < VIOMMU_AMDVI_MMIO_PAGE_SIZE ||
	       (off >= VIOMMU_AMDVI_MMIO_PAGE1 &&
		off < VIOMMU_AMDVI_MMIO_PAGE1 + VIOMMU_AMDVI_MMIO_PAGE_SIZE);
}

static int amdvi_mmio_read(struct viommu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	struct amdvi *s = to_amdvi(v);
	uint64_t q;
	unsigned int sh;

	s->st.mmio_reads++;
	*val = 0;
	if (!access_ok(off, size))
		return 0;
	q = reg_read(s, off & ~7ull);
	sh = (unsigned int)(off & 7) * 8;
	*val = size == 8 ? q : (q >> sh) & ((1ull << (size * 8)) - 1);
	return 0;
}

static int amdvi_mmio_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct amdvi *s = to_amdvi(v);
	uint64_t base = off & ~7ull, q, mask;
	unsigned int sh;

	s->st.mmio_writes++;
	s->budget = AMDVI_SYNC_BUDGET;
	s->scanned = false;
	if (!access_ok(off, size)) {
		write_ignored(s, off, size);
		return 0;
	}
	/* Merge into the register as software wrote it (status: only the bits written count). */
	sh = (unsigned int)(off & 7) * 8;
	mask = size == 8 ? ~0ull : ((1ull << (size * 8)) - 1) << sh;
	q = base == VIOMMU_AMDVI_MMIO_STATUS || base == VIOMMU_AMDVI_MMIO_VIOMMU_STATUS ?
		    0 :
		    reg_read(s, base);
	if (base == VIOMMU_AMDVI_MMIO_EXCL_LIMIT)
		q &= ~0xfffull;
	q = (q & ~mask) | ((val << sh) & mask);
	reg_write(s, base, q, size);
	return 0;
}

static void amdvi_mem_changed(struct viommu *v)
{
	struct amdvi *s = to_amdvi(v);

	viommu_pt_walker_invalidate(s->walker);
	viommu_pt_walker_invalidate(s->nwalker);
	vi_dmem_init(&s->gm, &s->v.host);
}

static void amdvi_destroy(struct viommu *v)
{
	struct amdvi *s = to_amdvi(v);

	vi_amdvi_notify_fini(s);
	vi_amdvi_hwv_free(s);
	viommu_iotlb_destroy(s->iotlb);
	viommu_pt_walker_destroy(s->walker);
	viommu_pt_walker_destroy(s->nwalker);
	free(s->dte_cache);
	free(s->gcr3_cache);
	free(s->seen);
	vi_instance_fini(v);
	free(s);
}

static const struct viommu_model_ops amdvi_ops = {
	.name = "amdvi",
	.translate = vi_amdvi_translate,
	.mmio_read = amdvi_mmio_read,
	.mmio_write = amdvi_mmio_write,
	.replay = vi_amdvi_replay,
	.mem_changed = amdvi_mem_changed,
	.destroy = amdvi_destroy,
};

static int check_config(struct viommu_amdvi_config *c)
{
	const uint32_t known = VIOMMU_AMDVI_NPCACHE | VIOMMU_AMDVI_IOTLB | VIOMMU_AMDVI_IA |
			       VIOMMU_AMDVI_GT | VIOMMU_AMDVI_PPR | VIOMMU_AMDVI_EPH |
			       VIOMMU_AMDVI_HWV;

	if (c->hats_levels == 0)
		c->hats_levels = 6;
	if (c->pa_bits == 0)
		c->pa_bits = 48;
	if (c->gats_levels == 0)
		c->gats_levels = 4;
	if (c->hats_levels < 4 || c->hats_levels > 6 || c->pa_bits < 32 || c->pa_bits > 52 ||
	    (c->flags & ~known) ||
	    ((c->flags & VIOMMU_AMDVI_EPH) && !(c->flags & VIOMMU_AMDVI_PPR)) ||
	    ((c->flags & VIOMMU_AMDVI_HWV) && !(c->flags & VIOMMU_AMDVI_GT)) ||
	    c->iommu_devid > 0xffff || c->gats_levels < 4 || c->gats_levels > 5 ||
	    (c->gats_levels == 5 && !(c->flags & VIOMMU_AMDVI_GT)))
		return VIOMMU_EINVAL;
	return 0;
}

int viommu_amdvi_create(const struct viommu_amdvi_config *cfg, const struct viommu_host_ops *ops,
			void *opaque, struct viommu **out)
{
	struct viommu_iotlb_config tc = { 0 };
	struct amdvi *s;
	int ret;

	if (!cfg || !out)
		return VIOMMU_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return VIOMMU_ENOMEM;
	s->cfg = *cfg;
	ret = check_config(&s->cfg);
	if (!ret)
		ret = vi_instance_init(&s->v, &amdvi_ops, ops, opaque);
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
	s->dte_cache = calloc(AMDVI_DTE_CACHE_SIZE, sizeof(*s->dte_cache));
	s->gcr3_cache = calloc(AMDVI_GCR3_SLOTS, sizeof(*s->gcr3_cache));
	s->seen = calloc(AMDVI_NDEV / 64, sizeof(*s->seen));
	s->nest_ops = vi_amdvi_nest_ops;
	vi_dmem_init(&s->gm, &s->v.host);
	for (int i = 0; i < 2; i++) {
		s->v2_pc[i].format = VIOMMU_PT_X86_64;
		s->v2_pc[i].levels = (uint8_t)(4 + i);
		s->v2_pc[i].oas = (uint8_t)s->cfg.pa_bits;
	}
	if (!s->dte_cache || !s->gcr3_cache || !s->seen ||
	    viommu_pt_walker_create(ops, opaque, &s->walker) ||
	    viommu_pt_walker_create(&s->nest_ops, s, &s->nwalker)) {
		free(s->dte_cache);
		free(s->gcr3_cache);
		free(s->seen);
		viommu_pt_walker_destroy(s->walker);
		viommu_iotlb_destroy(s->iotlb);
		vi_instance_fini(&s->v);
		free(s);
		return VIOMMU_ENOMEM;
	}
	s->dte_gen = 1;
	/* 3.4.7: advertise exactly what is implemented. */
	s->efr = VIOMMU_AMDVI_EFR_HATS_SET(s->cfg.hats_levels - 4) | VIOMMU_AMDVI_EFR_PREF_SUP;
	if (s->cfg.flags & VIOMMU_AMDVI_IA)
		s->efr |= VIOMMU_AMDVI_EFR_IA_SUP;
	if (s->cfg.flags & VIOMMU_AMDVI_PPR)
		s->efr |= VIOMMU_AMDVI_EFR_PPR_SUP;
	if (s->cfg.flags & VIOMMU_AMDVI_EPH)
		s->efr |= VIOMMU_AMDVI_EFR_EPH_SUP;
	if (s->cfg.flags & VIOMMU_AMDVI_GT)
		s->efr |= VIOMMU_AMDVI_EFR_GT_SUP | VIOMMU_AMDVI_EFR_GIO_SUP |
			  VIOMMU_AMDVI_EFR_GLX_SUP_SET(AMDVI_GLX_SUP) |
			  VIOMMU_AMDVI_EFR_PASMAX_SET(AMDVI_PASMAX) |
			  VIOMMU_AMDVI_EFR_GATS_SET(s->cfg.gats_levels - 4);
	if (s->cfg.flags & VIOMMU_AMDVI_HWV) {
		s->efr |= VIOMMU_AMDVI_EFR_VIOMMU_SUP;
		if (vi_amdvi_hwv_alloc(s)) {
			amdvi_destroy(&s->v);
			return VIOMMU_ENOMEM;
		}
	}
	*out = &s->v;
	return 0;
}
