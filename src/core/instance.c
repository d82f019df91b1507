// SPDX-License-Identifier: MIT
/*
 * The model-independent part of an instance: dispatch to the model, notifier bookkeeping.
 */
#include <stdlib.h>

#include "core.h"

int vi_instance_init(struct viommu *v, const struct viommu_model_ops *ops,
		     const struct viommu_host_ops *host_ops, void *opaque)
{
	if (!host_ops || !host_ops->dma_read)
		return VIOMMU_EINVAL;
	v->ops = ops;
	v->host.ops = host_ops;
	v->host.opaque = opaque;
	v->notifiers = NULL;
	v->notify_mask = 0;
	return 0;
}

void vi_instance_fini(struct viommu *v)
{
	struct viommu_notifier *n = v->notifiers;

	while (n) {
		struct viommu_notifier *next = n->next;

		free(n);
		n = next;
	}
	v->notifiers = NULL;
	v->notify_mask = 0;
}

void viommu_destroy(struct viommu *v)
{
	if (v)
		v->ops->destroy(v);
}

void viommu_mem_changed(struct viommu *v)
{
	if (v && v->ops->mem_changed)
		v->ops->mem_changed(v);
}

const char *viommu_model_name(const struct viommu *v)
{
	return v ? v->ops->name : NULL;
}

void vi_result_fault(struct viommu_xlate_result *res, const struct viommu_xlate_req *req,
		     enum viommu_fault_type type, uint32_t reason, uint32_t level)
{
	memset(res, 0, sizeof(*res));
	res->fault.type = type;
	res->fault.reason = reason;
	res->fault.level = level;
	res->fault.sid = req->sid;
	res->fault.pasid = req->pasid;
	res->fault.has_pasid = req->has_pasid;
	res->fault.access = req->access;
	res->fault.addr = req->iova;
}

int viommu_translate(struct viommu *v, const struct viommu_xlate_req *req,
		     struct viommu_xlate_result *res)
{
	if (!v || !req || !res)
		return VIOMMU_EINVAL;
	return v->ops->translate(v, req, res);
}

static bool mmio_size_ok(unsigned int size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int viommu_mmio_read(struct viommu *v, uint64_t offset, unsigned int size, uint64_t *val)
{
	if (!v || !val || !mmio_size_ok(size))
		return VIOMMU_EINVAL;
	if (!v->ops->mmio_read)
		return VIOMMU_ENOSYS;
	return v->ops->mmio_read(v, offset, size, val);
}

int viommu_mmio_write(struct viommu *v, uint64_t offset, unsigned int size, uint64_t val)
{
	if (!v || !mmio_size_ok(size))
		return VIOMMU_EINVAL;
	if (!v->ops->mmio_write)
		return VIOMMU_ENOSYS;
	return v->ops->mmio_write(v, offset, size, val);
}
