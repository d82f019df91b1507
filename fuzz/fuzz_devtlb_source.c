// SPDX-License-Identifier: MIT
/*
 * The device IOTLB's in-process model source (src/devtlb/source.c) from fuzz input: a
 * virtio-iommu model programmed by the guest driver (attach, detach, strict and batched map,
 * strict and deferred unmap), the source following its events (invalidation events chosen by the
 * input, push or not), and a device reading through the device IOTLB (lookups, misses answered
 * by viommu_devtlb_source_service(), flushes). Oracle: every hit must be what the model
 * translates now (same guest-physical address, the access allowed, never past the request):
 * the source must never leave a translation the guest removed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <viommu/devtlb.h>
#include <viommu/flatmem.h>
#include <viommu/virtio_iommu.h>

#include "fuzz_input.h"
#include "virtio_iommu_driver.h"

#define MEM_SIZE (1u << 20)
#define ARENA (512u << 10) /* the driver's queues and requests live above this */
#define EP 1u
#define PAGES 64u /* IOVAs and guest-physical pages the input picks from */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	uint8_t *base; /* host address of guest-physical 0 */
};

/* Guest RAM is one host-contiguous block: any GPA inside it, up to its end. */
static int gpa_to_hva(void *opaque, uint64_t gpa, uint64_t len, uint64_t *hva, uint64_t *hva_len)
{
	struct ctx *c = opaque;

	(void)len;
	if (gpa >= MEM_SIZE)
		return VIOMMU_EFAULT;
	*hva = (uint64_t)(uintptr_t)(c->base + gpa);
	*hva_len = MEM_SIZE - gpa;
	return 0;
}

static uint64_t page(struct input *in)
{
	return (take(in, 1) % PAGES) << 12;
}

/* A hit must be what the model translates now. */
static void check_hit(struct viommu *v, const struct ctx *c, uint64_t iova, uint64_t len,
		      uint32_t access, uint64_t hva, uint64_t covered)
{
	struct viommu_xlate_req req = { .sid = EP, .iova = iova, .len = covered, .access = access };
	struct viommu_xlate_result res;

	if (covered == 0 || covered > (len ? len : 1))
		abort();
	if (viommu_translate(v, &req, &res) || !viommu_xlate_ok(&res))
		abort(); /* stale: the guest removed this translation */
	if (res.out != hva - (uint64_t)(uintptr_t)c->base || (res.perm & access) != access)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct viommu_virtio_iommu_config vcfg = { .max_mappings = 256, .max_domains = 4 };
	struct viommu_devtlb_config tcfg = { .capacity = 16, .pending_slots = 8 };
	struct viommu_devtlb_source_config scfg;
	struct vg_vio_config gcfg = { .arena = ARENA, .arena_size = MEM_SIZE - ARENA };
	struct viommu_devtlb_source *src;
	struct viommu_devtlb_reader *rd;
	struct viommu_devtlb *tlb;
	struct viommu_flatmem *fm;
	struct vg_vio *drv;
	struct viommu *v;
	struct ctx c;
	uint32_t mode = (uint32_t)take(&in, 1);

	if (viommu_flatmem_create(0, MEM_SIZE, &fm))
		abort();
	c.base = viommu_flatmem_ptr(fm, 0, MEM_SIZE);
	if (viommu_virtio_iommu_create(&vcfg, viommu_flatmem_ops(), fm, &v))
		abort();
	viommu_virtio_iommu_add_endpoint(v, EP);
	viommu_virtio_iommu_add_endpoint(v, EP + 1);
	if (vg_vio_create(v, fm, &gcfg, &drv))
		abort();
	if (viommu_devtlb_create(&tcfg, &tlb) || viommu_devtlb_reader_create(tlb, NULL, NULL, &rd))
		abort();
	viommu_devtlb_source_config_init(&scfg);
	scfg.sid = EP;
	scfg.inval_events = mode & 1 ? VIOMMU_EV_UNMAP :
			    mode & 2 ? VIOMMU_EV_UNMAP | VIOMMU_EV_DEVIOTLB_UNMAP :
				       0;
	scfg.push = mode & 4;
	scfg.gpa_to_hva = gpa_to_hva;
	scfg.opaque = &c;
	if (viommu_devtlb_attach_model_cfg(tlb, v, &scfg, &src))
		abort();
	viommu_devtlb_start(tlb);

	for (int ops = 0; in.n && ops < 256; ops++) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint32_t dom = 1 + (op >> 6) % 2;

		/*
		 * One thread plays both sides, as viommu-vhost does: the device's reads come in
		 * bursts, and the reader is offline whenever the writer runs. A reader left online
		 * across writes could never quiesce here, and every retirement would spend devtlb's
		 * whole bounded wait (4096 yields) on it.
		 */
		if ((op & 15) < 10 && (op & 15) != 8)
			viommu_devtlb_reader_offline(rd);

		switch (op & 15) {
		case 0:
			vg_vio_attach(drv, dom, EP + ((op >> 5) & 1), 0);
			break;
		case 1:
			vg_vio_detach(drv, dom, EP + ((op >> 5) & 1));
			break;
		case 2:
		case 3: { /* map: strict, or queued and synced */
			uint64_t iova = page(&in), n = 1 + take(&in, 1) % 8, phys = page(&in);
			uint32_t flags = 1 + (uint32_t)take(&in, 1) % 3;

			if (op & 1) {
				vg_vio_map_queue(drv, dom, iova, iova + (n << 12) - 1, phys, flags);
				vg_vio_sync(drv);
			} else {
				vg_vio_map(drv, dom, iova, iova + (n << 12) - 1, phys, flags);
			}
			break;
		}
		case 4:
		case 5: { /* unmap: strict, or deferred (synced later, or now) */
			uint64_t iova = page(&in), n = 1 + take(&in, 1) % 16;

			if (op & 1)
				vg_vio_unmap_deferred(drv, dom, iova, iova + (n << 12) - 1);
			else
				vg_vio_unmap(drv, dom, iova, iova + (n << 12) - 1);
			break;
		}
		case 6:
			vg_vio_sync(drv);
			break;
		case 7:
			viommu_devtlb_source_service(src);
			break;
		case 8:
			viommu_devtlb_reader_quiesce(rd);
			break;
		case 9:
			if (op & 0x10)
				viommu_devtlb_flush(tlb);
			else
				viommu_devtlb_invalidate(tlb, page(&in), take(&in, 2) << 8);
			break;
		default: { /* the device reads or writes */
			uint64_t iova = page(&in) + take(&in, 2) % 4096, len = take(&in, 2) % 8192;
			uint32_t access = 1 + (op >> 4) % 3;
			uint64_t hva, covered;

			if (viommu_devtlb_lookup(rd, iova, len, access, &hva, &covered) == 0)
				check_hit(v, &c, iova, len, access, hva, covered);
			break;
		}
		}
	}
	viommu_devtlb_reader_offline(rd);
	viommu_devtlb_detach_model(src);
	viommu_devtlb_destroy(tlb);
	vg_vio_destroy(drv);
	viommu_destroy(v);
	viommu_flatmem_destroy(fm);
	return 0;
}
