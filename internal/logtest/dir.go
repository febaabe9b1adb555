package logtest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// CopyDir copies the regular files under src into a new temporary
// directory and returns it. Taken while a Log (or another store) is open
// and idle, the copy is what a kill -9 at that moment leaves on disk: the
// writes in the page cache are in it. See CopyTree for what it copies.
func CopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := CopyTree(src, dst); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// CopyTree copies the regular files under src (every one: segments,
// indexes, the lock file, files being prepared) into dst, creating the
// directories it needs, as they are at one moment: it reads them all
// until two reads in a row agree, since a store may still be finishing
// background work (preparing or removing a segment) after its call
// returned, and a real kill is instantaneous. A file that vanishes
// meanwhile is left out; a missing src copies nothing (dst is created
// all the same).
func CopyTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	prev, err := readTree(src)
	for attempt := 0; err == nil; attempt++ {
		var cur map[string][]byte
		if cur, err = readTree(src); err != nil {
			break
		}
		if Diff(prev, cur) == "" {
			return writeTree(dst, cur)
		}
		if attempt == 100 {
			return fmt.Errorf("the files in %s keep changing", src)
		}
		prev = cur
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// readTree reads every regular file under dir, by path relative to dir.
// A file that vanishes meanwhile is left out.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[rel] = b
		return err
	})
	return files, err
}

func writeTree(dir string, files map[string][]byte) error {
	for rel, b := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot returns the contents of every regular file under dir, by path
// relative to dir.
func Snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	files, err := readTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Diff describes how the files of snapshot b differ from those of a, by
// name in order ("" when they are the same): which were removed, created
// or changed, and for a change where its first differing byte is.
func Diff(a, b map[string][]byte) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(a)) {
		x, y := a[name], b[name]
		if _, ok := b[name]; !ok {
			out = append(out, name+" removed")
			continue
		}
		if !bytes.Equal(x, y) {
			k := 0
			for k < min(len(x), len(y)) && x[k] == y[k] {
				k++
			}
			out = append(out, fmt.Sprintf("%s changed (first difference at byte %d, %d -> %d bytes)", name, k, len(x), len(y)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[name]; !ok {
			out = append(out, name+" created")
		}
	}
	return strings.Join(out, ", ")
}

// Unchanged reports an error (t.Errorf) when the files under dir differ
// from snapshot before: what names the operation that must not write.
func Unchanged(t testing.TB, what string, before map[string][]byte, dir string) {
	t.Helper()
	if d := Diff(before, Snapshot(t, dir)); d != "" {
		t.Errorf("%s changed the files in %s: %s", what, dir, d)
	}
}

// Names lists the names in dir, sorted.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(des))
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// NamesWithSuffix lists the names in dir that end in suffix, sorted.
func NamesWithSuffix(t testing.TB, dir, suffix string) []string {
	t.Helper()
	var out []string
	for _, name := range Names(t, dir) {
		if strings.HasSuffix(name, suffix) {
			out = append(out, name)
		}
	}
	return out
}

// CheckModes reports an error (t.Errorf) unless dir has the permission
// bits dirMode and every entry in it fileMode; it returns the entries'
// names, sorted.
func CheckModes(t testing.TB, dir string, dirMode, fileMode fs.FileMode) []string {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != dirMode {
		t.Errorf("directory %s: mode %#o, want %#o", dir, st.Mode().Perm(), dirMode)
	}
	names := Names(t, dir)
	for _, name := range names {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != fileMode {
			t.Errorf("%s: mode %#o, want %#o", name, st.Mode().Perm(), fileMode)
		}
	}
	return names
}
