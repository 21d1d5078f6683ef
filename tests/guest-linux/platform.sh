# shellcheck shell=bash
# The Linux test guest's view of its platform: UEFI (and a variable it keeps in the NVRAM), the TPM (its version, its
# reset count, which the TPM keeps in its own NV state, and whether an EK certificate is there). It writes the
# variable from $E2E_WORK/mark when there is none yet, so that a second run reads what the first one wrote.
set -u
report=$E2E_WORK/report
: >"$report"
say() { echo "$*" >>"$report"; }

if [ -d /sys/firmware/efi ]; then
	say "efi yes"
	modprobe efivarfs 2>/dev/null
	mountpoint -q /sys/firmware/efi/efivars || mount -t efivarfs efivarfs /sys/firmware/efi/efivars
	var=/sys/firmware/efi/efivars/VgpuvmTest-4a3b2c1d-0000-4000-8000-766770766d31
	if [ -e "$var" ]; then
		say "efivar $(cat "$var" | tail -c +5)"
	else
		say "efivar none"
		# Non-volatile, boot service and runtime access: 0x7, little-endian, before the data.
		printf '\x07\x00\x00\x00%s' "$(cat "$E2E_WORK/mark")" >"$var" && say "efivar written"
	fi
	sb=$(ls /sys/firmware/efi/efivars/SecureBoot-* 2>/dev/null | head -n1)
	[ -n "$sb" ] && say "secureboot $(od -An -tu1 -j4 -N1 "$sb" | tr -d ' ')"
else
	say "efi no"
fi

modprobe tpm_crb 2>/dev/null
modprobe tpm_tis 2>/dev/null
for _ in $(seq 50); do
	[ -e /sys/class/tpm/tpm0/tpm_version_major ] && break
	sleep 0.1
done
if [ -e /sys/class/tpm/tpm0/tpm_version_major ]; then
	say "tpm $(cat /sys/class/tpm/tpm0/tpm_version_major)"
	say "tpm-driver $(basename "$(readlink -f /sys/class/tpm/tpm0/device/driver)")"
	# TPM2_ReadClock: the reset count goes up by one at each boot, in the TPM's own persistent state; TPM2_NV_ReadPublic
	# of 0x01c00002: the RSA EK certificate swtpm_setup stores there.
	python3 - >>"$report" <<'PY'
import struct
with open("/dev/tpm0", "r+b", buffering=0) as t:
    t.write(struct.pack(">HII", 0x8001, 10, 0x181))
    r = t.read(4096)
    rc = struct.unpack(">I", r[6:10])[0]
    if rc == 0:
        time, clock, resets, restarts = struct.unpack(">QQII", r[10:34])
        print("tpm-resets %d" % resets)
    t.write(struct.pack(">HIII", 0x8001, 14, 0x169, 0x01c00002))
    r = t.read(4096)
    print("tpm-ekcert %s" % ("yes" if struct.unpack(">I", r[6:10])[0] == 0 else "no"))
PY
else
	say "tpm none"
fi
