package rules

import (
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/securedb-go/securedb/dbservice"
)

// Request is one access for rules to decide: who, which method on which
// document, and the documents involved. Check evaluates it; the Enforce
// middleware builds one per call.
type Request struct {
	// Auth is the principal (request.auth); nil is unauthenticated.
	Auth *dbservice.Auth
	// Method is get, list, create, update or delete.
	Method string
	// Collection and ID name the document; ID is "" for list.
	Collection, ID string
	// Resource is the stored document (resource.data), nil when there is
	// none (a create, or a read of a missing document).
	Resource dbservice.Doc
	// Incoming is the document as it would be after the write
	// (request.resource.data), for create and update.
	Incoming dbservice.Doc
	// Query is the list query (request.query.limit, and the conditions a
	// list rule is decided from); nil for other methods.
	Query *dbservice.Query
	// Time is request.time; zero means now.
	Time time.Time
}

// Decision is the outcome of rules for one Request.
type Decision struct {
	// Allowed reports whether some allow statement granted the request.
	Allowed bool
	// Rule is the file:line of the allow statement that granted it, or,
	// when denied, of the statements that were tried ("firestore.rules:4,
	// firestore.rules:12"), or "default deny" when no statement applies.
	Rule string
	// Missing names, for a denied list, what the query lacks: the fields
	// (dotted, "_id" for the document ID) a rule reads that the query's
	// equality conditions do not pin.
	Missing []string
}

// DefaultDeny is the Decision.Rule of a request no allow statement covers.
const DefaultDeny = "default deny"

// Check decides req. It never reads the database: the caller supplies the
// documents.
func (rs *Ruleset) Check(req Request) Decision {
	if req.Time.IsZero() {
		req.Time = time.Now()
	}
	cands := rs.candidates(req.Collection, req.Method)
	if req.Method == "list" && req.Resource == nil {
		q := dbservice.Query{}
		if req.Query != nil {
			q = *req.Query
		}
		return rs.decideList(cands, req, q)
	}
	return rs.decide(cands, req)
}

func (rs *Ruleset) candidates(collection, method string) []*rule {
	idx := rs.byMethod[method]
	if rr, ok := idx[collection]; ok {
		return rr
	}
	return idx[""]
}

// reads reports whether any rule in rr reads the stored document.
func reads(rr []*rule) bool {
	for _, r := range rr {
		if r.refs.readsResource() {
			return true
		}
	}
	return false
}

// readsIncoming reports whether any rule in rr reads request.resource.
func readsIncoming(rr []*rule) bool {
	for _, r := range rr {
		if r.refs.incoming {
			return true
		}
	}
	return false
}

func locs(rr []*rule) string {
	if len(rr) == 0 {
		return DefaultDeny
	}
	parts := make([]string, len(rr))
	for i, r := range rr {
		parts[i] = r.loc
	}
	return strings.Join(parts, ",")
}

// decide evaluates the rules for one document: the first that holds
// grants the request.
func (rs *Ruleset) decide(rr []*rule, req Request) Decision {
	if len(rr) == 0 {
		return Decision{Rule: DefaultDeny}
	}
	vars := baseVars(req)
	a := &activation{request: vars["request"], resource: vars["resource"]}
	for _, r := range rr {
		r.bindTo(a, req)
		out, _, err := r.prog.Eval(a)
		if err == nil && out == types.True {
			return Decision{Allowed: true, Rule: r.loc}
		}
	}
	return Decision{Rule: locs(rr)}
}

// activation binds the variables of one evaluation without a map: the
// request and resource values are built once per call and shared by every
// rule tried; only the path variables change from rule to rule.
type activation struct {
	request, resource any
	names             [4]string
	values            [4]string
	n                 int
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return a.request, true
	case "resource":
		return a.resource, true
	}
	for i := range a.n {
		if a.names[i] == name {
			return a.values[i], true
		}
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// bindTo sets a's path variables to r's.
func (r *rule) bindTo(a *activation, req Request) {
	a.n = 0
	m := r.m
	if r.db != "" {
		// The {database} of the databases block: always the default one.
		a.names[a.n], a.values[a.n] = r.db, "(default)"
		a.n++
	}
	if m.collVar != "" {
		a.names[a.n], a.values[a.n] = m.collVar, req.Collection
		a.n++
	}
	if m.idVar != "" {
		a.names[a.n], a.values[a.n] = m.idVar, req.ID
		a.n++
	}
	if m.recursive != "" {
		a.names[a.n], a.values[a.n] = m.recursive, req.Collection+"/"+req.ID
		a.n++
	}
}

// baseVars builds the request and resource variables; path variables are
// bound per rule.
func baseVars(req Request) map[string]any {
	var auth any
	if req.Auth != nil && req.Auth.UID != "" {
		token := req.Auth.Claims
		if token == nil {
			token = map[string]any{}
		}
		auth = map[string]any{"uid": req.Auth.UID, "token": token}
	}
	request := map[string]any{
		"auth":   auth,
		"method": req.Method,
		"time":   req.Time,
		"path":   docPath(req.Collection, req.ID),
	}
	if req.Incoming != nil {
		request["resource"] = map[string]any{"data": data(req.Incoming), "id": req.ID, "__name__": docPath(req.Collection, req.ID)}
	} else {
		request["resource"] = nil
	}
	if req.Query != nil {
		if req.Query.Limit > 0 {
			request["query"] = map[string]any{"limit": int64(req.Query.Limit)}
		} else {
			request["query"] = map[string]any{}
		}
	}
	var resource any
	if req.Resource != nil {
		resource = map[string]any{"data": data(req.Resource), "id": req.ID, "__name__": docPath(req.Collection, req.ID)}
	}
	return map[string]any{"request": request, "resource": resource}
}

func docPath(collection, id string) string {
	if id == "" {
		return "/databases/(default)/documents/" + collection
	}
	return "/databases/(default)/documents/" + collection + "/" + id
}

// data is a stored document as rules see it: without the system fields
// (_id, _rev, _expires), which Firestore keeps outside resource.data too.
func data(doc dbservice.Doc) map[string]any {
	sys := false
	for k := range doc {
		if strings.HasPrefix(k, "_") {
			sys = true
			break
		}
	}
	if !sys {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}

// bind adds r's path variables to vars (a fresh map per rule, sharing the
// request values).
func (r *rule) bind(vars map[string]any, req Request) map[string]any {
	m := r.m
	if m.collVar == "" && m.idVar == "" && m.recursive == "" && r.db == "" {
		return vars
	}
	act := make(map[string]any, len(vars)+4)
	for k, v := range vars {
		act[k] = v
	}
	if r.db != "" {
		act[r.db] = "(default)"
	}
	if m.collVar != "" {
		act[m.collVar] = req.Collection
	}
	if m.idVar != "" {
		act[m.idVar] = req.ID
	}
	if m.recursive != "" {
		act[m.recursive] = req.Collection + "/" + req.ID
	}
	return act
}

// decideList decides a list without documents: a rule holds for the query
// only when it holds for every document the query could return, which is
// decided by partial evaluation. What the query's equality conditions pin
// (a field, the document ID) is known; every other field a rule reads is
// unknown. A rule that evaluates to true is satisfied whatever the unknown
// fields hold; one left with a residual (an unknown result) depends on
// fields the query does not pin, and the residual names them.
func (rs *Ruleset) decideList(rr []*rule, req Request, q dbservice.Query) Decision {
	if len(rr) == 0 {
		return Decision{Rule: DefaultDeny}
	}
	pins := map[string]any{}
	for _, c := range q.Where {
		if c.Op == dbservice.Eq {
			pins[strings.Join(dbservice.SplitPath(c.Field), "\x00")] = c.Value
		}
	}
	idPin, idPinned := pins["_id"].(string)
	req.Query = &q
	vars := baseVars(req)
	var missing []string
	for _, r := range rr {
		act := r.bind(vars, req)
		needsPartial := r.refs.readsResource() || r.m.idVar != "" || r.m.recursive != ""
		if !needsPartial {
			out, _, err := r.prog.Eval(act)
			if err == nil && out == types.True {
				return Decision{Allowed: true, Rule: r.loc}
			}
			continue
		}
		act, patterns := r.partialVars(act, req, pins, idPin, idPinned)
		pa, err := cel.PartialVars(act, patterns...)
		if err != nil {
			continue
		}
		out, det, err := r.part.Eval(pa)
		if err == nil && out == types.True {
			return Decision{Allowed: true, Rule: r.loc}
		}
		if err == nil && types.IsUnknown(out) {
			missing = appendMissing(missing, r.residualNeeds(det, idPinned))
		}
	}
	return Decision{Rule: locs(rr), Missing: missing}
}

// partialVars binds what q pins and returns the patterns of everything
// else the rule reads.
func (r *rule) partialVars(act map[string]any, req Request, pins map[string]any, idPin string, idPinned bool) (map[string]any, []*cel.AttributePatternType) {
	out := make(map[string]any, len(act)+2)
	for k, v := range act {
		out[k] = v
	}
	var patterns []*cel.AttributePatternType
	if r.refs.wholeResource {
		patterns = append(patterns, cel.AttributePattern("resource"))
	}
	dataMap := map[string]any{}
	for _, p := range r.refs.paths {
		v, ok := pins[strings.Join(p, "\x00")]
		if !ok {
			pat := cel.AttributePattern("resource").QualString("data")
			for _, n := range p {
				pat = pat.QualString(n)
			}
			patterns = append(patterns, pat)
			continue
		}
		setPath(dataMap, p, v)
	}
	res := map[string]any{"data": dataMap}
	if idPinned {
		res["id"] = idPin
		res["__name__"] = docPath(req.Collection, idPin)
		if r.m.idVar != "" {
			out[r.m.idVar] = idPin
		}
		if r.m.recursive != "" {
			out[r.m.recursive] = req.Collection + "/" + idPin
		}
	} else {
		if r.refs.resourceID {
			patterns = append(patterns, cel.AttributePattern("resource").QualString("id"), cel.AttributePattern("resource").QualString("__name__"))
		}
		if r.m.idVar != "" {
			patterns = append(patterns, cel.AttributePattern(r.m.idVar))
		}
		if r.m.recursive != "" {
			patterns = append(patterns, cel.AttributePattern(r.m.recursive))
		}
	}
	out["resource"] = res
	return out, patterns
}

func setPath(m map[string]any, p []string, v any) {
	for _, n := range p[:len(p)-1] {
		next, ok := m[n].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[n] = next
		}
		m = next
	}
	m[p[len(p)-1]] = v
}

// residualNeeds names what the residual condition still reads: the
// fields of resource.data and the document ID the query must pin.
func (r *rule) residualNeeds(det *cel.EvalDetails, idPinned bool) []string {
	res, err := r.env.ResidualAst(r.ast, det)
	if err != nil {
		return r.allNeeds(idPinned)
	}
	left := collectRefs(res.NativeRep().Expr())
	var out []string
	for _, p := range left.paths {
		out = append(out, dbservice.Path(p...))
	}
	if !idPinned && (left.resourceID || residualReadsVar(res, r.m.idVar) || residualReadsVar(res, r.m.recursive)) {
		out = append(out, "_id")
	}
	if left.wholeResource {
		out = append(out, "the whole document")
	}
	if len(out) == 0 {
		return r.allNeeds(idPinned)
	}
	return out
}

func (r *rule) allNeeds(idPinned bool) []string {
	var out []string
	for _, p := range r.refs.paths {
		out = append(out, dbservice.Path(p...))
	}
	if !idPinned && (r.refs.resourceID || r.m.idVar != "" || r.m.recursive != "") {
		out = append(out, "_id")
	}
	return out
}

func residualReadsVar(a *cel.Ast, name string) bool {
	return name != "" && hasIdent(a.NativeRep().Expr(), name)
}

// hasIdent reports whether e reads the variable name anywhere.
func hasIdent(e ast.Expr, name string) bool {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent() == name
	case ast.SelectKind:
		return hasIdent(e.AsSelect().Operand(), name)
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() && hasIdent(c.Target(), name) {
			return true
		}
		for _, a := range c.Args() {
			if hasIdent(a, name) {
				return true
			}
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			if hasIdent(x, name) {
				return true
			}
		}
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			if hasIdent(x, name) {
				return true
			}
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			if hasIdent(me.Key(), name) || hasIdent(me.Value(), name) {
				return true
			}
		}
	}
	return false
}

func appendMissing(dst, add []string) []string {
	for _, a := range add {
		dup := false
		for _, d := range dst {
			if d == a {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, a)
		}
	}
	return dst
}

// missingText renders Decision.Missing as the conditions to add.
func missingText(missing []string) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		if m == "the whole document" {
			parts[i] = "no query condition can satisfy a rule that reads the whole document"
			continue
		}
		parts[i] = "Where(" + strconv.Quote(m) + ", Eq, ...)"
	}
	return strings.Join(parts, " and ")
}
