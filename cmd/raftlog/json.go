package main

import (
	"encoding/json"
	"io"

	"github.com/raftlog/raftlog/mmaplog"
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

func logID(id mmaplog.LogID) *jsonLogID { return &jsonLogID{Term: id.Term, Index: id.Index} }

func vote(v mmaplog.Vote) *jsonVote {
	return &jsonVote{Term: v.Term, NodeID: v.NodeID, Committed: v.Committed}
}

func jsonRecordOf(it recovery.WalkItem) jsonRecord {
	r := it.Record
	j := jsonRecord{Segment: it.Segment, File: base(it.Path), Offset: it.Offset, Size: r.Size,
		Type: string(r.Kind), Durable: r.Durable, CRC: r.CRC}
	if r.Err != nil {
		j.Error = r.Err.Error()
		return j
	}
	switch r.Kind {
	case recovery.KindEntry:
		j.Term, j.Index = &r.Entry.Term, &r.Entry.Index
		j.Payload = append([]byte{}, r.Payload...)
	case recovery.KindVote:
		j.Vote = vote(r.Vote)
	case recovery.KindCommit, recovery.KindPurge:
		j.ID = logID(r.ID)
	case recovery.KindTruncate:
		j.First, j.Last = &r.First, logID(r.Last)
	case recovery.KindUserData:
		var ud []byte
		if !r.Cleared {
			ud = append([]byte{}, r.Payload...)
		}
		j.UserData = &ud
	case recovery.KindState:
		st := r.State
		j.State = &jsonState{Vote: *vote(st.Vote), Last: *logID(st.Last), Committed: *logID(st.Committed),
			Purged: *logID(st.Purged), UserData: st.UserData}
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
