package manifests

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	configv1 "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	"github.com/dapr/dapr/pkg/injector/patcher"
	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
)

// The Dapr dashboard's pods (dapr/dashboard's Helm chart), in the control plane's namespace.
var dashboardPodLabels = labels.Set{"app": "dapr-dashboard"}

// agentPodLabels: the Datadog Operator's label on the node Agent's pods.
var agentPodLabels = labels.Set{"agent.datadoghq.com/component": "agent"}

// Dapr's default trust domain (pkg/config), in the sidecar's SPIFFE id spiffe://<domain>/ns/<ns>/<app id>.
const defaultTrustDomain = "public"

// invocation is one service invocation an app makes through the sidecars.
type invocation struct {
	caller, callee Deployment
	method, verb   string
}

func (i invocation) String() string {
	return fmt.Sprintf("%s → %s %s %s", i.caller.Name, i.callee.Name, i.verb, i.method)
}

// The HTTP verb of a RestClient call: .post(), .get(), ...
var restClientVerb = regexp.MustCompile(`\.(get|post|put|patch|delete)\(\)`)

// invocations: comms calls comms.greeter.method on the Deployment whose dapr.io/app-id is comms.greeter.app-id, with the RestClient verb of its sources.
func (b *Bundle) invocations() ([]invocation, []error) {
	var out []invocation
	var errs []error
	ds := b.Deployments()
	for _, d := range ds {
		if b.appOf(d).Module != "comms-service" {
			continue
		}
		target, method := b.property(d, "comms.greeter.app-id", "greeter"), b.property(d, "comms.greeter.method", "")
		callees := slices.DeleteFunc(slices.Clone(ds), func(t Deployment) bool {
			return t.Name == d.Name || t.Namespace != d.Namespace || !t.DaprEnabled() || t.Annotation("dapr.io/app-id") != target
		})
		verb, err := b.invokeVerb("comms-service")
		switch {
		case len(callees) == 0:
			err = d.errorf("invokes Dapr app id %q (comms.greeter.app-id), but no other Dapr-enabled Deployment in %s has that dapr.io/app-id", target, d.Namespace)
		case method == "":
			err = d.errorf("comms.greeter.method is not set")
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range callees {
			out = append(out, invocation{caller: d, callee: t, method: method, verb: verb})
		}
	}
	return out, errs
}

func (b *Bundle) invokeVerb(module string) (string, error) {
	verbs := map[string]bool{}
	root := filepath.Join(b.Repo, module, "src", "main", "java")
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".java") {
			return err
		}
		src, err := os.ReadFile(p)
		for _, m := range restClientVerb.FindAllStringSubmatch(string(src), -1) {
			verbs[strings.ToUpper(m[1])] = true
		}
		return err
	})
	keys := slices.Collect(maps.Keys(verbs))
	if err != nil || len(keys) != 1 {
		return "", fmt.Errorf("%s: want the one RestClient verb (.post(), ...) it invokes with, found %v (%v)", root, keys, err)
	}
	return keys[0], nil
}

// CheckPodSecurity: namespaces enforce restricted and pods with the injected sidecar pass it (PSA's own library, the cluster's minor).
func CheckPodSecurity(b *Bundle) []error {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return []error{err}
	}
	var errs []error
	checked := map[string]bool{}
	for _, d := range b.Workloads() {
		ns := Find(b.App, "Namespace", d.Namespace)
		if ns == nil {
			errs = append(errs, d.errorf("namespace %s is not in kubernetes/", d.Namespace))
			continue
		}
		var nsLabels map[string]string
		_ = decode(valueAt(ns.Map, "metadata", "labels"), &nsLabels)
		privileged := psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()}
		pol, ferrs := psaapi.PolicyToEvaluate(nsLabels, psaapi.Policy{Enforce: privileged, Audit: privileged, Warn: privileged})
		if !checked[ns.ID()] {
			checked[ns.ID()] = true
			for _, e := range ferrs {
				errs = append(errs, fmt.Errorf("%s: %v", ns.ID(), e))
			}
			if pol.Enforce.Level != psaapi.LevelRestricted {
				errs = append(errs, fmt.Errorf("%s enforces Pod Security %q, not restricted", ns.ID(), pol.Enforce.Level))
			}
		}
		lv := pol.Enforce
		if lv.Version.Latest() {
			// "latest" is the cluster's own minor.
			if lv.Version, err = psaapi.ParseVersion("v" + b.Pins.KubernetesMinor()); err != nil {
				return append(errs, err)
			}
		}
		pod, _, err := b.Inj.Inject(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d.DaprEnabled() && Sidecar(pod) == nil {
			errs = append(errs, d.errorf("the injector added no sidecar"))
		}
		if r := policy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec)); !r.Allowed {
			errs = append(errs, d.errorf("Pod Security %s would reject its pods (with the Dapr sidecar, as injected with %s): %s", lv, daprValuesFile, r.ForbiddenDetail()))
		}
	}
	return errs
}

// ingress is a source that must reach a Dapr sidecar: the one port it needs, and why.
type ingress struct {
	peer string // "the Dapr dashboard", "the Datadog Agent", or a caller's Deployment
	port int32
	why  string
}

// sidecarIngress lists what must reach the sidecar of target.
func sidecarIngress(target Deployment, invs []invocation, cfg *patcher.SidecarConfig) []ingress {
	out := []ingress{
		{"the Dapr dashboard", cfg.SidecarPublicPort, "the dashboard reads the sidecar's metadata on its public port"},
		{"the Datadog Agent", cfg.SidecarMetricsPort, "the Agent scrapes the sidecar's metrics port"},
	}
	for _, i := range invs {
		if i.callee.Name == target.Name {
			out = append(out, ingress{i.caller.Name, cfg.SidecarInternalGRPCPort, "service invocation reaches the callee's sidecar on its internal gRPC port"})
		}
	}
	return out
}

// CheckNetworkPolicies: default-deny ingress, enforced by the CNI; only callers to the internal gRPC port, dashboard to the public port, Agent to the metrics port.
func CheckNetworkPolicies(b *Bundle) []error {
	invs, errs := b.invocations()
	agent, err := b.agentService()
	if err != nil {
		return append(errs, err)
	}
	type access struct{ target, peer string }
	allowed := map[access]bool{}
	denied := map[string]bool{} // namespaces with a default-deny ingress policy
	policies := ofKind[networkingv1.NetworkPolicy](b.App, "NetworkPolicy")
	for _, np := range policies {
		npid := id("NetworkPolicy", np.Namespace, np.Name)
		targets, err := b.podsMatching(np.Namespace, &np.Spec.PodSelector)
		if err != nil || len(targets) == 0 {
			errs = append(errs, fmt.Errorf("%s: spec.podSelector selects no pods", npid))
		}
		sel := np.Spec.PodSelector
		if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 && len(np.Spec.Ingress) == 0 &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			denied[np.Namespace] = true
		}
		for _, t := range targets {
			pod, cfg, err := b.Inj.Inject(t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			wanted := sidecarIngress(t, invs, cfg)
			for _, r := range np.Spec.Ingress {
				if len(r.Ports) == 0 || len(r.From) == 0 {
					errs = append(errs, fmt.Errorf("%s: an ingress rule without ports or without from lets in every port or every source", npid))
					continue
				}
				for _, f := range r.From {
					peer, err := b.peer(np.Namespace, f, agent.namespace)
					i := slices.IndexFunc(wanted, func(w ingress) bool { return w.peer == peer })
					if err == nil && i < 0 {
						err = fmt.Errorf("lets %s's pods into %s, but %s does not invoke %s through Dapr", peer, t.Name, peer, t.Name)
					}
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %v", npid, err))
						continue
					}
					for _, p := range r.Ports {
						if port := containerPort(ptr.Deref(p.Port, intstr.IntOrString{}), allContainers(pod.Spec)...); port != wanted[i].port {
							errs = append(errs, fmt.Errorf("%s: lets %s into %s on port %s; %s, port %d (the HTTP API, %d, listens on %s only)",
								npid, peer, t.Name, p.Port, wanted[i].why, wanted[i].port, cfg.SidecarHTTPPort, cfg.SidecarListenAddresses))
						} else {
							allowed[access{t.Name, peer}] = true
						}
					}
				}
			}
		}
	}
	if len(policies) == 0 {
		errs = append(errs, fmt.Errorf("kubernetes/: no NetworkPolicy: every pod of the cluster can reach the apps and their sidecars"))
	}
	for _, d := range b.Deployments() {
		if !denied[d.Namespace] {
			errs = append(errs, fmt.Errorf("namespace %s has no default-deny ingress NetworkPolicy (podSelector {}, no ingress rules)", d.Namespace))
			denied[d.Namespace] = true
		}
		if _, cfg, err := b.Inj.Inject(d); err == nil && d.DaprEnabled() {
			for _, w := range sidecarIngress(d, invs, cfg) {
				if !allowed[access{d.Name, w.peer}] {
					errs = append(errs, fmt.Errorf("no NetworkPolicy lets %s into %s's sidecar on port %d: %s", w.peer, d.Name, w.port, w.why))
				}
			}
		}
	}
	cni := slices.ContainsFunc(ofKind[clusterConfig](b.Cluster, "ClusterConfig"), func(c clusterConfig) bool {
		return slices.ContainsFunc(c.Addons, func(a eksctlAddon) bool {
			return a.Name == "vpc-cni" && strings.Contains(strings.ReplaceAll(a.ConfigurationValues, " ", ""), `"enableNetworkPolicy":"true"`)
		})
	})
	if len(policies) > 0 && !cni {
		errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: the vpc-cni addon does not set enableNetworkPolicy: the NetworkPolicies would not be enforced"))
	}
	return errs
}

// peer names an ingress source: the Dapr dashboard's pods, the Datadog Agent's, or one Deployment's in namespace.
func (b *Bundle) peer(namespace string, f networkingv1.NetworkPolicyPeer, agentNamespace string) (string, error) {
	switch {
	case f.IPBlock != nil:
		return "", fmt.Errorf("an ipBlock source: only pods need to reach the sidecars")
	case f.NamespaceSelector != nil:
		nss, err1 := metav1.LabelSelectorAsSelector(f.NamespaceSelector)
		pods, err2 := metav1.LabelSelectorAsSelector(f.PodSelector)
		only := func(namespace string, podLabels labels.Set) bool {
			return err1 == nil && err2 == nil && nss.Matches(labels.Set{"kubernetes.io/metadata.name": namespace}) &&
				!nss.Matches(labels.Set{"kubernetes.io/metadata.name": namespace + "-not"}) && f.PodSelector != nil && !pods.Empty() && pods.Matches(podLabels)
		}
		switch {
		case only(daprSystemNamespace, dashboardPodLabels):
			return "the Dapr dashboard", nil
		case only(agentNamespace, agentPodLabels):
			return "the Datadog Agent", nil
		}
		return "", fmt.Errorf("a source other than the Dapr dashboard's pods (%s in namespace %s) or the Datadog Agent's (%s in namespace %s): %v",
			dashboardPodLabels, daprSystemNamespace, agentPodLabels, agentNamespace, f.String())
	case f.PodSelector != nil:
		callers, _ := b.podsMatching(namespace, f.PodSelector)
		if len(callers) != 1 {
			return "", fmt.Errorf("its podSelector %v selects %d Deployments' pods, want the one caller", f.PodSelector, len(callers))
		}
		return callers[0].Name, nil
	}
	return "", fmt.Errorf("an empty source %v", f.String())
}

// grant is one call an access-control policy lets in: caller (by its SPIFFE id), operation, verb.
type grant struct{ appID, namespace, trustDomain, operation, verb string }

func (g grant) String() string {
	return fmt.Sprintf("%s %s from app %s (namespace %s, trust domain %s)", g.verb, g.operation, g.appID, g.namespace, g.trustDomain)
}

// trustDomain is the one in the sidecar's SPIFFE id: Sentry takes it from the app's Configuration.
func (b *Bundle) trustDomain(d Deployment) string {
	if c := b.daprConfig(d); c != nil && c.Spec.AccessControlSpec != nil && c.Spec.AccessControlSpec.TrustDomain != "" {
		return c.Spec.AccessControlSpec.TrustDomain
	}
	return defaultTrustDomain
}

// grants reads access-control policies as daprd (pkg/acl) does: by app id, namespace, trust domain, "/"+lower-cased operation, verb by name.
func grants(c *configv1.Configuration) (map[grant]bool, []error) {
	out := map[grant]bool{}
	var errs []error
	cid := configID(c)
	ac := cmp.Or(c.Spec.AccessControlSpec, &configv1.AccessControlSpec{})
	if !strings.EqualFold(ac.DefaultAction, "deny") {
		errs = append(errs, fmt.Errorf("%s: accessControl.defaultAction is not deny: any app in the mesh could invoke the sidecars that load it", cid))
	}
	for _, p := range ac.AppPolicies {
		g := grant{appID: p.AppName, namespace: p.Namespace, trustDomain: p.TrustDomain}
		errs = append(errs, unmet(cid+": the policy for "+g.appID, []requirement{
			{g.namespace != "" && g.trustDomain != "", "no namespace or trustDomain: daprd refuses the whole access control spec and does not start"},
			{!strings.EqualFold(p.DefaultAction, "allow"), "it allows every operation by default"},
		})...)
		for _, op := range p.AppOperationActions {
			if !strings.EqualFold(op.Action, "allow") {
				continue
			}
			g.operation = "/" + strings.TrimPrefix(strings.ToLower(op.Operation), "/")
			errs = append(errs, unmet(cid+": the policy for "+g.appID, []requirement{
				{!strings.Contains(g.operation, "*"), "operation " + g.operation + " is a wildcard"},
				{len(op.HTTPVerb) > 0, "operation " + g.operation + " lists no httpVerb, so it allows no HTTP call"},
			})...)
			for _, verb := range op.HTTPVerb {
				g.verb = verb
				if _, ok := commonv1pb.HTTPExtension_Verb_value[g.verb]; !ok || g.verb == "NONE" {
					errs = append(errs, fmt.Errorf("%s: httpVerb %q is none of the verb names daprd matches (GET, POST, PUT, DELETE, ... in upper case)", cid, g.verb))
				} else {
					out[g] = true
				}
			}
		}
	}
	return out, errs
}

// CheckAccessControl: Configurations deny by default, let in each call the apps make (by SPIFFE id) and no other.
func CheckAccessControl(b *Bundle) []error {
	invs, errs := b.invocations()
	byConfig := map[string]map[grant]bool{}
	for _, d := range b.Deployments() {
		c := b.daprConfig(d)
		if !d.DaprEnabled() || c == nil || byConfig[configID(c)] != nil {
			continue // CheckDaprConfigExists reports a missing Configuration
		}
		g, e := grants(c)
		byConfig[configID(c)], errs = g, append(errs, e...)
	}
	made := map[grant]bool{}
	for _, i := range invs {
		g := grant{appID: i.caller.Annotation("dapr.io/app-id"), namespace: i.caller.Namespace, trustDomain: b.trustDomain(i.caller),
			operation: "/" + strings.ToLower(i.method), verb: i.verb}
		made[g] = true
		if c := b.daprConfig(i.callee); c != nil && !byConfig[configID(c)][g] {
			errs = append(errs, fmt.Errorf("%s (%s's sidecar) does not allow %s: %s would be denied", configID(c), i.callee.Name, g, i))
		}
	}
	for cid, gs := range byConfig {
		for g := range gs {
			if !made[g] {
				errs = append(errs, fmt.Errorf("%s allows %s, a call no app makes", cid, g))
			}
		}
	}
	return errs
}

// secretRef is the Secret name and key an env var of c is read from, or "".
func secretRef(c *corev1.Container, env string) string {
	if s := envSource(c, env); s != nil && s.SecretKeyRef != nil {
		return s.SecretKeyRef.Name + "/" + s.SecretKeyRef.Key
	}
	return ""
}

// CheckDaprTokens: every sidecar wants an API token, the callee's app checks the app token; apps read the sidecar's Secret and key.
func CheckDaprTokens(b *Bundle) []error {
	invs, errs := b.invocations()
	role := map[string]map[string]bool{"DAPR_API_TOKEN": {}, "APP_API_TOKEN": {}}
	for _, i := range invs {
		role["DAPR_API_TOKEN"][i.caller.Name] = true
		role["APP_API_TOKEN"][i.callee.Name] = true
	}
	for _, d := range b.Deployments() {
		if !d.DaprEnabled() {
			continue
		}
		pod, _, err := b.Inj.Inject(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sidecar, app := Sidecar(pod), &pod.Spec.Containers[0]
		for _, t := range []struct{ env, annotation, without string }{
			{"DAPR_API_TOKEN", "dapr.io/api-token-secret", "its sidecar's API would answer anything in the pod without a token"},
			{"APP_API_TOKEN", "dapr.io/app-token-secret", "it is invoked through Dapr, and could not tell its sidecar's calls from anyone else's"},
		} {
			n := 0
			for _, e := range app.Env {
				if e.Name == t.env {
					n++
				}
			}
			if n > 1 {
				errs = append(errs, d.errorf("%s is set %d times on the app (the injector sets it too?)", t.env, n))
			}
			got, want := secretRef(app, t.env), ""
			if sidecar != nil {
				want = secretRef(sidecar, t.env)
			}
			switch {
			case want == "" && (role[t.env][d.Name] || t.env == "DAPR_API_TOKEN"):
				errs = append(errs, d.errorf("no %s: %s", t.annotation, t.without))
			case got == "" && !role[t.env][d.Name]:
				// An app that never calls its sidecar need not read the token its sidecar's API wants.
			case got != want && want == "":
				errs = append(errs, d.errorf("the app reads %s from %s, but its sidecar has no such token (%s)", t.env, got, t.annotation))
			case got != want:
				errs = append(errs, d.errorf("the app reads %s from Secret/key %q, its sidecar from %q (%s): they must be one Secret", t.env, got, want, t.annotation))
			}
		}
	}
	return errs
}

// CheckDatadogScrapesSidecars: sidecars serve metrics and ask the Agent for an OpenMetrics check on that port; annotations name real containers.
func CheckDatadogScrapesSidecars(b *Bundle) []error {
	var errs []error
	for _, d := range b.Deployments() {
		if !d.DaprEnabled() {
			continue
		}
		pod, cfg, err := b.Inj.Inject(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sidecar := Sidecar(pod)
		if sidecar == nil || !cfg.EnableMetrics {
			errs = append(errs, d.errorf("its sidecar serves no metrics"))
			continue
		}
		for key := range d.Spec.Template.Annotations {
			if name, ok := strings.CutPrefix(key, "ad.datadoghq.com/"); ok && strings.Contains(name, ".") {
				if container, _, _ := strings.Cut(name, "."); !slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == container }) {
					errs = append(errs, d.errorf("%s names no container of the pod (with its sidecar)", key))
				}
			}
		}
		key := "ad.datadoghq.com/" + sidecar.Name + ".checks"
		var checks openMetricsChecks
		if err := json.Unmarshal([]byte(d.Annotation(key)), &checks); err != nil {
			errs = append(errs, d.errorf("annotation %s is not the JSON of Datadog checks: %v", key, err))
			continue
		}
		want := fmt.Sprintf("http://%%%%host%%%%:%d/metrics", cfg.SidecarMetricsPort)
		if len(checks.OpenMetrics.Instances) != 1 || checks.OpenMetrics.Instances[0].Endpoint != want ||
			len(checks.OpenMetrics.Instances[0].Metrics) == 0 {
			errs = append(errs, d.errorf("%s should hold one openmetrics instance with openmetrics_endpoint %s and the metrics to keep, has %+v", key, want, checks.OpenMetrics.Instances))
		}
	}
	return errs
}

// openMetricsChecks is the JSON of an ad.datadoghq.com/<container>.checks annotation, as far as the checks read it.
type openMetricsChecks struct {
	OpenMetrics struct {
		Instances []struct {
			Endpoint  string   `json:"openmetrics_endpoint"`
			Namespace string   `json:"namespace"`
			Metrics   []string `json:"metrics"`
		} `json:"instances"`
	} `json:"openmetrics"`
}
