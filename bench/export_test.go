package bench

// Test knobs for the external bench_test package.

// RegisterForTest adds d to the registry and returns a function that
// removes it again.
func RegisterForTest(d *Driver) (unregister func()) {
	register(d)
	return func() { delete(drivers, d.Name) }
}
