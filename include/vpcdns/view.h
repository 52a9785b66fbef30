/*
 * view: everything asked of a view per query. The client address -> view
 * table (longest prefix over every view's CIDRs, IPv4 and IPv6 in separate
 * binary tries; a lookup walks at most 32 or 128 nodes, whatever the
 * number of views), and the views themselves behind an opaque type: route
 * a name through zones and forward rules (one walk, shared by answers and
 * explain), the client's Availability Zone, the AZ order of an RRset, PTR
 * from endpoint data. Built once per config snapshot by conf/, then read
 * without locks by any thread. Depends on zone, wire, util.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vpcdns/util.h"
#include "vpcdns/zone.h"

typedef struct vd_view_table vd_view_table_t;

/* Creates an empty table. NULL on out of memory. */
vd_view_table_t *vd_view_table_new(void);
/* Frees the table (NULL does nothing). */
void vd_view_table_free(vd_view_table_t *t);

/* Maps prefix c to view index idx (>= 0). The same prefix added twice is
 * -EEXIST (whatever the index); callers report it as "the same CIDR in two
 * views". Not thread-safe: only while building. */
int vd_view_table_add(vd_view_table_t *t, const vd_cidr_t *c, int idx);

/* Index of the view whose prefix is the longest match for the client's
 * address (AF_INET, AF_INET6; IPv4-mapped IPv6 is matched as IPv4), or
 * -1 when no prefix matches. Allocation-free and lock-free. */
int vd_view_table_match(const vd_view_table_t *t, const struct sockaddr *sa);

/* ==== Views ================================================================
 *
 * A view: what one group of clients sees. Its zones (own and included),
 * forward rules, subnets with their Availability Zones and endpoint
 * addresses are compiled into lookup tables when the configuration
 * snapshot is built (conf/ calls the builder functions below); at query
 * time the view answers questions about itself (route a name, the
 * client's AZ, the AZ order of an RRset, PTR) without allocating or
 * locking. The layout is private to view/.
 *
 * Ownership: a view and everything it points to live in the arena passed
 * to vd_view_new (the snapshot's), except the zone references it holds
 * and its subnet tables, which vd_view_deinit releases. After the build a
 * view is immutable and any thread may read it while the snapshot that
 * owns it is referenced.
 */
typedef struct vd_view vd_view_t;
/* An entry of a view's routing map: a zone apex, a forward rule name, or
 * both. Points into the view. */
typedef struct vd_view_route vd_view_route_t;

/* How a view orders endpoint addresses by Availability Zone. */
typedef enum {
	VD_AZ_PREFER = 0, /* the client's AZ first, the rest after */
	VD_AZ_ONLY,	  /* only the client's AZ (all if it has none) */
	VD_AZ_OFF,	  /* all, rotated */
} vd_az_affinity_t;

/* Per-record AZ of one A/AAAA RRset as this view sees it (az[i] is an
 * index into the view's AZ IDs, VD_AZ_UNKNOWN when the address is in no
 * known subnet), and the answer order for a client in each AZ, computed
 * when the snapshot is built: row k of order (count entries) lists the
 * records in AZ k first (nown[k] of them), then the others. RRsets with
 * the same AZ pattern (count and az[]) share one of these. */
#define VD_AZ_UNKNOWN 0xff
typedef struct vd_az_rrset {
	uint16_t count; /* records: the RRset's count */
	const uint8_t *az;
	const uint16_t *order; /* naz rows of rrset->count indexes */
	const uint16_t *nown;  /* naz counts */
} vd_az_rrset_t;

/* ---- building (conf/, once per snapshot; not thread-safe) -------------- */

/* A new empty view in arena a, at position index of the snapshot's views:
 * no name, explain for loopback clients only (VD_EXPLAIN_LIST of
 * 127.0.0.0/8 and ::1), az_affinity prefer. NULL on out of memory. */
vd_view_t *vd_view_new(vd_arena_t *a, int index);
/* Drops the view's zone references and frees its subnet tables (the rest
 * goes with the arena). NULL does nothing. */
void vd_view_deinit(vd_view_t *v);
/* Copies name into the arena. 0 or -ENOMEM. */
int vd_view_set_name(vd_view_t *v, vd_arena_t *a, const char *name);
/* Who may ask the view for explanations (CH TXT <name>) and what they see:
 * VD_EXPLAIN_OFF nobody (REFUSED); VD_EXPLAIN_ALL every client, upstream
 * groups by name only; VD_EXPLAIN_LIST the clients inside one of the n
 * prefixes (copied into arena a), with the upstream servers' addresses,
 * and nobody else. 0 or -ENOMEM. */
typedef enum vd_explain_mode {
	VD_EXPLAIN_OFF,
	VD_EXPLAIN_ALL,
	VD_EXPLAIN_LIST,
} vd_explain_mode_t;
int vd_view_set_explain(vd_view_t *v, vd_arena_t *a, vd_explain_mode_t mode,
			const vd_cidr_t *clients, size_t n);
void vd_view_set_az_affinity(vd_view_t *v, vd_az_affinity_t aff);
/* What the view stands for in AWS, for the query log's Route 53-format
 * records: the VPC ID ("vpc-..."), the 12-digit account ID and the region
 * ("us-east-1"). conf validates them; each is copied into the arena.
 * 0 or -ENOMEM. */
int vd_view_set_vpc_id(vd_view_t *v, vd_arena_t *a, const char *vpc_id);
int vd_view_set_account_id(vd_view_t *v, vd_arena_t *a, const char *account_id);
int vd_view_set_region(vd_view_t *v, vd_arena_t *a, const char *region);
/* Records one client prefix (for statistics; the client -> view table is
 * a vd_view_table_t). 0 or -ENOMEM. */
int vd_view_add_client(vd_view_t *v, vd_arena_t *a, const vd_cidr_t *c);
/* Adds one of the view's own zones, taking a reference of its own. 0 or
 * -ENOMEM. */
int vd_view_add_zone(vd_view_t *v, vd_arena_t *a, vd_zone_t *z);
/* The view's own zone with apex apex, or NULL. */
const vd_zone_t *vd_view_zone_at(const vd_view_t *v, const uint8_t *apex);
/* The views whose zones this one also serves, in order (already closed
 * transitively, without v itself). They must outlive v (same snapshot). */
int vd_view_set_includes(vd_view_t *v, vd_arena_t *a, const vd_view_t *const *inc,
			 size_t n);

/* A forward rule: queries at or below name go to upstream group group. */
typedef struct vd_view_rule {
	const uint8_t *name; /* lower-cased wire name, lives as long as v */
	int group;	     /* index into the snapshot's groups */
} vd_view_rule_t;

/* Subnet -> AZ. VD_VIEW_SUBNET_CLIENT: the AZ of clients in this subnet
 * (the view's own subnets); VD_VIEW_SUBNET_ADDR: the AZ of answer addresses
 * (own and included views' subnets). -EEXIST when the prefix is already in
 * that table (the caller checks the AZs agree), -ENOMEM, or 0. */
enum { VD_VIEW_SUBNET_CLIENT = 1, VD_VIEW_SUBNET_ADDR = 2 };
int vd_view_add_subnet(vd_view_t *v, vd_arena_t *a, const vd_cidr_t *c,
		       const char *az_id, int table);
/* Builds, in an allocation of their own, the routing map (the view's own
 * zones, then its included views' zones, a zone shared by several only
 * once, own zones first for one apex; then the rules) and, over every
 * zone the view answers from, the AZ order rows of each multi-address
 * A/AAAA RRset and the reverse map of endpoint addresses; frees the
 * address table. Or shares them with old (the same view in the replaced
 * snapshot; NULL when there is none) when it was built from the same
 * inputs: the same
 * zones in the same order (own and included), rules, address subnets and
 * AZs. *shared says whether they were. Tables shared live as long as the
 * last view using them. Call last, after the subnets. 0 or -ENOMEM. */
int vd_view_build(vd_view_t *v, const vd_view_rule_t *rules, size_t nrules,
		  const vd_view_t *old, bool *shared);

/* ---- reading ------------------------------------------------------------ */

const char *vd_view_name(const vd_view_t *v);
int vd_view_index(const vd_view_t *v);
/* Whether CH TXT <name> is answered, for some client, with how the name
 * resolves (the mode is not VD_EXPLAIN_OFF). */
bool vd_view_explain(const vd_view_t *v);
vd_explain_mode_t vd_view_explain_mode(const vd_view_t *v);
/* What client (AF_INET/AF_INET6) gets when it asks for an explanation. */
typedef enum vd_explain_level {
	VD_EXPLAIN_REFUSED, /* nothing: REFUSED */
	VD_EXPLAIN_NAMES,   /* the walk, upstream groups by name only */
	VD_EXPLAIN_FULL,    /* the walk with the upstream servers' addresses */
} vd_explain_level_t;
vd_explain_level_t vd_view_explain_for(const vd_view_t *v,
				       const struct sockaddr *client);
vd_az_affinity_t vd_view_az_affinity(const vd_view_t *v);
/* The AWS metadata given with the view, or NULL when not given. The
 * strings live as long as the view (its snapshot); any thread. */
const char *vd_view_vpc_id(const vd_view_t *v);
const char *vd_view_account_id(const vd_view_t *v);
const char *vd_view_region(const vd_view_t *v);
/* The view's client prefixes (i < vd_view_nclients), as configured. */
size_t vd_view_nclients(const vd_view_t *v);
const vd_cidr_t *vd_view_client(const vd_view_t *v, size_t i);
/* The view's own zones (i < vd_view_nzones). */
size_t vd_view_nzones(const vd_view_t *v);
const vd_zone_t *vd_view_zone(const vd_view_t *v, size_t i);
/* The views whose zones v also serves (k < vd_view_nincludes), in order. */
size_t vd_view_nincludes(const vd_view_t *v);
const vd_view_t *vd_view_include(const vd_view_t *v, size_t k);
/* The AZ IDs the view knows (own and included views' subnets). */
size_t vd_view_naz(const vd_view_t *v);
const char *vd_view_az_id(const vd_view_t *v, int k); /* NULL if out of range */
/* The name of the included view a zone of v's routing map comes from, or
 * NULL when it is v's own (or unknown). */
const char *vd_view_zone_from(const vd_view_t *v, const vd_zone_t *z);

/* ---- per query (allocation-free, lock-free) ------------------------------ */

/* Routing: the deepest name in the view's map that is qname_lc or one of
 * its ancestors, considering only names with at most max_labels labels
 * (UINT_MAX: no limit; after a zone answered VD_ZL_FALLBACK, its apex's
 * label count minus one resolves "as if the zone were not there"). NULL
 * when nothing matches (the view has no "." rule). */
const vd_view_route_t *vd_view_route(const vd_view_t *v, const uint8_t *qname_lc,
				     unsigned max_labels);
/* An entry's name (lower-cased wire), zone (NULL when none) and forward
 * group (index into the snapshot's groups, -1 when none). */
const uint8_t *vd_view_route_name(const vd_view_route_t *e);
const vd_zone_t *vd_view_route_zone(const vd_view_route_t *e);
int vd_view_route_group(const vd_view_route_t *e);
/* Looks qname_lc up in an entry's zone and then its alternates (included
 * views' zones with the same apex); the first result other than
 * VD_ZL_FALLBACK wins, and *zone_out is the zone that gave it (the entry's
 * zone when every one fell back). */
vd_zl_result_t vd_view_route_lookup(const vd_view_route_t *e, const uint8_t *qname_lc,
				    uint16_t qtype, const vd_rrset_t **rrset,
				    bool *wildcard, const vd_zone_t **zone_out);

/* AZ index (see vd_view_az_id) of a client address, or -1 when the client
 * is in none of the view's own subnets. */
int vd_view_client_az(const vd_view_t *v, const struct sockaddr *sa);
/* The AZ data of an A/AAAA RRset served in view v, or NULL when none of
 * its addresses is in a known subnet. */
const vd_az_rrset_t *vd_view_rrset_az(const vd_view_t *v, const vd_rrset_t *rs);
/* Just the per-record AZ indexes, or NULL. */
const uint8_t *vd_view_rrset_azs(const vd_view_t *v, const vd_rrset_t *rs);
/* Whether the view has reverse data at all (PTR answers worth trying). */
bool vd_view_has_ptr(const vd_view_t *v);
/* The regional endpoint (vpce) name that owns an address in the view's
 * zone data (AF_INET with 4 bytes or AF_INET6 with 16), or NULL. */
const uint8_t *vd_view_ptr(const vd_view_t *v, int family, const uint8_t *addr);

/* ---- the routing walk ----------------------------------------------------- */

/* Longest CNAME chain followed through local data (Unbound uses 11). */
#define VD_VIEW_CHAIN_MAX 12

/* One step of a local answer: the RRset and the owner it is written with
 * (the query name, a CNAME target, or the name a wildcard matched). The
 * owner points into the caller's name or into zone data. */
typedef struct vd_view_step {
	const uint8_t *owner;
	const vd_rrset_t *rrset;
} vd_view_step_t;

/* What resolving a name in a view's local data produced. */
typedef struct vd_view_res {
	vd_view_step_t chain[VD_VIEW_CHAIN_MAX + 1];
	unsigned nchain;
	int rcode;		   /* NOERROR or NXDOMAIN */
	const vd_zone_t *soa_zone; /* negative answer: SOA in authority */
	int group;		   /* >= 0: forward fwd_name to this group */
	const uint8_t *fwd_name;   /* name to forward (case as written) */
	bool refused;		   /* no zone and no forward rule */
} vd_view_res_t;

/* What one step of the walk did, for vd_view_resolve's trace. */
typedef enum {
	VD_VIEW_STEP_ZONE,    /* a zone lookup: zone, result, rrset, wildcard */
	VD_VIEW_STEP_FORWARD, /* a forward rule matched: rule, group; the end */
	VD_VIEW_STEP_NONE,    /* no zone and no rule: refused, or the end of
				 * the chain so far when a CNAME led here */
	VD_VIEW_STEP_LOOP,    /* a CNAME target already in the chain: the end */
	VD_VIEW_STEP_LIMIT,   /* chain longer than VD_VIEW_CHAIN_MAX: the end */
} vd_view_step_kind_t;

typedef struct vd_view_trace {
	vd_view_step_kind_t kind;
	const uint8_t *name;	 /* the name this step looked up (as written) */
	const uint8_t *rule;	 /* FORWARD: the rule's name */
	int group;		 /* FORWARD: its group */
	const vd_zone_t *zone;	 /* ZONE: the zone that answered */
	vd_zl_result_t result;	 /* ZONE */
	const vd_rrset_t *rrset; /* ZONE: ANSWER or CNAME */
	bool wildcard;		 /* ZONE: from a wildcard */
	unsigned nchain;	 /* steps in res->chain so far */
} vd_view_trace_t;

typedef void (*vd_view_trace_fn)(void *arg, const vd_view_trace_t *t);

/* Follows zones and forward rules for name (case as written) and qtype in
 * view v: the most specific zone or rule first, zones that fall back
 * skipped, CNAMEs followed through local data (at most VD_VIEW_CHAIN_MAX,
 * stopping at a loop). Fills *res. When trace is not NULL it is called
 * once per step, in order (explain); the answer path passes NULL and pays
 * nothing for it. res and the steps point into name, v's zones and the
 * caller's buffers only. Allocation-free. */
void vd_view_resolve(const vd_view_t *v, const uint8_t *name, uint16_t qtype,
		     vd_view_res_t *res, vd_view_trace_fn trace, void *arg);
