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
#include "vpcdns/fw.h"
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
/* Firewall alert and block lines logged per second and worker. */
#define VD_QUERY_FW_LOG_PER_SEC 10
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
	/* The view's firewall rule groups (NULL or empty: none), and where
	 * the rule that decided this request is recorded (the question,
	 * a local CNAME target, or one in the upstream answer); the query
	 * log takes its fields from there. */
	const vd_fw_set_t *fw_set;
	vd_fw_match_t *fw;
} vd_rctx_t;

/* What the metrics count of one request, filled as it is handled and
 * counted once at its end (metrics.c). */
typedef struct vd_qacct {
	uint64_t t0_us; /* monotonic */
	int slot;	/* view slot; -1: not parsed far enough */
	uint16_t qtype;
	uint8_t route; /* VD_QM_LOCAL ... or VD_QM_NONE */
	bool tcp, v6, parsed;
} vd_qacct_t;

typedef struct vd_fetch vd_fetch_t;

/* A client request waiting on an upstream fetch. Holds a snapshot
 * reference, so its view, chain steps and zone data stay valid. */
typedef struct vd_pending {
	struct vd_pending *next; /* fetch's waiters, or the free list */
	vd_snap_t *snap;
	const vd_view_t *view;
	vd_query_client_t client;
	vd_query_msg_t q;
	vd_qacct_t acct;
	vd_step_t chain[VD_QUERY_CHAIN_MAX + 1];
	unsigned nchain;
	uint8_t fwd_name[VD_NAME_MAX];
	const vd_fw_set_t *fw_set; /* in the snapshot */
	vd_fw_match_t fw;	   /* the firewall's decision so far */
	/* query log (qlog.c): the record flags picked on arrival (0: none),
	 * when the request arrived (monotonic and Unix time, us) */
	uint8_t log;
	uint64_t log_t0, log_wall;
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
	/* per-request metrics (metrics.c) */
	vd_query_metrics_t mx;
	int *view_slot;		  /* by view index of mx_snap */
	const vd_snap_t *mx_snap; /* the snapshot view_slot maps */
	vd_qacct_t acct;	  /* the request being handled */
	/* The cache identities of the groups the cache was last trimmed to
	 * (malloc'd): a reload with the same ones does not walk the cache. */
	uint64_t *cache_ids;
	size_t ncache_ids;
	vd_rr_t *rr; /* scratch for re-encoding messages */
	/* Firewall match log lines: at most VD_QUERY_FW_LOG_PER_SEC in
	 * each second, the rest counted and reported with the next line. */
	uint64_t fw_log_sec;
	unsigned fw_log_lines;
	uint64_t fw_log_dropped;
	/* The firewall's decision for the request being logged (the query
	 * log's firewall fields); reset when a logged request starts. */
	vd_fw_match_t log_fw;
	uint8_t *out; /* reply buffer for pending requests */
	/* query log (qlog.c); qlog NULL: off */
	vd_qlog_ring_t *qlog;
	unsigned qlog_out; /* VD_QLOG_OUT_* */
	uint32_t qlog_n;   /* sampling counter */
	uint8_t log_pick;  /* record flags of the request being handled */
	uint64_t log_t0, log_wall;
	int log_vi;	       /* the view index the pipeline matched; -2: none yet */
	vd_qlog_addr_t log_up; /* the server of the last upstream response */
	/* The rate limiter's buckets (NULL: no view is limited), sized at
	 * snapshot install for rl_slots (protect.c). */
	vd_guard_rl_t *rl;
	uint32_t rl_slots;
	vd_loopcheck_t *loopcheck; /* NULL: no loop detection */
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

/* ---- firewall.c -------------------------------------------------------- */

/* Inspects the question (res NULL) or the CNAME targets of res's local
 * chain, unless a rule already decided; records and counts a match in
 * rc->fw. Returns true when the request is blocked. */
bool vd_query_fw_inspect(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			 const vd_resolution_t *res);
/* The same for one CNAME target in an upstream answer (case as sent). */
bool vd_query_fw_redirect(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			  const uint8_t *target);
/* The block response of the rule in rc->fw that can be written without
 * an upstream: NODATA, NXDOMAIN, or the override CNAME followed by what
 * this view's local data has for its target. */
size_t vd_query_fw_write_block(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out);
/* Answers a request blocked before any upstream query: as above, except
 * that an override whose target is forwarded is forwarded (the reply is
 * the CNAME and the upstream's answer for the target). */
vd_qh_result_t vd_query_fw_block(vd_query_ctx_t *ctx, vd_snap_t *snap,
				 const vd_rctx_t *rc, uint8_t *out, size_t *outlen);

/* ---- explain.c --------------------------------------------------------- */

/* CH TXT [_<type>.]<name>: how an IN query of that type (A when no
 * type label) for name would be answered for this client (view, AZ, each
 * step of the same walk an answer takes, generation), one TXT record per
 * step. Zone files are named relative to server.directory; the upstream
 * servers' addresses only when addrs (vd_view_explain_for says whether
 * this client may see them). A reply with TC when it does not fit the
 * client's size. ctx (NULL: none) counts truncated replies. */
size_t vd_query_write_explain(vd_query_ctx_t *ctx, const vd_rctx_t *rc, bool addrs,
			      uint8_t *out);
/* The endpoint name a reverse name (PTR) owns in the view's endpoint data,
 * or NULL (not a reverse name, or no endpoint there). */
const uint8_t *vd_query_ptr_target(const vd_view_t *v, const uint8_t *qname);
/* A PTR answer from the view's endpoint data, or 0 when the name is not
 * the reverse name of an endpoint address. */
size_t vd_query_write_ptr(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out);

/* ---- metrics.c --------------------------------------------------------- */

/* Starts the accounting of a request from client c. */
void vd_query_acct_start(vd_query_ctx_t *ctx, const vd_query_client_t *c);
/* The metrics slot of view index vi of snap (-1: no view matched). */
int vd_query_metrics_slot(vd_query_ctx_t *ctx, const vd_snap_t *snap, int vi);
/* Counts a finished request: its reply (NULL/0: none sent) and route. */
void vd_query_account(vd_query_ctx_t *ctx, const vd_qacct_t *a, const uint8_t *reply,
		      size_t len);
/* Maps snap's views to slots, adding slots for new names. 0 or -ENOMEM. */
int vd_query_metrics_snap(vd_query_ctx_t *ctx, const vd_snap_t *snap);
void vd_query_metrics_free(vd_query_ctx_t *ctx);

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

/* ---- query.c / qlog.c ------------------------------------------------- */

/* The pipeline itself (vd_query_handle without the query log). */
vd_qh_result_t vd_query_answer(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen);
/* vd_query_handle with the query log on: the pipeline, then one record. */
vd_qh_result_t vd_query_logged(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen);
/* The record of a forwarded request whose reply (pkt, len; NULL: none)
 * is going out now; route is forward or stale. */
void vd_query_log_pending(vd_query_ctx_t *ctx, const vd_pending_t *p, unsigned route,
			  bool answered_upstream, const uint8_t *pkt, size_t len);

/* ---- loopcheck.c ------------------------------------------------------- */

/* Whether q is one of our own loop probes of the current round (the
 * group it names is marked looping, logged the first time): the caller
 * answers SERVFAIL. Any other name: false, at the cost of one comparison
 * of its tail. */
bool vd_query_loopcheck_seen(vd_query_ctx_t *ctx, const vd_snap_t *snap,
			     const vd_query_msg_t *q);
/* Whether q's name is under the reserved label (anyone's probe). */
bool vd_query_loopcheck_probe_name(const vd_query_msg_t *q);
