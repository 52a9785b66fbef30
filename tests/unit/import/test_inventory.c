/*
 * Unit tests of reading AWS CLI JSON: each kind of problem produces one
 * message naming the file and the JSON path of the offending value (wrong
 * type, missing field, malformed ID, address or CIDR, unknown option
 * value), malformed JSON gives "file:line:column", documents are
 * recognised by their top-level keys, unread fields are not checked, and
 * pages are merged: an ID seen twice identically counts once, differently
 * it is an error naming both places.
 */
#include "import_test.h"

#include <unistd.h>

static void test_invalid_args(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;
	size_t n = 7;

	(void)state;
	assert_non_null(im);
	vd_errlist_init(&e);
	vd_import_free(NULL);
	assert_int_equal(vd_import_load_buffer(NULL, "f", "{}", 2, &e), -EINVAL);
	assert_int_equal(vd_import_load_buffer(im, NULL, "{}", 2, &e), -EINVAL);
	assert_int_equal(vd_import_load_buffer(im, "f", NULL, 2, &e), -EINVAL);
	assert_int_equal(vd_import_load_buffer(im, "f", "{}", 2, NULL), -EINVAL);
	assert_int_equal(vd_import_load_file(NULL, "f", &e), -EINVAL);
	assert_int_equal(vd_import_load_file(im, NULL, &e), -EINVAL);
	assert_int_equal(vd_import_add_vpc(NULL, "vpc-1"), -EINVAL);
	assert_int_equal(vd_import_add_vpc(im, NULL), -EINVAL);
	assert_int_equal(vd_import_add_vpc(im, "vpc-../../etc"), VD_EMALF);
	assert_int_equal(vd_import_add_vpc(im, "vpc-"), VD_EMALF);
	assert_int_equal(vd_import_add_vpc(im, "subnet-1"), VD_EMALF);
	assert_int_equal(vd_import_build(NULL, "out", NULL, NULL, &e), -EINVAL);
	assert_int_equal(vd_import_build(im, NULL, NULL, NULL, &e), -EINVAL);
	assert_int_equal(vd_import_build(im, "", NULL, NULL, &e), -EINVAL);
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, NULL), -EINVAL);
	assert_int_equal(vd_import_write(NULL, NULL, NULL, &e), -EINVAL);
	/* Not built yet: nothing to write. */
	assert_int_equal(vd_import_write(im, NULL, NULL, &e), -EINVAL);
	assert_null(vd_import_files(NULL, &n));
	assert_int_equal(n, 0);
	n = 7;
	assert_null(vd_import_files(im, &n));
	assert_int_equal(n, 0);
	assert_null(vd_import_summaries(im, &n));
	assert_null(vd_import_summaries(NULL, NULL));
	assert_int_equal(e.count, 0);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_malformed_json(void **state)
{
	vd_import_t *im = vd_import_new();

	(void)state;
	it_load(im, "a.json",
		strdup("{\n  \"VpcEndpoints\": [\n    {\"VpcId\" \"vpc-1\"}\n  ]\n}"),
		"a.json:3:20: ':' expected near '\"vpc-1\"'");
	it_load(im, "b.json", strdup(""),
		"b.json:1:0: '[' or '{' expected near end of file");
	it_load(im, "c.json", strdup("{\"Subnets\": []} trailing"),
		"c.json:1:24: end of file expected near 'trailing'");
	/* A key twice in one object is ambiguous: which one would AWS mean? */
	it_load(im, "d.json", strdup("{\"Subnets\": [], \"Subnets\": []}"),
		"d.json:1:25: duplicate object key near '\"Subnets\"'");
	vd_import_free(im);
}

static void test_encodings(void **state)
{
	static const char bom[] = "\xef\xbb\xbf{\"Subnets\": []}";
	static const char utf16[] = "\xff\xfe{\0\"\0";
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	it_load(im, "bom.json", strdup(bom), NULL);
	vd_errlist_init(&e);
	assert_int_equal(vd_import_load_buffer(im, "u16.json", utf16, sizeof(utf16) - 1,
					       &e),
			 VD_EMALF);
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0],
			    "u16.json: UTF-16 text; save the AWS CLI output as UTF-8 "
			    "(PowerShell: | Out-File -Encoding utf8)");
	/* A directory opens but cannot be read. */
	assert_int_equal(vd_import_load_file(im, "/", &e), -EISDIR);
	assert_int_equal(e.count, 2);
	assert_string_equal(e.msgs[1], "/: cannot read: Is a directory");
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

static void test_document_kinds(void **state)
{
	vd_import_t *im = vd_import_new();

	(void)state;
	it_load(im, "a.json", strdup("[]"), "a.json: $: expected object");
	it_load(im, "b.json", strdup("{\"ServiceDetails\": []}"),
		"b.json: not an output of aws ec2 describe-vpc-endpoints, "
		"describe-network-interfaces, describe-subnets or describe-vpcs (no "
		"VpcEndpoints, VpcEndpoint, NetworkInterfaces, Subnets or Vpcs key)");
	it_load(im, "c.json", strdup("{\"VpcEndpoints\": {}}"),
		"c.json: $.VpcEndpoints: expected array");
	it_load(im, "d.json", strdup("{\"VpcEndpoint\": []}"),
		"d.json: $.VpcEndpoint: expected object");
	it_load(im, "e.json", strdup("{\"Subnets\": [3]}"),
		"e.json: $.Subnets[0]: expected object");
	/* Empty pages and NextToken are fine. */
	it_load(im, "f.json", strdup("{\"VpcEndpoints\": [], \"NextToken\": \"abc\"}"),
		NULL);
	it_load(im, "g.json", strdup("{\"NetworkInterfaces\": [], \"Subnets\": []}"),
		NULL);
	vd_import_free(im);
}

/* One endpoint whose member key is replaced by value. */
static char *ep_with(const char *key, const char *value)
{
	char *ep = it_endpoint("vpce-0aaa", "ec2", "'eni-0a'", "", "");
	char *doc, *k, *end;
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	k = strstr(ep, pat);
	assert_non_null(k);
	k += strlen(pat);
	end = k;
	/* Skip the old value: a string, an array or a bare word. */
	if (*end == '"')
		end = strchr(end + 1, '"') + 1;
	else if (*end == '[')
		end = strchr(end, ']') + 1;
	else
		end += strcspn(end, ",}");
	doc = it_json(
		"{'VpcEndpoints':[{'VpcEndpointId':'vpce-0zzz','VpcEndpointType':'"
		"Gateway',"
		"'VpcId':'vpc-1','ServiceName':'s','State':'available'},%.*s%s%s]}",
		(int)(k - ep), ep, value, end);
	free(ep);
	return doc;
}

static void bad_ep(const char *key, const char *value, const char *want)
{
	vd_import_t *im = vd_import_new();

	it_load(im, "e.json", ep_with(key, value), want);
	vd_import_free(im);
}

static void test_endpoint_types(void **state)
{
	(void)state;
	bad_ep("VpcEndpointId", "7",
	       "e.json: $.VpcEndpoints[1].VpcEndpointId: expected string");
	bad_ep("VpcEndpointId", "'eni-0a'",
	       "e.json: $.VpcEndpoints[1].VpcEndpointId: 'eni-0a' is not a vpce-… ID");
	bad_ep("VpcId", "'vpc-../x'",
	       "e.json: $.VpcEndpoints[1].VpcId: 'vpc-../x' is not a vpc-… ID");
	bad_ep("VpcId", "null", "e.json: $.VpcEndpoints[1].VpcId: expected string");
	bad_ep("State", "[]", "e.json: $.VpcEndpoints[1].State: expected string");
	bad_ep("PrivateDnsEnabled", "'true'",
	       "e.json: $.VpcEndpoints[1].PrivateDnsEnabled: expected boolean");
	bad_ep("NetworkInterfaceIds", "'eni-0a'",
	       "e.json: $.VpcEndpoints[1].NetworkInterfaceIds: expected array");
	bad_ep("NetworkInterfaceIds", "['eni-0a',{}]",
	       "e.json: $.VpcEndpoints[1].NetworkInterfaceIds[1]: expected string");
	bad_ep("NetworkInterfaceIds", "['eni-0a','i-0123']",
	       "e.json: $.VpcEndpoints[1].NetworkInterfaceIds[1]: 'i-0123' is not a "
	       "eni-… ID");
	bad_ep("DnsEntries",
	       "[{'DnsName':'ec2.us-east-1.amazonaws.com'},{'DnsName':5}]",
	       "e.json: $.VpcEndpoints[1].DnsEntries[1].DnsName: expected string");
	bad_ep("DnsEntries", "[{'HostedZoneId':'Z1'}]",
	       "e.json: $.VpcEndpoints[1].DnsEntries[0].DnsName: missing");
	bad_ep("DnsEntries", "['ec2.us-east-1.amazonaws.com']",
	       "e.json: $.VpcEndpoints[1].DnsEntries[0]: expected object");
	bad_ep("DnsEntries", "[{'DnsName':'bad name.example.com'}]",
	       "e.json: $.VpcEndpoints[1].DnsEntries[0].DnsName: 'bad "
	       "name.example.com': "
	       "not a host name");
	bad_ep("DnsEntries",
	       "[{'DnsName':'vpce-0bbb-x.ec2.us-east-1.vpce.amazonaws.com'}]",
	       "e.json: $.VpcEndpoints[1].DnsEntries[0].DnsName: "
	       "'vpce-0bbb-x.ec2.us-east-1.vpce.amazonaws.com': not a name of this "
	       "endpoint");
	bad_ep("CreationTimestamp",
	       "'2021-03-05T14:46:16.030000+00:00', 'DnsOptions': "
	       "{'DnsRecordIpType': 'ipv5'}",
	       "e.json: $.VpcEndpoints[1].DnsOptions.DnsRecordIpType: unknown value "
	       "'ipv5' "
	       "(expected ipv4, ipv6, dualstack or service-defined)");
	bad_ep("CreationTimestamp", "0, 'DnsOptions': []",
	       "e.json: $.VpcEndpoints[1].DnsOptions: expected object");
	bad_ep("CreationTimestamp",
	       "0, 'DnsOptions': {'PrivateDnsOnlyForInboundResolverEndpoint': 1}",
	       "e.json: "
	       "$.VpcEndpoints[1].DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint: "
	       "expected boolean");
	bad_ep("CreationTimestamp",
	       "0, 'PrivateDnsNames': [{'PrivateDnsName': "
	       "'vpce-0aaa-x.ec2.us-east-1.vpce.amazonaws.com'}]",
	       "e.json: $.VpcEndpoints[1].PrivateDnsNames[0].PrivateDnsName: "
	       "'vpce-0aaa-x.ec2.us-east-1.vpce.amazonaws.com': a vpce name is not a "
	       "private DNS name");
	bad_ep("CreationTimestamp", "0, 'PrivateDnsName': true",
	       "e.json: $.VpcEndpoints[1].PrivateDnsName: expected string");
}

static void test_missing_fields(void **state)
{
	vd_import_t *im = vd_import_new();

	(void)state;
	it_load(im, "m.json",
		it_json("{'VpcEndpoints':[{'VpcEndpointId':'vpce-0a','VpcId':'vpc-1',"
			"'State':'available'}]}"),
		"m.json: $.VpcEndpoints[0].VpcEndpointType: missing");
	it_load(im, "n.json",
		it_json("{'NetworkInterfaces':[{'PrivateIpAddress':'10.0.0.1'}]}"),
		"n.json: $.NetworkInterfaces[0].NetworkInterfaceId: missing");
	it_load(im, "s.json",
		it_json("{'Subnets':[{'SubnetId':'subnet-1','CidrBlock':'10.0.0.0/"
			"24'}]}"),
		"s.json: $.Subnets[0].VpcId: missing");
	/* Optional fields may be absent, fields unread are not checked, and
	 * timestamps in any of AWS's forms are fine. */
	it_load(im, "ok.json",
		it_json("{'VpcEndpoints':[{'VpcEndpointId':'vpce-0a',"
			"'VpcEndpointType':'GatewayLoadBalancer','VpcId':'vpc-1',"
			"'State':'pending','Tags':7,'CreationTimestamp':"
			"'2020-11-11T08:06:03.522Z'}]}"),
		NULL);
	it_load(im, "ok2.json",
		it_json("{'VpcEndpoints':[{'VpcEndpointId':'vpce-0b',"
			"'VpcEndpointType':'ServiceNetwork','VpcId':'vpc-1',"
			"'State':'available','CreationTimestamp':"
			"'2024-12-01T10:05:00+00:00','DnsEntries':[{'DnsName':"
			"'vpce-0b-snra-0a.sn-0a.4232ccc.vpc-lattice-svcs.us-east-1.on."
			"aws'}]}]}"),
		NULL);
	vd_import_free(im);
}

static void test_eni_and_subnet_values(void **state)
{
	vd_import_t *im = vd_import_new();

	(void)state;
	it_load(im, "n.json",
		it_json("{'NetworkInterfaces':[{'NetworkInterfaceId':'eni-0a',"
			"'PrivateIpAddress':'10.0.0.256'}]}"),
		"n.json: $.NetworkInterfaces[0].PrivateIpAddress: '10.0.0.256' is not "
		"an IPv4 address");
	it_load(im, "n.json",
		it_json("{'NetworkInterfaces':[{'NetworkInterfaceId':'eni-0a',"
			"'Ipv6Addresses':[{'Ipv6Address':'10.0.0.1'}]}]}"),
		"n.json: $.NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address: "
		"'10.0.0.1' is not "
		"an IPv6 address");
	it_load(im, "n.json",
		it_json("{'NetworkInterfaces':[{'NetworkInterfaceId':'eni-0a',"
			"'AvailabilityZone':'us-east-1a\\n'}]}"),
		"n.json: $.NetworkInterfaces[0].AvailabilityZone: 'us-east-1a?' is not "
		"an "
		"Availability Zone");
	it_load(im, "s.json",
		it_json("{'Subnets':[{'SubnetId':'subnet-1','VpcId':'vpc-1',"
			"'CidrBlock':'10.0.0.1/24'}]}"),
		"s.json: $.Subnets[0].CidrBlock: '10.0.0.1/24' is not an IPv4 CIDR");
	it_load(im, "s.json",
		it_json("{'Subnets':[{'SubnetId':'subnet-1','VpcId':'vpc-1',"
			"'CidrBlock':'2001:db8::/64'}]}"),
		"s.json: $.Subnets[0].CidrBlock: '2001:db8::/64' is not an IPv4 CIDR");
	it_load(im, "s.json",
		it_json("{'Subnets':[{'SubnetId':'subnet-1','VpcId':'vpc-1',"
			"'Ipv6CidrBlockAssociationSet':[{'Ipv6CidrBlockState':"
			"{'State':'associated'}}]}]}"),
		"s.json: $.Subnets[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock: "
		"missing");
	/* A disassociated IPv6 block is left out, not checked further. */
	it_load(im, "s.json",
		it_json("{'Subnets':[{'SubnetId':'subnet-1','VpcId':'vpc-1',"
			"'Ipv6CidrBlockAssociationSet':[{'Ipv6CidrBlock':'x',"
			"'Ipv6CidrBlockState':{'State':'disassociated'}}]}]}"),
		NULL);
	vd_import_free(im);
}

static void test_many_errors_reported(void **state)
{
	vd_import_t *im = vd_import_new();
	char *doc = it_json(
		"{'VpcEndpoints':[{'VpcEndpointId':1,'VpcEndpointType':2,'VpcId':3,"
		"'State':4}],'Subnets':[{'SubnetId':'subnet-1','VpcId':5}]}");
	vd_errlist_t e;

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_import_load_buffer(im, "x.json", doc, strlen(doc), &e),
			 VD_EMALF);
	assert_int_equal(e.count, 5);
	assert_string_equal(e.msgs[0],
			    "x.json: $.VpcEndpoints[0].VpcEndpointId: expected string");
	assert_string_equal(e.msgs[3],
			    "x.json: $.VpcEndpoints[0].State: expected string");
	assert_string_equal(e.msgs[4], "x.json: $.Subnets[0].VpcId: expected string");
	vd_errlist_deinit(&e);
	free(doc);
	vd_import_free(im);
}

static char *page(const char *state_s)
{
	char *en = it_entry("vpce-0a-x.ec2.us-east-1.vpce.amazonaws.com");
	char *ep = it_endpoint("vpce-0a", "ec2", "", en, "");
	char *doc;

	if (state_s) {
		char *s = strstr(ep, "available");

		assert_non_null(s);
		doc = it_json("{'VpcEndpoints':[%.*s%s%s]}", (int)(s - ep), ep, state_s,
			      s + strlen("available"));
	} else {
		doc = it_json("{'VpcEndpoints':[%s],'NextToken':'t'}", ep);
	}
	free(en);
	free(ep);
	return doc;
}

static void test_pages_merged(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;

	(void)state;
	/* The same endpoint on two pages, identical: one endpoint. */
	it_load(im, "p1.json", page(NULL), NULL);
	it_load(im, "p2.json", page("available"), NULL);
	assert_int_equal(im->neps, 2);
	vd_errlist_init(&e);
	assert_int_equal(imp_inventory_finish(im, &e), 0);
	assert_int_equal(im->neps, 1);
	assert_non_null(imp_find_ep(im, "vpce-0a"));
	assert_null(imp_find_ep(im, "vpce-0b"));
	vd_errlist_deinit(&e);
	vd_import_free(im);

	/* Different: an error naming both places. */
	im = vd_import_new();
	it_load(im, "p1.json", page(NULL), NULL);
	it_load(im, "p2.json", page("pending"), NULL);
	vd_errlist_init(&e);
	assert_int_equal(vd_import_build(im, "out", NULL, NULL, &e), VD_EMALF);
	assert_int_equal(e.count, 1);
	assert_string_equal(
		e.msgs[0],
		"vpcdns-import: vpce-0a appears twice with different "
		"contents (p1.json: $.VpcEndpoints[0] and p2.json: $.VpcEndpoints[0])");
	vd_errlist_deinit(&e);
	assert_null(vd_import_files(im, NULL));
	vd_import_free(im);
}

static void test_files(void **state)
{
	vd_import_t *im = vd_import_new();
	vd_errlist_t e;
	char path[512];

	(void)state;
	vd_errlist_init(&e);
	assert_int_equal(vd_import_load_file(im, "/nonexistent/x.json", &e), -ENOENT);
	assert_int_equal(e.count, 1);
	assert_string_equal(
		e.msgs[0],
		"/nonexistent/x.json: cannot open: No such file or directory");
	snprintf(path, sizeof(path), "%s/tests/import/fixtures/stdin/inventory.json",
		 VD_SOURCE_DIR);
	assert_int_equal(vd_import_load_file(im, path, &e), 0);
	/* stdin once only. */
	assert_non_null(freopen(path, "r", stdin));
	assert_int_equal(vd_import_load_file(im, "-", &e), 0);
	assert_int_equal(vd_import_load_file(im, "-", &e), VD_EMALF);
	assert_int_equal(e.count, 2);
	assert_string_equal(e.msgs[1],
			    "vpcdns-import: standard input ('-') given twice");
	assert_int_equal(im->neps, 2);
	assert_int_equal(im->nenis, 4);
	assert_int_equal(im->nsubnets, 6);
	assert_int_equal(imp_inventory_finish(im, &e), 0);
	assert_int_equal(im->neps, 1);
	assert_int_equal(im->nenis, 2);
	assert_int_equal(im->nsubnets, 3);
	vd_errlist_deinit(&e);
	vd_import_free(im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_document_kinds),
		cmocka_unit_test(test_endpoint_types),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_eni_and_subnet_values),
		cmocka_unit_test(test_many_errors_reported),
		cmocka_unit_test(test_pages_merged),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
