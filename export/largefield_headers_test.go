package export

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// endlessEarlyHints starts a loopback server that answers its first
// connection's request with 103 Early Hints responses of 60 KB headers
// without end, and returns its address; the test's end stops it.
func endlessEarlyHints(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		hint := []byte("HTTP/1.1 103 Early Hints\r\nLink: <" + strings.Repeat("x", 60000) + ">\r\n\r\n")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(hint); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); ln.Close(); <-done })
	return ln.Addr().String()
}

// TestHTTPStoreHugeResponseHeaders points an HTTPStore at a store that
// answers a PUT with informational responses (103 Early Hints) of 60 KB
// headers without end, over a real loopback connection: Put fails with
// ErrLargeFieldStore, and what it allocates stays small. net/http's
// default bound on response headers (10 MiB) let one Put allocate some
// 67 MiB before it gave up; a store's answer needs no large header, and
// NewHTTPStoreClient takes at most maxStoreHeaderBytes.
func TestHTTPStoreHugeResponseHeaders(t *testing.T) {
	addr := endlessEarlyHints(t)
	s, err := NewHTTPStore("http://"+addr+"/b/", nil, NewHTTPStoreClient(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = s.Put(ctx, "k", []byte("v"))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLargeFieldStore) {
		t.Fatalf("Put = %v, want ErrLargeFieldStore", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("Put allocated %d MiB against a store's endless headers (%v)", got>>20, err)
	}
}

// TestHTTPExporterHugeResponseHeaders is TestHTTPStoreHugeResponseHeaders
// for the OTLP/HTTP exporter's client: an OTLP response needs no large
// header, and net/http's default bound (10 MiB) let a hostile endpoint
// make each export allocate tens of megabytes.
func TestHTTPExporterHugeResponseHeaders(t *testing.T) {
	addr := endlessEarlyHints(t)
	c := newHTTPClient(&target{timeout: time.Minute})
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/traces", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := c.Do(req)
	runtime.ReadMemStats(&after)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST = %s, want an error", resp.Status)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("POST allocated %d MiB against an endpoint's endless headers (%v)", got>>20, err)
	}
}
