/*
 * The rules that turn an endpoint's DnsEntries into records: each DnsName
 * is classified by its shape (regional vpce name, zonal vpce name, private
 * name; wildcard or not) and placed in a zone, and DnsRecordIpType decides
 * which record types a name gets. AWS lists DnsEntries in no fixed order
 * (zonal names are not even in AZ order), so nothing here looks at a
 * position. Names are restricted to host-name characters because they end
 * up in zone files and file names.
 */
#include "import_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpcdns/wire.h"

static const char *const vpce_suffixes[] = {
	".vpce.amazonaws.com",
	".vpce.amazonaws.com.cn",
	NULL,
};

int vd_import_iptype_parse(const char *s, vd_import_iptype_t *out)
{
	static const char *const names[] = { "ipv4", "ipv6", "dualstack",
					     "service-defined" };

	if (!s || !out)
		return VD_EMALF;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (vd_import_iptype_t)i;
			return 0;
		}
	}
	return VD_EMALF;
}

const char *vd_import_iptype_name(vd_import_iptype_t t)
{
	switch (t) {
	case VD_IMPORT_IP_IPV4:
		return "ipv4";
	case VD_IMPORT_IP_IPV6:
		return "ipv6";
	case VD_IMPORT_IP_DUALSTACK:
		return "dualstack";
	case VD_IMPORT_IP_SERVICE_DEFINED:
		return "service-defined";
	}
	return "?";
}

void vd_import_iptype_families(vd_import_iptype_t t, bool vpce_name, bool *a,
			       bool *aaaa)
{
	bool want_a = t != VD_IMPORT_IP_IPV6;
	bool want_aaaa = t == VD_IMPORT_IP_IPV6 || t == VD_IMPORT_IP_DUALSTACK ||
			 (t == VD_IMPORT_IP_SERVICE_DEFINED && vpce_name);

	if (a)
		*a = want_a;
	if (aaaa)
		*aaaa = want_aaaa;
}

/* Lower-cases src into dst without its final dot and checks it is a host
 * name with an optional "*" first label. */
static const char *normalize(const char *src, char *dst)
{
	size_t n = strlen(src), lab = 0;
	uint8_t wire[VD_NAME_MAX];

	if (n && src[n - 1] == '.')
		n--;
	if (n == 0 || n >= VD_IMPORT_NAME_TEXT)
		return "not a host name";
	for (size_t i = 0; i <= n; i++) {
		char ch = i < n ? src[i] : '.';

		if (ch == '.') {
			if (i == lab || i - lab > VD_LABEL_MAX)
				return "not a host name";
			lab = i + 1;
			continue;
		}
		if (ch == '*') {
			if (i != 0 || i + 1 == n || src[i + 1] != '.')
				return "'*' is only allowed as the whole first label";
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_')
			return "not a host name";
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
	/* Belt and braces: whatever passes must also be a wire-format name. */
	if (vd_name_from_text(dst, wire, NULL) != 0)
		return "not a host name";
	return NULL;
}

static const char *vpce_suffix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; vpce_suffixes[i]; i++) {
		size_t s = strlen(vpce_suffixes[i]);

		if (n > s && strcmp(name + n - s, vpce_suffixes[i]) == 0)
			return name + n - s;
	}
	return NULL;
}

/* "vpce.amazonaws.com" itself: neither an endpoint name nor a private one. */
static bool is_vpce_base(const char *name)
{
	for (size_t i = 0; vpce_suffixes[i]; i++) {
		if (strcmp(name, vpce_suffixes[i] + 1) == 0)
			return true;
	}
	return false;
}

/*
 * "vpce-<id>-<x>[-<az>]" as the endpoint label of endpoint id ("vpce-<id>").
 * Fills out->kind and out->az.
 */
static const char *endpoint_label(const char *lab, size_t len, const char *id,
				  vd_import_name_t *out)
{
	size_t idlen = strlen(id), x = 0;
	const char *rest;
	size_t rlen;

	if (len <= idlen + 1 || strncasecmp(lab, id, idlen) != 0 || lab[idlen] != '-')
		return "not a name of this endpoint";
	rest = lab + idlen + 1;
	rlen = len - idlen - 1;
	while (x < rlen && rest[x] != '-')
		x++;
	if (x == 0)
		return "not a name of this endpoint";
	if (x == rlen) {
		out->kind = VD_IMPORT_NAME_REGIONAL;
		return NULL;
	}
	if (rlen - x - 1 == 0 || rlen - x - 1 >= VD_IMPORT_AZ_TEXT)
		return "not a name of this endpoint";
	out->kind = VD_IMPORT_NAME_ZONAL;
	memcpy(out->az, rest + x + 1, rlen - x - 1);
	out->az[rlen - x - 1] = '\0';
	return NULL;
}

/* name ends with suffix (".vpce.amazonaws.com"): split it into owner, the
 * endpoint label, and the zone "<region><suffix>". */
static const char *classify_vpce(const char *suffix, const char *id,
				 vd_import_name_t *out)
{
	const char *name = out->name, *region, *lab, *dot;
	const char *why;

	region = suffix;
	while (region > name && region[-1] != '.')
		region--;
	if (region == name)
		return "not a name of this endpoint";
	lab = out->wildcard ? name + 2 : name;
	dot = strchr(lab, '.');
	/* The endpoint label must be followed by at least one service label. */
	if (!dot || dot + 1 >= region)
		return "not a name of this endpoint";
	why = endpoint_label(lab, (size_t)(dot - lab), id, out);
	if (why)
		return why;
	snprintf(out->zone, sizeof(out->zone), "%s", region);
	snprintf(out->owner, sizeof(out->owner), "%.*s", (int)(region - 1 - name),
		 name);
	return NULL;
}

static const char *classify_private(vd_import_name_t *out)
{
	const char *apex = out->wildcard ? out->name + 2 : out->name;

	if (!strchr(apex, '.'))
		return "a private DNS name needs at least two labels";
	out->kind = VD_IMPORT_NAME_PRIVATE;
	snprintf(out->zone, sizeof(out->zone), "%s", apex);
	snprintf(out->owner, sizeof(out->owner), "%s", out->wildcard ? "*" : "@");
	return NULL;
}

int vd_import_name_classify(const char *dns_name, const char *endpoint_id,
			    vd_import_name_t *out, const char **why)
{
	const char *reason, *suffix;

	if (!dns_name || !endpoint_id || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	reason = normalize(dns_name, out->name);
	if (reason)
		goto fail;
	out->wildcard = out->name[0] == '*';
	suffix = vpce_suffix(out->name);
	if (!suffix && is_vpce_base(out->name))
		reason = "not a name of this endpoint";
	else if (suffix)
		reason = classify_vpce(suffix, endpoint_id, out);
	else
		reason = classify_private(out);
	if (reason)
		goto fail;
	return 0;
fail:
	if (why)
		*why = reason;
	return VD_EMALF;
}
