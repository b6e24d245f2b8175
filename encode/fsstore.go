package encode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrInvalidKey is returned by FSStore.Put for a key that is not a plain
// file name: empty, ".", "..", longer than maxKeyLen, holding a path
// separator or NUL, starting with ".tmp-", the name of a Put's temporary
// file, or with '-', which the operator's rm, ls or find would read as an
// option.
var ErrInvalidKey = errors.New("encode: invalid large field key")

// maxKeyLen is the longest file name Linux, macOS and Windows file
// systems take (NAME_MAX), in bytes.
const maxKeyLen = 255

// tmpPrefix starts the name of a Put's temporary file. A key may not
// start with it: its file would be taken for an interrupted Put's (by a
// cleaner that removes them), and could be renamed over the temporary
// file of a concurrent Put, which would then store this value under its
// own key.
const tmpPrefix = ".tmp-"

// errZeroFSStore is what the zero FSStore's Put returns: it has no
// directory, and would write into the working directory.
var errZeroFSStore = errors.New("encode: a zero FSStore has no directory (make it with NewFSStore)")

// FSStore is a LargeFieldStore that writes each value to a file named by
// its key in one directory. A file appears whole or not at all: Put writes
// a temporary file and renames it. Put does not fsync: a crash of the
// machine may lose values stored just before it, as it may lose the run
// trace logs that link to them. A file is made with mode 0644 less the
// process's umask, as os.WriteFile makes one. FSStore is safe for
// concurrent use.
//
// A store made by NewBoundedFSStore has a budget of bytes and files (a
// BoundedStore): the Offloader cuts a value that does not fit, counted as
// OffloadStats.StoreFull, so the directory never grows past the budget.
// The store never deletes a file (a trace log may link to it): remove old
// files yourself (a cron job, a tmpfiles.d age), the ".tmp-" files of
// Puts a crash interrupted among them. Their room comes back without a
// restart: when a value does not fit, the store counts the directory
// again, on a goroutine of its own and at most once every ten seconds
// (a count of 65,536 files stats each of them), and the values after that
// count fit in what it found. Close waits for a count under way; the
// Offloader calls it when it closes.
type FSStore struct {
	dir     string // absolute
	baseURL string

	// The budget, when maxBytes > 0. used is what the directory held at
	// the last count plus what Puts stored since; pending is what Reserve
	// took for values not yet stored nor released. A count replaces used
	// by what it found plus what Puts stored while it ran (a file it also
	// saw is counted twice until the next count: never too little).
	mu                  sync.Mutex
	maxBytes, usedBytes int64
	maxFiles, usedFiles int
	pendBytes           int64
	pendFiles           int
	counting            bool // a count of the directory is under way
	sinceBytes          int64
	sinceFiles          int       // what Puts stored during the count
	lastCount           time.Time // when the last count began
	rescanEvery         time.Duration
	countDone           chan struct{} // closed when the count under way ends
}

// rescanEvery is how often, at most, a full bounded store counts its
// directory again.
const rescanEvery = 10 * time.Second

// NewFSStore returns an FSStore writing into dir, which it creates if
// needed; a directory it cannot create a file in is refused. Link returns baseURL + key when baseURL is not empty (serve dir
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
	// A directory it cannot write into (a read-only mount, another user's)
	// would fail every Put, each counted long after start: refuse it now.
	f, err := createTemp(abs)
	if err != nil {
		return nil, fmt.Errorf("create file store in %q: the directory is not writable: %w", dir, err)
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
	return &FSStore{dir: abs, baseURL: baseURL}, nil
}

// NewBoundedFSStore returns an FSStore as NewFSStore does, with a budget:
// at most maxBytes bytes (at least 1) in at most maxFiles files (at least
// 1) in dir, what dir already holds included: its regular files are
// counted once, here, the temporary files that interrupted Puts left
// behind among them (Put removes its own when it fails, but not when the
// process dies under it: a process killed again and again while storing
// would fill the disk with them).
func NewBoundedFSStore(dir, baseURL string, maxBytes int64, maxFiles int) (*FSStore, error) {
	if maxBytes < 1 || maxFiles < 1 {
		return nil, fmt.Errorf("create file store in %q: a budget of %d bytes in %d files holds nothing", dir, maxBytes, maxFiles)
	}
	s, err := NewFSStore(dir, baseURL)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("create file store in %q: %w", dir, err)
	}
	s.maxBytes, s.maxFiles = maxBytes, maxFiles
	s.usedBytes, s.usedFiles = countDir(entries)
	s.lastCount, s.rescanEvery = time.Now(), rescanEvery
	return s, nil
}

// countDir sums the sizes of the regular files among entries.
func countDir(entries []os.DirEntry) (bytes int64, files int) {
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil {
			bytes += info.Size()
			files++
		}
	}
	return bytes, files
}

// Reserve takes n bytes and one file out of the budget and reports whether
// they fit; a store without a budget always has room. When they do not,
// it starts a count of the directory (see FSStore) if none ran in the
// last rescanEvery; it does no I/O itself.
func (s *FSStore) Reserve(n int) bool {
	if s.maxBytes == 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usedFiles+s.pendFiles+1 > s.maxFiles || s.usedBytes+s.pendBytes+int64(n) > s.maxBytes {
		if now := time.Now(); !s.counting && now.Sub(s.lastCount) >= s.rescanEvery {
			s.counting, s.lastCount = true, now
			s.sinceBytes, s.sinceFiles = 0, 0
			s.countDone = make(chan struct{})
			go s.recount(s.countDone)
		}
		return false
	}
	s.pendBytes += int64(n)
	s.pendFiles++
	return true
}

// recount counts the directory again, for files removed from outside.
// Its reads of the directory, a stat per file (up to maxFiles), are made
// before it takes the store's lock: Reserve and Release wait for the lock,
// not for the count.
func (s *FSStore) recount(done chan struct{}) {
	entries, err := os.ReadDir(s.dir)
	var b int64
	var f int
	if err == nil {
		b, f = countDir(entries)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(done)
	s.counting = false
	if err != nil {
		return // the directory is gone: Puts fail and release their room
	}
	s.usedBytes, s.usedFiles = b+s.sinceBytes, f+s.sinceFiles
}

// Close waits for a count of the directory under way, so that no
// goroutine of the store outlives its user (the Offloader calls Close when
// it closes; a goleak check after it finds none). The store stays usable:
// a store shared by several Offloaders is closed by each, and a later full
// Reserve may count again.
func (s *FSStore) Close() error {
	s.mu.Lock()
	done := s.countDone
	s.mu.Unlock()
	if done != nil {
		<-done
	}
	return nil
}

// Release gives back what Reserve took for a value that was not stored.
// What is reserved never goes below zero: a Put without Reserve took its
// room out of it (stored), and a negative count would leave the budget
// counting less than the directory holds for good.
func (s *FSStore) Release(n int) {
	if s.maxBytes == 0 {
		return
	}
	s.mu.Lock()
	s.unpend(n)
	s.mu.Unlock()
}

// unpend takes a value of n bytes out of what is reserved, never below
// zero (see Release). The caller holds s.mu.
func (s *FSStore) unpend(n int) {
	s.pendBytes = max(0, s.pendBytes-int64(n))
	s.pendFiles = max(0, s.pendFiles-1)
}

// stored moves a value of n bytes from pending to used. A Put on a bounded
// store without Reserve counts in used all the same.
func (s *FSStore) stored(n int) {
	if s.maxBytes == 0 {
		return
	}
	s.mu.Lock()
	s.unpend(n)
	s.usedBytes += int64(n)
	s.usedFiles++
	if s.counting {
		s.sinceBytes += int64(n)
		s.sinceFiles++
	}
	s.mu.Unlock()
}

// Used returns the bytes and files the budget counts (zero without one):
// what the directory held at the last count, what was stored since and
// what is reserved.
func (s *FSStore) Used() (bytes int64, files int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usedBytes + s.pendBytes, s.usedFiles + s.pendFiles
}

// Dir returns the absolute directory s writes into.
func (s *FSStore) Dir() string { return s.dir }

// Link returns where the value of key is readable. It does no I/O. Under
// a base URL the key is path-escaped, so that a key holding '%', '?' or
// '#' names its own file rather than another path, a query or a fragment.
func (s *FSStore) Link(key string) string {
	if s.baseURL != "" {
		return s.baseURL + url.PathEscape(key)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.dir, key))}
	return u.String()
}

// Put writes value to the file named key. It checks ctx before it starts
// and before it makes the file visible; file I/O itself cannot be
// interrupted.
func (s *FSStore) Put(ctx context.Context, key string, value []byte) error {
	// Checked first: a name too long failed at the rename, after the
	// whole value was written.
	if key == "" || key == "." || key == ".." || len(key) > maxKeyLen || key[0] == '-' ||
		strings.ContainsAny(key, "/\\\x00") || strings.HasPrefix(key, tmpPrefix) {
		return fmt.Errorf("store %q: %w", key, ErrInvalidKey)
	}
	if s.dir == "" {
		return fmt.Errorf("store %q: %w", key, errZeroFSStore)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %q: %w", key, err)
	}
	f, err := createTemp(s.dir)
	if err != nil {
		return fmt.Errorf("store %q: %w", key, err)
	}
	tmp := f.Name()
	_, err = f.Write(value)
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
	s.stored(len(value))
	return nil
}

// createTemp creates a new temporary file in dir, named tmpPrefix and a
// random suffix, with mode 0644 less the process's umask, as os.WriteFile
// makes a file: os.CreateTemp makes it 0600, and a chmod to 0644 made the
// values (prompts, answers) readable by every user of the host whatever
// the umask (a service run with UMask=0077) asked for.
func createTemp(dir string) (*os.File, error) {
	for range 1000 {
		name := filepath.Join(dir, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: 1000 names taken", dir)
}
