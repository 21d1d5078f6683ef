# shellcheck shell=bash
# Bash completion for vgpuvm: its commands and their options, profile names from the lookup path (vgpuvm(1), PROFILE),
# the names of the running VMs, and from the host: mdev types for --set vgpu.type=, parents for --set vgpu.parent=,
# the UUIDs of existing mdevs for --uuid.
#
# The commands and each command's options are read from vgpuvm's own --help, so that they cannot drift from it. It
# needs nothing of the bash-completion package; installed as PREFIX/share/bash-completion/completions/vgpuvm, that
# package loads it the first time vgpuvm is completed.

# _vgpuvm_add WORD CANDIDATE...: the candidates that start with WORD into COMPREPLY. Bash splits a word at the '=' and
# ':' of COMP_WORDBREAKS ("vgpu.type=mdpy", "0000:00:02.0") and replaces only the last piece, so each reply is cut
# the same way.
_vgpuvm_add() {
	local word=$1 prefix='' c i
	shift
	for ((i = ${#word} - 1; i >= 0; i--)); do
		c=${word:i:1}
		if [[ ($c == = || $c == :) && $COMP_WORDBREAKS == *"$c"* ]]; then
			prefix=${word:0:i+1}
			break
		fi
	done
	for c; do
		if [[ $c == "$word"* ]]; then
			COMPREPLY+=("${c#"$prefix"}")
		fi
	done
	return 0
}

# _vgpuvm_sysfs: the sysfs root vgpuvm reads ($VGPUVM_SYSFS_ROOT in tests).
_vgpuvm_sysfs() { printf '%s\n' "${VGPUVM_SYSFS_ROOT:-/sys}"; }

# The mdev parents and their types, as `vgpuvm types` finds them: PCI devices and /sys/class/mdev_bus.
_vgpuvm_parents() {
	local s d
	s=$(_vgpuvm_sysfs)
	for d in "$s"/class/mdev_bus/* "$s"/bus/pci/devices/*; do
		[ -d "$d/mdev_supported_types" ] && printf '%s\n' "${d##*/}"
	done | sort -u
}
_vgpuvm_types() {
	local s d
	s=$(_vgpuvm_sysfs)
	for d in "$s"/class/mdev_bus/*/mdev_supported_types/* "$s"/bus/pci/devices/*/mdev_supported_types/*; do
		[ -d "$d" ] && printf '%s\n' "${d##*/}"
	done | sort -u
}
_vgpuvm_mdevs() {
	local d
	for d in "$(_vgpuvm_sysfs)"/bus/mdev/devices/*; do
		[ -e "$d" ] && printf '%s\n' "${d##*/}"
	done
}

# _vgpuvm_profiles BINARY: the profile names of the lookup path, in its order: $VGPUVM_PROFILE_PATH, the user's
# ($XDG_CONFIG_HOME or ~/.config)/vgpuvm/profiles, /etc/vgpuvm/profiles, and the stock profiles where this binary
# finds them (PREFIX/share/vgpuvm/profiles beside PREFIX/bin, or profiles/stock of a source tree).
_vgpuvm_profiles() {
	local bin dirs=() d f IFS=:
	# shellcheck disable=SC2206 # split at colons, as vgpuvm does
	[ -n "${VGPUVM_PROFILE_PATH:-}" ] && dirs+=($VGPUVM_PROFILE_PATH)
	unset IFS
	if [[ ${XDG_CONFIG_HOME:-} == /* ]]; then
		dirs+=("$XDG_CONFIG_HOME/vgpuvm/profiles")
	elif [[ ${HOME:-} == /* ]]; then
		dirs+=("$HOME/.config/vgpuvm/profiles")
	fi
	dirs+=(/etc/vgpuvm/profiles)
	bin=$(type -P "$1" 2>/dev/null) && bin=$(readlink -f "$bin") && bin=${bin%/*} &&
		dirs+=("$bin/../share/vgpuvm/profiles" "$bin/profiles/stock" "$bin/../profiles/stock")
	for d in "${dirs[@]}"; do
		for f in "$d"/*.json; do
			[ -f "$f" ] && f=${f##*/} && printf '%s\n' "${f%.json}"
		done
	done | awk '!seen[$0]++'
}

# _vgpuvm_vms BINARY: the names of the running VMs, from `vgpuvm list`.
_vgpuvm_vms() {
	"$1" list 2>/dev/null | awk 'NR == 1 && $1 != "NAME" { exit } NR > 1 { print $1 }'
}

_vgpuvm() {
	local bin line word prev cmd='' i n=0 w
	COMPREPLY=()
	# The word under the cursor and the one before it, as the shell splits them (at blanks only), so that
	# "--set vgpu.type=mdpy" is one word here even though bash's COMP_WORDS has it in three.
	line=${COMP_LINE:0:COMP_POINT}
	word=${line##*[[:space:]]}
	line=${line%"$word"}
	line=${line%"${line##*[![:space:]]}"}
	prev=${line##*[[:space:]]}
	# The command, and how many arguments it has before the word (options and their values not counted).
	read -r -a w <<<"$line"
	bin=${w[0]}
	for ((i = 1; i < ${#w[@]}; i++)); do
		case ${w[i]} in
		--set | --uuid | --timeout | --textfile) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=${w[i]}; else n=$((n + 1)); fi ;;
		esac
	done

	if [ -z "$cmd" ]; then
		if [[ $word == -* ]]; then
			_vgpuvm_add "$word" --help --version
		else
			# shellcheck disable=SC2046
			_vgpuvm_add "$word" $("$bin" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
		fi
		return 0
	fi

	case $prev in
	--set)
		case $word in
		vgpu.type=*)
			# shellcheck disable=SC2046
			_vgpuvm_add "$word" $(_vgpuvm_types | sed 's/^/vgpu.type=/')
			;;
		vgpu.parent=*)
			# shellcheck disable=SC2046
			_vgpuvm_add "$word" $(_vgpuvm_parents | sed 's/^/vgpu.parent=/')
			;;
		*)
			_vgpuvm_add "$word" vgpu.type= vgpu.parent=
			compopt -o nospace 2>/dev/null || true
			;;
		esac
		return 0
		;;
	--uuid)
		# shellcheck disable=SC2046
		_vgpuvm_add "$word" $(_vgpuvm_mdevs)
		return 0
		;;
	--timeout) return 0 ;;
	--textfile)
		# metrics writes a *.prom file, the name node_exporter's textfile collector reads.
		compopt -o filenames 2>/dev/null || true
		mapfile -t COMPREPLY < <(compgen -d -- "$word" || :; compgen -f -X '!*.prom' -- "$word" || :)
		return 0
		;;
	esac

	if [[ $word == -* ]]; then
		# shellcheck disable=SC2046
		_vgpuvm_add "$word" $("$bin" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u) --help
		return 0
	fi
	case $cmd in
	run | argv | check | doctor)
		[ "$n" -eq 0 ] || return 0
		# shellcheck disable=SC2046
		_vgpuvm_add "$word" $(_vgpuvm_profiles "$bin")
		# A path works too: a directory or a .json file.
		if [[ $word == */* || $word == .* ]]; then
			compopt -o filenames 2>/dev/null || true
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$word" || :; compgen -f -X '!*.json' -- "$word" || :)
		fi
		;;
	status | stop | screenshot | qmp | cleanup | viewer | usb)
		if [ "$n" -eq 0 ]; then
			# shellcheck disable=SC2046
			_vgpuvm_add "$word" $(_vgpuvm_vms "$bin")
		elif [ "$cmd" = screenshot ] && [ "$n" -eq 1 ]; then
			compopt -o filenames 2>/dev/null || true
			mapfile -t COMPREPLY < <(compgen -d -- "$word" || :; compgen -f -X '!*.png' -- "$word" || :)
		elif [ "$cmd" = usb ] && [ "$n" -eq 1 ]; then
			_vgpuvm_add "$word" attach detach
		elif [ "$cmd" = usb ] && [ "$n" -eq 2 ]; then
			# The host's USB devices, by port (an id can be ambiguous; a port never is).
			local port ports=()
			for port in /sys/bus/usb/devices/[0-9]*-*; do
				port=${port##*/}
				[[ -e /sys/bus/usb/devices/$port && $port != *:* ]] && ports+=("$port")
			done
			_vgpuvm_add "$word" "${ports[@]}"
		fi
		;;
	esac
	return 0
}
complete -F _vgpuvm vgpuvm
