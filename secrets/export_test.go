package secrets

import "time"

// SetClock replaces the cache's clock and jitter source so expiry tests run
// without sleeping.
func (c *CachedResolver) SetClock(now func() time.Time, jitter func(max time.Duration) time.Duration) {
	c.now = now
	c.jitter = jitter
}
