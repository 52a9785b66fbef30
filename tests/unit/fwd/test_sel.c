/*
 * Unit tests for fwd's server table and server choice, without sockets:
 * entries keyed by address, transport and TLS name; the smoothed RTT;
 * preferring the fastest server; exploring the others rarely and never a
 * backed-off one; the back-off growing, capped, not lengthened by one
 * outage seen by many queries, and reset by a success; a single probe
 * once it ends; the least recently failed server when all are backed off;
 * unused entries forgotten once the table grows. The clock is injected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fwd_int.h"
#include "vpcdns/fwd.h"
#include "vpcdns/util.h"

typedef struct env {
	uv_loop_t loop;
	vd_fwd_t *f;
	uint64_t now;
	vd_upstream_t ups[4];
	fwd_server_t *srv[4];
	size_t n;
} env_t;

static uint64_t fake_now(void *arg)
{
	return ((env_t *)arg)->now;
}

static void closed(void *arg)
{
	(*(int *)arg)++;
}

static int setup(void **state)
{
	env_t *e = test_calloc(1, sizeof(*e));

	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->f = vd_fwd_new(&e->loop);
	assert_non_null(e->f);
	e->now = 1000000;
	vd_fwd_set_clock(e->f, fake_now, e);
	e->f->explore_permille = 0;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env_t *e = *state;
	int calls = 0;

	for (size_t i = 0; i < e->n; i++)
		vd_fwd_server_put(e->f, e->srv[i]);
	vd_fwd_close(e->f, closed, &calls);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(calls, 1);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	test_free(e);
	return 0;
}

/* Adds n servers 127.0.0.1:5301.. to the table. */
static void add_servers(env_t *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char text[32];

		snprintf(text, sizeof(text), "127.0.0.1:%zu", 5301 + i);
		assert_int_equal(vd_addr_parse(text, 53, &e->ups[i].addr), 0);
		e->srv[i] = vd_fwd_server_get(e->f, &e->ups[i]);
		assert_non_null(e->srv[i]);
	}
	e->n = n;
}

static void measure(fwd_server_t *s, uint32_t rtt)
{
	vd_fwd_sel_success(s, 0, rtt);
}

static int pick(env_t *e, uint64_t tried, bool *probe, bool *explored)
{
	return vd_fwd_sel_pick(e->f, e->srv, e->n, tried, e->now, probe, explored);
}

static int pick_plain(env_t *e, uint64_t tried)
{
	bool probe, explored;

	return pick(e, tried, &probe, &explored);
}

static void fail_at(env_t *e, size_t i, bool was_probe)
{
	vd_fwd_sel_failure(e->srv[i], e->now, e->now, 0, was_probe);
}

/* ---- tests ------------------------------------------------------------- */

static void test_invalid_args(void **state)
{
	env_t *e = *state;
	bool probe = true, explored = true;

	vd_fwd_set_clock(NULL, fake_now, e);
	/* nothing to pick from, or everything tried */
	assert_int_equal(vd_fwd_sel_pick(e->f, e->srv, 0, 0, e->now, &probe, &explored),
			 -1);
	assert_false(probe);
	assert_false(explored);
	add_servers(e, 2);
	assert_int_equal(pick_plain(e, 3), -1);
	assert_int_equal(vd_fwd_sel_backoff_ms(0), 0);
	/* the clock can be given back */
	vd_fwd_set_clock(e->f, NULL, e);
	assert_null(e->f->now_fn);
	assert_null(e->f->now_arg);
	assert_true(vd_fwd_now(e->f) > 0);
	vd_fwd_set_clock(e->f, fake_now, e);
	assert_int_equal(vd_fwd_now(e->f), e->now);
}

static void test_table_keys(void **state)
{
	env_t *e = *state;
	vd_upstream_t u = { .tls = false }, t = { .tls = true, .tls_name = "dns.test" };
	fwd_server_t *a, *b, *c, *d, *g;

	assert_int_equal(vd_addr_parse("127.0.0.1:853", 53, &u.addr), 0);
	t.addr = u.addr;
	a = vd_fwd_server_get(e->f, &u);
	b = vd_fwd_server_get(e->f, &t);
	t.tls_name = NULL;
	c = vd_fwd_server_get(e->f, &t);
	t.tls_name = "DNS2.test";
	d = vd_fwd_server_get(e->f, &t);
	/* the same key again, from another group or snapshot */
	t.tls_name = "dns.test";
	g = vd_fwd_server_get(e->f, &t);
	assert_true(a != b && a != c && b != c && b != d && c != d);
	assert_ptr_equal(g, b);
	assert_int_equal(b->refs, 2);
	assert_int_equal(e->f->nservers, 4);
	assert_false(a->tls);
	assert_null(a->tls_name);
	assert_string_equal(a->label, "127.0.0.1:853");
	assert_string_equal(b->label, "tls://127.0.0.1:853#dns.test");
	assert_string_equal(c->label, "tls://127.0.0.1:853");
	/* the name is copied, not borrowed from the snapshot */
	assert_ptr_not_equal(b->tls_name, t.tls_name);
	/* a plain server's name is not part of its key */
	u.tls_name = "ignored";
	assert_ptr_equal(vd_fwd_server_get(e->f, &u), a);
	assert_int_equal(a->srtt, FWD_SRTT_INIT_MS);
	assert_false(a->measured);
	vd_fwd_server_put(e->f, a);
	vd_fwd_server_put(e->f, a);
	vd_fwd_server_put(e->f, b);
	vd_fwd_server_put(e->f, b);
	vd_fwd_server_put(e->f, c);
	vd_fwd_server_put(e->f, d);
	assert_int_equal(a->refs + b->refs + c->refs + d->refs, 0);
}

static void test_srtt(void **state)
{
	env_t *e = *state;
	fwd_server_t *s;

	add_servers(e, 1);
	s = e->srv[0];
	measure(s, 80); /* the first sample is taken as is */
	assert_int_equal(s->srtt, 80);
	measure(s, 160); /* 7/8 * 80 + 1/8 * 160 */
	assert_int_equal(s->srtt, 90);
	for (int i = 0; i < 100; i++)
		measure(s, 10);
	assert_true(s->srtt >= 10 && s->srtt <= 11);
	/* a success without a sample leaves the SRTT alone */
	vd_fwd_sel_success(s, 0, UINT32_MAX);
	assert_true(s->srtt <= 11);
	/* a timeout is a sample of its own length */
	vd_fwd_sel_failure(s, e->now, e->now, 1500, false);
	assert_true(s->srtt >= 195 && s->srtt <= 197);
}

static void test_prefer_fastest(void **state)
{
	env_t *e = *state;

	add_servers(e, 3);
	/* nothing measured: the order written */
	assert_int_equal(pick_plain(e, 0), 0);
	measure(e->srv[0], 50);
	measure(e->srv[1], 10);
	measure(e->srv[2], 30);
	assert_int_equal(pick_plain(e, 0), 1);
	/* the fastest was tried: the next fastest */
	assert_int_equal(pick_plain(e, 2), 2);
	assert_int_equal(pick_plain(e, 6), 0);
	/* a server never measured counts as 376 ms */
	measure(e->srv[1], 400);
	measure(e->srv[1], 3000);
	assert_int_equal(pick_plain(e, 1 | 4), 1);
	e->srv[2]->measured = false;
	e->srv[2]->srtt = FWD_SRTT_INIT_MS;
	assert_int_equal(pick_plain(e, 1), 2);
}

static void test_explore_rarely(void **state)
{
	env_t *e = *state;
	int counts[4] = { 0 }, explored_n = 0;
	const int n = 20000;

	add_servers(e, 4);
	measure(e->srv[0], 40);
	measure(e->srv[1], 5);
	measure(e->srv[2], 60);
	measure(e->srv[3], 20);
	fail_at(e, 3, false); /* backed off: never explored */
	e->f->explore_permille = FWD_EXPLORE_PERMILLE;
	for (int i = 0; i < n; i++) {
		bool probe, explored;
		int k = pick(e, 0, &probe, &explored);

		assert_true(k >= 0 && k < 3);
		assert_false(probe);
		counts[k]++;
		explored_n += explored;
		/* an exploration is never the fastest */
		assert_true(!explored || k != 1);
	}
	/* 5 % of 20000 = 1000, sd ~31: outside 800..1200 is ~6 sd */
	assert_in_range(explored_n, 800, 1200);
	assert_int_equal(counts[0] + counts[2], explored_n);
	assert_in_range(counts[0], 350, 650);
	assert_in_range(counts[2], 350, 650);
	assert_int_equal(counts[3], 0);
	/* one healthy server: nothing to explore */
	fail_at(e, 0, false);
	fail_at(e, 2, false);
	for (int i = 0; i < 1000; i++) {
		bool probe, explored;

		assert_int_equal(pick(e, 0, &probe, &explored), 1);
		assert_false(explored);
	}
}

static void test_backoff_grows_and_resets(void **state)
{
	env_t *e = *state;
	static const uint32_t want[] = { 1000,	2000,  4000,   8000,  16000,
					 32000, 64000, 120000, 120000 };
	fwd_server_t *s;

	add_servers(e, 2);
	s = e->srv[0];
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(vd_fwd_sel_backoff_ms((unsigned)i + 1), want[i]);
		/* each failure is a new outage: the probe after the last one */
		fail_at(e, 0, true);
		assert_int_equal(s->fails, i + 1);
		assert_int_equal(s->backoff_until, e->now + want[i]);
		/* skipped while backed off */
		assert_int_equal(pick_plain(e, 0), 1);
		e->now += want[i];
	}
	assert_int_equal(vd_fwd_sel_backoff_ms(1000), FWD_BACKOFF_MAX_MS);
	/* a success resets it */
	vd_fwd_sel_success(s, e->now, 20);
	assert_int_equal(s->fails, 0);
	assert_int_equal(pick_plain(e, 0), 0);
	fail_at(e, 0, false);
	assert_int_equal(s->backoff_until, e->now + 1000);
}

/* Queries already in flight when a server went down each fail in turn;
 * that is one outage, not ten. */
static void test_one_outage_counts_once(void **state)
{
	env_t *e = *state;
	uint64_t sent = e->now;
	fwd_server_t *s;

	add_servers(e, 1);
	s = e->srv[0];
	e->now += 1500;
	for (int i = 0; i < 10; i++) {
		vd_fwd_sel_failure(s, e->now, sent, 0, false);
		e->now += 10;
	}
	assert_int_equal(s->fails, 1);
	/* a query sent after that failure does count */
	vd_fwd_sel_failure(s, e->now, e->now, 0, false);
	assert_int_equal(s->fails, 2);
}

static void test_probe_back_in(void **state)
{
	env_t *e = *state;
	bool probe, explored;
	fwd_server_t *s;

	add_servers(e, 2);
	s = e->srv[0];
	measure(s, 5);
	measure(e->srv[1], 50);
	fail_at(e, 0, false);
	assert_int_equal(pick(e, 0, &probe, &explored), 1);
	assert_false(probe);
	/* the back-off is over: one query probes it, slow as it now is */
	e->now += 1000;
	vd_fwd_sel_failure(s, e->now, 0, 1500, false); /* late, same outage */
	assert_int_equal(s->fails, 1);
	assert_true(s->srtt > e->srv[1]->srtt);
	assert_int_equal(pick(e, 0, &probe, &explored), 0);
	assert_true(probe);
	/* while the probe is out, others keep away from it */
	s->probing = true;
	assert_int_equal(pick(e, 0, &probe, &explored), 1);
	assert_false(probe);
	/* the probe failed: twice as long */
	s->probing = false;
	fail_at(e, 0, true);
	assert_int_equal(s->fails, 2);
	assert_int_equal(pick_plain(e, 0), 1);
	e->now += 1999;
	assert_int_equal(pick_plain(e, 0), 1);
	e->now += 1;
	assert_int_equal(pick(e, 0, &probe, &explored), 0);
	assert_true(probe);
	/* the probe answered: a healthy server again, chosen by its SRTT
	 * (still above the other one's after the timeout sample) */
	vd_fwd_sel_success(s, e->now, 4);
	assert_int_equal(s->fails, 0);
	assert_int_equal(pick(e, 0, &probe, &explored), 1);
	assert_int_equal(pick(e, 2, &probe, &explored), 0);
	assert_false(probe);
}

static void test_all_backed_off(void **state)
{
	env_t *e = *state;
	bool probe, explored;

	add_servers(e, 3);
	fail_at(e, 1, false);
	e->now += 100;
	fail_at(e, 2, false);
	e->now += 100;
	fail_at(e, 0, false);
	/* still tried, the one that failed longest ago first, as no probe */
	assert_int_equal(pick(e, 0, &probe, &explored), 1);
	assert_false(probe);
	assert_int_equal(pick_plain(e, 2), 2);
	assert_int_equal(pick_plain(e, 6), 0);
	assert_int_equal(pick_plain(e, 7), -1);
	/* a healthy server left comes before any backed-off one */
	vd_fwd_sel_success(e->srv[0], e->now, 3000);
	assert_int_equal(pick_plain(e, 0), 0);
	/* probing is only for a server whose back-off is over: 1's is,
	 * 2's is not yet */
	e->now += 850;
	assert_int_equal(pick(e, 1 | 2, &probe, &explored), 2);
	assert_false(probe);
	assert_int_equal(pick(e, 0, &probe, &explored), 1);
	assert_true(probe);
}

/* Reloads that keep naming new servers do not grow the table forever. */
static void test_table_forgets(void **state)
{
	env_t *e = *state;
	vd_upstream_t u = { .tls = true };
	fwd_server_t *kept;
	char name[32];

	assert_int_equal(vd_addr_parse("127.0.0.1", 853, &u.addr), 0);
	u.tls_name = "kept.test";
	kept = vd_fwd_server_get(e->f, &u);
	for (int i = 0; i < FWD_SERVERS_SOFT_MAX; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		u.tls_name = name;
		vd_fwd_server_put(e->f, vd_fwd_server_get(e->f, &u));
	}
	assert_int_equal(e->f->nservers, FWD_SERVERS_SOFT_MAX + 1);
	/* recently used: kept */
	u.tls_name = "late.test";
	vd_fwd_server_put(e->f, vd_fwd_server_get(e->f, &u));
	assert_int_equal(e->f->nservers, FWD_SERVERS_SOFT_MAX + 2);
	e->now += FWD_SERVER_FORGET_MS;
	u.tls_name = "later.test";
	vd_fwd_server_put(e->f, vd_fwd_server_get(e->f, &u));
	/* the held entry and the new one are left */
	assert_int_equal(e->f->nservers, 2);
	u.tls_name = "kept.test";
	assert_ptr_equal(vd_fwd_server_get(e->f, &u), kept);
	vd_fwd_server_put(e->f, kept);
	vd_fwd_server_put(e->f, kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_invalid_args),
		T(test_table_keys),
		T(test_srtt),
		T(test_prefer_fastest),
		T(test_explore_rarely),
		T(test_backoff_grows_and_resets),
		T(test_one_outage_counts_once),
		T(test_probe_back_in),
		T(test_all_backed_off),
		T(test_table_forgets),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
