package export

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

func TestClassifyGRPC(t *testing.T) {
	retryable := map[codes.Code]bool{codes.Canceled: true, codes.DeadlineExceeded: true, codes.Aborted: true,
		codes.OutOfRange: true, codes.Unavailable: true, codes.DataLoss: true}
	for code := codes.Code(1); code <= 16; code++ {
		o := classifyGRPC(Traces, status.Error(code, "m"), redactor{})
		want := classPermanent
		if retryable[code] {
			want = classRetryable
		}
		if o.Class != want || o.Err == nil {
			t.Errorf("%s: %+v, want %s", code, o, want)
		}
		st, _ := status.New(code, "m").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
		o = classifyGRPC(Traces, st.Err(), redactor{})
		if code == codes.ResourceExhausted {
			want = classRetryable
		}
		if o.Class != want || o.Delay != 1500*time.Millisecond {
			t.Errorf("%s with RetryInfo: %+v, want %s after 1.5s", code, o, want)
		}
	}
	if o := classifyGRPC(Traces, nil, redactor{}); o.Class != classSuccess || o.Err != nil {
		t.Errorf("nil: %+v", o)
	}
	st, _ := status.New(codes.Unavailable, "").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(-time.Second)})
	if o := classifyGRPC(Traces, st.Err(), redactor{}); o.Delay != 0 {
		t.Errorf("negative RetryInfo gave delay %v", o.Delay)
	}
}

func TestClassifyHTTP(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	okBody, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: 4, ErrorMessage: "too big"}})
	stBody, _ := proto.Marshal(&spb.Status{Code: 3, Message: "bad span"})
	for _, tc := range []struct {
		code     int
		header   http.Header
		body     []byte
		want     class
		delay    time.Duration
		rejected int64
	}{
		{200, nil, nil, classSuccess, 0, 0},
		{200, nil, okBody, classSuccess, 0, 4},
		{202, nil, []byte{0xff, 0xff}, classSuccess, 0, 0},
		{400, nil, stBody, classPermanent, 0, 0},
		{404, nil, nil, classPermanent, 0, 0},
		{500, nil, nil, classPermanent, 0, 0},
		{302, nil, nil, classPermanent, 0, 0},
		{429, http.Header{"Retry-After": {"7"}}, nil, classRetryable, 7 * time.Second, 0},
		{502, nil, nil, classRetryable, 0, 0},
		{503, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, nil, classRetryable, 90 * time.Second, 0},
		{504, http.Header{"Retry-After": {"soon"}}, nil, classRetryable, 0, 0},
	} {
		o := classifyHTTP(Traces, tc.code, tc.header, tc.body, now, redactor{})
		if o.Class != tc.want || o.Delay != tc.delay || o.Rejected != tc.rejected {
			t.Errorf("HTTP %d %v: %+v", tc.code, tc.header, o)
		}
		if (o.Err == nil) != (tc.want == classSuccess && tc.rejected == 0 && len(tc.body) < 2) {
			t.Errorf("HTTP %d: err %v", tc.code, o.Err)
		}
	}
	if o := classifyHTTP(Traces, 400, nil, stBody, now, redactor{}); o.Err == nil || !contains(o.Err.Error(), "bad span") {
		t.Errorf("google.rpc.Status message not reported: %v", o.Err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "3": 3 * time.Second, " 12 ": 12 * time.Second,
		"99999999999999999":                             maxRetryAfter,
		now.Add(-time.Hour).Format(http.TimeFormat):     0,
		now.Add(48 * time.Hour).Format(http.TimeFormat): maxRetryAfter,
	} {
		if d, ok := parseRetryAfter(v, now); !ok || d != want {
			t.Errorf("%q: %v %v, want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "1.5", "tomorrow"} {
		if _, ok := parseRetryAfter(v, now); ok {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestPartialSuccessDecode(t *testing.T) {
	b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: -5, ErrorMessage: "x"}})
	if n, msg, err := partialSuccess(Traces, b); n != 0 || msg != "x" || err != nil {
		t.Errorf("negative rejected: %d %q %v", n, msg, err)
	}
	if _, _, err := partialSuccess(9, b); err == nil {
		t.Error("invalid signal accepted")
	}
}
