// SPDX-License-Identifier: MIT
/*
 * Per-domain mappings: an AVL tree keyed by the first address of each mapping. Mappings never
 * overlap (MAP refuses overlap), so ordering by start orders them completely and the mapping
 * containing an address is the one with the greatest start not above it: O(log n) lookup, insert
 * and removal, and UNMAP of k mappings in O(k log n).
 */
#include <stdlib.h>

#include "models/virtio_iommu/vio_internal.h"

#define POOL_CHUNK 256u
#define MAX_HEIGHT 96 /* an AVL tree of 2^64 nodes is shorter than this */

struct vio_map *vio_map_alloc(struct vio_pool *p)
{
	struct vio_map *m;

	if (!p->free) {
		struct vio_map *chunk;

		if (p->nr_chunks == p->cap_chunks) {
			size_t cap = p->cap_chunks ? p->cap_chunks * 2 : 16;
			void **c = realloc(p->chunks, cap * sizeof(*c));

			if (!c)
				return NULL;
			p->chunks = c;
			p->cap_chunks = cap;
		}
		chunk = calloc(POOL_CHUNK, sizeof(*chunk));
		if (!chunk)
			return NULL;
		p->chunks[p->nr_chunks++] = chunk;
		for (size_t i = 0; i < POOL_CHUNK; i++) {
			chunk[i].left = p->free;
			p->free = &chunk[i];
		}
	}
	m = p->free;
	p->free = m->left;
	memset(m, 0, sizeof(*m));
	return m;
}

void vio_map_free(struct vio_pool *p, struct vio_map *m)
{
	m->left = p->free;
	p->free = m;
}

void vio_pool_fini(struct vio_pool *p)
{
	for (size_t i = 0; i < p->nr_chunks; i++)
		free(p->chunks[i]);
	free(p->chunks);
	memset(p, 0, sizeof(*p));
}

static int height(const struct vio_map *n)
{
	return n ? n->height : 0;
}

static void fix_height(struct vio_map *n)
{
	int l = height(n->left), r = height(n->right);

	n->height = 1 + (l > r ? l : r);
}

static struct vio_map *rotate_right(struct vio_map *y)
{
	struct vio_map *x = y->left;

	y->left = x->right;
	x->right = y;
	fix_height(y);
	fix_height(x);
	return x;
}

static struct vio_map *rotate_left(struct vio_map *x)
{
	struct vio_map *y = x->right;

	x->right = y->left;
	y->left = x;
	fix_height(x);
	fix_height(y);
	return y;
}

static struct vio_map *rebalance(struct vio_map *n)
{
	int bal;

	fix_height(n);
	bal = height(n->left) - height(n->right);
	if (bal > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (bal < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

static struct vio_map *insert(struct vio_map *n, struct vio_map *m)
{
	if (!n)
		return m;
	if (m->start < n->start)
		n->left = insert(n->left, m);
	else
		n->right = insert(n->right, m);
	return rebalance(n);
}

void vio_map_insert(struct vio_map **root, struct vio_map *m)
{
	m->left = m->right = NULL;
	m->height = 1;
	*root = insert(*root, m);
}

static struct vio_map *remove_min(struct vio_map *n, struct vio_map **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = remove_min(n->left, min);
	return rebalance(n);
}

static struct vio_map *remove_node(struct vio_map *n, uint64_t start)
{
	struct vio_map *l, *r, *m;

	if (!n)
		return NULL;
	if (start < n->start) {
		n->left = remove_node(n->left, start);
	} else if (start > n->start) {
		n->right = remove_node(n->right, start);
	} else {
		l = n->left;
		r = n->right;
		if (!r)
			return l;
		r = remove_min(r, &m);
		m->left = l;
		m->right = r;
		return rebalance(m);
	}
	return rebalance(n);
}

void vio_map_remove(struct vio_map **root, struct vio_map *m)
{
	*root = remove_node(*root, m->start);
}

struct vio_map *vio_map_lookup(struct vio_map *n, uint64_t addr)
{
	struct vio_map *best = NULL;

	while (n) {
		if (n->start <= addr) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best && addr <= best->end ? best : NULL;
}

void vio_map_neighbors(struct vio_map *n, uint64_t addr, struct vio_map **le, struct vio_map **gt)
{
	*le = *gt = NULL;
	while (n) {
		if (n->start <= addr) {
			*le = n;
			n = n->right;
		} else {
			*gt = n;
			n = n->left;
		}
	}
}

struct vio_map *vio_map_ceil(struct vio_map *n, uint64_t addr)
{
	struct vio_map *best = NULL;

	while (n) {
		if (n->start >= addr) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

void vio_map_walk(struct vio_map *n, void (*fn)(void *arg, const struct vio_map *m), void *arg)
{
	struct vio_map *stack[MAX_HEIGHT];
	int sp = 0;

	while (n || sp) {
		while (n && sp < MAX_HEIGHT) {
			stack[sp++] = n;
			n = n->left;
		}
		n = stack[--sp];
		fn(arg, n);
		n = n->right;
	}
}
