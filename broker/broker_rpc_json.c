/* Conversions between the protobuf RPC API (proto/api.proto) and the REST
 * API's JSON in cellvm-broker, so that both APIs have one source: a VM's info
 * and counters come from the REST JSON, and an RPC definition becomes the REST
 * body of a create and goes through the same checks. Runs in the broker's loop.
 * UNTRUSTED(client): the definitions given to broker_rpc_json_create_body. */
#include <stdio.h>

#include "broker/broker_rpc_json.h"

const char *broker_rpc_json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

static int64_t broker_rpc_json_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

void broker_rpc_json_fill_info(struct rpc_info *ri, const struct broker_vm *vm)
{
	json_object *o = broker_vm_info_json(vm), *devs;

	ri->json = o;
	cellvm__api__vm_info__init(&ri->info);
	cellvm__api__vm_definition__init(&ri->def);
	ri->info.id = (char *)broker_rpc_json_str(o, "id");
	ri->info.name = (char *)broker_rpc_json_str(o, "name");
	ri->info.tenant = (char *)broker_rpc_json_str(o, "tenant");
	ri->info.state = (char *)broker_rpc_json_str(o, "state");
	ri->info.input_backend = (char *)broker_rpc_json_str(o, "input_backend");
	ri->info.created_at = (uint64_t)broker_rpc_json_int(o, "created_at");
	ri->info.boots = (uint32_t)broker_rpc_json_int(o, "boots");
	ri->info.last_exit = (char *)broker_rpc_json_str(o, "last_exit");
	ri->info.core_pid = (int32_t)broker_rpc_json_int(o, "core_pid");
	if (json_object_object_get_ex(o, "devices", &devs))
		for (size_t i = 0; i < json_object_array_length(devs) && i < LAUNCHER_MAX_DEVICES;
		     i++) {
			json_object *d = json_object_array_get_idx(devs, i), *run;
			cellvm__api__device_info__init(&ri->devs[i]);
			ri->devs[i].kind = (char *)broker_rpc_json_str(d, "kind");
			ri->devs[i].running = json_object_object_get_ex(d, "running", &run) &&
					      json_object_get_boolean(run);
			ri->devs[i].pid = (int32_t)broker_rpc_json_int(d, "pid");
			ri->pdevs[i] = &ri->devs[i];
			ri->info.n_devices = i + 1;
		}
	ri->info.devices = ri->pdevs;
	ri->def.name = (char *)vm->def.name;
	ri->def.cpus = vm->def.cpus;
	ri->def.memory_bytes = vm->def.memory;
	ri->def.kernel = (char *)(vm->def.firmware ? "" : vm->def.kernel);
	ri->def.firmware = (char *)(vm->def.firmware ? vm->def.kernel : "");
	ri->def.no_acpi = vm->def.no_acpi;
	ri->def.initrd = (char *)vm->def.initrd;
	ri->def.cmdline = (char *)(vm->def.firmware ? "" : vm->def.cmdline);
	ri->def.input_backend = (char *)vm->def.input;
	ri->def.cpu_weight = vm->def.cpu_weight;
	for (size_t i = 0; i < vm->def.ndisks; i++) {
		const struct disk_opt *d = &vm->def.disks[i];
		snprintf(ri->diskbuf[i], sizeof(ri->diskbuf[i]), "path=%s%s%s%s%s,queues=%u",
			 d->path, d->readonly ? ",readonly=on" : "", d->direct ? ",direct=on" : "",
			 d->serial[0] ? ",serial=" : "", d->serial, d->queues);
		ri->disks[i] = ri->diskbuf[i];
	}
	ri->def.n_disks = vm->def.ndisks;
	ri->def.disks = ri->disks;
	for (size_t i = 0; i < vm->def.nnets; i++) {
		cellvm__api__net_definition__init(&ri->nets[i]);
		ri->nets[i].tap = (char *)vm->def.nets[i].tap;
		ri->nets[i].mac = (char *)vm->def.nets[i].mac;
		ri->nets[i].queues = vm->def.nets[i].queues;
		ri->pnets[i] = &ri->nets[i];
	}
	ri->def.n_nets = vm->def.nnets;
	ri->def.nets = ri->pnets;
	if (vm->def.has_snd) {
		const struct snd_opt *so = &vm->def.snd_opt;
		char periods[24] = "", channels[24] = "";

		/* As a create takes it back (REST's snd object, spelled as --snd). */
		if (so->periods)
			snprintf(periods, sizeof(periods), ",periods=%u", so->periods);
		if (so->max_channels)
			snprintf(channels, sizeof(channels), ",channels=%u", so->max_channels);
		snprintf(ri->sndbuf, sizeof(ri->sndbuf), "playback=%u,capture=%u%s%s,sink=%s",
			 so->playback, so->capture, periods, channels,
			 so->sinks & SND_OPT_SINK_RING ? "ring" : "null");
		ri->def.snd = ri->sndbuf;
	}
	ri->info.definition = &ri->def;
}

void broker_rpc_json_fill_counters(struct rpc_counters_info *rc, const struct broker_vm *vm)
{
	json_object *o = broker_vm_info_counters_json(vm), *devs;

	rc->json = o;
	cellvm__api__counters_reply__init(&rc->reply);
	rc->reply.boots = (uint32_t)broker_rpc_json_int(o, "boots");
	rc->reply.console_bytes = (uint64_t)broker_rpc_json_int(o, "console_bytes");
	if (json_object_object_get_ex(o, "devices", &devs))
		for (size_t i = 0; i < json_object_array_length(devs) && i < LAUNCHER_MAX_DEVICES;
		     i++) {
			json_object *d = json_object_array_get_idx(devs, i);
			Cellvm__Api__DeviceCounters *dc = &rc->devs[i];
			cellvm__api__device_counters__init(dc);
			dc->index = (uint32_t)i;
			dc->kind = (char *)broker_rpc_json_str(d, "kind");
			dc->state = (char *)broker_rpc_json_str(d, "state");
			dc->restarts = (uint32_t)broker_rpc_json_int(d, "restarts");
			dc->host_read_bytes = (uint64_t)broker_rpc_json_int(d, "host_read_bytes");
			dc->host_write_bytes = (uint64_t)broker_rpc_json_int(d, "host_write_bytes");
			dc->requests = (uint64_t)broker_rpc_json_int(d, "requests");
			dc->bytes_in = (uint64_t)broker_rpc_json_int(d, "bytes_in");
			dc->bytes_out = (uint64_t)broker_rpc_json_int(d, "bytes_out");
			dc->errors = (uint64_t)broker_rpc_json_int(d, "errors");
			rc->pdevs[i] = dc;
			rc->reply.n_devices = i + 1;
		}
	rc->reply.devices = rc->pdevs;
}

/* UNTRUSTED(client): the definition becomes the REST JSON body and goes
 * through broker_vmdef_from_json, like a POST /vm.create. */
json_object *broker_rpc_json_create_body(const Cellvm__Api__VmDefinition *d)
{
	json_object *o = json_object_new_object();

	if (d->name && *d->name)
		json_object_object_add(o, "name", json_object_new_string(d->name));
	if (d->cpus)
		json_object_object_add(o, "cpus", json_object_new_int64(d->cpus));
	if (d->memory_bytes)
		json_object_object_add(o, "memory",
				       json_object_new_int64(d->memory_bytes > INT64_MAX
								     ? INT64_MAX
								     : (int64_t)d->memory_bytes));
	/* Only what was given: a firmware with any of these is refused. */
	if (d->firmware && *d->firmware)
		json_object_object_add(o, "firmware", json_object_new_string(d->firmware));
	if (!d->firmware || !*d->firmware || (d->kernel && *d->kernel))
		json_object_object_add(o, "kernel",
				       json_object_new_string(d->kernel ? d->kernel : ""));
	if (d->no_acpi)
		json_object_object_add(o, "acpi", json_object_new_boolean(false));
	if (d->initrd && *d->initrd)
		json_object_object_add(o, "initrd", json_object_new_string(d->initrd));
	if (d->cmdline && *d->cmdline)
		json_object_object_add(o, "cmdline", json_object_new_string(d->cmdline));
	if (d->n_disks) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < d->n_disks; i++)
			json_object_array_add(a, json_object_new_string(d->disks[i]));
		json_object_object_add(o, "disks", a);
	}
	if (d->n_nets) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < d->n_nets; i++) {
			json_object *n = json_object_new_object();
			json_object_object_add(n, "tap", json_object_new_string(d->nets[i]->tap));
			if (d->nets[i]->mac && *d->nets[i]->mac)
				json_object_object_add(n, "mac",
						       json_object_new_string(d->nets[i]->mac));
			if (d->nets[i]->queues)
				json_object_object_add(n, "queues",
						       json_object_new_int64(d->nets[i]->queues));
			json_object_array_add(a, n);
		}
		json_object_object_add(o, "nets", a);
	}
	if (d->input_backend && *d->input_backend) {
		json_object *in = json_object_new_object();
		json_object_object_add(in, "backend", json_object_new_string(d->input_backend));
		json_object_object_add(o, "input_config", in);
	}
	if (d->gpu && *d->gpu) /* REST takes cellvm run's --gpu syntax too */
		json_object_object_add(o, "gpu", json_object_new_string(d->gpu));
	if (d->snd && *d->snd) /* and --snd's */
		json_object_object_add(o, "snd", json_object_new_string(d->snd));
	if (d->cpu_weight) /* out of range: refused by broker_vmdef_from_json */
		json_object_object_add(o, "cpu_weight", json_object_new_int64(d->cpu_weight));
	return o;
}
