/*
 * Unit tests for wire-format names: parsing with decompression and every
 * rejection rule (loops, forward pointers, oversize labels and names,
 * reserved label types, truncation), and the helpers on uncompressed names
 * (length, compare, lower, labels, skip, subdomain, text conversion).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#define N(s) ((const uint8_t *)(s))

static void test_invalid_args(void **state)
{
	uint8_t out[VD_NAME_MAX];
	size_t off = 0, len;
	char buf[16];

	(void)state;
	assert_int_equal(vd_name_parse(NULL, 10, &off, out, &len), VD_EMALF);
	assert_int_equal(vd_name_parse(N("\0"), 1, NULL, out, &len), VD_EMALF);
	assert_int_equal(vd_name_parse(N("\0"), 1, &off, NULL, &len), VD_EMALF);
	assert_int_equal(vd_name_parse(N("\0"), 0, &off, out, &len), VD_EMALF);
	assert_int_equal(vd_name_len(NULL), 0);
	assert_false(vd_name_equal(NULL, N("\0")));
	assert_false(vd_name_equal(N("\0"), NULL));
	assert_int_equal(vd_name_labels(NULL), 0);
	assert_null(vd_name_skip(NULL, 1));
	assert_false(vd_name_is_subdomain(NULL, N("\0")));
	assert_false(vd_name_is_subdomain(N("\0"), NULL));
	vd_name_lower(NULL, N("\0"));
	assert_string_equal(vd_name_to_text(NULL, buf, sizeof(buf)), "");
	assert_null(vd_name_to_text(N("\0"), NULL, 10));
	assert_int_equal(vd_name_from_text(NULL, out, &len), VD_EMALF);
	assert_int_equal(vd_name_from_text("a", NULL, &len), VD_EMALF);
	assert_int_equal(vd_name_from_text("", out, &len), VD_EMALF);
}

static void test_parse_plain(void **state)
{
	static const uint8_t pkt[] = "\xff\x03www\x07"
				     "example\x03"
				     "com\x00\xee";
	uint8_t out[VD_NAME_MAX];
	size_t off = 1, len = 0;

	(void)state;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, &len), 0);
	assert_int_equal(len, 17);
	assert_int_equal(off, 18);
	assert_memory_equal(out, pkt + 1, 17);
	/* outlen may be NULL. */
	off = 1;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, NULL), 0);
	assert_int_equal(off, 18);
	/* Root. */
	off = 17;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(off, 18);
	assert_int_equal(out[0], 0);
}

static void test_parse_compressed(void **state)
{
	/* 0: "example.com", 13: "www" + ptr 0, 19: ptr 13, 21: "Mail" + ptr 19 */
	static const uint8_t pkt[] = "\x07"
				     "example\x03"
				     "com\x00"
				     "\x03www\xc0\x00"
				     "\xc0\x0d"
				     "\x04Mail\xc0\x13";
	uint8_t out[VD_NAME_MAX];
	size_t off, len;

	(void)state;
	off = 13;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, &len), 0);
	assert_int_equal(off, 19);
	assert_int_equal(len, 17);
	assert_memory_equal(out,
			    "\x03www\x07"
			    "example\x03"
			    "com",
			    17);
	/* Pointer to pointer; *off moves past the first pointer only. */
	off = 19;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, &len), 0);
	assert_int_equal(off, 21);
	assert_int_equal(len, 17);
	off = 21;
	assert_int_equal(vd_name_parse(pkt, sizeof(pkt) - 1, &off, out, &len), 0);
	assert_int_equal(off, 28);
	assert_int_equal(len, 22);
	assert_memory_equal(out,
			    "\x04Mail\x03www\x07"
			    "example\x03"
			    "com",
			    22);
}

static int parse_at(const uint8_t *pkt, size_t len, size_t off)
{
	uint8_t out[VD_NAME_MAX];
	size_t outlen;

	return vd_name_parse(pkt, len, &off, out, &outlen);
}

static void test_parse_pointer_abuse(void **state)
{
	/* Pointer to itself. */
	static const uint8_t self[] = { 0xc0, 0x00 };
	/* Forward pointer (to the root at 2). */
	static const uint8_t fwd[] = { 0xc0, 0x02, 0x00 };
	/* A backward pointer that still loops: the label at 0 is followed by
	 * the pointer at 4, which leads back to 0. */
	static const uint8_t loop[] = { 0x03, 'a', 'b', 'c', 0xc0, 0x00 };
	/* Truncated pointer. */
	static const uint8_t trunc_ptr[] = { 0x01, 'a', 0xc0 };
	/* Two pointers chained correctly still work (sanity for the cap). */
	static const uint8_t chain[] = { 0x00, 0xc0, 0x00, 0xc0, 0x01, 0xc0, 0x03 };

	(void)state;
	assert_int_equal(parse_at(self, sizeof(self), 0), VD_EMALF);
	assert_int_equal(parse_at(fwd, sizeof(fwd), 0), VD_EMALF);
	assert_int_equal(parse_at(loop, sizeof(loop), 4), VD_EMALF);
	assert_int_equal(parse_at(loop, sizeof(loop), 0), VD_EMALF);
	assert_int_equal(parse_at(trunc_ptr, sizeof(trunc_ptr), 0), VD_EMALF);
	assert_int_equal(parse_at(chain, sizeof(chain), 5), 0);
}

static void test_parse_long_pointer_chain(void **state)
{
	/* 200 pointers each to the previous: more jumps than the cap. */
	uint8_t pkt[1 + 2 * 200];
	size_t off;

	(void)state;
	pkt[0] = 0;
	for (size_t i = 0; i < 200; i++) {
		size_t at = 1 + 2 * i, target = i == 0 ? 0 : at - 2;

		pkt[at] = (uint8_t)(0xc0 | target >> 8);
		pkt[at + 1] = (uint8_t)target;
	}
	assert_int_equal(parse_at(pkt, sizeof(pkt), 1 + 2 * 199), VD_EMALF);
	off = 1 + 2 * 50;
	assert_int_equal(parse_at(pkt, sizeof(pkt), off), 0);
}

static void test_parse_bad_labels(void **state)
{
	uint8_t pkt[600];
	size_t n = 0;

	(void)state;
	/* Reserved label types. */
	assert_int_equal(parse_at(N("\x41"
				    "a\x00"),
				  3, 0),
			 VD_EMALF);
	assert_int_equal(parse_at(N("\x81"
				    "a\x00"),
				  3, 0),
			 VD_EMALF);
	/* Truncated label and missing terminator. */
	assert_int_equal(parse_at(N("\x05"
				    "ab"),
				  3, 0),
			 VD_EMALF);
	assert_int_equal(parse_at(N("\x02"
				    "ab"),
				  3, 0),
			 VD_EMALF);
	/* 63-byte label fine. */
	memset(pkt, 'x', sizeof(pkt));
	pkt[0] = 63;
	pkt[64] = 0;
	assert_int_equal(parse_at(pkt, 65, 0), 0);
	/* A name of exactly 255 bytes: 3 x 63 + 61 + terminator. */
	for (int i = 0; i < 3; i++) {
		pkt[n] = 63;
		memset(pkt + n + 1, 'a', 63);
		n += 64;
	}
	pkt[n] = 61;
	memset(pkt + n + 1, 'b', 61);
	n += 62;
	pkt[n++] = 0;
	assert_int_equal(n, 255);
	assert_int_equal(parse_at(pkt, n, 0), 0);
	/* 256 bytes: one more character in the last label. */
	pkt[n - 63] = 62;
	pkt[n - 1] = 'b';
	pkt[n] = 0;
	assert_int_equal(parse_at(pkt, n + 1, 0), VD_EMALF);
}

static void test_parse_too_long_via_pointers(void **state)
{
	/* Each name adds a 63-byte label then points to the previous: the
	 * fifth is over 255 bytes although every piece is fine. */
	uint8_t pkt[5 * 66 + 1];
	size_t n = 1, starts[5];

	(void)state;
	pkt[0] = 0;
	for (int i = 0; i < 5; i++) {
		size_t prev = i ? starts[i - 1] : 0;

		starts[i] = n;
		pkt[n] = 63;
		memset(pkt + n + 1, 'a' + i, 63);
		pkt[n + 64] = (uint8_t)(0xc0 | prev >> 8);
		pkt[n + 65] = (uint8_t)prev;
		n += 66;
	}
	assert_int_equal(parse_at(pkt, n, starts[2]), 0);	 /* 3 * 64 + 1 */
	assert_int_equal(parse_at(pkt, n, starts[3]), VD_EMALF); /* 257 */
	assert_int_equal(parse_at(pkt, n, starts[4]), VD_EMALF);
}

static void test_len_equal_lower(void **state)
{
	uint8_t buf[VD_NAME_MAX];

	(void)state;
	assert_int_equal(vd_name_len(N("\0")), 1);
	assert_int_equal(vd_name_len(N("\x03www\x07"
				       "example\x03"
				       "com")),
			 17);
	assert_true(vd_name_equal(N("\x03WwW\x02"
				    "Ex"),
				  N("\x03www\x02"
				    "eX")));
	assert_false(vd_name_equal(N("\x03www\x02"
				     "ex"),
				   N("\x03www\x02"
				     "ey")));
	assert_false(vd_name_equal(N("\x03www\x02"
				     "ex"),
				   N("\x03www")));
	assert_false(vd_name_equal(N("\x02"
				     "ab\x01"
				     "c"),
				   N("\x01"
				     "a\x02"
				     "bc")));
	assert_true(vd_name_equal(N("\0"), N("\0")));
	/* Only ASCII letters fold: '[' (0x5b) is not '{' (0x7b). */
	assert_false(vd_name_equal(N("\x01["), N("\x01{")));
	assert_false(vd_name_equal(N("\x01\xc1"), N("\x01\xe1")));

	vd_name_lower(buf, N("\x03WwW\x04"
			     "A-Z@"));
	assert_memory_equal(buf,
			    "\x03www\x04"
			    "a-z@",
			    10);
	memcpy(buf,
	       "\x02"
	       "AB",
	       4);
	vd_name_lower(buf, buf);
	assert_memory_equal(buf,
			    "\x02"
			    "ab",
			    4);
}

/* Every byte value, at every position of an eight-byte block and in the
 * tail after the blocks: only 'A'..'Z' change, each to its lower case
 * (0x80 and up, '@', '[' and the rest stay). */
static void test_lower_every_byte(void **state)
{
	uint8_t name[64], out[64];

	(void)state;
	for (unsigned v = 1; v < 256; v++) {
		for (unsigned pos = 1; pos < 40; pos++) {
			name[0] = 40;
			for (unsigned i = 1; i <= 40; i++)
				name[i] = (uint8_t)('a' + i % 26);
			name[pos] = (uint8_t)v;
			name[41] = 0;
			vd_name_lower(out, name);
			uint8_t want = v >= 'A' && v <= 'Z' ? (uint8_t)(v + 32)
							    : (uint8_t)v;
			assert_int_equal(out[pos], want);
			assert_int_equal(out[0], 40);
			assert_int_equal(out[41], 0);
			for (unsigned i = 1; i <= 40; i++)
				if (i != pos)
					assert_int_equal(out[i], name[i]);
		}
	}
}

static void test_labels_skip_subdomain(void **state)
{
	const uint8_t *n = N("\x03www\x07"
			     "example\x03"
			     "com");

	(void)state;
	assert_int_equal(vd_name_labels(N("\0")), 0);
	assert_int_equal(vd_name_labels(n), 3);
	assert_ptr_equal(vd_name_skip(n, 0), n);
	assert_ptr_equal(vd_name_skip(n, 1), n + 4);
	assert_ptr_equal(vd_name_skip(n, 3), n + 16);
	assert_ptr_equal(vd_name_skip(n, 9), n + 16);

	assert_true(vd_name_is_subdomain(n, N("\x07"
					      "EXAMPLE\x03"
					      "com")));
	assert_true(vd_name_is_subdomain(n, n));
	assert_true(vd_name_is_subdomain(n, N("\0")));
	assert_false(vd_name_is_subdomain(n, N("\x03"
					       "org")));
	assert_false(vd_name_is_subdomain(N("\x03"
					    "com"),
					  n));
	/* Label boundaries matter: "xample.com" is no parent. */
	assert_false(vd_name_is_subdomain(n, N("\x06"
					       "xample\x03"
					       "com")));
	assert_false(vd_name_is_subdomain(N("\x0a"
					    "badexample\x03"
					    "com"),
					  N("\x07"
					    "example\x03"
					    "com")));
}

static void test_to_text(void **state)
{
	char buf[VD_NAME_TEXT];

	(void)state;
	assert_string_equal(vd_name_to_text(N("\0"), buf, sizeof(buf)), ".");
	assert_string_equal(vd_name_to_text(N("\x03www\x07"
					      "Example\x03"
					      "com"),
					    buf, sizeof(buf)),
			    "www.Example.com.");
	assert_string_equal(vd_name_to_text(N("\x03"
					      "a.b\x02"
					      "c\\"),
					    buf, sizeof(buf)),
			    "a\\.b.c\\\\.");
	assert_string_equal(vd_name_to_text(N("\x04"
					      "a b\x01\x01\xff"),
					    buf, sizeof(buf)),
			    "a\\032b\\001.\\255.");
	assert_string_equal(vd_name_to_text(N("\x03"
					      "(;)"),
					    buf, sizeof(buf)),
			    "\\(\\;\\).");
	/* Truncation never overruns and never splits an escape. */
	memset(buf, 'Z', 16);
	vd_name_to_text(N("\x03www\x07"
			  "example"),
			buf, 6);
	assert_string_equal(buf, "www.e");
	assert_int_equal(buf[6], 'Z');
	vd_name_to_text(N("\x02"
			  "a "),
			buf, 5);
	assert_string_equal(buf, "a");
	vd_name_to_text(N("\x02"
			  "ab\x01"
			  "c"),
			buf, 3);
	assert_string_equal(buf, "ab");
	vd_name_to_text(N("\0"), buf, 1);
	assert_string_equal(buf, "");
}

static void test_to_text_longest(void **state)
{
	uint8_t name[VD_NAME_MAX];
	char buf[VD_NAME_TEXT];
	size_t n = 0;

	(void)state;
	/* 255 bytes of non-printables: every byte becomes \DDD. */
	for (int i = 0; i < 3; i++) {
		name[n] = 63;
		memset(name + n + 1, 1, 63);
		n += 64;
	}
	name[n] = 61;
	memset(name + n + 1, 1, 61);
	name[n + 62] = 0;
	vd_name_to_text(name, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 250 * 4 + 4);
}

static void from_text_ok(const char *text, const char *wire, size_t wlen)
{
	uint8_t out[VD_NAME_MAX];
	size_t len = 0;

	assert_int_equal(vd_name_from_text(text, out, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(out, wire, wlen);
}

static void test_from_text(void **state)
{
	static const char *const bad[] = {
		"..", "a..b", ".a", "a\\", "a\\25", "a\\256", "a\\2x5", "a.b..",
	};
	uint8_t out[VD_NAME_MAX];
	char text[400];
	size_t len;

	(void)state;
	from_text_ok(".", "\0", 1);
	from_text_ok("com",
		     "\x03"
		     "com",
		     5);
	from_text_ok("com.",
		     "\x03"
		     "com",
		     5);
	from_text_ok("Www.Example.COM",
		     "\x03Www\x07"
		     "Example\x03"
		     "COM",
		     17);
	from_text_ok("a\\.b.c",
		     "\x03"
		     "a.b\x01"
		     "c",
		     7);
	from_text_ok("a\\032b\\\\",
		     "\x04"
		     "a b\\",
		     6);
	from_text_ok("\\255\\000", "\x02\xff\x00", 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vd_name_from_text(bad[i], out, &len) != VD_EMALF)
			fail_msg("accepted bad name '%s'", bad[i]);
	}
	/* 63-character label ok, 64 not. */
	memset(text, 'a', 64);
	text[63] = '\0';
	assert_int_equal(vd_name_from_text(text, out, &len), 0);
	assert_int_equal(len, 65);
	text[63] = 'a';
	text[64] = '\0';
	assert_int_equal(vd_name_from_text(text, out, &len), VD_EMALF);
	/* 255 bytes ok, 256 not: 127 one-char labels = 254 + 1. */
	for (int i = 0; i < 127; i++) {
		text[2 * i] = 'x';
		text[2 * i + 1] = '.';
	}
	text[254] = '\0';
	assert_int_equal(vd_name_from_text(text, out, &len), 0);
	assert_int_equal(len, 255);
	text[254] = 'y';
	text[255] = '\0';
	assert_int_equal(vd_name_from_text(text, out, &len), VD_EMALF);
}

static void test_text_roundtrip(void **state)
{
	static const uint8_t names[][20] = {
		"\x03www\x07"
		"example\x03"
		"com",
		"\x05"
		"a.b\\c\x02\x00\xff",
		"\x03"
		"x y\x01@",
	};
	uint8_t back[VD_NAME_MAX];
	char text[VD_NAME_TEXT];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		vd_name_to_text(names[i], text, sizeof(text));
		assert_int_equal(vd_name_from_text(text, back, &len), 0);
		assert_int_equal(len, vd_name_len(names[i]));
		assert_memory_equal(back, names[i], len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_compressed),
		cmocka_unit_test(test_parse_pointer_abuse),
		cmocka_unit_test(test_parse_long_pointer_chain),
		cmocka_unit_test(test_parse_bad_labels),
		cmocka_unit_test(test_parse_too_long_via_pointers),
		cmocka_unit_test(test_len_equal_lower),
		cmocka_unit_test(test_lower_every_byte),
		cmocka_unit_test(test_labels_skip_subdomain),
		cmocka_unit_test(test_to_text),
		cmocka_unit_test(test_to_text_longest),
		cmocka_unit_test(test_from_text),
		cmocka_unit_test(test_text_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
