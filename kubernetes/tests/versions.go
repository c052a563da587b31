package manifests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pins used when scripts/versions.env does not (yet) name them. versions.env wins when it does.
var defaultPins = map[string]string{
	// k8s.io/kubernetes module version whose api/openapi-spec/swagger.json is the schema of the
	// built-in kinds; its minor must be the cluster's (eksctl/cluster.yaml metadata.version).
	"KUBERNETES_SCHEMA_VERSION": "1.35.4",
	// github.com/dapr/dapr: charts/dapr/crds/ are the CRDs `dapr init -k` installs.
	"DAPR_RUNTIME_VERSION": "1.16.5",
	// github.com/DataDog/datadog-operator: config/crd/bases/v1/ holds the DatadogAgent CRD.
	"DATADOG_OPERATOR_VERSION": "1.31.2",
}

// Pins are the versions the schemas are taken from.
type Pins struct {
	KubernetesSchema string // e.g. 1.35.4
	Dapr             string
	DatadogOperator  string
	FromFile         map[string]bool // which came from scripts/versions.env
}

// KubernetesMinor returns "1.35" for "1.35.4".
func (p Pins) KubernetesMinor() string {
	parts := strings.SplitN(p.KubernetesSchema, ".", 3)
	if len(parts) < 2 {
		return p.KubernetesSchema
	}
	return parts[0] + "." + parts[1]
}

// LoadPins reads scripts/versions.env (KEY=value lines) and fills in the defaults.
func LoadPins(repoRoot string) (Pins, error) {
	values := map[string]string{}
	fromFile := map[string]bool{}
	f, err := os.Open(filepath.Join(repoRoot, "scripts", "versions.env"))
	if err == nil {
		defer f.Close()
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
			values[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		if err := sc.Err(); err != nil {
			return Pins{}, err
		}
	} else if !os.IsNotExist(err) {
		return Pins{}, err
	}
	get := func(key string) string {
		if v, ok := values[key]; ok && v != "" {
			fromFile[key] = true
			return strings.TrimPrefix(v, "v")
		}
		return defaultPins[key]
	}
	return Pins{
		KubernetesSchema: get("KUBERNETES_SCHEMA_VERSION"),
		Dapr:             get("DAPR_RUNTIME_VERSION"),
		DatadogOperator:  get("DATADOG_OPERATOR_VERSION"),
		FromFile:         fromFile,
	}, nil
}
