#!/usr/bin/env bats
# What scripts/install.sh never applies here, checked by the local cluster's own API server: a server-side dry run
# runs schema validation (strict, as kubectl's default) and admission, Pod Security included, and keeps nothing.

setup_file() {
  load helpers
  need_cluster
}

setup() { load helpers; }

# Removes only what the test made: journey.bats's last step has removed the app, its namespace and Dapr's CRDs.
teardown() {
  [[ ! -s "$BATS_TEST_TMPDIR/made" ]] || xargs kubectl delete --timeout=120s <"$BATS_TEST_TMPDIR/made"
}

# dry_run FILE : the objects of FILE, as `kubectl apply` would send them, through validation and admission only.
dry_run() { kubectl apply --dry-run=server --warnings-as-errors -f "$1"; }

@test "the optional otel-collector component, over kubernetes/, passes the API server's strict validation and Pod Security restricted" {
  overlay="$BATS_TEST_TMPDIR/overlay"
  mkdir "$overlay"
  rel=$(realpath --relative-to="$overlay" "$REPO_ROOT/kubernetes")
  printf '%s\n' "apiVersion: kustomize.config.k8s.io/v1beta1" "kind: Kustomization" "resources: [$rel]" \
    "components: [$rel/components/otel-collector]" >"$overlay/kustomization.yaml"
  kubectl kustomize "$overlay" >"$BATS_TEST_TMPDIR/rendered.yaml"
  # What the rendered objects need first: the Dapr CRDs of the pinned chart, the namespaces with their Pod Security labels.
  crds=$(cd "$BATS_TEST_TMPDIR" && GOFLAGS='' GOWORK=off go mod download -json "github.com/dapr/dapr@v$DAPR_RUNTIME_VERSION" | jq -r .Dir)/charts/dapr/crds
  for crd in configurations:configuration resiliencies:resiliency; do
    kubectl get crd "${crd%:*}.dapr.io" >/dev/null 2>&1 || kubectl create -f "$crds/${crd#*:}.yaml" -o name >>"$BATS_TEST_TMPDIR/made"
  done
  kubectl wait --for=condition=Established crd/configurations.dapr.io crd/resiliencies.dapr.io --timeout=60s
  for ns in dapr-services otel-collector; do
    kubectl get namespace "$ns" >/dev/null 2>&1 ||
      kubectl apply -f "$BATS_TEST_TMPDIR/rendered.yaml" --selector "app.kubernetes.io/name=$ns" -o name >>"$BATS_TEST_TMPDIR/made"
  done
  run dry_run "$BATS_TEST_TMPDIR/rendered.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # The same dry run refuses a broken copy: an unknown field, a container that Pod Security restricted forbids.
  sed 's/imagePullPolicy:/imagePullPolcy:/' "$BATS_TEST_TMPDIR/rendered.yaml" >"$BATS_TEST_TMPDIR/unknown-field.yaml"
  run dry_run "$BATS_TEST_TMPDIR/unknown-field.yaml"
  [[ "$status" -ne 0 && "$output" == *'unknown field "spec.template.spec.containers[0].imagePullPolcy"'* ]] || { echo "$output"; false; }
  sed 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' "$BATS_TEST_TMPDIR/rendered.yaml" >"$BATS_TEST_TMPDIR/privileged.yaml"
  run dry_run "$BATS_TEST_TMPDIR/privileged.yaml"
  [[ "$status" -ne 0 && "$output" == *'would violate PodSecurity "restricted:'*'(container "otelcol" must set'* ]] || { echo "$output"; false; }
}
