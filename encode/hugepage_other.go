//go:build !linux

package encode

// adviseHugePages does nothing but on Linux: see hugepage_linux.go.
func adviseHugePages([]byte) {}
