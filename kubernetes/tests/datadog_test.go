package manifests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The trace-agent drops spans whose resource matches DD_APM_IGNORE_RESOURCES: the health checks,
// and nothing else.
func TestAPMIgnoresHealthChecksAndNothingElse(t *testing.T) {
	repo, _, _, _ := fixtures(t)
	objs, err := ReadManifests(filepath.Join(repo, "datadog", "datadog-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var value string
	for _, e := range listAt(objs[0].Map, "spec", "override", "nodeAgent", "containers", "trace-agent", "env") {
		if str(e, "name") == "DD_APM_IGNORE_RESOURCES" {
			value = str(e, "value")
		}
	}
	if value == "" {
		t.Fatal("no DD_APM_IGNORE_RESOURCES on the trace-agent container")
	}
	if strings.Contains(value, ",") {
		t.Fatalf("DD_APM_IGNORE_RESOURCES %q has a comma: the Agent would split it into several expressions", value)
	}
	re, err := regexp.Compile(value) // the trace-agent compiles it with Go's regexp too
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{
		"GET /actuator/health/liveness", "GET /actuator/health/readiness", "GET /health",
		"GET /actuator/health", "http get /actuator/health/{*path}", "HEAD /health",
	} {
		if !re.MatchString(r) {
			t.Errorf("health check resource %q is kept", r)
		}
	}
	for _, r := range []string{"POST /greet", "GET /greet", "POST /health", "GET /healthcare", "greet", "GET /actuator/info"} {
		if re.MatchString(r) {
			t.Errorf("resource %q would be dropped", r)
		}
	}
}

func TestAppConfigReadsPlaceholdersAndEnvironmentOverrides(t *testing.T) {
	docs, err := ParseManifests("application.yaml", []byte("server:\n  port: ${PORT:9000}\ncomms.greeter:\n  app-id: greeter\n  timeout: 1500\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &AppConfig{Module: "comms-service", Present: true, File: "application.yaml", props: docs[0].Map}
	b := baseBundle(t)
	c := b.Deployments()[0].AppContainer()
	if got := a.Property("server.port", nil, "8080"); got != "9000" {
		t.Errorf("placeholder default: got %q, want 9000", got)
	}
	c.Env = append(c.Env, envVar("PORT", "9100"))
	if got := a.Property("server.port", c, "8080"); got != "9100" {
		t.Errorf("placeholder from the container env: got %q, want 9100", got)
	}
	c.Env = append(c.Env, envVar("SERVER_PORT", "9200"))
	if got := a.Property("server.port", c, "8080"); got != "9200" {
		t.Errorf("SERVER_PORT overrides server.port: got %q, want 9200", got)
	}
	if got := a.Property("comms.greeter.app-id", nil, ""); got != "greeter" {
		t.Errorf("flat-and-nested key: got %q, want greeter", got)
	}
	if got := a.Property("management.server.port", nil, "none"); got != "none" {
		t.Errorf("absent property: got %q, want the default", got)
	}
	d, err := ParseSpringDuration(a.Property("comms.greeter.timeout", nil, "2s"))
	if err != nil || d.Milliseconds() != 1500 {
		t.Errorf("a bare number is milliseconds: got %v, %v", d, err)
	}
	for in, ms := range map[string]int64{"2s": 2000, "500ms": 500, "PT2S": 2000, "1m": 60000} {
		if d, err := ParseSpringDuration(in); err != nil || d.Milliseconds() != ms {
			t.Errorf("ParseSpringDuration(%q) = %v, %v; want %dms", in, d, err, ms)
		}
	}
}

func envVar(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
