package encode

import (
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/internal/race"

	colt "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestResourceManyAttrs gives NewEncoder a resource of 2^20 attributes
// (OTEL_RESOURCE_ATTRIBUTES can hold that many), repeated keys among
// them: it keeps the last of each key, and returns. Before, the check for
// repeated keys compared each attribute with every later one, 5 x 10^11
// comparisons here (200,000 attributes took otlp.New three minutes), so
// the test ran into go test's timeout.
func TestResourceManyAttrs(t *testing.T) {
	n := 1 << 20
	if race.Enabled {
		n = 1 << 16 // the race detector's slowdown: the map path still runs
	}
	attrs := make([]Attr, n)
	for i := range attrs {
		attrs[i] = Attr{Key: "k" + strconv.Itoa(i%(n/2)), Value: Int64Value(int64(i))}
	}
	attrs = append(attrs, Attr{Key: "service.name", Value: StringValue("shadowed")})
	e := NewEncoder(Resource{ServiceName: "svc", Attrs: attrs})
	var req colt.ExportTraceServiceRequest
	b := e.AppendTraces(nil, []*Run{{TraceID: TraceID{1}, SpanID: SpanID{1}, StartUnixNano: 1, EndUnixNano: 2}})
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, kv := range req.ResourceSpans[0].Resource.Attributes {
		if _, dup := got[kv.Key]; dup {
			t.Fatalf("resource key %q twice", kv.Key)
		}
		got[kv.Key] = kv.Value.GetIntValue()
	}
	if got["k0"] != int64(n/2) || got["k"+strconv.Itoa(n/2-1)] != int64(n-1) || len(got) != n/2+4 {
		t.Errorf("%d keys, k0 = %d; want %d keys (and service.name, telemetry.sdk.*), k0 the last value %d", len(got), got["k0"], n/2, n/2)
	}
	if sn := req.ResourceSpans[0].Resource.Attributes[0]; sn.Key != "service.name" || sn.Value.GetStringValue() != "svc" {
		t.Errorf("service.name = %v, want svc", sn)
	}
}
