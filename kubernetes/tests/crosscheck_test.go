package manifests

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Every cross-check passes on the repository as it is, with and without the components (the
// collector component moves the OTLP endpoints off the Agent: collector_test.go checks it).
func TestCrossChecksPassOnTheRepository(t *testing.T) {
	names := make([]string, 0, len(Checks))
	for n := range Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	bundles := map[string]*Bundle{"kubernetes/": baseBundle(t), "kubernetes/ with all components": bundleWithComponents(t, componentsExcept(t, collectorComponent)...)}
	for label, b := range bundles {
		for _, n := range names {
			t.Run(label+"/"+n, func(t *testing.T) { requireNoErrors(t, n, Checks[n](b)) })
		}
	}
}

// expectCaught runs check on a copy of b broken by breakIt, and wants an error naming want.
func expectCaught(t *testing.T, b *Bundle, check Check, want string, breakIt func(b *Bundle)) {
	t.Helper()
	if errs := check(b); len(errs) != 0 {
		t.Fatalf("the check fails on the unbroken repository: %v", errs)
	}
	broken := b.Copy()
	breakIt(broken)
	errs := check(broken)
	if len(errs) == 0 {
		t.Fatalf("the check did not notice")
	}
	t.Logf("caught: %v", errs)
	if !strings.Contains(errors.Join(errs...).Error(), want) {
		t.Errorf("the errors do not mention %q: %v", want, errs)
	}
}

func podAnnotations(t *testing.T, b *Bundle, deployment string) map[string]any {
	t.Helper()
	return mapAt(mustFind(t, b.App, "Deployment", deployment).Map, "spec", "template", "metadata", "annotations")
}

func appContainer(t *testing.T, b *Bundle, deployment string) map[string]any {
	t.Helper()
	return mapAt(mustFind(t, b.App, "Deployment", deployment).Map, "spec", "template", "spec", "containers", 0)
}

// setEnv sets (or adds) a literal env var of a deployment's app container.
func setEnv(t *testing.T, b *Bundle, deployment, name, value string) {
	t.Helper()
	c := appContainer(t, b, deployment)
	env := listAt(c, "env")
	for _, e := range env {
		if str(e, "name") == name {
			Set(e, value, "value")
			Set(e, nil, "valueFrom")
			return
		}
	}
	Set(c, append(env, map[string]any{"name": name, "value": value}), "env")
}

func TestCrossCheckCatchesWrongAppPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppPorts, "dapr.io/app-port", func(b *Bundle) {
		podAnnotations(t, b, "greeter")["dapr.io/app-port"] = "8081"
	})
}

func TestCrossCheckCatchesServerPortChangedInApplicationYaml(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppPorts, "server.port 9090", func(b *Bundle) {
		b.Apps["greeter-service"].SetProperty("server.port", 9090)
	})
}

func TestCrossCheckCatchesServerPortOverriddenByEnv(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppPorts, "server.port 8081", func(b *Bundle) {
		setEnv(t, b, "comms", "SERVER_PORT", "8081")
	})
}

func TestCrossCheckCatchesServiceTargetingAnotherPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppPorts, "greeter-service", func(b *Bundle) {
		Set(mustFind(t, b.App, "Service", "greeter-service").Map, "metrics", "spec", "ports", 0, "targetPort")
	})
}

func TestCrossCheckCatchesMissingDaprConfig(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprConfigExists, `"tracing-config"`, func(b *Bundle) {
		podAnnotations(t, b, "comms")["dapr.io/config"] = "tracing-config"
	})
}

func TestCrossCheckCatchesDaprConfigInAnotherNamespace(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprConfigExists, "dapr-config", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "default", "metadata", "namespace")
	})
}

func TestCommsInvokesGreetersAppID(t *testing.T) {
	b := baseBundle(t)
	requireNoErrors(t, "app id", CheckInvokedAppID(b))
	if len(b.Deployments()) != 2 {
		t.Fatalf("want the comms and greeter Deployments, got %d", len(b.Deployments()))
	}
}

func TestCrossCheckCatchesWrongGreeterAppID(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckInvokedAppID, `"greeter-svc"`, func(b *Bundle) {
		setEnv(t, b, "comms", "COMMS_GREETER_APPID", "greeter-svc")
	})
}

func TestCrossCheckCatchesRenamedGreeterAppID(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckInvokedAppID, `"greeter"`, func(b *Bundle) {
		podAnnotations(t, b, "greeter")["dapr.io/app-id"] = "hello"
	})
}

func TestCrossCheckCatchesProbeOnUnservedPath(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckProbePaths, "/actuator/health/live", func(b *Bundle) {
		Set(appContainer(t, b, "comms"), "/actuator/health/live", "livenessProbe", "httpGet", "path")
	})
}

func TestCrossCheckCatchesLivenessProbeOnReadiness(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckProbePaths, "liveness probe calls /actuator/health/readiness", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), "/actuator/health/readiness", "livenessProbe", "httpGet", "path")
	})
}

func TestCrossCheckCatchesHealthPathDroppedFromApplicationYaml(t *testing.T) {
	b := baseBundle(t)
	Set(appContainer(t, b, "greeter"), "/health", "readinessProbe", "httpGet", "path")
	if b.Apps["greeter-service"].File == "" {
		t.Skip("greeter-service has no application.yaml yet")
	}
	expectCaught(t, b, CheckProbePaths, "/health", func(b *Bundle) {
		b.Apps["greeter-service"].SetProperty("management.endpoint.health.group.readiness.additional-path", nil)
	})
}

func TestCrossCheckCatchesDaprHealthCheckOnUnservedPath(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckProbePaths, "app-health-check-path", func(b *Bundle) {
		podAnnotations(t, b, "comms")["dapr.io/app-health-check-path"] = "/healthz"
	})
}

func TestSidecarsExportToTheDatadogAgentsNodeLocalService(t *testing.T) {
	b := baseBundle(t)
	requireNoErrors(t, "sidecar otlp", CheckSidecarOTLPEndpoint(b))
	svc, err := b.agentService()
	if err != nil {
		t.Fatal(err)
	}
	if svc.name != "datadog-agent" || svc.namespace != "datadog-operator" || svc.httpPort != 4318 {
		t.Errorf("derived the Agent Service %s/%s:%d, want datadog-operator/datadog-agent:4318", svc.namespace, svc.name, svc.httpPort)
	}
}

func TestCrossCheckCatchesOTLPEndpointInWrongNamespace(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "node-local Service", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "datadog-agent.datadog.svc.cluster.local:4318", "spec", "tracing", "otel", "endpointAddress")
	})
}

func TestCrossCheckCatchesOTLPEndpointOnGRPCPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "port 4317", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "datadog-agent.datadog-operator.svc.cluster.local:4317", "spec", "tracing", "otel", "endpointAddress")
	})
}

func TestCrossCheckCatchesOTLPEndpointWrittenAsURL(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "host:port", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "http://datadog-agent.datadog-operator.svc.cluster.local:4318", "spec", "tracing", "otel", "endpointAddress")
	})
}

func TestCrossCheckCatchesOTLPOverGRPCProtocol(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "otel.protocol", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "grpc", "spec", "tracing", "otel", "protocol")
	})
}

// Renaming the DatadogAgent renames the Service the Operator creates: the Configuration must follow.
func TestCrossCheckCatchesRenamedDatadogAgent(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "dd-agent", func(b *Bundle) {
		Set(b.Datadog[0].Map, "dd", "metadata", "name")
	})
}

func TestCrossCheckCatchesAgentWithoutOTLPHTTP(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSidecarOTLPEndpoint, "OTLP/HTTP", func(b *Bundle) {
		Set(b.Datadog[0].Map, false, "spec", "features", "otlp", "receiver", "protocols", "http", "enabled")
	})
}

func TestCrossCheckCatchesAppOTLPEndpointOnWrongPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppOTLPEndpoint, "port 4317", func(b *Bundle) {
		setEnv(t, b, "greeter", "MANAGEMENT_OTLP_TRACING_ENDPOINT", "http://$(HOST_IP):4317/v1/traces")
	})
}

func TestCrossCheckCatchesAgentWithoutHostPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppOTLPEndpoint, "no OTLP/HTTP host port", func(b *Bundle) {
		Set(b.Datadog[0].Map, false, "spec", "features", "otlp", "receiver", "protocols", "http", "hostPortConfig", "enabled")
	})
}

func TestCrossCheckCatchesHostIPNotFromDownwardAPI(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAppOTLPEndpoint, "status.hostIP", func(b *Bundle) {
		setEnv(t, b, "comms", "HOST_IP", "127.0.0.1")
	})
}

func TestCrossCheckCatchesContainerWithoutMemoryLimit(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "no memory limit", func(b *Bundle) {
		Set(appContainer(t, b, "comms"), nil, "resources", "limits")
	})
}

func TestCrossCheckCatchesContainerWithoutRequests(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "no cpu request", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), nil, "resources", "requests", "cpu")
	})
}

func TestCrossCheckCatchesWritableRootFilesystem(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "readOnlyRootFilesystem", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), false, "securityContext", "readOnlyRootFilesystem")
	})
}

func TestCrossCheckCatchesCapabilitiesNotDropped(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "drop ALL", func(b *Bundle) {
		Set(appContainer(t, b, "comms"), nil, "securityContext", "capabilities")
	})
}

func TestCrossCheckCatchesPrivilegeEscalation(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "allowPrivilegeEscalation", func(b *Bundle) {
		Set(appContainer(t, b, "comms"), true, "securityContext", "allowPrivilegeEscalation")
	})
}

func TestCrossCheckCatchesMountedAPIToken(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "automountServiceAccountToken", func(b *Bundle) {
		Set(mustFind(t, b.App, "Deployment", "greeter").Map, nil, "spec", "template", "spec", "automountServiceAccountToken")
	})
}

func TestCrossCheckCatchesUnsizedDaprSidecar(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckContainerHardening, "sidecar-memory-limit", func(b *Bundle) {
		delete(podAnnotations(t, b, "greeter"), "dapr.io/sidecar-memory-limit")
	})
}

func TestImagesArePinnedToATag(t *testing.T) {
	b := baseBundle(t)
	requireNoErrors(t, "images", CheckImagesPinned(b))
	for _, d := range b.Deployments() {
		if name := imageName(d.AppContainer().Image); name != d.Name+"-service" {
			t.Errorf("deployment %s: image %q, want the %s-service image that scripts/deploy.sh overrides", d.Name, d.AppContainer().Image, d.Name)
		}
	}
}

func TestCrossCheckCatchesLatestImage(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckImagesPinned, "not pinned", func(b *Bundle) {
		Set(appContainer(t, b, "comms"), "registry.example/comms-service:latest", "image")
	})
}

func TestCrossCheckCatchesUntaggedImage(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckImagesPinned, "no tag", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), "registry.example:5000/greeter-service", "image")
	})
}

func TestCrossCheckCatchesServiceTagDifferentFromAppID(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckUnifiedServiceTags, "two services", func(b *Bundle) {
		for _, p := range [][]any{{"metadata", "labels"}, {"spec", "template", "metadata", "labels"}} {
			Set(mustFind(t, b.App, "Deployment", "comms").Map, "comms-svc", append(p, "tags.datadoghq.com/service")...)
		}
	})
}

func TestCrossCheckCatchesVersionTagBehindImageTag(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckUnifiedServiceTags, "image tag", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), "greeter-service:0.2.0", "image")
	})
}

func TestCrossCheckCatchesDDEnvNotFromLabel(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckUnifiedServiceTags, "DD_ENV", func(b *Bundle) {
		setEnv(t, b, "comms", "DD_ENV", "prod")
	})
}

func TestCrossCheckCatchesEnvReferenceToLaterVariable(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckEnvReferences, "$(HOST_IP)", func(b *Bundle) {
		c := appContainer(t, b, "comms")
		env := listAt(c, "env")
		Set(c, append(env[1:], env[0]), "env") // HOST_IP moves to the end
	})
}

func TestEveryObjectHasTheRecommendedLabels(t *testing.T) {
	requireNoErrors(t, "labels", CheckRecommendedLabels(baseBundle(t)))
	requireNoErrors(t, "labels", CheckRecommendedLabels(bundleWithComponents(t, componentDirs(t)...)))
}

func TestCrossCheckCatchesObjectWithoutRecommendedLabels(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckRecommendedLabels, "app.kubernetes.io/name", func(b *Bundle) {
		delete(mapAt(mustFind(t, b.App, "Configuration", "dapr-config").Map, "metadata", "labels"), "app.kubernetes.io/name")
	})
}

func TestCrossCheckCatchesServiceSelectingNothing(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSelectors, "service comms-service", func(b *Bundle) {
		Set(mustFind(t, b.App, "Service", "comms-service").Map, "comm", "spec", "selector", "app.kubernetes.io/name")
	})
}

func TestCrossCheckCatchesDisruptionBudgetOnSingleReplica(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckSelectors, "1 replica", func(b *Bundle) {
		Set(mustFind(t, b.App, "Deployment", "greeter").Map, int64(1), "spec", "replicas")
	})
}

func TestCrossCheckCatchesGracePeriodShorterThanShutdown(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckShutdownBudget, "terminationGracePeriodSeconds", func(b *Bundle) {
		Set(mustFind(t, b.App, "Deployment", "comms").Map, int64(20), "spec", "template", "spec", "terminationGracePeriodSeconds")
	})
}

func TestCrossCheckCatchesSpringShutdownLongerThanGracePeriod(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckShutdownBudget, "timeout-per-shutdown-phase", func(b *Bundle) {
		b.Apps["greeter-service"].SetProperty("spring.lifecycle.timeout-per-shutdown-phase", "60s")
	})
}

// scripts/deploy.sh applies kubernetes/ (through its image overlay): the policy must be part of it.
func TestKubernetesAppliesTheResiliencyComponent(t *testing.T) {
	if !slices.Contains(appliedComponents(t), "components/resiliency") {
		t.Fatalf("kubernetes/kustomization.yaml does not list components/resiliency: %v", appliedComponents(t))
	}
	r := Find(baseBundle(t).App, "Resiliency", "greeter-calls")
	if r == nil {
		t.Fatal("kubectl apply -k kubernetes/ applies no Resiliency greeter-calls")
	}
	if r.Namespace() != "dapr-services" || !slices.Contains(listAt(r.Map, "scopes"), any("comms")) {
		t.Errorf("Resiliency greeter-calls: namespace %q, scopes %v; want dapr-services, scoped to comms", r.Namespace(), listAt(r.Map, "scopes"))
	}
}

func TestCrossCheckCatchesResiliencyLongerThanCommsTimeout(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckResiliencyBudget, "comms.greeter.timeout", func(b *Bundle) {
		Set(mustFind(t, b.App, "Resiliency", "greeter-calls").Map, "900ms", "spec", "policies", "timeouts", "greeterAttempt")
	})
}

func TestCrossCheckCatchesResiliencyWithUndefinedPolicy(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckResiliencyBudget, "not defined", func(b *Bundle) {
		Set(mustFind(t, b.App, "Resiliency", "greeter-calls").Map, "greeterRetries", "spec", "targets", "apps", "greeter", "retry")
	})
}

func TestCrossCheckCatchesNetworkPolicyOnWrongDaprPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "port 50001", func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "greeter-from-comms-sidecar").Map, int64(50001), "spec", "ingress", 0, "ports", 0, "port")
	})
}

// The dashboard reads the sidecar's public port; the HTTP API port is loopback-only, so a rule for
// it would leave the dashboard blind. The port the check wants is the injector's own default.
func TestCrossCheckCatchesDashboardRuleOnTheHTTPAPIPort(t *testing.T) {
	b := baseBundle(t)
	_, cfg, err := b.Inj.Inject(b.Deployments()[0])
	if err != nil {
		t.Fatal(err)
	}
	expectCaught(t, b, CheckNetworkPolicies, fmt.Sprintf("public port, port %d", cfg.SidecarPublicPort), func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "sidecars-from-dapr-dashboard").Map, int64(cfg.SidecarHTTPPort), "spec", "ingress", 0, "ports", 0, "port")
	})
}

func TestCrossCheckCatchesDashboardRuleForAllOfDaprSystem(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "other than the Dapr dashboard", func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "sidecars-from-dapr-dashboard").Map, nil, "spec", "ingress", 0, "from", 0, "podSelector")
	})
}

func TestCrossCheckCatchesInvocationPortOpenToANonCaller(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "greeter does not invoke comms", func(b *Bundle) {
		np := mustFind(t, b.App, "NetworkPolicy", "greeter-from-comms-sidecar").Map
		Set(np, "comms", "spec", "podSelector", "matchLabels", "app.kubernetes.io/name")
		Set(np, "greeter", "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/name")
	})
}

func TestCrossCheckCatchesMissingDefaultDeny(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "no default-deny", func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "default-deny-ingress").Map, "Egress", "spec", "policyTypes", 0)
	})
}

func TestCrossCheckCatchesInvocationNotLetIn(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "comms's pods reach greeter's sidecar", func(b *Bundle) {
		var keep []Object
		for _, o := range b.App {
			if o.Name() != "greeter-from-comms-sidecar" {
				keep = append(keep, o)
			}
		}
		b.App = keep
	})
}

func TestCrossCheckCatchesNetworkPoliciesWithoutCNIEnforcement(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "enableNetworkPolicy", func(b *Bundle) {
		for _, a := range listAt(b.Cluster[0].Map, "addons") {
			if str(a, "name") == "vpc-cni" {
				Set(a, nil, "configurationValues")
			}
		}
	})
}

func TestNodeGroupsAreArm64(t *testing.T) {
	requireNoErrors(t, "arm64", CheckNodeGroupsArm64(baseBundle(t)))
	for _, ok := range []string{"m6g.large", "m7gd.xlarge", "c6gn.2xlarge", "t4g.medium", "r8g.large", "im4gn.large"} {
		if !graviton.MatchString(ok) {
			t.Errorf("%s is Graviton but not recognised", ok)
		}
	}
	for _, no := range []string{"m6i.large", "m5.large", "g4dn.xlarge", "inf2.xlarge", "c7a.large", "t3.medium"} {
		if graviton.MatchString(no) {
			t.Errorf("%s is x86 but taken for Graviton", no)
		}
	}
}

func TestCrossCheckCatchesX86NodeGroup(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNodeGroupsArm64, "m6i.large", func(b *Bundle) {
		Set(b.Cluster[0].Map, "m6i.large", "managedNodeGroups", 0, "instanceType")
	})
}

func TestCrossCheckCatchesEBSCSIDriverWithoutIAM(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckEBSCSIDriver, "no IAM permissions", func(b *Bundle) {
		for _, a := range listAt(b.Cluster[0].Map, "addons") {
			if str(a, "name") == "aws-ebs-csi-driver" {
				Set(a, nil, "wellKnownPolicies")
			}
		}
	})
}

func TestCrossCheckCatchesIRSAWithoutOIDC(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckEBSCSIDriver, "withOIDC", func(b *Bundle) {
		Set(b.Cluster[0].Map, false, "iam", "withOIDC")
	})
}

func TestCrossCheckCatchesMissingEBSCSIDriver(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckEBSCSIDriver, "no aws-ebs-csi-driver addon", func(b *Bundle) {
		var keep []any
		for _, a := range listAt(b.Cluster[0].Map, "addons") {
			if str(a, "name") != "aws-ebs-csi-driver" {
				keep = append(keep, a)
			}
		}
		Set(b.Cluster[0].Map, keep, "addons")
	})
}

func TestCrossCheckCatchesAgentClusterNameMismatch(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogAgent, "clusterName", func(b *Bundle) {
		Set(b.Cluster[0].Map, "dapr-demo-2", "metadata", "name")
	})
}

func TestCrossCheckCatchesAPIKeyInTheFile(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogAgent, "key is written in the file", func(b *Bundle) {
		Set(b.Datadog[0].Map, "0123456789abcdef", "spec", "global", "credentials", "apiKey")
	})
}

func TestCrossCheckCatchesAgentEnvDifferentFromApps(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogAgent, "two environments", func(b *Bundle) {
		Set(listAt(b.Datadog[0].Map, "spec", "global", "env")[0], "staging", "value")
	})
}
