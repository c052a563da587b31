#!/usr/bin/env bash
# Removes the local cluster of scripts/cluster-up.sh and everything it changed on this machine.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=cluster/common.sh
source "$SCRIPTS_DIR/cluster/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/cluster-down.sh [-h|--help]

Stops the local cluster's pods, then its processes, and removes what they made: mounts, network
namespaces, the bridges, the KUBE-* and CNI-* iptables chains (and the tables they made), the kubepods cgroups and
/var/lib/dapr-demo-cluster, and puts back the kernel settings kubelet and the CNI plugins changed.
The built tools and images stay cached. Safe to run again, and when nothing runs. As root.
EOF
}
parse_no_args "$@"
[[ $EUID -eq 0 ]] || die "run it as root, as scripts/cluster-up.sh was"

load_versions
TOOLS=$(cluster_tools_dir)
stop() { # NAME : TERM, then KILL after 5 s (the API server and etcd may ignore TERM for a while)
  local pf
  pf=$(pidfile "$1")
  [[ -f "$pf" ]] || return 0
  start-stop-daemon --stop --quiet --pidfile "$pf" --retry TERM/5/KILL/5 --remove-pidfile 2>/dev/null || rm -f "$pf"
}

if running kube-apiserver && running kubelet; then
  log "deleting the pods (kubelet stops them and their networks)"
  stop kube-controller-manager
  stop kube-scheduler
  "$TOOLS/kubectl" --kubeconfig "$KUBECONFIG_FILE" delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    [[ -z "$(ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null)" ]] && break
    sleep 1
  done
fi

log "stopping the processes"
for ((i = ${#CLUSTER_PROCS[@]} - 1; i >= 0; i--)); do
  p=${CLUSTER_PROCS[i]}
  # Containers kubelet did not stop, before containerd goes.
  if [[ "$p" == containerd ]] && running containerd; then
    for t in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks kill -s KILL "$t" >/dev/null 2>&1 || true
    done
  fi
  stop "$p"
done
pkill -KILL -f "containerd-shim.*$CLUSTER_ROOT" 2>/dev/null || true

log "removing mounts, network namespaces, bridges and iptables chains"
findmnt -rn -o TARGET | awk -v root="$CLUSTER_ROOT" 'index($0, root) == 1 || /^\/run\/netns\/cni-/ || /^\/run\/containerd\// || /^\/var\/lib\/kubelet\//' |
  sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do ip netns delete "$ns"; done
for link in "$POD_BRIDGE" "$NODE_BRIDGE"; do ip link delete "$link" 2>/dev/null || true; done
[[ -x "$TOOLS/kube-proxy" ]] && "$TOOLS/kube-proxy" --cleanup >/dev/null 2>&1 || true
# What kubelet and the CNI plugins add: jumps from the built-in chains, then the chains themselves.
for ipt in iptables ip6tables; do
  for table in filter nat mangle; do
    "$ipt-save" -t "$table" 2>/dev/null | awk '/^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE|CNI)-/' |
      sed 's/^-A/-D/' | while read -r rule; do eval "$ipt -t $table $rule"; done
    chains=$("$ipt-save" -t "$table" 2>/dev/null | awk -F'[: ]' '/^:(KUBE|CNI)-/ { print $2 }')
    for c in $chains; do "$ipt" -t "$table" -F "$c"; done
    for c in $chains; do "$ipt" -t "$table" -X "$c"; done
  done
done
# The tables iptables made for the cluster (a fresh machine has none).
if [[ -f "$CLUSTER_ROOT/nft-tables.saved" ]]; then
  { nft list tables | grep -vxFf "$CLUSTER_ROOT/nft-tables.saved" || true; } |
    while read -r _ family name; do nft delete table "$family" "$name"; done
fi

log "removing the kubepods cgroups, the cluster's files, and restoring kernel settings"
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
  [[ -d "$h/kubepods" ]] && find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null
  [[ -d "$h/kubepods" ]] && warn "could not remove $h/kubepods"
done
if [[ -s "$CLUSTER_ROOT/sysctl.saved" ]]; then
  while IFS= read -r kv; do sysctl -qw "$kv" || warn "could not restore $kv"; done <"$CLUSTER_ROOT/sysctl.saved"
fi
find /var/log/containers -lname "$CLUSTER_ROOT/*" -delete 2>/dev/null || true
rm -rf "$CLUSTER_ROOT" /var/lib/kubelet/device-plugins /var/lib/cni/networks/dapr-demo /var/lib/cni/results/dapr-demo-*
rmdir /var/log/containers /var/lib/kubelet /var/lib/cni/networks /var/lib/cni/results /var/lib/cni 2>/dev/null || true
log "the local cluster is gone"
