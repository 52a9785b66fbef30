/*
 * conf: reads the YAML configuration (libyaml, with line numbers), validates
 * it completely, loads every zone it names and builds one immutable
 * snapshot: server settings, upstream groups, views with their zones and
 * forward rules, and the client-address -> view table. A reload builds a
 * new snapshot and swaps a pointer; nothing in a snapshot changes after
 * vd_conf_load returns. Depends on zone, view, wire, util; the upstream
 * group types come from fwd's types-only upstream.h (no link to fwd).
 *
 * Ownership: vd_conf_load returns a snapshot with one reference. Every
 * holder (the worker loop, each request waiting on an upstream) takes its
 * own with vd_snap_ref and drops it with vd_snap_unref; the last unref frees
 * it. Refcounting is atomic, so any thread may ref/unref; everything else
 * in the snapshot is read-only.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/upstream.h"
#include "vpcdns/util.h"
#include "vpcdns/view.h"
#include "vpcdns/zone.h"

#define VD_DEFAULT_PORT 53

/* One entry of a view's routing map: a name that has a zone, a forward
 * rule, or both (then the forward rule wins, as in Route 53). */
typedef struct vd_route_entry {
	const uint8_t *name;       /* lower-cased wire name */
	unsigned labels;
	vd_zone_t *zone;           /* NULL when none */
	int group;                 /* index into snap->groups, -1 when none */
	/* Included views' zones with the same apex (two VPCs' endpoint
	 * names under one vpce.amazonaws.com apex), consulted in order when
	 * the zones before do not hold the name. */
	vd_zone_t **alt;
	size_t nalt;
} vd_route_entry_t;

/* How a view orders endpoint addresses by Availability Zone. */
typedef enum {
	VD_AZ_PREFER = 0,   /* the client's AZ first, the rest after */
	VD_AZ_ONLY,         /* only the client's AZ (all if it has none) */
	VD_AZ_OFF,          /* all, rotated */
} vd_az_affinity_t;

/* Per-record AZ of one A/AAAA RRset as this view sees it (az[i] is an
 * index into the view's az_ids, VD_AZ_UNKNOWN when the address is in no
 * known subnet), and the answer order for a client in each AZ, computed
 * when the snapshot is built: row k of order (count entries) lists the
 * records in AZ k first (nown[k] of them), then the others. */
#define VD_AZ_UNKNOWN 0xff
typedef struct vd_az_rrset {
	const vd_rrset_t *rrset;
	const uint8_t *az;
	const uint16_t *order;      /* naz rows of rrset->count indexes */
	const uint16_t *nown;       /* naz counts */
} vd_az_rrset_t;

/* Reverse data: an endpoint address and its regional vpce name. */
typedef struct vd_ptr_entry {
	int family;
	uint8_t addr[16];
	const uint8_t *name;        /* wire name in zone data */
} vd_ptr_entry_t;

typedef struct vd_view {
	const char *name;
	int index;
	vd_cidr_t *clients;
	size_t nclients;
	vd_zone_t **zones;         /* each holds a reference */
	size_t nzones;
	/* routing map: open-addressing hash table of route entries keyed by
	 * name; private layout, use vd_view_route */
	vd_route_entry_t **route_slots;
	size_t route_mask;         /* slots - 1, slots a power of two */
	unsigned route_max_labels; /* deepest name in the map */
	/* Hub and spoke: the views whose zones this one also serves (every
	 * view reached through include, transitively; own zones win). */
	const int *includes;
	size_t nincludes;
	bool explain;              /* answer CH TXT <name> with how it resolves */
	/* Availability Zones: the IDs this view knows (own and included
	 * views' subnets), the client's AZ by its own subnets, and the AZ of
	 * each multi-address A/AAAA RRset's records. */
	vd_az_affinity_t az_affinity;
	const char **az_ids;
	size_t naz;
	vd_view_table_t *client_azs;   /* NULL: no subnets */
	vd_az_rrset_t *az_slots;       /* open addressing by rrset pointer */
	size_t az_mask;
	vd_ptr_entry_t *ptr_slots;     /* open addressing by address */
	size_t ptr_mask;
} vd_view_t;

typedef struct vd_server_conf {
	struct sockaddr_storage *listen;
	size_t nlisten;
	const char *identity;       /* NSID and CH TXT id.server */
	bool hide_version;          /* no CH TXT version.bind answer */
	const char *version;        /* text of the version answer */
	uint32_t tcp_idle_timeout_ms;
	uint32_t tcp_max_connections;   /* per worker */
	/* Open TCP connections per client address (a /32 or a /64), per
	 * worker. */
	uint32_t tcp_max_connections_per_client;
	/* A TCP message must arrive in full, and a queued reply make
	 * progress, within this long; else the connection is closed. */
	uint32_t tcp_io_timeout_ms;
	uint32_t upstream_timeout_ms;  /* per attempt, before failover */
	uint32_t query_timeout_ms;     /* whole forwarded query, all attempts */
	uint32_t upstream_max_inflight; /* upstream queries per worker */
	/* Client queries waiting on upstream answers, per worker, and per
	 * upstream query they share; past either a query gets SERVFAIL
	 * with EDE 14 at once. */
	uint32_t max_pending;
	uint32_t max_pending_per_fetch;
	/* CA bundle (PEM) that TLS upstreams are verified against, an
	 * absolute path; NULL: the system store. */
	const char *tls_ca_file;
	vd_log_level_t log_level;
	uint32_t workers;           /* loops (threads) serving the listeners */
	uint64_t zone_file_max_size; /* bytes; larger zone files are errors */
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

typedef struct vd_snap {
	atomic_uint refs;
	uint64_t generation;        /* set by whoever installs it */
	char *path;                 /* config file */
	vd_arena_t arena;           /* owns everything below but the zones */
	vd_server_conf_t server;
	vd_cache_conf_t cache;
	vd_group_t *groups;
	size_t ngroups;
	vd_view_t *views;
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

/* Routing: the deepest name in the view's map that is qname_lc or one of its
 * ancestors, considering only names with at most max_labels labels (pass
 * UINT_MAX for no limit; after a zone answered VD_ZL_FALLBACK, pass its
 * apex's label count minus one to resolve "as if the zone were not
 * there"). NULL when nothing matches (the view has no "." rule). */
const vd_route_entry_t *vd_view_route(const vd_view_t *v, const uint8_t *qname_lc,
				      unsigned max_labels);

/* AZ index (into v->az_ids) of a client address, or -1 when the client
 * is in none of the view's subnets. */
int vd_view_client_az(const vd_view_t *v, const struct sockaddr *sa);
/* The AZ data of an A/AAAA RRset served in view v (per-record AZs and the
 * precomputed order per client AZ), or NULL when none of its addresses is
 * in a known subnet. */
const vd_az_rrset_t *vd_view_rrset_az(const vd_view_t *v, const vd_rrset_t *rs);
/* Just the per-record AZ indexes, or NULL. */
const uint8_t *vd_view_rrset_azs(const vd_view_t *v, const vd_rrset_t *rs);
/* The regional endpoint (vpce) name that owns an address in the view's
 * zone data (family AF_INET with 4 bytes or AF_INET6 with 16), or NULL. */
const uint8_t *vd_view_ptr(const vd_view_t *v, int family, const uint8_t *addr);
/* A view by name, or NULL. */
const vd_view_t *vd_snap_view(const vd_snap_t *s, const char *name);

/* Looks qname_lc up in an entry's zone and then its alternates; the first
 * result other than VD_ZL_FALLBACK wins, and *zone_out is the zone that
 * gave it (e->zone when every one fell back). Allocation-free. */
vd_zl_result_t vd_route_lookup(const vd_route_entry_t *e, const uint8_t *qname_lc,
			       uint16_t qtype, const vd_rrset_t **rrset, bool *wildcard,
			       const vd_zone_t **zone_out);

/* Whether two server settings name the same set of listen addresses
 * (in any order). */
bool vd_conf_same_listen(const vd_server_conf_t *a, const vd_server_conf_t *b);
