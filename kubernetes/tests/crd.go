package manifests

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	crvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// CRDSchemas validates custom resources as the API server does: schema, CEL rules, and pruning to find unknown fields.
type CRDSchemas struct {
	kinds map[schema.GroupVersionKind]*crdKind
}

type crdKind struct {
	crd        string
	namespaced bool
	structural *structuralschema.Structural
	validator  crvalidation.SchemaValidator
	cel        *cel.Validator // the CRD's x-kubernetes-validations rules; nil when it has none
}

// NewCRDSchemas returns an empty set; Load adds CRD files to it.
func NewCRDSchemas() *CRDSchemas {
	return &CRDSchemas{kinds: map[schema.GroupVersionKind]*crdKind{}}
}

// LoadDir loads every CRD in the YAML files of dir.
func (c *CRDSchemas) LoadDir(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD files in %s", dir)
	}
	for _, f := range files {
		if err := c.LoadFile(f); err != nil {
			return err
		}
	}
	return nil
}

// LoadFile loads the CRDs of one YAML file.
func (c *CRDSchemas) LoadFile(file string) error {
	objs, err := ReadManifests(file)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.Kind() != "CustomResourceDefinition" {
			continue
		}
		js, err := yaml.Marshal(o.Map)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(js, &crd); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return fmt.Errorf("%s: %s %s has no schema", file, crd.Name, v.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return fmt.Errorf("%s: %s %s: %w", file, crd.Name, v.Name, err)
			}
			validator, _, err := crvalidation.NewSchemaValidator(&internal)
			if err != nil {
				return fmt.Errorf("%s: %s %s: %w", file, crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			c.kinds[gvk] = &crdKind{
				crd:        crd.Name,
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				structural: s,
				validator:  validator,
				cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
			}
		}
	}
	return nil
}

// Knows tells whether a loaded CRD defines the kind.
func (c *CRDSchemas) Knows(gvk schema.GroupVersionKind) bool { _, ok := c.kinds[gvk]; return ok }

// Validate returns every schema error and every unknown field of obj.
func (c *CRDSchemas) Validate(obj Object, builtin *BuiltinSchemas) []error {
	gvk := schema.FromAPIVersionAndKind(obj.APIVersion(), obj.Kind())
	k, ok := c.kinds[gvk]
	if !ok {
		return []error{fmt.Errorf("%s: no CRD defines %s", obj.ID(), gvk)}
	}
	m := normalize(obj.Map).(map[string]any)
	var errs []error
	for _, e := range crvalidation.ValidateCustomResource(nil, m, k.validator) {
		errs = append(errs, fmt.Errorf("%s: %s", obj.ID(), e.Error()))
	}
	if k.cel != nil {
		celErrs, _ := k.cel.Validate(context.Background(), nil, k.structural, m, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range celErrs {
			errs = append(errs, fmt.Errorf("%s: %s", obj.ID(), e.Error()))
		}
	}
	pruned := runtime.DeepCopyJSON(m)
	for _, path := range structuralpruning.PruneWithOptions(pruned, k.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, fmt.Errorf("%s: unknown field %q (not in CRD %s)", obj.ID(), path, k.crd))
	}
	if builtin != nil {
		errs = append(errs, builtin.validateMetadata(obj, k.namespaced)...)
	}
	return errs
}
