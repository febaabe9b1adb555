package hashiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Payload format of one raft.Log, stored as the payload of one mmaplog entry.
//
// The entry's mmaplog.LogID carries Index and Term, so the payload does not
// repeat them. Integers are varints (encoding/binary): "uvarint" unsigned,
// "varint" zig-zag signed.
//
//	+---------+--------+--------+------------------------+---------------+----------+
//	| version | type   | flags  | extensions             | appended at   | data     |
//	| 1 byte  | 1 byte | 1 byte | if flagExtensions:     | if flagTime:  | to end   |
//	|         |        |        | uvarint length + bytes | see below     | of entry |
//	+---------+--------+--------+------------------------+---------------+----------+
//
// Appended at, when flagTime is set: varint Unix seconds, uvarint nanoseconds
// within the second, then, unless flagTimeUTC is set, varint zone offset in
// seconds east of UTC.
//
// A Log with no Extensions and a zero AppendedAt costs 3 bytes on top of its
// Data; a typical leader-stamped one about 14.
//
// These values are part of the on-disk format and must not be changed. A new
// layout gets a new version byte; decoders keep reading the old ones.
const (
	payloadV1 = 1 // version byte of the layout above

	flagDataNil     = 1 << 0 // Data is nil (otherwise non-nil, possibly empty)
	flagExtensions  = 1 << 1 // Extensions is non-nil; its length and bytes follow
	flagTime        = 1 << 2 // AppendedAt is not the zero time
	flagTimeUTC     = 1 << 3 // AppendedAt is in UTC; no zone offset follows
	knownFlags      = flagDataNil | flagExtensions | flagTime | flagTimeUTC
	payloadHeader   = 3                                       // version, type, flags
	maxPayloadExtra = payloadHeader + binary.MaxVarintLen64*4 // header + lengths + time
)

// errBadPayload reports an entry payload that does not decode.
var errBadPayload = errors.New("hashiraft: bad log payload")

// encodedSizeBound returns an upper bound of the encoded size of l.
func encodedSizeBound(l *raft.Log) int {
	return maxPayloadExtra + len(l.Extensions) + len(l.Data)
}

// appendLog appends the payload encoding of l (without Index and Term) to dst.
func appendLog(dst []byte, l *raft.Log) []byte {
	var flags byte
	if l.Data == nil {
		flags |= flagDataNil
	}
	if l.Extensions != nil {
		flags |= flagExtensions
	}
	t := l.AppendedAt
	var offset int
	if !t.IsZero() {
		flags |= flagTime
		if t.Location() == time.UTC {
			flags |= flagTimeUTC
		} else {
			_, offset = t.Zone()
		}
	}
	dst = append(dst, payloadV1, byte(l.Type), flags)
	if flags&flagExtensions != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
		dst = append(dst, l.Extensions...)
	}
	if flags&flagTime != 0 {
		dst = binary.AppendVarint(dst, t.Unix())
		dst = binary.AppendUvarint(dst, uint64(t.Nanosecond()))
		if flags&flagTimeUTC == 0 {
			dst = binary.AppendVarint(dst, int64(offset))
		}
	}
	return append(dst, l.Data...)
}

// decodeLog fills l from an entry's LogID and payload. Data and Extensions
// alias payload, which the caller must own (mmaplog.Get returns a copy).
// Only what appendLog writes decodes: varints must be minimal, so every
// payload that decodes re-encodes to the same bytes.
func decodeLog(index, term uint64, payload []byte, l *raft.Log) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: entry %d: %s", errBadPayload, index, what)
	}
	if len(payload) < payloadHeader {
		return bad(fmt.Sprintf("%d bytes", len(payload)))
	}
	if payload[0] != payloadV1 {
		return bad(fmt.Sprintf("unknown version %d", payload[0]))
	}
	typ, flags := payload[1], payload[2]
	if flags&^knownFlags != 0 || (flags&flagTimeUTC != 0 && flags&flagTime == 0) {
		return bad(fmt.Sprintf("unknown flags %#x", flags))
	}
	r := reader{p: payload[payloadHeader:], ok: true}
	var ext []byte
	if flags&flagExtensions != 0 {
		n := r.uvarint()
		if !r.ok || n > uint64(len(r.p)) {
			return bad("bad extensions length")
		}
		ext, r.p = r.p[:n:n], r.p[n:]
	}
	var at time.Time
	if flags&flagTime != 0 {
		sec, nsec := r.varint(), r.uvarint()
		if !r.ok || nsec >= 1e9 {
			return bad("bad time")
		}
		at = time.Unix(sec, int64(nsec))
		if at.IsZero() {
			return bad("zero time stored as present")
		}
		if flags&flagTimeUTC != 0 {
			at = at.UTC()
		} else {
			offset := r.varint()
			if !r.ok || offset != int64(int32(offset)) {
				return bad("bad time zone")
			}
			// Same rule as time.Time.UnmarshalBinary: the local zone if it
			// has this offset at that instant, else a fixed unnamed zone.
			if _, local := at.Zone(); int64(local) != offset {
				at = at.In(time.FixedZone("", int(offset)))
			}
		}
	}
	var data []byte
	if flags&flagDataNil == 0 {
		data = r.p
	} else if len(r.p) != 0 {
		return bad(fmt.Sprintf("%d bytes after nil data", len(r.p)))
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(typ),
		Data:       data,
		Extensions: ext,
		AppendedAt: at,
	}
	return nil
}

// reader decodes minimal varints from p. After a failure ok stays false.
type reader struct {
	p  []byte
	ok bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.p)
	if n <= 0 || n != uvarintLen(v) {
		r.ok, r.p = false, nil
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.Varint
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
