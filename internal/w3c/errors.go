package w3c

import (
	"errors"
	"fmt"
)

// The sentinel errors of this package. Every error a parser returns wraps
// exactly one of ErrTraceParent, ErrTraceState or ErrBaggage, and also
// ErrLimit when a size or count limit was the reason, so a caller can count
// malformed headers by kind with errors.Is.
var (
	// ErrTraceParent reports a traceparent header that is not valid.
	ErrTraceParent = errors.New("invalid traceparent")
	// ErrTraceState reports a tracestate header that is not valid.
	ErrTraceState = errors.New("invalid tracestate")
	// ErrBaggage reports a baggage header, or a part of one, that is not valid.
	ErrBaggage = errors.New("invalid baggage")
	// ErrLimit reports that a header or a change to it passes a limit of the
	// specifications (member counts, bytes).
	ErrLimit = errors.New("limit exceeded")
)

// The errors below are built once, so that a malformed header costs no
// allocation: an attacker controls how many of them arrive. Each says what
// was wrong; none carries the offending text, which would have to be copied.
var (
	errTPEmpty      = fmt.Errorf("%w: empty", ErrTraceParent)
	errTPShort      = fmt.Errorf("%w: shorter than 55 characters", ErrTraceParent)
	errTPLength     = fmt.Errorf("%w: version 00 must be exactly 55 characters", ErrTraceParent)
	errTPVersion    = fmt.Errorf("%w: version is not two lower-case hex digits", ErrTraceParent)
	errTPVersionFF  = fmt.Errorf("%w: version ff is forbidden", ErrTraceParent)
	errTPDelimiter  = fmt.Errorf("%w: fields not separated by '-'", ErrTraceParent)
	errTPTraceIDHex = fmt.Errorf("%w: trace-id is not 32 lower-case hex digits", ErrTraceParent)
	errTPSpanIDHex  = fmt.Errorf("%w: parent-id is not 16 lower-case hex digits", ErrTraceParent)
	errTPFlagsHex   = fmt.Errorf("%w: trace-flags is not two lower-case hex digits", ErrTraceParent)
	errTPTraceID0   = fmt.Errorf("%w: trace-id is all zeros", ErrTraceParent)
	errTPSpanID0    = fmt.Errorf("%w: parent-id is all zeros", ErrTraceParent)
	errTPFuture     = fmt.Errorf("%w: character after trace-flags of a future version is not '-'", ErrTraceParent)

	errTSTooLong   = fmt.Errorf("%w: %w: longer than %d bytes, discarded", ErrTraceState, ErrLimit, MaxTraceStateBytes)
	errTSTooMany   = fmt.Errorf("%w: %w: more than %d list-members, discarded", ErrTraceState, ErrLimit, MaxTraceStateMembers)
	errTSNoEqual   = fmt.Errorf("%w: list-member without '=', discarded", ErrTraceState)
	errTSKey       = fmt.Errorf("%w: key is neither a simple key (a lower-case letter, then up to 255 of a-z 0-9 _ - * /) nor tenant@system (up to 241 and 14 characters), discarded", ErrTraceState)
	errTSValue     = fmt.Errorf("%w: value is empty, longer than 256 characters, ends in a space or holds a forbidden character, discarded", ErrTraceState)
	errTSDuplicate = fmt.Errorf("%w: a key appears twice, discarded", ErrTraceState)

	errBagTooLarge = fmt.Errorf("%w: %w: longer than %d bytes", ErrBaggage, ErrLimit, MaxBaggageBytes)
	errBagTooMany  = fmt.Errorf("%w: %w: more than %d list-members", ErrBaggage, ErrLimit, MaxBaggageMembers)
	errBagEmpty    = fmt.Errorf("%w: empty list-member dropped", ErrBaggage)
	errBagNoEqual  = fmt.Errorf("%w: list-member without '=' dropped", ErrBaggage)
	errBagKey      = fmt.Errorf("%w: list-member key is not a token, dropped", ErrBaggage)
	errBagValue    = fmt.Errorf("%w: list-member value holds a forbidden character or a bad percent-escape, dropped", ErrBaggage)
	errBagProperty = fmt.Errorf("%w: list-member property is malformed, dropped", ErrBaggage)
	errBagUTF8     = fmt.Errorf("%w: value is not valid UTF-8", ErrBaggage)
)
