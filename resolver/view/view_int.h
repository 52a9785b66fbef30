/*
 * view private: the layout of a view. Only view/ (and its own unit tests)
 * see it; every other module goes through include/vpcdns/view.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/view.h"

/* One entry of the routing map: a name that has a zone, a forward rule,
 * or both (then the forward rule wins, as in Route 53). */
struct vd_view_route {
	const uint8_t *name; /* lower-cased wire name */
	unsigned labels;
	vd_zone_t *zone; /* NULL when none */
	int group;	 /* index into the snapshot's groups, -1: none */
	/* Included views' zones with the same apex (two VPCs' endpoint
	 * names under one vpce.amazonaws.com apex), consulted in order when
	 * the zones before do not hold the name. */
	vd_zone_t **alt;
	size_t nalt, capalt;
};

/* Reverse data: an endpoint address and its regional vpce name. */
typedef struct vd_ptr_entry {
	int family;
	uint8_t addr[16];
	const uint8_t *name; /* wire name in zone data */
} vd_ptr_entry_t;

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
	/* routing map: open-addressing hash table of entries keyed by name */
	struct vd_view_route **route_slots;
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
	vd_az_rrset_t *az_slots;     /* open addressing by rrset pointer */
	size_t az_mask;
	vd_ptr_entry_t *ptr_slots; /* open addressing by address */
	size_t ptr_mask;
};

/* The zones v answers from: own, then each included view's (a zone
 * shared by several only once). Returned malloc'd (build time only);
 * NULL on out of memory. */
vd_zone_t **vd_view_effective_zones(const vd_view_t *v, size_t *n);
