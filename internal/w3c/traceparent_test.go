package w3c

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/hex"
)

const validTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParseTraceParentValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want TraceParent
	}{
		{"version 00 sampled", validTP, TraceParent{
			TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Flags:   1,
		}},
		{"reserved flags kept", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", TraceParent{
			TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Flags:   0xff,
		}},
		{"future version exact length", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", TraceParent{
			Version: 0xcc,
			TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Flags:   2,
		}},
		{"future version with more fields", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", TraceParent{
			Version: 1,
			TraceID: [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			Flags:   1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTraceParent(tt.in)
			if err != nil {
				t.Fatalf("ParseTraceParent(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseTraceParent(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !got.IsValid() {
				t.Fatalf("parsed %q is not IsValid", tt.in)
			}
		})
	}
}

func TestParseTraceParentInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", errTPEmpty},
		{"short", validTP[:54], errTPShort},
		{"version 00 too long", validTP + "-", errTPLength},
		{"version 00 extra text", validTP + "x", errTPLength},
		{"version ff", "ff" + validTP[2:], errTPVersionFF},
		{"upper-case version", "0A" + validTP[2:], errTPVersion},
		{"non-hex version", "0g" + validTP[2:], errTPVersion},
		{"future version without dash", "01" + validTP[2:] + "x", errTPFuture},
		{"bad first delimiter", "00_" + validTP[3:], errTPDelimiter},
		{"bad second delimiter", validTP[:35] + "_" + validTP[36:], errTPDelimiter},
		{"bad third delimiter", validTP[:52] + "_" + validTP[53:], errTPDelimiter},
		{"upper-case trace-id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", errTPTraceIDHex},
		{"upper-case parent-id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", errTPSpanIDHex},
		{"non-hex flags", validTP[:53] + "0x", errTPFlagsHex},
		{"upper-case flags", validTP[:53] + "0A", errTPFlagsHex},
		{"zero trace-id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", errTPTraceID0},
		{"zero parent-id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", errTPSpanID0},
		{"zero trace-id in future version", "01-00000000000000000000000000000000-00f067aa0ba902b7-01-x", errTPTraceID0},
		{"trace-id shifted", "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", errTPDelimiter},
		{"leading space", " " + validTP[:54], errTPVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTraceParent(tt.in)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrTraceParent) {
				t.Fatalf("ParseTraceParent(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if got != (TraceParent{}) {
				t.Fatalf("ParseTraceParent(%q) = %+v with an error, want zero", tt.in, got)
			}
		})
	}
}

func randTraceParent(r *rand.Rand) TraceParent {
	var tp TraceParent
	for tp.TraceID == [16]byte{} {
		for i := range tp.TraceID {
			tp.TraceID[i] = byte(r.Uint32())
		}
	}
	for tp.SpanID == [8]byte{} {
		for i := range tp.SpanID {
			tp.SpanID[i] = byte(r.Uint32())
		}
	}
	tp.Flags = byte(r.Uint32())
	return tp
}

// TestTraceParentRoundTrip checks format∘parse and parse∘format over random
// values, and that every single-character corruption of a valid header is
// either rejected or parses to a different value that formats back to it.
func TestTraceParentRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range iters(2000) {
		tp := randTraceParent(r)
		s := string(AppendTraceParent(nil, tp))
		if len(s) != TraceParentLen || s != tp.String() {
			t.Fatalf("AppendTraceParent(%+v) = %q", tp, s)
		}
		got, err := ParseTraceParent(s)
		if err != nil || got != tp {
			t.Fatalf("ParseTraceParent(%q) = %+v, %v; want %+v", s, got, err, tp)
		}
		// Corrupt one character.
		b := []byte(s)
		i := r.IntN(len(b))
		b[i] = byte(r.Uint32())
		if c, err := ParseTraceParent(string(b)); err == nil {
			if string(AppendTraceParent(nil, c)) != string(b) {
				t.Fatalf("corrupted %q parsed to %+v which formats differently", b, c)
			}
		}
	}
}

func TestTraceParentFutureVersionFormatsPrefix(t *testing.T) {
	in := "7f-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-extra"
	tp, err := ParseTraceParent(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := tp.String(); got != in[:TraceParentLen] {
		t.Fatalf("String() = %q, want %q", got, in[:TraceParentLen])
	}
	if !tp.Sampled() || !tp.Random() {
		t.Fatalf("flags %02x: want sampled and random", tp.Flags)
	}
	if !strings.HasPrefix(tp.String(), "7f-") {
		t.Fatal("version not kept")
	}
}

// TestTraceParentFlagsCarried checks the Level 2 flag rules for a sender:
// the random flag as received for the same trace-id, its own sampled
// decision, reserved bits cleared; a new trace with random ids sets random.
func TestTraceParentFlagsCarried(t *testing.T) {
	for f := range 256 {
		in, err := ParseTraceParent(validTP[:53] + string(hex.Digits[f>>4]) + string(hex.Digits[f&15]))
		if err != nil {
			t.Fatal(err)
		}
		for _, sampled := range []bool{false, true} {
			c := in.Child([8]byte{9}, sampled)
			if c.Version != 0 || c.TraceID != in.TraceID || c.SpanID != [8]byte{9} ||
				c.Random() != in.Random() || c.Sampled() != sampled || c.Flags&^FlagsKnown != 0 {
				t.Fatalf("flags %02x sampled %v: child %+v", f, sampled, c)
			}
		}
	}
	root := NewRandomTraceParent([16]byte{1}, [8]byte{2}, false)
	if root.String() != "00-01000000000000000000000000000000-0200000000000000-02" {
		t.Fatalf("root %s", root)
	}
	if s := NewRandomTraceParent([16]byte{1}, [8]byte{2}, true).String(); s[53:] != "03" {
		t.Fatalf("sampled root %s", s)
	}
}
