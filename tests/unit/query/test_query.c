/*
 * Unit tests of the query pipeline against a real snapshot (a config and
 * zones written to a temporary folder) and, for forwarding, a fake upstream
 * on 127.0.0.1 driven by the test's own libuv loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <uv.h>

#include "query_fixture.h"

static qfix_t fx;
#define snap (fx.snap)
#define ctx (fx.ctx)
#define loop (fx.loop)
static uint8_t reply_buf[65535];

/* ---- packets ----------------------------------------------------------- */

typedef struct qspec {
	uint16_t id, flags, qtype, qclass;
	const char *name;
	bool edns;
	uint16_t udp;
	uint8_t version;
	bool do_bit, nsid;
} qspec_t;

static size_t build_query(const qspec_t *s, uint8_t *p)
{
	size_t n = 0;
	uint8_t name[VD_NAME_MAX];
	size_t nlen;
	assert_int_equal(vd_name_from_text(s->name, name, &nlen), 0);
	vd_set16(p, s->id);
	vd_set16(p + 2, s->flags);
	vd_set16(p + 4, 1);
	vd_set16(p + 6, 0);
	vd_set16(p + 8, 0);
	vd_set16(p + 10, s->edns ? 1 : 0);
	n = 12;
	memcpy(p + n, name, nlen);
	n += nlen;
	vd_set16(p + n, s->qtype);
	vd_set16(p + n + 2, s->qclass ? s->qclass : VD_C_IN);
	n += 4;
	if (s->edns) {
		p[n++] = 0;
		vd_set16(p + n, VD_T_OPT);
		vd_set16(p + n + 2, s->udp ? s->udp : 1232);
		p[n + 4] = 0;
		p[n + 5] = s->version;
		vd_set16(p + n + 6, s->do_bit ? 0x8000 : 0);
		vd_set16(p + n + 8, s->nsid ? 4 : 0);
		n += 10;
		if (s->nsid) {
			vd_set16(p + n, VD_EDNS_NSID);
			vd_set16(p + n + 2, 0);
			n += 4;
		}
	}
	return n;
}

/* Parsed view of a reply, for assertions. */
typedef struct parsed {
	uint16_t id, flags;
	uint8_t qname[VD_NAME_MAX];
	int count[4];
	uint16_t types[3][64];
	uint32_t ttls[3][64];
	uint8_t rdata[3][64][16];
	bool has_opt;
	int ede;
	uint16_t opt_ext;
	char nsid[64];
} parsed_t;

static void parse_reply(const uint8_t *p, size_t len, parsed_t *r)
{
	vd_rr_iter_t it;
	static vd_rr_t rr;
	uint16_t qt, qc;
	memset(r, 0, sizeof(*r));
	r->ede = -1;
	assert_int_equal(vd_rr_iter_init(&it, p, len, r->qname, &qt, &qc), 0);
	r->id = vd_hdr_id(p);
	r->flags = vd_hdr_flags(p);
	int rc;
	while ((rc = vd_rr_iter_next(&it, &rr)) == 1) {
		if (rr.type == VD_T_OPT) {
			r->has_opt = true;
			r->opt_ext = (uint16_t)(rr.ttl >> 24);
			for (size_t o = 0; o + 4 <= rr.rdlen;) {
				uint16_t code = vd_get16(rr.rdata + o);
				uint16_t olen = vd_get16(rr.rdata + o + 2);
				if (code == VD_EDNS_EDE)
					r->ede = vd_get16(rr.rdata + o + 4);
				if (code == VD_EDNS_NSID)
					memcpy(r->nsid, rr.rdata + o + 4,
					       olen < 63 ? olen : 63);
				o += 4 + olen;
			}
			continue;
		}
		int s = rr.section - 1, i = r->count[s]++;
		r->types[s][i] = rr.type;
		r->ttls[s][i] = rr.ttl;
		memcpy(r->rdata[s][i], rr.rdata, rr.rdlen < 16 ? rr.rdlen : 16);
	}
	assert_int_equal(rc, 0);
}

static void client_addr(vd_query_client_t *c, const char *ip)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->addr;
	memset(c, 0, sizeof(*c));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	c->max_reply = 65535;
}

static size_t replies;
static size_t last_reply_len;
static void on_respond(void *token, const vd_query_client_t *c, const uint8_t *pkt,
		       size_t len)
{
	(void)token;
	(void)c;
	replies++;
	last_reply_len = len;
	if (pkt != NULL)
		memcpy(reply_buf, pkt, len);
}

/* Runs one query from client ip; returns the handler's result and fills r
 * for immediate replies. */
static vd_qh_result_t ask(const char *ip, const qspec_t *s, parsed_t *r)
{
	uint8_t q[512];
	size_t qlen = build_query(s, q), outlen = 0;
	vd_query_client_t c;
	client_addr(&c, ip);
	c.respond = on_respond;
	vd_qh_result_t res =
		vd_query_handle(ctx, snap, &c, q, qlen, reply_buf, &outlen);
	if (res == VD_QH_REPLY)
		parse_reply(reply_buf, outlen, r);
	return res;
}

/* ---- fixtures ---------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	static const uint8_t answer[4] = { 192, 0, 2, 1 };
	qfix_start(&fx, answer, 300);

	qfix_write(&fx, "a.zone",
		   "$ORIGIN example.com.\n$TTL 60\n"
		   "@ IN SOA ns hm 1 3600 600 86400 30\n"
		   "@ IN A 10.0.0.1\n@ IN A 10.0.0.2\n@ IN A 10.0.0.3\n"
		   "alias IN CNAME example.com.\n"
		   "out IN CNAME www.upstream.test.\n"
		   "a.b.c IN TXT \"deep\"\n"
		   "*.wild IN A 10.9.9.9\n"
		   "big IN TXT "
		   "\"01234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"11234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"21234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"31234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"41234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"51234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"61234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n"
		   "big IN TXT "
		   "\"71234567890123456789012345678901234567890123456789012345678901234"
		   "56789\"\n");
	qfix_write(&fx, "b.zone",
		   "$ORIGIN example.com.\n$TTL 60\n"
		   "@ IN SOA ns hm 1 3600 600 86400 30\n@ IN A 10.1.0.1\n");
	qfix_write(&fx, "priv.zone",
		   "$ORIGIN corp.test.\n$TTL 300\n"
		   "@ IN SOA ns hm 1 3600 600 86400 120\nhost IN A 10.5.0.1\n");
	char conf[1024];
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:5999\"]\n  identity: test-id\n"
		 "upstreams:\n  up: [\"127.0.0.1:%d\"]\n"
		 "views:\n"
		 "  - name: one\n    clients: [\"127.0.0.1/32\"]\n"
		 "    zones: [\"a.zone\", {path: priv.zone, fallback: nxdomain}]\n"
		 "    forward: {\".\": up}\n"
		 "  - name: two\n    clients: [\"127.0.0.2/32\"]\n"
		 "    zones: [\"b.zone\"]\n    forward: {\".\": up}\n"
		 "  - name: three\n    clients: [\"127.0.0.3/32\", \"127.0.0.4/32\"]\n"
		 "    zones: [\"a.zone\"]\n    az_affinity: only\n"
		 "    subnets:\n      - {cidr: 10.0.0.1/32, az_id: az-a}\n"
		 "      - {cidr: 10.0.0.2/32, az_id: az-b}\n"
		 "      - {cidr: 10.0.0.3/32, az_id: az-c}\n"
		 "      - {cidr: 127.0.0.3/32, az_id: az-b}\n"
		 "      - {cidr: 127.0.0.4/32, az_id: az-d}\n",
		 fx.upstream_port);
	qfix_load(&fx, conf);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qfix_stop(&fx);
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_refused_outside_views(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 7,
		      .flags = VD_F_RD,
		      .qtype = VD_T_A,
		      .name = "example.com",
		      .edns = true };
	assert_int_equal(ask("127.0.0.9", &s, &r), VD_QH_REPLY);
	assert_int_equal(VD_F_RCODE(r.flags), VD_RCODE_REFUSED);
	assert_int_equal(r.ede, VD_EDE_PROHIBITED);
	assert_int_equal(r.count[0], 0);
}

static void test_local_answer_per_view(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = {
		.id = 0x1234, .flags = VD_F_RD, .qtype = VD_T_A, .name = "ExAmPle.COM"
	};
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_REPLY);
	assert_int_equal(r.id, 0x1234);
	assert_true(r.flags & VD_F_AA);
	assert_true(r.flags & VD_F_QR);
	assert_true(r.flags & VD_F_RD);
	assert_false(r.has_opt); /* no OPT when the query had none */
	assert_int_equal(r.count[0], 3);
	assert_memory_equal(r.qname,
			    "\x07"
			    "ExAmPle"
			    "\x03"
			    "COM",
			    13);
	assert_int_equal(r.rdata[0][0][1], 0);
	assert_int_equal(r.rdata[0][0][0], 10);

	assert_int_equal(ask("127.0.0.2", &s, &r), VD_QH_REPLY);
	assert_int_equal(r.count[0], 1);
	assert_int_equal(r.rdata[0][0][1], 1); /* 10.1.0.1: view two's data */
}

static void test_rotation(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_A, .name = "example.com" };
	uint8_t firsts[3] = { 0 };
	for (int i = 0; i < 3; i++) {
		ask("127.0.0.1", &s, &r);
		firsts[i] = r.rdata[0][0][3];
	}
	assert_true(firsts[0] != firsts[1] && firsts[1] != firsts[2] &&
		    firsts[0] != firsts[2]);
}

static void test_az_only(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_A, .name = "example.com" };
	for (int i = 0; i < 3; i++) {
		ask("127.0.0.3", &s, &r); /* in az-b: only 10.0.0.2 */
		assert_int_equal(r.count[0], 1);
		assert_int_equal(r.rdata[0][0][3], 2);
	}
	/* A client in an AZ without addresses gets them all. */
	ask("127.0.0.4", &s, &r);
	assert_int_equal(r.count[0], 3);
}

static void test_nodata_ent_and_soa_ttl(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_AAAA, .name = "example.com", .edns = true };
	ask("127.0.0.1", &s, &r);
	assert_int_equal(VD_F_RCODE(r.flags), VD_RCODE_NOERROR);
	assert_int_equal(r.count[0], 0);
	assert_int_equal(r.count[1], 1);
	assert_int_equal(r.types[1][0], VD_T_SOA);
	assert_int_equal(r.ttls[1][0], 30); /* min(60, MINIMUM 30) */
	assert_true(r.has_opt);

	s.name = "b.c.example.com"; /* empty non-terminal */
	s.qtype = VD_T_A;
	ask("127.0.0.1", &s, &r);
	assert_int_equal(VD_F_RCODE(r.flags), VD_RCODE_NOERROR);
	assert_int_equal(r.count[1], 1);
}

static void test_nxdomain_fallback(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_A, .name = "nope.corp.test" };
	ask("127.0.0.1", &s, &r);
	assert_int_equal(VD_F_RCODE(r.flags), VD_RCODE_NXDOMAIN);
	assert_true(r.flags & VD_F_AA);
	assert_int_equal(r.types[1][0], VD_T_SOA);
	assert_int_equal(r.ttls[1][0], 120);

	/* example.com falls back to forwarding for names it lacks. */
	s.name = "nope.example.com";
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_PENDING);
	uv_run(&loop, UV_RUN_ONCE);
	while (vd_query_pending(ctx) > 0)
		uv_run(&loop, UV_RUN_ONCE);
}

static void test_wildcard_and_cname(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_A, .name = "x.wild.example.com" };
	ask("127.0.0.1", &s, &r);
	assert_int_equal(r.count[0], 1);
	assert_int_equal(r.rdata[0][0][1], 9);

	s.name = "alias.example.com";
	ask("127.0.0.1", &s, &r);
	assert_int_equal(r.count[0], 4);
	assert_int_equal(r.types[0][0], VD_T_CNAME);
	assert_int_equal(r.types[0][1], VD_T_A);
	assert_true(r.flags & VD_F_AA);
}

static void test_any_minimal(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_ANY, .name = "example.com" };
	ask("127.0.0.1", &s, &r);
	assert_true(r.count[0] >= 1);
	for (int i = 1; i < r.count[0]; i++)
		assert_int_equal(r.types[0][i], r.types[0][0]); /* one RRset */
}

static void test_truncation(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = { .id = 1, .qtype = VD_T_TXT, .name = "big.example.com" };
	ask("127.0.0.1", &s, &r);
	assert_true(r.flags & VD_F_TC);
	assert_int_equal(r.count[0], 0);
	s.edns = true;
	s.udp = 4096;
	ask("127.0.0.1", &s, &r);
	assert_false(r.flags & VD_F_TC);
	assert_int_equal(r.count[0], 8);
}

static void test_protocol_errors(void **state)
{
	(void)state;
	parsed_t r;
	uint8_t out[512];
	size_t outlen = 0;
	vd_query_client_t c;
	client_addr(&c, "127.0.0.1");

	uint8_t shortpkt[5] = { 1, 2, 3, 4, 5 };
	assert_int_equal(vd_query_handle(ctx, snap, &c, shortpkt, 5, out, &outlen),
			 VD_QH_DROP);

	qspec_t s = { .id = 9, .qtype = VD_T_A, .name = "example.com" };
	uint8_t q[512];
	size_t qlen = build_query(&s, q);
	vd_set16(q + 4, 2); /* QDCOUNT 2: FORMERR */
	assert_int_equal(vd_query_handle(ctx, snap, &c, q, qlen, reply_buf, &outlen),
			 VD_QH_REPLY);
	assert_int_equal(vd_hdr_id(reply_buf), 9);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(reply_buf)), VD_RCODE_FORMERR);

	s.flags = 2 << 11; /* opcode STATUS */
	ask("127.0.0.1", &s, &r);
	assert_int_equal(VD_F_RCODE(r.flags), VD_RCODE_NOTIMP);

	s.flags = 0;
	s.edns = true;
	s.version = 1;
	ask("127.0.0.1", &s, &r);
	assert_true(r.has_opt);
	assert_int_equal((r.opt_ext << 4) | VD_F_RCODE(r.flags), VD_RCODE_BADVERS);
}

static void test_chaos_and_nsid(void **state)
{
	(void)state;
	parsed_t r;
	qspec_t s = {
		.id = 1, .qtype = VD_T_TXT, .qclass = VD_C_CH, .name = "id.server"
	};
	ask("127.0.0.1", &s, &r);
	assert_int_equal(r.count[0], 1);
	assert_memory_equal(r.rdata[0][0], "\x07test-id", 8);

	s.name = "version.bind";
	ask("127.0.0.1", &s, &r);
	assert_int_equal(r.count[0], 1);

	s = (qspec_t){ .id = 1,
		       .qtype = VD_T_A,
		       .name = "example.com",
		       .edns = true,
		       .nsid = true };
	ask("127.0.0.1", &s, &r);
	assert_string_equal(r.nsid, "test-id");
}

static void test_forwarded_rewrite(void **state)
{
	(void)state;
	parsed_t r;
	replies = 0;
	qspec_t s = { .id = 0xbeef,
		      .flags = VD_F_RD,
		      .qtype = VD_T_A,
		      .name = "WwW.Upstream.TEST",
		      .edns = true };
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_PENDING);
	assert_int_equal(vd_query_pending(ctx), 1);
	while (replies == 0)
		uv_run(&loop, UV_RUN_ONCE);
	parse_reply(reply_buf, last_reply_len, &r);
	assert_int_equal(r.id, 0xbeef);
	assert_false(r.flags & VD_F_AA); /* forwarded: never AA */
	assert_true(r.flags & VD_F_RA);
	assert_memory_equal(r.qname, "\x03WwW\x08Upstream\x04TEST", 19);
	assert_int_equal(r.count[0], 1);
	assert_int_equal(r.ttls[0][0], 300);
	assert_true(r.has_opt);

	/* A local CNAME into upstream data: chain first, AA cleared. The
	 * target was cached by the query above, so this is answered at once. */
	replies = 0;
	s.name = "out.example.com";
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_REPLY);
	assert_int_equal(replies, 0);
	assert_int_equal(r.count[0], 2);
	assert_int_equal(r.types[0][0], VD_T_CNAME);
	assert_int_equal(r.types[0][1], VD_T_A);
	assert_false(r.flags & VD_F_AA);
	assert_int_equal(vd_query_pending(ctx), 0);
}

/* The control channel's explain is the reply the client itself gets over
 * TCP, byte for byte, without a query context; an address in no view is
 * told apart. */
static void test_explain_entry(void **state)
{
	(void)state;
	static uint8_t mine[65535];
	uint8_t q[512], name[VD_NAME_MAX];
	size_t nlen, outlen = 0, mylen = 0;
	qspec_t s = { .id = 0,
		      .flags = VD_F_RD,
		      .qtype = VD_T_TXT,
		      .qclass = VD_C_CH,
		      .name = "_aaaa.example.com" };
	size_t qlen = build_query(&s, q);
	vd_query_client_t c;

	assert_int_equal(vd_name_from_text(s.name, name, &nlen), 0);
	for (int i = 0; i < 2; i++) {
		const char *ip = i ? "127.0.0.2" : "127.0.0.1";
		client_addr(&c, ip);
		c.tcp = true;
		assert_int_equal(vd_query_handle(ctx, snap, &c, q, qlen, reply_buf,
						 &outlen),
				 VD_QH_REPLY);
		assert_int_equal(vd_query_explain(snap,
						  (const struct sockaddr *)&c.addr,
						  name, mine, sizeof(mine), &mylen),
				 0);
		assert_int_equal(mylen, outlen);
		assert_memory_equal(mine, reply_buf, outlen);
	}
	client_addr(&c, "127.0.0.9");
	assert_int_equal(vd_query_explain(snap, (const struct sockaddr *)&c.addr, name,
					  mine, sizeof(mine), &mylen),
			 VD_ENOTFOUND);
	assert_int_equal(vd_query_explain(snap, (const struct sockaddr *)&c.addr, name,
					  mine, 512, &mylen),
			 VD_ESPACE);
}

/* vpcdnsctl flush: the forwarded answer leaves the cache, and the next
 * query goes upstream again. */
static void test_flush(void **state)
{
	(void)state;
	parsed_t r;
	uint8_t name[VD_NAME_MAX];
	size_t nlen;
	qspec_t s = {
		.id = 7, .flags = VD_F_RD, .qtype = VD_T_A, .name = "f.upstream.test"
	};

	replies = 0;
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_PENDING);
	while (replies == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_REPLY); /* cached */
	assert_int_equal(vd_name_from_text("f.upstream.test", name, &nlen), 0);
	assert_int_equal(vd_query_flush(ctx, name), 1);
	assert_int_equal(vd_query_flush(ctx, name), 0);
	replies = 0;
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_PENDING);
	while (replies == 0)
		uv_run(&loop, UV_RUN_ONCE);
	assert_true(vd_query_flush(ctx, NULL) >= 1);
	assert_int_equal(ask("127.0.0.1", &s, &r), VD_QH_PENDING);
	replies = 0;
	while (replies == 0)
		uv_run(&loop, UV_RUN_ONCE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_outside_views),
		cmocka_unit_test(test_local_answer_per_view),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_az_only),
		cmocka_unit_test(test_nodata_ent_and_soa_ttl),
		cmocka_unit_test(test_nxdomain_fallback),
		cmocka_unit_test(test_wildcard_and_cname),
		cmocka_unit_test(test_any_minimal),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_chaos_and_nsid),
		cmocka_unit_test(test_forwarded_rewrite),
		cmocka_unit_test(test_explain_entry),
		cmocka_unit_test(test_flush),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
