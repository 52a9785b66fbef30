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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
