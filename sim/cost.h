/* SPDX-License-Identifier: MIT */
/*
 * viommu-sim unit costs: the names, units and profiles of docs/cost-model.md, loaded from
 * docs/cost-profiles.conf (compiled in) and overridden by cost files and NAME=VALUE arguments
 * (§7 of that document: built-in profile, then --cost-file files, then --cost options).
 */
#ifndef VIOMMU_SIM_COST_H
#define VIOMMU_SIM_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Every unit cost, by base name (without the _ns/_cycles suffix of time costs). */
#define SIM_COST_LIST(X)                                              \
	X(CPU_GHZ, "cpu_ghz", SIM_UNIT_GHZ)                           \
	X(LINK_GBPS, "link_gbps", SIM_UNIT_GBPS)                      \
	X(WIRE_OVERHEAD, "wire_overhead_bytes", SIM_UNIT_BYTES)       \
	X(EXIT_KERNEL, "exit_kernel", SIM_UNIT_TIME)                  \
	X(EXIT_USER_PIO, "exit_user_pio", SIM_UNIT_TIME)              \
	X(EXIT_USER_MMIO, "exit_user_mmio", SIM_UNIT_TIME)            \
	X(MMIO_DECODE, "mmio_decode", SIM_UNIT_TIME)                  \
	X(KICK_IOEVENTFD, "kick_ioeventfd", SIM_UNIT_TIME)            \
	X(IRQ_INJECT_EXIT, "irq_inject_exit", SIM_UNIT_TIME)          \
	X(IRQ_POSTED, "irq_posted", SIM_UNIT_TIME)                    \
	X(VMM_SOCK_MSG, "vmm_sock_msg", SIM_UNIT_TIME)                \
	X(VMM_WAKEUP, "vmm_wakeup", SIM_UNIT_TIME)                    \
	X(SYSCALL, "syscall", SIM_UNIT_TIME)                          \
	X(SW_WALK_LEVEL, "sw_walk_level", SIM_UNIT_TIME)              \
	X(HW_IOTLB_MISS, "hw_iotlb_miss", SIM_UNIT_TIME)              \
	X(HW_IOTLB_HIT, "hw_iotlb_hit", SIM_UNIT_TIME)                \
	X(HW_IOTLB_ENTRIES, "hw_iotlb_entries", SIM_UNIT_COUNT)       \
	X(DEVTLB_LOOKUP, "devtlb_lookup", SIM_UNIT_TIME)              \
	X(PCIE_DMA_READ, "pcie_dma_read", SIM_UNIT_TIME)              \
	X(DEV_DMA_INFLIGHT, "dev_dma_inflight", SIM_UNIT_COUNT)       \
	X(GUEST_DMA_MAP, "guest_dma_map", SIM_UNIT_TIME)              \
	X(GUEST_DMA_UNMAP, "guest_dma_unmap", SIM_UNIT_TIME)          \
	X(IOTLB_INV_HW, "iotlb_inv_hw", SIM_UNIT_TIME)                \
	X(HOST_IOMMU_MAP, "host_iommu_map", SIM_UNIT_TIME)            \
	X(HOST_IOMMU_UNMAP, "host_iommu_unmap", SIM_UNIT_TIME)        \
	X(VFIO_CALL, "vfio_call", SIM_UNIT_TIME)                      \
	X(VFIO_PIN_PAGE, "vfio_pin_page", SIM_UNIT_TIME)              \
	X(VFIO_UNPIN_PAGE, "vfio_unpin_page", SIM_UNIT_TIME)          \
	X(GUEST_STACK_TX_PKT, "guest_stack_tx_pkt", SIM_UNIT_TIME)    \
	X(GUEST_STACK_RX_PKT, "guest_stack_rx_pkt", SIM_UNIT_TIME)    \
	X(GUEST_WAKEUP_IDLE, "guest_wakeup_idle", SIM_UNIT_TIME)      \
	X(GUEST_GRO_FRAME, "guest_gro_frame", SIM_UNIT_TIME)          \
	X(COPY_BW, "copy_gbyte_per_s", SIM_UNIT_GBYTE_PER_S)          \
	X(VHOST_PKT, "vhost_pkt", SIM_UNIT_TIME)                      \
	X(VMM_EMUL_OP, "vmm_emul_op", SIM_UNIT_TIME)                  \
	X(GUEST_PMD_PKT, "guest_pmd_pkt", SIM_UNIT_TIME)              \
	X(GUEST_BLK_REQ, "guest_blk_req", SIM_UNIT_TIME)              \
	X(DISK_GBYTE_PER_S, "disk_gbyte_per_s", SIM_UNIT_GBYTE_PER_S) \
	X(DISK_LATENCY, "disk_latency", SIM_UNIT_TIME)                \
	X(EXIT_NESTED_USER, "exit_nested_user", SIM_UNIT_TIME)        \
	X(EXIT_NESTED_KERNEL, "exit_nested_kernel", SIM_UNIT_TIME)    \
	X(HW_NESTED_WALK, "hw_nested_walk", SIM_UNIT_TIME)            \
	X(MMIO_DIRECT, "mmio_direct", SIM_UNIT_TIME)                  \
	X(HWV_GUEST_CMD, "hwv_guest_cmd", SIM_UNIT_TIME)              \
	X(HYPERCALL, "hypercall", SIM_UNIT_TIME)                      \
	X(TCE_WRITE_FLUSH, "tce_write_flush", SIM_UNIT_TIME)          \
	X(MMIO_NATIVE, "mmio_native", SIM_UNIT_TIME)

enum sim_unit {
	SIM_UNIT_TIME, /* NAME_ns or NAME_cycles; read back in ns */
	SIM_UNIT_GHZ,
	SIM_UNIT_GBPS,
	SIM_UNIT_BYTES,
	SIM_UNIT_COUNT,
	SIM_UNIT_GBYTE_PER_S,
};

#define SIM_COST_ENUM(id, name, unit) SIM_COST_##id,
enum sim_cost { SIM_COST_LIST(SIM_COST_ENUM) SIM_COST_NR };
#undef SIM_COST_ENUM

struct sim_costs;

/* Built-in profiles (docs/cost-profiles.conf as compiled in). */
int sim_costs_create(struct sim_costs **out, char *err, size_t errlen);
void sim_costs_destroy(struct sim_costs *c);

/* Profiles known now (built-in plus those defined by cost files), in definition order. */
size_t sim_costs_profile_count(const struct sim_costs *c);
const char *sim_costs_profile_name(const struct sim_costs *c, size_t i);
const char *sim_costs_profile_about(const struct sim_costs *c, size_t i);

/* Choose the profile the next overrides apply to and the getters read. */
int sim_costs_select(struct sim_costs *c, const char *profile, char *err, size_t errlen);
const char *sim_costs_selected(const struct sim_costs *c);

/*
 * A cost file (same syntax as docs/cost-profiles.conf); lines outside any [profile] section apply
 * to the selected profile. Errors name the file and line.
 */
int sim_costs_load_file(struct sim_costs *c, const char *path, char *err, size_t errlen);
/* One "name=value" override of the selected profile (origin "cli"). */
int sim_costs_set_arg(struct sim_costs *c, const char *arg, char *err, size_t errlen);

/* The selected profile's value: time costs in ns, the rest in their unit. */
double sim_cost(const struct sim_costs *c, enum sim_cost k);
/* Tagged GAP in the selected profile (and not overridden since). */
bool sim_cost_is_gap(const struct sim_costs *c, enum sim_cost k);
const char *sim_cost_name(enum sim_cost k);
enum sim_unit sim_cost_unit(enum sim_cost k);

/* The effective table of the selected profile: name, value, unit, origin, tag. */
void sim_costs_print(const struct sim_costs *c, FILE *f);

#endif /* VIOMMU_SIM_COST_H */
