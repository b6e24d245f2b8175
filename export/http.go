package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"
)

// httpSender exports one signal over OTLP/HTTP with protobuf bodies.
type httpSender struct {
	sig     Signal
	client  *http.Client
	url     string
	shown   string // url with its secrets redacted
	headers http.Header
	host    string // a configured Host header: the request's Host
	gzip    bool
	rd      redactor // the target's secrets
}

// gzipWriters reuses gzip writers (each holds about 800 KB of state).
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// gzipBuffers holds compressed request bodies.
var gzipBuffers bytebufferpool.Pool

func newHTTPClient(t *target) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: t.timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       t.tls,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   t.timeout,
		ResponseHeaderTimeout: t.timeout,
		// An OTLP response needs no large header: net/http's default
		// (10 MiB) let a hostile endpoint make each export allocate tens
		// of megabytes, informational (1xx) responses included.
		MaxResponseHeaderBytes: maxStoreHeaderBytes,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// maxRedirects bounds the redirects one request follows.
const maxRedirects = 3

// checkRedirect follows a redirect as OTLP asks of a response it does not
// list ("treated according to HTTP specifications"), as OTel Go's
// exporter does, but only a 307 or 308 (which send the POST and its body
// again; Go makes a GET of the others) to the same scheme and host: the
// request carries the headers, credentials among them, which net/http
// would forward to another host but for Authorization and cookies. Any
// other redirect is answered as is: a permanent error, reported.
//
// net/http has taken the next request's body (GetBody) before it asks,
// and does not close it when told not to follow: it is closed here, or
// send, which waits for every body it handed out to be closed, waited
// for ever (a 307 or 308 hung its worker).
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	code := req.Response.StatusCode
	if len(via) > maxRedirects || code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect ||
		req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		if req.Body != nil {
			req.Body.Close()
		}
		return http.ErrUseLastResponse
	}
	return nil
}

func newHTTPSender(sig Signal, t *target, client *http.Client) *httpSender {
	h := make(http.Header, len(t.headers)+3)
	for k, v := range t.headers {
		h.Set(k, v)
	}
	// net/http sends req.Host, not a Host in the header map.
	host := h.Get("Host")
	h.Del("Host")
	h.Set("Content-Type", "application/x-protobuf")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", userAgent)
	}
	if t.gzip {
		h.Set("Content-Encoding", "gzip")
	}
	return &httpSender{sig: sig, client: client, url: t.url, shown: t.shownURL, headers: h, host: host, gzip: t.gzip, rd: t.redact}
}

// coalesces is true: the parts are the body one after the other, read
// from where they are (partsBody), not copied into one buffer.
func (s *httpSender) coalesces() bool { return true }

func (s *httpSender) send(ctx context.Context, parts [][]byte) outcome {
	var body io.Reader
	size := 0
	var getBody func() (io.ReadCloser, error)
	switch {
	case s.gzip:
		zb := gzipBuffers.Get()
		defer gzipBuffers.Put(zb)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(zb)
		for _, p := range parts {
			_, _ = zw.Write(p) // a ByteBuffer write never fails
		}
		if err := zw.Close(); err != nil {
			gzipWriters.Put(zw)
			return outcome{Class: classPermanent, Err: fmt.Errorf("export %s: gzip: %w", s.sig, err)}
		}
		gzipWriters.Put(zw)
		body = bytes.NewReader(zb.B)
	case len(parts) == 1:
		body = bytes.NewReader(parts[0])
	default:
		// The worker reuses parts for its next request, and a body the
		// transport has not finished with may outlive this call: the
		// reader gets a slice of its own.
		ps := slices.Clone(parts)
		for _, p := range ps {
			size += len(p)
		}
		getBody = func() (io.ReadCloser, error) { return partsBody(ps), nil }
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, body)
	if err != nil {
		return outcome{Class: classPermanent, Err: fmt.Errorf("export %s: build request: %w", s.sig, errUnwrapURL(err, s.shown))}
	}
	if getBody == nil {
		getBody, size = req.GetBody, int(req.ContentLength)
	}
	// The transport may go on reading a body after Do returns (a receiver
	// that answers before it reads the request): the parts and the gzip
	// buffer go back to their pools when this returns, so it waits until
	// the transport has closed every body it was given
	// (TestHTTPBodyNotReusedWhileSent).
	var open sync.WaitGroup
	defer open.Wait()
	tracked := func() (io.ReadCloser, error) {
		b, err := getBody()
		if err != nil {
			return nil, err
		}
		open.Add(1)
		return &sentBody{ReadCloser: b, done: open.Done}, nil
	}
	// NewRequest knows the length of a bytes.Reader, not a parts body's:
	// without it the request would be sent chunked.
	req.Body, _ = tracked()
	req.GetBody = tracked
	req.ContentLength = int64(size)
	req.Header = s.headers.Clone()
	if s.host != "" {
		req.Host = s.host
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// Connection refused, reset, timeout: the receiver may come back.
		notice := s.sig.String() + " transport"
		if errors.Is(ctx.Err(), context.Canceled) {
			return outcome{Class: classRetryable, Err: fmt.Errorf("export %s: %w", s.sig, context.Canceled), Notice: notice}
		}
		return outcome{Class: classRetryable, Err: fmt.Errorf("export %s: %w", s.sig, errUnwrapURL(err, s.shown)), Notice: notice}
	}
	// The receiver may be hostile: read at most MaxResponseBytes (and one
	// byte more, to tell a larger response). A body cut short (a proxy
	// that answers and resets) leaves the status, which decides: a 400
	// is not retried (OTLP: "MUST NOT retry") for a failed read, and what
	// was read is its message.
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	resp.Body.Close()
	if len(rb) > MaxResponseBytes {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return undecodable(s.sig, errResponseTooLarge)
		}
		rb = rb[:MaxResponseBytes]
	}
	return classifyHTTP(s.sig, resp.StatusCode, resp.Header, rb, time.Now(), s.rd)
}

// sentBody is a request body that reports its Close once.
type sentBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *sentBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}

// partsBody returns a request body reading parts one after the other.
// net.Buffers reads them in place and consumes only its own slice header.
func partsBody(parts [][]byte) io.ReadCloser {
	b := net.Buffers(slices.Clone(parts))
	return io.NopCloser(&b)
}
