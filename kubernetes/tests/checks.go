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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
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
		return 0, d.errorf("server.port %q is not a number", v)
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
			errs = append(errs, d.errorf("container %s declares no port", c.Name))
			continue
		}
		ap, proto := d.Annotation("dapr.io/app-port"), d.Annotation("dapr.io/app-protocol")
		errs = append(errs, unmet(d.who(), []requirement{
			{c.Ports[0].ContainerPort == server, fmt.Sprintf("containerPort %d but the app listens on server.port %d (%s)", c.Ports[0].ContainerPort, server, b.appOf(d).Module)},
			{!d.DaprEnabled() || ap == strconv.Itoa(int(server)), fmt.Sprintf("dapr.io/app-port %q but the app listens on server.port %d: the sidecar would call a closed port", ap, server)},
			{!d.DaprEnabled() || proto == "" || proto == "http", fmt.Sprintf("dapr.io/app-protocol %q, but the app serves plain HTTP", proto)},
		})...)
		for _, svc := range ofKind[corev1.Service](b.App, "Service") {
			selected, _ := b.podsMatching(svc.Namespace, metav1.SetAsLabelSelector(svc.Spec.Selector))
			if len(svc.Spec.Selector) == 0 || !slices.ContainsFunc(selected, func(s Deployment) bool { return s.Name == d.Name }) {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if containerPort(sp.TargetPort, *c) != server {
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
			errs = append(errs, d.errorf("dapr.io/config %q, but there is no Dapr Configuration of that name in namespace %s: the sidecar would not start", name, d.Namespace))
		}
	}
	return errs
}

// CheckInvokedAppID: comms invokes (comms.greeter.app-id, comms.greeter.method) a Dapr-enabled Deployment by its dapr.io/app-id.
func CheckInvokedAppID(b *Bundle) []error {
	_, errs := b.invocations()
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
				errs = append(errs, d.errorf("container %s has no %s probe", c.Name, p.kind))
				continue
			case p.probe.HTTPGet == nil:
				errs = append(errs, d.errorf("%s probe is not an HTTP GET", p.kind))
				continue
			case !slices.Contains(served, p.probe.HTTPGet.Path):
				errs = append(errs, d.errorf("%s probe calls %s, which the app does not serve (serves %v, per %s)", p.kind, p.probe.HTTPGet.Path, served, why))
			case !slices.Contains(p.want, p.probe.HTTPGet.Path):
				errs = append(errs, d.errorf("%s probe calls %s; it should call one of %v", p.kind, p.probe.HTTPGet.Path, p.want))
			}
			if got := containerPort(p.probe.HTTPGet.Port, *c); got != server {
				errs = append(errs, d.errorf("%s probe port %s is not the app's port %d", p.kind, p.probe.HTTPGet.Port.String(), server))
			}
		}
		if d.DaprEnabled() && d.Annotation("dapr.io/enable-app-health-check") == "true" {
			p := cmp.Or(d.Annotation("dapr.io/app-health-check-path"), "/healthz") // Dapr's default
			if !slices.Contains(served, p) {
				errs = append(errs, d.errorf("dapr.io/app-health-check-path %s is not served by the app (serves %v, per %s)", p, served, why))
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
	// DDOT: the Operator gives the otel-agent container its ports (otel-http: 4318 by default), each also
	// as the same host port, and the node-local Service the same ports.
	if str(dda.Map, "spec", "features", "otelCollector", "enabled") != "true" {
		return s, nil
	}
	s.httpPort = 4318
	if ports, ok := valueAt(dda.Map, "spec", "features", "otelCollector", "ports").([]any); ok {
		for _, p := range ports {
			if m, ok := p.(map[string]any); ok && fmt.Sprint(m["name"]) == "otel-http" {
				s.httpPort, _ = strconv.Atoi(fmt.Sprint(m["containerPort"]))
			}
		}
	}
	s.httpHostPort = s.httpPort
	// The collector's own OTLP/HTTP receiver must listen on that port.
	var conf map[string]any
	if err := yaml.Unmarshal([]byte(str(dda.Map, "spec", "features", "otelCollector", "conf", "configData")), &conf); err != nil {
		return s, fmt.Errorf("%s: otelCollector.conf.configData: %v", dda.ID(), err)
	}
	endpoint := str(conf, "receivers", "otlp", "protocols", "http", "endpoint")
	if _, port, _ := net.SplitHostPort(endpoint); port != strconv.Itoa(s.httpPort) {
		return s, fmt.Errorf("%s: the collector's OTLP/HTTP receiver listens on %q, not on the otel-http port %d", dda.ID(), endpoint, s.httpPort)
	}
	return s, nil
}

// CheckSidecarOTLPEndpoint: Dapr's OTLP exporter speaks plain HTTP to the Operator's Service on its OTLP/HTTP port.
func CheckSidecarOTLPEndpoint(b *Bundle) []error {
	svc, err := b.agentService()
	if err != nil {
		return []error{err}
	}
	errs := unmet("datadog/", []requirement{
		{svc.httpPort != 0, "the DatadogAgent does not enable the OTLP/HTTP receiver"},
		{svc.apm, "APM is disabled in the DatadogAgent: OTLP traces would be dropped"},
	})
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
		host, port, err := net.SplitHostPort(addr)
		if err != nil || strings.Contains(addr, "/") {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q must be host:port (daprd passes it to the OTLP exporter as an endpoint, not a URL)", cid, addr))
			continue
		}
		local := svc.name + "." + svc.namespace
		errs = append(errs, unmet(cid, []requirement{
			{slices.Contains([]string{local, local + ".svc", local + ".svc.cluster.local"}, host), fmt.Sprintf("otel.endpointAddress host %q is not the Datadog Operator's node-local Service %s/%s (from datadog/datadog-agent.yaml)", host, svc.namespace, svc.name)},
			{port == strconv.Itoa(svc.httpPort), fmt.Sprintf("otel.endpointAddress port %s, but the Agent's OTLP/HTTP port is %d", port, svc.httpPort)},
		})...)
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
		v, ok := Env(c, "MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT")
		m := hostIPRef.FindStringSubmatch(v)
		switch {
		case !ok:
			errs = append(errs, d.errorf("no MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT: the app's own spans would not be exported"))
			continue
		case m == nil:
			errs = append(errs, d.errorf("MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT %q is not http://$(HOST_IP):<port>/v1/traces", v))
			continue
		case !hasFieldRef(c, m[1], "status.hostIP"):
			errs = append(errs, d.errorf("%s is not set from the downward API field status.hostIP", m[1]))
		}
		if svc.httpHostPort == 0 {
			errs = append(errs, d.errorf("sends spans to the node's IP, but the DatadogAgent opens no OTLP/HTTP host port"))
		} else if m[2] != strconv.Itoa(svc.httpHostPort) {
			errs = append(errs, d.errorf("MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT port %s, but the Agent's OTLP/HTTP host port is %d", m[2], svc.httpHostPort))
		}
	}
	return errs
}

// CheckContainerHardening: requests, memory limit, read-only root, seccomp, no API token, a sized sidecar; CheckPodSecurity covers the rest of restricted.
func CheckContainerHardening(b *Bundle) []error { return b.hardening(b.Deployments(), 1000) }

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

// hardening checks workloads whose images run as uid (and gid) uid, and the sidecar the injector sizes from their annotations.
func (b *Bundle) hardening(ws []Deployment, uid int64) []error {
	var errs []error
	for _, d := range ws {
		ps := d.Spec.Template.Spec
		psc := cmp.Or(ps.SecurityContext, &corev1.PodSecurityContext{})
		errs = append(errs, unmet(d.who(), []requirement{
			{ptr.Deref(psc.RunAsNonRoot, false), "pod securityContext.runAsNonRoot is not true"},
			{ptr.Deref(psc.RunAsUser, -1) == uid && ptr.Deref(psc.RunAsGroup, -1) == uid, fmt.Sprintf("pod securityContext must run as uid/gid %d (the images' user)", uid)},
			{isRuntimeDefault(psc.SeccompProfile), "pod securityContext.seccompProfile is not RuntimeDefault"},
			{!ptr.Deref(ps.AutomountServiceAccountToken, true), "automountServiceAccountToken is not false: the app needs no Kubernetes API token"},
		})...)
		for _, c := range allContainers(ps) {
			errs = append(errs, checkContainer(fmt.Sprintf("%s container %s", d.who(), c.Name), c, ps.Volumes)...)
		}
		if !d.DaprEnabled() {
			continue
		}
		pod, _, err := b.Inj.Inject(d)
		if err != nil {
			errs = append(errs, err)
		} else if sidecar := Sidecar(pod); sidecar != nil {
			errs = append(errs, unmet(d.who()+" Dapr sidecar (sized by the dapr.io/sidecar-* annotations, not at all if one does not parse)", resourceRules(sidecar.Resources))...)
		}
	}
	return errs
}

// resourceRules: cpu and memory requested, memory limited, no request above its limit.
func resourceRules(r corev1.ResourceRequirements) []requirement {
	var rs []requirement
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, hasRequest := r.Requests[name]
		limit, hasLimit := r.Limits[name]
		rs = append(rs, []requirement{
			{hasRequest, fmt.Sprintf("no %s request", name)},
			{hasLimit || name != corev1.ResourceMemory, "no memory limit"},
			{!hasRequest || !hasLimit || request.Cmp(limit) <= 0, fmt.Sprintf("%s request %s above its limit %s", name, &request, &limit)},
		}...)
	}
	return rs
}

func isRuntimeDefault(p *corev1.SeccompProfile) bool {
	return p != nil && p.Type == corev1.SeccompProfileTypeRuntimeDefault
}

// checkContainer: resources, and what restricted does not require: a read-only root (with /tmp writable), no added capability, its own seccomp profile.
func checkContainer(where string, c corev1.Container, vols []corev1.Volume) []error {
	sc := cmp.Or(c.SecurityContext, &corev1.SecurityContext{})
	caps := cmp.Or(sc.Capabilities, &corev1.Capabilities{})
	// A read-only root needs a writable /tmp (the JVM and Tomcat write there).
	tmp := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.MountPath == "/tmp" && slices.ContainsFunc(vols, func(v corev1.Volume) bool { return v.Name == m.Name && v.EmptyDir != nil })
	})
	return unmet(where, append(resourceRules(c.Resources), []requirement{
		{ptr.Deref(sc.ReadOnlyRootFilesystem, false), "securityContext.readOnlyRootFilesystem is not true"},
		{len(caps.Add) == 0, fmt.Sprintf("adds capabilities %v", caps.Add)},
		{isRuntimeDefault(sc.SeccompProfile), "securityContext.seccompProfile is not RuntimeDefault"},
		{tmp, "no emptyDir at /tmp under the read-only root filesystem"},
	}...))
}

// CheckImagesPinned: every image has a tag or digest, and the tag is not latest.
func CheckImagesPinned(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		for _, c := range allContainers(d.Spec.Template.Spec) {
			switch _, tag := parseImage(c.Image); {
			case strings.Contains(c.Image, "@sha256:"):
			case tag == "":
				errs = append(errs, d.errorf("image %q has no tag: it means latest", c.Image))
			case tag == "latest":
				errs = append(errs, d.errorf("image %q is not pinned", c.Image))
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
				errs = append(errs, d.errorf("label %s missing on the Deployment or its pod template", key))
			} else if dv != tv {
				errs = append(errs, d.errorf("label %s is %q on the Deployment but %q on its pods", key, dv, tv))
			}
			if env := "DD_" + strings.ToUpper(k); !hasFieldRef(c, env, "metadata.labels['"+key+"']") {
				errs = append(errs, d.errorf("%s is not read from the pod label %s", env, key))
			}
		}
		service, version, appID := tpl["tags.datadoghq.com/service"], tpl["tags.datadoghq.com/version"], d.Annotation("dapr.io/app-id")
		_, tag := parseImage(c.Image)
		attrs, _ := Env(c, "OTEL_RESOURCE_ATTRIBUTES")
		otelService, ok := Env(c, "OTEL_SERVICE_NAME")
		errs = append(errs, unmet(d.who(), []requirement{
			{!d.DaprEnabled() || service == appID, fmt.Sprintf("tags.datadoghq.com/service %q differs from dapr.io/app-id %q: the app's and the sidecar's spans would be two services", service, appID)},
			{tag == "" || version == tag, fmt.Sprintf("tags.datadoghq.com/version %q but the image tag is %q", version, tag)},
			{slices.Contains(strings.Split(attrs, ","), "deployment.environment.name=$(DD_ENV)"), fmt.Sprintf("OTEL_RESOURCE_ATTRIBUTES %q lacks deployment.environment.name=$(DD_ENV)", attrs)},
			{slices.Contains(strings.Split(attrs, ","), "service.version=$(DD_VERSION)"), fmt.Sprintf("OTEL_RESOURCE_ATTRIBUTES %q lacks service.version=$(DD_VERSION)", attrs)},
			{!ok || otelService == "$(DD_SERVICE)", fmt.Sprintf("OTEL_SERVICE_NAME %q is not $(DD_SERVICE)", otelService)},
		})...)
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
						errs = append(errs, d.errorf("container %s: %s uses $(%s), which is not defined before it", c.Name, e.Name, m[1]))
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
				errs = append(errs, d.errorf("pod template has no label %s", k))
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
			errs = append(errs, d.errorf("spec.selector does not select its pod template"))
		}
	}
	for _, svc := range ofKind[corev1.Service](b.App, "Service") {
		ds, _ := b.podsMatching(svc.Namespace, metav1.SetAsLabelSelector(svc.Spec.Selector))
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
		grace := time.Duration(ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
		c := d.AppContainer()
		app := time.Duration(0)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			app += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		phase := b.property(d, "spring.lifecycle.timeout-per-shutdown-phase", "30s")
		ph, err := ParseSpringDuration(phase)
		if err != nil {
			errs = append(errs, d.errorf("spring.lifecycle.timeout-per-shutdown-phase: %v", err))
		}
		// comms' drain runs in a shutdown phase of its own, before the web server's.
		drain, err := ParseSpringDuration(b.property(d, "comms.shutdown.drain", "0s"))
		if err != nil {
			errs = append(errs, d.errorf("comms.shutdown.drain: %v", err))
		}
		if app += min(drain, ph) + ph; app >= grace {
			errs = append(errs, d.errorf("the app needs up to %s to stop (preStop + comms.shutdown.drain + spring.lifecycle.timeout-per-shutdown-phase %s) but terminationGracePeriodSeconds is %s", app, phase, grace))
		}
		if !d.DaprEnabled() {
			continue
		}
		sidecar := 5 * time.Second // Dapr's default graceful-shutdown-seconds
		if v := d.Annotation("dapr.io/graceful-shutdown-seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, d.errorf("dapr.io/graceful-shutdown-seconds %q is not a number of seconds", v))
			}
			sidecar = time.Duration(n) * time.Second
		}
		if v := d.Annotation("dapr.io/block-shutdown-duration"); v != "" {
			bl, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, d.errorf("dapr.io/block-shutdown-duration %q: %v", v, err))
			}
			sidecar += bl
		}
		if sidecar >= grace {
			errs = append(errs, d.errorf("the Dapr sidecar may take %s to stop (block-shutdown-duration + graceful-shutdown-seconds) but terminationGracePeriodSeconds is %s", sidecar, grace))
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
				if retries = ptr.Deref(retry.MaxRetries, -1); retries < 0 { // Dapr's default (dapr/kit retry.DefaultConfig): -1
					errs = append(errs, fmt.Errorf("%s: retry policy %q retries forever (maxRetries unset or negative)", rid, t.Retry))
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
					errs = append(errs, d.errorf("comms.greeter.timeout: %v", err))
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
			rs := []requirement{
				{len(types) > 0, "no instance type: eksctl would pick an x86 default"},
				{!strings.HasPrefix(ng.AMIFamily, "Windows"), "amiFamily " + ng.AMIFamily + " has no arm64 AMI"},
			}
			for _, t := range types {
				rs = append(rs, requirement{graviton.MatchString(t), "instance type " + t + " is not Graviton (arm64)"})
			}
			errs = append(errs, unmet("eksctl node group "+ng.Name, rs)...)
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
	uses := slices.ContainsFunc(b.Storage, func(o Object) bool {
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
		errs = append(errs, unmet("eksctl/cluster.yaml", []requirement{
			{irsa || podIdentity || a.ServiceAccountRoleARN != "", "the aws-ebs-csi-driver addon gets no IAM permissions (wellKnownPolicies.ebsCSIController, attachPolicyARNs, a pod identity association or serviceAccountRoleARN): it could not create volumes"},
			{!irsa || c.IAM.WithOIDC, "the EBS CSI driver's IAM role (IRSA) needs iam.withOIDC: true"},
		})...)
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
