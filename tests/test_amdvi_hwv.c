// SPDX-License-Identifier: MIT
/*
 * AMD hardware-assisted vIOMMU (<viommu/amdvi_hwv.h>): discovery and the host driver's set-up
 * (guest/amdvi_hwv_host.c), an unmodified guest driver with v2 tables on a guest's view (nested
 * translation, guest-stage faults in the guest's log, host-stage ones in the host's), the new
 * commands, hardware errors, hostile host-driver calls, and two guests driven with randomized
 * and hostile commands against a reference that says what each must do: no guest ever reaches
 * the other's or the host's devices, domains or memory, and every event is in its owner's log.
 *
 * Memory: one flat host memory; each guest's memory is a window of it at the same addresses
 * (GPA == SPA inside the window, nothing outside: the nest parent maps only the window).
 */
#include "test_common.h"

#include <string.h>

#include <viommu/amdvi.h>
#include <viommu/amdvi_hwv.h>
#include <viommu/flatmem.h>
#include <viommu/spec/amdvi.h>

#include "amdvi_driver.h"
#include "amdvi_hwv_host.h"

#define MEM_SIZE (192ull << 20)
#define HOST_POOL (1ull << 20)
#define HOST_POOL_SIZE (47ull << 20)
#define HOST_CANARY (50ull << 20)
#define WIN_SIZE (32ull << 20)
#define IOMMU_DEVID 0x0002
#define GUEST_POOL 0x100000ull /* offsets in a guest's window */
#define GUEST_POOL_SIZE 0x800000ull
#define GUEST_DATA 0x1000000ull
#define GUEST_CANARY 0x1e00000ull
#define CANARY 0x5a5a5a5a5a5a5a5aull

static const uint64_t win_base[2] = { 64ull << 20, 128ull << 20 };
static const uint16_t trans_dev[2] = { 0x0100, 0x0200 };
static const uint16_t host_dom[2] = { 10, 20 };

struct guest {
	struct vg_amdvi_hwv_guest *hg;
	uint32_t gid;
	struct viommu *view;
	struct vg_amdvi *drv;
	int irqs;
};

struct fx {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_amdvi *host;
	struct guest g[2];
};

struct evlog {
	int n;
	uint32_t ev[64][4];
};

static void on_event(void *opaque, const uint32_t ev[4])
{
	struct evlog *l = opaque;

	if (l->n < 64)
		memcpy(l->ev[l->n], ev, 16);
	l->n++;
}

static void on_guest_irq(void *opaque, uint32_t gid)
{
	struct guest *g = opaque;

	assert_int_equal(gid, g->gid);
	g->irqs++;
}

static void poke64(struct fx *f, uint64_t a, uint64_t v)
{
	test_poke64(f->fm, a, v);
}

static uint64_t peek64(struct fx *f, uint64_t a)
{
	return test_peek64(f->fm, a);
}

/* Host IOMMU with the feature, its own driver up, the vIOMMU set up, two guests created. */
static void fx_init(struct fx *f)
{
	struct viommu_amdvi_config c;
	struct vg_amdvi_config dc = { 0 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	viommu_amdvi_config_init(&c);
	c.flags |= VIOMMU_AMDVI_GT | VIOMMU_AMDVI_HWV;
	c.iommu_devid = IOMMU_DEVID;
	assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), f->fm, &f->v), 0);
	dc.iommu = f->v;
	dc.mem = f->fm;
	dc.pool_base = HOST_POOL;
	dc.pool_size = HOST_POOL_SIZE;
	dc.msi_addr = 0xfee00000;
	assert_int_equal(vg_amdvi_create(&dc, &f->host), 0);
	assert_int_equal(vg_amdvi_enable(f->host), 0);
	assert_int_equal(vg_amdvi_hwv_host_init(f->host, f->v), 0);
	poke64(f, HOST_CANARY, CANARY);
	for (int i = 0; i < 2; i++) {
		struct vg_amdvi_hwv_guest_cfg gc = { 0 };

		gc.trans_devid = trans_dev[i];
		gc.host_domid = host_dom[i];
		gc.gpa = win_base[i];
		gc.spa = win_base[i];
		gc.size = WIN_SIZE;
		gc.guest_irq = on_guest_irq;
		gc.opaque = &f->g[i];
		assert_int_equal(vg_amdvi_hwv_guest_create(f->host, f->v, &gc, &f->g[i].hg), 0);
		f->g[i].gid = vg_amdvi_hwv_gid(f->g[i].hg);
		assert_int_equal(viommu_amdvi_hwv_view(f->v, f->g[i].gid, &f->g[i].view), 0);
		poke64(f, win_base[i] + GUEST_CANARY, CANARY);
	}
	assert_int_not_equal(f->g[0].gid, f->g[1].gid);
}

/* The unmodified guest driver (v2 tables, as Linux 6.12 amd_iommu=pgtbl_v2) on guest @i. */
static void guest_driver_up(struct fx *f, int i)
{
	struct vg_amdvi_config dc = { 0 };

	dc.iommu = f->g[i].view;
	dc.mem = f->fm;
	dc.pool_base = win_base[i] + GUEST_POOL;
	dc.pool_size = GUEST_POOL_SIZE;
	dc.dev_table_pages = 1;
	dc.v2 = true;
	dc.msi_addr = 0xfee00000;
	assert_int_equal(vg_amdvi_create(&dc, &f->g[i].drv), 0);
	assert_int_equal(vg_amdvi_enable(f->g[i].drv), 0);
}

static void fx_fini(struct fx *f)
{
	for (int i = 0; i < 2; i++) {
		vg_amdvi_destroy(f->g[i].drv);
		viommu_destroy(f->g[i].view);
		vg_amdvi_hwv_guest_destroy(f->host, f->v, f->g[i].hg);
	}
	vg_amdvi_destroy(f->host);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
}

static struct viommu_xlate_result xl(struct viommu *v, uint32_t sid, uint64_t iova, uint32_t acc)
{
	return test_xl(v, sid, iova, 8, acc);
}

static int drain(struct vg_amdvi *d, struct evlog *l)
{
	l->n = 0;
	return vg_amdvi_handle_irq(d, on_event, l);
}

static uint32_t ev_code(const uint32_t ev[4])
{
	return (uint32_t)VIOMMU_AMDVI_EV_CODE_GET(ev[1]);
}

static uint64_t ev_addr(const uint32_t ev[4])
{
	return (uint64_t)ev[3] << 32 | ev[2];
}

/* ------------------------------------------------------------------------------------------ */
/* Discovery, set-up and the unmodified guest driver                                           */
/* ------------------------------------------------------------------------------------------ */

static void test_discovery(void **state)
{
	struct viommu_amdvi_config c;
	struct viommu *plain;
	struct fx f;
	uint64_t efr = 0, ctl = 0;
	uint32_t info = 0;

	(void)state;
	fx_init(&f);
	assert_int_equal(viommu_mmio_read(f.v, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8, &efr), 0);
	assert_true(efr & VIOMMU_AMDVI_EFR_VIOMMU_SUP);
	assert_int_equal(viommu_amdvi_vsc(f.v, &info), 0);
	assert_int_equal(info & 0xffff, VIOMMU_AMDVI_VSC_ID);
	assert_int_equal(viommu_mmio_read(f.v, VIOMMU_AMDVI_MMIO_CONTROL, 8, &ctl), 0);
	assert_true(ctl & VIOMMU_AMDVI_CTRL_VIOMMU_EN);
	assert_true(ctl & VIOMMU_AMDVI_CTRL_VCMD_EN);
	assert_true(ctl & VIOMMU_AMDVI_CTRL_GT_EN);
	/* The VFCtrl block names the guest's nest parent. */
	assert_int_equal(viommu_amdvi_vfctrl_read(f.v, f.g[1].gid, VIOMMU_AMDVI_VFCTRL_MISC_CONTROL,
						  8, &ctl),
			 0);
	assert_int_equal(VIOMMU_AMDVI_MISC_TRANS_DEVID_GET(ctl), trans_dev[1]);
	fx_fini(&f);

	/* Without the feature: no EFR bit, no VSC, no set-up. */
	viommu_amdvi_config_init(&c);
	c.flags |= VIOMMU_AMDVI_GT;
	assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), NULL, &plain), 0);
	assert_int_equal(viommu_mmio_read(plain, VIOMMU_AMDVI_MMIO_EXT_FEATURE, 8, &efr), 0);
	assert_false(efr & VIOMMU_AMDVI_EFR_VIOMMU_SUP);
	assert_int_equal(viommu_amdvi_vsc(plain, &info), VIOMMU_EINVAL);
	{
		struct viommu_amdvi_hwv_mem mem = { 0 };

		assert_int_equal(viommu_amdvi_hwv_init(plain, &mem), VIOMMU_EINVAL);
	}
	viommu_destroy(plain);
	/* HWV needs GT. */
	viommu_amdvi_config_init(&c);
	c.flags |= VIOMMU_AMDVI_HWV;
	assert_int_equal(viommu_amdvi_create(&c, viommu_flatmem_ops(), NULL, &plain),
			 VIOMMU_EINVAL);
}

/* Attach guest devid @gdev (host @hdev) to guest domain @dom through the guest driver + trap. */
static void assign(struct fx *f, int i, uint16_t hdev, uint16_t gdev, uint16_t dom)
{
	assert_int_equal(viommu_amdvi_hwv_add_device(f->v, f->g[i].gid, hdev, gdev), 0);
	assert_int_equal(vg_amdvi_attach(f->g[i].drv, gdev, dom, false), 0);
	/* The VMM write-protects the guest's device table: this is the fault it takes. */
	assert_int_equal(viommu_amdvi_hwv_dte_trap(f->v, f->g[i].gid, gdev), 0);
}

static void test_guest_driver_nested(void **state)
{
	struct viommu_amdvi_stats hs0, hs1;
	struct viommu_amdvi_hwv_stats st;
	struct viommu_xlate_result r;
	struct evlog gl, hl;
	struct fx f;
	const uint64_t data = win_base[0] + GUEST_DATA;

	(void)state;
	fx_init(&f);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &hs0), 0);
	guest_driver_up(&f, 0);
	assert_int_equal(viommu_amdvi_hwv_get_stats(f.v, f.g[0].gid, &st), 0);
	/* Bring-up: base and control registers trapped, its commands run by the hardware. */
	assert_true(st.trapped_mmio >= 5);
	assert_true(st.direct_doorbells >= 1);
	assert_true(st.direct_cmds >= 2);
	assert_true(st.completion_waits >= 1);
	assert_int_equal(st.cmd_errors, 0);
	assert_int_equal(viommu_amdvi_get_stats(f.v, &hs1), 0);
	/* None of it went through the host's command buffer. */
	assert_int_equal(hs1.cmd_doorbells, hs0.cmd_doorbells);
	assert_int_equal(hs1.cmd_completion_wait, hs0.cmd_completion_wait);

	assign(&f, 0, 0x300, 0x10, 5);
	assert_int_equal(vg_amdvi_map(f.g[0].drv, 5, 0x100000, data, 0x2000, VIOMMU_ACC_RW), 0);
	/* Nested: IOVA -> GPA (guest v2) -> SPA (host v1); here GPA == SPA inside the window. */
	r = xl(f.g[0].view, 0x10, 0x100008, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, data + 8);
	r = xl(f.v, 0x300, 0x101000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	assert_int_equal(r.out, data + 0x1000);
	/* The other guest's view does not have the device. */
	r = xl(f.g[1].view, 0x10, 0x100008, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));

	/* Unmap: the guest's INVALIDATE_IOMMU_PAGES runs in hardware on the mapped domain. */
	assert_int_equal(vg_amdvi_unmap(f.g[0].drv, 5, 0x100000, 0x1000), 0);
	assert_int_equal(viommu_amdvi_hwv_get_stats(f.v, f.g[0].gid, &st), 0);
	assert_int_equal(st.cmd_errors, 0);
	r = xl(f.g[0].view, 0x10, 0x100008, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	assert_true(r.fault.flags & VIOMMU_FAULT_F_RECORDED);
	/* Guest stage: in the guest's log, with the guest's DeviceID and DomainID. */
	assert_int_equal(drain(f.g[0].drv, &gl), 1);
	assert_int_equal(ev_code(gl.ev[0]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	assert_int_equal(gl.ev[0][0] & 0xffff, 0x10);
	assert_int_equal(gl.ev[0][1] & 0xffff, 5);
	assert_int_equal(ev_addr(gl.ev[0]), 0x100008);
	assert_true(f.g[0].irqs > 0);
	assert_int_equal(drain(f.host, &hl), 0);

	/* Host stage: the guest maps a GPA outside its memory (the other guest's). */
	assert_int_equal(vg_amdvi_map(f.g[0].drv, 5, 0x200000, win_base[1] + GUEST_DATA, 0x1000,
				      VIOMMU_ACC_RW),
			 0);
	r = xl(f.g[0].view, 0x10, 0x200000, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	assert_int_equal(drain(f.g[0].drv, &gl), 0);
	assert_int_equal(drain(f.host, &hl), 1);
	assert_int_equal(ev_code(hl.ev[0]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	assert_int_equal(hl.ev[0][0] & 0xffff, 0x300); /* the host's DeviceID */

	/* A GCR3 table in the other guest's memory: never read, a host-stage fault. */
	{
		uint64_t gcr3 = win_base[1] + GUEST_DATA, d[4] = { 0 };

		test_poke64(f.fm, gcr3, (win_base[1] + GUEST_DATA + 0x1000) | 1);
		d[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		       VIOMMU_AMDVI_DTE0_IW | VIOMMU_AMDVI_DTE0_GV | VIOMMU_AMDVI_DTE0_GIOV |
		       ((gcr3 >> 12) & 7) << VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT;
		d[1] = 5 | ((gcr3 >> 15) & 0xffff) << VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT |
		       ((gcr3 >> 31) & 0x1fffff) << VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT;
		assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x10, d), 0);
		r = xl(f.g[0].view, 0x10, 0x100008, VIOMMU_ACC_READ);
		assert_false(viommu_xlate_ok(&r));
		assert_int_equal(drain(f.g[0].drv, &gl), 0);
		assert_int_equal(drain(f.host, &hl), 1);
		assert_int_equal(hl.ev[0][0] & 0xffff, 0x300);
	}
	assert_int_equal(viommu_amdvi_hwv_get_stats(f.v, f.g[0].gid, &st), 0);
	assert_true(st.trapped_dte >= 1);
	assert_true(st.direct_events >= 1);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Host commands, hardware errors, hostile host-driver input                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_host_commands(void **state)
{
	struct evlog gl, hl;
	struct fx f;
	uint64_t head = 0, v = 0;
	uint32_t c[4];

	(void)state;
	fx_init(&f);
	guest_driver_up(&f, 0);
	guest_driver_up(&f, 1);
	/* INSERT_GUEST_EVENT: the host leaves an entry (guest IDs) at its log head. */
	assert_int_equal(viommu_mmio_read(f.v, VIOMMU_AMDVI_MMIO_EVENT_LOG_HEAD, 8, &head), 0);
	poke64(&f, vg_amdvi_evt_base(f.host) + head,
	       0x0011ull | (uint64_t)VIOMMU_AMDVI_EV_CODE_SET(VIOMMU_AMDVI_EV_IO_PAGE_FAULT) << 32);
	poke64(&f, vg_amdvi_evt_base(f.host) + head + 8, 0xabc000);
	c[0] = 0;
	c[1] = f.g[1].gid |
	       (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_INSERT_GUEST_EVENT);
	c[2] = c[3] = 0;
	assert_int_equal(vg_amdvi_submit(f.host, c), 0);
	assert_int_equal(vg_amdvi_completion_wait(f.host), 0);
	assert_int_equal(drain(f.g[1].drv, &gl), 1);
	assert_int_equal(ev_code(gl.ev[0]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
	assert_int_equal(gl.ev[0][0], 0x11);
	assert_int_equal(ev_addr(gl.ev[0]), 0xabc000);
	assert_int_equal(drain(f.g[0].drv, &gl), 0);

	/* RESET_VMMIO with VCmd: the guest's command pointers go to 0. */
	assert_int_equal(
		viommu_amdvi_vf_mmio_read(f.v, f.g[0].gid, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, 8, &v), 0);
	assert_int_not_equal(v, 0);
	c[0] = f.g[0].gid | (uint32_t)VIOMMU_AMDVI_RVM0_VCMD;
	c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_RESET_VMMIO);
	assert_int_equal(vg_amdvi_submit(f.host, c), 0);
	assert_int_equal(vg_amdvi_completion_wait(f.host), 0);
	assert_int_equal(
		viommu_amdvi_vf_mmio_read(f.v, f.g[0].gid, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, 8, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(viommu_amdvi_vf_mmio_read(f.v, f.g[0].gid, VIOMMU_AMDVI_VF_STATUS, 8, &v),
			 0);
	assert_true(v & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
	assert_true(v & VIOMMU_AMDVI_STATUS_EVENT_LOG_RUN);
	/* The other guest's pointers are untouched. */
	assert_int_equal(
		viommu_amdvi_vf_mmio_read(f.v, f.g[1].gid, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, 8, &v), 0);
	assert_int_not_equal(v, 0);
	/* A guest ID nobody has is an illegal command for the host. */
	c[0] = 0x3f;
	assert_int_equal(vg_amdvi_submit(f.host, c), 0);
	assert_int_equal(vg_amdvi_completion_wait(f.host), VIOMMU_EIO);
	assert_int_equal(drain(f.host, &hl), 1);
	assert_int_equal(ev_code(hl.ev[0]), VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR);
	fx_fini(&f);
}

static void test_hw_error(void **state)
{
	struct viommu_amdvi_hwv_stats st;
	struct evlog hl;
	struct fx f;
	uint64_t a, v = 0;

	(void)state;
	fx_init(&f);
	guest_driver_up(&f, 0);
	/* The IOMMU's own DTE now points its private space outside memory. */
	a = vg_amdvi_dte_addr(f.host, IOMMU_DEVID);
	poke64(&f, a, (peek64(&f, a) & ~VIOMMU_AMDVI_DTE0_PT_ROOT_MASK) | (1ull << 40));
	assert_int_equal(vg_amdvi_inv_devtab(f.host, IOMMU_DEVID), 0);
	/* Its own translations are cached as any device's: the private domain too. */
	assert_int_equal(vg_amdvi_inv_pages(f.host, 0xffff, 0, 0), 0);
	assert_int_equal(viommu_amdvi_vf_mmio_write(f.v, f.g[0].gid, VIOMMU_AMDVI_VF_CMD_BUF_TAIL,
						    8, 0x10),
			 0);
	assert_true(drain(f.host, &hl) >= 1);
	assert_int_equal(ev_code(hl.ev[0]), VIOMMU_AMDVI_EV_VIOMMU_HARDWARE_ERROR);
	assert_int_equal(hl.ev[0][0] & 0xffff, f.g[0].gid);
	assert_int_equal(viommu_mmio_read(f.v, VIOMMU_AMDVI_MMIO_VIOMMU_STATUS, 8, &v), 0);
	assert_true(v & VIOMMU_AMDVI_VIOMMU_STATUS_HW_ERR);
	assert_int_equal(viommu_amdvi_hwv_get_stats(f.v, f.g[0].gid, &st), 0);
	assert_true(st.hw_errors >= 1);
	/* Reads of the page read zero, never crash. */
	assert_int_equal(viommu_amdvi_vf_mmio_read(f.v, f.g[0].gid, 0, 8, &v), 0);
	assert_int_equal(v, 0);
	fx_fini(&f);
}

static int no_memory(void *opaque, uint64_t gpa, uint64_t len, uint64_t *spa)
{
	(void)opaque;
	(void)gpa;
	(void)len;
	(void)spa;
	return VIOMMU_EFAULT;
}

static void test_hostile_host_calls(void **state)
{
	struct fx f;
	uint64_t d[4] = { 0 };
	uint32_t gid = 0;

	(void)state;
	fx_init(&f);
	guest_driver_up(&f, 0);
	/* Devices: the IOMMU itself, a nest parent, another guest's. */
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[0].gid, IOMMU_DEVID, 0x10),
			 VIOMMU_EBUSY);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[0].gid, trans_dev[1], 0x10),
			 VIOMMU_EBUSY);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[1].gid, 0x400, 0x10), 0);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[0].gid, 0x400, 0x10), VIOMMU_EBUSY);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[0].gid, 0x300, 0x10), 0);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[0].gid, 0x301, 0x10), VIOMMU_EEXIST);
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, 0x3f, 0x302, 0x10), VIOMMU_EINVAL);
	/* Guest DTEs naming host structures or reserved bits. */
	d[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_MODE_SET(3) |
	       HOST_POOL;
	assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x10, d), VIOMMU_EPERM);
	d[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV;
	d[3] = VIOMMU_AMDVI_DTE3_VIMU_EN | VIOMMU_AMDVI_DTE3_GUEST_ID_SET(f.g[1].gid);
	assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x10, d), VIOMMU_EPERM);
	d[3] = 0;
	d[1] = VIOMMU_AMDVI_DTE1_RSVD_42;
	assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x10, d), VIOMMU_EINVAL);
	d[1] = 0;
	assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x77, d), VIOMMU_ENOENT);
	/* A guest identity DTE is its own memory, not the host's. */
	d[0] |= VIOMMU_AMDVI_DTE0_IR | VIOMMU_AMDVI_DTE0_IW;
	assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[0].gid, 0x10, d), 0);
	{
		struct viommu_xlate_result r =
			xl(f.v, 0x300, win_base[0] + 0x5000, VIOMMU_ACC_READ);

		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, win_base[0] + 0x5000);
		r = xl(f.v, 0x300, HOST_CANARY, VIOMMU_ACC_READ);
		assert_false(viommu_xlate_ok(&r));
		r = xl(f.v, 0x300, win_base[1] + GUEST_CANARY, VIOMMU_ACC_READ);
		assert_false(viommu_xlate_ok(&r));
	}
	/* Queues outside guest memory are refused whole. */
	assert_int_equal(viommu_amdvi_hwv_set_queue(f.v, f.g[0].gid, VIOMMU_AMDVI_HWV_CMD,
						    win_base[0] + WIN_SIZE - 0x1000, 9),
			 VIOMMU_EFAULT);
	assert_int_equal(viommu_amdvi_hwv_set_queue(f.v, f.g[0].gid, VIOMMU_AMDVI_HWV_CMD,
						    win_base[0], 7),
			 VIOMMU_EINVAL);
	/* Every Guest ID taken: VIOMMU_ENOSPC; destroy frees one. */
	{
		struct viommu_amdvi_hwv_guest_ops ops = { .gpa_to_spa = no_memory };
		struct viommu_amdvi_hwv_alloc a = { .trans_devid = 0x500, .ops = &ops };
		uint32_t last = 0;
		int n = 0;

		assert_int_equal(viommu_amdvi_hwv_create(f.v, &a, &gid), VIOMMU_EINVAL);
		assert_int_equal(vg_amdvi_attach(f.host, 0x500, 50, false), 0);
		while (viommu_amdvi_hwv_create(f.v, &a, &gid) == 0) {
			last = gid;
			n++;
		}
		assert_int_equal(n, VIOMMU_AMDVI_HWV_GUESTS - 3);
		assert_int_equal(viommu_amdvi_hwv_create(f.v, &a, &gid), VIOMMU_ENOSPC);
		assert_int_equal(viommu_amdvi_hwv_destroy(f.v, last), 0);
		assert_int_equal(viommu_amdvi_hwv_destroy(f.v, last), VIOMMU_EINVAL);
		assert_int_equal(viommu_amdvi_hwv_create(f.v, &a, &gid), 0);
		assert_int_equal(gid, last);
		/* A queue of a guest without memory: nothing pinned. */
		assert_int_equal(viommu_amdvi_hwv_set_queue(f.v, gid, VIOMMU_AMDVI_HWV_EVT,
							    0x100000, 8),
				 VIOMMU_EFAULT);
	}
	fx_fini(&f);
}

/* ------------------------------------------------------------------------------------------ */
/* Two guests, randomized and hostile commands, against a reference                            */
/* ------------------------------------------------------------------------------------------ */

#define RGDEV 4 /* guest DeviceIDs 0x10..0x13 per guest; two of them mapped */
#define RCMD_LEN 8
#define REVT_LEN 8

struct rguest {
	uint64_t cmd, evt, devtab, gcr3; /* guest-physical (== host) */
	uint32_t tail;			 /* commands written (index) */
	uint32_t ehead;			 /* events consumed (index) */
	bool mapped[RGDEV];
	uint16_t host[RGDEV];
	uint16_t gdom[RGDEV]; /* guest DomainID of each mapped device's DTE */
	bool gv[RGDEV];	      /* DTE with GV and an empty GCR3 table: guest-stage faults */
	uint64_t canary;
};

static struct test_rng rng;

static uint64_t rnd(void)
{
	return test_rand(&rng);
}

static void gw(struct fx *f, int i, uint64_t off, uint64_t v)
{
	assert_int_equal(viommu_amdvi_hwv_ctrl_write(f->v, f->g[i].gid, off, 8, v), 0);
}

static uint64_t vf(struct fx *f, int i, uint64_t off)
{
	uint64_t v = 0;

	assert_int_equal(viommu_amdvi_vf_mmio_read(f->v, f->g[i].gid, off, 8, &v), 0);
	return v;
}

static void vfw(struct fx *f, int i, uint64_t off, uint64_t v)
{
	assert_int_equal(viommu_amdvi_vf_mmio_write(f->v, f->g[i].gid, off, 8, v), 0);
}

static const uint64_t ctl_on = VIOMMU_AMDVI_CTRL_IOMMU_EN | VIOMMU_AMDVI_CTRL_CMD_BUF_EN |
			       VIOMMU_AMDVI_CTRL_EVENT_LOG_EN | VIOMMU_AMDVI_CTRL_EVENT_INT_EN;

/* A guest programmed by hand: its structures, two of its four DeviceIDs assigned. */
static void rguest_init(struct fx *f, int i, struct rguest *g)
{
	uint64_t b = win_base[i];

	memset(g, 0, sizeof(*g));
	g->devtab = b + 0x100000;
	g->cmd = b + 0x200000;
	g->evt = b + 0x300000;
	g->gcr3 = b + 0x400000; /* zeroed: no GCR3 entry is valid */
	g->canary = b + GUEST_CANARY;
	gw(f, i, VIOMMU_AMDVI_MMIO_DEV_TABLE_BASE, g->devtab);
	gw(f, i, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE, g->cmd | VIOMMU_AMDVI_BUF_LEN_SET(RCMD_LEN));
	gw(f, i, VIOMMU_AMDVI_MMIO_EVENT_LOG_BASE, g->evt | VIOMMU_AMDVI_BUF_LEN_SET(REVT_LEN));
	gw(f, i, VIOMMU_AMDVI_MMIO_CONTROL, ctl_on);
	for (int k = 0; k < RGDEV; k += 2) {
		uint64_t d[4] = { 0 };

		g->mapped[k] = true;
		g->host[k] = (uint16_t)(0x300 + 0x100 * i + k);
		g->gdom[k] = (uint16_t)(1 + k + i); /* overlapping DomainIDs between guests */
		g->gv[k] = (rnd() & 1) != 0;
		assert_int_equal(
			viommu_amdvi_hwv_add_device(f->v, f->g[i].gid, g->host[k], 0x10 + k), 0);
		d[0] = VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV | VIOMMU_AMDVI_DTE0_IR |
		       VIOMMU_AMDVI_DTE0_IW;
		if (g->gv[k]) {
			d[0] |= VIOMMU_AMDVI_DTE0_GV | VIOMMU_AMDVI_DTE0_GIOV |
				((g->gcr3 >> 12) & 7) << VIOMMU_AMDVI_DTE0_GCR3_A_SHIFT;
			d[1] = ((g->gcr3 >> 15) & 0xffff) << VIOMMU_AMDVI_DTE1_GCR3_B_SHIFT |
			       ((g->gcr3 >> 31) & 0x1fffff) << VIOMMU_AMDVI_DTE1_GCR3_C_SHIFT;
		}
		d[1] |= g->gdom[k];
		assert_int_equal(viommu_amdvi_hwv_set_dte(f->v, f->g[i].gid, 0x10 + k, d), 0);
	}
}

/* Consume the guest's new events into @out (at most 8). */
static int revents(struct fx *f, int i, struct rguest *g, uint32_t out[8][4])
{
	uint32_t tail = (uint32_t)(vf(f, i, VIOMMU_AMDVI_VF_EVENT_LOG_TAIL) >> 4), n = 0;

	while (g->ehead != tail && n < 8) {
		const uint32_t *p = viommu_flatmem_ptr(f->fm, g->evt + g->ehead * 16ull, 16);

		memcpy(out[n++], p, 16);
		g->ehead = (g->ehead + 1) % (1u << REVT_LEN);
	}
	vfw(f, i, VIOMMU_AMDVI_VF_EVENT_LOG_HEAD, (uint64_t)g->ehead << 4);
	return (int)n;
}

/* Restart a stopped command buffer past the failed command, as a recovering driver would. */
static void rrestart(struct fx *f, int i, struct rguest *g)
{
	gw(f, i, VIOMMU_AMDVI_MMIO_CONTROL, ctl_on & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	vfw(f, i, VIOMMU_AMDVI_VF_CMD_BUF_HEAD, (uint64_t)g->tail << 4);
	gw(f, i, VIOMMU_AMDVI_MMIO_CONTROL, ctl_on);
}

enum rexpect { R_OK, R_ILLEGAL, R_STORE_FAIL };

static void rstep_cmd(struct fx *f, int i, struct rguest *g, struct rguest *other)
{
	uint32_t c[4] = { 0 }, ev[8][4];
	uint64_t slot = g->cmd + (uint64_t)g->tail * 16, store = 0, val = rnd();
	enum rexpect want = R_OK;
	uint32_t k = (uint32_t)(rnd() % 4), pick = (uint32_t)(rnd() % 10);
	int n;

	switch (pick) {
	case 0: /* COMPLETION_WAIT, store to own, other guest's, host or no memory */
	case 1: {
		uint64_t where[4] = { win_base[i] + GUEST_DATA + (rnd() % 512) * 8, other->canary,
				      HOST_CANARY, MEM_SIZE + 0x1000 };
		uint32_t w = (uint32_t)(rnd() % 4);

		store = where[w];
		c[0] = (uint32_t)(store & VIOMMU_AMDVI_CW0_ADDR_LO_MASK) | VIOMMU_AMDVI_CW0_S;
		c[1] = (uint32_t)(store >> 32) |
		       (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_COMPLETION_WAIT);
		c[2] = (uint32_t)val;
		c[3] = (uint32_t)(val >> 32);
		want = w == 0 ? R_OK : R_STORE_FAIL;
		break;
	}
	case 2: /* INVALIDATE_DEVTAB_ENTRY: own mapped, own unmapped, the other's host ID */
	case 3: {
		uint32_t dev = (rnd() & 1) ? 0x10 + k : other->host[0];

		c[0] = dev;
		c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
			VIOMMU_AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY);
		want = dev >= 0x10 && dev < 0x10 + RGDEV && g->mapped[dev - 0x10] ? R_OK :
										    R_ILLEGAL;
		break;
	}
	case 4: /* INVALIDATE_IOMMU_PAGES: own DomainID, unmapped one, a host DomainID */
	case 5: {
		uint32_t dom = (uint32_t)(rnd() % 3) == 0 ? 0xfffe - (uint32_t)(rnd() % 4) :
							    (uint32_t)(rnd() % 6);
		bool known = false;

		for (int d = 0; d < RGDEV; d++)
			known |= g->mapped[d] && g->gdom[d] == dom;
		c[1] = dom | (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
				     VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_PAGES);
		c[2] = (uint32_t)VIOMMU_AMDVI_IIP2_S | 0xfffff000u;
		c[3] = 0x7fffffff;
		want = known ? R_OK : R_ILLEGAL;
		break;
	}
	case 6: /* the host's commands */
		c[0] = f->g[1 - i].gid;
		c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
			(rnd() & 1) ? VIOMMU_AMDVI_CMD_RESET_VMMIO :
				      VIOMMU_AMDVI_CMD_INSERT_GUEST_EVENT);
		want = R_ILLEGAL;
		break;
	case 7: /* reserved opcodes and bits */
		c[0] = (uint32_t)rnd();
		c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(0xb + rnd() % 5) | (uint32_t)rnd();
		c[1] = (c[1] & 0x0fffffffu) |
		       (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(0xb + rnd() % 5);
		want = R_ILLEGAL;
		break;
	case 8: /* INVALIDATE_IOMMU_ALL */
		c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_INVALIDATE_IOMMU_ALL);
		break;
	default: /* INVALIDATE_IOTLB_PAGES with a DeviceID of the other guest's numbering */
		c[0] = 0x10 + k;
		c[1] = (uint32_t)VIOMMU_AMDVI_CMD_OPCODE_SET(
			VIOMMU_AMDVI_CMD_INVALIDATE_IOTLB_PAGES);
		want = g->mapped[k] ? R_OK : R_ILLEGAL;
		break;
	}
	memcpy(viommu_flatmem_ptr(f->fm, slot, 16), c, 16);
	g->tail = (g->tail + 1) % (1u << RCMD_LEN);
	vfw(f, i, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, (uint64_t)g->tail << 4);
	n = revents(f, i, g, ev);
	if (want == R_OK) {
		assert_int_equal(n, 0);
		assert_int_equal(vf(f, i, VIOMMU_AMDVI_VF_CMD_BUF_HEAD) >> 4, g->tail);
		if (store)
			assert_int_equal(peek64(f, store), val);
		return;
	}
	/* Refused: one event in the guest's own log, the head left at the command. */
	assert_int_equal(n, 1);
	assert_int_equal(vf(f, i, VIOMMU_AMDVI_VF_CMD_BUF_HEAD), slot - g->cmd);
	assert_false(vf(f, i, VIOMMU_AMDVI_VF_STATUS) & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
	if (want == R_STORE_FAIL) {
		assert_int_equal(ev_code(ev[0]), VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR);
		assert_int_equal(ev_addr(ev[0]), store);
	} else {
		assert_int_equal(ev_code(ev[0]), VIOMMU_AMDVI_EV_ILLEGAL_COMMAND_ERROR);
		assert_int_equal(ev_addr(ev[0]), slot);
	}
	rrestart(f, i, g);
}

/* DMA of a device: only its own guest's memory, faults in its owner's log. */
static void rstep_dma(struct fx *f, int i, struct rguest *g)
{
	uint32_t k = (uint32_t)(rnd() % RGDEV), ev[8][4];
	uint64_t targets[4] = { win_base[i] + (rnd() % (WIN_SIZE / 8)) * 8,
				win_base[1 - i] + (rnd() % (WIN_SIZE / 8)) * 8, HOST_CANARY,
				rnd() & 0xffffffffff8ull };
	uint64_t iova = targets[rnd() % 4];
	struct viommu_xlate_result r = xl(f->g[i].view, 0x10 + k, iova, VIOMMU_ACC_WRITE);
	bool inside = iova >= win_base[i] && iova < win_base[i] + WIN_SIZE;
	int n = revents(f, i, g, ev);

	if (!g->mapped[k]) {
		assert_false(viommu_xlate_ok(&r));
		assert_int_equal(n, 0);
		return;
	}
	if (g->gv[k]) {
		/* Guest stage: no valid GCR3 entry; the guest's log, its DeviceID and DomainID. */
		assert_false(viommu_xlate_ok(&r));
		assert_int_equal(n, 1);
		assert_int_equal(ev_code(ev[0]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
		assert_int_equal(ev[0][0] & 0xffff, 0x10 + k);
		assert_int_equal(ev[0][1] & 0xffff, g->gdom[k]);
		assert_int_equal(ev_addr(ev[0]), iova);
		return;
	}
	/* Identity over the guest's memory: inside passes to itself, anything else is the host's. */
	assert_int_equal(n, 0);
	if (inside) {
		assert_true(viommu_xlate_ok(&r));
		assert_int_equal(r.out, iova);
	} else {
		assert_false(viommu_xlate_ok(&r));
	}
}

static void test_two_guests_random(void **state)
{
	struct rguest g[2];
	struct viommu_amdvi_hwv_stats st[2];
	struct evlog hl;
	struct fx f;
	uint64_t seed = test_seed(0x2545f4914f6cdd1dull);

	(void)state;
	for (uint64_t s = 0; s < 3; s++) {
		rng.s = seed + s;
		fx_init(&f);
		rguest_init(&f, 0, &g[0]);
		rguest_init(&f, 1, &g[1]);
		for (int step = 0; step < 1500; step++) {
			int i = (int)(rnd() & 1);

			if (rnd() % 3)
				rstep_cmd(&f, i, &g[i], &g[1 - i]);
			else
				rstep_dma(&f, i, &g[i]);
			/* Nothing outside a guest's own memory changed. */
			assert_int_equal(peek64(&f, HOST_CANARY), CANARY);
			assert_int_equal(peek64(&f, g[0].canary), CANARY);
			assert_int_equal(peek64(&f, g[1].canary), CANARY);
		}
		/* Host's log: only the host-stage faults of identity devices, never a guest's. */
		drain(f.host, &hl);
		for (int e = 0; e < hl.n && e < 64; e++) {
			uint32_t dev = hl.ev[e][0] & 0xffff;

			assert_int_equal(ev_code(hl.ev[e]), VIOMMU_AMDVI_EV_IO_PAGE_FAULT);
			assert_true(dev == g[0].host[0] || dev == g[0].host[2] ||
				    dev == g[1].host[0] || dev == g[1].host[2]);
		}
		for (int i = 0; i < 2; i++) {
			assert_int_equal(viommu_amdvi_hwv_get_stats(f.v, f.g[i].gid, &st[i]), 0);
			assert_true(st[i].direct_cmds > 100);
			assert_true(st[i].cmd_errors > 10);
			assert_true(st[i].unmapped_ids > 0);
			assert_int_equal(st[i].hw_errors, 0);
		}
		fx_fini(&f);
	}
}

/* A queue the host cannot pin (outside guest memory): the guest's commands fail in its own log. */
static void test_queue_outside_memory(void **state)
{
	struct rguest g;
	struct fx f;
	uint32_t ev[8][4];

	(void)state;
	fx_init(&f);
	rguest_init(&f, 0, &g);
	gw(&f, 0, VIOMMU_AMDVI_MMIO_CONTROL, ctl_on & ~VIOMMU_AMDVI_CTRL_CMD_BUF_EN);
	gw(&f, 0, VIOMMU_AMDVI_MMIO_CMD_BUF_BASE,
	   (win_base[1] + 0x200000) | VIOMMU_AMDVI_BUF_LEN_SET(RCMD_LEN));
	gw(&f, 0, VIOMMU_AMDVI_MMIO_CONTROL, ctl_on);
	/* The other guest's memory there holds what looks like a command: never fetched. */
	test_poke64(f.fm, win_base[1] + 0x200000,
		    (uint64_t)VIOMMU_AMDVI_CMD_OPCODE_SET(VIOMMU_AMDVI_CMD_COMPLETION_WAIT) << 32 |
			    (uint32_t)((win_base[1] + GUEST_CANARY) | VIOMMU_AMDVI_CW0_S));
	vfw(&f, 0, VIOMMU_AMDVI_VF_CMD_BUF_TAIL, 0x10);
	assert_int_equal(revents(&f, 0, &g, ev), 1);
	assert_int_equal(ev_code(ev[0]), VIOMMU_AMDVI_EV_COMMAND_HARDWARE_ERROR);
	assert_false(vf(&f, 0, VIOMMU_AMDVI_VF_STATUS) & VIOMMU_AMDVI_STATUS_CMD_BUF_RUN);
	assert_int_equal(test_peek64(f.fm, win_base[1] + GUEST_CANARY), CANARY);
	fx_fini(&f);
}

/* Destroy: the guest's devices are blocked, its Guest ID's pages read zero, the other runs on. */
static void test_destroy(void **state)
{
	struct viommu_xlate_result r;
	struct rguest g[2];
	struct fx f;
	uint64_t v = 1;

	(void)state;
	fx_init(&f);
	rguest_init(&f, 0, &g[0]);
	rguest_init(&f, 1, &g[1]);
	/* Identity DTEs for both guests' first device. */
	for (int i = 0; i < 2; i++) {
		uint64_t d[4] = { VIOMMU_AMDVI_DTE0_V | VIOMMU_AMDVI_DTE0_TV |
					  VIOMMU_AMDVI_DTE0_IR | VIOMMU_AMDVI_DTE0_IW,
				  1, 0, 0 };

		assert_int_equal(viommu_amdvi_hwv_set_dte(f.v, f.g[i].gid, 0x10, d), 0);
		r = xl(f.v, g[i].host[0], win_base[i] + 0x1000, VIOMMU_ACC_READ);
		assert_true(viommu_xlate_ok(&r));
	}
	viommu_destroy(f.g[0].view);
	f.g[0].view = NULL;
	vg_amdvi_hwv_guest_destroy(f.host, f.v, f.g[0].hg);
	f.g[0].hg = NULL;
	r = xl(f.v, g[0].host[0], win_base[0] + 0x1000, VIOMMU_ACC_READ);
	assert_false(viommu_xlate_ok(&r));
	assert_int_equal(viommu_amdvi_vf_mmio_read(f.v, f.g[0].gid, VIOMMU_AMDVI_VF_STATUS, 8, &v),
			 0);
	assert_int_equal(v, 0);
	r = xl(f.v, g[1].host[0], win_base[1] + 0x1000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&r));
	/* Its host devices are free for another guest. */
	assert_int_equal(viommu_amdvi_hwv_add_device(f.v, f.g[1].gid, g[0].host[0], 0x30), 0);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_guest_driver_nested),
		cmocka_unit_test(test_host_commands),
		cmocka_unit_test(test_hw_error),
		cmocka_unit_test(test_hostile_host_calls),
		cmocka_unit_test(test_two_guests_random),
		cmocka_unit_test(test_queue_outside_memory),
		cmocka_unit_test(test_destroy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
