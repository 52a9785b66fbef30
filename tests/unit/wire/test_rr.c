/*
 * Unit tests for the response record iterator: a compressed response with
 * CNAME, A, MX, SOA and OPT decompresses to the expected rdata; the other
 * name-bearing types (SRV, NAPTR, PX, MINFO) are laid out right; unknown
 * types are copied verbatim; and malformed rdata, overruns, trailing bytes
 * and bad questions are rejected (stickily).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#include "pkt_build.h"

#define EXAMPLE_OFF 16 /* "example.com" inside the question */

/* vd_rr_t is large (64 KiB of rdata): heap, not stack. */
static vd_rr_t *rr_new(void)
{
	vd_rr_t *rr = test_malloc(sizeof(*rr));

	assert_non_null(rr);
	return rr;
}

/* www.example.com A: CNAME web.example.com, web A, web MX 10 mail;
 * authority SOA; additional OPT. Returns the offset of "web". */
static size_t response(pkt_t *p)
{
	size_t web;

	header(p, 0x1111, VD_F_QR | VD_F_RD | VD_F_RA, 1, 3, 1, 1);
	put(p,
	    "\x03www\x07"
	    "example\x03"
	    "com",
	    17);
	put16(p, VD_T_A);
	put16(p, VD_C_IN);
	/* CNAME */
	put(p, "\xc0\x0c", 2);
	rr_fixed(p, VD_T_CNAME, VD_C_IN, 300, 6);
	web = p->n;
	put(p, "\x03web\xc0\x10", 6);
	/* A, owner is a pointer into the CNAME's rdata */
	put16(p, (uint16_t)(0xc000 | web));
	rr_fixed(p, VD_T_A, VD_C_IN, 60, 4);
	put(p, "\xc0\x00\x02\x01", 4);
	/* MX */
	put16(p, (uint16_t)(0xc000 | web));
	rr_fixed(p, VD_T_MX, VD_C_IN, 60, 9);
	put(p, "\x00\x0a\x04mail\xc0\x10", 9);
	/* SOA */
	put(p, "\xc0\x10", 2);
	rr_fixed(p, VD_T_SOA, VD_C_IN, 900, 6 + 13 + 20);
	put(p, "\x03ns1\xc0\x10", 6);
	put(p, "\x0ahostmaster\xc0\x10", 13);
	put32(p, 2024010101);
	put32(p, 7200);
	put32(p, 3600);
	put32(p, 1209600);
	put32(p, 300);
	/* OPT */
	put(p, "", 1);
	rr_fixed(p, VD_T_OPT, 1232, 0x8000, 4);
	put(p, "\x00\x03\x00\x00", 4);
	return web;
}

static void test_invalid_args(void **state)
{
	vd_rr_iter_t it;
	vd_rr_t *rr = rr_new();
	pkt_t p;

	(void)state;
	response(&p);
	assert_int_equal(vd_rr_iter_init(NULL, p.b, p.n, NULL, NULL, NULL), VD_EMALF);
	assert_int_equal(vd_rr_iter_init(&it, NULL, p.n, NULL, NULL, NULL), VD_EMALF);
	assert_int_equal(vd_rr_iter_next(&it, rr), VD_EMALF); /* failed init */
	assert_int_equal(vd_rr_iter_init(&it, p.b, 11, NULL, NULL, NULL), VD_EMALF);
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, NULL, NULL, NULL), 0);
	assert_int_equal(vd_rr_iter_next(NULL, rr), VD_EMALF);
	assert_int_equal(vd_rr_iter_next(&it, NULL), VD_EMALF);
	test_free(rr);
}

static void test_compressed_response(void **state)
{
	static const uint8_t soa[] = "\x03ns1\x07"
				     "example\x03"
				     "com\x00"
				     "\x0ahostmaster\x07"
				     "example\x03"
				     "com\x00";
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype, qclass;
	vd_rr_iter_t it;
	vd_rr_t *rr = rr_new();
	size_t web;
	pkt_t p;

	(void)state;
	web = response(&p);
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, qname, &qtype, &qclass), 0);
	assert_memory_equal(qname,
			    "\x03www\x07"
			    "example\x03"
			    "com",
			    17);
	assert_int_equal(qtype, VD_T_A);
	assert_int_equal(qclass, VD_C_IN);

	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(rr->section, 1);
	assert_int_equal(rr->type, VD_T_CNAME);
	assert_int_equal(rr->ttl, 300);
	assert_int_equal(rr->wire_off, 12 + 17 + 4);
	assert_int_equal(rr->owner_len, 17);
	assert_memory_equal(rr->owner,
			    "\x03www\x07"
			    "example\x03"
			    "com",
			    17);
	assert_int_equal(rr->rdlen, 17);
	assert_memory_equal(rr->rdata,
			    "\x03web\x07"
			    "example\x03"
			    "com",
			    17);

	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(rr->type, VD_T_A);
	assert_int_equal(rr->wire_off, web + 6);
	assert_memory_equal(rr->owner,
			    "\x03web\x07"
			    "example\x03"
			    "com",
			    17);
	assert_int_equal(rr->rdlen, 4);
	assert_memory_equal(rr->rdata, "\xc0\x00\x02\x01", 4); /* not a name */

	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(rr->type, VD_T_MX);
	assert_int_equal(rr->rdlen, 2 + 18);
	assert_memory_equal(rr->rdata,
			    "\x00\x0a\x04mail\x07"
			    "example\x03"
			    "com",
			    20);

	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(rr->section, 2);
	assert_int_equal(rr->type, VD_T_SOA);
	assert_int_equal(rr->rdlen, sizeof(soa) - 1 + 20);
	assert_memory_equal(rr->rdata, soa, sizeof(soa) - 1);
	assert_int_equal(vd_get32(rr->rdata + sizeof(soa) - 1), 2024010101);
	assert_int_equal(vd_get32(rr->rdata + sizeof(soa) - 1 + 16), 300);

	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(rr->section, 3);
	assert_int_equal(rr->type, VD_T_OPT);
	assert_int_equal(rr->rclass, 1232);
	assert_int_equal(rr->ttl, 0x8000);
	assert_int_equal(rr->owner_len, 1);
	assert_int_equal(rr->rdlen, 4);

	assert_int_equal(vd_rr_iter_next(&it, rr), 0);
	assert_int_equal(vd_rr_iter_next(&it, rr), 0);
	test_free(rr);
}

static int iterate(const pkt_t *p)
{
	vd_rr_iter_t it;
	vd_rr_t *rr = rr_new();
	int r;

	r = vd_rr_iter_init(&it, p->b, p->n, NULL, NULL, NULL);
	if (r == 0) {
		do
			r = vd_rr_iter_next(&it, rr);
		while (r == 1);
	}
	test_free(rr);
	return r;
}

static void test_every_truncation_fails(void **state)
{
	pkt_t p;
	size_t full;

	(void)state;
	response(&p);
	full = p.n;
	assert_int_equal(iterate(&p), 0);
	for (p.n = 0; p.n < full; p.n++)
		if (iterate(&p) != VD_EMALF)
			fail_msg("truncation to %zu bytes accepted", p.n);
}

static void test_trailing_bytes(void **state)
{
	vd_rr_iter_t it;
	vd_rr_t *rr = rr_new();
	pkt_t p;

	(void)state;
	response(&p);
	put(&p, "\x00", 1);
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, NULL, NULL, NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(vd_rr_iter_next(&it, rr), VD_EMALF);
	assert_int_equal(vd_rr_iter_next(&it, rr), VD_EMALF);
	test_free(rr);
}

/* A response with one answer of the given type and rdata. */
static void one_rr(pkt_t *p, uint16_t type, const void *rdata, uint16_t rdlen)
{
	header(p, 1, VD_F_QR, 1, 1, 0, 0);
	put(p,
	    "\x07"
	    "example\x03"
	    "com",
	    13);
	put16(p, VD_T_ANY);
	put16(p, VD_C_IN);
	put(p, "\xc0\x0c", 2);
	rr_fixed(p, type, VD_C_IN, 1, rdlen);
	put(p, rdata, rdlen);
}

static void test_malformed_rdata(void **state)
{
	pkt_t p;

	(void)state;
	/* CNAME whose name ends before rdlength. */
	one_rr(&p, VD_T_CNAME, "\xc0\x0c\x00", 3);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* CNAME whose name runs past rdlength (into the next bytes). */
	one_rr(&p, VD_T_CNAME,
	       "\x01"
	       "a",
	       2);
	put(&p, "\x00", 1);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* Empty NS. */
	one_rr(&p, VD_T_NS, "", 0);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* SOA with a 19-byte tail, and with 21. */
	one_rr(&p, VD_T_SOA,
	       "\xc0\x0c\xc0\x0c"
	       "0123456789012345678",
	       23);
	assert_int_equal(iterate(&p), VD_EMALF);
	one_rr(&p, VD_T_SOA,
	       "\xc0\x0c\xc0\x0c"
	       "012345678901234567890",
	       25);
	assert_int_equal(iterate(&p), VD_EMALF);
	one_rr(&p, VD_T_SOA,
	       "\xc0\x0c\xc0\x0c"
	       "01234567890123456789",
	       24);
	assert_int_equal(iterate(&p), 0);
	/* MX with only the preference. */
	one_rr(&p, VD_T_MX, "\x00\x0a", 2);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* Rdlength beyond the packet. */
	one_rr(&p, VD_T_A, "\x01\x02\x03\x04", 4);
	p.b[p.n - 5] = 5;
	assert_int_equal(iterate(&p), VD_EMALF);
	/* Name in rdata with a forward pointer. */
	one_rr(&p, VD_T_PTR, "\xc0\x30", 2);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* NAPTR whose character-string overruns the rdata. */
	one_rr(&p, 35,
	       "\x00\x01\x00\x02\x01"
	       "U\x09"
	       "E2U",
	       10);
	assert_int_equal(iterate(&p), VD_EMALF);
	/* NAPTR ending before its character-strings. */
	one_rr(&p, 35,
	       "\x00\x01\x00\x02\x01"
	       "U",
	       6);
	assert_int_equal(iterate(&p), VD_EMALF);
}

static void test_bad_question(void **state)
{
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype = 9, qclass = 9;
	vd_rr_iter_t it;
	vd_rr_t *rr = rr_new();
	pkt_t p;

	(void)state;
	header(&p, 1, VD_F_QR, 2, 0, 0, 0);
	put(&p, "\x00\x00\x01\x00\x01\x00\x00\x01\x00\x01", 10);
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, NULL, NULL, NULL), VD_EMALF);
	header(&p, 1, VD_F_QR, 1, 0, 0, 0);
	put(&p, "\x00\x00\x01\x00", 4);
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, NULL, NULL, NULL), VD_EMALF);
	/* No question at all is fine (e.g. some FORMERR replies). */
	header(&p, 1, VD_F_QR | VD_RCODE_FORMERR, 0, 0, 0, 0);
	memset(qname, 0xaa, sizeof(qname));
	assert_int_equal(vd_rr_iter_init(&it, p.b, p.n, qname, &qtype, &qclass), 0);
	assert_int_equal(qname[0], 0);
	assert_int_equal(qtype, 0);
	assert_int_equal(qclass, 0);
	assert_int_equal(vd_rr_iter_next(&it, rr), 0);
	test_free(rr);
}

static void next_one(const pkt_t *p, vd_rr_t *rr)
{
	vd_rr_iter_t it;

	assert_int_equal(vd_rr_iter_init(&it, p->b, p->n, NULL, NULL, NULL), 0);
	assert_int_equal(vd_rr_iter_next(&it, rr), 1);
	assert_int_equal(vd_rr_iter_next(&it, rr), 0);
}

#define EX            \
	"\x07"        \
	"example\x03" \
	"com\x00"

static void test_other_types(void **state)
{
	vd_rr_t *rr = rr_new();
	pkt_t p;

	(void)state;
	one_rr(&p, VD_T_SRV,
	       "\x00\x01\x00\x02\x00\x35\x03"
	       "dns\xc0\x0c",
	       12);
	next_one(&p, rr);
	assert_int_equal(rr->rdlen, 6 + 4 + 13);
	assert_memory_equal(rr->rdata,
			    "\x00\x01\x00\x02\x00\x35\x03"
			    "dns" EX,
			    23);

	one_rr(&p, 35,
	       "\x00\x01\x00\x02\x01"
	       "U\x07"
	       "E2U+sip\x00\xc0\x0c",
	       17);
	next_one(&p, rr);
	assert_int_equal(rr->rdlen, 15 + 13);
	assert_memory_equal(rr->rdata,
			    "\x00\x01\x00\x02\x01"
			    "U\x07"
			    "E2U+sip\x00" EX,
			    28);

	one_rr(&p, 26,
	       "\x00\x05\xc0\x0c\x01"
	       "x\xc0\x0c",
	       8);
	next_one(&p, rr);
	assert_int_equal(rr->rdlen, 2 + 13 + 15);
	assert_memory_equal(rr->rdata,
			    "\x00\x05" EX "\x01"
			    "x" EX,
			    30);

	one_rr(&p, 14, "\xc0\x0c\x00", 3);
	next_one(&p, rr);
	assert_int_equal(rr->rdlen, 14);
	assert_memory_equal(rr->rdata, EX "", 14);

	one_rr(&p, VD_T_DNAME,
	       "\x01"
	       "a\xc0\x0c",
	       4);
	next_one(&p, rr);
	assert_memory_equal(rr->rdata,
			    "\x01"
			    "a" EX,
			    15);

	/* TXT holding bytes that look like a pointer: copied verbatim. */
	one_rr(&p, VD_T_TXT, "\x02\xc0\x0c", 3);
	next_one(&p, rr);
	assert_int_equal(rr->rdlen, 3);
	assert_memory_equal(rr->rdata, "\x02\xc0\x0c", 3);
	test_free(rr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_compressed_response),
		cmocka_unit_test(test_every_truncation_fails),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_malformed_rdata),
		cmocka_unit_test(test_bad_question),
		cmocka_unit_test(test_other_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
