/*
 * The query path's one door into guard/: after the view is known, charge
 * the query to its client prefix's bucket and, over the limit, turn it
 * into silence, a TC=1 reply (every slip-th) or, for a verified client
 * (TCP), REFUSED. Allocates nothing: the table was sized when the
 * snapshot was installed (vd_query_snap_changed).
 */
#include "query_int.h"

#include "vpcdns/util.h"

bool vd_query_admit(vd_query_ctx_t *ctx, const vd_snap_t *snap,
		    const vd_query_client_t *c, const vd_query_msg_t *q, int vi,
		    uint8_t *out, size_t *outlen, vd_qh_result_t *res)
{
	const vd_guard_rl_conf_t *rc;
	vd_guard_class_t cls = c->tcp ? VD_GUARD_VERIFIED : VD_GUARD_UDP;
	size_t cap = vd_query_reply_limit(c, q), n = 0;

	if (ctx->rl == NULL)
		return true;
	rc = vi >= 0 ? &snap->view_rate_limit[vi] : &snap->server.rate_limit;
	if (!rc->enabled)
		return true;
	switch (vd_guard_rl_check(ctx->rl, rc, (const struct sockaddr *)&c->addr, vi,
				  cls, vd_now_ms())) {
	case VD_GUARD_PASS:
		return true;
	case VD_GUARD_SLIP:
		ctx->stats.ratelimited++;
		ctx->stats.slipped++;
		n = vd_query_write_truncated(
			out, cap, q, snap,
			vd_query_reply_flags(q, VD_RCODE_NOERROR, false), -1);
		break;
	case VD_GUARD_LIMIT:
		ctx->stats.ratelimited++;
		/* A verified source gets an answer it can act on; it cannot
		 * be a reflection. */
		if (cls == VD_GUARD_VERIFIED) {
			ctx->stats.refused++;
			n = vd_query_write_empty(out, cap, q, snap, VD_RCODE_REFUSED,
						 VD_EDE_PROHIBITED, "rate limited");
		}
		break;
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
