package otlp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/flowtel/flowtel/export"
)

// privateLargeFieldDir makes dir, the file store's directory, for the
// values of runs (their inputs, outputs, prompts and answers): a missing
// one is created private to this user (mode 0700). The default directory
// is in the host's shared temporary directory, where another user could
// have made it first: unless it is a directory (not a symbolic link) of
// this user's, it is refused, and one this user made readable by others
// (before the directory became private) is made private. An explicit
// directory that exists is the user's choice and left as it is (it may be
// served at a base URL).
func privateLargeFieldDir(dir string, isDefault bool) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		err = os.MkdirAll(dir, 0o700) // its parents too
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if !isDefault {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: LargeFields.Dir: the default directory %s is not a directory (%v): set LargeFields.Dir (FLOWTEL_LARGE_FIELDS_DIR)", export.ErrInvalidConfig, dir, fi.Mode().Type())
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%w: LargeFields.Dir: the default directory %s belongs to user %d, who could read every value stored there: set LargeFields.Dir (FLOWTEL_LARGE_FIELDS_DIR)", export.ErrInvalidConfig, dir, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
