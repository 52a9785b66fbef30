/*
 * vd_conf_load: reads the YAML tree, runs the section builders (server,
 * upstreams, views with their zones, routing maps and the client table)
 * into a fresh snapshot, and hands the snapshot out only when no error at
 * all was recorded; otherwise it is freed and the caller keeps serving its
 * old one. Also the snapshot's reference counting: the last unref, from
 * whichever thread, drops the zone references and frees the arena in one
 * go.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <libgen.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>

static const char *const top_keys[] = { "server",   "upstreams", "cache",
					"firewall", "views",	 "view_files",
					"http",	    "query_log", NULL };

/* A snapshot and its reference count, which no other module can reach. */
typedef struct snap_box {
	atomic_uint refs;
	ztable_t zones;	  /* for the next build to reuse */
	ftable_t folders; /* the same, for the zone folders */
	vd_snap_t snap;
} snap_box_t;

static snap_box_t *box_of(const vd_snap_t *s)
{
	return (snap_box_t *)((char *)s - offsetof(snap_box_t, snap));
}

atomic_uint *vd_conf_snap_refcount(vd_snap_t *s)
{
	return &box_of(s)->refs;
}

const ztable_t *vd_conf_snap_zones(const vd_snap_t *s)
{
	return &box_of(s)->zones;
}

ztable_t *vd_conf_snap_ztable(vd_snap_t *s)
{
	return &box_of(s)->zones;
}

const ftable_t *vd_conf_snap_folders(const vd_snap_t *s)
{
	return &box_of(s)->folders;
}

ftable_t *vd_conf_snap_ftable(vd_snap_t *s)
{
	return &box_of(s)->folders;
}

unsigned vd_snap_refs(const vd_snap_t *s)
{
	return s ? atomic_load(&box_of(s)->refs) : 0;
}

static void snap_free(vd_snap_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nviews; i++)
		vd_view_deinit(s->views[i]);
	vd_view_table_free(s->view_table);
	for (size_t i = 0; s->fw_lists && i < s->nfw_lists; i++)
		vd_fw_list_free(s->fw_lists[i]);
	free(s->fw_lists);
	vd_conf_ftable_free(&box_of(s)->folders);
	vd_conf_ztable_free(&box_of(s)->zones);
	vd_arena_deinit(&s->arena);
	free(box_of(s));
	/* A snapshot can hold hundreds of megabytes: give them back to the
	 * system, or a process that reloads keeps twice its data. */
	malloc_trim(0);
}

static vd_snap_t *snap_new(const char *path)
{
	snap_box_t *box = calloc(1, sizeof(*box));
	vd_snap_t *s;

	if (!box)
		return NULL;
	atomic_init(&box->refs, 1);
	s = &box->snap;
	vd_arena_init(&s->arena, 0);
	s->path = vd_arena_strdup(&s->arena, path);
	if (!s->path) {
		snap_free(s);
		return NULL;
	}
	return s;
}

static int set_confdir(cbuild_t *b)
{
	char *copy = strdup(b->file);
	int err = 0;

	if (!copy)
		return -ENOMEM;
	b->confdir = realpath(dirname(copy), NULL);
	if (!b->confdir) {
		err = -errno;
		if (err != -ENOMEM)
			vd_conf_err(b, 0, "cannot resolve the folder of the file: %s",
				    vd_strerror(err));
	}
	free(copy);
	return err;
}

static void build(cbuild_t *b, const ynode_t *root)
{
	if (root->kind != YN_MAP) {
		vd_conf_err(b, root->line,
			    "the top level must be a map (server, upstreams, cache, "
			    "firewall, views, view_files, http)");
		return;
	}
	for (size_t i = 0; i < root->n; i++) {
		const ynode_t *k = root->pairs[i].key;
		bool known = false;

		for (const char *const *t = top_keys; *t; t++)
			known |= strcmp(k->str, *t) == 0;
		if (!known)
			vd_conf_err(b, k->line, "unknown key '%s' at top level",
				    k->str);
	}
	if (set_confdir(b) < 0)
		return;
	vd_conf_build_server(b, root);
	b->watching = b->watch && b->snap->server.watch_zones;
	vd_conf_build_upstreams(b, root);
	vd_conf_build_cache(b, root);
	vd_conf_build_firewall(b, root);
	vd_conf_build_http(b, root);
	vd_conf_build_views(b, root);
	vd_conf_build_qlog(b, root);
	vd_conf_warn_open(b);
}

/* Reads the tree and builds; records every error in b. */
static void load(cbuild_t *b, vd_arena_t *tree)
{
	const ynode_t *root = NULL;
	int r;

	b->tree = tree;
	r = vd_conf_yaml_read(b->file, b->file, tree, &root, b->errs);
	if (r == -ENOMEM) {
		vd_conf_nomem(b);
		return;
	}
	if (r < 0)
		b->nerr++; /* its messages are in errs already */
	if (!root) {
		if (r == 0)
			vd_conf_err(b, 1, "empty file: no configuration");
		return;
	}
	build(b, root);
}

static int build_snapshot(const char *path, const vd_snap_t *prev, bool image,
			  vd_watch_t *watch, vd_snap_t **out, vd_errlist_t *errs,
			  vd_errlist_t *warns);

/* Only a start reads the zone image: a reload has the previous snapshot,
 * and a check reads every file. */
int vd_conf_load(const char *path, vd_snap_t **out, vd_errlist_t *errs)
{
	return build_snapshot(path, NULL, true, NULL, out, errs, NULL);
}

int vd_conf_reload(const char *path, const vd_snap_t *prev, vd_snap_t **out,
		   vd_errlist_t *errs)
{
	return build_snapshot(path, prev, false, NULL, out, errs, NULL);
}

int vd_conf_load_watched(const char *path, vd_watch_t *watch, vd_snap_t **out,
			 vd_errlist_t *errs)
{
	return build_snapshot(path, NULL, true, watch, out, errs, NULL);
}

int vd_conf_reload_watched(const char *path, const vd_snap_t *prev, vd_watch_t *watch,
			   vd_snap_t **out, vd_errlist_t *errs)
{
	return build_snapshot(path, prev, false, watch, out, errs, NULL);
}

int vd_conf_check(const char *path, vd_snap_t **out, vd_errlist_t *errs,
		  vd_errlist_t *warns)
{
	return build_snapshot(path, NULL, false, NULL, out, errs, warns);
}

/* Reads path into a new snapshot; prev (may be NULL) lends the zones whose
 * files did not change, warns (may be NULL) collects warnings. */
static int build_snapshot(const char *path, const vd_snap_t *prev, bool image,
			  vd_watch_t *watch, vd_snap_t **out, vd_errlist_t *errs,
			  vd_errlist_t *warns)
{
	vd_errlist_t local;
	vd_arena_t tree;
	cbuild_t b;
	int r;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	vd_errlist_init(&local);
	memset(&b, 0, sizeof(b));
	b.file = path;
	b.errs = errs ? errs : &local;
	b.warns = warns;
	b.snap = snap_new(path);
	if (!b.snap)
		return -ENOMEM;
	b.a = &b.snap->arena;
	b.prev_zones = prev ? vd_conf_snap_zones(prev) : NULL;
	b.prev = prev;
	b.prev_folders = prev ? vd_conf_snap_folders(prev) : NULL;
	b.watch = watch;
	/* Every event so far is counted before any folder is looked at: a
	 * change made before this build started is seen by it. A failed
	 * drain makes every mark count as changed. */
	if (watch)
		(void)vd_watch_drain(watch);
	b.use_image = image;
	atomic_init(&b.image_damaged, false);
	vd_arena_init(&tree, 0);
	load(&b, &tree);
	vd_conf_zcache_free(&b); /* when the views were not reached */
	vd_conf_vfiles_free(&b);
	for (size_t i = 0; b.vtmp && b.snap && i < b.snap->nviews; i++)
		free(b.vtmp[i].rules);
	free(b.vtmp);
	vd_arena_deinit(&tree);
	free(b.confdir);
	free(b.zonedir);
	free(b.clients);
	free(b.sys.path);
	vd_conf_warn_free(&b);
	vd_errlist_deinit(&local);
	if (b.nomem)
		r = -ENOMEM;
	else if (b.nerr)
		r = VD_ECONF;
	else
		r = 0;
	if (r < 0)
		snap_free(b.snap);
	else
		*out = b.snap;
	return r;
}

void vd_snap_ref(vd_snap_t *s)
{
	if (s)
		atomic_fetch_add_explicit(&box_of(s)->refs, 1, memory_order_relaxed);
}

void vd_snap_unref(vd_snap_t *s)
{
	/* acq_rel: the freeing thread must see every other holder's reads
	 * finished before the memory goes. */
	if (!s)
		return;
	unsigned before =
		atomic_fetch_sub_explicit(&box_of(s)->refs, 1, memory_order_acq_rel);
	VD_REQUIRE(before > 0); /* one unref too many: a use after free */
	if (before == 1)
		snap_free(s);
}

static bool listen_has(const vd_server_conf_t *s, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < s->nlisten; i++)
		if (vd_addr_equal((const struct sockaddr *)&s->listen[i],
				  (const struct sockaddr *)ss))
			return true;
	return false;
}

bool vd_conf_same_listen(const vd_server_conf_t *a, const vd_server_conf_t *b)
{
	for (size_t i = 0; i < a->nlisten; i++)
		if (!listen_has(b, &a->listen[i]))
			return false;
	for (size_t i = 0; i < b->nlisten; i++)
		if (!listen_has(a, &b->listen[i]))
			return false;
	return true;
}
