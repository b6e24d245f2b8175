package w3c

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// bm is a decoded baggage member for comparisons.
type bm struct {
	key, value string
	props      string // normalized properties: ";k" / ";k=decoded"
}

func bagMembers(b Baggage) []bm {
	var out []bm
	for m := range b.All() {
		var props strings.Builder
		for p := range m.Properties() {
			props.WriteString(";" + p.Key)
			if p.HasValue {
				props.WriteString("=" + p.Value())
			}
		}
		out = append(out, bm{m.Key, m.Value(), props.String()})
	}
	return out
}

func TestParseBaggage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []bm
		norm    string
		wantErr error
	}{
		{"empty", "", nil, "", nil},
		{"one", "userId=alice", []bm{{"userId", "alice", ""}}, "userId=alice", nil},
		{"three", "a=1,b=2,c=3", []bm{{"a", "1", ""}, {"b", "2", ""}, {"c", "3", ""}}, "a=1,b=2,c=3", nil},
		{"whitespace", " a = 1 ,\tb=2\t", []bm{{"a", "1", ""}, {"b", "2", ""}}, "a=1,b=2", nil},
		{"empty value", "a=", []bm{{"a", "", ""}}, "a=", nil},
		{"value with equal", "a=b=c", []bm{{"a", "b=c", ""}}, "a=b=c", nil},
		{"percent-decoding", "k=Hello%2C%20World%21%25", []bm{{"k", "Hello, World!%", ""}}, "k=Hello%2C%20World%21%25", nil},
		{"lower-case escapes", "k=%e4%bd%a0", []bm{{"k", "你", ""}}, "k=%e4%bd%a0", nil},
		{"invalid utf8 becomes U+FFFD", "k=a%FFb%C3", []bm{{"k", "a\uFFFDb\uFFFD", ""}}, "k=a%FFb%C3", nil},
		{"properties", "k=v;p1;p2=x%20y ; p3 = z", []bm{{"k", "v", ";p1;p2=x y;p3=z"}}, "k=v;p1;p2=x%20y;p3=z", nil},
		{"empty property elements", "k=v;;p;", []bm{{"k", "v", ";p"}}, "k=v;p", nil},
		{"token key symbols", "!#$%&'*+-.^_`|~Az9=v", []bm{{"!#$%&'*+-.^_`|~Az9", "v", ""}}, "!#$%&'*+-.^_`|~Az9=v", nil},
		{"duplicates kept", "a=1,a=2", []bm{{"a", "1", ""}, {"a", "2", ""}}, "a=1,a=2", nil},

		{"empty member dropped", "a=1,,b=2", []bm{{"a", "1", ""}, {"b", "2", ""}}, "a=1,b=2", errBagEmpty},
		{"trailing comma", "a=1,", []bm{{"a", "1", ""}}, "a=1", errBagEmpty},
		{"no equal dropped", "a=1,b,c=3", []bm{{"a", "1", ""}, {"c", "3", ""}}, "a=1,c=3", errBagNoEqual},
		{"bad key dropped", "a b=1,c=3", []bm{{"c", "3", ""}}, "c=3", errBagKey},
		{"empty key dropped", "=1,c=3", []bm{{"c", "3", ""}}, "c=3", errBagKey},
		{"non-ascii key dropped", "é=1,c=3", []bm{{"c", "3", ""}}, "c=3", errBagKey},
		{"bad value char dropped", "a=x\"y,c=3", []bm{{"c", "3", ""}}, "c=3", errBagValue},
		{"value with inner space dropped", "a=x y,c=3", []bm{{"c", "3", ""}}, "c=3", errBagValue},
		{"value with backslash dropped", "a=x\\y", nil, "", errBagValue},
		{"bad escape dropped", "a=100%,c=3", []bm{{"c", "3", ""}}, "c=3", errBagValue},
		{"bad escape digits dropped", "a=%zz,c=3", []bm{{"c", "3", ""}}, "c=3", errBagValue},
		{"bad property dropped", "a=1;p q,c=3", []bm{{"c", "3", ""}}, "c=3", errBagProperty},
		{"bad property value dropped", "a=1;p=%g0,c=3", []bm{{"c", "3", ""}}, "c=3", errBagProperty},
		{"property without key dropped", "a=1;=v,c=3", []bm{{"c", "3", ""}}, "c=3", errBagProperty},
		{"whitespace only", "  ", nil, "", errBagEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBaggage(tt.in)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !errors.Is(err, ErrBaggage)) {
				t.Fatalf("ParseBaggage(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got := bagMembers(b); !slices.Equal(got, tt.want) {
				t.Fatalf("members = %q, want %q", got, tt.want)
			}
			if b.Len() != len(tt.want) {
				t.Fatalf("Len = %d, want %d", b.Len(), len(tt.want))
			}
			if got := b.String(); got != tt.norm {
				t.Fatalf("String = %q, want %q", got, tt.norm)
			}
			if got := string(AppendBaggage([]byte("x"), b)); got != "x"+tt.norm {
				t.Fatalf("AppendBaggage = %q", got)
			}
		})
	}
}

func TestBaggageLimits(t *testing.T) {
	big := "k=" + strings.Repeat("v", MaxBaggageBytes-2)
	if b, err := ParseBaggage(big); err != nil || b.Len() != 1 {
		t.Fatalf("8192-byte header: %d members, %v", b.Len(), err)
	}
	b, err := ParseBaggage(big + "v")
	if !errors.Is(err, ErrLimit) || !errors.Is(err, ErrBaggage) || b.Len() != 0 {
		t.Fatalf("8193-byte header: %d members, %v", b.Len(), err)
	}

	var list []string
	for i := range MaxBaggageMembers + 5 {
		list = append(list, fmt.Sprintf("k%d=%d", i, i))
	}
	b, err = ParseBaggage(strings.Join(list[:MaxBaggageMembers], ","))
	if err != nil || b.Len() != MaxBaggageMembers {
		t.Fatalf("180 members: %d, %v", b.Len(), err)
	}
	b, err = ParseBaggage(strings.Join(list, ","))
	if !errors.Is(err, errBagTooMany) || !errors.Is(err, ErrLimit) || b.Len() != MaxBaggageMembers {
		t.Fatalf("185 members: %d, %v", b.Len(), err)
	}
	if got, want := b.String(), strings.Join(list[:MaxBaggageMembers], ","); got != want {
		t.Fatalf("185 members kept the wrong ones: %q", got)
	}
	// Invalid members do not count against the limit.
	withBad := "bad," + strings.Join(list[:MaxBaggageMembers], ",")
	if b, err := ParseBaggage(withBad); !errors.Is(err, errBagNoEqual) || b.Len() != MaxBaggageMembers {
		t.Fatalf("180 valid + 1 bad: %d, %v", b.Len(), err)
	}
	// Insert refuses to pass either limit.
	full, _ := ParseBaggage(strings.Join(list[:MaxBaggageMembers], ","))
	if got, err := full.Insert("new", "v"); !errors.Is(err, ErrLimit) || got != full {
		t.Fatalf("Insert into full: %v", err)
	}
	one, _ := ParseBaggage("k=v")
	if _, err := one.Insert("x", strings.Repeat("é", MaxBaggageBytes/6+1)); !errors.Is(err, ErrLimit) {
		t.Fatalf("Insert too large: %v", err)
	}
}

func TestBaggageInsertGetDelete(t *testing.T) {
	b, err := ParseBaggage("a=1;p, b=2 ,a=3")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := b.Get("a"); !ok || m.Value() != "3" {
		t.Fatalf("Get(a) = %+v, %v; want the last one", m, ok)
	}
	if _, ok := b.Get("z"); ok {
		t.Fatal("Get(z) found something")
	}
	b2, err := b.Insert("a", "x, y;%é")
	if err != nil {
		t.Fatal(err)
	}
	if got := b2.String(); got != "b=2,a=x%2C%20y%3B%25%C3%A9" {
		t.Fatalf("Insert = %q", got)
	}
	if m, _ := b2.Get("a"); m.Value() != "x, y;%é" {
		t.Fatalf("Get after Insert = %q", m.Value())
	}
	if _, err := b.Insert("a b", "v"); !errors.Is(err, errBagKey) {
		t.Fatalf("Insert bad key: %v", err)
	}
	if _, err := b.Insert("k", "\xff"); !errors.Is(err, errBagUTF8) {
		t.Fatalf("Insert bad utf8: %v", err)
	}
	d := b.Delete("a")
	if got := d.String(); got != "b=2" || d.Len() != 1 {
		t.Fatalf("Delete = %q", got)
	}
	if d.Delete("zz") != d {
		t.Fatal("Delete of absent key changed the value")
	}
	if got := d.Delete("b"); got != (Baggage{}) {
		t.Fatalf("Delete last = %+v", got)
	}
	var empty Baggage
	e, err := empty.Insert("k", "")
	if err != nil || e.String() != "k=" {
		t.Fatalf("Insert into empty = %q, %v", e.String(), err)
	}
}

func TestMemberAppendValue(t *testing.T) {
	b, _ := ParseBaggage("k=a%20b%ff")
	m, _ := b.Get("k")
	if got := string(m.AppendValue([]byte("x"))); got != "xa b\uFFFD" {
		t.Fatalf("AppendValue = %q", got)
	}
	if m.RawValue() != "a%20b%ff" {
		t.Fatalf("RawValue = %q", m.RawValue())
	}
}

// randBaggageKey returns a random token.
func randBaggageKey(r *rand.Rand) string {
	const tchar = "!#$%&'*+-.^_`|~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 1+r.IntN(16))
	for i := range b {
		b[i] = tchar[r.IntN(len(tchar))]
	}
	return string(b)
}

// randUTF8 returns a random valid UTF-8 string mixing ASCII (including the
// characters that need escaping) and multi-byte runes.
func randUTF8(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(20) {
		switch r.IntN(4) {
		case 0:
			sb.WriteRune(rune(0x80 + r.IntN(0x10000-0x80)))
		default:
			sb.WriteByte(byte(r.IntN(0x80)))
		}
	}
	s := sb.String()
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "?")
	}
	return s
}

func TestBaggageInsertRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range iters(1000) {
		var b Baggage
		want := map[string]string{}
		for range r.IntN(20) {
			k, v := randBaggageKey(r), randUTF8(r)
			var err error
			if b, err = b.Insert(k, v); err != nil {
				t.Fatalf("Insert(%q, %q): %v", k, v, err)
			}
			want[k] = v
		}
		again, err := ParseBaggage(b.String())
		if err != nil || again.Len() != len(want) {
			t.Fatalf("ParseBaggage(%q) = %d members, %v; want %d", b.String(), again.Len(), err, len(want))
		}
		for m := range again.All() {
			if want[m.Key] != m.Value() {
				t.Fatalf("member %q = %q, want %q", m.Key, m.Value(), want[m.Key])
			}
		}
	}
}
