package bench

import (
	"bytes"
	"net/http"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestHTTPBodyOverLimit posts OTLP/HTTP trace bodies past the receiver's
// 64 MiB limit, built so that the limit falls between two ResourceSpans:
// the request must be refused (413) and count nothing, under both decoders.
// Before, the body was cut at the limit and the cut one, still a valid
// request, was answered 200 with the spans past the cut uncounted: records
// lost with the sender told they arrived.
func TestHTTPBodyOverLimit(t *testing.T) {
	const limit = 64 << 20
	// One ResourceSpans of exactly 1 MiB on the wire holding one span.
	rs := func(size int) []byte {
		for pad := size; ; pad-- {
			span := protowire.AppendTag(nil, 5, protowire.BytesType) // Span.name
			span = protowire.AppendBytes(span, bytes.Repeat([]byte{'x'}, pad))
			ss := protowire.AppendTag(nil, 2, protowire.BytesType) // ScopeSpans.spans
			ss = protowire.AppendBytes(ss, span)
			r := protowire.AppendTag(nil, 2, protowire.BytesType) // ResourceSpans.scope_spans
			r = protowire.AppendBytes(r, ss)
			out := protowire.AppendTag(nil, 1, protowire.BytesType) // request.resource_spans
			out = protowire.AppendBytes(out, r)
			if len(out) == size {
				return out
			}
			if len(out) < size {
				t.Fatalf("no padding makes %d bytes", size)
			}
		}
	}
	one := rs(1 << 20)
	body := bytes.Repeat(one, limit/len(one)+1) // 65 spans, 64 of them within the limit
	for _, decode := range []string{DecodeFull, DecodeCount} {
		t.Run(decode, func(t *testing.T) {
			rc, err := StartReceiver(ReceiverConfig{Protocol: ProtocolHTTPProtobuf, Decode: decode})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			resp, err := http.Post(rc.Endpoint()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c := rc.Counts(); resp.StatusCode != http.StatusRequestEntityTooLarge || c.Spans != 0 {
				t.Errorf("a %d-byte body over the %d-byte limit: status %d, %d spans counted; want 413 and none", len(body), limit, resp.StatusCode, c.Spans)
			}
			// Within the limit the same spans are counted.
			resp, err = http.Post(rc.Endpoint()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body[:limit]))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c := rc.Counts(); resp.StatusCode != http.StatusOK || c.Spans != limit/uint64(len(one)) {
				t.Errorf("a body at the limit: status %d, %d spans counted; want 200 and %d", resp.StatusCode, c.Spans, limit/len(one))
			}
		})
	}
}
