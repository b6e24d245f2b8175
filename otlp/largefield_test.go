package otlp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/internal/testkit"
)

// runLogBodies returns the run trace log bodies the receiver kept.
func runLogBodies(rc *otlptest.Receiver) []string {
	var out []string
	for _, req := range rc.Logs() {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					out = append(out, lr.Body.GetStringValue())
				}
			}
		}
	}
	return out
}

// TestNewOffloadsLargeFields checks that New wires the store
// Config.LargeFields chooses: a large input of a node is stored, by an HTTP
// PUT to a real server on loopback or in a directory, the run trace log
// holds its link, and Shutdown waits for the store.
func TestNewOffloadsLargeFields(t *testing.T) {
	var mu sync.Mutex
	puts := map[string]string{}
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		puts[r.URL.Path] = string(b)
		mu.Unlock()
	}))
	defer store.Close()
	dir := t.TempDir()
	big := strings.Repeat("x", 20<<10)
	for _, lf := range []export.LargeFieldConfig{{URL: store.URL + "/bucket?token=abc"}, {Dir: dir}} {
		rc := otlptest.StartKeeping(t, otlptest.GRPC)
		e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, LargeFields: lf},
			engine.WithBatch(16, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}),
			engine.WithLimits(engine.Limits{ValueBytes: 64 << 10}))
		if err != nil {
			t.Fatal(err)
		}
		r := e.StartRun(engine.RunInfo{SID: "spf0001@hf1", AppID: "app"})
		n := r.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", big))
		n.End()
		r.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if prom := string(e.AppendPrometheus(nil)); !strings.Contains(prom, `flowtel_offload_values_total{result="offloaded"} 1`) {
			t.Errorf("%+v: exposition without the offloaded value:\n%s", lf, grepLines(prom, "offload"))
		}
		bodies := runLogBodies(rc)
		if len(bodies) != 1 || !strings.Contains(bodies[0], encode.OffloadedPrefix) || strings.Contains(bodies[0], big) {
			t.Fatalf("%+v: run logs %d, first without the link or with the value", lf, len(bodies))
		}
		if strings.Contains(bodies[0], "token=abc") {
			t.Errorf("the link holds the store's query")
		}
		if lf.URL != "" {
			mu.Lock()
			n := len(puts)
			var got string
			for _, v := range puts {
				got = v
			}
			mu.Unlock()
			if n != 1 || got != big {
				t.Errorf("store got %d values", n)
			}
		} else {
			files, _ := os.ReadDir(dir)
			if len(files) != 1 {
				t.Fatalf("dir holds %d files", len(files))
			}
			if b, _ := os.ReadFile(filepath.Join(dir, files[0].Name())); string(b) != big {
				t.Errorf("file holds %d bytes", len(b))
			}
		}
	}
	if _, err := New(export.Config{LargeFields: export.LargeFieldConfig{URL: "ftp://u:pw@x/"}}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("bad store URL: %v", err)
	}
}

// objectStore is a real HTTP server on loopback standing in for object
// storage: it takes PUTs (basic authentication and the token query
// required), serves the objects back on GET, and can refuse or hang PUTs.
type objectStore struct {
	srv     *httptest.Server
	mu      sync.Mutex
	objects map[string][]byte
	status  int           // answer to every PUT when not 0
	hang    bool          // PUTs wait for their context or release
	entered chan struct{} // a hanging PUT has arrived
	release chan struct{}
}

const (
	storePass  = "pw-s3cret"
	storeToken = "tok-s3cret"
	storeKey   = "hdr-s3cret"
)

func newObjectStore(t *testing.T) *objectStore {
	s := &objectStore{objects: map[string][]byte{}, entered: make(chan struct{}, 16), release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			b, ok := s.objects[r.URL.Path]
			s.mu.Unlock()
			if !ok {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(b)
		case http.MethodPut:
			if s.hang {
				s.entered <- struct{}{}
				select {
				case <-r.Context().Done():
				case <-s.release:
				}
				return
			}
			if user, pass, _ := r.BasicAuth(); user != "ak" || pass != storePass || r.URL.Query().Get("token") != storeToken || r.Header.Get("X-Api-Key") != storeKey {
				http.Error(w, "denied "+storePass, http.StatusForbidden)
				return
			}
			if s.status != 0 {
				http.Error(w, "refused "+storeToken, s.status)
				return
			}
			s.mu.Lock()
			s.objects[r.URL.Path] = body
			s.mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(func() {
		close(s.release)
		s.srv.Close()
	})
	return s
}

// config returns the LargeFields of a store at s, its credentials in the
// URL and a header.
func (s *objectStore) config() export.LargeFieldConfig {
	u := strings.Replace(s.srv.URL, "http://", "http://ak:"+storePass+"@", 1) + "/bucket/traces?token=" + storeToken
	return export.LargeFieldConfig{URL: u, Headers: map[string]string{"X-Api-Key": storeKey}}
}

// fetch GETs link and returns the body, failing t on a status other than
// 200.
func fetch(t *testing.T, link string) string {
	t.Helper()
	resp, b := testkit.Get(t, link)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", link, resp.Status)
	}
	return string(b)
}

// errorLog collects what an engine's error handler hears.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) handle(err error) {
	l.mu.Lock()
	l.msgs = append(l.msgs, err.Error())
	l.mu.Unlock()
}

func (l *errorLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// newLargeFieldEngine returns an engine exporting to rc with lf, its
// errors in errs.
func newLargeFieldEngine(t *testing.T, rc *otlptest.Receiver, lf export.LargeFieldConfig, errs *errorLog) *engine.Engine {
	t.Helper()
	e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, LargeFields: lf, ErrorHandler: errs.handle},
		engine.WithBatch(16, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}),
		engine.WithLimits(engine.Limits{ValueBytes: 256 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// offloadCount returns the value of flowtel_offload_values_total{result}.
func offloadCount(t *testing.T, e *engine.Engine, result string) int {
	t.Helper()
	prefix := `flowtel_offload_values_total{result="` + result + `"} `
	for _, l := range strings.Split(string(e.AppendPrometheus(nil)), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s line", prefix)
	return 0
}

// eventValues returns the attributes (key=value) of the span events of
// spans.
func eventValues(spans []*tracepb.Span) map[string][]string {
	out := map[string][]string{}
	for _, sp := range spans {
		for _, ev := range sp.Events {
			for _, kv := range ev.Attributes {
				out[kv.Key] = append(out[kv.Key], kv.Value.GetStringValue())
			}
		}
	}
	return out
}

var offloadedLink = regexp.MustCompile(regexp.QuoteMeta(encode.OffloadedPrefix) + `(http[^"\\]+)`)

// TestLargeFieldsObjectStore runs an engine whose large values go to
// object storage behind a URL, a real HTTP server on loopback: the span
// exported (decoded with the official proto) holds trace_link for an INFO
// event of 10 KiB or more and for an event given as data whose JSON is
// that large, the run trace log holds the links of a large input and of
// the data event's entry (Python's text of its dict), each
// link fetches the exact bytes, and neither links nor errors hold the
// store's credentials.
func TestLargeFieldsObjectStore(t *testing.T) {
	store := newObjectStore(t)
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	var errs errorLog
	e := newLargeFieldEngine(t, rc, store.config(), &errs)
	text := strings.Repeat("事件", encode.SpanEventOffloadThreshold/6+1) // 10 KiB and more, multi-byte
	input := strings.Repeat("prompt ", 3000)
	data := strings.Repeat("d", 11<<10)
	r := e.StartRun(engine.RunInfo{SID: "spf0001@hf1", AppID: "app"})
	n := r.StartNode("llm:1", "llm", "LLM")
	n.Input(engine.String("prompt", input))
	n.Info(text)
	n.Info("short")
	n.InfoEvent(engine.String("llm output", data))
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	ev := eventValues(receivedSpans(rc))
	var textLink string
	for _, v := range ev["INFO LOG"] {
		if l, ok := strings.CutPrefix(v, "trace_link: "); ok {
			textLink = l
		}
	}
	if textLink == "" || len(ev["trace_link"]) != 1 || !slices.Contains(ev["INFO LOG"], "short") {
		t.Fatalf("span events %.200q: want trace_link for the long text and the data event", ev)
	}
	if got := fetch(t, textLink); got != text {
		t.Errorf("the INFO event's link fetches %d bytes, want the %d of its text", len(got), len(text))
	}
	if got := fetch(t, ev["trace_link"][0]); got != `{"llm output": "`+data+`"}` {
		t.Errorf("the data event's link fetches %.60q", got)
	}

	bodies := runLogBodies(rc)
	if len(bodies) != 1 {
		t.Fatalf("%d run logs", len(bodies))
	}
	fetched := map[string]bool{}
	for _, m := range offloadedLink.FindAllStringSubmatch(bodies[0], -1) {
		fetched[fetch(t, m[1])] = true
	}
	if !fetched[input] || !fetched[text] || !fetched[`{'llm output': '`+data+`'}`] {
		t.Errorf("the run log's %d links do not fetch the input, the event's text and the data event's entry", len(fetched))
	}
	for _, secret := range []string{storePass, storeToken, storeKey} {
		if strings.Contains(bodies[0], secret) || strings.Contains(fmt.Sprint(ev), secret) {
			t.Errorf("a link holds %q", secret)
		}
	}
	store.mu.Lock()
	puts := len(store.objects)
	store.mu.Unlock()
	if got := offloadCount(t, e, "offloaded"); got != puts || puts != 5 {
		t.Errorf("offloaded %d, the store holds %d, want 5 (input, text twice, data twice)", got, puts)
	}
	if msgs := errs.all(); len(msgs) != 0 {
		t.Errorf("errors: %q", msgs)
	}
}

// TestLargeFieldsStoreFailures checks that a store that refuses (503),
// hangs past the timeout or cannot be reached is counted by reason in
// flowtel_offload_values_total and reported to the error handler, without
// the store's credentials, and that the run is exported all the same.
func TestLargeFieldsStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		name, result, says string
		setup              func(*objectStore)
	}{
		{"refused", "failed_refused", "status 503", func(s *objectStore) { s.status = http.StatusServiceUnavailable }},
		{"timeout", "failed_timeout", "deadline exceeded", func(s *objectStore) { s.hang = true }},
		{"unreachable", "failed_error", "connection refused", func(s *objectStore) { s.srv.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newObjectStore(t)
			tc.setup(store)
			lf := store.config()
			// Short only where the store hangs: a refusal or a closed port
			// answered late on a loaded machine would read as a timeout.
			lf.Timeout = 10 * time.Second
			if store.hang {
				lf.Timeout = 50 * time.Millisecond
			}
			rc := otlptest.StartKeeping(t, otlptest.GRPC)
			var errs errorLog
			e := newLargeFieldEngine(t, rc, lf, &errs)
			r := e.StartRun(engine.RunInfo{})
			n := r.StartNode("llm:1", "llm", "LLM")
			n.Input(engine.String("prompt", strings.Repeat("x", 8<<10)))
			n.End()
			r.End(0, "")
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := offloadCount(t, e, tc.result); got != 1 {
				t.Errorf("%s = %d, want 1", tc.result, got)
			}
			if s := e.Stats(); s.Exported != 2 {
				t.Errorf("stats %+v, want the run and its node exported", s)
			}
			msgs := errs.all()
			if len(msgs) != 1 || !strings.Contains(msgs[0], tc.says) {
				t.Errorf("errors %q, want one saying %q", msgs, tc.says)
			}
			for _, m := range msgs {
				for _, secret := range []string{storePass, storeToken, storeKey} {
					if strings.Contains(m, secret) {
						t.Errorf("error %q prints %q", m, secret)
					}
				}
			}
		})
	}
}

// TestLargeFieldsShutdownLost checks that a value the store has not taken
// when Shutdown's context ends is counted as lost and said in Shutdown's
// error (once: a later Shutdown returns nil),
// and that no goroutine is left (goleak, TestMain).
func TestLargeFieldsShutdownLost(t *testing.T) {
	store := newObjectStore(t)
	store.hang = true
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	var errs errorLog
	e := newLargeFieldEngine(t, rc, store.config(), &errs)
	r := e.StartRun(engine.RunInfo{})
	n := r.StartNode("llm:1", "llm", "LLM")
	n.Input(engine.String("prompt", strings.Repeat("x", 8<<10)))
	n.End()
	r.End(0, "")
	<-store.entered // the PUT hangs; the run is encoded
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	// The first call may return ctx's error before the pipeline's; the
	// pipeline's goes to whichever call first sees the shutdown end.
	err := e.Shutdown(ctx)
	if !errors.Is(err, encode.ErrOffloadUnfinished) {
		err = e.Shutdown(context.Background())
	}
	if !errors.Is(err, encode.ErrOffloadUnfinished) || !strings.Contains(err.Error(), "1 large values not stored") {
		t.Fatalf("Shutdown = %v, want the value not stored said", err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after the one that said the loss = %v, want nil", err)
	}
	// Shutdown does not wait for a store that ignores its context: the
	// canceled PUT is counted when it returns. The wait is bounded so that
	// a PUT counted otherwise fails with the counts instead of hanging the
	// package's tests (it once ran to go test's 11-minute kill under -race).
	for i := 0; offloadCount(t, e, "lost") != 1; i++ {
		if i == 30_000 {
			t.Fatalf("the canceled PUT was not counted lost: %s", e.AppendPrometheus(nil))
		}
		time.Sleep(time.Millisecond)
	}
	if s := e.Stats(); s.Exported != 2 {
		t.Errorf("stats %+v, want the spans exported", s)
	}
}

// TestLargeFieldsRefusedSettings checks that settings that would fail
// later are refused by New and NewFromEnv, naming the setting or the
// variable, never printing a credential.
func TestLargeFieldsRefusedSettings(t *testing.T) {
	const secret = "pw-s3cret"
	for _, tc := range []struct {
		lf   export.LargeFieldConfig
		name string
	}{
		{export.LargeFieldConfig{URL: "ftp://ak:" + secret + "@store/b?token=" + secret}, "LargeFields.URL"},
		{export.LargeFieldConfig{URL: "store.example:9000"}, "LargeFields.URL"},
		{export.LargeFieldConfig{URL: "http://store/b", Headers: map[string]string{"X-Key": secret + "\r\nX-Evil: 1"}}, "LargeFields.Headers"},
		{export.LargeFieldConfig{Headers: map[string]string{"X-Key": secret}}, "LargeFields.Headers"},
		{export.LargeFieldConfig{Dir: t.TempDir(), URL: "http://store/b"}, "LargeFields.URL"},
		{export.LargeFieldConfig{Disabled: true, Dir: t.TempDir()}, "LargeFields.Disabled"},
		{export.LargeFieldConfig{MaxBytes: -1}, "LargeFields.MaxBytes"},
		{export.LargeFieldConfig{MaxBytes: 100}, "LargeFields.MaxBytes"},
		{export.LargeFieldConfig{MaxFiles: -1}, "LargeFields.MaxFiles"},
		{export.LargeFieldConfig{URL: "http://store/b", MaxFiles: 10}, "LargeFields.MaxFiles"},
		{export.LargeFieldConfig{Timeout: -time.Second}, "LargeFields.Timeout"},
		{export.LargeFieldConfig{Concurrency: 1 << 20}, "LargeFields.Concurrency"},
		{export.LargeFieldConfig{QueueBytes: 1}, "LargeFields.QueueBytes"},
	} {
		_, err := New(export.Config{Endpoint: "127.0.0.1:1", Insecure: true, LargeFields: tc.lf})
		if !errors.Is(err, export.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.name) || strings.Contains(err.Error(), secret) {
			t.Errorf("%+v: %v, want ErrInvalidConfig naming %s", tc.lf, err, tc.name)
		}
	}
	// A directory that cannot be made: refused, naming the setting.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(export.Config{Endpoint: "127.0.0.1:1", Insecure: true, LargeFields: export.LargeFieldConfig{Dir: filepath.Join(file, "sub")}}); !errors.Is(err, export.ErrInvalidConfig) || !strings.Contains(err.Error(), "LargeFields.Dir") {
		t.Errorf("a directory under a file: %v", err)
	}

	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"FLOWTEL_LARGE_FIELDS_MAX_BYTES": "0"}, "FLOWTEL_LARGE_FIELDS_MAX_BYTES"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_MAX_BYTES": "1000"}, "FLOWTEL_LARGE_FIELDS_MAX_BYTES"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_MAX_FILES": "0"}, "FLOWTEL_LARGE_FIELDS_MAX_FILES"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_QUEUE_BYTES": "0"}, "FLOWTEL_LARGE_FIELDS_QUEUE_BYTES"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_CONCURRENCY": "0"}, "FLOWTEL_LARGE_FIELDS_CONCURRENCY"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_TIMEOUT": "0"}, "FLOWTEL_LARGE_FIELDS_TIMEOUT"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_URL": "ftp://ak:" + secret + "@store/?token=" + secret}, "FLOWTEL_LARGE_FIELDS_URL"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_HEADERS": "x-key=" + secret}, "FLOWTEL_LARGE_FIELDS_HEADERS"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_URL": "http://store/", "FLOWTEL_LARGE_FIELDS_MAX_FILES": "9"}, "FLOWTEL_LARGE_FIELDS_MAX_FILES"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_DISABLED": "true", "FLOWTEL_LARGE_FIELDS_DIR": "/tmp/x"}, "FLOWTEL_LARGE_FIELDS_DISABLED"},
		{map[string]string{"FLOWTEL_LARGE_FIELDS_DISABLED": "maybe"}, "FLOWTEL_LARGE_FIELDS_DISABLED"},
	} {
		name := tc.name
		_, err := newFromLookup(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if !errors.Is(err, export.ErrInvalidEnv) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), secret) {
			t.Errorf("%v: %v, want ErrInvalidEnv naming %s", tc.env, err, name)
		}
	}
}

// TestLargeFieldsDefault checks the default: with no LargeFields setting,
// a large value goes to a file in DefaultLargeFieldDir ($TMPDIR here) and
// the run trace log holds its file:// link.
func TestLargeFieldsDefault(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if got := export.DefaultLargeFieldDir(); got != filepath.Join(tmp, "flowtel-large-fields-"+strconv.Itoa(os.Getuid())) {
		t.Fatalf("DefaultLargeFieldDir = %q", got)
	}
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	var errs errorLog
	e := newLargeFieldEngine(t, rc, export.LargeFieldConfig{}, &errs)
	input := strings.Repeat("默认", 3000)
	runPromptAndShutdown(t, e, input)
	bodies := runLogBodies(rc)
	link := regexp.MustCompile(regexp.QuoteMeta(encode.OffloadedPrefix) + `file://([^"\\]+)`).FindStringSubmatch(strings.Join(bodies, ""))
	if link == nil || !strings.HasPrefix(link[1], export.DefaultLargeFieldDir()+"/") {
		t.Fatalf("run logs %.200q: no file link into the default directory", bodies)
	}
	if b, err := os.ReadFile(link[1]); err != nil || string(b) != input {
		t.Fatalf("the linked file: %d bytes, %v", len(b), err)
	}
	if got := offloadCount(t, e, "offloaded"); got != 1 {
		t.Errorf("offloaded = %d", got)
	}
}

// TestLargeFieldsFileBudget checks the file store's bound through New:
// past MaxBytes values are cut with the marker and counted as
// truncated_store_full, and the directory never holds more.
func TestLargeFieldsFileBudget(t *testing.T) {
	dir := t.TempDir()
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	var errs errorLog
	e := newLargeFieldEngine(t, rc, export.LargeFieldConfig{Dir: dir, MaxBytes: 64 << 10}, &errs)
	const runs, size = 5, 20 << 10
	for range runs {
		r := e.StartRun(engine.RunInfo{})
		n := r.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", strings.Repeat("v", size)))
		n.End()
		r.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, cut := offloadCount(t, e, "offloaded"), offloadCount(t, e, "truncated_store_full")
	if stored != 3 || cut != 2 {
		t.Errorf("offloaded %d, cut %d; want 3 and 2", stored, cut)
	}
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		info, _ := en.Info()
		total += info.Size()
	}
	if len(entries) != stored || total > 64<<10 {
		t.Errorf("the directory holds %d files, %d bytes", len(entries), total)
	}
	marked := strings.Count(strings.Join(runLogBodies(rc), ""), encode.TruncatedMarker+strconv.Itoa(size)+"]")
	if marked != cut {
		t.Errorf("%d values marked as cut in the run logs, want %d", marked, cut)
	}
}

// TestLargeFieldsNeverLostUncounted is a property test: values of random
// sizes around the limits (5088 bytes in the run trace log, 10 KiB for an
// INFO span event), of ASCII and three-byte characters, through object
// storage and through a file store whose budget fills, are each either
// inline and whole (under the limit), linked (the link fetches the exact
// bytes) or cut with the marker of their length (a head of the value,
// under the limit), and the cuts and links add up to what
// flowtel_offload_values_total counts: nothing is lost uncounted.
func TestLargeFieldsNeverLostUncounted(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	value := func(around int) string {
		n := around - 48 + rng.IntN(96)
		var b strings.Builder
		for b.Len() < n {
			if rng.IntN(4) == 0 {
				b.WriteString("值")
			} else {
				b.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		return b.String()
	}
	store := newObjectStore(t)
	for _, tc := range []struct {
		name string
		lf   export.LargeFieldConfig
	}{
		{"object store", store.config()},
		{"file store, budget filling", export.LargeFieldConfig{Dir: t.TempDir(), MaxBytes: 160 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := otlptest.StartKeeping(t, otlptest.GRPC)
			var errs errorLog
			e := newLargeFieldEngine(t, rc, tc.lf, &errs)
			const runs = 24
			inputs, texts := map[string]string{}, map[string]string{}
			for i := range runs {
				id := strconv.Itoa(i)
				inputs[id], texts[id] = value(encode.DefaultOffloadThreshold), value(encode.SpanEventOffloadThreshold)
				r := e.StartRun(engine.RunInfo{})
				n := r.StartNode("llm:1", "llm", "LLM")
				n.Input(engine.String("id", id), engine.String("v", inputs[id]))
				n.Info(texts[id])
				n.End()
				r.End(0, "")
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			var linked, cut int
			check := func(what, got, want string, limit int) {
				t.Helper()
				fetchLink := func(link string) string {
					if p, ok := strings.CutPrefix(link, "file://"); ok {
						b, err := os.ReadFile(p)
						if err != nil {
							t.Fatal(err)
						}
						return string(b)
					}
					return fetch(t, link)
				}
				marker := encode.TruncatedMarker + strconv.Itoa(len(want)) + "]"
				switch head, isCut := strings.CutSuffix(got, marker); {
				case got == want && len(want) < limit:
				case strings.HasPrefix(got, encode.OffloadedPrefix) || strings.HasPrefix(got, "trace_link: "):
					link := strings.TrimPrefix(strings.TrimPrefix(got, encode.OffloadedPrefix), "trace_link: ")
					if len(want) < limit || fetchLink(link) != want {
						t.Errorf("%s of %d bytes: linked, the link does not fetch it", what, len(want))
					}
					linked++
				case isCut && len(got) < limit && strings.HasPrefix(want, head) && len(want) >= limit:
					cut++
				default:
					t.Errorf("%s of %d bytes (limit %d) lost: %d bytes %.40q", what, len(want), limit, len(got), got)
				}
			}
			for _, body := range runLogBodies(rc) {
				var log struct {
					Trace []struct {
						Data struct{ Input map[string]string }
						Logs []string
					}
				}
				if err := json.Unmarshal([]byte(body), &log); err != nil || len(log.Trace) != 1 || len(log.Trace[0].Logs) != 1 {
					t.Fatalf("run log %.100q: %v", body, err)
				}
				var entry struct{ Message string }
				if err := json.Unmarshal([]byte(log.Trace[0].Logs[0]), &entry); err != nil {
					t.Fatal(err)
				}
				id := log.Trace[0].Data.Input["id"]
				check("input "+id, log.Trace[0].Data.Input["v"], inputs[id], encode.DefaultOffloadThreshold)
				check("log entry "+id, entry.Message, texts[id], encode.DefaultOffloadThreshold)
			}
			spans := 0
			for _, sp := range receivedSpans(rc) {
				var id string
				for _, kv := range sp.Attributes {
					if kv.Key == "input.id" {
						id = kv.Value.GetStringValue()
					}
				}
				if id == "" {
					continue
				}
				spans++
				check("INFO event "+id, eventValues([]*tracepb.Span{sp})["INFO LOG"][0], texts[id], encode.SpanEventOffloadThreshold)
			}
			if spans != runs || len(runLogBodies(rc)) != runs {
				t.Fatalf("%d node spans, %d run logs; want %d", spans, len(runLogBodies(rc)), runs)
			}
			counted := 0
			for _, r := range []string{"truncated_queue_full", "truncated_store_full", "truncated_closed"} {
				counted += offloadCount(t, e, r)
			}
			if got := offloadCount(t, e, "offloaded"); got != linked || counted != cut {
				t.Errorf("%d linked, %d cut; counted %d offloaded, %d cut", linked, cut, got, counted)
			}
			if tc.lf.Dir != "" && cut == 0 {
				t.Errorf("the file store's budget cut nothing")
			}
			t.Logf("%d linked, %d cut", linked, cut)
		})
	}
}

// TestLargeFieldsFromEnv checks that NewFromEnv takes the store from the
// FLOWTEL_LARGE_FIELDS_* variables: the URL with its credentials, the
// headers, and the bounds, against the real HTTP store.
func TestLargeFieldsFromEnv(t *testing.T) {
	store := newObjectStore(t)
	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	lf := store.config()
	e, err := newFromLookup(lookupMap(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":      rc.Endpoint(),
		"OTEL_EXPORTER_OTLP_INSECURE":      "true",
		"OTLP_TRACE_SCHEDULE_DELAY_MILLIS": "5",
		"OTEL_METRICS_EXPORTER":            "none",
		"FLOWTEL_LARGE_FIELDS_URL":         lf.URL,
		"FLOWTEL_LARGE_FIELDS_HEADERS":     "X-Api-Key=" + storeKey,
		"FLOWTEL_LARGE_FIELDS_TIMEOUT":     "60000",
		"FLOWTEL_LARGE_FIELDS_CONCURRENCY": "1",
		"FLOWTEL_LARGE_FIELDS_QUEUE_BYTES": "1048576",
	}))
	if err != nil {
		t.Fatal(err)
	}
	input := strings.Repeat("env ", 2000)
	runPromptAndShutdown(t, e, input)
	sink, _ := OTLPSink(e)
	if got := sink.Offloader().MemoryBytes(); got != 2<<20 {
		t.Errorf("offloader memory %d, want twice FLOWTEL_LARGE_FIELDS_QUEUE_BYTES", got)
	}
	m := offloadedLink.FindStringSubmatch(strings.Join(runLogBodies(rc), ""))
	if m == nil || fetch(t, m[1]) != input || offloadCount(t, e, "offloaded") != 1 {
		t.Fatalf("run logs %.200q: the input is not linked to the store", runLogBodies(rc))
	}
}

// runPromptAndShutdown records one run whose LLM node has input as its
// prompt, then shuts e down, failing t on a Shutdown error.
func runPromptAndShutdown(t *testing.T, e *engine.Engine, input string) {
	t.Helper()
	r := e.StartRun(engine.RunInfo{})
	n := r.StartNode("llm:1", "llm", "LLM")
	n.Input(engine.String("prompt", input))
	n.End()
	r.End(0, "")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
