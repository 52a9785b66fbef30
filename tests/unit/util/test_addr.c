/*
 * Unit tests for socket address and CIDR parsing, printing, comparison and
 * prefix matching (including IPv4-mapped IPv6 clients).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "vpcdns/util.h"

static void test_invalid_args(void **state)
{
	struct sockaddr_storage ss;
	vd_cidr_t c;
	char buf[64];

	(void)state;
	assert_int_equal(vd_addr_parse(NULL, 53, &ss), VD_EMALF);
	assert_int_equal(vd_addr_parse("1.2.3.4", 53, NULL), VD_EMALF);
	assert_int_equal(vd_cidr_parse(NULL, &c), VD_EMALF);
	assert_int_equal(vd_cidr_parse("10.0.0.0/8", NULL), VD_EMALF);
	assert_false(vd_addr_equal(NULL, NULL));
	assert_false(vd_cidr_equal(NULL, &c));
	assert_false(vd_cidr_contains(NULL, NULL));
	assert_int_equal(vd_addr_len(NULL), 0);
	assert_string_equal(vd_addr_fmt(NULL, buf, sizeof(buf)), "(unknown address)");
}

static void test_parse_v4(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	(void)state;
	assert_int_equal(vd_addr_parse("10.1.2.3", 53, &ss), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0a010203);
	assert_int_equal(vd_addr_len((struct sockaddr *)&ss),
			 sizeof(struct sockaddr_in));

	assert_int_equal(vd_addr_parse("127.0.0.1:5353", 53, &ss), 0);
	assert_int_equal(ntohs(sin->sin_port), 5353);
	assert_int_equal(vd_addr_parse("127.0.0.1:0", 53, &ss), 0);
	assert_int_equal(ntohs(sin->sin_port), 0);
	assert_int_equal(vd_addr_parse("127.0.0.1:65535", 53, &ss), 0);
	assert_int_equal(ntohs(sin->sin_port), 65535);
}

static void test_parse_v6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr lo = IN6ADDR_LOOPBACK_INIT;

	(void)state;
	assert_int_equal(vd_addr_parse("::1", 53, &ss), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 53);
	assert_memory_equal(&sin6->sin6_addr, &lo, 16);
	assert_int_equal(vd_addr_len((struct sockaddr *)&ss),
			 sizeof(struct sockaddr_in6));

	assert_int_equal(vd_addr_parse("[::1]", 54, &ss), 0);
	assert_int_equal(ntohs(sin6->sin6_port), 54);
	assert_int_equal(vd_addr_parse("[2001:db8::5]:853", 53, &ss), 0);
	assert_int_equal(ntohs(sin6->sin6_port), 853);
	assert_int_equal(sin6->sin6_addr.s6_addr[0], 0x20);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 5);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"1.2.3",
		"1.2.3.4.5",
		"256.1.1.1",
		"1.2.3.4:",
		"1.2.3.4:65536",
		"1.2.3.4:-1",
		"1.2.3.4:+5",
		"1.2.3.4: 53",
		"1.2.3.4:53x",
		"[::1",
		"[::1]x",
		"[::1]:",
		"[::1]:99999",
		"[1.2.3.4]",
		"::g",
		"example.com",
		"[::1]:53:53",
		" 1.2.3.4",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd",
	};
	struct sockaddr_storage ss;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vd_addr_parse(bad[i], 53, &ss) != VD_EMALF)
			fail_msg("accepted bad address '%s'", bad[i]);
	}
}

static void test_fmt_equal(void **state)
{
	struct sockaddr_storage a, b;
	char buf[64];

	(void)state;
	assert_int_equal(vd_addr_parse("192.0.2.1:53", 0, &a), 0);
	assert_string_equal(vd_addr_fmt((struct sockaddr *)&a, buf, sizeof(buf)),
			    "192.0.2.1:53");
	assert_int_equal(vd_addr_parse("[2001:db8::1]:5300", 0, &b), 0);
	assert_string_equal(vd_addr_fmt((struct sockaddr *)&b, buf, sizeof(buf)),
			    "[2001:db8::1]:5300");
	/* A short buffer is truncated, never overrun. */
	memset(buf, 'x', sizeof(buf));
	vd_addr_fmt((struct sockaddr *)&b, buf, 5);
	assert_string_equal(buf, "[200");
	assert_int_equal(buf[5], 'x');

	assert_false(vd_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(vd_addr_parse("192.0.2.1", 53, &b), 0);
	assert_true(vd_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(vd_addr_parse("192.0.2.1", 54, &b), 0);
	assert_false(vd_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(vd_addr_parse("192.0.2.2", 53, &b), 0);
	assert_false(vd_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	assert_int_equal(vd_addr_parse("[::1]:53", 0, &a), 0);
	assert_int_equal(vd_addr_parse("::1", 53, &b), 0);
	assert_true(vd_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
}

static void test_cidr_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"10.0.0.1/16",
		"10.0.0.0/33",
		"10.0.0.0/",
		"10.0.0.0/-1",
		"10.0.0.0/8/8",
		"2001:db8::1/32",
		"::/129",
		"10.0.0.0/ 8",
		"foo/8",
		"10.0.0.0/8x",
	};
	vd_cidr_t c, d;

	(void)state;
	assert_int_equal(vd_cidr_parse("10.0.0.0/16", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 16);
	assert_int_equal(c.addr[0], 10);
	assert_int_equal(vd_cidr_parse("10.1.2.3", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(vd_cidr_parse("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(vd_cidr_parse("10.128.0.0/9", &c), 0);
	assert_int_equal(vd_cidr_parse("10.192.0.0/9", &c), VD_EMALF);
	assert_int_equal(vd_cidr_parse("2001:db8::/32", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(vd_cidr_parse("::1", &c), 0);
	assert_int_equal(c.prefix, 128);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vd_cidr_parse(bad[i], &c) != VD_EMALF)
			fail_msg("accepted bad CIDR '%s'", bad[i]);
	}

	assert_int_equal(vd_cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(vd_cidr_parse("10.0.0.0/8", &d), 0);
	assert_true(vd_cidr_equal(&c, &d));
	assert_int_equal(vd_cidr_parse("10.0.0.0/9", &d), 0);
	assert_false(vd_cidr_equal(&c, &d));
	assert_int_equal(vd_cidr_parse("::/8", &d), 0);
	assert_false(vd_cidr_equal(&c, &d));
}

static bool contains(const char *cidr, const char *addr)
{
	struct sockaddr_storage ss;
	vd_cidr_t c;

	assert_int_equal(vd_cidr_parse(cidr, &c), 0);
	assert_int_equal(vd_addr_parse(addr, 53, &ss), 0);
	return vd_cidr_contains(&c, (struct sockaddr *)&ss);
}

static void test_cidr_contains(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.0/16", "10.0.255.255"));
	assert_false(contains("10.0.0.0/16", "10.1.0.0"));
	assert_true(contains("10.0.0.0/15", "10.1.0.0"));
	assert_false(contains("10.0.0.0/15", "10.2.0.0"));
	assert_true(contains("0.0.0.0/0", "203.0.113.9"));
	assert_true(contains("192.0.2.7", "192.0.2.7"));
	assert_false(contains("192.0.2.7", "192.0.2.6"));
	assert_true(contains("172.16.0.0/12", "172.31.255.1"));
	assert_false(contains("172.16.0.0/12", "172.32.0.1"));
	/* IPv4-mapped clients match IPv4 prefixes only. */
	assert_true(contains("10.0.0.0/8", "::ffff:10.9.8.7"));
	assert_false(contains("11.0.0.0/8", "::ffff:10.9.8.7"));
	assert_false(contains("::/0", "::ffff:10.9.8.7"));
	/* Families do not mix. */
	assert_false(contains("0.0.0.0/0", "::1"));
	assert_false(contains("::/0", "10.0.0.1"));
	assert_true(contains("::/0", "2001:db8::1"));
	assert_true(contains("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(contains("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(contains("2001:db8::1/128", "2001:db8::1"));
	assert_false(contains("2001:db8::1/128", "2001:db8::2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),  cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6),      cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_fmt_equal),     cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_contains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
