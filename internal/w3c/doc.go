// Package w3c parses and formats the W3C propagation headers: traceparent and
// tracestate (Trace Context Level 1 and 2) and baggage (W3C Baggage). It is a
// leaf: it imports nothing of flowtel's but internal/hex, and package
// propagation builds its carriers (http.Header, gRPC metadata) on top of it,
// as the engine, the OpenTelemetry bridge and internal/propenv use it.
//
// # What it follows
//
//   - traceparent: version 00 is exactly 55 characters; a higher version
//     other than ff is parsed from its first 55 characters when the next
//     character, if any, is '-'. Hex is lower case only. All-zero trace-id or
//     parent-id is invalid. Flags are kept whole as received, reserved bits
//     included. A sender keeps only what Level 2 defines (SendFlags, Child):
//     the random trace-id flag (0x02) exactly as received for the same
//     trace-id, the sampled flag (0x01) of its own decision, reserved bits
//     zero; a trace started on random ids sets the random flag
//     (NewRandomTraceParent).
//   - tracestate, with the key grammar of Level 1 (the W3C
//     Recommendation, which the W3C test suite and OpenTelemetry's SDKs
//     check): a simple key (lcalpha, then up to 255 of lcalpha / DIGIT /
//     "_" / "-" / "*" / "/") or tenant-id@system-id (up to 241 characters,
//     starting with lcalpha or DIGIT, and up to 14, starting with lcalpha);
//     values of 1 to 256 printable characters without ',' or '=' and not
//     ending in a space. A header with an invalid list-member, a key given
//     twice, more than 32 list-members or more than MaxTraceStateBytes is
//     discarded whole, and the error says why: the specification allows it
//     ("the vendor MAY discard the entire header"), and it is what the W3C
//     test suite, at its default strictness, asks. Optional whitespace
//     around commas and empty list-members are accepted and removed on
//     output; they do not count as members.
//   - tracestate size: every valid member is kept, up to 32 (16447 bytes
//     normalized at most), so the specification's floor of 512 characters
//     propagated is always met. Truncate cuts to a smaller budget in the
//     specification's order: members over 128 characters first, then from
//     the end.
//   - baggage: at most 8192 bytes (checked before anything is read) and 180
//     list-members (the grammar's 0*179 repetition). key = token, value =
//     baggage-octets with valid percent-escapes, properties "key" or
//     "key=value"; empty property elements ("k=v;;p;") are ignored, as
//     OpenTelemetry does, whitespace-only ones are not. An invalid list-member is dropped and the others kept; the
//     parser still returns an error so the caller can count it. Values are
//     percent-decoded on access; octets that do not form UTF-8 become U+FFFD.
//
// # Notes for carriers
//
//   - Several tracestate or baggage header lines are joined with "," before
//     parsing (RFC 7230), empty lines left out (joined, an empty line
//     would be an empty baggage member, which is malformed); the 8192-byte
//     baggage limit applies to the join.
//   - When traceparent fails to parse, tracestate must be ignored too, and a
//     run starts a new trace; a bad tracestate never invalidates traceparent:
//     it is discarded whole (ParseTraceState returns the empty TraceState
//     and an error, which the carrier counts).
//   - A service writing its own traceparent uses Child (version 00, its own
//     span id, the random flag kept, its own sampled decision); it forwards
//     tracestate normalized, unless it updates its own entry with Insert.
//
// # Errors
//
// Every parse error wraps ErrTraceParent, ErrTraceState or ErrBaggage, and
// also ErrLimit when a limit was the cause. Errors are built once at package
// initialisation: a malformed header costs no allocation, since an attacker
// chooses how many arrive. Nothing in this package panics on any input.
//
// # Concurrency
//
// Every function may be called from any goroutine. TraceParent, TraceState,
// Baggage, Member and Property are immutable values, safe to share.
//
// # Allocation
//
// ParseTraceParent, AppendTraceParent, Child, ParseTraceState,
// AppendTraceState, ParseBaggage, AppendBaggage, the All and Properties
// iterators, Get, Member.RawValue and Member.AppendValue allocate nothing
// (Append functions only when dst is too small). TraceState.String and
// Baggage.String allocate only when the header was not already normalized
// (whitespace or empty members); Truncate only when it cuts; Member.Value only when the
// value holds a percent-escape; TraceParent.String always. Insert and Delete
// build a new header and allocate. alloc_test.go asserts these budgets.
//
// # Differences from OpenTelemetry Go (v1.47 propagation)
//
// interop_test.go checks both directions over random valid headers and pins
// every difference below:
//
//   - Version 00 with reserved flag bits (e.g. "-04"): accepted here, as the
//     specification only forbids sending them; OpenTelemetry rejects the
//     header. OpenTelemetry keeps only sampled and random; so does the engine
//     when it builds its own header (FlagsKnown).
//   - Version 00 followed by a lone '-' (56 characters): rejected here, as
//     version 00 is exactly 55 characters; OpenTelemetry accepts it.
//   - tracestate with a whitespace-only list-member (" ,a=1"): accepted here
//     (Level 2: list-member = (key "=" value) / OWS); OpenTelemetry rejects.
//   - baggage with more than 64 members: kept here up to 180; OpenTelemetry
//     keeps 64 (the specification's propagation minimum).
//   - baggage with duplicate keys: kept here in order, as the specification
//     allows; Get returns the last, which is the one OpenTelemetry keeps.
//   - Whitespace around baggage keys and values: SP and HTAB only here (OWS
//     of RFC 7230); OpenTelemetry trims every Unicode space (strings.TrimSpace)
//     and so accepts "a=1\n".
//   - baggage values are written as received (percent-encoded as the sender
//     chose); OpenTelemetry re-encodes decoded values. Decoded values agree.
//
// # Rejected alternatives
//
//   - Decoding tracestate and baggage into slices of members: one or more
//     allocations per header for data most services only forward. Keeping the
//     validated header and walking it on access parses with 0 allocations;
//     the walk is cheap because the header is bounded and already validated.
//   - A map for the tracestate duplicate check: 32 keys at most, and a
//     stack array with a quadratic scan allocates nothing.
//   - Dropping only a tracestate's bad list-members (and later duplicates,
//     and members past the 32nd) and forwarding the others: allowed by the
//     specification and kinder to the other vendors, but the W3C test suite
//     fails it on duplicate keys, invalid members and 33 members (it
//     expects the header discarded), and so does a receiver that follows
//     the suite. Earlier versions did this.
//   - The Level 2 draft's looser key ('@' anywhere, a leading digit): keys
//     such as "foo@" or "1a" make a Level 1 receiver (OpenTelemetry's SDKs,
//     the W3C suite's harness) discard the whole header, so forwarding them
//     costs every other vendor its entry downstream.
//   - A bitmap of dropped baggage members: validity is a pure function of a
//     member's text, so iteration re-validates and skips; the value stays
//     three words.
//   - Errors formatted with the offending text (fmt.Errorf per call): an
//     allocation per malformed header under attacker control; the static
//     errors still say which rule failed.
//   - Masking reserved traceparent flags on parse: parse∘format∘parse would
//     no longer be the identity and the information would be lost to a
//     caller that wants to forward the header unchanged.
package w3c
