package propagation_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/propagation"
)

// A service joins its caller's trace (the original's extract, then the
// run's root span) and hands the node making the next call to the service
// it calls (the original's inject), as README's "Across services" says.
func ExampleStartRunFromHTTP() {
	e, err := engine.New(engine.WithSink(&engine.MemorySink{}))
	if err != nil {
		panic(err)
	}
	defer e.Shutdown(context.Background())

	in := http.Header{} // the request the caller sent
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	in.Set("baggage", "tenant=acme")

	run, bag, err := propagation.StartRunFromHTTP(e, in, engine.RunInfo{FlowID: "flow"})
	if err != nil {
		fmt.Println("malformed carrier:", err) // counted by the caller; the run starts anyway
	}
	n := run.StartNode("plugin:1", "plugin", "search")
	n.SetSpanKind(engine.SpanKindClient)

	out, _ := http.NewRequest("GET", "http://127.0.0.1:1/search", nil)
	propagation.InjectHTTP(out.Header, n.SpanContext(), bag)
	tp := out.Header.Get("traceparent")
	fmt.Println("same trace:", strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-"))
	sc := n.SpanContext()
	fmt.Println("parent is the node:", strings.Contains(tp, hex.EncodeToString(sc.SpanID[:])))
	fmt.Println("sampled:", strings.HasSuffix(tp, "-01"))
	fmt.Println("baggage:", out.Header.Get("baggage"))
	n.End()
	run.End(0, "success")
	// Output:
	// same trace: true
	// parent is the node: true
	// sampled: true
	// baggage: tenant=acme
}

// A service that honours OTEL_PROPAGATORS, as one on the OpenTelemetry
// SDK does, extracts and injects with the Propagator of FromEnv. Here
// the variable's value is "tracecontext": the caller's baggage is neither
// read nor forwarded.
func ExampleFromEnv() {
	f, err := propagation.ParseFormats("tracecontext") // FromEnv reads it from OTEL_PROPAGATORS
	if err != nil {
		panic(err)
	}
	p := propagation.New(f)

	in := http.Header{}
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	in.Set("baggage", "user=alice")
	sc, bag := p.ExtractHTTP(in)
	fmt.Println("joined:", sc.IsValid(), "baggage members:", bag.Len())

	out := in.Clone() // a proxy forwarding the caller's headers
	p.InjectHTTP(out, sc, bag)
	fmt.Println("traceparent sent:", out.Get("traceparent") != "", "baggage sent:", out.Get("baggage") != "")
	// Output:
	// joined: true baggage members: 0
	// traceparent sent: true baggage sent: false
}
