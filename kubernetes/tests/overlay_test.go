package manifests

import (
	"reflect"
	"testing"
)

// The overlay scripts/install.sh writes (kubernetes/README.md): registry and tag of each image, from the environment.
const deployImages = `images:
  - name: comms-service
    newName: 123456789012.dkr.ecr.us-west-2.amazonaws.com/demo/comms-service
    newTag: "1.2.3"
  - name: greeter-service
    newName: 123456789012.dkr.ecr.us-west-2.amazonaws.com/demo/greeter-service
    newTag: "1.2.3"
`

// What kubernetes/README.md adds so that Datadog's version tag follows the image tag.
const deployVersionLabel = `labels:
  - pairs:
      tags.datadoghq.com/version: "1.2.3"
    includeTemplates: true
`

// TestCrossChecksPassOnTheRepository runs the cross-checks on this overlay too.
func TestDeployOverlaySetsRegistryAndTagOfBothImages(t *testing.T) {
	app := render(t, "kubernetes", deployImages+deployVersionLabel)
	requireNoErrors(t, "overlay", fixtures(t).schemas.ValidateAll(app))
	ds := (&Bundle{App: app}).Deployments()
	if len(ds) != 2 {
		t.Fatalf("want the comms and greeter Deployments, got %d", len(ds))
	}
	for _, d := range ds {
		want := "123456789012.dkr.ecr.us-west-2.amazonaws.com/demo/" + d.Name + "-service:1.2.3"
		if got := d.AppContainer().Image; got != want {
			t.Errorf("deployment %s: image %q, want %q", d.Name, got, want)
		}
	}
}

// datadog/README.md: another Datadog site through an overlay of datadog/.
func TestDatadogSiteOverlayChangesOnlyTheSite(t *testing.T) {
	objs := render(t, "datadog", `patches:
  - target:
      kind: DatadogAgent
    patch: |-
      - op: replace
        path: /spec/global/site
        value: datadoghq.eu
`)
	requireNoErrors(t, "site overlay", fixtures(t).schemas.ValidateAll(objs))
	want := DeepCopy(fixtures(t).Datadog)
	setPath(want[0].Map, "datadoghq.eu", "spec", "global", "site")
	if len(objs) != 1 || !reflect.DeepEqual(objs[0].Map, want[0].Map) {
		t.Errorf("the overlay should set the site and change nothing else: got %v", objs)
	}
}
