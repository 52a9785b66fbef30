/*
 * daemon: the process plumbing. Loads the first snapshot (any error is
 * fatal at start), starts the workers — each a thread with its own libuv
 * loop, listeners (SO_REUSEPORT when there are several), upstream client
 * and cache — and runs the main loop, which owns everything that is not a
 * query: signals, reloads on the thread pool, statistics collection,
 * shutdown. Depends on net, query, fwd, conf and util.
 *
 * Threading: vd_daemon_new, vd_daemon_run and vd_daemon_free are called
 * by the process's main thread; every other function here runs on the
 * main loop (the thread inside vd_daemon_run), never on a worker. Workers
 * are reached only through their mailboxes, so nothing here takes a lock
 * on the query path.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/cache.h"
#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/net.h"
#include "vpcdns/qlog.h"
#include "vpcdns/query.h"
#include "vpcdns/util.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct vd_daemon vd_daemon_t;

typedef struct vd_daemon_opts {
	const char *conf_path; /* borrowed for the daemon's life */
	bool verbose;	       /* debug logging whatever the config says */
} vd_daemon_opts_t;

/* Loads opts->conf_path and starts the workers. On success *out is the
 * daemon and the result is 0; on failure everything started is stopped,
 * the reason is logged and the result is non-zero. */
int vd_daemon_new(const vd_daemon_opts_t *opts, vd_daemon_t **out);
/* Runs the main loop until the daemon has stopped (SIGTERM, SIGINT or
 * vd_daemon_stop) and every worker has closed. */
int vd_daemon_run(vd_daemon_t *d);
/* Joins the workers and frees everything (NULL does nothing). */
void vd_daemon_free(vd_daemon_t *d);

/* ---- for services on the main loop (control channel, HTTP) ---------- */

uv_loop_t *vd_daemon_loop(vd_daemon_t *d);

/* The outcome of one reload. errs (NULL on success) lives only for the
 * duration of the callback. */
typedef struct vd_daemon_reload_result {
	int rc;		     /* 0: a new generation serves */
	uint64_t generation; /* serving after the reload */
	uint64_t ms;	     /* build time */
	const vd_errlist_t *errs;
} vd_daemon_reload_result_t;

typedef void (*vd_daemon_reload_cb)(void *arg, const vd_daemon_reload_result_t *r);

/* Reloads the configuration file: the result comes through cb (may be
 * NULL) on the main loop, from a build that started after this call
 * (requests made while one runs share the next build). Returns 0, or
 * -ENOMEM / -ESHUTDOWN (then cb is never called). */
int vd_daemon_reload(vd_daemon_t *d, vd_daemon_reload_cb cb, void *arg);
/* (-ESHUTDOWN from the first stop request on, lameduck included.) */

/* One upstream server of the worker's snapshot, with its counters. */
typedef struct vd_worker_upstream {
	char group[64];
	char server[160]; /* as written in the configuration */
	vd_fwd_server_stats_t st;
} vd_worker_upstream_t;

/* One worker's counters, copied on its own thread between queries. The
 * record owns metrics and upstreams (malloc'd): they live until the
 * collection's callbacks have returned. */
typedef struct vd_worker_stats {
	int worker;
	bool valid;	     /* false: the worker did not answer in time */
	uint64_t generation; /* the snapshot the worker serves */
	vd_query_stats_t query;
	bool has_cache;
	vd_cache_stats_t cache;
	vd_fwd_stats_t fwd;
	vd_net_stats_t net;
	size_t pending;	 /* requests waiting on upstreams */
	size_t pooled;	 /* spare request records kept for reuse */
	size_t tls_open; /* upstream TCP/TLS connections not yet freed */
	vd_query_metrics_t metrics;
	vd_worker_upstream_t *upstreams; /* every server of every group */
	size_t nupstreams;
	vd_guard_rl_stats_t rl; /* the rate limiter's table (zero: none) */
} vd_worker_stats_t;

typedef void (*vd_daemon_stats_cb)(void *arg, const vd_worker_stats_t *w, size_t n);

/* Asks every worker for its counters; cb gets one entry per worker (in
 * worker order) on the main loop once all answered, or after a second
 * with the missing ones marked invalid. Requests made while a collection
 * runs share it. Returns 0, -ENOMEM or -ESHUTDOWN. */
int vd_daemon_collect_stats(vd_daemon_t *d, vd_daemon_stats_cb cb, void *arg);

typedef struct vd_daemon_status {
	const char *conf_path;
	uint64_t generation;
	uint64_t started_at; /* Unix time, seconds */
	uint64_t loaded_at;  /* when the serving generation was installed */
	size_t views, zone_uses, groups, workers;
	size_t zones, records; /* distinct zones and their records */
	/* Zone folders the serving generation names; of those, how many
	 * its build took unchanged on the watch's word, and how many the
	 * kernel would not watch. */
	size_t folders, folders_unchanged, folders_unwatched;
	bool reloading;
	/* draining: a stop was asked (SIGTERM, SIGINT, vd_daemon_stop); from
	 * that moment a readiness check must fail, while queries are still
	 * answered for server.lameduck. stopping: the lameduck is over and
	 * the listeners are closing. Once draining, reloads are refused. */
	bool draining, stopping;
	/* The last reload (none yet: reloads == 0). */
	uint64_t reloads, reload_failures;
	int last_rc;
	uint64_t last_at, last_ms;
	size_t last_errors;
	char last_error[256]; /* the first error of a failed reload */
	uint64_t last_ok_at;  /* the last successful load (start included) */
	/* Replaced snapshots freed off the workers, on the thread pool, once
	 * their last request ended: how many, the resident memory that gave
	 * back, the time the frees took; and how many wait for their last
	 * request (or are being freed). */
	uint64_t snapshots_retired, retired_bytes, retired_ms;
	size_t snapshots_retiring;
	uint64_t last_ok_ms;
	/* Query-log records written and dropped: 0 until a query log is
	 * configured (its writer fills them). */
	uint64_t qlog_written, qlog_dropped;
	/* Upstream groups found forwarding our queries back to us in the
	 * serving generation's loop check: how many, and their names
	 * (", "-separated, as many as fit). */
	size_t nlooping;
	char looping[256];
} vd_daemon_status_t;

void vd_daemon_status(const vd_daemon_t *d, vd_daemon_status_t *out);

/* The outcome of a cache flush: rc 0, or -ESHUTDOWN when the daemon
 * stopped first; removed entries summed over the workers that answered
 * (all of them unless one took longer than two seconds). */
typedef void (*vd_daemon_flush_cb)(void *arg, int rc, uint64_t removed, size_t answered,
				   size_t workers);

/* Removes the cached answers for name_lc (lower-cased wire form, copied;
 * NULL: every answer) from each worker's cache, on the worker's own
 * thread (vd_query_flush). cb (not NULL) runs on the main loop once every
 * worker did it. Flushes run one at a time in the order asked. Returns
 * 0, -ENOMEM or -ESHUTDOWN (then cb is never called). */
int vd_daemon_flush(vd_daemon_t *d, const uint8_t *name_lc, vd_daemon_flush_cb cb,
		    void *arg);
/* The serving snapshot with a reference the caller drops. */
vd_snap_t *vd_daemon_snap(vd_daemon_t *d);
/* The query-log writer (vd_qlog_reopen, vd_qlog_stats), or NULL when
 * query logs and debug logging were both off at start. */
vd_qlog_t *vd_daemon_qlog(vd_daemon_t *d);
/* Stops as SIGTERM does: draining at once, the listeners close after
 * server.lameduck, queries in flight get up to server.shutdown_timeout.
 * Called again during the lameduck, it ends the lameduck. */
void vd_daemon_stop(vd_daemon_t *d);
/* Marks the daemon as leaving while it still serves (a lame-duck period
 * before stopping): /ready answers 503 "draining: <reason>" from now on,
 * so load balancers take it out of rotation. NULL reason: none. */
void vd_daemon_set_draining(vd_daemon_t *d, const char *reason);
