/* SPDX-License-Identifier: MIT */
/* Commands that talk to a running supervisor, and cleanup after a dead one. */
#pragma once

int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_screenshot(int argc, char **argv);
int cmd_qmp(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
