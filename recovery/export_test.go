package recovery

// SetCrashHook makes Repair call f before each change it makes to the
// directory and stop there, as a crash would, when f returns an error.
func SetCrashHook(f func(step string) error) (restore func()) {
	old := crashHook
	crashHook = f
	return func() { crashHook = old }
}
