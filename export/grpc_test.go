package export

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// frameCounter is a TCP proxy in front of a gRPC server that counts the
// HTTP/2 frames the client sends, by type, and passes every byte on.
type frameCounter struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	pings  atomic.Int64 // PING frames without the ACK flag
	frames atomic.Int64
}

func newFrameCounter(t *testing.T, target string) *frameCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &frameCounter{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
			go func() { defer p.wg.Done(); _ = p.count(c, s); s.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *frameCounter) addr() string { return p.ln.Addr().String() }

// count copies the client's bytes to the server frame by frame.
func (p *frameCounter) count(c io.Reader, s io.Writer) error {
	r := bufio.NewReader(c)
	preface := make([]byte, 24) // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	if _, err := io.ReadFull(r, preface); err != nil {
		return err
	}
	if _, err := s.Write(preface); err != nil {
		return err
	}
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := int(hdr[0])<<16 | int(binary.BigEndian.Uint16(hdr[1:3]))
		frame := make([]byte, 9+n)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(r, frame[9:]); err != nil {
			return err
		}
		p.frames.Add(1)
		if hdr[3] == 0x6 && hdr[4]&0x1 == 0 { // PING, not an ACK
			p.pings.Add(1)
		}
		if _, err := s.Write(frame); err != nil {
			return err
		}
	}
}

func (p *frameCounter) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestGRPCNoPingPerRequest: the exporter's gRPC client sends no PING
// frames of its own. With gRPC's default dynamic windows it sent one with
// nearly every response it read (to estimate the bandwidth-delay product
// of what it receives), which costs both ends a write and a read per
// request; the windows are static (dialGRPC). Found and checked by
// counting the client's frames on the wire through a proxy.
func TestGRPCNoPingPerRequest(t *testing.T) {
	c := newReceiver(t, ProtocolGRPC, nil)
	c.Start()
	defer c.Stop()
	p := newFrameCounter(t, c.Addr)
	e, err := New(oneBatchPerRequest(testConfig(ProtocolGRPC, "http://"+p.addr())))
	if err != nil {
		t.Fatal(err)
	}
	const requests = 20
	for i := range requests {
		e.Enqueue(Traces, encodeBatch(t, Traces, fmt.Sprint("b", i), 64), 64)
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	shutdown(t, e)
	if got := received(c)[Traces]; got != requests*64 {
		t.Fatalf("received %d spans, want %d", got, requests*64)
	}
	if n := p.pings.Load(); n != 0 {
		t.Fatalf("the client sent %d PING frames in %d requests (%d frames), want 0", n, requests, p.frames.Load())
	}
}

// TestGRPCUnixSocket: an OTLP/gRPC endpoint may be a Unix domain socket,
// any form of target the gRPC client takes (a collector beside the
// process often listens on one): unix:///path and unix:path, from Config
// and from OTEL_EXPORTER_OTLP_ENDPOINT, deliver to a receiver on the
// socket. Both were refused (scheme "unix", want http or https). OTLP/HTTP
// refuses one by name.
func TestGRPCUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "flowtel-unix") // t.TempDir's path may pass a socket path's 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c := otlptest.New(t, ProtocolGRPC, nil)
	c.Addr = "unix:" + filepath.Join(dir, "otlp.sock")
	c.Start()
	defer c.Stop()
	env := func(ep string) Config {
		cfg, err := FromLookup(func(k string) (string, bool) {
			v, ok := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ep, "OTEL_EXPORTER_OTLP_INSECURE": "true"}[k]
			return v, ok
		})
		if err != nil {
			t.Fatalf("FromLookup(OTEL_EXPORTER_OTLP_ENDPOINT=%s): %v", ep, err)
		}
		return cfg
	}
	for i, cfg := range []Config{
		{Endpoint: "unix://" + filepath.Join(dir, "otlp.sock"), Insecure: true},
		{Endpoint: c.Endpoint(), Insecure: true},
		env("unix://" + filepath.Join(dir, "otlp.sock")),
	} {
		e, err := New(cfg)
		if err != nil {
			t.Fatalf("endpoint %d: %v", i, err)
		}
		before := received(c)[Traces]
		produced := produce(t, e, Traces, fmt.Sprint("unix", i), 2, 3)
		flush(t, e)
		shutdown(t, e)
		if st := e.Stats().Signals[Traces]; st.Exported != produced || received(c)[Traces]-before != int64(produced) {
			t.Errorf("endpoint %d: %+v, the receiver got %d; want %d exported and received", i, st, received(c)[Traces]-before, produced)
		}
	}
	_, err = New(Config{Protocol: ProtocolHTTPProtobuf, Endpoint: c.Endpoint()})
	if !errors.Is(err, ErrInvalidEndpoint) || !strings.Contains(err.Error(), "OTLP/gRPC only") {
		t.Errorf("OTLP/HTTP to %s: %v, want ErrInvalidEndpoint for gRPC only", c.Endpoint(), err)
	}
}
