/*
 * Unit tests of building and writing: which endpoints are imported or
 * skipped (with the skip line), the records each name gets (zonal names
 * only their AZ's address, private names only with private DNS on,
 * DnsRecordIpType per name kind), errors for inconsistent inventories (a
 * missing interface, two endpoints claiming one private name, an address
 * family the record type needs), the same bytes whatever the input order,
 * and writing: files in place, stale zone files removed, nothing written
 * after an error.
 */
#include "import_test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define EC2 "vpce-0ec2a1b2c3d4e5f60"
#define EC2_REG EC2 "-x7k2m9qp.ec2.us-east-1.vpce.amazonaws.com"
#define EC2_1A EC2 "-x7k2m9qp-us-east-1a.ec2.us-east-1.vpce.amazonaws.com"
#define EC2_1B EC2 "-x7k2m9qp-us-east-1b.ec2.us-east-1.vpce.amazonaws.com"
#define EC2_PRIV "ec2.us-east-1.amazonaws.com"
#define ZDIR IT_VPC "/zones/"
#define VPCE_FILE ZDIR IT_VPCE_ZONE ".zone"
#define EC2_FILE ZDIR EC2_PRIV ".zone"

typedef struct notes {
	char *msgs[16];
	size_t n;
} notes_t;

static void collect(void *arg, const char *msg)
{
	notes_t *nt = arg;

	assert_true(nt->n < 16);
	nt->msgs[nt->n++] = strdup(msg);
}

static void notes_free(notes_t *nt)
{
	for (size_t i = 0; i < nt->n; i++)
		free(nt->msgs[i]);
	nt->n = 0;
}

/* DnsEntries of the ec2 endpoint in the given order of indexes into
 * {regional, 1a, 1b, private}. */
static char *ec2_entries(const int order[4])
{
	static const char *const names[] = { EC2_REG, EC2_1A, EC2_1B, EC2_PRIV };
	char *e[4], *out;

	for (int i = 0; i < 4; i++)
		e[i] = it_entry(names[order[i]]);
	out = it_json("%s,%s,%s,%s", e[0], e[1], e[2], e[3]);
	for (int i = 0; i < 4; i++)
		free(e[i]);
	return out;
}

static char *ec2_doc(const int order[4], const char *extra)
{
	char *entries = ec2_entries(order);
	char *ep = it_endpoint(EC2, "ec2", "'eni-0aaa','eni-0bbb'", entries, extra);
	char *doc = it_json("{'VpcEndpoints':[%s]}", ep);

	free(entries);
	free(ep);
	return doc;
}

static char *enis_doc(bool v6)
{
	char *a = it_eni("eni-0aaa", "subnet-0a", "us-east-1a", "use1-az4",
			 "10.20.1.15", v6 ? "2600:1f18::15" : NULL);
	char *b = it_eni("eni-0bbb", "subnet-0b", "us-east-1b", "use1-az6",
			 "10.20.2.27", v6 ? "2600:1f18:0:2::27" : NULL);
	char *doc = it_json("{'NetworkInterfaces':[%s,%s]}", b, a);

	free(a);
	free(b);
	return doc;
}

static char *subnets_doc(void)
{
	char *a = it_subnet("subnet-0a", "10.20.1.0/24", "us-east-1a", "use1-az4",
			    "2600:1f18::/64");
	char *b =
		it_subnet("subnet-0b", "10.20.2.0/24", "us-east-1b", "use1-az6", NULL);
	char *doc = it_json("{'Subnets':[%s,%s]}", b, a);

	free(a);
	free(b);
	return doc;
}

/* Loads the ec2 inventory and builds it; returns the build's status. */
static int build_ec2(vd_import_t *im, const int order[4], const char *extra, bool v6,
		     notes_t *nt, vd_errlist_t *e)
{
	it_load(im, "endpoints.json", ec2_doc(order, extra), NULL);
	it_load(im, "enis.json", enis_doc(v6), NULL);
	it_load(im, "subnets.json", subnets_doc(), NULL);
	return vd_import_build(im, "out", nt ? collect : NULL, nt, e);
}

static const int in_order[4] = { 0, 1, 2, 3 };

static void test_invalid_args(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, NULL), -EINVAL);
	/* An empty inventory has nothing to import. */
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, &e), VD_EMALF);
	assert_int_equal(e.count, 1);
	assert_string_equal(
		e.msgs[0],
		"vpcdns-import: no available interface endpoint in the "
		"input: nothing to import (--vpc writes a VPC that has none)");
	/* Build happens once; loading after it is refused. */
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, &e), -EINVAL);
	assert_int_equal(vd_import_load_buffer(im, "x", "{}", 2, &e), -EINVAL);
	assert_int_equal(vd_import_add_vpc(im, "vpc-1"), -EINVAL);
	assert_int_equal(vd_import_write(im, NULL, NULL, &e), -EINVAL);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_records(void **state)
{
	vd_import_t *im = vd_import_new();
	const vd_import_summary_t *s;
	vd_errlist_t e;
	size_t n;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(build_ec2(im, in_order, "", false, NULL, &e), 0);
	assert_int_equal(e.count, 0);
	/* The regional name: every interface; a zonal name: its AZ only. */
	assert_true(it_has_line(im, VPCE_FILE,
				"vpce-0ec2a1b2c3d4e5f60-x7k2m9qp.ec2 60 IN A "
				"10.20.1.15 ; " EC2 " use1-az4\n"));
	assert_true(it_has_line(im, VPCE_FILE,
				"vpce-0ec2a1b2c3d4e5f60-x7k2m9qp.ec2 60 IN A "
				"10.20.2.27 ; " EC2 " use1-az6\n"));
	assert_int_equal(it_count_lines(im, VPCE_FILE, EC2 "-x7k2m9qp-us-east-1a.ec2 "),
			 1);
	assert_true(it_has_line(im, VPCE_FILE,
				EC2 "-x7k2m9qp-us-east-1a.ec2 60 IN A 10.20.1.15 "));
	assert_int_equal(it_count_lines(im, VPCE_FILE, EC2 "-x7k2m9qp-us-east-1b.ec2 "),
			 1);
	assert_true(it_has_line(im, VPCE_FILE,
				EC2 "-x7k2m9qp-us-east-1b.ec2 60 IN A 10.20.2.27 "));
	/* The private name: its own zone, at the apex. */
	assert_true(
		it_has_line(im, EC2_FILE, "$ORIGIN ec2.us-east-1.amazonaws.com.\n"));
	assert_true(it_has_line(im, EC2_FILE,
				"@ 60 IN SOA vpcdns.invalid. "
				"hostmaster.vpcdns.invalid. 1 3600 600 86400 60\n"));
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN A "), 2);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN AAAA "), 0);
	assert_true(it_has_line(im, EC2_FILE,
				"; vpcdns serves this zone with the default "
				"\"fallback: forward\""));
	/* Subnets by CIDR, IPv6 after IPv4. */
	assert_string_equal(
		it_file(im, IT_VPC "/subnets.yaml"),
		"# Subnets of " IT_VPC " with their Availability Zones (generated by "
		"vpcdns-import).\nsubnets:\n"
		"  - cidr: 10.20.1.0/24\n    az_id: use1-az4\n    az: us-east-1a\n"
		"    subnet_id: subnet-0a\n"
		"  - cidr: 10.20.2.0/24\n    az_id: use1-az6\n    az: us-east-1b\n"
		"    subnet_id: subnet-0b\n"
		"  - cidr: 2600:1f18::/64\n    az_id: use1-az4\n    az: us-east-1a\n"
		"    subnet_id: subnet-0a\n");
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  clients: [\"10.20.1.0/24\", "
				"\"10.20.2.0/24\", \"2600:1f18::/64\"]\n"));
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  zones: [\"out.v1/" ZDIR "\"]\n"));
	s = vd_import_summaries(im, &n);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].vpc, IT_VPC);
	assert_int_equal(s[0].endpoints, 1);
	assert_int_equal(s[0].zones, 2);
	assert_int_equal(s[0].records, 6);
	assert_int_equal(s[0].subnets, 3);
	{
		const vd_import_file_t *f = vd_import_files(im, &n);

		/* The VPC's four, views.yaml and the manifest. */
		assert_int_equal(n, 6);
		/* Sorted by path. */
		for (size_t i = 1; i < n; i++)
			assert_true(strcmp(f[i - 1].path, f[i].path) < 0);
	}
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

/* Same bytes for every order of DnsEntries and of the documents. */
static void test_determinism(void **state)
{
	static const int orders[][4] = { { 3, 2, 1, 0 },
					 { 2, 0, 3, 1 },
					 { 1, 3, 0, 2 } };
	vd_import_t *ref = vd_import_new(), *im;
	const vd_import_file_t *a, *b;
	vd_errlist_t e;
	size_t na, nb;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(build_ec2(ref, in_order, "", true, NULL, &e), 0);
	a = vd_import_files(ref, &na);
	for (size_t k = 0; k < sizeof(orders) / sizeof(orders[0]); k++) {
		im = vd_import_new();
		it_load(im, "subnets.json", subnets_doc(), NULL);
		it_load(im, "enis.json", enis_doc(true), NULL);
		it_load(im, "endpoints.json", ec2_doc(orders[k], ""), NULL);
		assert_int_equal(vd_import_build(im, "out", NULL, NULL, &e), 0);
		b = vd_import_files(im, &nb);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			assert_string_equal(a[i].path, b[i].path);
			assert_int_equal(a[i].len, b[i].len);
			assert_memory_equal(a[i].data, b[i].data, a[i].len);
		}
		vd_import_free(im);
	}
	assert_int_equal(e.count, 0);
	vd_errlist_deinit(&e);
	vd_import_free(ref);
}

static void test_private_dns_off(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;
	char *doc, *p, *tmp;

	(void)state;
	vd_errlist_init(&e);
	doc = ec2_doc(in_order,
		      ",'PrivateDnsNames':[{'PrivateDnsName':'ec2.example.com'}]");
	p = strstr(doc, "\"PrivateDnsEnabled\":true");
	assert_non_null(p);
	doc = it_json("%.*s\"PrivateDnsEnabled\":false%s", (int)(p - doc), (tmp = doc),
		      p + strlen("\"PrivateDnsEnabled\":true"));
	free(tmp);
	it_load(im, "endpoints.json", doc, NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, &e), 0);
	assert_null(it_file(im, EC2_FILE));
	assert_null(it_file(im, ZDIR "ec2.example.com.zone"));
	assert_non_null(it_file(im, VPCE_FILE));
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_private_dns_names_field(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(build_ec2(im, in_order,
				   ",'PrivateDnsNames':['ec2.example.com',"
				   "{'PrivateDnsName':'Ec2.US-East-1.amazonaws.com.'}]",
				   false, NULL, &e),
			 0);
	assert_int_equal(it_count_lines(im, ZDIR "ec2.example.com.zone", "@ 60 IN A "),
			 2);
	/* The same name twice (different spelling) is one set of records. */
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN A "), 2);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_iptypes(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	/* service-defined: AAAA on the vpce names only. */
	assert_int_equal(build_ec2(im, in_order,
				   ",'DnsOptions':{'DnsRecordIpType':"
				   "'service-defined'}",
				   true, NULL, &e),
			 0);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN A "), 2);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN AAAA "), 0);
	assert_true(it_has_line(im, VPCE_FILE,
				EC2 "-x7k2m9qp.ec2 60 IN AAAA 2600:1f18::15 ; "));
	assert_true(it_has_line(im, VPCE_FILE,
				EC2 "-x7k2m9qp-us-east-1b.ec2 60 IN AAAA "
				    "2600:1f18:0:2::27 ; "));
	assert_int_equal(it_count_lines(im, VPCE_FILE,
					EC2 "-x7k2m9qp-us-east-1b.ec2 60 IN AAAA"),
			 1);
	vd_import_free(im);

	im = vd_import_new();
	assert_int_equal(build_ec2(im, in_order,
				   ",'DnsOptions':{'DnsRecordIpType':'ipv6'}", true,
				   NULL, &e),
			 0);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN A "), 0);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN AAAA "), 2);
	assert_int_equal(it_count_lines(im, VPCE_FILE, EC2 "-x7k2m9qp.ec2 60 IN A "),
			 0);
	vd_import_free(im);

	im = vd_import_new();
	assert_int_equal(build_ec2(im, in_order,
				   ",'DnsOptions':{'DnsRecordIpType':'dualstack'}",
				   true, NULL, &e),
			 0);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN A "), 2);
	assert_int_equal(it_count_lines(im, EC2_FILE, "@ 60 IN AAAA "), 2);
	vd_import_free(im);

	/* dualstack needs IPv6 on every interface. */
	im = vd_import_new();
	assert_int_equal(build_ec2(im, in_order,
				   ",'DnsOptions':{'DnsRecordIpType':'dualstack'}",
				   false, NULL, &e),
			 VD_EMALF);
	assert_int_equal(e.count, 2);
	assert_string_equal(e.msgs[0],
			    "vpcdns-import: eni-0aaa of " EC2 " has no IPv6 address "
			    "(Ipv6Addresses), which DnsRecordIpType dualstack needs");
	assert_null(vd_import_files(im, NULL));
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_skipped(void **state)
{
	vd_import_t *im = vd_import_new();
	notes_t nt = { 0 };
	vd_errlist_t e;
	const vd_import_summary_t *s;

	(void)state;
	vd_errlist_init(&e);
	it_load(im, "x.json",
		it_json("{'VpcEndpoints':["
			"{'VpcEndpointId':'vpce-0g','VpcEndpointType':'Gateway','VpcId'"
			":'" IT_VPC "',"
			"'ServiceName':'com.amazonaws.us-east-1.s3','State':'available'"
			",'DnsEntries':[]},"
			"{'VpcEndpointId':'vpce-0l','VpcEndpointType':'"
			"GatewayLoadBalancer','VpcId':'" IT_VPC
			"','ServiceName':'com.amazonaws.vpce.us-east-1.vpce-svc-1','"
			"State':'available'},"
			"{'VpcEndpointId':'vpce-0r','VpcEndpointType':'Resource','"
			"VpcId':'" IT_VPC "',"
			"'ServiceName':'','ResourceConfigurationArn':'arn:rcfg','State'"
			":'available'},"
			"{'VpcEndpointId':'vpce-0p','VpcEndpointType':'Interface','"
			"VpcId':'" IT_VPC "',"
			"'ServiceName':'com.amazonaws.us-east-1.sqs','State':'"
			"pendingAcceptance',"
			"'NetworkInterfaceIds':['eni-0zzz']},"
			"{'VpcEndpointId':'vpce-0n','VpcEndpointType':'Interface','"
			"VpcId':'" IT_VPC "',"
			"'ServiceName':'com.amazonaws.us-east-1.sns','State':'"
			"available','DnsEntries':[]},"
			"{'VpcEndpointId':'vpce-0o','VpcEndpointType':'Gateway','VpcId'"
			":'vpc-0other',"
			"'ServiceName':'com.amazonaws.us-east-1.dynamodb','State':'"
			"available'}]}"),
		NULL);
	assert_int_equal(build_ec2(im, in_order, "", false, &nt, &e), 0);
	/* The six skipped, and the clients taken from the subnets. */
	assert_int_equal(nt.n, 7);
	assert_string_equal(nt.msgs[0],
			    "skipping vpce-0g (Gateway, com.amazonaws.us-east-1.s3): "
			    "a gateway endpoint changes routing, not DNS");
	assert_string_equal(
		nt.msgs[1],
		"skipping vpce-0l (GatewayLoadBalancer, "
		"com.amazonaws.vpce.us-east-1.vpce-svc-1): a Gateway Load Balancer "
		"endpoint has no DNS names");
	/* Every endpoint of the input, also of VPCs not written. */
	assert_string_equal(nt.msgs[2], "skipping vpce-0o (Gateway, "
					"com.amazonaws.us-east-1.dynamodb): a gateway "
					"endpoint changes routing, "
					"not DNS");
	assert_string_equal(
		nt.msgs[3],
		"skipping vpce-0p (Interface, com.amazonaws.us-east-1.sqs): "
		"state is pendingAcceptance, not available");
	assert_string_equal(nt.msgs[4],
			    "skipping vpce-0r (Resource, arn:rcfg): a VPC Lattice "
			    "endpoint, not an interface endpoint");
	assert_string_equal(
		nt.msgs[5],
		"skipping vpce-0n (Interface, com.amazonaws.us-east-1.sns): "
		"no DNS names in DnsEntries");
	s = vd_import_summaries(im, NULL);
	assert_int_equal(s[0].skipped, 5);
	assert_int_equal(s[0].endpoints, 1);
	/* The pending endpoint's missing interface is not an error. */
	assert_int_equal(e.count, 0);
	notes_free(&nt);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_inconsistent(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;
	char *en[3], *ep[3];

	(void)state;
	vd_errlist_init(&e);
	/* vpce-0b claims ec2.us-east-1.amazonaws.com too; vpce-0c has a zonal
	 * name whose AZ has no interface; vpce-0d lists an interface that is
	 * not in the input. */
	en[0] = it_entry(EC2_PRIV);
	en[1] = it_entry("vpce-0c-abc-us-east-1c.ec2.us-east-1.vpce.amazonaws.com");
	en[2] = it_entry("vpce-0d-abc.ec2.us-east-1.vpce.amazonaws.com");
	ep[0] = it_endpoint("vpce-0b", "ec2", "'eni-0aaa'", en[0], "");
	ep[1] = it_endpoint("vpce-0c", "ec2", "'eni-0aaa'", en[1], "");
	ep[2] = it_endpoint("vpce-0d", "ec2", "'eni-0gone','eni-0aaa'", en[2], "");
	it_load(im, "more.json",
		it_json("{'VpcEndpoints':[%s,%s,%s]}", ep[0], ep[1], ep[2]), NULL);
	assert_int_equal(build_ec2(im, in_order, "", false, NULL, &e), VD_EMALF);
	assert_int_equal(e.count, 3);
	assert_string_equal(e.msgs[0],
			    "vpcdns-import: " IT_VPC ": private DNS name " EC2_PRIV
			    " is claimed by both vpce-0b and " EC2);
	assert_string_equal(e.msgs[1], "vpcdns-import: vpce-0c: zonal name "
				       "vpce-0c-abc-us-east-1c.ec2.us-east-1.vpce."
				       "amazonaws.com, but none of its "
				       "network interfaces is in us-east-1c");
	assert_string_equal(e.msgs[2],
			    "vpcdns-import: vpce-0d lists network interface eni-0gone, "
			    "which is not in the input (add the output of aws ec2 "
			    "describe-network-interfaces)");
	assert_null(vd_import_files(im, NULL));
	for (int i = 0; i < 3; i++) {
		free(en[i]);
		free(ep[i]);
	}
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_warnings(void **state)
{
	vd_import_t *im = vd_import_new();
	notes_t nt = { 0 };
	vd_errlist_t e;
	char *sn;

	(void)state;
	vd_errlist_init(&e);
	/* Only subnet-0a is described, and without its AZ ID. */
	sn = it_json("{'Subnets':[{'SubnetId':'subnet-0a','VpcId':'" IT_VPC "',"
		     "'CidrBlock':'10.20.1.0/24','AvailabilityZone':'us-east-1a'}]}");
	it_load(im, "subnets.json", sn, NULL);
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	assert_int_equal(vd_import_build(im, "out", collect, &nt, &e), 0);
	assert_int_equal(e.count, 0);
	assert_int_equal(nt.n, 3);
	assert_string_equal(nt.msgs[0],
			    IT_VPC ": subnet-0a has no AvailabilityZoneId: its "
				   "entries in subnets.yaml have no az_id");
	assert_string_equal(
		nt.msgs[1], IT_VPC
		": no describe-vpcs output: its view's clients are its subnets' "
		"CIDRs, so a client in a subnet created later gets REFUSED until "
		"the next import (add aws ec2 describe-vpcs)");
	assert_string_equal(nt.msgs[2],
			    IT_VPC ": subnet-0b (of eni-0bbb, " EC2 ") is not in "
				   "the input: its addresses get no Availability Zone");
	assert_string_equal(it_file(im, IT_VPC "/subnets.yaml"),
			    "# Subnets of " IT_VPC
			    " with their Availability Zones (generated by "
			    "vpcdns-import).\nsubnets:\n  - cidr: 10.20.1.0/24\n    "
			    "az: us-east-1a\n"
			    "    subnet_id: subnet-0a\n");
	notes_free(&nt);
	vd_import_free(im);

	/* No subnet at all: one warning, and the errors of a failed build
	 * are not buried under warnings. */
	im = vd_import_new();
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	assert_int_equal(vd_import_build(im, "out", collect, &nt, &e), 0);
	assert_int_equal(nt.n, 1);
	assert_string_equal(nt.msgs[0],
			    IT_VPC ": no subnet of this VPC in the input (aws ec2 "
				   "describe-subnets): subnets.yaml is empty and "
				   "view.yaml lists no clients");
	notes_free(&nt);
	vd_import_free(im);

	im = vd_import_new();
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json",
		it_json("{'NetworkInterfaces':[{'NetworkInterfaceId':'eni-0aaa',"
			"'VpcId':'vpc-0other','PrivateIpAddress':'10.9.9.9'}]}"),
		NULL);
	assert_int_equal(vd_import_build(im, "out", collect, &nt, &e), VD_EMALF);
	assert_int_equal(nt.n, 0);
	assert_int_equal(e.count, 2);
	assert_string_equal(e.msgs[0],
			    "vpcdns-import: eni-0aaa of " EC2 " is in vpc-0other, "
			    "not in " IT_VPC);
	assert_string_equal(e.msgs[1],
			    "vpcdns-import: " EC2 " lists network interface eni-0bbb, "
			    "which is not in the input (add the output of aws ec2 "
			    "describe-network-interfaces)");
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_vpc_selection(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;
	size_t n;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_import_add_vpc(im, "vpc-0nothere"), 0);
	assert_int_equal(vd_import_add_vpc(im, "vpc-0nothere"), 0);
	assert_int_equal(build_ec2(im, in_order, "", false, NULL, &e), VD_EMALF);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0],
			    "vpcdns-import: --vpc vpc-0nothere: no endpoint or subnet "
			    "of this VPC in the input");
	vd_errlist_deinit(&e);
	vd_import_free(im);

	/* A VPC known only by its subnets: subnets and a view, no zones. */
	im = vd_import_new();
	assert_int_equal(vd_import_add_vpc(im, IT_VPC), 0);
	it_load(im, "subnets.json", subnets_doc(), NULL);
	assert_int_equal(vd_import_build(im, "/srv/imp/", NULL, NULL, &e), 0);
	vd_import_files(im, &n);
	assert_int_equal(n, 4);
	assert_string_equal(
		it_file(im, IT_VPC "/view.yaml"),
		"# View for " IT_VPC
		" (generated by vpcdns-import; do not edit). Read it with\n"
		"# view_files:, or paste it under views: in vpcdns.yaml.\n"
		"# No available interface endpoint in this VPC: no zones.\n"
		"- name: " IT_VPC "\n"
		"  vpc_id: " IT_VPC "\n"
		"  region: us-east-1   # from the Availability Zone name\n"
		"  # The subnets' CIDRs (no describe-vpcs output): a subnet created\n"
		"  # later gets REFUSED until the next import.\n"
		"  clients: [\"10.20.1.0/24\", \"10.20.2.0/24\", \"2600:1f18::/64\"]\n"
		"  subnets: \"/srv/imp.v1/" IT_VPC "/subnets.yaml\"\n"
		"  # No forward rules: give them with view_files defaults (or add\n"
		"  # them when pasting), else other names get REFUSED.\n");
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_yaml_quoting(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	assert_int_equal(vd_import_build(im, "we\"ird\\dir", NULL, NULL, &e), 0);
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  zones: [\"we\\\"ird\\\\dir.v1/" ZDIR "\"]\n"));
	assert_true(it_has_line(
		im, IT_VPC "/view.yaml",
		"  clients: []   # no subnet in the input: list the VPC's CIDRs\n"));
	assert_true(it_has_line(im, IT_VPC "/subnets.yaml", "subnets: []\n"));
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

/* ---- writing ---------------------------------------------------------------------- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/vd-import-unit-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *path)
{
	char *cmd;

	/* Only our own mkdtemp directories. */
	assert_true(strncmp(path, "/tmp/vd-import-unit-", 20) == 0);
	assert_true(asprintf(&cmd, "rm -rf '%s'", path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static char *slurp(const char *dir, const char *rel)
{
	char path[1024], *buf;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static void touch(const char *dir, const char *rel)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("; old\n", fp);
	fclose(fp);
}

/* describe-vpcs: the view's clients are the VPC's associated blocks (not
 * its subnets), every VPC gets a view, and the view carries vpc_id,
 * account_id and the region given with the source. An OwnerId that is not
 * twelve digits gives no account_id. */
static void test_describe_vpcs(void **state)
{
	vd_import_t *im = vd_import_new();
	notes_t nt = { 0 };
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_import_set_origin(im, "prod/us-east-1", "us-east-1"), 0);
	assert_int_equal(vd_import_set_origin(im, "has space", NULL), VD_EMALF);
	assert_int_equal(vd_import_set_origin(im, "-", NULL), VD_EMALF);
	assert_int_equal(vd_import_set_origin(im, NULL, "us east"), VD_EMALF);
	assert_int_equal(vd_import_set_origin(im, "prod/us-east-1", "us-east-1"), 0);
	it_load(im, "vpcs.json",
		it_json("{'Vpcs':[{'CidrBlock':'10.20.0.0/16','OwnerId':'111122223333',"
			"'VpcId':'" IT_VPC "','State':'available',"
			"'CidrBlockAssociationSet':["
			"{'CidrBlock':'10.20.0.0/"
			"16','CidrBlockState':{'State':'associated'}},"
			"{'CidrBlock':'100.64.0.0/"
			"20','CidrBlockState':{'State':'associated'}},"
			"{'CidrBlock':'10.99.0.0/"
			"16','CidrBlockState':{'State':'disassociated'}}],"
			"'Ipv6CidrBlockAssociationSet':["
			"{'Ipv6CidrBlock':'2600:1f18:4a3:5600::/56',"
			"'Ipv6CidrBlockState':{'State':'associated'}},"
			"{'Ipv6CidrBlock':'2600:1f18:ffff:ff00::/56',"
			"'Ipv6CidrBlockState':{'State':'disassociating'}}]},"
			"{'CidrBlock':'10.40.0.0/16','OwnerId':'4444555566667',"
			"'VpcId':'vpc-0empty','State':'available'}]}"),
		NULL);
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	it_load(im, "subnets.json", subnets_doc(), NULL);
	assert_int_equal(vd_import_build(im, "out", collect, &nt, &e), 0);
	/* The empty VPC has no subnet: one warning, no fallback. */
	assert_int_equal(nt.n, 1);
	assert_string_equal(nt.msgs[0],
			    "vpc-0empty: no subnet of this VPC in the input "
			    "(aws ec2 describe-subnets): subnets.yaml is "
			    "empty, so its clients get no Availability Zone");
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  clients: [\"10.20.0.0/16\", \"100.64.0.0/20\", "
				"\"2600:1f18:4a3:5600::/56\"]\n"));
	assert_true(it_has_line(im, IT_VPC "/view.yaml", "  vpc_id: " IT_VPC "\n"));
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  account_id: \"111122223333\"\n"));
	assert_true(it_has_line(im, IT_VPC "/view.yaml",
				"  region: us-east-1   # from --region\n"));
	assert_false(it_has_line(im, IT_VPC "/view.yaml", "  # The subnets' CIDRs"));
	assert_string_equal(
		it_file(im, "vpc-0empty/view.yaml"),
		"# View for vpc-0empty (generated by vpcdns-import; do not edit). Read "
		"it with\n# view_files:, or paste it under views: in vpcdns.yaml.\n"
		"# No available interface endpoint in this VPC: no zones.\n"
		"- name: vpc-0empty\n  vpc_id: vpc-0empty\n"
		"  region: us-east-1   # from --region\n"
		"  clients: [\"10.40.0.0/16\"]\n"
		"  subnets: \"out.v1/vpc-0empty/subnets.yaml\"\n"
		"  # No forward rules: give them with view_files defaults (or add\n"
		"  # them when pasting), else other names get REFUSED.\n");
	/* views.yaml: both views; the manifest: each VPC with its source. */
	assert_int_equal(it_count_lines(im, "views.yaml", "- name: "), 2);
	assert_true(it_has_line(im, ".vpcdns-import.manifest",
				"vpc " IT_VPC " prod/us-east-1\n"));
	assert_true(it_has_line(im, ".vpcdns-import.manifest",
				"file vpc-0empty/view.yaml\n"));
	assert_true(it_has_line(im, ".vpcdns-import.manifest", "viewdir out.v1\n"));
	notes_free(&nt);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

/* One import of the ec2 inventory into out; returns write's status. Only
 * the write's notes are collected. */
static int import_ec2(const char *out, notes_t *nt, vd_errlist_t *e)
{
	vd_import_t *im = vd_import_new();
	int rc;

	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	rc = vd_import_build(im, out, NULL, NULL, e);
	if (rc == 0)
		rc = vd_import_write(im, nt ? collect : NULL, nt, e);
	vd_import_free(im);
	return rc;
}

static void test_write(void **state)
{
	char *root = tmpdir(), out[512], path[700], link[64], *got;
	const vd_import_file_t *f;
	vd_import_t *im = vd_import_new();
	notes_t nt = { 0 };
	vd_errlist_t e;
	ssize_t len;
	size_t n;

	(void)state;
	vd_errlist_init(&e);
	snprintf(out, sizeof(out), "%s/a/b", root);
	it_load(im, "endpoints.json", ec2_doc(in_order, ""), NULL);
	it_load(im, "enis.json", enis_doc(false), NULL);
	assert_int_equal(vd_import_build(im, out, NULL, NULL, &e), 0);
	snprintf(path, sizeof(path), "%s.v1", out);
	assert_string_equal(vd_import_version_dir(im), path);
	assert_int_equal(vd_import_write(im, collect, &nt, &e), 0);
	assert_int_equal(e.count, 0);
	/* out is a link to b.v1, which holds every rendered file. */
	len = readlink(out, link, sizeof(link) - 1);
	assert_true(len > 0);
	link[len] = '\0';
	assert_string_equal(link, "b.v1");
	f = vd_import_files(im, &n);
	for (size_t i = 0; i < n; i++) {
		got = slurp(out, f[i].path);
		assert_non_null(got);
		assert_string_equal(got, f[i].data);
		free(got);
	}
	vd_import_free(im);
	/* A file of someone else's in version 1: versions 2 and 3 keep it.
	 * Version 1 goes after version 3 (the previous one stays), but not
	 * the foreign file or its folders. */
	snprintf(path, sizeof(path), "%s.v1/" IT_VPC "/zones", out);
	touch(path, "notes.txt");
	assert_int_equal(import_ec2(out, &nt, &e), 0);
	assert_int_equal(nt.n, 0);
	snprintf(path, sizeof(path), "%s.v1/.vpcdns-import.manifest", out);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(import_ec2(out, &nt, &e), 0);
	assert_int_equal(nt.n, 1);
	assert_non_null(strstr(nt.msgs[0], "/a/b.v1: old version kept: it holds "
					   "files vpcdns-import did not write"));
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s.v1/" IT_VPC "/zones/notes.txt", out);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s.v1/" IT_VPC "/view.yaml", out);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s.v2/views.yaml", out);
	assert_int_equal(access(path, F_OK), 0);
	len = readlink(out, link, sizeof(link) - 1);
	link[len] = '\0';
	assert_string_equal(link, "b.v3");
	notes_free(&nt);

	/* A failed write leaves the link and the versions as they were. */
	snprintf(link, sizeof(link), "b.new-%ld", (long)getpid());
	snprintf(path, sizeof(path), "%s/a", root);
	touch(path, link);
	assert_int_not_equal(import_ec2(out, NULL, &e), 0);
	assert_int_equal(e.count, 1);
	assert_non_null(strstr(e.msgs[0], "cannot create directory"));
	len = readlink(out, link, sizeof(link) - 1);
	link[len] = '\0';
	assert_string_equal(link, "b.v3");
	snprintf(path, sizeof(path), "%s.v4", out);
	assert_int_equal(access(path, F_OK), -1);
	vd_errlist_deinit(&e);

	/* The output path exists and is not a link of ours: a build error. */
	vd_errlist_init(&e);
	snprintf(out, sizeof(out), "%s/file", root);
	touch(root, "file");
	assert_int_equal(import_ec2(out, NULL, &e), VD_EMALF);
	assert_int_equal(e.count, 1);
	assert_non_null(strstr(e.msgs[0], "/file: exists and is not the symbolic "
					  "link vpcdns-import maintains"));
	vd_errlist_deinit(&e);
	rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_private_dns_off),
		cmocka_unit_test(test_private_dns_names_field),
		cmocka_unit_test(test_iptypes),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_inconsistent),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_vpc_selection),
		cmocka_unit_test(test_yaml_quoting),
		cmocka_unit_test(test_describe_vpcs),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
