package encode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
)

// OffloadedPrefix starts a JSON string value that was moved to a
// LargeFieldStore; the link follows it.
const OffloadedPrefix = "flowtel:offloaded:"

// TruncatedMarker starts the suffix of a value truncated because it could
// not be offloaded; the original length in bytes and "]" follow it.
const TruncatedMarker = "[flowtel:truncated:"

// DefaultOffloadThreshold is the original's limit: string values of this
// many UTF-8 bytes or more are offloaded.
const DefaultOffloadThreshold = 5088

// SpanEventOffloadThreshold is the original's limit for span events
// (SPAN_SIZE_LIMIT, 10 KiB): the text of an INFO event of this many bytes
// or more is offloaded, the event keeping "trace_link: " + its link.
const SpanEventOffloadThreshold = 10 << 10

// minOffloadThreshold leaves room for a truncated value's suffix.
const minOffloadThreshold = 64

// Offloader defaults.
const (
	DefaultOffloadQueueBytes = 64 << 20
	DefaultOffloadQueueLen   = 1024
	DefaultOffloadWorkers    = 2
	DefaultOffloadPutTimeout = 10 * time.Second

	// MaxOffloadQueueLen and MaxOffloadWorkers bound OffloadConfig's
	// QueueLen and Workers: a larger value is taken as the bound (the
	// queue is allocated, and each worker is a goroutine, up front).
	MaxOffloadQueueLen = 1 << 20
	MaxOffloadWorkers  = 1024
)

// ErrOffloadUnfinished is returned by Offloader.Close when its context ends
// before every queued value was stored.
var ErrOffloadUnfinished = errors.New("encode: offload unfinished")

// LargeFieldStore keeps the large values of run trace logs. Its methods
// are called from several goroutines at once.
type LargeFieldStore interface {
	// Link returns where the value of key will be readable. It must not do
	// I/O: it is called on the encoder's goroutine.
	Link(key string) string
	// Put stores value under key. It is called by offload workers only,
	// with a context that carries the put timeout and ends when the
	// Offloader is closed without time to drain. It must not retain value
	// after it returns.
	Put(ctx context.Context, key string, value []byte) error
}

// BoundedStore is a LargeFieldStore with a budget (a file store's bytes
// and files, say). The Offloader reserves a value's bytes before it queues
// the value: a value the store has no room for is cut and counted
// (OffloadStats.StoreFull) instead of linked, so the document never links
// to a value that was never stored for want of room.
type BoundedStore interface {
	LargeFieldStore
	// Reserve takes n bytes and one value out of the budget, and reports
	// false, taking nothing, when they do not fit. It must not do I/O.
	Reserve(n int) bool
	// Release gives back what Reserve took for a value that was not
	// stored (its Put failed or was never called).
	Release(n int)
}

// PutRefused is implemented by a store's error when the store answered
// and refused the value (an HTTP status other than 2xx): the Offloader
// counts it in OffloadStats.Refused rather than as a transport error.
type PutRefused interface {
	StatusCode() int
}

// OffloadConfig configures an Offloader. Zero fields take the defaults.
type OffloadConfig struct {
	// Threshold is the size in bytes from which a string value is
	// offloaded: DefaultOffloadThreshold if zero, at least 64.
	Threshold int
	// QueueBytes bounds the bytes of queued values: DefaultOffloadQueueBytes
	// if zero or less.
	QueueBytes int64
	// QueueLen bounds the number of queued values: DefaultOffloadQueueLen
	// if zero or less, at most MaxOffloadQueueLen.
	QueueLen int
	// Workers is the number of goroutines calling Put:
	// DefaultOffloadWorkers if zero or less, at most MaxOffloadWorkers.
	Workers int
	// PutTimeout bounds each Put: DefaultOffloadPutTimeout if zero or less.
	PutTimeout time.Duration
	// ErrorHandler, if set, is called from a worker goroutine with the key
	// and error of each failed Put.
	ErrorHandler func(key string, err error)
}

// OffloadStats counts what an Offloader did. At any moment
// Enqueued == Offloaded + Failed + Lost + InFlight, and every value of the
// threshold or more that was not enqueued is counted once, by reason: in
// QueueFull, StoreFull or Closed when it was truncated, in KeptQueueFull,
// KeptStoreFull or KeptClosed when it was kept whole instead (the
// attributes of an INFO event given as data, which the span event then
// holds as they were).
type OffloadStats struct {
	Enqueued  uint64 // values queued (their JSON holds a link)
	Offloaded uint64 // values stored
	Failed    uint64 // values whose Put failed: Refused + TimedOut + the rest (transport, I/O)
	Refused   uint64 // of Failed: the store answered with a refusal (PutRefused, a non-2xx status)
	TimedOut  uint64 // of Failed: the Put ran out of time (OffloadConfig.PutTimeout)
	Lost      uint64 // values dropped unstored because Close ran out of time
	InFlight  uint64 // values queued or being stored
	QueueFull uint64 // values truncated because the queue was full
	StoreFull uint64 // values truncated because the store's budget was full (BoundedStore)
	Closed    uint64 // values truncated because the Offloader was closed
	// Values kept whole, not truncated, for the same reasons: the
	// attributes of an INFO span event given as data (Node.InfoEvent).
	KeptQueueFull uint64
	KeptStoreFull uint64
	KeptClosed    uint64
	// QueuedBytes is the size of the values in flight.
	QueuedBytes int64
	// HandlerPanics counts the panics of OffloadConfig.ErrorHandler,
	// recovered: the report is lost, the worker goes on.
	HandlerPanics uint64
}

// Offloader moves large string values of run trace logs to a
// LargeFieldStore in the background. Its queue is bounded in values and in
// bytes and it never blocks its caller. Its methods are safe for
// concurrent use; a nil *Offloader offloads nothing.
//
// The original replaced every string value of 5088 UTF-8 bytes or more by
// the link an object store upload returned, synchronously and with no
// timeout, on the request's thread. flowtel splits the two halves of that
// upload:
//
//   - LargeFieldStore.Link says, without I/O, where a key will be readable.
//     The encoder writes OffloadedPrefix + link into the JSON at once, so the
//     field stays a string and consumers of the original keep working; the
//     prefix is the explicit marker that the value lives elsewhere.
//   - The value is copied into a pooled buffer and queued. Worker
//     goroutines call LargeFieldStore.Put with a timeout. A failed or
//     timed-out Put is counted (OffloadStats.Failed, by reason: Refused,
//     TimedOut, the rest) and handed to the error handler: the JSON then
//     holds a link that does not resolve, but the loss is never silent.
//   - The queue is bounded in values and in bytes, and a BoundedStore's
//     budget is reserved before a value is queued. When a value does not
//     fit, or the Offloader is closed, the caller is not blocked: the value
//     is truncated at a UTF-8 boundary to at most Threshold-1 bytes of
//     the value, including a suffix TruncatedMarker + original length +
//     "]", and counted (OffloadStats.QueueFull, StoreFull or Closed).
//     (Invalid UTF-8 in the kept head is then repaired as everywhere in
//     the JSON, which can add bytes.)
//
// Keys are "<sid>-<id>-<field>-<n>": the run's SID, the 32 hex id of the
// run or node record (TraceID[0:8] + SpanID, as a node record's "id"), the
// field (question, answer, llm_output, input.<key>, output.<key>,
// config.<key>, logs.<i>) and a counter of the Offloader, which makes the
// key unique even where two values share everything else. Only
// [A-Za-z0-9@._-] are kept, other bytes and a leading '.' or '-' become
// '_', and the SID and field are cut to 64 bytes, so a key is a safe file
// name (not a hidden one, nor one a shell tool reads as an option) and URL
// path segment.
//
// Allocation: AppendRunLogWith allocates nothing for values under the
// threshold and nothing to truncate. Each offloaded value costs the key
// string, whatever the store's Link allocates, and, on a worker, the Put's
// timeout context; the value's copy comes from bytebufferpool.
//
// Rejected alternatives:
//   - A synchronous upload, as the original: it puts the store's latency
//     (and its outages, with no timeout) on the run's path.
//   - Dropping the value when the queue is full: the loss would be
//     invisible to the reader of the JSON. Truncating keeps the head of the
//     value and says how long it was.
//   - A content hash as key: it costs a pass over up to megabytes on the
//     encoder's goroutine, and only a cryptographic hash makes collisions
//     negligible; a counter with the record's identity (the SID is unique
//     per run across processes) is unique and free.
//   - Blocking when the queue is full: the encoder runs on the pipeline
//     goroutine, and blocking it stalls every run.
type Offloader struct {
	store        LargeFieldStore
	bounded      BoundedStore // store, when it has a budget
	threshold    int
	queueBytes   int64
	putTimeout   time.Duration
	errorHandler func(key string, err error)

	// mu orders sends on queue with its close: enqueue holds it shared.
	mu     sync.RWMutex
	closed bool
	queue  chan offloadItem

	base        context.Context // parent of every Put; canceled when Close gives up
	cancel      context.CancelFunc
	closeOnce   sync.Once
	storeClosed atomic.Bool
	running     atomic.Int32  // workers still running
	done        chan struct{} // closed by the last worker to exit

	seq         atomic.Uint64
	queuedBytes atomic.Int64
	enqueued    atomic.Uint64
	offloaded   atomic.Uint64
	failed      atomic.Uint64
	refused     atomic.Uint64
	panics      atomic.Uint64 // ErrorHandler's, recovered
	timedOut    atomic.Uint64
	lost        atomic.Uint64
	queueFull   atomic.Uint64
	storeFull   atomic.Uint64
	closedCount atomic.Uint64
	kept        [numCutReasons]atomic.Uint64 // by cutReason, values kept whole
}

// offloadItem is one queued value.
type offloadItem struct {
	key string
	buf *bytebufferpool.ByteBuffer
}

// NewOffloader returns an Offloader writing to store, with its workers
// started. Close stops them. A nil store gives a nil Offloader, which
// offloads nothing.
func NewOffloader(store LargeFieldStore, cfg OffloadConfig) *Offloader {
	if store == nil {
		return nil
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultOffloadThreshold
	}
	if cfg.Threshold < minOffloadThreshold {
		cfg.Threshold = minOffloadThreshold
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultOffloadQueueBytes
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultOffloadQueueLen
	}
	cfg.QueueLen = min(cfg.QueueLen, MaxOffloadQueueLen)
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultOffloadWorkers
	}
	cfg.Workers = min(cfg.Workers, MaxOffloadWorkers)
	if cfg.PutTimeout <= 0 {
		cfg.PutTimeout = DefaultOffloadPutTimeout
	}
	base, cancel := context.WithCancel(context.Background())
	o := &Offloader{
		store:        store,
		threshold:    cfg.Threshold,
		queueBytes:   cfg.QueueBytes,
		putTimeout:   cfg.PutTimeout,
		errorHandler: cfg.ErrorHandler,
		queue:        make(chan offloadItem, cfg.QueueLen),
		base:         base,
		cancel:       cancel,
		done:         make(chan struct{}),
	}
	o.bounded, _ = store.(BoundedStore)
	o.running.Store(int32(cfg.Workers))
	for range cfg.Workers {
		go o.work()
	}
	return o
}

// String describes the Offloader by its store's type and threshold,
// never the store's fields (a store holds its credentials); Format prints
// it for every verb, since fmt would print the store field by field.
func (o *Offloader) String() string {
	if o == nil {
		return "encode.Offloader(nil)"
	}
	return fmt.Sprintf("encode.Offloader{store: %T, threshold: %d}", o.store, o.threshold)
}

// Format writes String for every verb.
func (o *Offloader) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, o.String()) }

// Threshold returns the size in bytes from which values are offloaded.
func (o *Offloader) Threshold() int {
	if o == nil {
		return 0
	}
	return o.threshold
}

// MemoryBytes is what the queue may hold: twice its byte bound, since a
// pooled buffer's capacity may be up to twice the value it holds (zero
// for a nil Offloader).
func (o *Offloader) MemoryBytes() int64 {
	if o == nil {
		return 0
	}
	return 2 * o.queueBytes
}

// Stats returns the Offloader's counters.
func (o *Offloader) Stats() OffloadStats {
	if o == nil {
		return OffloadStats{}
	}
	// Read the outcomes before Enqueued so InFlight never underflows.
	s := OffloadStats{
		Offloaded:     o.offloaded.Load(),
		Failed:        o.failed.Load(),
		Refused:       o.refused.Load(),
		TimedOut:      o.timedOut.Load(),
		Lost:          o.lost.Load(),
		QueueFull:     o.queueFull.Load(),
		StoreFull:     o.storeFull.Load(),
		Closed:        o.closedCount.Load(),
		QueuedBytes:   o.queuedBytes.Load(),
		HandlerPanics: o.panics.Load(),

		KeptQueueFull: o.kept[cutQueueFull].Load(),
		KeptStoreFull: o.kept[cutStoreFull].Load(),
		KeptClosed:    o.kept[cutClosed].Load(),
	}
	// A worker may store a value and count it before tryEnqueue, which
	// handed it over, counts it enqueued: a value with an outcome was
	// enqueued, so Enqueued is at least the outcomes (both only grow, and
	// so does their maximum), and InFlight never wraps below zero.
	done := s.Offloaded + s.Failed + s.Lost
	s.Enqueued = max(o.enqueued.Load(), done)
	s.InFlight = s.Enqueued - done
	return s
}

// Close stops taking values and waits until the queued ones are stored or
// ctx ends. Then it cancels the Puts under way, counts every value not
// stored as Lost, closes the store when it is an io.Closer, and returns an
// error wrapping ErrOffloadUnfinished and ctx.Err() that says how many
// values were still in flight; it does not wait for a store that ignores
// its context. Close may be called more than once (a later call waits
// again; the store is closed once); values offered after Close are
// truncated and counted as Closed.
func (o *Offloader) Close(ctx context.Context) error {
	if o == nil || o.queue == nil {
		return nil // nil or zero: nothing was started
	}
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.closed = true
		close(o.queue)
		o.mu.Unlock()
	})
	select {
	case <-o.done:
		o.cancel()
		return o.closeStore()
	case <-ctx.Done():
	}
	// Count before canceling: what is in flight now is what the cancel
	// drops (bar a Put that succeeds at this very moment).
	s := o.Stats()
	o.cancel()
	serr := o.closeStore()
	if s.InFlight == 0 {
		return serr
	}
	return errors.Join(fmt.Errorf("close offloader: %d large values not stored (lost, the store had no time left): %w: %w",
		s.InFlight, ErrOffloadUnfinished, ctx.Err()), serr)
}

// closeStore closes the store once, when it is an io.Closer.
func (o *Offloader) closeStore() error {
	c, ok := o.store.(io.Closer)
	if !ok || !o.storeClosed.CompareAndSwap(false, true) {
		return nil
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("close offloader's store: %w", err)
	}
	return nil
}

// work stores queued values until the queue is closed and empty. Once the
// Offloader gives up (base canceled) it drops what remains, counted.
func (o *Offloader) work() {
	defer func() {
		if o.running.Add(-1) == 0 {
			close(o.done)
		}
	}()
	for it := range o.queue {
		if !o.store1(it) && o.bounded != nil {
			o.bounded.Release(len(it.buf.B))
		}
		o.queuedBytes.Add(-int64(len(it.buf.B)))
		bytebufferpool.Put(it.buf)
	}
}

// store1 stores one queued value, counts the outcome, and reports whether
// the value was stored.
func (o *Offloader) store1(it offloadItem) bool {
	if o.base.Err() != nil {
		o.lost.Add(1)
		return false
	}
	ctx, cancel := context.WithTimeout(o.base, o.putTimeout)
	err := o.store.Put(ctx, it.key, it.buf.B)
	timedOut := ctx.Err() == context.DeadlineExceeded
	cancel()
	switch {
	case err == nil:
		o.offloaded.Add(1)
		return true
	case o.base.Err() != nil:
		// Close gave up while this value was being stored.
		o.lost.Add(1)
		return false
	}
	var refused PutRefused
	var netTimeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &refused):
		o.refused.Add(1)
	case timedOut || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netTimeout) && netTimeout.Timeout():
		o.timedOut.Add(1)
	}
	o.failed.Add(1)
	o.report(it.key, fmt.Errorf("offload %s: %w", it.key, err))
	return false
}

// appendLarge appends the JSON string for the large value a + sep + b of
// field f: the offload marker and link when the value could be queued,
// else its truncated head and the truncation marker.
func (o *Offloader) appendLarge(dst []byte, f *runlogField, a, sep, b string) []byte {
	n := len(a) + len(sep) + len(b)
	if key, ok := o.enqueue(f, a, sep, b, n); ok {
		dst = append(dst, `"`+OffloadedPrefix...)
		dst = jsonAppendEscaped(dst, o.store.Link(key))
		return append(dst, '"')
	}
	var suffix [len(TruncatedMarker) + 24]byte
	sfx := append(suffix[:0], TruncatedMarker...)
	sfx = strconv.AppendInt(sfx, int64(n), 10)
	sfx = append(sfx, ']')
	dst = append(dst, '"')
	dst = offloadAppendHead(dst, a, sep, b, o.threshold-1-len(sfx))
	dst = append(dst, sfx...)
	return append(dst, '"')
}

// cutReason is why enqueue did not queue a value.
type cutReason uint8

const (
	cutNone      cutReason = iota // queued
	cutQueueFull                  // the queue had no room (values or bytes)
	cutStoreFull                  // the store's budget was full (BoundedStore)
	cutClosed                     // the Offloader was closed
	numCutReasons
)

// enqueue copies a + sep + b (n bytes) into a pooled buffer and queues it
// under a new key for field f. It reports false when the queue has no
// room, the store's budget is full (BoundedStore) or the Offloader is
// closed, counted as a value truncated (QueueFull, StoreFull, Closed).
func (o *Offloader) enqueue(f *runlogField, a, sep, b string, n int) (string, bool) {
	key, why := o.tryEnqueue(f, a, sep, b, n)
	switch why {
	case cutNone:
		return key, true
	case cutQueueFull:
		o.queueFull.Add(1)
	case cutStoreFull:
		o.storeFull.Add(1)
	case cutClosed:
		o.closedCount.Add(1)
	}
	return "", false
}

// tryEnqueue is enqueue without the count: it returns why it did not
// queue the value, for the caller to count.
func (o *Offloader) tryEnqueue(f *runlogField, a, sep, b string, n int) (string, cutReason) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return "", cutClosed
	}
	if len(o.queue) == cap(o.queue) {
		return "", cutQueueFull
	}
	if o.queuedBytes.Add(int64(n)) > o.queueBytes {
		o.queuedBytes.Add(-int64(n))
		return "", cutQueueFull
	}
	if o.bounded != nil && !o.bounded.Reserve(n) {
		o.queuedBytes.Add(-int64(n))
		return "", cutStoreFull
	}
	buf := bytebufferpool.Get()
	buf.B = append(append(append(buf.B[:0], a...), sep...), b...)
	key := o.key(f)
	select {
	case o.queue <- offloadItem{key: key, buf: buf}:
		o.enqueued.Add(1)
		return key, cutNone
	default:
		o.queuedBytes.Add(-int64(n))
		if o.bounded != nil {
			o.bounded.Release(n)
		}
		bytebufferpool.Put(buf)
		return "", cutQueueFull
	}
}

// spanEventLink offloads v, the text of an INFO event of span span of r,
// and returns what the event holds instead: "trace_link: " + its link, or,
// when the queue has no room or the Offloader is closed, v cut at a UTF-8
// boundary under the threshold with the truncation marker (counted as
// appendLarge counts it).
func (o *Offloader) spanEventLink(r *Run, span SpanID, v string) string {
	f := runlogField{sid: r.SID, section: "event"}
	copy(f.id[:8], r.TraceID[:8])
	copy(f.id[8:], span[:])
	if key, ok := o.enqueue(&f, v, "", "", len(v)); ok {
		return "trace_link: " + o.store.Link(key)
	}
	var suffix [len(TruncatedMarker) + 24]byte
	sfx := append(suffix[:0], TruncatedMarker...)
	sfx = strconv.AppendInt(sfx, int64(len(v)), 10)
	sfx = append(sfx, ']')
	cut := SpanEventOffloadThreshold - 1 - len(sfx)
	for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(v[cut]); back++ {
		cut--
	}
	return v[:cut] + string(sfx)
}

// spanEventAttrsLink offloads the JSON object of attrs, the attributes of
// an INFO event given as data, when it is SpanEventOffloadThreshold bytes
// or more, as the original's add_info_events measured and uploaded
// json.dumps of them. It returns the link, and false when attrs are
// smaller or could not be queued: the event then keeps them whole, which
// is counted by reason as kept (KeptQueueFull, KeptStoreFull,
// KeptClosed), not as truncated.
func (o *Offloader) spanEventAttrsLink(r *Run, span SpanID, attrs []Attr) (string, bool) {
	// An upper bound of the JSON's length: a byte of text is at most six
	// (\u00XX), base64 four of three, a scalar at most 24 (a float's
	// repr). A bound from the raw lengths skipped attributes whose JSON
	// passes the threshold only through escapes.
	n := 2
	for i := range attrs {
		n += 6*len(attrs[i].Key) + 6
		switch v := attrs[i].Value; v.kind() {
		case KindString:
			n += 6*len(v.str()) + 2
		case KindBytes:
			n += (len(v.str())+2)/3*4 + 2
		default:
			n += 24
		}
	}
	if n < SpanEventOffloadThreshold {
		return "", false // too small whatever it holds: no JSON built
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	b := append(buf.B[:0], '{')
	for i := range attrs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = jsonAppendString(b, attrs[i].Key)
		b = append(b, ": "...)
		b = jsonAppendValue(b, attrs[i].Value)
	}
	b = append(b, '}')
	buf.B = b
	if len(b) < SpanEventOffloadThreshold {
		return "", false
	}
	f := runlogField{sid: r.SID, section: "event"}
	copy(f.id[:8], r.TraceID[:8])
	copy(f.id[8:], span[:])
	key, why := o.tryEnqueue(&f, string(b), "", "", len(b))
	if why != cutNone {
		o.kept[why].Add(1)
		return "", false
	}
	return o.store.Link(key), true
}

// key returns a new unique key for field f (see the key format above).
func (o *Offloader) key(f *runlogField) string {
	var k [256]byte
	b := offloadAppendSafe(k[:0], f.sid, 64)
	if len(f.sid) == 0 {
		b = append(b, "nosid"...)
	}
	if b[0] == '.' || b[0] == '-' {
		// A hidden file, one named as FSStore's temporary files, or one
		// an operator's rm or ls reads as an option.
		b[0] = '_'
	}
	b = append(b, '-')
	b = runlogAppendHex(b, f.id[:])
	b = append(b, '-')
	mark := len(b)
	b = append(b, f.section...)
	switch f.section {
	case "input", "output", "config":
		b = append(b, '.')
		b = offloadAppendSafe(b, f.name, 64-(len(b)-mark))
	case "logs":
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(f.index), 10)
	}
	b = append(b, '-')
	b = strconv.AppendUint(b, o.seq.Add(1), 10)
	return string(b)
}

// offloadAppendSafe appends at most max bytes of s, each byte outside
// [A-Za-z0-9@._-] replaced by '_'.
func offloadAppendSafe(dst []byte, s string, max int) []byte {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '@', c == '.', c == '_', c == '-':
			dst = append(dst, c)
		default:
			dst = append(dst, '_')
		}
	}
	return dst
}

// offloadAppendHead appends the escaped first bytes of a + sep + b, at
// most limit of them, cut back to the start of a UTF-8 sequence.
func offloadAppendHead(dst []byte, a, sep, b string, limit int) []byte {
	parts := [3]string{a, sep, b}
	// Find the cut in the concatenation and back it up over continuation
	// bytes (at most utf8.UTFMax-1: a longer run is invalid anyway).
	at := func(i int) byte {
		for _, p := range parts {
			if i < len(p) {
				return p[i]
			}
			i -= len(p)
		}
		return 0
	}
	total := len(a) + len(sep) + len(b)
	cut := max(min(limit, total), 0)
	if cut < total {
		for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(at(cut)); back++ {
			cut--
		}
	}
	for _, p := range parts {
		if cut <= 0 {
			break
		}
		if len(p) > cut {
			p = p[:cut]
		}
		dst = jsonAppendEscaped(dst, p)
		cut -= len(p)
	}
	return dst
}

// report hands err to the ErrorHandler. A panic of the handler is
// recovered and counted (OffloadStats.HandlerPanics): it runs on a
// worker, where it ended the process that links the offloader.
func (o *Offloader) report(key string, err error) {
	if o.errorHandler == nil {
		return
	}
	defer func() {
		if recover() != nil {
			o.panics.Add(1)
		}
	}()
	o.errorHandler(key, err)
}
