package propagation

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/w3c"
)

// The W3C Trace Context test suite (w3c/trace-context, test/test.py, run
// at its default strictness) sends header lines to a service and reads
// the traceparent and tracestate the service sends on. TestW3CSuiteCases
// replays its cases through a real loopback HTTP server, so that header
// names are canonicalised, values trimmed and repeated lines kept as
// net/http does, and checks what Propagator.ExtractHTTP hands to the run
// (the traceparent joined or a new trace, the tracestate forwarded).

const suiteTraceID = "12345678901234567890123456789012"

// suiteHeader is one header line as the harness sends it.
type suiteHeader struct{ name, value string }

// suiteTP is a valid traceparent with the harness's trace-id.
func suiteTP(flags string) suiteHeader {
	return suiteHeader{"traceparent", "00-" + suiteTraceID + "-1234567890123456-" + flags}
}

// suiteKey is the key grammar the harness parses the forwarded tracestate
// with: a simple key, or tenant@system with parts of at most 241 and 14
// characters (Trace Context Level 1, the W3C Recommendation).
var suiteKey = regexp.MustCompile(`^([a-z][_0-9a-z\-*/]{0,255}|[0-9a-z][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$`)

// extractVia sends hs to a loopback server and extracts what it received.
func extractVia(t *testing.T, hs []suiteHeader) engine.SpanContext {
	t.Helper()
	var sc engine.SpanContext
	var p Propagator
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc, _ = p.ExtractHTTP(r.Header)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		req.Header[h.name] = append(req.Header[h.name], h.value) // as sent: name case kept
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return sc
}

func TestW3CSuiteTraceParent(t *testing.T) {
	tid := suiteTraceID
	join := []struct {
		name  string
		value string
		lines int // 2: sent twice
		want  bool
	}{
		{"valid", "00-" + tid + "-1234567890123456-01", 1, true},
		{"duplicated", "00-" + tid + "-1234567890123456-01", 2, false},
		{"version 00 with a trailing character", "00-" + tid + "-1234567890123456-01.", 1, false},
		{"version 00 with future fields", "00-" + tid + "-1234567890123456-01-what-the-future-will-be-like", 1, false},
		{"future version", "cc-" + tid + "-1234567890123456-01", 1, true},
		{"future version with future fields", "cc-" + tid + "-1234567890123456-01-what-the-future-will-be-like", 1, true},
		{"future version without a dash after flags", "cc-" + tid + "-1234567890123456-01.what-the-future-will-be-like", 1, false},
		{"version ff", "ff-" + tid + "-1234567890123456-01", 1, false},
		{"version illegal first", ".0-" + tid + "-1234567890123456-01", 1, false},
		{"version illegal second", "0.-" + tid + "-1234567890123456-01", 1, false},
		{"version of 3 digits", "000-" + tid + "-1234567890123456-01", 1, false},
		{"version of 4 digits", "0000-" + tid + "-1234567890123456-01", 1, false},
		{"version of 1 digit", "0-" + tid + "-1234567890123456-01", 1, false},
		{"trace-id all zero", "00-00000000000000000000000000000000-1234567890123456-01", 1, false},
		{"trace-id illegal first", "00-.2345678901234567890123456789012-1234567890123456-01", 1, false},
		{"trace-id illegal last", "00-1234567890123456789012345678901.-1234567890123456-01", 1, false},
		{"trace-id too long", "00-123456789012345678901234567890123-1234567890123456-01", 1, false},
		{"trace-id too short", "00-1234567890123456789012345678901-1234567890123456-01", 1, false},
		{"trace-id upper case", "00-ABCDEF78901234567890123456789012-1234567890123456-01", 1, false},
		{"parent-id all zero", "00-" + tid + "-0000000000000000-01", 1, false},
		{"parent-id illegal first", "00-" + tid + "-.234567890123456-01", 1, false},
		{"parent-id illegal last", "00-" + tid + "-123456789012345.-01", 1, false},
		{"parent-id too long", "00-" + tid + "-12345678901234567-01", 1, false},
		{"parent-id too short", "00-" + tid + "-123456789012345-01", 1, false},
		{"flags illegal first", "00-" + tid + "-1234567890123456-.0", 1, false},
		{"flags illegal last", "00-" + tid + "-1234567890123456-0.", 1, false},
		{"flags too long", "00-" + tid + "-1234567890123456-001", 1, false},
		{"flags too short", "00-" + tid + "-1234567890123456-1", 1, false},
		{"leading space", " 00-" + tid + "-1234567890123456-01", 1, true},
		{"leading tab", "\t00-" + tid + "-1234567890123456-01", 1, true},
		{"trailing space", "00-" + tid + "-1234567890123456-01 ", 1, true},
		{"trailing tab", "00-" + tid + "-1234567890123456-01\t", 1, true},
		{"whitespace both sides", "\t 00-" + tid + "-1234567890123456-01 \t", 1, true},
	}
	for _, tt := range join {
		t.Run(tt.name, func(t *testing.T) {
			var hs []suiteHeader
			for range tt.lines {
				hs = append(hs, suiteHeader{"traceparent", tt.value})
			}
			sc := extractVia(t, hs)
			if got := sc.IsValid() && sc.TraceID == mustTraceID(t, tid); got != tt.want {
				t.Errorf("over HTTP: joined %v, want %v (%+v)", got, tt.want, sc)
			}
			// A carrier built by hand or read from gRPC metadata is not
			// trimmed by net/http: the same rules hold there.
			h := http.Header{}
			md := map[string][]string{}
			for _, l := range hs {
				h.Add("traceparent", l.value)
				md["traceparent"] = append(md["traceparent"], l.value)
			}
			sc, _, _ = ExtractHTTP(h)
			sc2, _, _ := ExtractGRPC(md)
			for _, sc := range []engine.SpanContext{sc, sc2} {
				if got := sc.IsValid() && sc.TraceID == mustTraceID(t, tid); got != tt.want {
					t.Errorf("from a carrier: joined %v, want %v (%+v)", got, tt.want, sc)
				}
			}
		})
	}
	for _, name := range []string{"trace-parent", "trace.parent"} {
		if sc := extractVia(t, []suiteHeader{{name, "00-" + tid + "-1234567890123456-01"}}); sc.IsValid() {
			t.Errorf("header %q joined the trace", name)
		}
	}
	for _, name := range []string{"TraceParent", "TrAcEpArEnT", "TRACEPARENT"} {
		if sc := extractVia(t, []suiteHeader{{name, "00-" + tid + "-1234567890123456-01"}}); !sc.IsValid() {
			t.Errorf("header %q did not join the trace", name)
		}
	}
}

func mustTraceID(t *testing.T, s string) [16]byte {
	t.Helper()
	tp, err := w3c.ParseTraceParent("00-" + s + "-1234567890123456-01")
	if err != nil {
		t.Fatal(err)
	}
	return tp.TraceID
}

func TestW3CSuiteTraceState(t *testing.T) {
	lines := func(vs ...string) []suiteHeader {
		hs := []suiteHeader{suiteTP("00")}
		for _, v := range vs {
			hs = append(hs, suiteHeader{"tracestate", v})
		}
		return hs
	}
	bars := func(from, to int) string {
		var ms []string
		for i := from; i <= to; i++ {
			n := string(rune('0'+i/10)) + string(rune('0'+i%10))
			ms = append(ms, "bar"+n+"="+n)
		}
		return strings.Join(ms, ",")
	}
	keyNoVendor := "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	keyVendor := keyNoVendor + "@a-z0-9_-*/"
	var value []byte
	for c := byte(0x20); c <= 0x7e; c++ {
		if c != ',' && c != '=' {
			value = append(value, c)
		}
	}
	tests := []struct {
		name   string
		hs     []suiteHeader
		want   map[string]string // members that must be forwarded with these values
		absent []string          // keys that must not be forwarded
		count  int               // members forwarded, when not -1
	}{
		{"both headers", lines("foo=1,bar=2"), map[string]string{"foo": "1", "bar": "2"}, nil, 2},
		{"wrong header names", []suiteHeader{suiteTP("00"), {"trace-state", "foo=1"}, {"trace.state", "foo=1"}}, nil, []string{"foo"}, 0},
		{"header name casing", []suiteHeader{suiteTP("00"), {"TrAcEsTaTe", "foo=1"}}, map[string]string{"foo": "1"}, nil, 1},
		{"empty header", lines(""), nil, nil, 0},
		{"empty line after", lines("foo=1", ""), map[string]string{"foo": "1"}, nil, 1},
		{"empty line before", lines("", "foo=1"), map[string]string{"foo": "1"}, nil, 1},
		{"lines combined", lines("foo=1,bar=2", "rojo=1,congo=2", "baz=3"), map[string]string{"foo": "1", "bar": "2", "rojo": "1", "congo": "2", "baz": "3"}, nil, 5},
		{"duplicate in a line", lines("foo=1,foo=1"), nil, []string{"foo"}, 0},
		{"duplicate with another value", lines("foo=1,foo=2"), nil, []string{"foo"}, 0},
		{"duplicate across lines", lines("foo=1", "foo=1"), nil, []string{"foo"}, 0},
		{"duplicate across lines with another value", lines("foo=1", "foo=2"), nil, []string{"foo"}, 0},
		{"all allowed characters", lines(keyNoVendor + "=" + string(value)), map[string]string{keyNoVendor: string(value)}, nil, 1},
		{"all allowed characters, vendor key", lines(keyVendor + "=" + string(value)), map[string]string{keyVendor: string(value)}, nil, 1},
		{"whitespace around commas", lines("foo=1 \t , \t bar=2, \t baz=3"), map[string]string{"foo": "1", "bar": "2", "baz": "3"}, nil, 3},
		{"tabs around commas", lines("foo=1\t \t,\t \tbar=2,\t \tbaz=3"), map[string]string{"foo": "1", "bar": "2", "baz": "3"}, nil, 3},
		{"leading space", lines(" foo=1"), map[string]string{"foo": "1"}, nil, 1},
		{"leading tab", lines("\tfoo=1"), map[string]string{"foo": "1"}, nil, 1},
		{"trailing space", lines("foo=1 "), map[string]string{"foo": "1"}, nil, 1},
		{"trailing tab", lines("foo=1\t"), map[string]string{"foo": "1"}, nil, 1},
		{"whitespace both sides", lines("\t foo=1 \t"), map[string]string{"foo": "1"}, nil, 1},
		{"key with a space", lines("foo =1"), nil, []string{"foo "}, -1},
		{"upper-case key", lines("FOO=1"), nil, []string{"FOO"}, -1},
		{"key with a dot", lines("foo.bar=1"), nil, []string{"foo.bar"}, -1},
		{"vendor key without system", lines("foo@=1,bar=2"), nil, []string{"bar"}, 0},
		{"vendor key without tenant", lines("@foo=1,bar=2"), nil, []string{"bar"}, 0},
		{"vendor key with two at signs", lines("foo@@bar=1,bar=2"), nil, []string{"bar"}, 0},
		{"vendor key with two systems", lines("foo@bar@baz=1,bar=2"), nil, []string{"bar"}, 0},
		{"32 members", lines(bars(1, 10), bars(11, 20), bars(21, 30), bars(31, 32)), map[string]string{"bar01": "01", "bar32": "32"}, nil, 32},
		{"33 members", lines(bars(1, 10), bars(11, 20), bars(21, 30), bars(31, 33)), nil, []string{"bar01"}, 0},
		{"key of 256", lines("foo=1", strings.Repeat("z", 256)+"=1"), map[string]string{"foo": "1"}, nil, 2},
		{"key of 257", lines("foo=1", strings.Repeat("z", 257)+"=1"), nil, []string{"foo"}, 0},
		{"tenant of 241, system of 14", lines("foo=1", strings.Repeat("t", 241)+"@"+strings.Repeat("v", 14)+"=1"), map[string]string{"foo": "1"}, nil, 2},
		{"tenant of 242", lines("foo=1", strings.Repeat("t", 242)+"@v=1"), nil, []string{"foo"}, 0},
		{"system of 15", lines("foo=1", "t@"+strings.Repeat("v", 15)+"=1"), nil, []string{"foo"}, 0},
		{"value with an equals sign", lines("foo=bar=baz"), nil, []string{"foo"}, 0},
		{"empty value", lines("foo=,bar=3"), nil, []string{"foo", "bar"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := extractVia(t, tt.hs)
			if !sc.IsValid() {
				t.Fatalf("traceparent not joined: %+v", sc)
			}
			// What the harness would read back: it parses the forwarded
			// header with the Level 1 key grammar and refuses any other.
			got := map[string]string{}
			n := 0
			for _, m := range strings.Split(sc.TraceState, ",") {
				if m == "" {
					continue
				}
				k, v, ok := strings.Cut(m, "=")
				if !ok || !suiteKey.MatchString(k) {
					t.Fatalf("forwarded tracestate %q holds %q, which the suite's parser refuses", sc.TraceState, m)
				}
				got[k] = v
				n++
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("forwarded tracestate %q: %s=%q, want %q", sc.TraceState, k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("forwarded tracestate %q holds %s", sc.TraceState, k)
				}
			}
			if tt.count >= 0 && n != tt.count {
				t.Errorf("forwarded tracestate %q has %d members, want %d", sc.TraceState, n, tt.count)
			}
		})
	}
	// tracestate without traceparent: a new trace, nothing forwarded.
	if sc := extractVia(t, []suiteHeader{{"tracestate", "foo=1,bar=2"}}); sc.IsValid() || sc.TraceState != "" {
		t.Errorf("tracestate alone gave %+v", sc)
	}
}

// TestW3CBaggageSuiteCases replays the W3C Baggage test suite's cases
// (w3c/baggage, test/test_baggage.py) through a loopback server: members,
// values with '=', percent-encoded values, properties with and without
// values, optional whitespace everywhere, and the limits a platform must
// propagate (64 members, 8192 bytes).
func TestW3CBaggageSuiteCases(t *testing.T) {
	type prop struct{ k, v string }
	type member struct {
		k, v  string
		props []prop
	}
	decoded := "\t \"';=asdf!@#$%^&*()"
	encoded := "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29"
	long := strings.Repeat("0123456789", 819)
	var many []string
	var manyWant []member
	for i := range 64 {
		k := "key" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		many = append(many, k+"=value")
		manyWant = append(manyWant, member{k: k, v: "value"})
	}
	for _, tc := range []struct {
		name string
		in   []string
		want []member
	}{
		{"simple", []string{"SomeKey=SomeValue"}, []member{{k: "SomeKey", v: "SomeValue"}}},
		{"properties", []string{"SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal"},
			[]member{{"SomeKey", "SomeValue", []prop{{"SomeProp", ""}}}, {"SomeKey2", "SomeValue2", []prop{{"ValueProp", "PropVal"}}}}},
		{"properties with whitespace", []string{"SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal"},
			[]member{{"SomeKey", "SomeValue", []prop{{"SomeProp", ""}}}, {"SomeKey2", "SomeValue2", []prop{{"ValueProp", "PropVal"}}}}},
		{"equals in the value", []string{"SomeKey=SomeValue=equals"}, []member{{k: "SomeKey", v: "SomeValue=equals"}}},
		{"percent-encoded", []string{"SomeKey=" + encoded}, []member{{k: "SomeKey", v: decoded}}},
		{"percent-encoded with whitespace", []string{"SomeKey \t = \t " + encoded + " \t "}, []member{{k: "SomeKey", v: decoded}}},
		{"two properties", []string{"SomeKey \t = \t SomeValue \t ; \t SomeProp \t ; \t SecondProp \t = \t PropValue"},
			[]member{{"SomeKey", "SomeValue", []prop{{"SomeProp", ""}, {"SecondProp", "PropValue"}}}}},
		{"lines combined", []string{"userId=alice", "serverNode=DF%2028,isProduction=false"},
			[]member{{k: "userId", v: "alice"}, {k: "serverNode", v: "DF 28"}, {k: "isProduction", v: "false"}}},
		{"64 members", []string{strings.Join(many, ",")}, manyWant},
		{"8192 bytes", []string{"a=" + long}, []member{{k: "a", v: long}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Baggage
			var p Propagator
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, b = p.ExtractHTTP(r.Header)
			}))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header["baggage"] = tc.in
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if st := p.Stats(); st.BaggageInvalid != 0 {
				t.Errorf("counted as malformed: %+v", st)
			}
			var got []member
			for m := range b.All() {
				gm := member{k: m.Key, v: m.Value()}
				for pr := range m.Properties() {
					gm.props = append(gm.props, prop{pr.Key, pr.Value()})
				}
				got = append(got, gm)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// What is forwarded parses back to the same members.
			out := http.Header{}
			InjectHTTP(out, engine.SpanContext{}, b)
			again, err := ParseBaggage(out.Get("baggage"))
			if err != nil || again.Len() != len(tc.want) || again.String() != b.String() {
				t.Errorf("forwarded %q: %d members, %v", out.Get("baggage"), again.Len(), err)
			}
		})
	}
}

// TestEmptyHeaderLines: an empty baggage line beside others, as a proxy
// may add one, is no list-member: the members are kept and nothing is
// counted as malformed, as for an empty header alone. Joined with ",",
// it made an empty member, and the carrier was counted as malformed.
func TestEmptyHeaderLines(t *testing.T) {
	for _, lines := range [][]string{{"", "a=1"}, {"a=1", ""}, {"a=1", "", "b=2"}, {"", ""}} {
		var b Baggage
		var p Propagator
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if got := r.Header.Values("baggage"); len(got) != len(lines) {
				t.Errorf("server received %q, sent %q", got, lines)
			}
			_, b = p.ExtractHTTP(r.Header)
		}))
		req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["baggage"] = lines
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		want := strings.Join(slices.DeleteFunc(slices.Clone(lines), func(s string) bool { return s == "" }), ",")
		if st := p.Stats(); st.BaggageInvalid != 0 || b.String() != want {
			t.Errorf("lines %q: baggage %q, want %q; %+v", lines, b.String(), want, st)
		}
		_, _, err = ExtractGRPC(map[string][]string{"baggage": lines})
		if err != nil {
			t.Errorf("lines %q from gRPC metadata: %v", lines, err)
		}
	}
}
