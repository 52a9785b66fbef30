/*
 * fwd streams: one TCP or TLS connection per server, shared by every
 * request that needs a stream to it (RFC 7766 pipelining, RFC 7858). A
 * request attaches to the server's connection (dialling one when there is
 * none), writes its query when the connection is ready, and is found again
 * by the ID of each response frame; IDs are kept unique per connection.
 * A connection nobody uses is closed after an idle time, or at once if it
 * never got ready. When a connection breaks, its server forgets it at once
 * (the next query dials a new one) and the requests still on it are told
 * from a timer callback, never from inside vd_fwd_submit. TLS runs through
 * memory BIOs (fwd_tls.c): bytes read are fed to OpenSSL, and whatever it
 * wants sent is written to the socket.
 */
#include "fwd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "vpcdns/util.h"

/* Bytes libuv could not take at once: a copy that lives until written. */
typedef struct wchunk {
	uv_write_t req;
	fwd_conn_t *c;
	uint8_t data[];
} wchunk_t;

static void conn_break(fwd_conn_t *c, int err);

/* ---- lifetime -------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h)
{
	fwd_conn_t *c = h->data;
	vd_fwd_t *f = c->f;

	if (--c->nhandles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	f->nconns--;
	vd_fwd_server_put(f, c->srv);
	if (c->ssl) {
		vd_fwd_tls_end(c);
		SSL_free(c->ssl);
	}
	free(c->frame);
	free(c);
	vd_fwd_on_conn_freed(f);
}

/* New queries to c's server will dial a connection of their own. */
static void conn_retire(fwd_conn_t *c)
{
	c->retired = true;
	if (c->srv->conn == c)
		c->srv->conn = NULL;
}

static void close_handles(fwd_conn_t *c)
{
	c->state = FWD_CONN_CLOSING;
	conn_retire(c);
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	if (!uv_is_closing((uv_handle_t *)&c->idle))
		uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void idle_cb(uv_timer_t *t)
{
	fwd_conn_t *c = t->data;

	/* a polite close_notify; the socket closes whatever happens */
	if (c->tls) {
		vd_fwd_tls_notify_close(c);
		vd_fwd_conn_flush_tls(c);
	}
	close_handles(c);
}

static fwd_req_t **bucket_of(fwd_conn_t *c, uint16_t id)
{
	return &c->bucket[id % FWD_CONN_BUCKETS];
}

static fwd_req_t *lookup(fwd_conn_t *c, uint16_t id)
{
	fwd_req_t *r;

	for (r = *bucket_of(c, id); r; r = r->cnext)
		if (r->id == id)
			return r;
	return NULL;
}

static fwd_req_t *any_req(fwd_conn_t *c)
{
	for (size_t i = 0; i < FWD_CONN_BUCKETS; i++)
		if (c->bucket[i])
			return c->bucket[i];
	return NULL;
}

/* Tells the requests that were on a broken connection (timer callback). */
static void broken_cb(uv_timer_t *t)
{
	fwd_conn_t *c = t->data;
	fwd_req_t *r;

	while ((r = any_req(c))) {
		bool reused = r->conn_reused;

		vd_fwd_conn_detach(r);
		vd_fwd_on_conn_broken(r, c->broken_err, reused);
	}
	/* a callback may have closed the whole forwarder */
	if (!uv_is_closing((uv_handle_t *)&c->idle))
		uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void conn_break(fwd_conn_t *c, int err)
{
	if (c->state == FWD_CONN_CLOSING)
		return;
	c->state = FWD_CONN_CLOSING;
	conn_retire(c);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	if (c->nreqs == 0) {
		uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
		return;
	}
	c->f->stats.conn_broken++;
	c->broken_err = err;
	uv_timer_start(&c->idle, broken_cb, 0, 0);
}

/* ---- writing --------------------------------------------------------- */

static void write_cb(uv_write_t *w, int status)
{
	wchunk_t *chunk = (wchunk_t *)w;
	fwd_conn_t *c = chunk->c;

	free(chunk);
	if (status < 0)
		conn_break(c, status);
}

/* Writes what it can now; the rest is copied and queued. */
static int conn_write(fwd_conn_t *c, const uint8_t *p, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
	wchunk_t *chunk;
	int n, err;

	n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == (int)len)
		return 0;
	if (n < 0 && n != UV_EAGAIN)
		return n;
	if (n > 0) {
		p += n;
		len -= (size_t)n;
	}
	chunk = malloc(sizeof(*chunk) + len);
	if (!chunk)
		return -ENOMEM;
	chunk->c = c;
	memcpy(chunk->data, p, len);
	b = uv_buf_init((char *)chunk->data, (unsigned)len);
	err = uv_write(&chunk->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (err < 0)
		free(chunk);
	return err;
}

int vd_fwd_conn_flush_tls(fwd_conn_t *c)
{
	uint8_t buf[16384];
	int n, err;

	while (BIO_ctrl_pending(c->wbio) > 0) {
		n = BIO_read(c->wbio, buf, sizeof(buf));
		if (n <= 0)
			return -EPROTO;
		err = conn_write(c, buf, (size_t)n);
		if (err < 0)
			return err;
	}
	return 0;
}

static int req_write(fwd_conn_t *c, fwd_req_t *r)
{
	uint8_t buf[2 + FWD_QUERY_MAX];
	size_t len = 2 + r->qlen;
	int err;

	vd_set16(buf, (uint16_t)r->qlen);
	memcpy(buf + 2, r->query, r->qlen);
	r->conn_sent = true;
	if (!c->tls) {
		err = conn_write(c, buf, len);
		if (!err)
			c->f->stats.sent_tcp++;
		return err;
	}
	err = vd_fwd_tls_write(c, buf, len);
	if (!err)
		err = vd_fwd_conn_flush_tls(c);
	if (!err)
		c->f->stats.sent_tls++;
	return err;
}

/* ---- reading --------------------------------------------------------- */

static void dispatch(fwd_conn_t *c, const uint8_t *p, size_t len)
{
	fwd_req_t *r;

	if (len < VD_HDR_LEN) {
		c->f->stats.dropped_malformed++;
		return;
	}
	/* a request that gave up on this server has left the connection:
	 * its late answer matches nothing */
	r = lookup(c, vd_hdr_id(p));
	if (!r) {
		c->f->stats.dropped_mismatch++;
		return;
	}
	c->answered++;
	vd_fwd_on_response(r, p, len);
}

static void frame_feed(fwd_conn_t *c, const uint8_t *p, size_t n)
{
	/* a callback may close everything: stop reading then */
	while (n > 0 && c->state != FWD_CONN_CLOSING) {
		size_t take;

		if (c->hdr_have < 2) {
			c->hdr[c->hdr_have++] = *p++;
			n--;
			if (c->hdr_have < 2)
				continue;
			c->need = vd_get16(c->hdr);
			c->have = 0;
		}
		take = c->need - c->have;
		if (take > n)
			take = n;
		memcpy(c->frame + c->have, p, take);
		c->have += take;
		p += take;
		n -= take;
		if (c->have == c->need) {
			c->hdr_have = 0;
			dispatch(c, c->frame, c->need);
		}
	}
}

static void conn_ready(fwd_conn_t *c)
{
	c->state = FWD_CONN_READY;
	c->established = true;
	for (size_t i = 0; i < FWD_CONN_BUCKETS; i++) {
		for (fwd_req_t *r = c->bucket[i]; r; r = r->cnext) {
			int err = r->conn_sent ? 0 : req_write(c, r);

			if (err < 0) {
				conn_break(c, err);
				return;
			}
		}
	}
}

static void tls_progress(fwd_conn_t *c)
{
	int rc = vd_fwd_tls_handshake(c);
	int err = rc < 0 ? rc : vd_fwd_conn_flush_tls(c);

	if (err < 0)
		conn_break(c, err);
	else if (rc == 1)
		conn_ready(c);
}

static void tls_read_all(fwd_conn_t *c)
{
	vd_fwd_t *f = c->f;
	int n = 0, e;

	/* the socket's bytes are in the BIO now: rbuf is free again */
	while (c->state == FWD_CONN_READY) {
		ERR_clear_error();
		n = SSL_read(c->ssl, f->rbuf, sizeof(f->rbuf));
		if (n > 0) {
			frame_feed(c, f->rbuf, (size_t)n);
			continue;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e != SSL_ERROR_ZERO_RETURN)
			c->tls_error = true;
		conn_break(c, e == SSL_ERROR_ZERO_RETURN ? UV_EOF : -EPROTO);
		return;
	}
	/* post-handshake messages may want an answer */
	if (c->state == FWD_CONN_READY && (n = vd_fwd_conn_flush_tls(c)) < 0)
		conn_break(c, n);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	fwd_conn_t *c = h->data;

	(void)hint;
	buf->base = (char *)c->f->rbuf;
	buf->len = sizeof(c->f->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	fwd_conn_t *c = s->data;

	if (c->state == FWD_CONN_CLOSING || nread == 0)
		return;
	if (nread < 0) {
		if (c->state == FWD_CONN_HANDSHAKE)
			vd_fwd_tls_closed(c);
		conn_break(c, (int)nread);
		return;
	}
	if (!c->tls) {
		frame_feed(c, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
		conn_break(c, -ENOMEM);
		return;
	}
	if (c->state == FWD_CONN_HANDSHAKE)
		tls_progress(c);
	tls_read_all(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
	fwd_conn_t *c = req->data;
	int err = status;

	if (c->state == FWD_CONN_CLOSING)
		return;
	if (!err)
		err = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (err < 0) {
		conn_break(c, err);
		return;
	}
	if (!c->tls) {
		conn_ready(c);
		return;
	}
	c->state = FWD_CONN_HANDSHAKE;
	tls_progress(c);
}

/* ---- dialling -------------------------------------------------------- */

static void conn_free_unlinked(fwd_conn_t *c)
{
	vd_fwd_server_put(c->f, c->srv);
	if (c->ssl)
		SSL_free(c->ssl);
	free(c->frame);
	free(c);
}

static int conn_new(vd_fwd_t *f, fwd_server_t *s, fwd_conn_t **out)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->addr;
	fwd_conn_t *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->f = f;
	c->srv = s;
	s->refs++;
	c->tls = s->tls;
	c->frame = malloc(65535);
	if (!c->frame)
		goto fail;
	if (c->tls && (err = vd_fwd_tls_new(c)) < 0)
		goto fail;
	err = uv_tcp_init_ex(f->loop, &c->tcp, sa->sa_family);
	if (err < 0)
		goto fail;
	uv_timer_init(f->loop, &c->idle);
	c->tcp.data = c;
	c->idle.data = c;
	c->nhandles = 2;
	c->next = f->conns;
	if (f->conns)
		f->conns->prev = c;
	f->conns = c;
	f->nconns++;
	*out = c;
	return 0;
fail:
	conn_free_unlinked(c);
	return err;
}

static int conn_dial(vd_fwd_t *f, fwd_server_t *s, fwd_conn_t **out)
{
	const struct sockaddr *sa = (const struct sockaddr *)&s->addr;
	fwd_conn_t *c;
	int err;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return UV_EAFNOSUPPORT;
	err = conn_new(f, s, &c);
	if (err < 0)
		return err;
	uv_tcp_nodelay(&c->tcp, 1);
	c->connect_req.data = c;
	err = uv_tcp_connect(&c->connect_req, &c->tcp, sa, connect_cb);
	if (err < 0) {
		close_handles(c);
		return err;
	}
	s->conn = c;
	f->stats.conn_opened++;
	*out = c;
	return 0;
}

/* ---- requests -------------------------------------------------------- */

static void attach(fwd_conn_t *c, fwd_req_t *r)
{
	fwd_req_t **head;

	/* responses are told apart by ID alone before the question check */
	while (lookup(c, r->id))
		vd_fwd_msg_build(r);
	head = bucket_of(c, r->id);
	r->conn = c;
	r->conn_sent = false;
	r->conn_reused = c->answered > 0;
	r->cprev = NULL;
	r->cnext = *head;
	if (*head)
		(*head)->cprev = r;
	*head = r;
	c->nreqs++;
	if (c->state != FWD_CONN_CLOSING)
		uv_timer_stop(&c->idle);
}

void vd_fwd_conn_detach(fwd_req_t *r)
{
	fwd_conn_t *c = r->conn;

	if (!c)
		return;
	if (r->cprev)
		r->cprev->cnext = r->cnext;
	else
		*bucket_of(c, r->id) = r->cnext;
	if (r->cnext)
		r->cnext->cprev = r->cprev;
	r->conn = NULL;
	r->cprev = r->cnext = NULL;
	if (--c->nreqs > 0 || c->state == FWD_CONN_CLOSING)
		return;
	/* nobody waits for a dial or a handshake any more: give it up */
	if (c->state == FWD_CONN_READY && !c->retired)
		uv_timer_start(&c->idle, idle_cb, c->f->conn_idle_ms, 0);
	else
		close_handles(c);
}

int vd_fwd_conn_send(fwd_req_t *r)
{
	vd_fwd_t *f = r->f;
	fwd_server_t *s = r->cur;
	fwd_conn_t *c;
	int err;

	if (s->tls && (err = vd_fwd_tls_ctx(f, r->tls_ca_file)) < 0)
		return err;
	c = s->conn;
	if (c) {
		f->stats.conn_reused++;
	} else if ((err = conn_dial(f, s, &c)) < 0) {
		return err;
	}
	attach(c, r);
	if (c->state != FWD_CONN_READY)
		return 0;
	err = req_write(c, r);
	if (err < 0) {
		vd_fwd_conn_detach(r);
		conn_break(c, err);
	}
	return err;
}

void vd_fwd_conn_retire_tls(vd_fwd_t *f)
{
	for (fwd_conn_t *c = f->conns; c; c = c->next) {
		if (!c->tls || c->state == FWD_CONN_CLOSING)
			continue;
		conn_retire(c);
		if (c->nreqs == 0)
			close_handles(c);
	}
}

void vd_fwd_conn_close_all(vd_fwd_t *f)
{
	for (fwd_conn_t *c = f->conns; c; c = c->next)
		close_handles(c);
}
