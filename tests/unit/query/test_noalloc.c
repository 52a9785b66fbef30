/*
 * The hot path allocates nothing: this test links with the linker's
 * --wrap for malloc, calloc and realloc, counts every call our code makes,
 * and asserts that none happens while answering local names (answers,
 * wildcards, NXDOMAIN with SOA, CNAME chains), cache hits, CH TXT, and
 * REFUSED / FORMERR replies, a thousand times each, with the rate limiter
 * on; nor while the limiter drops and slips a flood, nor for queries with
 * DNS cookies (answered, and BADCOOKIE when limited); and the same again
 * with a query-log ring attached, every reply logged.
 */
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

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static unsigned long allocs;
void *__wrap_malloc(size_t n)
{
	allocs++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	allocs++;
	return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
	allocs++;
	return __real_realloc(p, n);
}

static qfix_t fx;
static uint8_t out[65535];
static unsigned replies;

static size_t query(uint16_t id, const char *name, uint16_t qtype, uint16_t qclass,
		    uint8_t *p)
{
	uint8_t wire[VD_NAME_MAX];
	size_t n;
	assert_int_equal(vd_name_from_text(name, wire, &n), 0);
	memset(p, 0, 12);
	vd_set16(p, id);
	vd_set16(p + 2, VD_F_RD);
	vd_set16(p + 4, 1);
	vd_set16(p + 10, 1);
	memcpy(p + 12, wire, n);
	vd_set16(p + 12 + n, qtype);
	vd_set16(p + 14 + n, qclass);
	/* OPT: payload 1232, DO, NSID */
	uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0 };
	memcpy(p + 16 + n, opt, sizeof(opt));
	return 16 + n + sizeof(opt);
}

static void on_respond(void *token, const vd_query_client_t *c, const uint8_t *pkt,
		       size_t len)
{
	(void)token;
	(void)c;
	(void)pkt;
	(void)len;
	replies++;
}

static int setup(void **state)
{
	(void)state;
	static const uint8_t answer[4] = { 192, 0, 2, 7 };
	char conf[1536];
	qfix_start(&fx, answer, 3600);
	qfix_write(&fx, "a.zone",
		   "$ORIGIN example.com.\n$TTL 60\n"
		   "@ SOA ns hm 1 3600 600 86400 30\n"
		   "@ A 10.0.0.1\n@ A 10.0.0.2\n@ A 10.0.0.3\n*.w A 10.0.0.9\n"
		   "c CNAME example.com.\n");
	qfix_write(&fx, "b.zone",
		   "$ORIGIN corp.test.\n$TTL 60\n"
		   "@ SOA ns hm 1 3600 600 86400 30\n");
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:5999\"]\n  identity: noalloc\n"
		 "  rate_limit: {qps: 1000000, table_size: 1024}\n"
		 "upstreams:\n  up: [\"127.0.0.1:%d\"]\n"
		 "views:\n  - name: v\n    clients: [\"127.0.0.1/32\"]\n"
		 "    zones: [a.zone, {path: b.zone, fallback: nxdomain}]\n"
		 "    forward: {\".\": up}\n"
		 "    subnets: [{cidr: 10.0.0.2/32, az_id: az-b},"
		 " {cidr: 127.0.0.1/32, az_id: az-b}]\n"
		 "  - name: limited\n    clients: [\"127.0.1.0/24\"]\n"
		 "    zones: [a.zone]\n    rate_limit: {qps: 1, slip: 3}\n",
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

static vd_qh_result_t handle(const char *name, uint16_t qtype, uint16_t qclass,
			     const char *from)
{
	uint8_t q[512];
	size_t qlen = query(0x1111, name, qtype, qclass, q), outlen = 0;
	vd_query_client_t c = { .max_reply = 65535, .respond = on_respond };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, from, &sin->sin_addr);
	return vd_query_handle(fx.ctx, fx.snap, &c, q, qlen, out, &outlen);
}

static void test_counter_works(void **state)
{
	(void)state;
	/* Calls from the libraries are counted (an error list allocates). */
	unsigned long before = allocs;
	vd_errlist_t e;
	vd_errlist_init(&e);
	vd_errlist_add(&e, "f", 1, "x");
	vd_errlist_deinit(&e);
	assert_true(allocs > before);
}

static void test_local_answers(void **state)
{
	(void)state;
	unsigned long before = allocs;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("x.w.example.com", VD_T_A, VD_C_IN,
					"127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("c.example.com", VD_T_A, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("nope.corp.test", VD_T_A, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("example.com", VD_T_AAAA, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("id.server", VD_T_TXT, VD_C_CH, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.9"),
				 VD_QH_REPLY);
	}
	assert_int_equal(allocs - before, 0);
}

static void test_cache_hits(void **state)
{
	(void)state;
	replies = 0;
	assert_int_equal(handle("www.upstream.example", VD_T_A, VD_C_IN, "127.0.0.1"),
			 VD_QH_PENDING);
	while (replies == 0)
		uv_run(&fx.loop, UV_RUN_ONCE);
	unsigned long before = allocs;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(handle("WWW.upstream.example", VD_T_A, VD_C_IN,
					"127.0.0.1"),
				 VD_QH_REPLY);
	assert_int_equal(allocs - before, 0);
}

/* With a ring attached every reply becomes a record: still nothing is
 * allocated (the ring is drained between rounds, as the writer would). */
static void test_logged(void **state)
{
	(void)state;
	vd_qlog_ring_t *ring = vd_qlog_ring_new(64);
	assert_non_null(ring);
	vd_query_set_qlog(fx.ctx, ring, VD_QLOG_OUT_JSON | VD_QLOG_OUT_DNSTAP);
	fx.snap->qlog.on = true;
	fx.snap->qlog.sample = 1;
	fx.snap->qlog.rcodes = fx.snap->qlog.routes = 0xffffffffu;
	unsigned long before = allocs;
	size_t logged = 0;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("x.w.example.com", VD_T_A, VD_C_IN,
					"127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("WWW.upstream.example", VD_T_A, VD_C_IN,
					"127.0.0.1"),
				 VD_QH_REPLY);
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.9"),
				 VD_QH_REPLY);
		while (vd_qlog_ring_peek(ring) != NULL) {
			vd_qlog_ring_pop(ring);
			logged++;
		}
	}
	assert_int_equal(allocs - before, 0);
	assert_int_equal(logged, 4000);
	assert_int_equal(vd_qlog_ring_dropped(ring), 0);
	vd_query_set_qlog(fx.ctx, NULL, 0);
	fx.snap->qlog.on = false;
	vd_qlog_ring_free(ring);
}

static void test_rate_limited(void **state)
{
	(void)state;
	unsigned long before = allocs;
	unsigned answered = 0, slipped = 0;
	for (int i = 0; i < 1000; i++) {
		vd_qh_result_t r = handle("example.com", VD_T_A, VD_C_IN, "127.0.1.7");
		if (r == VD_QH_REPLY && (vd_hdr_flags(out) & VD_F_TC))
			slipped++;
		else if (r == VD_QH_REPLY)
			answered++;
	}
	assert_int_equal(allocs - before, 0);
	assert_true(answered >= 1 && answered < 10);
	assert_true(slipped > 300);
	assert_true(vd_query_stats(fx.ctx)->ratelimited >= 990);
}

/* A query with a COOKIE option: a client cookie and a server cookie. */
static vd_qh_result_t handle_cookie(const char *from)
{
	uint8_t q[512];
	size_t qlen = query(0x2222, "example.com", VD_T_A, VD_C_IN, q), outlen = 0;
	static const uint8_t cookie[] = { 0, 10, 0, 24, 1, 2, 3,    4,	  5,	6,
					  7, 8,	 1, 0,	0, 0, 0x5c, 0xf7, 0x9f, 0x11,
					  1, 2,	 3, 4,	5, 6, 7,    8 };
	memcpy(q + qlen, cookie, sizeof(cookie));
	/* the OPT's rdlength: NSID (4) + COOKIE */
	vd_set16(q + qlen - 6, (uint16_t)(4 + sizeof(cookie)));
	qlen += sizeof(cookie);
	vd_query_client_t c = { .max_reply = 65535, .respond = on_respond };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, from, &sin->sin_addr);
	return vd_query_handle(fx.ctx, fx.snap, &c, q, qlen, out, &outlen);
}

static void test_cookies(void **state)
{
	(void)state;
	unsigned long before = allocs;
	unsigned badcookie = 0;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(handle_cookie("127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(VD_F_RCODE(vd_hdr_flags(out)), VD_RCODE_NOERROR);
		if (handle_cookie("127.0.1.8") == VD_QH_REPLY &&
		    VD_F_RCODE(vd_hdr_flags(out)) == (VD_RCODE_BADCOOKIE & 0xf))
			badcookie++;
	}
	assert_int_equal(allocs - before, 0);
	assert_true(badcookie > 900);
	assert_true(vd_query_stats(fx.ctx)->cookies >= 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_works),
		cmocka_unit_test(test_local_answers),
		cmocka_unit_test(test_cache_hits),
		cmocka_unit_test(test_logged),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_cookies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
