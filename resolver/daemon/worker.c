/*
 * Workers: one thread and libuv loop each, with its own listeners,
 * upstream client, query context and cache share. The main loop talks to
 * a worker only through its mailbox (a mutex held for a few pointer and
 * flag updates, never while a query is handled) and uv_async_send: a new
 * snapshot to install, a request for its counters, or stop.
 */
#include "daemon_int.h"

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
		w->stats = copy;
		w->stats_ready = true;
		uv_mutex_unlock(&w->lock);
		uv_async_send(&w->d->stats_async);
	}
	if (stop && !w->stopping) {
		w->stopping = true;
		if (w->fwd != NULL)
			vd_fwd_close(w->fwd, worker_fwd_closed, w);
		else if (w->net != NULL)
			vd_net_close(w->net, worker_net_closed, w);
		else
			uv_close((uv_handle_t *)&w->wake, worker_closed_wake);
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
	w->fwd = vd_fwd_new(&w->loop);
	w->qctx = w->fwd ? vd_query_ctx_new(w->fwd) : NULL;
	w->net = w->qctx ? vd_net_new(&w->loop, w->qctx) : NULL;
	if (w->net == NULL)
		goto nomem;
	vd_query_set_cache_share(w->qctx, (unsigned)d->nworkers);
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
	uv_loop_close(&w->loop);
	uv_mutex_destroy(&w->lock);
}
