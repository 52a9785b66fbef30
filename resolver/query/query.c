/*
 * The per-request pipeline: parse the client's query, pick its view from
 * its address, walk the view's routing map (zones and forward rules, most
 * specific name first), and answer from local data straight into the
 * caller's buffer, or hand the name to forward.c (cache, then upstream).
 * Local answers allocate nothing and take no lock.
 */
#include "query_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

vd_query_ctx_t *vd_query_ctx_new(vd_fwd_t *fwd)
{
	vd_query_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->fwd = fwd;
	ctx->cache_share = 1;
	ctx->rr = malloc(sizeof(*ctx->rr));
	ctx->out = malloc(UINT16_MAX);
	if (ctx->rr == NULL || ctx->out == NULL) {
		vd_query_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void vd_query_ctx_free(vd_query_ctx_t *ctx)
{
	if (ctx == NULL)
		return;
	vd_query_forward_deinit(ctx);
	vd_query_metrics_free(ctx);
	vd_cache_free(ctx->cache);
	free(ctx->cache_ids);
	vd_guard_rl_free(ctx->rl);
	free(ctx->rr);
	free(ctx->out);
	free(ctx);
}

void vd_query_set_cache_share(vd_query_ctx_t *ctx, unsigned workers)
{
	ctx->cache_share = workers ? workers : 1;
}

int vd_query_snap_changed(vd_query_ctx_t *ctx, const vd_snap_t *snap)
{
	size_t size = snap->cache.size / ctx->cache_share;
	if (vd_query_metrics_snap(ctx, snap) != 0 ||
	    vd_query_guard_changed(ctx, snap) < 0)
		return -1;
	if (ctx->cache == NULL) {
		if ((ctx->cache = vd_cache_new(size, NULL, NULL)) == NULL)
			return -1;
	} else {
		vd_cache_set_size(ctx->cache, size);
	}
	/* Reload time, not query time: one small array of the groups' ids.
	 * The walk over every cached entry runs on this worker's loop, so it
	 * is skipped when the groups are the ones the cache was trimmed to
	 * (the usual reload: zones or views changed, upstreams did not). */
	uint64_t *ids = malloc((snap->ngroups ? snap->ngroups : 1) * sizeof(*ids));
	if (ids == NULL)
		return -1;
	for (size_t i = 0; i < snap->ngroups; i++)
		ids[i] = snap->groups[i].cache_id;
	if (ctx->cache_ids != NULL && ctx->ncache_ids == snap->ngroups &&
	    memcmp(ctx->cache_ids, ids, snap->ngroups * sizeof(*ids)) == 0) {
		free(ids);
		return 0;
	}
	vd_cache_retain_groups(ctx->cache, ids, snap->ngroups);
	free(ctx->cache_ids);
	ctx->cache_ids = ids;
	ctx->ncache_ids = snap->ngroups;
	return 0;
}

const vd_query_stats_t *vd_query_stats(const vd_query_ctx_t *ctx)
{
	return &ctx->stats;
}

const vd_guard_rl_stats_t *vd_query_rl_stats(const vd_query_ctx_t *ctx)
{
	return ctx->rl ? vd_guard_rl_stats(ctx->rl) : NULL;
}

const vd_cache_stats_t *vd_query_cache_stats(const vd_query_ctx_t *ctx)
{
	return ctx->cache ? vd_cache_stats(ctx->cache) : NULL;
}

size_t vd_query_pending(const vd_query_ctx_t *ctx)
{
	return ctx->pending;
}

size_t vd_query_flush(vd_query_ctx_t *ctx, const uint8_t *name_lc)
{
	return ctx->cache ? vd_cache_flush(ctx->cache, name_lc) : 0;
}

size_t vd_query_pooled(const vd_query_ctx_t *ctx)
{
	return ctx->nfree_pending + ctx->nfree_fetch;
}

/* ---- CH class: server identity ---------------------------------------- */

static bool name_is(const vd_query_msg_t *q, const uint8_t *name)
{
	return vd_name_equal(q->qname_lc, name);
}

/* CH TXT: id.server / hostname.bind, version.bind / version.server, and
 * for any other name (unless the view turns it off) an explanation of how
 * the name resolves for this client. */
static size_t answer_chaos(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out)
{
	const vd_snap_t *snap = rc->snap;
	const vd_query_msg_t *q = rc->q;
	size_t cap = vd_query_reply_limit(rc->client, q);
	const char *text = NULL;
	static const uint8_t id_server[] = "\2id\6server";
	static const uint8_t hostname_bind[] = "\10hostname\4bind";
	static const uint8_t version_bind[] = "\7version\4bind";
	static const uint8_t version_server[] = "\7version\6server";
	bool version = name_is(q, version_bind) || name_is(q, version_server);
	if (name_is(q, id_server) || name_is(q, hostname_bind))
		text = snap->server.identity;
	else if (version && !snap->server.hide_version)
		text = snap->server.version;
	bool txt = q->qtype == VD_T_TXT || q->qtype == VD_T_ANY;
	vd_explain_level_t level =
		text == NULL && !version && txt
			? vd_view_explain_for(
				  rc->view, (const struct sockaddr *)&rc->client->addr)
			: VD_EXPLAIN_REFUSED;
	if (level != VD_EXPLAIN_REFUSED) {
		size_t n =
			vd_query_write_explain(ctx, rc, level == VD_EXPLAIN_FULL, out);
		if (n > 0)
			return n;
	}
	if (text == NULL || !txt)
		return vd_query_write_empty(out, cap, q, snap, VD_RCODE_REFUSED, -1,
					    NULL);

	uint8_t rdata[256];
	size_t len = strlen(text);
	if (len > 255)
		len = 255;
	rdata[0] = (uint8_t)len;
	memcpy(rdata + 1, text, len);
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, vd_query_reply_flags(q, VD_RCODE_NOERROR, true));
	vd_wbuf_rr(&w, 1, q->qname, VD_T_TXT, VD_C_CH, 0, rdata, (uint16_t)(len + 1));
	vd_query_put_opt(&w, q, snap, VD_RCODE_NOERROR, -1, NULL);
	return w.err == 0 ? w.len : 0;
}

/* ---- entry point ------------------------------------------------------- */

static vd_qh_result_t reply(size_t n, size_t *outlen)
{
	*outlen = n;
	return n ? VD_QH_REPLY : VD_QH_DROP;
}

/* Parse outcomes other than a well-formed query. */
static vd_qh_result_t parse_failure(vd_query_ctx_t *ctx, vd_snap_t *snap,
				    vd_qp_result_t pr, vd_query_msg_t *q, uint8_t *out,
				    size_t cap, size_t *outlen)
{
	/* A cookie we did not check is not echoed. */
	q->cookie_len = 0;
	switch (pr) {
	case VD_QP_FORMERR:
		ctx->stats.formerr++;
		q->edns = false; /* nothing after the header is trusted */
		q->qname_len = 0;
		return reply(vd_query_write_empty(out, cap, q, snap, VD_RCODE_FORMERR,
						  -1, NULL),
			     outlen);
	case VD_QP_NOTIMP:
		ctx->stats.notimp++;
		return reply(vd_query_write_empty(out, cap, q, snap, VD_RCODE_NOTIMP,
						  -1, NULL),
			     outlen);
	case VD_QP_BADVERS:
		return reply(vd_query_write_empty(out, cap, q, snap, VD_RCODE_BADVERS,
						  -1, NULL),
			     outlen);
	default:
		ctx->stats.dropped++;
		return VD_QH_DROP;
	}
}

static vd_qh_result_t handle(vd_query_ctx_t *ctx, vd_snap_t *snap,
			     const vd_query_client_t *c, const uint8_t *pkt, size_t len,
			     uint8_t *out, size_t *outlen)
{
	if (__builtin_expect(ctx->qlog != NULL, 0))
		return vd_query_logged(ctx, snap, c, pkt, len, out, outlen);
	return vd_query_answer(ctx, snap, c, pkt, len, out, outlen);
}

vd_qh_result_t vd_query_answer(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen)
{
	vd_query_msg_t q;
	vd_resolution_t res;
	vd_fw_match_t fw = { 0 };

	memset(&q, 0, sizeof(q));
	ctx->stats.queries++;
	if (c->tcp)
		ctx->stats.tcp++;
	else
		ctx->stats.udp++;
	vd_qp_result_t pr = vd_query_msg_parse(pkt, len, &q);
	size_t cap = vd_query_reply_limit(c, &q);
	ctx->acct.qtype = q.qtype;
	ctx->acct.parsed = pr == VD_QP_OK;
	if (pr != VD_QP_OK)
		return parse_failure(ctx, snap, pr, &q, out,
				     pr == VD_QP_FORMERR ? VD_QUERY_NO_EDNS_UDP : cap,
				     outlen);

	/* Our own loop probe, back: whoever sent it forwards to us. */
	if (vd_query_loopcheck_seen(ctx, snap, &q)) {
		ctx->stats.servfail++;
		return reply(vd_query_write_empty(out, cap, &q, snap, VD_RCODE_SERVFAIL,
						  VD_EDE_NO_REACHABLE_AUTHORITY,
						  "forwarding loop"),
			     outlen);
	}
	int vi = vd_view_table_match(snap->view_table,
				     (const struct sockaddr *)&c->addr);
	ctx->log_vi = vi;
	ctx->acct.slot = vd_query_metrics_slot(ctx, snap, vi);
	vd_qh_result_t lr;
	if (!vd_query_admit(ctx, snap, c, &q, vi, out, outlen, &lr))
		return lr;
	if (vi < 0) {
		ctx->mx.no_view++;
		ctx->stats.refused++;
		return reply(vd_query_write_empty(out, cap, &q, snap, VD_RCODE_REFUSED,
						  VD_EDE_PROHIBITED, NULL),
			     outlen);
	}
	const vd_view_t *view = snap->views[vi];
	vd_rctx_t rc = {
		.snap = snap,
		.view = view,
		.client = c,
		.q = &q,
		.fw_set = snap->fw_views ? &snap->fw_views[vi] : NULL,
		.fw = &fw,
	};
	if (q.qclass == VD_C_CH)
		return reply(answer_chaos(ctx, &rc, out), outlen);
	if (q.qtype == VD_T_AXFR || q.qtype == VD_T_IXFR || q.qclass != VD_C_IN) {
		ctx->stats.refused++;
		return reply(vd_query_write_empty(out, cap, &q, snap, VD_RCODE_REFUSED,
						  -1, NULL),
			     outlen);
	}
	if (q.qtype == VD_T_OPT) {
		ctx->stats.formerr++;
		return reply(vd_query_write_empty(out, cap, &q, snap, VD_RCODE_FORMERR,
						  -1, NULL),
			     outlen);
	}

	if (vd_query_fw_inspect(ctx, &rc, NULL))
		return vd_query_fw_block(ctx, snap, &rc, out, outlen);
	if (q.qtype == VD_T_PTR && vd_view_has_ptr(view)) {
		size_t n = vd_query_write_ptr(ctx, &rc, out);
		if (n > 0) {
			ctx->stats.local++;
			ctx->acct.route = VD_QM_LOCAL;
			return reply(n, outlen);
		}
	}
	vd_query_resolve(view, snap, q.qname, q.qtype, &res);
	rc.chain = res.walk.chain;
	rc.nchain = res.walk.nchain;
	rc.fwd_name = res.fwd_name;
	if (vd_query_fw_inspect(ctx, &rc, &res))
		return vd_query_fw_block(ctx, snap, &rc, out, outlen);
	if (res.group != NULL)
		return vd_query_forward(ctx, snap, &rc, &res, out, outlen);
	if (res.walk.refused) {
		ctx->stats.refused++;
		return reply(vd_query_write_empty(out, cap, &q, snap, VD_RCODE_REFUSED,
						  VD_EDE_PROHIBITED, "no forward rule"),
			     outlen);
	}
	ctx->stats.local++;
	ctx->acct.route = VD_QM_LOCAL;
	if (res.walk.rcode == VD_RCODE_NXDOMAIN)
		ctx->stats.nxdomain++;
	return reply(vd_query_write_local(ctx, &rc, &res, out), outlen);
}

vd_qh_result_t vd_query_handle(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c, const uint8_t *pkt,
			       size_t len, uint8_t *out, size_t *outlen)
{
	vd_query_acct_start(ctx, c);
	vd_qh_result_t r = handle(ctx, snap, c, pkt, len, out, outlen);
	/* Forwarded requests are counted when their reply goes out. */
	if (r != VD_QH_PENDING)
		vd_query_account(ctx, &ctx->acct, r == VD_QH_REPLY ? out : NULL,
				 r == VD_QH_REPLY ? *outlen : 0);
	return r;
}
