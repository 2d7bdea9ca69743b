/* libFuzzer target for broker/broker_vmdef.c: arbitrary bytes as the body of
 * POST /vm.create (UNTRUSTED(client)), parsed the way the REST layer parses
 * it (json-c with the same depth limit) and checked by broker_vmdef_from_json for a
 * tenant with an image directory (the files it names are opened, as at a
 * create; "fd:N" names an fd no REST body has). Checks besides the
 * sanitizers: an accepted definition is within every documented limit, and survives a round trip
 * through broker_vmdef_to_json unchanged (what the state directory relies on).
 * Built with -DFUZZ_SEEDGEN it writes seed inputs into the folder it is given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_SEEDGEN
#include <json-c/json.h>

#include "broker/broker.h"
#endif

#include "test/fuzz/fuzz_check.h"

#ifndef FUZZ_SEEDGEN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* "/" is the image directory: every existing absolute path is inside. */
	static const struct tenant t = {.name = "fuzz", .image_dir = "/", .taps = "tap* t*"};
	struct json_tokener *tok = json_tokener_new_ex(16);
	struct broker_vmdef d, d2;
	json_object *o, *back;
	char err[512];

	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	if (o && broker_vmdef_from_json(o, &t, &d, err, sizeof(err)) == 0) {
		CHECK(d.cpus >= 1 && d.cpus <= BROKER_MAX_CPUS);
		CHECK(d.memory >= BROKER_MIN_MEMORY && d.memory <= BROKER_MAX_MEMORY);
		CHECK((d.memory & 0xfff) == 0);
		CHECK(d.kernel[0] == '/' && d.ndisks <= DISK_MAX && d.nnets <= BROKER_NET_MAX);
		CHECK(strlen(d.cmdline) <= BROKER_MAX_CMDLINE);
		CHECK(d.cpu_weight <= 10000);
		/* A firmware boots from a disk: never with an initrd. */
		CHECK(!d.firmware || !d.initrd[0]);
		back = broker_vmdef_to_json(&d);
		CHECK(broker_vmdef_from_json(back, &t, &d2, err, sizeof(err)) == 0);
		{
			json_object *again = broker_vmdef_to_json(&d2);
			CHECK(strcmp(json_object_to_json_string(back),
				     json_object_to_json_string(again)) == 0);
			json_object_put(again);
		}
		broker_vmdef_free(&d2);
		json_object_put(back);
		broker_vmdef_free(&d);
	}
	json_object_put(o);
	json_tokener_free(tok);
	return 0;
}
#else
static const char *const seeds[] = {
	"{\"kernel\":\"/bin/true\"}",
	"{\"name\":\"a\",\"cpus\":2,\"memory\":\"64M\",\"kernel\":\"/bin/true\","
	"\"initrd\":\"/bin/true\",\"cmdline\":\"console=ttyS0\"}",
	"{\"kernel\":\"/bin/true\",\"disks\":[\"path=/bin/true,readonly=on,serial=x\","
	"{\"path\":\"/bin/true\",\"queues\":2,\"direct\":false}]}",
	"{\"kernel\":\"/bin/true\",\"nets\":[{\"tap\":\"tap0\",\"mac\":\"52:54:00:00:00:01\","
	"\"queues\":2}],\"input_config\":{\"backend\":\"virtio\"},\"gpu\":{\"x\":[1,2]}}",
	"{\"kernel\":\"/bin/true\",\"memory\":268435456,\"snd\":{}}",
	/* files passed as fds (RPC): refused without fds, as over REST */
	"{\"kernel\":\"fd:1\",\"initrd\":\"fd:2\",\"disks\":[\"path=fd:3,readonly=on\"]}",
	"{\"kernel\":\"/bin/true\",\"nets\":[\"tap=t1,queues=2,mtu=9000,rate=10M,burst=1M,pps=1K,"
	"pps-burst=64,transport=mmio\",{\"tap\":\"tap2\",\"mtu\":1500,\"rate\":1000,\"pps\":\"2K\","
	"\"transport\":\"pci\"}],\"disks\":[{\"path\":\"/bin/true\",\"transport\":\"mmio\"}]}",
	/* per-VM limits: a weight in range, and one past it */
	"{\"kernel\":\"/bin/true\",\"cpu_weight\":50}",
	"{\"kernel\":\"/bin/true\",\"cpu_weight\":10001}",
	/* the usb input backend and its devices' identities */
	"{\"kernel\":\"/bin/true\",\"input_config\":{\"backends\":[\"ps2\",\"virtio\",\"usb\"],"
	"\"default_backend\":\"usb\",\"usb_keyboard_config\":{\"vendor_id\":\"0x046d\","
	"\"product_id\":49948,\"release\":\"0x0110\",\"manufacturer\":\"Logitech\","
	"\"product\":\"USB Keyboard\",\"serial\":\"ABC\",\"interval_ms\":1},"
	"\"usb_mouse_config\":{\"interval_ms\":10},\"usb_tablet_config\":{}}}",
	"{\"kernel\":\"/bin/true\",\"input_config\":{\"backends\":[\"usb\"],"
	"\"usb_tablet_config\":{\"vendor_id\":65536,\"interval_ms\":256,\"x\":1}}}",
	/* a firmware instead of a kernel, ACPI off; and with a kernel (refused) */
	"{\"firmware\":\"/bin/true\",\"acpi\":false,\"disks\":[\"path=/bin/true\"]}",
	"{\"firmware\":\"/bin/true\",\"kernel\":\"/bin/true\",\"acpi\":true}",
	"{\"kernel\":\"/bin/true\",\"acpi\":true,\"cmdline\":\"x\"}",
};

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed%zu.json", argv[1], i);
		f = fopen(path, "w");
		if (!f)
			return 1;
		fputs(seeds[i], f);
		fclose(f);
	}
	return 0;
}
#endif
