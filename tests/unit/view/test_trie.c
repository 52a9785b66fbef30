/*
 * Unit tests of the client address -> view table: longest-prefix matching
 * over IPv4 and IPv6 prefixes, overlapping and default (/0) prefixes,
 * IPv4-mapped IPv6 clients, duplicates and bad arguments. Prefixes are
 * built here with inet_pton so these tests depend on nothing but the view
 * module itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/view.h"

static vd_cidr_t cidr(const char *addr, unsigned prefix)
{
	vd_cidr_t c;

	memset(&c, 0, sizeof(c));
	if (strchr(addr, ':')) {
		c.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, c.addr), 1);
	} else {
		c.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, c.addr), 1);
	}
	c.prefix = (uint8_t)prefix;
	return c;
}

static struct sockaddr_storage client(const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
	return ss;
}

static int match(const vd_view_table_t *t, const char *addr)
{
	struct sockaddr_storage ss = client(addr);

	return vd_view_table_match(t, (struct sockaddr *)&ss);
}

static void add(vd_view_table_t *t, const char *addr, unsigned prefix, int idx)
{
	vd_cidr_t c = cidr(addr, prefix);

	assert_int_equal(vd_view_table_add(t, &c, idx), 0);
}

static void test_null_args(void **state)
{
	vd_view_table_t *t = vd_view_table_new();
	vd_cidr_t c = cidr("10.0.0.0", 8);
	struct sockaddr_storage ss = client("10.0.0.1");
	struct sockaddr_un_like {
		sa_family_t f;
		char pad[14];
	} other = { AF_UNIX, { 0 } };

	(void)state;
	assert_non_null(t);
	vd_view_table_free(NULL);
	assert_int_equal(vd_view_table_add(NULL, &c, 0), -EINVAL);
	assert_int_equal(vd_view_table_add(t, NULL, 0), -EINVAL);
	assert_int_equal(vd_view_table_add(t, &c, -1), -EINVAL);
	c.prefix = 33;
	assert_int_equal(vd_view_table_add(t, &c, 0), -EINVAL);
	c.family = AF_UNIX;
	c.prefix = 8;
	assert_int_equal(vd_view_table_add(t, &c, 0), -EAFNOSUPPORT);
	assert_int_equal(vd_view_table_match(NULL, (struct sockaddr *)&ss), -1);
	assert_int_equal(vd_view_table_match(t, NULL), -1);
	/* Nothing was added by the failed calls. */
	assert_int_equal(vd_view_table_match(t, (struct sockaddr *)&ss), -1);
	c = cidr("10.0.0.0", 8);
	assert_int_equal(vd_view_table_add(t, &c, 0), 0);
	assert_int_equal(vd_view_table_match(t, (struct sockaddr *)&other), -1);
	vd_view_table_free(t);
}

static void test_ipv4(void **state)
{
	vd_view_table_t *t = vd_view_table_new();

	(void)state;
	add(t, "10.20.0.0", 16, 0);
	add(t, "192.168.1.0", 24, 1);
	add(t, "127.0.0.1", 32, 2);
	assert_int_equal(match(t, "10.20.0.0"), 0);
	assert_int_equal(match(t, "10.20.255.255"), 0);
	assert_int_equal(match(t, "10.21.0.1"), -1);
	assert_int_equal(match(t, "192.168.1.77"), 1);
	assert_int_equal(match(t, "192.168.2.1"), -1);
	assert_int_equal(match(t, "127.0.0.1"), 2);
	assert_int_equal(match(t, "127.0.0.2"), -1);
	/* IPv4 prefixes never match IPv6 clients. */
	assert_int_equal(match(t, "a14::1"), -1);
	vd_view_table_free(t);
}

static void test_ipv6(void **state)
{
	vd_view_table_t *t = vd_view_table_new();

	(void)state;
	add(t, "2001:db8::", 32, 3);
	add(t, "2001:db8:1::", 48, 4);
	add(t, "::1", 128, 5);
	assert_int_equal(match(t, "2001:db8::1"), 3);
	assert_int_equal(match(t, "2001:db8:ffff::1"), 3);
	assert_int_equal(match(t, "2001:db8:1::53"), 4);
	assert_int_equal(match(t, "2001:db9::1"), -1);
	assert_int_equal(match(t, "::1"), 5);
	assert_int_equal(match(t, "::2"), -1);
	assert_int_equal(match(t, "32.1.13.184"), -1);
	vd_view_table_free(t);
}

static void test_overlap(void **state)
{
	vd_view_table_t *t = vd_view_table_new();

	(void)state;
	/* Added most specific first: the order must not matter. */
	add(t, "10.1.2.3", 32, 2);
	add(t, "10.0.0.0", 8, 0);
	add(t, "10.1.0.0", 16, 1);
	assert_int_equal(match(t, "10.1.2.3"), 2);
	assert_int_equal(match(t, "10.1.2.4"), 1);
	assert_int_equal(match(t, "10.1.255.255"), 1);
	assert_int_equal(match(t, "10.2.0.0"), 0);
	assert_int_equal(match(t, "10.255.255.255"), 0);
	assert_int_equal(match(t, "11.0.0.0"), -1);
	assert_int_equal(match(t, "9.255.255.255"), -1);
	vd_view_table_free(t);
}

static void test_default_route(void **state)
{
	vd_view_table_t *t = vd_view_table_new();

	(void)state;
	add(t, "0.0.0.0", 0, 7);
	assert_int_equal(match(t, "1.2.3.4"), 7);
	assert_int_equal(match(t, "255.255.255.255"), 7);
	assert_int_equal(match(t, "::ffff:1.2.3.4"), 7);
	assert_int_equal(match(t, "2001:db8::1"), -1);
	add(t, "::", 0, 8);
	add(t, "172.16.0.0", 12, 9);
	assert_int_equal(match(t, "2001:db8::1"), 8);
	assert_int_equal(match(t, "172.31.0.1"), 9);
	assert_int_equal(match(t, "172.32.0.1"), 7);
	vd_view_table_free(t);
}

static void test_mapped(void **state)
{
	vd_view_table_t *t = vd_view_table_new();

	(void)state;
	add(t, "10.20.0.0", 16, 0);
	add(t, "::", 96, 1); /* would catch ::a.b.c.d, not mapped ones */
	assert_int_equal(match(t, "::ffff:10.20.3.4"), 0);
	assert_int_equal(match(t, "::ffff:10.21.3.4"), -1);
	/* Only ::ffff:0:0/96 is mapped; IPv4-compatible ::a.b.c.d is IPv6. */
	assert_int_equal(match(t, "::10.20.3.4"), 1);
	vd_view_table_free(t);
}

static void test_duplicates(void **state)
{
	vd_view_table_t *t = vd_view_table_new();
	vd_cidr_t c = cidr("10.0.0.0", 8);
	vd_cidr_t d = cidr("2001:db8::", 32);

	(void)state;
	assert_int_equal(vd_view_table_add(t, &c, 0), 0);
	assert_int_equal(vd_view_table_add(t, &c, 1), -EEXIST);
	assert_int_equal(vd_view_table_add(t, &c, 0), -EEXIST);
	assert_int_equal(vd_view_table_add(t, &d, 0), 0);
	assert_int_equal(vd_view_table_add(t, &d, 2), -EEXIST);
	/* The same bits in the other family are a different prefix. */
	c = cidr("0.0.0.0", 0);
	d = cidr("::", 0);
	assert_int_equal(vd_view_table_add(t, &c, 3), 0);
	assert_int_equal(vd_view_table_add(t, &d, 4), 0);
	assert_int_equal(vd_view_table_add(t, &c, 3), -EEXIST);
	/* The first mapping stays. */
	assert_int_equal(match(t, "10.9.9.9"), 0);
	assert_int_equal(match(t, "2001:db8::9"), 0);
	assert_int_equal(match(t, "11.0.0.1"), 3);
	vd_view_table_free(t);
}

static void test_many(void **state)
{
	vd_view_table_t *t = vd_view_table_new();
	char buf[64];

	(void)state;
	/* Enough nodes to grow the node array several times. */
	for (int i = 0; i < 1000; i++) {
		vd_cidr_t c;

		snprintf(buf, sizeof(buf), "10.%d.%d.0", i / 256, i % 256);
		c = cidr(buf, 24);
		assert_int_equal(vd_view_table_add(t, &c, i), 0);
		snprintf(buf, sizeof(buf), "fd00:%x::", i);
		c = cidr(buf, 32);
		assert_int_equal(vd_view_table_add(t, &c, 1000 + i), 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "10.%d.%d.200", i / 256, i % 256);
		assert_int_equal(match(t, buf), i);
		snprintf(buf, sizeof(buf), "fd00:%x::1", i);
		assert_int_equal(match(t, buf), 1000 + i);
	}
	assert_int_equal(match(t, "10.3.232.1"), -1); /* i = 1000 */
	vd_view_table_free(t);
}

/* A table of a few prefixes answers from its list, a larger one from
 * the trie: both must give the same answer for every address. Table a
 * holds k (<= 8) random prefixes per family, b the same plus ten per
 * family that no probe reaches (192.168/16, fd00::/8), so b walks the
 * trie; probes are drawn near the prefixes, with random host bits. */
static void test_small_list_matches_trie(void **state)
{
	(void)state;
	unsigned seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, seed >> 8)
	for (int round = 0; round < 300; round++) {
		vd_view_table_t *a = vd_view_table_new(), *b = vd_view_table_new();
		vd_cidr_t pre[16];
		unsigned k = 1 + RND() % 8, n = 0;
		assert_non_null(a);
		assert_non_null(b);
		for (unsigned i = 0; i < 2 * k; i++) {
			vd_cidr_t c;
			memset(&c, 0, sizeof(c));
			c.family = i < k ? AF_INET : AF_INET6;
			unsigned bits = c.family == AF_INET ? 32 : 128;
			c.prefix = (uint8_t)(RND() % (bits + 1));
			c.addr[0] = c.family == AF_INET ? 10 : 0x20;
			for (unsigned j = 1; j < bits / 8; j++)
				c.addr[j] = (uint8_t)(RND() % 4);
			for (unsigned j = c.prefix; j < bits; j++)
				c.addr[j / 8] &= (uint8_t) ~(0x80u >> (j % 8));
			int idx = (int)(RND() % 100);
			int ra = vd_view_table_add(a, &c, idx);
			assert_int_equal(vd_view_table_add(b, &c, idx), ra);
			if (ra == 0)
				pre[n++] = c;
		}
		for (int d = 0; d < 10; d++) {
			char t4[32], t6[32];
			snprintf(t4, sizeof(t4), "192.168.%d.0", d);
			snprintf(t6, sizeof(t6), "fd00:%x::", d + 1);
			add(b, t4, 24, 900 + d);
			add(b, t6, 32, 950 + d);
		}
		for (int p = 0; p < 200; p++) {
			const vd_cidr_t *c = &pre[RND() % n];
			struct sockaddr_storage ss;
			memset(&ss, 0, sizeof(ss));
			if (c->family == AF_INET) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				uint8_t *ad = (uint8_t *)&s4->sin_addr;
				s4->sin_family = AF_INET;
				memcpy(ad, c->addr, 4);
				for (unsigned j = c->prefix; j < 32; j++)
					if (RND() & 1)
						ad[j / 8] ^=
							(uint8_t)(0x80u >> (j % 8));
				if (RND() % 4 == 0)
					ad[3] ^= (uint8_t)RND();
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
				uint8_t *ad = s6->sin6_addr.s6_addr;
				s6->sin6_family = AF_INET6;
				memcpy(ad, c->addr, 16);
				for (unsigned j = c->prefix; j < 128; j++)
					if (RND() & 1)
						ad[j / 8] ^=
							(uint8_t)(0x80u >> (j % 8));
				if (RND() % 4 == 0)
					ad[2] ^= (uint8_t)RND();
			}
			assert_int_equal(vd_view_table_match(a, (struct sockaddr *)&ss),
					 vd_view_table_match(b,
							     (struct sockaddr *)&ss));
		}
		vd_view_table_free(a);
		vd_view_table_free(b);
	}
#undef RND
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_small_list_matches_trie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
