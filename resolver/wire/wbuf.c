/*
 * Writer for DNS messages on a caller's buffer. Every write checks space;
 * the first overflow sets a sticky error and turns all later writes into
 * no-ops, so a reply can be built with straight-line code and checked once
 * at the end (or rolled back to a mark to drop a record that did not fit).
 * Name compression looks for the longest suffix of the new name already
 * present in the buffer, comparing case-insensitively and following the
 * buffer's own pointers, so names copied in verbatim (the echoed question,
 * precompiled answers) are compression targets too.
 */
#include "vpcdns/wire.h"
#include "vpcdns/util.h"

#include <errno.h>
#include <string.h>

#define PTR_MAX 0x3fff /* largest offset a compression pointer can hold */
#define LABELS_MAX 128 /* more than any valid name has */

static inline uint8_t lc(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

void vd_wbuf_init(vd_wbuf_t *w, uint8_t *buf, size_t cap)
{
	if (!w)
		return;
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = buf ? cap : 0;
}

/* Room for n more bytes; sets the sticky error if there is none. */
static inline bool room(vd_wbuf_t *w, size_t n)
{
	if (!w || w->err)
		return false;
	VD_REQUIRE(w->len <= w->cap); /* else cap - len wraps around */
	if (n > w->cap - w->len) {
		w->err = VD_ESPACE;
		return false;
	}
	return true;
}

void vd_wbuf_bytes(vd_wbuf_t *w, const void *p, size_t n)
{
	if (!w || w->err || !n)
		return;
	if (!p) {
		w->err = -EINVAL;
		return;
	}
	if (!room(w, n))
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* The fixed-size writes store their bytes directly: they run several
 * times per answer, and a call to memcpy for one or two bytes costs more
 * than the store. */
void vd_wbuf_u8(vd_wbuf_t *w, uint8_t v)
{
	if (!room(w, 1))
		return;
	w->buf[w->len++] = v;
}

void vd_wbuf_u16(vd_wbuf_t *w, uint16_t v)
{
	if (!room(w, 2))
		return;
	vd_set16(w->buf + w->len, v);
	w->len += 2;
}

void vd_wbuf_u32(vd_wbuf_t *w, uint32_t v)
{
	if (!room(w, 4))
		return;
	vd_set32(w->buf + w->len, v);
	w->len += 4;
}

void vd_wbuf_name_raw(vd_wbuf_t *w, const uint8_t *name)
{
	if (!name)
		return;
	vd_wbuf_bytes(w, name, vd_name_len(name));
}

void vd_wbuf_name_remember(vd_wbuf_t *w, size_t off)
{
	if (!w || w->err || off > PTR_MAX || off >= w->len || w->comp_n >= VD_WCOMP_MAX)
		return;
	w->comp_off[w->comp_n++] = (uint16_t)off;
}

/* Label offsets of the name at buffer offset pos, following pointers.
 * Returns the label count, or -1 if what is there is not a sane name. */
static int buf_labels(const vd_wbuf_t *w, size_t pos, size_t out[LABELS_MAX])
{
	int n = 0, hops = 0;
	uint8_t c;

	for (;;) {
		if (pos >= w->len)
			return -1;
		c = w->buf[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= w->len || ++hops > LABELS_MAX)
				return -1;
			ptr = (size_t)(c & 0x3f) << 8 | w->buf[pos + 1];
			if (ptr >= pos)
				return -1;
			pos = ptr;
		} else if (c & 0xc0) {
			return -1;
		} else if (!c) {
			return n;
		} else {
			if (n == LABELS_MAX)
				return -1;
			out[n++] = pos;
			pos += 1 + (size_t)c;
		}
	}
}

/* Label a (in a name) equals label b (in the buffer, ending at b_end). */
static bool label_eq(const uint8_t *a, const uint8_t *b, const uint8_t *b_end)
{
	if (a[0] != b[0] || (size_t)(b_end - b) < 1 + (size_t)a[0])
		return false;
	for (uint8_t i = 1; i <= a[0]; i++)
		if (a[i] != b[i] && lc(a[i]) != lc(b[i]))
			return false;
	return true;
}

struct match {
	unsigned labels; /* suffix labels matched */
	size_t off;	 /* where that suffix is in the buffer */
};

/* Longest suffix of name (labels at name_lab[0..n)) found at remembered
 * offset r, limited to targets a pointer can reach. */
static void match_at(const vd_wbuf_t *w, const uint8_t *name, const size_t *name_lab,
		     int n, size_t r, struct match *best)
{
	size_t lab[LABELS_MAX];
	int m = buf_labels(w, r, lab), k = 0;

	if (m <= 0)
		return;
	while (k < n && k < m &&
	       label_eq(name + name_lab[n - 1 - k], w->buf + lab[m - 1 - k],
			w->buf + w->len))
		k++;
	while (k > 0 && lab[m - k] > PTR_MAX)
		k--;
	if ((unsigned)k > best->labels) {
		best->labels = (unsigned)k;
		best->off = lab[m - k];
	}
}

/* Whether the uncompressed name at buffer offset off is name, ignoring
 * case (length bytes are at most 63, below every letter, so one
 * case-folded comparison of all the bytes compares the labels too). */
static bool same_name_at(const vd_wbuf_t *w, size_t off, const uint8_t *name,
			 size_t len)
{
	const uint8_t *b = w->buf + off;

	if (off + len > w->len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (b[i] != name[i] && lc(b[i]) != lc(name[i]))
			return false;
	return true;
}

void vd_wbuf_name(vd_wbuf_t *w, const uint8_t *name)
{
	size_t lab[LABELS_MAX];
	struct match best = { 0, 0 };
	int n = 0;

	if (!w || !name || w->err)
		return;
	/* The common case, an answer owned by the question's name: the
	 * first name remembered (the question's, written whole) is this
	 * one, so a pointer to it is the best there is. */
	if (w->comp_n && w->comp_off[0] <= PTR_MAX &&
	    same_name_at(w, w->comp_off[0], name, vd_name_len(name))) {
		vd_wbuf_u16(w, (uint16_t)(0xc000 | w->comp_off[0]));
		return;
	}
	for (size_t p = 0; name[p] && n < LABELS_MAX; p += 1 + name[p])
		lab[n++] = p;
	for (unsigned i = 0; i < w->comp_n && best.labels < (unsigned)n; i++)
		match_at(w, name, lab, n, w->comp_off[i], &best);
	for (int i = 0; i < n - (int)best.labels; i++) {
		size_t pos = w->len;

		vd_wbuf_bytes(w, name + lab[i], 1 + (size_t)name[lab[i]]);
		vd_wbuf_name_remember(w, pos);
	}
	if (best.labels)
		vd_wbuf_u16(w, (uint16_t)(0xc000 | best.off));
	else
		vd_wbuf_u8(w, 0);
}

vd_wbuf_mark_t vd_wbuf_mark(const vd_wbuf_t *w)
{
	vd_wbuf_mark_t m = { 0, 0 };

	if (w) {
		m.len = w->len;
		m.comp_n = w->comp_n;
	}
	return m;
}

void vd_wbuf_rollback(vd_wbuf_t *w, vd_wbuf_mark_t m)
{
	if (!w || m.len > w->len || m.comp_n > w->comp_n)
		return;
	w->len = m.len;
	w->comp_n = m.comp_n;
	w->err = 0;
}

void vd_wbuf_reply_start(vd_wbuf_t *w, const vd_query_msg_t *q, uint16_t flags)
{
	if (!w || !q)
		return;
	w->len = 0;
	w->comp_n = 0;
	w->err = 0;
	vd_wbuf_u16(w, q->id);
	vd_wbuf_u16(w, flags);
	vd_wbuf_u16(w, q->qname_len ? 1 : 0);
	vd_wbuf_u16(w, 0);
	vd_wbuf_u16(w, 0);
	vd_wbuf_u16(w, 0);
	if (!q->qname_len)
		return;
	vd_wbuf_bytes(w, q->qname, q->qname_len);
	vd_wbuf_u16(w, q->qtype);
	vd_wbuf_u16(w, q->qclass);
	vd_wbuf_name_remember(w, VD_HDR_LEN);
}

void vd_wbuf_count_inc(vd_wbuf_t *w, int section)
{
	uint8_t *p;

	if (!w || w->err || w->len < VD_HDR_LEN || section < 1 || section > 3)
		return;
	p = w->buf + 4 + 2 * section;
	vd_set16(p, (uint16_t)(vd_get16(p) + 1));
}

void vd_wbuf_opt(vd_wbuf_t *w, const vd_opt_out_t *o)
{
	static const vd_opt_out_t plain = { .ede_code = -1 };
	size_t text_len, rdlen = 0;
	uint16_t flags;

	if (!w || w->err)
		return;
	if (!o)
		o = &plain;
	text_len = o->ede_text ? strlen(o->ede_text) : 0;
	if (o->nsid)
		rdlen += 4 + o->nsid_len;
	if (o->ede_code >= 0)
		rdlen += 6 + text_len;
	if (o->cookie)
		rdlen += 4 + o->cookie_len;
	if (rdlen > UINT16_MAX) {
		w->err = VD_ESPACE;
		return;
	}
	vd_wbuf_u8(w, 0);
	vd_wbuf_u16(w, VD_T_OPT);
	vd_wbuf_u16(w, VD_EDNS_ADVERTISE);
	vd_wbuf_u32(w, (uint32_t)((o->ext_rcode >> 4) & 0xff) << 24 |
			       (o->do_bit ? 0x8000u : 0));
	vd_wbuf_u16(w, (uint16_t)rdlen);
	if (o->nsid) {
		vd_wbuf_u16(w, VD_EDNS_NSID);
		vd_wbuf_u16(w, (uint16_t)o->nsid_len);
		vd_wbuf_bytes(w, o->nsid, o->nsid_len);
	}
	if (o->cookie) {
		vd_wbuf_u16(w, VD_EDNS_COOKIE);
		vd_wbuf_u16(w, (uint16_t)o->cookie_len);
		vd_wbuf_bytes(w, o->cookie, o->cookie_len);
	}
	if (o->ede_code >= 0) {
		vd_wbuf_u16(w, VD_EDNS_EDE);
		vd_wbuf_u16(w, (uint16_t)(2 + text_len));
		vd_wbuf_u16(w, (uint16_t)o->ede_code);
		vd_wbuf_bytes(w, o->ede_text, text_len);
	}
	if (w->err || w->len < VD_HDR_LEN)
		return;
	flags = vd_hdr_flags(w->buf);
	vd_set16(w->buf + 2, (uint16_t)((flags & ~0xfu) | (o->ext_rcode & 0xf)));
	vd_wbuf_count_inc(w, 3);
}

void vd_wbuf_rr(vd_wbuf_t *w, int section, const uint8_t *owner, uint16_t type,
		uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
	if (!w || w->err)
		return;
	if (!owner || (!rdata && rdlen)) {
		w->err = -EINVAL;
		return;
	}
	vd_wbuf_name(w, owner);
	vd_wbuf_u16(w, type);
	vd_wbuf_u16(w, rclass);
	vd_wbuf_u32(w, ttl);
	vd_wbuf_u16(w, rdlen);
	vd_wbuf_bytes(w, rdata, rdlen);
	vd_wbuf_count_inc(w, section);
}
