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
	const char *id;	    /* "vpce-…", "eni-…", "subnet-…" */
	const char *where;  /* "file: $.VpcEndpoints[3]" (arena) */
	json_t *raw;	    /* borrowed from its document */
	size_t seq;	    /* load order, for stable sorts */
	const char *source; /* --source in effect when loaded; NULL: none */
	const char *region; /* --region in effect when loaded; NULL: none */
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
	const char *owner, *arn;      /* OwnerId, SubnetArn: NULL when absent */
	vd_cidr_t *cidrs;	      /* arena; IPv4 first, then IPv6 */
	size_t ncidrs;
} imp_subnet_t;

/* A VPC from describe-vpcs: its associated CIDR blocks. */
typedef struct imp_vpcinfo {
	imp_item_t it;
	const char *owner; /* OwnerId; NULL when absent */
	vd_cidr_t *cidrs;  /* arena; primary, then associations as listed */
	size_t ncidrs;
} imp_vpcinfo_t;

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
	vd_cidr_t *clients; /* the view's clients, sorted, deduplicated */
	size_t nclients;
	bool from_subnets; /* clients are subnet CIDRs (no describe-vpcs) */
	const char *account, *region, *region_from; /* NULL when unknown */
	const char *source;			    /* NULL: none */
	vd_import_summary_t sum;
} imp_vpc_t;

/* A VPC of the previous import that this one does not write. */
typedef struct imp_old_vpc {
	const char *id, *source; /* arena; source NULL for none */
	bool carried;		 /* copied into the new tree */
} imp_old_vpc_t;

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
	imp_vpcinfo_t *vpcinfos;
	size_t nvpcinfos, capvpcinfos;
	bool have_vpcs_doc;		     /* a describe-vpcs output was loaded */
	const char *cur_source, *cur_region; /* arena; applied to loads */
	const char **sources; /* every source in effect for a load (NULL too) */
	size_t nsources, capsources;
	bool prune;
	const char **want; /* --vpc, arena strings */
	size_t nwant, capwant;
	size_t seq;
	bool stdin_used;
	bool built;
	char *out_dir;	    /* arena, trailing slashes dropped */
	char *view_dir;	    /* arena: out_dir ".v<N>", the new version's folder */
	char *old_dir;	    /* arena: the version out_dir points to; NULL: none */
	char *old_view_dir; /* arena: how that version's view files name it */
	unsigned version, old_version;
	imp_old_vpc_t *old; /* the previous import's VPCs; arena */
	size_t nold;
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

const imp_vpcinfo_t *imp_find_vpcinfo(const vd_import_t *im, const char *id);

/* Renders every file of the built VPCs into im->ofiles (write.c). Returns
 * 0 or -ENOMEM. */
int imp_render(vd_import_t *im);
/* Appends one rendered file (takes data, malloc'd, len bytes; also on
 * failure). Returns 0 or -ENOMEM. */
int imp_add_file(vd_import_t *im, char *data, size_t len, const char *path);
/* Sorts the rendered files and publishes them (write.c). */
int imp_publish(vd_import_t *im);
/* path as a YAML double-quoted scalar's contents (no quotes); malloc. */
char *imp_yaml_escape(const char *path);

/* The output tree (tree.c). imp_tree_plan reads the previous import
 * (out_dir's symbolic link and the manifest of the version it points
 * to), picks the new version's folder, and lists the previous VPCs this
 * import does not write (reported, and kept or pruned). imp_tree_finish
 * copies the kept VPCs' files and renders views.yaml and the manifest.
 * Both return 0, VD_EMALF with messages in errs, or -errno. */
int imp_tree_plan(vd_import_t *im, vd_import_note_fn note, void *arg,
		  vd_errlist_t *errs);
int imp_tree_finish(vd_import_t *im, vd_errlist_t *errs);

/* Name of the manifest at the top of each version's folder. */
#define IMP_MANIFEST ".vpcdns-import.manifest"
#define IMP_VIEWS "views.yaml"
