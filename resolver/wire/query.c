/*
 * Parsing of a client query: header checks, the single question, and the
 * additional section (EDNS OPT, anything else skipped but validated). The
 * result tells the caller how to answer: drop responses and runts, NOTIMP
 * for other opcodes, FORMERR for malformed queries and BADVERS for unknown
 * EDNS versions. Whatever could be parsed (id, flags, question) is left in
 * the message so the error reply can echo it.
 */
#include "vpcdns/wire.h"
#include "vpcdns/util.h"

#include <string.h>

/* Fixed part of an RR after its owner: type, class, ttl, rdlength. */
#define RR_FIXED 10

static int parse_question(const uint8_t *pkt, size_t len, vd_query_msg_t *q)
{
	size_t off = VD_HDR_LEN;

	if (vd_name_parse(pkt, len, &off, q->qname, &q->qname_len) < 0 ||
	    len - off < 4) {
		q->qname_len = 0;
		return VD_EMALF;
	}
	vd_name_lower(q->qname_lc, q->qname);
	q->qtype = vd_get16(pkt + off);
	q->qclass = vd_get16(pkt + off + 2);
	q->question_end = off + 4;
	return 0;
}

/* A COOKIE option is the client cookie alone (8 bytes) or with a server
 * cookie of 8 to 32 bytes; anything else, or a second one, is FORMERR. */
static int parse_cookie(const uint8_t *p, size_t olen, vd_query_msg_t *q)
{
	if (q->cookie_len != 0 || olen < 8 || (olen > 8 && olen < 16) ||
	    olen > VD_COOKIE_MAX)
		return VD_EMALF;
	memcpy(q->cookie, p, olen);
	q->cookie_len = (uint8_t)olen;
	return 0;
}

/* Walks the option list of an OPT rdata; NSID and COOKIE matter to us. */
static int parse_options(const uint8_t *p, size_t rdlen, vd_query_msg_t *q)
{
	size_t off = 0, olen;

	while (off < rdlen) {
		if (rdlen - off < 4)
			return VD_EMALF;
		olen = vd_get16(p + off + 2);
		if (rdlen - off - 4 < olen)
			return VD_EMALF;
		if (vd_get16(p + off) == VD_EDNS_NSID)
			q->edns_nsid = true;
		if (vd_get16(p + off) == VD_EDNS_COOKIE &&
		    parse_cookie(p + off + 4, olen, q) < 0)
			return VD_EMALF;
		off += 4 + olen;
	}
	return 0;
}

static int parse_opt(const uint8_t *rr, size_t owner_len, vd_query_msg_t *q)
{
	uint32_t ttl = vd_get32(rr + 4);
	uint16_t udp = vd_get16(rr + 2);

	if (q->edns || owner_len != 1)
		return VD_EMALF;
	q->edns = true;
	q->edns_udp = udp < VD_UDP_LEGACY ? VD_UDP_LEGACY : udp;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & 0x8000) != 0;
	return parse_options(rr + RR_FIXED, vd_get16(rr + 8), q);
}

/* Additional section: one OPT at most, a TSIG only as the last record
 * (RFC 8945 5.2); other records are checked for framing and otherwise
 * ignored (a last TSIG too: we hold no keys). */
static int parse_additional(const uint8_t *pkt, size_t len, vd_query_msg_t *q)
{
	uint8_t owner[VD_NAME_MAX];
	size_t off = q->question_end, owner_len, rdlen;
	unsigned count = vd_hdr_arcount(pkt);

	for (unsigned i = 0; i < count; i++) {
		if (vd_name_parse(pkt, len, &off, owner, &owner_len) < 0 ||
		    len - off < RR_FIXED)
			return VD_EMALF;
		rdlen = vd_get16(pkt + off + 8);
		if (len - off - RR_FIXED < rdlen)
			return VD_EMALF;
		uint16_t type = vd_get16(pkt + off);
		if (type == VD_T_OPT && parse_opt(pkt + off, owner_len, q) < 0)
			return VD_EMALF;
		if (type == VD_T_TSIG && i + 1 != count)
			return VD_EMALF;
		off += RR_FIXED + rdlen;
	}
	return off == len ? 0 : VD_EMALF;
}

vd_qp_result_t vd_query_msg_parse(const uint8_t *pkt, size_t len, vd_query_msg_t *q)
{
	if (!q)
		return VD_QP_DROP;
	memset(q, 0, sizeof(*q));
	if (!pkt || len < VD_HDR_LEN)
		return VD_QP_DROP;
	q->id = vd_hdr_id(pkt);
	q->flags = vd_hdr_flags(pkt);
	if (q->flags & VD_F_QR)
		return VD_QP_DROP;
	if (VD_F_OPCODE(q->flags) != VD_OPCODE_QUERY) {
		/* Best effort, so the NOTIMP reply can echo the question. */
		if (vd_hdr_qdcount(pkt) == 1)
			parse_question(pkt, len, q);
		return VD_QP_NOTIMP;
	}
	if (vd_hdr_qdcount(pkt) != 1 || vd_hdr_ancount(pkt) != 0 ||
	    vd_hdr_nscount(pkt) != 0)
		return VD_QP_FORMERR;
	if (parse_question(pkt, len, q) < 0)
		return VD_QP_FORMERR;
	if (parse_additional(pkt, len, q) < 0)
		return VD_QP_FORMERR;
	if (q->edns && q->edns_version > 0)
		return VD_QP_BADVERS;
	return VD_QP_OK;
}
