package manifests

import (
	"os"
	"path/filepath"
	"testing"
)

// The eksctl validation path, exercised with a small stand-in schema of the same shape as
// eksctl's (draft-07, definitions, additionalProperties: false), since eksctl's own schema is
// only available where eksctl is installed.
func TestEksctlSchemaLoaderRejectsUnknownFields(t *testing.T) {
	schema := `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "$ref": "#/definitions/ClusterConfig",
  "definitions": {
    "ClusterConfig": {
      "type": "object", "required": ["apiVersion", "kind", "metadata"], "additionalProperties": false,
      "properties": {
        "apiVersion": {"type": "string", "enum": ["eksctl.io/v1alpha5"]},
        "kind": {"type": "string", "enum": ["ClusterConfig"]},
        "metadata": {"type": "object", "additionalProperties": false, "required": ["name", "region"],
          "properties": {"name": {"type": "string"}, "region": {"type": "string"}, "version": {"type": "string"}}}
      }
    }
  }
}`
	file := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(file, []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EKSCTL_SCHEMA_JSON", file)
	s, source, err := LoadEksctlSchema()
	if err != nil || source != file {
		t.Fatalf("LoadEksctlSchema: %v (source %q)", err, source)
	}
	good, err := ParseManifests("good", []byte("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata:\n  name: a\n  region: us-west-2\n  version: \"1.35\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateEksctl(s, good[0]); err != nil {
		t.Errorf("a valid config was rejected: %v", err)
	}
	bad := DeepCopy(good)
	Set(bad[0].Map, "1.35", "metadata", "versoin")
	if ValidateEksctl(s, bad[0]) == nil {
		t.Errorf("an unknown field was accepted")
	}
	Set(bad[0].Map, nil, "metadata", "versoin")
	Set(bad[0].Map, nil, "metadata", "region")
	if ValidateEksctl(s, bad[0]) == nil {
		t.Errorf("a missing required field was accepted")
	}
}
