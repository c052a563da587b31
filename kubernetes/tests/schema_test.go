package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestKubernetesManifestsMatchUpstreamSchemas(t *testing.T) {
	_, pins, schemas, app := fixtures(t)
	t.Logf("schemas: Kubernetes %s, Dapr %s, Datadog Operator %s (scripts/versions.env)",
		pins.KubernetesSchema, pins.Dapr, pins.DatadogOperator)
	if len(app) < 8 {
		t.Fatalf("kubectl apply -k kubernetes/ would apply only %d objects", len(app))
	}
	requireNoErrors(t, "kubernetes/", schemas.ValidateAll(app))
}

func TestEveryComponentRendersAndMatchesUpstreamSchemas(t *testing.T) {
	repo, _, schemas, _ := fixtures(t)
	for _, dir := range componentDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, f := range []string{"kustomization.yaml", "README.md"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("component %s has no %s", filepath.Base(dir), f)
				}
			}
			objs, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "kubernetes"), Components: []string{dir}})
			if err != nil {
				t.Fatal(err)
			}
			requireNoErrors(t, filepath.Base(dir), schemas.ValidateAll(objs))
		})
	}
}

func TestDatadogManifestsMatchDatadogAgentCRD(t *testing.T) {
	repo, _, schemas, _ := fixtures(t)
	files, _ := filepath.Glob(filepath.Join(repo, "datadog", "*.yaml"))
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := ReadManifests(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) == 0 {
			t.Errorf("%s holds no object", f)
		}
		requireNoErrors(t, f, schemas.ValidateAll(objs))
	}
}

// kubectl apply -f datadog/datadog-agent.yaml (scripts/deploy.sh) and kubectl apply -k datadog/
// must apply the same object.
func TestDatadogKustomizationAppliesTheAgentFileUnchanged(t *testing.T) {
	repo, _, _, _ := fixtures(t)
	plain, err := ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Render(filepath.Join(repo, "datadog"))
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 1 || len(rendered) != 1 || !reflect.DeepEqual(normalize(plain[0].Map), normalize(rendered[0].Map)) {
		t.Errorf("kubectl apply -k datadog/ differs from datadog/datadog-agent.yaml")
	}
}

// scripts/deploy.sh applies the StorageClass file alone (before dapr init -k); kubectl apply -k
// kubernetes/ must apply the very same object, or the two would fight over it.
func TestStorageClassFileIsWhatKustomizeApplies(t *testing.T) {
	repo, _, schemas, app := fixtures(t)
	plain, err := ReadManifests(filepath.Join(repo, "kubernetes", "storage", "gp3-storageclass.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, "storage", schemas.ValidateAll(plain))
	if len(plain) != 1 {
		t.Fatalf("want one StorageClass in the file, got %d objects", len(plain))
	}
	got := mustFind(t, app, "StorageClass", plain[0].Name())
	if !reflect.DeepEqual(normalize(plain[0].Map), normalize(got.Map)) {
		t.Errorf("the StorageClass kustomize renders differs from kubernetes/storage/gp3-storageclass.yaml")
	}
	if str(got.Map, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") != "true" ||
		str(got.Map, "provisioner") != "ebs.csi.aws.com" || str(got.Map, "volumeBindingMode") != "WaitForFirstConsumer" ||
		str(got.Map, "parameters", "type") != "gp3" || str(got.Map, "parameters", "encrypted") != "true" {
		t.Errorf("want the default, encrypted gp3 StorageClass of the EBS CSI driver, bound when a pod uses it; got %v", got.Map)
	}
}

func TestEksctlClusterMatchesEksctlSchema(t *testing.T) {
	repo, pins, _, _ := fixtures(t)
	objs, err := ReadManifests(filepath.Join(repo, "eksctl", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadEksctlSchema(pins)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := ValidateEksctl(s, o); err != nil {
			t.Errorf("eksctl/cluster.yaml: %v", err)
		}
	}
}

// The cluster runs the Kubernetes minor whose schema the manifests are validated against.
func TestEksctlVersionIsTheValidatedKubernetesMinor(t *testing.T) {
	repo, pins, _, _ := fixtures(t)
	objs, err := ReadManifests(filepath.Join(repo, "eksctl", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if v := str(o.Map, "metadata", "version"); v != pins.KubernetesMinor() {
			t.Errorf("eksctl/cluster.yaml metadata.version %q, but the manifests are validated against Kubernetes %s", v, pins.KubernetesSchema)
		}
	}
	if v, ok := pins.Env["KUBERNETES_VERSION"]; ok && v != pins.KubernetesMinor() {
		t.Errorf("scripts/versions.env KUBERNETES_VERSION=%s, but the schema version is %s", v, pins.KubernetesSchema)
	}
}

// The validators are strict: a broken copy of each kind of object fails (a validator accepting everything would pass the tests above).
func TestStrictValidationRejectsBrokenObjects(t *testing.T) {
	repo, _, schemas, app := fixtures(t)
	dd, err := ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
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
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Find(DeepCopy(app), c.kind, c.obj)
			if o == nil {
				o = mustFind(t, DeepCopy(dd), c.kind, c.obj)
			}
			if errs := schemas.Validate(*o); len(errs) != 0 {
				t.Fatalf("the original is not valid: %v", errs)
			}
			Set(o.Map, c.value, c.path...)
			errs := schemas.Validate(*o)
			if len(errs) == 0 {
				t.Fatalf("the broken copy passed validation")
			}
			if !strings.Contains(errors.Join(errs...).Error(), c.want) {
				t.Errorf("errors do not mention %q: %v", c.want, errs)
			}
		})
	}
}

func TestEksctlSchemaRejectsUnknownField(t *testing.T) {
	repo, pins, _, _ := fixtures(t)
	s, err := LoadEksctlSchema(pins)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ReadManifests(filepath.Join(repo, "eksctl", "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := DeepCopy(objs)
	Set(broken[0].Map, "m6g.large", "managedNodeGroups", 0, "instanceTyp")
	if ValidateEksctl(s, broken[0]) == nil {
		t.Errorf("eksctl's schema accepted an unknown field")
	}
}
