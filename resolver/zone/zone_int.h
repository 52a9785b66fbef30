/*
 * Private parts of the zone module: the zone structure and its name index,
 * the per-record staging list the loader fills while reading a file, and
 * the functions shared by the reader (zone_read.c), the index builder
 * (zone_build.c) and the lookup (zone.c). Nothing here is visible outside
 * resolver/zone and the zone unit tests.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "vpcdns/util.h"
#include "vpcdns/wire.h"
#include "vpcdns/zone.h"

/* Most labels a valid name can have (127 one-byte labels + root). */
#define VD_ZONE_LABELS_MAX 128
/* After this many messages a broken file stops adding more. */
#define VD_ZONE_MAX_ERRORS 20

/*
 * One owner name of the zone (or an empty non-terminal: nrrsets == 0).
 * name is lower-cased wire form in the zone's arena. rrsets are sorted by
 * type. wild points at the "*" child of this node, if the zone has one;
 * it is set once at build time so a lookup finds the wildcard of its
 * closest encloser without building the name "*.<encloser>".
 */
typedef struct vd_zone_node {
	const uint8_t *name;
	uint32_t hash; /* vd_zone_hash_* of name, unmixed */
	uint16_t name_len;
	uint16_t nrrsets;
	vd_rrset_t *rrsets;
	const struct vd_zone_node *wild;
} vd_zone_node_t;

struct vd_zone {
	/* Fields ordered to pack: 201,000 of these at 1000 VPCs. */
	atomic_uint refs;
	vd_zone_fallback_t fallback;
	bool racy; /* changed too close to the load to be trusted */
	unsigned apex_labels;
	uint32_t apex_hash; /* vd_zone_hash_name(apex) */
	uint32_t neg_ttl;
	uint32_t rr_count;
	/* Open addressing, linear probing, load <= 1/2. */
	uint32_t mask; /* slot count - 1 (a power of two) */
	uint32_t nodes;
	uint32_t flat_size; /* bytes of the block, once flattened */
	uint64_t text_sum;  /* vd_checksum of the file's text as read */
	vd_zone_node_t **slots;
	const uint8_t *apex; /* lower-cased wire */
	size_t apex_len;
	const vd_zone_node_t *apex_node;
	const vd_rrset_t *soa;
	const char *path;
	/* What it was loaded with and from, for vd_zone_load_reuse. */
	const char *origin_text; /* NULL: from the file */
	uint64_t max_size;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	vd_arena_t arena; /* while building: owns everything above */
};

/* One resource record as read from the file, before RRsets are formed.
 * Its owner and rdata bytes sit in the load's scratch blob (offsets while
 * reading, since the blob moves as it grows; pointers once it is done). */
typedef struct vd_zone_rec {
	union {
		size_t owner_off;
		const uint8_t *owner; /* lower-cased wire */
	};
	union {
		size_t rdata_off;
		const uint8_t *rdata; /* uncompressed wire rdata */
	};
	uint32_t ttl;
	uint16_t type;
	uint16_t rclass;
	uint16_t rdlen;
	uint16_t owner_len;
	unsigned line; /* first line of the record in the file */
	size_t seq;    /* file order, for stable sorting */
} vd_zone_rec_t;

/* State of one load: the zone under construction, where errors go, and
 * the records read so far. recs and blob are malloc'd scratch space freed
 * by the loader, so the zone's arena ends up holding only the final form
 * (one rdata block per RRset rather than one allocation per record). */
typedef struct vd_zone_ctx {
	vd_zone_t *z;
	const char *path;
	vd_errlist_t *errs; /* may be NULL: messages are dropped */
	unsigned nerr;
	vd_zone_rec_t *recs;
	size_t nrecs;
	size_t cap;
	uint8_t *blob;
	size_t blob_len;
	size_t blob_cap;
	uint64_t max_size; /* bytes of the file read at most */
	/* The file opened: name relative to the folder dirfd (AT_FDCWD:
	 * name is path). path is how messages and the zone name it. */
	int dirfd;
	const char *name;
} vd_zone_ctx_t;

/* Adds "path:line: reason" (line 0: "path: reason") and counts it. */
void vd_zone_error(vd_zone_ctx_t *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Finds the origin of a file read without one: the owner of its first SOA,
 * which must then be written fully qualified (or under a $ORIGIN). Leaves
 * fp rewound. Returns 0 or VD_ECONF (reported). */
int vd_zone_read_origin(vd_zone_ctx_t *c, FILE *fp, uint8_t origin[VD_NAME_MAX]);
/* Reads every record of fp (relative names completed with origin, a wire
 * name) into c->recs, with owner/rdata as pointers into c->blob on
 * success. Returns 0, VD_ECONF (reported) or -ENOMEM. */
int vd_zone_read_records(vd_zone_ctx_t *c, FILE *fp, const uint8_t *origin);
/* Reads the len bytes of a zone file at text into c->recs: the fast
 * reader (zone_text.c) if the file is in its subset, else the ldns
 * reader. origin as above (NULL: the first SOA's owner); found gets the
 * origin the records were read with. Returns 0, VD_ECONF (reported) or
 * -ENOMEM. */
int vd_zone_read_text(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX]);
/* The two readers alone, for the tests. vd_zone_read_fast reports
 * nothing: it returns 0, -ENOMEM or VD_ZONE_NOT_MINE (c->recs left
 * empty) for any text outside its subset. */
#define VD_ZONE_NOT_MINE 1
int vd_zone_read_fast(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX]);
int vd_zone_read_ldns(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX]);
/* Appends a record whose owner (lower-cased) and rdata are pointers, and
 * turns the offsets of all records into pointers once reading is done. */
int vd_zone_rec_add(vd_zone_ctx_t *c, const vd_zone_rec_t *r);
void vd_zone_recs_done(vd_zone_ctx_t *c);

/* Validates c->recs against the apex (c->z->apex must be set) and builds
 * RRsets, nodes, empty non-terminals, wildcard links and the hash index.
 * Returns 0, VD_ECONF (reported) or -ENOMEM. */
int vd_zone_build(vd_zone_ctx_t *c);

/* Copies the complete zone z into one exact-size block, *out, and frees
 * z (vd_zone_free_built). On -ENOMEM z is left as it was. */
int vd_zone_flatten(vd_zone_t *z, vd_zone_t **out);
/* Around reading or writing a live zone's file identity (zone.c). */
void vd_zone_identity_lock(void);
void vd_zone_identity_unlock(void);
/* Whether two flat zones hold the same data in the same layout: every
 * field and byte equal, every internal pointer at the same place in its
 * block. Their file identities are not compared. */
bool vd_zone_same_data(const vd_zone_t *a, const vd_zone_t *b);
/* Frees a zone still in its build arena, whatever its refs (a load that
 * failed before vd_zone_flatten; a flattened zone is one block). */
void vd_zone_free_built(vd_zone_t *z);

/* Name hashing. A name's hash is built label by label from the root, so a
 * lookup gets the hash of every suffix of the query name in one pass:
 * hash(root) = VD_ZONE_HASH_ROOT, hash(l.parent) = hash_label(hash(parent), l).
 * label points at the length byte. vd_hash over the label bytes, keyed by
 * the parent's hash; the fixed seed is enough, as only names from zone
 * files are ever inserted. */
#define VD_ZONE_HASH_ROOT ((uint32_t)VD_HASH_SEED_FIXED)
uint32_t vd_zone_hash_label(uint32_t parent, const uint8_t *label);
uint32_t vd_zone_hash_name(const uint8_t *name);

/* Index probe: the node whose name is the len bytes at name (lower-cased
 * wire) and whose hash is hash, or NULL. */
vd_zone_node_t *vd_zone_index_find(vd_zone_node_t *const *slots, size_t mask,
				   const uint8_t *name, size_t len, uint32_t hash);
/* Slot a name with this hash starts probing at. */
static inline size_t vd_zone_index_slot(uint32_t hash, size_t mask)
{
	return hash & mask; /* vd_hash's bits are all well mixed */
}
