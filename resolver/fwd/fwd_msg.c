/*
 * fwd messages: builds the query sent upstream (random ID, RD/CD from the
 * client, the question as given, an OPT RR with our payload size and the
 * client's DO bit) and decides whether a packet that arrived is the answer
 * to it. Acceptance is strict because this is the spoofing boundary: the ID,
 * QR, opcode and question must match, and every record must parse, before
 * anything reaches the cache or a client. With 0x20 (draft-vixie-dnsext-
 * dns0x20, on unless the group turns it off) each attempt also flips the
 * case of every letter of the name at random, and the reply's question
 * must repeat it byte for byte: an off-path forger then has to guess one
 * more bit per letter on top of the ID and the source port.
 */
#include "fwd_int.h"

#include <string.h>

#include "vpcdns/util.h"

#define EDNS_DO 0x8000u

size_t vd_fwd_name_check(const uint8_t *name)
{
	size_t len = 0;

	for (;;) {
		uint8_t l = name[len];

		if (l == 0)
			return len + 1;
		/* a label must leave room for the final zero byte */
		if (l > VD_LABEL_MAX || len + 1 + l >= VD_NAME_MAX)
			return 0;
		len += 1 + (size_t)l;
	}
}

/* Gives each ASCII letter of r->qname a random case, into r->sent_qname. */
static void case_randomise(fwd_req_t *r)
{
	uint8_t bits[VD_NAME_MAX / 8 + 1];
	size_t i = 0, nbit = 0;

	vd_rand_bytes(bits, sizeof(bits));
	while (r->qname[i] != 0) {
		size_t end = i + 1 + r->qname[i];

		r->sent_qname[i] = r->qname[i];
		for (i++; i < end; i++) {
			uint8_t c = r->qname[i];

			if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
				bool up = (bits[nbit / 8] >> (nbit % 8)) & 1;

				c = up ? (uint8_t)(c & ~0x20) : (uint8_t)(c | 0x20);
				nbit++;
			}
			r->sent_qname[i] = c;
		}
	}
	r->sent_qname[i] = 0;
}

void vd_fwd_msg_build(fwd_req_t *r)
{
	uint8_t *p = r->query;
	uint16_t flags = (uint16_t)((r->rd ? VD_F_RD : 0) | (r->cd ? VD_F_CD : 0));
	size_t off = VD_HDR_LEN;

	r->id = vd_rand_u16();
	vd_set16(p, r->id);
	vd_set16(p + 2, flags);
	vd_set16(p + 4, 1);
	vd_set16(p + 6, 0);
	vd_set16(p + 8, 0);
	vd_set16(p + 10, r->edns ? 1 : 0);
	if (r->use_0x20)
		case_randomise(r);
	else
		memcpy(r->sent_qname, r->qname, r->qname_len);
	memcpy(p + off, r->sent_qname, r->qname_len);
	off += r->qname_len;
	vd_set16(p + off, r->qtype);
	vd_set16(p + off + 2, r->qclass);
	off += 4;
	if (r->edns) {
		p[off] = 0;     /* root owner */
		vd_set16(p + off + 1, VD_T_OPT);
		vd_set16(p + off + 3, VD_EDNS_ADVERTISE);
		vd_set32(p + off + 5, r->do_bit ? EDNS_DO : 0);
		vd_set16(p + off + 9, 0);
		off += 11;
	}
	r->qlen = off;
}

static bool question_matches(const fwd_req_t *r, const uint8_t *p,
			     const uint8_t *qname, uint16_t qtype, uint16_t qclass)
{
	/* Some servers drop the question from FORMERR replies; the ID and
	 * source still tie such a reply to our query. */
	if (vd_hdr_qdcount(p) == 0)
		return VD_F_RCODE(vd_hdr_flags(p)) == VD_RCODE_FORMERR;
	if (qtype != r->qtype || qclass != r->qclass)
		return false;
	if (r->use_0x20)
		return memcmp(qname, r->sent_qname, r->qname_len) == 0;
	return vd_name_equal(qname, r->qname);
}

enum fwd_verdict vd_fwd_msg_check(fwd_req_t *r, const uint8_t *p, size_t len)
{
	vd_rr_iter_t it;
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype = 0, qclass = 0, flags;
	int rc;

	if (len < VD_HDR_LEN)
		return FWD_RESP_MALFORMED;
	flags = vd_hdr_flags(p);
	if (vd_hdr_id(p) != r->id || !(flags & VD_F_QR) ||
	    VD_F_OPCODE(flags) != VD_OPCODE_QUERY)
		return FWD_RESP_MISMATCH;
	qname[0] = 0;
	if (vd_rr_iter_init(&it, p, len, qname, &qtype, &qclass) < 0)
		return FWD_RESP_MALFORMED;
	if (!question_matches(r, p, qname, qtype, qclass))
		return FWD_RESP_MISMATCH;
	while ((rc = vd_rr_iter_next(&it, &r->f->rr)) == 1)
		;
	return rc == 0 ? FWD_RESP_OK : FWD_RESP_MALFORMED;
}
