/*
 * The "server" section: listen addresses, identity and version texts, the
 * zone directory, TCP limits (connections, per client, idle and I/O
 * timeouts), the upstream timeouts and in-flight bound, the bounds on
 * client queries waiting for upstream answers, the CA bundle for TLS
 * upstreams, the log level and the zone file size limit. The
 * zone directory is resolved here, before the views are read, because
 * every relative zone path depends on it; when it is unusable the error is
 * reported once and relative zone paths are skipped rather than each
 * reported again. The CA bundle is read here too, so a file without a
 * single certificate fails the load instead of every TLS handshake.
 */
#include "conf_int.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#ifndef VD_VERSION
#define VD_DEFAULT_VERSION "vpcdns"
#else
#define VD_DEFAULT_VERSION "vpcdns " VD_VERSION
#endif

static const char *const server_keys[] = {
	"listen",
	"identity",
	"hide_version",
	"version",
	"loop_check",
	"directory",
	"tcp_idle_timeout",
	"tcp_max_connections",
	"tcp_max_connections_per_client",
	"tcp_io_timeout",
	"upstream_timeout",
	"query_timeout",
	"upstream_max_inflight",
	"max_pending",
	"max_pending_per_fetch",
	"tls_ca_file",
	"workers",
	"log_level",
	"log",
	"zone_file_max_size",
	"control_socket",
	"state_dir",
	"watch_zones",
	"user",
	"group",
	"lameduck",
	"shutdown_timeout",
	"rate_limit",
	"cookie_secret",
	NULL,
};

static void set_defaults(cbuild_t *b)
{
	vd_server_conf_t *s = &b->snap->server;
	char host[HOST_NAME_MAX + 1];

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		strcpy(host, "vpcdns");
	host[sizeof(host) - 1] = '\0';
	s->identity = vd_arena_strdup(b->a, host);
	s->version = VD_DEFAULT_VERSION;
	s->hide_version = false;
	s->loop_check = true;
	s->tcp_idle_timeout_ms = 10000;
	s->tcp_max_connections = 1000;
	s->tcp_max_connections_per_client = 100;
	s->tcp_io_timeout_ms = 2000;
	s->upstream_timeout_ms = 1500;
	s->query_timeout_ms = 3000;
	s->upstream_max_inflight = 1000;
	s->max_pending = 4096;
	s->max_pending_per_fetch = 256;
	s->workers = 1;
	s->zone_file_max_size = VD_ZONE_FILE_MAX_SIZE;
	s->tls_ca_file = NULL;
	s->log_level = VD_LOG_INFO;
	s->control_socket = VD_CONTROL_SOCKET;
	s->lameduck_ms = 0;
	s->shutdown_timeout_ms = 3000;
	s->watch_zones = true;
	if (!s->identity)
		vd_conf_nomem(b);
}

static void listen_item(cbuild_t *b, const ynode_t *list, size_t i)
{
	vd_server_conf_t *s = &b->snap->server;
	const ynode_t *item = list->items[i];
	struct sockaddr_storage *ss = &s->listen[s->nlisten];

	if (vd_addr_parse(item->str, VD_DEFAULT_PORT, ss) < 0) {
		vd_conf_err(b, item->line, "server.listen: bad address '%s'",
			    item->str);
		return;
	}
	/* Items that failed to parse left no entry, so search the text. */
	for (size_t j = 0; j < i; j++) {
		struct sockaddr_storage other;

		if (vd_addr_parse(list->items[j]->str, VD_DEFAULT_PORT, &other) < 0)
			continue;
		if (vd_addr_equal((struct sockaddr *)ss, (struct sockaddr *)&other)) {
			vd_conf_err(b, item->line,
				    "server.listen: duplicate address '%s' (first at "
				    "line %lu)",
				    item->str, list->items[j]->line);
			return;
		}
	}
	s->nlisten++;
}

static void build_listen(cbuild_t *b, const yn_pair_t *p)
{
	vd_server_conf_t *s = &b->snap->server;
	const ynode_t *list = p->val;

	if (!vd_conf_is_string_list(list)) {
		vd_conf_err(b, p->key->line, "server.listen must be a list of strings");
		return;
	}
	if (list->n == 0) {
		vd_conf_err(b, p->key->line, "server.listen must not be empty");
		return;
	}
	s->listen = vd_arena_alloc(b->a, list->n * sizeof(*s->listen));
	if (!s->listen) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; i < list->n; i++)
		listen_item(b, list, i);
}

static void build_log_level(cbuild_t *b, const yn_pair_t *p)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };
	const char *s;

	if (vd_conf_string(b, p, "server.log_level", &s) < 0)
		return;
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			b->snap->server.log_level = (vd_log_level_t)i;
			return;
		}
	}
	vd_conf_err(b, p->val->line,
		    "server.log_level: bad level '%s' (err, warn, info or debug)", s);
}

/* Where log lines go: standard error (with <N> priority prefixes under
 * systemd, see util/log.c) or syslog(3). */
static void build_log_dest(cbuild_t *b, const yn_pair_t *p)
{
	const char *s;

	if (vd_conf_string(b, p, "server.log", &s) < 0)
		return;
	if (strcmp(s, "stderr") == 0)
		b->snap->server.log_dest = VD_LOG_TO_STDERR;
	else if (strcmp(s, "syslog") == 0)
		b->snap->server.log_dest = VD_LOG_TO_SYSLOG;
	else
		vd_conf_err(b, p->val->line,
			    "server.log: bad value '%s' (stderr or syslog)", s);
}

static char *join_path(const char *base, const char *rel)
{
	char *out;

	if (rel[0] == '/')
		return strdup(rel);
	if (asprintf(&out, "%s/%s", base, rel) < 0)
		return NULL;
	return out;
}

static void build_directory_path(cbuild_t *b, const yn_pair_t *p);

/* Without p the zone directory is the config file's folder. */
static void build_directory(cbuild_t *b, const yn_pair_t *p)
{
	build_directory_path(b, p);
	if (b->zonedir) {
		b->snap->server.directory = vd_arena_strdup(b->a, b->zonedir);
		if (!b->snap->server.directory)
			vd_conf_nomem(b);
	}
}

/* The folder p names (relative to the configuration file's folder),
 * resolved, malloc'd; NULL with the error reported ("what: cannot use
 * 'x': reason") when it is not a folder. */
static char *folder_of(cbuild_t *b, const yn_pair_t *p, const char *what)
{
	const char *dir;
	struct stat st;
	char *joined, *real;
	int err = 0;

	if (vd_conf_string(b, p, what, &dir) < 0)
		return NULL;
	joined = join_path(b->confdir, dir);
	if (!joined) {
		vd_conf_nomem(b);
		return NULL;
	}
	real = realpath(joined, NULL);
	if (!real)
		err = errno;
	else if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		err = ENOTDIR;
	if (err == ENOMEM)
		vd_conf_nomem(b);
	else if (err)
		vd_conf_err(b, p->val->line, "%s: cannot use '%s': %s", what, dir,
			    vd_strerror(-err));
	if (err) {
		free(real);
		real = NULL;
	}
	free(joined);
	return real;
}

/* Only read and written when the daemon keeps its zone image there. */
static void build_state_dir(cbuild_t *b, const yn_pair_t *p)
{
	char *real = folder_of(b, p, "server.state_dir");

	if (real && !(b->snap->server.state_dir = vd_arena_strdup(b->a, real)))
		vd_conf_nomem(b);
	free(real);
}

static void build_directory_path(cbuild_t *b, const yn_pair_t *p)
{
	if (!p) {
		b->zonedir = strdup(b->confdir);
		if (!b->zonedir)
			vd_conf_nomem(b);
		return;
	}
	b->zonedir = folder_of(b, p, "server.directory");
}

/* Whether the file holds at least one PEM certificate; -errno when it
 * cannot be opened. */
static int ca_file_check(const char *path, bool *has_cert)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	if (!fp)
		return -errno;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	*has_cert = x != NULL;
	X509_free(x);
	fclose(fp);
	return 0;
}

/* Relative to the configuration file's folder, like "directory". */
static void build_ca_file(cbuild_t *b, const yn_pair_t *p)
{
	const char *path;
	char *joined;
	bool has_cert = false;
	int err;

	if (vd_conf_string(b, p, "server.tls_ca_file", &path) < 0)
		return;
	joined = join_path(b->confdir, path);
	if (!joined) {
		vd_conf_nomem(b);
		return;
	}
	err = ca_file_check(joined, &has_cert);
	if (err < 0)
		vd_conf_err(b, p->val->line, "server.tls_ca_file: cannot read '%s': %s",
			    path, vd_strerror(err));
	else if (!has_cert)
		vd_conf_err(b, p->val->line,
			    "server.tls_ca_file: no PEM certificate in '%s'", path);
	else if (!(b->snap->server.tls_ca_file = vd_arena_strdup(b->a, joined)))
		vd_conf_nomem(b);
	free(joined);
}

/* A string that outlives the YAML tree: copied into the snapshot. At most
 * 255 bytes: both texts are answered as one TXT character-string. */
static void keep_string(cbuild_t *b, const yn_pair_t *p, const char *what,
			const char **out)
{
	const char *s;

	if (vd_conf_string(b, p, what, &s) < 0)
		return;
	if (p->val->len > 255) {
		vd_conf_err(b, p->val->line, "%s must be at most 255 characters", what);
		return;
	}
	*out = vd_arena_strdup(b->a, s);
	if (!*out)
		vd_conf_nomem(b);
}

/* Each worker is a thread with its own loop, listeners (SO_REUSEPORT),
 * upstream sockets and cache. */
static void build_workers(cbuild_t *b, const yn_pair_t *p)
{
	uint32_t n = 0;

	if (vd_conf_uint(b, p, "server.workers", &n) < 0)
		return;
	if (n > 256) {
		vd_conf_err(b, p->val->line, "server.workers must be at most 256");
		return;
	}
	b->snap->server.workers = n;
}

/* The largest zone file read; each file's size is checked before it is
 * parsed, so one huge file cannot make a reload eat the memory. */
static void build_zone_file_max_size(cbuild_t *b, const yn_pair_t *p)
{
	uint64_t n = 0;

	if (vd_conf_size(b, p, "server.zone_file_max_size", 64ull << 30, &n) < 0)
		return;
	if (n == 0) {
		vd_conf_err(b, p->val->line, "server.zone_file_max_size must be > 0");
		return;
	}
	b->snap->server.zone_file_max_size = n;
}

/* The control channel's Unix socket: an absolute path that fits a
 * sockaddr_un, or "" for no control channel. */
static void build_control_socket(cbuild_t *b, const yn_pair_t *p)
{
	vd_server_conf_t *s = &b->snap->server;
	const char *path;

	if (vd_conf_string(b, p, "server.control_socket", &path) < 0)
		return;
	if (path[0] != '\0' && path[0] != '/') {
		vd_conf_err(b, p->val->line,
			    "server.control_socket must be an absolute path or \"\"");
		return;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		vd_conf_err(b, p->val->line,
			    "server.control_socket must be at most %zu characters",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return;
	}
	s->control_socket = vd_arena_strdup(b->a, path);
	s->control_socket_set = true;
	if (!s->control_socket)
		vd_conf_nomem(b);
}

/* server.user and server.group must name an account of this system
 * (looked up as the daemon will at start), so that --check catches a typo
 * before a restart does. */
static void build_account(cbuild_t *b, const yn_pair_t *p, bool group, const char **out)
{
	const char *what = group ? "server.group" : "server.user";
	const char *name;
	char buf[4096];
	int rc;

	if (vd_conf_string(b, p, what, &name) < 0)
		return;
	if (group) {
		struct group gr, *res = NULL;
		rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
		rc = rc ? rc : res ? 0 : ENOENT;
	} else {
		struct passwd pw, *res = NULL;
		rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
		rc = rc ? rc : res ? 0 : ENOENT;
	}
	if (rc == ENOENT) {
		vd_conf_err(b, p->val->line, "%s: no such %s '%s'", what,
			    group ? "group" : "user", name);
		return;
	}
	if (rc != 0) {
		vd_conf_err(b, p->val->line, "%s: cannot look up '%s': %s", what, name,
			    vd_strerror(-rc));
		return;
	}
	*out = vd_arena_strdup(b->a, name);
	if (!*out)
		vd_conf_nomem(b);
}

/* A duration, or 0 for none (server.lameduck). */
static void duration_or_zero(cbuild_t *b, const yn_pair_t *p, const char *what,
			     uint32_t *ms)
{
	if (p->val->kind == YN_SCALAR && p->val->str &&
	    (strcmp(p->val->str, "0") == 0 || strcmp(p->val->str, "0s") == 0)) {
		*ms = 0;
		return;
	}
	vd_conf_duration(b, p, what, ms);
}

static void server_pair(cbuild_t *b, const yn_pair_t *p)
{
	vd_server_conf_t *s = &b->snap->server;
	const char *k = p->key->str;

	if (strcmp(k, "listen") == 0)
		build_listen(b, p);
	else if (strcmp(k, "identity") == 0)
		keep_string(b, p, "server.identity", &s->identity);
	else if (strcmp(k, "hide_version") == 0)
		vd_conf_bool(b, p, "server.hide_version", &s->hide_version);
	else if (strcmp(k, "loop_check") == 0)
		vd_conf_bool(b, p, "server.loop_check", &s->loop_check);
	else if (strcmp(k, "version") == 0)
		keep_string(b, p, "server.version", &s->version);
	else if (strcmp(k, "tcp_idle_timeout") == 0)
		vd_conf_duration(b, p, "server.tcp_idle_timeout",
				 &s->tcp_idle_timeout_ms);
	else if (strcmp(k, "tcp_max_connections") == 0)
		vd_conf_uint(b, p, "server.tcp_max_connections",
			     &s->tcp_max_connections);
	else if (strcmp(k, "tcp_max_connections_per_client") == 0)
		vd_conf_uint(b, p, "server.tcp_max_connections_per_client",
			     &s->tcp_max_connections_per_client);
	else if (strcmp(k, "tcp_io_timeout") == 0)
		vd_conf_duration(b, p, "server.tcp_io_timeout", &s->tcp_io_timeout_ms);
	else if (strcmp(k, "upstream_timeout") == 0)
		vd_conf_duration(b, p, "server.upstream_timeout",
				 &s->upstream_timeout_ms);
	else if (strcmp(k, "query_timeout") == 0)
		vd_conf_duration(b, p, "server.query_timeout", &s->query_timeout_ms);
	else if (strcmp(k, "workers") == 0)
		build_workers(b, p);
	else if (strcmp(k, "upstream_max_inflight") == 0)
		vd_conf_uint(b, p, "server.upstream_max_inflight",
			     &s->upstream_max_inflight);
	else if (strcmp(k, "max_pending") == 0)
		vd_conf_uint(b, p, "server.max_pending", &s->max_pending);
	else if (strcmp(k, "max_pending_per_fetch") == 0)
		vd_conf_uint(b, p, "server.max_pending_per_fetch",
			     &s->max_pending_per_fetch);
	else if (strcmp(k, "tls_ca_file") == 0)
		build_ca_file(b, p);
	else if (strcmp(k, "log_level") == 0)
		build_log_level(b, p);
	else if (strcmp(k, "log") == 0)
		build_log_dest(b, p);
	else if (strcmp(k, "zone_file_max_size") == 0)
		build_zone_file_max_size(b, p);
	else if (strcmp(k, "control_socket") == 0)
		build_control_socket(b, p);
	else if (strcmp(k, "state_dir") == 0)
		build_state_dir(b, p);
	else if (strcmp(k, "watch_zones") == 0)
		vd_conf_bool(b, p, "server.watch_zones", &s->watch_zones);
	else if (strcmp(k, "user") == 0)
		build_account(b, p, false, &s->user);
	else if (strcmp(k, "group") == 0)
		build_account(b, p, true, &s->group);
	else if (strcmp(k, "lameduck") == 0)
		duration_or_zero(b, p, "server.lameduck", &s->lameduck_ms);
	else if (strcmp(k, "shutdown_timeout") == 0)
		vd_conf_duration(b, p, "server.shutdown_timeout",
				 &s->shutdown_timeout_ms);
	else if (strcmp(k, "cookie_secret") == 0)
		vd_conf_server_cookie_secret(b, p);
}

void vd_conf_build_server(cbuild_t *b, const ynode_t *root)
{
	const yn_pair_t *sp = NULL, *dp = NULL, *rp = NULL;
	const ynode_t *s;

	set_defaults(b);
	vd_conf_yaml_get(vd_conf_yaml_get(root, "server", NULL), "rate_limit", &rp);
	vd_conf_server_rate_limit(b, rp);
	s = vd_conf_yaml_get(root, "server", &sp);
	if (!s) {
		vd_conf_err(b, root->line, "missing required key 'server'");
		build_directory(b, NULL);
		return;
	}
	if (s->kind != YN_MAP) {
		vd_conf_err(b, sp->key->line, "server must be a map");
		build_directory(b, NULL);
		return;
	}
	vd_conf_check_keys(b, s, server_keys, "server");
	for (size_t i = 0; i < s->n; i++)
		server_pair(b, &s->pairs[i]);
	if (!vd_conf_yaml_get(s, "listen", NULL))
		vd_conf_err(b, sp->key->line,
			    "missing required key 'listen' in server");
	vd_conf_yaml_get(s, "directory", &dp);
	build_directory(b, dp);
	if (b->snap->server.group && !b->snap->server.user) {
		const yn_pair_t *gp = NULL;
		vd_conf_yaml_get(s, "group", &gp);
		vd_conf_err(b, gp->key->line, "server.group needs server.user");
	}
}
