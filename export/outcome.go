package export

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// class is what an export attempt's result means for the batch.
type class uint8

// The classes of an export attempt.
const (
	// classSuccess: the receiver took the batch, perhaps rejecting part of it.
	classSuccess class = iota
	// classRetryable: send the batch again after a delay.
	classRetryable
	// classPermanent: drop the batch; sending it again cannot succeed.
	classPermanent
)

// String returns "success", "retryable" or "permanent".
func (c class) String() string {
	switch c {
	case classSuccess:
		return "success"
	case classRetryable:
		return "retryable"
	case classPermanent:
		return "permanent"
	}
	return "invalid"
}

// outcome is the judgement of one export attempt.
type outcome struct {
	Class class
	// Rejected is the partial success count of rejected items (spans, data
	// points or log records); never negative.
	Rejected int64
	// Delay is the delay the receiver asked for (Retry-After, RetryInfo);
	// 0 if none. It is never negative.
	Delay time.Duration
	// Err describes a failure or a partial success; nil on full success.
	Err error
	// Notice, when not empty, says that Err on a success or a permanent
	// failure is to be reported once per exporter (Exporter.reportOnce):
	// the receiver's partial success message, that its responses do not
	// decode, or its refusal (signal, status and message, e.g. 401 on a
	// bad token), which a receiver says of every batch. On a retryable
	// failure it names the signal and the kind of failure (gRPC code,
	// HTTP status, transport) without the message: a batch whose retries
	// are exhausted is reported once per notice and outage
	// (Exporter.reportOutage).
	Notice string
}

// retryableHTTP reports whether an HTTP status is retryable per the OTLP
// specification.
func retryableHTTP(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// classifyHTTP judges an OTLP/HTTP response: status code, headers and a
// body read with a size limit. now dates a Retry-After given as an HTTP
// date. A 2xx body is decoded as the signal's Export*ServiceResponse for
// partial success; an error body as google.rpc.Status for its message,
// each in the encoding its Content-Type names (bodyEncoding). rd removes
// the target's secrets from the receiver's message before it is clipped,
// so that a cut cannot leave part of a secret in the message.
func classifyHTTP(sig Signal, code int, header http.Header, body []byte, now time.Time, rd redactor) outcome {
	enc := bodyEncoding(header.Get("Content-Type"))
	if code >= 200 && code < 300 {
		if enc == encodingOther && len(body) > 0 {
			// A web page or a proxy's "OK": the data was taken, but
			// perhaps not by an OTLP receiver, which is worth saying once.
			// The type is the receiver's to write, an echo of a header
			// too: redacted before it is clipped, as a message is.
			return outcome{Class: classSuccess, Notice: sig.String() + " content type",
				Err: fmt.Errorf("export %s: accepted with a %s response, not an OTLP one: is the endpoint an OTLP receiver?", sig, clip(rd.string(header.Get("Content-Type"))))}
		}
		rejected, msg, err := decodePartial(sig, body, enc.unmarshal())
		if err != nil {
			return undecodable(sig, err)
		}
		return partialOutcome(sig, rejected, msg, rd)
	}
	var o outcome
	o.Class = classPermanent
	if retryableHTTP(code) {
		o.Class = classRetryable
		o.Notice = fmt.Sprintf("%s HTTP %d", sig, code)
		if d, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
			o.Delay = d
		}
	}
	msg := ""
	if len(body) > 0 {
		var st spb.Status
		switch {
		case enc != encodingOther && enc.unmarshal()(body, &st) == nil && st.Message != "":
			msg = st.Message
		case enc != encodingProtobuf || isText(header.Get("Content-Type")):
			msg = string(body)
		}
	}
	if msg != "" {
		o.Err = fmt.Errorf("export %s: HTTP %d: %s", sig, code, clip(rd.string(msg)))
	} else {
		o.Err = fmt.Errorf("export %s: HTTP %d", sig, code)
	}
	if o.Class == classPermanent {
		o.Notice = o.Err.Error() // signal, status and clipped message
	}
	return o
}

// encoding is how an OTLP/HTTP response body is encoded.
type encoding uint8

const (
	encodingProtobuf encoding = iota
	encodingJSON
	encodingOther
)

// bodyEncoding reads a response's Content-Type: protobuf when it says
// application/x-protobuf, application/protobuf or application/octet-stream,
// or nothing; JSON (OTLP's JSON encoding, which a receiver may answer in)
// for application/json; anything else (text/plain, text/html) is not an
// OTLP response.
func bodyEncoding(ct string) encoding {
	if strings.TrimSpace(ct) == "" {
		return encodingProtobuf
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return encodingOther
	}
	switch mt {
	case "application/x-protobuf", "application/protobuf", "application/octet-stream":
		return encodingProtobuf
	case "application/json":
		return encodingJSON
	}
	return encodingOther
}

// unmarshal returns the decoder of e: proto.Unmarshal, or protojson's,
// which ignores fields it does not know as proto.Unmarshal does.
func (e encoding) unmarshal() func([]byte, proto.Message) error {
	if e == encodingJSON {
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal
	}
	return proto.Unmarshal
}

func isText(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json")
}

// clip bounds a message from the receiver before it is reported. It
// returns the message quoted: invalid UTF-8 and control characters are
// escaped, and the quoted form, not the raw one, is what is bounded (an
// escape takes up to 10 bytes for one byte of input).
func clip(s string) string {
	if len(s) > maxErrorMessageBytes {
		s = s[:maxErrorMessageBytes]
	}
	q := strconv.Quote(s)
	if len(q) <= maxErrorMessageBytes+2 {
		return q
	}
	cut := maxErrorMessageBytes
	for cut > 0 && !utf8.RuneStart(q[cut]) {
		cut--
	}
	// Do not cut inside an escape: back up to before its backslash.
	if i := strings.LastIndexByte(q[max(cut-10, 0):cut], '\\'); i >= 0 {
		cut = max(cut-10, 0) + i
	}
	return q[:cut] + `…"`
}

// maxRetryAfter bounds a parsed Retry-After so that arithmetic on it cannot
// overflow; the signal's Timeout and Retry.MaxElapsedTime bound what is
// actually waited.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter parses a Retry-After value: delay seconds or an HTTP date
// relative to now. It reports false for an empty or invalid value. The
// result is clamped to [0, 24h].
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		d = 0
	case d > maxRetryAfter:
		d = maxRetryAfter
	}
	return d, true
}

// partialSuccess decodes an OTLP Export*ServiceResponse of sig and returns
// its partial success: the rejected count (spans, data points or log
// records; negative values read as 0) and the error message.
func partialSuccess(sig Signal, body []byte) (rejected int64, message string, err error) {
	return decodePartial(sig, body, proto.Unmarshal)
}

// decodePartial is partialSuccess with the body's decoder.
func decodePartial(sig Signal, body []byte, unmarshal func([]byte, proto.Message) error) (rejected int64, message string, err error) {
	if len(body) == 0 {
		return 0, "", nil
	}
	switch sig {
	case Traces:
		var r coltrace.ExportTraceServiceResponse
		if err = unmarshal(body, &r); err == nil {
			rejected, message = r.GetPartialSuccess().GetRejectedSpans(), r.GetPartialSuccess().GetErrorMessage()
		}
	case Metrics:
		var r colmetrics.ExportMetricsServiceResponse
		if err = unmarshal(body, &r); err == nil {
			rejected, message = r.GetPartialSuccess().GetRejectedDataPoints(), r.GetPartialSuccess().GetErrorMessage()
		}
	case Logs:
		var r collogs.ExportLogsServiceResponse
		if err = unmarshal(body, &r); err == nil {
			rejected, message = r.GetPartialSuccess().GetRejectedLogRecords(), r.GetPartialSuccess().GetErrorMessage()
		}
	default:
		return 0, "", fmt.Errorf("%w %d", errInvalidSignal, sig)
	}
	if rejected < 0 {
		rejected = 0
	}
	return rejected, message, err
}

var errInvalidSignal = errors.New("invalid signal")

// errResponseTooLarge is why a response past MaxResponseBytes was not read.
var errResponseTooLarge = fmt.Errorf("the response is larger than %d bytes (MaxResponseBytes)", MaxResponseBytes)

// tooLargeResponse reports whether st is the gRPC client's own refusal of
// a response larger than its receive limit (MaxResponseBytes): the call
// reached the receiver, which answered, so it took the request. gRPC
// says so only in the message of a RESOURCE_EXHAUSTED status, which a
// test checks against the gRPC in use (TestResponseBound).
func tooLargeResponse(st *status.Status) bool {
	if st.Code() != codes.ResourceExhausted || len(st.Details()) > 0 {
		return false
	}
	m := st.Message()
	return strings.HasPrefix(m, "grpc: received message larger than max") ||
		strings.HasPrefix(m, "grpc: received message after decompression larger than max") ||
		strings.HasPrefix(m, "grpc: message after decompression larger than max")
}

// undecodable is the outcome of a success (HTTP 2xx, gRPC OK) whose
// response body does not decode: the receiver accepted the data, and an
// undecodable body cannot undo that. Both protocols count it as exported
// and report err.
func undecodable(sig Signal, err error) outcome {
	return outcome{Class: classSuccess, Err: fmt.Errorf("export %s: accepted, but the response body does not decode: %w", sig, err),
		Notice: sig.String() + " undecodable"}
}

// partialOutcome is the success outcome of a response with the given
// partial success fields.
func partialOutcome(sig Signal, rejected int64, msg string, rd redactor) outcome {
	if rejected < 0 {
		rejected = 0
	}
	o := outcome{Class: classSuccess, Rejected: rejected}
	if rejected > 0 || msg != "" {
		// The notice is kept (reportOnce): the message as reported,
		// redacted and clipped, not the receiver's raw one, which may be
		// MaxResponseBytes long and echo a secret.
		shown := clip(rd.string(msg))
		o.Err = fmt.Errorf("export %s: partial success: %d rejected: %s", sig, rejected, shown)
		o.Notice = sig.String() + " partial " + shown
	}
	return o
}

// grpcError is a gRPC export failure: status.Code and status.FromError
// find its code, with the receiver's message redacted and clipped.
type grpcError struct {
	msg, status string
	code        codes.Code
}

func (e *grpcError) Error() string { return e.msg }

// GRPCStatus returns the failure's status, its message redacted.
func (e *grpcError) GRPCStatus() *status.Status { return status.New(e.code, e.status) }

// classifyGRPC judges the error of an OTLP/gRPC Export call (nil is a
// success without partial success). Retryable codes follow the OTLP
// specification; RESOURCE_EXHAUSTED is retryable only when the status
// carries google.rpc.RetryInfo, whose delay is honoured for every code.
func classifyGRPC(sig Signal, err error, rd redactor) outcome {
	if err == nil {
		return outcome{Class: classSuccess}
	}
	st, _ := status.FromError(err)
	if tooLargeResponse(st) {
		return undecodable(sig, errResponseTooLarge)
	}
	msg := clip(rd.string(st.Message()))
	o := outcome{Class: classPermanent, Err: &grpcError{msg: fmt.Sprintf("export %s: gRPC %s: %s", sig, st.Code(), msg), code: st.Code(), status: msg}}
	var retryInfo *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retryInfo = ri
			break
		}
	}
	if retryInfo != nil && retryInfo.GetRetryDelay() != nil {
		if rd := retryInfo.GetRetryDelay(); rd.CheckValid() == nil {
			d := rd.AsDuration()
			switch {
			case d < 0:
				d = 0
			case d > maxRetryAfter:
				d = maxRetryAfter
			}
			o.Delay = d
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		o.Class = classRetryable
	case codes.ResourceExhausted:
		if retryInfo != nil {
			o.Class = classRetryable
		}
	}
	if o.Class == classRetryable {
		o.Notice = sig.String() + " gRPC " + st.Code().String()
	}
	if o.Class == classPermanent {
		o.Notice = o.Err.Error() // signal, status and clipped message
	}
	return o
}
