#!/usr/bin/env bats
# The serial console with "serial": "stdio": QEMU gets a pty of its own in a session of its own, never the user's
# terminal, and vgpuvm relays between that pty and its stdin and stdout. A terminal is in raw mode for the run and is
# restored on every way out; Ctrl-A x stops the VM. The terminal tests run vgpuvm under script(1), which gives it a
# real one (a pty that is the controlling terminal of a session of its own), with input fed through a FIFO.

load lib/vm
load lib/assert

setup() {
	vm_setup
	# QEMU's user must be able to reach the runtime directory (0711 on the way, as /run is).
	chmod 0711 "$T"
	TERM_FD=
}

teardown() {
	if [ -n "$TERM_FD" ]; then
		exec {TERM_FD}>&-
	fi
	vm_teardown
}

# plain NAME [MORE-JSON]: a VM with no guest and no vGPU, its serial on stdio.
plain() {
	profile "$1" "\"memory\": \"64M\", \"accel\": \"tcg\", \"serial\": \"stdio\", \"display\": {\"type\": \"none\"}, \"shutdown\": {\"powerdown_timeout\": 1, \"quit_timeout\": 5}${2:+, $2}"
}

# on_terminal COMMAND: runs a shell command line under script(1) in the background, everything on its terminal in
# $T/log. Its input is the FIFO $T/in, open for writing on $TERM_FD (type with printf >&"$TERM_FD"). VM_PID is script's,
# which exits with the command line's status (wait_vm waits for it). bats's own fd 3 stays out of it.
on_terminal() {
	mkfifo "$T/in"
	: >"$T/log"
	script -qfec "$1" /dev/null <"$T/in" >>"$T/log" 2>&1 3>&- &
	VM_PID=$!
	exec {TERM_FD}>"$T/in"
}

# stat_field PID N: field N of /proc/PID/stat (4 ppid, 6 session, 7 tty_nr), read after the command's name.
stat_field() {
	sed 's/^.*) //' "/proc/$1/stat" | awk -v n="$2" '{ print $(n - 2) }'
}

# wait_count PATTERN COUNT [SECONDS]: until COUNT lines of the log match an extended regex.
wait_count() {
	local i
	for ((i = 0; i < ${3:-60} * 10; i++)); do
		[ "$(grep -cE -- "$1" "$T/log")" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "--- fewer than $2 lines matching '$1'; log:"; cat "$T/log"
	return 1
}

# The last QEMU's pid, where qemu_pid gives the first.
last_qemu_pid() {
	sed -n 's/.*started QEMU (pid \([0-9]*\)).*/\1/p' "$T/log" | tail -n1
}

# is_raw TTY: the terminal has no line editing, no echo and no keyboard signals.
is_raw() {
	local a
	a=" $(stty -F "$1" -a | tr '\n;' '  ') "
	[[ $a == *" -icanon "* && $a == *" -echo "* && $a == *" -isig "* ]]
}

@test "a program in QEMU's place cannot push a command into the user's terminal: own session, no terminal of the user's" {
	mkdir -m 0777 "$T/out"
	plain vm "\"user\": \"nobody\", \"qemu\": \"$HELPERS/try-escape\", \"env\": {\"TRY_ESCAPE_REPORT\": \"$T/out/report\", \"TRY_ESCAPE_TIOCSTI\": \"touch $T/pwned\"}"
	# After vgpuvm, a shell reads the same terminal, as root's login shell would: what was pushed, it would run.
	on_terminal "$VGPUVM run $T/vm.json; echo vgpuvm-exit=\$?; exec sh -i"
	wait_log 'is running'
	q=$(qemu_pid)
	sup=$(stat_field "$q" 4)
	user_tty=$(readlink "/proc/$sup/fd/0")
	[[ $user_tty == /dev/pts/* ]]
	# The supervisor has the terminal as its controlling terminal; QEMU leads a session of its own, without one.
	[ "$(stat_field "$sup" 7)" != 0 ]
	[ "$(stat_field "$q" 6)" = "$q" ]
	[ "$(stat_field "$q" 6)" != "$(stat_field "$sup" 6)" ]
	[ "$(stat_field "$q" 7)" = 0 ]
	# None of QEMU's fds is the user's terminal: stdin and stdout are a pty of its own, stderr a pipe.
	refute grep -qxF "$user_tty" < <(for fd in /proc/"$q"/fd/*; do readlink "$fd"; done)
	[[ $(readlink "/proc/$q/fd/0") == /dev/pts/* ]]
	[ "$(readlink "/proc/$q/fd/1")" = "$(readlink "/proc/$q/fd/0")" ]
	[[ $(readlink "/proc/$q/fd/2") == pipe:* ]]
	cat "$T/out/report"
	grep -qx done "$T/out/report"
	grep -q '^TIOCSTI on fd 0: refused' "$T/out/report"
	grep -q '^TIOCSTI on fd 1: refused' "$T/out/report"
	grep -q '^TIOCSTI on /dev/tty: refused' "$T/out/report"
	refute grep -q ALLOWED "$T/out/report"

	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_log 'vgpuvm-exit=0' 30
	printf 'exit\n' >&"$TERM_FD"
	wait_vm 30
	cat "$T/log"
	[ ! -e "$T/pwned" ]
	refute grep -q "seccomp filter refused" "$T/log"
	assert_clean vm
}

@test "the terminal is raw while QEMU runs and its settings come back after a stop and after QEMU is SIGKILLed" {
	plain vm
	on_terminal "stty -g >$T/before; $VGPUVM run $T/vm.json; echo vgpuvm-exit=\$?; stty -g >$T/after"
	wait_log 'is running'
	tty=$(readlink "/proc/$(stat_field "$(qemu_pid)" 4)/fd/0")
	is_raw "$tty"
	grep -q 'the serial console is on this terminal: Ctrl-A x stops the VM' "$T/log"
	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'vgpuvm-exit=0' "$T/log"
	[ -s "$T/before" ]
	[ "$(cat "$T/after")" = "$(cat "$T/before")" ]
	exec {TERM_FD}>&-
	TERM_FD=

	rm -f "$T/in" "$T/before" "$T/after"
	on_terminal "stty -g >$T/before; $VGPUVM run $T/vm.json; echo vgpuvm-exit=\$?; stty -g >$T/after"
	wait_log 'is running'
	kill -KILL "$(qemu_pid)"
	wait_vm 30
	grep -q 'vgpuvm-exit=137' "$T/log"
	[ -s "$T/before" ]
	[ "$(cat "$T/after")" = "$(cat "$T/before")" ]
	assert_clean vm
}

@test "the terminal is the user's again between tries of a restart policy, and raw again for the next QEMU" {
	plain vm '"restart": "on-failure", "restart_delay": 3'
	on_terminal "stty -g >$T/before; $VGPUVM run $T/vm.json; echo vgpuvm-exit=\$?; stty -g >$T/after"
	wait_log 'is running'
	tty=$(readlink "/proc/$(stat_field "$(qemu_pid)" 4)/fd/0")
	is_raw "$tty"
	kill -KILL "$(qemu_pid)"
	wait_log 'restarting in'
	refute is_raw "$tty"
	[ "$(stty -F "$tty" -g)" = "$(cat "$T/before")" ]
	wait_count 'is running' 2
	is_raw "$tty"
	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	grep -q 'vgpuvm-exit=0' "$T/log"
	[ "$(cat "$T/after")" = "$(cat "$T/before")" ]
	assert_clean vm
}

@test "the terminal comes back when QEMU fails to start" {
	plain vm '"extra_args": ["-no-such-option"]'
	on_terminal "stty -g >$T/before; $VGPUVM run $T/vm.json; echo vgpuvm-exit=\$?; stty -g >$T/after"
	wait_vm 30
	grep -q 'vgpuvm-exit=1' "$T/log"
	grep -q "qemu: .*-no-such-option" "$T/log"
	[ -s "$T/before" ]
	[ "$(cat "$T/after")" = "$(cat "$T/before")" ]
	assert_clean vm
}

@test "through pipes, the guest's console comes out on stdout and what is written on stdin reaches it, Ctrl-A and all" {
	load lib/guest
	guest_profile echo echo '"shutdown": {"powerdown_timeout": 30}'
	mkfifo "$T/in"
	: >"$T/log"
	"$VGPUVM" run "$T/echo.json" <"$T/in" >>"$T/log" 2>&1 3>&- &
	VM_PID=$!
	exec {TERM_FD}>"$T/in"
	wait_log VGPUVM-GUEST-READY 60
	printf 'ping\n' >&"$TERM_FD"
	wait_log 'VGPUVM-GUEST-GOT 70696e67[[:space:]]*$' 30
	# Not a terminal: Ctrl-A is no escape, and goes to the guest as written.
	printf '\001x\n' >&"$TERM_FD"
	wait_log 'VGPUVM-GUEST-GOT 0178[[:space:]]*$' 30
	kill -TERM "$VM_PID"
	wait_vm 60
	[ "$VM_STATUS" -eq 0 ]
	grep -q VGPUVM-GUEST-POWEROFF "$T/log"
	assert_clean echo
}

@test "on a terminal, Ctrl-C and Ctrl-A Ctrl-A reach the guest, Ctrl-A h helps, Ctrl-A x powers it off (exit 0)" {
	load lib/guest
	guest_profile echo echo '"shutdown": {"powerdown_timeout": 30}'
	on_terminal "$VGPUVM run $T/echo.json"
	wait_log VGPUVM-GUEST-READY 60
	sup=$(stat_field "$(qemu_pid)" 4)
	printf 'a\001\001b\003c\n' >&"$TERM_FD"
	wait_log 'VGPUVM-GUEST-GOT 6101620363[[:space:]]*$' 30
	# Ctrl-C was a byte for the guest, not a SIGINT for vgpuvm.
	kill -0 "$sup"
	refute grep -q 'got SIGINT' "$T/log"
	printf '\001h' >&"$TERM_FD"
	wait_log 'notice: console: Ctrl-A x stops the VM' 10
	printf '\001x' >&"$TERM_FD"
	wait_vm 60
	cat "$T/log"
	[ "$VM_STATUS" -eq 0 ]
	grep -q 'shutdown: Ctrl-A x was typed on the console; pressing the power button' "$T/log"
	grep -q 'event SHUTDOWN: guest=true reason=guest-shutdown' "$T/log"
	assert_clean echo
}

@test "in the background of an interactive shell, vgpuvm neither reads nor changes the terminal, and is not stopped" {
	plain vm
	on_terminal "bash --norc -ic '$VGPUVM run $T/vm.json & wait \$!; echo vgpuvm-exit=\$?'"
	wait_log 'is running'
	sup=$(stat_field "$(qemu_pid)" 4)
	tty=$(readlink "/proc/$sup/fd/0")
	refute is_raw "$tty"
	# Reading the terminal from the background would stop vgpuvm (SIGTTIN): typed input is left for the shell.
	printf 'true\n' >&"$TERM_FD"
	sleep 0.5
	[ "$(stat_field "$sup" 3)" != T ]
	grep -q 'stdin is a terminal vgpuvm does not have in the foreground: the serial console takes no input' "$T/log"
	run "$VGPUVM" stop "$(vm_name vm)"
	[ "$status" -eq 0 ]
	wait_vm 30
	grep -q 'vgpuvm-exit=0' "$T/log"
	assert_clean vm
}
