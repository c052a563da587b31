package manifests

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
)

// The monitor that the broken cases break.
const monitorFile = "datadog/monitors/circuit-breaker-open.json"

// datadogAPIBodies: each file is exactly what the models of Datadog's API client take, with nothing they
// leave over: no unknown key (AdditionalProperties), no bad value (UnparsedObject).
func datadogAPIBodies(b *Bundle) []error {
	var errs []error
	for _, rel := range slices.Sorted(maps.Keys(b.DatadogAPI)) {
		var v any = &datadogV1.Monitor{}
		if rel == dashboardFile {
			v = &datadogV1.Dashboard{}
		}
		found := []error{decode(b.DatadogAPI[rel], v)}
		if found[0] == nil {
			found = leftovers(reflect.ValueOf(v), "")
		}
		for _, err := range found {
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
		}
	}
	return errs
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

// queriedMetrics: queried-metrics.txt (DatadogIT checks each is sent) lists what the files query, each query understood.
func queriedMetrics(b *Bundle) []error {
	var errs []error
	var all []string
	for _, rel := range slices.Sorted(maps.Keys(b.DatadogAPI)) {
		for _, q := range queries(b.DatadogAPI[rel]) {
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
	if want := strings.Join(slices.Compact(all), "\n") + "\n"; b.QueriedMetrics != want {
		errs = append(errs, fmt.Errorf("%s is not the list of the metrics that the dashboard and monitors query; write it as:\n%s", queriedMetricsFile, want))
	}
	return errs
}
