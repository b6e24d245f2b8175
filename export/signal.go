package export

// Signal is one of the three OTLP signals. Each has its own endpoint,
// transport and counters; all share one byte-bounded queue.
type Signal uint8

// The signals, in the order Stats lists them.
const (
	Traces Signal = iota
	Metrics
	Logs
)

// NumSignals is the number of signals; Stats.Signals is indexed by Signal.
const NumSignals = 3

// String returns "traces", "metrics" or "logs", the word OTLP uses in URL
// paths and environment variable names.
func (s Signal) String() string {
	switch s {
	case Traces:
		return "traces"
	case Metrics:
		return "metrics"
	case Logs:
		return "logs"
	}
	return "invalid"
}

// valid reports whether s is one of the three signals.
func (s Signal) valid() bool { return s < NumSignals }

// grpcMethod returns the full gRPC method of the OTLP collector service of s.
func (s Signal) grpcMethod() string {
	switch s {
	case Traces:
		return "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	case Metrics:
		return "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
	}
	return "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
}

// httpPath returns the OTLP/HTTP path of s.
func (s Signal) httpPath() string { return "/v1/" + s.String() }

// DropReason says why items were dropped. Stats counts drops per reason.
type DropReason uint8

// The reasons an item can be dropped. Each is a stage and a cause, so every
// loss can be attributed.
const (
	// DropQueueFull: Enqueue found the queue full (bytes or batches) and the
	// overflow policy is to drop the newest.
	DropQueueFull DropReason = iota
	// DropBlockTimeout: Enqueue blocked (Config.Block) for BlockTimeout,
	// or EnqueueContext until its context ended, and the queue still had
	// no room.
	DropBlockTimeout
	// DropTooLarge: an item (span, log record, data point) alone makes a
	// request larger than Config.MaxRequestBytes or Config.QueueBytes (the
	// receiver would refuse it), or a larger batch is not a well-formed
	// request and cannot be split.
	DropTooLarge
	// DropNonRetryable: the receiver answered with a permanent error.
	DropNonRetryable
	// DropRetryExhausted: retryable failures lasted longer than the
	// signal's Timeout or Retry.MaxElapsedTime (or the next wait, a
	// server-requested delay too, would pass either), or retry is
	// disabled.
	DropRetryExhausted
	// DropShutdown: Enqueue after Shutdown, or Shutdown's context ended
	// before the batch could be delivered.
	DropShutdown
	// NumDropReasons is the number of drop reasons.
	NumDropReasons
)

// String returns the reason as a metric label value, e.g. "queue_full".
func (r DropReason) String() string {
	switch r {
	case DropQueueFull:
		return "queue_full"
	case DropBlockTimeout:
		return "block_timeout"
	case DropTooLarge:
		return "too_large"
	case DropNonRetryable:
		return "non_retryable"
	case DropRetryExhausted:
		return "retry_exhausted"
	case DropShutdown:
		return "shutdown"
	}
	return "invalid"
}
