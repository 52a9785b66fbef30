/*
 * UDP and TCP listeners on one libuv loop. UDP datagrams are read in
 * batches (recvmmsg) into a per-loop buffer, and the batch's replies are
 * written into per-loop slots and sent together (sendmmsg), so a local
 * answer costs no allocation and a busy loop few system calls; only a
 * send that would block copies the reply, and at most UDP_QUEUED_MAX
 * bytes of such copies are kept. TCP connections (RFC 7766) keep a
 * growing read buffer, split it into length-prefixed messages and answer
 * each as it completes. A connection's memory is bounded: it stops
 * reading while it owes its client too many replies, a message must
 * arrive in full and queued replies must make progress within
 * tcp_io_timeout, and an idle connection is closed. When the table is
 * full the connection idle longest is closed to admit a new one, and one
 * client address holds at most tcp_max_connections_per_client.
 */
#include "vpcdns/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#define UDP_BUF 65536
/* Datagrams read per recvmmsg call (libuv reads up to 20, 64 KiB each). */
#define UDP_BATCH 16
#define TCP_MSG_MAX (2 + 65535)
#define TCP_BACKLOG 256
/* Bytes of UDP replies (with their requests) queued per loop because the
 * socket buffer was full; replies beyond are dropped, as the kernel would
 * drop them. */
#define UDP_QUEUED_MAX (256 * 1024)
/* Reading from a TCP connection stops while it owes this many replies
 * (queued or being answered) or this many bytes of queued replies, and
 * resumes when the client has read enough of them. */
#define TCP_PENDING_MAX 32
#define TCP_QUEUED_MAX 65536

typedef struct udp_listener {
	uv_udp_t h;
	vd_net_t *net;
	struct udp_listener *next;
} udp_listener_t;

typedef struct tcp_listener {
	uv_tcp_t h;
	vd_net_t *net;
	struct tcp_listener *next;
} tcp_listener_t;

typedef struct conn {
	uv_tcp_t h;
	uv_timer_t timer; /* idle, message and write deadlines */
	vd_net_t *net;
	struct conn *prev, *next; /* open, most recently active first */
	struct sockaddr_storage peer;
	uint8_t *buf; /* unconsumed bytes read so far */
	size_t len, cap;
	unsigned refs;	    /* 1 while open + 1 per pending write/query */
	unsigned handles;   /* handles not yet closed */
	unsigned inflight;  /* queries waiting on an upstream */
	unsigned queued;    /* replies not yet fully written */
	uint64_t active_ms; /* last message read or reply written */
	uint64_t msg_ms;    /* when the message being read began */
	uint64_t write_ms;  /* last progress of the queued replies */
	bool closing;	    /* handles closing */
	bool ending;	    /* closing once the replies are written */
	bool eof;	    /* nothing more to read */
	bool paused;	    /* reading stopped: too many replies owed */
	bool busy;	    /* in conn_process */
	uv_shutdown_t shutdown;
} conn_t;

typedef struct write_req {
	uv_write_t req;
	conn_t *c;
	uint8_t data[];
} write_req_t;

typedef struct udp_send_req {
	uv_udp_send_t req;
	vd_net_t *net;
	size_t size; /* of this allocation */
	uint8_t data[];
} udp_send_req_t;

struct vd_net {
	uv_loop_t *loop;
	vd_query_ctx_t *qctx;
	vd_snap_t *snap;
	udp_listener_t *udp;
	tcp_listener_t *tcp;
	conn_t *conns, *conns_tail;
	size_t nconns;	/* open */
	size_t alive;	/* allocated (open or closing) */
	size_t handles; /* listener handles not yet closed */
	bool closing;
	bool draining;	/* vd_net_drain: no new queries */
	bool reuseport; /* one socket per worker on each address */
	void (*close_cb)(void *);
	void *close_arg;
	vd_net_stats_t stats;
	uint8_t rbuf[UDP_BATCH * UDP_BUF];
	uint8_t sbuf[UDP_BUF];
	/* Replies to one recvmmsg batch, sent together with sendmmsg. */
	unsigned nbatch;
	struct sockaddr_storage batch_to[UDP_BATCH];
	size_t batch_len[UDP_BATCH];
	uint8_t batch_buf[UDP_BATCH][UDP_BUF];
};

vd_net_t *vd_net_new(uv_loop_t *loop, vd_query_ctx_t *qctx)
{
	vd_net_t *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->loop = loop;
	n->qctx = qctx;
	return n;
}

void vd_net_set_snap(vd_net_t *n, vd_snap_t *snap)
{
	vd_snap_t *old = n->snap;
	vd_snap_ref(snap);
	n->snap = snap;
	vd_snap_unref(old);
}

const vd_net_stats_t *vd_net_stats(const vd_net_t *n)
{
	return &n->stats;
}

static void maybe_finish_close(vd_net_t *n)
{
	if (!n->closing || n->handles > 0 || n->alive > 0)
		return;
	void (*cb)(void *) = n->close_cb;
	void *arg = n->close_arg;
	vd_snap_unref(n->snap);
	free(n);
	if (cb != NULL)
		cb(arg);
}

/* ---- UDP --------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	udp_listener_t *l = h->data;
	(void)suggested;
	buf->base = (char *)l->net->rbuf;
	buf->len = sizeof(l->net->rbuf);
}

static void udp_sent(uv_udp_send_t *req, int status)
{
	udp_send_req_t *r = (udp_send_req_t *)req;
	(void)status;
	r->net->stats.udp_queued -= r->size;
	free(r);
}

static void udp_send(udp_listener_t *l, const struct sockaddr *to, const uint8_t *pkt,
		     size_t len)
{
	vd_net_t *n = l->net;
	uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)len);
	int rc = uv_udp_try_send(&l->h, &b, 1, to);
	if (rc >= 0) {
		n->stats.udp_sent++;
		return;
	}
	if (rc != UV_EAGAIN && rc != UV_ENOSYS) {
		n->stats.udp_send_errors++;
		return;
	}
	/* The socket buffer is full: queue a copy rather than drop, up to a
	 * bound. */
	size_t size = sizeof(udp_send_req_t) + len;
	if (n->stats.udp_queued + size > UDP_QUEUED_MAX) {
		n->stats.udp_queue_dropped++;
		return;
	}
	udp_send_req_t *r = malloc(size);
	if (r == NULL) {
		n->stats.udp_send_errors++;
		return;
	}
	r->net = n;
	r->size = size;
	memcpy(r->data, pkt, len);
	b = uv_buf_init((char *)r->data, (unsigned)len);
	if (uv_udp_send(&r->req, &l->h, &b, 1, to, udp_sent) != 0) {
		free(r);
		n->stats.udp_send_errors++;
		return;
	}
	n->stats.udp_queued += size;
	n->stats.udp_sent++;
}

/* Sends the replies queued while a batch of datagrams was read: one
 * sendmmsg call, and whatever it could not send one by one (which queues
 * a copy when the socket buffer is full). */
static void udp_flush(udp_listener_t *l)
{
	vd_net_t *n = l->net;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	uv_os_fd_t fd;
	int sent = 0;

	if (n->nbatch == 0)
		return;
	if (uv_fileno((uv_handle_t *)&l->h, &fd) == 0) {
		memset(msgs, 0, sizeof(msgs[0]) * n->nbatch);
		for (unsigned i = 0; i < n->nbatch; i++) {
			iov[i].iov_base = n->batch_buf[i];
			iov[i].iov_len = n->batch_len[i];
			msgs[i].msg_hdr.msg_name = &n->batch_to[i];
			msgs[i].msg_hdr.msg_namelen =
				vd_addr_len((struct sockaddr *)&n->batch_to[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		sent = sendmmsg(fd, msgs, n->nbatch, MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;
		n->stats.udp_sent += (uint64_t)sent;
	}
	for (unsigned i = (unsigned)sent; i < n->nbatch; i++)
		udp_send(l, (struct sockaddr *)&n->batch_to[i], n->batch_buf[i],
			 n->batch_len[i]);
	n->nbatch = 0;
}

static void udp_respond(void *token, const vd_query_client_t *c, const uint8_t *pkt,
			size_t len)
{
	udp_listener_t *l = token;
	if (pkt == NULL || l->net->closing)
		return;
	udp_send(l, (const struct sockaddr *)&c->addr, pkt, len);
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		     const struct sockaddr *addr, unsigned flags)
{
	udp_listener_t *l = h->data;
	vd_net_t *n = l->net;
	/* With recvmmsg, chunks arrive one by one (UV_UDP_MMSG_CHUNK) and a
	 * final call hands the buffer back: then the batch's replies go out. */
	if (flags & UV_UDP_MMSG_FREE) {
		udp_flush(l);
		return;
	}
	if (nread <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL))
		return;
	n->stats.udp_recv++;
	bool batched = (flags & UV_UDP_MMSG_CHUNK) && n->nbatch < UDP_BATCH;
	uint8_t *out = batched ? n->batch_buf[n->nbatch] : n->sbuf;

	vd_query_client_t c = {
		.tcp = false,
		.max_reply = UINT16_MAX,
		.respond = udp_respond,
		.token = l,
	};
	memcpy(&c.addr, addr, vd_addr_len(addr));
	size_t outlen = 0;
	vd_qh_result_t r = vd_query_handle(n->qctx, n->snap, &c,
					   (const uint8_t *)buf->base, (size_t)nread,
					   out, &outlen);
	if (r != VD_QH_REPLY)
		return;
	if (!batched) {
		udp_send(l, addr, out, outlen);
		return;
	}
	memcpy(&n->batch_to[n->nbatch], addr, vd_addr_len(addr));
	n->batch_len[n->nbatch++] = outlen;
}

/* ---- TCP connections --------------------------------------------------- */

/* Unlinks c from the list of open connections. */
static void conn_unlink(conn_t *c)
{
	vd_net_t *n = c->net;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		n->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

/* Puts c at the head of the list: the list runs from the most recently
 * active connection to the one idle longest, which is closed first when
 * the table is full (RFC 7766 section 6.2.3). */
static void conn_push(conn_t *c)
{
	vd_net_t *n = c->net;
	c->prev = NULL;
	c->next = n->conns;
	if (n->conns != NULL)
		n->conns->prev = c;
	else
		n->conns_tail = c;
	n->conns = c;
}

/* A complete message read or a reply written. */
static void conn_touch(conn_t *c)
{
	c->active_ms = uv_now(c->net->loop);
	if (c->net->conns != c) {
		conn_unlink(c);
		conn_push(c);
	}
}

static void conn_unref(conn_t *c)
{
	if (--c->refs > 0)
		return;
	vd_net_t *n = c->net;
	free(c->buf);
	free(c);
	n->alive--;
	maybe_finish_close(n);
}

static void conn_handle_closed(uv_handle_t *h)
{
	conn_t *c = h->data;
	if (--c->handles == 0)
		conn_unref(c); /* the "open" reference */
}

/* Closes at once; queued writes are cancelled. */
static void conn_close(conn_t *c)
{
	vd_net_t *n = c->net;
	if (c->closing)
		return;
	c->closing = true;
	conn_unlink(c);
	n->nconns--;
	n->stats.tcp_open = n->nconns;
	uv_close((uv_handle_t *)&c->h, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	conn_t *c = req->data;
	(void)status;
	conn_close(c);
	conn_unref(c);
}

/* Closes after queued replies are written (or the write timeout). */
static void conn_end(conn_t *c)
{
	if (c->closing || c->ending)
		return;
	c->ending = true;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) == 0) {
		conn_close(c);
		return;
	}
	c->shutdown.data = c;
	c->refs++;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->h, conn_shutdown_done) != 0) {
		c->refs--;
		conn_close(c);
	}
}

static uint64_t idle_ms(const vd_net_t *n)
{
	return n->snap->server.tcp_idle_timeout_ms;
}

static uint64_t io_ms(const vd_net_t *n)
{
	return n->snap->server.tcp_io_timeout_ms;
}

/* Whether the connection owes the client enough that reading more
 * queries must wait until the client reads its replies. */
static bool conn_full(conn_t *c)
{
	return c->queued + c->inflight >= TCP_PENDING_MAX ||
	       uv_stream_get_write_queue_size((uv_stream_t *)&c->h) >= TCP_QUEUED_MAX;
}

static void conn_timer(uv_timer_t *t);

/* One timer per connection, at the nearest of its deadlines: replies
 * queued make no progress (write timeout), a message started but not
 * complete (message timeout), nothing owed and nothing asked (idle). */
static void conn_arm(conn_t *c)
{
	vd_net_t *n = c->net;
	uint64_t now = uv_now(n->loop), at = UINT64_MAX;

	if (c->closing)
		return;
	if (c->queued > 0)
		at = c->write_ms + io_ms(n);
	if (!c->paused && !c->ending && c->len > 0 && c->msg_ms + io_ms(n) < at)
		at = c->msg_ms + io_ms(n);
	if (c->inflight == 0 && c->queued == 0 && c->active_ms + idle_ms(n) < at)
		at = c->active_ms + idle_ms(n);
	if (at == UINT64_MAX) /* waiting on an upstream: bounded there */
		at = now + idle_ms(n);
	uv_timer_start(&c->timer, conn_timer, at > now ? at - now : 0, 0);
}

static void conn_timer(uv_timer_t *t)
{
	conn_t *c = t->data;
	vd_net_t *n = c->net;
	uint64_t now = uv_now(n->loop);

	if (c->closing)
		return;
	if (c->queued > 0 && now >= c->write_ms + io_ms(n)) {
		/* A client that does not read: uv_shutdown would wait forever. */
		n->stats.tcp_write_timeouts++;
		conn_close(c);
		return;
	}
	if (!c->paused && !c->ending && c->len > 0 && now >= c->msg_ms + io_ms(n)) {
		n->stats.tcp_read_timeouts++;
		conn_close(c);
		return;
	}
	if (c->inflight == 0 && c->queued == 0 && now >= c->active_ms + idle_ms(n)) {
		n->stats.tcp_idle_closed++;
		conn_end(c);
		return;
	}
	conn_arm(c);
}

static void conn_process(conn_t *c);
static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_written(uv_write_t *req, int status)
{
	write_req_t *w = (write_req_t *)req;
	conn_t *c = w->c;
	free(w);
	c->queued--;
	if (status < 0) {
		conn_close(c);
	} else if (!c->closing) {
		c->write_ms = uv_now(c->net->loop);
		conn_touch(c);
		conn_process(c);
	}
	conn_unref(c);
}

static void tcp_send(conn_t *c, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[2];
	uv_buf_t bufs[2];
	ssize_t done = 0;

	vd_set16(hdr, (uint16_t)len);
	bufs[0] = uv_buf_init((char *)hdr, 2);
	bufs[1] = uv_buf_init((char *)pkt, (unsigned)len);
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->h) == 0) {
		done = uv_try_write((uv_stream_t *)&c->h, bufs, 2);
		if (done < 0 && done != UV_EAGAIN) {
			conn_close(c);
			return;
		}
		if (done < 0)
			done = 0;
		if ((size_t)done == len + 2) {
			conn_touch(c);
			return;
		}
	}
	/* Queue what try_write could not send, in order, as one copy. The
	 * reader stops before this grows past TCP_QUEUED_MAX plus the
	 * replies of the queries in progress. */
	size_t rest = len + 2 - (size_t)done;
	write_req_t *w = malloc(sizeof(*w) + rest);
	if (w == NULL) {
		conn_close(c);
		return;
	}
	for (size_t i = (size_t)done; i < len + 2; i++)
		w->data[i - (size_t)done] = i < 2 ? hdr[i] : pkt[i - 2];
	w->c = c;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)rest);
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, conn_written) != 0) {
		free(w);
		conn_close(c);
		return;
	}
	if (c->queued++ == 0)
		c->write_ms = uv_now(c->net->loop);
	c->refs++;
}

static void tcp_respond(void *token, const vd_query_client_t *cl, const uint8_t *pkt,
			size_t len)
{
	conn_t *c = token;
	(void)cl;
	c->inflight--;
	if (pkt != NULL && !c->closing)
		tcp_send(c, pkt, len);
	if (c->eof && c->inflight == 0)
		conn_end(c);
	conn_process(c);
	conn_unref(c);
}

static void conn_message(conn_t *c, const uint8_t *msg, size_t len)
{
	vd_net_t *n = c->net;
	vd_query_client_t cl = {
		.tcp = true,
		.max_reply = UINT16_MAX,
		.respond = tcp_respond,
		.token = c,
	};
	memcpy(&cl.addr, &c->peer, sizeof(c->peer));
	n->stats.tcp_queries++;
	size_t outlen = 0;
	vd_qh_result_t r =
		vd_query_handle(n->qctx, n->snap, &cl, msg, len, n->sbuf, &outlen);
	if (r == VD_QH_REPLY)
		tcp_send(c, n->sbuf, outlen);
	else if (r == VD_QH_PENDING) {
		c->refs++;
		c->inflight++;
	}
}

/* Answers the complete messages read so far while the connection owes
 * fewer than its cap of replies, keeps the rest, and stops or resumes
 * reading accordingly; then re-arms the timer. The caller holds a
 * reference. */
static void conn_process(conn_t *c)
{
	size_t off = 0;

	if (c->closing || c->busy)
		return;
	c->busy = true;
	while (!c->closing && !conn_full(c) && c->len - off >= 2) {
		size_t mlen = vd_get16(c->buf + off);
		if (c->len - off < 2 + mlen)
			break;
		conn_touch(c);
		conn_message(c, c->buf + off + 2, mlen);
		off += 2 + mlen;
	}
	c->busy = false;
	if (c->closing)
		return;
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
		c->msg_ms = uv_now(c->net->loop); /* the next one starts */
	}
	if (!c->eof && !c->ending) {
		bool full = conn_full(c);
		if (full && !c->paused) {
			c->net->stats.tcp_paused++;
			uv_read_stop((uv_stream_t *)&c->h);
		} else if (!full && c->paused) {
			c->msg_ms = uv_now(c->net->loop);
			uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read);
		}
		c->paused = full;
	}
	conn_arm(c);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	conn_t *c = h->data;
	size_t need = c->len >= 2 ? 2 + (size_t)vd_get16(c->buf) : 2;
	(void)suggested;
	if (need < 4096)
		need = 4096;
	if (need > TCP_MSG_MAX)
		need = TCP_MSG_MAX;
	if (c->cap < need || c->cap == c->len) {
		size_t cap = c->cap < need ? need : TCP_MSG_MAX;
		uint8_t *nb = realloc(c->buf, cap);
		if (nb == NULL) {
			buf->base = NULL;
			buf->len = 0; /* libuv reports UV_ENOBUFS */
			return;
		}
		c->buf = nb;
		c->cap = cap;
	}
	buf->base = (char *)c->buf + c->len;
	buf->len = c->cap - c->len;
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	conn_t *c = s->data;
	(void)buf;
	if (nread == 0)
		return;
	if (nread == UV_EOF && c->inflight > 0) {
		/* Half-closed: answer what is pending, then close. */
		c->eof = true;
		uv_read_stop(s);
		conn_arm(c);
		return;
	}
	if (nread < 0) {
		c->eof = true;
		conn_end(c);
		conn_arm(c);
		return;
	}
	/* Bytes alone are not activity: a message trickling in must be
	 * complete within tcp_io_timeout of its first byte. */
	if (c->len == 0)
		c->msg_ms = uv_now(c->net->loop);
	c->len += (size_t)nread;
	c->refs++; /* a reply may fail and close the connection */
	conn_process(c);
	conn_unref(c);
}

/* Whether a and b are the same client for the per-client limit: the
 * same IPv4 address, or the same IPv6 /64. */
static bool same_client(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 8) == 0;
	return false;
}

static size_t client_conns(const vd_net_t *n, const conn_t *c)
{
	size_t k = 0;
	for (const conn_t *o = n->conns; o != NULL; o = o->next)
		k += o != c && same_client(&o->peer, &c->peer);
	return k;
}

/* The connection idle longest that owes its client nothing. */
static conn_t *oldest_idle(const vd_net_t *n, const conn_t *except)
{
	for (conn_t *o = n->conns_tail; o != NULL; o = o->prev)
		if (o != except && o->inflight == 0 && o->queued == 0)
			return o;
	return NULL;
}

static void tcp_accept(uv_stream_t *server, int status)
{
	tcp_listener_t *l = server->data;
	vd_net_t *n = l->net;
	if (status < 0 || n->closing)
		return;
	conn_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->net = n;
	c->refs = 1;
	c->handles = 2;
	c->h.data = c;
	c->timer.data = c;
	c->active_ms = uv_now(n->loop);
	n->alive++;
	uv_tcp_init(n->loop, &c->h);
	uv_timer_init(n->loop, &c->timer);
	conn_push(c);
	n->nconns++;
	n->stats.tcp_open = n->nconns;

	int len = sizeof(c->peer);
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0 ||
	    uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &len) != 0) {
		conn_close(c);
		return;
	}
	const vd_server_conf_t *sc = &n->snap->server;
	if (client_conns(n, c) >= sc->tcp_max_connections_per_client) {
		n->stats.tcp_client_rejected++;
		conn_close(c);
		return;
	}
	if (n->nconns > sc->tcp_max_connections) {
		conn_t *old = oldest_idle(n, c);
		if (old == NULL) {
			n->stats.tcp_rejected++;
			conn_close(c);
			return;
		}
		n->stats.tcp_evicted++;
		conn_close(old);
	}
	n->stats.tcp_accepted++;
	uv_tcp_nodelay(&c->h, 1);
	conn_arm(c);
	uv_read_start((uv_stream_t *)&c->h, conn_alloc, conn_read);
}

/* ---- listeners --------------------------------------------------------- */

/* A socket bound with SO_REUSEPORT, so every worker has its own socket on
 * the same address and the kernel spreads clients across them. Returns
 * the descriptor or a negative errno. */
static int reuseport_socket(const struct sockaddr *addr, int type)
{
	int one = 1;
	int fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (type == SOCK_STREAM &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    (addr->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, addr, vd_addr_len(addr)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int bind_udp(vd_net_t *n, udp_listener_t *u, const struct sockaddr *addr)
{
	if (!n->reuseport)
		return uv_udp_bind(&u->h, addr,
				   addr->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
	int fd = reuseport_socket(addr, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	int rc = uv_udp_open(&u->h, fd);
	if (rc != 0)
		close(fd);
	return rc;
}

static int bind_tcp(vd_net_t *n, tcp_listener_t *t, const struct sockaddr *addr)
{
	if (!n->reuseport)
		return uv_tcp_bind(&t->h, addr,
				   addr->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	int fd = reuseport_socket(addr, SOCK_STREAM);
	if (fd < 0)
		return fd;
	int rc = uv_tcp_open(&t->h, fd);
	if (rc != 0)
		close(fd);
	return rc;
}

void vd_net_set_reuseport(vd_net_t *n, bool on)
{
	n->reuseport = on;
}

int vd_net_listen(vd_net_t *n, const struct sockaddr *addr)
{
	int rc;
	udp_listener_t *u = calloc(1, sizeof(*u));
	tcp_listener_t *t = calloc(1, sizeof(*t));
	if (u == NULL || t == NULL) {
		free(u);
		free(t);
		return UV_ENOMEM;
	}
	u->net = t->net = n;
	u->h.data = u;
	t->h.data = t;
	/* recvmmsg: one system call reads a batch of datagrams under load. */
	uv_udp_init_ex(n->loop, &u->h, AF_UNSPEC | UV_UDP_RECVMMSG);
	uv_tcp_init(n->loop, &t->h);
	u->next = n->udp;
	n->udp = u;
	t->next = n->tcp;
	n->tcp = t;
	n->handles += 2;

	rc = bind_udp(n, u, addr);
	if (rc == 0)
		rc = uv_udp_recv_start(&u->h, udp_alloc, udp_recv);
	if (rc == 0)
		rc = bind_tcp(n, t, addr);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&t->h, TCP_BACKLOG, tcp_accept);
	return rc;
}

static void udp_closed(uv_handle_t *h)
{
	udp_listener_t *l = h->data;
	vd_net_t *n = l->net;
	free(l);
	n->handles--;
	maybe_finish_close(n);
}

static void tcp_closed(uv_handle_t *h)
{
	tcp_listener_t *l = h->data;
	vd_net_t *n = l->net;
	free(l);
	n->handles--;
	maybe_finish_close(n);
}

void vd_net_drain(vd_net_t *n)
{
	if (n->draining || n->closing)
		return;
	n->draining = true;
	/* UDP sockets stay open: the replies of queries in flight leave
	 * through them. */
	for (udp_listener_t *u = n->udp; u != NULL; u = u->next)
		uv_udp_recv_stop(&u->h);
	while (n->tcp != NULL) {
		tcp_listener_t *t = n->tcp;
		n->tcp = t->next;
		uv_close((uv_handle_t *)&t->h, tcp_closed);
	}
	/* Each connection reads no more and ends once it owes nothing. The
	 * list changes as connections close: walk a snapshot of it. */
	conn_t *c = n->conns;
	while (c != NULL) {
		conn_t *next = c->next;
		if (!c->eof) {
			c->eof = true;
			uv_read_stop((uv_stream_t *)&c->h);
		}
		if (c->inflight == 0)
			conn_end(c);
		c = next;
	}
}

size_t vd_net_conns(const vd_net_t *n)
{
	return n->nconns;
}

void vd_net_close(vd_net_t *n, void (*close_cb)(void *arg), void *arg)
{
	n->closing = true;
	n->close_cb = close_cb;
	n->close_arg = arg;
	n->alive++; /* hold the net while closing everything below */
	while (n->udp != NULL) {
		udp_listener_t *u = n->udp;
		n->udp = u->next;
		uv_close((uv_handle_t *)&u->h, udp_closed);
	}
	while (n->tcp != NULL) {
		tcp_listener_t *t = n->tcp;
		n->tcp = t->next;
		uv_close((uv_handle_t *)&t->h, tcp_closed);
	}
	while (n->conns != NULL)
		conn_close(n->conns);
	n->alive--;
	maybe_finish_close(n);
}
