package format

// EntryAtSlow exposes the slow path of EntryAt (ReadRecord, then the body
// checks), so that tests can hold ReadEntry to it.
var EntryAtSlow = entryAtSlow
