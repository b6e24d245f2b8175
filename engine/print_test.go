package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestPrintRunningEngine: an engine printed while it captures, with every
// verb, describes its state and reads nothing the pipeline writes (go test
// -race found fmt reading its fields).
func TestPrintRunningEngine(t *testing.T) {
	e, _ := newTestEngine(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			run := e.StartRun(RunInfo{SID: "s"})
			run.StartNode("n", "code", "n").End()
			run.End(0, "")
		}
	}()
	for range 200 {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			if s := fmt.Sprintf(verb, e); s == "" {
				t.Fatalf("%s printed nothing", verb)
			}
		}
	}
	close(stop)
	wg.Wait()
	if got := fmt.Sprint(e); got != "engine.Engine(running)" {
		t.Errorf("running engine printed %q", got)
	}
	_ = e.Shutdown(context.Background())
	var nilEngine *Engine
	for _, c := range []struct {
		e    *Engine
		want string
	}{{e, "engine.Engine(shut down)"}, {&Engine{}, "engine.Engine(shut down)"}, {nilEngine, "engine.Engine(nil)"}} {
		if got := fmt.Sprintf("%v %#v", c.e, c.e); got != c.want+" "+c.want {
			t.Errorf("printed %q, want %q twice", got, c.want)
		}
	}
}
