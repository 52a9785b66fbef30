/*
 * The zone image: every zone of a snapshot, saved in server.state_dir so
 * the next start takes each zone whose file did not change from there
 * instead of reading and parsing the file again. A zone is one block of
 * memory (zone/zone_image.c); the file is a header, the blocks, and an
 * index by key at the end:
 *
 *   header   magic, layout of the zone block, zone count, where the index
 *            is, a sum of the index and one of the header itself
 *   record   the address the block was at, a sum of its bytes, the bytes
 *            (padded to 8)
 *   index    per zone: key hash (file, fallback, origin; the hash the
 *            build indexes its zone files by), block length, offset
 *
 * Opening maps the file read-only and indexes it (16 bytes a zone); a
 * build then takes each zone it needs back from the mapping after checking
 * its sum, and unmaps the file when every zone is loaded. Saves rename a
 * new file over the old one, never rewrite it, so the mapped file does not
 * change under a start. That zone still carries the identity of the file it
 * was read from (device, inode, size, mtime, ctime), so it is used exactly
 * when a zone of the previous snapshot would be: after one stat of the
 * file shows it unchanged. Anything wrong with the file (another layout, a
 * bad sum, a short read) costs only the speed: the zone is read from its
 * file as without an image. A save writes a temporary file and renames
 * it over the old one, so a start never sees half an image.
 */
#include "conf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_MAGIC "vpcdnsZI"
#define IMG_ENDIAN 0x01020304u
#define IMG_NAME "zones.img"
/* vd_conf_image_release: how far before its range it gives back. */
#define RELEASE_BEHIND (256u << 10)

typedef struct img_head {
	char magic[8];
	uint32_t layout; /* vd_zone_image_layout() */
	uint32_t endian;
	uint64_t count;
	uint64_t index_off;
	uint64_t index_sum;
	uint64_t head_sum; /* of the bytes above */
} img_head_t;

typedef struct img_rec {
	uint64_t base; /* the address the block was at */
	uint64_t sum;  /* of the block's bytes */
} img_rec_t;

typedef struct img_ent {
	uint32_t hash;
	uint32_t len;
	uint64_t off; /* of the record */
} img_ent_t;

struct vd_conf_image {
	const uint8_t *map; /* the whole file, read-only */
	size_t size;
	img_ent_t *ents;
	size_t count;
	hslot_t *slots; /* by hash; idx: entry + 1 */
	size_t mask;
};

static uint64_t sum_of(const void *p, size_t n, uint64_t seed)
{
	return vd_checksum(p, n, VD_HASH_SEED_FIXED ^ seed);
}

char *vd_conf_image_path(const char *state_dir)
{
	size_t n = strlen(state_dir) + sizeof("/" IMG_NAME);
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", state_dir, IMG_NAME);
	return p;
}

void vd_conf_image_close(vd_conf_image_t *img)
{
	if (!img)
		return;
	if (img->map)
		munmap((void *)img->map, img->size);
	free(img->ents);
	free(img->slots);
	free(img);
}

static bool full_pread(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return false;
		}
		p += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return true;
}

int vd_conf_image_open(const char *path, vd_conf_image_t **out, const char **why)
{
	vd_conf_image_t *img;
	img_head_t h;
	struct stat st;
	size_t slots = 16;
	int fd;

	*out = NULL;
	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = errno == ENOENT ? NULL : "cannot be opened";
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !full_pread(fd, &h, sizeof(h), 0) || memcmp(h.magic, IMG_MAGIC, 8) != 0) {
		*why = "not a zone image";
		goto bad;
	}
	if (h.endian != IMG_ENDIAN || h.layout != vd_zone_image_layout()) {
		*why = "made by another build of vpcdns";
		goto bad;
	}
	if (sum_of(&h, offsetof(img_head_t, head_sum), 0) != h.head_sum ||
	    h.index_off > (uint64_t)st.st_size ||
	    h.count > ((uint64_t)st.st_size - h.index_off) / sizeof(img_ent_t)) {
		*why = "damaged (header)";
		goto bad;
	}
	img = calloc(1, sizeof(*img));
	if (!img) {
		close(fd);
		return -ENOMEM;
	}
	img->size = (size_t)st.st_size;
	img->map = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img->map == MAP_FAILED) {
		img->map = NULL;
		vd_conf_image_close(img);
		*why = "cannot be mapped";
		close(fd);
		return VD_EMALF;
	}
	img->count = (size_t)h.count;
	while (slots < 2 * img->count)
		slots *= 2;
	img->ents = malloc(img->count ? img->count * sizeof(img_ent_t) : 1);
	img->slots = calloc(slots, sizeof(*img->slots));
	if (!img->ents || !img->slots) {
		vd_conf_image_close(img);
		close(fd);
		return -ENOMEM;
	}
	close(fd); /* the mapping stays */
	img->mask = slots - 1;
	memcpy(img->ents, img->map + h.index_off, img->count * sizeof(img_ent_t));
	if (sum_of(img->ents, img->count * sizeof(img_ent_t), 1) != h.index_sum ||
	    img->count >= UINT32_MAX) {
		vd_conf_image_close(img);
		*why = "damaged (index)";
		return VD_EMALF;
	}
	for (size_t i = 0; i < img->count; i++)
		vd_hslot_put(img->slots, img->mask, img->ents[i].hash, i);
	*out = img;
	return 0;
bad:
	close(fd);
	return VD_EMALF;
}

/* The zone of record e, or NULL (outside the file, bad sum, not a
 * zone). */
static vd_zone_t *take(const vd_conf_image_t *img, const img_ent_t *e, bool *damaged)
{
	vd_zone_t *z = NULL;
	img_rec_t rec;

	if (e->off > img->size || sizeof(rec) + e->len > img->size - e->off) {
		*damaged = true;
		return NULL;
	}
	memcpy(&rec, img->map + e->off, sizeof(rec));
	const uint8_t *block = img->map + e->off + sizeof(rec);
	if (sum_of(block, e->len, rec.base) != rec.sum ||
	    vd_zone_image_load(block, e->len, rec.base, &z) == VD_EMALF)
		*damaged = true;
	return z;
}

/* Record e's zone if it is the one for the key, else NULL. */
static vd_zone_t *take_if(const vd_conf_image_t *img, const img_ent_t *e,
			  const char *real, vd_zone_fallback_t fallback,
			  const char *origin, bool *damaged)
{
	vd_zone_t *z = take(img, e, damaged);
	const char *o = z ? vd_zone_origin(z) : NULL;

	if (z && vd_zone_fallback(z) == fallback &&
	    strcmp(vd_zone_path(z), real) == 0 &&
	    ((!o && !origin) || (o && origin && strcmp(o, origin) == 0)))
		return z;
	vd_zone_unref(z);
	return NULL;
}

vd_zone_t *vd_conf_image_find(const vd_conf_image_t *img, size_t hint, uint32_t hash,
			      const char *real, vd_zone_fallback_t fallback,
			      const char *origin, bool *damaged)
{
	vd_zone_t *z;

	if (!img)
		return NULL;
	/* Saved in the order a build lists its zone files: with the same
	 * configuration the record is at the same place, and the build
	 * reads the file front to back. */
	if (hint < img->count && img->ents[hint].hash == hash &&
	    (z = take_if(img, &img->ents[hint], real, fallback, origin, damaged)))
		return z;
	for (size_t i = hash & img->mask; img->slots[i].idx; i = (i + 1) & img->mask) {
		if (img->slots[i].hash != hash || img->slots[i].idx - 1 == hint)
			continue;
		z = take_if(img, &img->ents[img->slots[i].idx - 1], real, fallback,
			    origin, damaged);
		if (z)
			return z;
	}
	return NULL;
}

void vd_conf_image_release(const vd_conf_image_t *img, size_t from, size_t to)
{
	uint64_t lo, hi;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a, e, end;

	if (!img || from >= to || from >= img->count)
		return;
	if (to > img->count)
		to = img->count;
	lo = img->ents[from].off;
	hi = img->ents[to - 1].off + sizeof(img_rec_t) + img->ents[to - 1].len;
	/* Records of another order (another configuration): leave them. */
	if (hi <= lo || hi > img->size || hi - lo > (1u << 20))
		return;
	/* A page fault maps the pages around it too (fault-around, 64 KiB by
	 * default), so records given back just before come in again: give
	 * back that much before the range as well. */
	lo = lo > RELEASE_BEHIND ? lo - RELEASE_BEHIND : 0;
	a = ((uintptr_t)img->map + (uintptr_t)lo) & ~(pg - 1);
	e = ((uintptr_t)img->map + (uintptr_t)hi + pg - 1) & ~(pg - 1);
	end = ((uintptr_t)img->map + img->size + pg - 1) & ~(pg - 1);
	/* Read-only pages of a file: dropped, they come back from the page
	 * cache if a neighbouring record still needs one. */
	(void)madvise((void *)a, (e < end ? e : end) - a, MADV_DONTNEED);
}

/* ---- saving ---------------------------------------------------------- */

static bool put(FILE *fp, const void *p, size_t n, uint64_t *off)
{
	*off += n;
	return fwrite(p, 1, n, fp) == n;
}

/* Writes z's record and its index entry, once per zone (seen: the zones
 * written, open addressing by address). */
typedef struct save_buf {
	uint8_t *p;
	size_t cap;
} save_buf_t;

static bool save_zone(FILE *fp, const vd_zone_t *z, const vd_zone_t **seen, size_t mask,
		      img_ent_t *ents, size_t *n, uint64_t *off, save_buf_t *buf)
{
	static const uint8_t pad[8];
	size_t i = (size_t)(vd_hash(&z, sizeof(z), VD_HASH_SEED_FIXED) & mask), len;

	for (; seen[i]; i = (i + 1) & mask)
		if (seen[i] == z)
			return true;
	seen[i] = z;
	/* A racy zone is never reused: no point keeping it. */
	if (!vd_zone_reusable(z))
		return true;
	while ((len = vd_zone_image_copy(z, buf->p, buf->cap)) > buf->cap) {
		uint8_t *p = realloc(buf->p, len);
		if (!p)
			return false;
		buf->p = p;
		buf->cap = len;
	}
	const uint8_t *block = buf->p;
	img_rec_t rec = { .base = (uint64_t)(uintptr_t)z };
	rec.sum = sum_of(block, len, rec.base);
	ents[*n] = (img_ent_t){ vd_conf_zkey_hash(vd_zone_path(z), vd_zone_fallback(z),
						  vd_zone_origin(z)),
				(uint32_t)len, *off };
	(*n)++;
	return put(fp, &rec, sizeof(rec), off) && put(fp, block, len, off) &&
	       put(fp, pad, (8 - len % 8) % 8, off);
}

/* The zones in the order a build of the same configuration lists their
 * files: by view, each view's zones as listed. */
static int save_to(FILE *fp, const vd_snap_t *s, size_t *count, uint64_t *bytes)
{
	size_t total = vd_conf_snap_zones(s)->n, slots = 16, n = 0;
	img_head_t h = { .endian = IMG_ENDIAN, .layout = vd_zone_image_layout() };
	img_ent_t *ents;
	const vd_zone_t **seen;
	save_buf_t buf = { NULL, 0 };
	uint64_t off = 0;
	bool ok;

	while (slots < 2 * total)
		slots *= 2;
	ents = malloc((total ? total : 1) * sizeof(*ents));
	seen = calloc(slots, sizeof(*seen));
	if (!ents || !seen) {
		free(ents);
		free(seen);
		return -ENOMEM;
	}
	memcpy(h.magic, IMG_MAGIC, 8);
	ok = put(fp, &h, sizeof(h), &off);
	for (size_t v = 0; ok && v < s->nviews; v++)
		for (size_t k = 0; ok && k < vd_view_nzones(s->views[v]) && n < total;
		     k++)
			ok = save_zone(fp, vd_view_zone(s->views[v], k), seen,
				       slots - 1, ents, &n, &off, &buf);
	h.count = n;
	h.index_off = off;
	h.index_sum = sum_of(ents, n * sizeof(*ents), 1);
	h.head_sum = sum_of(&h, offsetof(img_head_t, head_sum), 0);
	ok = ok && put(fp, ents, n * sizeof(*ents), &off) &&
	     fseek(fp, 0, SEEK_SET) == 0 && fwrite(&h, 1, sizeof(h), fp) == sizeof(h);
	free(ents);
	free(seen);
	free(buf.p);
	*count = n;
	*bytes = off;
	return ok ? 0 : -EIO;
}

int vd_conf_image_save(const vd_snap_t *s, size_t *count, uint64_t *bytes,
		       vd_errlist_t *errs)
{
	const char *dir = s->server.state_dir;
	char *path = NULL, *tmp = NULL;
	FILE *fp = NULL;
	int r, fd;

	*count = 0;
	*bytes = 0;
	if (!dir)
		return 0;
	path = vd_conf_image_path(dir);
	tmp = path ? malloc(strlen(path) + 5) : NULL;
	if (!tmp) {
		r = -ENOMEM;
		goto fail;
	}
	sprintf(tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || !(fp = fdopen(fd, "w"))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		vd_errlist_add(errs, tmp, 0, "cannot write the zone image: %s",
			       vd_strerror(r));
		goto fail;
	}
	r = save_to(fp, s, count, bytes);
	if (r == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
		r = -errno;
	if (fclose(fp) != 0 && r == 0)
		r = -errno;
	fp = NULL;
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r < 0) {
		vd_errlist_add(errs, tmp, 0, "cannot write the zone image: %s",
			       vd_strerror(r));
		unlink(tmp);
	}
fail:
	free(path);
	free(tmp);
	/* The index and the set of zones written (8 MiB at 1000 x 200) go
	 * back to the system rather than stay in this thread's heap. */
	malloc_trim(0);
	return r;
}
