package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pins are the versions the schemas are taken from: k8s.io/kubernetes (swagger.json), dapr (CRDs), datadog-operator
// (DatadogAgent CRD), eksctl (schema.json).
type Pins struct {
	KubernetesSchema string // e.g. 1.35.4
	Dapr             string
	DatadogOperator  string
	Eksctl           string
	Env              map[string]string // every KEY=value of scripts/versions.env
}

// KubernetesMinor returns "1.35" for "1.35.4".
func (p Pins) KubernetesMinor() string {
	major, rest, _ := strings.Cut(p.KubernetesSchema, ".")
	minor, _, _ := strings.Cut(rest, ".")
	return major + "." + minor
}

// LoadPins reads scripts/versions.env (KEY=value lines), the one place the versions are pinned.
func LoadPins(repo string) (Pins, error) {
	lines, err := settingLines(filepath.Join(repo, "scripts", "versions.env"))
	if err != nil {
		return Pins{}, err
	}
	env := map[string]string{}
	for _, line := range lines {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Pins{}, fmt.Errorf("scripts/versions.env: not a KEY=value line: %q", line)
		}
		env[k] = strings.TrimPrefix(strings.Trim(strings.TrimSpace(v), `"'`), "v")
	}
	p := Pins{env["KUBERNETES_SCHEMA_VERSION"], env["DAPR_RUNTIME_VERSION"], env["DATADOG_OPERATOR_VERSION"], env["EKSCTL_VERSION"], env}
	for _, k := range []string{"KUBERNETES_SCHEMA_VERSION", "DAPR_RUNTIME_VERSION", "DATADOG_OPERATOR_VERSION", "EKSCTL_VERSION"} {
		if env[k] == "" {
			return Pins{}, fmt.Errorf("scripts/versions.env does not pin %s", k)
		}
	}
	return p, nil
}

// settingLines returns the trimmed lines of a file that are neither blank nor comments.
func settingLines(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, nil
}
