package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// copyDir copies the regular files under src into dst (which exists) as
// they are at one moment: it reads them all until two reads in a row
// agree (a store may still be finishing background work, such as a
// rotation, after its call returned; a real kill is instantaneous).
func copyDir(src, dst string) error {
	prev, err := readTree(src)
	for attempt := 0; err == nil; attempt++ {
		var cur map[string][]byte
		if cur, err = readTree(src); err != nil {
			break
		}
		if sameTree(prev, cur) {
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

// readTree reads every regular file under dir, by relative path. A file
// that vanishes meanwhile (a store deleting a purged segment) is left out.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
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

func sameTree(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
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
