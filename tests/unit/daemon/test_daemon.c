/*
 * Unit tests of the daemon's main-loop services, with a real daemon on a
 * loopback port: a reload requested through the API reports the new
 * generation; a broken file reports file:line and leaves the generation
 * serving; requests made during a build are answered by one more build;
 * status counts reloads and keeps the last error; statistics come back
 * from every worker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vpcdns/daemon.h"

#include "daemon_int.h"

static char dir[64], path[128];

/* A port free for both UDP and TCP on 127.0.0.1, from the kernel. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 50; tries++) {
		int u = socket(AF_INET, SOCK_DGRAM, 0),
		    t = socket(AF_INET, SOCK_STREAM, 0);
		sa.sin_port = 0;
		int ok = bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			 getsockname(u, (struct sockaddr *)&sa, &len) == 0 &&
			 bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(u);
		close(t);
		if (ok)
			return ntohs(sa.sin_port);
	}
	fail_msg("no free port");
	return -1;
}

static void write_conf(const char *extra)
{
	static int port;
	if (port == 0)
		port = free_port();
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"server:\n  listen: [\"127.0.0.1:%d\"]\n  workers: 2\n"
		"views:\n  - name: a\n    clients: [\"10.0.0.0/8\"]\n%s",
		port, extra);
	fclose(f);
}

typedef struct seen {
	int calls;
	int rc[4];
	uint64_t gen[4];
	char err[4][256];
	vd_daemon_t *d;
	int stop_after;
} seen_t;

static void on_reload(void *arg, const vd_daemon_reload_result_t *r)
{
	seen_t *s = arg;
	int i = s->calls++;
	s->rc[i] = r->rc;
	s->gen[i] = r->generation;
	s->err[i][0] = '\0';
	if (r->errs != NULL && r->errs->count > 0)
		snprintf(s->err[i], sizeof(s->err[i]), "%s", r->errs->msgs[0]);
	if (s->calls == s->stop_after)
		vd_daemon_stop(s->d);
}

static vd_daemon_t *start(void)
{
	vd_daemon_opts_t o = { .conf_path = path };
	vd_daemon_t *d = NULL;
	assert_int_equal(vd_daemon_new(&o, &d), 0);
	return d;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vd-daemon-test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/vpcdns.yaml", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_reload_results(void **state)
{
	(void)state;
	write_conf("");
	vd_daemon_t *d = start();
	seen_t s = { .d = d, .stop_after = 1 };

	assert_int_equal(vd_daemon_reload(d, on_reload, &s), 0);
	vd_daemon_run(d);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.rc[0], 0);
	assert_int_equal(s.gen[0], 2);
	vd_daemon_free(d);
}

static void test_failed_reload_keeps_generation(void **state)
{
	vd_daemon_status_t st;
	(void)state;
	write_conf("");
	vd_daemon_t *d = start();
	seen_t s = { .d = d, .stop_after = 1 };

	write_conf("bogus: 1\n");
	assert_int_equal(vd_daemon_reload(d, on_reload, &s), 0);
	vd_daemon_run(d);
	assert_int_equal(s.calls, 1);
	assert_int_not_equal(s.rc[0], 0);
	assert_int_equal(s.gen[0], 1);
	assert_non_null(strstr(s.err[0], "vpcdns.yaml:7: unknown key 'bogus'"));
	vd_daemon_status(d, &st);
	assert_int_equal(st.generation, 1);
	assert_int_equal(st.reloads, 1);
	assert_int_equal(st.reload_failures, 1);
	assert_int_not_equal(st.last_rc, 0);
	assert_non_null(strstr(st.last_error, "unknown key 'bogus'"));
	assert_int_equal(st.views, 1);
	assert_int_equal(st.workers, 2);
	vd_daemon_free(d);
}

/* Two requests before the loop runs: the first starts a build, the
 * second waits for the next one, so both are told and the generation
 * moves twice. */
static void test_requests_during_a_build(void **state)
{
	(void)state;
	write_conf("");
	vd_daemon_t *d = start();
	seen_t s = { .d = d, .stop_after = 2 };

	assert_int_equal(vd_daemon_reload(d, on_reload, &s), 0);
	assert_int_equal(vd_daemon_reload(d, on_reload, &s), 0);
	vd_daemon_run(d);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.rc[0], 0);
	assert_int_equal(s.rc[1], 0);
	assert_int_equal(s.gen[0], 2);
	assert_int_equal(s.gen[1], 3);
	vd_daemon_free(d);
}

typedef struct got_stats {
	vd_daemon_t *d;
	size_t n;
	int valid;
} got_stats_t;

static void on_stats(void *arg, const vd_worker_stats_t *w, size_t n)
{
	got_stats_t *g = arg;
	g->n = n;
	for (size_t i = 0; i < n; i++)
		g->valid += w[i].valid && w[i].worker == (int)i && w[i].generation == 1;
	vd_daemon_stop(g->d);
}

static void test_stats_from_every_worker(void **state)
{
	(void)state;
	write_conf("");
	vd_daemon_t *d = start();
	got_stats_t g = { .d = d };

	assert_int_equal(vd_daemon_collect_stats(d, on_stats, &g), 0);
	vd_daemon_run(d);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.valid, 2);
	vd_daemon_free(d);
}

static size_t waiters(const waiter_t *w)
{
	size_t n = 0;
	for (; w != NULL; w = w->next)
		n++;
	return n;
}

/* Signals carry no caller: a storm of them during a build keeps no
 * record each, and repeated statistics requests from one caller share one
 * collection, so neither list grows with the number of signals. */
static void test_signal_storms_hold_nothing(void **state)
{
	(void)state;
	write_conf("");
	vd_daemon_t *d = start();
	got_stats_t g = { .d = d };

	for (int i = 0; i < 1000; i++)
		assert_int_equal(vd_daemon_reload(d, NULL, NULL), 0);
	assert_int_equal(waiters(d->next_waiters) + waiters(d->job.waiters), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(vd_daemon_collect_stats(d, on_stats, &g), 0);
	assert_int_equal(waiters(d->stats_waiters), 1);
	vd_daemon_run(d);
	assert_int_equal(g.n, 2);
	vd_daemon_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_results),
		cmocka_unit_test(test_failed_reload_keeps_generation),
		cmocka_unit_test(test_requests_during_a_build),
		cmocka_unit_test(test_stats_from_every_worker),
		cmocka_unit_test(test_signal_storms_hold_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
