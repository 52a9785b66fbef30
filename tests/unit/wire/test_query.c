/*
 * Unit tests for client query parsing: every header rejection (runt, QR,
 * opcode, counts), question truncation, the EDNS OPT rules (one OPT, root
 * owner, well-formed options, version, payload floor, DO, NSID, unknown
 * options), non-OPT additional records, and trailing garbage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#include "pkt_build.h"

#define QNAME         \
	"\x03WwW\x07" \
	"ExAmple\x03" \
	"COM"
#define QNAME_LC      \
	"\x03www\x07" \
	"example\x03" \
	"com"
#define QNAME_LEN 17

static void question(pkt_t *p)
{
	put(p, QNAME, QNAME_LEN);
	put16(p, VD_T_AAAA);
	put16(p, VD_C_IN);
}

/* A standard query for WwW.ExAmple.COM AAAA with ar additional records. */
static void query(pkt_t *p, uint16_t ar)
{
	header(p, 0xbeef, VD_F_RD, 1, 0, 0, ar);
	question(p);
}

static void opt(pkt_t *p, uint16_t udp, uint32_t ttl, const void *rdata, uint16_t rdlen)
{
	put(p, "", 1);
	put16(p, VD_T_OPT);
	put16(p, udp);
	put32(p, ttl);
	put16(p, rdlen);
	if (rdlen)
		put(p, rdata, rdlen);
}

static vd_qp_result_t parse(const pkt_t *p, vd_query_msg_t *q)
{
	return vd_query_msg_parse(p->b, p->n, q);
}

static void test_invalid_args(void **state)
{
	static const uint8_t hdr[12] = { 0 };
	vd_query_msg_t q;

	(void)state;
	assert_int_equal(vd_query_msg_parse(NULL, 12, &q), VD_QP_DROP);
	assert_int_equal(vd_query_msg_parse(hdr, 12, NULL), VD_QP_DROP);
}

static void test_short_and_response(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 0);
	assert_int_equal(vd_query_msg_parse(p.b, 0, &q), VD_QP_DROP);
	assert_int_equal(vd_query_msg_parse(p.b, 11, &q), VD_QP_DROP);
	/* A bare header is readable: FORMERR (no question), not a drop. */
	assert_int_equal(vd_query_msg_parse(p.b, 12, &q), VD_QP_FORMERR);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.qname_len, 0);

	header(&p, 7, VD_F_QR | VD_F_RD, 1, 0, 0, 0);
	question(&p);
	assert_int_equal(parse(&p, &q), VD_QP_DROP);
	/* QR with a bad opcode is still dropped, never answered. */
	header(&p, 7, VD_F_QR | 5 << 11, 1, 0, 0, 0);
	question(&p);
	assert_int_equal(parse(&p, &q), VD_QP_DROP);
}

static void test_ok(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_int_equal(q.id, 0xbeef);
	assert_int_equal(q.flags, VD_F_RD);
	assert_int_equal(q.qname_len, QNAME_LEN);
	assert_memory_equal(q.qname, QNAME, QNAME_LEN);
	assert_memory_equal(q.qname_lc, QNAME_LC, QNAME_LEN);
	assert_int_equal(q.qtype, VD_T_AAAA);
	assert_int_equal(q.qclass, VD_C_IN);
	assert_int_equal(q.question_end, 12 + QNAME_LEN + 4);
	assert_false(q.edns);
	assert_false(q.edns_do);
	assert_false(q.edns_nsid);
}

static void test_opcode(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	for (uint16_t op = 1; op < 16; op++) {
		header(&p, 0x1234, (uint16_t)(op << 11 | VD_F_RD), 1, 0, 0, 0);
		question(&p);
		assert_int_equal(parse(&p, &q), VD_QP_NOTIMP);
		assert_int_equal(q.id, 0x1234);
		assert_int_equal(VD_F_OPCODE(q.flags), op);
		assert_int_equal(q.qname_len, QNAME_LEN);
		assert_int_equal(q.qtype, VD_T_AAAA);
	}
	/* NOTIMP even if the rest is garbage (UPDATE with other counts). */
	header(&p, 0x1234, 5 << 11, 1, 1, 1, 0);
	put(&p,
	    "\x05"
	    "ab",
	    3);
	assert_int_equal(parse(&p, &q), VD_QP_NOTIMP);
	assert_int_equal(q.qname_len, 0);
	header(&p, 0x4321, 2 << 11, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), VD_QP_NOTIMP);
	assert_int_equal(q.id, 0x4321);
	assert_int_equal(q.qname_len, 0);
}

static void test_counts(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	header(&p, 1, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.id, 1);
	header(&p, 2, 0, 2, 0, 0, 0);
	question(&p);
	question(&p);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.id, 2);
	assert_int_equal(q.qname_len, 0);
	header(&p, 3, 0, 1, 1, 0, 0);
	question(&p);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	header(&p, 4, 0, 1, 0, 1, 0);
	question(&p);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.flags, 0);
	assert_int_equal(q.id, 4);
}

static void test_bad_question(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	/* Every truncation of the question is FORMERR. */
	query(&p, 0);
	for (size_t n = 12; n < p.n; n++)
		assert_int_equal(vd_query_msg_parse(p.b, n, &q), VD_QP_FORMERR);
	/* Bad label type. */
	header(&p, 1, 0, 1, 0, 0, 0);
	put(&p,
	    "\x41"
	    "a\x00\x00\x01\x00\x01",
	    7);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Forward pointer. */
	header(&p, 1, 0, 1, 0, 0, 0);
	put(&p, "\xc0\x0e\x00\x00\x01\x00\x01", 7);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.qname_len, 0);
}

static void test_trailing(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 0);
	put(&p, "\x00", 1);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.qname_len, QNAME_LEN); /* kept for the reply */
	query(&p, 1);
	opt(&p, 1232, 0, NULL, 0);
	put(&p, "xyz", 3);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* ARCOUNT promises a record that is not there. */
	query(&p, 1);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	query(&p, 2);
	opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
}

static void test_edns_basic(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 1);
	opt(&p, 4096, 0x00008000, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);
	assert_false(q.edns_nsid);

	/* Payload below 512 reads as 512; other Z bits and the extended
	 * rcode byte are not DO. */
	query(&p, 1);
	opt(&p, 100, 0xff007fff, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_int_equal(q.edns_udp, 512);
	assert_false(q.edns_do);
	query(&p, 1);
	opt(&p, 0, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_int_equal(q.edns_udp, 512);
	query(&p, 1);
	opt(&p, 512, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_int_equal(q.edns_udp, 512);
	query(&p, 1);
	opt(&p, 65535, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_int_equal(q.edns_udp, 65535);
}

static void test_edns_options(void **state)
{
	/* NSID (empty), a cookie, an unknown option. */
	static const uint8_t opts[] = {
		0x00, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, 1,    2,    3,
		4,    5,    6,	  7,	8,    0xfd, 0xe9, 0x00, 0x01, 0x42,
	};
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 1);
	opt(&p, 1232, 0, opts, sizeof(opts));
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_true(q.edns_nsid);
	assert_int_equal(q.edns_udp, 1232);

	/* Unknown options alone: ignored, no NSID. */
	query(&p, 1);
	opt(&p, 1232, 0, opts + 4, sizeof(opts) - 4);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_true(q.edns);
	assert_false(q.edns_nsid);
}

static void test_edns_bad(void **state)
{
	static const uint8_t overrun[] = { 0x00, 0x0a, 0x00, 0x09, 1, 2,
					   3,	 4,    5,    6,	   7, 8 };
	static const uint8_t partial[] = { 0x00, 0x03, 0x00, 0x00, 0x00, 0x0a };
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	/* Two OPTs. */
	query(&p, 2);
	opt(&p, 1232, 0, NULL, 0);
	opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* OPT owned by a non-root name. */
	query(&p, 1);
	put(&p,
	    "\x01"
	    "a",
	    2);
	opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Compressed owner pointing at the qname: not root either. */
	query(&p, 1);
	put(&p, "\xc0\x0c", 2);
	put16(&p, VD_T_OPT);
	put16(&p, 1232);
	put32(&p, 0);
	put16(&p, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* An option longer than the rdata. */
	query(&p, 1);
	opt(&p, 1232, 0, overrun, sizeof(overrun));
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Stray bytes after the last full option. */
	query(&p, 1);
	opt(&p, 1232, 0, partial, sizeof(partial));
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Rdlength beyond the end of the packet. */
	query(&p, 1);
	opt(&p, 1232, 0, NULL, 0);
	p.b[p.n - 1] = 4;
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Fixed part of the OPT cut short. */
	query(&p, 1);
	opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(vd_query_msg_parse(p.b, p.n - 1, &q), VD_QP_FORMERR);
}

static void test_badvers(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	query(&p, 1);
	opt(&p, 4096, 0x00018000, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_BADVERS);
	assert_true(q.edns);
	assert_int_equal(q.edns_version, 1);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_udp, 4096);
	assert_int_equal(q.qname_len, QNAME_LEN);
	assert_memory_equal(q.qname, QNAME, QNAME_LEN);
	assert_int_equal(q.qtype, VD_T_AAAA);
	/* Malformation wins over BADVERS. */
	query(&p, 1);
	opt(&p, 4096, 0x00ff0000, NULL, 0);
	put(&p, "x", 1);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
}

static void test_other_additional(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	/* A TSIG-like record after the OPT is skipped. */
	query(&p, 2);
	opt(&p, 1232, 0, NULL, 0);
	put(&p, "\x03key\x00", 5);
	put16(&p, 250);
	put16(&p, VD_C_ANY);
	put32(&p, 0);
	put16(&p, 3);
	put(&p, "abc", 3);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	assert_true(q.edns);
	/* ... but it must be well-formed: rdlength past the end. */
	p.b[p.n - 4] = 9;
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* Or a bad owner name. */
	query(&p, 1);
	put(&p, "\x80", 1);
	put16(&p, 250);
	put16(&p, VD_C_ANY);
	put32(&p, 0);
	put16(&p, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
}

static void tsig(pkt_t *p)
{
	put(p, "\x03key\x00", 5);
	rr_fixed(p, 250, VD_C_ANY, 0, 3);
	put(p, "abc", 3);
}

/* RFC 8945 5.2: a TSIG anywhere but last in the additional section is
 * FORMERR. */
static void test_tsig_not_last(void **state)
{
	vd_query_msg_t q;
	pkt_t p;

	(void)state;
	/* TSIG alone, or after the OPT: last, parsed as before. */
	query(&p, 1);
	tsig(&p);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	query(&p, 2);
	opt(&p, 1232, 0, NULL, 0);
	tsig(&p);
	assert_int_equal(parse(&p, &q), VD_QP_OK);
	/* TSIG before the OPT. */
	query(&p, 2);
	tsig(&p);
	opt(&p, 1232, 0, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	assert_int_equal(q.qname_len, QNAME_LEN); /* kept for the reply */
	/* Two TSIGs: the first is not last. */
	query(&p, 2);
	tsig(&p);
	tsig(&p);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* TSIG before some other record. */
	query(&p, 2);
	tsig(&p);
	put(&p, "\x00", 1);
	rr_fixed(&p, VD_T_TXT, VD_C_IN, 0, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
	/* A TSIG before an OPT of an unknown version: FORMERR, not BADVERS. */
	query(&p, 2);
	tsig(&p);
	opt(&p, 1232, 0x00010000, NULL, 0);
	assert_int_equal(parse(&p, &q), VD_QP_FORMERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_short_and_response),
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_opcode),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_bad_question),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_edns_basic),
		cmocka_unit_test(test_edns_options),
		cmocka_unit_test(test_edns_bad),
		cmocka_unit_test(test_badvers),
		cmocka_unit_test(test_other_additional),
		cmocka_unit_test(test_tsig_not_last),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
