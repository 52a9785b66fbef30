/*
 * Answers that describe or derive from a view's data rather than serve a
 * zone: "explain" (dig -c CH TXT [_<type>.]<name> tells the asking client
 * how an IN query of that type, A without the label, for <name> would be
 * answered: its view, its AZ, each routing step with the zone file or
 * forward rule and upstream group, the result, and the snapshot
 * generation), and PTR answers naming the endpoint that owns an address.
 * Explain is the real query's walk (vd_view_resolve) with a trace that
 * writes one line per step, so it cannot say anything the answer does not
 * do.
 */
#include "query_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "vpcdns/util.h"

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

/* Types an explain question can name with a leading "_<type>" label. */
static const struct {
	const char *name;
	uint16_t type;
} types[] = {
	{ "A", VD_T_A },     { "NS", VD_T_NS },	    { "CNAME", VD_T_CNAME },
	{ "SOA", VD_T_SOA }, { "PTR", VD_T_PTR },   { "MX", VD_T_MX },
	{ "TXT", VD_T_TXT }, { "AAAA", VD_T_AAAA }, { "SRV", VD_T_SRV },
	{ "SVCB", 64 },	     { "HTTPS", 65 },	    { "CAA", 257 },
	{ "ANY", VD_T_ANY },
};

static const char *type_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return "?";
}

/* "_aaaa.<name>" asks about <name> for AAAA; any other name about itself
 * for A. */
static const uint8_t *explain_question(const uint8_t *qname, uint16_t *qtype)
{
	size_t len = qname[0];

	*qtype = VD_T_A;
	if (len < 2 || qname[1] != '_')
		return qname;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].name) == len - 1 &&
		    strncasecmp((const char *)qname + 2, types[i].name, len - 1) == 0) {
			*qtype = types[i].type;
			return qname + 1 + len;
		}
	}
	return qname;
}

/* What the explain writer carries through the walk's trace. */
typedef struct explain {
	vd_wbuf_t *w;
	const vd_rctx_t *rc;
	uint16_t qtype;
	bool addrs; /* name the upstream servers' addresses */
} explain_t;

/* A zone file as explain names it: relative to server.directory, or by
 * its file name alone when it lies elsewhere; never an absolute path. */
static const char *shown_path(const vd_snap_t *snap, const char *path)
{
	const char *dir = snap->server.directory;
	size_t n = dir ? strlen(dir) : 0;
	const char *slash;

	if (n == 1 && dir[0] == '/' && path[0] == '/')
		return path + 1;
	if (n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/')
		return path + n + 1;
	slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void explain_zone(const explain_t *x, const char *name, const vd_view_trace_t *t)
{
	static const char *const what[] = {
		[VD_ZL_ANSWER] = "answer",
		[VD_ZL_CNAME] = "CNAME",
		[VD_ZL_NODATA] = "NODATA (name exists, no ",
		[VD_ZL_NXDOMAIN] = "NXDOMAIN (fallback nxdomain), SOA in authority",
		[VD_ZL_FALLBACK] =
			"not in zone (fallback forward): looking above the zone",
	};
	char apex[VD_NAME_TEXT], result[80];
	const char *from = vd_view_zone_from(x->rc->view, t->zone);
	const vd_rrset_t *rs = t->rrset;
	vd_name_to_text(vd_zone_apex(t->zone), apex, sizeof(apex));
	if (t->result == VD_ZL_NODATA)
		snprintf(result, sizeof(result), "%s%s), SOA in authority",
			 what[t->result], type_name(x->qtype));
	else
		snprintf(result, sizeof(result), "%s", what[t->result]);
	put_line(x->w, x->rc->q, "%s: zone %s (%s%s%s): %s%s%s", name, apex,
		 shown_path(x->rc->snap, vd_zone_path(t->zone)),
		 from ? ", included from view " : "", from ? from : "", result,
		 t->wildcard ? " from a wildcard" : "",
		 t->result == VD_ZL_ANSWER && rs && rs->count > 1 &&
				 (rs->type == VD_T_A || rs->type == VD_T_AAAA)
			 ? ", records ordered by AZ/rotated"
			 : "");
}

/* One line per step of the walk, as the walk takes it. */
static void explain_step(void *arg, const vd_view_trace_t *t)
{
	const explain_t *x = arg;
	const vd_query_msg_t *q = x->rc->q;
	char name[VD_NAME_TEXT];

	vd_name_to_text(t->name, name, sizeof(name));
	switch (t->kind) {
	case VD_VIEW_STEP_ZONE:
		explain_zone(x, name, t);
		break;
	case VD_VIEW_STEP_FORWARD: {
		const vd_group_t *g = &x->rc->snap->groups[t->group];
		char rule[VD_NAME_TEXT], servers[200];
		vd_name_to_text(t->rule, rule, sizeof(rule));
		if (!x->addrs) {
			put_line(x->w, q,
				 "%s: forward rule '%s' -> upstream group '%s'", name,
				 rule, g->name);
			break;
		}
		put_servers(servers, sizeof(servers), g);
		put_line(x->w, q, "%s: forward rule '%s' -> upstream group '%s' (%s)",
			 name, rule, g->name, servers);
		break;
	}
	case VD_VIEW_STEP_NONE:
		put_line(x->w, q, "%s: no zone and no forward rule: %s", name,
			 t->nchain ? "the answer ends with the CNAME chain"
				   : "REFUSED");
		break;
	case VD_VIEW_STEP_LOOP:
		put_line(x->w, q,
			 "%s: CNAME loop (already in the chain): the answer ends here",
			 name);
		break;
	case VD_VIEW_STEP_LIMIT:
		put_line(x->w, q,
			 "%s: CNAME chain longer than %d: the answer ends here", name,
			 VD_VIEW_CHAIN_MAX);
		break;
	}
}

/* The last line: what the reply to the real query carries. */
static void explain_result(const explain_t *x, const vd_view_res_t *res)
{
	static const char *const rcodes[] = { "NOERROR", "FORMERR", "SERVFAIL",
					      "NXDOMAIN" };
	char types_text[VD_VIEW_CHAIN_MAX * 8 + 8];
	size_t off = 0;

	if (res->group >= 0) {
		put_line(x->w, x->rc->q, "result: %sforwarded to upstream group '%s'",
			 res->nchain ? "CNAME chain from local data, then " : "",
			 x->rc->snap->groups[res->group].name);
		return;
	}
	if (res->refused) {
		put_line(x->w, x->rc->q, "result: REFUSED");
		return;
	}
	types_text[0] = '\0';
	for (unsigned i = 0; i < res->nchain && off + 8 < sizeof(types_text); i++) {
		int n = snprintf(types_text + off, sizeof(types_text) - off, " %s",
				 type_name(res->chain[i].rrset->type));
		if (n > 0)
			off += (size_t)n;
	}
	put_line(x->w, x->rc->q, "result: %s, answer%s%s", rcodes[res->rcode & 3],
		 res->nchain ? ":" : " empty", types_text);
}

size_t vd_query_write_explain(vd_query_ctx_t *ctx, const vd_rctx_t *rc, bool addrs,
			      uint8_t *out)
{
	const vd_view_t *v = rc->view;
	const vd_query_msg_t *q = rc->q;
	static const char *const aff[] = { "prefer", "only", "off" };
	size_t cap = vd_query_reply_limit(rc->client, q);
	uint16_t flags = vd_query_reply_flags(q, VD_RCODE_NOERROR, true);
	char addr[64], name[VD_NAME_TEXT];
	vd_view_res_t res;
	vd_wbuf_t w;
	explain_t x = { .w = &w, .rc = rc, .addrs = addrs };

	const uint8_t *asked = explain_question(q->qname, &x.qtype);
	vd_wbuf_init(&w, out, cap);
	vd_wbuf_reply_start(&w, q, flags);
	const struct sockaddr *sa = (const struct sockaddr *)&rc->client->addr;
	int az = vd_view_client_az(v, sa);
	vd_addr_fmt(sa, addr, sizeof(addr));
	const char *azid = vd_view_az_id(v, az);
	put_line(&w, q,
		 "view %s; client %s; az %s (az_affinity %s); generation %llu; type %s",
		 vd_view_name(v), addr, azid ? azid : "none",
		 aff[vd_view_az_affinity(v)], (unsigned long long)rc->snap->generation,
		 type_name(x.qtype));

	/* The same order as vd_query_handle: endpoint PTR data first. */
	const uint8_t *ptr = x.qtype == VD_T_PTR ? vd_query_ptr_target(v, asked) : NULL;
	if (ptr != NULL) {
		char target[VD_NAME_TEXT];
		vd_name_to_text(asked, name, sizeof(name));
		vd_name_to_text(ptr, target, sizeof(target));
		put_line(&w, q, "%s: endpoint address in the view's zone data: PTR %s",
			 name, target);
		put_line(&w, q, "result: NOERROR, answer: PTR");
	} else {
		vd_view_resolve(v, asked, x.qtype, &res, explain_step, &x);
		explain_result(&x, &res);
	}
	vd_query_put_opt(&w, q, rc->snap, VD_RCODE_NOERROR, -1, NULL);
	if (w.err == 0)
		return w.len;
	/* Too long for this client's UDP size: TC sends it to TCP. */
	if (ctx != NULL)
		ctx->stats.truncated++;
	return vd_query_write_truncated(out, cap, q, rc->snap, flags, -1);
}

int vd_query_explain(const vd_snap_t *snap, const struct sockaddr *client,
		     const uint8_t *qname, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t pkt[VD_HDR_LEN + VD_NAME_MAX + 4];
	vd_query_client_t c = { .tcp = true };
	vd_query_msg_t q;
	vd_wbuf_t w;

	*outlen = 0;
	if (cap < UINT16_MAX)
		return VD_ESPACE;
	/* The question dig sends: one CH TXT query with RD, no EDNS. */
	vd_wbuf_init(&w, pkt, sizeof(pkt));
	vd_wbuf_u16(&w, 0);
	vd_wbuf_u16(&w, VD_F_RD);
	vd_wbuf_u16(&w, 1);
	vd_wbuf_bytes(&w, "\0\0\0\0\0\0", 6);
	vd_wbuf_name_raw(&w, qname);
	vd_wbuf_u16(&w, VD_T_TXT);
	vd_wbuf_u16(&w, VD_C_CH);
	if (w.err != 0 || vd_query_msg_parse(pkt, w.len, &q) != VD_QP_OK)
		return VD_EMALF;
	memcpy(&c.addr, client, vd_addr_len(client));
	int vi = vd_view_table_match(snap->view_table, client);
	if (vi < 0)
		return VD_ENOTFOUND;
	vd_rctx_t rc = { .snap = snap, .view = snap->views[vi], .client = &c, .q = &q };
	*outlen = vd_query_write_explain(NULL, &rc, true, out);
	return *outlen ? 0 : VD_ESPACE;
}

const uint8_t *vd_query_ptr_target(const vd_view_t *v, const uint8_t *qname)
{
	uint8_t addr[16];
	int family;

	if (!vd_view_has_ptr(v) || vd_name_reverse_addr(qname, &family, addr) != 0)
		return NULL;
	return vd_view_ptr(v, family, addr);
}

size_t vd_query_write_ptr(vd_query_ctx_t *ctx, const vd_rctx_t *rc, uint8_t *out)
{
	const vd_query_msg_t *q = rc->q;
	vd_wbuf_t w;
	(void)ctx;

	const uint8_t *name = vd_query_ptr_target(rc->view, q->qname);
	if (name == NULL)
		return 0;
	vd_wbuf_init(&w, out, vd_query_reply_limit(rc->client, q));
	vd_wbuf_reply_start(&w, q, vd_query_reply_flags(q, VD_RCODE_NOERROR, true));
	vd_wbuf_rr(&w, 1, q->qname, VD_T_PTR, VD_C_IN, 60, name,
		   (uint16_t)vd_name_len(name));
	vd_query_put_opt(&w, q, rc->snap, VD_RCODE_NOERROR, -1, NULL);
	return w.err == 0 ? w.len : 0;
}
