/*
 * Reply writers: local answers from precompiled RRsets, negative answers
 * with the zone's SOA, replies rebuilt from upstream or cached messages,
 * and the small replies (errors, truncation). Everything is written
 * straight into the caller's buffer; nothing is allocated. Local
 * resolution is the view's walk (vd_view_resolve); the upstream writer
 * uses it too, to complete CNAME chains that lead back into local data.
 */
#include "query_int.h"

#include <limits.h>
#include <string.h>

#include "vpcdns/util.h"

/* Over UDP, the client's buffer but never more than we advertise in our
 * own OPT: a 40-byte query must not buy a 64 KB answer (amplification);
 * TC sends a client that needs more to TCP. */
size_t vd_query_reply_limit(const vd_query_client_t *c, const vd_query_msg_t *q)
{
	size_t lim = UINT16_MAX;
	if (!c->tcp)
		lim = q->edns ? q->edns_udp : VD_QUERY_NO_EDNS_UDP;
	if (!c->tcp && lim > VD_EDNS_ADVERTISE)
		lim = VD_EDNS_ADVERTISE;
	if (c->max_reply != 0 && lim > c->max_reply)
		lim = c->max_reply;
	return lim;
}

uint16_t vd_query_reply_flags(const vd_query_msg_t *q, int rcode, bool aa)
{
	uint16_t op = (uint16_t)(VD_F_OPCODE(q->flags) << 11);
	/* An opcode we do not implement: its flag bits may mean something
	 * else, so echo none and claim nothing (RA, AA) about the answer. */
	if (VD_F_OPCODE(q->flags) != VD_OPCODE_QUERY)
		return VD_F_QR | op | (uint16_t)(rcode & 0xf);
	uint16_t f = VD_F_QR | VD_F_RA | (q->flags & (VD_F_RD | VD_F_CD)) | op;
	if (aa)
		f |= VD_F_AA;
	return f | (uint16_t)(rcode & 0xf);
}

void vd_query_put_opt(vd_wbuf_t *w, const vd_query_msg_t *q, const vd_snap_t *snap,
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
	if (q->cookie_len != 0) {
		o.cookie = q->cookie;
		o.cookie_len = q->cookie_len;
	}
	vd_wbuf_opt(w, &o);
}

size_t vd_query_write_empty(uint8_t *out, size_t cap, const vd_query_msg_t *q,
			    const vd_snap_t *snap, int rcode, int ede, const char *text)
{
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, vd_query_reply_flags(q, rcode, false));
	vd_query_put_opt(&w, q, snap, rcode, ede, text);
	return w.err == 0 ? w.len : 0;
}

size_t vd_query_write_truncated(uint8_t *out, size_t cap, const vd_query_msg_t *q,
				const vd_snap_t *snap, uint16_t flags, int ede)
{
	vd_wbuf_t w;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags | VD_F_TC);
	vd_query_put_opt(&w, q, snap, VD_F_RCODE(flags), ede, NULL);
	return w.err == 0 ? w.len : 0;
}

static void put_record(vd_wbuf_t *w, int section, const uint8_t *owner,
		       const vd_rrset_t *rs, uint32_t ttl, unsigned k)
{
	vd_wbuf_rr(w, section, owner, rs->type, rs->rclass, ttl, rs->rdata[k],
		   rs->rdlen[k]);
}

/* The client's AZ, looked up on the first RRset of a reply that needs it
 * and kept for the rest of that reply. */
static int reply_az(vd_query_ctx_t *ctx, const vd_rctx_t *rc)
{
	if (ctx->reply_az == VD_QUERY_AZ_UNSET)
		ctx->reply_az = vd_view_client_az(
			rc->view, (const struct sockaddr *)&rc->client->addr);
	return ctx->reply_az;
}

/* An RRset; several A/AAAA records rotate between answers, and when the
 * client's AZ is known its addresses come first ("prefer") or alone
 * ("only", unless it has none). The order for each AZ was computed when
 * the snapshot was built; a query only rotates within its two parts. */
static void put_rrset(vd_query_ctx_t *ctx, const vd_rctx_t *rc, vd_wbuf_t *w,
		      int section, const uint8_t *owner, const vd_rrset_t *rs,
		      uint32_t ttl)
{
	const vd_az_rrset_t *e = NULL;
	unsigned n = rs->count, start = 0;
	int az = -1;

	if (n > 1 && (rs->type == VD_T_A || rs->type == VD_T_AAAA)) {
		start = ctx->rotate++;
		/* The client's AZ is looked up only for an RRset that has AZ
		 * data, so other answers never pay for it. */
		if (rc != NULL && vd_view_az_affinity(rc->view) != VD_AZ_OFF &&
		    (e = vd_view_rrset_az(rc->view, rs)) != NULL)
			az = reply_az(ctx, rc);
	}
	unsigned own = az >= 0 ? e->nown[az] : 0;
	if (own == 0 || own == n) {
		for (unsigned i = 0; i < n; i++)
			put_record(w, section, owner, rs, ttl, (start + i) % n);
		return;
	}
	const uint16_t *row = e->order + (size_t)az * n;
	for (unsigned i = 0; i < own; i++)
		put_record(w, section, owner, rs, ttl, row[(start + i) % own]);
	if (vd_view_az_affinity(rc->view) == VD_AZ_ONLY)
		return;
	for (unsigned i = 0; i < n - own; i++)
		put_record(w, section, owner, rs, ttl,
			   row[own + (start + i) % (n - own)]);
}

static void put_chain(vd_query_ctx_t *ctx, const vd_rctx_t *rc, vd_wbuf_t *w,
		      const vd_step_t *chain, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put_rrset(ctx, rc, w, 1, chain[i].owner, chain[i].rrset,
			  chain[i].rrset->ttl);
}

/* Negative answers carry the zone's SOA with TTL min(SOA TTL, MINIMUM). */
static void put_local_tail(vd_query_ctx_t *ctx, const vd_rctx_t *rc, vd_wbuf_t *w,
			   const vd_resolution_t *res)
{
	const vd_view_res_t *r = &res->walk;

	put_chain(ctx, rc, w, r->chain, r->nchain);
	if (r->soa_zone != NULL)
		put_rrset(ctx, rc, w, 2, vd_zone_apex(r->soa_zone),
			  vd_zone_soa(r->soa_zone), vd_zone_neg_ttl(r->soa_zone));
}

/* ---- local resolution -------------------------------------------------- */

void vd_query_resolve(const vd_view_t *v, const vd_snap_t *snap, const uint8_t *name,
		      uint16_t qtype, vd_resolution_t *res)
{
	vd_view_resolve(v, name, qtype, &res->walk, NULL, NULL);
	res->group = res->walk.group >= 0 ? &snap->groups[res->walk.group] : NULL;
	res->fwd_name = res->walk.fwd_name;
}

size_t vd_query_write_local(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			    const vd_resolution_t *res, uint8_t *out)
{
	size_t cap = vd_query_reply_limit(rc->client, rc->q);
	uint16_t flags = vd_query_reply_flags(rc->q, res->walk.rcode, true);
	vd_wbuf_t w;

	ctx->reply_az = VD_QUERY_AZ_UNSET;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, rc->q, flags);
	put_local_tail(ctx, rc, &w, res);
	vd_query_put_opt(&w, rc->q, rc->snap, res->walk.rcode, -1, NULL);
	if (w.err == 0)
		return w.len;
	ctx->stats.truncated++;
	return vd_query_write_truncated(out, cap, rc->q, rc->snap, flags, -1);
}

/* ---- replies from upstream or cached messages ------------------------- */

/* Whether an upstream CNAME target is answered by this view's local data;
 * then res holds that local resolution. */
static bool completes_locally(const vd_rctx_t *rc, const uint8_t *target,
			      vd_resolution_t *res)
{
	if (rc->view == NULL)
		return false;
	vd_query_resolve(rc->view, rc->snap, target, rc->q->qtype, res);
	return res->group == NULL && !res->walk.refused;
}

size_t vd_query_write_message(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			      const uint8_t *msg, size_t len, uint32_t age, bool stale,
			      int ede, uint8_t *out)
{
	const vd_query_msg_t *q = rc->q;
	size_t cap = vd_query_reply_limit(rc->client, q);
	uint16_t uflags = vd_hdr_flags(msg);
	int rcode = VD_F_RCODE(uflags);
	uint16_t flags = vd_query_reply_flags(q, rcode, false);
	uint8_t current[VD_NAME_MAX];
	vd_resolution_t local;
	bool completed = false;
	vd_rr_iter_t it;
	vd_wbuf_t w;
	int r;

	/* AD only to clients that asked for DNSSEC-aware answers (RFC 6840). */
	if ((uflags & VD_F_AD) && (q->edns_do || (q->flags & VD_F_AD)))
		flags |= VD_F_AD;
	if (vd_rr_iter_init(&it, msg, len, NULL, NULL, NULL) != 0)
		goto malformed;
	memcpy(current, rc->fwd_name, vd_name_len(rc->fwd_name));
	ctx->reply_az = VD_QUERY_AZ_UNSET;
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags);
	put_chain(ctx, rc, &w, rc->chain, rc->nchain);
	while ((r = vd_rr_iter_next(&it, ctx->rr)) == 1) {
		const vd_rr_t *rr = ctx->rr;
		if (rr->type == VD_T_OPT || completed)
			continue;
		uint32_t ttl = stale ? VD_CACHE_STALE_TTL
				     : vd_cache_ttl_left(rr->ttl, age);
		vd_wbuf_rr(&w, rr->section, rr->owner, rr->type, rr->rclass, ttl,
			   rr->rdata, (uint16_t)rr->rdlen);
		if (rr->section == 1 && rr->type == VD_T_CNAME &&
		    vd_name_equal(rr->owner, current)) {
			memcpy(current, rr->rdata, rr->rdlen);
			if (vd_query_fw_redirect(ctx, rc, current))
				return vd_query_fw_write_block(ctx, rc, out);
			completed = completes_locally(rc, current, &local);
		}
	}
	if (r < 0)
		goto malformed;
	if (completed) {
		/* The rest of the answer is this view's own data. */
		put_local_tail(ctx, rc, &w, &local);
		rcode = local.walk.rcode;
		flags = (uint16_t)((flags & ~0xf) | rcode);
		if (w.err == 0)
			vd_set16(out + 2, flags);
	}
	vd_query_put_opt(&w, q, rc->snap, rcode, ede, NULL);
	if (w.err == 0)
		return w.len;
	ctx->stats.truncated++;
	return vd_query_write_truncated(out, cap, q, rc->snap, flags, ede);
malformed:
	return vd_query_write_empty(out, cap, q, rc->snap, VD_RCODE_SERVFAIL,
				    VD_EDE_NETWORK_ERROR, "malformed upstream reply");
}
