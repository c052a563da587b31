package manifests

import (
	"errors"
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

// Without eksctl the schema tests skip, except in GitHub Actions, which installs it: there they fail.
func TestEksctlSchemaIsRequiredInGitHubActions(t *testing.T) {
	t.Setenv("EKSCTL_SCHEMA_JSON", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GITHUB_ACTIONS", "")
	if _, _, err := LoadEksctlSchema(); !errors.Is(err, ErrNoEksctlSchema) {
		t.Errorf("without eksctl outside GitHub Actions: want ErrNoEksctlSchema (a skip), got %v", err)
	}
	t.Setenv("GITHUB_ACTIONS", "true")
	if _, _, err := LoadEksctlSchema(); err == nil || errors.Is(err, ErrNoEksctlSchema) {
		t.Errorf("without eksctl in GitHub Actions: want an error that fails the tests, got %v", err)
	}
}
