/*
 * cache: forwarded answers, keyed by (upstream group identity, lower-cased
 * qname, qtype, qclass, DO, CD). A response is stored whole, as the wire
 * message vpcdns would send (upstream OPT removed, every record re-encoded
 * from its decompressed form), with the offsets of its TTL fields; a hit
 * copies that message into the caller's buffer and patches the ID, the
 * question's case, the flags and the aged TTLs. Records are never lifted
 * out of one response to answer another name.
 *
 * TTLs follow RFC 2308 for NXDOMAIN and NODATA (SOA MINIMUM bounded by the
 * SOA TTL, then by max_negative_ttl) and the configured clamps otherwise;
 * SERVFAIL, truncated and malformed responses are never stored. Memory is
 * bounded by a byte budget with least-recently-used eviction. Expired
 * entries are kept for serve-stale (RFC 8767) until stale_max or eviction.
 *
 * Threading: a vd_cache_t belongs to one loop thread; lookups take no lock
 * and allocate nothing. Depends on wire and util.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/wire.h"

typedef struct vd_cache vd_cache_t;

typedef struct vd_cache_key {
	uint64_t group;		 /* vd_group_t.cache_id */
	const uint8_t *qname_lc; /* lower-cased wire name */
	uint16_t qtype, qclass;
	bool do_bit, cd;
} vd_cache_key_t;

/* The hash of a key (vd_hash over every field) under seed. The cache's
 * buckets and query's table of upstream fetches in flight use it with
 * vd_hash_seed(), as the names in keys come from clients. */
uint64_t vd_cache_key_hash(const vd_cache_key_t *k, uint64_t seed);

/* TTL policy, from the configuration snapshot (seconds). */
typedef struct vd_cache_policy {
	uint32_t min_ttl, max_ttl, max_negative_ttl;
	uint32_t stale_max; /* 0: expired entries are never served */
	bool prefetch;
} vd_cache_policy_t;

typedef struct vd_cache_stats {
	uint64_t entries, bytes, max_bytes;
	uint64_t hits, misses, stale_hits, inserts, evictions, expired;
	uint64_t not_cacheable;
} vd_cache_stats_t;

/* RFC 8767 section 4: the TTL of a stale answer. */
#define VD_CACHE_STALE_TTL 30
/* After a failed refresh, stale answers are served at once for this long
 * (RFC 8767's failure recheck timer) instead of waiting for upstreams. */
#define VD_CACHE_FAIL_RECHECK_MS 30000

typedef enum {
	VD_CACHE_MISS = 0,
	VD_CACHE_HIT,	/* fresh */
	VD_CACHE_STALE, /* expired, within stale_max */
} vd_cache_result_t;

/* A found entry. Pointers stay valid until the next call that may modify
 * the cache (store, expire, resize) on this thread. */
typedef struct vd_cache_hit {
	const void *entry;
	const uint8_t *msg; /* stored message (ID 0, lower-case qname) */
	size_t len;
	uint32_t age;	      /* seconds since stored */
	uint32_t ttl;	      /* entry TTL */
	bool has_cname;	      /* answer section holds a CNAME */
	bool prefetch;	      /* popular and in its last 10 %: refresh */
	bool failed_recently; /* a refresh failed < FAIL_RECHECK_MS ago */
} vd_cache_hit_t;

/* now_ms may be NULL (monotonic clock); tests inject their own. max_bytes
 * is the memory budget (entries and table). NULL on out of memory. */
vd_cache_t *vd_cache_new(size_t max_bytes, uint64_t (*now_ms)(void *arg), void *arg);
void vd_cache_free(vd_cache_t *c); /* NULL is ok */
/* Changes the budget, evicting least recently used entries to fit. */
void vd_cache_set_size(vd_cache_t *c, size_t max_bytes);
/* Drops every entry whose group identity is not in ids[0..n). */
void vd_cache_retain_groups(vd_cache_t *c, const uint64_t *ids, size_t n);
/* Removes every entry for the lower-cased wire name name_lc (any type,
 * class, group and flags; names below it stay), or every entry when
 * name_lc is NULL. Returns how many were removed. One pass over all
 * entries: for operators (vpcdnsctl flush), not for the query path. */
size_t vd_cache_flush(vd_cache_t *c, const uint8_t *name_lc);

/* Stores a validated upstream response for key. Returns 0 when stored,
 * VD_EMALF for a malformed response, 1 when the response is not cacheable
 * (rcode other than NOERROR/NXDOMAIN, TC, TTL 0, negative without SOA,
 * too big), -ENOMEM. Replaces an existing entry for the same key. */
int vd_cache_store(vd_cache_t *c, const vd_cache_key_t *k, const uint8_t *resp,
		   size_t len, const vd_cache_policy_t *p);

/* Looks key up. Entries expired beyond stale_max are removed. */
vd_cache_result_t vd_cache_lookup(vd_cache_t *c, const vd_cache_key_t *k,
				  const vd_cache_policy_t *p, vd_cache_hit_t *hit);

/* Like vd_cache_lookup, but leaves statistics, popularity and recency
 * alone: for answering the requests that waited on the fetch that just
 * stored the entry, with exactly the TTLs later hits will see. */
vd_cache_result_t vd_cache_peek(vd_cache_t *c, const vd_cache_key_t *k,
				const vd_cache_policy_t *p, vd_cache_hit_t *hit);

/* Records that refreshing the entry failed now (see failed_recently). */
void vd_cache_mark_failed(vd_cache_t *c, const vd_cache_key_t *k);

/* Writes the reply for a hit into out: the stored message with the
 * client's ID, qname (same name, the client's case), the given flags word
 * (rcode is taken from the stored message), and each TTL reduced by the
 * age, or VD_CACHE_STALE_TTL when stale is true. No OPT is added. Returns
 * the length, or 0 when the message does not fit cap. */
size_t vd_cache_write(const vd_cache_hit_t *h, const vd_query_msg_t *q, uint16_t flags,
		      bool stale, uint8_t *out, size_t cap);

/* Seconds left for a record whose stored TTL is ttl, after age. */
static inline uint32_t vd_cache_ttl_left(uint32_t ttl, uint32_t age)
{
	return ttl > age ? ttl - age : 0;
}

const vd_cache_stats_t *vd_cache_stats(const vd_cache_t *c);
