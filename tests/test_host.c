// SPDX-License-Identifier: MIT
/*
 * Host ops: the flat-memory implementation and the core's guest-memory helpers, including
 * out-of-range, short and wrapping accesses.
 */
#include "test_common.h"

#include <string.h>

#include <viommu/flatmem.h>

#include "core/core.h"

#define BASE 0x100000ull
#define SIZE 0x10000ull

static void test_flatmem_bounds(void **state)
{
	struct viommu_flatmem *fm;
	const struct viommu_host_ops *ops = viommu_flatmem_ops();
	struct viommu_flatmem_stats st;
	uint8_t buf[32];

	(void)state;
	assert_int_equal(viommu_flatmem_create(BASE, SIZE, &fm), 0);
	assert_int_equal(viommu_flatmem_base(fm), BASE);
	assert_int_equal(viommu_flatmem_size(fm), SIZE);

	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ops->dma_write(fm, BASE + SIZE - 32, buf, 32), 32);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ops->dma_read(fm, BASE + SIZE - 32, buf, 32), 32);
	assert_int_equal(buf[0], 0xa5);
	assert_int_equal(buf[31], 0xa5);

	/* One byte past the end, one byte before the start, entirely outside. */
	assert_int_equal(ops->dma_read(fm, BASE + SIZE - 31, buf, 32), VIOMMU_EFAULT);
	assert_int_equal(ops->dma_read(fm, BASE - 1, buf, 2), VIOMMU_EFAULT);
	assert_int_equal(ops->dma_read(fm, 0, buf, 1), VIOMMU_EFAULT);
	assert_int_equal(ops->dma_write(fm, BASE + SIZE, buf, 1), VIOMMU_EFAULT);
	/* A range whose end wraps past 2^64 must not alias low addresses. */
	assert_int_equal(ops->dma_read(fm, UINT64_MAX - 3, buf, 8), VIOMMU_EFAULT);
	assert_int_equal(ops->dma_read(fm, BASE, buf, 0), VIOMMU_EFAULT);

	assert_non_null(viommu_flatmem_ptr(fm, BASE, SIZE));
	assert_null(viommu_flatmem_ptr(fm, BASE, SIZE + 1));
	assert_null(viommu_flatmem_ptr(fm, BASE + 8, UINT64_MAX));
	assert_null(viommu_flatmem_ptr(fm, BASE - 4096, 8));

	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.read_bytes, 32);
	assert_int_equal(st.rejected, 6);
	viommu_flatmem_reset_stats(fm);
	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(st.rejected, 0);
	viommu_flatmem_destroy(fm);
}

static void test_flatmem_map_ptr(void **state)
{
	struct viommu_flatmem *fm;
	const struct viommu_host_ops *ops = viommu_flatmem_ops();
	struct viommu_dma_span span = { 0, 0 };
	struct viommu_flatmem_stats st;
	uint8_t *mem;

	(void)state;
	assert_int_equal(viommu_flatmem_create(BASE, SIZE, &fm), 0);
	mem = viommu_flatmem_ptr(fm, BASE, SIZE);
	assert_ptr_equal(ops->dma_map_ptr(fm, BASE + 0x18, 8, true, &span), mem + 0x18);
	/* The span is the whole buffer. */
	assert_int_equal(span.gpa, BASE);
	assert_int_equal(span.len, SIZE);
	assert_int_equal(span.flags, VIOMMU_DMA_SPAN_STABLE);
	assert_ptr_equal(ops->dma_map_ptr(fm, BASE + SIZE - 8, 8, false, &span), mem + SIZE - 8);
	/* Past either end, straddling the end, wrapping past 2^64, empty: NULL. */
	assert_null(ops->dma_map_ptr(fm, BASE + SIZE - 7, 8, false, &span));
	assert_null(ops->dma_map_ptr(fm, BASE - 8, 8, false, &span));
	assert_null(ops->dma_map_ptr(fm, BASE + SIZE, 8, false, &span));
	assert_null(ops->dma_map_ptr(fm, UINT64_MAX - 3, 8, false, &span));
	assert_null(ops->dma_map_ptr(fm, BASE + 8, SIZE_MAX, false, &span));
	assert_null(ops->dma_map_ptr(fm, BASE, 0, false, &span));
	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(st.maps, 2);
	assert_int_equal(st.rejected, 6);
	viommu_flatmem_destroy(fm);
}

/* A host that hands out one 64-byte buffer at guest 0x1000 and claims a span of its choosing. */
static struct {
	uint64_t buf[8];
	struct viommu_dma_span claim;
	int calls;
} liar;

static ssize_t liar_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	if (gpa < 0x1000 || gpa - 0x1000 > sizeof(liar.buf) - len)
		return VIOMMU_EFAULT;
	memcpy(buf, (uint8_t *)liar.buf + (gpa - 0x1000), len);
	return (ssize_t)len;
}

static void *liar_map_ptr(void *opaque, uint64_t gpa, size_t len, bool write,
			  struct viommu_dma_span *span)
{
	(void)opaque;
	(void)write;
	if (gpa < 0x1000 || gpa - 0x1000 > sizeof(liar.buf) - len)
		return NULL;
	liar.calls++;
	*span = liar.claim;
	return (uint8_t *)liar.buf + (gpa - 0x1000);
}

/* The core checks the span a host claims: one that does not hold the entry, or wraps, is cut
 * down to the entry alone, so the next entry means asking again. */
static void test_dm_span_checks(void **state)
{
	const struct viommu_host_ops ops = { .dma_read = liar_read, .dma_map_ptr = liar_map_ptr };
	const struct viommu_host h = { &ops, NULL };
	const struct viommu_dma_span bad[] = {
		{ 0x1010, 64 },		    /* starts after the entry */
		{ 0x1000, 4 },		    /* too short */
		{ 0x1000, 8 },		    /* ends before the entry at 0x1008 */
		{ UINT64_MAX - 7, 0x2000 }, /* wraps */
	};
	struct vi_dmem m;
	uint64_t v;

	(void)state;
	for (int i = 0; i < 8; i++)
		liar.buf[i] = vi_le64(0x100 + i);
	for (size_t i = 0; i < VI_ARRAY_SIZE(bad); i++) {
		liar.claim = bad[i];
		liar.calls = 0;
		vi_dmem_init(&m, &h);
		assert_int_equal(vi_dm_read64(&m, 0x1008, &v), 0);
		assert_int_equal(v, 0x101);
		assert_int_equal(vi_dm_read64(&m, 0x1008, &v), 0);
		assert_int_equal(vi_dm_read64(&m, 0x1010, &v), 0);
		assert_int_equal(v, 0x102);
		assert_int_equal(liar.calls, 2);
	}
	/* An honest span serves its neighbours from one call. */
	liar.claim = (struct viommu_dma_span){ 0x1000, 64 };
	liar.calls = 0;
	vi_dmem_init(&m, &h);
	for (uint64_t a = 0x1000; a < 0x1040; a += 8) {
		assert_int_equal(vi_dm_read64(&m, a, &v), 0);
		assert_int_equal(v, 0x100 + (a - 0x1000) / 8);
	}
	assert_int_equal(liar.calls, 1);
	/* Outside it: the host says no, dma_read says no. */
	assert_int_equal(vi_dm_read64(&m, 0x1040, &v), VIOMMU_EFAULT);
	/* Compare-and-exchange through the pointer. */
	assert_int_equal(vi_dm_cmpxchg64(&m, 0x1008, 0x999, 0x5), VIOMMU_EAGAIN);
	assert_int_equal(vi_le64(liar.buf[1]), 0x101);
	assert_int_equal(vi_dm_cmpxchg64(&m, 0x1008, 0x101, 0x5), 0);
	assert_int_equal(vi_le64(liar.buf[1]), 0x5);
}

static void test_flatmem_create_args(void **state)
{
	struct viommu_flatmem *fm;

	(void)state;
	assert_int_equal(viommu_flatmem_create(0, 0, &fm), VIOMMU_EINVAL);
	assert_int_equal(viommu_flatmem_create(UINT64_MAX - 10, 4096, &fm), VIOMMU_EINVAL);
	assert_int_equal(viommu_flatmem_create(0, 4096, NULL), VIOMMU_EINVAL);
	/* A buffer ending exactly at 2^64 is fine. */
	assert_int_equal(viommu_flatmem_create(UINT64_MAX - 4095, 4096, &fm), 0);
	assert_int_equal(viommu_flatmem_ops()->dma_read(fm, UINT64_MAX - 7, &(uint64_t){ 0 }, 8),
			 8);
	viommu_flatmem_destroy(fm);
	viommu_flatmem_destroy(NULL);
}

struct irq_log {
	int msis, irqs;
	uint64_t addr;
	uint32_t data;
	unsigned int line;
	bool level;
};

static void on_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct irq_log *l = opaque;

	l->msis++;
	l->addr = addr;
	l->data = data;
}

static void on_irq(void *opaque, unsigned int line, bool level)
{
	struct irq_log *l = opaque;

	l->irqs++;
	l->line = line;
	l->level = level;
}

static void test_flatmem_irqs(void **state)
{
	struct viommu_flatmem *fm;
	struct viommu_host h;
	struct irq_log log = { 0 };
	struct viommu_flatmem_stats st;

	(void)state;
	assert_int_equal(viommu_flatmem_create(0, 4096, &fm), 0);
	h.ops = viommu_flatmem_ops();
	h.opaque = fm;
	vi_msi(&h, 0xfee00000, 0x41); /* counted even without a handler */
	viommu_flatmem_set_irq_handlers(fm, on_msi, on_irq, &log);
	vi_msi(&h, 0xfee01000, 0x42);
	vi_irq(&h, 5, true);
	assert_int_equal(log.msis, 1);
	assert_int_equal(log.addr, 0xfee01000);
	assert_int_equal(log.data, 0x42);
	assert_int_equal(log.irqs, 1);
	assert_int_equal(log.line, 5);
	assert_true(log.level);
	viommu_flatmem_get_stats(fm, &st);
	assert_int_equal(st.msis, 2);
	assert_int_equal(st.irqs, 1);
	viommu_flatmem_destroy(fm);
}

static void test_helpers_little_endian(void **state)
{
	struct viommu_flatmem *fm;
	struct viommu_host h;
	uint8_t *p;
	uint64_t v64;
	uint32_t v32;

	(void)state;
	assert_int_equal(viommu_flatmem_create(BASE, SIZE, &fm), 0);
	h.ops = viommu_flatmem_ops();
	h.opaque = fm;
	assert_int_equal(vi_write64(&h, BASE + 8, 0x0102030405060708ull), 0);
	p = viommu_flatmem_ptr(fm, BASE + 8, 8);
	assert_int_equal(p[0], 0x08);
	assert_int_equal(p[7], 0x01);
	assert_int_equal(vi_read64(&h, BASE + 8, &v64), 0);
	assert_int_equal(v64, 0x0102030405060708ull);
	assert_int_equal(vi_write32(&h, BASE + 16, 0xdeadbeef), 0);
	assert_int_equal(vi_read32(&h, BASE + 16, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);

	/* Failures leave a defined value and report EFAULT. */
	v64 = 77;
	assert_int_equal(vi_read64(&h, BASE + SIZE - 4, &v64), VIOMMU_EFAULT);
	assert_int_equal(v64, 0);
	assert_int_equal(vi_read32(&h, UINT64_MAX - 1, &v32), VIOMMU_EFAULT);
	assert_int_equal(vi_write64(&h, BASE - 8, 1), VIOMMU_EFAULT);
	assert_int_equal(vi_read(&h, BASE, NULL, 0), 0);
	viommu_flatmem_destroy(fm);
}

/* Host ops that return fewer bytes than asked, or odd errors, as a real VMM might. */
static ssize_t short_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	(void)gpa;
	memset(buf, 0xff, len);
	return len > 1 ? (ssize_t)(len - 1) : 0;
}

static ssize_t huge_negative(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	(void)opaque;
	(void)gpa;
	(void)buf;
	(void)len;
	return -100000; /* not a valid error code */
}

static ssize_t too_much(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
	(void)opaque;
	(void)gpa;
	(void)buf;
	return (ssize_t)len + 1;
}

static void test_short_and_odd_transfers(void **state)
{
	const struct viommu_host_ops sops = { .dma_read = short_read, .dma_write = too_much };
	const struct viommu_host_ops nops = { .dma_read = huge_negative };
	struct viommu_host h = { .ops = &sops };
	uint64_t v;
	uint8_t buf[16];

	(void)state;
	assert_int_equal(vi_read64(&h, 0x1000, &v), VIOMMU_EFAULT);
	assert_int_equal(v, 0);
	assert_int_equal(vi_read(&h, 0x1000, buf, sizeof(buf)), VIOMMU_EFAULT);
	assert_int_equal(vi_write(&h, 0x1000, buf, sizeof(buf)), VIOMMU_EFAULT);
	h.ops = &nops;
	assert_int_equal(vi_read(&h, 0x1000, buf, 4), VIOMMU_EFAULT);
	/* No dma_write at all: writes fail instead of crashing. */
	assert_int_equal(vi_write32(&h, 0x1000, 1), VIOMMU_EFAULT);
}

static void test_range_ok(void **state)
{
	(void)state;
	assert_true(vi_range_ok(0, 0));
	assert_true(vi_range_ok(UINT64_MAX, 1));
	assert_false(vi_range_ok(UINT64_MAX, 2));
	assert_true(vi_range_ok(0, UINT64_MAX));
	assert_true(vi_range_ok(1, UINT64_MAX)); /* [1, 2^64) ends exactly at the top */
	assert_false(vi_range_ok(2, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flatmem_bounds),
		cmocka_unit_test(test_flatmem_map_ptr),
		cmocka_unit_test(test_dm_span_checks),
		cmocka_unit_test(test_flatmem_create_args),
		cmocka_unit_test(test_flatmem_irqs),
		cmocka_unit_test(test_helpers_little_endian),
		cmocka_unit_test(test_short_and_odd_transfers),
		cmocka_unit_test(test_range_ok),
	};

	return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
