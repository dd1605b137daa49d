#!/bin/sh
# make_corpus.sh - refreshes the fuzz targets' seed corpora from the golden
# vectors (tests/data/golden), skipping the few vectors over 8 KiB so that
# fuzzing stays fast, adds the inputs that once crashed a target
# (tests/fuzz/regressions/<target>/), and writes the matcher's seed patterns.
# tests/erlang/make_golden runs it after writing the vectors.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/../data/golden
corpus=$here/corpus
max=8192

rm -rf "$corpus/fuzz_term_decode" "$corpus/fuzz_term_parse" "$corpus/fuzz_term_match"
mkdir -p "$corpus/fuzz_term_decode" "$corpus/fuzz_term_parse" "$corpus/fuzz_term_match"

small() { [ "$(wc -c < "$1")" -le "$max" ]; }

for f in "$golden"/*.etf; do
    small "$f" && cp "$f" "$corpus/fuzz_term_decode/$(basename "$f")"
done
for f in "$golden"/bad/*.etf; do
    small "$f" && cp "$f" "$corpus/fuzz_term_decode/bad_$(basename "$f")"
done
for f in "$golden"/*.txt; do
    small "$f" && cp "$f" "$corpus/fuzz_term_parse/$(basename "$f")"
done
for f in "$golden"/bad_text/*.txt; do
    small "$f" && cp "$f" "$corpus/fuzz_term_parse/bad_$(basename "$f")"
done

# Inputs that once broke a target (tests/fuzz/regressions/<target>/).
for dir in "$here"/regressions/*/; do
    target=$(basename "$dir")
    for f in "$dir"*; do
        [ -f "$f" ] && cp "$f" "$corpus/$target/regression_$(basename "$f")"
    done
done

# Patterns for the matcher: literals, placeholders of every kind, '_',
# [H | T] and map patterns.
n=0
while IFS= read -r pattern; do
    n=$((n + 1))
    printf '%s' "$pattern" > "$corpus/fuzz_term_match/pattern_$n"
done <<'PATTERNS'
{deposit, ~i}
{deposit, ~l}
{deposit, ~u}
{deposit, _}
{_, _}
_
~t
~i
~l
~u
~f
~a
~s
~b
~p
~r
[~i | ~t]
[_ | _]
[~i, ~i, ~i]
[a | ~a]
{ok, [~i, ~l, ~f, ~b, ~s, ~a, #{a => ~i}]}
{ok, [_ | ~t]}
#{a => ~i}
#{b => {~a, ~a}}
#{1 => ~t, 2.0 => ~a}
#{}
#Pid<node@host.85.0.1234>
~p
{~a, {~a, {~a, {~a}}}}
{'$gen_call', {~p, [alias | ~r]}, {get, ~a}}
{'EXIT', ~p, {~a, [{_, _, ~i, []}]}}
18446744073709551616
~u
-9223372036854775809
[{k, ~t}, {~a, v2}]
<<>>
[]
{}
PATTERNS
echo "fuzz corpora: $(ls "$corpus/fuzz_term_decode" | wc -l) decode, $(ls "$corpus/fuzz_term_parse" | wc -l) parse, $n match seeds"
