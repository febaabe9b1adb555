package mmaplog

// WithLogUID returns opts that give a new log the identity uid instead of
// a random one, so that its bytes are reproducible (golden tests).
func WithLogUID(opts Options, uid uint64) Options {
	opts.uid = uid
	return opts
}
