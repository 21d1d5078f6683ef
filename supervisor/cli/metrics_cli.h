/* SPDX-License-Identifier: MIT */
/* `vgpuvm metrics`: the host's vGPU state for Prometheus. */
#pragma once

int cmd_metrics(int argc, char **argv);
