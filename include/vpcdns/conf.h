/*
 * conf: reads the YAML configuration (libyaml, with line numbers), validates
 * it completely, loads every zone it names and builds one immutable
 * snapshot: server settings, upstream groups, views with their zones and
 * forward rules, and the client-address -> view table. A reload builds a
 * new snapshot and swaps a pointer; nothing in a snapshot changes after
 * vd_conf_load returns. conf parses and builds (views through view.h's
 * builder functions); it answers no query. Depends on view, zone, wire,
 * util; the upstream group types come from fwd's types-only upstream.h
 * (no link to fwd).
 *
 * Ownership: vd_conf_load returns a snapshot with one reference. Every
 * holder (the worker loop, each request waiting on an upstream) takes its
 * own with vd_snap_ref and drops it with vd_snap_unref; the last unref frees
 * it. Refcounting is atomic, so any thread may ref/unref; everything else
 * in the snapshot is read-only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/fw.h"
#include "vpcdns/qlog.h"
#include "vpcdns/guard.h"
#include "vpcdns/upstream.h"
#include "vpcdns/util.h"
#include "vpcdns/view.h"
#include "vpcdns/watch.h"
#include "vpcdns/zone.h"

#define VD_DEFAULT_PORT 53

/* Where the daemon's log lines go (server.log). */
typedef enum { VD_LOG_TO_STDERR = 0, VD_LOG_TO_SYSLOG } vd_log_dest_t;

typedef struct vd_server_conf {
	struct sockaddr_storage *listen;
	size_t nlisten;
	const char *identity; /* NSID and CH TXT id.server */
	bool hide_version;    /* no CH TXT version.bind answer */
	/* Probe each upstream group for a forwarding loop at start and after
	 * each reload (server.loop_check, default true). */
	bool loop_check;
	const char *version; /* text of the version answer */
	uint32_t tcp_idle_timeout_ms;
	uint32_t tcp_max_connections; /* per worker */
	/* Open TCP connections per client address (a /32 or a /64), per
	 * worker. */
	uint32_t tcp_max_connections_per_client;
	/* A TCP message must arrive in full, and a queued reply make
	 * progress, within this long; else the connection is closed. */
	uint32_t tcp_io_timeout_ms;
	uint32_t upstream_timeout_ms;	/* per attempt, before failover */
	uint32_t query_timeout_ms;	/* whole forwarded query, all attempts */
	uint32_t upstream_max_inflight; /* upstream queries per worker */
	/* Client queries waiting on upstream answers, per worker, and per
	 * upstream query they share; past either a query gets SERVFAIL
	 * with EDE 14 at once. */
	uint32_t max_pending;
	uint32_t max_pending_per_fetch;
	/* CA bundle (PEM) that TLS upstreams are verified against, an
	 * absolute path; NULL: the system store. */
	const char *tls_ca_file;
	/* server.directory resolved (an absolute path without a trailing
	 * slash), NULL when unusable; explain names files relative to it. */
	const char *directory;
	vd_log_level_t log_level;
	vd_log_dest_t log_dest;	     /* server.log: stderr (default) or syslog */
	uint32_t workers;	     /* loops (threads) serving the listeners */
	uint64_t zone_file_max_size; /* bytes; larger zone files are errors */
	/* The control channel's Unix socket (vpcdnsctl): an absolute path,
	 * "" for none. Default VD_CONTROL_SOCKET; control_socket_set says
	 * whether the file named it (an unusable default is a warning, a
	 * configured path that cannot be served an error). */
	const char *control_socket;
	bool control_socket_set;
	/* server.state_dir resolved (absolute); NULL: none. The zone image
	 * (vd_conf_image_save) is kept there. */
	const char *state_dir;
	/* server.watch_zones (default on): builds given a watch
	 * (vd_conf_reload_watched) take an unchanged zone folder's zones
	 * from the replaced snapshot without listing it or a stat per
	 * file. */
	bool watch_zones;
	/* Running as a service. user/group: the account to switch to after
	 * binding when started as root (NULL: stay; group NULL: the user's
	 * primary group); checked to exist at load, read only at start.
	 * lameduck_ms: after SIGTERM, keep answering this long before the
	 * listeners close (0: none). shutdown_timeout_ms: then, how long
	 * queries in flight and TCP replies may take before the rest is
	 * dropped. */
	const char *user, *group;
	uint32_t lameduck_ms;
	uint32_t shutdown_timeout_ms;
	/* server.rate_limit: the default of every view (enabled false:
	 * off), and the buckets of each worker's table. */
	vd_guard_rl_conf_t rate_limit;
	uint32_t rate_limit_slots;
	/* server.cookie_secret: n == 0, a random secret rotated hourly. */
	vd_guard_cookie_conf_t cookies;
} vd_server_conf_t;

/* The control socket when server.control_socket is not given (CMake
 * option VD_CONTROL_SOCKET). */
#ifndef VD_CONTROL_SOCKET
#define VD_CONTROL_SOCKET "/run/vpcdns/vpcdns.sock"
#endif

/* The "cache" section: forwarded answers (see docs/configuration.md). */
typedef struct vd_cache_conf {
	uint64_t size;	  /* bytes; 0 disables caching */
	uint32_t min_ttl; /* seconds, clamps every cached TTL */
	uint32_t max_ttl;
	uint32_t max_negative_ttl; /* NXDOMAIN / NODATA (RFC 2308) */
	uint32_t stale_max;	   /* serve expired answers this long; 0: never */
	bool prefetch;		   /* refresh popular entries before expiry */
} vd_cache_conf_t;

/* Addresses the HTTP listener (metrics, health, readiness) binds at most. */
#define VD_HTTP_LISTEN_MAX 8
/* The "http" section: the listener for GET /metrics, /health and /ready
 * (see docs/operations.md). Off (nlisten == 0) unless configured. */
typedef struct vd_http_conf {
	struct sockaddr_storage listen[VD_HTTP_LISTEN_MAX];
	size_t nlisten;
	/* Per-view label on the request and response families; off for
	 * deployments with very many views. Default true. */
	bool per_view_metrics;
	uint32_t max_connections; /* open at once, per address */
	uint32_t timeout_ms;	  /* idle connection, request in progress */
} vd_http_conf_t;

/* The reference count is not a field: it lives beside the snapshot,
 * private to conf/ (vd_snap_ref, vd_snap_unref, vd_snap_refs). */
typedef struct vd_snap {
	uint64_t generation; /* set by whoever installs it */
	char *path;	     /* config file */
	vd_arena_t arena;    /* owns everything below but the zones */
	vd_server_conf_t server;
	vd_cache_conf_t cache;
	vd_http_conf_t http;
	vd_group_t *groups;
	size_t ngroups;
	vd_view_t **views; /* opaque, see view.h; in the arena */
	size_t nviews;
	vd_view_table_t *view_table;
	/* The DNS firewall ("firewall" section). The lists are malloc'd and
	 * freed with the snapshot; the array of them, their names, the
	 * groups (rules sorted by priority) and fw_views are in the arena.
	 * fw_views has nviews entries, indexed by vd_view_index: the rule
	 * groups each view applies (ngroups 0: none). */
	vd_fw_list_t **fw_lists; /* malloc'd array */
	const char **fw_list_names;
	size_t nfw_lists;
	vd_fw_group_t *fw_groups;
	size_t nfw_groups;
	vd_fw_set_t *fw_views;
	vd_qlog_conf_t qlog; /* the "query_log" section */
	/* Each view's rate limit (by view index): the server's with the
	 * view's overrides. rate_limit_any: some view is limited, so the
	 * workers keep a table. */
	vd_guard_rl_conf_t *view_rate_limit;
	bool rate_limit_any;
	/* Distinct zones (views share them), and how many of them were
	 * taken from the previous snapshot instead of read (vd_conf_reload);
	 * the rest were read from their files; and their records. */
	size_t nzones, nzones_reused;
	/* Of the zones read: how many the zone image in server.state_dir
	 * gave (vd_conf_load only), and why the image was not used at all
	 * (NULL: it was, or there was none to use). */
	size_t nzones_image;
	const char *image_note;
	/* Views whose routing map and tables the replaced snapshot's same
	 * view lent (vd_conf_reload; vd_view_build). */
	size_t nviews_shared;
	/* Zone folders this build named, and those the watch showed
	 * unchanged since the replaced snapshot's build (not listed, their
	 * files not looked at). */
	size_t nfolders, nfolders_unchanged;
	/* Folders the kernel would not watch, and the errno of the first
	 * (ENOSPC past fs.inotify.max_user_watches): every reload looks at
	 * their files. */
	size_t nfolders_unwatched;
	int unwatched_errno;
	uint64_t nrecords;
} vd_snap_t;

/* Saves every zone of s whose load can be trusted (not racy) to
 * <server.state_dir>/zones.img, through a temporary file renamed over the
 * old image: what vd_conf_load reads instead of zone files that did not
 * change since. Reads s only; for a thread off the query path. Without a
 * state_dir it does nothing. *count and *bytes: zones and bytes written.
 * 0, or a negative error with "file: reason" in errs. */
int vd_conf_image_save(const vd_snap_t *s, size_t *count, uint64_t *bytes,
		       vd_errlist_t *errs);

/* Reads path, validates everything and loads every zone. On success *out is
 * a new snapshot with one reference and the result is 0. On any error
 * nothing is returned, every problem found is in errs as
 * "file:line: reason" (as many as can be found in one pass), and the
 * result is VD_ECONF (or -ENOMEM). */
int vd_conf_load(const char *path, vd_snap_t **out, vd_errlist_t *errs);
/* vd_conf_load for --check: also records in warns (NULL: none) what is
 * valid but likely a mistake, as "file:line: warning: reason": a view for
 * 0.0.0.0/0 or ::/0 while a listen address is not a loopback one (an
 * open resolver), an upstream server that is one of this host's interface
 * addresses on the port of a wildcard listen address (a forwarding loop).
 * Warnings never change the result. */
int vd_conf_check(const char *path, vd_snap_t **out, vd_errlist_t *errs,
		  vd_errlist_t *warns);

/* vd_conf_load for a reload: prev (NULL: none, as vd_conf_load) is the
 * snapshot being replaced, which the caller holds a reference on until
 * this returns. A zone of prev whose file and options did not change is
 * shared by reference instead of read again (vd_zone_load_reuse tells
 * how a file is known unchanged). prev is only read, so other threads may
 * answer from it meanwhile, and it may be freed before the new snapshot:
 * shared zones have their own references. */
int vd_conf_reload(const char *path, const vd_snap_t *prev, vd_snap_t **out,
		   vd_errlist_t *errs);

/* vd_conf_load and vd_conf_reload for the daemon, with the watch on its
 * zone folders (vpcdns/watch.h; NULL: none). The build drains it first,
 * marks every folder it lists, and, with server.watch_zones on, takes a
 * folder the watch shows unchanged since prev's build from prev as it
 * was. The watch is used only until the call returns. */
int vd_conf_load_watched(const char *path, vd_watch_t *watch, vd_snap_t **out,
			 vd_errlist_t *errs);
int vd_conf_reload_watched(const char *path, const vd_snap_t *prev, vd_watch_t *watch,
			   vd_snap_t **out, vd_errlist_t *errs);

/* Reads only the "http" section of path (the YAML tree, no zone), with
 * the same validation as vd_conf_load, so the HTTP listener can answer
 * /ready before a slow first load finishes. 0, or an error as
 * vd_conf_load (problems in errs); other sections are not checked. */
int vd_conf_read_http(const char *path, vd_http_conf_t *out, vd_errlist_t *errs);

void vd_snap_ref(vd_snap_t *s);
void vd_snap_unref(vd_snap_t *s); /* NULL is ok */
/* The number of references held now (for tests and statistics; another
 * thread may change it the moment after). */
unsigned vd_snap_refs(const vd_snap_t *s);

/* A view by name, or NULL. */
const vd_view_t *vd_snap_view(const vd_snap_t *s, const char *name);

/* Whether two server settings name the same set of listen addresses
 * (in any order). */
bool vd_conf_same_listen(const vd_server_conf_t *a, const vd_server_conf_t *b);
