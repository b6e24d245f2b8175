package promhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// bigEngine returns an engine whose exposition is about half a megabyte: 200
// applications' request series.
func bigEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.WithMetrics(engine.MetricsConfig{Limit: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	for i := range 200 {
		e.RecordRequest(fmt.Sprint("application-", i), "flow", 0, time.Millisecond)
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// startSmallBuffers serves h on a loopback port whose accepted
// connections have a small kernel send buffer, so that a response the
// client does not read blocks the handler's Write.
func startSmallBuffers(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// stalledScrape sends a GET for /metrics on a connection with a small
// receive buffer and reads no more of the answer than its status line, so
// that the handler is held in its Write with its slot; the test's end
// closes it if the test does not. It returns the connection and whether
// the status was 200 (the request had a slot).
func stalledScrape(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // before the server's Close, which waits for it
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: flowtel\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	status := make([]byte, len("HTTP/1.1 200"))
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, status); err != nil {
		t.Fatalf("the stalled scrape's status line: %v", err)
	}
	return c, string(status) == "HTTP/1.1 200"
}

// scrape GETs url and returns the status and body.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, body := testkit.Get(t, url)
	return resp.StatusCode, string(body)
}

var scrapeErrors = regexp.MustCompile(`(?m)^flowtel_scrape_errors_total\{reason="(busy|write)"\} (\d+)$`)

// scrapeErrorCounts returns the ScrapeErrors series of body by reason.
func scrapeErrorCounts(t *testing.T, body string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range scrapeErrors.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = n
	}
	if len(got) != 2 {
		t.Fatalf("the body lacks %s by reason:\n%.2000s", ScrapeErrors, body)
	}
	return got
}

// TestHandlerMaxInFlight opens DefaultMaxInFlight scrapes of a large
// exposition on a loopback port that never read their answer, so that
// each holds its buffer (and its slot) in the handler's Write. A further
// scrape must get 503 at once, saying why, while the engine's collection
// stays free; once the stalled clients go, scrapes succeed again and count
// the refused one (busy) and the cut ones (write). Before, there was no
// limit: every such connection held a buffer the size of the exposition,
// with no bound on how many.
func TestHandlerMaxInFlight(t *testing.T) {
	e := bigEngine(t)
	srv := startSmallBuffers(t, Handler(e))
	url := srv.URL + "/metrics"
	if n := len(e.AppendPrometheus(nil)); n < 256<<10 {
		t.Fatalf("the exposition is %d bytes, want at least 256 KiB", n)
	}

	var stalled []net.Conn
	for i := range DefaultMaxInFlight {
		c, ok := stalledScrape(t, srv.Listener.Addr().String())
		if !ok {
			t.Fatalf("stalled scrape %d was refused", i)
		}
		stalled = append(stalled, c)
	}
	code, body := scrape(t, url)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "MaxInFlight") {
		t.Fatalf("with %d stalled scrapes: status %d, body %.200q, want 503", DefaultMaxInFlight, code, body)
	}
	// The stalled writes hold no lock of the engine's.
	if len(e.AppendPrometheus(nil)) == 0 {
		t.Fatal("the collection is empty")
	}
	for _, c := range stalled {
		c.Close()
	}
	// Their writes fail as the connections close, and give back their
	// slots.
	var got map[string]int
	for i := 0; i < 500; i++ {
		if code, body = scrape(t, url); code == http.StatusOK {
			if got = scrapeErrorCounts(t, body); got["write"] == DefaultMaxInFlight {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != http.StatusOK || got["busy"] < 1 || got["write"] != DefaultMaxInFlight {
		t.Fatalf("after the stalled scrapes closed: status %d, scrape errors %v, want busy >= 1 and write %d", code, got, DefaultMaxInFlight)
	}
	testkit.Promtool(t, []byte(body))
}

// TestHandlerWriteTimeout holds a handler's one slot with a scrape that
// never reads its answer and never closes: the write deadline must give
// the slot back by itself (a scrape succeeds while the stalled
// connection is still open) and count the cut response.
func TestHandlerWriteTimeout(t *testing.T) {
	e := bigEngine(t)
	h, err := New(e, Config{MaxInFlight: 1, WriteTimeout: MinWriteTimeout})
	if err != nil {
		t.Fatal(err)
	}
	srv := startSmallBuffers(t, h)
	url := srv.URL + "/metrics"
	// A stalled scrape may pass its deadline before the next request
	// comes on a slow host: try again (bounded) until one is refused.
	stalls, code := 0, 0
	for i := 0; i < 20 && code != http.StatusServiceUnavailable; i++ {
		if _, ok := stalledScrape(t, srv.Listener.Addr().String()); !ok {
			continue // the scrape before had not yet given its slot back
		}
		stalls++
		code, _ = scrape(t, url)
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("with the slot held: status %d, want 503", code)
	}
	var got map[string]int
	for i := 0; i < 1000 && code != http.StatusOK; i++ {
		time.Sleep(10 * time.Millisecond)
		var body string
		if code, body = scrape(t, url); code == http.StatusOK {
			got = scrapeErrorCounts(t, body)
		}
	}
	if code != http.StatusOK || got["write"] != stalls || got["busy"] < 1 {
		t.Fatalf("with %d stalled connections open past WriteTimeout: status %d, scrape errors %v, want write %d", stalls, code, got, stalls)
	}
}

// TestNewRefuses holds New to its documented refusals.
func TestNewRefuses(t *testing.T) {
	for _, c := range []Config{{MaxInFlight: -1}, {WriteTimeout: 30}, {WriteTimeout: -time.Second}} {
		if h, err := New(nil, c); !errors.Is(err, ErrInvalidConfig) || h != nil {
			t.Errorf("New(%+v): %v, %v, want ErrInvalidConfig", c, h, err)
		}
	}
	if _, err := New(nil, Config{MaxInFlight: 1, WriteTimeout: MinWriteTimeout}); err != nil {
		t.Errorf("New with the least settings: %v", err)
	}
}

// TestHandlerKeepsServerWriteTimeout: under an http.Server whose
// WriteTimeout is shorter than Config.WriteTimeout, a scrape that never
// reads its answer gives its slot back at the server's deadline, which
// the handler must not push back. Before, the handler set its own
// deadline (30 s by default) over the server's 1 s, so that the slot
// stayed held 30 s and the scrapes meanwhile got 503.
func TestHandlerKeepsServerWriteTimeout(t *testing.T) {
	e := bigEngine(t)
	h, err := New(e, Config{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBufListener{srv.Listener}
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"
	if _, ok := stalledScrape(t, srv.Listener.Addr().String()); !ok {
		t.Fatal("the stalled scrape was refused")
	}
	// Well within Config.WriteTimeout (30 s), well past the server's 1 s.
	code, got := 0, map[string]int(nil)
	for i := 0; i < 1000 && (code != http.StatusOK || got["write"] != 1); i++ {
		time.Sleep(10 * time.Millisecond)
		var body string
		if code, body = scrape(t, url); code == http.StatusOK {
			got = scrapeErrorCounts(t, body)
		}
	}
	if code != http.StatusOK || got["write"] != 1 {
		t.Fatalf("10 s after a stalled scrape under a server's 1 s WriteTimeout: status %d, scrape errors %v, want 200 and write 1", code, got)
	}
}
