/*
 * Unit tests for the message writer: sticky overflow, name compression
 * (case-insensitive, through pointers already in the buffer, limits on
 * offsets and on remembered names) checked by parsing the output back,
 * the reply header and question echo, the OPT record with NSID, EDE and an
 * extended rcode, and mark/rollback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#define N(s) ((const uint8_t *)(s))

static vd_rr_t rr; /* large; one shared instance */

/* A parsed query for WwW.Example.COM A, as the pipeline would have it. */
static void make_query(vd_query_msg_t *q)
{
	memset(q, 0, sizeof(*q));
	q->id = 0xabcd;
	q->flags = VD_F_RD;
	memcpy(q->qname,
	       "\x03WwW\x07"
	       "Example\x03"
	       "COM",
	       17);
	vd_name_lower(q->qname_lc, q->qname);
	q->qname_len = 17;
	q->qtype = VD_T_A;
	q->qclass = VD_C_IN;
}

static void test_invalid_args(void **state)
{
	uint8_t buf[64];
	vd_wbuf_t w;
	vd_query_msg_t q;

	(void)state;
	vd_wbuf_init(NULL, buf, sizeof(buf));
	vd_wbuf_u8(NULL, 1);
	vd_wbuf_u16(NULL, 1);
	vd_wbuf_u32(NULL, 1);
	vd_wbuf_bytes(NULL, "x", 1);
	vd_wbuf_name(NULL, N("\0"));
	vd_wbuf_name_raw(NULL, N("\0"));
	vd_wbuf_name_remember(NULL, 0);
	vd_wbuf_count_inc(NULL, 1);
	vd_wbuf_opt(NULL, NULL);
	vd_wbuf_rollback(NULL, vd_wbuf_mark(NULL));
	make_query(&q);
	vd_wbuf_reply_start(NULL, &q, 0);

	/* A NULL buffer has no room at all. */
	vd_wbuf_init(&w, NULL, 100);
	assert_int_equal(w.cap, 0);
	vd_wbuf_u8(&w, 1);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(w.len, 0);

	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_name(&w, NULL);
	vd_wbuf_reply_start(&w, NULL, 0);
	assert_int_equal(w.len, 0);
	assert_int_equal(w.err, 0);
	vd_wbuf_bytes(&w, NULL, 3);
	assert_int_equal(w.err, -EINVAL);

	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_rr(&w, 1, NULL, VD_T_A, VD_C_IN, 1, N("1234"), 4);
	assert_int_equal(w.err, -EINVAL);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_rr(&w, 1, N("\0"), VD_T_A, VD_C_IN, 1, NULL, 4);
	assert_int_equal(w.err, -EINVAL);
}

static void test_primitives_and_overflow(void **state)
{
	uint8_t buf[8];
	vd_wbuf_t w;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	vd_wbuf_init(&w, buf, 7);
	vd_wbuf_u8(&w, 0x01);
	vd_wbuf_u16(&w, 0x0203);
	vd_wbuf_u32(&w, 0x04050607);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 7);
	assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07", 7);
	/* Full: the next write fails and the error sticks. */
	vd_wbuf_u8(&w, 0x08);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(w.len, 7);
	assert_int_equal(buf[7], 0xee);

	vd_wbuf_init(&w, buf, 7);
	vd_wbuf_u32(&w, 1);
	vd_wbuf_u32(&w, 2); /* does not fit: 3 bytes left */
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(w.len, 4);
	vd_wbuf_u8(&w, 9); /* would fit, but the error is sticky */
	vd_wbuf_u16(&w, 9);
	vd_wbuf_bytes(&w, "x", 1);
	vd_wbuf_name(&w, N("\0"));
	assert_int_equal(w.len, 4);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(buf[4], 0x05); /* untouched */
}

static void test_reply_start(void **state)
{
	uint8_t buf[512];
	vd_query_msg_t q;
	vd_wbuf_t w;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_F_RD | VD_F_RA | VD_RCODE_NXDOMAIN);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 12 + 17 + 4);
	assert_memory_equal(buf, "\xab\xcd\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00",
			    12);
	assert_memory_equal(buf + 12,
			    "\x03WwW\x07"
			    "Example\x03"
			    "COM\x00\x00\x01\x00\x01",
			    21);
	assert_int_equal(w.comp_n, 1);
	assert_int_equal(w.comp_off[0], 12);

	/* No question (e.g. FORMERR for QDCOUNT=0). */
	q.qname_len = 0;
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_RCODE_FORMERR);
	assert_int_equal(w.len, 12);
	assert_int_equal(w.comp_n, 0);
	assert_int_equal(vd_hdr_qdcount(buf), 0);
	assert_int_equal(vd_hdr_flags(buf), VD_F_QR | VD_RCODE_FORMERR);

	/* Too small for the question. */
	make_query(&q);
	vd_wbuf_init(&w, buf, 20);
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(w.comp_n, 0);
}

static void test_count_inc(void **state)
{
	uint8_t buf[64];
	vd_query_msg_t q;
	vd_wbuf_t w;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_count_inc(&w, 1); /* no header yet: ignored */
	assert_int_equal(w.len, 0);
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	vd_wbuf_count_inc(&w, 1);
	vd_wbuf_count_inc(&w, 2);
	vd_wbuf_count_inc(&w, 2);
	vd_wbuf_count_inc(&w, 3);
	vd_wbuf_count_inc(&w, 0);
	vd_wbuf_count_inc(&w, 4);
	assert_int_equal(vd_hdr_qdcount(buf), 1);
	assert_int_equal(vd_hdr_ancount(buf), 1);
	assert_int_equal(vd_hdr_nscount(buf), 2);
	assert_int_equal(vd_hdr_arcount(buf), 1);
	assert_int_equal(w.len, 12 + 21);
}

/* Reads back every record of the message and checks the owners (case may
 * come from the earlier name a pointer leads to). */
static void check_owners(const vd_wbuf_t *w, const char *const *names, size_t n)
{
	uint8_t want[VD_NAME_MAX];
	vd_rr_iter_t it;
	size_t len;

	assert_int_equal(vd_rr_iter_init(&it, w->buf, w->len, NULL, NULL, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(vd_rr_iter_next(&it, &rr), 1);
		assert_int_equal(vd_name_from_text(names[i], want, &len), 0);
		assert_int_equal(rr.owner_len, len);
		assert_true(vd_name_equal(rr.owner, want));
	}
	assert_int_equal(vd_rr_iter_next(&it, &rr), 0);
}

static void add_a(vd_wbuf_t *w, const char *owner)
{
	uint8_t name[VD_NAME_MAX];

	assert_int_equal(vd_name_from_text(owner, name, NULL), 0);
	vd_wbuf_rr(w, 1, name, VD_T_A, VD_C_IN, 60, N("\x0a\x00\x00\x01"), 4);
}

static void test_compression(void **state)
{
	static const char *const owners[] = {
		"www.example.com",
		"mail.example.com",
		"ns1.MAIL.example.com",
		"example.org",
		"com",
		".",
		"smtp.ns1.mail.EXAMPLE.COM",
	};
	uint8_t buf[512];
	vd_query_msg_t q;
	vd_wbuf_t w;
	size_t at;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);

	/* Whole name equal to the question (different case): a pointer. */
	at = w.len;
	add_a(&w, owners[0]);
	assert_memory_equal(buf + at, "\xc0\x0c", 2);
	/* Suffix example.com of the question. */
	at = w.len;
	add_a(&w, owners[1]);
	assert_memory_equal(buf + at, "\x04mail\xc0\x10", 7);
	/* Suffix found at a name that itself ends in a pointer. */
	size_t mail = at;
	at = w.len;
	add_a(&w, owners[2]);
	assert_memory_equal(buf + at, "\x03ns1", 4);
	assert_int_equal(vd_get16(buf + at + 4), 0xc000 | mail);
	/* Only the root in common: written in full. */
	at = w.len;
	add_a(&w, owners[3]);
	assert_memory_equal(buf + at,
			    "\x07"
			    "example\x03"
			    "org\x00",
			    13);
	/* A one-label suffix inside the question. */
	at = w.len;
	add_a(&w, owners[4]);
	assert_memory_equal(buf + at, "\xc0\x18", 2);
	/* The root is a single zero byte, never a pointer. */
	at = w.len;
	add_a(&w, owners[5]);
	assert_int_equal(buf[at], 0);
	assert_int_equal(vd_get16(buf + at + 1), VD_T_A);
	/* Three levels of pointers. */
	add_a(&w, owners[6]);
	assert_int_equal(w.err, 0);
	assert_int_equal(vd_hdr_ancount(buf), 7);
	check_owners(&w, owners, 7);
}

static void test_compression_limits(void **state)
{
	static uint8_t big[0x4000 + 512];
	uint8_t buf[4096];
	char text[64];
	vd_query_msg_t q;
	vd_wbuf_t w;
	size_t at;

	(void)state;
	/* More distinct names than can be remembered. */
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	for (int i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "h%d.z%d.example.net", i, i);
		add_a(&w, text);
	}
	assert_int_equal(w.err, 0);
	assert_int_equal(w.comp_n, VD_WCOMP_MAX);
	assert_int_equal(vd_hdr_ancount(buf), 100);
	assert_int_equal(
		vd_rr_iter_init(&(vd_rr_iter_t){ 0 }, buf, w.len, NULL, NULL, NULL), 0);

	/* Names past 0x3fff are not compression targets. */
	vd_wbuf_init(&w, big, sizeof(big));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	while (w.len < 0x4000)
		vd_wbuf_u8(&w, 0);
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "a\x03"
			   "org"));
	assert_memory_equal(big + at,
			    "\x01"
			    "a\x03"
			    "org\x00",
			    7);
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "a\x03"
			   "org"));
	assert_memory_equal(big + at,
			    "\x01"
			    "a\x03"
			    "org\x00",
			    7);
	/* ... while the question near the start still is. */
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "b\x03"
			   "com"));
	assert_memory_equal(big + at,
			    "\x01"
			    "b\xc0\x18",
			    4);

	vd_wbuf_name_remember(&w, 0x4000);
	vd_wbuf_name_remember(&w, w.len);
	vd_wbuf_name_remember(&w, w.len + 100);
	assert_int_equal(w.comp_n, 1);
}

static void test_remembered_garbage(void **state)
{
	/* Offsets callers remembered that do not hold a sane name must never
	 * be followed out of bounds or used as targets. */
	static const uint8_t junk[][4] = {
		{ 0x41, 'a', 0x00, 0 },	 /* extended label type */
		{ 0xc0, 0x7f, 0x00, 0 }, /* forward pointer */
		{ 0x05, 'a', 'b', 0 },	 /* label past the end */
		{ 0xc0, 0x00, 0, 0 },	 /* pointer to the header */
	};
	uint8_t buf[512];
	vd_wbuf_t w;
	size_t at;

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		vd_wbuf_init(&w, buf, sizeof(buf));
		vd_wbuf_bytes(&w, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
		at = w.len;
		vd_wbuf_bytes(&w, junk[i], i == 2 ? 3 : 4);
		vd_wbuf_name_remember(&w, at);
		at = w.len;
		vd_wbuf_name(&w, N("\x01"
				   "a\x01"
				   "b"));
		assert_int_equal(w.err, 0);
		assert_memory_equal(buf + at,
				    "\x01"
				    "a\x01"
				    "b\x00",
				    5);
	}
	/* A 128-pointer chain: more hops than any name needs. */
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_bytes(&w,
		      "\x01"
		      "b\x00",
		      3);
	for (int i = 0; i < 129; i++)
		vd_wbuf_u16(&w, (uint16_t)(0xc000 | (i ? w.len - 2 : 0)));
	vd_wbuf_name_remember(&w, w.len - 2);
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "b"));
	assert_int_equal(w.err, 0);
	assert_memory_equal(buf + at,
			    "\x01"
			    "b\x00",
			    3);
}

static void test_target_straddles_limit(void **state)
{
	static uint8_t big[0x4000 + 64];
	vd_wbuf_t w;
	size_t at;

	(void)state;
	/* A name starting below 0x4000 whose last label lies above it: only
	 * the reachable suffixes may be used. */
	vd_wbuf_init(&w, big, sizeof(big));
	while (w.len < 0x4000 - 3)
		vd_wbuf_u8(&w, 0);
	at = w.len;
	vd_wbuf_name(&w, N("\x02"
			   "ab\x03"
			   "org")); /* "org" at 0x4000 */
	assert_int_equal(w.comp_n, 1);
	assert_int_equal(w.comp_off[0], at);
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "x\x03"
			   "org"));
	assert_memory_equal(big + at,
			    "\x01"
			    "x\x03"
			    "org\x00",
			    7);
	at = w.len;
	vd_wbuf_name(&w, N("\x02"
			   "AB\x03"
			   "org"));
	assert_int_equal(vd_get16(big + at), 0xc000 | (0x4000 - 3));
}

static void test_name_raw(void **state)
{
	uint8_t buf[128];
	vd_query_msg_t q;
	vd_wbuf_t w;
	size_t at;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	at = w.len;
	vd_wbuf_name_raw(&w, N("\x03www\x07"
			       "example\x03"
			       "com"));
	assert_int_equal(w.len, at + 17);
	assert_memory_equal(buf + at,
			    "\x03www\x07"
			    "example\x03"
			    "com\x00",
			    17);
	assert_int_equal(w.comp_n, 1);
	/* Remembered explicitly, it becomes a target. */
	vd_wbuf_name_remember(&w, at);
	assert_int_equal(w.comp_n, 2);
	assert_int_equal(w.comp_off[1], at);
}

static void test_opt(void **state)
{
	static const uint8_t want_rdata[] = {
		0x00, 0x03, 0x00, 0x04, 'n', 's', '-', '1', 0x00, 0x0f,
		0x00, 0x07, 0x00, 0x16, 'u', 'p', ' ', 'x', '!',
	};
	vd_opt_out_t o = {
		.ext_rcode = VD_RCODE_BADVERS,
		.do_bit = true,
		.nsid = N("ns-1"),
		.nsid_len = 4,
		.ede_code = VD_EDE_NO_REACHABLE_AUTHORITY,
		.ede_text = "up x!",
	};
	uint8_t buf[512];
	vd_query_msg_t q;
	vd_rr_iter_t it;
	vd_wbuf_t w;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_F_RD | VD_RCODE_SERVFAIL);
	vd_wbuf_opt(&w, &o);
	assert_int_equal(w.err, 0);
	assert_int_equal(vd_hdr_arcount(buf), 1);
	/* BADVERS = 16: low four bits (0) in the header, 1 in the OPT. */
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(buf)), 0);
	assert_int_equal(vd_hdr_flags(buf) & ~0xf, VD_F_QR | VD_F_RD);

	assert_int_equal(vd_rr_iter_init(&it, buf, w.len, NULL, NULL, NULL), 0);
	assert_int_equal(vd_rr_iter_next(&it, &rr), 1);
	assert_int_equal(rr.section, 3);
	assert_int_equal(rr.type, VD_T_OPT);
	assert_int_equal(rr.owner_len, 1);
	assert_int_equal(rr.rclass, VD_EDNS_ADVERTISE);
	assert_int_equal(rr.ttl, 0x01008000);
	assert_int_equal(rr.rdlen, sizeof(want_rdata));
	assert_memory_equal(rr.rdata, want_rdata, sizeof(want_rdata));
	assert_int_equal(vd_rr_iter_next(&it, &rr), 0);
}

static void test_opt_variants(void **state)
{
	vd_opt_out_t o = { .ext_rcode = VD_RCODE_REFUSED,
			   .ede_code = VD_EDE_PROHIBITED };
	uint8_t buf[512];
	vd_query_msg_t q;
	vd_wbuf_t w;
	size_t at;

	(void)state;
	make_query(&q);
	/* EDE without text, no NSID, no DO, rcode fits the header. */
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	at = w.len;
	vd_wbuf_opt(&w, &o);
	assert_int_equal(w.len, at + 11 + 6);
	assert_memory_equal(buf + at,
			    "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x06"
			    "\x00\x0f\x00\x02\x00\x12",
			    17);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(buf)), VD_RCODE_REFUSED);

	/* NULL options: a plain OPT. */
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_RCODE_NXDOMAIN);
	at = w.len;
	vd_wbuf_opt(&w, NULL);
	assert_int_equal(w.len, at + 11);
	assert_memory_equal(buf + at, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",
			    11);
	assert_int_equal(vd_hdr_arcount(buf), 1);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(buf)), 0);

	/* No room: header rcode and ARCOUNT untouched. */
	vd_wbuf_init(&w, buf, 12 + 21 + 12);
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_RCODE_NXDOMAIN);
	o.nsid = N("x");
	o.nsid_len = 1;
	vd_wbuf_opt(&w, &o);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(vd_hdr_arcount(buf), 0);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(buf)), VD_RCODE_NXDOMAIN);

	/* Options that cannot fit in an rdlength at all. */
	static char huge[70000];
	memset(huge, 'e', sizeof(huge) - 1);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	o.ede_text = huge;
	vd_wbuf_opt(&w, &o);
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(w.len, 12 + 21);
}

static void test_mark_rollback(void **state)
{
	uint8_t buf[12 + 21 + 2 + 10 + 4 + 5];
	vd_query_msg_t q;
	vd_wbuf_mark_t m;
	vd_wbuf_t w;
	size_t at;

	(void)state;
	make_query(&q);
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	/* A record that does not fit is dropped whole. */
	m = vd_wbuf_mark(&w);
	add_a(&w, "long.name.that.does.not.fit");
	assert_int_equal(w.err, VD_ESPACE);
	assert_int_equal(vd_hdr_ancount(buf), 0);
	vd_wbuf_rollback(&w, m);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, m.len);
	assert_int_equal(w.comp_n, m.comp_n);
	/* One that fits still can be written afterwards. */
	add_a(&w, "www.example.com");
	assert_int_equal(w.err, 0);
	assert_int_equal(vd_hdr_ancount(buf), 1);

	/* Names written after a mark stop being targets after rollback. */
	vd_wbuf_init(&w, buf, sizeof(buf));
	vd_wbuf_reply_start(&w, &q, VD_F_QR);
	m = vd_wbuf_mark(&w);
	vd_wbuf_name(&w, N("\x01"
			   "z\x03"
			   "org"));
	assert_int_equal(w.comp_n, m.comp_n + 2);
	vd_wbuf_rollback(&w, m);
	at = w.len;
	vd_wbuf_name(&w, N("\x01"
			   "y\x03"
			   "org"));
	assert_memory_equal(buf + at,
			    "\x01"
			    "y\x03"
			    "org\x00",
			    7);

	/* A mark from the future is ignored. */
	m.len = w.len + 5;
	vd_wbuf_rollback(&w, m);
	assert_int_equal(w.len, at + 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_primitives_and_overflow),
		cmocka_unit_test(test_reply_start),
		cmocka_unit_test(test_count_inc),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_compression_limits),
		cmocka_unit_test(test_remembered_garbage),
		cmocka_unit_test(test_target_straddles_limit),
		cmocka_unit_test(test_name_raw),
		cmocka_unit_test(test_opt),
		cmocka_unit_test(test_opt_variants),
		cmocka_unit_test(test_mark_rollback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
