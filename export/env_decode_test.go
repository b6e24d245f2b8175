package export

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/resource"
)

// TestEnvListDecodesValuesOnly: HEADERS and OTEL_RESOURCE_ATTRIBUTES are
// in the W3C Baggage format the specification names, where a key is a
// token and only a value is percent-encoded; OTel Go decodes values only
// (its envconfig's stringToHeader, resource's constructOTResources).
// flowtel decoded keys too: "x%2Dtenant" became header "x-tenant" here
// and stayed "x%2Dtenant" in a service on the SDK.
func TestEnvListDecodesValuesOnly(t *testing.T) {
	// '%' is a token character: HTTP takes such a name, gRPC's metadata
	// does not (refused at start, see the end).
	c, err := FromLookup(lookupOf(map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL": ProtocolHTTPProtobuf,
		"OTEL_EXPORTER_OTLP_HEADERS":  "x%2Dtenant=a%2Db,k%zz=v",
		"OTEL_RESOURCE_ATTRIBUTES":    "team%2Ename=a%2Cb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Headers["x%2Dtenant"] != "a-b" || c.Headers["k%zz"] != "v" || len(c.Headers) != 2 {
		t.Errorf("headers %q, want x%%2Dtenant=a-b and k%%zz=v", c.Headers)
	}
	if len(c.ResourceAttrs) != 1 || c.ResourceAttrs[0] != (KeyValue{Key: "team%2Ename", Value: "a,b"}) {
		t.Errorf("resource attributes %q", c.ResourceAttrs)
	}

	if _, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x%2Dtenant=a"})); err == nil {
		t.Error("a header name gRPC cannot carry was accepted for gRPC")
	}

	// Random lists against the SDK's reading of OTEL_RESOURCE_ATTRIBUTES.
	rng := rand.New(rand.NewPCG(4, 4))
	parts := []string{"a", "b", "%2D", "%2E", "%41", ".", "-", "_", "é", "%C3%A9", " "}
	word := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(5) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		return b.String()
	}
	for range 300 {
		var members []string
		for range 1 + rng.IntN(4) {
			members = append(members, "k"+word()+"="+word()) // an empty key is refused here, dropped by the SDK
		}
		v := strings.Join(members, ",")
		c, err := FromLookup(lookupOf(map[string]string{"OTEL_RESOURCE_ATTRIBUTES": v}))
		if err != nil {
			t.Fatalf("OTEL_RESOURCE_ATTRIBUTES=%q: %v", v, err)
		}
		got := map[string]string{}
		for _, kv := range c.ResourceAttrs {
			got[kv.Key] = kv.Value
		}
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", v)
		res, err := resource.New(context.Background(), resource.WithFromEnv())
		if err != nil {
			t.Fatalf("the SDK refused %q: %v", v, err)
		}
		want := map[string]string{}
		for _, kv := range res.Attributes() {
			want[string(kv.Key)] = kv.Value.AsString()
		}
		if len(got) != len(want) {
			t.Fatalf("OTEL_RESOURCE_ATTRIBUTES=%q: %q, the SDK %q", v, got, want)
		}
		for k, w := range want {
			if got[k] != w {
				t.Fatalf("OTEL_RESOURCE_ATTRIBUTES=%q: %q, the SDK %q", v, got, want)
			}
		}
	}
}
