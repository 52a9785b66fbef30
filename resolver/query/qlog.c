/*
 * The query path's side of query logs: one record per reply into the
 * worker's ring. Whether a request is logged is decided when it arrives
 * (debug level, sampling 1 in N), the filters (view, rcode, route) when
 * its reply is known, before anything is copied. The route is read off
 * the counters the pipeline keeps anyway (a cache hit moves cache_hits, a
 * refusal refused, ...), so the pipeline itself carries no second
 * bookkeeping. Texts the writer needs from the view (name, VPC, account,
 * region, the client's AZ) are copied into the record: the snapshot may
 * be gone when the writer reads it. No allocation, lock or system call
 * (the clocks are read through the vDSO).
 */
#include "query_int.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "vpcdns/util.h"

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void addr_of(vd_qlog_addr_t *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->port = ntohs(s->sin_port);
		memcpy(a->addr, &s->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->port = ntohs(s->sin6_port);
		memcpy(a->addr, &s->sin6_addr, 16);
	}
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Upstream responses: remember who answered; with dnstap's forwarder
 * messages on, one record per query and response. */
static void tap(void *arg, const struct sockaddr *server, bool tcp, bool response,
		const uint8_t *pkt, size_t len)
{
	vd_query_ctx_t *ctx = arg;
	vd_qlog_rec_t *rec;

	if (response)
		addr_of(&ctx->log_up, server);
	if (!(ctx->qlog_out & VD_QLOG_OUT_DNSTAP_FWD) ||
	    (rec = vd_qlog_reserve(ctx->qlog)) == NULL)
		return;
	rec->kind = VD_QLOG_K_FORWARDER;
	rec->route = VD_QLOG_ROUTE_FORWARD;
	rec->flags = VD_QLOG_F_LOG | (tcp ? VD_QLOG_F_TCP : 0) |
		     (response ? VD_QLOG_F_RESPONSE : 0);
	memset(&rec->client, 0, sizeof(rec->client));
	addr_of(&rec->upstream, server);
	rec->wall_us = clock_us(CLOCK_REALTIME);
	rec->duration_us = 0;
	rec->view[0] = rec->vpc_id[0] = rec->account_id[0] = '\0';
	rec->region[0] = rec->client_az[0] = '\0';
	if (len > sizeof(rec->wire)) {
		len = sizeof(rec->wire);
		rec->flags |= response ? VD_QLOG_F_RTRUNC : VD_QLOG_F_QTRUNC;
	}
	memcpy(rec->wire, pkt, len);
	rec->qlen = response ? 0 : (uint16_t)len;
	rec->rlen = response ? (uint16_t)len : 0;
	vd_qlog_commit(ctx->qlog);
}

void vd_query_set_qlog(vd_query_ctx_t *ctx, vd_qlog_ring_t *ring, unsigned outputs)
{
	ctx->qlog = ring;
	ctx->qlog_out = ring ? outputs : 0;
	vd_fwd_set_tap(ctx->fwd, ring ? tap : NULL, ctx);
}

/* Record flags for a request that just arrived; 0: not logged. */
static uint8_t pick(vd_query_ctx_t *ctx, const vd_snap_t *snap)
{
	uint8_t f = 0;

	if (vd_log_get_level() >= VD_LOG_DEBUG)
		f |= VD_QLOG_F_DEBUG;
	if (snap->qlog.on &&
	    (ctx->qlog_out & (VD_QLOG_OUT_JSON | VD_QLOG_OUT_DNSTAP)) &&
	    (snap->qlog.sample <= 1 || ++ctx->qlog_n % snap->qlog.sample == 0))
		f |= VD_QLOG_F_LOG;
	return f;
}

static unsigned route_of(const vd_query_stats_t *a, const vd_query_stats_t *b)
{
	if (b->stale != a->stale)
		return VD_QLOG_ROUTE_STALE;
	if (b->cache_hits != a->cache_hits)
		return VD_QLOG_ROUTE_CACHE;
	if (b->forwarded != a->forwarded)
		return VD_QLOG_ROUTE_FORWARD;
	if (b->refused != a->refused)
		return VD_QLOG_ROUTE_REFUSED;
	if (b->formerr != a->formerr)
		return VD_QLOG_ROUTE_FORMERR;
	if (b->notimp != a->notimp)
		return VD_QLOG_ROUTE_NOTIMP;
	if (b->servfail != a->servfail)
		return VD_QLOG_ROUTE_SERVFAIL;
	return VD_QLOG_ROUTE_LOCAL;
}

/* The query_log filters; rcode < 0: not known yet. */
static bool passes(const vd_qlog_conf_t *c, const vd_view_t *view, unsigned route,
		   int rcode)
{
	if (c->views != NULL) {
		int vi = view ? vd_view_index(view) : -1;
		if (vi < 0 || (size_t)vi >= c->nviews || !c->views[vi])
			return false;
	}
	if (!(c->routes & (1u << route)))
		return false;
	return rcode < 0 || (c->rcodes & (1u << (rcode & 0xf)));
}

typedef struct logreq {
	uint8_t flags;
	unsigned route;
	const struct sockaddr *client;
	const vd_view_t *view;
	uint64_t t0, wall;
	const vd_qlog_addr_t *upstream; /* NULL: none */
	const vd_fw_match_t *fw;	/* the firewall's decision, if any */
	const uint8_t *query, *reply;	/* NULL: not in the record */
	size_t qlen, rlen;
} logreq_t;

static void put(vd_query_ctx_t *ctx, const logreq_t *l)
{
	vd_qlog_rec_t *rec = vd_qlog_reserve(ctx->qlog);
	size_t qlen = l->qlen, rlen = l->rlen;

	if (rec == NULL)
		return;
	rec->kind = VD_QLOG_K_CLIENT;
	rec->route = (uint8_t)l->route;
	rec->flags = l->flags;
	addr_of(&rec->client, l->client);
	if (l->upstream != NULL)
		rec->upstream = *l->upstream;
	else
		memset(&rec->upstream, 0, sizeof(rec->upstream));
	rec->wall_us = l->wall;
	uint64_t d = clock_us(CLOCK_MONOTONIC) - l->t0;
	rec->duration_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	copy_text(rec->view, sizeof(rec->view), l->view ? vd_view_name(l->view) : NULL);
	copy_text(rec->vpc_id, sizeof(rec->vpc_id),
		  l->view ? vd_view_vpc_id(l->view) : NULL);
	copy_text(rec->account_id, sizeof(rec->account_id),
		  l->view ? vd_view_account_id(l->view) : NULL);
	copy_text(rec->region, sizeof(rec->region),
		  l->view ? vd_view_region(l->view) : NULL);
	rec->fw_action = 0;
	rec->fw_group[0] = rec->fw_list[0] = '\0';
	if (l->fw != NULL && l->fw->rule != NULL) {
		rec->fw_action = (uint8_t)(1 + l->fw->rule->action);
		copy_text(rec->fw_group, sizeof(rec->fw_group), l->fw->group->name);
		copy_text(rec->fw_list, sizeof(rec->fw_list), l->fw->rule->list_name);
	}
	int az = l->view ? vd_view_client_az(l->view, l->client) : -1;
	copy_text(rec->client_az, sizeof(rec->client_az),
		  az >= 0 ? vd_view_az_id(l->view, az) : NULL);
	if (l->query == NULL)
		qlen = 0;
	if (qlen > VD_QLOG_QUERY_MAX) {
		qlen = VD_QLOG_QUERY_MAX;
		rec->flags |= VD_QLOG_F_QTRUNC;
	}
	if (l->reply == NULL)
		rlen = 0;
	if (rlen > sizeof(rec->wire) - qlen) {
		rlen = sizeof(rec->wire) - qlen;
		rec->flags |= VD_QLOG_F_RTRUNC;
	}
	if (qlen)
		memcpy(rec->wire, l->query, qlen);
	if (rlen)
		memcpy(rec->wire + qlen, l->reply, rlen);
	rec->qlen = (uint16_t)qlen;
	rec->rlen = (uint16_t)rlen;
	vd_qlog_commit(ctx->qlog);
}

vd_qh_result_t vd_query_logged(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	uint8_t f = pick(ctx, snap);

	if (f == 0)
		return vd_query_answer(ctx, snap, c, pkt, len, out, outlen);
	vd_query_stats_t before = ctx->stats;
	ctx->log_pick = f;
	ctx->log_t0 = ctx->acct.t0_us; /* vd_query_handle just read the clock */
	ctx->log_wall = clock_us(CLOCK_REALTIME);
	ctx->log_vi = -2;
	ctx->log_fw = (vd_fw_match_t){ 0 };
	vd_qh_result_t r = vd_query_answer(ctx, snap, c, pkt, len, out, outlen);
	ctx->log_pick = 0;
	if (r == VD_QH_DROP)
		return r;

	/* the view the pipeline matched, else (a malformed query) the
	 * client's view all the same */
	int vi = ctx->log_vi != -2 ? ctx->log_vi
				   : vd_view_table_match(snap->view_table, sa);
	logreq_t l = {
		.flags = f | VD_QLOG_F_QUESTION | (c->tcp ? VD_QLOG_F_TCP : 0),
		.route = route_of(&before, &ctx->stats),
		.client = sa,
		.view = vi >= 0 ? snap->views[vi] : NULL,
		.t0 = ctx->log_t0,
		.wall = ctx->log_wall,
		.query = pkt,
		.qlen = len,
		.fw = &ctx->log_fw,
	};
	if (r == VD_QH_REPLY) {
		int rcode = *outlen >= VD_HDR_LEN ? VD_F_RCODE(vd_hdr_flags(out)) : 0;
		if (!passes(&snap->qlog, l.view, l.route, rcode))
			l.flags &= (uint8_t)~VD_QLOG_F_LOG;
		l.flags |= VD_QLOG_F_ANSWERED;
		l.reply = out;
		l.rlen = *outlen;
	} else {
		/* PENDING: with dnstap, CLIENT_QUERY now; the reply's record
		 * comes when it completes (vd_query_log_pending). */
		if (!(ctx->qlog_out & VD_QLOG_OUT_DNSTAP) ||
		    !passes(&snap->qlog, l.view, l.route, -1))
			return r;
		l.flags &= (uint8_t)~VD_QLOG_F_DEBUG;
	}
	if (l.flags & (VD_QLOG_F_LOG | VD_QLOG_F_DEBUG))
		put(ctx, &l);
	return r;
}

void vd_query_log_pending(vd_query_ctx_t *ctx, const vd_pending_t *p, unsigned route,
			  bool answered_upstream, const uint8_t *pkt, size_t len)
{
	const vd_snap_t *snap = p->snap;
	int rcode = pkt && len >= VD_HDR_LEN ? VD_F_RCODE(vd_hdr_flags(pkt)) : 0;
	logreq_t l = {
		.flags = p->log | (p->client.tcp ? VD_QLOG_F_TCP : 0),
		.route = route,
		.client = (const struct sockaddr *)&p->client.addr,
		.view = p->view,
		.t0 = p->log_t0,
		.wall = p->log_wall,
		.upstream = answered_upstream ? &ctx->log_up : NULL,
		.reply = pkt,
		.rlen = len,
		.fw = &p->fw,
	};
	if (ctx->qlog == NULL || pkt == NULL)
		return;
	if (!passes(&snap->qlog, l.view, route, rcode))
		l.flags &= (uint8_t)~VD_QLOG_F_LOG;
	l.flags |= VD_QLOG_F_ANSWERED;
	if (l.flags & (VD_QLOG_F_LOG | VD_QLOG_F_DEBUG))
		put(ctx, &l);
}
