package promhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestHandler serves an engine's metrics on a loopback port: GET returns
// the collection engine.AppendPrometheus takes, HEAD its headers only,
// and other methods 405.
func TestHandler(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
	run.StartNode("llm:1", "llm", "LLM").End()
	run.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()

	resp, body := testkit.Get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != encode.PromContentType {
		t.Fatalf("GET: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), `flowtel_node_executions_total{node_type="llm",status="ok"} 1`) {
		t.Errorf("GET body lacks the node:\n%s", body)
	}

	resp, err = http.Head(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Errorf("HEAD: status %d, length %d", resp.StatusCode, resp.ContentLength)
	}

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestHandlerHostileLabels serves label values a caller controls (app,
// flow and node type names holding quotes, backslashes, line breaks,
// tabs, invalid UTF-8 and a fake exposition line) and holds the body to
// the real `promtool check metrics`, and every sample line to the text
// format's grammar, whatever the client asks for in Accept.
func TestHandlerHostileLabels(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	nasty := "a\"b\\c\nd\re\tf\xff\xfeg\u2028 h} 1\n# TYPE x counter\nx 2"
	run := e.StartRun(engine.RunInfo{AppID: nasty, FlowID: "flow" + nasty})
	run.StartNode("n:1", "type"+nasty, "name"+nasty).End()
	run.End(1, nasty)
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()
	for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != encode.PromContentType {
			t.Fatalf("Accept %q: status %d, content type %q", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !utf8.Valid(body) {
			t.Errorf("Accept %q: the body is not UTF-8", accept)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sampleLine.MatchString(line) {
				t.Errorf("Accept %q: invalid line %q", accept, line)
			}
			if strings.HasPrefix(line, "x ") {
				t.Errorf("Accept %q: a label value wrote its own sample line %q", accept, line)
			}
		}
		if !strings.Contains(string(body), `app_id="a\"b\\c\nd`) {
			t.Errorf("Accept %q: the app label is not escaped as the format asks:\n%s", accept, body)
		}
		promtoolCheck(t, body)
	}
}

// sampleLine matches a sample line of the text format 0.0.4: a metric
// name, optional labels whose values escape only \, " and line feed, a
// value.
var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.]+(e[+-][0-9]+)?|[+-]Inf|NaN)$`)

// promtoolCheck runs `promtool check metrics` on body when promtool is
// installed (testkit.Promtool).
func promtoolCheck(t *testing.T, body []byte) { testkit.Promtool(t, body) }
