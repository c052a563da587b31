# shellcheck shell=bash disable=SC2034 # used by the scripts that source it
# The local cluster's fixed layout, shared by cluster-up.sh and cluster-down.sh (source lib.sh first).
# One cluster per machine, like kind's default: its addresses are private to this machine and no pod
# has a route beyond them, so nothing it runs reaches another host.

CLUSTER_ROOT=/var/lib/dapr-demo-cluster
KUBECONFIG_FILE=$CLUSTER_ROOT/admin.conf
NODE_NAME=dapr-demo
# The node's address sits alone on a bridge of its own: kubelet refuses loopback, and no dummy driver here.
NODE_BRIDGE=ddnode0
NODE_IP=10.123.0.1
POD_BRIDGE=ddpods0
POD_CIDR=10.124.0.0/24
SERVICE_CIDR=10.125.0.0/24
CONTAINERD_SOCK=$CLUSTER_ROOT/containerd/containerd.sock
# Host processes in start order; cluster-down stops them in reverse.
CLUSTER_PROCS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns)
# Kernel settings kubelet, kube-proxy and the CNI bridge change; cluster-up records them, cluster-down restores them.
CLUSTER_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)

cluster_tools_dir() { printf '%s/dapr-tracing-demo/tools/kubernetes-%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$KUBERNETES_SCHEMA_VERSION"; }
pidfile() { printf '%s/run/%s.pid\n' "$CLUSTER_ROOT" "$1"; }
# running NAME : the process of that pidfile is alive.
running() { start-stop-daemon --status --pidfile "$(pidfile "$1")" 2>/dev/null; }
