package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// LoadEksctlSchema returns the ClusterConfig schema of the pinned eksctl module (what `eksctl utils schema` prints).
func LoadEksctlSchema(p Pins) (*jsonschema.Schema, error) {
	dir, err := ModuleDir("github.com/weaveworks/eksctl", "v"+p.Eksctl)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, "pkg", "apis", "eksctl.io", "v1alpha5", "assets", "schema.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("eksctl %s schema: %w", p.Eksctl, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("eksctl-schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("eksctl-schema.json")
}

// ValidateEksctl validates a ClusterConfig; the schema's additionalProperties: false makes unknown fields errors.
func ValidateEksctl(s *jsonschema.Schema, obj Object) error {
	js, err := json.Marshal(obj.Map)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return s.Validate(v)
}
