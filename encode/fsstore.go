package encode

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrInvalidKey is returned by FSStore.Put for a key that is not a plain
// file name: empty, ".", "..", or holding a path separator or NUL.
var ErrInvalidKey = errors.New("encode: invalid large field key")

// FSStore is a LargeFieldStore that writes each value to a file named by
// its key in one directory. A file appears whole or not at all: Put writes
// a temporary file and renames it. Put does not fsync: a crash of the
// machine may lose values stored just before it, as it may lose the run
// trace logs that link to them. FSStore is safe for concurrent use.
type FSStore struct {
	dir     string // absolute
	baseURL string
}

// NewFSStore returns an FSStore writing into dir, which it creates if
// needed. Link returns baseURL + key when baseURL is not empty (serve dir
// there, baseURL ending with "/"), else a file:// URL of the file.
func NewFSStore(dir string, baseURL string) (*FSStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("create file store: %w", errors.New("empty directory"))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create file store in %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create file store in %q: %w", dir, err)
	}
	return &FSStore{dir: abs, baseURL: baseURL}, nil
}

// Dir returns the absolute directory s writes into.
func (s *FSStore) Dir() string { return s.dir }

// Link returns where the value of key is readable. It does no I/O.
func (s *FSStore) Link(key string) string {
	if s.baseURL != "" {
		return s.baseURL + key
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.dir, key))}
	return u.String()
}

// Put writes value to the file named key. It checks ctx before it starts
// and before it makes the file visible; file I/O itself cannot be
// interrupted.
func (s *FSStore) Put(ctx context.Context, key string, value []byte) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, "/\\\x00") {
		return fmt.Errorf("store %q: %w", key, ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: %w", key, err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("store %q: %w", key, err)
	}
	tmp := f.Name()
	_, err = f.Write(value)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, key))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store %q: %w", key, err)
	}
	return nil
}
