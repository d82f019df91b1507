// SPDX-License-Identifier: MIT
/*
 * A minimal embedder: guest RAM over a flat buffer, the shared IOTLB, and error reporting, built
 * against the installed headers and pkg-config file (`make install-check` does exactly that).
 */
#include <stdio.h>

#include <viommu/flatmem.h>
#include <viommu/iotlb.h>
#include <viommu/viommu.h>

int main(void)
{
	struct viommu_iotlb_entry e = { .tag = { .dom = 1 },
					.iova = 0x10000,
					.out = 0x7f0000,
					.shift = 12,
					.perm = VIOMMU_ACC_RW };
	struct viommu_iotlb_tag tag = { .dom = 1 };
	struct viommu_flatmem *ram;
	struct viommu_iotlb *tlb;
	uint8_t byte = 0;
	int ret;

	ret = viommu_flatmem_create(0, 1 << 20, &ram);
	if (ret) {
		fprintf(stderr, "flatmem: %s\n", viommu_strerror(ret));
		return 1;
	}
	/* Guest memory ends at 1 MiB: the host ops refuse to read past it. */
	ret = (int)viommu_flatmem_ops()->dma_read(ram, 1 << 20, &byte, 1);
	printf("read past guest RAM: %s\n", viommu_strerror(ret));

	ret = viommu_iotlb_create(NULL, &tlb);
	if (ret) {
		fprintf(stderr, "iotlb: %s\n", viommu_strerror(ret));
		return 1;
	}
	viommu_iotlb_insert(tlb, &e);
	ret = viommu_iotlb_lookup(tlb, &tag, 0x10abc, &e);
	printf("lookup 0x10abc: %s -> 0x%llx\n", viommu_strerror(ret),
	       (unsigned long long)(e.out + 0xabc));
	viommu_iotlb_destroy(tlb);
	viommu_flatmem_destroy(ram);
	return ret == 0 ? 0 : 1;
}
