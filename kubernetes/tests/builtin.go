package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
)

// BuiltinSchemas validates built-in kinds with kubectl's validator against swagger.json, and metadata as the API server does.
type BuiltinSchemas struct {
	models     proto.Models
	modelByGVK map[schema.GroupVersionKind]string
	namespaced map[schema.GroupVersionKind]bool
}

// LoadBuiltinSchemas reads swagger.json from the k8s.io/kubernetes module at version (e.g. 1.35.4).
func LoadBuiltinSchemas(version string) (*BuiltinSchemas, error) {
	dir, err := ModuleDir("k8s.io/kubernetes", "v"+version)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return nil, err
	}
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("swagger.json: %w", err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		return nil, fmt.Errorf("swagger.json: %w", err)
	}
	type gvkExt struct {
		GVK []struct{ Group, Version, Kind string } `json:"x-kubernetes-group-version-kind"`
	}
	var raw struct {
		Definitions map[string]gvkExt `json:"definitions"`
		Paths       map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	s := &BuiltinSchemas{models: models, modelByGVK: map[schema.GroupVersionKind]string{}, namespaced: map[schema.GroupVersionKind]bool{}}
	for name, def := range raw.Definitions {
		for _, g := range def.GVK {
			s.modelByGVK[schema.GroupVersionKind{Group: g.Group, Version: g.Version, Kind: g.Kind}] = name
		}
	}
	// A kind is namespaced when the API serves it under /namespaces/{namespace}/.
	for path, ops := range raw.Paths {
		if !strings.Contains(path, "/namespaces/{namespace}/") {
			continue
		}
		for _, op := range ops {
			// On an operation the extension is one object (on a definition, a list).
			var ext struct {
				GVK *struct{ Group, Version, Kind string } `json:"x-kubernetes-group-version-kind"`
			}
			if json.Unmarshal(op, &ext) == nil && ext.GVK != nil {
				s.namespaced[schema.GroupVersionKind{Group: ext.GVK.Group, Version: ext.GVK.Version, Kind: ext.GVK.Kind}] = true
			}
		}
	}
	return s, nil
}

// Knows tells whether the kind is a built-in one.
func (s *BuiltinSchemas) Knows(gvk schema.GroupVersionKind) bool {
	_, ok := s.modelByGVK[gvk]
	return ok
}

// Validate returns every schema and metadata error of obj.
func (s *BuiltinSchemas) Validate(obj Object) []error {
	gvk := schema.FromAPIVersionAndKind(obj.APIVersion(), obj.Kind())
	name, ok := s.modelByGVK[gvk]
	if !ok {
		return []error{fmt.Errorf("%s: %s is not a kind of Kubernetes' API", obj.ID(), gvk)}
	}
	m := normalize(obj.Map)
	var errs []error
	for _, e := range protovalidation.ValidateModel(m, s.models.LookupModel(name), gvk.Kind) {
		errs = append(errs, fmt.Errorf("%s: %w", obj.ID(), e))
	}
	errs = append(errs, s.validateMetadata(obj, s.namespaced[gvk])...)
	return errs
}

// ValidateObjectMeta checks metadata against the ObjectMeta schema and the API server's rules.
func (s *BuiltinSchemas) validateMetadata(obj Object, namespaced bool) []error {
	var errs []error
	md := mapAt(obj.Map, "metadata")
	if md == nil {
		return []error{fmt.Errorf("%s: no metadata", obj.ID())}
	}
	for _, e := range protovalidation.ValidateModel(normalize(md), s.models.LookupModel("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "ObjectMeta") {
		errs = append(errs, fmt.Errorf("%s: metadata: %w", obj.ID(), e))
	}
	var om metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(normalize(md).(map[string]any), &om); err != nil {
		return append(errs, fmt.Errorf("%s: metadata: %w", obj.ID(), err))
	}
	nameFn := apimachineryvalidation.NameIsDNSSubdomain
	switch obj.Kind() {
	case "Service":
		nameFn = apimachineryvalidation.NameIsDNS1035Label
	case "Namespace":
		nameFn = apimachineryvalidation.ValidateNamespaceName
	}
	for _, e := range apimachineryvalidation.ValidateObjectMeta(&om, namespaced, nameFn, field.NewPath("metadata")) {
		errs = append(errs, fmt.Errorf("%s: %s", obj.ID(), e.Error()))
	}
	if !namespaced && om.Namespace != "" {
		errs = append(errs, fmt.Errorf("%s: metadata.namespace set on a cluster-scoped kind", obj.ID()))
	}
	return errs
}
