/*
 * qlog: the ring keeps order, holds exactly its capacity and counts what
 * it drops; vd_qlog_new/free with no outputs; the Route 53 line of a
 * record escapes what JSON needs escaped and marks a reply cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "qlog_int.h"

static void test_invalid(void **state)
{
	(void)state;
	char err[256];
	vd_qlog_conf_t off = { 0 };
	vd_qlog_free(NULL);
	vd_qlog_ring_free(NULL);
	vd_qlog_reopen(NULL);
	vd_qlog_t *q = vd_qlog_new(&off, 2, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(vd_qlog_outputs(q), 0);
	assert_non_null(vd_qlog_ring(q, 1));
	assert_null(vd_qlog_ring(q, 2));
	assert_true(vd_qlog_same_outputs(q, &off));
	vd_qlog_free(q);
	vd_qlog_conf_t bad = { .on = true, .file = "/nonexistent/dir/q.log" };
	assert_null(vd_qlog_new(&bad, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
	assert_string_equal(vd_qlog_route_name(VD_QLOG_ROUTE_STALE), "stale");
	assert_int_equal(vd_qlog_route_parse("cache"), VD_QLOG_ROUTE_CACHE);
	assert_int_equal(vd_qlog_route_parse("nowhere"), -1);
}

static void test_ring(void **state)
{
	(void)state;
	vd_qlog_ring_t *r = vd_qlog_ring_new(20); /* rounded up to 32 */
	assert_non_null(r);
	for (unsigned i = 0; i < 40; i++) {
		vd_qlog_rec_t *rec = vd_qlog_reserve(r);
		if (i >= 32) {
			assert_null(rec);
			continue;
		}
		assert_non_null(rec);
		rec->duration_us = i;
		vd_qlog_commit(r);
	}
	assert_int_equal(vd_qlog_ring_dropped(r), 8);
	for (unsigned i = 0; i < 32; i++) {
		const vd_qlog_rec_t *rec = vd_qlog_ring_peek(r);
		assert_non_null(rec);
		assert_int_equal(rec->duration_us, i);
		vd_qlog_ring_pop(r);
	}
	assert_null(vd_qlog_ring_peek(r));
	assert_non_null(vd_qlog_reserve(r)); /* room again */
	vd_qlog_ring_free(r);
}

/* A reply to "a\"b.example." A with n A records. */
static size_t reply(uint8_t *p, unsigned n)
{
	static const uint8_t name[] = "\3a\"b\7example";
	size_t off = 12;
	memset(p, 0, 12);
	vd_set16(p + 2, VD_F_QR | VD_F_RD | VD_F_RA);
	vd_set16(p + 4, 1);
	vd_set16(p + 6, (uint16_t)n);
	memcpy(p + off, name, sizeof(name));
	off += sizeof(name);
	vd_set16(p + off, VD_T_A);
	vd_set16(p + off + 2, VD_C_IN);
	off += 4;
	for (unsigned i = 0; i < n; i++) {
		vd_set16(p + off, 0xc00c);
		vd_set16(p + off + 2, VD_T_A);
		vd_set16(p + off + 4, VD_C_IN);
		vd_set32(p + off + 6, 60);
		vd_set16(p + off + 10, 4);
		uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		memcpy(p + off + 12, a, 4);
		off += 16;
	}
	return off;
}

static void record(vd_qlog_rec_t *rec, const uint8_t *r, size_t rlen)
{
	memset(rec, 0, sizeof(*rec));
	rec->flags = VD_QLOG_F_LOG | VD_QLOG_F_ANSWERED;
	rec->client.family = AF_INET;
	rec->client.port = 5300;
	inet_pton(AF_INET, "10.1.2.3", rec->client.addr);
	strcpy(rec->view, "v\\1");
	if (rlen > sizeof(rec->wire)) {
		rlen = sizeof(rec->wire);
		rec->flags |= VD_QLOG_F_RTRUNC;
	}
	memcpy(rec->wire, r, rlen);
	rec->rlen = (uint16_t)rlen;
}

static void test_json(void **state)
{
	(void)state;
	static uint8_t pkt[4096];
	static vd_qlog_rec_t rec;
	static char line[16384];

	record(&rec, pkt, reply(pkt, 2));
	size_t n = vd_qlog_format_json(&rec, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	/* presentation form (a\"b), then JSON-escaped */
	assert_non_null(strstr(line, "\"query_name\":\"a\\\\\\\"b.example.\""));
	assert_non_null(strstr(line, "\"view\":\"v\\\\1\""));
	assert_non_null(strstr(line, "\"srcport\":\"5300\""));
	assert_non_null(strstr(
		line, "{\"Rdata\":\"10.0.0.1\",\"Type\":\"A\",\"Class\":\"IN\"}"));
	assert_non_null(strstr(line, "\"account_id\":null"));
	assert_null(strstr(line, "answers_truncated"));
	/* 100 records do not fit a record: the ones that do, and a mark */
	record(&rec, pkt, reply(pkt, 100));
	n = vd_qlog_format_json(&rec, line, sizeof(line));
	assert_true(n > 0);
	assert_non_null(strstr(line, "\"answers_truncated\":true"));
	assert_non_null(strstr(line, "\"Rdata\":\"10.0.0.5\""));
	assert_null(strstr(line, "\"Rdata\":\"10.0.0.99\""));
	/* no reply: no line */
	rec.flags = VD_QLOG_F_LOG;
	assert_int_equal(vd_qlog_format_json(&rec, line, sizeof(line)), 0);
}

/* ---- every field, byte for byte ------------------------------------------ */

typedef struct rrspec {
	uint16_t type, rclass;
	const char *rdata; /* bytes */
	size_t rdlen;
} rrspec_t;

/* A reply to qname/qtype with rcode, the answers in an, and an OPT record
 * (extended rcode ext, EDE ede when >= 0) when opt. */
static size_t reply_of(uint8_t *p, const char *qname, size_t qnlen, uint16_t qtype,
		       uint16_t qclass, unsigned rcode, const rrspec_t *an, size_t n,
		       bool opt, uint8_t ext, int ede)
{
	size_t off = 12;
	memset(p, 0, 12);
	vd_set16(p + 2, (uint16_t)(VD_F_QR | VD_F_RD | VD_F_RA | rcode));
	vd_set16(p + 4, 1);
	vd_set16(p + 6, (uint16_t)n);
	vd_set16(p + 10, opt ? 1 : 0);
	memcpy(p + off, qname, qnlen);
	off += qnlen;
	vd_set16(p + off, qtype);
	vd_set16(p + off + 2, qclass);
	off += 4;
	for (size_t i = 0; i < n; i++) {
		vd_set16(p + off, 0xc00c);
		vd_set16(p + off + 2, an[i].type);
		vd_set16(p + off + 4, an[i].rclass);
		vd_set32(p + off + 6, 60);
		vd_set16(p + off + 10, (uint16_t)an[i].rdlen);
		memcpy(p + off + 12, an[i].rdata, an[i].rdlen);
		off += 12 + an[i].rdlen;
	}
	if (opt) {
		p[off] = 0;
		vd_set16(p + off + 1, VD_T_OPT);
		vd_set16(p + off + 3, 1232);
		vd_set32(p + off + 5, (uint32_t)ext << 24);
		vd_set16(p + off + 9, ede >= 0 ? 6 : 0);
		off += 11;
		if (ede >= 0) {
			vd_set16(p + off, VD_EDNS_EDE);
			vd_set16(p + off + 2, 2);
			vd_set16(p + off + 4, (uint16_t)ede);
			off += 6;
		}
	}
	return off;
}

static void addr(vd_qlog_addr_t *a, const char *text, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = strchr(text, ':') ? AF_INET6 : AF_INET;
	a->port = port;
	assert_int_equal(inet_pton(a->family, text, a->addr), 1);
}

static void golden(const vd_qlog_rec_t *rec, const char *want)
{
	static char line[16384];
	size_t n = vd_qlog_format_json(rec, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(n, strlen(line));
	assert_string_equal(line, want);
}

#define RR(t, c, s)                          \
	{                                    \
		(t), (c), (s), sizeof(s) - 1 \
	}

static void test_json_fields(void **state)
{
	(void)state;
	static uint8_t pkt[4096];
	static vd_qlog_rec_t rec;
	static const char qn[] = "\3ec2\11us-east-1\11amazonaws\3com";
	const rrspec_t a2[] = { RR(VD_T_A, VD_C_IN, "\12\24\1\17"),
				RR(VD_T_A, VD_C_IN, "\377\0\0\0") };

	/* a local answer over UDP, every view text set */
	record(&rec, pkt,
	       reply_of(pkt, qn, sizeof(qn), VD_T_A, VD_C_IN, 0, a2, 2, false, 0, -1));
	strcpy(rec.view, "bench");
	strcpy(rec.vpc_id, "vpc-0123456789abcdef0");
	strcpy(rec.account_id, "111122223333");
	strcpy(rec.region, "us-east-1");
	strcpy(rec.client_az, "use1-az2");
	rec.wall_us = 1796518719123456ull; /* 2026-12-06T00:58:39Z */
	rec.duration_us = 11;
	golden(&rec, "{\"version\":\"1.100000\",\"account_id\":\"111122223333\","
		     "\"region\":\"us-east-1\",\"vpc_id\":\"vpc-0123456789abcdef0\","
		     "\"query_timestamp\":\"2026-12-06T00:58:39Z\","
		     "\"query_name\":\"ec2.us-east-1.amazonaws.com.\",\"query_type\":"
		     "\"A\",\"query_class\":\"IN\",\"rcode\":\"NOERROR\",\"answers\":"
		     "[{\"Rdata\":\"10.20.1.15\",\"Type\":\"A\",\"Class\":\"IN\"},"
		     "{\"Rdata\":\"255.0.0.0\",\"Type\":\"A\",\"Class\":\"IN\"}],"
		     "\"srcaddr\":\"10.1.2.3\",\"srcport\":\"5300\",\"transport\":"
		     "\"UDP\",\"srcids\":{},\"vpcdns\":{\"view\":\"bench\",\"route\":"
		     "\"local\",\"upstream\":null,\"duration_us\":11,\"ede\":null,"
		     "\"client_az\":\"use1-az2\"}}\n");

	/* IPv6 client and upstream, TCP, AAAA answers in each compressed
	 * form, an EDE, NXDOMAIN */
	const rrspec_t a6[] = {
		RR(VD_T_AAAA, VD_C_IN, "\x20\x01\x0d\xb8\0\0\0\0\0\1\0\0\0\0\0\1"),
		RR(VD_T_AAAA, VD_C_IN, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
		RR(VD_T_AAAA, VD_C_IN, "\0\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
		RR(VD_T_AAAA, VD_C_IN, "\x20\x01\x0d\xb8\0\0\0\1\0\1\0\1\0\1\0\1"),
		RR(VD_T_AAAA, VD_C_IN, "\0\0\0\0\0\0\0\0\0\0\xff\xff\1\2\3\4"),
		RR(VD_T_AAAA, VD_C_IN, "\0\0\0\0\0\0\0\0\0\0\0\0\1\2\3\4"),
		RR(VD_T_AAAA, VD_C_IN, "\0\0\0\0\0\0\0\0\0\0\0\0\0\1\0\0"),
		RR(VD_T_AAAA, VD_C_IN, "\xfe\x80\0\0\0\0\0\0\xab\xcd\0\0\0\0\xef\x01"),
		RR(VD_T_AAAA, VD_C_IN, "\0\0\0\0\0\1\0\0\0\0\0\0\0\0\0\0"),
	};
	record(&rec, pkt,
	       reply_of(pkt, qn, sizeof(qn), VD_T_AAAA, VD_C_IN, 3, a6, 9, true, 0,
			22));
	addr(&rec.client, "::1", 65535);
	addr(&rec.upstream, "2001:db8::53", 853);
	rec.flags |= VD_QLOG_F_TCP;
	rec.route = VD_QLOG_ROUTE_FORWARD;
	rec.wall_us = 0;
	rec.duration_us = 4294967295u;
	golden(&rec,
	       "{\"version\":\"1.100000\",\"account_id\":null,\"region\":null,"
	       "\"vpc_id\":null,\"query_timestamp\":\"1970-01-01T00:00:00Z\","
	       "\"query_name\":\"ec2.us-east-1.amazonaws.com.\",\"query_type\":"
	       "\"AAAA\",\"query_class\":\"IN\",\"rcode\":\"NXDOMAIN\",\"answers\":["
	       "{\"Rdata\":\"2001:db8::1:0:0:1\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"::\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"1::\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"2001:db8:0:1:1:1:1:1\",\"Type\":\"AAAA\",\"Class\":\"IN\"}"
	       ","
	       "{\"Rdata\":\"::ffff:1.2.3.4\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"::1.2.3.4\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"::0.1.0.0\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"fe80::abcd:0:0:ef01\",\"Type\":\"AAAA\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"0:0:1::\",\"Type\":\"AAAA\",\"Class\":\"IN\"}],"
	       "\"srcaddr\":\"::1\",\"srcport\":\"65535\",\"transport\":\"TCP\","
	       "\"srcids\":{},\"vpcdns\":{\"view\":\"v\\\\1\",\"route\":\"forward\","
	       "\"upstream\":\"[2001:db8::53]:853\",\"duration_us\":4294967295,"
	       "\"ede\":22,\"client_az\":null}}\n");

	/* names and texts that need escaping; MX, SRV, SOA, TXT, CNAME, PTR,
	 * unknown types and classes; an extended rcode; IPv4 upstream */
	static const char odd[] = "\4a\"\\b\3\x01\x7f\xff\0";
	const rrspec_t mix[] = {
		RR(VD_T_MX, VD_C_IN, "\0\12\4mail\0"),
		RR(VD_T_SRV, VD_C_IN, "\0\1\0\2\x01\xbb\3srv\7example\0"),
		RR(VD_T_SOA, VD_C_IN,
		   "\2ns\0\2hm\0\0\0\0\1\0\0\x0e\x10\0\0\2\x58\0\1\x51\x80\0\0\0\x3c"),
		RR(VD_T_TXT, VD_C_IN, "\5a\"b\\c\3\x01\x7f\xe9\0"),
		RR(VD_T_CNAME, VD_C_IN, "\3a.b\0"),
		RR(VD_T_PTR, VD_C_CH, "\1x\0"),
		RR(65000, 42, "\xde\xad\xbe\xef"),
		RR(VD_T_A, VD_C_IN, "\1\2\3"),
	};
	record(&rec, pkt,
	       reply_of(pkt, odd, sizeof(odd) - 1, 65000, 42, 0, mix, 8, true, 1, 0));
	strcpy(rec.view, "t\tab\x01\x7f\"q\"");
	strcpy(rec.region, "r");
	addr(&rec.client, "192.0.2.255", 0);
	addr(&rec.upstream, "10.0.0.2", 53);
	rec.route = VD_QLOG_ROUTE_STALE;
	rec.wall_us = 4102444799999999ull; /* 2099-12-31T23:59:59Z */
	rec.duration_us = 1000000;
	golden(&rec,
	       "{\"version\":\"1.100000\",\"account_id\":null,\"region\":\"r\","
	       "\"vpc_id\":null,\"query_timestamp\":\"2099-12-31T23:59:59Z\","
	       "\"query_name\":\"a\\\\\\\"\\\\\\\\b.\\\\001\\\\127\\\\255.\","
	       "\"query_type\":\"TYPE65000\",\"query_class\":\"CLASS42\","
	       "\"rcode\":\"BADVERS\",\"answers\":["
	       "{\"Rdata\":\"10 mail.\",\"Type\":\"MX\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"1 2 443 srv.example.\",\"Type\":\"SRV\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"ns. hm. 1 3600 600 86400 60\",\"Type\":\"SOA\","
	       "\"Class\":\"IN\"},"
	       "{\"Rdata\":\"\\\"a\\\\\\\"b\\\\\\\\c\\\" \\\"\\\\001\\\\127\\\\233\\\" "
	       "\\\"\\\"\",\"Type\":\"TXT\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"a\\\\.b.\",\"Type\":\"CNAME\",\"Class\":\"IN\"},"
	       "{\"Rdata\":\"x.\",\"Type\":\"PTR\",\"Class\":\"CH\"},"
	       "{\"Rdata\":\"\\\\# 4 deadbeef\",\"Type\":\"TYPE65000\","
	       "\"Class\":\"CLASS42\"},"
	       "{\"Rdata\":\"\\\\# 3 010203\",\"Type\":\"A\",\"Class\":\"IN\"}],"
	       "\"srcaddr\":\"192.0.2.255\",\"srcport\":\"0\",\"transport\":\"UDP\","
	       "\"srcids\":{},\"vpcdns\":{\"view\":"
	       "\"t\\u0009ab\\u0001\\u007f\\\"q\\\"\","
	       "\"route\":\"stale\",\"upstream\":\"10.0.0.2:53\",\"duration_us\":"
	       "1000000,\"ede\":0,\"client_az\":null}}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
