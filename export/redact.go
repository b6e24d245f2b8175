package export

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
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

// err returns err, or, when its message holds a secret, an error with
// that message redacted whose chain is err's chain redacted the same way.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.string(msg)
	if clean == msg {
		return err
	}
	if _, ok := err.(interface{ Unwrap() []error }); ok {
		return &redactedErrors{redactedError{msg: clean, err: err, r: r}}
	}
	return &redactedError{msg: clean, err: err, r: r}
}

// redactedError is an error whose message had secrets removed. Its chain
// is the original's, each error in it redacted too (redactor.err), so
// that a caller walking it (errors.Unwrap, an error reporter listing the
// causes) finds the messages without the secrets: an error's message
// holds those of the errors it wraps, and the original's Unwrap gave the
// message just redacted back in clear. errors.Is still finds what the
// original wraps; errors.As finds the errors of the chain whose messages
// hold no secret.
type redactedError struct {
	msg string
	err error
	r   redactor
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap returns what the original wraps, redacted.
func (e *redactedError) Unwrap() error { return e.r.err(errors.Unwrap(e.err)) }

// Is reports whether the original is target, or says it is.
func (e *redactedError) Is(target error) bool {
	if t := reflect.TypeOf(target); t != nil && t == reflect.TypeOf(e.err) && t.Comparable() && e.err == target {
		return true
	}
	x, ok := e.err.(interface{ Is(error) bool })
	return ok && x.Is(target)
}

// redactedErrors is a redactedError of an error that wraps several
// (errors.Join, fmt.Errorf with several %w).
type redactedErrors struct{ redactedError }

// Unwrap returns what the original wraps, each redacted.
func (e *redactedErrors) Unwrap() []error {
	errs := e.err.(interface{ Unwrap() []error }).Unwrap()
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		if err != nil {
			out = append(out, e.r.err(err))
		}
	}
	return out
}

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
// A query member without "=" ("?<token>") is a value without a name: the
// whole query is replaced then (an empty member, "a=1&&b=2", is none). So is what comes before the last '@' of
// a path or opaque part: user information url.Parse did not take as such,
// in a value refused for that ("http://http://user:pass@host", a scheme
// given twice, puts it in the path).
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
		for _, m := range strings.Split(u.RawQuery, "&") {
			if m != "" && !strings.Contains(m, "=") {
				c.RawQuery = redacted
				break
			}
		}
	}
	// Only where a path holds an authority (its host empty, or the path
	// starting "//"): an '@' in an ordinary path is no credential's end
	// (https://host/tenants/user@example.com/v1/traces), and was printed
	// REDACTED, the path the user debugs lost.
	if i := strings.LastIndexByte(c.Path, '@'); i >= 0 && (c.Host == "" || strings.HasPrefix(c.Path, "//")) {
		c.Path, c.RawPath = "/"+redacted+c.Path[i:], ""
	}
	if i := strings.LastIndexByte(c.Opaque, '@'); i >= 0 {
		c.Opaque = redacted + c.Opaque[i:]
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

// redactFields replaces, in a copy of a configuration, the endpoint or
// URL at ep, the header values at h, and the TLS files' settings that
// hold PEM data rather than a path (pemData: a key pasted there). It is
// the one redaction of
// Config, SignalConfig and LargeFieldConfig, whichever way they are
// printed (String, GoString, Format, LogValue) or marshalled
// (MarshalJSON); a Config's signals and large-value store redact
// themselves, through their own methods, as fmt and encoding/json call
// them.
func redactFields(ep *string, h *map[string]string, files ...*string) {
	*ep, *h = shownEndpoint(*ep), redactHeaders(*h)
	for _, f := range files {
		if pemData(*f) {
			*f = "NOT-PRINTED(PEM data, not a path)"
		}
	}
}

// The configurations as types without methods, which fmt and
// encoding/json print field by field: what String and MarshalJSON print
// is one of them with its secrets replaced by redactFields.
type (
	configFields     Config
	signalFields     SignalConfig
	largeFieldFields LargeFieldConfig
)

func (c Config) redacted() configFields {
	f := configFields(c)
	redactFields(&f.Endpoint, &f.Headers, &f.CAFile, &f.CertFile, &f.KeyFile)
	return f
}

func (s SignalConfig) redacted() signalFields {
	f := signalFields(s)
	redactFields(&f.Endpoint, &f.Headers, &f.CAFile, &f.CertFile, &f.KeyFile)
	return f
}

func (l LargeFieldConfig) redacted() largeFieldFields {
	f := largeFieldFields(l)
	redactFields(&f.URL, &f.Headers)
	return f
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
// configuration can be logged. Format prints it for every fmt verb but
// %#v (GoString), LogValue for slog's handlers, MarshalJSON for
// encoding/json.
func (c Config) String() string { return fmt.Sprintf("%+v", c.redacted()) }

// String is Config.String for one signal's settings.
func (s SignalConfig) String() string { return fmt.Sprintf("%+v", s.redacted()) }

// String is Config.String for the large-value store's settings.
func (l LargeFieldConfig) String() string { return fmt.Sprintf("%+v", l.redacted()) }

// LogValue is String for slog: its JSON handler would marshal the
// configuration into an object, its text handler print it with %+v.
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

// Format prints String for every verb (GoString for %#v), as fmt prints
// a string for %s, %q, %x and %X and as %s for any other verb, flags,
// width and precision included: without it, a verb that takes no
// Stringer (%d, %t, %e...) made fmt print every field, header values and
// credentials in clear.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// Format is Config.Format for one signal's settings.
func (s SignalConfig) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s) }

// Format is Config.Format for the large-value store's settings.
func (l LargeFieldConfig) Format(f fmt.State, verb rune) { formatRedacted(f, verb, l) }

func formatRedacted(f fmt.State, verb rune, v interface {
	String() string
	GoString() string
}) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, v.GoString())
		return
	}
	switch verb {
	case 's', 'q', 'x', 'X':
	default:
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), v.String())
}

// MarshalJSON marshals c as encoding/json marshals its fields, with the
// secrets String hides REDACTED, so that a configuration can be logged as
// JSON; the functions ErrorHandler and Release, which encoding/json
// refuses, are left out. It is for logs: the JSON of a configuration does
// not give it back, its secrets are gone, and New (Validate for the
// large-value store) refuses a configuration read back from it, whose
// secrets are the placeholder "REDACTED", naming the setting.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		configFields
		// These shadow the functions of configFields, and are never
		// marshalled.
		ErrorHandler struct{} `json:",omitzero"`
		Release      struct{} `json:",omitzero"`
	}{configFields: c.redacted()})
}

// MarshalJSON is Config.MarshalJSON for one signal's settings.
func (s SignalConfig) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// MarshalJSON is Config.MarshalJSON for the large-value store's settings.
func (l LargeFieldConfig) MarshalJSON() ([]byte, error) { return json.Marshal(l.redacted()) }
