package encode

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/race"
)

// TestRunLogManyRepeatedKeys writes a node's run log input of repeated
// keys with few members (compared) and with more than maxScanAttrs (a
// map): both hold each key once, at its first place, with its last value.
// Then an input of 2^20 members, half of them repeats, is written: before,
// each key was compared with every other, 40,000 members took 8.2 s, and
// this one ran into go test's timeout.
func TestRunLogManyRepeatedKeys(t *testing.T) {
	input := func(n, distinct int) []Attr {
		as := make([]Attr, n)
		for i := range as {
			as[i] = Attr{Key: "k" + strconv.Itoa(i%distinct), Value: Int64Value(int64(i))}
		}
		return as
	}
	decode := func(as []Attr) (keys []string, vals map[string]int64) {
		r := &Run{SID: "s", TraceID: TraceID{1}, SpanID: SpanID{1}, StartUnixNano: 1, EndUnixNano: 2,
			Nodes: []*Node{{NodeID: "n", SpanID: SpanID{2}, StartUnixNano: 1, EndUnixNano: 2, Input: as}}}
		doc := string(AppendRunLog(nil, r))
		at := strings.Index(doc, `"input":{`)
		if at < 0 {
			t.Fatalf("no input object in %.300s", doc)
		}
		dec := json.NewDecoder(strings.NewReader(doc[at+len(`"input":`):]))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		vals = map[string]int64{}
		for dec.More() {
			k, _ := dec.Token()
			var v int64
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if _, dup := vals[k.(string)]; dup {
				t.Fatalf("key %q twice", k)
			}
			keys = append(keys, k.(string))
			vals[k.(string)] = v
		}
		return keys, vals
	}
	for _, n := range []int{3 * maxScanAttrs / 4, 3 * maxScanAttrs} {
		keys, vals := decode(input(n, n/3))
		if len(keys) != n/3 {
			t.Fatalf("%d members: %d keys, want %d", n, len(keys), n/3)
		}
		for i, k := range keys {
			if want := "k" + strconv.Itoa(i); k != want || vals[k] != int64(2*(n/3)+i) {
				t.Errorf("%d members: key %d is %q = %d, want %q = %d", n, i, k, vals[k], want, 2*(n/3)+i)
			}
		}
	}
	n := 1 << 20
	if race.Enabled {
		n = 1 << 16 // the race detector's slowdown: the map path still runs
	}
	if keys, _ := decode(input(n, n/2)); len(keys) != n/2 {
		t.Errorf("%d members: %d keys, want %d", n, len(keys), n/2)
	}
}
