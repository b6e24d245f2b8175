package export

import (
	"bytes"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc/grpclog"
)

func TestMain(m *testing.M) {
	// gRPC's own log lines are kept, so that TestNoSecretPrinted can check
	// them: gRPC logs connection failures with their target.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(&grpcLog, &grpcLog, &grpcLog, 2))
	goleak.VerifyTestMain(m)
}

// grpcLog holds the last logBytes of gRPC's log.
var grpcLog logBuffer

const logBytes = 1 << 20

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > logBytes {
		keep := l.buf.Bytes()[l.buf.Len()/2:]
		l.buf = *bytes.NewBuffer(append([]byte(nil), keep...))
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
