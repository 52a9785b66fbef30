/*
 * Unit tests of the listeners: a real vd_net_t on 127.0.0.1 with a
 * snapshot built from a temporary config, driven by the test's own libuv
 * loop, queried over UDP and TCP by plain sockets (partial writes,
 * pipelining, idle timeout, connection limit closing the oldest idle).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/net.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

static char dir[64];
static uv_loop_t loop;
static vd_snap_t *snap;
static vd_fwd_t *fwd;
static vd_query_ctx_t *qctx;
static vd_net_t *net;
static int port;

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A port free on 127.0.0.1 for both UDP and TCP (the listeners take
 * both): the kernel's ephemeral UDP port may be a TCP connection's. */
static int free_port(void)
{
	for (int i = 0; i < 50; i++) {
		int t = socket(AF_INET, SOCK_STREAM, 0),
		    u = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);
		int found = 0;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    getsockname(t, (struct sockaddr *)&sin, &len) == 0 &&
		    bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			found = ntohs(sin.sin_port);
		close(t);
		close(u);
		if (found)
			return found;
	}
	fail_msg("no port free for UDP and TCP");
	return 0;
}

static size_t make_query(uint16_t id, const char *name, uint8_t *p)
{
	uint8_t wire[VD_NAME_MAX];
	size_t n;
	assert_int_equal(vd_name_from_text(name, wire, &n), 0);
	memset(p, 0, 12);
	vd_set16(p, id);
	vd_set16(p + 2, VD_F_RD);
	vd_set16(p + 4, 1);
	memcpy(p + 12, wire, n);
	vd_set16(p + 12 + n, VD_T_A);
	vd_set16(p + 14 + n, VD_C_IN);
	return 16 + n;
}

/* Runs the loop until fd is readable or ~2 s pass; then reads. */
static ssize_t pump_recv(int fd, uint8_t *buf, size_t cap)
{
	for (int i = 0; i < 2000; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
		usleep(1000);
	}
	return -2;
}

/* Reads exactly len bytes from a TCP socket while pumping the loop. */
static bool pump_read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pump_recv(fd, buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static int tcp_connect(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return s;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vd-net-XXXXXX");
	assert_non_null(mkdtemp(dir));
	port = free_port();
	write_file("a.zone", "$ORIGIN example.com.\n$TTL 60\n"
			     "@ IN SOA ns hm 1 3600 600 86400 30\n@ IN A 10.0.0.1\n");
	char conf[512];
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:%d\"]\n  tcp_idle_timeout: 300ms\n"
		 "  tcp_max_connections: 2\n"
		 "views:\n  - name: v\n    clients: [\"127.0.0.0/8\"]\n"
		 "    zones: [a.zone]\n",
		 port);
	write_file("c.yaml", conf);
	char path[256];
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	int rc = vd_conf_load(path, &snap, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	vd_errlist_deinit(&errs);
	assert_int_equal(rc, 0);

	assert_int_equal(uv_loop_init(&loop), 0);
	fwd = vd_fwd_new(&loop);
	qctx = vd_query_ctx_new(fwd);
	net = vd_net_new(&loop, qctx);
	assert_non_null(net);
	assert_int_equal(vd_query_snap_changed(qctx, snap), 0);
	vd_net_set_snap(net, snap);
	assert_int_equal(vd_net_listen(net, (struct sockaddr *)&snap->server.listen[0]),
			 0);
	return 0;
}

static void closed(void *arg)
{
	*(bool *)arg = true;
}

static int teardown(void **state)
{
	(void)state;
	bool fwd_done = false, net_done = false;
	vd_fwd_close(fwd, closed, &fwd_done);
	vd_net_close(net, closed, &net_done);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(fwd_done && net_done);
	uv_loop_close(&loop);
	vd_query_ctx_free(qctx);
	vd_snap_unref(snap);
	char path[256];
	snprintf(path, sizeof(path), "%s/a.zone", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_null(void **state)
{
	(void)state;
	/* A listen address already in use fails cleanly. */
	assert_int_not_equal(
		vd_net_listen(net, (struct sockaddr *)&snap->server.listen[0]), 0);
}

static void test_udp(void **state)
{
	(void)state;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uint8_t q[512], r[512];
	size_t qlen = make_query(0x4242, "example.com", q);
	sendto(s, q, qlen, 0, (struct sockaddr *)&sin, sizeof(sin));
	ssize_t n = pump_recv(s, r, sizeof(r));
	assert_true(n > 12);
	assert_int_equal(vd_hdr_id(r), 0x4242);
	assert_int_equal(vd_hdr_ancount(r), 1);
	assert_true(vd_hdr_flags(r) & VD_F_AA);
	close(s);
	assert_true(vd_net_stats(net)->udp_recv >= 1);
}

static void test_tcp_partial_and_pipelined(void **state)
{
	(void)state;
	int s = tcp_connect();
	uint8_t q[1024], r[1024];
	size_t a = make_query(1, "example.com", q + 2);
	vd_set16(q, (uint16_t)a);
	size_t b = make_query(2, "example.com", q + 4 + a);
	vd_set16(q + 2 + a, (uint16_t)b);
	size_t total = 4 + a + b;

	/* One byte, then the rest of the first message and the whole second
	 * one in a single write: framing across reads, and pipelining. */
	assert_int_equal(send(s, q, 1, 0), 1);
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(send(s, q + 1, total - 1, 0), (ssize_t)(total - 1));

	for (int k = 1; k <= 2; k++) {
		assert_true(pump_read_exact(s, r, 2));
		size_t len = vd_get16(r);
		assert_true(pump_read_exact(s, r, len));
		assert_int_equal(vd_hdr_id(r), k);
		assert_int_equal(vd_hdr_ancount(r), 1);
	}
	close(s);
}

static void test_tcp_idle_timeout(void **state)
{
	(void)state;
	int s = tcp_connect();
	uint8_t r[16];
	/* Idle timeout is 300 ms: the server closes (recv returns 0). */
	ssize_t n = pump_recv(s, r, sizeof(r));
	assert_int_equal(n, 0);
	close(s);
	assert_true(vd_net_stats(net)->tcp_idle_closed >= 1);
}

static void pump(int times)
{
	for (int i = 0; i < times; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_tcp_connection_limit(void **state)
{
	(void)state;
	int s1 = tcp_connect();
	pump(20);
	int s2 = tcp_connect();
	pump(20);
	int s3 = tcp_connect();
	uint8_t q[512], r[512];
	/* The table holds 2: the third connection closes the one idle
	 * longest (s1) and is served (RFC 7766 section 6.2.3). */
	assert_int_equal(pump_recv(s1, r, sizeof(r)), 0);
	assert_true(vd_net_stats(net)->tcp_evicted >= 1);
	size_t a = make_query(3, "example.com", q + 2);
	vd_set16(q, (uint16_t)a);
	assert_int_equal(send(s3, q, a + 2, 0), (ssize_t)(a + 2));
	assert_true(pump_read_exact(s3, r, 2));
	assert_true(pump_read_exact(s3, r, vd_get16(r)));
	assert_int_equal(vd_hdr_id(r), 3);
	close(s1);
	close(s2);
	close(s3);
	pump(50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_tcp_partial_and_pipelined),
		cmocka_unit_test(test_tcp_idle_timeout),
		cmocka_unit_test(test_tcp_connection_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
