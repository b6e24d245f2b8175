// Package w3c parses and formats the W3C propagation headers: traceparent and
// tracestate (Trace Context Level 1 and 2) and baggage (W3C Baggage). It is a
// leaf: it imports nothing of flowtel's, and the engine builds its carriers
// (http.Header, gRPC metadata) and the OpenTelemetry bridge on top of it.
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
//   - tracestate, Level 2 as published now: key = (lcalpha / DIGIT)
//     0*255(keychar), keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" /
//     "@" ('@' is an ordinary character: the older tenant-id@system-id form
//     with its 241 and 14 character parts is gone); values of 1 to 256
//     printable characters without ',' or '=' and not ending in a space.
//     The specification lets a receiver discard invalid entries rather
//     than the whole header ("Invalid tracestate entries MAY also be
//     discarded"), and only one entry per key is allowed, the left-most
//     being the latest position: an invalid list-member and a later
//     duplicate are dropped, the others kept, and the error reports it.
//     Past 32 list-members the right-most are dropped; a header longer than
//     MaxTraceStateBytes is read up to its last whole member within that
//     bound (truncation removes whole entries from the end). Optional
//     whitespace around commas and empty list-members are accepted and
//     removed on output; they do not count as members.
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
//     parsing (RFC 7230); the 8192-byte baggage limit applies to the join.
//   - When traceparent fails to parse, tracestate must be ignored too, and a
//     run starts a new trace; a bad tracestate never invalidates traceparent,
//     and its valid members are forwarded even when ParseTraceState returns
//     an error (which the carrier counts).
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
// (whitespace, empty or dropped members); Truncate only when it cuts; Member.Value only when the
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
//   - tracestate keys of the current grammar outside the older one ("1a",
//     "foo@", "a@b@c", "t@" and 15 characters): kept here; OpenTelemetry
//     rejects the whole header.
//   - tracestate with an invalid list-member, a duplicate key or more than
//     32 members: the bad or later members dropped here, the rest kept;
//     OpenTelemetry rejects the whole header. Both are allowed by the
//     specification; keeping the valid entries keeps other vendors' state.
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
//   - Copying a tracestate with dropped members into a normalized string at
//     parse time: an allocation per malformed header, chosen by the sender.
//     The walk re-applies the parser's rules instead (a member's validity is
//     a function of its text and the keys kept before it), and the kept
//     header is cut after its last kept member so walks stop there.
//   - Discarding the whole tracestate on one bad member, as Level 1 test
//     suites and OpenTelemetry Go do: allowed, but it throws away every
//     other vendor's entry for one vendor's mistake, which the same
//     specification asks participants to forward.
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
