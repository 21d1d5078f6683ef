/* SPDX-License-Identifier: MIT */
/*
 * Whether QEMU, as the user it runs as, can reach the sound backend the profile's "audio" names, checked before it
 * starts: a QEMU that cannot open its audio backend fails to start with a message about QEMU's internals, where the
 * fix is about the session or the user.
 */
#pragma once

struct identity;
struct profile;

/*
 * "pa": the session's sound server (PULSE_SERVER, or XDG_RUNTIME_DIR/pulse/native, as QEMU's environment will have
 * them from env and the profile) must be a socket QEMU's user can reach; "alsa": a sound card under /dev/snd that it
 * can open. Returns 0, -ENXIO (no session, no server, no sound card) or -EACCES with *ret_error naming the fix.
 */
int audio_check(const struct profile *p, const struct identity *id, char **env, char **ret_error);
