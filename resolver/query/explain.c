/*
 * Answers that describe or derive from a view's data rather than serve a
 * zone: "explain" (dig -c CH TXT <name> tells the asking client how an IN
 * A query for <name> would be answered: its view, its AZ, each routing step
 * with the zone file or forward rule and upstream group, and the snapshot
 * generation), and PTR answers naming the endpoint that owns an address.
 * Explain walks the same routing map and zone lookups as a real query;
 * it only reports instead of answering.
 */
#include "query_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "vpcdns/util.h"

#define EXPLAIN_STEPS 16

/* One TXT record of up to 255 characters. */
static void put_line(vd_wbuf_t *w, const vd_query_msg_t *q, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put_line(vd_wbuf_t *w, const vd_query_msg_t *q, const char *fmt, ...)
{
	uint8_t rdata[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf((char *)rdata + 1, 255, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > 254)
		n = 254;
	rdata[0] = (uint8_t)n;
	vd_wbuf_rr(w, 1, q->qname, VD_T_TXT, VD_C_CH, 0, rdata, (uint16_t)(n + 1));
}

/* Which view a zone in v's routing map comes from. */
static const char *zone_owner(const vd_snap_t *s, const vd_view_t *v, const vd_zone_t *z)
{
	for (size_t i = 0; i < v->nzones; i++)
		if (v->zones[i] == z)
			return NULL;
	for (size_t k = 0; k < v->nincludes; k++) {
		const vd_view_t *inc = &s->views[v->includes[k]];
		for (size_t i = 0; i < inc->nzones; i++)
			if (inc->zones[i] == z)
				return inc->name;
	}
	return NULL;
}

static void put_servers(char *buf, size_t len, const vd_group_t *g)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < g->nservers && off + 2 < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
				 g->servers[i].text ? g->servers[i].text : "?");
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static void explain_zone(vd_wbuf_t *w, const vd_rctx_t *rc, const char *name,
			 const vd_zone_t *z, vd_zl_result_t r, const vd_rrset_t *rs,
			 bool wild)
{
	static const char *const what[] = {
		[VD_ZL_ANSWER] = "answer", [VD_ZL_CNAME] = "CNAME",
		[VD_ZL_NODATA] = "NODATA (name exists, no A), SOA in authority",
		[VD_ZL_NXDOMAIN] = "NXDOMAIN (fallback nxdomain), SOA in authority",
		[VD_ZL_FALLBACK] = "not in zone (fallback forward): looking above the zone",
	};
	char apex[VD_NAME_TEXT];
	const char *from = zone_owner(rc->snap, rc->view, z);
	vd_name_to_text(vd_zone_apex(z), apex, sizeof(apex));
	put_line(w, rc->q, "%s: zone %s (%s%s%s): %s%s%s", name, apex, vd_zone_path(z),
		 from ? ", included from view " : "", from ? from : "", what[r],
		 wild ? " from a wildcard" : "",
		 r == VD_ZL_ANSWER && rs && rs->count > 1 ? ", records ordered by AZ/rotated" : "");
}

size_t vd_query_write_explain(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out)
{
	const vd_view_t *v = rc->view;
	const vd_query_msg_t *q = rc->q;
	static const char *const aff[] = { "prefer", "only", "off" };
	size_t cap = vd_query_reply_limit(rc->client, q);
	uint16_t flags = vd_query_reply_flags(q, VD_RCODE_NOERROR, true);
	char addr[64], name[VD_NAME_TEXT];
	uint8_t lc[VD_NAME_MAX];
	vd_wbuf_t w;

	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags);
	const struct sockaddr *sa = (const struct sockaddr *)&rc->client->addr;
	int az = vd_view_client_az(v, sa);
	vd_addr_fmt(sa, addr, sizeof(addr));
	put_line(&w, q, "view %s; client %s; az %s (az_affinity %s); generation %llu",
		 v->name, addr, az >= 0 ? v->az_ids[az] : "none",
		 aff[v->az_affinity], (unsigned long long)rc->snap->generation);

	const uint8_t *cur = q->qname;
	unsigned max_labels = UINT_MAX;
	vd_name_lower(lc, cur);
	for (int step = 0; step < EXPLAIN_STEPS; step++) {
		vd_name_to_text(cur, name, sizeof(name));
		const vd_route_entry_t *e = vd_view_route(v, lc, max_labels);
		if (e == NULL) {
			put_line(&w, q, "%s: no zone and no forward rule: REFUSED", name);
			break;
		}
		if (e->group >= 0) {
			const vd_group_t *g = &rc->snap->groups[e->group];
			char rule[VD_NAME_TEXT], servers[200];
			vd_name_to_text(e->name, rule, sizeof(rule));
			put_servers(servers, sizeof(servers), g);
			put_line(&w, q, "%s: forward rule '%s' -> upstream group '%s' (%s)",
				 name, rule, g->name, servers);
			break;
		}
		const vd_rrset_t *rs = NULL;
		const vd_zone_t *zone = NULL;
		bool wild = false;
		vd_zl_result_t r = vd_route_lookup(e, lc, VD_T_A, &rs, &wild, &zone);
		explain_zone(&w, rc, name, zone, r, rs, wild);
		if (r == VD_ZL_FALLBACK) {
			max_labels = vd_name_labels(vd_zone_apex(e->zone));
			if (max_labels-- == 0)
				break;
			continue;
		}
		if (r != VD_ZL_CNAME)
			break;
		cur = rs->rdata[0];
		vd_name_lower(lc, cur);
		max_labels = UINT_MAX;
	}
	vd_query_put_opt(&w, q, rc->snap, VD_RCODE_NOERROR, -1, NULL);
	if (w.err == 0)
		return w.len;
	/* Too long for this client's UDP size: TC sends it to TCP. */
	ctx->stats.truncated++;
	return vd_query_write_truncated(out, cap, q, rc->snap, flags, -1);
}

size_t vd_query_write_ptr(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out)
{
	const vd_query_msg_t *q = rc->q;
	uint8_t addr[16];
	int family;
	vd_wbuf_t w;
	(void)ctx;

	if (vd_name_reverse_addr(q->qname, &family, addr) != 0)
		return 0;
	const uint8_t *name = vd_view_ptr(rc->view, family, addr);
	if (name == NULL)
		return 0;
	vd_wbuf_init(&w, out, vd_query_reply_limit(rc->client, q));
	vd_wbuf_reply_start(&w, q, vd_query_reply_flags(q, VD_RCODE_NOERROR, true));
	vd_wbuf_rr(&w, 1, q->qname, VD_T_PTR, VD_C_IN, 60, name, (uint16_t)vd_name_len(name));
	vd_query_put_opt(&w, q, rc->snap, VD_RCODE_NOERROR, -1, NULL);
	return w.err == 0 ? w.len : 0;
}
