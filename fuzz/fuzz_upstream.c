/*
 * libFuzzer target for the upstream checks: every input is offered to
 * vd_fwd_msg_check as the response to a request for the input's own
 * question and ID (so it gets past the ID and question to the records),
 * and to a request for a fixed question. Besides memory safety it checks
 * the verdicts: an answer with our ID, QR, opcode QUERY and our question
 * is never a mismatch; a message accepted as OK has records that all
 * parse; nothing is accepted for a question it does not carry (a FORMERR
 * without question aside); and the query vd_fwd_msg_build writes for the
 * input's question, echoed back with QR set, is accepted.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fwd_int.h"
#include "vpcdns/fwd.h"
#include "vpcdns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static vd_fwd_t *fwd;
static fwd_req_t req;
static vd_rr_t rr;

static void set_question(fwd_req_t *r, const uint8_t *name, uint16_t qtype,
			 uint16_t qclass)
{
	r->qname_len = vd_name_len(name);
	memcpy(r->qname, name, r->qname_len);
	r->qtype = qtype;
	r->qclass = qclass;
}

static bool records_parse(const uint8_t *p, size_t len)
{
	vd_rr_iter_t it;
	int rc;
	if (vd_rr_iter_init(&it, p, len, NULL, NULL, NULL) != 0)
		return false;
	while ((rc = vd_rr_iter_next(&it, &rr)) == 1)
		;
	return rc == 0;
}

/* Our own query for the request's question, echoed as an answer. */
static void check_echo(fwd_req_t *r, uint16_t knobs)
{
	r->rd = knobs & 1;
	r->cd = knobs & 2;
	r->edns = knobs & 4;
	r->do_bit = knobs & 8;
	vd_fwd_msg_build(r);
	if (r->qlen > sizeof(r->query) || vd_hdr_id(r->query) != r->id)
		abort();
	uint8_t *echo = malloc(r->qlen);
	if (echo == NULL)
		abort();
	memcpy(echo, r->query, r->qlen);
	vd_set16(echo + 2, (uint16_t)(vd_hdr_flags(echo) | VD_F_QR));
	if (vd_fwd_msg_check(r, echo, r->qlen) != FWD_RESP_OK)
		abort();
	/* The same answer under another ID is not ours. */
	vd_set16(echo, (uint16_t)(r->id + 1));
	if (vd_fwd_msg_check(r, echo, r->qlen) != FWD_RESP_MISMATCH)
		abort();
	free(echo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fixed[] = "\3www\7example\3com";
	uint8_t qname[VD_NAME_MAX] = { 0 };
	uint16_t qtype = 0, qclass = 0;
	vd_rr_iter_t it;
	enum fwd_verdict v;

	if (fwd == NULL) {
		uv_loop_init(&loop);
		fwd = vd_fwd_new(&loop);
		if (fwd == NULL)
			abort();
	}
	memset(&req, 0, sizeof(req));
	req.f = fwd;

	bool has_q = vd_rr_iter_init(&it, data, size, qname, &qtype, &qclass) == 0 &&
		     vd_hdr_qdcount(data) == 1;

	/* A request for the input's own question and ID. */
	if (has_q) {
		set_question(&req, qname, qtype, qclass);
		req.id = vd_hdr_id(data);
		v = vd_fwd_msg_check(&req, data, size);
		uint16_t flags = vd_hdr_flags(data);
		if ((flags & VD_F_QR) && VD_F_OPCODE(flags) == VD_OPCODE_QUERY &&
		    v == FWD_RESP_MISMATCH)
			abort();
		if (v == FWD_RESP_OK && !records_parse(data, size))
			abort();
		check_echo(&req, vd_hdr_id(data));
	}

	/* A request for a fixed question, with the input's ID. */
	memset(&req, 0, sizeof(req));
	req.f = fwd;
	set_question(&req, fixed, VD_T_A, VD_C_IN);
	req.id = size >= 2 ? vd_get16(data) : 0;
	v = vd_fwd_msg_check(&req, data, size);
	if (v == FWD_RESP_OK) {
		if (!records_parse(data, size))
			abort();
		if (has_q ? !vd_name_equal(qname, fixed) || qtype != VD_T_A ||
				    qclass != VD_C_IN
			  : VD_F_RCODE(vd_hdr_flags(data)) != VD_RCODE_FORMERR)
			abort();
	}
	return 0;
}
