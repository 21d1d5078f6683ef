/* SPDX-License-Identifier: MIT */
/* The text of `vgpuvm metrics`: families in a fixed order, each with its HELP and TYPE, then its samples. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli/metrics_render.h"
#include "util/macro.h"
#include "util/utf8.h"

const char *const metrics_vm_states[] = { "starting", "running", "paused", "stopping", "restarting", "exited", NULL };

char *metrics_escape_label(const char *s)
{
	_cleanup_free_ char *v = utf8_make_valid(s);
	char *out, *o;

	if (!v)
		return NULL;
	/* Each byte takes at most two. */
	out = o = malloc(strlen(v) * 2 + 1);
	if (!out)
		return NULL;
	for (const char *p = v; *p; p++)
		switch (*p) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '"':
			*o++ = '\\';
			*o++ = '"';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		default:
			*o++ = *p;
		}
	*o = '\0';
	return out;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"} with the value escaped; false without memory. */
static bool sample_start(FILE *f, const char *name, const char *key, const char *value)
{
	_cleanup_free_ char *v = metrics_escape_label(value);

	if (!v)
		return false;
	fprintf(f, "%s{%s=\"%s\"", name, key, v);
	return true;
}

static bool sample_label(FILE *f, const char *key, const char *value)
{
	_cleanup_free_ char *v = metrics_escape_label(value);

	if (!v)
		return false;
	fprintf(f, ",%s=\"%s\"", key, v);
	return true;
}

static bool render_vms(FILE *f, const struct metrics *m)
{
	bool ok = true, any;

	family(f, "vgpuvm_vm_up", "gauge",
	       "Whether the VM's supervisor answers: 1, or 0 for a crash record a dead supervisor left.");
	for (size_t i = 0; i < m->n_vms; i++)
		if ((ok = ok && sample_start(f, "vgpuvm_vm_up", "vm", m->vms[i].name)))
			fprintf(f, "} %d\n", m->vms[i].up ? 1 : 0);

	family(f, "vgpuvm_vm_state", "gauge", "The supervisor's state: 1 for the current one, 0 for the others.");
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct metrics_vm *v = &m->vms[i];

		if (!v->up || !v->state)
			continue;
		any = false;
		for (const char *const *s = metrics_vm_states; *s; s++) {
			bool cur = strcmp(*s, v->state) == 0;

			any = any || cur;
			if ((ok = ok && sample_start(f, "vgpuvm_vm_state", "vm", v->name) &&
				  sample_label(f, "state", *s)))
				fprintf(f, "} %d\n", cur ? 1 : 0);
		}
		/* A state this version does not know still shows, as the current one. */
		if (!any && (ok = ok && sample_start(f, "vgpuvm_vm_state", "vm", v->name) &&
				  sample_label(f, "state", v->state)))
			fprintf(f, "} 1\n");
	}

	family(f, "vgpuvm_vm_uptime_seconds", "gauge", "Seconds since QEMU was started (this try).");
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i].up && m->vms[i].uptime >= 0 &&
		    (ok = ok && sample_start(f, "vgpuvm_vm_uptime_seconds", "vm", m->vms[i].name)))
			fprintf(f, "} %.3f\n", m->vms[i].uptime);

	family(f, "vgpuvm_vm_restarts_total", "counter",
	       "Restarts the restart policy decided in this supervisor's life.");
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i].up && m->vms[i].restarts >= 0 &&
		    (ok = ok && sample_start(f, "vgpuvm_vm_restarts_total", "vm", m->vms[i].name)))
			fprintf(f, "} %lld\n", (long long)m->vms[i].restarts);

	family(f, "vgpuvm_vm_last_exit_code", "gauge", "The exit code of the VM's last try (0 before any).");
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i].up && m->vms[i].last_exit_code >= 0 &&
		    (ok = ok && sample_start(f, "vgpuvm_vm_last_exit_code", "vm", m->vms[i].name)))
			fprintf(f, "} %lld\n", (long long)m->vms[i].last_exit_code);

	family(f, "vgpuvm_vm_qemu_rss_bytes", "gauge", "QEMU's resident set size (VmRSS in /proc/PID/status).");
	for (size_t i = 0; i < m->n_vms; i++)
		if (m->vms[i].up && m->vms[i].rss_bytes >= 0 &&
		    (ok = ok && sample_start(f, "vgpuvm_vm_qemu_rss_bytes", "vm", m->vms[i].name)))
			fprintf(f, "} %lld\n", (long long)m->vms[i].rss_bytes);
	return ok;
}

static bool render_types(FILE *f, const struct metrics *m)
{
	bool ok = true;

	family(f, "vgpuvm_mdev_type_available_instances", "gauge",
	       "How many more mdevs of the type the parent can create (available_instances).");
	for (size_t i = 0; i < m->n_types; i++)
		if (m->types[i].available >= 0 &&
		    (ok = ok && sample_start(f, "vgpuvm_mdev_type_available_instances", "parent", m->types[i].parent) &&
			  sample_label(f, "type", m->types[i].type)))
			fprintf(f, "} %lld\n", m->types[i].available);

	family(f, "vgpuvm_mdev_type_used_instances", "gauge", "How many mdevs of the type exist now.");
	for (size_t i = 0; i < m->n_types; i++)
		if ((ok = ok && sample_start(f, "vgpuvm_mdev_type_used_instances", "parent", m->types[i].parent) &&
			  sample_label(f, "type", m->types[i].type)))
			fprintf(f, "} %zu\n", m->types[i].used);
	return ok;
}

/* Whether the check at i is the first with its id, and whether any with its id failed (or warned). */
static bool check_first(const struct metrics *m, size_t i, bool *ret_failed, bool *ret_warned)
{
	bool failed = false, warned = false;

	for (size_t j = 0; j < m->n_checks; j++) {
		if (strcmp(m->checks[j].id, m->checks[i].id) != 0)
			continue;
		if (j < i)
			return false;
		failed = failed || m->checks[j].failed;
		warned = warned || m->checks[j].warned;
	}
	*ret_failed = failed;
	*ret_warned = warned;
	return true;
}

static bool render_checks(FILE *f, const struct metrics *m)
{
	bool ok = true, failed, warned;

	if (!m->doctor)
		return true;
	family(f, "vgpuvm_doctor_check_failed", "gauge", "1 for each doctor check (by id) that FAILs, else 0.");
	for (size_t i = 0; i < m->n_checks; i++)
		if (check_first(m, i, &failed, &warned) &&
		    (ok = ok && sample_start(f, "vgpuvm_doctor_check_failed", "check", m->checks[i].id)))
			fprintf(f, "} %d\n", failed ? 1 : 0);
	family(f, "vgpuvm_doctor_check_warned", "gauge", "1 for each doctor check (by id) that WARNs, else 0.");
	for (size_t i = 0; i < m->n_checks; i++)
		if (check_first(m, i, &failed, &warned) &&
		    (ok = ok && sample_start(f, "vgpuvm_doctor_check_warned", "check", m->checks[i].id)))
			fprintf(f, "} %d\n", warned ? 1 : 0);
	return ok;
}

int metrics_render(const struct metrics *m, char **ret)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	bool ok;

	if (!f)
		return -ENOMEM;
	ok = render_vms(f, m) && render_types(f, m) && render_checks(f, m);
	if (ok) {
		family(f, "vgpuvm_metrics_timestamp_seconds", "gauge", "When vgpuvm metrics gathered these values.");
		fprintf(f, "vgpuvm_metrics_timestamp_seconds %.3f\n", m->timestamp);
	}
	if (fclose(f) != 0 || !ok || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}
