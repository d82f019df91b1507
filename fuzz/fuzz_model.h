/* SPDX-License-Identifier: MIT */
/*
 * The harness the register-model targets (vtd, amdvi, smmuv3, calgary) share: guest memory
 * filled from the input, and the operations every model takes (arbitrary MMIO, memory pokes,
 * DMA). Each helper consumes input bytes in exactly the order the targets did before they
 * shared it, so the committed corpora keep their meaning: do not reorder the take() calls.
 */
#ifndef VIOMMU_FUZZ_MODEL_H
#define VIOMMU_FUZZ_MODEL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/viommu.h>

#include "fuzz_input.h"

#define MEM_SIZE (1u << 20)

/* A consumer that only checks each event's range is well-formed. */
static inline void fuzz_on_event(void *opaque, const struct viommu_event *ev)
{
	(void)opaque;
	if (ev->last < ev->iova)
		abort();
}

/* Interrupts go nowhere: the models only have to raise them without crashing. */
static inline void fuzz_on_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque;
	(void)addr;
	(void)data;
}

/* MEM_SIZE bytes of flat guest memory at 0; the target stops on failure (it never fails). */
static inline struct viommu_flatmem *fuzz_mem_create(void)
{
	struct viommu_flatmem *fm;

	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	return fm;
}

/*
 * The first part of the input is guest memory from 0, where tables and queues live: a 2-byte
 * length (modulo @max, clipped to what is left), then that many bytes. Returns the memory.
 */
static inline uint8_t *fuzz_mem_fill(struct input *in, struct viommu_flatmem *fm, size_t max)
{
	uint8_t *mem = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	size_t fill = (size_t)take(in, 2) % max;

	if (fill > in->n)
		fill = in->n;
	memcpy(mem, in->p, fill);
	in->p += fill;
	in->n -= fill;
	return mem;
}

/*
 * A register write from the model's table @regs: the index (1 byte), then the value (8 bytes
 * when @op asks for it and the offset is 64-bit aligned, else 4). With op bit 6 the value is
 * ANDed with @mask, which keeps table and queue addresses inside memory most of the time.
 */
static inline void fuzz_reg_write(struct input *in, struct viommu *v, uint8_t op,
				  const uint32_t *regs, size_t nregs, uint64_t mask)
{
	uint64_t off = regs[take(in, 1) % nregs];
	unsigned int sz = (op & 0x80) && !(off & 7) ? 8 : 4;
	uint64_t val = take(in, sz);

	if (op & 0x40)
		val &= mask;
	viommu_mmio_write(v, off, sz, val);
}

/* A read then a write at any offset (@off_bytes of input, ANDed with @off_mask), any width. */
static inline void fuzz_mmio_any(struct input *in, struct viommu *v, unsigned int off_bytes,
				 uint64_t off_mask)
{
	uint64_t val = 0;
	uint64_t off = take(in, off_bytes) & off_mask;
	unsigned int sz = 1u << (take(in, 1) & 3);

	viommu_mmio_read(v, off, sz, &val);
	viommu_mmio_write(v, off, sz, take(in, 8));
}

/* Eight bytes poked at any address (tables change under the caches); returns the address. */
static inline uint64_t fuzz_poke(struct input *in, uint8_t *mem)
{
	uint64_t at = take(in, 3) % (MEM_SIZE - 8);

	for (int i = 0; i < 8; i++)
		mem[at + (uint64_t)i] = (uint8_t)take(in, 1);
	return at;
}

/*
 * A DMA request: requester (2 bytes), IOVA (8), length (2), access (1), in that order (taken
 * one statement at a time: the order of initializer expressions is unspecified in C).
 */
static inline struct viommu_xlate_req fuzz_take_dma(struct input *in)
{
	struct viommu_xlate_req req = { 0 };

	req.sid = (uint32_t)take(in, 2);
	req.iova = take(in, 8);
	req.len = take(in, 2);
	req.access = (uint32_t)take(in, 1) & 0xf;
	return req;
}

/* A successful translation covers at least one byte, at most the request, and does not wrap. */
static inline void fuzz_check_xlate(const struct viommu_xlate_req *req,
				    const struct viommu_xlate_result *res)
{
	uint64_t want = req->len ? req->len : 1;

	if (viommu_xlate_ok(res) &&
	    (!res->len || res->len > want || res->out + (res->len - 1) < res->out))
		abort();
}

#endif
