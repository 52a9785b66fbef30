/*
 * Unit tests for fwd: a real libuv loop talks to fake upstream servers,
 * UDP and TCP sockets on 127.0.0.1 ephemeral ports inside this process,
 * which answer, stay silent, lie about IDs, questions and sources, truncate,
 * fail or split TCP responses, so every acceptance and failover rule of the
 * forwarder is exercised over real sockets. Only loopback is used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fwd_int.h" /* the spoof test feeds the client socket directly */
#include "vpcdns/fwd.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#define MAXQ 32
#define MAXCONN 8
#define MAXHOLD 8
#define TIMEOUT_SHORT 150

/* "www.Example.COM": mixed case must reach the upstream as given */
static const uint8_t QNAME[] = "\3www\7Example\3COM";

enum srv_mode {
	SRV_ANSWER,
	SRV_SILENT,
	SRV_WRONG_ID,	    /* wrong ID first, then the answer */
	SRV_SPOOF,	    /* answer from another socket first */
	SRV_WRONG_QUESTION, /* other qtype, other name, QR=0, then answer */
	SRV_MALFORMED,	    /* two broken packets, then the answer */
	SRV_TC,		    /* TC=1 over UDP, answers over TCP */
	SRV_SERVFAIL,
	SRV_REFUSED,
	SRV_FORMERR_EDNS, /* FORMERR while the query has an OPT RR */
	SRV_FORMERR_NOQ,  /* same, without the question in the FORMERR */
	SRV_FORMERR,	  /* FORMERR to everything */
	SRV_LOWER,	  /* answers with the question lower-cased */
};

enum {
	TCP_OFF,
	TCP_WHOLE,
	TCP_SPLIT,
	TCP_SILENT,
	TCP_WRONG_FIRST,   /* a wrong-ID frame, then the answer, one write */
	TCP_HANGUP,	   /* closes the connection without answering */
	TCP_HOLD,	   /* keeps hold_n queries, answers in reverse order */
	TCP_CLOSE_AFTER,   /* answers, then closes the connection */
	TCP_HANGUP_SECOND, /* answers a connection's first query only */
	TCP_ANSWER_ONCE,   /* answers the first query it gets, no other */
};

#define UDP_ANSWERS 2
#define TCP_ANSWERS 40

struct fake_srv;

typedef struct fake_conn {
	struct fake_srv *srv;
	uv_tcp_t tcp;
	uv_timer_t delay;
	uint8_t in[4096];
	size_t inlen;
	uint8_t out[4096];
	size_t outlen;
	bool used;
	int nq;	 /* queries read on this connection */
	int eof; /* the client closed it */
	uint8_t held[MAXHOLD][512];
	int nheld;
} fake_conn_t;

typedef struct fake_srv {
	uv_udp_t udp;
	uv_udp_t spoof; /* second socket, another source port */
	uv_tcp_t listener;
	bool tcp_on;
	struct sockaddr_storage addr;
	int mode, tcp_mode;
	int nudp, ntcp;
	int naccept;
	int hold_n;
	uint64_t step; /* advances the fake clock per UDP query */
	uint16_t tcp_ids[MAXQ];
	uint16_t ports[MAXQ], ids[MAXQ];
	uint8_t query[512]; /* last query received over UDP */
	size_t qlen;
	uint8_t sent[2048]; /* last answer sent */
	size_t sent_len;
	fake_conn_t conns[MAXCONN];
	uint8_t rbuf[2048];
} fake_srv_t;

typedef struct result {
	int calls;
	int status;
	int ede;
	uint8_t resp[4096];
	size_t len;
} result_t;

typedef struct env {
	uv_loop_t loop;
	uint64_t clock;	 /* the forwarder's clock, when injected */
	uv_timer_t tick; /* keeps uv_run(ONCE) from blocking */
	vd_fwd_t *f;
	bool f_closed;
	int close_calls;
	fake_srv_t srv[3];
	int nsrv;
	vd_upstream_t ups[3];
	vd_group_t group;
} env_t;

static vd_fwd_t *g_fwd;
static struct env *g_env;

/* ---- response building ------------------------------------------------ */

typedef struct rspec {
	uint16_t id_xor;
	bool no_qr, tc, lower, other_name, noq;
	int rcode;
	int nans;
	int extra_ancount; /* claims more RRs than present */
	uint16_t qtype_delta;
	size_t cut; /* non-zero: truncate to this many bytes */
} rspec_t;

static size_t question_end(const uint8_t *q, size_t len)
{
	size_t off = VD_HDR_LEN;

	while (off < len && q[off])
		off += (size_t)q[off] + 1;
	return off + 1 + 4;
}

static size_t build_resp(const uint8_t *q, size_t qlen, const rspec_t *o, uint8_t *out)
{
	size_t qend = question_end(q, qlen), off, i;
	uint16_t flags = (uint16_t)((vd_get16(q + 2) & (VD_F_RD | VD_F_CD)) | VD_F_RA |
				    o->rcode);

	memcpy(out, q, qend);
	vd_set16(out, (uint16_t)(vd_get16(q) ^ o->id_xor));
	if (!o->no_qr)
		flags |= VD_F_QR;
	if (o->tc)
		flags |= VD_F_TC;
	vd_set16(out + 2, flags);
	vd_set16(out + 4, 1);
	vd_set16(out + 6, (uint16_t)(o->nans + o->extra_ancount));
	vd_set16(out + 8, 0);
	vd_set16(out + 10, 0);
	for (i = VD_HDR_LEN; i < qend - 4; i++) {
		if (o->lower && out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (uint8_t)(out[i] + 32);
	}
	if (o->other_name)
		out[VD_HDR_LEN + 1] = 'x';
	vd_set16(out + qend - 4, (uint16_t)(vd_get16(q + qend - 4) + o->qtype_delta));
	off = qend;
	if (o->noq) {
		vd_set16(out + 4, 0);
		off = VD_HDR_LEN;
	}
	for (i = 0; i < (size_t)o->nans; i++) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0,   1, 0, 0,
					      1,    44, 0, 4, 192, 0, 2 };

		memcpy(out + off, rr, sizeof(rr));
		off += sizeof(rr);
		out[off++] = (uint8_t)(i + 1);
	}
	return o->cut ? o->cut : off;
}

static size_t answer(const uint8_t *q, size_t qlen, int nans, uint8_t *out)
{
	rspec_t o = { .nans = nans };

	return build_resp(q, qlen, &o, out);
}

/* ---- fake UDP server -------------------------------------------------- */

static void srv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	fake_srv_t *s = h->data;

	(void)hint;
	buf->base = (char *)s->rbuf;
	buf->len = sizeof(s->rbuf);
}

static void srv_send(uv_udp_t *u, const uint8_t *p, size_t len,
		     const struct sockaddr *to)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);

	assert_int_equal(uv_udp_try_send(u, &b, 1, to), (int)len);
}

static void srv_send_spec(fake_srv_t *s, const rspec_t *o, const struct sockaddr *to)
{
	uint8_t out[2048];
	size_t n = build_resp(s->query, s->qlen, o, out);

	srv_send(&s->udp, out, n, to);
}

/* The kernel drops a datagram from the wrong port on a connected socket,
 * so the same packet is also handed straight to the client's receive
 * callback, as if it had got through, to test fwd's own source check. */
static void srv_spoof(fake_srv_t *s, const struct sockaddr *to)
{
	struct sockaddr_storage from;
	int fromlen = sizeof(from);
	uint8_t out[2048];
	size_t n = answer(s->query, s->qlen, UDP_ANSWERS, out);
	fwd_req_t *r = g_fwd->active;
	uv_buf_t b = uv_buf_init((char *)out, (unsigned)n);

	srv_send(&s->spoof, out, n, to);
	assert_int_equal(
		uv_udp_getsockname(&s->spoof, (struct sockaddr *)&from, &fromlen), 0);
	assert_non_null(r);
	r->sock.udp.recv_cb(&r->sock.udp, (ssize_t)n, &b,
			    (const struct sockaddr *)&from, 0);
}

static void srv_misbehave(fake_srv_t *s, const struct sockaddr *to)
{
	rspec_t o = { .nans = UDP_ANSWERS };

	switch (s->mode) {
	case SRV_WRONG_ID:
		o.id_xor = 0x5a5a;
		srv_send_spec(s, &o, to);
		break;
	case SRV_SPOOF:
		srv_spoof(s, to);
		break;
	case SRV_WRONG_QUESTION:
		o.qtype_delta = 1;
		srv_send_spec(s, &o, to);
		o.qtype_delta = 0;
		o.other_name = true;
		srv_send_spec(s, &o, to);
		o.other_name = false;
		o.no_qr = true;
		srv_send_spec(s, &o, to);
		break;
	case SRV_MALFORMED:
		o.cut = 5; /* shorter than a header */
		srv_send_spec(s, &o, to);
		o.cut = VD_HDR_LEN + 3; /* ends inside the question */
		srv_send_spec(s, &o, to);
		o.cut = 0;
		o.extra_ancount = 1; /* one RR short */
		srv_send_spec(s, &o, to);
		break;
	default:
		break;
	}
}

static void srv_reply(fake_srv_t *s, const struct sockaddr *to)
{
	rspec_t o = { .nans = UDP_ANSWERS };

	switch (s->mode) {
	case SRV_SILENT:
		return;
	case SRV_TC:
		o.tc = true;
		o.nans = 0;
		break;
	case SRV_SERVFAIL:
		o.rcode = VD_RCODE_SERVFAIL;
		o.nans = 0;
		break;
	case SRV_REFUSED:
		o.rcode = VD_RCODE_REFUSED;
		o.nans = 0;
		break;
	case SRV_FORMERR_EDNS:
	case SRV_FORMERR_NOQ:
		if (vd_hdr_arcount(s->query)) {
			o.rcode = VD_RCODE_FORMERR;
			o.nans = 0;
			o.noq = s->mode == SRV_FORMERR_NOQ;
		}
		break;
	case SRV_FORMERR:
		o.rcode = VD_RCODE_FORMERR;
		o.nans = 0;
		break;
	case SRV_LOWER:
		o.lower = true;
		break;
	default:
		srv_misbehave(s, to);
		break;
	}
	s->sent_len = build_resp(s->query, s->qlen, &o, s->sent);
	srv_send(&s->udp, s->sent, s->sent_len, to);
}

static void srv_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	fake_srv_t *s = u->data;

	(void)flags;
	if (nread <= 0 || !addr)
		return;
	assert_true((size_t)nread <= sizeof(s->query));
	memcpy(s->query, buf->base, (size_t)nread);
	s->qlen = (size_t)nread;
	if (s->nudp < MAXQ) {
		/* sin_port and sin6_port share their offset */
		s->ports[s->nudp] = ntohs(((const struct sockaddr_in *)addr)->sin_port);
		s->ids[s->nudp] = vd_hdr_id(s->query);
	}
	s->nudp++;
	g_env->clock += s->step;
	srv_reply(s, addr);
}

/* ---- fake TCP server -------------------------------------------------- */

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	fake_conn_t *c = h->data;

	(void)hint;
	buf->base = (char *)c->in + c->inlen;
	buf->len = sizeof(c->in) - c->inlen;
}

/* Loopback takes a few KiB at once. */
static void conn_write(fake_conn_t *c, size_t from, size_t to)
{
	uv_buf_t b = uv_buf_init((char *)c->out + from, (unsigned)(to - from));

	assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)(to - from));
}

static void conn_second_half(uv_timer_t *t)
{
	fake_conn_t *c = t->data;

	conn_write(c, 5, c->outlen);
}

static void conn_hangup(fake_conn_t *c)
{
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, NULL);
}

/* Writes the framed answer to the query q (length n) at c->out + off. */
static void conn_frame(fake_conn_t *c, const uint8_t *q, size_t n, size_t off)
{
	c->outlen = off + 2 + answer(q, n, TCP_ANSWERS, c->out + off + 2);
	vd_set16(c->out + off, (uint16_t)(c->outlen - off - 2));
	memcpy(c->srv->sent, c->out + off + 2, c->outlen - off - 2);
	c->srv->sent_len = c->outlen - off - 2;
}

static void conn_release_held(fake_conn_t *c)
{
	for (int i = c->nheld - 1; i >= 0; i--) {
		conn_frame(c, c->held[i] + 2, vd_get16(c->held[i]), 0);
		conn_write(c, 0, c->outlen);
	}
	c->nheld = 0;
}

/* Modes that decide whether to answer at all; true when handled. */
static bool conn_special(fake_conn_t *c, const uint8_t *frame, size_t n)
{
	fake_srv_t *s = c->srv;

	switch (s->tcp_mode) {
	case TCP_SILENT:
		return true;
	case TCP_HANGUP:
		conn_hangup(c);
		return true;
	case TCP_HANGUP_SECOND:
		if (c->nq < 2)
			return false;
		conn_hangup(c);
		return true;
	case TCP_ANSWER_ONCE:
		if (s->ntcp == 1)
			return false;
		conn_hangup(c);
		return true;
	case TCP_HOLD:
		assert_true(c->nheld < MAXHOLD && n + 2 <= sizeof(c->held[0]));
		memcpy(c->held[c->nheld++], frame, n + 2);
		if (c->nheld == s->hold_n)
			conn_release_held(c);
		return true;
	default:
		return false;
	}
}

/* frame: length prefix and query */
static void conn_answer(fake_conn_t *c, const uint8_t *frame)
{
	size_t n = vd_get16(frame), off = 0;
	const uint8_t *q = frame + 2;

	if (c->srv->ntcp < MAXQ)
		c->srv->tcp_ids[c->srv->ntcp] = vd_hdr_id(q);
	c->srv->ntcp++;
	c->nq++;
	if (conn_special(c, frame, n))
		return;
	if (c->srv->tcp_mode == TCP_WRONG_FIRST) {
		rspec_t o = { .id_xor = 1, .nans = 1 };

		off = 2 + build_resp(q, n, &o, c->out + 2);
		vd_set16(c->out, (uint16_t)(off - 2));
	}
	conn_frame(c, q, n, off);
	if (c->srv->tcp_mode != TCP_SPLIT) {
		conn_write(c, 0, c->outlen);
		if (c->srv->tcp_mode == TCP_CLOSE_AFTER)
			conn_hangup(c);
		return;
	}
	/* length prefix and part of the header now, the rest later */
	conn_write(c, 0, 5);
	assert_int_equal(uv_timer_start(&c->delay, conn_second_half, 30, 0), 0);
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	fake_conn_t *c = st->data;
	size_t used = 0;

	(void)buf;
	if (nread < 0) {
		c->eof++;
		uv_read_stop(st);
		return;
	}
	c->inlen += (size_t)nread;
	/* several queries may come in one read (pipelining) */
	while (c->inlen - used >= 2 &&
	       c->inlen - used >= 2 + (size_t)vd_get16(c->in + used) &&
	       !uv_is_closing((uv_handle_t *)&c->tcp)) {
		conn_answer(c, c->in + used);
		used += 2 + (size_t)vd_get16(c->in + used);
	}
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
}

static void srv_accept(uv_stream_t *l, int status)
{
	fake_srv_t *s = l->data;
	fake_conn_t *c = NULL;
	int i;

	assert_int_equal(status, 0);
	for (i = 0; i < MAXCONN && !c; i++)
		if (!s->conns[i].used)
			c = &s->conns[i];
	assert_non_null(c);
	c->used = true;
	c->srv = s;
	c->inlen = 0;
	s->naccept++;
	assert_int_equal(uv_tcp_init(l->loop, &c->tcp), 0);
	assert_int_equal(uv_timer_init(l->loop, &c->delay), 0);
	c->tcp.data = c;
	c->delay.data = c;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read),
			 0);
}

/* ---- environment ------------------------------------------------------ */

/* A port free for both UDP and TCP on addr, as a DNS server needs: the
 * kernel's ephemeral UDP port may already be some TCP connection's local
 * port. 0 when none was found. */
static uint16_t dual_port(const struct sockaddr *addr)
{
	for (int i = 0; i < 50; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		uint16_t port = 0;
		int t = socket(addr->sa_family, SOCK_STREAM, 0);
		int u = socket(addr->sa_family, SOCK_DGRAM, 0);
		memcpy(&ss, addr, vd_addr_len(addr));
		if (t >= 0 && u >= 0 &&
		    bind(t, (struct sockaddr *)&ss, vd_addr_len(addr)) == 0 &&
		    getsockname(t, (struct sockaddr *)&ss, &len) == 0 &&
		    bind(u, (struct sockaddr *)&ss, len) == 0)
			port = ntohs(ss.ss_family == AF_INET6
					     ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
		close(t);
		close(u);
		if (port != 0)
			return port;
	}
	return 0;
}

/* Starts a fake server on ip ("127.0.0.1" or "::1"); false when that
 * address cannot be bound (no IPv6 on this host). */
static bool srv_start_on(env_t *e, const char *ip, int mode, int tcp_mode)
{
	fake_srv_t *s = &e->srv[e->nsrv];
	struct sockaddr_storage any, spoof_any;
	int len = sizeof(s->addr);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->tcp_mode = tcp_mode;
	if (strchr(ip, ':'))
		assert_int_equal(uv_ip6_addr(ip, 0, (struct sockaddr_in6 *)&any), 0);
	else
		assert_int_equal(uv_ip4_addr(ip, 0, (struct sockaddr_in *)&any), 0);
	spoof_any = any; /* the spoofer takes any free port */
	if (tcp_mode != TCP_OFF) {
		uint16_t port = dual_port((struct sockaddr *)&any);
		if (port == 0)
			return false;
		if (any.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&any)->sin6_port = htons(port);
		else
			((struct sockaddr_in *)&any)->sin_port = htons(port);
	}
	assert_int_equal(uv_udp_init(&e->loop, &s->udp), 0);
	assert_int_equal(uv_udp_init(&e->loop, &s->spoof), 0);
	s->udp.data = s;
	s->spoof.data = s;
	if (uv_udp_bind(&s->udp, (struct sockaddr *)&any, 0) != 0)
		return false;
	assert_int_equal(uv_udp_bind(&s->spoof, (struct sockaddr *)&spoof_any, 0), 0);
	assert_int_equal(uv_udp_getsockname(&s->udp, (struct sockaddr *)&s->addr, &len),
			 0);
	assert_int_equal(uv_udp_recv_start(&s->udp, srv_alloc, srv_recv), 0);
	if (tcp_mode != TCP_OFF) {
		assert_int_equal(uv_tcp_init(&e->loop, &s->listener), 0);
		s->listener.data = s;
		s->tcp_on = true;
		/* TCP on the UDP socket's port number, as a DNS server does */
		assert_int_equal(
			uv_tcp_bind(&s->listener, (struct sockaddr *)&s->addr, 0), 0);
		assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 8, srv_accept),
				 0);
	}
	e->ups[e->nsrv].addr = s->addr;
	e->ups[e->nsrv].text = "fake";
	e->nsrv++;
	e->group.nservers = (size_t)e->nsrv;
	return true;
}

static void srv_start(env_t *e, int mode, int tcp_mode)
{
	assert_true(srv_start_on(e, "127.0.0.1", mode, tcp_mode));
}

/* A loopback port with nothing listening: bind, read the port, close. */
static void add_dead_server(env_t *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	memset(&e->ups[e->nsrv].addr, 0, sizeof(e->ups[e->nsrv].addr));
	memcpy(&e->ups[e->nsrv].addr, &sin, sizeof(sin));
	e->ups[e->nsrv].text = "dead";
	e->srv[e->nsrv].mode = -1;
	e->nsrv++;
	e->group.nservers = (size_t)e->nsrv;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

static int env_setup(void **state)
{
	env_t *e = test_calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(uv_loop_init(&e->loop), 0);
	assert_int_equal(uv_timer_init(&e->loop, &e->tick), 0);
	assert_int_equal(uv_timer_start(&e->tick, tick_cb, 20, 20), 0);
	e->f = vd_fwd_new(&e->loop);
	assert_non_null(e->f);
	/* servers in the order written, unless a test is about exploring */
	e->f->explore_permille = 0;
	g_fwd = e->f;
	g_env = e;
	e->group.name = "test";
	e->group.servers = e->ups;
	*state = e;
	return 0;
}

static void fwd_closed(void *arg)
{
	env_t *e = arg;

	e->close_calls++;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int env_teardown(void **state)
{
	env_t *e = *state;

	if (!e->f_closed)
		vd_fwd_close(e->f, fwd_closed, e);
	uv_walk(&e->loop, walk_close, NULL);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(e->close_calls, 1);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	g_fwd = NULL;
	g_env = NULL;
	test_free(e);
	return 0;
}

static void on_result(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	result_t *res = arg;

	res->calls++;
	res->status = status;
	res->ede = ede;
	res->len = len;
	if (resp && len <= sizeof(res->resp))
		memcpy(res->resp, resp, len);
}

static vd_fwd_query_t make_query(env_t *e, uint32_t timeout_ms)
{
	vd_fwd_query_t q = {
		.group = &e->group,
		.qname = QNAME,
		.qtype = VD_T_A,
		.qclass = VD_C_IN,
		.rd = true,
		.cd = false,
		.do_bit = false,
		.timeout_ms = timeout_ms,
	};
	return q;
}

static void run_until(env_t *e, const int *counter, int want)
{
	uint64_t end = vd_now_ms() + 5000;

	while (*counter < want && vd_now_ms() < end)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_int_equal(*counter, want);
}

/* Submits one query and runs the loop until its callback. */
static void ask(env_t *e, uint32_t timeout_ms, result_t *res)
{
	vd_fwd_query_t q = make_query(e, timeout_ms);

	memset(res, 0, sizeof(*res));
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, res), 0);
	assert_int_equal(res->calls, 0); /* never from inside submit */
	assert_int_equal(vd_fwd_pending(e->f), 1);
	run_until(e, &res->calls, 1);
	assert_int_equal(vd_fwd_pending(e->f), 0);
}

static void assert_answer_from(const result_t *res, const fake_srv_t *s)
{
	assert_int_equal(res->status, 0);
	assert_int_equal(res->len, s->sent_len);
	assert_memory_equal(res->resp, s->sent, s->sent_len);
}

/* ---- tests ------------------------------------------------------------ */

static void test_invalid_args(void **state)
{
	env_t *e = *state;
	vd_fwd_query_t q;
	result_t res = { 0 };
	static const uint8_t longlabel[] = { 64, 'a' };

	srv_start(e, SRV_ANSWER, TCP_OFF);
	q = make_query(e, TIMEOUT_SHORT);
	assert_null(vd_fwd_new(NULL));
	assert_null(vd_fwd_stats(NULL));
	assert_int_equal(vd_fwd_pending(NULL), 0);
	vd_fwd_close(NULL, NULL, NULL);
	assert_int_equal(vd_fwd_submit(NULL, &q, on_result, &res), -EINVAL);
	assert_int_equal(vd_fwd_submit(e->f, NULL, on_result, &res), -EINVAL);
	assert_int_equal(vd_fwd_submit(e->f, &q, NULL, &res), -EINVAL);
	q.group = NULL;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), -EINVAL);
	q = make_query(e, TIMEOUT_SHORT);
	q.qname = NULL;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), -EINVAL);
	q.qname = longlabel;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), -EINVAL);
	e->group.nservers = 0;
	q = make_query(e, TIMEOUT_SHORT);
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), -EINVAL);
	e->group.nservers = 1;
	assert_int_equal(res.calls, 0);
	assert_int_equal(vd_fwd_stats(e->f)->queries, 0);
	assert_int_equal(vd_fwd_pending(e->f), 0);
}

/* A server address fwd cannot use fails from a libuv callback. */
static void test_bad_family(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_ANSWER, TCP_OFF);
	e->ups[0].addr.ss_family = AF_UNIX;
	ask(e, TIMEOUT_SHORT, &res);
	assert_int_equal(res.status, UV_EAFNOSUPPORT);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(vd_fwd_stats(e->f)->net_errors, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failed, 1);
}

/* An unusable server before a working one: failover without a socket. */
static void test_bad_family_failover(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_ANSWER, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	e->ups[0].addr.ss_family = AF_UNIX;
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(e->srv[0].nudp, 0);
	assert_int_equal(vd_fwd_stats(e->f)->net_errors, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 1);
}

static void test_answer(void **state)
{
	env_t *e = *state;
	const fake_srv_t *s = &e->srv[0];
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	size_t qend;
	result_t res;

	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, s);
	assert_int_equal(vd_hdr_ancount(res.resp), UDP_ANSWERS);
	/* the query as the server saw it */
	assert_int_equal(s->nudp, 1);
	assert_int_equal(vd_hdr_flags(s->query), VD_F_RD);
	assert_int_equal(vd_hdr_qdcount(s->query), 1);
	assert_int_equal(vd_hdr_arcount(s->query), 1);
	assert_memory_equal(s->query + VD_HDR_LEN, QNAME, sizeof(QNAME));
	qend = question_end(s->query, s->qlen);
	assert_int_equal(vd_get16(s->query + qend - 4), VD_T_A);
	assert_int_equal(vd_get16(s->query + qend - 2), VD_C_IN);
	assert_int_equal(s->qlen, qend + 11);
	assert_int_equal(s->query[qend], 0);
	assert_int_equal(vd_get16(s->query + qend + 1), VD_T_OPT);
	assert_int_equal(vd_get16(s->query + qend + 3), VD_EDNS_ADVERTISE);
	assert_int_equal(vd_get32(s->query + qend + 5), 0);
	assert_int_equal(st->queries, 1);
	assert_int_equal(st->sent_udp, 1);
	assert_int_equal(st->answered, 1);
	assert_int_equal(st->dropped_mismatch + st->dropped_malformed, 0);
	assert_int_equal(st->failed + st->timeouts + st->failovers, 0);
}

static void test_flags_passed_through(void **state)
{
	env_t *e = *state;
	const fake_srv_t *s = &e->srv[0];
	vd_fwd_query_t q;
	result_t res = { 0 };
	size_t qend;

	srv_start(e, SRV_ANSWER, TCP_OFF);
	q = make_query(e, TIMEOUT_SHORT);
	q.rd = false;
	q.cd = true;
	q.do_bit = true;
	q.qtype = VD_T_AAAA;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), 0);
	run_until(e, &res.calls, 1);
	/* the fake's A records do not answer AAAA: scrubbed, counted */
	assert_int_equal(res.status, 0);
	assert_int_equal(vd_hdr_ancount(res.resp), 0);
	assert_int_equal(vd_fwd_stats(e->f)->scrubbed, UDP_ANSWERS);
	assert_int_equal(vd_hdr_flags(s->query), VD_F_CD);
	qend = question_end(s->query, s->qlen);
	assert_int_equal(vd_get16(s->query + qend - 4), VD_T_AAAA);
	assert_int_equal(vd_get32(s->query + qend + 5), 0x8000); /* DO */
}

static void test_question_case_insensitive(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_LOWER, TCP_OFF);
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 0);
}

/* 33 letters: with 0x20 the odds of any fixed case pattern are 2^-33. */
static const uint8_t LONGNAME[] = "\036Abcdefghijklmnopqrstuvwxyzabcd\003Com";

static void ask_long(env_t *e, uint32_t timeout_ms, result_t *res)
{
	vd_fwd_query_t q = make_query(e, timeout_ms);

	q.qname = LONGNAME;
	memset(res, 0, sizeof(*res));
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, res), 0);
	run_until(e, &res->calls, 1);
}

static void test_0x20_case_randomised(void **state)
{
	env_t *e = *state;
	const fake_srv_t *s = &e->srv[0];
	uint8_t first[sizeof(LONGNAME)];
	result_t res;

	e->group.use_0x20 = true;
	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask_long(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, s);
	/* the same name, but not as given, and not the same twice */
	assert_true(vd_name_equal(s->query + VD_HDR_LEN, LONGNAME));
	assert_memory_not_equal(s->query + VD_HDR_LEN, LONGNAME, sizeof(LONGNAME));
	memcpy(first, s->query + VD_HDR_LEN, sizeof(first));
	ask_long(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, s);
	assert_memory_not_equal(s->query + VD_HDR_LEN, first, sizeof(first));
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 0);
}

static void test_0x20_lower_case_reply_dropped(void **state)
{
	env_t *e = *state;
	result_t res;

	e->group.use_0x20 = true;
	srv_start(e, SRV_LOWER, TCP_OFF);
	ask_long(e, TIMEOUT_SHORT, &res);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_true(vd_fwd_stats(e->f)->dropped_mismatch >= 1);
}

static void test_0x20_off_keeps_case(void **state)
{
	env_t *e = *state;
	const fake_srv_t *s = &e->srv[0];
	result_t res;

	e->group.use_0x20 = false;
	srv_start(e, SRV_LOWER, TCP_OFF);
	ask_long(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, s);
	assert_memory_equal(s->query + VD_HDR_LEN, LONGNAME, sizeof(LONGNAME));
}

static void test_wrong_id_dropped(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_WRONG_ID, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 1);
	assert_int_equal(vd_fwd_stats(e->f)->answered, 1);
}

static void test_other_source_dropped(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_SPOOF, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 1);
}

static void test_wrong_question_dropped(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_WRONG_QUESTION, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	/* other qtype, other name, QR=0 */
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 3);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_malformed, 0);
}

static void test_malformed_dropped(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_MALFORMED, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_malformed, 3);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 0);
}

static void test_timeout_failover(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	uint64_t t0;
	result_t res;

	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	t0 = vd_now_ms();
	ask(e, TIMEOUT_SHORT, &res);
	assert_true(vd_now_ms() - t0 >= TIMEOUT_SHORT - 10);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(e->srv[0].nudp, 1);
	assert_int_equal(e->srv[1].nudp, 1);
	assert_int_equal(st->timeouts, 1);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(st->sent_udp, 2);
	assert_int_equal(st->failed, 0);
	/* a new socket for the second server */
	assert_int_not_equal(e->srv[0].ports[0], e->srv[1].ports[0]);
}

static void test_all_timeout(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_SILENT, TCP_OFF);
	ask(e, TIMEOUT_SHORT, &res);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_int_equal(res.ede, VD_EDE_NO_REACHABLE_AUTHORITY);
	assert_int_equal(res.len, 0);
	assert_int_equal(st->timeouts, 2);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(st->failed, 1);
	assert_int_equal(st->answered, 0);
}

static void test_refused_failover(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_dead_server(e);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	/* long timeout: the failover must come from the ICMP error */
	ask(e, 3000, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(st->net_errors, 1);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(st->timeouts, 0);
}

static void test_all_refused(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_dead_server(e);
	add_dead_server(e);
	ask(e, 3000, &res);
	assert_int_equal(res.status, UV_ECONNREFUSED);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(st->net_errors, 2);
	assert_int_equal(st->failed, 1);
	assert_int_equal(st->timeouts, 0);
}

/* A timeout then a network error is a network failure, not a timeout. */
static void test_timeout_then_refused(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_SILENT, TCP_OFF);
	add_dead_server(e);
	ask(e, TIMEOUT_SHORT, &res);
	assert_int_equal(res.status, UV_ECONNREFUSED);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(vd_fwd_stats(e->f)->timeouts, 1);
	assert_int_equal(vd_fwd_stats(e->f)->net_errors, 1);
}

static void check_tc(env_t *e, int tcp_mode)
{
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_TC, tcp_mode);
	ask(e, 1000, &res);
	assert_int_equal(e->srv[0].nudp, 1);
	assert_int_equal(e->srv[0].ntcp, 1);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(vd_hdr_ancount(res.resp), TCP_ANSWERS);
	assert_int_equal(vd_hdr_flags(res.resp) & VD_F_TC, 0);
	assert_int_equal(st->tc_retries, 1);
	assert_int_equal(st->sent_udp, 1);
	assert_int_equal(st->sent_tcp, 1);
	assert_int_equal(st->answered, 1);
}

static void test_tc_tcp(void **state)
{
	check_tc(*state, TCP_WHOLE);
}

static void test_tc_tcp_split(void **state)
{
	check_tc(*state, TCP_SPLIT);
}

/* TC=1 but nothing listens on TCP: the next server. */
static void test_tc_tcp_refused(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_TC, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(vd_fwd_stats(e->f)->tc_retries, 1);
	assert_int_equal(vd_fwd_stats(e->f)->net_errors, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 1);
}

/* A wrong frame on the TCP connection is dropped; reading goes on. */
static void test_tc_tcp_wrong_frame_first(void **state)
{
	env_t *e = *state;

	check_tc(e, TCP_WRONG_FIRST);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 1);
}

/* The TCP server hangs up without answering: the next server. */
static void test_tc_tcp_hangup(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_TC, TCP_HANGUP);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(e->srv[0].ntcp, 1);
	assert_int_equal(vd_fwd_stats(e->f)->net_errors, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 1);
}

static void test_ipv6(void **state)
{
	env_t *e = *state;
	result_t res;

	if (!srv_start_on(e, "::1", SRV_TC, TCP_WHOLE))
		skip();
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(e->srv[0].addr.ss_family, AF_INET6);
	assert_true(e->srv[0].ports[0] >= 1024);
	assert_int_equal(vd_fwd_stats(e->f)->sent_udp, 1);
	assert_int_equal(vd_fwd_stats(e->f)->sent_tcp, 1);
}

static int count_distinct(const uint16_t *v, int n)
{
	int i, j, distinct = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i && v[j] != v[i]; j++)
			;
		distinct += j == i;
	}
	return distinct;
}

/* Ports the kernel would pick by itself; 0..0 when unknown. */
static void kernel_port_range(unsigned *lo, unsigned *hi)
{
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	*lo = *hi = 0;
	if (fp) {
		if (fscanf(fp, "%u %u", lo, hi) != 2)
			*lo = *hi = 0;
		fclose(fp);
	}
}

static void test_random_ports_and_ids(void **state)
{
	env_t *e = *state;
	const fake_srv_t *s = &e->srv[0];
	result_t res[16];
	vd_fwd_query_t q;
	int i, sequential = 0, outside = 0, n = 16;
	unsigned lo, hi;

	kernel_port_range(&lo, &hi);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	q = make_query(e, 1000);
	memset(res, 0, sizeof(res));
	/* concurrent queries hold their sockets at once, so the ports must
	 * all differ; 16 random IDs collide at most once but for ~1e-6 */
	for (i = 0; i < n; i++)
		assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[i]), 0);
	assert_int_equal(vd_fwd_pending(e->f), (size_t)n);
	run_until(e, &e->srv[0].nudp, n);
	for (i = 0; i < n; i++)
		run_until(e, &res[i].calls, 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(res[i].status, 0);
		assert_true(s->ports[i] >= 1024);
		if (i > 0 && s->ports[i] == s->ports[i - 1] + 1)
			sequential++;
		outside += s->ports[i] < lo || s->ports[i] > hi;
	}
	/* ports come from 1024..65535, not the kernel's ephemeral range:
	 * all 16 inside 32768..60999 by chance is a ~2e-6 event */
	if (hi > lo)
		assert_true(outside > 0);
	assert_int_equal(count_distinct(s->ports, n), n);
	assert_true(count_distinct(s->ids, n) >= n - 1);
	assert_true(sequential < 3);
	assert_int_equal(vd_fwd_stats(e->f)->answered, (uint64_t)n);
}

static void test_servfail_failover(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_SERVFAIL, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(res.resp)), VD_RCODE_NOERROR);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(st->failed, 0);
}

/* Every server answered with a failure: the last answer is delivered. */
static void test_all_servfail(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_SERVFAIL, TCP_OFF);
	srv_start(e, SRV_REFUSED, TCP_OFF);
	srv_start(e, SRV_SILENT, TCP_OFF);
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(res.resp)), VD_RCODE_REFUSED);
	assert_int_equal(st->failovers, 2);
	assert_int_equal(st->timeouts, 1);
	assert_int_equal(st->failed, 1);
}

static void check_formerr_retry(env_t *e, int mode)
{
	const fake_srv_t *s = &e->srv[0];
	result_t res;

	srv_start(e, mode, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, s);
	assert_int_equal(s->nudp, 2);
	assert_int_equal(vd_hdr_arcount(s->query), 0);
	assert_int_equal(s->qlen, question_end(s->query, s->qlen));
	assert_int_not_equal(s->ids[0], s->ids[1]);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 0);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 0);
}

static void test_formerr_retry_without_edns(void **state)
{
	check_formerr_retry(*state, SRV_FORMERR_EDNS);
}

/* A FORMERR without a question is still tied to the query by ID and
 * source. */
static void test_formerr_without_question(void **state)
{
	check_formerr_retry(*state, SRV_FORMERR_NOQ);
}

/* FORMERR with and without EDNS: the server failed, and a FORMERR is not
 * passed on as if the client's query were malformed. */
static void test_formerr_always(void **state)
{
	env_t *e = *state;
	result_t res;

	srv_start(e, SRV_FORMERR, TCP_OFF);
	srv_start(e, SRV_FORMERR, TCP_OFF);
	ask(e, 1000, &res);
	assert_int_equal(res.status, -EPROTO);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(e->srv[0].nudp, 2);
	assert_int_equal(e->srv[1].nudp, 2);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failed, 1);
}

/* A callback may try to submit while the forwarder closes: refused. */
static void cancel_cb(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	vd_fwd_query_t q = make_query(g_env, 1000);

	on_result(arg, status, ede, resp, len);
	assert_int_equal(vd_fwd_submit(g_env->f, &q, on_result, arg), -ECANCELED);
}

/* Pending queries in every state: waiting on UDP, on a TCP connection,
 * just submitted. */
static void test_close_cancels(void **state)
{
	env_t *e = *state;
	vd_group_t ga = { .name = "a", .servers = &e->ups[0], .nservers = 1 };
	vd_group_t gb = { .name = "b", .servers = &e->ups[1], .nservers = 1 };
	vd_fwd_query_t q;
	result_t res[5];
	int i;

	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_TC, TCP_SILENT);
	q = make_query(e, 5000);
	memset(res, 0, sizeof(res));
	q.group = &ga;
	for (i = 0; i < 3; i++)
		assert_int_equal(vd_fwd_submit(e->f, &q, cancel_cb, &res[i]), 0);
	q.group = &gb;
	assert_int_equal(vd_fwd_submit(e->f, &q, cancel_cb, &res[3]), 0);
	run_until(e, &e->srv[0].nudp, 3);
	run_until(e, &e->srv[1].ntcp, 1);
	q.group = &ga;
	assert_int_equal(vd_fwd_submit(e->f, &q, cancel_cb, &res[4]), 0);
	assert_int_equal(vd_fwd_pending(e->f), 5);
	vd_fwd_close(e->f, fwd_closed, e);
	e->f_closed = true;
	for (i = 0; i < 5; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].status, -ECANCELED);
	}
	assert_int_equal(vd_fwd_pending(e->f), 0);
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[0]), -ECANCELED);
	assert_int_equal(e->close_calls, 0); /* only from a close callback */
	vd_fwd_close(e->f, fwd_closed, e);   /* a second close is ignored */
	run_until(e, &e->close_calls, 1);
	for (i = 0; i < 5; i++)
		assert_int_equal(res[i].calls, 1);
}

/* Closing while no query is pending still calls back asynchronously. */
static void test_close_idle(void **state)
{
	env_t *e = *state;

	vd_fwd_close(e->f, fwd_closed, e);
	e->f_closed = true;
	assert_int_equal(e->close_calls, 0);
	run_until(e, &e->close_calls, 1);
}

typedef struct chain {
	env_t *e;
	result_t first, second;
} chain_t;

static void chain_cb(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	chain_t *c = arg;
	vd_fwd_query_t q = make_query(c->e, 1000);

	on_result(&c->first, status, ede, resp, len);
	assert_int_equal(vd_fwd_submit(c->e->f, &q, on_result, &c->second), 0);
}

/* Finished requests go back to the pool and are reused. */
static void test_request_reuse(void **state)
{
	env_t *e = *state;
	uint64_t end;
	result_t res;
	int i;

	srv_start(e, SRV_ANSWER, TCP_OFF);
	for (i = 0; i < 3; i++) {
		ask(e, 1000, &res);
		assert_answer_from(&res, &e->srv[0]);
		/* handles close on a later loop iteration */
		end = vd_now_ms() + 1000;
		while (e->f->active && vd_now_ms() < end)
			uv_run(&e->loop, UV_RUN_ONCE);
		assert_null(e->f->active);
		assert_int_equal(e->f->npool, 1);
	}
	assert_int_equal(vd_fwd_stats(e->f)->answered, 3);
}

/* A callback may submit the next query, reusing the pooled request. */
static void test_submit_from_callback(void **state)
{
	env_t *e = *state;
	vd_fwd_query_t q;
	chain_t c = { .e = e };

	srv_start(e, SRV_ANSWER, TCP_OFF);
	q = make_query(e, 1000);
	assert_int_equal(vd_fwd_submit(e->f, &q, chain_cb, &c), 0);
	run_until(e, &c.second.calls, 1);
	assert_int_equal(c.first.calls, 1);
	assert_int_equal(c.first.status, 0);
	assert_int_equal(c.second.status, 0);
	assert_int_equal(e->srv[0].nudp, 2);
	assert_int_equal(vd_fwd_stats(e->f)->answered, 2);
}

/* ---- streams: reuse, pipelining, idle, broken connections ------------- */

static void test_tcp_reuse(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;
	int i;

	srv_start(e, SRV_TC, TCP_WHOLE);
	for (i = 0; i < 3; i++) {
		ask(e, 1000, &res);
		assert_answer_from(&res, &e->srv[0]);
		assert_int_equal(vd_hdr_ancount(res.resp), TCP_ANSWERS);
	}
	assert_int_equal(e->srv[0].naccept, 1);
	assert_int_equal(e->srv[0].ntcp, 3);
	assert_int_equal(st->conn_opened, 1);
	assert_int_equal(st->conn_reused, 2);
	assert_int_equal(st->sent_tcp, 3);
	assert_int_equal(e->f->nconns, 1);
	/* each query has its own ID on the connection */
	assert_int_equal(count_distinct(e->srv[0].tcp_ids, 3), 3);
}

/* Five queries on one connection, answered in reverse order: each gets
 * its own answer, matched by ID and question. */
static void test_tcp_pipelined(void **state)
{
	static const uint16_t types[] = { VD_T_A, VD_T_AAAA, VD_T_TXT, VD_T_MX,
					  VD_T_NS };
	env_t *e = *state;
	result_t res[5];
	vd_fwd_query_t q;
	size_t qend;
	int i;

	srv_start(e, SRV_TC, TCP_HOLD);
	e->srv[0].hold_n = 5;
	q = make_query(e, 2000);
	memset(res, 0, sizeof(res));
	for (i = 0; i < 5; i++) {
		q.qtype = types[i];
		assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[i]), 0);
	}
	for (i = 0; i < 5; i++)
		run_until(e, &res[i].calls, 1);
	for (i = 0; i < 5; i++) {
		assert_int_equal(res[i].status, 0);
		/* the fake answers A records whatever the type: only the A
		 * query keeps them, the others are scrubbed */
		assert_int_equal(vd_hdr_ancount(res[i].resp), i == 0 ? TCP_ANSWERS : 0);
		qend = question_end(res[i].resp, res[i].len);
		assert_int_equal(vd_get16(res[i].resp + qend - 4), types[i]);
	}
	assert_int_equal(e->srv[0].naccept, 1);
	assert_int_equal(e->srv[0].ntcp, 5);
	assert_int_equal(count_distinct(e->srv[0].tcp_ids, 5), 5);
	assert_int_equal(vd_fwd_stats(e->f)->conn_opened, 1);
	assert_int_equal(vd_fwd_stats(e->f)->conn_reused, 4);
	assert_int_equal(vd_fwd_stats(e->f)->dropped_mismatch, 0);
}

static void run_until_no_conns(env_t *e)
{
	uint64_t end = vd_now_ms() + 5000;

	while (e->f->nconns > 0 && vd_now_ms() < end)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_int_equal(e->f->nconns, 0);
}

static void test_tcp_idle_closed(void **state)
{
	env_t *e = *state;
	result_t res;

	e->f->conn_idle_ms = 50;
	srv_start(e, SRV_TC, TCP_WHOLE);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(e->f->nconns, 1);
	run_until(e, &e->srv[0].conns[0].eof, 1);
	run_until_no_conns(e);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(e->srv[0].naccept, 2);
	assert_int_equal(vd_fwd_stats(e->f)->conn_opened, 2);
}

/* The server closes after each answer: the next query dials again. */
static void test_tcp_redial_after_close(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_TC, TCP_CLOSE_AFTER);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	run_until_no_conns(e);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(e->srv[0].naccept, 2);
	assert_int_equal(st->conn_opened, 2);
	/* nobody was on it when it closed */
	assert_int_equal(st->conn_broken, 0);
	assert_int_equal(st->net_errors + st->failovers + st->conn_retries, 0);
}

/* A reused connection breaks under a query: retried once on a fresh one,
 * which answers; the server is not blamed. */
static void test_tcp_broken_retried(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_TC, TCP_HANGUP_SECOND);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(e->srv[0].naccept, 2);
	assert_int_equal(e->srv[0].ntcp, 3);
	assert_int_equal(st->conn_broken, 1);
	assert_int_equal(st->conn_retries, 1);
	assert_int_equal(st->net_errors + st->failovers, 0);
	/* the retry had a new ID */
	assert_int_not_equal(e->srv[0].tcp_ids[1], e->srv[0].tcp_ids[2]);
}

/* Only once: the fresh connection breaks too, so the next server. */
static void test_tcp_broken_retried_once(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	srv_start(e, SRV_TC, TCP_ANSWER_ONCE);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(e->srv[0].naccept, 2);
	assert_int_equal(e->srv[0].ntcp, 3);
	assert_int_equal(st->conn_broken, 2);
	assert_int_equal(st->conn_retries, 1);
	assert_int_equal(st->net_errors, 1);
	assert_int_equal(st->failovers, 1);
}

/* ---- the in-flight bound ---------------------------------------------- */

static void test_inflight_bound(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	vd_fwd_query_t q;
	result_t res[4];

	srv_start(e, SRV_SILENT, TCP_OFF);
	q = make_query(e, 5000);
	q.max_inflight = 2;
	memset(res, 0, sizeof(res));
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[0]), 0);
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[1]), 0);
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[2]), VD_ELIMIT);
	assert_int_equal(st->rejected_inflight, 1);
	assert_int_equal(st->queries, 2);
	assert_int_equal(vd_fwd_pending(e->f), 2);
	/* 0: no bound */
	q.max_inflight = 0;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[3]), 0);
	q.max_inflight = 3;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[2]), VD_ELIMIT);
	assert_int_equal(st->rejected_inflight, 2);
	run_until(e, &e->srv[0].nudp, 3);
	vd_fwd_close(e->f, fwd_closed, e);
	e->f_closed = true;
	assert_int_equal(res[0].calls + res[1].calls + res[3].calls, 3);
	assert_int_equal(res[2].calls, 0);
	run_until(e, &e->close_calls, 1);
}

/* ---- deadline and server choice ---------------------------------------- */

static uint64_t env_clock(void *arg)
{
	return ((env_t *)arg)->clock;
}

static void use_fake_clock(env_t *e)
{
	e->clock = 1000000;
	vd_fwd_set_clock(e->f, env_clock, e);
}

/* Three silent servers, 100 ms each, 250 ms for the query: the third
 * attempt is cut short. */
static void test_deadline(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	vd_fwd_query_t q;
	result_t res = { 0 };
	uint64_t t0;

	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_SILENT, TCP_OFF);
	q = make_query(e, 100);
	q.query_timeout_ms = 250;
	t0 = vd_now_ms();
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), 0);
	run_until(e, &res.calls, 1);
	assert_true(vd_now_ms() - t0 >= 240);
	assert_true(vd_now_ms() - t0 < 2000);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_int_equal(res.ede, VD_EDE_NO_REACHABLE_AUTHORITY);
	assert_int_equal(e->srv[2].nudp, 1);
	assert_int_equal(st->deadlines, 1);
	/* the cut attempt says nothing about its server */
	assert_int_equal(st->timeouts, 2);
	assert_int_equal(st->failed, 0);
}

/* The deadline passes during the first attempt: no other server is asked
 * though two are left that would answer. */
static void test_deadline_servers_left(void **state)
{
	env_t *e = *state;
	vd_fwd_query_t q;
	result_t res = { 0 };

	use_fake_clock(e);
	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	e->srv[0].step = 5000;
	q = make_query(e, TIMEOUT_SHORT);
	q.query_timeout_ms = 1000;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), 0);
	run_until(e, &res.calls, 1);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_int_equal(res.ede, VD_EDE_NO_REACHABLE_AUTHORITY);
	assert_int_equal(e->srv[1].nudp + e->srv[2].nudp, 0);
	assert_int_equal(vd_fwd_stats(e->f)->deadlines, 1);
	assert_int_equal(vd_fwd_stats(e->f)->failovers, 0);
}

static void test_prefers_fastest(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;
	int i;

	use_fake_clock(e);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	e->srv[0].step = 500; /* slower than a server never measured */
	e->srv[1].step = 5;
	for (i = 0; i < 10; i++) {
		ask(e, 1000, &res);
		assert_int_equal(res.status, 0);
	}
	assert_int_equal(e->srv[0].nudp, 1);
	assert_int_equal(e->srv[1].nudp, 9);
	assert_int_equal(st->failovers + st->explored, 0);
	/* an exploring query goes to the other one */
	e->f->explore_permille = 1000;
	ask(e, 1000, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(st->explored, 1);
}

/* A server that timed out is skipped for a second, then one query probes
 * it; once it answers it is used again. */
static void test_backoff_and_probe(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	use_fake_clock(e);
	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_ANSWER, TCP_OFF);
	e->srv[1].step = 200;
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(st->timeouts, 1);
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[1]);
	assert_int_equal(e->srv[0].nudp, 1);
	assert_int_equal(st->timeouts, 1);
	/* a second after the failure the back-off is over */
	e->clock += 1000;
	e->srv[0].mode = SRV_ANSWER;
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(st->probes, 1);
	/* healthy and faster (150 ms measured by its timeout, then 0) */
	ask(e, TIMEOUT_SHORT, &res);
	assert_answer_from(&res, &e->srv[0]);
	assert_int_equal(st->probes, 1);
	assert_int_equal(e->srv[0].nudp, 3);
	assert_int_equal(e->srv[1].nudp, 2);
}

/* Every server backed off: still tried, the first to fail first. */
static void test_all_backed_off_tried(void **state)
{
	env_t *e = *state;
	result_t res;

	use_fake_clock(e);
	srv_start(e, SRV_SILENT, TCP_OFF);
	srv_start(e, SRV_SILENT, TCP_OFF);
	ask(e, TIMEOUT_SHORT, &res);
	assert_int_equal(res.status, VD_ETIMEOUT);
	memset(&res, 0, sizeof(res));
	{
		vd_fwd_query_t q = make_query(e, TIMEOUT_SHORT);

		assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), 0);
	}
	run_until(e, &e->srv[0].nudp, 2);
	assert_int_equal(e->srv[1].nudp, 1);
	run_until(e, &res.calls, 1);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_int_equal(e->srv[1].nudp, 2);
	assert_int_equal(vd_fwd_stats(e->f)->probes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
		T(test_invalid_args),
		T(test_bad_family),
		T(test_bad_family_failover),
		T(test_answer),
		T(test_flags_passed_through),
		T(test_question_case_insensitive),
		T(test_0x20_case_randomised),
		T(test_0x20_lower_case_reply_dropped),
		T(test_0x20_off_keeps_case),
		T(test_wrong_id_dropped),
		T(test_other_source_dropped),
		T(test_wrong_question_dropped),
		T(test_malformed_dropped),
		T(test_timeout_failover),
		T(test_all_timeout),
		T(test_refused_failover),
		T(test_all_refused),
		T(test_timeout_then_refused),
		T(test_tc_tcp),
		T(test_tc_tcp_split),
		T(test_tc_tcp_refused),
		T(test_tc_tcp_wrong_frame_first),
		T(test_tc_tcp_hangup),
		T(test_ipv6),
		T(test_random_ports_and_ids),
		T(test_servfail_failover),
		T(test_all_servfail),
		T(test_formerr_retry_without_edns),
		T(test_formerr_without_question),
		T(test_formerr_always),
		T(test_close_cancels),
		T(test_close_idle),
		T(test_submit_from_callback),
		T(test_request_reuse),
		T(test_tcp_reuse),
		T(test_tcp_pipelined),
		T(test_tcp_idle_closed),
		T(test_tcp_redial_after_close),
		T(test_tcp_broken_retried),
		T(test_tcp_broken_retried_once),
		T(test_inflight_bound),
		T(test_deadline),
		T(test_deadline_servers_left),
		T(test_prefers_fastest),
		T(test_backoff_and_probe),
		T(test_all_backed_off_tried),
#undef T
	};

	/* writes to a peer that hung up fail with EPIPE, as in the daemon */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
