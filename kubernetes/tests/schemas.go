package manifests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	crvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
)

// Schemas validates what this repository deploys against the pinned upstream schemas: built-in kinds with kubectl's
// validator against Kubernetes' swagger.json, custom resources as the API server does (schema, CEL rules, pruning
// to find unknown fields), eksctl's ClusterConfig against the schema `eksctl utils schema` prints.
type Schemas struct {
	models     proto.Models
	modelByGVK map[schema.GroupVersionKind]string
	namespaced map[schema.GroupVersionKind]bool
	crds       map[schema.GroupVersionKind]*crdKind
	eksctl     *jsonschema.Schema
}

type crdKind struct {
	crd        string
	namespaced bool
	structural *structuralschema.Structural
	validator  crvalidation.SchemaValidator
	cel        *cel.Validator // the CRD's x-kubernetes-validations rules; nil when it has none
}

// LoadSchemas fetches the pinned upstream schemas: Kubernetes' OpenAPI document, the Dapr CRDs that Dapr's Helm chart
// installs, the DatadogAgent CRD of the Datadog Operator, and eksctl's ClusterConfig schema.
func LoadSchemas(p Pins) (*Schemas, error) {
	var dirs [4]string
	for i, m := range [][2]string{{"k8s.io/kubernetes", p.KubernetesSchema}, {daprModule, p.Dapr},
		{"github.com/DataDog/datadog-operator", p.DatadogOperator}, {"github.com/weaveworks/eksctl", p.Eksctl}} {
		var err error
		if dirs[i], err = ModuleDir(m[0], "v"+m[1]); err != nil {
			return nil, err
		}
	}
	k8s, dapr, datadog, eksctl := dirs[0], dirs[1], dirs[2], dirs[3]
	s := &Schemas{modelByGVK: map[schema.GroupVersionKind]string{}, namespaced: map[schema.GroupVersionKind]bool{}, crds: map[schema.GroupVersionKind]*crdKind{}}
	if err := s.loadSwagger(filepath.Join(k8s, "api", "openapi-spec", "swagger.json")); err != nil {
		return nil, fmt.Errorf("swagger.json: %w", err)
	}
	crdFiles, _ := filepath.Glob(filepath.Join(dapr, "charts", "dapr", "crds", "*.yaml"))
	if len(crdFiles) == 0 {
		return nil, fmt.Errorf("no CRD files in Dapr %s's chart", p.Dapr)
	}
	for _, f := range append(crdFiles, filepath.Join(datadog, "config", "crd", "bases", "v1", "datadoghq.com_datadogagents.yaml")) {
		if err := s.loadCRDs(f); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	var err error
	s.eksctl, err = jsonschema.NewCompiler().Compile(filepath.Join(eksctl, "pkg", "apis", "eksctl.io", "v1alpha5", "assets", "schema.json"))
	return s, err
}

func (s *Schemas) loadSwagger(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	doc, err := openapi_v2.ParseDocument(data)
	if err != nil {
		return err
	}
	if s.models, err = proto.NewOpenAPIData(doc); err != nil {
		return err
	}
	// The kinds are in x-kubernetes-group-version-kind (group, version, kind: the fields of a GroupVersionKind): a list on a definition, one object on an operation.
	var raw struct {
		Definitions map[string]struct {
			GVK []schema.GroupVersionKind `json:"x-kubernetes-group-version-kind"`
		}
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for name, def := range raw.Definitions {
		for _, g := range def.GVK {
			s.modelByGVK[g] = name
		}
	}
	// A kind is namespaced when the API serves it under /namespaces/{namespace}/.
	for path, ops := range raw.Paths {
		for _, op := range ops {
			var ext struct {
				GVK *schema.GroupVersionKind `json:"x-kubernetes-group-version-kind"`
			}
			if strings.Contains(path, "/namespaces/{namespace}/") && json.Unmarshal(op, &ext) == nil && ext.GVK != nil {
				s.namespaced[*ext.GVK] = true
			}
		}
	}
	return nil
}

func (s *Schemas) loadCRDs(file string) error {
	objs, err := ReadManifests(file)
	if err != nil {
		return err
	}
	for _, crd := range ofKind[apiextensionsv1.CustomResourceDefinition](objs, "CustomResourceDefinition") {
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return fmt.Errorf("%s %s has no schema", crd.Name, v.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return err
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			validator, _, err := crvalidation.NewSchemaValidator(&internal)
			if err != nil {
				return fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			s.crds[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = &crdKind{
				crd:        crd.Name,
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				structural: structural,
				validator:  validator,
				cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	return nil
}

// Validate returns every schema error of obj; a kind no schema knows is an error too.
func (s *Schemas) Validate(obj Object) []error {
	gvk := schema.FromAPIVersionAndKind(obj.APIVersion(), obj.Kind())
	var errs []error
	wrap := func(e any) { errs = append(errs, fmt.Errorf("%s: %v", obj.ID(), e)) }
	if crd, ok := s.crds[gvk]; ok {
		for _, e := range crvalidation.ValidateCustomResource(nil, obj.Map, crd.validator) {
			wrap(e)
		}
		if crd.cel != nil {
			celErrs, _ := crd.cel.Validate(context.Background(), nil, crd.structural, obj.Map, nil, celconfig.RuntimeCELCostBudget)
			for _, e := range celErrs {
				wrap(e)
			}
		}
		pruned := structuralpruning.PruneWithOptions(runtime.DeepCopyJSON(obj.Map), crd.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		for _, path := range pruned {
			wrap(fmt.Sprintf("unknown field %q (not in CRD %s)", path, crd.crd))
		}
		return append(errs, s.validateMetadata(obj, crd.namespaced)...)
	}
	if model, ok := s.modelByGVK[gvk]; ok {
		for _, e := range protovalidation.ValidateModel(obj.Map, s.models.LookupModel(model), gvk.Kind) {
			wrap(e)
		}
		return append(errs, s.validateMetadata(obj, s.namespaced[gvk])...)
	}
	if gvk.Group == "eksctl.io" {
		if err := s.eksctl.Validate(any(obj.Map)); err != nil {
			wrap(err)
		}
		return errs
	}
	return []error{fmt.Errorf("%s (%s): no schema for %s: neither Kubernetes' API nor the loaded CRDs define it", obj.ID(), obj.Source, gvk)}
}

// ValidateAll validates every object.
func (s *Schemas) ValidateAll(objs []Object) []error {
	var errs []error
	for _, o := range objs {
		errs = append(errs, s.Validate(o)...)
	}
	return errs
}

// validateMetadata checks metadata against the ObjectMeta schema and the API server's rules.
func (s *Schemas) validateMetadata(obj Object, namespaced bool) []error {
	var errs []error
	md, ok := obj.Map["metadata"].(map[string]any)
	if !ok {
		return []error{fmt.Errorf("%s: no metadata", obj.ID())}
	}
	for _, e := range protovalidation.ValidateModel(md, s.models.LookupModel("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "ObjectMeta") {
		errs = append(errs, fmt.Errorf("%s: metadata: %w", obj.ID(), e))
	}
	var om metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(md, &om); err != nil {
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
	return errs
}
