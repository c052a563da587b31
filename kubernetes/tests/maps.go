package manifests

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime"
)

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }

// get walks maps (string keys) and lists (int indexes).
func get(v any, path ...any) (any, bool) {
	cur := v
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := cur.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil, false
			}
			cur = l[k]
		default:
			panic(fmt.Sprintf("bad path element %v", p))
		}
	}
	return cur, true
}

func str(v any, path ...any) string {
	x, ok := get(v, path...)
	if !ok || x == nil {
		return ""
	}
	switch s := x.(type) {
	case string:
		return s
	case bool:
		return strconv.FormatBool(s)
	case int64:
		return strconv.FormatInt(s, 10)
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	default:
		return fmt.Sprint(s)
	}
}

func mapAt(v any, path ...any) map[string]any {
	x, _ := get(v, path...)
	m, _ := x.(map[string]any)
	return m
}

func listAt(v any, path ...any) []any {
	x, _ := get(v, path...)
	l, _ := x.([]any)
	return l
}

// Set puts value at path, creating maps on the way; a nil value deletes the last key.
func Set(v any, value any, path ...any) {
	cur := v
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m := cur.(map[string]any)
			if last {
				if value == nil {
					delete(m, k)
				} else {
					m[k] = value
				}
				return
			}
			next, ok := m[k]
			if !ok || next == nil {
				next = map[string]any{}
				m[k] = next
			}
			cur = next
		case int:
			l := cur.([]any)
			if last {
				l[k] = value
				return
			}
			cur = l[k]
		}
	}
}

// DeepCopy copies objects so a test can break one copy and keep the original.
func DeepCopy(objs []Object) []Object {
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = Object{Source: o.Source, Map: runtime.DeepCopyJSON(normalize(o.Map).(map[string]any))}
	}
	return out
}

// normalize gives numbers the Go types the API server's JSON decoding gives them (int64 for
// whole numbers), which runtime.DeepCopyJSON and the validators expect.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return normalize(float64(x))
	case float64:
		// JSON decoding gives float64; the API server decodes whole numbers as int64.
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	default:
		return x
	}
}
