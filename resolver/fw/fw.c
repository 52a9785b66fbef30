/*
 * Domain lists and rule evaluation. A list keeps every name once, lower
 * case, in wire form, back to back in one block; an open-addressed table
 * of 64-bit slots (offset, entry kind, 24 bits of the hash) indexes them,
 * at most half full. Exact entries and wildcard suffixes share the table:
 * a slot says which of the two (or both) its name is.
 */
#include "vpcdns/fw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpcdns/wire.h"

#define KIND_EXACT 1u
#define KIND_WILD 2u
/* A line longer than this cannot hold a name (255 bytes, escaped). */
#define LINE_MAX_TEXT 1100
/* Larger files are refused rather than read into memory. */
#define LIST_FILE_MAX (1ull << 31)

struct vd_fw_list {
	uint8_t *names; /* malloc'd: the entries back to back */
	size_t len, cap;
	uint64_t *slots; /* malloc'd; 0: empty */
	size_t mask;	 /* slots - 1 (a power of two) */
	size_t count;
	size_t nwild;
	/* Label counts (0..127) that exact entries and wildcard suffixes
	 * have: a lookup hashes only the suffixes that could be there. */
	uint64_t exact_labels[2], wild_labels[2];
};

static void mark(uint64_t *bits, unsigned n)
{
	bits[(n >> 6) & 1] |= 1ull << (n & 63);
}

static bool marked(const uint64_t *bits, unsigned n)
{
	return n < 128 && (bits[n >> 6] >> (n & 63)) & 1;
}

static uint64_t name_hash(const uint8_t *name)
{
	return vd_hash(name, vd_name_len(name), VD_HASH_SEED_FIXED);
}

static uint64_t slot_make(size_t off, unsigned kind, uint64_t h)
{
	return (uint64_t)(off + 1) | ((uint64_t)kind << 32) | ((h >> 40) << 40);
}

static size_t slot_off(uint64_t s)
{
	return (size_t)(s & 0xffffffffu) - 1;
}

static unsigned slot_kind(uint64_t s)
{
	return (unsigned)(s >> 32) & 0xffu;
}

/* The slot holding name, or the empty slot where it would go. */
static uint64_t *slot_find(const vd_fw_list_t *l, const uint8_t *name, uint64_t h)
{
	uint64_t tag = (h >> 40) << 40;
	size_t i = (size_t)h & l->mask;

	for (;; i = (i + 1) & l->mask) {
		uint64_t s = l->slots[i];
		if (s == 0)
			return &l->slots[i];
		if ((s & ~((1ull << 40) - 1)) == tag &&
		    vd_name_equal(l->names + slot_off(s), name))
			return &l->slots[i];
	}
}

static unsigned lookup(const vd_fw_list_t *l, const uint8_t *name)
{
	if (l->slots == NULL)
		return 0;
	uint64_t s = *slot_find(l, name, name_hash(name));
	return s ? slot_kind(s) : 0;
}

static int grow_table(vd_fw_list_t *l)
{
	size_t n = l->slots ? (l->mask + 1) * 2 : 1024;
	uint64_t *old = l->slots;
	size_t oldn = old ? l->mask + 1 : 0;

	l->slots = calloc(n, sizeof(*l->slots));
	if (l->slots == NULL) {
		l->slots = old;
		return -ENOMEM;
	}
	l->mask = n - 1;
	for (size_t i = 0; i < oldn; i++) {
		if (old[i] == 0)
			continue;
		const uint8_t *name = l->names + slot_off(old[i]);
		*slot_find(l, name, name_hash(name)) = old[i];
	}
	free(old);
	return 0;
}

static int insert(vd_fw_list_t *l, const uint8_t *name, size_t len, unsigned kind)
{
	if ((l->count + 1) * 2 > (l->slots ? l->mask + 1 : 0) && grow_table(l) < 0)
		return -ENOMEM;
	uint64_t h = name_hash(name);
	uint64_t *s = slot_find(l, name, h);
	mark(kind & KIND_WILD ? l->wild_labels : l->exact_labels, vd_name_labels(name));
	if (*s != 0) {
		if ((slot_kind(*s) & KIND_WILD) == 0 && (kind & KIND_WILD))
			l->nwild++;
		*s |= (uint64_t)kind << 32;
		return 0;
	}
	if (l->len + len > UINT32_MAX - 1)
		return -ENOMEM;
	if (l->len + len > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		while (cap < l->len + len)
			cap *= 2;
		uint8_t *p = realloc(l->names, cap);
		if (p == NULL)
			return -ENOMEM;
		l->names = p;
		l->cap = cap;
	}
	memcpy(l->names + l->len, name, len);
	*s = slot_make(l->len, kind, h);
	l->len += len;
	l->count++;
	if (kind & KIND_WILD)
		l->nwild++;
	return 0;
}

void vd_fw_list_free(vd_fw_list_t *l)
{
	if (l == NULL)
		return;
	free(l->names);
	free(l->slots);
	free(l);
}

bool vd_fw_list_match(const vd_fw_list_t *l, const uint8_t *name_lc)
{
	if (l == NULL)
		return false;
	unsigned n = vd_name_labels(name_lc);
	if (marked(l->exact_labels, n) && (lookup(l, name_lc) & KIND_EXACT))
		return true;
	if (l->nwild == 0)
		return false;
	/* "*.example.com" is the suffix example.com marked wildcard: try
	 * every proper suffix of the name with a label count some wildcard
	 * has, the root last ("*"). */
	for (const uint8_t *p = name_lc; *p != 0;) {
		p += *p + 1;
		n--;
		if (marked(l->wild_labels, n) && (lookup(l, p) & KIND_WILD))
			return true;
	}
	return false;
}

size_t vd_fw_list_count(const vd_fw_list_t *l)
{
	return l ? l->count : 0;
}

size_t vd_fw_list_bytes(const vd_fw_list_t *l)
{
	if (l == NULL)
		return 0;
	return sizeof(*l) + l->cap + (l->slots ? (l->mask + 1) * sizeof(*l->slots) : 0);
}

/* ---- reading ----------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct lreader {
	const char *file;
	vd_errlist_t *errs;
	unsigned nerr;
} lreader_t;

__attribute__((format(printf, 3, 4))) static void lerr(lreader_t *r, unsigned long line,
						       const char *fmt, ...)
{
	va_list ap;

	if (r->nerr++ >= VD_FW_LIST_MAX_ERRORS || r->errs == NULL)
		return;
	va_start(ap, fmt);
	vd_errlist_vadd(r->errs, r->file, line, fmt, ap);
	va_end(ap);
}

/* One line, comments and surrounding blanks already cut: 0, or -ENOMEM
 * (a bad name is recorded and is not an error here). */
static int parse_entry(lreader_t *r, vd_fw_list_t *l, const char *s, size_t n,
		       unsigned long line)
{
	char text[LINE_MAX_TEXT + 1];
	uint8_t wire[VD_NAME_MAX];
	unsigned kind = KIND_EXACT;
	size_t len;

	if (n > LINE_MAX_TEXT) {
		lerr(r, line, "line too long for a domain name");
		return 0;
	}
	memcpy(text, s, n);
	text[n] = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_space(text[i])) {
			lerr(r, line, "more than one name on the line ('%s')", text);
			return 0;
		}
	}
	const char *name = text;
	if (strcmp(text, "*") == 0 || strcmp(text, "*.") == 0) {
		name = ".";
		kind = KIND_WILD;
	} else if (strncmp(text, "*.", 2) == 0) {
		name = text + 2;
		kind = KIND_WILD;
	}
	if (strchr(name, '*') != NULL) {
		lerr(r, line,
		     "'*' is allowed only as the whole first label ('*.example.com') "
		     "in '%s'",
		     text);
		return 0;
	}
	if (vd_name_from_text(name, wire, &len) < 0 ||
	    (kind == KIND_EXACT && len == 1)) {
		lerr(r, line, "bad domain name '%s'", text);
		return 0;
	}
	vd_name_lower(wire, wire);
	return insert(l, wire, len, kind);
}

int vd_fw_list_parse(const char *buf, size_t len, const char *file, vd_fw_list_t **out,
		     vd_errlist_t *errs)
{
	lreader_t r = { .file = file ? file : "list", .errs = errs };
	vd_fw_list_t *l;
	unsigned long line = 0;
	size_t pos = 0;
	int err = 0;

	if (out == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	while (pos < len && err == 0) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		line++;
		/* A comment starts a line or follows a blank. */
		for (size_t i = 0; i < n; i++) {
			if (s[i] == '#' && (i == 0 || is_space(s[i - 1]))) {
				n = i;
				break;
			}
		}
		while (n > 0 && is_space(*s)) {
			s++;
			n--;
		}
		while (n > 0 && is_space(s[n - 1]))
			n--;
		if (n == 0)
			continue;
		if (memchr(s, 0, n) != NULL) {
			lerr(&r, line, "NUL byte in the line");
			continue;
		}
		err = parse_entry(&r, l, s, n, line);
	}
	if (err == 0 && r.nerr > VD_FW_LIST_MAX_ERRORS && errs != NULL)
		vd_errlist_add(errs, r.file, 0, "%u more bad lines",
			       r.nerr - VD_FW_LIST_MAX_ERRORS);
	if (err == 0 && r.nerr > 0)
		err = VD_ECONF;
	if (err < 0) {
		vd_fw_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int vd_fw_list_read(const char *path, const char *file, vd_fw_list_t **out,
		    vd_errlist_t *errs)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, err;

	if (path == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	if (file == NULL)
		file = path;
	/* Non-blocking: a FIFO named by mistake must not hang a reload. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		vd_errlist_add(errs, file, 0, "cannot open: %s", vd_strerror(err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		vd_errlist_add(errs, file, 0, "cannot stat: %s", vd_strerror(err));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > LIST_FILE_MAX) {
		err = VD_ECONF;
		vd_errlist_add(errs, file, 0,
			       S_ISREG(st.st_mode) ? "larger than 2 GiB"
						   : "not a regular file");
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			vd_errlist_add(errs, file, 0, "cannot read: %s",
				       vd_strerror(err));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	err = vd_fw_list_parse(buf, got, file, out, errs);
fail:
	free(buf);
	close(fd);
	return err;
}

/* ---- rules ------------------------------------------------------------- */

const char *vd_fw_action_name(vd_fw_action_t a)
{
	static const char *const names[] = { "ALLOW", "ALERT", "BLOCK" };
	return (unsigned)a < VD_FW_NACTIONS ? names[a] : "?";
}

static bool applies(const vd_fw_rule_t *r, uint16_t qtype, bool redirect)
{
	if (redirect && r->trust_redirections)
		return false;
	if (r->ntypes == 0)
		return true;
	for (unsigned i = 0; i < r->ntypes; i++)
		if (r->types[i] == qtype)
			return true;
	return false;
}

bool vd_fw_check(const vd_fw_set_t *set, const uint8_t *name_lc, uint16_t qtype,
		 bool redirect, vd_fw_match_t *m)
{
	m->group = NULL;
	m->rule = NULL;
	if (set == NULL)
		return false;
	for (size_t g = 0; g < set->ngroups; g++) {
		const vd_fw_group_t *grp = set->groups[g];
		for (size_t i = 0; i < grp->nrules; i++) {
			const vd_fw_rule_t *r = &grp->rules[i];
			if (applies(r, qtype, redirect) &&
			    vd_fw_list_match(r->list, name_lc)) {
				m->group = grp;
				m->rule = r;
				return true;
			}
		}
	}
	return false;
}
