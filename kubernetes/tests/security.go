package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dapr/dapr/pkg/injector/patcher"
	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
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

var httpExtension = regexp.MustCompile(`HttpExtension\.([A-Z]+)`)

// invocations: comms calls comms.greeter.method on comms.greeter.app-id with the HttpExtension.<VERB> of its sources.
func (b *Bundle) invocations() ([]invocation, []error) {
	var out []invocation
	var errs []error
	ds := b.Deployments()
	for _, d := range ds {
		a, c := b.appOf(d), d.AppContainer()
		if a.Module != "comms-service" || !d.DaprEnabled() {
			continue
		}
		target := a.Property("comms.greeter.app-id", c, "greeter")
		method := a.Property("comms.greeter.method", c, "")
		if method == "" {
			errs = append(errs, fmt.Errorf("deployment %s: comms.greeter.method is not set", d.Name))
			continue
		}
		verb, err := b.invokeVerb(a.Module)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range ds {
			if t.Namespace == d.Namespace && t.DaprEnabled() && t.Annotation("dapr.io/app-id") == target {
				out = append(out, invocation{caller: d, callee: t, method: method, verb: verb})
			}
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
		for _, m := range httpExtension.FindAllStringSubmatch(string(src), -1) {
			verbs[m[1]] = true
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if len(verbs) != 1 {
		return "", fmt.Errorf("%s: want the one HttpExtension.<VERB> it invokes with, found %v", root, verbs)
	}
	for v := range verbs {
		return v, nil
	}
	return "", nil
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
			errs = append(errs, fmt.Errorf("%s: namespace %s is not in kubernetes/", d.who(), d.Namespace))
			continue
		}
		nsLabels := map[string]string{}
		for k, v := range mapAt(ns.Map, "metadata", "labels") {
			nsLabels[k] = fmt.Sprint(v)
		}
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
			errs = append(errs, fmt.Errorf("%s: the injector added no sidecar", d.who()))
		}
		if r := policy.AggregateCheckResults(eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec)); !r.Allowed {
			errs = append(errs, fmt.Errorf("%s: Pod Security %s would reject its pods (with the Dapr sidecar, as injected with %s): %s",
				d.who(), lv, daprHelmValues, r.ForbiddenDetail()))
		}
	}
	return errs
}

// CheckNetworkPolicies: default-deny ingress, enforced by the CNI; only callers to the internal gRPC port, dashboard to the public port, Agent to the metrics port.
func CheckNetworkPolicies(b *Bundle) []error {
	invs, errs := b.invocations()
	agent, err := b.agentService()
	if err != nil {
		return append(errs, err)
	}
	invokes := func(caller, callee Deployment) bool {
		for _, i := range invs {
			if i.caller.Name == caller.Name && i.callee.Name == callee.Name {
				return true
			}
		}
		return false
	}
	allowed := map[string]bool{} // "target|peer|port"
	denied := map[string]bool{}  // namespaces with a default-deny ingress policy
	count := 0
	for _, o := range b.App {
		if o.Kind() != "NetworkPolicy" {
			continue
		}
		count++
		var sel metav1.LabelSelector
		_ = convert(mapAt(o.Map, "spec", "podSelector"), &sel)
		targets, err := b.podsMatching(o.Namespace(), &sel)
		if err != nil || len(targets) == 0 {
			errs = append(errs, fmt.Errorf("%s: spec.podSelector selects no pods", o.ID()))
		}
		rules := listAt(o.Map, "spec", "ingress")
		if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 && len(rules) == 0 &&
			slices.Contains(listAt(o.Map, "spec", "policyTypes"), any("Ingress")) {
			denied[o.Namespace()] = true
		}
		for _, t := range targets {
			pod, cfg, err := b.Inj.Inject(t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, r := range rules {
				ports, from := listAt(r, "ports"), listAt(r, "from")
				if len(ports) == 0 || len(from) == 0 {
					errs = append(errs, fmt.Errorf("%s: an ingress rule without ports or without from lets in every port or every source", o.ID()))
					continue
				}
				for _, f := range from {
					peer, want, why := b.peer(o, f, t, invokes, agent.namespace, cfg)
					if want == 0 {
						errs = append(errs, fmt.Errorf("%s: %s", o.ID(), why))
						continue
					}
					for _, p := range ports {
						port := podPort(pod, str(p, "port"))
						if port != want {
							errs = append(errs, fmt.Errorf("%s: lets %s into %s on port %s; %s, port %d (the HTTP API, %d, listens on %s only)",
								o.ID(), peer, t.Name, str(p, "port"), why, want, cfg.SidecarHTTPPort, cfg.SidecarListenAddresses))
							continue
						}
						allowed[t.Name+"|"+peer+"|"+strconv.Itoa(port)] = true
					}
				}
			}
		}
	}
	if count == 0 {
		errs = append(errs, fmt.Errorf("kubernetes/: no NetworkPolicy: every pod of the cluster can reach the apps and their sidecars"))
	}
	for _, d := range b.Deployments() {
		if !denied[d.Namespace] {
			errs = append(errs, fmt.Errorf("namespace %s has no default-deny ingress NetworkPolicy (podSelector {}, no ingress rules)", d.Namespace))
			denied[d.Namespace] = true
		}
	}
	for _, i := range invs {
		_, cfg, err := b.Inj.Inject(i.callee)
		if err == nil && !allowed[i.callee.Name+"|"+i.caller.Name+"|"+strconv.Itoa(int(cfg.SidecarInternalGRPCPort))] {
			errs = append(errs, fmt.Errorf("no NetworkPolicy lets %s's pods reach %s's sidecar on its internal gRPC port %d: %s would fail", i.caller.Name, i.callee.Name, cfg.SidecarInternalGRPCPort, i))
		}
	}
	for _, d := range b.Deployments() {
		if !d.DaprEnabled() {
			continue
		}
		_, cfg, err := b.Inj.Inject(d)
		if err == nil && !allowed[d.Name+"|the Dapr dashboard|"+strconv.Itoa(int(cfg.SidecarPublicPort))] {
			errs = append(errs, fmt.Errorf("no NetworkPolicy lets the Dapr dashboard read %s's sidecar on its public port %d", d.Name, cfg.SidecarPublicPort))
		}
		if err == nil && !allowed[d.Name+"|the Datadog Agent|"+strconv.Itoa(int(cfg.SidecarMetricsPort))] {
			errs = append(errs, fmt.Errorf("no NetworkPolicy lets the Datadog Agent scrape %s's sidecar on its metrics port %d", d.Name, cfg.SidecarMetricsPort))
		}
	}
	if count > 0 {
		cni := false
		for _, c := range b.Cluster {
			for _, a := range listAt(c.Map, "addons") {
				if str(a, "name") == "vpc-cni" && strings.Contains(strings.ReplaceAll(str(a, "configurationValues"), " ", ""), `"enableNetworkPolicy":"true"`) {
					cni = true
				}
			}
		}
		if !cni {
			errs = append(errs, fmt.Errorf("eksctl/cluster.yaml: the vpc-cni addon does not set enableNetworkPolicy: the NetworkPolicies would not be enforced"))
		}
	}
	return errs
}

// peer names an ingress source and the one port it may reach on target; want 0 and why when it has no business there.
func (b *Bundle) peer(o Object, f any, target Deployment, invokes func(caller, callee Deployment) bool, agentNamespace string, cfg *patcher.SidecarConfig) (name string, want int, why string) {
	ps, nsSel := mapAt(f, "podSelector"), mapAt(f, "namespaceSelector")
	switch {
	case mapAt(f, "ipBlock") != nil:
		return "", 0, "an ipBlock source: only pods need to reach the sidecars"
	case nsSel != nil:
		var s, p metav1.LabelSelector
		_ = convert(nsSel, &s)
		_ = convert(ps, &p)
		nss, err1 := metav1.LabelSelectorAsSelector(&s)
		pods, err2 := metav1.LabelSelectorAsSelector(&p)
		only := func(namespace string, podLabels labels.Set) bool {
			return err1 == nil && err2 == nil && nss.Matches(labels.Set{"kubernetes.io/metadata.name": namespace}) &&
				!nss.Matches(labels.Set{"kubernetes.io/metadata.name": namespace + "-not"}) && ps != nil && !pods.Empty() && pods.Matches(podLabels)
		}
		switch {
		case only(daprSystemNamespace, dashboardPodLabels):
			return "the Dapr dashboard", int(cfg.SidecarPublicPort), "the dashboard reads the sidecar's metadata on its public port"
		case only(agentNamespace, agentPodLabels):
			return "the Datadog Agent", int(cfg.SidecarMetricsPort), "the Agent scrapes the sidecar's metrics port"
		}
		return "", 0, fmt.Sprintf("a source other than the Dapr dashboard's pods (%s in namespace %s) or the Datadog Agent's (%s in namespace %s): %v",
			dashboardPodLabels, daprSystemNamespace, agentPodLabels, agentNamespace, f)
	case ps != nil:
		var s metav1.LabelSelector
		_ = convert(ps, &s)
		callers, _ := b.podsMatching(o.Namespace(), &s)
		if len(callers) != 1 {
			return "", 0, fmt.Sprintf("its podSelector %v selects %d Deployments' pods, want the one caller", ps, len(callers))
		}
		if !invokes(callers[0], target) {
			return "", 0, fmt.Sprintf("lets %s's pods into %s, but %s does not invoke %s through Dapr", callers[0].Name, target.Name, callers[0].Name, target.Name)
		}
		return callers[0].Name, int(cfg.SidecarInternalGRPCPort), "service invocation reaches the callee's sidecar on its internal gRPC port"
	}
	return "", 0, fmt.Sprintf("an empty source %v", f)
}

// podPort resolves a NetworkPolicy port (number or name) against the pod's containers.
func podPort(pod *corev1.Pod, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if p := ContainerPort(&c, port); p != 0 {
			return int(p)
		}
	}
	return 0
}

// grant is one call an access-control policy lets in: caller (by its SPIFFE id), operation, verb.
type grant struct{ appID, namespace, trustDomain, operation, verb string }

func (g grant) String() string {
	return fmt.Sprintf("%s %s from app %s (namespace %s, trust domain %s)", g.verb, g.operation, g.appID, g.namespace, g.trustDomain)
}

// daprConfig is the Dapr Configuration a Deployment's sidecar loads (dapr.io/config), or nil.
func (b *Bundle) daprConfig(d Deployment) *Object {
	for i, o := range b.App {
		if o.Kind() == "Configuration" && strings.HasPrefix(o.APIVersion(), "dapr.io/") && o.Name() == d.Annotation("dapr.io/config") && o.Namespace() == d.Namespace {
			return &b.App[i]
		}
	}
	return nil
}

// trustDomain is the one in the sidecar's SPIFFE id: Sentry takes it from the app's Configuration.
func (b *Bundle) trustDomain(d Deployment) string {
	if c := b.daprConfig(d); c != nil {
		if td := str(c.Map, "spec", "accessControl", "trustDomain"); td != "" {
			return td
		}
	}
	return defaultTrustDomain
}

// grants reads access-control policies as daprd (pkg/acl) does: by app id, namespace, trust domain, "/"+lower-cased operation, verb by name.
func grants(c *Object) (map[grant]bool, []error) {
	out := map[grant]bool{}
	var errs []error
	ac := mapAt(c.Map, "spec", "accessControl")
	if ac == nil || !strings.EqualFold(str(ac, "defaultAction"), "deny") {
		errs = append(errs, fmt.Errorf("%s: accessControl.defaultAction is not deny: any app in the mesh could invoke the sidecars that load it", c.ID()))
	}
	for _, p := range listAt(ac, "policies") {
		g := grant{appID: str(p, "appId"), namespace: str(p, "namespace"), trustDomain: str(p, "trustDomain")}
		if g.namespace == "" || g.trustDomain == "" {
			errs = append(errs, fmt.Errorf("%s: the policy for %s has no namespace or trustDomain: daprd refuses the whole access control spec and does not start", c.ID(), g.appID))
		}
		if strings.EqualFold(str(p, "defaultAction"), "allow") {
			errs = append(errs, fmt.Errorf("%s: the policy for %s allows every operation by default", c.ID(), g.appID))
		}
		for _, op := range listAt(p, "operations") {
			if !strings.EqualFold(str(op, "action"), "allow") {
				continue
			}
			g.operation = strings.ToLower(str(op, "name"))
			if !strings.HasPrefix(g.operation, "/") {
				g.operation = "/" + g.operation
			}
			if strings.Contains(g.operation, "*") {
				errs = append(errs, fmt.Errorf("%s: %s may call %s: a wildcard", c.ID(), g.appID, g.operation))
			}
			verbs := listAt(op, "httpVerb")
			if len(verbs) == 0 {
				errs = append(errs, fmt.Errorf("%s: operation %s lists no httpVerb, so it allows no HTTP call", c.ID(), g.operation))
			}
			for _, v := range verbs {
				g.verb = fmt.Sprint(v)
				if _, ok := commonv1pb.HTTPExtension_Verb_value[g.verb]; !ok || g.verb == "NONE" {
					errs = append(errs, fmt.Errorf("%s: httpVerb %q is none of the verb names daprd matches (%s)", c.ID(), g.verb, "GET, POST, PUT, DELETE, ... in upper case"))
					continue
				}
				out[g] = true
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
		if !d.DaprEnabled() || c == nil || byConfig[c.ID()] != nil {
			continue // CheckDaprConfigExists reports a missing Configuration
		}
		g, e := grants(c)
		byConfig[c.ID()], errs = g, append(errs, e...)
	}
	made := map[grant]bool{}
	for _, i := range invs {
		g := grant{appID: i.caller.Annotation("dapr.io/app-id"), namespace: i.caller.Namespace, trustDomain: b.trustDomain(i.caller),
			operation: "/" + strings.ToLower(i.method), verb: i.verb}
		made[g] = true
		if c := b.daprConfig(i.callee); c != nil && !byConfig[c.ID()][g] {
			errs = append(errs, fmt.Errorf("%s (%s's sidecar) does not allow %s: %s would be denied", c.ID(), i.callee.Name, g, i))
		}
	}
	for id, gs := range byConfig {
		for g := range gs {
			if !made[g] {
				errs = append(errs, fmt.Errorf("%s allows %s, a call no app makes", id, g))
			}
		}
	}
	return errs
}

// secretRef is the Secret name and key an env var of c is read from, or "".
func secretRef(c *corev1.Container, env string) string {
	for _, e := range c.Env {
		if e.Name == env && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
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
				errs = append(errs, fmt.Errorf("deployment %s: %s is set %d times on the app (the injector sets it too?)", d.Name, t.env, n))
			}
			got, want := secretRef(app, t.env), ""
			if sidecar != nil {
				want = secretRef(sidecar, t.env)
			}
			switch {
			case want == "" && (role[t.env][d.Name] || t.env == "DAPR_API_TOKEN"):
				errs = append(errs, fmt.Errorf("deployment %s: no %s: %s", d.Name, t.annotation, t.without))
			case got == "" && !role[t.env][d.Name]:
				// An app that never calls its sidecar need not read the token its sidecar's API wants.
			case got != want && want == "":
				errs = append(errs, fmt.Errorf("deployment %s: the app reads %s from %s, but its sidecar has no such token (%s)", d.Name, t.env, got, t.annotation))
			case got != want:
				errs = append(errs, fmt.Errorf("deployment %s: the app reads %s from Secret/key %q, its sidecar from %q (%s): they must be one Secret", d.Name, t.env, got, want, t.annotation))
			}
		}
	}
	return errs
}
