/*
 * The per-request pipeline: parse the client's query, pick its view, walk
 * the view's routing map (zones and forward rules, most specific name
 * first), answer from local data by writing precompiled RRsets into the
 * caller's buffer, or hand the name to fwd and rewrite the upstream's
 * response for the client. Local answers allocate nothing; a forwarded
 * request takes one pending record and a snapshot reference until the
 * upstream answers.
 */
#include "vpcdns/query.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

/* Longest CNAME chain followed through local data (Unbound uses 11). */
#define CHAIN_MAX 12
/* Payload size we use for UDP replies when the client sent no EDNS. */
#define NO_EDNS_UDP 512

/* One step of a local answer: the RRset and the owner it is written with
 * (the query name, a CNAME target, or the name a wildcard matched). */
typedef struct step {
	const uint8_t *owner;
	const vd_rrset_t *rrset;
} step_t;

/* What resolving a name in local data produced. */
typedef struct resolution {
	step_t chain[CHAIN_MAX + 1];
	unsigned nchain;
	int rcode;
	const vd_zone_t *soa_zone;   /* negative answer: SOA in authority */
	const vd_group_t *group;     /* not NULL: forward fwd_name there */
	const uint8_t *fwd_name;     /* name to forward (owner-case kept) */
	bool local;                  /* any local data took part */
	bool refused;                /* no zone and no forward rule */
} resolution_t;

typedef struct pending {
	struct pending *next;        /* free list */
	vd_query_ctx_t *ctx;
	vd_snap_t *snap;             /* reference held until the reply */
	vd_query_client_t client;
	vd_query_msg_t q;
	step_t chain[CHAIN_MAX + 1];
	unsigned nchain;
	uint8_t fwd_name[VD_NAME_MAX];
} pending_t;

struct vd_query_ctx {
	vd_fwd_t *fwd;
	vd_query_stats_t stats;
	uint32_t rotate;             /* rotation of multi-record A/AAAA sets */
	size_t pending;
	pending_t *free_list;
	vd_rr_t *rr;                 /* scratch for rewriting upstream replies */
	uint8_t *out;                /* reply buffer for pending requests */
};

vd_query_ctx_t *vd_query_ctx_new(vd_fwd_t *fwd)
{
	vd_query_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->fwd = fwd;
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
	while (ctx->free_list != NULL) {
		pending_t *p = ctx->free_list;
		ctx->free_list = p->next;
		free(p);
	}
	free(ctx->rr);
	free(ctx->out);
	free(ctx);
}

const vd_query_stats_t *vd_query_stats(const vd_query_ctx_t *ctx)
{
	return &ctx->stats;
}

size_t vd_query_pending(const vd_query_ctx_t *ctx)
{
	return ctx->pending;
}

/* ---- writing replies --------------------------------------------------- */

/* Largest reply the client can take on this transport. */
static size_t reply_limit(const vd_query_client_t *c, const vd_query_msg_t *q)
{
	size_t lim = c->tcp ? UINT16_MAX : (q->edns ? q->edns_udp : NO_EDNS_UDP);
	if (c->max_reply != 0 && lim > c->max_reply)
		lim = c->max_reply;
	return lim;
}

static uint16_t reply_flags(const vd_query_msg_t *q, int rcode, bool aa)
{
	uint16_t f = VD_F_QR | VD_F_RA | (q->flags & (VD_F_RD | VD_F_CD));
	f |= (uint16_t)(VD_F_OPCODE(q->flags) << 11);
	if (aa)
		f |= VD_F_AA;
	return f | (uint16_t)(rcode & 0xf);
}

/* Appends our OPT when the client sent one. */
static void put_opt(vd_wbuf_t *w, const vd_query_msg_t *q, const vd_snap_t *snap,
		    int rcode, int ede, const char *ede_text)
{
	if (!q->edns)
		return;
	vd_opt_out_t o = {
		.ext_rcode = (uint16_t)rcode,
		.do_bit = q->edns_do,
		.ede_code = ede,
		.ede_text = ede_text,
	};
	if (q->edns_nsid && snap != NULL && snap->server.identity != NULL) {
		o.nsid = (const uint8_t *)snap->server.identity;
		o.nsid_len = strlen(snap->server.identity);
	}
	vd_wbuf_opt(w, &o);
}

/* A reply with no records but the question (if any) and our OPT. */
static size_t write_empty(uint8_t *out, size_t cap, const vd_query_msg_t *q,
			  const vd_snap_t *snap, int rcode, int ede, const char *text)
{
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, reply_flags(q, rcode, false));
	put_opt(&w, q, snap, rcode, ede, text);
	return w.err == 0 ? w.len : 0;
}

/* The reply did not fit: header, question and OPT with TC set (RFC 2181
 * section 9: the client retries over TCP). */
static size_t write_truncated(uint8_t *out, size_t cap, const vd_query_msg_t *q,
			      const vd_snap_t *snap, uint16_t flags)
{
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags | VD_F_TC);
	put_opt(&w, q, snap, VD_F_RCODE(flags), -1, NULL);
	return w.err == 0 ? w.len : 0;
}

static void put_rrset(vd_query_ctx_t *ctx, vd_wbuf_t *w, int section,
		      const uint8_t *owner, const vd_rrset_t *rs, uint32_t ttl)
{
	unsigned start = 0;
	if (rs->count > 1 && (rs->type == VD_T_A || rs->type == VD_T_AAAA))
		start = ctx->rotate++ % rs->count;
	for (unsigned i = 0; i < rs->count; i++) {
		unsigned k = (start + i) % rs->count;
		vd_wbuf_rr(w, section, owner, rs->type, rs->rclass, ttl,
			   rs->rdata[k], rs->rdlen[k]);
	}
}

static void put_chain(vd_query_ctx_t *ctx, vd_wbuf_t *w, const step_t *chain,
		      unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put_rrset(ctx, w, 1, chain[i].owner, chain[i].rrset,
			  chain[i].rrset->ttl);
}

/* ---- local resolution -------------------------------------------------- */

/* Follows zones and forward rules for q's name in view v, collecting the
 * local steps. Stops at an answer, a negative answer, or a name that must
 * be forwarded (res->group set). */
static void resolve(const vd_view_t *v, const vd_snap_t *snap,
		    const vd_query_msg_t *q, resolution_t *res)
{
	uint8_t lc[VD_NAME_MAX];
	const uint8_t *name = q->qname;      /* owner as written in the reply */
	unsigned max_labels = UINT_MAX;

	memset(res, 0, sizeof(*res));
	memcpy(lc, q->qname_lc, q->qname_len);
	for (unsigned guard = 0; guard < 4 * CHAIN_MAX; guard++) {
		const vd_route_entry_t *e = vd_view_route(v, lc, max_labels);
		if (e == NULL) {
			res->refused = res->nchain == 0;
			return;
		}
		if (e->group >= 0) {
			res->group = &snap->groups[e->group];
			res->fwd_name = name;
			return;
		}
		const vd_rrset_t *rs = NULL;
		bool wild = false;
		vd_zl_result_t r = vd_zone_lookup(e->zone, lc, q->qtype, &rs, &wild);
		switch (r) {
		case VD_ZL_FALLBACK:
			/* As if the zone were not there: try shallower names. */
			max_labels = vd_name_labels(vd_zone_apex(e->zone));
			if (max_labels == 0) {
				res->refused = res->nchain == 0;
				return;
			}
			max_labels--;
			continue;
		case VD_ZL_NODATA:
		case VD_ZL_NXDOMAIN:
			res->local = true;
			res->rcode = r == VD_ZL_NXDOMAIN ? VD_RCODE_NXDOMAIN
							 : VD_RCODE_NOERROR;
			res->soa_zone = e->zone;
			return;
		case VD_ZL_ANSWER:
			res->local = true;
			res->chain[res->nchain++] = (step_t){ name, rs };
			return;
		case VD_ZL_CNAME:
			res->local = true;
			res->chain[res->nchain++] = (step_t){ name, rs };
			if (res->nchain > CHAIN_MAX)
				return;   /* answer with the chain so far */
			name = rs->rdata[0];
			vd_name_lower(lc, name);
			max_labels = UINT_MAX;
			for (unsigned i = 0; i + 1 < res->nchain; i++)
				if (vd_name_equal(res->chain[i].owner, name))
					return;   /* CNAME loop */
			continue;
		}
	}
}

static size_t write_local(vd_query_ctx_t *ctx, const vd_snap_t *snap,
			  const vd_query_client_t *c, const vd_query_msg_t *q,
			  const resolution_t *res, uint8_t *out)
{
	size_t cap = reply_limit(c, q);
	uint16_t flags = reply_flags(q, res->rcode, true);
	vd_wbuf_t w;

	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags);
	put_chain(ctx, &w, res->chain, res->nchain);
	if (res->soa_zone != NULL)
		put_rrset(ctx, &w, 2, vd_zone_apex(res->soa_zone),
			  vd_zone_soa(res->soa_zone), vd_zone_neg_ttl(res->soa_zone));
	put_opt(&w, q, snap, res->rcode, -1, NULL);
	if (w.err == 0)
		return w.len;
	ctx->stats.truncated++;
	return write_truncated(out, cap, q, snap, flags);
}

/* ---- CH class: server identity ---------------------------------------- */

static bool name_is(const vd_query_msg_t *q, const char *text)
{
	uint8_t n[VD_NAME_MAX];
	size_t len;
	return vd_name_from_text(text, n, &len) == 0 && vd_name_equal(q->qname_lc, n);
}

static size_t answer_chaos(const vd_snap_t *snap, const vd_query_client_t *c,
			   const vd_query_msg_t *q, uint8_t *out)
{
	const char *text = NULL;
	if (name_is(q, "id.server") || name_is(q, "hostname.bind"))
		text = snap->server.identity;
	else if ((name_is(q, "version.bind") || name_is(q, "version.server")) &&
		 !snap->server.hide_version)
		text = snap->server.version;
	if (text == NULL || (q->qtype != VD_T_TXT && q->qtype != VD_T_ANY))
		return write_empty(out, reply_limit(c, q), q, snap,
				   VD_RCODE_REFUSED, -1, NULL);

	uint8_t rdata[256];
	size_t len = strlen(text);
	if (len > 255)
		len = 255;
	rdata[0] = (uint8_t)len;
	memcpy(rdata + 1, text, len);
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, reply_limit(c, q));
	vd_wbuf_reply_start(&w, q, reply_flags(q, VD_RCODE_NOERROR, true));
	vd_wbuf_rr(&w, 1, q->qname, VD_T_TXT, VD_C_CH, 0, rdata, (uint16_t)(len + 1));
	put_opt(&w, q, snap, VD_RCODE_NOERROR, -1, NULL);
	return w.err == 0 ? w.len : 0;
}

/* ---- forwarding -------------------------------------------------------- */

static pending_t *pending_get(vd_query_ctx_t *ctx)
{
	pending_t *p = ctx->free_list;
	if (p != NULL)
		ctx->free_list = p->next;
	else
		p = malloc(sizeof(*p));
	return p;
}

static void pending_put(vd_query_ctx_t *ctx, pending_t *p)
{
	vd_snap_unref(p->snap);
	p->snap = NULL;
	p->next = ctx->free_list;
	ctx->free_list = p;
	ctx->pending--;
}

/* Rewrites an upstream response for the client: its ID, its question as it
 * sent it, our flags and OPT, the local CNAME steps first, and every
 * upstream record but the upstream's OPT, re-encoded from the decompressed
 * form so nothing malformed passes through. */
static size_t write_forwarded(vd_query_ctx_t *ctx, const pending_t *p,
			      const uint8_t *resp, size_t len, uint8_t *out)
{
	const vd_query_msg_t *q = &p->q;
	size_t cap = reply_limit(&p->client, q);
	uint16_t uflags = vd_hdr_flags(resp);
	int rcode = VD_F_RCODE(uflags);
	uint16_t flags = reply_flags(q, rcode, false);
	vd_rr_iter_t it;
	vd_wbuf_t w;
	int r;

	/* AD only to clients that asked for DNSSEC-aware answers (RFC 6840). */
	if ((uflags & VD_F_AD) && (q->edns_do || (q->flags & VD_F_AD)))
		flags |= VD_F_AD;
	if (vd_rr_iter_init(&it, resp, len, NULL, NULL, NULL) != 0)
		return write_empty(out, cap, q, p->snap, VD_RCODE_SERVFAIL,
				   VD_EDE_NETWORK_ERROR, "malformed upstream reply");
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags);
	put_chain(ctx, &w, p->chain, p->nchain);
	while ((r = vd_rr_iter_next(&it, ctx->rr)) == 1) {
		const vd_rr_t *rr = ctx->rr;
		if (rr->type == VD_T_OPT)
			continue;
		vd_wbuf_rr(&w, rr->section, rr->owner, rr->type, rr->rclass,
			   rr->ttl, rr->rdata, (uint16_t)rr->rdlen);
	}
	if (r < 0)
		return write_empty(out, cap, q, p->snap, VD_RCODE_SERVFAIL,
				   VD_EDE_NETWORK_ERROR, "malformed upstream reply");
	put_opt(&w, q, p->snap, rcode, -1, NULL);
	if (w.err == 0)
		return w.len;
	ctx->stats.truncated++;
	return write_truncated(out, cap, q, p->snap, flags);
}

static void on_upstream(void *arg, int status, int ede, const uint8_t *resp,
			size_t len)
{
	pending_t *p = arg;
	vd_query_ctx_t *ctx = p->ctx;
	size_t n = 0;

	if (status == -ECANCELED) {
		p->client.respond(p->client.token, &p->client, NULL, 0);
		pending_put(ctx, p);
		return;
	}
	if (status != 0) {
		ctx->stats.servfail++;
		n = write_empty(ctx->out, reply_limit(&p->client, &p->q), &p->q,
				p->snap, VD_RCODE_SERVFAIL, ede, NULL);
	} else {
		n = write_forwarded(ctx, p, resp, len, ctx->out);
	}
	p->client.respond(p->client.token, &p->client, n ? ctx->out : NULL, n);
	pending_put(ctx, p);
}

static vd_qh_result_t forward(vd_query_ctx_t *ctx, vd_snap_t *snap,
			      const vd_query_client_t *c, const vd_query_msg_t *q,
			      const resolution_t *res, uint8_t *out, size_t *outlen)
{
	pending_t *p = pending_get(ctx);
	if (p == NULL)
		goto fail;
	p->ctx = ctx;
	p->client = *c;
	p->q = *q;
	p->nchain = res->nchain;
	memcpy(p->chain, res->chain, sizeof(step_t) * res->nchain);
	memcpy(p->fwd_name, res->fwd_name, vd_name_len(res->fwd_name));

	vd_fwd_query_t fq = {
		.group = res->group,
		.qname = p->fwd_name,
		.qtype = q->qtype,
		.qclass = q->qclass,
		.rd = (q->flags & VD_F_RD) != 0,
		.cd = (q->flags & VD_F_CD) != 0,
		.do_bit = q->edns_do,
		.timeout_ms = snap->server.upstream_timeout_ms,
	};
	if (vd_fwd_submit(ctx->fwd, &fq, on_upstream, p) != 0) {
		p->next = ctx->free_list;
		ctx->free_list = p;
		goto fail;
	}
	vd_snap_ref(snap);
	p->snap = snap;
	ctx->pending++;
	ctx->stats.forwarded++;
	return VD_QH_PENDING;
fail:
	ctx->stats.servfail++;
	*outlen = write_empty(out, reply_limit(c, q), q, snap, VD_RCODE_SERVFAIL,
			      VD_EDE_NOT_READY, "too many queries in flight");
	return *outlen ? VD_QH_REPLY : VD_QH_DROP;
}

/* ---- entry point ------------------------------------------------------- */

static vd_qh_result_t reply(size_t n, size_t *outlen)
{
	*outlen = n;
	return n ? VD_QH_REPLY : VD_QH_DROP;
}

vd_qh_result_t vd_query_handle(vd_query_ctx_t *ctx, vd_snap_t *snap,
			       const vd_query_client_t *c,
			       const uint8_t *pkt, size_t len,
			       uint8_t *out, size_t *outlen)
{
	vd_query_msg_t q;
	size_t cap;

	memset(&q, 0, sizeof(q));
	ctx->stats.queries++;
	if (c->tcp)
		ctx->stats.tcp++;
	else
		ctx->stats.udp++;
	vd_qp_result_t pr = vd_query_msg_parse(pkt, len, &q);
	cap = reply_limit(c, &q);
	switch (pr) {
	case VD_QP_DROP:
		ctx->stats.dropped++;
		return VD_QH_DROP;
	case VD_QP_FORMERR:
		ctx->stats.formerr++;
		q.qname_len = 0;   /* nothing trustworthy to echo */
		q.edns = false;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_FORMERR, -1, NULL),
			     outlen);
	case VD_QP_NOTIMP:
		ctx->stats.notimp++;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_NOTIMP, -1, NULL),
			     outlen);
	case VD_QP_BADVERS:
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_BADVERS, -1, NULL),
			     outlen);
	case VD_QP_OK:
		break;
	}

	int vi = vd_view_table_match(snap->view_table, (const struct sockaddr *)&c->addr);
	if (vi < 0) {
		ctx->stats.refused++;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_REFUSED,
					 VD_EDE_PROHIBITED, NULL), outlen);
	}
	if (q.qclass == VD_C_CH)
		return reply(answer_chaos(snap, c, &q, out), outlen);
	if (q.qtype == VD_T_AXFR || q.qtype == VD_T_IXFR || q.qclass != VD_C_IN) {
		ctx->stats.refused++;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_REFUSED, -1, NULL),
			     outlen);
	}
	if (q.qtype == VD_T_OPT) {
		ctx->stats.formerr++;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_FORMERR, -1, NULL),
			     outlen);
	}

	resolution_t res;
	resolve(&snap->views[vi], snap, &q, &res);
	if (res.group != NULL)
		return forward(ctx, snap, c, &q, &res, out, outlen);
	if (res.refused) {
		ctx->stats.refused++;
		return reply(write_empty(out, cap, &q, snap, VD_RCODE_REFUSED,
					 VD_EDE_PROHIBITED, "no forward rule"), outlen);
	}
	ctx->stats.local++;
	if (res.rcode == VD_RCODE_NXDOMAIN)
		ctx->stats.nxdomain++;
	return reply(write_local(ctx, snap, c, &q, &res, out), outlen);
}
