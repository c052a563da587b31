// Package manifests checks offline what the local cluster of scripts/tests/cluster cannot see: EKS's and Datadog's files, cross-file agreements.
package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one manifest as the API server would receive it: JSON values, whole numbers as int64.
type Object struct{ Map map[string]any }

func (o Object) field(path ...string) string {
	s, _, _ := unstructured.NestedString(o.Map, path...)
	return s
}
func (o Object) Kind() string { return o.field("kind") }
func (o Object) ID() string   { return o.Kind() + "/" + o.field("metadata", "name") }

// ofKind decodes the objects of a kind into T, the part of it a check reads.
func ofKind[T any](objs []Object, kind string) []T {
	var out []T
	for _, o := range objs {
		var v T
		if o.Kind() == kind {
			must(decode(o.Map, &v))
			out = append(out, v)
		}
	}
	return out
}

func decode(v, out any) error {
	js, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(js, out)
	}
	return err
}

// must: a check reads only what decodes, which the schemas and kubectl ensure.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Render builds a kustomization as `kubectl apply -k` does.
func Render(dir string) ([]Object, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		var o Object
		js, err := r.MarshalJSON()
		if err == nil {
			err = utiljson.Unmarshal(js, &o.Map)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// readOne reads a file of one YAML document as `kubectl apply -f` does (a duplicate key is an error).
func readOne(file string) (o Object, err error) {
	data, err := os.ReadFile(file)
	if err == nil && bytes.Contains(bytes.TrimPrefix(data, []byte("---\n")), []byte("\n---")) {
		err = errors.New("want one document, found more")
	}
	if err == nil {
		data, err = yaml.YAMLToJSONStrict(data)
	}
	if err == nil {
		err = utiljson.Unmarshal(data, &o.Map)
	}
	if err != nil {
		return o, fmt.Errorf("%s: %w", file, err)
	}
	return o, nil
}

// loadVersions reads the KEY=value pins of scripts/versions.env, the one place versions are set.
func loadVersions(repo string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(repo, "scripts", "versions.env"))
	pins := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			k, v, _ := strings.Cut(line, "=")
			pins[k] = strings.Trim(v, `"'`)
		}
	}
	for _, k := range []string{"KUBERNETES_VERSION", "KUBERNETES_SCHEMA_VERSION", "DATADOG_OPERATOR_VERSION", "EKSCTL_VERSION"} {
		if err == nil && pins[k] == "" {
			err = fmt.Errorf("scripts/versions.env does not pin %s", k)
		}
	}
	return pins, err
}

// ModuleDir returns the module cache folder of path@version, fetched and verified by `go mod download`.
func ModuleDir(path, version string) (string, error) {
	work, err := os.MkdirTemp("", "moddownload-") // outside this module, whose go.mod plays no part
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir, cmd.Env = work, append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on", "GOTOOLCHAIN=auto")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", path, version, runErr, info.Error, stderr.String())
	}
	return info.Dir, nil
}

// Bundle is what the checks read.
type Bundle struct {
	App                       []Object                  // kubectl apply -k kubernetes/ (or an overlay of it)
	Datadog, Storage, Cluster Object                    // datadog/datadog-agent.yaml, kubernetes/storage/gp3-storageclass.yaml, eksctl/cluster.yaml
	Props                     map[string]map[string]any // each app's application.yaml, by image name (its Maven module)
	Versions                  map[string]string         // scripts/versions.env
	DatadogAPI                map[string]map[string]any // what scripts/deploy.sh sends to Datadog's API (no test sends it), by path
	QueriedMetrics            string                    // queriedMetricsFile
}

// The dashboard scripts/deploy.sh sends with the monitors of datadog/monitors, and the list of the metrics they query.
const (
	dashboardFile      = "datadog/dashboard.json"
	queriedMetricsFile = "datadog/queried-metrics.txt"
)

// LoadBundle reads the repository around app, the rendered kubernetes/ or an overlay of it.
func LoadBundle(repo string, app []Object) (*Bundle, error) {
	b := &Bundle{App: app, Props: map[string]map[string]any{}, DatadogAPI: map[string]map[string]any{}}
	errs := make([]error, 4)
	b.Datadog, errs[0] = readOne(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	b.Storage, errs[1] = readOne(filepath.Join(repo, "kubernetes", "storage", "gp3-storageclass.yaml"))
	b.Cluster, errs[2] = readOne(filepath.Join(repo, "eksctl", "cluster.yaml"))
	b.Versions, errs[3] = loadVersions(repo)
	for _, d := range b.Deployments() {
		module := d.module()
		props, err := readOne(filepath.Join(repo, module, "src", "main", "resources", "application.yaml"))
		b.Props[module], errs = props.Map, append(errs, err)
	}
	monitors, _ := filepath.Glob(filepath.Join(repo, "datadog", "monitors", "*.json"))
	for _, f := range append(monitors, filepath.Join(repo, dashboardFile)) {
		body, err := readOne(f) // JSON is YAML
		rel, _ := filepath.Rel(repo, f)
		b.DatadogAPI[filepath.ToSlash(rel)], errs = body.Map, append(errs, err)
	}
	text, err := os.ReadFile(filepath.Join(repo, queriedMetricsFile))
	b.QueriedMetrics = string(text)
	return b, errors.Join(append(errs, err)...)
}

// Deployment is a rendered Deployment, typed; its first container is the app.
type Deployment struct{ appsv1.Deployment }

func (b *Bundle) Deployments() []Deployment          { return ofKind[Deployment](b.App, "Deployment") }
func (d Deployment) Annotation(key string) string    { return d.Spec.Template.Annotations[key] }
func (d Deployment) DaprEnabled() bool               { return d.Annotation("dapr.io/enabled") == "true" }
func (d Deployment) AppContainer() *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }
func (d Deployment) module() string                  { m, _ := parseImage(d.AppContainer().Image); return m }
func (d Deployment) errorf(f string, args ...any) error {
	return fmt.Errorf("deployment "+d.Name+": "+f, args...)
}

// comms returns the Deployment of comms, the app that invokes greeter.
func (b *Bundle) comms() (Deployment, bool) {
	for _, d := range b.Deployments() {
		if d.module() == "comms-service" {
			return d, true
		}
	}
	return Deployment{}, false
}

// podsMatching returns the Deployments of namespace ns whose pods sel selects.
func (b *Bundle) podsMatching(ns string, sel *metav1.LabelSelector) []Deployment {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return slices.DeleteFunc(b.Deployments(), func(d Deployment) bool {
		return err != nil || d.Namespace != ns || !s.Matches(labels.Set(d.Spec.Template.Labels))
	})
}

// envVar returns the env var name of c; its zero value when unset.
func envVar(c *corev1.Container, name string) (e corev1.EnvVar) {
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name }); i >= 0 {
		e = c.Env[i]
	}
	return e
}

// fieldRef is the downward API field env var name of c reads ("" for any other value).
func fieldRef(c *corev1.Container, name string) string {
	if e := envVar(c, name); e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
		return e.ValueFrom.FieldRef.FieldPath
	}
	return ""
}

// parseImage returns the last path element of an image reference and its tag ("" when it has none).
func parseImage(image string) (name, tag string) {
	ref, _, _ := strings.Cut(image, "@")
	name, tag, _ = strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	return name, tag
}

// property reads a Spring Boot property of a Deployment's app: its container's env (relaxed binding) first, then application.yaml, else def.
func (b *Bundle) property(d Deployment, key, def string) string {
	if e := envVar(d.AppContainer(), strings.ToUpper(strings.NewReplacer("-", "", ".", "_").Replace(key))); e.Name != "" && e.ValueFrom == nil {
		return e.Value
	}
	if v, ok, _ := unstructured.NestedFieldNoCopy(b.Props[d.module()], strings.Split(key, ".")...); ok && v != nil {
		return fmt.Sprint(v)
	}
	return def
}

// springDuration parses Spring Boot's simple durations: "20s", "500ms", or milliseconds ("2000").
func springDuration(s string) (time.Duration, error) {
	if ms, err := strconv.Atoi(s); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}
