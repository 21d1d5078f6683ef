#!/usr/bin/env bash
# The documentation against the program, in TAP:
#   - README.md stays under 10 KB and keeps its two commands, each with what it does;
#   - the links between README.md and docs/ resolve, anchors included;
#   - each manual page renders: go-md2man without a warning, then `man --warnings` without a groff warning, and no
#     markdown is left in the text;
#   - every profile key the parser accepts (build/helpers/profile-keys) has an entry in vgpuvm-profile(5), and every
#     entry there is such a key;
#   - every command `vgpuvm --help` lists has an entry in vgpuvm(1), and every entry there is such a command.
# It reads the pages that `make man` built (make check builds them), and needs go-md2man and man-db
# (scripts/deps.sh build test).
set -u
cd "$(dirname "$0")/../.." || exit 2
VGPUVM=${VGPUVM:-$PWD/build/vgpuvm}
build=$(dirname "$VGPUVM")
pages=(vgpuvm.1 vgpuvm-profile.5 vgpuvm-control.7)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

# t DESCRIPTION COMMAND...: one test; the command's output is the diagnostic when it fails.
t() {
	local desc=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

# The lines of a markdown file outside its code blocks.
prose() {
	awk '/^[[:space:]]*```/ { code = !code; next } !code' "$1"
}

# GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
slug() {
	sed -e 's/^#* *//' | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

readme_size() {
	local size
	size=$(stat -c %s README.md) || return 1
	echo "README.md is $size bytes"
	[ "$size" -le 10240 ]
}

readme_commands() {
	local c r=0
	for c in demo check; do
		# The command at the start of a line, and after it a comment that says what it does.
		grep -qE "^make $c +# .{10,}" README.md || { echo "no line 'make $c   # what it does' in README.md"; r=1; }
	done
	return $r
}

links() {
	local f target path anchor r=0
	for f in README.md docs/*.md; do
		while IFS= read -r target; do
			case $target in http://* | https://* | mailto:*) continue ;; esac
			path=${target%%#*} anchor=
			[[ $target == *#* ]] && anchor=${target#*#}
			if [ -z "$path" ]; then
				path=$f
			else
				path=$(dirname "$f")/$path
				[ -e "$path" ] || { echo "$f: $target: no such file"; r=1; continue; }
			fi
			if [ -n "$anchor" ] && ! prose "$path" | grep -E '^#+ ' | slug | grep -qxF "$anchor"; then
				echo "$f: $target: no such heading in $path"
				r=1
			fi
		done < <(prose "$f" | grep -oE '\]\([^) ]+\)' | sed -e 's/^](//' -e 's/)$//')
	done
	return $r
}

# go-md2man accepts the page without a word, and the markdown avoids what it would pass to groff unchanged.
md2man() {
	local md=docs/$1.md err r=0
	command -v go-md2man >/dev/null || { echo "go-md2man is not installed (scripts/deps.sh build)"; return 1; }
	err=$(go-md2man -in "$md" -out "$tmp/page" 2>&1) || { echo "go-md2man failed: $err"; return 1; }
	[ -z "$err" ] || { echo "$err"; r=1; }
	[ -s "$tmp/page" ] || { echo "go-md2man wrote nothing"; r=1; }
	head -n1 "$md" | grep -qE '^% [A-Z-]+ [1-8] "DATE" "vgpuvm VERSION" "[^"]+"$' ||
		{ echo "$md: the first line is not the title % NAME SECTION \"DATE\" \"vgpuvm VERSION\" \"MANUAL\""; r=1; }
	# A line that starts with . or ' reaches groff as a request; a quote in a heading splits the .SS line.
	grep -nE "^[[:space:]]*[.']" "$md" && { echo "^ lines that groff would take as requests"; r=1; }
	prose "$md" | grep -E '^#+ .*"' && { echo "^ headings with a double quote"; r=1; }
	return $r
}

# The built page renders at 80 columns without a warning from groff, and shows no markdown.
man_page() {
	local page=$build/man/$1 md=docs/$1.md err r=0
	[ -s "$page" ] || { echo "$page is missing: run make man"; return 1; }
	[ "$md" -nt "$page" ] && { echo "$page is older than $md: run make man"; return 1; }
	command -v man >/dev/null || { echo "man is not installed (scripts/deps.sh test)"; return 1; }
	err=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$tmp/text") || { echo "man failed: $err"; return 1; }
	[ -z "$err" ] || { echo "$err"; r=1; }
	if ! grep -qx 'NAME' "$tmp/text" || ! grep -qx 'SEE ALSO' "$tmp/text"; then
		echo "no NAME or SEE ALSO section"
		r=1
	fi
	grep -nE '```|\*\*|\]\(' "$tmp/text" && { echo "^ markdown left in the text"; r=1; }
	return $r
}

profile_keys_parser() {
	local keys
	keys=$("$build/helpers/profile-keys") || return 1
	printf '%s\n' "$keys" | sort -u
}

# The entries of vgpuvm-profile(5): its ### headings, "KEY[, KEY]... (TYPE)".
profile_keys_page() {
	prose docs/vgpuvm-profile.5.md | sed -n 's/^### //p' | sed 's/ (.*//' | tr ',' '\n' | sed 's/^ *//; s/ *$//' |
		sort -u
}

keys_documented() {
	local missing
	profile_keys_parser >"$tmp/parser" || { echo "$build/helpers/profile-keys failed: run make helpers"; return 1; }
	[ -s "$tmp/parser" ] || { echo "the parser lists no key"; return 1; }
	profile_keys_page >"$tmp/page"
	missing=$(comm -23 "$tmp/parser" "$tmp/page")
	[ -z "$missing" ] || { echo "keys the parser accepts with no '### KEY (TYPE)' entry:"; echo "$missing"; return 1; }
	echo "$(wc -l <"$tmp/parser") keys"
}

keys_exist() {
	local extra
	profile_keys_parser >"$tmp/parser" || { echo "$build/helpers/profile-keys failed: run make helpers"; return 1; }
	profile_keys_page >"$tmp/page"
	[ -s "$tmp/page" ] || { echo "vgpuvm-profile.5.md has no entry"; return 1; }
	extra=$(comm -13 "$tmp/parser" "$tmp/page")
	[ -z "$extra" ] || { echo "entries that are not keys the parser accepts:"; echo "$extra"; return 1; }
}

commands_help() {
	local help
	help=$("$VGPUVM" --help) || return 1
	printf '%s\n' "$help" | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' | sort -u
}

# The entries of vgpuvm(1): its "### vgpuvm COMMAND ..." headings.
commands_page() {
	prose docs/vgpuvm.1.md | awk '/^### vgpuvm / { print $3 }' | sort -u
}

commands_documented() {
	local missing
	commands_help >"$tmp/help" || { echo "$VGPUVM --help failed"; return 1; }
	[ -s "$tmp/help" ] || { echo "vgpuvm --help lists no command"; return 1; }
	commands_page >"$tmp/page"
	missing=$(comm -23 "$tmp/help" "$tmp/page")
	[ -z "$missing" ] || { echo "commands with no '### vgpuvm COMMAND' entry:"; echo "$missing"; return 1; }
	echo "$(wc -l <"$tmp/help") commands"
}

commands_exist() {
	local extra
	commands_help >"$tmp/help" || { echo "$VGPUVM --help failed"; return 1; }
	commands_page >"$tmp/page"
	[ -s "$tmp/page" ] || { echo "vgpuvm.1.md has no command entry"; return 1; }
	extra=$(comm -13 "$tmp/help" "$tmp/page")
	[ -z "$extra" ] || { echo "entries for commands vgpuvm --help does not list:"; echo "$extra"; return 1; }
}

echo "1..$((3 + 2 * ${#pages[@]} + 4))"
t "README.md is at most 10240 bytes" readme_size
t "README.md still has make demo and make check, each with what it does" readme_commands
t "the links in README.md and docs/ resolve" links
for p in "${pages[@]}"; do
	t "go-md2man renders docs/$p.md without a warning" md2man "$p"
done
for p in "${pages[@]}"; do
	t "man --warnings renders $p at 80 columns without a warning" man_page "$p"
done
t "every profile key the parser accepts has an entry in vgpuvm-profile(5)" keys_documented
t "every entry in vgpuvm-profile(5) is a key the parser accepts" keys_exist
t "every command vgpuvm --help lists has an entry in vgpuvm(1)" commands_documented
t "every command entry in vgpuvm(1) is one vgpuvm --help lists" commands_exist
[ "$failed" -eq 0 ]
