#!/bin/sh
# grove_term_golden.sh GROVE_TERM GOLDEN_DIR
#
# The command-line tool against the golden vectors (tests/data/golden):
#   - for every NAME.etf: `grove-term decode < NAME.etf` prints NAME.txt and
#     a newline, and piping that into `grove-term encode` gives NAME.etf
#     back byte for byte; `grove-term encode < NAME.txt` gives NAME.etf;
#   - for every NAME.input.etf: decode | encode gives NAME.etf;
#   - for every NAME.input.txt: encode gives NAME.etf;
#   - every bad/NAME.etf makes `decode` exit with 65 and say why on stderr,
#     every bad_text/NAME.txt does the same for `encode`.
# Reports every failure, then exits 1 if there was any.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 GROVE_TERM GOLDEN_DIR" >&2
    exit 64
fi
tool=$1
dir=$2
[ -x "$tool" ] || { echo "FAIL: $tool is not an executable" >&2; exit 1; }
[ -d "$dir" ] || { echo "FAIL: $dir is not a directory" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/grove-term-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
count=0

say_fail() {
    echo "FAIL $*" >&2
    fail=$((fail + 1))
}

show_diff() {   # expected actual
    echo "  expected: $(od -An -tu1 -N64 "$1" | tr -s ' \n' ' ')... ($(wc -c < "$1") bytes)" >&2
    echo "  actual:   $(od -An -tu1 -N64 "$2" | tr -s ' \n' ' ')... ($(wc -c < "$2") bytes)" >&2
    echo "  first difference: $(cmp "$1" "$2" 2>&1 | head -n 1)" >&2
}

# decode_encode IN EXPECTED_ETF NAME
decode_encode() {
    if ! "$tool" decode < "$1" > "$tmp/text" 2> "$tmp/err"; then
        say_fail "$3: grove-term decode failed: $(head -c 300 "$tmp/err")"
        return
    fi
    if ! "$tool" encode < "$tmp/text" > "$tmp/etf" 2> "$tmp/err"; then
        say_fail "$3: grove-term encode of decode's output failed: $(head -c 300 "$tmp/err")"
        echo "  text: $(head -c 300 "$tmp/text")" >&2
        return
    fi
    if ! cmp -s "$2" "$tmp/etf"; then
        say_fail "$3: decode | encode does not give back $(basename "$2")"
        show_diff "$2" "$tmp/etf"
    fi
}

for etf in "$dir"/*.etf; do
    case $etf in *.input.etf) continue ;; esac
    name=$(basename "$etf" .etf)
    count=$((count + 1))
    decode_encode "$etf" "$etf" "$name"

    # decode prints exactly NAME.txt and a newline
    { cat "$dir/$name.txt"; echo; } > "$tmp/want_text"
    if "$tool" decode < "$etf" > "$tmp/text" 2>/dev/null && ! cmp -s "$tmp/want_text" "$tmp/text"; then
        say_fail "$name: grove-term decode does not print $name.txt"
        echo "  expected: $(head -c 200 "$tmp/want_text" | cat -v)" >&2
        echo "  actual:   $(head -c 200 "$tmp/text" | cat -v)" >&2
    fi

    # encode of the golden text gives the golden bytes
    if ! "$tool" encode < "$dir/$name.txt" > "$tmp/etf" 2> "$tmp/err"; then
        say_fail "$name: grove-term encode < $name.txt failed: $(head -c 300 "$tmp/err")"
    elif ! cmp -s "$etf" "$tmp/etf"; then
        say_fail "$name: grove-term encode < $name.txt does not give $name.etf"
        show_diff "$etf" "$tmp/etf"
    fi
done

for input in "$dir"/*.input.etf; do
    [ -e "$input" ] || continue
    name=$(basename "$input" .input.etf)
    count=$((count + 1))
    decode_encode "$input" "$dir/$name.etf" "$name.input"
done

for input in "$dir"/*.input.txt; do
    [ -e "$input" ] || continue
    name=$(basename "$input" .input.txt)
    count=$((count + 1))
    if ! "$tool" encode < "$input" > "$tmp/etf" 2> "$tmp/err"; then
        say_fail "$name: grove-term encode < $name.input.txt failed: $(head -c 300 "$tmp/err")"
    elif ! cmp -s "$dir/$name.etf" "$tmp/etf"; then
        say_fail "$name: grove-term encode < $name.input.txt does not give $name.etf"
        show_diff "$dir/$name.etf" "$tmp/etf"
    fi
done

# expect_65 MODE FILE
expect_65() {
    "$tool" "$1" < "$2" > "$tmp/out" 2> "$tmp/err"
    status=$?
    if [ "$status" -ne 65 ]; then
        say_fail "$(basename "$2"): grove-term $1 exited with $status, expected 65"
    elif [ ! -s "$tmp/err" ]; then
        say_fail "$(basename "$2"): grove-term $1 exited with 65 but said nothing on stderr"
    fi
}

bad=0
for f in "$dir"/bad/*.etf; do
    [ -e "$f" ] || continue
    bad=$((bad + 1))
    expect_65 decode "$f"
done
for f in "$dir"/bad_text/*.txt; do
    [ -e "$f" ] || continue
    bad=$((bad + 1))
    expect_65 encode "$f"
done

if [ "$count" -lt 100 ] || [ "$bad" -lt 50 ]; then
    say_fail "too few vectors in $dir ($count good, $bad bad): is the golden set there?"
fi
echo "grove-term: $count golden vectors, $bad bad inputs, $fail failures"
[ "$fail" -eq 0 ]
