// Command intake stands in for Datadog's intake in the end-to-end test: it answers the HTTP
// endpoints the Datadog exporter posts to, decodes each payload with Datadog's own types
// (pkg/proto's AgentPayload and StatsPayload, agent-payload's MetricPayload and SketchPayload)
// and serves what it decoded as JSON at GET /decoded.
package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"

	"github.com/DataDog/agent-payload/v5/gogen"
	"github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"
	"github.com/klauspost/compress/zstd"
)

// received is everything decoded so far, by kind, plus the payloads that failed to decode.
type received struct {
	mu       sync.Mutex
	Traces   []*trace.AgentPayload  `json:"traces"`
	Stats    []*trace.StatsPayload  `json:"stats"`
	Series   []*gogen.MetricPayload `json:"series"`
	Sketches []*gogen.SketchPayload `json:"sketches"`
	Logs     []json.RawMessage      `json:"logs"`
	JSON     []json.RawMessage      `json:"json"`
	Other    map[string]int         `json:"other"`
	Errors   []string               `json:"errors"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "host:port to listen on")
	flag.Parse()
	r := &received{Other: map[string]int{}, Errors: []string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/validate", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"valid":true}`)
	})
	mux.HandleFunc("GET /decoded", func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(r); err != nil {
			log.Print(err)
		}
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, req *http.Request) {
		if err := r.add(req); err != nil {
			r.mu.Lock()
			r.Errors = append(r.Errors, fmt.Sprintf("%s (%s): %v", req.URL.Path, req.Header.Get("Content-Type"), err))
			r.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	log.Printf("Datadog intake stand-in listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func (r *received) add(req *http.Request) error {
	body, err := decompress(req)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Header.Get("Content-Type") == "application/json" {
		// The exporter's own telemetry, sent with Datadog's API client, and the logs.
		if !json.Valid(body) {
			return fmt.Errorf("invalid JSON")
		}
		if req.URL.Path == "/api/v2/logs" {
			r.Logs = append(r.Logs, body)
		} else {
			r.JSON = append(r.JSON, body)
		}
		return nil
	}
	switch req.URL.Path {
	case "/api/v0.2/traces":
		p := &trace.AgentPayload{}
		if err := p.UnmarshalVT(body); err != nil {
			return err
		}
		r.Traces = append(r.Traces, p)
	case "/api/v0.2/stats":
		p := &trace.StatsPayload{}
		if _, err := p.UnmarshalMsg(body); err != nil {
			return err
		}
		r.Stats = append(r.Stats, p)
	case "/api/v2/series":
		p := &gogen.MetricPayload{}
		if err := p.Unmarshal(body); err != nil {
			return err
		}
		r.Series = append(r.Series, p)
	case "/api/beta/sketches":
		p := &gogen.SketchPayload{}
		if err := p.Unmarshal(body); err != nil {
			return err
		}
		r.Sketches = append(r.Sketches, p)
	default:
		r.Other[req.URL.Path]++
	}
	return nil
}

// decompress undoes the Content-Encoding the Datadog exporter chose for the payload.
func decompress(req *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return raw, nil
	case "gzip":
		rd, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(raw))
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(raw))
		if err == nil {
			defer d.Close()
			rd = d
		}
	default:
		return nil, fmt.Errorf("unknown Content-Encoding %q", enc)
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rd)
}
