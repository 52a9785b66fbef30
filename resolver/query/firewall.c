/*
 * The DNS firewall on the query path: the question, then each CNAME
 * target (local chain steps and upstream answers) is checked against the
 * view's rule groups until a rule decides; the decision is recorded in
 * the reply context for the statistics and the query log, and a block
 * rule's response replaces the answer. Alert and block decisions are
 * logged, at most VD_QUERY_FW_LOG_PER_SEC lines a second per worker.
 */
#include "query_int.h"

#include <string.h>

#include "vpcdns/util.h"

static void log_match(vd_query_ctx_t *ctx, const vd_rctx_t *rc, const uint8_t *name)
{
	char addr[64], text[VD_NAME_TEXT];
	uint64_t sec = vd_now_ms() / 1000;

	if (vd_log_get_level() < VD_LOG_INFO)
		return;
	if (sec != ctx->fw_log_sec) {
		ctx->fw_log_sec = sec;
		ctx->fw_log_lines = 0;
	}
	if (ctx->fw_log_lines >= VD_QUERY_FW_LOG_PER_SEC) {
		ctx->fw_log_dropped++;
		return;
	}
	ctx->fw_log_lines++;
	vd_log(VD_LOG_INFO,
	       "firewall: %s %s type %u from %s (view %s, rule group %s, list %s)"
	       "%s%.0llu%s",
	       vd_fw_action_name(rc->fw->rule->action),
	       vd_name_to_text(name, text, sizeof(text)), rc->q->qtype,
	       vd_addr_fmt((const struct sockaddr *)&rc->client->addr, addr,
			   sizeof(addr)),
	       vd_view_name(rc->view), rc->fw->group->name, rc->fw->rule->list_name,
	       ctx->fw_log_dropped ? "; " : "", (unsigned long long)ctx->fw_log_dropped,
	       ctx->fw_log_dropped ? " earlier lines not logged" : "");
	ctx->fw_log_dropped = 0;
}

/* Checks one name (any case); true when a rule decided. */
static bool check(vd_query_ctx_t *ctx, const vd_rctx_t *rc, const uint8_t *name,
		  bool redirect)
{
	uint8_t lc[VD_NAME_MAX];

	vd_name_lower(lc, name);
	if (!vd_fw_check(rc->fw_set, lc, rc->q->qtype, redirect, rc->fw))
		return false;
	ctx->log_fw = *rc->fw;
	switch (rc->fw->rule->action) {
	case VD_FW_ALLOW:
		ctx->stats.fw_allow++;
		return true;
	case VD_FW_ALERT:
		ctx->stats.fw_alert++;
		break;
	case VD_FW_BLOCK:
		ctx->stats.fw_block++;
		break;
	}
	log_match(ctx, rc, name);
	return true;
}

static bool active(const vd_rctx_t *rc)
{
	return rc->fw != NULL && rc->fw->rule == NULL && rc->fw_set != NULL &&
	       rc->fw_set->ngroups > 0;
}

static bool blocked(const vd_rctx_t *rc)
{
	return rc->fw->rule->action == VD_FW_BLOCK;
}

bool vd_query_fw_inspect(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			 const vd_resolution_t *res)
{
	if (!active(rc))
		return false;
	if (res == NULL)
		return check(ctx, rc, rc->q->qname, false) && blocked(rc);
	for (unsigned i = 0; i < res->walk.nchain; i++) {
		const vd_rrset_t *rs = res->walk.chain[i].rrset;
		if (rs->type != VD_T_CNAME || rs->count == 0 ||
		    rc->q->qtype == VD_T_CNAME)
			continue;
		if (check(ctx, rc, rs->rdata[0], true))
			return blocked(rc);
	}
	return false;
}

bool vd_query_fw_redirect(vd_query_ctx_t *ctx, const vd_rctx_t *rc,
			  const uint8_t *target)
{
	return active(rc) && check(ctx, rc, target, true) && blocked(rc);
}

/* The override CNAME as the first step, then the view's walk for its
 * target (at most VD_QUERY_CHAIN_MAX steps in all). */
static void override_walk(const vd_rctx_t *rc, vd_resolution_t *res)
{
	const vd_fw_rule_t *r = rc->fw->rule;
	vd_view_res_t *w = &res->walk;

	vd_query_resolve(rc->view, rc->snap, r->override, rc->q->qtype, res);
	if (w->nchain > VD_QUERY_CHAIN_MAX)
		w->nchain = VD_QUERY_CHAIN_MAX;
	memmove(&w->chain[1], &w->chain[0], w->nchain * sizeof(w->chain[0]));
	w->chain[0].owner = rc->q->qname;
	w->chain[0].rrset = r->override_rrset;
	w->nchain++;
}

size_t vd_query_fw_write_block(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out)
{
	const vd_fw_rule_t *r = rc->fw->rule;
	vd_resolution_t res;

	if (r->block != VD_FW_OVERRIDE)
		return vd_query_write_empty(
			out, vd_query_reply_limit(rc->client, rc->q), rc->q, rc->snap,
			r->block == VD_FW_NXDOMAIN ? VD_RCODE_NXDOMAIN
						   : VD_RCODE_NOERROR,
			-1, NULL);
	override_walk(rc, &res);
	if (res.group != NULL || res.walk.refused) {
		/* Not local data: the CNAME alone. */
		res.walk.nchain = 1;
		res.walk.rcode = VD_RCODE_NOERROR;
		res.walk.soa_zone = NULL;
	}
	return vd_query_write_local(ctx, rc, &res, out);
}

vd_qh_result_t vd_query_fw_block(vd_query_ctx_t *ctx, vd_snap_t *snap,
				 const vd_rctx_t *rc, uint8_t *out, size_t *outlen)
{
	const vd_fw_rule_t *r = rc->fw->rule;
	vd_resolution_t res;

	if (r->block == VD_FW_OVERRIDE) {
		override_walk(rc, &res);
		if (res.group != NULL) {
			vd_rctx_t frc = *rc;
			frc.chain = res.walk.chain;
			frc.nchain = res.walk.nchain;
			frc.fwd_name = res.fwd_name;
			return vd_query_forward(ctx, snap, &frc, &res, out, outlen);
		}
	}
	*outlen = vd_query_fw_write_block(ctx, rc, out);
	return *outlen ? VD_QH_REPLY : VD_QH_DROP;
}
