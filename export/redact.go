package export

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// redacted replaces a secret in a message.
const redacted = "REDACTED"

// minSecretBytes is the length under which a header value is not searched
// for in messages: replacing "1" or "on" everywhere would garble them, and
// such values are not credentials.
const minSecretBytes = 4

// redactor removes one target's secrets from messages: header values,
// the user information of its endpoint (also as the basic authentication
// that carries it) and the values of its query. Errors from the transport
// and messages from the receiver pass through it before they reach the
// ErrorHandler, because a receiver may echo a credential back ("invalid
// token ...") and Go's net/http masks only an endpoint's password.
type redactor struct {
	secrets []string // longest first, so a secret containing another goes whole
}

func newRedactor(headers map[string]string, u *url.URL) redactor {
	var s []string
	add := func(v string) {
		if len(v) >= minSecretBytes {
			s = append(s, v)
			if q := strconv.Quote(v); q[1:len(q)-1] != v {
				s = append(s, q[1:len(q)-1]) // as clip quotes it
			}
		}
	}
	for k, v := range headers {
		add(v)
		// net/http sends a value trimmed, and a receiver echoes it so.
		tv := strings.TrimSpace(v)
		add(tv)
		// An Authorization-style value is "scheme credentials"; a
		// receiver that refuses it echoes the credentials alone
		// ("invalid token ..."), and for Basic may name the password.
		if i := strings.IndexAny(tv, " \t"); i >= 0 {
			scheme, cred := tv[:i], strings.TrimSpace(tv[i:])
			add(cred)
			if strings.EqualFold(scheme, "basic") {
				if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
					add(string(b))
					if _, pass, ok := strings.Cut(string(b), ":"); ok {
						add(pass)
					}
				}
			}
		}
		if strings.HasSuffix(strings.ToLower(k), "-bin") {
			// gRPC sends a binary value base64-encoded, which is how a
			// receiver may echo it.
			add(base64.StdEncoding.EncodeToString([]byte(v)))
			add(base64.RawStdEncoding.EncodeToString([]byte(v)))
		}
	}
	if u != nil && u.User != nil {
		user := u.User.Username()
		pass, _ := u.User.Password()
		add(u.User.String())
		add(user)
		add(pass)
		add(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
	}
	if u != nil && u.RawQuery != "" {
		add(u.RawQuery)
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
				add(url.QueryEscape(v))
			}
		}
	}
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return redactor{secrets: slices.Compact(s)}
}

// string returns msg with every secret replaced.
func (r redactor) string(msg string) string {
	for _, s := range r.secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

// err returns err, or an error with the same chain whose message has
// every secret replaced.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := r.string(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// redactedError is an error whose message had secrets removed. It still
// unwraps to the original, so that errors.Is keeps working; only its
// message is what gets printed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactURL returns endpoint (a URL or host:port) fit to print: its user
// information and the values of its query are replaced by "REDACTED".
// Use it to print a configured endpoint.
func RedactURL(endpoint string) string {
	if strings.Contains(endpoint, "://") {
		if u, err := url.Parse(endpoint); err == nil {
			return redactURL(u)
		}
	}
	// Not a URL url.Parse reads (host:port, or malformed): cut what may
	// hold credentials, the query and the user information.
	s := endpoint
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?" + redacted
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		scheme := ""
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			scheme = s[:j+3]
		}
		s = scheme + redacted + s[i:]
	}
	return s
}

// redactURL prints u with its user information and query values replaced.
func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(redacted)
	}
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{redacted}
		}
		c.RawQuery = q.Encode()
	}
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// errUnwrapURL replaces the URL of a *url.Error (which net/http prints with
// only its password masked) by shown.
func errUnwrapURL(err error, shown string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: shown, Err: ue.Err}
	}
	return err
}

// redactHeaders returns h with every value replaced, or h when it is empty.
func redactHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return h
	}
	out := make(map[string]string, len(h))
	for k := range h {
		out[k] = redacted
	}
	return out
}

// printRedacted prints f, a copy of a configuration as a type without
// methods (fmt prints it field by field), with the endpoint or URL at url
// and the headers at h REDACTED.
func printRedacted[T any](f T, url *string, h *map[string]string) string {
	*url, *h = shownEndpoint(*url), redactHeaders(*h)
	return fmt.Sprintf("%+v", f)
}

// shownEndpoint is RedactURL, or a placeholder for a value New refuses
// unprinted (errMalformed): most often a header in the wrong place.
func shownEndpoint(ep string) string {
	if _, _, err := parseEndpoint(strings.TrimSpace(ep), true); errors.Is(err, errMalformed) {
		return "NOT-PRINTED(not a URL or host:port)"
	}
	return RedactURL(ep)
}

// String prints c as %+v would, without its secrets: header values and
// the endpoints' user information and query values are REDACTED, so a
// configuration can be logged. fmt's %v and %+v use it; GoString is the
// same for %#v, LogValue for slog (either handler).
func (c Config) String() string {
	type fields Config
	f := fields(c)
	return printRedacted(&f, &f.Endpoint, &f.Headers)[1:] // [1:]: not a pointer's "&"
}

// String is Config.String for one signal's settings.
func (s SignalConfig) String() string {
	type fields SignalConfig
	f := fields(s)
	return printRedacted(&f, &f.Endpoint, &f.Headers)[1:]
}

// String is Config.String for the large-value store's settings.
func (l LargeFieldConfig) String() string {
	type fields LargeFieldConfig
	f := fields(l)
	return printRedacted(&f, &f.URL, &f.Headers)[1:]
}

// LogValue is String for slog, whose JSON handler would marshal every
// field (encoding/json calls no String method).
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// LogValue is String for slog.
func (s SignalConfig) LogValue() slog.Value { return slog.StringValue(s.String()) }

// LogValue is String for slog.
func (l LargeFieldConfig) LogValue() slog.Value { return slog.StringValue(l.String()) }

// GoString is String for %#v.
func (c Config) GoString() string { return "export.Config" + c.String() }

// GoString is String for %#v.
func (s SignalConfig) GoString() string { return "export.SignalConfig" + s.String() }

// GoString is String for %#v.
func (l LargeFieldConfig) GoString() string { return "export.LargeFieldConfig" + l.String() }
