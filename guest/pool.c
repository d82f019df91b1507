// SPDX-License-Identifier: MIT
/* Guest page pool; see pool.h. */
#include <stdlib.h>
#include <string.h>

#include <viommu/viommu.h>

#include "pool.h"

void vg_pool_init(struct vg_pool *p, struct viommu_flatmem *mem, uint64_t base, uint64_t size)
{
	memset(p, 0, sizeof(*p));
	p->mem = mem;
	p->base = base;
	p->size = size;
	p->bump = base;
}

void vg_pool_fini(struct vg_pool *p)
{
	free(p->free_pages);
	p->free_pages = NULL;
	p->nfree = p->cap_free = 0;
}

int vg_pool_reserve(struct vg_pool *p, uint64_t size, uint64_t align, uint64_t *gpa)
{
	uint64_t end = p->base + p->size;
	uint64_t a = (p->bump + align - 1) & ~(align - 1);

	/* a < bump: the alignment wrapped around. */
	if (a < p->bump || a > end || size > end - a)
		return VIOMMU_ENOMEM;
	p->bump = a + size;
	*gpa = a;
	return 0;
}

int vg_pool_alloc(struct vg_pool *p, uint64_t size, uint64_t *gpa)
{
	uint64_t a;
	void *ptr;
	int ret;

	if (size == VG_POOL_PAGE && p->nfree) {
		a = p->free_pages[--p->nfree];
	} else {
		ret = vg_pool_reserve(p, size, size, &a);
		if (ret)
			return ret;
	}
	ptr = viommu_flatmem_ptr(p->mem, a, size);
	if (!ptr)
		return VIOMMU_EFAULT;
	memset(ptr, 0, size);
	*gpa = a;
	return 0;
}

void vg_pool_free(struct vg_pool *p, uint64_t gpa, uint64_t size)
{
	for (uint64_t off = 0; off < size; off += VG_POOL_PAGE) {
		if (p->nfree == p->cap_free) {
			size_t c = p->cap_free ? p->cap_free * 2 : 64;
			uint64_t *q = realloc(p->free_pages, c * sizeof(*q));

			if (!q)
				return; /* the page leaks from the pool; nothing breaks */
			p->free_pages = q;
			p->cap_free = c;
		}
		p->free_pages[p->nfree++] = gpa + off;
	}
}

void vg_pool_store64(struct vg_pool *p, uint64_t gpa, uint64_t v)
{
	uint8_t *b = viommu_flatmem_ptr(p->mem, gpa, 8);

	for (int i = 0; b && i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

uint64_t vg_pool_load64(struct vg_pool *p, uint64_t gpa)
{
	const uint8_t *b = viommu_flatmem_ptr(p->mem, gpa, 8);
	uint64_t v = 0;

	for (int i = 0; b && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static int pt_alloc(void *opaque, uint64_t size, uint64_t *gpa)
{
	return vg_pool_alloc(opaque, size, gpa);
}

static void pt_free(void *opaque, uint64_t gpa, uint64_t size)
{
	vg_pool_free(opaque, gpa, size);
}

const struct viommu_pt_alloc_ops vg_pool_pt_ops = { pt_alloc, pt_free };
