# shellcheck shell=bash
# The Linux test guest on taps on bridges: reports its devices; then for each "MAC ADDR PEER" of $NICS (separated by
# ';') gives the NIC with that MAC the address ADDR (CIDR) and pings PEER (the bridge's address on the host), writing
# "ping PEER ok" or "ping PEER failed"; and powers off.
#   params: NICS
set -u
. "$E2E_TOP/tests/guest-linux/lib.sh"
params
load_drivers
out=$E2E_WORK/report
report_devices >"$out"
IFS=';' read -ra nics <<<"$NICS"
for n in "${nics[@]}"; do
	read -r mac addr peer <<<"$n"
	dev=$(awk -v m="$mac" '$1 == "nic" && $3 == m { print $2 }' "$out")
	if [ -z "$dev" ]; then
		echo "no nic $mac" >>"$out"
		continue
	fi
	ip link set "$dev" up
	ip addr add "$addr" dev "$dev"
	# The link may take a while to come up under TCG (e1000e's autonegotiation): try for up to 30 s.
	ok=false
	for _ in $(seq 15); do
		if ping_ -c 1 -W 2 "$peer" >/dev/null 2>&1; then
			ok=true
			break
		fi
	done
	if $ok; then
		echo "ping $peer ok" >>"$out"
	else
		echo "ping $peer failed" >>"$out"
		ip addr show "$dev" >>"$out" 2>&1
	fi
done
