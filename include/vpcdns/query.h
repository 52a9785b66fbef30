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
	/* Requests a DNS firewall rule decided, by its action. */
	uint64_t fw_allow, fw_alert, fw_block;
	uint64_t ratelimited;	/* over the rate limit: dropped, slipped or
			       * refused */
	uint64_t slipped;	/* of those, answered with TC=1 */
	uint64_t badcookie;	/* of those, answered BADCOOKIE */
	uint64_t cookies;	/* queries with a client cookie */
	uint64_t cookies_valid; /* of those, with a valid server cookie */
} vd_query_stats_t;

/* ---- per-request metrics ------------------------------------------------
 * Counted at the end of each request by the worker's own thread into
 * arrays of its query context: no lock, no shared cache line. The arrays
 * are sized when a snapshot is installed (vd_query_snap_changed), never
 * per query. Views are counted in slots keyed by name, so a view keeps its
 * counters across reloads; slot 0 is clients that match no view. With
 * http.per_view_metrics off every view shares slot 1.
 */
enum { VD_QM_UDP, VD_QM_TCP, VD_QM_TRANSPORTS };
enum { VD_QM_IPV4, VD_QM_IPV6, VD_QM_FAMILIES };
/* Query types counted on their own; the rest are "other". */
#define VD_QM_QTYPES 14
/* NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED, other */
#define VD_QM_RCODES 7
/* Slots of views no longer configured kept before they are dropped
 * (beyond twice the live views). */
#define VD_QM_SLOTS_SPARE 16
/* Routes with a duration histogram. */
enum {
	VD_QM_LOCAL,
	VD_QM_CACHE,
	VD_QM_FORWARD,
	VD_QM_STALE,
	VD_QM_ROUTES,
	VD_QM_NONE = VD_QM_ROUTES
};
/* Upper bounds of the request duration buckets, in microseconds (+Inf
 * is the last bucket). */
#define VD_QM_DUR_BUCKETS 12
extern const uint32_t vd_qm_dur_bounds_us[VD_QM_DUR_BUCKETS];
extern const uint16_t vd_qm_qtypes[VD_QM_QTYPES]; /* 0 ends: "other" */
const char *vd_qm_qtype_name(size_t i);		  /* "A" ... "other" */
const char *vd_qm_rcode_name(size_t i);		  /* "NOERROR" ... "other" */
const char *vd_qm_route_name(size_t i);		  /* "local" ... "stale" */

typedef struct vd_qm_view {
	uint64_t requests[VD_QM_TRANSPORTS][VD_QM_FAMILIES][VD_QM_QTYPES];
	uint64_t responses[VD_QM_RCODES];
} vd_qm_view_t;

typedef struct vd_qm_hist {
	uint64_t buckets[VD_QM_DUR_BUCKETS + 1]; /* not cumulative */
	uint64_t sum_us;
} vd_qm_hist_t;

/* One worker's per-request counters, or a copy of them. */
typedef struct vd_query_metrics {
	size_t nslots;
	char **names;	 /* slot names: "" for slot 0 (no view) */
	vd_qm_view_t *v; /* nslots */
	vd_qm_hist_t dur[VD_QM_ROUTES];
	uint64_t no_view; /* clients refused because no view matches */
} vd_query_metrics_t;

/* A copy of ctx's counters into out (malloc'd; free with
 * vd_query_metrics_deinit). Call on ctx's thread. 0 or -ENOMEM. */
int vd_query_metrics_copy(const vd_query_ctx_t *ctx, vd_query_metrics_t *out);
void vd_query_metrics_deinit(vd_query_metrics_t *m);

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

/* Query logs: every reply this context produces from now on (local
 * answers, cache hits, forwarded replies when they complete, refusals,
 * FORMERR) is offered to ring as one record, with the sampling and
 * filters of the snapshot's query_log section; at log level debug every
 * reply is (the writer prints the debug line). outputs (VD_QLOG_OUT_*)
 * says what the writer makes of them: with dnstap, forwarded requests get
 * a record when they arrive too, and with VD_QLOG_OUT_DNSTAP_FWD every
 * upstream query and response gets one. ring (NULL: off, the default)
 * belongs to the caller and must outlive the context. When off, the cost
 * per query is one branch; when on, no allocation, lock or system call. */
void vd_query_set_qlog(vd_query_ctx_t *ctx, vd_qlog_ring_t *ring, unsigned outputs);

const vd_query_stats_t *vd_query_stats(const vd_query_ctx_t *ctx);
/* The rate limiter's table (size, evictions); NULL while no view is
 * limited. */
const vd_guard_rl_stats_t *vd_query_rl_stats(const vd_query_ctx_t *ctx);
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
 * is not consulted and upstream addresses are shown (the operator asks),
 * zone files relative to server.directory as always. Needs no query context: for the control channel on
 * the main loop. Returns 0 with *outlen set, VD_ENOTFOUND when the
 * address is in no view (its queries are REFUSED), VD_EMALF for a name
 * that cannot be asked, VD_ESPACE when out is too small. */
int vd_query_explain(const vd_snap_t *snap, const struct sockaddr *client,
		     const uint8_t *qname, uint8_t *out, size_t cap, size_t *outlen);

/* Released request and fetch records kept for reuse (see
 * VD_QUERY_POOL_KEEP): it falls back after a burst. */
size_t vd_query_pooled(const vd_query_ctx_t *ctx);

/* ---- forwarding loop detection (loopcheck.c) ----------------------------
 * At start and after each reload the daemon asks each upstream group for
 * "<token>-<index>.vpcdns-loop-check.invalid." (token: 16 random hex
 * digits, new each round; index: the group's position in the snapshot).
 * When a query for such a name with the current token reaches any of our
 * workers, that group forwards our queries back to us: it is marked
 * looping (logged once, as an error naming the group), the probe itself
 * is answered SERVFAIL, and until the next round every query forwarded to
 * the group gets SERVFAIL with EDE 22 "forwarding loop" at once. Names
 * under the label with another token (another server's probe) are
 * answered like any other. One vd_loopcheck_t per process: the daemon
 * owns it and starts rounds on the main loop; the workers read it
 * through their contexts with atomic loads only. */
#define VD_LOOPCHECK_LABEL "vpcdns-loop-check"
/* Groups past this many (by index) are not probed. */
#define VD_LOOPCHECK_MAX_GROUPS 256
typedef struct vd_loopcheck vd_loopcheck_t;

/* NULL on out of memory. _free(NULL) does nothing; free it after every
 * context that reads it. */
vd_loopcheck_t *vd_query_loopcheck_new(void);
void vd_query_loopcheck_free(vd_loopcheck_t *l);
/* A new round for the snapshot of generation gen: a new token, every
 * group not looping. One thread (the main loop). */
void vd_query_loopcheck_round(vd_loopcheck_t *l, uint64_t gen);
/* The probe name (wire form, at most VD_NAME_MAX bytes) for group index
 * group of the current round: 0, or -EINVAL before the first round or
 * past VD_LOOPCHECK_MAX_GROUPS. */
int vd_query_loopcheck_name(const vd_loopcheck_t *l, size_t group, uint8_t *out);
/* Whether group (index in snap->groups) was found looping in the round of
 * snap's generation. Any thread; l NULL: false. */
bool vd_query_loopcheck_looping(const vd_loopcheck_t *l, const vd_snap_t *snap,
				size_t group);
/* The generation of the current round (0: none yet). */
uint64_t vd_query_loopcheck_generation(const vd_loopcheck_t *l);
/* The table the context checks incoming names against and reads looping
 * groups from (NULL, the default: no loop detection). */
void vd_query_set_loopcheck(vd_query_ctx_t *ctx, vd_loopcheck_t *l);
