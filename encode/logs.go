package encode

import (
	"unicode/utf8"
	"unsafe"
)

// Log record constants. The severity numbers are OTLP's SEVERITY_NUMBER_INFO
// and SEVERITY_NUMBER_ERROR.
const (
	severityInfo  = 9
	severityError = 17

	// RunLogEventName is the event name of the log record that carries a
	// run trace log, written both in LogRecord.event_name and in the
	// attribute event.name for backends that predate the field.
	RunLogEventName = "flowtel.run_log"

	keyEventName = "event.name"

	// logFlagsSampled is the W3C sampled flag in LogRecord.flags.
	logFlagsSampled = 0x01
)

// AppendLogs appends an ExportLogsServiceRequest holding one LogRecord per
// run to dst and returns the extended slice. Each record's body is the
// run trace log JSON (AppendRunLogWith and the Encoder's Offloader, see
// SetOffloader) as a string; it carries the run's trace and span ids, the
// run's end as time and observed time, severity ERROR when the run's
// status is an error and INFO otherwise, and the attributes sid and
// event.name. An empty runs appends nothing.
func (e *Encoder) AppendLogs(dst []byte, runs []*Run) []byte {
	if len(runs) == 0 {
		return dst
	}
	start := len(dst)
	e.invalid = 0

	// The JSON bodies are written straight into dst, where they stay. The
	// lengths before them are only known once they are written: room is
	// reserved from a guess, filled in afterwards, and what follows is
	// moved only when a guess was a varint byte off.
	w := sizeVarint(uint64(len(runs) * logsBodyGuess))
	head := 2 + 2*w + len(e.resourceField) + len(e.scopeField)
	dst = logsExtend(dst, head)
	from := len(dst)
	body := logsBodyGuess
	for _, r := range runs {
		dst, body = e.appendLogRecord(dst, r, body)
	}
	scopeLogs := len(e.scopeField) + len(dst) - from
	resourceLogs := len(e.resourceField) + sizeLen1(scopeLogs)
	need := 1 + sizeVarint(uint64(resourceLogs)) + len(e.resourceField) +
		1 + sizeVarint(uint64(scopeLogs)) + len(e.scopeField)
	dst = logsShift(dst, from, need-head)
	// Fill the head in place: it ends where the records start.
	h := appendLen1(dst[:start], 1, resourceLogs)
	h = append(h, e.resourceField...)
	h = appendLen1(h, 2, scopeLogs)
	_ = append(h, e.scopeField...)

	e.stats.invalidUTF8.Add(e.invalid)
	e.stats.logRequests.Add(1)
	e.stats.logRecords.Add(uint64(len(runs)))
	e.stats.bytes.Add(uint64(len(dst) - start))
	return dst
}

// logsBodyGuess is the guessed size of a run trace log, for the varint
// widths reserved before the first one is written: a run of a few nodes
// writes a few kilobytes.
const logsBodyGuess = 4096

// SetOffloader makes AppendLogs write the run trace log bodies with o, so
// that large string values are replaced by links as in the JSON shipped
// elsewhere (AppendRunLogWith). A nil o, the default, writes every value
// whole. Call it before the first AppendLogs, from the encoding goroutine.
func (e *Encoder) SetOffloader(o *Offloader) { e.offloader = o }

// severity returns the severity number and text of a run's log record.
func severity(r *Run) (byte, string) {
	if r.Status == StatusError {
		return severityError, "ERROR"
	}
	return severityInfo, "INFO"
}

// appendLogRecord appends the run's LogRecord as a ScopeLogs.log_records
// field, its body written in place (see AppendLogs). guess is the body
// size the room for the lengths is reserved for; it returns the body size
// written, the guess for the next record.
func (e *Encoder) appendLogRecord(dst []byte, r *Run, guess int) ([]byte, int) {
	const f = fieldLogAttrs
	sevNum, sevText := severity(r)

	// The sid attribute is validated once, counted if invalid.
	sidLen, sidOK := e.check(r.SID)
	tail := sizeKVString(len(keySID), sidLen) +
		sizeKVString(len(keyEventName), len(RunLogEventName)) +
		1 + 4 + // flags
		sizeLen1(16) + sizeLen1(8) +
		sizeFixed64Field(11, uint64(r.EndUnixNano)) +
		sizeLen1(len(RunLogEventName))
	fixed := sizeFixed64Field(1, uint64(r.EndUnixNano)) +
		2 + // severity_number
		sizeLen1(len(sevText))
	// The bytes of the record before its body, for a body of n bytes:
	// the record's tag and length, the fields before the body, and the
	// tags and lengths of the body's AnyValue and of its string.
	headLen := func(n int) int {
		anyValue := sizeLen1(n)
		record := fixed + sizeLen1(anyValue) + tail
		return 1 + sizeVarint(uint64(record)) + fixed +
			1 + sizeVarint(uint64(anyValue)) + 1 + sizeVarint(uint64(n))
	}

	at := len(dst)
	reserved := headLen(guess)
	dst = logsExtend(dst, reserved)
	dst = AppendRunLogWith(dst, r, e.offloader)
	// The JSON is valid UTF-8 by construction (escaping repairs), but it
	// is checked anyway: one invalid body would make the collector reject
	// the whole request (see "Rejected alternatives" in doc.go).
	if !utf8.Valid(dst[at+reserved:]) {
		e.invalid++
		dst = e.repairBody(dst, at+reserved)
	}
	n := len(dst) - at - reserved
	dst = logsShift(dst, at+reserved, headLen(n)-reserved)

	// Fill the head in place: it ends where the body starts.
	h := appendLen1(dst[:at], 2, fixed+sizeLen1(sizeLen1(n))+tail) // ScopeLogs.log_records
	h = appendFixed64Field(h, 1, uint64(r.EndUnixNano))
	h = append(h, 2<<3|wireVarint, sevNum)
	h = appendLen1(h, 3, len(sevText))
	h = append(h, sevText...)
	h = appendLen1(h, 5, sizeLen1(n))
	_ = appendLen1(h, 1, n)

	dst = appendKVChecked(dst, f, keySID, r.SID, sidLen, sidOK)
	dst = appendKVChecked(dst, f, keyEventName, RunLogEventName, len(RunLogEventName), true)
	dst = append(dst, 8<<3|wireFixed32, logFlagsSampled, 0, 0, 0)
	dst = appendLen1(dst, 9, 16)
	dst = append(dst, r.TraceID[:]...)
	dst = appendLen1(dst, 10, 8)
	dst = append(dst, r.SpanID[:]...)
	dst = appendFixed64Field(dst, 11, uint64(r.EndUnixNano))
	dst = appendLen1(dst, 12, len(RunLogEventName))
	return append(dst, RunLogEventName...), n
}

// logsExtend returns dst extended by n bytes, to be written later.
func logsExtend(dst []byte, n int) []byte {
	return append(dst, make([]byte, n)...)
}

// logsShift moves dst[from:] by d bytes, right when d > 0 and left when
// d < 0, and returns dst resized to match.
func logsShift(dst []byte, from, d int) []byte {
	switch {
	case d > 0:
		end := len(dst)
		dst = logsExtend(dst, d)
		copy(dst[from+d:], dst[from:end])
	case d < 0:
		copy(dst[from+d:], dst[from:])
		dst = dst[:len(dst)+d]
	}
	return dst
}

// repairBody replaces dst[from:], a body that is not valid UTF-8, by its
// repair, through the scratch slice e.runLog.
func (e *Encoder) repairBody(dst []byte, from int) []byte {
	body := dst[from:]
	e.runLog = appendUTF8Repaired(e.runLog[:0], unsafe.String(unsafe.SliceData(body), len(body)))
	dst = append(dst[:from], e.runLog...)
	if cap(e.runLog) > MaxPooledBufferBytes {
		e.runLog = nil // one huge body must not pin its repair forever
	}
	return dst
}
