// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the shadow engine behind virtio-iommu, whose MAP/UNMAP/ATTACH/DETACH
 * requests (guest-chosen ranges, addresses, flags, domains) the input drives through the guest
 * driver, with engine configurations of every kind (host splits or not, coalescing, tiny limits,
 * two host ranges, few segments). The host checks what a real one would refuse: a map over an
 * existing mapping, an unmap that bisects a mapping on a host that cannot split, unaligned or
 * wrapping calls. At the end the engine's record must equal what the host holds.
 *
 * Input: config byte, limit byte, then ops: u8 op, then its operands.
 */
#include <stdlib.h>
#include <string.h>

#include <viommu/flatmem.h>
#include <viommu/shadow.h>
#include <viommu/virtio_iommu.h>

#include "fuzz_input.h"
#include "host_extents.h"
#include "virtio_iommu_driver.h"

#define MEM (16ull << 20)
#define ARENA (8ull << 20)
#define PG 4096ull
#define MAXEXT 4096

struct host {
	bool split;
	struct host_ext e[MAXEXT];
	size_t n;
};

static int gpa_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	/* RAM: [0, 4 MiB) and [5 MiB, 8 MiB), apart in the host. */
	if (gpa < (4ull << 20)) {
		*host = 0x10000000 + gpa;
		*seg = (4ull << 20) - gpa < len ? (4ull << 20) - gpa : len;
		return 0;
	}
	if (gpa >= (5ull << 20) && gpa < (8ull << 20)) {
		*host = 0x40000000 + gpa;
		*seg = (8ull << 20) - gpa < len ? (8ull << 20) - gpa : len;
		return 0;
	}
	*seg = gpa < (5ull << 20) ? (5ull << 20) - gpa : len;
	if (*seg > len)
		*seg = len;
	return VIOMMU_EFAULT;
}

static int h_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	struct host *h = ctx;
	uint64_t last = iova + size - 1;

	if (!size || (iova | size | host) % PG || last < iova || !perm || h->n == MAXEXT)
		abort();
	for (size_t i = 0; i < h->n; i++)
		if (!(h->e[i].last < iova || h->e[i].iova > last))
			abort(); /* mapping over a mapping */
	h->e[h->n++] = (struct host_ext){ iova, last, host };
	return 0;
}

static int h_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct host *h = ctx;
	uint64_t last = iova + size - 1;

	if (!size || (iova | size) % PG || last < iova)
		abort();
	/* A host that cannot split refuses to bisect a mapping, as type1 does. */
	if (host_ext_unmap(h->e, &h->n, MAXEXT, iova, last, h->split))
		abort();
	return 0;
}

static struct host hosts[2];
static struct viommu_shadow_host_ops ops[2];

static uint64_t held_pages;

static void count(void *arg, uint64_t iova, uint64_t last, uint64_t host, uint32_t perm)
{
	(void)arg;
	(void)host;
	(void)perm;
	held_pages += (last - iova) / PG + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_virtio_iommu_config vc = { 0 };
	struct vg_vio_config dc = { .arena = ARENA, .arena_size = 4ull << 20 };
	struct viommu_shadow_config sc;
	struct viommu_flatmem *fm = NULL;
	struct viommu *v = NULL;
	struct vg_vio *drv = NULL;
	struct viommu_shadow *sh = NULL;
	struct viommu_shadow_dev *dev[2] = { NULL, NULL };
	uint8_t cfg = (uint8_t)take(&in, 1), lim = (uint8_t)take(&in, 1);
	unsigned int nops = 0;

	memset(hosts, 0, sizeof(hosts));
	viommu_shadow_config_init(&sc);
	sc.coalesce = cfg % 3;
	sc.max_mappings = lim & 0x0f ? lim & 0x0f : 0;
	sc.max_segments = 1 + ((lim >> 4) & 7);
	sc.max_pending = cfg & 0x40 ? 2 : 4096;
	if (cfg & 0x80) {
		sc.ranges[0] = (struct viommu_shadow_range){ 0, (1ull << 30) - 1 };
		sc.ranges[1] = (struct viommu_shadow_range){ 1ull << 32, (1ull << 40) - 1 };
		sc.nranges = 2;
	}
	sc.gpa_to_host = gpa_to_host;
	for (int i = 0; i < 2; i++) {
		hosts[i].split = cfg & (8 << i);
		ops[i] = (struct viommu_shadow_host_ops){
			.flags = hosts[i].split ? VIOMMU_SHADOW_HOST_SPLIT : 0,
			.map = h_map,
			.unmap = h_unmap,
		};
	}
	if (viommu_flatmem_create(0, MEM, &fm) ||
	    viommu_virtio_iommu_create(&vc, viommu_flatmem_ops(), fm, &v) ||
	    viommu_virtio_iommu_add_endpoint(v, 1) || viommu_virtio_iommu_add_endpoint(v, 2) ||
	    vg_vio_create(v, fm, &dc, &drv) || viommu_shadow_create(&sc, &sh))
		goto out;
	vg_vio_attach(drv, 1, 1, 0);
	for (int i = 0; i < 2; i++)
		if (viommu_shadow_attach(sh, v, (uint32_t)i + 1, 0, false, &ops[i], &hosts[i],
					 &dev[i]))
			goto out;
	while (in.n && nops++ < 256) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint32_t dom = op >> 5;
		uint64_t a, b;

		switch (op & 7) {
		case 0: /* map: start page, pages (or raw), phys page, flags */
			a = take(&in, 3) * PG;
			b = op & 8 ? take(&in, 8) : a + take(&in, 2) * PG + PG - 1;
			vg_vio_map(drv, dom, a, b, op & 16 ? take(&in, 8) : take(&in, 2) * PG,
				   (uint32_t)take(&in, 1) & 0xf);
			break;
		case 1: /* unmap */
			a = take(&in, 3) * PG;
			b = op & 8 ? take(&in, 8) : a + take(&in, 2) * PG + PG - 1;
			vg_vio_unmap(drv, dom, a, b);
			break;
		case 2: /* attach an endpoint, maybe in bypass */
			vg_vio_attach(drv, dom, 1 + (op >> 3 & 1), op & 16 ? 1 : 0);
			break;
		case 3:
			vg_vio_detach(drv, dom, 1 + (op >> 3 & 1));
			break;
		case 4: /* queued and deferred, then one kick */
			a = take(&in, 3) * PG;
			vg_vio_map_queue(drv, dom, a, a + take(&in, 1) * PG + PG - 1,
					 take(&in, 2) * PG, 3);
			vg_vio_unmap_deferred(drv, dom, take(&in, 3) * PG, take(&in, 3) * PG);
			vg_vio_sync(drv);
			break;
		case 5:
			viommu_shadow_replay(dev[op >> 3 & 1]);
			break;
		default:
			viommu_shadow_flush(sh);
			break;
		}
	}
	viommu_shadow_flush(sh);
	/* The engine's record is the host's. */
	for (int i = 0; i < 2; i++) {
		struct viommu_shadow_stats st;
		uint64_t pages = 0;

		viommu_shadow_dev_get_stats(dev[i], &st);
		held_pages = 0;
		if (viommu_shadow_dev_walk(dev[i], count, NULL) != hosts[i].n && !hosts[i].split)
			abort();
		for (size_t k = 0; k < hosts[i].n; k++)
			pages += (hosts[i].e[k].last - hosts[i].e[k].iova) / PG + 1;
		if (pages != held_pages || st.held_pages != held_pages)
			abort();
		if (sc.max_mappings && st.held > sc.max_mappings)
			abort();
	}
out:
	viommu_shadow_destroy(sh);
	vg_vio_destroy(drv);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
