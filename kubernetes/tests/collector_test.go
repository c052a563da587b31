package manifests

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// The optional collector component moves the OTLP endpoints off the Agent; these tests check it instead of the Agent-endpoint checks.
const collectorComponent = "otel-collector"

const collectorNamespace = "otel-collector"

// collectorObjects renders kubernetes/ with the collector: its own objects (its namespace) and the others.
func collectorObjects(t *testing.T) (collector, app []Object) {
	t.Helper()
	for _, o := range render(t, "kubernetes", "", fixtures(t).path("kubernetes/components/"+collectorComponent)) {
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

// Both collectors: Pod Security restricted, hardened as the apps (images' uid 10001), labelled, the pinned release.
func TestCollectorPodsMeetPodSecurityRestrictedAndAreHardened(t *testing.T) {
	collector, _ := collectorObjects(t)
	f := fixtures(t)
	version, ok := f.Pins.Env["COLLECTOR_VERSION"]
	if !ok {
		t.Fatal("scripts/versions.env has no COLLECTOR_VERSION")
	}
	b := &Bundle{App: collector, Pins: f.Pins, Inj: f.Inj}
	mustFind(t, "DaemonSet", "otel-agent", collector)
	mustFind(t, "Deployment", "otel-gateway", collector)
	requireNoErrors(t, "pod security", CheckPodSecurity(b))
	requireNoErrors(t, "hardening", b.hardening(b.Workloads(), 10001))
	requireNoErrors(t, "labels", CheckRecommendedLabels(b))
	for _, w := range b.Workloads() {
		for _, c := range w.Spec.Template.Spec.Containers {
			if want := "otel/opentelemetry-collector-contrib:" + version; c.Image != want {
				t.Errorf("%s: image %q, want %q (COLLECTOR_VERSION)", w.who(), c.Image, want)
			}
		}
	}
}

var envPlaceholder = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)

// CheckCollectorWiring: sidecars and apps export to the agent's Service, Services reach the collectors, agent forwards to gateway, env fills each config's ${env:...}.
func CheckCollectorWiring(b *Bundle) []error {
	var errs []error
	services := map[string]corev1.Service{}
	for _, s := range ofKind[corev1.Service](b.App, "Service") {
		services[s.Name] = s
	}
	containers := map[string]corev1.Container{}
	for _, w := range b.Workloads() {
		if w.Namespace == collectorNamespace {
			containers[w.Name] = *w.AppContainer()
			errs = append(errs, checkPlaceholders(b.Repo, w, b.App)...)
		}
	}
	// address: host:port of a collector's one-port Service, which reaches the port the collector listens on (listenEnv).
	address := func(name, listenEnv string) string {
		svc, c := services[name], containers[name]
		listen, _ := Env(&c, listenEnv)
		_, port, err := net.SplitHostPort(listen)
		if len(svc.Spec.Ports) != 1 || err != nil {
			errs = append(errs, fmt.Errorf("want Service %s with one port, and a workload of that name whose %s is host:port (%v)", name, listenEnv, err))
			return ""
		}
		if got := containerPort(svc.Spec.Ports[0].TargetPort, c); strconv.Itoa(int(got)) != port {
			errs = append(errs, fmt.Errorf("service %s targets port %d, but %s listens on %s", name, got, name, port))
		}
		return fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, svc.Namespace, svc.Spec.Ports[0].Port)
	}
	agent, gateway := address("otel-agent", "OTLP_HTTP_ENDPOINT"), address("otel-gateway", "OTLP_GRPC_ENDPOINT")
	if p := services["otel-agent"].Spec.InternalTrafficPolicy; p == nil || *p != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, fmt.Errorf("service otel-agent: internalTrafficPolicy is not Local: pods would reach other nodes' agents"))
	}
	if c, ok := containers["otel-agent"]; ok {
		if got, _ := Env(&c, "GATEWAY_OTLP_ENDPOINT"); got != gateway {
			errs = append(errs, fmt.Errorf("otel-agent: GATEWAY_OTLP_ENDPOINT %q, want the gateway's Service %q", got, gateway))
		}
	}
	for _, o := range b.App {
		if got := str(o.Map, "spec", "tracing", "otel", "endpointAddress"); o.Kind() == "Configuration" && got != agent {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q, want the agent's Service %q", o.ID(), got, agent))
		}
	}
	for _, d := range b.Deployments() {
		for env, path := range map[string]string{"MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT": "/v1/traces", "MANAGEMENT_OTLP_METRICS_EXPORT_URL": "/v1/metrics"} {
			if got, _ := Env(d.AppContainer(), env); d.Namespace != collectorNamespace && got != "http://"+agent+path {
				errs = append(errs, d.errorf("%s %q, want %q", env, got, "http://"+agent+path))
			}
		}
	}
	return errs
}

// checkPlaceholders: the container sets every ${env:...} of its --config, whose ConfigMap is the shipped file.
func checkPlaceholders(repo string, w Deployment, objs []Object) []error {
	c := w.Spec.Template.Spec.Containers[0]
	file := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config=/conf/"); ok {
			file = v
		}
	}
	shipped, err := os.ReadFile(filepath.Join(repo, "kubernetes", "components", collectorComponent, "collector", file))
	if file == "" || err != nil {
		return []error{w.errorf("runs no config of collector/ (%v)", err)}
	}
	var errs []error
	found := false
	for _, cm := range objs {
		if data := str(cm.Map, "data", file); cm.Kind() == "ConfigMap" && cm.Namespace() == w.Namespace && data != "" {
			found = true
			if data != string(shipped) {
				errs = append(errs, fmt.Errorf("%s: data %s is not collector/%s", cm.ID(), file, file))
			}
		}
	}
	if !found {
		errs = append(errs, w.errorf("no ConfigMap carries %s", file))
	}
	names := sets.New[string]()
	for _, m := range envPlaceholder.FindAllStringSubmatch(string(shipped), -1) {
		names.Insert(m[1])
	}
	for _, n := range sets.List(names) {
		if _, ok := Env(&c, n); !ok {
			errs = append(errs, w.errorf("collector/%s reads ${env:%s}, which the container does not set", file, n))
		}
	}
	return errs
}

func TestCollectorComponentPointsDaprAndBothAppsAtTheAgent(t *testing.T) {
	collector, app := collectorObjects(t)
	b := bundle(t, append(collector, app...))
	for want, breakIt := range map[string]breaker{
		"otel.endpointAddress":               set("Configuration", "dapr-config", "datadog-agent.datadog-operator.svc.cluster.local:4318", "spec", "tracing", "otel", "endpointAddress"),
		"MANAGEMENT_OTLP_METRICS_EXPORT_URL": env("greeter", "MANAGEMENT_OTLP_METRICS_EXPORT_URL", literal("MANAGEMENT_OTLP_METRICS_EXPORT_URL", "http://$(HOST_IP):4318/v1/metrics")),
		"internalTrafficPolicy":              set("Service", "otel-agent", "Cluster", "spec", "internalTrafficPolicy"),
		"${env:OTLP_BACKEND_ENDPOINT}":       env("otel-gateway", "OTLP_BACKEND_ENDPOINT", nil),
		"GATEWAY_OTLP_ENDPOINT":              env("otel-agent", "GATEWAY_OTLP_ENDPOINT", literal("GATEWAY_OTLP_ENDPOINT", "otel-gateway.otel-collector.svc.cluster.local:4318")),
	} {
		t.Run(want, func(t *testing.T) { expectCaught(t, b, CheckCollectorWiring, want, breakIt) })
	}
}
