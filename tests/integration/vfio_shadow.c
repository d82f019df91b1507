// SPDX-License-Identifier: MIT
/*
 * Runs inside the test guest (tests/integration/qemu_vfio_shadow.sh) as an "L1 VMM": QEMU's edu
 * device is bound to vfio-pci, and this program gives a simulated L2 guest (its RAM in this
 * process, its vIOMMU a libviommu unit programmed through the guest-driver library: VT-d in
 * caching mode, or AMD-Vi with NpCache, whose driver invalidates after making entries present)
 * whose mappings the shadow engine keeps in the guest kernel's real VFIO type1 container. The
 * guest kernel's IOMMU driver (intel-iommu or amd_iommu) then programs our unit in QEMU, so the
 * edu device's DMA to L2 IOVAs goes through both levels. Checks: data lands in the right L2 pages
 * in both directions, an unmapped IOVA does not reach memory, and the number of VFIO calls equals
 * the number of maximal contiguous ranges mapped and unmapped.
 *
 * Usage: vfio_shadow BDF GROUP [vtd|amdvi]   (e.g. 0000:00:03.0 5; L2's vIOMMU, default vtd).
 * Prints "VFIO-SHADOW PASS" or a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include <viommu/amdvi.h>
#include <viommu/flatmem.h>
#include <viommu/shadow.h>
#include <viommu/vtd.h>

#include "amdvi_driver.h"
#include "vtd_driver.h"

#define PG 4096ull
#define L2_RAM (32ull << 20)
#define L2_POOL (16ull << 20) /* L2's vIOMMU tables live in its upper half */
#define SID 0x18
#define DID 1
#define IOVA 0x100000ull /* edu masks DMA addresses to 28 bits */
#define EDU_BUF 0x40000ull
#define XFER 2048 /* QEMU 7.2's edu refuses a transfer that ends at its buffer's end */

static uint8_t *ram; /* L2 RAM, mapped into the container through the engine */
/* L2's vIOMMU driver: one of the two. */
static struct vg_vtd *vtd;
static struct vg_amdvi *amd;
static volatile uint8_t *bar;
static int container = -1;
static unsigned int vfio_maps, vfio_unmaps, errors;

#define FAIL(...)                                               \
	do {                                                    \
		printf("VFIO-SHADOW FAIL line %d: ", __LINE__); \
		printf(__VA_ARGS__);                            \
		printf("\n");                                   \
		exit(1);                                        \
	} while (0)

static int gpa_to_host(void *opaque, uint64_t gpa, uint64_t len, uint64_t *host, uint64_t *seg)
{
	(void)opaque;
	if (gpa >= L2_RAM) {
		*seg = len;
		return VIOMMU_EFAULT;
	}
	*host = (uint64_t)(uintptr_t)ram + gpa;
	*seg = L2_RAM - gpa < len ? L2_RAM - gpa : len;
	return 0;
}

static void on_error(void *opaque, const struct viommu_shadow_error *e)
{
	(void)opaque;
	errors++;
	printf("engine error kind %d code %d iova %llx-%llx\n", e->kind, e->code,
	       (unsigned long long)e->iova, (unsigned long long)e->last);
}

/* The library's type1 ops, counted. */
static int c_map(void *ctx, uint64_t iova, uint64_t size, uint64_t host, uint32_t perm)
{
	vfio_maps++;
	printf("MAP_DMA iova %llx size %llx\n", (unsigned long long)iova, (unsigned long long)size);
	return viommu_shadow_vfio_ops()->map(ctx, iova, size, host, perm);
}

static int c_unmap(void *ctx, uint64_t iova, uint64_t size)
{
	vfio_unmaps++;
	printf("UNMAP_DMA iova %llx size %llx\n", (unsigned long long)iova,
	       (unsigned long long)size);
	return viommu_shadow_vfio_ops()->unmap(ctx, iova, size);
}

static const struct viommu_shadow_host_ops counted = { .map = c_map, .unmap = c_unmap };

static uint64_t rd64(uint64_t off)
{
	return *(volatile uint64_t *)(bar + off);
}

static void wr64(uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)(bar + off) = v;
}

/* One edu DMA of @len bytes: cmd 1 RAM -> device buffer, 3 device buffer -> RAM. */
static void edu_dma(uint64_t src, uint64_t dst, uint64_t len, uint64_t cmd)
{
	struct timespec ts = { 0, 1000000 };

	wr64(0x80, src);
	wr64(0x88, dst);
	wr64(0x90, len);
	wr64(0x98, cmd);
	for (int i = 0; rd64(0x98) & 1; i++) {
		if (i > 5000)
			FAIL("edu DMA did not complete");
		nanosleep(&ts, NULL);
	}
}

/*
 * L2's vIOMMU over its RAM @fm and its driver, set up as a guest kernel would: "vtd" (caching
 * mode: the driver invalidates after every map) or "amdvi" (NpCache: likewise, with
 * INVALIDATE_IOMMU_PAGES), device SID in domain DID. Both models turn those invalidations into
 * the MAP/UNMAP events the engine consumes.
 */
static struct viommu *l2_create(const char *kind, struct viommu_flatmem *fm)
{
	struct viommu *v = NULL;

	if (!strcmp(kind, "vtd")) {
		struct viommu_vtd_config vc;
		struct vg_vtd_config dc = { 0 };

		viommu_vtd_config_init(&vc);
		vc.flags |= VIOMMU_VTD_CM;
		if (viommu_vtd_create(&vc, viommu_flatmem_ops(), fm, &v))
			FAIL("L2 VT-d");
		dc.iommu = v;
		dc.mem = fm;
		dc.pool_base = L2_POOL;
		dc.pool_size = L2_RAM - L2_POOL;
		dc.no_superpages = true;
		if (vg_vtd_create(&dc, &vtd) || vg_vtd_enable(vtd) ||
		    vg_vtd_attach(vtd, SID, DID, false))
			FAIL("L2 VT-d driver");
	} else if (!strcmp(kind, "amdvi")) {
		struct viommu_amdvi_config ac;
		struct vg_amdvi_config dc = { 0 };

		viommu_amdvi_config_init(&ac);
		if (!(ac.flags & VIOMMU_AMDVI_NPCACHE))
			FAIL("L2 AMD-Vi without NpCache: no events for the engine");
		if (viommu_amdvi_create(&ac, viommu_flatmem_ops(), fm, &v))
			FAIL("L2 AMD-Vi");
		dc.iommu = v;
		dc.mem = fm;
		dc.pool_base = L2_POOL;
		dc.pool_size = L2_RAM - L2_POOL;
		dc.msi_addr = 0xfee00000; /* no L2 fault is provoked: the MSI is never sent */
		if (vg_amdvi_create(&dc, &amd) || vg_amdvi_enable(amd) ||
		    vg_amdvi_attach(amd, SID, DID, false))
			FAIL("L2 AMD-Vi driver");
	} else {
		FAIL("unknown L2 vIOMMU '%s' (vtd or amdvi)", kind);
	}
	return v;
}

/* L2's driver maps or unmaps [iova, iova + size) in domain DID and invalidates (strict). */
static void l2_map(uint64_t iova, uint64_t gpa, uint64_t size, uint32_t perm)
{
	int rc = vtd ? vg_vtd_map(vtd, DID, iova, gpa, size, perm) :
		       vg_amdvi_map(amd, DID, iova, gpa, size, perm);

	if (rc)
		FAIL("L2 map %llx: %d", (unsigned long long)iova, rc);
}

/*
 * What L2 did: the page invalidations its driver sent (PSI, INVALIDATE_IOMMU_PAGES) and the MAP
 * and UNMAP events its model made of them for the engine.
 */
static void l2_counts(struct viommu *v, uint64_t *inv, uint64_t *ev_map, uint64_t *ev_unmap)
{
	struct viommu_amdvi_stats am;
	struct viommu_vtd_stats vm;
	struct vg_amdvi_stats as;
	struct vg_vtd_stats vs;

	if (vtd) {
		vg_vtd_get_stats(vtd, &vs);
		if (viommu_vtd_get_stats(v, &vm))
			FAIL("L2 VT-d statistics");
		*inv = vs.psi;
		*ev_map = vm.notify_map;
		*ev_unmap = vm.notify_unmap;
		return;
	}
	vg_amdvi_get_stats(amd, &as);
	if (viommu_amdvi_get_stats(v, &am))
		FAIL("L2 AMD-Vi statistics");
	*inv = as.inv_pages;
	*ev_map = am.notify_map;
	*ev_unmap = am.notify_unmap;
}

static void l2_unmap(uint64_t iova, uint64_t size)
{
	int rc = vtd ? vg_vtd_unmap(vtd, DID, iova, size) : vg_amdvi_unmap(amd, DID, iova, size);

	if (rc)
		FAIL("L2 unmap %llx: %d", (unsigned long long)iova, rc);
}

int main(int argc, char **argv)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct viommu_shadow_config sc;
	struct viommu_flatmem *fm;
	struct viommu *v;
	const char *kind = argc > 3 ? argv[3] : "vtd";
	uint64_t inv, ev_map, ev_unmap;
	struct viommu_shadow *sh;
	struct viommu_shadow_dev *dev;
	char path[64];
	int group, device;
	uint16_t cmd = 0x6;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 3 && argc != 4)
		FAIL("usage: vfio_shadow BDF GROUP [vtd|amdvi]");
	if (!viommu_shadow_vfio_ops())
		FAIL("library built without VFIO");
	/* The container, the group, type1 v2, the device. */
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		FAIL("open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    !ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU))
		FAIL("no type1 v2");
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[2]);
	group = open(path, O_RDWR);
	if (group < 0)
		FAIL("open %s: %s", path, strerror(errno));
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		FAIL("group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		FAIL("set container / type1: %s", strerror(errno));
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[1]);
	if (device < 0)
		FAIL("get device %s: %s", argv[1], strerror(errno));
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &ri) || ri.size < 0x100)
		FAIL("BAR0 info");
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)ri.offset);
	if (bar == MAP_FAILED)
		FAIL("mmap BAR0: %s", strerror(errno));
	ri = (struct vfio_region_info){ .argsz = sizeof(ri),
					.index = VFIO_PCI_CONFIG_REGION_INDEX };
	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &ri) ||
	    pwrite(device, &cmd, 2, (off_t)ri.offset + 4) != 2)
		FAIL("enable bus mastering");
	*(volatile uint32_t *)(bar + 4) = 0x12345678;
	if (*(volatile uint32_t *)(bar + 4) != 0xedcba987)
		FAIL("edu does not answer through the VFIO BAR mapping");

	/* L2: RAM, its vIOMMU, its driver. */
	if (viommu_flatmem_create(0, L2_RAM, &fm))
		FAIL("L2 RAM");
	ram = viommu_flatmem_ptr(fm, 0, L2_RAM);
	v = l2_create(kind, fm);
	printf("L2 vIOMMU: %s\n", kind);

	/* The engine, into the container. Coalescing on: one call per contiguous range. */
	viommu_shadow_config_init(&sc);
	sc.coalesce = VIOMMU_SHADOW_COALESCE_ON;
	sc.gpa_to_host = gpa_to_host;
	sc.error = on_error;
	if (viommu_shadow_create(&sc, &sh) ||
	    viommu_shadow_attach(sh, v, SID, 0, false, &counted, &container, &dev))
		FAIL("engine");

	/* L2 maps 16 pages (one range) and 8 more elsewhere (another). */
	l2_map(IOVA, 0x200000, 16 * PG, VIOMMU_ACC_RW);
	l2_map(IOVA + 64 * PG, 0x400000, 8 * PG, VIOMMU_ACC_RW);
	if (vfio_maps != 2 || vfio_unmaps != 0)
		FAIL("VFIO calls %u/%u, want 2 maps", vfio_maps, vfio_unmaps);

	/* RAM -> device from L2 page 3, device -> RAM into L2 page 70: both through the IOMMUs. */
	for (int i = 0; i < XFER; i++)
		ram[0x200000 + 3 * PG + i] = (uint8_t)(i * 7 + 1);
	edu_dma(IOVA + 3 * PG, EDU_BUF, XFER, 1);
	edu_dma(EDU_BUF, IOVA + 70 * PG, XFER, 3);
	if (memcmp(ram + 0x400000 + 6 * PG, ram + 0x200000 + 3 * PG, XFER))
		FAIL("DMA data did not land in L2 page 0x400000 + 6 pages");

	/* L2 unmaps the second range: one call; a DMA there must not reach memory. */
	l2_unmap(IOVA + 64 * PG, 8 * PG);
	if (vfio_maps != 2 || vfio_unmaps != 1)
		FAIL("VFIO calls %u/%u, want 2 maps 1 unmap", vfio_maps, vfio_unmaps);
	memset(ram + 0x400000, 0x5a, 8 * PG);
	edu_dma(EDU_BUF, IOVA + 66 * PG, XFER, 3);
	for (uint64_t i = 0; i < 8 * PG; i++)
		if (ram[0x400000 + i] != 0x5a)
			FAIL("DMA to an unmapped IOVA reached L2 memory");

	/* L2 maps a range next to the first: the host gets one more call, not a merge. */
	l2_map(IOVA + 16 * PG, 0x210000, 4 * PG, VIOMMU_ACC_READ);
	if (vfio_maps != 3 || vfio_unmaps != 1)
		FAIL("VFIO calls %u/%u, want 3/1", vfio_maps, vfio_unmaps);
	if (errors)
		FAIL("%u engine errors", errors);
	viommu_shadow_detach(dev, true);
	if (vfio_unmaps != 2)
		FAIL("detach: %u unmaps, want 2 (one call for everything)", vfio_unmaps);
	/*
	 * The engine's calls came from L2's invalidations (one per map and unmap) through its
	 * model's events, one per page, the same from VT-d CM and AMD-Vi NpCache: 16 + 8 + 4
	 * pages mapped, 8 unmapped.
	 */
	l2_counts(v, &inv, &ev_map, &ev_unmap);
	if (inv != 4 || ev_map != 28 || ev_unmap != 8)
		FAIL("L2: %llu page invalidations, %llu MAP and %llu UNMAP events, want 4, 28, 8",
		     (unsigned long long)inv, (unsigned long long)ev_map,
		     (unsigned long long)ev_unmap);
	printf("VFIO-SHADOW PASS l2=%s maps=%u unmaps=%u l2_inv_pages=%llu l2_events=%llu/%llu\n",
	       kind, vfio_maps, vfio_unmaps, (unsigned long long)inv, (unsigned long long)ev_map,
	       (unsigned long long)ev_unmap);
	viommu_shadow_destroy(sh);
	return 0;
}
