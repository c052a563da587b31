package manifests

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestKubernetesManifestsMatchUpstreamSchemas(t *testing.T) {
	f := fixtures(t)
	t.Logf("schemas: Kubernetes %s, Dapr %s, Datadog Operator %s, eksctl %s (scripts/versions.env)", f.pins.KubernetesSchema, f.pins.Dapr, f.pins.DatadogOperator, f.pins.Eksctl)
	if len(f.app) < 8 {
		t.Fatalf("kubectl apply -k kubernetes/ would apply only %d objects", len(f.app))
	}
	requireNoErrors(t, "kubernetes/", f.schemas.ValidateAll(f.app))
}

func TestEveryComponentRendersAndMatchesUpstreamSchemas(t *testing.T) {
	for _, dir := range optionalComponents(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, f := range []string{"kustomization.yaml", "README.md"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("component %s has no %s", filepath.Base(dir), f)
				}
			}
			requireNoErrors(t, filepath.Base(dir), fixtures(t).schemas.ValidateAll(render(t, "kubernetes", "", dir)))
		})
	}
}

func TestDatadogAndEksctlManifestsMatchTheirSchemas(t *testing.T) {
	for _, file := range []string{"datadog/datadog-agent.yaml", "eksctl/cluster.yaml"} {
		objs := read(t, file)
		if len(objs) == 0 {
			t.Errorf("%s holds no object", file)
		}
		requireNoErrors(t, file, fixtures(t).schemas.ValidateAll(objs))
	}
}

// scripts/deploy.sh applies these files alone (kubectl apply -f); the kustomizations must apply the very same object,
// or the two would fight over it.
func TestFilesAreWhatKustomizeApplies(t *testing.T) {
	for file, kustomization := range map[string]string{"datadog/datadog-agent.yaml": "datadog", "kubernetes/storage/gp3-storageclass.yaml": "kubernetes"} {
		plain := read(t, file)
		if len(plain) != 1 {
			t.Fatalf("want one object in %s, got %d", file, len(plain))
		}
		rendered := fixtures(t).app
		if kustomization != "kubernetes" {
			rendered = render(t, kustomization, "")
		}
		if got := Find(rendered, plain[0].Kind(), plain[0].Name()); got == nil || !reflect.DeepEqual(plain[0].Map, got.Map) {
			t.Errorf("kubectl apply -k %s/ does not apply %s unchanged", kustomization, file)
		}
	}
	sc := read(t, "kubernetes/storage/gp3-storageclass.yaml")[0].Map
	if str(sc, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") != "true" ||
		str(sc, "provisioner") != "ebs.csi.aws.com" || str(sc, "volumeBindingMode") != "WaitForFirstConsumer" ||
		str(sc, "parameters", "type") != "gp3" || str(sc, "parameters", "encrypted") != "true" {
		t.Errorf("want the default, encrypted gp3 StorageClass of the EBS CSI driver, bound when a pod uses it; got %v", sc)
	}
}

// The cluster runs the Kubernetes minor whose schema the manifests are validated against.
func TestEksctlVersionIsTheValidatedKubernetesMinor(t *testing.T) {
	pins := fixtures(t).pins
	for _, o := range read(t, "eksctl/cluster.yaml") {
		if v := str(o.Map, "metadata", "version"); v != pins.KubernetesMinor() {
			t.Errorf("eksctl/cluster.yaml metadata.version %q, but the manifests are validated against Kubernetes %s", v, pins.KubernetesSchema)
		}
	}
	if v, ok := pins.Env["KUBERNETES_VERSION"]; ok && v != pins.KubernetesMinor() {
		t.Errorf("scripts/versions.env KUBERNETES_VERSION=%s, but the schema version is %s", v, pins.KubernetesSchema)
	}
}

// The injector compiled into these tests is the Dapr runtime the cluster gets.
func TestInjectorIsThePinnedDaprVersion(t *testing.T) {
	pins := fixtures(t).pins
	v, err := CompiledDaprVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != pins.Dapr {
		t.Errorf("kubernetes/tests builds with github.com/dapr/dapr %s, but DAPR_RUNTIME_VERSION is %s: run `go get github.com/dapr/dapr@v%s && go mod tidy` in kubernetes/tests", v, pins.Dapr, pins.Dapr)
	}
}

// Not a cross-check: the chart's template still passes what injector.go models.
func TestInjectorChartPassesTheModelledValues(t *testing.T) {
	requireNoErrors(t, "injector chart", baseBundle(t).Inj.CheckWiring())
}

// The validators are strict: a broken copy of each kind of object fails (a validator accepting everything would pass the tests above).
func TestStrictValidationRejectsBrokenObjects(t *testing.T) {
	f := fixtures(t)
	for _, c := range []struct {
		name, kind, obj, want string
		value                 any
		path                  []any
	}{
		{"unknown field in a container", "Deployment", "comms", "imagePullPolcy", "Always", []any{"spec", "template", "spec", "containers", 0, "imagePullPolcy"}},
		{"unknown field in a probe", "Deployment", "greeter", "pth", "/x", []any{"spec", "template", "spec", "containers", 0, "livenessProbe", "httpGet", "pth"}},
		{"wrong type", "Deployment", "comms", "replicas", "two", []any{"spec", "replicas"}},
		{"missing required field", "Service", "comms-service", "port", nil, []any{"spec", "ports", 0, "port"}},
		{"unknown metadata field", "Service", "greeter-service", "lables", map[string]any{"a": "b"}, []any{"metadata", "lables"}},
		{"invalid label value", "Deployment", "comms", "metadata.labels", "not a valid value!", []any{"metadata", "labels", "tags.datadoghq.com/version"}},
		{"unknown field in the Dapr Configuration", "Configuration", "dapr-config", "endpoint", "x:4318", []any{"spec", "tracing", "otel", "endpoint"}},
		{"Dapr otel exporter without required isSecure", "Configuration", "dapr-config", "isSecure", nil, []any{"spec", "tracing", "otel", "isSecure"}},
		{"unknown field in the DatadogAgent", "DatadogAgent", "datadog", "reciever", map[string]any{}, []any{"spec", "features", "otlp", "reciever"}},
		{"wrong type in the DatadogAgent", "DatadogAgent", "datadog", "enabled", "yes", []any{"spec", "features", "apm", "enabled"}},
		{"namespace on a cluster-scoped kind", "StorageClass", "gp3", "namespace", "dapr-services", []any{"metadata", "namespace"}},
		{"unknown kind", "Namespace", "dapr-services", "Namespce", "Namespce", []any{"kind"}},
		{"unknown field in the eksctl ClusterConfig", "ClusterConfig", "dapr-demo", "instanceTyp", "m6g.large", []any{"managedNodeGroups", 0, "instanceTyp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := baseBundle(t)
			o := mustFind(t, c.kind, c.obj, b.App, b.Datadog, b.Cluster)
			if errs := f.schemas.Validate(*o); len(errs) != 0 {
				t.Fatalf("the original is not valid: %v", errs)
			}
			setPath(o.Map, c.value, c.path...)
			requireError(t, f.schemas.Validate(*o), c.want)
		})
	}
}
