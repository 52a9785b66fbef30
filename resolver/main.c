/*
 * vpcdns: the process. Parses the command line, loads the first snapshot
 * (any error is fatal at startup), and starts the workers: each is a
 * thread with its own libuv loop, listeners (SO_REUSEPORT when there are
 * several), upstream sockets and cache. The main loop only handles
 * signals: SIGHUP rebuilds the configuration on the thread pool and hands
 * the new snapshot to every worker (a mailbox and uv_async_send), a failed
 * build is logged and the old snapshot keeps serving; SIGUSR1 asks every
 * worker to log its counters; SIGTERM and SIGINT stop the workers and exit.
 * At start and after each reload the soft limit on open files is raised
 * to what the configuration can hold open, up to the hard limit.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/net.h"
#include "vpcdns/query.h"
#include "vpcdns/util.h"

typedef struct daemon daemon_t;

/* One worker. Everything but the mailbox belongs to its thread once the
 * thread runs; the mailbox is what other threads may touch, under lock. */
typedef struct worker {
	int index;
	uv_loop_t loop;
	uv_thread_t thread;
	bool ready;   /* loop, lock and wake initialised */
	bool started; /* thread running */
	uv_async_t wake;
	vd_fwd_t *fwd;
	vd_query_ctx_t *qctx;
	vd_net_t *net;
	vd_snap_t *snap; /* installed; the worker's own reference */
	bool stopping;
	/* mailbox */
	uv_mutex_t lock;
	vd_snap_t *next_snap; /* to install (holds a reference) */
	bool want_stats, want_stop;
} worker_t;

typedef struct reload_job {
	uv_work_t work;
	daemon_t *d;
	vd_snap_t *snap; /* the new snapshot, on success */
	vd_errlist_t errs;
	int rc;
	uint64_t started_ms;
} reload_job_t;

struct daemon {
	uv_loop_t *loop; /* the main loop: signals and reloads */
	const char *conf_path;
	vd_snap_t *snap; /* current; the daemon holds one reference */
	uint64_t generation;
	worker_t *workers;
	size_t nworkers;
	/* What the sockets were opened with: a reload is compared with this
	 * (what runs), not with the previous file, to say what needs a
	 * restart. Own copy; listen points into running_listen. */
	vd_server_conf_t running;
	struct sockaddr_storage *running_listen;
	uv_signal_t sighup, sigterm, sigint, sigusr1;
	bool reloading, reload_again, stopping;
	reload_job_t job;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vpcdns -c FILE [-v]\n"
		"       vpcdns --check -c FILE\n"
		"\n"
		"  -c, --config FILE  configuration file (YAML)\n"
		"  -k, --check        load and validate the configuration and every\n"
		"                     zone as a reload would, print errors, and exit\n"
		"  -v, --verbose      log at debug level\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         print this help and exit\n"
		"\n"
		"Signals: SIGHUP reloads, SIGUSR1 logs statistics, SIGTERM and SIGINT "
		"stop.\n");
}

/* -v: debug logging whatever server.log_level says. */
static bool verbose;

static void apply_log_level(const vd_snap_t *snap)
{
	vd_log_set_level(verbose ? VD_LOG_DEBUG : snap->server.log_level);
}

/* At debug level, what a snapshot holds: one line per view and group, so
 * an operator can see what a reload changed without reading every file. */
static void log_snapshot(const vd_snap_t *snap)
{
	if (vd_log_get_level() < VD_LOG_DEBUG)
		return;
	for (size_t i = 0; i < snap->ngroups; i++) {
		const vd_group_t *g = &snap->groups[i];
		for (size_t j = 0; j < g->nservers; j++)
			vd_log(VD_LOG_DEBUG,
			       "generation %llu: upstream group %s server %s",
			       (unsigned long long)snap->generation, g->name,
			       g->servers[j].text);
	}
	for (size_t i = 0; i < snap->nviews; i++) {
		const vd_view_t *v = snap->views[i];
		vd_log(VD_LOG_DEBUG,
		       "generation %llu: view %s: %zu client prefixes, "
		       "%zu zones, %zu included views, %zu availability zones%s",
		       (unsigned long long)snap->generation, vd_view_name(v),
		       vd_view_nclients(v), vd_view_nzones(v), vd_view_nincludes(v),
		       vd_view_naz(v), vd_view_explain(v) ? ", explain on" : "");
	}
}

static void print_errors(const vd_errlist_t *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		vd_log(VD_LOG_ERR, "%s", errs->msgs[i]);
}

/* ---- statistics -------------------------------------------------------- */

/* SIGUSR1: one log line per component of each worker with its counters,
 * so operators (and tests) can see cache use, upstream health and drops.
 * Runs on the worker's own thread. */
static void log_stats(const worker_t *w)
{
	const vd_query_stats_t *q = vd_query_stats(w->qctx);
	const vd_cache_stats_t *c = vd_query_cache_stats(w->qctx);
	const vd_fwd_stats_t *f = vd_fwd_stats(w->fwd);
	const vd_net_stats_t *n = vd_net_stats(w->net);

	vd_log(VD_LOG_INFO,
	       "stats: generation=%llu queries=%llu udp=%llu tcp=%llu "
	       "local=%llu forwarded=%llu cache_hits=%llu stale=%llu coalesced=%llu "
	       "upstream_fetches=%llu refreshes=%llu refused=%llu formerr=%llu "
	       "notimp=%llu servfail=%llu dropped=%llu truncated=%llu pending=%zu "
	       "rejected_pending=%llu pooled=%zu worker=%d",
	       (unsigned long long)w->snap->generation, (unsigned long long)q->queries,
	       (unsigned long long)q->udp, (unsigned long long)q->tcp,
	       (unsigned long long)q->local, (unsigned long long)q->forwarded,
	       (unsigned long long)q->cache_hits, (unsigned long long)q->stale,
	       (unsigned long long)q->coalesced,
	       (unsigned long long)q->upstream_fetches,
	       (unsigned long long)q->refreshes, (unsigned long long)q->refused,
	       (unsigned long long)q->formerr, (unsigned long long)q->notimp,
	       (unsigned long long)q->servfail, (unsigned long long)q->dropped,
	       (unsigned long long)q->truncated, vd_query_pending(w->qctx),
	       (unsigned long long)q->rejected_pending, vd_query_pooled(w->qctx),
	       w->index);
	if (c != NULL)
		vd_log(VD_LOG_INFO,
		       "stats: cache entries=%llu bytes=%llu max_bytes=%llu "
		       "hits=%llu misses=%llu stale_hits=%llu inserts=%llu "
		       "evictions=%llu "
		       "expired=%llu not_cacheable=%llu worker=%d",
		       (unsigned long long)c->entries, (unsigned long long)c->bytes,
		       (unsigned long long)c->max_bytes, (unsigned long long)c->hits,
		       (unsigned long long)c->misses, (unsigned long long)c->stale_hits,
		       (unsigned long long)c->inserts, (unsigned long long)c->evictions,
		       (unsigned long long)c->expired,
		       (unsigned long long)c->not_cacheable, w->index);
	vd_log(VD_LOG_INFO,
	       "stats: upstream queries=%llu udp=%llu tcp=%llu tls=%llu "
	       "answered=%llu dropped_mismatch=%llu dropped_malformed=%llu "
	       "timeouts=%llu net_errors=%llu tc_retries=%llu failovers=%llu "
	       "failed=%llu "
	       "rejected_inflight=%llu deadlines=%llu conn_opened=%llu "
	       "conn_reused=%llu "
	       "tls_failures=%llu tls_resumed=%llu socket_failures=%llu scrubbed=%llu "
	       "worker=%d",
	       (unsigned long long)f->queries, (unsigned long long)f->sent_udp,
	       (unsigned long long)f->sent_tcp, (unsigned long long)f->sent_tls,
	       (unsigned long long)f->answered, (unsigned long long)f->dropped_mismatch,
	       (unsigned long long)f->dropped_malformed,
	       (unsigned long long)f->timeouts, (unsigned long long)f->net_errors,
	       (unsigned long long)f->tc_retries, (unsigned long long)f->failovers,
	       (unsigned long long)f->failed, (unsigned long long)f->rejected_inflight,
	       (unsigned long long)f->deadlines, (unsigned long long)f->conn_opened,
	       (unsigned long long)f->conn_reused, (unsigned long long)f->tls_failures,
	       (unsigned long long)f->tls_resumed,
	       (unsigned long long)f->socket_failures, (unsigned long long)f->scrubbed,
	       w->index);
	vd_log(VD_LOG_INFO,
	       "stats: net udp_recv=%llu udp_sent=%llu udp_send_errors=%llu "
	       "udp_queued=%llu udp_queue_dropped=%llu tcp_accepted=%llu "
	       "tcp_rejected=%llu "
	       "tcp_idle_closed=%llu tcp_queries=%llu "
	       "tcp_open=%llu tcp_evicted=%llu tcp_client_rejected=%llu "
	       "tcp_read_timeouts=%llu tcp_write_timeouts=%llu tcp_paused=%llu "
	       "worker=%d",
	       (unsigned long long)n->udp_recv, (unsigned long long)n->udp_sent,
	       (unsigned long long)n->udp_send_errors,
	       (unsigned long long)n->udp_queued,
	       (unsigned long long)n->udp_queue_dropped,
	       (unsigned long long)n->tcp_accepted, (unsigned long long)n->tcp_rejected,
	       (unsigned long long)n->tcp_idle_closed,
	       (unsigned long long)n->tcp_queries, (unsigned long long)n->tcp_open,
	       (unsigned long long)n->tcp_evicted,
	       (unsigned long long)n->tcp_client_rejected,
	       (unsigned long long)n->tcp_read_timeouts,
	       (unsigned long long)n->tcp_write_timeouts,
	       (unsigned long long)n->tcp_paused, w->index);
}

/* ---- file descriptors -------------------------------------------------- */

/* Each worker's loop, wake-up and thread-pool descriptors, and a few for
 * TCP/TLS upstream connections; then the process's own (stdio, the main
 * loop, signals, files read on reload). */
#define FD_WORKER_MARGIN 32
#define FD_PROCESS_MARGIN 64

/* Descriptors the configuration can hold open at once: per worker, every
 * TCP client and every upstream query (a UDP socket each) at their
 * bounds, and a UDP and a TCP listener per address. */
static rlim_t fds_needed(const vd_snap_t *snap, size_t nworkers)
{
	const vd_server_conf_t *s = &snap->server;
	rlim_t per = (rlim_t)s->tcp_max_connections + s->upstream_max_inflight +
		     2 * (rlim_t)s->nlisten + FD_WORKER_MARGIN;
	return per * nworkers + FD_PROCESS_MARGIN;
}

/* Raises the soft RLIMIT_NOFILE to what snap needs, up to the hard limit,
 * and warns, naming the keys, when the hard limit is too low. */
static void fit_fd_limit(const vd_snap_t *snap, size_t nworkers)
{
	rlim_t need = fds_needed(snap, nworkers);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max
									 : need;
	if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		vd_log(VD_LOG_INFO, "open files limit raised from %llu to %llu",
		       (unsigned long long)was, (unsigned long long)rl.rlim_cur);
	else
		rl.rlim_cur = was;
	if (rl.rlim_cur >= need)
		return;
	vd_log(VD_LOG_WARN,
	       "open files limit is %llu (hard limit %llu) but the "
	       "configuration may need %llu: server.tcp_max_connections (%u) + "
	       "server.upstream_max_inflight (%u) per worker (server.workers: %zu), "
	       "plus listeners and a margin; raise the hard limit (ulimit -Hn, "
	       "LimitNOFILE=) or lower those keys, else upstream queries fail "
	       "when descriptors run out",
	       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	       (unsigned long long)need, snap->server.tcp_max_connections,
	       snap->server.upstream_max_inflight, nworkers);
}

/* ---- workers ----------------------------------------------------------- */

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
	if (stats && !w->stopping)
		log_stats(w);
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

static void worker_post(worker_t *w, vd_snap_t *snap, bool stats, bool stop)
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

static void worker_run(void *arg)
{
	worker_t *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Builds a worker on the main thread: its loop, upstream client, query
 * context with its share of the cache, listeners. Returns 0 or logs why. */
static int worker_init(daemon_t *d, worker_t *w, int index)
{
	const vd_server_conf_t *sc = &d->snap->server;
	w->index = index;
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

static void worker_deinit(worker_t *w)
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

/* ---- reload ------------------------------------------------------------ */

static void reload_work(uv_work_t *work)
{
	reload_job_t *job = work->data;
	job->rc = vd_conf_load(job->d->conf_path, &job->snap, &job->errs);
}

static void reload_start(daemon_t *d);

static void install(daemon_t *d, vd_snap_t *snap, uint64_t ms)
{
	vd_snap_t *old = d->snap;
	snap->generation = ++d->generation;
	if (!vd_conf_same_listen(&d->running, &snap->server))
		vd_log(VD_LOG_WARN, "reload: listen addresses differ from the running "
				    "ones; restart vpcdns to apply them (still serving "
				    "the old ones)");
	if (snap->server.workers != d->nworkers)
		vd_log(VD_LOG_WARN,
		       "reload: server.workers changed; restart vpcdns "
		       "to apply it (still running %zu)",
		       d->nworkers);
	apply_log_level(snap);
	log_snapshot(snap);
	fit_fd_limit(snap, d->nworkers);
	d->snap = snap;
	for (size_t i = 0; i < d->nworkers; i++)
		worker_post(&d->workers[i], snap, false, false);
	vd_snap_unref(old);
	vd_log(VD_LOG_INFO, "reload: generation %llu loaded from %s in %llu ms",
	       (unsigned long long)d->generation, d->conf_path, (unsigned long long)ms);
}

static void reload_done(uv_work_t *work, int status)
{
	reload_job_t *job = work->data;
	daemon_t *d = job->d;
	uint64_t ms = vd_now_ms() - job->started_ms;

	d->reloading = false;
	if (d->stopping) {
		vd_snap_unref(job->snap);
	} else if (status == 0 && job->rc == 0) {
		install(d, job->snap, ms);
	} else {
		print_errors(&job->errs);
		vd_snap_unref(job->snap);
		vd_log(VD_LOG_ERR,
		       "reload: failed after %llu ms (%zu errors); "
		       "generation %llu keeps serving",
		       (unsigned long long)ms, job->errs.count,
		       (unsigned long long)d->generation);
	}
	job->snap = NULL;
	vd_errlist_deinit(&job->errs);
	if (d->reload_again && !d->stopping) {
		d->reload_again = false;
		reload_start(d);
	}
}

static void reload_start(daemon_t *d)
{
	if (d->reloading) {
		d->reload_again = true; /* coalesce: one more after this one */
		vd_log(VD_LOG_DEBUG, "reload: already running; one more will follow");
		return;
	}
	reload_job_t *job = &d->job;
	memset(job, 0, sizeof(*job));
	job->work.data = job;
	job->d = d;
	job->started_ms = vd_now_ms();
	vd_errlist_init(&job->errs);
	d->reloading = true;
	vd_log(VD_LOG_INFO, "reload: reading %s", d->conf_path);
	if (uv_queue_work(d->loop, &job->work, reload_work, reload_done) != 0) {
		d->reloading = false;
		vd_errlist_deinit(&job->errs);
		vd_log(VD_LOG_ERR, "reload: cannot start");
	}
}

/* ---- signals ----------------------------------------------------------- */

static void on_sighup(uv_signal_t *s, int signum)
{
	(void)signum;
	reload_start(s->data);
}

static void on_sigusr1(uv_signal_t *s, int signum)
{
	daemon_t *d = s->data;
	(void)signum;
	for (size_t i = 0; i < d->nworkers; i++)
		worker_post(&d->workers[i], NULL, true, false);
}

static void on_stop(uv_signal_t *s, int signum)
{
	daemon_t *d = s->data;
	if (d->stopping)
		return;
	d->stopping = true;
	vd_log(VD_LOG_INFO, "stopping on signal %d", signum);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigusr1, NULL);
	for (size_t i = 0; i < d->nworkers; i++)
		worker_post(&d->workers[i], NULL, false, true);
}

/* ---- startup ----------------------------------------------------------- */

static int check_only(const char *path)
{
	vd_errlist_t errs;
	vd_snap_t *snap = NULL;
	vd_errlist_init(&errs);
	int rc = vd_conf_load(path, &snap, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	if (rc == 0) {
		size_t zones = 0;
		for (size_t i = 0; i < snap->nviews; i++)
			zones += vd_view_nzones(snap->views[i]);
		printf("%s: ok (%zu views, %zu upstream groups, %zu zone uses)\n", path,
		       snap->nviews, snap->ngroups, zones);
	}
	vd_snap_unref(snap);
	vd_errlist_deinit(&errs);
	return rc == 0 ? 0 : 1;
}

static void signal_watch(daemon_t *d, uv_signal_t *s, uv_signal_cb cb, int signum)
{
	uv_signal_init(d->loop, s);
	s->data = d;
	uv_signal_start(s, cb, signum);
}

static int start(daemon_t *d)
{
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	int rc = vd_conf_load(d->conf_path, &d->snap, &errs);
	print_errors(&errs);
	vd_errlist_deinit(&errs);
	if (rc != 0) {
		vd_log(VD_LOG_ERR, "cannot load %s: %s", d->conf_path, vd_strerror(rc));
		return 1;
	}
	d->snap->generation = d->generation = 1;
	apply_log_level(d->snap);
	log_snapshot(d->snap);

	d->loop = uv_default_loop();
	d->nworkers = d->snap->server.workers ? d->snap->server.workers : 1;
	d->running.nlisten = d->snap->server.nlisten;
	d->running_listen = calloc(d->running.nlisten + 1, sizeof(*d->running_listen));
	if (d->running_listen == NULL)
		return 1;
	memcpy(d->running_listen, d->snap->server.listen,
	       d->running.nlisten * sizeof(*d->running_listen));
	d->running.listen = d->running_listen;
	fit_fd_limit(d->snap, d->nworkers);
	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	if (d->workers == NULL)
		return 1;
	for (size_t i = 0; i < d->nworkers; i++)
		if (worker_init(d, &d->workers[i], (int)i) != 0)
			return 1;
	for (size_t i = 0; i < d->nworkers; i++) {
		if (uv_thread_create(&d->workers[i].thread, worker_run,
				     &d->workers[i]) != 0) {
			vd_log(VD_LOG_ERR, "cannot start worker %zu", i);
			return 1;
		}
		d->workers[i].started = true;
	}
	signal_watch(d, &d->sighup, on_sighup, SIGHUP);
	signal_watch(d, &d->sigterm, on_stop, SIGTERM);
	signal_watch(d, &d->sigint, on_stop, SIGINT);
	signal_watch(d, &d->sigusr1, on_sigusr1, SIGUSR1);
	vd_log(VD_LOG_INFO, "vpcdns %s serving generation 1: %zu views, %zu workers",
	       VD_VERSION, d->snap->nviews, d->nworkers);
	return 0;
}

/* After a failed start: stop every worker, running or not (one that never
 * ran is closed on this thread), so that nothing is left open. */
static void abandon(daemon_t *d)
{
	for (size_t i = 0; d->workers && i < d->nworkers; i++) {
		worker_t *w = &d->workers[i];
		if (!w->ready)
			continue;
		worker_post(w, NULL, false, true);
		if (!w->started)
			uv_run(&w->loop, UV_RUN_DEFAULT);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	daemon_t d;
	bool check = false;
	int c;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, "c:kvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'v':
			verbose = true;
			vd_log_set_level(VD_LOG_DEBUG);
			break;
		case 'V':
			printf("vpcdns %s\n", VD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (d.conf_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_only(d.conf_path);

	signal(SIGPIPE, SIG_IGN);
	int rc = start(&d);
	if (rc != 0)
		abandon(&d);
	else
		uv_run(d.loop, UV_RUN_DEFAULT);

	for (size_t i = 0; d.workers && i < d.nworkers; i++)
		worker_deinit(&d.workers[i]);
	free(d.workers);
	free(d.running_listen);
	vd_snap_unref(d.snap);
	if (d.loop != NULL)
		uv_loop_close(d.loop);
	if (rc == 0)
		vd_log(VD_LOG_INFO, "stopped");
	return rc;
}
