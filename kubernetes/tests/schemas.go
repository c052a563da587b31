package manifests

import (
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Schemas validates any object this repository deploys against the schema of its kind.
type Schemas struct {
	Builtin *BuiltinSchemas
	CRDs    *CRDSchemas
}

// LoadSchemas fetches the pinned upstream schemas: Kubernetes' OpenAPI document, the Dapr CRDs
// that `dapr init -k` installs, and the DatadogAgent CRD of the Datadog Operator.
func LoadSchemas(p Pins) (*Schemas, error) {
	builtin, err := LoadBuiltinSchemas(p.KubernetesSchema)
	if err != nil {
		return nil, err
	}
	crds := NewCRDSchemas()
	daprDir, err := ModuleDir("github.com/dapr/dapr", "v"+p.Dapr)
	if err != nil {
		return nil, err
	}
	if err := crds.LoadDir(filepath.Join(daprDir, "charts", "dapr", "crds")); err != nil {
		return nil, err
	}
	ddDir, err := ModuleDir("github.com/DataDog/datadog-operator", "v"+p.DatadogOperator)
	if err != nil {
		return nil, err
	}
	if err := crds.LoadFile(filepath.Join(ddDir, "config", "crd", "bases", "v1", "datadoghq.com_datadogagents.yaml")); err != nil {
		return nil, err
	}
	return &Schemas{Builtin: builtin, CRDs: crds}, nil
}

// Validate returns every schema error of obj; a kind no schema knows is an error too.
func (s *Schemas) Validate(obj Object) []error {
	gvk := schema.FromAPIVersionAndKind(obj.APIVersion(), obj.Kind())
	switch {
	case s.CRDs.Knows(gvk):
		return s.CRDs.Validate(obj, s.Builtin)
	case s.Builtin.Knows(gvk):
		return s.Builtin.Validate(obj)
	default:
		return []error{fmt.Errorf("%s (%s): no schema for %s: neither Kubernetes %s nor the loaded CRDs define it", obj.ID(), obj.Source, gvk, "API")}
	}
}

// ValidateAll validates every object.
func (s *Schemas) ValidateAll(objs []Object) []error {
	var errs []error
	for _, o := range objs {
		errs = append(errs, s.Validate(o)...)
	}
	return errs
}
