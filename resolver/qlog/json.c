/*
 * Route 53 Resolver query-log JSON: one object per line with the fields
 * AWS writes (version "1.100000", account_id, region, vpc_id,
 * query_timestamp, query_name with its trailing dot, query_type,
 * query_class, rcode, answers [{Rdata, Type, Class}], srcaddr, srcport as
 * a string, transport, srcids) and vpcdns's own facts in one "vpcdns"
 * object, which AWS parsers ignore. Values the view does not know
 * (account_id, region, vpc_id) are null; srcids is {} as Route 53 writes
 * it when the instance is unknown. Also the record decoder the other
 * formats share. Runs on the writer thread only.
 */
#include "qlog_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool err;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n)
{
	if (b->err || b->len + n >= b->cap) {
		b->err = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(sbuf_t *b, const char *s)
{
	put(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->err = true;
	else
		b->len += (size_t)n;
}

/* Bytes a JSON string cannot hold as they are: control characters, DEL,
 * the quote and the backslash. */
static bool json_special(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '"' || c == '\\';
}

static void put_esc(sbuf_t *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		char e[2] = { '\\', (char)c };
		put(b, e, 2);
	} else {
		char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		put(b, e, 6);
	}
}

/* s[0..n) inside a JSON string: runs of plain bytes copied at once. */
static void put_esc_n(sbuf_t *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && !json_special((unsigned char)s[j]))
			j++;
		put(b, s + i, j - i);
		if (j < n)
			put_esc(b, (unsigned char)s[j++]);
		i = j;
	}
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_str(sbuf_t *b, const char *s)
{
	put(b, "\"", 1);
	put_esc_n(b, s, strlen(s));
	put(b, "\"", 1);
}

/* A decimal number, without printf. */
static void put_u(sbuf_t *b, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, t + i, sizeof(t) - i);
}

static void put_ip4(sbuf_t *b, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			put(b, ".", 1);
		put_u(b, a[i]);
	}
}

/* RFC 5952 text as glibc's inet_ntop writes it: the longest run of two
 * or more zero groups (the first of equal runs) becomes "::", and
 * ::ffff:a.b.c.d and ::a.b.c.d end in dotted quad. */
static void put_ip6(sbuf_t *b, const uint8_t *a)
{
	static const char hex[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, blen = 0, cur = -1, clen = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		if (w[i] == 0) {
			if (cur < 0)
				cur = i, clen = 0;
			clen++;
			if (clen > blen)
				best = cur, blen = clen;
		} else {
			cur = -1;
		}
	}
	if (blen < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + blen) {
			if (i == best)
				put(b, ":", 1);
			continue;
		}
		if (i)
			put(b, ":", 1);
		if (i == 6 && best == 0 &&
		    (blen == 6 || (blen == 5 && w[5] == 0xffff))) {
			put_ip4(b, a + 12);
			return;
		}
		char t[4];
		size_t n = 0;
		for (int sh = 12; sh >= 0; sh -= 4)
			if ((w[i] >> sh) || n || sh == 0)
				t[n++] = hex[(w[i] >> sh) & 15];
		put(b, t, n);
	}
	if (best >= 0 && best + blen == 8)
		put(b, ":", 1);
}

static void put_addr(sbuf_t *b, const vd_qlog_addr_t *a)
{
	if (a->family == AF_INET)
		put_ip4(b, a->addr);
	else if (a->family == AF_INET6)
		put_ip6(b, a->addr);
}

static void put_str_or_null(sbuf_t *b, const char *s)
{
	if (s == NULL || *s == '\0')
		puts_(b, "null");
	else
		put_str(b, s);
}

/* ---- names of things ---------------------------------------------------- */

const char *vd_qlog_type_name(uint16_t t, char *buf, size_t len)
{
	static const struct {
		uint16_t t;
		const char *name;
	} types[] = {
		{ 1, "A" },	  { 2, "NS" },	   { 5, "CNAME" },  { 6, "SOA" },
		{ 12, "PTR" },	  { 13, "HINFO" }, { 15, "MX" },    { 16, "TXT" },
		{ 28, "AAAA" },	  { 33, "SRV" },   { 35, "NAPTR" }, { 39, "DNAME" },
		{ 41, "OPT" },	  { 43, "DS" },	   { 46, "RRSIG" }, { 47, "NSEC" },
		{ 48, "DNSKEY" }, { 50, "NSEC3" }, { 52, "TLSA" },  { 64, "SVCB" },
		{ 65, "HTTPS" },  { 99, "SPF" },   { 251, "IXFR" }, { 252, "AXFR" },
		{ 255, "ANY" },	  { 257, "CAA" },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].t == t)
			return types[i].name;
	snprintf(buf, len, "TYPE%u", t);
	return buf;
}

static const char *class_name(uint16_t c, char *buf, size_t len)
{
	switch (c) {
	case 1:
		return "IN";
	case 3:
		return "CH";
	case 4:
		return "HS";
	case 255:
		return "ANY";
	default:
		snprintf(buf, len, "CLASS%u", c);
		return buf;
	}
}

const char *vd_qlog_rcode_name(int rcode, char *buf, size_t len)
{
	static const char *const names[] = {
		"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
	};
	if (rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(names[0])))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

const char *vd_qlog_addr_text(const vd_qlog_addr_t *a, char *buf, size_t len)
{
	buf[0] = '\0';
	if (a->family == AF_INET || a->family == AF_INET6)
		inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->addr, buf,
			  (socklen_t)len);
	return buf;
}

/* ---- decoding ----------------------------------------------------------- */

static void read_opt(const vd_rr_t *rr, qrec_view_t *v)
{
	v->rcode |= (int)((rr->ttl >> 24) & 0xff) << 4;
	for (size_t o = 0; o + 4 <= rr->rdlen;) {
		uint16_t code = vd_get16(rr->rdata + o),
			 olen = vd_get16(rr->rdata + o + 2);
		if (o + 4 + olen > rr->rdlen)
			break;
		if (code == VD_EDNS_EDE && olen >= 2 && v->ede < 0)
			v->ede = vd_get16(rr->rdata + o + 4);
		o += 4 + (size_t)olen;
	}
}

void vd_qlog_decode(const vd_qlog_rec_t *rec, vd_rr_t *rr, qrec_view_t *v)
{
	vd_rr_iter_t it;

	memset(v, 0, sizeof(*v));
	v->rcode = -1;
	v->ede = -1;
	if ((rec->flags & VD_QLOG_F_ANSWERED) && rec->rlen >= VD_HDR_LEN) {
		v->reply = rec->wire + rec->qlen;
		v->rlen = rec->rlen;
		v->rcode = VD_F_RCODE(vd_hdr_flags(v->reply));
		if (vd_rr_iter_init(&it, v->reply, v->rlen, v->qname, &v->qtype,
				    &v->qclass) == 0) {
			v->has_question = vd_hdr_qdcount(v->reply) == 1;
			while (vd_rr_iter_next(&it, rr) == 1) {
				if (rr->section == 1)
					v->nanswers++;
				else if (rr->section == 3 && rr->type == VD_T_OPT)
					read_opt(rr, v);
			}
		}
	}
	if (!v->has_question && (rec->flags & VD_QLOG_F_QUESTION) && rec->qlen > 0) {
		vd_query_msg_t q;
		vd_qp_result_t r = vd_query_msg_parse(rec->wire, rec->qlen, &q);
		if ((r == VD_QP_OK || r == VD_QP_BADVERS || r == VD_QP_NOTIMP) &&
		    q.qname_len > 0) {
			memcpy(v->qname, q.qname, q.qname_len);
			v->qtype = q.qtype;
			v->qclass = q.qclass;
			v->has_question = true;
		}
	}
}

/* ---- rdata in presentation form ------------------------------------------ */

/* Characters escaped with a backslash in presentation form (as
 * vd_name_to_text does). */
static bool name_special(unsigned char c)
{
	return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' ||
	       c == '@' || c == '$';
}

/* One escaped character of a name: "\c" or "\DDD", with the backslashes
 * (and a quote) escaped again when json. */
static void put_name_esc(sbuf_t *b, unsigned char c, bool json)
{
	char t[6];
	size_t n = 0;

	t[n++] = '\\';
	if (json)
		t[n++] = '\\';
	if (c > 0x20 && c < 0x7f) {
		if (json && (c == '"' || c == '\\'))
			t[n++] = '\\';
		t[n++] = (char)c;
	} else {
		t[n++] = (char)('0' + c / 100);
		t[n++] = (char)('0' + c / 10 % 10);
		t[n++] = (char)('0' + c % 10);
	}
	put(b, t, n);
}

/* The presentation form of a valid uncompressed name (what
 * vd_name_to_text writes), JSON-escaped when json: plain runs of a label
 * are copied at once. */
static void put_name_text(sbuf_t *b, const uint8_t *name, bool json)
{
	if (*name == 0) {
		put(b, ".", 1);
		return;
	}
	for (; *name; name += 1 + *name) {
		const uint8_t *l = name + 1;
		size_t len = *name, i = 0;
		while (i < len) {
			size_t j = i;
			while (j < len && l[j] > 0x20 && l[j] < 0x7f &&
			       !name_special(l[j]))
				j++;
			put(b, (const char *)l + i, j - i);
			if (j < len)
				put_name_esc(b, l[j++], json);
			i = j;
		}
		put(b, ".", 1);
	}
}

/* A name inside rdata, checked before it is printed ("?" when its labels
 * run past max). */
static void put_name(sbuf_t *b, const uint8_t *name, size_t max, bool json)
{
	size_t n = 0;

	while (n < max && name[n] != 0)
		n += (size_t)name[n] + 1;
	if (n >= max) {
		puts_(b, "?");
		return;
	}
	put_name_text(b, name, json);
}

/* Whether rr's text always fits a line's room for an rdata (addresses,
 * names, MX, SRV), so put_rdata_direct writes it. */
static bool rdata_direct(const vd_rr_t *rr)
{
	switch (rr->type) {
	case VD_T_A:
		return rr->rdlen == 4;
	case VD_T_AAAA:
		return rr->rdlen == 16;
	case VD_T_NS:
	case VD_T_CNAME:
	case VD_T_PTR:
	case VD_T_DNAME:
		return true;
	case VD_T_MX:
		return rr->rdlen > 2;
	case VD_T_SRV:
		return rr->rdlen > 6;
	default:
		return false;
	}
}

/* The rdata of an rdata_direct record straight into the line, as the
 * inside of a JSON string. */
static void put_rdata_direct(sbuf_t *b, const vd_rr_t *rr)
{
	const uint8_t *d = rr->rdata;
	size_t n = rr->rdlen;

	switch (rr->type) {
	case VD_T_A:
		put_ip4(b, d);
		return;
	case VD_T_AAAA:
		put_ip6(b, d);
		return;
	case VD_T_MX:
		put_u(b, vd_get16(d));
		put(b, " ", 1);
		put_name(b, d + 2, n - 2, true);
		return;
	case VD_T_SRV:
		for (int i = 0; i < 3; i++) {
			put_u(b, vd_get16(d + 2 * i));
			put(b, " ", 1);
		}
		put_name(b, d + 6, n - 6, true);
		return;
	default: /* NS, CNAME, PTR, DNAME */
		put_name(b, d, n, true);
		return;
	}
}

/* Any other rdata in presentation form (not yet JSON-escaped). */
static void put_rdata(sbuf_t *b, const vd_rr_t *rr)
{
	const uint8_t *d = rr->rdata;
	size_t n = rr->rdlen;

	switch (rr->type) {
	case VD_T_TXT:
		for (size_t o = 0; o < n;) {
			size_t l = d[o];
			if (o + 1 + l > n)
				break;
			if (o > 0)
				puts_(b, " ");
			puts_(b, "\"");
			for (size_t i = 0; i < l; i++) {
				unsigned char c = d[o + 1 + i];
				if (c == '"' || c == '\\')
					putf(b, "\\%c", c);
				else if (c < 0x20 || c > 0x7e)
					putf(b, "\\%03u", c);
				else
					put(b, (const char *)&c, 1);
			}
			puts_(b, "\"");
			o += 1 + l;
		}
		return;
	case VD_T_SOA: {
		size_t o = 0, l1, l2;
		for (l1 = 0; l1 < n && d[l1] != 0;)
			l1 += (size_t)d[l1] + 1;
		if (l1 >= n)
			break;
		o = l1 + 1;
		for (l2 = o; l2 < n && d[l2] != 0;)
			l2 += (size_t)d[l2] + 1;
		if (l2 >= n || l2 + 1 + 20 != n)
			break;
		put_name_text(b, d, false);
		put(b, " ", 1);
		put_name_text(b, d + o, false);
		for (size_t i = 0; i < 5; i++) {
			put(b, " ", 1);
			put_u(b, vd_get32(d + l2 + 1 + 4 * i));
		}
		return;
	}
	default:
		break;
	}
	/* RFC 3597 */
	putf(b, "\\# %zu ", n);
	for (size_t i = 0; i < n; i++)
		putf(b, "%02x", d[i]);
}

/* ---- the line -------------------------------------------------------------- */

/* Formatted once per second: records come in time order. */
static void put_timestamp(sbuf_t *b, uint64_t wall_us)
{
	static _Thread_local time_t last = -1;
	static _Thread_local char text[32];
	time_t s = (time_t)(wall_us / 1000000);

	if (s != last) {
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		last = s;
	}
	put_str(b, text);
}

/* The answer section as [{"Rdata","Type","Class"}]; sets *cut when a
 * reply cut short ends inside it. */
static void put_answers(sbuf_t *b, const vd_qlog_rec_t *rec, vd_rr_t *rr, bool *cut)
{
	vd_rr_iter_t it;
	bool first = true;
	char t1[16], t2[16];
	int r;

	puts_(b, "[");
	if (!(rec->flags & VD_QLOG_F_ANSWERED) ||
	    vd_rr_iter_init(&it, rec->wire + rec->qlen, rec->rlen, NULL, NULL, NULL) <
		    0) {
		puts_(b, "]");
		return;
	}
	while ((r = vd_rr_iter_next(&it, rr)) == 1 && rr->section == 1) {
		/* rarer types go through a bounded buffer: one whose text
		 * does not fit is left out */
		char text[2048];
		sbuf_t rd = { text, 0, sizeof(text), false };
		bool direct = rdata_direct(rr);
		if (!direct) {
			put_rdata(&rd, rr);
			if (rd.err)
				continue;
		}
		puts_(b, first ? "{\"Rdata\":\"" : ",{\"Rdata\":\"");
		if (direct)
			put_rdata_direct(b, rr);
		else
			put_esc_n(b, text, rd.len);
		puts_(b, "\",\"Type\":");
		put_str(b, vd_qlog_type_name(rr->type, t1, sizeof(t1)));
		puts_(b, ",\"Class\":");
		put_str(b, class_name(rr->rclass, t2, sizeof(t2)));
		puts_(b, "}");
		first = false;
	}
	if (r < 0 && (rec->flags & VD_QLOG_F_RTRUNC))
		*cut = true;
	puts_(b, "]");
}

size_t vd_qlog_json_line(const vd_qlog_rec_t *rec, vd_rr_t *rr, char *out, size_t cap)
{
	sbuf_t b = { out, 0, cap, false };
	qrec_view_t v;
	char t1[16];
	bool cut = false;

	vd_qlog_decode(rec, rr, &v);
	if (v.reply == NULL)
		return 0;
	puts_(&b, "{\"version\":\"1.100000\",\"account_id\":");
	put_str_or_null(&b, rec->account_id);
	puts_(&b, ",\"region\":");
	put_str_or_null(&b, rec->region);
	puts_(&b, ",\"vpc_id\":");
	put_str_or_null(&b, rec->vpc_id);
	puts_(&b, ",\"query_timestamp\":");
	put_timestamp(&b, rec->wall_us);
	puts_(&b, ",\"query_name\":\"");
	if (v.has_question)
		put_name_text(&b, v.qname, true);
	puts_(&b, "\"");
	puts_(&b, ",\"query_type\":");
	put_str(&b, v.has_question ? vd_qlog_type_name(v.qtype, t1, sizeof(t1)) : "");
	puts_(&b, ",\"query_class\":");
	put_str(&b, v.has_question ? class_name(v.qclass, t1, sizeof(t1)) : "");
	puts_(&b, ",\"rcode\":");
	put_str(&b, vd_qlog_rcode_name(v.rcode, t1, sizeof(t1)));
	puts_(&b, ",\"answers\":");
	put_answers(&b, rec, rr, &cut);
	puts_(&b, ",\"srcaddr\":\"");
	put_addr(&b, &rec->client);
	puts_(&b, "\",\"srcport\":\"");
	put_u(&b, rec->client.port);
	puts_(&b, "\",\"transport\":");
	puts_(&b, (rec->flags & VD_QLOG_F_TCP) ? "\"TCP\"" : "\"UDP\"");
	if (rec->fw_action != 0) {
		/* Route 53 DNS Firewall's fields, only when a rule decided. */
		static const char *const actions[] = { "ALLOW", "ALERT", "BLOCK" };
		unsigned a = rec->fw_action - 1u;
		puts_(&b, ",\"firewall_rule_group_id\":");
		put_str(&b, rec->fw_group);
		puts_(&b, ",\"firewall_rule_action\":");
		put_str(&b, a < 3 ? actions[a] : "UNKNOWN");
		puts_(&b, ",\"firewall_domain_list_id\":");
		put_str(&b, rec->fw_list);
	}
	puts_(&b, ",\"srcids\":{},\"vpcdns\":{\"view\":");
	put_str_or_null(&b, rec->view);
	puts_(&b, ",\"route\":");
	put_str(&b, vd_qlog_route_name(rec->route));
	puts_(&b, ",\"upstream\":");
	if (rec->upstream.family == AF_INET6 || rec->upstream.family == AF_INET) {
		bool v6 = rec->upstream.family == AF_INET6;
		puts_(&b, v6 ? "\"[" : "\"");
		put_addr(&b, &rec->upstream);
		puts_(&b, v6 ? "]:" : ":");
		put_u(&b, rec->upstream.port);
		puts_(&b, "\"");
	} else {
		puts_(&b, "null");
	}
	puts_(&b, ",\"duration_us\":");
	put_u(&b, rec->duration_us);
	puts_(&b, ",\"ede\":");
	if (v.ede >= 0)
		put_u(&b, (unsigned)v.ede);
	else
		puts_(&b, "null");
	puts_(&b, ",\"client_az\":");
	put_str_or_null(&b, rec->client_az);
	if (cut || (rec->flags & VD_QLOG_F_RTRUNC))
		puts_(&b, ",\"answers_truncated\":true");
	puts_(&b, "}}\n");
	return b.err ? 0 : b.len;
}

size_t vd_qlog_format_json(const vd_qlog_rec_t *rec, char *out, size_t cap)
{
	vd_rr_t *rr = malloc(sizeof(*rr));
	size_t n = rr ? vd_qlog_json_line(rec, rr, out, cap) : 0;

	free(rr);
	return n;
}
