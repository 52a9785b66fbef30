/*
 * The zones of a view: each item names a zone file or a folder of
 * "*.zone" files (an empty folder adds none), optionally with a fallback
 * and an origin. Relative paths start from server.directory, or from the
 * view file's own folder for a view read from view_files. Files are
 * identified by their resolved path, so the same file reached through
 * different spellings (a folder, "./x", a symlink) is the same zone. A
 * folder is scanned once per build, and a zone is loaded once per build
 * for each (file, fallback, origin) and shared by reference between
 * views: a thousand views naming the same endpoint folder cost one scan
 * and one copy of each zone. A failed load is cached too, so its errors
 * are reported once however many views name it. A reload (vd_conf_reload)
 * also looks each (file, fallback, origin) up in the previous snapshot's
 * zone table and shares that zone when its file did not change; the table
 * moves into the new snapshot at the end of a successful build.
 */
#include "conf_int.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpcdns/wire.h"

#define ZONE_SUFFIX ".zone"

static const char *const zone_keys[] = { "path", "fallback", "origin", NULL };

/* One item of a zones list, as read from the config. */
typedef struct zitem {
	const char *path;   /* as written */
	const char *origin; /* NULL when not given */
	vd_zone_fallback_t fallback;
	const ynode_t *node; /* of the path, for messages and the base folder */
	char where[64];	     /* "views[0].zones[1]" */
	const char *kept;    /* where, in the tree's arena once a use needs it */
	uint32_t item;	     /* its zitems entry, once kept */
} zitem_t;

static bool same_origin(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Strings with their terminators: "ab"+"c" != "a"+"bc". */
uint32_t vd_conf_zkey_hash(const char *real, vd_zone_fallback_t fallback,
			   const char *origin)
{
	uint64_t h = vd_hash(real, strlen(real) + 1, VD_HASH_SEED_FIXED);

	h = vd_hash(&fallback, sizeof(fallback), h);
	return (uint32_t)(origin ? vd_hash(origin, strlen(origin) + 1, h) : h);
}

static uint32_t zkey_hash(const char *real, const zitem_t *zi)
{
	return vd_conf_zkey_hash(real, zi->fallback, zi->origin);
}

/* The path of entry e's file. */
static const char *ent_path(const zcache_ent_t *e)
{
	return e->real ? e->real : vd_zone_path(e->zone);
}

/* The index slot of (real, fallback, origin): its entry or an empty slot.
 * real NULL: the path of known zone kz (read only when some entry's key
 * has the same hash: kz is one of 201,000 zones, not in the cache). */
static hslot_t *zslot(const cbuild_t *b, uint32_t hash, const char *real,
		      const vd_zone_t *kz, const zitem_t *zi)
{
	for (size_t i = hash & b->zmask;; i = (i + 1) & b->zmask) {
		const zcache_ent_t *e;
		hslot_t *s = &b->zslots[i];

		if (!s->idx)
			return s;
		if (s->hash != hash)
			continue;
		e = &b->zc[s->idx - 1];
		if (e->fallback != zi->fallback || !same_origin(e->origin, zi->origin))
			continue;
		/* Two known zones (from one table, where no two share a key)
		 * have the same key when they are the same zone. */
		if (kz && e->known) {
			if (e->zone == kz)
				return s;
		} else if (strcmp(ent_path(e), real ? real : vd_zone_path(kz)) == 0) {
			return s;
		}
	}
}

/* Doubles the index (or creates it) when it would pass half full. */
static int zindex_grow(cbuild_t *b)
{
	size_t slots = b->zslots ? (b->zmask + 1) * 2 : 64;
	hslot_t *old = b->zslots;

	if (old && (b->nzc + 1) * 2 <= b->zmask + 1)
		return 0;
	if (b->nzc >= UINT32_MAX - 1)
		return -ENOMEM;
	b->zslots = calloc(slots, sizeof(*b->zslots));
	if (!b->zslots) {
		b->zslots = old;
		return -ENOMEM;
	}
	b->zmask = slots - 1;
	free(old);
	for (size_t i = 0; i < b->nzc; i++)
		vd_hslot_put(b->zslots, b->zmask, b->zc[i].hash, i);
	return 0;
}

static int zcache_add(cbuild_t *b, const char *real, const zitem_t *zi, uint32_t hash,
		      const zslot_t *known, const char *dir, size_t base)
{
	/* A file of a scanned folder: its path is the scan's, which lives as
	 * long as this entry; a known zone's is the zone's own, which the
	 * entry holds a reference on. */
	bool borrow = dir != NULL || known != NULL;
	zcache_ent_t *e;

	if (known)
		real = NULL; /* the zone's: see ent_path */

	if (zindex_grow(b) < 0)
		return -ENOMEM;
	if (b->nzc == b->capzc) {
		size_t cap = b->capzc ? b->capzc * 2 : 16;

		e = realloc(b->zc, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		b->zc = e;
		b->capzc = cap;
	}
	e = &b->zc[b->nzc];
	e->real = borrow ? (char *)real : strdup(real);
	e->owns_real = !borrow;
	e->origin = zi->origin ? strdup(zi->origin) : NULL;
	if ((!borrow && !e->real) || (zi->origin && !e->origin)) {
		if (!borrow)
			free(e->real);
		free(e->origin);
		return -ENOMEM;
	}
	e->fallback = zi->fallback;
	e->zone = known ? known->zone : NULL;
	if (known) {
		/* The one look at the zone in this build: what attach and
		 * ztable_take need is copied while it is in the cache. */
		vd_zone_ref(known->zone);
		e->apex_hash = vd_zone_apex_hash(known->zone);
		e->nrr = (uint32_t)vd_zone_rr_count(known->zone);
	}
	e->hash = hash;
	e->rc = 0;
	e->dir = dir;
	e->base = (uint32_t)base;
	e->errs = NULL;
	e->reported = e->from_image = false;
	e->reused = e->known = known != NULL;
	b->nzc++;
	vd_hslot_put(b->zslots, b->zmask, hash, b->nzc - 1);
	return 0;
}

/* The previous snapshot's zone for (real, fallback, origin), or NULL. */
static vd_zone_t *prev_zone(const cbuild_t *b, uint32_t hash, const char *real,
			    const zitem_t *zi)
{
	const ztable_t *t = b->prev_zones;

	if (!t || !t->slots)
		return NULL;
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		vd_zone_t *z = t->slots[i].zone;

		if (!z)
			return NULL;
		if (t->slots[i].hash == hash && vd_zone_fallback(z) == zi->fallback &&
		    strcmp(vd_zone_path(z), real) == 0 &&
		    same_origin(vd_zone_origin(z), zi->origin))
			return z;
	}
}

/* The entry for (real, fallback, origin), created on first use (the
 * zone itself is loaded later, by load_all, unless known gives it and
 * its key's hash); -1 when out of memory. */
static ssize_t zcache_get(cbuild_t *b, const char *real, const zitem_t *zi,
			  const char *dir, size_t base, const zslot_t *known)
{
	uint32_t hash = known ? known->hash : zkey_hash(real, zi);
	hslot_t *slot;

	if (b->zslots) {
		slot = zslot(b, hash, real, known ? known->zone : NULL, zi);
		if (slot->idx)
			return (ssize_t)slot->idx - 1;
	}
	if (zcache_add(b, real, zi, hash, known, dir, base) < 0)
		return -1;
	return (ssize_t)b->nzc - 1;
}

/* Makes room for need elements of size bytes in *p (capacity *cap),
 * doubling. 0 or -ENOMEM. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static void shrink(void **p, size_t *cap, size_t n, size_t size)
{
	void *q = n ? realloc(*p, n * size) : NULL;

	if (q) {
		*p = q;
		*cap = n;
	}
}

void vd_conf_zones_reserve(cbuild_t *b)
{
	size_t n = b->prev_zones ? b->prev_zones->n : 0, uses = 0;
	void *p;

	for (size_t i = 0; b->prev && i < b->prev->nviews; i++)
		uses += vd_view_nzones(b->prev->views[i]);
	/* A little over what the previous build had: doubling from there
	 * when the configuration grew. */
	if (n && !b->capzc && (p = malloc((n + n / 16) * sizeof(*b->zc)))) {
		b->zc = p;
		b->capzc = n + n / 16;
	}
	if (uses && !b->capzu && (p = malloc((uses + uses / 16) * sizeof(*b->zu)))) {
		b->zu = p;
		b->capzu = uses + uses / 16;
	}
}

/* Records that view v uses the zone of file real (loaded later, or
 * known already: see zcache_get). dir: the scanned folder holding the
 * file (the folder cache's string), its name at real + base; NULL, 0:
 * real alone. The file's entry, or -1 when out of memory. */
static ssize_t add_file(cbuild_t *b, vd_view_t *v, const char *real, zitem_t *zi,
			const char *dir, size_t base, const zslot_t *known)
{
	ssize_t ent = zcache_get(b, real, zi, dir, base, known);

	if (ent < 0 || (size_t)ent >= UINT32_MAX) {
		vd_conf_nomem(b);
		return -1;
	}
	if (!zi->kept) {
		zitem_use_t it = { v, zi->node, vd_arena_strdup(b->tree, zi->where) };
		if (!it.where || grow((void **)&b->zitems, &b->capzitems,
				      b->nzitems + 1, sizeof(it)) < 0) {
			vd_conf_nomem(b);
			return -1;
		}
		zi->kept = it.where;
		zi->item = (uint32_t)b->nzitems;
		b->zitems[b->nzitems++] = it;
	}
	if (grow((void **)&b->zu, &b->capzu, b->nzu + 1, sizeof(*b->zu)) < 0) {
		vd_conf_nomem(b);
		return -1;
	}
	b->zu[b->nzu++] = (zuse_t){ (uint32_t)ent, zi->item };
	return ent;
}

/* ---- loading, in parallel -------------------------------------------- */

/* Zones are loaded by up to this many threads (one per CPU), taking
 * LOAD_BATCH entries at a time from a shared counter. */
#define LOAD_THREADS_MAX 16
#define LOAD_BATCH 32

typedef struct loader {
	cbuild_t *b;
	atomic_size_t next;
	size_t end;
} loader_t;

/* The folder a thread has open: files of one folder are consecutive
 * entries, so each thread opens it once per batch at most and holds one
 * descriptor, whatever the number of folders. */
typedef struct dirfd_cache {
	const char *dir;
	int fd;
} dirfd_cache_t;

/* The descriptor of folder dir, or AT_FDCWD when there is none (no
 * folder, out of descriptors, the folder gone since the scan): the file
 * is then looked up by its full path. */
static int dirfd_of(dirfd_cache_t *dc, const char *dir)
{
	if (!dir)
		return AT_FDCWD;
	if (dc->dir != dir) {
		if (dc->fd >= 0)
			close(dc->fd);
		dc->dir = dir;
		dc->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return dc->fd >= 0 ? dc->fd : AT_FDCWD;
}

static void load_one(cbuild_t *b, zcache_ent_t *e, dirfd_cache_t *dc)
{
	if (e->known)
		return;

	int dfd = dirfd_of(dc, e->dir);
	const char *name = dfd == AT_FDCWD ? e->real : e->real + e->base;
	vd_zone_opts_t opts = { .origin = e->origin,
				.fallback = e->fallback,
				.max_size = b->snap->server.zone_file_max_size };
	zitem_t key = { .origin = e->origin, .fallback = e->fallback };
	vd_zone_t *prev = prev_zone(b, e->hash, e->real, &key), *img = NULL;
	bool damaged = false;

	/* The image's zone stands for the file exactly as the previous
	 * snapshot's would: when one stat shows the file unchanged. */
	if (!prev && b->image)
		prev = img = vd_conf_image_find(b->image, (size_t)(e - b->zc), e->hash,
						e->real, e->fallback, e->origin,
						&damaged);
	if (damaged)
		atomic_store(&b->image_damaged, true);
	vd_errlist_t errs;
	vd_errlist_init(&errs);
	e->rc = vd_zone_load_reuse_at(dfd, name, e->real, &opts, prev, &e->zone,
				      &e->reused, &errs);
	/* Kept only when there are some: most entries have none. */
	if (errs.count && (e->errs = malloc(sizeof(*e->errs))) != NULL) {
		*e->errs = errs;
	} else {
		if (errs.count && e->rc != 0) /* its messages cannot be kept */
			e->rc = -ENOMEM;
		vd_errlist_deinit(&errs);
	}
	if (img) {
		e->from_image = e->reused;
		e->reused = false;
		vd_zone_unref(img); /* e->zone holds its own reference */
	}
	if (e->rc < 0)
		e->zone = NULL;
	if (e->zone) {
		e->apex_hash = vd_zone_apex_hash(e->zone);
		e->nrr = (uint32_t)vd_zone_rr_count(e->zone);
	}
}

static void *load_worker(void *arg)
{
	loader_t *l = arg;
	dirfd_cache_t dc = { .dir = NULL, .fd = -1 };
	size_t i, end;

	while ((i = atomic_fetch_add(&l->next, LOAD_BATCH)) < l->end) {
		size_t from = i;
		end = i + LOAD_BATCH < l->end ? i + LOAD_BATCH : l->end;
		for (; i < end; i++)
			load_one(l->b, &l->b->zc[i], &dc);
		vd_conf_image_release(l->b->image, from, end);
	}
	if (dc.fd >= 0)
		close(dc.fd);
	return NULL;
}

/* Loads every entry. Entries only read the previous snapshot's table
 * and write themselves, so threads need no lock. */
static void note_image(cbuild_t *b, const char *path, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "zone image %s: %s", path, why);
	if (!(b->snap->image_note = vd_arena_strdup(b->a, msg)))
		vd_conf_nomem(b);
}

/* On a first load with a state_dir: the zone image, if there is one to
 * use (a reason in the snapshot when there is one but it cannot be). */
static void image_open(cbuild_t *b)
{
	const char *why = NULL, *dir = b->snap->server.state_dir;
	char *path;
	int r;

	if (!b->use_image || !dir || b->prev_zones || !b->nzc)
		return;
	path = vd_conf_image_path(dir);
	if (!path) {
		vd_conf_nomem(b);
		return;
	}
	r = vd_conf_image_open(path, &b->image, &why);
	if (r == -ENOMEM)
		vd_conf_nomem(b);
	else if (r < 0 && why)
		note_image(b, path, why);
	free(path);
}

/* The CPUs this thread may run on (taskset, cgroup cpusets): more
 * loading threads than that only take turns on the same CPUs. */
static size_t usable_cpus(void)
{
	cpu_set_t set;
	long online;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (size_t)CPU_COUNT(&set);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (size_t)online : 1;
}

static void load_all(cbuild_t *b)
{
	pthread_t th[LOAD_THREADS_MAX];
	loader_t l = { .b = b, .end = b->nzc };
	size_t n = usable_cpus(), started = 0;

	image_open(b);
	atomic_init(&l.next, 0);
	if (n > LOAD_THREADS_MAX)
		n = LOAD_THREADS_MAX;
	if (b->nzc < 2 * LOAD_BATCH)
		n = 1;
	/* This thread is one of the n; a thread that cannot start leaves
	 * its share to the others. */
	for (size_t i = 1; i < n; i++)
		if (pthread_create(&th[started], NULL, load_worker, &l) == 0)
			started++;
	load_worker(&l);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (b->image) {
		char *path = vd_conf_image_path(b->snap->server.state_dir);
		if (atomic_load(&b->image_damaged) && path)
			note_image(b, path,
				   "damaged (records): those zones were read "
				   "from their files");
		free(path);
		vd_conf_image_close(b->image);
		b->image = NULL;
	}
}

/* The file's own messages, then one naming the view item, at the first
 * use of a zone that failed to load. */
static void report_failed(cbuild_t *b, zcache_ent_t *e, const zitem_use_t *u)
{
	if (e->reported)
		return;
	e->reported = true;
	if (e->rc == -ENOMEM) {
		vd_conf_nomem(b);
		return;
	}
	for (size_t i = 0; e->errs && i < e->errs->count; i++)
		vd_errlist_add(b->errs, NULL, 0, "%s", e->errs->msgs[i]);
	if (e->rc == VD_ECONF)
		vd_conf_nerr(b, u->node, "%s: zone '%s' has errors", u->where,
			     ent_path(e));
	else
		vd_conf_nerr(b, u->node, "%s: cannot load zone '%s': %s", u->where,
			     ent_path(e), vd_strerror(e->rc));
}

/* Apexes of one view's zones so far: open addressing over b->zc entries
 * (index + 1), rebuilt per view. */
typedef struct apexes {
	hslot_t *slots;
	size_t mask, cap;
} apexes_t;

static int apexes_reset(apexes_t *t, size_t n)
{
	size_t want = 16;

	while (want < 2 * n)
		want *= 2;
	if (want > t->cap) {
		free(t->slots);
		t->slots = malloc(want * sizeof(*t->slots));
		if (!t->slots) {
			t->cap = 0;
			return -ENOMEM;
		}
		t->cap = want;
	}
	t->mask = want - 1;
	memset(t->slots, 0, want * sizeof(*t->slots));
	return 0;
}

/* The entry already in t with z's apex, or inserts z's entry ent and
 * returns NULL. */
static const zcache_ent_t *apexes_put(apexes_t *t, const cbuild_t *b, size_t ent)
{
	const vd_zone_t *z = b->zc[ent].zone;
	uint32_t h = b->zc[ent].apex_hash;
	size_t i = h & t->mask;

	for (; t->slots[i].idx; i = (i + 1) & t->mask) {
		const zcache_ent_t *o = &b->zc[t->slots[i].idx - 1];

		if (t->slots[i].hash == h &&
		    vd_name_equal(vd_zone_apex(o->zone), vd_zone_apex(z)))
			return o;
	}
	t->slots[i] = (hslot_t){ h, (uint32_t)ent + 1 };
	return NULL;
}

static void attach(cbuild_t *b, const zuse_t *use, apexes_t *t)
{
	zcache_ent_t *e = &b->zc[use->ent];
	const zitem_use_t *u = &b->zitems[use->item];
	const zcache_ent_t *other;
	char apex[VD_NAME_TEXT];

	if (!e->zone) {
		report_failed(b, e, u);
		return;
	}
	other = apexes_put(t, b, use->ent);
	if (other) {
		vd_name_to_text(vd_zone_apex(e->zone), apex, sizeof(apex));
		vd_conf_nerr(b, u->node,
			     "%s: two zones for '%s' in view '%s': '%s' and '%s'",
			     u->where, apex, vd_view_name(u->view), ent_path(other),
			     ent_path(e));
		return;
	}
	if (vd_view_add_zone(u->view, b->a, e->zone) < 0)
		vd_conf_nomem(b);
}

void vd_conf_zones_attach(cbuild_t *b)
{
	apexes_t t = { 0 };
	size_t i = 0, j;

	/* Every file is known: the index by key is done with, and the lists
	 * shrink to their size (the slack goes back to the system before the
	 * zones are loaded). */
	free(b->zslots);
	b->zslots = NULL;
	b->zmask = 0;
	shrink((void **)&b->zc, &b->capzc, b->nzc, sizeof(*b->zc));
	shrink((void **)&b->zu, &b->capzu, b->nzu, sizeof(*b->zu));
	load_all(b);
	for (size_t k = 0; k < b->nzc; k++)
		b->snap->nzones_reused += b->zc[k].reused,
			b->snap->nzones_image += b->zc[k].from_image;
	/* A view's uses are consecutive: it read its zones list at once. */
	while (i < b->nzu) {
		const vd_view_t *v = b->zitems[b->zu[i].item].view;
		for (j = i; j < b->nzu && b->zitems[b->zu[j].item].view == v; j++)
			;
		if (apexes_reset(&t, j - i) < 0) {
			vd_conf_nomem(b);
			break;
		}
		for (; i < j; i++)
			attach(b, &b->zu[i], &t);
	}
	free(t.slots);
	free(b->zu);
	b->zu = NULL;
	b->nzu = b->capzu = 0;
	free(b->zitems);
	b->zitems = NULL;
	b->nzitems = b->capzitems = 0;
}

static int zone_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name), s = strlen(ZONE_SUFFIX);

	/* Hidden files (editor leftovers) are skipped. */
	return d->d_name[0] != '.' && n > s &&
	       strcmp(d->d_name + n - s, ZONE_SUFFIX) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The resolved path of dir/name when it names a regular file (symlinks
 * followed), malloc'd; NULL (with *err 0) when it does not. */
static char *resolved_file(const char *dir, const char *name, int *err)
{
	char *path = NULL, *real;
	struct stat st;

	*err = 0;
	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		*err = -ENOMEM;
		return NULL;
	}
	real = realpath(path, NULL);
	free(path);
	if (!real || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(real);
		return NULL;
	}
	return real;
}

/*
 * Lists the zone files of folder e->real, in name order, as resolved
 * paths in one block (e->block; e->files point into it: no allocation
 * per file, 201,000 of them at 1000 VPCs). The folder is resolved
 * already, so an entry it lists as a regular file is its own resolved
 * path: no realpath and no stat (a million system calls otherwise); the
 * zone reader checks the type again on the descriptor it reads. Other
 * entries (symlinks) are resolved and kept when they lead to a regular
 * file.
 */
static int folder_scan(fcache_ent_t *e)
{
	const char *dir = strcmp(e->real, "/") ? e->real : "";
	size_t dlen = strlen(dir), total = 0, keep = 0;
	struct dirent **ents = NULL;
	char **other = NULL, *at;
	int n, r = 0;

	n = scandir(e->real, &ents, zone_filter, by_name);
	if (n < 0) {
		e->err = errno;
		return e->err == ENOMEM ? -ENOMEM : 0;
	}
	other = calloc(n ? (size_t)n : 1, sizeof(*other));
	if (!other) {
		r = -ENOMEM;
		goto done;
	}
	e->regular = true;
	for (int i = 0; i < n && r == 0; i++) {
		e->regular &= ents[i]->d_type == DT_REG;
		if (ents[i]->d_type == DT_REG) {
			total += dlen + 1 + strlen(ents[i]->d_name) + 1;
			keep++;
		} else if ((other[i] = resolved_file(dir, ents[i]->d_name, &r))) {
			total += strlen(other[i]) + 1;
			keep++;
		}
	}
	if (r == 0 && keep) {
		e->block = malloc(total);
		e->files = malloc(keep * sizeof(*e->files));
		if (!e->block || !e->files) {
			r = -ENOMEM;
			goto done;
		}
		at = e->block;
		for (int i = 0; i < n; i++) {
			char *start = at;
			if (ents[i]->d_type == DT_REG)
				at += sprintf(at, "%s/%s", dir, ents[i]->d_name) + 1;
			else if (other[i])
				at = stpcpy(at, other[i]) + 1;
			else
				continue;
			e->files[e->n++] = start;
		}
	}
done:
	for (int i = 0; i < n; i++) {
		if (other)
			free(other[i]);
		free(ents[i]);
	}
	free(other);
	free(ents);
	return r;
}

static void folder_free(fcache_ent_t *e)
{
	free(e->block);
	free(e->files);
	free(e->real);
	free(e->ents);
}

static uint32_t path_hash(const char *real)
{
	return (uint32_t)vd_hash(real, strlen(real), VD_HASH_SEED_FIXED);
}

/* The replaced snapshot's record of folder real (hash: path_hash), or
 * NULL. */
static const frec_t *frec_find(const ftable_t *t, const char *real, uint32_t h)
{
	if (!t || !t->slots)
		return NULL;
	for (size_t i = h & t->mask; t->slots[i].idx; i = (i + 1) & t->mask)
		if (t->slots[i].hash == h &&
		    strcmp(t->v[t->slots[i].idx - 1].real, real) == 0)
			return &t->v[t->slots[i].idx - 1];
	return NULL;
}

/* Folder real, whose stat is st, for this build: the replaced snapshot's
 * record when the watch shows nothing happened in it since, else a new
 * scan, marked first so that whatever changes after the scan shows at
 * the next build. */
static int folder_open(cbuild_t *b, fcache_ent_t *e, const struct stat *st)
{
	const frec_t *rec;
	int r;

	b->snap->nfolders++;
	if (!b->watching)
		return folder_scan(e);
	rec = frec_find(b->prev_folders, e->real, e->hash);
	if (rec && vd_watch_unchanged(b->watch, &rec->mark, st)) {
		e->rec = rec;
		e->n = rec->n;
		e->mark = rec->mark;
		e->marked = e->regular = true;
		b->snap->nfolders_unchanged++;
		return 0;
	}
	r = vd_watch_mark(b->watch, e->real, st, &e->mark);
	e->marked = r == 0;
	/* Past the kernel's limit of watches, say so (a network file system
	 * is not watched by design). */
	if (r < 0 && r != -EOPNOTSUPP && !b->snap->nfolders_unwatched++)
		b->snap->unwatched_errno = -r;
	return folder_scan(e);
}

/* Doubles the folder index (or creates it) when it would pass half
 * full: a thousand views name a thousand folders. */
static int findex_grow(cbuild_t *b)
{
	size_t slots = b->fslots ? (b->fmask + 1) * 2 : 64;
	hslot_t *old = b->fslots;

	if (old && (b->nfc + 1) * 2 <= b->fmask + 1)
		return 0;
	if (!(b->fslots = calloc(slots, sizeof(*b->fslots)))) {
		b->fslots = old;
		return -ENOMEM;
	}
	b->fmask = slots - 1;
	free(old);
	for (size_t i = 0; i < b->nfc; i++)
		vd_hslot_put(b->fslots, b->fmask, b->fc[i].hash, i);
	return 0;
}

/* Folder real (stat st) for this build, opened on first use (see
 * folder_open); NULL when out of memory. */
static fcache_ent_t *folder_get(cbuild_t *b, const char *real, const struct stat *st)
{
	uint32_t h = path_hash(real);
	fcache_ent_t *e;

	for (size_t i = b->fslots ? h & b->fmask : 0; b->fslots && b->fslots[i].idx;
	     i = (i + 1) & b->fmask) {
		e = &b->fc[b->fslots[i].idx - 1];
		if (b->fslots[i].hash == h && strcmp(e->real, real) == 0)
			return e;
	}
	if (findex_grow(b) < 0)
		return NULL;
	if (b->nfc == b->capfc) {
		size_t cap = b->capfc ? b->capfc * 2 : 8;

		e = realloc(b->fc, cap * sizeof(*e));
		if (!e)
			return NULL;
		b->fc = e;
		b->capfc = cap;
	}
	e = &b->fc[b->nfc];
	memset(e, 0, sizeof(*e));
	e->real = strdup(real);
	e->hash = h;
	if (!e->real || folder_open(b, e, st) < 0) {
		folder_free(e);
		return NULL;
	}
	vd_hslot_put(b->fslots, b->fmask, h, b->nfc);
	b->nfc++;
	return e;
}

/* Where the name of file f starts when f lies directly in folder e (so
 * it can be looked up from the folder's descriptor); 0 otherwise (a
 * symlink resolved elsewhere: looked up by its full path). */
static size_t in_folder(const fcache_ent_t *e, const char *f)
{
	size_t n = strcmp(e->real, "/") ? strlen(e->real) : 0;

	if (strncmp(f, e->real, n) == 0 && f[n] == '/' && !strchr(f + n + 1, '/'))
		return n + 1;
	return 0;
}

static void add_folder(cbuild_t *b, vd_view_t *v, const char *real, zitem_t *zi,
		       const struct stat *st)
{
	fcache_ent_t *e;
	bool keep;

	if (zi->origin) {
		vd_conf_nerr(b, zi->node,
			     "%s: origin cannot be used with a folder ('%s')",
			     zi->where, zi->path);
		return;
	}
	e = folder_get(b, real, st);
	if (!e) {
		vd_conf_nomem(b);
		return;
	}
	if (e->err) {
		vd_conf_nerr(b, zi->node, "%s: cannot read zone folder '%s': %s",
			     zi->where, zi->path, vd_strerror(-e->err));
		return;
	}
	/* The first item naming a marked folder of regular files gives its
	 * record for the next build. */
	keep = e->marked && e->regular && !e->ents && e->n;
	if (keep) {
		if (!(e->ents = malloc(e->n * sizeof(*e->ents)))) {
			vd_conf_nomem(b);
			return;
		}
		e->fallback = zi->fallback;
	}
	/* An empty folder is a view with no zones of its own (a VPC whose
	 * last interface endpoint was deleted): it forwards everything. */
	for (size_t i = 0; i < e->n; i++) {
		const zslot_t *known = NULL;
		const char *f;
		size_t base;
		ssize_t ent;

		if (e->rec) {
			/* The record's zone, when this item's key is the
			 * record's; else only the file's path. A thousand
			 * folders' zones are not in the cache: ask for the
			 * ones a few files ahead. */
			if (i + 16 < e->n)
				__builtin_prefetch(e->rec->files[i + 16].zone, 1);
			if (zi->fallback == e->rec->fallback)
				known = &e->rec->files[i];
			f = known ? NULL : vd_zone_path(e->rec->files[i].zone);
		} else {
			f = e->files[i];
		}
		/* A known zone is not loaded: no folder to read it from. */
		base = known ? 0 : in_folder(e, f);
		ent = add_file(b, v, f, zi, base ? e->real : NULL, base, known);
		if (ent < 0)
			return;
		if (keep)
			e->ents[i] = (uint32_t)ent;
	}
}

static int check_readable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void add_item(cbuild_t *b, vd_view_t *v, zitem_t *zi)
{
	const char *base = vd_conf_base_dir(b, zi->node);
	char *joined = NULL, *real = NULL;
	struct stat st;
	int err = 0;

	/* A bad server.directory was reported already. */
	if (zi->path[0] != '/' && !base)
		return;
	if (zi->path[0] == '/')
		joined = strdup(zi->path);
	else if (asprintf(&joined, "%s/%s", base, zi->path) < 0)
		joined = NULL;
	if (!joined) {
		vd_conf_nomem(b);
		return;
	}
	real = realpath(joined, NULL);
	if (!real)
		err = errno;
	else if (stat(real, &st) < 0)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		add_folder(b, v, real, zi, &st);
	else if (!S_ISREG(st.st_mode))
		err = EINVAL;
	else if (!(err = check_readable(real)))
		add_file(b, v, real, zi, NULL, 0, NULL);
	if (err == EINVAL)
		vd_conf_nerr(b, zi->node,
			     "%s: cannot read zone '%s': not a file or folder",
			     zi->where, zi->path);
	else if (err)
		vd_conf_nerr(b, zi->node, "%s: cannot read zone '%s': %s", zi->where,
			     zi->path, vd_strerror(-err));
	free(real);
	free(joined);
}

static int item_fallback(cbuild_t *b, const yn_pair_t *p, zitem_t *zi)
{
	const ynode_t *val = p->val;
	const char *s = val->kind == YN_SCALAR ? val->str : "";

	if (strcmp(s, "forward") == 0) {
		zi->fallback = VD_ZONE_FALLBACK_FORWARD;
	} else if (strcmp(s, "nxdomain") == 0) {
		zi->fallback = VD_ZONE_FALLBACK_NXDOMAIN;
	} else {
		vd_conf_nerr(b, val, "%s.fallback must be forward or nxdomain",
			     zi->where);
		return -1;
	}
	return 0;
}

static int item_origin(cbuild_t *b, const yn_pair_t *p, zitem_t *zi)
{
	uint8_t wire[VD_NAME_MAX];
	char what[80];
	size_t len;

	snprintf(what, sizeof(what), "%s.origin", zi->where);
	if (vd_conf_string(b, p, what, &zi->origin) < 0)
		return -1;
	if (vd_name_from_text(zi->origin, wire, &len) < 0) {
		vd_conf_nerr(b, p->val, "%s: bad name '%s'", what, zi->origin);
		return -1;
	}
	return 0;
}

/* Reads the map form of an item. Returns 0 when it is usable. */
static int item_map(cbuild_t *b, const ynode_t *item, zitem_t *zi)
{
	const yn_pair_t *p = NULL;
	char what[80];
	int bad = 0;

	vd_conf_check_keys(b, item, zone_keys, zi->where);
	if (vd_conf_yaml_get(item, "fallback", &p))
		bad |= item_fallback(b, p, zi);
	if (vd_conf_yaml_get(item, "origin", &p))
		bad |= item_origin(b, p, zi);
	if (!vd_conf_yaml_get(item, "path", &p)) {
		vd_conf_nerr(b, item, "missing required key 'path' in %s", zi->where);
		return -1;
	}
	snprintf(what, sizeof(what), "%s.path", zi->where);
	bad |= vd_conf_string(b, p, what, &zi->path);
	zi->node = p->val;
	return bad ? -1 : 0;
}

static int read_item(cbuild_t *b, const ynode_t *item, zitem_t *zi)
{
	zi->origin = NULL;
	zi->fallback = VD_ZONE_FALLBACK_FORWARD;
	zi->node = item;
	if (item->kind == YN_MAP)
		return item_map(b, item, zi);
	if (item->kind == YN_SCALAR && !item->null && item->len) {
		zi->path = item->str;
		return 0;
	}
	vd_conf_nerr(b, item, "%s must be a path or a map with a path", zi->where);
	return -1;
}

void vd_conf_view_zones(cbuild_t *b, vd_view_t *v, const yn_pair_t *p,
			const char *where)
{
	const ynode_t *list = p->val;
	zitem_t zi;

	if (list->kind != YN_SEQ) {
		vd_conf_nerr(b, p->key, "%s.zones must be a list", where);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		snprintf(zi.where, sizeof(zi.where), "%s.zones[%zu]", where, i);
		zi.kept = NULL;
		zi.item = 0;
		if (read_item(b, list->items[i], &zi) == 0)
			add_item(b, v, &zi);
	}
}

void vd_conf_zcache_free(cbuild_t *b)
{
	for (size_t i = 0; i < b->nzc; i++) {
		vd_zone_unref(b->zc[i].zone);
		if (b->zc[i].errs) {
			vd_errlist_deinit(b->zc[i].errs);
			free(b->zc[i].errs);
		}
		if (b->zc[i].owns_real)
			free(b->zc[i].real);
		free(b->zc[i].origin);
	}
	free(b->zu);
	b->zu = NULL;
	b->nzu = b->capzu = 0;
	free(b->zitems);
	b->zitems = NULL;
	b->nzitems = b->capzitems = 0;
	for (size_t i = 0; i < b->nfc; i++)
		folder_free(&b->fc[i]);
	free(b->fc);
	b->fc = NULL;
	b->nfc = b->capfc = 0;
	free(b->fslots);
	b->fslots = NULL;
	b->fmask = 0;
	free(b->zc);
	free(b->zslots);
	b->zc = NULL;
	b->zslots = NULL;
	b->nzc = b->capzc = 0;
}

/* Whether every file of folder e has a zone in this build (one that
 * failed to load has none: the build fails anyway). */
static bool frec_whole(const cbuild_t *b, const fcache_ent_t *e)
{
	if (!e->ents)
		return false;
	for (size_t i = 0; i < e->n; i++)
		if (!b->zc[e->ents[i]].zone)
			return false;
	return true;
}

/* The folder records of this build into the snapshot (none when out of
 * memory: the next build lists every folder). Before the zones move
 * into the snapshot's table: the records borrow them from there. */
static void ftable_fill(cbuild_t *b)
{
	ftable_t *t = vd_conf_snap_ftable(b->snap);
	size_t slots = 16, nfiles = 0, nnames = 0;
	zslot_t *f;
	char *name;

	if (!b->watching || !b->nfc)
		return;
	for (size_t i = 0; i < b->nfc; i++)
		if (frec_whole(b, &b->fc[i])) {
			nfiles += b->fc[i].n;
			nnames += strlen(b->fc[i].real) + 1;
		}
	if (!nfiles)
		return;
	while (slots < 2 * b->nfc)
		slots *= 2;
	t->v = calloc(b->nfc, sizeof(*t->v));
	t->slots = calloc(slots, sizeof(*t->slots));
	t->files = f = malloc(nfiles * sizeof(*t->files));
	t->names = name = malloc(nnames);
	if (!t->v || !t->slots || !t->files || !t->names) {
		vd_conf_ftable_free(t);
		return;
	}
	t->mask = slots - 1;
	for (size_t i = 0; i < b->nfc; i++) {
		const fcache_ent_t *e = &b->fc[i];
		frec_t *r = &t->v[t->n];

		if (!frec_whole(b, e))
			continue;
		r->real = name;
		name = stpcpy(name, e->real) + 1;
		r->files = f;
		for (size_t k = 0; k < e->n; k++) {
			const zcache_ent_t *z = &b->zc[e->ents[k]];

			*f++ = (zslot_t){ z->hash, z->zone };
		}
		r->mark = e->mark;
		r->fallback = e->fallback;
		r->n = e->n;
		vd_hslot_put(t->slots, t->mask, e->hash, t->n);
		t->n++;
	}
}

void vd_conf_ftable_free(ftable_t *t)
{
	free(t->v);
	free(t->files);
	free(t->names);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

void vd_conf_zones_done(cbuild_t *b)
{
	if (!b->nomem)
		ftable_fill(b);
	if (!b->nomem && vd_conf_ztable_take(b, vd_conf_snap_ztable(b->snap)) < 0)
		vd_conf_nomem(b);
	vd_conf_zcache_free(b);
	/* Tens of megabytes at 1000 views, freed in small blocks the tables'
	 * larger allocations cannot reuse: give them back to the system. */
	malloc_trim(0);
}

int vd_conf_ztable_take(cbuild_t *b, ztable_t *out)
{
	size_t n = 0, slots = 16;

	for (size_t i = 0; i < b->nzc; i++)
		n += b->zc[i].zone != NULL;
	while (slots < 2 * n)
		slots *= 2;
	out->slots = calloc(slots, sizeof(*out->slots));
	if (!out->slots)
		return -ENOMEM;
	out->mask = slots - 1;
	for (size_t i = 0; i < b->nzc; i++) {
		zcache_ent_t *e = &b->zc[i];
		size_t j = e->hash & out->mask;

		if (!e->zone)
			continue;
		b->snap->nrecords += e->nrr;
		while (out->slots[j].zone)
			j = (j + 1) & out->mask;
		out->slots[j] = (zslot_t){ e->hash, e->zone }; /* the reference moves */
		e->zone = NULL;
	}
	out->n = n;
	b->snap->nzones = n;
	return 0;
}

void vd_conf_ztable_free(ztable_t *t)
{
	for (size_t i = 0; t->slots && i <= t->mask; i++)
		vd_zone_unref(t->slots[i].zone);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
