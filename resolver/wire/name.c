/*
 * Domain names in wire form: reading a possibly compressed name out of a
 * packet, and the small operations the resolver needs on uncompressed
 * names (length, case-insensitive comparison, lower-casing, label skipping,
 * subdomain test, conversion to and from presentation text). Parsing trusts
 * nothing in the packet: every byte is bounds-checked, pointers must go
 * strictly backwards and the number of jumps is capped, so a hostile packet
 * can neither loop nor read outside the buffer.
 */
#include "vpcdns/wire.h"
#include "vpcdns/util.h"

#include <stdio.h>
#include <string.h>

/* A 255-byte name has at most 127 labels; more jumps than that cannot be
 * needed by any valid name. */
#define MAX_JUMPS 128

static inline uint8_t lc(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int vd_name_parse(const uint8_t *pkt, size_t pktlen, size_t *off,
		  uint8_t out[VD_NAME_MAX], size_t *outlen)
{
	size_t pos, n = 0, end = 0;
	unsigned jumps = 0;
	uint8_t c;

	if (!pkt || !off || !out)
		return VD_EMALF;
	pos = *off;
	for (;;) {
		if (pos >= pktlen)
			return VD_EMALF;
		c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= pktlen || ++jumps > MAX_JUMPS)
				return VD_EMALF;
			ptr = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			if (ptr >= pos)
				return VD_EMALF;
			if (!end)
				end = pos + 2;
			pos = ptr;
			continue;
		}
		if (c & 0xc0) /* 0x40 extended and 0x80 reserved types */
			return VD_EMALF;
		/* The label plus the final zero byte must still fit. */
		if (n + 1 + c + (c ? 1 : 0) > VD_NAME_MAX || pos + 1 + c > pktlen)
			return VD_EMALF;
		memcpy(out + n, pkt + pos, 1 + (size_t)c);
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
		if (!c)
			break;
	}
	*off = end ? end : pos;
	if (outlen)
		*outlen = n;
	return 0;
}

size_t vd_name_len(const uint8_t *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	while (n < VD_NAME_MAX && name[n])
		n += 1 + (size_t)name[n];
	return n + 1;
}

bool vd_name_equal(const uint8_t *a, const uint8_t *b)
{
	if (!a || !b)
		return false;
	for (;;) {
		uint8_t len = *a;

		if (len != *b)
			return false;
		if (!len)
			return true;
		a++;
		b++;
		/* Names compared are mostly of one case already: equal
		 * bytes skip the folding. */
		for (uint8_t i = 0; i < len; i++)
			if (a[i] != b[i] && lc(a[i]) != lc(b[i]))
				return false;
		a += len;
		b += len;
	}
}

void vd_name_lower(uint8_t *dst, const uint8_t *src)
{
	size_t n, i;

	if (!dst || !src)
		return;
	n = vd_name_len(src);
	/* Eight bytes at a time (every query's name is lowered): a byte
	 * gets 0x20 when its low seven bits are 'A'..'Z' and its top bit
	 * is clear. Length bytes are <= 63, never letters. */
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t x, low, ge_a, gt_z, upper;

		memcpy(&x, src + i, 8);
		low = x & 0x7f7f7f7f7f7f7f7full;
		ge_a = low + 0x3f3f3f3f3f3f3f3full; /* top bit: low >= 'A' */
		gt_z = low + 0x2525252525252525ull; /* top bit: low > 'Z' */
		upper = ge_a & ~gt_z & ~x & 0x8080808080808080ull;
		x |= upper >> 2;
		memcpy(dst + i, &x, 8);
	}
	for (; i < n; i++)
		dst[i] = lc(src[i]);
}

unsigned vd_name_labels(const uint8_t *name)
{
	unsigned n = 0;

	if (!name)
		return 0;
	for (; *name; name += 1 + *name)
		n++;
	return n;
}

const uint8_t *vd_name_skip(const uint8_t *name, unsigned n)
{
	if (!name)
		return NULL;
	for (; n && *name; n--)
		name += 1 + *name;
	return name;
}

bool vd_name_is_subdomain(const uint8_t *name, const uint8_t *suffix)
{
	unsigned nl, sl;

	if (!name || !suffix)
		return false;
	nl = vd_name_labels(name);
	sl = vd_name_labels(suffix);
	if (sl > nl)
		return false;
	return vd_name_equal(vd_name_skip(name, nl - sl), suffix);
}

/* Characters that need a backslash in presentation form (RFC 1035 5.1). */
static bool needs_escape(uint8_t c)
{
	return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' ||
	       c == '@' || c == '$';
}

const char *vd_name_to_text(const uint8_t *name, char *buf, size_t len)
{
	size_t o = 0;
	char tmp[5];

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	if (!name)
		return buf;
	if (!*name) {
		snprintf(buf, len, ".");
		return buf;
	}
	for (; *name; name += 1 + *name) {
		for (uint8_t i = 1; i <= *name; i++) {
			uint8_t c = name[i];
			size_t tl;

			if (c > 0x20 && c < 0x7f && !needs_escape(c))
				tl = (size_t)snprintf(tmp, sizeof(tmp), "%c", c);
			else if (c > 0x20 && c < 0x7f)
				tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
			else
				tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%03u", c);
			if (o + tl + 1 > len)
				goto out;
			memcpy(buf + o, tmp, tl);
			o += tl;
		}
		if (o + 2 > len)
			goto out;
		buf[o++] = '.';
	}
out:
	buf[o] = '\0';
	return buf;
}

/* One character of a label, handling \X and \DDD. Returns characters
 * consumed or 0 on a bad escape. */
static size_t text_char(const char *s, uint8_t *out)
{
	unsigned v;

	if (s[0] != '\\') {
		*out = (uint8_t)s[0];
		return 1;
	}
	if (s[1] >= '0' && s[1] <= '9') {
		if (s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9')
			return 0;
		v = (unsigned)(s[1] - '0') * 100 + (unsigned)(s[2] - '0') * 10 +
		    (unsigned)(s[3] - '0');
		if (v > 255)
			return 0;
		*out = (uint8_t)v;
		return 4;
	}
	if (!s[1])
		return 0;
	*out = (uint8_t)s[1];
	return 2;
}

int vd_name_from_text(const char *text, uint8_t out[VD_NAME_MAX], size_t *outlen)
{
	size_t n = 0, lab = 0, used;
	const char *s = text;

	if (!text || !out || !*text)
		return VD_EMALF;
	if (strcmp(text, ".") == 0)
		goto done;
	while (*s) {
		if (*s == '.') {
			/* Empty labels ("a..b", ".a") are not names. */
			if (n == lab)
				return VD_EMALF;
			s++;
			lab = n;
			if (!*s)
				break;
			continue;
		}
		if (n == lab) { /* start a label: reserve its length byte */
			if (n + 2 > VD_NAME_MAX)
				return VD_EMALF;
			out[n++] = 0;
		}
		if (n - lab > VD_LABEL_MAX || n + 2 > VD_NAME_MAX)
			return VD_EMALF;
		used = text_char(s, &out[n]);
		if (!used)
			return VD_EMALF;
		s += used;
		n++;
		out[lab]++;
	}
done:
	out[n++] = 0;
	if (outlen)
		*outlen = n;
	return 0;
}
