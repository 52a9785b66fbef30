/*
 * Inventory → records, in memory. Chooses the VPCs to write, reports each
 * endpoint that is not imported (gateway, Gateway Load Balancer, VPC
 * Lattice, not available), joins every imported endpoint to its network
 * interfaces and their subnets, and produces the address records of each
 * name: the regional vpce name and the private names get every interface's
 * address, a zonal name only the address in its AZ. Inconsistent input (an
 * interface missing from the input, two endpoints claiming one private
 * name, an address family the record type needs but the interface lacks)
 * is an error rather than a guess: a wrong answer from local data is worse
 * than none, because the zone hides the public answer.
 */
#include "import_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vpcdns/wire.h"

typedef struct bctx {
	vd_import_t *im;
	vd_import_note_fn note;
	void *arg;
	vd_errlist_t *errs;
	unsigned nerr;
} bctx_t;

static void note(bctx_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(bctx_t *b, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!b->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->note(b->arg, msg);
}

static void berr(bctx_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void berr(bctx_t *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(b->errs, IMP_PROG, 0, fmt, ap);
	va_end(ap);
	b->nerr++;
}

static bool is_interface(const imp_ep_t *ep)
{
	return strcmp(ep->type, "Interface") == 0;
}

static bool importable(const imp_ep_t *ep)
{
	return is_interface(ep) && strcmp(ep->state, "available") == 0;
}

static const char *type_reason(const char *type)
{
	if (strcmp(type, "Gateway") == 0)
		return "a gateway endpoint changes routing, not DNS";
	if (strcmp(type, "GatewayLoadBalancer") == 0)
		return "a Gateway Load Balancer endpoint has no DNS names";
	if (strcmp(type, "Resource") == 0 || strcmp(type, "ServiceNetwork") == 0)
		return "a VPC Lattice endpoint, not an interface endpoint";
	return "not an interface endpoint";
}

static void skip(bctx_t *b, const imp_ep_t *ep, const char *why)
{
	char t[64], s[160], w[160];

	note(b, "skipping %s (%s, %s): %s", ep->it.id,
	     imp_shown(ep->type, t, sizeof(t)), imp_shown(ep->service, s, sizeof(s)),
	     imp_shown(why, w, sizeof(w)));
}

/* ---- which VPCs ------------------------------------------------------------ */

static bool vpc_known(const vd_import_t *im, const char *vpc)
{
	for (size_t i = 0; i < im->neps; i++) {
		if (strcmp(im->eps[i].vpc, vpc) == 0)
			return true;
	}
	for (size_t i = 0; i < im->nsubnets; i++) {
		if (strcmp(im->subnets[i].vpc, vpc) == 0)
			return true;
	}
	return imp_find_vpcinfo(im, vpc) != NULL;
}

static imp_vpc_t *vpc_find(vd_import_t *im, const char *vpc)
{
	for (size_t i = 0; i < im->nvpcs; i++) {
		if (strcmp(im->vpcs[i].id, vpc) == 0)
			return &im->vpcs[i];
	}
	return NULL;
}

static int vpc_add(vd_import_t *im, const char *vpc, size_t *cap)
{
	if (vpc_find(im, vpc))
		return 0;
	if (imp_grow((void **)&im->vpcs, cap, im->nvpcs, sizeof(imp_vpc_t)))
		return -ENOMEM;
	memset(&im->vpcs[im->nvpcs], 0, sizeof(imp_vpc_t));
	im->vpcs[im->nvpcs].id = vpc;
	im->vpcs[im->nvpcs].sum.vpc = vpc;
	im->nvpcs++;
	return 0;
}

static int vpc_cmp(const void *a, const void *b)
{
	return strcmp(((const imp_vpc_t *)a)->id, ((const imp_vpc_t *)b)->id);
}

/* --vpc as given, or every VPC with an endpoint to import. */
static int select_vpcs(bctx_t *b)
{
	vd_import_t *im = b->im;
	size_t cap = 0;
	int rc = 0;

	for (size_t i = 0; i < im->nwant && rc == 0; i++) {
		if (!vpc_known(im, im->want[i]))
			berr(b,
			     "--vpc %s: no endpoint or subnet of this VPC in the input",
			     im->want[i]);
		else
			rc = vpc_add(im, im->want[i], &cap);
	}
	for (size_t i = 0; i < im->neps && rc == 0 && !im->nwant; i++) {
		if (importable(&im->eps[i]))
			rc = vpc_add(im, im->eps[i].vpc, &cap);
	}
	/* describe-vpcs: every VPC gets a view, with endpoints or not. */
	for (size_t i = 0; i < im->nvpcinfos && rc == 0 && !im->nwant; i++)
		rc = vpc_add(im, im->vpcinfos[i].it.id, &cap);
	if (rc == 0 && im->nvpcs == 0 && !b->nerr && !im->have_vpcs_doc)
		berr(b,
		     "no available interface endpoint in the input: nothing to import "
		     "(--vpc writes a VPC that has none)");
	if (im->nvpcs)
		qsort(im->vpcs, im->nvpcs, sizeof(imp_vpc_t), vpc_cmp);
	return rc;
}

/* Endpoints in ID order: notes for the skipped ones of the VPCs in scope,
 * the others attached to their VPC. */
static int sort_endpoints(bctx_t *b)
{
	vd_import_t *im = b->im;

	for (size_t i = 0; i < im->neps; i++) {
		const imp_ep_t *ep = &im->eps[i];
		imp_vpc_t *v = vpc_find(im, ep->vpc);
		char why[128];

		if (im->nwant && !v)
			continue;
		if (!is_interface(ep)) {
			skip(b, ep, type_reason(ep->type));
		} else if (!importable(ep)) {
			snprintf(why, sizeof(why), "state is %s, not available",
				 ep->state);
			skip(b, ep, why);
		} else if (v) {
			if (imp_grow((void **)&v->eps, &v->capeps, v->neps,
				     sizeof(imp_ep_t *)))
				return -ENOMEM;
			v->eps[v->neps++] = ep;
			continue;
		}
		if (v)
			v->sum.skipped++;
	}
	return 0;
}

/* ---- records ----------------------------------------------------------------- */

static const char *eni_az(const vd_import_t *im, const imp_eni_t *e)
{
	const imp_subnet_t *sn = imp_find_subnet(im, e->subnet);

	return e->az ? e->az : sn ? sn->az : NULL;
}

static int add_rr(imp_vpc_t *v, const imp_rr_t *rr)
{
	if (imp_grow((void **)&v->rrs, &v->caprrs, v->nrrs, sizeof(*rr)))
		return -ENOMEM;
	v->rrs[v->nrrs++] = *rr;
	return 0;
}

static int eni_records(imp_vpc_t *v, imp_rr_t *rr, const imp_eni_t *e, bool a,
		       bool aaaa, size_t *count)
{
	int rc = 0;

	rr->eni = e;
	if (a && e->has_v4) {
		rr->type = VD_T_A;
		memset(rr->addr, 0, sizeof(rr->addr));
		memcpy(rr->addr, e->v4, 4);
		rc = add_rr(v, rr);
		(*count)++;
	}
	for (size_t k = 0; aaaa && k < e->nv6 && rc == 0; k++) {
		rr->type = VD_T_AAAA;
		memcpy(rr->addr, e->v6[k], 16);
		rc = add_rr(v, rr);
		(*count)++;
	}
	return rc;
}

static int name_records(bctx_t *b, imp_vpc_t *v, const imp_ep_t *ep,
			const vd_import_name_t *n, const imp_eni_t **enis, size_t nenis)
{
	bool vpce = n->kind != VD_IMPORT_NAME_PRIVATE, a, aaaa;
	imp_rr_t rr = { .zone = n->zone, .owner = n->owner, .ep = ep };
	size_t count = 0;
	int rc = 0;

	vd_import_iptype_families(ep->iptype, vpce, &a, &aaaa);
	rr.dir = !vpce && ep->inbound_only ? "inbound-zones" : "zones";
	for (size_t i = 0; i < nenis && rc == 0; i++) {
		const char *az = eni_az(b->im, enis[i]);

		if (n->kind == VD_IMPORT_NAME_ZONAL && (!az || strcmp(az, n->az) != 0))
			continue;
		rc = eni_records(v, &rr, enis[i], a, aaaa, &count);
	}
	if (rc == 0 && count == 0 && n->kind == VD_IMPORT_NAME_ZONAL)
		berr(b,
		     "%s: zonal name %s, but none of its network interfaces is in %s",
		     ep->it.id, n->name, n->az);
	else if (rc == 0 && count == 0)
		berr(b,
		     "%s: %s would have no address (the endpoint lists no network "
		     "interface)",
		     ep->it.id, n->name);
	return rc;
}

/* The endpoint's interfaces, each checked against the endpoint; NULL
 * entries for the ones in error. */
static void resolve_enis(bctx_t *b, const imp_ep_t *ep, const imp_eni_t **out)
{
	bool need4 = ep->iptype != VD_IMPORT_IP_IPV6;
	bool need6 = ep->iptype == VD_IMPORT_IP_IPV6 ||
		     ep->iptype == VD_IMPORT_IP_DUALSTACK;
	const char *ipt = vd_import_iptype_name(ep->iptype);

	for (size_t i = 0; i < ep->nenis; i++) {
		const imp_eni_t *e = imp_find_eni(b->im, ep->enis[i]);

		out[i] = NULL;
		if (!e)
			berr(b,
			     "%s lists network interface %s, which is not in the input "
			     "(add the output of aws ec2 describe-network-interfaces)",
			     ep->it.id, ep->enis[i]);
		else if (e->vpc && strcmp(e->vpc, ep->vpc) != 0)
			berr(b, "%s of %s is in %s, not in %s", e->it.id, ep->it.id,
			     e->vpc, ep->vpc);
		else if (need4 && !e->has_v4)
			berr(b,
			     "%s of %s has no IPv4 address (PrivateIpAddress), which "
			     "DnsRecordIpType %s needs",
			     e->it.id, ep->it.id, ipt);
		else if (need6 && !e->nv6)
			berr(b,
			     "%s of %s has no IPv6 address (Ipv6Addresses), which "
			     "DnsRecordIpType %s needs",
			     e->it.id, ep->it.id, ipt);
		else
			out[i] = e;
	}
}

static bool name_used(const imp_ep_t *ep, const vd_import_name_t *n)
{
	return n->kind != VD_IMPORT_NAME_PRIVATE || ep->private_dns;
}

static int endpoint_records(bctx_t *b, imp_vpc_t *v, const imp_ep_t *ep)
{
	unsigned before = b->nerr;
	const imp_eni_t **enis;
	int rc = 0;

	enis = vd_arena_alloc(&b->im->arena, (ep->nenis + 1) * sizeof(*enis));
	if (!enis)
		return -ENOMEM;
	resolve_enis(b, ep, enis);
	if (b->nerr != before)
		return 0;
	for (size_t i = 0; i < ep->nnames && rc == 0; i++) {
		if (name_used(ep, &ep->names[i]))
			rc = name_records(b, v, ep, &ep->names[i], enis, ep->nenis);
	}
	return rc;
}

/* Drops endpoints with no name to import (an interface endpoint whose
 * DnsEntries are empty), with a note. */
static void drop_nameless(bctx_t *b, imp_vpc_t *v)
{
	size_t out = 0;

	for (size_t i = 0; i < v->neps; i++) {
		const imp_ep_t *ep = v->eps[i];
		bool any = false;

		for (size_t k = 0; k < ep->nnames; k++)
			any |= name_used(ep, &ep->names[k]);
		if (!any) {
			skip(b, ep, "no DNS names in DnsEntries");
			v->sum.skipped++;
			continue;
		}
		v->eps[out++] = ep;
	}
	v->neps = out;
}

/* ---- checks across endpoints ------------------------------------------------ */

typedef struct claim {
	const char *name;
	const imp_ep_t *ep;
} claim_t;

static int claim_cmp(const void *a, const void *b)
{
	const claim_t *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->ep->it.id, y->ep->it.id);
}

static int check_private_names(bctx_t *b, const imp_vpc_t *v)
{
	claim_t *cl = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; i < v->neps && rc == 0; i++) {
		const imp_ep_t *ep = v->eps[i];

		for (size_t k = 0; k < ep->nnames && rc == 0; k++) {
			if (ep->names[k].kind != VD_IMPORT_NAME_PRIVATE ||
			    !ep->private_dns)
				continue;
			rc = imp_grow((void **)&cl, &cap, n, sizeof(*cl));
			if (rc == 0)
				cl[n++] = (claim_t){ ep->names[k].name, ep };
		}
	}
	if (n)
		qsort(cl, n, sizeof(*cl), claim_cmp);
	for (size_t i = 1; i < n && rc == 0; i++) {
		if (strcmp(cl[i - 1].name, cl[i].name) == 0)
			berr(b, "%s: private DNS name %s is claimed by both %s and %s",
			     v->id, cl[i].name, cl[i - 1].ep->it.id, cl[i].ep->it.id);
	}
	free(cl);
	return rc;
}

/* ---- subnets -------------------------------------------------------------------- */

static int cidr_entry_cmp(const void *a, const void *b)
{
	const imp_cidr_t *x = a, *y = b;
	int c = imp_cidr_cmp(&x->cidr, &y->cidr);

	return c ? c : strcmp(x->sn->it.id, y->sn->it.id);
}

static int collect_subnets(bctx_t *b, imp_vpc_t *v)
{
	const vd_import_t *im = b->im;
	size_t out = 0;

	for (size_t i = 0; i < im->nsubnets; i++) {
		const imp_subnet_t *sn = &im->subnets[i];

		if (strcmp(sn->vpc, v->id) != 0)
			continue;
		if (!sn->az_id)
			note(b,
			     "%s: %s has no AvailabilityZoneId: its entries in "
			     "subnets.yaml "
			     "have no az_id",
			     v->id, sn->it.id);
		for (size_t k = 0; k < sn->ncidrs; k++) {
			if (imp_grow((void **)&v->cidrs, &v->capcidrs, v->ncidrs,
				     sizeof(imp_cidr_t)))
				return -ENOMEM;
			v->cidrs[v->ncidrs++] = (imp_cidr_t){ sn->cidrs[k], sn };
		}
	}
	if (v->ncidrs)
		qsort(v->cidrs, v->ncidrs, sizeof(imp_cidr_t), cidr_entry_cmp);
	for (size_t i = 0; i < v->ncidrs; i++) {
		if (!out || !vd_cidr_equal(&v->cidrs[out - 1].cidr, &v->cidrs[i].cidr))
			v->cidrs[out++] = v->cidrs[i];
	}
	v->ncidrs = out;
	return 0;
}

/* Interfaces whose subnet is missing: their addresses get no AZ. */
static void check_eni_subnets(bctx_t *b, const imp_vpc_t *v)
{
	if (!v->ncidrs && v->nclients) {
		note(b,
		     "%s: no subnet of this VPC in the input (aws ec2 "
		     "describe-subnets): subnets.yaml is empty, so its clients get "
		     "no Availability Zone",
		     v->id);
		return;
	}
	if (!v->ncidrs) {
		note(b,
		     "%s: no subnet of this VPC in the input (aws ec2 "
		     "describe-subnets): "
		     "subnets.yaml is empty and view.yaml lists no clients",
		     v->id);
		return;
	}
	for (size_t i = 0; i < v->neps; i++) {
		for (size_t k = 0; k < v->eps[i]->nenis; k++) {
			const imp_eni_t *e = imp_find_eni(b->im, v->eps[i]->enis[k]);

			if (e && e->subnet && !imp_find_subnet(b->im, e->subnet))
				note(b,
				     "%s: %s (of %s, %s) is not in the input: its "
				     "addresses "
				     "get no Availability Zone",
				     v->id, e->subnet, e->it.id, v->eps[i]->it.id);
		}
	}
}

/* ---- clients and metadata ------------------------------------------------------ */

static int cidr_cmp_q(const void *a, const void *b)
{
	return imp_cidr_cmp(a, b);
}

/* The view's clients: the VPC's CIDR blocks from describe-vpcs, so a
 * subnet created later is covered; without them, the subnets' CIDRs. */
static int collect_clients(bctx_t *b, imp_vpc_t *v, const imp_vpcinfo_t *info)
{
	size_t n = info ? info->ncidrs : v->ncidrs, out = 0;

	v->from_subnets = !info;
	v->clients = vd_arena_alloc(&b->im->arena, (n + 1) * sizeof(vd_cidr_t));
	if (!v->clients)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v->clients[i] = info ? info->cidrs[i] : v->cidrs[i].cidr;
	if (n)
		qsort(v->clients, n, sizeof(vd_cidr_t), cidr_cmp_q);
	for (size_t i = 0; i < n; i++) {
		if (!out || !vd_cidr_equal(&v->clients[out - 1], &v->clients[i]))
			v->clients[out++] = v->clients[i];
	}
	v->nclients = out;
	if (!info && b->im->have_vpcs_doc)
		note(b,
		     "%s: not in the describe-vpcs output: its view's clients are "
		     "its subnets' CIDRs, so a client in a subnet created later gets "
		     "REFUSED until the next import",
		     v->id);
	else if (!info && v->ncidrs)
		note(b,
		     "%s: no describe-vpcs output: its view's clients are its "
		     "subnets' CIDRs, so a client in a subnet created later gets "
		     "REFUSED until the next import (add aws ec2 describe-vpcs)",
		     v->id);
	return 0;
}

/* "us-east-1" from "us-east-1a" or "us-east-1-bos-1a": the text up to
 * the end of the first "-<digits>". */
static const char *region_of_az(vd_arena_t *a, const char *az)
{
	for (const char *p = az ? strchr(az, '-') : NULL; p; p = strchr(p + 1, '-')) {
		size_t d = strspn(p + 1, "0123456789");
		char *r;

		if (!d)
			continue;
		r = vd_arena_alloc(a, (size_t)(p + 1 + d - az) + 1);
		if (r) {
			memcpy(r, az, (size_t)(p + 1 + d - az));
			r[p + 1 + d - az] = '\0';
		}
		return r;
	}
	return NULL;
}

/* The region field of "arn:aws:ec2:us-east-1:111122223333:subnet/…". */
static const char *region_of_arn(vd_arena_t *a, const char *arn)
{
	const char *p = arn;
	char *r;
	size_t n;

	for (int i = 0; p && i < 3; i++) {
		p = strchr(p, ':');
		p = p ? p + 1 : NULL;
	}
	if (!p || strncmp(arn, "arn:", 4) != 0)
		return NULL;
	n = strcspn(p, ":");
	if (!n || !p[n] || n > 40)
		return NULL;
	r = vd_arena_alloc(a, n + 1);
	if (r) {
		memcpy(r, p, n);
		r[n] = '\0';
	}
	return imp_is_az(r ? r : "") ? r : NULL;
}

/* Account, region and source of the view: describe-vpcs first, then the
 * VPC's endpoints and subnets. The region comes from --region, else from
 * the subnets' ARNs, else from Availability Zone names. */
static void vpc_origin(bctx_t *b, imp_vpc_t *v, const imp_vpcinfo_t *info)
{
	vd_import_t *im = b->im;
	const imp_item_t *it = info ? &info->it : v->neps ? &v->eps[0]->it : NULL;
	const imp_subnet_t *sn = NULL;

	for (size_t i = 0; i < im->nsubnets && !sn; i++) {
		if (strcmp(im->subnets[i].vpc, v->id) == 0)
			sn = &im->subnets[i];
	}
	if (!it && sn)
		it = &sn->it;
	v->source = it ? it->source : NULL;
	v->account = info && info->owner ? info->owner : sn ? sn->owner : NULL;
	if (it && it->region) {
		v->region = it->region;
		v->region_from = "from --region";
	} else if (sn && sn->arn && (v->region = region_of_arn(&im->arena, sn->arn))) {
		v->region_from = "from the SubnetArn";
	} else if (sn && (v->region = region_of_az(&im->arena, sn->az))) {
		v->region_from = "from the Availability Zone name";
	}
	for (size_t i = 0; i < v->neps && !v->region; i++) {
		for (size_t k = 0; k < v->eps[i]->nenis && !v->region; k++) {
			const imp_eni_t *e = imp_find_eni(im, v->eps[i]->enis[k]);

			v->region = e ? region_of_az(&im->arena, e->az) : NULL;
		}
		v->region_from = "from the Availability Zone name";
	}
}

/* ---- the VPC --------------------------------------------------------------------- */

static int rr_cmp(const void *a, const void *b)
{
	const imp_rr_t *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);

	if (!c)
		c = strcmp(x->zone, y->zone);
	if (!c)
		c = imp_owner_cmp(x->owner, y->owner);
	if (!c)
		c = (x->type > y->type) - (x->type < y->type);
	if (!c)
		c = memcmp(x->addr, y->addr, sizeof(x->addr));
	return c;
}

static void sort_records(imp_vpc_t *v)
{
	size_t out = 0;

	if (!v->nrrs)
		return;
	qsort(v->rrs, v->nrrs, sizeof(imp_rr_t), rr_cmp);
	for (size_t i = 0; i < v->nrrs; i++) {
		if (!out || rr_cmp(&v->rrs[out - 1], &v->rrs[i]) != 0)
			v->rrs[out++] = v->rrs[i];
		else if (strcmp(v->rrs[out - 1].ep->it.id, v->rrs[i].ep->it.id) > 0)
			v->rrs[out - 1] = v->rrs[i]; /* deterministic comment */
	}
	v->nrrs = out;
	for (size_t i = 0; i < v->nrrs; i++) {
		if (i == 0 || strcmp(v->rrs[i].dir, v->rrs[i - 1].dir) != 0 ||
		    strcmp(v->rrs[i].zone, v->rrs[i - 1].zone) != 0)
			v->sum.zones++;
	}
}

static int build_vpc(bctx_t *b, imp_vpc_t *v)
{
	int rc;

	drop_nameless(b, v);
	rc = check_private_names(b, v);
	for (size_t i = 0; i < v->neps && rc == 0; i++)
		rc = endpoint_records(b, v, v->eps[i]);
	if (rc == 0)
		rc = collect_subnets(b, v);
	if (rc == 0 && !b->nerr)
		rc = collect_clients(b, v, imp_find_vpcinfo(b->im, v->id));
	if (rc)
		return rc;
	vpc_origin(b, v, imp_find_vpcinfo(b->im, v->id));
	/* Warnings only matter when something will be written. */
	if (!b->nerr)
		check_eni_subnets(b, v);
	sort_records(v);
	v->sum.endpoints = (unsigned)v->neps;
	v->sum.records = (unsigned)v->nrrs;
	v->sum.subnets = (unsigned)v->ncidrs;
	return 0;
}

static char *strip_slashes(vd_arena_t *a, const char *dir)
{
	char *s = vd_arena_strdup(a, dir);
	size_t n = s ? strlen(s) : 0;

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

int vd_import_build(vd_import_t *im, const char *out_dir, vd_import_note_fn note_fn,
		    void *arg, vd_errlist_t *errs)
{
	bctx_t b = { .im = im, .note = note_fn, .arg = arg, .errs = errs };
	int rc;

	if (!im || !out_dir || !*out_dir || !errs || im->built)
		return -EINVAL;
	im->built = true;
	im->out_dir = strip_slashes(&im->arena, out_dir);
	if (!im->out_dir)
		return -ENOMEM;
	rc = imp_inventory_finish(im, errs);
	if (rc)
		return rc;
	rc = select_vpcs(&b);
	if (rc == 0)
		rc = sort_endpoints(&b);
	for (size_t i = 0; i < im->nvpcs && rc == 0; i++)
		rc = build_vpc(&b, &im->vpcs[i]);
	if (rc)
		return rc;
	if (b.nerr)
		return VD_EMALF;
	rc = imp_tree_plan(im, note_fn, arg, errs);
	if (rc == 0)
		rc = imp_render(im);
	if (rc == 0)
		rc = imp_tree_finish(im, errs);
	if (rc == 0)
		rc = imp_publish(im);
	if (rc)
		return rc;
	im->sums = calloc(im->nvpcs ? im->nvpcs : 1, sizeof(*im->sums));
	if (!im->sums)
		return -ENOMEM;
	for (size_t i = 0; i < im->nvpcs; i++)
		im->sums[i] = im->vpcs[i].sum;
	return 0;
}

const vd_import_file_t *vd_import_files(const vd_import_t *im, size_t *n)
{
	if (n)
		*n = im ? im->nfiles : 0;
	return im && im->nfiles ? im->files : NULL;
}

const vd_import_summary_t *vd_import_summaries(const vd_import_t *im, size_t *n)
{
	bool ok = im && im->sums;

	if (n)
		*n = ok ? im->nvpcs : 0;
	return ok ? im->sums : NULL;
}

const char *vd_import_version_dir(const vd_import_t *im)
{
	return im && im->files ? im->view_dir : NULL;
}
