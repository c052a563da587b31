package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one manifest as the API server would receive it.
type Object struct {
	Source string // file or kustomization it came from
	Map    map[string]any
}

func (o Object) APIVersion() string { s, _ := o.Map["apiVersion"].(string); return s }
func (o Object) Kind() string       { s, _ := o.Map["kind"].(string); return s }
func (o Object) Name() string       { return str(o.Map, "metadata", "name") }
func (o Object) Namespace() string  { return str(o.Map, "metadata", "namespace") }

// ID is kind/namespace/name, for messages.
func (o Object) ID() string {
	if ns := o.Namespace(); ns != "" {
		return o.Kind() + "/" + ns + "/" + o.Name()
	}
	return o.Kind() + "/" + o.Name()
}

// Render builds a kustomization as `kubectl apply -k` does (kustomize's library, kubectl's default options).
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		mp, err := r.Map()
		if err != nil {
			return nil, err
		}
		objs = append(objs, Object{Source: dir, Map: mp})
	}
	return objs, nil
}

// Overlay is a kustomization on top of a base, written to a temporary directory as scripts/deploy.sh does.
type Overlay struct {
	Base       string   // directory of the base kustomization
	Components []string // directories of kustomize components
	Extra      string   // more kustomization.yaml lines (images:, patches:, ...)
}

// RenderOverlay writes the overlay into a temporary directory and renders it.
func RenderOverlay(o Overlay) ([]Object, error) {
	dir, err := os.MkdirTemp("", "overlay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rel := func(p string) (string, error) { return filepath.Rel(dir, p) }
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	base, err := rel(o.Base)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "  - %s\n", base)
	if len(o.Components) > 0 {
		b.WriteString("components:\n")
		for _, c := range o.Components {
			rc, err := rel(c)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "  - %s\n", rc)
		}
	}
	b.WriteString(o.Extra)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return Render(dir)
}

// ReadManifests reads a file's YAML documents as `kubectl apply -f` does (duplicate keys are errors).
func ReadManifests(file string) ([]Object, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseManifests(file, data)
}

// ParseManifests splits data into YAML documents and decodes each one.
func ParseManifests(source string, data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var objs []Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if m == nil {
			continue
		}
		objs = append(objs, Object{Source: source, Map: m})
	}
	return objs, nil
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
