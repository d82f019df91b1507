/* SPDX-License-Identifier: MIT */
/*
 * What the vhost-user fuzz targets that run viommu-vhost's device in process share: its callbacks
 * (a clock that never moves, so that runs repeat) and a drain of the reply socket.
 */
#ifndef VIOMMU_FUZZ_VHOST_DEV_H
#define VIOMMU_FUZZ_VHOST_DEV_H

#include <stdint.h>
#include <sys/socket.h>

#include "net.h"

static uint64_t fuzz_fixed_clock(void *opaque)
{
	(void)opaque;
	return 0;
}

static void fuzz_on_resume(void *opaque, struct vh_dev *dev)
{
	(void)dev;
	((struct vnet_port *)opaque)->pending = true;
}

static void fuzz_on_stop(void *opaque, struct vh_dev *dev)
{
	(void)dev;
	vnet_port_stop(opaque);
}

static const struct vh_dev_ops fuzz_vhost_ops = {
	.resume = fuzz_on_resume,
	.stop = fuzz_on_stop,
	.clock = fuzz_fixed_clock,
	/* Small: creating the default 2048-entry IOTLB for every input would dominate the run. */
	.devtlb_capacity = 16,
	.devtlb_pending = 8,
};

static void fuzz_drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

#endif /* VIOMMU_FUZZ_VHOST_DEV_H */
