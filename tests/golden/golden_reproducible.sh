#!/bin/sh
# golden_reproducible.sh ESCRIPT MAKE_GOLDEN_ESCRIPT GOLDEN_DIR
#
# Runs the generator of the golden vectors with this machine's Erlang into
# a scratch directory and checks that it writes exactly the committed
# vectors: they are what Erlang's term_to_binary/1 gives, not hand-edited.
# Maps over 32 keys are the exception: Erlang writes them in its internal
# hash order, which for atom keys depends on the VM's atom table and so
# differs between installations; their map_*.input.etf files must decode,
# in this Erlang, to the same map as a fresh run's.
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
if ! diff -r "$golden" "$tmp" -x README.md -x 'map_*.input.etf' > "$tmp.diff" 2>&1; then
    echo "FAIL: the committed vectors in $golden differ from what Erlang writes now:" >&2
    head -n 40 "$tmp.diff" >&2
    rm -f "$tmp.diff"
    exit 1
fi
rm -f "$tmp.diff"
cat > "$tmp.same_term.escript" <<'ERL'
%% the first line of an escript is skipped
main(Pairs) ->
    Bad = [{A, B} || [A, B] <- pairs(Pairs),
                     binary_to_term(read(A)) =/= binary_to_term(read(B))],
    case Bad of
        [] -> ok;
        _ -> io:format(standard_error, "FAIL: different maps: ~p~n", [Bad]), halt(1)
    end.
pairs([A, B | T]) -> [[A, B] | pairs(T)];
pairs([]) -> [].
read(F) -> {ok, Bin} = file:read_file(F), Bin.
ERL
args=""
for f in "$tmp"/map_*.input.etf; do
    name=$(basename "$f")
    if [ ! -f "$golden/$name" ]; then
        echo "FAIL: $golden/$name is missing (a fresh run writes it)" >&2
        exit 1
    fi
    args="$args $golden/$name $f"
done
for f in "$golden"/map_*.input.etf; do
    [ -f "$tmp/$(basename "$f")" ] || { echo "FAIL: $f is not written by a fresh run" >&2; exit 1; }
done
# shellcheck disable=SC2086
"$escript" "$tmp.same_term.escript" $args || { rm -f "$tmp.same_term.escript"; exit 1; }
rm -f "$tmp.same_term.escript"
echo "golden vectors: identical to a fresh run of $(basename "$script")"
