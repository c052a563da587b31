package manifests

import "testing"

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

func TestAccessControlAllowsOnlyCommsPostGreet(t *testing.T) {
	invs, errs := baseBundle(t).invocations()
	requireNoErrors(t, "invocations", errs)
	if len(invs) != 1 || invs[0].String() != "comms → greeter POST greet" {
		t.Errorf("want the one invocation comms → greeter POST greet, got %v", invs)
	}
}
