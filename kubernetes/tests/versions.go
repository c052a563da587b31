package manifests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The pins the schemas come from: k8s.io/kubernetes (swagger.json), dapr (CRDs), datadog-operator (DatadogAgent CRD), eksctl (schema.json).
var pinKeys = []string{"KUBERNETES_SCHEMA_VERSION", "DAPR_RUNTIME_VERSION", "DATADOG_OPERATOR_VERSION", "EKSCTL_VERSION"}

// Pins are the versions the schemas are taken from.
type Pins struct {
	KubernetesSchema string // e.g. 1.35.4
	Dapr             string
	DatadogOperator  string
	Eksctl           string
	Env              map[string]string // every KEY=value of scripts/versions.env
}

// KubernetesMinor returns "1.35" for "1.35.4".
func (p Pins) KubernetesMinor() string {
	parts := strings.SplitN(p.KubernetesSchema, ".", 3)
	if len(parts) < 2 {
		return p.KubernetesSchema
	}
	return parts[0] + "." + parts[1]
}

// LoadPins reads scripts/versions.env (KEY=value lines), the one place the versions are pinned.
func LoadPins(repoRoot string) (Pins, error) {
	f, err := os.Open(filepath.Join(repoRoot, "scripts", "versions.env"))
	if err != nil {
		return Pins{}, err
	}
	defer f.Close()
	values := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Pins{}, fmt.Errorf("scripts/versions.env: not a KEY=value line: %q", line)
		}
		values[k] = strings.TrimPrefix(strings.Trim(strings.TrimSpace(v), `"'`), "v")
	}
	if err := sc.Err(); err != nil {
		return Pins{}, err
	}
	for _, k := range pinKeys {
		if values[k] == "" {
			return Pins{}, fmt.Errorf("scripts/versions.env does not pin %s", k)
		}
	}
	return Pins{
		KubernetesSchema: values["KUBERNETES_SCHEMA_VERSION"],
		Dapr:             values["DAPR_RUNTIME_VERSION"],
		DatadogOperator:  values["DATADOG_OPERATOR_VERSION"],
		Eksctl:           values["EKSCTL_VERSION"],
		Env:              values,
	}, nil
}
