package manifests

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

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
			errs = append(errs, fmt.Errorf("deployment %s: its sidecar serves no metrics", d.Name))
			continue
		}
		for key := range d.Spec.Template.Annotations {
			if name, ok := strings.CutPrefix(key, "ad.datadoghq.com/"); ok && strings.Contains(name, ".") {
				if container, _, _ := strings.Cut(name, "."); !slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == container }) {
					errs = append(errs, fmt.Errorf("deployment %s: %s names no container of the pod (with its sidecar)", d.Name, key))
				}
			}
		}
		key := "ad.datadoghq.com/" + sidecar.Name + ".checks"
		var checks struct {
			OpenMetrics struct {
				Instances []struct {
					Endpoint string   `json:"openmetrics_endpoint"`
					Metrics  []string `json:"metrics"`
				} `json:"instances"`
			} `json:"openmetrics"`
		}
		if err := json.Unmarshal([]byte(d.Annotation(key)), &checks); err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: annotation %s is not the JSON of Datadog checks: %v", d.Name, key, err))
			continue
		}
		want := fmt.Sprintf("http://%%%%host%%%%:%d/metrics", cfg.SidecarMetricsPort)
		if len(checks.OpenMetrics.Instances) != 1 || checks.OpenMetrics.Instances[0].Endpoint != want ||
			len(checks.OpenMetrics.Instances[0].Metrics) == 0 {
			errs = append(errs, fmt.Errorf("deployment %s: %s should hold one openmetrics instance with openmetrics_endpoint %s and the metrics to keep, has %+v",
				d.Name, key, want, checks.OpenMetrics.Instances))
		}
	}
	return errs
}
