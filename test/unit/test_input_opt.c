/* Unit tests for launcher/input_opt.c and the input_config of
 * broker/broker_vmdef.c: --input, --usb-device and a definition's usb_*_config
 * are user input, so every hostile value gets a clear refusal; the links
 * input_opt_open makes and the core entries launcher_dev.c builds from them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "launcher/input_opt.h"
#include "launcher/launcher_dev.h"
#include "proto/input_event.h"

static void check_err_printable(const char *s, const char *err)
{
	if (!*err)
		fail_msg("'%s': refused without a message", s);
	for (const char *c = err; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			fail_msg("'%s': message has byte %#x: %s", s, (unsigned char)*c, err);
}

/* ---- --input ---- */

static void test_input_usb(void **state)
{
	struct input_opt o;
	char err[256] = "";

	(void)state;
	assert_int_equal(input_opt_parse("usb", &o, err, sizeof(err)), 0);
	assert_true(o.usb && !o.ps2 && !o.virtio);
	assert_int_equal(o.default_backend, CELLVM_INPUT_BACKEND_USB);
	assert_int_equal(input_opt_parse("ps2,virtio,usb,default=usb", &o, err, sizeof(err)), 0);
	assert_true(o.usb && o.ps2 && o.virtio);
	assert_int_equal(o.default_backend, CELLVM_INPUT_BACKEND_USB);
	assert_int_equal(input_opt_parse("ps2,usb", &o, err, sizeof(err)), 0);
	assert_int_equal(o.default_backend, CELLVM_INPUT_BACKEND_PS2);
	assert_int_equal(input_opt_parse("virtio,ps2", &o, err, sizeof(err)), 0);
	assert_false(o.usb);
	assert_int_equal(o.default_backend, CELLVM_INPUT_BACKEND_VIRTIO);
	assert_int_equal(o.xhci_fds[0], -1);
	assert_int_equal(o.xhci_fds[1], -1);
}

static void test_input_bad(void **state)
{
	static const char *const bad[] = {
		"",
		",",
		"usb,usb",
		"ps2,default=usb",
		"usb,default=ps2",
		"default=usb",
		"usb,default=",
		"usb,default=serial",
		"usb2",
		"USB",
		"usb ",
		"ps2,virtio,usb,ps2",
	};
	char long_s[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct input_opt o;
		char err[256] = "";

		if (input_opt_parse(bad[i], &o, err, sizeof(err)) != -EINVAL)
			fail_msg("--input '%s' accepted", bad[i]);
		check_err_printable(bad[i], err);
	}
	memset(long_s, 'u', sizeof(long_s) - 1);
	long_s[sizeof(long_s) - 1] = 0;
	{
		struct input_opt o;
		char err[256] = "";

		assert_int_equal(input_opt_parse(long_s, &o, err, sizeof(err)), -EINVAL);
	}
}

/* ---- --usb-device ---- */

static void test_usb_device_good(void **state)
{
	struct input_opt o;
	char err[256] = "";
	const struct input_opt_usb *k = &o.usb_ids[0], *m = &o.usb_ids[1], *t = &o.usb_ids[2];

	(void)state;
	input_opt_init(&o);
	assert_int_equal(input_opt_parse_usb("keyboard,vendor=0x046d,product=0xc31c,release=0x0110,"
					     "manufacturer=Logitech,name=USB Keyboard,serial=ABC,"
					     "interval=1",
					     &o, err, sizeof(err)),
			 0);
	assert_true(k->given);
	assert_int_equal(k->vendor, 0x046d);
	assert_int_equal(k->product, 0xc31c);
	assert_int_equal(k->release, 0x0110);
	assert_int_equal(k->interval_ms, 1);
	assert_string_equal(k->manufacturer, "Logitech");
	assert_string_equal(k->product_name, "USB Keyboard");
	assert_string_equal(k->serial, "ABC");
	/* Decimal, upper-case hex, the bounds; the other kinds untouched. */
	assert_int_equal(input_opt_parse_usb("mouse,vendor=65535,product=0XABCD,release=0,"
					     "interval=255",
					     &o, err, sizeof(err)),
			 0);
	assert_int_equal(m->vendor, 0xffff);
	assert_int_equal(m->product, 0xabcd);
	assert_int_equal(m->interval_ms, 255);
	assert_string_equal(m->manufacturer, "");
	assert_false(t->given);
	/* A kind alone: every default; printable punctuation is fine. */
	assert_int_equal(input_opt_parse_usb("tablet", &o, err, sizeof(err)), 0);
	assert_true(t->given);
	assert_int_equal(t->vendor, 0);
	assert_int_equal(t->interval_ms, 0);
	input_opt_init(&o);
	assert_int_equal(input_opt_parse_usb("tablet,name=~!@#$%^&*()_+ {}|:\"<>?`-=[]\\;'./", &o,
					     err, sizeof(err)),
			 0);
	assert_string_equal(t->product_name, "~!@#$%^&*()_+ {}|:\"<>?`-=[]\\;'./");
}

static void test_usb_device_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"keyboard,vendor=0x10000",
		"keyboard,vendor=65536",
		"keyboard,product=0x1ffff",
		"keyboard,release=99999999999999999999",
		"keyboard,interval=0",
		"keyboard,interval=256",
		"keyboard,interval=",
		"keyboard,vendor=",
		"keyboard,vendor=0x",
		"keyboard,vendor=-1",
		"keyboard,vendor=+1",
		"keyboard,vendor= 1",
		"keyboard,vendor=12ab",
		"keyboard,vendor=0xg",
		"joystick",
		"Keyboard",
		"keyboard,color=red",
		"keyboard,vendor",
		"keyboard,=1",
		"keyboard,name=\x01",
		"keyboard,serial=tab\there",
		"keyboard,manufacturer=caf\xc3\xa9",
		"keyboard,name=\x7f",
		"keyboard,serial=0123456789012345678901234567890123456789012345678901234567890123",
		"vendor=1",
	};
	char big[600];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct input_opt o;
		char err[256] = "";

		input_opt_init(&o);
		if (input_opt_parse_usb(bad[i], &o, err, sizeof(err)) != -EINVAL)
			fail_msg("--usb-device '%s' accepted", bad[i]);
		check_err_printable(bad[i], err);
		for (int k = 0; k < INPUT_OPT_USB_FNS; k++)
			assert_false(o.usb_ids[k].given);
	}
	/* 63 bytes is the most; a kind given twice; too long as a whole. */
	{
		struct input_opt o;
		char err[256] = "", s[128];

		input_opt_init(&o);
		snprintf(s, sizeof(s), "mouse,manufacturer=%063d", 7);
		assert_int_equal(input_opt_parse_usb(s, &o, err, sizeof(err)), 0);
		assert_int_equal(strlen(o.usb_ids[1].manufacturer), 63);
		assert_int_equal(input_opt_parse_usb("mouse", &o, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "twice"));
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		memcpy(big, "keyboard,name=", 14);
		assert_int_equal(input_opt_parse_usb(big, &o, err, sizeof(err)), -EINVAL);
		check_err_printable("big", err);
	}
}

/* ---- the links and the device's configuration ---- */

static void test_open_usb(void **state)
{
	struct input_opt o;
	char err[256] = "";
	int type = 0;
	socklen_t len = sizeof(type);

	(void)state;
	assert_int_equal(input_opt_parse("ps2,usb", &o, err, sizeof(err)), 0);
	assert_int_equal(input_opt_parse_usb("tablet,vendor=0x1234,interval=8,serial=S1", &o, err,
					     sizeof(err)),
			 0);
	assert_int_equal(input_opt_open(&o, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		assert_true(o.ps2_fds[i] >= 0 && o.xhci_fds[i] >= 0);
		assert_true(fcntl(o.xhci_fds[i], F_GETFD) & FD_CLOEXEC);
	}
	assert_int_equal(getsockopt(o.xhci_fds[0], SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(type, SOCK_SEQPACKET);
	assert_true(o.cfg.has_ps2 && o.cfg.has_usb);
	assert_int_equal(o.cfg.n_virtio, 0);
	assert_int_equal(o.cfg.n_usb, INPUT_OPT_USB_FNS);
	for (uint32_t k = 0; k < INPUT_OPT_USB_FNS; k++)
		assert_int_equal(o.cfg.usb[k]->kind, k);
	assert_int_equal(o.cfg.usb[2]->vendor, 0x1234);
	assert_int_equal(o.cfg.usb[2]->interval_ms, 8);
	assert_string_equal(o.cfg.usb[2]->serial, "S1");
	assert_string_equal(o.cfg.usb[0]->manufacturer, "");
	assert_int_equal(o.cfg.usb[0]->vendor, 0);
	/* The message packs: what the device is sent. */
	assert_true(cellvm__device__input_config__get_packed_size(&o.cfg) > 0);

	/* The core's entries: the input device's isa then xhci link, last. */
	{
		struct launcher_dev d = {.kind = LAUNCHER_DEV_INPUT, .input = &o};
		struct device_proc p = {.pid = 1, .pidfd = -1, .ctl = -1, .log = -1, .link = -1};
		struct device_proc out[4];
		const char *kinds[4], *transports[4];
		int n = launcher_dev_core_entries(&d, &p, 1, out, kinds, transports, 4);

		assert_int_equal(n, 2);
		assert_string_equal(kinds[0], "input");
		assert_string_equal(transports[0], "isa");
		assert_int_equal(out[0].link, o.ps2_fds[0]);
		assert_string_equal(kinds[1], "input");
		assert_string_equal(transports[1], "xhci");
		assert_int_equal(out[1].link, o.xhci_fds[0]);
		assert_int_equal(launcher_dev_core_entries(&d, &p, 1, out, kinds, transports, 1),
				 -E2BIG);
	}
	input_opt_close(&o);
	assert_int_equal(o.xhci_fds[0], -1);
	assert_int_equal(o.xhci_fds[1], -1);
	input_opt_close(&o);

	/* No usb: no xHCI link. */
	assert_int_equal(input_opt_parse("ps2", &o, err, sizeof(err)), 0);
	assert_int_equal(input_opt_open(&o, err, sizeof(err)), 0);
	assert_int_equal(o.xhci_fds[0], -1);
	assert_false(o.cfg.has_usb);
	assert_int_equal(o.cfg.n_usb, 0);
	input_opt_close(&o);
}

/* ---- a definition's input_config ---- */

/* A tenant whose image directory holds one file, "k" (made by main). */
static struct tenant vmdef_tenant = {.name = "t"};
static char vmdef_kernel[300];

/* Parse {"kernel": vmdef_kernel, "input_config": INPUT}. */
static int vmdef_parse(const char *input, struct broker_vmdef *d, char *err, size_t errlen)
{
	char s[2048];
	json_object *o;
	int r;

	snprintf(s, sizeof(s), "{\"kernel\": \"%s\", \"input_config\": %s}", vmdef_kernel, input);
	o = json_tokener_parse(s);
	if (!o)
		fail_msg("test JSON does not parse: %s", s);
	r = broker_vmdef_from_json(o, &vmdef_tenant, d, err, errlen);
	json_object_put(o);
	return r;
}

static void test_vmdef_usb_good(void **state)
{
	struct broker_vmdef d, d2;
	char err[512] = "";
	json_object *back, *again, *ic, *u;

	(void)state;
	if (vmdef_parse(
		    "{\"backends\": [\"ps2\", \"usb\"], \"default_backend\": \"usb\","
		    "\"usb_keyboard_config\": {\"vendor_id\": \"0x046d\", \"product_id\": 49948,"
		    "\"release\": \"0x0110\", \"manufacturer\": \"Logitech\","
		    "\"product\": \"USB Keyboard\", \"serial\": \"ABC\", \"interval_ms\": 10},"
		    "\"usb_tablet_config\": {}}",
		    &d, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	assert_true(d.has_input);
	assert_string_equal(d.input, "usb");
	assert_true(d.input_opt.usb && d.input_opt.ps2 && !d.input_opt.virtio);
	assert_int_equal(d.input_opt.usb_ids[0].vendor, 0x046d);
	assert_int_equal(d.input_opt.usb_ids[0].product, 49948);
	assert_int_equal(d.input_opt.usb_ids[0].release, 0x0110);
	assert_int_equal(d.input_opt.usb_ids[0].interval_ms, 10);
	assert_string_equal(d.input_opt.usb_ids[0].manufacturer, "Logitech");
	assert_string_equal(d.input_opt.usb_ids[0].product_name, "USB Keyboard");
	assert_string_equal(d.input_opt.usb_ids[0].serial, "ABC");
	assert_false(d.input_opt.usb_ids[1].given);

	/* Echoed back (GET /vm/{id}, the state directory) and parsed again. */
	back = broker_vmdef_to_json(&d);
	assert_true(json_object_object_get_ex(back, "input_config", &ic));
	assert_true(json_object_object_get_ex(ic, "usb_keyboard_config", &u));
	assert_false(json_object_object_get_ex(ic, "usb_mouse_config", NULL));
	assert_string_equal(json_object_to_json_string(u),
			    "{ \"vendor_id\": 1133, \"product_id\": 49948, \"release\": 272, "
			    "\"interval_ms\": 10, \"manufacturer\": \"Logitech\", \"product\": "
			    "\"USB Keyboard\", \"serial\": \"ABC\" }");
	assert_int_equal(broker_vmdef_from_json(back, &vmdef_tenant, &d2, err, sizeof(err)), 0);
	again = broker_vmdef_to_json(&d2);
	assert_string_equal(json_object_to_json_string(back), json_object_to_json_string(again));
	json_object_put(again);
	json_object_put(back);
	broker_vmdef_free(&d2);
	broker_vmdef_free(&d);

	/* usb alone: the default is usb. */
	assert_int_equal(vmdef_parse("{\"backends\": [\"usb\"]}", &d, err, sizeof(err)), 0);
	assert_string_equal(d.input, "usb");
	broker_vmdef_free(&d);
	/* No backends: ps2 and virtio, as before; and usb when it is named
	 * (the RPC's input_backend) or configured. */
	assert_int_equal(vmdef_parse("{}", &d, err, sizeof(err)), 0);
	assert_true(d.input_opt.ps2 && d.input_opt.virtio && !d.input_opt.usb);
	broker_vmdef_free(&d);
	assert_int_equal(vmdef_parse("{\"backend\": \"usb\"}", &d, err, sizeof(err)), 0);
	assert_true(d.input_opt.ps2 && d.input_opt.virtio && d.input_opt.usb);
	assert_string_equal(d.input, "usb");
	broker_vmdef_free(&d);
	assert_int_equal(
		vmdef_parse("{\"usb_mouse_config\": {\"interval_ms\": 4}}", &d, err, sizeof(err)),
		0);
	assert_true(d.input_opt.ps2 && d.input_opt.virtio && d.input_opt.usb);
	assert_string_equal(d.input, "ps2");
	broker_vmdef_free(&d);
}

static void test_vmdef_usb_bad(void **state)
{
	static const struct {
		const char *input, *says;
	} bad[] = {
		{"{\"backends\": [\"usb\"], \"usb_keyboard_config\": {\"vendor_id\": 65536}}",
		 "usb_keyboard_config.vendor_id"},
		{"{\"backends\": [\"usb\"], \"usb_keyboard_config\": {\"vendor_id\": \"0x10000\"}}",
		 "vendor_id"},
		{"{\"backends\": [\"usb\"], \"usb_keyboard_config\": {\"vendor_id\": -1}}",
		 "vendor_id"},
		{"{\"backends\": [\"usb\"], \"usb_keyboard_config\": {\"vendor_id\": 1.5}}",
		 "vendor_id"},
		{"{\"backends\": [\"usb\"], \"usb_keyboard_config\": {\"vendor_id\": true}}",
		 "vendor_id"},
		{"{\"backends\": [\"usb\"], \"usb_mouse_config\": {\"product_id\": 1e10}}",
		 "product_id"},
		{"{\"backends\": [\"usb\"], \"usb_mouse_config\": {\"release\": "
		 "99999999999999999999999}}",
		 "release"},
		{"{\"backends\": [\"usb\"], \"usb_mouse_config\": {\"interval_ms\": 0}}",
		 "interval_ms"},
		{"{\"backends\": [\"usb\"], \"usb_mouse_config\": {\"interval_ms\": 256}}",
		 "interval_ms"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"colour\": 1}}", "colour"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"name\": \"x\"}}", "name"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"manufacturer\": 5}}",
		 "manufacturer"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"serial\": \"a\\u0001\"}}",
		 "serial"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"serial\": \"a\\u0000b\"}}",
		 "serial"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"product\": \"caf\\u00e9\"}}",
		 "product"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": {\"product\": "
		 "\"0123456789012345678901234567890123456789012345678901234567890123\"}}",
		 "product"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": []}", "usb_tablet_config"},
		{"{\"backends\": [\"usb\"], \"usb_tablet_config\": \"x\"}", "usb_tablet_config"},
		{"{\"backends\": [\"usb\"], \"usb_touch_config\": {}}", "usb_touch_config"},
		{"{\"backends\": [\"usb\"], \"usb__config\": {}}", "usb__config"},
		{"{\"backends\": [\"ps2\"], \"usb_mouse_config\": {\"vendor_id\": 1}}",
		 "usb is not in backends"},
		{"{\"backends\": [\"ps2\"], \"default_backend\": \"usb\"}", "default_backend"},
		{"{\"backends\": [\"usb\", \"usb\"]}", "twice"},
		{"{\"backends\": [\"ps2\", \"virtio\", \"usb\", \"ps2\"]}", "at most"},
		{"{\"backends\": [\"usb3\"]}", "backends"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct broker_vmdef d;
		char err[512] = "";

		if (vmdef_parse(bad[i].input, &d, err, sizeof(err)) != -EINVAL)
			fail_msg("input_config %s accepted", bad[i].input);
		check_err_printable(bad[i].input, err);
		if (!strstr(err, bad[i].says))
			fail_msg("input_config %s: '%s' does not say %s", bad[i].input, err,
				 bad[i].says);
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_usb),	cmocka_unit_test(test_input_bad),
		cmocka_unit_test(test_usb_device_good), cmocka_unit_test(test_usb_device_bad),
		cmocka_unit_test(test_open_usb),	cmocka_unit_test(test_vmdef_usb_good),
		cmocka_unit_test(test_vmdef_usb_bad),
	};

	char dir[] = "/tmp/test_input_opt.XXXXXX";
	int fd, r;

	if (!mkdtemp(dir))
		return 1;
	snprintf(vmdef_tenant.image_dir, sizeof(vmdef_tenant.image_dir), "%s/", dir);
	snprintf(vmdef_kernel, sizeof(vmdef_kernel), "%s/k", dir);
	fd = open(vmdef_kernel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "K", 1) != 1)
		return 1;
	close(fd);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(vmdef_kernel);
	rmdir(dir);
	return r;
}
