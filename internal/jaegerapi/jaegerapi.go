// Package jaegerapi reads traces back from Jaeger's query API for the e2e
// tests (e2e/ and examples/eino-agent): the one client and the part of
// the answer they check.
//
// # Concurrency
//
// Traces may be called from any goroutine.
package jaegerapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Trace is one trace of a /api/traces answer.
type Trace struct {
	TraceID string `json:"traceID"`
	Spans   []Span `json:"spans"`
}

// Span is one span of a Trace.
type Span struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []KeyValue `json:"tags"`
	Logs []struct {
		Fields []KeyValue `json:"fields"`
	} `json:"logs"`
}

// KeyValue is a tag of a span or a field of a span log.
type KeyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Traces returns at most limit traces of service from the last hour, from
// the Jaeger query API at query (http://host:16686). A status other than
// 200 (Jaeger has not indexed the service yet) is no traces and no error.
func Traces(query, service string, limit int) ([]Trace, error) {
	resp, err := http.Get(fmt.Sprintf("%s/api/traces?service=%s&limit=%d&lookback=1h", query, url.QueryEscape(service), limit))
	if err != nil {
		return nil, fmt.Errorf("get traces of %s: %w", service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var body struct {
		Data []Trace `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode traces of %s: %w", service, err)
	}
	return body.Data, nil
}
