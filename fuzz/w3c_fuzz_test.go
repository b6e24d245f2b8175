package fuzz

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/flowtel/flowtel/internal/w3c"
)

// FuzzTraceParent checks that ParseTraceParent never panics and that on
// accepted input format∘parse gives back the first 55 characters and
// parse∘format∘parse is the identity.
func FuzzTraceParent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := w3c.ParseTraceParent(s)
		if err != nil {
			if tp != (w3c.TraceParent{}) {
				t.Fatalf("error %v with a non-zero value %+v", err, tp)
			}
			return
		}
		if !tp.IsValid() {
			t.Fatalf("accepted %q as an invalid %+v", s, tp)
		}
		out := string(w3c.AppendTraceParent(nil, tp))
		if out != s[:w3c.TraceParentLen] {
			t.Fatalf("format(parse(%q)) = %q", s, out)
		}
		again, err := w3c.ParseTraceParent(out)
		if err != nil || again != tp {
			t.Fatalf("parse(format(parse(%q))) = %+v, %v; want %+v", s, again, err, tp)
		}
	})
}

type tsMember struct{ k, v string }

func traceStateMembers(ts w3c.TraceState) []tsMember {
	var out []tsMember
	for k, v := range ts.All() {
		out = append(out, tsMember{k, v})
	}
	return out
}

// FuzzTraceState checks that ParseTraceState never panics, that an accepted
// header has at most 32 members and that parse∘format∘parse is the identity.
func FuzzTraceState(f *testing.F) {
	for _, s := range []string{
		"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		" rojo=1 ,\t,congo=2 ",
		"fw529a3039@dt=Zm9vYmFy,a@b=c",
		"a=1,a=2",
		"A=1",
		"a= x",
		"",
		",",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := w3c.ParseTraceState(s)
		if err != nil {
			if ts.Len() != 0 || ts.String() != "" {
				t.Fatalf("error %v with members %q", err, ts.String())
			}
			return
		}
		list := traceStateMembers(ts)
		if len(list) != ts.Len() || ts.Len() > w3c.MaxTraceStateMembers {
			t.Fatalf("%q: Len %d, %d members", s, ts.Len(), len(list))
		}
		out := ts.String()
		if string(w3c.AppendTraceState(nil, ts)) != out {
			t.Fatalf("%q: AppendTraceState and String differ", s)
		}
		again, err := w3c.ParseTraceState(out)
		if err != nil {
			t.Fatalf("parse(format(parse(%q))) = %q: %v", s, out, err)
		}
		if !slices.Equal(traceStateMembers(again), list) || again.String() != out {
			t.Fatalf("parse(format(parse(%q))) = %q, want %q", s, again.String(), out)
		}
		for _, m := range list {
			if v, ok := ts.Get(m.k); !ok || v != m.v {
				t.Fatalf("%q: Get(%q) = %q, %v; want %q", s, m.k, v, ok, m.v)
			}
		}
	})
}

type bagMember struct{ k, raw, v, props string }

func baggageMembers(t *testing.T, b w3c.Baggage) []bagMember {
	var out []bagMember
	for m := range b.All() {
		v := m.Value()
		if !utf8.ValidString(v) {
			t.Fatalf("member %q: Value %q is not UTF-8", m.Key, v)
		}
		if string(m.AppendValue(nil)) != v {
			t.Fatalf("member %q: AppendValue and Value differ", m.Key)
		}
		var props []byte
		for p := range m.Properties() {
			props = append(props, ';')
			props = append(props, p.Key...)
			if p.HasValue {
				props = append(props, '=')
				props = append(props, p.Value()...)
			}
		}
		out = append(out, bagMember{m.Key, m.RawValue(), v, string(props)})
	}
	return out
}

// FuzzBaggage checks that ParseBaggage never panics, keeps its limits, and
// that parse∘format∘parse is the identity on what it kept (invalid members
// are dropped, so the kept part is the accepted input).
func FuzzBaggage(f *testing.F) {
	for _, s := range []string{
		"userId=alice,serverNode=DF%2028,isProduction=false;ttl=60",
		" a = 1 ;p; q = 2 ,,b=%FF",
		"a=1,b,c=%zz,d=x y",
		"k=v;;p;",
		"k=v; ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := w3c.ParseBaggage(s)
		list := baggageMembers(t, b)
		if len(list) != b.Len() || b.Len() > w3c.MaxBaggageMembers {
			t.Fatalf("%q: Len %d, %d members", s, b.Len(), len(list))
		}
		out := b.String()
		if string(w3c.AppendBaggage(nil, b)) != out || len(out) > len(s) {
			t.Fatalf("%q: formatted %q", s, out)
		}
		again, err := w3c.ParseBaggage(out)
		if err != nil {
			t.Fatalf("parse(format(parse(%q))) = %q: %v", s, out, err)
		}
		if !slices.Equal(baggageMembers(t, again), list) || again.String() != out {
			t.Fatalf("parse(format(parse(%q))) = %q", s, again.String())
		}
	})
}
