/*
 * Forwarding loop detection on the query side: before a round there is no
 * probe name; a query for the current round's probe name of a group is
 * answered SERVFAIL with EDE 22 and marks the group looping, after which
 * queries forwarded to it get SERVFAIL with EDE 22 at once (no upstream
 * query) without an allocation, while another server's probe (another
 * token) is still forwarded; a new round clears the mark and the old
 * token; a snapshot of another generation is not affected.
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

static qfix_t fx;
static vd_loopcheck_t *lc;
static uint8_t out[65535];
static unsigned replies;

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
	char conf[512];
	qfix_start(&fx, answer, 3600);
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:5999\"]\n"
		 "upstreams:\n  up: [\"127.0.0.1:%d\"]\n  other: [\"127.0.0.1:%d\"]\n"
		 "views:\n  - name: v\n    clients: [\"127.0.0.1/32\"]\n"
		 "    forward: {\".\": up, \"other.test\": other}\n",
		 fx.upstream_port, fx.upstream_port);
	qfix_load(&fx, conf);
	fx.snap->generation = 7;
	lc = vd_query_loopcheck_new();
	assert_non_null(lc);
	vd_query_set_loopcheck(fx.ctx, lc);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qfix_stop(&fx);
	vd_query_loopcheck_free(lc);
	return 0;
}

/* A query for the wire name with EDNS, from 127.0.0.1. */
static vd_qh_result_t handle_wire(const uint8_t *wire, size_t *outlen)
{
	uint8_t p[512];
	size_t n = vd_name_len(wire);
	memset(p, 0, 12);
	vd_set16(p, 0x4242);
	vd_set16(p + 2, VD_F_RD);
	vd_set16(p + 4, 1);
	vd_set16(p + 10, 1);
	memcpy(p + 12, wire, n);
	vd_set16(p + 12 + n, VD_T_A);
	vd_set16(p + 14 + n, VD_C_IN);
	uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };
	memcpy(p + 16 + n, opt, sizeof(opt));
	vd_query_client_t c = { .max_reply = 65535, .respond = on_respond };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	*outlen = 0;
	return vd_query_handle(fx.ctx, fx.snap, &c, p, 16 + n + sizeof(opt), out,
			       outlen);
}

static vd_qh_result_t handle(const char *name, size_t *outlen)
{
	uint8_t wire[VD_NAME_MAX];
	assert_int_equal(vd_name_from_text(name, wire, NULL), 0);
	return handle_wire(wire, outlen);
}

/* SERVFAIL with EDE 22 (the option's code is the reply's last 6 + text). */
static void assert_loop_servfail(size_t len)
{
	static const char text[] = "forwarding loop";
	assert_true(len > 12 + 6 + sizeof(text) - 1);
	assert_int_equal(out[3] & 15, VD_RCODE_SERVFAIL);
	assert_memory_equal(out + len - (sizeof(text) - 1), text, sizeof(text) - 1);
	size_t ede = len - (sizeof(text) - 1) - 2;
	assert_int_equal(vd_get16(out + ede), VD_EDE_NO_REACHABLE_AUTHORITY);
}

static void wait_reply(void)
{
	while (replies == 0)
		uv_run(&fx.loop, UV_RUN_ONCE);
	replies = 0;
}

static void test_invalid(void **state)
{
	(void)state;
	uint8_t name[VD_NAME_MAX];
	assert_int_equal(vd_query_loopcheck_name(lc, 0, name), -EINVAL);
	assert_false(vd_query_loopcheck_looping(NULL, fx.snap, 0));
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, 0));
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, VD_LOOPCHECK_MAX_GROUPS));
	vd_query_loopcheck_free(NULL);
	vd_query_loopcheck_round(lc, 7);
	assert_int_equal(vd_query_loopcheck_name(lc, VD_LOOPCHECK_MAX_GROUPS, name),
			 -EINVAL);
	assert_int_equal(vd_query_loopcheck_generation(lc), 7);
}

static void test_probe_back_marks_the_group(void **state)
{
	(void)state;
	uint8_t name[VD_NAME_MAX], other[VD_NAME_MAX];
	char text[VD_NAME_TEXT];
	size_t len;

	vd_query_loopcheck_round(lc, 7);
	assert_int_equal(vd_query_loopcheck_name(lc, 1, name), 0);
	vd_name_to_text(name, text, sizeof(text));
	assert_non_null(strstr(text, "-1.vpcdns-loop-check.invalid"));
	/* Forwarded to "up" as usual before anything came back. */
	assert_int_equal(handle("www.example", &len), VD_QH_PENDING);
	wait_reply();
	/* Another server's probe (another token) is forwarded. */
	memcpy(other, name, vd_name_len(name));
	other[1] = other[1] == 'a' ? 'b' : 'a';
	assert_int_equal(handle_wire(other, &len), VD_QH_PENDING);
	wait_reply();
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, 1));

	/* Ours, back (in any case): SERVFAIL, group 1 ("other") looping. */
	name[2] = name[2] >= 'a' ? (uint8_t)(name[2] - 32) : name[2];
	assert_int_equal(handle_wire(name, &len), VD_QH_REPLY);
	assert_loop_servfail(len);
	assert_true(vd_query_loopcheck_looping(lc, fx.snap, 1));
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, 0));
	assert_int_equal(handle("x.other.test", &len), VD_QH_REPLY);
	assert_loop_servfail(len);
	/* "up" is not looping. */
	assert_int_equal(handle("www2.example", &len), VD_QH_PENDING);
	wait_reply();
	/* "up" loops too; another server's probe (under "." -> up) still
	 * goes there, so that the other server finds the loop as well. */
	assert_int_equal(vd_query_loopcheck_name(lc, 0, name), 0);
	assert_int_equal(handle_wire(name, &len), VD_QH_REPLY);
	assert_loop_servfail(len);
	assert_true(vd_query_loopcheck_looping(lc, fx.snap, 0));
	assert_int_equal(handle("www3.example", &len), VD_QH_REPLY);
	assert_loop_servfail(len);
	other[3] = other[3] == 'a' ? 'b' : 'a'; /* not cached */
	assert_int_equal(handle_wire(other, &len), VD_QH_PENDING);
	wait_reply();

	/* Another generation is not affected. */
	fx.snap->generation = 8;
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, 1));
	fx.snap->generation = 7;

	/* A new round: no mark, and the old name is just a name. */
	vd_query_loopcheck_round(lc, 7);
	assert_false(vd_query_loopcheck_looping(lc, fx.snap, 1));
	assert_int_equal(handle("y.other.test", &len), VD_QH_PENDING);
	wait_reply();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_probe_back_marks_the_group),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
