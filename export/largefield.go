package export

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// ErrLargeFieldStore is wrapped by the errors of HTTPStore.
var ErrLargeFieldStore = errors.New("export: large field store")

// HTTPStore keeps the large values of run trace logs and span events in
// object storage behind a URL (encode.LargeFieldStore): Put sends each
// value with an HTTP PUT to the base URL followed by the value's key, as
// an S3 or GCS bucket, a WebDAV server or a presigned prefix takes it.
// User information in the base URL is sent as HTTP basic authentication,
// unless the headers hold an Authorization, which wins (as in net/http
// and the exporters), and its query is kept on every PUT (a presigned or
// token query), but neither is ever printed nor written into a link: Link
// is the base URL without them, followed by the key. Errors name the URL redacted as
// RedactURL does. HTTPStore is safe for concurrent use.
type HTTPStore struct {
	base   *url.URL // what Put sends to, the key appended to its path
	link   string   // the base without user information, query or fragment
	shown  string   // the base redacted, for messages
	client *http.Client
	header http.Header
	// owned is whether the client's connections are the store's to
	// close: the client NewHTTPStore made, or one of NewHTTPStoreClient.
	owned bool
}

// maxStoreResponseBytes bounds what Put reads of a response body.
const maxStoreResponseBytes = 4 << 10

// NewHTTPStore returns an HTTPStore that PUTs to baseURL (an http:// or
// https:// URL, a "/" added to its path when it has none at the end) with
// header on every request; a header name that is not an HTTP token or a
// value that is not printable ASCII is refused, as in Config.Headers. A
// nil client means NewHTTPStoreClient(30 * time.Second); a client without
// a CheckRedirect is used as a copy that follows no redirect, as
// NewHTTPStoreClient's. The client NewHTTPStore makes, and one made by
// NewHTTPStoreClient, are the store's: Close closes their idle
// connections (give each store its own). Any other client stays its
// caller's: Close leaves its connections, and http.DefaultTransport's
// for a client with no Transport, alone.
func NewHTTPStore(baseURL string, header http.Header, client *http.Client) (*HTTPStore, error) {
	// A value of no URL's shape, or whose host no host has, may be a
	// header pasted here (api-key=<token>): it is not printed, as an
	// endpoint's is not (checkHost).
	const notPrinted = " (the value is not printed: it may be a misplaced credential)"
	raw := strings.TrimSpace(baseURL)
	u, err := url.Parse(raw)
	if err != nil || !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("%w: not an http:// or https:// URL"+notPrinted, ErrLargeFieldStore)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s is not an http:// or https:// URL", ErrLargeFieldStore, RedactURL(baseURL))
	}
	if err := checkHost(u); err != nil {
		return nil, fmt.Errorf("%w: %w"+notPrinted, ErrLargeFieldStore, err)
	}
	if err := checkPort(u); errors.Is(err, errMalformed) {
		return nil, fmt.Errorf("%w: %w"+notPrinted, ErrLargeFieldStore, err)
	} else if err != nil { // every PUT would fail
		return nil, fmt.Errorf("%w: %s: %w", ErrLargeFieldStore, RedactURL(baseURL), err)
	}
	if err := placeholderURL(u); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLargeFieldStore, RedactURL(baseURL), err)
	}
	// A header net/http would refuse to send would fail every Put: check
	// it here, by the rules of Config.Headers over HTTP.
	for k, vs := range header {
		for _, v := range vs {
			if err := validateHeader(k, v, ProtocolHTTPProtobuf); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrLargeFieldStore, err)
			}
		}
	}
	if !strings.HasSuffix(u.Path, "/") {
		// The path keeps its escapes: "%2F" names another object than "/".
		u.RawPath = u.EscapedPath() + "/"
		u.Path += "/"
	}
	u.Fragment, u.RawFragment = "", ""
	link := *u
	link.User, link.RawQuery, link.ForceQuery = nil, "", false // "...?" put its "?" before the key
	owned := client == nil || isStoreTransport(client.Transport)
	if client == nil {
		client = NewHTTPStoreClient(30 * time.Second)
	} else if client.CheckRedirect == nil {
		// net/http's default would send the PUT again to wherever the
		// store points, with every header but Authorization.
		c := *client
		c.CheckRedirect = refuseRedirect
		client = &c
	}
	return &HTTPStore{base: u, link: link.String(), shown: redactURL(u), client: client, header: header.Clone(), owned: owned}, nil
}

// hasAuthorization reports whether h holds an Authorization header, under
// a key in any case.
func hasAuthorization(h http.Header) bool {
	for k := range h {
		if strings.EqualFold(k, "Authorization") {
			return true
		}
	}
	return false
}

// NewHTTPStoreClient returns a client for an HTTPStore: timeout bounds each
// request, redirects are not followed (a PUT's body is not sent again),
// a response's headers hold at most maxStoreHeaderBytes, and its
// connections are its own, not http.DefaultTransport's: the Close of the
// HTTPStore given it closes them.
func NewHTTPStoreClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = maxStoreHeaderBytes
	markStoreTransport(tr)
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: refuseRedirect,
	}
}

// storeTransports holds, weakly, the transports NewHTTPStoreClient made:
// an HTTPStore given a client of one owns its connections.
var storeTransports sync.Map // weak.Pointer[http.Transport] -> struct{}

// markStoreTransport records tr as NewHTTPStoreClient's until it is
// collected.
func markStoreTransport(tr *http.Transport) {
	k := weak.Make(tr)
	storeTransports.Store(k, struct{}{})
	runtime.AddCleanup(tr, func(k weak.Pointer[http.Transport]) { storeTransports.Delete(k) }, k)
}

// isStoreTransport reports whether rt is a transport NewHTTPStoreClient
// made.
func isStoreTransport(rt http.RoundTripper) bool {
	tr, ok := rt.(*http.Transport)
	if !ok {
		return false
	}
	_, ok = storeTransports.Load(weak.Make(tr))
	return ok
}

// maxStoreHeaderBytes bounds the headers of a store's response, its
// informational ones (1xx) included, and those of an OTLP/HTTP
// endpoint's (newHTTPClient): neither answer needs a large header, and
// net/http's default (10 MiB) let a hostile server make each Put or
// export allocate tens of megabytes.
const maxStoreHeaderBytes = 64 << 10

// refuseRedirect answers a redirect as is: the store's PUT fails with its
// status.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Link returns where the value of key is readable: the base URL without
// its credentials, followed by key. It does no I/O.
func (s *HTTPStore) Link(key string) string { return s.link + url.PathEscape(key) }

// Put sends value to the base URL followed by key with an HTTP PUT and
// succeeds on a 2xx status. The URL's path is Link's, escapes included.
func (s *HTTPStore) Put(ctx context.Context, key string, value []byte) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, "/\\\x00") {
		return fmt.Errorf("%w: invalid key %q", ErrLargeFieldStore, key)
	}
	if s.base == nil {
		return fmt.Errorf("%w: a zero HTTPStore (make it with NewHTTPStore)", ErrLargeFieldStore)
	}
	// The URL's path is the link's, byte for byte: the base's escapes
	// kept ("%2F" is not "/") and the key escaped as Link escapes it.
	u := *s.base
	u.User = nil
	u.RawPath = u.EscapedPath() + url.PathEscape(key)
	u.Path += key
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("%w: PUT %s%s: %v", ErrLargeFieldStore, s.shown, url.PathEscape(key), errUnwrapURL(err, s.shown))
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	if s.base.User != nil && !hasAuthorization(s.header) {
		p, _ := s.base.User.Password()
		req.SetBasicAuth(s.base.User.Username(), p)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: PUT %s%s: %w", ErrLargeFieldStore, s.shown, url.PathEscape(key), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxStoreResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: PUT %s%s: %w", ErrLargeFieldStore, s.shown, url.PathEscape(key), StoreStatusError(resp.StatusCode))
	}
	return nil
}

// Close closes the idle connections of the store's client when they are
// the store's: those of the client NewHTTPStore made, or of one made by
// NewHTTPStoreClient. A caller's other client is the caller's: its
// connections, and those of http.DefaultTransport (shared by the whole
// process) for a client with no Transport, are left alone. Puts may
// still be made after it (they open new connections).
func (s *HTTPStore) Close() error {
	if s.client == nil || !s.owned {
		return nil // the zero HTTPStore, or a caller's client
	}
	s.client.CloseIdleConnections()
	return nil
}

// StoreStatusError is the status of a PUT the store answered with a status
// other than 2xx: the store refused the value (encode.PutRefused).
type StoreStatusError int

func (e StoreStatusError) Error() string { return "status " + strconv.Itoa(int(e)) }

// StatusCode returns the HTTP status.
func (e StoreStatusError) StatusCode() int { return int(e) }

// LargeFieldConfig chooses where otlp.New offloads the large values of run
// trace logs (5088 bytes or more, the original's limit) and INFO and
// ERROR span events (10 KiB or more): a bounded file store in a directory, or object storage
// behind a URL (HTTPStore). The zero value is the default: a file store in
// DefaultLargeFieldDir() holding at most DefaultLargeFieldMaxBytes in
// DefaultLargeFieldMaxFiles files. Zero fields take their defaults; a
// field out of its range is refused by Validate (and otlp.New), naming it.
//
// Why a file store by default: the original always moved such values out
// of its trace log (to object storage), and its consumers expect a link,
// not a value of megabytes in a Kafka message or an OTLP request that a
// receiver refuses whole (gRPC's 4 MiB). A directory is the one store
// every host has. It is bounded, since an unattended default must not fill
// a disk: past its budget a value is cut to the threshold with the
// truncation marker and counted (flowtel_offload_values_total{result=
// "truncated_store_full"}), never dropped silently; its links are file://
// URLs, readable on that host. Disabled keeps values inline, bounded only
// by engine.Limits.ValueBytes.
type LargeFieldConfig struct {
	// Disabled turns offloading off (FLOWTEL_LARGE_FIELDS_DISABLED).
	Disabled bool
	// Dir is the file store's directory (FLOWTEL_LARGE_FIELDS_DIR),
	// created if needed; empty means DefaultLargeFieldDir() unless URL is
	// set.
	Dir string
	// URL is the base URL of an HTTPStore (FLOWTEL_LARGE_FIELDS_URL):
	// each value is PUT to URL + key, and its link is that URL without
	// credentials or query. At most one of Dir and URL.
	URL string
	// Headers are sent with every PUT to URL
	// (FLOWTEL_LARGE_FIELDS_HEADERS, as OTEL_EXPORTER_OTLP_HEADERS);
	// never printed.
	Headers map[string]string
	// MaxBytes and MaxFiles bound the file store, what the directory
	// held when the engine was made included
	// (FLOWTEL_LARGE_FIELDS_MAX_BYTES, _MAX_FILES): MaxBytes from 64 KiB
	// to 1 PiB, MaxFiles from 1 to 2^30.
	MaxBytes int64
	MaxFiles int
	// Timeout bounds each store (FLOWTEL_LARGE_FIELDS_TIMEOUT, in
	// milliseconds): up to MaxDuration, default DefaultLargeFieldTimeout.
	Timeout time.Duration
	// Concurrency is the number of stores under way at once
	// (FLOWTEL_LARGE_FIELDS_CONCURRENCY): 1 to MaxConcurrency, default
	// DefaultLargeFieldConcurrency.
	Concurrency int
	// QueueBytes bounds the values waiting to be stored
	// (FLOWTEL_LARGE_FIELDS_QUEUE_BYTES): 64 KiB to 1 GiB, default
	// DefaultLargeFieldQueueBytes. A value that does not fit is cut and
	// counted (truncated_queue_full); the run is never held back.
	QueueBytes int64
}

// LargeFieldConfig defaults and bounds.
const (
	DefaultLargeFieldMaxBytes    = 256 << 20
	DefaultLargeFieldMaxFiles    = 1 << 16
	DefaultLargeFieldTimeout     = 10 * time.Second
	DefaultLargeFieldConcurrency = 2
	DefaultLargeFieldQueueBytes  = 64 << 20

	// MinLargeFieldQueueBytes is the least QueueBytes (and MaxBytes).
	MinLargeFieldQueueBytes = 64 << 10

	minLargeFieldBytes    = MinLargeFieldQueueBytes
	maxLargeFieldMaxBytes = 1 << 50
	maxLargeFieldMaxFiles = 1 << 30
	maxLargeFieldQueue    = 1 << 30
)

// DefaultLargeFieldDir returns the file store's directory when neither Dir
// nor URL is set: flowtel-large-fields-<uid> in os.TempDir() ($TMPDIR,
// else /tmp), shared by the processes of one user on the host (keys are
// unique per run). Each process counts against its budget what the
// directory held when it started and what it wrote since: processes
// started together may write up to one budget each.
//
// The values are the runs' inputs, outputs, prompts and answers, and a
// temporary directory is shared by every user of the host: otlp.New keeps
// this directory private to its user (mode 0700) and refuses one that
// another user made, or a symbolic link, since whoever owns it could read
// or replace every value. Without a user id (Windows) it is
// flowtel-large-fields.
func DefaultLargeFieldDir() string {
	name := "flowtel-large-fields"
	if uid := os.Getuid(); uid >= 0 {
		name += "-" + strconv.Itoa(uid)
	}
	return filepath.Join(os.TempDir(), name)
}

// largeFieldVars names the variable of each LargeFieldConfig field.
var largeFieldVars = map[string]string{
	"Disabled": "FLOWTEL_LARGE_FIELDS_DISABLED", "Dir": "FLOWTEL_LARGE_FIELDS_DIR", "URL": "FLOWTEL_LARGE_FIELDS_URL",
	"Headers": "FLOWTEL_LARGE_FIELDS_HEADERS", "MaxBytes": "FLOWTEL_LARGE_FIELDS_MAX_BYTES", "MaxFiles": "FLOWTEL_LARGE_FIELDS_MAX_FILES",
	"Timeout": "FLOWTEL_LARGE_FIELDS_TIMEOUT", "Concurrency": "FLOWTEL_LARGE_FIELDS_CONCURRENCY", "QueueBytes": "FLOWTEL_LARGE_FIELDS_QUEUE_BYTES",
}

// Validate refuses a LargeFieldConfig that would fail later: a field out
// of its range, a URL that is not http:// or https://, a header HTTP
// would refuse, settings of one store given with the other, or Disabled
// with a store. The error wraps ErrInvalidConfig and names the field
// (LargeFields.MaxBytes), never a credential.
func (c *LargeFieldConfig) Validate() error {
	if field, why := c.check(); field != "" {
		return fmt.Errorf("%w: LargeFields.%s %s", ErrInvalidConfig, field, why)
	}
	return nil
}

// check returns the first invalid field and why, or "".
func (c *LargeFieldConfig) check() (field, why string) {
	switch {
	case c.Disabled && (c.Dir != "" || c.URL != ""):
		return "Disabled", "is set with a store (a directory or a URL): choose one"
	case c.Dir != "" && c.URL != "":
		return "URL", "is set with a directory: choose one store"
	case c.MaxBytes != 0 && (c.MaxBytes < minLargeFieldBytes || c.MaxBytes > maxLargeFieldMaxBytes):
		return "MaxBytes", fmt.Sprintf("is %d, want 0 (the default) or %d to %d", c.MaxBytes, minLargeFieldBytes, int64(maxLargeFieldMaxBytes))
	case c.MaxFiles < 0 || c.MaxFiles > maxLargeFieldMaxFiles:
		return "MaxFiles", fmt.Sprintf("is %d, want 0 (the default) or 1 to %d", c.MaxFiles, maxLargeFieldMaxFiles)
	case c.Timeout < 0 || c.Timeout > MaxDuration:
		return "Timeout", fmt.Sprintf("is %v, want 0 (the default) to %v", c.Timeout, MaxDuration)
	case c.Concurrency < 0 || c.Concurrency > MaxConcurrency:
		return "Concurrency", fmt.Sprintf("is %d, want 0 (the default) or 1 to %d", c.Concurrency, MaxConcurrency)
	case c.QueueBytes != 0 && (c.QueueBytes < minLargeFieldBytes || c.QueueBytes > maxLargeFieldQueue):
		return "QueueBytes", fmt.Sprintf("is %d, want 0 (the default) or %d to %d", c.QueueBytes, minLargeFieldBytes, maxLargeFieldQueue)
	case c.URL != "" && c.MaxBytes != 0:
		return "MaxBytes", "bounds the file store, not the URL's object storage"
	case c.URL != "" && c.MaxFiles != 0:
		return "MaxFiles", "bounds the file store, not the URL's object storage"
	case c.URL == "" && len(c.Headers) != 0:
		return "Headers", "are sent to a URL only, and none is set"
	}
	if c.URL != "" {
		h := make(http.Header, len(c.Headers))
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		if _, err := NewHTTPStore(c.URL, h, nil); err != nil {
			if errors.Is(err, ErrInvalidHeader) {
				return "Headers", strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrLargeFieldStore.Error()+": "), "export: ")
			}
			return "URL", strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrLargeFieldStore.Error()+": "), "export: ")
		}
	}
	return "", ""
}

// WithDefaults returns c with the defaults filled in: Dir is DefaultLargeFieldDir() when
// neither Dir nor URL is set, and every zero bound its default.
func (c LargeFieldConfig) WithDefaults() LargeFieldConfig {
	if c.Disabled {
		return c
	}
	if c.Dir == "" && c.URL == "" {
		c.Dir = DefaultLargeFieldDir()
	}
	if c.Dir != "" {
		c.MaxBytes = cmp.Or(c.MaxBytes, DefaultLargeFieldMaxBytes)
		c.MaxFiles = cmp.Or(c.MaxFiles, DefaultLargeFieldMaxFiles)
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultLargeFieldTimeout)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultLargeFieldConcurrency)
	c.QueueBytes = cmp.Or(c.QueueBytes, DefaultLargeFieldQueueBytes)
	return c
}
