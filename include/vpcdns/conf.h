/*
 * conf: reads the YAML configuration (libyaml, with line numbers), validates
 * it completely, loads every zone it names and builds one immutable
 * snapshot: server settings, upstream groups, views with their zones and
 * forward rules, and the client-address -> view table. A reload builds a
 * new snapshot and swaps a pointer; nothing in a snapshot changes after
 * vd_conf_load returns. conf parses and builds (views through view.h's
 * builder functions); it answers no query. Depends on view, zone, wire,
 * util.
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

#include "vpcdns/util.h"
#include "vpcdns/view.h"
#include "vpcdns/zone.h"

#define VD_DEFAULT_PORT 53
/* Default port of a DNS-over-TLS upstream (RFC 7858). */
#define VD_TLS_PORT 853
/* Servers in one group at most (fwd keeps a per-query bitmap of them). */
#define VD_GROUP_MAX_SERVERS 64

/* One upstream server: "192.0.2.1", "192.0.2.1:5300", "[2001:db8::1]"
 * (UDP, TCP after TC=1), or "tls://1.1.1.1:853#cloudflare-dns.com" (DNS
 * over TLS only). Everything lives in the snapshot arena. */
typedef struct vd_upstream {
	struct sockaddr_storage addr;
	const char *text;          /* as written in the config, for logs */
	bool tls;                  /* DNS over TLS */
	/* TLS only: the name sent as SNI and verified against the
	 * certificate; NULL: no SNI, the address is verified against the
	 * certificate's IP SANs instead. */
	const char *tls_name;
} vd_upstream_t;

/* A named group of upstream servers. fwd prefers the one with the lowest
 * smoothed RTT and fails over to the others (see fwd.h). */
typedef struct vd_group {
	const char *name;
	int index;                 /* position in snap->groups */
	vd_upstream_t *servers;
	size_t nservers;
	/* Identity for the cache: a hash of the name and every server (its
	 * address and transport). Cached answers are keyed by it, so views
	 * forwarding to the same group share them, other groups never do,
	 * and a group whose servers change on reload starts afresh. */
	uint64_t cache_id;
} vd_group_t;

typedef struct vd_server_conf {
	struct sockaddr_storage *listen;
	size_t nlisten;
	const char *identity;       /* NSID and CH TXT id.server */
	bool hide_version;          /* no CH TXT version.bind answer */
	const char *version;        /* text of the version answer */
	uint32_t tcp_idle_timeout_ms;
	uint32_t tcp_max_connections;
	uint32_t upstream_timeout_ms;  /* per attempt, before failover */
	uint32_t query_timeout_ms;     /* whole forwarded query, all attempts */
	uint32_t upstream_max_inflight; /* upstream queries per worker */
	/* CA bundle (PEM) that TLS upstreams are verified against, an
	 * absolute path; NULL: the system store. */
	const char *tls_ca_file;
	vd_log_level_t log_level;
	uint32_t workers;           /* loops (threads) serving the listeners */
} vd_server_conf_t;

/* The "cache" section: forwarded answers (see docs/configuration.md). */
typedef struct vd_cache_conf {
	uint64_t size;              /* bytes; 0 disables caching */
	uint32_t min_ttl;           /* seconds, clamps every cached TTL */
	uint32_t max_ttl;
	uint32_t max_negative_ttl;  /* NXDOMAIN / NODATA (RFC 2308) */
	uint32_t stale_max;         /* serve expired answers this long; 0: never */
	bool prefetch;              /* refresh popular entries before expiry */
} vd_cache_conf_t;

/* The reference count is not a field: it lives beside the snapshot,
 * private to conf/ (vd_snap_ref, vd_snap_unref, vd_snap_refs). */
typedef struct vd_snap {
	uint64_t generation;        /* set by whoever installs it */
	char *path;                 /* config file */
	vd_arena_t arena;           /* owns everything below but the zones */
	vd_server_conf_t server;
	vd_cache_conf_t cache;
	vd_group_t *groups;
	size_t ngroups;
	vd_view_t **views;          /* opaque, see view.h; in the arena */
	size_t nviews;
	vd_view_table_t *view_table;
} vd_snap_t;

/* Reads path, validates everything and loads every zone. On success *out is
 * a new snapshot with one reference and the result is 0. On any error
 * nothing is returned, every problem found is in errs as
 * "file:line: reason" (as many as can be found in one pass), and the
 * result is VD_ECONF (or -ENOMEM). */
int vd_conf_load(const char *path, vd_snap_t **out, vd_errlist_t *errs);

void vd_snap_ref(vd_snap_t *s);
void vd_snap_unref(vd_snap_t *s);   /* NULL is ok */
/* The number of references held now (for tests and statistics; another
 * thread may change it the moment after). */
unsigned vd_snap_refs(const vd_snap_t *s);

/* A view by name, or NULL. */
const vd_view_t *vd_snap_view(const vd_snap_t *s, const char *name);

/* Whether two server settings name the same set of listen addresses
 * (in any order). */
bool vd_conf_same_listen(const vd_server_conf_t *a, const vd_server_conf_t *b);
