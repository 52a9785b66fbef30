/*
 * SIGUSR1 statistics: one log line per component of each worker with its
 * counters, so operators (and tests) can see cache use, upstream health
 * and drops. Written on the main loop from copies each worker made on its
 * own thread.
 */
#include "daemon_int.h"

#include <stdlib.h>

/* One worker's lines. */
static void log_worker(const vd_worker_stats_t *w)
{
	const vd_query_stats_t *q = &w->query;
	const vd_cache_stats_t *c = w->has_cache ? &w->cache : NULL;
	const vd_fwd_stats_t *f = &w->fwd;
	const vd_net_stats_t *n = &w->net;

	vd_log(VD_LOG_INFO,
	       "stats: generation=%llu queries=%llu udp=%llu tcp=%llu "
	       "local=%llu forwarded=%llu cache_hits=%llu stale=%llu coalesced=%llu "
	       "upstream_fetches=%llu refreshes=%llu refused=%llu formerr=%llu "
	       "notimp=%llu servfail=%llu dropped=%llu truncated=%llu pending=%zu "
	       "rejected_pending=%llu pooled=%zu worker=%d",
	       (unsigned long long)w->generation, (unsigned long long)q->queries,
	       (unsigned long long)q->udp, (unsigned long long)q->tcp,
	       (unsigned long long)q->local, (unsigned long long)q->forwarded,
	       (unsigned long long)q->cache_hits, (unsigned long long)q->stale,
	       (unsigned long long)q->coalesced,
	       (unsigned long long)q->upstream_fetches,
	       (unsigned long long)q->refreshes, (unsigned long long)q->refused,
	       (unsigned long long)q->formerr, (unsigned long long)q->notimp,
	       (unsigned long long)q->servfail, (unsigned long long)q->dropped,
	       (unsigned long long)q->truncated, w->pending,
	       (unsigned long long)q->rejected_pending, w->pooled, w->worker);
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
		       (unsigned long long)c->not_cacheable, w->worker);
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
	       w->worker);
	vd_log(VD_LOG_INFO,
	       "stats: firewall allow=%llu alert=%llu block=%llu worker=%d",
	       (unsigned long long)q->fw_allow, (unsigned long long)q->fw_alert,
	       (unsigned long long)q->fw_block, w->worker);
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
	       (unsigned long long)n->tcp_paused, w->worker);
}

void vd_daemon_stats_log_qlog(const vd_qlog_t *q)
{
	uint64_t written, dropped;

	if (q == NULL)
		return;
	vd_qlog_stats(q, &written, &dropped);
	vd_log(VD_LOG_INFO, "stats: qlog written=%llu dropped=%llu",
	       (unsigned long long)written, (unsigned long long)dropped);
}

/* The rate limiter's and the cookies' line. */
static void log_guard(const vd_worker_stats_t *w)
{
	const vd_query_stats_t *q = &w->query;

	vd_log(VD_LOG_INFO,
	       "stats: ratelimit limited=%llu slipped=%llu badcookie=%llu "
	       "cookies=%llu cookies_valid=%llu slots=%llu evictions=%llu worker=%d",
	       (unsigned long long)q->ratelimited, (unsigned long long)q->slipped,
	       (unsigned long long)q->badcookie, (unsigned long long)q->cookies,
	       (unsigned long long)q->cookies_valid, (unsigned long long)w->rl.slots,
	       (unsigned long long)w->rl.evictions, w->worker);
}

void vd_daemon_stats_log(const vd_worker_stats_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (w[i].valid) {
			log_guard(&w[i]);
			log_worker(&w[i]);
		} else
			vd_log(VD_LOG_WARN, "stats: worker %d did not answer in time",
			       w[i].worker);
	}
}

void vd_daemon_stats_release(vd_worker_stats_t *s)
{
	vd_query_metrics_deinit(&s->metrics);
	free(s->upstreams);
	s->upstreams = NULL;
	s->nupstreams = 0;
}
