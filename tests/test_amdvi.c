// SPDX-License-Identifier: MIT
/*
 * AMD-Vi model: register file, Linux's bring-up and mapping sequences through the guest driver
 * (guest/amdvi_driver.c), every event the model logs checked field by field, hostile programming
 * (tables and buffers outside memory, pointers past the length, reserved bits, loops), NpCache
 * MAP/UNMAP notifications, and a randomized run against a reference that knows what a
 * translation may legally return at each instant.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/pt.h>
#include <viommu/spec/amdvi.h>

#include "amdvi_driver.h"

#define MEM_SIZE (64ull << 20)
#define POOL_BASE (1ull << 20)
#define POOL_SIZE (32ull << 20)
#define RAW_BASE (40ull << 20) /* hand-built tables for hostile cases */
#define DATA_BASE (48ull << 20)
#define MSI_ADDR 0xfee01000ull
#define MSI_DATA 0x4041u

struct evlog {
	int n;
	uint32_t ev[64][4];
};

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_amdvi *d;
	struct test_msi_log msi;
	struct evlog evs;
};

static void on_event(void *opaque, const uint32_t ev[4])
{
	struct evlog *l = opaque;

	if (l->n < 64)
		memcpy(l->ev[l->n], ev, 16);
	l->n++;
}

/* The fixture's MMIO accesses (test_common.h). */
#define rd(f, off, size) test_mmio_rd((f)->v, (off), (size))
#define wr(f, off, size, val) test_mmio_wr((f)->v, (off), (size), (val))

/* The fixture with the model reaching memory through @host (flatmem's ops, or a subset). */
static void fx_init_host(struct fx *f, const struct viommu_amdvi_config *cfg,
			 const struct vg_amdvi_config *dcfg, bool with_driver,
			 const struct viommu_host_ops *host)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	viommu_flatmem_set_irq_handlers(f->fm, test_on_msi, NULL, &f->msi);
	assert_int_equal(viommu_amdvi_create(cfg, host, f->fm, &f->v), 0);
	if (with_driver) {
		struct vg_amdvi_config dc = { 0 };

		if (dcfg)
			dc = *dcfg;
		dc.iommu = f->v;
		dc.mem = f->fm;
		dc.pool_base = POOL_BASE;
		dc.pool_size = POOL_SIZE;
		dc.msi_addr = MSI_ADDR;
		dc.msi_data = MSI_DATA;
		assert_int_equal(vg_amdvi_create(&dc, &f->d), 0);
		assert_int_equal(vg_amdvi_enable(f->d), 0);
	}
}

static void fx_init_cfg(struct fx *f, const struct viommu_amdvi_config *cfg,
			const struct vg_amdvi_config *dcfg, bool with_driver)
{
	fx_init_host(f, cfg, dcfg, with_driver, viommu_flatmem_ops());
}

static struct viommu_amdvi_config cfg_default(void)
{
	struct viommu_amdvi_config c;

	viommu_amdvi_config_init(&c);
	return c;
}

static void fx_init(struct fx *f, bool with_driver)
{
	struct viommu_amdvi_config c = cfg_default();

	fx_init_cfg(f, &c, NULL, with_driver);
}

static void fx_fini(struct fx *f)
{
	vg_amdvi_destroy(f->d);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static struct viommu_xlate_result xl(struct fx *f, uint32_t sid, uint64_t iova, uint32_t acc)
{
	return test_xl(f->v, sid, iova, 8, acc);
}

static bool ok_at(struct fx *f, uint32_t sid, uint64_t iova)
{
	struct viommu_xlate_result r = xl(f, sid, iova, VIOMMU_ACC_READ);

	return viommu_xlate_ok(&r);
}

static void poke64(struct fx *f, uint64_t gpa, uint64_t v)
{
	test_poke64(f->fm, gpa, v);
}

static uint64_t peek64(struct fx *f, uint64_t gpa)
{
	return test_peek64(f->fm, gpa);
}

/* Run the guest's interrupt handler; the events it consumed land in f->evs. */
static int drain(struct fx *f)
{
	f->evs.n = 0;
	return vg_amdvi_handle_irq(f->d, on_event, &f->evs);
}

static uint32_t ev_code(const uint32_t ev[4])
{
	return (uint32_t)VIOMMU_AMDVI_EV_CODE_GET(ev[1]);
}

static uint64_t ev_addr(const uint32_t ev[4])
{
	return (uint64_t)ev[3] << 32 | ev[2];
}

/* One event of @code for @devid with exactly @flags (DW1 27:16) and @addr. */
static void expect_event(struct fx *f, uint32_t code, uint32_t devid, uint32_t dp, uint32_t flags,
			 uint64_t addr)
{
	assert_int_equal(drain(f), 1);
	assert_int_equal(ev_code(f->evs.ev[0]), code);
	assert_int_equal(f->evs.ev[0][0] & 0xffff, devid);
	assert_int_equal(f->evs.ev[0][1] & 0xffff, dp);
	assert_int_equal(f->evs.ev[0][1] & (uint32_t)VIOMMU_AMDVI_EV1_FLAGS_MASK, flags);
	assert_int_equal(ev_addr(f->evs.ev[0]), addr);
}

static struct viommu_xlate_result ats(struct fx *f, uint32_t sid, uint64_t iova, uint32_t acc)
{
	struct viommu_xlate_req req = { .sid = sid, .iova = iova, .len = 8, .access = acc };
	struct viommu_xlate_result res;

	assert_int_equal(viommu_amdvi_ats_translate(f->v, &req, &res), 0);
	return res;
}

/* Write @devid's DTE QW0/QW1 directly (QW2/QW3 zero) and invalidate it. */
static void set_dte(struct fx *f, uint32_t devid, uint64_t q0, uint64_t q1)
{
	uint64_t a = vg_amdvi_dte_addr(f->d, (uint16_t)devid);

	poke64(f, a, q0);
	poke64(f, a + 8, q1);
	poke64(f, a + 16, 0);
	poke64(f, a + 24, 0);
	assert_int_equal(vg_amdvi_inv_devtab(f->d, (uint16_t)devid), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* INVALID_DEVICE_REQUEST (2.5.9) and IOTLB_INV_TIMEOUT (2.5.8)                               */
/* ------------------------------------------------------------------------------------------ */

static void test_invalid_device_request(void **state)
{
	const uint32_t tr = (uint32_t)VIOMMU_AMDVI_EV1_TR;
	const uint32_t no_ats = (uint32_t)VIOMMU_AMDVI_EV1_IDR_TYPE_SET(VIOMMU_AMDVI_IDR_NO_ATS);
	struct viommu_xlate_req req = { .sid = 0x0100, .iova = 0x10000, .len = 8 };
	struct viommu_xlate_result r, t;
	struct viommu_amdvi_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, true);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);

	/* Type 000b: a read of the interrupt range; a write there stays an interrupt request. */
	r = xl(&f, 0x0100, 0xfee00010, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
	assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0100, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_IDR_TYPE_SET(VIOMMU_AMDVI_IDR_INTR_READ),
		     0xfee00010);
	assert_int_equal(f.evs.ev[0][0], 0x0100);
	r = xl(&f, 0x0100, 0xfee00010, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, VIOMMU_XLATE_F_INTERRUPT);
	assert_int_equal(drain(&f), 0);

	/* Type 001b, TR = 1: a translation request from a device whose DTE has I = 0. */
	r = ats(&f, 0x0100, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0100, 0, tr | no_ats, 0x10000);
	/* With a PASID: its bits 19:16 in DW0, 15:0 in DW1, GN, and US for a user request. */
	req.has_pasid = true;
	req.pasid = 0x5a5a5;
	req.access = VIOMMU_ACC_WRITE;
	assert_int_equal(viommu_amdvi_ats_translate(f.v, &req, &r), 0);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0100, 0xa5a5,
		     tr | no_ats | (uint32_t)(VIOMMU_AMDVI_EV1_GN | VIOMMU_AMDVI_EV1_IDR_US),
		     0x10000);
	assert_int_equal(f.evs.ev[0][0], 0x50000 | 0x0100);
	req.access = VIOMMU_ACC_WRITE | VIOMMU_ACC_PRIV; /* supervisor: US clear */
	assert_int_equal(viommu_amdvi_ats_translate(f.v, &req, &r), 0);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0100, 0xa5a5,
		     tr | no_ats | (uint32_t)VIOMMU_AMDVI_EV1_GN, 0x10000);
	/* Type 001b, TR = 0: a pretranslated request from that device. */
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0100, DATA_BASE, VIOMMU_ACC_WRITE),
			 VIOMMU_EPERM);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0100, 0, no_ats, DATA_BASE);

	/* I = 1: translation requests translate as untranslated ones do. */
	assert_int_equal(vg_amdvi_set_ats(f.d, 0x0100, true), 0);
	r = ats(&f, 0x0100, 0x10008, VIOMMU_ACC_WRITE);
	t = xl(&f, 0x0100, 0x10008, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 8);
	assert_int_equal(r.out, t.out);
	assert_int_equal(r.perm, t.perm);
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0100, DATA_BASE, VIOMMU_ACC_WRITE),
			 0);
	assert_int_equal(drain(&f), 0);
	/* What a translation request finds blocked is logged with TR = 1. */
	r = ats(&f, 0x0100, 0x20000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, tr, 0x20000);
	/* ... and an untranslated request after it without. */
	r = xl(&f, 0x0100, 0x20000, VIOMMU_ACC_READ);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, 0, 0x20000);
	/* An illegal DTE: its own event, with TR. */
	set_dte(&f, 0x0300, VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_RSVD_63,
		0);
	r = ats(&f, 0x0300, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
	expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0x0300, 0,
		     tr | (uint32_t)VIOMMU_AMDVI_EV1_RZ, 0x1000);
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0300, 0x1000, VIOMMU_ACC_READ),
			 VIOMMU_EPERM);
	expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0x0300, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_RZ, 0x1000);

	/* V = 1, TV = 0, I = 1: translation requests refused, pretranslated ones allowed. */
	set_dte(&f, 0x0200, VIOMMU_AMDVI_DTE0_V, VIOMMU_AMDVI_DTE1_I);
	r = ats(&f, 0x0200, 0x3000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0200, 0, tr | no_ats, 0x3000);
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0200, 0x3000, VIOMMU_ACC_READ), 0);
	assert_int_equal(drain(&f), 0);
	/* V = 0: both refused (untranslated requests pass). */
	set_dte(&f, 0x0200, 0, VIOMMU_AMDVI_DTE1_I);
	r = ats(&f, 0x0200, 0x4000, VIOMMU_ACC_READ);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0200, 0, tr | no_ats, 0x4000);
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0200, 0x4000, VIOMMU_ACC_READ),
			 VIOMMU_EPERM);
	expect_event(&f, VIOMMU_AMDVI_EV_INVALID_DEVICE_REQUEST, 0x0200, 0, no_ats, 0x4000);
	assert_true(ok_at(&f, 0x0200, 0x4000));

	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.invalid_dev_requests, 8);
	assert_int_equal(st.ats_translations, 8);
	/* Bad calls. */
	assert_int_equal(viommu_amdvi_ats_translate(NULL, &req, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_amdvi_ats_translate(f.v, NULL, &r), VIOMMU_EINVAL);
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x10000, 0, 0), VIOMMU_EINVAL);
	/* IommuEn clear: everything passes, nothing is logged. */
	assert_int_equal(vg_amdvi_disable(f.d), 0);
	r = ats(&f, 0x0200, 0x4000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	r = xl(&f, 0x0100, 0xfee00010, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(viommu_amdvi_translated_request(f.v, 0x0200, 0x4000, VIOMMU_ACC_READ), 0);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.invalid_dev_requests, 8);
	fx_fini(&f);
}

struct timeout_rec {
	struct viommu *v;
	uint32_t fail_sid; /* report a timeout for this device from the callback */
	int n, ret;
};

static void on_devtlb_timeout(void *opaque, const struct viommu_event *ev)
{
	struct timeout_rec *t = opaque;

	t->n++;
	if (ev->sid == t->fail_sid)
		t->ret = viommu_amdvi_iotlb_inv_timeout(t->v, ev->sid);
}

static void test_iotlb_inv_timeout(void **state)
{
	struct timeout_rec t = { .fail_sid = 0x0100 };
	struct viommu_amdvi_stats st;
	struct viommu_notifier *n;
	uint64_t head, at;
	struct fx f;

	(void)state;
	fx_init(&f, true);
	t.v = f.v;
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP,
					     on_devtlb_timeout, &t, &n),
			 0);
	/* Nothing known yet for the device. */
	assert_int_equal(viommu_amdvi_iotlb_inv_timeout(f.v, 0x0100), VIOMMU_ENOENT);
	/* The consumer reports the timeout from its callback: logged before the wait completes. */
	head = rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4);
	at = vg_amdvi_cmd_base(f.d) + head;
	assert_int_equal(vg_amdvi_inv_iotlb(f.d, 0x0100, 0x7000, 0x1000), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ret, 0);
	expect_event(&f, VIOMMU_AMDVI_EV_IOTLB_INV_TIMEOUT, 0x0100, 0, 0, at);
	assert_int_equal(f.evs.ev[0][0], 0x0100);
	assert_int_equal(f.evs.ev[0][1],
			 VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_IOTLB_INV_TIMEOUT));
	/* Another device completes: nothing logged. */
	assert_int_equal(vg_amdvi_inv_iotlb(f.d, 0x0200, 0x7000, 0x1000), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(drain(&f), 0);
	/* Reported later: the last INVALIDATE_IOTLB_PAGES for that device. */
	head = rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4);
	t.fail_sid = 0xffff;
	assert_int_equal(vg_amdvi_inv_iotlb(f.d, 0x0200, 0x9000, 0x1000), 0);
	assert_int_equal(viommu_amdvi_iotlb_inv_timeout(f.v, 0x0200), 0);
	expect_event(&f, VIOMMU_AMDVI_EV_IOTLB_INV_TIMEOUT, 0x0200, 0, 0,
		     vg_amdvi_cmd_base(f.d) + head);
	/* A device sharing the slot but never invalidated: unknown. */
	assert_int_equal(viommu_amdvi_iotlb_inv_timeout(f.v, 0x0200 + 256), VIOMMU_ENOENT);
	assert_int_equal(viommu_amdvi_iotlb_inv_timeout(f.v, 0x10000), VIOMMU_EINVAL);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.iotlb_inv_timeouts, 2);
	/* Event log off: the log's refusal. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	assert_int_equal(viommu_amdvi_iotlb_inv_timeout(f.v, 0x0200), VIOMMU_EPERM);
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
}

/* Enhanced PPR handling (EPHSup, control EPHEn): the DTE's PPR bit decides. */
static void test_eph(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_amdvi_page_request pr = { .devid = 0x0123,
						.pasid = 0x5abcd,
						.has_pasid = true,
						.addr = 0x7f0012345678ull,
						.access = VIOMMU_ACC_READ | VIOMMU_ACC_WRITE,
						.tag = 0x1a5 };
	struct viommu_amdvi_stats st;
	struct evlog ppr = { 0 };
	uint64_t q0, a;
	struct fx f;

	(void)state;
	/* EPH needs PPR. */
	c.flags |= VIOMMU_AMDVI_EPH;
	{
		struct viommu *v;

		assert_int_equal(viommu_amdvi_create(&c, NULL, NULL, &v), VIOMMU_EINVAL);
	}
	c.flags |= VIOMMU_AMDVI_PPR;
	fx_init_cfg(&f, &c, NULL, true);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8) & VIOMMU_AMDVI_EFR_EPH_SUP);
	assert_int_equal(vg_amdvi_enable_ppr(f.d, on_event, &ppr), 0);
	/* EPHEn clear: logged whatever the DTE says (the driver's DTE has PPR = 0). */
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_EPH_EN);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & VIOMMU_AMDVI_CTRL_EPH_EN);
	/* EPHEn, DTE PPR = 0: refused, INVALID_PPR_REQUEST in the event log. */
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EPERM);
	ppr.n = 0;
	assert_int_equal(drain(&f), 1);
	assert_int_equal(ppr.n, 1); /* only the first request reached the PPR log */
	assert_int_equal(ev_code(f.evs.ev[0]), VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
	q0 = (uint64_t)f.evs.ev[0][1] << 32 | f.evs.ev[0][0];
	assert_int_equal(q0 & 0xffff, 0x0123);
	assert_int_equal((q0 >> 16) & 0xffff, 0xabcd);			     /* PASID 15:0 */
	assert_int_equal((q0 >> 42) & 0xf, 0x5);			     /* PASID 19:16 */
	assert_int_equal((q0 >> 32) & 0x3ff, 0x1a5);			     /* tag */
	assert_int_equal((q0 >> 48) & 0xfff, 0x004 | 0x020 | 0x040 | 0x100); /* RD WR US GN */
	assert_int_equal(ev_addr(f.evs.ev[0]), 0x7f0012345000ull);
	/* DTE PPR = 1: logged in the PPR log. */
	a = vg_amdvi_dte_addr(f.d, 0x0123);
	poke64(&f, a, peek64(&f, a) | VIOMMU_AMDVI_DTE0_PPR);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0123), 0);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	ppr.n = 0;
	assert_int_equal(drain(&f), 0);
	assert_int_equal(ppr.n, 1);
	/* V = 0: refused. */
	poke64(&f, a, 0);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0123), 0);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EPERM);
	assert_int_equal(drain(&f), 1);
	assert_int_equal(ev_code(f.evs.ev[0]), VIOMMU_AMDVI_EV_INVALID_PPR_REQUEST);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.ppr_invalid, 2);
	assert_int_equal(st.ppr_logged, 2);
	fx_fini(&f);
	/* Without EPHSup, EPHEn is not writable. */
	c.flags &= ~VIOMMU_AMDVI_EPH;
	fx_init_cfg(&f, &c, NULL, false);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, VIOMMU_AMDVI_CTRL_EPH_EN);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8), 0);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* PREFETCH_IOMMU_PAGES (2.4.6)                                                                */
/* ------------------------------------------------------------------------------------------ */

static void prefetch_cmd(struct fx *f, uint32_t devid, uint32_t count, uint64_t addr, bool s_bit,
			 bool inval)
{
	uint32_t c[4] = { devid | (uint32_t)VIOMMU_AMDVI_PF0_COUNT_SET(count),
			  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
				  VIOMMU_AMDVI_CMD_PREFETCH_IOMMU_PAGES),
			  (uint32_t)addr | (s_bit ? (uint32_t)VIOMMU_AMDVI_PF2_S : 0) |
				  (inval ? (uint32_t)VIOMMU_AMDVI_PF2_INVAL : 0),
			  (uint32_t)(addr >> 32) };

	assert_int_equal(vg_amdvi_submit(f->d, c), 0);
	assert_int_equal(vg_amdvi_completion_wait(f->d), 0);
}

static void test_prefetch(void **state)
{
	struct viommu_amdvi_stats a, b;
	struct viommu_xlate_result r;
	uint64_t root, pte;
	struct fx f;

	(void)state;
	fx_init(&f, true);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	/* Three of four pages mapped, and a 2 MiB page. */
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x3000, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x400000, 0x800000, 0x200000, VIOMMU_ACC_READ), 0);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	prefetch_cmd(&f, 0x0100, 4, 0x10000, false, false);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	assert_int_equal(b.cmd_prefetch - a.cmd_prefetch, 1);
	assert_int_equal(b.prefetched - a.prefetched, 3);
	assert_int_equal(b.page_walks - a.page_walks, 4);
	/* The three translate from the IOTLB: no walk, no miss. */
	for (int i = 0; i < 3; i++) {
		r = xl(&f, 0x0100, 0x10000 + 0x1000 * (uint64_t)i + 8, VIOMMU_ACC_WRITE);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE + 0x1000 * (uint64_t)i + 8);
	}
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.page_walks, b.page_walks);
	assert_int_equal(a.iotlb_misses, b.iotlb_misses);
	assert_int_equal(drain(&f), 0); /* the hole was not a fault */
	/* S = 1: one 2 MiB block (address bits 19:12 ones), its one translation. */
	prefetch_cmd(&f, 0x0100, 1, 0x4ff000, true, false);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	assert_int_equal(b.prefetched - a.prefetched, 1);
	r = xl(&f, 0x0100, 0x5fffff, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x9fffff);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.page_walks, b.page_walks);
	/*
	 * The guest changes a leaf without invalidating (as NpCache-less guests may not): the
	 * cached translation stays until a prefetch with Inval reloads it.
	 */
	assert_int_equal(vg_amdvi_domain_root(f.d, 5, &root), 0);
	r = xl(&f, 0x0100, 0x10000, VIOMMU_ACC_READ);
	{
		/* Find the 4 KiB leaf: walk the guest's table by hand (levels 3..1). */
		uint64_t t = root, e = 0;

		for (int lvl = 3; lvl > 1; lvl--) {
			e = peek64(&f, t + ((0x10000 >> (12 + 9 * (lvl - 1))) & 511) * 8);
			t = e & VIOMMU_AMDVI_PTE_ADDR_MASK;
		}
		pte = t + ((0x10000 >> 12) & 511) * 8;
		e = peek64(&f, pte);
		poke64(&f, pte, (e & ~VIOMMU_AMDVI_PTE_ADDR_MASK) | (DATA_BASE + 0x10000));
	}
	r = xl(&f, 0x0100, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE); /* still cached */
	/* A prefetch loads the translation as it is now, replacing the cached one. */
	prefetch_cmd(&f, 0x0100, 1, 0x10000, false, false);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	r = xl(&f, 0x0100, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x10000);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.page_walks, b.page_walks); /* loaded by the prefetch */
	/*
	 * Now not present: a prefetch skips the hole and leaves the stale entry; with Inval it
	 * drops it first, and the next request walks and faults.
	 */
	poke64(&f, pte, 0);
	prefetch_cmd(&f, 0x0100, 1, 0x10000, false, false);
	assert_true(ok_at(&f, 0x0100, 0x10000));
	prefetch_cmd(&f, 0x0100, 1, 0x10000, false, true);
	assert_false(ok_at(&f, 0x0100, 0x10000));
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, 0, 0x10000);
	/* Inval covers PFCount blocks: the still-mapped neighbours reload. */
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	prefetch_cmd(&f, 0x0100, 3, 0x10000, false, true);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.prefetched - b.prefetched, 2);
	assert_true(ok_at(&f, 0x0100, 0x12000));
	assert_false(ok_at(&f, 0x0100, 0x10000));
	assert_int_equal(drain(&f), 1);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	/* A device without tables, or PFCount 0: nothing loaded, nothing logged. */
	prefetch_cmd(&f, 0x0200, 8, 0x10000, false, false);
	prefetch_cmd(&f, 0x0100, 0, 0x10000, false, true);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	assert_int_equal(b.prefetched, a.prefetched);
	assert_int_equal(b.cmd_prefetch, a.cmd_prefetch + 2);
	assert_int_equal(drain(&f), 0);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Registers                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_registers(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_amdvi_stats st;
	uint32_t hdr, misc;
	struct fx f;

	(void)state;
	c.hats_levels = 5;
	fx_init_cfg(&f, &c, NULL, false);
	assert_string_equal(viommu_model_name(f.v), "amdvi");
	/* EFR advertises exactly what is implemented: HATS 01b (5 levels), IASup, PreFSup. */
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8),
			 VIOMMU_AMDVI_EFR_HATS_SET(1) | VIOMMU_AMDVI_EFR_IA_SUP |
				 VIOMMU_AMDVI_EFR_PREF_SUP);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8), 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4), 0);
	/* The EFR is read-only. */
	wr(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8, ~0ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8),
			 VIOMMU_AMDVI_EFR_HATS_SET(1) | VIOMMU_AMDVI_EFR_IA_SUP |
				 VIOMMU_AMDVI_EFR_PREF_SUP);
	/* Base registers keep their fields only; 32-bit halves merge. */
	wr(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8, ~0ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8), 0x000ffffffffff1ffull);
	wr(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE + 4, 4, 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8), 0xfffff1ffull);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, ~0ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8), 0x0f0ffffffffff000ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE + 4, 4), 0x0f0fffffull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE + 7, 1), 0x0f);
	/* Pointers: 18:4. */
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4, 0xffffffff);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 8), 0x7fff0);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 8, ~0ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 4), 0x7fff0);
	/* Exclusion limit: the low 12 bits read as ones. */
	wr(&f, VIOMMU_AMDVI_MMIO_EXCL_LIMIT, 8, 0x12345678ull);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EXCL_LIMIT, 8), 0x12345fffull);
	/* Control: implemented bits only. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, VIOMMU_AMDVI_CTRL_GT_EN | VIOMMU_AMDVI_CTRL_COHERENT);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8), VIOMMU_AMDVI_CTRL_COHERENT);
	/* Misaligned, odd widths, the gap between the pages and past them: zero, ignored. */
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL + 1, 4), 0);
	{
		uint64_t x;

		/* A width the core does not know is a bad call. */
		assert_int_equal(viommu_mmio_read(f.v, VIOMMU_AMDVI_MMIO_CONTROL, 3, &x),
				 VIOMMU_EINVAL);
	}
	assert_int_equal(rd(&f, 0x1000, 8), 0);
	assert_int_equal(rd(&f, 0x3000, 8), 0);
	wr(&f, 0x1018, 8, 1);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL + 2, 4, 1);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8), VIOMMU_AMDVI_CTRL_COHERENT);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_true(st.mmio_ignored >= 3);
	/* The PCI capability header for the VMM. */
	assert_int_equal(viommu_amdvi_pci_cap(f.v, &hdr, &misc), 0);
	assert_int_equal(hdr & 0xff, VIOMMU_AMDVI_CAP_ID);
	assert_int_equal((hdr >> 16) & 7, VIOMMU_AMDVI_CAP_TYPE);
	assert_true(hdr & VIOMMU_AMDVI_CAP_HDR_NP_CACHE);
	assert_true(hdr & VIOMMU_AMDVI_CAP_HDR_IOTLB_SUP);
	assert_true(hdr & VIOMMU_AMDVI_CAP_HDR_EFR_SUP);
	assert_int_equal((misc >> 8) & 0x7f, 48);
	assert_int_equal((misc >> 15) & 0x7f, 57);
	/* Bad calls. */
	assert_int_equal(viommu_amdvi_get_stats(NULL, &st), VIOMMU_EINVAL);
	assert_int_equal(viommu_amdvi_set_msi(NULL, true, 0, 0), VIOMMU_EINVAL);
	c.hats_levels = 3;
	{
		struct viommu *bad;

		assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), f.fm, &bad),
				 VIOMMU_EINVAL);
		c = cfg_default();
		c.pa_bits = 60;
		assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), f.fm, &bad),
				 VIOMMU_EINVAL);
	}
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Linux's sequences                                                                           */
/* ------------------------------------------------------------------------------------------ */

static void test_bringup_and_map(void **state)
{
	struct viommu_xlate_result r;
	struct viommu_amdvi_stats st;
	struct fx f;
	uint64_t status;

	(void)state;
	fx_init(&f, true);
	/* Enabled, buffers running, nothing logged by the bring-up. */
	status = rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 8);
	assert_true(status & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
	assert_true(status & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN);
	assert_false(status & VIOMMU_AMDVI_STATUS_EVENT_LOG_INT);
	assert_int_equal(f.msi.n, 0);
	/* An unattached device is blocked: Mode 0 without rights, IO_PAGE_FAULT with PR, PE. */
	r = xl(&f, 0x0010, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
	assert_int_equal(f.msi.n, 1);
	assert_int_equal(f.msi.addr, MSI_ADDR);
	assert_int_equal(f.msi.data, MSI_DATA);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0010, 0,
		     (uint32_t)(VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE), 0x1000);
	/* The handler cleared the status and zeroed the entry; the head followed the tail. */
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & 7, 0);
	/* Writing ones clears only the W1C bits: the run bits are read-only (3.4.11). */
	wr(&f, VIOMMU_AMDVI_MMIO_STATUS, 4, 0xffffffff);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4),
			 VIOMMU_AMDVI_STATUS_CMD_BUF_RUN | VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 4),
			 rd(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL, 4));

	/* Attach and map 4 KiB, 2 MiB and 1 GiB pages. */
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x1000, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x200000, 0x400000, 0x200000, VIOMMU_ACC_READ), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x40000000, 0x40000000, 0x40000000, VIOMMU_ACC_RW),
			 0);
	r = xl(&f, 0x0100, 0x10123, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x123);
	assert_int_equal(r.page_shift, 12);
	assert_int_equal(r.perm, VIOMMU_ACC_RW);
	r = xl(&f, 0x0100, 0x3fffff, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x5fffff);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(r.len, 1);
	r = xl(&f, 0x0100, 0x40000000 + 0x12345678, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x40000000 + 0x12345678);
	assert_int_equal(r.page_shift, 30);
	/* The second translation hits the IOTLB (and the DTE cache). */
	r = xl(&f, 0x0100, 0x10008, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 8);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_true(st.iotlb_hits >= 1);
	assert_true(st.dte_hits >= 1);
	/* Write to the read-only 2 MiB page: IO_PAGE_FAULT with PR, PE, RW and the domain. */
	r = xl(&f, 0x0100, 0x200010, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5,
		     (uint32_t)(VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE | VIOMMU_AMDVI_EV1_RW),
		     0x200010);
	/* Not present: PR = 0. */
	r = xl(&f, 0x0100, 0x20000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, 0, 0x20000);
	/* Beyond the 3-level range (39 bits). */
	r = xl(&f, 0x0100, 1ull << 40, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, 0, 1ull << 40);
	/* Strict unmap flushes: the page faults at once. */
	assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x10000, 0x1000), 0);
	r = xl(&f, 0x0100, 0x10000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	drain(&f);
	/* Pass-through (Mode 0, IR/IW) and the interrupt window. */
	assert_int_equal(vg_amdvi_attach(f.d, 0x0200, 6, true), 0);
	r = xl(&f, 0x0200, 0x123456789ull, VIOMMU_ACC_RW);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x123456789ull);
	r = xl(&f, 0x0100, 0xfee00000, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.flags, VIOMMU_XLATE_F_INTERRUPT);
	/* Detach: blocked again. */
	assert_int_equal(vg_amdvi_detach(f.d, 0x0100), 0);
	r = xl(&f, 0x0100, 0x200000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	drain(&f);
	/* Disabled: untranslated. */
	vg_amdvi_disable(f.d);
	r = xl(&f, 0x0100, 0x777000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x777000);
	fx_fini(&f);
}

/*
 * V = 0 and TV = 0 pass untranslated; a cached DTE serves until INVALIDATE_DEVTAB_ENTRY; SA and
 * SE suppress IO_PAGE_FAULT events (all of them, the repeats).
 */
static void test_dte_valid_bits_and_cache(void **state)
{
	struct viommu_xlate_result r;
	struct fx f;
	uint64_t a;

	(void)state;
	fx_init(&f, true);
	a = vg_amdvi_dte_addr(f.d, 0x0300);
	poke64(&f, a, 0);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_RW);
	assert_int_equal(r.out, 0x5000);
	/* V = 1, TV = 0, reserved translation fields are not looked at but still checked. */
	poke64(&f, a, VIOMMU_AMDVI_DTE0_V);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_RW);
	assert_int_equal(r.out, 0x5000); /* still the cached V = 0 entry */
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_RW);
	assert_int_equal(r.out, 0x5000);
	/* Mode 0 read-only. */
	poke64(&f, a, VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.perm, VIOMMU_ACC_READ);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	drain(&f);
	/* SA suppresses IO_PAGE_FAULT events. */
	poke64(&f, a + 8, VIOMMU_AMDVI_DTE1_SA);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
	assert_int_equal(drain(&f), 0);
	/*
	 * SE suppresses the repeats: the first IO_PAGE_FAULT is logged, the next ones are not,
	 * until INVALIDATE_DEVTAB_ENTRY re-arms it; other events are never suppressed.
	 */
	poke64(&f, a + 8, VIOMMU_AMDVI_DTE1_SE);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
	{
		struct viommu_amdvi_stats st0, st1;

		viommu_amdvi_get_stats(f.v, &st0);
		r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_WRITE);
		assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
		r = xl(&f, 0x0300, 0x6000, VIOMMU_ACC_WRITE);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
		r = xl(&f, 0x0300, 0x7000, VIOMMU_ACC_WRITE);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
		assert_int_equal(drain(&f), 1);
		viommu_amdvi_get_stats(f.v, &st1);
		assert_int_equal(st1.events_suppressed - st0.events_suppressed, 2);
		assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
		r = xl(&f, 0x0300, 0x8000, VIOMMU_ACC_WRITE);
		assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
		r = xl(&f, 0x0300, 0x9000, VIOMMU_ACC_WRITE);
		assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_SUPPRESSED);
		assert_int_equal(drain(&f), 1);
		/* Without SE every fault is logged. */
		poke64(&f, a + 8, 0);
		assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0300), 0);
		r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_WRITE);
		r = xl(&f, 0x0300, 0x6000, VIOMMU_ACC_WRITE);
		assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
		assert_int_equal(drain(&f), 2);
	}
	/* INVALIDATE_IOMMU_ALL drops every cached entry. */
	poke64(&f, a, 0);
	{
		uint32_t c[4] = { 0,
				  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL),
				  0, 0 };

		assert_int_equal(vg_amdvi_submit(f.d, c), 0);
	}
	r = xl(&f, 0x0300, 0x5000, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	fx_fini(&f);
}

/* The exclusion range passes requests untranslated (Allow, or the DTE's EX). */
static void test_exclusion(void **state)
{
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init(&f, true);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	wr(&f, VIOMMU_AMDVI_MMIO_EXCL_BASE, 8, 0x800000 | VIOMMU_AMDVI_EXCL_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_EXCL_LIMIT, 8, 0x8ff000);
	r = xl(&f, 0x0100, 0x800010, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r)); /* EX clear, Allow clear */
	drain(&f);
	wr(&f, VIOMMU_AMDVI_MMIO_EXCL_BASE, 8,
	   0x800000 | VIOMMU_AMDVI_EXCL_EN | VIOMMU_AMDVI_EXCL_ALLOW);
	r = xl(&f, 0x0100, 0x800010, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, 0x800010);
	r = xl(&f, 0x0100, 0x900000, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Hostile device table entries and tables                                                     */
/* ------------------------------------------------------------------------------------------ */

static void illegal_dte(struct fx *f, uint64_t q0, uint64_t q1, uint64_t q2, uint64_t q3)
{
	uint64_t a = vg_amdvi_dte_addr(f->d, 0x0400);
	struct viommu_xlate_result r;

	poke64(f, a, q0);
	poke64(f, a + 8, q1);
	poke64(f, a + 16, q2);
	poke64(f, a + 24, q3);
	assert_int_equal(vg_amdvi_inv_devtab(f->d, 0x0400), 0);
	r = xl(f, 0x0400, 0xabc000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_CONFIG);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
	expect_event(f, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0x0400, 0,
		     (uint32_t)(VIOMMU_AMDVI_EV1_RZ | VIOMMU_AMDVI_EV1_RW), 0xabc000);
}

static void test_illegal_dte(void **state)
{
	const uint64_t vt = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV;
	struct viommu_amdvi_config c = cfg_default();
	struct fx f;
	uint64_t root;

	(void)state;
	c.hats_levels = 4;
	fx_init_cfg(&f, &c, NULL, true);
	assert_int_equal(vg_amdvi_domain_root(f.d, 9, &root), 0);
	illegal_dte(&f, vt | VIOMMU_AMDVI_BIT(2), 0, 0, 0);		     /* QW0 6:2 */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_RSVD_63, 0, 0, 0);	     /* QW0 63 */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_MODE_SET(7) | root, 0, 0, 0); /* Mode 7 */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_MODE_SET(5) | root, 0, 0, 0); /* above HATS */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_MODE_SET(3) | (1ull << 50), 0, 0, 0); /* > PA */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_GV, 0, 0, 0);	   /* GTSup not offered */
	illegal_dte(&f, vt | VIOMMU_AMDVI_DTE0_HAD_MASK, 0, 0, 0); /* HASup not offered */
	illegal_dte(&f, vt, VIOMMU_AMDVI_DTE1_RSVD_42, 0, 0);	   /* QW1 42 */
	illegal_dte(&f, vt, VIOMMU_AMDVI_DTE1_IOCTL_MASK, 0, 0);   /* IoCtl 11b */
	illegal_dte(&f, vt, 0, VIOMMU_AMDVI_DTE2_IV | VIOMMU_AMDVI_DTE2_INT_CTL_MASK, 0);
	illegal_dte(&f, vt, 0, VIOMMU_AMDVI_DTE2_IV | (12ull << 1), 0); /* IntTabLen > 11 */
	illegal_dte(&f, vt, 0, VIOMMU_AMDVI_DTE2_RSVD_59, 0);
	illegal_dte(&f, vt, 0, 0, 1); /* QW3 */
	/* The same bits in an entry with V = 0 mean nothing. */
	poke64(&f, vg_amdvi_dte_addr(f.d, 0x0400), VIOMMU_AMDVI_DTE0_RSVD_63);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0400), 0);
	{
		struct viommu_xlate_result r = xl(&f, 0x0400, 0x1000, VIOMMU_ACC_READ);

		assert_true(viommu_xlate_ok(&r));
	}
	fx_fini(&f);
}

/* A DeviceID past the table's size, a table outside memory, tables outside memory. */
static void test_hw_errors(void **state)
{
	struct vg_amdvi_config dc = { .dev_table_pages = 1 }; /* DeviceIDs 0..127 */
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;
	uint64_t dtab, a;

	(void)state;
	fx_init_cfg(&f, &c, &dc, true);
	r = xl(&f, 0x0080, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_CONFIG);
	expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY, 0x0080, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_RZ, 0x1000);
	/* PAGE_TAB_HARDWARE_ERROR: a root outside memory; the address is the entry's. */
	a = vg_amdvi_dte_addr(f.d, 0x0010);
	poke64(&f, a + 8, 7);
	poke64(&f, a,
	       VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		       VIOMMU_AMDVI_DTE0_MODE_SET(3) | (1ull << 40));
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0010), 0);
	r = xl(&f, 0x0010, 0x40201000ull, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_WALK_ABORT);
	expect_event(&f, VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR, 0x0010, 7,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     (1ull << 40) + 1 * 8);
	/* A second-level table outside memory: the entry address inside it. */
	poke64(&f, RAW_BASE + 8,
	       (1ull << 40) | VIOMMU_AMDVI_PTE_PR | VIOMMU_AMDVI_PTE_IR |
		       VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(2));
	poke64(&f, a,
	       VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		       VIOMMU_AMDVI_DTE0_MODE_SET(3) | RAW_BASE);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0010), 0);
	r = xl(&f, 0x0010, 0x40201000ull, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_WALK_ABORT);
	assert_int_equal(r.fault.level, 2);
	expect_event(&f, VIOMMU_AMDVI_EV_PAGE_TAB_HARDWARE_ERROR, 0x0010, 7,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     (1ull << 40) + 1 * 8);
	/* DEV_TAB_HARDWARE_ERROR: the table moved outside memory. */
	dtab = rd(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8);
	wr(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8, (1ull << 40) | 0);
	r = xl(&f, 0x0011, 0x1000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_WALK_ABORT);
	expect_event(&f, VIOMMU_AMDVI_EV_DEV_TAB_HARDWARE_ERROR, 0x0011, 0,
		     (uint32_t)(VIOMMU_AMDVI_EV1_RW |
				VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT)),
		     (1ull << 40) + 0x11 * 32);
	wr(&f, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, 8, dtab);
	fx_fini(&f);
}

/* Hand-built v1 tables: level skipping, encoded sizes, reserved bits, loops. */
static void test_hostile_tables(void **state)
{
	const uint64_t t3 = RAW_BASE, t1 = RAW_BASE + 0x1000, t2 = RAW_BASE + 0x2000;
	const uint64_t rw = VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_IW | VIOMMU_AMDVI_PTE_PR;
	struct viommu_xlate_result r;
	struct fx f;
	uint64_t a;

	(void)state;
	fx_init(&f, true);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x4000), 0, 0x4000);
	a = vg_amdvi_dte_addr(f.d, 0x0020);
	poke64(&f, a + 8, 3);
	poke64(&f, a,
	       VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		       VIOMMU_AMDVI_DTE0_IW | VIOMMU_AMDVI_DTE0_MODE_SET(3) | t3);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0020), 0);
	/* Level 3 entry 0 skips level 2: next level 1. */
	poke64(&f, t3, t1 | rw | VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(1));
	poke64(&f, t1 + 5 * 8, DATA_BASE | rw);
	r = xl(&f, 0x0020, 0x5008, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 8);
	/* The skipped level's address bits must be zero: RZ. */
	r = xl(&f, 0x0020, 0x200000 + 0x5008, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_RESERVED);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0020, 3,
		     (uint32_t)(VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_RZ), 0x205008);
	/* Next level 7 in the level-1 table: a 16 KiB page (one 1 bit from bit 12). */
	poke64(&f, t1 + 8 * 8,
	       (DATA_BASE + 0x4000) | (1ull << 12) | rw | VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(7));
	r = xl(&f, 0x0020, 0x8010, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.page_shift, 14);
	assert_int_equal(r.out, DATA_BASE + 0x4010);
	/* Reserved bits in a leaf. */
	poke64(&f, t1 + 6 * 8, DATA_BASE | rw | (1ull << 52));
	r = xl(&f, 0x0020, 0x6000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_RESERVED);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0020, 3,
		     (uint32_t)(VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_RZ), 0x6000);
	/* A loop: level 3 entry 1 points back at itself with next level 3. */
	poke64(&f, t3 + 8, t3 | rw | VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(3));
	r = xl(&f, 0x0020, 1ull << 30, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_RESERVED);
	drain(&f);
	/* A table whose rights are read-only limits the leaf below it. */
	poke64(&f, t3 + 2 * 8,
	       t2 | VIOMMU_AMDVI_PTE_PR | VIOMMU_AMDVI_PTE_IR | VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(2));
	poke64(&f, t2, DATA_BASE | rw); /* a 2 MiB leaf at level 2 */
	r = xl(&f, 0x0020, 2ull << 30, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.perm, VIOMMU_ACC_READ);
	assert_int_equal(r.page_shift, 21);
	r = xl(&f, 0x0020, 2ull << 30, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	drain(&f);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Commands                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void test_illegal_commands(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	const uint32_t cw_op =
		(uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_COMPLETION_WAIT);
	const uint32_t bad[][4] = {
		{ 0, 0xf0000000u, 0, 0 },	       /* unknown opcode */
		{ 0, 0, 0, 0 },			       /* opcode 0 */
		{ 0, cw_op | (1u << 20), 0, 0 },       /* COMPLETION_WAIT DW1 27:20 */
		{ 1u << 16, 0x20000000u, 0, 0 },       /* INV_DEVTAB DW0 31:16 */
		{ 0, 0x20000000u, 1, 0 },	       /* INV_DEVTAB DW2 */
		{ 1u << 20, 0x30000000u, 0, 0 },       /* INV_PAGES DW0 31:20 */
		{ 0, 0x30000000u | (1u << 16), 0, 0 }, /* INV_PAGES DW1 27:16 */
		{ 0, 0x30000000u, 1u << 3, 0 },	       /* INV_PAGES DW2 11:3 */
		{ 0, 0x30000000u, (uint32_t)VIOMMU_AMDVI_IIP2_GN, 0 }, /* GN without GTSup */
		{ 0, 0x40000000u, 1u << 1, 0 },			       /* INV_IOTLB DW2 bit 1 */
		{ 0, 0x50000000u, 0, 1 },			       /* INV_IRT DW3 */
		{ 1u << 16, 0x60000000u, 0, 0 },		       /* PREFETCH DW0 23:16 */
		{ 0, 0x60000000u | (1u << 20), 0, 0 },		       /* PREFETCH DW1 27:20 */
		{ 0, 0x60000000u, 1u << 1, 0 },			       /* PREFETCH DW2 bit 1 */
		{ 0, 0x60000000u, (uint32_t)VIOMMU_AMDVI_PF2_GN, 0 },  /* GN without GTSup */
		{ 0, 0x70000000u, 0, 0 },			       /* COMPLETE_PPR: no PPRSup */
		{ 1, 0x80000000u, 0, 0 },			       /* INV_ALL DW0 */
	};
	struct fx f;

	(void)state;
	fx_init_cfg(&f, &c, NULL, true);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t head = rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4);
		uint64_t at = vg_amdvi_cmd_base(f.d) + head;

		assert_int_equal(vg_amdvi_submit(f.d, bad[i]), 0);
		/* Stopped at the command: the head stays, CmdBufRun is clear. */
		assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4), head);
		assert_false(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
		/* Nothing after it runs: the completion store does not arrive. */
		assert_int_equal(vg_amdvi_completion_wait(f.d), VIOMMU_EIO);
		expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR, 0, 0, 0, at);
		/* Software fixes the command (a no-op wait) and restarts the buffer. */
		poke64(&f, at, (uint64_t)cw_op << 32);
		poke64(&f, at + 8, 0);
		wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
		   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
		wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
		   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
		assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4),
				 rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4));
		assert_int_equal(vg_amdvi_completion_wait(f.d), 0);
	}
	fx_fini(&f);
	/* Without IASup, INVALIDATE_IOMMU_ALL is illegal too (and the driver does without). */
	c.flags &= ~VIOMMU_AMDVI_IA;
	fx_init_cfg(&f, &c, &(struct vg_amdvi_config){ .dev_table_pages = 1 }, true);
	{
		const uint32_t all[4] = { 0, 0x80000000u, 0, 0 };

		assert_int_equal(vg_amdvi_submit(f.d, all), 0);
		expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR, 0, 0, 0,
			     vg_amdvi_cmd_base(f.d) + 0 +
				     (rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4)));
	}
	fx_fini(&f);
}

static void test_command_hw_errors(void **state)
{
	struct viommu_amdvi_stats st;
	struct fx f;
	uint64_t head, base;
	uint32_t cw[4] = { 0,
			   (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_COMPLETION_WAIT),
			   1, 2 };

	(void)state;
	fx_init(&f, true);
	/* A completion store outside memory. */
	cw[0] = (uint32_t)VIOMMU_AMDVI_CW0_S;
	cw[1] |= 0x100; /* address bit 40 */
	head = rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4);
	assert_int_equal(vg_amdvi_submit(f.d, cw), 0);
	expect_event(&f, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, 0, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     1ull << 40);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4), head);
	fx_fini(&f);

	/* A command buffer outside memory. */
	fx_init(&f, true);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	base = 1ull << 44;
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, base | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4, 0x10);
	expect_event(&f, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, 0, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     base);
	/* A tail past the buffer's length (256 entries: 0x1000 bytes). */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4, 0x1000);
	expect_event(&f, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, 0, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     RAW_BASE + 0x1000);
	/* A reserved length (< 256 entries). */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(3));
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4, 0x10);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	expect_event(&f, VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR, 0, 0,
		     (uint32_t)VIOMMU_AMDVI_EV1_HW_TYPE_SET(VIOMMU_AMDVI_HW_TYPE_TARGET_ABORT),
		     RAW_BASE);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.cmd_errors, 3);
	fx_fini(&f);
}

/* A doorbell runs at most one buffer's worth: a full ring of waits each storing. */
static void test_completion_wait_and_bounded_doorbell(void **state)
{
	struct viommu_amdvi_stats st;
	struct fx f;
	const uint64_t ring = RAW_BASE, sem = RAW_BASE + 0x10000;

	(void)state;
	fx_init(&f, true);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, 8, ring | VIOMMU_AMDVI_BUF_LEN_SET(8));
	for (uint32_t i = 0; i < 256; i++) {
		uint64_t a = sem + 8 * i;

		poke64(&f, ring + 16 * i,
		       (uint64_t)(((uint32_t)(a >> 32)) | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
								  VIOMMU_AMDVI_CMD_COMPLETION_WAIT))
				       << 32 |
			       (uint32_t)a | (uint32_t)VIOMMU_AMDVI_CW0_S |
			       (i == 254 ? (uint32_t)VIOMMU_AMDVI_CW0_I : 0));
		poke64(&f, ring + 16 * i + 8, 1000 + i);
		poke64(&f, a, 0);
	}
	/* The tail one short of the head (255 commands). */
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4, 255 * 16);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_CMD_BUF_EN |
		   VIOMMU_AMDVI_CTRL_COM_WAIT_INT_EN);
	for (uint32_t i = 0; i < 255; i++)
		assert_int_equal(peek64(&f, sem + 8 * i), 1000 + i);
	assert_int_equal(peek64(&f, sem + 8 * 255), 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4), 255 * 16);
	/* I set ComWaitInt and, enabled, sent the MSI once. */
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_COM_WAIT_INT);
	assert_int_equal(f.msi.n, 1);
	wr(&f, VIOMMU_AMDVI_MMIO_STATUS, 4, (uint32_t)VIOMMU_AMDVI_STATUS_COM_WAIT_INT);
	assert_false(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_COM_WAIT_INT);
	/* Wrap: tail 0 runs entry 255. */
	wr(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_TAIL, 4, 0);
	assert_int_equal(peek64(&f, sem + 8 * 255), 1255);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_true(st.cmd_completion_wait >= 256);
	fx_fini(&f);
}

/* INVALIDATE_IOMMU_PAGES with S-bit sizes: what stays cached and what goes. */
static void test_inv_pages_sizes(void **state)
{
	struct vg_amdvi_config dc = { .lazy = true, .batch = 1000 };
	struct viommu_amdvi_config c = cfg_default();
	const uint64_t pages[] = { 0x10000, 0x11000, 0x12000, 0x200000, 0x400000 };
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, &c, &dc, true);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(vg_amdvi_map(f.d, 5, pages[i], DATA_BASE + i * 0x1000, 0x1000,
					      VIOMMU_ACC_RW),
				 0);
	for (size_t i = 0; i < 5; i++) {
		r = xl(&f, 0x0100, pages[i], VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
	}
	/* Lazy unmaps leave the IOTLB entries: still served (legal until the flush). */
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(vg_amdvi_unmap(f.d, 5, pages[i], 0x1000), 0);
	for (size_t i = 0; i < 5; i++) {
		r = xl(&f, 0x0100, pages[i], VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE + i * 0x1000);
	}
	/* S = 0: one page. */
	assert_int_equal(vg_amdvi_inv_address(0x11000, 0x1000), 0x11000);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 5, 0x11000, 0x1000), 0);
	assert_false(ok_at(&f, 0x0100, 0x11000));
	assert_true(ok_at(&f, 0x0100, 0x10000));
	assert_true(ok_at(&f, 0x0100, 0x12000));
	/* S = 1, 8 KiB at 0x10000 (address 0x10000 | bit 12 clear: 13 + 0 ones). */
	assert_int_equal(vg_amdvi_inv_address(0x10000, 0x2000), 0x10000 | 1);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 5, 0x10000, 0x2000), 0);
	assert_false(ok_at(&f, 0x0100, 0x10000));
	assert_true(ok_at(&f, 0x0100, 0x12000));
	/* S = 1 covering [0, 4 MiB): 0x200000 goes, 0x400000 stays. */
	assert_int_equal(vg_amdvi_inv_address(0x12000, 0x3ff000 - 0x12000), 0x1ff000 | 1);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 5, 0x12000, 0x3ff000 - 0x12000), 0);
	drain(&f);
	assert_false(ok_at(&f, 0x0100, 0x12000));
	assert_false(ok_at(&f, 0x0100, 0x200000));
	assert_true(ok_at(&f, 0x0100, 0x400000));
	/* PDE = 1 (cached directory entries too) is legal and drops the page like PDE = 0. */
	{
		const uint32_t pde[4] = { 0,
					  5 | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
						      VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES),
					  0x600000 | (uint32_t)VIOMMU_AMDVI_IIP2_PDE, 0 };

		assert_int_equal(vg_amdvi_map(f.d, 5, 0x600000, DATA_BASE, 0x1000, VIOMMU_ACC_RW),
				 0);
		assert_true(ok_at(&f, 0x0100, 0x600000));
		assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x600000, 0x1000), 0);
		assert_true(ok_at(&f, 0x0100, 0x600000));
		assert_int_equal(vg_amdvi_submit(f.d, pde), 0);
		assert_int_equal(vg_amdvi_completion_wait(f.d), 0);
		assert_false(ok_at(&f, 0x0100, 0x600000));
		assert_true(ok_at(&f, 0x0100, 0x400000));
		drain(&f);
	}
	/* Another domain's invalidation leaves it alone; the whole-space one does not. */
	assert_int_equal(vg_amdvi_inv_pages(f.d, 6, 0, 0), 0);
	assert_true(ok_at(&f, 0x0100, 0x400000));
	assert_int_equal(vg_amdvi_flush(f.d), 0);
	assert_false(ok_at(&f, 0x0100, 0x400000));
	drain(&f);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Event log: overflow, restart, outside memory, MSI                                           */
/* ------------------------------------------------------------------------------------------ */

static void test_event_log_overflow(void **state)
{
	struct vg_amdvi_config dc = { .evt_len = 8 }; /* 256 entries: 255 usable */
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_xlate_result r;
	struct viommu_amdvi_stats st;
	struct fx f;

	(void)state;
	fx_init_cfg(&f, &c, &dc, true);
	for (uint32_t i = 0; i < 255; i++) {
		r = xl(&f, 0x0010, 0x1000ull * i, VIOMMU_ACC_READ);
		assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
		assert_int_equal(r.fault.record, i);
	}
	/* One interrupt for the log (the bit stayed set). */
	assert_int_equal(f.msi.n, 1);
	r = xl(&f, 0x0010, 0xfff000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
	{
		uint64_t s = rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4);

		assert_true(s & VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW);
		assert_false(s & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN);
	}
	assert_int_equal(f.msi.n, 2); /* the overflow's interrupt */
	r = xl(&f, 0x0010, 0xffe000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
	/* The handler consumes 255 entries in order and restarts logging. */
	assert_int_equal(drain(&f), 255);
	assert_int_equal(ev_addr(f.evs.ev[0]), 0);
	assert_int_equal(ev_addr(f.evs.ev[63]), 0x3f000);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN);
	r = xl(&f, 0x0010, 0x77000, VIOMMU_ACC_READ);
	assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0010, 0,
		     (uint32_t)(VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE), 0x77000);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.events_lost, 2);
	fx_fini(&f);
}

static void test_event_log_hostile(void **state)
{
	struct viommu_xlate_result r;
	struct fx f;
	uint64_t ctrl;

	(void)state;
	fx_init(&f, true);
	ctrl = rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8);
	/* Outside memory: the entry is lost, nothing else happens. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8, (1ull << 45) | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	r = xl(&f, 0x0010, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
	/* A head past the log's length: no room, overflow. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 4, 0x2000);
	r = xl(&f, 0x0010, 0x1000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.flags, VIOMMU_FAULT_F_LOST);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_EVENT_OVERFLOW);
	/* The tail cannot be moved while logging; the base neither. */
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 4, 0);
	wr(&f, VIOMMU_AMDVI_MMIO_STATUS, 4, 0x7);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_EVENT_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL, 4, 0x100);
	wr(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8, 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_TAIL, 4), 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, 8),
			 RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	r = xl(&f, 0x0010, 0x3000, VIOMMU_ACC_READ);
	assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
	/* MSI disabled: status only. */
	f.msi.n = 0;
	wr(&f, VIOMMU_AMDVI_MMIO_STATUS, 4, 0x7);
	viommu_amdvi_set_msi(f.v, false, MSI_ADDR, MSI_DATA);
	r = xl(&f, 0x0010, 0x4000, VIOMMU_ACC_READ);
	assert_int_equal(f.msi.n, 0);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_EVENT_LOG_INT);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Consumers                                                                                   */
/* ------------------------------------------------------------------------------------------ */

#define SHADOW_PAGES 4096 /* IOVA pages [0, 16 MiB) of one device */

struct shadow {
	uint64_t out[SHADOW_PAGES]; /* page output + 1; 0: none */
	uint32_t perm[SHADOW_PAGES];
	int maps, unmaps, dev_unmaps;
	uint64_t dev_first, dev_last;
	uint32_t dev_sid;
};

static void on_notify(void *opaque, const struct viommu_event *ev)
{
	struct shadow *sh = opaque;

	if (ev->type == VIOMMU_EV_DEVIOTLB_UNMAP) {
		sh->dev_unmaps++;
		sh->dev_first = ev->iova;
		sh->dev_last = ev->last;
		sh->dev_sid = ev->sid;
		return;
	}
	for (uint64_t p = ev->iova >> 12; p <= ev->last >> 12 && p < SHADOW_PAGES; p++) {
		if (ev->type == VIOMMU_EV_MAP) {
			assert_int_equal(sh->out[p], 0); /* never mapped twice without unmap */
			sh->out[p] = ev->out + ((p << 12) - ev->iova) + 1;
			sh->perm[p] = ev->perm;
		} else {
			sh->out[p] = 0;
		}
	}
	if (ev->type == VIOMMU_EV_MAP)
		sh->maps++;
	else
		sh->unmaps++;
}

static void test_npcache_notify(void **state)
{
	struct viommu_notifier *n, *n2;
	struct shadow *sh = calloc(1, sizeof(*sh)), *sh2 = calloc(1, sizeof(*sh2));
	struct fx f;

	(void)state;
	fx_init(&f, true);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x3000, VIOMMU_ACC_RW), 0);
	assert_int_equal(viommu_notifier_add(f.v, 0x0100, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     on_notify, sh, &n),
			 0);
	/* Replay tells what is mapped now. */
	assert_int_equal(viommu_notifier_replay(f.v, n), 0);
	assert_int_equal(sh->out[0x10], DATA_BASE + 1);
	assert_int_equal(sh->out[0x12], DATA_BASE + 0x2000 + 1);
	assert_int_equal(sh->perm[0x11], VIOMMU_ACC_RW);
	/* Map: the NpCache flush brings a MAP; the neighbours are not touched. */
	sh->unmaps = 0;
	assert_int_equal(
		vg_amdvi_map(f.d, 5, 0x20000, DATA_BASE + 0x10000, 0x1000, VIOMMU_ACC_READ), 0);
	assert_int_equal(sh->out[0x20], DATA_BASE + 0x10000 + 1);
	assert_int_equal(sh->perm[0x20], VIOMMU_ACC_READ);
	assert_int_equal(sh->unmaps, 0);
	/* A whole-domain flush with nothing changed sends nothing (no transient unmap). */
	sh->maps = 0;
	assert_int_equal(vg_amdvi_inv_pages(f.d, 5, 0, 0), 0);
	assert_int_equal(sh->maps, 0);
	assert_int_equal(sh->unmaps, 0);
	/* Strict unmap: UNMAP of the page. */
	assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x11000, 0x1000), 0);
	assert_int_equal(sh->out[0x11], 0);
	assert_int_equal(sh->out[0x10], DATA_BASE + 1);
	assert_true(sh->unmaps >= 1);
	/* Detach: everything goes (the DTE now blocks). */
	assert_int_equal(vg_amdvi_detach(f.d, 0x0100), 0);
	for (int p = 0; p < SHADOW_PAGES; p++)
		assert_int_equal(sh->out[p], 0);
	/* Device IOTLB invalidations reach DEVIOTLB consumers. */
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP,
					     on_notify, sh2, &n2),
			 0);
	assert_int_equal(vg_amdvi_inv_iotlb(f.d, 0x0100, 0x40000, 0x8000), 0);
	assert_int_equal(sh2->dev_unmaps, 1);
	assert_int_equal(sh2->dev_sid, 0x0100);
	assert_int_equal(sh2->dev_first, 0x40000);
	assert_int_equal(sh2->dev_last, 0x47fff);
	/* ATS: a strict unmap also invalidates the device IOTLB. */
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	assert_int_equal(vg_amdvi_set_ats(f.d, 0x0100, true), 0);
	assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x10000, 0x1000), 0);
	assert_int_equal(sh2->dev_unmaps, 2);
	assert_int_equal(sh2->dev_first, 0x10000);
	assert_int_equal(sh2->dev_last, 0x10fff);
	viommu_notifier_del(f.v, n);
	viommu_notifier_del(f.v, n2);
	fx_fini(&f);
	free(sh);
	free(sh2);
}

/* ------------------------------------------------------------------------------------------ */
/* Page requests: PPR log and COMPLETE_PPR_REQUEST                                             */
/* ------------------------------------------------------------------------------------------ */

struct ppr_rsp {
	int n;
	uint32_t devid, pasid, tag, status;
	bool has_pasid;
};

static void on_ppr_rsp(void *opaque, uint32_t devid, uint32_t pasid, bool has_pasid, uint32_t tag,
		       uint32_t status)
{
	struct ppr_rsp *r = opaque;

	r->n++;
	r->devid = devid;
	r->pasid = pasid;
	r->has_pasid = has_pasid;
	r->tag = tag;
	r->status = status;
}

static void test_ppr(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_amdvi_page_request pr = { .devid = 0x0123,
						.pasid = 0x5abcd,
						.has_pasid = true,
						.addr = 0x7f0012345678ull,
						.access = VIOMMU_ACC_READ | VIOMMU_ACC_WRITE,
						.tag = 0x1a5 };
	struct viommu_amdvi_stats st;
	struct ppr_rsp rsp = { 0 };
	struct evlog ppr = { 0 };
	uint64_t q0;
	struct fx f;
	int msi0, ret;

	(void)state;
	c.flags |= VIOMMU_AMDVI_PPR;
	fx_init_cfg(&f, &c, NULL, true);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8) & VIOMMU_AMDVI_EFR_PPR_SUP);
	assert_int_equal(viommu_amdvi_set_ppr_response(f.v, on_ppr_rsp, &rsp), 0);
	/* Not enabled yet: refused, the VMM answers the device. */
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EPERM);
	assert_int_equal(vg_amdvi_enable_ppr(f.d, on_event, &ppr), 0);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN);
	msi0 = f.msi.n;
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	assert_int_equal(f.msi.n, msi0 + 1);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_INT);
	pr.has_pasid = false;
	pr.access = VIOMMU_ACC_EXEC | VIOMMU_ACC_PRIV;
	pr.tag = 3;
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	drain(&f);
	assert_int_equal(ppr.n, 2);
	/* Field by field, as Linux's iommu_handle_ppr_entry() reads them. */
	q0 = (uint64_t)ppr.ev[0][1] << 32 | ppr.ev[0][0];
	assert_int_equal(q0 & 0xffff, 0x0123);
	assert_int_equal((q0 >> 16) & 0xffff, 0xabcd);			     /* PASID 15:0 */
	assert_int_equal((q0 >> 42) & 0xf, 0x5);			     /* PASID 19:16 */
	assert_int_equal((q0 >> 32) & 0x3ff, 0x1a5);			     /* tag */
	assert_int_equal((q0 >> 48) & 0xfff, 0x004 | 0x020 | 0x040 | 0x100); /* RD WR US GN */
	assert_int_equal(q0 >> 60, VIOMMU_AMDVI_PPR_TYPE_PAGE_SERVICE_REQUEST);
	assert_int_equal((uint64_t)ppr.ev[0][3] << 32 | ppr.ev[0][2], 0x7f0012345000ull);
	q0 = (uint64_t)ppr.ev[1][1] << 32 | ppr.ev[1][0];
	assert_int_equal((q0 >> 48) & 0xfff, 0x002); /* X, supervisor, no PASID */
	assert_int_equal((q0 >> 32) & 0x3ff, 3);
	assert_int_equal(q0 & 0x3c0000ffff0000ull, 0);
	/* The guest's answer reaches the VMM. */
	assert_int_equal(vg_amdvi_complete_ppr(f.d, 0x0123, 0x5abcd, true, 0x1a5, 0), 0);
	assert_int_equal(rsp.n, 1);
	assert_int_equal(rsp.devid, 0x0123);
	assert_true(rsp.has_pasid);
	assert_int_equal(rsp.pasid, 0x5abcd);
	assert_int_equal(rsp.tag, 0x1a5);
	assert_int_equal(rsp.status, 0);
	assert_int_equal(vg_amdvi_complete_ppr(f.d, 0x0042, 0, false, 7, 0xf), 0);
	assert_int_equal(rsp.n, 2);
	assert_false(rsp.has_pasid);
	assert_int_equal(rsp.status, 0xf);
	/* A reserved bit in COMPLETE_PPR_REQUEST is an illegal command. */
	{
		uint32_t bad[4] = { 0x42,
				    (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					    VIOMMU_AMDVI_CMD_COMPLETE_PPR_REQUEST),
				    0, 1u << 20 };
		uint64_t at = vg_amdvi_cmd_base(f.d) + rd(&f, VIOMMU_AMDVI_MMIO_CMD_BUF_HEAD, 4);

		assert_int_equal(vg_amdvi_submit(f.d, bad), 0);
		assert_int_equal(rsp.n, 2);
		expect_event(&f, VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR, 0, 0, 0, at);
	}
	/* 511 requests fill the 512-entry log; the next overflows and stops it. */
	ppr.n = 0;
	for (int i = 0; i < 511; i++)
		assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	ret = viommu_amdvi_page_request(f.v, &pr);
	assert_int_equal(ret, VIOMMU_ENOSPC);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_OVERFLOW);
	assert_false(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EPERM);
	drain(&f);
	assert_int_equal(ppr.n, 511);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.ppr_logged, 513);
	assert_int_equal(st.ppr_lost, 3);
	assert_int_equal(st.cmd_complete_ppr, 2);
	/* Without PPRSup the call is refused outright. */
	fx_fini(&f);
	fx_init(&f, false);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EINVAL);
	fx_fini(&f);
}

/* A hostile PPR log (3.4.8, 3.4.10): outside memory, a head past its length, moved running. */
static void test_ppr_hostile(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_amdvi_page_request pr = { .devid = 0x0123, .addr = 0x5000, .tag = 1 };
	struct evlog ppr = { 0 };
	struct viommu_amdvi_stats st;
	uint64_t ctrl;
	struct fx f;

	(void)state;
	/* Without PPRSup the PPR registers are not there. */
	fx_init(&f, true);
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL, 4, 0x10);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8), 0);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL, 4), 0);
	fx_fini(&f);

	c.flags |= VIOMMU_AMDVI_PPR;
	fx_init_cfg(&f, &c, NULL, true);
	assert_int_equal(vg_amdvi_enable_ppr(f.d, on_event, &ppr), 0);
	ctrl = rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8);
	/* While the log runs, its base and tail belong to the IOMMU. */
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL, 4, 0x100);
	assert_int_not_equal(rd(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8),
			     RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_TAIL, 4), 0);
	/* Outside memory: the request is lost, nothing else happens. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_PPR_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8, (1ull << 45) | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EFAULT);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN);
	/* A head past the log's length (256 entries): no room, PprOverflow, the log stops. */
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_PPR_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_BASE, 8, RAW_BASE | VIOMMU_AMDVI_BUF_LEN_SET(8));
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD, 4, 0x2000);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_ENOSPC);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_OVERFLOW);
	assert_false(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_LOG_RUN);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), VIOMMU_EPERM);
	/* Software fixes the head, clears the overflow (W1C) and restarts the log. */
	wr(&f, VIOMMU_AMDVI_MMIO_PPR_LOG_HEAD, 4, 0);
	wr(&f, VIOMMU_AMDVI_MMIO_STATUS, 4, (uint32_t)VIOMMU_AMDVI_STATUS_PPR_OVERFLOW);
	assert_false(rd(&f, VIOMMU_AMDVI_MMIO_STATUS, 4) & VIOMMU_AMDVI_STATUS_PPR_OVERFLOW);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl & ~VIOMMU_AMDVI_CTRL_PPR_LOG_EN);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8, ctrl);
	assert_int_equal(viommu_amdvi_page_request(f.v, &pr), 0);
	assert_int_equal(peek64(&f, RAW_BASE) & 0xffff, 0x0123);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &st), 0);
	assert_int_equal(st.ppr_lost, 3);
	drain(&f);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Guest (v2) and nested translation                                                           */
/* ------------------------------------------------------------------------------------------ */

#define GT_TABLES (RAW_BASE + 0x10000) /* guest table pages, handed out by gt_alloc */

static uint64_t gt_next;

static int gt_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	(void)opaque;
	gt_next = (gt_next + size - 1) & ~(size - 1);
	*gpa = gt_next;
	gt_next += size;
	return gt_next <= RAW_BASE + (1ull << 20) ? 0 : VIOMMU_ENOMEM;
}

static void gt_free(void *opaque, uint64_t gpa, uint64_t size)
{
	(void)opaque;
	(void)gpa;
	(void)size;
}

static const struct viommu_pt_alloc_ops gt_ops = { gt_alloc, gt_free };

/* INVALIDATE_IOMMU_PAGES of all of @domid's pages, with GN and @pasid or without (v1), + wait. */
static void inv_pages_all(struct fx *f, uint16_t domid, bool gn, uint32_t pasid)
{
	uint32_t c[4] = { gn ? pasid : 0,
			  domid | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES),
			  (uint32_t)(VIOMMU_AMDVI_INV_ALL_PAGES_ADDR | VIOMMU_AMDVI_IIP2_S |
				     (gn ? VIOMMU_AMDVI_IIP2_GN : 0)),
			  (uint32_t)(VIOMMU_AMDVI_INV_ALL_PAGES_ADDR >> 32) };

	assert_int_equal(vg_amdvi_submit(f->d, c), 0);
	assert_int_equal(vg_amdvi_completion_wait(f->d), 0);
}

static void gt_dte(struct fx *f, uint16_t devid, uint64_t q0, uint16_t domid, uint64_t gcr3)
{
	uint64_t a = vg_amdvi_dte_addr(f->d, devid);

	q0 |= VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
	      VIOMMU_AMDVI_DTE0_IW | VIOMMU_AMDVI_DTE0_GV |
	      ((gcr3 >> 12) & 7) << VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT;
	poke64(f, a + 8,
	       domid | ((gcr3 >> 15) & 0xffff) << VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT |
		       ((gcr3 >> 31) & 0x1fffff) << VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT);
	poke64(f, a, q0);
	assert_int_equal(vg_amdvi_inv_devtab(f->d, devid), 0);
}

static struct viommu_xlate_result xlp(struct fx *f, uint32_t sid, uint32_t pasid, uint64_t iova,
				      uint32_t acc)
{
	struct viommu_xlate_req req = {
		.sid = sid, .pasid = pasid, .has_pasid = true, .iova = iova, .len = 8, .access = acc
	};
	struct viommu_xlate_result res;

	assert_int_equal(viommu_translate(f->v, &req, &res), 0);
	return res;
}

static struct fx *gt_fx(struct fx *f, struct viommu_pt **pt)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_X86_64, .levels = 4 };

	c.flags |= VIOMMU_AMDVI_GT;
	fx_init_cfg(f, &c, NULL, true);
	wr(f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_GT_EN);
	gt_next = GT_TABLES;
	assert_int_equal(viommu_pt_create(&pc, viommu_flatmem_ops(), f->fm, &gt_ops, NULL, pt), 0);
	return f;
}

static void test_v2_guest(void **state)
{
	const uint64_t gcr3 = RAW_BASE; /* one-level GCR3 table */
	const uint64_t ro = VIOMMU_AMDVI_EV1_PR | VIOMMU_AMDVI_EV1_PE;
	struct viommu_xlate_result r;
	struct viommu_pt *pt;
	uint64_t cr3;
	struct fx f;

	(void)state;
	gt_fx(&f, &pt);
	assert_int_equal(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8) &
				 (VIOMMU_AMDVI_EFR_GT_SUP | VIOMMU_AMDVI_EFR_GIO_SUP |
				  VIOMMU_AMDVI_EFR_GLX_SUP_MASK | VIOMMU_AMDVI_EFR_PASMAX_MASK),
			 VIOMMU_AMDVI_EFR_GT_SUP | VIOMMU_AMDVI_EFR_GIO_SUP |
				 VIOMMU_AMDVI_EFR_GLX_SUP_SET(2) | VIOMMU_AMDVI_EFR_PASMAX_SET(15));
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	cr3 = viommu_pt_get_cfg(pt)->root;
	assert_int_equal(viommu_pt_map(pt, 0x70000000, DATA_BASE, 0x2000, VIOMMU_ACC_RW, 0), 0);
	assert_int_equal(
		viommu_pt_map(pt, 0x70002000, DATA_BASE + 0x2000, 0x1000, VIOMMU_ACC_READ, 0), 0);
	poke64(&f, gcr3 + 5 * 8, cr3 | VIOMMU_AMDVI_GCR3_GV);
	gt_dte(&f, 0x0500, 0, 9, gcr3); /* Mode 0: guest tables alone */
	r = xlp(&f, 0x0500, 5, 0x70001234, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x1234);
	/* A PASID whose GCR3 entry is not valid: IO_PAGE_FAULT, GN, the PASID in D/P. */
	r = xlp(&f, 0x0500, 6, 0x70001234, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0500, 6, (uint32_t)VIOMMU_AMDVI_EV1_GN,
		     0x70001234);
	/* PASIDs past the one-level table (9 bits) and PASmax. */
	r = xlp(&f, 0x0500, 0x205, 0x70001234, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	/* Past 20 bits: never PASID 5's cached translation or GCR3 entry. */
	r = xlp(&f, 0x0500, 0x100005, 0x70001234, VIOMMU_ACC_WRITE);
	assert_false(viommu_xlate_ok(&r));
	r = xlp(&f, 0x0500, 0x80000005, 0x70001000, VIOMMU_ACC_WRITE);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	/* A read-only guest page: permission. */
	r = xlp(&f, 0x0500, 5, 0x70002000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0500, 5,
		     (uint32_t)(ro | VIOMMU_AMDVI_EV1_RW | VIOMMU_AMDVI_EV1_GN), 0x70002000);
	/* Without GIoV a request without PASID is Mode 0's: untranslated. */
	r = xl(&f, 0x0500, 0x70001000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, 0x70001000);
	/* GIoV: it takes GCR3 entry 0. */
	poke64(&f, gcr3, cr3 | VIOMMU_AMDVI_GCR3_GV);
	gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GIOV, 9, gcr3);
	r = xl(&f, 0x0500, 0x70001000, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x1000);
	/* Cached until INVALIDATE_IOMMU_PAGES with GN names the PASID. */
	{
		uint64_t done;
		uint32_t c[4] = { 5,
				  9 | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					      VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES),
				  (uint32_t)(VIOMMU_AMDVI_INV_ALL_PAGES_ADDR | VIOMMU_AMDVI_IIP2_S |
					     VIOMMU_AMDVI_IIP2_GN),
				  (uint32_t)(VIOMMU_AMDVI_INV_ALL_PAGES_ADDR >> 32) };

		r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
		assert_int_equal(r.out, DATA_BASE + 0x10);
		assert_int_equal(viommu_pt_unmap(pt, 0x70000000, 0x1000, &done), 0);
		assert_int_equal(viommu_pt_map(pt, 0x70000000, DATA_BASE + 0x8000, 0x1000,
					       VIOMMU_ACC_RW, 0),
				 0);
		/* The old translation is still cached (legal until the invalidation). */
		r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
		assert_int_equal(r.out, DATA_BASE + 0x10);
		/* Another PASID's invalidation leaves it. */
		c[0] = 6;
		assert_int_equal(vg_amdvi_submit(f.d, c), 0);
		r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
		assert_int_equal(r.out, DATA_BASE + 0x10);
		c[0] = 5;
		assert_int_equal(vg_amdvi_submit(f.d, c), 0);
		r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
		assert_int_equal(r.out, DATA_BASE + 0x8010);
	}
	/* Two-level GCR3 table (GLX 1): PASID 0x205 = entry 1, then entry 5. */
	{
		const uint64_t l2 = RAW_BASE + 0x1000, l1 = RAW_BASE + 0x2000;

		memset(viommu_flatmem_ptr(f.fm, l2, 0x2000), 0, 0x2000);
		poke64(&f, l2 + 1 * 8, l1 | VIOMMU_AMDVI_GCR3_GV);
		poke64(&f, l1 + 5 * 8, cr3 | VIOMMU_AMDVI_GCR3_GV);
		gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GLX_SET(1), 9, l2);
		r = xlp(&f, 0x0500, 0x205, 0x70001000, VIOMMU_ACC_READ);
		assert_int_equal(r.out, DATA_BASE + 0x1000);
		/* Reserved bits in a GCR3 entry (the cached one goes with the PASID's invalidation). */
		poke64(&f, l1 + 5 * 8, cr3 | VIOMMU_AMDVI_GCR3_GV | (1ull << 60));
		inv_pages_all(&f, 9, true, 0x205);
		r = xlp(&f, 0x0500, 0x205, 0x70003000, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_RESERVED);
		drain(&f);
	}
	/*
	 * Three-level GCR3 table (GLX 2, 48882 2.2.6): PASID 0xa05 is PASID[19:18] = 0, then
	 * PASID[17:9] = 5, then PASID[8:0] = 5; a PASID past 16 bits (PASmax 15) is refused.
	 */
	{
		const uint64_t l3 = RAW_BASE + 0x3000, l2 = RAW_BASE + 0x4000,
			       l1 = RAW_BASE + 0x5000;

		memset(viommu_flatmem_ptr(f.fm, l3, 0x3000), 0, 0x3000);
		poke64(&f, l3, l2 | VIOMMU_AMDVI_GCR3_GV);
		poke64(&f, l2 + 5 * 8, l1 | VIOMMU_AMDVI_GCR3_GV);
		poke64(&f, l1 + 5 * 8, cr3 | VIOMMU_AMDVI_GCR3_GV);
		gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GLX_SET(2), 9, l3);
		r = xlp(&f, 0x0500, 0xa05, 0x70001000, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE + 0x1000);
		/* Another second-level entry is not valid. */
		r = xlp(&f, 0x0500, 0xc05, 0x70001000, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
		expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0500, 0xc05,
			     (uint32_t)VIOMMU_AMDVI_EV1_GN, 0x70001000);
		/* Past PASmax; the event's PASID 19:16 is in DW0 19:16 (2.5.3). */
		r = xlp(&f, 0x0500, 0x10a05, 0x70001000, VIOMMU_ACC_READ);
		assert_false(viommu_xlate_ok(&r));
		assert_int_equal(drain(&f), 1);
		assert_int_equal(ev_code(f.evs.ev[0]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
		assert_int_equal(f.evs.ev[0][0], 0x0500 | 0x10000);
		assert_int_equal(f.evs.ev[0][1] & 0xffff, 0x0a05);
	}
	/* GLX above GLXSup (11b) is an illegal entry. */
	gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GLX_SET(3), 9, gcr3);
	r = xlp(&f, 0x0500, 5, 0x70001000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_CONFIG);
	drain(&f);
	/* GTEn off: GV does not count. */
	gt_dte(&f, 0x0500, 0, 9, gcr3);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & ~VIOMMU_AMDVI_CTRL_GT_EN);
	r = xlp(&f, 0x0500, 5, 0x70001000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_BLOCKED);
	drain(&f);
	viommu_pt_destroy(pt);
	fx_fini(&f);
}

/* MAP events of a 5-level GIoV view: how many, and the output of the page at 2^50 (+ 1). */
struct hi_rec {
	int maps;
	uint64_t hi_out;
};

static void on_hi(void *opaque, const struct viommu_event *ev)
{
	struct hi_rec *r = opaque;

	if (ev->type != VIOMMU_EV_MAP)
		return;
	r->maps++;
	if (ev->iova <= (1ull << 50) && ev->last >= (1ull << 50))
		r->hi_out = ev->out + ((1ull << 50) - ev->iova) + 1;
}

/*
 * 5-level guest tables (2.2.2 GuestPagingMode, 3.4.7 GATS): offered with gats_levels 5, chosen
 * per DTE (QW2 55:54 = 01b), 57-bit canonical inputs; alone and nested under v1.
 */
static void test_v2_guest5(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_X86_64, .levels = 5 };
	const uint64_t gcr3 = RAW_BASE, hi = 1ull << 50, gpa_data = 0x100000000ull;
	const uint64_t gpm5 = VIOMMU_AMDVI_DTE2_GPM_SET(VIOMMU_AMDVI_GPM_5_LEVEL);
	struct viommu_xlate_result r;
	struct viommu_pt *pt;
	struct viommu *bad;
	uint64_t a, root;
	struct fx f;

	(void)state;
	/* Without 5-level support GuestPagingMode 01b is a reserved value: an illegal entry. */
	gt_fx(&f, &pt);
	assert_int_equal(VIOMMU_AMDVI_EFR_GATS_GET(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8)), 0);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	poke64(&f, gcr3 + 5 * 8, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
	poke64(&f, vg_amdvi_dte_addr(f.d, 0x0500) + 16, gpm5);
	gt_dte(&f, 0x0500, 0, 9, gcr3);
	r = xlp(&f, 0x0500, 5, 0x70001000, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
	drain(&f);
	/* gats_levels: 4 or 5, and 5 only with guest translation. */
	c.gats_levels = 6;
	c.flags |= VIOMMU_AMDVI_GT;
	assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), f.fm, &bad), VIOMMU_EINVAL);
	c.gats_levels = 5;
	c.flags &= ~VIOMMU_AMDVI_GT;
	assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), f.fm, &bad), VIOMMU_EINVAL);
	viommu_pt_destroy(pt);
	fx_fini(&f);

	c.flags |= VIOMMU_AMDVI_GT;
	fx_init_cfg(&f, &c, NULL, true);
	wr(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8,
	   rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) | VIOMMU_AMDVI_CTRL_GT_EN);
	assert_int_equal(VIOMMU_AMDVI_EFR_GATS_GET(rd(&f, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8)), 1);
	gt_next = GT_TABLES;
	assert_int_equal(viommu_pt_create(&pc, viommu_flatmem_ops(), f.fm, &gt_ops, NULL, &pt), 0);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	/* An input above 48 bits (a 5-level table's only), and one below. */
	assert_int_equal(viommu_pt_map(pt, hi, DATA_BASE, 0x1000, VIOMMU_ACC_RW, 0), 0);
	assert_int_equal(
		viommu_pt_map(pt, 0x70000000, DATA_BASE + 0x1000, 0x1000, VIOMMU_ACC_RW, 0), 0);
	poke64(&f, gcr3 + 5 * 8, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
	a = vg_amdvi_dte_addr(f.d, 0x0500);
	poke64(&f, a + 16, gpm5);
	gt_dte(&f, 0x0500, 0, 9, gcr3);
	r = xlp(&f, 0x0500, 5, hi + 0x234, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x234);
	r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x1010);
	/* Past 57 bits (not canonical): IO_PAGE_FAULT. */
	r = xlp(&f, 0x0500, 5, 1ull << 57, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0500, 5, (uint32_t)VIOMMU_AMDVI_EV1_GN,
		     1ull << 57);
	/* GuestPagingMode 00b: the same root walked as 4 levels; 2^50 is not canonical there. */
	poke64(&f, a + 16, 0);
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0500), 0);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 9, 0, 0), 0);
	r = xlp(&f, 0x0500, 5, hi + 0x234, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	/* 10b and 11b are reserved. */
	poke64(&f, a + 16, VIOMMU_AMDVI_DTE2_GPM_SET(2));
	assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0500), 0);
	r = xlp(&f, 0x0500, 5, 0x70000010, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_ILLEGAL_DEV_TABLE_ENTRY);
	drain(&f);
	/*
	 * A GIoV device's MAP consumers see its 5-level view: the page above 48 bits too (the
	 * non-canonical hole is that of 57-bit inputs), found in a bounded number of walks.
	 */
	{
		struct hi_rec rec = { 0 };
		struct viommu_notifier *n;
		struct viommu_amdvi_stats st0, st1;

		poke64(&f, gcr3, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
		poke64(&f, vg_amdvi_dte_addr(f.d, 0x0700) + 16, gpm5);
		gt_dte(&f, 0x0700, VIOMMU_AMDVI_DTE0_GIOV, 9, gcr3);
		assert_int_equal(viommu_notifier_add(f.v, 0x0700, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
						     on_hi, &rec, &n),
				 0);
		viommu_amdvi_get_stats(f.v, &st0);
		assert_int_equal(viommu_notifier_replay(f.v, n), 0);
		viommu_amdvi_get_stats(f.v, &st1);
		assert_int_equal(rec.maps, 2);
		assert_int_equal(rec.hi_out, DATA_BASE + 1);
		/* One walk per entry of the tables in use (4600), not one per 4 KiB of holes. */
		assert_true(st1.page_walks - st0.page_walks < 16384);
		viommu_notifier_del(f.v, n);
	}
	/* Nested: the 5-level guest table over a v1 table (tables 1:1, the data at GPA 4 GiB). */
	assert_int_equal(viommu_pt_unmap(pt, hi, 0x1000, &a), 0);
	assert_int_equal(viommu_pt_map(pt, hi, gpa_data, 0x1000, VIOMMU_ACC_RW, 0), 0);
	assert_int_equal(vg_amdvi_map(f.d, 9, RAW_BASE, RAW_BASE, 1ull << 20, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_amdvi_map(f.d, 9, gpa_data, DATA_BASE + 0x3000, 0x1000, VIOMMU_ACC_RW),
			 0);
	assert_int_equal(vg_amdvi_domain_root(f.d, 9, &root), 0);
	a = vg_amdvi_dte_addr(f.d, 0x0600);
	poke64(&f, a + 16, gpm5);
	gt_dte(&f, 0x0600, root | VIOMMU_AMDVI_DTE0_MODE_SET(3), 9, gcr3);
	r = xlp(&f, 0x0600, 5, hi + 0x48, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x3048);
	viommu_pt_destroy(pt);
	fx_fini(&f);
}

struct devtlb_rec {
	int n, nopasid;
	uint64_t first, last;
	uint32_t sid;
};

static void on_devtlb(void *opaque, const struct viommu_event *ev)
{
	struct devtlb_rec *r = opaque;

	if (ev->type != VIOMMU_EV_DEVIOTLB_UNMAP)
		return;
	r->n++;
	if (!ev->has_pasid) {
		r->nopasid++;
		r->first = ev->iova;
		r->last = ev->last;
		r->sid = ev->sid;
	}
}

/* INVALIDATE_IOTLB_PAGES with GN (2.4.4): PASID in bits 23:16 of dword 0 and 27:16 of dword 1. */
static void inv_iotlb_gn(struct fx *f, uint16_t devid, uint32_t pasid, uint64_t addr)
{
	uint32_t c[4] = { devid | (pasid & 0xff) << 16,
			  (pasid >> 8 & 0xfff) << 16 |
				  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					  VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES),
			  (uint32_t)addr | (uint32_t)VIOMMU_AMDVI_IIT2_GN, (uint32_t)(addr >> 32) };

	assert_int_equal(vg_amdvi_submit(f->d, c), 0);
}

/* PREFETCH_IOMMU_PAGES with GN: a PASID's guest (v2) translations, and a GIoV device's. */
static void test_prefetch_v2(void **state)
{
	const uint64_t gcr3 = RAW_BASE;
	struct viommu_amdvi_stats a, b;
	struct viommu_xlate_result r;
	struct viommu_pt *pt;
	struct fx f;

	(void)state;
	gt_fx(&f, &pt);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	assert_int_equal(viommu_pt_map(pt, 0x70000000, DATA_BASE, 0x2000, VIOMMU_ACC_RW, 0), 0);
	poke64(&f, gcr3 + 5 * 8, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
	poke64(&f, gcr3, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
	gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GIOV, 9, gcr3);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	{
		/* GN, PASID 5, two pages. */
		uint32_t c[4] = { 0x0500 | (uint32_t)VIOMMU_AMDVI_PF0_COUNT_SET(2),
				  5 | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
					      VIOMMU_AMDVI_CMD_PREFETCH_IOMMU_PAGES),
				  0x70000000u | (uint32_t)VIOMMU_AMDVI_PF2_GN, 0 };

		assert_int_equal(vg_amdvi_submit(f.d, c), 0);
		assert_int_equal(vg_amdvi_completion_wait(f.d), 0);
	}
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	assert_int_equal(b.prefetched - a.prefetched, 2);
	r = xlp(&f, 0x0500, 5, 0x70001008, VIOMMU_ACC_WRITE);
	assert_int_equal(r.out, DATA_BASE + 0x1008);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.page_walks, b.page_walks); /* from the prefetch */
	/* Without GN on a GIoV device: its requests without PASID (GCR3 entry 0). */
	prefetch_cmd(&f, 0x0500, 1, 0x70000000, false, false);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &b), 0);
	assert_int_equal(b.prefetched - a.prefetched, 1);
	r = xl(&f, 0x0500, 0x70000010, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 0x10);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &a), 0);
	assert_int_equal(a.page_walks, b.page_walks);
	assert_int_equal(drain(&f), 0);
	viommu_pt_destroy(pt);
	fx_fini(&f);
}

/*
 * Linux 6.12 with v2 DMA domains (amd_iommu=pgtbl_v2) flushes a device IOTLB with GN = 1 and
 * PASID 0 (__domain_flush_pages: pasid IOMMU_NO_PASID, gn true): for a GIoV device those are the
 * translations it got without PASID, so consumers that know no PASIDs (vhost) must hear of them.
 */
static void test_v2_giov_dev_iotlb(void **state)
{
	const uint64_t gcr3 = RAW_BASE;
	struct devtlb_rec rec = { 0 };
	struct viommu_notifier *n;
	struct viommu_pt *pt;
	struct fx f;

	(void)state;
	gt_fx(&f, &pt);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	poke64(&f, gcr3, viommu_pt_get_cfg(pt)->root | VIOMMU_AMDVI_GCR3_GV);
	gt_dte(&f, 0x0500, VIOMMU_AMDVI_DTE0_GIOV, 9, gcr3);
	gt_dte(&f, 0x0600, 0, 10, gcr3); /* GV without GIoV */
	assert_int_equal(viommu_notifier_add(f.v, VIOMMU_SID_ANY, VIOMMU_EV_DEVIOTLB_UNMAP,
					     on_devtlb, &rec, &n),
			 0);
	inv_iotlb_gn(&f, 0x0500, 0, 0x70004000);
	assert_int_equal(rec.nopasid, 1);
	assert_int_equal(rec.sid, 0x0500);
	assert_int_equal(rec.first, 0x70004000);
	assert_int_equal(rec.last, 0x70004fff);
	/* Another PASID, or a device without GIoV: PASID-tagged only. */
	inv_iotlb_gn(&f, 0x0500, 5, 0x70004000);
	inv_iotlb_gn(&f, 0x0600, 0, 0x70004000);
	assert_int_equal(rec.nopasid, 1);
	assert_int_equal(rec.n, 4);
	viommu_notifier_del(f.v, n);
	viommu_pt_destroy(pt);
	fx_fini(&f);
}

/* The guest driver's v2 mode (Linux 6.12's amd_iommu=pgtbl_v2) against the model. */
static void test_driver_v2(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct vg_amdvi_stats st;
	struct viommu_xlate_result r;
	uint64_t q0;
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_AMDVI_GT;
	fx_init_cfg(&f, &c, &(struct vg_amdvi_config){ .v2 = true }, true);
	assert_true(rd(&f, VIOMMU_AMDVI_MMIO_CONTROL, 8) & VIOMMU_AMDVI_CTRL_GT_EN);
	assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
	q0 = peek64(&f, vg_amdvi_dte_addr(f.d, 0x0100));
	assert_true(q0 & VIOMMU_AMDVI_DTE0_GV);
	assert_true(q0 & VIOMMU_AMDVI_DTE0_GIOV);
	assert_int_equal(VIOMMU_AMDVI_DTE0_MODE_GET(q0), 0);
	assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x2000, VIOMMU_ACC_RW), 0);
	r = xl(&f, 0x0100, 0x11008, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x1008);
	/* Strict unmap: the GN invalidation drops the cached translation. */
	assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x11000, 0x1000), 0);
	r = xl(&f, 0x0100, 0x11008, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	expect_event(&f, VIOMMU_AMDVI_EV_IO_PAGE_FAULT, 0x0100, 5, 0, 0x11008);
	vg_amdvi_get_stats(f.d, &st);
	assert_true(st.inv_pages >= 2);
	/* MAP/UNMAP consumers of a GIoV device: the v2 table's view, kept by the GN flushes. */
	{
		struct shadow *sh = calloc(1, sizeof(*sh));
		struct viommu_notifier *n;

		assert_int_equal(viommu_notifier_add(f.v, 0x0100, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
						     on_notify, sh, &n),
				 0);
		assert_int_equal(viommu_notifier_replay(f.v, n), 0);
		assert_int_equal(sh->out[0x10], DATA_BASE + 1);
		assert_int_equal(sh->out[0x11], 0);
		assert_int_equal(sh->perm[0x10], VIOMMU_ACC_RW);
		assert_int_equal(vg_amdvi_map(f.d, 5, 0x20000, DATA_BASE + 0x10000, 0x1000,
					      VIOMMU_ACC_READ),
				 0);
		assert_int_equal(sh->out[0x20], DATA_BASE + 0x10000 + 1);
		assert_int_equal(sh->perm[0x20], VIOMMU_ACC_READ);
		sh->maps = 0;
		sh->unmaps = 0;
		assert_int_equal(vg_amdvi_inv_pages(f.d, 5, 0, 0), 0); /* nothing changed */
		assert_int_equal(sh->maps + sh->unmaps, 0);
		assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x10000, 0x1000), 0);
		assert_int_equal(sh->out[0x10], 0);
		assert_int_equal(sh->out[0x20], DATA_BASE + 0x10000 + 1);
		assert_int_equal(vg_amdvi_detach(f.d, 0x0100), 0);
		for (int p = 0; p < SHADOW_PAGES; p++)
			assert_int_equal(sh->out[p], 0);
		viommu_notifier_del(f.v, n);
		free(sh);
	}
	fx_fini(&f);
}

/* The driver's v2 mode on an LA57 guest: 5-level tables where GATS offers them, else 4. */
static void test_driver_v2_la57(void **state)
{
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_xlate_result r;
	struct fx f;

	(void)state;
	c.flags |= VIOMMU_AMDVI_GT;
	for (uint32_t gats = 4; gats <= 5; gats++) {
		c.gats_levels = gats;
		fx_init_cfg(&f, &c, &(struct vg_amdvi_config){ .v2 = true, .la57 = true }, true);
		assert_int_equal(vg_amdvi_attach(f.d, 0x0100, 5, false), 0);
		assert_int_equal(
			VIOMMU_AMDVI_DTE2_GPM_GET(peek64(&f, vg_amdvi_dte_addr(f.d, 0x0100) + 16)),
			gats == 5 ? VIOMMU_AMDVI_GPM_5_LEVEL : VIOMMU_AMDVI_GPM_4_LEVEL);
		assert_int_equal(vg_amdvi_map(f.d, 5, 0x10000, DATA_BASE, 0x1000, VIOMMU_ACC_RW),
				 0);
		r = xl(&f, 0x0100, 0x10008, VIOMMU_ACC_WRITE);
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, DATA_BASE + 8);
		assert_int_equal(vg_amdvi_unmap(f.d, 5, 0x10000, 0x1000), 0);
		r = xl(&f, 0x0100, 0x10008, VIOMMU_ACC_READ);
		assert_int_equal(r.fault.type, VIOMMU_FAULT_NOT_PRESENT);
		drain(&f);
		fx_fini(&f);
	}
}

/* Guest-owned v2 over host-owned v1: every guest table access and the output go through v1. */
static void test_nested(void **state)
{
	const uint64_t gcr3 = RAW_BASE, gpa_data = 0x100000000ull;
	struct viommu_xlate_result r;
	struct viommu_pt *pt;
	uint64_t cr3, root;
	struct fx f;

	(void)state;
	gt_fx(&f, &pt);
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	cr3 = viommu_pt_get_cfg(pt)->root;
	/* Guest tables at GPA = SPA (v1 maps them 1:1); guest data at GPA 4 GiB. */
	assert_int_equal(viommu_pt_map(pt, 0x70000000, gpa_data, 0x4000, VIOMMU_ACC_RW, 0), 0);
	poke64(&f, gcr3 + 5 * 8, cr3 | VIOMMU_AMDVI_GCR3_GV);
	assert_int_equal(vg_amdvi_map(f.d, 9, RAW_BASE, RAW_BASE, 1ull << 20, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_amdvi_map(f.d, 9, gpa_data, DATA_BASE, 0x2000, VIOMMU_ACC_RW), 0);
	assert_int_equal(vg_amdvi_map(f.d, 9, gpa_data + 0x2000, DATA_BASE + 0x2000, 0x1000,
				      VIOMMU_ACC_READ),
			 0);
	assert_int_equal(vg_amdvi_domain_root(f.d, 9, &root), 0);
	gt_dte(&f, 0x0600, root | VIOMMU_AMDVI_DTE0_MODE_SET(3), 9, gcr3);
	r = xlp(&f, 0x0600, 5, 0x70001234, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, DATA_BASE + 0x1234);
	/* v1 grants only read for the third page: the write is refused. */
	r = xlp(&f, 0x0600, 5, 0x70002000, VIOMMU_ACC_WRITE);
	assert_int_equal(r.fault.type, VIOMMU_FAULT_PERMISSION);
	drain(&f);
	/* v1 does not map the fourth page's GPA. */
	r = xlp(&f, 0x0600, 5, 0x70003000, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	/* A PASID-less request is the v1 table's (no GIoV). */
	r = xl(&f, 0x0600, gpa_data + 8, VIOMMU_ACC_READ);
	assert_int_equal(r.out, DATA_BASE + 8);
	/* The host unmaps the GCR3 table's page: the guest walk cannot read it. */
	assert_int_equal(vg_amdvi_unmap(f.d, 9, RAW_BASE, 0x1000), 0);
	r = xlp(&f, 0x0600, 5, 0x70001234, VIOMMU_ACC_READ);
	assert_int_equal(r.fault.reason, VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	assert_false(viommu_xlate_ok(&r));
	drain(&f);
	viommu_pt_destroy(pt);
	fx_fini(&f);
}

/*
 * The GCR3 cache: a GCR3 entry rewritten without an invalidation may still be used (the test
 * checks that it is, so that what follows is not vacuous), and each invalidation that covers
 * the entry makes the next miss read it again: INVALIDATE_DEVTAB_ENTRY of the device,
 * INVALIDATE_IOMMU_PAGES of the domain with GN for the PASID (all pages, or one) or without GN,
 * INVALIDATE_IOMMU_ALL. @nested: the GCR3 table is read through a v1 table, and the host
 * remapping its page (its invalidation has no GN) must be seen too. @giov: entry 0 for requests
 * without PASID (kept with the DTE), else PASID 5's (the GCR3 cache's slots).
 */
static struct viommu_xlate_result gcr3_xl(struct fx *f, bool giov, uint64_t iova)
{
	return giov ? xl(f, 0x0500, iova, VIOMMU_ACC_READ) :
		      xlp(f, 0x0500, 5, iova, VIOMMU_ACC_READ);
}

static void gcr3_cache_run(bool nested, bool giov)
{
	const uint32_t pasid = giov ? 0 : 5;
	const uint64_t gcr3 = RAW_BASE, gva = 0x70000000, moved = RAW_BASE + 0x200000;
	const uint64_t out_a = nested ? 0x100000000ull : DATA_BASE, out_b = out_a + 0x100000;
	struct viommu_pt_cfg pc = { .format = VIOMMU_PT_X86_64, .levels = 4 };
	struct viommu_xlate_result r;
	struct viommu_pt *pa, *pb;
	uint64_t ra, rb, root = 0, page = 0, cur, other;
	struct fx f;

	gt_fx(&f, &pa);
	assert_int_equal(viommu_pt_create(&pc, viommu_flatmem_ops(), f.fm, &gt_ops, NULL, &pb), 0);
	memset(viommu_flatmem_ptr(f.fm, gcr3, 0x1000), 0, 0x1000);
	/* Table A maps GVA page i to out_a + i pages, table B to out_b + i pages. */
	assert_int_equal(viommu_pt_map(pa, gva, out_a, 0x40000, VIOMMU_ACC_RW, 0), 0);
	assert_int_equal(viommu_pt_map(pb, gva, out_b, 0x40000, VIOMMU_ACC_RW, 0), 0);
	ra = viommu_pt_get_cfg(pa)->root;
	rb = viommu_pt_get_cfg(pb)->root;
	if (nested) {
		/* Guest tables at GPA = SPA; guest outputs at 4 GiB, data at DATA_BASE. */
		assert_int_equal(
			vg_amdvi_map(f.d, 9, RAW_BASE, RAW_BASE, 1ull << 20, VIOMMU_ACC_RW), 0);
		assert_int_equal(vg_amdvi_map(f.d, 9, out_a, DATA_BASE, 0x200000, VIOMMU_ACC_RW),
				 0);
		assert_int_equal(vg_amdvi_domain_root(f.d, 9, &root), 0);
		root |= VIOMMU_AMDVI_DTE0_MODE_SET(3);
	}
	poke64(&f, gcr3 + pasid * 8, ra | VIOMMU_AMDVI_GCR3_GV);
	gt_dte(&f, 0x0500, root | (giov ? VIOMMU_AMDVI_DTE0_GIOV : 0), 9, gcr3);
	cur = 0;
	other = 0x100000;
	for (int kind = 0; kind < 5; kind++) {
		uint64_t u = cur ? ra : rb;

		/* A miss reads the entry (and caches it). */
		r = gcr3_xl(&f, giov, gva + page * 0x1000);
		assert_int_equal(r.out, DATA_BASE + cur + page * 0x1000);
		page++;
		/* Rewritten: a miss of another page still walks the old table. */
		poke64(&f, gcr3 + pasid * 8, u | VIOMMU_AMDVI_GCR3_GV);
		r = gcr3_xl(&f, giov, gva + page * 0x1000);
		assert_int_equal(r.out, DATA_BASE + cur + page * 0x1000);
		page++;
		switch (kind) {
		case 0:
			assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0500), 0);
			break;
		case 1:
			inv_pages_all(&f, 9, true, pasid);
			break;
		case 2: {
			/* GN, the PASID, one page (not even one the device used). */
			uint32_t c[4] = { pasid,
					  9 | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
						      VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES),
					  0x7f000000u | (uint32_t)VIOMMU_AMDVI_IIP2_GN, 0 };

			assert_int_equal(vg_amdvi_submit(f.d, c), 0);
			assert_int_equal(vg_amdvi_completion_wait(f.d), 0);
			break;
		}
		case 3:
			inv_pages_all(&f, 9, false, 0);
			break;
		default: {
			uint32_t c[4] = { 0,
					  (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
						  VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL),
					  0, 0 };

			assert_int_equal(vg_amdvi_submit(f.d, c), 0);
			assert_int_equal(vg_amdvi_completion_wait(f.d), 0);
			break;
		}
		}
		/* Read again: the new table. */
		r = gcr3_xl(&f, giov, gva + page * 0x1000);
		assert_int_equal(r.out, DATA_BASE + other + page * 0x1000);
		page++;
		cur ^= 0x100000;
		other ^= 0x100000;
	}
	/* Another domain's invalidation is not needed by anyone: nothing to check there. */
	if (nested) {
		uint64_t t = cur ? ra : rb;

		/*
		 * The host moves the GCR3 table's page to a copy whose entry names the other table;
		 * its unmap flushes the domain without GN, which drops the cached entry.
		 */
		r = gcr3_xl(&f, giov, gva + page * 0x1000);
		assert_int_equal(r.out, DATA_BASE + cur + page * 0x1000);
		page++;
		memcpy(viommu_flatmem_ptr(f.fm, moved, 0x1000),
		       viommu_flatmem_ptr(f.fm, gcr3, 0x1000), 0x1000);
		poke64(&f, moved + pasid * 8, t | VIOMMU_AMDVI_GCR3_GV);
		assert_int_equal(vg_amdvi_unmap(f.d, 9, gcr3, 0x1000), 0);
		assert_int_equal(vg_amdvi_map(f.d, 9, gcr3, moved, 0x1000, VIOMMU_ACC_RW), 0);
		r = gcr3_xl(&f, giov, gva + page * 0x1000);
		assert_int_equal(r.out, DATA_BASE + other + page * 0x1000);
	}
	assert_int_equal(drain(&f), 0);
	viommu_pt_destroy(pa);
	viommu_pt_destroy(pb);
	fx_fini(&f);
}

static void test_gcr3_cache(void **state)
{
	(void)state;
	gcr3_cache_run(false, false);
	gcr3_cache_run(false, true); /* GIoV: entry 0, requests without PASID */
}

static void test_gcr3_cache_nested(void **state)
{
	(void)state;
	gcr3_cache_run(true, false);
	gcr3_cache_run(true, true);
}

/*
 * Randomized v2 run, nested or not: PASIDs 0-2 (0 also as GIoV requests without PASID), each
 * through its GCR3 entry to one of four guest tables mapping GVA pages to GPA pages (nested: the
 * host's v1 table maps GPA pages to memory; else GPA is memory), random changes on all sides:
 * the guest's tables, its GCR3 entries (another table, or none), the host's v1 table and where
 * it puts the GCR3 table's page, GN invalidations (or none yet: the old table and the old
 * compositions may still be served), INVALIDATE_DEVTAB_ENTRY, and DMA checked against what the
 * reference allows.
 */
#define N_PASID 3
#define N_TAB 4
#define N_GVA 16
#define N_GPA 16
#define GVA_BASE 0x40000000ull
#define GPA_BASE 0x200000000ull
#define N_STALE 4

struct nref {
	bool nested;
	int tab[N_PASID]; /* the table PASID's GCR3 entry names; -1: none (GV = 0) */
	int old[N_PASID]; /* the table it named before, until the PASID's invalidation; -2: none */
	int v2[N_TAB][N_GVA]; /* GPA page + 1, 0: unmapped */
	uint32_t p2[N_TAB][N_GVA];
	int v1[N_GPA]; /* SPA page index + 1, 0: unmapped */
	uint32_t p1[N_GPA];
	uint64_t stale[N_PASID][N_GVA][N_STALE]; /* compositions that may still be served, + 1 */
	uint32_t stale_perm[N_PASID][N_GVA][N_STALE];
	uint64_t gcr3_spa; /* where the GCR3 table's page is (nested: the host may move it) */
};

/* The composition through table @t now: output page address + 1 (0: none) and its rights. */
static uint64_t nref_via(const struct nref *n, int t, int p, uint32_t *perm)
{
	int g = t >= 0 ? n->v2[t][p] - 1 : -1;

	*perm = 0;
	if (g < 0 || !n->v1[g])
		return 0;
	*perm = n->p2[t][p] & n->p1[g];
	return *perm ? DATA_BASE + (uint64_t)(n->v1[g] - 1) * 0x1000 + 1 : 0;
}

/* Remember that the IOTLB may still hold (pa, p) through table @t; false when there is no room. */
static bool nref_keep(struct nref *n, int pa, int t, int p)
{
	uint32_t perm;
	uint64_t now = nref_via(n, t, p, &perm);

	if (!now)
		return true;
	for (int k = 0; k < N_STALE; k++) {
		if (!n->stale[pa][p][k]) {
			n->stale[pa][p][k] = now;
			n->stale_perm[pa][p][k] = perm;
			return true;
		}
	}
	return false;
}

static void gn_inval(struct fx *f, struct nref *n, int pa)
{
	inv_pages_all(f, 9, true, (uint32_t)pa);
	memset(n->stale[pa], 0, sizeof(n->stale[pa]));
	n->old[pa] = -2;
}

static void nref_gcr3(struct fx *f, struct viommu_pt **pt, uint64_t spa, int pa, int t)
{
	poke64(f, spa + (uint64_t)pa * 8, t >= 0 ? viommu_pt_get_cfg(pt[t])->root | 1 : 0);
}

static void random_v2_run(bool nested, uint64_t seed)
{
	struct test_rng rng = { test_seed(seed) };
	struct nref *n = calloc(1, sizeof(*n));
	struct viommu_pt *pt[N_TAB];
	uint64_t root = 0;
	struct fx f;

	gt_fx(&f, &pt[0]);
	for (int t = 1; t < N_TAB; t++) {
		struct viommu_pt_cfg pc = { .format = VIOMMU_PT_X86_64, .levels = 4 };

		assert_int_equal(viommu_pt_create(&pc, viommu_flatmem_ops(), f.fm, &gt_ops, NULL,
						  &pt[t]),
				 0);
	}
	n->nested = nested;
	n->gcr3_spa = RAW_BASE;
	memset(viommu_flatmem_ptr(f.fm, RAW_BASE, 0x1000), 0, 0x1000);
	for (int pa = 0; pa < N_PASID; pa++) {
		n->tab[pa] = pa;
		n->old[pa] = -2;
		nref_gcr3(&f, pt, RAW_BASE, pa, pa);
	}
	if (nested) {
		/* Guest tables at GPA = SPA: v1 maps their megabyte 1:1. */
		assert_int_equal(
			vg_amdvi_map(f.d, 9, RAW_BASE, RAW_BASE, 1ull << 20, VIOMMU_ACC_RW), 0);
		assert_int_equal(vg_amdvi_domain_root(f.d, 9, &root), 0);
		root |= VIOMMU_AMDVI_DTE0_MODE_SET(3);
	}
	gt_dte(&f, 0x0700, root | VIOMMU_AMDVI_DTE0_GIOV, 9, RAW_BASE);
	/* The host maps most GPA pages first: host changes flush the domain, so they stay rare. */
	for (int g = 0; g < N_GPA; g++) {
		uint32_t perm = test_below(&rng, 4) ? VIOMMU_ACC_RW :
						      1 + (uint32_t)test_below(&rng, 2);

		if (!nested)
			perm = VIOMMU_ACC_RW; /* GPA is memory: no second stage */
		else
			assert_int_equal(vg_amdvi_map(f.d, 9, GPA_BASE + ((uint64_t)g << 12),
						      DATA_BASE + (uint64_t)g * 0x1000, 0x1000,
						      perm),
					 0);
		n->v1[g] = g + 1;
		n->p1[g] = nested ? perm : VIOMMU_ACC_RW;
	}
	for (int step = 0; step < 8000; step++) {
		uint64_t op = test_below(&rng, 100);
		int pa = (int)test_below(&rng, N_PASID);
		int t = (int)test_below(&rng, N_TAB);
		int p = (int)test_below(&rng, N_GVA);
		int g = (int)test_below(&rng, N_GPA);
		uint32_t perm = 1 + (uint32_t)test_below(&rng, 3);

		if (op < 25) {
			/* Guest maps a free GVA page (no invalidation: nothing was cached for it,
			 * except what an earlier unmap left, which stays possible). */
			if (n->v2[t][p])
				continue;
			/* x86-64 entries cannot say write-only: present means readable. */
			perm = perm == VIOMMU_ACC_WRITE ? VIOMMU_ACC_RW : perm;
			assert_int_equal(
				viommu_pt_map(pt[t], GVA_BASE + ((uint64_t)p << 12),
					      (nested ? GPA_BASE : DATA_BASE) + ((uint64_t)g << 12),
					      0x1000, perm, 0),
				0);
			n->v2[t][p] = g + 1;
			n->p2[t][p] = perm;
		} else if (op < 40) {
			uint64_t done;

			/* Guest unmaps; maybe invalidates the PASIDs on the table at once. */
			if (!n->v2[t][p])
				continue;
			for (int q = 0; q < N_PASID; q++) {
				if (n->tab[q] == t && !nref_keep(n, q, t, p))
					gn_inval(&f, n, q), nref_keep(n, q, t, p);
				if (n->old[q] == t && !nref_keep(n, q, t, p))
					gn_inval(&f, n, q); /* the old table is gone for q */
			}
			assert_int_equal(viommu_pt_unmap(pt[t], GVA_BASE + ((uint64_t)p << 12),
							 0x1000, &done),
					 0);
			n->v2[t][p] = 0;
			if (test_below(&rng, 4) == 0)
				for (int q = 0; q < N_PASID; q++)
					if (n->tab[q] == t)
						gn_inval(&f, n, q);
		} else if (op < 41 && nested) {
			/* Host maps a free GPA page (the driver's NpCache flush drops the domain's
			 * guest entries: every stale composition and old table goes). */
			if (n->v1[g])
				continue;
			int sp = 1 + (int)test_below(&rng, 256);

			assert_int_equal(vg_amdvi_map(f.d, 9, GPA_BASE + ((uint64_t)g << 12),
						      DATA_BASE + (uint64_t)(sp - 1) * 0x1000,
						      0x1000, perm),
					 0);
			n->v1[g] = sp;
			n->p1[g] = perm;
			memset(n->stale, 0, sizeof(n->stale));
			for (int q = 0; q < N_PASID; q++)
				n->old[q] = -2;
		} else if (op < 42 && nested) {
			if (!n->v1[g])
				continue;
			assert_int_equal(
				vg_amdvi_unmap(f.d, 9, GPA_BASE + ((uint64_t)g << 12), 0x1000), 0);
			n->v1[g] = 0;
			memset(n->stale, 0, sizeof(n->stale));
			for (int q = 0; q < N_PASID; q++)
				n->old[q] = -2;
		} else if (op < 43) {
			gn_inval(&f, n, pa);
		} else if (op < 46) {
			/* The guest points PASID pa's GCR3 entry at another table (or none), and
			 * invalidates it at once or later. */
			int to = (int)test_below(&rng, N_TAB + 1) - 1;

			if (to == n->tab[pa])
				continue;
			if (n->old[pa] != -2)
				gn_inval(&f, n, pa);
			nref_gcr3(&f, pt, n->gcr3_spa, pa, to);
			n->old[pa] = n->tab[pa];
			n->tab[pa] = to;
			if (test_below(&rng, 2))
				gn_inval(&f, n, pa);
		} else if (op < 47) {
			/* INVALIDATE_DEVTAB_ENTRY: the DTE is the same; what may be served, too. */
			assert_int_equal(vg_amdvi_inv_devtab(f.d, 0x0700), 0);
		} else if (op < 48 && nested) {
			/*
			 * The host moves the GCR3 table's page to a copy in which PASID pa's entry
			 * names table t: to the guest, its entry changed, and the host's unmap
			 * flushed the domain (no GN), which drops all its guest translations.
			 */
			uint64_t to = n->gcr3_spa == RAW_BASE + 0x200000 ? RAW_BASE + 0x201000 :
									   RAW_BASE + 0x200000;

			memcpy(viommu_flatmem_ptr(f.fm, to, 0x1000),
			       viommu_flatmem_ptr(f.fm, n->gcr3_spa, 0x1000), 0x1000);
			nref_gcr3(&f, pt, to, pa, t);
			assert_int_equal(vg_amdvi_unmap(f.d, 9, RAW_BASE, 0x1000), 0);
			assert_int_equal(vg_amdvi_map(f.d, 9, RAW_BASE, to, 0x1000, VIOMMU_ACC_RW),
					 0);
			n->gcr3_spa = to;
			n->tab[pa] = t;
			memset(n->stale, 0, sizeof(n->stale));
			for (int q = 0; q < N_PASID; q++)
				n->old[q] = -2;
		} else if (op >= 48) {
			/* DMA: with PASID, or PASID 0 as a GIoV request without one. */
			uint32_t acc = test_below(&rng, 2) ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ;
			uint64_t off = test_below(&rng, 0x1000) & ~7ull;
			uint64_t gva = GVA_BASE + ((uint64_t)p << 12) + off;
			struct viommu_xlate_result r =
				pa == 0 && test_below(&rng, 2) ?
					xl(&f, 0x0700, gva, acc) :
					xlp(&f, 0x0700, (uint32_t)pa, gva, acc);
			uint32_t cur_perm, old_perm = 0;
			uint64_t cur = nref_via(n, n->tab[pa], p, &cur_perm), old = 0;
			bool cur_ok = cur && (cur_perm & acc), pending = n->old[pa] != -2;

			if (pending)
				old = nref_via(n, n->old[pa], p, &old_perm);
			if (viommu_xlate_ok(&r)) {
				bool legal = (cur_ok && r.out == cur - 1 + off) ||
					     (pending && old && (old_perm & acc) &&
					      r.out == old - 1 + off);

				for (int k = 0; k < N_STALE && !legal; k++)
					legal = n->stale[pa][p][k] &&
						(n->stale_perm[pa][p][k] & acc) &&
						r.out == n->stale[pa][p][k] - 1 + off;
				assert_true(legal);
			} else {
				/* A walk of the new table, or (not yet invalidated) the old one. */
				assert_true(!cur_ok || (pending && !(old && (old_perm & acc))));
			}
		}
		if (step % 128 == 0)
			drain(&f);
	}
	for (int t = 0; t < N_TAB; t++)
		viommu_pt_destroy(pt[t]);
	fx_fini(&f);
	free(n);
}

static void test_random_nested(void **state)
{
	(void)state;
	random_v2_run(true, 0xa3d3);
}

static void test_random_v2(void **state)
{
	(void)state;
	random_v2_run(false, 0xa3d4);
}

/* ------------------------------------------------------------------------------------------ */
/* Randomized run against a reference                                                          */
/* ------------------------------------------------------------------------------------------ */

#define R_DEVS 4
#define R_DOMS 3
#define R_PAGES 512 /* IOVA pages per domain: [0, 2 MiB) */

struct ref_page {
	uint64_t out; /* 0: unmapped */
	uint32_t perm;
	uint64_t stale_out; /* lazy: unmapped but not flushed (may still be served), 0: none */
	uint32_t stale_perm;
};

struct ref {
	struct ref_page pg[R_DOMS][R_PAGES];
	int dom_of[R_DEVS]; /* -1: blocked */
};

static void ref_flush_all(struct ref *rf)
{
	for (int d = 0; d < R_DOMS; d++)
		for (int p = 0; p < R_PAGES; p++)
			rf->pg[d][p].stale_out = 0;
}

static void run_random(bool lazy, uint64_t seed_default)
{
	struct vg_amdvi_config dc = { .lazy = lazy, .batch = 16 };
	struct viommu_amdvi_config c = cfg_default();
	struct test_rng rng = { test_seed(seed_default) };
	struct ref *rf = calloc(1, sizeof(*rf));
	struct shadow *sh = calloc(1, sizeof(*sh));
	struct viommu_notifier *n;
	struct fx f;
	const uint16_t devid[R_DEVS] = { 0x0008, 0x0010, 0x0011, 0x0100 };

	c.iotlb_capacity = 64; /* small: evictions happen */
	fx_init_cfg(&f, &c, &dc, true);
	for (int i = 0; i < R_DEVS; i++)
		rf->dom_of[i] = -1;
	/* The shadow follows device 0 (IOVA pages [0, 16 MiB) cover the domains' range). */
	assert_int_equal(viommu_notifier_add(f.v, devid[0], VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     on_notify, sh, &n),
			 0);
	for (int step = 0; step < 20000; step++) {
		uint64_t op = test_below(&rng, 100);
		int d = (int)test_below(&rng, R_DOMS);
		int p = (int)test_below(&rng, R_PAGES);
		uint32_t npg = 1 + (uint32_t)test_below(&rng, 4);

		if (p + (int)npg > R_PAGES)
			npg = (uint32_t)(R_PAGES - p);
		if (op < 3) {
			/* Attach or detach a device. */
			int i = (int)test_below(&rng, R_DEVS);

			if (test_below(&rng, 4) == 0) {
				assert_int_equal(vg_amdvi_detach(f.d, devid[i]), 0);
				rf->dom_of[i] = -1;
			} else {
				assert_int_equal(vg_amdvi_attach(f.d, devid[i], (uint16_t)(d + 1),
								 false),
						 0);
				rf->dom_of[i] = d;
			}
			/* An old domain's stale entries may live on (flushed with its id). */
		} else if (op < 35) {
			/* Map a run of free pages. */
			bool free_run = true;
			uint32_t perm = 1 + (uint32_t)test_below(&rng, 3);
			uint64_t out = DATA_BASE + test_below(&rng, 2048) * 0x1000;

			for (uint32_t k = 0; k < npg; k++)
				free_run = free_run && !rf->pg[d][p + k].out;
			if (!free_run)
				continue;
			assert_int_equal(vg_amdvi_map(f.d, (uint16_t)(d + 1), (uint64_t)p << 12,
						      out, (uint64_t)npg << 12, perm),
					 0);
			for (uint32_t k = 0; k < npg; k++) {
				rf->pg[d][p + k].out = out + ((uint64_t)k << 12);
				rf->pg[d][p + k].perm = perm;
				/* The NpCache flush covered the range: nothing stale there. */
				rf->pg[d][p + k].stale_out = 0;
			}
		} else if (op < 60) {
			/* Unmap one page that is mapped. */
			struct vg_amdvi_stats ds;

			if (!rf->pg[d][p].out)
				continue;
			assert_int_equal(vg_amdvi_unmap(f.d, (uint16_t)(d + 1), (uint64_t)p << 12,
							0x1000),
					 0);
			if (lazy) {
				rf->pg[d][p].stale_out = rf->pg[d][p].out;
				rf->pg[d][p].stale_perm = rf->pg[d][p].perm;
			}
			rf->pg[d][p].out = 0;
			/* Every 16th unmap flushes everything. */
			vg_amdvi_get_stats(f.d, &ds);
			if (lazy && ds.unmaps % 16 == 0)
				ref_flush_all(rf);
		} else if (op < 63) {
			assert_int_equal(vg_amdvi_flush(f.d), 0);
			ref_flush_all(rf);
		} else if (op < 65) {
			/* An invalidation of everything of a domain ends its staleness there. */
			assert_int_equal(vg_amdvi_inv_pages(f.d, (uint16_t)(d + 1), 0, 0), 0);
			for (int q = 0; q < R_PAGES; q++)
				rf->pg[d][q].stale_out = 0;
		} else {
			/* DMA from a random device, checked against what may legally answer. */
			int i = (int)test_below(&rng, R_DEVS);
			uint32_t acc = test_below(&rng, 2) ? VIOMMU_ACC_WRITE : VIOMMU_ACC_READ;
			uint64_t off = test_below(&rng, 0x1000);
			struct viommu_xlate_result r =
				xl(&f, devid[i], ((uint64_t)p << 12) + off, acc);
			const struct ref_page *rp;
			bool cur_ok, stale_ok;

			if (rf->dom_of[i] < 0) {
				assert_false(viommu_xlate_ok(&r));
				continue;
			}
			rp = &rf->pg[rf->dom_of[i]][p];
			cur_ok = rp->out && (rp->perm & acc);
			stale_ok = rp->stale_out && (rp->stale_perm & acc);
			if (viommu_xlate_ok(&r)) {
				bool is_cur = cur_ok && r.out == rp->out + off;
				bool is_stale = stale_ok && r.out == rp->stale_out + off;

				assert_true(is_cur || is_stale);
				/* The payload through the translated address is the page's. */
				assert_true(r.out >= DATA_BASE &&
					    r.out < DATA_BASE + (8ull << 20) + 0x4000);
			} else {
				/* A current mapping with the rights never faults. */
				assert_false(cur_ok);
			}
		}
		if (step % 1024 == 0)
			drain(&f);
		/* The shadow holds only what device 0 may reach now (or stale, in lazy mode). */
		if (step % 256 == 0 && rf->dom_of[0] >= 0) {
			for (int q = 0; q < R_PAGES; q++) {
				const struct ref_page *rp = &rf->pg[rf->dom_of[0]][q];
				uint64_t s = sh->out[q];

				if (s)
					assert_true(s - 1 == rp->out || s - 1 == rp->stale_out);
				else
					assert_true(!rp->out);
			}
		}
	}
	/* After a flush the shadow is exact. */
	assert_int_equal(vg_amdvi_flush(f.d), 0);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 1, 0, 0), 0);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 2, 0, 0), 0);
	assert_int_equal(vg_amdvi_inv_pages(f.d, 3, 0, 0), 0);
	for (int q = 0; q < R_PAGES; q++) {
		uint64_t want = rf->dom_of[0] >= 0 ? rf->pg[rf->dom_of[0]][q].out : 0;

		assert_int_equal(sh->out[q] ? sh->out[q] - 1 : 0, want);
		if (want)
			assert_int_equal(sh->perm[q], rf->pg[rf->dom_of[0]][q].perm);
	}
	viommu_notifier_del(f.v, n);
	fx_fini(&f);
	free(rf);
	free(sh);
}

/*
 * The v1 miss path against the general walk: model A reads memory through flatmem's ops (so
 * its misses take the walker's leaf walk and the insert at the miss cursor), model B through
 * the same ops without dma_map_ptr (so every walk is the full walk, and every miss
 * translate_v1_rest()). Both get the same random, often hostile v1 tables (tables shared
 * between levels and devices, skipped and repeated levels, sized pages, reserved and
 * above-memory bits, table pointers outside memory), the same DTEs and the same requests,
 * entries changed under cached translations, invalidations and flushes; every result, the
 * statistics and the events must be the same.
 */
#define LW_TABLES 24
#define LW_DEVS 4

static uint64_t lw_entry(struct test_rng *rng, unsigned int level)
{
	const uint64_t pr = VIOMMU_AMDVI_PTE_PR;
	uint64_t k = test_below(rng, 100), e, nl = 0;
	uint64_t rights = (test_below(rng, 6) ? VIOMMU_AMDVI_PTE_IR : 0) |
			  (test_below(rng, 4) ? VIOMMU_AMDVI_PTE_IW : 0);

	if (k < 8)
		return test_below(rng, 2) ? 0 : test_rand(rng) & ~pr; /* not present */
	if (k < 55 && level > 1) {
		/* A table of the pool, mostly for the level below. */
		e = RAW_BASE + test_below(rng, LW_TABLES) * 0x1000;
		nl = level - 1;
		if (test_below(rng, 16) == 0)
			nl = test_below(rng, 8); /* skips, loops, 7 */
		if (test_below(rng, 40) == 0)
			e = MEM_SIZE + test_below(rng, 64) * 0x1000; /* outside memory */
	} else {
		e = (test_rand(rng) & 0xfffffff000ull);
		if (test_below(rng, 12) == 0) {
			nl = 7; /* a sized page: ones from bit 12 */
			e |= ((1ull << test_below(rng, 12)) - 1) << 12;
		}
	}
	e |= pr | rights | VIOMMU_AMDVI_PTE_NEXT_LEVEL_SET(nl);
	if (test_below(rng, 24) == 0)
		e |= 1ull << (48 + test_below(rng, 13)); /* above 48-bit PA, reserved, U, FC */
	if (test_below(rng, 4) == 0)
		e |= test_rand(rng) & (VIOMMU_AMDVI_PTE_A | VIOMMU_AMDVI_PTE_D | 0x19eull);
	return e;
}

static void lw_poke(struct fx *a, struct fx *b, uint64_t gpa, uint64_t v)
{
	poke64(a, gpa, v);
	poke64(b, gpa, v);
}

static void lw_dte(struct fx *a, struct fx *b, struct test_rng *rng, uint16_t devid)
{
	uint32_t mode = test_below(rng, 8) ? 3 + (uint32_t)test_below(rng, 2) :
					     1 + (uint32_t)test_below(rng, 6);
	uint64_t q0 = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV |
		      VIOMMU_AMDVI_DTE0_MODE_SET(mode) |
		      (RAW_BASE + test_below(rng, LW_TABLES) * 0x1000) |
		      (test_below(rng, 8) ? VIOMMU_AMDVI_DTE0_IR : 0) |
		      (test_below(rng, 6) ? VIOMMU_AMDVI_DTE0_IW : 0);

	uint64_t dom = 1 + test_below(rng, 3);

	set_dte(a, devid, q0, dom);
	set_dte(b, devid, q0, dom);
}

static void test_random_leaf_walk(void **state)
{
	const uint16_t devid[LW_DEVS] = { 0x0010, 0x0011, 0x0020, 0x0100 };
	const uint32_t accs[] = { VIOMMU_ACC_READ,
				  VIOMMU_ACC_WRITE,
				  VIOMMU_ACC_READ | VIOMMU_ACC_WRITE,
				  VIOMMU_ACC_EXEC,
				  VIOMMU_ACC_READ | VIOMMU_ACC_PRIV,
				  0 };
	struct viommu_amdvi_config c = cfg_default();
	struct viommu_host_ops full = *viommu_flatmem_ops();
	struct test_rng rng = { test_seed(0x1eaf) };
	struct viommu_amdvi_stats sa, sb;
	uint64_t oks = 0;
	struct fx a, b;

	(void)state;
	full.dma_map_ptr = NULL;
	c.iotlb_capacity = 16; /* evictions, sets shared by devices */
	fx_init_host(&a, &c, NULL, true, viommu_flatmem_ops());
	fx_init_host(&b, &c, NULL, true, &full);
	for (uint64_t t = 0; t < LW_TABLES; t++)
		for (unsigned int i = 0; i < 512; i++)
			lw_poke(&a, &b, RAW_BASE + t * 0x1000 + i * 8,
				lw_entry(&rng, 1 + (unsigned int)test_below(&rng, 4)));
	for (int i = 0; i < LW_DEVS; i++)
		lw_dte(&a, &b, &rng, devid[i]);
	for (int step = 0; step < 60000; step++) {
		uint64_t op = test_below(&rng, 1000);

		if (op < 900) {
			struct viommu_xlate_req req = {
				.sid = devid[test_below(&rng, LW_DEVS)],
				.len = test_below(&rng, 8) ? 8 : 1 + test_below(&rng, 0x3000),
				.access = accs[test_below(&rng, sizeof(accs) / sizeof(accs[0]))]
			};
			struct viommu_xlate_result ra, rb;

			/* Mostly inside a 3- or 4-level range, and within a few tables. */
			req.iova = test_rand(&rng) & ((1ull << (30 + 9 * test_below(&rng, 3))) - 1);
			if (test_below(&rng, 2))
				req.iova &= ~0x3fe00000ull;
			memset(&ra, 0, sizeof(ra));
			memset(&rb, 0, sizeof(rb));
			assert_int_equal(viommu_translate(a.v, &req, &ra),
					 viommu_translate(b.v, &req, &rb));
			assert_memory_equal(&ra, &rb, sizeof(ra));
			oks += viommu_xlate_ok(&ra);
		} else if (op < 960) {
			/* An entry changes under whatever the IOTLBs hold. */
			uint64_t t = test_below(&rng, LW_TABLES), i = test_below(&rng, 512);

			lw_poke(&a, &b, RAW_BASE + t * 0x1000 + i * 8,
				lw_entry(&rng, 1 + (unsigned int)test_below(&rng, 4)));
		} else if (op < 975) {
			uint16_t dom = (uint16_t)(1 + test_below(&rng, 3));

			assert_int_equal(vg_amdvi_inv_pages(a.d, dom, 0, 0), 0);
			assert_int_equal(vg_amdvi_inv_pages(b.d, dom, 0, 0), 0);
		} else if (op < 985) {
			lw_dte(&a, &b, &rng, devid[test_below(&rng, LW_DEVS)]);
		} else if (op < 990) {
			assert_int_equal(vg_amdvi_flush(a.d), 0);
			assert_int_equal(vg_amdvi_flush(b.d), 0);
		} else {
			struct evlog ea;

			assert_int_equal(drain(&a), drain(&b));
			ea = a.evs;
			assert_int_equal(ea.n, b.evs.n);
			assert_memory_equal(ea.ev, b.evs.ev,
					    sizeof(ea.ev[0]) * (ea.n < 64 ? ea.n : 64));
		}
	}
	assert_int_equal(viommu_amdvi_get_stats(a.v, &sa), 0);
	assert_int_equal(viommu_amdvi_get_stats(b.v, &sb), 0);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	/* Enough of it translated, through walks and hits. */
	assert_true(oks > 10000 && sa.page_walks > 5000 && sa.iotlb_hits > 5000);
	fx_fini(&a);
	fx_fini(&b);
}

static void test_random_strict(void **state)
{
	(void)state;
	run_random(false, 0xa3d1);
}

static void test_random_lazy(void **state)
{
	(void)state;
	run_random(true, 0xa3d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers),
		cmocka_unit_test(test_bringup_and_map),
		cmocka_unit_test(test_dte_valid_bits_and_cache),
		cmocka_unit_test(test_exclusion),
		cmocka_unit_test(test_illegal_dte),
		cmocka_unit_test(test_hw_errors),
		cmocka_unit_test(test_hostile_tables),
		cmocka_unit_test(test_illegal_commands),
		cmocka_unit_test(test_command_hw_errors),
		cmocka_unit_test(test_completion_wait_and_bounded_doorbell),
		cmocka_unit_test(test_inv_pages_sizes),
		cmocka_unit_test(test_event_log_overflow),
		cmocka_unit_test(test_event_log_hostile),
		cmocka_unit_test(test_npcache_notify),
		cmocka_unit_test(test_ppr),
		cmocka_unit_test(test_ppr_hostile),
		cmocka_unit_test(test_v2_guest),
		cmocka_unit_test(test_v2_guest5),
		cmocka_unit_test(test_v2_giov_dev_iotlb),
		cmocka_unit_test(test_driver_v2),
		cmocka_unit_test(test_driver_v2_la57),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_invalid_device_request),
		cmocka_unit_test(test_iotlb_inv_timeout),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_eph),
		cmocka_unit_test(test_prefetch_v2),
		cmocka_unit_test(test_gcr3_cache),
		cmocka_unit_test(test_gcr3_cache_nested),
		cmocka_unit_test(test_random_nested),
		cmocka_unit_test(test_random_v2),
		cmocka_unit_test(test_random_leaf_walk),
		cmocka_unit_test(test_random_strict),
		cmocka_unit_test(test_random_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
