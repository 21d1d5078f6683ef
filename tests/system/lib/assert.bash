# Assertions that fail a bats test for real. In bats, `! cmd` and all but the last `[ a ] && [ b ]` of a test do not
# fail it (bash's set -e ignores them), so use these, or one `[ ]` per line.

# refute CMD...: fails when CMD succeeds.
refute() {
	if "$@"; then
		echo "expected to fail, but succeeded: $*"
		return 1
	fi
}
