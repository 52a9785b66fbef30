/*
 * DNS server cookies as RFC 9018 builds them, so that servers of any
 * implementation sharing a secret accept each other's cookies. Without a
 * configured secret the key rotates every VD_COOKIE_ROTATION seconds
 * without any shared state: the key of an hour is derived (SipHash-2-4
 * as a PRF) from a random per-process secret and the hour the cookie's
 * own timestamp falls in, so every worker computes the same key and a
 * cookie made under the previous key verifies until it is too old.
 */
#include "vpcdns/guard.h"
#include "guard_int.h"

#include <pthread.h>
#include <string.h>

#include "vpcdns/util.h"

/* client cookie, version, reserved, timestamp, address */
#define HASH_IN_MAX (8 + 1 + 3 + 4 + 16)

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The hash over the cookie's first 8 bytes (version, reserved, time). */
static uint64_t cookie_hash(const uint8_t key[16], const uint8_t *cc,
			    const uint8_t head[8], const struct sockaddr *client)
{
	uint8_t in[HASH_IN_MAX];
	int family;
	size_t n;

	memcpy(in, cc, 8);
	memcpy(in + 8, head, 8);
	n = vd_guard_addr_bytes(client, in + 16, &family);
	return vd_siphash24(in, 16 + n, key);
}

void vd_guard_cookie_make(const uint8_t key[16], const uint8_t cc[VD_COOKIE_CLIENT_LEN],
			  uint32_t ts, const struct sockaddr *client,
			  uint8_t out[VD_COOKIE_SERVER_LEN])
{
	out[0] = 1;
	out[1] = out[2] = out[3] = 0;
	out[4] = (uint8_t)(ts >> 24);
	out[5] = (uint8_t)(ts >> 16);
	out[6] = (uint8_t)(ts >> 8);
	out[7] = (uint8_t)ts;
	put_le64(out + 8, cookie_hash(key, cc, out, client));
}

bool vd_guard_cookie_match(const uint8_t key[16],
			   const uint8_t cc[VD_COOKIE_CLIENT_LEN], const uint8_t *sc,
			   size_t sclen, const struct sockaddr *client)
{
	uint8_t want[8];
	uint8_t diff = 0;

	if (sclen != VD_COOKIE_SERVER_LEN || sc[0] != 1)
		return false;
	put_le64(want, cookie_hash(key, cc, sc, client));
	for (int i = 0; i < 8; i++)
		diff |= (uint8_t)(want[i] ^ sc[8 + i]);
	return diff == 0;
}

bool vd_guard_cookie_fresh(uint32_t ts, uint32_t now)
{
	uint32_t age = now - ts;

	if (age <= VD_COOKIE_MAX_AGE)
		return true;
	return ts - now <= VD_COOKIE_MAX_SKEW;
}

static uint8_t process_secret[16];
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void draw_secret(void)
{
	vd_rand_bytes(process_secret, sizeof(process_secret));
}

void vd_guard_cookie_key(const vd_guard_cookie_conf_t *c, uint32_t ts, uint8_t key[16])
{
	uint8_t in[8] = { 'v', 'd', 'c', 'k' };
	uint32_t hour = ts / VD_COOKIE_ROTATION;

	if (c != NULL && c->n > 0) {
		memcpy(key, c->secret[0], 16);
		return;
	}
	pthread_once(&secret_once, draw_secret);
	memcpy(in + 4, &hour, 4);
	put_le64(key, vd_siphash24(in, sizeof(in), process_secret));
	in[0] = 'V';
	put_le64(key + 8, vd_siphash24(in, sizeof(in), process_secret));
}

bool vd_guard_cookie_valid(const vd_guard_cookie_conf_t *c,
			   const uint8_t cc[VD_COOKIE_CLIENT_LEN], const uint8_t *sc,
			   size_t sclen, const struct sockaddr *client, uint32_t now)
{
	uint8_t key[16];

	if (sclen != VD_COOKIE_SERVER_LEN || sc[0] != 1)
		return false;
	uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 |
		      (uint32_t)sc[6] << 8 | sc[7];
	if (!vd_guard_cookie_fresh(ts, now))
		return false;
	if (c != NULL && c->n > 0) {
		for (unsigned i = 0; i < c->n; i++)
			if (vd_guard_cookie_match(c->secret[i], cc, sc, sclen, client))
				return true;
		return false;
	}
	vd_guard_cookie_key(c, ts, key);
	return vd_guard_cookie_match(key, cc, sc, sclen, client);
}
