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
	// One pass, as AppendTraces, the JSON bodies straight into dst.
	dst, rq := e.openRequest(dst)
	body := logsBodyGuess
	// The runs of a request mostly log in one day: one clock keeps it.
	var clock runlogClock
	for k, r := range runs {
		prefetchRuns(runs, k)
		dst, body = e.appendLogRecord(dst, r, body, &clock)
	}
	dst = e.closeRequest(dst, rq)
	e.stats.logRequests.Add(1)
	e.stats.logRecords.Add(uint64(len(runs)))
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
func (e *Encoder) SetOffloader(o *Offloader) { e.runLogOpts.Offloader = o }

// SetRunLogOptions makes AppendLogs write the run trace log bodies as opts
// says (AppendRunLogOptions), its Offloader included. Call it before the
// first AppendLogs, from the encoding goroutine.
func (e *Encoder) SetRunLogOptions(opts RunLogOptions) { e.runLogOpts = opts }

// severity returns the severity number and text of a run's log record.
func severity(r *Run) (byte, string) {
	if r.Status == StatusError {
		return severityError, "ERROR"
	}
	return severityInfo, "INFO"
}

// appendLogRecord appends the run's LogRecord as a ScopeLogs.log_records
// field, its body written in place. The body is most of the record, so the
// lengths around it are reserved at the width a body of guess bytes (the
// previous record's) needs, and a body of another width moves only when it
// crosses a varint boundary. It returns the body size written, the guess
// for the next record. clock writes the logs entries' time text.
func (e *Encoder) appendLogRecord(dst []byte, r *Run, guess int, clock *runlogClock) ([]byte, int) {
	const f = fieldLogAttrs
	sevNum, sevText := severity(r)
	w := sizeVarint(uint64(guess))
	dst, record := openLen(dst, fieldScopeXItem, w)
	dst = appendFixed64Field(dst, fieldLogTime, uint64(r.EndUnixNano))
	dst = append(dst, tag1(fieldLogSeverityNumber, wireVarint), sevNum)
	dst = appendStringField(dst, fieldLogSeverityText, sevText)
	dst, value := openLen(dst, fieldLogBody, w)
	dst, str := openLen(dst, fieldAnyString, w)
	from := len(dst)
	dst, high := appendRunLog(dst, r, &e.runLogOpts, clock)
	// The JSON is valid UTF-8 by construction (escaping repairs), but a
	// body with bytes from 0x80 is checked anyway: one invalid body would
	// make the collector reject the whole request (see "Rejected
	// alternatives" in doc.go). A body the writer wrote in ASCII only (it
	// tests each string for plain ASCII as it copies it) is valid UTF-8:
	// the check, about 150 ns per loadgen-shaped body, is left out.
	if high && !utf8.Valid(dst[from:]) {
		e.invalid++
		dst = e.repairBody(dst, from)
	}
	n := len(dst) - from
	dst, _ = closeLen(dst, str, w)
	dst, _ = closeLen(dst, value, w)
	dst = e.writeKVString(dst, f, keySID, r.SID)
	dst = appendKVChecked(dst, f, keyEventName, RunLogEventName, len(RunLogEventName), true)
	dst = append(dst, tag1(fieldLogFlags, wireFixed32), logFlagsSampled, 0, 0, 0)
	dst = appendLen1(dst, fieldLogTraceID, 16)
	dst = append(dst, r.TraceID[:]...)
	dst = appendLen1(dst, fieldLogSpanID, 8)
	dst = append(dst, r.SpanID[:]...)
	dst = appendFixed64Field(dst, fieldLogObservedTime, uint64(r.EndUnixNano))
	dst = appendStringField(dst, fieldLogEventName, RunLogEventName)
	dst, _ = closeLen(dst, record, w)
	return dst, n
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
