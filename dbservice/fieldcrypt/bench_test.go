package fieldcrypt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/securedb-go/securedb/dbservice"
	"github.com/securedb-go/securedb/dbservice/fieldcrypt"
	"github.com/securedb-go/securedb/dbservice/memory"
)

// benchSaveGet interleaves a Save and a Get of a document with three
// encrypted fields and of the same document in a collection with none, so
// that both see the same load, and reports their ratio, the cost per
// encrypted field, and the KEK calls per 10,000 operations.
func benchSaveGet(b *testing.B, raw dbservice.Service) {
	kek := newTestKEK(b)
	fc, err := fieldcrypt.New(raw, fieldcrypt.Config{KEK: kek, KeysCollection: keys, Collections: map[string]fieldcrypt.Fields{
		"benchenc": {"email": fieldcrypt.Deterministic, "ssn": fieldcrypt.Randomized, "phone": fieldcrypt.Randomized},
	}})
	if err != nil {
		b.Fatal(err)
	}
	svc := dbservice.Guard(fc, dbservice.Policy{})
	ctx := b.Context()
	doc := dbservice.Doc{"email": "someone@example.com", "ssn": "123-45-6789", "phone": "+1 555 0100", "name": "Someone", "n": 42.0}
	// Warm both collections (tables, databases, data keys) outside the
	// measurement.
	for _, c := range []string{"benchplain", "benchenc"} {
		if _, err := svc.Save(ctx, c, "warm", doc); err != nil {
			b.Fatal(err)
		}
	}
	before := kek.calls()
	var plain, enc time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("b%03d", i%200)
		i++
		for _, c := range []string{"benchplain", "benchenc"} {
			start := time.Now()
			if _, err := svc.Save(ctx, c, id, doc); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Get(ctx, c, id); err != nil {
				b.Fatal(err)
			}
			if c == "benchplain" {
				plain += time.Since(start)
			} else {
				enc += time.Since(start)
			}
		}
	}
	ops := float64(4 * i)
	b.ReportMetric(float64(plain.Nanoseconds())/float64(i), "plain-ns/savget")
	b.ReportMetric(float64(enc.Nanoseconds())/float64(i), "enc3-ns/saveget")
	b.ReportMetric(float64(enc)/float64(plain), "enc3/plain")
	b.ReportMetric(float64(enc-plain)/float64(i)/3, "ns/field")
	b.ReportMetric(float64(kek.calls()-before)*10000/ops, "kek-calls/10k-ops")
}

func BenchmarkSaveGetMemory(b *testing.B)    { benchSaveGet(b, memory.New()) }
func BenchmarkSaveGetCouchDB(b *testing.B)   { benchSaveGet(b, openCouchDB(b, "fcb")) }
func BenchmarkSaveGetDynamoDB(b *testing.B)  { benchSaveGet(b, openDynamoDB(b, "fcb")) }
func BenchmarkSaveGetFirestore(b *testing.B) { benchSaveGet(b, openFirestore(b, "fcb")) }
