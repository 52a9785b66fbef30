/*
 * The observability listener on libmicrohttpd: a thread per connection
 * (at most http.max_connections per address), so a scrape waiting for the
 * main loop never holds up a health check. Readiness and liveness come
 * from atomics and a small locked state; the metrics text is produced on
 * the owner's loop and handed over under the same lock, with a condition
 * variable the scrape waits on for a bounded time.
 */
#include "vpcdns/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "vpcdns/util.h"

#define CONTENT_TEXT "text/plain; charset=utf-8"
#define CONTENT_PROM "text/plain; version=0.0.4; charset=utf-8"

struct vd_http {
	struct MHD_Daemon *mhd[VD_HTTP_LISTEN_MAX];
	size_t nmhd;
	vd_http_ops_t ops;
	atomic_int state;
	atomic_uint_fast64_t *ticks; /* per loop, vd_now_ms */
	size_t max_loops;
	atomic_size_t nloops;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cond; /* metrics arrived, or detached */
	bool attached;
	char reason[160];
	uint64_t req_seq, done_seq;
	char *text; /* malloc'd; the last metrics */
	size_t len;
};

static const char *const state_names[] = { "loading", "ready", "draining", "stopping" };

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code,
			       const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned code,
				    const char *body)
{
	return respond(c, code, CONTENT_TEXT, body, strlen(body));
}

static enum MHD_Result serve_ready(vd_http_t *h, struct MHD_Connection *c)
{
	char body[256];
	int st = atomic_load(&h->state);

	pthread_mutex_lock(&h->mu);
	snprintf(body, sizeof(body), "%s%s%s\n", state_names[st],
		 h->reason[0] ? ": " : "", h->reason);
	pthread_mutex_unlock(&h->mu);
	return respond_text(
		c, st == VD_HTTP_READY ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		body);
}

static void loop_name(size_t i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "main loop");
	else
		snprintf(buf, len, "worker %zu", i - 1);
}

static enum MHD_Result serve_health(vd_http_t *h, struct MHD_Connection *c)
{
	int st = atomic_load(&h->state);
	uint64_t now = vd_now_ms();
	char body[256], name[32];

	if (st == VD_HTTP_LOADING)
		return respond_text(c, MHD_HTTP_OK,
				    "ok: starting, loading the configuration\n");
	if (st == VD_HTTP_STOPPING)
		return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
	size_t nloops = atomic_load(&h->nloops);
	for (size_t i = 0; i < nloops; i++) {
		uint64_t t = atomic_load_explicit(&h->ticks[i], memory_order_relaxed);
		if (now > t && now - t > VD_HTTP_STUCK_MS) {
			loop_name(i, name, sizeof(name));
			snprintf(body, sizeof(body),
				 "stuck: %s has not run for %llu ms\n", name,
				 (unsigned long long)(now - t));
			return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
		}
	}
	snprintf(body, sizeof(body), "ok: %zu loops running\n", nloops);
	return respond_text(c, MHD_HTTP_OK, body);
}

static enum MHD_Result serve_metrics(vd_http_t *h, struct MHD_Connection *c)
{
	struct timespec until;
	enum MHD_Result rc;
	uint64_t seq;
	bool got;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += VD_HTTP_SCRAPE_WAIT_MS / 1000;
	until.tv_nsec += (long)(VD_HTTP_SCRAPE_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	seq = ++h->req_seq;
	if (h->attached)
		h->ops.want_metrics(h->ops.arg, seq);
	while (h->attached && h->done_seq < seq)
		if (pthread_cond_timedwait(&h->cond, &h->mu, &until) == ETIMEDOUT)
			break;
	got = h->done_seq >= seq && h->text != NULL;
	rc = got ? respond(c, MHD_HTTP_OK, CONTENT_PROM, h->text, h->len) : MHD_YES;
	pthread_mutex_unlock(&h->mu);
	if (!got)
		rc = respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "statistics not available: the main loop did not "
				  "answer\n");
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size,
				  void **con_cls)
{
	vd_http_t *h = cls;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	(void)version;
	(void)upload;
	(void)con_cls;
	/* Anything sent as a body is not read: the answer goes out at once
	 * and MHD closes the connection. */
	*upload_size = 0;
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/health") != 0 &&
	    strcmp(url, "/ready") != 0)
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!get)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed\n");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/health") == 0)
		return serve_health(h, c);
	return serve_ready(h, c);
}

/* libmicrohttpd's error logger: its format strings are its own. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	vd_log(VD_LOG_DEBUG, "http: %s", line);
}

static int start_one(vd_http_t *h, const vd_http_conf_t *conf, size_t i)
{
	const struct sockaddr *sa = (const struct sockaddr *)&conf->listen[i];
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	unsigned timeout_s = (conf->timeout_ms + 999) / 1000;
	char text[64];

	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd[i] = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->max_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VD_HTTP_REQUEST_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_END);
	vd_addr_fmt(sa, text, sizeof(text));
	if (h->mhd[i] == NULL) {
		vd_log(VD_LOG_ERR, "http: cannot listen on %s", text);
		return -EADDRNOTAVAIL;
	}
	h->nmhd++;
	vd_log(VD_LOG_INFO, "http: listening on %s (/metrics, /health, /ready)", text);
	return 0;
}

int vd_http_new(const vd_http_conf_t *conf, size_t loops, const vd_http_ops_t *ops,
		vd_http_t **out)
{
	vd_http_t *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	uint64_t now = vd_now_ms();
	int rc = -ENOMEM;

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->ticks = calloc(loops ? loops : 1, sizeof(*h->ticks));
	if (h->ticks == NULL) {
		free(h);
		return -ENOMEM;
	}
	h->max_loops = loops;
	atomic_init(&h->nloops, 0);
	for (size_t i = 0; i < loops; i++)
		atomic_init(&h->ticks[i], now);
	atomic_init(&h->state, VD_HTTP_LOADING);
	h->ops = *ops;
	h->attached = true;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; i < conf->nlisten; i++)
		if ((rc = start_one(h, conf, i)) != 0)
			goto fail;
	*out = h;
	return 0;
fail:
	vd_http_free(h);
	return rc;
}

void vd_http_detach(vd_http_t *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->attached = false;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

void vd_http_free(vd_http_t *h)
{
	if (h == NULL)
		return;
	vd_http_detach(h);
	for (size_t i = 0; i < h->nmhd; i++)
		MHD_stop_daemon(h->mhd[i]);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->mu);
	free(h->text);
	free(h->ticks);
	free(h);
}

void vd_http_set_state(vd_http_t *h, vd_http_state_t st, const char *reason)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
	/* The loops start ticking only now: a long first load is not a
	 * stuck loop. */
	if (st == VD_HTTP_READY && atomic_load(&h->state) == VD_HTTP_LOADING)
		for (size_t i = 0; i < h->max_loops; i++)
			atomic_store(&h->ticks[i], vd_now_ms());
	atomic_store(&h->state, (int)st);
	pthread_mutex_unlock(&h->mu);
}

void vd_http_set_loops(vd_http_t *h, size_t n)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->max_loops; i++)
		atomic_store(&h->ticks[i], vd_now_ms());
	atomic_store(&h->nloops, n < h->max_loops ? n : h->max_loops);
}

void vd_http_tick(vd_http_t *h, size_t loop)
{
	if (h != NULL && loop < h->max_loops)
		atomic_store_explicit(&h->ticks[loop], vd_now_ms(),
				      memory_order_relaxed);
}

void vd_http_tick_at(vd_http_t *h, size_t loop, uint64_t ms_ago)
{
	if (h != NULL && loop < h->max_loops)
		atomic_store_explicit(&h->ticks[loop], vd_now_ms() - ms_ago,
				      memory_order_relaxed);
}

void vd_http_put_metrics(vd_http_t *h, uint64_t seq, const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy != NULL) {
		memcpy(copy, text, len);
		copy[len] = '\0';
	}
	pthread_mutex_lock(&h->mu);
	if (copy != NULL) {
		free(h->text);
		h->text = copy;
		h->len = len;
		if (seq > h->done_seq)
			h->done_seq = seq;
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
}

uint16_t vd_http_port(const vd_http_t *h)
{
	const union MHD_DaemonInfo *i;

	if (h == NULL || h->nmhd == 0)
		return 0;
	i = MHD_get_daemon_info(h->mhd[0], MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}
