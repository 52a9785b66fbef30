/*
 * fwd servers: the forwarder's table of upstream servers, keyed by address,
 * transport and TLS name, so what was learnt about a server (its smoothed
 * RTT, its back-off, its open connection and TLS session) outlives the
 * configuration snapshot that named it; and the choice of the server for
 * each attempt. The RTT follows Unbound's infra cache; the back-off doubles
 * on each failure that is not just another query caught by the same
 * outage, and a success ends it. Entries nobody has used for a while are
 * dropped once the table grows, so reloads that keep changing servers
 * cannot grow it without bound.
 */
#include "fwd_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

/* ---- table ----------------------------------------------------------- */

/* Only the bytes that make the address: sockaddr padding is not zeroed
 * by every parser. */
static uint32_t key_hash(const vd_upstream_t *u)
{
	const struct sockaddr *sa = (const struct sockaddr *)&u->addr;
	uint64_t h = VD_HASH_SEED_FIXED;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		h = vd_hash(&in->sin_addr, sizeof(in->sin_addr), h);
		h = vd_hash(&in->sin_port, sizeof(in->sin_port), h);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		h = vd_hash(&in6->sin6_addr, sizeof(in6->sin6_addr), h);
		h = vd_hash(&in6->sin6_port, sizeof(in6->sin6_port), h);
	}
	h = vd_hash(&u->tls, 1, h);
	if (u->tls && u->tls_name)
		h = vd_hash(u->tls_name, strlen(u->tls_name), h);
	return (uint32_t)h;
}

static bool key_equal(const fwd_server_t *s, const vd_upstream_t *u)
{
	const char *un = u->tls ? u->tls_name : NULL;

	if (s->tls != u->tls || (s->tls_name == NULL) != (un == NULL))
		return false;
	if (un && strcmp(s->tls_name, un) != 0)
		return false;
	if (s->addr.ss_family != u->addr.ss_family)
		return false;
	/* vd_addr_equal knows only INET and INET6 */
	if (s->addr.ss_family != AF_INET && s->addr.ss_family != AF_INET6)
		return true;
	return vd_addr_equal((const struct sockaddr *)&s->addr,
			     (const struct sockaddr *)&u->addr);
}

static void server_free(fwd_server_t *s)
{
	if (s->session)
		SSL_SESSION_free(s->session);
	free(s->tls_name);
	free(s->label);
	free(s);
}

static char *make_label(const vd_upstream_t *u)
{
	char addr[80], *out;
	int n;

	vd_addr_fmt((const struct sockaddr *)&u->addr, addr, sizeof(addr));
	n = u->tls ? asprintf(&out, "tls://%s%s%s", addr, u->tls_name ? "#" : "",
			      u->tls_name ? u->tls_name : "")
		   : asprintf(&out, "%s", addr);
	return n < 0 ? NULL : out;
}

static fwd_server_t *server_new(const vd_upstream_t *u, uint32_t h)
{
	fwd_server_t *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->hash = h;
	s->addr = u->addr;
	s->tls = u->tls;
	s->srtt = FWD_SRTT_INIT_MS;
	s->label = make_label(u);
	if (u->tls && u->tls_name)
		s->tls_name = strdup(u->tls_name);
	if (!s->label || (u->tls && u->tls_name && !s->tls_name)) {
		server_free(s);
		return NULL;
	}
	return s;
}

/* Drops entries unused for a while, once the table is large. */
static void sweep(vd_fwd_t *f, uint64_t now)
{
	for (size_t i = 0; i < FWD_SERVER_BUCKETS; i++) {
		fwd_server_t **pp = &f->servers[i];

		while (*pp) {
			fwd_server_t *s = *pp;

			if (s->refs == 0 &&
			    now - s->last_used >= FWD_SERVER_FORGET_MS) {
				*pp = s->hnext;
				f->nservers--;
				server_free(s);
			} else {
				pp = &s->hnext;
			}
		}
	}
}

fwd_server_t *vd_fwd_server_get(vd_fwd_t *f, const vd_upstream_t *u)
{
	uint32_t h = key_hash(u);
	fwd_server_t **head = &f->servers[h % FWD_SERVER_BUCKETS];
	uint64_t now = vd_fwd_now(f);
	fwd_server_t *s;

	for (s = *head; s; s = s->hnext)
		if (s->hash == h && key_equal(s, u))
			break;
	if (!s) {
		if (f->nservers >= FWD_SERVERS_SOFT_MAX)
			sweep(f, now);
		s = server_new(u, h);
		if (!s)
			return NULL;
		s->state_log = f->quiet ? VD_LOG_DEBUG : VD_LOG_WARN;
		s->hnext = *head;
		*head = s;
		f->nservers++;
	}
	s->refs++;
	s->last_used = now;
	return s;
}

void vd_fwd_server_put(vd_fwd_t *f, fwd_server_t *s)
{
	s->refs--;
	s->last_used = vd_fwd_now(f);
}

void vd_fwd_servers_free(vd_fwd_t *f)
{
	for (size_t i = 0; i < FWD_SERVER_BUCKETS; i++) {
		fwd_server_t *s = f->servers[i], *next;

		for (; s; s = next) {
			next = s->hnext;
			server_free(s);
		}
		f->servers[i] = NULL;
	}
	f->nservers = 0;
}

int vd_fwd_server_stats(const vd_fwd_t *f, const vd_upstream_t *u,
			vd_fwd_server_stats_t *out)
{
	uint32_t h = key_hash(u);
	const fwd_server_t *s = f->servers[h % FWD_SERVER_BUCKETS];

	for (; s; s = s->hnext) {
		if (s->hash == h && key_equal(s, u)) {
			*out = s->st;
			out->up = s->fails == 0;
			out->fails = s->fails;
			return 0;
		}
	}
	memset(out, 0, sizeof(*out));
	out->up = true;
	return -ENOENT;
}

/* ---- choice ---------------------------------------------------------- */

uint32_t vd_fwd_sel_backoff_ms(unsigned n)
{
	uint64_t ms;

	if (n == 0)
		return 0;
	if (n > 20)
		return FWD_BACKOFF_MAX_MS;
	ms = (uint64_t)FWD_BACKOFF_MIN_MS << (n - 1);
	return ms > FWD_BACKOFF_MAX_MS ? FWD_BACKOFF_MAX_MS : (uint32_t)ms;
}

static bool probe_ready(const fwd_server_t *s, uint64_t now)
{
	return s->fails > 0 && now >= s->backoff_until && !s->probing;
}

/* The k-th (from 0) healthy untried server other than skip. */
static int nth_healthy(fwd_server_t *const *srv, size_t n, uint64_t tried, int skip,
		       uint32_t k)
{
	for (size_t i = 0; i < n; i++) {
		if ((tried >> i) & 1 || (int)i == skip || srv[i]->fails > 0)
			continue;
		if (k-- == 0)
			return (int)i;
	}
	return -1;
}

int vd_fwd_sel_pick(const vd_fwd_t *f, fwd_server_t *const *srv, size_t n,
		    uint64_t tried, uint64_t now, bool *probe, bool *explored)
{
	int best = -1, oldest = -1, ready = -1;
	uint32_t healthy = 0;

	*probe = *explored = false;
	for (size_t i = 0; i < n; i++) {
		const fwd_server_t *s = srv[i];

		if ((tried >> i) & 1)
			continue;
		if (s->fails == 0) {
			healthy++;
			if (best < 0 || s->srtt < srv[best]->srtt)
				best = (int)i;
		} else if (probe_ready(s, now) &&
			   (ready < 0 || s->failed_at < srv[ready]->failed_at)) {
			ready = (int)i;
		}
		if (s->fails > 0 &&
		    (oldest < 0 || s->failed_at < srv[oldest]->failed_at))
			oldest = (int)i;
	}
	if (ready >= 0) {
		*probe = true;
		return ready;
	}
	if (best < 0)
		return oldest;
	if (healthy > 1 && f->explore_permille &&
	    vd_rand_uniform(1000) < f->explore_permille) {
		*explored = true;
		return nth_healthy(srv, n, tried, best, vd_rand_uniform(healthy - 1));
	}
	return best;
}

static void rtt_sample(fwd_server_t *s, uint32_t ms)
{
	if (!s->measured) {
		s->srtt = ms;
		s->measured = true;
		return;
	}
	s->srtt = (uint32_t)(((uint64_t)s->srtt * 7 + ms) / 8);
}

void vd_fwd_sel_success(fwd_server_t *s, uint64_t now, uint32_t rtt_ms)
{
	(void)now;
	if (rtt_ms != UINT32_MAX)
		rtt_sample(s, rtt_ms);
	s->fails = 0;
	s->backoff_until = 0;
}

void vd_fwd_sel_failure(fwd_server_t *s, uint64_t now, uint64_t sent_at,
			uint32_t timeout_ms, bool was_probe)
{
	if (timeout_ms)
		rtt_sample(s, timeout_ms);
	if (!was_probe && s->fails > 0 && sent_at < s->failed_at)
		return;
	s->fails++;
	s->failed_at = now;
	s->backoff_until = now + vd_fwd_sel_backoff_ms(s->fails);
}

/* ---- health log ------------------------------------------------------ */

const uint32_t vd_fwd_rtt_bounds_ms[VD_FWD_RTT_BUCKETS] = {
	1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
};

void vd_fwd_sel_down(fwd_server_t *s, uint64_t now, uint64_t sent_at,
		     uint32_t timeout_ms, bool was_probe, int err)
{
	bool was_up = s->fails == 0;

	if (timeout_ms) {
		s->st.timeouts++;
		s->down_timeouts++;
	} else {
		s->st.errors++;
		s->down_errors++;
	}
	vd_fwd_sel_failure(s, now, sent_at, timeout_ms, was_probe);
	if (!was_up || s->fails == 0)
		return;
	s->down_since = now;
	vd_log(s->state_log,
	       "upstream %s: %s; backed off for %u s (%llu queries, %llu answers "
	       "before)",
	       s->label, timeout_ms ? "timed out" : vd_strerror(err),
	       vd_fwd_sel_backoff_ms(s->fails) / 1000,
	       (unsigned long long)s->st.queries, (unsigned long long)s->st.answers);
}

void vd_fwd_sel_up(fwd_server_t *s, uint64_t now, uint32_t rtt_ms)
{
	size_t b = 0;

	s->st.answers++;
	if (rtt_ms != UINT32_MAX) {
		while (b < VD_FWD_RTT_BUCKETS && rtt_ms > vd_fwd_rtt_bounds_ms[b])
			b++;
		s->st.rtt[b]++;
		s->st.rtt_sum_ms += rtt_ms;
	}
	s->garbage_logged = false;
	if (s->fails > 0)
		vd_log(s->state_log,
		       "upstream %s: recovered after %llu ms backed off (%llu "
		       "timeouts, %llu errors)",
		       s->label, (unsigned long long)(now - s->down_since),
		       (unsigned long long)s->down_timeouts,
		       (unsigned long long)s->down_errors);
	s->down_timeouts = s->down_errors = 0;
	vd_fwd_sel_success(s, now, rtt_ms);
}

void vd_fwd_sel_garbage(fwd_server_t *s)
{
	s->st.malformed++;
	if (s->garbage_logged)
		return;
	s->garbage_logged = true;
	vd_log(VD_LOG_WARN,
	       "upstream %s: answered garbage (a response that does not parse; "
	       "%llu so far)",
	       s->label, (unsigned long long)s->st.malformed);
}
