/*
 * ctl: the control channel. A Unix stream socket (server.control_socket,
 * mode 0660, never a network socket) served by the main loop: one request
 * line per connection, one response, then close. vpcdnsctl is its client.
 *
 * Protocol. The request is one line of printable ASCII, at most
 * VD_CTL_REQUEST_MAX bytes with its "\n": words separated by spaces,
 *
 *     [--json] COMMAND [ARGS...]
 *
 * (--json may stand anywhere). The response starts with a status line,
 * "ok" or "error", followed by the body: text, or one JSON object when
 * --json was given ({"ok": true, ...} or {"ok": false, "errors": [...]}).
 * Then the server closes the connection. A request that is not complete
 * within VD_CTL_READ_TIMEOUT_MS, too long, or not understood gets an
 * error response; at most VD_CTL_MAX_CONNECTIONS connections are served
 * at once, later ones get an error response at once.
 *
 * The parser (vd_ctl_parse) and the response writers are pure functions,
 * shared with vpcdnsctl. The server reaches the daemon only through
 * vd_ctl_ops_t, which the daemon implements (ctl sits below daemon and
 * does not link it; it uses daemon.h for the types of the results only).
 *
 * Threading: everything runs on the loop given to vd_ctl_new.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/conf.h"
#include "vpcdns/daemon.h"
#include "vpcdns/wire.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct vd_ctl vd_ctl_t;

#define VD_CTL_REQUEST_MAX 4096	    /* bytes, with the final newline */
#define VD_CTL_READ_TIMEOUT_MS 5000 /* to receive the whole request */
#define VD_CTL_MAX_CONNECTIONS 16   /* served at once */
#define VD_CTL_SOCKET_MODE 0660	    /* owner and group may connect */

/* ---- requests ----------------------------------------------------------- */

/* The commands. A new one is an entry here, a line in parse.c's table
 * (name, arguments) and a handler in ctl.c's table. */
typedef enum vd_ctl_cmd {
	VD_CTL_RELOAD,
	VD_CTL_STATUS,
	VD_CTL_STATS,
	VD_CTL_FLUSH,
	VD_CTL_FLUSH_ALL,
	VD_CTL_VIEWS,
	VD_CTL_EXPLAIN,
	VD_CTL_NCMDS
} vd_ctl_cmd_t;

typedef struct vd_ctl_req {
	vd_ctl_cmd_t cmd;
	bool json;
	/* flush, explain: the name as given ("." for the root), its wire form
	 * and its lower-cased wire form */
	char name_text[VD_NAME_TEXT];
	uint8_t name[VD_NAME_MAX];
	uint8_t name_lc[VD_NAME_MAX];
	/* explain: the type asked about (0: none given, A is meant) and the
	 * question the client would send: "_<type>.<name>" or "<name>" */
	uint16_t qtype;
	uint8_t qname[VD_NAME_MAX];
	struct sockaddr_storage client; /* explain --client, port 0 */
} vd_ctl_req_t;

/* Parses one request line (line[0..len), with or without its newline).
 * Returns 0 and fills req, or -EINVAL with a one-line reason in err
 * (errlen bytes): unknown command, wrong number of arguments, a bad name,
 * type or address, a control character or a byte outside ASCII, a line
 * longer than VD_CTL_REQUEST_MAX. */
int vd_ctl_parse(const char *line, size_t len, vd_ctl_req_t *req, char *err,
		 size_t errlen);
/* The command's name ("flush-all"), or NULL. */
const char *vd_ctl_cmd_name(vd_ctl_cmd_t cmd);
/* One line per command with its arguments, for usage messages. */
const char *vd_ctl_usage(void);
/* The explain type label for a type ("AAAA"), or NULL when explain cannot
 * name it. */
const char *vd_ctl_type_name(uint16_t type);

/* ---- responses ---------------------------------------------------------- */

/* A growing text buffer (malloc'd; a failed allocation is sticky). */
typedef struct vd_ctl_buf {
	char *p;
	size_t len, cap;
	bool nomem;
} vd_ctl_buf_t;

void vd_ctl_buf_printf(vd_ctl_buf_t *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vd_ctl_buf_free(vd_ctl_buf_t *b);

/* Each writer appends a whole response (status line and body, text or
 * JSON as json says) to out. now is the Unix time in seconds. */
void vd_ctl_write_error(vd_ctl_buf_t *out, bool json, const char *msg);
void vd_ctl_write_reload(vd_ctl_buf_t *out, bool json,
			 const vd_daemon_reload_result_t *r);
void vd_ctl_write_status(vd_ctl_buf_t *out, bool json, const vd_daemon_status_t *st,
			 uint64_t now);
void vd_ctl_write_stats(vd_ctl_buf_t *out, bool json, const vd_worker_stats_t *w,
			size_t n);
void vd_ctl_write_flush(vd_ctl_buf_t *out, const vd_ctl_req_t *req, int rc,
			uint64_t removed, size_t answered, size_t workers);
void vd_ctl_write_views(vd_ctl_buf_t *out, bool json, const vd_snap_t *snap);
/* The explain reply (a DNS message, as vd_query_explain writes it) as one
 * line per TXT record. */
void vd_ctl_write_explain(vd_ctl_buf_t *out, const vd_ctl_req_t *req,
			  const vd_snap_t *snap, const uint8_t *reply, size_t len);

/* ---- the server --------------------------------------------------------- */

/* What the server asks of the daemon; every call on the server's loop.
 * Results come through the callbacks, possibly after the call returned. */
typedef struct vd_ctl_ops {
	void *arg; /* passed first to each */
	int (*reload)(void *arg, vd_daemon_reload_cb cb, void *cb_arg);
	void (*status)(void *arg, vd_daemon_status_t *out);
	int (*collect_stats)(void *arg, vd_daemon_stats_cb cb, void *cb_arg);
	int (*flush)(void *arg, const uint8_t *name_lc, vd_daemon_flush_cb cb,
		     void *cb_arg);
	vd_snap_t *(*snap)(void *arg); /* a reference the caller drops */
} vd_ctl_ops_t;

/* Serves path on loop. A socket file left by a process that is gone is
 * replaced; a live one (something accepts connections on it) is
 * -EADDRINUSE, a file that is not a socket -EEXIST; other failures are
 * -errno or libuv's codes. ops is copied. */
int vd_ctl_new(uv_loop_t *loop, const char *path, const vd_ctl_ops_t *ops,
	       vd_ctl_t **out);
/* Stops accepting, closes idle connections and removes the socket file
 * (if it is still the one this server made). Connections waiting for a
 * result get it (the daemon answers every waiter, with -ESHUTDOWN when
 * stopping) and are closed after their response; the server frees itself
 * after the last one. NULL does nothing. */
void vd_ctl_close(vd_ctl_t *c);
