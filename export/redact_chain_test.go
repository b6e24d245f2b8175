package export

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
)

// chainMessages returns the message of err and of every error in its
// chain, as an error reporter that lists the causes prints them.
func chainMessages(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, chainMessages(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, chainMessages(e)...)
		}
	}
	return out
}

// TestRedactedErrorChain: a redacted error unwrapped to the original, so
// that the message just redacted came back in clear from errors.Unwrap,
// and from any reporter that lists an error's causes. Its chain is
// redacted now, and errors.Is and errors.As still find what it wraps.
func TestRedactedErrorChain(t *testing.T) {
	const token = "tok-8d1f-secret"
	r := newRedactor(map[string]string{"Authorization": "Bearer " + token}, nil)
	clean := &grpcError{msg: "export traces: gRPC Unavailable: down"}
	cases := map[string]error{
		"wrapped":     fmt.Errorf("export traces: %w", fmt.Errorf("receiver said %s: %w", token, context.Canceled)),
		"joined":      errors.Join(errors.New("one"), fmt.Errorf("two %s: %w", token, context.DeadlineExceeded), clean),
		"several %w":  fmt.Errorf("%w; %w", fmt.Errorf("said %s", token), clean),
		"deep in one": fmt.Errorf("a: %w", fmt.Errorf("b: %w", fmt.Errorf("c %s: %w", token, clean))),
	}
	for name, orig := range cases {
		err := r.err(orig)
		msgs := chainMessages(err)
		if len(msgs) < 2 {
			t.Errorf("%s: the chain is cut: %q", name, msgs)
		}
		for _, m := range msgs {
			if strings.Contains(m, token) {
				t.Errorf("%s: the chain holds the token: %q", name, m)
			}
		}
		if !errors.Is(err, orig) {
			t.Errorf("%s: errors.Is does not find the original", name)
		}
	}
	if err := r.err(cases["wrapped"]); !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is does not find context.Canceled in %v", err)
	}
	if err := r.err(cases["joined"]); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is does not find context.DeadlineExceeded in %v", err)
	}
	for _, name := range []string{"joined", "several %w", "deep in one"} {
		var ge *grpcError
		if !errors.As(r.err(cases[name]), &ge) || ge != clean {
			t.Errorf("%s: errors.As does not find the gRPC error that holds no secret", name)
		}
	}
}

// TestContentTypeEchoRedacted: a receiver answering 200 with a type not
// OTLP's is reported with that type, which it writes: it may echo a
// header. The type was clipped to 512 bytes and redacted after, so that
// a token cut by the clip left its first bytes in the report, and the
// whole of it in the report's chain (errors.Unwrap).
func TestContentTypeEchoRedacted(t *testing.T) {
	const token = "tok-5a0c2e9b7d4f1a3c6e8b"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		// The token is cut by the clip: its first 8 bytes before it.
		w.Header().Set("Content-Type", "text/html; q="+strings.Repeat("x", maxErrorMessageBytes-13-len("Bearer ")-8)+auth)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<html>ok</html>"))
	}))
	defer srv.Close()
	cfg := testConfig(ProtocolHTTPProtobuf, srv.URL)
	cfg.Headers = map[string]string{"Authorization": "Bearer " + token}
	errs := exportReported(t, cfg, 2, 2)
	for _, err := range errs {
		if !strings.Contains(err.Error(), "text/html") {
			t.Errorf("the report does not name the type: %v", err)
		}
		for _, m := range chainMessages(err) {
			if strings.Contains(m, token[:8]) {
				t.Errorf("the report or its chain holds the token's first bytes: %q", m)
			}
		}
	}
}

// TestRedactedChainFindsTransportErrors: the errors an exporter with
// secrets (headers, user information) reports keep the causes a caller
// tests for, on real loopback connections: the certificate verification
// error and x509's own for a receiver whose certificate no root signs,
// and the refused connection (syscall.ECONNREFUSED, *net.OpError), none
// of them printing a secret.
func TestRedactedChainFindsTransportErrors(t *testing.T) {
	const token, pass = "tok-71c3e9a0", "pw-2b8d44f1"
	p := newPKI(t)
	r := newReceiver(t, ProtocolHTTPProtobuf, nil)
	r.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	r.Start()
	defer r.Stop()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	for _, ep := range []string{"https://user:" + pass + "@" + r.Addr, "http://user:" + pass + "@" + refused} {
		cfg := testConfig(ProtocolHTTPProtobuf, ep)
		cfg.Headers = map[string]string{"Authorization": "Bearer " + token}
		cfg.Retry = RetryConfig{Disabled: true}
		errs := exportReported(t, cfg, 1, 1)
		for _, err := range errs {
			for _, m := range chainMessages(err) {
				if strings.Contains(m, token) || strings.Contains(m, pass) {
					t.Errorf("%s: the report or its chain holds a secret: %q", ep, m)
				}
			}
			var opErr *net.OpError
			if ep[:5] == "https" {
				var cv *tls.CertificateVerificationError
				var ua x509.UnknownAuthorityError
				if !errors.As(err, &cv) || !errors.As(err, &ua) {
					t.Errorf("%s: errors.As finds no certificate verification error in %v", ep, err)
				}
			} else if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &opErr) {
				t.Errorf("%s: errors.Is/As find no refused connection in %v", ep, err)
			}
		}
	}
}

// exportReported exports batches of items traces through an exporter of
// cfg and returns the errors it reported, at least one.
func exportReported(t *testing.T, cfg Config, batches, items int) []error {
	t.Helper()
	e, log := newLogged(t, cfg)
	produce(t, e, Traces, "r", batches, items)
	flush(t, e)
	shutdown(t, e)
	errs := log.all()
	if len(errs) == 0 {
		t.Fatalf("%s: nothing reported", RedactURL(cfg.Endpoint))
	}
	return errs
}
