#!/usr/bin/env bash
# Writes the seed inputs of each fuzz target into tests/fuzz/corpus/TARGET/seed-*: the recorded QMP transcripts, the
# golden profiles (with their --set arguments), the sysfs descriptions of the test trees and the real drivers, crash
# records as vgpuvm writes them, and one input for each defect the first fuzzing pass found. Inputs that libFuzzer
# found are kept beside them (found-*, crash-*), named by their hash; this script leaves those alone.
set -eu
cd "$(dirname "$0")/../.."
c=tests/fuzz/corpus
mkdir -p $c/qmp $c/control $c/profile $c/sysfs $c/record $c/spawner $c/ga
rm -f $c/*/seed-*
put() { printf '%b' "$3" >"$c/$1/seed-$2"; }

# qmp: the first byte is the piece size and the small reader's line limit.
for f in tests/unit/data/qmp/*.raw; do
	n=$(basename "$f" .raw)
	{ printf '\x07'; cat "$f"; } >"$c/qmp/seed-$n"
done
put qmp garbage '\x01{"return": {}, "id": 1}\r\n{not json\r\n\x00\r\n{"event": "X", "timestamp": {"seconds": 1e400}}\r\n'
put qmp long-line '\x00{"return": {"x": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "id": 2}\n{"return": {}, "id": 1}\n'
put qmp event-nul '\x05{"event": "SHUTDOWN\\u0000x", "data": {"guest": true}}\r\n'
put qmp overlong '\x05{"return": {"status": "\xc0\xafrunning"}, "id": 2}\r\n'
put qmp surrogate '\x05{"return": {"status": "\xed\xa0\x80"}, "id": 2}\r\n'

# control: the first byte is the piece size (1 + 64 * it).
put control status '\x00{"execute": "qmp_capabilities"}\r\n{"execute": "status", "id": 1}\r\n'
put control stop '\x01{"execute": "stop", "arguments": {"force": true, "timeout": 30}, "id": "a"}\n'
put control stop-nan '\x01{"execute": "stop", "arguments": {"timeout": NaN}}\n{"execute": "stop", "arguments": {"timeout": 1e300}}\n{"execute": "stop", "arguments": {"timeout": -Infinity}}\n'
put control name-nul '\x01{"execute": "status\\u0000x", "id": 1}\n'
put control qmp '\x02{"execute": "qmp", "arguments": {"command": "query-status"}, "id": 7}\n{"execute": "qmp", "arguments": {"command": "qmp_capabilities"}}\n{"execute": "qmp", "arguments": {"command": "x\\u0000", "arguments": []}}\n'
put control garbage '\x00garbage\n\n{"id": 5}\n{"return": 1}\n[]\n"\xff"\n'

# profile: the file, then each --set after a NUL.
for f in tests/golden/argv/*.json tests/golden/bad/*.json profiles/stock/*.json; do
	n=$(basename "$f" .json)
	d=$(basename "$(dirname "$f")")
	cmd=${f%.json}.cmd
	{
		cat "$f"
		# A .cmd holds the arguments after `vgpuvm argv`, one a line: its --set values become the inputs' sets.
		if [ -f "$cmd" ]; then
			grep -A1 -x -- '--set' "$cmd" | grep -v -x -e '--set' -e '--' | while IFS= read -r s; do printf '\0%s' "$s"; done
		fi
	} >"$c/profile/seed-$d-$n"
done
put profile set-on-array '[1, 2]\x00vgpu.xres=1'
put profile set-on-string '"x"\x00a=1'
put profile set-deep '{"memory": "1G"}\x00a.b.c.d.e.f.g.h.i.j.k=1'
put profile nul-extra-args '{"memory": "1G", "accel": "tcg", "extra_args": ["-device\\u0000,evil"]}'
put profile nul-env '{"memory": "1G", "accel": "tcg", "env": {"A": "b\\u0000c"}}'
put profile overlong '{"memory": "1G", "accel": "tcg", "extra_args": ["\xc0\xaf"]}'
put profile surrogate '{"memory": "1G", "accel": "tcg", "cdrom": "\xed\xa0\x80.iso"}'
put profile trailing-space '{"memory": "1G", "accel": "tcg"}  \n\t'

# sysfs: name, description, available_instances, device_api, then the names in devices/.
put sysfs gvtg 'GVTg_V5_4\x00low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\x002\x00vfio-pci\x00a297db4a-f4c2-11e6-90f6-d3b88d6c9525'
put sysfs mdpy 'mdpy-vga\x00virtual display, 1024x768 framebuffer\x004\x00vfio-pci'
put sysfs mbochs 'mbochs-64MB\x00virtual display, 64MB video memory\x001\x00vfio-pci\x00not-a-uuid\x00..'
put sysfs mtty 'Dual-port-serial\x00\x002\x00vfio-pci'
put sysfs zero-res 'x\x00resolution: 00x10\x001\x00vfio-pci'
put sysfs bad-count 'x\x00a\x00-1\x00vfio-pci\x00'
put sysfs big-count 'x\x00a\x0099999999999999999999\x00vfio-pci'

# record: as record_write() writes them, and the loose numbers and strings it must refuse.
ok='"name":"vm","uuid":"a297db4a-f4c2-11e6-90f6-d3b88d6c9525","type":"mdpy-vga","parent":"mdpy","sysfs_root":"/sys","created":true,"supervisor_pid":1234'
put record plain "{$ok,\"qemu_pid\":1240}\n"
put record lent "{$ok,\"qemu_pid\":null,\"lent\":[{\"path\":\"/dev/vfio/7\",\"uid\":0,\"gid\":0,\"mode\":384,\"kind\":\"vfio\",\"rdev\":62914560}]}\n"
put record lent-only '{"name":"vm","uuid":"","type":"","parent":"","sysfs_root":"","created":false,"supervisor_pid":7,"lent":[{"path":"/dev/dri/renderD128","uid":1000,"gid":44,"mode":432,"kind":"drm","rdev":57984}]}\n'
put record uid-wrap "{$ok,\"lent\":[{\"path\":\"/dev/vfio/7\",\"uid\":4294967296,\"gid\":0,\"mode\":384,\"kind\":\"vfio\",\"rdev\":1}]}"
put record pid-wrap '{"name":"vm","uuid":"a297db4a-f4c2-11e6-90f6-d3b88d6c9525","sysfs_root":"/sys","created":true,"supervisor_pid":4294967297}'
put record created-string '{"name":"vm","uuid":"a297db4a-f4c2-11e6-90f6-d3b88d6c9525","sysfs_root":"/sys","created":"no","supervisor_pid":1}'
put record uuid-long '{"name":"vm","uuid":"a297db4a-f4c2-11e6-90f6-d3b88d6c9525/../x","sysfs_root":"/sys","created":true,"supervisor_pid":1}'
put record uuid-dots '{"name":"vm","uuid":"../../../../../../../../../../../../../","sysfs_root":"/sys","created":true,"supervisor_pid":1}'
put record cut-short "{$ok,\"qemu_pid\":12"
put record root-dots "{\"name\":\"vm\",\"uuid\":\"a297db4a-f4c2-11e6-90f6-d3b88d6c9525\",\"sysfs_root\":\"/tmp/../sys\",\"created\":true,\"supervisor_pid\":1}"

# spawner: the number of fds, then a request as spawner_encode_*() makes it: a head of ten little-endian 32-bit words
# (magic, kind, flags, uid, gid, groups, argc, envc, fds, the strings' length), a 64-bit memlock, the 64-bit
# capabilities a root helper keeps ($KEEP), a 32-bit setup kind ($SETUP: 1 a share's mount) and a zero word, the
# groups, then path, argv, envp and the setup's path, each ended by a NUL. Flags: 1 no-spawn, 2 an identity, 4 it
# changes, 8 a pty for QEMU, 16 the setup is read-only.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# spawner_req NAME KIND FLAGS UID GID "GROUPS" MEMLOCK NFDS ARGC ENVC STRING...
spawner_req() {
	local name=$1 kind=$2 flags=$3 uid=$4 gid=$5 groups=$6 memlock=$7 nfds=$8 argc=$9 envc=${10} s strings="" len=0 g n=0
	shift 10
	for s in "$@"; do strings+="$s\\x00"; len=$((len + ${#s} + 1)); done
	for g in $groups; do n=$((n + 1)); done
	{
		printf '%b' "$(printf '\\x%02x' "$nfds")"
		printf '%b' "$(le32 0x76675271)$(le32 "$kind")$(le32 "$flags")$(le32 "$uid")$(le32 "$gid")$(le32 "$n")"
		printf '%b' "$(le32 "$argc")$(le32 "$envc")$(le32 "$nfds")$(le32 "$len")$(le32 $((memlock & 0xffffffff)))$(le32 $((memlock >> 32)))"
		printf '%b' "$(le32 $((${KEEP:-0} & 0xffffffff)))$(le32 $((${KEEP:-0} >> 32)))$(le32 "${SETUP:-0}")$(le32 0)"
		for g in $groups; do printf '%b' "$(le32 "$g")"; done
		printf '%b' "$strings"
	} >"$c/spawner/seed-$name"
}
spawner_req qemu 1 15 64000 64000 "64000 27" 2147483648 5 3 2 /usr/bin/qemu-system-x86_64 qemu-system-x86_64 -name vm \
	PATH=/usr/bin:/bin HOME=/
spawner_req qemu-plain 1 0 0 0 "" 0 1 1 0 qemu qemu
spawner_req swtpm 2 7 64000 64000 "64000" 0 2 3 1 /usr/bin/swtpm swtpm socket --tpm2 PATH=/usr/bin
spawner_req swtpm-setup 2 6 65534 65534 "65534" 0 0 2 0 /usr/bin/swtpm_setup swtpm_setup --tpm2
spawner_req root 1 6 0 0 "0" 0 1 1 0 /bin/sh sh
spawner_req no-nul 2 0 0 0 "" 0 0 1 0 /bin/sh
KEEP=0x2001cf SETUP=1 spawner_req virtiofsd 2 16 0 0 "" 0 2 4 0 /usr/lib/qemu/virtiofsd virtiofsd --fd=3 -o \
	/run/vgpuvm/vm/fs-0

# ga: the first byte is the piece size (1 + it % 64), with 0x80 for a second sync halfway. The transcript recorded
# from qemu-ga 7.2 answers sync 12345 and commands 7 to 9; the others answer ids 1 to 3.
for f in tests/unit/data/ga/*.raw; do
	n=$(basename "$f" .raw)
	{ printf '\x07'; cat "$f"; } >"$c/ga/seed-$n"
done
put ga synced '\x00junk{"return": {}, "id": 1}\n\xff{"return": 12345}\n{"return": {"version": "7.2.22"}, "id": 1}\n{"return": {"name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "kernel-release": "6.1.0-18-amd64", "machine": "x86_64"}, "id": 2}\n{"return": [{"name": "eth0", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24}, {"ip-address-type": "ipv6", "ip-address": "fec0::5054:ff:fe12:3456", "prefix": 64}]}], "id": 3}\n'
put ga resync '\x85\xff{"return": 12345}\n{"return": {}, "id": 1}\n\xff{"return": 12346}\n{"error": {"class": "GenericError", "desc": "x"}, "id": 2}\n'
put ga stale '\x03\xff{"return": 1}\n\xff{"return": 12345.0}\n\xff{"return": "12345"}\n\xff{"return": 12345}\r\n{"return": 1, "id": 4}\n{"return": 1, "id": 9223372036854775807}\n{"return": 1, "id": -1}\n'
put ga contents '\x01\xff{"return": 12345}\n{"return": {"pretty-name": "a\\u0000b", "name": "\xc0\xaf", "version": "\xed\xa0\x80"}, "id": 2}\n{"return": [{"name": "lo", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]}, {"name": "e\\u0000", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "1.2.3.4"}]}, {"name": "eth0", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "1.2.3.999", "prefix": 1e400}, {"ip-address-type": "ipv6", "ip-address": "::1"}, {"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 4294967320}]}], "id": 3}\n'
