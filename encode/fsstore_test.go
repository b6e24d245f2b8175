package encode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestFSStorePutAndLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // created by NewFSStore
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("value 世界 "), 1000)
	key := "spf00390001@hf17e12ef9c00a4bb202-00112233445566778899aabbccddeeff-answer-1"
	if err := s.Put(context.Background(), key, value); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.Link(key))
	if err != nil || u.Scheme != "file" {
		t.Fatalf("Link = %q: not a file URL (%v)", s.Link(key), err)
	}
	got, err := os.ReadFile(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, value) {
		t.Fatal("file content differs from the value")
	}
	// A second Put of the same key replaces the file whole.
	if err := s.Put(context.Background(), key, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(u.Path); string(got) != "v2" {
		t.Fatalf("after a second Put the file holds %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files in the store, want 1 (no temporary file left)", len(entries))
	}
}

func TestFSStoreLinkBaseURL(t *testing.T) {
	s, err := NewFSStore(t.TempDir(), "https://files.example/trace/")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Link("k-1"); got != "https://files.example/trace/k-1" {
		t.Fatalf("Link = %q", got)
	}
}

func TestFSStoreLinkEscapes(t *testing.T) {
	s, err := NewFSStore(filepath.Join(t.TempDir(), "dir with space#"), "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.Link("k"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.Dir(), "k"); u.Path != want {
		t.Fatalf("link path %q, want %q", u.Path, want)
	}
}

func TestFSStoreInvalidKeys(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", ".", "..", "../escape", "a/b", `a\b`, "a\x00b"} {
		if err := s.Put(context.Background(), key, []byte("x")); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("invalid keys left %d files", len(entries))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
		t.Fatal("a key escaped the store's directory")
	}
}

func TestFSStoreCanceled(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "k", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a canceled Put left %d files", len(entries))
	}
}

func TestFSStoreErrors(t *testing.T) {
	if _, err := NewFSStore("", ""); err == nil {
		t.Error("NewFSStore(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFSStore(file, ""); err == nil {
		t.Error("NewFSStore on a regular file succeeded")
	}
	// A store whose directory disappears reports the failure.
	dir := t.TempDir()
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "k", []byte("x")); err == nil {
		t.Error("Put into a removed directory succeeded")
	}
}

func TestFSStoreConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				key := fmt.Sprintf("k-%d-%d", g, i)
				if err := s.Put(context.Background(), key, []byte(key)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 100 {
		t.Fatalf("%d files, want 100", len(entries))
	}
	for _, e := range entries {
		if got, _ := os.ReadFile(filepath.Join(dir, e.Name())); string(got) != e.Name() {
			t.Fatalf("file %s holds %q", e.Name(), got)
		}
	}
}
