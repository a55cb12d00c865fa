package rules

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// DefaultCostLimit is the CEL cost budget of one condition when Load is
// given none: enough for the comparisons, size checks and small list
// scans rules are made of, far too little for a nested scan over a large
// document.
const DefaultCostLimit = 10_000

// DefaultSizeBound is how many elements (or bytes of a string) load-time
// cost estimation assumes a list, map or string in a request or document
// holds. The runtime budget still applies to documents larger than that.
const DefaultSizeBound = 1000

// Ruleset is a loaded and compiled set of rules. It is immutable and safe
// for concurrent use: every condition is compiled once, at load.
type Ruleset struct {
	file  string
	rules []*rule
	// byMethod holds, per method, the rules of each literal collection
	// (including those of wildcard matches, in file order) and, under "",
	// the rules of wildcard matches alone, for every other collection.
	byMethod    map[string]map[string][]*rule
	collections []string // literal collections, sorted
	wildcard    bool     // a /{document=**} or /{coll}/{id} match exists
	open        []string // "collection: method" allowed unconditionally
	costLimit   uint64
}

// rule is one compiled allow statement.
type rule struct {
	m       *match
	a       *allow
	db      string // the databases block's variable, or ""
	loc     string // file:line
	methods map[string]bool
	env     *cel.Env
	ast     *cel.Ast
	prog    cel.Program // full evaluation
	part    cel.Program // partial evaluation, for list decisions
	refs    refs
}

// refs says what of the request and the stored document a condition reads.
type refs struct {
	// wholeResource: resource is read other than as resource.data.<path>
	// or resource.id (resource == null, resource.data.size(), ...).
	wholeResource bool
	// paths under resource.data that the condition reads.
	paths [][]string
	// resourceID: resource.id or resource.__name__.
	resourceID bool
	// incoming: request.resource (the document being written).
	incoming bool
}

func (r refs) readsResource() bool { return r.wholeResource || len(r.paths) > 0 || r.resourceID }

// LoadOption tunes Load.
type LoadOption func(*loadOptions)

type loadOptions struct {
	costLimit uint64
	sizeBound uint64
}

// CostLimit sets the CEL cost budget of one condition (default
// DefaultCostLimit). A condition whose estimated worst case exceeds it is
// refused at load; one that exceeds it at run time is denied.
func CostLimit(n uint64) LoadOption { return func(o *loadOptions) { o.costLimit = n } }

// SizeBound sets how many elements load-time cost estimation assumes a
// list, map or string holds (default DefaultSizeBound).
func SizeBound(n uint64) LoadOption { return func(o *loadOptions) { o.sizeBound = n } }

// Load parses and compiles rules from src; name is the file name errors
// and audit records cite ("firestore.rules").
func Load(name, src string, opts ...LoadOption) (*Ruleset, error) {
	o := loadOptions{costLimit: DefaultCostLimit, sizeBound: DefaultSizeBound}
	for _, f := range opts {
		f(&o)
	}
	if o.costLimit == 0 {
		o.costLimit = DefaultCostLimit
	}
	if o.sizeBound == 0 {
		o.sizeBound = DefaultSizeBound
	}
	p, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	return compile(p, o)
}

// LoadFile reads and compiles the rules file at path. Errors and audit
// records cite the file by its base name.
func LoadFile(path string, opts ...LoadOption) (*Ruleset, error) {
	b, err := readBounded(func() (fs.File, error) { return os.Open(path) })
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Load(filepath.Base(path), string(b), opts...)
}

// LoadFS reads and compiles the rules file name of fsys (an embed.FS, for
// example).
func LoadFS(fsys fs.FS, name string, opts ...LoadOption) (*Ruleset, error) {
	b, err := readBounded(func() (fs.File, error) { return fsys.Open(name) })
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Load(filepath.Base(name), string(b), opts...)
}

func readBounded(open func() (fs.File, error)) ([]byte, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSource+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSource {
		return nil, fmt.Errorf("rules file longer than %d bytes", maxSource)
	}
	return b, nil
}

func compile(p *parsed, o loadOptions) (*Ruleset, error) {
	rs := &Ruleset{file: p.file, byMethod: map[string]map[string][]*rule{}, costLimit: o.costLimit}
	base, err := cel.NewEnv(
		cel.Variable("request", cel.DynType),
		cel.Variable("resource", cel.DynType),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(maxConditionLen),
		cel.ParserRecursionLimit(64),
	)
	if err != nil {
		return nil, err
	}
	colls := map[string]bool{}
	for _, m := range p.matches {
		var vars []cel.EnvOption
		for _, v := range []string{p.database, m.collVar, m.idVar, m.recursive} {
			if v != "" {
				vars = append(vars, cel.Variable(v, cel.StringType))
			}
		}
		env, err := base.Extend(vars...)
		if err != nil {
			return nil, err
		}
		if m.collection != "" {
			colls[m.collection] = true
		} else {
			rs.wildcard = true
		}
		for _, a := range m.allows {
			r, err := compileAllow(p, m, a, env, o)
			if err != nil {
				return nil, err
			}
			rs.rules = append(rs.rules, r)
			if a.cond == "true" || strings.TrimSpace(a.cond) == "true" {
				where := m.collection
				if where == "" {
					where = "every collection"
				}
				rs.open = append(rs.open, where+": "+strings.Join(a.methods, ", ")+" ("+r.loc+")")
			}
		}
	}
	for c := range colls {
		rs.collections = append(rs.collections, c)
	}
	slices.Sort(rs.collections)
	for _, method := range methodNames {
		idx := map[string][]*rule{}
		for _, r := range rs.rules {
			if !r.methods[method] {
				continue
			}
			if r.m.collection == "" {
				idx[""] = append(idx[""], r)
				for _, c := range rs.collections {
					idx[c] = append(idx[c], r)
				}
			} else {
				idx[r.m.collection] = append(idx[r.m.collection], r)
			}
		}
		rs.byMethod[method] = idx
	}
	return rs, nil
}

func compileAllow(p *parsed, m *match, a *allow, env *cel.Env, o loadOptions) (*rule, error) {
	r := &rule{m: m, a: a, db: p.database, env: env, loc: p.file + ":" + strconv.Itoa(a.line), methods: map[string]bool{}}
	for _, method := range a.methods {
		r.methods[method] = true
	}
	checked, iss := env.Compile(a.cond)
	if iss != nil && iss.Err() != nil {
		return nil, celError(p.file, a, iss.Errors())
	}
	if t := checked.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, &ParseError{File: p.file, Line: a.condLine, Col: a.condCol, Reason: "condition is of type " + t.String() + ", not bool"}
	}
	est, err := env.EstimateCost(checked, sizeEstimator{o.sizeBound})
	if err != nil {
		return nil, &ParseError{File: p.file, Line: a.condLine, Col: a.condCol, Reason: "cannot estimate the condition's cost: " + err.Error()}
	}
	if est.Max > o.costLimit {
		return nil, &ParseError{File: p.file, Line: a.condLine, Col: a.condCol,
			Reason: fmt.Sprintf("condition may cost up to %s, over the budget of %d (CostLimit)", costText(est.Max), o.costLimit)}
	}
	r.ast = checked
	if r.prog, err = env.Program(checked, cel.CostLimit(o.costLimit)); err != nil {
		return nil, &ParseError{File: p.file, Line: a.condLine, Col: a.condCol, Reason: err.Error()}
	}
	if r.part, err = env.Program(checked, cel.CostLimit(o.costLimit), cel.EvalOptions(cel.OptPartialEval, cel.OptTrackState)); err != nil {
		return nil, &ParseError{File: p.file, Line: a.condLine, Col: a.condCol, Reason: err.Error()}
	}
	r.refs = collectRefs(checked.NativeRep().Expr())
	return r, nil
}

func costText(n uint64) string {
	if n == ^uint64(0) {
		return "an unbounded amount"
	}
	return strconv.FormatUint(n, 10)
}

// celError turns CEL's first issue into a ParseError located in the
// rules file (CEL's lines and columns are relative to the condition).
func celError(file string, a *allow, errs []*cel.Error) error {
	if len(errs) == 0 {
		return &ParseError{File: file, Line: a.condLine, Col: a.condCol, Reason: "invalid condition"}
	}
	e := errs[0]
	line, col := a.condLine, a.condCol
	if l := e.Location.Line(); l > 1 {
		line += l - 1
		col = e.Location.Column() + 1
	} else if c := e.Location.Column(); c >= 0 {
		col += c
	}
	return &ParseError{File: file, Line: line, Col: col, Reason: e.Message}
}

// sizeEstimator bounds every list, map and string at n elements, so that
// a comprehension over request or document data has a finite estimate.
type sizeEstimator struct{ n uint64 }

func (s sizeEstimator) EstimateSize(cost.AstNode) *cost.SizeEstimate {
	return &cost.SizeEstimate{Min: 0, Max: s.n}
}

func (sizeEstimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// collectRefs walks a condition for what it reads of resource and
// request.resource.
func collectRefs(e ast.Expr) refs {
	var r refs
	seen := map[string]bool{}
	var visit func(e ast.Expr, inChain bool)
	record := func(e ast.Expr) {
		root, quals, ok := chain(e)
		if !ok {
			return
		}
		switch root {
		case "resource":
			switch {
			case len(quals) >= 2 && quals[0] == "data":
				k := strings.Join(quals[1:], "\x00")
				if !seen[k] {
					seen[k] = true
					r.paths = append(r.paths, quals[1:])
				}
			case len(quals) >= 1 && (quals[0] == "id" || quals[0] == "__name__"):
				r.resourceID = true
			default:
				r.wholeResource = true
			}
		case "request":
			if len(quals) == 0 || quals[0] == "resource" {
				r.incoming = true
			}
		}
	}
	visit = func(e ast.Expr, inChain bool) {
		switch e.Kind() {
		case ast.IdentKind:
			if !inChain {
				record(e)
			}
		case ast.SelectKind:
			if !inChain {
				record(e)
			}
			visit(e.AsSelect().Operand(), true)
		case ast.CallKind:
			c := e.AsCall()
			args := c.Args()
			if c.FunctionName() == "_[_]" && len(args) == 2 && isStringLit(args[1]) {
				if !inChain {
					record(e)
				}
				visit(args[0], true)
				return
			}
			if c.IsMemberFunction() {
				visit(c.Target(), false)
			}
			for _, a := range args {
				visit(a, false)
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				visit(x, false)
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				visit(x, false)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				visit(me.Key(), false)
				visit(me.Value(), false)
			}
		case ast.StructKind:
			for _, f := range e.AsStruct().Fields() {
				visit(f.AsStructField().Value(), false)
			}
		}
	}
	visit(e, false)
	return r
}

func isStringLit(e ast.Expr) bool {
	if e.Kind() != ast.LiteralKind {
		return false
	}
	_, ok := e.AsLiteral().(types.String)
	return ok
}

// chain reads a.b["c"].d as root "a" and qualifiers [b c d].
func chain(e ast.Expr) (string, []string, bool) {
	var quals []string
	for {
		switch e.Kind() {
		case ast.IdentKind:
			slices.Reverse(quals)
			return e.AsIdent(), quals, true
		case ast.SelectKind:
			s := e.AsSelect()
			quals = append(quals, s.FieldName())
			e = s.Operand()
		case ast.CallKind:
			c := e.AsCall()
			if c.FunctionName() != "_[_]" || len(c.Args()) != 2 || !isStringLit(c.Args()[1]) {
				return "", nil, false
			}
			quals = append(quals, string(c.Args()[1].AsLiteral().(types.String)))
			e = c.Args()[0]
		default:
			return "", nil, false
		}
	}
}
