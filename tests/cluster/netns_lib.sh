# netns_lib.sh - what the network-namespace drivers (netns_partition.sh,
# netns_three.sh) share: messages, preconditions, a run tag held by a
# lock (and the removal of what runs killed outright left behind), the
# cluster secret, daemons that die with their driver, and the teardown of
# daemons and namespaces. Sourced after setting NETNS_WHO (the driver's
# name in its messages) and PREFIX (its namespaces' prefix).

say() { printf '%s: %s\n' "$NETNS_WHO" "$*" >&2; }
fail() {
    say "FAIL: $*"
    exit 1
}
now_ms() { date +%s%3N; }

# netns_require: root, ip (iproute2) and flock (util-linux), or fail.
netns_require() {
    ((EUID == 0)) || fail "needs root to create network namespaces (uid $EUID)"
    command -v ip >/dev/null || fail "needs 'ip' from iproute2 (tools/deps installs it)"
    command -v flock >/dev/null || fail "needs 'flock' from util-linux"
}

# netns_claim SUFFIXES: names this run by a random $tag (not its pid:
# drivers in different pid namespaces may share the namespaces' list) and
# holds $lock (fd 9) while it runs. Namespaces $PREFIX-<tag>-<suffix>
# (SUFFIXES an extended regex) whose tag's lock is free belong to a
# driver that was killed outright: what runs in them is stopped and they
# are removed.
netns_claim() {
    local n owner p
    LOCKDIR=/run/lock
    mkdir -p "$LOCKDIR" || fail "cannot create $LOCKDIR"
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-[0-9a-f]{8}-($1)\$" || true); do
        owner=${n#"$PREFIX"-}
        owner=${owner%-*}
        if flock -n "$LOCKDIR/$PREFIX-$owner.lock" true 2>/dev/null; then
            say "removing stale namespace $n (its driver $owner is gone)"
            for p in $(ip netns pids "$n" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
            ip netns del "$n" 2>/dev/null || true
            rm -f "$LOCKDIR/$PREFIX-$owner.lock"
        fi
    done
    tag=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
    [[ $tag =~ ^[0-9a-f]{8}$ ]] || fail "cannot draw a run tag from /dev/urandom"
    lock=$LOCKDIR/$PREFIX-$tag.lock
    exec 9>"$lock" || fail "cannot create $lock"
    flock -n 9 || fail "cannot lock $lock"
}

# netns_daemon_setup: a fresh 128-bit cluster secret in $cookie, and in
# $deathsig a prefix that makes daemons die with this driver even if it
# is killed outright (SIGKILL cannot be trapped: setpriv asks the kernel).
netns_daemon_setup() {
    cookie=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    [[ ${#cookie} -eq 32 ]] || fail "cannot draw a cluster secret from /dev/urandom"
    deathsig=()
    if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then deathsig=(setpriv --pdeathsig KILL); fi
}

# netns_teardown PID... -- NAMESPACE...: kills the daemons and whatever
# else runs in the namespaces, reaps the daemons, deletes the namespaces
# (a veth end goes with its namespace, and the pair with it) and the lock.
netns_teardown() {
    local pids=() n p
    while (($# > 0)) && [[ $1 != -- ]]; do
        [[ -n $1 ]] && pids+=("$1")
        shift
    done
    shift
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for n in "$@"; do
        if ip netns list | awk '{print $1}' | grep -qx "$n"; then
            for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        fi
    done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    for n in "$@"; do ip netns del "$n" 2>/dev/null; done
    rm -f "$lock"
}
