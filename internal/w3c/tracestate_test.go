package w3c

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
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
	tenant241, system14 := strings.Repeat("t", 241), strings.Repeat("v", 14)
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
		{"tenant starting with a digit", "1a@b=1,42@x=2", []kv{{"1a@b", "1"}, {"42@x", "2"}}, ""},
		{"longest tenant and system", tenant241 + "@" + system14 + "=1", []kv{{tenant241 + "@" + system14, "1"}}, ""},
		{"every allowed character", allKeyChars + "=" + allValueChars, []kv{{allKeyChars, allValueChars}}, ""},
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

// allKeyChars and allValueChars hold every character the grammar allows
// in a key and a value (the specification's test suite builds the same).
var (
	allKeyChars   = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/"
	allValueChars = func() string {
		var b []byte
		for c := byte(0x20); c <= 0x7e; c++ {
			if c != ',' && c != '=' {
				b = append(b, c)
			}
		}
		return string(b)
	}()
)

// TestParseTraceStateDiscards checks that a header with an invalid
// list-member, a key given twice or more than 32 members is discarded
// whole, with the error naming the rule, as the W3C test suite expects.
func TestParseTraceStateDiscards(t *testing.T) {
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("k%d=v", i))
	}
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{"33 members", strings.Join(many[:33], ","), errTSTooMany},
		{"40 members with spaces", strings.Join(many, " , "), errTSTooMany},
		{"too long", strings.Repeat(" ", MaxTraceStateBytes+1), errTSTooLong},
		{"too long, valid members first", "a=1," + strings.Repeat(" ", MaxTraceStateBytes) + "b=2", errTSTooLong},
		{"no equal", "a", errTSNoEqual},
		{"no equal after a valid member", "a=1,b", errTSNoEqual},
		{"empty key", "=v,b=1", errTSKey},
		{"upper-case key", "Rojo=1,congo=2", errTSKey},
		{"FOO", "FOO=1", errTSKey},
		{"key starts with a digit", "1a=1,bar=2", errTSKey},
		{"key starts with an at sign", "@foo=1,bar=2", errTSKey},
		{"key ends with an at sign", "foo@=1,bar=2", errTSKey},
		{"two at signs in a row", "foo@@bar=1,bar=2", errTSKey},
		{"two systems", "foo@bar@baz=1,bar=2", errTSKey},
		{"system starts with a digit", "foo@1b=1", errTSKey},
		{"tenant of 242", "foo=1," + strings.Repeat("t", 242) + "@v=1", errTSKey},
		{"system of 15", "foo=1,t@" + strings.Repeat("v", 15) + "=1", errTSKey},
		{"key starts with underscore", "_a=1,bar=2", errTSKey},
		{"key too long", "foo=1," + strings.Repeat("z", 257) + "=1", errTSKey},
		{"key with dot", "foo.bar=1", errTSKey},
		{"space before equal", "foo =1,b=2", errTSKey},
		{"empty value", "foo=,bar=3", errTSValue},
		{"value too long", "a=" + strings.Repeat("v", 257), errTSValue},
		{"value with equal", "foo=bar=baz", errTSValue},
		{"value with control", "a=b\x01", errTSValue},
		{"value with tab inside", "a=b\tc", errTSValue},
		{"value non-ascii", "a=é", errTSValue},
		{"value only spaces", "a=  ", errTSValue},
		{"duplicate key", "a=1,b=2,a=3", errTSDuplicate},
		{"same member twice", "foo=1,foo=1", errTSDuplicate},
		{"invalid member among valid", "a=1,B=2,c=3", errTSKey},
		{"invalid member before 32 valid", "X=1," + strings.Join(many[:32], ","), errTSKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := ParseTraceState(tt.in)
			if !errors.Is(err, tt.err) || !errors.Is(err, ErrTraceState) {
				t.Fatalf("ParseTraceState(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if ts != (TraceState{}) || ts.String() != "" || ts.Len() != 0 || len(members(ts)) != 0 {
				t.Fatalf("ParseTraceState(%q) kept %q (Len %d), want nothing", tt.in, ts.String(), ts.Len())
			}
		})
	}
	// 32 members, with empty ones and whitespace, are kept.
	in := strings.Join(many[:32], ",,") + ", ,"
	if ts, err := ParseTraceState(in); err != nil || ts.String() != strings.Join(many[:32], ",") || ts.Len() != 32 {
		t.Fatalf("ParseTraceState(%q) = %q (Len %d), %v", in, ts.String(), ts.Len(), err)
	}
	for _, lim := range []error{errTSTooMany, errTSTooLong} {
		if !errors.Is(lim, ErrLimit) {
			t.Fatalf("%v does not wrap ErrLimit", lim)
		}
	}
}

// The specification's grammar (Trace Context Level 1), written as regular
// expressions, for the reference parser below.
var (
	refKeyRE   = regexp.MustCompile(`^([a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$`)
	refValueRE = regexp.MustCompile(`^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$`)
)

// refTraceState is the specification read literally, with no care for
// cost: split on commas, trim SP and HTAB, skip empty members; any invalid
// member, a key seen twice, more than 32 members or a header longer than
// MaxTraceStateBytes discards the whole header (bad reports it).
func refTraceState(s string) (kept []kv, bad bool) {
	if len(s) > MaxTraceStateBytes {
		return nil, true
	}
	seen := map[string]bool{}
	for _, m := range strings.Split(s, ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		k, v, ok := strings.Cut(m, "=")
		if !ok || !refKeyRE.MatchString(k) || !refValueRE.MatchString(v) || seen[k] || len(kept) == MaxTraceStateMembers {
			return nil, true
		}
		seen[k] = true
		kept = append(kept, kv{k, v})
	}
	return kept, false
}

// TestTraceStateReference holds ParseTraceState to refTraceState over
// random headers, random corruptions of them, and duplicates and overflows
// made on purpose.
func TestTraceStateReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := range iters(20000) {
		in, _, list := randTraceState(r, i%2 == 0)
		switch i % 4 {
		case 1:
			in = testkit.Mutate(r, in)
		case 2:
			if len(list) > 0 { // repeat a member somewhere
				m := list[r.IntN(len(list))]
				in += "," + m.k + "=" + randTraceStateValue(r)
			}
		case 3:
			in += "," + in
		}
		want, bad := refTraceState(in)
		ts, err := ParseTraceState(in)
		if got := members(ts); !slices.Equal(got, want) || ts.Len() != len(want) {
			t.Fatalf("ParseTraceState(%q) kept %v (Len %d), want %v", in, got, ts.Len(), want)
		}
		if (err != nil) != bad {
			t.Fatalf("ParseTraceState(%q) error %v, reference discarded it: %v", in, err, bad)
		}
		again, err := ParseTraceState(ts.String())
		if err != nil || !slices.Equal(members(again), want) || again.String() != ts.String() {
			t.Fatalf("parse(format(parse(%q))) = %q, %v", in, again.String(), err)
		}
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

// TestTraceStateTruncate checks the specification's truncation order:
// whole members, those over 128 characters first (right-most first), then
// from the end.
func TestTraceStateTruncate(t *testing.T) {
	big1, big2 := "b1="+strings.Repeat("x", 130), "b2="+strings.Repeat("y", 130)
	in := "a=1," + big1 + ",c=3," + big2 + ",e=5"
	ts, err := ParseTraceState(in)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		max  int
		want string
	}{
		{len(in), in},
		{len(in) - 1, "a=1," + big1 + ",c=3,e=5"},
		{len("a=1," + big1 + ",c=3,e=5"), "a=1," + big1 + ",c=3,e=5"},
		{len("a=1,c=3,e=5"), "a=1,c=3,e=5"},
		{len("a=1,c=3,e=5") - 1, "a=1,c=3"},
		{3, "a=1"},
		{2, ""},
		{0, ""},
	}
	for _, tt := range tests {
		got := ts.Truncate(tt.max)
		if got.String() != tt.want || got.Len() != len(members(got)) {
			t.Fatalf("Truncate(%d) = %q (Len %d), want %q", tt.max, got.String(), got.Len(), tt.want)
		}
		if len(got.String()) > tt.max {
			t.Fatalf("Truncate(%d) kept %d bytes", tt.max, len(got.String()))
		}
	}
	// Every member kept up to the specification's floor.
	r := rand.New(rand.NewPCG(5, 6))
	for range iters(500) {
		in, _, _ := randTraceState(r, true)
		ts, _ := ParseTraceState(in)
		if n := len(ts.String()); n <= MinTraceStateBytes && ts.Truncate(MinTraceStateBytes).String() != ts.String() {
			t.Fatalf("Truncate(%d) cut a %d-byte header", MinTraceStateBytes, n)
		}
		if got := ts.Truncate(MinTraceStateBytes); len(got.String()) > MinTraceStateBytes {
			t.Fatalf("Truncate(%d) kept %d bytes", MinTraceStateBytes, len(got.String()))
		}
	}
}

// randTraceStateKey returns a random valid key: a simple key starting
// with a letter, or tenant-id@system-id.
func randTraceStateKey(r *rand.Rand) string {
	const rest = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	word := func(first, rest string, max int) string {
		n := r.IntN(max)
		b := []byte{first[r.IntN(len(first))]}
		for range n {
			b = append(b, rest[r.IntN(len(rest))])
		}
		return string(b)
	}
	if r.IntN(3) == 0 {
		return word("abcdefghijklmnopqrstuvwxyz0123456789", rest, 12) + "@" + word("abcdefghijklmnopqrstuvwxyz", rest, 13)
	}
	return word("abcdefghijklmnopqrstuvwxyz", rest, 20)
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
