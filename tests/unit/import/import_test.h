/*
 * Helpers for the importer's unit tests: builders for AWS CLI shaped JSON
 * (one endpoint, one network interface, one subnet) so each test states
 * only what it varies, loading into an importer with every error message
 * checked, and lookups into the rendered files.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_int.h"
#include "vpcdns/import.h"
#include "vpcdns/util.h"

#define IT_VPC "vpc-0a1b2c3d4e5f60718"
#define IT_R "us-east-1"
#define IT_VPCE_ZONE "us-east-1.vpce.amazonaws.com"

/* '...' → '"' so JSON can be written readably inside C strings. */
static inline char *it_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *it_json(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	for (char *p = s; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	return s;
}

/* An interface endpoint. extra is spliced in as more members ("" for
 * none; it must start with a comma). */
static inline char *it_endpoint(const char *id, const char *svc, const char *enis,
				const char *entries, const char *extra)
{
	return it_json(
		"{'VpcEndpointId':'%s','VpcEndpointType':'Interface','VpcId':'" IT_VPC
		"',"
		"'ServiceName':'com.amazonaws." IT_R ".%s','State':'available',"
		"'PrivateDnsEnabled':true,'NetworkInterfaceIds':[%s],'DnsEntries':[%s],"
		"'CreationTimestamp':'2024-03-05T14:46:16.583Z'%s}",
		id, svc, enis, entries, extra);
}

/* One DnsEntries member. */
static inline char *it_entry(const char *name)
{
	return it_json("{'DnsName':'%s','HostedZoneId':'Z7HUB22UULQXV'}", name);
}

static inline char *it_eni(const char *id, const char *subnet, const char *az,
			   const char *az_id, const char *v4, const char *v6)
{
	return it_json("{'NetworkInterfaceId':'%s','SubnetId':'%s','VpcId':'" IT_VPC
		       "',"
		       "'AvailabilityZone':'%s','AvailabilityZoneId':'%s',"
		       "'InterfaceType':'vpc_endpoint','PrivateIpAddress':'%s',"
		       "'Ipv6Addresses':[%s%s%s]}",
		       id, subnet, az, az_id, v4, v6 ? "{'Ipv6Address':'" : "",
		       v6 ? v6 : "", v6 ? "'}" : "");
}

static inline char *it_subnet(const char *id, const char *cidr, const char *az,
			      const char *az_id, const char *v6)
{
	return it_json("{'SubnetId':'%s','VpcId':'" IT_VPC "','CidrBlock':'%s',"
		       "'AvailabilityZone':'%s','AvailabilityZoneId':'%s',"
		       "'Ipv6CidrBlockAssociationSet':[%s%s%s]}",
		       id, cidr, az, az_id, v6 ? "{'Ipv6CidrBlock':'" : "",
		       v6 ? v6 : "",
		       v6 ? "','Ipv6CidrBlockState':{'State':'associated'}}" : "");
}

/* Loads a document; want_err NULL means it must load cleanly, otherwise
 * the single message it must produce. Frees doc. */
static inline void it_load(vd_import_t *im, const char *name, char *doc,
			   const char *want_err)
{
	vd_errlist_t e;
	int rc;

	vd_errlist_init(&e);
	rc = vd_import_load_buffer(im, name, doc, strlen(doc), &e);
	if (!want_err) {
		if (e.count)
			fail_msg("unexpected: %s", e.msgs[0]);
		assert_int_equal(rc, 0);
	} else {
		assert_int_equal(rc, VD_EMALF);
		assert_int_equal(e.count, 1);
		assert_string_equal(e.msgs[0], want_err);
	}
	vd_errlist_deinit(&e);
	free(doc);
}

/* The rendered file at path, or NULL. */
static inline const char *it_file(const vd_import_t *im, const char *path)
{
	const vd_import_file_t *f;
	size_t n;

	f = vd_import_files(im, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].path, path) == 0)
			return f[i].data;
	}
	return NULL;
}

/* Whether the rendered file at path has a line starting with prefix. */
static inline bool it_has_line(const vd_import_t *im, const char *path,
			       const char *prefix)
{
	const char *s = it_file(im, path);
	size_t n = strlen(prefix);

	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "") {
		if (strncmp(s, prefix, n) == 0)
			return true;
	}
	return false;
}

/* Lines of the rendered file at path that start with prefix. */
static inline unsigned it_count_lines(const vd_import_t *im, const char *path,
				      const char *prefix)
{
	const char *s = it_file(im, path);
	size_t n = strlen(prefix);
	unsigned c = 0;

	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "") {
		if (strncmp(s, prefix, n) == 0)
			c++;
	}
	return c;
}
