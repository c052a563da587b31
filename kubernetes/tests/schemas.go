package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	crvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// Schemas validates as the API server would what the local cluster never applies: DatadogAgent, ClusterConfig, StorageClass.
type Schemas struct {
	agent      crvalidation.SchemaValidator
	structural *structuralschema.Structural
	eksctl     *jsonschema.Schema
}

// LoadSchemas takes the schemas from the Go modules of the pinned datadog-operator and eksctl.
func LoadSchemas(pins map[string]string) (*Schemas, error) {
	operator, err := ModuleDir("github.com/DataDog/datadog-operator", "v"+pins["DATADOG_OPERATOR_VERSION"])
	if err != nil {
		return nil, err
	}
	eksctl, err1 := ModuleDir("github.com/weaveworks/eksctl", "v"+pins["EKSCTL_VERSION"])
	file, err2 := readOne(filepath.Join(operator, "config", "crd", "bases", "v1", "datadoghq.com_datadogagents.yaml"))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if decode(file.Map, &crd) != nil || len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v2alpha1" {
		return nil, fmt.Errorf("datadog-operator %s: want the CRD of DatadogAgent v2alpha1 alone", pins["DATADOG_OPERATOR_VERSION"])
	}
	var props apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &props, nil); err != nil {
		return nil, err
	}
	s := &Schemas{}
	if s.structural, err = structuralschema.NewStructural(&props); err != nil {
		return nil, err
	}
	if s.agent, _, err = crvalidation.NewSchemaValidator(&props); err != nil {
		return nil, err
	}
	s.eksctl, err = jsonschema.NewCompiler().Compile(filepath.Join(eksctl, "pkg", "apis", "eksctl.io", "v1alpha5", "assets", "schema.json"))
	return s, err
}

// Validate returns every schema error of the objects; a kind without a schema here is one too.
func (s *Schemas) Validate(objs ...Object) []error {
	var all []error
	for _, o := range objs {
		var errs []error
		switch o.field("apiVersion") + " " + o.Kind() {
		case "datadoghq.com/v2alpha1 DatadogAgent":
			errs = append(validateMetadata(o.Map["metadata"], true), crvalidation.ValidateCustomResource(nil, o.Map, s.agent).ToAggregate())
			// The API server's strict field validation finds unknown fields by pruning.
			for _, path := range pruning.PruneWithOptions(runtime.DeepCopyJSON(o.Map), s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
				errs = append(errs, fmt.Errorf("unknown field %q", path))
			}
		case "eksctl.io/v1alpha5 ClusterConfig":
			errs = []error{s.eksctl.Validate(any(o.Map))}
		case "storage.k8s.io/v1 StorageClass":
			errs = append(strictDecode(o.Map, &storagev1.StorageClass{}), validateMetadata(o.Map["metadata"], false)...)
		default:
			errs = []error{fmt.Errorf("no schema here for %s", o.field("apiVersion"))}
		}
		for _, e := range errs {
			if e != nil {
				all = append(all, fmt.Errorf("%s: %w", o.ID(), e))
			}
		}
	}
	return all
}

// strictDecode decodes as the API server does with strict field validation: an unknown or duplicate field, or a wrong type, is an error.
func strictDecode(v, out any) []error {
	js, err := json.Marshal(v)
	if err == nil {
		var strict []error
		strict, err = sigsjson.UnmarshalStrict(js, out, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
		return append(strict, err)
	}
	return []error{err}
}

// validateMetadata: metadata decodes strictly and passes the API server's rules (names, labels, namespace if namespaced).
func validateMetadata(md any, namespaced bool) []error {
	var om metav1.ObjectMeta
	errs := strictDecode(md, &om)
	return append(errs, apimachineryvalidation.ValidateObjectMeta(&om, namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata")).ToAggregate())
}
