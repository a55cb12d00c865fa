package dbservice

import (
	"context"
	"log/slog"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/securedb-go/securedb/validate"
)

// CheckPosture implements PostureChecker for what Guard enforces: the
// input-validation policy and whether audit records are written.
func (g *guard) CheckPosture(ctx context.Context) []Finding {
	return []Finding{g.validationFinding(), g.auditFinding(ctx)}
}

func (g *guard) validationFinding() Finding {
	f := Finding{ID: ItemInputValidation, Status: Pass}
	var parts, warns, fixes []string

	if n := len(g.p.Collections); n > 0 {
		parts = append(parts, "collections: allowlist of "+strconv.Itoa(n)+" ("+listShort(g.p.Collections, 6)+")")
	} else {
		parts = append(parts, "collections: any name matching "+validate.CollectionPattern+" (no allowlist)")
	}

	maxLen := g.p.IDs.MaxLen
	if maxLen <= 0 {
		maxLen = validate.DefaultIDMaxLen
	}
	if re := g.p.IDs.Pattern; re == nil {
		parts = append(parts, "ids: default rule "+validate.DefaultIDPattern+", at most "+strconv.Itoa(maxLen)+" bytes")
	} else {
		parts = append(parts, "ids: custom pattern "+shortPattern(re.String())+", at most "+strconv.Itoa(maxLen)+" bytes")
		if !anchored(re) {
			warns = append(warns, "the ID pattern is not anchored, so IDs that merely contain a match pass")
			fixes = append(fixes, "anchor Policy.IDs.Pattern at both ends: ^...$")
		}
	}

	var disabled []string
	for _, l := range []struct {
		name string
		v    int
	}{
		{"MaxStringLen", g.p.Limits.MaxStringLen},
		{"MaxDepth", g.p.Limits.MaxDepth},
		{"MaxKeys", g.p.Limits.MaxKeys},
		{"MaxDocBytes", g.p.Limits.MaxDocBytes},
	} {
		if l.v < 0 {
			disabled = append(disabled, l.name)
		}
	}
	if len(disabled) > 0 {
		parts = append(parts, "documents: operator keys refused, size bounds partly disabled")
		warns = append(warns, "document bounds disabled: "+strings.Join(disabled, ", "))
		fixes = append(fixes, "remove the negative Policy.Limits fields so oversized documents are refused")
	} else {
		parts = append(parts, "documents: operator keys refused, size bounded")
	}

	if len(g.p.ReadOnly) > 0 {
		parts = append(parts, "read-only: "+listShort(g.p.ReadOnly, 6))
	}
	if len(warns) > 0 {
		f.Status = Warn
		parts = append(parts, warns...)
		f.Fix = strings.Join(fixes, "; ")
	}
	f.Detail = strings.Join(parts, "; ")
	return f
}

func (g *guard) auditFinding(ctx context.Context) Finding {
	if t := g.p.AuditTrail; t != nil {
		return trailFinding(t.TrailInfo())
	}
	f := Finding{ID: ItemAuditLogging}
	switch a := g.p.Audit; {
	case a == nil:
		f.Status = Fail
		f.Detail = "Guard has no audit logger (Policy.Audit is nil) and no audit trail (Policy.AuditTrail is nil)"
		f.Fix = "set Policy.Audit to a *slog.Logger that ships to durable storage (securedb.Open does unless Config.DisableAudit is set)"
	case a.Enabled(ctx, slog.LevelInfo):
		// A log line can be edited, dropped or reordered by whoever can
		// write the log, and nothing would show it: the guide asks for an
		// audit trail, which a log alone is not.
		f.Status = Warn
		f.Detail = "Guard writes one slog record per operation (op, collection, id, principal, outcome, error kind, duration; never document contents), but no audit trail: an edited, deleted or reordered record leaves no trace"
		f.Fix = trailFix
	case a.Enabled(ctx, slog.LevelError):
		f.Status = Warn
		f.Detail = "the audit logger drops Info records, so successful operations leave no trace; only denials and errors are recorded"
		f.Fix = "give Policy.Audit a handler enabled at slog.LevelInfo, and " + trailFix
	default:
		f.Status = Fail
		f.Detail = "the audit logger discards every record"
		f.Fix = "give Policy.Audit a handler enabled at slog.LevelInfo, and " + trailFix
	}
	return f
}

// trailFix is how to get a tamper-evident trail.
const trailFix = "set Policy.AuditTrail to an audit.Sink (package dbservice/audit) with a Signer, or SECUREDB_AUDIT_FILE and SECUREDB_AUDIT_KEY for securedb.Open"

// trailFinding describes what an audit trail proves.
func trailFinding(info AuditTrailInfo) Finding {
	f := Finding{ID: ItemAuditLogging, Status: Pass}
	var parts []string
	if info.Chained {
		parts = append(parts, "Guard writes every operation to an audit trail, hash-chained (SHA-256): an edited, deleted, inserted or reordered record breaks the chain")
	} else {
		parts = append(parts, "Guard writes every operation to an audit trail that is not hash-chained")
	}
	if info.Signed {
		var when []string
		if info.CheckpointEvery > 0 {
			when = append(when, "every "+strconv.Itoa(info.CheckpointEvery)+" records")
		}
		if info.CheckpointInterval > 0 {
			when = append(when, "every "+info.CheckpointInterval.String())
		}
		when = append(when, "on close")
		parts = append(parts, "checkpoints signed with Ed25519 by key "+shortPattern(info.SignerName)+" "+strings.Join(when, ", "))
	} else {
		f.Status = Warn
		parts = append(parts, "checkpoints are not signed, so whoever can write the trail can rewrite the whole chain")
		f.Fix = "give the audit trail a signing key (audit.Options.Signer, or SECUREDB_AUDIT_KEY) kept where the trail's writers cannot read it"
	}
	if info.FailClosed {
		parts = append(parts, "fail-closed: when a record cannot be written the operation fails and later ones are refused")
	} else {
		parts = append(parts, "fail-open: operations go on when a record cannot be written (alert on the trail's failure count)")
	}
	if !info.Chained && f.Status == Pass {
		f.Status = Warn
		f.Fix = "use an audit trail that chains its records (package dbservice/audit)"
	}
	f.Detail = strings.Join(parts, "; ")
	return f
}

// anchored reports whether re can only match a whole string: a
// concatenation that starts with ^ (or \A) and ends with $ (or \z). A
// top-level alternation such as ^a|b$ is not anchored.
func anchored(re *regexp.Regexp) bool {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return false
	}
	for t.Op == syntax.OpCapture && len(t.Sub) == 1 {
		t = t.Sub[0]
	}
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 {
		return false
	}
	return t.Sub[0].Op == syntax.OpBeginText && t.Sub[len(t.Sub)-1].Op == syntax.OpEndText
}

// listShort joins at most n names and says how many more there are.
func listShort(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", +" + strconv.Itoa(len(names)-n) + " more"
}

func shortPattern(p string) string {
	if r := []rune(p); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return p
}
