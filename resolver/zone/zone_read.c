/*
 * Reading a zone file with ldns, one record at a time, into the load's
 * staging list: owner lower-cased, rdata converted to uncompressed wire
 * form, and the line each record starts on, so that every later complaint
 * can say "file:line". ldns handles the presentation format ($ORIGIN,
 * $TTL, relative names, parentheses, comments); we keep our own line count
 * because ldns's counter is only useful for its own parse errors and drifts
 * after parenthesised records. No ldns object survives this file.
 */
#include "zone_int.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

/* Names relative to this were written relative while the file had no
 * origin; it cannot clash with a real name (.invalid, RFC 6761). */
static const uint8_t no_origin[] = "\x10vpcdns-no-origin\x07invalid";

typedef struct reader {
	vd_zone_ctx_t *c;
	FILE *fp;
	long pos;	  /* offset up to which newlines are counted */
	unsigned line;	  /* line number at pos */
	uint32_t ttl;	  /* default TTL, updated by $TTL */
	ldns_rdf *origin; /* updated by $ORIGIN */
	ldns_rdf *prev;	  /* owner of the previous record */
	char *buf;
	size_t bufcap;
} reader_t;

static int reader_init(reader_t *r, vd_zone_ctx_t *c, FILE *fp, const uint8_t *origin)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->fp = fp;
	r->line = 1;
	r->ttl = 3600;
	r->origin = ldns_dname_new_frm_data((uint16_t)vd_name_len(origin), origin);
	r->prev = r->origin ? ldns_rdf_clone(r->origin) : NULL;
	if (!r->prev)
		return -ENOMEM;
	return 0;
}

static void reader_deinit(reader_t *r)
{
	ldns_rdf_deep_free(r->origin);
	ldns_rdf_deep_free(r->prev);
	free(r->buf);
}

/* Whether a line holds more than blanks and a comment. */
static bool has_content(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s && *s != '\n' && *s != ';';
}

/*
 * Line the next record starts on (0 if it cannot be told), and whether
 * anything but blank lines and comments is left. Counts the newlines ldns
 * consumed since the last call, then peeks over the blank and comment
 * lines ldns is about to skip; the file position is left unchanged.
 */
static unsigned next_line(reader_t *r, bool *more)
{
	long pos = ftell(r->fp);
	unsigned line;
	ssize_t n;
	int ch;

	*more = true;
	if (pos < 0 || fseek(r->fp, r->pos, SEEK_SET) != 0)
		return 0;
	while (r->pos < pos && (ch = getc(r->fp)) != EOF) {
		if (ch == '\n')
			r->line++;
		r->pos++;
	}
	line = r->line;
	*more = false;
	while ((n = getline(&r->buf, &r->bufcap, r->fp)) > 0) {
		if (has_content(r->buf)) {
			*more = true;
			break;
		}
		line++;
	}
	if (fseek(r->fp, pos, SEEK_SET) != 0)
		*more = false;
	return line;
}

/* Next record into *rr: 1, or 0 at the end of the file, or an error:
 * VD_ECONF (reported; the bad record was consumed, so reading may go on)
 * or -ENOMEM. */
static int read_rr(reader_t *r, ldns_rr **rr, unsigned *line)
{
	ldns_status s;
	bool more;
	long pos;
	int dummy = 0;

	for (;;) {
		*line = next_line(r, &more);
		if (ferror(r->fp)) {
			vd_zone_error(r->c, 0, "read error: %s", strerror(errno));
			return VD_ECONF;
		}
		if (!more)
			return 0;
		/* The text is a buffer already bounded by max_size (read_text
		 * refuses a file that grew past it while being read). */
		pos = ftell(r->fp);
		*rr = NULL;
		s = ldns_rr_new_frm_fp_l(rr, r->fp, &r->ttl, &r->origin, &r->prev,
					 &dummy);
		if (s == LDNS_STATUS_OK && *rr)
			return 1;
		ldns_rr_free(*rr);
		*rr = NULL;
		if (s == LDNS_STATUS_MEM_ERR || s == LDNS_STATUS_OK)
			return -ENOMEM;
		if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
			vd_zone_error(r->c, *line, "$INCLUDE is not supported");
			return VD_ECONF;
		}
		if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_TTL &&
		    s != LDNS_STATUS_SYNTAX_ORIGIN) {
			vd_zone_error(r->c, *line, "%s", ldns_get_errorstr_by_id(s));
			return VD_ECONF;
		}
		/* A directive or blank stretch that did not move us would
		 * loop forever; it cannot happen, but do not bet on it. */
		if (ftell(r->fp) == pos) {
			vd_zone_error(r->c, *line, "unparsable text");
			return VD_ECONF;
		}
	}
}

int vd_zone_read_origin(vd_zone_ctx_t *c, FILE *fp, uint8_t origin[VD_NAME_MAX])
{
	ldns_rdf *sentinel = ldns_dname_new_frm_data(sizeof(no_origin), no_origin);
	ldns_rr *rr = NULL;
	unsigned line;
	reader_t r;
	int ret;

	if (!sentinel)
		return -ENOMEM;
	ret = reader_init(&r, c, fp, no_origin);
	if (ret < 0)
		goto out;
	while ((ret = read_rr(&r, &rr, &line)) == 1 &&
	       ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) {
		ldns_rr_free(rr);
		rr = NULL;
	}
	if (ret == 0) {
		vd_zone_error(c, 0, "no SOA record");
		ret = VD_ECONF;
	}
	if (ret < 0)
		goto out;
	if (ldns_dname_is_subdomain(ldns_rr_owner(rr), sentinel) ||
	    ldns_dname_compare(ldns_rr_owner(rr), sentinel) == 0) {
		vd_zone_error(c, line,
			      "SOA owner is a relative name but the zone has no "
			      "origin: add $ORIGIN or set the zone's origin");
		ret = VD_ECONF;
		goto out;
	}
	memcpy(origin, ldns_rdf_data(ldns_rr_owner(rr)),
	       ldns_rdf_size(ldns_rr_owner(rr)));
	ret = 0;
	if (fseek(fp, 0, SEEK_SET) != 0)
		ret = -errno;
out:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(sentinel);
	reader_deinit(&r);
	return ret;
}

static int blob_put(vd_zone_ctx_t *c, const void *p, size_t n, size_t *off)
{
	if (c->blob_cap - c->blob_len < n) {
		size_t cap = c->blob_cap ? c->blob_cap : 4096;
		uint8_t *b;

		while (cap - c->blob_len < n)
			cap *= 2;
		b = realloc(c->blob, cap);
		if (!b)
			return -ENOMEM;
		c->blob = b;
		c->blob_cap = cap;
	}
	if (n)
		memcpy(c->blob + c->blob_len, p, n);
	*off = c->blob_len;
	c->blob_len += n;
	return 0;
}

static vd_zone_rec_t *rec_new(vd_zone_ctx_t *c)
{
	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		vd_zone_rec_t *v = realloc(c->recs, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->recs = v;
		c->cap = cap;
	}
	memset(&c->recs[c->nrecs], 0, sizeof(c->recs[0]));
	return &c->recs[c->nrecs];
}

/* Owner bytes: records of one name usually follow each other, so share
 * the previous record's copy when it is the same name. */
static int put_owner(vd_zone_ctx_t *c, const uint8_t *lc, size_t len,
		     vd_zone_rec_t *rec)
{
	const vd_zone_rec_t *prev = c->nrecs ? &c->recs[c->nrecs - 1] : NULL;

	rec->owner_len = (uint16_t)len;
	if (prev && prev->owner_len == len &&
	    memcmp(c->blob + prev->owner_off, lc, len) == 0) {
		rec->owner_off = prev->owner_off;
		return 0;
	}
	return blob_put(c, lc, len, &rec->owner_off);
}

int vd_zone_rec_add(vd_zone_ctx_t *c, const vd_zone_rec_t *r)
{
	vd_zone_rec_t *rec = rec_new(c);

	if (!rec)
		return -ENOMEM;
	if (put_owner(c, r->owner, r->owner_len, rec) < 0 ||
	    blob_put(c, r->rdata, r->rdlen, &rec->rdata_off) < 0)
		return -ENOMEM;
	rec->rdlen = r->rdlen;
	rec->type = r->type;
	rec->rclass = r->rclass;
	rec->ttl = r->ttl;
	rec->line = r->line;
	rec->seq = c->nrecs++;
	return 0;
}

void vd_zone_recs_done(vd_zone_ctx_t *c)
{
	for (size_t i = 0; i < c->nrecs; i++) {
		c->recs[i].owner = c->blob + c->recs[i].owner_off;
		c->recs[i].rdata = c->blob + c->recs[i].rdata_off;
	}
}

static int store_rr(vd_zone_ctx_t *c, const ldns_rr *rr, unsigned line,
		    ldns_buffer *buf)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	uint8_t lc[VD_NAME_MAX];
	size_t rdlen;

	if (!ldns_dname_absolute(owner) || ldns_rdf_size(owner) > VD_NAME_MAX) {
		vd_zone_error(c, line, "invalid owner name");
		return 0;
	}
	ldns_buffer_clear(buf);
	if (ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK)
		return -ENOMEM;
	rdlen = ldns_buffer_position(buf);
	if (rdlen > UINT16_MAX) {
		vd_zone_error(c, line, "rdata longer than 65535 bytes");
		return 0;
	}
	vd_name_lower(lc, ldns_rdf_data(owner));
	return vd_zone_rec_add(c, &(vd_zone_rec_t){
					  .owner = lc,
					  .owner_len = (uint16_t)ldns_rdf_size(owner),
					  .rdata = ldns_buffer_begin(buf),
					  .rdlen = (uint16_t)rdlen,
					  .type = (uint16_t)ldns_rr_get_type(rr),
					  .rclass = (uint16_t)ldns_rr_get_class(rr),
					  .ttl = ldns_rr_ttl(rr),
					  .line = line,
				  });
}

int vd_zone_read_records(vd_zone_ctx_t *c, FILE *fp, const uint8_t *origin)
{
	ldns_buffer *buf = ldns_buffer_new(512);
	ldns_rr *rr = NULL;
	unsigned line;
	reader_t r;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = reader_init(&r, c, fp, origin);
	if (ret < 0)
		goto out;
	/* A syntax error consumes the bad record, so carry on to report
	 * every bad line at once (up to VD_ZONE_MAX_ERRORS). */
	while ((ret = read_rr(&r, &rr, &line)) != 0) {
		if (ret == 1) {
			ret = store_rr(c, rr, line, buf);
			ldns_rr_free(rr);
			rr = NULL;
		}
		if ((ret < 0 && ret != VD_ECONF) || c->nerr > VD_ZONE_MAX_ERRORS ||
		    ferror(fp))
			break;
	}
	if (ret == 0 && c->nerr)
		ret = VD_ECONF;
	if (ret < 0)
		goto out;
	vd_zone_recs_done(c);
out:
	reader_deinit(&r);
	ldns_buffer_free(buf);
	return ret;
}

int vd_zone_read_ldns(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX])
{
	/* fmemopen only reads the buffer ("r"): the cast drops no promise. */
	FILE *fp = fmemopen((char *)text, len, "r");
	int ret = 0;

	if (!fp)
		return -ENOMEM;
	if (origin)
		memcpy(found, origin, vd_name_len(origin));
	else
		ret = vd_zone_read_origin(c, fp, found);
	if (origin || ret == 0)
		ret = vd_zone_read_records(c, fp, found);
	fclose(fp);
	return ret;
}

int vd_zone_read_text(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX])
{
	int ret = vd_zone_read_fast(c, text, len, origin, found);

	if (ret == VD_ZONE_NOT_MINE)
		ret = vd_zone_read_ldns(c, text, len, origin, found);
	return ret;
}
