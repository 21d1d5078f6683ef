#!/usr/bin/env bats
# Screenshots never follow QEMU, nor a control socket's server, nor a link planted at FILE. QEMU writes into a memfd
# the supervisor lends it (add-fd); the client gets that memfd, sealed, with the reply, and writes FILE as the caller.
# A fake QEMU (tests/helpers/fake-qemu, FAKE_QEMU_SHOT) plays the QEMU that tries its luck with the path where it used
# to write screenshots; a python server run by uid 65534 plays a control socket that is not root's; the real QEMU shows
# that an honest screenshot still comes through.

load lib/vm
load lib/control
load lib/operate
load lib/assert

setup() {
	vm_setup
	operate_setup
	# uid 65534 (QEMU's user in some tests, the stranger in others) must reach what is made for it in $T.
	chmod 0711 "$T"
	SECRET=vgpuvm-secret-$BATS_TEST_NUMBER-$$-$RANDOM
	printf '%s\n' "$SECRET" > "$T/secret"
	chmod 0600 "$T/secret"
	TMPLINKS=()
}

teardown() {
	local f
	for f in "${TMPLINKS[@]}"; do
		rm -f "$f"
	done
	operate_teardown
	vm_teardown
}

# shot_profile NAME SHOT [MORE-JSON]: a VM whose fake QEMU answers screendump as FAKE_QEMU_SHOT=SHOT says (see
# fake-qemu.c), planting in $T/plant. It ignores quit and SIGTERM, so every timeout is 0: a stop is a SIGKILL at once.
shot_profile() {
	local name=$1 shot=$2 more=${3:-}
	profile "$name" "\"memory\": \"128M\", \"accel\": \"tcg\", \"serial\": \"none\", \"qemu\": \"$HELPERS/fake-qemu\", \"env\": {\"FAKE_QEMU_MODE\": \"stubborn\", \"FAKE_QEMU_SHOT\": \"$shot\", \"FAKE_QEMU_SHOT_DIR\": \"$T/plant\"}, \"shutdown\": {\"powerdown_timeout\": 0, \"quit_timeout\": 0, \"kill_timeout\": 0}${more:+, $more}"
}

stop_vm() {
	kill -TERM "$VM_PID"
	wait_vm 30
	[ "$VM_STATUS" -eq 0 ]
}

assert_secret_intact() {
	[ -f "$T/secret" ]
	[ "$(cat "$T/secret")" = "$SECRET" ]
	[ "$(stat -c '%a %u %h' "$T/secret")" = "600 0 1" ]
}

# attack N SHOT: a VM whose QEMU, as uid 65534, answers screendump with SHOT instead of writing into the fd it was
# lent. Root's `vgpuvm screenshot` fails at once, writes no FILE, and leaves alone what QEMU planted and the secret.
# SHOT_OUT gets what the client said.
attack() {
	local n=$1 shot=$2 name=attack$1 t0 ms
	rm -rf "$T/plant" "$T/out.png"
	install -d -o 65534 -g 65534 -m 0755 "$T/plant"
	shot_profile "$name" "$shot" '"user": "nobody"'
	start_vm "$name"
	wait_log 'is running'
	t0=$(date +%s%N)
	run timeout 20 "$VGPUVM" screenshot "$(vm_name "$name")" "$T/out.png"
	ms=$(elapsed_ms "$t0")
	echo "$shot -> exit $status in $ms ms: $output"
	SHOT_OUT=$output
	[[ $output != *"$SECRET"* ]]
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[ "$ms" -lt 5000 ]
	[ ! -e "$T/out.png" ]
	refute grep -rqs -- "$SECRET" "$T/out.png" "$VGPUVM_RUNTIME_DIR"
	# The supervisor did not leave a screenshot file, nor anything else, in the runtime directory.
	[ "$(ls "$VGPUVM_RUNTIME_DIR/$(vm_name "$name")" | tr '\n' ' ')" = "control lock " ]
	assert_secret_intact
	# The VM runs on.
	run "$VGPUVM" status "$(vm_name "$name")" --json
	jq -e '.state == "running"' <<<"$output"
}

@test "screenshot: QEMU plants a symlink to a root-only secret, or to /dev/zero, where it wrote before: nothing comes of it" {
	attack 1 "symlink:$T/secret"
	[[ $SHOT_OUT == *"QEMU wrote no screenshot"* ]]
	grep -q "fake-qemu: shot symlink:$T/secret: done" "$T/log"
	grep -q 'screenshot: QEMU wrote no screenshot' "$T/log"
	# Nothing was deleted: the link QEMU made is still there, untouched.
	[ "$(readlink "$T/plant/screenshot-1.png")" = "$T/secret" ]
	stop_vm
	assert_secret_intact

	attack 2 symlink:/dev/zero
	grep -q "fake-qemu: shot symlink:/dev/zero: done" "$T/log"
	[ "$(readlink "$T/plant/screenshot-1.png")" = /dev/zero ]
	stop_vm
}

@test "screenshot: QEMU plants a FIFO: the client does not hang, and fails" {
	attack 3 fifo
	grep -q "fake-qemu: shot fifo: done" "$T/log"
	[ -p "$T/plant/screenshot-1.png" ]
	stop_vm
}

@test "screenshot: QEMU hard-links a root-only file: the kernel refuses (protected_hardlinks), or nothing comes of it" {
	attack 4 "hardlink:$T/secret"
	if grep -q "fake-qemu: shot hardlink:$T/secret: Operation not permitted" "$T/log"; then
		[ "$(cat /proc/sys/fs/protected_hardlinks)" = 1 ]
		[ ! -e "$T/plant/screenshot-1.png" ]
		assert_secret_intact
	else
		grep -q "fake-qemu: shot hardlink:$T/secret: done" "$T/log"
		[ "$(stat -c %h "$T/secret")" = 2 ]
		[ "$(cat "$T/plant/screenshot-1.png")" = "$SECRET" ]
	fi
	stop_vm
}

@test "screenshot: QEMU ignores the fd and writes a PNG to the old path: nothing gets through, and the file stays" {
	attack 5 path
	grep -q "fake-qemu: shot path: done" "$T/log"
	[[ $SHOT_OUT == *"QEMU wrote no screenshot"* ]]
	png_size "$T/plant/screenshot-1.png"
	stop_vm
}

@test "screenshot: QEMU makes the memfd larger than 64 MiB: refused, nothing written" {
	attack 6 big
	[[ $SHOT_OUT == *"larger than 64 MiB"* ]]
	grep -q "fake-qemu: shot big: done" "$T/log"
	stop_vm
}

@test "screenshot: a QEMU that keeps a writable mapping is refused; one that keeps an fd cannot change what was sent" {
	# QEMU as the supervisor's own uid (an ordinary user runs the VM): it can open the memfd again read-write and map
	# it. (Run by root, QEMU has a uid of its own and cannot open the memfd again at all.)
	install -d -o 65534 -g 65534 -m 0700 "$T/userrun"
	install -d -o 65534 -g 65534 -m 0755 "$T/userout"
	shot_profile map mmap
	chmod 0644 "$T/map.json"
	: >"$T/log"
	VGPUVM_RUNTIME_DIR=$T/userrun setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/map.json" \
		</dev/null >>"$T/log" 2>&1 &
	VM_PID=$!
	wait_log 'is running'
	run env VGPUVM_RUNTIME_DIR="$T/userrun" setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		timeout 20 "$VGPUVM" screenshot "$(vm_name map)" "$T/userout/out.png"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"maps the screenshot for writing"* ]]
	grep -q 'fake-qemu: shot mmap: done' "$T/log"
	[ ! -e "$T/userout/out.png" ]
	stop_vm

	shot_profile late late
	start_vm late
	wait_log 'is running'
	# The client holds the fd while QEMU writes through the copy it kept: the seal makes that write fail.
	run timeout 20 "$CTL_PYTHON" -c "$CTL_PY" shot-late "$(ctl_socket late)"
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return.size == 67 and .return.format == "png"' <<<"${lines[0]}"
	[ "${lines[-1]}" = 89504e470d0a1a0a ]
	grep -q 'fake-qemu: late write: Operation not permitted' "$T/log"
	stop_vm
}

@test "screenshot: over the socket, the reply is {size, format} with a sealed memfd; the fake's PNG is written as the caller" {
	shot_profile png png
	start_vm png
	wait_log 'is running'
	run timeout 20 "$CTL_PYTHON" -c "$CTL_PY" shot "$(ctl_socket png)" "$T/raw.png"
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.return == {"size": 67, "format": "png"} and .id == "shot"' <<<"${lines[0]}"
	[ "${lines[1]}" = "fds 1" ]
	[ "${lines[2]}" = "fd regular size=67 sealed=yes" ]
	[ "$(png_size "$T/raw.png")" = 1x1 ]
	# QEMU got the fd with add-fd, wrote through /dev/fdset/N, and gave it back.
	grep -qE 'fake-qemu: <- \{"execute":"add-fd","arguments":\{"fdset-id":[0-9]+' "$T/log"
	grep -qE 'fake-qemu: <- \{"execute":"screendump","arguments":\{"filename":"/dev/fdset/[0-9]+","format":"png"\}' "$T/log"
	grep -qE 'fake-qemu: <- \{"execute":"remove-fd"' "$T/log"
	run timeout 20 "$VGPUVM" screenshot "$(vm_name png)" "$T/shot.png"
	[ "$status" -eq 0 ]
	cmp "$T/raw.png" "$T/shot.png"
	[ "$(stat -c '%u %a' "$T/shot.png")" = "0 644" ]
	stop_vm
}

@test "screenshot: FILE in /tmp that another user planted (symlink, FIFO, their file, a hard link) is refused, and left alone" {
	shot_profile png png
	start_vm png
	wait_log 'is running'
	name=$(vm_name png)
	base=/tmp/vgpuvm-test-$BATS_TEST_NUMBER-$$
	TMPLINKS=("$base-link.png" "$base-fifo.png" "$base-theirs.png" "$base-hard.png")
	setpriv --reuid=65534 --regid=65534 --clear-groups -- ln -s "$T/secret" "$base-link.png"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- mkfifo "$base-fifo.png"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c "echo theirs > $base-theirs.png"
	# uid 65534 may not hard-link root's file (protected_hardlinks); root plays that part.
	cp "$T/secret" "$T/secret2"
	ln "$T/secret2" "$base-hard.png"
	declare -A why=([link]="is a symbolic link" [fifo]="is not a regular file" [theirs]="belongs to another user"
		[hard]="has other hard links")
	for f in link fifo theirs hard; do
		run timeout 10 "$VGPUVM" screenshot "$name" "$base-$f.png"
		echo "$f -> $status: $output"
		[ "$status" -eq 73 ]
		[[ $output == *"$base-$f.png ${why[$f]}"* ]]
	done
	assert_secret_intact
	[ "$(readlink "$base-link.png")" = "$T/secret" ]
	[ -p "$base-fifo.png" ]
	[ "$(cat "$base-theirs.png")" = theirs ]
	[ "$(cat "$T/secret2")" = "$SECRET" ]
	stop_vm
}

@test "screenshot: root's client does not talk to a control socket that uid 65534 serves, whatever it answers" {
	evil=$T/evil
	# Root's runtime directory as root would trust it, but a VM directory anyone may write (sticky, as /tmp): the
	# socket in it is served by uid 65534, which only the server's credentials tell.
	install -d -o 0 -g 0 -m 0755 "$evil"
	install -d -o 0 -g 0 -m 1777 "$evil/vm"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL_PYTHON" -c "$CTL_PY" serve "$evil/vm/control" \
		"file:$T/secret" > "$T/serve.log" 2>&1 3>&- &
	CLIENT_PIDS+=("$!")
	wait_file "$T/serve.log" '^listening$' 10
	for c in "screenshot vm $T/stolen.png" "status vm" "qmp vm {\"execute\":\"query-status\"}"; do
		# shellcheck disable=SC2086
		VGPUVM_RUNTIME_DIR=$evil run timeout 10 "$VGPUVM" $c
		echo "vgpuvm $c -> $status: $output"
		[ "$status" -eq 77 ]
		[[ $output == *"runs as uid 65534, not root"* ]]
	done
	[ ! -e "$T/stolen.png" ]
	assert_secret_intact
	# Even its own user's client, which does talk to it, copies no path it names and deletes nothing.
	run setpriv --reuid=65534 --regid=65534 --clear-groups -- env VGPUVM_RUNTIME_DIR="$evil" \
		timeout 10 "$VGPUVM" screenshot vm "$evil/stolen.png"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"carried no file descriptor"* ]]
	[ ! -e "$evil/stolen.png" ]
	assert_secret_intact
}

@test "screenshot: a server that hands over a FIFO or /dev/zero instead of a sealed memfd is refused at once" {
	evil=$T/evil
	install -d -o 65534 -g 65534 -m 0755 "$evil" "$evil/fifo" "$evil/zero"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- mkfifo "$evil/a-fifo"
	for what in fifo zero; do
		src=$evil/a-fifo
		[ "$what" = zero ] && src=/dev/zero
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL_PYTHON" -c "$CTL_PY" serve "$evil/$what/control" \
			"fd:$src" > "$T/serve-$what.log" 2>&1 3>&- &
		CLIENT_PIDS+=("$!")
		wait_file "$T/serve-$what.log" '^listening$' 10
		t0=$(date +%s%N)
		run setpriv --reuid=65534 --regid=65534 --clear-groups -- env VGPUVM_RUNTIME_DIR="$evil" \
			timeout 10 "$VGPUVM" screenshot "$what" "$evil/out-$what.png"
		echo "$what -> $status in $(elapsed_ms "$t0") ms: $output"
		[ "$status" -ne 0 ]
		[ "$status" -ne 124 ]
		[[ $output == *"not a sealed memfd"* ]]
		[ ! -e "$evil/out-$what.png" ]
	done
}

@test "screenshot: the real QEMU's VGA display, a valid PNG owned by the caller: root, and the user who runs the VM" {
	profile vga '"memory": "128M", "accel": "tcg", "serial": "none", "display": {"type": "none"}, "extra_args": ["-device", "VGA"], "shutdown": {"powerdown_timeout": 0, "quit_timeout": 5}'
	start_vm vga
	wait_log 'is running'
	run "$VGPUVM" screenshot "$(vm_name vga)" "$T/root.png"
	echo "$output"
	[ "$status" -eq 0 ]
	size=$(png_size "$T/root.png")
	[[ $size =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]
	[ "$(stat -c %u "$T/root.png")" = 0 ]
	[ "$(ls "$VGPUVM_RUNTIME_DIR/$(vm_name vga)" | tr '\n' ' ')" = "control lock " ]
	stop_vm

	install -d -o 65534 -g 65534 -m 0700 "$T/user" "$T/user/run"
	: > "$T/log"
	VGPUVM_RUNTIME_DIR=$T/user/run setpriv --reuid=65534 --regid=65534 --clear-groups -- "$VGPUVM" run "$T/vga.json" \
		< /dev/null >> "$T/log" 2>&1 3>&- &
	VM_PID=$!
	wait_log 'is running'
	run setpriv --reuid=65534 --regid=65534 --clear-groups -- env VGPUVM_RUNTIME_DIR="$T/user/run" \
		"$VGPUVM" screenshot "$(vm_name vga)" "$T/user/user.png"
	echo "$output"
	[ "$status" -eq 0 ]
	png_size "$T/user/user.png"
	[ "$(stat -c '%u %g' "$T/user/user.png")" = "65534 65534" ]
	stop_vm
}
