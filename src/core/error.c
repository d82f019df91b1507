// SPDX-License-Identifier: MIT
#include <viommu/viommu.h>

const char *viommu_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case VIOMMU_EPERM:
		return "operation not permitted";
	case VIOMMU_ENOENT:
		return "no such entry";
	case VIOMMU_EIO:
		return "input/output error";
	case VIOMMU_E2BIG:
		return "argument too large";
	case VIOMMU_EAGAIN:
		return "try again";
	case VIOMMU_ENOMEM:
		return "out of memory";
	case VIOMMU_EFAULT:
		return "address outside guest memory";
	case VIOMMU_EBUSY:
		return "busy";
	case VIOMMU_EEXIST:
		return "already exists";
	case VIOMMU_EINVAL:
		return "invalid argument";
	case VIOMMU_ENOSPC:
		return "no space left";
	case VIOMMU_ERANGE:
		return "out of range";
	case VIOMMU_ENOSYS:
		return "not implemented by this model";
	case VIOMMU_EOVERFLOW:
		return "value too large";
	case VIOMMU_ENOTSUP:
		return "not supported";
	case VIOMMU_ESTALE:
		return "stale handle";
	default:
		return "unknown error";
	}
}
