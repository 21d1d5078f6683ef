/* SPDX-License-Identifier: MIT */
/* `vgpuvm run PROFILE`: supervise one VM in the foreground. */
#pragma once

int cmd_run(int argc, char **argv);
