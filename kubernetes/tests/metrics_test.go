package manifests

import "testing"

func TestCrossCheckCatchesOpenMetricsCheckOnAnotherPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogScrapesSidecars, "openmetrics_endpoint http://%%host%%:9090/metrics", func(b *Bundle) {
		a := podAnnotations(t, b, "greeter")
		a["ad.datadoghq.com/daprd.checks"] = `{"openmetrics": {"instances": [{"openmetrics_endpoint": "http://%%host%%:3501/metrics", "metrics": [".+"]}]}}`
	})
}

func TestCrossCheckCatchesSidecarMetricsTurnedOff(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogScrapesSidecars, "serves no metrics", func(b *Bundle) {
		podAnnotations(t, b, "comms")["dapr.io/enable-metrics"] = "false"
	})
}

func TestCrossCheckCatchesAnnotationForAContainerThePodLacks(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckDatadogScrapesSidecars, "ad.datadoghq.com/dapr.checks names no container", func(b *Bundle) {
		a := podAnnotations(t, b, "comms")
		a["ad.datadoghq.com/dapr.checks"] = a["ad.datadoghq.com/daprd.checks"]
		delete(a, "ad.datadoghq.com/daprd.checks")
	})
}

func TestCrossCheckCatchesAgentScrapeOnAnotherPort(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "no NetworkPolicy lets the Datadog Agent scrape", func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "sidecar-metrics-from-datadog-agent").Map, int64(9091), "spec", "ingress", 0, "ports", 0, "port")
	})
}

func TestCrossCheckCatchesAgentScrapeFromTheWholeNamespace(t *testing.T) {
	expectCaught(t, baseBundle(t), CheckNetworkPolicies, "or the Datadog Agent's", func(b *Bundle) {
		Set(mustFind(t, b.App, "NetworkPolicy", "sidecar-metrics-from-datadog-agent").Map, nil, "spec", "ingress", 0, "from", 0, "podSelector")
	})
}
