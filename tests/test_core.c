// SPDX-License-Identifier: MIT
/*
 * Core: errors, instance dispatch, notifiers. A tiny model defined here stands in for the real
 * ones so the core is tested on its own.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>

#include "core/core.h"

/* A model that maps iova -> iova + 0x1000 for sid 1 and blocks everything else. */
struct toy {
	struct viommu v;
	int mmio_writes;
	uint64_t last_write;
	bool destroyed;
};

static int toy_translate(struct viommu *v, const struct viommu_xlate_req *req,
			 struct viommu_xlate_result *res)
{
	(void)v;
	if (req->sid != 1) {
		vi_result_fault(res, req, VIOMMU_FAULT_BLOCKED, 0x42, 0);
		return 0;
	}
	memset(res, 0, sizeof(*res));
	res->out = req->iova + 0x1000;
	res->len = req->len ? req->len : 1;
	res->perm = VIOMMU_ACC_RW;
	res->page_shift = 12;
	return 0;
}

static int toy_mmio_write(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	struct toy *t = vi_container_of(v, struct toy, v);

	(void)off;
	(void)size;
	t->mmio_writes++;
	t->last_write = val;
	return 0;
}

static int toy_replay(struct viommu *v, struct viommu_notifier *n)
{
	(void)v;
	for (uint32_t sid = 1; sid <= 2; sid++) {
		struct viommu_event ev = { .type = VIOMMU_EV_MAP,
					   .sid = sid,
					   .iova = 0x10000,
					   .last = 0x10fff,
					   .out = 0x11000,
					   .perm = VIOMMU_ACC_RW };

		vi_notifier_send_one(n, &ev);
	}
	return 0;
}

static void toy_destroy(struct viommu *v)
{
	struct toy *t = vi_container_of(v, struct toy, v);

	vi_instance_fini(v);
	t->destroyed = true;
}

static const struct viommu_model_ops toy_ops = {
	.name = "toy",
	.translate = toy_translate,
	.mmio_write = toy_mmio_write,
	.replay = toy_replay,
	.destroy = toy_destroy,
};

struct fixture {
	struct viommu_flatmem *fm;
	struct toy toy;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(viommu_flatmem_create(0, 1 << 16, &f->fm), 0);
	assert_int_equal(vi_instance_init(&f->toy.v, &toy_ops, viommu_flatmem_ops(), f->fm), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	viommu_destroy(&f->toy.v);
	assert_true(f->toy.destroyed);
	viommu_flatmem_destroy(f->fm);
	free(f);
	return 0;
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(viommu_strerror(0), "success");
	assert_string_equal(viommu_strerror(VIOMMU_EFAULT), "address outside guest memory");
	assert_string_equal(viommu_strerror(VIOMMU_ENOMEM), "out of memory");
	assert_string_equal(viommu_strerror(12345), "unknown error");
	/* Values are the negated Linux errno values of the same names. */
	assert_int_equal(VIOMMU_EINVAL, -22);
	assert_int_equal(VIOMMU_ENOTSUP, -95);
	for (int e = -1; e >= -100; e--)
		assert_non_null(viommu_strerror(e));
}

static void test_init_rejects_missing_read(void **state)
{
	struct viommu v;
	struct viommu_host_ops no_read = { 0 };

	(void)state;
	assert_int_equal(vi_instance_init(&v, &toy_ops, NULL, NULL), VIOMMU_EINVAL);
	assert_int_equal(vi_instance_init(&v, &toy_ops, &no_read, NULL), VIOMMU_EINVAL);
}

static void test_translate_dispatch(void **state)
{
	struct fixture *f = *state;
	struct viommu_xlate_req req = {
		.sid = 1, .iova = 0x2000, .len = 64, .access = VIOMMU_ACC_READ
	};
	struct viommu_xlate_result res;

	assert_string_equal(viommu_model_name(&f->toy.v), "toy");
	assert_int_equal(viommu_translate(&f->toy.v, &req, &res), 0);
	assert_true(viommu_xlate_ok(&res));
	assert_int_equal(res.out, 0x3000);
	assert_int_equal(res.len, 64);

	req.sid = 7;
	req.pasid = 9;
	req.has_pasid = true;
	assert_int_equal(viommu_translate(&f->toy.v, &req, &res), 0);
	assert_false(viommu_xlate_ok(&res));
	assert_int_equal(res.fault.type, VIOMMU_FAULT_BLOCKED);
	assert_int_equal(res.fault.reason, 0x42);
	assert_int_equal(res.fault.sid, 7);
	assert_int_equal(res.fault.pasid, 9);
	assert_true(res.fault.has_pasid);
	assert_int_equal(res.fault.addr, 0x2000);
	assert_int_equal(res.fault.access, VIOMMU_ACC_READ);

	assert_int_equal(viommu_translate(NULL, &req, &res), VIOMMU_EINVAL);
	assert_int_equal(viommu_translate(&f->toy.v, NULL, &res), VIOMMU_EINVAL);
	assert_int_equal(viommu_translate(&f->toy.v, &req, NULL), VIOMMU_EINVAL);
}

static void test_mmio_dispatch(void **state)
{
	struct fixture *f = *state;
	uint64_t val;

	assert_int_equal(viommu_mmio_write(&f->toy.v, 0x10, 4, 0xabcd), 0);
	assert_int_equal(f->toy.mmio_writes, 1);
	assert_int_equal(f->toy.last_write, 0xabcd);
	/* Only 1, 2, 4 and 8-byte accesses exist. */
	assert_int_equal(viommu_mmio_write(&f->toy.v, 0x10, 3, 0), VIOMMU_EINVAL);
	assert_int_equal(viommu_mmio_write(&f->toy.v, 0x10, 16, 0), VIOMMU_EINVAL);
	assert_int_equal(f->toy.mmio_writes, 1);
	/* The toy has no read handler. */
	assert_int_equal(viommu_mmio_read(&f->toy.v, 0x10, 4, &val), VIOMMU_ENOSYS);
	assert_int_equal(viommu_mmio_read(&f->toy.v, 0x10, 4, NULL), VIOMMU_EINVAL);
}

struct recorder {
	int count;
	struct viommu_event last;
	struct viommu_notifier *self; /* when set, the callback deletes itself */
	struct viommu *v;
};

static void record(void *opaque, const struct viommu_event *ev)
{
	struct recorder *r = opaque;

	r->count++;
	r->last = *ev;
	if (r->self) {
		viommu_notifier_del(r->v, r->self);
		r->self = NULL;
	}
}

static void test_notifier_filtering(void **state)
{
	struct fixture *f = *state;
	struct viommu *v = &f->toy.v;
	struct recorder any = { 0 }, sid1 = { 0 }, unmap_only = { 0 };
	struct viommu_notifier *na, *n1, *nu;
	struct viommu_event map1 = { .type = VIOMMU_EV_MAP, .sid = 1, .iova = 0, .last = 0xfff };
	struct viommu_event unmap2 = { .type = VIOMMU_EV_UNMAP, .sid = 2, .iova = 0, .last = ~0ull };
	struct viommu_event unmap_all = { .type = VIOMMU_EV_UNMAP, .sid = VIOMMU_SID_ANY };

	assert_false(vi_notify_wanted(v, VIOMMU_EV_MAP));
	assert_int_equal(viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_MAP | VIOMMU_EV_UNMAP,
					     record, &any, &na),
			 0);
	assert_int_equal(viommu_notifier_add(v, 1, VIOMMU_EV_MAP, record, &sid1, &n1), 0);
	assert_int_equal(viommu_notifier_add(v, VIOMMU_SID_ANY, VIOMMU_EV_UNMAP, record,
					     &unmap_only, &nu),
			 0);
	assert_true(vi_notify_wanted(v, VIOMMU_EV_MAP));
	assert_false(vi_notify_wanted(v, VIOMMU_EV_DEVIOTLB_UNMAP));

	vi_notify(v, &map1);
	assert_int_equal(any.count, 1);
	assert_int_equal(sid1.count, 1);
	assert_int_equal(unmap_only.count, 0);

	vi_notify(v, &unmap2);
	assert_int_equal(any.count, 2);
	assert_int_equal(sid1.count, 1);
	assert_int_equal(unmap_only.count, 1);
	assert_int_equal(unmap_only.last.last, ~0ull);

	/* An event for every requester reaches requester-specific notifiers of its type. */
	vi_notify(v, &unmap_all);
	assert_int_equal(unmap_only.count, 2);
	assert_int_equal(any.count, 3);
	assert_int_equal(sid1.count, 1);

	viommu_notifier_del(v, na);
	viommu_notifier_del(v, nu);
	assert_false(vi_notify_wanted(v, VIOMMU_EV_UNMAP));
	vi_notify(v, &unmap2);
	assert_int_equal(any.count, 3);
	viommu_notifier_del(v, n1);
	assert_false(vi_notify_wanted(v, VIOMMU_EV_MAP));
}

static void test_notifier_bad_args(void **state)
{
	struct fixture *f = *state;
	struct viommu_notifier *n = NULL;
	struct recorder r = { 0 };

	assert_int_equal(viommu_notifier_add(&f->toy.v, 0, 0, record, &r, &n), VIOMMU_EINVAL);
	assert_int_equal(viommu_notifier_add(&f->toy.v, 0, 1u << 7, record, &r, &n), VIOMMU_EINVAL);
	assert_int_equal(viommu_notifier_add(&f->toy.v, 0, VIOMMU_EV_MAP, NULL, &r, &n),
			 VIOMMU_EINVAL);
	assert_int_equal(viommu_notifier_add(NULL, 0, VIOMMU_EV_MAP, record, &r, &n),
			 VIOMMU_EINVAL);
	assert_null(n);
	viommu_notifier_del(&f->toy.v, NULL);
	assert_int_equal(viommu_notifier_replay(&f->toy.v, NULL), VIOMMU_EINVAL);
}

static void test_notifier_self_delete(void **state)
{
	struct fixture *f = *state;
	struct recorder a = { 0 }, b = { 0 };
	struct viommu_notifier *na, *nb;
	struct viommu_event ev = { .type = VIOMMU_EV_MAP, .sid = 3 };

	assert_int_equal(
		viommu_notifier_add(&f->toy.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP, record, &a, &na), 0);
	assert_int_equal(
		viommu_notifier_add(&f->toy.v, VIOMMU_SID_ANY, VIOMMU_EV_MAP, record, &b, &nb), 0);
	a.self = na;
	a.v = &f->toy.v;
	vi_notify(&f->toy.v, &ev);
	/* a removed itself during delivery; b, after it in the list, still got the event. */
	assert_int_equal(a.count, 1);
	assert_int_equal(b.count, 1);
	vi_notify(&f->toy.v, &ev);
	assert_int_equal(a.count, 1);
	assert_int_equal(b.count, 2);
	/* nb is freed by the teardown's viommu_destroy(). */
}

static void test_notifier_replay(void **state)
{
	struct fixture *f = *state;
	struct recorder r = { 0 };
	struct viommu_notifier *n;

	assert_int_equal(viommu_notifier_add(&f->toy.v, 2, VIOMMU_EV_MAP, record, &r, &n), 0);
	assert_int_equal(viommu_notifier_replay(&f->toy.v, n), 0);
	/* The toy replays a mapping for sid 1 and sid 2; only sid 2's reaches this notifier. */
	assert_int_equal(r.count, 1);
	assert_int_equal(r.last.sid, 2);
	assert_int_equal(r.last.out, 0x11000);
}

static void test_replay_unsupported(void **state)
{
	struct viommu v;
	struct viommu_model_ops ops = toy_ops;
	struct viommu_notifier *n;
	struct recorder r = { 0 };
	struct viommu_flatmem *fm;

	(void)state;
	ops.replay = NULL;
	assert_int_equal(viommu_flatmem_create(0, 4096, &fm), 0);
	assert_int_equal(vi_instance_init(&v, &ops, viommu_flatmem_ops(), fm), 0);
	assert_int_equal(viommu_notifier_add(&v, 0, VIOMMU_EV_MAP, record, &r, &n), 0);
	assert_int_equal(viommu_notifier_replay(&v, n), VIOMMU_ENOTSUP);
	vi_instance_fini(&v);
	viommu_flatmem_destroy(fm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_init_rejects_missing_read),
		cmocka_unit_test(test_replay_unsupported),
		cmocka_unit_test_setup_teardown(test_translate_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier_filtering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier_self_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notifier_replay, setup, teardown),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
