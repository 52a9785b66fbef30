/*
 * Reverse names (RFC 1035 in-addr.arpa, RFC 3596 ip6.arpa) to and from
 * addresses, for answering PTR queries from endpoint data.
 */
#include "vpcdns/wire.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "vpcdns/util.h"

static const uint8_t in_addr_arpa[] = "\7in-addr\4arpa";
static const uint8_t ip6_arpa[] = "\3ip6\4arpa";

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_v4(const uint8_t *p, uint8_t addr[16])
{
	for (int i = 3; i >= 0; i--) {
		unsigned len = *p++, v = 0;
		if (len == 0 || len > 3 || (len > 1 && p[0] == '0'))
			return VD_ENOTFOUND;
		for (unsigned k = 0; k < len; k++) {
			if (p[k] < '0' || p[k] > '9')
				return VD_ENOTFOUND;
			v = v * 10 + (p[k] - '0');
		}
		if (v > 255)
			return VD_ENOTFOUND;
		addr[i] = (uint8_t)v;
		p += len;
	}
	return vd_name_equal(p, in_addr_arpa) ? 0 : VD_ENOTFOUND;
}

static int parse_v6(const uint8_t *p, uint8_t addr[16])
{
	memset(addr, 0, 16);
	for (int i = 31; i >= 0; i--) {
		int v;
		if (p[0] != 1 || (v = hexval(p[1])) < 0)
			return VD_ENOTFOUND;
		addr[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
		p += 2;
	}
	return vd_name_equal(p, ip6_arpa) ? 0 : VD_ENOTFOUND;
}

int vd_name_reverse_addr(const uint8_t *name, int *family, uint8_t addr[16])
{
	unsigned labels = vd_name_labels(name);
	if (labels == 6 && parse_v4(name, addr) == 0) {
		*family = AF_INET;
		return 0;
	}
	if (labels == 34 && parse_v6(name, addr) == 0) {
		*family = AF_INET6;
		return 0;
	}
	return VD_ENOTFOUND;
}

size_t vd_name_reverse_of(int family, const uint8_t *addr, uint8_t out[VD_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	if (family == AF_INET) {
		for (int i = 3; i >= 0; i--) {
			char label[4];
			int len = snprintf(label, sizeof(label), "%u", addr[i]);
			out[n++] = (uint8_t)len;
			memcpy(out + n, label, (size_t)len);
			n += (size_t)len;
		}
		memcpy(out + n, in_addr_arpa, sizeof(in_addr_arpa));
		return n + sizeof(in_addr_arpa);
	}
	for (int i = 31; i >= 0; i--) {
		out[n++] = 1;
		out[n++] = (uint8_t)hex[i % 2 ? addr[i / 2] & 0xf : addr[i / 2] >> 4];
	}
	memcpy(out + n, ip6_arpa, sizeof(ip6_arpa));
	return n + sizeof(ip6_arpa);
}
