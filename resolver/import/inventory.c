/*
 * JSON → inventory. Reads AWS CLI outputs with jansson, recognises each by
 * its top-level key, and turns the fields the importer uses into structs,
 * checking every type on the way. A problem is reported with the file and
 * the JSON path of the offending value ("f.json: $.VpcEndpoints[2].
 * DnsEntries[0].DnsName: expected string") and loading goes on, so one run
 * shows every problem of a file. Fields that are not read are not checked:
 * AWS adds fields over time and an importer must not break on them.
 * Pages of one call are merged after loading: the same ID twice is one
 * item if both copies are equal, an error otherwise.
 */
#include "import_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define JSON_FLAGS JSON_REJECT_DUPLICATES
#define PATH_MAX_LEN 512

/* Where loading stands: the file, and the JSON path of the current value. */
typedef struct jctx {
	vd_import_t *im;
	const char *file;
	vd_errlist_t *errs;
	char path[PATH_MAX_LEN];
	size_t plen;
	unsigned nerr;
} jctx_t;

static size_t push(jctx_t *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static size_t push(jctx_t *c, const char *fmt, ...)
{
	size_t old = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen = strlen(c->path);
	return old;
}

static void pop(jctx_t *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static void jerr(jctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jerr(jctx_t *c, const char *fmt, ...)
{
	char reason[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vd_errlist_add(c->errs, c->file, 0, "%s: %s", c->path, reason);
	c->nerr++;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "number";
	}
}

static bool has_type(const json_t *v, json_type t)
{
	if (t == JSON_TRUE || t == JSON_FALSE)
		return json_is_boolean(v);
	return json_typeof(v) == t;
}

/*
 * obj[key] of type t into *out: 1 when present, 0 when absent and optional,
 * -1 (reported) when absent and required or of another type.
 */
static int field(jctx_t *c, const json_t *obj, const char *key, json_type t, bool req,
		 json_t **out)
{
	json_t *v = json_object_get(obj, key);
	size_t old;

	*out = NULL;
	if (!v && !req)
		return 0;
	old = push(c, ".%s", key);
	if (!v)
		jerr(c, "missing");
	else if (!has_type(v, t))
		jerr(c, "expected %s", type_name(t));
	pop(c, old);
	if (!v || !has_type(v, t))
		return -1;
	*out = v;
	return 1;
}

static int str_field(jctx_t *c, const json_t *obj, const char *key, bool req,
		     const char **out)
{
	json_t *v;
	int r = field(c, obj, key, JSON_STRING, req, &v);

	*out = r == 1 ? json_string_value(v) : NULL;
	return r;
}

static void bool_field(jctx_t *c, const json_t *obj, const char *key, bool *out)
{
	json_t *v;

	*out = field(c, obj, key, JSON_TRUE, false, &v) == 1 && json_is_true(v);
}

/* A string field holding an AWS ID with this prefix ("vpce-"). */
static void id_field(jctx_t *c, const json_t *obj, const char *key, const char *prefix,
		     bool req, const char **out)
{
	char buf[64];
	size_t old;

	if (str_field(c, obj, key, req, out) != 1 || imp_is_id(*out, prefix))
		return;
	old = push(c, ".%s", key);
	jerr(c, "'%s' is not a %s… ID", imp_shown(*out, buf, sizeof(buf)), prefix);
	pop(c, old);
	*out = NULL;
}

/* A string field holding an Availability Zone name or ID. */
static void az_field(jctx_t *c, const json_t *obj, const char *key, const char **out)
{
	char buf[64];
	size_t old;

	if (str_field(c, obj, key, false, out) != 1 || imp_is_az(*out))
		return;
	old = push(c, ".%s", key);
	jerr(c, "'%s' is not an Availability Zone", imp_shown(*out, buf, sizeof(buf)));
	pop(c, old);
	*out = NULL;
}

static char *where(jctx_t *c)
{
	size_t n = strlen(c->file) + c->plen + 3;
	char *w = vd_arena_alloc(&c->im->arena, n);

	if (w)
		snprintf(w, n, "%s: %s", c->file, c->path);
	return w;
}

/* Appends a copy of item (elem bytes) to the array of its kind. */
static int append(jctx_t *c, void **arr, size_t *n, size_t *cap, void *item,
		  size_t elem)
{
	imp_item_t *it = item;

	it->where = where(c);
	it->seq = c->im->seq++;
	it->source = c->im->cur_source;
	it->region = c->im->cur_region;
	if (!it->where || imp_grow(arr, cap, *n, elem) < 0)
		return -ENOMEM;
	memcpy((char *)*arr + *n * elem, item, elem);
	(*n)++;
	return 0;
}

/* ---- endpoints ---------------------------------------------------------- */

static void add_name(jctx_t *c, imp_ep_t *ep, const char *text, bool private_only)
{
	vd_import_name_t *n = &ep->names[ep->nnames];
	const char *why = "not a host name";
	char buf[96];

	if (vd_import_name_classify(text, ep->it.id, n, &why) != 0) {
		jerr(c, "'%s': %s", imp_shown(text, buf, sizeof(buf)), why);
		return;
	}
	if (private_only && n->kind != VD_IMPORT_NAME_PRIVATE) {
		jerr(c, "'%s': a vpce name is not a private DNS name", n->name);
		return;
	}
	for (size_t i = 0; i < ep->nnames; i++) {
		if (strcmp(ep->names[i].name, n->name) == 0)
			return;
	}
	ep->nnames++;
}

static void dns_entries(jctx_t *c, const json_t *arr, imp_ep_t *ep, bool classify)
{
	const char *s;
	size_t i, old;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		old = push(c, ".DnsEntries[%zu]", i);
		if (!json_is_object(e)) {
			jerr(c, "expected object");
		} else if (str_field(c, e, "DnsName", true, &s) == 1 && classify) {
			size_t o2 = push(c, ".DnsName");

			add_name(c, ep, s, false);
			pop(c, o2);
		}
		pop(c, old);
	}
}

/* PrivateDnsNames: [{"PrivateDnsName": "x"}] as describe-vpc-endpoint-
 * services prints it, or plain strings. */
static void private_dns_names(jctx_t *c, const json_t *arr, imp_ep_t *ep, bool classify)
{
	const char *s;
	size_t i, old;
	json_t *e;

	json_array_foreach(arr, i, e)
	{
		old = push(c, ".PrivateDnsNames[%zu]", i);
		if (json_is_string(e)) {
			if (classify)
				add_name(c, ep, json_string_value(e), true);
		} else if (!json_is_object(e)) {
			jerr(c, "expected object");
		} else if (str_field(c, e, "PrivateDnsName", true, &s) == 1 &&
			   classify) {
			size_t o2 = push(c, ".PrivateDnsName");

			add_name(c, ep, s, true);
			pop(c, o2);
		}
		pop(c, old);
	}
}

static int ep_names(jctx_t *c, const json_t *o, imp_ep_t *ep)
{
	bool classify = ep->it.id && ep->type && strcmp(ep->type, "Interface") == 0;
	json_t *entries, *pdns;
	const char *pdn;
	size_t max;

	field(c, o, "DnsEntries", JSON_ARRAY, false, &entries);
	field(c, o, "PrivateDnsNames", JSON_ARRAY, false, &pdns);
	str_field(c, o, "PrivateDnsName", false, &pdn);
	max = json_array_size(entries) + json_array_size(pdns) + 1;
	ep->names = vd_arena_alloc(&c->im->arena, max * sizeof(*ep->names));
	if (!ep->names)
		return -ENOMEM;
	if (entries)
		dns_entries(c, entries, ep, classify);
	if (pdns)
		private_dns_names(c, pdns, ep, classify);
	if (pdn && classify) {
		size_t old = push(c, ".PrivateDnsName");

		add_name(c, ep, pdn, true);
		pop(c, old);
	}
	return 0;
}

static int ep_enis(jctx_t *c, const json_t *o, imp_ep_t *ep)
{
	json_t *arr, *e;
	size_t i, j, old;
	char buf[64];

	if (field(c, o, "NetworkInterfaceIds", JSON_ARRAY, false, &arr) != 1)
		return 0;
	ep->enis = vd_arena_alloc(&c->im->arena,
				  (json_array_size(arr) + 1) * sizeof(char *));
	if (!ep->enis)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);

		old = push(c, ".NetworkInterfaceIds[%zu]", i);
		if (!s)
			jerr(c, "expected string");
		else if (!imp_is_id(s, "eni-"))
			jerr(c, "'%s' is not a eni-… ID",
			     imp_shown(s, buf, sizeof(buf)));
		pop(c, old);
		for (j = 0; s && j < ep->nenis && strcmp(ep->enis[j], s) != 0; j++)
			;
		if (s && imp_is_id(s, "eni-") && j == ep->nenis)
			ep->enis[ep->nenis++] = s;
	}
	return 0;
}

static void ep_dns_options(jctx_t *c, const json_t *o, imp_ep_t *ep)
{
	const char *s;
	char buf[64];
	json_t *d;
	size_t old;

	ep->iptype = VD_IMPORT_IP_IPV4;
	if (field(c, o, "DnsOptions", JSON_OBJECT, false, &d) != 1)
		return;
	old = push(c, ".DnsOptions");
	if (str_field(c, d, "DnsRecordIpType", false, &s) == 1 &&
	    vd_import_iptype_parse(s, &ep->iptype) != 0) {
		size_t o2 = push(c, ".DnsRecordIpType");

		jerr(c,
		     "unknown value '%s' (expected ipv4, ipv6, dualstack or "
		     "service-defined)",
		     imp_shown(s, buf, sizeof(buf)));
		pop(c, o2);
	}
	bool_field(c, d, "PrivateDnsOnlyForInboundResolverEndpoint", &ep->inbound_only);
	pop(c, old);
}

/* VPC Lattice endpoints have no ServiceName (or an empty one) but the ARN
 * of what they reach. */
static void ep_service(jctx_t *c, const json_t *o, imp_ep_t *ep)
{
	static const char *const keys[] = { "ServiceName", "ResourceConfigurationArn",
					    "ServiceNetworkArn" };
	const char *s;

	ep->service = NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (str_field(c, o, keys[i], false, &s) == 1 && *s && !ep->service)
			ep->service = s;
	}
	if (!ep->service)
		ep->service = "no service name";
}

static int parse_endpoint(jctx_t *c, json_t *o)
{
	unsigned before = c->nerr;
	vd_import_t *im = c->im;
	imp_ep_t ep;
	int rc;

	if (!json_is_object(o)) {
		jerr(c, "expected object");
		return 0;
	}
	memset(&ep, 0, sizeof(ep));
	ep.it.raw = o;
	id_field(c, o, "VpcEndpointId", "vpce-", true, &ep.it.id);
	str_field(c, o, "VpcEndpointType", true, &ep.type);
	id_field(c, o, "VpcId", "vpc-", true, &ep.vpc);
	ep_service(c, o, &ep);
	str_field(c, o, "State", true, &ep.state);
	bool_field(c, o, "PrivateDnsEnabled", &ep.private_dns);
	ep_dns_options(c, o, &ep);
	rc = ep_enis(c, o, &ep);
	if (rc == 0)
		rc = ep_names(c, o, &ep);
	if (rc < 0 || c->nerr != before)
		return rc;
	return append(c, (void **)&im->eps, &im->neps, &im->capeps, &ep, sizeof(ep));
}

/* ---- network interfaces --------------------------------------------------- */

static int eni_v6(jctx_t *c, const json_t *o, imp_eni_t *eni)
{
	json_t *arr, *e;
	const char *s;
	size_t i, old;
	char buf[64];

	if (field(c, o, "Ipv6Addresses", JSON_ARRAY, false, &arr) != 1)
		return 0;
	eni->v6 = vd_arena_alloc(&c->im->arena, (json_array_size(arr) + 1) * 16);
	if (!eni->v6)
		return -ENOMEM;
	json_array_foreach(arr, i, e)
	{
		old = push(c, ".Ipv6Addresses[%zu]", i);
		if (!json_is_object(e)) {
			jerr(c, "expected object");
		} else if (str_field(c, e, "Ipv6Address", true, &s) == 1 &&
			   inet_pton(AF_INET6, s, eni->v6[eni->nv6]) != 1) {
			size_t o2 = push(c, ".Ipv6Address");

			jerr(c, "'%s' is not an IPv6 address",
			     imp_shown(s, buf, sizeof(buf)));
			pop(c, o2);
		} else if (s) {
			eni->nv6++;
		}
		pop(c, old);
	}
	return 0;
}

static int parse_eni(jctx_t *c, json_t *o)
{
	unsigned before = c->nerr;
	vd_import_t *im = c->im;
	const char *v4;
	imp_eni_t eni;
	char buf[64];
	int rc;

	if (!json_is_object(o)) {
		jerr(c, "expected object");
		return 0;
	}
	memset(&eni, 0, sizeof(eni));
	eni.it.raw = o;
	id_field(c, o, "NetworkInterfaceId", "eni-", true, &eni.it.id);
	id_field(c, o, "VpcId", "vpc-", false, &eni.vpc);
	id_field(c, o, "SubnetId", "subnet-", false, &eni.subnet);
	az_field(c, o, "AvailabilityZone", &eni.az);
	az_field(c, o, "AvailabilityZoneId", &eni.az_id);
	if (str_field(c, o, "PrivateIpAddress", false, &v4) == 1) {
		eni.has_v4 = inet_pton(AF_INET, v4, eni.v4) == 1;
		if (!eni.has_v4) {
			size_t old = push(c, ".PrivateIpAddress");

			jerr(c, "'%s' is not an IPv4 address",
			     imp_shown(v4, buf, sizeof(buf)));
			pop(c, old);
		}
	}
	rc = eni_v6(c, o, &eni);
	if (rc < 0 || c->nerr != before)
		return rc;
	return append(c, (void **)&im->enis, &im->nenis, &im->capenis, &eni,
		      sizeof(eni));
}

/* ---- subnets ------------------------------------------------------------- */

static void subnet_cidr(jctx_t *c, const json_t *o, const char *key, int family,
			imp_subnet_t *sn)
{
	const char *s;
	vd_cidr_t *cidr = &sn->cidrs[sn->ncidrs];
	char buf[64];
	size_t old;

	if (str_field(c, o, key, true, &s) != 1)
		return;
	if (vd_cidr_parse(s, cidr) == 0 && cidr->family == family && strchr(s, '/')) {
		sn->ncidrs++;
		return;
	}
	old = push(c, ".%s", key);
	jerr(c, "'%s' is not an IPv%d CIDR", imp_shown(s, buf, sizeof(buf)),
	     family == AF_INET ? 4 : 6);
	pop(c, old);
}

/* An association set (Ipv6CidrBlockAssociationSet, CidrBlockAssociationSet):
 * only the blocks still associated; an entry without a state counts. */
static void assoc_set(jctx_t *c, const json_t *arr, const char *set, const char *key,
		      int family, imp_subnet_t *sn)
{
	char state_key[64];
	json_t *e, *st;
	const char *state;
	size_t i, old;

	snprintf(state_key, sizeof(state_key), "%sState", key);
	json_array_foreach(arr, i, e)
	{
		old = push(c, ".%s[%zu]", set, i);
		if (!json_is_object(e)) {
			jerr(c, "expected object");
			pop(c, old);
			continue;
		}
		state = NULL;
		if (field(c, e, state_key, JSON_OBJECT, false, &st) == 1) {
			size_t o2 = push(c, ".%s", state_key);

			str_field(c, st, "State", false, &state);
			pop(c, o2);
		}
		if (!state || strcmp(state, "associated") == 0)
			subnet_cidr(c, e, key, family, sn);
		pop(c, old);
	}
}

static void subnet_v6(jctx_t *c, const json_t *arr, imp_subnet_t *sn)
{
	assoc_set(c, arr, "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock", AF_INET6, sn);
}

/* OwnerId: an AWS account ID, twelve digits. Anything else is taken as
 * absent rather than an error (AWS's own CLI examples print thirteen
 * digits): no account_id is written for it. */
static void owner_field(jctx_t *c, const json_t *obj, const char **out)
{
	size_t n;

	if (str_field(c, obj, "OwnerId", false, out) != 1)
		return;
	n = strspn(*out, "0123456789");
	if (n != 12 || (*out)[n])
		*out = NULL;
}

static int parse_subnet(jctx_t *c, json_t *o)
{
	unsigned before = c->nerr;
	vd_import_t *im = c->im;
	imp_subnet_t sn;
	json_t *v6;

	if (!json_is_object(o)) {
		jerr(c, "expected object");
		return 0;
	}
	memset(&sn, 0, sizeof(sn));
	sn.it.raw = o;
	id_field(c, o, "SubnetId", "subnet-", true, &sn.it.id);
	id_field(c, o, "VpcId", "vpc-", true, &sn.vpc);
	az_field(c, o, "AvailabilityZone", &sn.az);
	az_field(c, o, "AvailabilityZoneId", &sn.az_id);
	owner_field(c, o, &sn.owner);
	str_field(c, o, "SubnetArn", false, &sn.arn);
	field(c, o, "Ipv6CidrBlockAssociationSet", JSON_ARRAY, false, &v6);
	sn.cidrs = vd_arena_alloc(&im->arena,
				  (json_array_size(v6) + 1) * sizeof(vd_cidr_t));
	if (!sn.cidrs)
		return -ENOMEM;
	/* IPv6-only subnets have no CidrBlock. */
	if (json_object_get(o, "CidrBlock"))
		subnet_cidr(c, o, "CidrBlock", AF_INET, &sn);
	if (v6)
		subnet_v6(c, v6, &sn);
	if (c->nerr != before)
		return 0;
	return append(c, (void **)&im->subnets, &im->nsubnets, &im->capsubnets, &sn,
		      sizeof(sn));
}

/* ---- VPCs ----------------------------------------------------------------- */

/* describe-vpcs: the VPC's IPv4 blocks (the primary CidrBlock and the
 * associated CidrBlockAssociationSet entries) and its associated IPv6
 * blocks. A VPC whose State is not available still gets its view: its
 * blocks are what its clients will use. */
static int parse_vpc(jctx_t *c, json_t *o)
{
	unsigned before = c->nerr;
	vd_import_t *im = c->im;
	imp_subnet_t blocks; /* for subnet_cidr and assoc_set */
	imp_vpcinfo_t v;
	json_t *v4, *v6;

	if (!json_is_object(o)) {
		jerr(c, "expected object");
		return 0;
	}
	memset(&v, 0, sizeof(v));
	memset(&blocks, 0, sizeof(blocks));
	v.it.raw = o;
	id_field(c, o, "VpcId", "vpc-", true, &v.it.id);
	owner_field(c, o, &v.owner);
	field(c, o, "CidrBlockAssociationSet", JSON_ARRAY, false, &v4);
	field(c, o, "Ipv6CidrBlockAssociationSet", JSON_ARRAY, false, &v6);
	blocks.cidrs = vd_arena_alloc(&im->arena,
				      (json_array_size(v4) + json_array_size(v6) + 1) *
					      sizeof(vd_cidr_t));
	if (!blocks.cidrs)
		return -ENOMEM;
	if (json_object_get(o, "CidrBlock"))
		subnet_cidr(c, o, "CidrBlock", AF_INET, &blocks);
	if (v4)
		assoc_set(c, v4, "CidrBlockAssociationSet", "CidrBlock", AF_INET,
			  &blocks);
	if (v6)
		assoc_set(c, v6, "Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock",
			  AF_INET6, &blocks);
	if (c->nerr != before)
		return 0;
	v.cidrs = blocks.cidrs;
	v.ncidrs = blocks.ncidrs;
	return append(c, (void **)&im->vpcinfos, &im->nvpcinfos, &im->capvpcinfos, &v,
		      sizeof(v));
}

/* ---- documents ------------------------------------------------------------ */

typedef int (*parse_fn)(jctx_t *c, json_t *o);

static const struct {
	const char *key;
	bool single; /* create-vpc-endpoint's one object */
	parse_fn parse;
} doc_keys[] = {
	{ "VpcEndpoints", false, parse_endpoint },
	{ "VpcEndpoint", true, parse_endpoint },
	{ "NetworkInterfaces", false, parse_eni },
	{ "Subnets", false, parse_subnet },
	{ "Vpcs", false, parse_vpc },
};

static int parse_key(jctx_t *c, json_t *v, size_t k)
{
	size_t i, old = push(c, ".%s", doc_keys[k].key);
	json_t *e;
	int rc = 0;

	if (doc_keys[k].single) {
		rc = doc_keys[k].parse(c, v);
	} else if (!json_is_array(v)) {
		jerr(c, "expected array");
	} else {
		json_array_foreach(v, i, e)
		{
			size_t o2 = push(c, "[%zu]", i);

			rc = doc_keys[k].parse(c, e);
			pop(c, o2);
			if (rc < 0)
				break;
		}
	}
	pop(c, old);
	return rc;
}

static int load_doc(vd_import_t *im, const char *name, json_t *doc, vd_errlist_t *errs)
{
	jctx_t c = { .im = im, .errs = errs, .path = "$", .plen = 1 };
	unsigned known = 0;
	int rc = 0;
	json_t *v;

	c.file = vd_arena_strdup(&im->arena, name);
	if (!c.file ||
	    imp_grow((void **)&im->docs, &im->capdocs, im->ndocs, sizeof(json_t *))) {
		json_decref(doc);
		return -ENOMEM;
	}
	/* Kept until vd_import_free: the inventory points into it. */
	im->docs[im->ndocs++] = doc;
	if (!json_is_object(doc)) {
		jerr(&c, "expected object");
		return VD_EMALF;
	}
	for (size_t k = 0; k < sizeof(doc_keys) / sizeof(doc_keys[0]) && rc == 0; k++) {
		v = json_object_get(doc, doc_keys[k].key);
		if (!v)
			continue;
		known++;
		if (doc_keys[k].parse == parse_vpc)
			im->have_vpcs_doc = true;
		rc = parse_key(&c, v, k);
	}
	if (rc < 0)
		return rc;
	if (!known)
		vd_errlist_add(errs, name, 0,
			       "not an output of aws ec2 describe-vpc-endpoints, "
			       "describe-network-interfaces, describe-subnets or "
			       "describe-vpcs (no VpcEndpoints, VpcEndpoint, "
			       "NetworkInterfaces, Subnets or Vpcs key)");
	return c.nerr || !known ? VD_EMALF : 0;
}

static int json_failed(const char *name, const json_error_t *je, vd_errlist_t *errs)
{
	if (je->line > 0)
		vd_errlist_add(errs, NULL, 0, "%s:%d:%d: %s", name, je->line,
			       je->column, je->text);
	else
		vd_errlist_add(errs, name, 0, "%s", je->text);
	return VD_EMALF;
}

/* Records the source in effect for a load, once. */
static int note_source(vd_import_t *im)
{
	for (size_t i = 0; i < im->nsources; i++) {
		const char *s = im->sources[i];

		if (s == im->cur_source ||
		    (s && im->cur_source && !strcmp(s, im->cur_source)))
			return 0;
	}
	if (imp_grow((void **)&im->sources, &im->capsources, im->nsources,
		     sizeof(char *)))
		return -ENOMEM;
	im->sources[im->nsources++] = im->cur_source;
	return 0;
}

/* A UTF-8 byte order mark (PowerShell's "Out-File -Encoding utf8") is
 * skipped; UTF-16, PowerShell 5's default for ">", gets a message saying
 * how to avoid it rather than a puzzling parse error. */
static int load_text(vd_import_t *im, const char *name, const char *buf, size_t len,
		     vd_errlist_t *errs)
{
	json_error_t je;
	json_t *doc;
	int rc;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	if (len >= 2 &&
	    (memcmp(buf, "\xff\xfe", 2) == 0 || memcmp(buf, "\xfe\xff", 2) == 0)) {
		vd_errlist_add(errs, name, 0,
			       "UTF-16 text; save the AWS CLI output as UTF-8 "
			       "(PowerShell: | Out-File -Encoding utf8)");
		return VD_EMALF;
	}
	rc = note_source(im);
	if (rc)
		return rc;
	doc = json_loadb(buf, len, JSON_FLAGS, &je);
	if (!doc)
		return json_failed(name, &je, errs);
	return load_doc(im, name, doc, errs);
}

int vd_import_load_buffer(vd_import_t *im, const char *name, const char *buf,
			  size_t len, vd_errlist_t *errs)
{
	if (!im || !name || !buf || !errs || im->built)
		return -EINVAL;
	return load_text(im, name, buf, len, errs);
}

/* The whole of fp into *buf (malloc). Returns 0 or -errno. */
static int read_all(FILE *fp, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0, got;
	char *b = malloc(cap), *nb;

	errno = 0;
	while (b && (got = fread(b + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			nb = cap < SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (!b)
		return -ENOMEM;
	if (ferror(fp)) {
		int err = errno ? errno : EIO;

		free(b);
		return -err;
	}
	*buf = b;
	*len = n;
	return 0;
}

int vd_import_load_file(vd_import_t *im, const char *path, vd_errlist_t *errs)
{
	bool is_stdin = path && strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int rc;

	if (!im || !path || !errs || im->built)
		return -EINVAL;
	if (is_stdin && im->stdin_used) {
		vd_errlist_add(errs, IMP_PROG, 0, "standard input ('-') given twice");
		return VD_EMALF;
	}
	fp = is_stdin ? stdin : fopen(path, "r");
	if (!fp) {
		rc = -errno;
		vd_errlist_add(errs, path, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	im->stdin_used |= is_stdin;
	rc = read_all(fp, &buf, &len);
	if (!is_stdin)
		fclose(fp);
	if (rc == 0)
		rc = load_text(im, name, buf, len, errs);
	else
		vd_errlist_add(errs, name, 0, "cannot read: %s", strerror(-rc));
	free(buf);
	return rc;
}

/* ---- the whole inventory -------------------------------------------------- */

vd_import_t *vd_import_new(void)
{
	vd_import_t *im = calloc(1, sizeof(*im));

	if (im)
		vd_arena_init(&im->arena, 0);
	return im;
}

void vd_import_free(vd_import_t *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->ndocs; i++)
		json_decref(im->docs[i]);
	for (size_t i = 0; i < im->nfiles; i++) {
		free(im->ofiles[i].buf);
		free(im->ofiles[i].path);
	}
	for (size_t i = 0; i < im->nvpcs; i++) {
		free(im->vpcs[i].eps);
		free(im->vpcs[i].rrs);
		free(im->vpcs[i].cidrs);
	}
	free(im->vpcs);
	free(im->ofiles);
	free(im->files);
	free(im->sums);
	free(im->docs);
	free(im->eps);
	free(im->enis);
	free(im->subnets);
	free(im->vpcinfos);
	free(im->sources);
	free(im->want);
	vd_arena_deinit(&im->arena);
	free(im);
}

int vd_import_add_vpc(vd_import_t *im, const char *vpc_id)
{
	const char *copy;

	if (!im || !vpc_id || im->built)
		return -EINVAL;
	if (!imp_is_id(vpc_id, "vpc-"))
		return VD_EMALF;
	for (size_t i = 0; i < im->nwant; i++) {
		if (strcmp(im->want[i], vpc_id) == 0)
			return 0;
	}
	copy = vd_arena_strdup(&im->arena, vpc_id);
	if (!copy ||
	    imp_grow((void **)&im->want, &im->capwant, im->nwant, sizeof(char *)))
		return -ENOMEM;
	im->want[im->nwant++] = copy;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const imp_item_t *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int item_id_cmp(const void *key, const void *b)
{
	return strcmp(key, ((const imp_item_t *)b)->id);
}

/* Sorts by ID and merges repeated IDs (pages fetched twice, or the same
 * endpoint in a describe and a create output). */
static int dedupe(void *arr, size_t *n, size_t elem, vd_errlist_t *errs)
{
	char *base = arr;
	size_t out = 0;
	int rc = 0;

	if (*n == 0)
		return 0;
	qsort(arr, *n, elem, item_cmp);
	for (size_t i = 0; i < *n; i++) {
		imp_item_t *cur = (imp_item_t *)(base + i * elem);
		imp_item_t *prev = out ? (imp_item_t *)(base + (out - 1) * elem) : NULL;

		if (prev && strcmp(prev->id, cur->id) == 0) {
			if (!json_equal(prev->raw, cur->raw)) {
				vd_errlist_add(errs, IMP_PROG, 0,
					       "%s appears twice with different "
					       "contents (%s and %s)",
					       cur->id, prev->where, cur->where);
				rc = VD_EMALF;
			}
			continue;
		}
		if (out != i)
			memcpy(base + out * elem, cur, elem);
		out++;
	}
	*n = out;
	return rc;
}

int imp_inventory_finish(vd_import_t *im, vd_errlist_t *errs)
{
	int rc = 0;

	if (dedupe(im->eps, &im->neps, sizeof(imp_ep_t), errs))
		rc = VD_EMALF;
	if (dedupe(im->enis, &im->nenis, sizeof(imp_eni_t), errs))
		rc = VD_EMALF;
	if (dedupe(im->subnets, &im->nsubnets, sizeof(imp_subnet_t), errs))
		rc = VD_EMALF;
	if (dedupe(im->vpcinfos, &im->nvpcinfos, sizeof(imp_vpcinfo_t), errs))
		rc = VD_EMALF;
	return rc;
}

static const void *find(const void *arr, size_t n, size_t elem, const char *id)
{
	if (!n || !id)
		return NULL;
	return bsearch(id, arr, n, elem, item_id_cmp);
}

const imp_ep_t *imp_find_ep(const vd_import_t *im, const char *id)
{
	return find(im->eps, im->neps, sizeof(imp_ep_t), id);
}

const imp_eni_t *imp_find_eni(const vd_import_t *im, const char *id)
{
	return find(im->enis, im->nenis, sizeof(imp_eni_t), id);
}

const imp_subnet_t *imp_find_subnet(const vd_import_t *im, const char *id)
{
	return find(im->subnets, im->nsubnets, sizeof(imp_subnet_t), id);
}

const imp_vpcinfo_t *imp_find_vpcinfo(const vd_import_t *im, const char *id)
{
	return find(im->vpcinfos, im->nvpcinfos, sizeof(imp_vpcinfo_t), id);
}

/* A source name: printable ASCII without spaces, '"' or '\\'. */
static bool good_source(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strcmp(s, "-") == 0)
		return false;
	for (; *s; s++) {
		if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\')
			return false;
	}
	return true;
}

int vd_import_set_origin(vd_import_t *im, const char *source, const char *region)
{
	if (!im || im->built)
		return -EINVAL;
	if ((source && !good_source(source)) ||
	    (region && (!imp_is_az(region) || strlen(region) > 40)))
		return VD_EMALF;
	if (source && !(source = vd_arena_strdup(&im->arena, source)))
		return -ENOMEM;
	if (region && !(region = vd_arena_strdup(&im->arena, region)))
		return -ENOMEM;
	im->cur_source = source;
	im->cur_region = region;
	return 0;
}

int vd_import_set_prune(vd_import_t *im, bool prune)
{
	if (!im || im->built)
		return -EINVAL;
	im->prune = prune;
	return 0;
}
