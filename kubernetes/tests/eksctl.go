package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ErrNoEksctlSchema means no copy of eksctl's JSON schema could be found on this machine.
var ErrNoEksctlSchema = errors.New("eksctl's JSON schema is not available")

// LoadEksctlSchema finds eksctl's own JSON schema for ClusterConfig: the file named by
// $EKSCTL_SCHEMA_JSON, or what `eksctl utils schema` prints when eksctl is installed. (The eksctl
// Go module, which holds it as pkg/apis/eksctl.io/v1alpha5/assets/schema.json, is not served by
// the module proxy this project can reach.) It returns the schema's source with it. Without either,
// it returns ErrNoEksctlSchema (the tests skip), except in GitHub Actions (the tests fail).
func LoadEksctlSchema() (*jsonschema.Schema, string, error) {
	var data []byte
	var source string
	if f := os.Getenv("EKSCTL_SCHEMA_JSON"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		data, source = b, f
	} else if bin, err := exec.LookPath("eksctl"); err == nil {
		out, err := exec.Command(bin, "utils", "schema").Output()
		if err != nil {
			return nil, "", fmt.Errorf("eksctl utils schema: %w", err)
		}
		data, source = out, "eksctl utils schema ("+bin+")"
	} else if os.Getenv("GITHUB_ACTIONS") == "true" {
		// CI installs eksctl before the tests: there a missing one is a broken install, not a reason to skip.
		return nil, "", errors.New("eksctl is not on PATH in GitHub Actions, where .github/workflows/ci.yml installs it")
	} else {
		return nil, "", ErrNoEksctlSchema
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", source, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("eksctl-schema.json", doc); err != nil {
		return nil, "", err
	}
	s, err := c.Compile("eksctl-schema.json")
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", source, err)
	}
	return s, source, nil
}

// ValidateEksctl validates a ClusterConfig (as decoded from YAML) against eksctl's schema, whose
// objects set additionalProperties: false, so unknown fields are errors.
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
