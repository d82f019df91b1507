/*
 * virtio-iommu-pci,x-viommu=on: libviommu's virtio-iommu model behind QEMU's virtio transport.
 *
 * Part of the viommu project's QEMU glue (qemu/ in the viommu tree).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * This program is free software; you can redistribute it and/or modify it under the terms of
 * the GNU General Public License as published by the Free Software Foundation; either version 2
 * of the License, or (at your option) any later version.
 */
#ifndef HW_VIRTIO_VIOMMU_VIRTIO_IOMMU_H
#define HW_VIRTIO_VIOMMU_VIRTIO_IOMMU_H

#include "hw/virtio/virtio-iommu.h"

/*
 * hw/virtio/virtio-iommu.c calls these instead of its own code when the device's x-viommu
 * property is on (s->glue is then set by vglue_vio_realize).
 */
void vglue_vio_realize(VirtIOIOMMU *s, Error **errp);
void vglue_vio_unrealize(VirtIOIOMMU *s);
void vglue_vio_reset(VirtIOIOMMU *s);
void vglue_vio_get_config(VirtIOIOMMU *s, uint8_t *config);
void vglue_vio_set_config(VirtIOIOMMU *s, const uint8_t *config);
uint64_t vglue_vio_get_features(VirtIOIOMMU *s, uint64_t transport_features);
int vglue_vio_validate_features(VirtIOIOMMU *s);
void vglue_vio_set_status(VirtIOIOMMU *s, uint8_t status);

#endif
