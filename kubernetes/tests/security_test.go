package manifests

import (
	"slices"
	"strings"
	"testing"
)

// The injector compiled into these tests is the Dapr runtime the cluster gets.
func TestInjectorIsThePinnedDaprVersion(t *testing.T) {
	_, pins, _, _ := fixtures(t)
	v, err := CompiledDaprVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != pins.Dapr {
		t.Errorf("kubernetes/tests builds with github.com/dapr/dapr %s, but DAPR_RUNTIME_VERSION is %s: run `go get github.com/dapr/dapr@v%s && go mod tidy` in kubernetes/tests", v, pins.Dapr, pins.Dapr)
	}
}

// Not a cross-check: the chart's template still passes what injector.go models.
func TestInjectorChartPassesTheModelledValues(t *testing.T) {
	requireNoErrors(t, "injector chart", baseBundle(t).Inj.CheckWiring())
}

func TestPodsWithTheSidecarMeetPodSecurityRestricted(t *testing.T) {
	b := baseBundle(t)
	requireNoErrors(t, "pod security", CheckPodSecurity(b))
	for _, d := range b.Deployments() {
		pod, _, err := b.Inj.Inject(d)
		if err != nil {
			t.Fatal(err)
		}
		sc := Sidecar(pod)
		if sc == nil {
			t.Fatalf("deployment %s: no sidecar injected", d.Name)
		}
		t.Logf("deployment %s: daprd %s, securityContext %s", d.Name, sc.Image, sc.SecurityContext.String())
	}
}

// Without the --set value, the injector's default keeps the sidecar's capabilities: restricted rejects it.
func TestCrossCheckCatchesSidecarKeepingItsCapabilities(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckPodSecurity, "unrestricted capabilities", func(b *Bundle) {
		b.Inj.Set = slices.DeleteFunc(b.Inj.Set, func(s string) bool { return strings.Contains(s, "sidecarDropALLCapabilities") })
	})
}

func TestCrossCheckCatchesSidecarRunAsRoot(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckPodSecurity, "runAsNonRoot", func(b *Bundle) {
		b.Inj.Set = append(b.Inj.Set, "dapr_sidecar_injector.sidecarRunAsNonRoot=false")
		for _, d := range []string{"comms", "greeter"} {
			Set(mustFind(t, b.App, "Deployment", d).Map, nil, "spec", "template", "spec", "securityContext", "runAsNonRoot")
		}
	})
}

func TestCrossCheckCatchesAHelmValueTheChartDoesNotHave(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckPodSecurity, "sidecarDropAllCapabilities is not a value", func(b *Bundle) {
		b.Inj.Set = []string{"dapr_sidecar_injector.sidecarDropAllCapabilities=true"}
	})
}

func TestCrossCheckCatchesNamespaceNotEnforcingRestricted(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckPodSecurity, `enforces Pod Security "baseline"`, func(b *Bundle) {
		Set(mustFind(t, b.App, "Namespace", "dapr-services").Map, "baseline", "metadata", "labels", "pod-security.kubernetes.io/enforce")
	})
}

func TestCrossCheckCatchesAppContainerBreakingRestricted(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckPodSecurity, "allowPrivilegeEscalation", func(b *Bundle) {
		Set(appContainer(t, b, "greeter"), true, "securityContext", "allowPrivilegeEscalation")
	})
}

func TestAccessControlAllowsOnlyCommsPostGreet(t *testing.T) {
	b := baseBundle(t)
	requireNoErrors(t, "access control", CheckAccessControl(b))
	invs, errs := b.invocations()
	requireNoErrors(t, "invocations", errs)
	if len(invs) != 1 || invs[0].String() != "comms → greeter POST greet" {
		t.Errorf("want the one invocation comms → greeter POST greet, got %v", invs)
	}
}

func accessPolicy(t *testing.T, b *Bundle) map[string]any {
	t.Helper()
	return mapAt(mustFind(t, b.App, "Configuration", "dapr-config").Map, "spec", "accessControl", "policies", 0)
}

func TestCrossCheckCatchesAccessControlAllowingByDefault(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "defaultAction is not deny", func(b *Bundle) {
		Set(mustFind(t, b.App, "Configuration", "dapr-config").Map, "allow", "spec", "accessControl", "defaultAction")
	})
}

func TestCrossCheckCatchesAccessControlOnAnotherVerb(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "POST /greet from app comms", func(b *Bundle) {
		Set(accessPolicy(t, b), []any{"GET"}, "operations", 0, "httpVerb")
	})
}

// daprd looks the verb up by its name: "post" matches nothing.
func TestCrossCheckCatchesLowerCaseVerb(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, `httpVerb "post"`, func(b *Bundle) {
		Set(accessPolicy(t, b), []any{"post"}, "operations", 0, "httpVerb")
	})
}

func TestCrossCheckCatchesAccessControlOnAnotherOperation(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "would be denied", func(b *Bundle) {
		b.Apps["comms-service"].SetProperty("comms.greeter.method", "hello")
	})
}

func TestCrossCheckCatchesCallerFromAnotherTrustDomain(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "trust domain public", func(b *Bundle) {
		Set(accessPolicy(t, b), "cluster.local", "trustDomain")
	})
}

func TestCrossCheckCatchesPolicyWithoutNamespace(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "does not start", func(b *Bundle) {
		Set(accessPolicy(t, b), nil, "namespace")
	})
}

func TestCrossCheckCatchesAnAllowedCallNoAppMakes(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckAccessControl, "DELETE /greet from app comms", func(b *Bundle) {
		Set(accessPolicy(t, b), []any{"POST", "DELETE"}, "operations", 0, "httpVerb")
	})
}

func TestCrossCheckCatchesCallerSidecarWithoutAPIToken(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprTokens, "no dapr.io/api-token-secret", func(b *Bundle) {
		delete(podAnnotations(t, b, "comms"), "dapr.io/api-token-secret")
		c := appContainer(t, b, "comms")
		Set(c, slices.DeleteFunc(listAt(c, "env"), func(e any) bool { return str(e, "name") == "DAPR_API_TOKEN" }), "env")
	})
}

func TestCrossCheckCatchesCalleeSidecarWithoutAPIToken(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprTokens, "deployment greeter: no dapr.io/api-token-secret", func(b *Bundle) {
		delete(podAnnotations(t, b, "greeter"), "dapr.io/api-token-secret")
	})
}

func TestCrossCheckCatchesCalleeWithoutAppToken(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprTokens, "no dapr.io/app-token-secret", func(b *Bundle) {
		delete(podAnnotations(t, b, "greeter"), "dapr.io/app-token-secret")
	})
}

func TestCrossCheckCatchesAppReadingAnotherSecret(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprTokens, "they must be one Secret", func(b *Bundle) {
		for _, e := range listAt(appContainer(t, b, "greeter"), "env") {
			if str(e, "name") == "APP_API_TOKEN" {
				Set(e, "greeter-token", "valueFrom", "secretKeyRef", "name")
			}
		}
	})
}

func TestCrossCheckCatchesAppTokenTheSidecarDoesNotSend(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDaprTokens, "its sidecar has no such token", func(b *Bundle) {
		c := appContainer(t, b, "comms")
		Set(c, append(listAt(c, "env"), map[string]any{"name": "APP_API_TOKEN", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "app-api-token", "key": "token"}}}), "env")
	})
}
