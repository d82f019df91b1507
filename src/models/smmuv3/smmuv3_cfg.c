// SPDX-License-Identifier: MIT
/*
 * SMMUv3 configuration lookup (3.3): the stream table, linear or 2-level (3.3.2, 5.1), the
 * stream table entry (5.2), the CD table, linear or 2-level, indexed by SubstreamID (3.3.3, 5.3)
 * and the context descriptor (5.4). A decoded configuration is cached per (StreamID,
 * SubstreamID) until a CFGI command, a stream table register write or an SMMUEN change.
 * Anything reserved, unsupported or inconsistent is C_BAD_STE / C_BAD_CD / C_BAD_SUBSTREAMID /
 * C_BAD_STREAMID; a structure outside guest memory is F_STE_FETCH / F_CD_FETCH.
 */
#include "smmuv3_internal.h"

#define STE_BYTES (8 * VIOMMU_SMMUV3_STRTAB_STE_DWORDS)
#define CD_BYTES (8 * VIOMMU_SMMUV3_CD_DWORDS)

/* IOTLB tag kinds (dom bits 17:16): entries of one kind never answer another's lookups. */
#define TAG_S1 0u
#define TAG_S2 1u
#define TAG_NESTED 2u

void vi_smmu_cfg_inval_all(struct smmu *s)
{
	if (++s->cfg_gen == 0) {
		memset(s->cfg_cache, 0, SMMU_CFG_CACHE_SIZE * sizeof(*s->cfg_cache));
		s->cfg_gen = 1;
	}
}

void vi_smmu_cfg_inval(struct smmu *s, uint32_t first, uint32_t last, uint32_t ssid)
{
	/* A fixed scan of the cache, whatever range the guest names. */
	for (uint32_t i = 0; i < SMMU_CFG_CACHE_SIZE; i++) {
		struct smmu_cfg_slot *sl = &s->cfg_cache[i];

		if (sl->gen && sl->sid >= first && sl->sid <= last &&
		    (ssid == UINT32_MAX || sl->ssid == ssid))
			sl->gen = 0;
	}
}

static uint64_t above_oas(const struct smmu *s)
{
	return VIOMMU_SMMUV3_GENMASK(63, s->cfg.oas_bits);
}

/* An address size code (IDR5.OAS, CD.IPS, STE.S2PS) in bits, capped at the SMMU's OAS. */
static uint8_t size_bits(const struct smmu *s, uint64_t code)
{
	static const uint8_t bits[] = { 32, 36, 40, 42, 44, 48, 52, 52 };
	uint8_t b = bits[code & 7];

	return b < s->cfg.oas_bits ? b : (uint8_t)s->cfg.oas_bits;
}

/* A granule code: log2 size, or 0 when reserved or not offered. @tg1 for CD.TG1's encoding. */
static uint8_t granule(const struct smmu *s, uint64_t tg, bool tg1)
{
	static const uint8_t g0[] = { 12, 16, 14, 0 }, g1[] = { 0, 14, 12, 16 };
	uint8_t g = tg1 ? g1[tg & 3] : g0[tg & 3];

	if ((g == 12 && !(s->cfg.granules & VIOMMU_SMMUV3_GRAN_4K)) ||
	    (g == 14 && !(s->cfg.granules & VIOMMU_SMMUV3_GRAN_16K)) ||
	    (g == 16 && !(s->cfg.granules & VIOMMU_SMMUV3_GRAN_64K)))
		return 0;
	return g;
}

static int bad(struct smmu_fault *f, uint32_t id, enum viommu_fault_type type, uint64_t fetch)
{
	f->id = id;
	f->type = type;
	f->record = true;
	f->fetch = fetch;
	return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Stream table                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* The STE of @sid (little-endian words converted): 0, or -1 with @f. */
static int ste_fetch(struct smmu *s, uint32_t sid, uint64_t ste[8], struct smmu_fault *f)
{
	uint32_t cfg = s->strtab_base_cfg;
	uint32_t log2 = (uint32_t)VIOMMU_SMMUV3_STRTAB_BASE_CFG_LOG2SIZE_GET(cfg);
	uint32_t fmt = (uint32_t)VIOMMU_SMMUV3_STRTAB_BASE_CFG_FMT_GET(cfg);
	uint64_t base = s->strtab_base & VIOMMU_SMMUV3_STRTAB_BASE_ADDR_MASK, addr;

	/* LOG2SIZE is capped at IDR1.SIDSIZE. */
	if (log2 > s->cfg.sid_bits)
		log2 = s->cfg.sid_bits;
	if (sid >= smmu_nsid(s) || (uint64_t)sid >> log2)
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID, VIOMMU_FAULT_CONFIG, 0);
	if (fmt == VIOMMU_SMMUV3_STRTAB_FMT_LINEAR) {
		addr = base + (uint64_t)sid * STE_BYTES;
	} else if (fmt == VIOMMU_SMMUV3_STRTAB_FMT_2LVL &&
		   (s->idr[0] & VIOMMU_SMMUV3_IDR0_ST_LEVEL_MASK)) {
		uint32_t split = (uint32_t)VIOMMU_SMMUV3_STRTAB_BASE_CFG_SPLIT_GET(cfg), span;
		uint64_t l1, l1addr;

		/* SPLIT takes 6, 8 or 10; no other value locates an STE. */
		if (split != 6 && split != 8 && split != 10)
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID, VIOMMU_FAULT_CONFIG, 0);
		/* The level-1 table is aligned to its size (at least 64 bytes). */
		if (log2 > split)
			base &= ~((8ull << (log2 - split < 3 ? 3 : log2 - split)) - 1);
		l1addr = base + ((uint64_t)sid >> split) * 8;
		if (vi_read64(&s->v.host, l1addr, &l1))
			return bad(f, VIOMMU_SMMUV3_EVT_F_STE_FETCH, VIOMMU_FAULT_WALK_ABORT,
				   l1addr);
		span = (uint32_t)VIOMMU_SMMUV3_L1STD_SPAN_GET(l1);
		if (span == 0 || span > split + 1 ||
		    (sid & ((1u << split) - 1)) >= (1u << (span - 1)))
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID, VIOMMU_FAULT_CONFIG, 0);
		addr = (l1 & VIOMMU_SMMUV3_L1STD_L2PTR_MASK) +
		       (uint64_t)(sid & ((1u << split) - 1)) * STE_BYTES;
	} else {
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID, VIOMMU_FAULT_CONFIG, 0);
	}
	if (vi_read(&s->v.host, addr, ste, STE_BYTES))
		return bad(f, VIOMMU_SMMUV3_EVT_F_STE_FETCH, VIOMMU_FAULT_WALK_ABORT, addr);
	for (int i = 0; i < 8; i++)
		ste[i] = vi_le64(ste[i]);
	return 0;
}

/* Stage 2 fields of an STE (5.2: S2VMID .. S2TTB) into @c. */
static int ste_s2(struct smmu *s, const uint64_t ste[8], struct smmu_cfg *c, struct smmu_fault *f)
{
	uint64_t w2 = ste[2];
	struct viommu_pt_cfg *p = &c->s2;
	uint8_t g = granule(s, VIOMMU_SMMUV3_STE_2_S2TG_GET(w2), false);

	/* AArch64 tables only, little-endian, terminate model (no stall): all else is bad. */
	if (!(w2 & VIOMMU_SMMUV3_STE_2_S2AA64) || (w2 & VIOMMU_SMMUV3_STE_2_S2ENDI) ||
	    (w2 & VIOMMU_SMMUV3_STE_2_S2S) || !g)
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	memset(p, 0, sizeof(*p));
	p->format = VIOMMU_PT_ARM_S2;
	p->granule = g;
	p->tsz[0] = (uint8_t)VIOMMU_SMMUV3_STE_2_S2T0SZ_GET(w2);
	p->sl0 = (uint8_t)VIOMMU_SMMUV3_STE_2_S2SL0_GET(w2);
	p->oas = size_bits(s, VIOMMU_SMMUV3_STE_2_S2PS_GET(w2));
	p->root = ste[3] & VIOMMU_SMMUV3_STE_3_S2TTB_MASK;
	if ((w2 & VIOMMU_SMMUV3_STE_2_S2HA) && (s->cfg.flags & VIOMMU_SMMUV3_HTTU)) {
		p->flags |= VIOMMU_PT_F_AD;
		if ((w2 & VIOMMU_SMMUV3_STE_2_S2HD) && (s->cfg.flags & VIOMMU_SMMUV3_HTTU_AD))
			p->flags |= VIOMMU_PT_F_DBM;
	}
	if (w2 & VIOMMU_SMMUV3_STE_2_S2AFFD)
		p->flags |= VIOMMU_PT_F_AFFD;
	if ((p->root & VIOMMU_SMMUV3_GENMASK(63, p->oas)) || viommu_pt_cfg_check(p))
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	c->vmid = (uint16_t)VIOMMU_SMMUV3_STE_2_S2VMID_GET(w2);
	if (!(s->cfg.flags & VIOMMU_SMMUV3_VMID16))
		c->vmid &= 0xff;
	c->s2_record = (w2 & VIOMMU_SMMUV3_STE_2_S2R) != 0;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Context descriptors                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Read a CD-table structure at @addr: a PA, or an IPA through stage 2 when @c is nested. */
static int cd_read(struct smmu *s, const struct smmu_cfg *c, uint64_t addr, void *buf, size_t len,
		   struct smmu_fault *f)
{
	if (c->kind == SMMU_K_NESTED)
		return vi_smmu_ipa_read(s, c, addr, buf, len, VIOMMU_SMMUV3_CLASS_CD, f);
	if (vi_read(&s->v.host, addr, buf, len))
		return bad(f, VIOMMU_SMMUV3_EVT_F_CD_FETCH, VIOMMU_FAULT_WALK_ABORT, addr);
	return 0;
}

/* The CD of index @idx for STE @ste (5.3 level-1 descriptors when S1Fmt says 2-level). */
static int cd_fetch(struct smmu *s, const uint64_t ste[8], const struct smmu_cfg *c, uint32_t idx,
		    uint64_t cd[8], struct smmu_fault *f)
{
	uint32_t fmt = (uint32_t)VIOMMU_SMMUV3_STE_0_S1FMT_GET(ste[0]);
	uint64_t ptr = ste[0] & VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK, addr;

	if (fmt == VIOMMU_SMMUV3_STE_S1FMT_LINEAR) {
		addr = ptr + (uint64_t)idx * CD_BYTES;
	} else {
		uint32_t split = fmt == VIOMMU_SMMUV3_STE_S1FMT_64 ? 6 : 10;
		uint64_t l1, l1addr = ptr + (uint64_t)(idx >> split) * 8;

		if (cd_read(s, c, l1addr, &l1, 8, f))
			return -1;
		l1 = vi_le64(l1);
		/* An invalid level-1 descriptor: no CD exists for the SubstreamID. */
		if (!(l1 & VIOMMU_SMMUV3_L1CD_V))
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID, VIOMMU_FAULT_CONFIG, 0);
		addr = (l1 & VIOMMU_SMMUV3_L1CD_L2PTR_MASK) +
		       (uint64_t)(idx & ((1u << split) - 1)) * CD_BYTES;
	}
	if (cd_read(s, c, addr, cd, CD_BYTES, f))
		return -1;
	for (int i = 0; i < 8; i++)
		cd[i] = vi_le64(cd[i]);
	return 0;
}

/* Decode a CD (5.4) into the stage 1 fields of @c. */
static int cd_decode(struct smmu *s, const uint64_t cd[8], struct smmu_cfg *c, struct smmu_fault *f)
{
	uint64_t w0 = cd[0];
	bool epd0 = w0 & VIOMMU_SMMUV3_CD_0_EPD0, epd1 = w0 & VIOMMU_SMMUV3_CD_0_EPD1;
	uint8_t g0 = granule(s, VIOMMU_SMMUV3_CD_0_TG0_GET(w0), false);
	uint8_t g1 = granule(s, VIOMMU_SMMUV3_CD_0_TG1_GET(w0), true);
	uint8_t ips = size_bits(s, VIOMMU_SMMUV3_CD_0_IPS_GET(w0));
	uint32_t flags = 0;
	struct viommu_pt_cfg *p0 = &c->s1[0], *p1 = &c->s1[1];

	/*
	 * Valid, AArch64, little-endian; no stall (terminate model) and A = 1 (TERM_MODEL = 1:
	 * terminated transactions always abort). A granule is checked where its half is used.
	 */
	if (!(w0 & VIOMMU_SMMUV3_CD_0_V) || !(w0 & VIOMMU_SMMUV3_CD_0_AA64) ||
	    (w0 & VIOMMU_SMMUV3_CD_0_ENDI) || (w0 & VIOMMU_SMMUV3_CD_0_S) ||
	    !(w0 & VIOMMU_SMMUV3_CD_0_A) || (!epd0 && !g0) || (!epd1 && !g1))
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_CD, VIOMMU_FAULT_CONFIG, 0);
	if ((w0 & VIOMMU_SMMUV3_CD_0_HA) && (s->cfg.flags & VIOMMU_SMMUV3_HTTU)) {
		flags |= VIOMMU_PT_F_AD;
		if ((w0 & VIOMMU_SMMUV3_CD_0_HD) && (s->cfg.flags & VIOMMU_SMMUV3_HTTU_AD))
			flags |= VIOMMU_PT_F_DBM;
	}
	if (w0 & VIOMMU_SMMUV3_CD_0_AFFD)
		flags |= VIOMMU_PT_F_AFFD;
	memset(p0, 0, sizeof(*p0));
	p0->format = VIOMMU_PT_ARM_S1;
	p0->oas = ips;
	p0->tsz[0] = (uint8_t)VIOMMU_SMMUV3_CD_0_T0SZ_GET(w0);
	p0->tsz[1] = (uint8_t)VIOMMU_SMMUV3_CD_0_T1SZ_GET(w0);
	p0->root = cd[1] & VIOMMU_SMMUV3_CD_1_TTB0_MASK;
	p0->root1 = cd[2] & VIOMMU_SMMUV3_CD_2_TTB1_MASK;
	p0->granule = epd0 ? (epd1 ? 12 : g1) : g0;
	*p1 = *p0;
	p0->flags = flags | (epd0 ? VIOMMU_PT_F_NO_TTB0 : 0);
	c->two_halves = false;
	if (!epd1) {
		if (epd0 || g1 == g0) {
			p0->flags |= VIOMMU_PT_F_TTB1;
		} else {
			/* The TTB1 half has a granule of its own: walked with its own configuration. */
			c->two_halves = true;
			p1->granule = g1;
			p1->flags = flags | VIOMMU_PT_F_TTB1 | VIOMMU_PT_F_NO_TTB0;
		}
	}
	if ((!epd0 && (p0->root & VIOMMU_SMMUV3_GENMASK(63, ips))) ||
	    (!epd1 && (p0->root1 & VIOMMU_SMMUV3_GENMASK(63, ips))) || viommu_pt_cfg_check(p0) ||
	    (c->two_halves && viommu_pt_cfg_check(p1)))
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_CD, VIOMMU_FAULT_CONFIG, 0);
	c->asid = (uint16_t)VIOMMU_SMMUV3_CD_0_ASID_GET(w0);
	if (!(s->cfg.flags & VIOMMU_SMMUV3_ASID16))
		c->asid &= 0xff;
	c->s1_record = (w0 & VIOMMU_SMMUV3_CD_0_R) != 0;
	c->tbi = (uint8_t)VIOMMU_SMMUV3_CD_0_TBI_GET(w0);
	c->wxn = (w0 & VIOMMU_SMMUV3_CD_0_WXN) != 0;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The configuration of one request                                                            */
/* ------------------------------------------------------------------------------------------ */

static int decode(struct smmu *s, uint32_t sid, uint32_t ssid, struct smmu_cfg *c,
		  struct smmu_fault *f)
{
	uint64_t ste[8], cd[8], w0, w1;
	uint32_t config, cdmax, s1fmt, dss, ssid_max;
	bool s1p = s->idr[0] & VIOMMU_SMMUV3_IDR0_S1P, s2p = s->idr[0] & VIOMMU_SMMUV3_IDR0_S2P;

	memset(c, 0, sizeof(*c));
	if (ste_fetch(s, sid, ste, f))
		return -1;
	w0 = ste[0];
	w1 = ste[1];
	if (!(w0 & VIOMMU_SMMUV3_STE_0_V))
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	config = (uint32_t)VIOMMU_SMMUV3_STE_0_CONFIG_GET(w0);
	/*
	 * EATS (5.2): 0b11 is reserved and 0b10 (split-stage ATS) ILLEGAL with IDR0.NS1ATS = 1;
	 * without IDR0.ATS the field is ignored (ATS is never allowed), as with Config abort.
	 */
	if ((s->idr[0] & VIOMMU_SMMUV3_IDR0_ATS) && config != VIOMMU_SMMUV3_STE_CONFIG_ABORT) {
		c->eats = (uint8_t)VIOMMU_SMMUV3_STE_1_EATS_GET(w1);
		if (c->eats > VIOMMU_SMMUV3_STE_EATS_TRANS)
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	}
	switch (config) {
	case VIOMMU_SMMUV3_STE_CONFIG_ABORT:
		c->kind = SMMU_K_ABORT;
		return 0;
	case VIOMMU_SMMUV3_STE_CONFIG_BYPASS:
		c->kind = SMMU_K_BYPASS;
		return 0;
	case VIOMMU_SMMUV3_STE_CONFIG_S1:
		if (!s1p)
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
		c->kind = SMMU_K_S1;
		break;
	case VIOMMU_SMMUV3_STE_CONFIG_S2:
		if (!s2p)
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
		c->kind = SMMU_K_S2;
		break;
	case VIOMMU_SMMUV3_STE_CONFIG_NESTED:
		if (!s1p || !s2p)
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
		c->kind = SMMU_K_NESTED;
		break;
	default: /* 0b001-0b011 are reserved */
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	}
	if ((c->kind == SMMU_K_S2 || c->kind == SMMU_K_NESTED) && ste_s2(s, ste, c, f))
		return -1;
	/* Stage 1 only: with stage 2 implemented, S2VMID still tags the TLB entries. */
	if (c->kind == SMMU_K_S1 && s2p)
		c->vmid = (uint16_t)(VIOMMU_SMMUV3_STE_2_S2VMID_GET(ste[2]) &
				     ((s->cfg.flags & VIOMMU_SMMUV3_VMID16) ? 0xffff : 0xff));
	if (c->kind == SMMU_K_S2) {
		/* Stage 1 bypassed: a SubstreamID selects nothing and is ignored. */
		c->tag.dom = c->vmid | TAG_S2 << 16;
		return 0;
	}

	/* Stage 1: the CD table (5.2 S1Fmt, S1CDMax, S1DSS, S1ContextPtr). */
	cdmax = (uint32_t)VIOMMU_SMMUV3_STE_0_S1CDMAX_GET(w0);
	s1fmt = (uint32_t)VIOMMU_SMMUV3_STE_0_S1FMT_GET(w0);
	dss = (uint32_t)VIOMMU_SMMUV3_STE_1_S1DSS_GET(w1);
	ssid_max = (uint32_t)VIOMMU_SMMUV3_IDR1_SSIDSIZE_GET(s->idr[1]);
	if (cdmax > ssid_max || s1fmt == 3 ||
	    (s1fmt != VIOMMU_SMMUV3_STE_S1FMT_LINEAR && !(s->idr[0] & VIOMMU_SMMUV3_IDR0_CD2L)) ||
	    (cdmax && dss == 3) ||
	    (c->kind == SMMU_K_S1 && ((w0 & VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK) & above_oas(s))))
		return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_STE, VIOMMU_FAULT_CONFIG, 0);
	if (ssid != SMMU_NO_SSID) {
		/* SubstreamID 0 is reserved for requests without one when S1DSS selects it. */
		if (cdmax == 0 || (ssid >> cdmax) ||
		    (ssid == 0 && dss == VIOMMU_SMMUV3_STE_S1DSS_SSID0))
			return bad(f, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID, VIOMMU_FAULT_CONFIG, 0);
	} else if (cdmax) {
		if (dss == VIOMMU_SMMUV3_STE_S1DSS_TERMINATE)
			return bad(f, VIOMMU_SMMUV3_EVT_F_STREAM_DISABLED, VIOMMU_FAULT_BLOCKED, 0);
		if (dss == VIOMMU_SMMUV3_STE_S1DSS_BYPASS) {
			c->kind = c->kind == SMMU_K_NESTED ? SMMU_K_S2 : SMMU_K_BYPASS;
			c->tag.dom = c->vmid | TAG_S2 << 16;
			return 0;
		}
	}
	if (cd_fetch(s, ste, c, ssid == SMMU_NO_SSID ? 0 : ssid, cd, f) || cd_decode(s, cd, c, f))
		return -1;
	c->tag.dom = c->vmid | (c->kind == SMMU_K_NESTED ? TAG_NESTED : TAG_S1) << 16;
	c->tag.pasid = c->asid;
	return 0;
}

int vi_smmu_cfg_get(struct smmu *s, uint32_t sid, uint32_t ssid, struct smmu_cfg_slot **slot,
		    struct smmu_fault *f)
{
	struct smmu_cfg_slot *sl = &s->cfg_cache[smmu_slot_of(sid, ssid)];
	struct smmu_cfg c;

	*slot = sl;
	if (sl->gen == s->cfg_gen && sl->sid == sid && sl->ssid == ssid) {
		s->st.cfg_hits++;
		return 0;
	}
	s->st.cfg_misses++;
	memset(f, 0, sizeof(*f));
	if (decode(s, sid, ssid, &c, f))
		return -1; /* not cached: a bad entry is fetched (and reported) again */
	s->seen[sid / 64] |= 1ull << (sid % 64);
	sl->gen = s->cfg_gen;
	sl->sid = sid;
	sl->ssid = ssid;
	sl->cfg = c;
	return 0;
}
