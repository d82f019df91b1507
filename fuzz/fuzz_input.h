/* SPDX-License-Identifier: MIT */
/* Reading typed values off a libFuzzer input; shared by the targets. */
#ifndef VIOMMU_FUZZ_INPUT_H
#define VIOMMU_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next @bytes bytes as a little-endian value; past the end of the input, zeros. */
static inline uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

#endif
