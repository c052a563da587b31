package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type testFixtures struct {
	*Bundle // of `kubectl apply -k kubernetes/`, shared: Copy it before changing it
	schemas *Schemas
}

// Loaded once per test binary: the rendered manifests, the rest of the repository and the upstream schemas.
var loadFixtures = sync.OnceValues(func() (*testFixtures, error) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	app, err := Render(filepath.Join(repo, "kubernetes"))
	if err != nil {
		return nil, err
	}
	f := &testFixtures{}
	if f.Bundle, err = LoadBundle(repo, app); err != nil {
		return nil, err
	}
	f.schemas, err = LoadSchemas(f.Pins)
	return f, err
})

func fixtures(t *testing.T) *testFixtures {
	t.Helper()
	f, err := loadFixtures()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// path is a file or folder of the repository, given by its path there.
func (f *testFixtures) path(rel string) string { return filepath.Join(f.Repo, filepath.FromSlash(rel)) }

// validate is the schema check of every manifest of b: app, DatadogAgent, StorageClass and ClusterConfig.
func (f *testFixtures) validate(b *Bundle) []error {
	return f.schemas.ValidateAll(slices.Concat(b.App, b.Datadog, b.Storage, b.Cluster))
}

// read reads the manifests of a file of the repository.
func read(t *testing.T, rel string) []Object {
	t.Helper()
	objs, err := ReadManifests(fixtures(t).path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// render renders a kustomization of the repository with more kustomization lines and components.
func render(t *testing.T, base, extra string, components ...string) []Object {
	t.Helper()
	objs, err := RenderOverlay(fixtures(t).path(base), components, extra)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// bundle is the Bundle of app, rendered from an overlay of kubernetes/.
func bundle(t *testing.T, app []Object) *Bundle {
	t.Helper()
	b, err := LoadBundle(fixtures(t).Repo, app)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// optionalComponents lists kubernetes/components/* but those kubernetes/kustomization.yaml applies (twice is a kustomize error) and those named.
func optionalComponents(t *testing.T, except ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(fixtures(t).path("kubernetes/components"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("no components in kubernetes/components (%v)", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(appliedComponents(t), "components/"+e.Name()) && !slices.Contains(except, e.Name()) {
			dirs = append(dirs, fixtures(t).path("kubernetes/components/"+e.Name()))
		}
	}
	return dirs
}

// appliedComponents is the components: list of kubernetes/kustomization.yaml, as written there.
func appliedComponents(t *testing.T) []string {
	t.Helper()
	components, _, err := unstructured.NestedStringSlice(read(t, "kubernetes/kustomization.yaml")[0].Map, "components")
	if err != nil {
		t.Fatal(err)
	}
	return components
}

// mustFind returns the object kind/name of the first list that has it.
func mustFind(t *testing.T, kind, name string, lists ...[]Object) *Object {
	t.Helper()
	for _, objs := range lists {
		if o := Find(objs, kind, name); o != nil {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// requireNoErrors fails with every error listed.
func requireNoErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("%s: %v", what, e)
	}
}

// requireError wants errs to mention want.
func requireError(t *testing.T, errs []error, want string) {
	t.Helper()
	if len(errs) == 0 {
		t.Fatalf("not caught: want an error about %q", want)
	}
	t.Logf("caught: %v", errs)
	if !strings.Contains(errors.Join(errs...).Error(), want) {
		t.Errorf("the errors do not mention %q: %v", want, errs)
	}
}

// at returns the value at a path of keys and list indexes of a manifest (for tests: the checks read typed objects).
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// setPath puts value at a path of keys and list indexes; nil deletes the key.
func setPath(v, value any, path ...any) {
	parent, last := at(v, path[:len(path)-1]...), path[len(path)-1]
	switch k := last.(type) {
	case int:
		parent.([]any)[k] = value
	case string:
		if value == nil {
			delete(parent.(map[string]any), k)
		} else {
			parent.(map[string]any)[k] = value
		}
	}
}
