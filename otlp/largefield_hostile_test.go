package otlp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestDefaultLargeFieldDirPrivate: the default file store holds the runs'
// inputs, outputs and prompts in the host's shared temporary directory.
// It was one directory for every user, made with mode 0755 (its files
// 0644): any local user could read every stored value, and one who made
// the directory first owned them. It is now the user's own
// (flowtel-large-fields-<uid>), made private (0700); one another user
// owns, or a symbolic link, is refused at construction.
func TestDefaultLargeFieldDirPrivate(t *testing.T) {
	rc := otlptest.Start(t, export.ProtocolGRPC, nil)
	newEngine := func() error {
		e, err := New(export.Config{Endpoint: rc.Endpoint()})
		if err == nil {
			err = e.Shutdown(context.Background())
		}
		return err
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := export.DefaultLargeFieldDir()
	if want := filepath.Join(tmp, "flowtel-large-fields-"+strconv.Itoa(os.Getuid())); dir != want {
		t.Fatalf("DefaultLargeFieldDir = %q, want %q", dir, want)
	}
	if err := newEngine(); err != nil {
		t.Fatal(err)
	}
	mode := func() os.FileMode {
		fi, err := os.Lstat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	if m := mode(); !m.IsDir() || m.Perm() != 0o700 {
		t.Fatalf("default directory %s: mode %v, want drwx------", dir, m)
	}
	// One of this user's left readable by an earlier version is made private.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := newEngine(); err != nil {
		t.Fatal(err)
	}
	if m := mode(); m.Perm() != 0o700 {
		t.Fatalf("an existing default directory left %v", m)
	}
	// A symbolic link planted in its place is refused.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), dir); err != nil {
		t.Fatal(err)
	}
	if err := newEngine(); !errors.Is(err, export.ErrInvalidConfig) {
		t.Fatalf("a symbolic link as the default directory: %v", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	// One another user made first is refused (root can make it).
	if os.Getuid() == 0 {
		if err := os.Mkdir(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if err := newEngine(); !errors.Is(err, export.ErrInvalidConfig) {
			t.Fatalf("a default directory of another user: %v", err)
		}
	}
	// An explicit directory is the user's choice: made private when missing.
	explicit := filepath.Join(t.TempDir(), "a", "b")
	e, err := New(export.Config{Endpoint: rc.Endpoint(), LargeFields: export.LargeFieldConfig{Dir: explicit}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(explicit); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("explicit directory: %v, %v", fi.Mode(), err)
	}
}
