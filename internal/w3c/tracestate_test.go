package w3c

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type kv struct{ k, v string }

func members(ts TraceState) []kv {
	var out []kv
	for k, v := range ts.All() {
		out = append(out, kv{k, v})
	}
	return out
}

func TestParseTraceStateValid(t *testing.T) {
	long := strings.Repeat("z", 256)
	tests := []struct {
		name string
		in   string
		want []kv
		norm string
	}{
		{"empty", "", nil, ""},
		{"one", "congo=t61rcWkgMzE", []kv{{"congo", "t61rcWkgMzE"}}, "congo=t61rcWkgMzE"},
		{"two", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", []kv{{"rojo", "00f067aa0ba902b7"}, {"congo", "t61rcWkgMzE"}}, ""},
		{"whitespace around commas", "rojo=1 ,\t congo=2", []kv{{"rojo", "1"}, {"congo", "2"}}, "rojo=1,congo=2"},
		{"empty members", ",rojo=1,,congo=2,", []kv{{"rojo", "1"}, {"congo", "2"}}, "rojo=1,congo=2"},
		{"whitespace-only member", " ,a=1", []kv{{"a", "1"}}, "a=1"},
		{"only empty members", " , ,", nil, ""},
		{"multi-tenant key", "fw529a3039@dt=x,0a@b-c_d*e/f=y", []kv{{"fw529a3039@dt", "x"}, {"0a@b-c_d*e/f", "y"}}, ""},
		{"value with inner space and symbols", "a= x !~", []kv{{"a", " x !~"}}, ""},
		{"longest key and value", long + "=" + long, []kv{{long, long}}, ""},
		{"key of digits and symbols", "a0_-*/=v", []kv{{"a0_-*/", "v"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := ParseTraceState(tt.in)
			if err != nil {
				t.Fatalf("ParseTraceState(%q): %v", tt.in, err)
			}
			if got := members(ts); !slices.Equal(got, tt.want) {
				t.Fatalf("members = %v, want %v", got, tt.want)
			}
			if ts.Len() != len(tt.want) {
				t.Fatalf("Len = %d, want %d", ts.Len(), len(tt.want))
			}
			norm := tt.norm
			if norm == "" && len(tt.want) > 0 {
				norm = tt.in
			}
			if got := ts.String(); got != norm {
				t.Fatalf("String = %q, want %q", got, norm)
			}
			if got := string(AppendTraceState([]byte("x"), ts)); got != "x"+norm {
				t.Fatalf("AppendTraceState = %q, want %q", got, "x"+norm)
			}
			for _, m := range tt.want {
				if v, ok := ts.Get(m.k); !ok || v != m.v {
					t.Fatalf("Get(%q) = %q, %v", m.k, v, ok)
				}
			}
			if _, ok := ts.Get("absent"); ok {
				t.Fatal("Get(absent) found something")
			}
		})
	}
}

func TestParseTraceStateInvalid(t *testing.T) {
	var many []string
	for i := range 33 {
		many = append(many, fmt.Sprintf("k%d=v", i))
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"33 members", strings.Join(many, ","), errTSTooMany},
		{"too long", strings.Repeat(" ", MaxTraceStateBytes+1), errTSTooLong},
		{"no equal", "a", errTSNoEqual},
		{"empty key", "=v", errTSKey},
		{"upper-case key", "Rojo=1", errTSKey},
		{"key starts with digit", "1a=1", errTSKey},
		{"key too long", strings.Repeat("a", 257) + "=1", errTSKey},
		{"key with dot", "a.b=1", errTSKey},
		{"space before equal", "a =1", errTSKey},
		{"two at signs", "a@b@c=1", errTSKey},
		{"tenant too long", strings.Repeat("a", 242) + "@b=1", errTSKey},
		{"tenant starts with symbol", "_a@b=1", errTSKey},
		{"empty tenant", "@b=1", errTSKey},
		{"system too long", "a@" + strings.Repeat("b", 15) + "=1", errTSKey},
		{"system starts with digit", "a@1b=1", errTSKey},
		{"empty system", "a@=1", errTSKey},
		{"empty value", "a=", errTSValue},
		{"value too long", "a=" + strings.Repeat("v", 257), errTSValue},
		{"value with equal", "a=b=c", errTSValue},
		{"value with control", "a=b\x01", errTSValue},
		{"value with tab inside", "a=b\tc", errTSValue},
		{"value non-ascii", "a=é", errTSValue},
		{"value only spaces", "a=  ", errTSValue},
		{"duplicate key", "a=1,b=2,a=3", errTSDuplicate},
		{"invalid member among valid", "a=1,B=2", errTSKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := ParseTraceState(tt.in)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrTraceState) {
				t.Fatalf("ParseTraceState(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if ts.Len() != 0 || ts.String() != "" {
				t.Fatalf("invalid header left members: %q", ts.String())
			}
		})
	}
	_, err := ParseTraceState(strings.Join(many, ","))
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("33 members: error %v does not wrap ErrLimit", err)
	}
	if _, err := ParseTraceState(strings.Join(many[:32], ",")); err != nil {
		t.Fatalf("32 members: %v", err)
	}
}

func TestTraceStateInsertDelete(t *testing.T) {
	ts, err := ParseTraceState("a=1, b=2 ,c=3")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := ts.Insert("b", "9")
	if err != nil {
		t.Fatal(err)
	}
	if got := ins.String(); got != "b=9,a=1,c=3" {
		t.Fatalf("Insert existing = %q", got)
	}
	ins, err = ins.Insert("z@v", "0")
	if err != nil {
		t.Fatal(err)
	}
	if got := ins.String(); got != "z@v=0,b=9,a=1,c=3" || ins.Len() != 4 {
		t.Fatalf("Insert new = %q (%d)", got, ins.Len())
	}
	if got := ts.String(); got != "a=1,b=2,c=3" {
		t.Fatalf("Insert modified the receiver: %q", got)
	}
	if _, err := ts.Insert("B", "1"); !errors.Is(err, ErrTraceState) {
		t.Fatalf("Insert bad key: %v", err)
	}
	if _, err := ts.Insert("b", "x,y"); !errors.Is(err, ErrTraceState) {
		t.Fatalf("Insert bad value: %v", err)
	}
	del := ins.Delete("a")
	if got := del.String(); got != "z@v=0,b=9,c=3" || del.Len() != 3 {
		t.Fatalf("Delete = %q (%d)", got, del.Len())
	}
	if same := del.Delete("absent"); same != del {
		t.Fatal("Delete of an absent key changed the value")
	}
	one, _ := TraceState{}.Insert("k", "v")
	if got := one.Delete("k"); got != (TraceState{}) {
		t.Fatalf("Delete last = %+v, want empty", got)
	}

	// A full list drops its right-most member.
	var full TraceState
	for i := range MaxTraceStateMembers {
		full, err = full.Insert(fmt.Sprintf("k%d", i), "v")
		if err != nil {
			t.Fatal(err)
		}
	}
	more, err := full.Insert("new", "v")
	if err != nil {
		t.Fatal(err)
	}
	ms := members(more)
	if len(ms) != MaxTraceStateMembers || ms[0].k != "new" || ms[len(ms)-1].k != "k1" {
		t.Fatalf("full insert: %d members, first %v last %v", len(ms), ms[0], ms[len(ms)-1])
	}
	if _, err := ParseTraceState(more.String()); err != nil {
		t.Fatalf("re-parse of full list: %v", err)
	}
}

// randTraceStateKey returns a random valid key, sometimes multi-tenant.
func randTraceStateKey(r *rand.Rand) string {
	const rest = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	word := func(first string, max int) string {
		n := r.IntN(max)
		b := []byte{first[r.IntN(len(first))]}
		for range n {
			b = append(b, rest[r.IntN(len(rest))])
		}
		return string(b)
	}
	if r.IntN(3) == 0 {
		return word("abcdefghijklmnopqrstuvwxyz0123456789", 12) + "@" + word("abcdefghijklmnopqrstuvwxyz", 13)
	}
	return word("abcdefghijklmnopqrstuvwxyz", 20)
}

// randTraceStateValue returns a random valid value.
func randTraceStateValue(r *rand.Rand) string {
	n := 1 + r.IntN(24)
	b := make([]byte, n)
	for i := range b {
		for {
			c := byte(0x20 + r.IntN(0x7f-0x20))
			if c != ',' && c != '=' && (c != ' ' || i != n-1) {
				b[i] = c
				break
			}
		}
	}
	return string(b)
}

// randTraceState returns a random valid header, the members it holds, and
// their number; with ws it adds optional whitespace and empty members.
func randTraceState(r *rand.Rand, ws bool) (string, map[string]string, []kv) {
	n := r.IntN(MaxTraceStateMembers + 1)
	seen := map[string]string{}
	var list []kv
	var sb strings.Builder
	for len(list) < n {
		k := randTraceStateKey(r)
		if _, dup := seen[k]; dup {
			continue
		}
		v := randTraceStateValue(r)
		seen[k] = v
		list = append(list, kv{k, v})
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		if ws && r.IntN(3) == 0 {
			sb.WriteString(" \t,")
		}
		sb.WriteString(k + "=" + v)
		if ws && r.IntN(3) == 0 {
			sb.WriteString("\t ")
		}
	}
	return sb.String(), seen, list
}

func TestTraceStateRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range iters(2000) {
		in, want, list := randTraceState(r, i%2 == 1)
		ts, err := ParseTraceState(in)
		if err != nil {
			t.Fatalf("ParseTraceState(%q): %v", in, err)
		}
		if got := members(ts); !slices.Equal(got, list) {
			t.Fatalf("members(%q) = %v, want %v", in, got, list)
		}
		got := maps.Collect(ts.All())
		if !maps.Equal(got, want) {
			t.Fatalf("map mismatch for %q", in)
		}
		again, err := ParseTraceState(ts.String())
		if err != nil || !slices.Equal(members(again), list) || again.String() != ts.String() {
			t.Fatalf("parse(format(parse(%q))) = %q, %v", in, again.String(), err)
		}
	}
}
