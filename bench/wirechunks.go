package bench

import (
	"math"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/flowtel/flowtel/internal/prefetch"
)

// A trace request arrives in the frames gRPC read it in (16 KiB each).
// The receiver counts it where it lies (countSpansChunks) instead of
// copying it into one buffer first: only a span that straddles two frames
// is copied, into a scratch buffer, for isRoot. The walk handles the
// shapes encoders write and gives up (ok false) on anything else, a group
// or a malformed field among them; the caller then copies the request and
// lets CountSpans decide, so that the counts and errors are CountSpans's
// for any input.

// chunkCursor reads a message held in several buffers.
type chunkCursor struct {
	cur     []byte   // what is left of the current buffer
	rest    [][]byte // the buffers after it
	pos     int      // bytes read
	scratch []byte   // a span that straddles buffers
}

// fill makes cur non-empty if any byte is left.
func (c *chunkCursor) fill() bool {
	for len(c.cur) == 0 {
		if len(c.rest) == 0 {
			return false
		}
		c.cur, c.rest = c.rest[0], c.rest[1:]
	}
	return true
}

const maxVarintLen = 10

// varint reads a varint as protowire.ConsumeVarint does.
func (c *chunkCursor) varint() (uint64, bool) {
	if !c.fill() {
		return 0, false
	}
	if len(c.cur) >= maxVarintLen || c.cur[0] < 0x80 {
		v, n := protowire.ConsumeVarint(c.cur)
		if n < 0 {
			return 0, false
		}
		c.cur, c.pos = c.cur[n:], c.pos+n
		return v, true
	}
	// A varint at the end of a buffer: byte by byte.
	var b [maxVarintLen]byte
	n := 0
	for n < len(b) {
		if !c.fill() {
			return 0, false
		}
		b[n] = c.cur[0]
		c.cur, c.pos = c.cur[1:], c.pos+1
		n++
		if b[n-1] < 0x80 {
			break
		}
	}
	v, m := protowire.ConsumeVarint(b[:n])
	return v, m == n
}

// skip passes n bytes.
func (c *chunkCursor) skip(n int) bool {
	for n > 0 {
		if !c.fill() {
			return false
		}
		k := min(n, len(c.cur))
		c.cur, c.pos, n = c.cur[k:], c.pos+k, n-k
	}
	return true
}

// take returns the next n bytes: in place when one buffer holds them, else
// copied into the scratch buffer (valid until the next take).
func (c *chunkCursor) take(n int) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if !c.fill() {
		return nil, false
	}
	if len(c.cur) >= n {
		b := c.cur[:n]
		c.cur, c.pos = c.cur[n:], c.pos+n
		return b, true
	}
	c.scratch = c.scratch[:0]
	for len(c.scratch) < n {
		if !c.fill() {
			return nil, false
		}
		k := min(n-len(c.scratch), len(c.cur))
		c.scratch = append(c.scratch, c.cur[:k]...)
		c.cur, c.pos = c.cur[k:], c.pos+k
	}
	return c.scratch, true
}

// field reads a field's tag and, for a LEN field, its length; it passes a
// VARINT, I64 or I32 field whole. ok is false on a group or a malformed
// field.
func (c *chunkCursor) field() (num protowire.Number, typ protowire.Type, l int, ok bool) {
	// A LEN field with a one-byte tag and a length of one or two bytes,
	// each span's: inline.
	if b := c.cur; len(b) >= 3 && b[0] < 0x80 && b[0]&7 == byte(protowire.BytesType) && b[0] >= 1<<3 {
		if b[1] < 0x80 {
			c.cur, c.pos = b[2:], c.pos+2
			return protowire.Number(b[0] >> 3), protowire.BytesType, int(b[1]), true
		}
		if b[2] < 0x80 {
			c.cur, c.pos = b[3:], c.pos+3
			return protowire.Number(b[0] >> 3), protowire.BytesType, int(b[1]&0x7f) | int(b[2])<<7, true
		}
	}
	tag, ok := c.varint()
	if !ok || tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > math.MaxInt32 {
		return 0, 0, 0, false
	}
	num, typ = protowire.Number(tag>>3), protowire.Type(tag&7)
	switch typ {
	case protowire.BytesType:
		m, ok := c.varint()
		if !ok || m > math.MaxInt32 {
			return 0, 0, 0, false
		}
		return num, typ, int(m), true
	case protowire.VarintType:
		_, ok = c.varint()
		return num, typ, 0, ok
	case protowire.Fixed64Type:
		return num, typ, 0, c.skip(8)
	case protowire.Fixed32Type:
		return num, typ, 0, c.skip(4)
	}
	return 0, 0, 0, false
}

// countSpansChunks counts the spans of the ExportTraceServiceRequest held
// in bufs, one after the other, and those without a parent span id, as
// CountSpans would; ok is false when it gave up (see above).
func (c *chunkCursor) countSpansChunks(bufs [][]byte) (spans, roots uint64, ok bool) {
	return c.countChunks(bufs, false)
}

// countLogsChunks counts the log records of the ExportLogsServiceRequest
// held in bufs, as CountLogRecords would; ok is false when it gave up.
func (c *chunkCursor) countLogsChunks(bufs [][]byte) (records uint64, ok bool) {
	records, _, ok = c.countChunks(bufs, true)
	return records, ok
}

func (c *chunkCursor) countChunks(bufs [][]byte, logs bool) (items, roots uint64, ok bool) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	c.cur, c.rest, c.pos = nil, bufs, 0
	if !c.walk(0, total, logs, &items, &roots) {
		return 0, 0, false
	}
	return items, roots, true
}

// prefetchAhead is how far ahead of its walk spansInPlace prefetches the
// frame, 3 to 6 spans of the loadgen's. The walk reads one or two lines of
// each span and the next span's place depends on the length it read, so
// without the prefetch it waited for each span's first line in turn: the
// frames were copied by gRPC's reader moments before, often on the other
// core, and are not in this one's cache.
const prefetchAhead = 2048

// spansInPlace counts the spans of a ScopeSpans ending at end that lie
// whole in the current buffer, each with a one-byte tag and a length of
// one or two bytes, and stops at the first field that is not one of them
// (another field, a span across buffers), which walk then reads. It is
// walk's loop for the fields it sees most, without the cursor's calls;
// it reports false if isRoot finds a span malformed.
func (c *chunkCursor) spansInPlace(end int, items, roots *uint64) bool {
	b := c.cur[:min(len(c.cur), end-c.pos)]
	i := 0
	var n, r uint64
	pf := 0 // b[:pf] has been prefetched
	for i+3 <= len(b) && b[i] == 2<<3|byte(protowire.BytesType) {
		if pf < i+prefetchAhead && pf < len(b) {
			k := min(len(b)-pf, prefetchAhead)
			prefetch.Lines(unsafe.Pointer(&b[pf]), uintptr(k))
			pf += k
		}
		l, s := int(b[i+1]), i+2
		if l >= 0x80 {
			if b[i+2] >= 0x80 {
				break
			}
			l, s = l&0x7f|int(b[i+2])<<7, i+3
		}
		if l > len(b)-s {
			break
		}
		n++
		if span := b[s : s+l]; !isChild(span) {
			root, err := isRoot(span)
			if err != nil {
				return false
			}
			if root {
				r++
			}
		}
		i = s + l
	}
	c.cur, c.pos = c.cur[i:], c.pos+i
	*items += n
	*roots += r
	return true
}

// walk reads the fields of a message of depth (0 the request, 1 a
// ResourceSpans or ResourceLogs, 2 a ScopeSpans or ScopeLogs) up to end,
// into resource_spans (resource_logs) = 1, scope_spans (scope_logs) = 2
// and spans (log_records) = 2, counting the items: spans and their roots,
// or with logs set log records, skipped whole as CountLogRecords does.
func (c *chunkCursor) walk(depth, end int, logs bool, items, roots *uint64) bool {
	want := protowire.Number(1)
	if depth > 0 {
		want = 2
	}
	for c.pos < end {
		if depth == 2 && !logs {
			if !c.spansInPlace(end, items, roots) {
				return false
			}
			if c.pos >= end {
				break
			}
		}
		num, typ, l, ok := c.field()
		if !ok || c.pos > end || l > end-c.pos {
			return false
		}
		if num != want {
			if typ == protowire.BytesType && !c.skip(l) {
				return false
			}
			continue
		}
		if typ != protowire.BytesType {
			return false
		}
		if depth < 2 {
			if !c.walk(depth+1, c.pos+l, logs, items, roots) {
				return false
			}
			continue
		}
		if logs {
			if !c.skip(l) {
				return false
			}
			*items++
			continue
		}
		span, ok := c.take(l)
		if !ok {
			return false
		}
		root, err := isRoot(span)
		if err != nil {
			return false
		}
		*items++
		if root {
			*roots++
		}
	}
	return c.pos == end
}
