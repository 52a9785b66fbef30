/*
 * query private: the per-loop context, local resolution results, the
 * records of requests waiting on an upstream ("pending") and of upstream
 * fetches shared by identical requests, and the reply writers that
 * query.c (entry point, local answers) and forward.c (cache, fetches)
 * share.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/cache.h"
#include "vpcdns/guard.h"
#include "vpcdns/query.h"
#include "vpcdns/view.h"
#include "vpcdns/wire.h"

/* Longest CNAME chain followed through local data (the view's walk). */
#define VD_QUERY_CHAIN_MAX VD_VIEW_CHAIN_MAX
/* Payload size we use for UDP replies when the client sent no EDNS. */
#define VD_QUERY_NO_EDNS_UDP 512
/* Buckets of the in-flight fetch table (fetches are bounded by fwd). */
#define VD_QUERY_FETCH_BUCKETS 4096
/* Released pending and fetch records kept for reuse: at most as many as
 * are in use now, or this many when fewer are; the rest are freed, so a
 * burst's memory goes back once it ends while a steady load reuses
 * records without allocating. */
#define VD_QUERY_POOL_KEEP 64
/* ctx->reply_az before the client's AZ was looked up. */
#define VD_QUERY_AZ_UNSET (-2)

/* One step of a local answer (see vd_view_step_t): the owner points into
 * the client's question or into zone data. */
typedef vd_view_step_t vd_step_t;

/* What resolving a name in a view's local data produced: the view's walk,
 * with its forward group index mapped to the snapshot's group. */
typedef struct vd_resolution {
	vd_view_res_t walk;
	const vd_group_t *group; /* not NULL: forward fwd_name there */
	const uint8_t *fwd_name; /* walk.fwd_name: name to forward */
} vd_resolution_t;

/* Everything needed to write one client's reply. */
typedef struct vd_rctx {
	const vd_snap_t *snap;
	const vd_view_t *view;
	const vd_query_client_t *client;
	const vd_query_msg_t *q;
	const vd_step_t *chain; /* local CNAME steps before the forwarded name */
	unsigned nchain;
	const uint8_t *fwd_name; /* the name that was forwarded */
} vd_rctx_t;

typedef struct vd_fetch vd_fetch_t;

/* A client request waiting on an upstream fetch. Holds a snapshot
 * reference, so its view, chain steps and zone data stay valid. */
typedef struct vd_pending {
	struct vd_pending *next; /* fetch's waiters, or the free list */
	vd_snap_t *snap;
	const vd_view_t *view;
	vd_query_client_t client;
	vd_query_msg_t q;
	vd_step_t chain[VD_QUERY_CHAIN_MAX + 1];
	unsigned nchain;
	uint8_t fwd_name[VD_NAME_MAX];
} vd_pending_t;

/* One upstream query, shared by every identical request (same cache key)
 * that arrives while it is in flight; a background refresh has none. */
struct vd_fetch {
	struct vd_fetch *next; /* bucket chain, or the free list */
	vd_query_ctx_t *ctx;
	vd_snap_t *snap; /* own reference: the group lives there */
	const vd_group_t *group;
	uint8_t name_lc[VD_NAME_MAX];
	vd_cache_key_t key; /* key.qname_lc points at name_lc */
	uint64_t hash;
	bool rd;     /* recursion desired: shared and cached */
	bool shared; /* in the in-flight table */
	vd_pending_t *waiters;
	unsigned nwaiters;
};

struct vd_query_ctx {
	vd_fwd_t *fwd;
	vd_cache_t *cache;
	unsigned cache_share; /* workers sharing cache.size (>= 1) */
	vd_query_stats_t stats;
	uint32_t rotate; /* rotation of multi-record A/AAAA sets */
	/* The client's AZ for the reply being written: looked up at most
	 * once per reply (VD_QUERY_AZ_UNSET until then), reset by each
	 * writer that orders records. */
	int reply_az;
	size_t pending; /* requests waiting on fetches */
	size_t nfetch;	/* fetches in flight */
	vd_pending_t *free_pending;
	size_t nfree_pending;
	vd_fetch_t *free_fetch;
	size_t nfree_fetch;
	vd_fetch_t *fetches[VD_QUERY_FETCH_BUCKETS];
	vd_rr_t *rr;  /* scratch for re-encoding messages */
	uint8_t *out; /* reply buffer for pending requests */
	/* The rate limiter's buckets (NULL: no view is limited), sized at
	 * snapshot install for rl_slots (protect.c). */
	vd_guard_rl_t *rl;
	uint32_t rl_slots;
};

/* ---- answer.c ---------------------------------------------------------- */

/* The largest reply for this client: 65535 over TCP; over UDP the
 * client's EDNS buffer (512 without EDNS), at most VD_EDNS_ADVERTISE
 * whatever the client says; never more than c->max_reply. Every reply
 * writer sizes its buffer with it. */
size_t vd_query_reply_limit(const vd_query_client_t *c, const vd_query_msg_t *q);
/* Reply flags: QR, the query's opcode, RA, RD and CD copied, AA if aa,
 * the low 4 bits of rcode. For an opcode other than QUERY only QR, the
 * opcode and rcode. */
uint16_t vd_query_reply_flags(const vd_query_msg_t *q, int rcode, bool aa);
/* Appends our OPT when the client sent one (NSID when asked; ede < 0: none). */
void vd_query_put_opt(vd_wbuf_t *w, const vd_query_msg_t *q, const vd_snap_t *snap,
		      int rcode, int ede, const char *ede_text);
/* A reply with no records but the question and our OPT. 0 if it fails. */
size_t vd_query_write_empty(uint8_t *out, size_t cap, const vd_query_msg_t *q,
			    const vd_snap_t *snap, int rcode, int ede,
			    const char *text);
/* Header, question and OPT with TC set: the reply did not fit. */
size_t vd_query_write_truncated(uint8_t *out, size_t cap, const vd_query_msg_t *q,
				const vd_snap_t *snap, uint16_t flags, int ede);
/* The view's walk (vd_view_resolve) for name (case as written), without
 * a trace, and the forward group it names. */
void vd_query_resolve(const vd_view_t *v, const vd_snap_t *snap, const uint8_t *name,
		      uint16_t qtype, vd_resolution_t *res);
/* Writes a local answer. */
size_t vd_query_write_local(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			    const vd_resolution_t *res, uint8_t *out);
/* Writes a reply from an upstream or cached message: the client's ID and
 * question, the local chain first, every record but OPT re-encoded with
 * its TTL reduced by age (or the stale TTL), and, when an upstream CNAME
 * leads to a name this view has local data for, the rest completed from
 * that data (Route 53 behaviour). ede >= 0 adds an Extended DNS Error. */
size_t vd_query_write_message(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			      const uint8_t *msg, size_t len, uint32_t age, bool stale,
			      int ede, uint8_t *out);

/* ---- explain.c --------------------------------------------------------- */

/* CH TXT [_<type>.]<name>: how an IN query of that type (A when no
 * type label) for name would be answered for this client (view, AZ, each
 * step of the same walk an answer takes, generation), one TXT record per
 * step. A reply with TC when it does not fit the client's size. */
size_t vd_query_write_explain(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out);
/* The endpoint name a reverse name (PTR) owns in the view's endpoint data,
 * or NULL (not a reverse name, or no endpoint there). */
const uint8_t *vd_query_ptr_target(const vd_view_t *v, const uint8_t *qname);
/* A PTR answer from the view's endpoint data, or 0 when the name is not
 * the reverse name of an endpoint address. */
size_t vd_query_write_ptr(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out);

/* ---- protect.c --------------------------------------------------------- */

/* Cookies and rate limiting, one call after the view is matched (vi < 0:
 * none). Replaces q's server cookie with a fresh one. true: answer the
 * query. false: *res (and out[0..*outlen)) is the outcome: nothing, a
 * TC=1 reply, BADCOOKIE or REFUSED. */
bool vd_query_admit(vd_query_ctx_t *ctx, const vd_snap_t *snap,
		    const vd_query_client_t *c, vd_query_msg_t *q, int vi, uint8_t *out,
		    size_t *outlen, vd_qh_result_t *res);
/* Sizes (or drops) the bucket table for a newly installed snapshot:
 * allocates only when server.rate_limit.table_size changes or limiting
 * is switched on. */
int vd_query_guard_changed(vd_query_ctx_t *ctx, const vd_snap_t *snap);

/* ---- forward.c --------------------------------------------------------- */

/* Answers res's forwarded name from the cache or an upstream fetch. */
vd_qh_result_t vd_query_forward(vd_query_ctx_t *ctx, vd_snap_t *snap,
				const vd_rctx_t *rc, const vd_resolution_t *res,
				uint8_t *out, size_t *outlen);
/* Cancels nothing; frees the free lists. */
void vd_query_forward_deinit(vd_query_ctx_t *ctx);
