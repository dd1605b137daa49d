#!/bin/sh
# golden_reproducible.sh ESCRIPT MAKE_GOLDEN_ESCRIPT GOLDEN_DIR
#
# Runs the generator of the golden vectors with this machine's Erlang into
# a scratch directory and checks that it writes exactly the committed
# vectors: they are what Erlang's term_to_binary/1 gives, not hand-edited.
# Fails (never skips) when Erlang is missing.
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 ESCRIPT MAKE_GOLDEN_ESCRIPT GOLDEN_DIR" >&2
    exit 64
fi
escript=$1
script=$2
golden=$3
if [ ! -x "$escript" ]; then
    echo "FAIL: escript not found ('$escript'): install Erlang (apt-get install erlang-nox)" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
"$escript" "$script" "$tmp" || { echo "FAIL: $script failed" >&2; exit 1; }
if ! diff -r "$golden" "$tmp" -x README.md > "$tmp.diff" 2>&1; then
    echo "FAIL: the committed vectors in $golden differ from what Erlang writes now:" >&2
    head -n 40 "$tmp.diff" >&2
    rm -f "$tmp.diff"
    exit 1
fi
rm -f "$tmp.diff"
echo "golden vectors: identical to a fresh run of $(basename "$script")"
