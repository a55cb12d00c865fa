package masking

import (
	"strings"
	"testing"
)

// hostileShapes are inputs crafted to make the rules rescan the same bytes:
// log lines often hold attacker-controlled text. The scanner's work budget
// (maxWork per byte) keeps their cost linear; BenchmarkMaskHostileShapes
// measures it. Performance is measured in benchmarks, never timed in tests.
var hostileShapes = []string{
	"password=x ", "password=(", "password='", "password=[", `{"password":`, `\"password\":\"`,
	"https://a:b@", "x:y@tcp(", "-----BEGIN PRIVATE KEY-----", "Authorization: Bearer ",
	"a=b ", "AKIAIOSFODNN7EXAMPLE a=b ", "eyJhbGciOiJIUzI1NiJ9.", "a:",
}

// BenchmarkMaskHostileShapes masks 64 KiB of each hostile shape; ns/op per
// byte stays in the range of ordinary text when the cost is linear.
func BenchmarkMaskHostileShapes(b *testing.B) {
	for _, shape := range hostileShapes {
		s := strings.Repeat(shape, 64<<10/len(shape))
		b.Run(strings.NewReplacer(" ", "_", "/", "_").Replace(shape), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				Mask(s)
			}
		})
	}
}

// TestHostileShapesLeakNothing: whatever the budget cuts short is masked,
// never passed through.
func TestHostileShapesLeakNothing(t *testing.T) {
	for _, shape := range []string{"password=(", "password=[", `{"password":`} {
		s := strings.Repeat(shape, 64<<10/len(shape)) + "CANARY-SECRET-VALUE"
		if strings.Contains(Mask(s), "CANARY-SECRET-VALUE") {
			t.Errorf("a secret after 64 KiB of %q leaked", shape)
		}
	}
}
