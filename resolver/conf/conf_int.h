/*
 * conf private: the state of one configuration build (the snapshot being
 * filled, the error list, the zone cache that lets views share a zone) and
 * the helpers the section builders share to check YAML node types and to
 * report "file:line: reason" errors. Every section builder records what is
 * wrong and carries on, so a single load reports as many problems as it
 * can; the load fails at the end if any error was recorded.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_yaml.h"
#include "vpcdns/conf.h"
#include "vpcdns/watch.h"

/* A zone loaded during this build, keyed by what makes it the same zone:
 * the resolved file path, the fallback and the origin. */
typedef struct zcache_ent {
	/* malloc'd when owns_real, else a folder scan's; NULL for a known
	 * zone: its own path (zones.c ent_path) */
	char *real;
	char *origin;	 /* malloc'd or NULL */
	vd_zone_t *zone; /* holds one reference; NULL: failed */
	const char *dir; /* the file's folder (fcache_ent_t.real); NULL: none */
	/* Filled by the load (zones.c load_all, possibly on another
	 * thread): the result, the file's own messages (reported at the
	 * zone's first use, so they come in the order of the config; NULL
	 * when there are none) and whether the previous snapshot's zone
	 * stood for the file. */
	vd_errlist_t *errs;
	uint32_t base; /* the file's name in dir: real + base */
	uint32_t hash;
	/* The zone's apex hash and record count, once it is there. */
	uint32_t apex_hash, nrr;
	int rc;
	vd_zone_fallback_t fallback;
	bool reused, reported;
	bool from_image; /* read from the zone image, not the file */
	bool owns_real;
	/* The zone came with the entry (an unchanged folder's record):
	 * nothing to load. */
	bool known;
} zcache_ent_t;

/* An item of a view's zones list that named zone files, and one use of
 * a zone file by such an item, recorded while the views are read and
 * resolved once every zone is loaded (vd_conf_zones_attach). A folder
 * item has a use per file: 8 bytes each. */
typedef struct zitem_use {
	vd_view_t *view;
	const ynode_t *node;
	const char *where; /* "views[0].zones[1]", in the tree's arena */
} zitem_use_t;

typedef struct zuse {
	uint32_t ent;  /* index into zc */
	uint32_t item; /* index into zitems */
} zuse_t;

/* The zones of a snapshot by what makes them the same zone (path,
 * fallback, origin: zkey_hash in zones.c), kept with the snapshot so the
 * next build can find the zone it may reuse (vd_conf_reload). Open
 * addressing, at most half full. */
/* A slot of an index over an array: the key's hash beside the entry's
 * index + 1 (0: empty), so a probe that misses reads no entry. */
typedef struct hslot {
	uint32_t hash;
	uint32_t idx;
} hslot_t;

/* Puts entry i under hash into slots (mask + 1 of them, linear probing;
 * the caller keeps them at most half full). */
static inline void vd_hslot_put(hslot_t *slots, size_t mask, uint32_t hash, size_t i)
{
	size_t j = hash & mask;

	while (slots[j].idx)
		j = (j + 1) & mask;
	slots[j] = (hslot_t){ hash, (uint32_t)i + 1 };
}

typedef struct zslot {
	uint32_t hash; /* the key's, so a probe that misses reads no zone */
	vd_zone_t *zone;
} zslot_t;

typedef struct ztable {
	zslot_t *slots; /* malloc'd; one reference each; zone NULL: empty */
	size_t mask;	/* slot count - 1 */
	size_t n;
} ztable_t;

/* A zone folder as a build found it, kept with the snapshot for the next
 * build (zones.c): while the watch shows the folder unchanged since mark,
 * its zone files are exactly these zones, in name order, each with its
 * key's hash (path, fallback, no origin), and need neither a listing nor
 * a stat. Only folders whose every zone file is a regular file in the
 * folder itself are kept: a symlink's target changes unseen. */
typedef struct frec {
	const char *real; /* in the table's names */
	vd_watch_mark_t mark;
	vd_zone_fallback_t fallback; /* the zones' */
	size_t n;
	zslot_t *files; /* in the table's files; zones borrowed from the
			 * snapshot's table */
} frec_t;

/* A snapshot's folder records, with an index by path. Three blocks
 * whatever the number of folders: small allocations made at the end of a
 * build would sit among the build's freed lists and keep them from going
 * back to the system. */
typedef struct ftable {
	frec_t *v; /* malloc'd */
	size_t n;
	zslot_t *files; /* malloc'd: every record's, one after the other */
	char *names;	/* malloc'd: every record's path */
	hslot_t *slots; /* malloc'd; mask + 1, at most half full */
	size_t mask;
} ftable_t;

/* A zone folder already scanned during this build: the resolved paths of
 * its zone files, in name order, so views naming the same folder cost no
 * more system calls. A folder the watch shows unchanged is not scanned:
 * rec lends its files. */
typedef struct fcache_ent {
	char *real;   /* malloc'd */
	char **files; /* malloc'd, each pointing into block; NULL with rec */
	char *block;  /* malloc'd: the paths, one after the other */
	size_t n;
	uint32_t hash;	      /* of real, for the build's index */
	int err;	      /* errno of a failed scan, else 0 */
	const frec_t *rec;    /* the replaced snapshot's record, or NULL */
	vd_watch_mark_t mark; /* made before the scan (marked), or rec's */
	bool marked;
	bool regular; /* every zone file listed is a regular file in it */
	/* For this build's record: the zc entry of each file, as the first
	 * item naming the folder added them, and that item's fallback. */
	uint32_t *ents; /* malloc'd, n of them; NULL: none kept */
	vd_zone_fallback_t fallback;
} fcache_ent_t;

/* A client prefix already in the view table, for duplicate messages. */
typedef struct client_ref {
	vd_cidr_t cidr;
	int view;
	const char *file; /* the file that lists it (a YAML tree's name) */
	unsigned long line;
} client_ref_t;

/* The nameservers of resolv.conf, read at most once per build. */
typedef struct sysns {
	bool read;
	int err;		/* -errno when the file could not be read */
	char *path;		/* malloc'd */
	vd_upstream_t *servers; /* in the snapshot arena */
	size_t n;
} sysns_t;

/* What a view's link pass needs from its YAML, kept until every view is
 * read (includes may name later views). */
typedef struct view_tmp {
	const ynode_t *name;	/* the name's value node; NULL: none valid */
	struct fwd_rule *rules; /* malloc'd */
	size_t nrules;
	const yn_pair_t *include; /* NULL: none */
	const yn_pair_t *subnets; /* NULL: none */
} view_tmp_t;

/* A view file read by this build (view_files): the name its nodes carry
 * (messages and the folder of its relative paths). */
typedef struct vfile {
	char *name;   /* malloc'd; the path as found (server.directory joined) */
	char *dir;    /* malloc'd; its folder */
	char *real;   /* malloc'd; resolved, to find a file matched twice */
	size_t entry; /* index in view_files */
	unsigned long entry_line;
} vfile_t;

/* One view to build: vpcdns.yaml's views first, then each view file's in
 * view_files order (a glob's matches sorted by name). */
typedef struct vitem {
	const ynode_t *m; /* its map, with its entry's defaults merged in */
	size_t pos;	  /* position in its own list: "views[pos]" */
} vitem_t;

typedef struct vlist {
	vitem_t *v; /* malloc'd */
	size_t n, cap;
} vlist_t;

typedef struct cbuild {
	const char *file; /* config path as given, for messages */
	vd_arena_t *tree; /* the YAML trees of this build (view files too) */
	vfile_t *vfiles;  /* malloc'd */
	size_t nvfiles, capvfiles;
	vd_errlist_t *errs;
	unsigned nerr;
	bool nomem;
	vd_snap_t *snap;
	/* The snapshot being replaced (NULL: none), read only: other
	 * threads answer from it meanwhile. Its zones are reused when
	 * their files did not change. */
	const ztable_t *prev_zones;
	const vd_snap_t *prev;	      /* the snapshot replaced (reload), or NULL */
	const ftable_t *prev_folders; /* prev's folder records, or NULL */
	/* The zone folders' watch (NULL: none), drained when the build
	 * starts; watching: it is there and server.watch_zones is on. */
	vd_watch_t *watch;
	bool watching;
	/* The zone image, on a first load (use_image) with a state_dir;
	 * image_damaged: a record of it could not be used (set by the
	 * loading threads). */
	bool use_image;
	struct vd_conf_image *image;
	atomic_bool image_damaged;
	vd_arena_t *a;	  /* &snap->arena */
	char *confdir;	  /* malloc'd; folder of the config file */
	char *zonedir;	  /* malloc'd; NULL when unusable */
	zcache_ent_t *zc; /* malloc'd */
	size_t nzc, capzc;
	/* Hash index over zc (entry index + 1, 0 = empty), at most half
	 * full, so a build naming 200 000 zone files stays linear. */
	hslot_t *zslots; /* malloc'd */
	size_t zmask;
	zuse_t *zu; /* malloc'd */
	size_t nzu, capzu;
	zitem_use_t *zitems; /* malloc'd */
	size_t nzitems, capzitems;
	fcache_ent_t *fc; /* malloc'd */
	size_t nfc, capfc;
	hslot_t *fslots; /* malloc'd; index over fc by path, at most half full */
	size_t fmask;
	client_ref_t *clients; /* malloc'd */
	size_t nclients, capclients;
	sysns_t sys;
	view_tmp_t *vtmp; /* malloc'd, one per view */
	/* server.rate_limit as given (before derived defaults) and which
	 * keys it set, for the views' overrides (protect.c). */
	vd_guard_rl_conf_t rl_raw;
	unsigned rl_set;
	/* Warnings (vd_conf_check only; NULL: none are looked for) and this
	 * host's interface addresses for them, read once (warn.c). */
	vd_errlist_t *warns;
	struct sockaddr_storage *ifaddrs; /* malloc'd */
	size_t nifaddrs;
	bool ifaddrs_read;
} cbuild_t;

/* The reference count of a snapshot built by vd_conf_load, for conf's
 * own unit tests (which break it on purpose to test the guard). */
atomic_uint *vd_conf_snap_refcount(vd_snap_t *s);

/* Records one error at line (0: no line). */
void vd_conf_err(cbuild_t *b, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records one error at node n's file and line (b->file when n is NULL or
 * has no file). The same message twice is recorded once (a default shared
 * by every view of a glob is wrong once), but counted each time. */
void vd_conf_nerr(cbuild_t *b, const ynode_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Marks the build as out of memory (reported once at the end). */
void vd_conf_nomem(cbuild_t *b);

/* Reports every key of map m not in the NULL-terminated allowed list as
 * "unknown key 'k' in <where>". */
void vd_conf_check_keys(cbuild_t *b, const ynode_t *m, const char *const *allowed,
			const char *where);

/* Scalar readers. Each takes the "key: value" pair (type errors are
 * reported at the key's line, bad contents at the value's line) and the
 * dotted name of the key for messages. They return 0, or -1 after
 * recording an error. Strings point into the YAML tree, which is freed at
 * the end of the build: copy what the snapshot keeps. */
int vd_conf_string(cbuild_t *b, const yn_pair_t *p, const char *what, const char **out);
int vd_conf_bool(cbuild_t *b, const yn_pair_t *p, const char *what, bool *out);
int vd_conf_duration(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *ms);
int vd_conf_uint(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *out);
/* A byte count: "1000000", "512KiB", "64MiB", "1GiB" (also B, k, KB, MB,
 * GB), at most max (a whole number of GiB, named in the message). */
int vd_conf_size(cbuild_t *b, const yn_pair_t *p, const char *what, uint64_t max,
		 uint64_t *out);
/* Whether v is a sequence whose items are all non-null scalars. */
bool vd_conf_is_string_list(const ynode_t *v);

/* Section builders, in the order vd_conf_load runs them. */
void vd_conf_build_server(cbuild_t *b, const ynode_t *root);
void vd_conf_build_upstreams(cbuild_t *b, const ynode_t *root);
/* The "cache" section, and each group's cache identity (cache.c). */
void vd_conf_build_cache(cbuild_t *b, const ynode_t *root);
void vd_conf_build_views(cbuild_t *b, const ynode_t *root);
/* The "firewall" section: lists (read now) and rule groups (firewall.c). */
void vd_conf_build_firewall(cbuild_t *b, const ynode_t *root);
/* A view's "firewall" list of rule groups (firewall.c). */
void vd_conf_view_firewall(cbuild_t *b, vd_view_t *v, const ynode_t *m,
			   const char *where);

/* Reads view_files: appends every view of every file they name to out,
 * with its entry's defaults merged in (viewfiles.c). */
void vd_conf_view_files(cbuild_t *b, const ynode_t *root, vlist_t *out);
/* Appends one view to out. 0 or -ENOMEM. */
int vd_conf_vlist_push(vlist_t *out, const ynode_t *m, size_t pos);
/* The folder relative paths written at node n start from: the folder of
 * the view file n was read from, else server.directory (NULL when that is
 * unusable, which was reported). */
const char *vd_conf_base_dir(const cbuild_t *b, const ynode_t *n);
/* Frees the view file records. */
void vd_conf_vfiles_free(cbuild_t *b);
/* The "http" section (http.c). */
void vd_conf_build_http(cbuild_t *b, const ynode_t *root);
/* The "query_log" section (qlog.c); after the views, which it names. */
void vd_conf_build_qlog(cbuild_t *b, const ynode_t *root);

/* server.rate_limit (p NULL: absent) and one view's rate_limit, which
 * the server's must precede (protect.c). */
void vd_conf_server_rate_limit(cbuild_t *b, const yn_pair_t *p);
void vd_conf_view_rate_limit(cbuild_t *b, int vi, const ynode_t *m, const char *where);
/* server.cookie_secret: one or a list of 32-hex-digit secrets. */
void vd_conf_server_cookie_secret(cbuild_t *b, const yn_pair_t *p);

/* Adds the zones named by one views[].zones list to v (zones.c). */
void vd_conf_view_zones(cbuild_t *b, vd_view_t *v, const yn_pair_t *p,
			const char *where);
/* Drops the build's own references on cached zones and frees the zone
 * and folder caches. */
void vd_conf_zcache_free(cbuild_t *b);
/* Loads every zone the views named (in parallel, on up to one thread per
 * CPU) and adds each to its views in the order of the config, reporting
 * failures and duplicate apexes as the views list them. */
void vd_conf_zones_attach(cbuild_t *b);
/* Moves the zones of a successful build into out (an empty table),
 * counting them and those reused into b->snap. 0 or -ENOMEM. */
int vd_conf_ztable_take(cbuild_t *b, ztable_t *out);
/* Drops a table's references and frees it. */
void vd_conf_ztable_free(ztable_t *t);
/* The zone table of a snapshot built by vd_conf_load (build.c). */
const ztable_t *vd_conf_snap_zones(const vd_snap_t *s);
ztable_t *vd_conf_snap_ztable(vd_snap_t *s);
/* Its folder records (zones.c fills them at the end of a build). */
const ftable_t *vd_conf_snap_folders(const vd_snap_t *s);
ftable_t *vd_conf_snap_ftable(vd_snap_t *s);
void vd_conf_ftable_free(ftable_t *t);
/* Before the views are read by a reload: sizes the lists of zone files
 * and uses for what the replaced snapshot had, so they do not grow by
 * doubling to twice what they need. */
void vd_conf_zones_reserve(cbuild_t *b);
/* Once every zone is attached: moves the zones into the snapshot's table
 * and frees the build's lists of zone files, folders and uses, before
 * the views' tables are built (a build's peak memory is the old snapshot
 * plus whichever of the two is larger, not both). */
void vd_conf_zones_done(cbuild_t *b);

/* A forward rule of a view, before it is merged into the routing map. */
typedef struct fwd_rule {
	const uint8_t *name; /* lower-cased wire name, in the arena */
	int group;	     /* -1 only in a build that fails */
	unsigned long line;  /* of the name, for duplicate messages */
} fwd_rule_t;

/* After every view is read: includes, routing maps, subnets, AZ and
 * reverse tables (link.c; view/ builds the tables). */
void vd_conf_link_views(cbuild_t *b);

/* Index of the view called name in s->views, or -1 (includes.c). */
int vd_conf_view_index(const vd_snap_t *s, const char *name);
/* Closes every view's includes transitively and hands them to view/;
 * reports unknown names, self-includes and cycles (includes.c). */
void vd_conf_resolve_includes(cbuild_t *b);

/* One subnet as read, with where it was written (subnets.c). */
typedef struct subnet {
	vd_cidr_t cidr;
	const char *az_id; /* in the snapshot arena */
	const char *file;
	unsigned long line;
} subnet_t;

typedef struct subnets {
	subnet_t *v; /* in the snapshot arena */
	size_t n, cap;
} subnets_t;

/* Reads view vi's subnets (inline and files) into out (subnets.c). */
void vd_conf_read_subnets(cbuild_t *b, size_t vi, subnets_t *out);

/* ---- warn.c: what --check warns about (warnings never fail a load) ---- */

/* A client prefix of length 0 (0.0.0.0/0, ::/0) while some listen
 * address is not a loopback one: an open resolver. Call after the views. */
void vd_conf_warn_open(cbuild_t *b);
/* Server u of group g (at file:line) is one of this host's own
 * addresses on the port of a wildcard listen address (0.0.0.0, ::), so
 * queries sent to it come back to us. */
void vd_conf_warn_upstream(cbuild_t *b, const vd_group_t *g, const vd_upstream_t *u,
			   unsigned long line);
void vd_conf_warn_free(cbuild_t *b);

/* ---- the zone image (image.c) ---------------------------------------- */
typedef struct vd_conf_image vd_conf_image_t;
/* <state_dir>/zones.img, malloc'd; NULL on out of memory. */
char *vd_conf_image_path(const char *state_dir);
/* Opens the image at path and reads its index. 0; -ENOENT when there is
 * none (why NULL); another negative error or VD_EMALF with why saying
 * what is wrong (not to be used; the load reads every file). */
int vd_conf_image_open(const char *path, vd_conf_image_t **out, const char **why);
void vd_conf_image_close(vd_conf_image_t *img);
/* The image's zone for the key (hash as vd_conf_zkey_hash), one
 * reference, or NULL; a record that exists but cannot be used sets
 * *damaged. hint: the zone's place in the build's list of zone files,
 * which is its record's place in an image saved by the same
 * configuration (tried first; the index otherwise). Safe from several
 * threads at once. */
vd_zone_t *vd_conf_image_find(const vd_conf_image_t *img, size_t hint, uint32_t hash,
			      const char *real, vd_zone_fallback_t fallback,
			      const char *origin, bool *damaged);
/* Gives back the memory of the records at places [from, to) of the
 * image, once the zones there were taken: a start keeps no more of the
 * image resident than the loading threads are reading. Does nothing
 * when those records are not stored one after the other. */
void vd_conf_image_release(const vd_conf_image_t *img, size_t from, size_t to);
/* The key hash of a zone file use (zones.c): file, fallback, origin. */
uint32_t vd_conf_zkey_hash(const char *real, vd_zone_fallback_t fallback,
			   const char *origin);
