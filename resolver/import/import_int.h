/*
 * Private to the import module: the inventory as loaded from JSON
 * (endpoints, network interfaces, subnets), the per-VPC build results, and
 * the helpers shared by inventory.c, build.c and write.c. Strings point
 * into the loaded JSON documents (kept until vd_import_free) or into the
 * importer's arena; arrays of structs are realloc'd and only pointed into
 * once loading is over (vd_import_build).
 */
#pragma once

#include "vpcdns/import.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prefix of the messages that belong to no file position. */
#define IMP_PROG "vpcdns-import"

/* First member of every inventory item, so that sorting, deduplication and
 * lookup by ID are written once. */
typedef struct imp_item {
	const char *id;	   /* "vpce-…", "eni-…", "subnet-…" */
	const char *where; /* "file: $.VpcEndpoints[3]" (arena) */
	json_t *raw;	   /* borrowed from its document */
	size_t seq;	   /* load order, for stable sorts */
} imp_item_t;

typedef struct imp_ep {
	imp_item_t it;
	const char *type, *vpc, *service, *state;
	bool private_dns;
	bool inbound_only; /* PrivateDnsOnlyForInboundResolverEndpoint */
	vd_import_iptype_t iptype;
	vd_import_name_t *names; /* classified; Interface endpoints only */
	size_t nnames;
	const char **enis; /* NetworkInterfaceIds, deduplicated */
	size_t nenis;
} imp_ep_t;

typedef struct imp_eni {
	imp_item_t it;
	const char *vpc, *subnet, *az, *az_id; /* NULL when absent */
	bool has_v4;
	uint8_t v4[4];
	uint8_t (*v6)[16]; /* arena */
	size_t nv6;
} imp_eni_t;

typedef struct imp_subnet {
	imp_item_t it;
	const char *vpc, *az, *az_id; /* az, az_id: NULL when absent */
	vd_cidr_t *cidrs;	      /* arena; IPv4 first, then IPv6 */
	size_t ncidrs;
} imp_subnet_t;

/* One address record of the output. */
typedef struct imp_rr {
	const char *dir;   /* "zones" or "inbound-zones" */
	const char *zone;  /* apex, no final dot */
	const char *owner; /* relative; "@" at the apex */
	uint16_t type;	   /* VD_T_A or VD_T_AAAA */
	uint8_t addr[16];
	const imp_ep_t *ep;
	const imp_eni_t *eni;
} imp_rr_t;

/* A subnet CIDR of a VPC, for subnets.yaml and the view's clients. */
typedef struct imp_cidr {
	vd_cidr_t cidr;
	const imp_subnet_t *sn;
} imp_cidr_t;

typedef struct imp_vpc {
	const char *id;
	const imp_ep_t **eps; /* imported endpoints, by ID */
	size_t neps, capeps;
	imp_rr_t *rrs; /* sorted, deduplicated */
	size_t nrrs, caprrs;
	imp_cidr_t *cidrs; /* sorted, deduplicated */
	size_t ncidrs, capcidrs;
	vd_import_summary_t sum;
} imp_vpc_t;

typedef struct imp_file {
	vd_import_file_t pub;
	char *buf;  /* malloc: data */
	char *path; /* malloc */
} imp_file_t;

struct vd_import {
	vd_arena_t arena;
	json_t **docs;
	size_t ndocs, capdocs;
	imp_ep_t *eps;
	size_t neps, capeps;
	imp_eni_t *enis;
	size_t nenis, capenis;
	imp_subnet_t *subnets;
	size_t nsubnets, capsubnets;
	const char **want; /* --vpc, arena strings */
	size_t nwant, capwant;
	size_t seq;
	bool stdin_used;
	bool built;
	char *out_dir; /* arena, trailing slashes dropped */
	imp_vpc_t *vpcs;
	size_t nvpcs;
	vd_import_file_t *files; /* public view of ofiles */
	imp_file_t *ofiles;
	size_t nfiles, capfiles;
	vd_import_summary_t *sums;
};

/* Makes room for one more element in *arr (of elem bytes each, *n used,
 * *cap allocated). Returns 0 or -ENOMEM. */
int imp_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* Whether s is prefix followed by one or more ASCII letters or digits
 * (AWS IDs: "vpce-0abc", "subnet-8EXAMPLE"). */
bool imp_is_id(const char *s, const char *prefix);
/* Whether s is a non-empty run of letters, digits and '-' (AZ names and
 * IDs). */
bool imp_is_az(const char *s);

/* A printable copy of input text for messages: at most len - 1 bytes,
 * control and non-ASCII bytes shown as '?', "..." when cut. Returns buf. */
const char *imp_shown(const char *s, char *buf, size_t len);

/* Canonical DNS order (RFC 4034 6.1) of two relative owners ("@" first). */
int imp_owner_cmp(const char *a, const char *b);
/* Orders CIDRs: IPv4 first, then by address, then by prefix length. */
int imp_cidr_cmp(const vd_cidr_t *a, const vd_cidr_t *b);

/* Sorts and deduplicates the loaded endpoints, interfaces and subnets
 * (inventory.c). Returns 0 or VD_EMALF with messages in errs. */
int imp_inventory_finish(vd_import_t *im, vd_errlist_t *errs);
const imp_ep_t *imp_find_ep(const vd_import_t *im, const char *id);
const imp_eni_t *imp_find_eni(const vd_import_t *im, const char *id);
const imp_subnet_t *imp_find_subnet(const vd_import_t *im, const char *id);

/* Renders every file of the built VPCs into im->ofiles (write.c). Returns
 * 0 or -ENOMEM. */
int imp_render(vd_import_t *im);
