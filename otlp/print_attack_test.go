package otlp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/export"
)

// TestPrintedWithoutSecrets prints, with every verb a log line uses, what
// holds credentials: an exporter and a store made with headers, a URL's
// user information and a token query, the otlp sink and the offloader
// around them, and the engine. None may print a credential. Before, %v of
// an export.Exporter printed its headers and its basic authentication,
// %v of an export.HTTPStore its Authorization header, %s its token query,
// and %s of the otlp sink and the offloader the exporter's and the
// store's fields within them.
func TestPrintedWithoutSecrets(t *testing.T) {
	const secret = "s3cr3tTOKENvalue"
	headers := map[string]string{"x-api-key": secret}
	store, err := export.NewHTTPStore("https://user:"+secret+"@store.example/b/?sig="+secret, http.Header{"Authorization": {"Bearer " + secret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	off := encode.NewOffloader(store, encode.OffloadConfig{})
	defer off.Close(context.Background())
	e, err := New(export.Config{Endpoint: "http://u:" + secret + "@127.0.0.1:1", Headers: headers,
		LargeFields: export.LargeFieldConfig{URL: "https://user:" + secret + "@store.example/b/?sig=" + secret, Headers: map[string]string{"Authorization": "Bearer " + secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for _, protocol := range []string{export.ProtocolGRPC, export.ProtocolHTTPProtobuf} {
		exp, err := export.New(export.Config{Protocol: protocol, Endpoint: "http://u:" + secret + "@127.0.0.1:1", Headers: headers})
		if err != nil {
			t.Fatal(err)
		}
		defer exp.Shutdown(context.Background())
		printed(t, secret, protocol+" exporter", exp)
	}
	printed(t, secret, "store", store)
	printed(t, secret, "store value", *store)
	printed(t, secret, "offloader", off)
	printed(t, secret, "sink", e.Sink())
	// fmt reads a live engine's fields while its pipeline writes them (a
	// data race under -race): the engine is printed shut down.
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	printed(t, secret, "engine", e)
	printed(t, secret, "stats", e.Stats())
}

// printed fails t when v, printed with a verb a log line uses, shows secret.
func printed(t *testing.T, secret, name string, v any) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if s := fmt.Sprintf(verb, v); strings.Contains(s, secret) {
			i := strings.Index(s, secret)
			t.Errorf("%s printed with %s shows a credential: ...%s...", name, verb, s[max(0, i-120):min(len(s), i+len(secret))])
		}
	}
}
