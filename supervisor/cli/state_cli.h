/* SPDX-License-Identifier: MIT */
/* `vgpuvm forget`: what a VM keeps between runs, removed on request. */
#pragma once

int cmd_forget(int argc, char **argv);
