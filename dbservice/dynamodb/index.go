package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/securedb-go/securedb/dbservice"
)

// Index limits and defaults.
const (
	// MaxIndexes is DynamoDB's limit of global secondary indexes per
	// table; EnsureIndex refuses another with an error wrapping
	// ErrInvalid.
	MaxIndexes = 20
	// DefaultIndexShards is the partitions of a single-field index: one,
	// so that a query is one Query, as fast as the raw SDK's on a
	// constant-key index. A DynamoDB partition key value takes about
	// 1,000 writes a second, and a global secondary index that cannot keep
	// up throttles the table's writes; a collection written faster sets
	// Config.IndexShards, and its queries then read every shard in
	// parallel and merge them.
	DefaultIndexShards = 1
	// MaxIndexShards bounds Config.IndexShards: every query of a
	// single-field index asks every shard.
	MaxIndexShards = 32
	// DefaultIndexRefresh is how long a Service trusts its list of a
	// table's indexes.
	DefaultIndexRefresh = time.Minute

	// DynamoDB's key size limits, in bytes.
	maxHashKey = 2048
	maxSortKey = 1024
	// sortKeyCut is where a longer sort key is cut: a rune boundary at or
	// below it keeps the text valid UTF-8, and a bound made from a cut key
	// (PrefixEnd may lengthen it by a few bytes) stays within maxSortKey.
	sortKeyCut = maxSortKey - 8

	// indexNamePrefix starts every index this provider makes; an index
	// with another name (made by another tool) is ignored.
	indexNamePrefix = "sdb."
	// indexAttrPrefix starts the attributes that hold index keys. Caller
	// documents never hold a top-level field that starts with "_"
	// (validate.Sanitize drops them), so no field can take these names.
	indexAttrPrefix = "_x"
	// maxIndexName is DynamoDB's limit on an index name.
	maxIndexName = 255
)

// fieldsEncoding spells index fields inside an index name, which allows
// only letters, digits, '_', '-' and '.'.
var fieldsEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// index is one global secondary index this provider keeps. Its name
// records its fields and shard count, so that every process reads the
// same definition from DescribeTable.
//
// A sharded index (one field) has the hash attribute shard number (from
// the ID) and the sort attribute IndexKey(field)+IndexKey(id). A hashed
// index (two or more fields) has the hash attribute IndexKey(first field)
// (a digest when longer than DynamoDB allows) and the sort attribute
// IndexKey of every other field, then IndexKey(id). Both attributes are
// strings, whatever the fields hold, so no write is ever refused for the
// type of an indexed value. Indexes made by this version hold the keys in
// printable form (printableKey) and name their attributes after what they
// hold, so that indexes holding the same key share the attribute (their
// kind in the name ends in "q"); those of the version before named them
// after the index ("p"), and earlier ones stored the IndexKey text itself
// (no letter).
type index struct {
	name      string
	fields    []string
	shards    int // > 0: a sharded index
	printable bool
	shared    bool // attribute names from what they hold (holds)
	hashAttr  string
	sortAttr  string
	active    bool
}

// key is the form ix stores of k, IndexKey text (or text that compares
// with IndexKey text, such as a range bound).
func (ix *index) key(k string) string {
	if ix.printable {
		return printableKey(k)
	}
	return k
}

// printableKey writes each byte of k up to 0x20 as a space and the byte
// plus 0x23 (from '#' to 'C': neither '"' nor '\\', which JSON escapes
// too), and every other byte as itself. IndexKey's terminator and escapes
// are control bytes, which DynamoDB's JSON wire format spells as six-byte
// \u escapes: a key of one string field and an ID carried 20 bytes of
// them. The mapping is a prefix-free code whose codes order as their
// bytes do (two-byte codes start with 0x20, one-byte codes above it), so
// keys keep their order and prefix-freeness: printableKey(a) <
// printableKey(b) exactly when a < b, for any byte strings, which bounds
// made from IndexKey text need too. Valid UTF-8 stays valid.
func printableKey(k string) string {
	n := len(k)
	for i := 0; i < len(k); i++ {
		if k[i] <= 0x20 {
			n++
		}
	}
	if n == len(k) {
		return k
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= 0x20 {
			b = append(b, 0x20, c+0x23)
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func (ix *index) def() dbservice.IndexDef {
	return dbservice.IndexDef{Name: ix.name, Fields: ix.fields}
}

// newIndex returns the index EnsureIndex(fields...) makes.
func newIndex(fields []string, shards int) (index, error) {
	kind := "h"
	if len(fields) == 1 {
		kind = "s" + strconv.Itoa(shards)
	} else {
		shards = 0
	}
	name := indexNamePrefix + kind + "q." + fieldsEncoding.EncodeToString([]byte(strings.Join(fields, "\n")))
	if len(name) > maxIndexName {
		return index{}, fmt.Errorf("%w: the index's field paths are too long for a DynamoDB index name (at most about 150 bytes together)", dbservice.ErrInvalid)
	}
	return makeIndex(name, fields, shards, "q"), nil
}

// makeIndex returns the index of name (whose kind ends in form: "q", "p"
// or nothing) with the attribute names a new index gets when no other
// index of its table uses them: indexAttrPrefix, four hex digits of a
// digest, then "h" or "s". Every stored item carries these names, and
// DynamoDB reads, stores and returns them with every item, so they are
// short (7 bytes; the 19 of earlier versions cost the raw SDK's own
// queries 3-5% on DynamoDB Local), and an attribute that holds what
// another index's attribute holds is that attribute (holds): [team,
// score] sorts on score then ID as [score] does, and every index of one
// shard shares the hash "0", so an item carries four index attributes
// for these three indexes, not six. withTagFree lengthens the digest
// where an attribute of another index would take the name; an existing
// index keeps the names its key schema records.
func makeIndex(name string, fields []string, shards int, form string) index {
	ix := index{name: name, fields: fields, shards: shards, printable: form != "", shared: form == "q"}
	ix.hashAttr, ix.sortAttr = ix.attrName(true, shortTagDigits), ix.attrName(false, shortTagDigits)
	return ix
}

// shortTagDigits is how many hex digits of the digest a new index's
// attribute names carry.
const shortTagDigits = 4

// attrName is the name of ix's hash (or sort) attribute with digits hex
// digits of the digest of what it holds (of the index's name, for an
// index of the version before).
func (ix *index) attrName(hash bool, digits int) string {
	of, role := ix.name, "s"
	if hash {
		role = "h"
	}
	if ix.shared {
		of = ix.holds(hash)
	}
	sum := sha256.Sum256([]byte(of))
	return indexAttrPrefix + hex.EncodeToString(sum[:])[:digits] + role
}

// holds describes what ix's hash (or sort) attribute holds: equal
// descriptions hold equal values on every item that carries both, which
// is what lets two indexes share one attribute. Field paths hold no
// newline (EnsureIndex refuses them), so no two descriptions collide.
func (ix *index) holds(hash bool) string {
	form := "IndexKey"
	if ix.printable {
		form = "printable"
	}
	switch {
	case hash && ix.shards > 0:
		return form + " hash: shard of " + strconv.Itoa(ix.shards)
	case hash:
		return form + " hash: " + ix.fields[0]
	case ix.shards > 0:
		return form + " sort: " + ix.fields[0] + "\nid"
	}
	return form + " sort: " + strings.Join(ix.fields[1:], "\n") + "\nid"
}

// withTagFree returns ix with attribute names that no index in list uses
// for anything but what ix's attribute holds, each the shortest the
// digest gives.
func (ix index) withTagFree(list []index) index {
	for _, hash := range []bool{true, false} {
		holds := ix.holds(hash)
		for digits := shortTagDigits; digits <= 2*sha256.Size; digits++ {
			attr := ix.attrName(hash, digits)
			if hash {
				ix.hashAttr = attr
			} else {
				ix.sortAttr = attr
			}
			if !slices.ContainsFunc(list, func(o index) bool {
				return o.name != ix.name && ((o.hashAttr == attr && o.holds(true) != holds) || (o.sortAttr == attr && o.holds(false) != holds))
			}) {
				break
			}
		}
	}
	return ix
}

// keyAttrs sets ix's attribute names from the key schema DynamoDB lists
// for its index: the names it was created with, whatever version of this
// provider created it. It reports false for a schema this provider does
// not make (the index is then ignored).
func (ix *index) keyAttrs(schema []types.KeySchemaElement) bool {
	var hash, sort string
	for _, k := range schema {
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			sort = aws.ToString(k.AttributeName)
		}
	}
	if !strings.HasPrefix(hash, indexAttrPrefix) || !strings.HasPrefix(sort, indexAttrPrefix) || hash == sort {
		return false
	}
	ix.hashAttr, ix.sortAttr = hash, sort
	return true
}

// parseIndex reads an index definition back from its name.
func parseIndex(name string) (index, bool) {
	rest, ok := strings.CutPrefix(name, indexNamePrefix)
	if !ok {
		return index{}, false
	}
	kind, enc, ok := strings.Cut(rest, ".")
	if !ok {
		return index{}, false
	}
	raw, err := fieldsEncoding.DecodeString(enc)
	if err != nil || len(raw) == 0 {
		return index{}, false
	}
	fields := strings.Split(string(raw), "\n")
	form := ""
	if k, ok := strings.CutSuffix(kind, "q"); ok {
		kind, form = k, "q"
	} else if k, ok := strings.CutSuffix(kind, "p"); ok {
		kind, form = k, "p"
	}
	shards := 0
	switch {
	case kind == "h" && len(fields) >= 2:
	case strings.HasPrefix(kind, "s") && len(fields) == 1:
		n, err := strconv.Atoi(kind[1:])
		if err != nil || n < 1 || n > MaxIndexShards {
			return index{}, false
		}
		shards = n
	default:
		return index{}, false
	}
	return makeIndex(name, fields, shards, form), true
}

// shardOf returns the shard of id in a sharded index of n shards.
func shardOf(id string, n int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return strconv.Itoa(int(h.Sum32() % uint32(n)))
}

// hashKey is the hash attribute of the hashed index ix for the value v:
// its stored IndexKey, or a digest of it past DynamoDB's limit (equality
// on the digest is a superset; Match decides).
func (ix *index) hashKey(v any) string {
	k := ix.key(dbservice.IndexKey(v))
	if len(k) <= maxHashKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "#" + hex.EncodeToString(sum[:]) // '#' starts no IndexKey, printable or not
}

// cutKey cuts a sort key longer than DynamoDB allows at a rune boundary.
// The cut key is a prefix of the full one, so it sorts where the full key
// does against every key that differs from it within the prefix.
func cutKey(k string) string {
	if len(k) <= maxSortKey {
		return k
	}
	n := sortKeyCut
	for n > 0 && !utf8.RuneStart(k[n]) {
		n--
	}
	return k[:n]
}

// attrs returns the index attributes of the document doc under id, or
// nil when the document lacks one of the index's fields (it is then not
// in the index, as dbservice.PlanQuery expects).
func (ix *index) attrs(id string, doc dbservice.Doc) (hash, sort string, ok bool) {
	hash, full, ok := ix.fullAttrs(id, doc)
	return hash, cutKey(full), ok
}

// fullAttrs is attrs with the sort key uncut.
func (ix *index) fullAttrs(id string, doc dbservice.Doc) (hash, sort string, ok bool) {
	var b strings.Builder
	for i, f := range ix.fields {
		v, found := dbservice.Lookup(doc, f)
		if !found {
			return "", "", false
		}
		if i == 0 && ix.shards == 0 {
			hash = ix.hashKey(v)
			continue
		}
		b.WriteString(dbservice.IndexKey(v))
	}
	if ix.shards > 0 {
		hash = shardOf(id, ix.shards)
	}
	b.WriteString(dbservice.IndexKey(id))
	return hash, ix.key(b.String()), true
}

// tableIndexes is what a Service knows of a table's indexes.
type tableIndexes struct {
	list []index
	at   time.Time
}

// errTableBusy reports a table DynamoDB is updating (adding an index): it
// takes one table update at a time, so index creation waits for it.
var errTableBusy = errors.New("table is being updated")

// indexCache holds the known indexes of each table.
type indexCache struct {
	mu     sync.Mutex
	tables map[string]tableIndexes
	// creating serializes index creation per table: DynamoDB creates one
	// global secondary index of a table at a time.
	creating map[string]*sync.Mutex
	// filling holds the indexes (table NUL name) this Service is
	// backfilling, which its queries do not read yet.
	filling map[string]bool
	// complete holds the indexes (table NUL name) known to be backfilled:
	// their marker item exists. Only those answer queries.
	complete map[string]bool
}

func (c *indexCache) setComplete(table, name string, on bool) { c.mark(&c.complete, table, name, on) }

// mark sets or clears (table, name) in one of the cache's index sets.
func (c *indexCache) mark(set *map[string]bool, table, name string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *set == nil {
		*set = map[string]bool{}
	}
	if on {
		(*set)[table+"\x00"+name] = true
	} else {
		delete(*set, table+"\x00"+name)
	}
}

func (c *indexCache) isComplete(table, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.complete[table+"\x00"+name]
}

// markerID is the key of the item that records that ix is backfilled
// (complete): a process that did not build an index itself reads it only
// once its marker exists, so no process queries an index whose
// documents written before it are not in it yet (its builder is still
// waiting or backfilling, or stopped). The ID starts with U+0000, which
// no document ID may hold (validate.IDRule), and the item has no
// revision attribute: Query's scans skip it, Count's filter leaves it
// out, and no caller can name, read or overwrite it.
func markerID(ix index) string { return markerPrefix + "complete " + ix.name }

// markerPrefix starts the IDs of the items this provider keeps beside the
// documents of a table: index markers and the creation lease.
const markerPrefix = "\x00index "

// leaseID is the key of the item a process holds while it adds an index to
// a table (one at a time: DynamoDB builds one index of a table at a time).
// Without it two processes adding indexes at the same moment both call
// UpdateTable: DynamoDB refuses the second, but DynamoDB Local accepts
// both and then loses one index, or, for the same index, leaves it
// CREATING for good. Like a marker it has no revision, so no query returns
// it. A lease older than leaseTTL (its holder stopped) is taken over.
const leaseID = markerPrefix + "creating"

const leaseTTL = 30 * time.Second

// takeLease takes the table's creation lease; false when another process
// holds it.
func (s *Service) takeLease(ctx context.Context, table string) (token string, ok bool, err error) {
	token = newRev()
	now := time.Now()
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			idAttr:   &types.AttributeValueMemberS{Value: leaseID},
			"_at":    &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
			"_token": &types.AttributeValueMemberS{Value: token}},
		ConditionExpression:      aws.String("attribute_not_exists(#k) OR #at < :stale"),
		ExpressionAttributeNames: map[string]string{"#k": idAttr, "#at": "_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stale": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(-leaseTTL).UnixMilli(), 10)}},
	})
	if errorCode(err) == codeConditionFailed {
		return "", false, nil
	}
	return token, err == nil, err
}

// dropLease gives the lease back, unless another process took it over.
// A lease that cannot be deleted expires after leaseTTL.
func (s *Service) dropLease(ctx context.Context, table, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(table),
		Key:                       key(leaseID),
		ConditionExpression:       aws.String("#t = :t"),
		ExpressionAttributeNames:  map[string]string{"#t": "_token"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: token}},
	})
}

// markerRevName is the expression attribute name Count's filter uses to
// leave markers out; the expression builder's names are #n0, #n1, ...
const markerRevName = "#sdbrev"

func isMarkerID(id string) bool { return strings.HasPrefix(id, markerPrefix) }

// isMarker reports whether a scanned item is an index marker.
func isMarker(item map[string]types.AttributeValue) bool {
	id, ok := item[idAttr].(*types.AttributeValueMemberS)
	return ok && isMarkerID(id.Value)
}

// checkComplete asks DynamoDB for the markers of the ACTIVE indexes in
// list not yet known complete, and forgets those no longer listed.
func (s *Service) checkComplete(ctx context.Context, table string, list []index) error {
	s.ix.mu.Lock()
	for k := range s.ix.complete {
		t, name, _ := strings.Cut(k, "\x00")
		if t == table && !slices.ContainsFunc(list, func(ix index) bool { return ix.name == name }) {
			delete(s.ix.complete, k)
		}
	}
	s.ix.mu.Unlock()
	for _, ix := range list {
		if !ix.active || s.ix.isComplete(table, ix.name) {
			continue
		}
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(markerID(ix)),
			ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#k"), ExpressionAttributeNames: map[string]string{"#k": idAttr}})
		if err != nil {
			return err
		}
		if out.Item != nil {
			s.ix.setComplete(table, ix.name, true)
		}
	}
	return nil
}

func (c *indexCache) setFilling(table, name string, on bool) { c.mark(&c.filling, table, name, on) }

func (c *indexCache) lock(table string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creating == nil {
		c.creating = map[string]*sync.Mutex{}
	}
	m := c.creating[table]
	if m == nil {
		m = &sync.Mutex{}
		c.creating[table] = m
	}
	return m
}

func (s *Service) indexRefresh() time.Duration {
	if s.ixRefresh > 0 {
		return s.ixRefresh
	}
	return DefaultIndexRefresh
}

// indexes returns the indexes of table, asking DynamoDB when the cached
// list is older than IndexRefresh. A missing table has none. With
// ScanOnly too: writes keep maintaining the indexes other processes made,
// so that a ScanOnly process never takes documents out of them.
func (s *Service) indexes(ctx context.Context, table string) ([]index, error) {
	s.ix.mu.Lock()
	t, ok := s.ix.tables[table]
	s.ix.mu.Unlock()
	if ok && time.Since(t.at) < s.indexRefresh() {
		return t.list, nil
	}
	list, err := s.describeIndexes(ctx, table)
	if errors.Is(err, errTableBusy) {
		return list, nil
	}
	return list, err
}

// describeIndexes reads table's indexes from DynamoDB and caches them.
func (s *Service) describeIndexes(ctx context.Context, table string) ([]index, error) {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var list []index
	switch {
	case errorCode(err) == codeNotFound:
	case err != nil:
		return nil, err
	case out.Table != nil:
		if out.Table.TableStatus != types.TableStatusActive {
			// Not cached: the next call asks again.
			for _, g := range out.Table.GlobalSecondaryIndexes {
				if ix, ok := parseIndex(aws.ToString(g.IndexName)); ok && ix.keyAttrs(g.KeySchema) && g.IndexStatus != types.IndexStatusDeleting {
					ix.active = g.IndexStatus == types.IndexStatusActive
					list = append(list, ix)
				}
			}
			return list, errTableBusy
		}
		for _, g := range out.Table.GlobalSecondaryIndexes {
			ix, ok := parseIndex(aws.ToString(g.IndexName))
			if !ok || !ix.keyAttrs(g.KeySchema) || g.IndexStatus == types.IndexStatusDeleting {
				continue
			}
			ix.active = g.IndexStatus == types.IndexStatusActive
			list = append(list, ix)
		}
		if err := s.checkComplete(ctx, table, list); err != nil {
			return nil, err
		}
	}
	s.setIndexes(table, list)
	return list, nil
}

func (s *Service) setIndexes(table string, list []index) {
	s.ix.mu.Lock()
	defer s.ix.mu.Unlock()
	if s.ix.tables == nil {
		s.ix.tables = map[string]tableIndexes{}
	}
	s.ix.tables[table] = tableIndexes{list: list, at: time.Now()}
}

// addIndexAttrs sets the attributes of every index in list on item, the
// encoding of doc under id, of size bytes (encodeItem). DynamoDB
// counts them in the item's size: an item they take past MaxItemBytes is
// refused here (ErrInvalid), before anything is sent, not by DynamoDB
// (which would refuse a whole batch of SaveMany, after other batches).
func addIndexAttrs(item map[string]types.AttributeValue, size int, list []index, id string, doc dbservice.Doc) error {
	for i := range list {
		h, sk, ok := list[i].attrs(id, doc)
		if !ok {
			continue
		}
		for _, a := range [2][2]string{{list[i].hashAttr, h}, {list[i].sortAttr, sk}} {
			if _, shared := item[a[0]]; !shared {
				size += len(a[0]) + len(a[1])
			}
			item[a[0]] = &types.AttributeValueMemberS{Value: a[1]}
		}
	}
	if size > MaxItemBytes {
		return tooLarge(size, " with its index keys")
	}
	return nil
}

// touchesIndex reports whether an update of path can change a value an
// index in list reads.
func touchesIndex(list []index, path string) bool {
	for i := range list {
		for _, f := range list[i].fields {
			if f == path || strings.HasPrefix(f, path+".") || strings.HasPrefix(path, f+".") {
				return true
			}
		}
	}
	return false
}

// EnsureIndex implements dbservice.Service with a global secondary index
// that serves dbservice.PlanQuery's plans on fields:
//
//   - one field: an index of Config.IndexShards partitions (one by
//     default; with more, documents are spread by ID), each sorted by the
//     field's value and then ID; a query reads every partition, in
//     parallel, and merges them. It serves
//     equality, ranges and order on the field without any other condition.
//   - two or more fields: an index partitioned by the first field's value
//     and sorted by the others and then ID. It serves queries with an
//     equality on the first field, and then equalities, a range or an
//     order on the next ones.
//
// With Config.ScanOnly it makes no index: it validates the fields and,
// with CreateMissing, creates the collection's table; queries are then
// Scans within the scan budget.
//
// The index keys are provider-owned string attributes that hold
// dbservice.IndexKey text of the values (its control bytes written as
// printable pairs of the same order; indexes made by earlier versions hold
// the text itself and keep it, and those versions ignore an index of the
// new form, so upgrade every process writing a collection before adding
// an index to it), never the fields themselves, so a field may hold
// values of any type. Indexes whose keys hold the same values share the
// attribute, so that items stay small: every one-shard index hashes on
// one attribute, and EnsureIndex(coll, "team", "score") sorts on the
// attribute EnsureIndex(coll, "score") sorts on. A document that lacks one of the
// fields is not in the index.
//
// Creating an index updates the table, waits until the index is ACTIVE,
// and then sets the index attributes of every document written before,
// with conditional updates that never overwrite a newer write. It waits
// IndexRefresh after the index appears before that walk, so that every
// other process has seen the index and maintains it in its own writes:
// a new index takes at least IndexRefresh (1 min by default) plus
// DynamoDB's creation time. DynamoDB creates one index of a table at a
// time, so creations wait for each other, also across processes (two
// processes ensuring the same index both finish it, the first one
// creating it); a table holds at most MaxIndexes. An index that exists
// is not created again. The whole call is bounded by ctx and by 5 min:
// past that it is ErrUnavailable, DynamoDB goes on creating the index,
// queries keep scanning, and a later EnsureIndex finishes it.
func (s *Service) EnsureIndex(ctx context.Context, coll string, fields ...string) error {
	if err := s.precheck(ctx, "ensure-index", coll, "", false); err != nil {
		return err
	}
	if err := dbservice.CheckFieldsWith(fields, s.limits); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	if !s.ixOn {
		if !s.createMissing {
			return nil
		}
		if err := s.ensureTable(ctx, s.table(coll)); err != nil {
			return fail("ensure-index", coll, "", err)
		}
		return nil
	}
	if len(fields) == 0 {
		return fail("ensure-index", coll, "", fmt.Errorf("%w: an index needs at least one field", dbservice.ErrInvalid))
	}
	for i, f := range fields {
		if f == idAttr || slices.Contains(fields[:i], f) {
			return fail("ensure-index", coll, "", fmt.Errorf("%w: index fields must be distinct and not _id", dbservice.ErrInvalid))
		}
	}
	want, err := newIndex(fields, s.ixShards)
	if err != nil {
		return fail("ensure-index", coll, "", err)
	}
	table := s.table(coll)
	if s.createMissing {
		if err := s.ensureTable(ctx, table); err != nil {
			return fail("ensure-index", coll, "", err)
		}
	}
	mu := s.ix.lock(table)
	mu.Lock()
	defer mu.Unlock()
	if err := s.ensureIndex(ctx, table, want); err != nil {
		return fail("ensure-index", coll, "", err)
	}
	return nil
}

// errIndexTimeout is the cause of the ErrUnavailable EnsureIndex returns
// when DynamoDB has not finished an index within createTimeout (5 min).
var errIndexTimeout = errors.New("the index is not ACTIVE yet; DynamoDB goes on creating it, and EnsureIndex again finishes it")

func (s *Service) ensureIndex(ctx context.Context, table string, want index) error {
	// One bound for the whole creation: the table may first be busy with
	// another index (another process's), then the new one has to become
	// ACTIVE and be backfilled.
	wctx, cancel := context.WithTimeout(ctx, s.ixTimeout)
	defer cancel()
	err := s.createIndex(wctx, table, want)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return fmt.Errorf("%w: %w", dbservice.ErrUnavailable, errIndexTimeout)
	}
	return err
}

// errIndexGone reports an index that was created (UpdateTable succeeded,
// or DescribeTable listed it) and is no longer listed: deleted meanwhile,
// or lost by the server. DynamoDB Local loses one of two UpdateTable calls
// that add different indexes to a table at the same moment, both
// answered with success. EnsureIndex then creates it again.
var errIndexGone = errors.New("the index is no longer listed")

// retryable UpdateTable answers: the table is busy with another index
// (LimitExceededException: one index creation at a time per table;
// ResourceInUseException: the table or this index is being changed), or
// another process created the same index first (ValidationException
// "already exists"). Each means: look at the table again.
func contended(err error) bool {
	switch errorCode(err) {
	case "LimitExceededException", codeInUse:
		return true
	case "ValidationException":
		return strings.Contains(err.Error(), "already exists")
	}
	return false
}

func (s *Service) createIndex(ctx context.Context, table string, want index) error {
	delay := 50 * time.Millisecond
	pause := func() error { // before looking at the table again
		err := sleepCtx(ctx, delay)
		delay = min(2*delay, 2*time.Second)
		return err
	}
	for {
		list, err := s.settled(ctx, table)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(list, func(ix index) bool { return sameFields(ix, want) }); i >= 0 {
			ix := list[i]
			if ix.active && s.ix.isComplete(table, ix.name) {
				return nil
			}
			// Another process is creating it, or its builder (this
			// Service or another) stopped before the backfill: wait, then
			// walk the documents (the walk is idempotent). Until then
			// this Service's queries do not read it.
			s.ix.setFilling(table, ix.name, true)
			err := s.finishIndex(ctx, table, ix, time.Now())
			if err != errIndexGone {
				if err == nil {
					s.ix.setFilling(table, ix.name, false)
				}
				return err
			}
			if err := pause(); err != nil {
				return err
			}
			continue // look again, and create it if it is missing
		}
		if len(list) >= MaxIndexes {
			return fmt.Errorf("%w: DynamoDB allows %d indexes per table", dbservice.ErrInvalid, MaxIndexes)
		}
		token, held, err := s.takeLease(ctx, table)
		switch {
		case errorCode(err) == codeNotFound:
			return fmt.Errorf("%w: the collection's table does not exist", dbservice.ErrNotFound)
		case err != nil:
			return classify(ctx, err)
		case !held:
			// Another process is adding an index to this table.
			if err := pause(); err != nil {
				return err
			}
			continue
		}
		// Under the lease, look again: the holder before may just have
		// added this index.
		if list, err = s.settled(ctx, table); err != nil || slices.ContainsFunc(list, func(ix index) bool { return sameFields(ix, want) }) {
			s.dropLease(ctx, table, token)
			if err != nil {
				return err
			}
			continue
		}
		want = want.withTagFree(list)
		// A marker left by an earlier index of the same name (deleted
		// since) must not mark the new one complete.
		if _, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(markerID(want))}); err != nil {
			s.dropLease(ctx, table, token)
			if errorCode(err) == codeNotFound {
				return fmt.Errorf("%w: the collection's table does not exist", dbservice.ErrNotFound)
			}
			return classify(ctx, err)
		}
		str := types.ScalarAttributeTypeS
		_, err = s.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName: aws.String(table),
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(want.hashAttr), AttributeType: str},
				{AttributeName: aws.String(want.sortAttr), AttributeType: str}},
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: aws.String(want.name),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(want.hashAttr), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(want.sortAttr), KeyType: types.KeyTypeRange}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}}},
		})
		s.dropLease(ctx, table, token)
		switch {
		case err == nil:
		case contended(err):
			if err := pause(); err != nil {
				return err
			}
			continue
		case errorCode(err) == codeNotFound:
			return fmt.Errorf("%w: the collection's table does not exist", dbservice.ErrNotFound)
		default:
			return classify(ctx, err)
		}
		appeared := time.Now()
		// Writes of this process maintain the index from now on; its
		// queries read it once the backfill is done.
		s.ix.setFilling(table, want.name, true)
		s.setIndexes(table, append(slices.Clone(list), want))
		err = s.finishIndex(ctx, table, want, appeared)
		if err == errIndexGone {
			continue // created again, by the next turn
		}
		if err != nil {
			return err
		}
		s.ix.setFilling(table, want.name, false)
		return nil
	}
}

// settled returns table's indexes once the table is ACTIVE (not being
// updated), waiting with bounded polls.
func (s *Service) settled(ctx context.Context, table string) ([]index, error) {
	delay := 50 * time.Millisecond
	for {
		list, err := s.describeIndexes(ctx, table)
		if err == nil {
			return list, nil
		}
		if !errors.Is(err, errTableBusy) {
			return nil, classify(ctx, err)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func sameFields(a, b index) bool {
	return slices.Equal(a.fields, b.fields) && (a.shards == 0) == (b.shards == 0)
}

// finishIndex waits (bounded by ctx) until ix is ACTIVE and IndexRefresh
// has passed since it appeared, then backfills it and writes its marker.
func (s *Service) finishIndex(ctx context.Context, table string, ix index, appeared time.Time) error {
	delay := 50 * time.Millisecond
	for {
		list, err := s.settled(ctx, table)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(e index) bool { return e.name == ix.name })
		if i < 0 {
			return errIndexGone
		}
		if list[i].active {
			break
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
	if wait := time.Until(appeared.Add(s.indexRefresh())); wait > 0 {
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
	if err := s.backfill(ctx, table, ix); err != nil {
		return err
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
		Item: map[string]types.AttributeValue{idAttr: &types.AttributeValueMemberS{Value: markerID(ix)}}})
	if err != nil {
		return classify(ctx, err)
	}
	s.ix.setComplete(table, ix.name, true)
	return nil
}

// backfill sets ix's attributes on every document that should be in it
// and is not: a Scan for items holding the fields but not both index
// attributes (one may be another index's already), each updated on the
// condition that its revision is still the one read. A failed condition
// means a newer write, which set the attributes itself (or the document
// is gone).
func (s *Service) backfill(ctx context.Context, table string, ix index) error {
	b := newExprBuilder()
	parts := []string{"(attribute_not_exists(" + b.path(ix.hashAttr) + ") OR attribute_not_exists(" + b.path(ix.sortAttr) + "))"}
	for _, f := range ix.fields {
		parts = append(parts, "attribute_exists("+b.path(f)+")")
	}
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		FilterExpression: aws.String(strings.Join(parts, " AND "))}
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	for {
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return classify(ctx, err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(batchParallel)
		for _, item := range out.Items {
			g.Go(func() error { return s.backfillItem(gctx, table, ix, item) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func (s *Service) backfillItem(ctx context.Context, table string, ix index, item map[string]types.AttributeValue) error {
	doc, err := decodeItem(item)
	if err != nil {
		return nil // not this provider's item: leave it out of the index
	}
	id := doc[idAttr].(string)
	h, sk, ok := ix.attrs(id, doc)
	if !ok {
		return nil
	}
	b := newExprBuilder()
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(table),
		Key:       key(id),
		UpdateExpression: aws.String("SET " + b.path(ix.hashAttr) + " = " + b.value(&types.AttributeValueMemberS{Value: h}) +
			", " + b.path(ix.sortAttr) + " = " + b.value(&types.AttributeValueMemberS{Value: sk})),
		ConditionExpression: aws.String(b.path(revAttr) + " = " + b.value(item[revAttr])),
	}
	b.attach(&in.ExpressionAttributeNames, &in.ExpressionAttributeValues)
	_, err = s.client.UpdateItem(ctx, in)
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return classify(ctx, err)
	}
	return nil
}
