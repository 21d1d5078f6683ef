/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for supervisor/cli/metrics_render.c: label values escaped as the Prometheus text format wants them
 * (backslash, double quote, newline; ill-formed UTF-8 replaced), each family's HELP and TYPE once before its
 * samples, the samples each state and value gives, and doctor's repeated ids as one sample.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/cli/metrics_render.h"
#include "util/macro.h"

static void escaped(const char *in, const char *want)
{
	_cleanup_free_ char *got = metrics_escape_label(in);

	assert_non_null(got);
	assert_string_equal(got, want);
}

static void test_escape(void **state)
{
	(void)state;
	escaped("", "");
	escaped("vm-1", "vm-1");
	escaped("a\"b", "a\\\"b");
	escaped("a\\b", "a\\\\b");
	escaped("a\nb", "a\\nb");
	escaped("\\\"\n", "\\\\\\\"\\n");
	/* A backslash before n stays two characters, not a newline's escape. */
	escaped("\\n", "\\\\n");
	/* Ill-formed UTF-8 becomes U+FFFD: the format's label values are UTF-8. */
	escaped("a\xffz", "a\xef\xbf\xbdz");
	/* Other characters pass as they are, tabs and non-ASCII included. */
	escaped("t\tü", "t\tü");
}

static char *render(const struct metrics *m)
{
	char *text = NULL;

	assert_int_equal(metrics_render(m, &text), 0);
	assert_non_null(text);
	return text;
}

/* Whether text has line as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static size_t count(const char *text, const char *s)
{
	size_t k = 0;

	for (const char *p = text; (p = strstr(p, s)); p += strlen(s))
		k++;
	return k;
}

static void test_vms(void **state)
{
	const struct metrics_vm vms[] = {
		{ .name = "lab-1",
		  .up = true,
		  .state = "running",
		  .uptime = 12.5,
		  .restarts = 2,
		  .last_exit_code = 1,
		  .rss_bytes = 123456789 },
		{ .name = "lab-2", .up = false, .uptime = -1, .restarts = -1, .last_exit_code = -1, .rss_bytes = -1 },
		{ .name = "lab-3",
		  .up = true,
		  .state = "restarting",
		  .uptime = -1,
		  .restarts = 0,
		  .last_exit_code = 0,
		  .rss_bytes = -1 },
	};
	struct metrics m = { .vms = vms, .n_vms = ELEMENTSOF(vms), .timestamp = 1700000000.25 };
	_cleanup_free_ char *t = NULL;

	(void)state;
	t = render(&m);
	assert_true(has_line(t, "# TYPE vgpuvm_vm_up gauge"));
	assert_true(has_line(t, "vgpuvm_vm_up{vm=\"lab-1\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_up{vm=\"lab-2\"} 0"));
	assert_true(has_line(t, "vgpuvm_vm_up{vm=\"lab-3\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"lab-1\",state=\"running\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"lab-1\",state=\"paused\"} 0"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"lab-3\",state=\"restarting\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"lab-3\",state=\"running\"} 0"));
	/* A stale record says only that the VM is down: no state, no values a dead supervisor cannot give. */
	assert_int_equal(count(t, "vm=\"lab-2\""), 1);
	assert_true(has_line(t, "vgpuvm_vm_uptime_seconds{vm=\"lab-1\"} 12.500"));
	assert_false(strstr(t, "vgpuvm_vm_uptime_seconds{vm=\"lab-3\"}"));
	assert_true(has_line(t, "# TYPE vgpuvm_vm_restarts_total counter"));
	assert_true(has_line(t, "vgpuvm_vm_restarts_total{vm=\"lab-1\"} 2"));
	assert_true(has_line(t, "vgpuvm_vm_restarts_total{vm=\"lab-3\"} 0"));
	assert_true(has_line(t, "vgpuvm_vm_last_exit_code{vm=\"lab-1\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_qemu_rss_bytes{vm=\"lab-1\"} 123456789"));
	assert_false(strstr(t, "vgpuvm_vm_qemu_rss_bytes{vm=\"lab-3\"}"));
	assert_true(has_line(t, "vgpuvm_metrics_timestamp_seconds 1700000000.250"));
	/* Each family's HELP and TYPE once; doctor's families only when it ran. */
	assert_int_equal(count(t, "# TYPE vgpuvm_vm_state "), 1);
	assert_int_equal(count(t, "# HELP vgpuvm_vm_state "), 1);
	assert_false(strstr(t, "vgpuvm_doctor_check_failed"));
	assert_int_equal(t[strlen(t) - 1], '\n');
}

static void test_state_unknown_and_paused(void **state)
{
	const struct metrics_vm vms[] = {
		{ .name = "a", .up = true, .state = "paused", .uptime = 1, .restarts = 0, .rss_bytes = -1 },
		{ .name = "b", .up = true, .state = "hibernating", .uptime = 1, .restarts = 0, .rss_bytes = -1 },
	};
	struct metrics m = { .vms = vms, .n_vms = ELEMENTSOF(vms) };
	_cleanup_free_ char *t = render(&m);

	(void)state;
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"a\",state=\"paused\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"a\",state=\"running\"} 0"));
	/* A state this version does not know still shows as the current one; the known ones are 0. */
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"b\",state=\"hibernating\"} 1"));
	assert_true(has_line(t, "vgpuvm_vm_state{vm=\"b\",state=\"running\"} 0"));
}

static void test_label_values_escaped_in_samples(void **state)
{
	const struct metrics_mdev_type types[] = {
		{ .parent = "0000:00:02.0", .type = "i915-GVTg_V5_4", .available = 3, .used = 1 },
		{ .parent = "we\"ird\\par\nent", .type = "t", .available = -1, .used = 0 },
	};
	struct metrics m = { .types = types, .n_types = ELEMENTSOF(types) };
	_cleanup_free_ char *t = render(&m);

	(void)state;
	assert_true(
	    has_line(t, "vgpuvm_mdev_type_available_instances{parent=\"0000:00:02.0\",type=\"i915-GVTg_V5_4\"} 3"));
	assert_true(has_line(t, "vgpuvm_mdev_type_used_instances{parent=\"0000:00:02.0\",type=\"i915-GVTg_V5_4\"} 1"));
	/* The newline is escaped, so the sample stays on one line. */
	assert_true(has_line(t, "vgpuvm_mdev_type_used_instances{parent=\"we\\\"ird\\\\par\\nent\",type=\"t\"} 0"));
	/* An unreadable available_instances is left out rather than made up. */
	assert_false(strstr(t, "vgpuvm_mdev_type_available_instances{parent=\"we"));
}

static void test_checks_by_id(void **state)
{
	const struct metrics_check checks[] = {
		{ .id = "kvm" },
		{ .id = "gvt.types", .failed = true },
		{ .id = "iommu", .warned = true },
		{ .id = "kvm", .failed = true },
	};
	struct metrics m = { .doctor = true, .checks = checks, .n_checks = ELEMENTSOF(checks) };
	_cleanup_free_ char *t = render(&m);

	(void)state;
	assert_true(has_line(t, "vgpuvm_doctor_check_failed{check=\"gvt.types\"} 1"));
	assert_true(has_line(t, "vgpuvm_doctor_check_failed{check=\"iommu\"} 0"));
	assert_true(has_line(t, "vgpuvm_doctor_check_warned{check=\"iommu\"} 1"));
	assert_true(has_line(t, "vgpuvm_doctor_check_warned{check=\"gvt.types\"} 0"));
	/* The same id twice would be a duplicate series: it is one, failed as either was. */
	assert_int_equal(count(t, "vgpuvm_doctor_check_failed{check=\"kvm\"}"), 1);
	assert_true(has_line(t, "vgpuvm_doctor_check_failed{check=\"kvm\"} 1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_vms),
		cmocka_unit_test(test_state_unknown_and_paused),
		cmocka_unit_test(test_label_values_escaped_in_samples),
		cmocka_unit_test(test_checks_by_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
