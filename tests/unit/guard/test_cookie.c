/*
 * Unit tests for DNS server cookies: the construction against the test
 * vectors of RFC 9018 Appendix A (IPv4, a renewal, another client with
 * reserved bytes set, IPv6 after the secret rolled over), matching only
 * for the secret, client cookie and address that made it, the freshness
 * window (an hour back, five minutes ahead, across the 2^32 wrap), and
 * validity with a configured list of secrets and with the rotated
 * process secret.
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

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static struct sockaddr_storage addr(const char *a)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, a, &s4->sin_addr), 1);
	}
	return ss;
}

typedef struct vec {
	const char *secret, *client, *ip;
	uint32_t ts;
	const char *server;
} vec_t;

static const vec_t vectors[] = {
	/* A.1 learning a new server cookie */
	{ "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100",
	  1559731985, "010000005cf79f111f8130c3eee29480" },
	/* A.2 the same client learning a renewed one */
	{ "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100",
	  1559734385, "010000005cf7a871d4a564a1442aca77" },
	/* A.3 another client learning a renewed one */
	{ "e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86", "203.0.113.203",
	  1559734700, "010000005cf7a9acf73a7810aca2381e" },
	/* A.4 IPv6, after the secret rolled over */
	{ "445536bcd2513298075a5d379663c962", "22681ab97d52c298",
	  "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
	  "010000005cf7c609a6bb79d16625507a" },
};

static void test_rfc9018_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const vec_t *v = &vectors[i];
		uint8_t key[16], cc[8], want[16], got[16];
		struct sockaddr_storage ss = addr(v->ip);

		unhex(v->secret, key, 16);
		unhex(v->client, cc, 8);
		unhex(v->server, want, 16);
		vd_guard_cookie_make(key, cc, v->ts, (struct sockaddr *)&ss, got);
		assert_memory_equal(got, want, 16);
		assert_true(vd_guard_cookie_match(key, cc, want, 16,
						  (struct sockaddr *)&ss));
	}
}

/* The cookies the appendix has clients send back. */
static void test_rfc9018_returned_cookies(void **state)
{
	uint8_t key[16], cc[8], sc[16];
	struct sockaddr_storage a3 = addr("203.0.113.203"),
				other = addr("203.0.113.204"),
				a4 = addr("2001:db8:220:1:59de:d0f4:8769:82b8");

	(void)state;
	/* A.3: reserved bytes set by the client are part of the hash */
	unhex("e5e973e5a6b2a43f48e7dc849e37bfcf", key, 16);
	unhex("fc93fc62807ddb86", cc, 8);
	unhex("01abcdef5cf78f71a314227b6679ebf5", sc, 16);
	assert_true(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&a3));
	assert_false(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&other));
	cc[0] ^= 1;
	assert_false(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&a3));
	/* A.4: made by the old secret, not by the new one */
	unhex("22681ab97d52c298", cc, 8);
	unhex("010000005cf7c57926556bd0934c72f8", sc, 16);
	unhex("dd3bdf9344b678b185a6f5cb60fca715", key, 16);
	assert_true(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&a4));
	unhex("445536bcd2513298075a5d379663c962", key, 16);
	assert_false(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&a4));
	/* lengths and versions other than 16 bytes of version 1 */
	unhex("dd3bdf9344b678b185a6f5cb60fca715", key, 16);
	assert_false(vd_guard_cookie_match(key, cc, sc, 8, (struct sockaddr *)&a4));
	sc[0] = 2;
	assert_false(vd_guard_cookie_match(key, cc, sc, 16, (struct sockaddr *)&a4));
}

static void test_fresh(void **state)
{
	const uint32_t now = 1559731985;

	(void)state;
	assert_true(vd_guard_cookie_fresh(now, now));
	assert_true(vd_guard_cookie_fresh(now - 3600, now));
	assert_false(vd_guard_cookie_fresh(now - 3601, now));
	assert_true(vd_guard_cookie_fresh(now + 300, now));
	assert_false(vd_guard_cookie_fresh(now + 301, now));
	/* stamped before the wrap, read after it: an hour old */
	assert_true(vd_guard_cookie_fresh(4294964696u, 1000));
}

static void test_valid(void **state)
{
	vd_guard_cookie_conf_t conf = { .n = 2 };
	struct sockaddr_storage ss = addr("198.51.100.100");
	const struct sockaddr *sa = (struct sockaddr *)&ss;
	uint8_t cc[8], sc[16], key[16];
	const uint32_t ts = 1559731985;

	(void)state;
	unhex("2464c4abcf10c957", cc, 8);
	/* the second configured secret made it: accepted */
	unhex("00112233445566778899aabbccddeeff", conf.secret[0], 16);
	unhex("e5e973e5a6b2a43f48e7dc849e37bfcf", conf.secret[1], 16);
	unhex("010000005cf79f111f8130c3eee29480", sc, 16);
	assert_true(vd_guard_cookie_valid(&conf, cc, sc, 16, sa, ts + 60));
	assert_false(vd_guard_cookie_valid(&conf, cc, sc, 16, sa, ts + 3601));
	conf.n = 1;
	assert_false(vd_guard_cookie_valid(&conf, cc, sc, 16, sa, ts + 60));
	/* new cookies come from the first secret */
	vd_guard_cookie_key(&conf, ts, key);
	assert_memory_equal(key, conf.secret[0], 16);

	/* the random secret: one key per hour, the previous hour's cookie
	 * still valid within its age */
	uint8_t k1[16], k2[16];
	vd_guard_cookie_key(NULL, 7200, k1);
	vd_guard_cookie_key(NULL, 10799, k2);
	assert_memory_equal(k1, k2, 16);
	vd_guard_cookie_key(NULL, 10800, k2);
	assert_memory_not_equal(k1, k2, 16);
	vd_guard_cookie_make(k1, cc, 10000, sa, sc);
	assert_true(vd_guard_cookie_valid(NULL, cc, sc, 16, sa, 10000));
	assert_true(vd_guard_cookie_valid(NULL, cc, sc, 16, sa, 13600));
	assert_false(vd_guard_cookie_valid(NULL, cc, sc, 16, sa, 13601));
	sc[15] ^= 1;
	assert_false(vd_guard_cookie_valid(NULL, cc, sc, 16, sa, 10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9018_vectors),
		cmocka_unit_test(test_rfc9018_returned_cookies),
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
