// Package otlpref builds the reference OTLP requests that flowtel's
// encoder tests and fuzz targets compare the encoder with: the same
// records as package encode takes, built field by field with the official
// generated types (go.opentelemetry.io/proto/otlp), from the mapping that
// encode's doc states and independently of the encoder's code. A test
// decodes the encoder's bytes with the official decoder and requires
// proto.Equal with the reference (and, where the reference builds a whole
// request, exactly its proto.Size).
//
// Strings that are not valid UTF-8 are repaired by the rule of
// strings.ToValidUTF8 (one U+FFFD per run of invalid bytes), and a Builder
// counts each repair once per field, as encode's counters do.
//
// It is used by tests only: it allocates freely and is not safe for
// concurrent use of one Builder.
package otlpref
