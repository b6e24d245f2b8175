package promhttp

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// Handler returns an http.Handler that serves e's metrics in the
// Prometheus text format 0.0.4 (mount it at /metrics): a fresh cumulative
// collection per request, as engine.Engine.AppendPrometheus describes.
// It answers GET and HEAD; other methods get 405. The body is gzipped
// when the request's Accept-Encoding takes gzip, as Prometheus' does. It
// may be called concurrently. With a nil e every request gets 503 and
// says so, so that the scrape fails visibly (up is 0).
func Handler(e *engine.Engine) http.Handler { return handler{e: e} }

type handler struct{ e *engine.Engine }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.e == nil {
		http.Error(w, "promhttp: Handler was given a nil engine", http.StatusServiceUnavailable)
		return
	}
	buf := encode.GetBuffer()
	defer encode.PutBuffer(buf)
	buf.B = h.e.AppendPrometheus(buf.B[:0])
	body := buf.B
	hd := w.Header()
	hd.Set("Content-Type", encode.PromContentType)
	// Added, not set: middleware may have named its own fields (CORS
	// middleware varies on Origin), which a cache must still key on.
	if !variesOnEncoding(hd.Values("Vary")) {
		hd.Add("Vary", "Accept-Encoding")
	}
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		zbuf := encode.GetBuffer()
		defer encode.PutBuffer(zbuf)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(zbuf)
		_, _ = zw.Write(body) // a ByteBuffer's Write never fails
		_ = zw.Close()
		gzipWriters.Put(zw)
		body = zbuf.B
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// gzipWriters are reused: a gzip.Writer holds about 800 KiB of state.
// BestSpeed: a scrape is text that compresses about 20 times even so
// (861 KB to 43 KB with 200 applications), for a few ms of CPU.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level
	return zw
}}

// acceptsGzip reports whether Accept-Encoding values take gzip: named
// with a q-value other than 0, or, when gzip is not named, "*" so.
func acceptsGzip(values []string) bool {
	gzipOK, star := -1, -1 // -1 not named, 0 refused, 1 taken
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			ok := 1
			if k, val, found := strings.Cut(params, "="); found && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && f == 0 {
					ok = 0
				}
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"):
				gzipOK = ok
			case coding == "*":
				star = ok
			}
		}
	}
	if gzipOK >= 0 {
		return gzipOK == 1
	}
	return star == 1
}

// variesOnEncoding reports whether Vary values name Accept-Encoding, in
// any case, or "*" (every field) already.
func variesOnEncoding(values []string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}
