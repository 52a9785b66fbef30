/*
 * Unit tests for vd_hash: known answers (SipHash-1-3 computed by an
 * independent reference implementation, itself checked against the
 * SipHash paper's test vector and CPython's siphash13), the same input
 * and seed always give the same hash, other seeds give other hashes, and
 * the per-process seed is drawn once. vd_siphash24 against the SipHash
 * paper's test vector and the reference implementation's first outputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "vpcdns/util.h"

static const uint8_t www_example_com[] = "\3www\7example\3com"; /* + root */

static void test_empty_and_null(void **state)
{
	(void)state;
	/* n == 0 reads nothing, so p may be NULL */
	assert_true(vd_hash(NULL, 0, 0) == 0x61d1b8495b88d5e1ull);
	assert_true(vd_hash("", 0, 0) == vd_hash(NULL, 0, 0));
	assert_true(vd_hash(NULL, 0, VD_HASH_SEED_FIXED) == 0x7d6cce0edf8d3ea6ull);
}

/* Every tail length (0..7 bytes after the 8-byte blocks) and two blocks. */
static void test_known_answers(void **state)
{
	static const uint64_t want[17] = {
		0xb8caed77a440bbbaull, 0x1b80bf9035b418c6ull, 0xdb306ba4523c9dddull,
		0xc5ea87ae0e303f88ull, 0x4ce1e7dffd929479ull, 0x2b74489bf73854dfull,
		0x5c1d2e1e4b0e80beull, 0x145dc97eadc70dfcull, 0xdc13b0974655c608ull,
		0xd955d0cf8f773305ull, 0x975f28c53cc37fabull, 0x6044ec010db6df7dull,
		0x22b9898ccead772cull, 0x4ee388f63084a66cull, 0x877dae30905e8e8bull,
		0x1f8336568070576dull, 0x99ce579ee7133ac3ull,
	};
	uint8_t in[16];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	for (size_t n = 0; n <= sizeof(in); n++)
		assert_true(vd_hash(in, n, 0x0706050403020100ull) == want[n]);
	assert_true(vd_hash("a", 1, 0) == 0x6cd2f1583967b431ull);
	assert_true(vd_hash("abcdefgh", 8, 0) == 0x3d09067e6f99cbe8ull);
	assert_true(vd_hash(www_example_com, sizeof(www_example_com), 0) ==
		    0x54c4804d8d5a414dull);
	assert_true(vd_hash(www_example_com, sizeof(www_example_com), 1) ==
		    0x761da2ecae88a85full);
	/* chained: the first part's hash is the seed of the rest */
	assert_true(vd_hash(www_example_com + 4, sizeof(www_example_com) - 4,
			    vd_hash(www_example_com, 4, 0)) == 0xb8a6589f3fbf9fb7ull);
}

/* Key 00..0f, input 00..n-1: the reference vectors.h (n = 0..3) and the
 * paper's appendix example (n = 15). */
static void test_siphash24_vectors(void **state)
{
	static const uint64_t want[4] = {
		0x726fdb47dd0e0e31ull,
		0x74f839c593dc67fdull,
		0x0d6c8009d9a94f5aull,
		0x85676696d7fb7e2dull,
	};
	uint8_t key[16], in[16];

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = in[i] = (uint8_t)i;
	for (size_t n = 0; n < 4; n++)
		assert_true(vd_siphash24(in, n, key) == want[n]);
	assert_true(vd_siphash24(in, 15, key) == 0xa129ca6149be45e5ull);
}

static void test_same_input_same_hash(void **state)
{
	uint8_t copy[sizeof(www_example_com) + 1];

	(void)state;
	/* the bytes decide, not where they are (unaligned copy) */
	memcpy(copy + 1, www_example_com, sizeof(www_example_com));
	for (uint64_t seed = 0; seed < 100; seed++)
		assert_true(vd_hash(www_example_com, sizeof(www_example_com), seed) ==
			    vd_hash(copy + 1, sizeof(www_example_com), seed));
}

static void test_seeds_differ(void **state)
{
	uint64_t h[256];

	(void)state;
	for (unsigned s = 0; s < 256; s++)
		h[s] = vd_hash(www_example_com, sizeof(www_example_com),
			       (uint64_t)s * 0x100000001ull);
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = a + 1; b < 256; b++)
			assert_true(h[a] != h[b]);
	/* one bit of the input changes the hash too */
	uint8_t in[sizeof(www_example_com)];
	memcpy(in, www_example_com, sizeof(in));
	in[5] ^= 1;
	assert_true(vd_hash(in, sizeof(in), 0) !=
		    vd_hash(www_example_com, sizeof(in), 0));
}

static void *seed_in_thread(void *arg)
{
	*(uint64_t *)arg = vd_hash_seed();
	return NULL;
}

static void test_process_seed_is_drawn_once(void **state)
{
	uint64_t a = vd_hash_seed(), other = 0;
	pthread_t t;

	(void)state;
	assert_true(vd_hash_seed() == a);
	assert_int_equal(pthread_create(&t, NULL, seed_in_thread, &other), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(other == a);
	assert_true(a != 0 && a != VD_HASH_SEED_FIXED);
}

/* The checksum: deterministic, any one flipped bit of inputs of every
 * length up to 100 bytes changes it, and so do the length (a trailing
 * zero byte) and the seed. */
static void test_checksum(void **state)
{
	(void)state;
	uint8_t buf[101];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= 100; n++) {
		uint64_t c = vd_checksum(buf, n, 7);
		assert_true(vd_checksum(buf, n, 7) == c);
		assert_true(vd_checksum(buf, n, 8) != c);
		uint8_t save = buf[n];
		buf[n] = 0;
		assert_true(vd_checksum(buf, n + 1, 7) != c);
		buf[n] = save;
		for (size_t bit = 0; bit < 8 * n; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_true(vd_checksum(buf, n, 7) != c);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_siphash24_vectors),
		cmocka_unit_test(test_same_input_same_hash),
		cmocka_unit_test(test_seeds_differ),
		cmocka_unit_test(test_process_seed_is_drawn_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
