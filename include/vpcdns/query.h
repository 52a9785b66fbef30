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
/* NULL before the first vd_query_snap_changed. */
const vd_cache_stats_t *vd_query_cache_stats(const vd_query_ctx_t *ctx);
/* Requests waiting on an upstream. */
size_t vd_query_pending(const vd_query_ctx_t *ctx);
/* Removes the cached answers for the lower-cased wire name name_lc (every
 * type), or every cached answer when name_lc is NULL; returns how many.
 * Called on the context's own thread (the daemon's worker mailbox). */
size_t vd_query_flush(vd_query_ctx_t *ctx, const uint8_t *name_lc);

/* The reply a client at address client gets to "dig -c CH TXT qname"
 * (the explain answer: how an IN query would be answered, see
 * docs/configuration.md), written into out (cap bytes, at most 65535) as
 * if the question came over TCP without EDNS; the view's explain setting
 * is not consulted. Needs no query context: for the control channel on
 * the main loop. Returns 0 with *outlen set, VD_ENOTFOUND when the
 * address is in no view (its queries are REFUSED), VD_EMALF for a name
 * that cannot be asked, VD_ESPACE when out is too small. */
int vd_query_explain(const vd_snap_t *snap, const struct sockaddr *client,
		     const uint8_t *qname, uint8_t *out, size_t cap, size_t *outlen);

/* Released request and fetch records kept for reuse (see
 * VD_QUERY_POOL_KEEP): it falls back after a burst. */
size_t vd_query_pooled(const vd_query_ctx_t *ctx);
