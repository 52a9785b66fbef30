/*
 * vpcdns: the process. Parses the command line, loads the first snapshot
 * (any error is fatal at startup), opens the listeners, and runs one libuv
 * loop. SIGHUP rebuilds the configuration on the thread pool and swaps the
 * new snapshot in on the loop; a failed build is logged and the old
 * snapshot keeps serving. SIGTERM and SIGINT close everything and exit.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/net.h"
#include "vpcdns/query.h"
#include "vpcdns/util.h"

typedef struct reload_job {
	uv_work_t work;
	vd_snap_t *snap;             /* the new snapshot, on success */
	vd_errlist_t errs;
	int rc;
	uint64_t started_ms;
} reload_job_t;

typedef struct daemon {
	uv_loop_t *loop;
	const char *conf_path;
	vd_snap_t *snap;             /* current; the daemon holds one reference */
	uint64_t generation;
	vd_fwd_t *fwd;
	vd_query_ctx_t *qctx;
	vd_net_t *net;
	uv_signal_t sighup, sigterm, sigint, sigusr1;
	bool reloading, reload_again, stopping;
	reload_job_t job;
} daemon_t;

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
		"Signals: SIGHUP reloads, SIGUSR1 logs statistics, SIGTERM and SIGINT stop.\n");
}

static void print_errors(const vd_errlist_t *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		vd_log(VD_LOG_ERR, "%s", errs->msgs[i]);
}

/* ---- reload ------------------------------------------------------------ */

static void reload_work(uv_work_t *w)
{
	reload_job_t *job = w->data;
	daemon_t *d = (daemon_t *)((char *)job - offsetof(daemon_t, job));
	job->rc = vd_conf_load(d->conf_path, &job->snap, &job->errs);
}

static void reload_start(daemon_t *d);

static void reload_done(uv_work_t *w, int status)
{
	reload_job_t *job = w->data;
	daemon_t *d = (daemon_t *)((char *)job - offsetof(daemon_t, job));
	uint64_t ms = vd_now_ms() - job->started_ms;

	d->reloading = false;
	if (status == 0 && job->rc == 0 && !d->stopping) {
		vd_snap_t *old = d->snap;
		job->snap->generation = ++d->generation;
		if (!vd_snap_same_listen(old, job->snap))
			vd_log(VD_LOG_WARN, "reload: listen addresses changed; "
			       "restart vpcdns to apply them (still serving the old ones)");
		vd_log_set_level(job->snap->server.log_level);
		d->snap = job->snap;
		vd_net_set_snap(d->net, d->snap);
		vd_query_snap_changed(d->qctx, d->snap);
		vd_snap_unref(old);
		vd_log(VD_LOG_INFO, "reload: generation %llu loaded from %s in %llu ms",
		       (unsigned long long)d->generation, d->conf_path,
		       (unsigned long long)ms);
	} else {
		print_errors(&job->errs);
		vd_snap_unref(job->snap);
		vd_log(VD_LOG_ERR, "reload: failed after %llu ms (%zu errors); "
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
		d->reload_again = true;   /* coalesce: one more after this one */
		return;
	}
	reload_job_t *job = &d->job;
	memset(job, 0, sizeof(*job));
	job->work.data = job;
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

static void on_sighup(uv_signal_t *s, int signum)
{
	(void)signum;
	reload_start(s->data);
}

/* ---- statistics -------------------------------------------------------- */

/* SIGUSR1: one log line per component with its counters, so operators
 * (and tests) can see cache use, upstream health and drops. */
static void on_sigusr1(uv_signal_t *s, int signum)
{
	daemon_t *d = s->data;
	const vd_query_stats_t *q = vd_query_stats(d->qctx);
	const vd_cache_stats_t *c = vd_query_cache_stats(d->qctx);
	const vd_fwd_stats_t *f = vd_fwd_stats(d->fwd);
	const vd_net_stats_t *n = vd_net_stats(d->net);
	(void)signum;

	vd_log(VD_LOG_INFO, "stats: generation=%llu queries=%llu udp=%llu tcp=%llu "
	       "local=%llu forwarded=%llu cache_hits=%llu stale=%llu coalesced=%llu "
	       "upstream_fetches=%llu refreshes=%llu refused=%llu formerr=%llu "
	       "notimp=%llu servfail=%llu dropped=%llu truncated=%llu pending=%zu",
	       (unsigned long long)d->generation, (unsigned long long)q->queries,
	       (unsigned long long)q->udp, (unsigned long long)q->tcp,
	       (unsigned long long)q->local, (unsigned long long)q->forwarded,
	       (unsigned long long)q->cache_hits, (unsigned long long)q->stale,
	       (unsigned long long)q->coalesced, (unsigned long long)q->upstream_fetches,
	       (unsigned long long)q->refreshes, (unsigned long long)q->refused,
	       (unsigned long long)q->formerr, (unsigned long long)q->notimp,
	       (unsigned long long)q->servfail, (unsigned long long)q->dropped,
	       (unsigned long long)q->truncated, vd_query_pending(d->qctx));
	if (c != NULL)
		vd_log(VD_LOG_INFO, "stats: cache entries=%llu bytes=%llu max_bytes=%llu "
		       "hits=%llu misses=%llu stale_hits=%llu inserts=%llu evictions=%llu "
		       "expired=%llu not_cacheable=%llu",
		       (unsigned long long)c->entries, (unsigned long long)c->bytes,
		       (unsigned long long)c->max_bytes, (unsigned long long)c->hits,
		       (unsigned long long)c->misses, (unsigned long long)c->stale_hits,
		       (unsigned long long)c->inserts, (unsigned long long)c->evictions,
		       (unsigned long long)c->expired, (unsigned long long)c->not_cacheable);
	vd_log(VD_LOG_INFO, "stats: upstream queries=%llu udp=%llu tcp=%llu tls=%llu "
	       "answered=%llu dropped_mismatch=%llu dropped_malformed=%llu "
	       "timeouts=%llu net_errors=%llu tc_retries=%llu failovers=%llu failed=%llu "
	       "rejected_inflight=%llu deadlines=%llu conn_opened=%llu conn_reused=%llu "
	       "tls_failures=%llu tls_resumed=%llu",
	       (unsigned long long)f->queries, (unsigned long long)f->sent_udp,
	       (unsigned long long)f->sent_tcp, (unsigned long long)f->sent_tls,
	       (unsigned long long)f->answered, (unsigned long long)f->dropped_mismatch,
	       (unsigned long long)f->dropped_malformed, (unsigned long long)f->timeouts,
	       (unsigned long long)f->net_errors, (unsigned long long)f->tc_retries,
	       (unsigned long long)f->failovers, (unsigned long long)f->failed,
	       (unsigned long long)f->rejected_inflight, (unsigned long long)f->deadlines,
	       (unsigned long long)f->conn_opened, (unsigned long long)f->conn_reused,
	       (unsigned long long)f->tls_failures, (unsigned long long)f->tls_resumed);
	vd_log(VD_LOG_INFO, "stats: net udp_recv=%llu udp_sent=%llu udp_send_errors=%llu "
	       "tcp_accepted=%llu tcp_rejected=%llu tcp_idle_closed=%llu tcp_queries=%llu "
	       "tcp_open=%llu",
	       (unsigned long long)n->udp_recv, (unsigned long long)n->udp_sent,
	       (unsigned long long)n->udp_send_errors, (unsigned long long)n->tcp_accepted,
	       (unsigned long long)n->tcp_rejected, (unsigned long long)n->tcp_idle_closed,
	       (unsigned long long)n->tcp_queries, (unsigned long long)n->tcp_open);
}

/* ---- shutdown ---------------------------------------------------------- */

static void net_closed(void *arg)
{
	daemon_t *d = arg;
	d->net = NULL;
}

static void fwd_closed(void *arg)
{
	daemon_t *d = arg;
	d->fwd = NULL;
	/* Pending requests have all been answered or dropped: close sockets. */
	vd_net_close(d->net, net_closed, d);
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
	vd_fwd_close(d->fwd, fwd_closed, d);
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
			zones += snap->views[i].nzones;
		printf("%s: ok (%zu views, %zu upstream groups, %zu zone uses)\n",
		       path, snap->nviews, snap->ngroups, zones);
	}
	vd_snap_unref(snap);
	vd_errlist_deinit(&errs);
	return rc == 0 ? 0 : 1;
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
	vd_log_set_level(d->snap->server.log_level);

	d->loop = uv_default_loop();
	d->fwd = vd_fwd_new(d->loop);
	d->qctx = d->fwd ? vd_query_ctx_new(d->fwd) : NULL;
	d->net = d->qctx ? vd_net_new(d->loop, d->qctx) : NULL;
	if (d->net == NULL) {
		vd_log(VD_LOG_ERR, "out of memory");
		return 1;
	}
	vd_net_set_snap(d->net, d->snap);
	if (vd_query_snap_changed(d->qctx, d->snap) != 0) {
		vd_log(VD_LOG_ERR, "out of memory");
		return 1;
	}
	for (size_t i = 0; i < d->snap->server.nlisten; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&d->snap->server.listen[i];
		char text[64];
		rc = vd_net_listen(d->net, sa);
		vd_addr_fmt(sa, text, sizeof(text));
		if (rc != 0) {
			vd_log(VD_LOG_ERR, "cannot listen on %s: %s", text, uv_strerror(rc));
			return 1;
		}
		vd_log(VD_LOG_INFO, "listening on %s (UDP and TCP)", text);
	}
	uv_signal_init(d->loop, &d->sighup);
	uv_signal_init(d->loop, &d->sigterm);
	uv_signal_init(d->loop, &d->sigint);
	uv_signal_init(d->loop, &d->sigusr1);
	d->sighup.data = d->sigterm.data = d->sigint.data = d->sigusr1.data = d;
	uv_signal_start(&d->sighup, on_sighup, SIGHUP);
	uv_signal_start(&d->sigterm, on_stop, SIGTERM);
	uv_signal_start(&d->sigint, on_stop, SIGINT);
	uv_signal_start(&d->sigusr1, on_sigusr1, SIGUSR1);
	vd_log(VD_LOG_INFO, "vpcdns %s serving generation 1: %zu views", VD_VERSION,
	       d->snap->nviews);
	return 0;
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
		case 'c': d.conf_path = optarg; break;
		case 'k': check = true; break;
		case 'v': vd_log_set_level(VD_LOG_DEBUG); break;
		case 'V': printf("vpcdns %s\n", VD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (d.conf_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_only(d.conf_path);

	signal(SIGPIPE, SIG_IGN);
	if (start(&d) != 0)
		return 1;
	uv_run(d.loop, UV_RUN_DEFAULT);

	vd_query_ctx_free(d.qctx);
	vd_snap_unref(d.snap);
	uv_loop_close(d.loop);
	vd_log(VD_LOG_INFO, "stopped");
	return 0;
}
