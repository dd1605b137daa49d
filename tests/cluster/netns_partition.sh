#!/usr/bin/env bash
# netns_partition.sh GROVE_NODE_BINARY
#
# A network partition between two grove-node daemons, each in its own
# network namespace, joined by a veth pair (docs/cluster-tests.md):
#
#   1. both sides see nodeup;
#   2. silent loss (every frame between them is dropped, nothing is
#      refused): both sides see nodedown for net_tick_timeout, never
#      before nodedown_ms after the last frame they received;
#   3. healed: both sides see nodeup again, on a new session;
#   4. the link itself goes down: both sides see nodedown again;
#   5. healed: a third session;
#   6. SIGTERM stops both daemons gracefully (exit status 0).
# Throughout, each side reports nodeup and nodedown alternately.
#
# Needs root and iproute2 (ip). A setup that cannot run FAILS; this test
# never skips. Namespaces, links and daemons are removed on every exit
# (a trap), and namespaces left by a driver that was killed outright are
# removed by the next run. The daemons' logs are kept (and their path
# printed) when the test fails, or always with GROVE_NETNS_KEEP_LOGS=1.
set -euo pipefail
export LC_ALL=C

HEARTBEAT_MS=100
NODEDOWN_MS=800
PORT=7946
START_TIMEOUT_MS=30000 # daemons may start slowly under sanitizers
DOWN_TIMEOUT_MS=$((10 * NODEDOWN_MS))
HEAL_TIMEOUT_MS=30000 # redials back off up to 5 s, then a handshake
PREFIX=grove-part

NETNS_WHO=netns_partition
# shellcheck source=netns_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns_lib.sh"

bin=${1:-}
[[ -n $bin ]] || fail "usage: $0 GROVE_NODE_BINARY"
[[ -x $bin ]] || fail "grove-node binary '$bin' is not executable"
netns_require
netns_claim 'a|b'

ns_a=$PREFIX-$tag-a
ns_b=$PREFIX-$tag-b
veth_a=gpa$tag
veth_b=gpb$tag
net=10.254.$((RANDOM % 256))
addr_a=$net.1
addr_b=$net.2
name_a=a@$addr_a
name_b=b@$addr_b
work=$(mktemp -d "${TMPDIR:-/tmp}/grove-netns.XXXXXX")
log_a=$work/a.log
log_b=$work/b.log
pid_a=
pid_b=
passed=0

cleanup() {
    local rc=$?
    set +e
    netns_teardown "$pid_a" "$pid_b" -- "$ns_a" "$ns_b"
    if ((passed == 0)); then
        for f in "$log_a" "$log_b"; do
            [[ -f $f ]] || continue
            say "---- last lines of $(basename "$f") ----"
            tail -n 40 "$f" >&2
        done
    fi
    if ((passed)) && [[ -z ${GROVE_NETNS_KEEP_LOGS:-} ]]; then
        rm -rf "$work"
    else
        say "logs kept in $work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the network -------------------------------------------------------------

ip netns add "$ns_a" || fail "cannot create network namespace $ns_a"
ip netns add "$ns_b" || fail "cannot create network namespace $ns_b"
ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b" ||
    fail "cannot create the veth pair $veth_a/$veth_b"
ip -n "$ns_a" addr add "$addr_a/30" dev "$veth_a" || fail "cannot address $veth_a"
ip -n "$ns_b" addr add "$addr_b/30" dev "$veth_b" || fail "cannot address $veth_b"
for ns in $ns_a $ns_b; do ip -n "$ns" link set lo up || fail "cannot bring lo up in $ns"; done
ip -n "$ns_a" link set "$veth_a" up || fail "cannot bring $veth_a up"
ip -n "$ns_b" link set "$veth_b" up || fail "cannot bring $veth_b up"
say "namespaces $ns_a ($addr_a) and $ns_b ($addr_b), work dir $work"

# ---- the daemons --------------------------------------------------------------

netns_daemon_setup

# start_node NS NAME ADDR SEEDS LOG: runs grove-node in NS; sets $started.
start_node() {
    ip netns exec "$1" "${deathsig[@]}" env GROVE_NODE="$2" GROVE_LISTEN="$3:$PORT" GROVE_SEEDS="$4" \
        GROVE_COOKIE="$cookie" GROVE_HEARTBEAT_MS=$HEARTBEAT_MS GROVE_NODEDOWN_MS=$NODEDOWN_MS \
        GROVE_SCHEDULERS=1 GROVE_LOG=trace "$bin" 2>"$5" </dev/null &
    started=$!
}

start_node "$ns_a" "$name_a" "$addr_a" "" "$log_a"
pid_a=$started
start_node "$ns_b" "$name_b" "$addr_b" "$addr_a:$PORT" "$log_b"
pid_b=$started

# alive: both daemons still run (a daemon that died is a failure now).
alive() {
    local p st
    for p in $pid_a $pid_b; do
        if ! kill -0 "$p" 2>/dev/null; then
            st=0
            wait "$p" || st=$?
            fail "grove-node (pid $p) exited unexpectedly, status $st"
        fi
    done
}

# count LOG EVENT PEER: how many "transport EVENT peer=PEER" lines LOG holds.
count() {
    grep -c " transport $2 peer=$3 " "$1" 2>/dev/null || true
}

# wait_count LOG EVENT PEER N TIMEOUT_MS: until LOG holds N such lines.
wait_count() {
    local deadline=$(($(now_ms) + $5))
    while (($(count "$1" "$2" "$3") < $4)); do
        alive
        (($(now_ms) < deadline)) ||
            fail "$(basename "$1"): no $2 #$4 for $3 within $5 ms (have $(count "$1" "$2" "$3"))"
        sleep 0.02
    done
}

# nth_line LOG EVENT PEER N: the N-th such line.
nth_line() {
    grep " transport $2 peer=$3 " "$1" | sed -n "$4p"
}

# line_ms LINE: its timestamp (the first field, UTC) in ms since the epoch.
line_ms() {
    date -d "${1%% *}" +%s%3N
}

# Sessions, from the frames GROVE_LOG=trace logs with their sender's
# session id. A side reports nodeup while it handles a frame from the peer
# on the peer's link of that session, so the last frame from the peer
# logged before the N-th nodeup names the N-th session's link. Other
# frames from the peer are probes and, after healing, frames of older
# links (TCP retransmits what it held when the link was cut): Grove
# ignores those, and so do these functions.

# frame_awk: the awk prologue the functions below share: $6 is peer=...,
# sid() the frame's session id, newer() compares ids (16 hex digits, as
# strings).
frame_awk='
    function newer(a, b) { return ("x" a) > ("x" b) }
    function sid() { return substr($7, 9) }
    function is_frame() { return $3 == "transport" && $4 == "frame" && $6 == peer && $7 ~ /^session=/ }
    function is_event(e) { return $3 == "transport" && $4 == e && $5 == peer }
'

# link_of LOG PEER N: the session id of PEER's link in the N-th session.
link_of() {
    awk -v peer="peer=$2" -v n="$3" "$frame_awk"'
        is_frame() { last = sid() }
        is_event("nodeup") && ++ups == n { print last; exit }
    ' "$1"
}

# newest_before_down LOG PEER N: the highest session id of any frame from
# PEER before the N-th nodedown.
newest_before_down() {
    awk -v peer="peer=$2" -v n="$3" "$frame_awk"'
        is_event("nodedown") && ++downs == n { exit }
        is_frame() && (top == "" || newer(sid(), top)) { top = sid() }
        END { print top }
    ' "$1"
}

# frames_on LOG PEER N SID: how many frames from PEER carried SID after the
# N-th nodeup.
frames_on() {
    awk -v peer="peer=$2" -v n="$3" -v want="$4" "$frame_awk"'
        is_event("nodeup") { ups++ }
        ups >= n && is_frame() && sid() == want { c++ }
        END { print c + 0 }
    ' "$1"
}

# last_rx LOG PEER N: the time (log text) of the last frame LOG received
# on PEER's link of the N-th session before the N-th nodedown: the last
# sign of life it had.
last_rx() {
    local link
    link=$(link_of "$1" "$2" "$3")
    awk -v peer="peer=$2" -v n="$3" -v want="$link" "$frame_awk"'
        is_event("nodedown") && ++downs == n { exit }
        is_frame() && sid() == want { last = $1 }
        END { print last }
    ' "$1"
}

# alternating LOG PEER: nodeup and nodedown for PEER alternate, starting
# with nodeup (a second nodeup without a nodedown between would tell the
# layer above about a session twice).
alternating() {
    local bad
    bad=$(awk -v peer="peer=$2" '
        $3 == "transport" && $5 == peer && ($4 == "nodeup" || $4 == "nodedown") {
            if (($4 == "nodeup") == up) { print NR ": " $0; exit }
            up = ($4 == "nodeup")
        }' "$1")
    [[ -z $bad ]] || fail "$(basename "$1"), line ${bad%%:*}: $(cut -d' ' -f4 <<<"${bad#*: }") for $2 twice in a row: ${bad#*: }"
}

# reason_of LINE: the reason= value.
reason_of() {
    sed -n 's/.* reason=\([^ ]*\).*/\1/p' <<<"$1"
}

# ---- 1. the mesh forms ------------------------------------------------------------

wait_count "$log_a" nodeup "$name_b" 1 $START_TIMEOUT_MS
wait_count "$log_b" nodeup "$name_a" 1 $START_TIMEOUT_MS
say "nodeup on both sides"
# A little steady state: heartbeats flow, nothing flaps.
sleep $(((3 * NODEDOWN_MS) / 1000)).$(((3 * NODEDOWN_MS) % 1000 / 100))
alive
[[ $(count "$log_a" nodedown "$name_b") == 0 && $(count "$log_b" nodedown "$name_a") == 0 ]] ||
    fail "nodedown before any cut"

# partition ROUND CUT_CMD HEAL_CMD SILENT: cuts, waits for nodedown on both
# sides, heals, waits for nodeup on both; sessions must be new. SILENT=1
# also asserts the timing and the reason (silence, not an error).
partition() {
    local round=$1 cut=$2 heal=$3 silent=$4
    local t_cut t_heal line t reason side log peer deadline rx t_rx old link
    t_cut=$(now_ms)
    eval "$cut" || fail "round $round: cannot cut the link"
    say "round $round: cut ($cut)"
    wait_count "$log_a" nodedown "$name_b" "$round" $DOWN_TIMEOUT_MS
    wait_count "$log_b" nodedown "$name_a" "$round" $DOWN_TIMEOUT_MS
    alternating "$log_a" "$name_b"
    alternating "$log_b" "$name_a"
    for side in a b; do
        if [[ $side == a ]]; then log=$log_a peer=$name_b; else log=$log_b peer=$name_a; fi
        line=$(nth_line "$log" nodedown "$peer" "$round")
        t=$(line_ms "$line")
        reason=$(reason_of "$line")
        rx=$(last_rx "$log" "$peer" "$round")
        [[ -n $rx ]] || fail "round $round: $side: no frame from $peer logged in session $round"
        t_rx=$(line_ms "$rx")
        say "round $round: $side saw nodedown $((t - t_cut)) ms after the cut, $((t - t_rx)) ms after the last frame from $peer (which came $((t_rx - t_cut)) ms after the cut began), reason=$reason"
        # Never before nodedown_ms of real silence (-1: both times are
        # truncated to the millisecond). Measured from the last frame, not
        # from the cut: a heartbeat the peer sent late (a busy machine)
        # makes the silence start before the cut.
        ((t - t_rx >= NODEDOWN_MS - 1)) ||
            fail "round $round: $side saw nodedown $((t - t_rx)) ms after the last frame from $peer, before the configured silence ($NODEDOWN_MS ms)"
        if ((silent)); then
            [[ $reason == net_tick_timeout ]] ||
                fail "round $round: $side saw nodedown for '$reason', expected net_tick_timeout"
        fi
        # no new session while cut
        (($(count "$log" nodeup "$peer") == round)) ||
            fail "round $round: $side saw nodeup while the link was cut"
    done
    # Stay apart a while: redials and seed probes must fail meanwhile.
    sleep 1
    alive
    alternating "$log_a" "$name_b"
    alternating "$log_b" "$name_a"
    (($(count "$log_a" nodeup "$name_b") == round && $(count "$log_b" nodeup "$name_a") == round)) ||
        fail "round $round: nodeup while the link was cut"
    t_heal=$(now_ms)
    eval "$heal" || fail "round $round: cannot restore the link"
    say "round $round: healed ($heal)"
    wait_count "$log_a" nodeup "$name_b" $((round + 1)) $HEAL_TIMEOUT_MS
    wait_count "$log_b" nodeup "$name_a" $((round + 1)) $HEAL_TIMEOUT_MS
    alternating "$log_a" "$name_b"
    alternating "$log_b" "$name_a"
    for side in a b; do
        if [[ $side == a ]]; then log=$log_a peer=$name_b; else log=$log_b peer=$name_a; fi
        line=$(nth_line "$log" nodeup "$peer" $((round + 1)))
        t=$(line_ms "$line")
        ((t >= t_heal)) || fail "round $round: $side saw nodeup before the link was restored"
        # The new session runs on a link newer than anything the peer
        # sent before the cut, and heartbeats keep coming on it.
        old=$(newest_before_down "$log" "$peer" "$round")
        link=$(link_of "$log" "$peer" $((round + 1)))
        [[ ${#old} -eq 16 && ${#link} -eq 16 ]] ||
            fail "round $round: $side: no session ids in the frames logged from $peer ('$old', '$link')"
        [[ $link > $old ]] ||
            fail "round $round: $side: the session after healing runs on $peer's link $link, not newer than $old (before the cut)"
        deadline=$(($(now_ms) + DOWN_TIMEOUT_MS))
        while (($(frames_on "$log" "$peer" $((round + 1)) "$link") < 3)); do
            alive
            (($(now_ms) < deadline)) ||
                fail "round $round: $side: no heartbeats from $peer on link $link after nodeup"
            sleep 0.05
        done
        say "round $round: $side nodeup again $((t - t_heal)) ms after healing, on $peer's link $link (newest before the cut: $old)"
    done
    alternating "$log_a" "$name_b"
    alternating "$log_b" "$name_a"
}

# Round 1, silent loss: each side's neighbour entry for the other is
# pinned to a MAC address nobody has, so every frame leaves the veth and
# is dropped by the receiving end (not addressed to it). Nothing is
# refused and no error reaches the sockets: only silence tells.
bogus_mac=02:00:5e:00:53:01
cut1="ip -n $ns_a neigh replace $addr_b lladdr $bogus_mac dev $veth_a nud permanent &&
      ip -n $ns_b neigh replace $addr_a lladdr $bogus_mac dev $veth_b nud permanent"
heal1="ip -n $ns_a neigh del $addr_b dev $veth_a && ip -n $ns_b neigh del $addr_a dev $veth_b"
partition 1 "$cut1" "$heal1" 1

# Round 2, the link goes down (A's end; B's loses its carrier): routes
# vanish on A, so its sends fail locally, but open TCP connections are not
# reset; the sessions still end on silence.
cut2="ip -n $ns_a link set $veth_a down"
heal2="ip -n $ns_a link set $veth_a up"
partition 2 "$cut2" "$heal2" 0

# ---- 6. graceful stop -------------------------------------------------------------

alive
kill -TERM "$pid_a" "$pid_b"
status_a=0
status_b=0
wait "$pid_a" || status_a=$?
wait "$pid_b" || status_b=$?
pid_a=
pid_b=
((status_a == 0 && status_b == 0)) ||
    fail "grove-node exit status after SIGTERM: a=$status_a b=$status_b (expected 0)"
# Each side told of each session once, and of its end once.
alternating "$log_a" "$name_b"
alternating "$log_b" "$name_a"
# UBSan reports without stopping the program: read the logs too.
for f in "$log_a" "$log_b"; do
    if grep -qE 'runtime error:|(Address|Thread|Leak|UndefinedBehavior)Sanitizer' "$f"; then
        fail "sanitizer report in $(basename "$f")"
    fi
done
passed=1
say "PASS"
