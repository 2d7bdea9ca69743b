/* Unit tests for broker/broker_tenant.c: the tenant configuration file (a
 * typo must be an error at start, never a silent default) and the mapping of
 * peer credentials to tenants. No KVM, no broker process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"

static char conf_path[] = "/tmp/test_broker_tenant.XXXXXX";

static int load(struct tenants *ts, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return broker_tenant_config_load(ts, conf_path, err, errlen);
}

static void test_missing_file_is_root_only(void **state)
{
	struct tenants ts;
	char err[256];

	assert_int_equal(
		broker_tenant_config_load(&ts, "/nonexistent/broker.conf", err, sizeof(err)), 0);
	assert_int_equal(ts.n, 1);
	assert_true(broker_tenant_for_peer(&ts, 0, 0, NULL, 0)->admin);
	assert_null(broker_tenant_for_peer(&ts, 1000, 1000, NULL, 0));
}

static void test_valid(void **state)
{
	struct tenants ts;
	char err[256] = "";
	struct tenant *a, *b;
	gid_t groups[] = {5000, 2001};

	assert_int_equal(load(&ts,
			      "# comment\n\n[tenant alice]\n uid = 1001 \nmax_vms=4\nmax_cpus = 8\n"
			      "max_memory = 8G\nimage_dir = /srv/alice\n"
			      "[tenant bob]\ngid = 2001\nuid = 1002\n",
			      err, sizeof(err)),
			 0);
	a = broker_tenant_by_name(&ts, "alice");
	b = broker_tenant_by_name(&ts, "bob");
	assert_non_null(a);
	assert_non_null(b);
	assert_false(a->admin);
	assert_int_equal(a->quota.max_vms, 4);
	assert_int_equal(a->quota.max_cpus, 8);
	assert_true(a->quota.max_memory == (8ULL << 30));
	assert_string_equal(a->image_dir, "/srv/alice/");
	/* defaults for what is not given */
	assert_int_equal(b->quota.max_vms, 16);
	assert_string_equal(b->image_dir, "");
	/* uid entries win over gid entries; gids match supplementary groups */
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1001, 2001, NULL, 0), a);
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1500, 2001, NULL, 0), b);
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1500, 1500, groups, 2), b);
	assert_null(broker_tenant_for_peer(&ts, 1500, 1500, groups, 1));
	assert_true(broker_tenant_for_peer(&ts, 0, 2001, NULL, 0)->admin);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"uid = 5\n",				 /* key before any section */
		"[tenant a]\nbogus = 1\n",		 /* unknown key */
		"[tenant a]\nmax_vms = many\n",		 /* bad number */
		"[tenant a]\nmax_vms = 100000\n",	 /* over the registry size */
		"[tenant a]\nmax_memory = 12Q\n",	 /* bad size */
		"[tenant a]\nuid = -1\n",		 /* negative id */
		"[tenant a]\nuid = 4294967295\n",	 /* (uid_t)-1 */
		"[tenant a]\nimage_dir = srv/a\n",	 /* relative */
		"[tenant a]\nimage_dir = /srv/../etc\n", /* .. */
		"[tenant a]\n[tenant a]\n",		 /* repeated */
		"[tenant root]\n",			 /* the administrator's name */
		"[tenant a b]\n",			 /* bad name */
		"[tenant ]\n",				 /* empty name */
		"[tenant a]\njust words\n",		 /* not key = value */
		"[tenant a\n",				 /* unclosed section */
		"[tenant a]\ntaps = *\n",		 /* every tap */
		"[tenant a]\ntaps = a*b\n",		 /* '*' inside */
		"[tenant a]\ntaps = tap%d\n",		 /* not an interface name */
		"[tenant a]\ntaps = 0123456789abcdef\n", /* IFNAMSIZ */
	};
	struct tenants ts;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (load(&ts, bad[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", bad[i]);
		if (!strstr(err, ":"))
			fail_msg("no line number in '%s' for: %s", err, bad[i]);
	}
}

/* taps: names and prefixes; the administrator any; tenants never share one. */
static void test_taps(void **state)
{
	static const char *const overlap[] = {
		"[tenant a]\ntaps = x*\n[tenant b]\ntaps = xy0\n",
		"[tenant a]\ntaps = q0 q1\n[tenant b]\ntaps = q2,q1\n",
		"[tenant a]\ntaps = ab*\n[tenant b]\ntaps = a*\n",
		"[tenant a]\ntaps = a*\n[tenant b]\ntaps = a*\n",
	};
	struct tenants ts;
	struct tenant *a, *b;
	char err[256] = "";

	assert_int_equal(load(&ts,
			      "[tenant a]\ntaps = ta-*  a0,\tfoo.1\n[tenant b]\ntaps = tb0\n"
			      "[tenant c]\nuid = 5\n",
			      err, sizeof(err)),
			 0);
	a = broker_tenant_by_name(&ts, "a");
	b = broker_tenant_by_name(&ts, "b");
	assert_true(broker_tenant_tap_allowed(a, "ta-0"));
	assert_true(broker_tenant_tap_allowed(a, "ta-"));
	assert_true(broker_tenant_tap_allowed(a, "a0"));
	assert_true(broker_tenant_tap_allowed(a, "foo.1"));
	assert_false(broker_tenant_tap_allowed(a, "ta"));
	assert_false(broker_tenant_tap_allowed(a, "a01"));
	assert_false(broker_tenant_tap_allowed(a, "a"));
	assert_false(broker_tenant_tap_allowed(a, "tb0"));
	assert_false(broker_tenant_tap_allowed(a, ""));
	assert_true(broker_tenant_tap_allowed(b, "tb0"));
	assert_false(broker_tenant_tap_allowed(b, "tb00"));
	assert_false(broker_tenant_tap_allowed(broker_tenant_by_name(&ts, "c"), "tb0"));
	assert_true(broker_tenant_tap_allowed(&ts.t[ts.admin], "anything"));
	for (size_t i = 0; i < sizeof(overlap) / sizeof(overlap[0]); i++) {
		err[0] = 0;
		if (load(&ts, overlap[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", overlap[i]);
		if (!strstr(err, "overlap"))
			fail_msg("'%s' for: %s", err, overlap[i]);
	}
	/* Prefixes that do not meet. */
	assert_int_equal(
		load(&ts, "[tenant a]\ntaps = ab*\n[tenant b]\ntaps = ac* a\n", err, sizeof(err)),
		0);
}

static void test_too_many_tenants(void **state)
{
	char text[8192] = "";
	struct tenants ts;
	char err[256];

	for (int i = 0; i < BROKER_TENANT_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "[tenant t%d]\n", i);
	assert_true(load(&ts, text, err, sizeof(err)) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_file_is_root_only),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_tenants),
		cmocka_unit_test(test_taps),
	};
	int fd = mkstemp(conf_path), r;

	if (fd < 0)
		return 1;
	close(fd);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf_path);
	return r;
}
