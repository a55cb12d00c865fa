package dynamodb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/securedb-go/securedb/dbservice"
)

// planIndexes returns dbservice.PlanQuery's plan for q over the indexes
// in list that are ready, and the index it reads (nil for a Scan). A
// hashed index is usable only with an equality on its first field, which
// picks its partition.
func (s *Service) planIndexes(table string, q dbservice.Query, list []index) (dbservice.Plan, *index) {
	var defs []dbservice.IndexDef
	for i := range list {
		if s.ready(table, &list[i]) {
			defs = append(defs, list[i].def())
		}
	}
	for {
		p := dbservice.PlanQuery(q, defs)
		if p.Index == nil {
			return p, nil
		}
		at := slices.IndexFunc(list, func(ix index) bool { return ix.name == p.Index.Name })
		ix := &list[at]
		if ix.shards > 0 || len(p.Eq) > 0 {
			return p, ix
		}
		defs = slices.DeleteFunc(defs, func(d dbservice.IndexDef) bool { return d.Name == ix.name })
	}
}

// ready reports whether ix may answer queries: indexes are on (not
// ScanOnly), it is ACTIVE, its backfill is complete (its marker exists)
// and this Service is not backfilling it again.
func (s *Service) ready(table string, ix *index) bool {
	if !s.ixOn || !ix.active {
		return false
	}
	s.ix.mu.Lock()
	defer s.ix.mu.Unlock()
	return s.ix.complete[table+"\x00"+ix.name] && !s.ix.filling[table+"\x00"+ix.name]
}

// hit is one matching document read from an index, with its sort key.
type hit struct {
	full string // the uncut sort key: the document's exact place
	doc  dbservice.Doc
}

// stream is the read of one partition of an index, in key order.
type stream struct {
	in       dynamodb.QueryInput
	buf      []hit
	frontier string // the sort key of the last item the partition evaluated
	done     bool
	limit    int
}

// keyRange is the inclusive range of sort keys a plan reads; an empty
// bound is open.
type keyRange struct{ lo, hi string }

func (r *keyRange) atLeast(k string) {
	if r.lo == "" || k > r.lo {
		r.lo = k
	}
}

func (r *keyRange) atMost(k string) {
	if r.hi == "" || k < r.hi {
		r.hi = k
	}
}

// after returns the smallest key above every key that starts with k.
func after(k string) string {
	e, ok := dbservice.PrefixEnd(k)
	if !ok {
		return ""
	}
	return e
}

// planRange returns the sort keys that hold prefix (the IndexKey text of
// the equalities on the sort fields) and then a value in rng. Every
// stored key in a bound's place starts with that value's IndexKey, and
// IndexKey is prefix-free, so the bounds are exact up to the type digit;
// the range is a superset where keys are cut, and Match decides.
func planRange(prefix string, rng []dbservice.Cond) keyRange {
	var r keyRange
	if prefix != "" {
		r.atLeast(prefix)
		r.atMost(after(prefix))
	}
	for _, c := range rng {
		k := prefix + dbservice.IndexKey(c.Value)
		// Stay within the value's type: its keys start with one digit.
		r.atLeast(prefix + k[len(prefix):len(prefix)+1])
		r.atMost(prefix + string(k[len(prefix)]+1))
		switch c.Op {
		case dbservice.Gt:
			r.atLeast(after(k))
		case dbservice.Gte:
			r.atLeast(k)
		case dbservice.Lt:
			r.atMost(k)
		case dbservice.Lte:
			r.atMost(after(k))
		}
	}
	return r
}

// clamp keeps the bounds within DynamoDB's key size, widening them.
func (r *keyRange) clamp() {
	if len(r.lo) > maxSortKey {
		r.lo = cutKey(r.lo)
	}
	if len(r.hi) > maxSortKey {
		r.hi = after(cutKey(r.hi))
	}
}

// queryIndex answers q (from CheckQuery) with the plan p on ix: one Query
// per partition (every shard of a sharded index, the equality's partition
// of a hashed one), in parallel, merged by sort key. Each Query starts
// small and grows while its matches are needed; the sum of their
// ScannedCount never passes budget. Match decides every document.
func (s *Service) queryIndex(ctx context.Context, coll string, q dbservice.Query, p dbservice.Plan, ix *index, st cursorState, budget int) (dbservice.Page, error) {
	now := time.Now()
	eqs := p.Eq
	var hashes []string
	if ix.shards > 0 {
		for i := range ix.shards {
			hashes = append(hashes, strconv.Itoa(i))
		}
	} else {
		hashes = []string{ix.hashKey(eqs[0].Value)}
		eqs = eqs[1:]
	}
	var prefix strings.Builder
	for _, c := range eqs {
		prefix.WriteString(dbservice.IndexKey(c.Value))
	}
	r := planRange(prefix.String(), p.Range)
	// The bounds in the index's stored form: exact, as that form keeps
	// the order of any text (printableKey).
	r.lo, r.hi = ix.key(r.lo), ix.key(r.hi)
	if st.F != "" {
		// Every key of a document after F is at least (at most) F once
		// cut; what is not after F is dropped below.
		if p.Desc {
			r.atMost(st.F)
		} else {
			r.atLeast(st.F)
		}
	}
	r.clamp()
	var page dbservice.Page
	page.Stats.Index = ix.name
	if r.lo != "" && r.hi != "" && r.lo > r.hi {
		return page, nil
	}

	b := newExprBuilder()
	hk := b.path(ix.hashAttr)
	sk := func() string { return b.path(ix.sortAttr) }            // named only when used: DynamoDB refuses unused names
	hv := b.value(&types.AttributeValueMemberS{Value: hashes[0]}) // replaced per partition
	keyCond := hk + " = " + hv
	switch {
	case r.lo != "" && r.hi != "":
		keyCond += " AND " + sk() + " BETWEEN " + b.value(&types.AttributeValueMemberS{Value: r.lo}) + " AND " + b.value(&types.AttributeValueMemberS{Value: r.hi})
	case r.lo != "":
		keyCond += " AND " + sk() + " >= " + b.value(&types.AttributeValueMemberS{Value: r.lo})
	case r.hi != "":
		keyCond += " AND " + sk() + " <= " + b.value(&types.AttributeValueMemberS{Value: r.hi})
	}
	// The key condition decides the plan's equalities and range (up to
	// cut or digested keys, which Match below decides), so the filter
	// holds only the residual: DynamoDB evaluates every filter term on
	// every item it reads.
	var parts []string
	for _, c := range p.Residual {
		e, _ := b.cond(c)
		parts = append(parts, e)
	}
	// Expired documents are dropped below, not by the filter: they are
	// rare, and a filter term costs on every item read.
	base := dynamodb.QueryInput{
		TableName:              aws.String(s.table(coll)),
		IndexName:              aws.String(ix.name),
		KeyConditionExpression: aws.String(keyCond),
		ScanIndexForward:       aws.Bool(!p.Desc),
	}
	if len(parts) > 0 {
		base.FilterExpression = aws.String(strings.Join(parts, " AND "))
	}
	b.attach(&base.ExpressionAttributeNames, &base.ExpressionAttributeValues)

	// One partition reads Limit items: whether more follow is left to
	// the next page, which may then be empty (an extra item costs every
	// full page about 5% on DynamoDB Local). Several partitions read an
	// even share of Limit+1; a partition that holds more is read on below.
	first := q.Limit
	if len(hashes) > 1 {
		first = (q.Limit + len(hashes)) / len(hashes)
	}
	streams := make([]*stream, len(hashes))
	for i, h := range hashes {
		in := base
		in.ExpressionAttributeValues = make(map[string]types.AttributeValue, len(base.ExpressionAttributeValues))
		for k, v := range base.ExpressionAttributeValues {
			in.ExpressionAttributeValues[k] = v
		}
		in.ExpressionAttributeValues[hv] = &types.AttributeValueMemberS{Value: h}
		streams[i] = &stream{in: in, limit: first}
	}
	before := func(a, b string) bool {
		if p.Desc {
			return a > b
		}
		return a < b
	}
	// bound is the earliest full key a partition may still hold unread:
	// its frontier, or going down, the end of the keys that start with a
	// frontier that may be cut.
	cut := func(k string) bool { return len(k) >= sortKeyCut-utf8.UTFMax }
	bound := func(str *stream) string {
		if !p.Desc || !cut(str.frontier) {
			return str.frontier
		}
		return after(str.frontier)
	}
	// unreadBefore reports whether str may hold, past what it read, a key
	// before full. Its unread keys come strictly after its frontier,
	// unless the frontier is cut: keys cut to it tie there.
	unreadBefore := func(str *stream, full string) bool {
		b := bound(str)
		return before(b, full) || (b == full && cut(str.frontier))
	}
	seen := func(full string) bool { // at or before the cursor
		if st.F == "" {
			return false
		}
		if full == st.F {
			return !st.In
		}
		return !before(st.F, full)
	}
	fetch := func(need []*stream) error {
		left := budget - page.Stats.Read
		g, gctx := errgroup.WithContext(ctx)
		var direct error
		reads := make([]int, len(need))
		for i, str := range need {
			n := min(str.limit, left/len(need))
			if n == 0 && i < left {
				n = 1
			}
			if n == 0 {
				continue
			}
			call := func() error {
				in := str.in
				in.Limit = aws.Int32(int32(n))
				out, err := s.client.Query(gctx, &in)
				if err != nil {
					return err
				}
				reads[i] = int(out.ScannedCount)
				for _, item := range out.Items {
					doc, err := decodeItem(item)
					if err != nil {
						return fmt.Errorf("%w: %s", dbservice.ErrUnavailable, err)
					}
					if dbservice.Expired(doc, now) || !dbservice.Match(doc, q.Where) {
						continue
					}
					// The stored sort key is the full one unless it may
					// have been cut.
					sk, _ := item[ix.sortAttr].(*types.AttributeValueMemberS)
					full, ok := "", sk != nil && !cut(sk.Value)
					if ok {
						full = sk.Value
					} else {
						_, full, ok = ix.fullAttrs(doc[idAttr].(string), doc)
					}
					if !ok || seen(full) {
						continue
					}
					str.buf = append(str.buf, hit{full: full, doc: doc})
				}
				// Cut keys tie; their full keys give the order.
				slices.SortStableFunc(str.buf, func(a, b hit) int {
					switch {
					case before(a.full, b.full):
						return -1
					case before(b.full, a.full):
						return 1
					}
					return 0
				})
				if out.LastEvaluatedKey == nil {
					str.done = true
					return nil
				}
				lek, _ := out.LastEvaluatedKey[ix.sortAttr].(*types.AttributeValueMemberS)
				if lek == nil {
					return fmt.Errorf("%w: query returned an unexpected key", dbservice.ErrUnavailable)
				}
				str.frontier = lek.Value
				str.in.ExclusiveStartKey = out.LastEvaluatedKey
				str.limit = min(str.limit*2, maxScanLimit)
				return nil
			}
			if len(need) == 1 {
				// One partition: no goroutine to wait for, which a
				// busy machine would schedule late.
				direct = call()
				continue
			}
			g.Go(call)
		}
		err := cmp.Or(g.Wait(), direct)
		for _, n := range reads {
			page.Stats.Read += n
		}
		return err
	}
	next := func(state cursorState) (dbservice.Page, error) {
		state.X = ix.name
		c, err := s.cursors.Encode(coll, q, state)
		if err != nil {
			return dbservice.Page{}, fail("query", coll, "", fmt.Errorf("%w: cursor cannot be encoded", dbservice.ErrUnavailable))
		}
		page.Next = c
		page.Stats.Returned = len(page.Docs)
		return page, nil
	}
	lastKey := ""
	if err := fetch(streams); err != nil {
		if errorCode(err) == codeNotFound {
			return dbservice.Page{}, nil
		}
		return dbservice.Page{}, fail("query", coll, "", classify(ctx, err))
	}
	for {
		if len(page.Docs) == q.Limit {
			// A full page continues where it ended if anything may be
			// left: a match buffered, or a partition not read to its end.
			for _, str := range streams {
				if len(str.buf) > 0 || !str.done {
					return next(cursorState{F: lastKey})
				}
			}
			page.Stats.Returned = len(page.Docs)
			return page, nil
		}
		var best *stream
		for _, str := range streams {
			if len(str.buf) > 0 && (best == nil || before(str.buf[0].full, best.buf[0].full)) {
				best = str
			}
		}
		// A partition may hold a key before the best one beyond its
		// frontier (or among keys cut to it): read on there first.
		var need []*stream
		for _, str := range streams {
			if !str.done && (best == nil || unreadBefore(str, best.buf[0].full)) {
				need = append(need, str)
			}
		}
		if len(need) > 0 {
			if page.Stats.Read >= budget {
				page.Stats.BudgetReached = true
				return next(resumeAt(streams, before, bound))
			}
			if err := fetch(need); err != nil {
				return dbservice.Page{}, fail("query", coll, "", classify(ctx, err))
			}
			continue
		}
		if best == nil {
			page.Stats.Returned = len(page.Docs)
			return page, nil
		}
		h := best.buf[0]
		best.buf = best.buf[1:]
		doc := h.doc
		if len(q.Fields) > 0 {
			exp, hasExp := doc[expiresAttr]
			doc = dbservice.Project(doc, q.Fields)
			if hasExp {
				doc[expiresAttr] = exp
			}
		}
		page.Docs = append(page.Docs, doc)
		lastKey = h.full
	}
}

// resumeAt is where a page stopped at its budget continues: at the first
// buffered match not returned (inclusive), or after the earliest frontier
// of a partition with nothing buffered, whichever comes first.
func resumeAt(streams []*stream, before func(a, b string) bool, bound func(*stream) string) cursorState {
	var at cursorState
	set := false
	for _, str := range streams {
		var c cursorState
		switch {
		case len(str.buf) > 0:
			c = cursorState{F: str.buf[0].full, In: true}
		case !str.done:
			c = cursorState{F: bound(str)}
		default:
			continue
		}
		if !set || before(c.F, at.F) {
			at, set = c, true
		}
	}
	return at
}
