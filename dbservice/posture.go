package dbservice

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// The security guide's checklist, one stable ID per item. Providers and
// middleware report Findings under these IDs; CheckPosture fills in the
// items nobody reported.
const (
	ItemAuthEnabled         = "auth-enabled"
	ItemTLS                 = "tls"
	ItemLeastPrivilege      = "least-privilege"
	ItemSecretsManager      = "secrets-manager"
	ItemInputValidation     = "input-validation"
	ItemAuditLogging        = "audit-logging"
	ItemNetworkRestricted   = "network-restricted"
	ItemBackups             = "backups"
	ItemEncryptionAtRest    = "encryption-at-rest"
	ItemEncryptionInTransit = "encryption-in-transit"
	ItemSecurityRules       = "security-rules"
	ItemMonitoring          = "monitoring"
	ItemIncidentResponse    = "incident-response"
)

// ChecklistItem is one item of the security guide's checklist.
type ChecklistItem struct {
	// ID is one of the Item* constants.
	ID string
	// Title states the item as a property the deployment should have.
	Title string
	// HowToCheck says how to verify the item by hand. It becomes the Fix of
	// the Skip finding CheckPosture adds when no layer reports the item.
	HowToCheck string
}

var checklist = []ChecklistItem{
	{ItemAuthEnabled, "The database requires authentication",
		"connect without credentials and expect a refusal (CouchDB: no admin party, require_valid_user = true; DynamoDB and Firestore: IAM or service-account credentials only)"},
	{ItemTLS, "Connections to the database use TLS",
		"every endpoint URL must be https:// (or the SDK's default TLS endpoint) with certificate verification on"},
	{ItemLeastPrivilege, "The application's credentials allow only what it needs",
		"review the database user's or IAM role's grants: read/write on the application's collections only, no admin or schema rights"},
	{ItemSecretsManager, "Credentials come from a secret manager",
		"set credential variables to references (awssm://, gcpsm://, file:///run/secrets/...) instead of literal values, and rotate them there"},
	{ItemInputValidation, "Input is validated before it reaches the database",
		"wrap the service with dbservice.Guard (securedb.Open does) and set Policy.Collections to the collections the application uses"},
	{ItemAuditLogging, "Every operation leaves an audit record",
		"set dbservice.Policy.Audit to a logger that ships records to durable storage, and enable the database's own audit log where it has one"},
	{ItemNetworkRestricted, "The database is reachable only from the application's network",
		"firewall rules, security groups or VPC Service Controls must keep the database port unreachable from the internet; try to connect from outside"},
	{ItemBackups, "Backups are taken and restores are rehearsed",
		"confirm scheduled backups (CouchDB replication, DynamoDB PITR, Firestore scheduled exports) and run a restore drill: dbservice.Export, Import, Verify"},
	{ItemEncryptionAtRest, "Stored data is encrypted at rest",
		"look at the storage encryption setting: DynamoDB SSE with KMS, Firestore CMEK or Google default encryption, encrypted volumes for CouchDB"},
	{ItemEncryptionInTransit, "Replication and backup traffic is encrypted in transit",
		"replication, backup and admin tooling must use TLS too, not only the application's connection"},
	{ItemSecurityRules, "Security rules decide which principal may read and write which document",
		"load rules in the Firestore rules shape (package dbservice/rules; securedb.Config.Rules or SECUREDB_RULES), so every call is checked in-process against request.auth; on Firestore also deploy firestore.rules that deny direct client access the application does not need (server SDKs bypass them)"},
	{ItemMonitoring, "Access is monitored and alerts reach someone",
		"failed logins, denied operations (audit records with outcome=denied) and unusual volumes must raise alerts, and an incident-response runbook must exist"},
	{ItemIncidentResponse, "An incident-response runbook says who is paged and what they do first",
		"fill in the runbook template docs/incident-response.md (who is paged for each alert; first steps: rotate the credential, read and verify the audit trail, restore from the drill) and rehearse it"},
}

// Checklist returns the security guide's checklist in the guide's order.
// The slice is a copy.
func Checklist() []ChecklistItem {
	return slices.Clone(checklist)
}

// RuleEnforcer is implemented by middleware that enforces security rules
// (package dbservice/rules), so that CheckPosture can tell a service with
// rules from one without: without, the security-rules item is a Warn.
type RuleEnforcer interface {
	EnforcesRules() bool
}

// maxLayers bounds the walk down a Wrapper chain, so a Wrapper that
// (wrongly) unwraps to itself cannot hang CheckPosture.
const maxLayers = 32

// CheckPosture walks the Wrapper chain from svc down to the provider and
// collects the findings of every layer that implements PostureChecker: the
// provider's own checks, Guard's (input validation and audit logging) and
// any layer above it. Findings with the same ID are merged: the worst
// status wins (Fail > Warn > Pass > Skip), every detail is kept (outermost
// layer first) and so are the fixes of the findings with that worst
// status. An unknown status counts as Fail, so a gate on HasFail never
// passes on it.
//
// When no Guard layer is in the chain, input-validation is a Fail; when no
// layer enforces security rules (RuleEnforcer), security-rules is a Warn. Every
// checklist item no layer reported is added as Skip, with a Fix that says
// how to check it by hand: the library never reports Pass for what it
// cannot see. The result lists the checklist items in the guide's order,
// then any other IDs in the order they were first reported.
func CheckPosture(ctx context.Context, svc Service) []Finding {
	var raw []Finding
	guarded, ruled := false, false
	cur := svc
	for range maxLayers {
		if cur == nil {
			break
		}
		if _, ok := cur.(*guard); ok {
			guarded = true
		}
		if re, ok := cur.(RuleEnforcer); ok && re.EnforcesRules() {
			ruled = true
		}
		if pc, ok := cur.(PostureChecker); ok {
			raw = append(raw, pc.CheckPosture(ctx)...)
		}
		w, ok := cur.(Wrapper)
		if !ok {
			break
		}
		cur = w.Unwrap()
	}
	if !ruled {
		raw = append(raw, Finding{
			ID: ItemSecurityRules, Status: Warn,
			Detail: "no security rules are enforced: every caller of this service reads and writes every document of every allowed collection",
			Fix:    "load rules (package dbservice/rules): securedb.Config.Rules, SECUREDB_RULES naming a rules file, or rules.Enforce under Guard",
		})
	}
	if !guarded {
		raw = append(raw,
			Finding{
				ID: ItemInputValidation, Status: Fail,
				Detail: "no dbservice.Guard layer: collection names, IDs and documents reach the provider with only its baseline checks",
				Fix:    "wrap the service: dbservice.Guard(svc, dbservice.Policy{Collections: ..., Audit: logger}) (securedb.Open does)",
			},
			Finding{
				ID: ItemAuditLogging, Status: Warn,
				Detail: "no dbservice.Guard layer, so this library writes no audit records",
				Fix:    "wrap the service with dbservice.Guard and set Policy.Audit",
			})
	}
	return mergeFindings(raw)
}

// rank orders statuses for merging; anything unknown ranks with Fail.
func rank(s Status) int {
	switch s {
	case Skip:
		return 0
	case Pass:
		return 1
	case Warn:
		return 2
	}
	return 3
}

func knownStatus(s Status) bool {
	return s == Pass || s == Warn || s == Fail || s == Skip
}

// mergeFindings merges findings by ID and fills in unreported checklist
// items as Skip.
func mergeFindings(raw []Finding) []Finding {
	byID := map[string]*findingAcc{}
	var order []string
	for _, f := range raw {
		if !knownStatus(f.Status) {
			f.Detail = strings.TrimSpace(f.Detail + " (reported with unknown status " + quoteShort(string(f.Status)) + ")")
			f.Status = Fail
		}
		a := byID[f.ID]
		if a == nil {
			a = &findingAcc{f: Finding{ID: f.ID, Title: f.Title, Status: f.Status}}
			byID[f.ID] = a
			order = append(order, f.ID)
		}
		if a.f.Title == "" {
			a.f.Title = f.Title
		}
		switch {
		case rank(f.Status) > rank(a.f.Status):
			a.f.Status = f.Status
			// Fixes of a milder status do not fix the worse one.
			a.fixes = appendDistinct(nil, f.Fix)
		case f.Status == a.f.Status:
			a.fixes = appendDistinct(a.fixes, f.Fix)
		}
		a.details = appendDistinct(a.details, f.Detail)
	}
	out := make([]Finding, 0, len(checklist)+len(order))
	for _, item := range checklist {
		a := byID[item.ID]
		if a == nil {
			out = append(out, Finding{ID: item.ID, Title: item.Title, Status: Skip,
				Detail: "no layer of this service can check this", Fix: item.HowToCheck})
			continue
		}
		a.f.Title = item.Title // one wording per item, whichever layer reported it
		out = append(out, a.finish())
		delete(byID, item.ID)
	}
	for _, id := range order {
		if a := byID[id]; a != nil {
			out = append(out, a.finish())
		}
	}
	return out
}

// findingAcc gathers the findings of one ID.
type findingAcc struct {
	f       Finding
	details []string
	fixes   []string
}

func (a *findingAcc) finish() Finding {
	f := a.f
	f.Detail = strings.Join(a.details, "; ")
	f.Fix = strings.Join(a.fixes, "; ")
	if f.Status == Skip && f.Fix == "" {
		if item, ok := checklistItem(f.ID); ok {
			f.Fix = item.HowToCheck
		}
	}
	return f
}

func checklistItem(id string) (ChecklistItem, bool) {
	i := slices.IndexFunc(checklist, func(c ChecklistItem) bool { return c.ID == id })
	if i < 0 {
		return ChecklistItem{}, false
	}
	return checklist[i], true
}

func appendDistinct(list []string, s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// quoteShort quotes at most 16 runes of a value a layer reported.
func quoteShort(s string) string {
	if r := []rune(s); len(r) > 16 {
		s = string(r[:16])
	}
	return strconv.QuoteToASCII(s)
}
