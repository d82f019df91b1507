/* SPDX-License-Identifier: MIT */
/*
 * IBM Calgary / CalIOC2: one chip of four PCI host bridges (PHBs), each translating the DMA of
 * its bus through a TCE table in guest memory, as Linux's Calgary driver (removed in 5.5)
 * programmed it. <viommu/spec/calgary.h> names the registers and the entry layout.
 *
 * The guest reaches the chip's 1 MiB register space (at the BBAR the discovery data gives)
 * through viommu_mmio_read/write; the registers are big-endian (see the spec header). DMA goes
 * through viommu_translate with req.sid = bus << 8 | devfn; PHB n serves bus first_bus + n.
 *
 * Translation: with TCE_ENABLE in a PHB's CONFIG_RW, an I/O address is an index into the table
 * the PHB's TAR gives (base, size code: 8 Ki .. 1 Mi entries of 4 KiB pages); the TCE grants
 * read and/or write. Without TCE_ENABLE the DMA passes untranslated; with SLOT_DISABLE it is
 * refused. A refused DMA stops (the result is a fault) and sets the PHB's CSR (and, on CalIOC2,
 * the error registers) for the driver's watchdog; the first error is VIOMMU_FAULT_F_RECORDED,
 * later ones until the CSR is cleared VIOMMU_FAULT_F_LOST.
 *
 * TCE cache: each PHB keeps recently used valid TCEs and does not snoop the table. Only a TAR
 * write on a quiesced bus empties it: Calgary with arbitration disabled (AER = 0), CalIOC2 in
 * HardStop (PMCR SoftStop, no SoftStopFault, then a PMCR read), or a PHB without TCE_ENABLE. A
 * TAR write that skips the quiesce leaves every cached entry in place (stale), as the driver's
 * sequence exists to prevent. While the bus is quiesced, DMA is refused without an error
 * (VIOMMU_FAULT_BLOCKED, reason VIOMMU_CALGARY_R_STOPPED: the device retries); a DMA during
 * CalIOC2's SoftStop sets SoftStopFault in PMDR.
 *
 * Paravirtual interface: viommu_calgary_hcall() runs the sPAPR TCE hypercalls on a PHB's table
 * (LIOBN = PHB index): each writes the table and drops the pages' cached TCEs at once (no
 * blast), validating every index, length, alignment and TCE before writing anything.
 *
 * Consumers (no caching mode): each effective blast sends UNMAP of everything, and then to MAP
 * consumers MAP of every valid TCE in the table (the scan at blast: a shadow stays right even
 * when nobody traps the table); each TCE the hypercalls write, and each TCE write the VMM traps
 * and reports with viommu_calgary_tce_written(), sends UNMAP of the page and, for a valid TCE,
 * MAP. Events go to
 * the notifiers of the PHB's bus (sid = the notifier's own for a per-device notifier, bus << 8
 * for a VIOMMU_SID_ANY one: every device on the bus shares the table).
 */
#ifndef VIOMMU_CALGARY_H
#define VIOMMU_CALGARY_H

#include <viommu/viommu.h>

#ifdef __cplusplus
extern "C" {
#endif

enum viommu_calgary_chip {
	VIOMMU_CALGARY_CHIP_CALGARY = 0, /* PCI-X Calgary: quiesce with AER */
	VIOMMU_CALGARY_CHIP_CALIOC2 = 1, /* PCIe CalIOC2: SoftStop/HardStop with PMCR */
};

/* Why a DMA was refused (struct viommu_fault.reason). */
enum viommu_calgary_reason {
	VIOMMU_CALGARY_R_NONE,
	VIOMMU_CALGARY_R_NO_PHB,	/* the requester's bus is not behind this chip */
	VIOMMU_CALGARY_R_SLOT_DISABLED, /* CONFIG_RW SLOT_DISABLE */
	VIOMMU_CALGARY_R_STOPPED,	/* bus quiesced (AER 0, SoftStop, HardStop): retry */
	VIOMMU_CALGARY_R_DAC,		/* address above 4 GiB with DAC_DISABLE */
	VIOMMU_CALGARY_R_RANGE,		/* I/O page number beyond the table */
	VIOMMU_CALGARY_R_TABLE,		/* the TCE lies outside guest memory */
	VIOMMU_CALGARY_R_NOT_VALID,	/* TCE grants neither read nor write */
	VIOMMU_CALGARY_R_RPN,		/* TCE real page number above pa_bits */
	VIOMMU_CALGARY_R_PERM,		/* TCE lacks the right asked for */
};

struct viommu_calgary_config {
	uint32_t chip;		/* enum viommu_calgary_chip */
	uint32_t first_bus;	/* bus of PHB 0, 0..252; PHB n serves bus first_bus + n (0: 0) */
	uint32_t pa_bits;	/* physical address size, 32..48 (0: 48): a TCE above is refused */
	uint32_t cache_entries; /* TCE cache entries per PHB, a power of two 1..65536 (0: 256) */
	uint64_t bbar;		/* register space address in the discovery data (0: 0xfe000000),
				 * 1 MiB aligned, below 4 GiB */
};

/* Calgary, bus 0, 48-bit addresses, 256 cached TCEs per PHB, BBAR 0xfe000000. */
VIOMMU_API void viommu_calgary_config_init(struct viommu_calgary_config *cfg);

/*
 * Create a chip. VIOMMU_EINVAL for a configuration outside the ranges above or host ops without
 * dma_read and dma_write, VIOMMU_ENOMEM when out of memory. Destroy with viommu_destroy().
 */
VIOMMU_API int viommu_calgary_create(const struct viommu_calgary_config *cfg,
				     const struct viommu_host_ops *ops, void *opaque,
				     struct viommu **out);

/*
 * Run the sPAPR TCE hypercall @opcode (VIOMMU_TCE_H_*) with its arguments as the guest passed
 * them: args[0] LIOBN (PHB index), args[1] I/O bus address, then H_PUT_TCE: args[2] TCE;
 * H_PUT_TCE_INDIRECT: args[2] guest-physical TCE list, args[3] count; H_STUFF_TCE: args[2] TCE,
 * args[3] count; H_GET_TCE: *@ret the TCE. Returns the H_* code for the guest (H_PARAMETER for
 * any bad LIOBN, index, count, alignment, TCE, a PHB whose TAR was never written, or a list
 * outside memory; H_FUNCTION for an unknown opcode; H_HARDWARE when the table itself lies
 * outside memory; nothing is written then, except that H_STUFF_TCE keeps the 512-entry chunks
 * it wrote before the one outside memory). @ret may be NULL except for H_GET_TCE. The I/O bus
 * address's bits below 4 KiB are ignored, as QEMU's sPAPR code does.
 */
VIOMMU_API int64_t viommu_calgary_hcall(struct viommu *v, uint64_t opcode, const uint64_t args[4],
					uint64_t *ret);

/*
 * The VMM trapped a guest write to guest memory [gpa, gpa + len) (it write-protects the TCE
 * tables the TARs name): tell the consumers of every PHB whose table it touched what the
 * entries hold now. The TCE cache is not touched (hardware does not snoop). 0, or VIOMMU_EINVAL
 * for a bad call.
 */
VIOMMU_API int viommu_calgary_tce_written(struct viommu *v, uint64_t gpa, uint64_t len);

/*
 * The discovery data for the VMM's BIOS: the EBDA block list from offset
 * VIOMMU_CALGARY_EBDA_FIRST holding one Rio Grande table (version 3) that lists @n chips (one
 * scalability node, one rio_detail of type COMPAT_CALGARY per chip with its BBAR), written to
 * @buf (the bytes the VMM places at EBDA + 0x180). *@used gets the length. VIOMMU_ENOSPC when
 * @len is too small, VIOMMU_EINVAL for a bad call (@n 1..8, each a Calgary instance).
 */
VIOMMU_API int viommu_calgary_discovery(const struct viommu *const *chips, unsigned int n,
					void *buf, size_t len, size_t *used);

/* What the chip did. Counters only grow. */
struct viommu_calgary_stats {
	uint64_t mmio_reads;
	uint64_t mmio_writes;
	uint64_t mmio_ignored; /* unknown register or bad width */
	uint64_t translations;
	uint64_t bypassed; /* TCE translation off */
	uint64_t cache_hits;
	uint64_t cache_misses; /* TCE reads from the table */
	uint64_t faults;       /* refused DMAs that set the error registers */
	uint64_t stopped;      /* DMAs refused while quiesced */
	uint64_t tar_writes;
	uint64_t blasts;	    /* TAR writes that emptied the cache */
	uint64_t blasts_unquiesced; /* TAR writes that did not (stale entries kept) */
	uint64_t hcalls;
	uint64_t hcall_errors; /* hypercalls answered with anything but H_SUCCESS */
	uint64_t hcall_tces;   /* TCEs written by hypercalls */
	uint64_t trapped_tces; /* entries reported by viommu_calgary_tce_written() */
	uint64_t notify_map;
	uint64_t notify_unmap;
};

/* Fill @st; VIOMMU_EINVAL if @v is not a Calgary chip. */
VIOMMU_API int viommu_calgary_get_stats(const struct viommu *v, struct viommu_calgary_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* VIOMMU_CALGARY_H */
