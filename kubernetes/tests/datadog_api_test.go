package manifests

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	daprbreaker "github.com/dapr/dapr/pkg/resiliency/breaker"
)

// The files scripts/deploy.sh sends to Datadog's API, and the list of the metrics they query.
const (
	dashboardFile      = "datadog/dashboard.json"
	monitorsGlob       = "datadog/monitors/*.json"
	queriedMetricsFile = "datadog/queried-metrics.txt"
	projectTag         = "managed-by:dapr-tracing-demo" // scripts/deploy.sh finds the monitors by it
)

// datadogBodies are the dashboard and monitor files as generic JSON, by path in the repository.
type datadogBodies map[string]map[string]any

func loadDatadogBodies(t *testing.T) datadogBodies {
	t.Helper()
	repo := fixtures(t).Repo
	files, _ := filepath.Glob(filepath.Join(repo, filepath.FromSlash(monitorsGlob)))
	if len(files) < 3 {
		t.Fatalf("want at least 3 monitors in %s, found %d", monitorsGlob, len(files))
	}
	bodies := datadogBodies{}
	for _, f := range append(files, filepath.Join(repo, filepath.FromSlash(dashboardFile))) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo, f)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		bodies[filepath.ToSlash(rel)] = body
	}
	return bodies
}

// copyBodies is a deep copy that a test can break.
func (b datadogBodies) copyBodies(t *testing.T) datadogBodies {
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var c datadogBodies
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (b datadogBodies) monitors() []string {
	return slices.DeleteFunc(slices.Sorted(maps.Keys(b)), func(rel string) bool { return rel == dashboardFile })
}

// DecodeDatadog decodes a body with the models of Datadog's API client and returns every part they did
// not take: the client keeps unknown keys in AdditionalProperties and undecodable values (a bad enum, a
// wrong type, a oneOf that matches nothing) in UnparsedObject, at any depth, instead of failing.
func DecodeDatadog[T any](data []byte) []error {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return []error{err}
	}
	return leftovers(reflect.ValueOf(v), "")
}

func leftovers(v reflect.Value, path string) []error {
	var errs []error
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			errs = leftovers(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			errs = append(errs, leftovers(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			errs = append(errs, leftovers(it.Value(), fmt.Sprintf("%s.%v", path, it.Key()))...)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			switch name, _, _ := strings.Cut(f.Tag.Get("json"), ","); {
			case f.Name == "AdditionalProperties" && fv.Len() > 0:
				var keys []string
				for _, k := range fv.MapKeys() {
					keys = append(keys, k.String())
				}
				slices.Sort(keys)
				errs = append(errs, fmt.Errorf("%s: unknown key(s) %q of %s", where(path), keys, v.Type().Name()))
			case f.Name == "UnparsedObject" && !fv.IsZero():
				var raw []byte
				if fv.CanInterface() { // not through an unexported field
					raw, _ = json.Marshal(fv.Interface())
				}
				errs = append(errs, fmt.Errorf("%s: not a valid %s (a bad enum value or type): %.200s", where(path), v.Type().Name(), raw))
			case name != "" && name != "-":
				errs = append(errs, leftovers(fv, path+"."+name)...)
			default: // the client's Nullable wrappers keep their value in unexported fields
				errs = append(errs, leftovers(fv, path)...)
			}
		}
	}
	return errs
}

func where(path string) string {
	if path == "" {
		return "(top)"
	}
	return strings.TrimPrefix(path, ".")
}

// decodeBody decodes a body with the model of its file: Dashboard or Monitor.
func decodeBody(t *testing.T, rel string, body map[string]any) []error {
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if rel == dashboardFile {
		return DecodeDatadog[datadogV1.Dashboard](data)
	}
	return DecodeDatadog[datadogV1.Monitor](data)
}

// Each file is exactly what Datadog's API client models take: no unknown key, no undecodable value.
func TestDatadogFilesDecodeStrictly(t *testing.T) {
	for rel, body := range loadDatadogBodies(t) {
		requireNoErrors(t, rel, decodeBody(t, rel, body))
	}
}

// Strict decoding catches an unknown key or a bad value at any depth of a copy of the files.
func TestDatadogStrictDecodingCatches(t *testing.T) {
	bodies := loadDatadogBodies(t)
	monitor := bodies.monitors()[0]
	query := []any{"widgets", 0, "definition", "widgets", 0, "definition", "requests", 0}
	for _, c := range []struct {
		name, file, want string
		value            any
		path             []any
	}{
		{"UnknownTopKey", dashboardFile, `unknown key(s) ["template_variable"] of Dashboard`, []any{}, []any{"template_variable"}},
		{"UnknownKeyInAQuery", dashboardFile, `unknown key(s) ["agregator"] of FormulaAndFunctionMetricQueryDefinition`, "avg", append(slices.Clone(query), "queries", 0, "agregator")},
		{"UnknownKeyInTemplateVariable", dashboardFile, `template_variables[0]: unknown key(s) ["default_value"]`, "demo", []any{"template_variables", 0, "default_value"}},
		{"BadDisplayType", dashboardFile, "not a valid TimeseriesWidgetRequest", "bar", append(slices.Clone(query), "display_type")},
		{"BadWidgetType", dashboardFile, "widgets[0].definition.widgets[0].definition: not a valid WidgetDefinition", "timeserie", []any{"widgets", 0, "definition", "widgets", 0, "definition", "type"}},
		{"WrongType", dashboardFile, "template_variables[0]: not a valid DashboardTemplateVariable", "demo", []any{"template_variables", 0, "defaults"}},
		{"UnknownMonitorOption", monitor, `options: unknown key(s) ["notify_nodata"] of MonitorOptions`, true, []any{"options", "notify_nodata"}},
		{"BadMonitorType", monitor, "(top): not a valid Monitor", "metric alrt", []any{"type"}},
		{"MissingQuery", monitor, "required field query missing", nil, []any{"query"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := bodies.copyBodies(t)
			setPath(broken[c.file], c.value, c.path...)
			requireError(t, decodeBody(t, c.file, broken[c.file]), c.want)
		})
	}
}

// metricInQuery is a metric after its space aggregator (sum:, avg:, p99:, ...) and before its scope {...}.
var metricInQuery = regexp.MustCompile(`(?:^|[^\w.])(?:avg|sum|min|max|count|p\d+(?:\.\d+)?):([A-Za-z][\w.]*)\{`)

// QueriedMetrics returns the sorted, unique metric names of Datadog metric queries, e.g.
// "sum:comms.greeter.fallbacks{$env} by {reason}.as_count()" or "percentile(last_5m):p99:trace.x{*} > 1".
func QueriedMetrics(queries ...string) []string {
	var names []string
	for _, q := range queries {
		for _, m := range metricInQuery.FindAllStringSubmatch(q, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// queries lists the query strings of a dashboard or monitor body: every "q" and "query" value, at any depth.
func queries(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if s, ok := v[k].(string); ok && (k == "q" || k == "query") {
				out = append(out, s)
			} else {
				out = append(out, queries(v[k])...)
			}
		}
	case []any:
		for _, e := range v {
			out = append(out, queries(e)...)
		}
	}
	return out
}

func TestQueriedMetricsReadsEveryQueryForm(t *testing.T) {
	for q, want := range map[string][]string{
		"sum:comms.greeter.fallbacks{$env} by {reason}.as_count()":                                {"comms.greeter.fallbacks"},
		"p99:trace.http.server.request{service:comms,$env}":                                       {"trace.http.server.request"},
		"sum(last_5m):sum:a.errors{env:demo}.as_count() / sum:a.hits{env:demo}.as_count() > 0.05": {"a.errors", "a.hits"},
		"percentile(last_5m):p99.9:trace.x{*} > 1.5":                                              {"trace.x"},
		"max(last_5m):max:dapr.resiliency_cb_state{status:open} by {app_id,target} > 0":           {"dapr.resiliency_cb_state"},
		"avg:b.y{*} + avg:b.y{host:a}":                                                            {"b.y"},
		"top(avg:c.z{*} by {host}, 10, 'mean', 'desc')":                                           {"c.z"},
		"query1 / query2": nil,
	} {
		if got := QueriedMetrics(q); !slices.Equal(got, want) {
			t.Errorf("QueriedMetrics(%q) = %q, want %q", q, got, want)
		}
	}
}

// queriedMetricsErrors compares the text of datadog/queried-metrics.txt with the metrics the bodies query;
// a query in which no metric is found is an error too, so that none is missed.
func queriedMetricsErrors(bodies datadogBodies, text string) []error {
	var errs, all []string
	for _, rel := range slices.Sorted(maps.Keys(bodies)) {
		for _, q := range queries(bodies[rel]) {
			if names := QueriedMetrics(q); len(names) == 0 {
				errs = append(errs, fmt.Sprintf("%s: no metric found in query %q", rel, q))
			} else {
				all = append(all, names...)
			}
		}
	}
	slices.Sort(all)
	want := strings.Join(slices.Compact(all), "\n") + "\n"
	if text != want {
		errs = append(errs, fmt.Sprintf("%s is not the list of the metrics that %s and %s query; write it as:\n%s", queriedMetricsFile, dashboardFile, monitorsGlob, want))
	}
	return toErrors(errs)
}

func toErrors(msgs []string) []error {
	var errs []error
	for _, m := range msgs {
		errs = append(errs, fmt.Errorf("%s", m))
	}
	return errs
}

// datadog/queried-metrics.txt (read by the end-to-end test) lists exactly what the files query.
func TestDatadogQueriedMetrics(t *testing.T) {
	bodies := loadDatadogBodies(t)
	text, err := os.ReadFile(fixtures(t).path(queriedMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, queriedMetricsFile, queriedMetricsErrors(bodies, string(text)))
	t.Logf("queried: %s", strings.Fields(string(text)))
	for name, c := range map[string]struct {
		want    string
		breakIt func(b datadogBodies) string
	}{
		"NameMissing": {"is not the list", func(b datadogBodies) string { return strings.Replace(string(text), "comms.greeter.fallbacks\n", "", 1) }},
		"QueryChanged": {"\nother.metric\n", func(b datadogBodies) string {
			b[b.monitors()[0]]["query"] = "avg(last_5m):avg:other.metric{*} > 1"
			return string(text)
		}},
		"QueryNotUnderstood": {"no metric found", func(b datadogBodies) string {
			b[b.monitors()[0]]["query"] = "avg(last_5m):other.metric{*} > 1"
			return string(text)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			broken := bodies.copyBodies(t)
			requireError(t, queriedMetricsErrors(broken, c.breakIt(broken)), c.want)
		})
	}
}

// agentEnv is DD_ENV of the DatadogAgent, the env the apps' and sidecars' telemetry carries.
func agentEnv(b *Bundle) string {
	for _, e := range at(b.Datadog[0].Map, "spec", "global", "env").([]any) {
		if at(e, "name") == "DD_ENV" {
			return at(e, "value").(string)
		}
	}
	return ""
}

// metricScope is the scope of a metric in a query, {a:b,c:d}, not a group-by ("by {a}").
var metricScope = regexp.MustCompile(`[\w.]\{([^}]*)\}`)

// datadogConventionErrors: the dashboard's env variable and each monitor's env tag and filter are the Agent's
// env; each monitor carries service:comms and the project tag, notifies no one and says how to change that.
func datadogConventionErrors(bodies datadogBodies, env string) []error {
	var errs []string
	tv := at(bodies[dashboardFile], "template_variables").([]any)
	if len(tv) != 1 || at(tv[0], "name") != "env" || at(tv[0], "prefix") != "env" || !reflect.DeepEqual(at(tv[0], "defaults"), []any{env}) {
		errs = append(errs, fmt.Sprintf("%s: want one template variable env, prefix env, defaults [%s] (DD_ENV of the Agent), got %v", dashboardFile, env, tv))
	}
	names := map[string]string{}
	for _, rel := range bodies.monitors() {
		m := bodies[rel]
		name, _ := m["name"].(string)
		if other, dup := names[name]; dup {
			errs = append(errs, fmt.Sprintf("%s and %s have one name %q: scripts/deploy.sh finds a monitor by its name", other, rel, name))
		}
		names[name] = rel
		var tags []string
		for _, tag := range m["tags"].([]any) {
			tags = append(tags, tag.(string))
		}
		for _, want := range []string{"service:comms", "env:" + env, projectTag} {
			if !slices.Contains(tags, want) {
				errs = append(errs, fmt.Sprintf("%s: no tag %s in %q", rel, want, tags))
			}
		}
		for _, scope := range metricScope.FindAllStringSubmatch(m["query"].(string), -1) {
			if !slices.Contains(strings.Split(scope[1], ","), "env:"+env) {
				errs = append(errs, fmt.Sprintf("%s: the scope {%s} of its query is not filtered on env:%s", rel, scope[1], env))
			}
		}
		msg, _ := m["message"].(string)
		if strings.Contains(msg, "@") {
			errs = append(errs, fmt.Sprintf("%s: its message notifies someone (an @): leave that to the user", rel))
		}
		if !strings.Contains(msg, rel) {
			errs = append(errs, fmt.Sprintf("%s: its message does not say that a notification goes into %s", rel, rel))
		}
	}
	return toErrors(errs)
}

func TestDatadogFilesFollowTheProjectsConventions(t *testing.T) {
	bodies, env := loadDatadogBodies(t), agentEnv(fixtures(t).Bundle)
	requireNoErrors(t, "datadog/", datadogConventionErrors(bodies, env))
	m := bodies.monitors()[0]
	for _, c := range []struct {
		name, want string
		breakIt    func(b datadogBodies)
	}{
		{"Notifies", "notifies someone", func(b datadogBodies) { b[m]["message"] = b[m]["message"].(string) + " @ops@example.com" }},
		{"NoProjectTag", "no tag " + projectTag, func(b datadogBodies) { b[m]["tags"] = []any{"service:comms", "env:" + env} }},
		{"OtherEnvTag", "no tag env:" + env, func(b datadogBodies) { b[m]["tags"] = []any{"service:comms", "env:staging", projectTag} }},
		{"QueryOfOtherEnv", "not filtered on env:" + env, func(b datadogBodies) {
			b[m]["query"] = strings.ReplaceAll(b[m]["query"].(string), "env:"+env, "env:staging")
		}},
		{"TwoMonitorsOneName", "have one name", func(b datadogBodies) { b[b.monitors()[1]]["name"] = b[m]["name"] }},
		{"DashboardEnvDefault", "defaults [" + env + "]", func(b datadogBodies) {
			setPath(b[dashboardFile], []any{"staging"}, "template_variables", 0, "defaults")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := bodies.copyBodies(t)
			c.breakIt(broken)
			requireError(t, datadogConventionErrors(broken, env), c.want)
		})
	}
}

// daprMetricErrors: each dapr.* metric queried is one that the pinned Dapr defines (its measure names, with
// _ for /, in pkg/diagnostics) and that every sidecar's OpenMetrics check keeps; a circuit breaker state is
// queried with a status Dapr reports.
func daprMetricErrors(b *Bundle, bodies datadogBodies) []error {
	dir, err := ModuleDir("github.com/dapr/dapr", "v"+b.Pins.Dapr)
	if err != nil {
		return []error{err}
	}
	defined := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "pkg", "diagnostics", "*.go"))
	for _, f := range files {
		src, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`stats\.(?:Int64|Float64)\(\s*"([a-z_/]+)"`).FindAllStringSubmatch(string(src), -1) {
			defined[strings.ReplaceAll(m[1], "/", "_")] = true
		}
	}
	var errs []string
	var all []string
	for _, body := range bodies {
		all = append(all, queries(body)...)
	}
	for _, metric := range QueriedMetrics(all...) {
		raw, ok := strings.CutPrefix(metric, "dapr.")
		if !ok {
			continue
		}
		if h, suffix, _ := strings.Cut(raw, "."); suffix == "" || suffix == "sum" || suffix == "count" || suffix == "bucket" {
			raw = h // the OpenMetrics check's histogram parts
		}
		if !defined[raw] {
			errs = append(errs, fmt.Sprintf("%s: Dapr %s defines no metric dapr_%s", metric, b.Pins.Dapr, raw))
		}
		for _, d := range b.Deployments() {
			if d.DaprEnabled() && !openMetricsKeeps(d.Annotation("ad.datadoghq.com/daprd.checks"), metric) {
				errs = append(errs, fmt.Sprintf("%s: the daprd OpenMetrics check of deployment %s does not keep it", metric, d.Name))
			}
		}
	}
	// Dapr sends the gauge once per state, as tag status, at 1 for the breaker's current state and 0 for the others.
	states := []string{string(daprbreaker.StateClosed), string(daprbreaker.StateHalfOpen), string(daprbreaker.StateOpen), string(daprbreaker.StateUnknown)}
	watched := false
	for _, q := range all {
		for _, m := range regexp.MustCompile(`dapr\.resiliency_cb_state\{([^}]*)\}`).FindAllStringSubmatch(q, -1) {
			for _, tag := range strings.Split(m[1], ",") {
				if s, ok := strings.CutPrefix(tag, "status:"); ok && !slices.Contains(states, s) {
					errs = append(errs, fmt.Sprintf("query %q: Dapr reports a breaker's status as one of %q, not %q", q, states, s))
				}
			}
		}
	}
	for _, rel := range bodies.monitors() {
		q, _ := bodies[rel]["query"].(string)
		watched = watched || regexp.MustCompile(`dapr\.resiliency_cb_state\{([^}]*,)?status:`+string(daprbreaker.StateOpen)+`[,}].* > 0$`).MatchString(q)
	}
	if !watched {
		errs = append(errs, fmt.Sprintf("no monitor alerts when dapr.resiliency_cb_state{status:%s} is above 0", daprbreaker.StateOpen))
	}
	return toErrors(errs)
}

// openMetricsKeeps: the openmetrics instance of an Autodiscovery annotation sends metric (namespace.name).
func openMetricsKeeps(annotation, metric string) bool {
	var checks openMetricsChecks
	if json.Unmarshal([]byte(annotation), &checks) != nil {
		return false
	}
	for _, in := range checks.OpenMetrics.Instances {
		name, ok := strings.CutPrefix(metric, in.Namespace+".")
		name, _, _ = strings.Cut(name, ".")
		for _, re := range in.Metrics {
			if ok && regexp.MustCompile("^(?:"+re+")$").MatchString(name) {
				return true
			}
		}
	}
	return false
}

func TestDatadogQueriesDaprMetricsDaprSends(t *testing.T) {
	f, bodies := fixtures(t), loadDatadogBodies(t)
	requireNoErrors(t, "dapr metrics", daprMetricErrors(f.Bundle, bodies))
	m := "datadog/monitors/circuit-breaker-open.json"
	for _, c := range []struct {
		name, want string
		breakIt    func(b datadogBodies, bundle *Bundle)
	}{
		{"MetricDaprDoesNotDefine", "defines no metric dapr_runtime_service_invocation_req_sent_latency_ms", func(b datadogBodies, _ *Bundle) {
			setPath(b[dashboardFile], "avg:dapr.runtime_service_invocation_req_sent_latency_ms.sum{*}", "widgets", 0, "definition", "widgets", 0, "definition", "requests", 0, "queries", 0, "query")
		}},
		{"BreakerStateAsValue", "no monitor alerts", func(b datadogBodies, _ *Bundle) {
			b[m]["query"] = "max(last_5m):max:dapr.resiliency_cb_state{env:demo} by {app_id,target} >= 2"
		}},
		{"BreakerStatusDaprDoesNotReport", `not "opened"`, func(b datadogBodies, _ *Bundle) {
			b[m]["query"] = strings.Replace(b[m]["query"].(string), "status:open", "status:opened", 1)
		}},
		{"MetricTheAgentDoesNotKeep", "does not keep it", func(b datadogBodies, bundle *Bundle) {
			annotate("comms", "ad.datadoghq.com/daprd.checks", `{"openmetrics": {"instances": [{"namespace": "dapr", "metrics": ["http_server_request_count"]}]}}`)(t, bundle)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := bodies[m]; !ok {
				t.Fatalf("no %s", m)
			}
			broken, bundle := bodies.copyBodies(t), f.Copy()
			c.breakIt(broken, bundle)
			requireError(t, daprMetricErrors(bundle, broken), c.want)
		})
	}
}
