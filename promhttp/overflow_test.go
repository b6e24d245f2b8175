package promhttp

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestOverflowKeepsRet serves the request counter of more applications
// than MetricsConfig.Limit, one run in ten failing with code 7, and adds
// the scraped series as the alerts and the dashboard read them
// (HighErrorRate: ret!="0" over all): the runs past the limit must still
// count under their return code. Before, the overflow series had no ret,
// so every request in it counted as an error: with 40 applications and a
// limit of 8 the error ratio read 0.8 where it was 0.1, and HighErrorRate,
// critical, fired on any deployment with more applications than the limit.
func TestOverflowKeepsRet(t *testing.T) {
	e, err := engine.New(engine.WithMetrics(engine.MetricsConfig{Limit: 8}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	const runs = 400
	for i := range runs {
		run := e.StartRun(engine.RunInfo{AppID: fmt.Sprint("app-", i%40), FlowID: "flow"})
		code := 0
		if i%10 == 9 {
			code = 7
		}
		run.End(code, "")
	}
	// Requests recorded by the workflow engine itself take the same path.
	e.RecordRequest("app-other", "flow", 7, 0)
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()
	_, body := testkit.Get(t, srv.URL+"/metrics")
	testkit.Promtool(t, body)

	byRet := map[string]int{}
	overflowed := 0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "server_request_total{") {
			continue
		}
		n, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ret := "" // the label absent, as PromQL's ret!="0" sees it
		if m := retLabel.FindStringSubmatch(line); m != nil {
			ret = m[1]
		}
		byRet[ret] += n
		if strings.Contains(line, `otel_metric_overflow="true"`) {
			overflowed += n
		}
	}
	if overflowed == 0 {
		t.Fatalf("nothing went to the overflow series:\n%s", body)
	}
	if want := (map[string]int{"0": runs * 9 / 10, "7": runs/10 + 1}); fmt.Sprint(byRet) != fmt.Sprint(want) {
		t.Errorf("server_request_total by ret: %v, want %v (%d in overflow series)", byRet, want, overflowed)
	}
}

var retLabel = regexp.MustCompile(`[{,]ret="([^"]*)"`)
