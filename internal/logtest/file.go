package logtest

import (
	"os"
	"testing"
)

// ReadFile returns the contents of the file at path.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile creates (or truncates) the file at path, mode 0600, holding b.
func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteAt overwrites the bytes of the file at path from off with b, with
// a descriptor of its own (pwrite), as a disk would change them under a
// Log that has the file mapped.
func WriteAt(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Flip inverts the bits of mask in the byte at off of the file at path
// (pread and pwrite, as WriteAt). The byte must exist.
func Flip(t testing.TB, path string, off int64, mask byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatalf("flip %s at %d: %v", path, off, err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Zero overwrites n bytes of the file at path from off with zeros.
func Zero(t testing.TB, path string, off, n int64) {
	t.Helper()
	WriteAt(t, path, off, make([]byte, n))
}

// Edit rewrites the file at path in place (same size, same mode) after
// edit changed its bytes.
func Edit(t testing.TB, path string, edit func(b []byte)) {
	t.Helper()
	b := ReadFile(t, path)
	edit(b)
	WriteAt(t, path, 0, b)
}
