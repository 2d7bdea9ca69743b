#!/bin/sh
# Check the C sources against .clang-format (clang-format 14); exit 1 if any
# file would change. Usage: check-format.sh [--fix] [--diff]
#   --fix rewrites the offending files in place; --diff shows what would change.
set -eu

fix=0
showdiff=0
for arg in "$@"; do
	case $arg in
	--fix) fix=1 ;;
	--diff) showdiff=1 ;;
	*)
		echo "usage: $0 [--fix] [--diff]" >&2
		exit 2
		;;
	esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dirs="vmm-core dev-procs proto launcher broker cli cellctl sandbox common test bench"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "check-format: $cf not found (scripts/install-deps.sh)" >&2; exit 2; }

# The files to check: tracked ones, plus new ones not ignored by .gitignore,
# when this is a git work tree; otherwise every *.c/*.h under the directories.
list=$(mktemp)
trap 'rm -f "$list" "$list.all"' EXIT
existing=""
for d in $dirs; do
	[ -d "$d" ] && existing="$existing $d"
done
if [ -n "$existing" ]; then
	# shellcheck disable=SC2086 # $existing is a list of directory names
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files --cached --others --exclude-standard -- $existing
	else
		find $existing -type f
	fi | LC_ALL=C sort -u >"$list.all"
	grep -E '\.[ch]$' "$list.all" >"$list" || true
fi

# Headers #included from assembly (*.S) are skipped: clang-format parses their
# assembler macros as C and breaks them (".pushsection .note.pvh" becomes
# ".pushsection.note.pvh"). Wrap such code in /* clang-format off/on */ instead.
asm_headers=""
if [ -s "$list.all" ]; then
	asm_headers=$(grep -E '\.S$' "$list.all" | while IFS= read -r s; do
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$s" |
			while IFS= read -r inc; do
				# Normalise "dir/./x.h" to "dir/x.h" as git prints paths.
				printf '%s\n' "$(dirname "$s")/$inc" | sed 's|/\./|/|g; s|^\./||'
			done
	done | LC_ALL=C sort -u)
fi

total=0
bad=0
while IFS= read -r f; do
	[ -f "$f" ] || continue # deleted but still in the index
	if printf '%s\n' "$asm_headers" | grep -qxF -- "$f"; then
		echo "skipped (included from assembly): $f"
		continue
	fi
	total=$((total + 1))
	if "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
		continue
	fi
	bad=$((bad + 1))
	if [ "$fix" = 1 ]; then
		"$cf" -i "$f"
		echo "formatted: $f"
	else
		echo "needs formatting: $f"
		if [ "$showdiff" = 1 ]; then
			"$cf" "$f" | diff -u "$f" - || true
		fi
	fi
done <"$list"

if [ "$bad" -eq 0 ]; then
	echo "check-format: $total files OK"
elif [ "$fix" = 1 ]; then
	echo "check-format: reformatted $bad of $total files"
else
	echo "check-format: $bad of $total files need formatting (scripts/check-format.sh --fix)" >&2
	exit 1
fi
