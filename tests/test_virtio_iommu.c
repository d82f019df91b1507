// SPDX-License-Identifier: MIT
/*
 * virtio-iommu model: configuration, negotiation, every request and status, the specification's
 * UNMAP examples, PROBE, bypass, translation faults on the event queue, notifications, malformed
 * chains written by hand, the guest driver's strategies, and a randomized run against a reference.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/spec/virtio_iommu.h>
#include <viommu/virtio_iommu.h>

#include "models/virtio_iommu/vio_internal.h"
#include "virtio_iommu_driver.h"

#define MEM_SIZE (16u << 20)
#define ARENA 0x800000ull
#define ARENA_SIZE (4u << 20)
#define MSI_START 0xfee00000ull
#define MSI_END 0xfeefffffull
#define RESV_START 0x7000000ull
#define RESV_END 0x70fffffull
#define PG 0x1000ull

#define MAX_EVENTS 4096

struct fixture {
	struct viommu_flatmem *fm;
	struct viommu *v;
	struct vg_vio *drv;
	struct viommu_notifier *nt;
	struct viommu_event ev[MAX_EVENTS];
	unsigned int nev;
	unsigned int irqs[3];
};

static void record(void *opaque, const struct viommu_event *ev)
{
	struct fixture *f = opaque;

	if (f->nev < MAX_EVENTS)
		f->ev[f->nev++] = *ev;
}

/* A consumer that, on UNMAP, checks the range is gone: a DMA that faults into the event queue. */
static void probe_on_unmap(void *opaque, const struct viommu_event *ev)
{
	struct fixture *f = opaque;
	struct viommu_xlate_req req = { .sid = ev->sid, .iova = ev->iova, .len = 1, .access = 1 };
	struct viommu_xlate_result res;

	record(f, ev);
	if (ev->type == VIOMMU_EV_UNMAP) {
		assert_int_equal(viommu_translate(f->v, &req, &res), 0);
		assert_false(viommu_xlate_ok(&res));
	}
}

static void on_irq(void *opaque, unsigned int vector)
{
	struct fixture *f = opaque;

	f->irqs[vector]++;
}

static struct fixture *make(struct viommu_virtio_iommu_config *cfg,
			    const struct vg_vio_config *dcfg)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct viommu_virtio_iommu_config dflt = { 0 };
	struct vg_vio_config ddflt = { .arena = ARENA, .arena_size = ARENA_SIZE };

	assert_non_null(f);
	if (!cfg)
		cfg = &dflt;
	if (!cfg->interrupt) {
		cfg->interrupt = on_irq;
		cfg->interrupt_opaque = f;
	}
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	assert_int_equal(viommu_virtio_iommu_create(cfg, viommu_flatmem_ops(), f->fm, &f->v), 0);
	for (uint32_t ep = 1; ep <= 3; ep++)
		assert_int_equal(viommu_virtio_iommu_add_endpoint(f->v, ep), 0);
	assert_int_equal(viommu_virtio_iommu_add_resv_region(f->v, 1, VIOMMU_VIRTIO_IOMMU_RESV_MSI,
							     MSI_START, MSI_END),
			 0);
	assert_int_equal(viommu_virtio_iommu_add_resv_region(
				 f->v, 2, VIOMMU_VIRTIO_IOMMU_RESV_RESERVED, RESV_START, RESV_END),
			 0);
	assert_int_equal(viommu_notifier_add(f->v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     record, f, &f->nt),
			 0);
	if (dcfg != (void *)-1)
		assert_int_equal(vg_vio_create(f->v, f->fm, dcfg ? dcfg : &ddflt, &f->drv), 0);
	return f;
}

static void destroy(struct fixture *f)
{
	vg_vio_destroy(f->drv);
	viommu_destroy(f->v);
	viommu_flatmem_destroy(f->fm);
	free(f);
}

static struct viommu_xlate_result xlate(struct fixture *f, uint32_t ep, uint64_t iova, uint64_t len,
					uint32_t access)
{
	struct viommu_xlate_req req = { .sid = ep, .iova = iova, .len = len, .access = access };
	struct viommu_xlate_result res;

	assert_int_equal(viommu_translate(f->v, &req, &res), 0);
	return res;
}

static bool xok(struct fixture *f, uint32_t ep, uint64_t iova, uint64_t len, uint32_t access)
{
	struct viommu_xlate_result res = xlate(f, ep, iova, len, access);

	return viommu_xlate_ok(&res);
}

static struct viommu_virtio_iommu_stats stats(struct fixture *f)
{
	struct viommu_virtio_iommu_stats st;

	assert_int_equal(viommu_virtio_iommu_get_stats(f->v, &st), 0);
	return st;
}

static uint8_t status_of(struct fixture *f)
{
	uint8_t s;

	assert_int_equal(viommu_virtio_iommu_get_status(f->v, &s), 0);
	return s;
}

/* ---- configuration and negotiation ------------------------------------------------------- */

/* config_init writes out the documented defaults, and creates the device `{ 0 }` creates. */
static void test_config_init(void **state)
{
	/* Every feature of section 5.13.3 the model supports but the superseded F_BYPASS. */
	const uint64_t want_features =
		VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE | VIOMMU_VIRTIO_IOMMU_F_DOMAIN_RANGE |
		VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP | VIOMMU_VIRTIO_IOMMU_F_PROBE |
		VIOMMU_VIRTIO_IOMMU_F_MMIO | VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG |
		VIOMMU_VIRTIO_F_INDIRECT_DESC | VIOMMU_VIRTIO_F_EVENT_IDX |
		VIOMMU_VIRTIO_F_VERSION_1;
	struct viommu_virtio_iommu_config cfg, zero = { 0 };
	const struct viommu *cv[2];
	struct viommu_virtio_iommu_stats st;
	struct viommu_flatmem *fm;
	struct viommu *v[2];
	uint64_t feat[2], val[2];
	uint16_t qmax[2];

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	viommu_virtio_iommu_config_init(&cfg);
	viommu_virtio_iommu_config_init(NULL);
	assert_int_equal(cfg.page_size_mask, 0x1000ull | 0x200000ull | 0x40000000ull);
	assert_int_equal(cfg.input_start, 0);
	assert_int_equal(cfg.input_end, 0xffffffffffffull);
	assert_int_equal(cfg.domain_start, 0);
	assert_int_equal(cfg.domain_end, 0xffffffffu);
	assert_int_equal(cfg.probe_size, 512);
	assert_false(cfg.bypass);
	assert_int_equal(cfg.features, want_features);
	assert_int_equal(cfg.queue_size_max, 1024);
	assert_int_equal(cfg.max_domains, 4096);
	assert_int_equal(cfg.max_mappings, 1u << 20);
	assert_int_equal(cfg.phys_end, UINT64_MAX);
	assert_int_equal(cfg.irq_line, 0);
	assert_null(cfg.interrupt);
	assert_null(cfg.interrupt_opaque);

	assert_int_equal(viommu_flatmem_create(0, 1 << 20, &fm), 0);
	assert_int_equal(viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), fm, &v[0]), 0);
	assert_int_equal(viommu_virtio_iommu_create(&zero, viommu_flatmem_ops(), fm, &v[1]), 0);
	/* The calls that only read take a const instance. */
	cv[0] = v[0];
	cv[1] = v[1];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(viommu_virtio_iommu_get_device_features(cv[i], &feat[i]), 0);
		assert_int_equal(viommu_virtio_iommu_queue_max_size(cv[i], 0, &qmax[i]), 0);
	}
	assert_int_equal(feat[0], want_features);
	assert_int_equal(feat[1], feat[0]);
	assert_int_equal(qmax[0], 1024);
	assert_int_equal(qmax[1], qmax[0]);
	/* The whole configuration space, 32 bits at a time. */
	for (uint32_t off = 0; off < VIOMMU_VIRTIO_IOMMU_CONFIG_SIZE; off += 4) {
		for (int i = 0; i < 2; i++)
			assert_int_equal(viommu_virtio_iommu_config_read(cv[i], off, 4, &val[i]),
					 0);
		assert_int_equal(val[0], val[1]);
	}
	assert_int_equal(viommu_virtio_iommu_get_stats(cv[0], &st), 0);
	assert_int_equal(st.domains, 0);
	assert_int_equal(viommu_virtio_iommu_get_stats(cv[1], NULL), VIOMMU_EINVAL);
	viommu_destroy(v[0]);
	viommu_destroy(v[1]);
	viommu_flatmem_destroy(fm);
}

static void test_config_space(void **state)
{
	struct viommu_virtio_iommu_config cfg = { .page_size_mask = 0x1000,
						  .input_start = 0x1000,
						  .input_end = 0xffffffffffull,
						  .domain_start = 1,
						  .domain_end = 100,
						  .probe_size = 256,
						  .bypass = true };
	struct fixture *f = make(&cfg, NULL);
	uint64_t v;

	(void)state;
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 0, 8, &v), 0);
	assert_int_equal(v, 0x1000);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 8, 8, &v), 0);
	assert_int_equal(v, 0x1000);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 16, 8, &v), 0);
	assert_int_equal(v, 0xffffffffffull);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 24, 4, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 28, 4, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 32, 4, &v), 0);
	assert_int_equal(v, 256);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 36, 1, &v), 0);
	assert_int_equal(v, 1);
	/* A 2-byte read across fields is little-endian bytes of the structure. */
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 1, 2, &v), 0);
	assert_int_equal(v, 0x10);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 37, 4, &v), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 0, 3, &v), VIOMMU_EINVAL);
	/* Read-only fields ignore writes; bypass takes bit 0 once BYPASS_CONFIG is negotiated. */
	assert_int_equal(viommu_virtio_iommu_config_write(f->v, 0, 8, 0), 0);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 0, 8, &v), 0);
	assert_int_equal(v, 0x1000);
	assert_int_equal(viommu_virtio_iommu_config_write(f->v, 36, 1, 0), 0);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 36, 1, &v), 0);
	assert_int_equal(v, 0);
	/* Domain range is enforced on ATTACH. */
	assert_int_equal(vg_vio_attach(f->drv, 101, 1, 0), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_int_equal(vg_vio_attach(f->drv, 0, 1, 0), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_int_equal(vg_vio_attach(f->drv, 100, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* Input range is enforced on MAP. */
	assert_int_equal(vg_vio_map(f->drv, 100, 0, PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_int_equal(vg_vio_map(f->drv, 100, PG, 2 * PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_OK);
	destroy(f);
}

static void test_negotiation(void **state)
{
	struct fixture *f = make(NULL, (void *)-1);
	struct viommu_virtio_queue q = {
		.size = 8, .desc = 0x1000, .avail = 0x2000, .used = 0x3000
	};
	struct viommu_virtio_iommu_config both = {
		.features = VIOMMU_VIRTIO_IOMMU_F_BYPASS | VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG
	};
	struct viommu *bad;
	uint64_t feat;
	uint16_t max;

	(void)state;
	assert_int_equal(viommu_virtio_iommu_create(&both, viommu_flatmem_ops(), f->fm, &bad),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_get_device_features(f->v, &feat), 0);
	assert_true(feat & VIOMMU_VIRTIO_F_VERSION_1);
	assert_true(feat & VIOMMU_VIRTIO_IOMMU_F_BYPASS_CONFIG);
	assert_false(feat & VIOMMU_VIRTIO_IOMMU_F_BYPASS);
	assert_int_equal(viommu_virtio_iommu_queue_max_size(f->v, 0, &max), 0);
	assert_int_equal(max, 1024);
	assert_int_equal(viommu_virtio_iommu_queue_max_size(f->v, 2, &max), VIOMMU_EINVAL);
	/* Queues wait for FEATURES_OK. */
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EPERM);
	/* Without VERSION_1, or with a feature not offered, FEATURES_OK does not stick. */
	viommu_virtio_iommu_set_status(f->v, 3);
	viommu_virtio_iommu_set_driver_features(f->v, VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP);
	viommu_virtio_iommu_set_status(f->v, 3 | VIOMMU_VIRTIO_S_FEATURES_OK);
	assert_false(status_of(f) & VIOMMU_VIRTIO_S_FEATURES_OK);
	viommu_virtio_iommu_set_driver_features(f->v, VIOMMU_VIRTIO_F_VERSION_1 | (1ull << 40));
	viommu_virtio_iommu_set_status(f->v, 3 | VIOMMU_VIRTIO_S_FEATURES_OK);
	assert_false(status_of(f) & VIOMMU_VIRTIO_S_FEATURES_OK);
	viommu_virtio_iommu_set_driver_features(f->v, VIOMMU_VIRTIO_F_VERSION_1 |
							      VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP);
	viommu_virtio_iommu_set_status(f->v, 3 | VIOMMU_VIRTIO_S_FEATURES_OK);
	assert_true(status_of(f) & VIOMMU_VIRTIO_S_FEATURES_OK);
	assert_int_equal(viommu_virtio_iommu_set_driver_features(f->v, 0), VIOMMU_EBUSY);
	/* Queue layout checks: power of two, alignment, maximum. */
	q.size = 6;
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EINVAL);
	q.size = 2048;
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EINVAL);
	q.size = 8;
	q.desc = 0x1008;
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EINVAL);
	q.desc = UINT64_MAX - 15;
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EINVAL);
	q.desc = 0x1000;
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), 0);
	assert_int_equal(viommu_virtio_iommu_queue_enable(f->v, 0, &q), VIOMMU_EBUSY);
	/* Model-specific calls refuse a NULL handle. */
	assert_int_equal(viommu_virtio_iommu_add_endpoint(NULL, 1), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_add_endpoint(f->v, 1), VIOMMU_EEXIST);
	assert_int_equal(viommu_virtio_iommu_add_resv_region(f->v, 9, 0, 0, 1), VIOMMU_ENOENT);
	assert_int_equal(viommu_virtio_iommu_add_resv_region(f->v, 1, 0, MSI_START, MSI_START),
			 VIOMMU_EEXIST);
	assert_int_equal(viommu_virtio_iommu_add_resv_region(f->v, 1, 7, 0, 1), VIOMMU_EINVAL);
	assert_string_equal(viommu_model_name(f->v), "virtio-iommu");
	/* Reset clears status and features. */
	assert_int_equal(viommu_virtio_iommu_set_status(f->v, 0), 0);
	assert_int_equal(status_of(f), 0);
	assert_int_equal(viommu_virtio_iommu_get_driver_features(f->v, &feat), 0);
	assert_int_equal(feat, 0);
	destroy(f);
}

/* Another model's instance: the virtio-iommu calls must refuse it. */
static int other_translate(struct viommu *v, const struct viommu_xlate_req *req,
			   struct viommu_xlate_result *res)
{
	(void)v;
	(void)req;
	(void)res;
	return 0;
}

static void other_destroy(struct viommu *v)
{
	vi_instance_fini(v);
}

static const struct viommu_model_ops other_ops = { .name = "other",
						   .translate = other_translate,
						   .destroy = other_destroy };

static void test_handle_type_checked(void **state)
{
	struct viommu_flatmem *fm;
	struct viommu other;
	struct viommu_virtio_iommu_stats st;
	uint64_t val;

	(void)state;
	assert_int_equal(viommu_flatmem_create(0, 4096, &fm), 0);
	assert_int_equal(vi_instance_init(&other, &other_ops, viommu_flatmem_ops(), fm), 0);
	assert_int_equal(viommu_virtio_iommu_add_endpoint(&other, 1), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_queue_notify(&other, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_config_read(&other, 0, 8, &val), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_get_stats(&other, &st), VIOMMU_EINVAL);
	assert_int_equal(viommu_virtio_iommu_create(NULL, viommu_flatmem_ops(), fm, NULL),
			 VIOMMU_EINVAL);
	viommu_destroy(&other);
	viommu_flatmem_destroy(fm);
}

/* ---- requests ---------------------------------------------------------------------------- */

/* 5.13.6.6: the seven UNMAP examples, each from a blank address space. */
static void test_unmap_examples(void **state)
{
	struct fixture *f = make(NULL, NULL);
	/* The examples use units; here one unit is one page, so [0, 4] is pages 0-4. */
#define U(x) ((uint64_t)(x)*PG)
#define MAP(a, b) vg_vio_map(f->drv, 1, U(a), U((b) + 1) - 1, U(a) + 0x100000, 3)
#define UNMAP(a, b) vg_vio_unmap(f->drv, 1, U(a), U((b) + 1) - 1)
#define MAPPED(a) xok(f, 1, U(a), 1, 1)
#define BLANK()                                                                                  \
	do {                                                                                     \
		assert_int_equal(vg_vio_unmap(f->drv, 1, 0, U(1000)), VIOMMU_VIRTIO_IOMMU_S_OK); \
		assert_int_equal(stats(f).mappings, 0);                                          \
	} while (0)

	(void)state;
	assert_int_equal(vg_vio_attach(f->drv, 1, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* (1) */
	assert_int_equal(UNMAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* (2) */
	assert_int_equal(MAP(0, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(MAPPED(0));
	BLANK();
	/* (3) */
	assert_int_equal(MAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(MAP(5, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(MAPPED(0));
	assert_false(MAPPED(5));
	BLANK();
	/* (4) */
	assert_int_equal(MAP(0, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_true(MAPPED(0));
	assert_true(MAPPED(9));
	BLANK();
	/* (5) */
	assert_int_equal(MAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(MAP(5, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(MAPPED(0));
	assert_true(MAPPED(5));
	BLANK();
	/* (6) */
	assert_int_equal(MAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(MAPPED(4));
	BLANK();
	/* (7) */
	assert_int_equal(MAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(MAP(10, 14), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 14), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(MAPPED(0));
	assert_false(MAPPED(10));
	BLANK();
	/* A range whose end splits a mapping is refused too, and nothing changes. */
	assert_int_equal(MAP(0, 4), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(MAP(5, 9), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(0, 6), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_true(MAPPED(0));
	assert_true(MAPPED(6));
	/* MMIO mappings are accepted once F_MMIO is negotiated (the default device offers it). */
	assert_int_equal(vg_vio_map(f->drv, 1, U(20), U(21) - 1, 0xfe000000, 4 | 2),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(UNMAP(20, 20), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* Overlapping MAP is refused. */
	assert_int_equal(MAP(4, 5), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(MAP(9, 12), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	BLANK();
	destroy(f);
#undef U
#undef MAP
#undef UNMAP
#undef MAPPED
#undef BLANK
}

static void test_every_status(void **state)
{
	struct viommu_virtio_iommu_config cfg = {
		.max_mappings = 2, .max_domains = 2, .phys_end = MEM_SIZE - 1, .probe_size = 24
	};
	struct fixture *f = make(&cfg, NULL);
	struct viommu_virtio_iommu_stats st;
	struct vg_vio_resv r[4];
	unsigned int n;

	(void)state;
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* NOENT: unknown endpoint, unknown domain. */
	assert_int_equal(vg_vio_attach(f->drv, 1, 77, 0), VIOMMU_VIRTIO_IOMMU_S_NOENT);
	assert_int_equal(vg_vio_map(f->drv, 9, 0, PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_NOENT);
	assert_int_equal(vg_vio_unmap(f->drv, 9, 0, PG - 1), VIOMMU_VIRTIO_IOMMU_S_NOENT);
	assert_int_equal(vg_vio_detach(f->drv, 1, 77), VIOMMU_VIRTIO_IOMMU_S_NOENT);
	/* INVAL: unknown flags, detach from a domain the endpoint is not in, end before start. */
	assert_int_equal(vg_vio_map(f->drv, 1, 0, PG - 1, 0, 1u << 5), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 1u << 4), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_detach(f->drv, 2, 3), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_map(f->drv, 1, PG, 0, 0, 1), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_unmap(f->drv, 1, PG, 0), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/* RANGE: misaligned start, end + 1, phys; phys end wrapping. */
	assert_int_equal(vg_vio_map(f->drv, 1, 0x10, PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_int_equal(vg_vio_map(f->drv, 1, 0, PG, 0, 1), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	assert_int_equal(vg_vio_map(f->drv, 1, 0, PG - 1, 0x10, 1), VIOMMU_VIRTIO_IOMMU_S_RANGE);
	/* FAULT: the physical range leaves guest-physical space. */
	assert_int_equal(vg_vio_map(f->drv, 1, 0, 2 * PG - 1, MEM_SIZE - PG, 1),
			 VIOMMU_VIRTIO_IOMMU_S_FAULT);
	/* NOMEM: per-domain mapping limit, domain limit. */
	assert_int_equal(vg_vio_map(f->drv, 1, 0, PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, PG, 2 * PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, 2 * PG, 3 * PG - 1, 0, 1),
			 VIOMMU_VIRTIO_IOMMU_S_NOMEM);
	assert_int_equal(vg_vio_attach(f->drv, 2, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_attach(f->drv, 3, 2, 0), VIOMMU_VIRTIO_IOMMU_S_NOMEM);
	/* UNSUPP: endpoint 2 reserves [RESV_START, RESV_END], which domain 1 maps. */
	assert_int_equal(vg_vio_unmap(f->drv, 1, 0, 2 * PG - 1), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, RESV_START, RESV_START + PG - 1, 0, 1),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_attach(f->drv, 1, 2, 0), VIOMMU_VIRTIO_IOMMU_S_UNSUPP);
	/* DEVERR: endpoint 1 has two regions but probe_size holds one property. */
	assert_int_equal(viommu_virtio_iommu_add_resv_region(
				 f->v, 1, VIOMMU_VIRTIO_IOMMU_RESV_RESERVED, 0, PG - 1),
			 0);
	assert_int_equal(vg_vio_probe(f->drv, 1, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_DEVERR);
	assert_int_equal(vg_vio_probe(f->drv, 2, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(n, 1);
	assert_int_equal(vg_vio_probe(f->drv, 99, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_NOENT);
	st = stats(f);
	for (int s = VIOMMU_VIRTIO_IOMMU_S_OK; s <= VIOMMU_VIRTIO_IOMMU_S_NOMEM; s++) {
		if (s !=
		    VIOMMU_VIRTIO_IOMMU_S_IOERR) /* IOERR needs a hand-made chain: test_malformed */
			assert_true(st.status[s] > 0);
	}
	assert_true(st.requests[VIOMMU_VIRTIO_IOMMU_REQUESTQ + 1] > 0);
	destroy(f);
}

static void test_probe(void **state)
{
	struct fixture *f = make(NULL, NULL);
	struct vg_vio_resv r[4];
	unsigned int n = 9;

	(void)state;
	assert_int_equal(vg_vio_probe(f->drv, 1, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].subtype, VIOMMU_VIRTIO_IOMMU_RESV_MSI);
	assert_int_equal(r[0].start, MSI_START);
	assert_int_equal(r[0].end, MSI_END);
	assert_int_equal(vg_vio_probe(f->drv, 2, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].subtype, VIOMMU_VIRTIO_IOMMU_RESV_RESERVED);
	assert_int_equal(r[0].start, RESV_START);
	assert_int_equal(vg_vio_probe(f->drv, 3, r, 4, &n), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(n, 0);
	/* MAP into a reserved region of an attached endpoint is refused. */
	assert_int_equal(vg_vio_attach(f->drv, 5, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 5, MSI_START, MSI_START + PG - 1, 0, 3),
			 VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/* The MSI window passes untranslated; the rest of the space does not. */
	assert_true(xok(f, 1, MSI_START + 0x40, 4, VIOMMU_ACC_WRITE));
	assert_int_equal(xlate(f, 1, MSI_END - 1, 8, VIOMMU_ACC_WRITE).len, 2);
	assert_false(xok(f, 2, RESV_START, 4, VIOMMU_ACC_READ));
	destroy(f);
}

static void test_bypass(void **state)
{
	struct viommu_virtio_iommu_config cfg = { .bypass = true };
	struct fixture *f = make(&cfg, NULL);
	struct viommu_xlate_result res;
	uint64_t v;

	(void)state;
	/* config.bypass = 1: unattached endpoints pass untranslated. */
	res = xlate(f, 3, 0x123456, 16, VIOMMU_ACC_RW);
	assert_true(viommu_xlate_ok(&res));
	assert_int_equal(res.out, 0x123456);
	assert_int_equal(res.len, 16);
	assert_int_equal(xlate(f, 3, UINT64_MAX - 1, 100, VIOMMU_ACC_READ).len, 2);
	/* Attached: only mappings. */
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_false(xok(f, 3, 0x123456, 16, VIOMMU_ACC_READ));
	/* A bypass domain: identity, no MAP/UNMAP, flag must match the domain. */
	assert_int_equal(vg_vio_attach(f->drv, 2, 2, VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP >> 2),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_attach(f->drv, 2, 3, 0), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_attach(f->drv, 1, 1, 1), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_map(f->drv, 2, 0, PG - 1, 0, 1), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(vg_vio_unmap(f->drv, 2, 0, PG - 1), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	res = xlate(f, 2, 0x5000, 8, VIOMMU_ACC_WRITE);
	assert_true(viommu_xlate_ok(&res));
	assert_int_equal(res.out, 0x5000);
	/* Detach: back to bypass per config; config.bypass = 0 blocks (fault R_DOMAIN). */
	assert_int_equal(vg_vio_detach(f->drv, 1, 3), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_true(xok(f, 3, 0x1000, 1, VIOMMU_ACC_READ));
	assert_int_equal(viommu_virtio_iommu_config_write(f->v, 36, 1, 0), 0);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 36, 1, &v), 0);
	assert_int_equal(v, 0);
	res = xlate(f, 3, 0x1000, 1, VIOMMU_ACC_READ);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(res.fault.reason, 1 /* VIRTIO_IOMMU_FAULT_R_DOMAIN */);
	/* bypass survives a device reset, and the re-initialised driver sees it. */
	viommu_virtio_iommu_config_write(f->v, 36, 1, 1);
	vg_vio_destroy(f->drv);
	f->drv = NULL;
	assert_int_equal(viommu_virtio_iommu_reset(f->v), 0);
	assert_int_equal(viommu_virtio_iommu_config_read(f->v, 36, 1, &v), 0);
	assert_int_equal(v, 1);
	/* After reset no endpoint is attached: endpoint 2 left its bypass domain, 3 is bypassed. */
	assert_int_equal(stats(f).domains, 0);
	destroy(f);
}

static void test_legacy_bypass_feature(void **state)
{
	struct viommu_virtio_iommu_config cfg = { .features = VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP |
							      VIOMMU_VIRTIO_IOMMU_F_BYPASS };
	struct fixture *f = make(&cfg, (void *)-1);
	struct vg_vio_config d = { .arena = ARENA, .arena_size = ARENA_SIZE };

	(void)state;
	/* Before negotiation F_BYPASS does not apply. */
	assert_false(xok(f, 3, 0, 1, VIOMMU_ACC_READ));
	f->nev = 0;
	assert_int_equal(vg_vio_create(f->v, f->fm, &d, &f->drv), 0);
	assert_true(xok(f, 3, 0, 1, VIOMMU_ACC_READ));
	/* Consumers learnt of the identity mapping of each unattached endpoint. */
	assert_int_equal(f->nev, 3);
	assert_int_equal(f->ev[0].type, VIOMMU_EV_MAP);
	assert_int_equal(f->ev[0].last, UINT64_MAX);
	/* Without BYPASS_CONFIG the ATTACH bypass flag is unknown. */
	assert_int_equal(vg_vio_attach(f->drv, 1, 1, 1), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/* Without INPUT_RANGE the whole 64-bit space can be mapped. */
	assert_int_equal(vg_vio_attach(f->drv, 1, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, 1ull << 60, (1ull << 60) + PG - 1, 0, 1),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, UINT64_MAX - PG + 1, UINT64_MAX, 0, 1),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(xlate(f, 1, UINT64_MAX - 3, 100, VIOMMU_ACC_READ).len, 4);
	destroy(f);
}

static void test_faults_and_events(void **state)
{
	struct fixture *f = make(NULL, NULL);
	struct vg_vio_fault ev[8];
	struct viommu_xlate_result res;
	struct viommu_virtio_iommu_stats st;
	unsigned int before;

	(void)state;
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 1, 0x10000, 0x1ffff, 0x400000, 1),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	res = xlate(f, 3, 0x10010, 0x100000, VIOMMU_ACC_READ);
	assert_true(viommu_xlate_ok(&res));
	assert_int_equal(res.out, 0x400010);
	assert_int_equal(res.len, 0x10000 - 0x10);
	assert_int_equal(res.perm, VIOMMU_ACC_READ);
	assert_int_equal(res.page_shift, 12);
	before = f->irqs[VIOMMU_VIRTIO_IOMMU_EVENTQ];
	/* Write to a read-only mapping, an unmapped address, an unattached and unknown endpoint. */
	res = xlate(f, 3, 0x10000, 4, VIOMMU_ACC_WRITE);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_PERMISSION);
	res = xlate(f, 3, 0x20000, 4, VIOMMU_ACC_READ);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_NOT_PRESENT);
	res = xlate(f, 2, 0x20000, 4, VIOMMU_ACC_READ);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_BLOCKED);
	res = xlate(f, 42, 0x30000, 4, VIOMMU_ACC_RW);
	assert_int_equal(res.fault.type, VIOMMU_FAULT_CONFIG);
	assert_int_equal(res.fault.flags, VIOMMU_FAULT_F_RECORDED); /* an event was written */
	/* EVENT_IDX: the driver asked for one interrupt until it has read the queue (2.7.7.2). */
	assert_int_equal(f->irqs[VIOMMU_VIRTIO_IOMMU_EVENTQ], before + 1);
	assert_int_equal(vg_vio_poll_events(f->drv, ev, 8), 4);
	assert_int_equal(ev[0].reason, 2);
	assert_int_equal(ev[0].flags, (1u << 8) | 2);
	assert_int_equal(ev[0].endpoint, 3);
	assert_int_equal(ev[0].address, 0x10000);
	assert_int_equal(ev[1].reason, 2);
	assert_int_equal(ev[1].flags, (1u << 8) | 1);
	assert_int_equal(ev[2].reason, 1);
	assert_int_equal(ev[2].endpoint, 2);
	assert_int_equal(ev[3].reason, 0);
	assert_int_equal(ev[3].flags, (1u << 8) | 3);
	assert_int_equal(ev[3].endpoint, 42);
	/* Having read them, the driver gets an interrupt for the next one. */
	xlate(f, 3, 0x20000, 4, VIOMMU_ACC_READ);
	assert_int_equal(f->irqs[VIOMMU_VIRTIO_IOMMU_EVENTQ], before + 2);
	assert_int_equal(vg_vio_poll_events(f->drv, ev, 8), 1);
	/* With every event buffer used and none given back, reports are dropped and counted. */
	for (int i = 0; i < 1100; i++) {
		res = xlate(f, 3, 0x20000, 4, VIOMMU_ACC_READ);
		assert_int_equal(res.fault.flags,
				 i < 1024 ? VIOMMU_FAULT_F_RECORDED : VIOMMU_FAULT_F_LOST);
	}
	st = stats(f);
	assert_int_equal(st.events_written, 5 + 1024);
	assert_int_equal(st.events_dropped, 1100 - 1024);
	assert_int_equal(st.translation_faults, 5 + 1100);
	assert_int_equal(vg_vio_poll_events(f->drv, ev, 8), 8);
	destroy(f);
}

static void test_notifications(void **state)
{
	struct fixture *f = make(NULL, NULL);
	struct viommu_notifier *n;
	struct vg_vio_fault flt[4];
	uint64_t before;

	(void)state;
	assert_int_equal(vg_vio_attach(f->drv, 1, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_attach(f->drv, 1, 2, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	f->nev = 0;
	assert_int_equal(vg_vio_map(f->drv, 1, 0x10000, 0x13fff, 0x400000, 3),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	/* One MAP per endpoint of the domain. */
	assert_int_equal(f->nev, 2);
	assert_int_equal(f->ev[0].type, VIOMMU_EV_MAP);
	assert_int_equal(f->ev[0].iova, 0x10000);
	assert_int_equal(f->ev[0].last, 0x13fff);
	assert_int_equal(f->ev[0].out, 0x400000);
	assert_int_equal(f->ev[0].perm, VIOMMU_ACC_RW);
	assert_int_equal(f->ev[0].sid + f->ev[1].sid, 3);
	assert_int_equal(vg_vio_map(f->drv, 1, 0x20000, 0x20fff, 0x500000, 1),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	/* Moving endpoint 2 to domain 2: UNMAP of both old mappings for endpoint 2 only. */
	f->nev = 0;
	assert_int_equal(vg_vio_attach(f->drv, 2, 2, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(f->nev, 2);
	assert_int_equal(f->ev[0].type, VIOMMU_EV_UNMAP);
	assert_int_equal(f->ev[0].sid, 2);
	assert_int_equal(f->ev[1].iova, 0x20000);
	/* Moving endpoint 1 into domain 2 shows domain 2's (empty) mappings: only UNMAPs. */
	assert_int_equal(vg_vio_map(f->drv, 2, 0x30000, 0x30fff, 0x600000, 2),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	f->nev = 0;
	assert_int_equal(vg_vio_attach(f->drv, 2, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(f->nev, 3);
	assert_int_equal(f->ev[2].type, VIOMMU_EV_MAP);
	assert_int_equal(f->ev[2].sid, 1);
	assert_int_equal(f->ev[2].iova, 0x30000);
	assert_int_equal(f->ev[2].perm, VIOMMU_ACC_WRITE);
	/* Domain 1 had no endpoint left and is gone. */
	assert_int_equal(stats(f).domains, 1);
	assert_int_equal(stats(f).mappings, 1);
	/* UNMAP events per removed mapping per endpoint. */
	f->nev = 0;
	assert_int_equal(vg_vio_unmap(f->drv, 2, 0, UINT64_MAX), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(f->nev, 2);
	assert_int_equal(f->ev[0].type, VIOMMU_EV_UNMAP);
	/* Replay walks the domain of the notifier's endpoint. */
	assert_int_equal(vg_vio_map(f->drv, 2, 0x40000, 0x40fff, 0x700000, 3),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_map(f->drv, 2, 0x50000, 0x50fff, 0x800000, 3),
			 VIOMMU_VIRTIO_IOMMU_S_OK);
	viommu_notifier_del(f->v, f->nt);
	assert_int_equal(viommu_notifier_add(f->v, 1, VIOMMU_EV_MAP, record, f, &n), 0);
	f->nev = 0;
	assert_int_equal(viommu_notifier_replay(f->v, n), 0);
	assert_int_equal(f->nev, 2);
	assert_int_equal(f->ev[0].iova, 0x40000);
	assert_int_equal(f->ev[1].iova, 0x50000);
	assert_int_equal(f->ev[1].sid, 1);
	/* A consumer translating (and faulting) from its callback in the middle of a request. */
	viommu_notifier_del(f->v, n);
	assert_int_equal(viommu_notifier_add(f->v, VIOMMU_SID_ANY, VIOMMU_EV_UNMAP, probe_on_unmap,
					     f, &n),
			 0);
	before = stats(f).events_written;
	assert_int_equal(vg_vio_unmap(f->drv, 2, 0x40000, 0x50fff), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* Two mappings, two endpoints in domain 2: four faults, and the request still completes. */
	assert_int_equal(stats(f).events_written, before + 4);
	assert_int_equal(vg_vio_poll_events(f->drv, flt, 4), 4);
	assert_int_equal(flt[0].address, 0x40000);
	assert_int_equal(flt[3].address, 0x50000);
	/* Endpoint 3 is blocked: nothing to replay. */
	viommu_notifier_del(f->v, n);
	assert_int_equal(viommu_notifier_add(f->v, 3, VIOMMU_EV_MAP, record, f, &n), 0);
	f->nev = 0;
	assert_int_equal(viommu_notifier_replay(f->v, n), 0);
	assert_int_equal(f->nev, 0);
	destroy(f);
}

/* ---- guest driver strategies and interrupts ---------------------------------------------- */

static void test_driver_strategies(void **state)
{
	struct vg_vio_config d = {
		.arena = ARENA, .arena_size = ARENA_SIZE, .queue_size = 16, .flush_threshold = 4
	};
	struct fixture *f = make(NULL, &d);
	struct vg_vio_stats st, st0;

	(void)state;
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	vg_vio_get_stats(f->drv, &st0);
	/* Strict: one kick per request. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(vg_vio_map(f->drv, 1, i * PG, i * PG + PG - 1, 0, 3),
				 VIOMMU_VIRTIO_IOMMU_S_OK);
	vg_vio_get_stats(f->drv, &st);
	assert_int_equal(st.kicks - st0.kicks, 5);
	/* Batched maps: one kick for ten; the device sees nothing before the kick. */
	for (int i = 10; i < 20; i++)
		assert_int_equal(vg_vio_map_queue(f->drv, 1, i * PG, i * PG + PG - 1, 0, 3), 0);
	assert_int_equal(stats(f).mappings, 5);
	assert_int_equal(vg_vio_sync(f->drv), 0);
	assert_int_equal(stats(f).mappings, 15);
	vg_vio_get_stats(f->drv, &st0);
	assert_int_equal(st0.kicks - st.kicks, 1);
	/* Deferred unmaps: flushed every 4. */
	for (int i = 10; i < 20; i++)
		assert_int_equal(vg_vio_unmap_deferred(f->drv, 1, i * PG, i * PG + PG - 1), 0);
	vg_vio_get_stats(f->drv, &st);
	assert_int_equal(st.kicks - st0.kicks, 2);
	assert_int_equal(stats(f).mappings, 7);
	assert_int_equal(vg_vio_sync(f->drv), 0);
	assert_int_equal(stats(f).mappings, 5);
	/* A full queue (16 descriptors, indirect: 16 requests) forces a sync, as in Linux. */
	for (int i = 100; i < 140; i++)
		assert_int_equal(vg_vio_map_queue(f->drv, 1, i * PG, i * PG + PG - 1, 0, 3), 0);
	assert_int_equal(vg_vio_sync(f->drv), 0);
	vg_vio_get_stats(f->drv, &st0);
	assert_int_equal(st0.queue_full, 2);
	assert_int_equal(stats(f).mappings, 45);
	/* A failing request in a batch is reported by the sync. */
	assert_int_equal(vg_vio_map_queue(f->drv, 1, 0, PG - 1, 0, 3), 0);
	assert_int_equal(vg_vio_sync(f->drv), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/*
	 * The request queue has no callback; with EVENT_IDX Linux leaves used_event at 0, so only
	 * the first completion (index 0 -> 1) interrupts.
	 */
	assert_int_equal(f->irqs[VIOMMU_VIRTIO_IOMMU_REQUESTQ], 1);
	assert_true(stats(f).suppressed > 0);
	assert_int_equal(stats(f).kicks[VIOMMU_VIRTIO_IOMMU_REQUESTQ], st0.kicks + 1);
	destroy(f);
}

static void test_driver_variants(void **state)
{
	/* Direct descriptors, no EVENT_IDX: the same requests work and the counts still hold. */
	struct vg_vio_config d = { .arena = ARENA,
				   .arena_size = ARENA_SIZE,
				   .queue_size = 8,
				   .no_indirect = true,
				   .features = ~VIOMMU_VIRTIO_F_EVENT_IDX };
	struct fixture *f = make(NULL, &d);
	struct vg_vio_stats st;

	(void)state;
	assert_false(vg_vio_features(f->drv) & VIOMMU_VIRTIO_F_EVENT_IDX);
	assert_int_equal(vg_vio_attach(f->drv, 1, 3, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(vg_vio_map_queue(f->drv, 1, i * PG, i * PG + PG - 1, 0, 3), 0);
	assert_int_equal(vg_vio_sync(f->drv), 0);
	vg_vio_get_stats(f->drv, &st);
	assert_int_equal(st.queue_full, 2); /* 4 requests in flight with 8 direct descriptors */
	assert_int_equal(stats(f).mappings, 10);
	assert_int_equal(f->irqs[VIOMMU_VIRTIO_IOMMU_REQUESTQ], 0);
	destroy(f);
}

static void test_interrupt_paths(void **state)
{
	struct viommu_virtio_iommu_config cfg = { .irq_line = 5, .interrupt = NULL };
	struct fixture *f;
	struct viommu_flatmem_stats fs;
	uint8_t isr;

	(void)state;
	/* make() installs a callback when none is given; build this one by hand. */
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(viommu_flatmem_create(0, MEM_SIZE, &f->fm), 0);
	assert_int_equal(viommu_virtio_iommu_create(&cfg, viommu_flatmem_ops(), f->fm, &f->v), 0);
	assert_int_equal(viommu_virtio_iommu_add_endpoint(f->v, 3), 0);
	{
		struct vg_vio_config d = { .arena = ARENA, .arena_size = ARENA_SIZE };

		assert_int_equal(vg_vio_create(f->v, f->fm, &d, &f->drv), 0);
	}
	/* Wired line: a fault raises it with ISR bit 0; reading the ISR clears and lowers it. */
	xlate(f, 3, 0, 1, VIOMMU_ACC_READ);
	viommu_flatmem_get_stats(f->fm, &fs);
	assert_int_equal(fs.irqs, 1);
	assert_int_equal(viommu_virtio_iommu_isr_read(f->v, &isr), 0);
	assert_int_equal(isr, VIOMMU_VIRTIO_ISR_QUEUE);
	assert_int_equal(viommu_virtio_iommu_isr_read(f->v, &isr), 0);
	assert_int_equal(isr, 0);
	viommu_flatmem_get_stats(f->fm, &fs);
	assert_int_equal(fs.irqs, 2); /* raise, lower */
	/* MSI for the event queue. */
	assert_int_equal(viommu_virtio_iommu_set_msi(f->v, VIOMMU_VIRTIO_IOMMU_EVENTQ, true,
						     0xfee00000, 0x41),
			 0);
	assert_int_equal(viommu_virtio_iommu_set_msi(f->v, 3, true, 0, 0), VIOMMU_EINVAL);
	vg_vio_poll_events(f->drv, (struct vg_vio_fault[1]){ 0 }, 1);
	xlate(f, 3, 0, 1, VIOMMU_ACC_READ);
	viommu_flatmem_get_stats(f->fm, &fs);
	assert_int_equal(fs.msis, 1);
	assert_int_equal(stats(f).used_notifications, 2);
	destroy(f);
}

/* ---- malformed requests, written by hand ------------------------------------------------- */

#define RQ_DESC 0x10000ull
#define RQ_AVAIL 0x11000ull
#define RQ_USED 0x12000ull
#define RQ_SIZE 8
#define BUF 0x20000ull

struct raw {
	struct fixture *f;
	uint16_t avail_idx;
	uint16_t last_used;
};

static void w16(struct fixture *f, uint64_t a, uint16_t v)
{
	memcpy(viommu_flatmem_ptr(f->fm, a, 2), &v, 2);
}

static void w32(struct fixture *f, uint64_t a, uint32_t v)
{
	memcpy(viommu_flatmem_ptr(f->fm, a, 4), &v, 4);
}

static void w64(struct fixture *f, uint64_t a, uint64_t v)
{
	memcpy(viommu_flatmem_ptr(f->fm, a, 8), &v, 8);
}

static void desc(struct fixture *f, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	w64(f, table + 16 * i, addr);
	w32(f, table + 16 * i + 8, len);
	w16(f, table + 16 * i + 12, flags);
	w16(f, table + 16 * i + 14, next);
}

static void raw_init(struct raw *r, uint64_t extra_features)
{
	struct viommu_virtio_queue q = {
		.size = RQ_SIZE, .desc = RQ_DESC, .avail = RQ_AVAIL, .used = RQ_USED
	};
	struct viommu_virtio_iommu_config cfg = { .probe_size = 64 };

	memset(r, 0, sizeof(*r));
	r->f = make(&cfg, (void *)-1);
	viommu_virtio_iommu_set_status(r->f->v, 3);
	viommu_virtio_iommu_set_driver_features(
		r->f->v, VIOMMU_VIRTIO_F_VERSION_1 | VIOMMU_VIRTIO_IOMMU_F_MAP_UNMAP |
				 VIOMMU_VIRTIO_IOMMU_F_PROBE | extra_features);
	viommu_virtio_iommu_set_status(r->f->v, 3 | VIOMMU_VIRTIO_S_FEATURES_OK);
	assert_int_equal(viommu_virtio_iommu_queue_enable(r->f->v, 0, &q), 0);
	viommu_virtio_iommu_set_status(r->f->v, 15);
}

/* Make descriptor @head available and kick; returns the used length, or -1 if not used. */
static int raw_kick(struct raw *r, uint16_t head)
{
	uint16_t used;
	uint32_t len;

	w16(r->f, RQ_AVAIL + 4 + 2 * (r->avail_idx % RQ_SIZE), head);
	r->avail_idx++;
	w16(r->f, RQ_AVAIL + 2, r->avail_idx);
	viommu_virtio_iommu_queue_notify(r->f->v, 0);
	memcpy(&used, viommu_flatmem_ptr(r->f->fm, RQ_USED + 2, 2), 2);
	if (used == r->last_used)
		return -1;
	memcpy(&len,
	       viommu_flatmem_ptr(r->f->fm, RQ_USED + 4 + 8 * (r->last_used % RQ_SIZE) + 4, 4), 4);
	r->last_used++;
	return (int)len;
}

static uint8_t *buf(struct raw *r, uint64_t off)
{
	return viommu_flatmem_ptr(r->f->fm, BUF + off, 1);
}

/* A well-formed two-descriptor ATTACH (domain 1, endpoint 3) whose lengths the test may bend. */
static int raw_attach(struct raw *r, uint32_t rlen, uint32_t wlen)
{
	memset(buf(r, 0), 0, 64);
	*buf(r, 0) = 1;
	w32(r->f, BUF + 4, 1);
	w32(r->f, BUF + 8, 3);
	*buf(r, 32) = 0xee;
	desc(r->f, RQ_DESC, 0, BUF, rlen, 1, 1);
	desc(r->f, RQ_DESC, 1, BUF + 32, wlen, 2, 0);
	return raw_kick(r, 0);
}

static void test_malformed(void **state)
{
	struct raw r;

	(void)state;
	raw_init(&r, VIOMMU_VIRTIO_IOMMU_F_INPUT_RANGE);
	/* The well-formed request. */
	assert_int_equal(raw_attach(&r, 20, 4), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* Reserved bytes: ATTACH must refuse them (INVAL), DETACH must ignore them. */
	assert_int_equal(raw_attach(&r, 20, 4), 4);
	w32(r.f, BUF + 16, 1); /* ATTACH reserved[4] */
	desc(r.f, RQ_DESC, 0, BUF, 20, 1, 1);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	*buf(&r, 0) = 2; /* the same bytes as a DETACH: reserved[8] = {0, 0, 0, 0, 1, ...} */
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* UNMAP with reserved bytes set: INVAL, and nothing is unmapped. */
	assert_int_equal(raw_attach(&r, 20, 4), 4);
	memset(buf(&r, 0), 0, 64);
	*buf(&r, 0) = 3; /* MAP domain 1 [0x10000, 0x10fff] */
	w32(r.f, BUF + 4, 1);
	w64(r.f, BUF + 8, 0x10000);
	w64(r.f, BUF + 16, 0x10fff);
	w32(r.f, BUF + 32, 1);
	desc(r.f, RQ_DESC, 0, BUF, 36, 1, 1);
	desc(r.f, RQ_DESC, 1, BUF + 40, 4, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 40), VIOMMU_VIRTIO_IOMMU_S_OK);
	*buf(&r, 0) = 4; /* UNMAP: reserved[4] at 24 */
	w32(r.f, BUF + 24, 0x100);
	desc(r.f, RQ_DESC, 0, BUF, 28, 1, 1);
	desc(r.f, RQ_DESC, 1, BUF + 40, 4, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 40), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(stats(r.f).mappings, 1);
	w32(r.f, BUF + 24, 0);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 40), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(stats(r.f).mappings, 0);
	/* MMIO was not negotiated here: the flag is unknown. */
	*buf(&r, 0) = 3;
	w32(r.f, BUF + 32, 4 | 1);
	desc(r.f, RQ_DESC, 0, BUF, 36, 1, 1);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 40), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/* Readable part too short for ATTACH: INVAL, tail written. */
	assert_int_equal(raw_attach(&r, 12, 4), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	/* No room for a tail, or no head: returned unwritten. */
	assert_int_equal(raw_attach(&r, 20, 3), 0);
	assert_int_equal(*buf(&r, 32), 0xee);
	assert_int_equal(raw_attach(&r, 3, 4), 0);
	/* Unknown type: unwritten. */
	*buf(&r, 0) = 9;
	desc(r.f, RQ_DESC, 0, BUF, 20, 1, 1);
	*buf(&r, 32) = 0xee;
	assert_int_equal(raw_kick(&r, 0), 0);
	assert_int_equal(*buf(&r, 32), 0xee);
	/* Payload past guest memory, head readable: IOERR. */
	raw_attach(&r, 20, 4);
	*buf(&r, 0) = 1;
	desc(r.f, RQ_DESC, 0, BUF, 4, 1, 1);
	desc(r.f, RQ_DESC, 1, MEM_SIZE - 8, 16, 1, 2);
	desc(r.f, RQ_DESC, 2, BUF + 32, 4, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_IOERR);
	/* Tail past guest memory: unwritten. */
	desc(r.f, RQ_DESC, 0, BUF, 20, 1, 1);
	desc(r.f, RQ_DESC, 1, MEM_SIZE, 4, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 0);
	/* A request split over many small descriptors still parses. */
	memset(buf(&r, 0), 0, 64);
	*buf(&r, 0) = 2; /* DETACH domain 1 endpoint 3 */
	w32(r.f, BUF + 4, 1);
	w32(r.f, BUF + 8, 3);
	for (unsigned int i = 0; i < 5; i++)
		desc(r.f, RQ_DESC, i, BUF + 4 * i, 4, 1, (uint16_t)(i + 1));
	desc(r.f, RQ_DESC, 5, BUF + 20, 4, 1, 6); /* reserved[4..8] */
	desc(r.f, RQ_DESC, 6, BUF + 32, 4, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 4);
	assert_int_equal(*buf(&r, 32), VIOMMU_VIRTIO_IOMMU_S_OK);
	/* PROBE with fewer writable bytes than probe_size + tail: INVAL in the last 4 bytes. */
	memset(buf(&r, 0), 0, 256);
	*buf(&r, 0) = 5;
	w32(r.f, BUF + 4, 1);
	desc(r.f, RQ_DESC, 0, BUF, 72, 1, 1);
	desc(r.f, RQ_DESC, 1, BUF + 128, 32, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 32);
	assert_int_equal(*buf(&r, 128 + 28), VIOMMU_VIRTIO_IOMMU_S_INVAL);
	assert_int_equal(*buf(&r, 128), 0); /* no property written */
	/* A well-sized PROBE: properties then the tail. */
	desc(r.f, RQ_DESC, 1, BUF + 128, 68, 2, 0);
	assert_int_equal(raw_kick(&r, 0), 68);
	assert_int_equal(*buf(&r, 128), 1);
	assert_int_equal(*buf(&r, 128 + 2), 20);
	assert_int_equal(*buf(&r, 128 + 64), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(stats(r.f).needs_reset, 0);
	destroy(r.f);
}

/* Each of these breaks the ring structure: DEVICE_NEEDS_RESET and nothing further is processed. */
#define expect_broken(r, h) expect_broken_at(r, h, __LINE__)
static void expect_broken_at(struct raw *r, uint16_t head, int line)
{
	unsigned int before = r->f->irqs[VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR];

	fprintf(stderr, "# case at line %d\n", line);

	assert_int_equal(raw_kick(r, head), -1);
	assert_true(status_of(r->f) & VIOMMU_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(r->f->irqs[VIOMMU_VIRTIO_IOMMU_CONFIG_VECTOR], before + 1);
	/* Even a good request is ignored until reset. */
	assert_int_equal(raw_attach(r, 20, 4), -1);
	destroy(r->f);
}

static void test_broken_rings(void **state)
{
	struct raw r;

	(void)state;
	/* A descriptor loop. */
	raw_init(&r, 0);
	desc(r.f, RQ_DESC, 0, BUF, 20, 1, 1);
	desc(r.f, RQ_DESC, 1, BUF, 20, 1, 0);
	expect_broken(&r, 0);
	/* A next index past the table. */
	raw_init(&r, 0);
	desc(r.f, RQ_DESC, 0, BUF, 20, 1, RQ_SIZE);
	expect_broken(&r, 0);
	/* A head index past the table. */
	raw_init(&r, 0);
	expect_broken(&r, RQ_SIZE + 3);
	/* Readable after writable. */
	raw_init(&r, 0);
	desc(r.f, RQ_DESC, 0, BUF + 32, 4, 2 | 1, 1);
	desc(r.f, RQ_DESC, 1, BUF, 20, 1, 0);
	expect_broken(&r, 0);
	/* A descriptor whose range wraps past 2^64. */
	raw_init(&r, 0);
	desc(r.f, RQ_DESC, 0, UINT64_MAX - 4, 20, 1, 0);
	expect_broken(&r, 0);
	/* Indirect without the feature. */
	raw_init(&r, 0);
	desc(r.f, RQ_DESC, 0, BUF + 0x100, 32, 4, 0);
	expect_broken(&r, 0);
	/* Indirect with NEXT, nested indirect, a table length not a multiple of 16. */
	raw_init(&r, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	desc(r.f, RQ_DESC, 0, BUF + 0x100, 32, 4 | 1, 1);
	expect_broken(&r, 0);
	raw_init(&r, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	desc(r.f, RQ_DESC, 0, BUF + 0x100, 32, 4, 0);
	desc(r.f, BUF + 0x100, 0, BUF + 0x200, 32, 4, 0);
	expect_broken(&r, 0);
	raw_init(&r, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	desc(r.f, RQ_DESC, 0, BUF + 0x100, 24, 4, 0);
	expect_broken(&r, 0);
	/* A loop inside an indirect table. */
	raw_init(&r, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	desc(r.f, RQ_DESC, 0, BUF + 0x100, 32, 4, 0);
	desc(r.f, BUF + 0x100, 0, BUF, 20, 1, 1);
	desc(r.f, BUF + 0x100, 1, BUF, 20, 1, 0);
	expect_broken(&r, 0);
	/* The available index jumps by more than the queue size. */
	raw_init(&r, 0);
	r.avail_idx = RQ_SIZE + 5;
	expect_broken(&r, 0);
	/* The descriptor table outside guest memory. */
	{
		struct viommu_virtio_queue q = {
			.size = RQ_SIZE, .desc = MEM_SIZE, .avail = RQ_AVAIL, .used = RQ_USED
		};

		raw_init(&r, 0);
		viommu_virtio_iommu_reset(r.f->v);
		viommu_virtio_iommu_set_status(r.f->v, 3);
		viommu_virtio_iommu_set_driver_features(r.f->v, VIOMMU_VIRTIO_F_VERSION_1);
		viommu_virtio_iommu_set_status(r.f->v, 11);
		assert_int_equal(viommu_virtio_iommu_queue_enable(r.f->v, 0, &q), 0);
		viommu_virtio_iommu_set_status(r.f->v, 15);
		r.avail_idx = 0;
		r.last_used = 0;
		w16(r.f, RQ_USED + 2, 0);
		expect_broken(&r, 0);
	}
}

static void test_too_many_segments(void **state)
{
	struct raw r;

	(void)state;
	/* 65 one-byte readable descriptors via an indirect table: consumed unwritten, no reset. */
	raw_init(&r, VIOMMU_VIRTIO_F_INDIRECT_DESC);
	for (unsigned int i = 0; i < 70; i++)
		desc(r.f, BUF + 0x1000, i, BUF + i, 1, 1, (uint16_t)(i + 1));
	desc(r.f, BUF + 0x1000, 70, BUF + 0x100, 4, 2, 0);
	desc(r.f, RQ_DESC, 0, BUF + 0x1000, 71 * 16, 4, 0);
	assert_int_equal(raw_kick(&r, 0), 0);
	assert_false(status_of(r.f) & VIOMMU_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(raw_attach(&r, 20, 4), 4);
	destroy(r.f);
}

/* ---- randomized against a reference ------------------------------------------------------ */

#define SPACE 256 /* pages */
#define REF_MAX 128

struct ref_map {
	uint64_t first, last; /* pages, inclusive */
	uint64_t phys;
	uint32_t flags;
};

struct ref_dom {
	struct ref_map m[REF_MAX];
	unsigned int n;
};

static int ref_find(const struct ref_dom *d, uint64_t page)
{
	for (unsigned int i = 0; i < d->n; i++) {
		if (d->m[i].first <= page && page <= d->m[i].last)
			return (int)i;
	}
	return -1;
}

static void test_random_against_reference(void **state)
{
	struct vg_vio_config dc = { .arena = ARENA, .arena_size = ARENA_SIZE, .queue_size = 64 };
	struct viommu_virtio_iommu_config cfg = { .max_mappings = REF_MAX };
	struct fixture *f = make(&cfg, &dc);
	struct test_rng rng = { test_seed(0x5eed0005) };
	struct ref_dom dom[2];
	int ep_dom[2] = { 0, 1 }; /* endpoints 1 and 2 */
	unsigned long ops = 0;

	(void)state;
	memset(dom, 0, sizeof(dom));
	viommu_notifier_del(f->v, f->nt); /* keep the event log out of the loop */
	f->nt = NULL;
	assert_int_equal(vg_vio_attach(f->drv, 10, 1, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	assert_int_equal(vg_vio_attach(f->drv, 11, 2, 0), VIOMMU_VIRTIO_IOMMU_S_OK);
	while (ops < 120000) {
		unsigned int op = (unsigned int)test_below(&rng, 100);
		unsigned int di = (unsigned int)test_below(&rng, 2);
		struct ref_dom *d = &dom[di];
		uint64_t a = test_below(&rng, SPACE), b = a + test_below(&rng, 8);

		if (b >= SPACE)
			b = SPACE - 1;
		ops++;
		if (op < 35) { /* MAP */
			uint64_t phys = test_below(&rng, 1024) * PG;
			uint32_t flags = 1 + (uint32_t)test_below(&rng, 3);
			bool overlap = false;
			int want, got;

			for (uint64_t p = a; p <= b; p++)
				overlap |= ref_find(d, p) >= 0;
			want = overlap	       ? VIOMMU_VIRTIO_IOMMU_S_INVAL :
			       d->n == REF_MAX ? VIOMMU_VIRTIO_IOMMU_S_NOMEM :
						 VIOMMU_VIRTIO_IOMMU_S_OK;
			got = vg_vio_map(f->drv, 10 + di, a * PG, (b + 1) * PG - 1, phys, flags);
			assert_int_equal(got, want);
			if (want == VIOMMU_VIRTIO_IOMMU_S_OK)
				d->m[d->n++] = (struct ref_map){ a, b, phys, flags };
		} else if (op < 60) { /* UNMAP */
			int fa = ref_find(d, a), fb = ref_find(d, b);
			bool split = (fa >= 0 && d->m[fa].first < a) ||
				     (fb >= 0 && d->m[fb].last > b);
			int got = vg_vio_unmap(f->drv, 10 + di, a * PG, (b + 1) * PG - 1);

			assert_int_equal(got, split ? VIOMMU_VIRTIO_IOMMU_S_RANGE :
						      VIOMMU_VIRTIO_IOMMU_S_OK);
			for (unsigned int i = 0; !split && i < d->n;) {
				if (d->m[i].first >= a && d->m[i].last <= b)
					d->m[i] = d->m[--d->n];
				else
					i++;
			}
		} else if (op < 99) { /* DMA */
			unsigned int e = (unsigned int)test_below(&rng, 2);
			struct ref_dom *ed = &dom[ep_dom[e]];
			uint64_t off = test_below(&rng, PG), len = 1 + test_below(&rng, 3 * PG);
			uint32_t acc = 1 + (uint32_t)test_below(&rng, 3);
			struct viommu_xlate_result res = xlate(f, e + 1, a * PG + off, len, acc);
			int i = ref_find(ed, a);

			if (i < 0 || (acc & ~ed->m[i].flags)) {
				assert_false(viommu_xlate_ok(&res));
				assert_int_equal(res.fault.type, i < 0 ? VIOMMU_FAULT_NOT_PRESENT :
									 VIOMMU_FAULT_PERMISSION);
			} else {
				uint64_t avail = (ed->m[i].last + 1) * PG - (a * PG + off);

				assert_true(viommu_xlate_ok(&res));
				assert_int_equal(res.out,
						 ed->m[i].phys + (a - ed->m[i].first) * PG + off);
				assert_int_equal(res.len, len < avail ? len : avail);
				assert_int_equal(res.perm, ed->m[i].flags);
			}
			vg_vio_poll_events(f->drv, (struct vg_vio_fault[4]){ 0 }, 4);
		} else { /* swap endpoint 1 between the domains */
			int to = !ep_dom[0];

			assert_int_equal(vg_vio_attach(f->drv, 10 + to, 1, 0),
					 VIOMMU_VIRTIO_IOMMU_S_OK);
			ep_dom[0] = to;
			/* A domain left without endpoints is gone, mappings with it. */
			if (ep_dom[1] != !to) {
				memset(&dom[!to], 0, sizeof(dom[!to]));
				assert_int_equal(vg_vio_attach(f->drv, 10 + !to, 2, 0),
						 VIOMMU_VIRTIO_IOMMU_S_OK);
				ep_dom[1] = !to;
			}
		}
	}
	assert_int_equal(stats(f).mappings, dom[0].n + dom[1].n);
	destroy(f);
}

/* ---- the mapping store on its own --------------------------------------------------------- */

#define TREE_SLOTS 6000

struct walk_check {
	uint64_t prev;
	unsigned int n;
	bool ordered;
};

static void walk_cb(void *arg, const struct vio_map *m)
{
	struct walk_check *w = arg;

	if (w->n && m->start <= w->prev)
		w->ordered = false;
	w->prev = m->start;
	w->n++;
}

static void test_mapping_tree(void **state)
{
	static bool present[TREE_SLOTS];
	struct test_rng rng = { test_seed(0x7ee5) };
	struct vio_tree t = { 0 };
	unsigned int n = 0;

	(void)state;
	memset(present, 0, sizeof(present));
	/* Slot k is [32k, 32k + 15] -> 32k + 0x100000: gaps between mappings test the misses. */
	for (unsigned long op = 0; op < 300000; op++) {
		uint64_t k = test_below(&rng, TREE_SLOTS);
		/* Grow towards all slots, then shrink towards none, to split and merge at all levels. */
		bool grow = (op / 60000) % 2 == 0;
		struct vio_map m = { 32 * k, 32 * k + 15, 32 * k + 0x100000, 3 }, got;
		uint64_t addr = test_below(&rng, 32 * TREE_SLOTS);
		uint64_t slot = addr / 32;

		if (test_below(&rng, 4) != 0 && present[k] != grow) {
			if (grow) {
				assert_int_equal(vi_vio_map_insert(&t, &m), 0);
				n++;
			} else if (test_below(&rng, 2)) {
				vi_vio_map_remove(&t, m.start);
				n--;
			} else {
				/* Exact removal refuses another end, then takes the right one. */
				assert_false(vi_vio_map_remove_exact(&t, m.start, m.end + 1, &got));
				assert_true(vi_vio_map_remove_exact(&t, m.start, m.end, &got));
				assert_int_equal(got.phys, m.phys);
				n--;
			}
			present[k] = grow;
		} else if (present[k]) {
			/* Any overlap is refused without a change: same start, or reaching into it. */
			struct vio_map o = { 32 * k + 8, 32 * k + 40, 0, 1 };

			assert_int_equal(vi_vio_map_insert(&t, &m), VIOMMU_EEXIST);
			o.start = k ? 32 * k - 16 : 0;
			o.end = 32 * k + 1;
			assert_int_equal(vi_vio_map_insert(&t, &o), VIOMMU_EEXIST);
		} else if (k + 1 < TREE_SLOTS && present[k + 1]) {
			struct vio_map o = { 32 * k, 32 * k + 32, 0, 1 };

			assert_int_equal(vi_vio_map_insert(&t, &o), VIOMMU_EEXIST);
		}
		if (present[slot] && addr % 32 < 16) {
			assert_true(vi_vio_map_lookup(&t, addr, &got));
			assert_int_equal(got.start, 32 * slot);
			assert_int_equal(got.phys, 32 * slot + 0x100000);
		} else {
			assert_false(vi_vio_map_lookup(&t, addr, &got));
		}
		/* ceil: the first present slot at or after addr's slot (strictly after if past its start). */
		{
			uint64_t c = addr % 32 ? slot + 1 : slot;

			while (c < TREE_SLOTS && !present[c])
				c++;
			if (c < TREE_SLOTS) {
				assert_true(vi_vio_map_ceil(&t, addr, &got));
				assert_int_equal(got.start, 32 * c);
			} else {
				assert_false(vi_vio_map_ceil(&t, addr, &got));
			}
		}
		if (op % 5000 == 0) {
			struct walk_check w = { 0, 0, true };

			vi_vio_map_walk(&t, walk_cb, &w);
			assert_true(w.ordered);
			assert_int_equal(w.n, n);
			/* B+tree of fanout >= 8: depth stays logarithmic. */
			assert_true(t.depth <= 6);
		}
	}
	vi_vio_map_clear(&t);
	assert_null(t.root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_handle_type_checked),
		cmocka_unit_test(test_unmap_examples),
		cmocka_unit_test(test_every_status),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_bypass),
		cmocka_unit_test(test_legacy_bypass_feature),
		cmocka_unit_test(test_faults_and_events),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_driver_strategies),
		cmocka_unit_test(test_driver_variants),
		cmocka_unit_test(test_interrupt_paths),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_broken_rings),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_mapping_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
