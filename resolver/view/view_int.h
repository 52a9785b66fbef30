/*
 * view private: the layout of a view. Only view/ (and its own unit tests)
 * see it; every other module goes through include/vpcdns/view.h.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/view.h"

/* One slot of the routing map, 16 bytes: the name's hash and label count
 * beside what it routes to, so a probe that does not match reads nothing
 * but the slot array. A name with one zone and no forward rule (nearly
 * every name: an endpoint service's zone) points at the zone itself, whose
 * apex is the name (the zone lookup reads it anyway); any other name
 * points at a struct vd_view_route_more. p NULL: the slot is empty. */
struct vd_view_route {
	uint32_t hash;	/* route_hash of the name */
	uint8_t labels; /* of the name */
	bool more;	/* p is a struct vd_view_route_more, else a zone */
	const void *p;
};

/* A name with a zone, a forward rule, or both (then the forward rule
 * wins, as in Route 53). */
struct vd_view_route_more {
	const uint8_t *name;   /* lower-cased wire name */
	const vd_zone_t *zone; /* NULL when none */
	int group;	       /* index into the snapshot's groups, -1: none */
	/* Included views' zones with the same apex (two VPCs' endpoint
	 * names under one vpce.amazonaws.com apex), consulted in order when
	 * the zones before do not hold the name. */
	vd_zone_t **alt;
	size_t nalt, capalt;
};

/* Reverse data: an endpoint address and its regional vpce name. */
typedef struct vd_ptr_entry {
	const uint8_t *name; /* wire name in zone data */
	int family;
	uint8_t addr[16];
} vd_ptr_entry_t;

/* An A/AAAA RRset with per-record AZs and the pattern it has. */
typedef struct vd_view_az_ent {
	const vd_rrset_t *rrset;
	const vd_az_rrset_t *pattern;
} vd_view_az_ent_t;

/* An address subnet of the view (own or included) and its AZ index, as
 * added: one of the inputs of the AZ tables. */
typedef struct vd_view_addr_subnet {
	vd_cidr_t cidr;
	int az;
} vd_view_addr_subnet_t;

/*
 * A view's routing map and answer tables (vd_view_build), in an arena of
 * their own with a reference count: the same view in the next snapshot,
 * built from the same inputs, shares them instead of building them again
 * (a reload that changes one file changes one view's tables, or none).
 * The inputs are kept to compare: the effective zones in order (pointers:
 * the views sharing the tables hold those zones), the forward rules
 * (names copied here), the address subnets with their AZ indexes and the
 * AZ IDs in order. The outputs are copied into each view using them.
 */
typedef struct vd_view_tabs {
	atomic_uint refs;
	vd_arena_t arena;
	vd_zone_t **zones;
	size_t nzones;
	vd_view_rule_t *rules;
	size_t nrules;
	vd_view_addr_subnet_t *subnets;
	size_t nsubnets;
	const char **az_ids;
	size_t naz;
	struct vd_view_route *route_slots;
	size_t route_mask;
	unsigned route_max_labels;
	struct vd_view_az_ent *az_slots;
	size_t naz_slots;
	struct vd_ptr_entry *ptrs;
	size_t nptrs;
	uint32_t *ptr_index;
	size_t ptr_mask;
} vd_view_tabs_t;

struct vd_view {
	const char *name;
	int index;
	/* AWS metadata, in the arena; NULL when not given */
	const char *vpc_id;
	const char *account_id;
	const char *region;
	vd_cidr_t *clients;
	size_t nclients, capclients;
	vd_zone_t **zones; /* own zones, each holds a reference */
	size_t nzones, capzones;
	/* Hub and spoke: the views whose zones this one also serves (every
	 * view reached through include, transitively; own zones win). */
	const vd_view_t **includes;
	size_t nincludes;
	/* routing map: open-addressing hash table keyed by name */
	struct vd_view_route *route_slots;
	size_t route_mask;	   /* slots - 1, slots a power of two */
	unsigned route_max_labels; /* deepest name in the map */
	/* who may ask CH TXT <name> how it resolves (see vd_view_set_explain) */
	vd_explain_mode_t explain;
	const vd_cidr_t *explain_clients;
	size_t nexplain_clients;
	/* Availability Zones: the IDs this view knows (own and included
	 * views' subnets), the client's AZ by its own subnets, and the AZ of
	 * each multi-address A/AAAA RRset's records. */
	vd_az_affinity_t az_affinity;
	const char **az_ids;
	size_t naz;
	vd_view_table_t *client_azs; /* NULL: no own subnets */
	vd_view_table_t *addr_azs;   /* build only: answer addresses -> AZ */
	/* build only: what went into addr_azs, in order (the arena's) */
	vd_view_addr_subnet_t *addr_subnets;
	size_t naddr_subnets, capaddr_subnets;
	/* what the tables below live in when vd_view_build made them (one
	 * reference; NULL: in the snapshot's arena) */
	vd_view_tabs_t *tabs;
	/* open addressing by rrset pointer (NULL: empty), at most 2/3 full */
	vd_view_az_ent_t *az_slots;
	size_t naz_slots;
	/* reverse entries, and their index by address */
	vd_ptr_entry_t *ptrs;
	size_t nptrs;
	uint32_t *ptr_index;
	size_t ptr_mask;
};

/* The routing map of v from zones (in order) and rules, allocated from a
 * (route.c). 0 or -ENOMEM. */
int vd_view_route_fill(vd_arena_t *a, vd_view_t *v, vd_zone_t *const *zones,
		       size_t nzones, const vd_view_rule_t *rules, size_t nrules);
/* Drops a reference to shared tables (NULL is fine); the last frees them. */
void vd_view_tabs_unref(vd_view_tabs_t *t);

/* The zones v answers from: own, then each included view's (a zone
 * shared by several only once). Returned malloc'd (build time only);
 * NULL on out of memory. */
vd_zone_t **vd_view_effective_zones(const vd_view_t *v, size_t *n);
