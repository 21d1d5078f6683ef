/* SPDX-License-Identifier: MIT */
#pragma once

int cmd_doctor(int argc, char **argv);
