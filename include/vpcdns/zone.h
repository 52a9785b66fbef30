/*
 * zone: RFC 1035 zone files read with ldns into an immutable, lookup-ready
 * form, and the lookup rules of a local zone (exact match, NODATA, empty
 * non-terminals, RFC 4592 wildcards, CNAME, ANY). Every RRset's rdata is
 * stored precompiled in wire form at load time, so answering needs no ldns
 * object and no allocation. Depends on wire and util (and ldns at load).
 *
 * Ownership: a vd_zone_t owns all its memory (one arena). Zones are
 * immutable after vd_zone_load returns and may be read by any thread.
 * A zone is shared by every view (and snapshot) that references the same
 * file content; lifetime is managed with vd_zone_ref / vd_zone_unref.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"

/* What to do with a name under the apex that the zone does not hold. */
typedef enum {
	VD_ZONE_FALLBACK_FORWARD = 0, /* as if this zone did not exist */
	VD_ZONE_FALLBACK_NXDOMAIN,    /* authoritative NXDOMAIN + SOA */
} vd_zone_fallback_t;

/* One RRset, rdata precompiled. rdata[i] points at rdlen[i] bytes of
 * uncompressed wire rdata. */
typedef struct vd_rrset {
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	uint16_t count;
	const uint8_t **rdata;
	const uint16_t *rdlen;
} vd_rrset_t;

typedef struct vd_zone vd_zone_t;

/* Loads a zone file. origin_text may be NULL (then the file must set
 * $ORIGIN or its SOA owner is fully qualified). The apex is the owner of
 * the SOA, which must exist exactly once. Every record must lie at or
 * below the apex. Errors go to errs as "path:line: reason" and the result
 * is VD_ECONF. */
/*
 * Details of vd_zone_load:
 * - Without origin_text and before any $ORIGIN, the owner of the first SOA
 *   (which must then be written fully qualified) is the origin of every
 *   relative name, including records above the SOA.
 * - A record without a TTL gets the last $TTL, or 3600 before any $TTL.
 * - Records of one name and type form one RRset whose TTL is the SMALLEST
 *   of their TTLs (RFC 2181 5.2 wants them equal; the minimum never keeps
 *   an answer cached longer than any of its records allows). Identical
 *   records are stored once; rdata are in RFC 4034 canonical order.
 * - Rejected, each reported as "path:line: reason" (parse errors use
 *   ldns's wording): syntax errors, $INCLUDE, no SOA or more than one, a
 *   SOA elsewhere than at the apex, a record outside the apex, a CNAME
 *   beside other data or a second CNAME at one name, class other than IN,
 *   DNAME (its redirection is not implemented). Errors are collected, not
 *   just the first; after 20 one more message says the rest were dropped.
 * - errs may be NULL. -EINVAL for a NULL path/out or a bad fallback,
 *   -ENOMEM when memory runs out; *out is NULL on any error.
 */
int vd_zone_load(const char *path, const char *origin_text, vd_zone_fallback_t fallback,
		 vd_zone_t **out, vd_errlist_t *errs);

/* Default of server.zone_file_max_size: the largest zone file read. */
#define VD_ZONE_FILE_MAX_SIZE (64ull << 20)

/* vd_zone_load with a limit on the file's size (vd_zone_load uses
 * VD_ZONE_FILE_MAX_SIZE). The file is opened with O_NONBLOCK and checked
 * with fstat on that descriptor before anything is parsed: anything but a
 * regular file ("path: not a regular file": a FIFO, a device, a
 * directory) and a file larger than max_size ("path: file is N bytes,
 * more than the limit of M (server.zone_file_max_size)") are VD_ECONF at
 * once, without blocking and without reading; so is a file that grows
 * past max_size while it is read. */
int vd_zone_load_max(const char *path, const char *origin_text,
		     vd_zone_fallback_t fallback, uint64_t max_size, vd_zone_t **out,
		     vd_errlist_t *errs);

/* How a zone file is loaded, beside its path. */
typedef struct vd_zone_opts {
	const char *origin; /* NULL: from the file (see vd_zone_load) */
	vd_zone_fallback_t fallback;
	uint64_t max_size; /* bytes; 0: VD_ZONE_FILE_MAX_SIZE */
} vd_zone_opts_t;

/* Within this long of the start of a load (or later), a file's change
 * time is "racy": a write in the same timestamp tick, just after the
 * read, would leave it unchanged, so the zone is never reused. */
#define VD_ZONE_RACY_NS 1000000000ll

/*
 * vd_zone_load_max, unless prev can stand for the file: then *out is prev
 * with one more reference and *reused is true (reused may be NULL). prev
 * (NULL: none) is a zone of an earlier load; it is reused when it was
 * loaded from the same path with equal opts (origin compared as text), the
 * file's identity taken now with one stat, before any open (device,
 * inode, size, mtime and ctime to the nanosecond: a file made unreadable
 * since has a new ctime), is the one prev was read with, and prev's load
 * was not racy: its file's mtime and ctime were older than
 * VD_ZONE_RACY_NS before that load began. A file replaced by rename (new
 * inode), rewritten (new size, mtime or ctime) or even touched is opened
 * and read, with the open, type and size checks of vd_zone_load_max.
 * prev may be in use by other threads: of prev only its file identity
 * ever changes, when the file was read (its identity differed) and holds
 * exactly the data of prev. Then *out is prev, with the new identity and
 * one more reference, *reused is false (the file was read), and the new
 * copy is freed: a reload after every file was touched, or rewritten with
 * the same content, keeps one copy of each zone.
 */
int vd_zone_load_reuse(const char *path, const vd_zone_opts_t *opts, vd_zone_t *prev,
		       vd_zone_t **out, bool *reused, vd_errlist_t *errs);

/* vd_zone_load_reuse for the file name in the open folder dirfd (AT_FDCWD:
 * name is a path of its own), whose full path is path: every system call
 * uses dirfd and name (one path component to look up instead of the
 * whole path), while messages, vd_zone_path and the reuse check use path,
 * which must name the same file. */
int vd_zone_load_reuse_at(int dirfd, const char *name, const char *path,
			  const vd_zone_opts_t *opts, vd_zone_t *prev, vd_zone_t **out,
			  bool *reused, vd_errlist_t *errs);

void vd_zone_ref(vd_zone_t *z);
void vd_zone_unref(vd_zone_t *z); /* frees at the last unref; NULL is ok */

/* ---- zone images -------------------------------------------------------
 * A loaded zone is one block of memory whose pointers all point into
 * itself. Its image is those bytes and the address they were at: enough
 * for a later process to take the zone back without reading its file
 * (conf keeps the images of a snapshot's zones in the state directory).
 */
/* Changes whenever the block's layout does: images of another layout
 * cannot be loaded. */
uint32_t vd_zone_image_layout(void);
/* Copies the block of z into buf when it fits in cap bytes; returns its
 * size either way. z's address is the base to load the copy with. Safe
 * while a build runs (it may give z a new file identity meanwhile). */
size_t vd_zone_image_copy(const vd_zone_t *z, void *buf, size_t cap);
/* A zone (one reference) from len bytes that were the block of a zone at
 * address base: copied, each internal pointer moved to the copy after a
 * check that it lands inside it. bytes is only read. The zone keeps the
 * file identity, racy flag and options it was read with, so
 * vd_zone_load_reuse decides about it as about a zone of this process.
 * 0, -ENOMEM, or VD_EMALF when the bytes are not a zone block. */
int vd_zone_image_load(const void *bytes, size_t len, uint64_t base, vd_zone_t **out);

/* Lower-cased apex name (wire form). */
const uint8_t *vd_zone_apex(const vd_zone_t *z);
/* False when the file changed too close to the load for its identity to
 * be trusted (racy): such a zone is never reused. */
bool vd_zone_reusable(const vd_zone_t *z);
/* A hash of the apex name: equal apexes (of any zones) hash equal. */
uint32_t vd_zone_apex_hash(const vd_zone_t *z);
vd_zone_fallback_t vd_zone_fallback(const vd_zone_t *z);
const char *vd_zone_path(const vd_zone_t *z);
/* The origin the zone was loaded with as given (NULL: from the file). */
const char *vd_zone_origin(const vd_zone_t *z);
/* SOA rrset of the apex, and TTL to use for negative answers:
 * min(SOA TTL, SOA MINIMUM). */
const vd_rrset_t *vd_zone_soa(const vd_zone_t *z);
uint32_t vd_zone_neg_ttl(const vd_zone_t *z);
/* Number of records loaded (statistics). */
size_t vd_zone_rr_count(const vd_zone_t *z);

/* Result of one lookup in one zone. */
typedef enum {
	VD_ZL_ANSWER,	/* rrset holds the answer (qtype, or the ANY pick) */
	VD_ZL_CNAME,	/* rrset is a CNAME at the name; chase its target */
	VD_ZL_NODATA,	/* name exists (or empty non-terminal); no such type */
	VD_ZL_NXDOMAIN, /* no such name, zone fallback is nxdomain */
	VD_ZL_FALLBACK, /* no such name, zone fallback is forward */
} vd_zl_result_t;

/* Looks qname_lc (lower-cased, at or below the apex) up for qtype.
 * Wildcards per RFC 4592: when qname does not exist and the closest
 * encloser has a "*" child, the wildcard's data answers (wildcard is set
 * true; the caller uses qname as the owner). qtype ANY yields one RRset
 * (RFC 8482 minimal answer: the node's first RRset). qtype CNAME at a
 * CNAME node is VD_ZL_ANSWER. Allocation-free and lock-free. */
/*
 * In order: at an existing node (empty non-terminals included), a CNAME
 * answers VD_ZL_CNAME unless qtype is CNAME; ANY answers the first RRset
 * (lowest type) or NODATA at an empty node; the qtype's RRset is
 * VD_ZL_ANSWER; otherwise VD_ZL_NODATA. A missing name: the closest
 * encloser is its longest existing ancestor; if that node has a "*" child
 * the same rules apply to the "*" node with *wildcard = true (so "*.x"
 * does not answer "a.b.x" when "b.x" exists, RFC 4592 3.3.1); otherwise
 * VD_ZL_NXDOMAIN or VD_ZL_FALLBACK by the zone's fallback. A qname not at
 * or below the apex, or a NULL z/qname_lc, gives VD_ZL_FALLBACK. rrset
 * and wildcard may be NULL; *rrset is NULL unless the result is ANSWER or
 * CNAME, and then points into the zone (valid while it is referenced).
 * Cost: one hash probe per label below the apex.
 */
vd_zl_result_t vd_zone_lookup(const vd_zone_t *z, const uint8_t *qname_lc,
			      uint16_t qtype, const vd_rrset_t **rrset, bool *wildcard);

/* Calls cb for every RRset of the zone, with its owner (lower-cased wire
 * name; "*" labels as written), in no particular order. For building
 * per-view tables at snapshot time, never per query. */
void vd_zone_foreach_rrset(const vd_zone_t *z,
			   void (*cb)(void *arg, const uint8_t *owner,
				      const vd_rrset_t *rs),
			   void *arg);
