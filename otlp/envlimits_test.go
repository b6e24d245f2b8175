package otlp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestNewFromEnvAttributeLimits checks that the OpenTelemetry attribute
// limits reach what the engine exports (they were ignored): value length
// (the smaller of the span's and the log record's, each over the general
// variable), attribute count, event count; invalid values are refused by
// name.
func TestNewFromEnvAttributeLimits(t *testing.T) {
	for _, c := range []struct {
		env                   map[string]string
		valueLen, attrs, evts int
	}{
		{map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "8", "OTEL_ATTRIBUTE_COUNT_LIMIT": "3", "OTEL_SPAN_EVENT_COUNT_LIMIT": "1"}, 8, 3, 1},
		// The span's over the general, the log record's over the general,
		// the smaller of the two.
		{map[string]string{"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "12", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_ATTRIBUTE_COUNT_LIMIT": "5"}, 4, 2, 4},
		{map[string]string{"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "12", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT": "10", "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT": "2"}, 10, 4, 4},
		{map[string]string{"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "6"}, 6, 4, 4},
	} {
		env := map[string]string{"OTLP_ENABLE": "false"}
		for k, v := range c.env {
			env[k] = v
		}
		sink := &engine.MemorySink{}
		e, err := newFromLookup(lookupMap(env), engine.WithSink(sink))
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		run := e.StartRun(engine.RunInfo{AppID: "app"})
		n := run.StartNode("code:1", "code", "c")
		n.Input(engine.String("a", "0123456789abcdef"), engine.String("b", "b"), engine.String("c", "c"), engine.String("d", "d"))
		for range 4 {
			n.Info("m")
		}
		n.End()
		run.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		runs := sink.Runs()
		if len(runs) != 1 || len(runs[0].Nodes) != 1 {
			t.Fatalf("%v: %d runs exported", c.env, len(runs))
		}
		node := runs[0].Nodes[0]
		if len(node.Input) != c.attrs || len(node.Input[0].Value.Str()) != min(c.valueLen, 16) || len(node.Events) != c.evts {
			t.Errorf("%v: %d attributes, first %q, %d events; want %d, %d bytes, %d", c.env, len(node.Input), node.Input[0].Value.Str(), len(node.Events), c.attrs, c.valueLen, c.evts)
		}
	}
	for env, name := range map[string]string{
		"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=0":              "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=big":            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=-1":        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT=1e9":  "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=999999999": "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_ATTRIBUTE_COUNT_LIMIT=0":                     "OTEL_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=9999999":          "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_SPAN_EVENT_COUNT_LIMIT=x":                    "OTEL_SPAN_EVENT_COUNT_LIMIT",
		"OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT=1":           "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_ATTRIBUTE_COUNT_LIMIT=1":                     "OTEL_ATTRIBUTE_COUNT_LIMIT",
	} {
		k, v, _ := strings.Cut(env, "=")
		if _, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", k: v})); !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming %s", env, err, name)
		}
	}
}

// TestNewFromEnvEventAndLinkLimits: OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT
// bounds the attributes of one event given as data, those past it
// counted, and the link limits, which flowtel's spans (no links) always
// hold, are checked; invalid values of the three are refused by name, as
// the other limits are. The three were not read.
func TestNewFromEnvEventAndLinkLimits(t *testing.T) {
	sink := &engine.MemorySink{}
	e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "2",
		"OTEL_SPAN_LINK_COUNT_LIMIT": "0", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "5"}), engine.WithSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	run := e.StartRun(engine.RunInfo{})
	n := run.StartNode("llm:1", "llm", "l")
	n.InfoEvent(engine.Int64("a", 1), engine.Int64("b", 2), engine.Int64("c", 3), engine.Int64("d", 4), engine.Int64("e", 5))
	n.ErrorEvent(engine.Int64("x", 1))
	n.End()
	run.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	node := sink.Runs()[0].Nodes[0]
	if len(node.Events) != 2 || len(node.Events[0].Attrs) != 2 || node.Events[0].Attrs[1].Key != "b" || len(node.Events[1].Attrs) != 1 ||
		node.DroppedAttrs != 3 || e.Stats().AttrsDropped != 3 {
		t.Errorf("events %+v, %d attributes dropped (stats %d), want 2 and 1 kept, 3 dropped", node.Events, node.DroppedAttrs, e.Stats().AttrsDropped)
	}
	for _, name := range []string{"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"} {
		bad := []string{"-1", "x", "1e3", "99999999999"}
		if name == "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT" {
			bad = append(bad, "0", "65537")
		}
		for _, v := range bad {
			if _, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", name: v})); !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: error %v, want one naming %s", name, v, err, name)
			}
		}
	}
}
