#!/bin/sh
# run_interop.sh DIRECTION ESCRIPT TOOL SCRIPT_DIR [COUNT]
#
# Interoperability with a real Erlang, one direction per run:
#   erlang-to-grove  gen_terms.escript writes COUNT seeded random terms with
#                    term_to_binary/1; TOOL (interop_decode) checks that
#                    Grove decodes and re-encodes each byte for byte.
#   grove-to-erlang  TOOL (interop_encode) builds COUNT seeded random terms
#                    with Grove; check_terms.escript checks that Erlang's
#                    binary_to_term/1 reads each and term_to_binary/1 gives
#                    the same bytes back.
# The seed is GROVE_INTEROP_SEED when set, else a fixed one; it is printed
# so a failure can be replayed. COUNT defaults to 10000 (GROVE_INTEROP_COUNT
# overrides). Fails (never skips) when Erlang is missing.
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 erlang-to-grove|grove-to-erlang ESCRIPT TOOL SCRIPT_DIR [COUNT]" >&2
    exit 64
fi
direction=$1
escript=$2
tool=$3
dir=$4
count=${GROVE_INTEROP_COUNT:-${5:-10000}}
seed=${GROVE_INTEROP_SEED:-20240611}

if [ ! -x "$escript" ]; then
    echo "FAIL: escript not found ('$escript'): the interoperability tests need Erlang" >&2
    echo "      (apt-get install erlang-nox), then configure the build again" >&2
    exit 1
fi
case $seed in
'' | *[!0-9]*) echo "FAIL: GROVE_INTEROP_SEED must be a decimal number, not '$seed'" >&2; exit 1 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "interop $direction: seed $seed (set GROVE_INTEROP_SEED to change it), $count terms"

case $direction in
erlang-to-grove)
    "$escript" "$dir/gen_terms.escript" "$tmp/terms.bin" "$count" "$seed" ||
        { echo "FAIL: gen_terms.escript failed" >&2; exit 1; }
    "$tool" "$tmp/terms.bin" || { echo "FAIL: seed $seed" >&2; exit 1; }
    ;;
grove-to-erlang)
    "$tool" "$tmp/terms.bin" "$count" "$seed" || { echo "FAIL: seed $seed" >&2; exit 1; }
    "$escript" "$dir/check_terms.escript" "$tmp/terms.bin" ||
        { echo "FAIL: seed $seed" >&2; exit 1; }
    ;;
*)
    echo "FAIL: unknown direction $direction" >&2
    exit 64
    ;;
esac
