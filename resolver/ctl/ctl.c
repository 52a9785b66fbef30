/*
 * The control socket on the main loop: accept, read one request line
 * (bounded in size and time), run its command through the daemon's ops,
 * write one response, close. Commands whose result comes later (reload,
 * stats, flush) keep their connection until the daemon calls back; the
 * daemon calls back every waiter, also when it stops, so no connection
 * is left behind.
 */
#include "vpcdns/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "vpcdns/query.h"
#include "vpcdns/util.h"

typedef enum { C_READING, C_WORKING, C_WRITING, C_DRAINING, C_CLOSING } cstate_t;

typedef struct conn {
	struct conn *prev, *next;
	vd_ctl_t *ctl;
	uv_pipe_t pipe;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t shut;
	cstate_t state;
	bool counted; /* in ctl->nconns */
	int open_handles;
	size_t len;
	char buf[VD_CTL_REQUEST_MAX + 1];
	vd_ctl_req_t req;
	vd_ctl_buf_t out;
} conn_t;

struct vd_ctl {
	uv_loop_t *loop;
	vd_ctl_ops_t ops;
	uv_pipe_t listener;
	char *path;
	dev_t dev; /* the socket file this server made */
	ino_t ino;
	bool closing, listener_open;
	conn_t *conns;
	size_t nconns; /* served now, rejected ones not counted */
};

/* ---- lifetime ----------------------------------------------------------- */

static void ctl_maybe_free(vd_ctl_t *c)
{
	if (!c->closing || c->listener_open || c->conns != NULL)
		return;
	free(c->path);
	free(c);
}

static void conn_handle_closed(uv_handle_t *h)
{
	conn_t *k = h->data;
	vd_ctl_t *c = k->ctl;

	if (--k->open_handles > 0)
		return;
	if (k->prev)
		k->prev->next = k->next;
	else
		c->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	vd_ctl_buf_free(&k->out);
	free(k);
	ctl_maybe_free(c);
}

static void conn_close(conn_t *k)
{
	if (k->state == C_CLOSING)
		return;
	k->state = C_CLOSING;
	if (k->counted) {
		k->counted = false;
		k->ctl->nconns--;
	}
	uv_close((uv_handle_t *)&k->pipe, conn_handle_closed);
	uv_close((uv_handle_t *)&k->timer, conn_handle_closed);
}

static void on_drain_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* After the response: end our side, then read (and drop) whatever the
 * client still sends until it closes, so that unread bytes of a refused
 * request do not turn the close into a reset that loses the response. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	conn_t *k = req->data;

	if (k->state == C_CLOSING)
		return;
	if (status != 0) {
		conn_close(k);
		return;
	}
	k->state = C_DRAINING;
	k->len = 0;
	uv_timer_start(&k->timer, on_drain_timeout, VD_CTL_READ_TIMEOUT_MS, 0);
	if (uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read) != 0)
		conn_close(k);
}

static void on_written(uv_write_t *wr, int status)
{
	conn_t *k = wr->data;

	if (status != 0 || k->state == C_CLOSING) {
		conn_close(k); /* a client that went away misses its answer */
		return;
	}
	k->shut.data = k;
	if (uv_shutdown(&k->shut, (uv_stream_t *)&k->pipe, on_shutdown) != 0)
		conn_close(k);
}

/* Sends k->out and closes after it. */
static void conn_send(conn_t *k)
{
	if (k->state == C_CLOSING)
		return;
	if (k->out.nomem || k->out.len == 0) {
		vd_ctl_buf_free(&k->out);
		vd_ctl_buf_printf(&k->out, "error\nout of memory\n");
	}
	if (k->out.nomem) {
		conn_close(k);
		return;
	}
	uv_buf_t b = uv_buf_init(k->out.p, (unsigned)k->out.len);
	k->state = C_WRITING;
	k->wr.data = k;
	/* A client that does not read its answer is closed like a silent
	 * one: its pending write would otherwise hold a slot, and the main
	 * loop at stop, for ever. */
	uv_timer_start(&k->timer, on_drain_timeout, VD_CTL_READ_TIMEOUT_MS, 0);
	if (uv_write(&k->wr, (uv_stream_t *)&k->pipe, &b, 1, on_written) != 0)
		conn_close(k);
}

static void conn_error(conn_t *k, const char *msg)
{
	vd_ctl_write_error(&k->out, k->req.json, msg);
	conn_send(k);
}

/* ---- commands ----------------------------------------------------------- */

static void on_reload(void *arg, const vd_daemon_reload_result_t *r)
{
	conn_t *k = arg;
	vd_ctl_write_reload(&k->out, k->req.json, r);
	conn_send(k);
}

static void on_stats(void *arg, const vd_worker_stats_t *w, size_t n)
{
	conn_t *k = arg;
	vd_ctl_write_stats(&k->out, k->req.json, w, n);
	conn_send(k);
}

static void on_flush(void *arg, int rc, uint64_t removed, size_t answered,
		     size_t workers)
{
	conn_t *k = arg;
	vd_ctl_write_flush(&k->out, &k->req, rc, removed, answered, workers);
	conn_send(k);
}

/* A command that answers later: rc is what the ops call returned. */
static void waiting(conn_t *k, int rc)
{
	if (rc != 0)
		conn_error(k,
			   rc == -ESHUTDOWN ? "vpcdns is stopping" : vd_strerror(rc));
}

static void cmd_reload(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	waiting(k, c->ops.reload(c->ops.arg, on_reload, k));
}

static void cmd_stats(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	waiting(k, c->ops.collect_stats(c->ops.arg, on_stats, k));
}

static void cmd_flush(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	const uint8_t *name = k->req.cmd == VD_CTL_FLUSH ? k->req.name_lc : NULL;
	waiting(k, c->ops.flush(c->ops.arg, name, on_flush, k));
}

static void cmd_status(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	vd_daemon_status_t st;

	c->ops.status(c->ops.arg, &st);
	vd_ctl_write_status(&k->out, k->req.json, &st, (uint64_t)time(NULL));
	conn_send(k);
}

static void cmd_views(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	vd_snap_t *snap = c->ops.snap(c->ops.arg);

	vd_ctl_write_views(&k->out, k->req.json, snap);
	vd_snap_unref(snap);
	conn_send(k);
}

static void cmd_explain(conn_t *k)
{
	vd_ctl_t *c = k->ctl;
	vd_snap_t *snap = c->ops.snap(c->ops.arg);
	uint8_t *reply = malloc(UINT16_MAX);
	size_t len = 0;
	char addr[64], msg[160];
	int rc = reply ? vd_query_explain(snap, (const struct sockaddr *)&k->req.client,
					  k->req.qname, reply, UINT16_MAX, &len)
		       : -ENOMEM;

	if (rc == 0) {
		vd_ctl_write_explain(&k->out, &k->req, snap, reply, len);
	} else if (rc == VD_ENOTFOUND) {
		vd_addr_fmt((const struct sockaddr *)&k->req.client, addr,
			    sizeof(addr));
		*strrchr(addr, ':') = '\0';
		snprintf(msg, sizeof(msg),
			 "client %s is in no view: its queries are REFUSED", addr);
		vd_ctl_write_error(&k->out, k->req.json, msg);
	} else {
		vd_ctl_write_error(&k->out, k->req.json, vd_strerror(rc));
	}
	free(reply);
	vd_snap_unref(snap);
	conn_send(k);
}

/* Indexed by vd_ctl_cmd_t. */
static void (*const handlers[VD_CTL_NCMDS])(conn_t *k) = {
	[VD_CTL_RELOAD] = cmd_reload,	[VD_CTL_STATUS] = cmd_status,
	[VD_CTL_STATS] = cmd_stats,	[VD_CTL_FLUSH] = cmd_flush,
	[VD_CTL_FLUSH_ALL] = cmd_flush, [VD_CTL_VIEWS] = cmd_views,
	[VD_CTL_EXPLAIN] = cmd_explain,
};

/* ---- reading the request ------------------------------------------------ */

static void run_request(conn_t *k, size_t len)
{
	char err[256];

	uv_read_stop((uv_stream_t *)&k->pipe);
	uv_timer_stop(&k->timer);
	k->state = C_WORKING;
	if (vd_ctl_parse(k->buf, len, &k->req, err, sizeof(err)) != 0) {
		/* Answer in JSON when the line asked for it, even if it is
		 * otherwise bad. */
		k->req.json = strstr(k->buf, "--json") != NULL;
		conn_error(k, err);
		return;
	}
	handlers[k->req.cmd](k);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	conn_t *k = h->data;
	(void)hint;
	b->base = k->buf + k->len;
	b->len = sizeof(k->buf) - 1 - k->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	conn_t *k = s->data;
	char *nl;
	(void)b;

	if (k->state == C_DRAINING) {
		k->len = 0;
		if (n < 0)
			conn_close(k);
		return;
	}
	if (k->state != C_READING)
		return;
	if (n == UV_EOF && k->len > 0) {
		k->buf[k->len] = '\0';
		run_request(k, k->len);
		return;
	}
	if (n < 0) {
		conn_close(k);
		return;
	}
	k->len += (size_t)n;
	k->buf[k->len] = '\0';
	nl = memchr(k->buf, '\n', k->len);
	if (nl != NULL) {
		*nl = '\0';
		run_request(k, (size_t)(nl - k->buf));
	} else if (k->len >= sizeof(k->buf) - 1) {
		uv_read_stop(s);
		k->state = C_WORKING;
		snprintf(k->buf, sizeof(k->buf), "request longer than %d bytes",
			 VD_CTL_REQUEST_MAX);
		conn_error(k, k->buf);
	}
}

static void on_read_timeout(uv_timer_t *t)
{
	conn_t *k = t->data;

	if (k->state != C_READING)
		return;
	uv_read_stop((uv_stream_t *)&k->pipe);
	k->state = C_WORKING;
	conn_error(k, "no complete request line in time");
}

/* ---- accepting ---------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
	vd_ctl_t *c = server->data;
	conn_t *k;

	if (status != 0 || c->closing)
		return;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return; /* stays in the backlog until memory returns */
	k->ctl = c;
	uv_pipe_init(c->loop, &k->pipe, 0);
	uv_timer_init(c->loop, &k->timer);
	k->pipe.data = k->timer.data = k;
	k->open_handles = 2;
	k->next = c->conns;
	if (c->conns)
		c->conns->prev = k;
	c->conns = k;
	if (uv_accept(server, (uv_stream_t *)&k->pipe) != 0) {
		conn_close(k);
		return;
	}
	if (c->nconns >= VD_CTL_MAX_CONNECTIONS) {
		char msg[80];
		k->state = C_WORKING;
		snprintf(msg, sizeof(msg), "too many control connections (at most %d)",
			 VD_CTL_MAX_CONNECTIONS);
		conn_error(k, msg);
		return;
	}
	k->state = C_READING;
	k->counted = true;
	c->nconns++;
	uv_timer_start(&k->timer, on_read_timeout, VD_CTL_READ_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
}

/* ---- the socket file ---------------------------------------------------- */

/* Whether something accepts connections on path now. */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return alive;
}

/* Makes room for the socket: a stale one goes, a live one or another kind
 * of file stays (and is an error). */
static int clear_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (socket_alive(path))
		return -EADDRINUSE;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* libuv reports a missing folder as EACCES when binding; say what it is. */
static int parent_exists(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (stat(dir, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void listener_closed(uv_handle_t *h)
{
	vd_ctl_t *c = h->data;
	c->listener_open = false;
	ctl_maybe_free(c);
}

int vd_ctl_new(uv_loop_t *loop, const char *path, const vd_ctl_ops_t *ops,
	       vd_ctl_t **out)
{
	vd_ctl_t *c = calloc(1, sizeof(*c));
	struct stat st;
	int rc;

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->loop = loop;
	c->ops = *ops;
	c->path = strdup(path);
	if (c->path == NULL) {
		free(c);
		return -ENOMEM;
	}
	rc = clear_path(path);
	if (rc == 0)
		rc = parent_exists(path);
	if (rc != 0)
		goto fail;
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	c->listener_open = true;
	rc = uv_pipe_bind(&c->listener, path);
	if (rc == 0 && chmod(path, VD_CTL_SOCKET_MODE) != 0)
		rc = -errno;
	if (rc == 0 && stat(path, &st) != 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&c->listener, 16, on_connection);
	if (rc != 0) {
		if (rc != UV_EADDRINUSE)
			unlink(path);
		/* The handle is closed on the loop; c goes with it. */
		c->closing = true;
		uv_close((uv_handle_t *)&c->listener, listener_closed);
		return rc;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	*out = c;
	return 0;
fail:
	free(c->path);
	free(c);
	return rc;
}

void vd_ctl_close(vd_ctl_t *c)
{
	struct stat st;
	conn_t *k, *next;

	if (c == NULL || c->closing)
		return;
	c->closing = true;
	/* Only our own file: a newer server may have replaced it. */
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	uv_close((uv_handle_t *)&c->listener, listener_closed);
	for (k = c->conns; k != NULL; k = next) {
		next = k->next;
		if (k->state == C_READING || k->state == C_WRITING ||
		    k->state == C_DRAINING)
			conn_close(k);
	}
}
