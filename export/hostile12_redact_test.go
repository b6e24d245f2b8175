package export

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
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
