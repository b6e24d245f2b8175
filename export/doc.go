// Package export ships encoded OTLP requests (traces, metrics, logs) to a
// receiver over OTLP/gRPC or OTLP/HTTP (protobuf), with a byte-bounded
// queue, a fixed number of concurrent exports, retries per the OTLP
// specification, and exact accounting of every item it is given.
//
// export imports nothing of flowtel's: it receives bytes that encode
// produced (an Export*ServiceRequest) and the number of items in them.
//
// # Data flow
//
// Enqueue appends a batch to one FIFO ring shared by all signals. The
// queue is bounded twice: in bytes held (queued or being exported, so
// memory stays bounded while the receiver is dead) and in batches. When it
// is full Enqueue drops the newest batch (DropQueueFull), or with
// Config.Block waits up to BlockTimeout (DropBlockTimeout). Concurrency
// workers take batches in order and export them; Config.Timeout bounds the
// export of a batch, its attempts and the waits between them (Retry).
//
// gRPC sends the bytes unchanged through a codec whose Marshal passes them
// through (no second marshal) to the OTLP collector service methods and
// decodes the official Export*ServiceResponse. HTTP POSTs them to
// {endpoint}/v1/{traces,metrics,logs} as application/x-protobuf and
// decodes its Export*ServiceResponse, or
// google.rpc.Status from an error body, in the encoding the response's
// Content-Type names: protobuf, or OTLP's JSON. A 2xx with another body (a
// web page) counts as exported and is reported once. A 307 or 308 to the
// same scheme and host is followed (up to 3), the body sent again, as
// OTel Go's exporter follows redirects; any other redirect is not (it
// would carry the headers, credentials among them, to another host, or
// become a GET) and drops the batch as refused.
// Both gzip when Compression is "gzip". Both read at most MaxResponseBytes
// (1 MiB) of a response (gRPC read up to its default 4 MiB): a larger
// answer to a success counts the request as exported, since the receiver
// took it, and is reported once per signal.
//
// # Retry
//
// Retryable: gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
// UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the status
// carries google.rpc.RetryInfo; HTTP 429, 502, 503, 504; connection errors.
// An HTTP response's status decides even when its body is cut short (a
// proxy that answers and resets): a 400 so cut is not retried.
// The wait is exponential (×1.5 from InitialInterval up to MaxInterval)
// with ±50 % jitter, or the receiver's RetryInfo / Retry-After delay when
// longer. Defaults are the OTel exporter defaults: 5 s, 30 s, 1 min; a
// signal whose Timeout is under 10 s starts at half of it (OTel's ratio),
// so that it retries within its Timeout.
//
// Timeout bounds the export of a batch, every attempt and every wait,
// from its first attempt, as OTEL_EXPORTER_OTLP_TIMEOUT does in the
// OpenTelemetry specification ("the maximum time the OTLP exporter will
// wait for each batch export") and in OTel Go's exporters: each attempt
// has what is left of it, and MaxElapsedTime bounds the batch too, the
// shorter winning. (Timeout bounded each attempt alone, MaxElapsedTime the
// batch.) With the defaults, 10 s and a first wait of 2.5 to 7.5 s, a
// batch has one or two retries; a longer Timeout rides out a longer
// outage, while the queue bounds what waits. A batch whose next wait
// would pass its Timeout or MaxElapsedTime is dropped (DropRetryExhausted)
// at once, so an endless Retry-After cannot hang the exporter, as is one
// whose wait ended but which no worker took before its Timeout passed.
//
// A receiver's throttle (its RetryInfo or Retry-After delay) holds back
// every batch of the signal, not only the one refused, until it is over
// (at most the signal's Timeout), as OTLP asks ("the client MUST then
// throttle itself"); the other signals go on, and the queue keeps its
// order. (The signal's next batches went at once.)
//
// A batch waits for its next attempt without holding a worker: the
// workers send the batches behind it meanwhile, and whichever is free
// when the wait ends sends it again (it still counts toward QueueBytes
// and InFlight).
//
// Reports: a batch dropped when its retries are exhausted is reported to
// the ErrorHandler once per signal and kind of failure (gRPC code, HTTP
// status, transport error) until the signal's next success, so that a
// receiver down for an hour makes one report per signal, not one per
// batch, and the next outage is reported again; Stats counts every item.
// Other failures drop the batch (DropNonRetryable, every item counted) and
// a receiver's refusal (HTTP 401, gRPC UNAUTHENTICATED, ...) is reported
// once per signal, status and message. A partial success counts the
// rejected items as Rejected (the OTLP sink's metrics:
// flowtel_export_items_total{result="rejected"}) and the rest as Exported,
// and is never retried. A success (gRPC OK, HTTP 2xx) whose body does not
// decode counts as exported on both protocols, since the receiver took
// the data. Either is reported once per signal and message (at most 64
// distinct ones): a receiver that rejects part of every batch says the
// same each time, and a report per batch buried the other errors.
//
// # Accounting
//
// Per signal, at every Stats call:
// Enqueued == Exported + Rejected + Dropped + InFlight.
// All counters change under one mutex, so a snapshot always satisfies it.
// After Shutdown returns, InFlight is 0.
//
// # Configuration and its precedence
//
// New takes a Config whose zero value means OTLP/gRPC to
// http://localhost:4317 without TLS. FromEnv (and FromLookup, for tests)
// reads the environment; nothing else does. Highest precedence first:
//
//   - Endpoint: OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT (used as is, the full
//     URL for HTTP), then OTEL_EXPORTER_OTLP_ENDPOINT (HTTP appends
//     /v1/<signal> to its path, less its trailing slashes), then the original's OTLP_ENDPOINT (plaintext when it
//     has no scheme, as the original always was; that plaintext is its
//     own, not a per-signal endpoint's), then the default
//     (http://localhost:4317 for gRPC, http://localhost:4318 for HTTP).
//     An http:// scheme means no TLS, https:// TLS; without a scheme,
//     OTEL_EXPORTER_OTLP_<SIGNAL>_INSECURE decides, then
//     OTEL_EXPORTER_OTLP_INSECURE (default false: TLS); a per-signal false
//     keeps TLS for that signal even when the generic one says true.
//     OTLP/gRPC also takes a Unix domain socket (unix:path,
//     unix:///path, unix-abstract:name), as the specification asks of
//     gRPC endpoints (any form the gRPC client takes): TLS unless
//     insecure; OTLP/HTTP refuses one.
//   - PROTOCOL, HEADERS, COMPRESSION, CERTIFICATE, CLIENT_CERTIFICATE,
//     CLIENT_KEY: the per-signal variable, then the generic one (PROTOCOL
//     and COMPRESSION in any case; PROTOCOL http/json is refused). Per-signal
//     HEADERS replace the generic ones entirely (as OTel Go does). A
//     HEADERS value is percent-decoded (a name is taken as written, as
//     OTel Go takes it), then trimmed of spaces and tabs; a
//     name given twice (in any case) is refused, and so is a member whose
//     value is empty or only "=", without printing it: a base64
//     credential pasted without its header name ("dG9rZW4=") reads so,
//     its name the credential, which OpenTelemetry Go sends as an empty
//     header and which would be printed as a header's name. The TLS
//     files of a signal that uses TLS are loaded as New loads them: one
//     that holds no PEM certificate, or a client certificate without its
//     key (or a key without its certificate), is refused naming the
//     variable that gave it (New would name Config's field); the files
//     of a signal without TLS are not read, as New does not read them.
//   - Timeout (ms): OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT, then
//     OTEL_EXPORTER_OTLP_TIMEOUT, then for traces OTLP_TRACE_TIMEOUT and for
//     metrics OTLP_METRIC_TIMEOUT (defaults 3000 and 5000 ms: the original's
//     behaviour), then 10 s. It bounds a batch's export, retries
//     included (Retry). An OTEL_ timeout of 0 is refused (OpenTelemetry
//     Go reads it as no timeout; flowtel bounds every export).
//   - Service name: OTEL_SERVICE_NAME, then service.name in
//     OTEL_RESOURCE_ATTRIBUTES (its values percent-decoded, its keys
//     not), then SERVICE_NAME.
//   - OTLP_ENABLE (default true; true, 1, yes, on or false, 0, no, off in
//     any case) fills Enabled, which only otlp.NewFromEnv reads.
//   - OTEL_LOGS_EXPORTER none (any case) sets NoLogs, which otlp.New
//     reads: no run trace logs are sent; otlp (or unset) sends them, and
//     any other value is refused.
//   - FLOWTEL_LARGE_FIELDS_{DISABLED,DIR,URL,HEADERS,MAX_BYTES,MAX_FILES,
//     TIMEOUT,CONCURRENCY,QUEUE_BYTES} fill LargeFields, where large run
//     log values and span event texts go (LargeFieldConfig; the
//     variables table of docs/porting.md gives each default).
//   - The batch span processor's and the metric reader's settings: the
//     OpenTelemetry name, then the original's, then the original's
//     default. OTEL_BSP_MAX_QUEUE_SIZE, OTLP_TRACE_MAX_QUEUE_SIZE (2048
//     spans) fill TraceBatch.MaxQueueSize and QueueSpans (New bounds the
//     spans it holds by it); OTEL_BSP_SCHEDULE_DELAY,
//     OTLP_TRACE_SCHEDULE_DELAY_MILLIS (3000) and
//     OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTLP_TRACE_MAX_EXPORT_BATCH_SIZE (512,
//     cut to a smaller queue size unless set) are for the engine's batches;
//     OTEL_BSP_EXPORT_TIMEOUT, OTLP_TRACE_EXPORT_TIMEOUT_MILLIS (3000) and
//     OTEL_METRIC_EXPORT_TIMEOUT, OTLP_METRIC_EXPORT_TIMEOUT_MILLIS (5000),
//     when set, bound the export timeout of traces and metrics;
//     OTEL_METRIC_EXPORT_INTERVAL, OTLP_METRIC_EXPORT_INTERVAL_MILLIS (3000)
//     is the engine's metrics push interval.
//
// A variable set to an empty value (or to spaces only) is unset: an empty
// OTEL_EXPORTER_OTLP_INSECURE leaves OTLP_ENDPOINT's plaintext as it is.
// An invalid value is an error wrapping ErrInvalidEnv that names the
// variable, also for the variables the engine uses (a schedule delay or
// metric interval of 0 is refused here); header values (credentials) are
// never printed, neither in configuration errors nor in export errors, nor
// is a HEADERS member's name that is not a header name (a credential
// pasted without its "Authorization=" is one: the member's position is
// printed instead). An endpoint of no URL's shape, or whose host holds a
// character no host name or address does ("api-key=<token>", which
// url.Parse takes as a host), is refused without its value printed: it
// is most often a header put in the wrong variable.
//
// # Settings checked at construction
//
// New checks every field once and refuses a value that would break later,
// with an error naming the field: durations outside [0, MaxDuration],
// QueueBatches over MaxQueueBatches (its ring is allocated up front),
// Concurrency over MaxConcurrency, a negative QueueBytes or
// MaxRequestBytes, a header that gRPC metadata or HTTP would refuse
// (non-ASCII or control characters, names that are not tokens, gRPC's
// reserved names), an endpoint that is not a URL or host:port, unreadable
// TLS files, PEM data where a TLS file's path goes, or a key's or
// certificate's DER in base64 without PEM's armour (a key pasted there:
// neither the error nor a printed Config shows it). A property test gives every field and every environment
// variable zero, negative, huge, MaxInt64 and non-ASCII values: each is
// refused by name, or the exporter runs a workload with retries, without
// panic, and accounts for every item.
//
// # Secrets
//
// Header values, an endpoint's user information and its query values are
// secrets (a query member without "=", "?<token>", the whole query; what
// precedes an '@' in a path, user information url.Parse took for a path
// in an endpoint whose scheme is given twice): every error the exporter returns or reports passes through a
// redactor that replaces them with "REDACTED", also in the messages of
// the receiver (which may echo a credential back) and in the URLs that
// net/http prints (Go masks only the password). The receiver's message is
// redacted before it is clipped to 512 bytes, so that a cut through a
// secret cannot leave its first bytes; a gRPC "-bin" value is also
// looked for base64-encoded, as gRPC sends it. A value under 4 bytes is
// not searched for: it is no credential, and replacing it would garble
// the messages. RedactURL does the same
// for a caller printing an endpoint. An error so redacted unwraps to
// the original's chain redacted the same way (errors.Is finds what it
// wraps): the original's message holds the secret, and an error reporter
// lists the causes. errors.As finds the errors of that chain whose
// messages hold no secret, as themselves: one whose message holds a
// header value (a tenant's name that is also in the endpoint's host name,
// in a *net.DNSError) is found only redacted, as no type of its own. The
// exporter judges an error (retry or drop) before it is redacted. Config, SignalConfig and LargeFieldConfig print
// (Format, for every fmt verb: the verbs fmt gives no Stringer printed
// the fields), log (slog's LogValue, for either handler) and marshal
// (MarshalJSON, a Config without its functions) with the same values
// REDACTED, all through one function (redactFields). A configuration read
// back from there holds the placeholder as its secrets: New refuses a
// header value, user information or query value that is "REDACTED",
// rather than send it as the credential. fmt's %p of a
// configuration (not of a pointer to one), a verb that takes no value,
// still prints its fields: fmt calls no method then. A
// configuration held in an unexported field of another struct is printed
// by fmt field by field, as fmt cannot call its methods there; one
// embedded in another struct lends it its methods, as Go promotes them,
// so that the struct prints and marshals as the configuration alone,
// its other fields left out: hold a configuration in a named field. An
// endpoint's user information is sent
// as basic authentication over both protocols (gRPC: "authorization"
// metadata) unless an Authorization header is configured.
//
// # Request size
//
// Every request fits Config.MaxRequestBytes (default 4 MiB less 64 KiB,
// under gRPC's default 4 MiB receive limit). Enqueue splits a larger
// batch on the wire (split.go: no decoding into structs, unknown fields
// carried) into requests that fit, each item keeping its resource, scope
// and metric; an item (span, log record, data point) that alone does not
// fit is dropped and counted as DropTooLarge, as is a larger batch that is
// not a well-formed request. Only an oversize batch pays for the split.
// Exporter.MaxRequestBytes tells a caller the limit.
//
// A worker that takes a batch from the queue also takes the batches of the
// same signal among the 8 queued behind it (the others keep their order),
// while together they are at most Config.CoalesceBytes (512 KiB by
// default), and sends them as one request: the encoded requests one after
// the other, which is one request holding all their resources, written
// without a copy (gRPC writes the parts as frames, OTLP/HTTP reads its
// body from them through net.Buffers; gzip compresses them in turn). A
// request costs calls, frames, goroutine wake-ups and system calls on both
// ends whatever its size: on the 2-vCPU VM, two 256-span halves of each
// 512-span batch cost 464-651 ns of
// process CPU per span sent alone and 297-320 coalesced, 768 spans a
// request (BenchmarkTransport in bench/). EnqueueParts queues the parts
// of one batch (the OTLP sink encodes a batch in parts on several cores)
// together, so that they leave in one request even when a worker waits for
// each: queued one by one, the first part left before the next arrived. Each batch still counts as one
// (ExportedBatches, ForceFlush); Requests counts requests. A coalesced
// request that fails with a retryable error is sent again whole, one
// request as before, with the same deadline (it went batch by batch, a
// request each: TestRetriedRequestWhole), and
// one refused for good (a receiver refusing one malformed batch) is sent
// again batch by batch at once, so that only a batch refused alone is
// dropped (TestCoalescedPermanent); a partial success's rejections are the
// request's, counted once. OTLP/HTTP sent each batch alone until its body
// was read from the parts in place: a batch the sink encoded in 4 parts
// made 4 requests (TestSinkBatchOneRequest in otlp/).
//
// # Concurrency
//
// Enqueue, ForceFlush, Shutdown and Stats may be called from any goroutine.
// ErrorHandler is called from export workers, possibly concurrently; a
// panic of it is recovered and counted (Stats.HandlerPanics).
// Shutdown and ForceFlush are idempotent and honour their context; flush
// requests do not travel through the data queue. ForceFlush returns an
// error wrapping ErrDropped when a batch it waited for was dropped
// (counted in Stats by reason), not exported.
//
// # Allocation
//
// Enqueue does not allocate when it accepts a batch or drops it (tested
// with testing.AllocsPerRun), except with Config.Block when it has to
// wait (one timer), and when it splits an oversize batch (the parts and
// their buffers). Stats does not allocate. Export attempts allocate
// (request, response, gRPC and HTTP machinery) once per request, not per item.
//
// # Performance
//
// Measured on the shared 2-core machine (load average 10 from other work,
// so loopback numbers are noisy lower bounds), go test -bench . -benchtime=200ms -count=3:
//
//	Enqueue accepted                    15 ns/op   0 allocs
//	Enqueue dropped (queue full)    56–65 ns/op   0 allocs (bytebufferpool.Put)
//	512-span batches (33 KB), Concurrency 2, receiver that discards:
//	  gRPC                  1200–1370 req/s   0.6–0.7 M spans/s   40–46 MB/s
//	  HTTP                  2180–2760 req/s   1.1–1.4 M spans/s   73–93 MB/s
//	  with gzip: gRPC 210–480 req/s, HTTP 395–630 req/s (compression bound)
//	receiver decoding with the official types: gRPC 375–1280, HTTP 257–567 req/s
//	(the receiver's decoding shares the 2 cores).
//	splitting an 8 MiB request under 4 MiB (BenchmarkSplitRequest): 3–6 ms,
//	4.2 MB allocated (one part buffer), 34–83 allocations.
//
// # Rejected alternatives
//
//   - A channel per signal as the queue: cannot bound bytes across signals,
//     and ForceFlush could not tell which batches preceded it.
//   - Lock-free counters read by Stats: a snapshot could violate the
//     accounting identity; batches are few (hundreds of items each), so one
//     uncontended mutex per batch costs nothing measurable.
//   - Using the OTel SDK exporters (otlptracegrpc): they take SDK span
//     structs and marshal them again, which is the cost flowtel removes,
//     and their queue drops silently.
//   - Registering the pass-through codec globally as "proto": it would
//     change every other gRPC client in the process; it is set per
//     connection with ForceCodecV2.
package export
