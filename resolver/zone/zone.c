/*
 * The zone object: loading (open the file, settle the origin, read, build),
 * reference counting, accessors, and the lookup that answers a name and
 * type from the immutable index. A lookup walks down from the apex one
 * label of the query name at a time, extending the name's hash by that
 * label, so finding the closest encloser costs one index probe per label
 * below the apex and no allocation; the walk can stop at the first missing
 * name because every ancestor of an existing name exists (empty
 * non-terminals are nodes too).
 */
#include "vpcdns/zone.h"

#include "zone_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void vd_zone_error(vd_zone_ctx_t *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	c->nerr++;
	if (!c->errs || c->nerr > VD_ZONE_MAX_ERRORS + 1)
		return;
	if (c->nerr == VD_ZONE_MAX_ERRORS + 1) {
		vd_errlist_add(c->errs, c->path, 0, "too many errors, giving up");
		return;
	}
	va_start(ap, fmt);
	vd_errlist_vadd(c->errs, c->path, line, fmt, ap);
	va_end(ap);
}

static vd_zone_t *zone_new(const char *path, vd_zone_fallback_t fallback)
{
	vd_zone_t *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	atomic_init(&z->refs, 1);
	vd_arena_init(&z->arena, 1024);
	z->fallback = fallback;
	z->path = vd_arena_strdup(&z->arena, path);
	if (!z->path) {
		vd_arena_deinit(&z->arena);
		free(z);
		return NULL;
	}
	return z;
}

static int apex_set(vd_zone_t *z, const uint8_t *origin)
{
	uint8_t *apex;

	z->apex_len = vd_name_len(origin);
	apex = vd_arena_alloc(&z->arena, z->apex_len);
	if (!apex)
		return -ENOMEM;
	vd_name_lower(apex, origin);
	z->apex = apex;
	z->apex_labels = vd_name_labels(apex);
	return 0;
}

/* Reads and builds the zone from the file's text; origin is the
 * operator's, or NULL to take it from the file. */
static int zone_fill(vd_zone_ctx_t *c, const char *text, size_t len,
		     const uint8_t *origin)
{
	uint8_t found[VD_NAME_MAX];
	int ret;

	ret = vd_zone_read_text(c, text, len, origin, found);
	if (ret == 0)
		ret = apex_set(c->z, found);
	if (ret == 0)
		ret = vd_zone_build(c);
	return ret;
}

/* The whole file in one buffer: small files (all of vpcdns-import's) on
 * the caller's stack, bigger ones in one malloc of the size fstat gave.
 * It reads on to the end of the file, so a file that grows while it is
 * read is caught at max_size rather than at the end of the disk. */
typedef struct text {
	char *p;
	size_t len;
	size_t cap;
	char *heap; /* p when it was malloc'd */
} text_t;

static int read_text(vd_zone_ctx_t *c, int fd, const struct stat *st, text_t *t)
{
	ssize_t n;

	if ((size_t)st->st_size + 1 > t->cap) {
		t->cap = (size_t)st->st_size + 1;
		t->heap = t->p = malloc(t->cap);
		if (!t->p)
			return -ENOMEM;
	}
	for (;;) {
		if (t->len == t->cap) {
			size_t cap = t->cap * 2;
			char *p;

			if (t->len > c->max_size)
				break;
			if (cap > c->max_size + 1)
				cap = c->max_size + 1;
			p = realloc(t->heap, cap);
			if (!p)
				return -ENOMEM;
			if (!t->heap)
				memcpy(p, t->p, t->len);
			t->heap = t->p = p;
			t->cap = cap;
		}
		size_t want = t->cap - t->len;

		n = read(fd, t->p + t->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vd_zone_error(c, 0, "read error: %s", strerror(errno));
			return VD_ECONF;
		}
		if (n == 0)
			break;
		t->len += (size_t)n;
		/* A regular file reads short only at its end: with the size
		 * fstat gave, no second read to see the end (one system
		 * call in five per file). A file that grew fills the
		 * buffer and is read on. */
		if ((size_t)n < want && t->len == (size_t)st->st_size)
			break;
	}
	if (t->len > c->max_size) {
		vd_zone_error(c, 0, "file grew beyond %llu bytes while being read",
			      (unsigned long long)c->max_size);
		return VD_ECONF;
	}
	return 0;
}

/*
 * Opens path for reading without ever blocking: O_NONBLOCK, so a FIFO (or
 * a device) put in the file's place does not wait for a writer, and the
 * type and size checked with fstat on the descriptor that will be read,
 * so a file swapped after a check by name cannot slip through. Regular
 * files ignore O_NONBLOCK. Returns the descriptor with its stat in *st,
 * or -1 (reported).
 */
static int open_zone_file(vd_zone_ctx_t *c, struct stat *st)
{
	int fd;

	/* O_NOATIME where allowed (the file's owner, or root): a file read
	 * right after it was written would otherwise get its access time
	 * written back, one inode update per file per reload. */
	fd = openat(c->dirfd, c->name,
		    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(c->dirfd, c->name,
			    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		vd_zone_error(c, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		vd_zone_error(c, 0, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		vd_zone_error(c, 0, "not a regular file");
		goto fail;
	}
	if ((uint64_t)st->st_size > c->max_size) {
		vd_zone_error(c, 0,
			      "file is %llu bytes, more than the limit of %llu "
			      "(server.zone_file_max_size)",
			      (unsigned long long)st->st_size,
			      (unsigned long long)c->max_size);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A zone's file identity is the one thing of it that changes after it is
 * built: when a file is read again and holds the same data, the zone
 * already in use takes the new identity instead of a second copy being
 * kept. Builds (one at a time) and the zone image's saver, never the
 * query path, take this lock around it. */
static pthread_mutex_t identity_lock = PTHREAD_MUTEX_INITIALIZER;

/* Seeds vd_checksum of a zone file's text (any fixed value). */
#define TEXT_SEED 0x7a6f6e6574657874ull

void vd_zone_identity_lock(void)
{
	pthread_mutex_lock(&identity_lock);
}

void vd_zone_identity_unlock(void)
{
	pthread_mutex_unlock(&identity_lock);
}

/* Whether prev was loaded from the same path with the same options (its
 * data may still differ). */
static bool same_key(const vd_zone_t *prev, const char *path, const vd_zone_opts_t *o,
		     uint64_t max_size)
{
	return strcmp(prev->path, path) == 0 && prev->fallback == o->fallback &&
	       prev->max_size == max_size && same_text(prev->origin_text, o->origin);
}

/* prev takes over the identity z was read with. */
static void take_identity(vd_zone_t *prev, const vd_zone_t *z)
{
	vd_zone_identity_lock();
	prev->dev = z->dev;
	prev->ino = z->ino;
	prev->size = z->size;
	prev->mtime = z->mtime;
	prev->ctime = z->ctime;
	prev->racy = z->racy;
	prev->text_sum = z->text_sum;
	vd_zone_identity_unlock();
}

/* z was just read from prev's file: if it holds the same data, prev
 * stands for it (with z's identity) and z is freed. Returns the zone to
 * hand out. */
static vd_zone_t *share_same(vd_zone_t *prev, vd_zone_t *z, const char *path,
			     const vd_zone_opts_t *o, uint64_t max_size)
{
	if (!prev || !same_key(prev, path, o, max_size) || !vd_zone_same_data(prev, z))
		return z;
	take_identity(prev, z);
	free(z);
	vd_zone_ref(prev);
	return prev;
}

/* Whether prev was read from this very file, with these options. */
static bool can_reuse(const vd_zone_t *prev, const char *path, const vd_zone_opts_t *o,
		      uint64_t max_size, const struct stat *st)
{
	return prev && !prev->racy && strcmp(prev->path, path) == 0 &&
	       prev->fallback == o->fallback && prev->max_size == max_size &&
	       same_text(prev->origin_text, o->origin) && prev->dev == st->st_dev &&
	       prev->ino == st->st_ino && prev->size == st->st_size &&
	       same_time(&prev->mtime, &st->st_mtim) &&
	       same_time(&prev->ctime, &st->st_ctim);
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

/* Records the file's identity; racy when it changed within
 * VD_ZONE_RACY_NS of start (or after): the same timestamp could then
 * hide a later write. */
static void set_identity(vd_zone_t *z, const struct stat *st,
			 const struct timespec *start)
{
	int64_t since = ns_of(start) - VD_ZONE_RACY_NS;

	z->dev = st->st_dev;
	z->ino = st->st_ino;
	z->size = st->st_size;
	z->mtime = st->st_mtim;
	z->ctime = st->st_ctim;
	z->racy = ns_of(&st->st_mtim) >= since || ns_of(&st->st_ctim) >= since;
}

int vd_zone_load(const char *path, const char *origin_text, vd_zone_fallback_t fallback,
		 vd_zone_t **out, vd_errlist_t *errs)
{
	return vd_zone_load_max(path, origin_text, fallback, VD_ZONE_FILE_MAX_SIZE, out,
				errs);
}

int vd_zone_load_max(const char *path, const char *origin_text,
		     vd_zone_fallback_t fallback, uint64_t max_size, vd_zone_t **out,
		     vd_errlist_t *errs)
{
	vd_zone_opts_t o = { .origin = origin_text,
			     .fallback = fallback,
			     .max_size = max_size };

	return vd_zone_load_reuse(path, &o, NULL, out, NULL, errs);
}

int vd_zone_load_reuse(const char *path, const vd_zone_opts_t *opts, vd_zone_t *prev,
		       vd_zone_t **out, bool *reused, vd_errlist_t *errs)
{
	return vd_zone_load_reuse_at(AT_FDCWD, path, path, opts, prev, out, reused,
				     errs);
}

int vd_zone_load_reuse_at(int dirfd, const char *name, const char *path,
			  const vd_zone_opts_t *opts, vd_zone_t *prev, vd_zone_t **out,
			  bool *reused, vd_errlist_t *errs)
{
	vd_zone_ctx_t c = { .path = path, .errs = errs, .dirfd = dirfd, .name = name };
	uint8_t origin[VD_NAME_MAX];
	struct timespec start;
	char small[4096];
	text_t text = { .p = small, .cap = sizeof(small) };
	struct stat st;
	uint64_t sum;
	size_t len;
	int ret, fd;

	if (out)
		*out = NULL;
	if (reused)
		*reused = false;
	if (!path || !name || !out || !opts ||
	    (opts->fallback != VD_ZONE_FALLBACK_FORWARD &&
	     opts->fallback != VD_ZONE_FALLBACK_NXDOMAIN))
		return -EINVAL;
	c.max_size = opts->max_size ? opts->max_size : VD_ZONE_FILE_MAX_SIZE;
	if (opts->origin && vd_name_from_text(opts->origin, origin, &len) < 0) {
		vd_zone_error(&c, 0, "invalid zone origin \"%s\"", opts->origin);
		return VD_ECONF;
	}
	/* An unchanged file is known by its identity alone: one stat, no
	 * open (a reload of 201,000 files is mostly this). The identity
	 * includes the change time, so a file made unreadable since (chmod)
	 * is opened again and reported. */
	if (prev && fstatat(dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	    can_reuse(prev, path, opts, c.max_size, &st)) {
		vd_zone_ref(prev);
		*out = prev;
		if (reused)
			*reused = true;
		return 0;
	}
	/* Before the fstat: a write after it has a later timestamp. */
	clock_gettime(CLOCK_REALTIME, &start);
	fd = open_zone_file(&c, &st);
	if (fd < 0)
		return VD_ECONF;
	ret = read_text(&c, fd, &st, &text);
	close(fd);
	if (ret < 0)
		goto fail;
	sum = vd_checksum(text.p, text.len, TEXT_SEED);
	/* The same text in the same options is the same zone (a file
	 * touched, or written again unchanged): no need to parse it, nor to
	 * make a zone; prev takes the file's identity. */
	if (prev && prev->text_sum == sum && same_key(prev, path, opts, c.max_size)) {
		vd_zone_t ident = { 0 };

		set_identity(&ident, &st, &start);
		ident.text_sum = sum;
		take_identity(prev, &ident);
		vd_zone_ref(prev);
		*out = prev;
		free(text.heap);
		return 0;
	}
	c.z = zone_new(path, opts->fallback);
	if (c.z && opts->origin)
		c.z->origin_text = vd_arena_strdup(&c.z->arena, opts->origin);
	if (!c.z || (opts->origin && !c.z->origin_text)) {
		ret = -ENOMEM;
		goto fail;
	}
	c.z->max_size = c.max_size;
	set_identity(c.z, &st, &start);
	c.z->text_sum = sum;
	ret = zone_fill(&c, text.p, text.len, opts->origin ? origin : NULL);
	if (ret < 0)
		goto fail;
	free(text.heap);
	free(c.recs);
	free(c.blob);
	*out = share_same(prev, c.z, path, opts, c.max_size);
	return 0;
fail:
	free(text.heap);
	free(c.recs);
	free(c.blob);
	if (c.z)
		vd_zone_free_built(c.z);
	return ret;
}

void vd_zone_ref(vd_zone_t *z)
{
	if (z)
		atomic_fetch_add_explicit(&z->refs, 1, memory_order_relaxed);
}

void vd_zone_unref(vd_zone_t *z)
{
	if (!z)
		return;
	unsigned before = atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel);
	VD_REQUIRE(before > 0); /* one unref too many: a use after free */
	if (before != 1)
		return;
	free(z); /* every zone handed out is flat: one block */
}

void vd_zone_free_built(vd_zone_t *z)
{
	vd_arena_deinit(&z->arena);
	free(z);
}

bool vd_zone_reusable(const vd_zone_t *z)
{
	return !z->racy;
}

uint32_t vd_zone_apex_hash(const vd_zone_t *z)
{
	return z->apex_hash;
}

const uint8_t *vd_zone_apex(const vd_zone_t *z)
{
	return z ? z->apex : NULL;
}

vd_zone_fallback_t vd_zone_fallback(const vd_zone_t *z)
{
	return z ? z->fallback : VD_ZONE_FALLBACK_FORWARD;
}

const char *vd_zone_origin(const vd_zone_t *z)
{
	return z ? z->origin_text : NULL;
}

const char *vd_zone_path(const vd_zone_t *z)
{
	return z ? z->path : NULL;
}

const vd_rrset_t *vd_zone_soa(const vd_zone_t *z)
{
	return z ? z->soa : NULL;
}

uint32_t vd_zone_neg_ttl(const vd_zone_t *z)
{
	return z ? z->neg_ttl : 0;
}

size_t vd_zone_rr_count(const vd_zone_t *z)
{
	return z ? z->rr_count : 0;
}

/* ---- lookup ------------------------------------------------------------- */

/* The answer rules at one node (exact or wildcard). */
static vd_zl_result_t node_answer(const vd_zone_node_t *n, uint16_t qtype,
				  const vd_rrset_t **rrset)
{
	for (unsigned i = 0; i < n->nrrsets; i++) {
		if (n->rrsets[i].type == VD_T_CNAME && qtype != VD_T_CNAME) {
			*rrset = &n->rrsets[i];
			return VD_ZL_CNAME;
		}
	}
	if (qtype == VD_T_ANY && n->nrrsets) {
		*rrset = &n->rrsets[0];
		return VD_ZL_ANSWER;
	}
	for (unsigned i = 0; i < n->nrrsets; i++) {
		if (n->rrsets[i].type == qtype) {
			*rrset = &n->rrsets[i];
			return VD_ZL_ANSWER;
		}
	}
	return VD_ZL_NODATA;
}

/* Splits name into labels; returns their number, or -1 if the name is
 * malformed or longer than VD_NAME_MAX. */
static int labels_split(const uint8_t *name, const uint8_t **label)
{
	const uint8_t *p = name;
	int n = 0;

	while (*p) {
		if (*p > VD_LABEL_MAX || n == VD_ZONE_LABELS_MAX - 1)
			return -1;
		label[n++] = p;
		p += *p + 1;
		if (p - name >= VD_NAME_MAX)
			return -1;
	}
	label[n] = p;
	return n;
}

vd_zl_result_t vd_zone_lookup(const vd_zone_t *z, const uint8_t *qname_lc,
			      uint16_t qtype, const vd_rrset_t **rrset, bool *wildcard)
{
	const uint8_t *label[VD_ZONE_LABELS_MAX];
	const vd_zone_node_t *node, *next;
	const vd_rrset_t *dummy_set;
	bool dummy_wild;
	size_t qlen;
	uint32_t h;
	int n, i;

	rrset = rrset ? rrset : &dummy_set;
	wildcard = wildcard ? wildcard : &dummy_wild;
	*rrset = NULL;
	*wildcard = false;
	if (!z || !qname_lc)
		return VD_ZL_FALLBACK;
	n = labels_split(qname_lc, label);
	if (n < (int)z->apex_labels)
		return VD_ZL_FALLBACK;
	i = n - (int)z->apex_labels;
	qlen = (size_t)(label[n] - qname_lc) + 1;
	if (qlen - (size_t)(label[i] - qname_lc) != z->apex_len ||
	    memcmp(label[i], z->apex, z->apex_len) != 0)
		return VD_ZL_FALLBACK; /* not at or below the apex */
	node = z->apex_node;
	h = node->hash;
	while (i-- > 0) {
		h = vd_zone_hash_label(h, label[i]);
		next = vd_zone_index_find(z->slots, z->mask, label[i],
					  qlen - (size_t)(label[i] - qname_lc), h);
		if (!next)
			break;
		node = next;
	}
	if (i < 0)
		return node_answer(node, qtype, rrset);
	/* node is the closest encloser (RFC 4592 3.3.1): only its own "*"
	 * child may synthesise the answer. */
	if (node->wild) {
		*wildcard = true;
		return node_answer(node->wild, qtype, rrset);
	}
	return z->fallback == VD_ZONE_FALLBACK_NXDOMAIN ? VD_ZL_NXDOMAIN
							: VD_ZL_FALLBACK;
}

void vd_zone_foreach_rrset(const vd_zone_t *z,
			   void (*cb)(void *arg, const uint8_t *owner,
				      const vd_rrset_t *rs),
			   void *arg)
{
	for (size_t i = 0; i <= z->mask; i++) {
		const vd_zone_node_t *n = z->slots[i];
		if (n == NULL)
			continue;
		for (uint16_t j = 0; j < n->nrrsets; j++)
			cb(arg, n->name, &n->rrsets[j]);
	}
}
