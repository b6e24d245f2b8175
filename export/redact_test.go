package export

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/otlptest"
	"google.golang.org/grpc/codes"
)

// TestCredentialEchoedAloneRedacted: a receiver that refuses a token says
// so with the token alone ("invalid token <token>"), not with the header
// it came in ("Bearer <token>"). The redactor searched only for whole
// header values, so the token reached the ErrorHandler, on the 401 and
// the partial-success paths of both protocols; for Basic, the password
// decoded from the header.
func TestCredentialEchoedAloneRedacted(t *testing.T) {
	const token = "tok-3c5e9a7f-secret"
	forEachProtocol(t, func(t *testing.T, protocol string) {
		basic := base64.StdEncoding.EncodeToString([]byte("svc:" + token))
		for _, value := range []string{"Bearer " + token, "bearer  " + token, "Basic " + basic} {
			scheme, _, _ := strings.Cut(value, " ")
			for _, code := range []codes.Code{codes.Unauthenticated, codes.OK} {
				r := newReceiver(t, protocol, func(c otlptest.Call) otlptest.Reply {
					return otlptest.Reply{Code: code, Rejected: 1, Message: "invalid token " + token + " for tenant"}
				})
				r.Start()
				cfg := testConfig(protocol, r.Endpoint())
				cfg.Headers = map[string]string{"Authorization": value}
				e, log := newLogged(t, cfg)
				produce(t, e, Traces, "s", 2, 2)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				if err := e.ForceFlush(ctx); err != nil && strings.Contains(err.Error(), token) {
					t.Errorf("%s %s: ForceFlush's error holds the token: %v", scheme, code, err)
				}
				if err := e.Shutdown(ctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
				cancel()
				r.Stop()
				errs := log.all()
				if len(errs) == 0 {
					t.Fatalf("%s %s: nothing reported", scheme, code)
				}
				for _, err := range errs {
					if strings.Contains(err.Error(), token) {
						t.Errorf("%s %s: the ErrorHandler got the token: %v", scheme, code, err)
					}
				}
			}
		}
	})
}

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
