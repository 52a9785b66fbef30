/*
 * Socket addresses and CIDR prefixes: parsing from configuration text,
 * printing for logs, comparison, and the prefix test used to map a client
 * to a view. IPv4 clients arriving on a dual-stack socket show up as
 * IPv4-mapped IPv6 addresses; they are matched as the IPv4 address they
 * carry so that IPv4 CIDRs in the config still apply to them.
 */
#include "vpcdns/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Longest text form of an address with brackets and port, plus slack. */
#define ADDR_TEXT_MAX 64

/* Strict decimal in [0, max]: no sign, no spaces, no empty string. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return VD_EMALF;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return VD_EMALF;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return VD_EMALF;
	}
	*out = v;
	return 0;
}

static int fill_v4(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return VD_EMALF;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	return 0;
}

static int fill_v6(const char *host, uint16_t port, struct sockaddr_storage *out)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return VD_EMALF;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return 0;
}

int vd_addr_parse(const char *s, uint16_t default_port, struct sockaddr_storage *out)
{
	char tmp[ADDR_TEXT_MAX];
	unsigned long port = default_port;
	char *colon, *end;
	size_t n;

	if (!s || !out)
		return VD_EMALF;
	n = strlen(s);
	if (n == 0 || n >= sizeof(tmp))
		return VD_EMALF;
	memcpy(tmp, s, n + 1);
	if (tmp[0] == '[') {
		end = strchr(tmp, ']');
		if (!end)
			return VD_EMALF;
		*end = '\0';
		if (end[1] == ':') {
			if (parse_uint(end + 2, 65535, &port) < 0)
				return VD_EMALF;
		} else if (end[1] != '\0') {
			return VD_EMALF;
		}
		return fill_v6(tmp + 1, (uint16_t)port, out);
	}
	colon = strchr(tmp, ':');
	if (colon && strchr(colon + 1, ':')) /* bare IPv6, no port */
		return fill_v6(tmp, (uint16_t)port, out);
	if (colon) {
		*colon = '\0';
		if (parse_uint(colon + 1, 65535, &port) < 0)
			return VD_EMALF;
	}
	return fill_v4(tmp, (uint16_t)port, out);
}

const char *vd_addr_fmt(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!buf || len == 0)
		return buf;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(unknown address)");
	}
	return buf;
}

bool vd_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (!a || !b || a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

socklen_t vd_addr_len(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa && sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

/* Whether the first prefix bits of a and b agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

static bool host_bits_zero(const uint8_t *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = prefix / 8; i < bytes; i++) {
		unsigned keep = i * 8 >= prefix ? 0 : prefix - i * 8;
		uint8_t host = (uint8_t)(0xff >> keep);

		if (addr[i] & host)
			return false;
	}
	return true;
}

int vd_cidr_parse(const char *s, vd_cidr_t *out)
{
	char tmp[ADDR_TEXT_MAX];
	unsigned long prefix;
	unsigned bits;
	char *slash;
	size_t n;

	if (!s || !out)
		return VD_EMALF;
	n = strlen(s);
	if (n == 0 || n >= sizeof(tmp))
		return VD_EMALF;
	memcpy(tmp, s, n + 1);
	slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, tmp, out->addr) == 1) {
		out->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
		out->family = AF_INET6;
		bits = 128;
	} else {
		return VD_EMALF;
	}
	prefix = bits;
	if (slash && parse_uint(slash + 1, bits, &prefix) < 0)
		return VD_EMALF;
	if (!host_bits_zero(out->addr, bits / 8, (unsigned)prefix))
		return VD_EMALF;
	out->prefix = (uint8_t)prefix;
	return 0;
}

bool vd_cidr_equal(const vd_cidr_t *a, const vd_cidr_t *b)
{
	if (!a || !b || a->family != b->family || a->prefix != b->prefix)
		return false;
	return memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

bool vd_cidr_contains(const vd_cidr_t *c, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *addr;
	int family;

	if (!c || !sa)
		return false;
	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			addr += 12;
			family = AF_INET;
		}
	} else {
		return false;
	}
	if (family != c->family)
		return false;
	return prefix_match(addr, c->addr, c->prefix);
}
