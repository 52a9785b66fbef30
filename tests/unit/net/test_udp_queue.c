/*
 * Unit test of the bound on queued UDP replies: the send calls of the net
 * module are wrapped at link time (--wrap) so that every send "would
 * block" and queued sends stay pending until the test lets them finish.
 * A burst of queries then fills the queue to its bound; replies beyond it
 * are dropped and counted, and the queue empties when the sends finish.
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
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <uv.h>

#include "vpcdns/conf.h"
#include "vpcdns/fwd.h"
#include "vpcdns/net.h"
#include "vpcdns/query.h"
#include "vpcdns/wire.h"

#define QUERIES 2000
#define BOUND (256 * 1024)

static bool blocked;
static uv_udp_send_t *held[QUERIES];
static uv_udp_send_cb held_cb[QUERIES];
static size_t nheld;

int __real_sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags);
int __real_uv_udp_try_send(uv_udp_t *h, const uv_buf_t bufs[], unsigned n,
			   const struct sockaddr *addr);
int __real_uv_udp_send(uv_udp_send_t *req, uv_udp_t *h, const uv_buf_t bufs[],
		       unsigned n, const struct sockaddr *addr, uv_udp_send_cb cb);
int __wrap_sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags);
int __wrap_uv_udp_try_send(uv_udp_t *h, const uv_buf_t bufs[], unsigned n,
			   const struct sockaddr *addr);
int __wrap_uv_udp_send(uv_udp_send_t *req, uv_udp_t *h, const uv_buf_t bufs[],
		       unsigned n, const struct sockaddr *addr, uv_udp_send_cb cb);

int __wrap_sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags)
{
	if (!blocked)
		return __real_sendmmsg(fd, m, n, flags);
	errno = EAGAIN;
	return -1;
}

int __wrap_uv_udp_try_send(uv_udp_t *h, const uv_buf_t bufs[], unsigned n,
			   const struct sockaddr *addr)
{
	if (!blocked)
		return __real_uv_udp_try_send(h, bufs, n, addr);
	return UV_EAGAIN;
}

/* Holds the request as if the socket never drained. */
int __wrap_uv_udp_send(uv_udp_send_t *req, uv_udp_t *h, const uv_buf_t bufs[],
		       unsigned n, const struct sockaddr *addr, uv_udp_send_cb cb)
{
	if (!blocked)
		return __real_uv_udp_send(req, h, bufs, n, addr, cb);
	assert_true(nheld < QUERIES);
	held[nheld] = req;
	held_cb[nheld++] = cb;
	return 0;
}

static char dir[64];
static uv_loop_t loop;
static vd_snap_t *snap;
static vd_fwd_t *fwd;
static vd_query_ctx_t *qctx;
static vd_net_t *net;
static int port;

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	path_of(path, sizeof(path), name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int free_udp_tcp_port(void)
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

static size_t make_query(uint16_t id, uint8_t *p)
{
	uint8_t wire[VD_NAME_MAX];
	size_t n;
	assert_int_equal(vd_name_from_text("example.com", wire, &n), 0);
	memset(p, 0, 12);
	vd_set16(p, id);
	vd_set16(p + 2, VD_F_RD);
	vd_set16(p + 4, 1);
	memcpy(p + 12, wire, n);
	vd_set16(p + 12 + n, VD_T_A);
	vd_set16(p + 14 + n, VD_C_IN);
	return 16 + n;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vd-udpq-XXXXXX");
	assert_non_null(mkdtemp(dir));
	port = free_udp_tcp_port();
	write_file("a.zone", "$ORIGIN example.com.\n$TTL 60\n"
			     "@ IN SOA ns hm 1 3600 600 86400 30\n@ IN A 10.0.0.1\n");
	char conf[512], path[256];
	snprintf(conf, sizeof(conf),
		 "server:\n  listen: [\"127.0.0.1:%d\"]\n"
		 "views:\n  - name: v\n    clients: [\"127.0.0.0/8\"]\n"
		 "    zones: [a.zone]\n",
		 port);
	write_file("c.yaml", conf);
	path_of(path, sizeof(path), "c.yaml");
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	int rc = vd_conf_load(path, &snap, &errs);
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
	char path[256];
	vd_fwd_close(fwd, closed, &fwd_done);
	vd_net_close(net, closed, &net_done);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_true(fwd_done && net_done);
	uv_loop_close(&loop);
	vd_query_ctx_free(qctx);
	vd_snap_unref(snap);
	path_of(path, sizeof(path), "a.zone");
	unlink(path);
	path_of(path, sizeof(path), "c.yaml");
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_queue_bounded(void **state)
{
	(void)state;
	const vd_net_stats_t *st = vd_net_stats(net);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint8_t q[512];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	blocked = true;
	/* In rounds small enough for the socket buffer, each read in full. */
	for (int i = 0; i < QUERIES; i += 50) {
		for (int k = i; k < i + 50; k++) {
			size_t len = make_query((uint16_t)k, q);
			assert_int_equal(sendto(s, q, len, 0, (struct sockaddr *)&sin,
						sizeof(sin)),
					 (ssize_t)len);
		}
		for (int t = 0; t < 2000 && st->udp_recv < (uint64_t)i + 50; t++) {
			uv_run(&loop, UV_RUN_NOWAIT);
			usleep(100);
		}
	}
	close(s);
	assert_int_equal(st->udp_recv, QUERIES);
	assert_true(st->udp_queued <= BOUND);
	assert_true(st->udp_queued > BOUND / 2);
	assert_true(st->udp_queue_dropped > 0);
	assert_int_equal(st->udp_sent + st->udp_queue_dropped, QUERIES);
	assert_int_equal(st->udp_sent, nheld);

	/* The socket drains: the queue gives its memory back. */
	blocked = false;
	for (size_t i = 0; i < nheld; i++)
		held_cb[i](held[i], 0);
	nheld = 0;
	assert_int_equal(st->udp_queued, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
