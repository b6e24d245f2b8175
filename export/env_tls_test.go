package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFromLookupTLSFilesNamed: a TLS file that is no PEM certificate, or
// a client certificate given without its key, passed FromLookup (the
// file was readable) and New refused it naming Config's fields ("CAFile,
// CertFile, KeyFile"), never the variable a user set. Each is now
// refused by FromLookup naming the variable that gave the file, per
// signal too, with no key's content in the message; a signal without
// TLS (an http:// endpoint) still leaves its files unread, as New does.
func TestFromLookupTLSFilesNamed(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	secret := "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END EC PRIVATE KEY-----\n"
	if err := os.WriteFile(bad, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	const tlsEP = "https://otel:4317"
	for _, tc := range []struct {
		env  map[string]string
		want []string // the variables the error names
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_CERTIFICATE": bad}, []string{"OTEL_EXPORTER_OTLP_CERTIFICATE"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": bad}, []string{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.certFile},
			[]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": p.keyFile},
			[]string{"OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.certFile,
			"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": bad, "OTEL_EXPORTER_OTLP_CLIENT_KEY": p.keyFile},
			[]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"}},
		// The per-signal endpoint is the one with TLS.
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": tlsEP,
			"OTEL_EXPORTER_OTLP_CERTIFICATE": bad}, []string{"OTEL_EXPORTER_OTLP_CERTIFICATE"}},
	} {
		_, err := FromLookup(lookupOf(tc.env))
		if !errors.Is(err, ErrInvalidEnv) {
			t.Errorf("%v: %v, want an error wrapping ErrInvalidEnv", tc.env, err)
			continue
		}
		for _, v := range tc.want {
			if !strings.Contains(err.Error(), v) {
				t.Errorf("%v: %q does not name %s", tc.env, err, v)
			}
		}
		if strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%v: %q prints a key's content", tc.env, err)
		}
	}

	// Valid files, and bad ones for signals without TLS, are taken.
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": tlsEP, "OTEL_EXPORTER_OTLP_CERTIFICATE": p.caFile,
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.certFile, "OTEL_EXPORTER_OTLP_CLIENT_KEY": p.keyFile},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317", "OTEL_EXPORTER_OTLP_CERTIFICATE": bad,
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": bad},
	} {
		c, err := FromLookup(lookupOf(env))
		if err != nil {
			t.Errorf("%v: %v", env, err)
			continue
		}
		if _, err := c.resolve(); err != nil {
			t.Errorf("%v: New would refuse what FromLookup took: %v", env, err)
		}
	}
}
