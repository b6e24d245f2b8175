package encode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// jsonKeysOnce fails when an object of the JSON text b names a member
// twice.
func jsonKeysOnce(t *testing.T, b []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string is a key
	}
	var st []frame
	for {
		tok, err := d.Token()
		if err != nil {
			if len(st) != 0 {
				t.Fatalf("run log: %v\n%s", err, b)
			}
			return
		}
		if k, ok := tok.(string); ok && len(st) != 0 && st[len(st)-1].obj && st[len(st)-1].key {
			n := len(st)
			if st[n-1].seen[k] {
				t.Fatalf("run log names %q twice in an object:\n%s", k, b)
			}
			st[n-1].seen[k], st[n-1].key = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, frame{obj: true, seen: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			st = append(st, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			st = st[:len(st)-1]
		}
		if n := len(st); n != 0 && st[n-1].obj {
			st[n-1].key = true // a value ended
		}
	}
}

// TestReview11RunLogKeysOnce writes run logs whose node lists draw keys
// that repeat, as given or once repaired, some of them long, of short
// plain members and others (jsonAppendShortMembers' bits and
// appendMember), with and without an offloader: no object names a member
// twice.
func TestReview11RunLogKeysOnce(t *testing.T) {
	keys := []string{"q", "in0", "in1", "k\xff", "k\xfe", "k\uFFFD", "x", "", "a\"b", "é", "keykeykeykeykeyk", "keykeykeykeykeykey"}
	vals := []encode.Value{encode.StringValue("v"), encode.StringValue("vvvvvvvvvvvvvvvvvvvv"), encode.Int64Value(3),
		encode.StringValue("a\nb"), encode.StringValue(strings.Repeat("w", 100))}
	rng := rand.New(rand.NewPCG(11, 18))
	list := func(n int) []encode.Attr {
		as := make([]encode.Attr, rng.IntN(n+1))
		for i := range as {
			as[i] = encode.Attr{Key: keys[rng.IntN(len(keys))], Value: vals[rng.IntN(len(vals))]}
		}
		return as
	}
	o := encode.NewOffloader(review11Store{}, encode.OffloadConfig{Threshold: 64})
	defer o.Close(t.Context())
	for i := range 2000 {
		n := 6
		if i%40 == 0 {
			n = 90
		}
		nd := &encode.Node{SpanID: encode.SpanID{2}, NodeID: "n", NodeType: "t", StartUnixNano: 1e18, EndUnixNano: 1e18 + 1,
			Input: list(n), Output: list(n), Config: list(n),
			Events: []encode.Event{{Kind: encode.EventInfo, TimeUnixNano: 1e18, Attrs: list(n)}}}
		r := &encode.Run{TraceID: encode.TraceID{1}, SpanID: encode.SpanID{1}, SID: "s", Nodes: []*encode.Node{nd}}
		jsonKeysOnce(t, encode.AppendRunLog(nil, r))
		jsonKeysOnce(t, encode.AppendRunLogWith(nil, r, o))
		jsonKeysOnce(t, encode.AppendRunLogOptions(nil, r, &encode.RunLogOptions{StructuredLogs: true}))
	}
}

// review11Store takes every value and keeps none.
type review11Store struct{}

func (review11Store) Link(key string) string                    { return "mem:" + key }
func (review11Store) Put(context.Context, string, []byte) error { return nil }
