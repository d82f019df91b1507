// SPDX-License-Identifier: MIT
/*
 * Baselines for `viommu-bench devtlb`, each written the way its original is (see
 * devtlb_baselines.h), with the same correct coverage rule as the device IOTLB (one entry's
 * length at most) so that only the data structure differs.
 */
#include <stdlib.h>
#include <string.h>

#include "devtlb_baselines.h"

/* ---- DPDK lib/vhost/iotlb.c: TAILQ sorted by iova, linear find ---- */

struct bl_node {
	struct bl_node *next;
	uint64_t iova, size, uaddr;
	uint32_t perm;
};

struct bl_list {
	struct bl_node *head;
	struct bl_node *pool;
	size_t used, max;
};

struct bl_list *bl_list_create(size_t max)
{
	struct bl_list *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->pool = calloc(max, sizeof(struct bl_node));
	if (!l->pool) {
		free(l);
		return NULL;
	}
	l->max = max;
	return l;
}

void bl_list_destroy(struct bl_list *l)
{
	if (l) {
		free(l->pool);
		free(l);
	}
}

void bl_list_insert(struct bl_list *l, uint64_t iova, uint64_t size, uint64_t uaddr, uint32_t perm)
{
	struct bl_node *n, **pp = &l->head;

	if (l->used == l->max)
		return;
	/* Pool order is insertion order; list order is IOVA order, as in DPDK. */
	n = &l->pool[l->used++];
	*n = (struct bl_node){ NULL, iova, size, uaddr, perm };
	while (*pp && (*pp)->iova < iova)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
}

void bl_list_append(struct bl_list *l, uint64_t iova, uint64_t size, uint64_t uaddr, uint32_t perm)
{
	if (l->used < l->max)
		l->pool[l->used++] = (struct bl_node){ NULL, iova, size, uaddr, perm };
}

static int cmp_node(const void *a, const void *b)
{
	const struct bl_node *x = *(struct bl_node *const *)a, *y = *(struct bl_node *const *)b;

	return (x->iova > y->iova) - (x->iova < y->iova);
}

void bl_list_link(struct bl_list *l)
{
	struct bl_node **v = malloc(l->used * sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < l->used; i++)
		v[i] = &l->pool[i];
	qsort(v, l->used, sizeof(*v), cmp_node);
	l->head = l->used ? v[0] : NULL;
	for (size_t i = 0; i < l->used; i++)
		v[i]->next = i + 1 < l->used ? v[i + 1] : NULL;
	free(v);
}

uint64_t bl_list_find(const struct bl_list *l, uint64_t iova, uint64_t *len, uint32_t perm)
{
	for (const struct bl_node *n = l->head; n; n = n->next) {
		if (iova < n->iova)
			break; /* sorted: no later node can cover it */
		if (iova >= n->iova + n->size)
			continue;
		if ((n->perm & perm) != perm)
			return 0;
		if (*len > n->iova + n->size - iova)
			*len = n->iova + n->size - iova;
		return n->uaddr + (iova - n->iova);
	}
	return 0;
}

/* ---- Linux drivers/vhost/iotlb.c: INTERVAL_TREE_DEFINE(start, last, __subtree_last) ---- */

struct it_node {
	struct it_node *l, *r;
	uint64_t start, last, subtree_last, addr;
	uint32_t perm, prio;
};

struct bl_itree {
	struct it_node *root;
	uint64_t rng;
};

struct bl_itree *bl_itree_create(void)
{
	struct bl_itree *t = calloc(1, sizeof(*t));

	if (t)
		t->rng = 0x1badb002;
	return t;
}

static void it_free(struct it_node *n)
{
	if (n) {
		it_free(n->l);
		it_free(n->r);
		free(n);
	}
}

void bl_itree_destroy(struct bl_itree *t)
{
	if (t) {
		it_free(t->root);
		free(t);
	}
}

static void it_update(struct it_node *n)
{
	n->subtree_last = n->last;
	if (n->l && n->l->subtree_last > n->subtree_last)
		n->subtree_last = n->l->subtree_last;
	if (n->r && n->r->subtree_last > n->subtree_last)
		n->subtree_last = n->r->subtree_last;
}

/*
 * Balanced by random priorities (a treap) instead of red-black colours; the augmented search is
 * Linux's interval_tree_iter_first(). Depth is O(log n) in expectation, as RB's is in the worst
 * case.
 */
static struct it_node *it_insert(struct it_node *t, struct it_node *n)
{
	if (!t)
		return n;
	if (n->prio > t->prio) {
		/* Split t around n->start into n's children. */
		struct it_node **lp = &n->l, **rp = &n->r;

		while (t) {
			if (t->start < n->start) {
				*lp = t;
				lp = &t->r;
				t = t->r;
			} else {
				*rp = t;
				rp = &t->l;
				t = t->l;
			}
		}
		*lp = *rp = NULL;
		/* Recompute the augmentation bottom-up along both spines. */
		struct it_node *stack[128];
		int sp = 0;

		for (struct it_node *x = n->l; x && sp < 128; x = x->r)
			stack[sp++] = x;
		while (sp)
			it_update(stack[--sp]);
		for (struct it_node *x = n->r; x && sp < 128; x = x->l)
			stack[sp++] = x;
		while (sp)
			it_update(stack[--sp]);
		it_update(n);
		return n;
	}
	if (n->start < t->start)
		t->l = it_insert(t->l, n);
	else
		t->r = it_insert(t->r, n);
	it_update(t);
	return t;
}

void bl_itree_insert(struct bl_itree *t, uint64_t iova, uint64_t size, uint64_t uaddr,
		     uint32_t perm)
{
	struct it_node *n = calloc(1, sizeof(*n)); /* kmalloc per node, as vhost does */
	uint64_t z;

	if (!n)
		return;
	z = (t->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	n->prio = (uint32_t)(z >> 32);
	n->start = iova;
	n->last = iova + size - 1;
	n->subtree_last = n->last;
	n->addr = uaddr;
	n->perm = perm;
	t->root = it_insert(t->root, n);
}

uint64_t bl_itree_find(const struct bl_itree *t, uint64_t iova, uint64_t *len, uint32_t perm)
{
	const struct it_node *n = t->root;

	if (!n || n->subtree_last < iova)
		return 0;
	/* interval_tree_subtree_search(node, start = iova, last = iova) */
	for (;;) {
		if (n->l && iova <= n->l->subtree_last) {
			n = n->l;
			continue;
		}
		if (n->start <= iova) {
			if (iova <= n->last)
				break;
			if (n->r) {
				n = n->r;
				if (iova <= n->subtree_last)
					continue;
			}
		}
		return 0;
	}
	if ((n->perm & perm) != perm)
		return 0;
	if (*len - 1 > n->last - iova)
		*len = n->last - iova + 1;
	return n->addr + (iova - n->start);
}

/* ---- QEMU hw/i386/intel_iommu.c: GHashTable of {gfn, level} -> VTDIOTLBEntry ---- */

struct ph_entry {
	uint64_t gfn;
	unsigned int shift;
	uint64_t uaddr;
	uint32_t perm;
};

struct bl_phash {
	/* GHashTable keeps hashes, key pointers and value pointers in parallel arrays. */
	uint32_t *hashes; /* 0 empty */
	struct ph_entry **vals;
	size_t mask, n, max;
};

struct bl_phash *bl_phash_create(size_t max)
{
	struct bl_phash *h = calloc(1, sizeof(*h));
	size_t size = 8;

	if (!h)
		return NULL;
	while (size < max * 2)
		size <<= 1;
	h->hashes = calloc(size, sizeof(*h->hashes));
	h->vals = calloc(size, sizeof(*h->vals));
	if (!h->hashes || !h->vals) {
		bl_phash_destroy(h);
		return NULL;
	}
	h->mask = size - 1;
	h->max = max;
	return h;
}

void bl_phash_destroy(struct bl_phash *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->vals && i <= h->mask; i++)
		free(h->vals[i]);
	free(h->hashes);
	free(h->vals);
	free(h);
}

/* vtd_iotlb_hash(): gfn ^ (level << 5 ...) folded to 32 bits, as a guint. */
static uint32_t ph_hash(uint64_t gfn, unsigned int shift)
{
	uint64_t k = gfn ^ ((uint64_t)shift << 47);
	uint32_t v = (uint32_t)(k ^ (k >> 32)) * 0x9e3779b1u;

	return v ? v : 1;
}

void bl_phash_insert(struct bl_phash *h, uint64_t iova, unsigned int shift, uint64_t uaddr,
		     uint32_t perm)
{
	uint64_t gfn = iova >> shift;
	uint32_t hv = ph_hash(gfn, shift);
	struct ph_entry *e;

	if (h->n == h->max)
		return; /* QEMU flushes everything here; the bench never fills it */
	e = malloc(sizeof(*e));
	if (!e)
		return;
	*e = (struct ph_entry){ gfn, shift, uaddr, perm };
	for (size_t i = hv;; i++) {
		if (!h->hashes[i & h->mask]) {
			h->hashes[i & h->mask] = hv;
			h->vals[i & h->mask] = e;
			h->n++;
			return;
		}
	}
}

uint64_t bl_phash_find(const struct bl_phash *h, uint64_t iova, uint64_t *len, uint32_t perm)
{
	static const unsigned int shifts[] = { 12, 21, 30 }; /* vtd_lookup_iotlb(): per level */

	for (unsigned int s = 0; s < 3; s++) {
		uint64_t gfn = iova >> shifts[s];
		uint32_t hv = ph_hash(gfn, shifts[s]);

		for (size_t i = hv; h->hashes[i & h->mask]; i++) {
			const struct ph_entry *e = h->vals[i & h->mask];

			if (h->hashes[i & h->mask] != hv || e->gfn != gfn || e->shift != shifts[s])
				continue;
			if ((e->perm & perm) != perm)
				return 0;
			uint64_t off = iova & ((1ull << e->shift) - 1);

			if (*len > (1ull << e->shift) - off)
				*len = (1ull << e->shift) - off;
			return e->uaddr + off;
		}
	}
	return 0;
}
