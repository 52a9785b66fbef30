/*
 * Forwarded names: the cache first, then one upstream fetch per distinct
 * question in flight. Identical requests (same group, name, type, class,
 * DO and CD) that arrive while a fetch is out wait on it, and each gets
 * its own reply written from the shared response. A fresh hit is copied
 * from the cache with its TTLs aged; a popular entry near expiry starts a
 * background refresh. When every upstream fails, an expired entry within
 * stale_max is served with TTL 30 and EDE 3 (RFC 8767), and for the next
 * 30 s stale answers go out at once while refreshes run in the background.
 * Queries without RD are answered from the cache but never share a fetch
 * and never fill the cache: a non-recursive answer is not one to reuse.
 * Waiting requests are bounded per worker (server.max_pending) and per
 * fetch (server.max_pending_per_fetch): past either, SERVFAIL with EDE 14
 * at once, so a flood for a name whose upstream is dead neither grows
 * memory nor ends in a burst of replies larger than a socket buffer.
 */
#include "query_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

static void policy_of(const vd_snap_t *snap, vd_cache_policy_t *p)
{
	p->min_ttl = snap->cache.min_ttl;
	p->max_ttl = snap->cache.max_ttl;
	p->max_negative_ttl = snap->cache.max_negative_ttl;
	p->stale_max = snap->cache.stale_max;
	p->prefetch = snap->cache.prefetch;
}

static bool cache_on(const vd_query_ctx_t *ctx, const vd_snap_t *snap)
{
	return ctx->cache != NULL && snap->cache.size > 0;
}

/* Seeded: the names come from clients, who must not be able to pile
 * their fetches into one bucket. */
static uint64_t fetch_hash(const vd_cache_key_t *k)
{
	return vd_cache_key_hash(k, vd_hash_seed());
}

static bool same_key(const vd_cache_key_t *a, const vd_cache_key_t *b)
{
	return a->group == b->group && a->qtype == b->qtype && a->qclass == b->qclass &&
	       a->do_bit == b->do_bit && a->cd == b->cd &&
	       vd_name_equal(a->qname_lc, b->qname_lc);
}

static vd_fetch_t *fetch_find(vd_query_ctx_t *ctx, const vd_cache_key_t *k, uint64_t h)
{
	vd_fetch_t *f = ctx->fetches[h % VD_QUERY_FETCH_BUCKETS];
	for (; f; f = f->next)
		if (f->hash == h && same_key(&f->key, k))
			return f;
	return NULL;
}

static void fetch_unlink(vd_query_ctx_t *ctx, vd_fetch_t *f)
{
	if (!f->shared)
		return;
	vd_fetch_t **pp = &ctx->fetches[f->hash % VD_QUERY_FETCH_BUCKETS];
	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	f->shared = false;
}

/* Whether a released record goes back to a pool holding nfree while
 * inuse are still out: see VD_QUERY_POOL_KEEP. */
static bool pool_keeps(size_t nfree, size_t inuse)
{
	return nfree < VD_QUERY_POOL_KEEP || nfree < inuse;
}

static void fetch_release(vd_query_ctx_t *ctx, vd_fetch_t *f)
{
	vd_snap_unref(f->snap);
	f->snap = NULL;
	ctx->nfetch--;
	if (!pool_keeps(ctx->nfree_fetch, ctx->nfetch)) {
		free(f);
		return;
	}
	f->next = ctx->free_fetch;
	ctx->free_fetch = f;
	ctx->nfree_fetch++;
}

static void pending_release(vd_query_ctx_t *ctx, vd_pending_t *p)
{
	vd_snap_unref(p->snap);
	p->snap = NULL;
	ctx->pending--;
	if (!pool_keeps(ctx->nfree_pending, ctx->pending)) {
		free(p);
		return;
	}
	p->next = ctx->free_pending;
	ctx->free_pending = p;
	ctx->nfree_pending++;
}

void vd_query_forward_deinit(vd_query_ctx_t *ctx)
{
	while (ctx->free_pending) {
		vd_pending_t *p = ctx->free_pending;
		ctx->free_pending = p->next;
		free(p);
	}
	ctx->nfree_pending = 0;
	while (ctx->free_fetch) {
		vd_fetch_t *f = ctx->free_fetch;
		ctx->free_fetch = f->next;
		free(f);
	}
	ctx->nfree_fetch = 0;
}

static void rctx_of(vd_pending_t *p, vd_rctx_t *rc)
{
	*rc = (vd_rctx_t){
		.snap = p->snap,
		.view = p->view,
		.client = &p->client,
		.q = &p->q,
		.chain = p->chain,
		.nchain = p->nchain,
		.fwd_name = p->fwd_name,
		.fw_set = p->fw_set,
		.fw = &p->fw,
	};
}

/* Writes a reply from a cache hit: the stored message copied and patched
 * when nothing local precedes or completes it, else rebuilt. */
static size_t write_hit(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			const vd_cache_hit_t *h, bool stale, uint8_t *out)
{
	const vd_query_msg_t *q = rc->q;
	if (rc->nchain > 0 || h->has_cname)
		return vd_query_write_message(ctx, rc, h->msg, h->len, h->age, stale,
					      stale ? VD_EDE_STALE : -1, out);

	size_t cap = vd_query_reply_limit(rc->client, q);
	uint16_t sflags = vd_hdr_flags(h->msg);
	int rcode = VD_F_RCODE(sflags);
	uint16_t flags = vd_query_reply_flags(q, rcode, false);
	if ((sflags & VD_F_AD) && (q->edns_do || (q->flags & VD_F_AD)))
		flags |= VD_F_AD;
	size_t n = vd_cache_write(h, q, flags, stale, out, cap);
	if (n > 0) {
		vd_wbuf_t w;
		vd_wbuf_init(&w, out, cap);
		w.len = n;
		vd_query_put_opt(&w, q, rc->snap, rcode, stale ? VD_EDE_STALE : -1,
				 NULL);
		if (w.err == 0)
			return w.len;
	}
	ctx->stats.truncated++;
	return vd_query_write_truncated(out, cap, q, rc->snap, flags,
					stale ? VD_EDE_STALE : -1);
}

/* ---- fetch completion -------------------------------------------------- */

static bool upstream_failed(int status, const uint8_t *resp, size_t len)
{
	if (status != 0 || len < VD_HDR_LEN)
		return true;
	int rcode = VD_F_RCODE(vd_hdr_flags(resp));
	return rcode == VD_RCODE_SERVFAIL || rcode == VD_RCODE_REFUSED;
}

/* The reply for one waiter once the fetch is over: from the entry the
 * response just became (so the first clients see the same clamped TTLs
 * as later hits), from a stale entry when the upstreams failed, else from
 * the response itself. */
static size_t answer_waiter(vd_query_ctx_t *ctx, vd_pending_t *p, int status, int ede,
			    const uint8_t *resp, size_t len,
			    const vd_cache_hit_t *cached, bool stale)
{
	vd_rctx_t rc;
	rctx_of(p, &rc);
	if (cached != NULL && stale)
		ctx->stats.stale++;
	if (cached != NULL)
		return write_hit(ctx, &rc, cached, stale, ctx->out);
	if (status != 0) {
		ctx->stats.servfail++;
		return vd_query_write_empty(ctx->out,
					    vd_query_reply_limit(&p->client, &p->q),
					    &p->q, p->snap, VD_RCODE_SERVFAIL, ede,
					    NULL);
	}
	return vd_query_write_message(ctx, &rc, resp, len, 0, false, -1, ctx->out);
}

static void on_fetch(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	vd_fetch_t *f = arg;
	vd_query_ctx_t *ctx = f->ctx;
	bool failed = upstream_failed(status, resp, len);
	vd_cache_hit_t hit, *cached = NULL;
	vd_cache_policy_t pol;
	bool stale = false;

	fetch_unlink(ctx, f);
	if (status != -ECANCELED && cache_on(ctx, f->snap)) {
		policy_of(f->snap, &pol);
		if (!failed && f->rd &&
		    vd_cache_store(ctx->cache, &f->key, resp, len, &pol) == 0 &&
		    vd_cache_peek(ctx->cache, &f->key, &pol, &hit) == VD_CACHE_HIT)
			cached = &hit;
		if (failed) {
			vd_cache_mark_failed(ctx->cache, &f->key);
			/* A failed refresh of a still fresh entry serves it as it
			 * is; an expired one within stale_max is served stale. */
			vd_cache_result_t r =
				vd_cache_lookup(ctx->cache, &f->key, &pol, &hit);
			if (r != VD_CACHE_MISS) {
				cached = &hit;
				stale = r == VD_CACHE_STALE;
			}
		}
	}
	while (f->waiters) {
		vd_pending_t *p = f->waiters;
		f->waiters = p->next;
		f->nwaiters--;
		if (status == -ECANCELED) {
			p->client.respond(p->client.token, &p->client, NULL, 0);
		} else {
			size_t n = answer_waiter(ctx, p, status, ede, resp, len, cached,
						 stale);
			p->acct.route = cached && stale ? VD_QM_STALE : VD_QM_FORWARD;
			vd_query_account(ctx, &p->acct, n ? ctx->out : NULL, n);
			if (p->log)
				vd_query_log_pending(ctx, p,
						     stale ? VD_QLOG_ROUTE_STALE
							   : VD_QLOG_ROUTE_FORWARD,
						     status == 0, n ? ctx->out : NULL,
						     n);
			p->client.respond(p->client.token, &p->client,
					  n ? ctx->out : NULL, n);
		}
		pending_release(ctx, p);
	}
	fetch_release(ctx, f);
}

/* Starts an upstream query for key. RD unset: a private, uncached fetch. */
static vd_fetch_t *fetch_start(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_group_t *g, const uint8_t *name,
			       const vd_cache_key_t *k, uint64_t h, bool rd)
{
	vd_fetch_t *f = ctx->free_fetch;
	if (f != NULL) {
		ctx->free_fetch = f->next;
		ctx->nfree_fetch--;
	} else if ((f = malloc(sizeof(*f))) == NULL) {
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->ctx = ctx;
	f->group = g;
	f->key = *k;
	vd_name_lower(f->name_lc, name);
	f->key.qname_lc = f->name_lc;
	f->hash = h;

	vd_fwd_query_t fq = {
		.group = g,
		.qname = name,
		.qtype = k->qtype,
		.qclass = k->qclass,
		.rd = rd,
		.cd = k->cd,
		.do_bit = k->do_bit,
		.timeout_ms = snap->server.upstream_timeout_ms,
		.query_timeout_ms = snap->server.query_timeout_ms,
		.max_inflight = snap->server.upstream_max_inflight,
		.tls_ca_file = snap->server.tls_ca_file,
	};
	ctx->nfetch++;
	if (vd_fwd_submit(ctx->fwd, &fq, on_fetch, f) != 0) {
		fetch_release(ctx, f);
		return NULL;
	}
	vd_snap_ref(snap);
	f->snap = snap;
	f->rd = rd;
	if (rd) {
		f->shared = true;
		f->next = ctx->fetches[h % VD_QUERY_FETCH_BUCKETS];
		ctx->fetches[h % VD_QUERY_FETCH_BUCKETS] = f;
	}
	ctx->stats.upstream_fetches++;
	return f;
}

/* A background refresh (prefetch, stale recheck), unless one is out. */
static void refresh(vd_query_ctx_t *ctx, vd_snap_t *snap, const vd_group_t *g,
		    const uint8_t *name, const vd_cache_key_t *k, uint64_t h)
{
	if (fetch_find(ctx, k, h) == NULL &&
	    fetch_start(ctx, snap, g, name, k, h, true))
		ctx->stats.refreshes++;
}

static vd_pending_t *pending_new(vd_query_ctx_t *ctx, vd_snap_t *snap,
				 const vd_rctx_t *rc)
{
	vd_pending_t *p = ctx->free_pending;
	if (p != NULL) {
		ctx->free_pending = p->next;
		ctx->nfree_pending--;
	} else if ((p = malloc(sizeof(*p))) == NULL) {
		return NULL;
	}
	p->next = NULL;
	vd_snap_ref(snap);
	p->snap = snap;
	p->view = rc->view;
	p->client = *rc->client;
	p->q = *rc->q;
	p->acct = ctx->acct;
	p->nchain = rc->nchain;
	memcpy(p->chain, rc->chain, sizeof(vd_step_t) * rc->nchain);
	/* The first owner is the client's question, which lived on the
	 * caller's stack: point at the copy. Later owners are zone data. */
	for (unsigned i = 0; i < p->nchain; i++)
		if (p->chain[i].owner == rc->q->qname)
			p->chain[i].owner = p->q.qname;
	memcpy(p->fwd_name, rc->fwd_name, vd_name_len(rc->fwd_name));
	p->fw_set = rc->fw_set;
	p->fw = rc->fw ? *rc->fw : (vd_fw_match_t){ 0 };
	p->log = ctx->log_pick;
	p->log_t0 = ctx->log_t0;
	p->log_wall = ctx->log_wall;
	ctx->pending++;
	return p;
}

vd_qh_result_t vd_query_forward(vd_query_ctx_t *ctx, vd_snap_t *snap,
				const vd_rctx_t *rc, const vd_resolution_t *res,
				uint8_t *out, size_t *outlen)
{
	const vd_query_msg_t *q = rc->q;
	uint8_t lc[VD_NAME_MAX];
	bool rd = (q->flags & VD_F_RD) != 0;
	vd_cache_key_t key = {
		.group = res->group->cache_id,
		.qname_lc = q->qname_lc,
		.qtype = q->qtype,
		.qclass = q->qclass,
		.do_bit = q->edns_do,
		.cd = (q->flags & VD_F_CD) != 0,
	};
	vd_cache_hit_t hit;
	vd_cache_result_t cr = VD_CACHE_MISS;
	vd_cache_policy_t pol;

	if (res->fwd_name != q->qname) { /* a local CNAME's target */
		vd_name_lower(lc, res->fwd_name);
		key.qname_lc = lc;
	}
	if (cache_on(ctx, snap)) {
		policy_of(snap, &pol);
		cr = vd_cache_lookup(ctx->cache, &key, &pol, &hit);
		if (cr == VD_CACHE_HIT ||
		    (cr == VD_CACHE_STALE && hit.failed_recently)) {
			bool stale = cr == VD_CACHE_STALE;
			*outlen = write_hit(ctx, rc, &hit, stale, out);
			if (stale || hit.prefetch)
				refresh(ctx, snap, res->group, res->fwd_name, &key,
					fetch_hash(&key));
			ctx->stats.cache_hits++;
			ctx->acct.route = stale ? VD_QM_STALE : VD_QM_CACHE;
			if (stale)
				ctx->stats.stale++;
			return *outlen ? VD_QH_REPLY : VD_QH_DROP;
		}
	}

	/* The group sends our queries back to us: no use waiting. Another
	 * server's probe still goes, so that it finds the loop too (the
	 * copies that come round again join this fetch). */
	if (vd_query_loopcheck_looping(ctx->loopcheck, snap,
				       (size_t)res->group->index) &&
	    !vd_query_loopcheck_probe_name(q)) {
		ctx->stats.servfail++;
		*outlen = vd_query_write_empty(out, vd_query_reply_limit(rc->client, q),
					       q, snap, VD_RCODE_SERVFAIL,
					       VD_EDE_NO_REACHABLE_AUTHORITY,
					       "forwarding loop");
		return *outlen ? VD_QH_REPLY : VD_QH_DROP;
	}
	uint64_t h = fetch_hash(&key);
	vd_fetch_t *f = rd ? fetch_find(ctx, &key, h) : NULL;
	if (ctx->pending >= snap->server.max_pending ||
	    (f != NULL && f->nwaiters >= snap->server.max_pending_per_fetch)) {
		ctx->stats.rejected_pending++;
		goto fail;
	}
	if (f != NULL)
		ctx->stats.coalesced++;
	else
		f = fetch_start(ctx, snap, res->group, res->fwd_name, &key, h, rd);
	vd_pending_t *p = f ? pending_new(ctx, snap, rc) : NULL;
	if (p == NULL)
		goto fail;
	p->next = f->waiters;
	f->waiters = p;
	f->nwaiters++;
	ctx->stats.forwarded++;
	return VD_QH_PENDING;
fail:
	/* No upstream query possible now (in-flight or waiting bounds, no
	 * memory): an expired answer beats an error. */
	if (cr == VD_CACHE_STALE) {
		ctx->stats.stale++;
		ctx->acct.route = VD_QM_STALE;
		*outlen = write_hit(ctx, rc, &hit, true, out);
		return *outlen ? VD_QH_REPLY : VD_QH_DROP;
	}
	ctx->stats.servfail++;
	*outlen = vd_query_write_empty(out, vd_query_reply_limit(rc->client, q), q,
				       snap, VD_RCODE_SERVFAIL, VD_EDE_NOT_READY,
				       "too many queries in flight");
	return *outlen ? VD_QH_REPLY : VD_QH_DROP;
}
