/*
 * The one hash function of the project: SipHash-1-3 (Aumasson and
 * Bernstein; one compression and three finalisation rounds, the variant
 * CPython and Rust use for their tables), 64-bit output, keyed by a 64-bit
 * seed. Fast enough for a per-query lookup (about one round per 8 bytes),
 * allocation-free, and keyed: without the seed a client cannot compute
 * which names collide, so it cannot pile its queries into one bucket.
 * The same code with two compression and four finalisation rounds and a
 * 128-bit key is SipHash-2-4, the MAC that DNS server cookies use
 * (RFC 9018).
 */
#include "vpcdns/util.h"

#include <pthread.h>
#include <string.h>

/* The second half of the 128-bit SipHash key, derived from the seed. */
#define K1_MIX 0x9e3779b97f4a7c15ull

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

/* Little-endian load whatever the host's byte order. */
static uint64_t load_le64(const uint8_t *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

/* SipHash-c-d of n bytes keyed by (k0, k1). */
static uint64_t siphash(const uint8_t *in, size_t n, uint64_t k0, uint64_t k1,
			int crounds, int drounds)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)n << 56;
	size_t left = n & 7;
	const uint8_t *end = in + (n - left);

	for (; in != end; in += 8) {
		m = load_le64(in);
		v3 ^= m;
		for (int i = 0; i < crounds; i++)
			SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	for (int i = 0; i < crounds; i++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < drounds; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t vd_hash(const void *p, size_t n, uint64_t seed)
{
	return siphash(p, n, seed, seed ^ K1_MIX, 1, 3);
}

uint64_t vd_siphash24(const void *p, size_t n, const uint8_t key[16])
{
	return siphash(p, n, load_le64(key), load_le64(key + 8), 2, 4);
}

static uint64_t process_seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void draw_seed(void)
{
	vd_rand_bytes(&process_seed, sizeof(process_seed));
}

uint64_t vd_hash_seed(void)
{
	pthread_once(&seed_once, draw_seed);
	return process_seed;
}

/* ---- checksum ----------------------------------------------------------- */

static inline uint64_t ck_word(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static inline uint64_t ck_mix(uint64_t h, uint64_t w, uint64_t k)
{
	h = (h ^ w) * k;
	return h ^ (h >> 31);
}

uint64_t vd_checksum(const void *p, size_t n, uint64_t seed)
{
	static const uint64_t k[4] = { 0xff51afd7ed558ccdull, 0xc4ceb9fe1a85ec53ull,
				       0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull };
	const uint8_t *b = p;
	uint64_t lane[4] = { seed ^ k[0], seed ^ k[1], ~seed ^ k[2], ~seed ^ k[3] };
	uint64_t h = (uint64_t)n * k[2];

	for (; n >= 32; b += 32, n -= 32)
		for (int i = 0; i < 4; i++)
			lane[i] = ck_mix(lane[i], ck_word(b + 8 * i), k[i]);
	/* The tail, zero-padded: the length mixed into h tells "ab" from
	 * "ab\0". */
	uint8_t tail[32] = { 0 };
	if (n)
		memcpy(tail, b, n);
	for (int i = 0; i < 4; i++) {
		lane[i] = ck_mix(lane[i], ck_word(tail + 8 * i), k[i]);
		h = ck_mix(h ^ (h >> 29), lane[i], k[(i + 1) % 4]);
	}
	h ^= h >> 33;
	h *= k[0];
	return h ^ (h >> 29);
}
