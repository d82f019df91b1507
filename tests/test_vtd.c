// SPDX-License-Identifier: MIT
/*
 * Intel VT-d model: register file, spec sequences through the guest driver model, every fault
 * reason, queued invalidation (good and hostile), caching-mode notifications, and a randomized
 * run against a reference that knows what a translation may legally return at each instant.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/pt.h>
#include <viommu/spec/vtd.h>
#include <viommu/vtd.h>

#include "vtd_driver.h"

#define MEM_SIZE (64ull << 20)
#define POOL_BASE (1ull << 20)
#define POOL_SIZE (32ull << 20)
#define RAW_BASE (40ull << 20) /* hand-built tables for hostile cases */

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vtd *d;
	struct test_msi_log msi;
	uint64_t frcd; /* offset of the fault recording registers */
	uint64_t iro;
};

/* The fixture's MMIO accesses (test_common.h). */
#define rd(f, off, size) test_mmio_rd((f)->v, (off), (size))
#define wr(f, off, size, val) test_mmio_wr((f)->v, (off), (size), (val))

static void fx_init(struct fx *f, const struct viommu_vtd_config *cfg, bool with_driver,
		    bool deferred)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	viommu_flatmem_set_irq_handlers(f->fm, test_on_msi, NULL, &f->msi);
	assert_int_equal(viommu_vtd_create(cfg, viommu_flatmem_ops(), f->fm, &f->v), 0);
	f->frcd = VIOMMU_VTD_CAP_FRO_GET(rd(f, VIOMMU_VTD_CAP_REG, 8)) * 16;
	f->iro = VIOMMU_VTD_ECAP_IRO_GET(rd(f, VIOMMU_VTD_ECAP_REG, 8)) * 16;
	if (with_driver) {
		struct vg_vtd_config dc = { .iommu = f->v,
					    .mem = f->fm,
					    .pool_base = POOL_BASE,
					    .pool_size = POOL_SIZE,
					    .deferred = deferred,
					    .batch = 64 };

		assert_int_equal(vg_vtd_create(&dc, &f->d), 0);
		assert_int_equal(vg_vtd_enable(f->d), 0);
	}
}

static void fx_fini(struct fx *f)
{
	vg_vtd_destroy(f->d);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static struct viommu_vtd_config cfg_default(void)
{
	struct viommu_vtd_config c;

	viommu_vtd_config_init(&c);
	return c;
}

static struct viommu_xlate_result xl(struct fx *f, uint32_t sid, uint64_t iova, uint32_t acc)
{
	return test_xl(f->v, sid, iova, 8, acc);
}

/* The fault recording register @i: its low and high quadwords. */
static void frcd(struct fx *f, unsigned int i, uint64_t *lo, uint64_t *hi)
{
	*lo = rd(f, f->frcd + i * 16, 8);
	*hi = rd(f, f->frcd + i * 16 + 8, 8);
}

static void clear_faults(struct fx *f, unsigned int nfr)
{
	for (unsigned int i = 0; i < nfr; i++)
		wr(f, f->frcd + i * 16 + 12, 4, 0x80000000u);
	wr(f, VIOMMU_VTD_FSTS_REG, 4, 0x7d);
}

static void put64(struct fx *f, uint64_t gpa, uint64_t v)
{
	uint8_t *p = viommu_flatmem_ptr(f->fm, gpa, 8);

	assert_non_null(p);
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	const uint8_t *p = viommu_flatmem_ptr(f->fm, gpa, 4);

	assert_non_null(p);
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------------------------------ */
/* Registers                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_caps(void **state)
{
	static const struct {
		uint32_t aw, sagaw;
	} widths[] = { { 39, 0x2 }, { 48, 0x6 }, { 57, 0xe } };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct viommu_vtd_config c = cfg_default();
		struct fx f;
		uint64_t cap, ecap;

		c.aw_bits = widths[i].aw;
		c.flags = VIOMMU_VTD_CM | VIOMMU_VTD_SLLPS_2M | VIOMMU_VTD_DT | VIOMMU_VTD_QI;
		c.mamv = 9;
		c.nfr = 4;
		fx_init(&f, &c, false, false);
		cap = rd(&f, VIOMMU_VTD_CAP_REG, 8);
		ecap = rd(&f, VIOMMU_VTD_ECAP_REG, 8);
		assert_int_equal(rd(&f, VIOMMU_VTD_VER_REG, 4), 0x10);
		assert_int_equal((cap >> 8) & 0x1f, widths[i].sagaw);
		assert_int_equal((cap >> 16) & 0x3f, widths[i].aw - 1);
		assert_true(cap & (1ull << 7));					/* CM */
		assert_int_equal((cap >> 34) & 0xf, 1);				/* SLLPS: 2M only */
		assert_true(cap & (1ull << 39));				/* PSI */
		assert_int_equal((cap >> 40) & 0xff, 3);			/* NFR - 1 */
		assert_int_equal((cap >> 48) & 0x3f, 9);			/* MAMV */
		assert_int_equal((ecap >> 1) & 1, 1);				/* QI */
		assert_int_equal((ecap >> 2) & 1, 1);				/* DT */
		assert_int_equal((ecap >> 6) & 1, 0);				/* PT off */
		assert_int_equal(ecap & 1, 0);					/* C off */
		assert_int_equal(rd(&f, VIOMMU_VTD_CAP_REG, 4), (uint32_t)cap); /* 32-bit halves */
		assert_int_equal(rd(&f, VIOMMU_VTD_CAP_REG + 4, 4), cap >> 32);
		/* Read-only registers ignore writes, and say so; GCMD reads zero; IM is set at reset. */
		{
			struct viommu_vtd_stats st;

			wr(&f, VIOMMU_VTD_CAP_REG, 8, 0);
			wr(&f, VIOMMU_VTD_CAP_REG + 4, 4, 0);
			wr(&f, 0x2000, 4, 0); /* past the register page */
			wr(&f, VIOMMU_VTD_GCMD_REG, 2,
			   0); /* a width the register file does not take */
			wr(&f, VIOMMU_VTD_FEDATA_REG + 2, 4, 0); /* misaligned */
			wr(&f, VIOMMU_VTD_FEDATA_REG, 4, 0x11);	 /* taken */
			assert_int_equal(viommu_vtd_get_stats(f.v, &st), 0);
			assert_int_equal(st.mmio_ignored, 5);
		}
		assert_int_equal(rd(&f, VIOMMU_VTD_CAP_REG, 8), cap);
		assert_int_equal(rd(&f, VIOMMU_VTD_GCMD_REG, 4), 0);
		assert_int_equal(rd(&f, VIOMMU_VTD_FECTL_REG, 4), 0x80000000u);
		assert_int_equal(rd(&f, VIOMMU_VTD_IECTL_REG, 4), 0x80000000u);
		/* Byte accesses and misaligned ones are not register accesses. */
		assert_int_equal(rd(&f, VIOMMU_VTD_CAP_REG, 1), 0);
		assert_int_equal(rd(&f, VIOMMU_VTD_CAP_REG + 2, 4), 0);
		assert_int_equal(rd(&f, 0x2000, 4), 0);
		fx_fini(&f);
	}
	{
		struct viommu_vtd_config c = cfg_default();
		struct viommu *v;

		c.aw_bits = 40;
		assert_int_equal(viommu_vtd_create(&c, viommu_flatmem_ops(), NULL, &v),
				 VIOMMU_EINVAL);
		c = cfg_default();
		c.nfr = 65;
		assert_int_equal(viommu_vtd_create(&c, viommu_flatmem_ops(), NULL, &v),
				 VIOMMU_EINVAL);
		assert_int_equal(viommu_vtd_create(&c, NULL, NULL, &v), VIOMMU_EINVAL);
	}
}

static void test_gcmd(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct fx f;

	(void)state;
	c.flags &= ~VIOMMU_VTD_QI;
	fx_init(&f, &c, false, false);
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4), 0);
	wr(&f, VIOMMU_VTD_RTADDR_REG, 8,
	   0x123000 | 0xc00 | 0x3ff); /* TTM and low bits: reserved here */
	assert_int_equal(rd(&f, VIOMMU_VTD_RTADDR_REG, 8), 0x123000);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 30); /* SRTP */
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4), 1u << 30);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 27); /* WBF completes at once: WBFS never seen */
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & (1u << 27), 0);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 26); /* QIE without ECAP.QI: no effect */
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & (1u << 26), 0);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4,
	   (1u << 25) | (1u << 24) | (1u << 23)); /* IRE, SIRTP, CFI accepted */
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & 0x03800000u, 0x03800000u);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4,
	   1u << 31); /* TE alone: IRE and CFI are persistent and now clear */
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & 0x82800000u, 0x80000000u);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 0);
	assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & (1u << 31), 0);
	/* A 64-bit read of GCMD/GSTS returns both halves. */
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 31);
	assert_int_equal(rd(&f, VIOMMU_VTD_GCMD_REG, 8), (uint64_t)rd(&f, VIOMMU_VTD_GSTS_REG, 4)
								 << 32);
	wr(&f, VIOMMU_VTD_PMEN_REG, 4, 1u << 31);
	assert_int_equal(rd(&f, VIOMMU_VTD_PMEN_REG, 4), 0x80000001u);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Spec sequence through the driver                                                            */
/* ------------------------------------------------------------------------------------------ */

static void test_enable_translate(void **state)
{
	for (int qi = 0; qi < 2; qi++) {
		struct viommu_vtd_config c = cfg_default();
		struct viommu_xlate_result r;
		struct viommu_vtd_stats st;
		struct fx f;
		uint64_t lo, hi;

		(void)state;
		if (!qi)
			c.flags &= ~VIOMMU_VTD_QI;
		fx_init(&f, &c, true, false);
		assert_int_equal(rd(&f, VIOMMU_VTD_GSTS_REG, 4) & 0xc4000000u,
				 qi ? 0xc4000000u : 0xc0000000u);
		assert_int_equal(vg_vtd_attach(f.d, 0x0108, 5, false), 0);
		assert_int_equal(vg_vtd_map(f.d, 5, 0x40000000, 0x200000, 0x3000, VIOMMU_ACC_READ),
				 0);
		assert_int_equal(vg_vtd_map(f.d, 5, 0x80000000, 0x400000, 0x200000, VIOMMU_ACC_RW),
				 0);
		r = xl(&f, 0x0108, 0x40001234, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, 0x201234);
		assert_int_equal(r.perm, VIOMMU_ACC_READ);
		assert_int_equal(r.page_shift, 12);
		r = xl(&f, 0x0108, 0x80012345, VIOMMU_ACC_WRITE);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, 0x412345);
		assert_int_equal(r.page_shift, 21);
		/* Hot: the second lookup hits. */
		r = xl(&f, 0x0108, 0x80012345, VIOMMU_ACC_WRITE);
		assert_int_equal(r.out, 0x412345);
		assert_int_equal(viommu_vtd_get_stats(f.v, &st), 0);
		assert_true(st.iotlb_hits >= 1);
		/* A read of the last byte of the page: len never crosses the leaf. */
		{
			struct viommu_xlate_req req = { .sid = 0x0108,
							.iova = 0x40002ff0,
							.len = 0x100,
							.access = VIOMMU_ACC_READ };

			assert_int_equal(viommu_translate(f.v, &req, &r), 0);
			assert_int_equal(r.len, 0x10);
		}
		/* Write to a read-only page: fault 0x5 recorded and signalled. */
		r = xl(&f, 0x0108, 0x40000000, VIOMMU_ACC_WRITE);
		assert_false(viommu_xlate_ok(&r));
		assert_int_equal(r.fault.reason, 0x5);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
		frcd(&f, 0, &lo, &hi);
		assert_int_equal(lo, 0x40000000);
		assert_int_equal(hi & 0xffff, 0x0108);
		assert_int_equal((hi >> 32) & 0xff, 0x5);
		assert_int_equal((hi >> 62) & 1, 0); /* T: write */
		assert_true(hi >> 63);
		assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 0xff03, 0x0002); /* PPF, FRI 0 */
		assert_int_equal(f.msi.n, 1);
		assert_int_equal(f.msi.addr, 0xfee00000);
		assert_int_equal(f.msi.data, 0x40);
		/* Unmapped read: 0x6, T = read, next record. */
		r = xl(&f, 0x0108, 0x50000000, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, 0x6);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
		frcd(&f, 1, &lo, &hi);
		assert_int_equal((hi >> 32) & 0xff, 0x6);
		assert_int_equal((hi >> 62) & 1, 1);
		assert_int_equal(f.msi.n, 1); /* PPF was already set: no new event */
		clear_faults(&f, 8);
		assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 3, 0);
		/* Unmap (strict): the translation is gone at once. */
		assert_int_equal(vg_vtd_unmap(f.d, 5, 0x40000000, 0x3000), 0);
		r = xl(&f, 0x0108, 0x40001234, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.reason, 0x6);
		/* Translation disabled: identity. */
		assert_int_equal(vg_vtd_disable(f.d), 0);
		r = xl(&f, 0x0108, 0x40001234, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, 0x40001234);
		fx_fini(&f);
	}
}

static void test_pass_through(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init(&f, &c, true, false);
	assert_int_equal(vg_vtd_attach(f.d, 0x10, 1, true), 0);
	r = xl(&f, 0x10, 0x12345678, VIOMMU_ACC_RW);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x12345678);
	r = xl(&f, 0x10, 1ull << 48, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x4);
	/* §3.14: the interrupt window is decoded before pass-through: an interrupt, not a fault. */
	r = xl(&f, 0x10, 0xfee00000, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, VIOMMU_XLATE_F_INTERRUPT);
	assert_int_equal(r.out, 0xfee00000);
	fx_fini(&f);
	/* ECAP.C follows the configuration (config_init offers it). */
	fx_init(&f, &c, false, false);
	assert_int_equal(rd(&f, VIOMMU_VTD_ECAP_REG, 8) & 1, 1);
	fx_fini(&f);
	/* Without ECAP.PT the same context is invalid programming. */
	c.flags &= ~VIOMMU_VTD_PT;
	fx_init(&f, &c, true, false);
	assert_int_equal(vg_vtd_attach(f.d, 0x10, 1, true), 0);
	r = xl(&f, 0x10, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x3);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Every fault reason                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Hand-built tables: root at RAW_BASE, context table for bus 0 at RAW_BASE + 0x1000. */
#define RAW_ROOT RAW_BASE
#define RAW_CTX (RAW_BASE + 0x1000)
#define RAW_SL (RAW_BASE + 0x2000) /* 4-level: L4, L3, L2, L1 at consecutive pages */

static void raw_setup(struct fx *f)
{
	memset(viommu_flatmem_ptr(f->fm, RAW_BASE, 0x10000), 0, 0x10000);
	put64(f, RAW_ROOT, RAW_CTX | 1);
	for (int l = 0; l < 3; l++)
		put64(f, RAW_SL + l * 0x1000, (RAW_SL + (l + 1) * 0x1000) | 3);
	put64(f, RAW_SL + 3 * 0x1000, 0x300000 | 1); /* iova 0 -> 0x300000, read-only */
	/* devfn 1: a good 4-level context, domain 7. */
	put64(f, RAW_CTX + 16 + 8, 2 | 7 << 8);
	put64(f, RAW_CTX + 16, RAW_SL | 1);
	wr(f, VIOMMU_VTD_RTADDR_REG, 8, RAW_ROOT);
	wr(f, VIOMMU_VTD_GCMD_REG, 4, 1u << 30);
	wr(f, VIOMMU_VTD_GCMD_REG, 4, 1u << 31);
	wr(f, VIOMMU_VTD_FECTL_REG, 4, 0);
	wr(f, VIOMMU_VTD_FEADDR_REG, 4, 0xfee01000);
	wr(f, VIOMMU_VTD_FEDATA_REG, 4, 0x77);
}

static void inval_all(struct fx *f)
{
	/* Register-based global context and IOTLB invalidation (QI is off in these cases). */
	wr(f, VIOMMU_VTD_CCMD_REG, 8, (1ull << 63) | (1ull << 61));
	wr(f, f->iro + 8, 8, (1ull << 63) | (1ull << 60));
}

static uint32_t fault_of(struct fx *f, uint32_t sid, uint64_t iova, uint32_t acc, bool has_pasid)
{
	struct viommu_xlate_req req = {
		.sid = sid, .iova = iova, .len = 4, .access = acc, .has_pasid = has_pasid, .pasid = 3
	};
	struct viommu_xlate_result res;
	uint64_t lo, hi;

	inval_all(f);
	clear_faults(f, 8);
	assert_int_equal(viommu_translate(f->v, &req, &res), 0);
	assert_false(viommu_xlate_ok(&res));
	frcd(f, (rd(f, VIOMMU_VTD_FSTS_REG, 4) >> 8) & 0xff, &lo, &hi);
	assert_true(hi >> 63);
	assert_int_equal((hi >> 32) & 0xff, res.fault.reason);
	assert_int_equal(hi & 0xffff, sid);
	assert_int_equal(lo, iova & ~0xfffull);
	return res.fault.reason;
}

static void test_fault_reasons(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct fx f;

	(void)state;
	c.flags = VIOMMU_VTD_SLLPS_2M; /* no QI, PT, DT or 1 GiB pages */
	fx_init(&f, &c, false, false);
	raw_setup(&f);
	{
		struct viommu_xlate_result r = xl(&f, 1, 0x10, VIOMMU_ACC_READ);

		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, 0x300010);
	}
	/* 0x1: bus 1 has no root entry. */
	assert_int_equal(fault_of(&f, 0x100, 0, VIOMMU_ACC_READ, false), 0x1);
	/* 0x2: devfn 2 has no context entry. */
	assert_int_equal(fault_of(&f, 2, 0, VIOMMU_ACC_READ, false), 0x2);
	/* 0x3: AW = 3 (57-bit) is not in SAGAW; then TT = 01b without ECAP.DT; TT = 11b. */
	put64(&f, RAW_CTX + 3 * 16 + 8, 3 | 7 << 8);
	put64(&f, RAW_CTX + 3 * 16, RAW_SL | 1);
	assert_int_equal(fault_of(&f, 3, 0, VIOMMU_ACC_READ, false), 0x3);
	put64(&f, RAW_CTX + 3 * 16 + 8, 2 | 7 << 8);
	put64(&f, RAW_CTX + 3 * 16, RAW_SL | 1 << 2 | 1);
	assert_int_equal(fault_of(&f, 3, 0, VIOMMU_ACC_READ, false), 0x3);
	put64(&f, RAW_CTX + 3 * 16, RAW_SL | 3 << 2 | 1);
	assert_int_equal(fault_of(&f, 3, 0, VIOMMU_ACC_READ, false), 0x3);
	/* 0x4: beyond the 48-bit width. */
	assert_int_equal(fault_of(&f, 1, 1ull << 48, VIOMMU_ACC_READ, false), 0x4);
	/* 0x5, 0x6: write to a read-only page; read of an absent one. */
	assert_int_equal(fault_of(&f, 1, 0, VIOMMU_ACC_WRITE, false), 0x5);
	assert_int_equal(fault_of(&f, 1, 0x1000, VIOMMU_ACC_READ, false), 0x6);
	/*
	 * 0x3 again (§7.1.3): the table SLPTPTR names lies outside guest memory. 0x7: a table
	 * reached through a paging entry does (L4 entry 1 points past memory).
	 */
	put64(&f, RAW_CTX + 4 * 16 + 8, 2 | 7 << 8);
	put64(&f, RAW_CTX + 4 * 16, (1ull << 40) | 1);
	assert_int_equal(fault_of(&f, 4, 0, VIOMMU_ACC_READ, false), 0x3);
	put64(&f, RAW_SL + 8, (1ull << 40) | 3);
	assert_int_equal(fault_of(&f, 1, 1ull << 39, VIOMMU_ACC_READ, false), 0x7);
	/* 0x9: the context table lies outside guest memory. */
	put64(&f, RAW_ROOT + 2 * 16, (1ull << 40) | 1);
	assert_int_equal(fault_of(&f, 0x200, 0, VIOMMU_ACC_READ, false), 0x9);
	/* 0xA: reserved bits in a present root entry (low, then the upper quadword). */
	put64(&f, RAW_ROOT + 3 * 16, RAW_CTX | 0x10 | 1);
	assert_int_equal(fault_of(&f, 0x300, 0, VIOMMU_ACC_READ, false), 0xa);
	put64(&f, RAW_ROOT + 3 * 16, RAW_CTX | 1);
	put64(&f, RAW_ROOT + 3 * 16 + 8, 1);
	assert_int_equal(fault_of(&f, 0x300, 0, VIOMMU_ACC_READ, false), 0xa);
	put64(&f, RAW_ROOT + 3 * 16 + 8, 0);
	put64(&f, RAW_ROOT + 3 * 16, RAW_CTX | 1ull << 50 | 1); /* above the 48-bit width */
	assert_int_equal(fault_of(&f, 0x300, 0, VIOMMU_ACC_READ, false), 0xa);
	/* 0xB: reserved bits in a present context entry (low bits 11:4, high bit 7, 63:24). */
	put64(&f, RAW_CTX + 5 * 16 + 8, 2 | 7 << 8);
	put64(&f, RAW_CTX + 5 * 16, RAW_SL | 0x100 | 1);
	assert_int_equal(fault_of(&f, 5, 0, VIOMMU_ACC_READ, false), 0xb);
	put64(&f, RAW_CTX + 5 * 16, RAW_SL | 1);
	put64(&f, RAW_CTX + 5 * 16 + 8, 2 | 7 << 8 | 1ull << 40);
	assert_int_equal(fault_of(&f, 5, 0, VIOMMU_ACC_READ, false), 0xb);
	put64(&f, RAW_CTX + 5 * 16 + 8, 2 | 7 << 8);
	put64(&f, RAW_CTX + 5 * 16, RAW_SL | 1ull << 49 | 1);
	assert_int_equal(fault_of(&f, 5, 0, VIOMMU_ACC_READ, false), 0xb);
	/* 0xC: a 1 GiB leaf where SLLPS offers none; a reserved bit (TM) in a leaf. */
	put64(&f, RAW_SL + 0x1000 + 8, 0x40000000 | 1 << 7 | 3);
	assert_int_equal(fault_of(&f, 1, 0x40000000, VIOMMU_ACC_READ, false), 0xc);
	put64(&f, RAW_SL + 3 * 0x1000 + 16, 0x500000 | 1ull << 62 | 3);
	assert_int_equal(fault_of(&f, 1, 0x2000, VIOMMU_ACC_READ, false), 0xc);
	put64(&f, RAW_SL + 3 * 0x1000 + 16, 0x500000 | 1ull << 48 | 3); /* beyond the width */
	assert_int_equal(fault_of(&f, 1, 0x2000, VIOMMU_ACC_READ, false), 0xc);
	/* 0xD: a request with PASID has no legacy context type that admits it. */
	assert_int_equal(fault_of(&f, 1, 0, VIOMMU_ACC_READ, true), 0xd);
	/* 0xE: a translation into the interrupt range. */
	put64(&f, RAW_SL + 3 * 0x1000 + 24, 0xfee00000 | 3);
	assert_int_equal(fault_of(&f, 1, 0x3000, VIOMMU_ACC_WRITE, false), 0xe);
	/* 0x8: the root table lies outside guest memory. */
	wr(&f, VIOMMU_VTD_RTADDR_REG, 8, 1ull << 40);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, (1u << 31) | (1u << 30));
	assert_int_equal(fault_of(&f, 1, 0, VIOMMU_ACC_READ, false), 0x8);
	fx_fini(&f);
}

/* Pass-through contexts are checked like the others: an AW that SAGAW does not offer is 0x3. */
static void test_pass_through_aw(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init(&f, &c, false, false);
	raw_setup(&f);
	put64(&f, RAW_CTX + 6 * 16 + 8, 2 | 7 << 8); /* TT = 10b, AW = 48-bit: offered */
	put64(&f, RAW_CTX + 6 * 16, 2 << 2 | 1);
	r = xl(&f, 6, 0x5000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x5000);
	put64(&f, RAW_CTX + 7 * 16 + 8, 3 | 7 << 8); /* AW = 57-bit: not in SAGAW */
	put64(&f, RAW_CTX + 7 * 16, 2 << 2 | 1);
	assert_int_equal(fault_of(&f, 7, 0x5000, VIOMMU_ACC_READ, false), 0x3);
	put64(&f, RAW_CTX + 7 * 16 + 8, 0 | 7 << 8); /* AW = 000b: no width at all */
	assert_int_equal(fault_of(&f, 7, 0x5000, VIOMMU_ACC_READ, false), 0x3);
	fx_fini(&f);
}

/*
 * §3.14: requests without PASID into 0xFEEx_xxxx are interrupt requests whatever the tables say
 * (the guest mapped that IOVA here) and whether translation is on; a translation whose output
 * lands in the window is blocked with 0xE, but a large leaf that only overlaps the window still
 * translates its other addresses.
 */
static void test_interrupt_window(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_req req = { .sid = 1, .access = VIOMMU_ACC_WRITE };
	struct viommu_xlate_result r;
	struct viommu_vtd_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, &c, false, false);
	/* Translation off: still an interrupt. */
	r = xl(&f, 1, 0xfee00ff0, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, VIOMMU_XLATE_F_INTERRUPT);
	raw_setup(&f);
	/* L1 entry for iova 0xfee00000 would be index 0 of its own tables: map it via a 2 MiB leaf. */
	put64(&f, RAW_SL + 0x1000 + 3 * 8, (RAW_SL + 0x5000) | 3);     /* L3[3]: iova 3 GiB.. */
	put64(&f, RAW_SL + 0x5000 + 0x1f7 * 8, 0x600000 | 1 << 7 | 3); /* L2[0x1f7]: 0xfee00000 */
	r = xl(&f, 1, 0xfee00010, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, VIOMMU_XLATE_F_INTERRUPT);
	assert_int_equal(r.out, 0xfee00010);
	assert_int_equal(r.perm, VIOMMU_ACC_WRITE);
	/* A request that ends in the window is a DMA up to it. */
	put64(&f, RAW_SL + 0x5000 + 0x1f6 * 8, 0x800000 | 1 << 7 | 3); /* 0xfec00000 */
	req.iova = 0xfedffff0;
	req.len = 0x40;
	assert_int_equal(viommu_translate(f.v, &req, &r), 0);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.out, 0x9ffff0);
	assert_int_equal(r.len, 0x10);
	/* Requests with PASID are not interrupts (legacy mode blocks them: 0xD). */
	assert_int_equal(fault_of(&f, 1, 0xfee00000, VIOMMU_ACC_WRITE, true), 0xd);
	/* A 1 GiB leaf whose output covers the window: its other addresses translate. */
	fx_fini(&f);
	c.flags |= VIOMMU_VTD_SLLPS_1G;
	fx_init(&f, &c, false, false);
	raw_setup(&f);
	put64(&f, RAW_SL + 0x1000 + 8, 0xc0000000 | 1 << 7 | 3); /* iova 1 GiB -> 3 GiB */
	req.iova = 0x40000000;
	req.len = 1ull << 30;
	assert_int_equal(viommu_translate(f.v, &req, &r), 0);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0xc0000000);
	assert_int_equal(r.len, 0xfee00000 - 0xc0000000); /* stops short of the window */
	assert_int_equal(fault_of(&f, 1, 0x40000000 + 0x3ee00008, VIOMMU_ACC_WRITE, false), 0xe);
	r = xl(&f, 1, 0x40000000 + 0x3ef00000, VIOMMU_ACC_READ); /* above the window */
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0xfef00000);
	/* Asked again, it is not served from an IOTLB entry that covers the window. */
	assert_int_equal(fault_of(&f, 1, 0x40000000 + 0x3ee00000, VIOMMU_ACC_READ, false), 0xe);
	assert_int_equal(viommu_vtd_get_stats(f.v, &st), 0);
	fx_fini(&f);
}

/* The result says whether a fault reached a recording register (and which), or why not. */
static void test_fault_record_flags(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	c.nfr = 2;
	fx_init(&f, &c, false, false);
	raw_setup(&f);
	r = xl(&f, 2, 0, VIOMMU_ACC_READ); /* no context entry: recorded in FRCD 0 */
	assert_int_equal(r.fault.reason, 0x2);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_RECORDED);
	assert_int_equal(r.fault.record, 0);
	r = xl(&f, 1, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_RECORDED);
	assert_int_equal(r.fault.record, 1);
	r = xl(&f, 1, 0x2000, VIOMMU_ACC_READ); /* both records full: overflow */
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
	assert_int_equal(r.fault.record, 0);
	clear_faults(&f, 2);
	/* FPD in the context entry: the qualified fault is suppressed. */
	put64(&f, RAW_CTX + 16, RAW_SL | 2 | 1);
	inval_all(&f);
	r = xl(&f, 1, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x6);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
	fx_fini(&f);
}

static void test_fpd_overflow_mask(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_result r;
	struct viommu_vtd_stats st;
	struct fx f;
	uint64_t lo, hi;

	(void)state;
	c.flags = 0;
	c.nfr = 2;
	fx_init(&f, &c, false, false);
	raw_setup(&f);
	/* FPD set: a qualified fault is a blocked result but is not recorded. */
	put64(&f, RAW_CTX + 16, RAW_SL | 2 | 1);
	inval_all(&f);
	r = xl(&f, 1, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x6);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 3, 0);
	assert_int_equal(f.msi.n, 0);
	/* FPD in a context entry that is not present suppresses too; a root fault is not. */
	put64(&f, RAW_CTX + 6 * 16, 2);
	r = xl(&f, 6, 0, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x2);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 3, 0);
	viommu_vtd_get_stats(f.v, &st);
	assert_int_equal(st.faults_suppressed, 2);
	/* Masked: IP set, no MSI; unmasking delivers it. */
	wr(&f, VIOMMU_VTD_FECTL_REG, 4, 0x80000000u);
	r = xl(&f, 0x500, 0, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x1);
	assert_int_equal(rd(&f, VIOMMU_VTD_FECTL_REG, 4), 0xc0000000u);
	assert_int_equal(f.msi.n, 0);
	wr(&f, VIOMMU_VTD_FECTL_REG, 4, 0);
	assert_int_equal(f.msi.n, 1);
	assert_int_equal(f.msi.addr, 0xfee01000);
	assert_int_equal(f.msi.data, 0x77);
	assert_int_equal(rd(&f, VIOMMU_VTD_FECTL_REG, 4), 0);
	/* Two records: the third fault overflows (PFO), and later ones are dropped too. */
	r = xl(&f, 0x501, 0, VIOMMU_ACC_READ);
	r = xl(&f, 0x502, 0, VIOMMU_ACC_READ);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 3, 3);
	r = xl(&f, 0x503, 0, VIOMMU_ACC_READ);
	frcd(&f, 0, &lo, &hi);
	assert_int_equal(hi & 0xffff, 0x500);
	frcd(&f, 1, &lo, &hi);
	assert_int_equal(hi & 0xffff, 0x501);
	viommu_vtd_get_stats(f.v, &st);
	assert_int_equal(st.faults_overflowed, 2);
	/* Clear the records and PFO: recording resumes at the next index. */
	clear_faults(&f, 2);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 3, 0);
	r = xl(&f, 0x504, 0, VIOMMU_ACC_READ);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 0xff03, 0x0002);
	frcd(&f, 0, &lo, &hi);
	assert_int_equal(hi & 0xffff, 0x504);
	/* F is RW1C; other bits of the record ignore writes. */
	wr(&f, f.frcd + 8, 8, 0);
	frcd(&f, 0, &lo, &hi);
	assert_int_equal(hi & 0xffff, 0x504);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Queued invalidation                                                                         */
/* ------------------------------------------------------------------------------------------ */

#define QBASE (RAW_BASE + 0x10000)
#define QSTATUS (RAW_BASE + 0x20000)

struct evlog {
	int n;
	struct viommu_event ev[64];
};

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct evlog *l = opaque;

	if (l->n < 64)
		l->ev[l->n] = *ev;
	l->n++;
}

static void qput(struct fx *f, unsigned int idx, uint64_t lo, uint64_t hi)
{
	put64(f, QBASE + idx * 16, lo);
	put64(f, QBASE + idx * 16 + 8, hi);
}

static void qi_on(struct fx *f)
{
	wr(f, VIOMMU_VTD_IQT_REG, 8, 0);
	wr(f, VIOMMU_VTD_IQA_REG, 8, QBASE | 0x800); /* DW = 1 is RsvdZ without scalable mode */
	assert_int_equal(rd(f, VIOMMU_VTD_IQA_REG, 8), QBASE);
	wr(f, VIOMMU_VTD_GCMD_REG, 4, 1u << 26);
	assert_int_equal(rd(f, VIOMMU_VTD_GSTS_REG, 4) & (1u << 26), 1u << 26);
	assert_int_equal(rd(f, VIOMMU_VTD_IQH_REG, 8), 0);
}

static void test_qi(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_notifier *n;
	struct viommu_vtd_stats st;
	struct evlog log = { 0 };
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_VTD_DT;
	fx_init(&f, &c, false, false);
	qi_on(&f);
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP,
					     on_event, &log, &n),
			 0);
	wr(&f, VIOMMU_VTD_IEDATA_REG, 4, 0x55);
	wr(&f, VIOMMU_VTD_IEADDR_REG, 4, 0xfee02000);
	wr(&f, VIOMMU_VTD_IECTL_REG, 4, 0);
	/* cc global, iotlb PSI (AM 2), dev-iotlb (S, 16 KiB), IEC, wait (SW + IF). */
	qput(&f, 0, 0x1 | 1 << 4, 0);
	qput(&f, 1, 0x2 | 3 << 4 | 9ull << 16, 0x7000 | 2);
	qput(&f, 2, 0x3 | 0x0203ull << 32, 0x12341000 | 1); /* S, one low 1: 16 KiB */
	qput(&f, 3, 0x4, 0);
	qput(&f, 4, 0x5 | 1 << 4 | 1 << 5 | 0xabcdull << 32, QSTATUS);
	wr(&f, VIOMMU_VTD_IQT_REG, 4, 5 << 4);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 5 << 4);
	assert_int_equal(get32(&f, QSTATUS), 0xabcd);
	assert_int_equal(rd(&f, VIOMMU_VTD_ICS_REG, 4), 1);
	assert_int_equal(f.msi.n, 1);
	assert_int_equal(f.msi.addr, 0xfee02000);
	assert_int_equal(f.msi.data, 0x55);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].type, VIOMMU_EV_DEVIOTLB_UNMAP);
	assert_int_equal(log.ev[0].sid, 0x0203);
	assert_int_equal(log.ev[0].iova, 0x12340000);
	assert_int_equal(log.ev[0].last, 0x12343fff);
	/* IWC already set: a second IF wait raises no interrupt until software clears it. */
	qput(&f, 5, 0x5 | 1 << 4, 0);
	wr(&f, VIOMMU_VTD_IQT_REG, 4, 6 << 4);
	assert_int_equal(f.msi.n, 1);
	wr(&f, VIOMMU_VTD_ICS_REG, 4, 1);
	assert_int_equal(rd(&f, VIOMMU_VTD_ICS_REG, 4), 0);
	viommu_vtd_get_stats(f.v, &st);
	assert_int_equal(st.qi_cc, 1);
	assert_int_equal(st.qi_iotlb, 1);
	assert_int_equal(st.qi_dev_iotlb, 1);
	assert_int_equal(st.qi_iec, 1);
	assert_int_equal(st.qi_wait, 2);
	assert_int_equal(st.inv_iotlb_page, 1);
	/* Register-based invalidation is refused while QI is on (CAIG = 0). */
	wr(&f, VIOMMU_VTD_CCMD_REG, 8, (1ull << 63) | (1ull << 61));
	assert_int_equal(rd(&f, VIOMMU_VTD_CCMD_REG, 8) >> 59, 4); /* ICC clear, CIRG 1, CAIG 0 */
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
}

/* A queue error at descriptor @bad of a 3-descriptor batch: IQE, head parked, IQEI. */
static void expect_iqe(struct fx *f, uint64_t lo, uint64_t hi, uint32_t iqei)
{
	uint64_t head = rd(f, VIOMMU_VTD_IQH_REG, 8) >> 4;

	qput(f, (unsigned int)head, 0x5 | 1 << 5 | 1ull << 32, QSTATUS);
	qput(f, (unsigned int)(head + 1) % 256, lo, hi);
	qput(f, (unsigned int)(head + 2) % 256, 0x5 | 1 << 5 | 2ull << 32, QSTATUS);
	put64(f, QSTATUS, 0);
	wr(f, VIOMMU_VTD_IQT_REG, 4, (uint32_t)((head + 3) % 256) << 4);
	assert_int_equal(get32(f, QSTATUS), 1);
	assert_int_equal(rd(f, VIOMMU_VTD_IQH_REG, 8) >> 4, (head + 1) % 256);
	assert_int_equal(rd(f, VIOMMU_VTD_FSTS_REG, 4) & 0x10, 0x10);
	assert_int_equal(rd(f, VIOMMU_VTD_IQERCD_REG, 8) & 0xf, iqei);
	/* While IQE is set nothing is fetched, whatever the tail says. */
	wr(f, VIOMMU_VTD_IQT_REG, 4, (uint32_t)((head + 3) % 256) << 4);
	assert_int_equal(rd(f, VIOMMU_VTD_IQH_REG, 8) >> 4, (head + 1) % 256);
	/* Software replaces the bad descriptor and clears IQE: the queue goes on. */
	qput(f, (unsigned int)(head + 1) % 256, 0x4, 0);
	wr(f, VIOMMU_VTD_FSTS_REG, 4, 0x10);
	assert_int_equal(rd(f, VIOMMU_VTD_IQERCD_REG, 8) & 0xf, 0);
	assert_int_equal(rd(f, VIOMMU_VTD_IQH_REG, 8) >> 4, (head + 3) % 256);
	assert_int_equal(get32(f, QSTATUS), 2);
}

static void test_qi_hostile(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct fx f;

	(void)state;
	fx_init(&f, &c, false, false);
	qi_on(&f);
	wr(&f, VIOMMU_VTD_FECTL_REG, 4, 0);
	expect_iqe(&f, 0x0, 0, 3);			 /* type 0 */
	expect_iqe(&f, 0x6, 0, 3);			 /* PASID-IOTLB: not in legacy mode */
	expect_iqe(&f, 0x1 | 1 << 9, 0, 3);		 /* type[6:4] set */
	expect_iqe(&f, 0x3, 0, 3);			 /* device-TLB without ECAP.DT */
	expect_iqe(&f, 0x1, 0, 4);			 /* cc granularity 0 */
	expect_iqe(&f, 0x1 | 1 << 4 | 1ull << 50, 0, 4); /* cc reserved */
	expect_iqe(&f, 0x1 | 1 << 4, 1, 4);		 /* cc high quadword */
	expect_iqe(&f, 0x2 | 1 << 4 | 1ull << 40, 0, 4); /* iotlb reserved */
	expect_iqe(&f, 0x2 | 3 << 4, 19, 4);		 /* AM 19 > MAMV 18 */
	expect_iqe(&f, 0x2 | 3 << 4, 1 << 7, 4);	 /* iotlb high reserved */
	expect_iqe(&f, 0x4 | 1ull << 50, 0, 4);		 /* iec reserved */
	expect_iqe(&f, 0x5 | 1 << 7, 0, 4);		 /* wait PD without page drain */
	expect_iqe(&f, 0x5 | 1 << 20, QSTATUS, 4);	 /* wait reserved */
	expect_iqe(&f, 0x5 | 1 << 5, QSTATUS | 1, 4);	 /* status address low bits */
	/* The first error raised a fault event; later ones found IQE pending... */
	assert_true(f.msi.n >= 1);
	/* A tail beyond the queue size. */
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 0);
	wr(&f, VIOMMU_VTD_IQT_REG, 8, 0);
	wr(&f, VIOMMU_VTD_IQA_REG, 8, QBASE); /* QS = 0: 256 entries */
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 26);
	wr(&f, VIOMMU_VTD_IQT_REG, 8, 300ull << 4);
	assert_int_equal(rd(&f, VIOMMU_VTD_FSTS_REG, 4) & 0x10, 0x10);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQERCD_REG, 8) & 0xf, 1);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 0);
	wr(&f, VIOMMU_VTD_IQT_REG, 8, 0);
	wr(&f, VIOMMU_VTD_FSTS_REG, 4, 0x10);
	/* Fetch error: the queue outside guest memory. */
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 0);
	wr(&f, VIOMMU_VTD_IQT_REG, 8, 0);
	wr(&f, VIOMMU_VTD_IQA_REG, 8, 1ull << 40);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 26);
	wr(&f, VIOMMU_VTD_IQT_REG, 8, 1 << 4);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQERCD_REG, 8) & 0xf, 2);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 0);
	/* IQA cannot change while the queue is enabled. */
	wr(&f, VIOMMU_VTD_IQA_REG, 8, QBASE);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQA_REG, 8), 1ull << 40);
	fx_fini(&f);
}

static void test_qi_endless(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_vtd_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, &c, false, false);
	/* A full queue of waits: one doorbell runs at most the queue, then stops at the tail. */
	for (unsigned int i = 0; i < 256; i++)
		qput(&f, i, 0x5 | 1 << 5 | (uint64_t)i << 32, QSTATUS);
	qi_on(&f);
	wr(&f, VIOMMU_VTD_IQT_REG, 4, 255 << 4);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 255 << 4);
	assert_int_equal(get32(&f, QSTATUS), 254);
	viommu_vtd_get_stats(f.v, &st);
	assert_int_equal(st.qi_wait, 255);
	/* Wrapping: tail 10 runs 255, 0 .. 9 (11 descriptors). */
	wr(&f, VIOMMU_VTD_IQT_REG, 4, 10 << 4);
	viommu_vtd_get_stats(f.v, &st);
	assert_int_equal(st.qi_wait, 266);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 10 << 4);
	/* Tail written before enabling is honoured at enable; disable resets the head. */
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 0);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 0);
	wr(&f, VIOMMU_VTD_IQT_REG, 4, 3 << 4);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 26);
	assert_int_equal(rd(&f, VIOMMU_VTD_IQH_REG, 8), 3 << 4);
	fx_fini(&f);
}

static void test_register_invalidation(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct fx f;

	(void)state;
	c.flags &= ~VIOMMU_VTD_QI;
	c.mamv = 4;
	fx_init(&f, &c, false, false);
	/* Context: domain-selective, as two 32-bit writes (the command fires on the upper one). */
	wr(&f, VIOMMU_VTD_CCMD_REG, 4, 9);
	assert_int_equal(rd(&f, VIOMMU_VTD_CCMD_REG, 8) >> 63, 0);
	wr(&f, VIOMMU_VTD_CCMD_REG + 4, 4, 0x80000000u | 2u << 29);
	assert_int_equal(rd(&f, VIOMMU_VTD_CCMD_REG, 8) >> 59,
			 0xa); /* ICC clear, CIRG = CAIG = domain */
	/* IOTLB: page-selective with AM 4 works; AM 5 > MAMV is not performed (IAIG = 0). */
	wr(&f, f.iro, 8, 0x10000 | 4);
	wr(&f, f.iro + 8, 8, (1ull << 63) | (3ull << 60) | (9ull << 32));
	assert_int_equal(rd(&f, f.iro + 8, 8) >> 57, 0x1b); /* IIRG 3, IAIG 3 */
	wr(&f, f.iro, 8, 0x10000 | 5);
	wr(&f, f.iro + 8, 8, (1ull << 63) | (3ull << 60) | (9ull << 32));
	assert_int_equal(rd(&f, f.iro + 8, 8) >> 57, 0x18); /* IAIG 0: not done */
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Stale translations and caching-mode notifications                                           */
/* ------------------------------------------------------------------------------------------ */

static void test_stale_until_invalidated(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init(&f, &c, true, true); /* deferred flushing */
	assert_int_equal(vg_vtd_attach(f.d, 0x20, 3, false), 0);
	assert_int_equal(vg_vtd_map(f.d, 3, 0x10000, 0x800000, 0x1000, VIOMMU_ACC_RW), 0);
	r = xl(&f, 0x20, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x800000);
	assert_int_equal(vg_vtd_unmap(f.d, 3, 0x10000, 0x1000), 0);
	/* Cached and not yet invalidated: the old translation may still be used. */
	r = xl(&f, 0x20, 0x10000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x800000);
	assert_int_equal(vg_vtd_flush(f.d), 0);
	r = xl(&f, 0x20, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x6);
	/* Context changes are cached too until the context cache is invalidated. */
	assert_int_equal(vg_vtd_map(f.d, 3, 0x10000, 0x900000, 0x1000, VIOMMU_ACC_RW), 0);
	r = xl(&f, 0x20, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x900000);
	assert_int_equal(vg_vtd_detach(f.d, 0x20), 0);
	r = xl(&f, 0x20, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, 0x2);
	fx_fini(&f);
}

/*
 * A host whose RAM moves: its dma_map_ptr pointers are stable (the walker keeps them) until the
 * host says otherwise with viommu_mem_changed().
 */
struct movmem {
	uint8_t *cur;
	size_t size;
};

static ssize_t mov_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct movmem *m = opaque;

	if (gpa >= m->size || len > m->size - gpa)
		return VIOMMU_EFAULT;
	memcpy(buf, m->cur + gpa, len);
	return (ssize_t)len;
}

static ssize_t mov_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	struct movmem *m = opaque;

	if (gpa >= m->size || len > m->size - gpa)
		return VIOMMU_EFAULT;
	memcpy(m->cur + gpa, buf, len);
	return (ssize_t)len;
}

static void *mov_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			 struct viommu_dma_span *span)
{
	struct movmem *m = opaque;

	(void)write;
	if (gpa >= m->size || len > m->size - gpa)
		return NULL;
	span->gpa = 0;
	span->len = m->size;
	span->flags = VIOMMU_DMA_SPAN_STABLE;
	return m->cur + gpa;
}

static void mov_put(struct movmem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->cur + gpa, &v, 8);
}

static void test_mem_changed(void **state)
{
	const struct viommu_host_ops ops = { .dma_read = mov_read,
					     .dma_write = mov_write,
					     .dma_map_ptr = mov_map_ptr };
	struct viommu_vtd_config c = cfg_default();
	struct movmem m = { .size = 1 << 20 };
	struct viommu_xlate_result r;
	uint8_t *old;
	struct fx f;

	(void)state;
	memset(&f, 0, sizeof(f));
	m.cur = calloc(1, m.size);
	assert_non_null(m.cur);
	assert_int_equal(viommu_vtd_create(&c, &ops, &m, &f.v), 0);
	/* Root, context (devfn 1, domain 7, 4 levels), tables at 0x3000-0x6000: iova 0 only. */
	mov_put(&m, 0x1000, 0x2000 | 1);
	mov_put(&m, 0x2000 + 16, 0x3000 | 1);
	mov_put(&m, 0x2000 + 24, 2 | 7 << 8);
	for (int l = 0; l < 3; l++)
		mov_put(&m, 0x3000 + l * 0x1000, (0x4000 + l * 0x1000) | 3);
	mov_put(&m, 0x6000, 0x300000 | 1);
	wr(&f, VIOMMU_VTD_RTADDR_REG, 8, 0x1000);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 30);
	wr(&f, VIOMMU_VTD_GCMD_REG, 4, 1u << 31);
	r = xl(&f, 1, 0, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x300000);
	/* The RAM moves to new host memory; the old copy is reused for something else. */
	old = m.cur;
	m.cur = malloc(m.size);
	assert_non_null(m.cur);
	memcpy(m.cur, old, m.size);
	memset(old, 0, m.size);
	viommu_mem_changed(f.v);
	free(old);
	/* The guest maps page 1; a walk through the old pointer would find nothing there. */
	mov_put(&m, 0x6000 + 8, 0x301000 | 1);
	r = xl(&f, 1, 0x1000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x301000);
	viommu_mem_changed(NULL);
	viommu_destroy(f.v);
	free(m.cur);
}

static void test_cm_notify(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_notifier *n, *u;
	struct evlog log = { 0 }, ulog = { 0 };
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_VTD_CM;
	fx_init(&f, &c, true, false);
	assert_int_equal(viommu_notifier_add(f.v, 0x30, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event,
					     &log, &n),
			 0);
	assert_int_equal(viommu_notifier_add(f.v, 0x30, VIOMMU_EV_UNMAP, on_event, &ulog, &u), 0);
	assert_int_equal(vg_vtd_attach(f.d, 0x30, 4, false), 0);
	assert_int_equal(log.n, 0); /* nothing mapped yet */
	/* Map: exactly the new range, once. */
	assert_int_equal(vg_vtd_map(f.d, 4, 0x100000, 0x600000, 0x2000, VIOMMU_ACC_READ), 0);
	assert_int_equal(log.n, 2); /* one MAP per 4 KiB leaf */
	assert_int_equal(log.ev[0].type, VIOMMU_EV_MAP);
	assert_int_equal(log.ev[0].iova, 0x100000);
	assert_int_equal(log.ev[0].last, 0x100fff);
	assert_int_equal(log.ev[0].out, 0x600000);
	assert_int_equal(log.ev[0].perm, VIOMMU_ACC_READ);
	assert_int_equal(log.ev[1].iova, 0x101000);
	assert_int_equal(log.ev[1].out, 0x601000);
	/* The UNMAP-only consumer hears one UNMAP per invalidation: cc, DSI (attach), PSI. */
	assert_int_equal(ulog.n, 3);
	assert_int_equal(ulog.ev[2].type, VIOMMU_EV_UNMAP);
	assert_int_equal(ulog.ev[2].iova, 0x100000);
	assert_int_equal(ulog.ev[2].last, 0x101fff);
	/* A flush of an unchanged range says nothing to MAP consumers. */
	log.n = 0;
	assert_int_equal(vg_vtd_flush_range(f.d, 4, 0x100000, 0x2000), 0);
	assert_int_equal(log.n, 0);
	/* A domain flush re-syncs everything and still unmaps nothing live. */
	assert_int_equal(vg_vtd_map(f.d, 4, 0x200000, 0x800000, 0x200000, VIOMMU_ACC_RW), 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].last, 0x3fffff);
	log.n = 0;
	assert_int_equal(vg_vtd_detach(f.d, 0x30), 0); /* context cleared: everything goes */
	assert_int_equal(log.n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(log.ev[i].type, VIOMMU_EV_UNMAP);
	log.n = 0;
	assert_int_equal(vg_vtd_attach(f.d, 0x30, 4, false), 0);
	assert_int_equal(log.n, 3);
	/* Unmap: UNMAP of exactly that page; the neighbour stays. */
	log.n = 0;
	assert_int_equal(vg_vtd_unmap(f.d, 4, 0x101000, 0x1000), 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(log.ev[0].iova, 0x101000);
	assert_int_equal(log.ev[0].last, 0x101fff);
	/* Replay sends what consumers hold. */
	{
		struct evlog rlog = { 0 };
		struct viommu_notifier *r;

		assert_int_equal(viommu_notifier_add(f.v, 0x30, VIOMMU_EV_MAP, on_event, &rlog, &r),
				 0);
		assert_int_equal(viommu_notifier_replay(f.v, r), 0);
		assert_int_equal(rlog.n, 2);
		assert_int_equal(rlog.ev[0].iova, 0x100000);
		assert_int_equal(rlog.ev[1].iova, 0x200000);
		viommu_notifier_del(f.v, r);
	}
	viommu_notifier_del(f.v, n);
	viommu_notifier_del(f.v, u);
	fx_fini(&f);
}

static void test_driver_dev_iotlb(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_notifier *n;
	struct evlog log = { 0 };
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_VTD_DT;
	fx_init(&f, &c, true, false);
	assert_int_equal(
		viommu_notifier_add(f.v, 0x0500, VIOMMU_EV_DEVIOTLB_UNMAP, on_event, &log, &n), 0);
	assert_int_equal(vg_vtd_flush_dev_iotlb(f.d, 0x0500, 0x13000, 0x1000), 0);
	assert_int_equal(vg_vtd_flush_dev_iotlb(f.d, 0x0500, 0x10000, 0x4000), 0);
	assert_int_equal(vg_vtd_flush_dev_iotlb(f.d, 0x0500, 0x200000, 0x200000), 0);
	assert_int_equal(vg_vtd_flush_dev_iotlb(f.d, 0x0501, 0x0, 0x1000), 0); /* not ours */
	assert_int_equal(log.n, 3);
	assert_int_equal(log.ev[0].iova, 0x13000);
	assert_int_equal(log.ev[0].last, 0x13fff);
	assert_int_equal(log.ev[1].iova, 0x10000);
	assert_int_equal(log.ev[1].last, 0x13fff);
	assert_int_equal(log.ev[2].iova, 0x200000);
	assert_int_equal(log.ev[2].last, 0x3fffff);
	assert_int_equal(log.ev[2].sid, 0x0500);
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
}

static void test_te_toggle_replay_any(void **state)
{
	struct viommu_vtd_config c = cfg_default();
	struct viommu_notifier *n;
	struct evlog log = { 0 };
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_VTD_CM;
	fx_init(&f, &c, true, false);
	assert_int_equal(vg_vtd_attach(f.d, 0x0301, 2, false), 0);
	assert_int_equal(vg_vtd_map(f.d, 2, 0x7000, 0x9000, 0x1000, VIOMMU_ACC_RW), 0);
	/* A consumer of every requester: replay finds the device by scanning the tables. */
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     on_event, &log, &n),
			 0);
	assert_int_equal(viommu_notifier_replay(f.v, n), 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.ev[0].sid, 0x0301);
	assert_int_equal(log.ev[0].iova, 0x7000);
	assert_int_equal(log.ev[0].out, 0x9000);
	/* Translation off: the page goes, identity (minus the interrupt range) comes. */
	log.n = 0;
	assert_int_equal(vg_vtd_disable(f.d), 0);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(log.ev[1].type, VIOMMU_EV_MAP);
	assert_int_equal(log.ev[1].iova, 0);
	assert_int_equal(log.ev[1].last, 0xfedfffff);
	assert_int_equal(log.ev[2].iova, 0xfef00000);
	assert_int_equal(log.ev[2].last, UINT64_MAX);
	/* And back. */
	log.n = 0;
	assert_int_equal(vg_vtd_enable(f.d), 0);
	assert_int_equal(log.ev[log.n - 1].type, VIOMMU_EV_MAP);
	assert_int_equal(log.ev[log.n - 1].iova, 0x7000);
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Randomized run against a reference                                                          */
/* ------------------------------------------------------------------------------------------ */

#define RPAGES 1024 /* 4 MiB of IOVA: room for two 2 MiB superpages */
#define RSIDS 2
#define NONE UINT64_MAX

/* What a page may legally translate to now: the current mapping and stale ones not yet flushed. */
struct rpage {
	uint64_t cur; /* output page or NONE */
	uint32_t perm;
	uint64_t stale[8];
	uint32_t stale_perm[8];
	int nstale;
	bool none_ok;  /* a fault is legal (current or a stale state is unmapped) */
	uint32_t run;  /* first page of the mapped run holding this page */
	uint32_t nrun; /* pages in that run (on its first page) */
};

/* A consumer's picture, per 4 KiB page: a shadow table (MAP/UNMAP) or a device TLB (UNMAP). */
struct shadow {
	uint64_t out[RPAGES];
	uint32_t perm[RPAGES];
	bool devtlb; /* filled from translations, emptied by UNMAP */
	bool bad;
};

struct rctx {
	struct rpage pg[RPAGES];
	struct shadow sh[RSIDS];
	struct shadow tlb[RSIDS];
};

static struct rctx *g_ref;

static void on_shadow(void *opaque, const struct viommu_event *ev)
{
	struct shadow *sh = opaque;

	for (uint64_t a = ev->iova & ~0xfffull; a <= ev->last && a < RPAGES * 4096ull; a += 4096) {
		uint64_t i = a / 4096;

		if (ev->type == VIOMMU_EV_MAP) {
			/* A MAP over a page the consumer already holds would be a double map. */
			if (sh->out[i] != NONE)
				sh->bad = true;
			sh->out[i] = ev->out + (a - ev->iova);
			sh->perm[i] = ev->perm;
		} else {
			/* UNMAP of a page whose translation did not change: a transient unmap. */
			const struct rpage *p = &g_ref->pg[i];

			if (!sh->devtlb && sh->out[i] != NONE && p->cur == sh->out[i] &&
			    p->perm == sh->perm[i])
				sh->bad = true;
			sh->out[i] = NONE;
		}
	}
}

static void ref_flushed(struct rctx *rc, uint64_t first, uint64_t npages)
{
	for (uint64_t i = first; i < first + npages && i < RPAGES; i++) {
		rc->pg[i].nstale = 0;
		rc->pg[i].none_ok = rc->pg[i].cur == NONE;
	}
}

/* §3.14: a translation into the interrupt window is blocked (0xE), never returned. */
static bool in_window(uint64_t out)
{
	return out != NONE && out >= 0xfee00000 && out <= 0xfeefffff;
}

static bool legal(const struct rpage *p, uint64_t page, uint32_t perm)
{
	if (in_window(page))
		return false;
	if (page == p->cur && perm == p->perm)
		return true;
	for (int k = 0; k < p->nstale; k++) {
		if (page == p->stale[k] && perm == p->stale_perm[k])
			return true;
	}
	return false;
}

/*
 * @cm_qi: caching mode, queued invalidation, deferred flushing, 4 KiB pages, shadow consumers.
 * Otherwise: no caching mode, register-based invalidation, strict flushing, 2 MiB pages too.
 * Both run device-TLB consumers (UNMAP only, filled from translations).
 */
static void random_run(uint64_t seed, bool cm_qi, long nops)
{
	struct test_rng rng = { seed };
	struct viommu_vtd_config c = cfg_default();
	struct viommu_notifier *n[RSIDS], *tn[RSIDS];
	struct rctx *rc = calloc(1, sizeof(*rc));
	struct vg_vtd_config dc = { 0 };
	struct fx f;
	long ops = 0, xlates = 0, supers = 0;

	assert_non_null(rc);
	g_ref = rc;
	if (cm_qi)
		c.flags |= VIOMMU_VTD_CM;
	else
		c.flags &= ~VIOMMU_VTD_QI;
	c.iotlb_capacity = 64; /* small: evictions and refills all the time */
	fx_init(&f, &c, false, false);
	dc.iommu = f.v;
	dc.mem = f.fm;
	dc.pool_base = POOL_BASE;
	dc.pool_size = POOL_SIZE;
	dc.deferred = cm_qi;
	dc.batch = 64;
	dc.no_superpages = cm_qi;
	assert_int_equal(vg_vtd_create(&dc, &f.d), 0);
	assert_int_equal(vg_vtd_enable(f.d), 0);
	for (int s = 0; s < RSIDS; s++) {
		rc->tlb[s].devtlb = true;
		for (int i = 0; i < RPAGES; i++) {
			rc->sh[s].out[i] = NONE;
			rc->tlb[s].out[i] = NONE;
		}
		if (cm_qi)
			assert_int_equal(viommu_notifier_add(f.v, 0x40 + (uint32_t)s,
							     VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
							     on_shadow, &rc->sh[s], &n[s]),
					 0);
		assert_int_equal(viommu_notifier_add(f.v, 0x40 + (uint32_t)s, VIOMMU_EV_UNMAP,
						     on_shadow, &rc->tlb[s], &tn[s]),
				 0);
		assert_int_equal(vg_vtd_attach(f.d, 0x40 + (uint16_t)s, 6, false), 0);
	}
	/* The guest maps the interrupt window's IOVAs too: requests there must not use it. */
	assert_int_equal(vg_vtd_map(f.d, 6, 0xfee00000, 0x100000, 1 << 20, VIOMMU_ACC_RW), 0);
	for (int i = 0; i < RPAGES; i++) {
		rc->pg[i].cur = NONE;
		rc->pg[i].none_ok = true;
	}
	while (ops < nops) {
		/* The first op of a run with superpages maps one while the space is still free. */
		uint64_t r = ops == 0 && !cm_qi ? 0 : test_below(&rng, 100);
		uint64_t pg = test_below(&rng, RPAGES);
		uint64_t np = 1 + test_below(&rng, 4);

		ops++;
		if (!cm_qi && r < 2) { /* a 2 MiB superpage run */
			pg &= ~511ull;
			np = 512;
		}
		if (pg + np > RPAGES)
			np = RPAGES - pg;
		if (r < 20) { /* map a free run */
			bool free_run = true;
			uint64_t out = (1 + test_below(&rng, 4000)) << 12;
			uint32_t perm = 1 + (uint32_t)test_below(&rng, 3);

			if (np == 512)
				out = (1 + test_below(&rng, 15)) << 21;
			else if (test_below(&rng, 40) == 0) /* into the interrupt window */
				out = 0xfee00000 + (test_below(&rng, 252) << 12);
			for (uint64_t i = pg; i < pg + np; i++)
				free_run = free_run && rc->pg[i].cur == NONE;
			if (!free_run)
				continue;
			assert_int_equal(vg_vtd_map(f.d, 6, pg << 12, out, np << 12, perm), 0);
			supers += np == 512;
			for (uint64_t i = pg; i < pg + np; i++) {
				rc->pg[i].cur = out + ((i - pg) << 12);
				rc->pg[i].perm = perm;
				rc->pg[i].run = (uint32_t)pg;
			}
			rc->pg[pg].nrun = (uint32_t)np;
			/* Caching mode: the map was flushed page-selectively. */
			if (cm_qi)
				ref_flushed(rc, pg, np);
		} else if (r < 35) { /* unmap the run holding pg */
			struct vg_vtd_stats before, after;
			uint64_t first = rc->pg[pg].run;

			if (rc->pg[pg].cur == NONE)
				continue;
			np = rc->pg[first].nrun;
			vg_vtd_get_stats(f.d, &before);
			assert_int_equal(vg_vtd_unmap(f.d, 6, first << 12, np << 12), 0);
			vg_vtd_get_stats(f.d, &after);
			for (uint64_t i = first; i < first + np; i++) {
				struct rpage *p = &rc->pg[i];

				if (p->nstale < 8) {
					p->stale[p->nstale] = p->cur;
					p->stale_perm[p->nstale++] = p->perm;
				}
				p->cur = NONE;
				p->none_ok = true;
			}
			if (!cm_qi)
				ref_flushed(rc, first, np); /* strict */
			else if (after.dsi != before.dsi)
				ref_flushed(rc, 0, RPAGES); /* the batch filled: domain flush */
		} else if (r < 37) {
			assert_int_equal(vg_vtd_flush(f.d), 0);
			ref_flushed(rc, 0, RPAGES);
		} else if (r < 39) { /* into the interrupt window, which the guest mapped too */
			uint64_t iova = 0xfee00000 + test_below(&rng, 1 << 20);
			struct viommu_xlate_result res =
				xl(&f, 0x40 + (uint32_t)test_below(&rng, RSIDS), iova,
				   VIOMMU_ACC_WRITE);

			if (!viommu_xlate_ok(&res) || res.flags != VIOMMU_XLATE_F_INTERRUPT ||
			    res.out != iova)
				fail_msg("op %ld: window iova %llx not an interrupt request", ops,
					 (unsigned long long)iova);
		} else { /* DMA */
			uint32_t si = (uint32_t)test_below(&rng, RSIDS);
			uint32_t acc = test_below(&rng, 2) ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ;
			uint64_t off = test_below(&rng, 4096);
			struct viommu_xlate_result res = xl(&f, 0x40 + si, (pg << 12) + off, acc);
			const struct rpage *p = &rc->pg[pg];
			struct shadow *t = &rc->tlb[si];
			bool ok;

			xlates++;
			if (!viommu_xlate_ok(&res)) {
				/*
				 * Legal when some legal state is unmapped, lacks the right or
				 * translates into the interrupt window (then the reason is 0xE).
				 */
				ok = p->none_ok || !(p->perm & acc) ||
				     (in_window(p->cur) && res.fault.reason == 0xe);
				for (int k = 0; k < p->nstale && !ok; k++)
					ok = !(p->stale_perm[k] & acc) ||
					     (in_window(p->stale[k]) && res.fault.reason == 0xe);
			} else {
				ok = (res.perm & acc) && legal(p, res.out - off, res.perm);
				/* The device TLB caches what it was given. */
				t->out[pg] = res.out - off;
				t->perm[pg] = res.perm;
			}
			if (!ok)
				fail_msg("op %ld: page %llu acc %u got %s out %llx", ops,
					 (unsigned long long)pg, acc,
					 viommu_xlate_ok(&res) ? "ok" : "fault",
					 (unsigned long long)res.out);
			/* Whatever a device TLB still holds must be legal now. */
			for (int s = 0; s < RSIDS; s++) {
				const struct shadow *ts = &rc->tlb[s];

				if (ts->out[pg] != NONE && !legal(p, ts->out[pg], ts->perm[pg]))
					fail_msg("op %ld: device TLB %d holds a stale page %llu",
						 ops, s, (unsigned long long)pg);
			}
		}
		for (int s = 0; s < RSIDS; s++)
			assert_false(rc->sh[s].bad);
	}
	/* After a final flush consumers hold exactly the guest's tables (device TLBs: a subset). */
	assert_int_equal(vg_vtd_flush(f.d), 0);
	for (int s = 0; s < RSIDS; s++) {
		for (int i = 0; i < RPAGES; i++) {
			if (cm_qi && in_window(rc->pg[i].cur)) {
				/* MAP notifications never cover the interrupt window. */
				assert_int_equal(rc->sh[s].out[i], NONE);
			} else if (cm_qi) {
				assert_int_equal(rc->sh[s].out[i], rc->pg[i].cur);
				if (rc->pg[i].cur != NONE)
					assert_int_equal(rc->sh[s].perm[i], rc->pg[i].perm);
			}
			if (rc->tlb[s].out[i] != NONE)
				assert_int_equal(rc->tlb[s].out[i], rc->pg[i].cur);
		}
		if (cm_qi)
			viommu_notifier_del(f.v, n[s]);
		viommu_notifier_del(f.v, tn[s]);
	}
	assert_true(xlates > nops / 2);
	assert_true(cm_qi || supers > 0);
	fx_fini(&f);
	free(rc);
}

static void test_random_reference(void **state)
{
	uint64_t seed = test_seed(0x7d0c0ffee);

	(void)state;
	random_run(seed, true, 60000);
	random_run(seed ^ 0x5555, false, 60000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_gcmd),
		cmocka_unit_test(test_enable_translate),
		cmocka_unit_test(test_pass_through),
		cmocka_unit_test(test_fault_reasons),
		cmocka_unit_test(test_pass_through_aw),
		cmocka_unit_test(test_interrupt_window),
		cmocka_unit_test(test_fault_record_flags),
		cmocka_unit_test(test_fpd_overflow_mask),
		cmocka_unit_test(test_qi),
		cmocka_unit_test(test_qi_hostile),
		cmocka_unit_test(test_qi_endless),
		cmocka_unit_test(test_register_invalidation),
		cmocka_unit_test(test_stale_until_invalidated),
		cmocka_unit_test(test_mem_changed),
		cmocka_unit_test(test_cm_notify),
		cmocka_unit_test(test_te_toggle_replay_any),
		cmocka_unit_test(test_driver_dev_iotlb),
		cmocka_unit_test(test_random_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
