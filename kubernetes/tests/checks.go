package manifests

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A Check finds mistakes that no schema can see; it returns one error per mistake.
type Check func(b *Bundle) []error

// Checks are all the cross-checks, by name.
var Checks = map[string]Check{
	"AppPortMatchesServerPort":         CheckAppPorts,
	"DaprConfigExists":                 CheckDaprConfigExists,
	"InvokedAppIDExists":               CheckInvokedAppID,
	"ProbePathsAreServed":              CheckProbePaths,
	"SidecarOTLPEndpointIsAgentLocal":  CheckSidecarOTLPEndpoint,
	"AppOTLPEndpointIsAgentHostPort":   CheckAppOTLPEndpoint,
	"ContainersAreLimitedAndHardened":  CheckContainerHardening,
	"ImagesArePinned":                  CheckImagesPinned,
	"UnifiedServiceTagsAreConsistent":  CheckUnifiedServiceTags,
	"EnvReferencesAreDefined":          CheckEnvReferences,
	"RecommendedLabelsOnEveryObject":   CheckRecommendedLabels,
	"SelectorsSelectPods":              CheckSelectors,
	"ShutdownFitsGracePeriod":          CheckShutdownBudget,
	"ResiliencyFitsCallerTimeout":      CheckResiliencyBudget,
	"NetworkPoliciesMatchDaprPorts":    CheckNetworkPolicies,
	"DatadogScrapesSidecars":           CheckDatadogScrapesSidecars,
	"PodsMeetPodSecurityRestricted":    CheckPodSecurity,
	"AccessControlAllowsOnlyCalls":     CheckAccessControl,
	"DaprTokensReachApps":              CheckDaprTokens,
	"NodeGroupsAreArm64":               CheckNodeGroupsArm64,
	"EBSCSIDriverHasIAM":               CheckEBSCSIDriver,
	"DatadogAgentMatchesClusterAndApp": CheckDatadogAgent,
}

// What both apps serve on their port (the README's API), for an app without application.yaml yet.
var contractEndpoints = []string{"/actuator/health/liveness", "/actuator/health/readiness", "/health"}

const defaultServerPort = "8080" // Spring Boot's default server.port

// appOf returns the AppConfig of a Deployment's app container.
func (b *Bundle) appOf(d Deployment) *AppConfig {
	c := d.AppContainer()
	if c == nil {
		return nil
	}
	if a, ok := b.Apps[imageName(c.Image)]; ok {
		return a
	}
	return &AppConfig{Module: imageName(c.Image), props: map[string]any{}}
}

// serverPort is the port the app listens on in that container.
func (b *Bundle) serverPort(d Deployment) (int32, error) {
	v := b.appOf(d).Property("server.port", d.AppContainer(), defaultServerPort)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("deployment %s: server.port %q is not a number", d.Name, v)
	}
	return int32(n), nil
}

// CheckAppPorts: dapr.io/app-port, the containerPort, server.port and Services' targetPort are one port.
func CheckAppPorts(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		c := d.AppContainer()
		server, err := b.serverPort(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(c.Ports) == 0 {
			errs = append(errs, fmt.Errorf("deployment %s: container %s declares no port", d.Name, c.Name))
			continue
		}
		if got := c.Ports[0].ContainerPort; got != server {
			errs = append(errs, fmt.Errorf("deployment %s: containerPort %d but the app listens on server.port %d (%s)", d.Name, got, server, b.appOf(d).Module))
		}
		if d.DaprEnabled() {
			ap := d.Annotation("dapr.io/app-port")
			if ap != strconv.Itoa(int(server)) {
				errs = append(errs, fmt.Errorf("deployment %s: dapr.io/app-port %q but the app listens on server.port %d: the sidecar would call a closed port", d.Name, ap, server))
			}
			if p := d.Annotation("dapr.io/app-protocol"); p != "" && p != "http" {
				errs = append(errs, fmt.Errorf("deployment %s: dapr.io/app-protocol %q, but the app serves plain HTTP", d.Name, p))
			}
		}
		for _, svc := range b.servicesSelecting(d) {
			for _, sp := range svc.Spec.Ports {
				if resolvePort(c, sp.TargetPort) != server {
					errs = append(errs, fmt.Errorf("service %s: port %d targets %q, which is not the app's port %d in deployment %s", svc.Name, sp.Port, sp.TargetPort.String(), server, d.Name))
				}
			}
		}
	}
	return errs
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	return ContainerPort(c, p.StrVal)
}

// Service is a rendered Service, typed.
type Service struct {
	Obj *Object
	corev1.Service
}

func (b *Bundle) services() []Service {
	var out []Service
	for i := range b.App {
		if b.App[i].Kind() != "Service" {
			continue
		}
		var s corev1.Service
		if err := convert(b.App[i].Map, &s); err != nil {
			panic(err)
		}
		out = append(out, Service{Obj: &b.App[i], Service: s})
	}
	return out
}

func (b *Bundle) servicesSelecting(d Deployment) []Service {
	var out []Service
	for _, s := range b.services() {
		if s.Namespace == d.Namespace && len(s.Spec.Selector) > 0 &&
			labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

// CheckDaprConfigExists: dapr.io/config names a Dapr Configuration in the pod's namespace.
func CheckDaprConfigExists(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		name := d.Annotation("dapr.io/config")
		if d.DaprEnabled() && name != "" && b.daprConfig(d) == nil {
			errs = append(errs, fmt.Errorf("deployment %s: dapr.io/config %q, but there is no Dapr Configuration of that name in namespace %s: the sidecar would not start", d.Name, name, d.Namespace))
		}
	}
	return errs
}

// CheckInvokedAppID: the app id comms invokes (comms.greeter.app-id) is greeter's dapr.io/app-id.
func CheckInvokedAppID(b *Bundle) []error {
	var errs []error
	ds := b.Deployments()
	for _, d := range ds {
		if b.appOf(d).Module != "comms-service" {
			continue
		}
		target := b.appOf(d).Property("comms.greeter.app-id", d.AppContainer(), "greeter")
		found := false
		for _, o := range ds {
			if o.Name != d.Name && o.Namespace == d.Namespace && o.DaprEnabled() && o.Annotation("dapr.io/app-id") == target {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("deployment %s invokes Dapr app id %q (comms.greeter.app-id), but no other Dapr-enabled Deployment in %s has that dapr.io/app-id", d.Name, target, d.Namespace))
		}
	}
	return errs
}

// servedPaths: the health paths on the server port, from application.yaml's actuator groups (or the contract).
func (b *Bundle) servedPaths(d Deployment) (paths []string, why string) {
	a := b.appOf(d)
	c := d.AppContainer()
	if a.File == "" {
		return contractEndpoints, "the README's contract (no application.yaml in " + a.Module + " yet)"
	}
	if mp := a.Property("management.server.port", c, ""); mp != "" && mp != a.Property("server.port", c, defaultServerPort) {
		return nil, a.File + ": actuator is on management.server.port " + mp + ", not on the server port"
	}
	base := a.Property("management.endpoints.web.base-path", c, "/actuator")
	include := a.Property("management.endpoints.web.exposure.include", c, "health")
	if include != "*" && !slices.Contains(strings.Split(include, ","), "health") {
		return nil, a.File + ": the health endpoint is not exposed"
	}
	// Probes groups: on when management.endpoint.health.probes.enabled, or on Kubernetes by default.
	if a.Property("management.endpoint.health.probes.enabled", c, "true") == "true" {
		paths = append(paths, base+"/health/liveness", base+"/health/readiness")
	}
	for _, g := range []string{"liveness", "readiness"} {
		if p := a.Property("management.endpoint.health.group."+g+".additional-path", c, ""); strings.HasPrefix(p, "server:") {
			paths = append(paths, strings.TrimPrefix(p, "server:"))
		}
	}
	return paths, a.File
}

// CheckProbePaths: probes and Dapr's app health check call paths the app serves, from the right health group.
func CheckProbePaths(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		c := d.AppContainer()
		served, why := b.servedPaths(d)
		server, _ := b.serverPort(d)
		probe := func(kind string, p *corev1.Probe, want ...string) {
			if p == nil {
				errs = append(errs, fmt.Errorf("deployment %s: container %s has no %s probe", d.Name, c.Name, kind))
				return
			}
			if p.HTTPGet == nil {
				errs = append(errs, fmt.Errorf("deployment %s: %s probe is not an HTTP GET", d.Name, kind))
				return
			}
			if !slices.Contains(served, p.HTTPGet.Path) {
				errs = append(errs, fmt.Errorf("deployment %s: %s probe calls %s, which the app does not serve (serves %v, per %s)", d.Name, kind, p.HTTPGet.Path, served, why))
			} else if !slices.Contains(want, p.HTTPGet.Path) {
				errs = append(errs, fmt.Errorf("deployment %s: %s probe calls %s; it should call one of %v", d.Name, kind, p.HTTPGet.Path, want))
			}
			if got := resolvePort(c, p.HTTPGet.Port); got != server {
				errs = append(errs, fmt.Errorf("deployment %s: %s probe port %s is not the app's port %d", d.Name, kind, p.HTTPGet.Port.String(), server))
			}
		}
		probe("startup", c.StartupProbe, "/actuator/health/liveness")
		probe("liveness", c.LivenessProbe, "/actuator/health/liveness")
		probe("readiness", c.ReadinessProbe, "/actuator/health/readiness", "/health")
		if d.DaprEnabled() && d.Annotation("dapr.io/enable-app-health-check") == "true" {
			p := d.Annotation("dapr.io/app-health-check-path")
			if p == "" {
				p = "/healthz" // Dapr's default
			}
			if !slices.Contains(served, p) {
				errs = append(errs, fmt.Errorf("deployment %s: dapr.io/app-health-check-path %s is not served by the app (serves %v, per %s)", d.Name, p, served, why))
			}
		}
	}
	return errs
}

// agentService: the Operator's node-local Service for the DatadogAgent, with its OTLP/HTTP (host) port.
type agentService struct {
	name, namespace string
	httpPort        int32 // 0 if OTLP/HTTP is off
	httpHostPort    int32 // 0 if no host port
	apm             bool
}

var portSuffix = regexp.MustCompile(`:([0-9]+)$`)

func (b *Bundle) datadogAgent() (*Object, error) {
	var found []*Object
	for i := range b.Datadog {
		if b.Datadog[i].Kind() == "DatadogAgent" {
			found = append(found, &b.Datadog[i])
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("datadog/: want exactly one DatadogAgent, found %d", len(found))
	}
	return found[0], nil
}

func (b *Bundle) agentService() (agentService, error) {
	dda, err := b.datadogAgent()
	if err != nil {
		return agentService{}, err
	}
	s := agentService{name: dda.Name() + "-agent", namespace: dda.Namespace()}
	if o := str(dda.Map, "spec", "global", "localService", "nameOverride"); o != "" {
		s.name = o
	}
	if s.namespace == "" {
		return s, fmt.Errorf("%s: no metadata.namespace: the Operator's Service would land in whatever namespace kubectl defaults to", dda.ID())
	}
	// APM is on unless disabled (operator default: true).
	s.apm = str(dda.Map, "spec", "features", "apm", "enabled") != "false"
	http := mapAt(dda.Map, "spec", "features", "otlp", "receiver", "protocols", "http")
	if http == nil || str(http, "enabled") != "true" {
		return s, nil
	}
	endpoint := str(http, "endpoint")
	if endpoint == "" {
		endpoint = "0.0.0.0:4318" // the Operator's default
	}
	m := portSuffix.FindStringSubmatch(endpoint)
	if m == nil {
		return s, fmt.Errorf("%s: OTLP/HTTP endpoint %q has no port", dda.ID(), endpoint)
	}
	p, _ := strconv.Atoi(m[1])
	s.httpPort = int32(p)
	// Host port: on by default for OTLP in the Operator; its port defaults to the endpoint's.
	if str(http, "hostPortConfig", "enabled") != "false" {
		s.httpHostPort = s.httpPort
		if hp := str(http, "hostPortConfig", "hostPort"); hp != "" && hp != "0" {
			n, _ := strconv.Atoi(hp)
			s.httpHostPort = int32(n)
			s.httpPort = int32(n) // the Operator gives the Service the host port too
		}
	}
	return s, nil
}

// CheckSidecarOTLPEndpoint: Dapr's OTLP exporter speaks plain HTTP to the Operator's Service on its OTLP/HTTP port.
func CheckSidecarOTLPEndpoint(b *Bundle) []error {
	svc, err := b.agentService()
	if err != nil {
		return []error{err}
	}
	var errs []error
	if svc.httpPort == 0 {
		errs = append(errs, fmt.Errorf("datadog/: the DatadogAgent does not enable the OTLP/HTTP receiver"))
	}
	if !svc.apm {
		errs = append(errs, fmt.Errorf("datadog/: APM is disabled in the DatadogAgent: OTLP traces would be dropped"))
	}
	configs := 0
	for _, o := range b.App {
		if o.Kind() != "Configuration" || !strings.HasPrefix(o.APIVersion(), "dapr.io/") {
			continue
		}
		configs++
		otel := mapAt(o.Map, "spec", "tracing", "otel")
		if otel == nil {
			errs = append(errs, fmt.Errorf("%s: no spec.tracing.otel exporter", o.ID()))
			continue
		}
		if p := str(otel, "protocol"); p != "http" {
			errs = append(errs, fmt.Errorf("%s: otel.protocol %q; the exporter must speak OTLP/HTTP to port %d", o.ID(), p, svc.httpPort))
		}
		if s := str(otel, "isSecure"); s != "false" {
			errs = append(errs, fmt.Errorf("%s: otel.isSecure %q; the Agent's OTLP receiver is plain HTTP", o.ID(), s))
		}
		addr := str(otel, "endpointAddress")
		if strings.Contains(addr, "://") || strings.Contains(addr, "/") {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q must be host:port (daprd passes it to the OTLP exporter as an endpoint, not a URL)", o.ID(), addr))
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q: %v", o.ID(), addr, err))
			continue
		}
		want := []string{
			svc.name + "." + svc.namespace,
			svc.name + "." + svc.namespace + ".svc",
			svc.name + "." + svc.namespace + ".svc.cluster.local",
		}
		if !slices.Contains(want, host) {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress host %q is not the Datadog Operator's node-local Service %s/%s (from datadog/datadog-agent.yaml)", o.ID(), host, svc.namespace, svc.name))
		}
		if port != strconv.Itoa(int(svc.httpPort)) {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress port %s, but the Agent's OTLP/HTTP port is %d", o.ID(), port, svc.httpPort))
		}
		if r := str(o.Map, "spec", "tracing", "samplingRate"); r == "" || r == "0" {
			errs = append(errs, fmt.Errorf("%s: tracing.samplingRate %q samples nothing", o.ID(), r))
		}
	}
	if configs == 0 {
		errs = append(errs, fmt.Errorf("kubernetes/: no Dapr Configuration"))
	}
	return errs
}

var hostIPRef = regexp.MustCompile(`^http://\$\(([A-Z_][A-Z0-9_]*)\):([0-9]+)/v1/traces$`)

// CheckAppOTLPEndpoint: apps send spans to http://$(HOST_IP):<Agent's OTLP host port>/v1/traces, HOST_IP from status.hostIP.
func CheckAppOTLPEndpoint(b *Bundle) []error {
	svc, err := b.agentService()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, d := range b.Deployments() {
		c := d.AppContainer()
		v, ok := Env(c, "MANAGEMENT_OTLP_TRACING_ENDPOINT")
		if !ok {
			errs = append(errs, fmt.Errorf("deployment %s: no MANAGEMENT_OTLP_TRACING_ENDPOINT: the app's own spans would not be exported", d.Name))
			continue
		}
		m := hostIPRef.FindStringSubmatch(v)
		if m == nil {
			errs = append(errs, fmt.Errorf("deployment %s: MANAGEMENT_OTLP_TRACING_ENDPOINT %q is not http://$(HOST_IP):<port>/v1/traces", d.Name, v))
			continue
		}
		if !hasFieldRef(c, m[1], "status.hostIP") {
			errs = append(errs, fmt.Errorf("deployment %s: %s is not set from the downward API field status.hostIP", d.Name, m[1]))
		}
		if svc.httpHostPort == 0 {
			errs = append(errs, fmt.Errorf("deployment %s sends spans to the node's IP, but the DatadogAgent opens no OTLP/HTTP host port", d.Name))
		} else if m[2] != strconv.Itoa(int(svc.httpHostPort)) {
			errs = append(errs, fmt.Errorf("deployment %s: MANAGEMENT_OTLP_TRACING_ENDPOINT port %s, but the Agent's OTLP/HTTP host port is %d", d.Name, m[2], svc.httpHostPort))
		}
	}
	return errs
}

// CheckContainerHardening: requests, memory limit, restricted securityContext, no API token, a sized sidecar.
func CheckContainerHardening(b *Bundle) []error { return hardening(b.Deployments(), 1000) }

// hardening checks workloads whose images run as uid (and gid) uid.
func hardening(ws []Deployment, uid int64) []error {
	var errs []error
	for _, d := range ws {
		ps := d.Spec.Template.Spec
		psc := ps.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			errs = append(errs, fmt.Errorf("%s: pod securityContext.runAsNonRoot is not true", d.who()))
		}
		if psc.RunAsUser == nil || *psc.RunAsUser != uid || psc.RunAsGroup == nil || *psc.RunAsGroup != uid {
			errs = append(errs, fmt.Errorf("%s: pod securityContext must run as uid/gid %d (the images' user)", d.who(), uid))
		}
		podSeccomp := psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
		if !podSeccomp {
			errs = append(errs, fmt.Errorf("%s: pod securityContext.seccompProfile is not RuntimeDefault", d.who()))
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			errs = append(errs, fmt.Errorf("%s: automountServiceAccountToken is not false: the app needs no Kubernetes API token", d.who()))
		}
		for _, c := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
			errs = append(errs, checkContainer(d.who(), c, ps.Volumes)...)
		}
		if d.DaprEnabled() {
			errs = append(errs, checkSidecarResources(d)...)
		}
	}
	return errs
}

func checkContainer(who string, c corev1.Container, vols []corev1.Volume) []error {
	var errs []error
	where := fmt.Sprintf("%s container %s", who, c.Name)
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := req[r]; !ok {
			errs = append(errs, fmt.Errorf("%s: no %s request", where, r))
		}
	}
	if m, ok := lim[corev1.ResourceMemory]; !ok {
		errs = append(errs, fmt.Errorf("%s: no memory limit", where))
	} else if r, ok := req[corev1.ResourceMemory]; ok && r.Cmp(m) > 0 {
		errs = append(errs, fmt.Errorf("%s: memory request %s above its limit %s", where, r.String(), m.String()))
	}
	if l, ok := lim[corev1.ResourceCPU]; ok {
		if r, ok := req[corev1.ResourceCPU]; ok && r.Cmp(l) > 0 {
			errs = append(errs, fmt.Errorf("%s: cpu request %s above its limit %s", where, r.String(), l.String()))
		}
	}
	sc := c.SecurityContext
	if sc == nil {
		return append(errs, fmt.Errorf("%s: no securityContext", where))
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		errs = append(errs, fmt.Errorf("%s: securityContext.runAsNonRoot is not true", where))
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		errs = append(errs, fmt.Errorf("%s: runs as root", where))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, fmt.Errorf("%s: securityContext.allowPrivilegeEscalation is not false", where))
	}
	if sc.Privileged != nil && *sc.Privileged {
		errs = append(errs, fmt.Errorf("%s: privileged", where))
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		errs = append(errs, fmt.Errorf("%s: securityContext.readOnlyRootFilesystem is not true", where))
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		errs = append(errs, fmt.Errorf("%s: capabilities do not drop ALL", where))
	} else if len(sc.Capabilities.Add) > 0 {
		errs = append(errs, fmt.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add))
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, fmt.Errorf("%s: securityContext.seccompProfile is not RuntimeDefault", where))
	}
	// A read-only root needs a writable /tmp (the JVM and Tomcat write there).
	tmp := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" {
			for _, v := range vols {
				if v.Name == m.Name && v.EmptyDir != nil {
					tmp = true
				}
			}
		}
	}
	if !tmp {
		errs = append(errs, fmt.Errorf("%s: no emptyDir at /tmp under the read-only root filesystem", where))
	}
	return errs
}

func checkSidecarResources(d Deployment) []error {
	var errs []error
	q := map[string]resource.Quantity{}
	for _, k := range []string{"cpu-request", "memory-request", "memory-limit", "cpu-limit"} {
		v := d.Annotation("dapr.io/sidecar-" + k)
		if v == "" {
			if k != "cpu-limit" {
				errs = append(errs, fmt.Errorf("deployment %s: no dapr.io/sidecar-%s: the injected sidecar would be unsized", d.Name, k))
			}
			continue
		}
		p, err := resource.ParseQuantity(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: dapr.io/sidecar-%s %q: %v", d.Name, k, v, err))
			continue
		}
		q[k] = p
	}
	for _, r := range []string{"cpu", "memory"} {
		req, ok1 := q[r+"-request"]
		lim, ok2 := q[r+"-limit"]
		if ok1 && ok2 && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("deployment %s: Dapr sidecar %s request %s above its limit %s", d.Name, r, req.String(), lim.String()))
		}
	}
	return errs
}

// CheckImagesPinned: every image has a tag or digest, and the tag is not latest.
func CheckImagesPinned(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		ps := d.Spec.Template.Spec
		for _, c := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
			tag := imageTag(c.Image)
			switch {
			case strings.Contains(c.Image, "@sha256:"):
			case tag == "":
				errs = append(errs, fmt.Errorf("deployment %s: image %q has no tag: it means latest", d.Name, c.Image))
			case tag == "latest":
				errs = append(errs, fmt.Errorf("deployment %s: image %q is not pinned", d.Name, c.Image))
			}
		}
	}
	return errs
}

var ustLabels = []string{"env", "service", "version"}

// CheckUnifiedServiceTags: Datadog's env/service/version agree on labels, DD_*/OTel env, app id and image tag.
func CheckUnifiedServiceTags(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		c := d.AppContainer()
		for _, k := range ustLabels {
			key := "tags.datadoghq.com/" + k
			dv, tv := d.Labels[key], d.Spec.Template.Labels[key]
			if dv == "" || tv == "" {
				errs = append(errs, fmt.Errorf("deployment %s: label %s missing on the Deployment or its pod template", d.Name, key))
			} else if dv != tv {
				errs = append(errs, fmt.Errorf("deployment %s: label %s is %q on the Deployment but %q on its pods", d.Name, key, dv, tv))
			}
			envName := "DD_" + strings.ToUpper(k)
			if !hasFieldRef(c, envName, "metadata.labels['"+key+"']") {
				errs = append(errs, fmt.Errorf("deployment %s: %s is not read from the pod label %s", d.Name, envName, key))
			}
		}
		tpl := d.Spec.Template.Labels
		if d.DaprEnabled() && tpl["tags.datadoghq.com/service"] != d.Annotation("dapr.io/app-id") {
			errs = append(errs, fmt.Errorf("deployment %s: tags.datadoghq.com/service %q differs from dapr.io/app-id %q: the app's and the sidecar's spans would be two services", d.Name, tpl["tags.datadoghq.com/service"], d.Annotation("dapr.io/app-id")))
		}
		if tag := imageTag(c.Image); tag != "" && tpl["tags.datadoghq.com/version"] != tag {
			errs = append(errs, fmt.Errorf("deployment %s: tags.datadoghq.com/version %q but the image tag is %q", d.Name, tpl["tags.datadoghq.com/version"], tag))
		}
		attrs, _ := Env(c, "OTEL_RESOURCE_ATTRIBUTES")
		for _, want := range []string{"deployment.environment.name=$(DD_ENV)", "service.version=$(DD_VERSION)"} {
			if !slices.Contains(strings.Split(attrs, ","), want) {
				errs = append(errs, fmt.Errorf("deployment %s: OTEL_RESOURCE_ATTRIBUTES %q lacks %s", d.Name, attrs, want))
			}
		}
		if v, ok := Env(c, "OTEL_SERVICE_NAME"); ok && v != "$(DD_SERVICE)" {
			errs = append(errs, fmt.Errorf("deployment %s: OTEL_SERVICE_NAME %q is not $(DD_SERVICE)", d.Name, v))
		}
	}
	return errs
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// CheckEnvReferences: $(VAR) names a variable defined earlier in the container (else Kubernetes keeps it literal).
func CheckEnvReferences(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		for _, c := range d.Spec.Template.Spec.Containers {
			defined := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
					if !defined[m[1]] {
						errs = append(errs, fmt.Errorf("deployment %s container %s: %s uses $(%s), which is not defined before it", d.Name, c.Name, e.Name, m[1]))
					}
				}
				defined[e.Name] = true
			}
		}
	}
	return errs
}

var recommended = []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"}

// CheckRecommendedLabels: every object carries Kubernetes' recommended labels, and pods too.
func CheckRecommendedLabels(b *Bundle) []error {
	var errs []error
	for _, o := range b.App {
		l := mapAt(o.Map, "metadata", "labels")
		for _, k := range recommended {
			if str(l, k) == "" {
				errs = append(errs, fmt.Errorf("%s: no label %s", o.ID(), k))
			}
		}
	}
	for _, d := range b.Workloads() {
		for _, k := range recommended {
			if d.Spec.Template.Labels[k] == "" {
				errs = append(errs, fmt.Errorf("%s: pod template has no label %s", d.who(), k))
			}
		}
	}
	return errs
}

func (b *Bundle) podsMatching(ns string, sel *metav1.LabelSelector) ([]Deployment, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	var out []Deployment
	for _, d := range b.Deployments() {
		if d.Namespace == ns && s.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out, nil
}

// CheckSelectors: Deployments select their pods; each Service and PodDisruptionBudget one Deployment's pods.
func CheckSelectors(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			errs = append(errs, fmt.Errorf("deployment %s: spec.selector does not select its pod template", d.Name))
		}
	}
	for _, svc := range b.services() {
		sel := &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}
		if ds, _ := b.podsMatching(svc.Namespace, sel); len(svc.Spec.Selector) == 0 || len(ds) != 1 {
			errs = append(errs, fmt.Errorf("service %s: selects the pods of %d Deployments, want 1", svc.Name, len(ds)))
		}
	}
	for _, o := range b.App {
		if o.Kind() != "PodDisruptionBudget" {
			continue
		}
		var sel metav1.LabelSelector
		_ = convert(mapAt(o.Map, "spec", "selector"), &sel)
		if ds, err := b.podsMatching(o.Namespace(), &sel); err != nil || len(ds) != 1 {
			errs = append(errs, fmt.Errorf("%s: selects the pods of %d Deployments, want 1", o.ID(), len(ds)))
		} else if r := ds[0].Spec.Replicas; r != nil && *r < 2 {
			errs = append(errs, fmt.Errorf("%s: %s has %d replica: a budget would block node drains or protect nothing", o.ID(), ds[0].Name, *r))
		}
	}
	return errs
}

// CheckShutdownBudget: app (preStop + Spring's shutdown) and sidecar stop within the grace period, or requests die.
func CheckShutdownBudget(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		grace := 30 * time.Second
		if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		c := d.AppContainer()
		app := time.Duration(0)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			app += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		phase := b.appOf(d).Property("spring.lifecycle.timeout-per-shutdown-phase", c, "30s")
		ph, err := ParseSpringDuration(phase)
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: spring.lifecycle.timeout-per-shutdown-phase: %v", d.Name, err))
		}
		app += ph
		if app >= grace {
			errs = append(errs, fmt.Errorf("deployment %s: the app needs up to %s to stop (preStop + spring.lifecycle.timeout-per-shutdown-phase %s) but terminationGracePeriodSeconds is %s", d.Name, app, phase, grace))
		}
		if !d.DaprEnabled() {
			continue
		}
		sidecar := 5 * time.Second // Dapr's default graceful-shutdown-seconds
		if v := d.Annotation("dapr.io/graceful-shutdown-seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("deployment %s: dapr.io/graceful-shutdown-seconds %q is not a number of seconds", d.Name, v))
			}
			sidecar = time.Duration(n) * time.Second
		}
		if v := d.Annotation("dapr.io/block-shutdown-duration"); v != "" {
			bl, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("deployment %s: dapr.io/block-shutdown-duration %q: %v", d.Name, v, err))
			}
			sidecar += bl
		}
		if sidecar >= grace {
			errs = append(errs, fmt.Errorf("deployment %s: the Dapr sidecar may take %s to stop (block-shutdown-duration + graceful-shutdown-seconds) but terminationGracePeriodSeconds is %s", d.Name, sidecar, grace))
		}
	}
	return errs
}

// CheckResiliencyBudget: Dapr gives up on a call (attempts, timeouts, backoffs) before comms.greeter.timeout, so the fallback answers.
func CheckResiliencyBudget(b *Bundle) []error {
	var errs []error
	ds := b.Deployments()
	for _, o := range b.App {
		if o.Kind() != "Resiliency" {
			continue
		}
		pol := mapAt(o.Map, "spec", "policies")
		for target, t := range mapAt(o.Map, "spec", "targets", "apps") {
			tm, _ := t.(map[string]any)
			attempt := time.Duration(0)
			if name := str(tm, "timeout"); name != "" {
				v := str(pol, "timeouts", name)
				d, err := time.ParseDuration(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: timeout policy %q = %q: %v", o.ID(), name, v, err))
					continue
				}
				attempt = d
			} else {
				errs = append(errs, fmt.Errorf("%s: calls to %s have no timeout: a hung greeter holds the caller until its own bound", o.ID(), target))
				continue
			}
			retries, backoff := int64(0), time.Duration(0)
			if name := str(tm, "retry"); name != "" {
				r := mapAt(pol, "retries", name)
				if r == nil {
					errs = append(errs, fmt.Errorf("%s: retry policy %q is not defined", o.ID(), name))
					continue
				}
				retries, _ = strconv.ParseInt(str(r, "maxRetries"), 10, 64)
				if retries < 0 {
					errs = append(errs, fmt.Errorf("%s: retry policy %q retries forever", o.ID(), name))
					continue
				}
				backoff, _ = time.ParseDuration(str(r, "duration"))
				if mi := str(r, "maxInterval"); str(r, "policy") == "exponential" && mi != "" {
					backoff, _ = time.ParseDuration(mi) // worst case per wait
				}
			}
			if name := str(tm, "circuitBreaker"); name != "" && mapAt(pol, "circuitBreakers", name) == nil {
				errs = append(errs, fmt.Errorf("%s: circuit breaker %q is not defined", o.ID(), name))
			}
			worst := time.Duration(retries+1)*attempt + time.Duration(retries)*backoff
			scopes := listAt(o.Map, "scopes")
			for _, d := range ds {
				if d.Namespace != o.Namespace() || !d.DaprEnabled() || b.appOf(d).Module != "comms-service" {
					continue
				}
				if len(scopes) > 0 && !slices.Contains(scopes, any(d.Annotation("dapr.io/app-id"))) {
					continue
				}
				if b.appOf(d).Property("comms.greeter.app-id", d.AppContainer(), "greeter") != target {
					continue
				}
				bound := b.appOf(d).Property("comms.greeter.timeout", d.AppContainer(), "2s")
				bd, err := ParseSpringDuration(bound)
				if err != nil {
					errs = append(errs, fmt.Errorf("deployment %s: comms.greeter.timeout: %v", d.Name, err))
					continue
				}
				if worst >= bd {
					errs = append(errs, fmt.Errorf("%s: calls to %s can take %s (%d attempts x %s + %d x %s backoff), not less than %s's comms.greeter.timeout %s", o.ID(), target, worst, retries+1, attempt, retries, backoff, d.Name, bd))
				}
			}
		}
	}
	return errs
}

// Graviton (arm64) instance families: a generation digit followed by "g" (m6g, m7gd, c6gn, t4g, r8g, im4gn, x2gd).
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z-]*\.[0-9a-z]+$`)

// CheckNodeGroupsArm64: every node group runs on Graviton (arm64) with an AMI family that has arm64 images.
func CheckNodeGroupsArm64(b *Bundle) []error {
	var errs []error
	groups := 0
	for _, c := range b.Cluster {
		for _, key := range []string{"managedNodeGroups", "nodeGroups"} {
			for _, ng := range listAt(c.Map, key) {
				groups++
				name := str(ng, "name")
				types := []string{}
				if t := str(ng, "instanceType"); t != "" {
					types = append(types, t)
				}
				for _, t := range listAt(ng, "instanceTypes") {
					types = append(types, fmt.Sprint(t))
				}
				if len(types) == 0 {
					errs = append(errs, fmt.Errorf("eksctl %s %s: no instance type: eksctl would pick an x86 default", key, name))
				}
				for _, t := range types {
					if !graviton.MatchString(t) {
						errs = append(errs, fmt.Errorf("eksctl %s %s: instance type %s is not Graviton (arm64)", key, name, t))
					}
				}
				if f := str(ng, "amiFamily"); strings.HasPrefix(f, "Windows") {
					errs = append(errs, fmt.Errorf("eksctl %s %s: amiFamily %s has no arm64 AMI", key, name, f))
				}
			}
		}
	}
	if groups == 0 {
		errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: no node group"))
	}
	return errs
}

// CheckEBSCSIDriver: ebs.csi.aws.com needs the aws-ebs-csi-driver addon with IAM (IRSA needs OIDC).
func CheckEBSCSIDriver(b *Bundle) []error {
	var errs []error
	uses := false
	for _, o := range b.App {
		if o.Kind() == "StorageClass" && str(o.Map, "provisioner") == "ebs.csi.aws.com" {
			uses = true
		}
	}
	for _, c := range b.Cluster {
		var addon map[string]any
		for _, a := range listAt(c.Map, "addons") {
			if str(a, "name") == "aws-ebs-csi-driver" {
				addon, _ = a.(map[string]any)
			}
		}
		if addon == nil {
			if uses {
				errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: no aws-ebs-csi-driver addon, but the StorageClass uses ebs.csi.aws.com: the Dapr scheduler's volumes would never be created"))
			}
			continue
		}
		irsa := str(addon, "wellKnownPolicies", "ebsCSIController") == "true" || len(listAt(addon, "attachPolicyARNs")) > 0 || mapAt(addon, "attachPolicy") != nil
		podIdentity := str(addon, "useDefaultPodIdentityAssociations") == "true" || len(listAt(addon, "podIdentityAssociations")) > 0 ||
			str(c.Map, "addonsConfig", "autoApplyPodIdentityAssociations") == "true"
		role := str(addon, "serviceAccountRoleARN") != ""
		if !irsa && !podIdentity && !role {
			errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: the aws-ebs-csi-driver addon gets no IAM permissions (wellKnownPolicies.ebsCSIController, attachPolicyARNs, a pod identity association or serviceAccountRoleARN): it could not create volumes"))
		}
		if irsa && str(c.Map, "iam", "withOIDC") != "true" {
			errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: the EBS CSI driver's IAM role (IRSA) needs iam.withOIDC: true"))
		}
	}
	return errs
}

// CheckDatadogAgent: cluster name as eksctl's, API key from deploy.sh's Secret, DD_ENV the apps' env.
func CheckDatadogAgent(b *Bundle) []error {
	dda, err := b.datadogAgent()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, c := range b.Cluster {
		if want := str(c.Map, "metadata", "name"); str(dda.Map, "spec", "global", "clusterName") != want {
			errs = append(errs, fmt.Errorf("%s: spec.global.clusterName %q is not the eksctl cluster name %q", dda.ID(), str(dda.Map, "spec", "global", "clusterName"), want))
		}
	}
	cred := mapAt(dda.Map, "spec", "global", "credentials")
	if str(cred, "apiKey") != "" || str(cred, "appKey") != "" {
		errs = append(errs, fmt.Errorf("%s: a key is written in the file: it must come from the Secret datadog-secret", dda.ID()))
	}
	if str(cred, "apiSecret", "secretName") != "datadog-secret" || str(cred, "apiSecret", "keyName") != "api-key" {
		errs = append(errs, fmt.Errorf("%s: the API key must come from Secret datadog-secret, key api-key (what scripts/deploy.sh creates)", dda.ID()))
	}
	if str(dda.Map, "spec", "global", "site") == "" {
		errs = append(errs, fmt.Errorf("%s: spec.global.site is not set", dda.ID()))
	}
	for _, e := range listAt(dda.Map, "spec", "global", "env") {
		if str(e, "name") != "DD_ENV" {
			continue
		}
		for _, d := range b.Deployments() {
			if env := d.Spec.Template.Labels["tags.datadoghq.com/env"]; env != str(e, "value") {
				errs = append(errs, fmt.Errorf("%s: DD_ENV %q differs from deployment %s's tags.datadoghq.com/env %q: the sidecars' spans and the apps' would be in two environments", dda.ID(), str(e, "value"), d.Name, env))
			}
		}
	}
	return errs
}
