package propagation

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/metadata"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/propenv"
	"github.com/flowtel/flowtel/internal/w3c"
)

// Header names. HTTP uses the canonical form, gRPC metadata lower case.
const (
	headerTraceParent = "Traceparent"
	headerTraceState  = "Tracestate"
	headerBaggage     = "Baggage"
	mdTraceParent     = "traceparent"
	mdTraceState      = "tracestate"
	mdBaggage         = "baggage"
)

// The sentinel errors that extraction wraps, from internal/w3c: test with
// errors.Is to tell the three headers apart; ErrLimit is also
// wrapped when a size or count limit was the cause.
var (
	ErrTraceParent = w3c.ErrTraceParent
	ErrTraceState  = w3c.ErrTraceState
	ErrBaggage     = w3c.ErrBaggage
	ErrLimit       = w3c.ErrLimit
)

// Errors built once, so that a malformed carrier costs no allocation.
var (
	errTPMultiple   = fmt.Errorf("%w: more than one traceparent header", ErrTraceParent)
	errTSJoinedLong = fmt.Errorf("%w: %w: header lines longer than %d bytes together", ErrTraceState, ErrLimit, w3c.MaxTraceStateBytes)
	errBagJoinedBig = fmt.Errorf("%w: %w: header lines longer than %d bytes together", ErrBaggage, ErrLimit, w3c.MaxBaggageBytes)
)

// Baggage is a parsed, validated W3C baggage header: immutable, safe to
// share, and free to pass by value (three words). Its zero value is empty.
// Members are read with All and Get; Insert and Delete return a new Baggage.
type Baggage = w3c.Baggage

// BaggageMember is one baggage list-member; Value percent-decodes it.
type BaggageMember = w3c.Member

// ParseBaggage parses a baggage header value. Invalid list-members are
// dropped and the valid ones kept; the error reports the first problem. It
// does not allocate.
func ParseBaggage(s string) (Baggage, error) { return w3c.ParseBaggage(s) }

// extractErrs holds the outcome of one extraction, one error per header.
type extractErrs struct{ tp, ts, bag error }

// first returns the first error, in header order.
func (x extractErrs) first() error {
	switch {
	case x.tp != nil:
		return x.tp
	case x.ts != nil:
		return x.ts
	}
	return x.bag
}

// joinLines returns the lines of a header as one value, joined with ","
// as RFC 7230 allows. Empty lines are left out: one alone is no header,
// so beside others it adds no list-member either (joined, it made an
// empty baggage member, counted as malformed). One line, the common case,
// costs nothing; several are joined only when they fit in limit bytes, so
// that a peer cannot make us allocate more than limit.
func joinLines(lines []string, limit int) (string, bool) {
	n, kept, last := 0, 0, ""
	for _, l := range lines {
		if l != "" {
			n += len(l)
			kept++
			last = l
		}
	}
	switch {
	case kept <= 1:
		return last, true
	case n+kept-1 > limit:
		return "", false
	}
	var sb strings.Builder
	sb.Grow(n + kept - 1)
	for _, l := range lines {
		if l == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(l)
	}
	return sb.String(), true
}

// extract parses the values of the three headers.
func extract(tp, ts, bag []string) (engine.SpanContext, Baggage, extractErrs) {
	var sc engine.SpanContext
	var errs extractErrs
	switch len(tp) {
	case 0:
	case 1:
		// net/http trims a header value's optional whitespace; a carrier
		// built by hand or gRPC metadata may still hold it.
		p, err := w3c.ParseTraceParent(strings.Trim(tp[0], " \t"))
		if err != nil {
			errs.tp = err
			break
		}
		sc = engine.SpanContext{TraceID: p.TraceID, SpanID: p.SpanID, Sampled: p.Sampled(), Random: p.Random()}
		if s, ok := joinLines(ts, w3c.MaxTraceStateBytes); !ok {
			errs.ts = errTSJoinedLong
		} else if s != "" {
			// An invalid header is discarded whole and counted.
			st, err := w3c.ParseTraceState(s)
			errs.ts = err
			sc.TraceState = st.String()
		}
	default:
		errs.tp = errTPMultiple
	}
	var b Baggage
	if s, ok := joinLines(bag, w3c.MaxBaggageBytes); !ok {
		errs.bag = errBagJoinedBig
	} else {
		b, errs.bag = w3c.ParseBaggage(s)
	}
	return sc, b, errs
}

// ExtractHTTP reads traceparent, tracestate and baggage from h. A valid
// SpanContext is the remote parent to put in engine.RunInfo.Parent; the zero
// SpanContext means "start a new trace". The Baggage holds every valid
// member even when err is not nil. err reports the first malformed header
// (wrapping ErrTraceParent, ErrTraceState or ErrBaggage) so that the caller
// can count it; a Propagator counts for you. ExtractHTTP does not allocate
// on the common path.
func ExtractHTTP(h http.Header) (engine.SpanContext, Baggage, error) {
	sc, b, errs := extract(h[headerTraceParent], h[headerTraceState], h[headerBaggage])
	return sc, b, errs.first()
}

// ExtractGRPC is ExtractHTTP for gRPC metadata (lower-case keys, as
// metadata.MD keeps them).
func ExtractGRPC(md metadata.MD) (engine.SpanContext, Baggage, error) {
	sc, b, errs := extract(md[mdTraceParent], md[mdTraceState], md[mdBaggage])
	return sc, b, errs.first()
}

// traceParentValue returns the traceparent header of sc: version 00, the
// span's own id, its sampled flag and the random flag of its trace (Level
// 2: kept as received for the same trace-id), reserved flags zero.
func traceParentValue(sc engine.SpanContext) string {
	var random byte
	if sc.Random {
		random = w3c.FlagRandom
	}
	flags := w3c.SendFlags(random, sc.Sampled)
	var buf [w3c.TraceParentLen]byte
	return string(w3c.AppendTraceParent(buf[:0], w3c.TraceParent{TraceID: sc.TraceID, SpanID: sc.SpanID, Flags: flags}))
}

// validTraceState returns ts normalized, or "" when it is not valid. An
// engine's runs carry a valid tracestate, but a SpanContext built by hand
// may not, and a member holding a CR LF makes net/http refuse the request
// it is written into. A valid one may still hold optional whitespace and
// empty or whitespace-only list-members, which OpenTelemetry's receivers
// discard the whole header for: it is written normalized. A normalized ts
// is returned as it is, without allocating.
func validTraceState(ts string) string {
	st, _ := w3c.ParseTraceState(ts) // empty when invalid
	return st.String()
}

// inject writes the headers into m (an http.Header or a metadata.MD),
// replacing what m held under their names. An invalid sc writes no
// traceparent or tracestate; an empty b writes no baggage: what m held
// there is removed all the same, since it belongs to another span (a copy
// of the incoming headers, a parent's outgoing metadata).
func inject(m map[string][]string, tpKey, tsKey, bagKey string, sc engine.SpanContext, b Baggage) {
	if m == nil {
		return // nowhere to write (a nil map panicked on the first write)
	}
	// Header names are case-insensitive, and net/http writes a key that
	// is not canonical (h["traceparent"], copied from a lowercase map) as
	// it is: left, it went out beside what is written here.
	for k := range m {
		if strings.EqualFold(k, tpKey) || strings.EqualFold(k, tsKey) || strings.EqualFold(k, bagKey) {
			delete(m, k)
		}
	}
	if sc.IsValid() {
		m[tpKey] = []string{traceParentValue(sc)}
		if ts := validTraceState(sc.TraceState); ts != "" {
			m[tsKey] = []string{ts}
		}
	}
	if b.Len() > 0 {
		m[bagKey] = []string{b.String()}
	}
}

// InjectHTTP writes sc and b into h, replacing what h held under these
// names, in any case: sc is the parent of the request's server span, so pass the span
// that makes the call (Node.SpanContext). An invalid sc writes no
// traceparent or tracestate; an empty b writes no baggage; either way the
// values h held under those names are removed. A nil h has no room for
// them: nothing is written (make the header first, as http.NewRequest
// does).
func InjectHTTP(h http.Header, sc engine.SpanContext, b Baggage) {
	inject(h, headerTraceParent, headerTraceState, headerBaggage, sc, b)
}

// InjectGRPC is InjectHTTP for gRPC metadata (nothing is written to a nil
// md; OutgoingGRPC makes one).
func InjectGRPC(md metadata.MD, sc engine.SpanContext, b Baggage) {
	inject(md, mdTraceParent, mdTraceState, mdBaggage, sc, b)
}

// incoming returns the incoming gRPC metadata of ctx; none for a nil ctx
// (metadata.FromIncomingContext panicked on it).
func incoming(ctx context.Context) metadata.MD {
	if ctx == nil {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return md
}

// OutgoingGRPC returns ctx with sc and b added to its outgoing gRPC
// metadata (a copy: the metadata already in ctx is not modified), for a
// client call made on behalf of sc's span. A nil ctx is
// context.Background().
func OutgoingGRPC(ctx context.Context, sc engine.SpanContext, b Baggage) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	md, ok := metadata.FromOutgoingContext(ctx)
	if ok {
		md = md.Copy()
	} else {
		md = metadata.MD{}
	}
	InjectGRPC(md, sc, b)
	return metadata.NewOutgoingContext(ctx, md)
}

// Formats is a set of the W3C formats a Propagator speaks, as
// OTEL_PROPAGATORS names them.
type Formats uint8

// The formats. A Propagator speaking neither (New(0), OTEL_PROPAGATORS=none)
// reads and writes no header.
const (
	FormatTraceContext Formats = 1 << iota // traceparent and tracestate ("tracecontext")
	FormatBaggage                          // baggage ("baggage")

	FormatsAll = FormatTraceContext | FormatBaggage // the default: both
)

// ErrPropagators wraps what ParseFormats reports ignored.
var ErrPropagators = w3c.ErrPropagators

// ParseFormats reads a value of OTEL_PROPAGATORS by the OpenTelemetry SDK
// environment specification: a comma-separated list, each name trimmed and
// read in any case, a name given twice counted once. "tracecontext" and
// "baggage" are the formats; "none" is neither, wherever it stands in the
// list. An empty value, or one naming nothing (only commas and spaces), is
// the default, both, as an empty variable is an unset one. Any other name
// (b3, jaeger, xray) is ignored, as the specification asks of a value not
// recognised; a list of only such names is the default.
//
// The Formats returned always stand. err, wrapping ErrPropagators, says
// which names were ignored (an unknown one, or a format beside "none"),
// for a caller who prefers to refuse the value: FromEnv logs it instead.
func ParseFormats(s string) (Formats, error) {
	tc, bag, err := w3c.ParsePropagators(s)
	return formats(tc, bag), err
}

func formats(traceContext, baggage bool) Formats {
	var f Formats
	if traceContext {
		f |= FormatTraceContext
	}
	if baggage {
		f |= FormatBaggage
	}
	return f
}

// New returns a Propagator speaking the formats f (New(FormatsAll) is
// the zero Propagator). A format it does not speak is neither read from
// incoming carriers (its headers are ignored, not counted) nor written to
// outgoing ones; what they held under its header names is removed all
// the same, as for the formats it writes, so that a copy of the incoming
// headers does not forward what the operator chose not to propagate.
//
// Bits of f outside FormatsAll name no format: New ignores them as
// ParseFormats ignores a name it does not know, and an f with no defined
// bit (Formats(4)) is the default, both, as OTEL_PROPAGATORS=b3 is. It
// logs them with slog at warning level, once for each value.
func New(f Formats) *Propagator {
	if bad := f &^ FormatsAll; bad != 0 {
		if w, bit := &warnedFormats[f>>6], uint64(1)<<(f&63); w.Or(bit)&bit == 0 {
			slog.Warn("propagation.New: undefined Formats bits ignored", "formats", uint8(f), "undefined", uint8(bad))
		}
		if f &= FormatsAll; f == 0 {
			f = FormatsAll
		}
	}
	return &Propagator{off: FormatsAll &^ f}
}

// warnedFormats has bit f set once New warned of the undefined Formats f:
// each value is logged once for the process, where remembering only the
// last one logged every call of a service alternating two.
var warnedFormats [4]atomic.Uint64

// resetWarnedFormats forgets the values New warned of, for tests.
func resetWarnedFormats() {
	for i := range warnedFormats {
		warnedFormats[i].Store(0)
	}
}

// FromEnv returns New of the formats OTEL_PROPAGATORS names (ParseFormats):
// unset, both, as the zero Propagator. Names it ignores are logged once
// with slog at warning level, as the specification asks, and the service
// goes on; to refuse them instead, call ParseFormats and New.
func FromEnv() *Propagator {
	return New(formats(propenv.Warn(os.Getenv("OTEL_PROPAGATORS"))))
}

// Stats counts what a Propagator extracted.
type Stats struct {
	Extracted          uint64 // carriers read
	Joined             uint64 // carriers whose traceparent was valid: the run joined a trace
	TraceParentInvalid uint64 // malformed traceparent: ignored with its tracestate
	TraceStateInvalid  uint64 // malformed tracestate: discarded whole
	BaggageInvalid     uint64 // malformed baggage: bad members dropped, or all of it past the limits
}

// Propagator extracts and injects carriers in the formats it speaks and
// counts what it found malformed. The zero Propagator is ready; it is
// safe for concurrent use and allocates nothing more than the package
// functions. Keep one per server (or use the package's StartRunFromHTTP,
// which returns the error instead) and expose Stats next to Engine.Stats.
//
// A nil *Propagator extracts, injects and starts runs as the package
// functions do and counts nothing; its Stats are zero. It never panics, so
// a field left nil in a server's struct costs the counts, not the
// requests.
//
// A Propagator made by New or FromEnv speaks only the formats it was given;
// the zero and nil ones speak both, as the package functions always do.
type Propagator struct {
	extracted, joined, badTP, badTS, badBag atomic.Uint64
	off                                     Formats // the formats it does not speak: zero is both
}

// Formats returns the formats p speaks (FormatsAll for a nil p).
func (p *Propagator) Formats() Formats {
	if p == nil {
		return FormatsAll
	}
	return FormatsAll &^ p.off
}

// extract reads the headers of the formats p speaks from m and counts
// what it found malformed.
func (p *Propagator) extract(m map[string][]string, tpKey, tsKey, bagKey string) (engine.SpanContext, Baggage, extractErrs) {
	var tp, ts, bag []string
	f := p.Formats()
	if f&FormatTraceContext != 0 {
		tp, ts = m[tpKey], m[tsKey]
	}
	if f&FormatBaggage != 0 {
		bag = m[bagKey]
	}
	sc, b, errs := extract(tp, ts, bag)
	p.count(sc, errs)
	return sc, b, errs
}

// outgoing returns sc and b without the formats p does not speak.
func (p *Propagator) outgoing(sc engine.SpanContext, b Baggage) (engine.SpanContext, Baggage) {
	f := p.Formats()
	if f&FormatTraceContext == 0 {
		sc = engine.SpanContext{}
	}
	if f&FormatBaggage == 0 {
		b = Baggage{}
	}
	return sc, b
}

// InjectHTTP is the package's InjectHTTP for the formats p speaks: the
// headers of the others are removed from h, not written.
func (p *Propagator) InjectHTTP(h http.Header, sc engine.SpanContext, b Baggage) {
	sc, b = p.outgoing(sc, b)
	inject(h, headerTraceParent, headerTraceState, headerBaggage, sc, b)
}

// InjectGRPC is the package's InjectGRPC for the formats p speaks.
func (p *Propagator) InjectGRPC(md metadata.MD, sc engine.SpanContext, b Baggage) {
	sc, b = p.outgoing(sc, b)
	inject(md, mdTraceParent, mdTraceState, mdBaggage, sc, b)
}

// OutgoingGRPC is the package's OutgoingGRPC for the formats p speaks.
func (p *Propagator) OutgoingGRPC(ctx context.Context, sc engine.SpanContext, b Baggage) context.Context {
	sc, b = p.outgoing(sc, b)
	return OutgoingGRPC(ctx, sc, b)
}

func (p *Propagator) count(sc engine.SpanContext, errs extractErrs) {
	if p == nil {
		return
	}
	p.extracted.Add(1)
	if sc.IsValid() {
		p.joined.Add(1)
	}
	if errs.tp != nil {
		p.badTP.Add(1)
	}
	if errs.ts != nil {
		p.badTS.Add(1)
	}
	if errs.bag != nil {
		p.badBag.Add(1)
	}
}

// ExtractHTTP is the package's ExtractHTTP for the formats p speaks,
// counting malformed headers.
func (p *Propagator) ExtractHTTP(h http.Header) (engine.SpanContext, Baggage) {
	sc, b, _ := p.extract(h, headerTraceParent, headerTraceState, headerBaggage)
	return sc, b
}

// ExtractGRPC is the package's ExtractGRPC for the formats p speaks,
// counting malformed headers.
func (p *Propagator) ExtractGRPC(md metadata.MD) (engine.SpanContext, Baggage) {
	sc, b, _ := p.extract(md, mdTraceParent, mdTraceState, mdBaggage)
	return sc, b
}

// ExtractIncomingGRPC extracts from the incoming metadata of a server's ctx.
func (p *Propagator) ExtractIncomingGRPC(ctx context.Context) (engine.SpanContext, Baggage) {
	md := incoming(ctx)
	return p.ExtractGRPC(md)
}

// Stats returns the counters (zero on a nil Propagator).
func (p *Propagator) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	return Stats{
		Extracted:          p.extracted.Load(),
		Joined:             p.joined.Load(),
		TraceParentInvalid: p.badTP.Load(),
		TraceStateInvalid:  p.badTS.Load(),
		BaggageInvalid:     p.badBag.Load(),
	}
}

// StartRunFromHTTP starts a run of e that joins the trace of the incoming
// request h (info.Parent is replaced when h carries a valid traceparent)
// and returns the request's baggage. A malformed header is ignored and
// returned as err for the caller to count (Propagator.StartRunFromHTTP
// counts it); the run is started anyway. A nil e returns the zero Run, a
// no-op handle, as the zero Engine refuses its runs.
func StartRunFromHTTP(e *engine.Engine, h http.Header, info engine.RunInfo) (engine.Run, Baggage, error) {
	sc, b, errs := extract(h[headerTraceParent], h[headerTraceState], h[headerBaggage])
	return startRun(e, sc, info), b, errs.first()
}

// StartRunFromGRPC is StartRunFromHTTP for the incoming metadata of a gRPC
// server's ctx (none when ctx is nil).
func StartRunFromGRPC(ctx context.Context, e *engine.Engine, info engine.RunInfo) (engine.Run, Baggage, error) {
	md := incoming(ctx)
	sc, b, errs := extract(md[mdTraceParent], md[mdTraceState], md[mdBaggage])
	return startRun(e, sc, info), b, errs.first()
}

// StartRunFromHTTP is the package's StartRunFromHTTP for the formats p
// speaks, counting malformed headers.
func (p *Propagator) StartRunFromHTTP(e *engine.Engine, h http.Header, info engine.RunInfo) (engine.Run, Baggage, error) {
	sc, b, errs := p.extract(h, headerTraceParent, headerTraceState, headerBaggage)
	return startRun(e, sc, info), b, errs.first()
}

// StartRunFromGRPC is the package's StartRunFromGRPC for the formats p
// speaks, counting malformed headers.
func (p *Propagator) StartRunFromGRPC(ctx context.Context, e *engine.Engine, info engine.RunInfo) (engine.Run, Baggage, error) {
	sc, b, errs := p.extract(incoming(ctx), mdTraceParent, mdTraceState, mdBaggage)
	return startRun(e, sc, info), b, errs.first()
}

// startRun starts the run on e; a nil e gets the zero Run, a no-op handle,
// as the zero Engine's refused runs are (a nil Engine has no counters to
// count the drop in).
func startRun(e *engine.Engine, sc engine.SpanContext, info engine.RunInfo) engine.Run {
	if e == nil {
		return engine.Run{}
	}
	if sc.IsValid() {
		info.Parent = sc
	}
	return e.StartRun(info)
}
