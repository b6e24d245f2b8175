package export

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestEndpointSecretsOutsideUserinfo: a token given as a query without a
// name (https://collector/v1/traces?<token>) was printed as the name of a
// REDACTED value, by the Exporter, a Config and the messages that show the
// endpoint; credentials in a URL whose scheme is given twice
// (http://http://user:pass@host, where url.Parse puts them in the path)
// were printed whole by the error refusing it.
func TestEndpointSecretsOutsideUserinfo(t *testing.T) {
	const tok = "tok3n-9f2c41d7"
	r := newReceiver(t, ProtocolHTTPProtobuf, nil)
	r.Start()
	defer r.Stop()
	cfg := testConfig(ProtocolHTTPProtobuf, "http://"+r.Addr+"/?"+tok)
	e, log := newLogged(t, cfg)
	produce(t, e, Traces, "q", 1, 1)
	flush(t, e)
	shutdown(t, e)
	outs := []string{e.String(), fmt.Sprint(e), cfg.String(), fmt.Sprintf("%+v", cfg)}
	for _, err := range log.all() {
		outs = append(outs, chainMessages(err)...)
	}
	for _, out := range outs {
		if strings.Contains(out, tok) {
			t.Errorf("the token is printed: %s", out)
		}
	}
	if !strings.Contains(e.String(), r.Addr) {
		t.Errorf("the endpoint is not shown: %s", e)
	}

	const pass = "s3cretpw-77"
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "FLOWTEL_LARGE_FIELDS_URL"} {
		_, err := FromLookup(lookupOf(map[string]string{name: "http://http://user:" + pass + "@collector:4317"}))
		if !errors.Is(err, ErrInvalidEnv) || strings.Contains(err.Error(), pass) {
			t.Errorf("%s: %v, want an error without the password", name, err)
		}
	}
	c := Config{Endpoint: "http://http://user:" + pass + "@collector:4317"}
	if _, err := New(c); err == nil || strings.Contains(err.Error(), pass) {
		t.Errorf("New: %v, want an error without the password", err)
	}
	if strings.Contains(c.String(), pass) {
		t.Errorf("the Config prints the password: %s", c)
	}
}

// TestEndpointPathAtPrinted: the redaction of credentials url.Parse puts
// in a path (a scheme given twice) replaced what precedes an '@' in any
// path, so that an exporter whose endpoint's path holds one
// (/tenants/ops@example.com) was printed without the path the user
// debugs. RedactURL's cases are in TestRedactURL's table.
func TestEndpointPathAtPrinted(t *testing.T) {
	r := newReceiver(t, ProtocolHTTPProtobuf, nil)
	r.Start()
	defer r.Stop()
	e, err := New(testConfig(ProtocolHTTPProtobuf, "http://"+r.Addr+"/tenants/ops@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, e)
	if !strings.Contains(e.String(), "/tenants/ops@example.com") {
		t.Errorf("the exporter does not show its path: %s", e)
	}
}
