package manifests

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The overlay scripts/install.sh writes over kubernetes/ (scripts/tests/install.bats checks it writes these lines).
const installOverlay = `images:
  - name: comms-service
    newName: registry.example.com/team/comms-service
    newTag: "1.2.3"
  - name: greeter-service
    newName: registry.example.com/team/greeter-service
    newTag: "1.2.3"
`
const installVersionLabel = `labels:
  - pairs:
      tags.datadoghq.com/version: "1.2.3"
    includeTemplates: true
`

// The repository's root: go test runs in kubernetes/tests.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// The schemas, loaded once per test binary: they come from modules that take a while.
var loadSchemas = sync.OnceValues(func() (*Schemas, error) {
	pins, err := loadVersions(repoRoot)
	if err != nil {
		return nil, err
	}
	return LoadSchemas(pins)
})

// render renders kubernetes/, under an overlay of the lines extra as scripts/install.sh writes one.
func render(t *testing.T, extra string) []Object {
	t.Helper()
	dir := filepath.Join(repoRoot, "kubernetes")
	if extra != "" {
		overlay := t.TempDir()
		rel, _ := filepath.Rel(overlay, dir) // kustomize takes relative paths only
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [" + rel + "]\n" + extra
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		dir = overlay
	}
	objs, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// load reads the repository afresh, kubernetes/ under an overlay of the lines extra: a bundle a test may break.
func load(t *testing.T, extra string) *Bundle {
	t.Helper()
	b, err := LoadBundle(repoRoot, render(t, extra))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// at returns the value at a path of keys and list indexes.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// setPath puts value at a path of keys and list indexes; nil deletes the key.
func setPath(v, value any, path ...any) {
	parent, last := at(v, path[:len(path)-1]...), path[len(path)-1]
	if i, ok := last.(int); ok {
		parent.([]any)[i] = value
	} else if value == nil {
		delete(parent.(map[string]any), last.(string))
	} else {
		parent.(map[string]any)[last.(string)] = value
	}
}

// find returns the manifest of that kind and name.
func find(t *testing.T, objs []Object, kind, name string) map[string]any {
	if i := slices.IndexFunc(objs, func(o Object) bool { return o.ID() == kind+"/"+name }); i >= 0 {
		return objs[i].Map
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// A breaker breaks one thing in a copy of the bundle.
type breaker func(t *testing.T, b *Bundle)

// set puts value (nil deletes) at path in the object kind/name of the bundle.
func set(kind, name string, value any, path ...any) breaker {
	return func(t *testing.T, b *Bundle) {
		setPath(find(t, append([]Object{b.Datadog, b.Storage, b.Cluster}, b.App...), kind, name), value, path...)
	}
}

// env sets a literal env var of a Deployment's app container, at the end ("" deletes it).
func env(dep, name, value string) breaker {
	return func(t *testing.T, b *Bundle) {
		c := at(find(t, b.App, "Deployment", dep), "spec", "template", "spec", "containers", 0).(map[string]any)
		c["env"] = slices.DeleteFunc(c["env"].([]any), func(v any) bool { return at(v, "name") == name })
		if value != "" {
			c["env"] = append(c["env"].([]any), map[string]any{"name": name, "value": value})
		}
	}
}

func addon(name string, value any, path ...any) breaker {
	return func(t *testing.T, b *Bundle) {
		for _, a := range at(b.Cluster.Map, "addons").([]any) {
			if at(a, "name") == name {
				setPath(a, value, path...)
			}
		}
	}
}

// api sets value (nil deletes) at path in a file sent to Datadog's API.
func api(file string, value any, path ...any) breaker {
	return func(t *testing.T, b *Bundle) { setPath(b.DatadogAPI[file], value, path...) }
}

func ddot(value any, path ...any) breaker {
	return set("DatadogAgent", "datadog", value, append([]any{"spec", "features", "otelCollector"}, path...)...)
}

// expectCaught wants check to pass on the repository and to report want once breakIt broke it.
func expectCaught(t *testing.T, check Check, want string, breakIt breaker) {
	t.Helper()
	b := load(t, "")
	if errs := check(b); len(errs) != 0 {
		t.Fatalf("the check fails on the unbroken repository: %v", errs)
	}
	breakIt(t, b)
	errs := check(b)
	if len(errs) == 0 {
		t.Fatalf("not caught: want an error about %q", want)
	}
	t.Logf("caught: %v", errs)
	if !strings.Contains(errors.Join(errs...).Error(), want) {
		t.Errorf("the errors do not mention %q: %v", want, errs)
	}
}

// Every check passes under scripts/install.sh's overlay too (expectCaught checks each on kubernetes/ alone).
func TestChecksPassUnderTheInstallOverlay(t *testing.T) {
	b := load(t, installOverlay+installVersionLabel)
	for _, n := range slices.Sorted(maps.Keys(Checks)) {
		t.Run(n, func(t *testing.T) {
			for _, err := range Checks[n](b) {
				t.Error(err)
			}
		})
	}
}

// Each check catches each broken copy (each case: a mistake it exists for).
func TestChecksCatchBrokenCopies(t *testing.T) {
	for _, c := range []struct {
		name    string
		check   Check
		want    string
		breakIt breaker
	}{
		{"OTLPEndpointInWrongNamespace", CheckSidecarOTLPEndpoint, "node-local Service", set("Configuration", "dapr-config", "datadog-agent.datadog.svc.cluster.local:4318", "spec", "tracing", "otel", "endpointAddress")},
		// The Operator names its Service after the DatadogAgent: the Configuration must follow a rename.
		{"RenamedDatadogAgent", CheckSidecarOTLPEndpoint, "dd-agent", set("DatadogAgent", "datadog", "dd", "metadata", "name")},
		{"AgentWithoutOTLP", CheckSidecarOTLPEndpoint, "takes no OTLP traces", ddot(false, "enabled")},
		{"AgentWithoutAPM", CheckSidecarOTLPEndpoint, "takes no OTLP traces", set("DatadogAgent", "datadog", false, "spec", "features", "apm", "enabled")},
		{"CollectorOnAnotherPort", CheckSidecarOTLPEndpoint, "not on the otel-http port 4318", ddot("receivers: {otlp: {protocols: {http: {endpoint: 0.0.0.0:4319}}}}", "conf", "configData")},
		{"AppTracesOnWrongPort", CheckAppOTLPEndpoint, "EXPORT_OTLP_ENDPOINT", env("greeter", "MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT", "http://$(HOST_IP):4317/v1/traces")},
		{"AppMetricsOnAnotherHost", CheckAppOTLPEndpoint, "METRICS_EXPORT_URL", env("comms", "MANAGEMENT_OTLP_METRICS_EXPORT_URL", "http://localhost:4318/v1/metrics")},
		{"AgentWithoutHostPort", CheckAppOTLPEndpoint, "host port", ddot(false, "enabled")},
		{"HostIPNotFromDownwardAPI", CheckAppOTLPEndpoint, "status.hostIP", env("comms", "HOST_IP", "127.0.0.1")},
		{"VersionTagBehindImageTag", CheckUnifiedServiceTags, "image tag", set("Deployment", "greeter", "greeter-service:0.2.0", "spec", "template", "spec", "containers", 0, "image")},
		// Without the version label of scripts/install.sh's overlay, Datadog would file a release under 0.1.0.
		{"InstallOverlayWithoutVersionLabel", CheckUnifiedServiceTags, `image tag is "1.2.3"`, func(t *testing.T, b *Bundle) { b.App = render(t, installOverlay) }},
		{"DDEnvNotFromLabel", CheckUnifiedServiceTags, "DD_ENV", env("comms", "DD_ENV", "prod")},
		{"PodLabelDifferent", CheckUnifiedServiceTags, "tags.datadoghq.com/env", set("Deployment", "greeter", "prod", "spec", "template", "metadata", "labels", "tags.datadoghq.com/env")},
		{"GracePeriodShorterThanShutdown", CheckShutdownBudget, "terminationGracePeriodSeconds", set("Deployment", "comms", int64(20), "spec", "template", "spec", "terminationGracePeriodSeconds")},
		{"SpringShutdownLongerThanGracePeriod", CheckShutdownBudget, "the app needs up to", func(t *testing.T, b *Bundle) {
			setPath(b.Props["greeter-service"], "60s", "spring", "lifecycle", "timeout-per-shutdown-phase")
		}},
		{"SidecarBlockingPastGracePeriod", CheckShutdownBudget, "the sidecar may take", set("Deployment", "greeter", "55s", "spec", "template", "metadata", "annotations", "dapr.io/block-shutdown-duration")},
		{"ResiliencyLongerThanCommsTimeout", CheckResiliencyBudget, "comms.greeter.timeout", set("Resiliency", "greeter-calls", "900ms", "spec", "policies", "timeouts", "greeterAttempt")},
		{"RetryWithoutMaxRetries", CheckResiliencyBudget, "retries forever", set("Resiliency", "greeter-calls", nil, "spec", "policies", "retries", "greeterRetry", "maxRetries")},
		{"UndefinedPolicy", CheckResiliencyBudget, "not defined", set("Resiliency", "greeter-calls", "greeterRetries", "spec", "targets", "apps", "greeter", "retry")},
		{"ResiliencyScopedToAnotherApp", CheckResiliencyBudget, "no Resiliency policy covers", set("Resiliency", "greeter-calls", []any{"greeter"}, "scopes")},
		{"InvocationOnWrongDaprPort", CheckNetworkPolicies, "lets comms into the pods of greeter on port 50001", set("NetworkPolicy", "greeter-from-comms-sidecar", int64(50001), "spec", "ingress", 0, "ports", 0, "port")},
		// The dashboard reads the sidecar's public port; the HTTP API port listens on loopback.
		{"DashboardOnTheHTTPAPIPort", CheckNetworkPolicies, "no NetworkPolicy lets the Dapr dashboard into the pods of comms on port 3501", set("NetworkPolicy", "sidecars-from-dapr-dashboard", int64(3500), "spec", "ingress", 0, "ports", 0, "port")},
		{"DashboardRuleForAllOfDaprSystem", CheckNetworkPolicies, "of the namespaces kubernetes.io/metadata.name=dapr-system", set("NetworkPolicy", "sidecars-from-dapr-dashboard", nil, "spec", "ingress", 0, "from", 0, "podSelector")},
		{"InvocationPortOpenToANonCaller", CheckNetworkPolicies, "lets greeter into the pods of comms on port 50002", func(t *testing.T, b *Bundle) {
			set("NetworkPolicy", "greeter-from-comms-sidecar", "comms", "spec", "podSelector", "matchLabels", "app.kubernetes.io/name")(t, b)
			set("NetworkPolicy", "greeter-from-comms-sidecar", "greeter", "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "app.kubernetes.io/name")(t, b)
		}},
		{"RuleWithoutPorts", CheckNetworkPolicies, "on port every port", set("NetworkPolicy", "greeter-from-comms-sidecar", nil, "spec", "ingress", 0, "ports")},
		{"MissingDefaultDeny", CheckNetworkPolicies, "no default-deny", set("NetworkPolicy", "default-deny-ingress", []any{"Egress"}, "spec", "policyTypes")},
		{"InvocationNotLetIn", CheckNetworkPolicies, "lets comms into the pods of greeter on port 50002", set("NetworkPolicy", "greeter-from-comms-sidecar", []any{}, "spec", "ingress")},
		{"AgentScrapeOnAnotherPort", CheckNetworkPolicies, "the Datadog Agent into the pods of greeter on port 9090", set("NetworkPolicy", "sidecar-metrics-from-datadog-agent", int64(9091), "spec", "ingress", 0, "ports", 0, "port")},
		{"AgentInAnotherNamespace", CheckNetworkPolicies, "the Datadog Agent into the pods of comms", set("DatadogAgent", "datadog", "datadog", "metadata", "namespace")},
		{"NetworkPoliciesNotEnforced", CheckNetworkPolicies, "enableNetworkPolicy", addon("vpc-cni", nil, "configurationValues")},
		{"AgentClusterNameMismatch", CheckDatadogAgent, "clusterName", set("ClusterConfig", "dapr-demo", "dapr-demo-2", "metadata", "name")},
		{"APIKeyInTheFile", CheckDatadogAgent, "key is written in the file", set("DatadogAgent", "datadog", "0123456789abcdef", "spec", "global", "credentials", "apiKey")},
		{"APIKeyFromAnotherSecret", CheckDatadogAgent, "Secret datadog-secret", set("DatadogAgent", "datadog", "datadog-keys", "spec", "global", "credentials", "apiSecret", "secretName")},
		{"AgentEnvDifferentFromApps", CheckDatadogAgent, "two environments", set("DatadogAgent", "datadog", "staging", "spec", "global", "env", 0, "value")},
		{"X86NodeGroup", CheckNodeGroupsArm64, "m6i.large", set("ClusterConfig", "dapr-demo", "m6i.large", "managedNodeGroups", 0, "instanceType")},
		{"NoInstanceType", CheckNodeGroupsArm64, "no instance type", set("ClusterConfig", "dapr-demo", nil, "managedNodeGroups", 0, "instanceType")},
		{"NotTheDefaultClass", CheckEBSStorage, "not the default", set("StorageClass", "gp3", "false", "metadata", "annotations", "storageclass.kubernetes.io/is-default-class")},
		{"ImmediateBinding", CheckEBSStorage, "WaitForFirstConsumer", set("StorageClass", "gp3", "Immediate", "volumeBindingMode")},
		{"StorageClassInKubernetes", CheckEBSStorage, "applies a StorageClass", func(t *testing.T, b *Bundle) { b.App = append(b.App, b.Storage) }},
		{"EBSCSIDriverWithoutIAM", CheckEBSStorage, "no IAM permissions", addon("aws-ebs-csi-driver", nil, "wellKnownPolicies")},
		{"IRSAWithoutOIDC", CheckEBSStorage, "withOIDC", set("ClusterConfig", "dapr-demo", false, "iam", "withOIDC")},
		{"MissingEBSCSIDriver", CheckEBSStorage, "no aws-ebs-csi-driver addon", addon("aws-ebs-csi-driver", "aws-ebs-csi", "name")},
		{"EKSOnAnotherMinor", CheckKubernetesVersion, `metadata.version "1.34"`, set("ClusterConfig", "dapr-demo", "1.34", "metadata", "version")},
		{"LocalClusterOnAnotherMinor", CheckKubernetesVersion, "the local cluster runs 1.34", func(t *testing.T, b *Bundle) { b.Versions["KUBERNETES_SCHEMA_VERSION"] = "1.34.2" }},
		{"UnknownFieldInTheDatadogAgent", schemasOf, "conff", ddot(map[string]any{}, "conff")},
		{"WrongTypeInTheDatadogAgent", schemasOf, "enabled", set("DatadogAgent", "datadog", "yes", "spec", "features", "apm", "enabled")},
		{"InvalidLabelOnTheDatadogAgent", schemasOf, "metadata.labels", set("DatadogAgent", "datadog", "not a value!", "metadata", "labels", "app.kubernetes.io/name")},
		{"DatadogAgentWithoutNamespace", schemasOf, "metadata.namespace", set("DatadogAgent", "datadog", nil, "metadata", "namespace")},
		{"UnknownFieldInTheClusterConfig", schemasOf, "instanceTyp", set("ClusterConfig", "dapr-demo", "m6g.large", "managedNodeGroups", 0, "instanceTyp")},
		{"WrongTypeInTheClusterConfig", schemasOf, "minSize", set("ClusterConfig", "dapr-demo", "two", "managedNodeGroups", 0, "minSize")},
		{"UnknownFieldInTheStorageClass", schemasOf, "provisoner", set("StorageClass", "gp3", "ebs.csi.aws.com", "provisoner")},
		{"WrongTypeInTheStorageClass", schemasOf, "allowVolumeExpansion", set("StorageClass", "gp3", "yes", "allowVolumeExpansion")},
		{"NamespacedStorageClass", schemasOf, "namespace", set("StorageClass", "gp3", "default", "metadata", "namespace")},
		{"UnknownKind", schemasOf, "no schema here", set("StorageClass", "gp3", "StorageClas", "kind")},
		{"UnknownKeyInTheDashboard", datadogAPIBodies, `unknown key(s) ["template_variable"] of Dashboard`, api(dashboardFile, []any{}, "template_variable")},
		{"BadWidgetType", datadogAPIBodies, "widgets[0].definition.widgets[0].definition: not a valid WidgetDefinition", api(dashboardFile, "timeserie", "widgets", 0, "definition", "widgets", 0, "definition", "type")},
		{"UnknownMonitorOption", datadogAPIBodies, `options: unknown key(s) ["notify_nodata"] of MonitorOptions`, api(monitorFile, true, "options", "notify_nodata")},
		{"BadMonitorType", datadogAPIBodies, "(top): not a valid Monitor", api(monitorFile, "metric alrt", "type")},
		{"MonitorWithoutQuery", datadogAPIBodies, "required field query missing", api(monitorFile, nil, "query")},
		{"QueriedMetricNotListed", queriedMetrics, "is not the list", func(t *testing.T, b *Bundle) {
			b.QueriedMetrics = strings.Replace(b.QueriedMetrics, "comms.greeter.fallbacks\n", "", 1)
		}},
		{"MonitorQueryChanged", queriedMetrics, "\nother.metric\n", api(monitorFile, "avg(last_5m):avg:other.metric{*} > 1", "query")},
		{"MonitorQueryNotUnderstood", queriedMetrics, "no metric found", api(monitorFile, "avg(last_5m):other.metric{*} > 1", "query")},
	} {
		t.Run(c.name, func(t *testing.T) { expectCaught(t, c.check, c.want, c.breakIt) })
	}
}

// schemasOf validates what the local cluster never applies against its upstream schema.
func schemasOf(b *Bundle) []error {
	s, err := loadSchemas()
	if err != nil {
		return []error{err}
	}
	return s.Validate(b.Datadog, b.Storage, b.Cluster)
}
