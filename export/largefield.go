package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrLargeFieldStore is wrapped by the errors of HTTPStore.
var ErrLargeFieldStore = errors.New("export: large field store")

// HTTPStore keeps the large values of run trace logs and span events in
// object storage behind a URL (encode.LargeFieldStore): Put sends each
// value with an HTTP PUT to the base URL followed by the value's key, as
// an S3 or GCS bucket, a WebDAV server or a presigned prefix takes it.
// User information in the base URL is sent as HTTP basic authentication
// and its query is kept on every PUT (a presigned or token query), but
// neither is ever printed nor written into a link: Link is the base URL
// without them, followed by the key. Errors name the URL redacted as
// RedactURL does. HTTPStore is safe for concurrent use.
type HTTPStore struct {
	base   *url.URL // what Put sends to, the key appended to its path
	link   string   // the base without user information, query or fragment
	shown  string   // the base redacted, for messages
	client *http.Client
	header http.Header
}

// maxStoreResponseBytes bounds what Put reads of a response body.
const maxStoreResponseBytes = 4 << 10

// NewHTTPStore returns an HTTPStore that PUTs to baseURL (an http:// or
// https:// URL, a "/" added to its path when it has none at the end) with
// header on every request; a header name that is not an HTTP token or a
// value that is not printable ASCII is refused, as in Config.Headers. A
// nil client means one with a 30 s timeout that follows no redirect.
func NewHTTPStore(baseURL string, header http.Header, client *http.Client) (*HTTPStore, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s is not an http:// or https:// URL", ErrLargeFieldStore, RedactURL(baseURL))
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
		u.Path += "/"
		u.RawPath = ""
	}
	u.Fragment, u.RawFragment = "", ""
	link := *u
	link.User, link.RawQuery = nil, ""
	if client == nil {
		client = &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &HTTPStore{base: u, link: link.String(), shown: redactURL(u), client: client, header: header.Clone()}, nil
}

// Link returns where the value of key is readable: the base URL without
// its credentials, followed by key. It does no I/O.
func (s *HTTPStore) Link(key string) string { return s.link + url.PathEscape(key) }

// Put sends value to the base URL followed by key with an HTTP PUT and
// succeeds on a 2xx status.
func (s *HTTPStore) Put(ctx context.Context, key string, value []byte) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, "/\\\x00") {
		return fmt.Errorf("%w: invalid key %q", ErrLargeFieldStore, key)
	}
	u := *s.base
	u.User = nil
	u.Path += key
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("%w: PUT %s%s: %v", ErrLargeFieldStore, s.shown, url.PathEscape(key), errUnwrapURL(err, s.shown))
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	if s.base.User != nil {
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
		return fmt.Errorf("%w: PUT %s%s: status %d", ErrLargeFieldStore, s.shown, url.PathEscape(key), resp.StatusCode)
	}
	return nil
}
