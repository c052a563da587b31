package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	injectorconsts "github.com/dapr/dapr/pkg/injector/consts"
	"github.com/dapr/dapr/pkg/injector/patcher"
	kitstrings "github.com/dapr/kit/strings"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The sidecar is added with the pinned injector's own code, configured as its Helm chart plus kubernetes/dapr-values.yaml (install.sh's --values).

const (
	daprModule        = "github.com/dapr/dapr"
	daprValuesFile    = "kubernetes/dapr-values.yaml"
	injectorChartDir  = "charts/dapr/charts/dapr_sidecar_injector"
	injectorChartName = "dapr_sidecar_injector"
	// The namespace of the control plane and of the dashboard (scripts/install.sh installs both charts there).
	daprSystemNamespace = "dapr-system"
)

// Chart values that shape the sidecar's security, the env var the chart passes each in, and how the injector reads it.
type injectorValue struct {
	value, env string
	apply      func(c *patcher.SidecarConfig, v string)
}

var injectorSecurityValues = []injectorValue{
	{"sidecarRunAsNonRoot", "SIDECAR_RUN_AS_NON_ROOT", func(c *patcher.SidecarConfig, v string) { c.RunAsNonRoot = truthyDefaultTrue(v) }},
	{"sidecarReadOnlyRootFilesystem", "SIDECAR_READ_ONLY_ROOT_FILESYSTEM", func(c *patcher.SidecarConfig, v string) { c.ReadOnlyRootFilesystem = truthyDefaultTrue(v) }},
	{"sidecarDropALLCapabilities", "SIDECAR_DROP_ALL_CAPABILITIES", func(c *patcher.SidecarConfig, v string) { c.SidecarDropALLCapabilities = kitstrings.IsTruthy(v) }},
	{"sidecarRunAsUser", "SIDECAR_RUN_AS_USER", func(c *patcher.SidecarConfig, v string) { c.RunAsUser = positiveInt(v) }},
	{"sidecarRunAsGroup", "SIDECAR_RUN_AS_GROUP", func(c *patcher.SidecarConfig, v string) { c.RunAsGroup = positiveInt(v) }},
	{"enableK8sDownwardAPIs", "ENABLE_K8S_DOWNWARD_APIS", func(c *patcher.SidecarConfig, v string) { c.EnableK8sDownwardAPIs = kitstrings.IsTruthy(v) }},
	{"nativeSidecar", "NATIVE_SIDECAR_ENABLED", func(c *patcher.SidecarConfig, v string) { c.EnableNativeSidecar = kitstrings.IsTruthy(v) }},
}

func truthyDefaultTrue(v string) bool { return v == "" || kitstrings.IsTruthy(v) }

// positiveInt: the chart passes sidecarRunAsUser/Group only when above 0.
func positiveInt(v string) *int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return nil
	}
	return &n
}

// Injector is the sidecar injector as install.sh installs it.
type Injector struct {
	*injectorChart
	Values map[string]any // kubernetes/dapr-values.yaml
}

type injectorChart struct {
	Version     string         // of github.com/dapr/dapr, compiled into these tests
	ChartValues map[string]any // the injector chart's values.yaml
	AllValues   map[string]any // the umbrella chart's values.yaml (global.*, ...)
	DeployTmpl  string         // the injector chart's Deployment template
}

// CompiledDaprVersion: the github.com/dapr/dapr of go.mod (a test binary carries no module versions).
func CompiledDaprVersion() (string, error) {
	out, err := exec.Command(goCommand(), "list", "-m", "-f", "{{.Version}}", daprModule).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", daprModule, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), nil
}

// loadChart reads the compiled injector's chart once: it is the same for every repository.
var loadChart = sync.OnceValues(func() (*injectorChart, error) {
	v, err := CompiledDaprVersion()
	if err != nil {
		return nil, err
	}
	dir, err := ModuleDir(daprModule, "v"+v)
	if err != nil {
		return nil, err
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, injectorChartDir, "templates", "dapr_sidecar_injector_deployment.yaml"))
	chart := &injectorChart{Version: v, DeployTmpl: string(tmpl)}
	var errs [2]error
	chart.ChartValues, errs[0] = readYAMLMap(filepath.Join(dir, injectorChartDir, "values.yaml"))
	chart.AllValues, errs[1] = readYAMLMap(filepath.Join(dir, "charts", "dapr", "values.yaml"))
	return chart, errors.Join(err, errs[0], errs[1])
})

// LoadInjector reads the chart and the repository's values file.
func LoadInjector(repo string) (*Injector, error) {
	chart, err := loadChart()
	if err != nil {
		return nil, err
	}
	values, err := readYAMLMap(filepath.Join(repo, daprValuesFile))
	if err != nil {
		return nil, err
	}
	return &Injector{chart, values}, nil
}

func readYAMLMap(file string) (map[string]any, error) {
	objs, err := ReadManifests(file)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: want one YAML document, got %d", file, len(objs))
	}
	return objs[0].Map, nil
}

// values: the injector chart's values with the values file's merged over them, as Helm does; an error for an
// unknown or unmodelled key.
func (inj *Injector) values() (map[string]string, error) {
	out := map[string]string{}
	for k, v := range inj.ChartValues {
		out[k] = fmt.Sprint(v)
	}
	leaves := map[string]any{}
	flatten("", inj.Values, leaves)
	for _, key := range slices.Sorted(maps.Keys(leaves)) {
		chart, name, _ := strings.Cut(key, ".")
		if chart != injectorChartName {
			if _, found, _ := unstructured.NestedFieldNoCopy(inj.AllValues, strings.Split(key, ".")...); !found {
				return nil, fmt.Errorf("%s: %s is not a value of Dapr %s's chart (charts/dapr/values.yaml)", daprValuesFile, key, inj.Version)
			}
			continue
		}
		models := slices.ContainsFunc(injectorSecurityValues, func(s injectorValue) bool { return s.value == name })
		if _, known, _ := unstructured.NestedFieldNoCopy(inj.ChartValues, strings.Split(name, ".")...); !known && !models {
			return nil, fmt.Errorf("%s: %s is not a value of Dapr %s's injector chart (%s/values.yaml)", daprValuesFile, key, inj.Version, injectorChartDir)
		}
		out[name] = fmt.Sprint(leaves[key])
	}
	return out, nil
}

// flatten: each scalar or list of a values map under its dotted path, as --set names it.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
		} else {
			out[prefix+k] = v
		}
	}
}

// CheckWiring fails when a new Dapr chart renames a modelled value or its variable.
func (inj *Injector) CheckWiring() []error {
	var errs []error
	for _, s := range injectorSecurityValues {
		re := regexp.MustCompile(`- name: ` + s.env + `\s+value: \{\{ \.Values\.` + s.value + `\b`)
		if !re.MatchString(inj.DeployTmpl) {
			errs = append(errs, fmt.Errorf("Dapr %s's injector chart no longer passes .Values.%s as %s: update injectorSecurityValues", inj.Version, s.value, s.env))
		}
	}
	return errs
}

// Inject returns a Deployment's pod as the API server stores it, with the sidecar, and the injector's configuration:
// the chart settings, then the pod's dapr.io/* annotations (pkg/injector/service/pod_patch.go).
func (inj *Injector) Inject(d Deployment) (*corev1.Pod, *patcher.SidecarConfig, error) {
	vals, err := inj.values()
	if err != nil {
		return nil, nil, err
	}
	pod := &corev1.Pod{ObjectMeta: *d.Spec.Template.ObjectMeta.DeepCopy(), Spec: *d.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = d.Namespace
	pod.Name = d.Name + "-0"
	c := patcher.NewSidecarConfig(pod)
	c.Namespace = pod.Namespace
	c.MTLSEnabled = true
	c.SchedulerEnabled = true
	c.ControlPlaneNamespace = daprSystemNamespace
	c.ControlPlaneTrustDomain = "cluster.local"
	c.KubeClusterDomain = "cluster.local"
	c.SidecarImage = "ghcr.io/dapr/daprd:" + inj.Version
	for _, s := range injectorSecurityValues {
		s.apply(c, vals[s.value])
	}
	c.SetFromPodAnnotations()
	patch, err := c.GetPatch()
	if err != nil {
		return nil, nil, d.errorf("the injector: %w", err)
	}
	js, err := json.Marshal(pod)
	if err != nil {
		return nil, nil, err
	}
	if js, err = patch.Apply(js); err != nil {
		return nil, nil, d.errorf("applying the injector's patch: %w", err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(js, out); err != nil {
		return nil, nil, err
	}
	return out, c, nil
}

// Sidecar returns the daprd container of an injected pod.
func Sidecar(pod *corev1.Pod) *corev1.Container {
	cs := allContainers(pod.Spec)
	if i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == injectorconsts.SidecarContainerName }); i >= 0 {
		return &cs[i]
	}
	return nil
}
