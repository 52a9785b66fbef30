/*
 * query: the per-request pipeline. Parse the client's packet, pick the view
 * from its address, route the name (zone or forward rule), answer from
 * local data by writing precompiled records straight into the caller's
 * buffer, or forward upstream and rewrite the upstream's response for the
 * client. Depends on fwd, conf, zone, view, wire, util.
 *
 * Threading: one vd_query_ctx_t per loop thread; everything is called on
 * that thread. Local answers take no lock and allocate nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/cache.h"
#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/guard.h"

typedef struct vd_query_ctx vd_query_ctx_t;

/* The client of one request, as the transport describes it. respond is
 * used only for requests that went upstream (VD_QH_PENDING): it is called
 * exactly once, with the reply (pkt != NULL) or with pkt == NULL when the
 * request ends without a reply (shutdown). token belongs to the transport
 * and is passed back untouched. */
typedef struct vd_query_client {
	struct sockaddr_storage addr;
	bool tcp;
	size_t max_reply; /* transport limit (0: none); UDP replies are
				      * capped at VD_EDNS_ADVERTISE anyway */
	void (*respond)(void *token, const struct vd_query_client *c,
			const uint8_t *pkt, size_t len);
	void *token;
} vd_query_client_t;

typedef enum {
	VD_QH_REPLY,   /* out[0..*outlen) is the reply: send it now */
	VD_QH_DROP,    /* send nothing */
	VD_QH_PENDING, /* the reply will come through client->respond */
} vd_qh_result_t;

typedef struct vd_query_stats {
	uint64_t queries, udp, tcp;
	uint64_t local, forwarded, refused, formerr, notimp, servfail;
	uint64_t dropped;
	uint64_t nxdomain, truncated;
	uint64_t cache_hits;	   /* answered from the cache (fresh or stale) */
	uint64_t stale;		   /* stale answers served (EDE 3) */
	uint64_t coalesced;	   /* requests that joined a fetch in flight */
	uint64_t upstream_fetches; /* upstream queries started */
	uint64_t refreshes;	   /* background refreshes (prefetch, stale) */
	uint64_t rejected_pending; /* SERVFAIL/EDE 14: max_pending or
				    * max_pending_per_fetch reached */
	uint64_t ratelimited;	   /* over the rate limit: dropped, slipped or
			       * refused */
	uint64_t slipped;	   /* of those, answered with TC=1 */
	uint64_t badcookie;	   /* of those, answered BADCOOKIE */
	uint64_t cookies;	   /* queries with a client cookie */
	uint64_t cookies_valid;	   /* of those, with a valid server cookie */
} vd_query_stats_t;

/* fwd is used for upstream queries and must outlive the context. */
vd_query_ctx_t *vd_query_ctx_new(vd_fwd_t *fwd);
void vd_query_ctx_free(vd_query_ctx_t *ctx);

/* Handles one query against snapshot snap (the caller holds a reference
 * for the duration of the call; a pending request takes its own). out must
 * hold at least 65535 bytes. */
vd_qh_result_t vd_query_handle(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *client, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen);

/* Applies a newly installed snapshot's cache settings: the size, and
 * dropping the answers of groups that no longer exist or whose servers
 * changed. Call with the first snapshot too (it creates the cache). */
int vd_query_snap_changed(vd_query_ctx_t *ctx, const vd_snap_t *snap);

/* With several workers, each one's cache gets an equal share of
 * cache.size (default: 1, the whole budget). */
void vd_query_set_cache_share(vd_query_ctx_t *ctx, unsigned workers);

const vd_query_stats_t *vd_query_stats(const vd_query_ctx_t *ctx);
/* The rate limiter's table (size, evictions); NULL while no view is
 * limited. */
const vd_guard_rl_stats_t *vd_query_rl_stats(const vd_query_ctx_t *ctx);
/* NULL before the first vd_query_snap_changed. */
const vd_cache_stats_t *vd_query_cache_stats(const vd_query_ctx_t *ctx);
/* Requests waiting on an upstream. */
size_t vd_query_pending(const vd_query_ctx_t *ctx);
/* Released request and fetch records kept for reuse (see
 * VD_QUERY_POOL_KEEP): it falls back after a burst. */
size_t vd_query_pooled(const vd_query_ctx_t *ctx);
