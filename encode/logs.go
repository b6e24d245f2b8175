package encode

import "unsafe"

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
// run trace log JSON (AppendRunLogWith and the Encoder's Offloader, see SetOffloader) as a string; it carries the run's trace
// and span ids, the run's end as time and observed time, severity ERROR
// when the run's status is an error and INFO otherwise, and the attributes
// sid and event.name. An empty runs appends nothing.
func (e *Encoder) AppendLogs(dst []byte, runs []*Run) []byte {
	if len(runs) == 0 {
		return dst
	}
	start := len(dst)

	// The JSON bodies are written first into e.runLog: their lengths are
	// only known once written, and every enclosing length depends on them.
	e.runLog = e.runLog[:0]
	e.runLogEnd = e.runLogEnd[:0]
	for _, r := range runs {
		e.runLog = AppendRunLogWith(e.runLog, r, e.offloader)
		e.runLogEnd = append(e.runLogEnd, len(e.runLog))
	}

	e.sizes = e.sizes[:0]
	e.invalid = 0
	e.counting, e.trusted = true, false
	scopeLogs := len(e.scopeField)
	from := 0
	for i, r := range runs {
		body := logsString(e.runLog[from:e.runLogEnd[i]])
		from = e.runLogEnd[i]
		scopeLogs += sizeLen1(e.sizeLogRecord(r, body))
	}
	e.counting = false
	resourceLogs := len(e.resourceField) + sizeLen1(scopeLogs)

	dst = appendLen1(dst, 1, resourceLogs)
	dst = append(dst, e.resourceField...)
	dst = appendLen1(dst, 2, scopeLogs)
	dst = append(dst, e.scopeField...)
	e.cur = 0
	from = 0
	for i, r := range runs {
		body := logsString(e.runLog[from:e.runLogEnd[i]])
		from = e.runLogEnd[i]
		dst = e.appendLogRecord(dst, r, body)
	}

	if cap(e.runLog) > MaxPooledBufferBytes {
		e.runLog = nil // one huge batch must not pin its JSON forever
	}

	e.stats.invalidUTF8.Add(e.invalid)
	e.stats.logRequests.Add(1)
	e.stats.logRecords.Add(uint64(len(runs)))
	e.stats.bytes.Add(uint64(len(dst) - start))
	return dst
}

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

// sizeLogRecord returns the size of the run's LogRecord body and records
// it for the second pass.
func (e *Encoder) sizeLogRecord(r *Run, body string) int {
	slot := e.beginSpanSize()
	_, sevText := severity(r)
	n := sizeFixed64Field(1, uint64(r.EndUnixNano)) +
		2 + // severity_number
		sizeLen1(len(sevText)) +
		sizeLen1(sizeLen1(e.strLen(body))) +
		e.sizeKVString(keySID, r.SID) +
		e.sizeKVString(keyEventName, RunLogEventName) +
		1 + 4 + // flags
		sizeLen1(16) + sizeLen1(8) +
		sizeFixed64Field(11, uint64(r.EndUnixNano)) +
		sizeLen1(len(RunLogEventName))
	return e.endSpanSize(slot, n)
}

// appendLogRecord appends the run's LogRecord as a ScopeLogs.log_records field.
func (e *Encoder) appendLogRecord(dst []byte, r *Run, body string) []byte {
	const f = fieldLogAttrs
	dst = appendLen1(dst, 2, e.beginSpanAppend())
	sevNum, sevText := severity(r)
	dst = appendFixed64Field(dst, 1, uint64(r.EndUnixNano))
	dst = append(dst, 2<<3|wireVarint, sevNum)
	dst = appendLen1(dst, 3, len(sevText))
	dst = append(dst, sevText...)
	n := e.strLen(body)
	dst = appendLen1(dst, 5, sizeLen1(n))
	dst = appendLen1(dst, 1, n)
	dst = e.appendStr(dst, body)
	dst = e.appendKVString(dst, f, keySID, r.SID)
	dst = e.appendKVString(dst, f, keyEventName, RunLogEventName)
	dst = append(dst, 8<<3|wireFixed32, logFlagsSampled, 0, 0, 0)
	dst = appendLen1(dst, 9, 16)
	dst = append(dst, r.TraceID[:]...)
	dst = appendLen1(dst, 10, 8)
	dst = append(dst, r.SpanID[:]...)
	dst = appendFixed64Field(dst, 11, uint64(r.EndUnixNano))
	dst = appendLen1(dst, 12, len(RunLogEventName))
	return append(dst, RunLogEventName...)
}

// logsString returns b as a string without copying. b is e.runLog, which is
// not modified until the next AppendLogs, after the string is last used.
func logsString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
