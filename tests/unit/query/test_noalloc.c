/*
 * The hot path allocates nothing: this test links with the linker's
 * --wrap for malloc, calloc and realloc, counts every call our code makes,
 * and asserts that none happens while answering local names (answers,
 * wildcards, NXDOMAIN with SOA, CNAME chains), cache hits, CH TXT, and
 * REFUSED / FORMERR replies, a thousand times each.
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

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static unsigned long allocs;
void *__wrap_malloc(size_t n) { allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocs++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocs++; return __real_realloc(p, n); }

static char dir[64];
static vd_snap_t *snap;
static uv_loop_t loop;
static vd_fwd_t *fwd;
static vd_query_ctx_t *ctx;
static uv_udp_t upstream;
static uint8_t out[65535];
static unsigned replies;

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

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

static uint8_t up_buf[4096];
static void up_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	(void)h;
	(void)s;
	b->base = (char *)up_buf;
	b->len = sizeof(up_buf);
}

static void up_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
		    const struct sockaddr *addr, unsigned flags)
{
	(void)flags;
	if (n <= 0 || addr == NULL)
		return;
	vd_query_msg_t q;
	assert_int_equal(vd_query_msg_parse((uint8_t *)b->base, (size_t)n, &q), VD_QP_OK);
	static uint8_t resp[512];
	vd_wbuf_t w;
	vd_wbuf_init(&w, resp, sizeof(resp));
	vd_wbuf_reply_start(&w, &q, VD_F_QR | VD_F_RD | VD_F_RA);
	uint8_t a[4] = { 192, 0, 2, 7 };
	vd_wbuf_rr(&w, 1, q.qname, VD_T_A, VD_C_IN, 3600, a, 4);
	uv_buf_t sb = uv_buf_init((char *)resp, (unsigned)w.len);
	uv_udp_try_send(h, &sb, 1, addr);
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
	strcpy(dir, "/tmp/vd-noalloc-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(uv_loop_init(&loop), 0);
	struct sockaddr_in sin;
	uv_ip4_addr("127.0.0.1", 0, &sin);
	uv_udp_init(&loop, &upstream);
	assert_int_equal(uv_udp_bind(&upstream, (struct sockaddr *)&sin, 0), 0);
	int len = sizeof(sin);
	uv_udp_getsockname(&upstream, (struct sockaddr *)&sin, &len);
	uv_udp_recv_start(&upstream, up_alloc, up_recv);

	put("a.zone", "$ORIGIN example.com.\n$TTL 60\n@ SOA ns hm 1 3600 600 86400 30\n"
	    "@ A 10.0.0.1\n@ A 10.0.0.2\n@ A 10.0.0.3\n*.w A 10.0.0.9\n"
	    "c CNAME example.com.\n");
	put("b.zone", "$ORIGIN corp.test.\n$TTL 60\n@ SOA ns hm 1 3600 600 86400 30\n");
	char conf[1024], path[256];
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:5999\"]\n  identity: noalloc\n"
		 "upstreams:\n  up: [\"127.0.0.1:%d\"]\n"
		 "views:\n  - name: v\n    clients: [\"127.0.0.1/32\"]\n"
		 "    zones: [a.zone, {path: b.zone, fallback: nxdomain}]\n"
		 "    forward: {\".\": up}\n"
		 "    subnets: [{cidr: 10.0.0.2/32, az_id: az-b},"
		 " {cidr: 127.0.0.1/32, az_id: az-b}]\n",
		 ntohs(sin.sin_port));
	put("c.yaml", conf);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	assert_int_equal(vd_conf_load(path, &snap, &errs), 0);
	vd_errlist_deinit(&errs);
	fwd = vd_fwd_new(&loop);
	ctx = vd_query_ctx_new(fwd);
	assert_int_equal(vd_query_snap_changed(ctx, snap), 0);
	return 0;
}

static void closed(void *arg)
{
	(void)arg;
}

static int teardown(void **state)
{
	(void)state;
	vd_fwd_close(fwd, closed, NULL);
	uv_close((uv_handle_t *)&upstream, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	vd_query_ctx_free(ctx);
	vd_snap_unref(snap);
	const char *files[] = { "a.zone", "b.zone", "c.yaml" };
	for (int i = 0; i < 3; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
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
	return vd_query_handle(ctx, snap, &c, q, qlen, out, &outlen);
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
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("x.w.example.com", VD_T_A, VD_C_IN, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("c.example.com", VD_T_A, VD_C_IN, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("nope.corp.test", VD_T_A, VD_C_IN, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("example.com", VD_T_AAAA, VD_C_IN, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("id.server", VD_T_TXT, VD_C_CH, "127.0.0.1"), VD_QH_REPLY);
		assert_int_equal(handle("example.com", VD_T_A, VD_C_IN, "127.0.0.9"), VD_QH_REPLY);
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
		uv_run(&loop, UV_RUN_ONCE);
	unsigned long before = allocs;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(handle("WWW.upstream.example", VD_T_A, VD_C_IN, "127.0.0.1"),
				 VD_QH_REPLY);
	assert_int_equal(allocs - before, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_works),
		cmocka_unit_test(test_local_answers),
		cmocka_unit_test(test_cache_hits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
