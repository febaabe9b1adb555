package crashfs

import "unsafe"

// racyCopy copies src into dst without the race detector seeing it (the
// copy builtin reports its accesses from inside the runtime, so this is a
// plain loop). A snapshot reads every mapping at one instant, like a power
// loss: bytes another goroutine is writing at that instant are half-written
// on disk too, and the image treats them as unsynced.
//
//go:norace
//go:nocheckptr
func racyCopy(dst, src []byte) int {
	n := min(len(dst), len(src))
	i := 0
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Pointer(&dst[i])) = *(*uint64)(unsafe.Pointer(&src[i]))
	}
	for ; i < n; i++ {
		dst[i] = src[i]
	}
	return n
}

// racyClone returns a copy of b made with racyCopy. Bulk copies inside
// the simulator use it even where no other goroutine can be writing: the
// race detector's cost for copy is proportional to the bytes copied, and
// the simulator copies whole files for every image.
func racyClone(b []byte) []byte {
	c := make([]byte, len(b))
	racyCopy(c, b)
	return c
}

// racyEqual is bytes.Equal for snapshot copies (see racyClone).
//
//go:norace
//go:nocheckptr
func racyEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for ; i+8 <= len(a); i += 8 {
		if *(*uint64)(unsafe.Pointer(&a[i])) != *(*uint64)(unsafe.Pointer(&b[i])) {
			return false
		}
	}
	for ; i < len(a); i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// racyZero zeroes b without the race detector seeing it (see racyCopy):
// like fallocate(ZERO_RANGE), not a memory access of the caller's.
//
//go:norace
//go:nocheckptr
func racyZero(b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		*(*uint64)(unsafe.Pointer(&b[i])) = 0
	}
	for ; i < len(b); i++ {
		b[i] = 0
	}
}

// racyAllZero reports whether b holds only zeros, without the race
// detector seeing the reads (see racyCopy).
//
//go:norace
//go:nocheckptr
func racyAllZero(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if *(*uint64)(unsafe.Pointer(&b[i])) != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return false
		}
	}
	return true
}
