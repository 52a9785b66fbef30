/*
 * Unit tests of reverse-name parsing and construction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

static int rev(const char *text, int *family, uint8_t addr[16])
{
	uint8_t name[VD_NAME_MAX];
	size_t len;
	assert_int_equal(vd_name_from_text(text, name, &len), 0);
	return vd_name_reverse_addr(name, family, addr);
}

static void test_invalid(void **state)
{
	(void)state;
	int f;
	uint8_t a[16];
	assert_int_equal(rev("1.2.3.in-addr.arpa", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("256.2.3.4.in-addr.arpa", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("01.2.3.4.in-addr.arpa", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("x.2.3.4.in-addr.arpa", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("1.2.3.4.in-addr.arpa.example", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("1.2.3.4.5.in-addr.arpa", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("example.com", &f, a), VD_ENOTFOUND);
	assert_int_equal(rev("g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0."
			     "1.0.0.2.ip6.arpa",
			     &f, a),
			 VD_ENOTFOUND);
	assert_int_equal(rev("10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1."
			     "0.0.2.ip6.arpa",
			     &f, a),
			 VD_ENOTFOUND);
}

static void test_v4(void **state)
{
	(void)state;
	int f;
	uint8_t a[16], name[VD_NAME_MAX];
	assert_int_equal(rev("15.1.20.10.IN-ADDR.ARPA.", &f, a), 0);
	assert_int_equal(f, AF_INET);
	assert_memory_equal(a, "\x0a\x14\x01\x0f", 4);
	size_t n = vd_name_reverse_of(AF_INET, a, name);
	char text[VD_NAME_TEXT];
	vd_name_to_text(name, text, sizeof(text));
	assert_string_equal(text, "15.1.20.10.in-addr.arpa.");
	assert_int_equal(n, vd_name_len(name));
}

static void test_v6(void **state)
{
	(void)state;
	int f;
	uint8_t a[16], name[VD_NAME_MAX];
	const char *text = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1."
			   "0.0.2.ip6.arpa";
	assert_int_equal(rev(text, &f, a), 0);
	assert_int_equal(f, AF_INET6);
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					  0,	0,    0,    0,	  0, 0, 0, 1 };
	assert_memory_equal(a, want, 16);
	vd_name_reverse_of(AF_INET6, a, name);
	int f2;
	uint8_t b[16];
	assert_int_equal(vd_name_reverse_addr(name, &f2, b), 0);
	assert_memory_equal(a, b, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
