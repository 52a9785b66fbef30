/*
 * The HTTP listener on its own, with a raw socket client: NULL and bad
 * arguments, /ready in every state (503 with the reason but in READY),
 * /health 503 naming a loop whose tick is old, /metrics from the owner's
 * text, 503 when the owner never answers, 404 and 405.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vpcdns/http.h"

typedef struct owner {
	vd_http_t *h;
	unsigned asked;
} owner_t;

static void want(void *arg, uint64_t seq)
{
	owner_t *o = arg;
	/* A real owner answers later from its loop; this one never does. */
	o->asked++;
	(void)seq;
}

static vd_http_t *start(owner_t *o)
{
	vd_http_conf_t c;
	vd_http_ops_t ops = { .want_metrics = want, .arg = o };
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.listen[0];

	memset(&c, 0, sizeof(c));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = 0;
	c.nlisten = 1;
	c.max_connections = 4;
	c.timeout_ms = 2000;
	assert_int_equal(vd_http_new(&c, 3, &ops, &o->h), 0);
	assert_true(vd_http_port(o->h) != 0);
	return o->h;
}

/* "METHOD path" over a fresh connection: the status, body in body. */
static int get(vd_http_t *h, const char *method, const char *path, char *body,
	       size_t cap)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char req[256], resp[8192];
	size_t n = 0;
	ssize_t r;
	int fd, code = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(vd_http_port(h));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method,
		 path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n < sizeof(resp) - 1 &&
	       (r = read(fd, resp + n, sizeof(resp) - 1 - n)) > 0)
		n += (size_t)r;
	resp[n] = '\0';
	close(fd);
	sscanf(resp, "HTTP/1.1 %d", &code);
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(body, cap, "%s", b ? b + 4 : "");
	return code;
}

static void test_null(void **state)
{
	(void)state;
	vd_http_free(NULL);
	vd_http_detach(NULL);
	vd_http_set_state(NULL, VD_HTTP_READY, NULL);
	vd_http_tick(NULL, 0);
	assert_int_equal(vd_http_port(NULL), 0);
}

static void test_ready_states(void **state)
{
	owner_t o = { 0 };
	char body[512];

	(void)state;
	start(&o);
	assert_int_equal(get(o.h, "GET", "/ready", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "loading"));
	vd_http_set_loops(o.h, 3);
	vd_http_set_state(o.h, VD_HTTP_READY, "generation 1");
	assert_int_equal(get(o.h, "GET", "/ready", body, sizeof(body)), 200);
	assert_string_equal(body, "ready: generation 1\n");
	vd_http_set_state(o.h, VD_HTTP_DRAINING, "SIGTERM");
	assert_int_equal(get(o.h, "GET", "/ready", body, sizeof(body)), 503);
	assert_string_equal(body, "draining: SIGTERM\n");
	/* draining is not dead: health stays green */
	assert_int_equal(get(o.h, "GET", "/health", body, sizeof(body)), 200);
	vd_http_set_state(o.h, VD_HTTP_STOPPING, "shutting down");
	assert_int_equal(get(o.h, "GET", "/ready", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "stopping"));
	vd_http_free(o.h);
}

static void test_health_stuck(void **state)
{
	owner_t o = { 0 };
	char body[512];

	(void)state;
	start(&o);
	vd_http_set_loops(o.h, 3);
	vd_http_set_state(o.h, VD_HTTP_READY, NULL);
	assert_int_equal(get(o.h, "GET", "/health", body, sizeof(body)), 200);
	vd_http_tick_at(o.h, 2, VD_HTTP_STUCK_MS + 1000);
	assert_int_equal(get(o.h, "GET", "/health", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "worker 1"));
	vd_http_tick(o.h, 2);
	assert_int_equal(get(o.h, "GET", "/health", body, sizeof(body)), 200);
	vd_http_free(o.h);
}

static void test_routes(void **state)
{
	owner_t o = { 0 };
	char body[512];

	(void)state;
	start(&o);
	assert_int_equal(get(o.h, "GET", "/", body, sizeof(body)), 404);
	assert_int_equal(get(o.h, "GET", "/readyz", body, sizeof(body)), 404);
	assert_int_equal(get(o.h, "POST", "/metrics", body, sizeof(body)), 405);
	assert_int_equal(get(o.h, "PUT", "/ready", body, sizeof(body)), 405);
	vd_http_free(o.h);
}

static void test_metrics_text_and_timeout(void **state)
{
	owner_t o = { 0 };
	char body[512];

	(void)state;
	start(&o);
	/* The owner never answers: 503 after VD_HTTP_SCRAPE_WAIT_MS. */
	assert_int_equal(get(o.h, "GET", "/metrics", body, sizeof(body)), 503);
	assert_int_equal(o.asked, 1);
	/* An answer for a later scrape number serves the next scrape. */
	vd_http_put_metrics(o.h, 2, "x_total 1\n", 10);
	assert_int_equal(get(o.h, "GET", "/metrics", body, sizeof(body)), 200);
	assert_string_equal(body, "x_total 1\n");
	/* Detached: no call, 503 at once. */
	vd_http_detach(o.h);
	assert_int_equal(get(o.h, "GET", "/metrics", body, sizeof(body)), 503);
	assert_int_equal(o.asked, 2);
	vd_http_free(o.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_ready_states),
		cmocka_unit_test(test_health_stuck),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_metrics_text_and_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
