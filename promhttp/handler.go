package promhttp

import (
	"compress/gzip"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

const (
	// DefaultMaxInFlight is Config.MaxInFlight's default: the two
	// Prometheus servers of a high-availability pair, which may scrape at
	// the same moment, and two more (a federation, a person's curl).
	DefaultMaxInFlight = 4
	// DefaultWriteTimeout is Config.WriteTimeout's default: longer than
	// any scrape_timeout short of a minute's scrape interval, and it
	// bounds how long a client that does not read holds its slot.
	DefaultWriteTimeout = 30 * time.Second
	// MinWriteTimeout is the shortest Config.WriteTimeout: less would cut
	// the scrapes of an ordinary client on a busy host.
	MinWriteTimeout = time.Second
)

// ErrInvalidConfig is the error New returns for a Config it refuses.
var ErrInvalidConfig = errors.New("promhttp: invalid configuration")

// ScrapeErrors is the counter family the handler appends to the engine's
// metrics, one series per reason: "busy", a request answered 503 because
// Config.MaxInFlight were being served, and "write", a response that
// could not be written whole (the client went away, or did not read it
// within Config.WriteTimeout).
const ScrapeErrors = "flowtel_scrape_errors_total"

// Config bounds what a handler holds. The zero Config takes the defaults.
type Config struct {
	// MaxInFlight is the most requests served at once (default
	// DefaultMaxInFlight). Each holds a buffer the size of the exposition
	// (and another for its gzipped form) until its response is written,
	// so it bounds the handler's memory; a request past it gets 503 at
	// once, holding nothing, and counts in ScrapeErrors{reason="busy"}.
	// Prometheus marks that scrape failed (up is 0) and tries again at
	// its next interval.
	MaxInFlight int
	// WriteTimeout bounds the time to write a response once the
	// collection is taken (default DefaultWriteTimeout, at least
	// MinWriteTimeout), so that a client that stops reading gives its
	// slot back: net/http closes its connection, and the scrape counts in
	// ScrapeErrors{reason="write"}. It is set on the connection through
	// http.ResponseController; behind middleware whose ResponseWriter
	// neither has SetWriteDeadline nor unwraps to one that does, only the
	// server's own http.Server.WriteTimeout bounds the write. The
	// handler never lengthens that one: under a server whose
	// WriteTimeout is as short, its deadline is left as the server set it.
	WriteTimeout time.Duration
}

// Handler returns New(e, Config{}): an http.Handler with the default
// bounds.
func Handler(e *engine.Engine) http.Handler {
	h, _ := New(e, Config{}) // the zero Config is valid
	return h
}

// New returns an http.Handler that serves e's metrics in the Prometheus
// text format 0.0.4 (mount it at /metrics), whatever the request's Accept
// header asks for (Prometheus reads the format from Content-Type; the
// text format's is the one every version parses): a fresh cumulative
// collection per request, as engine.Engine.AppendPrometheus describes,
// followed by the handler's own ScrapeErrors family. It answers GET and
// HEAD; other methods get 405. The body is gzipped when the request's
// Accept-Encoding takes gzip at least as gladly as identity (RFC 9110
// section 12.5.3, see negotiate), so a Prometheus scrape is; a request
// that refuses both gets 406. It may be called
// concurrently, up to c.MaxInFlight requests at once. With a nil e every
// request gets 503 and says so, so that the scrape fails visibly (up is
// 0). New refuses a negative MaxInFlight and a WriteTimeout below
// MinWriteTimeout other than 0 with an error wrapping ErrInvalidConfig.
func New(e *engine.Engine, c Config) (http.Handler, error) {
	switch {
	case c.MaxInFlight < 0:
		return nil, fmt.Errorf("%w: MaxInFlight %d is negative (0 takes the default, %d)", ErrInvalidConfig, c.MaxInFlight, DefaultMaxInFlight)
	case c.WriteTimeout != 0 && c.WriteTimeout < MinWriteTimeout:
		return nil, fmt.Errorf("%w: WriteTimeout %v is under %v (a Duration counts nanoseconds: 30 is 30ns)", ErrInvalidConfig, c.WriteTimeout, MinWriteTimeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return &handler{e: e, slots: make(chan struct{}, c.MaxInFlight), writeTimeout: c.WriteTimeout}, nil
}

type handler struct {
	e            *engine.Engine
	slots        chan struct{} // one element per request being served
	writeTimeout time.Duration
	busy, write  atomic.Uint64 // ScrapeErrors by reason
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.e == nil {
		http.Error(w, "promhttp: Handler was given a nil engine", http.StatusServiceUnavailable)
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.busy.Add(1)
		http.Error(w, "promhttp: "+strconv.Itoa(cap(h.slots))+" scrapes in flight, the limit (Config.MaxInFlight)", http.StatusServiceUnavailable)
		return
	}
	buf := encode.GetBuffer()
	defer encode.PutBuffer(buf)
	buf.B = h.appendSelf(h.e.AppendPrometheus(buf.B[:0]))
	body := buf.B
	hd := w.Header()
	hd.Set("Content-Type", encode.PromContentType)
	// Added, not set: middleware may have named its own fields (CORS
	// middleware varies on Origin), which a cache must still key on.
	if !variesOnEncoding(hd.Values("Vary")) {
		hd.Add("Vary", "Accept-Encoding")
	}
	useGzip, acceptable := negotiate(r.Header.Values("Accept-Encoding"))
	if !acceptable {
		http.Error(w, "promhttp: Accept-Encoding refuses both codings this handler sends, gzip and identity", http.StatusNotAcceptable)
		return
	}
	if useGzip {
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
	// From here on only the client's pace matters: the collection is
	// taken and the engine's lock released. A server's own WriteTimeout
	// as short is left in place: its deadline, from the end of the
	// request's headers, is the earlier.
	if srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server); srv == nil || srv.WriteTimeout <= 0 || srv.WriteTimeout > h.writeTimeout {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.writeTimeout)) // ErrNotSupported: see Config.WriteTimeout
	}
	if r.Method == http.MethodGet {
		if _, err := w.Write(body); err != nil {
			h.write.Add(1)
		}
	}
}

// appendSelf appends the ScrapeErrors family.
func (h *handler) appendSelf(dst []byte) []byte {
	dst = append(dst, "# HELP "+ScrapeErrors+" Scrapes of /metrics that failed: busy, answered 503 with the most allowed in flight (promhttp.Config.MaxInFlight); write, the response not written whole (the client gone, or promhttp.Config.WriteTimeout passed).\n"+
		"# TYPE "+ScrapeErrors+" counter\n"+
		ScrapeErrors+`{reason="busy"} `...)
	dst = strconv.AppendUint(dst, h.busy.Load(), 10)
	dst = append(dst, "\n"+ScrapeErrors+`{reason="write"} `...)
	dst = strconv.AppendUint(dst, h.write.Load(), 10)
	return append(dst, '\n')
}

// gzipWriters are reused: a gzip.Writer holds about 800 KiB of state.
// BestSpeed: a scrape is text that compresses about 20 times even so
// (861 KB to 43 KB with 200 applications), for a few ms of CPU.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level
	return zw
}}

// negotiate reads Accept-Encoding values by RFC 9110 section 12.5.3 and
// says whether to gzip the body, and whether any coding the handler has
// is acceptable at all. The coding with the higher q-value wins, gzip on
// a tie (the smaller body); "*" stands for each coding not named, identity
// included; identity is acceptable unless refused ("identity;q=0", or
// "*;q=0" without identity named), and when neither it nor "*" is named
// it is the fallback, below any q-value gzip has ("gzip;q=0.5" is gzip);
// "x-gzip" is gzip (RFC 9110 section 8.4.1.3); a coding named twice takes
// its last q-value; a q-value that does not parse counts as 1. No header,
// or an empty one, is identity.
func negotiate(values []string) (useGzip, acceptable bool) {
	gzipQ, idQ, starQ := -1.0, -1.0, -1.0 // -1: not named
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			q := 1.0
			for param := range strings.SplitSeq(params, ";") {
				if k, val, found := strings.Cut(param, "="); found && strings.EqualFold(strings.TrimSpace(k), "q") {
					// NaN parses, but is no q-value: it counts as 1, as what
					// does not parse (it chose neither coding, and 406).
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && !math.IsNaN(f) {
						q = min(max(f, 0), 1)
					}
				}
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gzipQ = q
			case strings.EqualFold(coding, "identity"):
				idQ = q
			case coding == "*":
				starQ = q
			}
		}
	}
	if gzipQ < 0 {
		gzipQ = max(starQ, 0)
	}
	if idQ < 0 && starQ >= 0 {
		idQ = starQ
	}
	switch {
	case gzipQ > 0 && gzipQ >= idQ: // idQ -1: identity is the fallback
		return true, true
	case idQ != 0:
		return false, true
	}
	return false, false
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
