// SPDX-License-Identifier: MIT
/*
 * The device IOTLB as a vhost back-end's datapath uses it: a lookup misses and asks the front-end
 * (the miss callback would send a vhost-user IOTLB MISS), the front-end's UPDATE answers, the
 * lookup hits, an INVALIDATE removes the range, and the next lookup misses again. Exits 0 only
 * if every step gave the expected answer.
 */
#include <stdio.h>

#include <viommu/devtlb.h>
#include <viommu/viommu.h>

static unsigned int misses;

static void on_miss(void *opaque, uint64_t iova, uint32_t perm)
{
	(void)opaque;
	misses++;
	printf("  miss: the back-end asks the front-end for 0x%llx (perm %u)\n",
	       (unsigned long long)iova, perm);
}

int main(void)
{
	static char guest_page[4096]; /* stands for guest RAM mapped into the back-end */
	const uint64_t iova = 0x7000, host = (uint64_t)(uintptr_t)guest_page;
	struct viommu_devtlb_config cfg;
	struct viommu_devtlb_reader *r;
	struct viommu_devtlb *tlb;
	uint64_t uaddr = 0, covered = 0;
	int ret, ok = 1;

	viommu_devtlb_config_init(&cfg); /* 2048 entries, 2 ms miss retry */
	cfg.miss = on_miss;
	if (viommu_devtlb_create(&cfg, &tlb) || viommu_devtlb_reader_create(tlb, NULL, NULL, &r))
		return 1;
	viommu_devtlb_start(tlb); /* the front-end enabled the vIOMMU: start empty */

	ret = viommu_devtlb_lookup(r, iova + 0x10, 64, VIOMMU_ACC_READ, &uaddr, &covered);
	printf("lookup 0x%llx: %s\n", (unsigned long long)iova + 0x10, viommu_strerror(ret));
	ok &= ret == VIOMMU_EAGAIN && misses == 1;

	/* The front-end's answer: vhost-user IOTLB UPDATE of the whole page, read and write. */
	ok &= viommu_devtlb_update(tlb, iova, 4096, host, VIOMMU_ACC_RW) == 0;
	ret = viommu_devtlb_lookup(r, iova + 0x10, 64, VIOMMU_ACC_READ, &uaddr, &covered);
	printf("after UPDATE: %s, host address = page + 0x%llx, %llu bytes\n", viommu_strerror(ret),
	       (unsigned long long)(uaddr - host), (unsigned long long)covered);
	ok &= ret == 0 && uaddr == host + 0x10 && covered == 64;
	viommu_devtlb_reader_quiesce(r); /* the datapath holds no address from before this */

	/* The guest unmapped the page: INVALIDATE, then wait until no reader uses the old one. */
	ok &= viommu_devtlb_invalidate(tlb, iova, 4096) == 0;
	viommu_devtlb_reader_offline(r);
	viommu_devtlb_synchronize(tlb);
	ret = viommu_devtlb_lookup(r, iova + 0x10, 64, VIOMMU_ACC_READ, &uaddr, &covered);
	printf("after INVALIDATE: %s\n", viommu_strerror(ret));
	ok &= ret == VIOMMU_EAGAIN && misses == 2;

	viommu_devtlb_reader_destroy(r);
	viommu_devtlb_destroy(tlb);
	printf("devtlb_hello: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
