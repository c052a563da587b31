package manifests

import (
	"cmp"
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
)

// The files scripts/deploy.sh sends to Datadog's API (no test sends them), and the list of the metrics they query.
const (
	dashboardFile      = "datadog/dashboard.json"
	queriedMetricsFile = "datadog/queried-metrics.txt"
)

// datadogBodies are the dashboard and monitor files as generic JSON, by path in the repository.
type datadogBodies map[string]map[string]any

func loadDatadogBodies(t *testing.T) datadogBodies {
	t.Helper()
	repo := fix(t).repo
	files, _ := filepath.Glob(filepath.Join(repo, "datadog", "monitors", "*.json"))
	if len(files) < 3 {
		t.Fatalf("want at least 3 monitors in datadog/monitors, found %d", len(files))
	}
	bodies := datadogBodies{}
	for _, f := range append(files, filepath.Join(repo, dashboardFile)) {
		body, err := readOne(f) // JSON is YAML
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo, f)
		bodies[filepath.ToSlash(rel)] = body.Map
	}
	return bodies
}

func (b datadogBodies) monitors() []string {
	return slices.DeleteFunc(slices.Sorted(maps.Keys(b)), func(rel string) bool { return rel == dashboardFile })
}

// decodeBody returns what Datadog's API client models do not take: unknown keys (AdditionalProperties), bad values (UnparsedObject).
func decodeBody(rel string, body map[string]any) []error {
	var v any = &datadogV1.Monitor{}
	if rel == dashboardFile {
		v = &datadogV1.Dashboard{}
	}
	if err := decode(body, v); err != nil {
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
		where := cmp.Or(strings.TrimPrefix(path, "."), "(top)")
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			switch name, _, _ := strings.Cut(f.Tag.Get("json"), ","); {
			case f.Name == "AdditionalProperties" && fv.Len() > 0:
				keys := slices.Sorted(maps.Keys(fv.Interface().(map[string]any)))
				errs = append(errs, fmt.Errorf("%s: unknown key(s) %q of %s", where, keys, v.Type().Name()))
			case f.Name == "UnparsedObject" && !fv.IsZero():
				errs = append(errs, fmt.Errorf("%s: not a valid %s (a bad enum value or type)", where, v.Type().Name()))
			case name != "" && name != "-":
				errs = append(errs, leftovers(fv, path+"."+name)...)
			default: // the client's Nullable wrappers keep their value in unexported fields
				errs = append(errs, leftovers(fv, path)...)
			}
		}
	}
	return errs
}

// Each file is exactly what the models of Datadog's API client take, and a broken copy is not.
func TestDatadogFilesDecodeStrictly(t *testing.T) {
	bodies := loadDatadogBodies(t)
	for rel, body := range bodies {
		requireNoErrors(t, rel, decodeBody(rel, body))
	}
	monitor := bodies.monitors()[0]
	for _, c := range []struct {
		name, file, want string
		value            any
		path             []any
	}{
		{"UnknownTopKey", dashboardFile, `unknown key(s) ["template_variable"] of Dashboard`, []any{}, []any{"template_variable"}},
		{"BadWidgetType", dashboardFile, "widgets[0].definition.widgets[0].definition: not a valid WidgetDefinition", "timeserie", []any{"widgets", 0, "definition", "widgets", 0, "definition", "type"}},
		{"UnknownMonitorOption", monitor, `options: unknown key(s) ["notify_nodata"] of MonitorOptions`, true, []any{"options", "notify_nodata"}},
		{"BadMonitorType", monitor, "(top): not a valid Monitor", "metric alrt", []any{"type"}},
		{"MissingQuery", monitor, "required field query missing", nil, []any{"query"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := loadDatadogBodies(t)
			setPath(broken[c.file], c.value, c.path...)
			requireError(t, decodeBody(c.file, broken[c.file]), c.want)
		})
	}
}

// metricInQuery is a metric after its space aggregator (sum:, avg:, p99:, ...) and before its scope {...}.
var metricInQuery = regexp.MustCompile(`(?:^|[^\w.])(?:avg|sum|min|max|count|p\d+(?:\.\d+)?):([A-Za-z][\w.]*)\{`)

// queries lists the query strings of a body: every "q" and "query" value, at any depth.
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

// queriedMetricsErrors: queried-metrics.txt (DatadogIT checks each is sent) lists what the bodies query, each query understood.
func queriedMetricsErrors(bodies datadogBodies, text string) []error {
	var errs []error
	var all []string
	for _, rel := range slices.Sorted(maps.Keys(bodies)) {
		for _, q := range queries(bodies[rel]) {
			n := len(all)
			for _, m := range metricInQuery.FindAllStringSubmatch(q, -1) {
				all = append(all, m[1])
			}
			if len(all) == n {
				errs = append(errs, fmt.Errorf("%s: no metric found in query %q", rel, q))
			}
		}
	}
	slices.Sort(all)
	if want := strings.Join(slices.Compact(all), "\n") + "\n"; text != want {
		errs = append(errs, fmt.Errorf("%s is not the list of the metrics that the dashboard and monitors query; write it as:\n%s", queriedMetricsFile, want))
	}
	return errs
}

func TestDatadogQueriedMetrics(t *testing.T) {
	bodies := loadDatadogBodies(t)
	text, err := os.ReadFile(filepath.Join(fix(t).repo, queriedMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	requireNoErrors(t, queriedMetricsFile, queriedMetricsErrors(bodies, string(text)))
	m := bodies.monitors()[0]
	for name, c := range map[string]struct{ want, query, text string }{
		"NameMissing":        {"is not the list", "", strings.Replace(string(text), "comms.greeter.fallbacks\n", "", 1)},
		"QueryChanged":       {"\nother.metric\n", "avg(last_5m):avg:other.metric{*} > 1", string(text)},
		"QueryNotUnderstood": {"no metric found", "avg(last_5m):other.metric{*} > 1", string(text)},
	} {
		t.Run(name, func(t *testing.T) {
			broken := loadDatadogBodies(t)
			if c.query != "" {
				broken[m]["query"] = c.query
			}
			requireError(t, queriedMetricsErrors(broken, c.text), c.want)
		})
	}
}
