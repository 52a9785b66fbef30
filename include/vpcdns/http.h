/*
 * http: the observability listener. Serves GET /metrics (Prometheus text
 * exposition format 0.0.4), /health and /ready with libmicrohttpd, on
 * threads of its own (one polling thread per listen address); nothing
 * else: other paths get 404, other methods 405. Connections per address,
 * request memory and idle time are bounded (vd_http_conf_t).
 *
 * It reads no memory of the workers or of the main loop. Its state is:
 *  - the readiness state and its reason, set by the owner (atomic);
 *  - one tick per loop (the main loop and every worker), a monotonic time
 *    in milliseconds each loop stores from a timer about every second;
 *    /health is 503 naming the first loop whose tick is older than
 *    VD_HTTP_STUCK_MS;
 *  - the last metrics text the owner produced. A scrape asks the owner
 *    for a fresh one through ops.want_metrics (from the HTTP thread; the
 *    owner wakes its loop, collects, formats there and hands the text back
 *    with vd_http_put_metrics) and waits on a condition variable for at
 *    most VD_HTTP_SCRAPE_WAIT_MS; past it the scrape gets 503.
 * Depends on util and libmicrohttpd only; the daemon owns and drives it.
 *
 * Threading: vd_http_new, vd_http_detach and vd_http_free on the owner's
 * thread; vd_http_set_state, vd_http_tick and vd_http_put_metrics from
 * any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/conf.h"

/* A loop whose last tick is older than this is reported stuck. */
#define VD_HTTP_STUCK_MS 5000
/* How long a scrape waits for the owner's metrics text. */
#define VD_HTTP_SCRAPE_WAIT_MS 3000
/* Bytes of one request's headers and body MHD may hold per connection. */
#define VD_HTTP_REQUEST_MEMORY 16384

typedef struct vd_http vd_http_t;

typedef enum {
	VD_HTTP_LOADING = 0, /* the first generation is not loaded yet */
	VD_HTTP_READY,	     /* serving */
	VD_HTTP_DRAINING,    /* serving, but leaving: take it out of rotation */
	VD_HTTP_STOPPING,    /* shutting down */
} vd_http_state_t;

typedef struct vd_http_ops {
	/* Called on an HTTP thread (with the listener's lock held: it must
	 * not block or call back into vd_http_*): produce fresh metrics and
	 * pass them to vd_http_put_metrics with seq. Not called after
	 * vd_http_detach returns. */
	void (*want_metrics)(void *arg, uint64_t seq);
	void *arg;
} vd_http_ops_t;

/* Binds every address of conf (nlisten > 0) and starts serving, in state
 * VD_HTTP_LOADING. max_loops bounds the loops that may tick (index 0 is
 * named "main loop", index i > 0 "worker i-1"); vd_http_set_loops says how
 * many do. Returns 0 with *out set, or a negative error (logged, naming
 * the address). */
int vd_http_new(const vd_http_conf_t *conf, size_t max_loops, const vd_http_ops_t *ops,
		vd_http_t **out);
/* Loops 0..n-1 tick from now on (n <= max_loops). Call before the state
 * leaves VD_HTTP_LOADING. */
void vd_http_set_loops(vd_http_t *h, size_t n);
/* After this returns ops is never called again and waiting scrapes get
 * 503 at once. Idempotent. */
void vd_http_detach(vd_http_t *h);
/* Stops the listener threads and frees everything (NULL does nothing). */
void vd_http_free(vd_http_t *h);

/* /ready: 200 in VD_HTTP_READY, else 503 with the state's name and
 * reason (copied; NULL: none). */
void vd_http_set_state(vd_http_t *h, vd_http_state_t st, const char *reason);
/* Loop i is alive now. */
void vd_http_tick(vd_http_t *h, size_t loop);
/* The metrics text for the scrape numbered seq (copied). */
void vd_http_put_metrics(vd_http_t *h, uint64_t seq, const char *text, size_t len);

/* For tests: the port the first address is bound to (its own when the
 * configured one was 0). */
uint16_t vd_http_port(const vd_http_t *h);
/* For tests: makes loop i look stuck since ms_ago. */
void vd_http_tick_at(vd_http_t *h, size_t loop, uint64_t ms_ago);
