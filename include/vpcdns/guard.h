/*
 * guard: protection of the query path against floods. A per-worker table
 * of token buckets keyed by client prefix (response rate limiting in the
 * manner of BIND's RRL and Knot Resolver's rate-limiting module), and DNS
 * server cookies (RFC 7873 in the interoperable form of RFC 9018). Depends
 * on util only; conf fills the settings, query makes one call per query.
 *
 * Threading: a vd_guard_rl_t belongs to one worker thread and is touched
 * only there, so no lock is taken. Its memory is allocated once by
 * vd_guard_rl_new (at snapshot install, on the worker thread) and never
 * grows: a flood from many sources evicts buckets, it cannot add any.
 * The cookie functions are pure and may be called from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/util.h"

/* ---- rate limiting ----------------------------------------------------- */

#define VD_GUARD_RL_SLOTS_DEFAULT 65536
#define VD_GUARD_RL_SLOTS_MAX (1u << 24)
#define VD_GUARD_RL_QPS_MAX 1000000

/* The rate limit of a view (or the server's default), see
 * docs/configuration.md. Owned by the snapshot; allow points into its
 * arena. */
typedef struct vd_guard_rl_conf {
	bool enabled;
	uint32_t qps, burst;	     /* UDP clients without a valid cookie */
	uint32_t tcp_qps, tcp_burst; /* TCP and valid server cookies */
	uint32_t slip;		     /* every slip-th limited UDP query gets
				      * TC=1; 0: never */
	uint8_t ipv4_prefix, ipv6_prefix;
	const vd_cidr_t *allow; /* never limited */
	size_t nallow;
} vd_guard_rl_conf_t;

/* The bucket a query is charged to. */
typedef enum {
	VD_GUARD_UDP = 0,      /* UDP without a valid server cookie */
	VD_GUARD_VERIFIED = 1, /* TCP, or UDP with a valid server cookie */
} vd_guard_class_t;

typedef enum {
	VD_GUARD_PASS = 0, /* within the limit (or not limited) */
	VD_GUARD_LIMIT,	   /* over the limit: drop (UDP) or refuse */
	VD_GUARD_SLIP,	   /* over the limit, and this one gets TC=1 */
} vd_guard_verdict_t;

typedef struct vd_guard_rl_stats {
	uint64_t slots;	    /* buckets in the table (fixed) */
	uint64_t evictions; /* buckets taken over by another prefix */
} vd_guard_rl_stats_t;

typedef struct vd_guard_rl vd_guard_rl_t;

/* A table of at least slots buckets (rounded up to a power of two, at
 * least 2, at most VD_GUARD_RL_SLOTS_MAX). NULL on out of memory. */
vd_guard_rl_t *vd_guard_rl_new(uint32_t slots);
void vd_guard_rl_free(vd_guard_rl_t *rl);
const vd_guard_rl_stats_t *vd_guard_rl_stats(const vd_guard_rl_t *rl);

/* Charges one query from sa (in view view, -1 for none) to its
 * prefix's bucket of class cls under conf c at time now_ms (monotonic
 * milliseconds; tests pass their own clock). O(1) plus the allow list;
 * allocates nothing. Disabled settings and allow-listed clients always
 * pass. Buckets live in pairs of slots chosen by a keyed hash of
 * (prefix, view, class); a prefix not in its pair takes over the slot
 * used least recently, starting with a full burst. */
vd_guard_verdict_t vd_guard_rl_check(vd_guard_rl_t *rl, const vd_guard_rl_conf_t *c,
				     const struct sockaddr *sa, int view,
				     vd_guard_class_t cls, uint64_t now_ms);

/* ---- DNS cookies (RFC 7873, RFC 9018) ---------------------------------- */

#define VD_COOKIE_CLIENT_LEN 8
#define VD_COOKIE_SERVER_LEN 16 /* what we make: version 1, RFC 9018 */
/* A cookie is valid from 5 minutes ahead of our clock to an hour old. */
#define VD_COOKIE_MAX_AGE 3600
#define VD_COOKIE_MAX_SKEW 300
/* Without a configured secret each server cookie is made with a key
 * derived from a random per-process secret and the hour its timestamp
 * falls in: the key changes every hour and a cookie made with the
 * previous one stays valid for its hour of life. */
#define VD_COOKIE_ROTATION 3600
/* Configured secrets (server.cookie_secret): the first makes cookies,
 * every one is accepted. */
#define VD_COOKIE_SECRETS_MAX 4

/* The secrets of a snapshot. n == 0: the random, rotated one. */
typedef struct vd_guard_cookie_conf {
	uint8_t secret[VD_COOKIE_SECRETS_MAX][16];
	unsigned n;
} vd_guard_cookie_conf_t;

/* RFC 9018 4.4: version 1, reserved zero, timestamp ts (seconds, serial
 * arithmetic), then SipHash-2-4 keyed by key over client cookie |
 * version | reserved | timestamp | client address (4 or 16 bytes; an
 * IPv4-mapped IPv6 address counts as IPv4). */
void vd_guard_cookie_make(const uint8_t key[16], const uint8_t cc[VD_COOKIE_CLIENT_LEN],
			  uint32_t ts, const struct sockaddr *client,
			  uint8_t out[VD_COOKIE_SERVER_LEN]);
/* Whether sc (sclen bytes) is a version 1 server cookie that key made for
 * cc and client (the timestamp and reserved bytes as they are in sc; the
 * age is not checked here). */
bool vd_guard_cookie_match(const uint8_t key[16],
			   const uint8_t cc[VD_COOKIE_CLIENT_LEN], const uint8_t *sc,
			   size_t sclen, const struct sockaddr *client);
/* Whether a cookie stamped ts may be used at now (both in seconds,
 * modulo 2^32): at most VD_COOKIE_MAX_AGE old and VD_COOKIE_MAX_SKEW
 * ahead. */
bool vd_guard_cookie_fresh(uint32_t ts, uint32_t now);

/* The key for cookies stamped ts under conf c: c's first secret, or the
 * key of ts's hour derived from the process secret. */
void vd_guard_cookie_key(const vd_guard_cookie_conf_t *c, uint32_t ts, uint8_t key[16]);
/* Whether sc is a valid server cookie for cc from client at now: made by
 * one of c's secrets (or this process's key of its hour) and fresh. */
bool vd_guard_cookie_valid(const vd_guard_cookie_conf_t *c,
			   const uint8_t cc[VD_COOKIE_CLIENT_LEN], const uint8_t *sc,
			   size_t sclen, const struct sockaddr *client, uint32_t now);
