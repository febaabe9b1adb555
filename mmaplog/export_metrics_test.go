package mmaplog

import "time"

// WithSlowSyncEvery returns o with the interval between slow-sync
// warnings set to every (10 s otherwise).
func WithSlowSyncEvery(o Options, every time.Duration) Options {
	o.slowSyncEvery = every
	return o
}
