// SPDX-License-Identifier: MIT
/*
 * The sPAPR TCE hypercalls on a PHB's table (LIOBN = PHB index), as QEMU's spapr_iommu.c and
 * KVM answer them: H_PUT_TCE, H_PUT_TCE_INDIRECT (up to 512 TCEs from a 4 KiB-aligned list),
 * H_STUFF_TCE (one TCE over a range), H_GET_TCE. Every argument and TCE is checked before the
 * table is written, so a refused call changes nothing. The hypervisor keeps its cache coherent:
 * the pages written leave the TCE cache at once, and the consumers hear of them.
 */
#include "calgary_internal.h"

/* Entries written per guest-memory transfer. */
#define HC_CHUNK VIOMMU_TCE_INDIRECT_MAX

/* What the table keeps of a TCE: rights and page number (the hub id and reserved bits go). */
static uint64_t tce_store(uint64_t tce)
{
	return tce & (VIOMMU_TCE_RPN_MASK | VIOMMU_TCE_READ | VIOMMU_TCE_WRITE);
}

/*
 * A TCE a guest may put: 0 (unmap), or rights with a page inside pa_bits. The hypercalls take the
 * sPAPR view of the entry, whose page number runs up to bit 63: any address bit at or above
 * pa_bits is refused, not dropped.
 */
static bool tce_putable(const struct calgary *s, uint64_t tce)
{
	if (tce & ~0xfffull & ~((1ull << s->cfg.pa_bits) - 1))
		return false;
	return !(tce & (VIOMMU_TCE_READ | VIOMMU_TCE_WRITE)) ? tce_store(tce) == 0 :
							       vi_cal_tce_ok(s, tce);
}

/* Write @n big-endian entries (CPU-order @tces) from page @first; false when outside memory. */
static bool table_write(struct calgary *s, struct cal_phb *p, uint64_t first, const uint64_t *tces,
			uint64_t n)
{
	uint64_t be[HC_CHUNK];

	/* cpu_to_be64: vi_write copies bytes, so the buffer holds them in big-endian order. */
	for (uint64_t i = 0; i < n; i++)
		be[i] = vi_le64(__builtin_bswap64(tce_store(tces[i])));
	return vi_write(&s->v.host, p->pt.root + 8 * first, be, 8 * n) == 0;
}

static void written(struct calgary *s, struct cal_phb *p, uint64_t first, uint64_t n)
{
	s->st.hcall_tces += n;
	vi_cal_cache_drop(s, p, first, n);
	vi_cal_notify_range(s, p, first, n);
}

static int64_t put_tce(struct calgary *s, struct cal_phb *p, uint64_t pg, uint64_t tce)
{
	if (!tce_putable(s, tce))
		return VIOMMU_TCE_H_PARAMETER;
	if (!table_write(s, p, pg, &tce, 1))
		return VIOMMU_TCE_H_HARDWARE;
	written(s, p, pg, 1);
	return VIOMMU_TCE_H_SUCCESS;
}

static int64_t put_indirect(struct calgary *s, struct cal_phb *p, uint64_t pg, uint64_t list,
			    uint64_t n)
{
	uint64_t tces[VIOMMU_TCE_INDIRECT_MAX];

	if (n > VIOMMU_TCE_INDIRECT_MAX || (list & (VIOMMU_TCE_INDIRECT_ALIGN - 1)) ||
	    n > p->entries - pg)
		return VIOMMU_TCE_H_PARAMETER;
	if (!n)
		return VIOMMU_TCE_H_SUCCESS;
	/* The whole list first: the guest's later changes to it do not matter. */
	if (vi_read(&s->v.host, list, tces, 8 * n))
		return VIOMMU_TCE_H_PARAMETER;
	for (uint64_t i = 0; i < n; i++) {
		tces[i] = __builtin_bswap64(vi_le64(tces[i]));
		if (!tce_putable(s, tces[i]))
			return VIOMMU_TCE_H_PARAMETER;
	}
	if (!table_write(s, p, pg, tces, n))
		return VIOMMU_TCE_H_HARDWARE;
	written(s, p, pg, n);
	return VIOMMU_TCE_H_SUCCESS;
}

static int64_t stuff_tce(struct calgary *s, struct cal_phb *p, uint64_t pg, uint64_t tce,
			 uint64_t n)
{
	uint64_t tces[HC_CHUNK];

	if (n > p->entries - pg || !tce_putable(s, tce))
		return VIOMMU_TCE_H_PARAMETER;
	for (unsigned int i = 0; i < HC_CHUNK; i++)
		tces[i] = tce;
	/* Bounded by the table (at most 1 Mi entries); the first transfer checks the table. */
	for (uint64_t done = 0; done < n;) {
		uint64_t k = n - done < HC_CHUNK ? n - done : HC_CHUNK;

		if (!table_write(s, p, pg + done, tces, k)) {
			if (done)
				written(s, p, pg, done);
			return VIOMMU_TCE_H_HARDWARE;
		}
		done += k;
	}
	if (n)
		written(s, p, pg, n);
	return VIOMMU_TCE_H_SUCCESS;
}

static int64_t get_tce(struct calgary *s, struct cal_phb *p, uint64_t pg, uint64_t *ret)
{
	uint64_t be;

	if (!ret)
		return VIOMMU_TCE_H_PARAMETER;
	if (vi_read(&s->v.host, p->pt.root + 8 * pg, &be, 8))
		return VIOMMU_TCE_H_HARDWARE;
	*ret = __builtin_bswap64(vi_le64(be));
	return VIOMMU_TCE_H_SUCCESS;
}

int64_t viommu_calgary_hcall(struct viommu *v, uint64_t opcode, const uint64_t args[4],
			     uint64_t *ret)
{
	struct calgary *s = cal_of(v);
	struct cal_phb *p;
	uint64_t pg;
	int64_t rc;

	if (!s || !args)
		return VIOMMU_TCE_H_PARAMETER;
	s->st.hcalls++;
	if (opcode != VIOMMU_TCE_H_PUT_TCE && opcode != VIOMMU_TCE_H_GET_TCE &&
	    opcode != VIOMMU_TCE_H_STUFF_TCE && opcode != VIOMMU_TCE_H_PUT_TCE_INDIRECT) {
		s->st.hcall_errors++;
		return VIOMMU_TCE_H_FUNCTION;
	}
	p = args[0] < VIOMMU_CALGARY_PHBS ? &s->phb[args[0]] : NULL;
	pg = args[1] >> 12;
	if (!p || !p->tar_written || pg >= p->entries) {
		s->st.hcall_errors++;
		return VIOMMU_TCE_H_PARAMETER;
	}
	switch (opcode) {
	case VIOMMU_TCE_H_PUT_TCE:
		rc = put_tce(s, p, pg, args[2]);
		break;
	case VIOMMU_TCE_H_PUT_TCE_INDIRECT:
		rc = put_indirect(s, p, pg, args[2], args[3]);
		break;
	case VIOMMU_TCE_H_STUFF_TCE:
		rc = stuff_tce(s, p, pg, args[2], args[3]);
		break;
	default:
		rc = get_tce(s, p, pg, ret);
		break;
	}
	if (rc != VIOMMU_TCE_H_SUCCESS)
		s->st.hcall_errors++;
	return rc;
}
