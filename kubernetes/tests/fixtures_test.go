package manifests

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// Loaded once per test binary: the upstream schemas and the rendered manifests.
var (
	fixturesOnce sync.Once
	fxRepo       string
	fxPins       Pins
	fxSchemas    *Schemas
	fxApp        []Object
	fxErr        error
)

func loadFixtures() {
	fxRepo, fxErr = filepath.Abs(filepath.Join("..", ".."))
	if fxErr != nil {
		return
	}
	if _, err := os.Stat(filepath.Join(fxRepo, "kubernetes", "kustomization.yaml")); err != nil {
		fxErr = err
		return
	}
	if fxPins, fxErr = LoadPins(fxRepo); fxErr != nil {
		return
	}
	if fxApp, fxErr = Render(filepath.Join(fxRepo, "kubernetes")); fxErr != nil {
		return
	}
	fxSchemas, fxErr = LoadSchemas(fxPins)
}

func fixtures(t *testing.T) (repo string, pins Pins, schemas *Schemas, app []Object) {
	t.Helper()
	fixturesOnce.Do(loadFixtures)
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return fxRepo, fxPins, fxSchemas, DeepCopy(fxApp)
}

// baseBundle is the bundle of `kubectl apply -k kubernetes/`, a fresh copy for each caller.
func baseBundle(t *testing.T) *Bundle {
	t.Helper()
	repo, _, _, app := fixtures(t)
	b, err := LoadBundle(repo, app)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// componentDirs lists the optional components, kubernetes/components/* that kubernetes/kustomization.yaml
// does not apply already (a component applied twice is a kustomize error); there may be none.
func componentDirs(t *testing.T) []string {
	t.Helper()
	repo, _, _, _ := fixtures(t)
	dirs, err := filepath.Glob(filepath.Join(repo, "kubernetes", "components", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no components in kubernetes/components")
	}
	applied := map[string]bool{}
	for _, c := range appliedComponents(t) {
		applied[filepath.Join(repo, "kubernetes", c)] = true
	}
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && !applied[d] {
			out = append(out, d)
		}
	}
	return out
}

// appliedComponents is the components: list of kubernetes/kustomization.yaml, as written there.
func appliedComponents(t *testing.T) []string {
	t.Helper()
	repo, _, _, _ := fixtures(t)
	data, err := os.ReadFile(filepath.Join(repo, "kubernetes", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Components []string `json:"components"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	return k.Components
}

// bundleWithComponents renders kubernetes/ plus the given components.
func bundleWithComponents(t *testing.T, components ...string) *Bundle {
	t.Helper()
	repo, _, _, _ := fixtures(t)
	app, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "kubernetes"), Components: components})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(repo, app)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustFind(t *testing.T, objs []Object, kind, name string) *Object {
	t.Helper()
	o := Find(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s", kind, name)
	}
	return o
}

// requireNoErrors fails with every error listed.
func requireNoErrors(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("%s: %v", what, e)
	}
}
