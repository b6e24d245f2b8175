package export

import (
	"encoding/base64"
	"testing"
)

// TestRedactKeepsMessage: the redactor replaces the credentials a
// receiver echoes, alone or with their scheme, and leaves the rest of the
// message as it was, so that the error still says what went wrong: not
// the scheme's name, not words of the message that are in no header, not
// a short credential (under minSecretBytes) found inside words.
func TestRedactKeepsMessage(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("svc:pa55-w0rd"))
	r := newRedactor(map[string]string{
		"Authorization": "Bearer tok-3c5e9a7f",
		"X-Basic":       "Basic " + basic,
		"X-Short":       "Bearer abc",
	}, nil)
	for msg, want := range map[string]string{
		"invalid token tok-3c5e9a7f for tenant acme":     "invalid token REDACTED for tenant acme",
		"header Bearer tok-3c5e9a7f refused":             "header REDACTED refused",
		"wrong password pa55-w0rd for svc":               "wrong password REDACTED for svc",
		"bad credentials " + basic:                       "bad credentials REDACTED",
		"Bearer scheme required; abcdef is not a tenant": "Bearer scheme required; abcdef is not a tenant",
		"unauthenticated: \"tok-3c5e9a7f\" is not known": "unauthenticated: \"REDACTED\" is not known",
	} {
		if got := r.string(msg); got != want {
			t.Errorf("%q\n got %q\nwant %q", msg, got, want)
		}
	}
}
