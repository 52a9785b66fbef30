/*
 * fwd UDP transport: one attempt's socket, fresh for every attempt, bound
 * to a random source port from the CSPRNG and connected to the server. It
 * reads into the forwarder's shared receive buffer (the loop is
 * single-threaded) and reports to fwd.c through vd_fwd_on_response /
 * vd_fwd_on_net_error. Callbacks that arrive after the attempt's socket
 * was closed (cancelled sends) are ignored: the request has already moved
 * on. TCP and TLS live in fwd_conn.c, on connections shared by requests.
 */
#include "fwd_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "vpcdns/util.h"

static const struct sockaddr *server_addr(const fwd_req_t *r)
{
	return (const struct sockaddr *)&r->cur->addr;
}

static void sock_opened(fwd_req_t *r)
{
	r->sock_state = FWD_SOCK_OPEN;
	r->nhandles++;
	r->sock.h.data = r;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	fwd_req_t *r = h->data;

	(void)hint;
	buf->base = (char *)r->f->rbuf;
	buf->len = sizeof(r->f->rbuf);
}

/* ---- UDP ------------------------------------------------------------- */

static void udp_recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
			const struct sockaddr *addr, unsigned flags)
{
	fwd_req_t *r = u->data;

	if (r->sock_state != FWD_SOCK_OPEN)
		return;
	/* ICMP errors (port unreachable) surface here on a connected socket */
	if (nread < 0) {
		vd_fwd_on_net_error(r, (int)nread);
		return;
	}
	if (nread == 0 && !addr)
		return;
	/* The kernel filters a connected socket, but the source check is
	 * what the contract promises, so it does not rely on that. */
	if (!vd_addr_equal(addr, server_addr(r))) {
		r->f->stats.dropped_mismatch++;
		return;
	}
	if (flags & UV_UDP_PARTIAL) {
		r->f->stats.dropped_malformed++;
		return;
	}
	vd_fwd_on_response(r, (const uint8_t *)buf->base, (size_t)nread);
}

static void udp_send_cb(uv_udp_send_t *s, int status)
{
	fwd_req_t *r = s->data;

	if (status < 0 && r->sock_state == FWD_SOCK_OPEN)
		vd_fwd_on_net_error(r, status);
}

static void any_addr(struct sockaddr_storage *ss, int family, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(port);
	}
}

/* A random port makes a blind spoofer guess 16 more bits besides the ID. */
static int udp_bind_random(uv_udp_t *u, int family)
{
	struct sockaddr_storage ss;
	int err = UV_EADDRINUSE;
	int i;

	for (i = 0; i < FWD_BIND_TRIES && err == UV_EADDRINUSE; i++) {
		uint32_t span = 65536u - FWD_PORT_MIN;

		any_addr(&ss, family, (uint16_t)(FWD_PORT_MIN + vd_rand_uniform(span)));
		err = uv_udp_bind(u, (const struct sockaddr *)&ss, 0);
	}
	if (err == UV_EADDRINUSE) {
		any_addr(&ss, family, 0);
		err = uv_udp_bind(u, (const struct sockaddr *)&ss, 0);
	}
	return err;
}

static int udp_send(fwd_req_t *r)
{
	uv_buf_t b = uv_buf_init((char *)r->query, (unsigned)r->qlen);
	int err;

	err = uv_udp_try_send(&r->sock.udp, &b, 1, NULL);
	if (err == UV_EAGAIN) {
		r->send_req.data = r;
		err = uv_udp_send(&r->send_req, &r->sock.udp, &b, 1, NULL, udp_send_cb);
	}
	return err < 0 ? err : 0;
}

int vd_fwd_io_udp_start(fwd_req_t *r)
{
	const struct sockaddr *srv = server_addr(r);
	int err;

	if (srv->sa_family != AF_INET && srv->sa_family != AF_INET6)
		return UV_EAFNOSUPPORT;
	err = uv_udp_init_ex(r->f->loop, &r->sock.udp, srv->sa_family);
	if (err < 0)
		return err;
	sock_opened(r);
	err = udp_bind_random(&r->sock.udp, srv->sa_family);
	if (!err)
		err = uv_udp_connect(&r->sock.udp, srv);
	if (!err)
		err = uv_udp_recv_start(&r->sock.udp, alloc_cb, udp_recv_cb);
	if (!err)
		err = udp_send(r);
	if (!err)
		r->f->stats.sent_udp++;
	return err;
}
