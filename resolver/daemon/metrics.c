/*
 * The HTTP listener's side in the daemon: starting it before the first
 * load, the main loop's liveness tick, and the answer to a scrape. A
 * scrape (on an HTTP thread) wakes the main loop through http_async; the
 * main loop collects every worker's counters (each copied on its own
 * thread), sums them here and formats the Prometheus text, which goes
 * back to the HTTP thread with vd_http_put_metrics. Nothing here runs on
 * a worker, and no worker memory is read but the copies.
 */
#include "daemon_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the listener ------------------------------------------------------ */

/* HTTP thread, with the listener's lock held: only wake the main loop. */
static void want_metrics(void *arg, uint64_t seq)
{
	vd_daemon_t *d = arg;
	d->http_seq = seq;
	uv_async_send(&d->http_async);
}

static void on_http_stats(void *arg, const vd_worker_stats_t *w, size_t n)
{
	vd_daemon_t *d = arg;
	uint64_t seq = d->http_seq;
	char *text = NULL;
	size_t len = 0;

	if (vd_daemon_metrics_format(d, w, n, &text, &len) == 0)
		vd_http_put_metrics(d->http, seq, text, len);
	free(text);
}

static void on_http_async(uv_async_t *a)
{
	vd_daemon_t *d = a->data;
	if (d->workers != NULL && !d->stopping)
		vd_daemon_collect_stats(d, on_http_stats, d);
}

static void on_http_tick(uv_timer_t *t)
{
	vd_daemon_t *d = t->data;
	vd_http_tick(d->http, 0);
}

int vd_daemon_http_start(vd_daemon_t *d)
{
	vd_errlist_t errs;
	vd_http_ops_t ops = { .want_metrics = want_metrics, .arg = d };
	int rc;

	vd_errlist_init(&errs);
	rc = vd_conf_read_http(d->conf_path, &d->running_http, &errs);
	vd_errlist_deinit(&errs);
	/* Errors are reported by the full load that follows. */
	if (rc != 0 || d->running_http.nlisten == 0)
		return 0;
	uv_async_init(d->loop, &d->http_async, on_http_async);
	d->http_async.data = d;
	uv_timer_init(d->loop, &d->http_tick);
	d->http_tick.data = d;
	d->http_handles = true;
	/* 256 workers at most (server.workers), plus the main loop. */
	rc = vd_http_new(&d->running_http, 257, &ops, &d->http);
	if (rc == 0)
		vd_http_set_state(d->http, VD_HTTP_LOADING, d->conf_path);
	return rc == 0 ? 0 : -1;
}

void vd_daemon_http_ready(vd_daemon_t *d)
{
	char why[64];

	if (d->http == NULL)
		return;
	vd_http_set_loops(d->http, d->nworkers + 1);
	uv_timer_start(&d->http_tick, on_http_tick, 0, VD_DAEMON_TICK_MS);
	snprintf(why, sizeof(why), "generation %llu",
		 (unsigned long long)d->generation);
	vd_http_set_state(d->http, VD_HTTP_READY, why);
}

void vd_daemon_http_stop(vd_daemon_t *d)
{
	if (!d->http_handles)
		return;
	d->http_handles = false;
	vd_http_set_state(d->http, VD_HTTP_STOPPING, "shutting down");
	vd_http_detach(d->http); /* no uv_async_send after this */
	uv_close((uv_handle_t *)&d->http_async, NULL);
	uv_close((uv_handle_t *)&d->http_tick, NULL);
}

/* ---- sums -------------------------------------------------------------- */

typedef struct sums {
	vd_query_stats_t q;
	vd_cache_stats_t c;
	vd_fwd_stats_t f;
	vd_net_stats_t n;
	uint64_t pending, tls_open;
	vd_query_metrics_t m; /* slots of the first worker, others added */
	vd_worker_upstream_t *up;
	size_t nup;
	size_t missing; /* workers that did not answer */
} sums_t;

#define ADD_FIELDS(dst, src, type)                               \
	do {                                                     \
		uint64_t *d_ = (uint64_t *)(dst);                \
		const uint64_t *s_ = (const uint64_t *)(src);    \
		for (size_t k_ = 0; k_ < sizeof(type) / 8; k_++) \
			d_[k_] += s_[k_];                        \
	} while (0)

static int find_slot(const vd_query_metrics_t *m, size_t hint, const char *name)
{
	if (hint < m->nslots && strcmp(m->names[hint], name) == 0)
		return (int)hint;
	for (size_t i = 0; i < m->nslots; i++)
		if (strcmp(m->names[i], name) == 0)
			return (int)i;
	return -1;
}

static void add_metrics(sums_t *s, const vd_query_metrics_t *m)
{
	for (size_t r = 0; r < VD_QM_ROUTES; r++) {
		for (size_t b = 0; b <= VD_QM_DUR_BUCKETS; b++)
			s->m.dur[r].buckets[b] += m->dur[r].buckets[b];
		s->m.dur[r].sum_us += m->dur[r].sum_us;
	}
	s->m.no_view += m->no_view;
	for (size_t i = 0; i < m->nslots; i++) {
		int k = find_slot(&s->m, i, m->names[i]);
		if (k < 0)
			continue; /* a view only this worker has seen: next scrape */
		ADD_FIELDS(&s->m.v[k], &m->v[i], vd_qm_view_t);
	}
}

static void add_upstreams(sums_t *s, const vd_worker_stats_t *w)
{
	for (size_t i = 0; i < w->nupstreams; i++) {
		const vd_worker_upstream_t *u = &w->upstreams[i];
		vd_worker_upstream_t *t = NULL;
		for (size_t k = 0; k < s->nup && !t; k++)
			if (strcmp(s->up[k].group, u->group) == 0 &&
			    strcmp(s->up[k].server, u->server) == 0)
				t = &s->up[k];
		if (t == NULL)
			continue;
		bool up = t->st.up && u->st.up;
		unsigned fails = t->st.fails > u->st.fails ? t->st.fails : u->st.fails;
		/* every field up to rtt_sum_ms is a counter */
		ADD_FIELDS(
			&t->st, &u->st, struct {
				uint64_t a[offsetof(vd_fwd_server_stats_t, up) / 8];
			});
		t->st.up = up;
		t->st.fails = fails;
	}
}

static int sum(const vd_worker_stats_t *w, size_t n, sums_t *s)
{
	const vd_worker_stats_t *first = NULL;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n && !first; i++)
		if (w[i].valid)
			first = &w[i];
	if (first == NULL)
		return 0;
	/* The first answering worker's slots and upstream rows are the
	 * frame; the others are added by name. */
	s->m.nslots = first->metrics.nslots;
	s->m.names = first->metrics.names; /* borrowed */
	s->m.v = calloc(s->m.nslots ? s->m.nslots : 1, sizeof(*s->m.v));
	s->up = calloc(first->nupstreams ? first->nupstreams : 1, sizeof(*s->up));
	if (s->m.v == NULL || s->up == NULL)
		return -1;
	s->nup = first->nupstreams;
	for (size_t i = 0; i < s->nup; i++) {
		s->up[i] = first->upstreams[i];
		memset(&s->up[i].st, 0, sizeof(s->up[i].st));
		s->up[i].st.up = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!w[i].valid) {
			s->missing++;
			continue;
		}
		ADD_FIELDS(&s->q, &w[i].query, vd_query_stats_t);
		if (w[i].has_cache)
			ADD_FIELDS(&s->c, &w[i].cache, vd_cache_stats_t);
		ADD_FIELDS(&s->f, &w[i].fwd, vd_fwd_stats_t);
		ADD_FIELDS(&s->n, &w[i].net, vd_net_stats_t);
		s->pending += w[i].pending;
		s->tls_open += w[i].tls_open;
		add_metrics(s, &w[i].metrics);
		add_upstreams(s, &w[i]);
	}
	return 0;
}

/* ---- text -------------------------------------------------------------- */

static void family(FILE *o, const char *name, const char *type, const char *help)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *o, const char *name, const char *type, const char *help, double v)
{
	family(o, name, type, help);
	fprintf(o, "%s %.17g\n", name, v);
}

/* A label value with \, " and newline escaped. */
static void label(FILE *o, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', o);
		if (*s == '\n') {
			fputs("\\n", o);
			continue;
		}
		fputc(*s, o);
	}
}

static const char *slot_name(const vd_query_metrics_t *m, size_t i)
{
	(void)m;
	return i == 0 ? "(none)" : m->names[i];
}

static void requests(FILE *o, const sums_t *s, bool per_view)
{
	static const char *const tr[] = { "udp", "tcp" };
	static const char *const fam[] = { "ipv4", "ipv6" };
	const vd_query_metrics_t *m = &s->m;

	family(o, "vpcdns_requests_total", "counter",
	       "DNS requests received, by view, transport, address family and "
	       "query type.");
	for (size_t t = 0; t < VD_QM_TRANSPORTS; t++)
		for (size_t f = 0; f < VD_QM_FAMILIES; f++)
			for (size_t q = 0; q < VD_QM_QTYPES; q++) {
				uint64_t all = 0;
				for (size_t i = 0; i < m->nslots; i++) {
					uint64_t v = m->v[i].requests[t][f][q];
					all += v;
					if (!per_view || v == 0)
						continue;
					fputs("vpcdns_requests_total{view=\"", o);
					label(o, slot_name(m, i));
					fprintf(o,
						"\",transport=\"%s\",family=\"%s\","
						"qtype=\"%s\"} %llu\n",
						tr[t], fam[f], vd_qm_qtype_name(q),
						(unsigned long long)v);
				}
				if (!per_view && all > 0)
					fprintf(o,
						"vpcdns_requests_total{transport=\"%"
						"s\","
						"family=\"%s\",qtype=\"%s\"} %llu\n",
						tr[t], fam[f], vd_qm_qtype_name(q),
						(unsigned long long)all);
			}
	family(o, "vpcdns_responses_total", "counter",
	       "DNS responses sent, by view and rcode.");
	for (size_t r = 0; r < VD_QM_RCODES; r++) {
		uint64_t all = 0;
		for (size_t i = 0; i < m->nslots; i++) {
			uint64_t v = m->v[i].responses[r];
			all += v;
			if (!per_view || v == 0)
				continue;
			fputs("vpcdns_responses_total{view=\"", o);
			label(o, slot_name(m, i));
			fprintf(o, "\",rcode=\"%s\"} %llu\n", vd_qm_rcode_name(r),
				(unsigned long long)v);
		}
		if (!per_view && all > 0)
			fprintf(o, "vpcdns_responses_total{rcode=\"%s\"} %llu\n",
				vd_qm_rcode_name(r), (unsigned long long)all);
	}
}

static void hist_rows(FILE *o, const char *name, const char *labels,
		      const uint64_t *buckets, const uint32_t *bounds, size_t nb,
		      double scale, double sum)
{
	uint64_t cum = 0;
	for (size_t b = 0; b <= nb; b++) {
		cum += buckets[b];
		if (b < nb)
			fprintf(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
				bounds[b] * scale, (unsigned long long)cum);
		else
			fprintf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
				(unsigned long long)cum);
	}
	fprintf(o, "%s_sum{%s} %.9g\n", name, labels, sum);
	fprintf(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
}

static void durations(FILE *o, const sums_t *s)
{
	char labels[64];

	family(o, "vpcdns_request_duration_seconds", "histogram",
	       "Time from a request's arrival to its reply, by route (local data, "
	       "cache, upstream, stale answer).");
	for (size_t r = 0; r < VD_QM_ROUTES; r++) {
		snprintf(labels, sizeof(labels), "route=\"%s\"", vd_qm_route_name(r));
		hist_rows(o, "vpcdns_request_duration_seconds", labels,
			  s->m.dur[r].buckets, vd_qm_dur_bounds_us, VD_QM_DUR_BUCKETS,
			  1e-6, (double)s->m.dur[r].sum_us / 1e6);
	}
}

static void up_labels(char *buf, size_t len, const vd_worker_upstream_t *u)
{
	char *p = buf, *end = buf + len - 1;
	const char *parts[2] = { u->group, u->server };
	const char *keys[2] = { "group=\"", "\",server=\"" };

	for (int k = 0; k < 2; k++) {
		for (const char *c = keys[k]; *c && p < end; c++)
			*p++ = *c;
		for (const char *c = parts[k]; *c && p < end - 1; c++) {
			if (*c == '\\' || *c == '"')
				*p++ = '\\';
			*p++ = *c;
		}
	}
	if (p < end)
		*p++ = '"';
	*p = '\0';
}

static void upstreams(FILE *o, const sums_t *s)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "vpcdns_upstream_queries_total", "Queries sent to the server.",
		  offsetof(vd_fwd_server_stats_t, queries) },
		{ "vpcdns_upstream_answers_total", "Valid responses from the server.",
		  offsetof(vd_fwd_server_stats_t, answers) },
		{ "vpcdns_upstream_timeouts_total",
		  "Queries to the server that timed out.",
		  offsetof(vd_fwd_server_stats_t, timeouts) },
		{ "vpcdns_upstream_errors_total",
		  "Network and TLS errors talking to the server.",
		  offsetof(vd_fwd_server_stats_t, errors) },
		{ "vpcdns_upstream_malformed_total",
		  "Responses from the server that did not parse.",
		  offsetof(vd_fwd_server_stats_t, malformed) },
	};
	char lb[300];

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		family(o, c[k].name, "counter", c[k].help);
		for (size_t i = 0; i < s->nup; i++) {
			up_labels(lb, sizeof(lb), &s->up[i]);
			fprintf(o, "%s{%s} %llu\n", c[k].name, lb,
				(unsigned long long)*(
					const uint64_t *)((const char *)&s->up[i].st +
							  c[k].off));
		}
	}
	family(o, "vpcdns_upstream_up", "gauge",
	       "1 when the server is answering, 0 while it is backed off after "
	       "failures.");
	for (size_t i = 0; i < s->nup; i++) {
		up_labels(lb, sizeof(lb), &s->up[i]);
		fprintf(o, "vpcdns_upstream_up{%s} %d\n", lb, s->up[i].st.up ? 1 : 0);
	}
	family(o, "vpcdns_upstream_response_seconds", "histogram",
	       "Response time of the server's answers.");
	for (size_t i = 0; i < s->nup; i++) {
		up_labels(lb, sizeof(lb), &s->up[i]);
		hist_rows(o, "vpcdns_upstream_response_seconds", lb, s->up[i].st.rtt,
			  vd_fwd_rtt_bounds_ms, VD_FWD_RTT_BUCKETS, 1e-3,
			  (double)s->up[i].st.rtt_sum_ms / 1e3);
	}
}

static void cache(FILE *o, const sums_t *s)
{
	one(o, "vpcdns_cache_entries", "gauge", "Answers in the cache.",
	    (double)s->c.entries);
	one(o, "vpcdns_cache_bytes", "gauge", "Memory the cached answers use.",
	    (double)s->c.bytes);
	one(o, "vpcdns_cache_max_bytes", "gauge", "The cache's size limit.",
	    (double)s->c.max_bytes);
	one(o, "vpcdns_cache_hits_total", "counter",
	    "Cache lookups that found an answer.", (double)s->c.hits);
	one(o, "vpcdns_cache_misses_total", "counter",
	    "Cache lookups that found nothing.", (double)s->c.misses);
	one(o, "vpcdns_cache_stale_answers_total", "counter",
	    "Expired answers served because the upstreams failed (RFC 8767).",
	    (double)s->q.stale);
	one(o, "vpcdns_cache_prefetches_total", "counter",
	    "Background refreshes of popular or stale entries.",
	    (double)s->q.refreshes);
	one(o, "vpcdns_cache_evictions_total", "counter",
	    "Entries evicted to stay within the size limit.", (double)s->c.evictions);
}

static void process(FILE *o, const vd_daemon_status_t *st, const sums_t *s,
		    size_t nworkers)
{
	family(o, "vpcdns_build_info", "gauge", "The running version (always 1).");
	fprintf(o, "vpcdns_build_info{version=\"%s\"} 1\n", VD_VERSION);
	one(o, "vpcdns_workers", "gauge", "Worker loops.", (double)nworkers);
	one(o, "vpcdns_workers_not_answering", "gauge",
	    "Workers whose counters are missing from this scrape (they did not "
	    "answer within a second).",
	    (double)s->missing);
	one(o, "vpcdns_clients_refused_total", "counter",
	    "Requests refused because the client's address matches no view.",
	    (double)s->m.no_view);
	one(o, "vpcdns_fetches_inflight", "gauge",
	    "Client requests waiting on upstream answers.", (double)s->pending);
	one(o, "vpcdns_upstream_inflight", "gauge", "Upstream queries in flight.",
	    (double)(s->f.queries - s->f.answered - s->f.failed));
	family(o, "vpcdns_fetches_rejected_total", "counter",
	       "Requests answered SERVFAIL at once because a bound was reached "
	       "(reason: pending = server.max_pending or max_pending_per_fetch, "
	       "inflight = server.upstream_max_inflight).");
	fprintf(o, "vpcdns_fetches_rejected_total{reason=\"pending\"} %llu\n",
		(unsigned long long)s->q.rejected_pending);
	fprintf(o, "vpcdns_fetches_rejected_total{reason=\"inflight\"} %llu\n",
		(unsigned long long)s->f.rejected_inflight);
	one(o, "vpcdns_tcp_connections_open", "gauge", "Client TCP connections open.",
	    (double)s->n.tcp_open);
	one(o, "vpcdns_upstream_connections_open", "gauge",
	    "Upstream TCP and TLS connections open.", (double)s->tls_open);
	family(o, "vpcdns_reloads_total", "counter",
	       "Configuration reloads, by result.");
	fprintf(o, "vpcdns_reloads_total{result=\"success\"} %llu\n",
		(unsigned long long)(st->reloads - st->reload_failures));
	fprintf(o, "vpcdns_reloads_total{result=\"failure\"} %llu\n",
		(unsigned long long)st->reload_failures);
	one(o, "vpcdns_snapshots_retired_total", "counter",
	    "Replaced configuration snapshots freed on the thread pool (never "
	    "by a worker) once their last request ended.",
	    (double)st->snapshots_retired);
	one(o, "vpcdns_snapshots_retiring", "gauge",
	    "Replaced snapshots still held by a worker or a request in flight, "
	    "or being freed.",
	    (double)st->snapshots_retiring);
	one(o, "vpcdns_snapshot_retire_released_bytes_total", "counter",
	    "Resident memory given back to the system by freeing replaced "
	    "snapshots.",
	    (double)st->retired_bytes);
	one(o, "vpcdns_snapshot_retire_seconds_total", "counter",
	    "Time spent freeing replaced snapshots, off the query path.",
	    (double)st->retired_ms / 1e3);
	one(o, "vpcdns_config_generation", "gauge",
	    "The configuration generation serving (1 at start).",
	    (double)st->generation);
	one(o, "vpcdns_config_last_success_timestamp_seconds", "gauge",
	    "When the serving generation was loaded (Unix time).",
	    (double)st->last_ok_at);
	one(o, "vpcdns_config_load_duration_seconds", "gauge",
	    "How long the last successful load took.", (double)st->last_ok_ms / 1e3);
	one(o, "vpcdns_views", "gauge", "Views in the serving configuration.",
	    (double)st->views);
	one(o, "vpcdns_zones", "gauge", "Distinct zones in the serving configuration.",
	    (double)st->zones);
	one(o, "vpcdns_zone_records", "gauge", "Records in those zones.",
	    (double)st->records);
	one(o, "vpcdns_zone_folders", "gauge",
	    "Zone folders the serving configuration names.", (double)st->folders);
	one(o, "vpcdns_zone_folders_unchanged", "gauge",
	    "Of those, folders the build of the serving generation took as they "
	    "were, the watch having seen no event in them.",
	    (double)st->folders_unchanged);
	one(o, "vpcdns_zone_folders_unwatched", "gauge",
	    "Zone folders the kernel would not watch (fs.inotify.max_user_watches "
	    "reached): listed and stat'ed on every reload.",
	    (double)st->folders_unwatched);
	/* The query log's families: its writer's counts (0 while no query log
	 * is configured). */
	one(o, "vpcdns_querylog_records_written_total", "counter",
	    "Query-log records written.", (double)st->qlog_written);
	one(o, "vpcdns_querylog_records_dropped_total", "counter",
	    "Query-log records dropped because a worker's ring was full.",
	    (double)st->qlog_dropped);
}

/* The loop check's verdict for each group of the serving generation. */
static void looping(FILE *o, const vd_daemon_t *d)
{
	family(o, "vpcdns_upstream_group_looping", "gauge",
	       "1 when the group sends our own queries back to us (a forwarding "
	       "loop found at start or at the last reload), else 0.");
	for (size_t i = 0; i < d->snap->ngroups; i++) {
		fprintf(o, "vpcdns_upstream_group_looping{group=\"");
		for (const char *c = d->snap->groups[i].name; *c; c++)
			fprintf(o, "%s%c", *c == '\\' || *c == '"' ? "\\" : "", *c);
		fprintf(o, "\"} %d\n",
			vd_query_loopcheck_looping(d->loopcheck, d->snap, i) ? 1 : 0);
	}
}

int vd_daemon_metrics_format(vd_daemon_t *d, const vd_worker_stats_t *w, size_t n,
			     char **out, size_t *len)
{
	vd_daemon_status_t st;
	sums_t s;
	FILE *o;
	int rc = -1;

	*out = NULL;
	*len = 0;
	vd_daemon_status(d, &st);
	if (sum(w, n, &s) != 0)
		goto done;
	if ((o = open_memstream(out, len)) == NULL)
		goto done;
	process(o, &st, &s, n);
	requests(o, &s, d->snap->http.per_view_metrics);
	durations(o, &s);
	cache(o, &s);
	upstreams(o, &s);
	looping(o, d);
	rc = fclose(o) == 0 ? 0 : -1;
done:
	free(s.m.v);
	free(s.up);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}
