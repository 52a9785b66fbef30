/*
 * import: the endpoint-inventory importer behind vpcdns-import. It reads the
 * JSON that `aws ec2 describe-vpc-endpoints`, `describe-network-interfaces`
 * and `describe-subnets` print (and `create-vpc-endpoint`'s single-object
 * form), joins each interface endpoint to its network interfaces and their
 * subnets, and renders, for each VPC, RFC 1035 zone files holding the
 * endpoint's DNS names, a subnets file (CIDR → Availability Zone) and a view
 * ready to paste into the configuration. Names come only from the
 * endpoint's own DNS entries, classified by their shape, never guessed from
 * the service name.
 *
 * Everything is computed in memory: vd_import_build renders every output
 * file, and only vd_import_write touches the disk, so an input error leaves
 * the output directory as it was. Depends on wire, util and jansson.
 * A vd_import_t is used by one thread at a time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/util.h"

/* TTL of every record written: what AWS's endpoint names answer. */
#define VD_IMPORT_TTL 60
/* Room for a normalized name in text form (253 characters and the NUL). */
#define VD_IMPORT_NAME_TEXT 256
/* Room for an Availability Zone name ("us-east-1-bos-1a") and the NUL. */
#define VD_IMPORT_AZ_TEXT 64

/* ---- record types from DnsOptions.DnsRecordIpType ----------------------
 * ipv4 → A; ipv6 → AAAA; dualstack → A and AAAA; service-defined → A on
 * every name and AAAA only on the vpce names. An absent option is ipv4.
 */
typedef enum {
	VD_IMPORT_IP_IPV4 = 0,
	VD_IMPORT_IP_IPV6,
	VD_IMPORT_IP_DUALSTACK,
	VD_IMPORT_IP_SERVICE_DEFINED,
} vd_import_iptype_t;

/* "ipv4", "ipv6", "dualstack" or "service-defined" (exact, as AWS prints
 * them) into *out. Returns 0, or VD_EMALF for anything else or NULL. */
int vd_import_iptype_parse(const char *s, vd_import_iptype_t *out);
/* The AWS spelling of t; "?" for a value outside the enum. Never NULL. */
const char *vd_import_iptype_name(vd_import_iptype_t t);
/* Which record types a name gets: vpce_name is true for the endpoint's
 * vpce-… names (regional, zonal and S3 wildcards), false for its private
 * names. Either output pointer may be NULL. */
void vd_import_iptype_families(vd_import_iptype_t t, bool vpce_name, bool *a,
			       bool *aaaa);

/* ---- DnsEntries classification -----------------------------------------
 * An entry's DnsName is classified by its shape alone (AWS lists them in
 * no reliable order):
 *   [*.]vpce-<id>-<x>.<service…>.<region>.vpce.amazonaws.com[.cn]
 *        regional vpce name (x has no '-'); zone <region>.vpce.amazonaws.com
 *   [*.]vpce-<id>-<x>-<az-name>.<service…>.<region>.vpce.amazonaws.com[.cn]
 *        zonal vpce name: answers only the network interface in <az-name>
 *   anything else: a private DNS name; its zone apex is the name without a
 *        leading "*." (so "x" and "*.x" share the zone "x").
 * A leading "*." makes a wildcard (S3's "*.vpce-….s3…", ECR's "*.dkr.ecr…").
 */
typedef enum {
	VD_IMPORT_NAME_PRIVATE = 0,
	VD_IMPORT_NAME_REGIONAL,
	VD_IMPORT_NAME_ZONAL,
} vd_import_name_kind_t;

typedef struct vd_import_name {
	vd_import_name_kind_t kind;
	bool wildcard;			 /* first label is "*" */
	char name[VD_IMPORT_NAME_TEXT];	 /* lower case, no final dot */
	char zone[VD_IMPORT_NAME_TEXT];	 /* apex of the zone it belongs in */
	char owner[VD_IMPORT_NAME_TEXT]; /* relative to zone; "@" at the apex */
	char az[VD_IMPORT_AZ_TEXT];	 /* ZONAL: the AZ name; else "" */
} vd_import_name_t;

/* Classifies dns_name (case-insensitive, final dot optional) as a name of
 * the endpoint endpoint_id ("vpce-…"). Names must be host names: labels of
 * letters, digits, '-' and '_', with "*" allowed only as the whole first
 * label; a private name needs at least two labels below any wildcard. A
 * name under vpce.amazonaws.com that is not one of this endpoint's vpce
 * names is rejected. Returns 0 with *out filled, -EINVAL for NULL
 * arguments, or VD_EMALF with *why (if why is not NULL) set to a static
 * reason such as "not a host name". */
int vd_import_name_classify(const char *dns_name, const char *endpoint_id,
			    vd_import_name_t *out, const char **why);

/* ---- the importer --------------------------------------------------------
 * Typical use: new, add_vpc for each --vpc, load_file for each input,
 * build, write, then read the summaries; free. Every function reports
 * problems as whole messages appended to errs (never printed here):
 *   "file:line:column: <jansson message>"            malformed JSON
 *   "file: $.VpcEndpoints[2].DnsEntries[0].DnsName: expected string"
 *   "vpcdns-import: <reason naming the IDs involved>" inconsistent input
 * and returns VD_EMALF when it added any (or -ENOMEM, -EINVAL, -errno).
 */
typedef struct vd_import vd_import_t;

/* A new, empty importer; NULL only on out of memory. */
vd_import_t *vd_import_new(void);
/* Frees the importer, every loaded document and every rendered file.
 * NULL does nothing. */
void vd_import_free(vd_import_t *im);

/* Restricts the output to this VPC (may be called several times; the
 * default is every VPC with an available interface endpoint). A VPC named
 * here is written even when it has no endpoint left, so its stale zone
 * files are removed. Returns 0, or VD_EMALF if vpc_id is not "vpc-" and
 * letters or digits. */
int vd_import_add_vpc(vd_import_t *im, const char *vpc_id);

/* Tags the documents loaded after this call (until the next call):
 * source names where they come from ("prod/us-east-1"; printable ASCII,
 * no spaces, quotes or backslashes, at most 128 bytes, not "-"), region
 * is their AWS region, written into the views as `region:`. NULL for
 * none. Each VPC's source is recorded in the manifest; with prune, a VPC
 * of the previous import that is absent from the input is removed only
 * if its source is one of the sources loaded this time. Returns 0,
 * VD_EMALF for a bad name, or -EINVAL after build. */
int vd_import_set_origin(vd_import_t *im, const char *source, const char *region);
/* Whether VPCs of the previous import that are absent from this input
 * (and whose source was loaded) are removed from the new tree; the
 * default keeps them. Returns 0 or -EINVAL after build. */
int vd_import_set_prune(vd_import_t *im, bool prune);

/* Loads one AWS CLI output: path "-" reads stdin (named "<stdin>" in
 * messages; only once). The document's top-level keys say what it is:
 * VpcEndpoints, VpcEndpoint, NetworkInterfaces, Subnets, Vpcs (several may appear;
 * NextToken and unknown keys are ignored). Pages of one call may be loaded
 * as separate files: an ID seen twice with identical content counts once,
 * with different content it is an error (reported by vd_import_build). */
int vd_import_load_file(vd_import_t *im, const char *path, vd_errlist_t *errs);
/* The same from memory; name is used in messages. The buffer is not kept. */
int vd_import_load_buffer(vd_import_t *im, const char *name, const char *buf,
			  size_t len, vd_errlist_t *errs);

/* Called for each line meant for the operator that is not an error: one
 * "skipping vpce-… (<type>, <service>): <why>" per endpoint not imported,
 * and warnings (a subnet missing from the input, ...). msg has no prefix
 * and no newline, and lives only during the call. */
typedef void (*vd_import_note_fn)(void *arg, const char *msg);

/* Joins, checks and renders everything. out_dir is the directory the files
 * will be written under, as the view file should name it (kept as given,
 * trailing slashes dropped). note may be NULL. On error nothing is
 * rendered; build may be called once per importer. */
int vd_import_build(vd_import_t *im, const char *out_dir, vd_import_note_fn note,
		    void *arg, vd_errlist_t *errs);

/* One rendered file. path is relative to out_dir ("vpc-…/zones/x.zone"). */
typedef struct vd_import_file {
	const char *path;
	const char *data;
	size_t len;
} vd_import_file_t;

/* The rendered files, sorted by path; *n is 0 before a successful build.
 * Owned by the importer; valid until vd_import_free. */
const vd_import_file_t *vd_import_files(const vd_import_t *im, size_t *n);

/* Per-VPC counts of a successful build, sorted by VPC ID. */
typedef struct vd_import_summary {
	const char *vpc;    /* "vpc-…" */
	unsigned endpoints; /* interface endpoints imported */
	unsigned skipped;   /* endpoints of this VPC not imported */
	unsigned zones;	    /* zone files */
	unsigned records;   /* A and AAAA records (SOA not counted) */
	unsigned subnets;   /* entries of subnets.yaml */
} vd_import_summary_t;
const vd_import_summary_t *vd_import_summaries(const vd_import_t *im, size_t *n);

/* The folder the new version is written to ("<out_dir>.v<N>"), as the
 * view files name it; NULL before a successful build. */
const char *vd_import_version_dir(const vd_import_t *im);

/* The output tree. out_dir is a symbolic link to a versioned folder beside
 * it ("<out_dir>.v<N>") holding the whole import: <vpc-id>/ folders,
 * views.yaml (every view, the form of views:) and .vpcdns-import.manifest
 * (each VPC with its source, and every file written). The build reads the
 * previous version's manifest: VPCs it lists that are not in this input
 * are reported through note and carried into the new version, or dropped
 * with prune (see vd_import_set_prune). A path that exists and is not
 * such a link is an error at build time.
 *
 * vd_import_write writes the new version under "<out_dir>.new-<pid>",
 * renames it to "<out_dir>.v<N>" and replaces the link with rename(2), so
 * a reader that opens out_dir/views.yaml sees the complete old or the
 * complete new set (the view files name the versioned folder, which the
 * next import keeps). Then versions older than the previous one are
 * removed, file by file as their manifests list them; a file no manifest
 * lists is never removed. On failure the link is untouched and this
 * run's files are removed. Returns 0, or -errno with a message in errs. */
int vd_import_write(const vd_import_t *im, vd_import_note_fn note, void *arg,
		    vd_errlist_t *errs);
