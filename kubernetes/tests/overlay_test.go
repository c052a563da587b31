package manifests

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The overlay scripts/deploy.sh writes (kubernetes/README.md): images by name, registry and tag
// from the environment.
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

func TestDeployOverlaySetsRegistryAndTagOfBothImages(t *testing.T) {
	repo, _, schemas, _ := fixtures(t)
	app, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "kubernetes"), Extra: deployImages + deployVersionLabel})
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, "overlay", schemas.ValidateAll(app))
	b, err := LoadBundle(repo, app)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range b.Deployments() {
		want := "123456789012.dkr.ecr.us-west-2.amazonaws.com/demo/" + d.Name + "-service:1.2.3"
		if got := d.AppContainer().Image; got != want {
			t.Errorf("deployment %s: image %q, want %q", d.Name, got, want)
		}
	}
	for name, check := range Checks {
		requireNoErrors(t, name, check(b))
	}
}

// Without the version label, Datadog would report the new image under the old version: the
// cross-check says so.
func TestDeployOverlayWithoutVersionLabelIsCaught(t *testing.T) {
	repo, _, _, _ := fixtures(t)
	app, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "kubernetes"), Extra: deployImages})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(repo, app)
	if err != nil {
		t.Fatal(err)
	}
	errs := CheckUnifiedServiceTags(b)
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), `image tag is "1.2.3"`) {
		t.Errorf("want the stale version tag reported, got %v", errs)
	}
}

// datadog/README.md: another Datadog site through an overlay of datadog/.
func TestDatadogSiteOverlayChangesOnlyTheSite(t *testing.T) {
	repo, _, schemas, _ := fixtures(t)
	objs, err := RenderOverlay(Overlay{Base: filepath.Join(repo, "datadog"), Extra: `patches:
  - target:
      kind: DatadogAgent
    patch: |-
      - op: replace
        path: /spec/global/site
        value: datadoghq.eu
`})
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, "site overlay", schemas.ValidateAll(objs))
	if len(objs) != 1 || str(objs[0].Map, "spec", "global", "site") != "datadoghq.eu" {
		t.Fatalf("the overlay did not set the site: %v", objs)
	}
	plain, _ := ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	Set(plain[0].Map, "datadoghq.eu", "spec", "global", "site")
	if got, want := normalize(objs[0].Map), normalize(plain[0].Map); !reflect.DeepEqual(got, want) {
		t.Errorf("the overlay changed more than the site")
	}
}
