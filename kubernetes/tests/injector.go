package manifests

import (
	"bufio"
	"encoding/json"
	"fmt"
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
)

// The sidecar is added with the pinned injector's own code, configured as its Helm chart plus kubernetes/dapr-helm-values.txt (deploy.sh's --set values).

const (
	daprModule        = "github.com/dapr/dapr"
	daprHelmValues    = "kubernetes/dapr-helm-values.txt"
	injectorChart     = "charts/dapr/charts/dapr_sidecar_injector"
	injectorChartName = "dapr_sidecar_injector"
	// The namespace of the control plane (`dapr init -k`) and of the dashboard (scripts/deploy.sh installs its chart).
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

// Injector is the sidecar injector as deploy.sh installs it.
type Injector struct {
	Version     string         // of github.com/dapr/dapr, compiled into these tests
	ChartValues map[string]any // the injector chart's values.yaml
	AllValues   map[string]any // the umbrella chart's values.yaml (global.*, ...)
	DeployTmpl  string         // the injector chart's Deployment template
	Set         []string       // key=value lines of kubernetes/dapr-helm-values.txt
}

// CompiledDaprVersion: the github.com/dapr/dapr of go.mod (a test binary carries no module versions).
func CompiledDaprVersion() (string, error) {
	out, err := exec.Command(goCommand(), "list", "-m", "-f", "{{.Version}}", daprModule).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", daprModule, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), nil
}

var (
	injectorMu     sync.Mutex
	injectorByRepo = map[string]*Injector{}
)

// LoadInjector reads the chart and --set values once per repository; each caller gets its own copy.
func LoadInjector(repo string) (*Injector, error) {
	injectorMu.Lock()
	defer injectorMu.Unlock()
	if inj, ok := injectorByRepo[repo]; ok {
		return inj.copy(), nil
	}
	inj, err := loadInjector(repo)
	if err != nil {
		return nil, err
	}
	injectorByRepo[repo] = inj
	return inj.copy(), nil
}

func loadInjector(repo string) (*Injector, error) {
	v, err := CompiledDaprVersion()
	if err != nil {
		return nil, err
	}
	dir, err := ModuleDir(daprModule, "v"+v)
	if err != nil {
		return nil, err
	}
	inj := &Injector{Version: v}
	if inj.ChartValues, err = readYAMLMap(filepath.Join(dir, injectorChart, "values.yaml")); err != nil {
		return nil, err
	}
	if inj.AllValues, err = readYAMLMap(filepath.Join(dir, "charts", "dapr", "values.yaml")); err != nil {
		return nil, err
	}
	tmpl, err := os.ReadFile(filepath.Join(dir, injectorChart, "templates", "dapr_sidecar_injector_deployment.yaml"))
	if err != nil {
		return nil, err
	}
	inj.DeployTmpl = string(tmpl)
	if inj.Set, err = ReadHelmSetFile(filepath.Join(repo, daprHelmValues)); err != nil {
		return nil, err
	}
	return inj, nil
}

var helmSetLine = regexp.MustCompile(`^[A-Za-z0-9_.]+=[^\s,]+$`) // one value a line: Helm splits --set on commas

// ReadHelmSetFile reads key=value lines (comments and blank lines skipped), as deploy.sh does.
func ReadHelmSetFile(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !helmSetLine.MatchString(line) {
			return nil, fmt.Errorf("%s line %d is not a key=value Helm value: %q", file, n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
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

func (inj *Injector) copy() *Injector {
	c := *inj
	c.Set = append([]string(nil), inj.Set...)
	return &c
}

// values: the chart's values after --set, as its template renders them; an error for an unknown or unmodelled key.
func (inj *Injector) values() (map[string]string, error) {
	out := map[string]string{}
	for k, v := range inj.ChartValues {
		out[k] = fmt.Sprint(v)
	}
	for _, kv := range inj.Set {
		key, v, _ := strings.Cut(kv, "=")
		path := strings.Split(key, ".")
		if path[0] != injectorChartName {
			if _, ok := get(inj.AllValues, toAnyPath(path)...); !ok {
				return nil, fmt.Errorf("%s: %s is not a value of Dapr %s's chart (charts/dapr/values.yaml)", daprHelmValues, key, inj.Version)
			}
			continue
		}
		name := strings.Join(path[1:], ".")
		models := slices.ContainsFunc(injectorSecurityValues, func(s injectorValue) bool { return s.value == name })
		if _, known := inj.ChartValues[name]; !known && !models {
			return nil, fmt.Errorf("%s: %s is not a value of Dapr %s's injector chart (%s/values.yaml)", daprHelmValues, key, inj.Version, injectorChart)
		}
		out[name] = v
	}
	return out, nil
}

func toAnyPath(p []string) []any {
	out := make([]any, len(p))
	for i, s := range p {
		out[i] = s
	}
	return out
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

// SidecarConfig: the chart settings, then the pod's dapr.io/* annotations (pkg/injector/service/pod_patch.go).
func (inj *Injector) SidecarConfig(pod *corev1.Pod) (*patcher.SidecarConfig, error) {
	vals, err := inj.values()
	if err != nil {
		return nil, err
	}
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
	return c, nil
}

// Inject returns a Deployment's pod as the API server stores it, with the sidecar.
func (inj *Injector) Inject(d Deployment) (*corev1.Pod, *patcher.SidecarConfig, error) {
	pod := &corev1.Pod{ObjectMeta: *d.Spec.Template.ObjectMeta.DeepCopy(), Spec: *d.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = d.Namespace
	pod.Name = d.Name + "-0"
	c, err := inj.SidecarConfig(pod)
	if err != nil {
		return nil, nil, err
	}
	patch, err := c.GetPatch()
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %s: the injector: %w", d.Name, err)
	}
	js, err := json.Marshal(pod)
	if err != nil {
		return nil, nil, err
	}
	if len(patch) > 0 {
		if js, err = patch.Apply(js); err != nil {
			return nil, nil, fmt.Errorf("deployment %s: applying the injector's patch: %w", d.Name, err)
		}
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(js, out); err != nil {
		return nil, nil, err
	}
	return out, c, nil
}

// Sidecar returns the daprd container of an injected pod.
func Sidecar(pod *corev1.Pod) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == injectorconsts.SidecarContainerName {
				return &list[i]
			}
		}
	}
	return nil
}
