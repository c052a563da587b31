package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// kubernetes/ (alone and with each optional component), datadog/ and eksctl/ match the pinned upstream schemas.
func TestManifestsMatchUpstreamSchemas(t *testing.T) {
	f := fixtures(t)
	t.Logf("schemas: Kubernetes %s, Dapr %s, Datadog Operator %s, eksctl %s (scripts/versions.env)", f.Pins.KubernetesSchema, f.Pins.Dapr, f.Pins.DatadogOperator, f.Pins.Eksctl)
	if len(f.App) < 8 || len(f.Datadog) == 0 || len(f.Cluster) == 0 {
		t.Fatalf("kubernetes/ would apply only %d objects, datadog/datadog-agent.yaml holds %d, eksctl/cluster.yaml %d", len(f.App), len(f.Datadog), len(f.Cluster))
	}
	requireNoErrors(t, "repository", f.validate(f.Bundle))
	for _, dir := range optionalComponents(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				t.Errorf("component %s has no README.md", filepath.Base(dir))
			}
			requireNoErrors(t, filepath.Base(dir), f.schemas.ValidateAll(render(t, "kubernetes", "", dir)))
		})
	}
}

// scripts/deploy.sh applies the Agent alone (kubectl apply -f): datadog/'s kustomization must apply the very same object.
// The StorageClass is EKS's own: the kustomization that any cluster applies leaves it out.
func TestFilesAreWhatKustomizeApplies(t *testing.T) {
	agent := read(t, "datadog/datadog-agent.yaml")
	if len(agent) != 1 {
		t.Fatalf("want one object in datadog/datadog-agent.yaml, got %d", len(agent))
	}
	if got := Find(render(t, "datadog", ""), agent[0].Kind(), agent[0].Name()); got == nil || !reflect.DeepEqual(agent[0].Map, got.Map) {
		t.Errorf("kubectl apply -k datadog/ does not apply datadog/datadog-agent.yaml unchanged")
	}
	if slices.ContainsFunc(render(t, "kubernetes", ""), func(o Object) bool { return o.Kind() == "StorageClass" }) {
		t.Errorf("kubectl apply -k kubernetes/ applies a StorageClass: on a cluster other than EKS it would be a second default that makes no volumes")
	}
	sc := read(t, "kubernetes/storage/gp3-storageclass.yaml")[0].Map
	if str(sc, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") != "true" ||
		str(sc, "provisioner") != "ebs.csi.aws.com" || str(sc, "volumeBindingMode") != "WaitForFirstConsumer" ||
		str(sc, "parameters", "type") != "gp3" || str(sc, "parameters", "encrypted") != "true" {
		t.Errorf("want the default, encrypted gp3 StorageClass of the EBS CSI driver, bound when a pod uses it; got %v", sc)
	}
}

// The cluster runs the Kubernetes minor the manifests are validated against, and the Dapr runtime compiled into these tests.
func TestPinnedVersionsAgree(t *testing.T) {
	pins := fixtures(t).Pins
	for _, o := range fixtures(t).Cluster {
		if v := str(o.Map, "metadata", "version"); v != pins.KubernetesMinor() {
			t.Errorf("eksctl/cluster.yaml metadata.version %q, but the manifests are validated against Kubernetes %s", v, pins.KubernetesSchema)
		}
	}
	if v, ok := pins.Env["KUBERNETES_VERSION"]; ok && v != pins.KubernetesMinor() {
		t.Errorf("scripts/versions.env KUBERNETES_VERSION=%s, but the schema version is %s", v, pins.KubernetesSchema)
	}
	if v, err := CompiledDaprVersion(); err != nil || v != pins.Dapr {
		t.Errorf("kubernetes/tests builds with github.com/dapr/dapr %s (%v), but DAPR_RUNTIME_VERSION is %s: run `go get github.com/dapr/dapr@v%s && go mod tidy` in kubernetes/tests", v, err, pins.Dapr, pins.Dapr)
	}
}

// Not a cross-check: the chart's template still passes what injector.go models.
func TestInjectorChartPassesTheModelledValues(t *testing.T) {
	requireNoErrors(t, "injector chart", fixtures(t).Inj.CheckWiring())
}

// The validators are strict: a broken copy of each kind of object fails (a validator accepting everything would pass the tests above).
func TestStrictValidationRejectsBrokenObjects(t *testing.T) {
	f := fixtures(t)
	for _, c := range []struct {
		name, want string
		breakIt    breaker
	}{
		{"unknown field in a container", "imagePullPolcy", container("comms", "Always", "imagePullPolcy")},
		{"unknown field in a probe", "pth", container("greeter", "/x", "livenessProbe", "httpGet", "pth")},
		{"wrong type", "replicas", set("Deployment", "comms", "two", "spec", "replicas")},
		{"missing required field", "port", set("Service", "comms-service", nil, "spec", "ports", 0, "port")},
		{"unknown metadata field", "lables", set("Service", "greeter-service", map[string]any{"a": "b"}, "metadata", "lables")},
		{"invalid label value", "metadata.labels", set("Deployment", "comms", "not a valid value!", "metadata", "labels", "tags.datadoghq.com/version")},
		{"unknown field in the Dapr Configuration", "endpoint", set("Configuration", "dapr-config", "x:4318", "spec", "tracing", "otel", "endpoint")},
		{"Dapr otel exporter without required isSecure", "isSecure", set("Configuration", "dapr-config", nil, "spec", "tracing", "otel", "isSecure")},
		{"unknown field in the DatadogAgent", "conff", set("DatadogAgent", "datadog", map[string]any{}, "spec", "features", "otelCollector", "conff")},
		{"wrong type in the DatadogAgent", "enabled", set("DatadogAgent", "datadog", "yes", "spec", "features", "apm", "enabled")},
		{"namespace on a cluster-scoped kind", "namespace", set("StorageClass", "gp3", "dapr-services", "metadata", "namespace")},
		{"unknown kind", "Namespce", set("Namespace", "dapr-services", "Namespce", "kind")},
		{"unknown field in the eksctl ClusterConfig", "instanceTyp", set("ClusterConfig", "dapr-demo", "m6g.large", "managedNodeGroups", 0, "instanceTyp")},
	} {
		t.Run(c.name, func(t *testing.T) { expectCaught(t, f.Bundle, f.validate, c.want, c.breakIt) })
	}
}
