package manifests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The optional collector component moves the OTLP endpoints off the Agent; these tests check it instead of the Agent-endpoint checks.
const collectorComponent = "otel-collector"

const collectorNamespace = "otel-collector"

// componentsExcept lists kubernetes/components/* but the named ones.
func componentsExcept(t *testing.T, names ...string) []string {
	t.Helper()
	var out []string
	for _, d := range componentDirs(t) {
		if !slices.Contains(names, filepath.Base(d)) {
			out = append(out, d)
		}
	}
	return out
}

// collectorObjects renders kubernetes/ with the collector: its own objects (its namespace) and the others.
func collectorObjects(t *testing.T) (collector, app []Object) {
	t.Helper()
	repo, _, _, _ := fixtures(t)
	objs, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "kubernetes"), Components: []string{filepath.Join(repo, "kubernetes", "components", collectorComponent)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Namespace() == collectorNamespace || (o.Kind() == "Namespace" && o.Name() == collectorNamespace) {
			collector = append(collector, o)
		} else {
			app = append(app, o)
		}
	}
	if len(collector) == 0 {
		t.Fatal("the component renders no object in namespace " + collectorNamespace)
	}
	return collector, app
}

// The app's objects, patched by the component, pass every cross-check but the two that pin OTLP to the Agent.
func TestCollectorComponentKeepsTheAppChecksGreen(t *testing.T) {
	repo, _, _, _ := fixtures(t)
	_, app := collectorObjects(t)
	b, err := LoadBundle(repo, app)
	if err != nil {
		t.Fatal(err)
	}
	for name, check := range Checks {
		if name == "SidecarOTLPEndpointIsAgentLocal" || name == "AppOTLPEndpointIsAgentHostPort" {
			continue
		}
		requireNoErrors(t, name, check(b))
	}
}

func TestCollectorObjectsHaveTheRecommendedLabels(t *testing.T) {
	collector, _ := collectorObjects(t)
	requireNoErrors(t, "labels", CheckRecommendedLabels(&Bundle{App: collector}))
}

// Both collectors: Pod Security restricted, hardened as the apps (images' uid 10001), the pinned release.
func TestCollectorPodsMeetPodSecurityRestrictedAndAreHardened(t *testing.T) {
	_, pins, _, _ := fixtures(t)
	collector, _ := collectorObjects(t)
	version, ok := pins.Env["COLLECTOR_VERSION"]
	if !ok {
		t.Fatal("scripts/versions.env has no COLLECTOR_VERSION")
	}
	b := &Bundle{App: collector, Pins: pins, Inj: baseBundle(t).Inj}
	ws := b.Workloads()
	mustFind(t, collector, "DaemonSet", "otel-agent")
	mustFind(t, collector, "Deployment", "otel-gateway")
	requireNoErrors(t, "pod security", CheckPodSecurity(b))
	requireNoErrors(t, "hardening", hardening(ws, 10001))
	for _, w := range ws {
		for _, c := range w.Spec.Template.Spec.Containers {
			if want := "otel/opentelemetry-collector-contrib:" + version; c.Image != want {
				t.Errorf("%s: image %q, want %q (COLLECTOR_VERSION)", w.who(), c.Image, want)
			}
		}
	}
}

var envPlaceholder = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)

// CheckCollectorWiring: sidecars and apps export to the agent's Service, Services reach the collectors, agent forwards to gateway, env fills each config's ${env:...}.
func CheckCollectorWiring(repo string, objs []Object) []error {
	var errs []error
	b := &Bundle{App: objs}
	services := map[string]corev1.Service{}
	for _, s := range b.services() {
		services[s.Name] = s.Service
	}
	containers := map[string]corev1.Container{}
	for _, w := range b.Workloads() {
		if w.Namespace == collectorNamespace {
			containers[w.Name] = w.Spec.Template.Spec.Containers[0]
			errs = append(errs, checkPlaceholders(repo, *w.Obj, containers[w.Name], objs)...)
		}
	}
	// serviceAddress: host:port of a Service whose port reaches the port the workload listens on (from ENV).
	serviceAddress := func(svcName, workload, listenEnv string) string {
		svc, ok := services[svcName]
		c, ok2 := containers[workload]
		if !ok || !ok2 || len(svc.Spec.Ports) != 1 {
			errs = append(errs, fmt.Errorf("want Service %s with one port and workload %s", svcName, workload))
			return ""
		}
		listen, _ := Env(&c, listenEnv)
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %q is not host:port", workload, listenEnv, listen))
			return ""
		}
		if got := resolvePort(&c, svc.Spec.Ports[0].TargetPort); strconv.Itoa(int(got)) != port {
			errs = append(errs, fmt.Errorf("service %s targets port %d, but %s listens on %s", svcName, got, workload, port))
		}
		return fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port)
	}
	agent := serviceAddress("otel-agent", "otel-agent", "OTLP_HTTP_ENDPOINT")
	if s := services["otel-agent"]; s.Spec.InternalTrafficPolicy == nil || *s.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, fmt.Errorf("service otel-agent: internalTrafficPolicy is not Local: pods would reach other nodes' agents"))
	}
	gateway := serviceAddress("otel-gateway", "otel-gateway", "OTLP_GRPC_ENDPOINT")
	if c, ok := containers["otel-agent"]; ok {
		if got, _ := Env(&c, "GATEWAY_OTLP_ENDPOINT"); got != gateway {
			errs = append(errs, fmt.Errorf("otel-agent: GATEWAY_OTLP_ENDPOINT %q, want the gateway's Service %q", got, gateway))
		}
	}
	for _, o := range objs {
		if o.Kind() == "Configuration" && strings.HasPrefix(o.APIVersion(), "dapr.io/") {
			if got := str(o.Map, "spec", "tracing", "otel", "endpointAddress"); got != agent {
				errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q, want the agent's Service %q", o.ID(), got, agent))
			}
		}
	}
	for _, d := range b.Deployments() {
		if d.Namespace == collectorNamespace {
			continue
		}
		for env, path := range map[string]string{"MANAGEMENT_OTLP_TRACING_ENDPOINT": "/v1/traces", "MANAGEMENT_OTLP_METRICS_EXPORT_URL": "/v1/metrics"} {
			if got, _ := Env(d.AppContainer(), env); got != "http://"+agent+path {
				errs = append(errs, fmt.Errorf("deployment %s: %s %q, want %q", d.Name, env, got, "http://"+agent+path))
			}
		}
	}
	return errs
}

// checkPlaceholders: the container sets every ${env:...} of its --config, whose ConfigMap is the shipped file.
func checkPlaceholders(repo string, o Object, c corev1.Container, objs []Object) []error {
	var errs []error
	file := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config=/conf/"); ok {
			file = v
		}
	}
	shipped, err := os.ReadFile(filepath.Join(repo, "kubernetes", "components", collectorComponent, "collector", file))
	if file == "" || err != nil {
		return []error{fmt.Errorf("%s: runs no config of collector/ (%v)", o.ID(), err)}
	}
	found := false
	for _, cm := range objs {
		if cm.Kind() == "ConfigMap" && cm.Namespace() == o.Namespace() && str(cm.Map, "data", file) != "" {
			found = true
			if str(cm.Map, "data", file) != string(shipped) {
				errs = append(errs, fmt.Errorf("%s: data %s is not collector/%s", cm.ID(), file, file))
			}
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("%s: no ConfigMap carries %s", o.ID(), file))
	}
	var names []string
	for _, m := range envPlaceholder.FindAllStringSubmatch(string(shipped), -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	for _, n := range slices.Compact(names) {
		if _, ok := Env(&c, n); !ok {
			errs = append(errs, fmt.Errorf("%s: collector/%s reads ${env:%s}, which the container does not set", o.ID(), file, n))
		}
	}
	return errs
}

func TestCollectorComponentPointsDaprAndBothAppsAtTheAgent(t *testing.T) {
	repo, _, _, _ := fixtures(t)
	collector, app := collectorObjects(t)
	all := append(DeepCopy(collector), app...)
	requireNoErrors(t, "wiring", CheckCollectorWiring(repo, all))

	// Each kind of mistake is caught, on a broken copy.
	for want, breakIt := range map[string]breaker{
		"otel.endpointAddress":               set("Configuration", "dapr-config", "datadog-agent.datadog-operator.svc.cluster.local:4318", "spec", "tracing", "otel", "endpointAddress"),
		"MANAGEMENT_OTLP_METRICS_EXPORT_URL": env("greeter", "MANAGEMENT_OTLP_METRICS_EXPORT_URL", literal("MANAGEMENT_OTLP_METRICS_EXPORT_URL", "http://$(HOST_IP):4318/v1/metrics")),
		"internalTrafficPolicy":              set("Service", "otel-agent", "Cluster", "spec", "internalTrafficPolicy"),
		"${env:OTLP_BACKEND_ENDPOINT}":       env("otel-gateway", "OTLP_BACKEND_ENDPOINT", nil),
		"GATEWAY_OTLP_ENDPOINT":              env("otel-agent", "GATEWAY_OTLP_ENDPOINT", literal("GATEWAY_OTLP_ENDPOINT", "otel-gateway.otel-collector.svc.cluster.local:4318")),
	} {
		t.Run(want, func(t *testing.T) {
			broken := &Bundle{App: DeepCopy(all)}
			breakIt(t, broken)
			errs := CheckCollectorWiring(repo, broken.App)
			if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), want) {
				t.Errorf("want an error about %s, got %v", want, errs)
			}
		})
	}
}
