package manifests

import (
	"errors"
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
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Bundle is what the cross-checks read: rendered app manifests, DatadogAgent, ClusterConfig, the apps' configuration.
type Bundle struct {
	Repo    string
	App     []Object              // kubectl apply -k kubernetes/ (or an overlay of it)
	Datadog []Object              // datadog/datadog-agent.yaml
	Storage []Object              // kubernetes/storage/gp3-storageclass.yaml: EKS only, applied by scripts/deploy.sh
	Cluster []Object              // eksctl/cluster.yaml
	Apps    map[string]*AppConfig // by image name, which is also the Maven module's folder
	Pins    Pins                  // scripts/versions.env
	Inj     *Injector             // Dapr's sidecar injector as scripts/install.sh installs it
}

// Copy returns a deep copy a test can break without touching the original.
func (b *Bundle) Copy() *Bundle {
	c := *b
	c.App, c.Datadog, c.Storage, c.Cluster = DeepCopy(b.App), DeepCopy(b.Datadog), DeepCopy(b.Storage), DeepCopy(b.Cluster)
	c.Inj = &Injector{injectorChart: b.Inj.injectorChart, Values: runtime.DeepCopyJSON(b.Inj.Values)}
	c.Apps = map[string]*AppConfig{}
	for k, a := range b.Apps {
		c.Apps[k] = &AppConfig{Module: a.Module, File: a.File, props: runtime.DeepCopyJSON(a.props)}
	}
	return &c
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

// ofKind decodes the objects of the given kinds into T.
func ofKind[T any](objs []Object, kinds ...string) []T {
	var out []T
	for _, o := range objs {
		if slices.Contains(kinds, o.Kind()) {
			var v T
			if err := decode(o.Map, &v); err != nil {
				panic(fmt.Sprintf("%s: %v", o.ID(), err))
			}
			out = append(out, v)
		}
	}
	return out
}

// LoadBundle reads everything from the repository; app is the rendered kubernetes/ (or overlay).
func LoadBundle(repo string, app []Object) (*Bundle, error) {
	b := &Bundle{Repo: repo, App: app, Apps: map[string]*AppConfig{}}
	var errs [5]error
	b.Datadog, errs[0] = ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	b.Storage, errs[4] = ReadManifests(filepath.Join(repo, "kubernetes", "storage", "gp3-storageclass.yaml"))
	b.Cluster, errs[1] = ReadManifests(filepath.Join(repo, "eksctl", "cluster.yaml"))
	b.Pins, errs[2] = LoadPins(repo)
	b.Inj, errs[3] = LoadInjector(repo)
	err := errors.Join(errs[:]...)
	if err != nil {
		return nil, err
	}
	for _, d := range b.Deployments() {
		for _, c := range d.Spec.Template.Spec.Containers {
			if mod, _ := parseImage(c.Image); b.Apps[mod] == nil {
				if b.Apps[mod], err = LoadAppConfig(repo, mod); err != nil {
					return nil, err
				}
			}
		}
	}
	return b, nil
}

// Deployment is a rendered workload, typed as a Deployment: metadata, selector and template sit at the same paths in all of them.
type Deployment struct{ appsv1.Deployment }

// Deployments returns the Deployments of the app manifests, typed.
func (b *Bundle) Deployments() []Deployment { return ofKind[Deployment](b.App, "Deployment") }

// Workloads are the objects with a pod template.
func (b *Bundle) Workloads() []Deployment {
	return ofKind[Deployment](b.App, "Deployment", "DaemonSet", "StatefulSet")
}

// who names a workload in messages: "deployment greeter".
func (d Deployment) who() string { return strings.ToLower(d.Kind) + " " + d.Name }

// errorf reports a mistake in the workload: "deployment greeter: ...".
func (d Deployment) errorf(format string, args ...any) error {
	return fmt.Errorf(d.who()+": "+format, args...)
}

// Annotation returns a pod template annotation.
func (d Deployment) Annotation(key string) string { return d.Spec.Template.Annotations[key] }

// DaprEnabled tells whether Dapr injects a sidecar into the pods.
func (d Deployment) DaprEnabled() bool { return d.Annotation("dapr.io/enabled") == "true" }

// AppContainer is the first container (the app; the Dapr sidecar is added at admission).
func (d Deployment) AppContainer() *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

// allContainers lists init containers, then containers.
func allContainers(ps corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(ps.InitContainers), ps.Containers...)
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

// envSource returns where env var name of c is read from (nil for a literal or an unset one).
func envSource(c *corev1.Container, name string) *corev1.EnvVarSource {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil {
			return e.ValueFrom
		}
	}
	return nil
}

// hasFieldRef tells whether env var name of c reads the downward API field path.
func hasFieldRef(c *corev1.Container, name, path string) bool {
	s := envSource(c, name)
	return s != nil && s.FieldRef != nil && s.FieldRef.FieldPath == path
}

// containerPort resolves a port, a number or a name, against the containers' ports (0 for a name none declares).
func containerPort(port intstr.IntOrString, cs ...corev1.Container) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, c := range cs {
		if i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == port.StrVal }); i >= 0 {
			return c.Ports[i].ContainerPort
		}
	}
	return 0
}

// parseImage returns the last path element of an image reference and its tag ("" when it has none).
func parseImage(image string) (name, tag string) {
	ref, _, _ := strings.Cut(image, "@")
	name, tag, _ = strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	return name, tag
}

// AppConfig is a Spring Boot app's src/main/resources/application.yaml.
type AppConfig struct {
	Module string
	File   string // application.yaml, if the module has one
	props  map[string]any
}

// LoadAppConfig reads the first (profile-less) document of the module's application.yaml, if any.
func LoadAppConfig(repo, module string) (*AppConfig, error) {
	a := &AppConfig{Module: module, props: map[string]any{}}
	file := filepath.Join(repo, module, "src", "main", "resources", "application.yaml")
	docs, err := ReadManifests(file)
	if os.IsNotExist(err) {
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	a.File = file
	if len(docs) > 0 {
		a.props = docs[0].Map
	}
	return a, nil
}

// raw looks a dotted property up, nested (server: port:) or flat ("server.port":), trying the longest key first.
func (a *AppConfig) raw(key string) (string, bool) {
	parts := strings.Split(key, ".")
	cur := any(a.props)
	for i := 0; i < len(parts); i++ {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		found := false
		for j := len(parts); j > i && !found; j-- {
			if v, ok := m[strings.Join(parts[i:j], ".")]; ok {
				cur, i, found = v, j-1, true
			}
		}
		if !found {
			return "", false
		}
	}
	switch cur.(type) {
	case nil, map[string]any, []any:
		return "", false
	}
	return fmt.Sprint(cur), true
}

var placeholder = regexp.MustCompile(`\$\{([^}:]+)(?::([^}]*))?\}`)

// Property: the container's env (Spring's relaxed binding) wins, then application.yaml with ${VAR:default} resolved, then def.
func (a *AppConfig) Property(key string, c *corev1.Container, def string) string {
	env := func(name string) (string, bool) {
		if c == nil {
			return "", false
		}
		return Env(c, name)
	}
	if v, ok := env(strings.ToUpper(strings.NewReplacer("-", "", ".", "_").Replace(key))); ok {
		return v
	}
	v, ok := a.raw(key)
	if !ok {
		return def
	}
	return placeholder.ReplaceAllStringFunc(v, func(m string) string {
		sub := placeholder.FindStringSubmatch(m)
		if e, ok := env(sub[1]); ok {
			return e
		}
		return sub[2]
	})
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
