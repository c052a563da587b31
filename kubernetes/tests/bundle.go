package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Bundle is what the cross-checks read: rendered app manifests, DatadogAgent, ClusterConfig, the apps' configuration.
type Bundle struct {
	Repo    string
	App     []Object              // kubectl apply -k kubernetes/ (or an overlay of it)
	Datadog []Object              // datadog/datadog-agent.yaml
	Cluster []Object              // eksctl/cluster.yaml
	Apps    map[string]*AppConfig // by image name, which is also the Maven module's folder
	Pins    Pins                  // scripts/versions.env
	Inj     *Injector             // Dapr's sidecar injector as scripts/deploy.sh installs it
}

// Copy returns a deep copy a test can break without touching the original.
func (b *Bundle) Copy() *Bundle {
	c := &Bundle{Repo: b.Repo, App: DeepCopy(b.App), Datadog: DeepCopy(b.Datadog), Cluster: DeepCopy(b.Cluster), Apps: map[string]*AppConfig{}, Pins: b.Pins, Inj: b.Inj.copy()}
	for k, v := range b.Apps {
		c.Apps[k] = v.copy()
	}
	return c
}

// Find returns the object of that kind and name, or nil.
func Find(objs []Object, kind, name string) *Object {
	for i := range objs {
		if objs[i].Kind() == kind && objs[i].Name() == name {
			return &objs[i]
		}
	}
	return nil
}

// LoadBundle reads everything from the repository; app is the rendered kubernetes/ (or overlay).
func LoadBundle(repo string, app []Object) (*Bundle, error) {
	dd, err := ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	if err != nil {
		return nil, err
	}
	cl, err := ReadManifests(filepath.Join(repo, "eksctl", "cluster.yaml"))
	if err != nil {
		return nil, err
	}
	pins, err := LoadPins(repo)
	if err != nil {
		return nil, err
	}
	inj, err := LoadInjector(repo)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Repo: repo, App: app, Datadog: dd, Cluster: cl, Apps: map[string]*AppConfig{}, Pins: pins, Inj: inj}
	for _, d := range b.Deployments() {
		for _, c := range d.Spec.Template.Spec.Containers {
			mod := imageName(c.Image)
			if _, done := b.Apps[mod]; done {
				continue
			}
			a, err := LoadAppConfig(repo, mod)
			if err != nil {
				return nil, err
			}
			b.Apps[mod] = a
		}
	}
	return b, nil
}

// Deployment is a rendered Deployment with its typed form.
type Deployment struct {
	Obj *Object
	appsv1.Deployment
}

// Deployments returns the Deployments of the app manifests, typed.
func (b *Bundle) Deployments() []Deployment { return b.workloads("Deployment") }

// Workloads are the objects with a pod template, typed as Deployments: metadata, selector and template sit at the same paths.
func (b *Bundle) Workloads() []Deployment {
	return b.workloads("Deployment", "DaemonSet", "StatefulSet")
}

func (b *Bundle) workloads(kinds ...string) []Deployment {
	var out []Deployment
	for i := range b.App {
		if !slices.Contains(kinds, b.App[i].Kind()) {
			continue
		}
		var d appsv1.Deployment
		if err := convert(b.App[i].Map, &d); err != nil {
			panic(fmt.Sprintf("%s: %v", b.App[i].ID(), err))
		}
		out = append(out, Deployment{Obj: &b.App[i], Deployment: d})
	}
	return out
}

// who names a workload in messages: "deployment greeter".
func (d Deployment) who() string { return strings.ToLower(d.Kind) + " " + d.Name }

// Annotation returns a pod template annotation.
func (d Deployment) Annotation(key string) string { return d.Spec.Template.Annotations[key] }

// DaprEnabled tells whether Dapr injects a sidecar into the pods.
func (d Deployment) DaprEnabled() bool { return d.Annotation("dapr.io/enabled") == "true" }

// AppContainer is the first container (the app; the Dapr sidecar is added at admission).
func (d Deployment) AppContainer() *corev1.Container {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return nil
	}
	return &d.Spec.Template.Spec.Containers[0]
}

// Env returns the literal value of an env var of the container ("" and false if unset or not literal).
func Env(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// hasFieldRef tells whether env var name of c reads the downward API field path.
func hasFieldRef(c *corev1.Container, name, path string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path
	})
}

// ContainerPort resolves a port (number or name) of a container; 0 if it has no such port.
func ContainerPort(c *corev1.Container, port string) int32 {
	for _, p := range c.Ports {
		if p.Name != "" && p.Name == port {
			return p.ContainerPort
		}
		if strconv.Itoa(int(p.ContainerPort)) == port {
			return p.ContainerPort
		}
	}
	return 0
}

// imageName is the last path element of an image reference, without tag or digest.
func imageName(image string) string {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if i := strings.Index(ref, ":"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// imageTag returns the tag of an image reference ("" when it has none).
func imageTag(image string) string {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.Index(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}

// AppConfig is a Spring Boot app's src/main/resources/application.yaml.
type AppConfig struct {
	Module  string
	Present bool   // the module's folder exists
	File    string // application.yaml, if the module has one
	props   map[string]any
}

func (a *AppConfig) copy() *AppConfig {
	c := *a
	c.props = runtime.DeepCopyJSON(normalize(a.props).(map[string]any))
	return &c
}

// LoadAppConfig reads the first (profile-less) document of the module's application.yaml, if any.
func LoadAppConfig(repo, module string) (*AppConfig, error) {
	a := &AppConfig{Module: module, props: map[string]any{}}
	if st, err := os.Stat(filepath.Join(repo, module)); err == nil && st.IsDir() {
		a.Present = true
	}
	file := filepath.Join(repo, module, "src", "main", "resources", "application.yaml")
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	docs, err := ParseManifests(file, data)
	if err != nil {
		return nil, err
	}
	a.File = file
	if len(docs) > 0 {
		a.props = docs[0].Map
	}
	return a, nil
}

// SetProperty changes a property (tests use it to break a copy).
func (a *AppConfig) SetProperty(key string, value any) {
	Set(a.props, value, toAnyPath(strings.Split(key, "."))...)
}

// raw looks a dotted property up, nested (server: port:) or flat ("server.port":).
func (a *AppConfig) raw(key string) (string, bool) {
	if v, ok := a.props[key]; ok {
		return fmt.Sprint(v), true
	}
	parts := strings.Split(key, ".")
	cur := any(a.props)
	for i := 0; i < len(parts); i++ {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		// A key may itself contain dots ("additional-path" no, but "a.b": yes): try longest first.
		found := false
		for j := len(parts); j > i; j-- {
			if v, ok := m[strings.Join(parts[i:j], ".")]; ok {
				cur, i, found = v, j-1, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	if cur == nil {
		return "", false
	}
	switch v := cur.(type) {
	case map[string]any, []any:
		return "", false
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	default:
		return fmt.Sprint(v), true
	}
}

var placeholder = regexp.MustCompile(`\$\{([^}:]+)(?::([^}]*))?\}`)

// Property: the container's env (Spring's relaxed binding) wins, then application.yaml with ${VAR:default} resolved, then def.
func (a *AppConfig) Property(key string, c *corev1.Container, def string) string {
	if c != nil {
		if v, ok := Env(c, envName(key)); ok {
			return v
		}
	}
	v, ok := a.raw(key)
	if !ok {
		return def
	}
	return placeholder.ReplaceAllStringFunc(v, func(m string) string {
		sub := placeholder.FindStringSubmatch(m)
		if c != nil {
			if e, ok := Env(c, sub[1]); ok {
				return e
			}
		}
		return sub[2]
	})
}

// envName is the environment variable Spring Boot binds to a property.
func envName(key string) string {
	return strings.ToUpper(strings.NewReplacer("-", "", ".", "_").Replace(key))
}

var springDuration = regexp.MustCompile(`^(\d+)(ns|us|ms|s|m|h|d)?$`)

// ParseSpringDuration parses Spring Boot durations: "2s", "500ms", "2000" (ms), "PT2S".
func ParseSpringDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := springDuration.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		unit := map[string]time.Duration{"": time.Millisecond, "ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
		return time.Duration(n) * unit, nil
	}
	if strings.HasPrefix(strings.ToUpper(s), "PT") {
		return time.ParseDuration(strings.ToLower(s[2:]))
	}
	return 0, fmt.Errorf("not a Spring Boot duration: %q", s)
}

// convert decodes an object (or part of one) into its typed form.
func convert(m map[string]any, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(normalize(m).(map[string]any), out)
}
