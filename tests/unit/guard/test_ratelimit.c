/*
 * Unit tests for the rate limiter's buckets with an injected clock:
 * NULL and disabled settings pass, a burst passes and the next query is
 * limited, tokens come back at qps, an idle bucket refills to the burst
 * and no further, every slip-th limited UDP query slips (never with slip
 * 0, never for the verified class), clients of one prefix share a bucket
 * and other prefixes, views and classes do not, allow-listed clients
 * pass, and a full table evicts instead of growing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/guard.h"

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
	return ss;
}

static vd_guard_rl_conf_t conf(uint32_t qps, uint32_t burst, uint32_t slip)
{
	vd_guard_rl_conf_t c = {
		.enabled = true,
		.qps = qps,
		.burst = burst,
		.tcp_qps = 10 * qps,
		.tcp_burst = 10 * burst,
		.slip = slip,
		.ipv4_prefix = 24,
		.ipv6_prefix = 56,
	};
	return c;
}

static vd_guard_verdict_t check(vd_guard_rl_t *rl, const vd_guard_rl_conf_t *c,
				const char *addr, vd_guard_class_t cls, uint64_t now)
{
	struct sockaddr_storage ss = strchr(addr, ':') ? v6(addr) : v4(addr);
	return vd_guard_rl_check(rl, c, (struct sockaddr *)&ss, 0, cls, now);
}

/* How many of n queries at time now pass. */
static unsigned passes(vd_guard_rl_t *rl, const vd_guard_rl_conf_t *c, const char *addr,
		       vd_guard_class_t cls, uint64_t now, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += check(rl, c, addr, cls, now) == VD_GUARD_PASS;
	return k;
}

static void test_null_and_disabled(void **state)
{
	vd_guard_rl_conf_t c = conf(1, 1, 2);
	struct sockaddr_storage ss = v4("10.0.0.1");
	vd_guard_rl_t *rl = vd_guard_rl_new(16);

	(void)state;
	vd_guard_rl_free(NULL);
	assert_int_equal(vd_guard_rl_check(NULL, &c, (struct sockaddr *)&ss, 0,
					   VD_GUARD_UDP, 0),
			 VD_GUARD_PASS);
	assert_int_equal(vd_guard_rl_check(rl, NULL, (struct sockaddr *)&ss, 0,
					   VD_GUARD_UDP, 0),
			 VD_GUARD_PASS);
	c.enabled = false;
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 0, 100), 100);
	vd_guard_rl_free(rl);
}

static void test_burst_then_refill(void **state)
{
	vd_guard_rl_conf_t c = conf(10, 5, 0);
	vd_guard_rl_t *rl = vd_guard_rl_new(64);

	(void)state;
	/* a new bucket holds the burst */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 1000, 8), 5);
	/* 10 qps: a token every 100 ms, none before */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 1099, 1), 0);
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 1100, 2), 1);
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 1350, 5), 2);
	/* partial tokens carry over: 50 ms left from above + 50 ms */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 1400, 5), 1);
	/* an hour idle refills to the burst, not beyond */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 3601400, 20), 5);
	/* time going backwards gives nothing */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 5, 3), 0);
	vd_guard_rl_free(rl);
}

static void test_slip(void **state)
{
	vd_guard_rl_conf_t c = conf(1, 1, 3);
	vd_guard_rl_t *rl = vd_guard_rl_new(64);
	unsigned slips = 0, limits = 0;

	(void)state;
	assert_int_equal(check(rl, &c, "10.0.0.1", VD_GUARD_UDP, 0), VD_GUARD_PASS);
	for (int i = 1; i <= 30; i++) {
		vd_guard_verdict_t v = check(rl, &c, "10.0.0.1", VD_GUARD_UDP, 0);
		assert_int_equal(v, i % 3 == 0 ? VD_GUARD_SLIP : VD_GUARD_LIMIT);
		slips += v == VD_GUARD_SLIP;
		limits += v == VD_GUARD_LIMIT;
	}
	assert_int_equal(slips, 10);
	assert_int_equal(limits, 20);
	/* slip 0: never; the verified class never slips */
	c.slip = 0;
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(check(rl, &c, "10.0.1.1", VD_GUARD_UDP, 0),
				     VD_GUARD_SLIP);
	c.slip = 1;
	for (int i = 0; i < 30; i++)
		assert_int_not_equal(check(rl, &c, "10.0.1.1", VD_GUARD_VERIFIED, 0),
				     VD_GUARD_SLIP);
	vd_guard_rl_free(rl);
}

static void test_prefixes_views_classes(void **state)
{
	vd_guard_rl_conf_t c = conf(1, 2, 0);
	vd_guard_rl_t *rl = vd_guard_rl_new(4096);
	struct sockaddr_storage ss = v4("10.0.0.1");

	(void)state;
	/* 10.0.0.1 and 10.0.0.200 share a /24 bucket */
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_UDP, 0, 1), 1);
	assert_int_equal(passes(rl, &c, "10.0.0.200", VD_GUARD_UDP, 0, 5), 1);
	/* another /24, the same prefix in another view, the verified class */
	assert_int_equal(passes(rl, &c, "10.0.1.1", VD_GUARD_UDP, 0, 5), 2);
	assert_int_equal(vd_guard_rl_check(rl, &c, (struct sockaddr *)&ss, 1,
					   VD_GUARD_UDP, 0),
			 VD_GUARD_PASS);
	assert_int_equal(passes(rl, &c, "10.0.0.1", VD_GUARD_VERIFIED, 0, 30), 20);
	/* an IPv4-mapped address is its IPv4 prefix */
	assert_int_equal(passes(rl, &c, "::ffff:10.0.0.7", VD_GUARD_UDP, 0, 5), 0);
	/* IPv6 /56: ::1:ff:: is inside 2001:db8:0:0::/56, ::1:100:: is not */
	assert_int_equal(passes(rl, &c, "2001:db8::1", VD_GUARD_UDP, 0, 5), 2);
	assert_int_equal(passes(rl, &c, "2001:db8:0:ff::1", VD_GUARD_UDP, 0, 5), 0);
	assert_int_equal(passes(rl, &c, "2001:db8:0:100::1", VD_GUARD_UDP, 0, 5), 2);
	/* a /32 limit separates neighbours */
	c.ipv4_prefix = 32;
	assert_int_equal(passes(rl, &c, "10.0.2.1", VD_GUARD_UDP, 0, 5), 2);
	assert_int_equal(passes(rl, &c, "10.0.2.2", VD_GUARD_UDP, 0, 5), 2);
	vd_guard_rl_free(rl);
}

static void test_allow_list(void **state)
{
	vd_guard_rl_conf_t c = conf(1, 1, 2);
	vd_guard_rl_t *rl = vd_guard_rl_new(64);
	vd_cidr_t allow[1];

	(void)state;
	assert_int_equal(vd_cidr_parse("10.9.0.0/16", &allow[0]), 0);
	c.allow = allow;
	c.nallow = 1;
	assert_int_equal(passes(rl, &c, "10.9.3.4", VD_GUARD_UDP, 0, 1000), 1000);
	assert_int_equal(passes(rl, &c, "10.8.3.4", VD_GUARD_UDP, 0, 10), 1);
	vd_guard_rl_free(rl);
}

static void test_fixed_table_evicts(void **state)
{
	vd_guard_rl_conf_t c = conf(1, 1, 0);
	vd_guard_rl_t *rl = vd_guard_rl_new(5);
	char addr[32];

	(void)state;
	assert_int_equal(vd_guard_rl_stats(rl)->slots, 8);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(addr, sizeof(addr), "10.%u.%u.1", i / 256, i % 256);
		check(rl, &c, addr, VD_GUARD_UDP, i);
	}
	assert_int_equal(vd_guard_rl_stats(rl)->slots, 8);
	assert_true(vd_guard_rl_stats(rl)->evictions >= 1000 - 8);
	vd_guard_rl_free(rl);
	/* bounds of the size */
	rl = vd_guard_rl_new(0);
	assert_int_equal(vd_guard_rl_stats(rl)->slots, 2);
	vd_guard_rl_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_and_disabled),
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_slip),
		cmocka_unit_test(test_prefixes_views_classes),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_fixed_table_evicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
