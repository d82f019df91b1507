// SPDX-License-Identifier: MIT
/*
 * SMMUv3 model: ID registers and reset values, GBPA, Linux's bring-up and STE/CD set-up through
 * the guest driver (guest/smmuv3_driver.c), stage 1, stage 2 and nested translation at every
 * granule, every event the model records checked field by field, command errors, CMD_SYNC
 * completion signals, invalidation (including range invalidation), queue overflow, the PRI
 * queue, consumer notifications with and without the caching-mode quirk, hostile programming,
 * and randomized runs against a reference that knows what a translation may legally return.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/smmuv3.h>
#include <viommu/spec/smmuv3.h>

#include "smmuv3_driver.h"

#define MEM_SIZE (64ull << 20)
#define POOL_BASE (1ull << 20)
#define POOL_SIZE (32ull << 20)
#define RAW_BASE (40ull << 20) /* hand-built structures for hostile cases */
#define DATA_BASE (48ull << 20)
#define OUTSIDE (1ull << 40) /* no guest memory there */
#define NO_SSID UINT32_MAX

struct irqs {
	int msi;
	uint64_t msi_addr;
	uint32_t msi_data;
	int line[4];
};

struct evlog {
	int n;
	uint64_t ev[64][4];
};

struct nlog {
	int n, map, unmap, dev;
	struct viommu_event last;
};

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_smmu *d;
	struct irqs irq;
	struct evlog evs;
};

static void on_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct irqs *q = opaque;

	q->msi++;
	q->msi_addr = addr;
	q->msi_data = data;
}

static void on_irq(void *opaque, unsigned int line, bool level)
{
	struct irqs *q = opaque;

	if (line < 4 && level)
		q->line[line]++;
}

static void on_record(void *opaque, const uint64_t *rec)
{
	struct evlog *l = opaque;

	if (l->n < 64)
		memcpy(l->ev[l->n], rec, 32);
	l->n++;
}

static void on_event(void *opaque, const struct viommu_event *ev)
{
	struct nlog *l = opaque;

	l->n++;
	l->map += ev->type == VIOMMU_EV_MAP;
	l->unmap += ev->type == VIOMMU_EV_UNMAP;
	l->dev += ev->type == VIOMMU_EV_DEVIOTLB_UNMAP;
	l->last = *ev;
}

/* The fixture's MMIO accesses (test_common.h). */
#define rd(f, off, size) test_mmio_rd((f)->v, (off), (size))
#define wr(f, off, size, val) test_mmio_wr((f)->v, (off), (size), (val))

static void fx_init_cfg(struct fx *f, const struct viommu_smmuv3_config *cfg,
			const struct vg_smmu_config *dcfg, bool with_driver)
{
	struct viommu_smmuv3_config c;

	memset(f, 0, sizeof(*f));
	if (cfg)
		c = *cfg;
	else
		viommu_smmuv3_config_init(&c);
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	viommu_flatmem_set_irq_handlers(f->fm, on_msi, on_irq, &f->irq);
	assert_int_equal(viommu_smmuv3_create(&c, viommu_flatmem_ops(), f->fm, &f->v), 0);
	if (with_driver) {
		struct vg_smmu_config dc = { 0 };

		if (dcfg)
			dc = *dcfg;
		dc.iommu = f->v;
		dc.mem = f->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		assert_int_equal(vg_smmu_create(&dc, &f->d), 0);
		assert_int_equal(vg_smmu_enable(f->d), 0);
	}
}

static void fx_init(struct fx *f)
{
	fx_init_cfg(f, NULL, NULL, true);
}

static void fx_fini(struct fx *f)
{
	vg_smmu_destroy(f->d);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static int xlate(struct fx *f, uint32_t sid, uint32_t ssid, uint64_t iova, uint32_t access,
		 struct viommu_xlate_result *res)
{
	struct viommu_xlate_req req = { .sid = sid, .iova = iova, .len = 1, .access = access };

	if (ssid != NO_SSID) {
		req.has_pasid = true;
		req.pasid = ssid;
	}
	assert_int_equal(viommu_translate(f->v, &req, res), 0);
	return viommu_xlate_ok(res) ? 0 : -1;
}

static void expect_out(struct fx *f, uint32_t sid, uint32_t ssid, uint64_t iova, uint32_t access,
		       uint64_t out)
{
	struct viommu_xlate_result res;

	assert_int_equal(xlate(f, sid, ssid, iova, access, &res), 0);
	assert_int_equal(res.out, out);
}

/* Provoke a blocked request and return its event record (the only one in the queue). */
static const uint64_t *expect_event(struct fx *f, uint32_t sid, uint32_t ssid, uint64_t iova,
				    uint32_t access, uint32_t id)
{
	struct viommu_xlate_result res;

	f->evs.n = 0;
	assert_int_equal(xlate(f, sid, ssid, iova, access, &res), -1);
	assert_int_equal(res.fault.reason, id);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_RECORDED);
	assert_int_equal(vg_smmu_handle_evtq(f->d, on_record, &f->evs), 1);
	assert_int_equal(VIOMMU_SMMUV3_EVT_0_ID_GET(f->evs.ev[0][0]), id);
	assert_int_equal(VIOMMU_SMMUV3_EVT_0_SID_GET(f->evs.ev[0][0]), sid);
	if (ssid != NO_SSID) {
		assert_true(f->evs.ev[0][0] & VIOMMU_SMMUV3_EVT_0_SSV);
		assert_int_equal(VIOMMU_SMMUV3_EVT_0_SSID_GET(f->evs.ev[0][0]), ssid);
	} else {
		assert_false(f->evs.ev[0][0] & VIOMMU_SMMUV3_EVT_0_SSV);
	}
	return f->evs.ev[0];
}

static void cmd_sync(struct fx *f, uint64_t c0, uint64_t c1)
{
	uint64_t c[2] = { c0, c1 };

	assert_int_equal(vg_smmu_cmd(f->d, c), 0);
	assert_int_equal(vg_smmu_sync(f->d), 0);
}

static void cfgi_ste(struct fx *f, uint32_t sid)
{
	cmd_sync(f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_CFGI_STE) |
			 VIOMMU_SMMUV3_CMD_0_SID_SET(sid),
		 VIOMMU_SMMUV3_CMD_1_LEAF);
}

static uint64_t ld(struct fx *f, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, viommu_flatmem_ptr(f->fm, gpa, 8), 8);
	return v;
}

static void st(struct fx *f, uint64_t gpa, uint64_t v)
{
	memcpy(viommu_flatmem_ptr(f->fm, gpa, 8), &v, 8);
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration, ID registers, reset values                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_config(void **state)
{
	struct viommu_smmuv3_config c, z = { 0 };
	struct viommu_smmuv3_stats st;
	struct viommu_amdvi_config ac;
	struct viommu *v1, *v2, *other;
	struct viommu_flatmem *fm;

	(void)state;
	viommu_smmuv3_config_init(&c);
	assert_int_equal(c.oas_bits, 48);
	assert_int_equal(c.sid_bits, 16);
	assert_int_equal(c.ssid_bits, 20);
	assert_int_equal(c.cmdq_bits, 19);
	assert_int_equal(c.granules, 7);
	assert_true(c.flags & VIOMMU_SMMUV3_S1);
	assert_true(c.flags & VIOMMU_SMMUV3_S2);
	assert_false(c.flags & VIOMMU_SMMUV3_CM);
	assert_int_equal(viommu_flatmem_create(0, 1 << 20, &fm), 0);
	/* Zero numbers take the defaults: the same registers as config_init's values. */
	z.flags = c.flags;
	assert_int_equal(viommu_smmuv3_create(&c, viommu_flatmem_ops(), fm, &v1), 0);
	assert_int_equal(viommu_smmuv3_create(&z, viommu_flatmem_ops(), fm, &v2), 0);
	for (uint64_t off = 0; off < 0x20; off += 4) {
		uint64_t a, b;

		viommu_mmio_read(v1, off, 4, &a);
		viommu_mmio_read(v2, off, 4, &b);
		assert_int_equal(a, b);
	}
	assert_string_equal(viommu_model_name(v1), "smmuv3");
	assert_int_equal(viommu_smmuv3_get_stats(v1, &st), 0);
	viommu_amdvi_config_init(&ac);
	assert_int_equal(viommu_amdvi_create(&ac, viommu_flatmem_ops(), fm, &other), 0);
	assert_int_equal(viommu_smmuv3_get_stats(other, &st), VIOMMU_EINVAL);
	assert_int_equal(viommu_smmuv3_reset(other), VIOMMU_EINVAL);
	viommu_destroy(other);
	viommu_destroy(v1);
	viommu_destroy(v2);
	/* Out of range. */
	z = c;
	z.flags = 0;
	assert_int_equal(viommu_smmuv3_create(&z, viommu_flatmem_ops(), fm, &v1), VIOMMU_EINVAL);
	z = c;
	z.oas_bits = 50;
	assert_int_equal(viommu_smmuv3_create(&z, viommu_flatmem_ops(), fm, &v1), VIOMMU_EINVAL);
	z = c;
	z.sid_bits = 21;
	assert_int_equal(viommu_smmuv3_create(&z, viommu_flatmem_ops(), fm, &v1), VIOMMU_EINVAL);
	z = c;
	z.flags &= ~VIOMMU_SMMUV3_ATS;
	assert_int_equal(viommu_smmuv3_create(&z, viommu_flatmem_ops(), fm, &v1), VIOMMU_EINVAL);
	viommu_flatmem_destroy(fm);
}

/* Several instances (one per host bridge) share nothing. */
static void test_instances(void **state)
{
	struct fx a, b;

	(void)state;
	fx_init(&a);
	fx_init(&b);
	assert_int_equal(vg_smmu_attach(a.d, 1, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_attach(b.d, 1, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_map(a.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(
		vg_smmu_map(b.d, false, 1, 0x1000, DATA_BASE + 0x8000, 0x1000, VIOMMU_ACC_RW), 0);
	expect_out(&a, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);
	expect_out(&b, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE + 0x8000);
	assert_int_equal(vg_smmu_unmap(a.d, false, 1, 0x1000, 0x1000), 0);
	expect_event(&a, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	expect_out(&b, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE + 0x8000);
	fx_fini(&a);
	fx_fini(&b);
}

static void test_idr_reset(void **state)
{
	struct fx f;
	uint32_t idr0;

	(void)state;
	fx_init_cfg(&f, NULL, NULL, false);
	idr0 = (uint32_t)rd(&f, VIOMMU_SMMUV3_IDR0, 4);
	/* S1P, S2P, TTF = AArch64, COHACC, HTTU = 1, ATS, NS1ATS, ASID16, MSI, PRI, VMID16, CD2L,
	 * TTENDIAN = LE, STALL_MODEL = 1, TERM_MODEL, ST_LEVEL = 1. */
	assert_int_equal(idr0, (1u << 0) | (1u << 1) | (2u << 2) | (1u << 4) | (1u << 6) |
				       (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) |
				       (1u << 16) | (1u << 18) | (1u << 19) | (2u << 21) |
				       (1u << 24) | (1u << 26) | (1u << 27));
	/* SIDSIZE 16, SSIDSIZE 20, PRIQS/EVENTQS/CMDQS 19. */
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_IDR1, 4),
			 16u | (20u << 6) | (19u << 11) | (19u << 16) | (19u << 21));
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_IDR3, 4), 1u << 10);	 /* RIL */
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_IDR5, 4), 5u | (7u << 4)); /* OAS 48, 4K/16K/64K */
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_AIDR, 4), 2);
	/* Reset values. */
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0ACK, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GBPA, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GERROR, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8), 0);
	/* IDRs are read-only; unknown offsets read zero; bad widths are refused. */
	wr(&f, VIOMMU_SMMUV3_IDR0, 4, 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_IDR0, 4), idr0);
	assert_int_equal(rd(&f, 0x3000, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_IDR0, 2), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0, 8), 0);
	/* 64-bit registers take two 32-bit halves. */
	wr(&f, VIOMMU_SMMUV3_STRTAB_BASE, 4, 0x12345640);
	wr(&f, VIOMMU_SMMUV3_STRTAB_BASE + 4, 4, 0x1);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8), 0x112345640ull);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_STRTAB_BASE + 4, 4), 1);
	/* CR0ACK follows CR0 at once; reserved CR0 bits stay clear. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, 0xffffffff);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0ACK, 4), 0x1f);
	/* Guarded registers ignore writes while SMMUEN is set. */
	wr(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8, 0x4000);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8), 0x112345640ull);
	assert_int_equal(viommu_smmuv3_reset(f.v), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8), 0);
	fx_fini(&f);
}

static void test_gbpa(void **state)
{
	struct viommu_xlate_result res;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, NULL, NULL, false);
	/* SMMUEN = 0, GBPA.ABORT = 0: bypass. */
	expect_out(&f, 3, NO_SSID, 0x123456, VIOMMU_ACC_WRITE, 0x123456);
	/* A write without Update changes nothing. */
	wr(&f, VIOMMU_SMMUV3_GBPA, 4, VIOMMU_SMMUV3_GBPA_ABORT);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GBPA, 4), 0);
	expect_out(&f, 3, NO_SSID, 0x1000, VIOMMU_ACC_READ, 0x1000);
	/* With Update: applied, and Update reads 0 (complete). */
	wr(&f, VIOMMU_SMMUV3_GBPA, 4, VIOMMU_SMMUV3_GBPA_UPDATE | VIOMMU_SMMUV3_GBPA_ABORT);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GBPA, 4), VIOMMU_SMMUV3_GBPA_ABORT);
	assert_int_equal(xlate(&f, 3, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(res.fault.reason, 0); /* no event */
	assert_int_equal(res.fault.flags, 0);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Translation                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void test_enable_s1(void **state)
{
	struct viommu_smmuv3_stats st;
	struct viommu_xlate_result res;
	struct vg_smmu_stats ds;
	const uint64_t *ev;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CR0, 4),
			 VIOMMU_SMMUV3_CR0_SMMUEN | VIOMMU_SMMUV3_CR0_PRIQEN |
				 VIOMMU_SMMUV3_CR0_EVENTQEN | VIOMMU_SMMUV3_CR0_CMDQEN |
				 VIOMMU_SMMUV3_CR0_ATSCHK);
	/* No level-2 table yet: C_BAD_STREAMID. */
	expect_event(&f, 5, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID);
	/* An STE with Config = abort: blocked, no event. */
	assert_int_equal(vg_smmu_attach(f.d, 5, VG_SMMU_STE_ABORT, 0, 0, false), 0);
	assert_int_equal(xlate(&f, 5, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(res.fault.flags, 0);
	assert_int_equal(vg_smmu_handle_evtq(f.d, on_record, &f.evs), 0);
	/* Bypass: untranslated. */
	assert_int_equal(vg_smmu_attach(f.d, 5, VG_SMMU_STE_BYPASS, 0, 0, false), 0);
	expect_out(&f, 5, NO_SSID, 0x1234, VIOMMU_ACC_READ, 0x1234);
	/* ... within the output address size: beyond it, F_ADDR_SIZE at stage 1, CLASS IN. */
	ev = expect_event(&f, 5, NO_SSID, 1ull << 48, VIOMMU_ACC_READ,
			  VIOMMU_SMMUV3_EVT_F_ADDR_SIZE);
	assert_false(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_IN);
	assert_int_equal(ev[2], 1ull << 48);
	assert_int_equal(vg_smmu_attach(f.d, 5, VG_SMMU_STE_S1, 7, 0, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 7, 0x10000, DATA_BASE, 0x2000, VIOMMU_ACC_RW), 0);
	expect_out(&f, 5, NO_SSID, 0x10123, VIOMMU_ACC_WRITE, DATA_BASE + 0x123);
	expect_out(&f, 5, NO_SSID, 0x11ff8, VIOMMU_ACC_READ, DATA_BASE + 0x1ff8);
	/* Hit the second time. */
	expect_out(&f, 5, NO_SSID, 0x10008, VIOMMU_ACC_READ, DATA_BASE + 8);
	assert_int_equal(viommu_smmuv3_get_stats(f.v, &st), 0);
	assert_true(st.iotlb_hits >= 1);
	/* Unmapped: F_TRANSLATION, stage 1, CLASS IN, RnW = 0 for a write. */
	ev = expect_event(&f, 5, NO_SSID, 0x20000, VIOMMU_ACC_WRITE,
			  VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_false(ev[1] & VIOMMU_SMMUV3_EVT_1_RNW);
	assert_false(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_IN);
	assert_int_equal(ev[2], 0x20000);
	assert_int_equal(ev[3], 0);
	ev = expect_event(&f, 5, NO_SSID, 0x20000, VIOMMU_ACC_READ | VIOMMU_ACC_PRIV,
			  VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_RNW);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_PNU);
	/* The event interrupt: an MSI only when programmed, else the wired line. */
	assert_true(f.irq.line[VIOMMU_SMMUV3_IRQ_EVENTQ] >= 2);
	/* Beyond the 48-bit input range. */
	expect_event(&f, 5, NO_SSID, 1ull << 50, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	/* Read-only page: write permission fault. */
	assert_int_equal(vg_smmu_map(f.d, false, 7, 0x30000, DATA_BASE, 0x1000, VIOMMU_ACC_READ),
			 0);
	expect_out(&f, 5, NO_SSID, 0x30010, VIOMMU_ACC_READ, DATA_BASE + 0x10);
	ev = expect_event(&f, 5, NO_SSID, 0x30010, VIOMMU_ACC_WRITE,
			  VIOMMU_SMMUV3_EVT_F_PERMISSION);
	assert_int_equal(ev[2], 0x30010);
	vg_smmu_get_stats(f.d, &ds);
	assert_true(ds.syncs >= 3);
	fx_fini(&f);
}

static void granule_run(uint32_t granule, enum vg_smmu_ste kind)
{
	struct vg_smmu_config dc = { .granule = granule };
	uint64_t pg = 1ull << granule;
	bool s2 = kind == VG_SMMU_STE_S2;
	struct fx f;

	fx_init_cfg(&f, NULL, &dc, true);
	if (kind == VG_SMMU_STE_NESTED)
		assert_int_equal(vg_smmu_map_pool(f.d, 9), 0);
	assert_int_equal(vg_smmu_attach(f.d, 1, kind, 3, 9, false), 0);
	if (kind == VG_SMMU_STE_NESTED) {
		/* Stage 1 IOVA -> IPA DATA_BASE + pg, stage 2 IPA -> PA DATA_BASE + 4 pg. */
		assert_int_equal(
			vg_smmu_map(f.d, false, 3, 0x400000, DATA_BASE + pg, pg, VIOMMU_ACC_RW), 0);
		assert_int_equal(vg_smmu_map(f.d, true, 9, DATA_BASE + pg, DATA_BASE + 4 * pg, pg,
					     VIOMMU_ACC_RW),
				 0);
		expect_out(&f, 1, NO_SSID, 0x400000 + pg - 8, VIOMMU_ACC_READ,
			   DATA_BASE + 5 * pg - 8);
	} else {
		assert_int_equal(vg_smmu_map(f.d, s2, s2 ? 9 : 3, 0x400000, DATA_BASE, 2 * pg,
					     VIOMMU_ACC_RW),
				 0);
		expect_out(&f, 1, NO_SSID, 0x400000 + pg + 0x18, VIOMMU_ACC_WRITE,
			   DATA_BASE + pg + 0x18);
	}
	{
		const uint64_t *ev = expect_event(&f, 1, NO_SSID, 0x400000 + 4 * pg,
						  VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_TRANSLATION);

		assert_int_equal(!!(ev[1] & VIOMMU_SMMUV3_EVT_1_S2), s2);
		if (s2)
			assert_int_equal(ev[3], (0x400000 + 4 * pg) & ~0xfffull);
	}
	fx_fini(&f);
}

static void test_granules(void **state)
{
	(void)state;
	for (uint32_t g = 12; g <= 16; g += 2) {
		granule_run(g, VG_SMMU_STE_S1);
		granule_run(g, VG_SMMU_STE_S2);
		granule_run(g, VG_SMMU_STE_NESTED);
	}
}

static void test_nested_faults(void **state)
{
	const uint64_t *ev;
	uint64_t root;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(vg_smmu_map_pool(f.d, 9), 0);
	assert_int_equal(vg_smmu_attach(f.d, 2, VG_SMMU_STE_NESTED, 4, 9, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 4, 0x10000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	/* Stage 1 maps, stage 2 does not map the IPA: stage 2 fault, CLASS IN, IPA reported. */
	ev = expect_event(&f, 2, NO_SSID, 0x10040, VIOMMU_ACC_READ,
			  VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_IN);
	assert_int_equal(ev[2], 0x10040);
	assert_int_equal(ev[3], DATA_BASE);
	/* Stage 2 read-only: a write is a stage 2 permission fault. */
	assert_int_equal(vg_smmu_map(f.d, true, 9, DATA_BASE, DATA_BASE, 0x1000, VIOMMU_ACC_READ),
			 0);
	expect_out(&f, 2, NO_SSID, 0x10040, VIOMMU_ACC_READ, DATA_BASE + 0x40);
	ev = expect_event(&f, 2, NO_SSID, 0x10040, VIOMMU_ACC_WRITE,
			  VIOMMU_SMMUV3_EVT_F_PERMISSION);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	/* Stage 1 table page unmapped at stage 2: a stage 2 fault on the walk, CLASS TT. */
	assert_int_equal(vg_smmu_domain_root(f.d, false, 4, &root), 0);
	assert_int_equal(vg_smmu_unmap(f.d, true, 9, root, 0x1000), 0);
	ev = expect_event(&f, 2, NO_SSID, 0x10040, VIOMMU_ACC_READ,
			  VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_TT);
	assert_int_equal(ev[3] & ~0xfffull, root);
	/* The CD page unmapped at stage 2: CLASS CD (after CFGI, the CD is fetched again). */
	assert_int_equal(vg_smmu_map(f.d, true, 9, root, root, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(
		vg_smmu_unmap(f.d, true, 9, vg_smmu_cd_addr(f.d, 2, 0) & ~0xfffull, 0x1000), 0);
	cfgi_ste(&f, 2);
	ev = expect_event(&f, 2, NO_SSID, 0x10040, VIOMMU_ACC_READ,
			  VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_true(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_CD);
	fx_fini(&f);
}

static void test_substreams(void **state)
{
	struct vg_smmu_config dc = { .cd_bits = 12 }; /* 2-level CD tables */
	struct fx f;

	(void)state;
	fx_init_cfg(&f, NULL, &dc, true);
	assert_int_equal(vg_smmu_attach(f.d, 6, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_attach_pasid(f.d, 6, 3000, 2), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(
		vg_smmu_map(f.d, false, 2, 0x1000, DATA_BASE + 0x5000, 0x1000, VIOMMU_ACC_RW), 0);
	/* No SubstreamID: CD 0 (S1DSS = SSID0); SubstreamID 3000: its own CD. */
	expect_out(&f, 6, NO_SSID, 0x1010, VIOMMU_ACC_READ, DATA_BASE + 0x10);
	expect_out(&f, 6, 3000, 0x1010, VIOMMU_ACC_READ, DATA_BASE + 0x5010);
	/* SubstreamID 0 is reserved with S1DSS = SSID0; beyond S1CDMax; no level-2 table. */
	expect_event(&f, 6, 0, 0x1010, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID);
	expect_event(&f, 6, 1u << 12, 0x1010, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID);
	expect_event(&f, 6, 1024 * 3 - 1, 0x1010, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_CD);
	expect_event(&f, 6, 1024, 0x1010, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Events: every record the model writes, provoked on purpose                                  */
/* ------------------------------------------------------------------------------------------ */

static void test_config_events(void **state)
{
	struct viommu_xlate_result res;
	uint64_t ste, cd, w;
	const uint64_t *ev;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(vg_smmu_attach(f.d, 8, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	expect_out(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);
	ste = vg_smmu_ste_addr(f.d, 8);
	cd = vg_smmu_cd_addr(f.d, 8, 0);

	/* C_BAD_STREAMID: beyond the table (recorded because the driver sets RECINVSID). */
	expect_event(&f, 1u << 16, NO_SSID, 0, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID);
	/* 2-level table: an L1 descriptor with Span 0. */
	expect_event(&f, 0x4000, NO_SSID, 0, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STREAMID);
	/* Without RECINVSID: not recorded. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_SMMUEN);
	wr(&f, VIOMMU_SMMUV3_CR2, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) | VIOMMU_SMMUV3_CR0_SMMUEN);
	assert_int_equal(xlate(&f, 1u << 16, NO_SSID, 0, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);

	/* C_BAD_STE: V = 0, a reserved Config, stage 2 AArch32, big-endian, stall. */
	w = ld(&f, ste);
	st(&f, ste, w & ~VIOMMU_SMMUV3_STE_0_V);
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STE);
	st(&f, ste, (w & ~VIOMMU_SMMUV3_STE_0_CONFIG_MASK) | VIOMMU_SMMUV3_STE_0_CONFIG_SET(2));
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STE);
	st(&f, ste, w);
	cfgi_ste(&f, 8);
	expect_out(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);

	/* C_BAD_CD: V = 0, then AArch32. */
	st(&f, cd, ld(&f, cd) & ~VIOMMU_SMMUV3_CD_0_V);
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_CD);
	st(&f, cd, (ld(&f, cd) | VIOMMU_SMMUV3_CD_0_V) & ~VIOMMU_SMMUV3_CD_0_AA64);
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_CD);
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_AA64);

	/* F_CD_FETCH: the CD table outside memory; FetchAddr is the CD's address. */
	st(&f, ste, (w & ~VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK) | (OUTSIDE - 0x40000000ull));
	cfgi_ste(&f, 8);
	ev = expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_CD_FETCH);
	assert_int_equal(ev[3], OUTSIDE - 0x40000000ull);
	st(&f, ste, w);

	/* F_STREAM_DISABLED: S1CDMax != 0 with S1DSS terminate, for a request without SSID. */
	st(&f, ste, w | VIOMMU_SMMUV3_STE_0_S1CDMAX_SET(2));
	st(&f, ste + 8, ld(&f, ste + 8) & ~VIOMMU_SMMUV3_STE_1_S1DSS_MASK);
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_STREAM_DISABLED);
	/* ... and with S1DSS bypass the request passes untranslated. */
	st(&f, ste + 8, ld(&f, ste + 8) | VIOMMU_SMMUV3_STE_1_S1DSS_SET(1));
	cfgi_ste(&f, 8);
	expect_out(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, 0x1000);
	st(&f, ste, w);
	st(&f, ste + 8,
	   (ld(&f, ste + 8) & ~VIOMMU_SMMUV3_STE_1_S1DSS_MASK) | VIOMMU_SMMUV3_STE_1_S1DSS_SET(2));
	/* C_BAD_SUBSTREAMID: a SubstreamID on a stream with S1CDMax = 0. */
	cfgi_ste(&f, 8);
	expect_event(&f, 8, 5, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID);

	/* F_STE_FETCH: the stream table outside memory (FetchAddr: the L1 descriptor). */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_SMMUEN);
	wr(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8, OUTSIDE);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) | VIOMMU_SMMUV3_CR0_SMMUEN);
	ev = expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_STE_FETCH);
	assert_int_equal(ev[3], OUTSIDE);
	fx_fini(&f);
}

/* viommu_smmuv3_transaction() of @txn: 0 when it may go ahead, -1 when refused. */
static int txn(struct fx *f, enum viommu_smmuv3_txn t, uint32_t sid, uint32_t ssid, uint64_t iova,
	       uint32_t access, struct viommu_xlate_result *res)
{
	struct viommu_xlate_req req = { .sid = sid, .iova = iova, .len = 1, .access = access };

	if (ssid != NO_SSID) {
		req.has_pasid = true;
		req.pasid = ssid;
	}
	assert_int_equal(viommu_smmuv3_transaction(f->v, t, &req, res), 0);
	return viommu_xlate_ok(res) ? 0 : -1;
}

/* The one record a refused transaction wrote (checked as expect_event() does). */
static const uint64_t *txn_event(struct fx *f, enum viommu_smmuv3_txn t, uint32_t sid,
				 uint32_t ssid, uint64_t iova, uint32_t access, uint32_t id)
{
	struct viommu_xlate_result res;

	f->evs.n = 0;
	assert_int_equal(txn(f, t, sid, ssid, iova, access, &res), -1);
	assert_int_equal(res.fault.reason, id);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_RECORDED);
	assert_int_equal(vg_smmu_handle_evtq(f->d, on_record, &f->evs), 1);
	assert_int_equal(VIOMMU_SMMUV3_EVT_0_ID_GET(f->evs.ev[0][0]), id);
	assert_int_equal(VIOMMU_SMMUV3_EVT_0_SID_GET(f->evs.ev[0][0]), sid);
	assert_int_equal((f->evs.ev[0][0] & VIOMMU_SMMUV3_EVT_0_SSV) != 0, ssid != NO_SSID);
	if (ssid != NO_SSID)
		assert_int_equal(VIOMMU_SMMUV3_EVT_0_SSID_GET(f->evs.ev[0][0]), ssid);
	return f->evs.ev[0];
}

/*
 * F_UUT, F_BAD_ATS_TREQ and F_TRANSL_FORBIDDEN in the architecture's conditions (7.3.2, 7.3.6,
 * 7.3.8), ATS Translation Requests answered without records for translation faults, EATS 0b10
 * illegal with NS1ATS, CR0.ATSCHK.
 */
static void test_ats_events(void **state)
{
	struct vg_smmu_config dc = { .cd_bits = 4 };
	struct viommu_smmuv3_config c;
	struct viommu_xlate_result res;
	struct viommu_xlate_req req = { .sid = 1, .len = 1 };
	const uint64_t *ev;
	uint64_t ste, w1;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, NULL, &dc, true);
	assert_true(rd(&f, VIOMMU_SMMUV3_IDR0, 4) & VIOMMU_SMMUV3_IDR0_NS1ATS);
	assert_int_equal(vg_smmu_attach(f.d, 9, VG_SMMU_STE_S1, 1, 0, true), 0);
	assert_int_equal(vg_smmu_attach(f.d, 10, VG_SMMU_STE_S1, 2, 0, false), 0);
	assert_int_equal(vg_smmu_attach(f.d, 11, VG_SMMU_STE_BYPASS, 0, 0, false), 0);
	assert_int_equal(vg_smmu_attach(f.d, 12, VG_SMMU_STE_ABORT, 0, 0, true), 0);
	assert_int_equal(vg_smmu_attach_pasid(f.d, 9, 5, 3), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_READ), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 2, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(
		vg_smmu_map(f.d, false, 3, 0x7000, DATA_BASE + 0x3000, 0x1000, VIOMMU_ACC_RW), 0);

	/* A Translation Request on an EATS stream: the translation, per SubstreamID too. */
	assert_int_equal(
		txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, NO_SSID, 0x1234, VIOMMU_ACC_READ, &res), 0);
	assert_int_equal(res.out, DATA_BASE + 0x234);
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, 5, 0x7010, VIOMMU_ACC_RW, &res), 0);
	assert_int_equal(res.out, DATA_BASE + 0x3010);
	/* Translation and permission faults of a Translation Request are not recorded. */
	f.evs.n = 0;
	assert_int_equal(
		txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, NO_SSID, 0x9000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.reason, VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	assert_int_equal(res.fault.flags, 0);
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, NO_SSID, 0x1000, VIOMMU_ACC_WRITE,
			     &res),
			 -1);
	assert_int_equal(res.fault.reason, VIOMMU_SMMUV3_EVT_F_PERMISSION);
	assert_int_equal(vg_smmu_handle_evtq(f.d, on_record, &f.evs), 0);
	/* ... while the same fault of an ordinary request is. */
	expect_event(&f, 9, NO_SSID, 0x9000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_TRANSLATION);

	/* F_BAD_ATS_TREQ: EATS = 0, and a bypass stream; InputAddr is the page. */
	ev = txn_event(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 10, NO_SSID, 0x1234, VIOMMU_ACC_READ,
		       VIOMMU_SMMUV3_EVT_F_BAD_ATS_TREQ);
	assert_int_equal(ev[2], 0x1000);
	txn_event(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 11, NO_SSID, 0x1234, VIOMMU_ACC_READ,
		  VIOMMU_SMMUV3_EVT_F_BAD_ATS_TREQ);
	/* Config abort: refused, no record; a configuration error is recorded as always. */
	f.evs.n = 0;
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 12, NO_SSID, 0x1000, VIOMMU_ACC_READ,
			     &res),
			 -1);
	assert_int_equal(res.fault.reason, 0);
	assert_int_equal(vg_smmu_handle_evtq(f.d, on_record, &f.evs), 0);
	txn_event(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, 0, 0x1000, VIOMMU_ACC_READ,
		  VIOMMU_SMMUV3_EVT_C_BAD_SUBSTREAMID);

	/* Translated: the driver sets CR0.ATSCHK as Linux does; with 0 nothing is checked. */
	assert_true(rd(&f, VIOMMU_SMMUV3_CR0, 4) & VIOMMU_SMMUV3_CR0_ATSCHK);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_ATSCHK);
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 10, NO_SSID, 0x5000,
			     VIOMMU_ACC_WRITE, &res),
			 0);
	assert_int_equal(res.out, 0x5000);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) | VIOMMU_SMMUV3_CR0_ATSCHK);
	assert_true(rd(&f, VIOMMU_SMMUV3_CR0ACK, 4) & VIOMMU_SMMUV3_CR0_ATSCHK);
	/* ATSCHK = 1: EATS streams and bypass pass, EATS = 0 is F_TRANSL_FORBIDDEN with RnW. */
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 9, NO_SSID, 0x5000, VIOMMU_ACC_WRITE,
			     &res),
			 0);
	assert_int_equal(res.out, 0x5000);
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 11, NO_SSID, 0x5000, VIOMMU_ACC_READ,
			     &res),
			 0);
	ev = txn_event(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 10, NO_SSID, 0x5008, VIOMMU_ACC_WRITE,
		       VIOMMU_SMMUV3_EVT_F_TRANSL_FORBIDDEN);
	assert_int_equal(ev[1], 0);
	assert_int_equal(ev[2], 0x5008);
	ev = txn_event(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 10, NO_SSID, 0x5008, VIOMMU_ACC_READ,
		       VIOMMU_SMMUV3_EVT_F_TRANSL_FORBIDDEN);
	assert_int_equal(ev[1], VIOMMU_SMMUV3_EVT_1_RNW);

	/* F_UUT: whatever the stream, with the transaction's attributes and address. */
	ev = txn_event(&f, VIOMMU_SMMUV3_TXN_UNSUPPORTED, 9, 5, 0xabc0,
		       VIOMMU_ACC_WRITE | VIOMMU_ACC_PRIV, VIOMMU_SMMUV3_EVT_F_UUT);
	assert_int_equal(ev[1], VIOMMU_SMMUV3_EVT_1_PNU);
	assert_int_equal(ev[2], 0xabc0);
	ev = txn_event(&f, VIOMMU_SMMUV3_TXN_UNSUPPORTED, 11, NO_SSID, 0x10,
		       VIOMMU_ACC_READ | VIOMMU_ACC_EXEC, VIOMMU_SMMUV3_EVT_F_UUT);
	assert_int_equal(ev[1], VIOMMU_SMMUV3_EVT_1_RNW | VIOMMU_SMMUV3_EVT_1_IND);

	/* EATS 0b10 (split-stage) is ILLEGAL with NS1ATS = 1, 0b11 reserved: C_BAD_STE. */
	ste = vg_smmu_ste_addr(f.d, 9);
	w1 = ld(&f, ste + 8);
	st(&f, ste + 8, (w1 & ~VIOMMU_SMMUV3_STE_1_EATS_MASK) | VIOMMU_SMMUV3_STE_1_EATS_SET(2));
	cfgi_ste(&f, 9);
	expect_event(&f, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STE);
	st(&f, ste + 8, w1 | VIOMMU_SMMUV3_STE_1_EATS_SET(3));
	cfgi_ste(&f, 9);
	expect_event(&f, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_STE);
	st(&f, ste + 8, w1);
	cfgi_ste(&f, 9);
	expect_out(&f, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);

	/* SMMUEN = 0: a Translation Request is refused silently, Translated follows GBPA. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_SMMUEN);
	f.evs.n = 0;
	assert_int_equal(
		txn(&f, VIOMMU_SMMUV3_TXN_ATS_TREQ, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.reason, 0);
	assert_int_equal(txn(&f, VIOMMU_SMMUV3_TXN_TRANSLATED, 10, NO_SSID, 0x2000, VIOMMU_ACC_READ,
			     &res),
			 0);
	assert_int_equal(res.out, 0x2000);
	/* Bad calls. */
	assert_int_equal(viommu_smmuv3_transaction(f.v, (enum viommu_smmuv3_txn)7, &req, &res),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_smmuv3_transaction(f.v, VIOMMU_SMMUV3_TXN_ATS_TREQ, NULL, &res),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_smmuv3_transaction(NULL, VIOMMU_SMMUV3_TXN_ATS_TREQ, &req, &res),
			 VIOMMU_EINVAL);
	fx_fini(&f);

	/* Without ATS: no NS1ATS, ATS kinds refused as a VMM error, F_UUT still written. */
	viommu_smmuv3_config_init(&c);
	c.flags &= ~(VIOMMU_SMMUV3_ATS | VIOMMU_SMMUV3_PRI); /* PRI needs ATS */
	fx_init_cfg(&f, &c, NULL, true);
	assert_false(rd(&f, VIOMMU_SMMUV3_IDR0, 4) &
		     (VIOMMU_SMMUV3_IDR0_NS1ATS | VIOMMU_SMMUV3_IDR0_ATS));
	assert_int_equal(viommu_smmuv3_transaction(f.v, VIOMMU_SMMUV3_TXN_ATS_TREQ, &req, &res),
			 VIOMMU_ENOTSUP);
	assert_int_equal(viommu_smmuv3_transaction(f.v, VIOMMU_SMMUV3_TXN_TRANSLATED, &req, &res),
			 VIOMMU_ENOTSUP);
	txn_event(&f, VIOMMU_SMMUV3_TXN_UNSUPPORTED, 1, NO_SSID, 0x40, VIOMMU_ACC_READ,
		  VIOMMU_SMMUV3_EVT_F_UUT);
	fx_fini(&f);
}

/* Terminate-only stall model: CD.S and STE.S2S are illegal, RESUME and STALL_TERM too. */
static void test_stall_model(void **state)
{
	uint64_t cd, w, c[2];
	uint32_t idr0;
	struct fx f;

	(void)state;
	fx_init(&f);
	idr0 = (uint32_t)rd(&f, VIOMMU_SMMUV3_IDR0, 4);
	assert_int_equal(VIOMMU_SMMUV3_IDR0_STALL_MODEL_GET(idr0),
			 VIOMMU_SMMUV3_IDR0_STALL_MODEL_TERM);
	assert_true(idr0 & VIOMMU_SMMUV3_IDR0_TERM_MODEL);
	assert_false(idr0 & VIOMMU_SMMUV3_IDR0_ATOS);
	/* No ATOS registers: they read 0 and ignore writes. */
	wr(&f, VIOMMU_SMMUV3_GATOS_CTRL, 4, 1);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GATOS_CTRL, 4), 0);
	assert_int_equal(vg_smmu_attach(f.d, 8, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	cd = vg_smmu_cd_addr(f.d, 8, 0);
	w = ld(&f, cd);
	st(&f, cd, w | VIOMMU_SMMUV3_CD_0_S);
	cfgi_ste(&f, 8);
	expect_event(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_C_BAD_CD);
	st(&f, cd, w);
	cfgi_ste(&f, 8);
	/* A fault terminates at once: the record never says Stall. */
	assert_false(expect_event(&f, 8, NO_SSID, 0x9000, VIOMMU_ACC_READ,
				  VIOMMU_SMMUV3_EVT_F_TRANSLATION)[1] &
		     VIOMMU_SMMUV3_EVT_1_STALL);
	/* CMD_RESUME and CMD_STALL_TERM stop the queue with CERROR_ILL. */
	c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_RESUME) |
	       VIOMMU_SMMUV3_CMD_0_SID_SET(8);
	c[1] = 0;
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), VIOMMU_EIO);
	c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_STALL_TERM) |
	       VIOMMU_SMMUV3_CMD_0_SID_SET(8);
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), VIOMMU_EIO);
	expect_out(&f, 8, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);
	fx_fini(&f);
}

static void test_walk_events(void **state)
{
	struct viommu_xlate_result res;
	uint64_t root, cd, pte, pte_addr = 0;
	const uint64_t *ev;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(vg_smmu_attach(f.d, 4, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_smmu_domain_root(f.d, false, 1, &root), 0);
	cd = vg_smmu_cd_addr(f.d, 4, 0);
	/* Find the leaf: 4 levels of 4K tables, IOVA 0x1000 is index 0, 0, 0, 1. */
	pte = root;
	for (int l = 0; l < 3; l++)
		pte = ld(&f, pte) & 0x0000fffffffff000ull;
	pte_addr = pte + 8;
	pte = ld(&f, pte_addr);
	assert_int_equal(pte & 0x0000fffffffff000ull, DATA_BASE);

	/* F_ACCESS: AF clear (CD.HA set by the driver: hardware sets it instead). */
	st(&f, pte_addr, pte & ~(1ull << 10));
	expect_out(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);
	assert_true(ld(&f, pte_addr) & (1ull << 10));
	st(&f, cd, ld(&f, cd) & ~VIOMMU_SMMUV3_CD_0_HA);
	st(&f, pte_addr, pte & ~(1ull << 10));
	cfgi_ste(&f, 4);
	cmd_sync(&f, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL), 0);
	ev = expect_event(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_ACCESS);
	assert_int_equal(ev[2], 0x1000);
	/* CD.AFFD: no fault and nothing written. */
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_AFFD);
	cfgi_ste(&f, 4);
	expect_out(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, DATA_BASE);
	assert_false(ld(&f, pte_addr) & (1ull << 10));
	st(&f, pte_addr, pte);

	/* Dirty state is not offered by default: DBM (bit 51) stays an address bit. */
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_HD);
	st(&f, pte_addr, pte | (1ull << 51) | (1ull << 7));
	cfgi_ste(&f, 4);
	cmd_sync(&f, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL), 0);
	expect_event(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_ADDR_SIZE);
	st(&f, cd, ld(&f, cd) & ~VIOMMU_SMMUV3_CD_0_HD);
	st(&f, pte_addr, pte);

	/* F_ADDR_SIZE: an output address beyond the CD's IPS (set IPS to 32 bits). */
	st(&f, cd, ld(&f, cd) & ~VIOMMU_SMMUV3_CD_0_IPS_MASK);
	st(&f, pte_addr, (pte & ~0x0000fffffffff000ull) | (1ull << 33));
	cfgi_ste(&f, 4);
	cmd_sync(&f, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL), 0);
	expect_event(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_ADDR_SIZE);
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_IPS_SET(5));
	st(&f, pte_addr, pte);

	/* CD.R = 0: translation faults are not recorded. */
	st(&f, cd, ld(&f, cd) & ~VIOMMU_SMMUV3_CD_0_R);
	cfgi_ste(&f, 4);
	assert_int_equal(xlate(&f, 4, NO_SSID, 0x9000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_R);

	/* F_WALK_EABT: TTB0 outside memory; FetchAddr is the first descriptor read. */
	st(&f, cd + 8, OUTSIDE);
	cfgi_ste(&f, 4);
	cmd_sync(&f, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL), 0);
	ev = expect_event(&f, 4, NO_SSID, 0x1000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_WALK_EABT);
	assert_int_equal(ev[3], OUTSIDE);
	assert_int_equal(ev[2], 0x1000);
	assert_int_equal(VIOMMU_SMMUV3_EVT_1_CLASS_GET(ev[1]), VIOMMU_SMMUV3_CLASS_TT);
	assert_false(ev[1] & VIOMMU_SMMUV3_EVT_1_S2);
	fx_fini(&f);
}

static uint64_t leaf_addr(struct fx *f, bool stage2, uint16_t dom, uint64_t iova);

/* HTTU with dirty state: a DBM page becomes writable-dirty on the first write, at each stage. */
static void test_httu_dirty(void **state)
{
	struct viommu_smmuv3_config c;
	uint64_t cd, ste, a, pte;
	struct fx f;

	(void)state;
	viommu_smmuv3_config_init(&c);
	c.flags |= VIOMMU_SMMUV3_HTTU_AD;
	fx_init_cfg(&f, &c, NULL, true);
	assert_int_equal(VIOMMU_SMMUV3_IDR0_HTTU_GET(rd(&f, VIOMMU_SMMUV3_IDR0, 4)), 2);
	assert_int_equal(vg_smmu_attach(f.d, 4, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_attach(f.d, 5, VG_SMMU_STE_S2, 0, 2, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_READ), 0);
	assert_int_equal(vg_smmu_map(f.d, true, 2, 0x1000, DATA_BASE, 0x1000, VIOMMU_ACC_READ), 0);
	cd = vg_smmu_cd_addr(f.d, 4, 0);
	ste = vg_smmu_ste_addr(f.d, 5);
	st(&f, cd, ld(&f, cd) | VIOMMU_SMMUV3_CD_0_HA | VIOMMU_SMMUV3_CD_0_HD);
	st(&f, ste + 16, ld(&f, ste + 16) | VIOMMU_SMMUV3_STE_2_S2HA | VIOMMU_SMMUV3_STE_2_S2HD);
	cfgi_ste(&f, 4);
	cfgi_ste(&f, 5);
	/* Stage 1: read-only clean page with DBM; a read leaves it, a write makes it dirty. */
	a = leaf_addr(&f, false, 1, 0x1000);
	pte = ld(&f, a);
	assert_true(pte & (1ull << 7));
	st(&f, a, pte | (1ull << 51));
	expect_out(&f, 4, NO_SSID, 0x1008, VIOMMU_ACC_READ, DATA_BASE + 8);
	assert_true(ld(&f, a) & (1ull << 7));
	expect_out(&f, 4, NO_SSID, 0x1010, VIOMMU_ACC_WRITE, DATA_BASE + 0x10);
	assert_false(ld(&f, a) & (1ull << 7));
	assert_true(ld(&f, a) & (1ull << 51));
	/* Without DBM the write is a permission fault. */
	st(&f, a, pte);
	cmd_sync(&f, VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL), 0);
	expect_event(&f, 4, NO_SSID, 0x1010, VIOMMU_ACC_WRITE, VIOMMU_SMMUV3_EVT_F_PERMISSION);
	/* Stage 2: S2AP[1] set by the write. */
	a = leaf_addr(&f, true, 2, 0x1000);
	pte = ld(&f, a);
	assert_false(pte & (1ull << 7));
	st(&f, a, pte | (1ull << 51));
	expect_out(&f, 5, NO_SSID, 0x1010, VIOMMU_ACC_WRITE, DATA_BASE + 0x10);
	assert_true(ld(&f, a) & (1ull << 7));
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void test_cmd_errors(void **state)
{
	uint64_t bad[2] = { 0x7f, 0 };
	uint64_t cons;
	struct fx f;

	(void)state;
	fx_init(&f);
	/* An unknown opcode stops the queue: CONS at it, ERR = ILL, GERROR.CMDQ_ERR. */
	assert_int_equal(vg_smmu_cmd(f.d, bad), 0);
	wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4,
	   (rd(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4) + 1) & 0x1ff); /* publish without a sync */
	cons = rd(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4);
	assert_int_equal(VIOMMU_SMMUV3_CMDQ_CONS_ERR_GET(cons), VIOMMU_SMMUV3_CERROR_ILL);
	assert_int_equal((rd(&f, VIOMMU_SMMUV3_GERROR, 4) ^ rd(&f, VIOMMU_SMMUV3_GERRORN, 4)),
			 VIOMMU_SMMUV3_GERROR_CMDQ_ERR);
	assert_true(f.irq.line[VIOMMU_SMMUV3_IRQ_GERROR] >= 1);
	/* The handler skips it (replaced by CMD_SYNC) and acknowledges: the queue goes on. */
	assert_int_equal(vg_smmu_handle_gerror(f.d), VIOMMU_SMMUV3_GERROR_CMDQ_ERR);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GERROR, 4), rd(&f, VIOMMU_SMMUV3_GERRORN, 4));
	assert_int_equal(vg_smmu_sync(f.d), 0);
	/* Illegal by configuration: RESUME, STALL_TERM (terminate model), TLBI_EL2, SSec. */
	{
		const uint64_t ops[] = { VIOMMU_SMMUV3_CMD_RESUME, VIOMMU_SMMUV3_CMD_STALL_TERM,
					 VIOMMU_SMMUV3_CMD_TLBI_EL2_ALL,
					 VIOMMU_SMMUV3_CMD_TLBI_EL3_ALL };

		for (unsigned int i = 0; i < 5; i++) {
			uint64_t c[2] = { i < 4 ? ops[i] :
						  VIOMMU_SMMUV3_CMD_TLBI_NSNH_ALL |
							  VIOMMU_SMMUV3_CMD_0_SSEC,
					  0 };

			assert_int_equal(vg_smmu_cmd(f.d, c), 0);
			assert_int_equal(vg_smmu_sync(f.d), VIOMMU_EIO);
		}
	}
	/* CERROR_ABT: the queue outside memory. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_CMDQEN);
	wr(&f, VIOMMU_SMMUV3_CMDQ_BASE, 8, OUTSIDE | 4);
	wr(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4, 3);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) | VIOMMU_SMMUV3_CR0_CMDQEN);
	cons = rd(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4);
	assert_int_equal(VIOMMU_SMMUV3_CMDQ_CONS_ERR_GET(cons), VIOMMU_SMMUV3_CERROR_ABT);
	assert_int_equal(cons & 0xff, 0);
	fx_fini(&f);
}

static void test_cmd_sync_signals(void **state)
{
	struct vg_smmu_config dc = { .msi_poll = true };
	uint64_t c[2], slot = RAW_BASE;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, NULL, &dc, true);
	/* Linux's MSI polling: the write of 0 lands on the sync command itself. */
	assert_int_equal(vg_smmu_sync(f.d), 0);
	/* An MSI write to memory with data. */
	st(&f, slot, 0);
	c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_SYNC) |
	       VIOMMU_SMMUV3_CMD_0_SYNC_CS_SET(VIOMMU_SMMUV3_SYNC_CS_IRQ) |
	       VIOMMU_SMMUV3_CMD_0_SYNC_MSIDATA_SET(0xabcd1234);
	c[1] = slot;
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), 0);
	assert_int_equal((uint32_t)ld(&f, slot), 0xabcd1234);
	/* Outside memory: the host delivers it (a doorbell). */
	f.irq.msi = 0;
	c[1] = OUTSIDE;
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), 0);
	assert_int_equal(f.irq.msi, 1);
	assert_int_equal(f.irq.msi_addr, OUTSIDE);
	assert_int_equal(f.irq.msi_data, 0xabcd1234);
	/* MSIAddress 0: the wired cmdq-sync line. */
	c[1] = 0;
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), 0);
	assert_int_equal(f.irq.line[VIOMMU_SMMUV3_IRQ_CMD_SYNC], 1);
	/* CS = SIG_NONE: nothing. */
	c[0] = VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_SYNC);
	assert_int_equal(vg_smmu_cmd(f.d, c), 0);
	assert_int_equal(vg_smmu_sync(f.d), 0);
	assert_int_equal(f.irq.line[VIOMMU_SMMUV3_IRQ_CMD_SYNC], 1);
	assert_int_equal(f.irq.msi, 1);
	fx_fini(&f);
}

/* Rewrite the leaf of a 4K stage 1 or stage 2 table for @iova behind the TLB's back. */
static uint64_t leaf_addr(struct fx *f, bool stage2, uint16_t dom, uint64_t iova)
{
	uint64_t t;

	assert_int_equal(vg_smmu_domain_root(f->d, stage2, dom, &t), 0);
	for (int l = 0; l < 3; l++)
		t = ld(f, t + ((iova >> (39 - 9 * l)) & 511) * 8) & 0x0000fffffffff000ull;
	return t + ((iova >> 12) & 511) * 8;
}

static void test_invalidation(void **state)
{
	struct viommu_smmuv3_stats st0, st1;
	uint64_t a;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(vg_smmu_attach(f.d, 1, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_attach(f.d, 2, VG_SMMU_STE_S2, 0, 2, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x100000, DATA_BASE, 0x40000, VIOMMU_ACC_RW),
			 0);
	assert_int_equal(vg_smmu_map(f.d, true, 2, 0x100000, DATA_BASE, 0x40000, VIOMMU_ACC_RW), 0);
	for (uint64_t i = 0; i < 0x40; i++) {
		expect_out(&f, 1, NO_SSID, 0x100000 + i * 0x1000, VIOMMU_ACC_READ,
			   DATA_BASE + i * 0x1000);
		expect_out(&f, 2, NO_SSID, 0x100000 + i * 0x1000, VIOMMU_ACC_READ,
			   DATA_BASE + i * 0x1000);
	}
	/* Retarget page 5 behind the TLB: stale until TLBI_NH_VA. */
	a = leaf_addr(&f, false, 1, 0x105000);
	st(&f, a, (ld(&f, a) & ~0x0000fffffffff000ull) | (DATA_BASE + 0x100000));
	expect_out(&f, 1, NO_SSID, 0x105000, VIOMMU_ACC_READ, DATA_BASE + 0x5000);
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_VA) |
			 VIOMMU_SMMUV3_CMD_0_ASID_SET(1),
		 0x105000);
	expect_out(&f, 1, NO_SSID, 0x105000, VIOMMU_ACC_READ, DATA_BASE + 0x100000);
	/* A TLBI for another ASID leaves it. */
	st(&f, a, (ld(&f, a) & ~0x0000fffffffff000ull) | (DATA_BASE + 0x5000));
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_ASID) |
			 VIOMMU_SMMUV3_CMD_0_ASID_SET(2),
		 0);
	expect_out(&f, 1, NO_SSID, 0x105000, VIOMMU_ACC_READ, DATA_BASE + 0x100000);
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_ASID) |
			 VIOMMU_SMMUV3_CMD_0_ASID_SET(1),
		 0);
	expect_out(&f, 1, NO_SSID, 0x105000, VIOMMU_ACC_READ, DATA_BASE + 0x5000);
	/* Range invalidation: 0x104000 + 3 * 2^2 pages (TG 4K, SCALE 2, NUM 2) = 12 pages. */
	for (uint64_t i = 0; i < 0x20; i++)
		expect_out(&f, 1, NO_SSID, 0x100000 + i * 0x1000, VIOMMU_ACC_READ,
			   DATA_BASE + i * 0x1000);
	for (uint64_t i = 0; i < 0x20; i++) {
		a = leaf_addr(&f, false, 1, 0x100000 + i * 0x1000);
		st(&f, a,
		   (ld(&f, a) & ~0x0000fffffffff000ull) | (DATA_BASE + 0x200000 + i * 0x1000));
	}
	viommu_smmuv3_get_stats(f.v, &st0);
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_NH_VA) |
			 VIOMMU_SMMUV3_CMD_0_ASID_SET(1) | VIOMMU_SMMUV3_CMD_0_NUM_SET(2) |
			 VIOMMU_SMMUV3_CMD_0_SCALE_SET(2),
		 0x104000 | VIOMMU_SMMUV3_CMD_1_TG_SET(1));
	viommu_smmuv3_get_stats(f.v, &st1);
	assert_int_equal(st1.cmd_tlbi_range, st0.cmd_tlbi_range + 1);
	for (uint64_t i = 0; i < 0x20; i++) {
		bool in = i >= 4 && i < 16;

		expect_out(&f, 1, NO_SSID, 0x100000 + i * 0x1000, VIOMMU_ACC_READ,
			   DATA_BASE + (in ? 0x200000 : 0) + i * 0x1000);
	}
	/* Stage 2: TLBI_S2_IPA by address, TLBI_S12_VMALL. */
	a = leaf_addr(&f, true, 2, 0x107000);
	st(&f, a, (ld(&f, a) & ~0x0000fffffffff000ull) | (DATA_BASE + 0x300000));
	expect_out(&f, 2, NO_SSID, 0x107000, VIOMMU_ACC_READ, DATA_BASE + 0x7000);
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_S2_IPA) |
			 VIOMMU_SMMUV3_CMD_0_VMID_SET(2),
		 0x107000);
	expect_out(&f, 2, NO_SSID, 0x107000, VIOMMU_ACC_READ, DATA_BASE + 0x300000);
	st(&f, a, (ld(&f, a) & ~0x0000fffffffff000ull) | (DATA_BASE + 0x7000));
	cmd_sync(&f,
		 VIOMMU_SMMUV3_CMD_0_OP_SET(VIOMMU_SMMUV3_CMD_TLBI_S12_VMALL) |
			 VIOMMU_SMMUV3_CMD_0_VMID_SET(2),
		 0);
	expect_out(&f, 2, NO_SSID, 0x107000, VIOMMU_ACC_READ, DATA_BASE + 0x7000);
	/* The driver's strict unmap (TLBI + CMD_SYNC) makes the page fault at once. */
	assert_int_equal(vg_smmu_unmap(f.d, false, 1, 0x100000, 0x1000), 0);
	expect_event(&f, 1, NO_SSID, 0x100000, VIOMMU_ACC_READ, VIOMMU_SMMUV3_EVT_F_TRANSLATION);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Queues                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_evtq_overflow(void **state)
{
	struct vg_smmu_config dc = { .evtq_bits = 2 };
	struct viommu_xlate_result res;
	struct vg_smmu_stats ds;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, NULL, &dc, true);
	assert_int_equal(vg_smmu_attach(f.d, 1, VG_SMMU_STE_S1, 1, 0, false), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(xlate(&f, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
		assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_RECORDED);
	}
	/* Full: the fifth is lost and OVFLG toggles once. */
	assert_int_equal(xlate(&f, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_LOST);
	assert_true(rd(&f, VIOMMU_SMMUV3_EVENTQ_PROD, 4) & VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG);
	assert_int_equal(xlate(&f, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_true(rd(&f, VIOMMU_SMMUV3_EVENTQ_PROD, 4) & VIOMMU_SMMUV3_EVENTQ_PROD_OVFLG);
	f.evs.n = 0;
	assert_int_equal(vg_smmu_handle_evtq(f.d, on_record, &f.evs), 4);
	vg_smmu_get_stats(f.d, &ds);
	assert_int_equal(ds.overflows, 1);
	assert_true(rd(&f, VIOMMU_SMMUV3_EVENTQ_CONS, 4) & VIOMMU_SMMUV3_EVENTQ_CONS_OVACKFLG);
	assert_int_equal(xlate(&f, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_RECORDED);
	/* The event queue outside memory: GERROR.EVENTQ_ABT_ERR. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_EVENTQEN);
	wr(&f, VIOMMU_SMMUV3_EVENTQ_BASE, 8, OUTSIDE | 2);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) | VIOMMU_SMMUV3_CR0_EVENTQEN);
	assert_int_equal(xlate(&f, 1, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res), -1);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_LOST);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_GERROR, 4) ^ rd(&f, VIOMMU_SMMUV3_GERRORN, 4),
			 VIOMMU_SMMUV3_GERROR_EVENTQ_ABT_ERR);
	fx_fini(&f);
}

struct pri_log {
	int n;
	uint32_t sid, ssid, prg, resp;
	bool ssv;
};

static void on_pri_resp(void *opaque, uint32_t sid, uint32_t ssid, bool has_ssid,
			uint32_t prg_index, uint32_t resp)
{
	struct pri_log *l = opaque;

	l->n++;
	l->sid = sid;
	l->ssid = ssid;
	l->ssv = has_ssid;
	l->prg = prg_index;
	l->resp = resp;
}

static void test_priq(void **state)
{
	struct viommu_smmuv3_page_request pr = { .sid = 0x21,
						 .ssid = 77,
						 .has_ssid = true,
						 .addr = 0x123456789,
						 .access = VIOMMU_ACC_READ | VIOMMU_ACC_WRITE,
						 .prg_index = 300,
						 .last = true };
	struct pri_log pl = { 0 };
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(viommu_smmuv3_set_pri_response(f.v, on_pri_resp, &pl), 0);
	assert_int_equal(viommu_smmuv3_page_request(f.v, &pr), 0);
	f.evs.n = 0;
	assert_int_equal(vg_smmu_handle_priq(f.d, on_record, &f.evs), 1);
	assert_int_equal(f.evs.ev[0][0] & 0xffffffffull, 0x21);
	assert_int_equal((f.evs.ev[0][0] >> 32) & 0xfffff, 77);
	assert_true(f.evs.ev[0][0] & (1ull << 63)); /* SSV */
	assert_true(f.evs.ev[0][0] & (1ull << 62)); /* last */
	assert_true(f.evs.ev[0][0] & (1ull << 61)); /* write */
	assert_true(f.evs.ev[0][0] & (1ull << 60)); /* read */
	assert_false(f.evs.ev[0][0] & (1ull << 59));
	assert_int_equal(f.evs.ev[0][1] & 0x1ff, 300);
	assert_int_equal(f.evs.ev[0][1] & ~0xfffull, 0x123456000ull);
	assert_int_equal(vg_smmu_pri_resp(f.d, 0x21, 77, true, 300, VIOMMU_SMMUV3_PRI_RESP_SUCC),
			 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.sid, 0x21);
	assert_int_equal(pl.ssid, 77);
	assert_true(pl.ssv);
	assert_int_equal(pl.prg, 300);
	assert_int_equal(pl.resp, VIOMMU_SMMUV3_PRI_RESP_SUCC);
	/* Disabled queue: refused. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, rd(&f, VIOMMU_SMMUV3_CR0, 4) & ~VIOMMU_SMMUV3_CR0_PRIQEN);
	assert_int_equal(viommu_smmuv3_page_request(f.v, &pr), VIOMMU_EPERM);
	pr.prg_index = 512;
	assert_int_equal(viommu_smmuv3_page_request(f.v, &pr), VIOMMU_EINVAL);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumers                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_notify(void **state)
{
	struct viommu_notifier *n, *nd;
	struct nlog l = { 0 }, ld_ = { 0 };
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(viommu_notifier_add(f.v, 3, VIOMMU_EV_UNMAP, on_event, &l, &n), 0);
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP,
					     on_event, &ld_, &nd),
			 0);
	assert_int_equal(vg_smmu_attach(f.d, 3, VG_SMMU_STE_S1, 1, 0, true), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x10000, DATA_BASE, 0x4000, VIOMMU_ACC_RW), 0);
	expect_out(&f, 3, NO_SSID, 0x10000, VIOMMU_ACC_READ, DATA_BASE);
	l.n = 0;
	assert_int_equal(vg_smmu_unmap(f.d, false, 1, 0x10000, 0x4000), 0);
	/* TLBI (with RIL: one command) -> UNMAP of the range; ATC_INV -> device IOTLB. */
	assert_true(l.unmap >= 1);
	assert_int_equal(l.last.sid, 3);
	assert_true(l.last.iova <= 0x10000 && l.last.last >= 0x13fff);
	assert_int_equal(ld_.dev, 1);
	assert_int_equal(ld_.last.sid, 3);
	assert_int_equal(ld_.last.iova, 0x10000);
	assert_int_equal(ld_.last.last, 0x13fff);
	viommu_notifier_del(f.v, n);
	viommu_notifier_del(f.v, nd);
	fx_fini(&f);
}

static void test_caching_mode(void **state)
{
	struct viommu_smmuv3_config c;
	struct vg_smmu_config dc = { .cm = true };
	struct viommu_notifier *n;
	struct nlog l = { 0 };
	struct fx f;

	(void)state;
	viommu_smmuv3_config_init(&c);
	c.flags |= VIOMMU_SMMUV3_CM;
	fx_init_cfg(&f, &c, &dc, true);
	assert_int_equal(
		viommu_notifier_add(f.v, 3, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_event, &l, &n), 0);
	assert_int_equal(vg_smmu_attach(f.d, 3, VG_SMMU_STE_S1, 1, 0, false), 0);
	l.n = l.map = l.unmap = 0;
	/* The quirk-aware driver invalidates after the map: the MAP reaches the consumer. */
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x10000, DATA_BASE, 0x2000, VIOMMU_ACC_RW), 0);
	assert_true(l.map >= 1);
	assert_int_equal(l.last.type, VIOMMU_EV_MAP);
	assert_int_equal(l.last.out + (0x10000 - l.last.iova), DATA_BASE);
	assert_int_equal(l.unmap, 0);
	l.n = l.map = l.unmap = 0;
	assert_int_equal(vg_smmu_unmap(f.d, false, 1, 0x10000, 0x2000), 0);
	assert_true(l.unmap >= 1);
	assert_int_equal(l.map, 0);
	/* A new MAP consumer is replayed what is mapped now. */
	{
		struct viommu_notifier *n2;
		struct nlog l2 = { 0 };

		assert_int_equal(vg_smmu_map(f.d, false, 1, 0x40000, DATA_BASE + 0x3000, 0x1000,
					     VIOMMU_ACC_READ),
				 0);
		assert_int_equal(viommu_notifier_add(f.v, 3, VIOMMU_EV_MAP, on_event, &l2, &n2), 0);
		assert_int_equal(viommu_notifier_replay(f.v, n2), 0);
		assert_int_equal(l2.map, 1);
		assert_int_equal(l2.last.iova, 0x40000);
		assert_int_equal(l2.last.last, 0x40fff);
		assert_int_equal(l2.last.out, DATA_BASE + 0x3000);
		assert_int_equal(l2.last.perm, VIOMMU_ACC_READ);
		viommu_notifier_del(f.v, n2);
	}
	/* Stage 2 streams too. */
	assert_int_equal(vg_smmu_attach(f.d, 3, VG_SMMU_STE_S2, 0, 5, false), 0);
	l.n = l.map = l.unmap = 0;
	assert_int_equal(vg_smmu_map(f.d, true, 5, 0x80000, DATA_BASE, 0x1000, VIOMMU_ACC_READ), 0);
	assert_int_equal(l.map, 1);
	assert_int_equal(l.last.perm, VIOMMU_ACC_READ);
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Hostile programming                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Events of one (StreamID, SubstreamID or none), by kind, and the last of them. */
struct slog {
	uint32_t sid, pasid;
	bool has_pasid;
	int map, unmap, other;
	struct viommu_event last;
};

static void on_sevent(void *opaque, const struct viommu_event *ev)
{
	struct slog *l = opaque;

	if (ev->type == VIOMMU_EV_SYNC)
		return;
	if (ev->sid != l->sid || ev->has_pasid != l->has_pasid ||
	    (ev->has_pasid && ev->pasid != l->pasid)) {
		l->other++;
		return;
	}
	l->map += ev->type == VIOMMU_EV_MAP;
	l->unmap += ev->type == VIOMMU_EV_UNMAP;
	l->last = *ev;
}

/*
 * MAP/UNMAP per (StreamID, SubstreamID): a CD table with several SubstreamIDs, the caching-mode
 * driver invalidating by ASID after every map; MAP consumers get each SubstreamID's diff,
 * UNMAP-only consumers its invalidated ranges, a new consumer its replay; a CD pointed at
 * another domain is re-synced by CFGI_CD; slots taken back when too many SubstreamIDs are
 * learned tell their consumers everything went.
 */
static void test_substream_sync(void **state)
{
	struct vg_smmu_config dc = { .cm = true, .cd_bits = 12 };
	struct viommu_notifier *nm, *nu, *nr;
	struct viommu_smmuv3_config c;
	struct slog all = { .sid = 6, .has_pasid = true, .pasid = 3 };
	struct slog raw = { .sid = 6, .has_pasid = true, .pasid = 3 };
	struct slog rep = { .sid = 6, .has_pasid = true, .pasid = 3 };
	struct fx f;

	(void)state;
	viommu_smmuv3_config_init(&c);
	c.flags |= VIOMMU_SMMUV3_CM;
	fx_init_cfg(&f, &c, &dc, true);
	assert_int_equal(viommu_notifier_add(f.v, 6, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP, on_sevent,
					     &all, &nm),
			 0);
	assert_int_equal(viommu_notifier_add(f.v, 6, VIOMMU_EV_UNMAP, on_sevent, &raw, &nu), 0);
	assert_int_equal(vg_smmu_attach(f.d, 6, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_attach_pasid(f.d, 6, 3, 2), 0);
	assert_int_equal(vg_smmu_attach_pasid(f.d, 6, 4, 3), 0);

	/* A map in SubstreamID 3's domain: a MAP for (6, 3), nothing for 4 or no SubstreamID. */
	all.other = 0;
	assert_int_equal(vg_smmu_map(f.d, false, 2, 0x10000, DATA_BASE, 0x2000, VIOMMU_ACC_RW), 0);
	assert_true(all.map >= 1); /* one per page the driver invalidated */
	assert_int_equal(all.other, 0);
	assert_int_equal(all.last.last, 0x11fff);
	assert_int_equal(all.last.out, DATA_BASE + (all.last.iova - 0x10000));
	assert_int_equal(all.last.perm, VIOMMU_ACC_RW);
	all.map = 0;
	expect_out(&f, 6, 3, 0x10010, VIOMMU_ACC_WRITE, DATA_BASE + 0x10);
	/* A map in the no-SubstreamID domain (CD 0) reaches its consumers without a pasid. */
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0x10000, DATA_BASE + 0x8000, 0x1000,
				     VIOMMU_ACC_READ),
			 0);
	assert_int_equal(all.map, 0);
	assert_int_equal(all.other, 1);
	/* SubstreamID 4's domain is SubstreamID 4's alone. */
	assert_int_equal(
		vg_smmu_map(f.d, false, 3, 0x20000, DATA_BASE + 0x4000, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(all.map, 0);
	assert_int_equal(all.other, 2);

	/* Unmap: the diff's UNMAP to the MAP consumer, the range to the UNMAP-only one. */
	raw.unmap = 0;
	assert_int_equal(vg_smmu_unmap(f.d, false, 2, 0x11000, 0x1000), 0);
	assert_int_equal(all.unmap, 1);
	assert_int_equal(all.last.iova, 0x11000);
	assert_int_equal(all.last.last, 0x11fff);
	assert_true(raw.unmap >= 1);
	assert_true(raw.last.iova <= 0x11000 && raw.last.last >= 0x11fff);

	/* A new MAP consumer is replayed SubstreamID 3's one remaining page. */
	assert_int_equal(viommu_notifier_add(f.v, 6, VIOMMU_EV_MAP, on_sevent, &rep, &nr), 0);
	assert_int_equal(viommu_notifier_replay(f.v, nr), 0);
	assert_int_equal(rep.map, 1);
	assert_int_equal(rep.last.iova, 0x10000);
	assert_int_equal(rep.last.last, 0x10fff);
	assert_int_equal(rep.last.out, DATA_BASE);
	viommu_notifier_del(f.v, nr);

	/* SubstreamID 3 moved to domain 3: CFGI_CD takes 0x10000 away and brings 0x20000. */
	all.map = all.unmap = 0;
	assert_int_equal(vg_smmu_attach_pasid(f.d, 6, 3, 3), 0);
	assert_int_equal(all.unmap, 1);
	assert_int_equal(all.map, 1);
	assert_int_equal(all.last.type, VIOMMU_EV_MAP);
	assert_int_equal(all.last.iova, 0x20000);
	assert_int_equal(all.last.out, DATA_BASE + 0x4000);

	/*
	 * More SubstreamIDs than the model keeps (a guest may name 2^20 of them): the oldest
	 * slot's consumers hear that everything went; nothing stale stays with them.
	 */
	all.map = all.unmap = 0;
	for (uint32_t ssid = 5; ssid < 5 + 1100; ssid++)
		assert_int_equal(vg_smmu_attach_pasid(f.d, 6, ssid, 2), 0);
	assert_true(all.unmap >= 1);
	assert_int_equal(all.last.type, VIOMMU_EV_UNMAP);
	assert_int_equal(all.last.iova, 0);
	assert_int_equal(all.last.last, UINT64_MAX);
	/* The SMMU still translates every SubstreamID from its CD. */
	expect_out(&f, 6, 3, 0x20000, VIOMMU_ACC_READ, DATA_BASE + 0x4000);
	viommu_notifier_del(f.v, nm);
	viommu_notifier_del(f.v, nu);
	fx_fini(&f);
}

static void test_hostile_queues(void **state)
{
	struct viommu_xlate_result res;
	struct test_rng rng = { test_seed(0x5e01) };
	struct fx f;

	(void)state;
	fx_init(&f);
	/* LOG2SIZE above IDR1.CMDQS is capped at it: PROD/CONS keep 19 + 1 bits. */
	wr(&f, VIOMMU_SMMUV3_CR0, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CMDQ_BASE, 8, RAW_BASE | 31);
	wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4, 0xffffffff);
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4), 0xfffff);
	/* Random PROD/CONS on a queue of zeros (opcode 0 is illegal): stops at once, bounded. */
	wr(&f, VIOMMU_SMMUV3_CMDQ_BASE, 8, RAW_BASE | 4);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, VIOMMU_SMMUV3_CR0_CMDQEN);
	for (int i = 0; i < 200; i++) {
		wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4, (uint32_t)test_rand(&rng));
		wr(&f, VIOMMU_SMMUV3_GERRORN, 4, rd(&f, VIOMMU_SMMUV3_GERROR, 4));
	}
	/* A queue of CMD_SYNCs: a doorbell runs at most one queue's worth. */
	for (int i = 0; i < 16; i++)
		st(&f, RAW_BASE + 16 * i, VIOMMU_SMMUV3_CMD_SYNC);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4, 0);
	wr(&f, VIOMMU_SMMUV3_CR0, 4, VIOMMU_SMMUV3_CR0_CMDQEN);
	wr(&f, VIOMMU_SMMUV3_GERRORN, 4, rd(&f, VIOMMU_SMMUV3_GERROR, 4));
	wr(&f, VIOMMU_SMMUV3_CMDQ_PROD, 4, 0x1f); /* wrap 1, index 15: 31 ahead, capped at 16 */
	assert_int_equal(rd(&f, VIOMMU_SMMUV3_CMDQ_CONS, 4), 0x10);
	/* Random register writes everywhere, then translations: no crash. */
	for (int i = 0; i < 2000; i++) {
		uint64_t off = test_below(&rng, VIOMMU_SMMUV3_REG_SIZE / 4) * 4;

		if (off == VIOMMU_SMMUV3_CR0 && (i & 1))
			continue;
		wr(&f, off, 4, (uint32_t)test_rand(&rng));
		xlate(&f, (uint32_t)test_below(&rng, 8), NO_SSID, test_rand(&rng), VIOMMU_ACC_READ,
		      &res);
	}
	fx_fini(&f);
}

static void test_hostile_tables(void **state)
{
	struct test_rng rng = { test_seed(0x5e02) };
	struct viommu_xlate_result res;
	uint64_t ste, cd, w0;
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(vg_smmu_attach(f.d, 9, VG_SMMU_STE_S1, 1, 0, false), 0);
	assert_int_equal(vg_smmu_map(f.d, false, 1, 0, DATA_BASE, 0x10000, VIOMMU_ACC_RW), 0);
	ste = vg_smmu_ste_addr(f.d, 9);
	cd = vg_smmu_cd_addr(f.d, 9, 0);
	w0 = ld(&f, ste);
	/* A CD table that is its own STE, a CD pointing at its own table pages: decoded, never
	 * looping. Then random STE and CD contents: every answer is a result or a fault. */
	st(&f, ste, (w0 & ~VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK) | ste);
	cfgi_ste(&f, 9);
	xlate(&f, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res);
	st(&f, ste, w0);
	st(&f, cd + 8, cd & ~0xfffull);
	cfgi_ste(&f, 9);
	xlate(&f, 9, NO_SSID, 0x1000, VIOMMU_ACC_READ, &res);
	for (int i = 0; i < 3000; i++) {
		uint64_t at = test_below(&rng, 2) ? ste : cd;

		st(&f, at + 8 * test_below(&rng, 8), test_rand(&rng));
		if (test_below(&rng, 4) == 0)
			st(&f, ste, (ld(&f, ste) & ~VIOMMU_SMMUV3_STE_0_S1CONTEXTPTR_MASK) | cd);
		cfgi_ste(&f, 9);
		xlate(&f, 9, test_below(&rng, 2) ? NO_SSID : (uint32_t)test_below(&rng, 1 << 20),
		      test_rand(&rng) >> test_below(&rng, 64), (uint32_t)test_below(&rng, 16),
		      &res);
		if (viommu_xlate_ok(&res))
			assert_true(res.len >= 1);
		vg_smmu_handle_evtq(f.d, NULL, NULL);
	}
	/* Random level-1 stream table descriptors and STRTAB_BASE_CFG values. */
	for (int i = 0; i < 500; i++) {
		wr(&f, VIOMMU_SMMUV3_CR0, 4, 0);
		wr(&f, VIOMMU_SMMUV3_STRTAB_BASE_CFG, 4, (uint32_t)test_rand(&rng));
		wr(&f, VIOMMU_SMMUV3_STRTAB_BASE, 8, RAW_BASE + test_below(&rng, 64) * 64);
		st(&f, RAW_BASE + test_below(&rng, 512) * 8, test_rand(&rng));
		wr(&f, VIOMMU_SMMUV3_CR0, 4, VIOMMU_SMMUV3_CR0_SMMUEN);
		xlate(&f, (uint32_t)test_below(&rng, 1 << 16), NO_SSID, test_rand(&rng),
		      VIOMMU_ACC_READ, &res);
	}
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Randomized against a reference                                                              */
/* ------------------------------------------------------------------------------------------ */

#define R_PAGES 64
#define R_IOVA 0x40000000ull
#define R_STALE 4

/* What page i may translate to: the current mapping and mappings not yet invalidated. */
struct rref {
	bool mapped;
	uint64_t out;
	uint32_t perm;
	int nstale;
	bool unknown; /* more stale mappings than the reference keeps: anything goes */
	uint64_t stale_out[R_STALE];
	uint32_t stale_perm[R_STALE];
};

static void rref_stale(struct rref *r)
{
	if (!r->mapped)
		return;
	if (r->nstale < R_STALE) {
		r->stale_out[r->nstale] = r->out;
		r->stale_perm[r->nstale] = r->perm;
		r->nstale++;
	} else {
		r->unknown = true;
	}
}

static void random_run(enum vg_smmu_ste kind, bool lazy, uint64_t seed)
{
	struct test_rng rng = { test_seed(seed) };
	struct rref *ref = calloc(R_PAGES, sizeof(*ref));
	bool s2 = kind == VG_SMMU_STE_S2;
	uint16_t dom = s2 ? 6 : 5;
	struct fx f;

	assert_non_null(ref);
	fx_init(&f);
	if (kind == VG_SMMU_STE_NESTED) {
		/* Stage 2: the pool and the data identity; stage 1 is what the run changes. */
		assert_int_equal(vg_smmu_map_pool(f.d, 6), 0);
		assert_int_equal(vg_smmu_map(f.d, true, 6, DATA_BASE, DATA_BASE, 1ull << 20,
					     VIOMMU_ACC_RW),
				 0);
	}
	assert_int_equal(vg_smmu_attach(f.d, 1, kind, 5, 6, false), 0);
	for (int step = 0; step < 4000; step++) {
		uint32_t i = (uint32_t)test_below(&rng, R_PAGES),
			 op = (uint32_t)test_below(&rng, 8);
		uint64_t iova = R_IOVA + i * 0x1000ull;
		struct rref *r = &ref[i];

		if (op < 2 && !r->mapped) {
			uint64_t out = DATA_BASE + test_below(&rng, 256) * 0x1000;
			uint32_t perm = test_below(&rng, 2) ? VIOMMU_ACC_RW : VIOMMU_ACC_READ;

			assert_int_equal(vg_smmu_map(f.d, s2, dom, iova, out, 0x1000, perm), 0);
			r->mapped = true;
			r->out = out;
			r->perm = perm;
		} else if (op < 4 && r->mapped) {
			if (lazy) {
				assert_int_equal(vg_smmu_unmap_nosync(f.d, s2, dom, iova, 0x1000),
						 0);
				rref_stale(r);
			} else {
				assert_int_equal(vg_smmu_unmap(f.d, s2, dom, iova, 0x1000), 0);
				r->nstale = 0;
			}
			r->mapped = false;
		} else if (op == 4 && lazy) {
			assert_int_equal(vg_smmu_flush(f.d), 0);
			for (int k = 0; k < R_PAGES; k++) {
				ref[k].nstale = 0;
				ref[k].unknown = false;
			}
		} else {
			uint32_t acc = test_below(&rng, 2) ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ;
			uint64_t off = test_below(&rng, 0x1000) & ~7ull;
			struct viommu_xlate_result res;
			bool ok = false;

			if (xlate(&f, 1, NO_SSID, iova + off, acc, &res) == 0) {
				if (r->mapped && r->out + off == res.out && (r->perm & acc))
					ok = true;
				for (int k = 0; k < r->nstale; k++)
					ok |= r->stale_out[k] + off == res.out &&
					      (r->stale_perm[k] & acc);
				if (!ok && !r->unknown)
					fail_msg("step %d page %u: translated to 0x%llx", step, i,
						 (unsigned long long)res.out);
			} else {
				/* A fault only where nothing current grants the access. */
				if (r->mapped && (r->perm & acc))
					fail_msg("step %d page %u: fault %u for a live mapping",
						 step, i, res.fault.reason);
			}
			vg_smmu_handle_evtq(f.d, NULL, NULL);
		}
	}
	free(ref);
	fx_fini(&f);
}

static void test_random_s1_strict(void **state)
{
	(void)state;
	random_run(VG_SMMU_STE_S1, false, 0x5a01);
}

static void test_random_s1_lazy(void **state)
{
	(void)state;
	random_run(VG_SMMU_STE_S1, true, 0x5a02);
}

static void test_random_s2(void **state)
{
	(void)state;
	random_run(VG_SMMU_STE_S2, false, 0x5a03);
	random_run(VG_SMMU_STE_S2, true, 0x5a04);
}

static void test_random_nested(void **state)
{
	(void)state;
	random_run(VG_SMMU_STE_NESTED, false, 0x5a05);
	random_run(VG_SMMU_STE_NESTED, true, 0x5a06);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),		 cmocka_unit_test(test_idr_reset),
		cmocka_unit_test(test_instances),	 cmocka_unit_test(test_gbpa),
		cmocka_unit_test(test_enable_s1),	 cmocka_unit_test(test_granules),
		cmocka_unit_test(test_nested_faults),	 cmocka_unit_test(test_substreams),
		cmocka_unit_test(test_config_events),	 cmocka_unit_test(test_walk_events),
		cmocka_unit_test(test_ats_events),	 cmocka_unit_test(test_stall_model),
		cmocka_unit_test(test_httu_dirty),	 cmocka_unit_test(test_cmd_errors),
		cmocka_unit_test(test_cmd_sync_signals), cmocka_unit_test(test_invalidation),
		cmocka_unit_test(test_evtq_overflow),	 cmocka_unit_test(test_priq),
		cmocka_unit_test(test_notify),		 cmocka_unit_test(test_caching_mode),
		cmocka_unit_test(test_substream_sync),	 cmocka_unit_test(test_hostile_queues),
		cmocka_unit_test(test_hostile_tables),	 cmocka_unit_test(test_random_s1_strict),
		cmocka_unit_test(test_random_s1_lazy),	 cmocka_unit_test(test_random_s2),
		cmocka_unit_test(test_random_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
