package manifests

import (
	"cmp"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	configv1 "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	resiliencyv1 "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
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
	mod, _ := parseImage(d.AppContainer().Image)
	return cmp.Or(b.Apps[mod], &AppConfig{Module: mod, props: map[string]any{}})
}

// property reads a property of a Deployment's app, its container's env first.
func (b *Bundle) property(d Deployment, key, def string) string {
	return b.appOf(d).Property(key, d.AppContainer(), def)
}

// serverPort is the port the app listens on in that container.
func (b *Bundle) serverPort(d Deployment) (int32, error) {
	v := b.property(d, "server.port", defaultServerPort)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("deployment %s: server.port %q is not a number", d.Name, v)
	}
	return int32(n), nil
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	return ContainerPort(c, p.StrVal)
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
			ap, proto := d.Annotation("dapr.io/app-port"), d.Annotation("dapr.io/app-protocol")
			errs = append(errs, unmet(d.who(), []requirement{
				{ap == strconv.Itoa(int(server)), fmt.Sprintf("dapr.io/app-port %q but the app listens on server.port %d: the sidecar would call a closed port", ap, server)},
				{proto == "" || proto == "http", fmt.Sprintf("dapr.io/app-protocol %q, but the app serves plain HTTP", proto)},
			})...)
		}
		for _, svc := range ofKind[corev1.Service](b.App, "Service") {
			if svc.Namespace != d.Namespace || len(svc.Spec.Selector) == 0 ||
				!labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if resolvePort(c, sp.TargetPort) != server {
					errs = append(errs, fmt.Errorf("service %s: port %d targets %q, which is not the app's port %d in deployment %s", svc.Name, sp.Port, sp.TargetPort.String(), server, d.Name))
				}
			}
		}
	}
	return errs
}

// daprConfigs are the Dapr Configurations of the app manifests.
func (b *Bundle) daprConfigs() []configv1.Configuration {
	return slices.DeleteFunc(ofKind[configv1.Configuration](b.App, "Configuration"), func(c configv1.Configuration) bool {
		return !strings.HasPrefix(c.TypeMeta.APIVersion, "dapr.io/")
	})
}

// daprConfig is the Dapr Configuration a Deployment's sidecar loads (dapr.io/config), or nil.
func (b *Bundle) daprConfig(d Deployment) *configv1.Configuration {
	for _, c := range b.daprConfigs() {
		if c.Name == d.Annotation("dapr.io/config") && c.Namespace == d.Namespace {
			return &c
		}
	}
	return nil
}

func configID(c *configv1.Configuration) string { return id("Configuration", c.Namespace, c.Name) }

// CheckDaprConfigExists: dapr.io/config names a Dapr Configuration in the pod's namespace.
func CheckDaprConfigExists(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		if name := d.Annotation("dapr.io/config"); d.DaprEnabled() && name != "" && b.daprConfig(d) == nil {
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
		target := b.property(d, "comms.greeter.app-id", "greeter")
		if !slices.ContainsFunc(ds, func(o Deployment) bool {
			return o.Name != d.Name && o.Namespace == d.Namespace && o.DaprEnabled() && o.Annotation("dapr.io/app-id") == target
		}) {
			errs = append(errs, fmt.Errorf("deployment %s invokes Dapr app id %q (comms.greeter.app-id), but no other Dapr-enabled Deployment in %s has that dapr.io/app-id", d.Name, target, d.Namespace))
		}
	}
	return errs
}

// servedPaths: the health paths on the server port, from application.yaml's actuator groups (or the contract).
func (b *Bundle) servedPaths(d Deployment) (paths []string, why string) {
	a := b.appOf(d)
	prop := func(key, def string) string { return b.property(d, key, def) }
	if a.File == "" {
		return contractEndpoints, "the README's contract (no application.yaml in " + a.Module + " yet)"
	}
	if mp := prop("management.server.port", ""); mp != "" && mp != prop("server.port", defaultServerPort) {
		return nil, a.File + ": actuator is on management.server.port " + mp + ", not on the server port"
	}
	base := prop("management.endpoints.web.base-path", "/actuator")
	include := prop("management.endpoints.web.exposure.include", "health")
	if include != "*" && !slices.Contains(strings.Split(include, ","), "health") {
		return nil, a.File + ": the health endpoint is not exposed"
	}
	// Probes groups: on when management.endpoint.health.probes.enabled, or on Kubernetes by default.
	if prop("management.endpoint.health.probes.enabled", "true") == "true" {
		paths = append(paths, base+"/health/liveness", base+"/health/readiness")
	}
	for _, g := range []string{"liveness", "readiness"} {
		if p, ok := strings.CutPrefix(prop("management.endpoint.health.group."+g+".additional-path", ""), "server:"); ok {
			paths = append(paths, p)
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
		for _, p := range []struct {
			kind  string
			probe *corev1.Probe
			want  []string
		}{
			{"startup", c.StartupProbe, []string{"/actuator/health/liveness"}},
			{"liveness", c.LivenessProbe, []string{"/actuator/health/liveness"}},
			{"readiness", c.ReadinessProbe, []string{"/actuator/health/readiness", "/health"}},
		} {
			switch {
			case p.probe == nil:
				errs = append(errs, fmt.Errorf("deployment %s: container %s has no %s probe", d.Name, c.Name, p.kind))
				continue
			case p.probe.HTTPGet == nil:
				errs = append(errs, fmt.Errorf("deployment %s: %s probe is not an HTTP GET", d.Name, p.kind))
				continue
			case !slices.Contains(served, p.probe.HTTPGet.Path):
				errs = append(errs, fmt.Errorf("deployment %s: %s probe calls %s, which the app does not serve (serves %v, per %s)", d.Name, p.kind, p.probe.HTTPGet.Path, served, why))
			case !slices.Contains(p.want, p.probe.HTTPGet.Path):
				errs = append(errs, fmt.Errorf("deployment %s: %s probe calls %s; it should call one of %v", d.Name, p.kind, p.probe.HTTPGet.Path, p.want))
			}
			if got := resolvePort(c, p.probe.HTTPGet.Port); got != server {
				errs = append(errs, fmt.Errorf("deployment %s: %s probe port %s is not the app's port %d", d.Name, p.kind, p.probe.HTTPGet.Port.String(), server))
			}
		}
		if d.DaprEnabled() && d.Annotation("dapr.io/enable-app-health-check") == "true" {
			p := cmp.Or(d.Annotation("dapr.io/app-health-check-path"), "/healthz") // Dapr's default
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
	httpPort        int // 0 if OTLP/HTTP is off
	httpHostPort    int // 0 if no host port
	apm             bool
}

func (b *Bundle) datadogAgent() (*Object, error) {
	agents := slices.DeleteFunc(slices.Clone(b.Datadog), func(o Object) bool { return o.Kind() != "DatadogAgent" })
	if len(agents) != 1 {
		return nil, fmt.Errorf("datadog/: want exactly one DatadogAgent, found %d", len(agents))
	}
	return &agents[0], nil
}

func (b *Bundle) agentService() (agentService, error) {
	dda, err := b.datadogAgent()
	if err != nil {
		return agentService{}, err
	}
	s := agentService{
		name:      cmp.Or(str(dda.Map, "spec", "global", "localService", "nameOverride"), dda.Name()+"-agent"),
		namespace: dda.Namespace(),
		apm:       str(dda.Map, "spec", "features", "apm", "enabled") != "false", // the Operator's default: on
	}
	if s.namespace == "" {
		return s, fmt.Errorf("%s: no metadata.namespace: the Operator's Service would land in whatever namespace kubectl defaults to", dda.ID())
	}
	http := func(fields ...string) string {
		return str(dda.Map, append([]string{"spec", "features", "otlp", "receiver", "protocols", "http"}, fields...)...)
	}
	if http("enabled") != "true" {
		return s, nil
	}
	endpoint := cmp.Or(http("endpoint"), "0.0.0.0:4318") // the Operator's default
	_, port, _ := net.SplitHostPort(endpoint)
	if s.httpPort, err = strconv.Atoi(port); err != nil {
		return s, fmt.Errorf("%s: OTLP/HTTP endpoint %q has no port", dda.ID(), endpoint)
	}
	// Host port: on by default for OTLP in the Operator; its port defaults to the endpoint's.
	if http("hostPortConfig", "enabled") != "false" {
		if hp, _ := strconv.Atoi(http("hostPortConfig", "hostPort")); hp != 0 {
			s.httpPort = hp // the Operator gives the Service the host port too
		}
		s.httpHostPort = s.httpPort
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
	configs := b.daprConfigs()
	if len(configs) == 0 {
		errs = append(errs, fmt.Errorf("kubernetes/: no Dapr Configuration"))
	}
	for _, c := range configs {
		cid, tracing := configID(&c), c.Spec.TracingSpec
		if tracing == nil || tracing.Otel == nil {
			errs = append(errs, fmt.Errorf("%s: no spec.tracing.otel exporter", cid))
			continue
		}
		otel, addr := tracing.Otel, tracing.Otel.EndpointAddress
		errs = append(errs, unmet(cid, []requirement{
			{otel.Protocol == "http", fmt.Sprintf("otel.protocol %q; the exporter must speak OTLP/HTTP to port %d", otel.Protocol, svc.httpPort)},
			{!ptr.Deref(otel.IsSecure, true), "otel.isSecure is not false; the Agent's OTLP receiver is plain HTTP"},
			{tracing.SamplingRate != "" && tracing.SamplingRate != "0", fmt.Sprintf("tracing.samplingRate %q samples nothing", tracing.SamplingRate)},
		})...)
		if strings.Contains(addr, "/") {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q must be host:port (daprd passes it to the OTLP exporter as an endpoint, not a URL)", cid, addr))
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q: %v", cid, addr, err))
			continue
		}
		if local := svc.name + "." + svc.namespace; !slices.Contains([]string{local, local + ".svc", local + ".svc.cluster.local"}, host) {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress host %q is not the Datadog Operator's node-local Service %s/%s (from datadog/datadog-agent.yaml)", cid, host, svc.namespace, svc.name))
		}
		if port != strconv.Itoa(svc.httpPort) {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress port %s, but the Agent's OTLP/HTTP port is %d", cid, port, svc.httpPort))
		}
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
		m := hostIPRef.FindStringSubmatch(v)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("deployment %s: no MANAGEMENT_OTLP_TRACING_ENDPOINT: the app's own spans would not be exported", d.Name))
			continue
		case m == nil:
			errs = append(errs, fmt.Errorf("deployment %s: MANAGEMENT_OTLP_TRACING_ENDPOINT %q is not http://$(HOST_IP):<port>/v1/traces", d.Name, v))
			continue
		case !hasFieldRef(c, m[1], "status.hostIP"):
			errs = append(errs, fmt.Errorf("deployment %s: %s is not set from the downward API field status.hostIP", d.Name, m[1]))
		}
		if svc.httpHostPort == 0 {
			errs = append(errs, fmt.Errorf("deployment %s sends spans to the node's IP, but the DatadogAgent opens no OTLP/HTTP host port", d.Name))
		} else if m[2] != strconv.Itoa(svc.httpHostPort) {
			errs = append(errs, fmt.Errorf("deployment %s: MANAGEMENT_OTLP_TRACING_ENDPOINT port %s, but the Agent's OTLP/HTTP host port is %d", d.Name, m[2], svc.httpHostPort))
		}
	}
	return errs
}

// CheckContainerHardening: requests, memory limit, restricted securityContext, no API token, a sized sidecar.
func CheckContainerHardening(b *Bundle) []error { return hardening(b.Deployments(), 1000) }

// requirement is a rule a manifest must hold to, and the mistake it is when it does not.
type requirement struct {
	holds   bool
	mistake string
}

// unmet reports each requirement of where that does not hold.
func unmet(where string, rs []requirement) []error {
	var errs []error
	for _, r := range rs {
		if !r.holds {
			errs = append(errs, fmt.Errorf("%s: %s", where, r.mistake))
		}
	}
	return errs
}

// hardening checks workloads whose images run as uid (and gid) uid.
func hardening(ws []Deployment, uid int64) []error {
	var errs []error
	for _, d := range ws {
		ps := d.Spec.Template.Spec
		psc := cmp.Or(ps.SecurityContext, &corev1.PodSecurityContext{})
		errs = append(errs, unmet(d.who(), []requirement{
			{ptr.Deref(psc.RunAsNonRoot, false), "pod securityContext.runAsNonRoot is not true"},
			{ptr.Deref(psc.RunAsUser, -1) == uid && ptr.Deref(psc.RunAsGroup, -1) == uid, fmt.Sprintf("pod securityContext must run as uid/gid %d (the images' user)", uid)},
			{psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault, "pod securityContext.seccompProfile is not RuntimeDefault"},
			{!ptr.Deref(ps.AutomountServiceAccountToken, true), "automountServiceAccountToken is not false: the app needs no Kubernetes API token"},
		})...)
		for _, c := range allContainers(ps) {
			errs = append(errs, checkContainer(fmt.Sprintf("%s container %s", d.who(), c.Name), c, ps.Volumes)...)
		}
		if d.DaprEnabled() {
			errs = append(errs, checkSidecarResources(d)...)
		}
	}
	return errs
}

func checkContainer(where string, c corev1.Container, vols []corev1.Volume) []error {
	var rs []requirement
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, hasRequest := c.Resources.Requests[r]
		limit, hasLimit := c.Resources.Limits[r]
		rs = append(rs, []requirement{
			{hasRequest, fmt.Sprintf("no %s request", r)},
			{hasLimit || r != corev1.ResourceMemory, "no memory limit"},
			{!hasRequest || !hasLimit || request.Cmp(limit) <= 0, fmt.Sprintf("%s request %s above its limit %s", r, &request, &limit)},
		}...)
	}
	sc := c.SecurityContext
	if sc == nil {
		return append(unmet(where, rs), fmt.Errorf("%s: no securityContext", where))
	}
	caps := cmp.Or(sc.Capabilities, &corev1.Capabilities{})
	// A read-only root needs a writable /tmp (the JVM and Tomcat write there).
	tmp := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.MountPath == "/tmp" && slices.ContainsFunc(vols, func(v corev1.Volume) bool { return v.Name == m.Name && v.EmptyDir != nil })
	})
	return unmet(where, append(rs, []requirement{
		{ptr.Deref(sc.RunAsNonRoot, false), "securityContext.runAsNonRoot is not true"},
		{ptr.Deref(sc.RunAsUser, -1) != 0, "runs as root"},
		{!ptr.Deref(sc.AllowPrivilegeEscalation, true), "securityContext.allowPrivilegeEscalation is not false"},
		{!ptr.Deref(sc.Privileged, false), "privileged"},
		{ptr.Deref(sc.ReadOnlyRootFilesystem, false), "securityContext.readOnlyRootFilesystem is not true"},
		{slices.Contains(caps.Drop, "ALL"), "capabilities do not drop ALL"},
		{len(caps.Add) == 0, fmt.Sprintf("adds capabilities %v", caps.Add)},
		{sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault, "securityContext.seccompProfile is not RuntimeDefault"},
		{tmp, "no emptyDir at /tmp under the read-only root filesystem"},
	}...))
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
		for _, c := range allContainers(d.Spec.Template.Spec) {
			switch _, tag := parseImage(c.Image); {
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

// CheckUnifiedServiceTags: Datadog's env/service/version agree on labels, DD_*/OTel env, app id and image tag.
func CheckUnifiedServiceTags(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		c, tpl := d.AppContainer(), d.Spec.Template.Labels
		for _, k := range []string{"env", "service", "version"} {
			key := "tags.datadoghq.com/" + k
			if dv, tv := d.Labels[key], tpl[key]; dv == "" || tv == "" {
				errs = append(errs, fmt.Errorf("deployment %s: label %s missing on the Deployment or its pod template", d.Name, key))
			} else if dv != tv {
				errs = append(errs, fmt.Errorf("deployment %s: label %s is %q on the Deployment but %q on its pods", d.Name, key, dv, tv))
			}
			if env := "DD_" + strings.ToUpper(k); !hasFieldRef(c, env, "metadata.labels['"+key+"']") {
				errs = append(errs, fmt.Errorf("deployment %s: %s is not read from the pod label %s", d.Name, env, key))
			}
		}
		if d.DaprEnabled() && tpl["tags.datadoghq.com/service"] != d.Annotation("dapr.io/app-id") {
			errs = append(errs, fmt.Errorf("deployment %s: tags.datadoghq.com/service %q differs from dapr.io/app-id %q: the app's and the sidecar's spans would be two services", d.Name, tpl["tags.datadoghq.com/service"], d.Annotation("dapr.io/app-id")))
		}
		if _, tag := parseImage(c.Image); tag != "" && tpl["tags.datadoghq.com/version"] != tag {
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

// CheckRecommendedLabels: every object carries Kubernetes' recommended labels, and pods too.
func CheckRecommendedLabels(b *Bundle) []error {
	var errs []error
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"} {
		for _, o := range b.App {
			if str(o.Map, "metadata", "labels", k) == "" {
				errs = append(errs, fmt.Errorf("%s: no label %s", o.ID(), k))
			}
		}
		for _, d := range b.Workloads() {
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
	return slices.DeleteFunc(b.Deployments(), func(d Deployment) bool {
		return d.Namespace != ns || !s.Matches(labels.Set(d.Spec.Template.Labels))
	}), nil
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
	for _, svc := range ofKind[corev1.Service](b.App, "Service") {
		ds, _ := b.podsMatching(svc.Namespace, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		if len(svc.Spec.Selector) == 0 || len(ds) != 1 {
			errs = append(errs, fmt.Errorf("service %s: selects the pods of %d Deployments, want 1", svc.Name, len(ds)))
		}
	}
	for _, pdb := range ofKind[policyv1.PodDisruptionBudget](b.App, "PodDisruptionBudget") {
		pid := id(pdb.Kind, pdb.Namespace, pdb.Name)
		if ds, err := b.podsMatching(pdb.Namespace, pdb.Spec.Selector); err != nil || len(ds) != 1 {
			errs = append(errs, fmt.Errorf("%s: selects the pods of %d Deployments, want 1", pid, len(ds)))
		} else if r := ds[0].Spec.Replicas; r != nil && *r < 2 {
			errs = append(errs, fmt.Errorf("%s: %s has %d replica: a budget would block node drains or protect nothing", pid, ds[0].Name, *r))
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
		phase := b.property(d, "spring.lifecycle.timeout-per-shutdown-phase", "30s")
		ph, err := ParseSpringDuration(phase)
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: spring.lifecycle.timeout-per-shutdown-phase: %v", d.Name, err))
		}
		if app += ph; app >= grace {
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
	for _, r := range ofKind[resiliencyv1.Resiliency](b.App, "Resiliency") {
		rid, pol := id("Resiliency", r.Namespace, r.Name), r.Spec.Policies
		for target, t := range r.Spec.Targets.Apps {
			if t.Timeout == "" {
				errs = append(errs, fmt.Errorf("%s: calls to %s have no timeout: a hung greeter holds the caller until its own bound", rid, target))
				continue
			}
			attempt, err := time.ParseDuration(pol.Timeouts[t.Timeout])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: timeout policy %q = %q: %v", rid, t.Timeout, pol.Timeouts[t.Timeout], err))
				continue
			}
			retries, backoff := 0, time.Duration(0)
			if t.Retry != "" {
				retry, ok := pol.Retries[t.Retry]
				if !ok {
					errs = append(errs, fmt.Errorf("%s: retry policy %q is not defined", rid, t.Retry))
					continue
				}
				if retry.MaxRetries != nil {
					retries = *retry.MaxRetries
				}
				if retries < 0 {
					errs = append(errs, fmt.Errorf("%s: retry policy %q retries forever", rid, t.Retry))
					continue
				}
				backoff, _ = time.ParseDuration(retry.Duration)
				if retry.Policy == "exponential" && retry.MaxInterval != "" {
					backoff, _ = time.ParseDuration(retry.MaxInterval) // worst case per wait
				}
			}
			if _, ok := pol.CircuitBreakers[t.CircuitBreaker]; t.CircuitBreaker != "" && !ok {
				errs = append(errs, fmt.Errorf("%s: circuit breaker %q is not defined", rid, t.CircuitBreaker))
			}
			worst := time.Duration(retries+1)*attempt + time.Duration(retries)*backoff
			for _, d := range b.Deployments() {
				if d.Namespace != r.Namespace || !d.DaprEnabled() || b.appOf(d).Module != "comms-service" ||
					len(r.Scopes) > 0 && !slices.Contains(r.Scopes, d.Annotation("dapr.io/app-id")) ||
					b.property(d, "comms.greeter.app-id", "greeter") != target {
					continue
				}
				bound, err := ParseSpringDuration(b.property(d, "comms.greeter.timeout", "2s"))
				if err != nil {
					errs = append(errs, fmt.Errorf("deployment %s: comms.greeter.timeout: %v", d.Name, err))
				} else if worst >= bound {
					errs = append(errs, fmt.Errorf("%s: calls to %s can take %s (%d attempts x %s + %d x %s backoff), not less than %s's comms.greeter.timeout %s", rid, target, worst, retries+1, attempt, retries, backoff, d.Name, bound))
				}
			}
		}
	}
	return errs
}

// clusterConfig is the part of eksctl's ClusterConfig the checks read.
type clusterConfig struct {
	Metadata                      struct{ Name string }
	IAM                           struct{ WithOIDC bool }
	Addons                        []eksctlAddon
	AddonsConfig                  struct{ AutoApplyPodIdentityAssociations bool }
	ManagedNodeGroups, NodeGroups []struct {
		Name, InstanceType, AMIFamily string
		InstanceTypes                 []string
	}
}

type eksctlAddon struct {
	Name, ConfigurationValues, ServiceAccountRoleARN string
	WellKnownPolicies                                struct{ EBSCSIController bool }
	AttachPolicyARNs                                 []string
	AttachPolicy                                     map[string]any
	UseDefaultPodIdentityAssociations                bool
	PodIdentityAssociations                          []any
}

// Graviton (arm64) instance families: a generation digit followed by "g" (m6g, m7gd, c6gn, t4g, r8g, im4gn, x2gd).
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z-]*\.[0-9a-z]+$`)

// CheckNodeGroupsArm64: every node group runs on Graviton (arm64) with an AMI family that has arm64 images.
func CheckNodeGroupsArm64(b *Bundle) []error {
	var errs []error
	groups := 0
	for _, c := range ofKind[clusterConfig](b.Cluster, "ClusterConfig") {
		for _, ng := range append(c.ManagedNodeGroups, c.NodeGroups...) {
			groups++
			types := ng.InstanceTypes
			if ng.InstanceType != "" {
				types = append(types, ng.InstanceType)
			}
			if len(types) == 0 {
				errs = append(errs, fmt.Errorf("eksctl node group %s: no instance type: eksctl would pick an x86 default", ng.Name))
			}
			for _, t := range types {
				if !graviton.MatchString(t) {
					errs = append(errs, fmt.Errorf("eksctl node group %s: instance type %s is not Graviton (arm64)", ng.Name, t))
				}
			}
			if strings.HasPrefix(ng.AMIFamily, "Windows") {
				errs = append(errs, fmt.Errorf("eksctl node group %s: amiFamily %s has no arm64 AMI", ng.Name, ng.AMIFamily))
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
	uses := slices.ContainsFunc(b.App, func(o Object) bool {
		return o.Kind() == "StorageClass" && str(o.Map, "provisioner") == "ebs.csi.aws.com"
	})
	for _, c := range ofKind[clusterConfig](b.Cluster, "ClusterConfig") {
		i := slices.IndexFunc(c.Addons, func(a eksctlAddon) bool { return a.Name == "aws-ebs-csi-driver" })
		if i < 0 {
			if uses {
				errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: no aws-ebs-csi-driver addon, but the StorageClass uses ebs.csi.aws.com: the Dapr scheduler's volumes would never be created"))
			}
			continue
		}
		a := c.Addons[i]
		irsa := a.WellKnownPolicies.EBSCSIController || len(a.AttachPolicyARNs) > 0 || a.AttachPolicy != nil
		podIdentity := a.UseDefaultPodIdentityAssociations || len(a.PodIdentityAssociations) > 0 || c.AddonsConfig.AutoApplyPodIdentityAssociations
		if !irsa && !podIdentity && a.ServiceAccountRoleARN == "" {
			errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: the aws-ebs-csi-driver addon gets no IAM permissions (wellKnownPolicies.ebsCSIController, attachPolicyARNs, a pod identity association or serviceAccountRoleARN): it could not create volumes"))
		}
		if irsa && !c.IAM.WithOIDC {
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
	global := func(fields ...string) string { return str(dda.Map, append([]string{"spec", "global"}, fields...)...) }
	for _, c := range ofKind[clusterConfig](b.Cluster, "ClusterConfig") {
		if global("clusterName") != c.Metadata.Name {
			errs = append(errs, fmt.Errorf("%s: spec.global.clusterName %q is not the eksctl cluster name %q", dda.ID(), global("clusterName"), c.Metadata.Name))
		}
	}
	errs = append(errs, unmet(dda.ID(), []requirement{
		{global("credentials", "apiKey") == "" && global("credentials", "appKey") == "", "a key is written in the file: it must come from the Secret datadog-secret"},
		{global("credentials", "apiSecret", "secretName") == "datadog-secret" && global("credentials", "apiSecret", "keyName") == "api-key",
			"the API key must come from Secret datadog-secret, key api-key (what scripts/deploy.sh creates)"},
		{global("site") != "", "spec.global.site is not set"},
	})...)
	var env []corev1.EnvVar
	if err := decode(valueAt(dda.Map, "spec", "global", "env"), &env); err != nil {
		return append(errs, fmt.Errorf("%s: spec.global.env: %v", dda.ID(), err))
	}
	for _, e := range slices.DeleteFunc(env, func(e corev1.EnvVar) bool { return e.Name != "DD_ENV" }) {
		for _, d := range b.Deployments() {
			if tag := d.Spec.Template.Labels["tags.datadoghq.com/env"]; tag != e.Value {
				errs = append(errs, fmt.Errorf("%s: DD_ENV %q differs from deployment %s's tags.datadoghq.com/env %q: the sidecars' spans and the apps' would be in two environments", dda.ID(), e.Value, d.Name, tag))
			}
		}
	}
	return errs
}
