package encode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestMain checks that no test of the package leaves a goroutine behind
// (the Offloader's workers are the package's only goroutines).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// offloadLargeRun returns a run whose every offloadable field is large,
// and those values by field, plus one small value of each kind.
func offloadLargeRun(size int) (*Run, map[string]string) {
	big := func(tag string) string {
		return strings.Repeat(tag+" 世界 ", size/len(tag+" 世界 ")+1)
	}
	r := runlogGoldenRun()
	r.Question = big("question")
	r.Answer = big("answer")
	n := r.Nodes[0]
	n.LLMOutput = big("llm")
	n.Input = []Attr{{"q", StringValue(big("input"))}, {"small", StringValue("tiny")}, {"n", Int64Value(1)}}
	n.Output = []Attr{{"text", StringValue(big("output"))}}
	n.Config = []Attr{{"prompt", StringValue(big("config"))}}
	n.Events = []Event{
		{Kind: EventInfo, Message: big("info")},
		{Kind: EventException, Type: "ValueError", Message: big("exc")},
		{Kind: EventError, Message: "short error"},
	}
	want := map[string]string{
		"question": r.Question, "answer": r.Answer, "llm_output": n.LLMOutput,
		"input.q": n.Input[0].Value.Str(), "output.text": n.Output[0].Value.Str(), "config.prompt": n.Config[0].Value.Str(),
		"logs.0": n.Events[0].Message, "logs.1": n.Events[1].Message,
	}
	return r, want
}

// offloadFields decodes a run log and returns its offloadable string
// values by the field names of offloadLargeRun, for the first node.
func offloadFields(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var m struct {
		Question string `json:"question"`
		Answer   string `json:"answer"`
		Trace    []struct {
			LLMOutput string `json:"llm_output"`
			Data      struct {
				Input, Output, Config map[string]any
			} `json:"data"`
			Logs []json.RawMessage `json:"logs"`
		} `json:"trace"`
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	n := m.Trace[0]
	got := map[string]string{"question": m.Question, "answer": m.Answer, "llm_output": n.LLMOutput}
	for k, v := range n.Data.Input {
		if s, ok := v.(string); ok {
			got["input."+k] = s
		}
	}
	for k, v := range n.Data.Output {
		got["output."+k], _ = v.(string)
	}
	for k, v := range n.Data.Config {
		got["config."+k], _ = v.(string)
	}
	for i, l := range n.Logs {
		got["logs."+strconv.Itoa(i)] = offloadLogMessage(t, l)
	}
	return got
}

// offloadLogMessage returns the message of a logs entry: a JSON string
// holding the entry's JSON text (the original's shape) or an object.
func offloadLogMessage(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	var entry struct{ Message string }
	if err := json.Unmarshal(raw, &entry); err != nil {
		t.Fatalf("logs entry %s: %v", raw, err)
	}
	return entry.Message
}

func offloadCheckIdentity(t *testing.T, s OffloadStats) {
	t.Helper()
	if s.Enqueued != s.Offloaded+s.Failed+s.Lost+s.InFlight {
		t.Fatalf("accounting identity broken: %+v", s)
	}
}

func TestOffloadFSStore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	store, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	o := NewOffloader(store, OffloadConfig{})
	r, want := offloadLargeRun(DefaultOffloadThreshold)
	out1 := AppendRunLogWith(nil, r, o)
	out2 := AppendRunLogWith(nil, r, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{}
	for _, out := range [][]byte{out1, out2} {
		got := offloadFields(t, out)
		if got["input.small"] != "tiny" || got["logs.2"] != "short error" {
			t.Fatalf("small values changed: %q %q", got["input.small"], got["logs.2"])
		}
		for field, value := range want {
			link, ok := strings.CutPrefix(got[field], OffloadedPrefix)
			if !ok {
				t.Fatalf("%s = %.80q..., want the offload marker", field, got[field])
			}
			if links[link] {
				t.Fatalf("link %s used twice", link)
			}
			links[link] = true
			u, err := url.Parse(link)
			if err != nil || u.Scheme != "file" {
				t.Fatalf("link %q: not a file URL (%v)", link, err)
			}
			stored, err := os.ReadFile(u.Path)
			if err != nil {
				t.Fatal(err)
			}
			if string(stored) != value {
				t.Fatalf("%s: stored %d bytes, want the %d of the value", field, len(stored), len(value))
			}
		}
	}
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if n := uint64(2 * len(want)); s.Enqueued != n || s.Offloaded != n || s.InFlight != 0 || s.QueuedBytes != 0 {
		t.Fatalf("stats %+v, want %d offloaded and nothing in flight", s, n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2*len(want) {
		t.Fatalf("%d files in the store, want %d", len(entries), 2*len(want))
	}
}

func TestOffloadThreshold(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := &offloadMemStore{}
	o := NewOffloader(store, OffloadConfig{})
	defer o.Close(context.Background())
	for _, tc := range []struct {
		size      int
		offloaded bool
	}{{DefaultOffloadThreshold - 1, false}, {DefaultOffloadThreshold, true}, {DefaultOffloadThreshold + 1, true}} {
		r := &Run{Answer: strings.Repeat("x", tc.size)}
		var m map[string]any
		if err := json.Unmarshal(AppendRunLogWith(nil, r, o), &m); err != nil {
			t.Fatal(err)
		}
		got := strings.HasPrefix(m["answer"].(string), OffloadedPrefix)
		if got != tc.offloaded {
			t.Errorf("answer of %d bytes offloaded = %v, want %v", tc.size, got, tc.offloaded)
		}
	}
	// A multi-byte string is measured in UTF-8 bytes: 1696 × 3 = 5088.
	r := &Run{Answer: strings.Repeat("世", 1696)}
	if !strings.Contains(string(AppendRunLogWith(nil, r, o)), OffloadedPrefix) {
		t.Error("a value of 5088 UTF-8 bytes in 1696 characters was not offloaded")
	}
}

// offloadMemStore keeps values in memory; its Link is "mem:" + key.
type offloadMemStore struct {
	mu     sync.Mutex
	values map[string]string
}

func (s *offloadMemStore) Link(key string) string { return "mem:" + key }

func (s *offloadMemStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]string{}
	}
	s.values[key] = string(value)
	return nil
}

// offloadFailStore fails every Put.
type offloadFailStore struct{}

var errOffloadTest = errors.New("store down")

func (offloadFailStore) Link(key string) string { return "fail:" + key }
func (offloadFailStore) Put(context.Context, string, []byte) error {
	return errOffloadTest
}

func TestOffloadFailingStore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var mu sync.Mutex
	var keys []string
	o := NewOffloader(offloadFailStore{}, OffloadConfig{ErrorHandler: func(key string, err error) {
		if !errors.Is(err, errOffloadTest) {
			t.Errorf("error handler got %v, want it to wrap the store's error", err)
		}
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
	}})
	r, want := offloadLargeRun(DefaultOffloadThreshold)
	got := offloadFields(t, AppendRunLogWith(nil, r, o))
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if s.Failed != uint64(len(want)) || s.Refused != 0 || s.TimedOut != 0 || s.Offloaded != 0 || len(keys) != len(want) {
		t.Fatalf("stats %+v, %d errors handled; want %d failed", s, len(keys), len(want))
	}
	// The JSON keeps the links (it was written before the Puts failed), and
	// each failure names its key.
	for _, k := range keys {
		found := false
		for field := range want {
			found = found || got[field] == OffloadedPrefix+"fail:"+k
		}
		if !found {
			t.Fatalf("failed key %s is in no field", k)
		}
	}
}

// offloadGateStore blocks each Put until its gate is closed or the Put's
// context ends, and reports each Put's start on entered.
type offloadGateStore struct {
	entered chan string
	gate    chan struct{}
	stored  atomic.Int64
}

func newOffloadGateStore() *offloadGateStore {
	return &offloadGateStore{entered: make(chan string, 100), gate: make(chan struct{})}
}

func (s *offloadGateStore) Link(key string) string { return "gate:" + key }

func (s *offloadGateStore) Put(ctx context.Context, key string, _ []byte) error {
	s.entered <- key
	select {
	case <-s.gate:
		s.stored.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestOffloadHangingStoreClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := newOffloadGateStore()
	o := NewOffloader(store, OffloadConfig{Workers: 1, PutTimeout: 1 << 62})
	r, want := offloadLargeRun(DefaultOffloadThreshold)
	AppendRunLogWith(nil, r, o)
	<-store.entered // The worker hangs in Put; the rest wait in the queue.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := o.Close(ctx)
	if !errors.Is(err, ErrOffloadUnfinished) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want ErrOffloadUnfinished and context.Canceled", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(len(want))+" large values") {
		t.Errorf("Close error %q does not say how many values were lost", err)
	}
	// Close does not wait for the worker; the test does, then goleak
	// checks that no goroutine is left.
	<-o.done
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if s.Lost != uint64(len(want)) || s.InFlight != 0 || s.Offloaded != 0 || s.QueuedBytes != 0 {
		t.Fatalf("stats %+v, want all %d lost", s, len(want))
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

func TestOffloadPutTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := newOffloadGateStore()
	var timeouts atomic.Int64
	o := NewOffloader(store, OffloadConfig{PutTimeout: 1, ErrorHandler: func(_ string, err error) {
		if errors.Is(err, context.DeadlineExceeded) {
			timeouts.Add(1)
		}
	}})
	s, n := offloadLargeRunClosed(t, o)
	if s.Failed != n || s.TimedOut != s.Failed || s.Refused != 0 || timeouts.Load() != int64(n) {
		t.Fatalf("stats %+v, %d timeouts; want %d failed by timeout", s, timeouts.Load(), n)
	}
}

// offloadCheckTruncated checks that got is orig truncated for threshold.
func offloadCheckTruncated(t *testing.T, got, orig string, threshold int) {
	t.Helper()
	marker := TruncatedMarker + strconv.Itoa(len(orig)) + "]"
	head, ok := strings.CutSuffix(got, marker)
	if !ok {
		t.Fatalf("truncated value %.60q... does not end with %q", got, marker)
	}
	if len(got) > threshold-1 || len(got) < threshold-1-(utf8.UTFMax-1) {
		t.Fatalf("truncated value of %d bytes, want %d (less at most 3 to keep UTF-8 whole)", len(got), threshold-1)
	}
	if !strings.HasPrefix(orig, head) || !utf8.ValidString(head) {
		t.Fatalf("head %q is not a whole-rune prefix of the value", head)
	}
}

func TestOffloadQueueFull(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := newOffloadGateStore()
	o := NewOffloader(store, OffloadConfig{Workers: 1, QueueLen: 2})
	value := strings.Repeat("é", DefaultOffloadThreshold) // 2 bytes a rune: the cut must not split one.
	run := func() string {
		var m map[string]any
		if err := json.Unmarshal(AppendRunLogWith(nil, &Run{Answer: value}, o), &m); err != nil {
			t.Fatal(err)
		}
		return m["answer"].(string)
	}
	if got := run(); !strings.HasPrefix(got, OffloadedPrefix) {
		t.Fatalf("first value not offloaded: %.60q", got)
	}
	<-store.entered // The worker holds the first value; the queue is empty.
	for range 2 {
		if got := run(); !strings.HasPrefix(got, OffloadedPrefix) {
			t.Fatalf("value not offloaded with room in the queue: %.60q", got)
		}
	}
	offloadCheckTruncated(t, run(), value, DefaultOffloadThreshold)
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if s.QueueFull != 1 || s.Enqueued != 3 || s.InFlight != 3 || s.QueuedBytes != 3*int64(len(value)) {
		t.Fatalf("stats %+v, want 1 queue full and 3 in flight", s)
	}
	close(store.gate)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Offloaded != 3 || s.InFlight != 0 || s.QueuedBytes != 0 {
		t.Fatalf("stats after Close %+v, want 3 offloaded", s)
	}
}

func TestOffloadQueueBytes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := newOffloadGateStore()
	value := strings.Repeat("a", 6000)
	o := NewOffloader(store, OffloadConfig{Workers: 1, QueueBytes: int64(len(value)) + 100})
	r := &Run{Question: value, Answer: value}
	var m map[string]any
	if err := json.Unmarshal(AppendRunLogWith(nil, r, o), &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m["question"].(string), OffloadedPrefix) {
		t.Fatalf("question not offloaded: %.60q", m["question"])
	}
	offloadCheckTruncated(t, m["answer"].(string), value, DefaultOffloadThreshold)
	if s := o.Stats(); s.QueueFull != 1 || s.Enqueued != 1 {
		t.Fatalf("stats %+v, want 1 enqueued and 1 over the byte bound", s)
	}
	close(store.gate)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOffloadTruncateProperty checks the truncated form of random values
// (multi-byte, invalid UTF-8, exception "Type: message") through a closed
// Offloader, which truncates every large value.
func TestOffloadTruncateProperty(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := NewOffloader(&offloadMemStore{}, OffloadConfig{Threshold: 100})
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "é", "世", "😀", "\"\\\n", "\xff", "\xe4\xb8"}
	gen := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return sb.String()
	}
	var buf []byte
	for range 3000 {
		typ, msg := gen(rng.IntN(40)), gen(rng.IntN(80))
		r := &Run{Nodes: []*Node{{Events: []Event{{Kind: EventException, Type: typ, Message: msg}}}}}
		buf = AppendRunLogWith(buf[:0], r, o)
		var m struct {
			Trace []struct{ Logs []json.RawMessage }
		}
		if err := json.Unmarshal(buf, &m); err != nil {
			t.Fatalf("%v: %s", err, buf)
		}
		full := msg // an exception's log message is the error's text
		got := offloadLogMessage(t, m.Trace[0].Logs[0])
		if len(full) < 100 {
			if got != strings.ToValidUTF8(full, "\uFFFD") {
				t.Fatalf("small value %q changed to %q", full, got)
			}
			continue
		}
		marker := TruncatedMarker + strconv.Itoa(len(full)) + "]"
		head, ok := strings.CutSuffix(got, marker)
		if !ok {
			t.Fatalf("%q: no truncation marker", got)
		}
		// The raw head is a prefix of the value cut before a rune start
		// (or after at most 3 continuation bytes), then repaired.
		cut := 99 - len(marker)
		for back := 0; back < 3 && cut > 0 && !utf8.RuneStart(full[cut]); back++ {
			cut--
		}
		if want := strings.ToValidUTF8(full[:cut], "\uFFFD"); head != want {
			t.Fatalf("head %q, want %q", head, want)
		}
	}
	if s := o.Stats(); s.Closed == 0 || s.Enqueued != 0 {
		t.Fatalf("stats %+v, want values counted as Closed and none enqueued", s)
	}
}

func TestOffloadAllocs(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := NewOffloader(&offloadMemStore{}, OffloadConfig{})
	defer o.Close(context.Background()) // Also when the budget is skipped.
	r := runlogBenchRun()
	buf := make([]byte, 0, 1<<16)
	// An Offloader costs nothing while no value is large.
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLogWith(buf[:0], r, o) })
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Truncation, the path taken under pressure, does not allocate either.
	large := runlogBenchRun()
	large.Answer = strings.Repeat("x", 2*DefaultOffloadThreshold)
	testkit.WantAllocs(t, 0, func() { buf = AppendRunLogWith(buf[:0], large, o) })
}

func TestOffloadKey(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := NewOffloader(&offloadMemStore{}, OffloadConfig{})
	defer o.Close(context.Background())
	f := runlogField{sid: "spf0039@hf/../x", id: [16]byte{0xab, 1}, section: "input", name: "a key/with\x00 odd ✓ bytes"}
	k1, k2 := o.key(&f), o.key(&f)
	if k1 == k2 {
		t.Fatalf("two keys for one field are equal: %s", k1)
	}
	want := "spf0039@hf_.._x-ab010000000000000000000000000000-input.a_key_with__odd_____bytes-1"
	if k1 != want {
		t.Fatalf("key = %s, want %s", k1, want)
	}
	f = runlogField{section: "logs", index: 3, name: strings.Repeat("n", 500)}
	if k := o.key(&f); k != "nosid-00000000000000000000000000000000-logs.3-3" {
		t.Fatalf("key = %s", k)
	}
	f = runlogField{sid: strings.Repeat("s", 500), section: "config", name: strings.Repeat("n", 500)}
	if k := o.key(&f); len(k) > 64+1+32+1+64+1+20 {
		t.Fatalf("key of %d bytes is not bounded: %s", len(k), k)
	}
}

func TestOffloadNil(t *testing.T) {
	if o := NewOffloader(nil, OffloadConfig{}); o != nil {
		t.Fatal("NewOffloader(nil store) is not nil")
	}
	var o *Offloader
	if err := o.Close(context.Background()); err != nil || o.Stats() != (OffloadStats{}) || o.Threshold() != 0 {
		t.Fatal("nil Offloader is not inert")
	}
	r := &Run{Answer: strings.Repeat("x", 10000)}
	if string(AppendRunLogWith(nil, r, o)) != string(AppendRunLog(nil, r)) {
		t.Fatal("nil Offloader changed the output")
	}
}

// BenchmarkRunLogOffload measures a run log with one large answer handed
// to an Offloader whose store keeps nothing.
func BenchmarkRunLogOffload(b *testing.B) {
	o := NewOffloader(offloadDiscardStore{}, OffloadConfig{QueueLen: 1 << 16, QueueBytes: 1 << 30})
	defer o.Close(context.Background())
	r := runlogBenchRun()
	r.Answer = strings.Repeat("x", DefaultOffloadThreshold)
	buf := AppendRunLogWith(nil, r, o)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendRunLogWith(buf[:0], r, o)
	}
}

type offloadDiscardStore struct{}

func (offloadDiscardStore) Link(string) string                        { return "discard" }
func (offloadDiscardStore) Put(context.Context, string, []byte) error { return nil }

// offloadStatusError is a refusal by a store that answered (PutRefused).
type offloadStatusError int

func (e offloadStatusError) Error() string   { return "status " + strconv.Itoa(int(e)) }
func (e offloadStatusError) StatusCode() int { return int(e) }

// offloadRefuseStore refuses every Put with a 403.
type offloadRefuseStore struct{}

func (offloadRefuseStore) Link(key string) string { return "refuse:" + key }
func (offloadRefuseStore) Put(context.Context, string, []byte) error {
	return fmt.Errorf("PUT: %w", offloadStatusError(403))
}

// TestOffloadRefusedCounted checks that a store's refusal is counted as
// Refused, apart from timeouts and transport errors.
func TestOffloadRefusedCounted(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := NewOffloader(offloadRefuseStore{}, OffloadConfig{})
	s, n := offloadLargeRunClosed(t, o)
	if s.Failed != n || s.Refused != n || s.TimedOut != 0 {
		t.Fatalf("stats %+v, want %d refused", s, n)
	}
}

// TestOffloadBoundedFSStore checks a file store's budget: values that do
// not fit are cut, with the marker, and counted as StoreFull, the
// directory never holds more than the budget (what it held before the
// store was made included), and a failed Put gives its room back.
func TestOffloadBoundedFSStore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/old", make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 6000
	// Room for the old file and three values of size bytes, not four.
	store, err := NewBoundedFSStore(dir, "", 1000+3*size+size/2, 100)
	if err != nil {
		t.Fatal(err)
	}
	if b, f := store.Used(); b != 1000 || f != 1 {
		t.Fatalf("Used = %d bytes, %d files; want the old file", b, f)
	}
	o := NewOffloader(store, OffloadConfig{})
	var outs []string
	for i := range 6 {
		v := strings.Repeat(string(rune('a'+i)), size)
		outs = append(outs, string(AppendRunLogWith(nil, &Run{SID: "s", Question: v}, o)))
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if s.Offloaded != 3 || s.StoreFull != 3 || s.Enqueued != 3 {
		t.Fatalf("stats %+v, want 3 offloaded and 3 cut for the store's budget", s)
	}
	for i, out := range outs {
		linked := strings.Contains(out, OffloadedPrefix)
		cut := strings.Contains(out, TruncatedMarker+strconv.Itoa(size)+"]")
		if linked == cut || linked != (i < 3) {
			t.Errorf("run %d: linked %v, cut %v", i, linked, cut)
		}
	}
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		total += info.Size()
	}
	if len(entries) != 4 || total != 1000+3*size {
		t.Errorf("dir holds %d files, %d bytes", len(entries), total)
	}

	// A file budget, and a Put that fails (the directory gone) gives its
	// room back.
	store, err = NewBoundedFSStore(t.TempDir(), "", 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !store.Reserve(10) || store.Reserve(10) {
		t.Fatal("a one-file budget took two values")
	}
	store.Release(10)
	if b, f := store.Used(); b != 0 || f != 0 {
		t.Fatalf("after Release: %d bytes, %d files", b, f)
	}
	if err := os.RemoveAll(store.Dir()); err != nil {
		t.Fatal(err)
	}
	o = NewOffloader(store, OffloadConfig{})
	AppendRunLogWith(nil, &Run{SID: "s", Question: strings.Repeat("x", size)}, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Failed != 1 || s.Refused != 0 || s.TimedOut != 0 {
		t.Fatalf("stats %+v, want one failure", s)
	}
	if b, f := store.Used(); b != 0 || f != 0 {
		t.Fatalf("after a failed Put: %d bytes, %d files still reserved", b, f)
	}

	for _, bad := range [][2]int64{{0, 1}, {1, 0}, {-1, 5}} {
		if _, err := NewBoundedFSStore(t.TempDir(), "", bad[0], int(bad[1])); err == nil {
			t.Errorf("budget %v accepted", bad)
		}
	}
}

// offloadLargeRunClosed writes offloadLargeRun's run log through o, closes
// o and returns its checked stats and the number of values offloaded.
func offloadLargeRunClosed(t *testing.T, o *Offloader) (OffloadStats, uint64) {
	t.Helper()
	r, want := offloadLargeRun(DefaultOffloadThreshold)
	AppendRunLogWith(nil, r, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	offloadCheckIdentity(t, s)
	return s, uint64(len(want))
}

// TestOffloadErrorHandlerPanicRecovered: an ErrorHandler that panics on
// every failed Put ends neither the process nor the worker: every value
// is still counted failed, every panic counted, and Close returns.
func TestOffloadErrorHandlerPanicRecovered(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := NewOffloader(offloadFailStore{}, OffloadConfig{ErrorHandler: func(key string, err error) {
		panic(key)
	}})
	r, want := offloadLargeRun(DefaultOffloadThreshold)
	offloadFields(t, AppendRunLogWith(nil, r, o))
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	offloadCheckIdentity(t, s)
	if s.Failed != uint64(len(want)) || s.HandlerPanics != uint64(len(want)) {
		t.Fatalf("stats %+v; want %d failed and as many handler panics", s, len(want))
	}
}
