package memory

import (
	"context"

	"github.com/securedb-go/securedb/dbservice"
)

var _ dbservice.PostureChecker = (*Service)(nil)

// CheckPosture implements dbservice.PostureChecker. An in-process store has
// no network, credentials or disk, so most items do not apply; the one real
// risk is that its data dies with the process.
func (s *Service) CheckPosture(context.Context) []dbservice.Finding {
	notNetworked := "in-process store: nothing crosses a network"
	return []dbservice.Finding{
		{ID: dbservice.ItemAuthEnabled, Status: dbservice.Skip, Detail: notNetworked},
		{ID: dbservice.ItemTLS, Status: dbservice.Skip, Detail: notNetworked},
		{ID: dbservice.ItemEncryptionInTransit, Status: dbservice.Skip, Detail: notNetworked},
		{ID: dbservice.ItemNetworkRestricted, Status: dbservice.Skip, Detail: notNetworked},
		{ID: dbservice.ItemSecretsManager, Status: dbservice.Skip, Detail: "the memory provider takes no credentials"},
		{ID: dbservice.ItemLeastPrivilege, Status: dbservice.Skip,
			Detail: "every caller in the process has full access",
			Fix:    "narrow it with dbservice.Guard: Policy.Collections (allowlist) and Policy.ReadOnly"},
		{ID: dbservice.ItemEncryptionAtRest, Status: dbservice.Skip, Detail: "nothing is written to disk"},
		{ID: dbservice.ItemBackups, Status: dbservice.Warn,
			Detail: "data lives only in process memory and is lost when the process exits",
			Fix:    "use a persistent provider (DATABASE_PROVIDER=couchdb|dynamodb|firestore) or schedule dbservice.Export"},
	}
}
