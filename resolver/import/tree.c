/*
 * The output tree. --out DIR is a symbolic link to a versioned folder
 * beside it (DIR.v1, DIR.v2, …) that holds the whole import: one folder
 * per VPC, views.yaml (every view) and a manifest naming each VPC, its
 * source and every file written. A new import writes its folder under a
 * temporary name, renames it to the next version and replaces the link
 * with rename(2) of a new link, so a reader that opens DIR/views.yaml
 * gets the old set or the new set, never a mix: the view files name the
 * versioned folder, not the link, and the previous version is kept until
 * the next import. Older versions are removed file by file from their
 * manifest: a file or folder that no manifest lists is never deleted.
 * VPCs of the previous import that this input does not have are carried
 * over (copied, with their view's paths moved to the new folder) unless
 * pruned.
 */
#include "import_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_HEAD                                                           \
	"# vpcdns-import manifest: the VPC folders and files of this import.\n" \
	"# vpcdns-import removes only what a manifest lists. Do not edit.\n"

/* A parsed manifest; strings point into text (malloc, owned). */
typedef struct manifest {
	char *text;
	const char *view_dir;
	const char **vpcs, **sources; /* sources[i] NULL for none */
	size_t nvpcs;
	const char **files;
	size_t nfiles;
} manifest_t;

static void manifest_free(manifest_t *m)
{
	free(m->text);
	free(m->vpcs);
	free(m->sources);
	free(m->files);
	memset(m, 0, sizeof(*m));
}

static int read_text(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	int fd, rc = 0;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_size > 64 * 1024 * 1024) {
		rc = errno ? -errno : -EFBIG;
		close(fd);
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
}

/* Reads dir/IMP_MANIFEST. Returns 0, -errno, or VD_EMALF when it is not
 * a manifest. */
static int manifest_read(const char *dir, manifest_t *m)
{
	size_t capv = 0, capf = 0;
	char *path = NULL, *line, *next;
	int rc;

	memset(m, 0, sizeof(*m));
	if (asprintf(&path, "%s/%s", dir, IMP_MANIFEST) < 0)
		return -ENOMEM;
	rc = read_text(path, &m->text, NULL);
	free(path);
	if (rc)
		return rc;
	for (line = m->text; line && *line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (strncmp(line, "viewdir ", 8) == 0) {
			m->view_dir = line + 8;
		} else if (strncmp(line, "vpc ", 4) == 0) {
			char *src = strchr(line + 4, ' ');

			if (!src || imp_grow((void **)&m->vpcs, &capv, m->nvpcs,
					     sizeof(char *))) {
				rc = src ? -ENOMEM : VD_EMALF;
				break;
			}
			/* the same capacity for both arrays */
			m->sources = realloc(m->sources, capv * sizeof(char *));
			if (!m->sources) {
				rc = -ENOMEM;
				break;
			}
			*src++ = '\0';
			m->vpcs[m->nvpcs] = line + 4;
			m->sources[m->nvpcs++] = strcmp(src, "-") == 0 ? NULL : src;
		} else if (strncmp(line, "file ", 5) == 0) {
			/* Only relative paths without "..": a manifest names
			 * files under its own folder. */
			if (line[5] == '/' || strstr(line + 5, "..")) {
				rc = VD_EMALF;
				break;
			}
			if (imp_grow((void **)&m->files, &capf, m->nfiles,
				     sizeof(char *))) {
				rc = -ENOMEM;
				break;
			}
			m->files[m->nfiles++] = line + 5;
		} else {
			rc = VD_EMALF;
		}
	}
	if (rc == 0 && !m->view_dir)
		rc = VD_EMALF;
	if (rc)
		manifest_free(m);
	return rc;
}

/* ---- paths ------------------------------------------------------------------------- */

/* The folder and the last component of out_dir (arena). */
static int split_out(vd_import_t *im, const char **parent, const char **base)
{
	const char *slash = strrchr(im->out_dir, '/');
	char *p;

	if (!slash) {
		*parent = ".";
		*base = im->out_dir;
		return 0;
	}
	*base = slash + 1;
	if (slash == im->out_dir) {
		*parent = "/";
		return 0;
	}
	p = vd_arena_alloc(&im->arena, (size_t)(slash - im->out_dir) + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, im->out_dir, (size_t)(slash - im->out_dir));
	p[slash - im->out_dir] = '\0';
	*parent = p;
	return 0;
}

/* N when name is "<base>.v<N>", else 0. */
static unsigned version_of(const char *name, const char *base)
{
	size_t n = strlen(base);
	unsigned long v;
	char *end;

	if (strncmp(name, base, n) != 0 || strncmp(name + n, ".v", 2) != 0 ||
	    name[n + 2] < '1' || name[n + 2] > '9')
		return 0;
	errno = 0;
	v = strtoul(name + n + 2, &end, 10);
	if (*end || errno || v > UINT_MAX - 1)
		return 0;
	return (unsigned)v;
}

static unsigned max_version(const char *parent, const char *base)
{
	DIR *dp = opendir(parent);
	struct dirent *d;
	unsigned max = 0, v;

	if (!dp)
		return 0;
	while ((d = readdir(dp))) {
		v = version_of(d->d_name, base);
		if (v > max)
			max = v;
	}
	closedir(dp);
	return max;
}

static char *arena_printf(vd_arena_t *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *arena_printf(vd_arena_t *a, const char *fmt, ...)
{
	char *tmp = NULL, *out;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	out = vd_arena_strdup(a, tmp);
	free(tmp);
	return out;
}

/* ---- planning ---------------------------------------------------------------------- */

static void tnote(vd_import_note_fn note, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void tnote(vd_import_note_fn note, void *arg, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	note(arg, msg);
}

static bool source_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool source_loaded(const vd_import_t *im, const char *src)
{
	for (size_t i = 0; i < im->nsources; i++) {
		if (source_eq(im->sources[i], src))
			return true;
	}
	return false;
}

static bool vpc_built(const vd_import_t *im, const char *id)
{
	for (size_t i = 0; i < im->nvpcs; i++) {
		if (strcmp(im->vpcs[i].id, id) == 0)
			return true;
	}
	return false;
}

/* Decides, for each VPC of the previous import, whether it is carried
 * over, and says so. */
static int plan_old_vpcs(vd_import_t *im, const manifest_t *m, vd_import_note_fn note,
			 void *arg)
{
	im->old = vd_arena_alloc(&im->arena, (m->nvpcs + 1) * sizeof(*im->old));
	if (!im->old)
		return -ENOMEM;
	for (size_t i = 0; i < m->nvpcs; i++) {
		imp_old_vpc_t *o = &im->old[im->nold];
		const char *src = m->sources[i];

		if (vpc_built(im, m->vpcs[i]))
			continue;
		o->id = vd_arena_strdup(&im->arena, m->vpcs[i]);
		o->source = src ? vd_arena_strdup(&im->arena, src) : NULL;
		if (!o->id || (src && !o->source))
			return -ENOMEM;
		im->nold++;
		o->carried = true;
		if (im->nwant) /* --vpc: the others are out of scope */
			continue;
		if (im->prune && source_loaded(im, src)) {
			o->carried = false;
			tnote(note, arg,
			      "%s: from an earlier import, not in the input: removed "
			      "(--prune)",
			      o->id);
		} else if (im->prune) {
			tnote(note, arg,
			      "%s: from an earlier import, not in the input: kept, "
			      "because its source %s was not in this import",
			      o->id, src ? src : "(none)");
		} else {
			tnote(note, arg,
			      "%s: from an earlier import, not in the input: kept "
			      "(--prune removes it)",
			      o->id);
		}
	}
	return 0;
}

static int bad_out(vd_errlist_t *errs, const char *out, const char *why)
{
	vd_errlist_add(errs, out, 0, "%s", why);
	return VD_EMALF;
}

int imp_tree_plan(vd_import_t *im, vd_import_note_fn note, void *arg,
		  vd_errlist_t *errs)
{
	const char *parent, *base;
	char target[PATH_MAX];
	manifest_t m = { 0 };
	struct stat st;
	ssize_t n;
	int rc;

	rc = split_out(im, &parent, &base);
	if (rc)
		return rc;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    strchr(im->out_dir, '\n'))
		return bad_out(errs, im->out_dir,
			       "not usable as the output: name a folder to create "
			       "(its last component cannot be '.' or '..')");
	if (lstat(im->out_dir, &st) == 0) {
		if (!S_ISLNK(st.st_mode))
			return bad_out(
				errs, im->out_dir,
				"exists and is not the symbolic link vpcdns-import "
				"maintains (the output is a link to a versioned "
				"folder beside it): move it away or choose another "
				"--out");
		n = readlink(im->out_dir, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		im->old_version = version_of(target, base);
		if (!im->old_version)
			return bad_out(
				errs, im->out_dir,
				"a symbolic link that vpcdns-import did not "
				"make (it does not point to a versioned folder "
				"beside it): move it away or choose another --out");
		im->old_dir = arena_printf(&im->arena, "%s.v%u", im->out_dir,
					   im->old_version);
		if (!im->old_dir)
			return -ENOMEM;
		rc = manifest_read(im->old_dir, &m);
		if (rc) {
			vd_errlist_add(errs, im->old_dir, 0,
				       "cannot read the previous import's manifest "
				       "%s: %s",
				       IMP_MANIFEST,
				       rc == VD_EMALF ? "not a manifest"
						      : strerror(-rc));
			return rc == -ENOMEM ? rc : VD_EMALF;
		}
	} else if (errno != ENOENT) {
		vd_errlist_add(errs, im->out_dir, 0, "cannot use: %s", strerror(errno));
		return -errno;
	}
	im->version = max_version(parent, base);
	if (im->version < im->old_version)
		im->version = im->old_version;
	im->version++;
	im->view_dir = arena_printf(&im->arena, "%s.v%u", im->out_dir, im->version);
	rc = im->view_dir ? 0 : -ENOMEM;
	if (rc == 0 && m.text) {
		im->old_view_dir = vd_arena_strdup(&im->arena, m.view_dir);
		rc = im->old_view_dir ? plan_old_vpcs(im, &m, note, arg) : -ENOMEM;
	}
	manifest_free(&m);
	return rc;
}

/* ---- the new tree's shared files ------------------------------------------------- */

/* Replaces every "from" in text with "to"; malloc. */
static char *replace_all(const char *text, const char *from, const char *to,
			 size_t *len)
{
	size_t nf = strlen(from), nt = strlen(to), count = 0, out;
	const char *p;
	char *buf, *w;

	for (p = text; nf && (p = strstr(p, from)); p += nf)
		count++;
	out = strlen(text) + count * nt - count * nf;
	buf = malloc(out + 1);
	if (!buf)
		return NULL;
	w = buf;
	for (p = text; *p;) {
		if (nf && strncmp(p, from, nf) == 0) {
			memcpy(w, to, nt);
			w += nt;
			p += nf;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	*len = out;
	return buf;
}

/* Copies a carried VPC's files from the previous version; its view names
 * the new folder. */
static int carry_vpc(vd_import_t *im, const imp_old_vpc_t *o, const manifest_t *m,
		     vd_errlist_t *errs)
{
	size_t idlen = strlen(o->id);
	char *from = NULL, *to = NULL;
	int rc = 0;

	if (asprintf(&from, "%s/%s/", m->view_dir, o->id) < 0 ||
	    asprintf(&to, "%s/%s/", im->view_dir, o->id) < 0) {
		free(from);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nfiles && rc == 0; i++) {
		const char *f = m->files[i];
		char *path = NULL, *text = NULL, *ef = NULL, *et = NULL;
		size_t len = 0;

		if (strncmp(f, o->id, idlen) != 0 || f[idlen] != '/')
			continue;
		if (asprintf(&path, "%s/%s", im->old_dir, f) < 0)
			rc = -ENOMEM;
		if (rc == 0)
			rc = read_text(path, &text, &len);
		if (rc && rc != -ENOMEM)
			vd_errlist_add(errs, path, 0,
				       "cannot read (listed in the previous import's "
				       "manifest): %s",
				       strerror(-rc));
		if (rc == 0 && strcmp(f + idlen, "/view.yaml") == 0) {
			char *moved;

			ef = imp_yaml_escape(from);
			et = imp_yaml_escape(to);
			moved = ef && et ? replace_all(text, ef, et, &len) : NULL;
			free(text);
			text = moved;
			rc = text ? 0 : -ENOMEM;
		}
		if (rc == 0)
			rc = imp_add_file(im, text, len, f);
		else
			free(text);
		free(ef);
		free(et);
		free(path);
	}
	free(from);
	free(to);
	return rc;
}

typedef struct vref {
	const char *id, *source;
} vref_t;

static int vref_cmp(const void *a, const void *b)
{
	return strcmp(((const vref_t *)a)->id, ((const vref_t *)b)->id);
}

static const imp_file_t *find_ofile(const vd_import_t *im, const char *path)
{
	for (size_t i = 0; i < im->nfiles; i++) {
		if (strcmp(im->ofiles[i].path, path) == 0)
			return &im->ofiles[i];
	}
	return NULL;
}

static int path_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* views.yaml and the manifest, over the VPCs in refs (sorted). */
static int render_shared(vd_import_t *im, const vref_t *refs, size_t n)
{
	char *views = NULL, *man = NULL, *vpath = NULL;
	size_t vlen = 0, mlen = 0;
	FILE *vf = open_memstream(&views, &vlen);
	FILE *mf = open_memstream(&man, &mlen);
	const char **paths = NULL;
	size_t nfiles = im->nfiles;
	int rc = 0;

	paths = malloc((nfiles + 1) * sizeof(*paths));
	if (!vf || !mf || !paths) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nfiles; i++)
		paths[i] = im->ofiles[i].path;
	if (nfiles)
		qsort(paths, nfiles, sizeof(*paths), path_ptr_cmp);
	fprintf(vf, "# Every view of this import (generated by vpcdns-import; do not "
		    "edit):\n# read it with view_files:.\n");
	if (!n)
		fprintf(vf, "[]\n");
	fprintf(mf, MANIFEST_HEAD "viewdir %s\n", im->view_dir);
	for (size_t i = 0; i < n; i++) {
		const imp_file_t *f;
		size_t idlen = strlen(refs[i].id);

		free(vpath);
		vpath = NULL;
		if (asprintf(&vpath, "%s/view.yaml", refs[i].id) < 0) {
			rc = -ENOMEM;
			goto fail;
		}
		f = find_ofile(im, vpath);
		if (f)
			fwrite(f->buf, 1, f->pub.len, vf);
		fprintf(mf, "vpc %s %s\n", refs[i].id,
			refs[i].source ? refs[i].source : "-");
		for (size_t k = 0; k < nfiles; k++) {
			if (strncmp(paths[k], refs[i].id, idlen) == 0 &&
			    paths[k][idlen] == '/')
				fprintf(mf, "file %s\n", paths[k]);
		}
	}
	if (fclose(vf) != 0 || fclose(mf) != 0) {
		vf = mf = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	vf = mf = NULL;
	rc = imp_add_file(im, views, vlen, IMP_VIEWS);
	views = NULL;
	if (rc == 0)
		rc = imp_add_file(im, man, mlen, IMP_MANIFEST);
	man = NULL;
fail:
	if (vf)
		fclose(vf);
	if (mf)
		fclose(mf);
	free(views);
	free(man);
	free(vpath);
	free(paths);
	return rc;
}

int imp_tree_finish(vd_import_t *im, vd_errlist_t *errs)
{
	manifest_t m = { 0 };
	vref_t *refs;
	size_t n = 0;
	int rc = 0;

	refs = malloc((im->nvpcs + im->nold + 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < im->nvpcs; i++)
		refs[n++] = (vref_t){ im->vpcs[i].id, im->vpcs[i].source };
	if (im->old_dir) {
		/* Read again for the file list of the carried VPCs. */
		rc = manifest_read(im->old_dir, &m);
		if (rc) {
			vd_errlist_add(errs, im->old_dir, 0,
				       "the previous import's manifest changed "
				       "during the import");
			rc = rc == -ENOMEM ? rc : VD_EMALF;
		}
	}
	for (size_t i = 0; i < im->nold && rc == 0; i++) {
		if (!im->old[i].carried)
			continue;
		rc = carry_vpc(im, &im->old[i], &m, errs);
		refs[n++] = (vref_t){ im->old[i].id, im->old[i].source };
	}
	if (rc == 0 && n)
		qsort(refs, n, sizeof(*refs), vref_cmp);
	if (rc == 0)
		rc = render_shared(im, refs, n);
	manifest_free(&m);
	free(refs);
	return rc;
}

/* ---- the disk -------------------------------------------------------------------- */

static int fail_errno(vd_errlist_t *errs, const char *path, const char *what)
{
	int err = errno;

	vd_errlist_add(errs, path, 0, "cannot %s: %s", what, strerror(err));
	return -err;
}

/* mkdir -p */
static int make_dirs(const char *path, vd_errlist_t *errs)
{
	char *p = strdup(path);
	struct stat st;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; rc == 0; s++) {
		char save = *s;

		if (save && save != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = fail_errno(errs, p, "create directory");
		*s = save;
		if (!save)
			break;
	}
	if (rc == 0 && stat(path, &st) != 0) {
		rc = fail_errno(errs, path, "use as a directory");
	} else if (rc == 0 && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		rc = fail_errno(errs, path, "use as a directory");
	}
	free(p);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const char *data, size_t len,
		      vd_errlist_t *errs)
{
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail_errno(errs, path, "create");
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0)
		rc = fail_errno(errs, path, "write");
	if (close(fd) != 0 && rc == 0)
		rc = fail_errno(errs, path, "write");
	return rc;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Removes the listed files under dir, then the folders they leave empty,
 * then dir if it is empty. Returns whether dir is gone. */
static bool remove_listed(const char *dir, const char *const *files, size_t n)
{
	char *path = NULL;

	for (size_t i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, files[i]) < 0)
			return false;
		unlink(path);
		/* Parent folders, deepest first, while they are empty. */
		for (char *s = strrchr(path, '/'); s && s > path + strlen(dir);
		     s = strrchr(path, '/')) {
			*s = '\0';
			if (rmdir(path) != 0)
				break;
		}
		free(path);
		path = NULL;
	}
	return rmdir(dir) == 0;
}

static void remove_version(const char *dir, vd_import_note_fn note, void *arg)
{
	const char *shared[] = { IMP_VIEWS, IMP_MANIFEST };
	manifest_t m;

	if (manifest_read(dir, &m) != 0)
		return; /* not ours, or not readable: left alone */
	remove_listed(dir, m.files, m.nfiles);
	if (!remove_listed(dir, shared, 2))
		tnote(note, arg,
		      "%s: old version kept: it holds files vpcdns-import did not "
		      "write",
		      dir);
	manifest_free(&m);
}

/* Every "<base>.v<N>" beside the link but the new and the previous one. */
static void remove_old_versions(const vd_import_t *im, const char *parent,
				const char *base, vd_import_note_fn note, void *arg)
{
	DIR *dp = opendir(parent);
	struct dirent *d;
	char *path = NULL;
	unsigned v;

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		v = version_of(d->d_name, base);
		if (!v || v == im->version || v == im->old_version)
			continue;
		if (asprintf(&path, "%s/%s", parent, d->d_name) < 0)
			break;
		remove_version(path, note, arg);
		free(path);
		path = NULL;
	}
	closedir(dp);
}

static int write_tree(const vd_import_t *im, const char *dir, vd_errlist_t *errs)
{
	char *path = NULL, *slash;
	int rc = 0;

	for (size_t i = 0; i < im->nfiles && rc == 0; i++) {
		if (asprintf(&path, "%s/%s", dir, im->files[i].path) < 0)
			return -ENOMEM;
		slash = strrchr(path, '/');
		*slash = '\0';
		rc = make_dirs(path, errs);
		*slash = '/';
		if (rc == 0)
			rc = write_file(path, im->files[i].data, im->files[i].len,
					errs);
		free(path);
	}
	return rc;
}

static bool remove_written(const vd_import_t *im, const char *dir)
{
	const char **paths = malloc((im->nfiles + 1) * sizeof(*paths));
	bool gone;

	if (!paths)
		return false;
	for (size_t i = 0; i < im->nfiles; i++)
		paths[i] = im->files[i].path;
	gone = remove_listed(dir, paths, im->nfiles);
	free(paths);
	return gone;
}

int vd_import_write(const vd_import_t *im, vd_import_note_fn note, void *arg,
		    vd_errlist_t *errs)
{
	char *tmp = NULL, *link = NULL, target[PATH_MAX];
	const char *parent, *base;
	char *pdup = NULL;
	bool renamed = false;
	int rc;

	if (!im || !errs || !im->built || !im->files || !im->view_dir)
		return -EINVAL;
	base = strrchr(im->out_dir, '/');
	base = base ? base + 1 : im->out_dir;
	pdup = base == im->out_dir
		       ? strdup(".")
		       : strndup(im->out_dir, (size_t)(base - 1 - im->out_dir));
	if (pdup && !*pdup) {
		free(pdup);
		pdup = strdup("/");
	}
	if (!pdup)
		return -ENOMEM;
	parent = pdup;
	snprintf(target, sizeof(target), "%s.v%u", base, im->version);
	if (asprintf(&tmp, "%s.new-%ld", im->out_dir, (long)getpid()) < 0) {
		tmp = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	if (asprintf(&link, "%s.link-%ld", im->out_dir, (long)getpid()) < 0) {
		link = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	rc = make_dirs(parent, errs);
	if (rc)
		goto fail;
	if (mkdir(tmp, 0755) != 0) {
		rc = fail_errno(errs, tmp, "create directory");
		free(tmp);
		tmp = NULL; /* not ours */
		goto fail;
	}
	rc = write_tree(im, tmp, errs);
	if (rc)
		goto fail;
	if (rename(tmp, im->view_dir) != 0) {
		rc = fail_errno(errs, im->view_dir,
				"create (is another vpcdns-import running?)");
		goto fail;
	}
	renamed = true;
	unlink(link);
	if (symlink(target, link) != 0) {
		rc = fail_errno(errs, link, "create symbolic link");
		goto fail;
	}
	if (rename(link, im->out_dir) != 0) {
		rc = fail_errno(errs, im->out_dir, "replace the symbolic link");
		unlink(link);
		goto fail;
	}
	fsync_dir(parent);
	remove_old_versions(im, parent, base, note, arg);
	rc = 0;
	goto out;
fail:
	/* Nothing of this run stays; the link still names the old tree. */
	if (tmp)
		remove_written(im, renamed ? im->view_dir : tmp);
out:
	free(tmp);
	free(link);
	free(pdup);
	return rc;
}
