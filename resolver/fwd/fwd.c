/*
 * fwd requests: the per-query state machine. A request walks the group's
 * servers in order; each attempt is one socket plus the request's timer.
 * A valid answer finishes it; TC=1 retries the same server over TCP;
 * FORMERR retries it once without EDNS; SERVFAIL/REFUSED/NOTIMP, a timeout
 * or a network error move to the next server. Handles are only ever freed
 * from their close callbacks: a request lives until its callback has run
 * and every handle it opened has closed, and the next attempt's socket is
 * opened from the previous one's close callback so the embedded handle can
 * be reused. Requests are recycled through a small per-forwarder pool.
 */
#include "vpcdns/fwd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fwd_int.h"
#include "vpcdns/util.h"

static void timer_cb(uv_timer_t *t);

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

	if (!f->closing || !f->own_closed || f->active)
		return;
	while ((r = f->pool)) {
		f->pool = r->next;
		free(r);
	}
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
	free(r->tcp_buf);
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

static void attempt_stop(fwd_req_t *r)
{
	r->deferred_err = 0;
	if (r->timer_open)
		uv_timer_stop(&r->timer);
	if (r->sock_state == FWD_SOCK_OPEN) {
		r->sock_state = FWD_SOCK_CLOSING;
		uv_close(&r->sock.h, vd_fwd_on_sock_closed);
	}
}

/* Failures found while starting are reported from the timer, so that the
 * caller's callback never runs inside vd_fwd_submit. */
static void attempt_start(fwd_req_t *r)
{
	int err = r->tcp ? vd_fwd_io_tcp_start(r) : vd_fwd_io_udp_start(r);

	if (err < 0) {
		r->deferred_err = err;
		uv_timer_start(&r->timer, timer_cb, 0, 0);
		return;
	}
	uv_timer_start(&r->timer, timer_cb, r->timeout_ms, 0);
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

static void finish(fwd_req_t *r, int status, int ede, const uint8_t *resp,
		   size_t len)
{
	r->done = true;
	r->start_pending = false;
	r->f->npending--;
	attempt_stop(r);
	if (r->timer_open) {
		r->timer_open = false;
		uv_close((uv_handle_t *)&r->timer, timer_closed_cb);
	}
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

/* err: VD_ETIMEOUT, a negative error, or 0 when the server answered with
 * a failure rcode (already saved). */
static void server_failed(fwd_req_t *r, int err)
{
	if (err != VD_ETIMEOUT)
		r->all_timeouts = false;
	if (err < 0 && err != VD_ETIMEOUT)
		r->last_err = err;
	if (r->si + 1 >= r->group->nservers) {
		attempt_stop(r);
		all_failed(r);
		return;
	}
	r->si++;
	r->f->stats.failovers++;
	r->tcp = false;
	r->edns = true;
	r->formerr_retried = false;
	attempt_retry(r);
}

static void timer_cb(uv_timer_t *t)
{
	fwd_req_t *r = t->data;
	int err = r->deferred_err;

	if (err) {
		r->deferred_err = 0;
		vd_fwd_on_net_error(r, err);
		return;
	}
	r->f->stats.timeouts++;
	server_failed(r, VD_ETIMEOUT);
}

void vd_fwd_on_net_error(fwd_req_t *r, int err)
{
	if (r->done)
		return;
	r->f->stats.net_errors++;
	server_failed(r, err);
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
		r->tcp = false;
		attempt_retry(r);
		return;
	}
	attempt_stop(r);
	server_failed(r, -EPROTO);
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
		return;
	case FWD_RESP_OK:
		break;
	}
	flags = vd_hdr_flags(p);
	rcode = VD_F_RCODE(flags);
	if (rcode == VD_RCODE_FORMERR) {
		on_formerr(r);
	} else if (rcode == VD_RCODE_SERVFAIL || rcode == VD_RCODE_REFUSED ||
		   rcode == VD_RCODE_NOTIMP) {
		save_failure(r, p, len);
		attempt_stop(r);
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
	/* never started: it only makes close_cb run from a libuv callback */
	uv_timer_init(loop, &f->own);
	f->own.data = f;
	return f;
}

static bool query_valid(const vd_fwd_query_t *q)
{
	return q && q->qname && q->group && q->group->servers &&
	       q->group->nservers > 0 && vd_fwd_name_check(q->qname) > 0;
}

int vd_fwd_submit(vd_fwd_t *f, const vd_fwd_query_t *q, vd_fwd_cb cb, void *arg)
{
	fwd_req_t *r;

	if (!f || !cb || !query_valid(q))
		return -EINVAL;
	if (f->closing)
		return -ECANCELED;
	r = req_get(f);
	if (!r)
		return -ENOMEM;
	r->cb = cb;
	r->arg = arg;
	r->group = q->group;
	r->timeout_ms = q->timeout_ms ? q->timeout_ms : FWD_DEFAULT_TIMEOUT_MS;
	r->qname_len = vd_fwd_name_check(q->qname);
	memcpy(r->qname, q->qname, r->qname_len);
	r->qtype = q->qtype;
	r->qclass = q->qclass;
	r->rd = q->rd;
	r->cd = q->cd;
	r->do_bit = q->do_bit;
	r->edns = true;
	r->all_timeouts = true;
	uv_timer_init(f->loop, &r->timer);
	r->timer.data = r;
	r->timer_open = true;
	r->nhandles = 1;
	f->npending++;
	f->stats.queries++;
	vd_fwd_msg_build(r);
	attempt_start(r);
	return 0;
}

static void own_closed_cb(uv_handle_t *h)
{
	vd_fwd_t *f = h->data;

	f->own_closed = true;
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
	uv_close((uv_handle_t *)&f->own, own_closed_cb);
}

const vd_fwd_stats_t *vd_fwd_stats(const vd_fwd_t *f)
{
	return f ? &f->stats : NULL;
}

size_t vd_fwd_pending(const vd_fwd_t *f)
{
	return f ? f->npending : 0;
}
