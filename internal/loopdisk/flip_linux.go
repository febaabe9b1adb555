//go:build linux

package loopdisk

import "os"

// Corrupt changes byte off of the file at path (on d) to f of it on the
// disk only: in the image, below the file system and its page cache, as
// a medium that flips a bit under a cached page does. The file's bytes at
// off must be written and synced (they have a block of their own). Pages
// of the file the cache holds keep the old byte until they are evicted.
func (d *Disk) Corrupt(path string, off int64, f func(byte) byte) {
	d.tb.Helper()
	exts, err := extents(path)
	if err != nil {
		d.tb.Fatal(err)
	}
	for _, e := range exts {
		if uint64(off) < e.logical || uint64(off) >= e.logical+e.length {
			continue
		}
		img, err := os.OpenFile(d.image, os.O_RDWR, 0)
		if err != nil {
			d.tb.Fatal(err)
		}
		defer img.Close()
		at := int64(e.physical + uint64(off) - e.logical)
		b := make([]byte, 1)
		if _, err := img.ReadAt(b, at); err != nil {
			d.tb.Fatal(err)
		}
		b[0] = f(b[0])
		if _, err := img.WriteAt(b, at); err != nil {
			d.tb.Fatal(err)
		}
		if err := img.Sync(); err != nil {
			d.tb.Fatal(err)
		}
		return
	}
	d.tb.Fatalf("loopdisk: %s has no block at offset %d", path, off)
}
