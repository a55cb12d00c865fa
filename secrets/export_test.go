package secrets

import "time"

// SetClock replaces the cache's clock and jitter source so expiry tests run
// without sleeping.
func (c *CachedResolver) SetClock(now func() time.Time, jitter func(max time.Duration) time.Duration) {
	c.now = now
	c.jitter = jitter
}

// SetBeforeOpen installs f to run between the file resolver's checks and
// its open, the window in which an attacker would swap the path, and
// returns a function that removes it.
func SetBeforeOpen(f func(path string)) (restore func()) {
	beforeOpen = f
	return func() { beforeOpen = nil }
}
