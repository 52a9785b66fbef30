/*
 * The fast zone file reader: the plain subset of the presentation format
 * that vpcdns-import writes ($ORIGIN, $TTL, one record per line, A, AAAA,
 * CNAME, NS, PTR and SOA, optional TTL then optional class IN, relative
 * and absolute names, @, a blank owner carried over, comments, CRLF), read
 * straight from the file's bytes with no allocation per record. It
 * produces exactly the records the ldns reader (zone_read.c) produces for
 * the same text, following ldns 1.8's rules where they are odd (a record
 * without a TTL under "$TTL 0" gets 3600). It reports nothing: anything
 * outside its grammar (parentheses, quotes, backslashes, $INCLUDE, other
 * types or classes, TTLs like 1h, control bytes, names it would have to
 * complete with an origin it does not know yet) makes it answer "not
 * mine", and the ldns reader reads the whole file, so every message about
 * a bad file keeps its wording and its line.
 */
#include "zone_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* Most fields a line of the subset has: owner TTL class SOA + 7. */
#define FIELDS_MAX 12
/* Longest line taken: ldns cuts a record's rdata text at 64 KiB. */
#define LINE_MAX_LEN 4096

typedef struct tok {
	const char *p;
	size_t n;
} tok_t;

typedef struct fast {
	vd_zone_ctx_t *c;
	unsigned line;
	uint32_t ttl; /* default TTL, as $TTL set it */
	bool find;    /* the origin is the first SOA's owner, once seen */
	bool soa;     /* an SOA has been read */
	uint8_t origin[VD_NAME_MAX];
	size_t origin_len; /* 0: not known yet */
	uint8_t prev[VD_NAME_MAX];
	size_t prev_len; /* 0: not known yet */
	uint8_t *found;	 /* the origin the records were read with */
} fast_t;

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool tok_is(const tok_t *t, const char *s)
{
	size_t n = strlen(s);

	return t->n == n && strncasecmp(t->p, s, n) == 0;
}

/* Wire form of name token t into out (len in *len); false if the subset
 * cannot say what ldns would make of it. */
static bool name_parse(const fast_t *f, const tok_t *t, uint8_t *out, size_t *len)
{
	size_t o = 0, label = 0;

	if (t->n == 1 && t->p[0] == '@') {
		if (!f->origin_len)
			return false;
		memcpy(out, f->origin, f->origin_len);
		*len = f->origin_len;
		return true;
	}
	if (t->n == 1 && t->p[0] == '.') {
		out[0] = 0;
		*len = 1;
		return true;
	}
	for (size_t i = 0; i < t->n; i++) {
		char ch = t->p[i];

		if (ch == '.') { /* close the label: its length byte at label */
			if (o == label || o - label - 1 > VD_LABEL_MAX)
				return false;
			out[label] = (uint8_t)(o - label - 1);
			label = o;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '*'))
			return false;
		if (o == label)
			o++; /* room for the length byte */
		if (o >= VD_NAME_MAX)
			return false;
		out[o++] = (uint8_t)ch;
	}
	if (o != label) { /* relative: close the last label, add the origin */
		if (o - label - 1 > VD_LABEL_MAX || !f->origin_len ||
		    o + f->origin_len > VD_NAME_MAX)
			return false;
		out[label] = (uint8_t)(o - label - 1);
		memcpy(out + o, f->origin, f->origin_len);
		*len = o + f->origin_len;
		return true;
	}
	if (o >= VD_NAME_MAX)
		return false;
	out[o++] = 0;
	*len = o;
	return true;
}

/* Decimal number of 1 to 10 digits up to 2^32 - 1. */
static bool num_parse(const tok_t *t, uint32_t *v)
{
	uint64_t n = 0;

	if (t->n == 0 || t->n > 10)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(t->p[i] - '0');
	}
	if (n > UINT32_MAX)
		return false;
	*v = (uint32_t)n;
	return true;
}

static bool addr_parse(const tok_t *t, int af, uint8_t *out)
{
	char s[64];

	if (t->n >= sizeof(s))
		return false;
	memcpy(s, t->p, t->n);
	s[t->n] = 0;
	return inet_pton(af, s, out) == 1;
}

/* Whether the SOA owner name (found without an origin) falls under the
 * placeholder the ldns reader uses then: it would refuse it. */
static bool under_placeholder(const uint8_t *name, size_t len)
{
	static const uint8_t ph[] = "\x10vpcdns-no-origin\x07invalid";
	uint8_t lc[VD_NAME_MAX];

	vd_name_lower(lc, name);
	for (size_t i = 0; i < len && lc[i]; i += (size_t)lc[i] + 1) {
		if (len - i == sizeof(ph) && memcmp(lc + i, ph, sizeof(ph)) == 0)
			return true;
	}
	return false;
}

/* One record line split into fields; 1 stored, 0 not mine, -ENOMEM. */
static int record(fast_t *f, const tok_t *t, size_t nt, bool blank_owner)
{
	uint8_t owner[VD_NAME_MAX], rdata[2 * VD_NAME_MAX + 20];
	vd_zone_rec_t rec = { .rclass = VD_C_IN, .line = f->line };
	size_t i = 0, owner_len, rdlen = 0, len;
	uint32_t ttl = f->ttl ? f->ttl : 3600;

	if (blank_owner) {
		if (!f->prev_len)
			return 0;
		memcpy(owner, f->prev, f->prev_len);
		owner_len = f->prev_len;
	} else {
		if (!name_parse(f, &t[i++], owner, &owner_len))
			return 0;
	}
	if (i < nt && t[i].p[0] >= '0' && t[i].p[0] <= '9') {
		if (!num_parse(&t[i++], &ttl))
			return 0;
	}
	if (i < nt && tok_is(&t[i], "IN"))
		i++;
	if (i == nt)
		return 0;
	if (tok_is(&t[i], "A"))
		rec.type = VD_T_A;
	else if (tok_is(&t[i], "AAAA"))
		rec.type = VD_T_AAAA;
	else if (tok_is(&t[i], "CNAME"))
		rec.type = VD_T_CNAME;
	else if (tok_is(&t[i], "NS"))
		rec.type = VD_T_NS;
	else if (tok_is(&t[i], "PTR"))
		rec.type = VD_T_PTR;
	else if (tok_is(&t[i], "SOA"))
		rec.type = VD_T_SOA;
	else
		return 0;
	i++;
	if (rec.type == VD_T_SOA && f->find && !f->soa) {
		/* The ldns reader settles the origin on this owner and reads
		 * the file again with it: it completes this SOA's names too. */
		if (under_placeholder(owner, owner_len))
			return 0;
		memcpy(f->found, owner, owner_len);
		if (!f->origin_len) {
			memcpy(f->origin, owner, owner_len);
			f->origin_len = owner_len;
		}
	}
	switch (rec.type) {
	case VD_T_A:
		if (nt - i != 1 || !addr_parse(&t[i], AF_INET, rdata))
			return 0;
		rdlen = 4;
		break;
	case VD_T_AAAA:
		if (nt - i != 1 || !addr_parse(&t[i], AF_INET6, rdata))
			return 0;
		rdlen = 16;
		break;
	case VD_T_SOA:
		if (nt - i != 7)
			return 0;
		for (int k = 0; k < 2; k++, i++) {
			if (!name_parse(f, &t[i], rdata + rdlen, &len))
				return 0;
			rdlen += len;
		}
		for (int k = 0; k < 5; k++, i++) {
			uint32_t v;

			if (!num_parse(&t[i], &v))
				return 0;
			vd_set32(rdata + rdlen, v);
			rdlen += 4;
		}
		break;
	default: /* CNAME, NS, PTR: one name */
		if (nt - i != 1 || !name_parse(f, &t[i], rdata, &rdlen))
			return 0;
		break;
	}
	if (rec.type == VD_T_SOA)
		f->soa = true;
	memcpy(f->prev, owner, owner_len);
	f->prev_len = owner_len;
	vd_name_lower(owner, owner);
	rec.owner = owner;
	rec.owner_len = (uint16_t)owner_len;
	rec.rdata = rdata;
	rec.rdlen = (uint16_t)rdlen;
	rec.ttl = ttl;
	return vd_zone_rec_add(f->c, &rec) < 0 ? -ENOMEM : 1;
}

/* $ORIGIN or $TTL; true if understood and applied. */
static bool directive(fast_t *f, const tok_t *t, size_t nt)
{
	uint8_t name[VD_NAME_MAX];
	size_t len;

	if (nt != 2)
		return false;
	if (t[0].n == 7 && memcmp(t[0].p, "$ORIGIN", 7) == 0) {
		/* Absolute names only (ldns keeps a relative one as it is),
		 * and not the root ("." followed by blanks fails in ldns). */
		if (t[1].n < 2 || t[1].p[t[1].n - 1] != '.' ||
		    !name_parse(f, &t[1], name, &len))
			return false;
		memcpy(f->origin, name, len);
		f->origin_len = len;
		return true;
	}
	if (t[0].n == 4 && memcmp(t[0].p, "$TTL", 4) == 0)
		return num_parse(&t[1], &f->ttl);
	return false;
}

/* Splits the line [p, end) (no newline) into fields; false if it holds
 * anything outside the subset. */
static bool split(const char *p, const char *end, tok_t *t, size_t *nt)
{
	size_t n = 0;

	if (end - p > LINE_MAX_LEN)
		return false;
	if (end > p && end[-1] == '\r')
		end--; /* CRLF */
	while (p < end) {
		unsigned char ch = (unsigned char)*p;

		if (is_blank((char)ch)) {
			p++;
			continue;
		}
		if (ch == ';') { /* a comment: any text but control bytes */
			for (; p < end; p++) {
				if ((unsigned char)*p < 0x20 && *p != '\t')
					return false;
			}
			break;
		}
		if (n == FIELDS_MAX)
			return false;
		t[n].p = p;
		for (; p < end && !is_blank(*p) && *p != ';'; p++) {
			ch = (unsigned char)*p;
			if (ch <= 0x20 || ch >= 0x7f || ch == '(' || ch == ')' ||
			    ch == '"' || ch == '\\')
				return false;
		}
		t[n].n = (size_t)(p - t[n].p);
		n++;
	}
	*nt = n;
	return true;
}

int vd_zone_read_fast(vd_zone_ctx_t *c, const char *text, size_t len,
		      const uint8_t *origin, uint8_t found[VD_NAME_MAX])
{
	fast_t f = { .c = c, .ttl = 3600, .find = !origin, .found = found };
	const char *p = text, *end = text + len, *eol;
	tok_t t[FIELDS_MAX];
	size_t nt;
	int ret;

	if (origin) {
		f.origin_len = vd_name_len(origin);
		memcpy(f.origin, origin, f.origin_len);
		memcpy(f.prev, origin, f.origin_len);
		f.prev_len = f.origin_len;
		memcpy(found, origin, f.origin_len);
	}
	for (f.line = 1; p < end; f.line++, p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (!split(p, eol, t, &nt))
			goto mine_not;
		if (nt == 0)
			continue;
		if (p[0] == '$') {
			if (!directive(&f, t, nt))
				goto mine_not;
			continue;
		}
		ret = record(&f, t, nt, is_blank(p[0]));
		if (ret < 0)
			return ret;
		if (ret == 0)
			goto mine_not;
	}
	if (f.find && !f.soa)
		goto mine_not; /* "no SOA record" is the ldns reader's to say */
	vd_zone_recs_done(c);
	return 0;
mine_not:
	c->nrecs = 0;
	c->blob_len = 0;
	return VD_ZONE_NOT_MINE;
}
