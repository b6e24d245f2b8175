package export

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// The secrets TestNoSecretPrinted sends: two header values and an
// endpoint's user, password and query value.
const (
	secHeader = "hdr-secret-1111"
	secKey    = "key-secret-2222"
	secUser   = "user-secret-3333"
	secPass   = "pass-secret-4444"
	secQuery  = "query-secret-5555"
)

var secrets = []string{secHeader, secKey, secUser, secPass, secQuery,
	base64.StdEncoding.EncodeToString([]byte(secUser + ":" + secPass))}

// wantNoSecret fails if text holds one of the secrets.
func wantNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s prints the secret %q: %s", where, s, text)
		}
	}
}

// secretConfig is a configuration carrying every kind of secret, to addr.
func secretConfig(protocol, scheme, addr string) Config {
	cfg := testConfig(protocol, scheme+"://"+secUser+":"+secPass+"@"+addr+"/?api_key="+secQuery)
	cfg.Headers = map[string]string{"X-Api-Key": secKey, "X-Token": "Bearer " + secHeader}
	cfg.Retry.MaxElapsedTime = 300 * time.Millisecond
	return cfg
}

// echo is a receiver behaviour that answers code with a message repeating
// every header it got, as a careless receiver might ("invalid token ...").
func echo(code codes.Code, rejected int64) func(otlptest.Call) otlptest.Reply {
	return func(c otlptest.Call) otlptest.Reply {
		var b strings.Builder
		for k, vs := range c.Header {
			fmt.Fprintf(&b, "%s=%s ", k, strings.Join(vs, ","))
		}
		return otlptest.Reply{Code: code, Rejected: rejected, Message: "denied: " + b.String()}
	}
}

// TestNoSecretPrinted sends header values and endpoint credentials through
// every error path, for gRPC and HTTP, and checks that no error returned,
// no message given to the ErrorHandler, no Stats field and no gRPC log
// line holds them.
func TestNoSecretPrinted(t *testing.T) {
	t.Run("construction", func(t *testing.T) {
		for name, cfg := range map[string]Config{
			"header value":     {Headers: map[string]string{"X-Bad": secHeader + "\n"}},
			"non-ASCII header": {Protocol: ProtocolHTTPProtobuf, Headers: map[string]string{"X-Bad": secHeader + "é"}},
			"scheme":           {Endpoint: "ftp://" + secUser + ":" + secPass + "@h:1/?k=" + secQuery},
			"port":             {Endpoint: "http://" + secUser + ":" + secPass + "@h:port/?k=" + secQuery},
			"TLS file":         {Endpoint: "https://" + secUser + ":" + secPass + "@h:1/?k=" + secQuery, CAFile: "/nonexistent/ca.pem"},
		} {
			_, err := New(cfg)
			if err == nil {
				t.Fatalf("%s: New succeeded", name)
			}
			wantNoSecret(t, name, err.Error())
		}
		for name, env := range map[string]map[string]string{
			"headers encoding": {"OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=" + secKey + "%zz"},
			"headers value":    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=" + secKey + "%C3%A9"},
			"endpoint":         {"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://" + secUser + ":" + secPass + "@h:1/?k=" + secQuery},
			"endpoint port":    {"OTLP_ENDPOINT": secUser + ":" + secPass + "@h:port"},
		} {
			_, err := FromLookup(lookupOf(env))
			if err == nil {
				t.Fatalf("%s: FromLookup succeeded", name)
			}
			wantNoSecret(t, name, err.Error())
		}
	})
	p := newPKI(t)
	forEachProtocol(t, func(t *testing.T, protocol string) {
		for _, path := range []struct {
			name   string
			behave func(otlptest.Call) otlptest.Reply
			tls    bool
			down   bool
		}{
			{name: "connection refused", down: true},
			{name: "TLS failure", tls: true},
			{name: "4xx", behave: echo(codes.InvalidArgument, 0)},
			{name: "401", behave: echo(codes.Unauthenticated, 0)},
			{name: "5xx retried", behave: echo(codes.Unavailable, 0)},
			{name: "5xx", behave: echo(codes.Internal, 0)},
			{name: "partial success", behave: echo(codes.OK, 1)},
		} {
			t.Run(path.name, func(t *testing.T) {
				r := newReceiver(t, protocol, path.behave)
				scheme := "http"
				if path.tls {
					scheme = "https"
					r.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
				}
				if path.down {
					r.Addr = otlptest.ReserveAddr(t)
				} else {
					r.Start()
				}
				e, log := newLogged(t, secretConfig(protocol, scheme, r.Addr))
				produce(t, e, Traces, "s", 3, 2)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := e.ForceFlush(ctx); err != nil {
					wantNoSecret(t, "ForceFlush", err.Error())
				}
				if err := e.Shutdown(ctx); err != nil {
					wantNoSecret(t, "Shutdown", err.Error())
				}
				errs := log.all()
				if len(errs) == 0 {
					t.Fatal("no error reported")
				}
				for _, err := range errs {
					wantNoSecret(t, "ErrorHandler", err.Error())
				}
				t.Logf("first error: %v", errs[0])
				wantNoSecret(t, "Stats", fmt.Sprintf("%+v", e.Stats()))
				if h := r.Header(); path.behave != nil && (h.Get("X-Api-Key") != secKey || !strings.Contains(errs[0].Error(), "REDACTED")) {
					t.Errorf("the receiver got %v and the error is %q: want the secrets sent, echoed and redacted", h, errs[0])
				}
			})
		}
	})
	wantNoSecret(t, "the gRPC log", grpcLog.String())
}

// TestEndpointCredentials checks that an endpoint's user information is
// sent as basic authentication over gRPC as over HTTP, and that an
// Authorization header wins over it.
func TestEndpointCredentials(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		r := newReceiver(t, protocol, nil)
		r.Start()
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
		for _, tc := range []struct {
			name    string
			headers map[string]string
			want    string
		}{
			{"user information", nil, basic},
			{"Authorization header wins", map[string]string{"Authorization": "Bearer tok"}, "Bearer tok"},
		} {
			cfg := testConfig(protocol, "http://alice:s3cret@"+r.Addr)
			cfg.Headers = tc.headers
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			produce(t, e, Traces, tc.name, 1, 1)
			flush(t, e)
			if got := r.Header().Get("Authorization"); got != tc.want {
				t.Errorf("%s: the receiver got Authorization %q, want %q", tc.name, got, tc.want)
			}
			shutdown(t, e)
		}
	})
}

// TestUndecodableResponseIsExported: a receiver that answers OK (gRPC) or
// 200 (HTTP) with a body that does not decode took the batch; both
// protocols count it as exported and report it once per signal.
func TestUndecodableResponseIsExported(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		r := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Undecodable: true} })
		r.Start()
		e, log := newLogged(t, oneBatchPerRequest(testConfig(protocol, r.Endpoint())))
		var produced [NumSignals]uint64
		for sig := Signal(0); sig < NumSignals; sig++ {
			produced[sig] = produce(t, e, sig, "u", 2, 5)
		}
		flush(t, e)
		wantDelivered(t, e, r, produced)
		errs := log.all()
		if len(errs) != NumSignals || !strings.Contains(errs[0].Error(), "does not decode") {
			t.Errorf("errors %v, want one a signal saying the body does not decode", errs)
		}
		shutdown(t, e)
	})
}

// TestHeaderRules: names and values that gRPC metadata or HTTP would
// refuse are refused by New, naming the header and never its value.
func TestHeaderRules(t *testing.T) {
	const value = "v-4242"
	for _, tc := range []struct {
		name, value string
		grpcOK      bool
		httpOK      bool
	}{
		{"X-Token", value, true, true},
		{"x.dotted_key", value, true, true},
		{"X-Token", value + "é", false, false},
		{"X-Token", value + "\x00", false, false},
		{"X-Token", value + "\ttab", false, true},
		{"X-Tökén", value, false, false},
		{"x!bang", value, false, true},
		{"with space", value, false, false},
		{"", value, false, false},
		{"grpc-timeout", value, false, true},
		{"content-type", value, false, false},
		{"trace-bin", value + "\xff\x00", true, false},
	} {
		for _, protocol := range protocols {
			e, err := New(Config{Protocol: protocol, Endpoint: "http://127.0.0.1:1", Headers: map[string]string{tc.name: tc.value}})
			if err == nil {
				shutdown(t, e)
			}
			ok := tc.grpcOK
			if protocol == ProtocolHTTPProtobuf {
				ok = tc.httpOK
			}
			switch {
			case ok && err != nil:
				t.Errorf("%s %q: %v", protocol, tc.name, err)
			case !ok && !errors.Is(err, ErrInvalidHeader):
				t.Errorf("%s %q=%q: New gave %v, want ErrInvalidHeader", protocol, tc.name, tc.value, err)
			case !ok && badHeaderName(tc.name, ProtocolHTTPProtobuf) && (strings.Contains(err.Error(), tc.name) || strings.Contains(err.Error(), value)):
				// A name that is no HTTP token may be a header line.
				t.Errorf("%s: %q: want neither the header's name nor its value", protocol, err)
			case !ok && !badHeaderName(tc.name, ProtocolHTTPProtobuf) && (!strings.Contains(err.Error(), fmt.Sprintf("%q", tc.name)) || strings.Contains(err.Error(), value)):
				t.Errorf("%s: %q: want the header's name and not its value", protocol, err)
			}
		}
	}
	for _, protocol := range protocols {
		_, err := New(Config{Protocol: protocol, Headers: map[string]string{"X-Token": value, "x-token": value}})
		if !errors.Is(err, ErrInvalidHeader) || !strings.Contains(err.Error(), `"X-Token"`) || strings.Contains(err.Error(), value) {
			t.Errorf("%s: one header spelt twice: %v", protocol, err)
		}
	}
	_, err := FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-token=" + value + "%C3%A9"}))
	if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_HEADERS") || !strings.Contains(err.Error(), `"x-token"`) || strings.Contains(err.Error(), value) {
		t.Errorf("FromLookup: %v, want the variable and the header named, not the value", err)
	}
	_, err = FromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x!y=1"}))
	if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_LOGS_HEADERS") {
		t.Errorf("FromLookup: %v, want the gRPC rule applied to logs' headers", err)
	}
}

// TestHugeRetryInterval: Retry.InitialInterval = math.MaxInt64 used to
// panic a worker on the first retry; New refuses it now, naming the field,
// and the largest accepted value retries without panic.
func TestHugeRetryInterval(t *testing.T) {
	_, err := New(Config{Retry: RetryConfig{InitialInterval: math.MaxInt64}})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Retry.InitialInterval") {
		t.Errorf("New: %v, want ErrInvalidConfig naming Retry.InitialInterval", err)
	}
	r := newReceiver(t, ProtocolGRPC, func(otlptest.Call) otlptest.Reply { return otlptest.Reply{Code: codes.Unavailable} })
	r.Start()
	cfg := testConfig(ProtocolGRPC, r.Endpoint())
	cfg.Retry = RetryConfig{InitialInterval: MaxDuration, MaxInterval: MaxDuration, MaxElapsedTime: MaxDuration}
	cfg.CoalesceBytes = -1 // each batch its own request, as the counts below assume
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, e, Traces, "h", 2, 3)
	waitFor(t, "the first attempts", func() bool { return e.Stats().Signals[Traces].Requests == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = e.Shutdown(ctx)
	s := e.Stats()
	checkIdentity(t, s)
	// A retry waits 12 to 36 h: past MaxElapsedTime, it is dropped at once
	// (retry_exhausted), else Shutdown drops it.
	if st := s.Signals[Traces]; st.DroppedBy[DropRetryExhausted]+st.DroppedBy[DropShutdown] != 6 || st.InFlight != 0 {
		t.Errorf("stats %+v, want the 6 items dropped", st)
	}
}

// TestMaxRequestBytes: a batch of DefaultMaxRequestBytes fits a real gRPC
// server's default 4 MiB limit; a larger one that is not a well-formed
// request (so cannot be split, see TestOversizeBatchSplit) is dropped at
// Enqueue as too_large, and told to the error handler, instead of being
// refused by the receiver.
func TestMaxRequestBytes(t *testing.T) {
	if DefaultMaxRequestBytes >= 4<<20 {
		t.Fatalf("DefaultMaxRequestBytes %d is not under gRPC's default 4 MiB", DefaultMaxRequestBytes)
	}
	r := newReceiver(t, ProtocolGRPC, nil)
	r.Start()
	e, log := newLogged(t, testConfig(ProtocolGRPC, r.Endpoint()))
	if e.MaxRequestBytes() != DefaultMaxRequestBytes {
		t.Errorf("MaxRequestBytes() = %d", e.MaxRequestBytes())
	}
	big := func(size int) (*bytebufferpool.ByteBuffer, int) {
		n := 1
		buf := encodeBatch(t, Traces, "big", n)
		for len(buf.B) < size {
			n *= 2
			buf = encodeBatch(t, Traces, "big", n)
		}
		for len(buf.B) > size {
			n -= max(1, n*(len(buf.B)-size)/len(buf.B))
			buf = encodeBatch(t, Traces, fmt.Sprint("big", n), n)
		}
		return buf, n
	}
	fits, n := big(DefaultMaxRequestBytes)
	if !e.Enqueue(Traces, fits, n) {
		t.Fatalf("a %d-byte batch was refused", len(fits.B))
	}
	over, m := big(4<<20 + 1024)
	over.B = append(over.B, make([]byte, 4<<20+1024-len(over.B))...)
	if e.Enqueue(Traces, over, m) {
		t.Fatal("a malformed batch over 4 MiB was accepted")
	}
	flush(t, e)
	st := e.Stats().Signals[Traces]
	if st.Exported != uint64(n) || st.DroppedBy[DropTooLarge] != uint64(m) || received(r)[Traces] != int64(n) {
		t.Errorf("stats %+v, received %d: want %d exported and %d dropped too_large", st, received(r)[Traces], n, m)
	}
	// The one error is the drop's report, not a refusal by the receiver.
	if errs := log.all(); len(errs) != 1 || !strings.Contains(errs[0].Error(), fmt.Sprintf("dropped %d traces items, each larger than a request may be", m)) {
		t.Errorf("errors: %v", errs)
	}
	shutdown(t, e)

	small, err := New(Config{MaxRequestBytes: 1000, QueueBytes: 500, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if small.MaxRequestBytes() != 500 {
		t.Errorf("MaxRequestBytes() = %d, want QueueBytes 500", small.MaxRequestBytes())
	}
	_ = small.Shutdown(context.Background())
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h:1/x?k=v&a=b#frag": "http://REDACTED@h:1/x?a=REDACTED&k=REDACTED",
		"https://token@h/v1/traces":     "https://REDACTED@h/v1/traces",
		"http://h:4318":                 "http://h:4318",
		"h:4317":                        "h:4317",
		"u:p@h:4317":                    "REDACTED@h:4317",
		"127.0.0.1:4317":                "127.0.0.1:4317",
		"":                              "",
		"http://u:p@h:port/?k=v":        "http://REDACTED@h:port/?REDACTED",
		// A query member without '=' is a value without a name; user
		// information in a path is a scheme given twice.
		"https://h:4318/v1/traces?tok3n-value":       "https://h:4318/v1/traces?REDACTED",
		"https://h/?a=b&tok3n-value":                 "https://h/?REDACTED",
		"http://http://user:s3cretpw@collector:4317": "http://http:/REDACTED@collector:4317",
		"unix:user:s3cretpw@/run/otel.sock":          "REDACTED@/run/otel.sock",
		// An '@' in an ordinary path is no credential's end, and an
		// empty query member is no nameless token.
		"https://collector/tenants/ops@example.com/v1/traces": "https://collector/tenants/ops@example.com/v1/traces",
		"https://u:pw123456@collector/a@b/v1?k=v&&t=x":        "https://REDACTED@collector/a@b/v1?k=REDACTED&t=REDACTED",
		"https://https//user:pw123456@collector:4317":         "https://https/REDACTED@collector:4317",
		"http:///user:pw123456@collector:4317":                "http:///REDACTED@collector:4317",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTTPHeadersAsConfigured: what Config.Headers (OTEL_EXPORTER_OTLP_HEADERS)
// says reaches an OTLP/HTTP receiver. Host names the virtual host (the
// request's Host, which net/http takes from req.Host and not from the
// header map, so it was silently dropped) and a User-Agent of the user's
// replaces flowtel's (it was overwritten). Headers the transport itself
// writes (Content-Type, Content-Encoding, Content-Length,
// Transfer-Encoding, Connection and the other hop-by-hop ones) would be
// overwritten or would corrupt every request: New refuses them by name
// for HTTP; Content-Type was accepted and silently replaced.
func TestHTTPHeadersAsConfigured(t *testing.T) {
	type seen struct{ host, ua, ct, token string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("User-Agent"), r.Header.Get("Content-Type"), r.Header.Get("X-Token")}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		headers map[string]string
		want    seen
	}{
		{map[string]string{"X-Token": "t-1"}, seen{strings.TrimPrefix(srv.URL, "http://"), userAgent, "application/x-protobuf", "t-1"}},
		{map[string]string{"host": "collector.example", "User-Agent": "mine/1.0", "X-Token": "t-2"}, seen{"collector.example", "mine/1.0", "application/x-protobuf", "t-2"}},
	} {
		e, err := New(Config{Protocol: ProtocolHTTPProtobuf, Endpoint: srv.URL, Headers: tc.headers, Retry: RetryConfig{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		e.Enqueue(Traces, encodeBatch(t, Traces, "h", 1), 1)
		shutdown(t, e)
		if s := <-got; s != tc.want {
			t.Errorf("headers %v: the receiver saw %+v, want %+v", tc.headers, s, tc.want)
		}
	}
	for _, name := range []string{"Content-Type", "content-encoding", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"} {
		_, err := New(Config{Protocol: ProtocolHTTPProtobuf, Endpoint: srv.URL, Headers: map[string]string{name: "v-4242"}})
		if !errors.Is(err, ErrInvalidHeader) || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) || strings.Contains(err.Error(), "v-4242") {
			t.Errorf("%s: New gave %v, want ErrInvalidHeader naming it", name, err)
		}
	}
}
