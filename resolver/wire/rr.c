/*
 * Iterator over the records of an upstream response. Names embedded in the
 * rdata of the RFC 1035-era types (and the few later types that allow or
 * historically saw compression) are decompressed, so a record can be cached
 * and later written into a different message without dangling pointers.
 * The rdata layout of each such type is described by a short list of
 * fields; the fields must exactly fill the record's rdlength, otherwise the
 * whole response is rejected. Errors are sticky: after one malformed record
 * the iterator only returns VD_EMALF.
 */
#include "vpcdns/wire.h"
#include "vpcdns/util.h"

#include <string.h>

#define RR_FIXED 10

/* Rdata field kinds. */
enum { F_END = 0, F_NAME, F_U16, F_SOA_TAIL, F_CSTR };

struct rd_layout {
	uint16_t type;
	uint8_t fields[7];
};

/* Types 7-9 are MB, MG, MR; 14 MINFO; 17 RP; 18 AFSDB; 21 RT; 26 PX;
 * 35 NAPTR. */
static const struct rd_layout layouts[] = {
	{ VD_T_NS, { F_NAME } },
	{ VD_T_CNAME, { F_NAME } },
	{ VD_T_SOA, { F_NAME, F_NAME, F_SOA_TAIL } },
	{ 7, { F_NAME } },
	{ 8, { F_NAME } },
	{ 9, { F_NAME } },
	{ VD_T_PTR, { F_NAME } },
	{ 14, { F_NAME, F_NAME } },
	{ VD_T_MX, { F_U16, F_NAME } },
	{ 17, { F_NAME, F_NAME } },
	{ 18, { F_U16, F_NAME } },
	{ 21, { F_U16, F_NAME } },
	{ 26, { F_U16, F_NAME, F_NAME } },
	{ VD_T_SRV, { F_U16, F_U16, F_U16, F_NAME } },
	{ 35, { F_U16, F_U16, F_CSTR, F_CSTR, F_CSTR, F_NAME } },
	{ VD_T_DNAME, { F_NAME } },
};

static const uint8_t *layout_of(uint16_t type)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].type == type)
			return layouts[i].fields;
	return NULL;
}

/* Copies n raw bytes of rdata, which must lie before rd_end. */
static int copy_raw(const uint8_t *pkt, size_t *off, size_t rd_end, size_t n,
		    vd_rr_t *rr)
{
	if (rd_end - *off < n || sizeof(rr->rdata) - rr->rdlen < n)
		return VD_EMALF;
	memcpy(rr->rdata + rr->rdlen, pkt + *off, n);
	rr->rdlen += n;
	*off += n;
	return 0;
}

static int copy_field(const uint8_t *pkt, size_t len, size_t *off, size_t rd_end,
		      uint8_t kind, vd_rr_t *rr)
{
	uint8_t name[VD_NAME_MAX];
	size_t nlen;

	switch (kind) {
	case F_NAME:
		/* Pointers may reach anywhere before, but the in-place part of
		 * the name must end inside this rdata. */
		if (vd_name_parse(pkt, len, off, name, &nlen) < 0 || *off > rd_end ||
		    sizeof(rr->rdata) - rr->rdlen < nlen)
			return VD_EMALF;
		memcpy(rr->rdata + rr->rdlen, name, nlen);
		rr->rdlen += nlen;
		return 0;
	case F_U16:
		return copy_raw(pkt, off, rd_end, 2, rr);
	case F_SOA_TAIL:
		return copy_raw(pkt, off, rd_end, 20, rr);
	case F_CSTR:
		if (*off >= rd_end)
			return VD_EMALF;
		return copy_raw(pkt, off, rd_end, 1 + (size_t)pkt[*off], rr);
	default:
		return VD_EMALF;
	}
}

static int read_rdata(const uint8_t *pkt, size_t len, size_t off, size_t rdlen,
		      vd_rr_t *rr)
{
	const uint8_t *fields = layout_of(rr->type);
	size_t rd_end = off + rdlen;

	rr->rdlen = 0;
	if (!fields)
		return copy_raw(pkt, &off, rd_end, rdlen, rr);
	for (; *fields != F_END; fields++)
		if (copy_field(pkt, len, &off, rd_end, *fields, rr) < 0)
			return VD_EMALF;
	return off == rd_end ? 0 : VD_EMALF;
}

int vd_rr_iter_init(vd_rr_iter_t *it, const uint8_t *pkt, size_t len,
		    uint8_t *qname_out, uint16_t *qtype_out, uint16_t *qclass_out)
{
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype = 0, qclass = 0;
	size_t off = VD_HDR_LEN;

	if (!it)
		return VD_EMALF;
	memset(it, 0, sizeof(*it));
	if (!pkt || len < VD_HDR_LEN || vd_hdr_qdcount(pkt) > 1)
		return VD_EMALF;
	qname[0] = 0;
	if (vd_hdr_qdcount(pkt) == 1) {
		if (vd_name_parse(pkt, len, &off, qname, NULL) < 0 || len - off < 4)
			return VD_EMALF;
		qtype = vd_get16(pkt + off);
		qclass = vd_get16(pkt + off + 2);
		off += 4;
	}
	if (qname_out)
		memcpy(qname_out, qname, vd_name_len(qname));
	if (qtype_out)
		*qtype_out = qtype;
	if (qclass_out)
		*qclass_out = qclass;
	it->pkt = pkt;
	it->len = len;
	it->off = off;
	it->remaining[0] = vd_hdr_ancount(pkt);
	it->remaining[1] = vd_hdr_nscount(pkt);
	it->remaining[2] = vd_hdr_arcount(pkt);
	it->section = 1;
	return 0;
}

/* Leaves the iterator in a state where every later call fails too. */
static int broken(vd_rr_iter_t *it)
{
	memset(it->remaining, 0, sizeof(it->remaining));
	it->off = SIZE_MAX;
	return VD_EMALF;
}

int vd_rr_iter_next(vd_rr_iter_t *it, vd_rr_t *rr)
{
	size_t off, rdlen;

	if (!it || !rr || !it->pkt || it->section < 1)
		return VD_EMALF;
	while (it->section <= 3 && it->remaining[it->section - 1] == 0)
		it->section++;
	if (it->section > 3)
		return it->off == it->len ? 0 : broken(it);
	off = it->off;
	rr->wire_off = off;
	rr->section = it->section;
	if (vd_name_parse(it->pkt, it->len, &off, rr->owner, &rr->owner_len) < 0 ||
	    it->len - off < RR_FIXED)
		return broken(it);
	rr->type = vd_get16(it->pkt + off);
	rr->rclass = vd_get16(it->pkt + off + 2);
	rr->ttl = vd_get32(it->pkt + off + 4);
	rdlen = vd_get16(it->pkt + off + 8);
	off += RR_FIXED;
	if (it->len - off < rdlen || read_rdata(it->pkt, it->len, off, rdlen, rr) < 0)
		return broken(it);
	it->off = off + rdlen;
	it->remaining[it->section - 1]--;
	return 1;
}
