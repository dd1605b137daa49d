#!/usr/bin/env bash
# netns_three.sh MODE PART_NODE_BINARY
#
# Three grove-nodes (tests/cluster/part_node.c), each in its own network
# namespace, joined by a bridge in a fourth; the traffic of each pair can
# be cut on its own, silently (docs/cluster-tests.md).
#
# MODE registry: A is cut from B and C; both sides register the same
#   names (each side succeeds), and names only one side has; after
#   healing every node holds the same table, each name has exactly one
#   owner, alive, chosen by the documented rule (higher epoch, then the
#   greater node name), each loser got {name_conflict, Name, Winner}, and
#   no node ever saw the epoch of a name decrease.
# MODE cluster_sup: six children of a cluster-wide supervisor spread over
#   the three nodes; then (1) C is cut from A and B: C stops its children,
#   never before nodedown_ms after the cut, and starts none while cut; A
#   and B restart them, never before 2 x nodedown_ms after the cut; healed,
#   every child runs once; (2) only A and C are cut (B hears both): the
#   children keep running, each somewhere; healed again, each once.
#   Throughout, no child runs on two nodes at once (checked on the
#   intervals each node reports it running, every 100 ms).
#
# Needs root and iproute2 (ip). A setup that cannot run FAILS; this test
# never skips. Namespaces and daemons are removed on every exit (a trap);
# namespaces left by a driver killed outright are removed by the next run.
# Logs are kept (path printed) on failure, or always with
# GROVE_NETNS_KEEP_LOGS=1.
set -euo pipefail
export LC_ALL=C

HEARTBEAT_MS=100
NODEDOWN_MS=600
PORT=7946
START_TIMEOUT_MS=30000 # daemons may start slowly under sanitizers
DOWN_TIMEOUT_MS=$((10 * NODEDOWN_MS))
HEAL_TIMEOUT_MS=30000 # redials back off up to 5 s, then a handshake
PREFIX=grove3

NETNS_WHO=netns_three
# shellcheck source=netns_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns_lib.sh"

mode=${1:-}
bin=${2:-}
[[ $mode == registry || $mode == cluster_sup ]] || fail "usage: $0 registry|cluster_sup PART_NODE_BINARY"
[[ -n $bin && -x $bin ]] || fail "part_node binary '$bin' is not executable"
netns_require
netns_claim 'a|b|c|br'

NODES=(a b c)
ns_br=$PREFIX-$tag-br
declare -A ns addr name dev log cmd pid
net=10.253.$((RANDOM % 256))
i=1
for x in "${NODES[@]}"; do
    ns[$x]=$PREFIX-$tag-$x
    addr[$x]=$net.$i
    name[$x]=$x@$net.$i
    dev[$x]=gn$x
    i=$((i + 1))
done
work=$(mktemp -d "${TMPDIR:-/tmp}/grove-netns3.XXXXXX")
for x in "${NODES[@]}"; do
    log[$x]=$work/$x.log
    cmd[$x]=$work/$x.cmd
    : >"${cmd[$x]}"
    pid[$x]=
done
passed=0

cleanup() {
    local rc=$? x
    set +e
    netns_teardown "${pid[@]}" -- "${ns[@]}" "$ns_br"
    if ((passed == 0)); then
        for x in "${NODES[@]}"; do
            [[ -f ${log[$x]} ]] || continue
            say "---- last lines of $x.log ----"
            grep -v ' state t=' "${log[$x]}" | tail -n 30 >&2
            grep ' state t=' "${log[$x]}" | tail -n 3 >&2
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

# ---- the network: a bridge in its own namespace, one veth pair per node ----------

ip netns add "$ns_br" || fail "cannot create network namespace $ns_br"
ip -n "$ns_br" link add br0 type bridge || fail "cannot create a bridge in $ns_br"
ip -n "$ns_br" link set br0 up || fail "cannot bring the bridge up"
for x in "${NODES[@]}"; do
    ip netns add "${ns[$x]}" || fail "cannot create network namespace ${ns[$x]}"
    ip link add "${dev[$x]}" netns "${ns[$x]}" type veth peer name "gb$x" netns "$ns_br" ||
        fail "cannot create the veth pair of $x"
    ip -n "$ns_br" link set "gb$x" master br0 || fail "cannot attach $x's veth to the bridge"
    ip -n "$ns_br" link set "gb$x" up || fail "cannot bring the bridge port of $x up"
    ip -n "${ns[$x]}" addr add "${addr[$x]}/24" dev "${dev[$x]}" || fail "cannot address ${dev[$x]}"
    ip -n "${ns[$x]}" link set lo up || fail "cannot bring lo up in ${ns[$x]}"
    ip -n "${ns[$x]}" link set "${dev[$x]}" up || fail "cannot bring ${dev[$x]} up"
done
say "namespaces ${ns[a]} ${ns[b]} ${ns[c]} on $net.0/24 (bridge in $ns_br), work dir $work"

# cut_link X Y / heal_link X Y: silent loss between X and Y only. Each side's
# neighbour entry for the other is pinned to a MAC address nobody has:
# frames still leave, the bridge floods them, and no veth accepts them.
bogus_mac=02:00:5e:00:53:01
cut_link() {
    ip -n "${ns[$1]}" neigh replace "${addr[$2]}" lladdr $bogus_mac dev "${dev[$1]}" nud permanent &&
        ip -n "${ns[$2]}" neigh replace "${addr[$1]}" lladdr $bogus_mac dev "${dev[$2]}" nud permanent ||
        fail "cannot cut $1-$2"
}
heal_link() {
    ip -n "${ns[$1]}" neigh del "${addr[$2]}" dev "${dev[$1]}" &&
        ip -n "${ns[$2]}" neigh del "${addr[$1]}" dev "${dev[$2]}" ||
        fail "cannot heal $1-$2"
}

# ---- the daemons -------------------------------------------------------------------

netns_daemon_setup

start_node() {
    local x=$1 seeds=$2
    ip netns exec "${ns[$x]}" "${deathsig[@]}" env GROVE_NODE="${name[$x]}" \
        GROVE_LISTEN="${addr[$x]}:$PORT" GROVE_SEEDS="$seeds" GROVE_COOKIE="$cookie" \
        GROVE_HEARTBEAT_MS=$HEARTBEAT_MS GROVE_NODEDOWN_MS=$NODEDOWN_MS GROVE_SCHEDULERS=2 \
        GROVE_LOG=info PART_CMD="${cmd[$x]}" "$bin" 2>"${log[$x]}" </dev/null 9>&- &
    pid[$x]=$!
}
start_node a ""
start_node b "${addr[a]}:$PORT"
start_node c "${addr[a]}:$PORT"

alive() {
    local x st
    for x in "${NODES[@]}"; do
        if ! kill -0 "${pid[$x]}" 2>/dev/null; then
            st=0
            wait "${pid[$x]}" || st=$?
            pid[$x]=
            fail "node $x exited unexpectedly, status $st"
        fi
    done
}

# count X EVENT Y: how many "transport EVENT peer=Y" lines X's log holds.
count() {
    grep -c " transport $2 peer=${name[$3]} " "${log[$1]}" 2>/dev/null || true
}

# wait_for TIMEOUT_MS WHAT CMD...: until CMD succeeds.
wait_for() {
    local timeout=$1 what=$2
    shift 2
    local deadline=$(($(now_ms) + timeout))
    until "$@"; do
        alive
        (($(now_ms) < deadline)) || fail "$what: not within $timeout ms"
        sleep 0.05
    done
}

count_at_least() { (($(count "$1" "$2" "$3") >= $4)); }

# wait_sessions X Y N: both X and Y saw nodeup of the other N times.
wait_sessions() {
    wait_for $HEAL_TIMEOUT_MS "nodeup #$3 of $2 on $1" count_at_least "$1" nodeup "$2" "$3"
    wait_for $HEAL_TIMEOUT_MS "nodeup #$3 of $1 on $2" count_at_least "$2" nodeup "$1" "$3"
}
wait_down() {
    wait_for $DOWN_TIMEOUT_MS "nodedown #$3 of $2 on $1" count_at_least "$1" nodedown "$2" "$3"
    wait_for $DOWN_TIMEOUT_MS "nodedown #$3 of $1 on $2" count_at_least "$2" nodedown "$1" "$3"
}

# send X LINE: a command for X's node (one write: the node runs only
# complete lines).
send() { printf '%s\n' "$2" >>"${cmd[$1]}"; }

# state X: X's latest state line, if it is fresh (written in the last
# second); empty otherwise.
state() {
    local line t
    line=$(grep '^part state t=' "${log[$1]}" | tail -n 1 || true)
    [[ -n $line ]] || return 0
    t=$(field "$line" t)
    (($(now_ms) - t < 1000)) && printf '%s\n' "$line"
    return 0
}

# field LINE KEY: the value of KEY= in LINE.
field() {
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1
}

# ---- properties over whole logs ------------------------------------------------------

# no_double: no child id is reported running on two nodes at overlapping
# times, nor twice in one line. Each node's samples give intervals in which
# the child certainly ran there (from its first to its last consecutive
# sample); two intervals of one id on two nodes that overlap are two copies
# running at the same instant.
no_double() {
    local bad
    bad=$(awk '
        function close_all(node, t,   k, id) {
            for (k in open) {
                split(k, part, SUBSEP)
                if (part[1] != node) continue
                id = part[2]
                if (!(id in seen)) { iv[++n] = node " " id " " open[k] " " last[k]; delete open[k] }
            }
        }
        FNR == 1 { node = FILENAME; sub(/.*\//, "", node); sub(/\.log$/, "", node) }
        $1 == "part" && $2 == "state" {
            t = substr($3, 3) # kept as text: large numbers may print as 1.8e+12
            r = substr($4, 9)
            split("", seen)
            m = split(r, ids, ",")
            for (j = 1; j <= m; j++) {
                if (ids[j] == "") continue
                if (ids[j] in seen) { print "twice in one sample on " node " at t=" t ": " $0; exit }
                seen[ids[j]] = 1
                k = node SUBSEP ids[j]
                if (!(k in open)) open[k] = t
                last[k] = t
            }
            close_all(node, t)
        }
        END {
            for (k in open) { split(k, part, SUBSEP); iv[++n] = part[1] " " part[2] " " open[k] " " last[k] }
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
                split(iv[i], p); split(iv[j], q)
                if (p[2] == q[2] && p[1] != q[1] && p[3] + 0 <= q[4] + 0 && q[3] + 0 <= p[4] + 0) {
                    print "child " p[2] " ran on " p[1] " from t=" p[3] " to t=" p[4] " and on " q[1] " from t=" q[3] " to t=" q[4]
                    exit
                }
            }
        }' "${log[a]}" "${log[b]}" "${log[c]}")
    [[ -z $bad ]] || fail "a child ran twice: $bad"
}

# epochs_never_decrease: in each node's state lines, the epoch of each
# name never goes down (also across the name's absence).
epochs_never_decrease() {
    local x bad
    for x in "${NODES[@]}"; do
        bad=$(awk '
            $1 == "part" && $2 == "state" {
                names = substr($6, 7)
                m = split(names, e, ",")
                for (j = 1; j <= m; j++) {
                    if (e[j] == "") continue
                    k = split(e[j], f, ":")
                    if ((f[1] in top) && f[k] + 0 < top[f[1]]) {
                        print "name " f[1] " epoch " f[k] " after " top[f[1]] " at " $3; exit
                    }
                    if (!(f[1] in top) || f[k] + 0 > top[f[1]]) top[f[1]] = f[k] + 0
                }
            }' "${log[$x]}")
        [[ -z $bad ]] || fail "node $x: an epoch decreased: $bad"
    done
}

sanitizer_clean() {
    local x
    for x in "${NODES[@]}"; do
        if grep -qE 'runtime error:|(Address|Thread|Leak|UndefinedBehavior)Sanitizer' "${log[$x]}"; then
            fail "sanitizer report in $x.log"
        fi
    done
}

stop_all() {
    local x st bad=""
    alive
    for x in "${NODES[@]}"; do kill -TERM "${pid[$x]}"; done
    for x in "${NODES[@]}"; do
        st=0
        wait "${pid[$x]}" || st=$?
        pid[$x]=
        ((st == 0)) || bad="$bad $x=$st"
    done
    [[ -z $bad ]] || fail "exit status after SIGTERM:$bad (expected 0)"
    sanitizer_clean
}

# ---- 1. the mesh ----------------------------------------------------------------------

for pair in "a b" "a c" "b c"; do
    # shellcheck disable=SC2086
    set -- $pair
    wait_for $START_TIMEOUT_MS "nodeup of $2 on $1" count_at_least "$1" nodeup "$2" 1
    wait_for $START_TIMEOUT_MS "nodeup of $1 on $2" count_at_least "$2" nodeup "$1" 1
done
has_state() { [[ -n $(state a) && -n $(state b) && -n $(state c) ]]; }
wait_for $START_TIMEOUT_MS "state lines from every node" has_state
say "full mesh, every node reporting"

# ---- registry -----------------------------------------------------------------------------

# reg_line X NAME N: the N-th "part registered name=NAME" line of X (or
# its failure).
reg_result() {
    grep -E "^part (registered|register_failed) name=$2 " "${log[$1]}" | sed -n "${3}p"
}
has_reg() { [[ -n $(reg_result "$1" "$2" "$3") ]]; }
has_unreg() { grep -q "^part unregistered name=$2 " "${log[$1]}"; }

# register X NAME N: sends it, waits for the N-th result of NAME on X,
# which must be a success; sets reg_pid and reg_epoch.
register() {
    local line
    send "$1" "register $2"
    wait_for $DOWN_TIMEOUT_MS "registration #$3 of $2 on $1" has_reg "$1" "$2" "$3"
    line=$(reg_result "$1" "$2" "$3")
    [[ $line == "part registered "* ]] || fail "node $1 could not register $2 on its side: $line"
    reg_pid=$(field "$line" pid)
    reg_epoch=$(field "$line" epoch)
    [[ -n $reg_pid && $reg_epoch =~ ^[0-9]+$ ]] || fail "malformed registration line: $line"
}
unregister() {
    send "$1" "unregister $2"
    wait_for $DOWN_TIMEOUT_MS "unregistration of $2 on $1" has_unreg "$1" "$2"
    grep -q "^part unregistered name=$2 result=GROVE_OK" "${log[$1]}" ||
        fail "node $1 could not unregister $2: $(grep "^part unregistered name=$2 " "${log[$1]}")"
}

# names_of X: the names of X's fresh state line, sorted, one per line
# (name:pid:epoch).
names_of() {
    local s
    s=$(state "$1")
    [[ -n $s ]] || return 1
    field "$s" names | tr ',' '\n' | sed '/^$/d' | sort
}
# table_is X NAMES...: X's table holds exactly these names.
table_is() {
    local x=$1 got want
    shift
    got=$(names_of "$x" | cut -d: -f1 | tr '\n' ' ') || return 1
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [[ $got == "$want" ]]
}

if [[ $mode == registry ]]; then
    register a pre_a 1
    pre_a_pid=$reg_pid pre_a_ep=$reg_epoch
    register b pre_b 1
    pre_b_pid=$reg_pid pre_b_ep=$reg_epoch
    for x in "${NODES[@]}"; do wait_for $DOWN_TIMEOUT_MS "pre_a and pre_b on $x" table_is $x pre_a pre_b; done
    say "pre_a ($pre_a_pid, epoch $pre_a_ep) and pre_b ($pre_b_pid, epoch $pre_b_ep) everywhere"

    cut_link a b
    cut_link a c
    wait_down a b 1
    wait_down a c 1
    say "A cut from B and C: nodedown on both sides"
    # Each side: names of its own and names the other side takes too.
    # dup1: epoch 1 on both sides (the greater node name, B, must win);
    # dup2: B registers it twice (epoch 2) against A's once; dup3: A twice
    # against C's once (A must win on the epoch).
    register a dup1 1
    a_dup1=$reg_pid a_dup1_ep=$reg_epoch
    register a dup2 1
    a_dup2=$reg_pid a_dup2_ep=$reg_epoch
    register a dup3 1
    unregister a dup3
    register a dup3 2
    a_dup3=$reg_pid a_dup3_ep=$reg_epoch
    register a only_a 1
    a_only=$reg_pid a_only_ep=$reg_epoch
    register b dup1 1
    b_dup1=$reg_pid b_dup1_ep=$reg_epoch
    register b dup2 1
    unregister b dup2
    register b dup2 2
    b_dup2=$reg_pid b_dup2_ep=$reg_epoch
    register c dup3 1
    c_dup3=$reg_pid c_dup3_ep=$reg_epoch
    register c only_c 1
    c_only=$reg_pid c_only_ep=$reg_epoch
    say "while cut: A holds dup1@$a_dup1_ep dup2@$a_dup2_ep dup3@$a_dup3_ep only_a; B dup1@$b_dup1_ep dup2@$b_dup2_ep; C dup3@$c_dup3_ep only_c"
    ((a_dup3_ep > a_dup1_ep && b_dup2_ep > b_dup1_ep)) ||
        fail "a second registration of a name did not take a higher epoch (dup3 $a_dup3_ep, dup2 $b_dup2_ep)"
    # Each side's table: its own names only (a name goes with its node).
    wait_for $DOWN_TIMEOUT_MS "A's table while cut" table_is a pre_a dup1 dup2 dup3 only_a
    for x in b c; do
        wait_for $DOWN_TIMEOUT_MS "$x's table while cut" table_is $x pre_b dup1 dup2 dup3 only_c
    done
    [[ $(names_of b) == "$(names_of c)" ]] || fail "B and C disagree while cut: $(state b) / $(state c)"
    sleep 1
    alive

    t_heal=$(now_ms)
    heal_link a b
    heal_link a c
    wait_sessions a b 2
    wait_sessions a c 2
    say "healed: nodeup again on every cut pair ($(($(now_ms) - t_heal)) ms)"

    # The winners by the documented rule: the higher epoch, then the
    # greater node name (b > a, c > a).
    win_dup1=$b_dup1 lose_dup1=$a_dup1
    if ((a_dup1_ep > b_dup1_ep)); then win_dup1=$a_dup1 lose_dup1=$b_dup1; fi
    win_dup1_ep=$((a_dup1_ep > b_dup1_ep ? a_dup1_ep : b_dup1_ep))
    win_dup2=$b_dup2 lose_dup2=$a_dup2 win_dup2_ep=$b_dup2_ep
    ((a_dup2_ep > b_dup2_ep)) && fail "A's dup2 epoch $a_dup2_ep above B's $b_dup2_ep"
    win_dup3=$a_dup3 lose_dup3=$c_dup3 win_dup3_ep=$a_dup3_ep
    ((c_dup3_ep >= a_dup3_ep)) && fail "C's dup3 epoch $c_dup3_ep not below A's $a_dup3_ep"
    expected=$(printf '%s\n' "dup1:$win_dup1:$win_dup1_ep" "dup2:$win_dup2:$win_dup2_ep" \
        "dup3:$win_dup3:$win_dup3_ep" "only_a:$a_only:$a_only_ep" "only_c:$c_only:$c_only_ep" \
        "pre_a:$pre_a_pid:$pre_a_ep" "pre_b:$pre_b_pid:$pre_b_ep" | sort)
    converged() {
        local x
        for x in "${NODES[@]}"; do [[ $(names_of $x) == "$expected" ]] || return 1; done
    }
    deadline=$(($(now_ms) + HEAL_TIMEOUT_MS))
    until converged; do
        alive
        if (($(now_ms) >= deadline)); then
            for x in "${NODES[@]}"; do say "$x: $(state $x)"; done
            fail "the tables did not converge to the expected one within $HEAL_TIMEOUT_MS ms: $(tr '\n' ' ' <<<"$expected")"
        fi
        sleep 0.05
    done
    say "every node holds the same table: $(tr '\n' ' ' <<<"$expected")"

    # Each owner is alive on its node; each loser was told, with the winner.
    owner_alive() {
        local p=$1 x
        x=${p%%@*}
        field "$(state "$x")" live | tr ',' '\n' | grep -qxF "$p"
    }
    while read -r entry; do
        p=$(cut -d: -f2 <<<"$entry")
        wait_for $DOWN_TIMEOUT_MS "owner $p of ${entry%%:*} alive" owner_alive "$p"
    done <<<"$expected"
    told() { grep -qxF "part name_conflict name=$1 self=$2 winner=$3" "${log[${2%%@*}]}"; }
    for n in dup1 dup2 dup3; do
        eval "w=\$win_$n l=\$lose_$n"
        wait_for $DOWN_TIMEOUT_MS "name_conflict for $n at its loser $l" told "$n" "$l" "$w"
        say "$n: $w kept it; $l got {name_conflict, $n, $w}"
    done
    conflicts=$(cat "${log[a]}" "${log[b]}" "${log[c]}" | grep -c '^part name_conflict' || true)
    ((conflicts == 3)) || fail "$conflicts name_conflict notices, expected 3 (one per loser): $(grep -h '^part name_conflict' "${log[a]}" "${log[b]}" "${log[c]}")"
    # Stable: a second later the tables are still the same.
    sleep 1
    converged || fail "the tables changed after converging: $(state a) / $(state b) / $(state c)"
    epochs_never_decrease
    stop_all
    epochs_never_decrease
    passed=1
    say "PASS"
    exit 0
fi

# ---- cluster_sup --------------------------------------------------------------------------

CHILDREN=(k1 k2 k3 k4 k5 k6)

# running_on X: the ids X's fresh state line reports running, one a line.
running_on() {
    local s
    s=$(state "$1")
    [[ -n $s ]] || return 1
    field "$s" running | tr ',' '\n' | sed '/^$/d' | sort
}
# all_once [NODES...]: every child runs exactly once among these nodes'
# latest lines (default all three).
all_once() {
    local nodes=("$@") got want
    ((${#nodes[@]})) || nodes=(a b c)
    got=$(for x in "${nodes[@]}"; do running_on "$x" || return 1; done | sort | tr '\n' ' ')
    want=$(printf '%s\n' "${CHILDREN[@]}" | sort | tr '\n' ' ')
    [[ $got == "$want" ]]
}
# first_running_after X ID T: the time of X's first state line at or after
# T listing ID running (empty if none).
first_running_after() {
    awk -v id="$2" -v t0="$3" '
        $1 == "part" && $2 == "state" && substr($3, 3) + 0 >= t0 {
            m = split(substr($4, 9), ids, ",")
            for (j = 1; j <= m; j++) if (ids[j] == id) { print substr($3, 3); exit }
        }' "${log[$1]}"
}
# first_empty_after X T: the time of X's first state line at or after T
# with nothing running.
first_empty_after() {
    awk -v t0="$2" '$1 == "part" && $2 == "state" && substr($3, 3) + 0 >= t0 && $4 == "running=" {
        print substr($3, 3); exit }' "${log[$1]}"
}
# busy_between X T1 T2: X's state lines in [T1, T2] reporting something
# running, and child_started lines in that window.
busy_between() {
    awk -v t1="$2" -v t2="$3" '
        $1 == "part" && $2 == "state" { t = substr($3, 3) + 0; if (t >= t1 && t <= t2 && $4 != "running=") print }
        $1 == "part" && $2 == "child_started" {
            for (j = 3; j <= NF; j++) if ($j ~ /^t=/) t = substr($j, 3) + 0
            if (t >= t1 && t <= t2) print
        }' "${log[$1]}" | head -n 3
}

# Members meet; then six children, added through A's member, placed on
# the member with the fewest: two each.
sleep 1
for k in "${CHILDREN[@]}"; do send a "start_child $k"; done
started() { (($(grep -c '^part start_child ' "${log[a]}" || true) == ${#CHILDREN[@]})); }
wait_for $START_TIMEOUT_MS "the six start_child calls" started
bad=$(grep '^part start_child ' "${log[a]}" | grep -v 'result=GROVE_OK' || true)
[[ -z $bad ]] || fail "start_child failed: $bad"
wait_for $DOWN_TIMEOUT_MS "every child running once" all_once
for x in "${NODES[@]}"; do
    n=$(running_on $x | wc -l)
    ((n == 2)) || fail "children not spread evenly: $x runs $n ($(running_on $x | tr '\n' ' '))"
done
say "children spread: a=$(running_on a | tr '\n' ,) b=$(running_on b | tr '\n' ,) c=$(running_on c | tr '\n' ,)"
no_double

# minority_round WHAT: C has just been cut (at $t_cut) so that it has no
# majority: C stops what it runs, never before nodedown_ms after the cut
# (silence must first be noticed); A and B restart those children, never
# before 2 x nodedown_ms after the cut; C starts nothing while cut.
# Leaves C cut; sets t_stop.
minority_round() {
    local what=$1 k t_a t_b t_r busy
    c_empty() { [[ -n $(first_empty_after c "$t_cut") ]]; }
    wait_for $DOWN_TIMEOUT_MS "$what: C stopping its children" c_empty
    t_stop=$(first_empty_after c "$t_cut")
    say "$what: C stopped its children ($(tr '\n' ' ' <<<"$c_kids")) $((t_stop - t_cut)) ms after the cut"
    ((t_stop - t_cut >= NODEDOWN_MS)) ||
        fail "$what: C stopped its children $((t_stop - t_cut)) ms after the cut, before nodedown_ms ($NODEDOWN_MS)"
    ab_once() { all_once a b; }
    wait_for $HEAL_TIMEOUT_MS "$what: A and B running every child" ab_once
    for k in $c_kids; do
        t_a=$(first_running_after a "$k" "$t_cut")
        t_b=$(first_running_after b "$k" "$t_cut")
        t_r=${t_a:-$t_b}
        [[ -n $t_b && $t_b -lt $t_r ]] && t_r=$t_b
        [[ -n $t_r ]] || fail "$what: $k: no restart found on A or B"
        ((t_r - t_cut >= 2 * NODEDOWN_MS)) ||
            fail "$what: $k restarted on the majority $((t_r - t_cut)) ms after the cut, before 2 x nodedown_ms"
        say "$what: $k (was on C) runs on the majority $((t_r - t_cut)) ms after the cut"
    done
    # Stay cut a while: everything keeps running on A and B, nothing on C.
    local deadline=$(($(now_ms) + 3000))
    while (($(now_ms) < deadline)); do
        alive
        for k in "${CHILDREN[@]}"; do
            grep -qx "$k" <<<"$( (running_on a || true) && (running_on b || true))" ||
                fail "$what: $k not running on A or B while C is cut: $(state a) / $(state b)"
        done
        sleep 0.2
    done
    busy=$(busy_between c "$t_stop" "$(now_ms)")
    [[ -z $busy ]] || fail "$what: C ran children while cut off (after stopping them at t=$t_stop): $busy"
    no_double
}

# settle WHAT: after healing, every child runs exactly once, and still
# does 2 s later.
settle() {
    wait_for $HEAL_TIMEOUT_MS "$1: every child running once" all_once
    sleep 2
    all_once || fail "$1: not every child once, 2 s later: $(state a) / $(state b) / $(state c)"
    no_double
    say "$1: a=$(running_on a | tr '\n' ,) b=$(running_on b | tr '\n' ,) c=$(running_on c | tr '\n' ,)"
}

# ---- (1) 2|1: C alone -----------------------------------------------------------------------

c_kids=$(running_on c)
[[ -n $c_kids ]] || fail "C runs no child before the cut"
t_cut=$(now_ms)
cut_link a c
cut_link b c
say "2|1: C cut from A and B"
minority_round "2|1"
t_heal=$(now_ms)
heal_link a c
heal_link b c
wait_sessions a c 2
wait_sessions b c 2
say "2|1: healed, C back ($(($(now_ms) - t_heal)) ms)"
settle "2|1 healed"

# Three children more, added through B's member: C runs none now, so it
# gets all three (the fewest children).
for k in k7 k8 k9; do send b "start_child $k"; done
CHILDREN+=(k7 k8 k9)
started_b() { (($(grep -c '^part start_child ' "${log[b]}" || true) == 3)); }
wait_for $START_TIMEOUT_MS "three start_child calls on B" started_b
bad=$(grep '^part start_child ' "${log[b]}" | grep -v 'result=GROVE_OK' || true)
[[ -z $bad ]] || fail "start_child failed: $bad"
settle "three more"
c_kids=$(running_on c)
[[ $(tr '\n' ' ' <<<"$c_kids") == "k7 k8 k9 " ]] ||
    fail "k7, k8, k9 not placed on C (the member with the fewest): C runs $(tr '\n' ' ' <<<"$c_kids")"

# ---- (2) partial: A and C cut, B hears both ---------------------------------------------------

# Links A-B and B-C remain: C has one link, as A has, and the greater
# name, so every member drops C from the counted set (docs/otp.md).
t_cut=$(now_ms)
cut_link a c
say "partial: A and C cut (B hears both)"
wait_down a c 2
minority_round "partial"
(($(count b nodedown c) == 1 && $(count c nodedown b) == 1)) ||
    fail "partial: B and C lost each other although their link was never cut"
t_heal=$(now_ms)
heal_link a c
wait_sessions a c 3
say "partial: healed ($(($(now_ms) - t_heal)) ms)"
settle "partial healed"
stop_all
no_double
passed=1
say "PASS"
