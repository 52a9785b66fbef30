/*
 * The query path's one door into guard/: after the view is known, check
 * the client's DNS cookie and put our fresh server cookie in its place for
 * the reply, then charge the query to its client prefix's bucket. Over
 * the limit a UDP query is dropped, slipped (TC=1) or, when it carries a
 * client cookie, answered BADCOOKIE with a fresh cookie so that a real
 * client can come back verified; a verified query (TCP, or a valid
 * server cookie) is charged to the higher limit and, past it, refused.
 * Allocates nothing: the table was sized when the snapshot was installed
 * (vd_query_snap_changed).
 */
#include "query_int.h"

#include <time.h>

#include "vpcdns/util.h"

/* Checks the query's server cookie and replaces it with a fresh one.
 * Returns whether it was valid. */
static bool cookie_step(vd_query_ctx_t *ctx, const vd_snap_t *snap,
			const vd_query_client_t *c, vd_query_msg_t *q)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	const vd_guard_cookie_conf_t *cc = &snap->server.cookies;
	uint32_t now = (uint32_t)time(NULL);
	uint8_t key[16];
	bool valid;

	ctx->stats.cookies++;
	valid = q->cookie_len > VD_COOKIE_CLIENT_LEN &&
		vd_guard_cookie_valid(cc, q->cookie, q->cookie + VD_COOKIE_CLIENT_LEN,
				      q->cookie_len - VD_COOKIE_CLIENT_LEN, sa, now);
	if (valid)
		ctx->stats.cookies_valid++;
	vd_guard_cookie_key(cc, now, key);
	vd_guard_cookie_make(key, q->cookie, now, sa, q->cookie + VD_COOKIE_CLIENT_LEN);
	q->cookie_len = VD_COOKIE_CLIENT_LEN + VD_COOKIE_SERVER_LEN;
	return valid;
}

bool vd_query_admit(vd_query_ctx_t *ctx, const vd_snap_t *snap,
		    const vd_query_client_t *c, vd_query_msg_t *q, int vi, uint8_t *out,
		    size_t *outlen, vd_qh_result_t *res)
{
	const vd_guard_rl_conf_t *rc;
	bool verified = c->tcp;
	size_t cap = vd_query_reply_limit(c, q), n = 0;

	if (q->cookie_len != 0 && cookie_step(ctx, snap, c, q))
		verified = true;
	if (ctx->rl == NULL)
		return true;
	rc = vi >= 0 ? &snap->view_rate_limit[vi] : &snap->server.rate_limit;
	if (!rc->enabled)
		return true;
	vd_guard_verdict_t v = vd_guard_rl_check(
		ctx->rl, rc, (const struct sockaddr *)&c->addr, vi,
		verified ? VD_GUARD_VERIFIED : VD_GUARD_UDP, vd_now_ms());
	if (v == VD_GUARD_PASS)
		return true;
	ctx->stats.ratelimited++;
	if (verified) {
		/* A verified source gets an answer it can act on; it cannot
		 * be a reflection. */
		ctx->stats.refused++;
		n = vd_query_write_empty(out, cap, q, snap, VD_RCODE_REFUSED,
					 VD_EDE_PROHIBITED, "rate limited");
	} else if (q->cookie_len != 0) {
		/* RFC 7873 5.2.3/5.2.4: a client that sent a cookie gets a
		 * fresh one to come back with, instead of silence. */
		ctx->stats.badcookie++;
		n = vd_query_write_empty(out, cap, q, snap, VD_RCODE_BADCOOKIE, -1,
					 NULL);
	} else if (v == VD_GUARD_SLIP) {
		ctx->stats.slipped++;
		n = vd_query_write_truncated(
			out, cap, q, snap,
			vd_query_reply_flags(q, VD_RCODE_NOERROR, false), -1);
	}
	*outlen = n;
	*res = n ? VD_QH_REPLY : VD_QH_DROP;
	return false;
}

int vd_query_guard_changed(vd_query_ctx_t *ctx, const vd_snap_t *snap)
{
	uint32_t slots = snap->rate_limit_any ? snap->server.rate_limit_slots : 0;

	if (slots == ctx->rl_slots)
		return 0;
	vd_guard_rl_free(ctx->rl);
	ctx->rl = NULL;
	ctx->rl_slots = 0;
	if (slots == 0)
		return 0;
	ctx->rl = vd_guard_rl_new(slots);
	if (ctx->rl == NULL)
		return -1;
	ctx->rl_slots = slots;
	return 0;
}
