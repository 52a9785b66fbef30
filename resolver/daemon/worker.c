/*
 * Workers: one thread and libuv loop each, with its own listeners,
 * upstream client, query context and cache share. The main loop talks to
 * a worker only through its mailbox (a mutex held for a few pointer and
 * flag updates, never while a query is handled) and uv_async_send: a new
 * snapshot to install, a request for its counters, or stop.
 */
#include "daemon_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void worker_closed_wake(uv_handle_t *h)
{
	(void)h; /* the last handle: uv_run returns */
}

static void worker_net_closed(void *arg)
{
	worker_t *w = arg;
	w->net = NULL;
	uv_close((uv_handle_t *)&w->wake, worker_closed_wake);
}

static void worker_fwd_closed(void *arg)
{
	worker_t *w = arg;
	w->fwd = NULL;
	/* Pending requests have all been answered or dropped: close sockets. */
	vd_net_close(w->net, worker_net_closed, w);
}

/* Every server of every group of the worker's snapshot, with fwd's
 * counters for it (malloc'd; none when out of memory). */
static void copy_upstreams(const worker_t *w, vd_worker_stats_t *s)
{
	const vd_snap_t *snap = w->snap;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < snap->ngroups; i++)
		n += snap->groups[i].nservers;
	if (n == 0 || (s->upstreams = calloc(n, sizeof(*s->upstreams))) == NULL)
		return;
	for (size_t i = 0; i < snap->ngroups; i++) {
		const vd_group_t *g = &snap->groups[i];
		for (size_t j = 0; j < g->nservers; j++, k++) {
			vd_worker_upstream_t *u = &s->upstreams[k];
			snprintf(u->group, sizeof(u->group), "%s", g->name);
			snprintf(u->server, sizeof(u->server), "%s",
				 g->servers[j].text ? g->servers[j].text : "");
			vd_fwd_server_stats(w->fwd, &g->servers[j], &u->st);
		}
	}
	s->nupstreams = n;
}

/* How often a draining worker looks whether its last queries are done;
 * only while stopping, never on the query path. */
#define DRAIN_POLL_MS 10

static void drain_check_timer(uv_timer_t *t);

static void worker_drain_closed(uv_handle_t *h)
{
	worker_t *w = h->data;
	if (w->fwd != NULL)
		vd_fwd_close(w->fwd, worker_fwd_closed, w);
	else if (w->net != NULL)
		vd_net_close(w->net, worker_net_closed, w);
	else
		uv_close((uv_handle_t *)&w->wake, worker_closed_wake);
}

/* Closes once nothing is owed to a client, or at the deadline. */
static void drain_check(worker_t *w)
{
	bool idle = w->net == NULL ||
		    (vd_query_pending(w->qctx) == 0 && vd_net_conns(w->net) == 0);
	if (!idle && uv_now(&w->loop) < w->drain_deadline) {
		uv_timer_start(&w->drain_timer, drain_check_timer, DRAIN_POLL_MS, 0);
		return;
	}
	if (!idle)
		vd_log(VD_LOG_WARN,
		       "worker %d: server.shutdown_timeout passed with %zu queries "
		       "and %zu TCP connections left; dropping them",
		       w->index, vd_query_pending(w->qctx), vd_net_conns(w->net));
	uv_close((uv_handle_t *)&w->drain_timer, worker_drain_closed);
}

static void drain_check_timer(uv_timer_t *t)
{
	drain_check(t->data);
}

/* A copy of this worker's counters, taken on its own thread. */
static void copy_stats(const worker_t *w, vd_worker_stats_t *s)
{
	const vd_cache_stats_t *c = vd_query_cache_stats(w->qctx);

	memset(s, 0, sizeof(*s));
	s->worker = w->index;
	s->valid = true;
	s->generation = w->snap->generation;
	s->query = *vd_query_stats(w->qctx);
	s->has_cache = c != NULL;
	if (c != NULL)
		s->cache = *c;
	s->fwd = *vd_fwd_stats(w->fwd);
	s->net = *vd_net_stats(w->net);
	s->pending = vd_query_pending(w->qctx);
	s->pooled = vd_query_pooled(w->qctx);
	s->tls_open = vd_fwd_conns(w->fwd);
	/* Per-request counters and upstream servers: copied here, on the
	 * worker's thread, summed by the main loop at scrape time. */
	vd_query_metrics_copy(w->qctx, &s->metrics);
	copy_upstreams(w, s);
	const vd_guard_rl_stats_t *rl = vd_query_rl_stats(w->qctx);
	s->rl = rl ? *rl : (vd_guard_rl_stats_t){ 0 };
}

/* Runs on the worker's thread when another thread posted to its mailbox. */
static void worker_wake(uv_async_t *a)
{
	worker_t *w = a->data;
	uv_mutex_lock(&w->lock);
	vd_snap_t *snap = w->next_snap;
	bool stats = w->want_stats, stop = w->want_stop;
	uint64_t flush = w->flush_seq != w->flush_done_seq ? w->flush_seq : 0;
	bool flush_all = w->flush_all;
	uint8_t flush_name[VD_NAME_MAX];
	if (flush != 0 && !flush_all)
		memcpy(flush_name, w->flush_name, vd_name_len(w->flush_name));
	w->next_snap = NULL;
	w->want_stats = false;
	uv_mutex_unlock(&w->lock);

	if (snap != NULL && !w->stopping) {
		vd_net_set_snap(w->net, snap);
		vd_query_snap_changed(w->qctx, snap);
		vd_snap_unref(w->snap);
		w->snap = snap;
	} else {
		vd_snap_unref(snap);
	}
	if (stats && !w->stopping) {
		vd_worker_stats_t copy;
		copy_stats(w, &copy);
		uv_mutex_lock(&w->lock);
		if (w->stats_ready) /* an older copy nobody took */
			vd_daemon_stats_release(&w->stats);
		w->stats = copy;
		w->stats_ready = true;
		uv_mutex_unlock(&w->lock);
		uv_async_send(&w->d->stats_async);
	}
	if (flush != 0 && !w->stopping) {
		uint64_t n = vd_query_flush(w->qctx, flush_all ? NULL : flush_name);
		uv_mutex_lock(&w->lock);
		w->flush_done_seq = flush;
		w->flush_removed = n;
		uv_mutex_unlock(&w->lock);
		uv_async_send(&w->d->flush_async);
	}
	if (stop && !w->stopping) {
		w->stopping = true;
		if (w->tick_on)
			uv_close((uv_handle_t *)&w->tick, NULL);
		/* The worker's own snapshot: the daemon's may change under it. */
		w->drain_deadline = uv_now(&w->loop) +
				    (w->snap ? w->snap->server.shutdown_timeout_ms : 0);
		if (w->net != NULL)
			vd_net_drain(w->net);
		drain_check(w);
	}
}

void vd_daemon_worker_post(worker_t *w, vd_snap_t *snap, bool stats, bool stop)
{
	uv_mutex_lock(&w->lock);
	if (snap != NULL) {
		vd_snap_ref(snap);
		vd_snap_unref(w->next_snap); /* a newer one replaces it */
		w->next_snap = snap;
	}
	w->want_stats |= stats;
	w->want_stop |= stop;
	uv_mutex_unlock(&w->lock);
	uv_async_send(&w->wake);
}

void vd_daemon_worker_post_flush(worker_t *w, uint64_t seq, const uint8_t *name_lc)
{
	uv_mutex_lock(&w->lock);
	w->flush_seq = seq;
	w->flush_all = name_lc == NULL;
	if (name_lc != NULL)
		memcpy(w->flush_name, name_lc, vd_name_len(name_lc));
	uv_mutex_unlock(&w->lock);
	uv_async_send(&w->wake);
}

bool vd_daemon_worker_take_flush(worker_t *w, uint64_t seq, uint64_t *removed)
{
	bool done;

	uv_mutex_lock(&w->lock);
	done = w->flush_done_seq == seq;
	if (done)
		*removed = w->flush_removed;
	uv_mutex_unlock(&w->lock);
	return done;
}

bool vd_daemon_worker_take_stats(worker_t *w, vd_worker_stats_t *out)
{
	bool ready;

	uv_mutex_lock(&w->lock);
	ready = w->stats_ready;
	if (ready)
		*out = w->stats;
	w->stats_ready = false;
	uv_mutex_unlock(&w->lock);
	return ready;
}

static void on_tick(uv_timer_t *t)
{
	worker_t *w = t->data;
	vd_http_tick(w->d->http, (size_t)w->index + 1);
}

static void worker_run(void *arg)
{
	worker_t *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Builds a worker on the main thread: its loop, upstream client, query
 * context with its share of the cache, listeners. Returns 0 or logs why. */
int vd_daemon_worker_init(vd_daemon_t *d, worker_t *w, int index)
{
	const vd_server_conf_t *sc = &d->snap->server;
	w->index = index;
	w->d = d;
	if (uv_loop_init(&w->loop) != 0 || uv_mutex_init(&w->lock) != 0)
		goto nomem;
	w->ready = true;
	/* First, so that a worker that fails to start can still be closed. */
	uv_async_init(&w->loop, &w->wake, worker_wake);
	w->wake.data = w;
	if (d->http != NULL) {
		uv_timer_init(&w->loop, &w->tick);
		w->tick.data = w;
		uv_timer_start(&w->tick, on_tick, 0, VD_DAEMON_TICK_MS);
		w->tick_on = true;
	}
	uv_timer_init(&w->loop, &w->drain_timer);
	w->drain_timer.data = w;
	w->fwd = vd_fwd_new(&w->loop);
	w->qctx = w->fwd ? vd_query_ctx_new(w->fwd) : NULL;
	w->net = w->qctx ? vd_net_new(&w->loop, w->qctx) : NULL;
	if (w->net == NULL)
		goto nomem;
	vd_query_set_cache_share(w->qctx, (unsigned)d->nworkers);
	if (d->qlog != NULL)
		vd_query_set_qlog(w->qctx, vd_qlog_ring(d->qlog, (size_t)index),
				  vd_qlog_outputs(d->qlog));
	vd_query_set_loopcheck(w->qctx, d->loopcheck);
	vd_snap_ref(d->snap);
	w->snap = d->snap;
	vd_net_set_snap(w->net, w->snap);
	if (vd_query_snap_changed(w->qctx, w->snap) != 0)
		goto nomem;
	vd_net_set_reuseport(w->net, d->nworkers > 1);
	for (size_t i = 0; i < sc->nlisten; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&sc->listen[i];
		char text[64];
		int rc = vd_net_listen(w->net, sa);
		vd_addr_fmt(sa, text, sizeof(text));
		if (rc != 0) {
			vd_log(VD_LOG_ERR, "cannot listen on %s: %s", text,
			       uv_strerror(rc));
			return -1;
		}
		if (index == 0)
			vd_log(VD_LOG_INFO, "listening on %s (UDP and TCP)", text);
	}
	return 0;
nomem:
	vd_log(VD_LOG_ERR, "out of memory");
	return -1;
}

int vd_daemon_worker_start(worker_t *w)
{
	if (uv_thread_create(&w->thread, worker_run, w) != 0) {
		vd_log(VD_LOG_ERR, "cannot start worker %d", w->index);
		return -1;
	}
	w->started = true;
	return 0;
}

void vd_daemon_worker_abandon(worker_t *w)
{
	if (!w->ready)
		return;
	vd_daemon_worker_post(w, NULL, false, true);
	if (!w->started)
		uv_run(&w->loop, UV_RUN_DEFAULT);
}

void vd_daemon_worker_deinit(worker_t *w)
{
	if (!w->ready)
		return;
	if (w->started)
		uv_thread_join(&w->thread);
	vd_query_ctx_free(w->qctx);
	vd_snap_unref(w->snap);
	vd_snap_unref(w->next_snap);
	if (w->stats_ready)
		vd_daemon_stats_release(&w->stats);
	uv_loop_close(&w->loop);
	uv_mutex_destroy(&w->lock);
}
