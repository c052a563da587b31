package manifests

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// A Check finds the mistakes of an agreement across files, one error each.
type Check func(b *Bundle) []error

// Checks are all the checks, by name.
var Checks = map[string]Check{
	"SidecarOTLPEndpointIsAgentLocal":  CheckSidecarOTLPEndpoint,
	"AppOTLPEndpointIsAgentHostPort":   CheckAppOTLPEndpoint,
	"UnifiedServiceTagsAreConsistent":  CheckUnifiedServiceTags,
	"ShutdownFitsGracePeriod":          CheckShutdownBudget,
	"ResiliencyFitsCallerTimeout":      CheckResiliencyBudget,
	"NetworkPoliciesOpenOnlyDaprPorts": CheckNetworkPolicies,
	"DatadogAgentMatchesClusterAndApp": CheckDatadogAgent,
	"NodeGroupsAreArm64":               CheckNodeGroupsArm64,
	"EBSVolumesCanBeMade":              CheckEBSStorage,
	"EKSRunsTheTestedKubernetes":       CheckKubernetesVersion,
}

// requirement is a rule, and the mistake it is when it does not hold.
type requirement struct {
	holds   bool
	mistake string
}

// unmet reports each requirement of where that does not hold.
func unmet(where string, rs ...requirement) []error {
	var errs []error
	for _, r := range rs {
		if !r.holds {
			errs = append(errs, fmt.Errorf("%s: %s", where, r.mistake))
		}
	}
	return errs
}

// datadogAgent is what the checks read of the DatadogAgent.
type datadogAgent struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		Global struct {
			ClusterName string
			Credentials struct {
				APIKey, AppKey string
				APISecret      struct{ SecretName, KeyName string }
			}
			LocalService struct{ NameOverride string }
			Env          []corev1.EnvVar
		}
		Features struct {
			APM           struct{ Enabled *bool }
			OtelCollector struct {
				Enabled bool
				Ports   []corev1.ContainerPort
				Conf    struct{ ConfigData string }
			}
		}
	}
}

func (b *Bundle) agent() (a datadogAgent)    { must(decode(b.Datadog.Map, &a)); return a }
func (b *Bundle) cluster() (c clusterConfig) { must(decode(b.Cluster.Map, &c)); return c }

// agentService: the Operator's node-local Service of the DatadogAgent, and its collector's OTLP/HTTP port, also a host port (0: no OTLP traces).
func (b *Bundle) agentService() (host string, port int, errs []error) {
	dda := b.agent()
	otel := dda.Spec.Features.OtelCollector
	host = cmp.Or(dda.Spec.Global.LocalService.NameOverride, dda.Metadata.Name+"-agent") + "." + dda.Metadata.Namespace + ".svc.cluster.local"
	if !ptr.Deref(dda.Spec.Features.APM.Enabled, true) || !otel.Enabled { // without APM (on by default) the Agent drops OTLP traces
		return host, 0, nil
	}
	port = 4318 // the Operator's default otel-http port
	for _, p := range otel.Ports {
		if p.Name == "otel-http" {
			port = int(p.ContainerPort)
		}
	}
	var conf map[string]any
	if err := yaml.Unmarshal([]byte(otel.Conf.ConfigData), &conf); err != nil {
		return host, port, []error{fmt.Errorf("DatadogAgent %s: otelCollector.conf.configData: %v", dda.Metadata.Name, err)}
	}
	endpoint, _, _ := unstructured.NestedString(conf, "receivers", "otlp", "protocols", "http", "endpoint")
	if _, p, _ := net.SplitHostPort(endpoint); p != strconv.Itoa(port) {
		errs = append(errs, fmt.Errorf("DatadogAgent %s: the collector's OTLP/HTTP receiver listens on %q, not on the otel-http port %d", dda.Metadata.Name, endpoint, port))
	}
	return host, port, errs
}

// CheckSidecarOTLPEndpoint: each Dapr Configuration exports to the Agent's node-local Service, on its OTLP/HTTP port.
func CheckSidecarOTLPEndpoint(b *Bundle) []error {
	host, port, errs := b.agentService()
	errs = append(errs, unmet("datadog/", requirement{port != 0, "the DatadogAgent takes no OTLP traces (otelCollector or APM off)"})...)
	for _, o := range b.App {
		if addr := o.field("spec", "tracing", "otel", "endpointAddress"); o.Kind() == "Configuration" && addr != net.JoinHostPort(host, strconv.Itoa(port)) {
			errs = append(errs, fmt.Errorf("%s: otel.endpointAddress %q is not the DatadogAgent's node-local Service %s:%d", o.ID(), addr, host, port))
		}
	}
	return errs
}

var hostIPEndpoint = regexp.MustCompile(`^http://\$\(([A-Z_][A-Z0-9_]*)\):([0-9]+)/v1/(traces|metrics)$`)

// CheckAppOTLPEndpoint: each app exports its spans and metrics to its node's IP (status.hostIP), on the Agent's OTLP/HTTP host port.
func CheckAppOTLPEndpoint(b *Bundle) []error {
	_, port, errs := b.agentService()
	for _, d := range b.Deployments() {
		for _, name := range []string{"MANAGEMENT_OPENTELEMETRY_TRACING_EXPORT_OTLP_ENDPOINT", "MANAGEMENT_OTLP_METRICS_EXPORT_URL"} {
			v := envVar(d.AppContainer(), name).Value
			if m := hostIPEndpoint.FindStringSubmatch(v); m == nil || fieldRef(d.AppContainer(), m[1]) != "status.hostIP" || m[2] != strconv.Itoa(port) {
				errs = append(errs, d.errorf("%s %q is not http://$(HOST_IP):%d/v1/..., HOST_IP from status.hostIP, the DatadogAgent's OTLP/HTTP host port", name, v, port))
			}
		}
	}
	return errs
}

// CheckUnifiedServiceTags: Datadog's env and version agree on the labels, the DD_* and OTel env and the image tag.
func CheckUnifiedServiceTags(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		c, pod := d.AppContainer(), d.Spec.Template.Labels
		var rs []requirement
		for _, k := range []string{"env", "service", "version"} {
			key := "tags.datadoghq.com/" + k
			rs = append(rs, requirement{pod[key] != "" && d.Labels[key] == pod[key], fmt.Sprintf("label %s is %q on the Deployment, %q on its pods", key, d.Labels[key], pod[key])},
				requirement{fieldRef(c, "DD_"+strings.ToUpper(k)) == "metadata.labels['"+key+"']", fmt.Sprintf("DD_%s is not read from the pod label %s", strings.ToUpper(k), key)})
		}
		_, tag := parseImage(c.Image)
		attrs := strings.Split(envVar(c, "OTEL_RESOURCE_ATTRIBUTES").Value, ",")
		errs = append(errs, unmet("deployment "+d.Name, append(rs,
			requirement{tag == "" || pod["tags.datadoghq.com/version"] == tag, fmt.Sprintf("tags.datadoghq.com/version %q but the image tag is %q", pod["tags.datadoghq.com/version"], tag)},
			requirement{slices.Contains(attrs, "deployment.environment.name=$(DD_ENV)") && slices.Contains(attrs, "service.version=$(DD_VERSION)"),
				fmt.Sprintf("OTEL_RESOURCE_ATTRIBUTES %q lacks deployment.environment.name=$(DD_ENV) or service.version=$(DD_VERSION)", attrs)})...)...)
	}
	return errs
}

// CheckShutdownBudget: the app (preStop, comms' drain, Spring's shutdown) and its sidecar stop within the grace period.
func CheckShutdownBudget(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		grace := time.Duration(ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
		var app time.Duration
		if l := d.AppContainer().Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
			app = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
		}
		phase, err1 := springDuration(b.property(d, "spring.lifecycle.timeout-per-shutdown-phase", "30s"))
		drain, err2 := springDuration(b.property(d, "comms.shutdown.drain", "0s")) // a shutdown phase of its own
		sidecar, err3 := time.ParseDuration(cmp.Or(d.Annotation("dapr.io/graceful-shutdown-seconds"), "5") + "s")
		block, err4 := time.ParseDuration(cmp.Or(d.Annotation("dapr.io/block-shutdown-duration"), "0s"))
		app += min(drain, phase) + phase
		errs = append(errs, unmet("deployment "+d.Name,
			requirement{errors.Join(err1, err2, err3, err4) == nil, fmt.Sprintf("a duration does not parse: %v", errors.Join(err1, err2, err3, err4))},
			requirement{app < grace, fmt.Sprintf("the app needs up to %s to stop (preStop, comms.shutdown.drain, spring.lifecycle.timeout-per-shutdown-phase) but terminationGracePeriodSeconds is %s", app, grace)},
			requirement{!d.DaprEnabled() || sidecar+block < grace, fmt.Sprintf("the sidecar may take %s to stop (block-shutdown-duration + graceful-shutdown-seconds) but terminationGracePeriodSeconds is %s", sidecar+block, grace)})...)
	}
	return errs
}

// resiliency is what the checks read of a Dapr Resiliency.
type resiliency struct {
	Metadata struct{ Name string }
	Scopes   []string
	Spec     struct {
		Policies struct {
			Timeouts map[string]string
			Retries  map[string]struct {
				Duration, MaxInterval string
				MaxRetries            *int
			}
			CircuitBreakers map[string]any
		}
		Targets struct {
			Apps map[string]struct{ Timeout, Retry, CircuitBreaker string }
		}
	}
}

// CheckResiliencyBudget: comms' sidecar gives up on greeter (attempts, timeouts, backoffs) before comms.greeter.timeout, so the fallback answers.
func CheckResiliencyBudget(b *Bundle) []error {
	comms, ok := b.comms()
	bound, err := springDuration(b.property(comms, "comms.greeter.timeout", "2s"))
	target := b.property(comms, "comms.greeter.app-id", "greeter")
	errs := unmet("deployment comms", requirement{ok && err == nil, fmt.Sprintf("missing, or its comms.greeter.timeout does not parse (%v)", err)})
	covered := false
	for _, r := range ofKind[resiliency](b.App, "Resiliency") {
		t, ok := r.Spec.Targets.Apps[target]
		if !ok || len(r.Scopes) > 0 && !slices.Contains(r.Scopes, comms.Annotation("dapr.io/app-id")) {
			continue
		}
		covered = true
		attempt, err := time.ParseDuration(r.Spec.Policies.Timeouts[t.Timeout])
		retry, hasRetry := r.Spec.Policies.Retries[t.Retry]
		retries := ptr.Deref(retry.MaxRetries, -1) // Dapr's default: retry forever
		if !hasRetry {
			retries = 0
		}
		_, hasBreaker := r.Spec.Policies.CircuitBreakers[t.CircuitBreaker]
		backoff, _ := time.ParseDuration(cmp.Or(retry.MaxInterval, retry.Duration, "0s")) // the longest wait
		worst := time.Duration(retries+1)*attempt + time.Duration(retries)*backoff
		errs = append(errs, unmet("Resiliency "+r.Metadata.Name+": calls to "+target,
			requirement{err == nil, fmt.Sprintf("no timeout per attempt, or one that does not parse: %v", err)},
			requirement{hasRetry == (t.Retry != "") && hasBreaker == (t.CircuitBreaker != ""), "its retry or circuit breaker policy is not defined"},
			requirement{retries >= 0, "the retry policy retries forever (maxRetries unset or negative)"},
			requirement{worst < bound, fmt.Sprintf("can take %s (%d attempts x %s + %d x %s backoff), not less than comms.greeter.timeout %s", worst, retries+1, attempt, retries, backoff, bound)})...)
	}
	return append(errs, unmet("kubernetes/", requirement{covered, "no Resiliency policy covers comms' calls to " + target})...)
}

// The sidecar's ports (the injector's defaults) that other pods reach; its HTTP API (3500) listens on loopback only.
const daprInternalGRPCPort, daprPublicPort, daprMetricsPort = "50002", "3501", "9090"

// CheckNetworkPolicies: ingress, denied by default and enforced by the VPC CNI, is open exactly where Dapr needs (the cluster suite has no engine).
func CheckNetworkPolicies(b *Bundle) []error {
	type access struct{ target, peer, port string }
	want, got, denied := map[access]string{}, map[access]string{}, map[string]bool{}
	comms, _ := b.comms()
	for _, d := range b.Deployments() {
		if d.DaprEnabled() {
			want[access{d.Name, "the Dapr dashboard", daprPublicPort}] = "the sidecar's public port"
			want[access{d.Name, "the Datadog Agent", cmp.Or(d.Annotation("dapr.io/metrics-port"), daprMetricsPort)}] = "the sidecar's metrics port"
		}
		if d.DaprEnabled() && d.Annotation("dapr.io/app-id") == b.property(comms, "comms.greeter.app-id", "greeter") {
			want[access{d.Name, comms.Name, daprInternalGRPCPort}] = "the sidecar's internal gRPC port, for service invocation"
		}
	}
	// The dashboard's pods (its Helm chart's label) in the control plane's namespace, the node Agent's (the Operator's) in the DatadogAgent's.
	known := map[string][2]map[string]string{
		"the Dapr dashboard": {{"kubernetes.io/metadata.name": "dapr-system"}, {"app": "dapr-dashboard"}},
		"the Datadog Agent":  {{"kubernetes.io/metadata.name": b.agent().Metadata.Namespace}, {"agent.datadoghq.com/component": "agent"}},
	}
	is := func(sel *metav1.LabelSelector, m map[string]string) bool {
		return sel != nil && len(sel.MatchExpressions) == 0 && maps.Equal(sel.MatchLabels, m)
	}
	for _, np := range ofKind[networkingv1.NetworkPolicy](b.App, "NetworkPolicy") {
		if sel := np.Spec.PodSelector; len(sel.MatchLabels)+len(sel.MatchExpressions)+len(np.Spec.Ingress) == 0 && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			denied[np.Namespace] = true
		}
		for _, r := range np.Spec.Ingress {
			peers, ports := []string{"every pod"}, []string{"every port"}
			if len(r.From) > 0 {
				peers = nil
			}
			if len(r.Ports) > 0 {
				ports = nil
			}
			for _, f := range r.From {
				peer := fmt.Sprintf("the pods %s of the namespaces %s", metav1.FormatLabelSelector(f.PodSelector), metav1.FormatLabelSelector(f.NamespaceSelector))
				if callers := b.podsMatching(np.Namespace, f.PodSelector); f.NamespaceSelector == nil && f.IPBlock == nil && len(callers) == 1 {
					peer = callers[0].Name
				}
				for name, k := range known {
					if is(f.NamespaceSelector, k[0]) && is(f.PodSelector, k[1]) {
						peer = name
					}
				}
				peers = append(peers, peer)
			}
			for _, p := range r.Ports {
				ports = append(ports, cmp.Or(p.Port, ptr.To(intstr.FromString("every port"))).String())
			}
			for _, t := range b.podsMatching(np.Namespace, &np.Spec.PodSelector) {
				for _, peer := range peers {
					for _, port := range ports {
						got[access{t.Name, peer, port}] = "NetworkPolicy " + np.Name
					}
				}
			}
		}
	}
	var errs []error
	for a, by := range got {
		errs = append(errs, unmet(by, requirement{want[a] != "", fmt.Sprintf("lets %s into the pods of %s on port %s, which Dapr does not need", a.peer, a.target, a.port)})...)
	}
	for a, why := range want {
		errs = append(errs, unmet("kubernetes/", requirement{got[a] != "", fmt.Sprintf("no NetworkPolicy lets %s into the pods of %s on port %s, %s", a.peer, a.target, a.port, why)})...)
	}
	errs = append(errs, unmet("namespace "+comms.Namespace, requirement{denied[comms.Namespace], "no default-deny ingress NetworkPolicy"})...)
	return append(errs, unmet("eksctl/cluster.yaml", requirement{slices.ContainsFunc(b.cluster().Addons, func(a eksctlAddon) bool {
		return a.Name == "vpc-cni" && strings.Contains(strings.ReplaceAll(a.ConfigurationValues, " ", ""), `"enableNetworkPolicy":"true"`)
	}), "the vpc-cni addon does not set enableNetworkPolicy: no NetworkPolicy would be enforced"})...)
}

// CheckDatadogAgent: its cluster name is eksctl's, its API key comes from scripts/deploy.sh's Secret, its DD_ENV is the apps' env.
func CheckDatadogAgent(b *Bundle) []error {
	g, name := b.agent().Spec.Global, b.cluster().Metadata.Name
	rs := []requirement{
		{g.Credentials.APIKey == "" && g.Credentials.AppKey == "", "a key is written in the file: it must come from the Secret datadog-secret"},
		{g.Credentials.APISecret.SecretName == "datadog-secret" && g.Credentials.APISecret.KeyName == "api-key", "the API key must come from Secret datadog-secret, key api-key (what scripts/deploy.sh makes)"},
		{g.ClusterName == name, fmt.Sprintf("clusterName %q is not the eksctl cluster's name %q", g.ClusterName, name)},
	}
	for _, d := range b.Deployments() {
		env := d.Spec.Template.Labels["tags.datadoghq.com/env"]
		for _, e := range g.Env {
			rs = append(rs, requirement{e.Name != "DD_ENV" || e.Value == env, fmt.Sprintf("DD_ENV %q is not deployment %s's tags.datadoghq.com/env %q: the sidecars' spans and the apps' would be in two environments", e.Value, d.Name, env)})
		}
	}
	return unmet("datadog/datadog-agent.yaml", rs...)
}

// clusterConfig is what the checks read of eksctl's ClusterConfig.
type clusterConfig struct {
	Metadata                      struct{ Name, Version string }
	IAM                           struct{ WithOIDC bool }
	Addons                        []eksctlAddon
	ManagedNodeGroups, NodeGroups []struct {
		Name, InstanceType, AMIFamily string
		InstanceTypes                 []string
	}
}

type eksctlAddon struct {
	Name, ConfigurationValues string
	WellKnownPolicies         struct{ EBSCSIController bool }
	AttachPolicyARNs          []string
	PodIdentityAssociations   []any
}

// Graviton (arm64) instance families: a generation digit followed by "g" (m6g, m7gd, c6gn, t4g, r8g, im4gn).
var graviton = regexp.MustCompile(`^[a-z]+[0-9]+g[a-z-]*\.[0-9a-z]+$`)

// CheckNodeGroupsArm64: every node group runs on Graviton, for the arm64 images, with an AMI family that has arm64.
func CheckNodeGroupsArm64(b *Bundle) []error {
	c := b.cluster()
	errs := unmet("eksctl/cluster.yaml", requirement{len(c.ManagedNodeGroups)+len(c.NodeGroups) > 0, "no node group"})
	for _, ng := range append(c.ManagedNodeGroups, c.NodeGroups...) {
		types := slices.DeleteFunc(append(ng.InstanceTypes, ng.InstanceType), func(t string) bool { return t == "" })
		rs := []requirement{{len(types) > 0, "no instance type: eksctl would pick an x86 one"}, {!strings.HasPrefix(ng.AMIFamily, "Windows"), "amiFamily " + ng.AMIFamily + " has no arm64 AMI"}}
		for _, t := range types {
			rs = append(rs, requirement{graviton.MatchString(t), "instance type " + t + " is not Graviton (arm64)"})
		}
		errs = append(errs, unmet("eksctl node group "+ng.Name, rs...)...)
	}
	return errs
}

// CheckEBSStorage: EKS's default class is encrypted gp3 of the EBS CSI driver, which eksctl installs with IAM; kubernetes/ leaves it out.
func CheckEBSStorage(b *Bundle) []error {
	var sc storagev1.StorageClass
	must(decode(b.Storage.Map, &sc))
	c := b.cluster()
	i := slices.IndexFunc(c.Addons, func(a eksctlAddon) bool { return a.Name == "aws-ebs-csi-driver" })
	var a eksctlAddon
	if i >= 0 {
		a = c.Addons[i]
	}
	irsa := a.WellKnownPolicies.EBSCSIController || len(a.AttachPolicyARNs) > 0
	return unmet("kubernetes/storage and eksctl/cluster.yaml",
		requirement{sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" && sc.Provisioner == "ebs.csi.aws.com" && sc.Parameters["type"] == "gp3" && sc.Parameters["encrypted"] == "true",
			"the StorageClass is not the default, encrypted gp3 class of the EBS CSI driver (ebs.csi.aws.com)"},
		requirement{ptr.Deref(sc.VolumeBindingMode, "") == storagev1.VolumeBindingWaitForFirstConsumer, "its volumes are not made in the zone of the pod that uses them (WaitForFirstConsumer)"},
		requirement{!slices.ContainsFunc(b.App, func(o Object) bool { return o.Kind() == "StorageClass" }), "kubectl apply -k kubernetes/ applies a StorageClass: elsewhere than EKS, a second default class that makes no volume"},
		requirement{i >= 0, "no aws-ebs-csi-driver addon: the Dapr scheduler's volumes would never be made"},
		requirement{i < 0 || irsa || len(a.PodIdentityAssociations) > 0, "the aws-ebs-csi-driver addon gets no IAM permissions (wellKnownPolicies.ebsCSIController, attachPolicyARNs or a pod identity association)"},
		requirement{!irsa || c.IAM.WithOIDC, "the EBS CSI driver's IAM role (IRSA) needs iam.withOIDC: true"})
}

// CheckKubernetesVersion: EKS runs KUBERNETES_VERSION, the minor the local cluster runs (KUBERNETES_SCHEMA_VERSION).
func CheckKubernetesVersion(b *Bundle) []error {
	local := strings.Join(strings.SplitN(b.Versions["KUBERNETES_SCHEMA_VERSION"], ".", 3)[:2], ".")
	eks, version := b.Versions["KUBERNETES_VERSION"], b.cluster().Metadata.Version
	return unmet("scripts/versions.env",
		requirement{eks == local, fmt.Sprintf("KUBERNETES_VERSION %s, but the local cluster runs %s", eks, local)},
		requirement{version == eks, fmt.Sprintf("eksctl/cluster.yaml's metadata.version %q is not KUBERNETES_VERSION %s", version, eks)})
}
