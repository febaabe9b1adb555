package checksum

import (
	"fmt"
	"hash/crc32"
	"testing"

	kcrc "github.com/klauspost/crc32"
)

func TestSumMatchesStdlib(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64, 4096, 100_000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*31 + 7)
		}
		want := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
		if got := Sum(p); got != want {
			t.Fatalf("n=%d: Sum=%08x, stdlib=%08x", n, got, want)
		}
		if got := Update(Update(0, p[:n/2]), p[n/2:]); got != want {
			t.Fatalf("n=%d: split Update=%08x, want %08x", n, got, want)
		}
	}
}

// BenchmarkCRC compares IEEE and Castagnoli on record-sized inputs; see
// the package comment for the figures behind the choice.
func BenchmarkCRC(b *testing.B) {
	ieee := kcrc.MakeTable(kcrc.IEEE)
	cast := kcrc.MakeTable(kcrc.Castagnoli)
	for _, size := range []int{64, 256, 1024, 4096} {
		p := make([]byte, size)
		for _, tc := range []struct {
			name string
			tab  *kcrc.Table
		}{{"ieee", ieee}, {"castagnoli", cast}} {
			b.Run(fmt.Sprintf("poly=%s/size=%d", tc.name, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					kcrc.Update(0, tc.tab, p)
				}
			})
		}
	}
}
