/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cmocka suites. */
#ifndef VIOMMU_TEST_COMMON_H
#define VIOMMU_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

/* splitmix64: a deterministic generator whose seed the randomized tests print. */
struct test_rng {
	uint64_t s;
};

static inline uint64_t test_rand(struct test_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t test_below(struct test_rng *r, uint64_t n)
{
	return test_rand(r) % n;
}

/* Seed from VIOMMU_TEST_SEED when set, so a failure can be replayed. */
static inline uint64_t test_seed(uint64_t dflt)
{
	const char *s = getenv("VIOMMU_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : dflt;

	fprintf(stderr, "# seed 0x%llx (set VIOMMU_TEST_SEED to replay)\n",
		(unsigned long long)seed);
	return seed;
}

/* A little-endian 64-bit value in flat memory, as a CPU stores and loads it. */
static inline void test_poke64(struct viommu_flatmem *fm, uint64_t gpa, uint64_t v)
{
	uint8_t *p = viommu_flatmem_ptr(fm, gpa, 8);

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t test_peek64(struct viommu_flatmem *fm, uint64_t gpa)
{
	const uint8_t *p = viommu_flatmem_ptr(fm, gpa, 8);
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A translation @v must answer (any result, faults included): the test fails when it errs. */
static inline struct viommu_xlate_result test_xl(struct viommu *v, uint32_t sid, uint64_t iova,
						 uint64_t len, uint32_t access)
{
	struct viommu_xlate_req req = { .sid = sid, .iova = iova, .len = len, .access = access };
	struct viommu_xlate_result res;

	assert_int_equal(viommu_translate(v, &req, &res), 0);
	return res;
}

/* MMIO accesses to @v that must succeed. A read starts from a value the device must replace. */
static inline uint64_t test_mmio_rd(struct viommu *v, uint64_t off, unsigned int size)
{
	uint64_t val = 0xdead;

	assert_int_equal(viommu_mmio_read(v, off, size, &val), 0);
	return val;
}

static inline void test_mmio_wr(struct viommu *v, uint64_t off, unsigned int size, uint64_t val)
{
	assert_int_equal(viommu_mmio_write(v, off, size, val), 0);
}

/* The MSIs flat memory delivered: how many, and the last one (test_on_msi records them). */
struct test_msi_log {
	int n;
	uint64_t addr;
	uint32_t data;
};

/* An MSI handler for viommu_flatmem_set_irq_handlers(), its opaque a struct test_msi_log. */
static inline void test_on_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct test_msi_log *m = opaque;

	m->n++;
	m->addr = addr;
	m->data = data;
}

#endif
