package dynamodb

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/securedb-go/securedb/dbservice"
)

// benchItem is an item as an indexed collection stores it: the document,
// "_id" and "_rev", and the keys of three indexes that decodeItem skips.
func benchItem() map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	return map[string]types.AttributeValue{
		"_id":        s("d000111"),
		"_rev":       s("2VbX7sozEHVzWdnu"),
		"_x18b1h":    s("5team-11 $ $"),
		"_x18b1s":    s("4c05ac000000000005d000111 $ $"),
		"_x8e6bh":    s("0"),
		"_x8e6bs":    s("4c05ac000000000005d000111 $ $"),
		"_xef45h":    s("0"),
		"_xef45s":    s("5team-11 $ $5d000111 $ $"),
		"created_at": s("2026-01-01T00:01:51.000000000Z"),
		"name":       s("agent 111"),
		"score":      &types.AttributeValueMemberN{Value: "107"},
		"team":       s("team-11"),
	}
}

// BenchmarkDecodeItem is the provider's work per item of a page: one
// decodeItem (an eq page of 10 does it ten times), and the same by
// refDecodeItem, the version before.
func BenchmarkDecodeItem(b *testing.B) {
	item := benchItem()
	for _, v := range []struct {
		name   string
		decode func(map[string]types.AttributeValue) (dbservice.Doc, error)
	}{{"ref", refDecodeItem}, {"now", decodeItem}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.decode(item); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseNumber is the reading of a stored integer, as most numbers
// of a document are, by parseNumber and by refParseNumber (ParseFloat).
func BenchmarkParseNumber(b *testing.B) {
	for _, v := range []struct {
		name  string
		parse func(string) (float64, error)
	}{{"ref", refParseNumber}, {"now", parseNumber}} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.parse("107"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
