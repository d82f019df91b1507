// SPDX-License-Identifier: MIT
/*
 * VFIO type1 back-end: VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA on a container fd. Needs only
 * libc and the kernel's UAPI header, so it is part of the library on Linux and absent elsewhere.
 * type1 refuses an unmap that would split an earlier mapping (v2) or unmaps whole mappings
 * (v1), hence no VIOMMU_SHADOW_HOST_SPLIT.
 */
#include <viommu/shadow.h>

#if defined(__linux__) && __has_include(<linux/vfio.h>)
#include <errno.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

static int vfio_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = (perm & VIOMMU_ACC_READ ? VFIO_DMA_MAP_FLAG_READ : 0) |
			 (perm & VIOMMU_ACC_WRITE ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = host,
		.iova = iova,
		.size = size,
	};

	if (ioctl(*(const int *)ctx, VFIO_IOMMU_MAP_DMA, &m))
		return errno > 0 ? -errno : VIOMMU_EIO;
	return 0;
}

static int vfio_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = size,
	};

	if (ioctl(*(const int *)ctx, VFIO_IOMMU_UNMAP_DMA, &u))
		return errno > 0 ? -errno : VIOMMU_EIO;
	return 0;
}

static const struct viommu_shadow_host_ops vfio_ops = {
	.flags = 0,
	.map = vfio_map,
	.unmap = vfio_unmap,
	.commit = NULL, /* each ioctl completes with the host IOTLB flushed */
};

const struct viommu_shadow_host_ops *viommu_shadow_vfio_ops(void)
{
	return &vfio_ops;
}
#else
const struct viommu_shadow_host_ops *viommu_shadow_vfio_ops(void)
{
	return NULL;
}
#endif
