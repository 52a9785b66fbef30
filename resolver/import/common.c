/*
 * Small helpers shared by the importer's files: array growth, the shape of
 * AWS IDs (which become directory names and zone-file comments, so only
 * letters and digits may follow the prefix), and the orders that make the
 * output deterministic: canonical DNS order for owners, numeric order for
 * CIDRs.
 */
#include "import_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int imp_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

bool imp_is_id(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!s || strncmp(s, prefix, n) != 0 || !s[n])
		return false;
	for (s += n; *s; s++) {
		if (!isalnum((unsigned char)*s))
			return false;
	}
	return true;
}

bool imp_is_az(const char *s)
{
	if (!s || !*s || strlen(s) >= VD_IMPORT_AZ_TEXT)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-')
			return false;
	}
	return true;
}

const char *imp_shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 4 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Start of the last label of s[0..len). */
static size_t last_label(const char *s, size_t len)
{
	while (len && s[len - 1] != '.')
		len--;
	return len;
}

int imp_owner_cmp(const char *a, const char *b)
{
	size_t la = strcmp(a, "@") == 0 ? 0 : strlen(a);
	size_t lb = strcmp(b, "@") == 0 ? 0 : strlen(b);

	/* Compare label by label from the right; a name sorts before the
	 * names below it. */
	while (la && lb) {
		size_t sa = last_label(a, la), sb = last_label(b, lb);
		size_t na = la - sa, nb = lb - sb;
		int c = memcmp(a + sa, b + sb, na < nb ? na : nb);

		if (c)
			return c;
		if (na != nb)
			return na < nb ? -1 : 1;
		la = sa ? sa - 1 : 0;
		lb = sb ? sb - 1 : 0;
	}
	return (la > 0) - (lb > 0);
}

int imp_cidr_cmp(const vd_cidr_t *a, const vd_cidr_t *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;
	int c;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	c = memcmp(a->addr, b->addr, len);
	if (c)
		return c;
	return (a->prefix > b->prefix) - (a->prefix < b->prefix);
}
