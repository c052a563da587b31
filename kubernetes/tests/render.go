// Package manifests validates what this repository deploys, offline: strictly against the pinned upstream schemas, and by cross-checks for what no schema sees (go test ./...).
package manifests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one manifest as the API server would receive it: JSON values, whole numbers as int64.
type Object struct {
	Source string // file or kustomization it came from
	Map    map[string]any
}

func (o Object) APIVersion() string { return str(o.Map, "apiVersion") }
func (o Object) Kind() string       { return str(o.Map, "kind") }
func (o Object) Name() string       { return str(o.Map, "metadata", "name") }
func (o Object) Namespace() string  { return str(o.Map, "metadata", "namespace") }

// ID is kind/namespace/name, for messages.
func (o Object) ID() string { return id(o.Kind(), o.Namespace(), o.Name()) }

func id(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// valueAt returns the value at a path of keys, or nil.
func valueAt(m map[string]any, fields ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(m, fields...)
	return v
}

// str reads the scalar at a path of keys as text; "" when it is absent.
func str(m map[string]any, fields ...string) string {
	if v := valueAt(m, fields...); v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// DeepCopy copies objects so a test can break one copy and keep the original.
func DeepCopy(objs []Object) []Object {
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = Object{Source: o.Source, Map: runtime.DeepCopyJSON(o.Map)}
	}
	return out
}

// decode turns an object (or part of one) into its typed form.
func decode(v any, out any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, out)
}

// Render builds a kustomization as `kubectl apply -k` does (kustomize's library, kubectl's default options).
func Render(dir string) ([]Object, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		o := Object{Source: dir}
		if err := utiljson.Unmarshal(js, &o.Map); err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// RenderOverlay renders base with components and more kustomization lines (images:, patches:, ...), as scripts/install.sh does.
func RenderOverlay(base string, components []string, extra string) ([]Object, error) {
	dir, err := os.MkdirTemp("", "overlay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// kustomize takes only relative paths.
	var rel []string
	for _, p := range append([]string{base}, components...) {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		rel = append(rel, r)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + rel[0] + "]\n" +
		"components: [" + strings.Join(rel[1:], ", ") + "]\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
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
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		o := Object{Source: file}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err == nil {
			err = utiljson.Unmarshal(js, &o.Map)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if o.Map != nil { // an empty or comment-only document
			objs = append(objs, o)
		}
	}
}
