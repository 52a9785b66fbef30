/*
 * fwd requests: the per-query state machine. A request asks the servers of
 * its group in the order fwd_sel.c picks them; each attempt is a UDP
 * socket or a place on the server's stream connection, plus the request's
 * timer. A valid answer finishes it; TC=1 retries the same server over
 * TCP; FORMERR retries it once without EDNS; SERVFAIL/REFUSED/NOTIMP, a
 * timeout or a network error move to another server; the deadline ends
 * it wherever it is. Handles are only ever freed from their close
 * callbacks: a request lives until its callback has run and every handle
 * it opened has closed, and the next attempt's socket is opened from the
 * previous one's close callback so the embedded handle can be reused.
 * Requests are recycled through a small per-forwarder pool.
 */
#include "vpcdns/fwd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_int.h"
#include "vpcdns/util.h"

static void timer_cb(uv_timer_t *t);

uint64_t vd_fwd_now(const vd_fwd_t *f)
{
	return f->now_fn ? f->now_fn(f->now_arg) : vd_now_ms();
}

/* ---- request lifetime ------------------------------------------------ */

static fwd_req_t *req_get(vd_fwd_t *f)
{
	fwd_req_t *r = f->pool;

	if (r) {
		f->pool = r->next;
		f->npool--;
	} else {
		r = malloc(sizeof(*r));
		if (!r)
			return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->next = f->active;
	if (f->active)
		f->active->prev = r;
	f->active = r;
	return r;
}

static void finish_close(vd_fwd_t *f)
{
	fwd_req_t *r;

	if (!f->closing || !f->own_closed || f->active || f->nconns)
		return;
	while ((r = f->pool)) {
		f->pool = r->next;
		free(r);
	}
	vd_fwd_servers_free(f);
	vd_fwd_tls_free_ctx(f);
	if (f->close_cb)
		f->close_cb(f->close_arg);
	free(f);
}

static void req_release(fwd_req_t *r)
{
	vd_fwd_t *f = r->f;

	if (r->prev)
		r->prev->next = r->next;
	else
		f->active = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r->saved);
	for (size_t i = 0; i < r->nsrv; i++)
		vd_fwd_server_put(f, r->srv[i]);
	if (!f->closing && f->npool < FWD_POOL_MAX) {
		r->next = f->pool;
		f->pool = r;
		f->npool++;
	} else {
		free(r);
	}
	finish_close(f);
}

static void req_maybe_free(fwd_req_t *r)
{
	if (r->done && r->nhandles == 0)
		req_release(r);
}

static void timer_closed_cb(uv_handle_t *h)
{
	fwd_req_t *r = h->data;

	r->nhandles--;
	req_maybe_free(r);
}

/* ---- attempts -------------------------------------------------------- */

static void probe_release(fwd_req_t *r)
{
	if (r->probe) {
		r->probe = false;
		r->cur->probing = false;
	}
}

static void attempt_stop(fwd_req_t *r)
{
	r->deferred_err = 0;
	if (r->timer_open)
		uv_timer_stop(&r->timer);
	vd_fwd_conn_detach(r);
	if (r->sock_state == FWD_SOCK_OPEN) {
		r->sock_state = FWD_SOCK_CLOSING;
		uv_close(&r->sock.h, vd_fwd_on_sock_closed);
	}
}

#define FWD_SOCK_LOG_MS 10000

/* Out of descriptors (or socket memory) is the operator's problem, not
 * the server's: say so, at most once every FWD_SOCK_LOG_MS, and count. */
static void socket_failed(vd_fwd_t *f, int err)
{
	uint64_t now = vd_now_ms();

	f->stats.socket_failures++;
	f->sock_fail_unlogged++;
	if (f->sock_fail_logged_ms != 0 &&
	    now < f->sock_fail_logged_ms + FWD_SOCK_LOG_MS)
		return;
	vd_log(VD_LOG_ERR,
	       "upstream: cannot open a socket: %s (%llu times since the "
	       "last such message); raise the open files limit (ulimit -n, "
	       "LimitNOFILE=) or lower server.tcp_max_connections or "
	       "server.upstream_max_inflight",
	       uv_strerror(err), (unsigned long long)f->sock_fail_unlogged);
	f->sock_fail_logged_ms = now;
	f->sock_fail_unlogged = 0;
}

/* Failures found while starting are reported from the timer, so that the
 * caller's callback never runs inside vd_fwd_submit. The attempt's own
 * timeout is cut short when the deadline comes first. */
static void attempt_start(fwd_req_t *r)
{
	uint64_t now = vd_fwd_now(r->f);
	uint64_t left = r->deadline > now ? r->deadline - now : 0;
	int err;

	r->sent_at = now;
	r->attempt_ms = left < r->timeout_ms ? (uint32_t)left : r->timeout_ms;
	err = r->tcp ? vd_fwd_conn_send(r) : vd_fwd_io_udp_start(r);
	if (err == UV_EMFILE || err == UV_ENFILE || err == UV_ENOBUFS ||
	    err == UV_ENOMEM)
		socket_failed(r->f, err);
	if (err < 0) {
		r->deferred_err = err;
		uv_timer_start(&r->timer, timer_cb, 0, 0);
		return;
	}
	if (r->f->tap != NULL)
		r->f->tap(r->f->tap_arg, (const struct sockaddr *)&r->cur->addr, r->tcp,
			  false, r->query, r->qlen);
	uv_timer_start(&r->timer, timer_cb, r->attempt_ms, 0);
}

/* Starts the attempt r now describes, once the previous socket is gone. */
static void attempt_retry(fwd_req_t *r)
{
	attempt_stop(r);
	vd_fwd_msg_build(r);
	if (r->sock_state == FWD_SOCK_NONE)
		attempt_start(r);
	else
		r->start_pending = true;
}

void vd_fwd_on_sock_closed(uv_handle_t *h)
{
	fwd_req_t *r = h->data;

	r->nhandles--;
	r->sock_state = FWD_SOCK_NONE;
	if (!r->done && r->start_pending) {
		r->start_pending = false;
		attempt_start(r);
		return;
	}
	req_maybe_free(r);
}

static void finish(fwd_req_t *r, int status, int ede, const uint8_t *resp, size_t len)
{
	r->done = true;
	r->start_pending = false;
	r->f->npending--;
	attempt_stop(r);
	probe_release(r);
	if (r->timer_open) {
		r->timer_open = false;
		uv_close((uv_handle_t *)&r->timer, timer_closed_cb);
	}
	/* what the caller sees and caches holds only records about the
	 * question */
	if (status == 0 && resp != NULL)
		vd_fwd_msg_scrub(r, resp, len, &resp, &len);
	/* r stays valid during the call: it is freed from close callbacks */
	r->cb(r->arg, status, ede, resp, len);
}

static void all_failed(fwd_req_t *r)
{
	r->f->stats.failed++;
	if (r->saved)
		finish(r, 0, -1, r->saved, r->saved_len);
	else if (r->all_timeouts)
		finish(r, VD_ETIMEOUT, VD_EDE_NO_REACHABLE_AUTHORITY, NULL, 0);
	else
		finish(r, r->last_err, VD_EDE_NETWORK_ERROR, NULL, 0);
}

static void deadline_passed(fwd_req_t *r)
{
	r->f->stats.deadlines++;
	finish(r, VD_ETIMEOUT, VD_EDE_NO_REACHABLE_AUTHORITY, NULL, 0);
}

/* Makes srv[i] the server of the next attempt. */
static void use_server(fwd_req_t *r, int i, bool probe, bool explored)
{
	vd_fwd_stats_t *st = &r->f->stats;

	r->tried |= 1ull << i;
	r->cur = r->srv[i];
	r->cur->st.queries++;
	r->probe = probe;
	if (probe) {
		r->cur->probing = true;
		st->probes++;
	}
	if (explored)
		st->explored++;
	/* a tls:// server speaks nothing but TLS */
	r->tcp = r->cur->tls;
	r->edns = true;
	r->formerr_retried = false;
	r->conn_retried = false;
}

/* err: VD_ETIMEOUT, a negative error, or 0 when the server answered with
 * a failure rcode (already saved). */
static void server_failed(fwd_req_t *r, int err)
{
	uint64_t now = vd_fwd_now(r->f);
	bool probe, explored;
	int i;

	if (err != VD_ETIMEOUT)
		r->all_timeouts = false;
	if (err < 0 && err != VD_ETIMEOUT)
		r->last_err = err;
	attempt_stop(r);
	probe_release(r);
	if (now >= r->deadline) {
		deadline_passed(r);
		return;
	}
	i = vd_fwd_sel_pick(r->f, r->srv, r->nsrv, r->tried, now, &probe, &explored);
	if (i < 0) {
		all_failed(r);
		return;
	}
	r->f->stats.failovers++;
	use_server(r, i, probe, explored);
	attempt_retry(r);
}

static void timer_cb(uv_timer_t *t)
{
	fwd_req_t *r = t->data;
	int err = r->deferred_err;
	uint64_t now = vd_fwd_now(r->f);
	bool full = r->attempt_ms >= r->timeout_ms;

	if (err) {
		r->deferred_err = 0;
		vd_fwd_on_net_error(r, err);
		return;
	}
	/* Only a full attempt says something about the server; one cut
	 * short by the deadline does not. */
	if (full) {
		r->f->stats.timeouts++;
		vd_fwd_sel_down(r->cur, now, r->sent_at, r->timeout_ms, r->probe, 0);
	}
	if (!full || now >= r->deadline) {
		attempt_stop(r);
		deadline_passed(r);
		return;
	}
	server_failed(r, VD_ETIMEOUT);
}

void vd_fwd_on_net_error(fwd_req_t *r, int err)
{
	if (r->done)
		return;
	r->f->stats.net_errors++;
	vd_fwd_sel_down(r->cur, vd_fwd_now(r->f), r->sent_at, 0, r->probe, err);
	server_failed(r, err);
}

void vd_fwd_on_conn_broken(fwd_req_t *r, int err, bool reused)
{
	if (r->done)
		return;
	/* The server may close a connection it thinks idle just as a query
	 * goes out on it: that says nothing about the server, so try once
	 * more on a connection of its own. */
	if (reused && !r->conn_retried) {
		r->conn_retried = true;
		r->f->stats.conn_retries++;
		attempt_retry(r);
		return;
	}
	vd_fwd_on_net_error(r, err);
}

/* ---- responses ------------------------------------------------------- */

static void save_failure(fwd_req_t *r, const uint8_t *p, size_t len)
{
	uint8_t *c = realloc(r->saved, len);

	if (!c) {
		r->last_err = -ENOMEM;
		return;
	}
	memcpy(c, p, len);
	r->saved = c;
	r->saved_len = len;
}

static void on_formerr(fwd_req_t *r)
{
	/* most likely a server that does not speak EDNS */
	if (r->edns && !r->formerr_retried) {
		r->formerr_retried = true;
		r->edns = false;
		r->tcp = r->cur->tls;
		attempt_retry(r);
		return;
	}
	server_failed(r, -EPROTO);
}

/* Any valid response shows the server is up. Stream attempts that had to
 * dial first would measure the handshake too, so they give no sample. */
static void server_answered(fwd_req_t *r)
{
	uint64_t now = vd_fwd_now(r->f);
	uint32_t rtt = (uint32_t)(now - r->sent_at);

	if (r->tcp && !r->conn_reused)
		rtt = UINT32_MAX;
	vd_fwd_sel_up(r->cur, now, rtt);
	probe_release(r);
}

void vd_fwd_on_response(fwd_req_t *r, const uint8_t *p, size_t len)
{
	vd_fwd_stats_t *st = &r->f->stats;
	uint16_t flags;
	int rcode;

	switch (vd_fwd_msg_check(r, p, len)) {
	case FWD_RESP_MISMATCH:
		st->dropped_mismatch++;
		return;
	case FWD_RESP_MALFORMED:
		st->dropped_malformed++;
		vd_fwd_sel_garbage(r->cur);
		return;
	case FWD_RESP_OK:
		break;
	}
	if (r->f->tap != NULL)
		r->f->tap(r->f->tap_arg, (const struct sockaddr *)&r->cur->addr, r->tcp,
			  true, p, len);
	server_answered(r);
	flags = vd_hdr_flags(p);
	rcode = VD_F_RCODE(flags);
	if (rcode == VD_RCODE_FORMERR) {
		on_formerr(r);
	} else if (rcode == VD_RCODE_SERVFAIL || rcode == VD_RCODE_REFUSED ||
		   rcode == VD_RCODE_NOTIMP) {
		save_failure(r, p, len);
		server_failed(r, 0);
	} else if ((flags & VD_F_TC) && !r->tcp) {
		st->tc_retries++;
		r->tcp = true;
		attempt_retry(r);
	} else {
		st->answered++;
		finish(r, 0, -1, p, len);
	}
}

/* ---- public interface ------------------------------------------------ */

vd_fwd_t *vd_fwd_new(uv_loop_t *loop)
{
	vd_fwd_t *f;

	if (!loop)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->loop = loop;
	f->explore_permille = FWD_EXPLORE_PERMILLE;
	f->conn_idle_ms = FWD_CONN_IDLE_MS;
	/* never started: it only makes close_cb run from a libuv callback */
	uv_timer_init(loop, &f->own);
	f->own.data = f;
	return f;
}

static bool query_valid(const vd_fwd_query_t *q)
{
	return q && q->qname && q->group && q->group->servers &&
	       q->group->nservers > 0 && q->group->nservers <= VD_GROUP_MAX_SERVERS &&
	       vd_fwd_name_check(q->qname) > 0;
}

static int req_servers(fwd_req_t *r)
{
	for (size_t i = 0; i < r->group->nservers; i++) {
		r->srv[i] = vd_fwd_server_get(r->f, &r->group->servers[i]);
		if (!r->srv[i])
			return -ENOMEM;
		r->nsrv++;
	}
	return 0;
}

static void req_fill(fwd_req_t *r, const vd_fwd_query_t *q, vd_fwd_cb cb, void *arg)
{
	r->cb = cb;
	r->arg = arg;
	r->group = q->group;
	r->tls_ca_file = q->tls_ca_file;
	r->timeout_ms = q->timeout_ms ? q->timeout_ms : FWD_DEFAULT_TIMEOUT_MS;
	r->deadline =
		vd_fwd_now(r->f) +
		(q->query_timeout_ms ? q->query_timeout_ms : FWD_DEFAULT_DEADLINE_MS);
	r->qname_len = vd_fwd_name_check(q->qname);
	memcpy(r->qname, q->qname, r->qname_len);
	r->qtype = q->qtype;
	r->qclass = q->qclass;
	r->rd = q->rd;
	r->cd = q->cd;
	r->do_bit = q->do_bit;
	r->use_0x20 = q->group->use_0x20;
	r->all_timeouts = true;
}

int vd_fwd_submit(vd_fwd_t *f, const vd_fwd_query_t *q, vd_fwd_cb cb, void *arg)
{
	bool probe, explored;
	fwd_req_t *r;
	int i;

	if (!f || !cb || !query_valid(q))
		return -EINVAL;
	if (f->closing)
		return -ECANCELED;
	if (q->max_inflight && f->npending >= q->max_inflight) {
		f->stats.rejected_inflight++;
		return VD_ELIMIT;
	}
	r = req_get(f);
	if (!r)
		return -ENOMEM;
	req_fill(r, q, cb, arg);
	if (req_servers(r) < 0) {
		r->done = true;
		req_release(r);
		return -ENOMEM;
	}
	uv_timer_init(f->loop, &r->timer);
	r->timer.data = r;
	r->timer_open = true;
	r->nhandles = 1;
	f->npending++;
	f->stats.queries++;
	i = vd_fwd_sel_pick(f, r->srv, r->nsrv, 0, vd_fwd_now(f), &probe, &explored);
	use_server(r, i, probe, explored);
	vd_fwd_msg_build(r);
	attempt_start(r);
	return 0;
}

size_t vd_fwd_conns(const vd_fwd_t *f)
{
	return f->nconns;
}

static void own_closed_cb(uv_handle_t *h)
{
	vd_fwd_t *f = h->data;

	f->own_closed = true;
	finish_close(f);
}

void vd_fwd_on_conn_freed(vd_fwd_t *f)
{
	finish_close(f);
}

void vd_fwd_close(vd_fwd_t *f, void (*close_cb)(void *arg), void *arg)
{
	fwd_req_t *r;

	if (!f || f->closing)
		return;
	f->closing = true;
	f->close_cb = close_cb;
	f->close_arg = arg;
	/* callbacks cannot unlink requests (that happens in close callbacks)
	 * nor add any (submit refuses while closing) */
	for (r = f->active; r; r = r->next)
		if (!r->done)
			finish(r, -ECANCELED, VD_EDE_NETWORK_ERROR, NULL, 0);
	vd_fwd_conn_close_all(f);
	uv_close((uv_handle_t *)&f->own, own_closed_cb);
}

void vd_fwd_set_quiet(vd_fwd_t *f, bool quiet)
{
	f->quiet = quiet;
}

void vd_fwd_set_tap(vd_fwd_t *f, vd_fwd_tap_fn fn, void *arg)
{
	f->tap = fn;
	f->tap_arg = arg;
}

const vd_fwd_stats_t *vd_fwd_stats(const vd_fwd_t *f)
{
	return f ? &f->stats : NULL;
}

size_t vd_fwd_pending(const vd_fwd_t *f)
{
	return f ? f->npending : 0;
}

void vd_fwd_set_clock(vd_fwd_t *f, uint64_t (*now_ms)(void *arg), void *arg)
{
	if (!f)
		return;
	f->now_fn = now_ms;
	f->now_arg = now_ms ? arg : NULL;
}
