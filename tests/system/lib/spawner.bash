# Finding the spawner (supervisor/launch/spawner.c) and its socket pair from outside, for the tests that check that
# no QEMU ever holds either end.

# The supervisor's child called vgpuvm-spawner.
spawner_of() {
	local p
	for p in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = vgpuvm-spawner ] && echo "$p"
	done
	return 0
}

# socket_inodes PID: the inodes of the sockets PID holds, one a line.
socket_inodes() {
	local f
	for f in /proc/"$1"/fd/*; do
		readlink "$f" 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p'
	done
}

# spawner_pair SPAWNER: the inodes of its socket pair, its end then the supervisor's ($VM_PID's). Fails unless the
# supervisor holds the other end: a check against inodes that are not the pair's would mean nothing.
spawner_pair() {
	local ino peer
	ino=$(socket_inodes "$1")
	[ -n "$ino" ] || return 1
	peer=$(ss -xa | awk -v i="$ino" '$6 == i { print $8 }')
	[ -n "$peer" ] || return 1
	socket_inodes "$VM_PID" | grep -qx "$peer" || return 1
	echo "$ino $peer"
}

# refute_holds PID INODE...: PID holds none of these sockets.
refute_holds() {
	local pid=$1 i; shift
	for i in "$@"; do
		if socket_inodes "$pid" | grep -qx "$i"; then
			echo "pid $pid holds socket $i"; return 1
		fi
	done
}


# spawner_status_of PID FIELD: a field of /proc/PID/status.
spawner_status_of() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

# The spawner: no capability but what spawning needs, NO_NEW_PRIVS, its own filter, one fd (its socket), the
# supervisor's child.
check_spawner() {
	local sp=$1 eff bnd fds
	[ -n "$sp" ]
	[ "$(spawner_status_of "$sp" PPid)" = "$VM_PID" ]
	[ "$(spawner_status_of "$sp" NoNewPrivs)" = 1 ]
	[ "$(spawner_status_of "$sp" Seccomp)" = 2 ]
	# CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_RESOURCE at most, in every set; as root, at least the ids.
	eff=$((16#$(spawner_status_of "$sp" CapEff)))
	bnd=$((16#$(spawner_status_of "$sp" CapBnd)))
	[ $((eff & ~0x1000001c0)) -eq 0 ]
	[ $((bnd & ~0x1000001c0)) -eq 0 ]
	[ $((16#$(spawner_status_of "$sp" CapPrm) & ~0x1000001c0)) -eq 0 ]
	[ $((eff & 0xc0)) -eq $((0xc0)) ]
	fds=$(ls /proc/"$sp"/fd)
	[ "$(wc -w <<<"$fds")" -eq 1 ]
}
