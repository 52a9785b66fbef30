/*
 * libFuzzer target for packet parsing: every input is parsed as a client
 * query and also walked as an upstream response with the decompressing
 * record iterator. Beyond memory safety it checks the invariants callers
 * rely on: the parsed question lies inside the packet, lower-casing is
 * consistent, decompressed names are valid and the iterator never runs
 * past the packet; a parsed query can be echoed into a reply that parses
 * back to the same question; and the owners found, written again with
 * name compression, parse back to the same names.
 */
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OWNERS 64

static vd_rr_t rr;
static uint8_t owners[MAX_OWNERS][VD_NAME_MAX];
static uint8_t wbuf[65535];

static void check_name(const uint8_t *name, size_t len)
{
	if (len < 1 || len > VD_NAME_MAX || vd_name_len(name) != len)
		abort();
}

static void check_query(const uint8_t *data, size_t size)
{
	uint8_t out[VD_NAME_MAX + 64];
	vd_query_msg_t q, back;
	vd_qp_result_t r;
	vd_wbuf_t w;

	r = vd_query_msg_parse(data, size, &q);
	if (r == VD_QP_DROP || !q.qname_len)
		return;
	check_name(q.qname, q.qname_len);
	if (q.question_end > size || !vd_name_equal(q.qname, q.qname_lc))
		abort();
	if (q.edns && q.edns_udp < VD_UDP_LEGACY)
		abort();
	/* The echoed question must read back identically. */
	vd_wbuf_init(&w, out, sizeof(out));
	vd_wbuf_reply_start(&w, &q, 0);
	if (w.err || vd_query_msg_parse(out, w.len, &back) != VD_QP_OK ||
	    back.qname_len != q.qname_len ||
	    memcmp(back.qname, q.qname, q.qname_len) != 0 || back.qtype != q.qtype)
		abort();
}

/* Writes the owners with compression after a question for qname and
 * checks the iterator reads the same names back. */
static void check_rewrite(const uint8_t *qname, size_t n)
{
	vd_query_msg_t q = { .qtype = 1, .qclass = 1 };
	vd_rr_iter_t it;
	vd_wbuf_t w;

	q.qname_len = vd_name_len(qname);
	memcpy(q.qname, qname, q.qname_len);
	vd_wbuf_init(&w, wbuf, sizeof(wbuf));
	vd_wbuf_reply_start(&w, &q, 0x8000);
	for (size_t i = 0; i < n; i++)
		vd_wbuf_rr(&w, 1, owners[i], VD_T_A, VD_C_IN, 0, NULL, 0);
	if (w.err || vd_rr_iter_init(&it, wbuf, w.len, NULL, NULL, NULL) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (vd_rr_iter_next(&it, &rr) != 1 ||
		    !vd_name_equal(rr.owner, owners[i]))
			abort();
	if (vd_rr_iter_next(&it, &rr) != 0)
		abort();
}

static void check_response(const uint8_t *data, size_t size)
{
	uint8_t qname[VD_NAME_MAX];
	vd_rr_iter_t it;
	size_t n = 0;
	int r;

	if (vd_rr_iter_init(&it, data, size, qname, NULL, NULL) < 0)
		return;
	check_name(qname, vd_name_len(qname));
	while ((r = vd_rr_iter_next(&it, &rr)) == 1) {
		check_name(rr.owner, rr.owner_len);
		if (rr.section < 1 || rr.section > 3 || rr.wire_off >= size ||
		    it.off > size)
			abort();
		if (n < MAX_OWNERS)
			memcpy(owners[n++], rr.owner, rr.owner_len);
	}
	if (r != 0 && r != VD_EMALF)
		abort();
	check_rewrite(qname, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_query(data, size);
	check_response(data, size);
	return 0;
}
