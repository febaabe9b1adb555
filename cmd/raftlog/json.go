package main

import (
	"encoding/json"
	"io"

	"github.com/raftlog/raftlog/internal/format"
	"github.com/raftlog/raftlog/internal/raftstate"
	"github.com/raftlog/raftlog/recovery"
)

// The JSON dump is one object per line: a record, or the place where a
// segment's records stop. Byte strings (payloads, user data) are base64,
// as encoding/json writes []byte.

type jsonLogID struct {
	Term  uint64 `json:"term"`
	Index uint64 `json:"index"`
}

type jsonVote struct {
	Term      uint64 `json:"term"`
	NodeID    uint64 `json:"node_id"`
	Committed bool   `json:"committed"`
}

type jsonState struct {
	Vote      jsonVote  `json:"vote"`
	Last      jsonLogID `json:"last"`
	Committed jsonLogID `json:"committed"`
	Purged    jsonLogID `json:"purged"`
	UserData  []byte    `json:"user_data"`
}

type jsonRecord struct {
	Segment uint64 `json:"segment"`
	File    string `json:"file"`
	Offset  int64  `json:"offset"`
	Size    int64  `json:"size"`
	Type    string `json:"type"`
	Durable uint64 `json:"durable"`
	CRC     uint32 `json:"crc"`

	Term     *uint64    `json:"term,omitempty"`  // Entry
	Index    *uint64    `json:"index,omitempty"` // Entry
	Payload  []byte     `json:"payload,omitempty"`
	Vote     *jsonVote  `json:"vote,omitempty"`
	ID       *jsonLogID `json:"id,omitempty"`    // Commit, Purge
	First    *uint64    `json:"first,omitempty"` // Truncate
	Last     *jsonLogID `json:"last,omitempty"`  // Truncate
	UserData *[]byte    `json:"user_data,omitempty"`
	State    *jsonState `json:"state,omitempty"`
	Error    string     `json:"error,omitempty"` // a body that does not decode
}

type jsonStop struct {
	Segment uint64 `json:"segment"`
	File    string `json:"file"`
	Offset  int64  `json:"offset"`
	End     bool   `json:"end"`  // the ordinary end: zeros
	Stop    string `json:"stop"` // why the records stop
}

func logID(id raftstate.LogID) *jsonLogID { return &jsonLogID{Term: id.Term, Index: id.Index} }

func vote(v raftstate.Vote) *jsonVote {
	return &jsonVote{Term: v.Term, NodeID: v.NodeID, Committed: v.Committed}
}

func jsonRecordOf(it recovery.WalkItem) jsonRecord {
	r := it.Record
	j := jsonRecord{Segment: it.Segment, File: base(it.Path), Offset: it.Offset, Size: r.Size,
		Type: r.Type.String(), Durable: r.Durable, CRC: r.CRC}
	var err error
	switch r.Type {
	case format.TypeEntry:
		var id raftstate.LogID
		if id, err = format.EntryID(r.Body); err == nil {
			j.Term, j.Index = &id.Term, &id.Index
			j.Payload = append([]byte{}, r.Body[format.EntryHeadSize:]...)
		}
	case format.TypeVote:
		var v raftstate.Vote
		if v, err = format.Vote(r.Body); err == nil {
			j.Vote = vote(v)
		}
	case format.TypeCommit, format.TypePurge:
		var id raftstate.LogID
		if id, err = format.LogID(r.Body); err == nil {
			j.ID = logID(id)
		}
	case format.TypeTruncate:
		var first uint64
		var last raftstate.LogID
		if first, last, err = format.Truncate(r.Body); err == nil {
			j.First, j.Last = &first, logID(last)
		}
	case format.TypeUserData:
		var ud []byte
		if ud, err = format.UserData(r.Body); err == nil {
			ud = append([]byte(nil), ud...)
			j.UserData = &ud
		}
	case format.TypeState:
		var st raftstate.State
		if st, err = format.State(r.Body); err == nil {
			j.State = &jsonState{Vote: *vote(st.Vote), Last: *logID(st.Last), Committed: *logID(st.Committed),
				Purged: *logID(st.Purged), UserData: st.UserData}
		}
	}
	if err != nil {
		j.Error = err.Error()
	}
	return j
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
