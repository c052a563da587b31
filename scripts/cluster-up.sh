#!/usr/bin/env bash
# Runs a one-node Kubernetes cluster of upstream binaries on this Linux machine and deploys the project
# onto it with scripts/install.sh, the same deploy path as EKS; Zipkin stands in for Datadog.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=cluster/common.sh
source "$SCRIPTS_DIR/cluster/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/cluster-up.sh [-h|--help]   (env KEEP_ON_FAILURE=1: keep a failed first start)

Builds what is missing (Kubernetes, etcd, CoreDNS, Helm and Dapr's control plane from the Go module
proxy, cached under ~/.cache/dapr-tracing-demo/tools; containerd, runc and the CNI plugins from Debian's
packages), starts a one-node cluster (state in /var/lib/dapr-demo-cluster, node address 10.123.0.1),
builds and loads the images, then deploys Dapr, the apps and the trace backend (an OpenTelemetry
Collector where the Datadog Agent would be, and Zipkin) with scripts/install.sh. A second run reuses
what runs and redeploys. The first run takes about 25 minutes (mostly compiling); later starts about 2.
scripts/cluster-down.sh removes it all. Linux only, as root.
EOF
}
parse_no_args "$@"

load_versions
need_version KUBERNETES_SCHEMA_VERSION ETCD_VERSION COREDNS_VERSION HELM_VERSION DAPR_RUNTIME_VERSION \
  COLLECTOR_VERSION ZIPKIN_VERSION
[[ "$(uname -s)" == Linux && $EUID -eq 0 ]] || die "the local cluster runs Linux binaries as root: run it as root on Linux"
need_tools go java curl jq gcc

TOOLS=$(cluster_tools_dir)
LOGS=$CLUSTER_ROOT/logs
KUBECTL=(kubectl --kubeconfig "$KUBECONFIG_FILE")
# A failed first start leaves nothing behind (KEEP_ON_FAILURE=1 keeps it to look at); a failed re-run
# leaves the running cluster as it was.
fresh=1
running kube-apiserver && fresh=0
on_failure_hint() {
  if ((fresh)) && [[ "${KEEP_ON_FAILURE:-0}" != 1 ]]; then
    cp -r "$LOGS" "${TMPDIR:-/tmp}/dapr-demo-cluster-logs" 2>/dev/null && echo "Logs kept in ${TMPDIR:-/tmp}/dapr-demo-cluster-logs; removing what was started."
    "$SCRIPTS_DIR/cluster-down.sh" >&2 || true
  else
    echo "Logs: $LOGS. scripts/cluster-down.sh removes the cluster."
  fi
}

steps_total 5

step "tools" "seconds when cached; first time about 20 min of compiling"
missing_pkgs=()
for p in containerd runc containernetworking-plugins iptables nftables conntrack; do
  dpkg -s "$p" >/dev/null 2>&1 || missing_pkgs+=("$p")
done
if ((${#missing_pkgs[@]})); then
  info "installing Debian packages: ${missing_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null
fi
mkdir -p "$TOOLS"
if [[ ! -x "$TOOLS/kubelet" ]]; then
  info "building Kubernetes $KUBERNETES_SCHEMA_VERSION and etcd $ETCD_VERSION (about 10 min from an empty Go cache)"
  v="v$KUBERNETES_SCHEMA_VERSION"
  (cd "$SCRIPTS_DIR/cluster" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -mod=readonly -trimpath \
    -tags selinux,notest,grpcnotrace -o "$TOOLS/build/" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitVersion=$v" \
    go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/{kubeadm,kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl})
  mv "$TOOLS/build/server" "$TOOLS/build/etcd" && mv "$TOOLS"/build/* "$TOOLS/" && rmdir "$TOOLS/build"
fi
for tool in github.com/coredns/coredns@v$COREDNS_VERSION helm.sh/helm/v4/cmd/helm@v$HELM_VERSION; do
  name=${tool%@*} name=${name##*/}
  [[ -x "$TOOLS/$name-${tool#*@}" ]] && continue
  info "building $tool"
  GOBIN="$TOOLS/build" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w" "$tool"
  mv "$TOOLS/build/$name" "$TOOLS/$name-${tool#*@}"
done
ln -sf "coredns-v$COREDNS_VERSION" "$TOOLS/coredns" && ln -sf "helm-v$HELM_VERSION" "$TOOLS/helm"
declare -A DAPR_BIN
for p in daprd sentry operator injector placement scheduler; do DAPR_BIN[$p]=$("$SCRIPTS_DIR/daprd.sh" "$p"); done
OTELCOL=$("$SCRIPTS_DIR/otelcol.sh")
export PATH="$TOOLS:$PATH"

step "node $NODE_NAME at $NODE_IP: network, certificates, configuration" "seconds"
mkdir -p "$CLUSTER_ROOT"/{run,logs,pki,cni/net.d,cni/ipam,kubelet,containerd} && mkdir -p "$CLUSTER_ROOT/etcd" && chmod 0700 "$CLUSTER_ROOT/etcd"
if [[ ! -s "$CLUSTER_ROOT/sysctl.saved" ]]; then
  for s in "${CLUSTER_SYSCTLS[@]}"; do printf '%s=%s\n' "$s" "$(sysctl -n "$s")"; done >"$CLUSTER_ROOT/sysctl.saved"
  # The netfilter tables there are: iptables makes the ones it lacks, which cluster-down removes.
  nft list tables >"$CLUSTER_ROOT/nft-tables.saved"
fi
# kube-proxy needs bridged pod traffic to pass iptables (a pod reaching a Service backed by its neighbour).
sysctl -qw net.bridge.bridge-nf-call-iptables=1
ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge
ip addr show dev "$NODE_BRIDGE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
render() { # TEMPLATE OUT : a file of scripts/cluster with this layout's values filled in
  sed -e "s|@ROOT@|$CLUSTER_ROOT|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@NODE_NAME@|$NODE_NAME|g" \
    -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@POD_BRIDGE@|$POD_BRIDGE|g" -e "s|@SERVICE_CIDR@|$SERVICE_CIDR|g" \
    -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" "$SCRIPTS_DIR/cluster/$1" >"$2"
}
PAUSE_IMAGE=localhost/pause:3.10.1
render containerd.toml "$CLUSTER_ROOT/containerd/config.toml"
render cni.conflist "$CLUSTER_ROOT/cni/net.d/10-dapr-demo.conflist"
render kubeadm.yaml "$CLUSTER_ROOT/kubeadm.yaml"
render kubelet.yaml "$CLUSTER_ROOT/kubelet/config.yaml"
render kube-proxy.yaml "$CLUSTER_ROOT/kube-proxy.yaml"
render Corefile "$CLUSTER_ROOT/Corefile"
if [[ ! -s "$KUBECONFIG_FILE" ]]; then
  kubeadm init phase certs all --config "$CLUSTER_ROOT/kubeadm.yaml" >"$LOGS/kubeadm.log" 2>&1
  kubeadm init phase kubeconfig all --config "$CLUSTER_ROOT/kubeadm.yaml" --kubeconfig-dir "$CLUSTER_ROOT" >>"$LOGS/kubeadm.log" 2>&1
fi

step "start containerd, etcd, the control plane, kubelet, kube-proxy and CoreDNS" "about 20 s"
PKI=$CLUSTER_ROOT/pki
declare -A ARGS=(
  [containerd]="--config $CLUSTER_ROOT/containerd/config.toml"
  [etcd]="--name $NODE_NAME --data-dir $CLUSTER_ROOT/etcd --listen-client-urls http://127.0.0.1:2379
    --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380
    --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster $NODE_NAME=http://127.0.0.1:2380
    --listen-metrics-urls= --log-level warn"
  [kube-apiserver]="--advertise-address $NODE_IP --bind-address $NODE_IP --secure-port 6443
    --etcd-servers http://127.0.0.1:2379 --service-cluster-ip-range $SERVICE_CIDR
    --client-ca-file $PKI/ca.crt --tls-cert-file $PKI/apiserver.crt --tls-private-key-file $PKI/apiserver.key
    --kubelet-client-certificate $PKI/apiserver-kubelet-client.crt --kubelet-client-key $PKI/apiserver-kubelet-client.key
    --service-account-issuer https://kubernetes.default.svc.cluster.local
    --service-account-key-file $PKI/sa.pub --service-account-signing-key-file $PKI/sa.key
    --kubelet-preferred-address-types InternalIP --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --profiling=false"
  [kube-controller-manager]="--kubeconfig $CLUSTER_ROOT/controller-manager.conf
    --authentication-kubeconfig $CLUSTER_ROOT/controller-manager.conf
    --authorization-kubeconfig $CLUSTER_ROOT/controller-manager.conf --bind-address 127.0.0.1
    --service-account-private-key-file $PKI/sa.key --root-ca-file $PKI/ca.crt
    --cluster-signing-cert-file $PKI/ca.crt --cluster-signing-key-file $PKI/ca.key
    --use-service-account-credentials --service-cluster-ip-range $SERVICE_CIDR --leader-elect=false --profiling=false"
  [kube-scheduler]="--kubeconfig $CLUSTER_ROOT/scheduler.conf --authentication-kubeconfig $CLUSTER_ROOT/scheduler.conf
    --authorization-kubeconfig $CLUSTER_ROOT/scheduler.conf --bind-address 127.0.0.1 --leader-elect=false --profiling=false"
  [kubelet]="--config $CLUSTER_ROOT/kubelet/config.yaml --kubeconfig $CLUSTER_ROOT/kubelet.conf
    --hostname-override $NODE_NAME --node-ip $NODE_IP --root-dir $CLUSTER_ROOT/kubelet"
  [kube-proxy]="--config $CLUSTER_ROOT/kube-proxy.yaml"
  [coredns]="-conf $CLUSTER_ROOT/Corefile"
)
# start NAME : in the background under start-stop-daemon, with a pidfile and a log; no-op when running.
start() {
  running "$1" && return 0
  command -v "$1" >/dev/null || die "$1 is not installed (the tools step builds or installs it)"
  # shellcheck disable=SC2086 # ARGS are word lists
  start-stop-daemon --start --background --make-pidfile --pidfile "$(pidfile "$1")" --chdir "$CLUSTER_ROOT" \
    --startas /bin/sh -- -c "exec \"\$0\" \"\$@\" >>$LOGS/$1.log 2>&1" "$(command -v "$1")" ${ARGS[$1]}
}
wait_until() { # SECONDS WHAT CMD... : polls CMD every second
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within ${deadline}s (logs: $LOGS)"
    sleep 1
  done
}
start containerd && start etcd
wait_until 30 "etcd" curl -fsS http://127.0.0.1:2379/health
start kube-apiserver
wait_until 60 "kube-apiserver" "${KUBECTL[@]}" --kubeconfig "$CLUSTER_ROOT/super-admin.conf" get --raw /readyz
# admin.conf's group is bound by kubeadm init, which this cluster does not run.
"${KUBECTL[@]}" --kubeconfig "$CLUSTER_ROOT/super-admin.conf" create clusterrolebinding kubeadm:cluster-admins \
  --clusterrole cluster-admin --group kubeadm:cluster-admins --dry-run=client -o yaml |
  "${KUBECTL[@]}" --kubeconfig "$CLUSTER_ROOT/super-admin.conf" apply -f - >/dev/null
for p in kube-controller-manager kube-scheduler kubelet kube-proxy coredns; do start "$p"; done
wait_until 60 "node $NODE_NAME" "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s

step "images: pause, Dapr, the Collector, Zipkin, Redis, comms and greeter, into containerd" "about 1 min; first time 3"
# Kept with the tools (cluster-down leaves them), named by their pins.
IMAGES="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/images"
mkdir -p "$IMAGES"
ctr_import() { ctr --address "$CONTAINERD_SOCK" -n k8s.io images import --no-unpack "$1" >/dev/null; }
# image_tar OUT REF USER ROOTFS ENTRYPOINT... : a one-layer image of ROOTFS in `docker save` format.
image_tar() {
  local out=$1 ref=$2 user=$3 rootfs=$4 work
  shift 4
  work=$(mktemp -d)
  tar -C "$rootfs" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer.tar" .
  jq -n --arg arch "$(go env GOARCH)" --arg user "$user" --arg diff "sha256:$(sha256sum <"$work/layer.tar" | cut -d' ' -f1)" \
    --argjson entry "$(printf '%s\n' "$@" | jq -R . | jq -sc .)" \
    '{architecture: $arch, os: "linux", rootfs: {type: "layers", diff_ids: [$diff]},
      config: {User: $user, Entrypoint: $entry, Env: ["PATH=/opt/java/bin:/usr/bin:/bin"]}}' >"$work/config.json"
  jq -n --arg ref "$ref" '[{Config: "config.json", RepoTags: [$ref], Layers: ["layer.tar"]}]' >"$work/manifest.json"
  tar -C "$work" -cf "$out" manifest.json config.json layer.tar
  rm -rf "$work"
}
# static_image NAME REF BINARY USER : an image holding one static binary at /NAME.
static_image() {
  local rootfs out="$IMAGES/$1-${2##*:}.tar"
  [[ -s "$out" && "$out" -nt "$3" ]] && return 0
  rootfs=$(mktemp -d) && cp "$3" "$rootfs/$1"
  image_tar "$out" "$2" "$4" "$rootfs" "/$1"
  rm -rf "$rootfs"
}
if [[ ! -x "$TOOLS/pause" ]]; then
  gcc -Os -static -DVERSION="v3.10.1" -o "$TOOLS/pause" \
    "$(go env GOMODCACHE)/k8s.io/kubernetes@v$KUBERNETES_SCHEMA_VERSION/build/pause/linux/pause.c"
fi
static_image pause "$PAUSE_IMAGE" "$TOOLS/pause" 65535:65535
for p in "${!DAPR_BIN[@]}"; do static_image "$p" "localhost/dapr/$p:$DAPR_RUNTIME_VERSION" "${DAPR_BIN[$p]}" 65532:65532; done
static_image otelcol "localhost/otelcol:$COLLECTOR_VERSION" "$OTELCOL" 10001:10001
# Redis from Debian's package (lib.sh's redis_server): redis-server, its loader, and the libraries it links to.
if [[ ! -s "$IMAGES/redis-debian.tar" ]]; then
  redis=$(redis_server) rootfs=$(mktemp -d)
  [[ ! -x "$redis.bin" ]] || redis=$redis.bin
  mkdir -p "$rootfs/usr/bin" "$rootfs/usr/lib" "$rootfs/data" && cp "$redis" "$rootfs/usr/bin/redis-server"
  LD_LIBRARY_PATH="$(dirname "$redis")/lib" ldd "$redis" | awk '$3 ~ /^\// { print $3 }' | xargs -I{} cp -L {} "$rootfs/usr/lib/"
  ldd "$redis" | awk '$1 ~ /^\/.*ld-linux/ { print $1 }' | xargs -I{} cp --parents -L {} "$rootfs"
  image_tar "$IMAGES/redis-debian.tar" localhost/redis:debian 999:999 "$rootfs" /usr/bin/redis-server
  rm -rf "$rootfs"
fi
# A Java runtime image for Jib and Zipkin: jlink's runtime plus the shared libraries it links to.
use_java_25
JRE_TAR="$IMAGES/jre-$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | awk '$1 == "java.runtime.version" { print $3 }').tar"
if [[ ! -s "$JRE_TAR" || ! -s "$IMAGES/zipkin-$ZIPKIN_VERSION.tar" ]]; then
  rootfs=$(mktemp -d)
  # The JDK's modules but jlink, jpackage (they need jmods/, which Temurin 25 lacks) and the incubators.
  "$JAVA_HOME/bin/jlink" --add-modules "$("$JAVA_HOME/bin/java" --list-modules | sed 's/@.*//' |
    grep -vxE 'jdk\.(jlink|jpackage|incubator\..*)' | paste -sd, -)" \
    --strip-debug --no-man-pages --no-header-files --output "$rootfs/opt/java"
  find "$rootfs/opt/java" \( -name '*.so' -o -path '*/bin/java' \) -exec ldd {} + 2>/dev/null | awk '$3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' |
    sort -u | xargs -I{} cp --parents -L {} "$rootfs"
  mkdir -p "$rootfs/tmp" "$rootfs/etc" && chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0::/:/bin/false\napp:x:1000:1000::/tmp:/bin/false\n' >"$rootfs/etc/passwd"
  (cd "$REPO_ROOT" && ./mvnw -B -q -N dependency:copy "-Dartifact=io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
    "-DoutputDirectory=$rootfs") >"$LOGS/zipkin.log" 2>&1 || die "could not fetch Zipkin $ZIPKIN_VERSION (see $LOGS/zipkin.log)"
  mv "$rootfs/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$rootfs/zipkin.jar"
  image_tar "$IMAGES/zipkin-$ZIPKIN_VERSION.tar" "localhost/zipkin:$ZIPKIN_VERSION" 1000:1000 "$rootfs" /opt/java/bin/java -jar /zipkin.jar
  rm "$rootfs/zipkin.jar"
  image_tar "$JRE_TAR" localhost/jre:latest 1000:1000 "$rootfs"
  rm -rf "$rootfs"
fi
info "comms and greeter with Jib on that runtime (log: $LOGS/jib.log)"
(cd "$REPO_ROOT" && ./mvnw -B -ntp -pl comms-service,greeter-service -am package jib:buildTar -DskipTests \
  -Djib.from.image="tar://$JRE_TAR" -Djib.from.platforms="linux/$(go env GOARCH)" \
  -Dimage.registry=localhost/dapr-demo -Dimage.tag=local) >"$LOGS/jib.log" 2>&1 || die "the image build failed (see $LOGS/jib.log)"
for f in "$IMAGES"/*.tar "$REPO_ROOT"/{comms,greeter}-service/target/jib-image.tar; do ctr_import "$f"; done
# A tag per content, so that a changed app rolls out and an unchanged one stays.
IMAGE_TAG="local-$(cat "$REPO_ROOT"/{comms,greeter}-service/target/jib-image.id | sha256sum | cut -c1-12)"
for app in comms greeter; do
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images tag --force "localhost/dapr-demo/$app-service:local" \
    "localhost/dapr-demo/$app-service:$IMAGE_TAG" >/dev/null
done

step "deploy with scripts/install.sh: Dapr $DAPR_RUNTIME_VERSION (Helm chart), the apps, the trace backend" "about 2 min"
export KUBECONFIG=$KUBECONFIG_FILE IMAGE_REGISTRY=localhost/dapr-demo IMAGE_TAG
DAPR_CHART="$(go env GOMODCACHE)/github.com/dapr/dapr@v$DAPR_RUNTIME_VERSION/charts/dapr" \
  DAPR_REGISTRY=localhost/dapr DAPR_EXTRA_VALUES="$SCRIPTS_DIR/cluster/dapr-values.yaml" DAPR_DASHBOARD_CHART=none \
  KUSTOMIZE_COMPONENTS="kubernetes/zipkin kubernetes/redis scripts/cluster/images" "$SCRIPTS_DIR/install.sh"

steps_finished
log "the cluster is up. Reach it with:
    export KUBECONFIG=$KUBECONFIG_FILE
    kubectl port-forward -n dapr-services svc/comms-service 8080:80   # then: curl -X POST localhost:8080/greet -H 'Content-Type: application/json' -d '{\"name\":\"Ada\"}'
    kubectl port-forward -n zipkin svc/zipkin 9411:9411               # traces: http://localhost:9411
    scripts/cluster-down.sh removes the cluster and everything it changed on this machine."
echo "export KUBECONFIG=$KUBECONFIG_FILE"
