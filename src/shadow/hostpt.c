// SPDX-License-Identifier: MIT
/*
 * In-process host IOMMU back-end: our VT-d second-level table (src/pt) in a flat host memory of
 * its own, a walker and plan for the device's DMA, and a host IOTLB invalidated at each commit
 * over the span the batch unmapped (as a host driver flushes once per unmap batch).
 */
#include <stdlib.h>

#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/pt.h>
#include <viommu/shadow.h>

#define HOST_TABLE_MEM (64ull << 20) /* tables for ~16k leaf tables: far beyond the tests */
#define PAGE 4096ull

struct viommu_shadow_hostpt {
	struct viommu_flatmem *mem;
	uint64_t bump;
	uint64_t *free_pages;
	size_t nfree, capfree;
	struct viommu_pt *pt;
	struct viommu_pt_walker *walker;
	struct viommu_pt_plan *plan;
	struct viommu_iotlb *tlb;
	bool superpages;
	/* Span unmapped since the last commit. */
	bool dirty;
	uint64_t dirty_first, dirty_last;
	struct viommu_shadow_hostpt_stats st;
};

static int alloc_table(void *opaque, uint64_t size, uint64_t *gpa)
{
	struct viommu_shadow_hostpt *hp = opaque;

	if (size == PAGE && hp->nfree) {
		*gpa = hp->free_pages[--hp->nfree];
		hp->st.table_bytes += size;
		return 0;
	}
	hp->bump = (hp->bump + size - 1) & ~(size - 1);
	if (hp->bump + size > HOST_TABLE_MEM)
		return VIOMMU_ENOMEM;
	*gpa = hp->bump;
	hp->bump += size;
	hp->st.table_bytes += size;
	return 0;
}

static void free_table(void *opaque, uint64_t gpa, uint64_t size)
{
	struct viommu_shadow_hostpt *hp = opaque;

	hp->st.table_bytes -= size;
	if (size != PAGE)
		return; /* only 4 KiB tables are recycled; the rest stays out of use */
	if (hp->nfree == hp->capfree) {
		size_t cap = hp->capfree ? hp->capfree * 2 : 256;
		uint64_t *p = realloc(hp->free_pages, cap * sizeof(*p));

		if (!p)
			return;
		hp->free_pages = p;
		hp->capfree = cap;
	}
	hp->free_pages[hp->nfree++] = gpa;
}

static const struct viommu_pt_alloc_ops table_alloc = { alloc_table, free_table };

static int hp_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	struct viommu_shadow_hostpt *hp = ctx;

	hp->st.maps++;
	return viommu_pt_map(hp->pt, iova, host, size, perm & VIOMMU_ACC_RW,
			     hp->superpages ? 0 : PAGE);
}

static int hp_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct viommu_shadow_hostpt *hp = ctx;
	uint64_t unmapped = 0;
	int ret;

	hp->st.unmaps++;
	ret = viommu_pt_unmap(hp->pt, iova, size, &unmapped);
	if (ret)
		return ret;
	if (unmapped) {
		if (!hp->dirty || iova < hp->dirty_first)
			hp->dirty_first = iova;
		if (!hp->dirty || iova + size - 1 > hp->dirty_last)
			hp->dirty_last = iova + size - 1;
		hp->dirty = true;
	}
	return 0;
}

static int hp_commit(void *ctx)
{
	struct viommu_shadow_hostpt *hp = ctx;

	hp->st.commits++;
	if (hp->dirty) {
		struct viommu_iotlb_inval inv = {
			.match = VIOMMU_IOTLB_MATCH_SID | VIOMMU_IOTLB_MATCH_ADDR,
			.first = hp->dirty_first,
			.last = hp->dirty_last,
		};

		viommu_iotlb_invalidate(hp->tlb, &inv);
		hp->st.iotlb_invalidations++;
		hp->dirty = false;
	}
	return 0;
}

static const struct viommu_shadow_host_ops ops_split = {
	.flags = VIOMMU_SHADOW_HOST_SPLIT,
	.map = hp_map,
	.unmap = hp_unmap,
	.commit = hp_commit,
};

static const struct viommu_shadow_host_ops ops_whole = {
	.flags = 0,
	.map = hp_map,
	.unmap = hp_unmap,
	.commit = hp_commit,
};

const struct viommu_shadow_host_ops *viommu_shadow_hostpt_ops(const struct viommu_shadow_hostpt *hp)
{
	if (!hp)
		return NULL;
	/* Superpages cannot be split by viommu_pt_unmap(): such a host unmaps whole mappings. */
	return hp->superpages ? &ops_whole : &ops_split;
}

int viommu_shadow_hostpt_create(bool superpages, uint32_t iotlb_entries,
				struct viommu_shadow_hostpt **out)
{
	struct viommu_pt_cfg pc = {
		.format = VIOMMU_PT_VTD_SL,
		.levels = 4,
		.flags = superpages ? VIOMMU_PT_F_SP_2M | VIOMMU_PT_F_SP_1G : 0,
	};
	struct viommu_iotlb_config tc = { .capacity = 1, .ways = 1 };
	struct viommu_shadow_hostpt *hp;
	int ret;

	if (!out)
		return VIOMMU_EINVAL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return VIOMMU_ENOMEM;
	hp->superpages = superpages;
	hp->bump = PAGE; /* 0 stays unused: a zero table address is a bug, not a table */
	while (tc.capacity < iotlb_entries && tc.capacity < (1u << 20))
		tc.capacity <<= 1;
	tc.ways = tc.capacity >= 8 ? 8 : tc.capacity;
	ret = viommu_flatmem_create(0, HOST_TABLE_MEM, &hp->mem);
	if (!ret)
		ret = viommu_pt_create(&pc, viommu_flatmem_ops(), hp->mem, &table_alloc, hp,
				       &hp->pt);
	if (!ret)
		ret = viommu_iotlb_create(&tc, &hp->tlb);
	if (!ret)
		ret = viommu_pt_walker_create(viommu_flatmem_ops(), hp->mem, &hp->walker);
	if (!ret)
		ret = viommu_pt_plan_create(viommu_pt_get_cfg(hp->pt), &hp->plan);
	if (ret) {
		viommu_shadow_hostpt_destroy(hp);
		return ret;
	}
	*out = hp;
	return 0;
}

void viommu_shadow_hostpt_destroy(struct viommu_shadow_hostpt *hp)
{
	if (!hp)
		return;
	viommu_iotlb_destroy(hp->tlb);
	viommu_pt_plan_destroy(hp->plan);
	viommu_pt_walker_destroy(hp->walker);
	viommu_pt_destroy(hp->pt);
	viommu_flatmem_destroy(hp->mem);
	free(hp->free_pages);
	free(hp);
}

int viommu_shadow_hostpt_translate(struct viommu_shadow_hostpt *hp, uint64_t iova, uint32_t access,
				   uint64_t *host, uint32_t *perm, bool *hit)
{
	struct viommu_iotlb_tag tag = { 0 };
	struct viommu_iotlb_entry te;

	if (!hp || !host || !perm)
		return VIOMMU_EINVAL;
	if (viommu_iotlb_lookup(hp->tlb, &tag, iova, &te) == 0 && (te.perm & access) == access) {
		if (hit)
			*hit = true;
	} else {
		struct viommu_pt_walk_result wr;

		if (viommu_pt_walker_walk_plan(hp->walker, hp->plan, iova, access, &wr) ||
		    wr.fault != VIOMMU_FAULT_NONE)
			return VIOMMU_EFAULT;
		te = (struct viommu_iotlb_entry){ .tag = tag,
						  .iova = iova & ~((1ull << wr.page_shift) - 1),
						  .out = wr.out & ~((1ull << wr.page_shift) - 1),
						  .shift = (uint8_t)wr.page_shift,
						  .perm = (uint8_t)wr.perm };
		viommu_iotlb_insert(hp->tlb, &te);
		if (hit)
			*hit = false;
	}
	*host = te.out + (iova & ((1ull << te.shift) - 1));
	*perm = te.perm;
	return 0;
}

void viommu_shadow_hostpt_get_stats(const struct viommu_shadow_hostpt *hp,
				    struct viommu_shadow_hostpt_stats *st)
{
	if (hp && st)
		*st = hp->st;
}
