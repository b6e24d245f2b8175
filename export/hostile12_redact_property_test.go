package export

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRedactorCredentialForms is a property test of the redactor over
// header values of the forms credentials come in: a bare token, "scheme
// token" with one or more spaces (Bearer, Basic of user:password, a
// vendor's own scheme), under any header name. Whatever part a receiver
// echoes (the whole value, the token, Basic's decoded user:password or
// password), quoted or not, amid arbitrary text, the message the
// ErrorHandler gets holds none of it.
func TestRedactorCredentialForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 16))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=\"\\é"
	word := func(n int) string {
		var b strings.Builder
		r := []rune(alphabet)
		for range n {
			b.WriteRune(r[rng.IntN(len(r))])
		}
		return b.String()
	}
	for i := range 2000 {
		token := word(8 + rng.IntN(40))
		var value string
		echoes := []string{token}
		switch rng.IntN(4) {
		case 0:
			value = token
		case 1:
			value = "Bearer" + []string{" ", "  ", "\t"}[rng.IntN(3)] + token
		case 2:
			pass := word(6 + rng.IntN(20))
			value = "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:"+pass))
			echoes = []string{pass, "svc:" + pass, strings.TrimPrefix(value, "Basic ")}
		default:
			value = word(3+rng.IntN(8)) + " " + token
		}
		echoes = append(echoes, value)
		r := newRedactor(map[string]string{word(4): value}, nil)
		for _, s := range echoes {
			msg := word(rng.IntN(20)) + " " + s + " " + word(rng.IntN(20))
			got := clip(r.string(msg))
			if strings.Contains(got, s) || strings.Contains(r.string(msg), s) {
				t.Fatalf("case %d: header value %q: echo %q survives: %s", i, value, s, got)
			}
		}
	}
}
