// SPDX-License-Identifier: MIT
/*
 * Per-domain mappings: a B+tree keyed by the first address of each mapping. Mappings never
 * overlap (MAP refuses overlap), so ordering by start orders them completely, and the mapping that
 * contains an address is the one with the greatest start not above it. Nodes hold up to 16 keys in
 * two cache lines, so a lookup among 10,000 mappings touches four nodes; leaves are linked in key
 * order for successors and walks. Internal keys are the smallest start of each child, so moving a
 * (key, child) pair between siblings keeps every invariant.
 *
 * Lookup, insert and removal are O(log n); UNMAP of k mappings is O(k log n). Splits take nodes
 * from a per-tree reserve filled before anything changes, so an insert either fails cleanly with
 * VIOMMU_ENOMEM or completes.
 */
#include <stdlib.h>

#include "models/virtio_iommu/vio_internal.h"

#define BT_MAX 16
#define BT_MIN (BT_MAX / 2)
#define BT_SPARE_KEEP 8

struct bt_node {
	uint16_t n; /* keys (leaf) or children (internal) */
	bool leaf;
	struct bt_node *next; /* leaves: the next leaf in key order */
	uint64_t key[BT_MAX + 1];
	union {
		struct bt_node *child[BT_MAX + 1];
		struct {
			uint64_t end[BT_MAX + 1];
			uint64_t phys[BT_MAX + 1];
			uint32_t flags[BT_MAX + 1];
		} v;
	};
};

/*
 * Number of keys <= @k in @n (keys are sorted). Counting without an early exit has no branch to
 * mispredict and vectorises over the 16 keys.
 */
static unsigned int upper(const struct bt_node *n, uint64_t k)
{
	unsigned int c = 0;

	for (unsigned int i = 0; i < n->n; i++)
		c += n->key[i] <= k;
	return c;
}

static unsigned int child_for(const struct bt_node *n, uint64_t k)
{
	unsigned int i = upper(n, k);

	return i ? i - 1 : 0;
}

static void get_entry(const struct bt_node *l, unsigned int i, struct vio_map *m)
{
	m->start = l->key[i];
	m->end = l->v.end[i];
	m->phys = l->v.phys[i];
	m->flags = l->v.flags[i];
}

static struct bt_node *take_spare(struct vio_tree *t)
{
	struct bt_node *n = t->spare;

	t->spare = n->next;
	t->nspare--;
	memset(n, 0, sizeof(*n));
	return n;
}

static void put_spare(struct vio_tree *t, struct bt_node *n)
{
	if (t->nspare >= BT_SPARE_KEEP) {
		free(n);
		return;
	}
	n->next = t->spare;
	t->spare = n;
	t->nspare++;
}

/* An insert splits at most one node per level plus a new root. */
static int reserve(struct vio_tree *t)
{
	while (t->nspare < t->depth + 2) {
		struct bt_node *n = malloc(sizeof(*n));

		if (!n)
			return VIOMMU_ENOMEM;
		n->next = t->spare;
		t->spare = n;
		t->nspare++;
	}
	return 0;
}

/* Descend to the leaf where @k belongs; *@idx = number of keys <= @k in it. */
static struct bt_node *find_leaf(const struct vio_tree *t, uint64_t k, unsigned int *idx)
{
	struct bt_node *n = t->root;

	if (!n)
		return NULL;
	while (!n->leaf)
		n = n->child[child_for(n, k)];
	*idx = upper(n, k);
	return n;
}

void vi_vio_map_neighbors(const struct vio_tree *t, uint64_t addr, struct vio_map *le, bool *has_le,
			  struct vio_map *gt, bool *has_gt)
{
	unsigned int i;
	struct bt_node *l = find_leaf(t, addr, &i);

	*has_le = *has_gt = false;
	if (!l)
		return;
	/* Internal keys are subtree minima, so the predecessor is in this leaf if anywhere. */
	if (i > 0) {
		get_entry(l, i - 1, le);
		*has_le = true;
	}
	if (i < l->n) {
		get_entry(l, i, gt);
		*has_gt = true;
	} else if (l->next) {
		get_entry(l->next, 0, gt);
		*has_gt = true;
	}
}

bool vi_vio_map_lookup(const struct vio_tree *t, uint64_t addr, struct vio_map *m)
{
	unsigned int i;
	struct bt_node *l = find_leaf(t, addr, &i);

	if (!l || i == 0 || l->v.end[i - 1] < addr)
		return false;
	get_entry(l, i - 1, m);
	return true;
}

bool vi_vio_map_ceil(const struct vio_tree *t, uint64_t addr, struct vio_map *m)
{
	struct vio_map le, gt;
	bool has_le, has_gt;

	vi_vio_map_neighbors(t, addr, &le, &has_le, &gt, &has_gt);
	if (has_le && le.start == addr) {
		*m = le;
		return true;
	}
	if (has_gt)
		*m = gt;
	return has_gt;
}

/* Move the upper half of @n into a new right sibling; returns the sibling. */
static struct bt_node *split(struct vio_tree *t, struct bt_node *n)
{
	struct bt_node *r = take_spare(t);
	unsigned int keep = n->n / 2, move = n->n - keep;

	r->leaf = n->leaf;
	r->n = (uint16_t)move;
	memcpy(r->key, n->key + keep, move * sizeof(r->key[0]));
	if (n->leaf) {
		memcpy(r->v.end, n->v.end + keep, move * sizeof(r->v.end[0]));
		memcpy(r->v.phys, n->v.phys + keep, move * sizeof(r->v.phys[0]));
		memcpy(r->v.flags, n->v.flags + keep, move * sizeof(r->v.flags[0]));
		r->next = n->next;
		n->next = r;
	} else {
		memcpy(r->child, n->child + keep, move * sizeof(r->child[0]));
	}
	n->n = (uint16_t)keep;
	return r;
}

/*
 * Insert into the subtree at @n; returns a new right sibling of @n when @n had to split. Sets
 * *@overlap, changing nothing, when @m overlaps a mapping: the predecessor is in the leaf reached
 * (internal keys are subtree minima), the successor there or first in the next leaf.
 */
static struct bt_node *insert(struct vio_tree *t, struct bt_node *n, const struct vio_map *m,
			      bool *overlap)
{
	unsigned int i;

	if (n->leaf) {
		i = upper(n, m->start);
		if ((i > 0 && n->v.end[i - 1] >= m->start) || (i < n->n && n->key[i] <= m->end) ||
		    (i == n->n && n->next && n->next->key[0] <= m->end)) {
			*overlap = true;
			return NULL;
		}
		memmove(n->key + i + 1, n->key + i, (n->n - i) * sizeof(n->key[0]));
		memmove(n->v.end + i + 1, n->v.end + i, (n->n - i) * sizeof(n->v.end[0]));
		memmove(n->v.phys + i + 1, n->v.phys + i, (n->n - i) * sizeof(n->v.phys[0]));
		memmove(n->v.flags + i + 1, n->v.flags + i, (n->n - i) * sizeof(n->v.flags[0]));
		n->key[i] = m->start;
		n->v.end[i] = m->end;
		n->v.phys[i] = m->phys;
		n->v.flags[i] = m->flags;
		n->n++;
	} else {
		struct bt_node *r;

		i = child_for(n, m->start);
		r = insert(t, n->child[i], m, overlap);
		if (*overlap)
			return NULL;
		n->key[i] = n->child[i]->key[0];
		if (r) {
			memmove(n->key + i + 2, n->key + i + 1, (n->n - i - 1) * sizeof(n->key[0]));
			memmove(n->child + i + 2, n->child + i + 1,
				(n->n - i - 1) * sizeof(n->child[0]));
			n->key[i + 1] = r->key[0];
			n->child[i + 1] = r;
			n->n++;
		}
	}
	return n->n > BT_MAX ? split(t, n) : NULL;
}

int vi_vio_map_insert(struct vio_tree *t, const struct vio_map *m)
{
	bool overlap = false;
	struct bt_node *r;

	if (reserve(t))
		return VIOMMU_ENOMEM;
	if (!t->root) {
		t->root = take_spare(t);
		t->root->leaf = true;
		t->depth = 1;
	}
	r = insert(t, t->root, m, &overlap);
	if (overlap)
		return VIOMMU_EEXIST;
	if (r) {
		struct bt_node *root = take_spare(t);

		root->n = 2;
		root->key[0] = t->root->key[0];
		root->key[1] = r->key[0];
		root->child[0] = t->root;
		root->child[1] = r;
		t->root = root;
		t->depth++;
	}
	return 0;
}

static void remove_at(struct bt_node *n, unsigned int i)
{
	unsigned int tail = n->n - i - 1;

	memmove(n->key + i, n->key + i + 1, tail * sizeof(n->key[0]));
	if (n->leaf) {
		memmove(n->v.end + i, n->v.end + i + 1, tail * sizeof(n->v.end[0]));
		memmove(n->v.phys + i, n->v.phys + i + 1, tail * sizeof(n->v.phys[0]));
		memmove(n->v.flags + i, n->v.flags + i + 1, tail * sizeof(n->v.flags[0]));
	} else {
		memmove(n->child + i, n->child + i + 1, tail * sizeof(n->child[0]));
	}
	n->n--;
}

/* Copy slot @from of @src into slot @to of @dst, shifting nothing. */
static void copy_slot(struct bt_node *dst, unsigned int to, const struct bt_node *src,
		      unsigned int from)
{
	dst->key[to] = src->key[from];
	if (dst->leaf) {
		dst->v.end[to] = src->v.end[from];
		dst->v.phys[to] = src->v.phys[from];
		dst->v.flags[to] = src->v.flags[from];
	} else {
		dst->child[to] = src->child[from];
	}
}

/* Make room at slot 0 of @n. */
static void shift_right(struct bt_node *n)
{
	memmove(n->key + 1, n->key, n->n * sizeof(n->key[0]));
	if (n->leaf) {
		memmove(n->v.end + 1, n->v.end, n->n * sizeof(n->v.end[0]));
		memmove(n->v.phys + 1, n->v.phys, n->n * sizeof(n->v.phys[0]));
		memmove(n->v.flags + 1, n->v.flags, n->n * sizeof(n->v.flags[0]));
	} else {
		memmove(n->child + 1, n->child, n->n * sizeof(n->child[0]));
	}
	n->n++;
}

/* Child @i of @p fell below BT_MIN: borrow from a sibling, or merge with one. */
static void fix_underflow(struct vio_tree *t, struct bt_node *p, unsigned int i)
{
	struct bt_node *c = p->child[i], *l = i > 0 ? p->child[i - 1] : NULL;
	struct bt_node *r = i + 1 < p->n ? p->child[i + 1] : NULL;

	if (l && l->n > BT_MIN) {
		shift_right(c);
		copy_slot(c, 0, l, l->n - 1u);
		l->n--;
		p->key[i] = c->key[0];
		return;
	}
	if (r && r->n > BT_MIN) {
		copy_slot(c, c->n, r, 0);
		c->n++;
		remove_at(r, 0);
		p->key[i + 1] = r->key[0];
		return;
	}
	/* Merge the right one of the pair into the left one; both fit in BT_MAX. */
	if (!r) {
		r = c;
		c = l;
		i--;
	}
	for (unsigned int j = 0; j < r->n; j++)
		copy_slot(c, c->n + j, r, j);
	c->n = (uint16_t)(c->n + r->n);
	if (c->leaf)
		c->next = r->next;
	remove_at(p, i + 1);
	put_spare(t, r);
}

/*
 * Remove the mapping starting at @start from the subtree at @n, only if it ends at *@end when @end
 * is given; returns true (with a copy in @m) if it was removed.
 */
static bool remove_key(struct vio_tree *t, struct bt_node *n, uint64_t start, const uint64_t *end,
		       struct vio_map *m)
{
	unsigned int i;

	if (n->leaf) {
		i = upper(n, start);
		if (i == 0 || n->key[i - 1] != start || (end && n->v.end[i - 1] != *end))
			return false;
		get_entry(n, i - 1, m);
		remove_at(n, i - 1);
		return true;
	}
	i = child_for(n, start);
	if (!remove_key(t, n->child[i], start, end, m))
		return false;
	if (n->child[i]->n)
		n->key[i] = n->child[i]->key[0];
	if (n->child[i]->n < BT_MIN && n->n > 1)
		fix_underflow(t, n, i);
	return true;
}

static bool remove_common(struct vio_tree *t, uint64_t start, const uint64_t *end,
			  struct vio_map *m)
{
	struct bt_node *old;

	if (!t->root || !remove_key(t, t->root, start, end, m))
		return false;
	/* A root with one child gives way to it; an empty leaf root goes. */
	while (!t->root->leaf && t->root->n == 1) {
		old = t->root;
		t->root = old->child[0];
		t->depth--;
		put_spare(t, old);
	}
	if (t->root->leaf && t->root->n == 0) {
		put_spare(t, t->root);
		t->root = NULL;
		t->depth = 0;
	}
	return true;
}

void vi_vio_map_remove(struct vio_tree *t, uint64_t start)
{
	struct vio_map m;

	remove_common(t, start, NULL, &m);
}

bool vi_vio_map_remove_exact(struct vio_tree *t, uint64_t start, uint64_t end, struct vio_map *m)
{
	return remove_common(t, start, &end, m);
}

void vi_vio_map_walk(const struct vio_tree *t, void (*fn)(void *arg, const struct vio_map *m),
		     void *arg)
{
	struct bt_node *l = t->root;
	struct vio_map m;

	if (!l)
		return;
	while (!l->leaf)
		l = l->child[0];
	for (; l; l = l->next) {
		for (unsigned int i = 0; i < l->n; i++) {
			get_entry(l, i, &m);
			fn(arg, &m);
		}
	}
}

static void free_nodes(struct bt_node *n)
{
	/* Recursion depth is the tree depth: log base 8 of the mapping count at most. */
	if (!n->leaf) {
		for (unsigned int i = 0; i < n->n; i++)
			free_nodes(n->child[i]);
	}
	free(n);
}

void vi_vio_map_clear(struct vio_tree *t)
{
	if (t->root)
		free_nodes(t->root);
	while (t->spare) {
		struct bt_node *n = t->spare;

		t->spare = n->next;
		free(n);
	}
	memset(t, 0, sizeof(*t));
}
