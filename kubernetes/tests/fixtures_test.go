package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

type testFixtures struct {
	repo    string
	pins    Pins
	schemas *Schemas
	app     []Object // kubectl apply -k kubernetes/, shared: copy it before changing it
}

// Loaded once per test binary: the upstream schemas and the rendered manifests.
var loadFixtures = sync.OnceValues(func() (*testFixtures, error) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	f := &testFixtures{repo: repo}
	if f.pins, err = LoadPins(repo); err != nil {
		return nil, err
	}
	if f.app, err = Render(filepath.Join(repo, "kubernetes")); err != nil {
		return nil, err
	}
	f.schemas, err = LoadSchemas(f.pins)
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
func (f *testFixtures) path(rel string) string { return filepath.Join(f.repo, filepath.FromSlash(rel)) }

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

// bundle is the Bundle of app, rendered from kubernetes/ or an overlay of it.
func bundle(t *testing.T, app []Object) *Bundle {
	t.Helper()
	b, err := LoadBundle(fixtures(t).repo, app)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// baseBundle is the bundle of `kubectl apply -k kubernetes/`, a fresh copy for each caller.
func baseBundle(t *testing.T) *Bundle { return bundle(t, DeepCopy(fixtures(t).app)) }

// optionalComponents lists kubernetes/components/* but those kubernetes/kustomization.yaml applies already (a
// component applied twice is a kustomize error) and those named; there may be none.
func optionalComponents(t *testing.T, except ...string) []string {
	t.Helper()
	f := fixtures(t)
	dirs, _ := filepath.Glob(f.path("kubernetes/components/*"))
	if len(dirs) == 0 {
		t.Fatal("no components in kubernetes/components")
	}
	applied := appliedComponents(t)
	return slices.DeleteFunc(dirs, func(d string) bool {
		st, err := os.Stat(d)
		rel, _ := filepath.Rel(f.path("kubernetes"), d)
		return err != nil || !st.IsDir() || slices.Contains(applied, filepath.ToSlash(rel)) || slices.Contains(except, filepath.Base(d))
	})
}

// appliedComponents is the components: list of kubernetes/kustomization.yaml, as written there.
func appliedComponents(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(fixtures(t).path("kubernetes/kustomization.yaml"))
	var k struct{ Components []string }
	if err == nil {
		err = yaml.Unmarshal(data, &k)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k.Components
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
