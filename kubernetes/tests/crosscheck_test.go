package manifests

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dapr/dapr/pkg/injector/patcher"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Every cross-check passes on the repository, with the optional components and with scripts/install.sh's overlay.
func TestCrossChecksPassOnTheRepository(t *testing.T) {
	names := slices.Sorted(maps.Keys(Checks))
	_, withCollector := collectorObjects(t)
	for _, c := range []struct {
		label string
		app   []Object
		skip  []string
	}{
		{"kubernetes/", DeepCopy(fixtures(t).App), nil},
		{"kubernetes/ with all components", render(t, "kubernetes", "", optionalComponents(t, collectorComponent)...), nil},
		// The collector moves the OTLP endpoints off the Agent: CheckCollectorWiring checks them instead.
		{"kubernetes/ with the collector", withCollector, []string{"SidecarOTLPEndpointIsAgentLocal", "AppOTLPEndpointIsAgentHostPort"}},
		{"the deploy overlay", render(t, "kubernetes", deployImages+deployVersionLabel), nil},
	} {
		b := bundle(t, c.app)
		for _, n := range names {
			if !slices.Contains(c.skip, n) {
				t.Run(c.label+"/"+n, func(t *testing.T) { requireNoErrors(t, n, Checks[n](b)) })
			}
		}
	}
}

// expectCaught wants check to pass on b and to report want on a copy of b broken by breakIt.
func expectCaught(t *testing.T, b *Bundle, check Check, want string, breakIt breaker) {
	t.Helper()
	if errs := check(b); len(errs) != 0 {
		t.Fatalf("the check fails on the unbroken repository: %v", errs)
	}
	broken := b.Copy()
	breakIt(t, broken)
	requireError(t, check(broken), want)
}

// A breaker breaks one thing in a copy of the bundle.
type breaker func(t *testing.T, b *Bundle)

// set puts value (nil deletes) at path in the object kind/name of the app, Datadog, storage or eksctl manifests.
func set(kind, name string, value any, path ...any) breaker {
	return func(t *testing.T, b *Bundle) {
		setPath(mustFind(t, kind, name, b.App, b.Datadog, b.Storage, b.Cluster).Map, value, path...)
	}
}

func annotate(dep, key string, value any) breaker {
	return set("Deployment", dep, value, "spec", "template", "metadata", "annotations", key)
}

// container sets a field of the first container of a Deployment.
func container(dep string, value any, path ...any) breaker {
	return set("Deployment", dep, value, append([]any{"spec", "template", "spec", "containers", 0}, path...)...)
}

// prop sets (nil removes) a property of an app's application.yaml.
func prop(module, key string, value any) breaker {
	return func(t *testing.T, b *Bundle) {
		if path := strings.Split(key, "."); value == nil {
			unstructured.RemoveNestedField(b.Apps[module].props, path...)
		} else if err := unstructured.SetNestedField(b.Apps[module].props, value, path...); err != nil {
			t.Fatal(err)
		}
	}
}

// env moves the env var name of a workload's first container to the end, as e (nil deletes it).
func env(workload, name string, e map[string]any) breaker {
	return func(t *testing.T, b *Bundle) {
		o := Find(b.App, "Deployment", workload)
		if o == nil {
			o = mustFind(t, "DaemonSet", workload, b.App)
		}
		c := at(o.Map, "spec", "template", "spec", "containers", 0).(map[string]any)
		c["env"] = slices.DeleteFunc(c["env"].([]any), func(v any) bool { return at(v, "name") == name })
		if e != nil {
			c["env"] = append(c["env"].([]any), e)
		}
	}
}

func literal(name, value string) map[string]any { return map[string]any{"name": name, "value": value} }

func secretEnv(name, secret, key string) map[string]any {
	return map[string]any{"name": name, "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": secret, "key": key}}}
}

func addon(name string, value any, path ...any) breaker {
	return func(t *testing.T, b *Bundle) {
		for _, a := range at(b.Cluster[0].Map, "addons").([]any) {
			if at(a, "name") == name {
				setPath(a, value, path...)
			}
		}
	}
}

func acl(value any, path ...any) breaker {
	return set("Configuration", "dapr-config", value, append([]any{"spec", "accessControl", "policies", 0}, path...)...)
}

func breaks(bs ...breaker) breaker {
	return func(t *testing.T, b *Bundle) {
		for _, br := range bs {
			br(t, b)
		}
	}
}

// Each check passes on the repository and catches each broken copy of it (each case: a mistake it exists for).
func TestCrossCheckCatches(t *testing.T) {
	defaults := patcher.NewSidecarConfig(&corev1.Pod{})
	otel := func(value any, field string) breaker {
		return set("Configuration", "dapr-config", value, "spec", "tracing", "otel", field)
	}
	ddot := func(value any, path ...any) breaker {
		return set("DatadogAgent", "datadog", value, append([]any{"spec", "features", "otelCollector"}, path...)...)
	}
	cases := []struct {
		name    string
		check   Check
		want    string
		breakIt breaker
	}{
		{"WrongAppPort", CheckAppPorts, "dapr.io/app-port", annotate("greeter", "dapr.io/app-port", "8081")},
		{"ServerPortChangedInApplicationYaml", CheckAppPorts, "server.port 9090", prop("greeter-service", "server.port", int64(9090))},
		{"ServerPortOverriddenByEnv", CheckAppPorts, "server.port 8081", env("comms", "SERVER_PORT", literal("SERVER_PORT", "8081"))},
		{"ServiceTargetingAnotherPort", CheckAppPorts, "greeter-service", set("Service", "greeter-service", "metrics", "spec", "ports", 0, "targetPort")},
		{"MissingDaprConfig", CheckDaprConfigExists, `"tracing-config"`, annotate("comms", "dapr.io/config", "tracing-config")},
		{"DaprConfigInAnotherNamespace", CheckDaprConfigExists, "dapr-config", set("Configuration", "dapr-config", "default", "metadata", "namespace")},
		{"WrongGreeterAppID", CheckInvokedAppID, `"greeter-svc"`, env("comms", "COMMS_GREETER_APPID", literal("COMMS_GREETER_APPID", "greeter-svc"))},
		{"RenamedGreeterAppID", CheckInvokedAppID, `"greeter"`, annotate("greeter", "dapr.io/app-id", "hello")},
		{"ProbeOnUnservedPath", CheckProbePaths, "/actuator/health/live", container("comms", "/actuator/health/live", "livenessProbe", "httpGet", "path")},
		{"LivenessProbeOnReadiness", CheckProbePaths, "liveness probe calls /actuator/health/readiness", container("greeter", "/actuator/health/readiness", "livenessProbe", "httpGet", "path")},
		{"DaprHealthCheckOnUnservedPath", CheckProbePaths, "app-health-check-path", annotate("comms", "dapr.io/app-health-check-path", "/healthz")},
		{"OTLPEndpointInWrongNamespace", CheckSidecarOTLPEndpoint, "node-local Service", otel("datadog-agent.datadog.svc.cluster.local:4318", "endpointAddress")},
		{"OTLPEndpointOnGRPCPort", CheckSidecarOTLPEndpoint, "port 4317", otel("datadog-agent.datadog-operator.svc.cluster.local:4317", "endpointAddress")},
		{"OTLPEndpointWrittenAsURL", CheckSidecarOTLPEndpoint, "host:port", otel("http://datadog-agent.datadog-operator.svc.cluster.local:4318", "endpointAddress")},
		{"OTLPOverGRPCProtocol", CheckSidecarOTLPEndpoint, "otel.protocol", otel("grpc", "protocol")},
		// Renaming the DatadogAgent renames the Service the Operator creates: the Configuration must follow.
		{"RenamedDatadogAgent", CheckSidecarOTLPEndpoint, "dd-agent", set("DatadogAgent", "datadog", "dd", "metadata", "name")},
		{"AgentWithoutOTLPHTTP", CheckSidecarOTLPEndpoint, "OTLP/HTTP", ddot(false, "enabled")},
		{"CollectorOnAnotherPort", CheckSidecarOTLPEndpoint, "not on the otel-http port 4318", ddot("receivers: {otlp: {protocols: {http: {endpoint: 0.0.0.0:4319}}}}", "conf", "configData")},
		{"AppOTLPEndpointOnWrongPort", CheckAppOTLPEndpoint, "port 4317", env("greeter", "MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT", literal("MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT", "http://$(HOST_IP):4317/v1/traces"))},
		{"AgentWithoutHostPort", CheckAppOTLPEndpoint, "no OTLP/HTTP host port", ddot(false, "enabled")},
		{"HostIPNotFromDownwardAPI", CheckAppOTLPEndpoint, "status.hostIP", env("comms", "HOST_IP", literal("HOST_IP", "127.0.0.1"))},
		{"ContainerWithoutMemoryLimit", CheckContainerHardening, "no memory limit", container("comms", nil, "resources", "limits")},
		{"ContainerWithoutRequests", CheckContainerHardening, "no cpu request", container("greeter", nil, "resources", "requests", "cpu")},
		{"WritableRootFilesystem", CheckContainerHardening, "readOnlyRootFilesystem", container("greeter", false, "securityContext", "readOnlyRootFilesystem")},
		{"CapabilityAdded", CheckContainerHardening, "adds capabilities [NET_BIND_SERVICE]", container("comms", []any{"NET_BIND_SERVICE"}, "securityContext", "capabilities", "add")},
		{"MountedAPIToken", CheckContainerHardening, "automountServiceAccountToken", set("Deployment", "greeter", nil, "spec", "template", "spec", "automountServiceAccountToken")},
		{"UnsizedDaprSidecar", CheckContainerHardening, "does not parse): no memory limit", annotate("greeter", "dapr.io/sidecar-memory-limit", nil)},
		{"UnparsableSidecarSize", CheckContainerHardening, "no cpu request", annotate("comms", "dapr.io/sidecar-cpu-limit", "one")},
		{"LatestImage", CheckImagesPinned, "not pinned", container("comms", "registry.example/comms-service:latest", "image")},
		{"UntaggedImage", CheckImagesPinned, "no tag", container("greeter", "registry.example:5000/greeter-service", "image")},
		{"ServiceTagDifferentFromAppID", CheckUnifiedServiceTags, "two services", breaks(
			set("Deployment", "comms", "comms-svc", "metadata", "labels", "tags.datadoghq.com/service"),
			set("Deployment", "comms", "comms-svc", "spec", "template", "metadata", "labels", "tags.datadoghq.com/service"))},
		{"VersionTagBehindImageTag", CheckUnifiedServiceTags, "image tag", container("greeter", "greeter-service:0.2.0", "image")},
		// Without the version label of kubernetes/README.md, Datadog would report the new image under the old version.
		{"DeployOverlayWithoutVersionLabel", CheckUnifiedServiceTags, `image tag is "1.2.3"`, func(t *testing.T, b *Bundle) {
			b.App = render(t, "kubernetes", deployImages)
		}},
		{"DDEnvNotFromLabel", CheckUnifiedServiceTags, "DD_ENV", env("comms", "DD_ENV", literal("DD_ENV", "prod"))},
		{"EnvReferenceToLaterVariable", CheckEnvReferences, "$(HOST_IP)", env("comms", "HOST_IP", map[string]any{"name": "HOST_IP", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "status.hostIP"}}})},
		{"ObjectWithoutRecommendedLabels", CheckRecommendedLabels, "app.kubernetes.io/name", set("Configuration", "dapr-config", nil, "metadata", "labels", "app.kubernetes.io/name")},
		{"ServiceSelectingNothing", CheckSelectors, "service comms-service", set("Service", "comms-service", "comm", "spec", "selector", "app.kubernetes.io/name")},
		{"DisruptionBudgetOnSingleReplica", CheckSelectors, "1 replica", set("Deployment", "greeter", int64(1), "spec", "replicas")},
		{"GracePeriodShorterThanShutdown", CheckShutdownBudget, "terminationGracePeriodSeconds", set("Deployment", "comms", int64(20), "spec", "template", "spec", "terminationGracePeriodSeconds")},
		{"SpringShutdownLongerThanGracePeriod", CheckShutdownBudget, "timeout-per-shutdown-phase", prop("greeter-service", "spring.lifecycle.timeout-per-shutdown-phase", "60s")},
		{"ResiliencyLongerThanCommsTimeout", CheckResiliencyBudget, "comms.greeter.timeout", set("Resiliency", "greeter-calls", "900ms", "spec", "policies", "timeouts", "greeterAttempt")},
		{"RetryWithoutMaxRetries", CheckResiliencyBudget, "retries forever", set("Resiliency", "greeter-calls", nil, "spec", "policies", "retries", "greeterRetry", "maxRetries")},
		{"ResiliencyWithUndefinedPolicy", CheckResiliencyBudget, "not defined", set("Resiliency", "greeter-calls", "greeterRetries", "spec", "targets", "apps", "greeter", "retry")},
		{"NetworkPolicyOnWrongDaprPort", CheckNetworkPolicies, "port 50001", set("NetworkPolicy", "greeter-from-comms-sidecar", int64(50001), "spec", "ingress", 0, "ports", 0, "port")},
		// The dashboard reads the sidecar's public port (the injector's default); the HTTP API port is loopback-only.
		{"DashboardRuleOnTheHTTPAPIPort", CheckNetworkPolicies, fmt.Sprintf("public port, port %d", defaults.SidecarPublicPort), set("NetworkPolicy", "sidecars-from-dapr-dashboard", int64(defaults.SidecarHTTPPort), "spec", "ingress", 0, "ports", 0, "port")},
		{"DashboardRuleForAllOfDaprSystem", CheckNetworkPolicies, "other than the Dapr dashboard", set("NetworkPolicy", "sidecars-from-dapr-dashboard", nil, "spec", "ingress", 0, "from", 0, "podSelector")},
		{"InvocationPortOpenToANonCaller", CheckNetworkPolicies, "greeter does not invoke comms", breaks(
			set("NetworkPolicy", "greeter-from-comms-sidecar", "comms", "spec", "podSelector", "matchLabels", "app.kubernetes.io/name"),
			set("NetworkPolicy", "greeter-from-comms-sidecar", "greeter", "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/name"))},
		{"MissingDefaultDeny", CheckNetworkPolicies, "no default-deny", set("NetworkPolicy", "default-deny-ingress", "Egress", "spec", "policyTypes", 0)},
		{"InvocationNotLetIn", CheckNetworkPolicies, "no NetworkPolicy lets comms into greeter's sidecar", func(t *testing.T, b *Bundle) {
			b.App = slices.DeleteFunc(b.App, func(o Object) bool { return o.Name() == "greeter-from-comms-sidecar" })
		}},
		{"NetworkPoliciesWithoutCNIEnforcement", CheckNetworkPolicies, "enableNetworkPolicy", addon("vpc-cni", nil, "configurationValues")},
		{"AgentScrapeOnAnotherPort", CheckNetworkPolicies, "no NetworkPolicy lets the Datadog Agent into", set("NetworkPolicy", "sidecar-metrics-from-datadog-agent", int64(9091), "spec", "ingress", 0, "ports", 0, "port")},
		{"AgentScrapeFromTheWholeNamespace", CheckNetworkPolicies, "or the Datadog Agent's", set("NetworkPolicy", "sidecar-metrics-from-datadog-agent", nil, "spec", "ingress", 0, "from", 0, "podSelector")},
		{"OpenMetricsCheckOnAnotherPort", CheckDatadogScrapesSidecars, "openmetrics_endpoint http://%%host%%:9090/metrics", annotate("greeter", "ad.datadoghq.com/daprd.checks",
			`{"openmetrics": {"instances": [{"openmetrics_endpoint": "http://%%host%%:3501/metrics", "metrics": [".+"]}]}}`)},
		{"SidecarMetricsTurnedOff", CheckDatadogScrapesSidecars, "serves no metrics", annotate("comms", "dapr.io/enable-metrics", "false")},
		{"AnnotationForAContainerThePodLacks", CheckDatadogScrapesSidecars, "ad.datadoghq.com/dapr.checks names no container", func(t *testing.T, b *Bundle) {
			a := at(mustFind(t, "Deployment", "comms", b.App).Map, "spec", "template", "metadata", "annotations").(map[string]any)
			a["ad.datadoghq.com/dapr.checks"] = a["ad.datadoghq.com/daprd.checks"]
			delete(a, "ad.datadoghq.com/daprd.checks")
		}},
		{"X86NodeGroup", CheckNodeGroupsArm64, "m6i.large", set("ClusterConfig", "dapr-demo", "m6i.large", "managedNodeGroups", 0, "instanceType")},
		{"EBSCSIDriverWithoutIAM", CheckEBSCSIDriver, "no IAM permissions", addon("aws-ebs-csi-driver", nil, "wellKnownPolicies")},
		{"IRSAWithoutOIDC", CheckEBSCSIDriver, "withOIDC", set("ClusterConfig", "dapr-demo", false, "iam", "withOIDC")},
		{"MissingEBSCSIDriver", CheckEBSCSIDriver, "no aws-ebs-csi-driver addon", func(t *testing.T, b *Bundle) {
			c := b.Cluster[0].Map
			c["addons"] = slices.DeleteFunc(c["addons"].([]any), func(a any) bool { return at(a, "name") == "aws-ebs-csi-driver" })
		}},
		{"AgentClusterNameMismatch", CheckDatadogAgent, "clusterName", set("ClusterConfig", "dapr-demo", "dapr-demo-2", "metadata", "name")},
		{"APIKeyInTheFile", CheckDatadogAgent, "key is written in the file", set("DatadogAgent", "datadog", "0123456789abcdef", "spec", "global", "credentials", "apiKey")},
		{"AgentEnvDifferentFromApps", CheckDatadogAgent, "two environments", set("DatadogAgent", "datadog", "staging", "spec", "global", "env", 0, "value")},
		// Without the value, the injector's default keeps the sidecar's capabilities: restricted rejects it.
		{"SidecarKeepingItsCapabilities", CheckPodSecurity, "unrestricted capabilities", func(t *testing.T, b *Bundle) {
			delete(at(b.Inj.Values, injectorChartName).(map[string]any), "sidecarDropALLCapabilities")
		}},
		{"SidecarRunAsRoot", CheckPodSecurity, "runAsNonRoot", breaks(
			func(t *testing.T, b *Bundle) {
				at(b.Inj.Values, injectorChartName).(map[string]any)["sidecarRunAsNonRoot"] = false
			},
			set("Deployment", "comms", nil, "spec", "template", "spec", "securityContext", "runAsNonRoot"),
			set("Deployment", "greeter", nil, "spec", "template", "spec", "securityContext", "runAsNonRoot"))},
		{"AHelmValueTheChartDoesNotHave", CheckPodSecurity, "sidecarDropAllCapabilities is not a value", func(t *testing.T, b *Bundle) {
			b.Inj.Values = map[string]any{injectorChartName: map[string]any{"sidecarDropAllCapabilities": true}}
		}},
		{"NamespaceNotEnforcingRestricted", CheckPodSecurity, `enforces Pod Security "baseline"`, set("Namespace", "dapr-services", "baseline", "metadata", "labels", "pod-security.kubernetes.io/enforce")},
		{"AppContainerBreakingRestricted", CheckPodSecurity, "allowPrivilegeEscalation", container("greeter", true, "securityContext", "allowPrivilegeEscalation")},
		{"CapabilitiesNotDropped", CheckPodSecurity, "unrestricted capabilities", container("comms", nil, "securityContext", "capabilities")},
		{"AccessControlAllowingByDefault", CheckAccessControl, "defaultAction is not deny", set("Configuration", "dapr-config", "allow", "spec", "accessControl", "defaultAction")},
		{"AccessControlOnAnotherVerb", CheckAccessControl, "POST /greet from app comms", acl([]any{"GET"}, "operations", 0, "httpVerb")},
		// daprd looks the verb up by its name: "post" matches nothing.
		{"LowerCaseVerb", CheckAccessControl, `httpVerb "post"`, acl([]any{"post"}, "operations", 0, "httpVerb")},
		{"AccessControlOnAnotherOperation", CheckAccessControl, "would be denied", prop("comms-service", "comms.greeter.method", "hello")},
		{"CallerFromAnotherTrustDomain", CheckAccessControl, "trust domain public", acl("cluster.local", "trustDomain")},
		{"PolicyWithoutNamespace", CheckAccessControl, "does not start", acl(nil, "namespace")},
		{"AnAllowedCallNoAppMakes", CheckAccessControl, "DELETE /greet from app comms", acl([]any{"POST", "DELETE"}, "operations", 0, "httpVerb")},
		{"CallerSidecarWithoutAPIToken", CheckDaprTokens, "no dapr.io/api-token-secret", breaks(annotate("comms", "dapr.io/api-token-secret", nil), env("comms", "DAPR_API_TOKEN", nil))},
		{"CalleeSidecarWithoutAPIToken", CheckDaprTokens, "deployment greeter: no dapr.io/api-token-secret", annotate("greeter", "dapr.io/api-token-secret", nil)},
		{"CalleeWithoutAppToken", CheckDaprTokens, "no dapr.io/app-token-secret", annotate("greeter", "dapr.io/app-token-secret", nil)},
		{"AppReadingAnotherSecret", CheckDaprTokens, "they must be one Secret", env("greeter", "APP_API_TOKEN", secretEnv("APP_API_TOKEN", "greeter-token", "token"))},
		{"AppTokenTheSidecarDoesNotSend", CheckDaprTokens, "its sidecar has no such token", env("comms", "APP_API_TOKEN", secretEnv("APP_API_TOKEN", "app-api-token", "token"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectCaught(t, fixtures(t).Bundle, c.check, c.want, c.breakIt) })
	}
}

// The readiness probe may call /health only while application.yaml serves it.
func TestCrossCheckCatchesHealthPathDroppedFromApplicationYaml(t *testing.T) {
	b := fixtures(t).Copy()
	container("greeter", "/health", "readinessProbe", "httpGet", "path")(t, b)
	expectCaught(t, b, CheckProbePaths, "/health", prop("greeter-service", "management.endpoint.health.group.readiness.additional-path", nil))
}

func TestSidecarsExportToTheDatadogAgentsNodeLocalService(t *testing.T) {
	svc, err := fixtures(t).agentService()
	if err != nil || svc.name != "datadog-agent" || svc.namespace != "datadog-operator" || svc.httpPort != 4318 {
		t.Errorf("derived the Agent Service %s/%s:%d (%v), want datadog-operator/datadog-agent:4318", svc.namespace, svc.name, svc.httpPort, err)
	}
}

// scripts/install.sh applies kubernetes/ (through its image overlay): the policy must be part of it.
func TestKubernetesAppliesTheResiliencyComponent(t *testing.T) {
	if !slices.Contains(appliedComponents(t), "components/resiliency") {
		t.Fatalf("kubernetes/kustomization.yaml does not list components/resiliency: %v", appliedComponents(t))
	}
	r := mustFind(t, "Resiliency", "greeter-calls", fixtures(t).App)
	if scopes := at(r.Map, "scopes"); r.Namespace() != "dapr-services" || fmt.Sprint(scopes) != "[comms]" {
		t.Errorf("Resiliency greeter-calls: namespace %q, scopes %v; want dapr-services, scoped to comms", r.Namespace(), scopes)
	}
}

func TestGravitonInstanceTypes(t *testing.T) {
	for typ, arm := range map[string]bool{
		"m6g.large": true, "m7gd.xlarge": true, "c6gn.2xlarge": true, "t4g.medium": true, "r8g.large": true, "im4gn.large": true,
		"m6i.large": false, "m5.large": false, "g4dn.xlarge": false, "inf2.xlarge": false, "c7a.large": false, "t3.medium": false,
	} {
		if graviton.MatchString(typ) != arm {
			t.Errorf("%s: Graviton %v, but recognised as %v", typ, arm, !arm)
		}
	}
}

func TestAppConfigReadsPlaceholdersAndEnvironmentOverrides(t *testing.T) {
	a := &AppConfig{Module: "comms-service", File: "application.yaml", props: map[string]any{
		"server":        map[string]any{"port": "${PORT:9000}"},
		"comms.greeter": map[string]any{"app-id": "greeter", "timeout": int64(1500)},
	}}
	withPort := &corev1.Container{Env: []corev1.EnvVar{{Name: "PORT", Value: "9100"}}}
	withServerPort := &corev1.Container{Env: append(withPort.Env, corev1.EnvVar{Name: "SERVER_PORT", Value: "9200"})}
	for _, c := range []struct {
		what, key string
		container *corev1.Container
		def, want string
	}{
		{"placeholder default", "server.port", nil, "8080", "9000"},
		{"placeholder from the container env", "server.port", withPort, "8080", "9100"},
		{"SERVER_PORT overrides server.port", "server.port", withServerPort, "8080", "9200"},
		{"flat-and-nested key", "comms.greeter.app-id", nil, "", "greeter"},
		{"absent property", "management.server.port", nil, "none", "none"},
	} {
		if got := a.Property(c.key, c.container, c.def); got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, got, c.want)
		}
	}
	for in, ms := range map[string]int64{a.Property("comms.greeter.timeout", nil, "2s"): 1500, "2s": 2000, "500ms": 500, "PT2S": 2000, "1m": 60000} {
		if d, err := ParseSpringDuration(in); err != nil || d.Milliseconds() != ms {
			t.Errorf("ParseSpringDuration(%q) = %v, %v; want %dms", in, d, err, ms)
		}
	}
}

// The README's port-forwards reach comms' Service and the dashboard as deployed; its kubeconfig hint names eksctl's cluster.
func TestReadmeCommandsReachTheDeployedServices(t *testing.T) {
	f := fixtures(t)
	readme, err := os.ReadFile(f.path("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	svc, cluster := mustFind(t, "Service", "comms-service", f.App), f.Cluster[0]
	for _, want := range []string{
		fmt.Sprintf("kubectl port-forward -n %s svc/%s 8080:%v", svc.Namespace(), svc.Name(), at(svc.Map, "spec", "ports", 0, "port")),
		fmt.Sprintf("kubectl port-forward -n %s svc/dapr-dashboard 9999:8080", daprSystemNamespace),
		fmt.Sprintf("aws eks update-kubeconfig --name %s --region %s", cluster.Name(), str(cluster.Map, "metadata", "region")),
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want) + `\b`).Match(readme) {
			t.Errorf("README.md does not say: %s", want)
		}
	}
	// Dapr CLI 1.18 removed it; the dashboard is reached by the port-forward above.
	if strings.Contains(string(readme), "dapr dashboard -k") {
		t.Error("README.md runs `dapr dashboard -k`, which Dapr CLI 1.18 no longer has")
	}
}
